import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import { inSystemScope, OUTBOX_RETENTION_DAYS, type Config, type Logger } from "../../../../common/src";
import { handleAutomationEvent, type AutomationEvent } from "./automation-engine";
import { AUTOMATION_EVENT_TASK } from "./automation.relay";
import { attemptPlaybookRun, PLAYBOOK_RUN_TASK, type PlaybookRunnerDeps } from "./playbook-runner";
import { SecretBox } from "./secret-box";

/** Daily clean-up of automation's bookkeeping. */
export const AUTOMATION_CRONTAB = "30 3 * * * automation_prune";

/** How long automation rule runs and playbook runs are kept. */
export const AUTOMATION_HISTORY_DAYS = 90;

/** What a playbook attempt needs from the service's configuration. */
export function playbookRunnerDeps(config: Config, log: Logger): PlaybookRunnerDeps {
  return {
    secrets: new SecretBox(config.internalTokenSecret),
    allowPrivate: config.playbookAllowPrivateTargets,
    requireHttps: config.env === "production",
    log: log.child({ component: "playbooks" }),
  };
}

/**
 * Automation's durable jobs: `automation_event` runs the rules of one outbox event (enqueued by the automation
 * relay), `playbook_run` makes one attempt of a playbook run, `automation_prune` forgets handled-event marks
 * once the outbox can no longer hand those events out again, and history past AUTOMATION_HISTORY_DAYS.
 */
export function automationTasks(ds: DataSource, log: Logger, config: Config): TaskList {
  const deps = playbookRunnerDeps(config, log);
  const automationLog = log.child({ component: "automation" });
  return {
    [AUTOMATION_EVENT_TASK]: async (payload) => {
      await handleAutomationEvent(ds, automationLog, payload as AutomationEvent);
    },
    [PLAYBOOK_RUN_TASK]: async (payload) => {
      await attemptPlaybookRun(ds, deps, payload as { tenantId: string; runId: string });
    },
    automation_prune: async () => {
      await inSystemScope(ds, async (m) => {
        // A mark is needed while its event's job may still run again: the outbox keeps an unread event (the
        // relay's offset holds it back), and graphile-worker retries a job for far less than this.
        await m.query(`DELETE FROM automation_events WHERE handled_at < now() - make_interval(days => $1)`, [
          OUTBOX_RETENTION_DAYS * 2,
        ]);
        await m.query(`DELETE FROM automation_runs WHERE created_at < now() - make_interval(days => $1)`, [
          AUTOMATION_HISTORY_DAYS,
        ]);
        await m.query(`DELETE FROM playbook_runs WHERE completed_at < now() - make_interval(days => $1)`, [
          AUTOMATION_HISTORY_DAYS,
        ]);
      });
    },
  };
}
