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
import { pruneConnectorDays } from "./events.service";
import { pruneIngestReceipts } from "./ingest-receipts.service";
import { eventPartitions } from "./partitions";
import type { StreamBounds } from "./nats-queue";
import { countChunk } from "./queue-metrics";
import { receiptDeadlineSeconds, sweepStalledReceipts } from "./receipt-sweep";

/**
 * Daily event-store maintenance: partitions for the next days, whole partitions dropped past the platform's
 * retention, a purge job for every tenant that keeps its events fewer days, queued-ingest receipts past
 * RECEIPT_RETENTION_DAYS and connectors' daily counters past CONNECTOR_DAYS_KEPT deleted.
 */
export const EVENTS_CRONTAB = "15 0 * * * events_maintenance";

/** The job that ends FAILED the queued-ingest receipts no worker can finish any more (see receipt-sweep.ts). */
export const INGEST_RECEIPTS_SWEEP_TASK = "ingest_receipts_sweep";

/** Every minute: a receipt is ended within a minute of its deadline. Without the queue the job does nothing. */
export const INGEST_QUEUE_CRONTAB = `* * * * * ${INGEST_RECEIPTS_SWEEP_TASK}`;

/**
 * The queued ingest's jobs: `ingest_receipts_sweep` ends FAILED the receipts whose chunks were dropped or lost
 * (`queue`: the stream's sequences; null without EVENT_INGEST_QUEUE=nats, when the job does nothing).
 */
export function ingestQueueTasks(
  ds: DataSource,
  log: Logger,
  config: Config,
  queue: { streamBounds(): Promise<StreamBounds | null> } | null,
): TaskList {
  const deadlineSeconds = receiptDeadlineSeconds(config.eventQueue);
  const sweepLog = log.child({ component: "event-queue" });
  return {
    [INGEST_RECEIPTS_SWEEP_TASK]: async () => {
      if (!queue) return;
      // Without the stream's word nothing is ended: a backlog must never be taken for lost chunks. The next
      // run, a minute later, tries again (a job failed here would only pile retries on the minutely ones).
      const bounds = await queue.streamBounds().catch((err: unknown) => {
        sweepLog.warn({ err }, "ingest receipt sweep: JetStream did not answer; nothing swept");
        return null;
      });
      if (!bounds) return;
      const swept = await sweepStalledReceipts(ds, bounds, deadlineSeconds);
      for (const r of swept)
        sweepLog.warn(
          {
            tenantId: r.tenantId,
            receiptId: r.id,
            missingChunks: r.missingChunks,
            chunks: r.chunks,
            deadlineSeconds,
          },
          "ingest receipt sweep: a receipt's chunks were dropped or lost; it is FAILED",
        );
      countChunk(
        "expired",
        swept.reduce((n, r) => n + r.missingChunks, 0),
      );
    },
  };
}

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
      const connectorDays = await pruneConnectorDays(ds);
      if (connectorDays) log.info({ connectorDays }, "old daily connector counters deleted");
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
