import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { compileCorrelationSql, type NamedFilter } from "./rule-correlation";

/**
 * The correlation statement against Postgres: a temporary `events` table (it hides any other in this session)
 * with the columns the filters read, the statement as the runner builds it, and its groups compared with what
 * the definition says — by hand for the edge cases, and against an exhaustive search over random events.
 */

/** An event of the test table: its account, its minute and the filters (by index) it is made to match. */
interface TestEvent {
  tenant?: string;
  user: string | null;
  minute: number;
  steps: number[];
}

/** Filter k matches the events whose attributes say `step<k>: true`, so one event can match several. */
const stepFilters = (count: number): NamedFilter[] =>
  Array.from({ length: count }, (_, k) => ({
    name: `step ${k}`,
    filter: { field: `attributes.step${k}`, op: "eq", value: true },
  }));

const BASE = Date.parse("2026-11-20T09:00:00Z");
const timeOf = (minute: number) => new Date(BASE + minute * 60_000);

/** The longest prefix of filters matched in order, by trying every choice of events (the definition itself). */
function inOrder(events: readonly TestEvent[], filters: number): number {
  const longest = (k: number, after: number): number => {
    if (k === filters) return 0;
    let best = 0;
    for (const e of events) {
      if (e.minute > after && e.steps.includes(k)) best = Math.max(best, 1 + longest(k + 1, e.minute));
      if (best === filters - k) break;
    }
    return best;
  };
  return longest(0, Number.NEGATIVE_INFINITY);
}

/** How many filters matched at least one event. */
const matched = (events: readonly TestEvent[], filters: number) =>
  Array.from({ length: filters }, (_, k) => k).filter((k) => events.some((e) => e.steps.includes(k))).length;

describe("compileCorrelationSql (Postgres)", () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(
      `CREATE TEMP TABLE events (id uuid PRIMARY KEY, tenant_id text, time timestamptz, actor_user text, attributes jsonb)`,
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
      const attributes = Object.fromEntries(e.steps.map((k) => [`step${k}`, true]));
      await client.query(
        `INSERT INTO events (id, tenant_id, time, actor_user, attributes) VALUES ($1, $2, $3, $4, $5)`,
        [id, e.tenant ?? "t1", timeOf(e.minute), e.user, JSON.stringify(attributes)],
      );
    }
    return ids;
  }

  /** The statement's rows for tenant t1, grouped by account unless `byUser` is false. */
  async function run(
    filters: number,
    ordered: boolean,
    options: { operator?: string; threshold?: number; byUser?: boolean } = {},
  ): Promise<Array<Record<string, unknown>>> {
    const params: unknown[] = ["t1"];
    const sql = compileCorrelationSql(
      {
        groupBy: options.byUser === false ? [] : ["e.actor_user"],
        filters: stepFilters(filters),
        ordered,
        where: "e.tenant_id = $1",
        params,
        operator: options.operator ?? ">=",
        threshold: options.threshold ?? 0,
        limit: 1000,
      },
      50,
    );
    return (await client.query(sql, params)).rows;
  }

  /** Per account: the aggregate of every group (a GTE 0 trigger keeps them all). */
  async function aggregates(filters: number, ordered: boolean): Promise<Record<string, number>> {
    const rows = await run(filters, ordered);
    return Object.fromEntries(rows.map((r) => [String(r.g0), r.agg as number]));
  }

  it("counts, per group, the filters that matched and how far they matched in order", async () => {
    await load([
      // 0 then 1: in order.
      { user: "in-order", minute: 1, steps: [0] },
      { user: "in-order", minute: 2, steps: [1] },
      // 1 then 0: both matched, only the first in order.
      { user: "reversed", minute: 1, steps: [1] },
      { user: "reversed", minute: 2, steps: [0] },
      // Only the first filter.
      { user: "missing", minute: 1, steps: [0] },
      { user: "missing", minute: 3, steps: [0] },
      // At the same instant: not in order.
      { user: "same-instant", minute: 4, steps: [0] },
      { user: "same-instant", minute: 4, steps: [1] },
      // One event matching both is not one after the other.
      { user: "one-event", minute: 5, steps: [0, 1] },
      // A 1 before the 0 does not count, a 1 after it does.
      { user: "later", minute: 0, steps: [1] },
      { user: "later", minute: 1, steps: [0] },
      { user: "later", minute: 9, steps: [1] },
      // Another tenant's 1 after this tenant's 0 never completes it.
      { user: "tenant", minute: 1, steps: [0] },
      { tenant: "t2", user: "tenant", minute: 2, steps: [1] },
    ]);
    expect(await aggregates(2, true)).toEqual({
      "in-order": 2,
      reversed: 1,
      missing: 1,
      "same-instant": 1,
      "one-event": 1,
      later: 2,
      tenant: 1,
    });
    expect(await aggregates(2, false)).toEqual({
      "in-order": 2,
      reversed: 2,
      missing: 1,
      "same-instant": 2,
      "one-event": 2,
      later: 2,
      tenant: 1,
    });
  });

  it("takes each step at its first chance after the one before, which finds any chain there is", async () => {
    await load([
      // 0@1, 1@2, 2@3 is a chain; 1@5 alone would leave no 2 after it.
      { user: "a", minute: 1, steps: [0] },
      { user: "a", minute: 5, steps: [1] },
      { user: "a", minute: 3, steps: [2] },
      { user: "a", minute: 2, steps: [1] },
      // The only 2 is before the only 1 that follows a 0.
      { user: "b", minute: 1, steps: [0] },
      { user: "b", minute: 2, steps: [2] },
      { user: "b", minute: 3, steps: [1] },
    ]);
    expect(await aggregates(3, true)).toEqual({ a: 3, b: 2 });
  });

  it("keeps only the groups that meet the trigger, with their evidence, times and newest event", async () => {
    const ids = await load([
      { user: "alex", minute: 1, steps: [0] },
      { user: "alex", minute: 2, steps: [0] },
      { user: "alex", minute: 3, steps: [1] },
      { user: "megan", minute: 1, steps: [1] },
      { user: "megan", minute: 2, steps: [0] },
      { user: null, minute: 4, steps: [0] },
      { user: null, minute: 6, steps: [1] },
    ]);
    const rows = await run(2, true, { operator: ">=", threshold: 2 });
    expect(rows.map((r) => [r.g0, r.agg, r.groups])).toEqual([
      ["alex", 2, 2],
      [null, 2, 2],
    ]);
    const alex = rows[0];
    // Each filter's events from its step on: the chain's own first.
    expect(alex.evidence).toEqual([ids[0], ids[1], ids[2]]);
    expect([alex.first, alex.last]).toEqual([timeOf(1), timeOf(3)]);
    expect(alex.newest).toBe([ids[0], ids[1], ids[2]].sort().at(-1));
    // "Not all in order": Megan, whose 1 came first.
    expect((await run(2, true, { operator: "<", threshold: 2 })).map((r) => [r.g0, r.agg])).toEqual([
      ["megan", 1],
    ]);
  });

  it("without group-by, correlates all events, and still gives one row when none matched", async () => {
    await load([
      { user: "alex", minute: 1, steps: [0] },
      { user: "megan", minute: 2, steps: [1] },
    ]);
    expect((await run(2, true, { byUser: false })).map((r) => r.agg)).toEqual([2]);
    await load([]);
    const [none] = await run(2, true, { byUser: false, operator: "<", threshold: 2 });
    expect([none.agg, none.evidence, none.first, none.newest]).toEqual([0, [], null, null]);
  });

  it("agrees with an exhaustive search on random events", async () => {
    // A small time range makes ties common; some events match several filters, some none of them.
    let seed = 20261120;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 20; round++) {
      const filters = 2 + random(3);
      const events: TestEvent[] = Array.from({ length: 60 }, () => ({
        user: `u${random(12)}`,
        minute: random(15),
        steps: Array.from({ length: filters }, (_, k) => k).filter(() => random(3) === 0),
      }));
      await load(events);
      const users = [...new Set(events.filter((e) => e.steps.length).map((e) => e.user!))];
      const of = (user: string) => events.filter((e) => e.user === user);
      const expectedOrdered = Object.fromEntries(users.map((u) => [u, inOrder(of(u), filters)]));
      const expectedMatched = Object.fromEntries(users.map((u) => [u, matched(of(u), filters)]));
      expect({ round, ordered: await aggregates(filters, true) }).toEqual({
        round,
        ordered: expectedOrdered,
      });
      expect({ round, matched: await aggregates(filters, false) }).toEqual({
        round,
        matched: expectedMatched,
      });
    }
  });
});
