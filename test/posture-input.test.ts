import {
  ComplianceStandardsDocument,
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  ResourcePostureDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

const base = {
  title: "Key vaults should have purge protection",
  severity: "MEDIUM" as const,
  controlId: "remediate-security-configurations",
  resourceTypes: ["Microsoft.KeyVault/vaults"],
};

describe("posture: bad input is refused with the fault named, and nothing is stored", () => {
  let platform: TestPlatform;
  let admin: string;
  let accountId: string;

  const customCount = async () =>
    (
      await postGraphql<{ policyDefinitions: { totalCount: number } }>(
        platform.gateway.url,
        { query: "{ policyDefinitions(filter: { source: CUSTOM_POLICY }) { totalCount } }" },
        { authorization: `Bearer ${admin}` },
      )
    ).data!.policyDefinitions.totalCount;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "true" });
    admin = await platform.token([Role.ADMIN]);
    accountId = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: "s-bad", name: "Bad" }] },
        admin,
      ),
    ).upsertCloudAccounts[0].id;
  });
  afterAll(() => platform?.stop());

  let deep: unknown = { field: "name", equals: "x" };
  for (let i = 0; i < 1000; i++) deep = { not: deep };

  it.each([
    ["invalid JSON shape", "not a condition", /condition/],
    ["an unknown operator", { field: "properties.enablePurgeProtection", equal: true }, /condition.*equal/],
    ["a type mismatch", { field: "properties.sku.name", in: "standard" }, /condition\.in/],
    ["an invalid field path", { field: "properties..x", equals: 1 }, /condition\.field/],
    ["a condition nested 1,000 deep", deep, /condition(\.not){32}/],
    ["a template expression", { field: "name", equals: "[concat('a', 'b')]" }, /template/],
  ])("refuses %s", async (_what, condition, pattern) => {
    const before = await customCount();
    const res = await platform.request(
      CreatePolicyDefinitionDocument,
      { input: { ...base, condition } },
      admin,
    );
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const problems = res.errors![0].extensions!.problems as Array<{ field: string; message: string }>;
    expect(problems.map((p) => `${p.field} ${p.message}`).join("\n")).toMatch(pattern);
    expect(await customCount()).toBe(before);
  });

  it("refuses a 5 MB definition", async () => {
    const before = await customCount();
    const huge = {
      anyOf: Array.from({ length: 50_000 }, (_, i) => ({
        field: "name",
        equals: `vault-${i}-${"x".repeat(80)}`,
      })),
    };
    const res = await platform.request(
      CreatePolicyDefinitionDocument,
      { input: { ...base, condition: huge } },
      admin,
    );
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(JSON.stringify(res.errors![0].extensions!.problems)).toMatch(/bytes/);
    expect(await customCount()).toBe(before);
  });

  it("refuses unknown controls and empty resource types", async () => {
    const res = await platform.request(
      CreatePolicyDefinitionDocument,
      {
        input: { ...base, controlId: "nope", resourceTypes: [], condition: { field: "name", exists: true } },
      },
      admin,
    );
    expect(
      (res.errors![0].extensions!.problems as Array<{ field: string }>).map((p) => p.field).sort(),
    ).toEqual(["controlId", "resourceTypes"]);
  });

  it("evaluates resources with malformed properties without failing the upsert", async () => {
    const weird = [
      { properties: { enablePurgeProtection: "yes", networkAcls: [1, 2], securityRules: "none" } },
      { properties: { sku: null, accessPolicies: { 0: "x" } } },
      { properties: { nested: { deeper: [[[{}]]] } } },
    ].map((extra, i) => ({
      accountId,
      externalId: `/vaults/weird-${i}`,
      type: "Microsoft.KeyVault/vaults",
      name: `kv-weird-${i}`,
      ...extra,
    }));
    const { ids } = ok(
      await platform.request(UpsertResourcesDocument, { input: weird }, admin),
    ).upsertResources;
    const posture = ok(await platform.request(ResourcePostureDocument, { id: ids[0] }, admin)).resource!;
    expect(posture.assessments.totalCount).toBeGreaterThan(0);
  });

  it("reports every standard's controls as PASSED, FAILED or SKIPPED", async () => {
    const standards = ok(await platform.request(ComplianceStandardsDocument, {}, admin)).complianceStandards;
    expect(standards.length).toBeGreaterThanOrEqual(2);
    for (const s of standards) {
      expect(s.passedControls + s.failedControls + s.skippedControls).toBe(s.controls.length);
      expect(s.failedControls).toBeGreaterThan(0);
      for (const c of s.controls.filter((c) => c.state === "FAILED"))
        expect(c.failedResources).toBeGreaterThan(0);
    }
  });

  it("restores exempted assessments when the exemption expires (durable job)", async () => {
    const { ids } = ok(
      await platform.request(
        UpsertResourcesDocument,
        {
          input: [
            {
              accountId,
              externalId: "/vaults/exp",
              type: "Microsoft.KeyVault/vaults",
              name: "kv-exp",
              properties: {},
            },
          ],
        },
        admin,
      ),
    ).upsertResources;
    const unhealthy = ok(
      await platform.request(ResourcePostureDocument, { id: ids[0] }, admin),
    ).resource!.assessments.nodes.find((a) => a.status === "UNHEALTHY" && a.source === "BUILT_IN")!;
    ok(
      await platform.request(
        CreateExemptionDocument,
        {
          input: {
            definitionId: unhealthy.definitionId,
            resourceId: ids[0],
            category: "MITIGATED",
            reason: "Compensating control",
            expiresAt: new Date(Date.now() + 1500).toISOString(),
          },
        },
        admin,
      ),
    );
    const status = async () =>
      ok(
        await platform.request(ResourcePostureDocument, { id: ids[0] }, admin),
      ).resource!.assessments.nodes.find((a) => a.definitionId === unhealthy.definitionId)!.status;
    expect(await status()).toBe("NOT_APPLICABLE");
    const deadline = Date.now() + 20_000;
    while ((await status()) !== "UNHEALTHY" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    expect(await status()).toBe("UNHEALTHY");
  });
});
