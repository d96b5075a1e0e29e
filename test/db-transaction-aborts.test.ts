import type { DataSource } from "typeorm";
import {
  createDataSource,
  createLogger,
  ErrorCode,
  formatError,
  inSystemScope,
  inTenant,
  TransactionAbortedError,
} from "../subgraphs/common/src";
import { GraphQLError } from "graphql";
import { createTestDatabase, type TestDatabase } from "./utils/database";

/**
 * A transaction Postgres rolls back because of a concurrent one (a deadlock, a serialization failure) has written
 * nothing and would most likely succeed if sent again: the caller gets UNAVAILABLE with the reason (an ingest
 * route 503 with Retry-After), not a masked INTERNAL_SERVER_ERROR "deadlock detected".
 */
describe("transactions aborted by a concurrent one", () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource({
      subgraph: "abort-test",
      url: db.url,
      schema: "public",
      entities: [],
      poolSize: 4,
      logger: createLogger("test", "silent"),
    });
    await ds.initialize();
    await ds.query(`CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)`);
    await ds.query(`INSERT INTO counters VALUES (1, 0), (2, 0)`);
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it("answers the victim of a deadlock UNAVAILABLE (DEADLOCK) with nothing of it written, and commits the other", async () => {
    // Two transactions lock the two rows in opposite orders; each takes its first row before either asks for
    // its second.
    let arrived = 0;
    let release!: () => void;
    const bothHoldOne = new Promise<void>((resolve) => (release = resolve));
    const lockedFirst = () => {
      if (++arrived === 2) release();
      return bothHoldOne;
    };
    const transfer = (first: number, second: number) =>
      inTenant(ds, "tenant-abort", async (m) => {
        await m.query(`UPDATE counters SET n = n + 1 WHERE id = $1`, [first]);
        await lockedFirst();
        await m.query(`UPDATE counters SET n = n + 10 WHERE id = $1`, [second]);
        return `${first}->${second}`;
      });
    const outcomes = await Promise.allSettled([transfer(1, 2), transfer(2, 1)]);
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    const done = outcomes.filter((o): o is PromiseFulfilledResult<string> => o.status === "fulfilled");
    expect(failed).toHaveLength(1);
    expect(done).toHaveLength(1);
    const error = failed[0].reason as TransactionAbortedError;
    expect(error).toBeInstanceOf(TransactionAbortedError);
    expect(error.code).toBe(ErrorCode.Unavailable);
    expect(error.extensions.reason).toBe("DEADLOCK");
    // Only the committed transaction's two updates are there.
    const rows = (await ds.query(`SELECT id, n FROM counters ORDER BY id`)) as Array<{
      id: number;
      n: number;
    }>;
    const [first] = done[0].value.split("->").map(Number);
    expect(rows).toEqual([1, 2].map((id) => ({ id, n: id === first ? 1 : 10 })));

    // A client sees it typed, the message saying nothing was written.
    const formatted = formatError(
      { message: error.message, extensions: error.extensions },
      new GraphQLError(error.message, { originalError: error }),
      { maskInternal: true },
    );
    expect(formatted.extensions).toEqual({ code: ErrorCode.Unavailable, reason: "DEADLOCK" });
    expect(formatted.message).toMatch(/Nothing was written; send it again/);
  });

  it("answers a serialization failure the same way, in the tenant's and in the system scope", async () => {
    const fail = `DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END $$`;
    await expect(inTenant(ds, "tenant-abort", (m) => m.query(fail))).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
      extensions: { code: ErrorCode.Unavailable, reason: "SERIALIZATION_FAILURE" },
    });
    await expect(inSystemScope(ds, (m) => m.query(fail))).rejects.toBeInstanceOf(TransactionAbortedError);
    // Any other failure stays what it was.
    await expect(inTenant(ds, "tenant-abort", (m) => m.query(`SELECT 1/0`))).rejects.not.toBeInstanceOf(
      TransactionAbortedError,
    );
  });
});
