/**
 * Workload telemetry ingest (issue 5): agent records through the gateway's `POST /ingest/telemetry`, with
 * the detections on, against a raw COPY of the same rows.
 *
 * One run: synthetic telemetry generated up front (NDJSON chunks, and the same rows encoded as the ingest
 * COPYs them), a throwaway database (on DATABASE_URL, else an embedded Postgres), migrations, posture,
 * protection, siem and the gateway forked from dist/; then
 *   1. raw COPY of the rows into a fresh table shaped like protection.telemetry (baseline),
 *   2. POST /ingest/telemetry through the gateway, BENCH_CONCURRENCY requests in flight,
 *   3. the detections raised checked against the planted activity, and their delivery to the SIEM,
 * and the "telemetry" section of bench/RESULTS.md. Everything it started is stopped and the database and
 * its roles are dropped at the end, on failure and on Ctrl-C. See bench/README.md.
 *
 *   npm run bench:telemetry        (BENCH_RECORDS=1000000, BENCH_CHUNK=20000, BENCH_CONCURRENCY=2)
 */
import "reflect-metadata";
import os from "node:os";
import path from "node:path";
import type { DataSource } from "typeorm";
import {
  binaryCopyChunks,
  createDataSource,
  createLogger,
  dayOf,
  inSystemScope,
  Role,
  subgraphDatabaseUrl,
} from "../subgraphs/common/src";
import { parseTelemetryRecord } from "../subgraphs/protection/src/modules/telemetry/telemetry.model";
import {
  TELEMETRY_COLUMNS,
  TELEMETRY_SCHEMA,
  telemetryRow,
} from "../subgraphs/protection/src/modules/telemetry/telemetry.store";
import {
  compareIngest,
  gql,
  ingestThroughGateway,
  loggedErrors,
  measured,
  machineLines,
  numberEnv,
  rawCopyBaseline,
  runBenchmark,
  startIngestPlatform,
  type IngestChunk,
} from "./lib/ingest-run";
import { cleanups, createBenchDatabase, type BenchDatabase } from "./lib/lifecycle";
import type { Service } from "./lib/processes";
import { checksTable, count, resultLine, say } from "./lib/report";
import { writeResultsSection } from "./lib/results";
import { TelemetryTraffic, type PlantedDetections } from "./lib/telemetry-records";

const ROOT = path.resolve(__dirname, "..", "..");
const RECORDS = Math.floor(numberEnv("BENCH_RECORDS", 1_000_000, 100));
const CHUNK = Math.floor(numberEnv("BENCH_CHUNK", 20_000, 100));
const CONCURRENCY = Math.floor(numberEnv("BENCH_CONCURRENCY", 2, 1));
const MACHINES = Math.floor(numberEnv("BENCH_MACHINES", 300, 3));
const SEED = Math.floor(numberEnv("BENCH_SEED", 42, 0));
/** One planted record per this many, taking turns: an encoded PowerShell command, an /etc/passwd change. */
const PLANT_EVERY = Math.floor(numberEnv("BENCH_PLANT_EVERY", 10_000, 100));
/** One planted SSH brute force per this many chunks. */
const BURST_EVERY_CHUNKS = 5;
/** Whole-run watchdog: start-up and generation, plus generous time per million records. */
const WATCHDOG_MS = numberEnv("BENCH_TIMEOUT", 300 + Math.ceil((RECORDS / 1_000_000) * 1500), 30) * 1000;
/** How long the SIEM may take after the ingest to hold every relayed record (~12,000 events/s is P4's pace). */
const RELAY_TIMEOUT_MS = Math.max(120_000, Math.ceil((RECORDS / 5_000) * 1000));
/** Records are spread over the 50 minutes before generation. */
const SPREAD_MS = 50 * 60_000;

/** The budget of issue 5: telemetry ingest at 50,000 records/s. */
const BUDGET = { recordsPerSecond: 50_000 };

const TENANT = "bench-telemetry";
const COPY_TENANT = "bench-raw-copy";
const COPY_TYPES = TELEMETRY_SCHEMA.map((c) => c.type);

const log = createLogger("bench", "warn");
const fmt = count;

/** The services started, for their output when the run fails. */
const launched: Service[] = [];

// ---------------------------------------------------------------------------------------------
// Generation (before anything is timed)

interface Generated {
  chunks: IngestChunk[];
  planted: PlantedDetections;
  kinds: Record<string, number>;
  days: string[];
  seconds: number;
}

function generate(now: number): Generated {
  const t0 = performance.now();
  const traffic = new TelemetryTraffic({
    seed: SEED,
    now,
    spreadMs: SPREAD_MS,
    machines: MACHINES,
    plantEvery: PLANT_EVERY,
  });
  const chunks: IngestChunk[] = [];
  const days = new Set<string>();
  const kinds: Record<string, number> = {};
  for (let done = 0, index = 0; done < RECORDS; index++) {
    const n = Math.min(CHUNK, RECORDS - done);
    // Chunks follow the clock, as an agent fleet's batches do: each covers its slice of the spread.
    const slice = SPREAD_MS / Math.ceil(RECORDS / CHUNK);
    traffic.setSpan(now - SPREAD_MS + index * slice, slice);
    // A planted brute force starts a chunk, so that one request holds the whole burst.
    if (index % BURST_EVERY_CHUNKS === 0 && n >= 25) traffic.plantBurst();
    const lines: string[] = new Array<string>(n);
    const rows: unknown[][] = new Array<unknown[]>(n);
    for (let i = 0; i < n; i++) {
      const value = traffic.next();
      const parsed = parseTelemetryRecord(value);
      if ("reason" in parsed)
        throw new Error(`the generator made a record the ingest rejects: ${parsed.reason}`);
      const r = parsed.record;
      kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
      days.add(dayOf(r.time));
      lines[i] = JSON.stringify(value);
      // The same values, in the same order and encoding, as the ingest COPYs.
      rows[i] = telemetryRow(COPY_TENANT, r);
    }
    chunks.push({
      records: n,
      ndjson: Buffer.from(lines.join("\n") + "\n"),
      // Binary COPY, as the ingest stages its rows (one COPY per chunk: header, rows, trailer).
      copy: Buffer.concat([...binaryCopyChunks(COPY_TYPES, rows)]),
    });
    done += n;
  }
  return {
    chunks,
    planted: traffic.planted,
    kinds,
    days: [...days].sort(),
    seconds: (performance.now() - t0) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = os.loadavg();
  if (loadBefore[0] > 1)
    say(`warning: load average is ${loadBefore[0].toFixed(2)} before the run: other work will add noise`);

  // 1. Records, generated before anything runs (generation is not the system's cost).
  const now = Date.now();
  say(`generating ${fmt(RECORDS)} telemetry records in chunks of ${fmt(CHUNK)}`);
  const gen = generate(now);
  const ndjsonBytes = gen.chunks.reduce((s, c) => s + c.ndjson.length, 0);
  const largest = Math.max(...gen.chunks.map((c) => c.ndjson.length));
  const plantedTotal = Object.values(gen.planted).reduce((a, b) => a + b, 0);
  say(
    `generated in ${gen.seconds.toFixed(1)} s: ${gen.chunks.length} chunks, ${(ndjsonBytes / 2 ** 20).toFixed(0)} MiB NDJSON ` +
      `(${Math.round(ndjsonBytes / RECORDS)} B/record); planted ${plantedTotal} detections; days ${gen.days.join(", ")}`,
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
    // BENCH_CPU_PROF=<dir>: the gateway and protection write V8 CPU profiles there when they stop.
    profiled: ["protection", "gateway"],
  });
  const { services, config, origin, graphqlUrl, admin, pgCpu } = platform;
  say(`services up: gateway ${origin}`);
  const ingestToken = await platform.token(TENANT, [Role.INGESTOR]);
  const readerToken = await platform.token(TENANT, [Role.READER]);

  // 3. Baseline: raw COPY of the same rows into a fresh table shaped like protection.telemetry (same
  //    columns, defaults, constraints, indexes and daily partitions), then dropped before the ingest.
  say(`raw COPY of ${fmt(RECORDS)} rows (${CONCURRENCY} connections)`);
  const copyPhase = await rawCopyBaseline({
    admin,
    db,
    services,
    target: "protection",
    pg: pgCpu,
    table: "protection.telemetry",
    columns: TELEMETRY_COLUMNS,
    chunks: gen.chunks,
    format: "binary",
    days: gen.days,
    concurrency: CONCURRENCY,
    rows: RECORDS,
  });
  say(`raw COPY: ${copyPhase.seconds.toFixed(1)} s, ${fmt(RECORDS / copyPhase.seconds)} rows/s`);

  // 4. The ingest, through the gateway.
  say(`ingest of ${fmt(RECORDS)} records through the gateway (${CONCURRENCY} requests in flight)`);
  const run = await ingestThroughGateway({
    admin,
    services,
    target: "protection",
    pg: pgCpu,
    url: `${origin}/ingest/telemetry`,
    token: ingestToken,
    chunks: gen.chunks,
    concurrency: CONCURRENCY,
    records: RECORDS,
    say,
  });
  say(`ingest: ${run.phase.seconds.toFixed(1)} s, ${fmt(RECORDS / run.phase.seconds)} records/s`);

  // 5. After the ingest: the relays' delivery to the SIEM (detections as alerts; every activity record as an
  //    event, which the telemetry relay defers while the ingest is busy), measured as a phase of its own.
  const ds: DataSource = createDataSource({
    subgraph: "protection-bench",
    url: subgraphDatabaseUrl(config, "protection"),
    schema: "protection",
    entities: [],
    poolSize: 2,
    logger: createLogger("bench", "error"),
  });
  await ds.initialize();
  cleanups.push({ what: "close the protection DataSource", run: () => ds.destroy() });
  const activityRecords = RECORDS - (gen.kinds.packages ?? 0);
  say(`waiting for the relays: detections, and ${fmt(activityRecords)} activity records into the SIEM`);
  let queued = -1;
  let siemEvents = 0;
  let relaySeconds = NaN;
  let siemSeconds = NaN;
  const catchUp = await measured(services, "protection", pgCpu, async () => {
    const start = performance.now();
    while (performance.now() - start < RELAY_TIMEOUT_MS) {
      if (Number.isNaN(relaySeconds)) {
        queued = await inSystemScope(ds, async (m) =>
          Number(
            (
              await m.query(
                `SELECT count(*) AS n FROM detections WHERE tenant_id = $1 AND delivered_at IS NULL AND delivery_error IS NULL`,
                [TENANT],
              )
            )[0].n,
          ),
        );
        if (queued === 0) relaySeconds = (performance.now() - start) / 1000;
      }
      if (Number.isNaN(siemSeconds)) {
        siemEvents = Number(
          (
            await admin.query<{ n: string }>(
              `SELECT coalesce(sum(events_total + duplicates_total), 0) AS n FROM siem.data_connectors
               WHERE tenant_id = $1 AND kind = 'RAMPART_AGENT'`,
              [TENANT],
            )
          ).rows[0].n,
        );
        if (siemEvents >= activityRecords) siemSeconds = (performance.now() - start) / 1000;
      }
      if (!Number.isNaN(relaySeconds) && !Number.isNaN(siemSeconds)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  const siemStored = Number(
    (
      await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM siem.events WHERE tenant_id = $1 AND connector = 'RAMPART_AGENT'`,
        [TENANT],
      )
    ).rows[0].n,
  );
  say(
    `relays: detections ${queued === 0 ? `delivered ${relaySeconds.toFixed(1)} s` : `${queued} still queued`} after the ingest; ` +
      `SIEM events ${fmt(siemStored)} of ${fmt(activityRecords)}${Number.isNaN(siemSeconds) ? "" : ` within ${siemSeconds.toFixed(1)} s`}`,
  );

  // 6. What was stored and raised.
  const stored = Number(
    (
      await admin.query<{ n: string }>(
        "SELECT count(*) AS n FROM protection.telemetry WHERE tenant_id = $1",
        [TENANT],
      )
    ).rows[0].n,
  );
  if (stored !== RECORDS)
    throw new Error(`protection.telemetry holds ${stored} records, expected ${RECORDS}`);
  const byKind = Object.fromEntries(
    (
      await admin.query<{ kind: string; n: number }>(
        "SELECT kind, count(*)::int AS n FROM protection.detections WHERE tenant_id = $1 GROUP BY kind",
        [TENANT],
      )
    ).rows.map((r) => [r.kind, r.n]),
  ) as Record<string, number>;
  const detectionChecks = (Object.keys(gen.planted) as Array<keyof PlantedDetections>).map((kind) => ({
    kind,
    expected: gen.planted[kind],
    got: byKind[kind] ?? 0,
  }));
  const unexpected = Object.entries(byKind).filter(([kind]) => !(kind in gen.planted));
  const detectionsOk = detectionChecks.every((c) => c.expected === c.got) && unexpected.length === 0;
  say(`detections: ${JSON.stringify(byKind)} (planted ${JSON.stringify(gen.planted)})`);
  const { alerts } = await gql<{ alerts: { totalCount: number } }>(
    graphqlUrl,
    readerToken,
    "{ alerts(first: 1) { totalCount } }",
  );
  const totalDetections = Object.values(byKind).reduce((a, b) => a + b, 0);

  // 7. Report.
  const figures = compareIngest({
    copy: copyPhase,
    run,
    count: RECORDS,
    unit: "record",
    target: "protection",
    others: "posture + siem",
    chunks: gen.chunks.length,
    chunkLines: CHUNK,
    concurrency: CONCURRENCY,
    targetErrors: loggedErrors(services.protection, "telemetry ingest failed"),
  });
  const rps = figures.rate;
  const budget = [
    {
      criterion: `ingest ≥ ${fmt(BUDGET.recordsPerSecond)} records/s (detections on)`,
      detail: `${fmt(rps)} records/s`,
      pass: rps >= BUDGET.recordsPerSecond,
    },
    {
      criterion: "every planted detection raised once, nothing else",
      detail: detectionChecks.map((c) => `${c.kind} ${c.got}/${c.expected}`).join(", "),
      pass: detectionsOk,
    },
    {
      criterion: "every detection delivered to the SIEM",
      detail: `${totalDetections - Math.max(0, queued)} of ${totalDetections}${queued === 0 ? ` within ${relaySeconds.toFixed(1)} s after the ingest` : ""}; ${fmt(alerts.totalCount)} SIEM alerts`,
      pass: queued === 0 && alerts.totalCount === totalDetections,
    },
    {
      criterion: "every activity record stored once in the SIEM's event store",
      detail: `${fmt(siemStored)} of ${fmt(activityRecords)} RAMPART_AGENT events${Number.isNaN(siemSeconds) ? ` after ${Math.round(RELAY_TIMEOUT_MS / 1000)} s` : `, the last ${siemSeconds.toFixed(1)} s after the ingest`}`,
      pass: siemStored === activityRecords,
    },
  ];
  // The whole cost of a record, the SIEM's copy of it included: the ingest and the catch-up after it.
  const whole = {
    seconds: run.phase.seconds + catchUp.seconds,
    cpu: (["gateway", "target", "others", "postgres"] as const).reduce(
      (sum, k) => sum + run.phase.cpu[k] + catchUp.cpu[k],
      0,
    ),
  };
  const pass = budget.every((c) => c.pass);
  const kindMix = Object.entries(gen.kinds)
    .map(([k, n]) => `${k} ${((100 * n) / RECORDS).toFixed(1)} %`)
    .join(", ");
  const markdown = [
    "## Telemetry ingest benchmark (issue 5)",
    "",
    `Written by \`npm run bench:telemetry\` (bench/telemetry.bench.ts) on ${new Date().toISOString()}; the run took ${Math.round((Date.now() - started) / 1000)} s. Overwritten by every run.`,
    "",
    "### Machine",
    "",
    ...machineLines(loadBefore, db),
    "",
    "### Method",
    "",
    `- **Records**: ${fmt(RECORDS)} synthetic agent records (seed ${SEED}) from ${MACHINES} machines (a third Windows), generated before anything is timed: ${kindMix}; \`time\` spread over the 50 minutes before the run, each chunk covering its own slice of them in order (as an agent fleet's batches follow the clock); ${Math.round(ndjsonBytes / RECORDS)} B of JSON per record on average. Planted: ${gen.planted["encoded-powershell"]} encoded PowerShell commands, ${gen.planted["brute-force"]} SSH password-guessing bursts (25 failed logons from one address in four minutes, each inside one request), ${gen.planted["critical-file-change"]} \`/etc/passwd\` changes (one per machine); normal activity raises nothing.`,
    `- **Platform**: a fresh database; posture, protection, siem and the gateway from dist/, one process each (RAMPART_ENV=production, JOBS_ENABLED=false, LOG_LEVEL=warn, MAX_BODY_BYTES=${config.maxBodyBytes}); the detection and telemetry relays run in protection as in production (the telemetry relay gives way to the ingest while batches arrive, see bench/README.md).`,
    `- **Ingest**: the records as ${gen.chunks.length} NDJSON chunks of up to ${fmt(CHUNK)} lines (largest ${(largest / 2 ** 20).toFixed(1)} MiB), POSTed to the gateway's \`/ingest/telemetry\` with an INGESTOR token, ${CONCURRENCY} requests in flight (undici, keep-alive). Every response must have \`rejected = []\` and \`accepted\` = its lines. records/s = records ÷ wall time from the first request to the last response. The path per request: gateway (JWT, stream to protection) → protection (parse NDJSON, validate each record, time window, look back for the brute-force window, COPY into a TEMP staging table, a plain INSERT … SELECT into the day-partitioned \`protection.telemetry\` in a savepoint (INSERT … ON CONFLICT DO NOTHING only where that meets a duplicate), package snapshots to vulnerability assessment, detections over the new records, new detections and their outbox events, audit) in one transaction.`,
    `- **Raw COPY baseline** (run first; its table is dropped before the ingest, with a CHECKPOINT before each): the same records validated and encoded as the ingest encodes them (\`telemetryRow\`, binary COPY by \`binaryCopyChunks\`, same columns and types) before timing, COPYed with pg-copy-streams into \`bench_raw.telemetry\` = \`(LIKE protection.telemetry INCLUDING ALL) PARTITION BY RANGE (time)\` with the same daily partitions (columns, defaults, the unique key that is its one index; no row-level security, superuser connection): one COPY per chunk, each its own transaction, ${CONCURRENCY} connections in parallel. rows/s = rows ÷ wall time.`,
    `- **CPU**: utime+stime from /proc of each process over each phase; Postgres = the server processes of the bench database (backends, autovacuum workers; sampled every second) plus the checkpointer, background writer and WAL writer; "other" = busy CPU of the whole machine (/proc/stat) minus all of these.`,
    "",
    "### Figures",
    "",
    "| measure | figure |",
    "| --- | ---: |",
    ...figures.figureRows,
    `| detections raised (by kind) | ${Object.entries(byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")} |`,
    `| detections delivered to the SIEM by the relay / time after the ingest | ${totalDetections - Math.max(0, queued)} / ${relaySeconds.toFixed(1)} s |`,
    `| activity records stored in the SIEM's event store by the telemetry relay / time after the ingest | ${fmt(siemStored)} of ${fmt(activityRecords)} / ${siemSeconds.toFixed(1)} s |`,
    `| CPU during that catch-up: gateway / protection / postgres / posture + siem | ${(["gateway", "target", "postgres", "others"] as const).map((k) => `${catchUp.cpu[k].toFixed(1)} s`).join(" / ")} |`,
    `| whole path to the SIEM's copy (ingest + catch-up): records/s / CPU per record | ${fmt(RECORDS / whole.seconds)} / ${Math.round((whole.cpu / RECORDS) * 1e6)} µs |`,
    "",
    ...figures.cpuTable,
    "",
    "### Checks",
    "",
    "Issue 5 — **telemetry ingest ≥ 50,000 records/s, reported with its ratio to a raw COPY of the same rows.**",
    "",
    checksTable(budget),
    "",
    resultLine(budget),
    "",
    figures.noise,
    "",
  ].join("\n");
  writeResultsSection(ROOT, "telemetry", markdown);
  console.log(`\n${markdown}`);
  say("written to bench/RESULTS.md (section telemetry)");
  if (!detectionsOk) throw new Error(`detections differ from the plants: ${JSON.stringify(detectionChecks)}`);
  if (!pass && process.env.BENCH_STRICT === "1") process.exitCode = 2;
}

runBenchmark(main, { watchdogMs: WATCHDOG_MS, launched });

/** The benchmark's own database. */
function createDatabase(): Promise<BenchDatabase> {
  return createBenchDatabase(ROOT, `bench-telemetry-${process.pid}`, log);
}
