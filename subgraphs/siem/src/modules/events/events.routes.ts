import express, { type Express, type RequestHandler } from "express";
import {
  answerTypedIngestError,
  ErrorCode,
  requireIngestRole,
  type Config,
  type Identity,
  type Logger,
} from "../../../../common/src";
import { parseNdjson } from "../connectors/normalizers";
import { CONNECTOR_KINDS } from "./event.model";
import { connectorKind, type EventIngest } from "./event-ingest";
import { idempotencyKey, type QueuedIngest } from "./queued-ingest";

/**
 * `POST /ingest/events?connector=KIND`: NDJSON bulk ingest. The gateway authenticates the caller
 * and forwards the body with the internal identity; the SIEM checks the role again. With `queued`
 * (EVENT_INGEST_QUEUE=nats) the body is queued and answered 202 with a receipt (see QueuedIngest);
 * without, it is stored before the answer.
 */
export function eventRoutes(
  app: Express,
  authenticate: RequestHandler,
  log: Logger,
  config: Config,
  ingestor: EventIngest,
  queued: QueuedIngest | null = null,
): void {
  app.post(
    "/ingest/events",
    authenticate,
    requireIngestRole,
    (req, res, next) => {
      const kind = req.query.connector;
      if (typeof kind !== "string" || !(CONNECTOR_KINDS as readonly string[]).includes(kind)) {
        res.status(400).json({
          errors: [
            {
              message: `Unknown connector "${String(kind ?? "")}"; one of ${CONNECTOR_KINDS.join(", ")}.`,
              extensions: { code: ErrorCode.BadUserInput },
            },
          ],
        });
        return;
      }
      next();
    },
    express.text({ type: () => true, limit: config.maxBodyBytes }),
    async (req, res, next) => {
      if (queued) return queue(queued, req, res, next);
      try {
        const identity = res.locals.identity as Identity;
        const kind = connectorKind(req.query.connector);
        const body = typeof req.body === "string" ? req.body : "";
        const result = await ingestor.ingest(identity, kind, parseNdjson(body));
        res.json(result);
      } catch (err) {
        if (answerTypedIngestError(res, err)) return;
        log.error({ err }, "ingest failed");
        next(err);
      }
    },
  );

  async function queue(
    queued: QueuedIngest,
    req: express.Request,
    res: express.Response,
    next: express.NextFunction,
  ): Promise<void> {
    try {
      const identity = res.locals.identity as Identity;
      const kind = connectorKind(req.query.connector);
      const key = idempotencyKey(req.headers["idempotency-key"]);
      const body = typeof req.body === "string" ? req.body : "";
      res.status(202).json(await queued.accept(identity, kind, body, key));
    } catch (err) {
      if (answerTypedIngestError(res, err)) return;
      log.error({ err }, "queued ingest failed");
      next(err);
    }
  }
}
