import type { DataSource } from "typeorm";
import {
  ComplianceStandardsDocument,
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  DeletePolicyDefinitionDocument,
  ExemptionsDocument,
  ExemptionTargetsDocument,
  PolicyDefinitionByIdDocument,
  RecommendationsDocument,
  ResourcePostureDocument,
  ScoreHistoryDocument,
  SecureScoreDocument,
  SetPolicyDefinitionEnabledDocument,
  UpdatePolicyDefinitionDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpsertResourcesDocument,
  type CreateExemptionInput,
  type PolicyDefinitionInput,
  type ResourceInput,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { evaluateTenant } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { codes, problems } from "./utils/errors";
import { ok } from "./utils/seed";

/**
 * Resource-group exemptions (Azure Policy's resource-group scope) and the deletion of custom definitions,
 * through the gateway on a real database, on a resource type no built-in definition names (so every count is
 * exact). Each test has tenants of its own: two Azure subscriptions and an AWS account.
 */

const GADGET = "Contoso.Custom/gadgets";
const SUB_A = "5b3f6a1e-0c2d-4e8f-9a71-2d4c6e8f0a13";
const SUB_B = "9e2d4c6b-7a81-4f3e-b5d0-1c2e3f4a5b6c";
const CONTROL = "apply-data-classification";
const OTHER_CONTROL = "enable-auditing-and-logging";
const RG_NAME_RULE =
  "resourceGroup: must be an Azure resource group name: 1 to 90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period";

/** The ARM id of a gadget in a subscription's resource group. */
const armId = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/${GADGET}/${name}`;

describe("posture: resource-group exemptions and deleting custom definitions", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let tenantSeq = 0;

  /** One tenant: its tokens and accounts (`a`, `b`: Azure subscriptions SUB_A, SUB_B; `aws`). */
  interface Tenant {
    name: string;
    admin: string;
    reader: string;
    a: string;
    b: string;
    aws: string;
  }
  let t: Tenant;

  const newTenant = async (): Promise<Tenant> => {
    const name = `tenant-scope-${++tenantSeq}`;
    const admin = await platform.token([Role.ADMIN], name);
    const reader = await platform.token([Role.READER], name);
    const [a, b, aws] = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: SUB_A, name: "Production" },
            { provider: "AZURE", externalId: `/subscriptions/${SUB_B}`, name: "Staging" },
            { provider: "AWS", externalId: "123456789012", name: "Workloads" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts.map((x) => x.id);
    return { name, admin, reader, a, b, aws };
  };

  const gadget = (accountId: string, externalId: string, locked = false): ResourceInput => ({
    accountId,
    externalId,
    type: GADGET,
    name: externalId.split("/").pop()!,
    properties: { locked },
  });
  const upsert = async (input: ResourceInput[], tenant = t) =>
    ok(await platform.request(UpsertResourcesDocument, { input }, tenant.admin)).upsertResources.ids;
  const definition = (controlId = CONTROL, title = "Gadgets should be locked"): PolicyDefinitionInput => ({
    title,
    severity: "MEDIUM",
    controlId,
    resourceTypes: [GADGET],
    condition: { field: "properties.locked", notEquals: true },
  });
  const createDefinition = async (controlId = CONTROL, title?: string, tenant = t) =>
    ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        { input: definition(controlId, title) },
        tenant.admin,
      ),
    ).createPolicyDefinition.id;
  const exempt = (input: Partial<CreateExemptionInput> & { definitionId: string }, tenant = t) =>
    platform.request(
      CreateExemptionDocument,
      { input: { category: "WAIVER", reason: "Retiring in Q3", ...input } },
      tenant.admin,
    );
  const revoke = async (id: string, tenant = t) =>
    ok(await platform.request(DeleteExemptionDocument, { id }, tenant.admin));
  const score = async (accountId?: string, tenant = t) =>
    ok(await platform.request(SecureScoreDocument, { accountId }, tenant.reader)).secureScore;
  const control = (s: Awaited<ReturnType<typeof score>>, id = CONTROL) =>
    s.controls.find((c) => c.control.id === id)!;
  /** A resource's assessment of a definition: status, cause and exemption (undefined when it has none). */
  const assessment = async (resourceId: string, definitionId: string, tenant = t) => {
    const a = ok(
      await platform.request(ResourcePostureDocument, { id: resourceId }, tenant.reader),
    ).resource!.assessments.nodes.find((n) => n.definitionId === definitionId);
    return a && { status: a.status, cause: a.cause, exemptionId: a.exemptionId };
  };
  const statuses = async (ids: string[], definitionId: string, tenant = t) =>
    Promise.all(ids.map(async (id) => (await assessment(id, definitionId, tenant))?.status));
  const recommendationIds = async (tenant = t) =>
    ok(
      await platform.request(RecommendationsDocument, { first: 100 }, tenant.reader),
    ).recommendations.nodes.map((r) => r.id);

  /** The tenant's evaluated state, as the posture role reads it. */
  const state = (tenant = t) =>
    inTenant(ds, tenant.name, async (m) => ({
      assessments: await m.query(
        `SELECT resource_id, definition_id, account_id, control_id, source, status, raw_status, cause, raw_cause, exemption_id
         FROM assessments ORDER BY 1, 2`,
      ),
      controlStates: await m.query(
        `SELECT resource_id, control_id, account_id, healthy_count, unhealthy_count, na_count FROM control_states ORDER BY 1, 2`,
      ),
      counters: await m.query(
        `SELECT account_id, control_id, healthy, unhealthy, not_applicable FROM score_counters
         WHERE healthy <> 0 OR unhealthy <> 0 OR not_applicable <> 0 ORDER BY 1, 2`,
      ),
    }));
  /** Asserts that a full re-evaluation from nothing lands on the state the incremental path left. */
  const expectFullEvaluationToAgree = async (tenant = t) => {
    const incremental = await state(tenant);
    await inTenant(ds, tenant.name, async (m) => {
      await m.query(`DELETE FROM assessments WHERE source <> 'EXTERNAL'`);
      await m.query(`DELETE FROM control_states`);
      await m.query(`DELETE FROM score_counters`);
      await evaluateTenant(m, tenant.name);
    });
    expect(await state(tenant)).toEqual(incremental);
  };

  beforeAll(async () => {
    // Jobs run: exemption expiry is a durable job.
    platform = await startTestPlatform();
    ds = await platform.connect("posture");
  });
  afterAll(() => platform?.stop());
  beforeEach(async () => {
    t = await newTenant();
  });

  describe("resource-group exemptions", () => {
    it("exempt every resource under the group's ARM id in any letter case, later ones too, and nothing else; revoking restores them", async () => {
      const def = await createDefinition();
      const ids = await upsert([
        gadget(t.a, armId(SUB_A, "RG-Web", "g1")),
        gadget(t.a, armId(SUB_A, "rg-web", "g2").toUpperCase()),
        gadget(t.a, armId(SUB_A, "rg-web-2", "g3")), // a group whose name starts with the exempted one's
        gadget(t.a, armId(SUB_A, "rg-other", "g4")),
        gadget(t.b, armId(SUB_B, "rg-web", "g5")), // the same name in another subscription
        gadget(t.a, "/contoso/gadgets/g6"), // no ARM id
      ]);
      expect(control(await score())).toMatchObject({ unhealthy: 6, notApplicable: 0 });

      const exemption = ok(
        await exempt({ definitionId: def, accountId: t.a, resourceGroup: "rg-WEB" }),
      ).createExemption;
      expect(exemption).toMatchObject({ accountId: t.a, resourceGroup: "rg-WEB", resourceId: null });
      expect(ok(await platform.request(ExemptionsDocument, {}, t.reader)).exemptions.nodes).toEqual([
        { id: exemption.id, definitionId: def, resourceId: null, accountId: t.a, resourceGroup: "rg-WEB" },
      ]);
      for (const id of ids.slice(0, 2))
        expect(await assessment(id, def)).toEqual({
          status: "NOT_APPLICABLE",
          cause: "Exempted (WAIVER): Retiring in Q3",
          exemptionId: exemption.id,
        });
      expect(await statuses(ids.slice(2), def)).toEqual(Array(4).fill("UNHEALTHY"));
      expect(control(await score())).toMatchObject({ unhealthy: 4, notApplicable: 2 });
      expect(control(await score(t.a))).toMatchObject({ unhealthy: 3, notApplicable: 2 });

      // One changed resource is re-scored alone (the incremental path): still in the group, still exempted.
      // A resource added to the group later is exempted as it arrives, in its own spelling of the group.
      const [, g7] = await upsert([
        { ...gadget(t.a, armId(SUB_A, "RG-Web", "g1")), tags: { owner: "web" } },
        gadget(t.a, `/subscriptions/${SUB_A.toUpperCase()}/resourcegroups/Rg-Web/providers/${GADGET}/g7`),
      ]);
      expect(await assessment(ids[0], def)).toMatchObject({ exemptionId: exemption.id });
      expect(await assessment(g7, def)).toMatchObject({
        status: "NOT_APPLICABLE",
        exemptionId: exemption.id,
      });
      expect(control(await score())).toMatchObject({ unhealthy: 4, notApplicable: 3 });
      await expectFullEvaluationToAgree();

      expect(ok(await platform.request(DeleteExemptionDocument, { id: exemption.id }, t.admin))).toEqual({
        deleteExemption: { id: exemption.id },
      });
      for (const id of [...ids.slice(0, 2), g7])
        expect(await assessment(id, def)).toEqual({
          status: "UNHEALTHY",
          cause: expect.stringContaining("locked"),
          exemptionId: null,
        });
      expect(control(await score())).toMatchObject({ unhealthy: 7, notApplicable: 0 });
      await expectFullEvaluationToAgree();
    });

    it("apply the narrowest exemption that covers a resource, and fall back to a wider one when it is revoked", async () => {
      const def = await createDefinition();
      const [inGroupOwn, inGroup, outside] = await upsert([
        gadget(t.a, armId(SUB_A, "rg-web", "own")),
        gadget(t.a, armId(SUB_A, "rg-web", "grouped")),
        gadget(t.a, armId(SUB_A, "rg-data", "outside")),
      ]);
      const accountWide = ok(await exempt({ definitionId: def, accountId: t.a })).createExemption.id;
      const group = ok(await exempt({ definitionId: def, accountId: t.a, resourceGroup: "rg-web" }))
        .createExemption.id;
      const own = ok(await exempt({ definitionId: def, resourceId: inGroupOwn })).createExemption.id;
      const shown = async () =>
        Promise.all(
          [inGroupOwn, inGroup, outside].map(async (id) => (await assessment(id, def))?.exemptionId),
        );
      expect(await shown()).toEqual([own, group, accountWide]);
      // Each exemption leads to what it exempts: the definition, the resource or the account.
      const targets = new Map(
        ok(await platform.request(ExemptionTargetsDocument, {}, t.reader)).exemptions.nodes.map((e) => [
          e.id,
          e,
        ]),
      );
      expect(targets.get(own)).toEqual({
        id: own,
        definition: { id: def },
        resource: { id: inGroupOwn, name: expect.stringContaining("own") },
        account: { id: t.a },
      });
      for (const wider of [group, accountWide])
        expect(targets.get(wider)).toEqual({
          id: wider,
          definition: { id: def },
          resource: null,
          account: { id: t.a },
        });
      await revoke(group);
      expect(await shown()).toEqual([own, accountWide, accountWide]);
      await revoke(accountWide);
      expect(await shown()).toEqual([own, null, null]);
      expect(control(await score())).toMatchObject({ unhealthy: 2, notApplicable: 1 });
      await expectFullEvaluationToAgree();
    });

    it("hold for reported (external) assessments: reported in the group while exempted, restored as last reported", async () => {
      const [inGroup, outside] = await upsert([
        gadget(t.a, armId(SUB_A, "rg-web", "g1")),
        gadget(t.a, armId(SUB_A, "rg-data", "g2")),
      ]);
      const key = "scanner/gadget-firmware";
      const report = (resourceId: string, status: "HEALTHY" | "UNHEALTHY", cause: string) =>
        platform.request(
          UpsertAssessmentsDocument,
          {
            input: [
              {
                resourceId,
                definitionKey: key,
                title: "Gadget firmware should be current",
                severity: "HIGH",
                controlId: "apply-system-updates",
                status,
                cause,
              },
            ],
          },
          t.admin,
        );
      ok(await report(inGroup, "UNHEALTHY", "firmware 1.0"));
      ok(await report(outside, "UNHEALTHY", "firmware 1.0"));
      const exemption = ok(
        await exempt({ definitionId: key, accountId: t.a, resourceGroup: "RG-WEB", category: "MITIGATED" }),
      ).createExemption;
      expect(await assessment(inGroup, key)).toMatchObject({
        status: "NOT_APPLICABLE",
        exemptionId: exemption.id,
      });
      expect(await assessment(outside, key)).toMatchObject({ status: "UNHEALTHY", exemptionId: null });
      // A resource added to the group, then reported: exempted on arrival. The first one is reported fixed.
      const [later] = await upsert([gadget(t.a, armId(SUB_A, "rg-web", "g3"))]);
      ok(await report(later, "UNHEALTHY", "firmware 0.9"));
      ok(await report(inGroup, "HEALTHY", "firmware 3.2"));
      expect(await assessment(later, key)).toMatchObject({
        status: "NOT_APPLICABLE",
        exemptionId: exemption.id,
      });
      expect(control(await score(), "apply-system-updates")).toMatchObject({
        unhealthy: 1,
        notApplicable: 2,
      });

      await revoke(exemption.id);
      expect(await assessment(inGroup, key)).toEqual({
        status: "HEALTHY",
        cause: "firmware 3.2",
        exemptionId: null,
      });
      expect(await assessment(later, key)).toEqual({
        status: "UNHEALTHY",
        cause: "firmware 0.9",
        exemptionId: null,
      });
      expect(control(await score(), "apply-system-updates")).toMatchObject({ healthy: 1, unhealthy: 2 });
    });

    it("cover the resources added to the group while the exemption is being granted", async () => {
      const def = await createDefinition();
      const batch = (round: number) =>
        Array.from({ length: 300 }, (_, i) =>
          gadget(t.a, armId(SUB_A, i % 2 ? "rg-web" : "rg-data", `r${round}-${i}`)),
        );
      await upsert(batch(0));
      const [upserted, granted] = await Promise.all([
        platform.request(UpsertResourcesDocument, { input: batch(1) }, t.admin),
        exempt({ definitionId: def, accountId: t.a, resourceGroup: "rg-web" }),
      ]);
      expect(ok(upserted).upsertResources.ids).toHaveLength(300);
      const exemptionId = ok(granted).createExemption.id;
      const rows: Array<{ group: string; status: string; exemption_id: string | null; n: number }> =
        await inTenant(ds, t.name, (m) =>
          m.query(
            `SELECT split_part(r.external_id, '/', 5) AS group, a.status, a.exemption_id, count(*)::int AS n
             FROM assessments a JOIN resources r ON r.tenant_id = a.tenant_id AND r.id = a.resource_id
             WHERE a.definition_id = $1 GROUP BY 1, 2, 3 ORDER BY 1`,
            [def],
          ),
        );
      expect(rows).toEqual([
        { group: "rg-data", status: "UNHEALTHY", exemption_id: null, n: 300 },
        { group: "rg-web", status: "NOT_APPLICABLE", exemption_id: exemptionId, n: 300 },
      ]);
      await expectFullEvaluationToAgree();
    });

    it("end at their expiry (durable job), with the resources added to the group meanwhile", async () => {
      const def = await createDefinition();
      const [first] = await upsert([gadget(t.a, armId(SUB_A, "rg-web", "g1"))]);
      ok(
        await exempt({
          definitionId: def,
          accountId: t.a,
          resourceGroup: "rg-web",
          expiresAt: new Date(Date.now() + 3000).toISOString(),
        }),
      );
      const [added] = await upsert([gadget(t.a, armId(SUB_A, "rg-web", "g2"))]);
      expect(await statuses([first, added], def)).toEqual(["NOT_APPLICABLE", "NOT_APPLICABLE"]);
      const deadline = Date.now() + 20_000;
      while ((await statuses([first, added], def)).includes("NOT_APPLICABLE") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));
      expect(await statuses([first, added], def)).toEqual(["UNHEALTHY", "UNHEALTHY"]);
      expect(control(await score())).toMatchObject({ unhealthy: 2, notApplicable: 0 });
    });

    it("refuse malformed groups, conflicting scopes and accounts that are unknown or not Azure, storing nothing", async () => {
      const def = await createDefinition();
      await upsert([gadget(t.a, armId(SUB_A, "rg-web", "g1"))]);
      const before = await state();
      for (const bad of ["", "rg/web", "rg-web.", "rg web", "rg%2Fweb", "x".repeat(91)])
        expect([
          bad,
          problems(await exempt({ definitionId: def, accountId: t.a, resourceGroup: bad })),
        ]).toEqual([bad, [RG_NAME_RULE]]);
      // Azure's own rule allows these: periods inside, parentheses, letters of any script, 90 characters.
      for (const good of ["rg.web(1)_x-y", "Ressourcengruppe-Überprüfung", "r".repeat(90)])
        await revoke(
          ok(await exempt({ definitionId: def, accountId: t.a, resourceGroup: good })).createExemption.id,
        );
      const [resourceId] = await upsert([gadget(t.a, armId(SUB_A, "rg-web", "g1"))]);
      expect(problems(await exempt({ definitionId: def, resourceId, resourceGroup: "rg-web" }))).toEqual([
        "resourceGroup: conflicts with resourceId: an exemption has one scope",
      ]);
      expect(
        problems(await exempt({ definitionId: def, accountId: t.a, resourceId, resourceGroup: "rg-web" })),
      ).toEqual(["resourceGroup: conflicts with resourceId: an exemption has one scope"]);
      expect(problems(await exempt({ definitionId: def, resourceGroup: "rg-web" }))).toEqual([
        "accountId: is required with resourceGroup (the subscription the group is in)",
      ]);
      expect(
        problems(await exempt({ definitionId: def, accountId: t.aws, resourceGroup: "rg-web" })),
      ).toEqual(["resourceGroup: resource groups are an Azure scope; the account is AWS"]);
      expect(
        codes(
          await exempt({
            definitionId: def,
            accountId: "0190a0a0-0000-7000-8000-000000000000",
            resourceGroup: "rg-web",
          }),
        ),
      ).toEqual(["NOT_FOUND"]);
      expect(ok(await platform.request(ExemptionsDocument, {}, t.reader)).exemptions.nodes).toEqual([]);
      expect(await state()).toEqual(before);
    });

    it("stay in their tenant: another tenant's same subscription and ARM ids are not exempted, its account is not found", async () => {
      const def = await createDefinition();
      const [mine] = await upsert([gadget(t.a, armId(SUB_A, "rg-web", "g1"))]);
      const other = await newTenant();
      const otherDef = await createDefinition(CONTROL, undefined, other);
      const [theirs] = await upsert([gadget(other.a, armId(SUB_A, "rg-web", "g1"))], other);
      const exemption = ok(
        await exempt({ definitionId: def, accountId: t.a, resourceGroup: "rg-web" }),
      ).createExemption;
      expect(await assessment(mine, def)).toMatchObject({ status: "NOT_APPLICABLE" });
      expect(await assessment(theirs, otherDef, other)).toMatchObject({
        status: "UNHEALTHY",
        exemptionId: null,
      });
      // A resource the other tenant adds to its own group of that name is not exempted either.
      const [theirLater] = await upsert([gadget(other.a, armId(SUB_A, "rg-web", "g2"))], other);
      expect(await assessment(theirLater, otherDef, other)).toMatchObject({ status: "UNHEALTHY" });
      const otherBefore = await state(other);

      // The other tenant's admin: our account is not found, our exemption neither (and not listed).
      expect(
        codes(await exempt({ definitionId: otherDef, accountId: t.a, resourceGroup: "rg-web" }, other)),
      ).toEqual(["NOT_FOUND"]);
      expect(
        codes(await platform.request(DeleteExemptionDocument, { id: exemption.id }, other.admin)),
      ).toEqual(["NOT_FOUND"]);
      expect(ok(await platform.request(ExemptionsDocument, {}, other.reader)).exemptions.nodes).toEqual([]);
      expect(await assessment(mine, def)).toMatchObject({
        status: "NOT_APPLICABLE",
        exemptionId: exemption.id,
      });
      expect(await state(other)).toEqual(otherBefore);
      expect(control(await score(undefined, other))).toMatchObject({ unhealthy: 2, notApplicable: 0 });
    });
  });

  describe("deletePolicyDefinition", () => {
    it("removes a custom definition with its assessments, settings and exemptions; the score and recommendations follow", async () => {
      const kept = await createDefinition(OTHER_CONTROL, "Gadgets should stay locked");
      const ids = await upsert([
        gadget(t.a, armId(SUB_A, "rg-web", "g1")),
        gadget(t.a, armId(SUB_A, "rg-web", "g2"), true),
        gadget(t.a, armId(SUB_A, "rg-data", "g3")),
        gadget(t.b, armId(SUB_B, "rg-web", "g4")),
      ]);
      const keptExemption = ok(await exempt({ definitionId: kept, accountId: t.b })).createExemption.id;
      const before = { tenant: await score(), a: await score(t.a), b: await score(t.b) };
      const compliance = ok(await platform.request(ComplianceStandardsDocument, {}, t.reader));
      expect(before.tenant.current).toBeGreaterThan(0);

      const doomed = await createDefinition(CONTROL);
      ok(
        await platform.request(
          SetPolicyDefinitionEnabledDocument,
          { input: { definitionId: doomed, accountId: t.b, enabled: false } },
          t.admin,
        ),
      );
      const exemptions = [
        ok(
          await exempt({
            definitionId: doomed,
            resourceId: ids[0],
            expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
          }),
        ).createExemption.id,
        ok(await exempt({ definitionId: doomed, accountId: t.a, resourceGroup: "rg-data" })).createExemption
          .id,
      ];
      expect(control(await score())).toMatchObject({ healthy: 1, unhealthy: 0, notApplicable: 2 });
      // Unexempt one to have a recommendation of it too.
      await revoke(exemptions.pop()!);
      expect(control(await score())).toMatchObject({ healthy: 1, unhealthy: 1, notApplicable: 1 });
      expect(await score()).not.toEqual(before.tenant);
      expect(await recommendationIds()).toEqual(expect.arrayContaining([doomed, kept]));
      const jobs = async () =>
        (
          (await ds.query(`SELECT key FROM posture_jobs.jobs WHERE key = ANY($1::text[])`, [
            exemptions.map((id) => `exemption:${id}`),
          ])) as Array<{ key: string }>
        ).map((j) => j.key);
      expect(await jobs()).toEqual([`exemption:${exemptions[0]}`]);

      const deleted = ok(await platform.request(DeletePolicyDefinitionDocument, { id: doomed }, t.admin));
      expect(deleted.deletePolicyDefinition).toEqual({
        id: doomed,
        source: "CUSTOM_POLICY",
        version: "1",
        title: "Gadgets should be locked",
        control: { id: CONTROL },
      });

      // The score, overall and per account, is what it was before the definition existed; so is today's snapshot.
      expect({ tenant: await score(), a: await score(t.a), b: await score(t.b) }).toEqual(before);
      const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString();
      const history = ok(
        await platform.request(ScoreHistoryDocument, { from: day(-1), to: day(1) }, t.reader),
      ).secureScoreHistory;
      expect(history.at(-1)).toMatchObject({
        current: before.tenant.current,
        max: before.tenant.max,
        percentage: before.tenant.percentage,
      });
      // Custom definitions belong to no compliance standard: compliance is as it was.
      expect(ok(await platform.request(ComplianceStandardsDocument, {}, t.reader))).toEqual(compliance);
      const recommendations = await recommendationIds();
      expect(recommendations).toContain(kept);
      expect(recommendations).not.toContain(doomed);
      for (const id of ids) expect(await assessment(id, doomed)).toBeUndefined();
      expect(ok(await platform.request(PolicyDefinitionByIdDocument, { id: doomed }, t.reader))).toEqual({
        policyDefinition: null,
      });
      expect(
        ok(await platform.request(ExemptionsDocument, {}, t.reader)).exemptions.nodes.map((e) => e.id),
      ).toEqual([keptExemption]);
      const leftovers = await inTenant(ds, t.name, (m) =>
        m.query(
          `SELECT 'assessments' AS t, count(*)::int AS n FROM assessments WHERE definition_id = $1
           UNION ALL SELECT 'history', count(*)::int FROM assessment_history WHERE definition_id = $1
           UNION ALL SELECT 'settings', count(*)::int FROM definition_settings WHERE definition_id = $1
           UNION ALL SELECT 'exemptions', count(*)::int FROM exemptions WHERE definition_id = $1
           UNION ALL SELECT 'definitions', count(*)::int FROM custom_definitions WHERE id = $1`,
          [doomed],
        ),
      );
      expect(leftovers).toEqual(
        ["assessments", "history", "settings", "exemptions", "definitions"].map((name) => ({
          t: name,
          n: 0,
        })),
      );
      expect(await jobs()).toEqual([]);
      await expectFullEvaluationToAgree();

      // Gone for good: a second delete, an update, a setting, an exemption all find no such definition, and a
      // changed resource is re-scored without it.
      expect(codes(await platform.request(DeletePolicyDefinitionDocument, { id: doomed }, t.admin))).toEqual([
        "NOT_FOUND",
      ]);
      expect(
        codes(
          await platform.request(
            UpdatePolicyDefinitionDocument,
            { id: doomed, input: definition() },
            t.admin,
          ),
        ),
      ).toEqual(["NOT_FOUND"]);
      expect(
        codes(
          await platform.request(
            SetPolicyDefinitionEnabledDocument,
            { input: { definitionId: doomed, accountId: t.a, enabled: true } },
            t.admin,
          ),
        ),
      ).toEqual(["NOT_FOUND"]);
      expect(problems(await exempt({ definitionId: doomed, accountId: t.a }))).toEqual([
        "definitionId: no such definition",
      ]);
      await upsert([{ ...gadget(t.a, armId(SUB_A, "rg-web", "g1")), tags: { touched: "yes" } }]);
      expect(await assessment(ids[0], doomed)).toBeUndefined();
      expect(await score()).toEqual(before.tenant);
    });

    it("refuses built-in definitions (FORBIDDEN), and finds no external key, non-id or definition deleted already", async () => {
      const [resourceId] = await upsert([
        {
          accountId: t.a,
          externalId: armId(SUB_A, "rg-web", "kv-1").replace(`${GADGET}/`, "Microsoft.KeyVault/vaults/"),
          type: "Microsoft.KeyVault/vaults",
          name: "kv-1",
          properties: {},
        },
      ]);
      const builtIn = ok(
        await platform.request(ResourcePostureDocument, { id: resourceId }, t.reader),
      ).resource!.assessments.nodes.find((a) => a.source === "BUILT_IN")!.definitionId;
      ok(
        await platform.request(
          UpsertAssessmentsDocument,
          {
            input: [
              {
                resourceId,
                definitionKey: "scanner/vault",
                title: "Vault scanned",
                severity: "LOW",
                controlId: CONTROL,
                status: "UNHEALTHY",
              },
            ],
          },
          t.admin,
        ),
      );
      const before = await state();
      const refused = await platform.request(DeletePolicyDefinitionDocument, { id: builtIn }, t.admin);
      expect(codes(refused)).toEqual(["FORBIDDEN"]);
      expect(refused.errors![0].message).toBe(
        "Built-in definitions cannot be deleted; disable them per account instead.",
      );
      for (const id of ["scanner/vault", "not-an-id", "0190a0a0-0000-7000-8000-000000000000"])
        expect([id, codes(await platform.request(DeletePolicyDefinitionDocument, { id }, t.admin))]).toEqual([
          id,
          ["NOT_FOUND"],
        ]);
      expect(await state()).toEqual(before);
      expect(ok(await platform.request(PolicyDefinitionByIdDocument, { id: builtIn }, t.reader))).toEqual({
        policyDefinition: { id: builtIn, source: "BUILT_IN" },
      });
      // Ids are UUIDs whatever their letter case.
      const custom = await createDefinition();
      ok(await platform.request(DeletePolicyDefinitionDocument, { id: custom.toUpperCase() }, t.admin));
      expect(codes(await platform.request(DeletePolicyDefinitionDocument, { id: custom }, t.admin))).toEqual([
        "NOT_FOUND",
      ]);
    });

    it("finds no other tenant's definition, and leaves that tenant's definition, assessments and score alone", async () => {
      const def = await createDefinition();
      await upsert([
        gadget(t.a, armId(SUB_A, "rg-web", "g1")),
        gadget(t.a, armId(SUB_A, "rg-web", "g2"), true),
      ]);
      ok(await exempt({ definitionId: def, accountId: t.a, resourceGroup: "rg-web" }));
      const before = {
        state: await state(),
        score: await score(),
        recommendations: await recommendationIds(),
      };
      const other = await newTenant();
      const otherDef = await createDefinition(CONTROL, undefined, other);
      const otherBefore = await state(other);
      const asOther = await platform.request(DeletePolicyDefinitionDocument, { id: def }, other.admin);
      expect(codes(asOther)).toEqual(["NOT_FOUND"]);
      expect(JSON.stringify(asOther)).not.toContain("Gadgets should be locked");
      expect(codes(await platform.request(DeletePolicyDefinitionDocument, { id: def }, t.reader))).toEqual([
        "FORBIDDEN",
      ]);
      expect({
        state: await state(),
        score: await score(),
        recommendations: await recommendationIds(),
      }).toEqual(before);
      expect(await state(other)).toEqual(otherBefore);
      // And the other way round: deleting ours leaves theirs.
      ok(await platform.request(DeletePolicyDefinitionDocument, { id: def }, t.admin));
      expect(
        ok(await platform.request(PolicyDefinitionByIdDocument, { id: otherDef }, other.reader)),
      ).toEqual({
        policyDefinition: { id: otherDef, source: "CUSTOM_POLICY" },
      });
      expect(await state(other)).toEqual(otherBefore);
    });

    it("leaves no assessment of the definition behind when resources are evaluated while it is deleted", async () => {
      const def = await createDefinition();
      const batch = (round: number) =>
        Array.from({ length: 300 }, (_, i) => gadget(t.a, armId(SUB_A, `rg-${i % 7}`, `r${round}-${i}`)));
      await upsert(batch(0));
      const [upserted, deleted] = await Promise.all([
        platform.request(UpsertResourcesDocument, { input: batch(1) }, t.admin),
        platform.request(DeletePolicyDefinitionDocument, { id: def }, t.admin),
      ]);
      expect(ok(upserted).upsertResources.ids).toHaveLength(300);
      expect(ok(deleted).deletePolicyDefinition.id).toBe(def);
      const left = await inTenant(ds, t.name, (m) =>
        m.query(`SELECT count(*)::int AS n FROM assessments WHERE definition_id = $1`, [def]),
      );
      expect(left).toEqual([{ n: 0 }]);
      expect(control(await score())).toMatchObject({ healthy: 0, unhealthy: 0, notApplicable: 0 });
      await expectFullEvaluationToAgree();
    });
  });
});
