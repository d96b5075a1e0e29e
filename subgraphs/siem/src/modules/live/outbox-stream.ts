import type { DataSource, EntityManager } from "typeorm";
import {
  encodeOutboxCursor,
  inTenant,
  outboxHasHeldRows,
  outboxStart,
  readOutbox,
  type OutboxListener,
  type OutboxPosition,
  type OutboxRecord,
  StreamPosition,
} from "../../../../common/src";

/** Tuning of an outbox stream. */
export interface OutboxStreamOptions {
  /** Rows read per query. */
  batchSize: number;
  /** Re-read after this long without a wake-up (a lost NOTIFY costs at most this much latency). */
  idlePollMs: number;
  /** Re-read this soon when committed rows wait behind an older, still running transaction. */
  heldPollMs: number;
}

export const DEFAULT_STREAM_OPTIONS: OutboxStreamOptions = {
  batchSize: 200,
  idlePollMs: 5000,
  heldPollMs: 50,
};

/**
 * A tenant's outbox rows of some topics, in order, from a position on: first every row already
 * there (replay), then rows as they commit (woken by the listener, the outbox being the truth).
 * `transform` turns each batch into the values to yield (loading and filtering in one query per
 * batch); the position advances past rows it drops too. When the position moves past what the last
 * value yielded names (its start, or rows `transform` dropped), a `StreamPosition` follows, so its
 * consumer can resume from there. Cursors carry `epoch`, the current outbox numbering's (`outboxEpoch`).
 * `return()` ends it at once, even mid-wait.
 */
export class OutboxStream<T extends { cursor: string }> implements AsyncIterableIterator<T | StreamPosition> {
  private buffer: Array<T | StreamPosition> = [];
  /** The cursor of the last value or position handed out. */
  private announced?: string;
  private position?: OutboxPosition;
  /** Started without a position: what had committed then, which this stream never yields. */
  private committedBefore?: string;
  private woken = true;
  private closed = false;
  private waiter?: () => void;
  private readonly unlisten: () => void;

  constructor(
    private readonly ds: DataSource,
    listener: OutboxListener,
    private readonly tenantId: string,
    private readonly topics: readonly string[],
    after: OutboxPosition | null,
    private readonly epoch: string | null,
    private readonly transform: (m: EntityManager, rows: OutboxRecord[]) => Promise<T[]>,
    private readonly options: OutboxStreamOptions = DEFAULT_STREAM_OPTIONS,
    private readonly onClose?: () => void,
  ) {
    this.position = after ?? undefined;
    this.unlisten = listener.listen(tenantId, () => this.wake());
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T | StreamPosition> {
    return this;
  }

  async next(): Promise<IteratorResult<T | StreamPosition>> {
    while (!this.closed) {
      const value = this.buffer.shift();
      if (value !== undefined) return { done: false, value };
      await this.fill();
    }
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<T | StreamPosition>> {
    this.close();
    return { done: true, value: undefined };
  }

  async throw(err?: unknown): Promise<IteratorResult<T | StreamPosition>> {
    this.close();
    throw err;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unlisten();
    this.wake();
    this.onClose?.();
  }

  private wake(): void {
    this.woken = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** One read; waits for a wake-up (or a poll interval) when there was nothing to yield. */
  private async fill(): Promise<void> {
    this.woken = false;
    const { full, values, held, at } = await inTenant(this.ds, this.tenantId, async (m) => {
      if (!this.position) {
        const start = await outboxStart(m);
        this.position = start.after;
        this.committedBefore = start.committedBefore;
      }
      const from = this.position;
      const rows = await readOutbox(m, {
        after: from,
        topics: this.topics,
        limit: this.options.batchSize,
        committedBefore: this.committedBefore,
        epoch: this.epoch,
      });
      const values = rows.length ? await this.transform(m, rows) : [];
      const to = rows.length ? rows[rows.length - 1].position : from;
      const full = rows.length === this.options.batchSize;
      const held = !full && (await outboxHasHeldRows(m, to, this.topics));
      this.position = to;
      return { full, values, held, at: encodeOutboxCursor(to, this.epoch) };
    });
    if (this.closed) return;
    this.buffer.push(...values);
    if (values.length) this.announced = values[values.length - 1].cursor;
    const moved = at !== this.announced;
    if (moved) {
      this.buffer.push(new StreamPosition(at));
      this.announced = at;
    }
    if (full || moved || values.length > 0 || this.woken) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, held ? this.options.heldPollMs : this.options.idlePollMs);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
