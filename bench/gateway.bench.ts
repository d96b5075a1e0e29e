/**
 * `npm run bench`: gateway overhead of Rampart's gateway against stock @apollo/gateway and Hive
 * Gateway, on the same three subgraphs, the same supergraph and the same seeded tenant.
 *
 * One run: a throwaway database (on DATABASE_URL, else an embedded Postgres), migrations, the three
 * subgraphs forked from dist/, a seeded tenant, three gateways (each its own process), interleaved
 * autocannon load on the README's cross-subgraph query at 20 and 50 connections, CPU time per
 * request from /proc/<pid>/stat, then bench/RESULTS.md. Everything it started is stopped and the
 * database and its roles are dropped at the end, on failure and on Ctrl-C. See bench/README.md.
 */
import "reflect-metadata";
import autocannon from "autocannon";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { writeResultsSection } from "./lib/results";
import os from "node:os";
import path from "node:path";
import { signDevToken } from "../gateway/src/auth";
import { createLogger, InternalTokens, loadConfig, Role } from "../subgraphs/common/src";
import { freePort } from "../scripts/lib/database";
import { migrateAll } from "../scripts/lib/platform";
import { nodeFlagsOf, serviceEnvironment } from "../scripts/lib/services";
import {
  CLK_TCK,
  cpuTicks,
  machineBusyTicks,
  serviceFailure,
  startService,
  stopAll,
  ticksOfCommand,
  waitUntil,
  type Service,
} from "./lib/processes";
import { budgetChecks, checksTable, figuresTable, ratioTable, verdict, type Level } from "./lib/report";
import { emptyCell, figures, GATEWAY_LABELS, type Cell, type GatewayName } from "./lib/stats";
import {
  abort as abortRun,
  cleanup as runCleanup,
  cleanups,
  createBenchDatabase,
  NO_RATE_LIMITS,
  withTimeout,
  type BenchDatabase,
} from "./lib/lifecycle";

/** The README's cross-subgraph query, verbatim. */
const QUERY =
  "query CrossDomain { resources(first: 5) { totalCount nodes { id name type account { name } coverage { covered } alerts(first: 1) { totalCount } } } }";

const ROOT = path.resolve(__dirname, "..", "..");
const DIST = path.join(ROOT, "dist");

function numberEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`${name} must be a number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

const DURATION = numberEnv("BENCH_DURATION", 12, 1); // measured seconds per gateway and concurrency
const ROUNDS = Math.floor(numberEnv("BENCH_ROUNDS", 4, 1)); // interleaved segments DURATION is split into
const WARMUP = numberEnv("BENCH_WARMUP", 3, 0); // seconds per gateway before measuring
const RESOURCES = Math.floor(numberEnv("BENCH_RESOURCES", 300, 5));
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "20,50").split(",").map((c) => {
  const n = Number(c.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_CONNECTIONS: bad value ${JSON.stringify(c)}`);
  return n;
});
const GATEWAYS: GatewayName[] = ["ours", "stock", "hive"];
const SEGMENT = DURATION / ROUNDS;
/** Whole-run watchdog: generous for start-up and seeding, plus twice the planned load time. */
const WATCHDOG_MS =
  numberEnv("BENCH_TIMEOUT", 180 + 2 * GATEWAYS.length * (WARMUP + CONNECTIONS.length * DURATION), 30) * 1000;

const TENANT = "bench";
/** One client identity for every connection instead of one per connection (shows Hive's upstream dedupe). */
const SHARED_IDENTITY = process.env.BENCH_SHARED_IDENTITY === "1";
const JWT_SECRET = `bench-jwt-${randomBytes(16).toString("hex")}`;
const INTERNAL_SECRET = `bench-internal-${randomBytes(16).toString("hex")}`;
const ROLE_PASSWORD = `bench-${randomBytes(8).toString("hex")}`;

/** BENCH_CPU_PROF=<dir>: each gateway writes a V8 CPU profile there when it stops (open in Chrome DevTools). */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
const profile = (name: GatewayName) =>
  CPU_PROF_DIR
    ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${name}-${process.pid}.cpuprofile`]
    : [];

const log = createLogger("bench", "warn");
const say = (msg: string) => console.log(`[bench] ${msg}`);

/** The load in progress, stopped first when the run is cleaned up (bench/lib/lifecycle.ts). */
let currentLoad: autocannon.Instance | undefined;

// ---------------------------------------------------------------------------------------------
// GraphQL over fetch (seeding and verification)

interface GqlBody {
  data?: unknown;
  errors?: unknown[];
}

async function post(
  url: string,
  headers: Record<string, string>,
  query: string,
  variables: object = {},
): Promise<{ status: number; body: GqlBody }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as GqlBody };
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
}

async function call<T>(
  url: string,
  headers: Record<string, string>,
  query: string,
  variables: object = {},
): Promise<T> {
  const { status, body } = await post(url, headers, query, variables);
  if (status !== 200 || body.errors?.length || !body.data) {
    throw new Error(`${url}: HTTP ${status}: ${JSON.stringify(body.errors ?? body).slice(0, 500)}`);
  }
  return body.data as T;
}

/** Two accounts, RESOURCES resources (a third VMs), STANDARD SERVERS plans, alerts on every third VM. */
async function seed(gatewayUrl: string): Promise<{ resources: number; alerts: number }> {
  const token = await signDevToken(JWT_SECRET, {
    subject: "bench-seeder@rampart.local",
    tenantId: TENANT,
    roles: [Role.ADMIN, Role.INGESTOR],
    ttlSeconds: 600,
  });
  const auth = { authorization: `Bearer ${token}` };
  const { upsertCloudAccounts } = await call<{ upsertCloudAccounts: Array<{ id: string }> }>(
    gatewayUrl,
    auth,
    "mutation($input: [CloudAccountInput!]!) { upsertCloudAccounts(input: $input) { id } }",
    {
      input: [
        { provider: "AZURE", externalId: `${TENANT}-subscription`, name: "Bench Azure" },
        { provider: "AWS", externalId: `${TENANT}-aws`, name: "Bench AWS" },
      ],
    },
  );
  const [azure, aws] = upsertCloudAccounts.map((a) => a.id);
  const types = ["Microsoft.Compute/virtualMachines", "Microsoft.Storage/storageAccounts", "AWS::S3::Bucket"];
  const input = Array.from({ length: RESOURCES }, (_, i) => {
    const type = types[i % 3];
    return {
      accountId: type.startsWith("AWS") ? aws : azure,
      externalId: `/${TENANT}/resources/${i}`,
      type,
      name: `${TENANT}-res-${String(i).padStart(4, "0")}`,
      region: i % 2 ? "westeurope" : "eastus",
      tags: { environment: i % 4 ? "prod" : "dev" },
      properties: { index: i },
    };
  });
  const { upsertResources } = await call<{ upsertResources: { ids: string[] } }>(
    gatewayUrl,
    auth,
    "mutation($input: [ResourceInput!]!) { upsertResources(input: $input) { ids } }",
    { input },
  );
  for (const accountId of [azure, aws]) {
    await call(gatewayUrl, auth, "mutation($input: SetPlanInput!) { setPlan(input: $input) { tier } }", {
      input: { accountId, planType: "SERVERS", tier: "STANDARD" },
    });
  }
  const vmIds = upsertResources.ids.filter((_, i) => i % 3 === 0);
  const alerts = vmIds
    .filter((_, i) => i % 3 === 0)
    .map((resourceId, i) => ({
      sourceId: `${TENANT}-alert-${i}`,
      title: `Brute force on ${resourceId}`,
      severity: "HIGH",
      tactics: ["CredentialAccess"],
      techniques: ["T1110"],
      resourceId,
    }));
  const { ingestAlerts } = await call<{ ingestAlerts: { createdCount: number } }>(
    gatewayUrl,
    auth,
    "mutation($input: [AlertInput!]!) { ingestAlerts(input: $input) { createdCount } }",
    { input: alerts },
  );
  return { resources: upsertResources.ids.length, alerts: ingestAlerts.createdCount };
}

// ---------------------------------------------------------------------------------------------
// Load

interface Target {
  name: GatewayName;
  url: string;
  /** Request headers of each client identity; connection i uses identities[i % length]. */
  identities: Array<Record<string, string>>;
  service: Service;
}

/** Cheap per-response check: a GraphQL result with nodes and without errors. */
const verifyBody = (body: string) => body.includes('"nodes"') && !body.includes('"errors"');

/** One autocannon run against `target`; CPU of the gateway and the subgraphs sampled around it. */
async function load(
  target: Target,
  subgraphs: Service[],
  connections: number,
  seconds: number,
  into?: Cell,
): Promise<Cell> {
  const cell = into ?? emptyCell(target.name, connections);
  const latencies: number[] = [];
  let responses = 0;
  const gw0 = cpuTicks(target.service.pid);
  const sub0 = subgraphs.reduce((s, p) => s + cpuTicks(p.pid), 0);
  const own0 = cpuTicks(process.pid) + ticksOfCommand("postgres");
  const busy0 = machineBusyTicks();
  let nextIdentity = 0;
  const t0 = performance.now();
  const instance = autocannon({
    url: target.url,
    method: "POST",
    headers: { "content-type": "application/json", ...target.identities[0] },
    body: JSON.stringify({ query: QUERY }),
    connections,
    duration: seconds,
    timeout: 10,
    verifyBody,
    setupClient: (client) => {
      const identity = target.identities[nextIdentity++ % target.identities.length];
      client.setHeaders({ "content-type": "application/json", ...identity });
    },
  });
  currentLoad = instance;
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    responses += 1;
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await withTimeout(`load on ${target.name}`, (seconds + 30) * 1000, instance);
  const elapsed = (performance.now() - t0) / 1000;
  const gw1 = cpuTicks(target.service.pid);
  const sub1 = subgraphs.reduce((s, p) => s + cpuTicks(p.pid), 0);
  const own1 = cpuTicks(process.pid) + ticksOfCommand("postgres");
  const busy1 = machineBusyTicks();
  currentLoad = undefined;
  cell.responses += responses;
  for (const l of latencies) cell.latencies.push(l);
  cell.seconds += elapsed;
  cell.gatewayTicks += gw1 - gw0;
  cell.subgraphTicks += sub1 - sub0;
  cell.foreignTicks += Math.max(0, busy1 - busy0 - (own1 - own0));
  cell.errors += result.errors;
  cell.timeouts += result.timeouts;
  cell.non2xx += result.non2xx;
  cell.mismatches += result.mismatches;
  return cell;
}

// ---------------------------------------------------------------------------------------------
// Machine and versions

function machine(): Record<string, string> {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
  return {
    nproc: String(os.availableParallelism()),
    cpu: model.trim(),
    memory: `${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
  };
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = os.loadavg();
  if (loadBefore[0] > 1)
    say(`warning: load average is ${loadBefore[0].toFixed(2)} before the run: other work will add noise`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), "rampart-bench-"));
  cleanups.push({
    what: "remove temporary files",
    run: async () => rmSync(workDir, { recursive: true, force: true }),
  });

  const db = await createDatabase();
  say(`database ready (${db.where}, Postgres ${db.serverVersion}); role prefix ${db.rolePrefix}`);

  const [posturePort, protectionPort, siemPort, oursPort, stockPort, hivePort] = await Promise.all(
    Array.from({ length: 6 }, () => freePort()),
  );
  const subgraphUrls: Record<string, string> = {
    posture: `http://127.0.0.1:${posturePort}/graphql`,
    protection: `http://127.0.0.1:${protectionPort}/graphql`,
    siem: `http://127.0.0.1:${siemPort}/graphql`,
  };

  // One supergraph file for all three gateways, with the bench ports in its join__graph urls.
  let replaced = 0;
  const supergraph = readFileSync(path.join(ROOT, "gateway", "supergraph.graphql"), "utf8").replace(
    /(@join__graph\(name: "(\w+)", url: ")[^"]*(")/g,
    (match, head: string, name: string, tail: string) => {
      if (!subgraphUrls[name]) return match;
      replaced += 1;
      return `${head}${subgraphUrls[name]}${tail}`;
    },
  );
  if (replaced !== 3)
    throw new Error(`expected 3 join__graph urls in gateway/supergraph.graphql, replaced ${replaced}`);
  const supergraphPath = path.join(workDir, "supergraph.graphql");
  writeFileSync(supergraphPath, supergraph);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RAMPART_ENV: "production",
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    DATABASE_URL: db.url,
    DB_ROLE_PREFIX: db.rolePrefix,
    // One password per role, as production asks; each subgraph is started with its own only.
    DB_ROLE_PASSWORD_POSTURE: `${ROLE_PASSWORD}-posture`,
    DB_ROLE_PASSWORD_PROTECTION: `${ROLE_PASSWORD}-protection`,
    DB_ROLE_PASSWORD_SIEM: `${ROLE_PASSWORD}-siem`,
    POSTURE_PORT: String(posturePort),
    PROTECTION_PORT: String(protectionPort),
    SIEM_PORT: String(siemPort),
    GATEWAY_PORT: String(oursPort),
    POSTURE_URL: subgraphUrls.posture,
    PROTECTION_URL: subgraphUrls.protection,
    SIEM_URL: subgraphUrls.siem,
    SUPERGRAPH_PATH: supergraphPath,
    JWT_SECRET,
    INTERNAL_TOKEN_SECRET: INTERNAL_SECRET,
    JOBS_ENABLED: "false",
    SEED_DEMO: "false",
    INTROSPECTION: "false",
    ...NO_RATE_LIMITS,
  };
  // Settings the environment might carry that would change what is measured.
  for (const key of [
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_TENANT_CLAIM",
    "JWT_ROLES_CLAIM",
    "JWT_ROLE_MAP",
    "PORT",
    "FORK",
    "JIT",
    "CONFIG_PATH",
    "NODE_OPTIONS",
  ])
    delete env[key];

  const config = loadConfig(env, "migrate");
  say("migrating");
  await withTimeout("migrations", 120_000, migrateAll(config, log));
  cleanups.push({ what: "stop services", run: () => stopAll() });

  const subgraphs: Service[] = [];
  for (const name of ["posture", "protection", "siem"] as const) {
    const service = startService(
      name,
      process.execPath,
      [...nodeFlagsOf(name), path.join(DIST, "subgraphs", name, "src", "main.js")],
      serviceEnvironment(name, env, config.db.rolePasswords),
    );
    subgraphs.push(service);
  }
  for (const service of subgraphs) {
    const ready = subgraphUrls[service.name].replace(/\/graphql$/, "/ready");
    await waitUntil(
      `${service.name} subgraph`,
      60_000,
      async () => (await fetch(ready, { signal: AbortSignal.timeout(2000) })).ok,
      service,
    );
  }
  say(`subgraphs up on ports ${posturePort}, ${protectionPort}, ${siemPort}`);

  // a. Our gateway (also used for seeding).
  const ours = startService(
    "ours",
    process.execPath,
    [...profile("ours"), ...nodeFlagsOf("gateway"), path.join(DIST, "gateway", "src", "main.js")],
    serviceEnvironment("gateway", env, config.db.rolePasswords),
  );
  const oursUrl = `http://127.0.0.1:${oursPort}/graphql`;
  await waitUntil(
    "our gateway",
    60_000,
    async () =>
      (await fetch(oursUrl.replace(/\/graphql$/, "/ready"), { signal: AbortSignal.timeout(2000) })).ok,
    ours,
  );
  const seeded = await withTimeout("seeding", 120_000, seed(oursUrl));
  say(`seeded tenant "${TENANT}": ${seeded.resources} resources, ${seeded.alerts} alerts`);

  // b. Stock @apollo/gateway; c. Hive Gateway.
  const stock = startService(
    "stock",
    process.execPath,
    [...profile("stock"), path.join(DIST, "bench", "stock-gateway.js")],
    {
      ...serviceEnvironment("gateway", env, config.db.rolePasswords),
      STOCK_GATEWAY_PORT: String(stockPort),
    },
  );
  const hiveBin = realpathSync(path.join(ROOT, "node_modules", ".bin", "hive-gateway"));
  const hiveArgs = [
    "supergraph",
    supergraphPath,
    "--port",
    String(hivePort),
    "--host",
    "127.0.0.1",
    "--fork",
    "1",
    "-c",
    path.join(DIST, "bench", "hive.config.js"),
  ];
  const hive = startService(
    "hive",
    process.execPath,
    [...profile("hive"), hiveBin, ...hiveArgs],
    serviceEnvironment("gateway", env, config.db.rolePasswords),
  );

  // One identity per connection (distinct users of the tenant, READER), unless BENCH_SHARED_IDENTITY=1.
  const identityCount = SHARED_IDENTITY ? 1 : Math.max(...CONNECTIONS);
  const internal = new InternalTokens(INTERNAL_SECRET, 3600);
  const bearer: Array<Record<string, string>> = [];
  const forwarded: Array<Record<string, string>> = [];
  for (let i = 0; i < identityCount; i++) {
    const subject = `bench-user-${i}@rampart.local`;
    const jwt = await signDevToken(JWT_SECRET, {
      subject,
      tenantId: TENANT,
      roles: [Role.READER],
      ttlSeconds: 3600,
    });
    bearer.push({ authorization: `Bearer ${jwt}` });
    forwarded.push({
      "x-rampart-identity": await internal.sign({ subject, tenantId: TENANT, roles: [Role.READER] }),
    });
  }
  const targets: Record<GatewayName, Target> = {
    ours: { name: "ours", url: oursUrl, identities: bearer, service: ours },
    stock: {
      name: "stock",
      url: `http://127.0.0.1:${stockPort}/graphql`,
      identities: forwarded,
      service: stock,
    },
    hive: { name: "hive", url: `http://127.0.0.1:${hivePort}/graphql`, identities: forwarded, service: hive },
  };

  // Each gateway must answer the query with data and no errors, and all three the same data.
  const answers: Record<string, string> = {};
  for (const name of GATEWAYS) {
    const t = targets[name];
    await waitUntil(
      `${GATEWAY_LABELS[name]}`,
      60_000,
      async () => (await post(t.url, t.identities[0], QUERY)).status === 200,
      t.service,
    );
    const { status, body } = await post(t.url, t.identities[0], QUERY);
    const data = body.data as { resources?: { totalCount?: number; nodes?: unknown[] } } | undefined;
    if (
      status !== 200 ||
      body.errors?.length ||
      !Array.isArray(data?.resources?.nodes) ||
      data.resources.nodes.length !== 5
    ) {
      throw new Error(
        `${GATEWAY_LABELS[name]} answered the query wrongly: HTTP ${status} ${JSON.stringify(body).slice(0, 800)}`,
      );
    }
    if (data.resources.totalCount !== RESOURCES)
      throw new Error(`${name}: totalCount ${data.resources.totalCount}, expected ${RESOURCES}`);
    answers[name] = JSON.stringify(body.data);
  }
  if (answers.ours !== answers.stock || answers.ours !== answers.hive) {
    throw new Error(
      `the gateways disagree:\n ours: ${answers.ours}\n stock: ${answers.stock}\n hive: ${answers.hive}`,
    );
  }
  const sample = answers.ours;
  say("all three gateways return the same data.resources.nodes, without errors");

  // Warm-up (not measured), then interleaved measured segments: each round visits every
  // concurrency and every gateway, in an order rotated per round so drift hits all alike.
  if (WARMUP > 0) {
    for (const name of GATEWAYS) {
      say(`warm-up ${name}: ${WARMUP}s @ ${Math.max(...CONNECTIONS)} connections`);
      const warm = await load(targets[name], subgraphs, Math.max(...CONNECTIONS), WARMUP);
      if (warm.errors + warm.non2xx + warm.mismatches > 0)
        say(`warning: ${name} had failures during warm-up`);
    }
  }
  const cells = new Map<string, Cell>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const connections of CONNECTIONS) {
      const order = GATEWAYS.map((_, i) => GATEWAYS[(i + round) % GATEWAYS.length]);
      for (const name of order) {
        const key = `${name}@${connections}`;
        const before = cells.get(key)?.responses ?? 0;
        await new Promise((r) => setTimeout(r, 250)); // let the previous segment's cut-off requests drain
        const cell = await load(targets[name], subgraphs, connections, SEGMENT, cells.get(key));
        cells.set(key, cell);
        say(
          `round ${round + 1}/${ROUNDS} ${name} @ ${connections} connections: ${cell.responses - before} responses in ${SEGMENT}s`,
        );
      }
    }
  }

  // Report.
  const levels: Array<{ connections: number; level: Level }> = CONNECTIONS.map((connections) => ({
    connections,
    level: Object.fromEntries(
      GATEWAYS.map((g) => [g, figures(cells.get(`${g}@${connections}`)!, CLK_TCK)]),
    ) as Level,
  }));
  const failures = levels.reduce(
    (s, { level }) => s + GATEWAYS.reduce((t, g) => t + level[g].failures, 0),
    0,
  );
  const allChecks = levels.flatMap(({ level }) => budgetChecks(level));
  const p1 = allChecks.every((c) => c.pass);
  const maxForeign = Math.max(...levels.flatMap(({ level }) => GATEWAYS.map((g) => level[g].foreignCpus)));
  const m = machine();

  const out: string[] = [
    "# Gateway benchmark results",
    "",
    `Written by \`npm run bench\` (bench/gateway.bench.ts) on ${new Date().toISOString()}; the run took ${Math.round((Date.now() - started) / 1000)} s. Overwritten by every run.`,
    "",
    "## Machine",
    "",
    `- CPUs (nproc): ${m.nproc}; model: ${m.cpu}`,
    `- memory: ${m.memory}; kernel: ${m.kernel}`,
    `- load average (1/5/15 min) before the run: ${loadBefore.map((l) => l.toFixed(2)).join(" / ")}; after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}`,
    `- Node.js ${m.node}; PostgreSQL ${db.serverVersion} (${db.where})`,
    `- @apollo/gateway ${packageVersion("@apollo/gateway")}, @apollo/server ${packageVersion("@apollo/server")}, @graphql-hive/gateway ${packageVersion("@graphql-hive/gateway")}, autocannon ${packageVersion("autocannon")}`,
    "- Everything (Postgres, three subgraphs, three gateways, the load generator) shares these cores, so absolute req/s are low; compare the gateways with each other.",
    "",
    "## Method",
    "",
    `- A fresh database with a tenant seeded through our gateway: ${seeded.resources} resources (a third of them VMs), two accounts with a STANDARD SERVERS plan, ${seeded.alerts} alerts on VMs.`,
    "- Posture, protection and siem run from dist/ as one process each (RAMPART_ENV=production, JOBS_ENABLED=false, LOG_LEVEL=warn). The three gateways run as separate processes against the same subgraphs and the same supergraph file (gateway/supergraph.graphql with the bench ports in its `join__graph` urls):",
    "  - **ours**: dist/gateway/src/main.js (undici fetcher, client JWT verified on every request and exchanged for an internal token, operation limits, metrics). The client sends `Authorization: Bearer <dev JWT>`.",
    "  - **stock**: bench/stock-gateway.ts, `startStandaloneServer` + `new ApolloGateway({ supergraphSdl })` with the default fetcher; its data source only copies the client's `x-rampart-identity` header. The client sends a pre-minted internal token (`new InternalTokens(secret, 3600).sign(...)`).",
    "  - **hive**: `hive-gateway supergraph <file> --fork 1` with bench/hive.config.ts (`propagateHeaders.fromClientToSubgraphs` forwards `x-rampart-identity`; landing page and GraphiQL off). Same client header as stock.",
    SHARED_IDENTITY
      ? "- Client identities: BENCH_SHARED_IDENTITY=1, so every connection sends the same token. Hive Gateway's HTTP transport deduplicates identical in-flight subgraph requests (`deduplicateInflightRequests`, on by default), so concurrent identical queries from one user collapse into one subgraph fetch there — the other two gateways have no such feature."
      : `- Client identities: each connection is a different user of the tenant (READER; ${identityCount} dev JWTs for ours and the matching ${identityCount} pre-minted internal tokens for stock and hive), as in production. Each gateway runs with its defaults; in particular Hive Gateway's upstream deduplication of identical in-flight subgraph requests stays on, but its key includes the identity header, so it cannot merge different users' requests (BENCH_SHARED_IDENTITY=1 shows what it does for one user).`,
    "- Before load every gateway must answer the query with HTTP 200, 5 `data.resources.nodes`, no `errors`, and all three the same data.",
    `- Load: autocannon (programmatic API) POSTing the README's cross-subgraph query, keep-alive, no pipelining. Warm-up ${WARMUP} s per gateway (not measured), then ${DURATION} s per gateway and concurrency, split into ${ROUNDS} interleaved segment(s) of ${SEGMENT} s; each round runs every concurrency and every gateway in an order rotated per round.`,
    '- Every response body is checked (contains `"nodes"`, no `"errors"`); errors = connection errors + timeouts + non-2xx + failed checks, and must be 0.',
    `- req/s = responses ÷ wall time of the segments. Latency percentiles (p50/p95/p99) are nearest-rank over every 2xx response's latency as autocannon reports it per response.`,
    "- other load (CPUs) = busy CPU time of the whole machine (/proc/stat) minus that of the benchmark's own processes and of Postgres, over the measured segments, in CPUs. Anything well above 0 means something else ran on the machine and the figures are noisier.",
    `- CPU per request = Δ(utime + stime) of the gateway process (and any children) from /proc/<pid>/stat over the measured segments, at CLK_TCK = ${CLK_TCK}, ÷ responses. "subgraphs CPU" is the same for the three subgraph processes together (context: the gateway's query plan and fetches drive it).`,
    "",
    "```graphql",
    QUERY,
    "```",
    "",
  ];
  for (const { connections, level } of levels) {
    out.push(
      `## ${connections} connections`,
      "",
      figuresTable(level),
      "",
      ratioTable(level),
      "",
      "P1 checks:",
      "",
      checksTable(budgetChecks(level)),
      "",
    );
  }
  out.push(
    "## Budget",
    "",
    "Architecture budget — **P1: gateway CPU per request ≤ ⅓ of stock @apollo/gateway's and below Hive Gateway's; p95 no worse than either.**",
    "",
    `Result over ${CONNECTIONS.join(" and ")} connections: **${verdict(p1)}** (${allChecks.filter((c) => c.pass).length} of ${allChecks.length} checks pass).`,
    "",
    failures === 0
      ? "All requests succeeded (0 errors)."
      : `**INVALID RUN: ${failures} failed requests** — the figures above are not comparable.`,
    "",
    maxForeign > 0.2
      ? `Note: other processes used up to ${maxForeign.toFixed(2)} CPUs during some cells (see "other load"): on ${m.nproc} CPUs that is significant; re-run on a quiet machine before trusting small differences.`
      : "The machine was otherwise quiet during the measured segments (other load ≤ 0.2 CPUs).",
    "",
    "Sample response (each gateway returned exactly this `data`):",
    "",
    "```json",
    sample,
    "```",
    "",
  );
  const markdown = out.join("\n");
  writeResultsSection(
    ROOT,
    "gateway",
    markdown.replace(/^## /gm, "### ").replace(/^# Gateway benchmark results/, "## Gateway benchmark (P1)"),
  );

  console.log("");
  for (const { connections, level } of levels) {
    console.log(
      `${connections} connections\n\n${figuresTable(level)}\n\n${ratioTable(level)}\n\n${checksTable(budgetChecks(level))}\n`,
    );
  }
  console.log(`P1: ${verdict(p1)}; failed requests: ${failures}. Written to bench/RESULTS.md.`);
  if (failures > 0) throw new Error(`${failures} requests failed during the measurement`);
  if (!p1 && process.env.BENCH_STRICT === "1") process.exitCode = 2;
}

process.once("SIGINT", () => void abort("interrupted", 130));
process.once("SIGTERM", () => void abort("terminated", 143));
const watchdog = setTimeout(
  () => void abort(`watchdog: the run exceeded ${WATCHDOG_MS / 1000}s`, 1),
  WATCHDOG_MS,
);
watchdog.unref();

Promise.race([main(), serviceFailure]).then(
  async () => {
    await cleanup();
    clearTimeout(watchdog);
    say("done");
    process.exit(process.exitCode ?? 0);
  },
  async (err: unknown) => {
    console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await abort("benchmark failed", 1);
  },
);

/** This benchmark's cleanup: each step bounded by 30 s. */
function cleanup(): Promise<void> {
  return runCleanup(30000, () => currentLoad?.stop());
}

/** Cleans up and exits (forced after 60 s). */
function abort(reason: string, code: number): Promise<never> {
  return abortRun(reason, code, { stepTimeoutMs: 30000, graceMs: 60000, before: () => currentLoad?.stop() });
}

/** The benchmark's own database. */
function createDatabase(): Promise<BenchDatabase> {
  return createBenchDatabase(ROOT, `bench-${process.pid}`, log);
}
