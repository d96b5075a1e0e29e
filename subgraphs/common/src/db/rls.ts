/**
 * SQL for migrations: row-level security on a tenant table. FORCE makes the policy bind the table's
 * owner too (each subgraph's role owns its tables, and owners skip RLS otherwise).
 */
export function tenantRlsSql(table: string, options: { allowSystem?: boolean } = {}): string[] {
  const tenant = "tenant_id = current_setting('rampart.tenant_id', true)";
  const predicate = options.allowSystem
    ? `(${tenant} OR current_setting('rampart.scope', true) = 'system')`
    : tenant;
  return [
    `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY tenant_isolation ON ${table} USING (${predicate}) WITH CHECK (${predicate})`,
  ];
}

/** SQL for migrations: the transactional outbox every subgraph has, with a NOTIFY after commit. */
export function outboxSql(schema: string): { up: string[]; down: string[] } {
  return {
    up: [
      `CREATE TABLE outbox (
         seq bigserial PRIMARY KEY,
         tenant_id text NOT NULL,
         topic text NOT NULL,
         key text NOT NULL,
         payload jsonb NOT NULL,
         at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE INDEX outbox_topic_seq ON outbox (topic, seq)`,
      `CREATE INDEX outbox_tenant_seq ON outbox (tenant_id, seq)`,
      ...tenantRlsSql("outbox", { allowSystem: true }),
      `CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('${schema}_outbox', NEW.topic || ':' || NEW.seq);
         RETURN NULL;
       END $$`,
      `CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify()`,
    ],
    down: [`DROP TABLE outbox`, `DROP FUNCTION outbox_notify()`],
  };
}

/**
 * SQL for migrations: gives outbox rows a gap-free reading order. A `bigserial` alone is not enough:
 * a transaction that took seq 5 may commit after one that took seq 6, so a reader at 6 would skip 5.
 * Each row also records its transaction id (`xid8`); readers only take rows of transactions older than
 * every transaction still running (`pg_snapshot_xmin`) and order by (xid, seq), so nothing can
 * commit later with a smaller position. The NOTIFY payload names the tenant, so a process wakes only
 * the readers of that tenant.
 */
export function outboxPositionSql(schema: string): { up: string[]; down: string[] } {
  return {
    up: [
      `ALTER TABLE outbox ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()`,
      `CREATE INDEX outbox_tenant_position ON outbox (tenant_id, xid, seq)`,
      `CREATE INDEX outbox_position ON outbox (xid, seq)`,
      `CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('${schema}_outbox', NEW.tenant_id || ' ' || NEW.topic || ' ' || NEW.seq);
         RETURN NULL;
       END $$`,
    ],
    down: [
      `DROP INDEX outbox_position`,
      `DROP INDEX outbox_tenant_position`,
      `ALTER TABLE outbox DROP COLUMN xid`,
      `CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('${schema}_outbox', NEW.topic || ':' || NEW.seq);
         RETURN NULL;
       END $$`,
    ],
  };
}
