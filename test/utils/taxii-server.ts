import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real TAXII 2.1 server for tests: one API root (`/api1/`) whose collections answer "Get Objects"
 * (`GET /api1/collections/{id}/objects/`) as the specification has it — `added_after` (exclusive, on each
 * object's `date_added`), `limit`, `next` with `more`, `X-TAXII-Date-Added-Last` — behind an optional check of
 * HTTP basic credentials or an API key, and of the `Accept` header. Tests add objects as they go and can make
 * it fail in the ways real servers do.
 */

/** One STIX object the server holds, and when it was added to its collection. */
export interface StoredObject {
  object: Record<string, unknown>;
  /** RFC 3339 with microseconds, as several servers give it. */
  dateAdded: string;
}

/** How the server fails, when it does. */
export type TaxiiFailure =
  /** `pagedOnly`: only requests for a later page (with `next`) fail. */
  | { kind: "status"; status: number; pagedOnly?: boolean }
  | { kind: "bad-json" }
  | { kind: "not-envelope" }
  | { kind: "huge"; bytes: number };

/** What the server checks of a request's credentials. */
export type TaxiiServerAuth =
  | { kind: "none" }
  | { kind: "basic"; username: string; password: string }
  | { kind: "api-key"; header: string; key: string };

/** A request the server answered (for assertions). */
export interface SeenRequest {
  path: string;
  addedAfter: string | null;
  limit: string | null;
  next: string | null;
  status: number;
}

/** A running TAXII server. */
export interface TaxiiServer {
  /** `http://127.0.0.1:<port>/api1/` */
  apiRoot: string;
  collections: Map<string, StoredObject[]>;
  auth: TaxiiServerAuth;
  failure: TaxiiFailure | null;
  /** Leave out `X-TAXII-Date-Added-Last` (the client then falls back to the objects' timestamps). */
  omitDateHeader: boolean;
  /** The most objects per page, whatever the client asks. */
  maxPageSize: number;
  requests: SeenRequest[];
  /** Adds objects to a collection, each a microsecond after the previous one. */
  add(collection: string, ...objects: Array<Record<string, unknown>>): void;
  close(): Promise<void>;
}

let clock = Date.UTC(2026, 10, 1);
/** A strictly increasing `date_added` with microseconds. */
function nextDateAdded(): string {
  clock += 1000;
  return new Date(clock).toISOString().replace("Z", "123Z");
}

function authorised(req: IncomingMessage, auth: TaxiiServerAuth): boolean {
  switch (auth.kind) {
    case "basic":
      return (
        req.headers.authorization ===
        `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`
      );
    case "api-key":
      return req.headers[auth.header.toLowerCase()] === auth.key;
    default:
      return true;
  }
}

/** Starts a TAXII server on a free port of 127.0.0.1. */
export async function startTaxiiServer(): Promise<TaxiiServer> {
  const state: Omit<TaxiiServer, "apiRoot" | "close"> = {
    collections: new Map(),
    auth: { kind: "none" },
    failure: null,
    omitDateHeader: false,
    maxPageSize: 100,
    requests: [],
    add(collection, ...objects) {
      const list = state.collections.get(collection) ?? [];
      for (const object of objects) list.push({ object, dateAdded: nextDateAdded() });
      state.collections.set(collection, list);
    },
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const seen: SeenRequest = {
      path: url.pathname,
      addedAfter: url.searchParams.get("added_after"),
      limit: url.searchParams.get("limit"),
      next: url.searchParams.get("next"),
      status: 200,
    };
    state.requests.push(seen);
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      seen.status = status;
      res.writeHead(status, { "content-type": "application/taxii+json;version=2.1", ...headers });
      res.end(body);
    };
    const error = (status: number, title: string) =>
      send(status, JSON.stringify({ title, http_status: String(status) }));
    if (!authorised(req, state.auth)) return error(401, "Unauthorized");
    if (!(req.headers.accept ?? "").includes("application/taxii+json;version=2.1"))
      return error(406, "Not Acceptable");
    const match = /^\/api1\/collections\/([^/]+)\/objects\/$/.exec(url.pathname);
    const objects = match ? state.collections.get(decodeURIComponent(match[1])) : undefined;
    if (!objects) return error(404, "Not Found");
    const failure = state.failure;
    if (failure?.kind === "status" && (!failure.pagedOnly || seen.next))
      return error(failure.status, "Failure");
    if (failure?.kind === "bad-json") return send(200, "{ this is not json");
    if (failure?.kind === "not-envelope") return send(200, JSON.stringify([{ type: "indicator" }]));
    if (failure?.kind === "huge")
      return send(200, JSON.stringify({ objects: [{ type: "note", content: "x".repeat(failure.bytes) }] }));
    const after = seen.addedAfter;
    const matching = objects.filter((o) => after === null || o.dateAdded > after);
    const offset = seen.next ? Number(seen.next) : 0;
    const limit = Math.min(Number(seen.limit ?? state.maxPageSize) || state.maxPageSize, state.maxPageSize);
    const page = matching.slice(offset, offset + limit);
    const more = offset + limit < matching.length;
    const headers: Record<string, string> = {};
    if (page.length && !state.omitDateHeader) {
      headers["X-TAXII-Date-Added-First"] = page[0].dateAdded;
      headers["X-TAXII-Date-Added-Last"] = page[page.length - 1].dateAdded;
    }
    const body = {
      more,
      ...(more ? { next: String(offset + limit) } : {}),
      ...(page.length ? { objects: page.map((o) => o.object) } : {}),
    };
    send(200, JSON.stringify(body), headers);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    apiRoot: `http://127.0.0.1:${port}/api1/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

let counter = 0;
/** A STIX 2.1 indicator for `pattern`, with a fresh id unless one is given. */
export function stixIndicator(
  pattern: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> & { id: string } {
  const id = `indicator--6a4f0c2e-8b1d-4c3a-9e7f-${(++counter).toString(16).padStart(12, "0")}`;
  return {
    type: "indicator",
    spec_version: "2.1",
    id,
    created: "2026-01-01T00:00:00.000Z",
    modified: "2026-01-01T00:00:00.000Z",
    name: `Indicator ${pattern}`,
    pattern,
    pattern_type: "stix",
    valid_from: "2020-01-01T00:00:00Z",
    indicator_types: ["malicious-activity"],
    ...extra,
  } as Record<string, unknown> & { id: string };
}
