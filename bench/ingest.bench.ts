/**
 * P4: bulk event ingest with near-real-time rules and threat-intelligence matching on, against a raw
 * COPY of the same rows, and a scheduled rule over the ingested period.
 *
 * One run: synthetic OCSF events generated up front (NDJSON chunks, and the same rows pre-normalised
 * as COPY text), a throwaway database (on DATABASE_URL, else an embedded Postgres), migrations,
 * posture/protection/siem and the gateway forked from dist/, every NRT rule template enabled and a
 * STIX bundle of ~1,000 indicators imported through the gateway; then
 *   1. raw COPY of the pre-normalised rows into a fresh table shaped like siem.events (baseline),
 *   2. POST /ingest/events?connector=OCSF through the gateway, BENCH_CONCURRENCY requests in flight,
 *   3. a brute-force summarize rule over the whole period with runScheduledRule (best of 3) and the
 *      EXPLAIN ANALYZE of its query,
 * and the "ingest" section of bench/RESULTS.md. Everything it started is stopped and the database and
 * its roles are dropped at the end, on failure and on Ctrl-C. See bench/README.md.
 *
 *   npm run bench:ingest        (BENCH_EVENTS=1000000, BENCH_CHUNK=20000, BENCH_CONCURRENCY=2)
 */
import "reflect-metadata";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Client } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { DataSource, EntityManager } from "typeorm";
import { Agent, request } from "undici";
import { signDevToken } from "../gateway/src/auth";
import {
  createDataSource,
  createLogger,
  inTenant,
  loadConfig,
  newId,
  Role,
  subgraphDatabaseUrl,
} from "../subgraphs/common/src";
import { normalizeOcsf } from "../subgraphs/siem/src/modules/connectors/normalizers/ocsf";
import { copyText } from "../subgraphs/siem/src/modules/events/copy";
import { runScheduledRule } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { loadRuleTemplates } from "../subgraphs/siem/src/modules/rules/templates";
import { freePort } from "../scripts/lib/database";
import { migrateAll } from "../scripts/lib/platform";
import { indicatorValues, OcsfTraffic } from "./lib/ocsf-events";
import {
  CLK_TCK,
  cpuTicks,
  machineBusyTicks,
  serviceFailure,
  startService,
  stopAll,
  waitUntil,
  type Service,
} from "./lib/processes";
import { writeResultsSection } from "./lib/results";
import { percentile } from "./lib/stats";
import { STORED_EVENT_COLUMNS } from "../subgraphs/siem/src/modules/events/event-ingest";
import {
  abort as abortRun,
  cleanup as runCleanup,
  cleanups,
  createBenchDatabase,
  withTimeout,
  type BenchDatabase,
} from "./lib/lifecycle";

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

const EVENTS = Math.floor(numberEnv("BENCH_EVENTS", 1_000_000, 100));
const CHUNK = Math.floor(numberEnv("BENCH_CHUNK", 20_000, 1));
const CONCURRENCY = Math.floor(numberEnv("BENCH_CONCURRENCY", 2, 1));
const INDICATORS = Math.floor(numberEnv("BENCH_INDICATORS", 1000, 20));
const TI_RATE = numberEnv("BENCH_TI_RATE", 0.001, 0);
const RULE_RUNS = Math.floor(numberEnv("BENCH_RULE_RUNS", 3, 1));
const SEED = Math.floor(numberEnv("BENCH_SEED", 42, 0));
/** Whole-run watchdog: start-up and generation, plus generous time per million events. */
const WATCHDOG_MS = numberEnv("BENCH_TIMEOUT", 300 + Math.ceil((EVENTS / 1_000_000) * 900), 30) * 1000;
/** Events are spread over the last 50 minutes before generation, so a PT1H rule period covers them all. */
const SPREAD_MS = 50 * 60_000;

/** The P4 budget. */
const BUDGET = { eventsPerSecond: 50_000, ofRawCopy: 0.5, ruleSeconds: 5, ruleEvents: 1_000_000 };

const TENANT = "bench-ingest";
const COPY_TENANT = "bench-raw-copy";
const RULE_TEMPLATE = "brute-force-sign-ins-by-ip";
const JWT_SECRET = `bench-jwt-${randomBytes(16).toString("hex")}`;
const INTERNAL_SECRET = `bench-internal-${randomBytes(16).toString("hex")}`;
const ROLE_PASSWORD = `bench-${randomBytes(8).toString("hex")}`;

/** BENCH_CPU_PROF=<dir>: the gateway and the SIEM write V8 CPU profiles there when they stop. */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
const profile = (name: string) =>
  CPU_PROF_DIR
    ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${name}-${process.pid}.cpuprofile`]
    : [];

/** The columns the SIEM's ingest COPYs, in its order. */
const COLUMNS = STORED_EVENT_COLUMNS;

const log = createLogger("bench", "warn");
const say = (msg: string) => console.log(`[bench] ${msg}`);
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "n/a";
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

// ---------------------------------------------------------------------------------------------
// Cleanup steps (bench/lib/lifecycle.ts) and the services started.

/** The services started, for their output when the run fails. */
const launched: Service[] = [];

// ---------------------------------------------------------------------------------------------
// Database

/** A superuser connection to the bench database, closed at cleanup. */
async function adminClient(db: BenchDatabase): Promise<Client> {
  const c = new Client({ connectionString: db.url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  cleanups.push({ what: "close admin connection", run: () => c.end() });
  return c;
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
class PostgresCpu {
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

/**
 * Samples pg_stat_activity of the bench database twice a second: how often a statement was running
 * and how often one was waiting for a lock (ingest transactions contending for the same rows).
 */
function sampleActivity(
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

interface CpuSnapshot {
  gateway: number;
  siem: number;
  others: number;
  bench: number;
  machine: number;
}

/** CPU so far (seconds) of the benchmark's own processes and of the whole machine. */
function cpuSnapshot(services: Record<string, Service>): CpuSnapshot {
  const s = (ticks: number) => ticks / CLK_TCK;
  const usage = process.cpuUsage();
  return {
    gateway: s(cpuTicks(services.gateway.pid)),
    siem: s(cpuTicks(services.siem.pid)),
    others: s(cpuTicks(services.posture.pid) + cpuTicks(services.protection.pid)),
    bench: (usage.user + usage.system) / 1e6,
    machine: s(machineBusyTicks()),
  };
}

/** Runs `work` as a measured phase: wall time and CPU by process. */
async function measured(
  services: Record<string, Service>,
  pg: PostgresCpu,
  work: () => Promise<void>,
): Promise<Phase> {
  const before = cpuSnapshot(services);
  pg.start();
  const t = performance.now();
  let postgres = 0;
  try {
    await work();
  } finally {
    postgres = pg.stop();
  }
  const seconds = (performance.now() - t) / 1000;
  return { seconds, cpu: cpuDelta(before, cpuSnapshot(services), postgres) };
}

function cpuDelta(
  a: CpuSnapshot,
  b: CpuSnapshot,
  postgres: number,
): CpuSnapshot & { postgres: number; other: number } {
  const d = {
    gateway: b.gateway - a.gateway,
    siem: b.siem - a.siem,
    others: b.others - a.others,
    postgres,
    bench: b.bench - a.bench,
    machine: b.machine - a.machine,
  };
  return { ...d, other: Math.max(0, d.machine - d.gateway - d.siem - d.others - d.postgres - d.bench) };
}

// ---------------------------------------------------------------------------------------------
// GraphQL through the gateway

async function gql<T>(url: string, token: string, query: string, variables: object = {}): Promise<T> {
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

/** A STIX 2.1 bundle with one indicator per value (IPs and domains), valid from a week before `now`. */
function stixBundle(values: { ips: string[]; domains: string[] }, now: number): Record<string, unknown> {
  const at = new Date(now - 7 * 86_400_000).toISOString();
  const indicator = (pattern: string, name: string, i: number) => ({
    type: "indicator",
    spec_version: "2.1",
    id: `indicator--${randomUUID()}`,
    created: at,
    modified: at,
    name,
    pattern,
    pattern_type: "stix",
    indicator_types: ["malicious-activity"],
    valid_from: at,
    confidence: 40 + (i % 56),
    labels: ["bench"],
  });
  return {
    type: "bundle",
    id: `bundle--${randomUUID()}`,
    objects: [
      {
        type: "identity",
        spec_version: "2.1",
        id: `identity--${randomUUID()}`,
        created: at,
        modified: at,
        name: "Bench CTI",
        identity_class: "organization",
      },
      ...values.ips.map((ip, i) => indicator(`[ipv4-addr:value = '${ip}']`, `C2 server ${ip}`, i)),
      ...values.domains.map((d, i) => indicator(`[domain-name:value = '${d}']`, `Malicious domain ${d}`, i)),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Generation (before anything is timed)

interface Chunk {
  events: number;
  /** The NDJSON body POSTed to the gateway. */
  ndjson: Buffer;
  /** The same events, normalised by the OCSF normaliser, as COPY text rows for the baseline table. */
  copy: Buffer;
}

interface Generated {
  chunks: Chunk[];
  traffic: OcsfTraffic;
  indicators: { ips: string[]; domains: string[] };
  planted: { ips: string[]; domains: string[] };
  days: string[];
  seconds: number;
}

function generate(now: number): Generated {
  const t0 = performance.now();
  const indicators = indicatorValues(INDICATORS, SEED);
  // A few indicators that WILL match: TI matching does real work on the planted events.
  const planted = { ips: indicators.ips.slice(0, 10), domains: indicators.domains.slice(0, 10) };
  const traffic = new OcsfTraffic({
    seed: SEED,
    now,
    spreadMs: SPREAD_MS,
    tiRate: TI_RATE,
    tiIps: planted.ips,
    tiDomains: planted.domains,
  });
  const chunks: Chunk[] = [];
  const days = new Set<string>();
  for (let done = 0; done < EVENTS;) {
    const n = Math.min(CHUNK, EVENTS - done);
    const lines: string[] = new Array<string>(n);
    const rows: string[] = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const record = traffic.next();
      const line = JSON.stringify(record);
      const e = normalizeOcsf(record);
      if ("reason" in e)
        throw new Error(`the generator made an event the OCSF normaliser rejects: ${e.reason}`);
      days.add(e.time.slice(0, 10));
      lines[i] = line;
      // The same values, in the same order and encoding, as EventIngest COPYs (raw = the record as received).
      rows[i] = [
        COPY_TENANT,
        newId(),
        "OCSF",
        e.source_event_id,
        e.time,
        e.class_uid,
        e.activity_id,
        e.severity_id,
        e.status,
        e.message,
        e.actor_user,
        e.src_ip,
        e.src_port,
        e.dst_ip,
        e.dst_port,
        e.device,
        e.resource_id,
        e.operation,
        e.src_country,
        JSON.stringify(e.attributes ?? {}),
        line,
      ]
        .map(copyText)
        .join("\t");
    }
    chunks.push({
      events: n,
      ndjson: Buffer.from(lines.join("\n") + "\n"),
      copy: Buffer.from(rows.join("\n") + "\n"),
    });
    done += n;
  }
  return {
    chunks,
    traffic,
    indicators,
    planted,
    days: [...days].sort(),
    seconds: (performance.now() - t0) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Measured phases

interface Phase {
  seconds: number;
  cpu: ReturnType<typeof cpuDelta>;
}

/** Runs `work(i)` for every chunk index with `CONCURRENCY` in flight; stops at the first failure. */
async function forEachChunk(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
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
async function copyClients(db: BenchDatabase): Promise<Client[]> {
  const clients = await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
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

/** The raw COPY baseline: each chunk one COPY (its own transaction) into bench_raw.events, one chunk per connection at a time. */
async function rawCopy(clients: Client[], chunks: Chunk[]): Promise<void> {
  const free = [...clients];
  await forEachChunk(chunks.length, async (i) => {
    const client = free.pop()!;
    try {
      const stream = client.query(copyFrom(`COPY bench_raw.events (${COLUMNS.join(", ")}) FROM STDIN`));
      await pipeline(Readable.from([chunks[i].copy]), stream);
    } finally {
      free.push(client);
    }
  });
}

interface IngestOutcome {
  accepted: number;
  duplicates: number;
  rejected: number;
  firstRejections: string[];
  latenciesMs: number[];
  /** Requests that failed with a 5xx and were sent again (a shipper retries a failed batch). */
  failures: Array<{ chunk: number; attempt: number; status: number; body: string }>;
}

/** Attempts per chunk: a 5xx (e.g. the batch's transaction aborted) is retried, and reported. */
const MAX_ATTEMPTS = 3;

/** POSTs every chunk to the gateway's /ingest/events?connector=OCSF, CONCURRENCY requests in flight. */
async function ingestThroughGateway(
  gatewayOrigin: string,
  token: string,
  chunks: Chunk[],
): Promise<IngestOutcome> {
  const agent = new Agent({
    connections: CONCURRENCY,
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
  };
  try {
    await forEachChunk(chunks.length, async (i) => {
      for (let attempt = 1; ; attempt++) {
        const t = performance.now();
        const res = await request(`${gatewayOrigin}/ingest/events?connector=OCSF`, {
          method: "POST",
          dispatcher: agent,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
          body: chunks[i].ndjson,
        });
        const text = await res.body.text();
        const ms = performance.now() - t;
        if (res.statusCode >= 500 && attempt < MAX_ATTEMPTS) {
          out.failures.push({ chunk: i, attempt, status: res.statusCode, body: text.slice(0, 300) });
          say(`chunk ${i}: HTTP ${res.statusCode} on attempt ${attempt}, sending it again`);
          continue;
        }
        out.latenciesMs.push(ms);
        if (res.statusCode !== 200)
          throw new Error(`chunk ${i}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`);
        const body = JSON.parse(text) as {
          accepted: number;
          duplicates: number;
          rejected: Array<{ line: number; reason: string }>;
        };
        out.accepted += body.accepted;
        out.duplicates += body.duplicates;
        out.rejected += body.rejected.length;
        for (const r of body.rejected.slice(0, 3))
          if (out.firstRejections.length < 5)
            out.firstRejections.push(`chunk ${i} line ${r.line}: ${r.reason}`);
        // A retry may find its events stored already (if the failure came after the commit).
        const kept = attempt === 1 ? body.accepted : body.accepted + body.duplicates;
        if (kept !== chunks[i].events)
          throw new Error(
            `chunk ${i}: accepted ${body.accepted} of ${chunks[i].events}: ${text.slice(0, 500)}`,
          );
        return;
      }
    });
  } finally {
    await agent.close();
  }
  return out;
}

/** An EntityManager that records every statement (and its time) it is given. */
function recording(
  m: EntityManager,
  seen: Array<{ sql: string; params: unknown[]; ms: number }>,
): EntityManager {
  return new Proxy(m, {
    get(target, prop, receiver) {
      if (prop !== "query") return Reflect.get(target, prop, receiver) as unknown;
      return async (sql: string, params?: unknown[]) => {
        const t = performance.now();
        try {
          return (await target.query(sql, params)) as unknown;
        } finally {
          seen.push({ sql, params: params ?? [], ms: performance.now() - t });
        }
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Machine

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

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = os.loadavg();
  if (loadBefore[0] > 1)
    say(`warning: load average is ${loadBefore[0].toFixed(2)} before the run: other work will add noise`);

  // 1. Traffic, generated before anything runs (generation is not the system's cost).
  const now = Date.now();
  say(`generating ${fmt(EVENTS)} OCSF events in chunks of ${fmt(CHUNK)}`);
  const gen = generate(now);
  const ndjsonBytes = gen.chunks.reduce((s, c) => s + c.ndjson.length, 0);
  const copyBytes = gen.chunks.reduce((s, c) => s + c.copy.length, 0);
  const largest = Math.max(...gen.chunks.map((c) => c.ndjson.length));
  say(
    `generated in ${gen.seconds.toFixed(1)} s: ${gen.chunks.length} chunks, ${(ndjsonBytes / 2 ** 20).toFixed(0)} MiB NDJSON ` +
      `(${Math.round(ndjsonBytes / EVENTS)} B/event), ${(copyBytes / 2 ** 20).toFixed(0)} MiB COPY text; days ${gen.days.join(", ")}`,
  );

  // 2. Database, services.
  const db = await createDatabase();
  say(`database ready (${db.where}, Postgres ${db.serverVersion}); role prefix ${db.rolePrefix}`);
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
    DATABASE_URL: db.url,
    DB_ROLE_PREFIX: db.rolePrefix,
    DB_ROLE_PASSWORD: ROLE_PASSWORD,
    POSTURE_PORT: String(posturePort),
    PROTECTION_PORT: String(protectionPort),
    SIEM_PORT: String(siemPort),
    GATEWAY_PORT: String(gatewayPort),
    POSTURE_URL: subgraphUrls.posture,
    PROTECTION_URL: subgraphUrls.protection,
    SIEM_URL: subgraphUrls.siem,
    SUPERGRAPH_PATH: path.join(ROOT, "gateway", "supergraph.graphql"),
    JWT_SECRET,
    INTERNAL_TOKEN_SECRET: INTERNAL_SECRET,
    JOBS_ENABLED: "false",
    SEED_DEMO: "false",
    INTROSPECTION: "false",
    // Room for the largest chunk (the SIEM buffers one request body; the gateway streams it).
    MAX_BODY_BYTES: String(Math.max(16 * 2 ** 20, Math.ceil(largest * 1.25))),
  };
  for (const key of [
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "PORT",
    "FORK",
    "CONFIG_PATH",
    "NODE_OPTIONS",
    "DB_POOL_SIZE",
    "EVENT_RETENTION_DAYS",
  ])
    delete env[key];
  const config = loadConfig(env);
  say("migrating");
  await withTimeout("migrations", 120_000, migrateAll(config, log));
  if (CPU_PROF_DIR) mkdirSync(CPU_PROF_DIR, { recursive: true });
  cleanups.push({ what: "stop services", run: () => stopAll(10_000) });

  const services: Record<string, Service> = {};
  for (const name of ["posture", "protection", "siem"] as const) {
    services[name] = startService(
      name,
      process.execPath,
      [...(name === "siem" ? profile("siem") : []), path.join(DIST, "subgraphs", name, "src", "main.js")],
      env,
    );
  }
  launched.push(services.posture, services.protection, services.siem);
  for (const name of ["posture", "protection", "siem"]) {
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
    [...profile("gateway"), path.join(DIST, "gateway", "src", "main.js")],
    env,
  );
  launched.push(services.gateway);
  const origin = `http://127.0.0.1:${gatewayPort}`;
  const graphqlUrl = `${origin}/graphql`;
  await waitUntil(
    "gateway",
    60_000,
    async () => (await fetch(`${origin}/ready`, { signal: AbortSignal.timeout(2000) })).ok,
    services.gateway,
  );
  say(`services up: gateway ${gatewayPort}, siem ${siemPort}`);

  const admin = await adminClient(db);
  const postmaster = await (async () => {
    const { rows } = await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    try {
      const stat = readFileSync(`/proc/${rows[0].pid}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return undefined; // Postgres on another host or namespace: its CPU is not reported
    }
  })();
  const pgCpu = new PostgresCpu(postmaster, new URL(db.url).pathname.slice(1));

  // 3. Detections through the gateway: every NRT template, the scheduled rule, the STIX bundle.
  const adminToken = await signDevToken(JWT_SECRET, {
    subject: "bench-admin@rampart.local",
    tenantId: TENANT,
    roles: [Role.ADMIN],
    ttlSeconds: 4 * 3600,
  });
  const ingestToken = await signDevToken(JWT_SECRET, {
    subject: "bench-ingestor@rampart.local",
    tenantId: TENANT,
    roles: [Role.INGESTOR],
    ttlSeconds: 4 * 3600,
  });
  const CREATE_RULE =
    "mutation($templateId: String, $spec: JSON) { createAnalyticsRule(templateId: $templateId, spec: $spec) { id kind enabled } }";
  const nrtTemplates = loadRuleTemplates().filter((t) => t.kind === "NRT");
  for (const t of nrtTemplates) {
    const { createAnalyticsRule: rule } = await gql<{
      createAnalyticsRule: { id: string; kind: string; enabled: boolean };
    }>(graphqlUrl, adminToken, CREATE_RULE, { templateId: t.id });
    if (rule.kind !== "NRT" || !rule.enabled) throw new Error(`${t.id}: created ${JSON.stringify(rule)}`);
  }
  // The scheduled rule: the brute-force template over the last hour (jobs are off: only the bench runs it).
  const { createAnalyticsRule: scheduled } = await gql<{ createAnalyticsRule: { id: string; kind: string } }>(
    graphqlUrl,
    adminToken,
    CREATE_RULE,
    { templateId: RULE_TEMPLATE, spec: { queryPeriod: "PT1H", queryFrequency: "PT1H" } },
  );
  const bundle = stixBundle(gen.indicators, now);
  const { importStixBundle: imported } = await gql<{
    importStixBundle: { createdCount: number; problems: unknown[] };
  }>(
    graphqlUrl,
    adminToken,
    "mutation($bundle: JSON!) { importStixBundle(bundle: $bundle) { createdCount problems { path message } } }",
    { bundle },
  );
  const indicatorCount = gen.indicators.ips.length + gen.indicators.domains.length;
  if (imported.createdCount !== indicatorCount || imported.problems.length)
    throw new Error(`STIX import: ${JSON.stringify(imported).slice(0, 800)}`);
  say(
    `${nrtTemplates.length} NRT rules (${nrtTemplates.map((t) => t.id).join(", ")}), the scheduled ${RULE_TEMPLATE} rule, ${imported.createdCount} indicators`,
  );

  // 4. Baseline: raw COPY of the same rows into a fresh table shaped like siem.events (same columns,
  //    defaults, constraints, indexes and daily partitions), then dropped before the ingest.
  await admin.query("CREATE SCHEMA bench_raw");
  await admin.query(
    "CREATE TABLE bench_raw.events (LIKE siem.events INCLUDING ALL) PARTITION BY RANGE (time)",
  );
  for (const day of gen.days) {
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await admin.query(
      `CREATE TABLE bench_raw.events_p${day.replace(/-/g, "")} PARTITION OF bench_raw.events FOR VALUES FROM ('${day}') TO ('${next}')`,
    );
  }
  await admin.query("CHECKPOINT");
  say(`raw COPY of ${fmt(EVENTS)} rows (${CONCURRENCY} connections)`);
  const clients = await copyClients(db);
  const copyPhase = await measured(services, pgCpu, () => rawCopy(clients, gen.chunks));
  await Promise.all(clients.map((c) => c.end()));
  const copied = Number(
    (await admin.query<{ n: string }>("SELECT count(*) AS n FROM bench_raw.events")).rows[0].n,
  );
  if (copied !== EVENTS) throw new Error(`raw COPY stored ${copied} rows, expected ${EVENTS}`);
  await admin.query("DROP SCHEMA bench_raw CASCADE"); // no autovacuum of it during the ingest
  await admin.query("CHECKPOINT");
  say(`raw COPY: ${copyPhase.seconds.toFixed(1)} s, ${fmt(EVENTS / copyPhase.seconds)} rows/s`);

  // 5. The ingest, through the gateway.
  say(`ingest of ${fmt(EVENTS)} events through the gateway (${CONCURRENCY} requests in flight)`);
  let outcome: IngestOutcome | undefined;
  const stopSampling = sampleActivity(admin);
  const ingestPhase = await measured(services, pgCpu, async () => {
    outcome = await ingestThroughGateway(origin, ingestToken, gen.chunks);
  });
  const activity = await stopSampling();
  if (!outcome) throw new Error("no ingest outcome");
  say(`ingest: ${ingestPhase.seconds.toFixed(1)} s, ${fmt(EVENTS / ingestPhase.seconds)} events/s`);
  // What the SIEM logged for failed requests (the gateway answers a masked "Internal server error").
  const siemErrors = [
    ...new Set(
      services.siem
        .tail()
        .split("\n")
        .flatMap((line) => {
          try {
            const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
            return entry.msg === "ingest failed" && entry.err?.message ? [entry.err.message] : [];
          } catch {
            return [];
          }
        }),
    ),
  ];
  if (outcome.failures.length)
    say(
      `${outcome.failures.length} request(s) failed and were sent again; the SIEM logged: ${siemErrors.join("; ") || "nothing"}`,
    );
  if (
    outcome.rejected > 0 ||
    outcome.accepted + outcome.duplicates !== EVENTS ||
    (outcome.duplicates > 0 && outcome.failures.length === 0)
  )
    throw new Error(
      `ingest accepted ${outcome.accepted} of ${EVENTS}, rejected ${outcome.rejected}: ${outcome.firstRejections.join("; ")}`,
    );

  // Alerts raised on the way in, by provider, against what was planted.
  const { alerts } = await gql<{ alerts: { totalCount: number } }>(
    graphqlUrl,
    adminToken,
    "{ alerts(first: 1) { totalCount } }",
  );
  const ds: DataSource = createDataSource({
    subgraph: "siem-bench",
    url: subgraphDatabaseUrl(config, "siem"),
    schema: "siem",
    entities: [],
    poolSize: 2,
    logger: createLogger("bench", "error"), // the rule's query is meant to be long: no "slow sql" warnings
  });
  await ds.initialize();
  cleanups.push({ what: "close the siem DataSource", run: () => ds.destroy() });
  const byProvider = Object.fromEntries(
    (
      await inTenant(ds, TENANT, (m) =>
        m.query(
          `SELECT coalesce(r.template_id, a.provider) AS source, count(*)::int AS n FROM alerts a
           LEFT JOIN analytics_rules r ON r.tenant_id = a.tenant_id AND r.id = a.rule_id
           WHERE a.tenant_id = $1 GROUP BY 1 ORDER BY 1`,
          [TENANT],
        ),
      )
    ).map((r: { source: string; n: number }) => [r.source, r.n]),
  ) as Record<string, number>;
  const stored = Number(
    (
      await inTenant(ds, TENANT, (m) =>
        m.query(`SELECT count(*) AS n FROM events WHERE tenant_id = $1`, [TENANT]),
      )
    )[0].n,
  );
  if (stored !== EVENTS)
    throw new Error(`siem.events holds ${stored} events of the tenant, expected ${EVENTS}`);
  const planted = gen.traffic.planted;
  const alertChecks = [
    { what: "TI_MATCH", expected: planted.ti, got: byProvider.TI_MATCH ?? 0 },
    {
      what: "encoded-powershell-command",
      expected: planted.encodedPowerShell,
      got: byProvider["encoded-powershell-command"] ?? 0,
    },
    {
      what: "internet-rdp-ssh-allowed",
      expected: planted.internetRdpSsh,
      got: byProvider["internet-rdp-ssh-allowed"] ?? 0,
    },
  ];
  say(
    `alerts after ingest: ${alerts.totalCount} (${Object.entries(byProvider)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")})`,
  );

  // 6. The scheduled rule over the whole period (all events), after ANALYZE, best of RULE_RUNS.
  await admin.query("ANALYZE siem.events");
  const [ruleRow] = await inTenant(ds, TENANT, (m) =>
    m.query(`SELECT * FROM analytics_rules WHERE tenant_id = $1 AND id = $2`, [TENANT, scheduled.id]),
  );
  const rule = storedRuleFromRow(ruleRow as Record<string, unknown>);
  const ruleNow = new Date(now + 60_000); // period [now - 59 min, now + 1 min): every event
  const runs: Array<{ ms: number; queryMs: number; results: number; alerts: number }> = [];
  let mainQuery: { sql: string; params: unknown[] } | undefined;
  for (let i = 0; i < RULE_RUNS; i++) {
    const seen: Array<{ sql: string; params: unknown[]; ms: number }> = [];
    const t1 = performance.now();
    const result = await inTenant(ds, TENANT, (m) =>
      runScheduledRule(recording(m, seen), TENANT, rule, ruleNow),
    );
    const ms = performance.now() - t1;
    const main = seen.find((s) => /\bFROM events e\b/.test(s.sql));
    if (!main) throw new Error("runScheduledRule sent no query over events");
    mainQuery = main;
    runs.push({ ms, queryMs: main.ms, ...result });
    say(
      `scheduled rule run ${i + 1}: ${(ms / 1000).toFixed(2)} s (query ${(main.ms / 1000).toFixed(2)} s), ${result.results} results, ${result.alerts} new alerts`,
    );
  }
  const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const inPeriod = Number(
    (
      await inTenant(ds, TENANT, (m) =>
        m.query(`SELECT count(*) AS n FROM events WHERE tenant_id = $1 AND time >= $2 AND time < $3`, [
          TENANT,
          new Date(ruleNow.getTime() - 3600_000),
          ruleNow,
        ]),
      )
    )[0].n,
  );
  const plan = (
    await inTenant(ds, TENANT, (m) =>
      m.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) ${mainQuery!.sql}`, mainQuery!.params),
    )
  )
    .map((r: Record<string, string>) => r["QUERY PLAN"])
    .join("\n");
  const scans = [
    ...plan.matchAll(
      /(Parallel )?(Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan)(?: using (\S+))? on (\S+)/g,
    ),
  ].map((m) => `${m[1] ?? ""}${m[2]}${m[3] ? ` using ${m[3]}` : ""} on ${m[4]}`);
  const seqOnEvents = scans.filter((s) => /Seq Scan on events_p/.test(s));
  const indexOnEvents = scans.filter((s) => /(Index|Bitmap Index) Scan using \S+ on events_p/.test(s));
  const usesIndexes = indexOnEvents.length > 0 && seqOnEvents.length === 0;

  // 7. Report.
  const m = machine();
  const eps = EVENTS / ingestPhase.seconds;
  const rawRps = EVENTS / copyPhase.seconds;
  const ratio = eps / rawRps;
  const lat = [...outcome.latenciesMs].sort((a, b) => a - b);
  const alertsOk = alertChecks.every((c) => c.expected === c.got);
  // CPU cost per event, which foreign load on the machine hardly moves (unlike wall time).
  const nproc = os.availableParallelism();
  const ingestUs =
    ((ingestPhase.cpu.gateway + ingestPhase.cpu.siem + ingestPhase.cpu.postgres) / EVENTS) * 1e6;
  const copyUs = (copyPhase.cpu.postgres / EVENTS) * 1e6;
  const foreign = Math.max(
    copyPhase.cpu.other / copyPhase.seconds,
    ingestPhase.cpu.other / ingestPhase.seconds,
  );
  const cpuRow = (label: string, get: (c: Phase["cpu"]) => number) =>
    `| ${label} | ${get(copyPhase.cpu).toFixed(1)} | ${get(ingestPhase.cpu).toFixed(1)} | ${((get(ingestPhase.cpu) / EVENTS) * 1e6).toFixed(1)} | ${((100 * get(ingestPhase.cpu)) / ingestPhase.seconds).toFixed(0)} % |`;
  const budget = [
    {
      criterion: `ingest ≥ ${fmt(BUDGET.eventsPerSecond)} events/s (NRT rules and TI matching on)`,
      detail: `${fmt(eps)} events/s`,
      pass: eps >= BUDGET.eventsPerSecond,
    },
    {
      criterion: `ingest ≥ ${BUDGET.ofRawCopy * 100} % of a raw COPY of the same rows`,
      detail: `${fmt(eps)} ÷ ${fmt(rawRps)} = ${(ratio * 100).toFixed(1)} %`,
      pass: ratio >= BUDGET.ofRawCopy,
    },
    {
      criterion: `scheduled rule over ${fmt(BUDGET.ruleEvents)} events in its period ≤ ${BUDGET.ruleSeconds} s`,
      detail:
        `${(best.ms / 1000).toFixed(2)} s over ${fmt(inPeriod)} events (best of ${RULE_RUNS})` +
        (inPeriod < BUDGET.ruleEvents ? "; not measured at 1,000,000" : ""),
      pass: inPeriod >= BUDGET.ruleEvents && best.ms <= BUDGET.ruleSeconds * 1000,
    },
    {
      criterion: "the scheduled rule's plan uses indexes on the partitions",
      detail: usesIndexes
        ? `${[...new Set(indexOnEvents)].join("; ")}`
        : `sequential scans: ${[...new Set(seqOnEvents)].join("; ") || "none"}; index scans: ${indexOnEvents.length}`,
      pass: usesIndexes,
    },
  ];
  const p4 = budget.every((c) => c.pass);
  const mix = Object.entries(gen.traffic.byClass)
    .map(([k, v]) => `${k} ${((100 * v) / EVENTS).toFixed(1)} %`)
    .join(", ");
  const markdown = [
    "## Event ingest (P4)",
    "",
    `Written by \`npm run bench:ingest\` (bench/ingest.bench.ts) on ${new Date().toISOString()}; the run took ${Math.round((Date.now() - started) / 1000)} s. Replaced by every run.`,
    "",
    "### Machine",
    "",
    `- CPUs (nproc): ${m.nproc}; model: ${m.cpu}; memory: ${m.memory}; kernel: ${m.kernel}`,
    `- load average (1/5/15 min) before the run: ${loadBefore.map((l) => l.toFixed(2)).join(" / ")}; after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}`,
    `- Node.js ${m.node}; PostgreSQL ${db.serverVersion} (${db.where}; ${db.settings})`,
    "- Postgres, the four services and the load generator share these cores.",
    "",
    "### Method",
    "",
    `- **Events**: ${fmt(EVENTS)} synthetic OCSF events (seed ${SEED}), generated before anything is timed: ${mix} (Network Activity with private sources and public destinations, Authentication with failures, Process Activity, DNS Activity); unique \`metadata.uid\`; \`time\` spread over the 50 minutes before the run; ${Math.round(ndjsonBytes / EVENTS)} B of JSON per event on average. Planted: ${planted.ti} events with an indicator value (${(TI_RATE * 100).toFixed(2)} %: a destination IP or queried domain of ${gen.planted.ips.length + gen.planted.domains.length} of the indicators), ${planted.encodedPowerShell} encoded PowerShell command lines, ${planted.internetRdpSsh} RDP/SSH connections allowed from the internet, ${planted.bruteForce} failed sign-ins from ${gen.traffic.attackers.length} guessing addresses.`,
    `- **Platform**: a fresh database; posture, protection, siem and the gateway from dist/, one process each (RAMPART_ENV=production, JOBS_ENABLED=false, LOG_LEVEL=warn, MAX_BODY_BYTES=${env.MAX_BODY_BYTES}). Through the gateway with an ADMIN token: one rule per NRT template (${nrtTemplates.length}: ${nrtTemplates.map((t) => t.id).join(", ")}), the scheduled \`${RULE_TEMPLATE}\` template with queryPeriod PT1H, and a STIX 2.1 bundle of ${indicatorCount} indicators (${gen.indicators.ips.length} IPv4 addresses in 198.51.100.0/24 and 203.0.113.0/24, which normal traffic never uses, and ${gen.indicators.domains.length} \`*.bad.example\` domains).`,
    `- **Ingest**: the events as ${gen.chunks.length} NDJSON chunks of up to ${fmt(CHUNK)} lines (largest ${(largest / 2 ** 20).toFixed(1)} MiB), POSTed to the gateway's \`/ingest/events?connector=OCSF\` with an INGESTOR token, ${CONCURRENCY} requests in flight (undici, keep-alive). Every response must have \`rejected = []\` and \`accepted\` = its lines. events/s = events ÷ wall time from the first request to the last response. The path per request: gateway (JWT, stream to the SIEM) → SIEM (parse NDJSON, OCSF normaliser, time window, COPY into a TEMP staging table, INSERT … ON CONFLICT DO NOTHING into the day-partitioned \`siem.events\`, then NRT rules and TI matching on the new events and their alerts, connector counters, audit) in one transaction.`,
    `- **Raw COPY baseline** (run first; its table is dropped before the ingest, with a CHECKPOINT before each): the same events normalised by the same OCSF normaliser before timing, encoded as the SIEM encodes them (\`copyText\`, same columns), COPYed with pg-copy-streams into \`bench_raw.events\` = \`(LIKE siem.events INCLUDING ALL) PARTITION BY RANGE (time)\` with the same daily partitions (same columns, defaults, unique constraint and indexes; no row-level security, superuser connection): one COPY per chunk, each its own transaction, ${CONCURRENCY} connections in parallel. rows/s = rows ÷ wall time.`,
    `- **Scheduled rule**: after \`ANALYZE siem.events\`, \`runScheduledRule\` (rule-runner.ts) on the stored \`${RULE_TEMPLATE}\` rule as the siem role in \`inTenant\`, with \`now\` one minute after generation, so its PT1H period holds every event; ${RULE_RUNS} runs, best reported (the total includes storing its alerts; the first run creates them, later runs find them present). The plan below is \`EXPLAIN (ANALYZE, BUFFERS)\` of the exact statement the runner sent (recorded from its EntityManager), with its parameters.`,
    `- **CPU**: utime+stime from /proc of each process over each phase; Postgres = the server processes of the bench database (backends, autovacuum workers; sampled every second) plus the checkpointer, background writer and WAL writer; "other" = busy CPU of the whole machine (/proc/stat) minus all of these (e.g. another database's backends on the same server).`,
    "",
    "### Figures",
    "",
    "| measure | figure |",
    "| --- | ---: |",
    `| events | ${fmt(EVENTS)} |`,
    `| chunks × lines, requests in flight | ${gen.chunks.length} × ≤ ${fmt(CHUNK)}, ${CONCURRENCY} |`,
    `| **ingest** wall time | ${ingestPhase.seconds.toFixed(1)} s |`,
    `| **ingest events/s** | **${fmt(eps)}** |`,
    `| ingest request latency p50 / p95 / max (one chunk) | ${(percentile(lat, 50) / 1000).toFixed(2)} / ${(percentile(lat, 95) / 1000).toFixed(2)} / ${(lat[lat.length - 1] / 1000).toFixed(2)} s |`,
    `| accepted / duplicates / rejected | ${fmt(outcome.accepted)} / ${fmt(outcome.duplicates)} / ${fmt(outcome.rejected)} |`,
    `| ingest requests failed with HTTP 5xx and sent again | ${outcome.failures.length}${outcome.failures.length ? ` (${outcome.failures.map((f) => `chunk ${f.chunk}: HTTP ${f.status}`).join(", ")}; SIEM log: ${siemErrors.map((e) => `\`${e}\``).join(", ") || "n/a"})` : ""} |`,
    `| statements of the bench database running / waiting for a lock (mean over ${activity.samples} samples during the ingest) | ${(activity.active / Math.max(1, activity.samples)).toFixed(2)} / ${(activity.waitingOnLock / Math.max(1, activity.samples)).toFixed(2)} |`,
    `| raw COPY wall time | ${copyPhase.seconds.toFixed(1)} s |`,
    `| **raw COPY rows/s** | **${fmt(rawRps)}** |`,
    `| **ingest ÷ raw COPY** | **${(ratio * 100).toFixed(1)} %** |`,
    `| CPU per event: ingest (gateway + siem + postgres) / raw COPY (postgres) | ${ingestUs.toFixed(0)} / ${copyUs.toFixed(0)} µs |`,
    `| ingest ÷ raw COPY by CPU cost (raw COPY µs ÷ ingest µs) | ${((100 * copyUs) / ingestUs).toFixed(1)} % |`,
    `| events/s these CPU costs allow on ${nproc} CPUs: ingest / raw COPY | ${fmt((nproc * 1e6) / ingestUs)} / ${fmt((nproc * 1e6) / copyUs)} |`,
    `| alerts raised by the ingest (\`alerts { totalCount }\`) | ${fmt(alerts.totalCount)} |`,
    ...alertChecks.map(
      (c) =>
        `| … ${c.what}: got / planted | ${c.got} / ${c.expected}${c.got === c.expected ? "" : " **(mismatch)**"} |`,
    ),
    `| scheduled rule: events in its period | ${fmt(inPeriod)} |`,
    `| **scheduled rule** total, best of ${RULE_RUNS} (its query) | **${(best.ms / 1000).toFixed(2)} s** (${(best.queryMs / 1000).toFixed(2)} s) |`,
    `| scheduled rule runs | ${runs.map((r) => `${(r.ms / 1000).toFixed(2)} s`).join(", ")}; ${best.results} results, ${runs[0].alerts} alerts on the first run |`,
    "",
    "CPU seconds by process (2 CPUs = 200 %):",
    "",
    "| process | raw COPY | ingest | ingest µs/event | ingest CPU share of wall time |",
    "| --- | ---: | ---: | ---: | ---: |",
    cpuRow("gateway", (c) => c.gateway),
    cpuRow("siem", (c) => c.siem),
    cpuRow("postgres", (c) => c.postgres),
    cpuRow("benchmark (client)", (c) => c.bench),
    cpuRow("posture + protection", (c) => c.others),
    cpuRow("other (not this benchmark)", (c) => c.other),
    "",
    "### P4 checks",
    "",
    "Architecture budget — **P4: bulk event ingest with near-real-time rules and TI matching on: ≥ 50,000 events/s; ≥ 50 % of a raw COPY of the same rows. A scheduled rule over 1,000,000 events in its period completes in ≤ 5 s (the plan uses indexes).**",
    "",
    "| criterion | figures | result |",
    "| --- | --- | --- |",
    ...budget.map((c) => `| ${c.criterion} | ${c.detail} | ${verdict(c.pass)} |`),
    "",
    `Result: **${verdict(p4)}** (${budget.filter((c) => c.pass).length} of ${budget.length} checks pass).` +
      (alertsOk
        ? " Every planted detection raised its alert."
        : " **Alert counts differ from the plants (see above).**"),
    "",
    ...(outcome.failures.length
      ? [
          `**${outcome.failures.length} ingest request(s) failed** with HTTP ${[...new Set(outcome.failures.map((f) => f.status))].join("/")} and were sent again (the retries are in the wall time). The SIEM logged ${siemErrors.map((e) => `\`${e}\``).join(", ") || "no reason"}; a failed request rolls back its whole batch (up to ${fmt(CHUNK)} events), so a shipper must retry it. With concurrent ingest requests this is a defect of the product, not of the load.`,
          "",
        ]
      : []),
    foreign > 0.2
      ? `**Noisy run**: processes outside this benchmark used up to ${foreign.toFixed(2)} CPUs during a measured phase (see "other" above); on ${nproc} CPUs that moves events/s, rows/s and their ratio by tens of percent — re-run on a quiet machine before trusting them. The CPU cost per event is much less affected.`
      : "The machine was otherwise quiet during the measured phases (other load ≤ 0.2 CPUs).",
    "",
    "Plan of the scheduled rule's query (`EXPLAIN (ANALYZE, BUFFERS)`):",
    "",
    "```sql",
    mainQuery!.sql.replace(/\s+/g, " ").trim(),
    "```",
    "",
    "```text",
    plan,
    "```",
    "",
  ].join("\n");
  writeResultsSection(ROOT, "ingest", markdown);
  console.log(`\n${markdown}`);
  say("written to bench/RESULTS.md (section ingest)");
  if (!alertsOk) throw new Error(`alert counts differ from the plants: ${JSON.stringify(alertChecks)}`);
  if (!p4 && process.env.BENCH_STRICT === "1") process.exitCode = 2;
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
    for (const service of launched)
      if (service.tail().trim()) console.error(`[bench] last output of ${service.name}:\n${service.tail()}`);
    await abort("benchmark failed", 1);
  },
);

/** This benchmark's cleanup: each step bounded by 60 s. */
function cleanup(): Promise<void> {
  return runCleanup(60000);
}

/** Cleans up and exits (forced after 120 s). */
function abort(reason: string, code: number): Promise<never> {
  return abortRun(reason, code, { stepTimeoutMs: 60000, graceMs: 120000 });
}

/** The benchmark's own database. */
function createDatabase(): Promise<BenchDatabase> {
  return createBenchDatabase(ROOT, `bench-ingest-${process.pid}`, log);
}
