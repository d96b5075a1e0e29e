/*
 * The receipt sweep (EVENT_INGEST_QUEUE=nats). A receipt stays QUEUED or PROCESSING until every chunk of its body
 * is settled by a worker: stored, or given up with its lines named. A chunk that never reaches a worker's
 * settling code would leave it open for good: a message dropped because its signature does not verify (a
 * secret rotated without INTERNAL_TOKEN_SECRET_PREVIOUS, or a message someone made up), or one lost or purged
 * from the stream. Such a message cannot be trusted to name its receipt, so the workers never mark one by it;
 * the sweep instead ends, across tenants, every receipt that
 *
 * - has made no progress for longer than a chunk's deliveries can take (the deadline: EVENT_INGEST_ACK_WAIT_SECONDS
 *   × EVENT_INGEST_MAX_DELIVER plus RECEIPT_SWEEP_MARGIN_SECONDS), and
 * - whose messages the stream no longer holds: all below the stream's first sequence (acknowledged, dropped or
 *   purged; a work queue removes what is acknowledged), or above its last (the stream was made again). A body
 *   that waits in a backlog, however long, keeps its messages in the stream and is left alone.
 *
 * The chunks it gives up join `chunks_done` in the same statement, so a message that turns up after all (a
 * stream restored from a backup) is acknowledged unread: the receipt's word stands.
 */
import type { DataSource } from "typeorm";
import { inSystemScope, type EventQueueConfig } from "../../../../common/src";
import type { StreamBounds } from "./nats-queue";

/**
 * What the deadline adds to a chunk's deliveries (EVENT_INGEST_ACK_WAIT_SECONDS × EVENT_INGEST_MAX_DELIVER): the
 * pauses between deliveries (1 s doubling to 30 s each), the delivery after the last that gives a chunk up, and
 * a body's wait while its other parts are being queued.
 */
export const RECEIPT_SWEEP_MARGIN_SECONDS = 300;

/** Receipts ended per run (the oldest first); the next run, a minute later, takes the rest. */
const SWEEP_BATCH = 1000;

/** How long a receipt may go without progress before the sweep may end it. */
export function receiptDeadlineSeconds(
  queue: Pick<EventQueueConfig, "ackWaitSeconds" | "maxDeliver">,
): number {
  return queue.ackWaitSeconds * queue.maxDeliver + RECEIPT_SWEEP_MARGIN_SECONDS;
}

/** A receipt the sweep ended FAILED: which, and how many parts of its body were never processed. */
export interface SweptReceipt {
  tenantId: string;
  id: string;
  /** Parts (queue messages) of the body never stored nor given up by a worker. */
  missingChunks: number;
  chunks: number;
}

/** "12 minutes", "90 seconds": the deadline as the receipt's reason names it. */
export function describeSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} seconds`;
}

/**
 * Ends FAILED every open receipt of a wholly queued body that has not moved for `deadlineSeconds` and whose
 * messages lie outside `bounds` (the stream's sequences now), in every tenant; answers them. Receipts queued
 * before their last sequence was recorded are judged by the deadline alone.
 */
export async function sweepStalledReceipts(
  ds: DataSource,
  bounds: StreamBounds,
  deadlineSeconds: number,
): Promise<SweptReceipt[]> {
  const reason =
    "%s of %s parts of this body were not processed within " +
    describeSeconds(deadlineSeconds) +
    " and the queue no longer holds them (dropped or lost): their lines were not stored. Send the body again; records stored already count as duplicates.";
  const rows: Array<{ tenant_id: string; id: string; missing: number; chunks: number }> = await inSystemScope(
    ds,
    (m) =>
      m.query(
        `WITH stalled AS (
           SELECT tenant_id, id, chunks - cardinality(chunks_done) AS missing
             FROM ingest_receipts
            WHERE status IN ('QUEUED', 'PROCESSING') AND enqueued AND cardinality(chunks_done) < chunks
              AND updated_at < now() - make_interval(secs => $1)
              AND (last_seq IS NULL OR last_seq < $2 OR last_seq > $3)
            ORDER BY updated_at LIMIT $5
              FOR UPDATE SKIP LOCKED),
         swept AS (
           UPDATE ingest_receipts r SET status = 'FAILED', updated_at = now(),
                  chunks_done = ARRAY(SELECT generate_series(0, r.chunks - 1)),
                  failure = format($4::text, s.missing, r.chunks)
             FROM stalled s WHERE r.tenant_id = s.tenant_id AND r.id = s.id
           RETURNING r.tenant_id, r.id, s.missing, r.chunks)
         SELECT tenant_id, id, missing, chunks FROM swept ORDER BY tenant_id, id`,
        [deadlineSeconds, bounds.first, bounds.last, reason, SWEEP_BATCH],
      ),
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, id: r.id, missingChunks: r.missing, chunks: r.chunks }));
}
