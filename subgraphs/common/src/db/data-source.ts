import { DataSource, type EntityManager, type Logger as OrmLogger, type QueryRunner } from "typeorm";
import type { Logger } from "../logger";
import { sqlStatements } from "./metrics";

/** Counts every statement TypeORM sends and logs failed ones (without parameters: they may hold secrets). */
class CountingLogger implements OrmLogger {
  private readonly counter;
  constructor(
    subgraph: string,
    private readonly logger: Logger,
  ) {
    this.counter = sqlStatements.labels(subgraph);
  }
  logQuery(): void {
    this.counter.inc();
  }
  logQueryError(error: string | Error, query: string): void {
    this.logger.debug({ err: error, query: query.slice(0, 500) }, "sql error");
  }
  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ ms: time, query: query.slice(0, 500) }, "slow sql");
  }
  logSchemaBuild(): void {}
  logMigration(message: string): void {
    this.logger.info(message);
  }
  log(level: "log" | "info" | "warn", message: unknown): void {
    if (level === "warn") this.logger.warn({ message }, "typeorm");
  }
}

/** What a subgraph's DataSource is built from. */
export interface DataSourceOptions {
  /** Subgraph name: labels metrics and logs. */
  subgraph: string;
  /** Connection string of the subgraph's own login role. */
  url: string;
  /** The subgraph's Postgres schema; unqualified names resolve there and nowhere else. */
  schema: string;
  entities: NonNullable<ConstructorParameters<typeof DataSource>[0]["entities"]>;
  migrations?: NonNullable<ConstructorParameters<typeof DataSource>[0]["migrations"]>;
  poolSize?: number;
  logger: Logger;
}

/** A TypeORM DataSource bound to one schema and one login role; `synchronize` is never on. */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: "postgres",
    url: options.url,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations ?? [],
    migrationsTableName: "migrations",
    migrationsTransactionMode: "each",
    synchronize: false,
    logging: ["query", "error", "warn", "migration"],
    maxQueryExecutionTime: 1000,
    logger: new CountingLogger(options.subgraph, options.logger),
    extra: {
      max: options.poolSize ?? 10,
      options: `-c search_path=${options.schema}`,
      application_name: `rampart-${options.subgraph}`,
    },
  });
}

const SET_TENANT = "SELECT set_config('rampart.tenant_id', $1, true)";
const SET_SYSTEM = "SELECT set_config('rampart.scope', 'system', true)";

/**
 * Runs `work` in one transaction whose row-level-security tenant is `tenantId`. Every tenant table's
 * policy compares `tenant_id` with this setting, so a query that forgets its filter still cannot
 * see or write another tenant's rows.
 */
export function inTenant<T>(
  ds: DataSource,
  tenantId: string,
  work: (m: EntityManager) => Promise<T>,
): Promise<T> {
  return ds.transaction(async (manager) => {
    await manager.query(SET_TENANT, [tenantId]);
    return work(manager);
  });
}

/** Runs `work` in a transaction allowed to read across tenants on tables whose policy permits it (outbox). */
export function inSystemScope<T>(ds: DataSource, work: (m: EntityManager) => Promise<T>): Promise<T> {
  return ds.transaction(async (manager) => {
    await manager.query(SET_SYSTEM);
    return work(manager);
  });
}

/**
 * The database as one request sees it. Reads share one lazily opened READ ONLY transaction
 * (tenant set once, committed when the request ends), so a request that batches its loads costs
 * BEGIN + set_config + one statement per batch + COMMIT. Writes get their own transaction each,
 * committed before the mutation returns, so one failing mutation never undoes another.
 */
export class RequestDb {
  private reader?: Promise<QueryRunner>;
  /** Reads share one connection: they run one after another, as the connection would anyway. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Set by `close()`: a read that starts later (a resolver still running after an error sent the response) is refused. */
  private closed = false;

  constructor(
    private readonly ds: DataSource,
    readonly tenantId: string,
  ) {}

  /** Read-only work in the request's shared tenant transaction. */
  async read<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    // Opening a transaction now would leave it open for good (nothing closes it again) and hold a pooled
    // connection: a few such requests would take the whole pool and hang the subgraph.
    if (this.closed) throw new Error("The request has ended: no more reads.");
    const runner = await (this.reader ??= this.openReader());
    const run = this.queue.then(() => work(runner.manager));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A write in its own tenant transaction: all of it or nothing. */
  write<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return inTenant(this.ds, this.tenantId, work);
  }

  /** Ends the read transaction; called once the response is sent. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.reader;
    this.reader = undefined;
    if (!pending) return;
    const runner = await pending.catch(() => undefined);
    if (!runner) return;
    try {
      await runner.query("COMMIT");
    } catch {
      await runner.query("ROLLBACK").catch(() => undefined);
    } finally {
      await runner.release();
    }
  }

  private async openReader(): Promise<QueryRunner> {
    const runner = this.ds.createQueryRunner("slave");
    await runner.connect();
    try {
      await runner.query("BEGIN READ ONLY");
      await runner.query(SET_TENANT, [this.tenantId]);
    } catch (err) {
      await runner.release();
      throw err;
    }
    return runner;
  }
}
