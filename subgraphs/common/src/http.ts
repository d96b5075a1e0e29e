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
 * Express error handler that answers in GraphQL's error shape instead of an HTML page: the body
 * parsers' client errors keep their 4xx status as BAD_USER_INPUT (a body over the size limit is 413,
 * malformed JSON or a body that does not match its Content-Encoding 400, an unsupported charset or
 * content encoding 415); anything else is a masked 500.
 */
export const jsonErrors: ErrorRequestHandler = (err: { status?: number; type?: string }, _req, res, next) => {
  if (res.headersSent) return next(err);
  const status = err.status ?? 500;
  const client = status >= 400 && status < 500;
  const message =
    err.type === "entity.too.large"
      ? "The request body is larger than this endpoint accepts."
      : err.type === "entity.parse.failed"
        ? "The request body is not valid JSON."
        : err.type === "charset.unsupported" || err.type === "encoding.unsupported"
          ? "The request body's charset or Content-Encoding is not supported (use UTF-8; identity, gzip, deflate or br)."
          : client
            ? "The request body could not be read (does it match its Content-Encoding?)."
            : "Internal server error.";
  const code = client ? ErrorCode.BadUserInput : ErrorCode.Internal;
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
};
