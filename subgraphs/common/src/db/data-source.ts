import { DataSource, type EntityManager, type Logger as OrmLogger, type QueryRunner } from "typeorm";
import type { PostgresDriver } from "typeorm/driver/postgres/PostgresDriver";
import { UnavailableError } from "../errors";
import type { Logger } from "../logger";
import { connectionFailures, replicaFallbacks, sqlStatements, transactionAborts } from "./metrics";

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
  /** Postgres `application_name` of its connections; default `rampart-<subgraph>`. */
  applicationName?: string;
  /**
   * How long a caller may wait for a connection, whether the pool is full (every connection busy) or a new one is
   * being opened, before it gets UNAVAILABLE (`DatabaseUnavailableError`); default: no limit (pg's), so a pool
   * that never frees a connection would hold its callers for ever.
   */
  acquireTimeoutMs?: number;
  logger: Logger;
}

/** A TypeORM DataSource bound to one schema and one login role; `synchronize` is never on. */
export function createDataSource(options: DataSourceOptions): DataSource {
  const ds = new DataSource({
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
      application_name: options.applicationName ?? `rampart-${options.subgraph}`,
      ...(options.acquireTimeoutMs ? { connectionTimeoutMillis: options.acquireTimeoutMs } : {}),
    },
  });
  typeAcquireFailures(ds, options);
  return ds;
}

/** pg-pool's message when `connectionTimeoutMillis` passed while the caller waited for a full pool. */
const POOL_TIMEOUT_MESSAGE = "timeout exceeded when trying to connect";

/**
 * Nothing was sent to the database: its connection could not be had, because the pool stayed full for the whole
 * acquire timeout (`reason: POOL_EXHAUSTED`) or the server could not be reached or refused the login
 * (`reason: DATABASE_UNREACHABLE`). Typed UNAVAILABLE, so a client (and the ingest endpoints: 503 with
 * `Retry-After`) knows the same request may be sent again.
 */
export class DatabaseUnavailableError extends UnavailableError {
  constructor(
    readonly reason: "POOL_EXHAUSTED" | "DATABASE_UNREACHABLE",
    override readonly cause: unknown,
  ) {
    super(
      reason === "POOL_EXHAUSTED"
        ? "The database is busy: no connection came free in time. Nothing was done; retry later."
        : "The database cannot be reached. Nothing was done; retry later.",
    );
    this.extensions.reason = reason;
  }
}

/**
 * Every connection TypeORM takes goes through the driver's `obtainMasterConnection` (reads with no replica
 * configured too): its failures, which come before any statement, become `DatabaseUnavailableError`, counted and
 * logged with the pool's state, instead of reaching a client as a masked internal error.
 */
function typeAcquireFailures(ds: DataSource, options: DataSourceOptions): void {
  const driver = ds.driver as PostgresDriver;
  const obtain = driver.obtainMasterConnection.bind(driver);
  driver.obtainMasterConnection = () =>
    obtain().catch((err: unknown) => {
      if (err instanceof DatabaseUnavailableError) throw err;
      const reason =
        err instanceof Error && err.message === POOL_TIMEOUT_MESSAGE
          ? "POOL_EXHAUSTED"
          : "DATABASE_UNREACHABLE";
      connectionFailures.labels(options.subgraph, reason).inc();
      const pool = driver.master as
        { totalCount?: number; idleCount?: number; waitingCount?: number } | undefined;
      options.logger.warn(
        {
          err,
          reason,
          pool: { total: pool?.totalCount, idle: pool?.idleCount, waiting: pool?.waitingCount },
          acquireTimeoutMs: options.acquireTimeoutMs,
        },
        reason === "POOL_EXHAUSTED"
          ? "no database connection came free within the acquire timeout"
          : "could not connect to the database",
      );
      throw new DatabaseUnavailableError(reason, err);
    });
}

/** SQLSTATEs of a transaction Postgres rolled back because of a concurrent one. */
const ABORTED_BY_CONCURRENCY: Record<string, TransactionAbortedError["reason"]> = {
  "40P01": "DEADLOCK",
  "40001": "SERIALIZATION_FAILURE",
};

/**
 * Postgres rolled the whole transaction back because of another one running at the same time: a deadlock
 * (`reason: DEADLOCK`) or a serialization failure (`SERIALIZATION_FAILURE`). Nothing of it was written, and the
 * same request sent again will most likely succeed: typed UNAVAILABLE (an ingest route answers 503 with
 * `Retry-After`), never a masked internal error.
 */
export class TransactionAbortedError extends UnavailableError {
  constructor(
    readonly reason: "DEADLOCK" | "SERIALIZATION_FAILURE",
    override readonly cause: unknown,
  ) {
    super(
      "A concurrent change to the same records rolled this operation back. Nothing was written; send it again.",
    );
    this.extensions.reason = reason;
  }
}

/** `err` as a TransactionAbortedError when Postgres aborted its transaction for a concurrent one (counted), else `err`. */
function typedAbort(ds: DataSource, err: unknown): unknown {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  const reason = typeof code === "string" ? ABORTED_BY_CONCURRENCY[code] : undefined;
  if (!reason || err instanceof TransactionAbortedError) return err;
  const name = (ds.options.extra as { application_name?: string } | undefined)?.application_name ?? "";
  transactionAborts.labels(name.replace(/^rampart-/, ""), reason).inc();
  return new TransactionAbortedError(reason, err);
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
  return ds
    .transaction(async (manager) => {
      await manager.query(SET_TENANT, [tenantId]);
      return work(manager);
    })
    .catch((err: unknown) => {
      throw typedAbort(ds, err);
    });
}

/** Runs `work` in a transaction allowed to read across tenants on tables whose policy permits it (outbox). */
export function inSystemScope<T>(ds: DataSource, work: (m: EntityManager) => Promise<T>): Promise<T> {
  return ds
    .transaction(async (manager) => {
      await manager.query(SET_SYSTEM);
      return work(manager);
    })
    .catch((err: unknown) => {
      throw typedAbort(ds, err);
    });
}

/**
 * A subgraph's read replica (DATABASE_REPLICA_URL). Opened lazily, on the first read that wants it, and opened
 * again after a failure: a replica that is down when the subgraph starts, or goes down later, costs the reads
 * that wanted it a fallback to the primary, never the subgraph's start or its other requests.
 */
export class ReplicaSource {
  private opening?: Promise<DataSource>;

  constructor(
    private readonly dataSource: DataSource,
    readonly subgraph: string,
    readonly log: Logger,
  ) {}

  /** A connected runner on the replica; throws when the replica cannot be reached. */
  async connect(): Promise<QueryRunner> {
    const ds = await (this.opening ??= this.dataSource.initialize().catch((err: unknown) => {
      this.opening = undefined;
      throw err;
    }));
    const runner = ds.createQueryRunner("slave");
    try {
      await runner.connect();
    } catch (err) {
      await runner.release();
      throw err;
    }
    return runner;
  }

  /** Closes the replica's pool (with the subgraph). */
  async destroy(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    const ds = await opening?.catch(() => undefined);
    if (ds?.isInitialized) await ds.destroy();
  }
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
  /** The replica's read transaction, or null once the replica proved unreachable for this request. */
  private replicaReader?: Promise<QueryRunner | null>;
  private replicaQueue: Promise<unknown> = Promise.resolve();
  /** Set by `close()`: a read that starts later (a resolver still running after an error sent the response) is refused. */
  private closed = false;
  /** Reads on the primary that have started and not finished: while any runs, its transaction must stay open. */
  private reading = 0;

  constructor(
    private readonly ds: DataSource,
    readonly tenantId: string,
    private readonly replica?: ReplicaSource,
  ) {}

  /** Read-only work in the request's shared tenant transaction. */
  async read<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    // Opening a transaction now would leave it open for good (nothing closes it again) and hold a pooled
    // connection: a few such requests would take the whole pool and hang the subgraph.
    if (this.closed) throw new Error("The request has ended: no more reads.");
    this.reading++;
    try {
      const runner = await (this.reader ??= this.openReader());
      const run = this.queue.then(() => work(runner.manager));
      this.queue = run.catch(() => undefined);
      return await run;
    } finally {
      this.reading--;
    }
  }

  /**
   * A heavy read that tolerates replication lag (hunts, dashboards, event listings), in the request's READ ONLY
   * tenant transaction on the replica, opened on first use. Never for what must see the caller's own writes: the
   * replica may not have them yet. Without a replica, or when it cannot be reached, it is `read`.
   */
  async readReplica<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    if (!this.replica) return this.read(work);
    if (this.closed) throw new Error("The request has ended: no more reads.");
    const runner = await (this.replicaReader ??= this.openReplicaReader(this.replica));
    if (!runner) return this.read(work);
    const run = this.replicaQueue.then(() => work(runner.manager));
    this.replicaQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * A connected runner for a heavy read that manages its own transaction (a hunt: its own `statement_timeout`,
   * and a failure that must not end the request's other reads): on the replica when there is one and it answers,
   * else on the primary. The caller begins, sets the tenant and releases it.
   */
  async heavyRunner(): Promise<QueryRunner> {
    if (this.replica) {
      try {
        return await this.replica.connect();
      } catch (err) {
        this.fellBack(this.replica, err);
      }
    }
    // A second pooled connection while the request's read transaction holds the first: as many such requests at
    // once as the pool has connections (a saved hunt looked up, then run) would each wait for ever, as in `write`.
    await this.releaseIdleReader();
    const runner = this.ds.createQueryRunner("slave");
    await runner.connect();
    return runner;
  }

  /**
   * A write in its own tenant transaction: all of it or nothing. The request's read transaction is ended first
   * when no read is running: a mutation that reads and then writes would otherwise hold one pooled connection
   * while waiting for a second, and as many such mutations at once as the pool has connections would each hold
   * one and wait (until the acquire timeout, if one is set). Reads after the write open a new read transaction.
   */
  async write<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    await this.releaseIdleReader();
    return inTenant(this.ds, this.tenantId, work);
  }

  /** Ends the read transaction unless a read is running; the next read opens a new one. */
  private async releaseIdleReader(): Promise<void> {
    if (this.reading === 0 && this.reader) {
      const idle = this.reader;
      this.reader = undefined;
      await this.commitAndRelease(idle);
    }
  }

  /** Ends the read transaction; called once the response is sent. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = [this.reader, this.replicaReader];
    this.reader = this.replicaReader = undefined;
    for (const opening of pending) if (opening) await this.commitAndRelease(opening);
  }

  /** Commits a read transaction (rolls it back if that fails) and returns its connection to the pool. */
  private async commitAndRelease(opening: Promise<QueryRunner | null>): Promise<void> {
    const runner = await opening.catch(() => undefined);
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
    return this.beginRead(runner);
  }

  /** The replica's read transaction, or null (the request's replica reads go to the primary) when it cannot be reached. */
  private async openReplicaReader(replica: ReplicaSource): Promise<QueryRunner | null> {
    let runner: QueryRunner;
    try {
      runner = await replica.connect();
    } catch (err) {
      this.fellBack(replica, err);
      return null;
    }
    return this.beginRead(runner);
  }

  private fellBack(replica: ReplicaSource, err: unknown): void {
    replicaFallbacks.labels(replica.subgraph).inc();
    replica.log.warn({ err }, "read replica unreachable: reading from the primary");
  }

  /** Begins a READ ONLY transaction with the request's tenant on `runner` (released if that fails). */
  private async beginRead(runner: QueryRunner): Promise<QueryRunner> {
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
