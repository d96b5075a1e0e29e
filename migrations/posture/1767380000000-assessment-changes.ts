import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** What regulatory compliance reads from an assessment row (an update that changes none of it changes nothing). */
const CONTENT = "tenant_id, account_id, resource_id, definition_id, status";

/**
 * `assessment_changes`: a row per tenant, transaction and account whose assessments the transaction changed in a way
 * compliance can see (a row inserted or deleted, or one whose status, account, resource or definition changed: a
 * resource moved records both accounts; an evaluation that only rewrites a cause or a time records nothing). The
 * posture subgraph keeps each tenant's compliance signatures between requests with the snapshot they were read in
 * (compliance.service.ts): an account's still hold while no row of it is visible now that was not visible in that
 * snapshot, that is while no transaction that changed its assessments has committed since; only the accounts that
 * changed are read again.
 *
 * Written by statement-level triggers with transition tables, at most one row per account and transaction
 * (`ON CONFLICT DO NOTHING` on the transaction's own row), and never updated: writers take no lock another
 * transaction waits for. (A token per tenant replaced by every writer, as `inventory_versions` is, held its row
 * until commit and deadlocked with the evaluation-context lock: a definition disabled while an upsert evaluated.)
 *
 * Rows of transactions that ended before a horizon are deleted by the hourly `assessment_changes_prune` job, which
 * first raises `assessment_changes_horizon` to it: signatures read in a snapshot older than the horizon are read
 * again, since the rows that would have shown a change may be gone.
 */
export class AssessmentChanges1767380000000 implements MigrationInterface {
  name = "AssessmentChanges1767380000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE assessment_changes (
      tenant_id text NOT NULL,
      xid xid8 NOT NULL,
      account_id uuid NOT NULL,
      PRIMARY KEY (tenant_id, xid, account_id)
    )`);
    for (const sql of tenantRlsSql("assessment_changes", { allowSystem: true })) await q.query(sql);
    await q.query(`CREATE TABLE assessment_changes_horizon (
      only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
      horizon xid8 NOT NULL
    )`);
    await q.query(
      `INSERT INTO assessment_changes_horizon (horizon) VALUES (pg_snapshot_xmin(pg_current_snapshot()))`,
    );
    // One row for every tenant: read by all, moved only by the prune job (in the system scope).
    await q.query(`ALTER TABLE assessment_changes_horizon ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE assessment_changes_horizon FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY horizon_read ON assessment_changes_horizon FOR SELECT USING (true)`);
    await q.query(`CREATE POLICY horizon_prune ON assessment_changes_horizon FOR UPDATE
      USING (current_setting('rampart.scope', true) = 'system')
      WITH CHECK (current_setting('rampart.scope', true) = 'system')`);
    // Each tenant's row is written under that tenant's setting, set for the statement when the change was made
    // outside it (a data migration run by the owner, or a job in the system scope), then put back.
    await q.query(
      `CREATE FUNCTION assessment_changes_add(tenant text, accounts uuid[]) RETURNS void LANGUAGE plpgsql AS $$
       DECLARE
         asked text := current_setting('rampart.tenant_id', true);
       BEGIN
         IF asked IS DISTINCT FROM tenant THEN PERFORM set_config('rampart.tenant_id', tenant, true); END IF;
         INSERT INTO assessment_changes (tenant_id, xid, account_id)
           SELECT tenant, pg_current_xact_id(), a FROM unnest(accounts) AS a ORDER BY a ON CONFLICT DO NOTHING;
         IF asked IS DISTINCT FROM tenant THEN PERFORM set_config('rampart.tenant_id', coalesce(asked, ''), true); END IF;
       END $$`,
    );
    await q.query(
      `CREATE FUNCTION assessment_changes_record() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         t text;
         accounts uuid[];
       BEGIN
         IF TG_OP = 'UPDATE' THEN
           FOR t, accounts IN SELECT tenant_id, array_agg(DISTINCT account_id) FROM (
                      (SELECT ${CONTENT} FROM changed_new EXCEPT ALL SELECT ${CONTENT} FROM changed_old)
                      UNION ALL
                      (SELECT ${CONTENT} FROM changed_old EXCEPT ALL SELECT ${CONTENT} FROM changed_new)
                    ) AS d GROUP BY tenant_id ORDER BY 1 LOOP
             PERFORM assessment_changes_add(t, accounts);
           END LOOP;
         ELSIF TG_OP = 'INSERT' THEN
           FOR t, accounts IN SELECT tenant_id, array_agg(DISTINCT account_id) FROM changed_new
                              GROUP BY tenant_id ORDER BY 1 LOOP
             PERFORM assessment_changes_add(t, accounts);
           END LOOP;
         ELSE
           FOR t, accounts IN SELECT tenant_id, array_agg(DISTINCT account_id) FROM changed_old
                              GROUP BY tenant_id ORDER BY 1 LOOP
             PERFORM assessment_changes_add(t, accounts);
           END LOOP;
         END IF;
         RETURN NULL;
       END $$`,
    );
    await q.query(
      `CREATE TRIGGER assessment_changes_insert AFTER INSERT ON assessments
         REFERENCING NEW TABLE AS changed_new FOR EACH STATEMENT EXECUTE FUNCTION assessment_changes_record()`,
    );
    await q.query(
      `CREATE TRIGGER assessment_changes_update AFTER UPDATE ON assessments
         REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
         FOR EACH STATEMENT EXECUTE FUNCTION assessment_changes_record()`,
    );
    await q.query(
      `CREATE TRIGGER assessment_changes_delete AFTER DELETE ON assessments
         REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT EXECUTE FUNCTION assessment_changes_record()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER assessment_changes_delete ON assessments`);
    await q.query(`DROP TRIGGER assessment_changes_update ON assessments`);
    await q.query(`DROP TRIGGER assessment_changes_insert ON assessments`);
    await q.query(`DROP FUNCTION assessment_changes_record()`);
    await q.query(`DROP FUNCTION assessment_changes_add(text, uuid[])`);
    await q.query(`DROP TABLE assessment_changes_horizon`);
    await q.query(`DROP TABLE assessment_changes`);
  }
}
