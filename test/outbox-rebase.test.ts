import { readFileSync } from "node:fs";
import type { Client as WsClient } from "graphql-ws";
import { Client } from "pg";
import { register, type Counter } from "prom-client";
import { DetectionsDocument, IngestAlertsDocument, WorkloadAlertsDocument } from "./__generated__/graphql";
import { decodeOutboxCursor, encodeOutboxCursor, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { eventually, watch, wsClient, type Stream } from "./utils/live";
import { logLines, runMigrate as migrate } from "./utils/migrate";
import { ok } from "./utils/seed";

/**
 * A logical restore into a Postgres server whose transaction counter is behind the restored `xid`s:
 * simulated by moving every stored outbox position a billion transactions ahead of this server, as
 * the source server would have numbered them. Without `npm run migrate` the subgraphs say so on
 * `/ready`; migrate rebases the positions (refusing while services are connected), after which the
 * relay delivers the restored undelivered rows once and new changes reach relays and live subscribers,
 * and subscription cursors from before the restore are refused.
 */

const SUBGRAPHS = ["posture", "protection", "siem"] as const;
const AHEAD = 1_000_000_000n;
const DAY = 86_400_000;
/** Whole days that move the telemetry fixture's day (2025-01-15, UTC) to yesterday, inside the retention. */
const SHIFT = (Math.floor(Date.now() / DAY) - 1) * DAY - Date.parse("2025-01-15T00:00:00Z");
/** The process fixture raises four detections, whatever the tenant's inventory. */
const PROCESS = readFileSync("test/fixtures/protection/telemetry/process.ndjson", "utf8")
  .split("\n")
  .filter((line) => line.trim())
  .map((line) => {
    const r = JSON.parse(line) as { time: string };
    return JSON.stringify({ ...r, time: new Date(Date.parse(r.time) + SHIFT).toISOString() });
  })
  .join("\n");

const ALERTS = `subscription Alerts($after: String) {
  alertCreated(after: $after) { cursor alert { sourceId provider } }
}`;
type AlertEvent = { cursor: string; alert: { sourceId: string; provider: string } };
const events = (s: Stream) =>
  s.results.filter((r) => r.data).map((r) => (r.data as { alertCreated: AlertEvent }).alertCreated);
/** The stream's alerts that protection's relay delivered (detections). */
const workloadEvents = (s: Stream) => events(s).filter((e) => e.alert.provider === "WORKLOAD_PROTECTION");
/** The error a subscription ended with (a close event's, or the last result's GraphQL errors). */
const refusal = (s: Stream) => {
  const errors = (Array.isArray(s.error) ? s.error : s.results.findLast((r) => r.errors)?.errors) as
    Array<{ message: string; extensions?: { code?: string } }> | undefined;
  return errors?.[0];
};

/** A prom-client counter's value for these labels. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = register.getSingleMetric(name) as Counter<string> | undefined;
  if (!m) return 0;
  return (await m.get()).values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Polls an asynchronous `check` until it holds. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("outbox positions after a logical restore into a server that is behind", () => {
  let platform: TestPlatform;
  let admin: Client;
  const clients: WsClient[] = [];
  const client = (token: string) => {
    const c = wsClient(platform.gateway.url, token);
    clients.push(c);
    return c;
  };
  const token = (role: Role, tenant: string) => platform.token([role], tenant);

  const ingest = async (tenant: string) => {
    const res = await fetch(platform.gateway.url.replace(/\/graphql$/, "/ingest/telemetry"), {
      method: "POST",
      headers: {
        "content-type": "application/x-ndjson",
        authorization: `Bearer ${await token(Role.INGESTOR, tenant)}`,
      },
      body: PROCESS,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { detections: number }).detections).toBe(4);
  };
  let probes = 0;
  /** Raises one alert at a time until `stream` gets one: it has taken its start position. */
  const streaming = async (stream: Stream, tenant: string) => {
    for (let attempt = 1; ; attempt++) {
      const i = ++probes;
      const input = [{ sourceId: `probe-${i}`, title: `Probe ${i}`, severity: "LOW" as never, entities: [] }];
      ok(await platform.request(IngestAlertsDocument, { input }, await token(Role.INGESTOR, tenant)));
      try {
        return await eventually(() => events(stream).length > 0, "a first alert", 3000);
      } catch (err) {
        if (attempt === 10) throw err;
      }
    }
  };
  const queued = async (tenant: string) =>
    ok(
      await platform.request(
        DetectionsDocument,
        { filter: { delivered: false }, first: 100 },
        await token(Role.READER, tenant),
      ),
    ).detections.totalCount;
  const workloadAlerts = async (tenant: string) =>
    ok(
      await platform.request(WorkloadAlertsDocument, {}, await token(Role.READER, tenant)),
    ).alerts.nodes.filter((a) => a.provider === "WORKLOAD_PROTECTION");
  const ready = async (name: (typeof SUBGRAPHS)[number]) => {
    const res = await fetch(new URL("/ready", platform.subgraphs[name].url));
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };
  const delivered = () =>
    metric("rampart_relay_delivered_total", { subgraph: "protection", consumer: "siem-alerts" });
  const closeSubgraphs = async () => {
    for (const name of SUBGRAPHS) await platform.subgraphs[name].close();
  };
  const restartSubgraphs = async () => {
    for (const name of ["siem", "protection", "posture"] as const) await platform.restartSubgraph(name);
  };

  let restoredCursor: string;
  let reachedCursor: string;
  /** A subscription the gateway keeps through the restore, resubscribing after its last cursor. */
  let kept: Stream;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    admin = new Client({ connectionString: platform.db.url });
    await admin.connect();

    // Before the backup: tenant A's detections reach the SIEM (a live subscriber sees the alerts);
    // tenant B's wait in the outbox while the SIEM is down.
    const stream = watch(client(await token(Role.READER, "rebase-a")), ALERTS);
    await streaming(stream, "rebase-a");
    await ingest("rebase-a");
    await eventually(() => workloadEvents(stream).length === 4, "tenant A's alerts on the live stream");
    const oldCursor = decodeOutboxCursor(events(stream)[0].cursor)!;
    stream.stop();
    kept = watch(client(await token(Role.READER, "rebase-a")), ALERTS, { after: events(stream)[3].cursor });
    await eventually(() => events(kept).length > 0, "the kept subscription's replay");
    // The SIEM's automation relay has read its whole outbox.
    await until("the automation relay has read the SIEM's outbox", async () => {
      const { rows } = await admin.query(
        `SELECT (o.xid, o.seq) = (SELECT xid, seq FROM siem.outbox ORDER BY xid DESC, seq DESC LIMIT 1) AS caught_up
           FROM siem.relay_offsets o WHERE consumer = 'automation'`,
      );
      return rows[0]?.caught_up === true;
    });
    await platform.subgraphs.siem.close();
    await ingest("rebase-b");
    expect(await queued("rebase-b")).toBe(4);
    await closeSubgraphs();
    // Posture's outbox has no consumer; one row of it is enough to be restored.
    await admin.query(
      `INSERT INTO posture.outbox (tenant_id, topic, key, payload) VALUES ('rebase-a', 'test.rebase', 'k', '{}')`,
    );

    // The restore: every stored position as the source server, a billion transactions ahead, numbered
    // it. A relay that never moved stays at the start.
    for (const [schema, tables] of [
      ["posture", ["outbox"]],
      ["protection", ["outbox", "relay_offsets"]],
      ["siem", ["outbox", "relay_offsets", "outbox_pruned"]],
    ] as const)
      for (const table of tables)
        await admin.query(
          `UPDATE ${schema}.${table} SET xid = (xid::text::numeric + $1)::text::xid8 WHERE xid <> '0'`,
          [AHEAD.toString()],
        );
    // A watermark of the retention job, from the source server, for the tenant that subscribes later.
    await admin.query(
      `INSERT INTO siem.outbox_pruned (tenant_id, topic, xid, seq)
       VALUES ('rebase-c', 'alert.created', (pg_current_xact_id()::text::numeric + $1)::text::xid8, 1)`,
      [AHEAD.toString()],
    );
    // The cursor the source server gave tenant A's subscriber, and one it would have given when its
    // counter stood where this server's stands now.
    restoredCursor = encodeOutboxCursor({
      xid: (BigInt(oldCursor.xid) + AHEAD).toString(),
      seq: oldCursor.seq,
    });
    reachedCursor = encodeOutboxCursor(oldCursor);
    // Started again, without migrate.
    await restartSubgraphs();
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) await c.dispose();
    await admin?.end();
    await platform?.stop();
  });

  it("without migrate, every subgraph's /ready is 503 and says why, and so the gateway's; changes wait", async () => {
    for (const name of SUBGRAPHS) {
      const { status, body } = await ready(name);
      expect({ name, status }).toEqual({ name, status: 503 });
      expect(body.reason).toMatch(/outbox positions are ahead of this Postgres server.*`npm run migrate`/);
    }
    expect((await fetch(new URL("/ready", platform.gateway.url))).status).toBe(503);
    // The gateway still routes: changes made now get positions before the relays' offsets, and wait.
    await ingest("rebase-d");
    expect(await queued("rebase-d")).toBe(4);
    const input = [
      { sourceId: "rebase-d-1", title: "Before migrate", severity: "HIGH" as never, entities: [] },
    ];
    ok(await platform.request(IngestAlertsDocument, { input }, await token(Role.INGESTOR, "rebase-d")));
  });

  it("migrate refuses to rebase while services are connected, and changes nothing", async () => {
    const refused = await migrate(platform);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/services are connected: .*_protection/);
    for (const schema of SUBGRAPHS) {
      const { rows } = await admin.query(
        `SELECT (SELECT count(*)::int FROM ${schema}.outbox WHERE xid = '2') AS rebased,
                (SELECT count(*)::int FROM ${schema}.outbox_rebases WHERE kind = 'REBASED') AS rebases`,
      );
      expect({ schema, ...rows[0] }).toEqual({ schema, rebased: 0, rebases: 0 });
    }
  });

  it("migrate rebases with the services stopped and says what it did; then the restored undelivered rows are delivered once, and new changes reach the relay and live subscribers", async () => {
    await closeSubgraphs();
    const offsetBefore = (
      await admin.query(
        `SELECT xid::text || ':' || seq AS position FROM protection.relay_offsets WHERE consumer = 'siem-alerts'`,
      )
    ).rows[0].position as string;
    const firstUnread = (
      await admin.query(
        `SELECT min(x.seq)::text AS seq FROM protection.outbox x, protection.relay_offsets o
          WHERE o.consumer = 'siem-alerts' AND (x.xid, x.seq) > (o.xid, o.seq)`,
      )
    ).rows[0].seq as string;
    // The SIEM's rows written since the restore (the automation relay had read every restored one).
    const firstNewSiemRow = (
      await admin.query(`SELECT min(seq)::text AS seq FROM siem.outbox WHERE xid::text::numeric < $1`, [
        AHEAD.toString(),
      ])
    ).rows[0].seq as string;
    expect(firstNewSiemRow).not.toBeNull();
    const rebased = await migrate(platform);
    expect(rebased.stderr).toBe("");
    expect(rebased.code).toBe(0);
    // Each relay goes just before the first row it had not read: the first detection it had not delivered.
    expect(logLines(rebased.logs, "outbox rebase: relay offset moved")).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          schema: "protection",
          consumer: "siem-alerts",
          from: offsetBefore,
          to: `2:${BigInt(firstUnread) - 1n}`,
        }),
        // Just before what was written since the restore: those rows had a smaller xid than its offset.
        expect.objectContaining({
          schema: "siem",
          consumer: "automation",
          to: `2:${BigInt(firstNewSiemRow) - 1n}`,
        }),
      ]),
    );
    const renumbered = logLines(rebased.logs, "outbox rebase: rows renumbered");
    for (const schema of SUBGRAPHS) {
      const { rows } = await admin.query(
        `SELECT (SELECT count(*)::int FROM ${schema}.outbox) AS rows,
                (SELECT count(*)::int FROM ${schema}.outbox WHERE xid <> '2') AS left,
                (SELECT count(*)::int FROM ${schema}.outbox_rebases WHERE kind = 'REBASED') AS rebases`,
      );
      expect(rows[0]).toEqual({ rows: expect.any(Number), left: 0, rebases: 1 });
      expect(renumbered.find((l) => l.schema === schema)).toMatchObject({ rows: rows[0].rows });
    }
    expect(renumbered.find((l) => l.schema === "siem")).toMatchObject({ watermarks: 1 });

    // Started again: ready; the restored undelivered detections, and those made before migrate ran,
    // reach the SIEM, once.
    const deliveredBefore = await delivered();
    await restartSubgraphs();
    for (const name of SUBGRAPHS)
      expect({ name, ...(await ready(name)) }).toMatchObject({ name, status: 200 });
    expect((await fetch(new URL("/ready", platform.gateway.url))).status).toBe(200);
    for (const tenant of ["rebase-b", "rebase-d"]) {
      await until(`${tenant}'s detections are delivered`, async () => (await queued(tenant)) === 0);
      expect((await workloadAlerts(tenant)).length).toBe(4);
    }
    await until("the relay counted them", async () => (await delivered()) - deliveredBefore >= 8);
    expect((await delivered()) - deliveredBefore).toBe(8);

    // A new change goes through the relay and reaches a live subscriber through the gateway; its cursors
    // resume (the source server's watermark of its tenant refuses nothing now).
    const live = watch(client(await token(Role.READER, "rebase-c")), ALERTS);
    await streaming(live, "rebase-c");
    await ingest("rebase-c");
    await eventually(() => workloadEvents(live).length === 4, "tenant C's alerts on the live stream");
    // The relay counts a round once its own transaction has committed, which can be after the SIEM's alerts
    // reached the stream: wait for the count, then check it is exact.
    await until(
      "the relay counted tenant C's deliveries",
      async () => (await delivered()) - deliveredBefore >= 12,
    );
    expect((await delivered()) - deliveredBefore).toBe(12);
    const resumed = watch(client(await token(Role.READER, "rebase-c")), ALERTS, {
      after: workloadEvents(live)[0].cursor,
    });
    await eventually(() => workloadEvents(resumed).length === 3, "the alerts after the first");
    expect(events(resumed).map((e) => e.cursor)).toEqual(
      workloadEvents(live)
        .slice(1)
        .map((e) => e.cursor),
    );
    expect(resumed.completed).toBe(false);
    live.stop();
    resumed.stop();
  });

  it("refuses a subscription cursor from before the restore with CURSOR_EXPIRED, saying to subscribe without `after`", async () => {
    // The gateway resumed its upstream subscription from its last cursor when the SIEM came back.
    await eventually(() => kept.completed, "the kept subscription to end");
    expect(refusal(kept)?.extensions?.code).toBe("CURSOR_EXPIRED");

    for (const after of [restoredCursor, reachedCursor]) {
      const old = watch(client(await token(Role.READER, "rebase-a")), ALERTS, { after });
      await eventually(() => old.completed, "the old cursor's subscription to end");
      expect(events(old)).toEqual([]);
      expect(refusal(old)).toMatchObject({
        extensions: { code: "CURSOR_EXPIRED" },
        message: expect.stringContaining("subscribe without `after`"),
      });
    }
  });
});
