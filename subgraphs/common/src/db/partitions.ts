import type { Task } from "graphile-worker";
import type { DataSource } from "typeorm";
import type { Logger } from "../logger";

const DAY_MS = 86_400_000;

/** Anything that runs SQL: a DataSource or a transaction's EntityManager. */
type Queryable = { query(sql: string, params?: unknown[]): Promise<unknown> };

/** The UTC day (YYYY-MM-DD) of a timestamp. */
export const dayOf = (time: string | Date | number) => new Date(time).toISOString().slice(0, 10);

const nextDay = (day: string) => dayOf(Date.parse(`${day}T00:00:00Z`) + DAY_MS);

/**
 * The daily partitions (`<table>_pYYYYMMDD`) of a table partitioned by range on a timestamp: high-volume
 * stores (SIEM events, workload telemetry) are written into them and retention drops them whole.
 *
 * Partition DDL locks the parent table, so creation runs in a short transaction of its own and never
 * rides along with a long ingest transaction; an advisory lock per table serialises replicas creating
 * the same partition; each partition gets the parent's tenant policy with FORCE (for anyone who would
 * address a partition directly).
 */
export class DayPartitions {
  /** Days known to have a partition, per database (creation is idempotent anyway). */
  private readonly known = new WeakMap<DataSource, Set<string>>();

  constructor(
    readonly schema: string,
    readonly table: string,
  ) {}

  /** Name of the partition holding `day`. */
  partitionName(day: string): string {
    return `${this.table}_p${day.replace(/-/g, "")}`;
  }

  private knownOf(ds: DataSource): Set<string> {
    let set = this.known.get(ds);
    if (!set) this.known.set(ds, (set = new Set()));
    return set;
  }

  private lock(q: Queryable): Promise<unknown> {
    return q.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`${this.schema}.${this.table}.partitions`]);
  }

  /** The partitions that exist now, by name. */
  async list(q: Queryable): Promise<string[]> {
    const rows = (await q.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1 AND p.relnamespace = $2::regnamespace
       ORDER BY 1`,
      [this.table, this.schema],
    )) as Array<{ name: string }>;
    return rows.map((r) => r.name);
  }

  /** Creates the partitions the given days need (those this process has not seen yet). */
  async ensure(ds: DataSource, days: Iterable<string>): Promise<void> {
    const known = this.knownOf(ds);
    const missing = [...new Set(days)].filter((d) => !known.has(d)).sort();
    if (missing.length === 0) return;
    await ds.transaction(async (m) => {
      await this.lock(m);
      const have = new Set(await this.list(m));
      for (const day of missing) {
        const name = this.partitionName(day);
        if (have.has(name)) continue;
        await m.query(
          `CREATE TABLE ${name} PARTITION OF ${this.table} FOR VALUES FROM ('${day}') TO ('${nextDay(day)}')`,
        );
        await m.query(`ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY`);
        await m.query(`ALTER TABLE ${name} FORCE ROW LEVEL SECURITY`);
        await m.query(
          `CREATE POLICY tenant_isolation ON ${name} USING (tenant_id = current_setting('rampart.tenant_id', true))
           WITH CHECK (tenant_id = current_setting('rampart.tenant_id', true))`,
        );
      }
    });
    for (const day of missing) known.add(day);
  }

  /** The daily partitions that end before `cutoffDay`, oldest first. */
  async listBefore(q: Queryable, cutoffDay: string): Promise<string[]> {
    const pattern = new RegExp(`^${this.table}_p\\d{8}$`);
    const cutoff = this.partitionName(cutoffDay);
    return (await this.list(q)).filter((n) => pattern.test(n) && n < cutoff);
  }

  /** Drops every daily partition that ends before `cutoffDay` (retention); returns their names. */
  async dropBefore(ds: DataSource, cutoffDay: string): Promise<string[]> {
    const known = this.knownOf(ds);
    const prefix = `${this.table}_p`.length;
    return ds.transaction(async (m) => {
      await this.lock(m);
      const old = await this.listBefore(m, cutoffDay);
      for (const name of old) {
        await m.query(`DROP TABLE ${name}`);
        const d = name.slice(prefix);
        known.delete(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`);
      }
      return old;
    });
  }

  /**
   * The daily maintenance job: partitions for today and the next `aheadDays - 1` days, and whole
   * partitions older than `retentionDays` dropped. Returns the dropped partitions' names.
   */
  async maintain(
    ds: DataSource,
    options: { retentionDays: number; aheadDays?: number; now?: number },
  ): Promise<string[]> {
    const now = options.now ?? Date.now();
    await this.ensure(
      ds,
      Array.from({ length: options.aheadDays ?? 3 }, (_, d) => dayOf(now + d * DAY_MS)),
    );
    return this.dropBefore(ds, dayOf(now - options.retentionDays * DAY_MS));
  }
}

/** The daily job of a partitioned store: `maintain` with its retention, logging what it dropped. */
export function partitionMaintenanceTask(
  ds: DataSource,
  partitions: DayPartitions,
  retentionDays: number,
  log: Logger,
): Task {
  return async () => {
    const dropped = await partitions.maintain(ds, { retentionDays });
    if (dropped.length) log.info({ dropped, table: partitions.table }, "partitions past retention dropped");
  };
}

/** How far in the future a record's time may be (clock skew) before an ingest rejects it. */
export const MAX_FUTURE_MS = DAY_MS;

/**
 * Why a record's time cannot go into a store kept `retentionDays` (its partition would be dropped, or
 * is absurdly far ahead), or null when it can. `at`: the time already parsed, when the caller has it.
 */
export function timeWindowProblem(
  time: string,
  now: number,
  retentionDays: number,
  at = Date.parse(time),
): string | null {
  if (!Number.isFinite(at)) return "time is not a valid timestamp";
  if (at > now + MAX_FUTURE_MS) return `time ${time} is more than a day in the future`;
  if (at < now - retentionDays * DAY_MS)
    return `time ${time} is older than the ${retentionDays}-day retention`;
  return null;
}
