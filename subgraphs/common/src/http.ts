import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import { MACHINE_BOUND_REFUSAL } from "./auth";
import { AppError, ErrorCode } from "./errors";
import { hasAnyRole, Role, type Identity } from "./identity";

/** Who may push data through the bulk ingest endpoints. */
export const INGEST_ROLES: readonly Role[] = [Role.INGESTOR, Role.ADMIN];

const forbidden = (res: Response, message: string) =>
  res.status(403).json({ errors: [{ message, extensions: { code: ErrorCode.Forbidden } }] });

/** HTTP status of the typed errors an ingest route answers itself. */
const INGEST_ERROR_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.BadUserInput]: 400,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.Unavailable]: 503,
};

/**
 * Answers a typed error of an ingest route (a refused credential, a disabled connector, a full queue) with its
 * HTTP status in GraphQL's error shape, UNAVAILABLE with `Retry-After: 5`; false for any other error, which the
 * route logs and passes on (a masked 500).
 */
export function answerTypedIngestError(res: Response, err: unknown): boolean {
  const status = err instanceof AppError ? INGEST_ERROR_STATUS[err.code] : undefined;
  if (!(err instanceof AppError) || !status) return false;
  if (err.code === ErrorCode.Unavailable) res.setHeader("retry-after", "5");
  res.status(status).json({ errors: [{ message: err.message, extensions: err.extensions }] });
  return true;
}

/**
 * Express middleware for a bulk ingest route of one machine's data (telemetry), after `authenticate`: answers
 * 403 in GraphQL's error shape unless the caller has INGESTOR or ADMIN (checked again here, not only at the
 * gateway, so a subgraph reached directly holds too). A machine-bound credential passes: the route keeps it to
 * its machine's records itself.
 */
export const requireMachineIngestRole: RequestHandler = (_req, res, next) => {
  if (hasAnyRole(res.locals.identity as Identity, INGEST_ROLES)) return next();
  forbidden(res, "Ingest needs the INGESTOR or ADMIN role.");
};

/**
 * `requireMachineIngestRole` for a tenant-wide feed (events of any source): a machine-bound agent credential
 * speaks for one machine, not for the tenant, and is refused (403).
 */
export const requireIngestRole: RequestHandler = (req, res, next) => {
  if ((res.locals.identity as Identity | undefined)?.resourceId !== undefined)
    return void forbidden(res, MACHINE_BOUND_REFUSAL);
  requireMachineIngestRole(req, res, next);
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
