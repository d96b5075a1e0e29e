import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { inTenant, type Logger } from "../../../../common/src";
import {
  advisoryRevision,
  markFleetMatched,
  rematchBatch,
  REMATCH_BATCH,
  REMATCH_PARALLEL,
  REMATCH_TASK,
} from "./vulnerabilities.service";

/**
 * Re-matches every machine of a tenant against its advisories: `REMATCH_BATCH` machines per transaction
 * (each batch's findings and posture reports commit together), `REMATCH_PARALLEL` batches in flight. A run
 * stops as soon as the advisories move on: the import that moved them queued the next run, which starts
 * over with them. A failed run is retried from the start by graphile-worker; batches already committed
 * then find nothing to write. Machines whose first snapshot arrives during the run are matched by their
 * own inventory.
 */
export async function rematchFleet(
  ds: DataSource,
  tenantId: string,
): Promise<{ superseded: boolean; machines: number; changed: number; opened: number; fixed: number }> {
  const { revision, ids } = await inTenant(ds, tenantId, async (m) => ({
    revision: await advisoryRevision(m, tenantId),
    ids: (
      (await m.query(`SELECT resource_id FROM package_snapshots WHERE tenant_id = $1 ORDER BY resource_id`, [
        tenantId,
      ])) as Array<{ resource_id: string }>
    ).map((r) => r.resource_id),
  }));
  const total = { superseded: false, machines: 0, changed: 0, opened: 0, fixed: 0 };
  let next = 0;
  const worker = async () => {
    while (!total.superseded && next < ids.length) {
      const batch = ids.slice(next, next + REMATCH_BATCH);
      next += REMATCH_BATCH;
      const step = await inTenant(ds, tenantId, (m) => rematchBatch(m, tenantId, revision, batch)).catch(
        (error: unknown) => {
          // The other batches stop too; the job's retry starts over.
          next = ids.length;
          throw error;
        },
      );
      if (step.superseded) {
        total.superseded = true;
        return;
      }
      total.machines += step.machines;
      total.changed += step.changed;
      total.opened += step.opened;
      total.fixed += step.fixed;
    }
  };
  await Promise.all(Array.from({ length: REMATCH_PARALLEL }, worker));
  if (!total.superseded) await inTenant(ds, tenantId, (m) => markFleetMatched(m, tenantId, revision));
  return total;
}

/** Vulnerability jobs: the fleet re-match queued by `importAdvisories`. */
export function vulnerabilitiesTasks(ds: DataSource, log: Logger): TaskList {
  return {
    [REMATCH_TASK]: async (payload) => {
      const { tenantId } = payload as { tenantId: string };
      const started = performance.now();
      const result = await rematchFleet(ds, tenantId);
      log.info(
        { tenantId, ...result, seconds: Math.round(performance.now() - started) / 1000 },
        result.superseded
          ? "vulnerability re-match superseded by newer advisories"
          : "vulnerability re-match done",
      );
    },
  };
}
