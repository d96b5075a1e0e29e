/**
 * What the bulk-ingest benchmarks share (`ingest.bench.ts` for SIEM events, `telemetry.bench.ts` for
 * workload telemetry): the platform forked from dist/ on a benchmark database, CPU accounting per process
 * and for the database's Postgres processes, the raw COPY baseline, and NDJSON chunks POSTed through the
 * gateway with retries of failed batches.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Client } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { Agent, request } from "undici";
import { loadConfig, type Config, type Logger } from "../../subgraphs/common/src";
import { signDevToken } from "../../gateway/src/auth";
import type { Role } from "../../subgraphs/common/src";
import { freePort } from "../../scripts/lib/database";
import { migrateAll } from "../../scripts/lib/platform";
import { nodeFlagsOf, serviceEnvironment } from "../../scripts/lib/services";
import {
  abort as abortRun,
  cleanup as runCleanup,
  cleanups,
  NO_RATE_LIMITS,
  withTimeout,
  type BenchDatabase,
} from "./lifecycle";
import {
  CLK_TCK,
  cpuTicks,
  machineBusyTicks,
  serviceFailure,
  startService,
  stopAll,
  waitUntil,
  type Service,
} from "./processes";
import { percentile } from "./stats";

/** A numeric environment variable, or `fallback`; anything else stops the run with a message. */
export function numberEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`${name} must be a number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** The machine the run is on, for the report. */
export function machine(): Record<string, string> {
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

// ---------------------------------------------------------------------------------------------
// Database

/** A superuser connection to the bench database, closed at cleanup. */
export async function adminClient(db: BenchDatabase): Promise<Client> {
  const c = new Client({ connectionString: db.url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  cleanups.push({ what: "close admin connection", run: () => c.end() });
  return c;
}

/** The postmaster's pid (the parent of `admin`'s backend), or undefined when Postgres runs elsewhere. */
export async function postmasterOf(admin: Client): Promise<number | undefined> {
  const { rows } = await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  try {
    const stat = readFileSync(`/proc/${rows[0].pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined; // Postgres on another host or namespace: its CPU is not reported
  }
}

/**
 * Samples pg_stat_activity of the bench database twice a second: how often a statement was running
 * and how often one was waiting for a lock (ingest transactions contending for the same rows).
 */
export function sampleActivity(
  admin: Client,
): () => Promise<{ samples: number; active: number; waitingOnLock: number }> {
  const totals = { samples: 0, active: 0, waitingOnLock: 0 };
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(
      async () => {
        const { rows } = await admin.query<{ active: number; lock: number }>(
          `SELECT count(*) FILTER (WHERE state = 'active')::int AS active,
                count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')::int AS lock
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        totals.samples++;
        totals.active += rows[0].active;
        totals.waitingOnLock += rows[0].lock;
      },
      () => undefined,
    );
  }, 500);
  return async () => {
    clearInterval(timer);
    await running.catch(() => undefined);
    return totals;
  };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

/**
 * CPU of this benchmark's Postgres processes: the postmaster's children whose process title names
 * the bench database (its backends, autovacuum workers) plus the shared writers (checkpointer,
 * background writer, WAL writer). Sampled every second during a phase so that processes which exit
 * (autovacuum workers) are counted up to their last sample; other databases' backends on the same
 * server (another test run) are left out and show as "other".
 */
export class PostgresCpu {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(
    private readonly postmaster: number | undefined,
    private readonly database: string,
  ) {}

  private sample(): void {
    if (this.postmaster === undefined) return;
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      let stat: string;
      let title: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        if (!stat.includes("(postgres)")) continue;
        title = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[1]) !== this.postmaster) continue;
      if (!title.includes(this.database) && !/checkpointer|background writer|walwriter/.test(title)) continue;
      const ticks = Number(f[11]) + Number(f[12]);
      if (!this.first.has(pid)) this.first.set(pid, this.started ? 0 : ticks);
      this.last.set(pid, ticks);
    }
  }

  start(): void {
    this.first.clear();
    this.last.clear();
    this.started = false;
    this.sample();
    this.started = true;
    this.timer = setInterval(() => this.sample(), 1000);
  }

  /** CPU seconds since start(). */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    let ticks = 0;
    for (const [pid, last] of this.last) ticks += last - (this.first.get(pid) ?? 0);
    return ticks / CLK_TCK;
  }
}

/** CPU seconds so far: the gateway, the subgraph under test (`target`), the two others, this process, the machine. */
export interface CpuSnapshot {
  gateway: number;
  target: number;
  others: number;
  bench: number;
  machine: number;
}

/** CPU of a phase by process, with Postgres and the rest of the machine ("other"). */
export type CpuUse = CpuSnapshot & { postgres: number; other: number };

/** A measured phase: wall time and CPU by process. */
export interface Phase {
  seconds: number;
  cpu: CpuUse;
}

const SUBGRAPHS = ["posture", "protection", "siem"] as const;

/** CPU so far (seconds) of the benchmark's own processes and of the whole machine. */
function cpuSnapshot(services: Record<string, Service>, target: string): CpuSnapshot {
  const s = (ticks: number) => ticks / CLK_TCK;
  const usage = process.cpuUsage();
  const others = SUBGRAPHS.filter((name) => name !== target);
  return {
    gateway: s(cpuTicks(services.gateway.pid)),
    target: s(cpuTicks(services[target].pid)),
    others: s(others.reduce((sum, name) => sum + cpuTicks(services[name].pid), 0)),
    bench: (usage.user + usage.system) / 1e6,
    machine: s(machineBusyTicks()),
  };
}

function cpuDelta(a: CpuSnapshot, b: CpuSnapshot, postgres: number): CpuUse {
  const d = {
    gateway: b.gateway - a.gateway,
    target: b.target - a.target,
    others: b.others - a.others,
    postgres,
    bench: b.bench - a.bench,
    machine: b.machine - a.machine,
  };
  return {
    ...d,
    other: Math.max(0, d.machine - d.gateway - d.target - d.others - d.postgres - d.bench),
  };
}

/** Runs `work` as a measured phase: wall time and CPU by process (`target`: the subgraph under test). */
export async function measured(
  services: Record<string, Service>,
  target: (typeof SUBGRAPHS)[number],
  pg: PostgresCpu,
  work: () => Promise<void>,
): Promise<Phase> {
  const before = cpuSnapshot(services, target);
  pg.start();
  const t = performance.now();
  let postgres = 0;
  try {
    await work();
  } finally {
    postgres = pg.stop();
  }
  const seconds = (performance.now() - t) / 1000;
  return { seconds, cpu: cpuDelta(before, cpuSnapshot(services, target), postgres) };
}

// ---------------------------------------------------------------------------------------------
// The platform, forked from dist/

/** The four services of a benchmark run and how to reach them. */
export interface ForkedPlatform {
  services: Record<"posture" | "protection" | "siem" | "gateway", Service>;
  config: Config;
  /** The gateway's origin (`http://127.0.0.1:<port>`) and GraphQL URL. */
  origin: string;
  graphqlUrl: string;
  /** The key client tokens are signed with (`signDevToken`). */
  jwtSecret: string;
}

/**
 * Migrates the bench database and forks posture, protection, siem and the gateway from dist/ on free
 * ports (`RAMPART_ENV=production`, `JOBS_ENABLED=false`, `LOG_LEVEL=warn`, fresh secrets, `extraEnv` on
 * top), waiting for each `/ready`. Every service is pushed to `launched` (for error reports) and stopped
 * at cleanup.
 */
export async function startForkedPlatform(options: {
  root: string;
  db: BenchDatabase;
  log: Logger;
  launched: Service[];
  extraEnv: Record<string, string>;
  /** Services that write a V8 CPU profile to BENCH_CPU_PROF (a directory), when it is set, as they stop. */
  profiled: readonly string[];
}): Promise<ForkedPlatform> {
  const dist = path.join(options.root, "dist");
  const jwtSecret = `bench-jwt-${randomBytes(16).toString("hex")}`;
  const [posturePort, protectionPort, siemPort, gatewayPort] = await Promise.all(
    Array.from({ length: 4 }, () => freePort()),
  );
  const subgraphUrls: Record<string, string> = {
    posture: `http://127.0.0.1:${posturePort}/graphql`,
    protection: `http://127.0.0.1:${protectionPort}/graphql`,
    siem: `http://127.0.0.1:${siemPort}/graphql`,
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RAMPART_ENV: "production",
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    DATABASE_URL: options.db.url,
    DB_ROLE_PREFIX: options.db.rolePrefix,
    // One password per role, as production requires (each service gets only its own: serviceEnvironment).
    DB_ROLE_PASSWORD_POSTURE: `bench-${randomBytes(8).toString("hex")}`,
    DB_ROLE_PASSWORD_PROTECTION: `bench-${randomBytes(8).toString("hex")}`,
    DB_ROLE_PASSWORD_SIEM: `bench-${randomBytes(8).toString("hex")}`,
    POSTURE_PORT: String(posturePort),
    PROTECTION_PORT: String(protectionPort),
    SIEM_PORT: String(siemPort),
    GATEWAY_PORT: String(gatewayPort),
    POSTURE_URL: subgraphUrls.posture,
    PROTECTION_URL: subgraphUrls.protection,
    SIEM_URL: subgraphUrls.siem,
    SUPERGRAPH_PATH: path.join(options.root, "gateway", "supergraph.graphql"),
    JWT_SECRET: jwtSecret,
    INTERNAL_TOKEN_SECRET: `bench-internal-${randomBytes(16).toString("hex")}`,
    JOBS_ENABLED: "false",
    SEED_DEMO: "false",
    INTROSPECTION: "false",
    ...NO_RATE_LIMITS,
  };
  for (const key of [
    "DB_ROLE_PASSWORD",
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_TENANT_CLAIM",
    "JWT_ROLES_CLAIM",
    "JWT_ROLE_MAP",
    "PORT",
    "FORK",
    "CONFIG_PATH",
    "NODE_OPTIONS",
    "DB_POOL_SIZE",
    "EVENT_RETENTION_DAYS",
    "TELEMETRY_RETENTION_DAYS",
  ])
    delete env[key];
  Object.assign(env, options.extraEnv);
  const config = loadConfig(env);
  await withTimeout("migrations", 120_000, migrateAll(config, options.log));
  cleanups.push({ what: "stop services", run: () => stopAll(10_000) });

  const profileDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const args = (name: string, main: string) => [
    ...(profileDir && options.profiled.includes(name)
      ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${process.pid}.cpuprofile`]
      : []),
    // The service's own flags, as `npm start` and docker-compose run it.
    ...nodeFlagsOf(name),
    path.join(dist, main),
  ];
  const services = {} as ForkedPlatform["services"];
  for (const name of SUBGRAPHS) {
    services[name] = startService(
      name,
      process.execPath,
      args(name, path.join("subgraphs", name, "src", "main.js")),
      serviceEnvironment(name, env, config.db.rolePasswords),
    );
    options.launched.push(services[name]);
  }
  for (const name of SUBGRAPHS) {
    const ready = subgraphUrls[name].replace(/\/graphql$/, "/ready");
    await waitUntil(
      `${name} subgraph`,
      60_000,
      async () => (await fetch(ready, { signal: AbortSignal.timeout(2000) })).ok,
      services[name],
    );
  }
  services.gateway = startService(
    "gateway",
    process.execPath,
    args("gateway", path.join("gateway", "src", "main.js")),
    serviceEnvironment("gateway", env, config.db.rolePasswords),
  );
  options.launched.push(services.gateway);
  const origin = `http://127.0.0.1:${gatewayPort}`;
  await waitUntil(
    "gateway",
    60_000,
    async () => (await fetch(`${origin}/ready`, { signal: AbortSignal.timeout(2000) })).ok,
    services.gateway,
  );
  return { services, config, origin, graphqlUrl: `${origin}/graphql`, jwtSecret };
}

/** The distinct error messages a service logged with `msg` (its answers to the client are masked). */
export function loggedErrors(service: Service, msg: string): string[] {
  return [
    ...new Set(
      service
        .tail()
        .split("\n")
        .flatMap((line) => {
          try {
            const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
            return entry.msg === msg && entry.err?.message ? [entry.err.message] : [];
          } catch {
            return [];
          }
        }),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------
// GraphQL through the gateway

/** Runs one GraphQL operation through the gateway; throws on HTTP or GraphQL errors. */
export async function gql<T>(url: string, token: string, query: string, variables: object = {}): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  let body: { data?: T; errors?: unknown[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (res.status !== 200 || body.errors?.length || !body.data)
    throw new Error(`${url}: HTTP ${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 800)}`);
  return body.data;
}

// ---------------------------------------------------------------------------------------------
// Chunks: the raw COPY baseline and the ingest through the gateway

/** One batch of the run: its records as the NDJSON body POSTed, and as a COPY (text or binary) for the baseline. */
export interface IngestChunk {
  records: number;
  ndjson: Buffer;
  copy: Buffer;
}

/** Runs `work(i)` for every chunk index with `concurrency` in flight; stops at the first failure. */
export async function forEachChunk(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (!failed) {
        const i = next++;
        if (i >= count) return;
        try {
          await work(i);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    }),
  );
}

/** Opens the raw COPY baseline's connections (superuser), outside the measured time. */
export async function copyClients(db: BenchDatabase, count: number): Promise<Client[]> {
  const clients = await Promise.all(
    Array.from({ length: count }, async () => {
      const c = new Client({ connectionString: db.url, connectionTimeoutMillis: 10_000 });
      await c.connect();
      return c;
    }),
  );
  cleanups.push({
    what: "close the raw COPY connections",
    run: async () => void (await Promise.allSettled(clients.map((c) => c.end()))),
  });
  return clients;
}

/** The raw COPY baseline: each chunk one COPY (its own transaction) into `table`, one chunk per connection at a time. */
export async function rawCopy(
  clients: Client[],
  table: string,
  columns: readonly string[],
  chunks: IngestChunk[],
  format: "text" | "binary" = "text",
): Promise<void> {
  const options = format === "binary" ? " (FORMAT binary)" : "";
  const free = [...clients];
  await forEachChunk(chunks.length, clients.length, async (i) => {
    const client = free.pop()!;
    try {
      const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN${options}`));
      await pipeline(Readable.from([chunks[i].copy]), stream);
    } finally {
      free.push(client);
    }
  });
}

/** What POSTing the chunks did. */
export interface IngestOutcome {
  accepted: number;
  duplicates: number;
  rejected: number;
  firstRejections: string[];
  latenciesMs: number[];
  /** Requests that failed with a 5xx and were sent again (a shipper retries a failed batch). */
  failures: Array<{ chunk: number; attempt: number; status: number; body: string }>;
  /** Extra counters the endpoint answers with (e.g. `detections`), summed. */
  totals: Record<string, number>;
}

/** Attempts per chunk: a 5xx (e.g. the batch's transaction aborted) is retried, and reported. */
const MAX_ATTEMPTS = 3;

/**
 * POSTs every chunk's NDJSON to `url` (a gateway ingest endpoint) with `token`, `concurrency` requests
 * in flight; each answer must accept all of its chunk's records (a retried chunk may find them stored).
 */
export async function postChunks(options: {
  url: string;
  token: string;
  chunks: IngestChunk[];
  concurrency: number;
  say: (msg: string) => void;
}): Promise<IngestOutcome> {
  const { chunks } = options;
  const agent = new Agent({
    connections: options.concurrency,
    keepAliveTimeout: 60_000,
    headersTimeout: 600_000,
    bodyTimeout: 600_000,
  });
  const out: IngestOutcome = {
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    firstRejections: [],
    latenciesMs: [],
    failures: [],
    totals: {},
  };
  try {
    await forEachChunk(chunks.length, options.concurrency, async (i) => {
      for (let attempt = 1; ; attempt++) {
        const t = performance.now();
        const res = await request(options.url, {
          method: "POST",
          dispatcher: agent,
          headers: { authorization: `Bearer ${options.token}`, "content-type": "application/x-ndjson" },
          body: chunks[i].ndjson,
        });
        const text = await res.body.text();
        const ms = performance.now() - t;
        if (res.statusCode >= 500 && attempt < MAX_ATTEMPTS) {
          out.failures.push({ chunk: i, attempt, status: res.statusCode, body: text.slice(0, 300) });
          options.say(`chunk ${i}: HTTP ${res.statusCode} on attempt ${attempt}, sending it again`);
          continue;
        }
        out.latenciesMs.push(ms);
        if (res.statusCode !== 200)
          throw new Error(`chunk ${i}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`);
        const body = JSON.parse(text) as {
          accepted: number;
          duplicates: number;
          rejected: Array<{ line: number; reason: string }>;
        } & Record<string, unknown>;
        out.accepted += body.accepted;
        out.duplicates += body.duplicates;
        out.rejected += body.rejected.length;
        for (const [key, value] of Object.entries(body))
          if (typeof value === "number" && key !== "accepted" && key !== "duplicates")
            out.totals[key] = (out.totals[key] ?? 0) + value;
        for (const r of body.rejected.slice(0, 3))
          if (out.firstRejections.length < 5)
            out.firstRejections.push(`chunk ${i} line ${r.line}: ${r.reason}`);
        // A retry may find its records stored already (if the failure came after the commit).
        const kept = attempt === 1 ? body.accepted : body.accepted + body.duplicates;
        if (kept !== chunks[i].records)
          throw new Error(
            `chunk ${i}: accepted ${body.accepted} of ${chunks[i].records}: ${text.slice(0, 500)}`,
          );
        return;
      }
    });
  } finally {
    await agent.close();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The run

/**
 * Runs a benchmark's `main` to the end: cleans up (services, database, embedded Postgres) when it
 * finishes, fails, is interrupted (SIGINT 130, SIGTERM 143) or exceeds `watchdogMs`, printing the last
 * output of the services it `launched` on failure; exits with `process.exitCode`.
 */
export function runBenchmark(
  main: () => Promise<void>,
  options: { watchdogMs: number; launched: Service[] },
): void {
  const abort = (reason: string, code: number): Promise<never> =>
    abortRun(reason, code, { stepTimeoutMs: 60_000, graceMs: 120_000 });
  process.once("SIGINT", () => void abort("interrupted", 130));
  process.once("SIGTERM", () => void abort("terminated", 143));
  const watchdog = setTimeout(
    () => void abort(`watchdog: the run exceeded ${options.watchdogMs / 1000}s`, 1),
    options.watchdogMs,
  );
  watchdog.unref();
  Promise.race([main(), serviceFailure]).then(
    async () => {
      await runCleanup(60_000);
      clearTimeout(watchdog);
      console.log("[bench] done");
      process.exit(process.exitCode ?? 0);
    },
    async (err: unknown) => {
      console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      for (const service of options.launched)
        if (service.tail().trim())
          console.error(`[bench] last output of ${service.name}:\n${service.tail()}`);
      await abort("benchmark failed", 1);
    },
  );
}

/** What the raw COPY baseline copies, and where. */
export interface RawCopyBaseline {
  admin: Client;
  db: BenchDatabase;
  services: Record<string, Service>;
  /** The service whose CPU the phase attributes (the ingest's subgraph). */
  target: (typeof SUBGRAPHS)[number];
  pg: PostgresCpu;
  /** The production table, e.g. `siem.events`: the baseline table is created LIKE it, INCLUDING ALL. */
  table: string;
  columns: readonly string[];
  chunks: IngestChunk[];
  /** The COPY format of `chunks[].copy` (the one the service stages its rows with); text by default. */
  format?: "text" | "binary";
  /** The days the rows fall on: one daily partition each, as in production. */
  days: readonly string[];
  concurrency: number;
  rows: number;
  /**
   * A bare table instead of one shaped like `table`: the same columns (generated ones as plain columns,
   * left null) and defaults, but no constraints and no indexes, and these columns as `text` (e.g. jsonb
   * ones: no parsing on the server). What storing the same bytes costs, and no design can go below.
   */
  bare?: { asText: readonly string[] };
}

/**
 * The baseline phase: a raw COPY of the pre-encoded rows into a fresh table shaped like `table` (same
 * columns, defaults, constraints, indexes and daily partitions) over `concurrency` connections; the row
 * count is checked, then the table is dropped (so its autovacuum does not run during the ingest).
 */
export async function rawCopyBaseline(b: RawCopyBaseline): Promise<Phase> {
  const name = b.table.split(".").pop()!;
  const copy = `bench_raw.${name}`;
  await b.admin.query("CREATE SCHEMA bench_raw");
  await b.admin.query(
    `CREATE TABLE ${copy} (LIKE ${b.table} INCLUDING ${b.bare ? "DEFAULTS" : "ALL"}) PARTITION BY RANGE (time)`,
  );
  for (const column of b.bare?.asText ?? [])
    await b.admin.query(
      `ALTER TABLE ${copy} ALTER COLUMN ${column} DROP DEFAULT, ALTER COLUMN ${column} TYPE text`,
    );
  for (const day of b.days) {
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await b.admin.query(
      `CREATE TABLE ${copy}_p${day.replace(/-/g, "")} PARTITION OF ${copy} FOR VALUES FROM ('${day}') TO ('${next}')`,
    );
  }
  await b.admin.query("CHECKPOINT");
  const clients = await copyClients(b.db, b.concurrency);
  const phase = await measured(b.services, b.target, b.pg, () =>
    rawCopy(clients, copy, b.columns, b.chunks, b.format),
  );
  await Promise.all(clients.map((c) => c.end()));
  const copied = Number((await b.admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${copy}`)).rows[0].n);
  if (copied !== b.rows) throw new Error(`raw COPY stored ${copied} rows, expected ${b.rows}`);
  await b.admin.query("DROP SCHEMA bench_raw CASCADE");
  await b.admin.query("CHECKPOINT");
  return phase;
}

/** What `ingestThroughGateway` POSTs, and where its CPU is accounted. */
export interface GatewayIngest {
  admin: Client;
  services: Record<string, Service>;
  /** The subgraph behind the endpoint. */
  target: (typeof SUBGRAPHS)[number];
  pg: PostgresCpu;
  url: string;
  token: string;
  chunks: IngestChunk[];
  concurrency: number;
  /** Records in all chunks. */
  records: number;
  say: (msg: string) => void;
}

/** The measured ingest phase: its CPU, what the endpoint answered, and the database's activity meanwhile. */
export interface GatewayIngestRun {
  phase: Phase;
  outcome: IngestOutcome;
  activity: Awaited<ReturnType<ReturnType<typeof sampleActivity>>>;
}

/**
 * The ingest phase: every chunk POSTed through the gateway (retrying 5xx), measured, with the database's
 * activity sampled. Fails the run unless every record was accepted (or, after a retried request, found
 * stored) and none rejected.
 */
export async function ingestThroughGateway(g: GatewayIngest): Promise<GatewayIngestRun> {
  let outcome: IngestOutcome | undefined;
  const stopSampling = sampleActivity(g.admin);
  const phase = await measured(g.services, g.target, g.pg, async () => {
    outcome = await postChunks({
      url: g.url,
      token: g.token,
      chunks: g.chunks,
      concurrency: g.concurrency,
      say: g.say,
    });
  });
  const activity = await stopSampling();
  if (!outcome) throw new Error("no ingest outcome");
  if (
    outcome.rejected > 0 ||
    outcome.accepted + outcome.duplicates !== g.records ||
    (outcome.duplicates > 0 && outcome.failures.length === 0)
  )
    throw new Error(
      `ingest accepted ${outcome.accepted} of ${g.records}, rejected ${outcome.rejected}: ${outcome.firstRejections.join("; ")}`,
    );
  return { phase, outcome, activity };
}

/** The ingest against its raw COPY baseline, for the report. */
export interface IngestComparison {
  copy: Phase;
  run: GatewayIngestRun;
  /** Records (events) in each phase. */
  count: number;
  /** "record" or "event". */
  unit: string;
  /** The subgraph behind the endpoint, as the report names it. */
  target: string;
  /** The two other subgraphs, as the report names them. */
  others: string;
  chunks: number;
  chunkLines: number;
  concurrency: number;
  /** What the target logged for failed requests (see `loggedErrors`). */
  targetErrors: string[];
}

/** Figures both ingest benchmarks report, computed once. */
export function compareIngest(c: IngestComparison): {
  rate: number;
  rawRate: number;
  ratio: number;
  /** Processes outside the benchmark, in CPUs, in its busier phase. */
  foreign: number;
  /** Rows of the "measure | figure" table about the ingest and the baseline. */
  figureRows: string[];
  /** The CPU-by-process table. */
  cpuTable: string[];
  /** The closing sentence on the machine's quiet or noise. */
  noise: string;
} {
  const { copy, count, unit } = c;
  const { phase: ingest, outcome, activity } = c.run;
  const rate = count / ingest.seconds;
  const rawRate = count / copy.seconds;
  const ratio = rate / rawRate;
  const lat = [...outcome.latenciesMs].sort((a, b) => a - b);
  // CPU cost per record, which foreign load on the machine hardly moves (unlike wall time).
  const nproc = os.availableParallelism();
  const ingestUs = ((ingest.cpu.gateway + ingest.cpu.target + ingest.cpu.postgres) / count) * 1e6;
  const copyUs = (copy.cpu.postgres / count) * 1e6;
  const foreign = Math.max(copy.cpu.other / copy.seconds, ingest.cpu.other / ingest.seconds);
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const failures = outcome.failures;
  const figureRows = [
    `| ${unit}s | ${n(count)} |`,
    `| chunks × lines, requests in flight | ${c.chunks} × ≤ ${n(c.chunkLines)}, ${c.concurrency} |`,
    `| **ingest** wall time | ${ingest.seconds.toFixed(1)} s |`,
    `| **ingest ${unit}s/s** | **${n(rate)}** |`,
    `| ingest request latency p50 / p95 / max (one chunk) | ${s(percentile(lat, 50))} / ${s(percentile(lat, 95))} / ${s(lat[lat.length - 1])} s |`,
    `| accepted / duplicates / rejected | ${n(outcome.accepted)} / ${n(outcome.duplicates)} / ${n(outcome.rejected)} |`,
    `| ingest requests failed with HTTP 5xx and sent again | ${failures.length}${failures.length ? ` (${failures.map((f) => `chunk ${f.chunk}: HTTP ${f.status}`).join(", ")}; ${c.target} log: ${c.targetErrors.map((e) => `\`${e}\``).join(", ") || "n/a"})` : ""} |`,
    `| statements of the bench database running / waiting for a lock (mean over ${activity.samples} samples during the ingest) | ${(activity.active / Math.max(1, activity.samples)).toFixed(2)} / ${(activity.waitingOnLock / Math.max(1, activity.samples)).toFixed(2)} |`,
    `| raw COPY wall time | ${copy.seconds.toFixed(1)} s |`,
    `| **raw COPY rows/s** | **${n(rawRate)}** |`,
    `| **ingest ÷ raw COPY** | **${(ratio * 100).toFixed(1)} %** |`,
    `| CPU per ${unit}: ingest (gateway + ${c.target} + postgres) / raw COPY (postgres) | ${ingestUs.toFixed(0)} / ${copyUs.toFixed(0)} µs |`,
    `| ingest ÷ raw COPY by CPU cost (raw COPY µs ÷ ingest µs) | ${((100 * copyUs) / ingestUs).toFixed(1)} % |`,
    `| ${unit}s/s these CPU costs allow on ${nproc} CPUs: ingest / raw COPY | ${n((nproc * 1e6) / ingestUs)} / ${n((nproc * 1e6) / copyUs)} |`,
  ];
  const cpuRow = (label: string, get: (u: CpuUse) => number) =>
    `| ${label} | ${get(copy.cpu).toFixed(1)} | ${get(ingest.cpu).toFixed(1)} | ${((get(ingest.cpu) / count) * 1e6).toFixed(1)} | ${((100 * get(ingest.cpu)) / ingest.seconds).toFixed(0)} % |`;
  const cpuTable = [
    `CPU seconds by process (${nproc} CPUs = ${nproc * 100} %):`,
    "",
    `| process | raw COPY | ingest | ingest µs/${unit} | ingest CPU share of wall time |`,
    "| --- | ---: | ---: | ---: | ---: |",
    cpuRow("gateway", (u) => u.gateway),
    cpuRow(c.target, (u) => u.target),
    cpuRow("postgres", (u) => u.postgres),
    cpuRow("benchmark (client)", (u) => u.bench),
    cpuRow(c.others, (u) => u.others),
    cpuRow("other (not this benchmark)", (u) => u.other),
  ];
  const noise =
    foreign > 0.2
      ? `**Noisy run**: processes outside this benchmark used up to ${foreign.toFixed(2)} CPUs during a measured phase (see "other" above); on ${nproc} CPUs that moves ${unit}s/s, rows/s and their ratio by tens of percent — re-run on a quiet machine before trusting them. The CPU cost per ${unit} is much less affected.`
      : "The machine was otherwise quiet during the measured phases (other load ≤ 0.2 CPUs).";
  return { rate, rawRate, ratio, foreign, figureRows, cpuTable, noise };
}

/** The "Machine" lines of a report: CPUs, memory, load before and after, Node.js and Postgres. */
export function machineLines(loadBefore: readonly number[], db: BenchDatabase): string[] {
  const m = machine();
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(" / ");
  return [
    `- CPUs (nproc): ${m.nproc}; model: ${m.cpu}; memory: ${m.memory}; kernel: ${m.kernel}`,
    `- load average (1/5/15 min) before the run: ${load(loadBefore)}; after: ${load(os.loadavg())}`,
    `- Node.js ${m.node}; PostgreSQL ${db.serverVersion} (${db.where}; ${db.settings})`,
    "- Postgres, the four services and the load generator share these cores.",
  ];
}

/** A platform for a bulk-ingest benchmark, with what its phases need. */
export interface IngestPlatform extends ForkedPlatform {
  /** Superuser connection to the bench database. */
  admin: Client;
  pgCpu: PostgresCpu;
  /** A dev token of the tenant with these roles (subject named after the first role). */
  token(tenantId: string, roles: Role[]): Promise<string>;
}

/**
 * Migrates and forks the platform for an ingest benchmark: room in `MAX_BODY_BYTES` for the largest chunk
 * (the subgraph buffers one request body; the gateway streams it), V8 profiles of `profiled` when
 * `BENCH_CPU_PROF` names a directory, and the admin connection and Postgres CPU accounting.
 */
export async function startIngestPlatform(options: {
  root: string;
  db: BenchDatabase;
  log: Logger;
  launched: Service[];
  /** Bytes of the largest NDJSON chunk. */
  largest: number;
  profiled: readonly string[];
}): Promise<IngestPlatform> {
  const platform = await startForkedPlatform({
    root: options.root,
    db: options.db,
    log: options.log,
    launched: options.launched,
    extraEnv: { MAX_BODY_BYTES: String(Math.max(16 * 2 ** 20, Math.ceil(options.largest * 1.25))) },
    profiled: options.profiled,
  });
  const admin = await adminClient(options.db);
  const pgCpu = new PostgresCpu(await postmasterOf(admin), new URL(options.db.url).pathname.slice(1));
  return {
    ...platform,
    admin,
    pgCpu,
    token: (tenantId, roles) =>
      signDevToken(platform.jwtSecret, {
        subject: `bench-${roles[0].toLowerCase()}@rampart.local`,
        tenantId,
        roles,
        ttlSeconds: 4 * 3600,
      }),
  };
}
