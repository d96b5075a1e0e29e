import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** A change of what the network topology reads from a resource row (every column it or its lookups use). */
const CONTENT = (row: string) =>
  `(${row}.account_id, ${row}.provider, ${row}.type, ${row}.kind, ${row}.external_id, ${row}.name, ${row}.properties)`;

/**
 * `inventory_versions`: one row per tenant whose `token` changes in the same transaction as any change to the
 * tenant's resources (a row inserted or deleted, or one whose account, provider, type, kind, external id, name or
 * properties changed; a re-ingest that only moves `last_seen` changes nothing). The posture subgraph keeps network
 * topologies between requests under the token they were read at (network-topology-cache.ts): a request reads the
 * token first, so a change committed before it began always shows. The token is random, not a counter, so a
 * restored or re-created database never repeats a token a process has kept.
 *
 * Statement-level triggers with transition tables (one row written per statement and tenant, not per resource):
 * an upsert of many resources bumps the token once. The row is locked until the writing transaction ends, so two
 * transactions changing one tenant's inventory take turns from that point; both are past their resource statement
 * then (the trigger runs at its end), and each tenant's evaluation already takes its score counters' rows in turn.
 */
export class InventoryVersions1767370000000 implements MigrationInterface {
  name = "InventoryVersions1767370000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE inventory_versions (
      tenant_id text PRIMARY KEY,
      token uuid NOT NULL
    )`);
    // The tenant's row is written under that tenant's setting, set for the statement when the change was made
    // outside it (a data migration run by the owner with the resources' policy lifted), then put back.
    await q.query(
      `CREATE FUNCTION inventory_versions_replace(tenant text) RETURNS void LANGUAGE plpgsql AS $$
       DECLARE
         asked text := current_setting('rampart.tenant_id', true);
       BEGIN
         IF asked IS DISTINCT FROM tenant THEN PERFORM set_config('rampart.tenant_id', tenant, true); END IF;
         INSERT INTO inventory_versions (tenant_id, token) VALUES (tenant, gen_random_uuid())
           ON CONFLICT (tenant_id) DO UPDATE SET token = excluded.token;
         IF asked IS DISTINCT FROM tenant THEN PERFORM set_config('rampart.tenant_id', coalesce(asked, ''), true); END IF;
       END $$`,
    );
    await q.query(
      `CREATE FUNCTION inventory_versions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         t text;
       BEGIN
         IF TG_OP = 'UPDATE' THEN
           FOR t IN SELECT DISTINCT n.tenant_id FROM changed_new n JOIN changed_old o ON o.id = n.id
                     WHERE ${CONTENT("n")} IS DISTINCT FROM ${CONTENT("o")} ORDER BY 1 LOOP
             PERFORM inventory_versions_replace(t);
           END LOOP;
         ELSIF TG_OP = 'INSERT' THEN
           FOR t IN SELECT DISTINCT tenant_id FROM changed_new ORDER BY 1 LOOP
             PERFORM inventory_versions_replace(t);
           END LOOP;
         ELSE
           FOR t IN SELECT DISTINCT tenant_id FROM changed_old ORDER BY 1 LOOP
             PERFORM inventory_versions_replace(t);
           END LOOP;
         END IF;
         RETURN NULL;
       END $$`,
    );
    await q.query(
      `CREATE TRIGGER inventory_versions_insert AFTER INSERT ON resources
         REFERENCING NEW TABLE AS changed_new FOR EACH STATEMENT EXECUTE FUNCTION inventory_versions_bump()`,
    );
    await q.query(
      `CREATE TRIGGER inventory_versions_update AFTER UPDATE ON resources
         REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
         FOR EACH STATEMENT EXECUTE FUNCTION inventory_versions_bump()`,
    );
    await q.query(
      `CREATE TRIGGER inventory_versions_delete AFTER DELETE ON resources
         REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT EXECUTE FUNCTION inventory_versions_bump()`,
    );
    // Every tenant that has resources gets a token now (read with the forced tenant policy lifted for this one
    // statement: the owner runs migrations), before the new table's own policy binds.
    await q.query(`ALTER TABLE resources NO FORCE ROW LEVEL SECURITY`);
    await q.query(
      `INSERT INTO inventory_versions (tenant_id, token)
       SELECT tenant_id, gen_random_uuid() FROM resources GROUP BY tenant_id`,
    );
    await q.query(`ALTER TABLE resources FORCE ROW LEVEL SECURITY`);
    for (const sql of tenantRlsSql("inventory_versions")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER inventory_versions_delete ON resources`);
    await q.query(`DROP TRIGGER inventory_versions_update ON resources`);
    await q.query(`DROP TRIGGER inventory_versions_insert ON resources`);
    await q.query(`DROP FUNCTION inventory_versions_bump()`);
    await q.query(`DROP FUNCTION inventory_versions_replace(text)`);
    await q.query(`DROP TABLE inventory_versions`);
  }
}
