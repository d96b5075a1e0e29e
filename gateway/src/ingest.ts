import type { RequestHandler } from "express";
import type { Agent } from "undici";
import {
  ErrorCode,
  hasAnyRole,
  IDENTITY_HEADER,
  Role,
  UnauthenticatedError,
  type InternalTokens,
  type Logger,
} from "../../subgraphs/common/src";
import type { ClientAuth } from "./auth";

/**
 * `POST /ingest/events?connector=KIND`: authenticates the caller (INGESTOR or ADMIN), then streams
 * the NDJSON body to the SIEM with the internal identity token and relays its answer. The body is
 * not buffered here; the SIEM enforces the size limit (413), and an announced oversize body is
 * refused at once.
 */
export function ingestProxy(options: {
  auth: ClientAuth;
  tokens: InternalTokens;
  agent: Agent;
  siemUrl: string;
  maxBodyBytes: number;
  log: Logger;
}): RequestHandler {
  const fail = (res: Parameters<RequestHandler>[1], status: number, code: ErrorCode, message: string) =>
    res.status(status).json({ errors: [{ message, extensions: { code } }] });
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
    if (!hasAnyRole(identity, [Role.INGESTOR, Role.ADMIN])) {
      fail(res, 403, ErrorCode.Forbidden, "Ingest needs the INGESTOR or ADMIN role.");
      return;
    }
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > options.maxBodyBytes) {
      fail(
        res,
        413,
        ErrorCode.BadUserInput,
        `The body is ${length} bytes; at most ${options.maxBodyBytes} are accepted per request.`,
      );
      return;
    }
    const target = new URL("/ingest/events", options.siemUrl);
    target.searchParams.set("connector", String(req.query.connector ?? ""));
    try {
      const upstream = await options.agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: "POST",
        headers: {
          "content-type": req.headers["content-type"] ?? "application/x-ndjson",
          [IDENTITY_HEADER]: await options.tokens.sign(identity),
        },
        body: req,
      });
      res.status(upstream.statusCode);
      const type = upstream.headers["content-type"];
      if (typeof type === "string") res.setHeader("content-type", type);
      res.send(Buffer.from(await upstream.body.arrayBuffer()));
    } catch (err) {
      options.log.error({ err }, "ingest proxy failed");
      if (!res.headersSent) fail(res, 502, ErrorCode.Internal, "The SIEM did not answer the ingest.");
    }
  };
}
