import { Client } from "pg";
import { createLogger, loadConfig, type Config } from "../subgraphs/common/src";
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
});
