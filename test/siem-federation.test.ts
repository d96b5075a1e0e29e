import { readFileSync } from "node:fs";
import {
  AccountIncidentSummariesDocument,
  AccountResourceIncidentsDocument,
  CloseIncidentDocument,
  CreateIncidentDocument,
  IncidentDetailDocument,
  IngestAlertsDocument,
  ResourceRecentEventsDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import {
  RESOURCE_EVENTS_COUNT,
  RESOURCE_EVENTS_PAGE,
} from "../subgraphs/siem/src/modules/investigation/investigation.service";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, PAYMENTS_SUBSCRIPTION, resourceAccountsSynced } from "./utils/seed";

const ARM = `/subscriptions/${PAYMENTS_SUBSCRIPTION}/resourceGroups`;
const VM_BUILD = `${ARM}/rg-dev-eus/providers/Microsoft.Compute/virtualMachines/vm-build-agent-01`;
const VM_DEV_1 = `${ARM}/rg-dev-eus/providers/Microsoft.Compute/virtualMachines/vm-dev-01`;
const VM_DEV_2 = `${ARM}/rg-dev-eus/providers/Microsoft.Compute/virtualMachines/vm-dev-02`;
const VAULT = `${ARM}/rg-payments-prod/providers/Microsoft.KeyVault/vaults/kv-payments-prod`;
const BUCKET = "arn:aws:s3:::contoso-audit-logs";
const lines = readFileSync("test/fixtures/siem/AZURE_ACTIVITY.ndjson", "utf8").trim().split("\n");
/** The fixture's events about a resource (exactly that ARM id, in any case). */
const eventsOf = (armId: string) =>
  lines.filter(
    (l) => (JSON.parse(l) as { resourceId?: string }).resourceId?.toLowerCase() === armId.toLowerCase(),
  );
const WINDOW = { from: "2000-01-01T00:00:00Z", to: new Date(Date.now() + 86_400_000).toISOString() };

/** The SIEM's contributions to posture's entities, through the gateway: `Resource.recentEvents`, `CloudAccount.incidentSummary`. */
describe("siem federation: a resource's recent events and an account's incident summary", () => {
  let platform: TestPlatform;
  const tokens: Record<string, { admin: string; reader: string; ingestor: string }> = {};
  const accounts: Record<string, { azure: string; aws: string; empty: string }> = {};

  const ingest = (tenant: string, body: string) =>
    fetch(`${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=AZURE_ACTIVITY`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens[tenant].ingestor}`, "content-type": "application/x-ndjson" },
      body,
    });
  const recentEvents = async (
    tenant: string,
    vars: { first?: number; events?: number; after?: string; from?: string; to?: string },
  ) =>
    ok(
      await platform.request(
        ResourceRecentEventsDocument,
        { first: vars.first ?? 100, events: vars.events ?? 100, ...vars },
        tokens[tenant].reader,
      ),
    ).resources.nodes;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    for (const tenant of ["tenant-a", "tenant-b"]) {
      tokens[tenant] = {
        admin: await platform.token([Role.ADMIN], tenant),
        reader: await platform.token([Role.READER], tenant),
        ingestor: await platform.token([Role.INGESTOR], tenant),
      };
      const [azure, aws, empty] = ok(
        await platform.request(
          UpsertAccountsDocument,
          {
            input: [
              { provider: "AZURE", externalId: PAYMENTS_SUBSCRIPTION, name: "Contoso Production" },
              { provider: "AWS", externalId: "111122223333", name: "Contoso AWS" },
              { provider: "AWS", externalId: "444455556666", name: "Contoso Sandbox" },
            ],
          },
          tokens[tenant].admin,
        ),
      ).upsertCloudAccounts.map((a) => a.id);
      accounts[tenant] = { azure, aws, empty };
      const vm = (name: string, externalId: string) => ({
        accountId: azure,
        externalId,
        type: "Microsoft.Compute/virtualMachines",
        name,
      });
      ok(
        await platform.request(
          UpsertResourcesDocument,
          {
            input: [
              // Upper case in the inventory: events are matched without letter case.
              vm("vm-build-agent-01", VM_BUILD.toUpperCase()),
              vm("vm-dev-01", VM_DEV_1),
              vm("vm-dev-02", VM_DEV_2),
              {
                accountId: azure,
                externalId: VAULT,
                type: "Microsoft.KeyVault/vaults",
                name: "kv-payments-prod",
              },
              { accountId: aws, externalId: BUCKET, type: "AWS::S3::Bucket", name: "contoso-audit-logs" },
              {
                accountId: empty,
                externalId: "arn:aws:s3:::sandbox",
                type: "AWS::S3::Bucket",
                name: "sandbox",
              },
            ],
          },
          tokens[tenant].admin,
        ),
      );
    }
    // The SIEM's mirror of resource accounts (what `incidentSummary` reads) has the inventory.
    await resourceAccountsSynced(platform);
    // tenant-a gets the whole log; tenant-b only vm-dev-02's events.
    expect((await ingest("tenant-a", lines.join("\n"))).status).toBe(200);
    expect((await ingest("tenant-b", eventsOf(VM_DEV_2).join("\n"))).status).toBe(200);
  });
  afterAll(() => platform?.stop());

  it("lists each resource's events from a query that starts at posture, matched by provider id in any case", async () => {
    const nodes = await recentEvents("tenant-a", WINDOW);
    const byName = new Map(nodes.map((n) => [n.name, n.recentEvents]));
    for (const [name, armId] of [
      ["vm-build-agent-01", VM_BUILD],
      ["vm-dev-01", VM_DEV_1],
      ["vm-dev-02", VM_DEV_2],
      ["kv-payments-prod", VAULT],
    ] as const) {
      const expected = eventsOf(armId).length;
      expect(expected).toBeGreaterThan(0);
      const events = byName.get(name)!;
      expect({ name, total: events.totalCount, n: events.nodes.length }).toEqual({
        name,
        total: expected,
        n: expected,
      });
      for (const e of events.nodes) expect(e.resourceExternalId?.toLowerCase()).toBe(armId.toLowerCase());
      const times = events.nodes.map((e) => new Date(e.time as string).getTime());
      expect(times).toEqual([...times].sort((a, b) => b - a));
    }
    // Resources no event names have none (the vault's diagnostic setting is another resource id).
    expect(byName.get("contoso-audit-logs")).toMatchObject({ totalCount: 0, nodes: [] });
  });

  it("pages newest first with the cursor, and keeps to the window (default: the last 7 days)", async () => {
    const all = (await recentEvents("tenant-a", WINDOW)).find((n) => n.name === "vm-build-agent-01")!
      .recentEvents.nodes;
    expect(all.length).toBe(4);
    const first = (await recentEvents("tenant-a", { ...WINDOW, events: 3 })).find(
      (n) => n.name === "vm-build-agent-01",
    )!.recentEvents;
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(first.totalCount).toBe(4);
    const rest = (
      await recentEvents("tenant-a", { ...WINDOW, events: 3, after: first.pageInfo.endCursor! })
    ).find((n) => n.name === "vm-build-agent-01")!.recentEvents;
    expect(rest.pageInfo.hasNextPage).toBe(false);
    expect([...first.nodes, ...rest.nodes].map((e) => e.id)).toEqual(all.map((e) => e.id));
    // A window that ends before the newest event leaves it out.
    const newest = all[0].time as string;
    const earlier = (await recentEvents("tenant-a", { from: WINDOW.from, to: newest })).find(
      (n) => n.name === "vm-build-agent-01",
    )!.recentEvents;
    expect(earlier.nodes.map((e) => e.id)).toEqual(
      all.filter((e) => (e.time as string) < newest).map((e) => e.id),
    );
    // Default window: only events of the last 7 days — as many of the fixture's as are that recent (none once the
    // fixture's day is a week past), so a default that kept older events fails here whatever the date.
    const weekAgo = Date.now() - 7 * 86_400_000 - 60_000;
    const since = Date.now() - 7 * 86_400_000;
    const recent = (armId: string) =>
      eventsOf(armId).filter(
        (l) => Date.parse((JSON.parse(l) as { eventTimestamp: string }).eventTimestamp) > since,
      ).length;
    const byDefault = new Map((await recentEvents("tenant-a", {})).map((n) => [n.name, n.recentEvents]));
    for (const [name, armId] of [
      ["vm-build-agent-01", VM_BUILD],
      ["vm-dev-01", VM_DEV_1],
      ["vm-dev-02", VM_DEV_2],
      ["kv-payments-prod", VAULT],
    ] as const)
      expect({ name, total: byDefault.get(name)!.totalCount }).toEqual({ name, total: recent(armId) });
    for (const n of byDefault.values())
      for (const e of n.nodes) expect(new Date(e.time as string).getTime()).toBeGreaterThan(weekAgo);
  });

  it("never shows another tenant's events", async () => {
    const nodes = await recentEvents("tenant-b", WINDOW);
    const byName = new Map(nodes.map((n) => [n.name, n.recentEvents.totalCount]));
    // tenant-a holds events on the same ARM ids; tenant-b sees only what it ingested.
    expect(byName.get("vm-dev-02")).toBe(eventsOf(VM_DEV_2).length);
    expect(byName.get("vm-dev-01")).toBe(0);
    expect(byName.get("vm-build-agent-01")).toBe(0);
    expect(byName.get("kv-payments-prod")).toBe(0);
  });

  it("summarises each account's open incidents by severity, the same incidents its resources list", async () => {
    const ids = async (tenant: string) =>
      new Map(
        ok(
          await platform.request(AccountResourceIncidentsDocument, {}, tokens[tenant].reader),
        ).accounts.nodes.flatMap((a) => a.resources.nodes.map((r) => [r.id, a.id] as const)),
      );
    const resourceOf = await ids("tenant-a");
    const resourceIds = [...resourceOf.keys()];
    const { azure, aws, empty } = accounts["tenant-a"];
    const inAccount = (account: string) => resourceIds.filter((id) => resourceOf.get(id) === account);
    const [vm1, vm2] = inAccount(azure);
    // Alerts by Rampart's id and by provider id (a RESOURCE entity, in another letter case).
    const alertIds = ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            { sourceId: "fed-1", title: "Brute force", severity: "HIGH", resourceId: vm1 },
            { sourceId: "fed-2", title: "Crypto miner", severity: "MEDIUM", resourceId: vm2 },
            {
              sourceId: "fed-3",
              title: "Public bucket read",
              severity: "LOW",
              entities: [{ type: "RESOURCE", value: BUCKET.toUpperCase() }],
            },
          ],
        },
        tokens["tenant-a"].ingestor,
      ),
    ).ingestAlerts.ids as string[];
    const create = async (
      severity: "HIGH" | "MEDIUM" | "LOW" | "INFORMATIONAL",
      alerts: string[],
      tenant = "tenant-a",
    ) =>
      ok(
        await platform.request(
          CreateIncidentDocument,
          { input: { title: `fed ${severity}`, severity, alertIds: alerts } },
          tokens[tenant].admin,
        ),
      ).createIncident.id;
    // One incident spanning both accounts counts in each; one closed incident counts nowhere.
    await create("INFORMATIONAL", [alertIds[0], alertIds[2]]);
    const closed = await create("HIGH", [alertIds[1]]);
    const { etag } = ok(
      await platform.request(IncidentDetailDocument, { id: closed }, tokens["tenant-a"].admin),
    ).incident!;
    ok(
      await platform.request(
        CloseIncidentDocument,
        { input: { id: closed, etag, classification: "FALSE_POSITIVE", reason: "test" } },
        tokens["tenant-a"].admin,
      ),
    );

    const summaries = new Map(
      ok(
        await platform.request(AccountIncidentSummariesDocument, {}, tokens["tenant-a"].reader),
      ).accounts.nodes.map((a) => [a.id, a.incidentSummary]),
    );
    // Expected: the distinct open incidents `Resource.incidents` lists on the account's resources.
    const listed = ok(await platform.request(AccountResourceIncidentsDocument, {}, tokens["tenant-a"].reader))
      .accounts.nodes;
    const expected = (accountId: string) => {
      const open = new Map<string, { severity: string; createdAt: string }>();
      for (const r of listed.find((a) => a.id === accountId)!.resources.nodes)
        for (const i of r.incidents.nodes)
          if (i.status === "NEW" || i.status === "ACTIVE")
            open.set(i.id, { severity: i.severity, createdAt: i.createdAt as string });
      const count = (s: string) => [...open.values()].filter((i) => i.severity === s).length;
      const newest =
        [...open.values()]
          .map((i) => i.createdAt)
          .sort()
          .at(-1) ?? null;
      return {
        total: open.size,
        high: count("HIGH"),
        medium: count("MEDIUM"),
        low: count("LOW"),
        informational: count("INFORMATIONAL"),
        newestIncidentAt: newest && new Date(newest).toISOString(),
      };
    };
    const actual = (id: string) => {
      const s = summaries.get(id)!;
      return {
        ...s,
        newestIncidentAt: s.newestIncidentAt && new Date(s.newestIncidentAt as string).toISOString(),
      };
    };
    expect(actual(azure)).toEqual(expected(azure));
    expect(actual(aws)).toEqual(expected(aws));
    // The spanning incident counts in both accounts; the closed HIGH one in neither.
    expect(actual(azure).informational).toBeGreaterThanOrEqual(1);
    expect(actual(aws)).toMatchObject({ informational: 1, high: 0 });
    expect(actual(azure).total).toBeGreaterThanOrEqual(1);
    expect(actual(empty)).toEqual({
      total: 0,
      high: 0,
      medium: 0,
      low: 0,
      informational: 0,
      newestIncidentAt: null,
    });
    // tenant-b has the same accounts and ARN but no alerts: nothing of tenant-a's shows.
    const other = ok(await platform.request(AccountIncidentSummariesDocument, {}, tokens["tenant-b"].reader))
      .accounts.nodes;
    expect(other).toHaveLength(3);
    for (const a of other) expect(a.incidentSummary.total).toBe(0);
  });

  it("reads events from the resource-key index as the SIEM's role, under the tenant policy (no new index)", async () => {
    const ds = await platform.connect("siem");
    try {
      const keys = [VM_BUILD, VM_DEV_1, VAULT].map((k) => k.toLowerCase());
      const params = ["tenant-a", keys.map((_, i) => `r${i}`), keys, WINDOW.from, WINDOW.to, null, null, 6];
      for (const [sql, values] of [
        [RESOURCE_EVENTS_PAGE, params],
        [RESOURCE_EVENTS_COUNT, params.slice(0, 5)],
      ] as const) {
        const plan = await inTenant(ds, "tenant-a", async (m) => {
          // The fixture's few rows would make any plan cheap: rule sequential scans out to see whether the
          // index can serve the lookup at all (under RLS, only with leakproof operators in the condition).
          await m.query(`SET LOCAL enable_seqscan = off`);
          const [row] = (await m.query(`EXPLAIN (FORMAT JSON) ${sql}`, [...values])) as Array<{
            "QUERY PLAN": unknown;
          }>;
          return row["QUERY PLAN"];
        });
        const scans: Array<Record<string, unknown>> = [];
        const walk = (node: Record<string, unknown>) => {
          if (
            typeof node["Relation Name"] === "string" &&
            (node["Relation Name"] as string).startsWith("events")
          )
            scans.push(node);
          for (const child of (node.Plans as Array<Record<string, unknown>>) ?? []) walk(child);
        };
        walk((plan as Array<{ Plan: Record<string, unknown> }>)[0].Plan);
        expect(scans.length).toBeGreaterThan(0);
        for (const scan of scans) {
          expect(["Index Scan", "Index Only Scan", "Bitmap Heap Scan"]).toContain(scan["Node Type"]);
          expect(JSON.stringify(scan)).toMatch(/resource_key = k\.key/);
        }
        expect(JSON.stringify(plan)).not.toMatch(/"Node Type":"Seq Scan"/);
      }
    } finally {
      await ds.destroy();
    }
  });
});
