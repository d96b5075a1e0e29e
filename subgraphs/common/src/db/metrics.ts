import { Counter, register } from "prom-client";

/** Every SQL statement a subgraph sends, by subgraph: the figure the N+1 tests and budgets assert on. */
export const sqlStatements =
  (register.getSingleMetric("rampart_sql_statements_total") as Counter<"subgraph"> | undefined) ??
  new Counter({
    name: "rampart_sql_statements_total",
    help: "SQL statements sent to Postgres, by subgraph.",
    labelNames: ["subgraph"],
  });

/** Current statement count of one subgraph (in-process readers: tests and benchmarks). */
export async function sqlStatementCount(subgraph: string): Promise<number> {
  const metric = await sqlStatements.get();
  return metric.values.find((v) => v.labels.subgraph === subgraph)?.value ?? 0;
}

/** Requests whose replica reads went to the primary because the replica could not be reached, by subgraph. */
export const replicaFallbacks =
  (register.getSingleMetric("rampart_replica_fallbacks_total") as Counter<"subgraph"> | undefined) ??
  new Counter({
    name: "rampart_replica_fallbacks_total",
    help: "Requests whose replica reads fell back to the primary (replica unreachable), by subgraph.",
    labelNames: ["subgraph"],
  });

/**
 * Connections a subgraph's pool could not give: `POOL_EXHAUSTED` (every connection stayed busy for the acquire
 * timeout) or `DATABASE_UNREACHABLE` (a new connection could not be opened), by subgraph and reason.
 */
export const connectionFailures =
  (register.getSingleMetric("rampart_db_connection_failures_total") as
    Counter<"subgraph" | "reason"> | undefined) ??
  new Counter({
    name: "rampart_db_connection_failures_total",
    help: "Database connections a pool could not give (POOL_EXHAUSTED, DATABASE_UNREACHABLE), by subgraph and reason.",
    labelNames: ["subgraph", "reason"],
  });

/**
 * Transactions Postgres rolled back because of another one running at the same time — a deadlock (`DEADLOCK`,
 * SQLSTATE 40P01) or a serialization failure (`SERIALIZATION_FAILURE`, 40001) — answered UNAVAILABLE (retry), by
 * subgraph and reason. A deadlock means two code paths take the same locks in different orders: each is a bug to
 * find (the log has the statement and Postgres' detail).
 */
export const transactionAborts =
  (register.getSingleMetric("rampart_db_transaction_aborts_total") as
    Counter<"subgraph" | "reason"> | undefined) ??
  new Counter({
    name: "rampart_db_transaction_aborts_total",
    help: "Transactions rolled back by Postgres because of a concurrent one (DEADLOCK, SERIALIZATION_FAILURE), answered UNAVAILABLE, by subgraph and reason.",
    labelNames: ["subgraph", "reason"],
  });
