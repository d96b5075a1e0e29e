import { Client } from "pg";
import type { QueryRunner } from "typeorm";
import {
  createDataSource,
  createLogger,
  loadConfig,
  auditTrailSql,
  subgraphDatabaseUrl,
  type AuditTrailFilter,
  type Config,
  type Page,
} from "../subgraphs/common/src";
import { EventsStorage1765700000000 } from "../migrations/siem/1765700000000-events-storage";
import { EventsEntityKeys1765900000000 } from "../migrations/siem/1765900000000-events-entity-keys";
import { IncidentClassificationReason1766810000000 } from "../migrations/siem/1766810000000-incident-classification-reason";
import { BuiltInEvaluations1767210000000 } from "../migrations/posture/1767210000000-built-in-evaluations";
import { EVENT_MATCH } from "../subgraphs/siem/src/modules/investigation/investigation.service";
import {
  NETWORK_KINDS,
  NEIGHBOUR_ACCOUNTS_SQL,
} from "../subgraphs/posture/src/modules/network/network.service";
import {
  networkLinks,
  PEERING_RESOURCE_TYPES,
} from "../subgraphs/posture/src/modules/network/network-topology";
import { ResourceNetworkReverseKeys1767290000000 } from "../migrations/posture/1767290000000-resource-network-reverse-keys";
import { ResourceNetworkReferenceKeys1767320000000 } from "../migrations/posture/1767320000000-resource-network-reference-keys";
import { migrateAll, migrateAllDown } from "../scripts/lib/platform";
import { createTestDatabase, type TestDatabase } from "./utils/database";

/**
 * NEIGHBOUR_ACCOUNTS_SQL as it was before migration ResourceNetworkReverseKeys: the AWS ids, the AWS peering
 * connections and the Azure peerings matched on `properties` over the tenant's whole inventory; and the AWS
 * references from the other side (elastic IPs' instances, instances' security groups) that migration
 * ResourceNetworkReferenceKeys indexes, matched the same way. The reference the indexed statement must agree with.
 */
const SCANNING_NEIGHBOUR_SQL = `
WITH asked_vpcs AS (
  SELECT unnest($7::text[]) AS id
  UNION
  SELECT aws_vpc_key FROM resources
   WHERE tenant_id = $1 AND aws_subnet_key = ANY($8::text[]) AND kind = 'SUBNET' AND aws_vpc_key IS NOT NULL
),
peering_records AS (
  SELECT account_id, ARRAY[
           lower(btrim(properties->>'VpcId')), lower(btrim(properties->'RequesterVpcInfo'->>'VpcId')),
           lower(btrim(properties->>'PeerVpcId')), lower(btrim(properties->'AccepterVpcInfo'->>'VpcId'))
         ] AS vpcs
    FROM resources
   WHERE tenant_id = $1 AND lower(type) = ANY($4::text[]) AND account_id <> ALL($2::uuid[])
),
incoming AS (SELECT account_id, vpcs FROM peering_records WHERE vpcs && ARRAY(SELECT id FROM asked_vpcs)),
aws_ids AS (
  SELECT unnest($6::text[]) AS id
  UNION SELECT unnest(vpcs) FROM incoming
),
placement_vpcs AS (
  SELECT id FROM asked_vpcs
  UNION SELECT unnest(vpcs) FROM incoming
),
placement_subnets AS (
  SELECT unnest($8::text[]) AS id
  UNION
  SELECT aws_subnet_key FROM resources
   WHERE tenant_id = $1 AND aws_vpc_key = ANY(ARRAY(SELECT id FROM placement_vpcs)) AND kind = 'SUBNET'
),
neighbour_accounts AS (
  SELECT account_id FROM incoming
  UNION
  SELECT account_id FROM resources WHERE tenant_id = $1 AND external_id_key = ANY($5::text[])
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND kind = ANY($3::text[]) AND lower(type) LIKE 'aws::%'
     AND (regexp_replace(btrim(external_id_key), '^.*[/:]', '') IN (SELECT id FROM aws_ids)
          OR lower(btrim(properties->>(CASE kind
               WHEN 'VIRTUAL_NETWORK' THEN 'VpcId' WHEN 'SUBNET' THEN 'SubnetId'
               WHEN 'NETWORK_SECURITY_GROUP' THEN 'GroupId' WHEN 'VIRTUAL_MACHINE' THEN 'InstanceId'
               WHEN 'PUBLIC_IP' THEN 'AllocationId' END))) IN (SELECT id FROM aws_ids))
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND kind = 'VIRTUAL_NETWORK' AND lower(type) LIKE 'microsoft.%'
     AND jsonb_typeof(properties->'virtualNetworkPeerings') = 'array'
     AND EXISTS (
       SELECT 1
         FROM jsonb_array_elements(properties->'virtualNetworkPeerings') AS record(v),
              LATERAL (SELECT CASE WHEN jsonb_typeof(v->'properties') = 'object' THEN v->'properties' ELSE v END) AS p(p)
        WHERE lower(btrim(CASE jsonb_typeof(p->'remoteVirtualNetwork')
                WHEN 'string' THEN p->>'remoteVirtualNetwork'
                WHEN 'object' THEN p->'remoteVirtualNetwork'->>'id' END)) = ANY($7::text[]))
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND lower(type) LIKE 'aws::%'
     AND ((kind = 'PUBLIC_IP' AND lower(btrim(properties->>'InstanceId')) = ANY($9::text[]))
          OR (kind = 'VIRTUAL_MACHINE' AND jsonb_typeof(properties->'SecurityGroupIds') = 'array'
              AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(properties->'SecurityGroupIds') AS g(g)
                           WHERE lower(btrim(g)) = ANY($9::text[])))
          OR (kind = 'VIRTUAL_MACHINE' AND jsonb_typeof(properties->'SecurityGroups') = 'array'
              AND EXISTS (SELECT 1 FROM jsonb_array_elements(properties->'SecurityGroups') AS g(g)
                           WHERE lower(btrim(g->>'GroupId')) = ANY($9::text[]))))
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND aws_vpc_key = ANY(ARRAY(SELECT id FROM placement_vpcs))
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND aws_subnet_key = ANY(ARRAY(SELECT id FROM placement_subnets))
)
SELECT id, account_id, external_id, type, name, properties FROM resources
 WHERE tenant_id = $1 AND account_id IN (SELECT account_id FROM neighbour_accounts)
   AND account_id <> ALL($2::uuid[]) AND (kind = ANY($3::text[]) OR lower(type) = ANY($4::text[]))`;

describe("migrations", () => {
  let db: TestDatabase;
  let config: Config;
  let admin: Client;
  const log = createLogger("test", "silent");

  const tables = async () =>
    (
      await admin.query<{ name: string; forced: boolean; owner: string }>(
        `SELECT n.nspname || '.' || c.relname AS name, c.relforcerowsecurity AS forced, pg_get_userbyid(c.relowner) AS owner
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('posture', 'protection', 'siem') ORDER BY 1`,
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    config = loadConfig({ DATABASE_URL: db.url, DB_ROLE_PREFIX: db.rolePrefix, LOG_LEVEL: "silent" });
    admin = new Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  /** The plan Postgres picks for `sql` on this connection (its role, its tenant setting). */
  const planOf = async (q: QueryRunner, sql: string, params: unknown[]) =>
    ((await q.query(`EXPLAIN ${sql}`, params)) as Array<{ "QUERY PLAN": string }>)
      .map((r) => r["QUERY PLAN"])
      .join("\n");

  /**
   * Runs `work` on a query runner on a subgraph's schema as its role (forced row-level security applies),
   * in tenant-a, then `cleanup` on the same runner whatever happened.
   */
  const withRunner = async (
    subgraph: "posture" | "protection" | "siem",
    work: (q: QueryRunner) => Promise<void>,
    cleanup: (q: QueryRunner) => Promise<unknown>,
  ) => {
    const ds = createDataSource({
      url: subgraphDatabaseUrl(config, subgraph),
      schema: subgraph,
      subgraph,
      entities: [],
      poolSize: 1,
      logger: log,
    });
    await ds.initialize();
    const q = ds.createQueryRunner();
    try {
      await q.query(`SELECT set_config('rampart.tenant_id', 'tenant-a', false)`);
      await work(q);
    } finally {
      await cleanup(q);
      await q.release();
      await ds.destroy();
    }
  };

  it("runs up as each subgraph's own role, with forced row-level security on every tenant table", async () => {
    await migrateAll(config, log);
    const all = await tables();
    expect(all.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        "posture.resources",
        "posture.cloud_accounts",
        "protection.plans",
        "siem.alerts",
        "siem.incidents",
      ]),
    );
    for (const t of all) {
      const schema = t.name.split(".")[0];
      expect(t.owner).toBe(`${db.rolePrefix}_${schema}`);
      if (!t.name.endsWith(".migrations"))
        expect({ table: t.name, forced: t.forced }).toEqual({ table: t.name, forced: true });
    }
    const roles = await admin.query(
      `SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1`,
      [`${db.rolePrefix}_%`],
    );
    expect(roles.rows).toEqual(
      ["posture", "protection", "siem"].map((s) => ({
        rolname: `${db.rolePrefix}_${s}`,
        rolsuper: false,
        rolbypassrls: false,
      })),
    );
  });

  it("is idempotent: running up again changes nothing", async () => {
    const before = await tables();
    await migrateAll(config, log);
    expect(await tables()).toEqual(before);
  });

  it("runs down to empty schemas and up again", async () => {
    await migrateAllDown(config, log);
    expect((await tables()).map((t) => t.name)).toEqual([
      "posture.migrations",
      "protection.migrations",
      "siem.migrations",
    ]);
    await migrateAll(config, log);
    expect((await tables()).length).toBeGreaterThan(10);
  });

  it("takes stored events, partitions included, from the jsonb `raw` to text, LZ4 and the new indexes", async () => {
    await withRunner(
      "siem",
      async (q) => {
        const migration = new EventsStorage1765700000000();
        const entityKeys = new EventsEntityKeys1765900000000();
        const record = '{"b": [1, 2], "a": "x"}';
        const state = async () => {
          const [row] = (await q.query(
            `SELECT raw, pg_typeof(raw)::text AS type FROM events_p20261101`,
          )) as Array<{
            raw: unknown;
            type: string;
          }>;
          const compression = (await q.query(
            `SELECT attrelid::regclass::text AS rel, attname, attcompression FROM pg_attribute
          WHERE attrelid IN ('events'::regclass, 'events_p20261101'::regclass) AND attname IN ('raw', 'attributes')
          ORDER BY 1, 2`,
          )) as Array<{ rel: string; attname: string; attcompression: string }>;
          const indexes = (
            (await q.query(
              `SELECT indexname FROM pg_indexes WHERE tablename = 'events_p20261101' ORDER BY 1`,
            )) as Array<{
              indexname: string;
            }>
          ).map((r) => r.indexname);
          return { row, compression: [...new Set(compression.map((c) => c.attcompression))], indexes };
        };
        // Back to the old shape, with a partition holding an event, then forward again.
        await entityKeys.down(q);
        await migration.down(q);
        await q.query(
          `CREATE TABLE events_p20261101 PARTITION OF events FOR VALUES FROM ('2026-11-01') TO ('2026-11-02')`,
        );
        await q.query(
          `INSERT INTO events (tenant_id, id, connector, source_event_id, time, class_uid, activity_id, severity_id, status, raw)
         VALUES ('tenant-a', gen_random_uuid(), 'OCSF', 'e1', '2026-11-01T10:00:00Z', 3002, 1, 1, 'Success', $1::jsonb)`,
          [record],
        );
        const before = await state();
        expect(before.row).toEqual({ raw: { a: "x", b: [1, 2] }, type: "jsonb" });
        expect(before.indexes.filter((i) => i.includes("actor") || i.includes("device"))).toHaveLength(2);
        await migration.up(q);
        const after = await state();
        expect(after.row.type).toBe("text");
        expect(JSON.parse(after.row.raw as string)).toEqual({ a: "x", b: [1, 2] });
        const [{ lz4 }] = (await q.query(
          `SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`,
        )) as Array<{ lz4: boolean }>;
        // LZ4 on the parent and on the partition that existed before, where the server has it.
        expect(after.compression).toEqual([lz4 ? "l" : ""]);
        expect(after.indexes.length).toBe(before.indexes.length - 1);
        expect(after.indexes.some((i) => i.includes("lower"))).toBe(true);
        await entityKeys.up(q);
      },
      (q) => q.query(`DROP TABLE IF EXISTS events_p20261101`),
    );
  });

  it("answers entity lookups (account, host, either IP, resource) from indexes under the tenant policy", async () => {
    await withRunner(
      "siem",
      async (q) => {
        // The investigation's own match for the kind, as the SIEM's role (forced row-level security).
        const lookup = async (
          tenant: "tenant-a" | "tenant-b",
          kind: keyof typeof EVENT_MATCH,
          value: string,
        ) => {
          await q.query(`SELECT set_config('rampart.tenant_id', $1, false)`, [tenant]);
          const sql = `SELECT e.source_event_id AS id FROM events e
        WHERE e.tenant_id = $1 AND ${EVENT_MATCH[kind].replaceAll("$V", "$2")} ORDER BY e.time DESC LIMIT 5000`;
          const rows = (await q.query(sql, [tenant, value])) as Array<{ id: string }>;
          const plan = await planOf(q, sql, [tenant, value]);
          const used = [
            ...plan.matchAll(/Index Scan(?: Backward)? on (\S+)|Index Scan(?: Backward)? using (\S+)/g),
          ].map((m) => m[1] ?? m[2]);
          return { ids: rows.map((r) => r.id).sort(), used: [...new Set(used)].sort(), plan };
        };
        await q.query(
          `CREATE TABLE events_p20261102 PARTITION OF events FOR VALUES FROM ('2026-11-02') TO ('2026-11-03')`,
        );
        // 40,000 events of two tenants (even and odd i): 1,000 accounts and hosts, 250 source and 20
        // destination addresses, a resource on every 100th.
        for (const [tenant, parity] of [
          ["tenant-a", 0],
          ["tenant-b", 1],
        ] as const) {
          await q.query(`SELECT set_config('rampart.tenant_id', $1, false)`, [tenant]);
          await q.query(
            `INSERT INTO events (tenant_id, id, connector, source_event_id, time, class_uid, activity_id, severity_id,
                               status, actor_user, device, src_ip, dst_ip, resource_id)
           SELECT $1, gen_random_uuid(), 'OCSF', 'e' || i, '2026-11-02T10:00:00Z'::timestamptz + i * interval '1 second',
                  4001, 6, 1, 'Success', 'User' || (i % 1000) || '@Contoso.example', 'VM-' || (i % 1000),
                  ('10.0.' || (i % 250) || '.1')::inet, ('2001:db8::' || (i % 20))::inet,
                  CASE WHEN i % 100 = 0 THEN '/subscriptions/S1/vm' || i END
           FROM generate_series(1, 40000) i WHERE i % 2 = $2`,
            [tenant, parity],
          );
        }
        await q.query(`ANALYZE events_p20261102`);
        const index = (column: string) => `events_p20261102_tenant_id_${column}_time_idx`;
        const account = await lookup("tenant-a", "ACCOUNT", "user2@contoso.EXAMPLE");
        expect(account.ids).toHaveLength(40);
        expect(account.used).toEqual([index("actor_key")]);
        const host = await lookup("tenant-a", "HOST", "vm-2");
        expect(host.ids).toHaveLength(40);
        expect(host.used).toEqual([index("device_key")]);
        // Source or destination, from both address indexes; the address as the client wrote it.
        const source = await lookup("tenant-a", "IP", "10.0.4.1");
        expect(source.ids).toHaveLength(160);
        expect(source.used).toEqual([index("dst_ip"), index("src_ip")]);
        expect((await lookup("tenant-a", "IP", "2001:DB8:0::4")).ids).toHaveLength(2000);
        const resource = await lookup("tenant-a", "RESOURCE", "/SUBSCRIPTIONS/s1/VM200");
        expect(resource.ids).toEqual(["e200"]);
        expect(resource.used).toEqual([index("resource_key")]);
        // Another tenant's events naming the same entities never answer.
        expect((await lookup("tenant-b", "HOST", "vm-2")).ids).toEqual([]);
        expect((await lookup("tenant-b", "RESOURCE", "/subscriptions/S1/vm200")).ids).toEqual([]);
        expect((await lookup("tenant-b", "HOST", "VM-3")).ids).toHaveLength(40);
      },
      (q) => q.query(`DROP TABLE IF EXISTS events_p20261102`),
    );
  });

  it("keeps a closed incident's free-text reason as its comment, and holds the structured reason to its classification", async () => {
    const id = "0190a0a0-0000-7000-8000-0000000000c1";
    await withRunner(
      "siem",
      async (q) => {
        const migration = new IncidentClassificationReason1766810000000();
        await migration.down(q);
        await q.query(
          `INSERT INTO incidents (id, tenant_id, number, title, severity, status, classification, classification_reason, closed_at)
           VALUES ($1, 'tenant-a', 9001, 'Closed before', 'HIGH', 'CLOSED', 'TRUE_POSITIVE', 'Contained', now())`,
          [id],
        );
        await migration.up(q);
        const [row] = (await q.query(
          `SELECT classification, classification_reason, classification_comment FROM incidents WHERE id = $1`,
          [id],
        )) as Array<Record<string, unknown>>;
        expect(row).toEqual({
          classification: "TRUE_POSITIVE",
          classification_reason: null,
          classification_comment: "Contained",
        });
        const setReason = (reason: string) =>
          q.query(`UPDATE incidents SET classification_reason = $2 WHERE id = $1`, [id, reason]);
        await expect(setReason("INACCURATE_DATA")).rejects.toThrow(/incidents_classification_reason/);
        await setReason("SUSPICIOUS_ACTIVITY");
        await migration.down(q);
        const [back] = (await q.query(`SELECT classification_reason FROM incidents WHERE id = $1`, [
          id,
        ])) as Array<Record<string, unknown>>;
        expect(back).toEqual({ classification_reason: "Contained" });
        await migration.up(q);
      },
      (q) => q.query(`DELETE FROM incidents WHERE id = $1`, [id]),
    );
  });

  it("gives every tenant onboarded before built_in_evaluations an empty record, under the tenant policy", async () => {
    const as = (q: QueryRunner, tenant: string) =>
      q.query(`SELECT set_config('rampart.tenant_id', $1, false)`, [tenant]);
    await withRunner(
      "posture",
      async (q) => {
        const migration = new BuiltInEvaluations1767210000000();
        await migration.down(q);
        for (const tenant of ["tenant-a", "tenant-b"]) {
          await as(q, tenant);
          await q.query(
            `INSERT INTO cloud_accounts (id, tenant_id, provider, external_id, name, onboarded_at)
             VALUES (gen_random_uuid(), $1, 'GCP', 'project-' || $1, 'Before', now())`,
            [tenant],
          );
        }
        await migration.up(q);
        const record = () => q.query(`SELECT tenant_id, versions FROM built_in_evaluations`);
        expect(await record()).toEqual([{ tenant_id: "tenant-b", versions: {} }]);
        await as(q, "tenant-a");
        expect(await record()).toEqual([{ tenant_id: "tenant-a", versions: {} }]);
        const [{ forced }] = (await q.query(
          `SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'cloud_accounts'::regclass`,
        )) as Array<{ forced: boolean }>;
        expect(forced).toBe(true);
      },
      async (q) => {
        for (const tenant of ["tenant-a", "tenant-b"]) {
          await as(q, tenant);
          await q.query(`DELETE FROM cloud_accounts WHERE name = 'Before'`);
          await q.query(`DELETE FROM built_in_evaluations`);
        }
      },
    );
  });

  it("looks resources up by provider id, whatever the case, from an index under the tenant policy", async () => {
    await withRunner(
      "posture",
      async (q) => {
        await q.query(
          `INSERT INTO cloud_accounts (id, tenant_id, provider, external_id, name)
         VALUES ('00000000-0000-4000-8000-000000000001', 'tenant-a', 'AZURE', 'sub-1', 'Sub 1')`,
        );
        await q.query(
          `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name)
         SELECT gen_random_uuid(), 'tenant-a', '00000000-0000-4000-8000-000000000001', 'AZURE',
                'Microsoft.Compute/virtualMachines', 'VM', '/subscriptions/SUB-1/resourceGroups/RG/vm-' || i, 'vm-' || i
         FROM generate_series(1, 20000) i`,
        );
        await q.query(`ANALYZE resources`);
        // The statement of InventoryService.resourcesByExternalIds (the DataLoader behind Resource lookups).
        const sql = `SELECT r.name FROM resources r WHERE r.tenant_id = $1 AND r.external_id_key = ANY($2) ORDER BY 1`;
        const ids = [
          "/subscriptions/sub-1/resourcegroups/rg/vm-7",
          "/subscriptions/sub-1/resourcegroups/rg/vm-19999",
        ];
        const rows = (await q.query(sql, ["tenant-a", ids])) as Array<{ name: string }>;
        expect(rows.map((r) => r.name)).toEqual(["vm-19999", "vm-7"]);
        const plan = await planOf(q, sql, ["tenant-a", ids]);
        expect(plan).toMatch(
          /Index Scan using resources_tenant_external_key|Bitmap Index Scan on resources_tenant_external_key/,
        );
      },
      async (q) => {
        await q.query(`DELETE FROM resources WHERE tenant_id = 'tenant-a'`);
        await q.query(`DELETE FROM cloud_accounts WHERE tenant_id = 'tenant-a'`);
      },
    );
  });

  it("finds the accounts placing AWS subnets and instances in a network (a shared VPC) from indexes under the tenant policy", async () => {
    const owner = "00000000-0000-4000-8000-000000000011";
    await withRunner(
      "posture",
      async (q) => {
        // 50 AWS accounts holding 2,000 subnets (four per VPC, 500 VPCs) and 20,000 instances: 22,000 rows.
        await q.query(
          `INSERT INTO cloud_accounts (id, tenant_id, provider, external_id, name)
           SELECT ('00000000-0000-4000-8000-0000000000' || lpad((10 + a)::text, 2, '0'))::uuid, 'tenant-a', 'AWS',
                  'acct-' || a, 'Account ' || a
           FROM generate_series(1, 50) a`,
        );
        const account = `('00000000-0000-4000-8000-0000000000' || lpad((11 + (i / 3) % 50)::text, 2, '0'))::uuid`;
        await q.query(
          `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, properties)
           SELECT gen_random_uuid(), 'tenant-a', ${account}, 'AWS', 'AWS::EC2::Subnet', 'SUBNET',
                  'arn:aws:ec2:eu-west-1:1:subnet/subnet-' || i, 'subnet-' || i,
                  jsonb_build_object('SubnetId', 'Subnet-' || i, 'VpcId', ' VPC-' || (i % 500) || ' ')
           FROM generate_series(1, 2000) i`,
        );
        // One instance in three names its VPC; every one names its subnet.
        await q.query(
          `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, properties)
           SELECT gen_random_uuid(), 'tenant-a', ${account}, 'AWS', 'AWS::EC2::Instance', 'VIRTUAL_MACHINE',
                  'arn:aws:ec2:eu-west-1:1:instance/i-' || i, 'i-' || i,
                  jsonb_build_object('SubnetId', 'subnet-' || (i % 2000 + 1))
                    || CASE WHEN i % 3 = 0 THEN jsonb_build_object('VpcId', 'vpc-' || (i % 500)) ELSE '{}' END
           FROM generate_series(1, 20000) i`,
        );
        await q.query(`ANALYZE resources`);
        // Keys as the topology matches AWS ids: trimmed, lower-cased; a subnet's own id, an instance's subnet.
        const keys = (await q.query(
          `SELECT name, aws_vpc_key, aws_subnet_key FROM resources WHERE name IN ('subnet-7', 'i-7', 'i-507') ORDER BY name`,
        )) as Array<Record<string, string | null>>;
        expect(keys).toEqual([
          { name: "i-507", aws_vpc_key: "vpc-7", aws_subnet_key: "subnet-508" },
          { name: "i-7", aws_vpc_key: null, aws_subnet_key: "subnet-8" },
          { name: "subnet-7", aws_vpc_key: "vpc-7", aws_subnet_key: "subnet-7" },
        ]);
        // The neighbour statement of NetworkService for account 1, whose resources use VPC vpc-7 and subnet-9 (of
        // vpc-9): the accounts placing a subnet or an instance in vpc-7, in one of its subnets or in subnet-9 (and
        // in vpc-9, the VPC of a subnet it uses) — as a scan of every property would find them.
        const params = [
          "tenant-a",
          [owner],
          NETWORK_KINDS,
          PEERING_RESOURCE_TYPES,
          [],
          [],
          ["vpc-7"],
          ["subnet-9"],
          [],
        ];
        const rows = (await q.query(NEIGHBOUR_ACCOUNTS_SQL, params)) as Array<{ account_id: string }>;
        const expected = (await q.query(
          `WITH vpcs AS (
             SELECT 'vpc-7' AS id UNION SELECT lower(btrim(properties->>'VpcId')) FROM resources
              WHERE type = 'AWS::EC2::Subnet' AND lower(properties->>'SubnetId') = 'subnet-9'),
           subnets AS (
             SELECT 'subnet-9' AS id UNION SELECT lower(properties->>'SubnetId') FROM resources
              WHERE type = 'AWS::EC2::Subnet' AND lower(btrim(properties->>'VpcId')) IN (SELECT id FROM vpcs))
           SELECT DISTINCT account_id FROM resources
            WHERE account_id <> $1
              AND (lower(btrim(properties->>'VpcId')) IN (SELECT id FROM vpcs)
                   OR (type = 'AWS::EC2::Instance' AND lower(properties->>'SubnetId') IN (SELECT id FROM subnets)))`,
          [owner],
        )) as Array<{ account_id: string }>;
        expect(expected.length).toBeGreaterThan(5);
        expect([...new Set(rows.map((r) => r.account_id))].sort()).toEqual(
          expected.map((r) => r.account_id).sort(),
        );
        const plan = await planOf(q, NEIGHBOUR_ACCOUNTS_SQL, params);
        expect(plan).toMatch(
          /Index Scan using resources_tenant_aws_vpc_key|Bitmap Index Scan on resources_tenant_aws_vpc_key/,
        );
        expect(plan).toMatch(
          /Index Scan using resources_tenant_aws_subnet_key|Bitmap Index Scan on resources_tenant_aws_subnet_key/,
        );
      },
      async (q) => {
        await q.query(`DELETE FROM resources WHERE tenant_id = 'tenant-a'`);
        await q.query(`DELETE FROM cloud_accounts WHERE tenant_id = 'tenant-a'`);
      },
    );
  });

  it("finds one account's peering records, AWS ids and Azure peerings elsewhere from indexes under the tenant policy, as a scan would", async () => {
    const account = (n: number) => `00000000-0000-4000-8000-000000000${String(n).padStart(3, "0")}`;
    const [awsAsked, azureAsked] = [account(1), account(2)];
    await withRunner(
      "posture",
      async (q) => {
        // 200 AWS accounts (11-210) holding 500 VPCs, 2,000 subnets, 1,000 security groups, 12,000 instances,
        // 4,000 elastic IPs and 500 peering connections (VPC i with VPC i + 1), 10 Azure subscriptions (211-220)
        // holding 500 VNets each peering with the next: 20,500 rows. Resource i of a kind is in account
        // 11 + i mod 200.
        await q.query(
          `INSERT INTO cloud_accounts (id, tenant_id, provider, external_id, name)
           SELECT ('00000000-0000-4000-8000-000000000' || lpad(a::text, 3, '0'))::uuid, 'tenant-a',
                  CASE WHEN a = 2 OR a > 210 THEN 'AZURE' ELSE 'AWS' END, 'acct-' || a, 'Account ' || a
           FROM generate_series(1, 220) a`,
        );
        const insert = (
          type: string,
          kind: string,
          externalId: string,
          properties: string,
          n: number,
          owner?: string,
        ) =>
          q.query(
            `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, properties)
             SELECT gen_random_uuid(), 'tenant-a',
                    ${owner ? `'${owner}'::uuid` : `('00000000-0000-4000-8000-000000000' || lpad((11 + i % 200)::text, 3, '0'))::uuid`},
                    'AWS', '${type}', '${kind}', ${externalId}, 'r-' || i, ${properties}
             FROM generate_series(1, ${n}) i`,
          );
        const arn = (what: string) => `'arn:aws:ec2:eu-west-1:1:${what}/' || `;
        await insert(
          "AWS::EC2::VPC",
          "VIRTUAL_NETWORK",
          `${arn("vpc")}'vpc-' || i`,
          `jsonb_build_object('VpcId', 'vpc-' || i)`,
          500,
        );
        await insert(
          "AWS::EC2::Subnet",
          "SUBNET",
          `${arn("subnet")}'subnet-' || i`,
          `jsonb_build_object('SubnetId', 'subnet-' || i, 'VpcId', 'vpc-' || (i % 500 + 1))`,
          2000,
        );
        // Security groups known only by their ARN (no GroupId), in upper case: found by the ARN tail.
        await insert(
          "AWS::EC2::SecurityGroup",
          "NETWORK_SECURITY_GROUP",
          `${arn("security-group")}'SG-' || i`,
          `'{}'::jsonb`,
          1000,
        );
        // Every instance behind a security group (by id), every third one with an elastic IP (elsewhere).
        await insert(
          "AWS::EC2::Instance",
          "VIRTUAL_MACHINE",
          `${arn("instance")}'i-' || i`,
          `jsonb_build_object('InstanceId', ' I-' || i || ' ', 'SubnetId', 'subnet-' || (i % 2000 + 1),
                              'SecurityGroupIds', jsonb_build_array('sg-' || (i % 1000 + 1)))`,
          12000,
        );
        await insert(
          "AWS::EC2::EIP",
          "PUBLIC_IP",
          `${arn("elastic-ip")}'eipalloc-' || i`,
          `jsonb_build_object('AllocationId', 'eipalloc-' || i, 'InstanceId', 'i-' || (3 * i))`,
          4000,
        );
        await insert(
          "AWS::EC2::VPCPeeringConnection",
          "OTHER",
          `${arn("vpc-peering-connection")}'pcx-' || i`,
          `jsonb_build_object('RequesterVpcInfo', jsonb_build_object('VpcId', 'vpc-' || i),
                              'AccepterVpcInfo', jsonb_build_object('VpcId', 'vpc-' || (i % 500 + 1)))`,
          500,
        );
        const vnet = (n: string) =>
          `'/subscriptions/s' || (${n}) % 10 || '/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-' || (${n})`;
        await q.query(
          `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, properties)
           SELECT gen_random_uuid(), 'tenant-a', ('00000000-0000-4000-8000-000000000' || (211 + i % 10))::uuid, 'AZURE',
                  'Microsoft.Network/virtualNetworks', 'VIRTUAL_NETWORK', ${vnet("i")}, 'vnet-' || i,
                  jsonb_build_object('virtualNetworkPeerings', jsonb_build_array(jsonb_build_object('properties',
                    jsonb_build_object('remoteVirtualNetwork', jsonb_build_object('id', ${vnet("i % 500 + 1")})))))
           FROM generate_series(1, 500) i`,
        );
        // The asked AWS account: one VPC, two subnets, three instances behind security group sg-7 (another
        // account's, by id); account 11 records a peering of vpc-7 with it (only there), account 12 one of vpc-8
        // with it in CloudFormation's shape (VpcId, PeerVpcId) and a blank EC2-shaped side.
        await insert(
          "AWS::EC2::VPC",
          "VIRTUAL_NETWORK",
          `${arn("vpc")}'vpc-a'`,
          `jsonb_build_object('VpcId', 'vpc-a')`,
          1,
          awsAsked,
        );
        await insert(
          "AWS::EC2::Subnet",
          "SUBNET",
          `${arn("subnet")}'subnet-a' || i`,
          `jsonb_build_object('SubnetId', 'subnet-a' || i, 'VpcId', 'vpc-a')`,
          2,
          awsAsked,
        );
        await insert(
          "AWS::EC2::Instance",
          "VIRTUAL_MACHINE",
          `${arn("instance")}'i-a' || i`,
          `jsonb_build_object('InstanceId', 'i-a' || i, 'SubnetId', 'subnet-a' || (i % 2 + 1), 'SecurityGroupIds', jsonb_build_array('sg-7'))`,
          3,
          awsAsked,
        );
        // From the other side: account 13's elastic IP on an asked instance, account 14's instance behind the
        // asked security group sg-a.
        await insert(
          "AWS::EC2::SecurityGroup",
          "NETWORK_SECURITY_GROUP",
          `${arn("security-group")}'sg-a'`,
          `jsonb_build_object('GroupId', 'sg-a')`,
          1,
          awsAsked,
        );
        await insert(
          "AWS::EC2::EIP",
          "PUBLIC_IP",
          `${arn("elastic-ip")}'eipalloc-a'`,
          `jsonb_build_object('AllocationId', 'eipalloc-a', 'InstanceId', ' I-A2')`,
          1,
          account(13),
        );
        await insert(
          "AWS::EC2::Instance",
          "VIRTUAL_MACHINE",
          `${arn("instance")}'i-behind-a'`,
          `jsonb_build_object('InstanceId', 'i-behind-a', 'SecurityGroups', jsonb_build_array(jsonb_build_object('GroupId', 'SG-A')))`,
          1,
          account(14),
        );
        await insert(
          "AWS::EC2::VPCPeeringConnection",
          "OTHER",
          `${arn("vpc-peering-connection")}'pcx-a'`,
          `jsonb_build_object('RequesterVpcInfo', jsonb_build_object('VpcId', 'VPC-7'), 'AccepterVpcInfo', jsonb_build_object('VpcId', ' vpc-a'))`,
          1,
          account(11),
        );
        await insert(
          "AWS::EC2::VPCPeeringConnection",
          "OTHER",
          `${arn("vpc-peering-connection")}'pcx-b'`,
          `jsonb_build_object('VpcId', 'vpc-8', 'PeerVpcId', 'vpc-a', 'RequesterVpcInfo', jsonb_build_object('VpcId', ''))`,
          1,
          account(12),
        );
        // The asked Azure subscription: one VNet, which vnet-77 (subscription 218) peers with, listed only there.
        const asked =
          "/subscriptions/S2/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-asked";
        await q.query(
          `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, properties)
           VALUES (gen_random_uuid(), 'tenant-a', $1, 'AZURE', 'Microsoft.Network/virtualNetworks', 'VIRTUAL_NETWORK', $2, 'vnet-asked', '{}')`,
          [azureAsked, asked],
        );
        await q.query(
          `UPDATE resources SET properties = jsonb_set(properties, '{virtualNetworkPeerings}',
             properties->'virtualNetworkPeerings' || jsonb_build_array(jsonb_build_object('remoteVirtualNetwork', $1::text)))
           WHERE name = 'vnet-77'`,
          [` ${asked.toUpperCase()}`],
        );
        await q.query(`ANALYZE resources`);
        await q.query(`ANALYZE resource_peering_keys`);
        await q.query(`ANALYZE resource_reference_keys`);
        const [{ tenant }] = (await q.query(`SELECT count(*)::int AS tenant FROM resources`)) as Array<{
          tenant: number;
        }>;
        expect(tenant).toBeGreaterThan(20_000);

        // The statements of NetworkService for the two asked accounts: their rows, their links, their neighbours.
        const own = (await q.query(
          `SELECT id, account_id, external_id, type, name, properties FROM resources WHERE account_id = ANY($1::uuid[])`,
          [[awsAsked, azureAsked]],
        )) as Array<{
          external_id: string;
          account_id: string;
          type: string;
          id: string;
          name: string;
          properties: Record<string, unknown>;
        }>;
        const links = networkLinks(
          own.map((r) => ({ ...r, externalId: r.external_id, accountId: r.account_id })),
        );
        const params = [
          "tenant-a",
          [awsAsked, azureAsked],
          NETWORK_KINDS,
          PEERING_RESOURCE_TYPES,
          links.armIds,
          links.awsIds,
          links.networks,
          links.subnets,
          links.targets,
        ];
        expect(links.targets.sort()).toEqual(["i-a1", "i-a2", "i-a3", "sg-a"]);
        const ids = async (sql: string) =>
          ((await q.query(sql, params)) as Array<{ id: string }>).map((r) => r.id).sort();
        const accounts = async (sql: string) =>
          [
            ...new Set(
              ((await q.query(sql, params)) as Array<{ account_id: string }>).map((r) => r.account_id),
            ),
          ].sort();
        const neighbours = await accounts(NEIGHBOUR_ACCOUNTS_SQL);
        // sg-7 (by its ARN's tail) is account 18's; the connections recorded by 11 and 12 name vpc-7 and vpc-8
        // (account 18 and 19's); vnet-77 is subscription 218's; 13 and 14 name an asked instance and group from
        // their side; the rest place subnets or instances in those VPCs.
        expect(neighbours).toEqual(
          expect.arrayContaining([
            account(11),
            account(12),
            account(13),
            account(14),
            account(18),
            account(19),
            account(218),
          ]),
        );
        expect(neighbours.length).toBeLessThan(30);
        // 13 and 14 only through what they name from their side.
        const withoutTargets = (
          (await q.query(NEIGHBOUR_ACCOUNTS_SQL, [...params.slice(0, 8), []])) as Array<{
            account_id: string;
          }>
        ).map((r) => r.account_id);
        expect(withoutTargets).not.toContain(account(13));
        expect(withoutTargets).not.toContain(account(14));
        expect(await ids(NEIGHBOUR_ACCOUNTS_SQL)).toEqual(await ids(SCANNING_NEIGHBOUR_SQL));

        // Under the tenant policy, as the posture role: every lookup an index scan, and the rows read those of the
        // neighbourhood (the neighbour accounts' network resources, ~100 each), not the tenant's 20,500.
        const plan = (
          (await q.query(
            `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${NEIGHBOUR_ACCOUNTS_SQL}`,
            params,
          )) as Array<{
            "QUERY PLAN": string;
          }>
        ).map((r) => r["QUERY PLAN"]);
        const text = plan.join("\n");
        expect(text).not.toMatch(/Seq Scan/);
        for (const index of [
          "resources_tenant_aws_id_key",
          "resources_tenant_aws_arn_key",
          "resource_peering_keys_tenant_key",
          "resource_reference_keys_tenant_key",
          "resources_tenant_account",
        ])
          expect(text).toMatch(new RegExp(`(Index Scan using|Bitmap Index Scan on) ${index}`));
        expect(text).toMatch(/Index Cond: \(\(tenant_id = 'tenant-a'::text\) AND \(aws_id_key = ANY/);
        expect(text).toMatch(/Index Cond: \(\(tenant_id = 'tenant-a'::text\) AND \(network_key = ANY/);
        expect(text).toMatch(
          /Index Cond: \(\(tenant_id = 'tenant-a'::text\) AND \(reference_key = target\.key\)\)/,
        );
        // Rows read: what each scan of a table returned, plus what its filter removed.
        const rowsRead = (lines: string[]) => {
          let sum = 0;
          lines.forEach((line, i) => {
            const scan =
              /->\s+(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan) .*\(actual rows=(\d+) loops=(\d+)\)/.exec(
                line,
              );
            if (!scan) return;
            sum += Number(scan[2]) * Number(scan[3]);
            for (let j = i + 1; j < lines.length && !/->/.test(lines[j]); j++) {
              const removed = /Rows Removed by (Filter|Index Recheck): (\d+)/.exec(lines[j]);
              if (removed) sum += Number(removed[2]) * Number(scan[3]);
            }
          });
          return sum;
        };
        const read = rowsRead(plan);
        const [{ neighbourhood }] = (await q.query(
          `SELECT count(*)::int AS neighbourhood FROM resources WHERE account_id = ANY($1::uuid[])`,
          [neighbours],
        )) as Array<{ neighbourhood: number }>;
        expect(read).toBeGreaterThan(0);
        expect(read).toBeLessThan(2 * neighbourhood);
        expect(read).toBeLessThan(tenant / 10);

        // A later round of NetworkService.askedTopology: the accounts read so far, no network, and as targets the
        // instances the map shows of them — hundreds, as behind a peering. One index probe a target (the
        // planner would hash a scan of every reference key against an array that long): the rows read are those
        // probes, the resources found and the network resources of the accounts whose elastic IPs name them.
        const loaded = [awsAsked, azureAsked, ...neighbours];
        const machines = (
          (await q.query(
            `SELECT lower(btrim(properties->>'InstanceId')) AS id FROM resources
              WHERE account_id = ANY($1::uuid[]) AND kind = 'VIRTUAL_MACHINE'`,
            [neighbours],
          )) as Array<{ id: string }>
        ).map((r) => r.id);
        expect(machines.length).toBeGreaterThan(300);
        const later = ["tenant-a", loaded, NETWORK_KINDS, PEERING_RESOURCE_TYPES, [], [], [], [], machines];
        const found = [
          ...new Set(
            ((await q.query(NEIGHBOUR_ACCOUNTS_SQL, later)) as Array<{ account_id: string }>).map(
              (r) => r.account_id,
            ),
          ),
        ];
        // Every elastic IP naming one of them is another account's (the i-th IP names instance 3i), found here.
        const [{ holders }] = (await q.query(
          `SELECT count(DISTINCT account_id)::int AS holders FROM resources
            WHERE kind = 'PUBLIC_IP' AND lower(properties->>'InstanceId') = ANY($1) AND account_id <> ALL($2::uuid[])`,
          [machines, loaded],
        )) as Array<{ holders: number }>;
        expect(holders).toBeGreaterThan(0);
        expect(found).toHaveLength(holders);
        const laterPlan = (
          (await q.query(
            `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${NEIGHBOUR_ACCOUNTS_SQL}`,
            later,
          )) as Array<{
            "QUERY PLAN": string;
          }>
        ).map((r) => r["QUERY PLAN"]);
        expect(laterPlan.join("\n")).not.toMatch(/Seq Scan/);
        expect(laterPlan.join("\n")).toMatch(
          /(Index Scan using|Index Only Scan using|Bitmap Index Scan on) resource_reference_keys_tenant_key/,
        );
        const [{ holding }] = (await q.query(
          `SELECT count(*)::int AS holding FROM resources WHERE account_id = ANY($1::uuid[])`,
          [found],
        )) as Array<{ holding: number }>;
        expect(rowsRead(laterPlan)).toBeLessThan(2 * (machines.length + holding));
        expect(rowsRead(laterPlan)).toBeLessThan(tenant / 5);
      },
      async (q) => {
        await q.query(`DELETE FROM resources WHERE tenant_id = 'tenant-a'`);
        await q.query(`DELETE FROM cloud_accounts WHERE tenant_id = 'tenant-a'`);
      },
    );
  });

  it("keeps the networks peering records name in resource_peering_keys, from before the migration on, under the tenant policy", async () => {
    const as = (q: QueryRunner, tenant: string) =>
      q.query(`SELECT set_config('rampart.tenant_id', $1, false)`, [tenant]);
    const keys = async (q: QueryRunner) =>
      (
        (await q.query(
          `SELECT r.name, k.network_key FROM resource_peering_keys k JOIN resources r ON r.id = k.resource_id ORDER BY 1, 2`,
        )) as Array<{ name: string; network_key: string }>
      ).map((k) => `${k.name} ${k.network_key}`);
    const upsert = (
      q: QueryRunner,
      tenant: string,
      name: string,
      type: string,
      kind: string,
      properties: unknown,
    ) =>
      q.query(
        `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, properties)
         SELECT gen_random_uuid(), $1, id, provider, $3, $4, $2, $2, $5::jsonb FROM cloud_accounts WHERE tenant_id = $1
         ON CONFLICT (tenant_id, external_id) DO UPDATE SET type = excluded.type, kind = excluded.kind,
           properties = excluded.properties`,
        [tenant, name, type, kind, JSON.stringify(properties)],
      );
    const peering = { VpcId: " VPC-1", PeerVpcId: "vpc-2", AccepterVpcInfo: { VpcId: "vpc-2" } };
    const vnet = {
      virtualNetworkPeerings: [
        { properties: { remoteVirtualNetwork: { id: "/Subscriptions/X/VNet-1 " } } },
        { remoteVirtualNetwork: "/subscriptions/x/vnet-2" },
        { properties: { remoteVirtualNetwork: "" } },
        "not a peering",
      ],
    };
    await withRunner(
      "posture",
      async (q) => {
        const migration = new ResourceNetworkReverseKeys1767290000000();
        await migration.down(q);
        for (const tenant of ["tenant-a", "tenant-b"]) {
          await as(q, tenant);
          await q.query(
            `INSERT INTO cloud_accounts (id, tenant_id, provider, external_id, name)
             VALUES (gen_random_uuid(), $1, 'AWS', 'acct-' || $1, 'Keys')`,
            [tenant],
          );
          await upsert(q, tenant, `pcx-${tenant}`, "AWS::EC2::VPCPeeringConnection", "OTHER", peering);
        }
        await migration.up(q);
        // Rows written before the migration: each tenant sees its own keys.
        expect(await keys(q)).toEqual(["pcx-tenant-b vpc-1", "pcx-tenant-b vpc-2"]);
        await as(q, "tenant-a");
        expect(await keys(q)).toEqual(["pcx-tenant-a vpc-1", "pcx-tenant-a vpc-2"]);
        // Written with the resource: an Azure VNet's remote VNets (not its blank or malformed records), nothing
        // for a resource that records no peering.
        await upsert(q, "tenant-a", "vnet", "Microsoft.Network/virtualNetworks", "VIRTUAL_NETWORK", vnet);
        await upsert(q, "tenant-a", "subnet", "AWS::EC2::Subnet", "SUBNET", { VpcId: "vpc-1" });
        expect(await keys(q)).toEqual([
          "pcx-tenant-a vpc-1",
          "pcx-tenant-a vpc-2",
          "vnet /subscriptions/x/vnet-1",
          "vnet /subscriptions/x/vnet-2",
        ]);
        // Updated with it: a changed record, a record that is no peering any more, a deleted one.
        await upsert(q, "tenant-a", "pcx-tenant-a", "AWS::EC2::VPCPeeringConnection", "OTHER", {
          RequesterVpcInfo: { VpcId: "vpc-3" },
          AccepterVpcInfo: { VpcId: "vpc-1" },
        });
        await upsert(q, "tenant-a", "vnet", "AWS::EC2::VPC", "VIRTUAL_NETWORK", vnet);
        expect(await keys(q)).toEqual(["pcx-tenant-a vpc-1", "pcx-tenant-a vpc-3"]);
        await q.query(`DELETE FROM resources WHERE name = 'pcx-tenant-a'`);
        expect(await keys(q)).toEqual([]);
        const [{ forced }] = (await q.query(
          `SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'resources'::regclass`,
        )) as Array<{ forced: boolean }>;
        expect(forced).toBe(true);
      },
      async (q) => {
        for (const tenant of ["tenant-a", "tenant-b"]) {
          await as(q, tenant);
          await q.query(`DELETE FROM resources`);
          await q.query(`DELETE FROM cloud_accounts WHERE name = 'Keys'`);
        }
      },
    );
  });

  it("keeps the resources reference holders name from their side in resource_reference_keys, from before the migration on, under the tenant policy", async () => {
    const as = (q: QueryRunner, tenant: string) =>
      q.query(`SELECT set_config('rampart.tenant_id', $1, false)`, [tenant]);
    const keys = async (q: QueryRunner) =>
      (
        (await q.query(
          `SELECT r.name, k.reference_key FROM resource_reference_keys k JOIN resources r ON r.id = k.resource_id ORDER BY 1, 2`,
        )) as Array<{ name: string; reference_key: string }>
      ).map((k) => `${k.name} ${k.reference_key}`);
    const upsert = (
      q: QueryRunner,
      tenant: string,
      name: string,
      type: string,
      kind: string,
      properties: unknown,
    ) =>
      q.query(
        `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, properties)
         SELECT gen_random_uuid(), $1, id, provider, $3, $4, $2, $2, $5::jsonb FROM cloud_accounts WHERE tenant_id = $1
         ON CONFLICT (tenant_id, external_id) DO UPDATE SET type = excluded.type, kind = excluded.kind,
           properties = excluded.properties`,
        [tenant, name, type, kind, JSON.stringify(properties)],
      );
    const nic = "/subscriptions/X/resourceGroups/RG/providers/Microsoft.Network/networkInterfaces/NIC-1";
    await withRunner(
      "posture",
      async (q) => {
        const migration = new ResourceNetworkReferenceKeys1767320000000();
        await migration.down(q);
        for (const tenant of ["tenant-a", "tenant-b"]) {
          await as(q, tenant);
          await q.query(
            `INSERT INTO cloud_accounts (id, tenant_id, provider, external_id, name)
             VALUES (gen_random_uuid(), $1, 'AWS', 'acct-' || $1, 'Keys')`,
            [tenant],
          );
          await upsert(q, tenant, `eip-${tenant}`, "AWS::EC2::EIP", "PUBLIC_IP", { InstanceId: " I-1" });
        }
        await migration.up(q);
        // Rows written before the migration: each tenant sees its own keys.
        expect(await keys(q)).toEqual(["eip-tenant-b i-1"]);
        await as(q, "tenant-a");
        expect(await keys(q)).toEqual(["eip-tenant-a i-1"]);
        // Written with the resource: an instance's groups (both shapes), an Azure NSG's subnets and NICs, a public
        // IP's NIC, a NIC's VM; nothing for blank or malformed references, nor for a resource that names none.
        await upsert(q, "tenant-a", "i-2", "AWS::EC2::Instance", "VIRTUAL_MACHINE", {
          SecurityGroups: [{ GroupId: "SG-1" }, "sg-2", { GroupName: "web" }],
          SecurityGroupIds: ["sg-3", 7, " "],
        });
        await upsert(
          q,
          "tenant-a",
          "nsg",
          "Microsoft.Network/networkSecurityGroups",
          "NETWORK_SECURITY_GROUP",
          {
            subnets: [{ id: `${nic}/../subnets/S-1` }, "not an object", { name: "no id" }],
            networkInterfaces: [{ id: nic }],
          },
        );
        await upsert(q, "tenant-a", "pip", "Microsoft.Network/publicIPAddresses", "PUBLIC_IP", {
          ipConfiguration: { id: `${nic}/ipConfigurations/ipconfig1` },
        });
        await upsert(q, "tenant-a", "nic", "Microsoft.Network/networkInterfaces", "NETWORK_INTERFACE", {
          virtualMachine: "/subscriptions/x/VM-1",
        });
        await upsert(q, "tenant-a", "vpc", "AWS::EC2::VPC", "VIRTUAL_NETWORK", { InstanceId: "i-1" });
        expect(await keys(q)).toEqual([
          "eip-tenant-a i-1",
          "i-2 sg-1",
          "i-2 sg-2",
          "i-2 sg-3",
          `nic /subscriptions/x/vm-1`,
          `nsg ${nic.toLowerCase()}`,
          `nsg ${nic.toLowerCase()}/../subnets/s-1`,
          "nsg not an object",
          `pip ${nic.toLowerCase()}`,
        ]);
        // Updated with it: a changed association, a resource that holds none any more, a deleted one.
        await upsert(q, "tenant-a", "eip-tenant-a", "AWS::EC2::EIP", "PUBLIC_IP", { InstanceId: "i-9" });
        await upsert(q, "tenant-a", "i-2", "AWS::EC2::VPC", "VIRTUAL_NETWORK", {});
        await q.query(`DELETE FROM resources WHERE name IN ('nsg', 'pip', 'nic')`);
        expect(await keys(q)).toEqual(["eip-tenant-a i-9"]);
        const [{ forced }] = (await q.query(
          `SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'resources'::regclass`,
        )) as Array<{ forced: boolean }>;
        expect(forced).toBe(true);
      },
      async (q) => {
        for (const tenant of ["tenant-a", "tenant-b"]) {
          await as(q, tenant);
          await q.query(`DELETE FROM resources`);
          await q.query(`DELETE FROM cloud_accounts WHERE name = 'Keys'`);
        }
      },
    );
  });

  it("reads a resource's JIT audit trail from an index under the tenant policy", async () => {
    await withRunner(
      "protection",
      async (q) => {
        // 50,000 audit entries, one in ten a JIT step of one of 500 resources.
        await q.query(
          `INSERT INTO audit_log (tenant_id, actor, action, target, details)
         SELECT 'tenant-a', 'alice', CASE WHEN i % 10 = 0 THEN 'jit.request.approved' ELSE 'plans.set' END, 'x',
                jsonb_build_object('resourceId', 'vm-' || (i % 500), 'requestId', 'req-' || i)
         FROM generate_series(1, 50000) i`,
        );
        await q.query(`ANALYZE audit_log`);
        // The statement of JitService.auditLog.
        const sql = `SELECT id FROM audit_log WHERE tenant_id = $1 AND jit_resource_id = $2 ORDER BY id DESC LIMIT 11`;
        const rows = (await q.query(sql, ["tenant-a", "vm-10"])) as Array<{ id: string }>;
        expect(rows).toHaveLength(11);
        const [{ n }] = (await q.query(
          `SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND jit_resource_id = $2`,
          ["tenant-a", "vm-10"],
        )) as Array<{ n: number }>;
        // vm-10: i ≡ 10 (mod 500), all of them multiples of 10.
        expect(n).toBe(100);
        const plan = await planOf(q, sql, ["tenant-a", "vm-10"]);
        expect(plan).toMatch(
          /Index Cond: \(\(tenant_id = 'tenant-a'::text\) AND \(jit_resource_id = 'vm-10'::text\)\)/,
        );
        expect(plan).toMatch(/audit_log_jit_resource/);
      },
      (q) => q.query(`DELETE FROM audit_log WHERE tenant_id = 'tenant-a'`),
    );
  });
  it("reads the audit trail by actor, action (exact or prefix), target and time window from indexes under the tenant policy", async () => {
    await withRunner(
      "siem",
      async (q) => {
        // 60,000 entries over 60,000 minutes: 200 actors, six common actions and a rare one, 3,000 targets.
        await q.query(
          `INSERT INTO audit_log (tenant_id, actor, action, target, at)
           SELECT 'tenant-a', 'user-' || (i % 200) || '@example.com',
                  CASE WHEN i % 500 = 0 THEN 'exemptions.delete'
                       ELSE (ARRAY['rules.rule.created', 'rules.rule.updated', 'rules.rule.deleted', 'incident.closed',
                                   'incident.updated', 'playbooks.run'])[1 + i % 6] END,
                  'incident:' || (i % 3000), '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute'
           FROM generate_series(1, 60000) i`,
        );
        await q.query(`ANALYZE audit_log`);
        const first = { first: 50 };
        // Pages of 50 read 51 rows: the extra one tells a next page exists.
        const read = async (filter: AuditTrailFilter, page: Page = first) => {
          const { list } = auditTrailSql("tenant-a", filter, page);
          const rows = (await q.query(list.sql, list.params)) as Array<{
            id: string;
            action: string;
            actor: string;
            target: string;
            cursor_time: string;
          }>;
          const plan = await planOf(q, list.sql, list.params);
          const used = [
            ...plan.matchAll(/(?:Index Scan(?: Backward)? using|Bitmap Index Scan on) (\S+)/g),
          ].map((m) => m[1]);
          return { rows, used: [...new Set(used)], plan };
        };
        const byActor = await read({ actor: "user-7@example.com" });
        expect(byActor.rows).toHaveLength(51);
        expect(new Set(byActor.rows.map((r) => r.actor))).toEqual(new Set(["user-7@example.com"]));
        expect(byActor.used).toEqual(["audit_log_tenant_actor_at"]);
        const byTarget = await read({ target: "incident:42" });
        expect(byTarget.rows).toHaveLength(20);
        expect(byTarget.used).toEqual(["audit_log_tenant_target_at"]);
        const window = { from: new Date("2026-01-20T00:00:00Z"), to: new Date("2026-01-21T00:00:00Z") };
        const closed = await read({ action: "incident.closed", ...window });
        // One in six of a day's 1,440 minutes.
        expect(closed.rows).toHaveLength(51);
        expect(closed.used).toEqual(["audit_log_tenant_action_at"]);
        expect(closed.plan).toMatch(/Index Cond: .*action.*at >=.*at </);
        const rules = await read({ action: "rules.rule.*", ...window }, { first: 1000 });
        // Three actions of six over the day (but minutes 27,500 and 28,500, the rare action's), and no other.
        expect(rules.rows).toHaveLength(718);
        expect(new Set(rules.rows.map((r) => r.action))).toEqual(
          new Set(["rules.rule.created", "rules.rule.updated", "rules.rule.deleted"]),
        );
        // Half the trail is `rules.*` but a day is 1/42 of it: the time index is the better one here.
        expect(rules.used).toEqual(["audit_log_tenant_at"]);
        expect(rules.plan).not.toMatch(/Seq Scan/);
        // A rare prefix over the whole history: a range of the action index.
        const rare = await read({ action: "exemptions.*" });
        expect(rare.rows).toHaveLength(51);
        expect(new Set(rare.rows.map((r) => r.action))).toEqual(new Set(["exemptions.delete"]));
        expect(rare.used).toEqual(["audit_log_tenant_action_at"]);
        const all = await read(window);
        expect(all.used).toEqual(["audit_log_tenant_at"]);
        // The next page starts right after the cursor, from the same index.
        const last = byActor.rows[49];
        const next = await read(
          { actor: "user-7@example.com" },
          { first: 50, after: [last.cursor_time, last.id] },
        );
        expect(next.rows[0].id).toBe(byActor.rows[50].id);
        expect(next.used).toEqual(["audit_log_tenant_actor_at"]);
      },
      (q) => q.query(`DELETE FROM audit_log WHERE tenant_id = 'tenant-a'`),
    );
  });
});
