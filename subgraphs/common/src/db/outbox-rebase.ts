/*
 * Outbox positions and cursor epochs after a logical restore.
 *
 * An outbox position is (transaction id, seq), and readers take only rows of transactions older than
 * every running one (`readOutbox`). `pg_dump` keeps the source server's transaction ids in the `xid`
 * columns; a server whose counter is behind them makes restored rows invisible to every reader, and gives
 * new rows positions before the relays' offsets, so relays and subscriptions deliver nothing, silently.
 * A server whose counter is ahead of them reads them, but a subscription cursor the source server issued
 * after the backup names a position past everything restored, possibly past rows this server writes
 * later: resuming there would skip them, silently. `npm run migrate` rebases positions that are ahead,
 * and starts a new cursor epoch whenever the schema's outbox is not the one it last recorded (another
 * server, another database, or the schema restored in place: `outboxIdentity`), so every cursor from
 * before is refused (`settleOutboxAfterRestore`); until positions ahead are rebased, a subgraph is not
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
 * SQL for migration 1767000000000: `outbox_rebases` also records where the outbox lives
 * (`outboxIdentity`) and why each row was written (`kind`): `REBASED` (positions renumbered, new epoch),
 * `RESTORED` (the outbox is another one than last recorded: new epoch, positions kept) or `RECORDED`
 * (the identity recorded for the first time: the epoch stays, possibly none). Older rows are `REBASED`
 * without an identity. `down` keeps the rebases and drops the other rows (their epochs are gone with them,
 * as the table was before).
 */
export function outboxIdentitySql(): { up: string[]; down: string[] } {
  return {
    up: [
      `ALTER TABLE outbox_rebases
         ALTER COLUMN epoch DROP NOT NULL,
         DROP CONSTRAINT outbox_rebases_epoch_key,
         ALTER COLUMN newest_xid DROP NOT NULL,
         ADD COLUMN kind text NOT NULL DEFAULT 'REBASED' CHECK (kind IN ('REBASED', 'RESTORED', 'RECORDED')),
         ADD COLUMN system_identifier text,
         ADD COLUMN database_oid bigint,
         ADD COLUMN outbox_oid bigint`,
      `ALTER TABLE outbox_rebases ALTER COLUMN kind DROP DEFAULT`,
      `COMMENT ON TABLE outbox_rebases IS 'Cursor epochs set by migrate: REBASED after a logical restore left outbox positions ahead of the server (newest_xid was the newest stored transaction id, next_xid the server''s next one), RESTORED when the outbox is not the one last recorded (system_identifier, database_oid, outbox_oid), RECORDED when its identity was first recorded (epoch unchanged). The newest row''s epoch is current.'`,
    ],
    down: [
      // Forced RLS has no DELETE policy: lifted for this statement only.
      `ALTER TABLE outbox_rebases NO FORCE ROW LEVEL SECURITY`,
      `DELETE FROM outbox_rebases WHERE kind <> 'REBASED'`,
      `ALTER TABLE outbox_rebases FORCE ROW LEVEL SECURITY`,
      `ALTER TABLE outbox_rebases DROP COLUMN kind, DROP COLUMN system_identifier, DROP COLUMN database_oid,
         DROP COLUMN outbox_oid, ALTER COLUMN newest_xid SET NOT NULL, ALTER COLUMN epoch SET NOT NULL,
         ADD CONSTRAINT outbox_rebases_epoch_key UNIQUE (epoch)`,
      `COMMENT ON TABLE outbox_rebases IS 'Rebases of the outbox positions by migrate after a logical restore: newest_xid was the newest stored transaction id, next_xid the server''s next one.'`,
    ],
  };
}

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

/** A schema's newest stored position against this server's next transaction id. */
interface PositionStanding {
  /** The newest transaction id in the schema's positions; null when it stores none. */
  newest: string | null;
  next: string;
  ahead: boolean;
}

/**
 * Reads the snapshot (`pg_snapshot_xmax`) instead of taking a transaction id, and each table's newest
 * `xid` from its position index; in a system-scope transaction (or as a superuser), since the outbox's
 * rows are tenant rows. Null when the schema has no position table.
 */
async function positionStanding(sql: SqlRunner, schema: string): Promise<PositionStanding | null> {
  const tables = await existing(sql, schema, POSITION_TABLES);
  if (tables.length === 0) return null;
  const newest = tables.map((t) => `(SELECT max(xid) FROM ${table(schema, t)})`).join(", ");
  const [row] = await sql(
    `SELECT next::text AS next, newest::text AS newest, coalesce(newest >= next, false) AS ahead
       FROM (SELECT pg_snapshot_xmax(pg_current_snapshot()) AS next, greatest(${newest}) AS newest) AS s`,
  );
  return { newest: (row.newest as string | null) ?? null, next: String(row.next), ahead: row.ahead === true };
}

/**
 * Whether `schema` stores a position at or past this server's next transaction id: a position no
 * transaction of this server can have made.
 */
export async function outboxPositionsAhead(sql: SqlRunner, schema: string): Promise<PositionsAhead | null> {
  const standing = await positionStanding(sql, schema);
  return standing?.ahead ? { schema, newestXid: standing.newest!, nextXid: standing.next } : null;
}

/**
 * Where a schema's outbox lives: the Postgres server (`pg_control_system().system_identifier`, set by
 * initdb), the database and the outbox table. A logical restore changes one of them at least — into
 * another server, into another database of the same server, or of the schema in place (the table is
 * created anew) — while migrations, restarts and upgrades of the server in place change none. Positions
 * and cursors only mean something within one identity.
 */
export interface OutboxIdentity {
  systemIdentifier: string;
  databaseOid: string;
  outboxOid: string;
}

const sameIdentity = (a: OutboxIdentity, b: OutboxIdentity) =>
  a.systemIdentifier === b.systemIdentifier && a.databaseOid === b.databaseOid && a.outboxOid === b.outboxOid;

/** The identity of `schema`'s outbox as it is now; null when the schema has no outbox. */
export async function outboxIdentity(sql: SqlRunner, schema: string): Promise<OutboxIdentity | null> {
  const [row] = await sql(
    `SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system,
            (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database,
            to_regclass(format('%I.outbox', $1::text))::oid::text AS outbox`,
    [schema],
  );
  return row.outbox
    ? {
        systemIdentifier: String(row.system),
        databaseOid: String(row.database),
        outboxOid: String(row.outbox),
      }
    : null;
}

/** What `outbox_rebases` says: the current epoch, and the identity last recorded (null: never). */
async function recordedState(
  sql: SqlRunner,
  schema: string,
): Promise<{ epoch: string | null; identity: OutboxIdentity | null }> {
  const rebases = table(schema, "outbox_rebases");
  const [current] = await sql(`SELECT epoch FROM ${rebases} ORDER BY id DESC LIMIT 1`);
  const [recorded] = await sql(
    `SELECT system_identifier, database_oid::text AS database_oid, outbox_oid::text AS outbox_oid
       FROM ${rebases} WHERE system_identifier IS NOT NULL ORDER BY id DESC LIMIT 1`,
  );
  return {
    epoch: (current?.epoch as string | null | undefined) ?? null,
    identity: recorded
      ? {
          systemIdentifier: String(recorded.system_identifier),
          databaseOid: String(recorded.database_oid),
          outboxOid: String(recorded.outbox_oid),
        }
      : null,
  };
}

/** Why a subgraph whose positions are ahead is not ready (its `/ready` body and its log line say it). */
export const POSITIONS_AHEAD_REASON =
  "outbox positions are ahead of this Postgres server's transaction ids (a logical restore from another server): relays and live subscriptions would deliver nothing; stop the services and run `npm run migrate`";

/** Why a subgraph whose outbox was restored without migrate since is not ready. */
export const OUTBOX_RESTORED_REASON =
  "this database was restored (its outbox is not the one migrate recorded) and migrate has not started a new cursor epoch: subscription cursors from before the restore would be resumed and could skip changes; stop the services and run `npm run migrate`";

/**
 * A subgraph's readiness condition on its outbox: positions not ahead of the server, and the outbox the
 * one migrate recorded last (or none recorded yet). Checked at start and by `/ready` until it holds;
 * once it does it cannot stop holding (the counter only grows, and only migrate rebases or records, never
 * while a service is connected), so `/ready` then costs nothing more. Logged once, at error level, when
 * it fails.
 */
export class OutboxPositionsCheck {
  private fine = false;
  private reported = false;

  constructor(
    private readonly ds: DataSource,
    private readonly schema: string,
    private readonly log: Logger,
  ) {}

  /** `null` when the outbox is fine, else why the subgraph must not be ready. */
  async problem(): Promise<string | null> {
    if (this.fine) return null;
    const found = await inSystemScope(this.ds, async (m) => {
      const sql: SqlRunner = (text, params) => m.query(text, params);
      const ahead = await outboxPositionsAhead(sql, this.schema);
      if (ahead) return { ahead };
      if ((await existing(sql, this.schema, ["outbox", "outbox_rebases"])).length < 2) return null;
      const identity = (await outboxIdentity(sql, this.schema))!;
      const { identity: recorded } = await recordedState(sql, this.schema);
      return recorded && !sameIdentity(identity, recorded) ? { restored: { recorded, identity } } : null;
    });
    if (!found) {
      this.fine = true;
      if (this.reported) this.log.info({ schema: this.schema }, "outbox settled by migrate: ready");
      return null;
    }
    const reason = "ahead" in found ? POSITIONS_AHEAD_REASON : OUTBOX_RESTORED_REASON;
    if (!this.reported) {
      this.reported = true;
      if ("ahead" in found)
        this.log.error(
          { ...found.ahead, reason },
          "not ready: outbox positions are ahead of this Postgres server; run `npm run migrate` with the services stopped",
        );
      else
        this.log.error(
          { schema: this.schema, ...found.restored, reason },
          "not ready: the outbox was restored and migrate has not started a new cursor epoch; run `npm run migrate` with the services stopped",
        );
    }
    return reason;
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

/**
 * What migrate does to one schema's outbox: `REBASED` (positions ahead of the server renumbered, new
 * cursor epoch), `RESTORED` (its identity is not the one recorded: new cursor epoch, positions kept, as
 * they are behind the server), `RECORDED` (no identity recorded yet — a fresh install, or the first
 * migrate since identities are recorded — so it is recorded, and the epoch stays).
 */
export type OutboxSettlement = "REBASED" | "RESTORED" | "RECORDED";

/** One schema's part of `settleOutboxAfterRestore`. */
interface SchemaPlan {
  schema: string;
  kind: OutboxSettlement;
  standing: PositionStanding;
  identity: OutboxIdentity;
  /** The identity recorded before (null: none). */
  recorded: OutboxIdentity | null;
  /** The epoch before. */
  epoch: string | null;
}

/** What `settleOutboxAfterRestore` did: nothing (`null`), or this, under a new epoch when one started. */
export interface OutboxSettled {
  /** The new cursor epoch; null when none started (identities recorded only). */
  epoch: string | null;
  /** Schemas whose positions were renumbered. */
  rebased: SchemaRebase[];
  /** Schemas whose outbox is another one than last recorded (a restore): new epoch, positions kept. */
  restored: string[];
  /** Schemas whose identity was recorded for the first time. */
  recorded: string[];
}

/** How `settleOutboxAfterRestore` runs. */
export interface SettleOptions {
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

function refusal(plans: SchemaPlan[], sessions: string[]): Error {
  const why = plans.some((p) => p.kind === "REBASED")
    ? "Outbox positions must be rebased (a logical restore from another Postgres server)"
    : `A new subscription cursor epoch must start (${plans.map((p) => p.schema).join(", ")} restored: the outbox is not the one migrate last recorded)`;
  return new Error(
    `${why}, but services are connected: ${sessions.join(", ")}. Stop every posture, protection and SIEM process and run migrate again.`,
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

/** What each subgraph schema needs (`OutboxSettlement`); schemas that need nothing are left out. */
async function planSchemas(sql: SqlRunner): Promise<SchemaPlan[]> {
  const plans: SchemaPlan[] = [];
  for (const schema of SUBGRAPHS) {
    if ((await existing(sql, schema, ["outbox", "outbox_rebases"])).length < 2) continue;
    const standing = (await positionStanding(sql, schema))!;
    const identity = (await outboxIdentity(sql, schema))!;
    const { epoch, identity: recorded } = await recordedState(sql, schema);
    const kind: OutboxSettlement | null = standing.ahead
      ? "REBASED"
      : !recorded
        ? "RECORDED"
        : sameIdentity(identity, recorded)
          ? null
          : "RESTORED";
    if (kind) plans.push({ schema, kind, standing, identity, recorded, epoch });
  }
  return plans;
}

/**
 * Run by every `npm run migrate`, after the migrations: makes the outbox of every subgraph schema fit
 * this server after a logical restore, so no relay or subscription skips a change. Where stored
 * positions are ahead of the server's transaction ids it rebases them (`REBASED`); where the outbox is
 * not the one it recorded last (`outboxIdentity`: restored into another server or database, or in
 * place) it keeps the positions (they are behind the server); both start a new cursor epoch in
 * `outbox_rebases`, so every subscription cursor issued before is refused (`CURSOR_EXPIRED`) rather than
 * resumed in a numbering it was not issued in. Where no identity is recorded yet (a fresh install, the
 * first migrate since identities are recorded) it records it and keeps the epoch (`RECORDED`). A no-op
 * otherwise, after one look without a lock, so running it again changes nothing.
 *
 * Restored rows keep their order (a rebase numbers them as if one transaction had written them all, in
 * sequence order), each relay resumes just before the first row it had not read (at least once), and
 * `outbox_pruned` keeps marking what the retention removed.
 *
 * One transaction for the database. A new epoch is refused while any session of a subgraph role is
 * connected here, rather than started under a running service: that keeps positions in memory (a live
 * stream's place, the SIEM's cursor epoch) that would name the old numbering afterwards. It takes ACCESS
 * EXCLUSIVE locks on the position tables and `outbox_rebases` before it looks again, so a service
 * starting meanwhile waits at its first outbox read and finds the new epoch. Recording an identity
 * alone needs no service stopped: it locks `outbox_rebases` against another migrate only.
 */
export async function settleOutboxAfterRestore(
  adminUrl: string,
  options: SettleOptions,
): Promise<OutboxSettled | null> {
  const { log } = options;
  const roles = SUBGRAPHS.map((s) => roleName(options.rolePrefix, s));
  const client = new Client({ connectionString: adminUrl, application_name: "rampart-migrate" });
  await client.connect();
  const sql: SqlRunner = async (text, params) => (await client.query(text, params)).rows;
  try {
    // A look without locks first: the usual migrate (services running, nothing restored) stops here.
    await client.query("BEGIN READ ONLY");
    await client.query("SET LOCAL rampart.scope = 'system'");
    const found = await planSchemas(sql);
    await client.query("COMMIT");
    if (found.length === 0) return null;
    const renew = found.filter((p) => p.kind !== "RECORDED");
    if (renew.some((p) => p.kind === "REBASED"))
      log.warn(
        {
          schemas: renew
            .filter((p) => p.kind === "REBASED")
            .map((p) => ({ schema: p.schema, newestXid: p.standing.newest, nextXid: p.standing.next })),
        },
        "outbox positions are ahead of this Postgres server (a logical restore from another server): rebasing them",
      );
    for (const p of renew.filter((p) => p.kind === "RESTORED"))
      log.warn(
        { schema: p.schema, recorded: p.recorded, identity: p.identity },
        "outbox restored: it is not the one migrate last recorded (another server or database, or the schema restored in place); starting a new cursor epoch",
      );
    if (renew.length > 0) {
      const deadline = Date.now() + (options.settleMs ?? 5000);
      for (;;) {
        const sessions = await serviceSessions(sql, roles);
        if (sessions.length === 0) break;
        if (Date.now() > deadline) throw refusal(renew, sessions);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    await client.query("BEGIN");
    try {
      await client.query("SET LOCAL rampart.scope = 'system'");
      await client.query("SET LOCAL lock_timeout = '10s'");
      const locked: string[] = [];
      for (const schema of SUBGRAPHS)
        for (const name of await existing(
          sql,
          schema,
          renew.length > 0 ? [...POSITION_TABLES, "outbox_rebases"] : ["outbox_rebases"],
        ))
          locked.push(table(schema, name));
      await client.query(
        `LOCK TABLE ${locked.join(", ")} IN ${renew.length > 0 ? "ACCESS EXCLUSIVE" : "SHARE ROW EXCLUSIVE"} MODE`,
      );
      // Under the locks: a service that connected since would find them; one connected before refuses
      // a new epoch; another migrate that did the work meanwhile leaves nothing to do. Without the
      // services stopped, only identities are recorded (a restore found only now waits for the next run).
      if (renew.length > 0) {
        const sessions = await serviceSessions(sql, roles);
        if (sessions.length > 0) throw refusal(renew, sessions);
      }
      const plans = (await planSchemas(sql)).filter((p) => renew.length > 0 || p.kind === "RECORDED");
      const epoch = plans.some((p) => p.kind !== "RECORDED") ? randomBytes(6).toString("hex") : null;
      const done: OutboxSettled = { epoch, rebased: [], restored: [], recorded: [] };
      for (const p of plans) {
        let rows = 0;
        if (p.kind === "REBASED") {
          const rebase = await rebaseSchema(sql, {
            schema: p.schema,
            newestXid: p.standing.newest!,
            nextXid: p.standing.next,
          });
          done.rebased.push(rebase);
          rows = rebase.rows;
        } else if (p.kind === "RESTORED") done.restored.push(p.schema);
        else done.recorded.push(p.schema);
        await client.query(
          `INSERT INTO ${table(p.schema, "outbox_rebases")}
             (epoch, kind, rows, newest_xid, next_xid, system_identifier, database_oid, outbox_oid)
           VALUES ($1, $2, $3, $4::xid8, $5::xid8, $6, $7, $8)`,
          [
            p.kind === "RECORDED" ? p.epoch : epoch,
            p.kind,
            rows,
            p.standing.newest,
            p.standing.next,
            p.identity.systemIdentifier,
            p.identity.databaseOid,
            p.identity.outboxOid,
          ],
        );
      }
      await client.query("COMMIT");
      if (plans.length === 0) return null;
      for (const s of done.rebased) {
        for (const relay of s.relays)
          log.info({ schema: s.schema, ...relay }, "outbox rebase: relay offset moved");
        log.info(
          { schema: s.schema, rows: s.rows, watermarks: s.watermarks, relays: s.relays },
          "outbox rebase: rows renumbered",
        );
      }
      if (done.recorded.length)
        log.info({ schemas: done.recorded }, "outbox identity recorded; cursor epoch unchanged");
      if (epoch)
        log.warn(
          { epoch, schemas: [...done.rebased.map((s) => s.schema), ...done.restored] },
          done.rebased.length
            ? "outbox positions rebased; subscription cursors issued before now are refused (CURSOR_EXPIRED)"
            : "new outbox cursor epoch after a restore; subscription cursors issued before now are refused (CURSOR_EXPIRED)",
        );
      return done;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  } finally {
    await client.end();
  }
}
