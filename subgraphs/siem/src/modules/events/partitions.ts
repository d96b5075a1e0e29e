import type { DataSource } from "typeorm";

/** Days whose partition is known to exist in this process (creation is idempotent anyway). */
const known = new Set<string>();

const partitionName = (day: string) => `events_p${day.replace(/-/g, "")}`;
const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** The UTC day (YYYY-MM-DD) of a timestamp. */
export const dayOf = (time: string | Date) => new Date(time).toISOString().slice(0, 10);

/**
 * Creates the daily partitions the given days need, in a short transaction of its own: partition
 * DDL locks the parent table, so it must not ride along with a long ingest transaction. An
 * advisory lock serialises replicas creating the same partition; each partition gets the same
 * row-level security as the parent (for anyone who would address a partition directly).
 */
export async function ensurePartitions(ds: DataSource, days: Iterable<string>): Promise<void> {
  const missing = [...new Set(days)].filter((d) => !known.has(d)).sort();
  if (missing.length === 0) return;
  await ds.transaction(async (m) => {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('siem.events.partitions'))`);
    const existing: Array<{ name: string }> = await m.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' AND p.relnamespace = 'siem'::regnamespace`,
    );
    const have = new Set(existing.map((e) => e.name));
    for (const day of missing) {
      const name = partitionName(day);
      if (!have.has(name)) {
        await m.query(
          `CREATE TABLE ${name} PARTITION OF events FOR VALUES FROM ('${day}') TO ('${nextDay(day)}')`,
        );
        await m.query(`ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY`);
        await m.query(`ALTER TABLE ${name} FORCE ROW LEVEL SECURITY`);
        await m.query(
          `CREATE POLICY tenant_isolation ON ${name} USING (tenant_id = current_setting('rampart.tenant_id', true))
           WITH CHECK (tenant_id = current_setting('rampart.tenant_id', true))`,
        );
      }
    }
  });
  for (const day of missing) known.add(day);
}

/** Drops every daily partition that ends before `cutoffDay` (retention); returns their names. */
export async function dropPartitionsBefore(ds: DataSource, cutoffDay: string): Promise<string[]> {
  return ds.transaction(async (m) => {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('siem.events.partitions'))`);
    const rows: Array<{ name: string }> = await m.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' AND p.relnamespace = 'siem'::regnamespace`,
    );
    const cutoff = partitionName(cutoffDay);
    const old = rows.map((r) => r.name).filter((n) => /^events_p\d{8}$/.test(n) && n < cutoff);
    for (const name of old) {
      await m.query(`DROP TABLE ${name}`);
      known.delete(`${name.slice(8, 12)}-${name.slice(12, 14)}-${name.slice(14, 16)}`);
    }
    return old;
  });
}
