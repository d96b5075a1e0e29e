import { Counter, register } from "prom-client";
import type { DataSource, EntityManager } from "typeorm";
import type { Logger } from "../logger";
import { createDataSource, inSystemScope } from "./data-source";
import { readOutbox, type OutboxPosition, type OutboxRecord } from "./outbox";
import { OutboxListener } from "./outbox-listener";

const SYSTEM_ONLY = "current_setting('rampart.scope', true) = 'system'";

/**
 * SQL for migrations: where each relay of a subgraph stands in its outbox, one row per consumer. Not
 * tenant data: only system-scope transactions may read or move an offset (RLS forced, like every table).
 */
export function relayOffsetsSql(): { up: string[]; down: string[] } {
  return {
    up: [
      `CREATE TABLE relay_offsets (
         consumer text PRIMARY KEY,
         xid xid8 NOT NULL DEFAULT '0',
         seq bigint NOT NULL DEFAULT 0,
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      `ALTER TABLE relay_offsets ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE relay_offsets FORCE ROW LEVEL SECURITY`,
      `CREATE POLICY system_only ON relay_offsets USING (${SYSTEM_ONLY}) WITH CHECK (${SYSTEM_ONLY})`,
    ],
    down: [`DROP TABLE relay_offsets`],
  };
}

/** What a delivery did with a batch. A delivery that throws delivered nothing: the batch comes again. */
export interface RelayOutcome {
  /** Records the destination accepted (new to it, or repeats it already had). */
  delivered: number;
  /** Records the destination refused for good (their data is wrong): reported and skipped. */
  rejected: number;
}

/** Hands a batch of outbox records to the destination, inside the relay's system-scope transaction. */
export type RelayDelivery = (
  records: OutboxRecord[],
  m: EntityManager,
  signal: AbortSignal,
) => Promise<RelayOutcome>;

/** What one relay round did (`null` from `runOnce`: another replica holds the relay). */
export interface RelayRound extends RelayOutcome {
  /** Outbox rows read (every topic: rows of other topics are passed over). */
  read: number;
  /** Where the offset stands after the round. */
  position: OutboxPosition;
  /** A full batch was read: more rows may be waiting. */
  more: boolean;
}

/** How an `OutboxRelay` runs. */
export interface OutboxRelayOptions {
  /** The subgraph (metrics label, lock name). */
  subgraph: string;
  /** The offset's name in `relay_offsets`. */
  consumer: string;
  /** Topics delivered; the offset moves past rows of other topics too. */
  topics: readonly string[];
  deliver: RelayDelivery;
  log: Logger;
  /** Wakes the relay when a row is written (the periodic poll catches anything it misses). */
  listener?: OutboxListener;
  /** Outbox rows per round (default 500). */
  batchSize?: number;
  /** Idle poll interval (default 2 s): rows held back by a running transaction, lost notifications. */
  pollMs?: number;
  /** Retry delays after a failed round: doubling from `min` up to `max` (default 0.5 s to 30 s). */
  retryMs?: { min: number; max: number };
}

function counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
  return (
    (register.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames })
  );
}

/** Records a relay handed over and the destination accepted. */
const deliveredTotal = counter(
  "rampart_relay_delivered_total",
  "Outbox records a relay delivered (the destination accepted them, new or repeated).",
  ["subgraph", "consumer"],
);
/** Failed rounds (retried) and records refused for good. */
const failedTotal = counter(
  "rampart_relay_failed_total",
  "Relay failures: kind=attempt counts failed rounds (retried with backoff), kind=rejected counts records the destination refused for good.",
  ["subgraph", "consumer", "kind"],
);

/**
 * Delivers a subgraph's outbox rows of some topics to a destination, in outbox order, at least once;
 * a destination that ignores repeats (idempotency key) makes it exactly once in effect.
 *
 * Each round is one system-scope transaction: take the relay's advisory lock (so exactly one replica
 * relays at a time; the others find it taken and poll), read the offset, read the next rows after it
 * (`readOutbox`: only rows of transactions older than every running one, so none can appear behind the
 * offset later), deliver them, and move the offset to the last row read — in that order, so the offset
 * moves only once the destination accepted the batch. A failure rolls the round back; the batch comes
 * again after a backoff. Nothing is written before the delivery returns, so the transaction holds no
 * transaction id while waiting for the destination and never holds back other outbox readers.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly retryMs: { min: number; max: number };
  private running?: Promise<void>;
  private stopped = false;
  private woken = false;
  private unlisten?: () => void;
  private readonly abort = new AbortController();
  private readonly waiters = new Set<{ wakeable: boolean; finish: () => void }>();

  constructor(
    private readonly ds: DataSource,
    private readonly options: OutboxRelayOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.pollMs = options.pollMs ?? 2000;
    this.retryMs = options.retryMs ?? { min: 500, max: 30_000 };
  }

  /** Starts relaying in the background until `stop`. */
  start(): void {
    if (this.running || this.stopped) return;
    this.unlisten = this.options.listener?.listen("*", () => this.wake());
    this.running = this.loop();
  }

  /** Asks for a round now (new rows were written); after a failure, not before the minimum retry delay. */
  wake(): void {
    this.woken = true;
    for (const w of this.waiters) if (w.wakeable) w.finish();
  }

  /** Stops relaying: aborts a delivery in flight (its round rolls back) and waits for the loop to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.unlisten?.();
    for (const w of this.waiters) w.finish();
    await this.running;
  }

  /** One round; `null` when another replica holds the relay. Throws when the delivery failed. */
  runOnce(): Promise<RelayRound | null> {
    const { consumer, subgraph, topics } = this.options;
    return inSystemScope(this.ds, async (m) => {
      const [{ locked }] = (await m.query(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`, [
        `${subgraph}.relay.${consumer}`,
      ])) as Array<{ locked: boolean }>;
      if (!locked) return null;
      const [offset] = (await m.query(
        `SELECT xid::text AS xid, seq::text AS seq FROM relay_offsets WHERE consumer = $1`,
        [consumer],
      )) as OutboxPosition[];
      const after = offset ?? { xid: "0", seq: "0" };
      const rows = await readOutbox(m, { after, limit: this.batchSize });
      if (rows.length === 0) return { read: 0, delivered: 0, rejected: 0, position: after, more: false };
      const wanted = rows.filter((r) => topics.includes(r.topic));
      const outcome = wanted.length
        ? await this.options.deliver(wanted, m, this.abort.signal)
        : { delivered: 0, rejected: 0 };
      const position = rows[rows.length - 1].position;
      await m.query(
        `INSERT INTO relay_offsets AS o (consumer, xid, seq) VALUES ($1, $2::xid8, $3)
         ON CONFLICT (consumer) DO UPDATE SET xid = excluded.xid, seq = excluded.seq, updated_at = now()`,
        [consumer, position.xid, position.seq],
      );
      return { read: rows.length, ...outcome, position, more: rows.length === this.batchSize };
    }).then((round) => {
      if (round) {
        const labels = { subgraph, consumer };
        deliveredTotal.inc(labels, round.delivered);
        if (round.rejected) failedTotal.inc({ ...labels, kind: "rejected" }, round.rejected);
      }
      return round;
    });
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.woken = false;
      let delay = this.pollMs;
      try {
        const round = await this.runOnce();
        failures = 0;
        if (round?.more) delay = 0;
      } catch (err) {
        if (this.stopped) break;
        failures++;
        failedTotal.inc({
          subgraph: this.options.subgraph,
          consumer: this.options.consumer,
          kind: "attempt",
        });
        delay = Math.min(this.retryMs.max, this.retryMs.min * 2 ** (failures - 1));
        this.options.log.warn(
          { err, consumer: this.options.consumer, failures, retryInMs: delay },
          "outbox relay: delivery failed, retrying",
        );
      }
      if (this.stopped || delay === 0) continue;
      if (failures > 0) {
        // A busy outbox wakes the relay often: retries stay at least `min` apart whatever wakes it.
        await this.wait(this.retryMs.min, false);
        if (!this.woken) await this.wait(delay - this.retryMs.min, true);
      } else if (!this.woken) await this.wait(delay, true);
    }
  }

  private wait(ms: number, wakeable: boolean): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        wakeable,
        finish: () => {
          clearTimeout(timer);
          this.waiters.delete(entry);
          resolve();
        },
      };
      const timer = setTimeout(entry.finish, ms);
      this.waiters.add(entry);
    });
  }
}

/** What `startOutboxRelay` needs besides the relay's own options. */
export interface StartOutboxRelayOptions extends Omit<OutboxRelayOptions, "listener"> {
  /** The subgraph role's connection string. */
  url: string;
}

/**
 * Starts a relay of a subgraph process with its own small DataSource (its polling is not counted as
 * request statements, and waiting for the destination never holds a request connection) and its own
 * outbox listener; `stop` ends the loop (a delivery in flight rolls back) and closes both.
 */
export async function startOutboxRelay(options: StartOutboxRelayOptions): Promise<{ stop(): Promise<void> }> {
  const { url, ...relayOptions } = options;
  const ds = createDataSource({
    subgraph: `${options.subgraph}-relay`,
    url,
    schema: options.subgraph,
    entities: [],
    poolSize: 2,
    logger: options.log,
  });
  await ds.initialize();
  const listener = new OutboxListener(url, options.subgraph, options.log);
  const relay = new OutboxRelay(ds, { ...relayOptions, listener });
  relay.start();
  return {
    stop: async () => {
      await relay.stop();
      await listener.close();
      await ds.destroy();
    },
  };
}
