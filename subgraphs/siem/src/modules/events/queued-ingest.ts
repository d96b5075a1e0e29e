/*
 * The queued event ingest (EVENT_INGEST_QUEUE=nats). `POST /ingest/events` records a receipt, cuts the NDJSON
 * body at line boundaries into JetStream messages and answers 202 once JetStream has persisted every one; the
 * SIEM's ingest workers (a durable pull consumer shared by the replicas) store each message through the same
 * EventIngest as the synchronous path and acknowledge it after that transaction commits.
 *
 * Delivery is at least once; the effect is once:
 * - a message's events and its receipt update commit in one transaction, and the receipt lists the chunks
 *   stored: a message delivered again after the commit (its ack lost, the worker gone) is acknowledged unread;
 * - a message delivered again after a rollback is stored then, and (tenant, connector, source event id, time)
 *   de-duplication keeps any event stored twice out, so NRT rules and TI matching run once per event;
 * - a chunk is signed (HMAC-SHA256 over its headers and body, with a key derived from INTERNAL_TOKEN_SECRET):
 *   a worker drops, unread, a message that whoever can publish on the subject made up or altered, so the
 *   tenant, principal and roles it names are the ones the SIEM verified; during a rotation a worker also takes
 *   a chunk signed with the key of INTERNAL_TOKEN_SECRET_PREVIOUS (a replica not yet restarted, or a chunk
 *   queued before the restart), so no chunk is lost to a rolling restart;
 * - a body the queue took only in part is answered 503 and its receipt FAILED before the workers may start on
 *   it (they wait for `enqueued`), so nothing of it is stored; sent again, it is queued again as a whole;
 * - every chunk ends in its receipt's `chunks_done`, stored or given up (its lines named in `failure`), and
 *   only one of the two can commit: a chunk given up while a hung worker still holds it is not stored when
 *   that worker wakes (its receipt update finds the chunk settled and rolls the events back).
 *
 * The workers count deliveries (EVENT_INGEST_MAX_DELIVER), not JetStream (its consumer delivers without
 * limit): the delivery after the last one means that the last one ended without an outcome, its worker killed
 * or hung past the ack wait, and the worker it reaches gives the chunk up without reading it.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import type { DataSource, EntityManager } from "typeorm";
import {
  BadUserInputError,
  ConflictError,
  countPreviousSecretUse,
  inTenant,
  newId,
  Role,
  type BackgroundWork,
  type Identity,
  type Logger,
} from "../../../../common/src";
import { parseNdjson } from "../connectors/normalizers";
import { CONNECTOR_KINDS, type ConnectorKind } from "./event.model";
import {
  assertConnectorEnabled,
  ConnectorDisabledError,
  countIngest,
  type EventIngest,
  type EventRejection,
  type IngestResult,
} from "./event-ingest";
import type { NatsEventQueue, QueueMessage, StreamBounds } from "./nats-queue";
import { chunkNdjson } from "./ndjson-chunks";
import { countChunk, countLines, observeIngestQueue } from "./queue-metrics";

/** The 202 answer of a queued ingest. */
export interface QueuedAnswer {
  receiptId: string;
  status: "QUEUED" | "PROCESSING" | "DONE" | "FAILED";
  lines: number;
}

/** Headers of a queued chunk: who sent it, for which tenant and connector, and where it lies in the body. */
export const CHUNK_HEADERS = {
  tenant: "Rampart-Tenant",
  connector: "Rampart-Connector",
  principal: "Rampart-Principal",
  roles: "Rampart-Roles",
  receipt: "Rampart-Receipt",
  attempt: "Rampart-Attempt",
  chunk: "Rampart-Chunk",
  firstLine: "Rampart-First-Line",
  signature: "Rampart-Signature",
} as const;

/** An Idempotency-Key: 1 to 200 visible ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
/** A receipt whose queueing started this long ago and never finished was abandoned (its SIEM died). */
const ABANDONED_AFTER = "2 minutes";
/** First delay before a failed message is delivered again; doubled per delivery, at most 30 s. */
const RETRY_BASE_MS = 1_000;
/** How long a worker keeps a chunk whose body is still being queued (a nak would count as an attempt). */
const HOLD_WHILE_QUEUEING_MS = 3_000;
/** How often a worker keeping such a chunk looks at its receipt again (and extends its ack deadline). */
const NOT_YET_QUEUED_POLL_MS = 100;
/** Delay before a chunk whose body was still not wholly queued after HOLD_WHILE_QUEUEING_MS is delivered again. */
const NOT_YET_QUEUED_MS = 500;

/** Thrown inside a chunk's transaction when its receipt already has it (or dropped it): rolls the chunk back. */
class ChunkSettled extends Error {}

/** A chunk as its headers describe it. */
interface ChunkMeta {
  identity: Identity;
  connector: ConnectorKind;
  receiptId: string;
  attempt: number;
  chunk: number;
  firstLine: number;
}

/** Checks an Idempotency-Key header; undefined when none was sent. */
export function idempotencyKey(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !IDEMPOTENCY_KEY.test(value))
    throw new BadUserInputError("Idempotency-Key must be 1 to 200 visible ASCII characters.");
  return value;
}

/** The key that signs queued chunks: derived from the internal token secret every SIEM replica shares. */
export function chunkSigningKey(internalTokenSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", internalTokenSecret, "", "rampart event-ingest queue chunk", 32));
}

/** The signature of a chunk: every header it is read by, then its body. */
export function signChunk(key: Buffer, h: MsgHdrs, data: Uint8Array): string {
  const mac = createHmac("sha256", key);
  for (const name of SIGNED_HEADERS) mac.update(`${name}:${h.get(name)}\n`);
  return mac.update(data).digest("hex");
}

/** Whether a chunk carries the signature `key` gives it. */
function signedChunk(key: Buffer, h: MsgHdrs, data: Uint8Array): boolean {
  const given = Buffer.from(h.get(CHUNK_HEADERS.signature), "utf8");
  const expected = Buffer.from(signChunk(key, h, data), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The keys that sign chunks: `current` signs and verifies; `previous`, during a rotation, only verifies. */
export interface ChunkSigningKeys {
  current: Buffer;
  previous?: Buffer;
}

/** Which key signed a chunk, or null when neither did. */
function chunkSigner(keys: ChunkSigningKeys, h: MsgHdrs, data: Uint8Array): "current" | "previous" | null {
  if (signedChunk(keys.current, h, data)) return "current";
  return keys.previous && signedChunk(keys.previous, h, data) ? "previous" : null;
}

/** The headers a signature covers: all but itself. */
const SIGNED_HEADERS = Object.values(CHUNK_HEADERS).filter((n) => n !== CHUNK_HEADERS.signature);

/** Queues NDJSON bodies with receipts, and stores queued chunks (the ingest worker). */
export class QueuedIngest {
  constructor(
    private readonly ds: DataSource,
    private readonly ingestor: EventIngest,
    private readonly queue: NatsEventQueue,
    private readonly options: { maxDeliver: number; log: Logger; signingKeys: ChunkSigningKeys },
  ) {}

  /**
   * Queues `body` and answers its receipt once JetStream holds every chunk. With an Idempotency-Key already
   * queued for the tenant, answers that receipt and queues nothing. Throws UnavailableError (nothing queued
   * that will be stored) when NATS cannot be reached, ConflictError while the same key is being queued.
   */
  async accept(identity: Identity, kind: ConnectorKind, body: string, key?: string): Promise<QueuedAnswer> {
    const tenantId = identity.tenantId;
    // Checked before anything is recorded: NATS down leaves no receipt behind.
    this.queue.assertAvailable();
    const max = this.queue.maxChunkBytes();
    const { lines, chunks, oversized } = chunkNdjson(body, max);
    const rejected: EventRejection[] = oversized.map((o) => ({
      line: o.line,
      reason: `the line is ${o.bytes} bytes, more than one queue message holds (${max})`,
    }));
    // A connector an ADMIN disabled is refused before anything is recorded (409), as the synchronous path does.
    const opened = await inTenant(this.ds, tenantId, async (m) => {
      await assertConnectorEnabled(m, tenantId, kind);
      return this.open(m, identity, kind, { lines, chunks: chunks.length, rejected, key });
    });
    if ("existing" in opened) return opened.existing;
    const { receiptId, attempt } = opened;
    const keyHash = key === undefined ? null : hashKey(tenantId, key);
    const messages: QueueMessage[] = chunks.map((c, index) => {
      const h = natsHeaders();
      h.set(CHUNK_HEADERS.tenant, encodeURIComponent(tenantId));
      h.set(CHUNK_HEADERS.connector, kind);
      h.set(CHUNK_HEADERS.principal, encodeURIComponent(identity.subject));
      h.set(CHUNK_HEADERS.roles, identity.roles.join(","));
      h.set(CHUNK_HEADERS.receipt, receiptId);
      h.set(CHUNK_HEADERS.attempt, String(attempt));
      h.set(CHUNK_HEADERS.chunk, String(index));
      h.set(CHUNK_HEADERS.firstLine, String(c.firstLine));
      const data = Buffer.from(c.text, "utf8");
      h.set(CHUNK_HEADERS.signature, signChunk(this.options.signingKeys.current, h, data));
      // The same key, attempt and chunk is the same message: JetStream keeps one (a publish retried after a
      // lost PubAck, two requests racing with one key).
      return {
        data,
        headers: h,
        msgId: `${keyHash ?? receiptId}:${attempt}:${index}`,
      };
    });
    let lastSeq: number;
    try {
      lastSeq = await this.queue.publish(messages);
    } catch (err) {
      await inTenant(this.ds, tenantId, (m) =>
        m.query(
          `UPDATE ingest_receipts SET status = 'FAILED', updated_at = now(),
                  failure = 'The queue did not take the whole body: nothing of it was stored. Send it again.'
            WHERE tenant_id = $1 AND id = $2 AND attempt = $3 AND NOT enqueued`,
          [tenantId, receiptId, attempt],
        ),
      ).catch((e: unknown) => this.options.log.error({ err: e, receiptId }, "receipt not marked FAILED"));
      throw err;
    }
    const status = await inTenant(this.ds, tenantId, async (m) => {
      // Not when the workers gave the body up meanwhile (its chunks' deliveries ran out while it was being
      // queued): it stays FAILED, "nothing of it was stored", and they drop what is left of it.
      const [updated]: Array<{ status: QueuedAnswer["status"] }> = await m.query(
        `WITH queued AS (
           UPDATE ingest_receipts SET enqueued = true, updated_at = now(), last_seq = $4,
                  status = CASE WHEN chunks = 0 THEN 'DONE' ELSE status END
            WHERE tenant_id = $1 AND id = $2 AND attempt = $3 AND NOT enqueued AND status <> 'FAILED'
            RETURNING status)
         SELECT status FROM queued`,
        [tenantId, receiptId, attempt, messages.length ? lastSeq : null],
      );
      if (!updated) return "FAILED";
      // The lines too long to queue are rejections no worker sees: the connector counts them here, with the
      // receipt, once the body is taken for good (a body answered 503 is sent again, and counted then).
      if (rejected.length) await countIngest(m, identity, kind, { rejected: rejected.length });
      return updated.status;
    });
    if (status !== "FAILED") countLines("rejected", rejected.length);
    return { receiptId, status, lines };
  }

  /** Records a new receipt, or finds the one of the Idempotency-Key (taking it over when its queueing failed). */
  private async open(
    m: EntityManager,
    identity: Identity,
    kind: ConnectorKind,
    body: { lines: number; chunks: number; rejected: EventRejection[]; key?: string },
  ): Promise<{ receiptId: string; attempt: number } | { existing: QueuedAnswer }> {
    const values = [
      identity.tenantId,
      newId(),
      kind,
      identity.subject,
      body.key ?? null,
      body.lines,
      body.chunks,
      body.rejected.length,
      JSON.stringify(body.rejected),
    ];
    const [created]: Array<{ id: string; attempt: number }> = await m.query(
      `INSERT INTO ingest_receipts
         (tenant_id, id, connector, principal, idempotency_key, lines, chunks, rejected_count, rejected)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
       ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id, attempt`,
      values,
    );
    if (created) return { receiptId: created.id, attempt: created.attempt };
    const [prior]: Array<{
      id: string;
      connector: string;
      status: QueuedAnswer["status"];
      enqueued: boolean;
      lines: number;
      abandoned: boolean;
    }> = await m.query(
      `SELECT id, connector, status, enqueued, lines, updated_at < now() - interval '${ABANDONED_AFTER}' AS abandoned
         FROM ingest_receipts WHERE tenant_id = $1 AND idempotency_key = $2 FOR UPDATE`,
      [identity.tenantId, body.key],
    );
    if (prior.connector !== kind)
      throw new BadUserInputError(
        `This Idempotency-Key was used for a ${prior.connector} body; use a new key for another body.`,
      );
    if (prior.enqueued)
      return { existing: { receiptId: prior.id, status: prior.status, lines: prior.lines } };
    if (prior.status !== "FAILED" && !prior.abandoned)
      throw new ConflictError(
        "A request with this Idempotency-Key is being queued; send it again once that one has been answered.",
      );
    // Queueing it failed or was abandoned: queue this body as a new attempt (the workers drop older ones).
    const [again]: Array<{ id: string; attempt: number }> = await m.query(
      `WITH again AS (
         UPDATE ingest_receipts SET attempt = attempt + 1, status = 'QUEUED', failure = NULL, principal = $3,
                lines = $4, chunks = $5, chunks_done = '{}', accepted = 0, duplicates = 0,
                rejected_count = $6, rejected = $7::jsonb, created_at = now(), updated_at = now()
          WHERE tenant_id = $1 AND id = $2 RETURNING id, attempt)
       SELECT id, attempt FROM again`,
      [
        identity.tenantId,
        prior.id,
        identity.subject,
        body.lines,
        body.chunks,
        body.rejected.length,
        JSON.stringify(body.rejected),
      ],
    );
    return { receiptId: again.id, attempt: again.attempt };
  }

  /**
   * Connects to NATS and starts the ingest worker of this process, and exposes the queue's gauges on
   * `/metrics` (both stopped with the SIEM).
   */
  start(): BackgroundWork {
    const unobserve = observeIngestQueue(this.ds, this.queue, this.options.log);
    const worker = this.queue.start((msg) => this.process(msg));
    return {
      stop: async () => {
        unobserve();
        await worker.stop();
      },
    };
  }

  /** The stream's sequences now, for the receipt sweep; null while NATS is not reachable. */
  streamBounds(): Promise<StreamBounds | null> {
    return this.queue.bounds();
  }

  /** Why ingest would answer 503 now (NATS not reachable), for `/ready`; null when it can queue. */
  notReady(): string | null {
    return this.queue.notReady();
  }

  /**
   * The ingest worker: stores one queued chunk through EventIngest and acknowledges it after the commit, or
   * has it delivered again (after a pause growing with each delivery); on its last delivery a chunk that still
   * fails marks its receipt FAILED, naming its lines, and so does a delivery after the last (that one ended
   * without an outcome).
   */
  async process(msg: JsMsg): Promise<void> {
    const signer = msg.headers ? chunkSigner(this.options.signingKeys, msg.headers, msg.data) : null;
    if (!signer) {
      // Its headers are not to be trusted, so no receipt is touched: the receipt sweep ends the receipt it was
      // part of, if any, once the stream holds none of that body's messages. One line per message, with its
      // stream sequence, to set beside the receipts the sweep ends.
      this.options.log.error(
        { stream: msg.info.stream, seq: msg.seq },
        "event-ingest queue: a message not signed by a SIEM, dropped",
      );
      // Acknowledged, so that it leaves the work queue (a terminated message would stay in it).
      msg.ack();
      countChunk("dropped");
      return;
    }
    if (signer === "previous") countPreviousSecretUse("ingest-chunk");
    const meta = chunkMeta(msg.headers);
    if (!meta) {
      this.options.log.error(
        { stream: msg.info.stream, seq: msg.seq },
        "event-ingest queue: a message without valid chunk headers, dropped",
      );
      // Acknowledged like an unsigned one: a terminated message would stay in the work queue, and the stream's
      // first sequence with it (the receipt sweep waits for the stream to have moved past a body's messages).
      msg.ack();
      countChunk("dropped");
      return;
    }
    const { identity, receiptId, attempt, chunk } = meta;
    const deliveries = msg.info.deliveryCount;
    const last = deliveries >= this.options.maxDeliver;
    let state = await this.chunkState(meta);
    // The rest of the body is still being queued (its 202 not yet sent): a matter of milliseconds, as a rule.
    // The worker waits for it with the message in hand, since handing it back would count as an attempt.
    for (
      const until = Date.now() + HOLD_WHILE_QUEUEING_MS;
      state?.attempt === attempt && !state.enqueued && state.status !== "FAILED" && Date.now() < until;
      state = await this.chunkState(meta)
    ) {
      await sleep(NOT_YET_QUEUED_POLL_MS);
      msg.working();
    }
    // Stored already, or of a body whose queueing failed (or was sent again since): nothing to do.
    if (!state || state.attempt !== attempt || state.done || (!state.enqueued && state.status === "FAILED")) {
      msg.ack();
      countChunk("duplicate");
      return;
    }
    const text = new TextDecoder().decode(msg.data);
    const lastLine = meta.firstLine + countNewlines(text);
    if (!state.enqueued) {
      // Still being queued after all, or abandoned (its SIEM died while queueing it).
      if (!last) return this.retry(msg, NOT_YET_QUEUED_MS);
      await this.fail(meta, "The body was never wholly queued: nothing of it was stored. Send it again.");
      // Settled: the receipt says what became of it (a terminated message would stay in the work queue).
      msg.ack();
      countChunk("failed");
      return;
    }
    if (deliveries > this.options.maxDeliver) {
      // Its last delivery ended without an outcome: the worker was killed, or hung past the ack wait (and may
      // still wake up; it then finds the chunk settled). Trying again would exceed the limit; it is given up.
      this.options.log.warn(
        { receiptId, chunk, delivery: deliveries },
        "event-ingest worker: a chunk's last delivery ended without an outcome; its lines are reported lost",
      );
      await this.fail(
        meta,
        `Lines ${meta.firstLine}–${lastLine} were not stored: the ingest worker that had them on their last attempt (${this.options.maxDeliver} of ${this.options.maxDeliver}) stopped or did not finish in time; send them again.`,
      );
      msg.ack();
      countChunk("failed");
      return;
    }
    if (state.status === "QUEUED")
      await inTenant(this.ds, identity.tenantId, (m) =>
        m.query(
          `UPDATE ingest_receipts SET status = 'PROCESSING', updated_at = now()
            WHERE tenant_id = $1 AND id = $2 AND status = 'QUEUED'`,
          [identity.tenantId, receiptId],
        ),
      );
    const records = parseNdjson(text);
    const offset = meta.firstLine - 1;
    for (const r of records) r.line += offset;
    try {
      const outcome = await this.ingestor.ingest(identity, meta.connector, records, {
        within: (m, result) => this.recordChunk(m, meta, result),
      });
      msg.ack();
      countChunk("stored");
      countLines("stored", outcome.accepted);
      countLines("duplicate", outcome.duplicates);
      countLines("rejected", outcome.rejected.length);
    } catch (err) {
      if (err instanceof ChunkSettled) {
        msg.ack();
        countChunk("duplicate");
        return;
      }
      if (err instanceof ConnectorDisabledError) {
        // Disabled after the body was queued: trying again would be refused again until an ADMIN enables it.
        await this.fail(meta, `Lines ${meta.firstLine}–${lastLine} were not stored: ${err.message}`);
        msg.ack();
        countChunk("failed");
        return;
      }
      this.options.log.error(
        { err, receiptId, chunk, delivery: deliveries },
        "event-ingest worker: a chunk failed",
      );
      if (!last) return this.retry(msg, Math.min(RETRY_BASE_MS * 2 ** (deliveries - 1), 30_000));
      await this.fail(
        meta,
        `Lines ${meta.firstLine}–${lastLine} could not be stored after ${deliveries} attempts; send them again.`,
      );
      msg.ack();
      countChunk("failed");
    }
  }

  /** Hands the chunk back to JetStream, to be delivered again after `delayMs`. */
  private retry(msg: JsMsg, delayMs: number): void {
    msg.nak(delayMs);
    countChunk("retried");
  }

  /** Where the chunk's receipt stands: its status, attempt, whether wholly queued, and whether it has the chunk. */
  private async chunkState(
    meta: ChunkMeta,
  ): Promise<{ status: string; attempt: number; enqueued: boolean; done: boolean } | undefined> {
    const [state]: Array<{ status: string; attempt: number; enqueued: boolean; done: boolean }> =
      await inTenant(this.ds, meta.identity.tenantId, (m) =>
        m.query(
          `SELECT status, attempt, enqueued, $3::int = ANY (chunks_done) AS done
             FROM ingest_receipts WHERE tenant_id = $1 AND id = $2`,
          [meta.identity.tenantId, meta.receiptId, meta.chunk],
        ),
      );
    return state;
  }

  /** Adds a stored chunk's outcome to its receipt, in the chunk's transaction (ChunkSettled if it has it). */
  private async recordChunk(m: EntityManager, meta: ChunkMeta, outcome: IngestResult): Promise<void> {
    // A CTE, so that the rows come back as rows (TypeORM answers a bare UPDATE with `[rows, count]`).
    const rows: unknown[] = await m.query(
      `WITH recorded AS (
         UPDATE ingest_receipts SET
           chunks_done = array_append(chunks_done, $4::int),
           accepted = accepted + $5, duplicates = duplicates + $6,
           rejected_count = rejected_count + $7, rejected = rejected || $8::jsonb,
           status = CASE WHEN failure IS NOT NULL THEN 'FAILED'
                         WHEN cardinality(chunks_done) + 1 >= chunks THEN 'DONE' ELSE 'PROCESSING' END,
           updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND attempt = $3 AND NOT ($4::int = ANY (chunks_done))
         RETURNING id)
       SELECT id FROM recorded`,
      [
        meta.identity.tenantId,
        meta.receiptId,
        meta.attempt,
        meta.chunk,
        outcome.accepted,
        outcome.duplicates,
        outcome.rejected.length,
        JSON.stringify(outcome.rejected),
      ],
    );
    if (rows.length === 0) throw new ChunkSettled();
  }

  /**
   * Gives the chunk up: marks the receipt FAILED with `reason` (added to any earlier one, once) and the chunk
   * settled, unless it is already (stored, or given up by a delivery before). The other chunks are still stored;
   * a worker still holding this one cannot store it any more (recordChunk finds it settled).
   */
  private async fail(meta: ChunkMeta, reason: string): Promise<void> {
    await inTenant(this.ds, meta.identity.tenantId, (m) =>
      m.query(
        `UPDATE ingest_receipts SET status = 'FAILED', chunks_done = array_append(chunks_done, $4::int),
                failure = CASE WHEN strpos(coalesce(failure, ''), $5::text) > 0 THEN failure
                               ELSE concat_ws(' ', failure, $5::text) END,
                updated_at = now()
          WHERE tenant_id = $1 AND id = $2 AND attempt = $3 AND NOT ($4::int = ANY (chunks_done))`,
        [meta.identity.tenantId, meta.receiptId, meta.attempt, meta.chunk, reason],
      ),
    );
  }
}

/** Reads a chunk's headers; null when one is missing or malformed. */
function chunkMeta(h: MsgHdrs | undefined): ChunkMeta | null {
  if (!h) return null;
  const get = (name: string) => h.get(name);
  const decoded = (name: string) => {
    try {
      return decodeURIComponent(get(name));
    } catch {
      return "";
    }
  };
  const int = (name: string) => (/^\d{1,9}$/.test(get(name)) ? Number(get(name)) : NaN);
  const connector = get(CHUNK_HEADERS.connector);
  const roles = get(CHUNK_HEADERS.roles)
    .split(",")
    .filter((r): r is Role => (Object.values(Role) as string[]).includes(r));
  const meta = {
    identity: {
      tenantId: decoded(CHUNK_HEADERS.tenant),
      subject: decoded(CHUNK_HEADERS.principal),
      roles,
    },
    connector: connector as ConnectorKind,
    receiptId: get(CHUNK_HEADERS.receipt),
    attempt: int(CHUNK_HEADERS.attempt),
    chunk: int(CHUNK_HEADERS.chunk),
    firstLine: int(CHUNK_HEADERS.firstLine),
  };
  const valid =
    meta.identity.tenantId !== "" &&
    meta.identity.subject !== "" &&
    (CONNECTOR_KINDS as readonly string[]).includes(connector) &&
    /^[0-9a-f-]{36}$/i.test(meta.receiptId) &&
    meta.attempt >= 1 &&
    meta.chunk >= 0 &&
    meta.firstLine >= 1;
  return valid ? meta : null;
}

/** A stable, opaque id of a tenant's Idempotency-Key (the key itself may be anything the client chose). */
function hashKey(tenantId: string, key: string): string {
  return createHash("sha256").update(tenantId).update("\u0000").update(key).digest("hex").slice(0, 32);
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}
