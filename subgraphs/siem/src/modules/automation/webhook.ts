/*
 * One webhook call of a playbook run: a signed JSON POST with an idempotency key, guarded against server-side
 * request forgery, and its result classified as delivered, worth retrying, or failed for good.
 *
 * SSRF: unless configured otherwise (PLAYBOOK_ALLOW_PRIVATE_TARGETS, for development and tests), a target that
 * is, or whose name resolves to, a loopback, private, link-local (cloud metadata: 169.254.169.254, fd00:ec2::254),
 * shared, multicast, documentation or otherwise non-public address is refused. The check runs in the
 * connection's own DNS lookup, so the address checked is the address connected to (a name that resolves to a
 * public address for the check and to an internal one for the connection cannot slip through). Redirects are
 * not followed.
 */
import { createHmac } from "node:crypto";
import dns, { type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP } from "node:net";
import { Agent, request } from "undici";

/** Header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = "x-rampart-signature";
/** Header carrying the idempotency key: the run's id, the same on every attempt. */
export const IDEMPOTENCY_HEADER = "idempotency-key";

// One list for both families: Node checks an IPv4-mapped IPv6 address (::ffff:a.b.c.d) against the IPv4 rules.
const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // shared address space (carrier-grade NAT)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata services
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  blocked.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 96], // unspecified, loopback, IPv4-compatible
  ["64:ff9b::", 96], // NAT64: would reach the IPv4 address
  ["64:ff9b:1::", 48], // local NAT64
  ["100::", 64], // discard
  ["2001::", 23], // IETF protocol assignments (Teredo included)
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4: would reach the IPv4 address
  ["fc00::", 7], // unique local (fd00:ec2::254 is AWS's metadata service)
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local
  ["ff00::", 8], // multicast
] as const)
  blocked.addSubnet(net, prefix, "ipv6");

/** Whether an address is a public unicast address (the only kind a webhook may reach by default). */
export function isPublicAddress(address: string): boolean {
  const plain = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const family = isIP(plain);
  if (family === 0) return false;
  return !blocked.check(plain, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Why a webhook URL cannot be used, or null. With `allowPrivate: false`, an address written in the URL must be
 * public (a name is checked when it is resolved, at each call: what it resolves to may change).
 */
export function webhookUrlProblem(
  text: string,
  options: { requireHttps: boolean; allowPrivate?: boolean },
): string | null {
  if (typeof text !== "string" || text.length === 0 || text.length > 2048)
    return "must be a URL of up to 2,048 characters";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an absolute http(s) URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http(s) URL";
  if (options.requireHttps && url.protocol !== "https:") return "must use https";
  if (url.username || url.password) return "must not hold credentials (sign with the secret instead)";
  if (!url.hostname) return "must name a host";
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  if (options.allowPrivate === false && isIP(literal) && !isPublicAddress(literal))
    return `must not target ${literal}, which is not a public address`;
  return null;
}

/** A target refused by the SSRF guard. */
export class TargetRefusedError extends Error {}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for net/tls connections that refuses non-public addresses (unless `allowPrivate`). */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
      if (refused)
        return callback(
          new TargetRefusedError(`${hostname} resolves to ${refused.address}, which is not a public address`),
          [],
        );
      if (addresses.length === 0) return callback(new Error(`${hostname} has no address`), []);
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** The signature header's value for `body` sent at `timestampSeconds`. */
export function signatureOf(secret: string, timestampSeconds: number, body: string): string {
  const digest = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${digest}`;
}

/** One webhook call. */
export interface WebhookCall {
  url: string;
  body: string;
  secret: string;
  /** Stable across the attempts of one run. */
  idempotencyKey: string;
  attempt: number;
  playbookId: string;
  timeoutMs: number;
  allowPrivate: boolean;
  requireHttps: boolean;
  /** Clock for the signature's timestamp. */
  now?: () => number;
}

/** What came of a call: delivered (2xx), worth retrying (network, timeout, 408, 429, 5xx) or failed for good. */
export type WebhookResult =
  | { outcome: "DELIVERED"; status: number }
  | { outcome: "RETRY"; status: number | null; error: string; retryAfterMs?: number }
  | { outcome: "FAILED"; status: number | null; error: string };

/** `Retry-After` as milliseconds from now (seconds or an HTTP date), or undefined. */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Sends one attempt; never throws. */
export async function sendWebhook(call: WebhookCall): Promise<WebhookResult> {
  const problem = webhookUrlProblem(call.url, { requireHttps: call.requireHttps });
  if (problem) return { outcome: "FAILED", status: null, error: `webhook URL ${problem}` };
  const url = new URL(call.url);
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  // An address written in the URL is connected to without a lookup: checked here instead.
  if (!call.allowPrivate && isIP(literal) && !isPublicAddress(literal))
    return { outcome: "FAILED", status: null, error: `${literal} is not a public address` };
  const now = call.now ?? Date.now;
  const agent = new Agent({
    connect: { lookup: guardedLookup(call.allowPrivate), timeout: call.timeoutMs },
    headersTimeout: call.timeoutMs,
    bodyTimeout: call.timeoutMs,
  });
  try {
    const res = await request(url, {
      method: "POST",
      dispatcher: agent,
      signal: AbortSignal.timeout(call.timeoutMs),
      headers: {
        "content-type": "application/json",
        "user-agent": "Rampart-Playbooks/1",
        [IDEMPOTENCY_HEADER]: call.idempotencyKey,
        [SIGNATURE_HEADER]: signatureOf(call.secret, Math.floor(now() / 1000), call.body),
        "x-rampart-playbook": call.playbookId,
        "x-rampart-attempt": String(call.attempt),
      },
      body: call.body,
    });
    // The answer's body is not needed (and may be large): read and dropped, within the timeout.
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    const status = res.statusCode;
    if (status >= 200 && status < 300) return { outcome: "DELIVERED", status };
    if (status === 408 || status === 429 || status >= 500)
      return {
        outcome: "RETRY",
        status,
        error: `HTTP ${status}`,
        retryAfterMs: retryAfterMs(res.headers["retry-after"], now()),
      };
    if (status >= 300 && status < 400)
      return { outcome: "FAILED", status, error: `HTTP ${status}: redirects are not followed` };
    return { outcome: "FAILED", status, error: `HTTP ${status}` };
  } catch (err) {
    const cause = findCause(err);
    if (cause instanceof TargetRefusedError) return { outcome: "FAILED", status: null, error: cause.message };
    const { name, message } = describe(cause);
    const timedOut = /timeout|aborted/i.test(`${name} ${message}`);
    return {
      outcome: "RETRY",
      status: null,
      error: timedOut ? `timed out after ${call.timeoutMs} ms` : message,
    };
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

/** An error's name and message; errors thrown by Node or undici (a DOMException on abort) are read by shape. */
function describe(err: unknown): { name: string; message: string } {
  if (typeof err === "object" && err !== null)
    return {
      name: String((err as { name?: unknown }).name ?? ""),
      message: String((err as { message?: unknown }).message ?? err),
    };
  return { name: "", message: String(err) };
}

/** The innermost cause of an error (undici wraps connection errors), or our refusal on the way. */
export function findCause(err: unknown): unknown {
  let current = err;
  for (let i = 0; i < 5; i++) {
    if (current instanceof TargetRefusedError) return current;
    const cause =
      typeof current === "object" && current !== null ? (current as { cause?: unknown }).cause : undefined;
    if (!cause) break;
    current = cause;
  }
  return current;
}
