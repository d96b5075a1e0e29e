import { performance } from "node:perf_hooks";
import type { EntityManager } from "typeorm";
import {
  AppError,
  BadUserInputError,
  ErrorCode,
  type Identity,
  type RequestDb,
} from "../../../../common/src";
import { effectiveRetentionDays, tenantEventRetentionDays } from "../events/event-retention.service";
import {
  compileKql,
  watchlistAliasesOf,
  type CompiledHunt,
  type KqlColumn,
  type WatchlistSchema,
} from "./kql-compiler";
import { KqlError, parseKql, type Position, type Query } from "./kql-parser";

/** Limits of a hunt run. */
export const HUNT_LIMITS = {
  /** Most rows a hunt returns (`truncated` tells when there were more). */
  maxRows: 10_000,
  /** Most bytes of JSON a hunt returns (rows past it are cut, `truncated`). */
  maxResultBytes: 16 * 1024 * 1024,
  /** Postgres `statement_timeout` of a hunt. */
  statementTimeoutMs: 30_000,
  /** The time range when none is given: the last 24 hours. */
  defaultWindowMs: 86_400_000,
} as const;

/** How hunts run; tests lower the limits, production takes the defaults. */
export interface HuntOptions {
  /** Days of events the platform keeps (a tenant may keep fewer): a hunt's range starts no earlier. */
  retentionDays: number;
  maxRows?: number;
  maxResultBytes?: number;
  statementTimeoutMs?: number;
  /** The clock (`now()` of queries, default range). */
  now?: () => Date;
}

/**
 * A hunting query the compiler or the database refused: BAD_USER_INPUT, with the line and column when the fault
 * has one (`extensions.position`), and the usual `problems` list (field `query`).
 */
export class HuntQueryError extends AppError {
  constructor(message: string, position?: Position) {
    const where = position ? `line ${position.line}, column ${position.column}: ` : "";
    super(ErrorCode.BadUserInput, `Invalid hunting query: ${where}${message}`, {
      problems: [{ field: "query", message: `${where}${message}` }],
      ...(position ? { position: { line: position.line, column: position.column } } : {}),
    });
  }
}

/** A hunt's result before it becomes GraphQL objects. */
export interface HuntOutcome {
  columns: KqlColumn[];
  rows: Array<Record<string, unknown>>;
  truncated: boolean;
  /** The tables a `union isfuzzy=true` left out (CompiledHunt.warnings). */
  warnings: string[];
  durationMs: number;
  from: Date;
  to: Date;
}

/** Parses a query, turning a KqlError into HuntQueryError. */
export function parseHunt(text: string): Query {
  try {
    return parseKql(text);
  } catch (err) {
    if (err instanceof KqlError) throw new HuntQueryError(err.message, err.position);
    throw err;
  }
}

/** The watchlists a query names, read in the caller's tenant transaction. */
async function watchlistsOf(
  m: EntityManager,
  tenantId: string,
  query: Query,
): Promise<Map<string, WatchlistSchema>> {
  const aliases = watchlistAliasesOf(query);
  if (!aliases.length) return new Map();
  const rows: Array<{ id: string; alias: string; alias_key: string; columns: string[]; search_key: string }> =
    await m.query(
      `SELECT id, alias, alias_key, columns, search_key FROM watchlists WHERE tenant_id = $1 AND alias_key = ANY($2::text[])`,
      [tenantId, aliases],
    );
  return new Map(
    rows.map((r) => [r.alias_key, { id: r.id, alias: r.alias, columns: r.columns, searchKey: r.search_key }]),
  );
}

/**
 * Parses, resolves the watchlists of and compiles a query in the caller's transaction: what saving a hunting
 * query checks, and the first half of a run.
 */
export async function prepareHunt(
  m: EntityManager,
  tenantId: string,
  text: string,
  window: { from: Date; to: Date; now: Date },
  maxRows: number,
): Promise<CompiledHunt> {
  const query = parseHunt(text);
  const watchlists = await watchlistsOf(m, tenantId, query);
  let compiled: CompiledHunt;
  try {
    compiled = compileKql(query, { tenantId, ...window, maxRows, watchlists });
  } catch (err) {
    if (err instanceof KqlError) throw new HuntQueryError(err.message, err.position);
    throw err;
  }
  await checkRegexes(m, compiled);
  return compiled;
}

/**
 * Has Postgres compile each of the query's regular expressions (matching them against no text compiles them all
 * the same), so a bad one is refused with its own position and Postgres's reason — also when no row would have
 * reached it, and when a query is saved. The hunt's own statement then never fails on one.
 */
async function checkRegexes(m: EntityManager, compiled: CompiledHunt): Promise<void> {
  const seen = new Set<string>();
  for (const { pattern, flags, position } of compiled.regexes) {
    const key = JSON.stringify([pattern, flags]);
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      await m.query("SELECT regexp_match('', $1::text, $2::text)", [pattern, flags]);
    } catch (err) {
      const { code, message } = databaseError(err);
      if (code !== "2201B") throw err;
      throw invalidRegex(message, position);
    }
  }
}

/**
 * The hunt's time range: `[from, to)`, by default the 24 hours before `to` (default now), starting no earlier
 * than the retention (older day partitions are gone anyway); BAD_USER_INPUT when empty or wholly before it.
 */
export function huntWindow(
  given: { from?: Date | null; to?: Date | null },
  now: Date,
  retentionDays: number,
): { from: Date; to: Date } {
  const to = given.to ?? now;
  let from = given.from ?? new Date(to.getTime() - HUNT_LIMITS.defaultWindowMs);
  if (from >= to)
    throw new BadUserInputError("Invalid time range.", [{ field: "from", message: "must be before `to`" }]);
  const earliest = new Date(now.getTime() - retentionDays * 86_400_000);
  if (to <= earliest)
    throw new BadUserInputError("Invalid time range.", [
      { field: "to", message: `must be within the retention of ${retentionDays} days` },
    ]);
  if (from < earliest) from = earliest;
  return { from, to };
}

/** ISO 8601 duration of a number of milliseconds (`PT1H30M`, `P2DT3H`, `-PT0.5S`). */
export function isoDuration(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  let rest = Math.round(Math.abs(ms));
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  const seconds = (rest - minutes * 60_000) / 1000;
  const time = `${hours ? `${hours}H` : ""}${minutes ? `${minutes}M` : ""}${seconds ? `${seconds}S` : ""}`;
  if (!days && !time) return "PT0S";
  return `${sign}P${days ? `${days}D` : ""}${time ? `T${time}` : ""}`;
}

/** A row value as JSON: per column type (see HuntResult.rows). */
function jsonValue(type: KqlColumn["type"], value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "long": {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : String(value);
    }
    case "real": {
      const n = Number(value);
      return Number.isFinite(n) ? n : null;
    }
    case "datetime":
      return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
    case "timespan":
      return isoDuration(Number(value));
    default:
      return value;
  }
}

/** A database error's SQLSTATE and message. */
function databaseError(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; driverError?: { code?: unknown; message?: unknown }; message?: unknown };
  return {
    code: String(e?.code ?? e?.driverError?.code ?? ""),
    message: String(e?.driverError?.message ?? e?.message ?? ""),
  };
}

/** Postgres's refusal of a regular expression (SQLSTATE 2201B) as the query's fault, at the pattern. */
function invalidRegex(message: string, position: Position | undefined): HuntQueryError {
  return new HuntQueryError(
    `invalid regular expression (${message.replace(/^invalid regular expression: /, "")})`,
    position,
  );
}

/** What a database error during a hunt means for the user, or null when it is ours (an internal error). */
function huntFailure(err: unknown, compiled: CompiledHunt, timeoutMs: number): HuntQueryError | null {
  const { code, message } = databaseError(err);
  if (code === "57014")
    return new HuntQueryError(
      `the hunt ran longer than ${timeoutMs / 1000} s and was stopped: narrow the time range or filter earlier`,
    );
  if (code === "2201B") return invalidRegex(message, compiled.regexes[0]?.position);
  if (code === "54001") return new HuntQueryError("the query is too complex to run");
  // Data exceptions (a cast of a value the data holds, an overflow): the user's query on the user's data.
  if (code.startsWith("22"))
    return new HuntQueryError(`the query failed on the data: ${message.slice(0, 200)}`);
  return null;
}

/**
 * Runs a hunting query for `identity`'s tenant over `window`, in a READ ONLY transaction of its own (on the read
 * replica when there is one: a hunt tolerates replication lag) with the tenant set for row-level security and
 * `statement_timeout` bounding it. At most maxRows rows (and maxResultBytes) come back.
 */
export async function runHunt(
  db: Pick<RequestDb, "heavyRunner">,
  identity: Pick<Identity, "tenantId">,
  text: string,
  given: { from?: Date | null; to?: Date | null },
  options: HuntOptions,
): Promise<HuntOutcome> {
  const now = options.now?.() ?? new Date();
  const maxRows = options.maxRows ?? HUNT_LIMITS.maxRows;
  const maxBytes = options.maxResultBytes ?? HUNT_LIMITS.maxResultBytes;
  const timeoutMs = options.statementTimeoutMs ?? HUNT_LIMITS.statementTimeoutMs;
  // The query and the range are checked before a connection is taken: a bad one costs no database work.
  parseHunt(text);
  huntWindow(given, now, options.retentionDays);
  const runner = await db.heavyRunner();
  let compiled: CompiledHunt | null = null;
  try {
    await runner.query("BEGIN READ ONLY");
    await runner.query(
      "SELECT set_config('rampart.tenant_id', $1, true), set_config('statement_timeout', $2, true)",
      [identity.tenantId, String(timeoutMs)],
    );
    // The tenant may keep its events for less than the platform does (setEventRetention).
    const own = await tenantEventRetentionDays(runner.manager, identity.tenantId);
    const window = huntWindow(given, now, effectiveRetentionDays(own, options.retentionDays));
    compiled = await prepareHunt(runner.manager, identity.tenantId, text, { ...window, now }, maxRows);
    const started = performance.now();
    const raw: Array<Record<string, unknown>> = await runner.query(compiled.sql, compiled.params);
    const durationMs = Math.round(performance.now() - started);
    await runner.query("COMMIT");
    const columns = compiled.columns;
    const rows: Array<Record<string, unknown>> = [];
    let bytes = 0;
    let truncated = raw.length > maxRows;
    for (const record of raw.slice(0, maxRows)) {
      const row: Record<string, unknown> = {};
      for (const c of columns) row[c.name] = jsonValue(c.type, record[c.alias]);
      bytes += JSON.stringify(row).length;
      if (bytes > maxBytes) {
        truncated = true;
        break;
      }
      rows.push(row);
    }
    return {
      columns: columns.map(({ name, type }) => ({ name, type })),
      rows,
      truncated,
      warnings: compiled.warnings,
      durationMs,
      ...window,
    };
  } catch (err) {
    await runner.query("ROLLBACK").catch(() => undefined);
    const mapped = compiled ? huntFailure(err, compiled, timeoutMs) : null;
    throw mapped ?? err;
  } finally {
    await runner.release();
  }
}
