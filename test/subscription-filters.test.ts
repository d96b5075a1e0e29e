import type { Client } from "graphql-ws";
import {
  CloseIncidentDocument,
  CreateAnalyticsRuleDocument,
  IngestAlertsDocument,
  UpdateIncidentDocument,
} from "./__generated__/graphql";
import { commonTaskList, decodeOutboxCursor, inSystemScope, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { eventually, watch, wsClient, type Stream } from "./utils/live";
import { ingestFixture, ok } from "./utils/seed";

const pause = (ms = 300) => new Promise((r) => setTimeout(r, ms));

/** The error code a refused subscription ended with (sent as an `error` message or an error result). */
function refusalCode(stream: Stream): string | undefined {
  const errors = (Array.isArray(stream.error) ? stream.error : stream.results[0]?.errors) as
    Array<{ extensions?: { code?: string } }> | undefined;
  return errors?.[0]?.extensions?.code;
}

const ALERTS = `subscription Alerts($after: String, $filter: AlertFilter) {
  alertCreated(after: $after, filter: $filter) {
    cursor occurredAt alert { title severity provider status entities { type value } }
  }
}`;

interface AlertEvent {
  cursor: string;
  occurredAt: string;
  alert: {
    title: string;
    severity: string;
    provider: string;
    status: string;
    entities: Array<{ type: string; value: string }>;
  };
}

const alerts = (s: Stream): AlertEvent[] =>
  s.results.filter((r) => r.data).map((r) => (r.data as { alertCreated: AlertEvent }).alertCreated);
const titles = (s: Stream) => alerts(s).map((e) => e.alert.title);

const CHANGES = `subscription Changes($after: String, $filter: IncidentChangeFilter) {
  incidentChanges(after: $after, filter: $filter) {
    cursor kind changedFields actor incident { number status owner }
  }
}`;

interface Change {
  cursor: string;
  kind: string;
  changedFields: string[];
  actor: string | null;
  incident: { number: number; status: string; owner: string | null };
}

const changes = (s: Stream): Change[] =>
  s.results.filter((r) => r.data).map((r) => (r.data as { incidentChanges: Change }).incidentChanges);
/** `KIND #number` per change, the shape most assertions compare. */
const summary = (s: Stream) => changes(s).map((c) => `${c.kind} #${c.incident.number}`);

/** The two AZURE_ACTIVITY fixture records that delete a diagnostic setting (successfully). */
const DIAGNOSTIC_SETTINGS = [
  "/subscriptions/6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42/providers/microsoft.insights/diagnosticSettings/activity-log-to-log-contoso-prod",
  "/subscriptions/6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42/resourceGroups/rg-payments-prod/providers/Microsoft.KeyVault/vaults/kv-payments-prod/providers/microsoft.insights/diagnosticSettings/kv-audit-to-law",
];

describe("subscription filters through the gateway", () => {
  let platform: TestPlatform;
  const clients: Client[] = [];

  const client = (token: string) => {
    const c = wsClient(platform.gateway.url, token);
    clients.push(c);
    return c;
  };

  /** Raises one alert on a host of its own (so it opens an incident of its own). */
  async function raise(
    token: string,
    title: string,
    severity: string,
    provider = "EXTERNAL",
    status = "NEW",
  ): Promise<string> {
    const host = `${title.toLowerCase()}.contoso.example`;
    const res = ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            {
              provider: provider as never,
              sourceId: `src-${title}`,
              title,
              severity: severity as never,
              status: status as never,
              entities: [{ type: "HOST" as never, value: host }],
            },
          ],
        },
        token,
      ),
    );
    expect(res.ingestAlerts).toMatchObject({ createdCount: 1, duplicateCount: 0, rejected: [] });
    return host;
  }

  /** The tenant's incidents by number (id, etag, status, owner), read through the gateway. */
  async function incidents(token: string) {
    const res = await fetch(platform.gateway.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ incidents(first: 100) { nodes { id number etag status owner } } }` }),
    });
    const body = (await res.json()) as {
      data: {
        incidents: {
          nodes: Array<{ id: string; number: number; etag: string; status: string; owner: string | null }>;
        };
      };
    };
    return new Map(body.data.incidents.nodes.map((n) => [n.number, n]));
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
  });
  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await platform?.stop();
  });

  it("alertCreated: every new alert once, filtered by severity, provider and status, replayable, per tenant", async () => {
    const tenant = "tenant-filters-a";
    const reader = await platform.token([Role.READER], tenant, "reader@contoso.example");
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    const admin = await platform.token([Role.ADMIN], tenant);
    const readerB = await platform.token([Role.READER], "tenant-filters-b");
    const ingestorB = await platform.token([Role.INGESTOR], "tenant-filters-b");
    ok(await platform.request(CreateAnalyticsRuleDocument, { templateId: "logging-disabled" }, admin));

    const c = client(reader);
    const all = watch(c, ALERTS);
    const high = watch(c, ALERTS, { filter: { minSeverity: "HIGH" } });
    const external = watch(c, ALERTS, { filter: { providers: ["EXTERNAL"] } });
    const fromRulesOrWorkloads = watch(c, ALERTS, {
      filter: { providers: ["ANALYTICS_RULE", "WORKLOAD_PROTECTION"] },
    });
    const highWorkloads = watch(c, ALERTS, {
      filter: { minSeverity: "HIGH", providers: ["WORKLOAD_PROTECTION"] },
    });
    const active = watch(c, ALERTS, { filter: { statuses: ["ACTIVE"] } });
    const tenantB = watch(client(readerB), ALERTS);
    await pause();

    const started = Date.now();
    const hosts = [
      await raise(ingestor, "A1-external-low", "LOW"),
      await raise(ingestor, "A2-external-high", "HIGH"),
      await raise(ingestor, "A3-workload-medium", "MEDIUM", "WORKLOAD_PROTECTION", "ACTIVE"),
      await raise(ingestor, "A4-external-high", "HIGH"),
      await raise(ingestor, "A5-workload-high", "HIGH", "WORKLOAD_PROTECTION"),
    ];
    // Two records of the fixture delete a diagnostic setting: the rule raises one alert for each.
    const res = await ingestFixture(platform, ingestor, "AZURE_ACTIVITY");
    expect(res.status).toBe(200);
    await eventually(() => alerts(all).length >= 7, "seven alerts");
    await eventually(() => alerts(high).length >= 5, "five HIGH alerts");
    await eventually(() => alerts(fromRulesOrWorkloads).length >= 4, "four rule or workload alerts");
    await pause(); // anything extra (a repeat, a filtered-out alert) would arrive meanwhile
    const ended = Date.now();

    // (a) Each alert once, in commit order, with its fields.
    expect(all.results.every((r) => !r.errors)).toBe(true);
    const ingested = [
      ["A1-external-low", "LOW", "EXTERNAL", "NEW"],
      ["A2-external-high", "HIGH", "EXTERNAL", "NEW"],
      ["A3-workload-medium", "MEDIUM", "WORKLOAD_PROTECTION", "ACTIVE"],
      ["A4-external-high", "HIGH", "EXTERNAL", "NEW"],
      ["A5-workload-high", "HIGH", "WORKLOAD_PROTECTION", "NEW"],
    ];
    expect(
      alerts(all)
        .slice(0, 5)
        .map((e) => e.alert),
    ).toEqual(
      ingested.map(([title, severity, provider, status], i) => ({
        title,
        severity,
        provider,
        status,
        entities: [{ type: "HOST", value: hosts[i] }],
      })),
    );
    // The rule's alerts, one per deleting record, in the fixture's order.
    expect(
      alerts(all)
        .slice(5)
        .map((e) => e.alert),
    ).toEqual(
      DIAGNOSTIC_SETTINGS.map((resource) => ({
        title: "Audit logging disabled",
        severity: "HIGH",
        provider: "ANALYTICS_RULE",
        status: "NEW",
        entities: [
          { type: "ACCOUNT", value: "lee.gu@contoso.com" },
          { type: "RESOURCE", value: resource },
          { type: "IP", value: "203.0.113.77" },
        ],
      })),
    );
    const cursors = alerts(all).map((e) => e.cursor);
    expect(new Set(cursors).size).toBe(7);
    const times = alerts(all).map((e) => Date.parse(e.occurredAt));
    for (const [i, t] of times.entries()) {
      expect(t).toBeGreaterThanOrEqual(started - 5_000);
      expect(t).toBeLessThanOrEqual(ended + 5_000);
      if (i > 0) expect(t).toBeGreaterThanOrEqual(times[i - 1]);
    }

    // (b) Filters: every condition given must hold; the cursors are the unfiltered stream's.
    const ruleTitles = ["Audit logging disabled", "Audit logging disabled"];
    expect(titles(high)).toEqual(["A2-external-high", "A4-external-high", "A5-workload-high", ...ruleTitles]);
    expect(titles(external)).toEqual(["A1-external-low", "A2-external-high", "A4-external-high"]);
    expect(titles(fromRulesOrWorkloads)).toEqual(["A3-workload-medium", "A5-workload-high", ...ruleTitles]);
    expect(titles(highWorkloads)).toEqual(["A5-workload-high"]);
    expect(titles(active)).toEqual(["A3-workload-medium"]);
    expect(alerts(high).map((e) => e.cursor)).toEqual([1, 3, 4, 5, 6].map((i) => cursors[i]));
    expect(alerts(fromRulesOrWorkloads).map((e) => e.cursor)).toEqual([2, 4, 5, 6].map((i) => cursors[i]));

    // (c) Replay from the first alert's cursor: the later ones in the same order, then live ones.
    const replay = watch(c, ALERTS, { after: cursors[0] });
    const replayHigh = watch(c, ALERTS, { after: cursors[0], filter: { minSeverity: "HIGH" } });
    await eventually(() => alerts(replay).length >= 6, "the replay");
    await eventually(() => alerts(replayHigh).length >= 5, "the HIGH replay");
    expect(alerts(replay).map((e) => e.cursor)).toEqual(cursors.slice(1));
    expect(alerts(replay).map((e) => e.alert)).toEqual(
      alerts(all)
        .slice(1)
        .map((e) => e.alert),
    );
    expect(alerts(replayHigh).map((e) => e.cursor)).toEqual(alerts(high).map((e) => e.cursor));
    await raise(ingestor, "A8-external-high-live", "HIGH");
    await eventually(() => alerts(all).length >= 8, "the live alert");
    await eventually(() => alerts(replay).length >= 7, "the live alert after the replay");
    await eventually(() => alerts(replayHigh).length >= 6, "the live HIGH alert after the replay");
    await pause();
    expect(alerts(replay).map((e) => e.cursor)).toEqual(
      alerts(all)
        .slice(1)
        .map((e) => e.cursor),
    );
    expect(titles(replay).at(-1)).toBe("A8-external-high-live");
    expect(titles(replayHigh)).toEqual([...titles(high)]);
    expect(titles(high).at(-1)).toBe("A8-external-high-live");
    expect(titles(external)).toEqual([
      "A1-external-low",
      "A2-external-high",
      "A4-external-high",
      "A8-external-high-live",
    ]);
    expect(titles(highWorkloads)).toEqual(["A5-workload-high"]);

    // (d) Tenants apart: B saw none of A's alerts, live or replayed from A's cursor, only its own.
    expect(alerts(tenantB)).toEqual([]);
    const hostB = await raise(ingestorB, "B1-external-medium", "MEDIUM");
    await eventually(() => alerts(tenantB).length >= 1, "tenant B's alert");
    const replayB = watch(client(readerB), ALERTS, { after: cursors[0] });
    await eventually(() => alerts(replayB).length >= 1, "tenant B's replay");
    await pause();
    expect(alerts(tenantB).map((e) => e.alert)).toEqual([
      {
        title: "B1-external-medium",
        severity: "MEDIUM",
        provider: "EXTERNAL",
        status: "NEW",
        entities: [{ type: "HOST", value: hostB }],
      },
    ]);
    expect(alerts(replayB).map((e) => e.cursor)).toEqual(alerts(tenantB).map((e) => e.cursor));
    expect(titles(all)).not.toContain("B1-external-medium");
    expect(alerts(all)).toHaveLength(8);

    // (e) A malformed cursor is BAD_USER_INPUT; a token without a reading role is FORBIDDEN.
    const bad = watch(c, ALERTS, { after: "not-a-cursor" });
    await eventually(() => bad.completed, "the bad cursor's subscription to end");
    expect(refusalCode(bad)).toBe("BAD_USER_INPUT");
    const ingestOnly = watch(client(ingestor), ALERTS);
    await eventually(() => ingestOnly.completed, "the INGESTOR's subscription to end");
    expect(refusalCode(ingestOnly)).toBe("FORBIDDEN");
    expect(alerts(bad)).toEqual([]);
    expect(alerts(ingestOnly)).toEqual([]);

    for (const s of [all, high, external, fromRulesOrWorkloads, highWorkloads, active, tenantB])
      expect(s.completed).toBe(false);
    for (const s of [all, high, external, fromRulesOrWorkloads, highWorkloads, active, tenantB]) s.stop();
    replay.stop();
    replayHigh.stop();
    replayB.stop();
  });

  it("incidentChanges: filters by owner and by status (CLOSED, NEW/ACTIVE), combined", async () => {
    const tenant = "tenant-filters-c";
    const reader = await platform.token([Role.READER], tenant, "reader@contoso.example");
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    const analyst = await platform.token([Role.ANALYST], tenant, "analyst@contoso.example");
    const alice = "alice@contoso.example";
    const bob = "bob@contoso.example";

    await raise(ingestor, "C1-first", "MEDIUM");
    await raise(ingestor, "C2-second", "MEDIUM");
    await raise(ingestor, "C3-third", "MEDIUM");
    const before = await incidents(reader);
    expect(before.size).toBe(3);
    const [n1, n2, n3] = [...before.keys()].sort((a, b) => a - b);
    expect([...before.values()].map((i) => [i.status, i.owner])).toEqual([
      ["NEW", null],
      ["NEW", null],
      ["NEW", null],
    ]);

    const update = async (n: number, change: Record<string, unknown>) => {
      const { id, etag } = (await incidents(reader)).get(n)!;
      ok(await platform.request(UpdateIncidentDocument, { input: { id, etag, ...change } }, analyst));
    };
    const close = async (n: number, classification: string) => {
      const { id, etag } = (await incidents(reader)).get(n)!;
      const closed = ok(
        await platform.request(
          CloseIncidentDocument,
          { input: { id, etag, classification: classification as never, reason: `closing #${n} in a test` } },
          analyst,
        ),
      ).closeIncident;
      expect(closed).toMatchObject({ status: "CLOSED", classification });
    };

    const c = client(reader);
    const all = watch(c, CHANGES);
    // Owners compare case-insensitively, as the incidents query's owner filter does.
    const ownedByAlice = watch(c, CHANGES, { filter: { owner: alice.toUpperCase() } });
    const ownedByBob = watch(c, CHANGES, { filter: { owner: bob } });
    const closed = watch(c, CHANGES, { filter: { statuses: ["CLOSED"] } });
    const open = watch(c, CHANGES, { filter: { statuses: ["NEW", "ACTIVE"] } });
    await pause();

    // Assign two incidents, close the third. (Each filtered stream has then judged the
    // assignments against the incidents as they were: still open.)
    await update(n1, { owner: alice });
    await update(n2, { owner: bob });
    await close(n3, "FALSE_POSITIVE");
    await eventually(() => changes(all).length >= 3, "three changes");
    await eventually(() => changes(closed).length >= 1, "the first CLOSED change");
    await eventually(() => changes(open).length >= 2, "two changes of open incidents");
    await eventually(() => changes(ownedByAlice).length >= 1, "alice's assignment");
    await eventually(() => changes(ownedByBob).length >= 1, "bob's assignment");

    // Started now, a subscriber to alice's closed incidents sees only what follows.
    const aliceClosed = watch(c, CHANGES, { filter: { owner: alice, statuses: ["CLOSED"] } });
    await pause();
    await close(n1, "TRUE_POSITIVE");
    await eventually(() => changes(all).length >= 4, "four changes");
    await eventually(() => changes(ownedByAlice).length >= 2, "alice's incident closed");
    await eventually(() => changes(aliceClosed).length >= 1, "alice's closed incident");
    await eventually(() => changes(closed).length >= 2, "the second CLOSED change");

    // Hand the closed incident to bob (a change of a closed incident), and activate bob's other one.
    await update(n1, { owner: bob });
    await update(n2, { status: "ACTIVE" });
    await eventually(() => changes(all).length >= 6, "six changes");
    await eventually(() => changes(ownedByBob).length >= 3, "bob's three changes");
    await eventually(() => changes(closed).length >= 3, "the change of the closed incident");
    await eventually(() => changes(open).length >= 3, "the activation");
    await pause();

    const actor = "analyst@contoso.example";
    const closing = ["status", "classification", "reason"];
    expect(
      changes(all).map(({ kind, changedFields, actor, incident }) => ({
        kind,
        changedFields,
        actor,
        incident,
      })),
    ).toEqual([
      {
        kind: "UPDATED",
        changedFields: ["owner"],
        actor,
        incident: { number: n1, status: "NEW", owner: alice },
      },
      {
        kind: "UPDATED",
        changedFields: ["owner"],
        actor,
        incident: { number: n2, status: "NEW", owner: bob },
      },
      {
        kind: "CLOSED",
        changedFields: closing,
        actor,
        incident: { number: n3, status: "CLOSED", owner: null },
      },
      {
        kind: "CLOSED",
        changedFields: closing,
        actor,
        incident: { number: n1, status: "CLOSED", owner: alice },
      },
      {
        kind: "UPDATED",
        changedFields: ["owner"],
        actor,
        incident: { number: n1, status: "CLOSED", owner: bob },
      },
      {
        kind: "UPDATED",
        changedFields: ["status"],
        actor,
        incident: { number: n2, status: "ACTIVE", owner: bob },
      },
    ]);
    const cursors = changes(all).map((x) => x.cursor);
    const cursorsOf = (s: Stream) => changes(s).map((x) => x.cursor);

    // owner: exactly the changes of incidents that user owned when the change was delivered.
    expect(summary(ownedByAlice)).toEqual([`UPDATED #${n1}`, `CLOSED #${n1}`]);
    expect(cursorsOf(ownedByAlice)).toEqual([cursors[0], cursors[3]]);
    expect(summary(ownedByBob)).toEqual([`UPDATED #${n2}`, `UPDATED #${n1}`, `UPDATED #${n2}`]);
    expect(cursorsOf(ownedByBob)).toEqual([cursors[1], cursors[4], cursors[5]]);
    // statuses: CLOSED sees both closings and the later change of a closed incident; NEW/ACTIVE the rest.
    expect(summary(closed)).toEqual([`CLOSED #${n3}`, `CLOSED #${n1}`, `UPDATED #${n1}`]);
    expect(cursorsOf(closed)).toEqual([cursors[2], cursors[3], cursors[4]]);
    expect(summary(open)).toEqual([`UPDATED #${n1}`, `UPDATED #${n2}`, `UPDATED #${n2}`]);
    expect(cursorsOf(open)).toEqual([cursors[0], cursors[1], cursors[5]]);
    // Both conditions: only the closing of alice's incident.
    expect(summary(aliceClosed)).toEqual([`CLOSED #${n1}`]);
    expect(cursorsOf(aliceClosed)).toEqual([cursors[3]]);

    for (const s of [all, ownedByAlice, ownedByBob, closed, open, aliceClosed]) {
      expect(s.results.every((r) => !r.errors)).toBe(true);
      expect(s.completed).toBe(false);
      s.stop();
    }
  });

  it("without a cursor, streams exactly what commits after it starts, even while an older transaction runs", async () => {
    const tenant = "tenant-filters-now";
    const reader = await platform.token([Role.READER], tenant, "reader@contoso.example");
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    // An older transaction with an id, still open: every outbox row written from now on lies after
    // its xid, so the stream's start position has to reach back to before the next incident.
    const ds = await platform.connect("siem");
    const older = ds.createQueryRunner();
    await older.startTransaction();
    try {
      await older.query(`SELECT pg_current_xact_id()`);
      await raise(ingestor, "N1-before", "MEDIUM");
      expect((await incidents(reader)).size).toBe(1);

      const c = client(reader);
      const live = watch(c, CHANGES);
      const liveAlerts = watch(c, ALERTS);
      await pause();
      await raise(ingestor, "N2-after", "MEDIUM");
      await pause();
      // Nothing is readable while the older transaction runs (rows after it are held back).
      expect(summary(live)).toEqual([]);
      await older.commitTransaction();
      await eventually(() => changes(live).length >= 1 && alerts(liveAlerts).length >= 1, "the new incident");
      await pause(1_000);
      // Incident #1 and its alert committed before the subscriptions started: never streamed.
      expect(summary(live)).toEqual(["CREATED #2"]);
      expect(titles(liveAlerts)).toEqual(["N2-after"]);
    } finally {
      if (older.isTransactionActive) await older.rollbackTransaction();
      await older.release();
      await ds.destroy();
    }
  });

  it("refuses a cursor the outbox retention has passed (CURSOR_EXPIRED); a quiet tenant's old cursor still resumes", async () => {
    const tenant = "tenant-filters-expiry";
    const reader = await platform.token([Role.READER], tenant);
    const ingestor = await platform.token([Role.INGESTOR], tenant);
    const quietReader = await platform.token([Role.READER], "tenant-filters-quiet");
    const quietIngestor = await platform.token([Role.INGESTOR], "tenant-filters-quiet");
    const stream = watch(client(reader), ALERTS);
    const quiet = watch(client(quietReader), ALERTS);
    await pause();
    for (const title of ["X1-old", "X2-old", "X3-recent"]) await raise(ingestor, title, "LOW");
    await raise(quietIngestor, "Q1-quiet", "LOW");
    await eventually(() => alerts(stream).length === 3 && alerts(quiet).length === 1, "the alerts");
    const [c1, c2] = alerts(stream).map((e) => e.cursor);
    const quietCursor = alerts(quiet)[0].cursor;
    stream.stop();
    quiet.stop();

    // The first two alerts' outbox rows (and everything of that tenant before them) age past the
    // retention; the job removes them. The quiet tenant's rows age too, but it has none after its cursor.
    const ds = await platform.connect("siem");
    try {
      const upTo = decodeOutboxCursor(c2)!;
      const quietAt = decodeOutboxCursor(quietCursor)!;
      // The prune keeps rows a relay (automation's) has not delivered yet: wait until every relay is past them.
      for (let i = 0; ; i++) {
        const [{ behind }] = (await inSystemScope(ds, (m) =>
          m.query(
            `SELECT count(*)::int AS behind FROM relay_offsets
              WHERE (xid, seq) < ($1::xid8, $2::bigint) OR (xid, seq) < ($3::xid8, $4::bigint)`,
            [upTo.xid, upTo.seq, quietAt.xid, quietAt.seq],
          ),
        )) as Array<{ behind: number }>;
        if (behind === 0) break;
        if (i > 800) throw new Error("the relays never delivered the alerts' outbox rows");
        await new Promise((r) => setTimeout(r, 25));
      }
      await inSystemScope(ds, async (m) => {
        await m.query(
          `UPDATE outbox SET at = now() - interval '8 days' WHERE tenant_id = $1 AND (xid, seq) <= ($2::xid8, $3::bigint)`,
          [tenant, upTo.xid, upTo.seq],
        );
        await m.query(
          `UPDATE outbox SET at = now() - interval '8 days' WHERE tenant_id = $1 AND (xid, seq) <= ($2::xid8, $3::bigint)`,
          ["tenant-filters-quiet", quietAt.xid, quietAt.seq],
        );
      });
      await (commonTaskList(ds).outbox_prune as () => Promise<void>)();
    } finally {
      await ds.destroy();
    }

    const expired = watch(client(reader), ALERTS, { after: c1 });
    await eventually(() => expired.completed, "the expired cursor's subscription to end");
    expect(refusalCode(expired)).toBe("CURSOR_EXPIRED");

    // From the last removed position on, nothing is missing: it resumes.
    const resumed = watch(client(reader), ALERTS, { after: c2 });
    await eventually(() => alerts(resumed).length === 1, "the alert after the removed ones");
    expect(titles(resumed)).toEqual(["X3-recent"]);
    // The quiet tenant lost nothing after its (as old) cursor: it resumes and gets what comes next.
    const quietResumed = watch(client(quietReader), ALERTS, { after: quietCursor });
    await pause();
    await raise(quietIngestor, "Q2-quiet", "LOW");
    await eventually(() => alerts(quietResumed).length === 1, "the quiet tenant's next alert");
    expect(titles(quietResumed)).toEqual(["Q2-quiet"]);
    for (const s of [resumed, quietResumed]) {
      expect(s.completed).toBe(false);
      s.stop();
    }
  });
});
