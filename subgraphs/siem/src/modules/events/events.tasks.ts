import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { inSystemScope, partitionMaintenanceTask, type Config, type Logger } from "../../../../common/src";
import {
  DEFAULT_PURGE,
  EVENT_RETENTION_TASK,
  purgeExpiredEvents,
  retentionJobKey,
  schedulePurge,
  type PurgeOptions,
} from "./event-retention.service";
import { pruneIngestReceipts } from "./ingest-receipts.service";
import { eventPartitions } from "./partitions";

/**
 * Daily event-store maintenance: partitions for the next days, whole partitions dropped past the platform's
 * retention, a purge job for every tenant that keeps its events fewer days, and queued-ingest receipts past
 * RECEIPT_RETENTION_DAYS deleted.
 */
export const EVENTS_CRONTAB = "15 0 * * * events_maintenance";

/** Event-store jobs (`purge`: how the per-tenant purge batches its deletes; tests make it small). */
export function eventTasks(
  ds: DataSource,
  log: Logger,
  config: Config,
  purge: PurgeOptions = DEFAULT_PURGE,
): TaskList {
  const platformDays = config.eventRetentionDays;
  const maintainPartitions = partitionMaintenanceTask(ds, eventPartitions, platformDays, log);
  return {
    events_maintenance: async (payload, helpers) => {
      await maintainPartitions(payload, helpers);
      const tenants = await inSystemScope(ds, async (m) => {
        const rows: Array<{ tenant_id: string }> = await m.query(
          `SELECT tenant_id FROM tenant_settings WHERE event_retention_days < $1 ORDER BY tenant_id`,
          [platformDays],
        );
        for (const { tenant_id } of rows) await schedulePurge(m, tenant_id);
        return rows.map((r) => r.tenant_id);
      });
      if (tenants.length)
        log.info({ tenants }, "event purges scheduled for tenants with a shorter retention");
      const receipts = await pruneIngestReceipts(ds);
      if (receipts) log.info({ receipts }, "old ingest receipts deleted");
    },
    [EVENT_RETENTION_TASK]: async (payload, helpers) => {
      const { tenantId } = payload as { tenantId: string };
      const { deleted, done } = await purgeExpiredEvents(ds, tenantId, platformDays, purge);
      if (deleted) log.info({ tenantId, deleted, done }, "events past the tenant's retention deleted");
      // The rest in a new job: other jobs get the worker in between, and a crash resumes from what is left.
      if (!done)
        await helpers.addJob(EVENT_RETENTION_TASK, { tenantId }, { jobKey: retentionJobKey(tenantId) });
    },
  };
}
