import type { DataSource } from "typeorm";
import {
  EdgeCloseIncidentDocument,
  EdgeMergeDocument,
  EdgeUpdateIncidentDocument,
  IncidentGraphDocument,
  IncidentGraphLinksDocument,
  EntityAlertCountDocument,
  IngestAlertsDocument,
  SemIncidentDocument,
  type AlertInput,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { storeAlerts, type NewAlert } from "../subgraphs/siem/src/modules/alerts/alert-store";
import type { GroupingSettings } from "../subgraphs/siem/src/modules/incidents/correlation";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Correlation and triage as a Microsoft Sentinel analyst expects them: a rule's grouping settings decide
 * which of its alerts share an incident, other providers' alerts join an open incident on a shared entity,
 * an incident holds at most 150 alerts, and the incident's severity and activity window follow its alerts
 * unless an analyst pinned the severity. Rule alerts are raised through `storeAlerts`, the write path the
 * rule runner uses, with the grouping settings a test needs.
 */
describe("incident semantics: grouping, overflow, reopening, severity", () => {
  let platform: TestPlatform;
  let siem: DataSource;
  let analyst: string;
  let ingestor: string;
  let seq = 0;
  let ruleSeq = 0;
  const T = "sem-a";
  const HOUR = 3600_000;

  const newRule = () => `01900000-0000-7000-8000-${String(++ruleSeq).padStart(12, "0")}`;
  const grouping = (over: Partial<GroupingSettings> = {}): GroupingSettings => ({
    enabled: true,
    matchingMethod: "ANY_ALERT",
    lookbackMs: 5 * HOUR,
    reopenClosedIncident: false,
    ...over,
  });
  /** Stores alerts as a rule run would, in one transaction; their ids in order. */
  const raise = async (alerts: Array<Partial<NewAlert>>, tenant = T): Promise<string[]> =>
    (
      await inTenant(siem, tenant, (m) =>
        storeAlerts(
          m,
          tenant,
          alerts.map((a) => ({
            provider: "ANALYTICS_RULE",
            sourceId: `sem-${++seq}`,
            title: `Rule alert ${seq}`,
            description: "",
            severity: "MEDIUM",
            tactics: [],
            techniques: [],
            entities: [],
            startTime: new Date(Date.UTC(2030, 0, 1, 0, seq)),
            endTime: new Date(Date.UTC(2030, 0, 1, 0, seq)),
            ...a,
          })),
        ),
      )
    ).ids;
  /** The incidents holding each alert (one each, when correlation did its job). */
  const incidentsOf = async (alertIds: string[], tenant = T): Promise<string[]> => {
    const rows: Array<{ alert_id: string; incident_id: string }> = await inTenant(siem, tenant, (m) =>
      m.query(`SELECT alert_id, incident_id FROM incident_alerts WHERE alert_id = ANY($1::uuid[])`, [
        alertIds,
      ]),
    );
    return alertIds.map((id) => {
      const holding = rows.filter((r) => r.alert_id === id).map((r) => r.incident_id);
      expect({ id, holding: holding.length }).toEqual({ id, holding: 1 });
      return holding[0];
    });
  };
  const incident = async (id: string) =>
    ok(await platform.request(SemIncidentDocument, { id }, analyst)).incident!;
  const ingest = async (alerts: AlertInput[]) => {
    const res = ok(await platform.request(IngestAlertsDocument, { input: alerts }, ingestor)).ingestAlerts;
    expect(res.rejected).toEqual([]);
    return res.ids as string[];
  };
  const external = (over: Partial<AlertInput> = {}): AlertInput => ({
    sourceId: `ext-${++seq}`,
    title: `External alert ${seq}`,
    severity: "MEDIUM",
    ...over,
  });
  const close = async (id: string) =>
    ok(
      await platform.request(
        EdgeCloseIncidentDocument,
        {
          input: {
            id,
            etag: (await incident(id)).etag,
            classification: "TRUE_POSITIVE",
            classificationReason: "SUSPICIOUS_ACTIVITY",
            reason: "Contained",
          },
        },
        analyst,
      ),
    ).closeIncident;
  const outbox = async (topic: string, key: string) =>
    (
      await inTenant(siem, T, (m) =>
        m.query(`SELECT payload FROM outbox WHERE topic = $1 AND key = $2 ORDER BY seq`, [topic, key]),
      )
    ).map((r: { payload: { changedFields: string[]; changes: Record<string, unknown> } }) => r.payload);

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    siem = await platform.connect("siem");
    analyst = await platform.token([Role.ANALYST], T, "alice@contoso.example");
    ingestor = await platform.token([Role.INGESTOR], T);
  });
  afterAll(() => platform?.stop());

  describe("rule grouping", () => {
    it("ANY_ALERT groups every alert of one rule, never another rule's", async () => {
      const [r1, r2] = [newRule(), newRule()];
      const ids = await raise([
        { ruleId: r1, grouping: grouping(), entities: [{ type: "HOST", value: "web01" }] },
        { ruleId: r1, grouping: grouping(), entities: [{ type: "HOST", value: "db01" }] },
        { ruleId: r2, grouping: grouping(), entities: [{ type: "HOST", value: "web01" }] },
      ]);
      const later = await raise([{ ruleId: r1, grouping: grouping() }]);
      const [a, b, c, d] = await incidentsOf([...ids, ...later]);
      expect(b).toBe(a);
      expect(d).toBe(a);
      expect(c).not.toBe(a);
    });

    it("ALL_ENTITIES groups identical entity sets, compared in canonical form", async () => {
      const rule = newRule();
      const g = grouping({ matchingMethod: "ALL_ENTITIES" });
      const ids = await raise([
        {
          ruleId: rule,
          grouping: g,
          entities: [
            { type: "ACCOUNT", value: "Adele@Contoso.example" },
            { type: "IP", value: "10.0.0.5" },
          ],
        },
        {
          ruleId: rule,
          grouping: g,
          entities: [
            { type: "IP", value: "::ffff:10.0.0.5" },
            { type: "ACCOUNT", value: "adele@contoso.example" },
          ],
        },
        {
          ruleId: rule,
          grouping: g,
          entities: [{ type: "ACCOUNT", value: "adele@contoso.example" }],
        },
      ]);
      const [a, b, c] = await incidentsOf(ids);
      expect(b).toBe(a);
      expect(c).not.toBe(a);
    });

    it("SELECTED matches on the chosen entity kinds only", async () => {
      const rule = newRule();
      const g = grouping({ matchingMethod: "SELECTED", selectedEntityTypes: ["ACCOUNT"] });
      const ids = await raise([
        {
          ruleId: rule,
          grouping: g,
          entities: [
            { type: "ACCOUNT", value: "BOB" },
            { type: "HOST", value: "h1" },
          ],
        },
        {
          ruleId: rule,
          grouping: g,
          entities: [
            { type: "ACCOUNT", value: "bob" },
            { type: "HOST", value: "h2" },
          ],
        },
        {
          ruleId: rule,
          grouping: g,
          entities: [
            { type: "ACCOUNT", value: "carol" },
            { type: "HOST", value: "h1" },
          ],
        },
      ]);
      const [a, b, c] = await incidentsOf(ids);
      expect(b).toBe(a);
      expect(c).not.toBe(a);
    });

    it("opens a new incident once the group's incident is older than the lookback", async () => {
      const rule = newRule();
      const g = grouping({ lookbackMs: 2 * HOUR });
      const [first] = await raise([{ ruleId: rule, grouping: g }]);
      const [old] = await incidentsOf([first]);
      // Within the lookback the group's next alert joins it: the new incident below is the lookback's doing.
      expect(await incidentsOf(await raise([{ ruleId: rule, grouping: g }]))).toEqual([old]);
      await inTenant(siem, T, (m) =>
        m.query(`UPDATE incidents SET created_at = created_at - interval '3 hours' WHERE id = $1`, [old]),
      );
      const [next] = await incidentsOf(await raise([{ ruleId: rule, grouping: g }]));
      expect(next).not.toBe(old);
    });

    it("with reopening off, a closed incident stays closed and the group continues in a new one", async () => {
      const rule = newRule();
      const [first] = await incidentsOf(await raise([{ ruleId: rule, grouping: grouping() }]));
      await close(first);
      const [second, third] = await incidentsOf(
        await raise([
          { ruleId: rule, grouping: grouping() },
          { ruleId: rule, grouping: grouping() },
        ]),
      );
      expect(second).not.toBe(first);
      expect(third).toBe(second);
      expect(await incident(first)).toMatchObject({ status: "CLOSED", alerts: { totalCount: 1 } });
    });

    it("with reopening on, the closed incident reopens: ACTIVE, unclassified, logged and announced once", async () => {
      const rule = newRule();
      const g = grouping({ reopenClosedIncident: true });
      const [first] = await incidentsOf(await raise([{ ruleId: rule, grouping: g }]));
      await close(first);
      const [again] = await incidentsOf(await raise([{ ruleId: rule, grouping: g }]));
      expect(again).toBe(first);
      const reopened = await incident(first);
      expect(reopened).toMatchObject({
        status: "ACTIVE",
        classification: null,
        classificationReason: null,
        classificationComment: null,
        alerts: { totalCount: 2 },
      });
      expect(reopened.activity.map((a) => a.action)).toEqual([
        "created",
        "closed",
        "reopened",
        "alert_added",
      ]);
      const events = await outbox("incident.reopened", first);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        changes: {
          status: ["CLOSED", "ACTIVE"],
          classification: ["TRUE_POSITIVE", null],
          classificationReason: ["SUSPICIOUS_ACTIVITY", null],
        },
        actor: "system",
      });
    });
  });

  describe("an incident closed while an alert is being correlated into it", () => {
    /**
     * Closes `incident` in a transaction of its own and, before committing, lets `raising` start and wait on
     * the incident's row, as an analyst's close racing an ingest does; then commits and returns what was raised.
     */
    async function closeWhile(incident: string, raising: () => Promise<string[]>): Promise<string[]> {
      const runner = siem.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      try {
        await runner.query(`SELECT set_config('rampart.tenant_id', $1, true)`, [T]);
        await runner.query(
          `UPDATE incidents SET status = 'CLOSED', classification = 'TRUE_POSITIVE', classification_comment = 'Contained',
             closed_at = now(), etag = etag + 1 WHERE id = $1`,
          [incident],
        );
        const raised = raising();
        // Until the ingest waits on a lock (the incident's row): it has read the incident open by then.
        for (let i = 0; ; i++) {
          const [{ n }] = await siem.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
          );
          if (n > 0) break;
          if (i > 200) throw new Error("the ingest never waited for the closing transaction");
          await new Promise((r) => setTimeout(r, 10));
        }
        await runner.commitTransaction();
        return await raised;
      } finally {
        if (runner.isTransactionActive) await runner.rollbackTransaction();
        await runner.release();
      }
    }

    it("does not bury the alert in the closed incident: the group continues in a new one", async () => {
      const rule = newRule();
      const [open] = await incidentsOf(await raise([{ ruleId: rule, grouping: grouping() }]));
      const [next] = await incidentsOf(
        await closeWhile(open, () => raise([{ ruleId: rule, grouping: grouping() }])),
      );
      expect(next).not.toBe(open);
      expect(await incident(open)).toMatchObject({ status: "CLOSED", alerts: { totalCount: 1 } });
    });

    it("reopens it when the rule says so, as it would a closed one", async () => {
      const rule = newRule();
      const g = grouping({ reopenClosedIncident: true });
      const [open] = await incidentsOf(await raise([{ ruleId: rule, grouping: g }]));
      const [next] = await incidentsOf(await closeWhile(open, () => raise([{ ruleId: rule, grouping: g }])));
      expect(next).toBe(open);
      expect(await incident(open)).toMatchObject({
        status: "ACTIVE",
        classification: null,
        alerts: { totalCount: 2 },
      });
      expect(await outbox("incident.reopened", open)).toHaveLength(1);
    });

    it("does not add an external alert to it either", async () => {
      const [first] = await ingest([external({ entities: [{ type: "HOST", value: "race-host" }] })]);
      const [open] = await incidentsOf([first]);
      const [next] = await incidentsOf(
        await closeWhile(open, () =>
          ingest([external({ entities: [{ type: "HOST", value: "race-host" }] })]),
        ),
      );
      expect(next).not.toBe(open);
      expect(await incident(open)).toMatchObject({ status: "CLOSED", alerts: { totalCount: 1 } });
    });
  });

  describe("150 alerts per incident", () => {
    it("puts a rule group's 151st alert in a new incident and keeps the group there", async () => {
      const rule = newRule();
      const ids = await raise(Array.from({ length: 153 }, () => ({ ruleId: rule, grouping: grouping() })));
      const later = await raise([{ ruleId: rule, grouping: grouping() }]);
      const held = await incidentsOf([...ids, ...later]);
      const counts = new Map<string, number>();
      for (const id of held) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect([...counts.values()]).toEqual([150, 4]);
    });

    it("keeps an external group that outgrew one incident in one overflow incident", async () => {
      const ids = await ingest(
        Array.from({ length: 153 }, () => external({ entities: [{ type: "HOST", value: "overflow-host" }] })),
      );
      const later = await ingest([external({ entities: [{ type: "HOST", value: "OVERFLOW-HOST" }] })]);
      const held = await incidentsOf([...ids, ...later]);
      const counts = new Map<string, number>();
      for (const id of held) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect([...counts.values()]).toEqual([150, 4]);
    });
  });

  describe("severity and activity window", () => {
    it("follows the highest alert until an analyst pins it; a pinned severity survives higher alerts", async () => {
      const rule = newRule();
      const [inc] = await incidentsOf(
        await raise([
          {
            ruleId: rule,
            grouping: grouping(),
            severity: "LOW",
            startTime: new Date("2030-02-01T10:00:00Z"),
            endTime: new Date("2030-02-01T10:05:00Z"),
          },
        ]),
      );
      await raise([
        {
          ruleId: rule,
          grouping: grouping(),
          severity: "MEDIUM",
          startTime: new Date("2030-02-01T09:00:00Z"),
          endTime: new Date("2030-02-01T11:00:00Z"),
        },
      ]);
      expect(await incident(inc)).toMatchObject({
        severity: "MEDIUM",
        firstActivity: "2030-02-01T09:00:00.000Z",
        lastActivity: "2030-02-01T11:00:00.000Z",
      });
      const pinned = ok(
        await platform.request(
          EdgeUpdateIncidentDocument,
          { input: { id: inc, etag: (await incident(inc)).etag, severity: "LOW" } },
          analyst,
        ),
      ).updateIncident;
      expect(pinned.severity).toBe("LOW");
      await raise([{ ruleId: rule, grouping: grouping(), severity: "HIGH" }]);
      expect(await incident(inc)).toMatchObject({ severity: "LOW", alerts: { totalCount: 3 } });
    });

    it("recomputes the target's severity after a merge", async () => {
      const [low, high] = await incidentsOf(
        await raise([
          { ruleId: newRule(), grouping: grouping(), severity: "LOW" },
          { ruleId: newRule(), grouping: grouping(), severity: "HIGH" },
        ]),
      );
      const merged = ok(
        await platform.request(EdgeMergeDocument, { input: { targetId: low, sourceIds: [high] } }, analyst),
      ).mergeIncidents;
      expect(merged.alerts.totalCount).toBe(2);
      expect((await incident(low)).severity).toBe("HIGH");
      // The source closed as merged: its event and activity say so, as closeIncident's would.
      const [event] = await outbox("incident.merged", high);
      expect(event).toMatchObject({
        changedFields: ["status", "classification", "mergedInto"],
        changes: { status: ["NEW", "CLOSED"], classification: [null, "UNDETERMINED"], mergedInto: low },
      });
      expect((await incident(high)).activity.at(-1)).toMatchObject({
        action: "merged",
        changes: JSON.stringify(event.changes),
      });
    });
  });

  describe("investigation graph", () => {
    it("relates the newest 50 alerts of other incidents sharing an entity, of this tenant only", async () => {
      // Rule alerts without grouping: an incident each, all on one host.
      const lone = { ruleId: newRule(), grouping: grouping({ enabled: false }) };
      const host = [{ type: "HOST" as const, value: "graph-host" }];
      const [mine] = await raise([{ ...lone, entities: host }]);
      const others: string[] = [];
      for (let i = 0; i < 55; i++) others.push(...(await raise([{ ...lone, entities: host }])));
      await raise([{ ...lone, entities: host }], "sem-b");
      const [incidentId] = await incidentsOf([mine]);
      const { graph } = ok(
        await platform.request(IncidentGraphDocument, { id: incidentId }, analyst),
      ).incident!;
      const related = graph.nodes
        .filter((n) => n.kind === "ALERT" && n.incidentId !== incidentId)
        .map((n) => n.id.replace("alert:", ""));
      expect(related.sort()).toEqual(others.slice(-50).sort());
    });

    it("links each node to what it stands for: the alert, the entity and its investigation page", async () => {
      const lone = { ruleId: newRule(), grouping: grouping({ enabled: false }) };
      const host = [{ type: "HOST" as const, value: "Links-Host" }];
      const [mine, other] = [
        ...(await raise([{ ...lone, entities: host }])),
        ...(await raise([{ ...lone, entities: host }])),
      ];
      const [incidentId] = await incidentsOf([mine]);
      const { graph } = ok(
        await platform.request(IncidentGraphLinksDocument, { id: incidentId }, analyst),
      ).incident!;
      const byKind = (kind: string) => graph.nodes.filter((n) => n.kind === kind);
      expect(byKind("INCIDENT")).toEqual([
        expect.objectContaining({ entityType: null, entityValue: null, alert: null }),
      ]);
      expect(
        byKind("ALERT")
          .map((n) => [n.id, n.alert?.id])
          .sort(),
      ).toEqual([mine, other].map((id) => [`alert:${id}`, id]).sort());
      const [entity] = byKind("ENTITY");
      expect(byKind("ENTITY")).toHaveLength(1);
      expect(entity).toMatchObject({ entityType: "HOST", alert: null });
      expect(entity.entityValue?.toLowerCase()).toBe("links-host");
      // Its type and value open its page, which finds both alerts on the host: this incident's and the related one.
      const page = ok(
        await platform.request(
          EntityAlertCountDocument,
          { type: entity.entityType!, value: entity.entityValue! },
          analyst,
        ),
      ).entity;
      expect(page.alerts.totalCount).toBe(2);
    });
  });

  describe("alerts without a rule", () => {
    it("name at most 100 entities each, so an incident's graph stays bounded", async () => {
      const many = (n: number) =>
        Array.from({ length: n }, (_, i) => ({ type: "HOST" as const, value: `bound-${seq}-${i}` }));
      const res = ok(
        await platform.request(
          IngestAlertsDocument,
          { input: [external({ entities: many(101) }), external({ entities: many(100) })] },
          ingestor,
        ),
      ).ingestAlerts;
      expect(res.rejected).toEqual([{ index: 0, field: "entities", message: "at most 100 entities" }]);
      expect(res.createdCount).toBe(1);
    });

    it("join an open incident sharing an entity, not a closed one", async () => {
      const [a] = await ingest([external({ entities: [{ type: "IP", value: "203.0.113.9" }] })]);
      const [b] = await ingest([external({ entities: [{ type: "IP", value: "::ffff:203.0.113.9" }] })]);
      const [ia, ib] = await incidentsOf([a, b]);
      expect(ib).toBe(ia);
      await close(ia);
      const [c] = await ingest([external({ entities: [{ type: "IP", value: "203.0.113.9" }] })]);
      const [ic] = await incidentsOf([c]);
      expect(ic).not.toBe(ia);
    });
  });
});
