import { Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { seedTenant, type SeededTenant } from "./utils/seed";

/**
 * Ids are UUIDs, and a UUID is the same whatever the case of its hex digits (RFC 4122 asks readers to
 * accept upper case). Every lookup by id answers an upper-case id as it answers the lower-case one.
 */

const A = "tenant-uuid";

describe("ids in upper case", () => {
  let platform: TestPlatform;
  let seeded: SeededTenant;
  let admin: string;

  const query = async (text: string) => {
    const res = await postGraphql<Record<string, unknown>>(
      platform.gateway.url,
      { query: text },
      { authorization: `Bearer ${admin}` },
    );
    expect(res.errors).toBeUndefined();
    return res.data;
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    seeded = await seedTenant(platform, A, 6);
    admin = await platform.token([Role.ADMIN], A);
  }, 120_000);
  afterAll(() => platform?.stop());

  it.each<[string, (s: SeededTenant) => string, string]>([
    ["resource", (s) => s.resourceIds[0], "id name account { id }"],
    ["account", (s) => s.accountIds.azure, "id name"],
    ["alert", (s) => s.alertIds[0], "id title resource { id }"],
  ])("%s(id:) finds the same node", async (field, idOf, selection) => {
    const id = idOf(seeded);
    const lower = await query(`{ node: ${field}(id: "${id}") { ${selection} } }`);
    expect(lower?.node).toMatchObject({ id });
    const upper = await query(`{ node: ${field}(id: "${id.toUpperCase()}") { ${selection} } }`);
    expect(upper).toEqual(lower);
  });

  it("a custom policy definition and an analytics rule are found, and a definition enabled, by upper-case id", async () => {
    const mutate = async (text: string, variables: Record<string, unknown>) => {
      const res = await postGraphql<Record<string, { id: string }>>(
        platform.gateway.url,
        { query: text, variables },
        { authorization: `Bearer ${admin}` },
      );
      expect(res.errors).toBeUndefined();
      return Object.values(res.data!)[0];
    };
    const definition = await mutate(
      `mutation($input: PolicyDefinitionInput!) { createPolicyDefinition(input: $input) { id } }`,
      {
        input: {
          title: "Storage accounts are tagged",
          severity: "LOW",
          controlId: "remediate-security-configurations",
          resourceTypes: ["Microsoft.Storage/storageAccounts"],
          condition: { field: "tags.owner", exists: true },
        },
      },
    );
    const rule = await mutate(`mutation($t: String) { createAnalyticsRule(templateId: $t) { id } }`, {
      t: "brute-force-sign-ins-by-ip",
    });
    for (const [field, id] of [
      ["policyDefinition", definition.id],
      ["analyticsRule", rule.id],
    ] as const) {
      const lower = await query(`{ node: ${field}(id: "${id}") { id } }`);
      expect(lower).toEqual({ node: { id } });
      expect(await query(`{ node: ${field}(id: "${id.toUpperCase()}") { id } }`)).toEqual(lower);
    }
    const setting = await mutate(
      `mutation($input: SetPolicyDefinitionEnabledInput!) { setPolicyDefinitionEnabled(input: $input) { definitionId accountId enabled } }`,
      {
        input: {
          definitionId: definition.id.toUpperCase(),
          accountId: seeded.accountIds.azure.toUpperCase(),
          enabled: false,
        },
      },
    );
    expect(setting).toEqual({
      definitionId: definition.id,
      accountId: seeded.accountIds.azure,
      enabled: false,
    });
  });

  it("createIncident takes alerts by upper-case id; mergeIncidents sees the target named again as no other incident", async () => {
    const analyst = await platform.token([Role.ANALYST], A);
    const send = (text: string, variables: Record<string, unknown>) =>
      postGraphql<Record<string, { id: string; alerts: { totalCount: number } }>>(
        platform.gateway.url,
        { query: text, variables },
        { authorization: `Bearer ${analyst}` },
      );
    const created = await send(
      `mutation($input: CreateIncidentInput!) { createIncident(input: $input) { id alerts(first: 5) { totalCount } } }`,
      {
        input: {
          title: "Upper-case alert ids",
          severity: "LOW",
          alertIds: seeded.alertIds.map((id) => id.toUpperCase()),
        },
      },
    );
    expect(created.errors).toBeUndefined();
    const incident = created.data!.createIncident;
    expect(incident.alerts.totalCount).toBe(seeded.alertIds.length);
    const merged = await send(
      `mutation($input: MergeIncidentsInput!) { mergeIncidents(input: $input) { id alerts(first: 5) { totalCount } } }`,
      { input: { targetId: incident.id, sourceIds: [incident.id.toUpperCase()] } },
    );
    expect(merged.errors?.map((e) => [e.extensions?.code, e.extensions?.problems])).toEqual([
      ["BAD_USER_INPUT", [{ field: "sourceIds", message: "name at least one other incident" }]],
    ]);
    const after = await query(
      `{ incident(id: "${incident.id}") { status alerts(first: 5) { totalCount } } }`,
    );
    expect(after).toEqual({
      incident: { status: "NEW", alerts: { totalCount: seeded.alertIds.length } },
    });
  });

  it("incident(id:) finds the same incident, and a page of ids in mixed case resolves each once", async () => {
    const { incidents } = (await query(`{ incidents(first: 1) { nodes { id number } } }`)) as {
      incidents: { nodes: Array<{ id: string; number: number }> };
    };
    const [first] = incidents.nodes;
    const both = await query(
      `{ a: incident(id: "${first.id}") { id number } b: incident(id: "${first.id.toUpperCase()}") { id number } }`,
    );
    expect(both).toEqual({ a: first, b: first });
  });
});
