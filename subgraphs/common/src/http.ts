import type { ErrorRequestHandler, RequestHandler } from "express";
import { ErrorCode } from "./errors";
import { hasAnyRole, Role, type Identity } from "./identity";

/** Who may push data through the bulk ingest endpoints. */
export const INGEST_ROLES: readonly Role[] = [Role.INGESTOR, Role.ADMIN];

/**
 * Express middleware for the bulk ingest routes, after `authenticate`: answers 403 in GraphQL's error
 * shape unless the caller has INGESTOR or ADMIN (checked again here, not only at the gateway, so a
 * subgraph reached directly holds too).
 */
export const requireIngestRole: RequestHandler = (_req, res, next) => {
  if (hasAnyRole(res.locals.identity as Identity, INGEST_ROLES)) return next();
  res.status(403).json({
    errors: [
      { message: "Ingest needs the INGESTOR or ADMIN role.", extensions: { code: ErrorCode.Forbidden } },
    ],
  });
};

/**
 * Express error handler that answers in GraphQL's error shape instead of an HTML page: a body
 * over the size limit is 413, malformed JSON 400, anything else a masked 500.
 */
export const jsonErrors: ErrorRequestHandler = (err: { status?: number; type?: string }, _req, res, next) => {
  if (res.headersSent) return next(err);
  const status = err.status ?? 500;
  const message =
    err.type === "entity.too.large"
      ? "The request body is larger than this endpoint accepts."
      : err.type === "entity.parse.failed"
        ? "The request body is not valid JSON."
        : "Internal server error.";
  const code = status === 413 || status === 400 ? ErrorCode.BadUserInput : ErrorCode.Internal;
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
};
