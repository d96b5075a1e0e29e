import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import type { Config, Logger } from "../../../../common/src";
import { dayOf, dropPartitionsBefore, ensurePartitions } from "./partitions";

/** Daily event-store maintenance: partitions for the next days, whole partitions dropped past retention. */
export const EVENTS_CRONTAB = "15 0 * * * events_maintenance";

/** Event-store jobs. */
export function eventTasks(ds: DataSource, log: Logger, config: Config): TaskList {
  return {
    events_maintenance: async () => {
      const now = Date.now();
      await ensurePartitions(
        ds,
        [0, 1, 2].map((d) => dayOf(new Date(now + d * 86_400_000))),
      );
      const dropped = await dropPartitionsBefore(
        ds,
        dayOf(new Date(now - config.eventRetentionDays * 86_400_000)),
      );
      if (dropped.length) log.info({ dropped }, "event partitions past retention dropped");
    },
  };
}
