import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/**
 * Where a resource is one that names another network resource from the other side, so the named one's map
 * cannot find it by its own references: an AWS elastic IP (`InstanceId`) or instance (its security groups), an
 * Azure NSG (`subnets`, `networkInterfaces`), public IP (`ipConfiguration`) or NIC (`virtualMachine`).
 */
const REFERENCE_HOLDER = (row: string) =>
  `((${row}.kind IN ('PUBLIC_IP', 'VIRTUAL_MACHINE') AND lower(${row}.type) LIKE 'aws::%')
    OR (${row}.kind IN ('NETWORK_SECURITY_GROUP', 'PUBLIC_IP', 'NETWORK_INTERFACE') AND lower(${row}.type) LIKE 'microsoft.%'))`;
/** An ARM reference (`"id"` or `{ "id": … }`, as `refId` in network-topology.ts reads it) as a lower-cased key. */
const ARM_REF = (value: string) =>
  `lower(btrim(CASE jsonb_typeof(${value}) WHEN 'string' THEN ${value} #>> '{}'
                 WHEN 'object' THEN CASE WHEN jsonb_typeof(${value}->'id') = 'string' THEN ${value}->>'id' END END))`;
/** The elements of a JSON array property, none when it is no array. */
const ELEMENTS = (value: string) =>
  `jsonb_array_elements(CASE WHEN jsonb_typeof(${value}) = 'array' THEN ${value} ELSE '[]' END)`;

/**
 * The references the network topology resolves from the referencing side (network-topology.ts, `buildAws` /
 * `buildAzure`), as keys an index finds, so that one account's network map (NEIGHBOUR_ACCOUNTS_SQL in
 * network.service.ts) can find the accounts naming its resources without reading the tenant's inventory: an
 * elastic IP of account B associated with an instance of A names A's instance and nothing of A names B. Until now
 * such references showed only in the map of every account.
 *
 * `resource_reference_keys` (a side table kept by triggers in the upsert's own transaction, as
 * `resource_peering_keys` is): one row per resource a resource names from the other side, lower-cased and trimmed
 * the way the topology matches them —
 * - an AWS elastic IP: its `InstanceId` (ASSOCIATED_WITH the instance, and its exposure);
 * - an AWS instance: its security groups (`SecurityGroups[].GroupId`, `SecurityGroupIds[]`; PROTECTED_BY);
 * - an Azure NSG: its `subnets` and `networkInterfaces` (PROTECTED_BY, where the subnet or NIC names none);
 * - an Azure public IP: the NIC of its `ipConfiguration` (ASSOCIATED_WITH);
 * - an Azure NIC: its `virtualMachine` (ATTACHED_TO).
 * Lists are why this is a table (no generated scalar column holds them for a leakproof `=` under forced row-level
 * security). AWS instances (and Azure NICs) are among the holders, the bulk of an inventory, so the keys of
 * inserted rows are written by one statement-level trigger per INSERT (its transition table, one
 * `INSERT … SELECT` through the inlined `resource_reference_keys_of`), not a trigger per row: inserting 16,000
 * instances into 20,000 resources took 1.28 s against 1.18 s without it (about 6 µs a row; 8.0 s with a row
 * trigger and a foreign key). Updates keep a row trigger whose WHEN clause lets through only a holder whose type,
 * kind or properties changed (a re-ingest updates every row's `last_seen`; a statement trigger would copy them
 * all). No foreign key to `resources` (its check, about 9 µs a key row in a trial, is not needed): a delete
 * trigger removes a resource's keys, and the lookup joins back to `resources`, so a key left behind would find
 * nothing.
 */
export class ResourceNetworkReferenceKeys1767320000000 implements MigrationInterface {
  name = "ResourceNetworkReferenceKeys1767320000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE resource_reference_keys (
      tenant_id text NOT NULL,
      resource_id uuid NOT NULL,
      reference_key text NOT NULL,
      PRIMARY KEY (resource_id, reference_key)
    )`);
    await q.query(
      `CREATE INDEX resource_reference_keys_tenant_key ON resource_reference_keys (tenant_id, reference_key)`,
    );
    // One SELECT, so a call in FROM is inlined into the statement that uses it.
    await q.query(
      `CREATE FUNCTION resource_reference_keys_of(type text, kind text, properties jsonb) RETURNS SETOF text
         LANGUAGE sql IMMUTABLE AS $$
         SELECT DISTINCT k FROM (
           SELECT lower(btrim(properties->>'InstanceId'))
            WHERE kind = 'PUBLIC_IP' AND lower(type) LIKE 'aws::%' AND jsonb_typeof(properties->'InstanceId') = 'string'
           UNION ALL
           SELECT lower(btrim(CASE jsonb_typeof(g) WHEN 'string' THEN g #>> '{}'
                    WHEN 'object' THEN CASE WHEN jsonb_typeof(g->'GroupId') = 'string' THEN g->>'GroupId' END END))
             FROM ${ELEMENTS("properties->'SecurityGroups'")} AS groups(g)
            WHERE kind = 'VIRTUAL_MACHINE' AND lower(type) LIKE 'aws::%'
           UNION ALL
           SELECT lower(btrim(g #>> '{}'))
             FROM ${ELEMENTS("properties->'SecurityGroupIds'")} AS groups(g)
            WHERE kind = 'VIRTUAL_MACHINE' AND lower(type) LIKE 'aws::%' AND jsonb_typeof(g) = 'string'
           UNION ALL
           SELECT ${ARM_REF("r")}
             FROM (SELECT * FROM ${ELEMENTS("properties->'subnets'")}
                   UNION ALL SELECT * FROM ${ELEMENTS("properties->'networkInterfaces'")}) AS refs(r)
            WHERE kind = 'NETWORK_SECURITY_GROUP' AND lower(type) LIKE 'microsoft.%'
           UNION ALL
           SELECT substring(${ARM_REF("properties->'ipConfiguration'")} FROM '^(.+)/ipconfigurations/[^/]*$')
            WHERE kind = 'PUBLIC_IP' AND lower(type) LIKE 'microsoft.%'
           UNION ALL
           SELECT ${ARM_REF("properties->'virtualMachine'")}
            WHERE kind = 'NETWORK_INTERFACE' AND lower(type) LIKE 'microsoft.%'
         ) AS keys(k) WHERE k <> '' $$`,
    );
    await q.query(
      `CREATE FUNCTION resource_reference_keys_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO resource_reference_keys (tenant_id, resource_id, reference_key)
           SELECT r.tenant_id, r.id, k FROM inserted r, resource_reference_keys_of(r.type, r.kind, r.properties) AS k
            WHERE ${REFERENCE_HOLDER("r")};
         RETURN NULL;
       END $$`,
    );
    await q.query(
      `CREATE FUNCTION resource_reference_keys_sync() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         DELETE FROM resource_reference_keys WHERE resource_id = OLD.id;
         IF TG_OP = 'UPDATE' THEN
           INSERT INTO resource_reference_keys (tenant_id, resource_id, reference_key)
             SELECT NEW.tenant_id, NEW.id, k FROM resource_reference_keys_of(NEW.type, NEW.kind, NEW.properties) AS k;
         END IF;
         RETURN NULL;
       END $$`,
    );
    await q.query(
      `CREATE TRIGGER resource_reference_keys_insert AFTER INSERT ON resources
         REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION resource_reference_keys_inserted()`,
    );
    await q.query(
      `CREATE TRIGGER resource_reference_keys_update AFTER UPDATE OF type, kind, properties ON resources FOR EACH ROW
         WHEN ((${REFERENCE_HOLDER("OLD")} OR ${REFERENCE_HOLDER("NEW")})
               AND (OLD.type, OLD.kind, OLD.properties) IS DISTINCT FROM (NEW.type, NEW.kind, NEW.properties))
         EXECUTE FUNCTION resource_reference_keys_sync()`,
    );
    await q.query(
      `CREATE TRIGGER resource_reference_keys_delete AFTER DELETE ON resources FOR EACH ROW
         WHEN (${REFERENCE_HOLDER("OLD")}) EXECUTE FUNCTION resource_reference_keys_sync()`,
    );
    // Every tenant's rows, read with the forced tenant policy lifted for this one statement (the owner runs
    // migrations), before the new table's own policy binds.
    await q.query(`ALTER TABLE resources NO FORCE ROW LEVEL SECURITY`);
    await q.query(
      `INSERT INTO resource_reference_keys (tenant_id, resource_id, reference_key)
       SELECT r.tenant_id, r.id, k FROM resources r, resource_reference_keys_of(r.type, r.kind, r.properties) AS k
        WHERE ${REFERENCE_HOLDER("r")}`,
    );
    await q.query(`ALTER TABLE resources FORCE ROW LEVEL SECURITY`);
    for (const sql of tenantRlsSql("resource_reference_keys")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER resource_reference_keys_delete ON resources`);
    await q.query(`DROP TRIGGER resource_reference_keys_update ON resources`);
    await q.query(`DROP TRIGGER resource_reference_keys_insert ON resources`);
    await q.query(`DROP FUNCTION resource_reference_keys_sync()`);
    await q.query(`DROP FUNCTION resource_reference_keys_inserted()`);
    await q.query(`DROP FUNCTION resource_reference_keys_of(text, text, jsonb)`);
    await q.query(`DROP TABLE resource_reference_keys`);
  }
}
