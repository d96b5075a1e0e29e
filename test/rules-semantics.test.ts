import { randomBytes } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import { addJob, inTenant, newId, Role } from "../subgraphs/common/src";
import type { StoredEvent } from "../subgraphs/siem/src/modules/events/event-ingest";
import { runNrtRules, runScheduledRule } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";

/**
 * Analytics rules as a Sentinel user expects them to behave: trigger operators, "fewer than N" rules,
 * overlapping windows, the durable schedule (no gaps, reschedule on change, nothing left behind) and
 * suppression across concurrent ingests. Rules run here through the runner, the real `rule_run` worker and
 * the NRT path; every test has a tenant of its own.
 */
describe("analytics rule semantics", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  const MINUTE = 60_000;
  /** A whole minute a couple of hours back: window ends are derived from it, never from the clock. */
  const base = Math.floor((Date.now() - 2 * 3600_000) / 3600_000) * 3600_000;
  const at = (minutes: number) => new Date(base + minutes * MINUTE);

  beforeAll(async () => {
    platform = await startTestPlatform();
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const gql = async <T>(tenant: string, roles: Role[], query: string, variables: object = {}) =>
    postGraphql<T>(
      platform.gateway.url,
      { query, variables },
      { authorization: `Bearer ${await platform.token(roles, tenant)}` },
    );

  async function createRule(tenant: string, spec: object): Promise<string> {
    const res = await gql<{ createAnalyticsRule: { id: string } }>(
      tenant,
      [Role.ADMIN],
      `mutation ($spec: JSON!) { createAnalyticsRule(spec: $spec) { id } }`,
      { spec },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.createAnalyticsRule.id;
  }

  async function updateRule(tenant: string, id: string, spec: object): Promise<void> {
    const res = await gql(
      tenant,
      [Role.ADMIN],
      `mutation ($id: ID!, $spec: JSON!) { updateAnalyticsRule(id: $id, spec: $spec) { id } }`,
      { id, spec },
    );
    expect(res.errors).toBeUndefined();
  }

  /** A failed OCSF sign-in of `user` from `ip` at `time`. */
  const failure = (uid: string, time: Date, ip = "203.0.113.7", user = "bob@contoso.example") => ({
    class_uid: 3002,
    activity_id: 1,
    status: "Failure",
    time: time.toISOString(),
    metadata: { uid },
    actor: { user: { name: user } },
    src_endpoint: { ip },
  });

  async function ingest(tenant: string, records: object[]): Promise<void> {
    const res = await gql<{ ingestEvents: { acceptedCount: number } }>(
      tenant,
      [Role.INGESTOR],
      `mutation ($records: [JSON!]!) { ingestEvents(connector: OCSF, records: $records) { acceptedCount } }`,
      { records },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.ingestEvents.acceptedCount).toBe(records.length);
  }

  /** Runs a scheduled rule over the window ending at `end`, as the job does. */
  const run = (tenant: string, ruleId: string, end: Date) =>
    inTenant(ds, tenant, async (m) => {
      const [row] = await m.query(`SELECT * FROM analytics_rules WHERE id = $1 FOR UPDATE`, [ruleId]);
      return runScheduledRule(m, tenant, storedRuleFromRow(row), end);
    });

  const alertsOf = (tenant: string, ruleId: string) =>
    inTenant(
      ds,
      tenant,
      (m) =>
        m.query(
          `SELECT source_id, evidence_event_ids::text[] AS evidence, start_time, end_time FROM alerts WHERE rule_id = $1 ORDER BY created_at, source_id`,
          [ruleId],
        ) as Promise<Array<{ source_id: string; evidence: string[]; start_time: Date; end_time: Date }>>,
    );

  const failedSignIns = {
    all: [
      { field: "class_uid", op: "eq", value: 3002 },
      { field: "status", op: "eq", value: "Failure" },
    ],
  };
  const scheduled = (extra: object) => ({
    kind: "SCHEDULED",
    displayName: "Failed sign-ins",
    description: "Failed sign-ins.",
    severity: "MEDIUM",
    filter: failedSignIns,
    queryFrequency: "PT10M",
    queryPeriod: "PT10M",
    entityMappings: [{ entityType: "IP", field: "src_ip" }],
    ...extra,
  });

  it("takes Sentinel's NotEqual trigger (NE), typed and as JSON, and fires when the count differs", async () => {
    const tenant = "sem-ne";
    const typed = await gql<{ createAnalyticsRule: { definition: { trigger: { operator: string } } } }>(
      tenant,
      [Role.ADMIN],
      `mutation { createAnalyticsRule(input: {
         kind: SCHEDULED, displayName: "Not exactly three", description: "", severity: LOW,
         filter: { field: "class_uid", op: "eq", value: 3002 }, trigger: { operator: NE, threshold: 3 },
         queryFrequency: "PT10M", queryPeriod: "PT10M" }) { definition { trigger { operator threshold } } } }`,
    );
    expect(typed.errors).toBeUndefined();
    expect(typed.data!.createAnalyticsRule.definition.trigger).toEqual({ operator: "NE", threshold: 3 });

    const id = await createRule(tenant, scheduled({ trigger: { operator: "NE", threshold: 3 } }));
    await ingest(tenant, [failure("ne-1", at(1)), failure("ne-2", at(2)), failure("ne-3", at(12))]);
    expect(await run(tenant, id, at(10))).toEqual({ alerts: 1, results: 2 }); // 2 ≠ 3
    await ingest(tenant, [failure("ne-4", at(13)), failure("ne-5", at(14))]);
    expect(await run(tenant, id, at(20))).toEqual({ alerts: 0, results: 3 }); // 3 = 3
  });

  it("refuses a threshold on an NRT rule (it would count whatever one ingest batch holds) and stores nothing", async () => {
    const tenant = "sem-nrt-threshold";
    const res = await gql<unknown>(
      tenant,
      [Role.ADMIN],
      `mutation ($spec: JSON!) { createAnalyticsRule(spec: $spec) { id } }`,
      {
        spec: {
          kind: "NRT",
          displayName: "Five denied connections",
          description: "",
          severity: "LOW",
          filter: { field: "class_uid", op: "eq", value: 4001 },
          trigger: { operator: "GT", threshold: 5 },
        },
      },
    );
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(res.errors?.[0].extensions?.problems).toEqual([
      { field: "trigger", message: expect.stringMatching(/^NRT rules fire on every matching event/) },
    ]);
    const [{ n }] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT count(*)::int AS n FROM analytics_rules`),
    );
    expect(n).toBe(0);
  });

  it("raises one alert per run when a 'fewer than N' trigger is met by no event at all", async () => {
    const tenant = "sem-absent";
    // "No failed sign-in from the monitoring probe in the window": the probe stopped (a heartbeat rule).
    const plain = await createRule(tenant, scheduled({ trigger: { operator: "LT", threshold: 1 } }));
    const grouped = await createRule(
      tenant,
      scheduled({
        trigger: { operator: "LT", threshold: 1 },
        summarize: { by: [], aggregate: "COUNT" },
        entityMappings: [],
      }),
    );
    for (const id of [plain, grouped]) {
      expect(await run(tenant, id, at(10))).toMatchObject({ alerts: 1 });
      // The same window again is the same alert.
      expect(await run(tenant, id, at(10))).toMatchObject({ alerts: 0 });
      const [alert] = await alertsOf(tenant, id);
      expect(alert.evidence).toEqual([]);
      expect([alert.start_time, alert.end_time]).toEqual([at(0), at(10)]);
      // The next empty window is another alert.
      expect(await run(tenant, id, at(20))).toMatchObject({ alerts: 1 });
    }
    await ingest(tenant, [failure("absent-1", at(25))]);
    expect(await run(tenant, plain, at(30))).toEqual({ alerts: 0, results: 1 });
    expect(await run(tenant, grouped, at(30))).toEqual({ alerts: 0, results: 0 });
  });

  it("does not raise the same alert twice for the same events when queryPeriod overlaps the previous run", async () => {
    const tenant = "sem-overlap";
    const perGroup = await createRule(
      tenant,
      scheduled({
        queryPeriod: "PT1H",
        summarize: { by: ["src_ip"], aggregate: "COUNT" },
        trigger: { operator: "GTE", threshold: 3 },
        alertPerResult: true,
      }),
    );
    const single = await createRule(
      tenant,
      scheduled({ queryPeriod: "PT1H", trigger: { operator: "GTE", threshold: 3 } }),
    );
    await ingest(tenant, [failure("o-1", at(1)), failure("o-2", at(2)), failure("o-3", at(3))]);
    for (const id of [perGroup, single]) {
      expect(await run(tenant, id, at(10))).toMatchObject({ alerts: 1 });
      // 10 minutes later the window still holds the same three events: nothing new to say.
      expect(await run(tenant, id, at(20))).toMatchObject({ alerts: 0 });
    }
    // A fourth attempt is news: one more alert each, then quiet again.
    await ingest(tenant, [failure("o-4", at(25))]);
    for (const id of [perGroup, single]) {
      expect(await run(tenant, id, at(30))).toMatchObject({ alerts: 1 });
      expect(await run(tenant, id, at(40))).toMatchObject({ alerts: 0 });
      expect((await alertsOf(tenant, id)).map((a) => a.evidence.length)).toEqual([3, 4]);
    }
  });

  it("counts over a sliding summarize.window: a burst split by a run boundary fires once, events further apart never", async () => {
    const tenant = "sem-sliding";
    const other = "sem-sliding-other";
    const fourPerAddress = (extra: object) =>
      scheduled({
        summarize: { by: ["src_ip"], aggregate: "COUNT", ...extra },
        trigger: { operator: "GTE", threshold: 4 },
        alertPerResult: true,
      });
    const fixed = await createRule(tenant, fourPerAddress({}));
    const sliding = await createRule(tenant, fourPerAddress({ window: "PT10M" }));
    // A period twice the frequency: two runs see each burst.
    const overlapping = await createRule(tenant, {
      ...fourPerAddress({ window: "PT10M" }),
      queryPeriod: "PT20M",
    });
    const theirs = await createRule(other, fourPerAddress({ window: "PT10M" }));
    const burst = "198.51.100.10";
    const spread = "198.51.100.20";
    await ingest(tenant, [
      // Four failures from 07 to 12: two in each 10-minute run.
      ...[7, 8, 11, 12].map((minute) => failure(`s-burst-${minute}`, at(minute), burst)),
      // Four failures twelve minutes apart from first to last: never four within ten minutes.
      ...[1, 5, 9, 13].map((minute) => failure(`s-spread-${minute}`, at(minute), spread)),
    ]);
    // The other tenant's failures would make four of the same address's within ten minutes.
    await ingest(other, [failure("o-burst-9", at(9), burst), failure("o-burst-10", at(10), burst)]);
    await ingest(other, [failure("o-burst-13", at(13), burst)]);

    for (const end of [10, 20, 30]) expect(await run(tenant, fixed, at(end))).toMatchObject({ alerts: 0 });
    expect(await run(tenant, sliding, at(10))).toEqual({ alerts: 0, results: 0 });
    expect(await run(tenant, sliding, at(20))).toEqual({ alerts: 1, results: 1 });
    expect(await run(tenant, sliding, at(30))).toEqual({ alerts: 0, results: 0 });
    expect(await run(tenant, overlapping, at(20))).toEqual({ alerts: 1, results: 1 });
    // The next run's period still holds the burst: the same events, no second alert.
    expect(await run(tenant, overlapping, at(30))).toEqual({ alerts: 0, results: 1 });
    for (const id of [sliding, overlapping]) {
      const alerts = await alertsOf(tenant, id);
      expect(alerts).toHaveLength(1);
      expect(alerts[0].evidence).toHaveLength(4);
      expect([alerts[0].start_time, alerts[0].end_time]).toEqual([at(7), at(12)]);
    }
    expect(await run(other, theirs, at(20))).toEqual({ alerts: 0, results: 0 });

    // "Fewer than N within some window" has no meaning a run could check: refused, naming the field.
    const res = await gql<unknown>(
      tenant,
      [Role.ADMIN],
      `mutation ($spec: JSON!) { createAnalyticsRule(spec: $spec) { id } }`,
      { spec: { ...fourPerAddress({ window: "PT10M" }), trigger: { operator: "LT", threshold: 4 } } },
    );
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(res.errors?.[0].extensions?.problems).toEqual([
      {
        field: "trigger.operator",
        message: expect.stringMatching(/^a sliding summarize\.window takes GT or GTE/),
      },
    ]);
  });

  it("fires a correlation of named filters per account when they all matched (in order, for the ordered one), never on another tenant's events", async () => {
    const tenant = "sem-correlation";
    const other = "sem-correlation-other";
    const status = (value: string) => ({ field: "status", op: "eq", value });
    const correlation = (aggregate: string) =>
      scheduled({
        filter: { field: "class_uid", op: "eq", value: 3002 },
        queryPeriod: "PT1H",
        summarize: {
          by: ["actor_user"],
          aggregate,
          filters: [
            { name: "failure", filter: status("Failure") },
            { name: "success", filter: status("Success") },
          ],
        },
        trigger: { operator: "GTE", threshold: 2 },
        entityMappings: [{ entityType: "ACCOUNT", field: "actor_user" }],
        alertPerResult: true,
      });
    const ordered = await createRule(tenant, correlation("FILTERS_MATCHED_IN_ORDER"));
    const unordered = await createRule(tenant, correlation("FILTERS_MATCHED"));
    const theirs = await createRule(other, correlation("FILTERS_MATCHED_IN_ORDER"));
    const success = (uid: string, time: Date, user: string) => ({
      ...failure(uid, time, "203.0.113.7", user),
      status: "Success",
    });
    await ingest(tenant, [
      // Bob fails, then signs in; Carol signs in, then fails; Erin both at once; Dave only fails here.
      failure("c-bob-1", at(1), "203.0.113.7", "bob"),
      success("c-bob-2", at(5), "bob"),
      success("c-carol-1", at(2), "carol"),
      failure("c-carol-2", at(6), "203.0.113.7", "carol"),
      failure("c-erin-1", at(4), "203.0.113.7", "erin"),
      success("c-erin-2", at(4), "erin"),
      failure("c-dave-1", at(3), "203.0.113.7", "dave"),
    ]);
    // The other tenant has Dave's success after his failure, and a sequence of its own for Frank.
    await ingest(other, [
      success("o-dave-2", at(8), "dave"),
      failure("o-frank-1", at(1), "203.0.113.7", "frank"),
    ]);
    const alerted = (tenantId: string, ruleId: string) =>
      inTenant(ds, tenantId, async (m) =>
        (
          (await m.query(
            `SELECT a.entities, array_agg(e.source_event_id ORDER BY e.source_event_id) AS events
             FROM alerts a CROSS JOIN LATERAL unnest(a.evidence_event_ids) AS ev(id) JOIN events e ON e.id = ev.id
             WHERE a.rule_id = $1 GROUP BY a.id, a.entities ORDER BY a.entities::text`,
            [ruleId],
          )) as Array<{ entities: Array<{ value: string }>; events: string[] }>
        ).map((a) => [a.entities.map((x) => x.value).join(), a.events]),
      );
    expect(await run(tenant, ordered, at(10))).toEqual({ alerts: 1, results: 1 });
    expect(await alerted(tenant, ordered)).toEqual([["bob", ["c-bob-1", "c-bob-2"]]]);
    expect(await run(tenant, unordered, at(10))).toEqual({ alerts: 3, results: 3 });
    expect(await alerted(tenant, unordered)).toEqual([
      ["bob", ["c-bob-1", "c-bob-2"]],
      ["carol", ["c-carol-1", "c-carol-2"]],
      ["erin", ["c-erin-1", "c-erin-2"]],
    ]);
    expect(await run(other, theirs, at(10))).toEqual({ alerts: 0, results: 0 });
    // Frank's success, ten minutes later in an overlapping window, completes his sequence there only.
    await ingest(other, [success("o-frank-2", at(12), "frank")]);
    expect(await run(other, theirs, at(20))).toEqual({ alerts: 1, results: 1 });
    expect(await alerted(other, theirs)).toEqual([["frank", ["o-frank-1", "o-frank-2"]]]);
    expect(await run(tenant, ordered, at(20))).toEqual({ alerts: 0, results: 1 });
  });

  /** The pending `rule_run` job of a rule, if any (graphile-worker's public view leaves the payload out). */
  const pendingRun = async (ruleId: string) => {
    const rows: Array<{ run_at: Date; payload: { windowEnd?: string }; locked_at: Date | null }> =
      await ds.query(`SELECT run_at, payload, locked_at FROM siem_jobs._private_jobs WHERE key = $1`, [
        `rule:${ruleId}`,
      ]);
    return rows[0];
  };

  async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    for (let i = 0; ; i++) {
      const value = await probe();
      if (done(value) || i === 100) return value;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it("runs each scheduled window as the job planned it, and catches up windows a stopped worker missed", async () => {
    const tenant = "sem-catch-up";
    const id = await createRule(
      tenant,
      scheduled({ queryFrequency: "PT5M", queryPeriod: "PT5M", alertPerResult: true }),
    );
    // The worker was down: the run planned for the window ending at base+5m is still pending 1–2 hours later.
    // A failed sign-in at base+7m belongs to the window ending at base+10m, long past.
    await ingest(tenant, [failure("late-1", at(7))]);
    await inTenant(ds, tenant, (m: EntityManager) =>
      addJob(
        m,
        "siem",
        "rule_run",
        { tenantId: tenant, ruleId: id, windowEnd: at(5).toISOString() },
        { runAt: at(6), jobKey: `rule:${id}` },
      ),
    );
    const alerts = await waitFor(
      () => alertsOf(tenant, id),
      (list) => list.length > 0,
    );
    expect(alerts.map((a) => a.source_id)).toEqual([expect.stringContaining(id)]);
    // The runs keep to the cadence of the planned windows: the next one ends a frequency after the last.
    const caughtUp = await waitFor(
      () => pendingRun(id),
      (job) => !!job && job.run_at.getTime() > Date.now(),
    );
    const [{ last_run_at: last }] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT last_run_at FROM analytics_rules WHERE id = $1`, [id]),
    );
    expect((last.getTime() - base) % (5 * MINUTE)).toBe(0);
    expect(caughtUp.payload.windowEnd).toBe(new Date(last.getTime() + 5 * MINUTE).toISOString());
  });

  it("reschedules a rule on update without losing its cadence, and drops its pending run when disabled", async () => {
    const tenant = "sem-reschedule";
    const definition = scheduled({ queryFrequency: "PT10M", queryPeriod: "PT10M" });
    const id = await createRule(tenant, definition);
    expect(await pendingRun(id)).toBeDefined();

    // Its last run covered the window ending 5 minutes ago; at PT15M the next window ends 15 minutes after that.
    const lastEnd = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE);
    await inTenant(ds, tenant, (m) =>
      m.query(`UPDATE analytics_rules SET last_run_at = $2 WHERE id = $1`, [id, lastEnd]),
    );
    await updateRule(tenant, id, { ...definition, queryFrequency: "PT15M", queryPeriod: "PT15M" });
    const next = await pendingRun(id);
    expect(next.payload.windowEnd).toBe(new Date(lastEnd.getTime() + 15 * MINUTE).toISOString());
    // It starts a little after its window ends, so events of the window's last seconds have arrived.
    expect(next.run_at.getTime()).toBeGreaterThan(lastEnd.getTime() + 15 * MINUTE);

    await updateRule(tenant, id, { ...definition, enabled: false });
    expect(await pendingRun(id)).toBeUndefined();
    await updateRule(tenant, id, {
      ...definition,
      kind: "NRT",
      queryFrequency: undefined,
      queryPeriod: undefined,
    });
    expect(await pendingRun(id)).toBeUndefined();
    await updateRule(tenant, id, definition);
    expect(await pendingRun(id)).toBeDefined();
  });

  it("keeps a suppressed NRT rule quiet when two ingests of the same tenant fire it at the same time", async () => {
    const tenant = "sem-nrt-suppress";
    const id = await createRule(tenant, {
      kind: "NRT",
      displayName: "Connection to 4444",
      description: "Outbound connection to a common reverse-shell port.",
      severity: "HIGH",
      filter: { field: "dst_port", op: "eq", value: 4444 },
      entityMappings: [{ entityType: "IP", field: "src_ip" }],
      suppression: { enabled: true, duration: "PT1H" },
    });
    // Both ingests read the enabled NRT rules before either has fired (what concurrent batches do).
    const rules = await inTenant(ds, tenant, async (m) =>
      (await m.query(`SELECT * FROM analytics_rules WHERE id = $1`, [id])).map(storedRuleFromRow),
    );
    const event = (port: number): StoredEvent =>
      ({
        id: newId(),
        connector: "OCSF",
        source_event_id: newId(),
        time: new Date().toISOString(),
        class_uid: 4001,
        activity_id: 1,
        severity_id: 1,
        status: "Success",
        message: null,
        actor_user: null,
        src_ip: "10.0.0.8",
        src_port: 50000,
        dst_ip: "198.51.100.4",
        dst_port: port,
        device: null,
        resource_id: null,
        operation: null,
        src_country: null,
        attributes: {},
      }) as unknown as StoredEvent;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let first!: () => void;
    const fired = new Promise<void>((resolve) => (first = resolve));
    const a = inTenant(ds, tenant, async (m) => {
      const n = await runNrtRules(m, tenant, rules, [event(4444)], new Date());
      first();
      await held;
      return n;
    });
    await fired;
    const b = inTenant(ds, tenant, (m) => runNrtRules(m, tenant, rules, [event(4444)], new Date()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    expect(await a).toBe(1);
    expect(await b).toBe(0);
    expect(await alertsOf(tenant, id)).toHaveLength(1);
  });

  it("maps only values of an entity's kind: an object, a non-address IP or an oversized value is left out, not a failed ingest", async () => {
    const tenant = "sem-entity-values";
    const id = await createRule(tenant, {
      kind: "NRT",
      displayName: "Failed sign-ins, entities from attributes",
      description: "Failed sign-ins.",
      severity: "LOW",
      filter: failedSignIns,
      entityMappings: [
        { entityType: "IP", field: "attributes.claimed_ip" },
        { entityType: "URL", field: "attributes.referrer" },
        { entityType: "ACCOUNT", field: "attributes.who" },
        { entityType: "HOST", field: "attributes.hosts" },
        { entityType: "IP", field: "src_ip" },
      ],
    });
    await ingest(tenant, [
      {
        ...failure("entity-values-1", at(3)),
        claimed_ip: "not-an-address",
        // Random, so that Postgres cannot compress it into an index entry.
        referrer: `https://example.test/${randomBytes(1600).toString("hex")}`,
        who: { name: "bob" },
        hosts: ["ws-1", { nested: true }, 7, "WS-1"],
      },
    ]);
    const [alert] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT entities FROM alerts WHERE rule_id = $1`, [id]),
    );
    expect(alert.entities).toEqual([
      { type: "HOST", value: "ws-1" },
      { type: "HOST", value: "7" },
      { type: "IP", value: "203.0.113.7" },
    ]);
  });

  it("raises at most 150 alerts a run, the last one summing up the results left, once", async () => {
    const tenant = "sem-overflow";
    const events = Array.from({ length: 160 }, (_, i) =>
      failure(`overflow-${i}`, new Date(at(1).getTime() + i * 1000), `198.51.100.${i + 1}`),
    );
    await ingest(tenant, events);
    const perEvent = await createRule(tenant, scheduled({ alertPerResult: true }));
    expect(await run(tenant, perEvent, at(10))).toEqual({ alerts: 150, results: 160 });
    const titled = (ruleId: string) =>
      inTenant(ds, tenant, (m) =>
        m.query(
          `SELECT title, evidence_event_ids::text[] AS evidence FROM alerts WHERE rule_id = $1 AND title LIKE '%more result%'`,
          [ruleId],
        ),
      ) as Promise<Array<{ title: string; evidence: string[] }>>;
    const [summary] = await titled(perEvent);
    expect(summary.title).toBe("Failed sign-ins — and 11 more results");
    expect(summary.evidence).toHaveLength(11);
    // The same events again (an overlapping window): nothing new.
    expect(await run(tenant, perEvent, at(10))).toEqual({ alerts: 0, results: 160 });

    const perGroup = await createRule(
      tenant,
      scheduled({
        alertPerResult: true,
        summarize: { by: ["src_ip"], aggregate: "COUNT" },
        trigger: { operator: "GTE", threshold: 1 },
      }),
    );
    expect(await run(tenant, perGroup, at(10))).toEqual({ alerts: 150, results: 160 });
    expect((await titled(perGroup)).map((a) => a.title)).toEqual(["Failed sign-ins — and 11 more results"]);
  });

  it("spans a run's alerts over all its events, not over the few it reads", async () => {
    const tenant = "sem-span";
    // 260 failures a second apart, sent newest first: more than a single alert's 50 pieces of evidence and
    // more than the 149 alerts of their own plus the 50 the summary reads.
    const events = Array.from({ length: 260 }, (_, i) =>
      failure(`span-${i}`, new Date(at(1).getTime() + i * 1000), `198.51.100.${(i % 250) + 1}`),
    ).reverse();
    await ingest(tenant, events);
    const second = (i: number) => new Date(at(1).getTime() + i * 1000).toISOString();
    const single = await createRule(tenant, scheduled({}));
    expect(await run(tenant, single, at(10))).toEqual({ alerts: 1, results: 260 });
    const [one] = await alertsOf(tenant, single);
    expect([one.start_time.toISOString(), one.end_time.toISOString()]).toEqual([second(0), second(259)]);
    expect(one.evidence).toHaveLength(50);

    const perEvent = await createRule(tenant, scheduled({ alertPerResult: true }));
    expect(await run(tenant, perEvent, at(10))).toEqual({ alerts: 150, results: 260 });
    const rest: Array<{ title: string; start_time: Date; end_time: Date }> = await inTenant(ds, tenant, (m) =>
      m.query(
        `SELECT title, start_time, end_time FROM alerts WHERE rule_id = $1 AND source_id LIKE '%:rest:%'`,
        [perEvent],
      ),
    );
    expect(rest.map((a) => [a.title, a.start_time.toISOString(), a.end_time.toISOString()])).toEqual([
      ["Failed sign-ins — and 111 more results", second(149), second(259)],
    ]);
  });

  it("sums up an NRT rule's matches past 150 in one batch, and spans its alerts over the batch's times in any order", async () => {
    const tenant = "sem-nrt-overflow";
    const nrt = (extra: object) => ({
      kind: "NRT",
      displayName: "Failed sign-in",
      description: "A failed sign-in.",
      severity: "LOW",
      filter: failedSignIns,
      entityMappings: [{ entityType: "IP", field: "src_ip" }],
      ...extra,
    });
    const perEvent = await createRule(tenant, nrt({ alertPerResult: true }));
    const single = await createRule(tenant, nrt({ displayName: "Failed sign-ins in a batch" }));
    // 400 matches in one batch, out of time order (as records are sent).
    const order = Array.from({ length: 400 }, (_, i) => (i * 7919) % 400);
    await ingest(
      tenant,
      order.map((i) =>
        failure(`nrt-${i}`, new Date(at(1).getTime() + i * 1000), `198.51.100.${(i % 250) + 1}`),
      ),
    );
    const second = (i: number) => new Date(at(1).getTime() + i * 1000).toISOString();
    const mine = await alertsOf(tenant, perEvent);
    expect(mine).toHaveLength(150);
    const [summary] = mine.filter((a) => a.source_id.includes(":rest:"));
    // The 149 matches first in the batch have alerts of their own; the summary stands for the 251 after them.
    const restTimes = order.slice(149).map(second).sort();
    expect([summary.start_time.toISOString(), summary.end_time.toISOString()]).toEqual([
      restTimes[0],
      restTimes.at(-1),
    ]);
    const titles: Array<{ title: string }> = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT title FROM alerts WHERE source_id = $1`, [summary.source_id]),
    );
    expect(titles[0].title).toBe("Failed sign-in — and 251 more results");
    const [batch] = await alertsOf(tenant, single);
    expect([batch.start_time.toISOString(), batch.end_time.toISOString()]).toEqual([second(0), second(399)]);
  });
});
