import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { inSystemScope, inTenant, type Logger } from "../../../../common/src";
import { evaluateTenant, refreshTodaySnapshots } from "./assessment.runner";
import { reapplyExternal } from "./assessments.service";

/** Recurring posture jobs: a daily snapshot of every tenant's score (so quiet days are recorded too). */
export const POSTURE_CRONTAB = "5 0 * * * score_snapshot_daily";

/** Durable posture jobs. */
export function postureTasks(ds: DataSource, log: Logger): TaskList {
  return {
    /** An exemption reached its expiry: its assessments return to their evaluated status. */
    exemption_expired: async (payload) => {
      const { tenantId, definitionId } = payload as {
        tenantId: string;
        exemptionId: string;
        definitionId: string;
      };
      await inTenant(ds, tenantId, async (m) => {
        const external = await m.query(
          `SELECT 1 FROM external_definitions WHERE tenant_id = $1 AND id = $2`,
          [tenantId, definitionId],
        );
        if (external.length) await reapplyExternal(m, tenantId, definitionId);
        else await evaluateTenant(m, tenantId, { definitionIds: [definitionId] });
      });
      log.info({ tenantId, definitionId }, "exemption expired; assessments restored");
    },
    score_snapshot_daily: async () => {
      const tenants: Array<{ tenant_id: string }> = await inSystemScope(ds, (m) =>
        m.query(`SELECT DISTINCT tenant_id FROM score_counters`),
      );
      for (const { tenant_id } of tenants)
        await inTenant(ds, tenant_id, (m) => refreshTodaySnapshots(m, tenant_id));
    },
  };
}
