/*
 * The relay of resource removals to protection: `inventory.resource.removed` outbox rows (written by
 * `removeResources` in the removal's transaction) become calls of protection's internal
 * `forgetRemovedResources` (one call per tenant and 1,000 ids, signed as `service:posture` with the ADMIN
 * role in that tenant), which ends the removed machines' JIT policies and grants, findings, memberships and
 * baselines. Protection's side is idempotent (it only ends what still exists), so a batch sent again after a
 * crash or a lost answer changes nothing: at least once, exactly once in effect. Posture never touches
 * protection's schema.
 */
import {
  callRelayDestination,
  deliverIdsPerTenant,
  InternalTokens,
  Role,
  startOutboxRelay,
  subgraphDatabaseUrl,
  type BackgroundWork,
  type Config,
  type Logger,
  type RelayDelivery,
} from "../../../../common/src";

/** The relay's offset in posture's `relay_offsets`. */
export const PROTECTION_REMOVALS_CONSUMER = "protection-resource-removals";
/** The outbox topic of a removal. */
export const RESOURCE_REMOVED_TOPIC = "inventory.resource.removed";
/** Who the relay is to protection (audit trails name it). */
export const REMOVAL_RELAY_SUBJECT = "service:posture";
/** Most ids per call (protection takes up to 1,000). */
const IDS_PER_CALL = 1000;
const FORGET = `mutation RelayRemovals($ids: [ID!]!) { forgetRemovedResources(resourceIds: $ids) { resourceIds } }`;

interface RemovalDeliveryOptions {
  /** protection's GraphQL URL, read at each call (tests start protection on a port chosen at run time). */
  protectionUrl: () => string;
  tokens: InternalTokens;
  log: Logger;
  /** Per call (default 30 s). */
  timeoutMs?: number;
}

/** Sends one tenant's ids; null when protection took them, the reason when it refused them for good. */
async function postRemovals(
  options: RemovalDeliveryOptions,
  tenantId: string,
  ids: string[],
  signal: AbortSignal,
): Promise<string | null> {
  const answer = await callRelayDestination<{ resourceIds: string[] }>({
    destination: "protection",
    url: options.protectionUrl(),
    tokens: options.tokens,
    tenantId,
    subject: REMOVAL_RELAY_SUBJECT,
    roles: [Role.ADMIN],
    query: FORGET,
    field: "forgetRemovedResources",
    variables: { ids },
    signal,
    timeoutMs: options.timeoutMs,
  });
  return answer.refused ?? null;
}

/** Delivers a batch of removals: per tenant, its distinct ids in calls of at most 1,000. */
export function removalDelivery(options: RemovalDeliveryOptions): RelayDelivery {
  return async (records, _m, signal) => {
    const byTenant = new Map<string, Set<string>>();
    for (const r of records) {
      const id = (r.payload as { id?: unknown }).id;
      if (typeof id !== "string") continue;
      const set = byTenant.get(r.tenantId) ?? new Set<string>();
      set.add(id);
      byTenant.set(r.tenantId, set);
    }
    return deliverIdsPerTenant(
      byTenant,
      IDS_PER_CALL,
      (tenantId, ids) => postRemovals(options, tenantId, ids, signal),
      options.log,
      "protection refused resource removals",
    );
  };
}

/** Starts the removal relay of a posture process (its own small DataSource and outbox listener). */
export function startRemovalRelay(config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: "protection-removal-relay" });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "posture"),
    subgraph: "posture",
    consumer: PROTECTION_REMOVALS_CONSUMER,
    topics: [RESOURCE_REMOVED_TOPIC],
    deliver: removalDelivery({
      protectionUrl: () => config.subgraphUrls.protection,
      tokens: new InternalTokens(config.internalTokenSecret),
      log: relayLog,
    }),
    log: relayLog,
  });
}
