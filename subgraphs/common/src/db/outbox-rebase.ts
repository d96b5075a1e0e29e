/*
 * Outbox positions after a logical restore into another Postgres server.
 *
 * An outbox position is (transaction id, seq), and readers take only rows of transactions older than
 * every running one (`readOutbox`). `pg_dump` keeps the source server's transaction ids in the `xid`
 * columns; a server whose counter is behind them makes restored rows invisible to every reader, and gives
 * new rows positions before the relays' offsets, so relays and subscriptions deliver nothing, silently.
 * `npm run migrate` rebases such positions (`rebaseOutboxPositions`); until it has, a subgraph is not
 * ready (`OutboxPositionsCheck`).
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import type { Logger } from "../logger";
import { inSystemScope } from "./data-source";
import { roleName, SUBGRAPHS } from "./provision";

/**
 * The transaction id rebased positions get: Postgres's FrozenTransactionId, older than every
 * transaction of every server. Rebased rows are readable at once, even while a transaction older than
 * the rebase runs elsewhere on the server (the rebase's own id would hold them back until it ends), and
 * every position taken later — a new row's, a live stream's start — lies after them.
 */
export const REBASED_XID = "2";

/** Tables holding outbox positions, where a schema has them. */
const POSITION_TABLES = ["outbox", "relay_offsets", "outbox_pruned"] as const;
type PositionTable = (typeof POSITION_TABLES)[number];

/** Runs one statement and returns its rows: a TypeORM `EntityManager.query` or a `pg` client's. */
export type SqlRunner = (text: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const table = (schema: string, name: string) => `${ident(schema)}.${ident(name)}`;

/**
 * SQL for migrations: `outbox_rebases`, one row per rebase of the schema's outbox positions. Its newest
 * `epoch` is in every subscription cursor issued since, so a cursor from before (which names positions
 * of another numbering) is refused instead of resuming at the wrong place. Not tenant data: every
 * transaction of the role may read it; only a system-scope one may write it (RLS forced, like every table).
 */
export function outboxRebasesSql(): { up: string[]; down: string[] } {
  const system = "current_setting('rampart.scope', true) = 'system'";
  return {
    up: [
      `CREATE TABLE outbox_rebases (
         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         epoch text NOT NULL UNIQUE,
         rows bigint NOT NULL,
         newest_xid xid8 NOT NULL,
         next_xid xid8 NOT NULL,
         rebased_at timestamptz NOT NULL DEFAULT now()
       )`,
      `COMMENT ON TABLE outbox_rebases IS 'Rebases of the outbox positions by migrate after a logical restore: newest_xid was the newest stored transaction id, next_xid the server''s next one.'`,
      `ALTER TABLE outbox_rebases ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE outbox_rebases FORCE ROW LEVEL SECURITY`,
      `CREATE POLICY read_all ON outbox_rebases FOR SELECT USING (true)`,
      `CREATE POLICY system_writes ON outbox_rebases FOR INSERT WITH CHECK (${system})`,
    ],
    down: [`DROP TABLE outbox_rebases`],
  };
}

/** A schema whose stored positions name transactions this server has not started yet. */
export interface PositionsAhead {
  schema: string;
  /** The newest transaction id in the schema's positions (outbox, relay offsets, pruned watermarks). */
  newestXid: string;
  /** The next transaction id this server will assign. */
  nextXid: string;
}

/** Which of `names` exist in `schema` (older schemas lack some). */
async function existing<T extends string>(sql: SqlRunner, schema: string, names: readonly T[]): Promise<T[]> {
  const rows = await sql(
    `SELECT t FROM unnest($2::text[]) AS t WHERE to_regclass(format('%I.%I', $1::text, t)) IS NOT NULL`,
    [schema, [...names]],
  );
  return rows.map((r) => r.t as T);
}

/**
 * Whether `schema` stores a position at or past this server's next transaction id: a position no
 * transaction of this server can have made. Reads the snapshot (`pg_snapshot_xmax`) instead of taking a
 * transaction id, and each table's newest `xid` from its position index; in a system-scope transaction
 * (or as a superuser), since the outbox's rows are tenant rows.
 */
export async function outboxPositionsAhead(sql: SqlRunner, schema: string): Promise<PositionsAhead | null> {
  const tables = await existing(sql, schema, POSITION_TABLES);
  if (tables.length === 0) return null;
  const newest = tables.map((t) => `(SELECT max(xid) FROM ${table(schema, t)})`).join(", ");
  const [row] = await sql(
    `SELECT next::text AS next, newest::text AS newest, coalesce(newest >= next, false) AS ahead
       FROM (SELECT pg_snapshot_xmax(pg_current_snapshot()) AS next, greatest(${newest}) AS newest) AS s`,
  );
  return row.ahead ? { schema, newestXid: String(row.newest), nextXid: String(row.next) } : null;
}

/** Why a subgraph whose positions are ahead is not ready (its `/ready` body and its log line say it). */
export const POSITIONS_AHEAD_REASON =
  "outbox positions are ahead of this Postgres server's transaction ids (a logical restore from another server): relays and live subscriptions would deliver nothing; stop the services and run `npm run migrate`";

/**
 * A subgraph's readiness condition on its outbox positions. Checked at start and by `/ready` until it
 * holds; once it does it cannot stop holding (the counter only grows, and only migrate rebases), so
 * `/ready` then costs nothing more. Logged once, at error level, when it fails.
 */
export class OutboxPositionsCheck {
  private fine = false;
  private reported = false;

  constructor(
    private readonly ds: DataSource,
    private readonly schema: string,
    private readonly log: Logger,
  ) {}

  /** `null` when the positions are fine, else why the subgraph must not be ready. */
  async problem(): Promise<string | null> {
    if (this.fine) return null;
    const ahead = await inSystemScope(this.ds, (m) =>
      outboxPositionsAhead((text, params) => m.query(text, params), this.schema),
    );
    if (!ahead) {
      this.fine = true;
      if (this.reported) this.log.info({ schema: this.schema }, "outbox positions rebased: ready");
      return null;
    }
    if (!this.reported) {
      this.reported = true;
      this.log.error(
        { ...ahead, reason: POSITIONS_AHEAD_REASON },
        "not ready: outbox positions are ahead of this Postgres server; run `npm run migrate` with the services stopped",
      );
    }
    return POSITIONS_AHEAD_REASON;
  }
}

/** A relay's offset before and after a rebase (`xid:seq`). */
export interface RebasedOffset {
  consumer: string;
  from: string;
  to: string;
}

/** What a rebase did in one schema. */
export interface SchemaRebase extends PositionsAhead {
  /** Outbox rows renumbered. */
  rows: number;
  /** Pruned watermarks (`outbox_pruned`) renumbered. */
  watermarks: number;
  relays: RebasedOffset[];
}

/** What `rebaseOutboxPositions` did: nothing (`null`), or these schemas under this cursor epoch. */
export interface OutboxRebase {
  epoch: string;
  schemas: SchemaRebase[];
}

/** How `rebaseOutboxPositions` runs. */
export interface RebaseOptions {
  /** `DB_ROLE_PREFIX`: whose sessions are the services'. */
  rolePrefix: string;
  log: Logger;
  /**
   * How long to wait for sessions of the subgraph roles to end before refusing (default 5 s): migrate's
   * own migration connections, just closed, linger in `pg_stat_activity` for a moment.
   */
  settleMs?: number;
}

/** The services' sessions in this database: `role (application) × count`. */
async function serviceSessions(sql: SqlRunner, roles: string[]): Promise<string[]> {
  const rows = await sql(
    `SELECT usename AS role, coalesce(nullif(application_name, ''), '?') AS app, count(*)::int AS n
       FROM pg_stat_activity
      WHERE datname = current_database() AND usename = ANY($1::text[]) AND pid <> pg_backend_pid()
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [roles],
  );
  return rows.map((r) => `${r.role} (${r.app}) × ${r.n}`);
}

function refusal(sessions: string[]): Error {
  return new Error(
    `Outbox positions must be rebased (a logical restore from another Postgres server), but services are connected: ${sessions.join(", ")}. Stop every posture, protection and SIEM process and run migrate again.`,
  );
}

/** Rebases one schema inside the caller's transaction. */
async function rebaseSchema(sql: SqlRunner, ahead: PositionsAhead): Promise<SchemaRebase> {
  const { schema } = ahead;
  const tables = await existing(sql, schema, POSITION_TABLES);
  const outbox = table(schema, "outbox");
  let relays: RebasedOffset[] = [];
  if (tables.includes("relay_offsets")) {
    // Before the rows move: each relay goes just before the first row it had not read — after its
    // offset, or with a later seq (a row written on this server since the restore has a smaller xid
    // than the offset but, the sequence having been restored, a larger seq). Rows from there on come
    // again: at least once; consumers ignore repeats.
    const offsets = table(schema, "relay_offsets");
    const moved = await sql(
      `UPDATE ${offsets} AS o SET
         seq = coalesce(
           (SELECT min(x.seq) - 1 FROM ${outbox} x WHERE (x.xid, x.seq) > (o.xid, o.seq) OR x.seq > o.seq),
           (SELECT max(x.seq) FROM ${outbox} x),
           o.seq),
         xid = $1::xid8,
         updated_at = now()
        FROM (SELECT consumer, xid::text || ':' || seq AS position FROM ${offsets}) AS before
       WHERE before.consumer = o.consumer
       RETURNING o.consumer, before.position AS "from", o.xid::text || ':' || o.seq AS "to"`,
      [REBASED_XID],
    );
    relays = moved
      .map((r) => ({ consumer: String(r.consumer), from: String(r.from), to: String(r.to) }))
      .sort((a, b) => a.consumer.localeCompare(b.consumer));
  }
  const renumber = async (name: PositionTable) =>
    tables.includes(name)
      ? Number(
          (
            await sql(
              `WITH moved AS (UPDATE ${table(schema, name)} SET xid = $1::xid8 RETURNING 1)
               SELECT count(*)::int AS n FROM moved`,
              [REBASED_XID],
            )
          )[0].n,
        )
      : 0;
  // As if one transaction had written every row, in sequence order.
  const rows = await renumber("outbox");
  const watermarks = await renumber("outbox_pruned");
  return { ...ahead, rows, watermarks, relays };
}

/**
 * Rebases the outbox positions of every subgraph schema that stores a position this server has not
 * reached (`outboxPositionsAhead`); a no-op otherwise, without a lock. Restored rows keep their order
 * (as if one transaction had written them all, in sequence order), each relay resumes just before the
 * first row it had not read (at least once), `outbox_pruned` keeps marking what the retention removed,
 * and subscription cursors from before are refused (a new cursor epoch in `outbox_rebases`).
 *
 * One transaction for the database. It refuses while any session of a subgraph role is connected here,
 * rather than rebase under a running service: that keeps positions in memory (a live stream's place,
 * the SIEM's cursor epoch) that would name the old numbering afterwards. It takes ACCESS EXCLUSIVE locks
 * on the position tables before it looks again, so a service starting meanwhile waits at its first
 * outbox read and finds the rebased positions.
 */
export async function rebaseOutboxPositions(
  adminUrl: string,
  options: RebaseOptions,
): Promise<OutboxRebase | null> {
  const { log } = options;
  const roles = SUBGRAPHS.map((s) => roleName(options.rolePrefix, s));
  const client = new Client({ connectionString: adminUrl, application_name: "rampart-migrate" });
  await client.connect();
  const sql: SqlRunner = async (text, params) => (await client.query(text, params)).rows;
  const allAhead = async () => {
    const found: PositionsAhead[] = [];
    for (const schema of SUBGRAPHS) {
      const ahead = await outboxPositionsAhead(sql, schema);
      if (ahead) found.push(ahead);
    }
    return found;
  };
  try {
    // A look without locks first: the usual migrate (services running, nothing restored) stops here.
    await client.query("BEGIN READ ONLY");
    await client.query("SET LOCAL rampart.scope = 'system'");
    const found = await allAhead();
    await client.query("COMMIT");
    if (found.length === 0) return null;
    log.warn(
      { schemas: found },
      "outbox positions are ahead of this Postgres server (a logical restore from another server): rebasing them",
    );
    const deadline = Date.now() + (options.settleMs ?? 5000);
    for (;;) {
      const sessions = await serviceSessions(sql, roles);
      if (sessions.length === 0) break;
      if (Date.now() > deadline) throw refusal(sessions);
      await new Promise((r) => setTimeout(r, 100));
    }

    await client.query("BEGIN");
    try {
      await client.query("SET LOCAL rampart.scope = 'system'");
      await client.query("SET LOCAL lock_timeout = '10s'");
      const locked: string[] = [];
      for (const schema of SUBGRAPHS)
        for (const name of await existing(sql, schema, [...POSITION_TABLES, "outbox_rebases"]))
          locked.push(table(schema, name));
      await client.query(`LOCK TABLE ${locked.join(", ")} IN ACCESS EXCLUSIVE MODE`);
      // Under the locks: a service that connected since would find them; one connected before refuses
      // the rebase; another migrate that rebased meanwhile leaves nothing to do.
      const sessions = await serviceSessions(sql, roles);
      if (sessions.length > 0) throw refusal(sessions);
      const schemas: SchemaRebase[] = [];
      for (const ahead of await allAhead()) schemas.push(await rebaseSchema(sql, ahead));
      const epoch = randomBytes(6).toString("hex");
      for (const s of schemas)
        if (locked.includes(table(s.schema, "outbox_rebases")))
          await client.query(
            `INSERT INTO ${table(s.schema, "outbox_rebases")} (epoch, rows, newest_xid, next_xid)
             VALUES ($1, $2, $3::xid8, $4::xid8)`,
            [epoch, s.rows, s.newestXid, s.nextXid],
          );
      await client.query("COMMIT");
      if (schemas.length === 0) return null;
      for (const s of schemas) {
        for (const relay of s.relays)
          log.info({ schema: s.schema, ...relay }, "outbox rebase: relay offset moved");
        log.info(
          { schema: s.schema, rows: s.rows, watermarks: s.watermarks, relays: s.relays },
          "outbox rebase: rows renumbered",
        );
      }
      log.warn(
        { epoch, schemas: schemas.map((s) => s.schema) },
        "outbox positions rebased; subscription cursors issued before now are refused (CURSOR_EXPIRED)",
      );
      return { epoch, schemas };
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  } finally {
    await client.end();
  }
}
