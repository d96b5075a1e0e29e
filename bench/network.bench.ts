/**
 * The network map (`networkMap`) through the gateway, for every account and for one account, at two sizes of a
 * synthetic network estate in several accounts (scripts/lib/demo-estate.ts `syntheticNetworkEstate`): latency
 * p50/p95 over repeated runs against a baseline measured in the same run — reading the same network rows and
 * their unhealthy assessments with plain SELECTs — with the time split into the service's own work and the rest
 * (GraphQL, gateway, HTTP), the SQL statements per query (the same at both sizes: P2), and each answer checked
 * against the map the generator planted. Writes its section of bench/RESULTS.md.
 *
 *   npm run build && node dist/bench/network.bench.js
 *   (BENCH_RESOURCES=20000, BENCH_SMALL_RESOURCES=BENCH_RESOURCES/4, BENCH_ACCOUNTS=40, BENCH_RUNS=15)
 */
import "./lib/production-mode"; // first: before graphql-js loads
import "reflect-metadata";
import os from "node:os";
import path from "node:path";
import type { DataSource } from "typeorm";
import { Agent, request } from "undici";
import { v7 } from "uuid";
import {
  createDataSource,
  createLogger,
  IDENTITY_HEADER,
  inTenant,
  RequestDb,
  Role,
  sqlStatementCount,
  subgraphDatabaseUrl,
  type Identity,
} from "../subgraphs/common/src";
import { evaluateTenant } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import {
  buildNetworkTopology,
  PEERING_RESOURCE_TYPES,
} from "../subgraphs/posture/src/modules/network/network-topology";
import { NETWORK_KINDS, NetworkService } from "../subgraphs/posture/src/modules/network/network.service";
import { topologyCache } from "../subgraphs/posture/src/modules/network/network-topology-cache";
import { PoliciesService } from "../subgraphs/posture/src/modules/policies/policies.service";
import type { PolicySeverity } from "../subgraphs/posture/src/modules/policies/policies.types";
import { NetworkMapDetail } from "../subgraphs/posture/src/modules/network/network.types";
import {
  plantedAccountView,
  plantedNetworkView,
  syntheticNetworkEstate,
  type NetworkEstate,
} from "../scripts/lib/demo-estate";
import type { TestPlatform } from "../test/utils/platform";
import { runInProcessBench } from "./lib/in-process";
import { insertResources } from "./lib/resources";
import { writeResultsSection } from "./lib/results";
import { percentile } from "./lib/stats";

const TOTAL = Number(process.env.BENCH_RESOURCES ?? 20_000);
const SMALL = Number(process.env.BENCH_SMALL_RESOURCES ?? Math.round(TOTAL / 4));
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 40);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
/** Runs of the map of every account (seconds each at 20,000 resources). */
const TENANT_RUNS = Number(process.env.BENCH_TENANT_RUNS ?? 5);
const ROOT = path.resolve(__dirname, "..", "..");
const SEVERITIES = ["HIGH", "MEDIUM", "LOW"] as const;
const RANK: Record<string, number> = { HIGH: 3, MEDIUM: 2, LOW: 1 };

interface MapNode {
  id: string;
  kind: string;
  accountId: string | null;
  highestSeverity: string | null;
  /** The NETWORKS view's summary of what the node stands for. */
  contents?: { resources: number; virtualMachines: number } | null;
}
interface MapEdge {
  from: string;
  to: string;
  kind: string;
  /** The NETWORKS view's count of the resource pairs an edge stands for. */
  connections?: number;
}
interface NetworkMapAnswer {
  networkMap: { nodes: MapNode[]; edges: MapEdge[] };
}

/**
 * A fresh connection for every request: between two requests to one server the bench spends seconds elsewhere
 * with this process's event loop busy (the platform runs in it), and a kept-alive socket the server closed
 * meanwhile came back as ECONNRESET (seen at 20,000 resources on a loaded machine).
 */
const noKeepAlive = new Agent({ pipelining: 0 });

async function gql<T>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
  header = "authorization",
): Promise<{ data: T; bytes: number }> {
  const res = await request(url, {
    method: "POST",
    dispatcher: noKeepAlive,
    headers: {
      "content-type": "application/json",
      [header]: header === "authorization" ? `Bearer ${token}` : token,
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.body.text();
  const body = JSON.parse(text) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data)
    throw new Error(`HTTP ${res.statusCode}: ${JSON.stringify(body.errors)}`);
  return { data: body.data, bytes: text.length };
}

/**
 * One case: the map of every account (`account` null), of one account, or of one account's hub network (`hub`: the
 * drill-down `networkMap(networkId:)`), at a severity (null: the default).
 */
interface Case {
  label: string;
  account: number | null;
  /** The map of the hub network of `account` instead of the account's. */
  hub?: boolean;
  severity: (typeof SEVERITIES)[number] | null;
  /** The NETWORKS view (`detail: NETWORKS`) instead of the resource view. */
  networks?: boolean;
}

/** What one case measured at one size. */
interface Measured {
  nodes: number;
  edges: number;
  bytes: number;
  statements: number[];
  gateway: number[];
  /** The same request again at once, its topology kept (network-topology-cache.ts). */
  kept: number[];
  keptStatements: number[];
  /** The same operation posted straight to the posture subgraph (GraphQL execution, no gateway). */
  subgraph: number[];
  service: number[];
  raw: number[];
  /** `buildNetworkTopology` over the rows the raw read returned (CPU only). */
  build: number[];
  rows: number;
  check: string;
}

/** One tenant's estate, written into the database, with what the bench needs to ask and check. */
interface Tenant {
  id: string;
  estate: NetworkEstate;
  accountIds: string[];
  /** Resource id → external id (node keys of the planted map). */
  keyOf: Map<string, string>;
  /** External id of each account's hub VNet/VPC (the planted network with the most peerings) → its resource id. */
  hubs: Map<number, { key: string; id: string }>;
  /** External id of each VM/instance → its planted `reviewSeverity`, upper-cased. */
  review: Map<string, string>;
  evaluationMs: number;
  assessments: number;
}

const NETWORK_MAP = (c: Case, accountId: string | null, networkId: string | null = null) => {
  const args = [
    networkId ? `networkId: "${networkId}"` : accountId ? `accountId: "${accountId}"` : "",
    c.severity ? `minSeverity: ${c.severity}` : "",
    c.networks ? "detail: NETWORKS" : "",
  ];
  const given = args.filter(Boolean).join(", ");
  return `{ networkMap${given ? `(${given})` : ""} {
    nodes { id kind name accountId internetExposed highestSeverity unhealthyRecommendations ${c.networks ? "contents { resources subnets virtualMachines exposedVirtualMachines }" : ""} }
    edges { from to kind ports { protocol fromPort toPort } rules ${c.networks ? "connections" : ""} } } }`;
};

async function setUp(
  platform: TestPlatform,
  ds: DataSource,
  tenantId: string,
  count: number,
): Promise<Tenant> {
  const estate = syntheticNetworkEstate(count, ACCOUNTS, 11);
  const admin = await platform.token([Role.ADMIN], tenantId);
  const { data } = await gql<{ upsertCloudAccounts: Array<{ id: string }> }>(
    platform.gateway.url,
    admin,
    "mutation($input: [CloudAccountInput!]!) { upsertCloudAccounts(input: $input) { id } }",
    { input: estate.accounts },
  );
  const accountIds = data.upsertCloudAccounts.map((a) => a.id);
  // The inventory, written straight into the table (its key columns and side tables are kept by Postgres).
  const keyOf = new Map<string, string>();
  const review = new Map<string, string>();
  const rows = estate.resources.map((r) => {
    const id = v7();
    keyOf.set(id, r.externalId);
    if (r.tags.reviewSeverity) review.set(r.externalId, r.tags.reviewSeverity.toUpperCase());
    return { ...r, id };
  });
  await insertResources(
    ds,
    tenantId,
    rows.map((r) => ({
      ...r,
      accountId: accountIds[r.account],
      provider: estate.accounts[r.account].provider,
    })),
  );
  // Assessments: the built-in definitions, then one custom definition per severity over the VMs' review tag.
  const t = performance.now();
  await inTenant(ds, tenantId, (m) => evaluateTenant(m, tenantId));
  for (const severity of SEVERITIES)
    await gql(
      platform.gateway.url,
      admin,
      "mutation($input: PolicyDefinitionInput!) { createPolicyDefinition(input: $input) { id } }",
      {
        input: {
          title: `Machines awaiting a ${severity.toLowerCase()} review should be reviewed`,
          severity,
          controlId: "remediate-security-configurations",
          resourceTypes: ["Microsoft.Compute/virtualMachines", "AWS::EC2::Instance"],
          condition: { field: "tags.reviewSeverity", equals: severity.toLowerCase() },
        },
      },
    );
  const evaluationMs = performance.now() - t;
  const assessments = await inTenant(ds, tenantId, async (m) => {
    await m.query("ANALYZE assessments");
    return Number((await m.query("SELECT count(*) AS n FROM assessments"))[0].n);
  });
  const idOf = new Map([...keyOf].map(([id, key]) => [key, id]));
  const peerings = new Map<string, number>();
  for (const e of estate.edges)
    if (e.kind === "PEERED_WITH") peerings.set(e.from, (peerings.get(e.from) ?? 0) + 1);
  const hubs = new Map<number, { key: string; id: string }>();
  for (const n of estate.nodes) {
    if (n.kind !== "VIRTUAL_NETWORK" || n.account === null) continue;
    const hub = hubs.get(n.account);
    if (!hub || (peerings.get(n.key) ?? 0) > (peerings.get(hub.key) ?? 0))
      hubs.set(n.account, { key: n.key, id: idOf.get(n.key)! });
  }
  return { id: tenantId, estate, accountIds, keyOf, hubs, review, evaluationMs, assessments };
}

/**
 * Checks an answer against the planted map. At LOW every VM qualifies (each carries a review assessment), so the
 * answer must be the planted map exactly: the same nodes (kind and account) and edges. At a higher severity the
 * answer must lie within the planted map and show every VM whose review alone qualifies it (the built-in
 * definitions may qualify more). Returns a short verdict; throws on a mismatch.
 */
function check(tenant: Tenant, c: Case, answer: NetworkMapAnswer["networkMap"]): string {
  if (c.networks) return checkNetworks(tenant, c, answer);
  const planted =
    c.account === null
      ? tenant.estate
      : c.hub
        ? plantedNetworkView(tenant.estate, tenant.hubs.get(c.account)!.key)
        : plantedAccountView(tenant.estate, c.account);
  const keyOf = (id: string) => tenant.keyOf.get(id) ?? id;
  const accountOf = (id: string | null) => (id === null ? null : tenant.accountIds.indexOf(id));
  const nodeKey = (key: string, kind: string, account: number | null) => `${key} ${kind} ${account}`;
  const edgeKey = (e: { from: string; to: string; kind: string }) => `${e.from} ${e.kind} ${e.to}`;
  const want = {
    nodes: new Set(planted.nodes.map((n) => nodeKey(n.key, n.kind, n.account))),
    edges: new Set(planted.edges.map(edgeKey)),
  };
  const got = {
    nodes: answer.nodes.map((n) => nodeKey(keyOf(n.id), n.kind, accountOf(n.accountId))),
    edges: answer.edges.map((e) => edgeKey({ from: keyOf(e.from), to: keyOf(e.to), kind: e.kind })),
  };
  const fail = (what: string, sample: string[]) => {
    throw new Error(`${c.label} (${tenant.id}): ${what}, e.g. ${sample.slice(0, 3).join("; ")}`);
  };
  const unplanted = [
    ...got.nodes.filter((n) => !want.nodes.has(n)),
    ...got.edges.filter((e) => !want.edges.has(e)),
  ];
  if (unplanted.length > 0) fail(`${unplanted.length} nodes/edges not planted`, unplanted);
  if (new Set(got.nodes).size !== got.nodes.length || new Set(got.edges).size !== got.edges.length)
    fail("duplicate nodes or edges", []);
  if ((c.severity ?? "MEDIUM") === "LOW") {
    const missing = [
      ...[...want.nodes].filter((n) => !got.nodes.includes(n)),
      ...[...want.edges].filter((e) => !got.edges.includes(e)),
    ];
    if (missing.length > 0) fail(`${missing.length} planted nodes/edges missing`, missing);
    return "= planted";
  }
  const min = RANK[c.severity ?? "MEDIUM"];
  const shownVms = new Set(answer.nodes.filter((n) => n.kind === "VIRTUAL_MACHINE").map((n) => keyOf(n.id)));
  const due = planted.nodes.filter(
    (n) => n.kind === "VIRTUAL_MACHINE" && RANK[tenant.review.get(n.key) ?? ""] >= min,
  );
  const absent = due.filter((n) => !shownVms.has(n.key)).map((n) => n.key);
  if (absent.length > 0) fail(`${absent.length} VMs whose review qualifies them missing`, absent);
  const below = answer.nodes
    .filter(
      (n) => n.kind === "VIRTUAL_MACHINE" && (n.highestSeverity === null || RANK[n.highestSeverity] < min),
    )
    .map((n) => keyOf(n.id));
  if (below.length > 0) fail(`${below.length} VMs below ${c.severity ?? "MEDIUM"} shown`, below);
  return `⊆ planted, the ${due.length} VMs qualifying and no other`;
}

/** Nodes that stand for themselves in the NETWORKS view. */
const NETWORK_NODES = new Set(["INTERNET", "VIRTUAL_NETWORK", "EXTERNAL_NETWORK"]);

/**
 * Checks a NETWORKS view of every account against the planted map: its nodes are the planted networks, external
 * networks and the internet (at LOW all of them; above, some), its PEERED_WITH edges planted ones, it has no other
 * kinds of edge than those and ALLOWS_TRAFFIC, and its sums account for what it folds: at LOW every planted
 * resource (`contents.resources`), VM and ALLOWS_TRAFFIC edge (`connections`) exactly once; above, at least the
 * VMs whose review qualifies them.
 */
function checkNetworks(tenant: Tenant, c: Case, answer: NetworkMapAnswer["networkMap"]): string {
  const planted = tenant.estate;
  const keyOf = (id: string) => tenant.keyOf.get(id) ?? id;
  const accountOf = (id: string | null) => (id === null ? null : tenant.accountIds.indexOf(id));
  const fail = (what: string, sample: string[] = []) => {
    throw new Error(`${c.label} (${tenant.id}): ${what} ${sample.slice(0, 3).join("; ")}`);
  };
  const want = new Set(
    planted.nodes.filter((n) => NETWORK_NODES.has(n.kind)).map((n) => `${n.key} ${n.kind} ${n.account}`),
  );
  const got = answer.nodes.map((n) => `${keyOf(n.id)} ${n.kind} ${accountOf(n.accountId)}`);
  const stray = got.filter((n) => !want.has(n));
  if (stray.length > 0) fail(`${stray.length} nodes that are no planted network, e.g.`, stray);
  const peerings = new Set(
    planted.edges.filter((e) => e.kind === "PEERED_WITH").map((e) => `${e.from} ${e.to}`),
  );
  const peered = answer.edges
    .filter((e) => e.kind === "PEERED_WITH")
    .map((e) => `${keyOf(e.from)} ${keyOf(e.to)}`);
  if (peered.some((e) => !peerings.has(e))) fail("a peering not planted");
  if (answer.edges.some((e) => e.kind !== "PEERED_WITH" && e.kind !== "ALLOWS_TRAFFIC"))
    fail("an edge placing a resource in its network");
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const vms = sum(answer.nodes.map((n) => n.contents?.virtualMachines ?? 0));
  const pairs = sum(answer.edges.filter((e) => e.kind === "ALLOWS_TRAFFIC").map((e) => e.connections ?? 0));
  if ((c.severity ?? "MEDIUM") === "LOW") {
    const expect = {
      nodes: want.size,
      peerings: peerings.size,
      resources: planted.nodes.filter((n) => !NETWORK_NODES.has(n.kind) || n.kind === "VIRTUAL_NETWORK")
        .length,
      vms: planted.nodes.filter((n) => n.kind === "VIRTUAL_MACHINE").length,
      pairs: planted.edges.filter((e) => e.kind === "ALLOWS_TRAFFIC").length,
    };
    const found = {
      nodes: got.length,
      peerings: peered.length,
      resources: sum(answer.nodes.map((n) => n.contents?.resources ?? 0)),
      vms,
      pairs,
    };
    if (JSON.stringify(found) !== JSON.stringify(expect))
      fail(`folded ${JSON.stringify(found)}, planted ${JSON.stringify(expect)}`);
    return `networks = planted; ${pairs.toLocaleString("en")} VM pairs in ${answer.edges.length - peered.length} edges`;
  }
  const min = RANK[c.severity ?? "MEDIUM"];
  const due = planted.nodes.filter(
    (n) => n.kind === "VIRTUAL_MACHINE" && RANK[tenant.review.get(n.key) ?? ""] >= min,
  ).length;
  if (vms < due) fail(`${vms} VMs folded in, ${due} qualify by their review`);
  return `networks ⊆ planted; ${vms.toLocaleString("en")} VMs folded in (${due.toLocaleString("en")} due)`;
}

runInProcessBench("network", {}, async (platform, database) => {
  const ds = createDataSource({
    subgraph: "posture-bench",
    url: subgraphDatabaseUrl(platform.config, "posture"),
    schema: "posture",
    entities: [],
    logger: createLogger("bench", "warn"),
  });
  await ds.initialize();
  const sizes = [
    { label: "small", count: SMALL },
    { label: "large", count: TOTAL },
  ];
  const tenants: Tenant[] = [];
  for (const size of sizes)
    tenants.push(await setUp(platform, ds, `bench-network-${size.label}`, size.count));

  const azure = 1;
  const aws = Math.ceil(ACCOUNTS / 2) + 1;
  const cases: Case[] = [
    { label: "every account, LOW", account: null, severity: "LOW" },
    { label: "every account, default (MEDIUM)", account: null, severity: null },
    { label: "every account, HIGH", account: null, severity: "HIGH" },
    { label: "every account, LOW, NETWORKS", account: null, severity: "LOW", networks: true },
    { label: "every account, HIGH, NETWORKS", account: null, severity: "HIGH", networks: true },
    { label: "one Azure account, LOW", account: azure, severity: "LOW" },
    { label: "one Azure account, HIGH", account: azure, severity: "HIGH" },
    { label: "one AWS account, LOW", account: aws, severity: "LOW" },
    { label: "one AWS account, HIGH", account: aws, severity: "HIGH" },
    { label: "one Azure hub network, LOW", account: azure, hub: true, severity: "LOW" },
    { label: "one Azure hub network, HIGH", account: azure, hub: true, severity: "HIGH" },
    { label: "one AWS hub network, LOW", account: aws, hub: true, severity: "LOW" },
  ];

  const results = new Map<string, Measured>();
  for (const tenant of tenants) {
    const identity: Identity = { subject: "bench@example.com", tenantId: tenant.id, roles: [Role.READER] };
    for (const c of cases) {
      const accountId = c.account === null ? null : tenant.accountIds[c.account];
      const networkId = c.hub && c.account !== null ? tenant.hubs.get(c.account)!.id : null;
      const query = NETWORK_MAP(c, accountId, networkId);
      // The baseline reads the rows of the accounts the map shows (all, or the account and its neighbours).
      const first = await gql<NetworkMapAnswer>(
        platform.gateway.url,
        await platform.token([Role.READER], tenant.id),
        query,
      );
      const verdict = check(tenant, c, first.data.networkMap);
      const low =
        c.account === null
          ? tenant.accountIds
          : [
              ...new Set(
                (
                  await gql<NetworkMapAnswer>(
                    platform.gateway.url,
                    await platform.token([Role.READER], tenant.id),
                    NETWORK_MAP({ ...c, severity: "LOW" }, accountId, networkId),
                  )
                ).data.networkMap.nodes.flatMap((n) => n.accountId ?? []),
              ),
            ];
      const m: Measured = {
        nodes: first.data.networkMap.nodes.length,
        edges: first.data.networkMap.edges.length,
        bytes: first.bytes,
        statements: [],
        gateway: [],
        kept: [],
        keptStatements: [],
        subgraph: [],
        service: [],
        raw: [],
        build: [],
        rows: 0,
        check: verdict,
      };
      // A network's map reads and builds the tenant's topology, cold, as the map of every account does.
      const runs = c.account === null || c.hub ? TENANT_RUNS : RUNS;
      for (let run = 0; run < runs; run++) {
        // Tokens minted per request: a run outlasts a dev token's 10 minutes.
        const reader = await platform.token([Role.READER], tenant.id);
        // Cold: nothing kept, the topology read and built (as after any change to the tenant's inventory).
        topologyCache.clear();
        let before = await sqlStatementCount("posture");
        let t = performance.now();
        await gql(platform.gateway.url, reader, query);
        m.gateway.push(performance.now() - t);
        m.statements.push((await sqlStatementCount("posture")) - before);
        // Kept: the same request again, the inventory unchanged.
        before = await sqlStatementCount("posture");
        t = performance.now();
        await gql(platform.gateway.url, reader, query);
        m.kept.push(performance.now() - t);
        m.keptStatements.push((await sqlStatementCount("posture")) - before);

        const internal = await platform.internalToken([Role.READER], tenant.id);
        topologyCache.clear();
        t = performance.now();
        await gql(platform.subgraphs.posture.url, internal, query, {}, IDENTITY_HEADER);
        m.subgraph.push(performance.now() - t);

        const db = new RequestDb(ds, tenant.id);
        topologyCache.clear();
        t = performance.now();
        const service = new NetworkService(db, identity, new PoliciesService(db, identity));
        const severity = (c.severity ?? "MEDIUM") as PolicySeverity;
        const detail = c.networks ? NetworkMapDetail.NETWORKS : NetworkMapDetail.RESOURCES;
        await (networkId
          ? service.networkMap(networkId, severity, detail)
          : service.map(accountId, severity, detail));
        await db.close();
        m.service.push(performance.now() - t);

        t = performance.now();
        const rows = await inTenant(ds, tenant.id, async (q) => {
          const network: Array<{
            id: string;
            account_id: string;
            external_id: string;
            type: string;
            name: string;
            properties: Record<string, unknown>;
          }> = await q.query(
            `SELECT id, account_id, external_id, type, name, properties FROM resources
                WHERE tenant_id = $1 AND account_id = ANY($2::uuid[]) AND (kind = ANY($3::text[]) OR lower(type) = ANY($4::text[]))`,
            [tenant.id, low, NETWORK_KINDS, PEERING_RESOURCE_TYPES],
          );
          await q.query(
            `SELECT resource_id, definition_id FROM assessments WHERE tenant_id = $1 AND status = 'UNHEALTHY' AND resource_id = ANY($2::uuid[])`,
            [tenant.id, network.map((r) => r.id)],
          );
          return network;
        });
        m.raw.push(performance.now() - t);
        m.rows = rows.length;
        t = performance.now();
        buildNetworkTopology(
          rows
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            .map((r) => ({ ...r, externalId: r.external_id, accountId: r.account_id })),
        );
        m.build.push(performance.now() - t);
      }
      results.set(`${tenant.id} ${c.label}`, m);
      console.log(
        `${tenant.id} ${c.label}: p50 ${percentile(
          [...m.gateway].sort((a, b) => a - b),
          50,
        ).toFixed(1)} ms`,
      );
    }
  }
  await ds.destroy();
  await noKeepAlive.close();

  // P2: the statements of each case are the same at both sizes.
  const small = tenants[0];
  const large = tenants[1];
  const statementsOf = (t: Tenant, c: Case) => Math.min(...results.get(`${t.id} ${c.label}`)!.statements);
  const growing = cases.filter((c) => statementsOf(small, c) !== statementsOf(large, c));
  if (growing.length > 0)
    throw new Error(`SQL statements grow with the estate: ${growing.map((c) => c.label).join(", ")}`);

  const p = (values: number[], q: number) =>
    percentile(
      [...values].sort((a, b) => a - b),
      q,
    );
  const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const n = (v: number) => v.toLocaleString("en");
  const count = (t: Tenant) => t.estate.resources.length;
  const row = (t: Tenant, c: Case) => {
    const m = results.get(`${t.id} ${c.label}`)!;
    const gw = p(m.gateway, 50);
    return `| ${c.label} | ${n(count(t))} | ${n(m.rows)} | ${n(m.nodes)} / ${n(m.edges)} | ${(m.bytes / 1e6).toFixed(2)} MB | ${ms(gw)} / ${ms(p(m.gateway, 95))} | ${ms(p(m.kept, 50))} / ${ms(p(m.kept, 95))} | ${ms(p(m.subgraph, 50))} | ${ms(p(m.service, 50))} | ${ms(p(m.raw, 50))} | ${ms(p(m.build, 50))} | ${(gw / p(m.raw, 50)).toFixed(1)} | ${statementsOf(t, c)} / ${Math.min(...m.keptStatements)} | ${m.check} |`;
  };
  const kinds = (t: Tenant) => {
    const by = new Map<string, number>();
    for (const r of t.estate.resources) by.set(r.type, (by.get(r.type) ?? 0) + 1);
    return [...by].map(([type, k]) => `${n(k)} ${type}`).join(", ");
  };
  const markdown = [
    "## Network map",
    "",
    `Written by bench/network.bench.ts on ${new Date().toISOString()}. Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${os.loadavg()[0].toFixed(1)} at the end, Node ${process.version}, Postgres ${database.embedded ? "embedded" : "DATABASE_URL"}.`,
    "",
    `Method: two tenants of a fresh database hold a synthetic network estate (\`syntheticNetworkEstate\`) in ${ACCOUNTS} accounts (half Azure, half AWS) of ${n(count(small))} and ${n(count(large))} resources, written straight into the table (${kinds(large)} at the larger size); hubs peer across accounts, an AWS account's elastic IP sits on another account's instance. ` +
      `Assessments: the built-in definitions plus three custom ones turning each VM's review tag into a HIGH, MEDIUM or LOW recommendation (${n(large.assessments)} assessments at the larger size, ${(large.evaluationMs / 1000).toFixed(1)} s to evaluate). ` +
      `Each case ran ${RUNS} times (the map of every account and a hub network's, the drill-down \`networkMap(networkId:)\` into the account's VNet/VPC with the most peerings, ${TENANT_RUNS} times), its measures interleaved: **gateway** = \`networkMap\` through the gateway with a READER token (all fields of nodes and edges), p50 / p95, cold: the posture process's topology cache emptied first, as after any change to the tenant's inventory; **kept** = the same request again at once, its topology kept under the tenant's inventory token; **subgraph** = the same operation posted straight to the posture subgraph (its GraphQL execution and answer, no gateway); **service** = \`NetworkService.map\` (\`networkMap\` for a network) in this process on a request transaction of its own (its SQL, topology, view, filter; no GraphQL); subgraph and service cold too; **raw read** = the baseline, plain SELECTs in one tenant transaction of the rows the map covers (the network rows of every account, or of the accounts a map of one account or network shows at LOW — a network's map itself reads the whole tenant's, cold) and of their unhealthy assessments; **build** = \`buildNetworkTopology\` over those rows (CPU only). ` +
      "**ratio** = gateway p50 ÷ raw read p50. **SQL** = statements the posture subgraph sent for one request, cold / kept (`rampart_sql_statements_total`, the fewest over the runs; the run fails if a case sends more cold at the larger size). **check**: at LOW the answer must equal the planted map (every VM carries a review recommendation), node kinds and accounts and edges one by one; at HIGH or MEDIUM it must lie within it and show every VM its review qualifies and no other.",
    "",
    "| case | resources | rows read | nodes / edges | answer | gateway p50 / p95 ms | kept p50 / p95 ms | subgraph p50 ms | service p50 ms | raw read p50 ms | build p50 ms | ratio | SQL cold / kept | check |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...tenants.flatMap((t) => cases.map((c) => row(t, c))),
    "",
  ].join("\n");
  writeResultsSection(ROOT, "network", markdown);
  console.log(markdown);
});
