import {
  ActivityLogIncidentsDocument,
  ActivityIncidentAlertsDocument,
  ActivityLogPageDocument,
  ActivityLogsDocument,
  EdgeAddCommentDocument,
  EdgeCloseIncidentDocument,
  EdgeCreateIncidentDocument,
  EdgeIncidentDocument,
  IngestAlertsDocument,
} from "./__generated__/graphql";
import { inTenant, Role, sqlStatementCount } from "../subgraphs/common/src";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * `Incident.activityLog`: the whole activity log, newest first, paged — where the `activity` list stops at its
 * first 500 entries, so that on a busy incident the newest (its close, say) went missing. Through the gateway on
 * the real platform: every entry once, in order, the count, bad paging arguments refused, one statement for
 * the logs of a page of incidents, and nothing of another tenant. And the count of a list on a page past its
 * end, which the lists paged by `childPageSql` (the tenant's incidents, an incident's alerts…) gave as 0.
 */
describe("incident activity log, paged; totals past a list's end", () => {
  let platform: TestPlatform;
  let analyst: string;
  let analystB: string;
  const A = "activity-log-a";
  const B = "activity-log-b";
  /** Entries added to the busy incident's log straight in the table, as a long-running automation would. */
  const EXTRA = 620;
  let busy: { id: string; etag: string };
  let quiet: { id: string; etag: string };

  const create = async (title: string, token = analyst) =>
    ok(
      await platform.request(
        EdgeCreateIncidentDocument,
        { input: { title, severity: "MEDIUM", alertIds: [] } },
        token,
      ),
    ).createIncident;
  /** The problems of a BAD_USER_INPUT on the log (the incident itself comes back null). */
  const refusal = (res: GqlResponse<unknown>) => {
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    return (res.errors![0].extensions!.problems as Array<{ field: string; message: string }>).map(
      (p) => `${p.field}: ${p.message}`,
    );
  };
  const page = async (id: string, first: number, after?: string, token = analyst) =>
    ok(await platform.request(ActivityLogPageDocument, { id, first, after }, token)).incident;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    [analyst, analystB] = await Promise.all([
      platform.token([Role.ANALYST], A, "alice@contoso.example"),
      platform.token([Role.ANALYST], B, "bob@fabrikam.example"),
    ]);
    busy = await create("Busy incident");
    quiet = await create("Quiet incident");
    await create("Tenant B's incident", analystB);
    const siem = await platform.connect("siem");
    await inTenant(siem, A, (m) =>
      m.query(
        `INSERT INTO incident_activity (tenant_id, incident_id, actor, action, changes)
         SELECT $1, $2, 'automation rule "noisy"', 'updated', jsonb_build_object('step', n)
           FROM generate_series(1, $3::int) AS n`,
        [A, busy.id, EXTRA],
      ),
    );
    for (const message of ["first look", "escalated"])
      ok(await platform.request(EdgeAddCommentDocument, { incidentId: busy.id, message }, analyst));
    const { etag } = ok(await platform.request(EdgeIncidentDocument, { id: busy.id }, analyst)).incident!;
    ok(
      await platform.request(
        EdgeCloseIncidentDocument,
        { input: { id: busy.id, etag, classification: "BENIGN_POSITIVE", reason: "Load test" } },
        analyst,
      ),
    );
  });
  afterAll(() => platform?.stop());

  it("pages through every entry of a busy log, newest first, the close at the top", async () => {
    const seen: Array<{ action: string; changes: string; at: string }> = [];
    const cursors = new Set<string>();
    let after: string | undefined;
    let total = -1;
    for (let i = 0; i < 20; i++) {
      const incident = (await page(busy.id, 100, after))!;
      const log = incident.activityLog;
      total = log.totalCount;
      expect(log.pageInfo.hasPreviousPage).toBe(after !== undefined);
      for (const edge of log.edges) {
        expect(cursors.has(edge.cursor)).toBe(false);
        cursors.add(edge.cursor);
        seen.push(edge.node);
      }
      if (!log.pageInfo.hasNextPage) break;
      after = log.pageInfo.endCursor!;
    }
    // created, the extra entries, two comments, closed.
    expect(total).toBe(1 + EXTRA + 2 + 1);
    expect(seen).toHaveLength(total);
    expect(seen.map((e) => e.action).slice(0, 3)).toEqual(["closed", "comment_added", "comment_added"]);
    expect(seen[seen.length - 1].action).toBe("created");
    const steps = seen.filter((e) => e.action === "updated").map((e) => JSON.parse(e.changes).step as number);
    expect(steps).toEqual(Array.from({ length: EXTRA }, (_, i) => EXTRA - i));
    for (let i = 1; i < seen.length; i++)
      expect(Date.parse(seen[i - 1].at)).toBeGreaterThanOrEqual(Date.parse(seen[i].at));

    // The old list stops at its first 500 entries, oldest first: without the close.
    const list = (await page(busy.id, 1))!.activity;
    expect(list).toHaveLength(500);
    expect(list[0].action).toBe("created");
    expect(list.map((e) => e.action)).not.toContain("closed");
  });

  it("gives a short log in one page, and an empty page past its end", async () => {
    const first = (await page(quiet.id, 25))!.activityLog;
    expect(first).toMatchObject({ totalCount: 1, pageInfo: { hasNextPage: false, hasPreviousPage: false } });
    expect(first.edges.map((e) => [e.node.actor, e.node.action])).toEqual([
      ["alice@contoso.example", "created"],
    ]);
    const past = (await page(quiet.id, 25, first.pageInfo.endCursor!))!.activityLog;
    expect(past).toMatchObject({ totalCount: 1, edges: [], pageInfo: { hasNextPage: false } });
  });

  it("refuses a page size out of range and a cursor of another list", async () => {
    for (const first of [0, 101])
      expect(
        refusal(await platform.request(ActivityLogPageDocument, { id: quiet.id, first }, analyst)),
      ).toEqual(["first: must be between 1 and 100"]);
    const timeCursor = Buffer.from(JSON.stringify(["2026-01-01T00:00:00.000Z", quiet.id])).toString(
      "base64url",
    );
    for (const after of ["not-a-cursor", timeCursor])
      expect(
        refusal(await platform.request(ActivityLogPageDocument, { id: quiet.id, first: 5, after }, analyst)),
      ).toEqual(["after: not a cursor of this list"]);
  });

  it("counts the whole list on a page past its end: an incident's log, an incident's alerts", async () => {
    // Tenant C: its own alerts, put into an incident by hand.
    const C = "activity-log-c";
    const [ingestorC, analystC] = await Promise.all([
      platform.token([Role.INGESTOR], C),
      platform.token([Role.ANALYST], C),
    ]);
    const ingested = ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [1, 2, 3].map((i) => ({
            sourceId: `past-end-${i}`,
            title: `Alert ${i}`,
            severity: "LOW" as const,
          })),
        },
        ingestorC,
      ),
    ).ingestAlerts;
    expect(ingested.rejected).toEqual([]);
    const incident = ok(
      await platform.request(
        EdgeCreateIncidentDocument,
        { input: { title: "Three alerts", severity: "LOW", alertIds: ingested.ids as string[] } },
        analystC,
      ),
    ).createIncident;
    const alerts = async (first: number, after?: string | null) =>
      ok(await platform.request(ActivityIncidentAlertsDocument, { id: incident.id, first, after }, analystC))
        .incident!.alerts;
    const all = await alerts(3);
    expect(all).toMatchObject({ totalCount: 3, pageInfo: { hasNextPage: false } });
    expect(await alerts(3, all.pageInfo.endCursor)).toMatchObject({
      totalCount: 3,
      nodes: [],
      pageInfo: { hasNextPage: false },
    });
  });

  it("reads the logs of a page of incidents in one statement, each tenant its own", async () => {
    const before = await sqlStatementCount("siem");
    ok(await platform.request(ActivityLogIncidentsDocument, {}, analyst));
    const plain = (await sqlStatementCount("siem")) - before;
    const start = await sqlStatementCount("siem");
    const logs = ok(await platform.request(ActivityLogsDocument, { first: 3 }, analyst)).incidents.nodes;
    expect((await sqlStatementCount("siem")) - start).toBe(plain + 1);
    expect(logs.map((i) => [i.title, i.activityLog.totalCount]).sort()).toEqual([
      ["Busy incident", 1 + EXTRA + 3],
      ["Quiet incident", 1],
    ]);
    expect(logs.find((i) => i.id === busy.id)!.activityLog.nodes.map((n) => n.action)).toEqual([
      "closed",
      "comment_added",
      "comment_added",
    ]);
    // Tenant B sees its own incident's log only, and none of A's.
    const b = ok(await platform.request(ActivityLogsDocument, { first: 100 }, analystB)).incidents.nodes;
    expect(b.map((i) => [i.title, i.activityLog.totalCount])).toEqual([["Tenant B's incident", 1]]);
    expect(b[0].activityLog.nodes).toEqual([{ actor: "bob@fabrikam.example", action: "created" }]);
    expect(
      ok(await platform.request(ActivityLogPageDocument, { id: busy.id, first: 5 }, analystB)).incident,
    ).toBeNull();
  });
});
