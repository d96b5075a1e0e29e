import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Guards `/metrics` with a static bearer token (METRICS_TOKEN) when one is configured; without one the route is
 * open, as a scraper on the internal network expects. The comparison is of SHA-256 digests in constant time, so
 * neither the token's length nor its prefix leaks through timing. A refusal is 401 with a `WWW-Authenticate`
 * challenge, and says nothing about the metrics.
 */
export function metricsAuth(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const expected = digest(`Bearer ${token}`);
  return (req, res, next) => {
    const given = req.header("authorization");
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    res
      .status(401)
      .set("WWW-Authenticate", 'Bearer realm="metrics"')
      .type("text/plain")
      .send("A valid metrics bearer token (METRICS_TOKEN) is required.\n");
  };
}
