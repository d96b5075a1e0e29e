import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { inTenant, type Config, type Logger } from "../../../../common/src";
import { runScheduledRule } from "./rule-runner";
import { frequencyMs, scheduleRuleRun, storedRuleFromRow } from "./rules.service";

/** How far back a scheduled rule catches up after its workers were down: Sentinel's longest query period. */
export const MAX_CATCH_UP_MS = 14 * 24 * 3600_000;

/**
 * The end of the window to run for a job planned to end at `planned`: that one, unless it ended more than
 * MAX_CATCH_UP_MS ago, when the rule skips ahead, on its cadence, to the first window ending within the limit.
 * Catching up window by window after a long outage would otherwise take thousands of runs (two weeks of a
 * five-minute rule is 4,032) before the rule looked at anything current.
 */
export function catchUpWindowEnd(planned: Date, frequency: number, now: number): Date {
  const behind = now - MAX_CATCH_UP_MS - planned.getTime();
  if (behind <= 0) return planned;
  return new Date(planned.getTime() + Math.ceil(behind / frequency) * frequency);
}

/**
 * `rule_run`: runs one scheduled rule over the window its job was scheduled for and schedules the next window in
 * the same transaction, so a run is never lost or doubled across restarts and replicas (graphile-worker locks
 * the job; the job key keeps one pending run per rule). The window is the job's, not the clock's: a run that
 * starts late (busy or stopped workers) still covers [windowEnd − queryPeriod, windowEnd), and runs that fell
 * behind catch up window by window (back to MAX_CATCH_UP_MS), so no stretch of events goes unseen. A KQL rule
 * whose run saw less than its query asked for (rows past the limit, a timeout) logs why and keeps its schedule.
 */
export function ruleTasks(ds: DataSource, log: Logger, config: Pick<Config, "eventRetentionDays">): TaskList {
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
        const planned = windowEnd ? new Date(windowEnd) : new Date();
        const end = catchUpWindowEnd(planned, frequencyMs(rule.spec), Date.now());
        if (end > planned)
          log.warn(
            { tenantId, ruleId, from: planned.toISOString(), to: end.toISOString() },
            "scheduled rule fell behind by more than its catch-up limit: windows skipped",
          );
        const result = await runScheduledRule(m, tenantId, rule, end, {
          retentionDays: config.eventRetentionDays,
        });
        if (result.warning)
          log.warn(
            { tenantId, ruleId, windowEnd: end.toISOString(), warning: result.warning },
            "KQL rule run incomplete",
          );
        await scheduleRuleRun(m, tenantId, rule.id, new Date(end.getTime() + frequencyMs(rule.spec)));
        if (result.alerts) log.info({ tenantId, ruleId, alerts: result.alerts }, "scheduled rule fired");
      });
    },
  };
}
