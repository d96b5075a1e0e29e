import {
  migrateDown,
  migrateUp,
  migrationTarget,
  provisionDatabase,
  settleOutboxAfterRestore,
  type Config,
  type Logger,
  type SubgraphModule,
  type BaseContext,
} from "../../subgraphs/common/src";
import { postureSubgraph } from "../../subgraphs/posture/src";
import { protectionSubgraph } from "../../subgraphs/protection/src";
import { siemSubgraph } from "../../subgraphs/siem/src";

/** The three subgraphs in start order. */
export const SUBGRAPH_MODULES: ReadonlyArray<SubgraphModule<BaseContext>> = [
  postureSubgraph as unknown as SubgraphModule<BaseContext>,
  protectionSubgraph as unknown as SubgraphModule<BaseContext>,
  siemSubgraph as unknown as SubgraphModule<BaseContext>,
];

/**
 * Creates roles and schemas (when allowed), runs every subgraph's migrations as its own role, then
 * settles the outboxes after a logical restore: rebases positions left ahead of this server's
 * transaction ids, and starts a new cursor epoch for an outbox restored from elsewhere (both refused
 * while services are connected); records each outbox's identity the first time.
 */
export async function migrateAll(config: Config, log: Logger): Promise<void> {
  if (!config.databaseUrl) throw new Error("migrateAll needs config.databaseUrl");
  await provisionDatabase(config.databaseUrl, {
    rolePrefix: config.db.rolePrefix,
    rolePasswords: config.db.rolePasswords,
    log,
  });
  for (const module of SUBGRAPH_MODULES)
    await migrateUp(config.databaseUrl, migrationTarget(module, config, log), log);
  await settleOutboxAfterRestore(config.databaseUrl, { rolePrefix: config.db.rolePrefix, log });
}

/** Undoes every subgraph's migrations (newest subgraph first). */
export async function migrateAllDown(config: Config, log: Logger): Promise<void> {
  for (const module of [...SUBGRAPH_MODULES].reverse())
    await migrateDown(migrationTarget(module, config, log), log);
}
