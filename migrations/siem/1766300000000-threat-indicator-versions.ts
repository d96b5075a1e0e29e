import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * `threat_indicator_versions`: one counter per tenant, bumped by every import that changes an indicator, which
 * each process compares with the version of its in-memory indicator index. The index used to be keyed by
 * `max(imported_at)` and the row count, but `imported_at` is the importing transaction's start time: an import
 * that started first and committed last (two feeds at once, two replicas) left both unchanged, so its
 * revocations never reached a process that had rebuilt in between. The counter row is locked by the bump until
 * commit, so its committed values rise in commit order; reading it is one primary-key lookup per ingest batch
 * instead of an aggregate over the tenant's indicators. A tenant without a row is at version 0 (nothing needs
 * copying: a process builds its index on first use, whatever the version).
 */
export class ThreatIndicatorVersions1766300000000 implements MigrationInterface {
  name = "SiemThreatIndicatorVersions1766300000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE threat_indicator_versions (tenant_id text PRIMARY KEY, version bigint NOT NULL)`,
    );
    for (const sql of tenantRlsSql("threat_indicator_versions")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE threat_indicator_versions`);
  }
}
