import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import type { DataSource } from "typeorm";
import {
  EdgeAddCommentDocument,
  EdgeAddTaskDocument,
  EdgeAlertPageDocument,
  EdgeCloseIncidentDocument,
  EdgeCompleteTaskDocument,
  EdgeCreateIncidentDocument,
  EdgeEntityDocument,
  EdgeIncidentDocument,
  EdgeIncidentPageDocument,
  EdgeMergeDocument,
  EdgeReopenIncidentDocument,
  EdgeTimelineDocument,
  EdgeUpdateIncidentDocument,
  IncidentGraphDocument,
  IngestAlertsDocument,
  IngestEventsDocument,
  type AlertInput,
  type IncidentOrderField,
  type OrderDirection,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/** The part of a connection paging needs. */
interface Page {
  nodes: Array<{ id: string }>;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/**
 * Adversarial edges of the incident workflow, through the gateway on the real platform: every refused or
 * failed mutation must leave no outbox event, activity entry or audit record behind, every accepted one
 * exactly one of each; lists must page without gaps or duplicates; bad input is a typed error, never a 500.
 */
describe("incident workflow edges: merge, close/reopen, triage input, paging, investigation", () => {
  let platform: TestPlatform;
  let siem: DataSource;
  let analyst: string;
  let analystB: string;
  let ingestor: string;
  let ingestorB: string;
  let reader: string;
  let sourceSeq = 0;

  const A = "edge-a";
  const B = "edge-b";
  const uuid = "01900000-0000-7000-8000-000000000000";
  const codeOf = (res: GqlResponse<unknown>) => res.errors?.[0]?.extensions?.code;
  const cursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString("base64url");
  /** Every id of a list, page after page by `endCursor` (a page repeating forever fails the test). */
  async function collect(read: (after: string | undefined) => Promise<Page>): Promise<string[]> {
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await read(after);
      seen.push(...page.nodes.map((n) => n.id));
      if (!page.pageInfo.hasNextPage) return seen;
      after = page.pageInfo.endCursor ?? undefined;
    }
    throw new Error(`no last page after 50 pages: ${seen.length} items`);
  }

  /** Outbox rows per topic, activity entries and audit records of a tenant (read as the SIEM's own role). */
  const effects = (tenant: string) =>
    inTenant(siem, tenant, async (m) => {
      const counts: Record<string, number> = {};
      for (const r of await m.query(`SELECT topic, count(*)::int AS n FROM outbox GROUP BY topic`))
        counts[r.topic] = r.n;
      const [{ activity, audit }] = await m.query(
        `SELECT (SELECT count(*)::int FROM incident_activity) AS activity, (SELECT count(*)::int FROM audit_log) AS audit`,
      );
      return { ...counts, activity, audit } as Record<string, number>;
    });
  /** What changed in `tenant` since `before` (only the counts that moved). */
  const delta = async (tenant: string, before: Record<string, number>) => {
    const after = await effects(tenant);
    return Object.fromEntries(
      Object.keys({ ...before, ...after })
        .map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)] as const)
        .filter(([, n]) => n !== 0),
    );
  };
  /** Runs a request that must fail with `code` and change nothing in either tenant. */
  async function refused<R, V>(doc: TypedDocumentNode<R, V>, variables: V, token: string, code: string) {
    const [a, b] = [await effects(A), await effects(B)];
    const res = await platform.request(doc, variables, token);
    expect({ code: codeOf(res), data: res.data ?? null }).toEqual({ code, data: null });
    expect(await delta(A, a)).toEqual({});
    expect(await delta(B, b)).toEqual({});
    return res;
  }

  const alertInput = (over: Partial<AlertInput> = {}): AlertInput => ({
    sourceId: `edge-${++sourceSeq}`,
    title: `Edge alert ${sourceSeq}`,
    severity: "MEDIUM",
    ...over,
  });
  const ingest = async (alerts: AlertInput[], token = ingestor) => {
    const res = ok(await platform.request(IngestAlertsDocument, { input: alerts }, token)).ingestAlerts;
    expect(res.rejected).toEqual([]);
    return res.ids as string[];
  };
  const create = async (title: string, alertIds: string[] = [], token = analyst) =>
    ok(
      await platform.request(
        EdgeCreateIncidentDocument,
        { input: { title, severity: "MEDIUM", alertIds } },
        token,
      ),
    ).createIncident;
  const detail = async (id: string, token = analyst) =>
    ok(await platform.request(EdgeIncidentDocument, { id }, token)).incident!;
  const update = (input: Record<string, unknown> & { id: string; etag: string }, token = analyst) =>
    platform.request(EdgeUpdateIncidentDocument, { input }, token);
  const close = async (id: string, reason = "Benign admin activity") =>
    ok(
      await platform.request(
        EdgeCloseIncidentDocument,
        { input: { id, etag: (await detail(id)).etag, classification: "FALSE_POSITIVE", reason } },
        analyst,
      ),
    ).closeIncident;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    siem = await platform.connect("siem");
    [analyst, analystB, ingestor, ingestorB, reader] = await Promise.all([
      platform.token([Role.ANALYST], A, "alice@contoso.example"),
      platform.token([Role.ANALYST], B, "bob@fabrikam.example"),
      platform.token([Role.INGESTOR], A),
      platform.token([Role.INGESTOR], B),
      platform.token([Role.READER], A),
    ]);
  });
  afterAll(() => platform?.stop());

  it("refuses every workflow mutation to READER and INGESTOR with FORBIDDEN, writing nothing", async () => {
    const [alertId] = await ingest([alertInput()]);
    const incident = await create("Role probe", [alertId]);
    const other = await create("Role probe 2");
    const task = ok(
      await platform.request(EdgeAddTaskDocument, { incidentId: incident.id, title: "t" }, analyst),
    ).addIncidentTask;
    const before = await detail(incident.id);
    const { id, etag } = before;
    for (const token of [reader, ingestor]) {
      await refused(
        EdgeUpdateIncidentDocument,
        { input: { id, etag, owner: "mallory" } },
        token,
        "FORBIDDEN",
      );
      await refused(
        EdgeCloseIncidentDocument,
        { input: { id, etag, classification: "TRUE_POSITIVE", reason: "r" } },
        token,
        "FORBIDDEN",
      );
      await refused(EdgeReopenIncidentDocument, { input: { id, etag } }, token, "FORBIDDEN");
      await refused(EdgeAddCommentDocument, { incidentId: id, message: "hi" }, token, "FORBIDDEN");
      await refused(EdgeAddTaskDocument, { incidentId: id, title: "t2" }, token, "FORBIDDEN");
      await refused(EdgeCompleteTaskDocument, { id: task.id }, token, "FORBIDDEN");
      await refused(
        EdgeMergeDocument,
        { input: { targetId: id, sourceIds: [other.id] } },
        token,
        "FORBIDDEN",
      );
      await refused(
        EdgeCreateIncidentDocument,
        { input: { title: "x", severity: "LOW", alertIds: [] } },
        token,
        "FORBIDDEN",
      );
    }
    // INGESTOR pushes data but reads nothing; READER reads.
    expect(codeOf(await platform.request(EdgeIncidentDocument, { id }, ingestor))).toBe("FORBIDDEN");
    expect(codeOf(await platform.request(EdgeEntityDocument, { type: "HOST", value: "h" }, ingestor))).toBe(
      "FORBIDDEN",
    );
    expect(await detail(id, reader)).toEqual(before);
  });

  describe("mergeIncidents", () => {
    it("refuses a merge into itself; dedupes sources; merges closed ones keeping their classification", async () => {
      const [t, s, c] = [await create("Merge target"), await create("Merge source"), await create("Closed")];
      await close(c.id, "Known scanner");
      await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: [t.id] } },
        analyst,
        "BAD_USER_INPUT",
      );
      await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: [] } },
        analyst,
        "BAD_USER_INPUT",
      );
      await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: ["not-an-id"] } },
        analyst,
        "BAD_USER_INPUT",
      );
      const before = await effects(A);
      const merged = ok(
        await platform.request(
          EdgeMergeDocument,
          { input: { targetId: t.id, sourceIds: [s.id, s.id, t.id, c.id] } },
          analyst,
        ),
      ).mergeIncidents;
      expect(merged).toMatchObject({ id: t.id, status: "NEW" });
      // One event, activity entry and audit record per incident changed: the two sources and the target.
      expect(await delta(A, before)).toEqual({ "incident.merged": 3, activity: 3, audit: 3 });
      expect(await detail(s.id)).toMatchObject({
        status: "CLOSED",
        classification: "UNDETERMINED",
        classificationReason: null,
        classificationComment: `Merged into incident ${t.number}`,
      });
      expect(await detail(c.id)).toMatchObject({
        status: "CLOSED",
        classification: "FALSE_POSITIVE",
        classificationComment: "Known scanner",
      });
    });

    it("treats another tenant's incident as not found, on either side, and changes nothing", async () => {
      const [t, s] = [await create("Tenant A target"), await create("Tenant A source")];
      const theirs = await create("Tenant B incident", [], analystB);
      const [mineBefore, theirsBefore] = [await detail(s.id), await detail(theirs.id, analystB)];
      await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: [s.id, theirs.id] } },
        analyst,
        "NOT_FOUND",
      );
      await refused(
        EdgeMergeDocument,
        { input: { targetId: theirs.id, sourceIds: [s.id] } },
        analyst,
        "NOT_FOUND",
      );
      expect(await detail(s.id)).toEqual(mineBefore);
      expect(await detail(theirs.id, analystB)).toEqual(theirsBefore);
      expect(
        ok(await platform.request(EdgeIncidentDocument, { id: theirs.id }, analyst)).incident,
      ).toBeNull();
    });

    /** A target and a source holding one alert each, and their details before any merge. */
    const pair = async (label: string) => {
      const [ta, sa] = await ingest([alertInput(), alertInput()]);
      const [t, s] = [await create(`${label} target`, [ta]), await create(`${label} source`, [sa])];
      return { t: await detail(t.id), s: await detail(s.id) };
    };

    it("merges with the current etags sent; omitted, the merge stays unchecked", async () => {
      const { t, s } = await pair("Etag current");
      const before = await effects(A);
      const merged = ok(
        await platform.request(
          EdgeMergeDocument,
          // The target named again among the sources carries its own etag.
          { input: { targetId: t.id, sourceIds: [s.id, t.id], etag: t.etag, sourceEtags: [s.etag, t.etag] } },
          analyst,
        ),
      ).mergeIncidents;
      expect(merged).toMatchObject({ id: t.id, alerts: { totalCount: 2 } });
      expect(merged.etag).not.toBe(t.etag);
      expect(await delta(A, before)).toEqual({ "incident.merged": 2, activity: 2, audit: 2 });
      expect(await detail(s.id)).toMatchObject({ status: "CLOSED", alerts: { totalCount: 0 } });
      // Without etags (as before they were taken), even an etag moved since the read does not stop it.
      const other = await pair("Etag omitted");
      ok(await update({ id: other.s.id, etag: other.s.etag, labels: ["moved"] }));
      expect(
        ok(
          await platform.request(
            EdgeMergeDocument,
            { input: { targetId: other.t.id, sourceIds: [other.s.id], etag: null, sourceEtags: null } },
            analyst,
          ),
        ).mergeIncidents.alerts.totalCount,
      ).toBe(2);
    });

    it("refuses a stale target etag with CONFLICT naming it, and merges nothing", async () => {
      const { t, s } = await pair("Stale target");
      const updated = ok(await update({ id: t.id, etag: t.etag, labels: ["seen-later"] })).updateIncident;
      const [tBefore, sBefore] = [await detail(t.id), await detail(s.id)];
      const res = await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: [s.id], etag: t.etag, sourceEtags: [s.etag] } },
        analyst,
        "CONFLICT",
      );
      expect(res.errors?.[0]?.message).toContain(`Incident ${t.number} is at etag ${updated.etag}`);
      expect(res.errors?.[0]?.message).not.toContain(`Incident ${s.number} `);
      expect(await detail(t.id)).toEqual(tBefore);
      expect(await detail(s.id)).toEqual(sBefore);
      expect(sBefore).toMatchObject({ status: "NEW", alerts: { totalCount: 1 } });
    });

    it("refuses a stale source etag with CONFLICT naming it, and merges nothing", async () => {
      const { t, s } = await pair("Stale source");
      const second = await detail((await create("Stale source, current")).id);
      ok(await update({ id: s.id, etag: s.etag, owner: "stale-source@contoso.example" }));
      const [tBefore, sBefore, secondBefore] = [
        await detail(t.id),
        await detail(s.id),
        await detail(second.id),
      ];
      const res = await refused(
        EdgeMergeDocument,
        {
          input: {
            targetId: t.id,
            sourceIds: [second.id, s.id],
            etag: t.etag,
            sourceEtags: [second.etag, s.etag],
          },
        },
        analyst,
        "CONFLICT",
      );
      expect(res.errors?.[0]?.message).toContain(`Incident ${s.number} is at etag ${sBefore.etag}`);
      expect(res.errors?.[0]?.message).not.toContain(`Incident ${second.number} `);
      expect(await detail(t.id)).toEqual(tBefore);
      expect(await detail(s.id)).toEqual(sBefore);
      expect(await detail(second.id)).toEqual(secondBefore);
      expect(tBefore.alerts.totalCount).toBe(1);
    });

    it("refuses etags that do not line up with the ids as BAD_USER_INPUT; a source named twice with one etag merges", async () => {
      const { t, s } = await pair("Etag input");
      const [tBefore, sBefore] = [await detail(t.id), await detail(s.id)];
      for (const etags of [
        { etag: t.etag, sourceEtags: [] },
        { etag: t.etag, sourceEtags: [s.etag, s.etag] },
        { etag: t.etag },
        { sourceEtags: [s.etag] },
      ])
        await refused(
          EdgeMergeDocument,
          { input: { targetId: t.id, sourceIds: [s.id], ...etags } },
          analyst,
          "BAD_USER_INPUT",
        );
      // One incident named twice with two etags, or the target named again with another etag.
      await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: [s.id, s.id], etag: t.etag, sourceEtags: [s.etag, "0"] } },
        analyst,
        "BAD_USER_INPUT",
      );
      await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: [s.id, t.id], etag: t.etag, sourceEtags: [s.etag, "0"] } },
        analyst,
        "BAD_USER_INPUT",
      );
      expect(await detail(t.id)).toEqual(tBefore);
      expect(await detail(s.id)).toEqual(sBefore);
      expect(
        ok(
          await platform.request(
            EdgeMergeDocument,
            {
              input: { targetId: t.id, sourceIds: [s.id, s.id], etag: t.etag, sourceEtags: [s.etag, s.etag] },
            },
            analyst,
          ),
        ).mergeIncidents.alerts.totalCount,
      ).toBe(2);
    });

    it("answers NOT_FOUND, never CONFLICT, for another tenant's incident sent with its etag", async () => {
      const { t, s } = await pair("Etag tenant");
      const theirs = await detail((await create("Tenant B etag", [], analystB)).id, analystB);
      await refused(
        EdgeMergeDocument,
        {
          input: { targetId: t.id, sourceIds: [theirs.id], etag: t.etag, sourceEtags: [theirs.etag] },
        },
        analyst,
        "NOT_FOUND",
      );
      await refused(
        EdgeMergeDocument,
        { input: { targetId: theirs.id, sourceIds: [s.id], etag: theirs.etag, sourceEtags: [s.etag] } },
        analyst,
        "NOT_FOUND",
      );
      // A stale etag of one's own incident does not reveal whether the other tenant's exists either.
      await refused(
        EdgeMergeDocument,
        { input: { targetId: t.id, sourceIds: [theirs.id], etag: "0", sourceEtags: ["0"] } },
        analyst,
        "NOT_FOUND",
      );
      expect(await detail(theirs.id, analystB)).toEqual(theirs);
      // B's own merge with its etags works as ever.
      const bSource = await detail((await create("Tenant B source", [], analystB)).id, analystB);
      ok(
        await platform.request(
          EdgeMergeDocument,
          {
            input: {
              targetId: theirs.id,
              sourceIds: [bSource.id],
              etag: theirs.etag,
              sourceEtags: [bSource.etag],
            },
          },
          analystB,
        ),
      );
      expect(await detail(t.id)).toMatchObject({ status: "NEW", alerts: { totalCount: 1 } });
    });

    it("moves the alerts: the merged incident keeps none, the target's graph relates none of its own alerts", async () => {
      // Two incidents sharing a host: the first is closed, so the second alert opens a new incident.
      const [a1] = await ingest([alertInput({ entities: [{ type: "HOST", value: "merge-host" }] })]);
      const first = (await incidentsOfAlert(a1))[0];
      await close(first);
      const [a2] = await ingest([alertInput({ entities: [{ type: "HOST", value: "merge-host" }] })]);
      const second = (await incidentsOfAlert(a2))[0];
      expect(second).not.toBe(first);
      ok(
        await platform.request(
          EdgeMergeDocument,
          { input: { targetId: second, sourceIds: [first] } },
          analyst,
        ),
      );
      expect((await detail(first)).alerts.totalCount).toBe(0);
      expect((await detail(second)).alerts.nodes.map((n) => n.id).sort()).toEqual([a1, a2].sort());
      const graph = ok(await platform.request(IncidentGraphDocument, { id: second }, analyst)).incident!
        .graph;
      expect(
        graph.edges
          .filter((e) => e.kind === "CONTAINS")
          .map((e) => e.to)
          .sort(),
      ).toEqual([`alert:${a1}`, `alert:${a2}`].sort());
      expect(graph.edges.filter((e) => e.kind === "RELATED")).toEqual([]);
      const emptied = ok(await platform.request(IncidentGraphDocument, { id: first }, analyst)).incident!
        .graph;
      expect(emptied).toEqual({ nodes: [expect.objectContaining({ kind: "INCIDENT" })], edges: [] });
    });

    it("keeps a merged incident out of work: no reopen, no second merge either way; its labels stay editable", async () => {
      const [t, s, other] = [await create("Kept"), await create("Merged away"), await create("Bystander")];
      ok(
        await platform.request(EdgeMergeDocument, { input: { targetId: t.id, sourceIds: [s.id] } }, analyst),
      );
      const merged = await detail(s.id);
      await refused(
        EdgeReopenIncidentDocument,
        { input: { id: s.id, etag: merged.etag } },
        analyst,
        "CONFLICT",
      );
      await refused(
        EdgeMergeDocument,
        { input: { targetId: other.id, sourceIds: [s.id] } },
        analyst,
        "CONFLICT",
      );
      await refused(
        EdgeMergeDocument,
        { input: { targetId: s.id, sourceIds: [other.id] } },
        analyst,
        "CONFLICT",
      );
      expect(await detail(s.id)).toEqual(merged);
      expect((await detail(other.id)).status).toBe("NEW");
      // Like any closed incident: triage fields change, the status does not (reopen would be needed).
      await refused(
        EdgeUpdateIncidentDocument,
        { input: { id: s.id, etag: merged.etag, status: "ACTIVE" } },
        analyst,
        "BAD_USER_INPUT",
      );
      expect(
        ok(await update({ id: s.id, etag: merged.etag, labels: ["dup"] })).updateIncident.labels,
      ).toEqual(["dup"]);
    });

    it("refuses a merge into a closed incident until it is reopened", async () => {
      const [t, s] = [await create("Closed target"), await create("Open work")];
      const closed = await close(t.id);
      const before = await detail(s.id);
      await refused(EdgeMergeDocument, { input: { targetId: t.id, sourceIds: [s.id] } }, analyst, "CONFLICT");
      expect(await detail(s.id)).toEqual(before);
      ok(
        await platform.request(
          EdgeReopenIncidentDocument,
          { input: { id: t.id, etag: closed.etag } },
          analyst,
        ),
      );
      ok(
        await platform.request(EdgeMergeDocument, { input: { targetId: t.id, sourceIds: [s.id] } }, analyst),
      );
      expect((await detail(s.id)).status).toBe("CLOSED");
    });

    it("refuses to grow an incident beyond 150 alerts, by merge or by hand, changing nothing", async () => {
      const ids = await ingest(Array.from({ length: 151 }, () => alertInput()));
      const big = await create("Hundred", ids.slice(0, 100));
      const more = await create("Fifty-one", ids.slice(100));
      await refused(
        EdgeMergeDocument,
        { input: { targetId: big.id, sourceIds: [more.id] } },
        analyst,
        "BAD_USER_INPUT",
      );
      expect((await detail(big.id)).alerts.totalCount).toBe(100);
      expect(await detail(more.id)).toMatchObject({ status: "NEW", alerts: { totalCount: 51 } });
      await refused(
        EdgeCreateIncidentDocument,
        { input: { title: "Too big", severity: "LOW", alertIds: ids } },
        analyst,
        "BAD_USER_INPUT",
      );
    });
  });

  describe("closeIncident / reopenIncident", () => {
    it("needs a storable reason of 1 to 4,000 characters and a known classification", async () => {
      const { id, etag } = await create("Close probe");
      const input = { id, etag, classification: "TRUE_POSITIVE" as const };
      for (const reason of ["", " \n\t ", "x".repeat(100_000), "null\u0000byte", "lone \ud800 surrogate"])
        await refused(EdgeCloseIncidentDocument, { input: { ...input, reason } }, analyst, "BAD_USER_INPUT");
      await refused(
        EdgeCloseIncidentDocument,
        { input: { ...input, classification: "MALICIOUS" as never, reason: "r" } },
        analyst,
        "BAD_USER_INPUT",
      );
      await refused(
        EdgeCloseIncidentDocument,
        { input: { id, etag, classification: "TRUE_POSITIVE" } as never },
        analyst,
        "BAD_USER_INPUT",
      );
      await refused(
        EdgeCloseIncidentDocument,
        { input: { ...input, etag: "999", reason: "r" } },
        analyst,
        "CONFLICT",
      );
      const before = await effects(A);
      const closed = ok(
        await platform.request(
          EdgeCloseIncidentDocument,
          { input: { ...input, reason: "  Confirmed.  " } },
          analyst,
        ),
      ).closeIncident;
      expect(closed).toMatchObject({
        status: "CLOSED",
        classification: "TRUE_POSITIVE",
        classificationReason: null,
        classificationComment: "Confirmed.",
      });
      expect(await delta(A, before)).toEqual({ "incident.closed": 1, activity: 1, audit: 1 });
    });

    it("takes only the classification reason that goes with the classification, records it and clears it on reopen", async () => {
      const { id, etag } = await create("Reason probe");
      const mismatched = [
        ["TRUE_POSITIVE", "SUSPICIOUS_BUT_EXPECTED"],
        ["TRUE_POSITIVE", "INACCURATE_DATA"],
        ["BENIGN_POSITIVE", "SUSPICIOUS_ACTIVITY"],
        ["BENIGN_POSITIVE", "INCORRECT_ALERT_LOGIC"],
        ["FALSE_POSITIVE", "SUSPICIOUS_ACTIVITY"],
        ["FALSE_POSITIVE", "SUSPICIOUS_BUT_EXPECTED"],
        ["UNDETERMINED", "SUSPICIOUS_ACTIVITY"],
        ["UNDETERMINED", "INACCURATE_DATA"],
        ["FALSE_POSITIVE", "MALWARE"],
      ] as const;
      for (const [classification, classificationReason] of mismatched) {
        const res = await refused(
          EdgeCloseIncidentDocument,
          {
            input: {
              id,
              etag,
              classification,
              classificationReason: classificationReason as never,
              reason: "r",
            },
          },
          analyst,
          "BAD_USER_INPUT",
        );
        if (classificationReason !== "MALWARE")
          expect(res.errors?.[0]?.extensions?.problems).toEqual([
            { field: "classificationReason", message: expect.stringContaining(classification) },
          ]);
      }
      expect(await detail(id)).toMatchObject({ status: "NEW", etag, classificationReason: null });

      const before = await effects(A);
      const closed = ok(
        await platform.request(
          EdgeCloseIncidentDocument,
          {
            input: {
              id,
              etag,
              classification: "FALSE_POSITIVE",
              classificationReason: "INACCURATE_DATA",
              reason: "The firewall export swapped source and destination.",
            },
          },
          analyst,
        ),
      ).closeIncident;
      expect(closed).toMatchObject({
        status: "CLOSED",
        classification: "FALSE_POSITIVE",
        classificationReason: "INACCURATE_DATA",
        classificationComment: "The firewall export swapped source and destination.",
      });
      expect(await delta(A, before)).toEqual({ "incident.closed": 1, activity: 1, audit: 1 });
      const closing = {
        status: ["NEW", "CLOSED"],
        classification: [null, "FALSE_POSITIVE"],
        classificationReason: [null, "INACCURATE_DATA"],
        reason: "The firewall export swapped source and destination.",
      };
      expect(JSON.parse((await detail(id)).activity.at(-1)!.changes)).toEqual(closing);
      const payload = async (topic: string) =>
        (
          await inTenant(siem, A, (m) =>
            m.query(`SELECT payload FROM outbox WHERE topic = $1 AND key = $2`, [topic, id]),
          )
        ).map((r: { payload: unknown }) => r.payload);
      expect(await payload("incident.closed")).toEqual([
        expect.objectContaining({ changedFields: Object.keys(closing), changes: closing }),
      ]);

      const reopened = ok(
        await platform.request(EdgeReopenIncidentDocument, { input: { id, etag: closed.etag } }, analyst),
      ).reopenIncident;
      expect(reopened).toMatchObject({
        status: "ACTIVE",
        classification: null,
        classificationReason: null,
        classificationComment: null,
      });
      const reopening = {
        status: ["CLOSED", "ACTIVE"],
        classification: ["FALSE_POSITIVE", null],
        classificationReason: ["INACCURATE_DATA", null],
      };
      expect(JSON.parse((await detail(id)).activity.at(-1)!.changes)).toEqual(reopening);
      expect(await payload("incident.reopened")).toEqual([expect.objectContaining({ changes: reopening })]);
    });

    it("closes with every reason of its classification, and without one as before", async () => {
      const pairs = [
        ["TRUE_POSITIVE", "SUSPICIOUS_ACTIVITY"],
        ["BENIGN_POSITIVE", "SUSPICIOUS_BUT_EXPECTED"],
        ["FALSE_POSITIVE", "INCORRECT_ALERT_LOGIC"],
        ["FALSE_POSITIVE", "INACCURATE_DATA"],
        ["UNDETERMINED", null],
        ["FALSE_POSITIVE", null],
      ] as const;
      for (const [classification, classificationReason] of pairs) {
        const { id, etag } = await create(`Pair ${classification} ${classificationReason}`);
        const closed = ok(
          await platform.request(
            EdgeCloseIncidentDocument,
            { input: { id, etag, classification, classificationReason, reason: "Reviewed." } },
            analyst,
          ),
        ).closeIncident;
        expect(closed).toMatchObject({ status: "CLOSED", classification, classificationReason });
        const changes = JSON.parse((await detail(id)).activity.at(-1)!.changes);
        expect("classificationReason" in changes).toBe(classificationReason !== null);
      }
    });

    it("answers closing a closed and reopening an open incident with CONFLICT, writing nothing", async () => {
      const { id, etag } = await create("Twice");
      await refused(EdgeReopenIncidentDocument, { input: { id, etag } }, analyst, "CONFLICT");
      const closed = await close(id);
      await refused(
        EdgeCloseIncidentDocument,
        { input: { id, etag: closed.etag, classification: "BENIGN_POSITIVE", reason: "again" } },
        analyst,
        "CONFLICT",
      );
      const before = await effects(A);
      const reopened = ok(
        await platform.request(EdgeReopenIncidentDocument, { input: { id, etag: closed.etag } }, analyst),
      ).reopenIncident;
      expect(reopened.status).toBe("ACTIVE");
      expect(await delta(A, before)).toEqual({ "incident.reopened": 1, activity: 1, audit: 1 });
      await refused(EdgeReopenIncidentDocument, { input: { id, etag: reopened.etag } }, analyst, "CONFLICT");
    });
  });

  describe("updateIncident", () => {
    it("answers an etag of another incident or a malformed one with CONFLICT, and a no-op with no new etag or event", async () => {
      const mine = await create("Etag probe");
      const other = await create("Other etag");
      // Both are at their first version: the other incident's etag must not pass for this one.
      const sameVersion = other.etag;
      ok(await update({ id: other.id, etag: other.etag, owner: "x@y" }));
      const otherEtag = (await detail(other.id)).etag;
      expect(otherEtag).not.toBe(mine.etag);
      const bare = mine.etag.split("-").pop() ?? "";
      for (const etag of [sameVersion, otherEtag, bare, "", "abc", "-1", "1.0", " 1", "e".repeat(10_000)])
        await refused(
          EdgeUpdateIncidentDocument,
          { input: { id: mine.id, etag, owner: "m" } },
          analyst,
          "CONFLICT",
        );
      const before = await effects(A);
      for (const input of [{}, { title: "Etag probe", severity: "MEDIUM", labels: [] }, { owner: "" }]) {
        const same = ok(await update({ id: mine.id, etag: mine.etag, ...input })).updateIncident;
        expect(same.etag).toBe(mine.etag);
      }
      expect(await delta(A, before)).toEqual({});
    });

    it("validates labels: blank, long, too many or unstorable refused; duplicates and blanks around trimmed away", async () => {
      const { id, etag } = await create("Label probe");
      const bad = [
        [""],
        ["  "],
        ["x".repeat(101)],
        Array.from({ length: 51 }, (_, i) => `l${i}`),
        ["a\u0000b"],
        ["\udc00"],
      ];
      for (const labels of bad)
        await refused(EdgeUpdateIncidentDocument, { input: { id, etag, labels } }, analyst, "BAD_USER_INPUT");
      const before = await effects(A);
      const labelled = ok(
        await update({
          id,
          etag,
          labels: ["phish", " phish ", "x".repeat(100), "🔥 Priorität", "עברית", "phish"],
        }),
      ).updateIncident;
      expect(labelled.labels).toEqual(["phish", "x".repeat(100), "🔥 Priorität", "עברית"]);
      expect(await delta(A, before)).toEqual({ "incident.updated": 1, activity: 1, audit: 1 });
      const found = ok(
        await platform.request(EdgeIncidentPageDocument, { filter: { labels: ["🔥 Priorität"] } }, analyst),
      ).incidents.nodes;
      expect(found.map((n) => n.id)).toEqual([id]);
    });

    it("trims owners, unassigns on a blank one and refuses long or unstorable ones", async () => {
      const { id, etag } = await create("Owner probe");
      for (const owner of ["o".repeat(257), "eve\u0000@x"])
        await refused(EdgeUpdateIncidentDocument, { input: { id, etag, owner } }, analyst, "BAD_USER_INPUT");
      for (const title of ["   ", "t".repeat(513)])
        await refused(EdgeUpdateIncidentDocument, { input: { id, etag, title } }, analyst, "BAD_USER_INPUT");
      await refused(
        EdgeUpdateIncidentDocument,
        { input: { id, etag, status: "CLOSED" } },
        analyst,
        "BAD_USER_INPUT",
      );
      const assigned = ok(await update({ id, etag, owner: "  Carol@Contoso.example " })).updateIncident;
      expect(assigned.owner).toBe("Carol@Contoso.example");
      const byOwner = ok(
        await platform.request(
          EdgeIncidentPageDocument,
          { filter: { owner: "carol@contoso.EXAMPLE" } },
          analyst,
        ),
      ).incidents.nodes;
      expect(byOwner.map((n) => n.id)).toEqual([id]);
      // The same owner with blanks around is no change at all.
      expect(
        ok(await update({ id, etag: assigned.etag, owner: "Carol@Contoso.example  " })).updateIncident.etag,
      ).toBe(assigned.etag);
      const before = await effects(A);
      const unassigned = ok(await update({ id, etag: assigned.etag, owner: "   " })).updateIncident;
      expect(unassigned.owner).toBeNull();
      expect(await delta(A, before)).toEqual({ "incident.updated": 1, activity: 1, audit: 1 });
      const html = ok(await update({ id, etag: unassigned.etag, owner: "<b>dave</b>" })).updateIncident;
      expect(html.owner).toBe("<b>dave</b>");
    });

    it("lets exactly one of concurrent updates with the same etag win, with one event", async () => {
      const { id, etag } = await create("Race");
      const before = await effects(A);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => update({ id, etag, owner: `racer-${i}@x` })),
      );
      const codes = results.map((r) => codeOf(r) ?? "OK").sort();
      expect(codes).toEqual([
        "CONFLICT",
        "CONFLICT",
        "CONFLICT",
        "CONFLICT",
        "CONFLICT",
        "CONFLICT",
        "CONFLICT",
        "OK",
      ]);
      const winner = results.find((r) => !r.errors)!.data!.updateIncident;
      expect((await detail(id)).owner).toBe(winner.owner);
      expect(await delta(A, before)).toEqual({ "incident.updated": 1, activity: 1, audit: 1 });
    });
  });

  describe("comments and tasks", () => {
    it("refuses blank, oversized and unstorable comments; keeps HTML verbatim; NOT_FOUND across tenants", async () => {
      const { id } = await create("Comment probe");
      const theirs = await create("Their comment target", [], analystB);
      for (const message of ["", " \n ", "c".repeat(30_001), "nul\u0000", "\ud83d"])
        await refused(EdgeAddCommentDocument, { incidentId: id, message }, analyst, "BAD_USER_INPUT");
      await refused(EdgeAddCommentDocument, { incidentId: "42", message: "hi" }, analyst, "BAD_USER_INPUT");
      await refused(EdgeAddCommentDocument, { incidentId: theirs.id, message: "hi" }, analyst, "NOT_FOUND");
      const before = await effects(A);
      const html = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
      for (const message of [html, "c".repeat(30_000)])
        ok(await platform.request(EdgeAddCommentDocument, { incidentId: id, message }, analyst));
      expect(await delta(A, before)).toEqual({ "incident.comment_added": 2, activity: 2, audit: 2 });
      expect((await detail(id)).comments.map((c) => c.message)).toEqual([html, "c".repeat(30_000)]);
      expect((await detail(theirs.id, analystB)).comments).toEqual([]);
    });

    it("refuses bad task titles; completing a completed task changes nothing", async () => {
      const { id } = await create("Task probe");
      const theirs = await create("Their task target", [], analystB);
      const theirTask = ok(
        await platform.request(EdgeAddTaskDocument, { incidentId: theirs.id, title: "theirs" }, analystB),
      ).addIncidentTask;
      for (const title of ["", "  ", "t".repeat(501), "a\u0000b"])
        await refused(EdgeAddTaskDocument, { incidentId: id, title }, analyst, "BAD_USER_INPUT");
      await refused(EdgeCompleteTaskDocument, { id: "task-1" }, analyst, "BAD_USER_INPUT");
      await refused(EdgeCompleteTaskDocument, { id: uuid }, analyst, "NOT_FOUND");
      await refused(EdgeCompleteTaskDocument, { id: theirTask.id }, analyst, "NOT_FOUND");
      const before = await effects(A);
      const task = ok(
        await platform.request(EdgeAddTaskDocument, { incidentId: id, title: " Isolate " }, analyst),
      ).addIncidentTask;
      expect(task).toMatchObject({ title: "Isolate", status: "NEW" });
      const done = ok(
        await platform.request(EdgeCompleteTaskDocument, { id: task.id }, analyst),
      ).completeIncidentTask;
      expect(await delta(A, before)).toEqual({ "incident.updated": 2, activity: 2, audit: 2 });
      const etag = (await detail(id)).etag;
      const again = await effects(A);
      expect(
        ok(await platform.request(EdgeCompleteTaskDocument, { id: task.id }, analyst)).completeIncidentTask,
      ).toEqual(done);
      expect(await delta(A, again)).toEqual({});
      expect((await detail(id)).etag).toBe(etag);
      expect((await detail(theirs.id, analystB)).tasks).toMatchObject([{ status: "NEW" }]);
    });
  });

  describe("createIncident", () => {
    it("logs the creation (activity, event with its actor) and rolls the alerts up", async () => {
      const start = "2026-01-02T03:04:05.000Z";
      const ids = await ingest([
        alertInput({ severity: "HIGH", startTime: start, endTime: "2026-01-02T04:00:00.000Z" }),
        alertInput({ severity: "LOW", startTime: "2026-01-02T03:30:00.000Z" }),
      ]);
      const theirs = await ingest([alertInput()], ingestorB);
      await refused(
        EdgeCreateIncidentDocument,
        { input: { title: "Cross", severity: "LOW", alertIds: [ids[0], theirs[0]] } },
        analyst,
        "BAD_USER_INPUT",
      );
      for (const title of ["", "   ", "t".repeat(513), "nul\u0000"])
        await refused(
          EdgeCreateIncidentDocument,
          { input: { title, severity: "LOW", alertIds: [] } },
          analyst,
          "BAD_USER_INPUT",
        );
      const before = await effects(A);
      const incident = await create("  By hand  ", [...ids, ids[0]]);
      expect(await delta(A, before)).toEqual({ "incident.created": 1, activity: 1, audit: 1 });
      const d = await detail(incident.id);
      expect(d).toMatchObject({ title: "By hand", severity: "MEDIUM", firstActivity: start });
      expect(d.alerts.totalCount).toBe(2);
      expect(d.activity).toEqual([
        { actor: "alice@contoso.example", action: "created", changes: expect.any(String) },
      ]);
      const [event] = await inTenant(siem, A, (m) =>
        m.query(`SELECT payload FROM outbox WHERE topic = 'incident.created' AND key = $1`, [incident.id]),
      );
      expect(event.payload).toMatchObject({
        id: incident.id,
        number: incident.number,
        actor: "alice@contoso.example",
      });
    });

    it("numbers concurrently created incidents uniquely per tenant", async () => {
      const made = await Promise.all(
        Array.from({ length: 12 }, (_, i) => create(`Concurrent ${i}`, [], i % 3 ? analyst : analystB)),
      );
      const numbersA = made.filter((_, i) => i % 3).map((m) => m.number);
      const numbersB = made.filter((_, i) => !(i % 3)).map((m) => m.number);
      expect(new Set(numbersA).size).toBe(numbersA.length);
      expect(new Set(numbersB).size).toBe(numbersB.length);
    });
  });

  describe("paging and filters", () => {
    const P = "edge-page";
    let pager: string;
    let all: string[];

    const pageAll = (orderBy?: { field: IncidentOrderField; direction: OrderDirection }) =>
      collect(
        async (after) =>
          ok(await platform.request(EdgeIncidentPageDocument, { first: 2, after, orderBy }, pager)).incidents,
      );

    beforeAll(async () => {
      pager = await platform.token([Role.ANALYST], P);
      const ingestP = await platform.token([Role.INGESTOR], P);
      const at = "2026-03-01T00:00:00.000Z";
      // Seven incidents created in one transaction (same created_at), two severities, the same activity time;
      // three more by hand, concurrently, without alerts.
      ok(
        await platform.request(
          IngestAlertsDocument,
          {
            input: Array.from({ length: 7 }, (_, i) =>
              alertInput({ severity: i % 2 ? "HIGH" : "LOW", startTime: at, endTime: at }),
            ),
          },
          ingestP,
        ),
      );
      await Promise.all([0, 1, 2].map((i) => create(`Manual ${i}`, [], pager)));
      all = ok(await platform.request(EdgeIncidentPageDocument, { first: 100 }, pager)).incidents.nodes.map(
        (n) => n.id,
      );
      expect(all).toHaveLength(10);
    });

    it.each([
      ["CREATED_AT", "DESC"],
      ["CREATED_AT", "ASC"],
      ["NUMBER", "DESC"],
      ["SEVERITY", "DESC"],
      ["SEVERITY", "ASC"],
      ["LAST_ACTIVITY", "DESC"],
      ["LAST_ACTIVITY", "ASC"],
    ] as const)(
      "pages incidents by %s %s with tied keys: every one once, in order",
      async (field, direction) => {
        const orderBy = { field, direction };
        const whole = ok(
          await platform.request(EdgeIncidentPageDocument, { first: 100, orderBy }, pager),
        ).incidents;
        const paged = await pageAll(orderBy);
        expect(paged).toEqual(whole.nodes.map((n) => n.id));
        expect([...paged].sort()).toEqual([...all].sort());
      },
    );

    it("pages the alerts of one batch, and an entity's alerts, without skipping any", async () => {
      const ingestP = await platform.token([Role.INGESTOR], P);
      const ids = ok(
        await platform.request(
          IngestAlertsDocument,
          {
            input: Array.from({ length: 5 }, () =>
              alertInput({ entities: [{ type: "HOST", value: "Pager-01" }] }),
            ),
          },
          ingestP,
        ),
      ).ingestAlerts.ids as string[];
      const seen = await collect(
        async (after) => ok(await platform.request(EdgeAlertPageDocument, { first: 3, after }, pager)).alerts,
      );
      expect(seen).toHaveLength(12);
      expect(new Set(seen).size).toBe(12);
      const entitySeen = await collect(
        async (after) =>
          ok(
            await platform.request(
              EdgeEntityDocument,
              { type: "HOST", value: "PAGER-01", first: 2, after },
              pager,
            ),
          ).entity.alerts,
      );
      expect([...entitySeen].sort()).toEqual([...ids].sort());
    });

    it("refuses page sizes outside 1–100 and cursors that are not cursors of the list, with BAD_USER_INPUT", async () => {
      for (const first of [0, -1, 101, 2 ** 31])
        expect(codeOf(await platform.request(EdgeIncidentPageDocument, { first }, pager))).toBe(
          "BAD_USER_INPUT",
        );
      const timeCursors = [
        "garbage",
        cursor(["abc", uuid]),
        cursor([1, uuid]),
        cursor(["2026-01-01T00:00:00Z", "x"]),
      ];
      const intCursors = [
        cursor(["2026-01-01T00:00:00Z", uuid]),
        cursor([2 ** 40, uuid]),
        cursor([1.5, uuid]),
      ];
      const far = cursor(["+275760-09-13T00:00:00.000Z", uuid]);
      const cases: Array<[IncidentOrderField, string[]]> = [
        ["CREATED_AT", [...timeCursors, far]],
        ["LAST_ACTIVITY", timeCursors],
        ["NUMBER", intCursors],
        ["SEVERITY", intCursors],
      ];
      for (const [field, cursors] of cases)
        for (const after of cursors) {
          const res = await platform.request(
            EdgeIncidentPageDocument,
            { after, orderBy: { field, direction: "DESC" } },
            pager,
          );
          expect([field, after, codeOf(res)]).toEqual([field, after, "BAD_USER_INPUT"]);
        }
      for (const after of [...timeCursors, far]) {
        expect(codeOf(await platform.request(EdgeAlertPageDocument, { after }, pager))).toBe(
          "BAD_USER_INPUT",
        );
        expect(
          codeOf(
            await platform.request(EdgeEntityDocument, { type: "HOST", value: "pager-01", after }, pager),
          ),
        ).toBe("BAD_USER_INPUT");
        expect(
          codeOf(
            await platform.request(EdgeTimelineDocument, { type: "HOST", value: "pager-01", after }, pager),
          ),
        ).toBe("BAD_USER_INPUT");
      }
      // A well-formed cursor of another tenant's list is only a position: it never shows that tenant's rows.
      // Tenant A's oldest incident predates all of this tenant's, so after it comes this tenant's whole list.
      const orderBy = { field: "CREATED_AT", direction: "ASC" } as const;
      const theirs = ok(await platform.request(EdgeIncidentPageDocument, { first: 1, orderBy }, analyst));
      const after = theirs.incidents.pageInfo.endCursor;
      const mine = ok(await platform.request(EdgeIncidentPageDocument, { first: 100, orderBy }, pager));
      const page = ok(
        await platform.request(EdgeIncidentPageDocument, { first: 100, after, orderBy }, pager),
      );
      expect(page.incidents.nodes).toEqual(mine.incidents.nodes);
    });

    it("combines filters with AND, matches search text literally and counts what it lists", async () => {
      const F = "edge-filter";
      const token = await platform.token([Role.ANALYST], F);
      const made: Record<string, { id: string; etag: string }> = {};
      for (const title of ["50% off_sale", "500 off sale", "Phish 50%", "Quiet"]) {
        const { id, etag } = await create(title, [], token);
        made[title] = { id, etag };
      }
      const set = (title: string, input: Record<string, unknown>) =>
        platform.request(EdgeUpdateIncidentDocument, { input: { ...made[title], ...input } }, token).then(ok);
      await set("50% off_sale", {
        labels: ["promo", "web"],
        owner: "Erin@x",
        severity: "HIGH",
        status: "ACTIVE",
      });
      await set("500 off sale", { labels: ["promo"], owner: "erin@x", severity: "HIGH" });
      await set("Phish 50%", { labels: ["web"], severity: "LOW", status: "ACTIVE" });
      const query = async (filter: Record<string, unknown>) => {
        const { incidents } = ok(
          await platform.request(EdgeIncidentPageDocument, { filter, first: 100 }, token),
        );
        expect(incidents.totalCount).toBe(incidents.nodes.length);
        return incidents.nodes.map((n) => n.title).sort();
      };
      expect(await query({ search: "50%" })).toEqual(["50% off_sale", "Phish 50%"]);
      expect(await query({ search: "f_s" })).toEqual(["50% off_sale"]);
      expect(await query({ search: "%" })).toEqual(["50% off_sale", "Phish 50%"]);
      expect(await query({ labels: ["promo", "nope"], owner: "ERIN@X" })).toEqual([
        "50% off_sale",
        "500 off sale",
      ]);
      expect(await query({ labels: ["web"], statuses: ["ACTIVE"], severities: ["HIGH"] })).toEqual([
        "50% off_sale",
      ]);
      expect(await query({ statuses: ["NEW"], severities: ["LOW", "MEDIUM"] })).toEqual(["Quiet"]);
      expect(await query({ statuses: ["CLOSED"] })).toEqual([]);
      expect(await query({ owner: "' OR 1=1 --", search: "' OR '1'='1" })).toEqual([]);
    });
  });

  describe("investigation", () => {
    it("answers odd entity values with BAD_USER_INPUT or an empty page, never an internal error", async () => {
      for (const [type, value] of [
        ["HOST", ""],
        ["HOST", "   "],
        ["HOST", "h".repeat(2049)],
        ["HOST", "nul\u0000host"],
        ["ACCOUNT", "\ud800"],
        ["IP", "not-an-ip"],
        ["IP", "10.0.0.0/8"],
        ["IP", "999.1.1.1"],
      ] as const)
        expect([
          type,
          value,
          codeOf(await platform.request(EdgeEntityDocument, { type, value }, analyst)),
        ]).toEqual([type, value, "BAD_USER_INPUT"]);
      for (const value of ["' OR 1=1 --", "%", "_", "\\", "h".repeat(2048)]) {
        const res = await platform.request(EdgeEntityDocument, { type: "PROCESS", value }, analyst);
        expect(res.errors).toBeUndefined();
        expect(res.data!.entity.alerts.totalCount).toBe(0);
        const t = await platform.request(EdgeTimelineDocument, { type: "FILE_HASH", value }, analyst);
        expect(t.errors).toBeUndefined();
      }
    });

    it("matches an entity case-insensitively, and an IP however it is written (mapped, expanded, zoned)", async () => {
      const [host1, host2] = await ingest([
        alertInput({ entities: [{ type: "HOST", value: "Case-Host" }] }),
        alertInput({ entities: [{ type: "HOST", value: "CASE-HOST" }] }),
      ]);
      for (const value of ["case-host", " CASE-host "]) {
        const { alerts } = ok(
          await platform.request(EdgeEntityDocument, { type: "HOST", value }, analyst),
        ).entity;
        expect(alerts.nodes.map((n) => n.id).sort()).toEqual([host1, host2].sort());
      }
      const v4 = await ingest([
        alertInput({ entities: [{ type: "IP", value: "203.0.113.9" }] }),
        alertInput({ entities: [{ type: "IP", value: "::FFFF:203.0.113.9" }] }),
      ]);
      const v6 = await ingest([alertInput({ entities: [{ type: "IP", value: "2001:0DB8:0:0:0:0:0:1" }] })]);
      const now = Date.now();
      const ingested = ok(
        await platform.request(
          IngestEventsDocument,
          {
            connector: "OCSF",
            records: Array.from({ length: 5 }, (_, i) => ({
              class_uid: 4001,
              activity_id: 6,
              time: now - 60_000 * (i % 2), // tied times: paging must break ties by id
              metadata: { uid: `edge-flow-${i}` },
              src_endpoint: { ip: i === 4 ? "::ffff:203.0.113.9" : "203.0.113.9" },
              dst_endpoint: { ip: "10.0.0.5", port: 443 },
            })),
          },
          ingestor,
        ),
      ).ingestEvents;
      expect(ingested).toMatchObject({ acceptedCount: 5, rejected: [] });
      for (const value of ["203.0.113.9", "::ffff:203.0.113.9", "::FFFF:CB00:7109", " 203.0.113.9 "]) {
        const { entity } = ok(await platform.request(EdgeEntityDocument, { type: "IP", value }, analyst));
        expect([value, entity.alerts.nodes.map((n) => n.id).sort()]).toEqual([value, [...v4].sort()]);
        const seen = await collect(
          async (after) =>
            ok(await platform.request(EdgeTimelineDocument, { type: "IP", value, first: 2, after }, analyst))
              .entity.timeline,
        );
        expect([value, new Set(seen).size, seen.length]).toEqual([value, 5, 5]);
      }
      for (const value of ["2001:db8::1", "2001:DB8:0000::0001", "2001:db8::1%eth0"]) {
        const { entity } = ok(await platform.request(EdgeEntityDocument, { type: "IP", value }, analyst));
        expect([value, entity.alerts.nodes.map((n) => n.id)]).toEqual([value, v6]);
        const t = await platform.request(EdgeTimelineDocument, { type: "IP", value }, analyst);
        expect([value, t.errors]).toEqual([value, undefined]);
      }
    });

    it("draws an incident without alerts as its own node, and nothing for an unknown id", async () => {
      const lone = await create("Lonely");
      const { graph } = ok(await platform.request(IncidentGraphDocument, { id: lone.id }, analyst)).incident!;
      expect(graph).toEqual({
        nodes: [
          { id: `incident:${lone.id}`, kind: "INCIDENT", label: `#${lone.number} Lonely`, incidentId: null },
        ],
        edges: [],
      });
      expect(ok(await platform.request(IncidentGraphDocument, { id: uuid }, analyst)).incident).toBeNull();
      expect(ok(await platform.request(IncidentGraphDocument, { id: "nope" }, analyst)).incident).toBeNull();
    });
  });

  /** The incidents holding an alert, in the order it joined them. */
  async function incidentsOfAlert(alertId: string): Promise<string[]> {
    const rows: Array<{ incident_id: string }> = await inTenant(siem, A, (m) =>
      m.query(`SELECT incident_id FROM incident_alerts WHERE alert_id = $1 ORDER BY added_at`, [alertId]),
    );
    return rows.map((r) => r.incident_id);
  }
});
