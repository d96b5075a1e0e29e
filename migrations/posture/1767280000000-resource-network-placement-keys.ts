import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Where an AWS subnet or instance says it sits, as indexed lower-case keys, so that one account's network map
 * can find the other accounts' resources placed in its networks without reading the tenant's inventory: an
 * instance of account B in a subnet of a VPC that account A shares through AWS RAM names A's subnet and VPC,
 * while nothing of A names B. `aws_vpc_key` is the `VpcId` an AWS subnet or instance gives; `aws_subnet_key` the
 * `SubnetId` an AWS instance gives, and an AWS subnet's own id (its `SubnetId`, else its ARN's tail), so the
 * subnets of a VPC can be found by key too. Both are lower-cased and trimmed the way the network topology
 * matches AWS ids, and null for every other resource (partial indexes). As with `external_id_key`, stored
 * generated columns compared with `=`: under forced row-level security only leakproof conditions become index
 * conditions, and `lower()` or `->>` on `properties` are not. Adding them rewrites `resources` once.
 */
export class ResourceNetworkPlacementKeys1767280000000 implements MigrationInterface {
  name = "ResourceNetworkPlacementKeys1767280000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE resources ADD COLUMN aws_vpc_key text GENERATED ALWAYS AS (
         CASE WHEN kind IN ('SUBNET', 'VIRTUAL_MACHINE') AND lower(type) LIKE 'aws::%'
                   AND jsonb_typeof(properties->'VpcId') = 'string'
              THEN nullif(lower(btrim(properties->>'VpcId')), '') END) STORED`,
    );
    await q.query(
      `ALTER TABLE resources ADD COLUMN aws_subnet_key text GENERATED ALWAYS AS (
         CASE WHEN kind = 'VIRTUAL_MACHINE' AND lower(type) LIKE 'aws::%'
                   AND jsonb_typeof(properties->'SubnetId') = 'string'
              THEN nullif(lower(btrim(properties->>'SubnetId')), '')
              WHEN kind = 'SUBNET' AND lower(type) LIKE 'aws::%'
              THEN nullif(lower(btrim(CASE WHEN jsonb_typeof(properties->'SubnetId') = 'string'
                                                AND btrim(properties->>'SubnetId') <> ''
                                           THEN properties->>'SubnetId'
                                           ELSE regexp_replace(lower(external_id), '^.*[/:]', '') END)), '')
         END) STORED`,
    );
    await q.query(
      `CREATE INDEX resources_tenant_aws_vpc_key ON resources (tenant_id, aws_vpc_key) WHERE aws_vpc_key IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX resources_tenant_aws_subnet_key ON resources (tenant_id, aws_subnet_key) WHERE aws_subnet_key IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX resources_tenant_aws_subnet_key`);
    await q.query(`DROP INDEX resources_tenant_aws_vpc_key`);
    await q.query(`ALTER TABLE resources DROP COLUMN aws_subnet_key`);
    await q.query(`ALTER TABLE resources DROP COLUMN aws_vpc_key`);
  }
}
