import type { WorkerEvents } from "graphile-worker";
import { Counter, Gauge, register } from "prom-client";
import type { DataSource } from "typeorm";
import type { Logger } from "./logger";

/**
 * How long one reading of a queue serves scrapes: however many scrapers (or one scraping in a loop),
 * each subgraph process sends the queue query at most once per this many milliseconds.
 */
export const JOB_QUEUE_METRICS_CACHE_MS = 5000;

/** One task's jobs in a subgraph's queue, as the gauges show them. */
interface TaskQueue {
  task: string;
  ready: number;
  scheduled: number;
  running: number;
  failed: number;
  oldestReadySeconds: number;
}

/**
 * The whole queue in one statement over graphile-worker's public `jobs` view: a seq scan of a table
 * that holds only pending and failed jobs (completed ones are deleted). A job is `ready` when it is
 * due, unlocked and has attempts left; `scheduled` when it waits for its `run_at` (a retry waits its
 * backoff there too); `running` while a worker holds its lock (a dead worker's lock counts until it
 * is freed); `failed` once its attempts are exhausted and it is kept with `last_error`. No tenant is
 * read or labelled: the payload stays out of it.
 */
const QUEUE_SQL = (schema: string) => `
  SELECT task_identifier AS task,
         count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now())::int AS ready,
         count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at > now())::int AS scheduled,
         count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS running,
         count(*) FILTER (WHERE locked_at IS NULL AND attempts >= max_attempts)::int AS failed,
         coalesce(extract(epoch FROM now() - min(run_at) FILTER (
           WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now())), 0)::float8 AS oldest_ready_seconds
    FROM ${schema}.jobs
   GROUP BY task_identifier`;

/** Reads one subgraph's queue for the gauges, at most once per JOB_QUEUE_METRICS_CACHE_MS. */
class QueueReader {
  private last?: { at: number; reading: Promise<TaskQueue[] | null> };

  constructor(
    readonly subgraph: string,
    private readonly ds: DataSource,
    private readonly jobsSchema: string,
    /** The tasks this subgraph runs: each gets a sample (zeros included), so alerts need no `absent()`. */
    private readonly tasks: readonly string[],
    private readonly log: Logger,
  ) {}

  /** The queue by task, or null when the database did not answer (the series are left out then). */
  read(): Promise<TaskQueue[] | null> {
    const now = Date.now();
    // The promise is cached from the moment the query starts: concurrent scrapes share one query.
    if (!this.last || now - this.last.at >= JOB_QUEUE_METRICS_CACHE_MS)
      this.last = { at: now, reading: this.query() };
    return this.last.reading;
  }

  private async query(): Promise<TaskQueue[] | null> {
    try {
      const rows = (await this.ds.query(QUEUE_SQL(this.jobsSchema))) as Array<{
        task: string;
        ready: number;
        scheduled: number;
        running: number;
        failed: number;
        oldest_ready_seconds: number;
      }>;
      const byTask = new Map<string, TaskQueue>(
        this.tasks.map((task) => [
          task,
          { task, ready: 0, scheduled: 0, running: 0, failed: 0, oldestReadySeconds: 0 },
        ]),
      );
      for (const row of rows)
        byTask.set(row.task, {
          task: row.task,
          ready: row.ready,
          scheduled: row.scheduled,
          running: row.running,
          failed: row.failed,
          oldestReadySeconds: row.oldest_ready_seconds,
        });
      return [...byTask.values()];
    } catch (err) {
      this.log.warn({ err }, "job queue metrics: the queue could not be read");
      return null;
    }
  }
}

/**
 * The queues of the subgraphs this process runs: one in production; in the in-process tests, three (and
 * a second replica of one now and then, which reports the same queue under the same labels).
 */
const readers = new Set<QueueReader>();

type Sample<L extends string> = [Partial<Record<L, string>>, number];

/** A gauge whose samples are read from the queues at scrape time. */
function queueGauge<L extends string>(
  name: string,
  help: string,
  labelNames: L[],
  samples: (queue: TaskQueue) => Array<Sample<Exclude<L, "subgraph" | "task">>>,
): Gauge<L> {
  return (
    (register.getSingleMetric(name) as Gauge<L> | undefined) ??
    new Gauge<L>({
      name,
      help,
      labelNames,
      async collect() {
        const readings = await Promise.all(
          [...readers].map(async (reader) => ({ reader, queues: await reader.read() })),
        );
        // Replaced in one synchronous step, so a scrape running at the same time never sees half of it.
        this.reset();
        for (const { reader, queues } of readings)
          for (const queue of queues ?? [])
            for (const [labels, value] of samples(queue))
              this.set(
                { ...labels, subgraph: reader.subgraph, task: queue.task } as Partial<Record<L, string>>,
                value,
              );
      },
    })
  );
}

queueGauge(
  "rampart_jobs_queued",
  "Jobs waiting in the subgraph's queue: state=ready (due, waiting for a worker) or scheduled (run_at later, retries included).",
  ["subgraph", "task", "state"],
  (q) => [
    [{ state: "ready" }, q.ready],
    [{ state: "scheduled" }, q.scheduled],
  ],
);
queueGauge(
  "rampart_jobs_running",
  "Jobs locked by a worker (running, or held by a dead worker until its lock is freed).",
  ["subgraph", "task"],
  (q) => [[{}, q.running]],
);
queueGauge(
  "rampart_jobs_failed",
  "Jobs that failed all their attempts, kept in the queue with last_error until someone acts.",
  ["subgraph", "task"],
  (q) => [[{}, q.failed]],
);
queueGauge(
  "rampart_jobs_oldest_ready_age_seconds",
  "How long the oldest ready job has been due (0 when none is ready).",
  ["subgraph", "task"],
  (q) => [[{}, q.oldestReadySeconds]],
);

/** Attempts this process's runner finished, by outcome. */
const attempts =
  (register.getSingleMetric("rampart_job_attempts_total") as
    Counter<"subgraph" | "task" | "outcome"> | undefined) ??
  new Counter({
    name: "rampart_job_attempts_total",
    help: "Job attempts this process ran: outcome=completed, retry (failed, will run again) or failed (its last attempt failed: the job is kept as failed).",
    labelNames: ["subgraph", "task", "outcome"],
  });

/** What a subgraph's queue is read with for its gauges. */
export interface JobQueueMetricsOptions {
  subgraph: string;
  /** A pool of the subgraph's role (the owner of the jobs schema). */
  dataSource: DataSource;
  jobsSchema: string;
  tasks: readonly string[];
  log: Logger;
}

/**
 * Exposes a subgraph's queue on `/metrics` until the returned function is called (on close). Every
 * replica of a subgraph reports the same queue: aggregate them with `max`, not `sum`.
 */
export function observeJobQueue(options: JobQueueMetricsOptions): () => void {
  const reader = new QueueReader(
    options.subgraph,
    options.dataSource,
    options.jobsSchema,
    options.tasks,
    options.log,
  );
  readers.add(reader);
  return () => void readers.delete(reader);
}

/** Counts the attempts a runner finishes (graphile-worker's job events), labelled with `subgraph`. */
export function countJobAttempts(events: WorkerEvents, subgraph: string): void {
  events.on("job:success", ({ job }) =>
    attempts.inc({ subgraph, task: job.task_identifier, outcome: "completed" }),
  );
  // "job:failed" follows "job:error" for a last attempt: counted here once, as its outcome.
  events.on("job:error", ({ job }) =>
    attempts.inc({
      subgraph,
      task: job.task_identifier,
      outcome: job.attempts >= job.max_attempts ? "failed" : "retry",
    }),
  );
}
