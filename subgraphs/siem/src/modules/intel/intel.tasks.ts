import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import type { Config, Logger } from "../../../../common/src";
import { SecretBox } from "../automation/secret-box";
import { pollFeed } from "./feed-poller";
import { FEED_POLL_TASK } from "./feeds.service";
import {
  DEFAULT_RETRO_MATCH,
  retroMatchJobKey,
  runRetroMatch,
  TI_RETRO_MATCH_TASK,
  type RetroMatchOptions,
  type RetroMatchPayload,
} from "./retro-match";

/**
 * Threat intelligence's durable jobs: `intel_feed_poll` polls one TAXII feed and queues its next poll;
 * `intel_retro_match` matches an import's indicators against the events stored before it (retro-match.ts), a
 * bounded number of batches per run, the rest in a new job that resumes at its cursor.
 */
export function intelTasks(
  ds: DataSource,
  log: Logger,
  config: Config,
  retro: RetroMatchOptions = DEFAULT_RETRO_MATCH,
): TaskList {
  const deps = {
    secrets: SecretBox.fromConfig(config),
    allowPrivate: config.intelFeedAllowPrivateTargets,
    requireHttps: config.env === "production",
    log: log.child({ component: "intel-feeds" }),
  };
  const retroLog = log.child({ component: "intel-retro-match" });
  return {
    [FEED_POLL_TASK]: async (payload) => {
      await pollFeed(ds, deps, payload as { tenantId: string; feedId: string });
    },
    [TI_RETRO_MATCH_TASK]: async (payload, helpers) => {
      const job = payload as RetroMatchPayload;
      const result = await runRetroMatch(ds, job, config.intelRetroMatchDays, retro);
      if (result.alerts || result.cursor)
        retroLog.info(
          { tenantId: job.tenantId, importedAt: job.importedAt, ...result },
          "threat-intelligence indicators matched against stored events",
        );
      // The rest in a new job: other jobs get the worker in between, and a crash resumes from the cursor.
      if (result.cursor)
        await helpers.addJob(
          TI_RETRO_MATCH_TASK,
          { ...job, cursor: result.cursor },
          { jobKey: retroMatchJobKey(job.tenantId, job.importedAt), maxAttempts: 10 },
        );
    },
  };
}
