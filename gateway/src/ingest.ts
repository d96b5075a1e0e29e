import type { RequestHandler } from "express";
import { pipeline, Transform } from "node:stream";
import type { Agent } from "undici";
import {
  ErrorCode,
  hasAnyRole,
  IDENTITY_HEADER,
  INGEST_ROLES,
  UnauthenticatedError,
  type InternalTokens,
  type Logger,
} from "../../subgraphs/common/src";
import type { ClientAuth } from "./auth";
import type { RateLimits } from "./rate-limit";

/**
 * A bulk ingest route (`POST /ingest/events?connector=KIND` to the SIEM, `POST /ingest/telemetry` to
 * protection): authenticates the caller (INGESTOR or ADMIN), then streams the NDJSON body (with its
 * Content-Type and Content-Encoding) to the same path and query on the subgraph at `upstream` with the
 * internal identity token (and an `Idempotency-Key`), and relays its answer as it is: 200 with the outcome, or
 * 202 with a receipt when the SIEM queues the body (EVENT_INGEST_QUEUE=nats).
 * The body is not buffered here; the subgraph enforces the size limit (413), and an announced oversize
 * body is refused at once. Past the caller's request rate or its tenant's ingest bytes per second
 * (`RateLimits`), the request is refused with 429 and Retry-After before anything reaches the subgraph: the
 * declared Content-Length is what a body costs, and a body streamed without one is counted as it goes.
 */
export function ingestProxy(options: {
  auth: ClientAuth;
  tokens: InternalTokens;
  agent: Agent;
  /** The subgraph's URL (its `/graphql`); only the origin is used. */
  upstream: string;
  maxBodyBytes: number;
  rateLimits: RateLimits;
  log: Logger;
}): RequestHandler {
  const fail = (
    res: Parameters<RequestHandler>[1],
    status: number,
    code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) => res.status(status).json({ errors: [{ message, extensions: { code, ...extensions } }] });
  return async (req, res) => {
    let identity;
    try {
      identity = await options.auth.authenticate(req.headers.authorization);
    } catch (err) {
      fail(
        res,
        401,
        ErrorCode.Unauthenticated,
        err instanceof UnauthenticatedError ? err.message : "Authentication failed.",
      );
      return;
    }
    if (!hasAnyRole(identity, INGEST_ROLES)) {
      fail(res, 403, ErrorCode.Forbidden, "Ingest needs the INGESTOR or ADMIN role.");
      return;
    }
    const declared = req.headers["content-length"];
    const length = Number(declared ?? 0);
    if (length > options.maxBodyBytes) {
      fail(
        res,
        413,
        ErrorCode.BadUserInput,
        `The body is ${length} bytes; at most ${options.maxBodyBytes} are accepted per request.`,
      );
      return;
    }
    const refusal = options.rateLimits.ingest(identity, declared === undefined ? null : length);
    if (refusal) {
      res.setHeader("retry-after", String(refusal.retryAfterSeconds));
      fail(res, 429, ErrorCode.RateLimited, refusal.message, {
        retryAfterSeconds: refusal.retryAfterSeconds,
      });
      return;
    }
    const caller = identity;
    // Without a length, the bytes are charged as they pass; a client that goes away ends the upstream body too.
    const body =
      declared === undefined
        ? pipeline(
            req,
            new Transform({
              transform(chunk: Buffer, _encoding, done) {
                options.rateLimits.countIngestBytes(caller, chunk.length);
                done(null, chunk);
              },
            }),
            () => undefined,
          )
        : req;
    try {
      const upstream = await options.agent.request({
        // Same path and query as the client's request, always on the subgraph's origin.
        origin: new URL(options.upstream).origin,
        path: req.originalUrl,
        method: "POST",
        headers: {
          "content-type": req.headers["content-type"] ?? "application/x-ndjson",
          // The body goes through as sent: the subgraph decompresses it (and applies its limit to what comes out).
          ...(req.headers["content-encoding"] ? { "content-encoding": req.headers["content-encoding"] } : {}),
          // With the SIEM's ingest queue on, a retried POST with the same key is not queued twice.
          ...(typeof req.headers["idempotency-key"] === "string"
            ? { "idempotency-key": req.headers["idempotency-key"] }
            : {}),
          [IDENTITY_HEADER]: await options.tokens.sign(identity),
        },
        body,
      });
      res.status(upstream.statusCode);
      const type = upstream.headers["content-type"];
      if (typeof type === "string") res.setHeader("content-type", type);
      // A 503 of the SIEM's ingest queue says when to try again.
      const retryAfter = upstream.headers["retry-after"];
      if (typeof retryAfter === "string") res.setHeader("retry-after", retryAfter);
      res.send(Buffer.from(await upstream.body.arrayBuffer()));
    } catch (err) {
      options.log.error({ err }, "ingest proxy failed");
      if (!res.headersSent) fail(res, 502, ErrorCode.Internal, "The subgraph did not answer the ingest.");
    }
  };
}
