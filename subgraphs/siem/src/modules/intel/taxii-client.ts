/*
 * A TAXII 2.1 client for one endpoint: "Get Objects" of a collection
 * (`GET {apiRoot}/collections/{id}/objects/?added_after=…&limit=…&next=…`), one page per call.
 *
 * Egress is guarded as for playbook webhooks (webhook.ts): unless INTEL_FEED_ALLOW_PRIVATE_TARGETS is on, a
 * server that is, or whose name resolves to, a loopback, private, link-local (cloud metadata) or otherwise
 * non-public address is refused, in the connection's own DNS lookup; redirects are not followed (a redirect
 * could carry the credentials elsewhere). Each call has a time limit and a cap on the answer's size, read as it
 * streams in, so a hostile or broken server cannot hold a worker or its memory.
 */
import { isIP } from "node:net";
import { Agent, request } from "undici";
import {
  findCause,
  guardedLookup,
  isPublicAddress,
  TargetRefusedError,
  webhookUrlProblem,
} from "../automation/webhook";

/** The media type of TAXII 2.1 answers, asked for in `Accept`. */
export const TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1";
/** The header whose value is the `date_added` of the page's last object: the next poll's `added_after`. */
export const DATE_ADDED_LAST_HEADER = "x-taxii-date-added-last";

/** Limits of one poll. */
export interface TaxiiLimits {
  /** Objects asked for per page (`limit`); servers may send fewer. */
  pageSize: number;
  /** Pages fetched per poll at most; the rest waits for the next poll (due soon after). */
  maxPages: number;
  /** Largest answer accepted, in bytes. */
  maxResponseBytes: number;
  /** Time limit of one call (connect, headers and body). */
  timeoutMs: number;
}

/** The limits the feed poller uses. */
export const TAXII_LIMITS: TaxiiLimits = {
  pageSize: 1000,
  maxPages: 20,
  maxResponseBytes: 8 * 1024 * 1024,
  timeoutMs: 30_000,
};

/** Credentials of a call, opened. */
export type TaxiiCredentials =
  | { kind: "NONE" }
  | { kind: "BASIC"; username: string; password: string }
  | { kind: "API_KEY"; header: string; key: string };

/** What one call is. */
export interface TaxiiPageRequest {
  apiRoot: string;
  collectionId: string;
  credentials: TaxiiCredentials;
  addedAfter: string | null;
  next: string | null;
  limits: TaxiiLimits;
  allowPrivate: boolean;
  requireHttps: boolean;
}

/** One page of a collection's objects. */
export interface TaxiiPage {
  objects: unknown[];
  more: boolean;
  next: string | null;
  /** `X-TAXII-Date-Added-Last`, when the server sent it. */
  dateAddedLast: string | null;
}

/** A call that failed: the message is what the feed's `lastError` shows. */
export class TaxiiError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

/** The objects URL of a collection (the API root with or without its trailing slash). */
export function objectsUrl(apiRoot: string, collectionId: string): URL {
  const root = apiRoot.endsWith("/") ? apiRoot : `${apiRoot}/`;
  return new URL(`collections/${encodeURIComponent(collectionId)}/objects/`, root);
}

/** Why an API root URL cannot be used, or null (the rules of a playbook's webhook URL). */
export function apiRootProblem(
  text: string,
  options: { requireHttps: boolean; allowPrivate: boolean },
): string | null {
  const problem = webhookUrlProblem(text, options);
  if (problem) return problem.replace(" (sign with the secret instead)", " (use the feed's auth)");
  const url = new URL(text);
  if (url.search || url.hash) return "must not have a query or fragment";
  return null;
}

/** The `Authorization` or API-key header of a call. */
function authHeaders(credentials: TaxiiCredentials): Record<string, string> {
  switch (credentials.kind) {
    case "BASIC":
      return {
        authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`,
      };
    case "API_KEY":
      return { [credentials.header.toLowerCase()]: credentials.key };
    default:
      return {};
  }
}

/** Fetches one page; throws TaxiiError saying what went wrong. */
export async function fetchTaxiiPage(call: TaxiiPageRequest): Promise<TaxiiPage> {
  const problem = apiRootProblem(call.apiRoot, {
    requireHttps: call.requireHttps,
    allowPrivate: call.allowPrivate,
  });
  if (problem) throw new TaxiiError(`the API root URL ${problem}`);
  const url = objectsUrl(call.apiRoot, call.collectionId);
  if (call.addedAfter) url.searchParams.set("added_after", call.addedAfter);
  url.searchParams.set("limit", String(call.limits.pageSize));
  if (call.next) url.searchParams.set("next", call.next);
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  // An address written in the URL is connected to without a lookup: checked here instead.
  if (!call.allowPrivate && isIP(literal) && !isPublicAddress(literal))
    throw new TaxiiError(`${literal} is not a public address`);
  const { timeoutMs, maxResponseBytes } = call.limits;
  const agent = new Agent({
    connect: { lookup: guardedLookup(call.allowPrivate), timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  try {
    const res = await request(url, {
      method: "GET",
      dispatcher: agent,
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        accept: TAXII_MEDIA_TYPE,
        "user-agent": "Rampart-TAXII/1",
        ...authHeaders(call.credentials),
      },
    });
    const status = res.statusCode;
    if (status < 200 || status >= 300) {
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const why =
        status === 401 || status === 403
          ? ": the server refused the credentials"
          : status === 404
            ? ": no such API root or collection"
            : status >= 300 && status < 400
              ? ": redirects are not followed"
              : "";
      throw new TaxiiError(`HTTP ${status}${why}`, status);
    }
    const announced = Number(res.headers["content-length"]);
    if (Number.isFinite(announced) && announced > maxResponseBytes) {
      await res.body.dump({ limit: 0 }).catch(() => undefined);
      throw new TaxiiError(
        `the answer is ${announced} bytes; at most ${maxResponseBytes} are accepted`,
        status,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxResponseBytes) {
        res.body.destroy();
        throw new TaxiiError(`the answer is larger than ${maxResponseBytes} bytes`, status);
      }
      chunks.push(chunk);
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new TaxiiError("the answer is not JSON", status);
    }
    const page = readEnvelope(envelope);
    if (typeof page === "string") throw new TaxiiError(page, status);
    const header = res.headers[DATE_ADDED_LAST_HEADER];
    const dateAddedLast = (Array.isArray(header) ? header[0] : header)?.trim() || null;
    return { ...page, dateAddedLast };
  } catch (err) {
    if (err instanceof TaxiiError) throw err;
    const cause = findCause(err);
    if (cause instanceof TargetRefusedError) throw new TaxiiError(cause.message);
    const text = `${(cause as { name?: string })?.name ?? ""} ${(cause as { message?: string })?.message ?? String(cause)}`;
    if (/timeout|aborted/i.test(text)) throw new TaxiiError(`timed out after ${timeoutMs} ms`);
    throw new TaxiiError((cause as { message?: string })?.message ?? String(cause));
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

/** A TAXII envelope's parts, or why the value is not one. */
export function readEnvelope(value: unknown): Omit<TaxiiPage, "dateAddedLast"> | string {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return "the answer is not a TAXII envelope (expected a JSON object)";
  const envelope = value as Record<string, unknown>;
  if (envelope.objects !== undefined && !Array.isArray(envelope.objects))
    return "the answer is not a TAXII envelope (objects is not an array)";
  if (envelope.more !== undefined && typeof envelope.more !== "boolean")
    return "the answer is not a TAXII envelope (more is not a boolean)";
  if (envelope.next !== undefined && typeof envelope.next !== "string")
    return "the answer is not a TAXII envelope (next is not a string)";
  // An envelope has none of a bundle's or an error's markers: a server answering those is misconfigured.
  if (envelope.type === "bundle") return "the answer is a STIX bundle, not a TAXII 2.1 envelope";
  if (envelope.objects === undefined && ("title" in envelope || "http_status" in envelope))
    return "the answer is a TAXII error, not an envelope";
  const more = envelope.more === true;
  const next = typeof envelope.next === "string" && envelope.next ? envelope.next : null;
  if (more && !next) return "the envelope says more objects follow but gives no next";
  return { objects: (envelope.objects as unknown[] | undefined) ?? [], more, next };
}

/** Whether a server's text is a timestamp usable as a cursor (RFC 3339, within reason). */
function isTimestamp(text: string | null): text is string {
  return (
    typeof text === "string" &&
    text.length <= 64 &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text) &&
    !Number.isNaN(Date.parse(text))
  );
}

/**
 * The later of a cursor and a server's timestamp (compared as instants, then by the longer fraction, which may
 * hold microseconds the other lacks). A server's text that is not a timestamp is ignored: the cursor never
 * becomes something the next poll's `added_after` could not carry.
 */
export function laterTimestamp(cursor: string | null, candidate: string | null): string | null {
  if (!isTimestamp(candidate)) return cursor;
  if (!isTimestamp(cursor)) return candidate;
  const a = Date.parse(cursor);
  const b = Date.parse(candidate);
  if (a !== b) return a > b ? cursor : candidate;
  return candidate.length > cursor.length ? candidate : cursor;
}

/**
 * The cursor a page moves to without `X-TAXII-Date-Added-Last`: the newest `date_added` of its objects (some
 * servers put it on each object), else the newest `modified` or `created`. A cursor on `modified` may fetch an
 * object again later (an object is added after it was modified), never miss one.
 */
export function fallbackCursor(objects: unknown[]): string | null {
  let newest: string | null = null;
  for (const key of ["date_added", "modified", "created"]) {
    for (const o of objects) {
      const value = typeof o === "object" && o !== null ? (o as Record<string, unknown>)[key] : undefined;
      if (typeof value === "string" && !Number.isNaN(Date.parse(value)))
        newest = laterTimestamp(newest, value);
    }
    if (newest) return newest;
  }
  return null;
}
