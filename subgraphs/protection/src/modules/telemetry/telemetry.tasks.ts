import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { partitionMaintenanceTask, type Config, type Logger } from "../../../../common/src";
import { telemetryPartitions } from "./telemetry.store";

/** Daily telemetry maintenance: partitions for the next days, whole partitions dropped past retention. */
export const TELEMETRY_CRONTAB = "20 0 * * * telemetry_maintenance";

/** Telemetry jobs. */
export function telemetryTasks(ds: DataSource, log: Logger, config: Config): TaskList {
  return {
    telemetry_maintenance: partitionMaintenanceTask(
      ds,
      telemetryPartitions,
      config.telemetryRetentionDays,
      log,
    ),
  };
}
