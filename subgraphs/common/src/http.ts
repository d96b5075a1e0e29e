import type { ErrorRequestHandler } from "express";
import { ErrorCode } from "./errors";

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
