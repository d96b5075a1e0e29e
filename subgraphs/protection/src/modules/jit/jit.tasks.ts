import type { Task } from "graphile-worker";
import type { DataSource, EntityManager } from "typeorm";
import { addJob, inSystemScope, inTenant, type Identity, type Logger } from "../../../../common/src";
import {
  DUE_SQL,
  JIT_EXPIRE_TASK,
  jitJobKey,
  recordRequestStep,
  requestFromRow,
  updateRequests,
} from "./jit.service";
import { PENDING_REQUEST_TTL_SECONDS } from "./jit.validation";

/** The safety sweep runs every minute; each request's own job normally closes it first. */
export const JIT_CRONTAB = "* * * * * jit_expiry_sweep";

/** Requests expired per statement (the sweep repeats until none is left). */
const SWEEP_BATCH = 500;

/** Who the audit trail names for expiries. */
const systemIdentity = (tenantId: string): Identity => ({ tenantId, subject: "system", roles: [] });

/**
 * Marks a tenant's due requests EXPIRED (grants past their end, requests unanswered for 24 hours) and records
 * each expiry once: audit entry and `jit.request.expired` event in the same transaction as the status change.
 *
 * Exactly once in effect: the UPDATE only matches rows still APPROVED or PENDING, and Postgres re-checks that
 * condition on the newest row version after waiting for a concurrent writer, so of two runners (two replicas,
 * a retried job, the sweep and the job) only one changes a given row and records it; SKIP LOCKED lets the
 * other pass over rows being changed instead of waiting.
 */
export async function expireDueRequests(m: EntityManager, tenantId: string): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await updateRequests(
      m,
      `UPDATE jit_requests r SET status = 'EXPIRED', expired_at = now()
       WHERE r.tenant_id = $1 AND ${DUE_SQL} AND r.id IN (
         SELECT r.id FROM jit_requests r WHERE r.tenant_id = $1 AND ${DUE_SQL}
         ORDER BY r.id LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [tenantId, SWEEP_BATCH],
    );
    await recordRequestStep(
      m,
      systemIdentity(tenantId),
      rows.map((row) => ({
        request: requestFromRow(row),
        step: "expired" as const,
        details: { reason: row.decided_at ? "ACCESS_ENDED" : "UNANSWERED" },
      })),
    );
    total += rows.length;
    if (rows.length < SWEEP_BATCH) return total;
  }
}

/** Durable JIT jobs: each request's expiry, and a per-minute safety sweep. */
export function jitTasks(
  ds: DataSource,
  log: Logger,
): Record<typeof JIT_EXPIRE_TASK | "jit_expiry_sweep", Task> {
  return {
    /**
     * A request reached its end. Expires it (and any other overdue request of the tenant). If it is still
     * open and not yet due — the job ran early — it is scheduled again at its end; the row lock makes that
     * wait for a concurrent approval, whose own job then wins.
     */
    [JIT_EXPIRE_TASK]: async (payload) => {
      const { tenantId, requestId } = payload as { tenantId: string; requestId: string };
      await inTenant(ds, tenantId, async (m) => {
        const expired = await expireDueRequests(m, tenantId);
        const [open]: Array<{ due_at: Date | null }> = await m.query(
          `SELECT CASE status WHEN 'APPROVED' THEN expires_at
                  WHEN 'PENDING' THEN requested_at + make_interval(secs => $3) END AS due_at
           FROM jit_requests WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
          [tenantId, requestId, PENDING_REQUEST_TTL_SECONDS],
        );
        if (open?.due_at)
          await addJob(
            m,
            "protection",
            JIT_EXPIRE_TASK,
            { tenantId, requestId },
            { runAt: open.due_at, jobKey: jitJobKey(requestId) },
          );
        if (expired) log.info({ tenantId, requestId, expired }, "JIT access expired");
      });
    },
    /** Catches anything a job missed (a job removed by hand, or exhausted by database errors). */
    jit_expiry_sweep: async () => {
      const tenants: Array<{ tenant_id: string }> = await inSystemScope(ds, (m) =>
        m.query(`SELECT DISTINCT r.tenant_id FROM jit_requests r WHERE ${DUE_SQL}`),
      );
      for (const { tenant_id } of tenants) {
        const expired = await inTenant(ds, tenant_id, (m) => expireDueRequests(m, tenant_id));
        if (expired) log.info({ tenantId: tenant_id, expired }, "JIT sweep expired overdue requests");
      }
    },
  };
}
