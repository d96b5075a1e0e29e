/**
 * The durable job queue on `/metrics`: a real SIEM subgraph on a fresh database, jobs queued the way the
 * code and an operator queue them (graphile-worker's `add_job`), its Prometheus text scraped over HTTP.
 */
import { Client } from "pg";
import {
  createLogger,
  loadConfig,
  runSubgraph,
  sqlStatementCount,
  type SubgraphServer,
} from "../subgraphs/common/src";
import { siemSubgraph } from "../subgraphs/siem/src";
import { migrateAll } from "../scripts/lib/platform";
import { createTestDatabase, type TestDatabase } from "./utils/database";

/** One sample of a Prometheus text exposition. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a scrape (comments left out). */
function parseMetrics(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [, name, labels = "", value] = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!;
      return {
        name,
        labels: Object.fromEntries(
          [...labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
        ),
        value: Number(value),
      };
    });
}

/** The value of `name` whose labels include `labels`, or undefined when there is no such sample. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

describe("job queue metrics", () => {
  let db: TestDatabase;
  let admin: Client;
  let siem: SubgraphServer;
  const scrape = async () => parseMetrics(await (await fetch(new URL("/metrics", siem.url))).text());

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({
      DATABASE_URL: db.url,
      DB_ROLE_PREFIX: db.rolePrefix,
      DB_POOL_SIZE: "4",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    });
    const log = createLogger("test", config.logLevel);
    await migrateAll(config, log);
    siem = await runSubgraph(siemSubgraph, config, { port: 0, log });
    admin = new Client({ connectionString: db.url });
    await admin.connect();
  });

  afterAll(async () => {
    await siem?.close();
    await admin?.end();
    await db?.drop();
  });

  it("shows ready, scheduled and failed jobs and the oldest ready one per task, and counts attempts", async () => {
    const before = await scrape();
    // Every task of the runner has its series from the start, zeros included, without a tenant label.
    expect(valueOf(before, "rampart_jobs_failed", { subgraph: "siem", task: "rule_run" })).toBe(0);
    expect(
      valueOf(before, "rampart_jobs_queued", { subgraph: "siem", task: "playbook_run", state: "ready" }),
    ).toBe(0);

    // A scheduled rule's run for a rule id that is not one: it fails both of its attempts.
    await admin.query(
      `SELECT siem_jobs.add_job('rule_run', '{"tenantId":"tenant-a","ruleId":"not-a-rule"}'::json, max_attempts => 2)`,
    );
    // A job no runner here takes (a task of another version), due for an hour: it waits, ready.
    await admin.query(`SELECT siem_jobs.add_job('retired_task', run_at => now() - interval '1 hour')`);
    // A job for tomorrow.
    await admin.query(`SELECT siem_jobs.add_job('outbox_prune', run_at => now() + interval '1 day')`);

    let after = await scrape();
    for (
      const deadline = Date.now() + 45_000;
      valueOf(after, "rampart_jobs_failed", { subgraph: "siem", task: "rule_run" }) !== 1;
      after = await scrape()
    ) {
      if (Date.now() > deadline) throw new Error("the failing job never showed as failed");
      await new Promise((r) => setTimeout(r, 500));
    }

    const job = (labels: Record<string, string>) => ({ subgraph: "siem", ...labels });
    expect({
      retries: valueOf(after, "rampart_job_attempts_total", job({ task: "rule_run", outcome: "retry" })),
      failures: valueOf(after, "rampart_job_attempts_total", job({ task: "rule_run", outcome: "failed" })),
      completed: valueOf(
        after,
        "rampart_job_attempts_total",
        job({ task: "rule_run", outcome: "completed" }),
      ),
      running: valueOf(after, "rampart_jobs_running", job({ task: "rule_run" })),
      failedQueued: valueOf(after, "rampart_jobs_queued", job({ task: "rule_run", state: "ready" })),
      readyRetired: valueOf(after, "rampart_jobs_queued", job({ task: "retired_task", state: "ready" })),
      scheduledPrune: valueOf(
        after,
        "rampart_jobs_queued",
        job({ task: "outbox_prune", state: "scheduled" }),
      ),
      readyPrune: valueOf(after, "rampart_jobs_queued", job({ task: "outbox_prune", state: "ready" })),
    }).toEqual({
      retries: 1,
      failures: 1,
      completed: undefined,
      running: 0,
      failedQueued: 0,
      readyRetired: 1,
      scheduledPrune: 1,
      readyPrune: 0,
    });
    expect(
      valueOf(after, "rampart_jobs_oldest_ready_age_seconds", job({ task: "retired_task" })),
    ).toBeGreaterThanOrEqual(3600);
    expect(valueOf(after, "rampart_jobs_oldest_ready_age_seconds", job({ task: "rule_run" }))).toBe(0);
    // Tenant-neutral: no job series names a tenant.
    const jobSeries = after.filter((s) => /^rampart_jobs?_/.test(s.name));
    expect(jobSeries.length).toBeGreaterThan(10);
    expect(jobSeries.filter((s) => Object.keys(s.labels).some((l) => /tenant/i.test(l)))).toEqual([]);

    // Fixed and retried by on-call (the runbook's `reschedule_jobs`): it fails again, and is counted again.
    await admin.query(
      `SELECT siem_jobs.reschedule_jobs(array_agg(id), run_at => now(), attempts => 1)
         FROM siem_jobs.jobs WHERE task_identifier = 'rule_run'`,
    );
    for (
      const deadline = Date.now() + 45_000;
      valueOf(after, "rampart_job_attempts_total", job({ task: "rule_run", outcome: "failed" })) !== 2;
      after = await scrape()
    ) {
      if (Date.now() > deadline) throw new Error("the rescheduled job was not counted");
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(valueOf(after, "rampart_jobs_failed", job({ task: "rule_run" }))).toBe(1);
  }, 120_000);

  it("reads the queue once for a burst of scrapes", async () => {
    const before = await sqlStatementCount("siem");
    const scrapes = await Promise.all(Array.from({ length: 20 }, () => scrape()));
    const statements = (await sqlStatementCount("siem")) - before;
    // The same reading for all of them, and at most one query for the whole burst.
    for (const samples of scrapes)
      expect(
        valueOf(samples, "rampart_jobs_queued", { subgraph: "siem", task: "retired_task", state: "ready" }),
      ).toBe(1);
    expect(statements).toBeLessThanOrEqual(1);
  });
});
