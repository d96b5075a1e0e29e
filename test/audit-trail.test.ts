import { readFileSync } from "node:fs";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { parse } from "graphql";
import {
  AuditedDefinitionDocument,
  AuditedIncidentsDocument,
  AuditTrailDocument,
  CloseIncidentDocument,
  CreateAnalyticsRuleDocument,
  CreateExemptionDocument,
  SetPlanDocument,
  SiemAuditTrailDocument,
  type AuditTrailPageFragment,
  type AuditTrailQuery,
  type AuditTrailQueryVariables,
  type SiemAuditTrailQueryVariables,
} from "./__generated__/graphql";
import { IDENTITY_HEADER, Role } from "../subgraphs/common/src";
import { codes, problems } from "./utils/errors";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, seedTenant, type SeededTenant } from "./utils/seed";

/** Who did what to which object, newest first: the part of an entry a security team asks about. */
const changes = (page: AuditTrailPageFragment) => page.nodes.map((n) => `${n.actor} ${n.action} ${n.target}`);

/** `_entities` for the trail as one subgraph serves it (its own field only). */
const entities = (field: "protection" | "siem") => `query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on AuditTrail { id ${field} { nodes { actor action target } } } }
}`;

describe("audit trail through the gateway", () => {
  let platform: TestPlatform;
  let a: SeededTenant;
  let b: SeededTenant;
  let alice: string;
  let bob: string;
  let definitionId: string;
  let ruleId: string;
  let incidentId: string;
  /** Between the seeding and alice's changes: `from` it, only hers are listed. */
  let aliceStarted: Date;

  const trail = async (token: string, variables: AuditTrailQueryVariables = {}) =>
    ok(await platform.request(AuditTrailDocument, variables, token)).auditTrail;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    a = await seedTenant(platform, "tenant-a", 6);
    b = await seedTenant(platform, "tenant-b", 3);
    alice = await platform.token([Role.ADMIN], "tenant-a", "alice@a.example");
    bob = await platform.token([Role.ADMIN], "tenant-b", "bob@b.example");
    aliceStarted = new Date();
    // One real change per domain (two in the SIEM), each through its own mutation.
    definitionId = ok(await platform.request(AuditedDefinitionDocument, {}, alice)).policyDefinitions.nodes[0]
      .id;
    ok(
      await platform.request(
        CreateExemptionDocument,
        { input: { definitionId, category: "WAIVER", reason: "Accepted for the audit test" } },
        alice,
      ),
    );
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId: a.accountIds.aws, planType: "SERVERS", tier: "STANDARD" } },
        alice,
      ),
    );
    ruleId = ok(
      await platform.request(CreateAnalyticsRuleDocument, { templateId: "root-account-use" }, alice),
    ).createAnalyticsRule.id;
    const [incident] = ok(await platform.request(AuditedIncidentsDocument, {}, alice)).incidents.nodes;
    incidentId = incident.id;
    ok(
      await platform.request(
        CloseIncidentDocument,
        {
          input: {
            id: incident.id,
            etag: incident.etag,
            classification: "FALSE_POSITIVE",
            reason: "Audit test",
          },
        },
        alice,
      ),
    );
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId: b.accountIds.aws, planType: "SERVERS", tier: "STANDARD" } },
        bob,
      ),
    );
  });
  afterAll(() => platform?.stop());

  it("answers who changed what in each domain, newest first, with the change's details", async () => {
    const mine = await trail(alice, { filter: { actor: "alice@a.example" } });
    expect(mine.id).toBe("tenant-a");
    expect(changes(mine.posture)).toEqual([`alice@a.example exemptions.create definition:${definitionId}`]);
    expect(changes(mine.protection)).toEqual([`alice@a.example plans.set account:${a.accountIds.aws}`]);
    expect(changes(mine.siem)).toEqual([
      `alice@a.example incident.closed incident:${incidentId}`,
      `alice@a.example rules.rule.created rule:${ruleId}`,
    ]);
    expect(mine.protection.nodes[0].details).toEqual({ planType: "SERVERS", tier: "STANDARD" });
    expect(mine.posture.nodes[0].details).toMatchObject({
      category: "WAIVER",
      reason: "Accepted for the audit test",
    });
    expect(new Date(mine.siem.nodes[0].at).getTime()).toBeGreaterThanOrEqual(
      new Date(mine.siem.nodes[1].at).getTime(),
    );
    expect(mine.siem.totalCount).toBe(2);
    // The seeding's own changes are there too, under their actor.
    const all = await trail(alice);
    expect(changes(all.posture)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^tester@example.com inventory.resources.upsert /),
        expect.stringMatching(/^tester@example.com inventory.accounts.upsert /),
      ]),
    );
    expect(changes(all.protection)).toContain(`tester@example.com plans.set account:${a.accountIds.azure}`);
  });

  it("filters by action (exact or a prefix with `*`), target and time window", async () => {
    const siem = async (filter: Record<string, unknown>) =>
      changes(ok(await platform.request(SiemAuditTrailDocument, { filter }, alice)).auditTrail.siem);
    expect(await siem({ action: "rules.*" })).toEqual([`alice@a.example rules.rule.created rule:${ruleId}`]);
    expect(await siem({ action: "incident.closed" })).toEqual([
      `alice@a.example incident.closed incident:${incidentId}`,
    ]);
    // An exact action is not a prefix.
    expect(await siem({ action: "incident.close" })).toEqual([]);
    expect(await siem({ target: `incident:${incidentId}` })).toEqual([
      `alice@a.example incident.closed incident:${incidentId}`,
    ]);
    expect(await siem({ target: `rule:${ruleId}`, action: "incident.*" })).toEqual([]);
    // The window splits the seeding's changes from alice's.
    expect(await siem({ from: aliceStarted.toISOString() })).toEqual([
      `alice@a.example incident.closed incident:${incidentId}`,
      `alice@a.example rules.rule.created rule:${ruleId}`,
    ]);
    const before = await siem({ to: aliceStarted.toISOString() });
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((c) => c.startsWith("tester@example.com "))).toBe(true);
  });

  it("pages with cursors: every entry once, in the order of one big page", async () => {
    const whole = (await trail(alice, { first: 100 })).posture;
    expect(whole.pageInfo.hasNextPage).toBe(false);
    expect(whole.nodes.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let after: string | null | undefined;
    for (;;) {
      const page = (await trail(alice, { first: 1, after })).posture;
      expect(page.totalCount).toBe(whole.totalCount);
      seen.push(...page.nodes.map((n) => n.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(whole.nodes.map((n) => n.id));
  });

  it("refuses bad paging and filters with BAD_USER_INPUT", async () => {
    const ask = (variables: SiemAuditTrailQueryVariables) =>
      platform.request(SiemAuditTrailDocument, variables, alice);
    expect(problems(await ask({ first: 101 }))).toEqual(["first: must be between 1 and 100"]);
    expect(problems(await ask({ after: "bm90IGEgY3Vyc29y" }))).toEqual(["after: not a cursor of this list"]);
    // A cursor of the right shape whose time is not one: refused before it reaches SQL.
    const forged = Buffer.from(JSON.stringify(["2026-02-30T00:00:00.000000Z", "1"])).toString("base64url");
    expect(problems(await ask({ after: forged }))).toEqual(["after: not a cursor of this list"]);
    expect(
      problems(
        await ask({ filter: { actor: "", from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" } }),
      ),
    ).toEqual(["filter.actor: must not be empty", "filter.to: must be after `from`"]);
  });

  it("is ADMIN's only: READER, ANALYST, RESPONDER and INGESTOR get FORBIDDEN and no entry", async () => {
    for (const role of [Role.READER, Role.ANALYST, Role.RESPONDER, Role.INGESTOR]) {
      const token = await platform.token([role], "tenant-a");
      const res = await platform.request(AuditTrailDocument, {}, token);
      expect({ role, codes: [...new Set(codes(res))] }).toEqual({ role, codes: ["FORBIDDEN"] });
    }
  });

  it("never shows another tenant's entries", async () => {
    const theirs = await trail(bob, { first: 100 });
    expect(theirs.id).toBe("tenant-b");
    const actors = (t: AuditTrailQuery["auditTrail"]) =>
      new Set([t.posture, t.protection, t.siem].flatMap((p) => p.nodes.map((n) => n.actor)));
    expect(actors(theirs)).toEqual(new Set(["tester@example.com", "bob@b.example"]));
    expect(changes(theirs.protection)).toContain(`bob@b.example plans.set account:${b.accountIds.aws}`);
    expect(changes(theirs.protection).join("\n")).not.toContain(a.accountIds.azure);
    expect(actors(await trail(alice, { first: 100 }))).not.toContain("bob@b.example");
  });

  it("resolves a forged `_entities` representation of another tenant's trail to nothing, straight to a subgraph", async () => {
    const send = async (subgraph: "protection" | "siem", roles: Role[], tenant: string, id: string) =>
      postGraphql<{ _entities: Array<Record<string, { nodes: Array<{ actor: string }> }> | null> }>(
        platform.subgraphs[subgraph].url,
        { query: entities(subgraph), variables: { representations: [{ __typename: "AuditTrail", id }] } },
        { [IDENTITY_HEADER]: await platform.internalToken(roles, tenant) },
      );
    for (const subgraph of ["protection", "siem"] as const) {
      // B's admin naming A's trail gets nothing.
      const forged = await send(subgraph, [Role.ADMIN], "tenant-b", "tenant-a");
      expect(forged.errors).toBeUndefined();
      expect(forged.data!._entities).toEqual([null]);
      // A's own admin naming A's trail gets it: the refusal above is not vacuous.
      const own = await send(subgraph, [Role.ADMIN], "tenant-a", "tenant-a");
      expect(own.data!._entities[0]![subgraph].nodes.map((n) => n.actor)).toContain("alice@a.example");
      // A reader naming its own tenant's trail is refused.
      const reader = await send(subgraph, [Role.READER], "tenant-a", "tenant-a");
      expect(reader.errors?.map((e) => e.extensions?.code)).toEqual(["FORBIDDEN"]);
      expect(reader.data?._entities ?? [null]).toEqual([null]);
    }
  });

  it("runs the example of docs/api.md", async () => {
    const block = /```graphql\n(query WhoClosedIt[\s\S]*?)```/.exec(readFileSync("docs/api.md", "utf8"))?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<AuditTrailQuery, { incident: string }>;
    const answer = ok(await platform.request(doc, { incident: `incident:${incidentId}` }, alice)).auditTrail;
    expect(changes(answer.siem)).toEqual([`alice@a.example incident.closed incident:${incidentId}`]);
  });
});
