import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { inTenant, type Logger } from "../../../../common/src";
import { runScheduledRule } from "./rule-runner";
import { frequencyMs, scheduleRuleRun, storedRuleFromRow } from "./rules.service";

/**
 * `rule_run`: runs one scheduled rule over the window its job was scheduled for and schedules the next window in
 * the same transaction, so a run is never lost or doubled across restarts and replicas (graphile-worker locks
 * the job; the job key keeps one pending run per rule). The window is the job's, not the clock's: a run that
 * starts late (busy or stopped workers) still covers [windowEnd − queryPeriod, windowEnd), and runs that fell
 * behind catch up window by window, so no stretch of events goes unseen.
 */
export function ruleTasks(ds: DataSource, log: Logger): TaskList {
  return {
    rule_run: async (payload) => {
      const { tenantId, ruleId, windowEnd } = payload as {
        tenantId: string;
        ruleId: string;
        windowEnd?: string;
      };
      await inTenant(ds, tenantId, async (m) => {
        const rows = await m.query(
          `SELECT * FROM analytics_rules WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
          [tenantId, ruleId],
        );
        if (!rows.length || !rows[0].enabled || rows[0].kind !== "SCHEDULED") return;
        const rule = storedRuleFromRow(rows[0]);
        // Jobs queued before windows were carried in the payload end their window when they run.
        const end = windowEnd ? new Date(windowEnd) : new Date();
        const result = await runScheduledRule(m, tenantId, rule, end);
        await scheduleRuleRun(m, tenantId, rule.id, new Date(end.getTime() + frequencyMs(rule.spec)));
        if (result.alerts) log.info({ tenantId, ruleId, alerts: result.alerts }, "scheduled rule fired");
      });
    },
  };
}
