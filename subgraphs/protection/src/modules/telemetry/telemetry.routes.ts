import express, { type Express, type RequestHandler } from "express";
import {
  answerTypedIngestError,
  requireMachineIngestRole,
  type Config,
  type Identity,
  type Logger,
} from "../../../../common/src";
import type { TelemetryIngest } from "./telemetry.ingest";
import { parseTelemetryNdjson } from "./telemetry.model";

/**
 * `POST /ingest/telemetry`: agent telemetry in bulk, one JSON record per NDJSON line (any mix of kinds
 * and machines). The gateway authenticates the caller and streams the body here with the internal
 * identity; the role is checked again. Over `MAX_BODY_BYTES` the answer is 413 and nothing is stored;
 * otherwise good records are kept and bad ones reported by line:
 * `{ accepted, duplicates, rejected: [{ line, reason }], kinds: { process: n, … }, detections }`. A machine-bound
 * credential's lines of other machines are rejected the same way; an unbound INGESTOR token is refused (403) while
 * its tenant requires machine-bound agent credentials.
 */
export function telemetryRoutes(
  app: Express,
  authenticate: RequestHandler,
  log: Logger,
  config: Config,
  ingest: TelemetryIngest,
): void {
  app.post(
    "/ingest/telemetry",
    authenticate,
    requireMachineIngestRole,
    express.text({ type: () => true, limit: config.maxBodyBytes }),
    async (req, res, next) => {
      try {
        const body = typeof req.body === "string" ? req.body : "";
        res.json(await ingest.ingest(res.locals.identity as Identity, parseTelemetryNdjson(body)));
      } catch (err) {
        if (answerTypedIngestError(res, err)) return;
        log.error({ err }, "telemetry ingest failed");
        next(err);
      }
    },
  );
}
