import type { DataSource, EntityManager } from "typeorm";
import {
  addJob,
  BadUserInputError,
  dayOf,
  inTenant,
  writeAudit,
  type Identity,
  type RequestDb,
} from "../../../../common/src";
import { EventRetention } from "./event-retention.types";
import { eventPartitions } from "./partitions";

const DAY = 86_400_000;

/** The durable job that deletes one tenant's events past its own retention (see `purgeExpiredEvents`). */
export const EVENT_RETENTION_TASK = "events_retention";

/** One pending purge per tenant: scheduling it again while one waits changes nothing. */
export const retentionJobKey = (tenantId: string) => `${EVENT_RETENTION_TASK}:${tenantId}`;

/** How the purge deletes: rows per statement (one short transaction each) and full batches per job run. */
export interface PurgeOptions {
  batchSize: number;
  batchesPerJob: number;
}

/** About 5 MB of rows per statement, and a job that yields its worker after 100,000 rows. */
export const DEFAULT_PURGE: PurgeOptions = { batchSize: 5000, batchesPerJob: 20 };

/** The tenant's own retention in days, or null when it has set none (read in the caller's tenant transaction). */
export async function tenantEventRetentionDays(m: EntityManager, tenantId: string): Promise<number | null> {
  const [row]: Array<{ days: number | null }> = await m.query(
    `SELECT event_retention_days AS days FROM tenant_settings WHERE tenant_id = $1`,
    [tenantId],
  );
  return row?.days ?? null;
}

/** The days a tenant's events are kept: its own setting, capped by the platform's (which a setting may outlive). */
export const effectiveRetentionDays = (own: number | null, platformDays: number) =>
  Math.min(own ?? platformDays, platformDays);

/** Enqueues the tenant's purge in the caller's transaction (it runs once the change commits). */
export const schedulePurge = (m: EntityManager, tenantId: string) =>
  addJob(m, "siem", EVENT_RETENTION_TASK, { tenantId }, { jobKey: retentionJobKey(tenantId) });

/**
 * Deletes the tenant's events of the days past its own retention from the partitions still kept for the platform's
 * (those past the platform's are dropped whole by `events_maintenance`). The cut is at a day's start, as for whole
 * partitions, so the tenant's events go by whole days and each partition is either wholly the tenant's to delete or
 * not touched. Each statement deletes at most `batchSize` rows in a transaction of its own (row locks on those rows
 * only, released at once), and a run stops after `batchesPerJob` full batches so one large backlog does not hold a
 * worker: `done` is false then, and the caller continues in a new job. Running it again deletes only what is left.
 */
export async function purgeExpiredEvents(
  ds: DataSource,
  tenantId: string,
  platformDays: number,
  options: PurgeOptions = DEFAULT_PURGE,
  now = Date.now(),
): Promise<{ deleted: number; done: boolean }> {
  const own = await inTenant(ds, tenantId, (m) => tenantEventRetentionDays(m, tenantId));
  const days = effectiveRetentionDays(own, platformDays);
  if (days >= platformDays) return { deleted: 0, done: true };
  let deleted = 0;
  let fullBatches = 0;
  for (const partition of await eventPartitions.listBefore(ds, dayOf(now - days * DAY))) {
    for (;;) {
      // ctids are a partition's own, so the batch is picked and deleted in that one partition.
      const [{ n }]: Array<{ n: number }> = await inTenant(ds, tenantId, (m) =>
        m.query(
          `WITH gone AS (
             DELETE FROM ${partition} WHERE tenant_id = $1
                AND ctid = ANY(ARRAY(SELECT ctid FROM ${partition} WHERE tenant_id = $1 LIMIT $2))
             RETURNING 1)
           SELECT count(*)::int AS n FROM gone`,
          [tenantId, options.batchSize],
        ),
      );
      deleted += n;
      if (n < options.batchSize) break;
      // Only full batches count: a partition with nothing (left) of the tenant's costs one index probe, and
      // counted, the probes of the emptied partitions would use up every later run before it got any further.
      if (++fullBatches === options.batchesPerJob) return { deleted, done: false };
    }
  }
  return { deleted, done: true };
}

function retentionOf(row: Record<string, unknown> | undefined, platformDays: number): EventRetention {
  const own = (row?.event_retention_days as number | null | undefined) ?? null;
  return Object.assign(new EventRetention(), {
    days: effectiveRetentionDays(own, platformDays),
    maxDays: platformDays,
    isDefault: own === null,
    updatedAt: (row?.updated_at as Date | undefined) ?? null,
    updatedBy: (row?.updated_by as string | undefined) ?? null,
  });
}

/** The tenant's event retention: read by anyone in the tenant, set by its administrators. */
export class EventRetentionService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly platformDays: number,
  ) {}

  /** The tenant's retention (the platform's until it sets its own). */
  async get(): Promise<EventRetention> {
    const [row] = await this.db.read((m) =>
      m.query(`SELECT * FROM tenant_settings WHERE tenant_id = $1`, [this.identity.tenantId]),
    );
    return retentionOf(row, this.platformDays);
  }

  /**
   * Sets the tenant's retention, 1 day to the platform's; a shorter one than before schedules the purge at once
   * (the daily maintenance schedules it again every day after). Setting the current value writes nothing.
   */
  async set(days: number): Promise<EventRetention> {
    if (!Number.isInteger(days) || days < 1 || days > this.platformDays)
      throw new BadUserInputError("Invalid event retention; nothing was changed.", [
        { field: "days", message: `must be 1 to ${this.platformDays} (the platform's retention)` },
      ]);
    const tenantId = this.identity.tenantId;
    return this.db.write(async (m) => {
      const [current]: Array<Record<string, unknown>> = await m.query(
        `SELECT * FROM tenant_settings WHERE tenant_id = $1 FOR UPDATE`,
        [tenantId],
      );
      const before = (current?.event_retention_days as number | null | undefined) ?? null;
      if (before === days) return retentionOf(current, this.platformDays);
      const [row]: Array<Record<string, unknown>> = await m.query(
        `INSERT INTO tenant_settings AS s (tenant_id, event_retention_days, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET event_retention_days = excluded.event_retention_days,
           updated_at = now(), updated_by = excluded.updated_by
         RETURNING *`,
        [tenantId, days, this.identity.subject],
      );
      await writeAudit(m, this.identity, [
        { action: "events.retention_set", target: `tenant:${tenantId}`, details: { days: [before, days] } },
      ]);
      if (days < effectiveRetentionDays(before, this.platformDays)) await schedulePurge(m, tenantId);
      return retentionOf(row, this.platformDays);
    });
  }
}
