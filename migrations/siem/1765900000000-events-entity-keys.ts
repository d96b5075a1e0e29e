import type { MigrationInterface, QueryRunner } from "typeorm";

/** The entity lookups of the event store: key column (or IP column) → partial index on (tenant_id, column, time). */
const ENTITY_INDEXES = [
  ["events_tenant_actor_key", "actor_key"],
  ["events_tenant_device_key", "device_key"],
  ["events_tenant_resource_key", "resource_key"],
  ["events_tenant_src_ip", "src_ip"],
  ["events_tenant_dst_ip", "dst_ip"],
] as const;

/**
 * Entity lookups that the tenant policy lets Postgres answer from an index.
 *
 * The SIEM reads `events` under forced row-level security. Postgres then uses a condition as an index
 * condition only when every function applied to a column in it is leakproof: `=` on text or inet is,
 * `lower()` is not (marking a function LEAKPROOF takes a superuser). So the `(tenant_id, lower(…), time)`
 * indexes never served the investigation's `lower(e.actor_user) = $V` as the SIEM: an account's or
 * host's timeline read every event of the tenant's window. An IP's timeline matches the source or the
 * destination, and only the source had an index; resources had none.
 *
 * Now the lower-case forms are stored, generated columns `actor_key`, `device_key` and `resource_key`,
 * and the lookups compare them with `=`: `e.actor_key = lower($V)`. Each entity column has a partial
 * index `(tenant_id, column, time) WHERE column IS NOT NULL` (events without an account or a resource do
 * not enter those indexes), including the destination address. Timelines are read newest first from
 * the index, a page at a time.
 *
 * Adding the generated columns rewrites the existing partitions once (under an exclusive lock).
 */
export class EventsEntityKeys1765900000000 implements MigrationInterface {
  name = "SiemEventsEntityKeys1765900000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events
      ADD COLUMN actor_key text GENERATED ALWAYS AS (lower(actor_user)) STORED,
      ADD COLUMN device_key text GENERATED ALWAYS AS (lower(device)) STORED,
      ADD COLUMN resource_key text GENERATED ALWAYS AS (lower(resource_id)) STORED`);
    await q.query(`DROP INDEX events_tenant_actor_lower`);
    await q.query(`DROP INDEX events_tenant_device_lower`);
    await q.query(`DROP INDEX events_tenant_src_ip`);
    for (const [name, column] of ENTITY_INDEXES) {
      await q.query(
        `CREATE INDEX ${name} ON events (tenant_id, ${column}, time) WHERE ${column} IS NOT NULL`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [name] of ENTITY_INDEXES) await q.query(`DROP INDEX ${name}`);
    await q.query(
      `ALTER TABLE events DROP COLUMN actor_key, DROP COLUMN device_key, DROP COLUMN resource_key`,
    );
    await q.query(`CREATE INDEX events_tenant_src_ip ON events (tenant_id, src_ip, time)`);
    await q.query(`CREATE INDEX events_tenant_actor_lower ON events (tenant_id, lower(actor_user), time)`);
    await q.query(`CREATE INDEX events_tenant_device_lower ON events (tenant_id, lower(device), time)`);
  }
}
