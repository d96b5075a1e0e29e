/*
 * The relay of inventory changes to the SIEM's `resource_accounts` mirror, which `CloudAccount.incidentSummary`
 * reads instead of receiving every resource id of the account through the gateway. It reads posture's
 * `inventory.resource.created|updated|removed` outbox rows (written by `upsertResources` / `removeResources` in
 * the change's transaction) and, per tenant, sends the named resources' *current* rows to the SIEM's internal
 * `syncResourceAccounts` (≤ 1,000 per call, signed as `service:posture` with the INGESTOR role in the tenant):
 * a resource still in the inventory with its provider id and account, one no longer there as removed.
 *
 * Why the current rows and not the events' copies: outbox positions order transactions by id, not by commit,
 * so two concurrent upserts of one resource can reach the relay in the opposite order to the one their row
 * locks applied them in. The relay reads after every named change has committed (`readOutbox`), and any later
 * change writes a later row: the mirror ends as the inventory is, whatever the order, and a batch sent again
 * (a crash, a lost answer) sends the same state. At least once, exactly once in effect.
 *
 * Existing installations: the mirror starts empty and the outbox keeps only 7 days of rows, so the first
 * posture start with this relay queues the durable `siem_resource_accounts_backfill` job (in the transaction
 * that creates the relay's offset, hence once), which writes every resource id to the outbox
 * (`inventory.resources.backfilled`, 1,000 ids a row) for this relay to send.
 */
import type { TaskList } from "graphile-worker";
import type { DataSource, EntityManager } from "typeorm";
import {
  addJob,
  callRelayDestination,
  deliverIdsPerTenant,
  InternalTokens,
  inSystemScope,
  inTenant,
  Role,
  startOutboxRelay,
  subgraphDatabaseUrl,
  writeOutbox,
  type BackgroundWork,
  type Config,
  type Logger,
  type RelayDelivery,
} from "../../../../common/src";

/** The relay's offset in posture's `relay_offsets`. */
export const SIEM_RESOURCE_ACCOUNTS_CONSUMER = "siem-resource-accounts";
/** The outbox topics of single resources the relay sends (`{ id, externalId, accountId }`). */
export const RESOURCE_TOPICS = [
  "inventory.resource.created",
  "inventory.resource.updated",
  "inventory.resource.removed",
] as const;
/** The backfill's outbox topic: `{ ids }`, every resource of a tenant in rows of IDS_PER_CALL. */
export const RESOURCES_BACKFILLED_TOPIC = "inventory.resources.backfilled";
/** The job that fills the SIEM's mirror with the inventory that existed before the relay. */
export const RESOURCE_ACCOUNTS_BACKFILL = "siem_resource_accounts_backfill";
/** Who the relay is to the SIEM. */
const RELAY_SUBJECT = "service:posture";
/** Most resources per call (the SIEM takes up to 1,000). */
const IDS_PER_CALL = 1000;

const SYNC = `mutation RelayResourceAccounts($input: SyncResourceAccountsInput!) {
  syncResourceAccounts(input: $input) { upsertedCount removedCount }
}`;

interface ResourceAccountDeliveryOptions {
  /** The SIEM's GraphQL URL, read at each call (tests start the SIEM on a port chosen at run time). */
  siemUrl: () => string;
  tokens: InternalTokens;
  log: Logger;
  /** Per call (default 30 s). */
  timeoutMs?: number;
}

interface SyncInput {
  resources: Array<{ resourceId: string; externalId: string; accountId: string }>;
  removedIds: string[];
}

/** Sends one tenant's call; null when the SIEM took it, the reason when it refused it for good. */
async function postSync(
  options: ResourceAccountDeliveryOptions,
  tenantId: string,
  input: SyncInput,
  signal: AbortSignal,
): Promise<string | null> {
  const answer = await callRelayDestination<unknown>({
    destination: "the SIEM",
    url: options.siemUrl(),
    tokens: options.tokens,
    tenantId,
    subject: RELAY_SUBJECT,
    roles: [Role.INGESTOR],
    query: SYNC,
    field: "syncResourceAccounts",
    variables: { input },
    signal,
    timeoutMs: options.timeoutMs,
  });
  return answer.refused ?? null;
}

/**
 * The current rows of a tenant's named resources. `resources` admits no system scope, so the relay's
 * transaction reads them as the tenant (set for the rest of the transaction; the offset it moves last is
 * system-only either way).
 */
async function currentResources(
  m: EntityManager,
  tenantId: string,
  ids: string[],
): Promise<Array<{ id: string; external_id: string; account_id: string }>> {
  await m.query(`SELECT set_config('rampart.tenant_id', $1, true)`, [tenantId]);
  return m.query(
    `SELECT id, external_id, account_id FROM resources WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
    [tenantId, ids],
  );
}

/** Delivers a batch: per tenant, the named resources' current state in calls of at most 1,000. */
export function resourceAccountDelivery(options: ResourceAccountDeliveryOptions): RelayDelivery {
  return async (records, m, signal) => {
    const byTenant = new Map<string, Set<string>>();
    for (const r of records) {
      const payload = r.payload as { id?: unknown; ids?: unknown };
      const ids = Array.isArray(payload.ids) ? payload.ids : [payload.id];
      const set = byTenant.get(r.tenantId) ?? new Set<string>();
      for (const id of ids) if (typeof id === "string") set.add(id);
      byTenant.set(r.tenantId, set);
    }
    return deliverIdsPerTenant(
      byTenant,
      IDS_PER_CALL,
      async (tenantId, ids) => {
        const rows = await currentResources(m, tenantId, ids);
        const present = new Set(rows.map((r) => r.id));
        const input: SyncInput = {
          resources: rows.map((r) => ({
            resourceId: r.id,
            externalId: r.external_id,
            accountId: r.account_id,
          })),
          removedIds: ids.filter((id) => !present.has(id)),
        };
        return postSync(options, tenantId, input, signal);
      },
      options.log,
      "the SIEM refused resource accounts",
    );
  };
}

/**
 * Queues the backfill once per installation: in the transaction that creates the relay's offset (at the
 * outbox's start, where a relay without one starts anyway), so replicas starting together queue it once and
 * later starts never again. Called before the relay starts, which would create the offset itself.
 */
export function queueResourceAccountsBackfill(ds: DataSource): Promise<void> {
  return inSystemScope(ds, async (m) => {
    const created: unknown[] = await m.query(
      `INSERT INTO relay_offsets (consumer) VALUES ($1) ON CONFLICT (consumer) DO NOTHING RETURNING consumer`,
      [SIEM_RESOURCE_ACCOUNTS_CONSUMER],
    );
    if (created.length)
      await addJob(m, "posture", RESOURCE_ACCOUNTS_BACKFILL, {}, { jobKey: RESOURCE_ACCOUNTS_BACKFILL });
  });
}

/**
 * The backfill job: every tenant's resource ids into the outbox, a transaction per tenant. A retry writes
 * them again, which the relay sends again and the SIEM takes as the same state.
 */
export function resourceAccountTasks(ds: DataSource, log: Logger): TaskList {
  return {
    [RESOURCE_ACCOUNTS_BACKFILL]: async () => {
      // Every tenant that ever onboarded an account has a row there (resources need an account).
      const tenants: Array<{ tenant_id: string }> = await inSystemScope(ds, (m) =>
        m.query(`SELECT tenant_id FROM built_in_evaluations ORDER BY tenant_id`),
      );
      for (const { tenant_id: tenantId } of tenants) {
        const count = await inTenant(ds, tenantId, async (m) => {
          const rows: Array<{ id: string }> = await m.query(
            `SELECT id FROM resources WHERE tenant_id = $1 ORDER BY id`,
            [tenantId],
          );
          const events = [];
          for (let i = 0; i < rows.length; i += IDS_PER_CALL) {
            const ids = rows.slice(i, i + IDS_PER_CALL).map((r) => r.id);
            events.push({ tenantId, topic: RESOURCES_BACKFILLED_TOPIC, key: ids[0], payload: { ids } });
          }
          await writeOutbox(m, events);
          return rows.length;
        });
        log.info({ tenantId, resources: count }, "resource accounts queued for the SIEM's mirror");
      }
    },
  };
}

/** Starts the relay of a posture process (its own small DataSource and outbox listener). */
export function startResourceAccountRelay(config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: "siem-resource-account-relay" });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "posture"),
    subgraph: "posture",
    consumer: SIEM_RESOURCE_ACCOUNTS_CONSUMER,
    topics: [...RESOURCE_TOPICS, RESOURCES_BACKFILLED_TOPIC],
    deliver: resourceAccountDelivery({
      siemUrl: () => config.subgraphUrls.siem,
      tokens: new InternalTokens(config.internalTokenSecret),
      log: relayLog,
    }),
    log: relayLog,
  });
}
