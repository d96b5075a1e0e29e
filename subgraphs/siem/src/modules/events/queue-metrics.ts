/*
 * The queued ingest's metrics (EVENT_INGEST_QUEUE=nats): what this process's workers did with the chunks and
 * lines they were handed (counters), and how the queue stands (gauges read at scrape time from JetStream and
 * from `ingest_receipts`, at most once per INGEST_QUEUE_METRICS_CACHE_MS). No label names a tenant: the
 * receipt query reads across tenants (system scope) and answers one number.
 */
import { Counter, Gauge, register } from "prom-client";
import type { DataSource } from "typeorm";
import { inSystemScope, type Logger } from "../../../../common/src";
import type { NatsEventQueue, QueueState } from "./nats-queue";

/**
 * How long one reading of the queue serves scrapes: however many scrapers ask, each SIEM process sends the
 * JetStream requests and the receipt query at most once per this many milliseconds.
 */
export const INGEST_QUEUE_METRICS_CACHE_MS = 5000;

/**
 * What became of one delivery of a chunk in a worker; `expired`: a chunk no worker settled, given up by the
 * receipt sweep (its receipt FAILED).
 */
export type ChunkOutcome = "stored" | "duplicate" | "failed" | "dropped" | "retried" | "expired";

/** What became of lines of queued bodies. */
export type LineOutcome = "stored" | "duplicate" | "rejected";

const chunks =
  (register.getSingleMetric("rampart_ingest_queue_chunks_total") as Counter<"outcome"> | undefined) ??
  new Counter({
    name: "rampart_ingest_queue_chunks_total",
    help: "Deliveries of queued chunks this SIEM's workers settled: outcome=stored, duplicate (acknowledged unread: stored or given up already, or of a body not queued for good), failed (given up: its lines reported lost), dropped (not signed by a SIEM or without valid headers) or retried (handed back for another delivery); expired counts chunks no worker settled that this SIEM's receipt sweep gave up (their receipts FAILED).",
    labelNames: ["outcome"],
  });

const lines =
  (register.getSingleMetric("rampart_ingest_queue_lines_total") as Counter<"outcome"> | undefined) ??
  new Counter({
    name: "rampart_ingest_queue_lines_total",
    help: "Lines of queued bodies: outcome=stored (new events), duplicate (events stored before) or rejected (a reason per line on the receipt).",
    labelNames: ["outcome"],
  });

/** Counts one settled delivery of a chunk (or `n` chunks the receipt sweep gave up). */
export function countChunk(outcome: ChunkOutcome, n = 1): void {
  if (n > 0) chunks.inc({ outcome }, n);
}

/** Counts lines of a queued body, once their outcome has committed. */
export function countLines(outcome: LineOutcome, n: number): void {
  if (n > 0) lines.inc({ outcome }, n);
}

/** One reading of the queue; a part that could not be read is null (its series are left out then). */
interface QueueReading {
  stream: string;
  jetstream: QueueState | null;
  oldestReceiptSeconds: number | null;
}

/** Reads one SIEM's queue for the gauges, at most once per INGEST_QUEUE_METRICS_CACHE_MS. */
class QueueReader {
  private last?: { at: number; reading: Promise<QueueReading> };
  /** Logged once per outage, not per scrape. */
  private warned = { jetstream: false, receipts: false };

  constructor(
    private readonly ds: DataSource,
    private readonly queue: NatsEventQueue,
    private readonly log: Logger,
  ) {}

  read(): Promise<QueueReading> {
    const now = Date.now();
    // Cached from the moment the reading starts: concurrent scrapes share it.
    if (!this.last || now - this.last.at >= INGEST_QUEUE_METRICS_CACHE_MS)
      this.last = { at: now, reading: this.query() };
    return this.last.reading;
  }

  private async query(): Promise<QueueReading> {
    const [jetstream, oldestReceiptSeconds] = await Promise.all([
      this.queue.state().then(
        (state) => this.recovered("jetstream", state),
        (err: unknown) => this.failed("jetstream", err),
      ),
      this.oldestReceipt().then(
        (age) => this.recovered("receipts", age),
        (err: unknown) => this.failed("receipts", err),
      ),
    ]);
    return { stream: this.queue.names.stream, jetstream, oldestReceiptSeconds };
  }

  /**
   * Age of the oldest receipt of a body queued for good (its 202 sent) that the workers have not finished.
   * Bodies still being queued, or abandoned before their 202, are left out: no client waits for them.
   */
  private async oldestReceipt(): Promise<number> {
    const [row]: Array<{ seconds: number }> = await inSystemScope(this.ds, (m) =>
      m.query(
        `SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS seconds
           FROM ingest_receipts WHERE status IN ('QUEUED', 'PROCESSING') AND enqueued`,
      ),
    );
    return row.seconds;
  }

  private recovered<T>(part: keyof QueueReader["warned"], value: T): T {
    this.warned[part] = false;
    return value;
  }

  private failed(part: keyof QueueReader["warned"], err: unknown): null {
    if (!this.warned[part])
      this.log.warn(
        { err },
        part === "jetstream"
          ? "ingest queue metrics: JetStream did not answer"
          : "ingest queue metrics: the receipts could not be read",
      );
    this.warned[part] = true;
    return null;
  }
}

/** The queues of the SIEMs this process runs: one in production; in the in-process tests, one at a time. */
const readers = new Set<QueueReader>();

/** A gauge labelled with the stream, whose sample is read from the queues at scrape time. */
function queueGauge(name: string, help: string, value: (reading: QueueReading) => number | null): void {
  if (register.getSingleMetric(name)) return;
  new Gauge({
    name,
    help,
    labelNames: ["stream"],
    async collect() {
      const readings = await Promise.all([...readers].map((reader) => reader.read()));
      // Replaced in one synchronous step, so a scrape running at the same time never sees half of it.
      this.reset();
      for (const reading of readings) {
        const v = value(reading);
        if (v !== null) this.set({ stream: reading.stream }, v);
      }
    },
  });
}

queueGauge(
  "rampart_ingest_queue_pending_messages",
  "Chunks in the ingest stream that no worker has been handed yet (the consumer's num_pending).",
  (r) => r.jetstream?.pending ?? null,
);
queueGauge(
  "rampart_ingest_queue_unacknowledged_messages",
  "Chunks handed to a worker and not acknowledged yet (the consumer's num_ack_pending).",
  (r) => r.jetstream?.ackPending ?? null,
);
queueGauge(
  "rampart_ingest_queue_redelivered_messages",
  "Unacknowledged chunks delivered more than once (the consumer's num_redelivered).",
  (r) => r.jetstream?.redelivered ?? null,
);
queueGauge(
  "rampart_ingest_queue_stream_messages",
  "Messages the ingest stream holds (a work queue: acknowledged chunks leave it).",
  (r) => r.jetstream?.streamMessages ?? null,
);
queueGauge(
  "rampart_ingest_queue_stream_bytes",
  "Bytes the ingest stream holds.",
  (r) => r.jetstream?.streamBytes ?? null,
);
queueGauge(
  "rampart_ingest_queue_oldest_receipt_age_seconds",
  "Age of the oldest receipt of a queued body still QUEUED or PROCESSING, across tenants (0 when none).",
  (r) => r.oldestReceiptSeconds,
);

/** Exposes a SIEM's queue on `/metrics` until the returned function is called (when its workers stop). */
export function observeIngestQueue(ds: DataSource, queue: NatsEventQueue, log: Logger): () => void {
  const reader = new QueueReader(ds, queue, log);
  readers.add(reader);
  return () => void readers.delete(reader);
}
