import type { DataSource } from "typeorm";
import { DayPartitions } from "../../../../common/src";

export { dayOf } from "../../../../common/src";

/** The event store's daily partitions (`events_pYYYYMMDD`). */
export const eventPartitions = new DayPartitions("siem", "events");

/** Creates the daily partitions of `events` the given days need (see `DayPartitions.ensure`). */
export const ensurePartitions = (ds: DataSource, days: Iterable<string>): Promise<void> =>
  eventPartitions.ensure(ds, days);

/** Drops every daily partition of `events` that ends before `cutoffDay`; returns their names. */
export const dropPartitionsBefore = (ds: DataSource, cutoffDay: string): Promise<string[]> =>
  eventPartitions.dropBefore(ds, cutoffDay);
