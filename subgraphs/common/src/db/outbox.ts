import type { EntityManager } from "typeorm";

/** One event, written in the same transaction as the change it describes. */
export interface OutboxEvent {
  tenantId: string;
  /** Dotted name, e.g. `inventory.resource.upserted`. */
  topic: string;
  /** The aggregate's id: consumers order and de-duplicate by it. */
  key: string;
  payload: Record<string, unknown>;
}

/** Appends events to the subgraph's outbox in the caller's transaction; one statement for any number. */
export async function writeOutbox(manager: EntityManager, events: OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await manager.query(
    `INSERT INTO outbox (tenant_id, topic, key, payload)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])`,
    [
      events.map((e) => e.tenantId),
      events.map((e) => e.topic),
      events.map((e) => e.key),
      events.map((e) => JSON.stringify(e.payload)),
    ],
  );
}
