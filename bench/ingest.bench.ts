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
import { randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import type { DataSource, EntityManager } from "typeorm";
import {
  binaryCopyChunks,
  createDataSource,
  createLogger,
  inTenant,
  newId,
  Role,
  subgraphDatabaseUrl,
} from "../subgraphs/common/src";
import { normalizeOcsf } from "../subgraphs/siem/src/modules/connectors/normalizers/ocsf";
import { runScheduledRule } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { loadRuleTemplates } from "../subgraphs/siem/src/modules/rules/templates";
import { indicatorValues, OcsfTraffic } from "./lib/ocsf-events";
import {
  compareIngest,
  gql,
  ingestThroughGateway,
  loggedErrors,
  machineLines,
  numberEnv,
  rawCopyBaseline,
  runBenchmark,
  startIngestPlatform,
  type IngestChunk,
} from "./lib/ingest-run";
import type { Service } from "./lib/processes";
import { checksTable, count, resultLine, say } from "./lib/report";
import { writeResultsSection } from "./lib/results";
import {
  eventRow,
  STORED_EVENT_COLUMNS,
  STORED_EVENT_SCHEMA,
} from "../subgraphs/siem/src/modules/events/event-ingest";
import { cleanups, createBenchDatabase, type BenchDatabase } from "./lib/lifecycle";

const ROOT = path.resolve(__dirname, "..", "..");
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

/** The columns the SIEM's ingest COPYs, in its order. */
const COLUMNS = STORED_EVENT_COLUMNS;
const COPY_TYPES = STORED_EVENT_SCHEMA.map((c) => c.type);
/** The jsonb columns, stored as text in the storage floor's bare table. */
const JSON_COLUMNS = STORED_EVENT_SCHEMA.filter((c) => c.type === "jsonb").map((c) => c.name);

const log = createLogger("bench", "warn");
const fmt = count;

// ---------------------------------------------------------------------------------------------
// Cleanup steps (bench/lib/lifecycle.ts) and the services started.

/** The services started, for their output when the run fails. */
const launched: Service[] = [];

// ---------------------------------------------------------------------------------------------
// Threat intelligence

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

/** `ndjson`: the body POSTed to the gateway; `copy`: the same events, normalised by the OCSF normaliser, as COPY text rows. */
type Chunk = IngestChunk;

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
    const rows: unknown[][] = new Array<unknown[]>(n);
    for (let i = 0; i < n; i++) {
      const record = traffic.next();
      const line = JSON.stringify(record);
      const e = normalizeOcsf(record);
      if ("reason" in e)
        throw new Error(`the generator made an event the OCSF normaliser rejects: ${e.reason}`);
      days.add(e.time.slice(0, 10));
      lines[i] = line;
      // The same values, in the same order and encoding, as EventIngest COPYs (raw = the record as received).
      rows[i] = eventRow(COPY_TENANT, { ...e, id: newId(), connector: "OCSF", rawText: line });
    }
    chunks.push({
      records: n,
      ndjson: Buffer.from(lines.join("\n") + "\n"),
      // Binary COPY, as EventIngest stages its rows (one COPY per chunk: header, rows, trailer).
      copy: Buffer.concat([...binaryCopyChunks(COPY_TYPES, rows)]),
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
  say("migrating and starting the services");
  const platform = await startIngestPlatform({
    root: ROOT,
    db,
    log,
    launched,
    largest,
    // BENCH_CPU_PROF=<dir>: the gateway and the SIEM write V8 CPU profiles there when they stop.
    profiled: ["siem", "gateway"],
  });
  const { services, config, origin, graphqlUrl, admin, pgCpu } = platform;
  say(`services up: gateway ${origin}`);

  // 3. Detections through the gateway: every NRT template, the scheduled rule, the STIX bundle.
  const adminToken = await platform.token(TENANT, [Role.ADMIN]);
  const ingestToken = await platform.token(TENANT, [Role.INGESTOR]);
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
  // The same rows, encoded as the SIEM COPYs them, into a fresh table per phase.
  const copyRows = (bare?: { asText: readonly string[] }) =>
    rawCopyBaseline({
      admin,
      db,
      services,
      target: "siem",
      pg: pgCpu,
      table: "siem.events",
      columns: COLUMNS,
      chunks: gen.chunks,
      format: "binary",
      days: gen.days,
      concurrency: CONCURRENCY,
      rows: EVENTS,
      bare,
    });
  say(`raw COPY of ${fmt(EVENTS)} rows (${CONCURRENCY} connections)`);
  const copyPhase = await copyRows();
  say(`raw COPY: ${copyPhase.seconds.toFixed(1)} s, ${fmt(EVENTS / copyPhase.seconds)} rows/s`);
  // 4b. The storage floor: the same rows into a bare table (no index, constraint, generated column, jsonb).
  say(`storage floor: raw COPY of the same rows into a bare table`);
  const floorPhase = await copyRows({ asText: JSON_COLUMNS });
  say(`storage floor: ${floorPhase.seconds.toFixed(1)} s, ${fmt(EVENTS / floorPhase.seconds)} rows/s`);

  // 5. The ingest, through the gateway.
  say(`ingest of ${fmt(EVENTS)} events through the gateway (${CONCURRENCY} requests in flight)`);
  const run = await ingestThroughGateway({
    admin,
    services,
    target: "siem",
    pg: pgCpu,
    url: `${origin}/ingest/events?connector=OCSF`,
    token: ingestToken,
    chunks: gen.chunks,
    concurrency: CONCURRENCY,
    records: EVENTS,
    say,
  });
  const { outcome } = run;
  say(`ingest: ${run.phase.seconds.toFixed(1)} s, ${fmt(EVENTS / run.phase.seconds)} events/s`);
  // What the SIEM logged for failed requests (the gateway answers a masked "Internal server error").
  const siemErrors = loggedErrors(services.siem, "ingest failed");
  if (outcome.failures.length)
    say(
      `${outcome.failures.length} request(s) failed and were sent again; the SIEM logged: ${siemErrors.join("; ") || "nothing"}`,
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
  // TI_MATCH alerts carry the threat-intelligence rule that raised them (its template's id): counted as TI_MATCH.
  const byProvider = Object.fromEntries(
    (
      await inTenant(ds, TENANT, (m) =>
        m.query(
          `SELECT CASE WHEN a.provider = 'TI_MATCH' THEN a.provider ELSE coalesce(r.template_id, a.provider) END AS source,
                  count(*)::int AS n FROM alerts a
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
    { what: "TI_MATCH", expected: planted.tiFindings, got: byProvider.TI_MATCH ?? 0 },
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
  const figures = compareIngest({
    copy: copyPhase,
    run,
    count: EVENTS,
    unit: "event",
    target: "siem",
    others: "posture + protection",
    chunks: gen.chunks.length,
    chunkLines: CHUNK,
    concurrency: CONCURRENCY,
    targetErrors: siemErrors,
  });
  const { rate: eps, rawRate: rawRps, ratio } = figures;
  const alertsOk = alertChecks.every((c) => c.expected === c.got);
  // What Postgres spends per row on the bare table, the ingest's own table, and the ingest.
  const pgUs = (p: { cpu: { postgres: number } }) => (p.cpu.postgres / EVENTS) * 1e6;
  const floorUs = pgUs(floorPhase);
  const nproc = os.availableParallelism();
  const floorRows = [
    `| storage floor (bare table: no index, constraint or generated column; ${JSON_COLUMNS.join(", ")} as text) wall time | ${floorPhase.seconds.toFixed(1)} s |`,
    `| **storage floor rows/s** | **${fmt(EVENTS / floorPhase.seconds)}** |`,
    `| Postgres CPU per row: storage floor / raw COPY into \`siem.events\` / ingest | ${floorUs.toFixed(1)} / ${pgUs(copyPhase).toFixed(1)} / ${pgUs(run.phase).toFixed(1)} µs |`,
    `| rows/s the storage floor's Postgres CPU alone allows on ${nproc} CPUs (parsing, rules, gateway free) | ${fmt((nproc * 1e6) / floorUs)} |`,
  ];
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
    ...machineLines(loadBefore, db),
    "",
    "### Method",
    "",
    `- **Events**: ${fmt(EVENTS)} synthetic OCSF events (seed ${SEED}), generated before anything is timed: ${mix} (Network Activity with private sources and public destinations, Authentication with failures, Process Activity, DNS Activity); unique \`metadata.uid\`; \`time\` spread over the 50 minutes before the run; ${Math.round(ndjsonBytes / EVENTS)} B of JSON per event on average. Planted: ${planted.ti} events with an indicator value (${(TI_RATE * 100).toFixed(2)} %: a destination IP or queried domain of ${gen.planted.ips.length + gen.planted.domains.length} of the indicators; TI_MATCH alerts group them per indicator value, host and hour of event time: ${planted.tiFindings} expected), ${planted.encodedPowerShell} encoded PowerShell command lines, ${planted.internetRdpSsh} RDP/SSH connections allowed from the internet, ${planted.bruteForce} failed sign-ins from ${gen.traffic.attackers.length} guessing addresses.`,
    `- **Platform**: a fresh database; posture, protection, siem and the gateway from dist/, one process each (RAMPART_ENV=production, JOBS_ENABLED=false, LOG_LEVEL=warn, MAX_BODY_BYTES=${config.maxBodyBytes}). Through the gateway with an ADMIN token: one rule per NRT template (${nrtTemplates.length}: ${nrtTemplates.map((t) => t.id).join(", ")}), the scheduled \`${RULE_TEMPLATE}\` template with queryPeriod PT1H, and a STIX 2.1 bundle of ${indicatorCount} indicators (${gen.indicators.ips.length} IPv4 addresses in 198.51.100.0/24 and 203.0.113.0/24, which normal traffic never uses, and ${gen.indicators.domains.length} \`*.bad.example\` domains).`,
    `- **Ingest**: the events as ${gen.chunks.length} NDJSON chunks of up to ${fmt(CHUNK)} lines (largest ${(largest / 2 ** 20).toFixed(1)} MiB), POSTed to the gateway's \`/ingest/events?connector=OCSF\` with an INGESTOR token, ${CONCURRENCY} requests in flight (undici, keep-alive). Every response must have \`rejected = []\` and \`accepted\` = its lines. events/s = events ÷ wall time from the first request to the last response. The path per request: gateway (JWT, stream to the SIEM) → SIEM (parse NDJSON, OCSF normaliser, time window, binary COPY into a TEMP staging table, a plain INSERT … SELECT into the day-partitioned \`siem.events\` in a savepoint (INSERT … ON CONFLICT DO NOTHING only where that meets a duplicate), then NRT rules and TI matching on the new events and their alerts, connector counters, audit) in one transaction.`,
    `- **Raw COPY baseline** (run first; its table is dropped before the ingest, with a CHECKPOINT before each): the same events normalised by the same OCSF normaliser before timing, encoded as the SIEM encodes them (binary COPY, \`binaryCopyChunks\`, same columns and types), COPYed with pg-copy-streams into \`bench_raw.events\` = \`(LIKE siem.events INCLUDING ALL) PARTITION BY RANGE (time)\` with the same daily partitions (same columns, defaults, unique constraint and indexes; no row-level security, superuser connection): one COPY per chunk, each its own transaction, ${CONCURRENCY} connections in parallel. rows/s = rows ÷ wall time.`,
    `- **Storage floor** (run second, dropped the same way): the same encoded rows COPYed the same way into \`(LIKE siem.events INCLUDING DEFAULTS) PARTITION BY RANGE (time)\` with ${JSON_COLUMNS.join(", ")} altered to \`text\`: the same columns and daily partitions, but no unique constraint, no index, generated columns left null and no JSON parsing on the server. It is what keeping these bytes per row costs Postgres on this machine, below which no index or storage layout for the same rows can go; it is not a check.`,
    `- **Scheduled rule**: after \`ANALYZE siem.events\`, \`runScheduledRule\` (rule-runner.ts) on the stored \`${RULE_TEMPLATE}\` rule as the siem role in \`inTenant\`, with \`now\` one minute after generation, so its PT1H period holds every event; ${RULE_RUNS} runs, best reported (the total includes storing its alerts; the first run creates them, later runs find them present). The plan below is \`EXPLAIN (ANALYZE, BUFFERS)\` of the exact statement the runner sent (recorded from its EntityManager), with its parameters.`,
    `- **CPU**: utime+stime from /proc of each process over each phase; Postgres = the server processes of the bench database (backends, autovacuum workers; sampled every second) plus the checkpointer, background writer and WAL writer; "other" = busy CPU of the whole machine (/proc/stat) minus all of these (e.g. another database's backends on the same server).`,
    "",
    "### Figures",
    "",
    "| measure | figure |",
    "| --- | ---: |",
    ...figures.figureRows,
    ...floorRows,
    `| alerts raised by the ingest (\`alerts { totalCount }\`) | ${fmt(alerts.totalCount)} |`,
    ...alertChecks.map(
      (c) =>
        `| … ${c.what}: got / planted | ${c.got} / ${c.expected}${c.got === c.expected ? "" : " **(mismatch)**"} |`,
    ),
    `| scheduled rule: events in its period | ${fmt(inPeriod)} |`,
    `| **scheduled rule** total, best of ${RULE_RUNS} (its query) | **${(best.ms / 1000).toFixed(2)} s** (${(best.queryMs / 1000).toFixed(2)} s) |`,
    `| scheduled rule runs | ${runs.map((r) => `${(r.ms / 1000).toFixed(2)} s`).join(", ")}; ${best.results} results, ${runs[0].alerts} alerts on the first run |`,
    "",
    ...figures.cpuTable,
    "",
    "### P4 checks",
    "",
    "Architecture budget — **P4: bulk event ingest with near-real-time rules and TI matching on: ≥ 50,000 events/s; ≥ 50 % of a raw COPY of the same rows. A scheduled rule over 1,000,000 events in its period completes in ≤ 5 s (the plan uses indexes).**",
    "",
    checksTable(budget),
    "",
    resultLine(budget) +
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
    figures.noise,
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

runBenchmark(main, { watchdogMs: WATCHDOG_MS, launched });

/** The benchmark's own database. */
function createDatabase(): Promise<BenchDatabase> {
  return createBenchDatabase(ROOT, `bench-ingest-${process.pid}`, log);
}
