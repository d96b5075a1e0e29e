import { readFileSync } from "node:fs";
import type { DataSource, EntityManager } from "typeorm";
import { addJob, inTenant, Role } from "../subgraphs/common/src";
import { runScheduledRule, type KqlRunOptions } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";

/**
 * Scheduled analytics rules written as a KQL query: the hunt-then-save workflow. Rules run here through the
 * runner and the real `rule_run` worker over events ingested through the gateway; every test has a tenant of
 * its own.
 */
describe("KQL analytics rules", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  const MINUTE = 60_000;
  /** A whole hour a couple of hours back: window ends are derived from it, never from the clock. */
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

  const createRule = (tenant: string, spec: object) =>
    gql<{ createAnalyticsRule: { id: string } }>(
      tenant,
      [Role.ADMIN],
      `mutation ($spec: JSON!) { createAnalyticsRule(spec: $spec) { id } }`,
      { spec },
    );

  async function created(tenant: string, spec: object): Promise<string> {
    const res = await createRule(tenant, spec);
    expect(res.errors).toBeUndefined();
    return res.data!.createAnalyticsRule.id;
  }

  /** A failed OCSF sign-in from `ip` at `time`. */
  const failure = (uid: string, time: Date, ip: string) => ({
    class_uid: 3002,
    activity_id: 1,
    status: "Failure",
    time: time.toISOString(),
    metadata: { uid },
    actor: { user: { name: "bob@contoso.example" } },
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

  /** `count` failures from `ip`, a minute apart from `start` minutes on. */
  const failures = (prefix: string, ip: string, count: number, start: number) =>
    Array.from({ length: count }, (_, i) => failure(`${prefix}-${i}`, at(start + i), ip));

  /** Runs a scheduled rule over the window ending at `end`, as the job does. */
  const run = (tenant: string, ruleId: string, end: Date, options?: KqlRunOptions) =>
    inTenant(ds, tenant, async (m) => {
      const [row] = await m.query(`SELECT * FROM analytics_rules WHERE id = $1 FOR UPDATE`, [ruleId]);
      return runScheduledRule(m, tenant, storedRuleFromRow(row), end, options);
    });

  /** A rule's alerts: their entities' values and their evidence as source event ids. */
  const alertsOf = (tenant: string, ruleId: string) =>
    inTenant(ds, tenant, async (m) =>
      (
        (await m.query(
          `SELECT a.entities, a.start_time, a.end_time,
                  (SELECT coalesce(array_agg(e.source_event_id ORDER BY e.source_event_id), '{}')
                   FROM unnest(a.evidence_event_ids) AS ev(id) JOIN events e ON e.id = ev.id) AS events
           FROM alerts a WHERE a.rule_id = $1 ORDER BY a.entities::text`,
          [ruleId],
        )) as Array<{
          entities: Array<{ type: string; value: string }>;
          events: string[];
          start_time: Date;
          end_time: Date;
        }>
      ).map((a) => ({
        entities: a.entities.map((x) => `${x.type}:${x.value}`),
        events: a.events,
        start: a.start_time,
        end: a.end_time,
      })),
    );

  const bruteForce = `Authentication
| where status == "Failure"
| summarize n = count() by src_ip
| where n > 5`;
  const kqlRule = (extra: object) => ({
    kind: "SCHEDULED",
    displayName: "Password spray per IP",
    description: "More than five failed sign-ins from one address.",
    severity: "HIGH",
    query: bruteForce,
    queryFrequency: "PT10M",
    queryPeriod: "PT10M",
    alertPerResult: true,
    entityMappings: [
      { entityType: "IP", field: "src_ip" },
      { entityType: "HOST", field: "no_such_column" },
    ],
    ...extra,
  });

  it("fires an alert per result row with the IP entity mapped, once for the same rows", async () => {
    const tenant = "kql-fires";
    const id = await created(tenant, kqlRule({}));
    await ingest(tenant, [...failures("a", "203.0.113.7", 7, 1), ...failures("b", "198.51.100.9", 3, 1)]);
    expect(await run(tenant, id, at(10))).toEqual({ alerts: 1, results: 1 });
    const [alert, ...more] = await alertsOf(tenant, id);
    expect(more).toEqual([]);
    // The HOST mapping names a column the result lacks: it maps nothing.
    expect(alert.entities).toEqual(["IP:203.0.113.7"]);
    // The summarised rows keep no event id or time: no evidence, and the run's window as the time range.
    expect(alert.events).toEqual([]);
    expect([alert.start, alert.end]).toEqual([at(0), at(10)]);
    // An overlapping window with the same rows raises nothing new.
    expect(await run(tenant, id, at(10))).toEqual({ alerts: 0, results: 1 });
  });

  it("reads only the rule's queryPeriod, even when the query asks for 30 days", async () => {
    const tenant = "kql-window";
    const id = await created(
      tenant,
      kqlRule({
        query: `Authentication | where time > ago(30d) | project id, time, src_ip`,
        alertPerResult: false,
        entityMappings: [{ entityType: "IP", field: "src_ip" }],
      }),
    );
    await ingest(tenant, [
      failure("old-1", at(-30), "192.0.2.1"),
      failure("old-2", at(-11), "192.0.2.2"),
      failure("new-1", at(3), "192.0.2.3"),
      failure("new-2", at(5), "192.0.2.4"),
      failure("later", at(10), "192.0.2.5"),
    ]);
    expect(await run(tenant, id, at(10))).toEqual({ alerts: 1, results: 2 });
    // Evidence from the `id` column, the time range from the rows' `time`.
    expect(await alertsOf(tenant, id)).toEqual([
      { entities: ["IP:192.0.2.3", "IP:192.0.2.4"], events: ["new-1", "new-2"], start: at(3), end: at(5) },
    ]);
  });

  it("counts another tenant's events never", async () => {
    const tenant = "kql-mine";
    const other = "kql-theirs";
    const id = await created(tenant, kqlRule({}));
    await ingest(other, failures("o", "203.0.113.7", 9, 1));
    await ingest(tenant, failures("m", "203.0.113.7", 2, 1));
    expect(await run(tenant, id, at(10))).toEqual({ alerts: 0, results: 0 });
    expect(await alertsOf(tenant, id)).toEqual([]);
    // The same rule in the other tenant fires on its nine failures: the quiet run above is about the tenant.
    const theirs = await created(other, kqlRule({}));
    expect(await run(other, theirs, at(10))).toEqual({ alerts: 1, results: 1 });
    expect((await alertsOf(other, theirs)).map((a) => a.entities)).toEqual([["IP:203.0.113.7"]]);
  });

  it("counts at most maxRows rows and says that it cut the result", async () => {
    const tenant = "kql-truncated";
    const id = await created(
      tenant,
      kqlRule({ query: "Authentication | project id, src_ip", trigger: { operator: "GTE", threshold: 3 } }),
    );
    await ingest(tenant, failures("t", "203.0.113.7", 3, 1));
    expect(await run(tenant, id, at(10), { maxRows: 2 })).toEqual({
      alerts: 0,
      results: 2,
      warning: expect.stringContaining("more than 2 rows"),
    });
    expect(await run(tenant, id, at(10))).toEqual({ alerts: 3, results: 3 });
  });

  const storedRules = (tenant: string) =>
    inTenant(ds, tenant, async (m) =>
      Number((await m.query(`SELECT count(*) AS n FROM analytics_rules`))[0].n),
    );

  it("refuses invalid KQL, both forms at once and a KQL NRT rule as BAD_USER_INPUT, storing nothing", async () => {
    const tenant = "kql-invalid";
    const refused = async (spec: object, field: string, message: RegExp) => {
      const res = await createRule(tenant, spec);
      expect(res.errors?.[0].extensions).toMatchObject({
        code: "BAD_USER_INPUT",
        problems: expect.arrayContaining([{ field, message: expect.stringMatching(message) }]),
      });
    };
    // A syntax error (found by the parser) and an unknown column (found compiling it in the service).
    await refused(kqlRule({ query: "Authentication | wher status == 1" }), "query", /^line 1, column \d+: /);
    await refused(
      kqlRule({ query: "Authentication\n| where nosuch == 1" }),
      "query",
      /^line 2, column \d+: .*nosuch/,
    );
    await refused(
      kqlRule({ filter: { field: "class_uid", op: "eq", value: 3002 } }),
      "filter",
      /either a filter .* or a KQL query/,
    );
    await refused(
      kqlRule({ kind: "NRT", queryFrequency: undefined, queryPeriod: undefined }),
      "query",
      /NRT rules take the structured filter only/,
    );
    expect(await storedRules(tenant)).toBe(0);
  });

  it("runs the KQL example of docs/api.md", async () => {
    const block = /```graphql\n(mutation KqlRule[\s\S]*?)```/.exec(readFileSync("docs/api.md", "utf8"))?.[1];
    expect(block).toBeDefined();
    const res = await gql<{ createAnalyticsRule: { query: string; definition: { query: string } } }>(
      "kql-docs",
      [Role.ADMIN],
      block!,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.createAnalyticsRule.definition.query).toBe(res.data!.createAnalyticsRule.query);
    expect(res.data!.createAnalyticsRule.query).toContain("| summarize n = count() by src_ip");
  });

  it("checks the watchlists a query reads, and keeps them from being deleted under it", async () => {
    const tenant = "kql-watchlists";
    const query = "Authentication | where src_ip in (_GetWatchlist('bad-ips'))";
    await expect(createRule(tenant, kqlRule({ query }))).resolves.toMatchObject({
      errors: [{ extensions: { code: "BAD_USER_INPUT", problems: [{ field: "query" }] } }],
    });
    const list = await gql<{ createWatchlist: { watchlist: { id: string } } }>(
      tenant,
      [Role.ADMIN],
      `mutation { createWatchlist(input: { alias: "bad-ips", name: "Bad IPs", searchKey: "ip", csv: "ip\\n203.0.113.7" }) { watchlist { id } } }`,
    );
    expect(list.errors).toBeUndefined();
    await created(tenant, kqlRule({ query }));
    const deleted = await gql(
      tenant,
      [Role.ADMIN],
      `mutation ($id: ID!) { deleteWatchlist(id: $id) { id } }`,
      { id: list.data!.createWatchlist.watchlist.id },
    );
    expect(deleted.errors?.[0].extensions?.code).toBe("CONFLICT");
  });

  /**
   * Queues the rule's `rule_run` job for the window ending at minute 10, as the scheduler would, and waits (up to
   * 20 s) for the worker to store the rule's alerts.
   */
  async function alertsOfScheduledRun(tenant: string, ruleId: string) {
    await inTenant(ds, tenant, (m: EntityManager) =>
      addJob(
        m,
        "siem",
        "rule_run",
        { tenantId: tenant, ruleId, windowEnd: at(10).toISOString() },
        { runAt: at(11), jobKey: `rule:${ruleId}` },
      ),
    );
    let alerts: Awaited<ReturnType<typeof alertsOf>> = [];
    for (let i = 0; i < 100 && !alerts.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      alerts = await alertsOf(tenant, ruleId);
    }
    return alerts;
  }

  it("creates a KQL rule through the gateway and the rule_run job raises its alert", async () => {
    const tenant = "kql-gateway";
    const res = await gql<{
      createAnalyticsRule: { id: string; query: string; definition: { query: string; filter: unknown } };
    }>(
      tenant,
      [Role.ADMIN],
      `mutation ($query: String!) { createAnalyticsRule(input: {
         kind: SCHEDULED, displayName: "Password spray per IP", description: "", severity: HIGH,
         query: $query, queryFrequency: "PT10M", queryPeriod: "PT10M", alertPerResult: true,
         entityMappings: [{ entityType: IP, field: "src_ip" }] }) { id query definition { query filter } } }`,
      { query: bruteForce },
    );
    expect(res.errors).toBeUndefined();
    const rule = res.data!.createAnalyticsRule;
    expect(rule).toMatchObject({ query: bruteForce, definition: { query: bruteForce, filter: null } });
    await ingest(tenant, failures("g", "203.0.113.8", 6, 1));
    const alerts = await alertsOfScheduledRun(tenant, rule.id);
    expect(alerts.map((a) => a.entities)).toEqual([["IP:203.0.113.8"]]);
  });

  /** Saves a hunting query (as an ANALYST) and returns its id. */
  async function savedHunt(tenant: string, query: string): Promise<string> {
    const res = await gql<{ createHuntingQuery: { id: string } }>(
      tenant,
      [Role.ANALYST],
      `mutation ($query: String!) { createHuntingQuery(input: {
         name: "Spray sources", description: "Addresses failing many sign-ins.", query: $query,
         tactics: ["CredentialAccess"], techniques: ["T1110.003"] }) { id } }`,
      { query },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.createHuntingQuery.id;
  }

  const createFromHunt = (tenant: string, fromHuntingQueryId: string, spec: object) =>
    gql<{
      createAnalyticsRule: { id: string };
    }>(
      tenant,
      [Role.ADMIN],
      `mutation ($id: ID!, $spec: JSON) { createAnalyticsRule(fromHuntingQueryId: $id, spec: $spec) { id } }`,
      { id: fromHuntingQueryId, spec },
    );

  const fromHuntSpec = {
    severity: "HIGH",
    queryFrequency: "PT10M",
    queryPeriod: "PT10M",
    alertPerResult: true,
    entityMappings: [{ entityType: "IP", field: "src_ip" }],
  };

  it("creates a rule from a saved hunt through the gateway: a copy of its query, and the rule_run job fires it", async () => {
    const tenant = "kql-from-hunt";
    const huntId = await savedHunt(tenant, bruteForce);
    // The example of docs/api.md, as written there.
    const block = /```graphql\n(mutation RuleFromHunt[\s\S]*?)```/.exec(
      readFileSync("docs/api.md", "utf8"),
    )?.[1];
    expect(block).toBeDefined();
    const res = await gql<{ createAnalyticsRule: { id: string; displayName: string; query: string } }>(
      tenant,
      [Role.ADMIN],
      block!,
      { huntingQueryId: huntId },
    );
    expect(res.errors).toBeUndefined();
    const rule = res.data!.createAnalyticsRule;
    // The hunt's name is the default the definition did not replace.
    expect(rule).toMatchObject({ displayName: "Spray sources", query: bruteForce });
    const audit = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT details FROM audit_log WHERE action = 'rules.rule.created' AND target = $1`, [
        `rule:${rule.id}`,
      ]),
    );
    expect(audit).toEqual([{ details: expect.objectContaining({ fromHuntingQueryId: huntId }) }]);

    // Editing the hunt afterwards leaves the rule's copy alone.
    const edited = await gql(
      tenant,
      [Role.ANALYST],
      `mutation ($id: ID!) { updateHuntingQuery(input: { id: $id, query: "Authentication | take 1" }) { id } }`,
      { id: huntId },
    );
    expect(edited.errors).toBeUndefined();
    const read = await gql<{ analyticsRule: { query: string; tactics: string[] } }>(
      tenant,
      [Role.READER],
      `query ($id: ID!) { analyticsRule(id: $id) { query tactics } }`,
      { id: rule.id },
    );
    expect(read.data!.analyticsRule).toEqual({ query: bruteForce, tactics: ["CredentialAccess"] });

    await ingest(tenant, failures("h", "203.0.113.9", 6, 1));
    const alerts = await alertsOfScheduledRun(tenant, rule.id);
    expect(alerts.map((a) => a.entities)).toEqual([["IP:203.0.113.9"]]);
  });

  it("answers NOT_FOUND alike for another tenant's hunt and an unknown id, storing nothing", async () => {
    const tenant = "kql-hunt-mine";
    const theirs = await savedHunt("kql-hunt-theirs", bruteForce);
    for (const id of [theirs, "00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      const res = await createFromHunt(tenant, id, fromHuntSpec);
      expect(res.errors?.[0].extensions?.code).toBe("NOT_FOUND");
      expect(res.errors?.[0].message).toBe(`Hunting query ${id} was not found.`);
    }
    // The rule is an ADMIN's to create, whoever may save the hunt.
    const own = await savedHunt(tenant, bruteForce);
    const analyst = await gql(
      tenant,
      [Role.ANALYST],
      `mutation ($id: ID!, $spec: JSON) { createAnalyticsRule(fromHuntingQueryId: $id, spec: $spec) { id } }`,
      { id: own, spec: fromHuntSpec },
    );
    expect(analyst.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(await storedRules(tenant)).toBe(0);
  });

  it("refuses a hunt with a query or filter of its own, a template too, and a hunt the runner cannot run, as BAD_USER_INPUT", async () => {
    const tenant = "kql-hunt-invalid";
    const huntId = await savedHunt(tenant, bruteForce);
    const refused = async (res: Awaited<ReturnType<typeof gql>>, field: string, message: RegExp) =>
      expect(res.errors?.[0].extensions).toMatchObject({
        code: "BAD_USER_INPUT",
        problems: expect.arrayContaining([{ field, message: expect.stringMatching(message) }]),
      });
    await refused(
      await createFromHunt(tenant, huntId, { ...fromHuntSpec, query: "Authentication" }),
      "query",
      /given together with fromHuntingQueryId/,
    );
    await refused(
      await createFromHunt(tenant, huntId, {
        ...fromHuntSpec,
        filter: { field: "class_uid", op: "eq", value: 3002 },
      }),
      "fromHuntingQueryId",
      /given together with filter/,
    );
    await refused(
      await gql(
        tenant,
        [Role.ADMIN],
        `mutation ($id: ID!) { createAnalyticsRule(fromHuntingQueryId: $id, input: {
           kind: SCHEDULED, displayName: "Spray", description: "", severity: HIGH, query: "Authentication",
           queryFrequency: "PT10M", queryPeriod: "PT10M" }) { id } }`,
        { id: huntId },
      ),
      "query",
      /given together with fromHuntingQueryId/,
    );
    await refused(
      await gql(
        tenant,
        [Role.ADMIN],
        `mutation ($id: ID!) { createAnalyticsRule(fromHuntingQueryId: $id, templateId: "brute-force") { id } }`,
        { id: huntId },
      ),
      "templateId",
      /given together with fromHuntingQueryId/,
    );
    // Saved and run as a hunt over a day (1,440 bins), but a rule over 14 days would make 20,160.
    const everyMinute = await savedHunt(tenant, "Authentication | make-series n = count() on time step 1m");
    await refused(
      await createFromHunt(tenant, everyMinute, { ...fromHuntSpec, queryPeriod: "P14D" }),
      "query",
      /^line 1, column 55: `make-series` makes at most 10000 bins, and this step makes 20160/,
    );
    expect(await storedRules(tenant)).toBe(0);
  });
});
