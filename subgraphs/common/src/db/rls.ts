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
