import { Client } from "pg";
import {
  createDataSource,
  createLogger,
  loadConfig,
  subgraphDatabaseUrl,
  type Config,
} from "../subgraphs/common/src";
import { EventsStorage1765700000000 } from "../migrations/siem/1765700000000-events-storage";
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
    const ds = createDataSource({
      url: subgraphDatabaseUrl(config, "siem"),
      schema: "siem",
      subgraph: "siem",
      entities: [],
      poolSize: 1,
      logger: log,
    });
    await ds.initialize();
    const q = ds.createQueryRunner();
    const migration = new EventsStorage1765700000000();
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
    try {
      // Back to the old shape, with a partition holding an event, then forward again.
      await q.query(`SELECT set_config('rampart.tenant_id', 'tenant-a', false)`);
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
    } finally {
      await q.query(`DROP TABLE IF EXISTS events_p20261101`);
      await q.release();
      await ds.destroy();
    }
  });
});
