import type { EntityManager } from "typeorm";
import type { Identity } from "./identity";

/** One audited state change: who did what to which object. */
export interface AuditEntry {
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

/** Records state changes in the subgraph's `audit_log`, in the caller's transaction. */
export async function writeAudit(
  manager: EntityManager,
  identity: Identity,
  entries: AuditEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  await manager.query(
    `INSERT INTO audit_log (tenant_id, actor, action, target, details)
     SELECT $1, $2, a, t, d FROM unnest($3::text[], $4::text[], $5::jsonb[]) AS x(a, t, d)`,
    [
      identity.tenantId,
      identity.subject,
      entries.map((e) => e.action),
      entries.map((e) => e.target),
      entries.map((e) => JSON.stringify(e.details ?? {})),
    ],
  );
}
