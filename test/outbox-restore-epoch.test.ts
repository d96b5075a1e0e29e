import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Client as WsClient } from "graphql-ws";
import { Client } from "pg";
import { IngestAlertsDocument } from "./__generated__/graphql";
import { decodeOutboxCursor, encodeOutboxCursor, Role } from "../subgraphs/common/src";
import { adminUrl } from "./utils/database";
import { eventually, watch, wsClient, type Stream } from "./utils/live";
import { logLines, runMigrate } from "./utils/migrate";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * A logical restore into a Postgres server whose transaction counter is already ahead of the restored
 * rows: a real `pg_dump` of the platform's database restored with `pg_restore` into another database of
 * this server (whose counter is shared, so ahead), which then takes the platform's database's name. No
 * position is ahead, so nothing is rebased; migrate finds the outbox is not the one it recorded and
 * starts a new cursor epoch, so the subscription cursors issued before the restore — including one the
 * source server gave after the backup, past every restored row — are refused, and a fresh subscription
 * gets every change. Then one schema restored in place.
 */

const SUBGRAPHS = ["posture", "protection", "siem"] as const;
const run = promisify(execFile);

const ALERTS = `subscription Alerts($after: String) {
  alertCreated(after: $after) { cursor alert { sourceId } }
}`;
type AlertEvent = { cursor: string; alert: { sourceId: string } };
const events = (s: Stream) =>
  s.results.filter((r) => r.data).map((r) => (r.data as { alertCreated: AlertEvent }).alertCreated);
/** The error a subscription ended with (a close event's, or the last result's GraphQL errors). */
const refusal = (s: Stream) => {
  const errors = (Array.isArray(s.error) ? s.error : s.results.findLast((r) => r.errors)?.errors) as
    Array<{ message: string; extensions?: { code?: string } }> | undefined;
  return errors?.[0];
};

/** One `outbox_rebases` row as the test compares them. */
interface EpochRow {
  schema: string;
  id: number;
  kind: string;
  epoch: string | null;
  rows: number;
  /** Whether the recorded identity is the outbox's as it is now. */
  current: boolean;
}

describe("cursor epochs after a logical restore into a server that is ahead", () => {
  let platform: TestPlatform;
  const dir = mkdtempSync(join(tmpdir(), "rampart-restore-"));
  const clients: WsClient[] = [];
  /** Databases the restore made or replaced (renamed), dropped at the end if they are left. */
  const extraDatabases: string[] = [];
  const tenant = "restore-a";

  const reader = () => platform.token([Role.READER], tenant);
  const subscribe = async (after?: string) => {
    const c = wsClient(platform.gateway.url, await reader());
    clients.push(c);
    return watch(c, ALERTS, after ? { after } : {});
  };
  let raised = 0;
  /** Raises one alert; returns its source id. */
  const raise = async () => {
    const sourceId = `restore-${++raised}`;
    const input = [{ sourceId, title: `Alert ${raised}`, severity: "LOW" as never, entities: [] }];
    ok(
      await platform.request(IngestAlertsDocument, { input }, await platform.token([Role.INGESTOR], tenant)),
    );
    return sourceId;
  };
  /** Raises alerts until `stream` gets one (it has taken its start position); returns that event. */
  const streaming = async (stream: Stream) => {
    for (let attempt = 1; ; attempt++) {
      await raise();
      try {
        return await eventually(() => events(stream)[0], "a first alert", 3000);
      } catch (err) {
        if (attempt === 10) throw err;
      }
    }
  };
  /** The event of the alert `sourceId` on `stream`, once it is there. */
  const arrived = (stream: Stream, sourceId: string) =>
    eventually(() => events(stream).find((e) => e.alert.sourceId === sourceId), `alert ${sourceId}`);

  /** Runs statements on a connection of its own (so none stays open on a database being renamed). */
  const query = async (sql: string, params: unknown[] = [], url = platform.db.url) => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as Array<Record<string, unknown>>;
    } finally {
      await c.end();
    }
  };
  const epochRows = async (): Promise<EpochRow[]> =>
    (
      await Promise.all(
        SUBGRAPHS.map((schema) =>
          query(
            `SELECT $1::text AS schema, r.id::int AS id, r.kind, r.epoch, r.rows::int AS rows,
                    (r.system_identifier, r.database_oid, r.outbox_oid) IS NOT DISTINCT FROM
                    ((SELECT system_identifier::text FROM pg_control_system()),
                     (SELECT oid::bigint FROM pg_database WHERE datname = current_database()),
                     to_regclass(format('%I.outbox', $1::text))::oid::bigint) AS current
               FROM ${schema}.outbox_rebases r ORDER BY r.id`,
            [schema],
          ),
        ),
      )
    ).flat() as unknown as EpochRow[];
  const ready = async (name: (typeof SUBGRAPHS)[number]) => {
    const res = await fetch(new URL("/ready", platform.subgraphs[name].url));
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };
  const closeSubgraphs = async () => {
    for (const name of SUBGRAPHS) await platform.subgraphs[name].close();
  };
  const restartSubgraphs = async () => {
    for (const name of ["siem", "protection", "posture"] as const) await platform.restartSubgraph(name);
  };
  const stopStreams = async () => {
    for (const c of clients.splice(0)) await c.dispose();
  };
  /** Subscribes from each cursor and expects every subscription refused with CURSOR_EXPIRED, empty. */
  const expectExpired = async (cursors: string[]) => {
    for (const after of cursors) {
      const old = await subscribe(after);
      await eventually(() => old.completed, "the old cursor's subscription to end");
      expect(events(old)).toEqual([]);
      expect(refusal(old)).toMatchObject({
        extensions: { code: "CURSOR_EXPIRED" },
        message: expect.stringContaining("subscribe without `after`"),
      });
    }
  };
  /** Migrate, run with the services up, changes no epoch row, and `cursor` still resumes. */
  const expectMigrateChangesNothing = async (cursor: string) => {
    const before = await epochRows();
    const again = await runMigrate(platform);
    expect(again).toMatchObject({ code: 0, stderr: "" });
    expect(await epochRows()).toEqual(before);
    const next = await raise();
    const resumed = await subscribe(cursor);
    await arrived(resumed, next);
    expect(resumed.completed).toBe(false);
  };
  /** A fresh subscription gets every change made after it started, and resumes from its cursors. */
  const expectFreshStream = async (epoch: string) => {
    const fresh = await subscribe();
    await streaming(fresh);
    const sources = [await raise(), await raise(), await raise()];
    const got = [];
    for (const sourceId of sources) got.push(await arrived(fresh, sourceId));
    for (const e of got) expect(decodeOutboxCursor(e.cursor)?.epoch).toBe(epoch);
    const resumed = await subscribe(got[0].cursor);
    await eventually(() => events(resumed).length >= 2, "the alerts after the first");
    expect(events(resumed).map((e) => e.alert.sourceId)).toEqual(sources.slice(1));
    expect(resumed.completed).toBe(false);
    return got;
  };

  let beforeBackup: string;
  let afterBackup: string;
  /** A cursor the source server gave after its counter had moved past every position this server takes. */
  let aheadOfServer: string;
  let restoredEpoch: string;
  let freshCursor: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stopStreams();
    // Before the platform's own database: dropping it drops the roles, which own the replaced one's objects.
    for (const db of extraDatabases)
      await query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, [], adminUrl());
    await platform?.stop();
  });

  it("a fresh install records each outbox's identity under no epoch, and migrate again changes nothing, even with the services running", async () => {
    const recorded = await epochRows();
    expect(recorded).toEqual(
      SUBGRAPHS.map((schema) => ({
        schema,
        id: expect.any(Number),
        kind: "RECORDED",
        epoch: null,
        rows: 0,
        current: true,
      })),
    );
    const stream = await subscribe();
    await streaming(stream);
    beforeBackup = (await arrived(stream, await raise())).cursor;
    expect(decodeOutboxCursor(beforeBackup)?.epoch).toBeNull();

    await expectMigrateChangesNothing(beforeBackup);
  });

  it("after a restore into another database of a server that is ahead, the subgraphs are not ready and migrate refuses a new epoch while they are connected", async () => {
    const dump = join(dir, "rampart.dump");
    await run("pg_dump", ["--format=custom", `--file=${dump}`, `--dbname=${platform.db.url}`]);
    // After the backup: the source server goes on, and gives its subscriber cursors past every restored row.
    const stream = await subscribe();
    await streaming(stream);
    afterBackup = (await arrived(stream, await raise())).cursor;
    const position = decodeOutboxCursor(afterBackup)!;
    aheadOfServer = encodeOutboxCursor({
      xid: (BigInt(position.xid) + 1_000_000n).toString(),
      seq: position.seq,
    });

    await stopStreams();
    await closeSubgraphs();
    const name = new URL(platform.db.url).pathname.slice(1);
    const restored = `${name}_restored`;
    const replaced = `${name}_source`;
    extraDatabases.push(restored, replaced);
    await query(`CREATE DATABASE ${restored}`, [], adminUrl());
    const restoredUrl = new URL(platform.db.url);
    restoredUrl.pathname = `/${restored}`;
    await run("pg_restore", ["--exit-on-error", `--dbname=${restoredUrl}`, dump]);
    // The restored database takes the name the platform's configuration uses.
    await query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [name],
      adminUrl(),
    );
    await query(`ALTER DATABASE ${name} RENAME TO ${replaced}`, [], adminUrl());
    await query(`ALTER DATABASE ${restored} RENAME TO ${name}`, [], adminUrl());
    // No position is ahead of this server: only the identity tells the restore.
    expect((await epochRows()).map((r) => ({ schema: r.schema, kind: r.kind, current: r.current }))).toEqual(
      SUBGRAPHS.map((schema) => ({ schema, kind: "RECORDED", current: false })),
    );

    // Started again without migrate: not ready, saying why.
    await restartSubgraphs();
    for (const name of SUBGRAPHS) {
      const { status, body } = await ready(name);
      expect({ name, status }).toEqual({ name, status: 503 });
      expect(body.reason).toMatch(/this database was restored .*`npm run migrate`/);
    }
    const refused = await runMigrate(platform);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /new subscription cursor epoch must start .*services are connected: .*_siem/,
    );
    expect((await epochRows()).every((r) => r.kind === "RECORDED")).toBe(true);
  });

  it("with the services stopped, migrate starts a new epoch for every outbox and says so", async () => {
    await closeSubgraphs();
    const result = await runMigrate(platform);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [started] = logLines(
      result.logs,
      "new outbox cursor epoch after a restore; subscription cursors issued before now are refused (CURSOR_EXPIRED)",
    );
    expect(started).toMatchObject({
      epoch: expect.stringMatching(/^[0-9a-f]{12}$/),
      schemas: [...SUBGRAPHS],
    });
    restoredEpoch = started.epoch as string;
    expect(
      logLines(
        result.logs,
        "outbox restored: it is not the one migrate last recorded (another server or database, or the schema restored in place); starting a new cursor epoch",
      ).map((l) => l.schema),
    ).toEqual([...SUBGRAPHS]);
    expect(logLines(result.logs, "outbox rebase: rows renumbered")).toEqual([]);
    const rows = await epochRows();
    for (const schema of SUBGRAPHS)
      expect(
        rows.filter((r) => r.schema === schema).map(({ kind, epoch, current }) => ({ kind, epoch, current })),
      ).toEqual([
        { kind: "RECORDED", epoch: null, current: false },
        { kind: "RESTORED", epoch: restoredEpoch, current: true },
      ]);
    await restartSubgraphs();
    for (const name of SUBGRAPHS)
      expect({ name, ...(await ready(name)) }).toMatchObject({ name, status: 200 });
  });

  it("refuses every cursor issued before the restore with CURSOR_EXPIRED, and a fresh subscription gets every new change", async () => {
    await expectExpired([beforeBackup, afterBackup, aheadOfServer]);
    const got = await expectFreshStream(restoredEpoch);
    // These changes sort before the cursor the source server gave last: resumed from it, they would be skipped.
    for (const e of got)
      expect(BigInt(decodeOutboxCursor(e.cursor)!.xid)).toBeLessThan(
        BigInt(decodeOutboxCursor(aheadOfServer)!.xid),
      );
    freshCursor = got[0].cursor;
  });

  it("migrate run again changes nothing: same epoch, and cursors issued since resume", async () => {
    await expectMigrateChangesNothing(freshCursor);
  });

  it("a restore of one schema in place starts a new epoch for that schema only", async () => {
    const dump = join(dir, "siem.dump");
    await run("pg_dump", [
      "--format=custom",
      `--file=${dump}`,
      "-n",
      "siem",
      "-n",
      "siem_jobs",
      `--dbname=${platform.db.url}`,
    ]);
    const stream = await subscribe();
    await streaming(stream);
    const afterSchemaBackup = (await arrived(stream, await raise())).cursor;
    await stopStreams();
    await closeSubgraphs();
    const before = await epochRows();
    const owner = `${platform.db.rolePrefix}_siem`;
    await query(
      `DROP SCHEMA siem, siem_jobs CASCADE; CREATE SCHEMA siem AUTHORIZATION ${owner}; CREATE SCHEMA siem_jobs AUTHORIZATION ${owner}`,
      [],
      platform.db.url,
    );
    await run("pg_restore", [
      "--exit-on-error",
      `--dbname=${platform.db.url}`,
      "-n",
      "siem",
      "-n",
      "siem_jobs",
      dump,
    ]);

    const result = await runMigrate(platform);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const rows = await epochRows();
    // Posture and protection were not restored: their epochs stay.
    expect(rows.filter((r) => r.schema !== "siem")).toEqual(before.filter((r) => r.schema !== "siem"));
    const siem = rows.filter((r) => r.schema === "siem");
    expect(siem.slice(0, -1)).toEqual(
      before.filter((r) => r.schema === "siem").map((r) => ({ ...r, current: false })),
    );
    const last = siem[siem.length - 1];
    expect(last).toMatchObject({
      kind: "RESTORED",
      current: true,
      epoch: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
    expect(last.epoch).not.toBe(restoredEpoch);

    await restartSubgraphs();
    await expectExpired([afterSchemaBackup, freshCursor]);
    await expectFreshStream(last.epoch!);
  });
});
