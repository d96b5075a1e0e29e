import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { compileSlidingCountSql } from "./rule-sliding";

/**
 * The sliding-count statement against Postgres: a temporary `events` table (it hides any other in this session)
 * with the columns the statement reads, runs as the runner makes them (anchors in the period, the scan reaching a
 * window before it), and the groups compared with what "N events no more than the window apart" says.
 */

/** An event of the test table: its tenant, account, second and source address. */
interface TestEvent {
  tenant?: string;
  user: string | null;
  second: number;
  ip?: string;
}

const BASE = Date.parse("2026-11-20T09:00:00Z");
const timeOf = (second: number) => new Date(BASE + second * 1000);
const minutes = (n: number) => n * 60;

describe("compileSlidingCountSql (Postgres)", () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(
      `CREATE TEMP TABLE events (id uuid PRIMARY KEY, tenant_id text, time timestamptz, actor_user text, src_ip inet)`,
    );
  });

  afterAll(async () => {
    await client?.end();
  });

  /** Replaces the table's rows; returns the ids given to the events, in order. */
  async function load(events: readonly TestEvent[]): Promise<string[]> {
    await client.query("TRUNCATE events");
    const ids: string[] = [];
    for (const e of events) {
      const id = randomUUID();
      ids.push(id);
      await client.query(
        `INSERT INTO events (id, tenant_id, time, actor_user, src_ip) VALUES ($1, $2, $3, $4, $5)`,
        [id, e.tenant ?? "t1", timeOf(e.second), e.user, e.ip ?? "203.0.113.7"],
      );
    }
    return ids;
  }

  /**
   * The statement's rows for tenant t1 and the run over `[fromSecond, toSecond)`, grouped by account: windows
   * anchored in the period, the scan reaching `windowSeconds` before it, as the runner does.
   */
  async function run(
    fromSecond: number,
    toSecond: number,
    windowSeconds: number,
    options: { operator?: ">" | ">="; threshold: number; distinct?: boolean },
  ): Promise<Array<Record<string, unknown>>> {
    const params: unknown[] = ["t1", timeOf(fromSecond - windowSeconds), timeOf(toSecond)];
    const sql = compileSlidingCountSql(
      {
        groupBy: ["e.actor_user"],
        distinct: options.distinct ? "host(e.src_ip)" : null,
        where: "e.tenant_id = $1 AND e.time >= $2 AND e.time < $3",
        params,
        anchorsFrom: timeOf(fromSecond),
        windowMs: windowSeconds * 1000,
        operator: options.operator ?? ">=",
        threshold: options.threshold,
        limit: 1000,
      },
      50,
    );
    return (await client.query(sql, params)).rows;
  }

  /** The count of the run's fixed window `[fromSecond, toSecond)` per account, as a rule without a window has it. */
  async function fixedCounts(fromSecond: number, toSecond: number): Promise<Record<string, number>> {
    const { rows } = await client.query(
      `SELECT actor_user, count(*)::int AS n FROM events WHERE tenant_id = 't1' AND time >= $1 AND time < $2 GROUP BY 1`,
      [timeOf(fromSecond), timeOf(toSecond)],
    );
    return Object.fromEntries(rows.map((r: { actor_user: string; n: number }) => [r.actor_user, r.n]));
  }

  it("fires on a burst split by a run boundary, in the run whose period holds its newest event, with that burst as evidence", async () => {
    // Ten failures a minute apart from 09:55 to 10:04: five in each hourly run.
    const burst = Array.from({ length: 10 }, (_, i) => ({ user: "bob", second: minutes(55 + i) }));
    const ids = await load(burst);
    expect(await fixedCounts(0, minutes(60))).toEqual({ bob: 5 });
    expect(await fixedCounts(minutes(60), minutes(120))).toEqual({ bob: 5 });

    const window = minutes(10);
    expect(await run(0, minutes(60), window, { threshold: 10 })).toEqual([]);
    const rows = await run(minutes(60), minutes(120), window, { threshold: 10 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ g0: "bob", agg: 10, newest: ids[9], groups: 1 });
    expect(rows[0].evidence).toEqual(ids);
    expect(rows[0].first).toEqual(timeOf(minutes(55)));
    expect(rows[0].last).toEqual(timeOf(minutes(64)));
    // A later run whose period no longer holds the burst's end does not see it again.
    expect(await run(minutes(120), minutes(180), window, { threshold: 10 })).toEqual([]);
  });

  it("never counts events further apart than the window together; exactly the window apart they are", async () => {
    await load([
      // Ten events two minutes apart: at most six (0, 2, … 10) within any ten minutes.
      ...Array.from({ length: 10 }, (_, i) => ({ user: "alice", second: minutes(2 * i) })),
      // Two events exactly ten minutes apart, and two ten minutes and a second apart.
      { user: "edge", second: minutes(20) },
      { user: "edge", second: minutes(30) },
      { user: "apart", second: minutes(20) },
      { user: "apart", second: minutes(30) + 1 },
    ]);
    const window = minutes(10);
    expect(await run(0, minutes(60), window, { threshold: 7 })).toEqual([]);
    const rows = await run(0, minutes(60), window, { threshold: 2 });
    expect(Object.fromEntries(rows.map((r) => [r.g0, r.agg]))).toEqual({ alice: 6, edge: 2 });
    // GT is strict: six is not more than six.
    expect((await run(0, minutes(60), window, { operator: ">", threshold: 6 })).map((r) => r.g0)).toEqual([]);
    expect((await run(0, minutes(60), window, { operator: ">", threshold: 5 })).map((r) => r.g0)).toEqual([
      "alice",
    ]);
  });

  it("never counts another tenant's events, in the window or before it", async () => {
    await load([
      { user: "bob", second: minutes(58) },
      { user: "bob", second: minutes(61) },
      { tenant: "t2", user: "bob", second: minutes(57) },
      { tenant: "t2", user: "bob", second: minutes(59) },
      { tenant: "t2", user: "bob", second: minutes(62) },
    ]);
    const window = minutes(10);
    expect(await run(minutes(60), minutes(120), window, { threshold: 3 })).toEqual([]);
    const rows = await run(minutes(60), minutes(120), window, { threshold: 2 });
    expect(rows.map((r) => [r.g0, r.agg, (r.evidence as string[]).length])).toEqual([["bob", 2, 2]]);
  });

  it("counts distinct values within the window, not within the period", async () => {
    await load([
      // Three addresses within five minutes (one of them twice).
      { user: "carol", second: minutes(1), ip: "198.51.100.1" },
      { user: "carol", second: minutes(2), ip: "198.51.100.1" },
      { user: "carol", second: minutes(3), ip: "198.51.100.2" },
      { user: "carol", second: minutes(5), ip: "198.51.100.3" },
      // Three addresses over the hour, but never two within ten minutes of each other; many events of one.
      { user: "dave", second: minutes(1), ip: "198.51.100.1" },
      { user: "dave", second: minutes(20), ip: "198.51.100.2" },
      { user: "dave", second: minutes(40), ip: "198.51.100.3" },
      ...Array.from({ length: 5 }, (_, i) => ({ user: "dave", second: minutes(41 + i), ip: "198.51.100.3" })),
    ]);
    const window = minutes(10);
    const rows = await run(0, minutes(60), window, { threshold: 2, distinct: true });
    expect(rows.map((r) => [r.g0, r.agg, (r.evidence as string[]).length])).toEqual([["carol", 3, 4]]);
    // The same events counted (not distinct) over the window: Dave's six at 40–45 are a window of six.
    const counted = await run(0, minutes(60), window, { threshold: 4 });
    expect(Object.fromEntries(counted.map((r) => [r.g0, r.agg]))).toEqual({ carol: 4, dave: 6 });
  });
});
