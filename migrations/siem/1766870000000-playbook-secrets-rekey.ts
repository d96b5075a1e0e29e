import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Playbook secrets readable in system scope: the `playbook_secrets_rekey` job re-encrypts, across tenants,
 * every secret held under an older key of the PLAYBOOK_SECRET_KEYS ring with the current one. The rows hold
 * sealed secrets only (AES-256-GCM, bound to tenant and playbook): system scope sees no usable secret, and
 * `playbooks` stays tenant-only.
 */
export class PlaybookSecretsRekey1766870000000 implements MigrationInterface {
  name = "SiemPlaybookSecretsRekey1766870000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP POLICY tenant_isolation ON playbook_secrets`);
    await q.query(`CREATE POLICY tenant_isolation ON playbook_secrets
      USING (tenant_id = current_setting('rampart.tenant_id', true) OR current_setting('rampart.scope', true) = 'system')
      WITH CHECK (tenant_id = current_setting('rampart.tenant_id', true) OR current_setting('rampart.scope', true) = 'system')`);
    await q.query(`CREATE INDEX playbook_secrets_key ON playbook_secrets (key_id, playbook_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX playbook_secrets_key`);
    await q.query(`DROP POLICY tenant_isolation ON playbook_secrets`);
    await q.query(`CREATE POLICY tenant_isolation ON playbook_secrets
      USING (tenant_id = current_setting('rampart.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('rampart.tenant_id', true))`);
  }
}
