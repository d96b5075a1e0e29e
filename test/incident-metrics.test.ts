import type { DataSource } from "typeorm";
import {
  EdgeCloseIncidentDocument,
  EdgeCreateIncidentDocument,
  EdgeIncidentDocument,
  EdgeMergeDocument,
  EdgeReopenIncidentDocument,
  EdgeUpdateIncidentDocument,
  IncidentMetricsDocument,
  type IncidentClassification,
  type IncidentMetricsQueryVariables,
  type Severity,
} from "./__generated__/graphql";
import { inTenant, Role, sqlStatementCount } from "../subgraphs/common/src";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * `incidentMetrics` over incidents worked through the real mutations, then moved to fixed times in the
 * test's own rows (creation, activity entries, final close) so every duration is exact.
 */
describe("incident metrics: SOC efficiency over a window", () => {
  let platform: TestPlatform;
  let siem: DataSource;
  let analyst: string;
  let analystB: string;
  let reader: string;
  let ingestor: string;

  const A = "metrics-a";
  const B = "metrics-b";
  const from = "2026-03-01T00:00:00.000Z";
  const to = "2026-03-04T00:00:00.000Z";
  const at = (iso: string, seconds = 0) => new Date(Date.parse(iso) + seconds * 1000);
  const codeOf = (res: GqlResponse<unknown>) => res.errors?.[0]?.extensions?.code;

  const create = async (title: string, severity: Severity, token = analyst) =>
    ok(
      await platform.request(EdgeCreateIncidentDocument, { input: { title, severity, alertIds: [] } }, token),
    ).createIncident.id;
  const etagOf = async (id: string, token = analyst) =>
    ok(await platform.request(EdgeIncidentDocument, { id }, token)).incident!.etag;
  const update = async (id: string, change: Record<string, unknown>) =>
    ok(
      await platform.request(
        EdgeUpdateIncidentDocument,
        { input: { id, etag: await etagOf(id), ...change } },
        analyst,
      ),
    );
  const close = async (id: string, classification: IncidentClassification, token = analyst) =>
    ok(
      await platform.request(
        EdgeCloseIncidentDocument,
        { input: { id, etag: await etagOf(id, token), classification, reason: "Triaged" } },
        token,
      ),
    );
  const reopen = async (id: string) =>
    ok(
      await platform.request(EdgeReopenIncidentDocument, { input: { id, etag: await etagOf(id) } }, analyst),
    );

  /**
   * Puts an incident at `createdAt` and its activity entries (oldest first, creation included) at
   * `createdAt + offsets[k]` seconds; its final close becomes the time of its last close entry.
   */
  async function retime(tenant: string, id: string, createdAt: string, offsets: number[]) {
    await inTenant(siem, tenant, async (m) => {
      const rows: Array<{ id: string }> = await m.query(
        `SELECT id FROM incident_activity WHERE incident_id = $1 ORDER BY id`,
        [id],
      );
      expect(rows).toHaveLength(offsets.length);
      for (const [k, row] of rows.entries())
        await m.query(`UPDATE incident_activity SET at = $2 WHERE id = $1`, [
          row.id,
          at(createdAt, offsets[k]),
        ]);
      await m.query(
        `UPDATE incidents SET created_at = $2, closed_at = CASE WHEN closed_at IS NOT NULL THEN
           (SELECT max(at) FROM incident_activity WHERE incident_id = $1 AND action IN ('closed', 'merged')) END
         WHERE id = $1`,
        [id, createdAt],
      );
    });
  }

  const metrics = async (variables: Partial<IncidentMetricsQueryVariables> = {}, token = reader) =>
    ok(await platform.request(IncidentMetricsDocument, { from, to, ...variables }, token)).incidentMetrics;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    siem = await platform.connect("siem");
    [analyst, analystB, reader, ingestor] = await Promise.all([
      platform.token([Role.ANALYST], A, "alice@contoso.example"),
      platform.token([Role.ANALYST], B, "bob@fabrikam.example"),
      platform.token([Role.READER], A),
      platform.token([Role.INGESTOR], A),
    ]);

    // #1 HIGH, day 1: assigned to alice and ACTIVE after 60 s, closed TRUE_POSITIVE after an hour.
    const i1 = await create("Phishing wave", "HIGH");
    await update(i1, { owner: "alice", status: "ACTIVE", labels: ["phish"] });
    await close(i1, "TRUE_POSITIVE");
    await retime(A, i1, "2026-03-01T00:00:00.000Z", [0, 60, 3600]);

    // #2 MEDIUM, day 1: ACTIVE after 120 s, bob after 300 s, closed, reopened, closed for good on day 2.
    const i2 = await create("Password spray", "MEDIUM");
    await update(i2, { status: "ACTIVE" });
    await update(i2, { owner: "bob" });
    await close(i2, "FALSE_POSITIVE");
    await reopen(i2);
    await close(i2, "BENIGN_POSITIVE");
    await retime(A, i2, "2026-03-01T12:00:00.000Z", [0, 120, 300, 7200, 8000, 86_400]);

    // #3 LOW, day 2: owned by alice after 600 s (still NEW), open.
    const i3 = await create("Odd sign-in", "LOW");
    await update(i3, { owner: "alice" });
    await retime(A, i3, "2026-03-02T06:00:00.000Z", [0, 600]);

    // #4 HIGH, day 3: closed UNDETERMINED straight from NEW after 30 minutes, never acknowledged.
    const i4 = await create("Scanner", "HIGH");
    await close(i4, "UNDETERMINED");
    await retime(A, i4, "2026-03-03T00:00:00.000Z", [0, 1800]);

    // #5 MEDIUM, day 2: merged into #3, so never counted.
    const i5 = await create("Duplicate sign-in", "MEDIUM");
    ok(await platform.request(EdgeMergeDocument, { input: { targetId: i3, sourceIds: [i5] } }, analyst));
    await retime(A, i5, "2026-03-02T01:00:00.000Z", [0, 60]);

    // #6 HIGH, created a minute before the window, closed inside it: not counted.
    const i6 = await create("Before the window", "HIGH");
    await update(i6, { owner: "alice" });
    await close(i6, "TRUE_POSITIVE");
    await retime(A, i6, "2026-02-28T23:59:00.000Z", [0, 30, 120]);

    // #7 LOW, day 3: carol after 600 s; closed only after `to`, so open at `to`.
    const i7 = await create("Late close", "LOW");
    await update(i7, { owner: "carol" });
    await close(i7, "TRUE_POSITIVE");
    await retime(A, i7, "2026-03-03T10:00:00.000Z", [0, 600, 54_000]);

    // Another tenant's incident in the same window, acknowledged and closed: never in A's figures.
    const b1 = await create("Other tenant", "HIGH", analystB);
    await close(b1, "TRUE_POSITIVE", analystB);
    await retime(B, b1, "2026-03-02T00:00:00.000Z", [0, 10]);
  });
  afterAll(() => platform?.stop());

  it("counts, classifies and times the incidents created in the window", async () => {
    expect(await metrics()).toEqual({
      from,
      to,
      createdCount: 5,
      closedCount: 3,
      backlogCount: 2,
      bySeverity: [
        { severity: "HIGH", count: 2 },
        { severity: "MEDIUM", count: 1 },
        { severity: "LOW", count: 2 },
        { severity: "INFORMATIONAL", count: 0 },
      ],
      byClassification: [
        { classification: "TRUE_POSITIVE", count: 1 },
        { classification: "BENIGN_POSITIVE", count: 1 },
        { classification: "FALSE_POSITIVE", count: 0 },
        { classification: "UNDETERMINED", count: 1 },
      ],
      // 60, 120, 600, 600 s: #4 was never acknowledged.
      timeToAcknowledge: { samples: 4, meanSeconds: 345, medianSeconds: 360, p90Seconds: 600 },
      // 1,800, 3,600 and 86,400 s (#2's final close); p90 interpolates 80 % of the way from 3,600 to 86,400.
      timeToClose: { samples: 3, meanSeconds: 30_600, medianSeconds: 3600, p90Seconds: 69_840 },
      owners: [
        { owner: "alice", assignedCount: 2, closedCount: 1, meanTimeToCloseSeconds: 3600 },
        { owner: "bob", assignedCount: 1, closedCount: 1, meanTimeToCloseSeconds: 86_400 },
        { owner: "carol", assignedCount: 1, closedCount: 0, meanTimeToCloseSeconds: null },
      ],
      daily: [
        { day: "2026-03-01T00:00:00.000Z", createdCount: 2, closedCount: 1 },
        { day: "2026-03-02T00:00:00.000Z", createdCount: 1, closedCount: 1 },
        { day: "2026-03-03T00:00:00.000Z", createdCount: 2, closedCount: 1 },
      ],
    });
  });

  it("reads the backlog and acknowledgements as they stood at `to`", async () => {
    // At day 2 06:05, #2 was ACTIVE again (reopened) and #3 just created, not yet owned.
    const early = await metrics({ to: "2026-03-02T06:05:00.000Z" });
    expect(early).toMatchObject({
      createdCount: 3,
      closedCount: 1,
      backlogCount: 2,
      timeToAcknowledge: { samples: 2, meanSeconds: 90, medianSeconds: 90 },
      timeToClose: { samples: 1, meanSeconds: 3600 },
    });
    expect(early.daily).toEqual([
      { day: "2026-03-01T00:00:00.000Z", createdCount: 2, closedCount: 1 },
      { day: "2026-03-02T00:00:00.000Z", createdCount: 1, closedCount: 0 },
    ]);
  });

  it("filters by severity, owner (ignoring case) and label, and zero-fills quiet days", async () => {
    expect(await metrics({ filter: { severities: ["HIGH"] } })).toMatchObject({
      createdCount: 2,
      closedCount: 2,
      backlogCount: 0,
      timeToClose: { samples: 2, meanSeconds: 2700 },
    });
    const alice = await metrics({ filter: { owner: "ALICE" } });
    expect(alice).toMatchObject({ createdCount: 2, closedCount: 1, backlogCount: 1 });
    expect(alice.owners).toEqual([
      { owner: "alice", assignedCount: 2, closedCount: 1, meanTimeToCloseSeconds: 3600 },
    ]);
    expect(await metrics({ filter: { labels: ["phish", "nope"] } })).toMatchObject({
      createdCount: 1,
      timeToAcknowledge: { samples: 1, meanSeconds: 60 },
    });

    const quiet = await metrics({ from: "2026-01-01T12:00:00.000Z", to: "2026-01-03T00:00:00.000Z" });
    expect(quiet).toMatchObject({
      createdCount: 0,
      closedCount: 0,
      backlogCount: 0,
      owners: [],
      timeToAcknowledge: { samples: 0, meanSeconds: null, medianSeconds: null, p90Seconds: null },
      timeToClose: { samples: 0, meanSeconds: null, medianSeconds: null, p90Seconds: null },
    });
    expect(quiet.daily).toEqual([
      { day: "2026-01-01T00:00:00.000Z", createdCount: 0, closedCount: 0 },
      { day: "2026-01-02T00:00:00.000Z", createdCount: 0, closedCount: 0 },
    ]);
  });

  it("never counts another tenant's incidents", async () => {
    const b = ok(
      await platform.request(IncidentMetricsDocument, { from, to }, await platform.token([Role.READER], B)),
    ).incidentMetrics;
    expect(b).toMatchObject({
      createdCount: 1,
      closedCount: 1,
      timeToClose: { samples: 1, meanSeconds: 10 },
      owners: [],
    });
    expect((await metrics()).createdCount).toBe(5);
  });

  it("refuses an empty, reversed or over-long window and text with a NUL character", async () => {
    const refused = async (variables: Partial<IncidentMetricsQueryVariables>) => {
      const res = await platform.request(IncidentMetricsDocument, { from, to, ...variables }, reader);
      expect({ code: codeOf(res), data: res.data ?? null }).toEqual({ code: "BAD_USER_INPUT", data: null });
    };
    await refused({ to: from });
    await refused({ from: to, to: from });
    await refused({ from: "2025-01-01T00:00:00.000Z", to: "2026-01-02T00:00:00.001Z" });
    await refused({ filter: { owner: "al\u0000ice" } });
    // 366 days exactly is allowed, with one row per day.
    expect(
      (await metrics({ from: "2025-03-04T00:00:00.000Z", to: "2026-03-05T00:00:00.000Z" })).daily,
    ).toHaveLength(366);
  });

  it("answers READER and above, refuses INGESTOR", async () => {
    expect((await metrics({}, analyst)).createdCount).toBe(5);
    const res = await platform.request(IncidentMetricsDocument, { from, to }, ingestor);
    expect({ code: codeOf(res), data: res.data ?? null }).toEqual({ code: "FORBIDDEN", data: null });
  });

  it("runs a fixed number of statements whatever the number of incidents", async () => {
    const count = async (window: Partial<IncidentMetricsQueryVariables>) => {
      const before = await sqlStatementCount("siem");
      await metrics(window);
      return (await sqlStatementCount("siem")) - before;
    };
    // BEGIN, set tenant, the figures, COMMIT.
    expect(await count({})).toBe(4);
    expect(await count({ from: "2026-01-01T00:00:00.000Z", to: "2026-01-02T00:00:00.000Z" })).toBe(4);
  });
});
