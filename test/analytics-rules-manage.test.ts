import type { DataSource } from "typeorm";
import {
  AnalyticsRuleByIdDocument,
  AnalyticsRulesFilteredDocument,
  CreateAutomationRuleDocument,
  CreateRuleTypedDocument,
  DeleteAnalyticsRuleDocument,
  DeleteAutomationRuleDocument,
  ImportSigmaRulesDocument,
  UpdateRuleTypedDocument,
  type AnalyticsRuleFilter,
  type AnalyticsRuleInput,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/** A minimal NRT rule; `over` replaces fields. */
const nrt = (displayName: string, over: Partial<AnalyticsRuleInput> = {}): AnalyticsRuleInput => ({
  kind: "NRT",
  displayName,
  description: "",
  severity: "MEDIUM",
  filter: { field: "class_uid", op: "eq", value: 4001 },
  ...over,
});

/** A minimal scheduled rule; `over` replaces fields. */
const scheduled = (displayName: string, over: Partial<AnalyticsRuleInput> = {}): AnalyticsRuleInput => ({
  ...nrt(displayName),
  kind: "SCHEDULED",
  queryFrequency: "PT10M",
  queryPeriod: "PT1H",
  ...over,
});

const SIGMA = `title: Whoami on Windows
id: 6a1b7c2e-0000-4000-8000-0000000000aa
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
level: low
tags: [attack.discovery, attack.t1033]
`;

describe("analytics rules: filtered listing and deletion", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<"admin" | "reader" | "otherAdmin", string>;
  const ids: Record<string, string> = {};

  const list = async (filter: AnalyticsRuleFilter | null, first = 100, after?: string) =>
    ok(await platform.request(AnalyticsRulesFilteredDocument, { filter, first, after }, t.admin))
      .analyticsRules;
  const names = async (filter: AnalyticsRuleFilter | null) =>
    (await list(filter)).nodes.map((r) => r.displayName).sort();
  const create = async (input: AnalyticsRuleInput, token = t.admin) =>
    ok(await platform.request(CreateRuleTypedDocument, { input }, token)).createAnalyticsRule;

  beforeAll(async () => {
    // Jobs off: scheduled rules are stored with their pending run, never run in the background.
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("siem");
    t = await platform.tokens({
      admin: [[Role.ADMIN], "rules-a"],
      reader: [[Role.READER], "rules-a"],
      otherAdmin: [[Role.ADMIN], "rules-b"],
    });
    ids.spray = (
      await create(
        scheduled("Password spray", {
          severity: "HIGH",
          description: "Many accounts from one address (100% of failures)",
          tactics: ["CredentialAccess"],
          techniques: ["T1110.003"],
        }),
      )
    ).id;
    ids.c2 = (await create(nrt("C2 port", { severity: "HIGH", tactics: ["CommandAndControl"] }))).id;
    ids.off = (await create(nrt("Disabled one", { severity: "LOW", enabled: false }))).id;
    ids.template = ok(
      await platform.request(CreateRuleTypedDocument, { templateId: "mfa-disabled" }, t.admin),
    ).createAnalyticsRule.id;
    const imported = ok(
      await platform.request(ImportSigmaRulesDocument, { yaml: SIGMA, options: { enabled: true } }, t.admin),
    ).importSigmaRules;
    expect(imported.createdCount).toBe(1);
    ids.sigma = imported.results[0].rule!.id;
    // Another tenant's rule with the same words must never show.
    await create(
      scheduled("Password spray", { severity: "HIGH", tactics: ["CredentialAccess"] }),
      t.otherAdmin,
    );
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("filters by every criterion, in SQL, within the caller's tenant", async () => {
    expect(await names(null)).toEqual(
      [
        "C2 port",
        "Disabled one",
        "Multi-factor authentication disabled for an account",
        "Password spray",
        "Whoami on Windows",
      ].sort(),
    );
    expect(await names({ enabled: false })).toEqual(["Disabled one"]);
    // Sigma rules become scheduled rules.
    expect(await names({ kinds: ["SCHEDULED"] })).toEqual(["Password spray", "Whoami on Windows"]);
    expect(await names({ severities: ["HIGH"] })).toEqual([
      "C2 port",
      "Multi-factor authentication disabled for an account",
      "Password spray",
    ]);
    expect(await names({ severities: ["LOW", "MEDIUM"] })).toEqual(["Disabled one", "Whoami on Windows"]);
    expect(await names({ search: "SPRAY" })).toEqual(["Password spray"]);
    // Matched in the description too, with LIKE's wildcards taken literally.
    expect(await names({ search: "100%" })).toEqual(["Password spray"]);
    expect(await names({ search: "1_0%" })).toEqual([]);
    expect(await names({ tactic: "CredentialAccess" })).toEqual([
      "Multi-factor authentication disabled for an account",
      "Password spray",
    ]);
    expect(await names({ tactic: "Discovery" })).toEqual(["Whoami on Windows"]);
    expect(await names({ technique: "T1110.003" })).toEqual(["Password spray"]);
    expect(await names({ templateId: "mfa-disabled" })).toEqual([
      "Multi-factor authentication disabled for an account",
    ]);
    expect(await names({ sigma: true })).toEqual(["Whoami on Windows"]);
    expect((await names({ sigma: false })).length).toBe(4);
    expect(await names({ severities: ["HIGH"], kinds: ["NRT"], tactic: "CommandAndControl" })).toEqual([
      "C2 port",
    ]);
    const other = ok(
      await platform.request(AnalyticsRulesFilteredDocument, { filter: { search: "spray" } }, t.otherAdmin),
    ).analyticsRules;
    expect(other.nodes.map((r) => r.id)).not.toContain(ids.spray);
    expect(other.totalCount).toBe(1);
  });

  it("pages a filtered list with cursors and counts the whole filtered list", async () => {
    const filter = { severities: ["HIGH", "MEDIUM", "LOW"] } as AnalyticsRuleFilter;
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await list(filter, 2, after);
      expect(page.totalCount).toBe(5);
      seen.push(...page.nodes.map((r) => r.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen)).toEqual(new Set(Object.values(ids)));
  });

  it("refuses a bad filter or cursor with BAD_USER_INPUT", async () => {
    for (const [filter, field] of [
      [{ search: "" }, "filter.search"],
      [{ search: "x".repeat(201) }, "filter.search"],
      [{ tactic: "a\u0000b" }, "filter.tactic"],
    ] as const) {
      const res = await platform.request(AnalyticsRulesFilteredDocument, { filter }, t.admin);
      expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      expect((res.errors?.[0].extensions?.problems as Array<{ field: string }>)[0].field).toBe(field);
    }
    const res = await platform.request(
      AnalyticsRulesFilteredDocument,
      { after: "bm90LWEtY3Vyc29y" },
      t.admin,
    );
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("deletes a rule with its pending run, refuses other tenants and readers, and keeps an audit entry", async () => {
    const rule = await create(scheduled("Short-lived"));
    const pending = async () =>
      (
        (await ds.query(`SELECT count(*)::int AS n FROM siem_jobs.jobs WHERE key = $1`, [
          `rule:${rule.id}`,
        ])) as Array<{
          n: number;
        }>
      )[0].n;
    expect(await pending()).toBe(1);
    const forbidden = await platform.request(DeleteAnalyticsRuleDocument, { id: rule.id }, t.reader);
    expect(forbidden.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const foreign = await platform.request(DeleteAnalyticsRuleDocument, { id: rule.id }, t.otherAdmin);
    expect(foreign.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    const bad = await platform.request(DeleteAnalyticsRuleDocument, { id: "nope" }, t.admin);
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(
      ok(await platform.request(AnalyticsRuleByIdDocument, { id: rule.id }, t.admin)).analyticsRule,
    ).not.toBeNull();

    const deleted = ok(await platform.request(DeleteAnalyticsRuleDocument, { id: rule.id }, t.admin));
    expect(deleted.deleteAnalyticsRule).toMatchObject({ id: rule.id, displayName: "Short-lived" });
    expect(
      ok(await platform.request(AnalyticsRuleByIdDocument, { id: rule.id }, t.admin)).analyticsRule,
    ).toBeNull();
    expect(await pending()).toBe(0);
    const again = await platform.request(DeleteAnalyticsRuleDocument, { id: rule.id }, t.admin);
    expect(again.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    // Updating a deleted rule is NOT_FOUND too (nothing recreated).
    const update = await platform.request(
      UpdateRuleTypedDocument,
      { id: rule.id, input: nrt("Back") },
      t.admin,
    );
    expect(update.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    // Read as the SIEM's own role within the tenant (row-level security applies).
    const { audit, outbox } = await inTenant(ds, "rules-a", async (m) => ({
      audit: (await m.query(
        `SELECT details FROM audit_log WHERE action = 'rules.rule.deleted' AND target = $1`,
        [`rule:${rule.id}`],
      )) as Array<{ details: { displayName: string; spec: { queryPeriod: string } } }>,
      outbox: (await m.query(`SELECT payload FROM outbox WHERE topic = 'rules.rule.deleted' AND key = $1`, [
        rule.id,
      ])) as Array<{ payload: { id: string } }>,
    }));
    expect(audit).toHaveLength(1);
    expect(audit[0].details).toMatchObject({ displayName: "Short-lived", spec: { queryPeriod: "PT1H" } });
    expect(outbox.map((o) => o.payload.id)).toEqual([rule.id]);
  });

  it("refuses to delete a rule an automation rule is limited to, changing nothing", async () => {
    const rule = await create(nrt("Watched rule"));
    const automation = ok(
      await platform.request(
        CreateAutomationRuleDocument,
        {
          input: {
            name: "Tag watched incidents",
            order: 1,
            trigger: "INCIDENT_CREATED",
            analyticsRuleIds: [rule.id],
            actions: [{ type: "ADD_LABELS", labels: ["watched"] }],
          },
        },
        t.admin,
      ),
    ).createAutomationRule;
    const refused = await platform.request(DeleteAnalyticsRuleDocument, { id: rule.id }, t.admin);
    expect(refused.errors?.[0].extensions?.code).toBe("CONFLICT");
    expect(refused.errors?.[0].message).toMatch(/"Tag watched incidents"/);
    expect(
      ok(await platform.request(AnalyticsRuleByIdDocument, { id: rule.id }, t.admin)).analyticsRule,
    ).not.toBeNull();
    ok(await platform.request(DeleteAutomationRuleDocument, { id: automation.id }, t.admin));
    ok(await platform.request(DeleteAnalyticsRuleDocument, { id: rule.id }, t.admin));
    expect(
      ok(await platform.request(AnalyticsRuleByIdDocument, { id: rule.id }, t.admin)).analyticsRule,
    ).toBeNull();
  });
});
