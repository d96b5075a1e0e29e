import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { inTenant, type Logger } from "../../../../common/src";
import { runScheduledRule } from "./rule-runner";
import { scheduleRuleRun, storedRuleFromRow } from "./rules.service";

/**
 * `rule_run`: runs one scheduled rule and schedules its next run in the same transaction, so a
 * run is never lost or doubled across restarts and replicas (graphile-worker locks the job; the
 * job key keeps one pending run per rule).
 */
export function ruleTasks(ds: DataSource, log: Logger): TaskList {
  return {
    rule_run: async (payload) => {
      const { tenantId, ruleId } = payload as { tenantId: string; ruleId: string };
      await inTenant(ds, tenantId, async (m) => {
        const rows = await m.query(
          `SELECT * FROM analytics_rules WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
          [tenantId, ruleId],
        );
        if (!rows.length || !rows[0].enabled || rows[0].kind !== "SCHEDULED") return;
        const rule = storedRuleFromRow(rows[0]);
        const result = await runScheduledRule(m, tenantId, rule, new Date());
        await scheduleRuleRun(m, tenantId, rule.id, rule.spec);
        if (result.alerts) log.info({ tenantId, ruleId, alerts: result.alerts }, "scheduled rule fired");
      });
    },
  };
}
