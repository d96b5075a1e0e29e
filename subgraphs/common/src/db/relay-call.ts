import { IDENTITY_HEADER, type InternalTokens, type Role } from "../identity";
import type { Logger } from "../logger";

/** GraphQL error codes that mean the request itself is wrong: sending it again cannot succeed. */
const PERMANENT = new Set(["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"]);

/** A relay's destination did not take a call (down, overloaded, or refusing the relay's identity): retry later. */
export class DestinationUnavailableError extends Error {}

/** One call of a relay to another subgraph's internal mutation, on behalf of one tenant. */
export interface RelayCall {
  /** Who is called, as messages name it: "the SIEM", "protection", "posture". */
  destination: string;
  /** The destination's GraphQL URL. */
  url: string;
  tokens: InternalTokens;
  tenantId: string;
  /** Who the relay is to the destination (`service:<subgraph>`: audit trails name it). */
  subject: string;
  roles: Role[];
  /** The mutation, and the one field of `data` it answers in. */
  query: string;
  field: string;
  variables: Record<string, unknown>;
  signal: AbortSignal;
  /** Per call (default 30 s). */
  timeoutMs?: number;
}

/**
 * Sends a relay's call with an internal token for the tenant. The answer's field (`{ data }`) when the
 * destination took the call, or why it refused it for good (`{ refused }`: every error a fault of the request,
 * which sending it again cannot mend). Throws DestinationUnavailableError when the call should be retried: no
 * answer, or an answer without the field that is not such a refusal.
 */
export async function callRelayDestination<T>(
  call: RelayCall,
): Promise<{ data: T; refused?: undefined } | { data?: undefined; refused: string }> {
  const token = await call.tokens.sign({ tenantId: call.tenantId, subject: call.subject, roles: call.roles });
  let status: number;
  let body: {
    data?: Record<string, T | null> | null;
    errors?: Array<{ message: string; extensions?: { code?: string } }>;
  };
  try {
    const res = await fetch(call.url, {
      method: "POST",
      headers: { "content-type": "application/json", [IDENTITY_HEADER]: token },
      body: JSON.stringify({ query: call.query, variables: call.variables }),
      signal: AbortSignal.any([call.signal, AbortSignal.timeout(call.timeoutMs ?? 30_000)]),
    });
    status = res.status;
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw new DestinationUnavailableError(`${call.destination} did not answer: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const data = body.data?.[call.field];
  if (data) return { data };
  const errors = body.errors ?? [];
  const messages = errors.map((e) => e.message).join("; ");
  if (errors.length > 0 && errors.every((e) => PERMANENT.has(e.extensions?.code ?? "")))
    return { refused: messages };
  throw new DestinationUnavailableError(
    `${call.destination} answered HTTP ${status}: ${messages || "no data"}`,
  );
}

/**
 * Delivers ids per tenant in calls of at most `perCall` ids: `send` answers null when the destination took a
 * chunk, or why it refused it for good (logged with `refusedMessage`; the chunk counts as rejected).
 */
export async function deliverIdsPerTenant(
  byTenant: ReadonlyMap<string, ReadonlySet<string>>,
  perCall: number,
  send: (tenantId: string, ids: string[]) => Promise<string | null>,
  log: Logger,
  refusedMessage: string,
): Promise<{ delivered: number; rejected: number }> {
  let delivered = 0;
  let rejected = 0;
  for (const [tenantId, set] of byTenant) {
    const ids = [...set];
    for (let i = 0; i < ids.length; i += perCall) {
      const chunk = ids.slice(i, i + perCall);
      const refused = await send(tenantId, chunk);
      if (refused === null) delivered += chunk.length;
      else {
        rejected += chunk.length;
        log.warn({ tenantId, ids: chunk, reason: refused }, refusedMessage);
      }
    }
  }
  return { delivered, rejected };
}
