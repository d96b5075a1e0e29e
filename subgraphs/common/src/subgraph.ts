import type { TaskList } from "graphile-worker";
import type { DataSource, MixedList, EntitySchema } from "typeorm";
import type { Config } from "./config";
import { createDataSource, inSystemScope, ReplicaSource } from "./db/data-source";
import { roleName, roleUrl, type MigrationTarget, type SubgraphName } from "./db/provision";
import { InternalTokens } from "./identity";
import { ListenError } from "./listen";
import { observeJobQueue } from "./job-metrics";
import { jobsSchema, startJobRunner } from "./jobs";
import { createLogger, type Logger } from "./logger";
import { buildFederatedSchema, type SubgraphSchemaOptions } from "./schema";
import { startSubgraphServer, type BaseContext, type SubgraphServer } from "./server";
import type { Express, RequestHandler } from "express";

/** Everything that makes one subgraph: the rest (server, identity, db, jobs) is shared. */
export interface SubgraphModule<Ctx extends BaseContext> {
  name: SubgraphName;
  schema: SubgraphSchemaOptions;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[];
  /** Adds services and DataLoaders to a request's context. */
  createContext(base: BaseContext, dataSource: DataSource, config: Config): Ctx;
  /** Durable job handlers of this subgraph (graphile-worker tasks). */
  tasks?(dataSource: DataSource, log: Logger, config: Config): TaskList;
  /** Recurring jobs, graphile-worker crontab syntax. */
  crontab?: string;
  routes?(
    app: Express,
    authenticate: RequestHandler,
    dataSource: DataSource,
    log: Logger,
    config: Config,
  ): void;
  /**
   * Loads and checks what the subgraph ships (data files…) before serving, so bad data fails the start, and
   * applies the configuration of its per-process state (caches).
   */
  prepare?(config: Config): void;
  /**
   * Starts the subgraph's long-running work (outbox listeners, relays) once its port is bound (requests
   * wait until it has started); stopped on close, after the HTTP server has drained.
   */
  start?(dataSource: DataSource, log: Logger, config: Config): Promise<BackgroundWork> | BackgroundWork;
  /**
   * Why a dependency of the module's own is down, for `/ready` (503 with this `reason`), or null; asked on each
   * probe, so it must be cheap.
   */
  notReady?(dataSource: DataSource, log: Logger, config: Config): string | null;
}

/** Long-running work of a subgraph, stopped on close. */
export interface BackgroundWork {
  stop(): Promise<void>;
}

/** How long outbox events are kept for consumers that resume by cursor. */
export const OUTBOX_RETENTION_DAYS = 7;

/** Recurring jobs every subgraph runs (graphile-worker crontab syntax, UTC), before the module's own. */
export const COMMON_CRONTAB = "0 3 * * * outbox_prune";

/** Jobs every subgraph runs (exported for tests). */
export const commonTaskList = (ds: DataSource): TaskList => commonTasks(ds);

/** Jobs every subgraph runs. */
function commonTasks(ds: DataSource): TaskList {
  return {
    outbox_prune: async () => {
      await inSystemScope(ds, async (m) => {
        // Rows a relay has not delivered yet are kept, however old: a destination down for longer
        // than the retention must still get them (no data lost).
        const [{ relays, watermarks }] = (await m.query(
          `SELECT to_regclass('relay_offsets') IS NOT NULL AS relays,
                  to_regclass('outbox_pruned') IS NOT NULL AS watermarks`,
        )) as Array<{ relays: boolean; watermarks: boolean }>;
        const prune = `DELETE FROM outbox WHERE at < now() - make_interval(days => $1)${
          relays
            ? ` AND NOT EXISTS (SELECT 1 FROM relay_offsets r WHERE (outbox.xid, outbox.seq) > (r.xid, r.seq))`
            : ""
        }`;
        // Where streams resume by cursor (the SIEM's subscriptions), the last removed position per
        // tenant and topic is kept, so a cursor from before it is refused instead of silently skipping.
        await m.query(
          watermarks
            ? `WITH gone AS (${prune} RETURNING tenant_id, topic, xid, seq),
                    last AS (SELECT DISTINCT ON (tenant_id, topic) tenant_id, topic, xid, seq
                               FROM gone ORDER BY tenant_id, topic, xid DESC, seq DESC)
               INSERT INTO outbox_pruned AS p (tenant_id, topic, xid, seq)
               SELECT tenant_id, topic, xid, seq FROM last
               ON CONFLICT (tenant_id, topic) DO UPDATE SET xid = excluded.xid, seq = excluded.seq, pruned_at = now()
                 WHERE (excluded.xid, excluded.seq) > (p.xid, p.seq)`
            : prune,
          [OUTBOX_RETENTION_DAYS],
        );
      });
    },
  };
}

/** Connection string of a subgraph's own login role. */
export function subgraphDatabaseUrl(config: Config, name: SubgraphName): string {
  if (!config.databaseUrl)
    throw new Error("DATABASE_URL is not set (the supervisor sets it for the embedded database).");
  return roleUrl(config.databaseUrl, roleName(config.db.rolePrefix, name), config.db.rolePasswords[name]);
}

/**
 * Heavy reads wait this long at most for a connection to the replica before they go to the primary: a replica
 * whose host does not answer must not hold hunts for the operating system's TCP timeout.
 */
const REPLICA_CONNECT_TIMEOUT_MS = 5000;

/**
 * The subgraph's read replica, or undefined without DATABASE_REPLICA_URL: the replica is a physical copy of the
 * primary, so the subgraph logs in with its own role and password there too; its pool is opened on first use.
 */
function replicaSource<Ctx extends BaseContext>(
  module: SubgraphModule<Ctx>,
  config: Config,
  log: Logger,
): ReplicaSource | undefined {
  if (!config.databaseReplicaUrl) return undefined;
  const dataSource = createDataSource({
    subgraph: module.name,
    url: roleUrl(
      config.databaseReplicaUrl,
      roleName(config.db.rolePrefix, module.name),
      config.db.rolePasswords[module.name],
    ),
    schema: module.name,
    entities: module.entities,
    poolSize: config.db.replicaPoolSize,
    applicationName: `rampart-${module.name}-replica`,
    acquireTimeoutMs: REPLICA_CONNECT_TIMEOUT_MS,
    logger: log,
  });
  return new ReplicaSource(dataSource, module.name, log);
}

/** The DataSource a subgraph's migrations run on (as the subgraph's role). */
export function migrationTarget<Ctx extends BaseContext>(
  module: SubgraphModule<Ctx>,
  config: Config,
  log: Logger,
): MigrationTarget {
  const url = subgraphDatabaseUrl(config, module.name);
  return {
    subgraph: module.name,
    role: roleName(config.db.rolePrefix, module.name),
    url,
    dataSource: createDataSource({
      subgraph: module.name,
      url,
      schema: module.name,
      entities: module.entities,
      migrations: module.migrations,
      poolSize: 1,
      logger: log,
    }),
  };
}

/**
 * Starts a subgraph: DataSource as its role, federated schema and HTTP server; once the port is bound,
 * its background work (the module's `start`), its job runner and its queue metrics.
 */
export async function runSubgraph<Ctx extends BaseContext>(
  module: SubgraphModule<Ctx>,
  config: Config,
  overrides: { port?: number; log?: Logger } = {},
): Promise<SubgraphServer> {
  const log = overrides.log ?? createLogger(module.name, config.logLevel);
  module.prepare?.(config);
  const url = subgraphDatabaseUrl(config, module.name);
  const dataSource = createDataSource({
    subgraph: module.name,
    url,
    schema: module.name,
    entities: module.entities,
    poolSize: config.db.poolSize,
    acquireTimeoutMs: config.db.acquireTimeoutMs,
    logger: log,
  });
  await dataSource.initialize();
  const replica = replicaSource(module, config, log);
  try {
    const schema = await buildFederatedSchema(module.schema);
    const tasks = { ...commonTasks(dataSource), ...module.tasks?.(dataSource, log, config) };
    // Started only once the server listens: a replica that cannot serve must not take jobs or relay.
    const startWork = async (): Promise<BackgroundWork[]> => {
      const background = await module.start?.(dataSource, log, config);
      try {
        const jobs = config.jobsEnabled
          ? await startJobRunner({
              url,
              schema: module.name,
              tasks,
              crontab: [COMMON_CRONTAB, module.crontab ?? ""].join("\n"),
              log,
            })
          : undefined;
        const unobserve = observeJobQueue({
          subgraph: module.name,
          dataSource,
          jobsSchema: jobsSchema(module.name),
          tasks: Object.keys(tasks),
          log,
        });
        return [
          ...(background ? [background] : []),
          ...(jobs ? [jobs] : []),
          { stop: async () => unobserve() },
        ];
      } catch (err) {
        await background?.stop();
        throw err;
      }
    };
    return await startSubgraphServer({
      name: module.name,
      schema,
      dataSource,
      replica,
      tokens: InternalTokens.fromConfig(config),
      log,
      host: config.host,
      port: overrides.port ?? config.ports[module.name],
      production: config.env === "production",
      maxBodyBytes: config.maxBodyBytes,
      metricsToken: config.metricsToken,
      createContext: (base) => module.createContext(base, dataSource, config),
      routes: module.routes ? (app, auth) => module.routes!(app, auth, dataSource, log, config) : undefined,
      startWork,
      notReady: module.notReady ? () => module.notReady!(dataSource, log, config) : undefined,
    });
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await replica?.destroy();
    throw err;
  }
}

/**
 * What a service's entry point does when its start fails: one fatal log line, then exit status 1 (what
 * it had started is released by then). A port it cannot bind is named, with the system's code
 * (`EADDRINUSE`, `EACCES`), so that the line alone says what to fix.
 */
export function exitOnStartFailure(service: string, log: Logger): (err: unknown) => never {
  return (err) => {
    if (err instanceof ListenError)
      log.fatal(
        { host: err.host, port: err.port, code: err.code },
        `${service} cannot listen on ${err.address}: ${err.reason} (${err.code})`,
      );
    else log.fatal({ err }, `${service} failed to start`);
    process.exit(1);
  };
}

/** Runs `close` on SIGINT/SIGTERM, then exits; a second signal exits at once. */
export function closeOnSignal(close: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, "draining");
    close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  // Forked by the supervisor: if it dies, drain and exit rather than linger as an orphan.
  if (process.send) process.on("disconnect", () => onSignal("disconnect"));
}
