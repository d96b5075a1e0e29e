import { Pool } from "pg";
import { EventEmitter } from "node:events";
import {
  run,
  runMigrations,
  type Runner,
  type TaskList,
  type WorkerEvents,
  Logger as WorkerLogger,
} from "graphile-worker";
import type { EntityManager } from "typeorm";
import { countJobAttempts } from "./job-metrics";
import type { Logger } from "./logger";

/** The graphile-worker schema that belongs to a subgraph schema. */
export const jobsSchema = (schema: string) => `${schema}_jobs`;

function workerLogger(log: Logger): WorkerLogger {
  return new WorkerLogger(() => (level, message, meta) => {
    const method =
      level === "error" ? "error" : level === "warning" ? "warn" : level === "info" ? "info" : "debug";
    log[method]({ ...meta }, message);
  });
}

/** Installs or upgrades the subgraph's job queue schema (run by `migrate`, as the subgraph's role). */
export async function migrateJobQueue(url: string, schema: string, log: Logger): Promise<void> {
  const pgPool = new Pool({ connectionString: url, max: 1 });
  try {
    await runMigrations({ pgPool, schema: jobsSchema(schema), logger: workerLogger(log) });
  } finally {
    await pgPool.end();
  }
}

/** What a subgraph's job runner is started with. */
export interface JobRunnerOptions {
  url: string;
  /** The subgraph's schema (and name: it labels the runner's metrics). */
  schema: string;
  tasks: TaskList;
  /** graphile-worker crontab lines for recurring jobs (score snapshots, pruning, partitions…). */
  crontab?: string;
  concurrency?: number;
  log: Logger;
}

/**
 * Starts the durable job runner of one subgraph. Jobs live in Postgres, so a timer survives a
 * restart and runs once across replicas (graphile-worker locks each job with SKIP LOCKED).
 */
export async function startJobRunner(options: JobRunnerOptions): Promise<JobRunner> {
  // Our own pool, ended (and awaited) on stop: graphile-worker does not wait for a pool it created.
  const pgPool = new Pool({ connectionString: options.url, max: (options.concurrency ?? 2) + 2 });
  pgPool.on("error", (err) => options.log.warn({ err }, "job queue connection error"));
  // Our own emitter, listened to before the runner starts: a job done during `run()` is counted too.
  const events = new EventEmitter() as WorkerEvents;
  countJobAttempts(events, options.schema);
  const runner = await run({
    pgPool,
    events,
    schema: jobsSchema(options.schema),
    taskList: options.tasks,
    crontab: options.crontab ?? "",
    concurrency: options.concurrency ?? 2,
    noHandleSignals: true,
    pollInterval: 2000,
    logger: workerLogger(options.log),
  });
  return {
    runner,
    stop: async () => {
      await runner.stop();
      await pgPool.end();
    },
  };
}

/** A started job runner and how to stop it (waits until its connections are closed). */
export interface JobRunner {
  runner: Runner;
  stop(): Promise<void>;
}

/** Options of one enqueued job. */
export interface AddJobOptions {
  runAt?: Date;
  /** De-duplicates: a second job with the same key replaces the pending one. */
  jobKey?: string;
  maxAttempts?: number;
  /** Jobs of one named queue run one at a time, in the order they were added. */
  queueName?: string;
}

/** Enqueues a job inside the caller's transaction: the job exists exactly when the change commits. */
export async function addJob(
  manager: EntityManager,
  schema: string,
  task: string,
  payload: Record<string, unknown>,
  options: AddJobOptions = {},
): Promise<void> {
  await manager.query(
    `SELECT ${jobsSchema(schema)}.add_job($1, $2::json, run_at => $3, job_key => $4, max_attempts => $5, queue_name => $6)`,
    [
      task,
      JSON.stringify(payload),
      options.runAt ?? null,
      options.jobKey ?? null,
      options.maxAttempts ?? 25,
      options.queueName ?? null,
    ],
  );
}

/**
 * Removes the pending job with `jobKey` inside the caller's transaction (a job already running keeps running,
 * its key cleared, and is not retried), so a timer that no longer applies is not left behind.
 */
export async function removeJob(manager: EntityManager, schema: string, jobKey: string): Promise<void> {
  await manager.query(`SELECT ${jobsSchema(schema)}.remove_job($1)`, [jobKey]);
}
