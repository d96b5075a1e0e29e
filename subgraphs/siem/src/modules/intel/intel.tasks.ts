import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import type { Config, Logger } from "../../../../common/src";
import { SecretBox } from "../automation/secret-box";
import { pollFeed } from "./feed-poller";
import { FEED_POLL_TASK } from "./feeds.service";

/** Threat intelligence's durable jobs: `intel_feed_poll` polls one TAXII feed and queues its next poll. */
export function intelTasks(ds: DataSource, log: Logger, config: Config): TaskList {
  const deps = {
    secrets: SecretBox.fromConfig(config),
    allowPrivate: config.intelFeedAllowPrivateTargets,
    requireHttps: config.env === "production",
    log: log.child({ component: "intel-feeds" }),
  };
  return {
    [FEED_POLL_TASK]: async (payload) => {
      await pollFeed(ds, deps, payload as { tenantId: string; feedId: string });
    },
  };
}
