/*
 * The relay of inventory removals to protection: `inventory.resource.removed` outbox rows (written by
 * `removeResources` and `removeCloudAccount` in the removal's transaction) become calls of protection's internal
 * `forgetRemovedResources` (one call per tenant and 1,000 ids, signed as `service:posture` with the ADMIN
 * role in that tenant), which ends the removed machines' JIT policies and grants, findings, memberships and
 * baselines; `inventory.account.removed` rows (an off-boarded account, after its resources' rows) become calls of
 * `forgetRemovedAccounts`, which deletes the account's plans. In a batch, resources go before accounts.
 * Protection's side is idempotent (it only ends what still exists), so a batch sent again after a crash or a lost
 * answer changes nothing: at least once, exactly once in effect. Posture never touches protection's schema.
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
/** The outbox topic of a resource's removal. */
export const RESOURCE_REMOVED_TOPIC = "inventory.resource.removed";
/** The outbox topic of an account's removal (`removeCloudAccount`). */
export const ACCOUNT_REMOVED_TOPIC = "inventory.account.removed";
/** Who the relay is to protection (audit trails name it). */
export const REMOVAL_RELAY_SUBJECT = "service:posture";
/** Most ids per call (protection takes up to 1,000). */
const IDS_PER_CALL = 1000;
/** What protection is asked for each topic. */
const CALLS = [
  {
    topic: RESOURCE_REMOVED_TOPIC,
    field: "forgetRemovedResources",
    query: `mutation RelayRemovals($ids: [ID!]!) { forgetRemovedResources(resourceIds: $ids) { resourceIds } }`,
    refused: "protection refused resource removals",
  },
  {
    topic: ACCOUNT_REMOVED_TOPIC,
    field: "forgetRemovedAccounts",
    query: `mutation RelayAccountRemovals($ids: [ID!]!) { forgetRemovedAccounts(accountIds: $ids) { accountIds } }`,
    refused: "protection refused account removals",
  },
] as const;

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
  call: (typeof CALLS)[number],
  tenantId: string,
  ids: string[],
  signal: AbortSignal,
): Promise<string | null> {
  const answer = await callRelayDestination<unknown>({
    destination: "protection",
    url: options.protectionUrl(),
    tokens: options.tokens,
    tenantId,
    subject: REMOVAL_RELAY_SUBJECT,
    roles: [Role.ADMIN],
    query: call.query,
    field: call.field,
    variables: { ids },
    signal,
    timeoutMs: options.timeoutMs,
  });
  return answer.refused ?? null;
}

/** Delivers a batch of removals: resources, then accounts; per tenant, distinct ids in calls of at most 1,000. */
export function removalDelivery(options: RemovalDeliveryOptions): RelayDelivery {
  return async (records, _m, signal) => {
    const outcome = { delivered: 0, rejected: 0 };
    for (const call of CALLS) {
      const byTenant = new Map<string, Set<string>>();
      for (const r of records) {
        const id = (r.payload as { id?: unknown }).id;
        if (r.topic !== call.topic || typeof id !== "string") continue;
        const set = byTenant.get(r.tenantId) ?? new Set<string>();
        set.add(id);
        byTenant.set(r.tenantId, set);
      }
      const done = await deliverIdsPerTenant(
        byTenant,
        IDS_PER_CALL,
        (tenantId, ids) => postRemovals(options, call, tenantId, ids, signal),
        options.log,
        call.refused,
      );
      outcome.delivered += done.delivered;
      outcome.rejected += done.rejected;
    }
    return outcome;
  };
}

/** Starts the removal relay of a posture process (its own small DataSource and outbox listener). */
export function startRemovalRelay(config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: "protection-removal-relay" });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "posture"),
    subgraph: "posture",
    consumer: PROTECTION_REMOVALS_CONSUMER,
    topics: CALLS.map((c) => c.topic),
    deliver: removalDelivery({
      protectionUrl: () => config.subgraphUrls.protection,
      tokens: new InternalTokens(config.internalTokenSecret),
      log: relayLog,
    }),
    log: relayLog,
  });
}
