/*
 * The relays of inventory changes to the mirrors other subgraphs keep of which account each resource belongs to:
 * the SIEM's `resource_accounts` (consumer `siem-resource-accounts`), which `CloudAccount.incidentSummary` reads
 * instead of receiving every resource id of the account through the gateway, and protection's
 * `resource_accounts` (consumer `protection-resource-accounts`), from which protection tells in SQL whether a
 * plan covers a machine (application control, JIT). Each reads posture's
 * `inventory.resource.created|updated|removed` outbox rows (written by `upsertResources` / `removeResources` in
 * the change's transaction) and, per tenant, sends the named resources' *current* rows to its destination's
 * internal mutation (≤ 1,000 per call, signed as `service:posture` with the INGESTOR role in the tenant): a
 * resource still in the inventory with its account (and what else that mirror keeps), one no longer there as
 * removed.
 *
 * Why the current rows and not the events' copies: outbox positions order transactions by id, not by commit,
 * so two concurrent upserts of one resource can reach the relay in the opposite order to the one their row
 * locks applied them in. The relay reads after every named change has committed (`readOutbox`), and any later
 * change writes a later row: the mirror ends as the inventory is, whatever the order, and a batch sent again
 * (a crash, a lost answer) sends the same state. At least once, exactly once in effect.
 *
 * Existing installations: a mirror starts empty and the outbox keeps only 7 days of rows, so the first posture
 * start with a relay queues its durable backfill job (in the transaction that creates the relay's offset, hence
 * once), which writes every resource id to the outbox (`inventory.resources.backfilled`, 1,000 ids a row, for
 * that relay: `for` names its consumer; the other relay skips the row).
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

/** The outbox topics of single resources the relays send. */
export const RESOURCE_TOPICS = [
  "inventory.resource.created",
  "inventory.resource.updated",
  "inventory.resource.removed",
] as const;
/** The backfill's outbox topic: `{ ids, for }`, every resource of a tenant in rows of IDS_PER_CALL, for one relay. */
export const RESOURCES_BACKFILLED_TOPIC = "inventory.resources.backfilled";
/** Who the relays are to their destinations. */
const RELAY_SUBJECT = "service:posture";
/** Most resources per call (the destinations take up to 1,000). */
const IDS_PER_CALL = 1000;

/** A resource's current row, as the relays read it. */
interface ResourceRow {
  id: string;
  external_id: string;
  account_id: string;
  type: string;
}

/** A subgraph's mirror of the inventory's resource accounts, and how its relay fills it. */
export interface ResourceMirror {
  /** The relay's offset in posture's `relay_offsets` (and its metrics' `consumer`). */
  consumer: string;
  /** The subgraph that keeps the mirror (its URL is `config.subgraphUrls[subgraph]`). */
  subgraph: "siem" | "protection";
  /** The destination, in log lines and errors. */
  destination: string;
  /** The durable job that fills the mirror with the inventory that existed before the relay. */
  backfillTask: string;
  /** The destination's internal mutation (variables `{ input: { resources, removedIds } }`) and its field. */
  mutation: string;
  field: string;
  /** One existing resource as the destination's input takes it. */
  item: (row: ResourceRow) => Record<string, string>;
}

/** The SIEM's mirror (`siem.resource_accounts`): for `CloudAccount.incidentSummary`. */
export const SIEM_RESOURCE_MIRROR: ResourceMirror = {
  consumer: "siem-resource-accounts",
  subgraph: "siem",
  destination: "the SIEM",
  backfillTask: "siem_resource_accounts_backfill",
  mutation: `mutation RelayResourceAccounts($input: SyncResourceAccountsInput!) {
    syncResourceAccounts(input: $input) { upsertedCount removedCount }
  }`,
  field: "syncResourceAccounts",
  item: (r) => ({ resourceId: r.id, externalId: r.external_id, accountId: r.account_id }),
};

/** Protection's mirror (`protection.resource_accounts`): which plan covers each resource. */
export const PROTECTION_RESOURCE_MIRROR: ResourceMirror = {
  consumer: "protection-resource-accounts",
  subgraph: "protection",
  destination: "protection",
  backfillTask: "protection_resource_accounts_backfill",
  mutation: `mutation RelayInventoryResources($input: SyncInventoryResourcesInput!) {
    syncInventoryResources(input: $input) { upsertedCount removedCount }
  }`,
  field: "syncInventoryResources",
  item: (r) => ({ resourceId: r.id, accountId: r.account_id, type: r.type }),
};

/** Every mirror posture keeps up to date. */
export const RESOURCE_MIRRORS: readonly ResourceMirror[] = [SIEM_RESOURCE_MIRROR, PROTECTION_RESOURCE_MIRROR];

interface ResourceMirrorDeliveryOptions {
  mirror: ResourceMirror;
  /** The destination's GraphQL URL, read at each call (tests start subgraphs on ports chosen at run time). */
  url: () => string;
  tokens: InternalTokens;
  log: Logger;
  /** Per call (default 30 s). */
  timeoutMs?: number;
}

interface SyncInput {
  resources: Array<Record<string, string>>;
  removedIds: string[];
}

/** Sends one tenant's call; null when the destination took it, the reason when it refused it for good. */
async function postSync(
  options: ResourceMirrorDeliveryOptions,
  tenantId: string,
  input: SyncInput,
  signal: AbortSignal,
): Promise<string | null> {
  const answer = await callRelayDestination<unknown>({
    destination: options.mirror.destination,
    url: options.url(),
    tokens: options.tokens,
    tenantId,
    subject: RELAY_SUBJECT,
    roles: [Role.INGESTOR],
    query: options.mirror.mutation,
    field: options.mirror.field,
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
async function currentResources(m: EntityManager, tenantId: string, ids: string[]): Promise<ResourceRow[]> {
  await m.query(`SELECT set_config('rampart.tenant_id', $1, true)`, [tenantId]);
  return m.query(
    `SELECT id, external_id, account_id, type FROM resources WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
    [tenantId, ids],
  );
}

/**
 * Delivers a batch: per tenant, the named resources' current state in calls of at most 1,000. A backfill row
 * meant for another relay (`for` names another consumer) is skipped; one without `for` is for every relay.
 */
export function resourceMirrorDelivery(options: ResourceMirrorDeliveryOptions): RelayDelivery {
  const { mirror } = options;
  return async (records, m, signal) => {
    const byTenant = new Map<string, Set<string>>();
    for (const r of records) {
      const payload = r.payload as { id?: unknown; ids?: unknown; for?: unknown };
      if (typeof payload.for === "string" && payload.for !== mirror.consumer) continue;
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
          resources: rows.map(mirror.item),
          removedIds: ids.filter((id) => !present.has(id)),
        };
        return postSync(options, tenantId, input, signal);
      },
      options.log,
      `${mirror.destination} refused resource accounts`,
    );
  };
}

/**
 * Queues each mirror's backfill once per installation: in the transaction that creates its relay's offset (at
 * the outbox's start, where a relay without one starts anyway), so replicas starting together queue it once
 * and later starts never again. Called before the relays start, which would create the offsets themselves.
 */
export function queueResourceAccountsBackfill(ds: DataSource): Promise<void> {
  return inSystemScope(ds, async (m) => {
    for (const mirror of RESOURCE_MIRRORS) {
      const created: unknown[] = await m.query(
        `INSERT INTO relay_offsets (consumer) VALUES ($1) ON CONFLICT (consumer) DO NOTHING RETURNING consumer`,
        [mirror.consumer],
      );
      if (created.length)
        await addJob(m, "posture", mirror.backfillTask, {}, { jobKey: mirror.backfillTask });
    }
  });
}

/**
 * The backfill jobs, one per mirror: every tenant's resource ids into the outbox for that mirror's relay, a
 * transaction per tenant. A retry writes them again, which the relay sends again and the destination takes as
 * the same state.
 */
export function resourceAccountTasks(ds: DataSource, log: Logger): TaskList {
  const backfill = (mirror: ResourceMirror) => async () => {
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
          events.push({
            tenantId,
            topic: RESOURCES_BACKFILLED_TOPIC,
            key: ids[0],
            payload: { ids, for: mirror.consumer },
          });
        }
        await writeOutbox(m, events);
        return rows.length;
      });
      log.info(
        { tenantId, resources: count, consumer: mirror.consumer },
        `resource accounts queued for ${mirror.destination}'s mirror`,
      );
    }
  };
  return Object.fromEntries(RESOURCE_MIRRORS.map((mirror) => [mirror.backfillTask, backfill(mirror)]));
}

/** Starts a mirror's relay in a posture process (its own small DataSource and outbox listener). */
function startMirrorRelay(mirror: ResourceMirror, config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: `${mirror.consumer}-relay` });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "posture"),
    subgraph: "posture",
    consumer: mirror.consumer,
    topics: [...RESOURCE_TOPICS, RESOURCES_BACKFILLED_TOPIC],
    deliver: resourceMirrorDelivery({
      mirror,
      url: () => config.subgraphUrls[mirror.subgraph],
      tokens: new InternalTokens(config.internalTokenSecret),
      log: relayLog,
    }),
    log: relayLog,
  });
}

/** Starts every mirror's relay; stopping the result stops them all. */
export async function startResourceAccountRelays(config: Config, log: Logger): Promise<BackgroundWork> {
  const started: BackgroundWork[] = [];
  try {
    for (const mirror of RESOURCE_MIRRORS) started.push(await startMirrorRelay(mirror, config, log));
  } catch (err) {
    for (const work of started.reverse()) await work.stop();
    throw err;
  }
  return { stop: async () => void (await Promise.all(started.map((w) => w.stop()))) };
}
