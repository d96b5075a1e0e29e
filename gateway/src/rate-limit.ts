import { Counter, register } from "prom-client";
import type { Identity } from "../../subgraphs/common/src";

const refused =
  (register.getSingleMetric("rampart_gateway_rate_limited_total") as
    Counter<"route" | "limit"> | undefined) ??
  new Counter({
    name: "rampart_gateway_rate_limited_total",
    help: "Requests refused (HTTP 429) because their user or their tenant had spent its request or ingest-byte budget.",
    labelNames: ["route", "limit"],
  });

/** A sustained rate and the burst above it that a bucket lets through; `perSecond` 0: no limit. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** What the gateway lets each user and tenant send. */
export interface RateLimitSettings {
  /** GraphQL queries and mutations over HTTP, and ingest requests, of one user (tenant and subject). */
  userRequests: Rate;
  /** The same, of all the users of one tenant together. */
  tenantRequests: Rate;
  /** Body bytes a tenant sends to the ingest routes. */
  tenantIngestBytes: Rate;
}

/** Which requests a refusal is counted under. */
export type RateLimitedRoute = "graphql" | "ingest";

/** A request refused: the limit it passed, when to try again (whole seconds, at least 1), and why. */
export interface RateLimitRefusal {
  limit: "user" | "tenant";
  retryAfterSeconds: number;
  message: string;
}

/**
 * A token bucket: up to `burst` tokens, refilled at `perSecond`. A request may leave it in debt (a body larger
 * than the burst, or bytes counted as they stream), and the next waits until the debt is paid: an oversize
 * request is not refused for ever, and is not free either.
 */
export class TokenBucket {
  private tokens: number;

  constructor(
    private readonly rate: Rate,
    private at: number,
  ) {
    this.tokens = rate.burst;
  }

  /** Seconds until `cost` tokens (at most a full bucket) are there at `now` (ms); 0: there now. */
  wait(cost: number, now: number): number {
    this.refill(now);
    const missing = Math.min(cost, this.rate.burst) - this.tokens;
    return missing > 0 ? missing / this.rate.perSecond : 0;
  }

  /** Takes `cost` tokens at `now`, into debt if need be. */
  take(cost: number, now: number): void {
    this.refill(now);
    this.tokens -= cost;
  }

  /** Full at `now`: the same as a new bucket, so it can be forgotten. */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate.burst;
  }

  private refill(now: number): void {
    // A clock that steps back refills nothing.
    if (now <= this.at) return;
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.at) / 1000) * this.rate.perSecond);
    this.at = now;
  }
}

/** How often, at most, the buckets are scanned for idle ones (ms). */
const SWEEP_INTERVAL_MS = 60_000;

/** One bucket per key at `rate`, each forgotten once it has refilled (its key idle), so idle keys cost nothing. */
class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private sweptAt: number;

  constructor(
    private readonly rate: Rate,
    now: number,
  ) {
    this.sweptAt = now;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** The bucket of `key`, after forgetting the full ones when the last scan is SWEEP_INTERVAL_MS old. */
  of(key: string, now: number): TokenBucket {
    if (now - this.sweptAt >= SWEEP_INTERVAL_MS) {
      this.sweptAt = now;
      for (const [k, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(k);
    }
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(this.rate, now)));
    return bucket;
  }
}

/** A limit in force: its scope, its buckets and what it costs a request. */
interface Limit {
  limit: RateLimitRefusal["limit"];
  buckets: KeyedBuckets;
  key: string;
  cost: number;
  message: string;
}

/**
 * Request rate limits of one gateway process: one noisy integrator or runaway dashboard must not starve the
 * other tenants of this gateway. Token buckets per user (tenant and subject) and per tenant for requests, and
 * per tenant for ingest bytes. A request is admitted only when every bucket it draws on has its cost, and then
 * it takes from all of them: a refused request costs nothing. The buckets are in memory and per process: across
 * N gateway replicas the effective limit is N times the configured one.
 */
export class RateLimits {
  private readonly userRequests?: KeyedBuckets;
  private readonly tenantRequests?: KeyedBuckets;
  private readonly tenantIngestBytes?: KeyedBuckets;

  constructor(
    private readonly settings: RateLimitSettings,
    /** Epoch milliseconds: a fake clock in tests. */
    private readonly now: () => number = Date.now,
  ) {
    const start = now();
    const buckets = (rate: Rate) => (rate.perSecond > 0 ? new KeyedBuckets(rate, start) : undefined);
    this.userRequests = buckets(settings.userRequests);
    this.tenantRequests = buckets(settings.tenantRequests);
    this.tenantIngestBytes = buckets(settings.tenantIngestBytes);
  }

  /** Buckets in memory, of every limit together (idle keys' ones are forgotten). */
  get size(): number {
    return (
      (this.userRequests?.size ?? 0) + (this.tenantRequests?.size ?? 0) + (this.tenantIngestBytes?.size ?? 0)
    );
  }

  /** Admits one GraphQL query or mutation of `identity` (null), or refuses it. */
  graphql(identity: Identity): RateLimitRefusal | null {
    return this.admit("graphql", this.requestLimits(identity));
  }

  /**
   * Admits one ingest request of `identity` with a body of `bytes` (as declared; null when it streams without
   * a length: it is then admitted if the tenant's byte budget is not in debt, and `countIngestBytes` charges
   * it as it goes), or refuses it.
   */
  ingest(identity: Identity, bytes: number | null): RateLimitRefusal | null {
    const limits = this.requestLimits(identity);
    const { perSecond } = this.settings.tenantIngestBytes;
    if (this.tenantIngestBytes)
      limits.push({
        limit: "tenant",
        buckets: this.tenantIngestBytes,
        key: identity.tenantId,
        cost: bytes ?? 0,
        message: `Too many ingest bytes: your tenant may send ${perSecond} bytes per second to this gateway.`,
      });
    return this.admit("ingest", limits);
  }

  /** Charges `bytes` of a streamed ingest body to its tenant (into debt if need be: it is already admitted). */
  countIngestBytes(identity: Identity, bytes: number): void {
    const now = this.now();
    this.tenantIngestBytes?.of(identity.tenantId, now).take(bytes, now);
  }

  private requestLimits(identity: Identity): Limit[] {
    const limits: Limit[] = [];
    const { userRequests, tenantRequests } = this.settings;
    if (this.userRequests)
      limits.push({
        limit: "user",
        buckets: this.userRequests,
        key: JSON.stringify([identity.tenantId, identity.subject]),
        cost: 1,
        message: `Too many requests: you may send ${userRequests.perSecond} per second (bursts of ${userRequests.burst}) to this gateway.`,
      });
    if (this.tenantRequests)
      limits.push({
        limit: "tenant",
        buckets: this.tenantRequests,
        key: identity.tenantId,
        cost: 1,
        message: `Too many requests: your tenant may send ${tenantRequests.perSecond} per second (bursts of ${tenantRequests.burst}) to this gateway.`,
      });
    return limits;
  }

  private admit(route: RateLimitedRoute, limits: Limit[]): RateLimitRefusal | null {
    const now = this.now();
    const buckets = limits.map((l) => l.buckets.of(l.key, now));
    let refusal: { limit: Limit; wait: number } | undefined;
    limits.forEach((limit, i) => {
      const wait = buckets[i].wait(limit.cost, now);
      if (wait > 0 && wait > (refusal?.wait ?? 0)) refusal = { limit, wait };
    });
    if (refusal) {
      refused.inc({ route, limit: refusal.limit.limit });
      const retryAfterSeconds = Math.max(1, Math.ceil(refusal.wait));
      return {
        limit: refusal.limit.limit,
        retryAfterSeconds,
        message: `${refusal.limit.message} Try again in ${retryAfterSeconds} s.`,
      };
    }
    limits.forEach((limit, i) => buckets[i].take(limit.cost, now));
    return null;
  }
}
