import type { DataSource } from "typeorm";
import { inSystemScope, isUuid, type Identity, type RequestDb } from "../../../../common/src";
import { EventRejection } from "./events.types";
import { IngestReceipt, type IngestReceiptStatus } from "./ingest-receipt.types";

/** Maps an `ingest_receipts` row to the GraphQL object (rejections in line order). */
export function receiptFromRow(row: Record<string, unknown>): IngestReceipt {
  const rejected = [...(row.rejected as Array<{ line: number; reason: string }>)].sort(
    (a, b) => a.line - b.line,
  );
  return Object.assign(new IngestReceipt(), {
    id: row.id,
    connector: row.connector,
    status: row.status as IngestReceiptStatus,
    lines: row.lines,
    acceptedCount: row.accepted,
    duplicateCount: row.duplicates,
    rejectedCount: row.rejected_count,
    rejected: rejected.map((r) => Object.assign(new EventRejection(), r)),
    failure: row.failure ?? null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

/** Receipts of queued ingests, as the tenant's readers and ingestors see them. */
export class IngestReceiptsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** One receipt of the tenant; null when it has none of that id. */
  async byId(id: string): Promise<IngestReceipt | null> {
    if (!isUuid(id)) return null;
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM ingest_receipts WHERE tenant_id = $1 AND id = $2`, [this.identity.tenantId, id]),
    );
    return rows[0] ? receiptFromRow(rows[0]) : null;
  }
}

/** How long a receipt is kept after its last change: a client polls it for minutes, not weeks. */
export const RECEIPT_RETENTION_DAYS = 14;

/**
 * Deletes every tenant's settled (DONE or FAILED) receipts last changed more than `days` ago (the daily event-store
 * maintenance runs it); answers how many went. A body's effect stays (its events); only the report of it goes. An
 * unsettled receipt stays however old it is: its chunks may still wait in the stream (the receipt sweep leaves a
 * backlog alone), and a worker that found no receipt would take a chunk for one already stored and drop it.
 */
export async function pruneIngestReceipts(ds: DataSource, days = RECEIPT_RETENTION_DAYS): Promise<number> {
  return inSystemScope(ds, async (m) => {
    const rows: unknown[] = await m.query(
      `WITH gone AS (DELETE FROM ingest_receipts
                      WHERE status IN ('DONE', 'FAILED') AND updated_at < now() - make_interval(days => $1)
                      RETURNING id)
       SELECT id FROM gone`,
      [days],
    );
    return rows.length;
  });
}
