import type { DataSource } from "typeorm";
import { createDataSource, createLogger, DatabaseUnavailableError, RequestDb } from "../subgraphs/common/src";
import { createTestDatabase, type TestDatabase } from "./utils/database";

/**
 * A request that reads and then writes (most mutations: look the target up, then change it) must not hold its
 * read connection while it waits for the write's: with as many such requests at once as the pool has
 * connections, each would hold one and wait for a second for ever. The hostile-input sweep found posture hung
 * this way on concurrent `upsertAssessments`.
 */
describe("RequestDb on a small pool", () => {
  let db: TestDatabase;
  let ds: DataSource;
  const POOL = 2;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource({
      subgraph: "pool-test",
      url: db.url,
      schema: "public",
      entities: [],
      poolSize: POOL,
      logger: createLogger("test", "silent"),
    });
    await ds.initialize();
    await ds.query(`CREATE TABLE written (tenant_id text NOT NULL, n int NOT NULL)`);
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it("finishes more read-then-write requests at once than the pool has connections, and later reads see the writes", async () => {
    const requests = Array.from({ length: POOL * 4 }, () => new RequestDb(ds, "tenant-pool"));
    const work = Promise.all(
      requests.map(async (request, n) => {
        try {
          await request.read((m) => m.query(`SELECT count(*) FROM written`));
          await request.write((m) => m.query(`INSERT INTO written VALUES ('tenant-pool', $1)`, [n]));
          const [row] = (await request.read((m) =>
            m.query(`SELECT count(*)::int AS own FROM written WHERE n = $1`, [n]),
          )) as Array<{ own: number }>;
          return row.own;
        } finally {
          await request.close();
        }
      }),
    );
    const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 10_000).unref());
    expect(await Promise.race([work, timeout])).toEqual(requests.map(() => 1));
  });

  it("finishes more read-then-heavy-read requests at once than the pool has connections (a saved hunt looked up, then run)", async () => {
    // The race sweep found the SIEM hung this way on concurrent `runSavedHunt`.
    const requests = Array.from({ length: POOL * 4 }, () => new RequestDb(ds, "tenant-pool"));
    const work = Promise.all(
      requests.map(async (request) => {
        try {
          await request.read((m) => m.query(`SELECT count(*) FROM written`));
          const runner = await request.heavyRunner();
          try {
            const [row] = (await runner.query(`SELECT 1 AS one`)) as Array<{ one: number }>;
            return row.one;
          } finally {
            await runner.release();
          }
        } finally {
          await request.close();
        }
      }),
    );
    const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 10_000).unref());
    expect(await Promise.race([work, timeout])).toEqual(requests.map(() => 1));
  });

  it("keeps the read transaction while a read is running, and the write still commits", async () => {
    const request = new RequestDb(ds, "tenant-pool");
    try {
      const seen = await request.read(async (m) => {
        await request.write((w) => w.query(`INSERT INTO written VALUES ('tenant-pool', -1)`));
        return (await m.query(`SELECT count(*)::int AS c FROM written WHERE n = -1`)) as Array<{ c: number }>;
      });
      expect(seen).toEqual([{ c: 1 }]);
    } finally {
      await request.close();
    }
  });

  it("gives UNAVAILABLE (POOL_EXHAUSTED) to a read that waits longer than the acquire timeout, and serves it once a connection is free", async () => {
    const small = createDataSource({
      subgraph: "pool-test",
      url: db.url,
      schema: "public",
      entities: [],
      poolSize: 1,
      acquireTimeoutMs: 200,
      logger: createLogger("test", "silent"),
    });
    await small.initialize();
    const holder = small.createQueryRunner();
    try {
      await holder.connect();
      const request = new RequestDb(small, "tenant-pool");
      const refused = await request.read((m) => m.query(`SELECT 1`)).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(DatabaseUnavailableError);
      expect((refused as DatabaseUnavailableError).extensions).toEqual({
        code: "UNAVAILABLE",
        reason: "POOL_EXHAUSTED",
      });
      await request.close();
      await holder.release();
      const served = new RequestDb(small, "tenant-pool");
      expect(await served.read((m) => m.query(`SELECT 1 AS one`))).toEqual([{ one: 1 }]);
      await served.close();
    } finally {
      await holder.release();
      await small.destroy();
    }
  });
});

describe("a database that stops answering", () => {
  it("gives UNAVAILABLE (DATABASE_UNREACHABLE) to the next read, not a driver error", async () => {
    const gone = await createTestDatabase();
    const ds = createDataSource({
      subgraph: "pool-test",
      url: gone.url,
      schema: "public",
      entities: [],
      acquireTimeoutMs: 2000,
      logger: createLogger("test", "silent"),
    });
    try {
      await ds.initialize();
      // Its connections are ended with it: the pool has to open a new one, and cannot.
      await gone.drop();
      const request = new RequestDb(ds, "tenant-pool");
      const refused = await request.read((m) => m.query(`SELECT 1`)).catch((err: unknown) => err);
      await request.close();
      expect(refused).toBeInstanceOf(DatabaseUnavailableError);
      expect((refused as DatabaseUnavailableError).extensions).toEqual({
        code: "UNAVAILABLE",
        reason: "DATABASE_UNREACHABLE",
      });
      expect((refused as DatabaseUnavailableError).message).toBe(
        "The database cannot be reached. Nothing was done; retry later.",
      );
    } finally {
      await ds.destroy().catch(() => undefined);
      await gone.drop().catch(() => undefined);
    }
  });
});
