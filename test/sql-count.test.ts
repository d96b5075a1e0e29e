import {
  AccountsComplianceDocument,
  AccountsWithIncidentSummaryDocument,
  AlertsWithIncidentsDocument,
  DashboardDocument,
  ResourcesNeighboursDocument,
  ResourcesWithRecentEventsDocument,
} from "./__generated__/graphql";
import { Role, sqlStatementCount } from "../subgraphs/common/src";
import { topologyCache } from "../subgraphs/posture/src/modules/network/network-topology-cache";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, resourceAccountsSynced, seedTenant } from "./utils/seed";

const SUBGRAPHS = ["posture", "protection", "siem"] as const;

/** SQL statements each subgraph sends while `run` executes. */
async function countStatements(
  run: () => Promise<void>,
): Promise<Record<(typeof SUBGRAPHS)[number], number>> {
  const before = await Promise.all(SUBGRAPHS.map(sqlStatementCount));
  await run();
  const after = await Promise.all(SUBGRAPHS.map(sqlStatementCount));
  return Object.fromEntries(SUBGRAPHS.map((s, i) => [s, after[i] - before[i]])) as Record<
    (typeof SUBGRAPHS)[number],
    number
  >;
}

describe("SQL statements per operation (budget P2)", () => {
  let platform: TestPlatform;
  let reader: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    await seedTenant(platform, "tenant-a", 150);
    await resourceAccountsSynced(platform);
    reader = await platform.token([Role.READER]);
  });
  afterAll(() => platform?.stop());

  it("runs a fixed number of statements for 100 resources with fields from all three subgraphs", async () => {
    let nodes = 0;
    const counts = await countStatements(async () => {
      const data = ok(await platform.request(DashboardDocument, { first: 100 }, reader));
      nodes = data.resources.nodes.length;
      expect(data.resources.nodes.filter((n) => n.alerts.totalCount > 0).length).toBeGreaterThan(0);
    });
    expect(nodes).toBe(100);
    // Each subgraph request is one read transaction: BEGIN, set tenant, its batched loads, COMMIT.
    // posture: page + count + accounts; protection: plans; siem: alerts + incidents.
    expect(counts).toEqual({ posture: 6, protection: 4, siem: 5 });
  });

  it("runs the same number of statements whatever the page size (no N+1)", async () => {
    const small = await countStatements(async () => {
      ok(await platform.request(DashboardDocument, { first: 10 }, reader));
    });
    const large = await countStatements(async () => {
      ok(await platform.request(DashboardDocument, { first: 100 }, reader));
    });
    expect(large).toEqual(small);
  });

  it("reads every account's compliance and a page of resources' network neighbours in a fixed number of statements", async () => {
    const compliance = async (first: number) =>
      countStatements(async () => {
        const data = ok(await platform.request(AccountsComplianceDocument, { first }, reader));
        expect(data.accounts.nodes).toHaveLength(first);
        for (const a of data.accounts.nodes) expect(a.compliance.length).toBeGreaterThan(0);
      });
    // BEGIN, set tenant, the page of accounts, one compliance statement for all of them, the tenant's
    // custom and external definitions (two statements, once per request), COMMIT.
    expect(await compliance(2)).toEqual({ posture: 7, protection: 0, siem: 0 });
    expect(await compliance(1)).toEqual(await compliance(2));

    const neighbours = async (first: number) =>
      countStatements(async () => {
        const data = ok(
          await platform.request(
            ResourcesNeighboursDocument,
            { filter: { types: ["Microsoft.Compute/virtualMachines"] }, first },
            reader,
          ),
        );
        expect(data.resources.nodes).toHaveLength(first);
      });
    // Cold (nothing kept between requests): BEGIN, set tenant, the page, the tenant's inventory token, the
    // network resources of the page's accounts (one statement for all of them), those of the accounts one hop
    // away (one statement), COMMIT.
    topologyCache.clear();
    expect(await neighbours(40)).toEqual({ posture: 7, protection: 0, siem: 0 });
    // Kept (the inventory unchanged): the token instead of the two network statements, whatever the page's size
    // (the page of two is asked once first: its accounts may be fewer, another topology).
    await neighbours(2);
    expect(await neighbours(40)).toEqual({ posture: 5, protection: 0, siem: 0 });
    expect(await neighbours(2)).toEqual(await neighbours(40));
  });

  it("lists alerts with their incident in a fixed number of statements (the page, then one batch of incidents)", async () => {
    let withIncident = 0;
    const counts = await countStatements(async () => {
      const data = ok(await platform.request(AlertsWithIncidentsDocument, { first: 100 }, reader));
      expect(data.alerts.nodes.length).toBeGreaterThan(2);
      withIncident = data.alerts.nodes.filter((n) => n.incident).length;
    });
    expect(withIncident).toBeGreaterThan(0);
    // BEGIN, set tenant, the page (with its total), the incidents of all its alerts, COMMIT.
    expect(counts).toEqual({ posture: 0, protection: 0, siem: 5 });
    const small = await countStatements(async () => {
      ok(await platform.request(AlertsWithIncidentsDocument, { first: 2 }, reader));
    });
    expect(small).toEqual(counts);
  });

  it("pages every resource's recent events in a fixed number of statements (one page statement, one count)", async () => {
    const counts = await countStatements(async () => {
      const data = ok(await platform.request(ResourcesWithRecentEventsDocument, { first: 100 }, reader));
      expect(data.resources.nodes).toHaveLength(100);
    });
    // siem: BEGIN, set tenant, the events of all 100 resources, their counts, COMMIT.
    expect(counts.siem).toBe(5);
    const small = await countStatements(async () => {
      ok(await platform.request(ResourcesWithRecentEventsDocument, { first: 3 }, reader));
    });
    expect(small).toEqual(counts);
  });

  it("summarises the incidents of a list of accounts in a fixed number of statements", async () => {
    const counts = await countStatements(async () => {
      const data = ok(await platform.request(AccountsWithIncidentSummaryDocument, { first: 2 }, reader));
      expect(data.accounts.nodes).toHaveLength(2);
      expect(data.accounts.nodes.some((a) => a.incidentSummary.total > 0)).toBe(true);
    });
    // posture: the accounts page (no resources: the SIEM keeps its own mirror); siem: BEGIN, set tenant, one
    // summary, COMMIT.
    expect(counts.siem).toBe(4);
    const small = await countStatements(async () => {
      ok(await platform.request(AccountsWithIncidentSummaryDocument, { first: 1 }, reader));
    });
    expect(small).toEqual(counts);
  });
});
