import { Counter, Gauge, register } from "prom-client";
import type { Identity } from "../../subgraphs/common/src";

function metric<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

const connections = metric(
  "rampart_gateway_live_connections",
  () =>
    new Gauge({
      name: "rampart_gateway_live_connections",
      help: "Authenticated live connections open on this gateway: WebSocket connections and SSE streams.",
      labelNames: ["transport"],
    }),
);
const refused = metric(
  "rampart_gateway_live_connections_refused_total",
  () =>
    new Counter({
      name: "rampart_gateway_live_connections_refused_total",
      help: "Live connections refused because their user or their tenant already held the most accepted.",
      labelNames: ["transport", "limit"],
    }),
);

/** How a live connection reaches the gateway. */
export type LiveTransport = "ws" | "sse";

/** How many live connections may be open on one gateway at once. */
export interface LiveQuotaLimits {
  /** Per user: one (tenant, subject), WebSocket connections and SSE streams together. */
  perUser: number;
  /** Per tenant, all its users together. */
  perTenant: number;
}

/** A connection admitted: `release` gives its place back (once, however often it is called). */
export interface LiveSlot {
  admitted: true;
  release(): void;
}

/** A connection refused: which limit it would have passed, and a message for the client. */
export interface LiveRefusal {
  admitted: false;
  limit: "user" | "tenant";
  message: string;
}

/**
 * Counts the live connections of each user and tenant on this gateway. Each costs memory here for as
 * long as it is open (a socket, its subscriptions' queues), so one token must not open them by the
 * thousand, nor one tenant crowd out the others. The counts are per process: they protect this
 * gateway's memory, not a quota across replicas.
 */
export class LiveQuota {
  private readonly users = new Map<string, number>();
  private readonly tenants = new Map<string, number>();

  constructor(private readonly limits: LiveQuotaLimits) {}

  /** Takes a place for a new connection of `identity`, or says which limit is reached. */
  acquire(identity: Identity, transport: LiveTransport): LiveSlot | LiveRefusal {
    const user = JSON.stringify([identity.tenantId, identity.subject]);
    const tenant = identity.tenantId;
    const ofUser = this.users.get(user) ?? 0;
    const ofTenant = this.tenants.get(tenant) ?? 0;
    if (ofUser >= this.limits.perUser || ofTenant >= this.limits.perTenant) {
      const limit = ofUser >= this.limits.perUser ? "user" : "tenant";
      refused.inc({ transport, limit });
      return {
        admitted: false,
        limit,
        message:
          limit === "user"
            ? `Too many connections: you hold ${this.limits.perUser} live connections, the most accepted; close one first.`
            : `Too many connections: your tenant holds ${this.limits.perTenant} live connections, the most accepted; close one first.`,
      };
    }
    this.users.set(user, ofUser + 1);
    this.tenants.set(tenant, ofTenant + 1);
    connections.inc({ transport });
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        decrement(this.users, user);
        decrement(this.tenants, tenant);
        connections.dec({ transport });
      },
    };
  }
}

/** Counts down, forgetting a key at zero so that users who have gone cost nothing. */
function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}
