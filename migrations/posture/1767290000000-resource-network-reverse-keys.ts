import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** The kinds of `NETWORK_KINDS` (network.service.ts) as this migration shipped them. */
const NETWORK_KINDS = `'VIRTUAL_NETWORK', 'SUBNET', 'NETWORK_SECURITY_GROUP', 'NETWORK_INTERFACE', 'VIRTUAL_MACHINE', 'PUBLIC_IP'`;
/** The id property an AWS network resource is known by, per kind (`AWS_ID_FIELDS` in network-topology.ts). */
const AWS_ID = `lower(btrim(properties->>(CASE kind
  WHEN 'VIRTUAL_NETWORK' THEN 'VpcId' WHEN 'SUBNET' THEN 'SubnetId' WHEN 'NETWORK_SECURITY_GROUP' THEN 'GroupId'
  WHEN 'VIRTUAL_MACHINE' THEN 'InstanceId' WHEN 'PUBLIC_IP' THEN 'AllocationId' END)))`;
/** Where a resource is one a peering record could name: an AWS VPC peering connection, an Azure VNet. */
const PEERING_RECORD = (row: string) =>
  `(lower(${row}.type) = 'aws::ec2::vpcpeeringconnection'
    OR (${row}.kind = 'VIRTUAL_NETWORK' AND lower(${row}.type) LIKE 'microsoft.%'))`;

/**
 * The other reverse lookups of one account's network map (NEIGHBOUR_ACCOUNTS_SQL in network.service.ts) from
 * indexes, as migration ResourceNetworkPlacementKeys made the placement ones: until now the AWS ids, the AWS
 * peering connections and the Azure peerings of the tenant's other accounts were each found by reading the
 * tenant's whole inventory, because under forced row-level security only leakproof conditions become index
 * conditions, and `lower()`, `->>`, `regexp_replace()`, `LIKE` and the array operators (`&&`) are not; `=` on
 * text and uuid is.
 *
 * - `aws_id_key` / `aws_arn_key` (stored generated, partial indexes): what an AWS network resource is known by,
 *   as the topology indexes it — its id property (`VpcId`, `SubnetId`, `GroupId`, `InstanceId`,
 *   `AllocationId`), and its ARN's tail where that differs from the id property (null when equal, which keeps
 *   that index to the odd resources). Null for every other resource.
 * - `resource_peering_keys` (a side table kept by triggers in the upsert's own transaction): the networks a
 *   peering record names — the four VPC ids of an AWS VPC peering connection, the remote VNets of an Azure
 *   VNet's `virtualNetworkPeerings` — lower-cased and trimmed, one row each. A record names any number of
 *   networks, and no generated scalar column can hold a list that a leakproof `=` finds, hence the table. The
 *   triggers fire only for those two kinds of rows (and for an update only when type, kind or properties
 *   change), so other upserts pay nothing.
 *
 * Adding the columns rewrites `resources` once; afterwards they cost about 5 µs a row written (0.1 s for
 * 20,000 resources, measured alone).
 */
export class ResourceNetworkReverseKeys1767290000000 implements MigrationInterface {
  name = "ResourceNetworkReverseKeys1767290000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE resources
         ADD COLUMN aws_id_key text GENERATED ALWAYS AS (
           CASE WHEN lower(type) LIKE 'aws::%' THEN ${AWS_ID} END) STORED,
         ADD COLUMN aws_arn_key text GENERATED ALWAYS AS (
           CASE WHEN kind IN (${NETWORK_KINDS}) AND lower(type) LIKE 'aws::%'
                THEN nullif(regexp_replace(btrim(lower(external_id)), '^.*[/:]', ''), ${AWS_ID}) END) STORED`,
    );
    await q.query(
      `CREATE INDEX resources_tenant_aws_id_key ON resources (tenant_id, aws_id_key) WHERE aws_id_key IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX resources_tenant_aws_arn_key ON resources (tenant_id, aws_arn_key) WHERE aws_arn_key IS NOT NULL`,
    );
    await q.query(`CREATE TABLE resource_peering_keys (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
      network_key text NOT NULL,
      PRIMARY KEY (resource_id, network_key)
    )`);
    await q.query(
      `CREATE INDEX resource_peering_keys_tenant_key ON resource_peering_keys (tenant_id, network_key)`,
    );
    // The networks a peering record names, as NEIGHBOUR_ACCOUNTS_SQL read them from `properties` before.
    await q.query(
      `CREATE FUNCTION resource_peering_keys_of(type text, kind text, properties jsonb) RETURNS text[]
         LANGUAGE sql IMMUTABLE AS $$
         SELECT coalesce(array_agg(DISTINCT k) FILTER (WHERE k <> ''), '{}') FROM (
           SELECT unnest(ARRAY[
                    lower(btrim(properties->>'VpcId')), lower(btrim(properties->'RequesterVpcInfo'->>'VpcId')),
                    lower(btrim(properties->>'PeerVpcId')), lower(btrim(properties->'AccepterVpcInfo'->>'VpcId'))])
            WHERE lower(type) = 'aws::ec2::vpcpeeringconnection'
           UNION ALL
           SELECT lower(btrim(CASE jsonb_typeof(p->'remoteVirtualNetwork')
                    WHEN 'string' THEN p->>'remoteVirtualNetwork'
                    WHEN 'object' THEN p->'remoteVirtualNetwork'->>'id' END))
             FROM jsonb_array_elements(CASE
                    WHEN kind = 'VIRTUAL_NETWORK' AND lower(type) LIKE 'microsoft.%'
                         AND jsonb_typeof(properties->'virtualNetworkPeerings') = 'array'
                    THEN properties->'virtualNetworkPeerings' ELSE '[]' END) AS record(v),
                  LATERAL (SELECT CASE WHEN jsonb_typeof(v->'properties') = 'object' THEN v->'properties' ELSE v END) AS p(p)
         ) AS keys(k) $$`,
    );
    await q.query(
      `CREATE FUNCTION resource_peering_keys_sync() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' THEN
           DELETE FROM resource_peering_keys WHERE resource_id = OLD.id;
         END IF;
         INSERT INTO resource_peering_keys (tenant_id, resource_id, network_key)
           SELECT NEW.tenant_id, NEW.id, k FROM unnest(resource_peering_keys_of(NEW.type, NEW.kind, NEW.properties)) AS k;
         RETURN NULL;
       END $$`,
    );
    await q.query(
      `CREATE TRIGGER resource_peering_keys_insert AFTER INSERT ON resources FOR EACH ROW
         WHEN (${PEERING_RECORD("NEW")}) EXECUTE FUNCTION resource_peering_keys_sync()`,
    );
    await q.query(
      `CREATE TRIGGER resource_peering_keys_update AFTER UPDATE OF type, kind, properties ON resources FOR EACH ROW
         WHEN ((${PEERING_RECORD("OLD")} OR ${PEERING_RECORD("NEW")})
               AND (OLD.type, OLD.kind, OLD.properties) IS DISTINCT FROM (NEW.type, NEW.kind, NEW.properties))
         EXECUTE FUNCTION resource_peering_keys_sync()`,
    );
    // Every tenant's records, read with the forced tenant policy lifted for this one statement (the owner runs
    // migrations), before the new table's own policy binds.
    await q.query(`ALTER TABLE resources NO FORCE ROW LEVEL SECURITY`);
    await q.query(
      `INSERT INTO resource_peering_keys (tenant_id, resource_id, network_key)
       SELECT r.tenant_id, r.id, k FROM resources r, unnest(resource_peering_keys_of(r.type, r.kind, r.properties)) AS k
        WHERE ${PEERING_RECORD("r")}`,
    );
    await q.query(`ALTER TABLE resources FORCE ROW LEVEL SECURITY`);
    for (const sql of tenantRlsSql("resource_peering_keys")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER resource_peering_keys_update ON resources`);
    await q.query(`DROP TRIGGER resource_peering_keys_insert ON resources`);
    await q.query(`DROP FUNCTION resource_peering_keys_sync()`);
    await q.query(`DROP FUNCTION resource_peering_keys_of(text, text, jsonb)`);
    await q.query(`DROP TABLE resource_peering_keys`);
    await q.query(`DROP INDEX resources_tenant_aws_arn_key`);
    await q.query(`DROP INDEX resources_tenant_aws_id_key`);
    await q.query(`ALTER TABLE resources DROP COLUMN aws_arn_key, DROP COLUMN aws_id_key`);
  }
}
