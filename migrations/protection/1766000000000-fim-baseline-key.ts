import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A FIM baseline is unique per (tenant, machine, md5 of the path key) instead of the path key itself. A btree
 * entry holds at most 2,704 bytes, and agents report paths of up to 4,096 characters (12 KB of UTF-8): a long
 * path under a watched directory failed its whole telemetry batch. The digest keeps the entry small; reads
 * still compare the path key itself, and find a machine's baselines by the index's (tenant, machine) prefix.
 */
export class FimBaselineKey1766000000000 implements MigrationInterface {
  name = "FimBaselineKey1766000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE fim_baselines DROP CONSTRAINT fim_baselines_pkey`);
    await q.query(
      `CREATE UNIQUE INDEX fim_baselines_path ON fim_baselines (tenant_id, resource_id, md5(path_key))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX fim_baselines_path`);
    await q.query(`ALTER TABLE fim_baselines ADD PRIMARY KEY (tenant_id, resource_id, path_key)`);
  }
}
