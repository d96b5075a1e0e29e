import type { DataSource } from "typeorm";
import { inTenant, resourceKindOf } from "../../subgraphs/common/src";

/** A resource row as the benchmarks write it straight into posture's `resources` table. */
export interface ResourceRow {
  id: string;
  accountId: string;
  provider: string;
  type: string;
  externalId: string;
  name: string;
  region: string | null;
  resourceGroup: string | null;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
}

/**
 * Writes a benchmark's inventory straight into `resources` (not measured, no evaluation), `chunk` rows a
 * statement, as the subgraph's role in the tenant: Postgres fills the key columns and the side tables its
 * triggers keep, as for an upsert. Then ANALYZE, so the measured queries plan on real statistics.
 */
export async function insertResources(
  ds: DataSource,
  tenantId: string,
  rows: readonly ResourceRow[],
  chunk = 5_000,
): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    await inTenant(ds, tenantId, (m) =>
      m.query(
        `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, region, resource_group, tags, properties)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::jsonb[])`,
        [
          part.map((r) => r.id),
          part.map(() => tenantId),
          part.map((r) => r.accountId),
          part.map((r) => r.provider),
          part.map((r) => r.type),
          part.map((r) => resourceKindOf(r.type)),
          part.map((r) => r.externalId),
          part.map((r) => r.name),
          part.map((r) => r.region),
          part.map((r) => r.resourceGroup),
          part.map((r) => JSON.stringify(r.tags)),
          part.map((r) => JSON.stringify(r.properties)),
        ],
      ),
    );
  }
  await inTenant(ds, tenantId, (m) => m.query("ANALYZE resources"));
}
