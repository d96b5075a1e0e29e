import { setTimeout as sleep } from "node:timers/promises";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import {
  UnavailableError,
  type BackgroundWork,
  type EventQueueConfig,
  type Logger,
} from "../../../../common/src";

/** The JetStream names under NATS_STREAM_PREFIX: the stream, the subject it holds and the workers' consumer. */
export function queueNames(prefix: string): { stream: string; subject: string; consumer: string } {
  return {
    stream: `${prefix}_EVENT_INGEST`,
    subject: `${prefix}.event-ingest`,
    consumer: `${prefix}_EVENT_INGEST_WORKERS`,
  };
}

/** One message to queue: its payload, headers and JetStream de-duplication id. */
export interface QueueMessage {
  data: Uint8Array;
  headers: MsgHdrs;
  msgId: string;
}

/** What JetStream says of the queue: the consumer's backlog and the stream's size. */
export interface QueueState {
  /** Messages the consumer has not delivered yet (`num_pending`). */
  pending: number;
  /** Messages delivered to a worker and not acknowledged yet (`num_ack_pending`). */
  ackPending: number;
  /** Messages delivered more than once and not acknowledged yet (`num_redelivered`). */
  redelivered: number;
  streamMessages: number;
  streamBytes: number;
}

/** Where the stream's messages lie: every message it holds has a sequence from `first` to `last`. */
export interface StreamBounds {
  first: number;
  last: number;
}

/** Room left in a message for its headers (a few hundred bytes) and the protocol line. */
const HEADER_ROOM = 8 * 1024;
/** How long one publish waits for JetStream's PubAck (the message persisted) before the ingest answers 503. */
const PUBLISH_TIMEOUT_MS = 5_000;
/** Pause between connection attempts while NATS cannot be reached. */
const RECONNECT_PAUSE_MS = 2_000;
/** How long one pull for the next message waits on the server before it is sent again. */
const FETCH_EXPIRES_MS = 30_000;
/** JetStream's window for `Nats-Msg-Id` de-duplication. */
const DUPLICATE_WINDOW_NS = 10 * 60 * 1_000_000_000;

/**
 * The event-ingest queue on NATS JetStream: a file-stored work-queue stream (a message is removed once a
 * worker acknowledges it) and one durable pull consumer that every SIEM replica reads from, so each message
 * goes to one worker. The connection is made in the background and retried for good: while NATS cannot be
 * reached the ingest answers 503 and nothing else of the SIEM is affected.
 */
export class NatsEventQueue {
  private nc: NatsConnection | null = null;
  /** Connected, and the stream and consumer exist. */
  private ready = false;
  private stopping = false;
  private messages: ConsumerMessages | null = null;
  private readonly abort = new AbortController();
  readonly names: ReturnType<typeof queueNames>;

  constructor(
    private readonly config: EventQueueConfig,
    private readonly log: Logger,
  ) {
    this.names = queueNames(config.streamPrefix);
  }

  /** Whether a publish can be tried now. */
  get available(): boolean {
    return this.ready && this.nc !== null && !this.nc.isClosed();
  }

  /**
   * Why the queue cannot take a body now, for `/ready`, or null: the connection's state as the client last
   * reported it (no round trip per probe).
   */
  notReady(): string | null {
    if (this.available) return null;
    return "The event-ingest queue (NATS JetStream) is not reachable: POST /ingest/events answers 503 until it is.";
  }

  /**
   * The stream's and the workers' consumer's state as JetStream reports them (two requests), for the gauges;
   * null while the queue is not available. Throws when JetStream does not answer.
   */
  async state(): Promise<QueueState | null> {
    const nc = this.nc;
    if (!nc || !this.available) return null;
    // No API check: the connection's JetStream was checked when the stream and consumer were ensured.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const [stream, consumer] = await Promise.all([
      jsm.streams.info(this.names.stream),
      jsm.consumers.info(this.names.stream, this.names.consumer),
    ]);
    return {
      pending: consumer.num_pending,
      ackPending: consumer.num_ack_pending,
      redelivered: consumer.num_redelivered,
      streamMessages: stream.state.messages,
      streamBytes: stream.state.bytes,
    };
  }

  /** Throws UnavailableError unless a publish can be tried now. */
  assertAvailable(): void {
    if (!this.available) throw queueDown();
  }

  /** The most bytes of NDJSON one message may carry: the server's max payload less room for the headers. */
  maxChunkBytes(): number {
    const max = this.nc?.info?.max_payload ?? 1024 * 1024;
    return Math.max(1024, max - HEADER_ROOM);
  }

  /**
   * The stream's first and last sequence (JetStream's stream info), for the receipt sweep: a message whose
   * sequence lies below `first` is no longer in the stream (acknowledged, dropped or purged), nor is one above
   * `last` (the stream was deleted and made again). A stream that does not exist holds nothing. Null while the
   * queue is not available; throws when JetStream does not answer.
   */
  async bounds(): Promise<StreamBounds | null> {
    const nc = this.nc;
    if (!nc || !this.available) return null;
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    try {
      const { state } = await jsm.streams.info(this.names.stream);
      return { first: state.first_seq, last: state.last_seq };
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return { first: Number.MAX_SAFE_INTEGER, last: 0 };
    }
  }

  /**
   * Publishes the messages and resolves once JetStream has persisted every one (its PubAck), with the highest
   * stream sequence among them (what the receipt records). Throws UnavailableError when NATS is not reachable
   * or a PubAck does not come; messages already persisted then stay in the stream (the caller's receipt tells
   * the workers to drop them).
   */
  async publish(messages: QueueMessage[]): Promise<number> {
    const nc = this.nc;
    if (!nc || !this.available) throw queueDown();
    const js = jetstream(nc);
    try {
      // A duplicate's PubAck names the sequence of the message JetStream kept: the one the workers get.
      const acks = await Promise.all(
        messages.map((m) =>
          js.publish(this.names.subject, m.data, {
            msgID: m.msgId,
            headers: m.headers,
            timeout: PUBLISH_TIMEOUT_MS,
            expect: { streamName: this.names.stream },
          }),
        ),
      );
      return acks.reduce((max, ack) => Math.max(max, ack.seq), 0);
    } catch (err) {
      this.log.warn({ err }, "event-ingest queue: publish failed");
      throw queueDown();
    }
  }

  /**
   * Connects (retrying until it can or `stop()`), ensures the stream and the consumer, then hands every message
   * of the consumer to `handle`, one at a time, until stopped. `handle` acknowledges or naks the message.
   */
  start(handle: (msg: JsMsg) => Promise<void>): BackgroundWork {
    const running = this.run(handle);
    return {
      stop: async () => {
        this.stopping = true;
        this.abort.abort();
        await this.messages?.close().catch(() => undefined);
        await running;
        const nc = this.nc;
        this.nc = null;
        this.ready = false;
        if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
      },
    };
  }

  private async run(handle: (msg: JsMsg) => Promise<void>): Promise<void> {
    while (!this.stopping) {
      let nc: NatsConnection | null = null;
      try {
        nc = await connect({
          servers: this.config.servers,
          name: "rampart-siem",
          // Once connected, the client reconnects for good (and buffers nothing for long: publishes time out).
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1_000,
          timeout: 5_000,
        });
        if (this.stopping) break;
        this.nc = nc;
        void this.watchStatus(nc);
        await this.ensure(nc);
        this.ready = true;
        this.log.info({ stream: this.names.stream }, "event-ingest queue connected");
        await this.consume(nc, handle);
      } catch (err) {
        if (this.stopping) break;
        this.ready = false;
        this.log.warn({ err }, "event-ingest queue: NATS not reachable, retrying");
        if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
        await sleep(RECONNECT_PAUSE_MS, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  /** Publishes fail fast (503) while the client is reconnecting, instead of waiting for their timeout. */
  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") this.ready = false;
      else if (s.type === "reconnect") this.ready = true;
    }
  }

  /** Creates the stream and the consumer, or brings an existing one's settings up to the configuration. */
  private async ensure(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const stream = {
      subjects: [this.names.subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Workqueue,
      duplicate_window: DUPLICATE_WINDOW_NS,
    };
    try {
      await jsm.streams.info(this.names.stream);
      await jsm.streams.update(this.names.stream, {
        subjects: stream.subjects,
        duplicate_window: stream.duplicate_window,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add({ name: this.names.stream, ...stream });
    }
    const consumer = {
      ack_policy: AckPolicy.Explicit,
      ack_wait: this.config.ackWaitSeconds * 1_000_000_000,
      // Unlimited: the workers count deliveries themselves (EVENT_INGEST_MAX_DELIVER). Were JetStream to stop at
      // the limit, a chunk whose last delivery died with its worker (killed, or hung past the ack wait) would
      // never be seen again and its receipt would stay PROCESSING. Delivered once more, it reaches a worker
      // that records its lines as lost (QueuedIngest.process) - even after every SIEM was down meanwhile,
      // since JetStream keeps the message and its delivery count until a worker acknowledges it.
      max_deliver: -1,
    };
    try {
      await jsm.consumers.info(this.names.stream, this.names.consumer);
      await jsm.consumers.update(this.names.stream, this.names.consumer, consumer);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(this.names.stream, {
        durable_name: this.names.consumer,
        deliver_policy: DeliverPolicy.All,
        ...consumer,
      });
    }
  }

  /**
   * Hands the consumer's messages to `handle` one at a time, pulling the next only once `handle` is done with
   * the last: a worker holds the one message it is storing. (A `consume()` keeps pulling while its handler is
   * busy, so a worker hung on one chunk would gather others behind it and let their ack waits run out.)
   */
  private async consume(nc: NatsConnection, handle: (msg: JsMsg) => Promise<void>): Promise<void> {
    const consumer = await jetstream(nc).consumers.get(this.names.stream, this.names.consumer);
    while (!this.stopping) {
      const messages = await consumer.fetch({ max_messages: 1, expires: FETCH_EXPIRES_MS });
      this.messages = messages;
      // stop() may have come while the pull was being made: it closed nothing then.
      if (this.stopping) await messages.close().catch(() => undefined);
      try {
        // Ends after one message, or empty when none came before `expires`; throws when the consumer is gone
        // or its heartbeats stop (run() then connects again and re-creates what is missing).
        for await (const msg of messages) {
          try {
            await handle(msg);
          } catch (err) {
            // `handle` settles its message itself; this is a bug or the database gone: let JetStream redeliver.
            this.log.error({ err, seq: msg.seq }, "event-ingest worker failed");
            msg.nak(RECONNECT_PAUSE_MS);
          }
        }
      } finally {
        this.messages = null;
      }
    }
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}

function queueDown(): UnavailableError {
  return new UnavailableError(
    "The event-ingest queue (NATS JetStream) is not reachable: nothing was queued. Send the body again later.",
  );
}
