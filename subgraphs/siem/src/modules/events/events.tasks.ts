import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { partitionMaintenanceTask, type Config, type Logger } from "../../../../common/src";
import { eventPartitions } from "./partitions";

/** Daily event-store maintenance: partitions for the next days, whole partitions dropped past retention. */
export const EVENTS_CRONTAB = "15 0 * * * events_maintenance";

/** Event-store jobs. */
export function eventTasks(ds: DataSource, log: Logger, config: Config): TaskList {
  return {
    events_maintenance: partitionMaintenanceTask(ds, eventPartitions, config.eventRetentionDays, log),
  };
}
