import {
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  RecommendationsDocument,
  ResourcePostureDocument,
  ScoreHistoryDocument,
  SecureScoreDocument,
  SetPolicyDefinitionEnabledDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/** Journey 1 of product.md: onboard, ingest inventory, see assessments, recommendations and the score move as configuration is fixed. */
describe("journey 1: posture through the gateway", () => {
  let platform: TestPlatform;
  let admin: string;
  let reader: string;
  let accountId: string;
  let definitionId: string;

  const storage = (i: number, tls: string): ResourceInput => ({
    accountId,
    externalId: `/subscriptions/s/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/stdata${i}`,
    type: "Microsoft.Storage/storageAccounts",
    name: `stdata${i}`,
    region: "westeurope",
    properties: { minimumTlsVersion: tls, supportsHttpsTrafficOnly: true },
  });
  const score = async () => ok(await platform.request(SecureScoreDocument, {}, reader)).secureScore;
  const recommendation = async (id: string) =>
    ok(await platform.request(RecommendationsDocument, { first: 100 }, reader)).recommendations.nodes.find(
      (r) => r.id === id,
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    admin = await platform.token([Role.ADMIN]);
    reader = await platform.token([Role.READER]);
    accountId = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: "sub-j1", name: "Journey" }] },
        admin,
      ),
    ).upsertCloudAccounts[0].id;
    definitionId = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        {
          input: {
            title: "Storage accounts should require TLS 1.2",
            severity: "HIGH",
            controlId: "encrypt-data-in-transit",
            resourceTypes: ["Microsoft.Storage/storageAccounts"],
            condition: { field: "properties.minimumTlsVersion", notEquals: "TLS1_2" },
            remediation: ["Set the minimum TLS version to 1.2."],
          },
        },
        admin,
      ),
    ).createPolicyDefinition.id;
  });
  afterAll(() => platform?.stop());

  it("assesses ingested inventory and recommends what to fix, with the score it is worth", async () => {
    const { ids } = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [storage(1, "TLS1_0"), storage(2, "TLS1_0"), storage(3, "TLS1_2")] },
        admin,
      ),
    ).upsertResources;
    const rec = await recommendation(definitionId);
    expect(rec).toMatchObject({
      unhealthyCount: 2,
      healthyCount: 1,
      definition: { source: "CUSTOM_POLICY" },
    });
    expect(rec!.affectedResources.nodes.map((n) => n.name).sort()).toEqual(["stdata1", "stdata2"]);
    // Built-in storage definitions of the same control may fail too, so fixing this one alone may gain nothing.
    expect(rec!.potentialScoreIncrease).toBeGreaterThanOrEqual(0);
    const posture = ok(await platform.request(ResourcePostureDocument, { id: ids[0] }, reader)).resource!;
    const mine = posture.assessments.nodes.find((a) => a.definitionId === definitionId)!;
    expect(mine).toMatchObject({ status: "UNHEALTHY", source: "CUSTOM_POLICY" });
    expect(mine.cause).toContain("TLS1_0");
    expect(posture.recommendations.map((r) => r.id)).toContain(definitionId);
  });

  it("raises the score when the configuration is fixed, and records the change", async () => {
    const before = await score();
    const control = (s: typeof before) => s.controls.find((c) => c.control.id === "encrypt-data-in-transit")!;
    const { ids } = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [storage(1, "TLS1_2"), storage(2, "TLS1_2")] },
        admin,
      ),
    ).upsertResources;
    const after = await score();
    expect(after.current).toBeGreaterThan(before.current);
    expect(control(after).healthy).toBe(control(before).healthy + 2);
    expect(control(after).unhealthy).toBe(control(before).unhealthy - 2);
    expect(await recommendation(definitionId)).toBeUndefined();
    const history = ok(
      await platform.request(ResourcePostureDocument, { id: ids[0] }, reader),
    ).resource!.assessments.nodes.find((a) => a.definitionId === definitionId)!.history;
    expect(history.map((h) => [h.from, h.to])).toEqual([
      ["UNHEALTHY", "HEALTHY"],
      [null, "UNHEALTHY"],
    ]);
    const today = new Date().toISOString().slice(0, 10);
    const snapshots = ok(
      await platform.request(
        ScoreHistoryDocument,
        { from: `${today}T00:00:00Z`, to: `${today}T23:59:59Z` },
        reader,
      ),
    ).secureScoreHistory;
    expect(snapshots).toEqual([
      { day: today, current: after.current, max: after.max, percentage: after.percentage },
    ]);
  });

  it("counts exempted assessments as not applicable, and restores them when the exemption is revoked", async () => {
    const { ids } = ok(
      await platform.request(UpsertResourcesDocument, { input: [storage(4, "TLS1_0")] }, admin),
    ).upsertResources;
    const before = await score();
    const exemption = ok(
      await platform.request(
        CreateExemptionDocument,
        { input: { definitionId, resourceId: ids[0], category: "WAIVER", reason: "Legacy client until Q3" } },
        admin,
      ),
    ).createExemption;
    const assessed = async () =>
      ok(
        await platform.request(ResourcePostureDocument, { id: ids[0] }, reader),
      ).resource!.assessments.nodes.find((a) => a.definitionId === definitionId)!;
    expect(await assessed()).toMatchObject({
      status: "NOT_APPLICABLE",
      exemptionId: exemption.id,
      cause: "Exempted (WAIVER): Legacy client until Q3",
    });
    expect((await score()).current).toBeGreaterThanOrEqual(before.current);
    ok(await platform.request(DeleteExemptionDocument, { id: exemption.id }, admin));
    expect(await assessed()).toMatchObject({ status: "UNHEALTHY", exemptionId: null });
    expect(await score()).toEqual(before);
  });

  it("prices a recommendation by the points its fix would gain, and a disabled definition leaves the score", async () => {
    // A custom type only this definition applies to keeps the arithmetic exact: data classification is worth 2.
    const widgets = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        {
          input: {
            title: "Widgets should carry a data classification",
            severity: "LOW",
            controlId: "apply-data-classification",
            resourceTypes: ["Contoso.Custom/widgets"],
            condition: { field: "tags.dataClassification", exists: false },
          },
        },
        admin,
      ),
    ).createPolicyDefinition.id;
    const widget = (i: number, tags: Record<string, string>): ResourceInput => ({
      accountId,
      externalId: `/contoso/widgets/w${i}`,
      type: "Contoso.Custom/widgets",
      name: `widget-${i}`,
      tags,
    });
    ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [widget(1, {}), widget(2, {}), widget(3, { dataClassification: "Internal" })] },
        admin,
      ),
    );
    const before = await score();
    const classification = (s: typeof before) =>
      s.controls.find((c) => c.control.id === "apply-data-classification")!;
    // The storage accounts above count in this control too (built-in classification checks).
    const control = classification(before);
    expect(control.max).toBe(2);
    // Fixing the two unclassified widgets flips two resources to healthy in a control of this weight.
    expect(await recommendation(widgets)).toMatchObject({
      healthyCount: 1,
      unhealthyCount: 2,
      potentialScoreIncrease: Math.round(((2 * 2) / control.weight) * 100) / 100,
    });

    ok(
      await platform.request(
        SetPolicyDefinitionEnabledDocument,
        { input: { definitionId: widgets, accountId, enabled: false } },
        admin,
      ),
    );
    expect(await recommendation(widgets)).toBeUndefined();
    const disabled = await score();
    expect(classification(disabled)).toMatchObject({
      healthy: control.healthy - 1,
      unhealthy: control.unhealthy - 2,
      weight: control.weight - 3,
    });
    ok(
      await platform.request(
        SetPolicyDefinitionEnabledDocument,
        { input: { definitionId: widgets, accountId, enabled: true } },
        admin,
      ),
    );
    expect(await score()).toEqual(before);
  });

  it("takes external assessments (typed EXTERNAL) and keeps the good records of a batch", async () => {
    const { ids } = ok(
      await platform.request(UpsertResourcesDocument, { input: [storage(1, "TLS1_2")] }, admin),
    ).upsertResources;
    const input = [
      {
        resourceId: ids[0],
        definitionKey: "scanner/open-shares",
        title: "Storage should have no anonymous shares",
        severity: "MEDIUM" as const,
        controlId: "manage-access-and-permissions",
        status: "UNHEALTHY" as const,
        cause: "2 anonymous shares",
      },
      {
        resourceId: "0190d9a0-0000-7000-8000-000000000009",
        definitionKey: "scanner/open-shares",
        title: "x",
        severity: "LOW" as const,
        controlId: "manage-access-and-permissions",
        status: "HEALTHY" as const,
      },
      {
        resourceId: ids[0],
        definitionKey: "bad key!",
        title: "x",
        severity: "LOW" as const,
        controlId: "nope",
        status: "HEALTHY" as const,
      },
    ];
    const result = ok(
      await platform.request(UpsertAssessmentsDocument, { input }, await platform.token([Role.INGESTOR])),
    ).upsertAssessments;
    expect(result.acceptedCount).toBe(1);
    expect(result.rejected).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ index: 1, field: "resourceId" }),
        expect.objectContaining({ index: 2, field: "definitionKey" }),
        expect.objectContaining({ index: 2, field: "controlId" }),
      ]),
    );
    expect(await recommendation("scanner/open-shares")).toMatchObject({
      unhealthyCount: 1,
      definition: { source: "EXTERNAL" },
    });
    const again = ok(
      await platform.request(UpsertAssessmentsDocument, { input: [input[0]] }, admin),
    ).upsertAssessments;
    expect(again).toMatchObject({ acceptedCount: 1, changedCount: 0 });
  });
});
