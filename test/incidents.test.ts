import { Client } from "pg";
import {
  AddIncidentCommentDocument,
  AddIncidentTaskDocument,
  CloseIncidentDocument,
  CompleteIncidentTaskDocument,
  IncidentDetailDocument,
  IncidentQueueDocument,
  IngestAlertsDocument,
  MergeIncidentsDocument,
  ReopenIncidentDocument,
  UpdateIncidentDocument,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

describe("incidents: correlation, triage with etags, closing, merging, activity and events", () => {
  let platform: TestPlatform;
  let analyst: string;
  let ingestor: string;

  const alert = (
    i: number,
    entities: Array<{ type: "ACCOUNT" | "HOST" | "IP"; value: string }>,
    severity: "LOW" | "MEDIUM" | "HIGH" = "MEDIUM",
  ) => ({
    sourceId: `edr-${i}`,
    title: `EDR detection ${i}`,
    severity,
    tactics: ["Execution"],
    techniques: ["T1059.001"],
    entities,
  });
  const queue = async () =>
    ok(await platform.request(IncidentQueueDocument, { first: 50 }, analyst)).incidents;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    analyst = await platform.token([Role.ANALYST], "tenant-a", "alice@contoso.example");
    ingestor = await platform.token([Role.INGESTOR]);
  });
  afterAll(() => platform?.stop());

  it("groups alerts that share an entity into one incident, with the highest severity", async () => {
    ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            alert(1, [{ type: "HOST", value: "vm-web-prod-01" }], "LOW"),
            alert(
              2,
              [
                { type: "HOST", value: "VM-WEB-PROD-01" },
                { type: "ACCOUNT", value: "adele@contoso.example" },
              ],
              "HIGH",
            ),
            alert(3, [{ type: "IP", value: "203.0.113.77" }]),
          ],
        },
        ingestor,
      ),
    );
    const incidents = await queue();
    expect(incidents.totalCount).toBe(2);
    const web = incidents.nodes.find((n) => n.title === "EDR detection 1")!;
    const detail = ok(await platform.request(IncidentDetailDocument, { id: web.id }, analyst)).incident!;
    expect(detail).toMatchObject({ severity: "HIGH", status: "NEW" });
    expect(detail.alerts.nodes.map((a) => a.title).sort()).toEqual(["EDR detection 1", "EDR detection 2"]);
    expect(detail.activity.map((a) => a.action)).toEqual(["created", "alert_added"]);
  });

  it("triages with the current etag and answers a stale etag with CONFLICT, changing nothing", async () => {
    const [incident] = (await queue()).nodes;
    const updated = ok(
      await platform.request(
        UpdateIncidentDocument,
        {
          input: {
            id: incident.id,
            etag: incident.etag,
            status: "ACTIVE",
            owner: "alice@contoso.example",
            labels: ["edr", "web"],
          },
        },
        analyst,
      ),
    ).updateIncident;
    expect(updated).toMatchObject({
      status: "ACTIVE",
      owner: "alice@contoso.example",
      labels: ["edr", "web"],
    });
    expect(updated.etag).not.toBe(incident.etag);
    const stale = await platform.request(
      UpdateIncidentDocument,
      { input: { id: incident.id, etag: incident.etag, owner: "mallory" } },
      analyst,
    );
    expect(stale.errors?.[0].extensions?.code).toBe("CONFLICT");
    const after = ok(await platform.request(IncidentDetailDocument, { id: incident.id }, analyst)).incident!;
    expect(after.owner).toBe("alice@contoso.example");
  });

  it("comments, tasks and the activity log record who did what", async () => {
    const [incident] = (await queue()).nodes;
    ok(
      await platform.request(
        AddIncidentCommentDocument,
        { incidentId: incident.id, message: "Isolating the host." },
        analyst,
      ),
    );
    const task = ok(
      await platform.request(
        AddIncidentTaskDocument,
        { incidentId: incident.id, title: "Reset credentials" },
        analyst,
      ),
    ).addIncidentTask;
    ok(await platform.request(CompleteIncidentTaskDocument, { id: task.id }, analyst));
    const detail = ok(await platform.request(IncidentDetailDocument, { id: incident.id }, analyst)).incident!;
    expect(detail.comments).toEqual([{ author: "alice@contoso.example", message: "Isolating the host." }]);
    expect(detail.tasks).toEqual([{ id: task.id, title: "Reset credentials", status: "COMPLETED" }]);
    expect(detail.activity.filter((a) => a.actor === "alice@contoso.example").map((a) => a.action)).toEqual([
      "updated",
      "comment_added",
      "updated",
      "updated",
    ]);
  });

  it("closes only with a classification and a reason, and reopens", async () => {
    const [incident] = (await queue()).nodes;
    const noReason = await platform.request(
      CloseIncidentDocument,
      { input: { id: incident.id, etag: incident.etag, classification: "TRUE_POSITIVE", reason: " " } },
      analyst,
    );
    expect(noReason.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const closed = ok(
      await platform.request(
        CloseIncidentDocument,
        {
          input: {
            id: incident.id,
            etag: incident.etag,
            classification: "TRUE_POSITIVE",
            reason: "Confirmed malware",
          },
        },
        analyst,
      ),
    ).closeIncident;
    expect(closed).toMatchObject({
      status: "CLOSED",
      classification: "TRUE_POSITIVE",
      classificationReason: null,
      classificationComment: "Confirmed malware",
    });
    const reopened = ok(
      await platform.request(
        ReopenIncidentDocument,
        { input: { id: incident.id, etag: closed.etag } },
        analyst,
      ),
    ).reopenIncident;
    expect(reopened).toMatchObject({ status: "ACTIVE", classification: null });
  });

  it("merges incidents: alerts move to the target, the source closes as merged", async () => {
    const [a, b] = (await queue()).nodes;
    const merged = ok(
      await platform.request(
        MergeIncidentsDocument,
        { input: { targetId: a.id, sourceIds: [b.id] } },
        analyst,
      ),
    ).mergeIncidents;
    expect(merged.alerts.totalCount).toBe(3);
    expect((await queue()).nodes.map((n) => n.id)).toEqual([a.id]);
  });

  it("refuses triage to readers", async () => {
    const [incident] = (await queue()).nodes;
    const res = await platform.request(
      UpdateIncidentDocument,
      { input: { id: incident.id, etag: incident.etag, owner: "x" } },
      await platform.token([Role.READER]),
    );
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("correlates concurrent ingests of alerts on the same entities without deadlocking", async () => {
    const batch = (offset: number, reverse: boolean) => {
      const alerts = Array.from({ length: 40 }, (_, i) =>
        alert(1000 + offset + i, [
          { type: "HOST", value: `host-${i % 4}` },
          { type: "IP", value: `192.0.2.${i % 4}` },
        ]),
      );
      return reverse ? alerts.reverse() : alerts;
    };
    const results = await Promise.all(
      [0, 100, 200, 300].map((offset, i) =>
        platform.request(IngestAlertsDocument, { input: batch(offset, i % 2 === 1) }, ingestor),
      ),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    const grouped = ok(
      await platform.request(
        IncidentQueueDocument,
        { first: 100, filter: { search: "EDR detection 1" } },
        analyst,
      ),
    ).incidents;
    const detail = await Promise.all(
      grouped.nodes.map((n) => platform.request(IncidentDetailDocument, { id: n.id }, analyst)),
    );
    const hostIncidents = detail
      .map((d) => ok(d).incident!)
      .filter((i) => i.alerts.nodes.some((a) => a.entities.some((e) => e.value.startsWith("host-"))));
    // Four host/IP pairs never share entities with each other: four incidents, 40 alerts each.
    expect(hostIncidents.map((i) => i.alerts.totalCount).sort()).toEqual([40, 40, 40, 40]);
  });

  it("wrote an outbox event for every change", async () => {
    const admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    const { rows } = await admin.query(
      `SELECT topic, count(*)::int AS n FROM siem.outbox GROUP BY topic ORDER BY topic`,
    );
    await admin.end();
    const topics = Object.fromEntries(rows.map((r: { topic: string; n: number }) => [r.topic, r.n]));
    expect(topics).toMatchObject({
      "alert.created": 163,
      "incident.created": 6,
      "incident.alert_added": 157,
      "incident.comment_added": 1,
      "incident.closed": 1,
      "incident.reopened": 1,
      "incident.merged": 2,
    });
    expect(topics["incident.updated"]).toBeGreaterThanOrEqual(3);
  });
});
