import {
  AlertQueueDocument,
  CloseIncidentDocument,
  CreateAnalyticsRuleDocument,
  IncidentQueueDocument,
  IngestAlertsDocument,
  UpdateIncidentDocument,
  type AlertListFilter,
  type IncidentFilter,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { problems } from "./utils/errors";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ingestFixture, ok } from "./utils/seed";

describe("incidents(filter): numbers, creation window, owner, classification, and what their alerts hold", () => {
  let platform: TestPlatform;
  let analyst: string;
  let otherAnalyst: string;
  let ruleId: string;
  let ruleIncidents: string[];

  const list = async (filter: IncidentFilter, token = analyst) => {
    const { incidents } = ok(await platform.request(IncidentQueueDocument, { first: 100, filter }, token));
    expect(incidents.nodes).toHaveLength(incidents.totalCount);
    return incidents.nodes;
  };
  const titles = async (filter: IncidentFilter) => (await list(filter)).map((n) => n.title).sort();
  const external = (i: number, tactics: string[]) => ({
    sourceId: `ext-${i}`,
    title: `External finding ${i}`,
    severity: "MEDIUM" as const,
    tactics,
    techniques: [],
    entities: [{ type: "HOST" as const, value: `filter-host-${i}` }],
  });

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    analyst = await platform.token([Role.ANALYST], "tenant-a", "alice@contoso.example");
    otherAnalyst = await platform.token([Role.ANALYST], "tenant-b");
    const admin = await platform.token([Role.ADMIN], "tenant-a");
    const ingestor = await platform.token([Role.INGESTOR], "tenant-a");
    ruleId = ok(
      await platform.request(CreateAnalyticsRuleDocument, { templateId: "internet-rdp-ssh-allowed" }, admin),
    ).createAnalyticsRule.id;
    expect((await ingestFixture(platform, ingestor, "SYSLOG_CEF")).status).toBe(200);
    ruleIncidents = (await list({})).map((n) => n.id);
    expect(ruleIncidents.length).toBeGreaterThan(0);
    ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            external(1, ["CredentialAccess"]),
            external(2, ["Execution"]),
            external(3, ["Execution", "Persistence"]),
          ],
        },
        ingestor,
      ),
    );
    const byTitle = async (title: string) => (await list({ search: title }))[0];
    const first = await byTitle("External finding 1");
    ok(
      await platform.request(
        UpdateIncidentDocument,
        { input: { id: first.id, etag: first.etag, owner: "bob@contoso.example" } },
        analyst,
      ),
    );
    const second = await byTitle("External finding 2");
    ok(
      await platform.request(
        CloseIncidentDocument,
        {
          input: {
            id: second.id,
            etag: second.etag,
            classification: "FALSE_POSITIVE",
            reason: "Lab traffic",
          },
        },
        analyst,
      ),
    );
  });
  afterAll(() => platform?.stop());

  it("selects by what the incident's alerts hold: provider, analytics rule, tactic", async () => {
    expect(await titles({ providers: ["EXTERNAL"] })).toEqual([
      "External finding 1",
      "External finding 2",
      "External finding 3",
    ]);
    const byRule = (await list({ ruleIds: [ruleId.toUpperCase()] })).map((n) => n.id).sort();
    expect(byRule).toEqual([...ruleIncidents].sort());
    expect((await list({ providers: ["ANALYTICS_RULE"] })).map((n) => n.id).sort()).toEqual(byRule);
    expect(await list({ providers: ["TI_MATCH", "WORKLOAD_PROTECTION"] })).toEqual([]);
    expect(await titles({ tactics: ["CredentialAccess"] })).toEqual(["External finding 1"]);
    expect(await titles({ tactics: ["Persistence", "CredentialAccess"] })).toEqual([
      "External finding 1",
      "External finding 3",
    ]);
    // Conditions combine: an EXTERNAL incident holding an Execution alert, still open.
    expect(
      await titles({ providers: ["EXTERNAL"], tactics: ["Execution"], statuses: ["NEW", "ACTIVE"] }),
    ).toEqual(["External finding 3"]);
  });

  it("lists alerts by analytics rule, tactic and title, each naming the rule that raised it", async () => {
    const alerts = async (filter: AlertListFilter, token = analyst) => {
      const res = ok(await platform.request(AlertQueueDocument, { first: 100, filter }, token)).alerts;
      expect(res.nodes).toHaveLength(res.totalCount);
      return res.nodes;
    };
    const byRule = await alerts({ ruleIds: [ruleId.toUpperCase()] });
    expect(byRule.length).toBeGreaterThan(0);
    expect(byRule.map((a) => a.provider)).toEqual(byRule.map(() => "ANALYTICS_RULE"));
    expect(byRule.map((a) => a.rule)).toEqual(
      byRule.map(() => ({ id: ruleId, templateId: "internet-rdp-ssh-allowed" })),
    );
    expect((await alerts({ providers: ["ANALYTICS_RULE"] })).map((a) => a.id).sort()).toEqual(
      byRule.map((a) => a.id).sort(),
    );
    // External alerts name no rule.
    const external = await alerts({ providers: ["EXTERNAL"] });
    expect(external.map((a) => a.rule)).toEqual([null, null, null]);
    expect(
      (await alerts({ tactics: ["Persistence", "CredentialAccess"] })).map((a) => a.title).sort(),
    ).toEqual(["External finding 1", "External finding 3"]);
    expect((await alerts({ search: "FINDING 2" })).map((a) => a.title)).toEqual(["External finding 2"]);
    expect(await alerts({ search: "finding%" })).toEqual([]);
    expect((await alerts({ search: "finding", tactics: ["Execution"] })).map((a) => a.title).sort()).toEqual([
      "External finding 2",
      "External finding 3",
    ]);
    // Another tenant's analyst finds none of it by the same rule.
    expect(await alerts({ ruleIds: [ruleId] }, otherAnalyst)).toEqual([]);
    const refused = await platform.request(
      AlertQueueDocument,
      {
        first: 10,
        filter: {
          ruleIds: ["not-a-rule"],
          tactics: Array.from({ length: 101 }, (_, i) => `T${i}`),
          search: "nul\u0000",
        },
      },
      analyst,
    );
    expect(problems(refused)).toEqual([
      "tactics: at most 100 values",
      "ruleIds: must be analytics rule ids (UUIDs)",
      expect.stringMatching(/^search: /),
    ]);
  });

  it("selects by owner presence, classification and number", async () => {
    expect(await titles({ unassigned: false })).toEqual(["External finding 1"]);
    const all = await list({});
    expect((await list({ unassigned: true })).length).toBe(all.length - 1);
    expect(await titles({ classifications: ["FALSE_POSITIVE"] })).toEqual(["External finding 2"]);
    expect(await list({ classifications: ["TRUE_POSITIVE"] })).toEqual([]);
    const [a, b] = all;
    expect((await list({ numbers: [a.number, b.number, 99_999] })).map((n) => n.number).sort()).toEqual(
      [a.number, b.number].sort(),
    );
  });

  it("selects by creation time", async () => {
    const hour = 3_600_000;
    const all = await list({});
    expect(await list({ createdAfter: new Date(Date.now() + hour).toISOString() })).toEqual([]);
    expect(
      await list({
        createdAfter: new Date(Date.now() - hour).toISOString(),
        createdBefore: new Date(Date.now() + hour).toISOString(),
      }),
    ).toHaveLength(all.length);
    expect(await list({ createdBefore: new Date(Date.now() - hour).toISOString() })).toEqual([]);
  });

  it("answers a filter it cannot apply with BAD_USER_INPUT naming the fields", async () => {
    const now = Date.now();
    const res = await platform.request(
      IncidentQueueDocument,
      {
        first: 10,
        filter: {
          createdAfter: new Date(now).toISOString(),
          createdBefore: new Date(now - 1000).toISOString(),
          ruleIds: ["not-a-rule"],
          tactics: Array.from({ length: 101 }, (_, i) => `T${i}`),
        },
      },
      analyst,
    );
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(problems(res)).toEqual([
      "tactics: at most 100 values",
      "ruleIds: must be analytics rule ids (UUIDs)",
      "createdBefore: must be later than createdAfter",
    ]);
  });

  it("never shows another tenant's incidents", async () => {
    expect(await list({ providers: ["EXTERNAL", "ANALYTICS_RULE"] }, otherAnalyst)).toEqual([]);
    expect(await list({ ruleIds: [ruleId] }, otherAnalyst)).toEqual([]);
    // The same filters find tenant-a's incidents for its own analyst: the empty answers are the tenant's doing.
    expect(await list({ providers: ["EXTERNAL", "ANALYTICS_RULE"] })).toHaveLength(ruleIncidents.length + 3);
    expect((await list({ ruleIds: [ruleId] })).map((n) => n.id).sort()).toEqual([...ruleIncidents].sort());
  });
});
