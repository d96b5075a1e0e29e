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
import { PEERING_RESOURCE_TYPES } from "../subgraphs/posture/src/modules/network/network-topology";
import { migrateAll, migrateAllDown } from "../scripts/lib/platform";
import { createTestDatabase, type TestDatabase } from "./utils/database";

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
