import http from "node:http";
import type { AddressInfo } from "node:net";
import type { DataSource } from "typeorm";
import { print } from "graphql";
import {
  AccountIncidentSummariesDocument,
  IngestAlertsDocument,
  RemoveResourcesDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { startGateway, type Gateway } from "../gateway/src/server";
import { createLogger, IDENTITY_HEADER, inSystemScope, inTenant, Role } from "../subgraphs/common/src";
import {
  resourceAccountTasks,
  SIEM_RESOURCE_MIRROR,
} from "../subgraphs/posture/src/modules/inventory/resource-mirror-relay";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, PAYMENTS_SUBSCRIPTION, resourceAccountsSynced } from "./utils/seed";
import { ACCOUNT_INCIDENT_SUMMARIES } from "../subgraphs/siem/src/modules/incidents/incidents.service";

const ARM = `/subscriptions/${PAYMENTS_SUBSCRIPTION}/resourceGroups/rg-payments-prod/providers`;
const VM = `${ARM}/Microsoft.Compute/virtualMachines/vm-payments-01`;
const VAULT = `${ARM}/Microsoft.KeyVault/vaults/kv-payments`;
const MOVER = `${ARM}/Microsoft.Compute/virtualMachines/vm-batch-01`;
const BUCKET = "arn:aws:s3:::contoso-exports";
const TENANTS = ["tenant-a", "tenant-b"] as const;
type Summary = { total: number; high: number; medium: number; low: number; informational: number };

/**
 * `CloudAccount.incidentSummary` from the SIEM's mirror of resource accounts (posture's relay
 * `siem-resource-accounts`), through the gateway: alerts by resource id, by provider id and beneath an ARM id;
 * moves and removals; tenants apart; the backfill; and no resource id list in the SIEM's requests.
 */
describe("account incident summary from the SIEM's mirror of resource accounts", () => {
  let platform: TestPlatform;
  let siemDb: DataSource;
  let postureDb: DataSource;
  const tokens: Record<string, { admin: string; reader: string; ingestor: string }> = {};
  const accounts: Record<string, { azure: string; aws: string }> = {};
  const resources: Record<string, { vm: string; vault: string; mover: string; bucket: string }> = {};

  const summaries = async (tenant: string, url = platform.gateway.url) => {
    const res = await postGraphql<{
      accounts: { nodes: Array<{ id: string; incidentSummary: Summary & { newestIncidentAt: unknown } }> };
    }>(
      url,
      { query: print(AccountIncidentSummariesDocument) },
      { authorization: `Bearer ${tokens[tenant].reader}` },
    );
    const byId = new Map(
      ok(res).accounts.nodes.map((a) => {
        const { total, high, medium, low, informational } = a.incidentSummary;
        return [a.id, { total, high, medium, low, informational }];
      }),
    );
    return { azure: byId.get(accounts[tenant].azure)!, aws: byId.get(accounts[tenant].aws)! };
  };
  const counts = (total: number, s: Partial<Summary> = {}): Summary => ({
    total,
    high: 0,
    medium: 0,
    low: 0,
    informational: 0,
    ...s,
  });

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    siemDb = await platform.connect("siem");
    postureDb = await platform.connect("posture");
    for (const tenant of TENANTS) {
      tokens[tenant] = {
        admin: await platform.token([Role.ADMIN], tenant),
        reader: await platform.token([Role.READER], tenant),
        ingestor: await platform.token([Role.INGESTOR], tenant),
      };
      const [azure, aws] = ok(
        await platform.request(
          UpsertAccountsDocument,
          {
            input: [
              { provider: "AZURE", externalId: PAYMENTS_SUBSCRIPTION, name: "Payments" },
              { provider: "AWS", externalId: "111122223333", name: "Exports" },
            ],
          },
          tokens[tenant].admin,
        ),
      ).upsertCloudAccounts.map((a) => a.id);
      accounts[tenant] = { azure, aws };
      const [vm, vault, mover, bucket] = ok(
        await platform.request(
          UpsertResourcesDocument,
          {
            input: [
              { accountId: azure, externalId: VM, type: "Microsoft.Compute/virtualMachines", name: "vm" },
              { accountId: azure, externalId: VAULT, type: "Microsoft.KeyVault/vaults", name: "kv" },
              {
                accountId: azure,
                externalId: MOVER,
                type: "Microsoft.Compute/virtualMachines",
                name: "mover",
              },
              { accountId: aws, externalId: BUCKET, type: "AWS::S3::Bucket", name: "exports" },
            ],
          },
          tokens[tenant].admin,
        ),
      ).upsertResources.ids;
      resources[tenant] = { vm, vault, mover, bucket };
    }
    // Tenant A's alerts, each on its own host so that each opens an incident of its own severity.
    const a = resources["tenant-a"];
    ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            // By Rampart's resource id.
            {
              sourceId: "ai-1",
              title: "Brute force",
              severity: "HIGH",
              resourceId: a.vm,
              entities: [host(1)],
            },
            // By provider id, in another letter case.
            {
              sourceId: "ai-2",
              title: "Public read",
              severity: "MEDIUM",
              entities: [host(2), { type: "RESOURCE", value: BUCKET.toUpperCase() }],
            },
            // Beneath an ARM id: a secret of the vault.
            {
              sourceId: "ai-3",
              title: "Secret read",
              severity: "LOW",
              entities: [host(3), { type: "RESOURCE", value: `${VAULT}/secrets/db-password` }],
            },
            // By Rampart's id as a RESOURCE entity.
            {
              sourceId: "ai-4",
              title: "Batch job",
              severity: "INFORMATIONAL",
              entities: [host(4), { type: "RESOURCE", value: a.mover }],
            },
            // A sibling whose name only starts like the vault's: not beneath it, no resource of the inventory.
            {
              sourceId: "ai-5",
              title: "Other vault",
              severity: "HIGH",
              entities: [host(5), { type: "RESOURCE", value: `${VAULT}-old/secrets/x` }],
            },
          ],
        },
        tokens["tenant-a"].ingestor,
      ),
    );
    await resourceAccountsSynced(platform);
  }, 60_000);
  afterAll(() => platform?.stop());

  it("counts open incidents by resource id, provider id and child ARM id, per account", async () => {
    expect(await summaries("tenant-a")).toEqual({
      azure: counts(3, { high: 1, low: 1, informational: 1 }),
      aws: counts(1, { medium: 1 }),
    });
  });

  it("keeps tenants apart: the other tenant's same resources show none of them", async () => {
    expect(await summaries("tenant-b")).toEqual({ azure: counts(0), aws: counts(0) });
    // Tenant B's own alert on its bucket counts for B only.
    ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            {
              sourceId: "bi-1",
              title: "B",
              severity: "LOW",
              entities: [{ type: "RESOURCE", value: BUCKET }],
            },
          ],
        },
        tokens["tenant-b"].ingestor,
      ),
    );
    expect((await summaries("tenant-b")).aws).toEqual(counts(1, { low: 1 }));
    expect((await summaries("tenant-a")).aws).toEqual(counts(1, { medium: 1 }));
    // The mirror's rows are the tenant's own under its policy.
    const seen = await inTenant(siemDb, "tenant-b", (m) =>
      m.query(`SELECT DISTINCT tenant_id FROM resource_accounts`),
    );
    expect(seen).toEqual([{ tenant_id: "tenant-b" }]);
  });

  it("follows a resource that moves to another account, then its removal", async () => {
    const a = resources["tenant-a"];
    const moved = ok(
      await platform.request(
        UpsertResourcesDocument,
        {
          input: [
            {
              accountId: accounts["tenant-a"].aws,
              externalId: MOVER,
              type: "Microsoft.Compute/virtualMachines",
              name: "mover",
            },
          ],
        },
        tokens["tenant-a"].admin,
      ),
    ).upsertResources;
    expect(moved).toMatchObject({ updatedCount: 1, ids: [a.mover] });
    await resourceAccountsSynced(platform);
    expect(await summaries("tenant-a")).toEqual({
      azure: counts(2, { high: 1, low: 1 }),
      aws: counts(2, { medium: 1, informational: 1 }),
    });

    ok(await platform.request(RemoveResourcesDocument, { ids: [a.mover] }, tokens["tenant-a"].admin));
    await resourceAccountsSynced(platform);
    expect(await summaries("tenant-a")).toEqual({
      azure: counts(2, { high: 1, low: 1 }),
      aws: counts(1, { medium: 1 }),
    });
    const left = await inTenant(siemDb, "tenant-a", (m) =>
      m.query(`SELECT 1 FROM resource_accounts WHERE resource_id = $1`, [a.mover]),
    );
    expect(left).toEqual([]);
  });

  it("fills an empty mirror from the inventory with the backfill job queued at start", async () => {
    // Queued once, at the posture start that created the relay's offset (jobs are off here: it waits).
    const queued = await inSystemScope(postureDb, (m) =>
      m.query(`SELECT count(*)::int AS n FROM posture_jobs.jobs WHERE task_identifier = $1`, [
        SIEM_RESOURCE_MIRROR.backfillTask,
      ]),
    );
    expect(queued).toEqual([{ n: 1 }]);
    const before = await summaries("tenant-a");
    // An installation from before the mirror: the SIEM knows no resource's account.
    for (const tenant of TENANTS)
      await inTenant(siemDb, tenant, (m) => m.query(`DELETE FROM resource_accounts`));
    expect(await summaries("tenant-a")).toEqual({ azure: counts(0), aws: counts(0) });

    const log = createLogger("test", "silent");
    await resourceAccountTasks(postureDb, log)[SIEM_RESOURCE_MIRROR.backfillTask]!({}, {} as never);
    await resourceAccountsSynced(platform);
    expect(await summaries("tenant-a")).toEqual(before);
    expect((await summaries("tenant-b")).aws).toEqual(counts(1, { low: 1 }));
  });

  it("refuses a bad sync whole with BAD_USER_INPUT, and takes a repeat as no change", async () => {
    const sync = async (input: unknown) =>
      postGraphql<{ syncResourceAccounts: { upsertedCount: number; removedCount: number } }>(
        platform.subgraphs.siem.url,
        {
          query: `mutation($input: SyncResourceAccountsInput!) { syncResourceAccounts(input: $input) { upsertedCount removedCount } }`,
          variables: { input },
        },
        { [IDENTITY_HEADER]: await platform.internalToken([Role.INGESTOR], "tenant-b") },
      );
    const rows = () =>
      inTenant(siemDb, "tenant-b", (m) =>
        m.query(`SELECT resource_id, external_key, account_id FROM resource_accounts ORDER BY resource_id`),
      );
    const before = await rows();
    const b = resources["tenant-b"];
    const bad = await sync({
      resources: [
        { resourceId: b.vm, externalId: "/subscriptions/elsewhere/vm", accountId: accounts["tenant-b"].aws },
        { resourceId: "not-a-uuid", externalId: "", accountId: accounts["tenant-b"].aws },
      ],
      removedIds: [b.bucket],
    });
    expect(bad.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    expect(await rows()).toEqual(before);
    // posture's current state of the VM, sent again (a relay round repeated): nothing changes.
    const again = await sync({
      resources: [{ resourceId: b.vm, externalId: VM, accountId: accounts["tenant-b"].azure }],
      removedIds: [],
    });
    expect(ok(again).syncResourceAccounts).toEqual({ upsertedCount: 0, removedCount: 0 });
    expect(await rows()).toEqual(before);
  });

  it("looks the mirror up by index as the SIEM's role, under the tenant policy", async () => {
    const plan = await inTenant(siemDb, "tenant-a", async (m) => {
      // An account of 5,000 resources (none with alerts), so that the planner weighs the mirror as it will
      // be; sequential scans ruled out to see whether the indexes can serve at all (under RLS, only with
      // leakproof operators and plain columns in the condition).
      await m.query(
        `INSERT INTO resource_accounts (tenant_id, resource_id, external_key, arm_scope, account_id)
         SELECT 'tenant-a', gen_random_uuid(), '/subscriptions/filler/vm-' || g, '/subscriptions/filler/vm-' || g, $1
         FROM generate_series(1, 5000) AS g`,
        [accounts["tenant-a"].azure],
      );
      await m.query(`ANALYZE resource_accounts`);
      await m.query(`SET LOCAL enable_seqscan = off`);
      const [row] = (await m.query(`EXPLAIN (FORMAT JSON) ${ACCOUNT_INCIDENT_SUMMARIES}`, [
        "tenant-a",
        Object.values(accounts["tenant-a"]),
      ])) as Array<{ "QUERY PLAN": Array<{ Plan: Record<string, unknown> }> }>;
      // The filler only shapes the plan.
      await m.query(`DELETE FROM resource_accounts WHERE external_key LIKE '/subscriptions/filler/%'`);
      return row["QUERY PLAN"][0].Plan;
    });
    const scans: Array<Record<string, unknown>> = [];
    const walk = (node: Record<string, unknown>) => {
      if (node["Relation Name"] === "resource_accounts") scans.push(node);
      for (const child of (node.Plans as Array<Record<string, unknown>>) ?? []) walk(child);
    };
    walk(plan);
    // By the alert's resource id, by entity value, by Rampart's id as entity value, by ARM scope.
    expect(scans.map((s) => s["Node Type"])).toEqual([
      "Index Scan",
      "Index Scan",
      "Index Scan",
      "Index Scan",
    ]);
    const conditions = scans.map((s) => String(s["Index Cond"]));
    for (const column of ["resource_id", "external_key", "arm_scope"])
      expect(conditions.some((c) => c.includes(`(${column} = `))).toBe(true);
  });

  it("sends the SIEM the accounts' ids only, never their resources", async () => {
    const bodies: string[] = [];
    const siem = new URL(platform.subgraphs.siem.url);
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        bodies.push(body.toString("utf8"));
        const upstream = http.request(
          { host: siem.hostname, port: siem.port, path: req.url, method: req.method, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    let gateway: Gateway | undefined;
    try {
      gateway = await startGateway(platform.config, createLogger("test", "silent"), {
        port: 0,
        subgraphUrls: {
          ...platform.config.subgraphUrls,
          siem: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/graphql`,
        },
      });
      const viaProxy = await summaries("tenant-a", gateway.url);
      expect(viaProxy).toEqual(await summaries("tenant-a"));
      const summaryCalls = bodies
        .map((b) => JSON.parse(b) as { query: string; variables?: { representations?: unknown[] } })
        .filter((b) => b.query.includes("incidentSummary"));
      expect(summaryCalls).toHaveLength(1);
      expect(summaryCalls[0].variables?.representations).toEqual(
        expect.arrayContaining([
          { __typename: "CloudAccount", id: accounts["tenant-a"].azure },
          { __typename: "CloudAccount", id: accounts["tenant-a"].aws },
        ]),
      );
      for (const r of summaryCalls[0].variables!.representations!)
        expect(Object.keys(r as object).sort()).toEqual(["__typename", "id"]);
      const sent = bodies.join("\n");
      for (const id of Object.values(resources["tenant-a"])) expect(sent).not.toContain(id);
      expect(sent.toLowerCase()).not.toContain(VAULT.toLowerCase());
    } finally {
      await gateway?.close();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

/** A HOST entity of its own: alerts with different entities open different incidents. */
function host(n: number) {
  return { type: "HOST" as const, value: `account-incidents-host-${n}` };
}
