import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DataSource } from "typeorm";
import {
  AutomationRunsDocument,
  CreateAutomationRuleDocument,
  CreatePlaybookDocument,
  LifecycleAlertDocument,
  LifecycleAlertsDocument,
  LifecycleIngestAlertsDocument,
  PlaybookRunsDocument,
  UpdateAlertsDocument,
  type AlertInput,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { codes, problems } from "./utils/errors";
import { eventually, watch, wsClient } from "./utils/live";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/** Polls an async `check` every 100 ms until it returns a value, or fails naming `what`. */
async function until<T>(check: () => Promise<T | undefined | null | false>, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The alert lifecycle through the gateway, with durable jobs running: analysts' triage (`updateAlerts`), providers'
 * repeats through `ingestAlerts` (update, idempotence, stale records), `Query.alerts` filters, orderings and keyset
 * pages, `SecurityAlert.incident`, the `alert.updated` event (outbox, `alertUpdated` subscription, ALERT_UPDATED
 * automation), the incident activity log and the audit log — each tenant seeing and changing only its own alerts.
 */
describe("alert lifecycle", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let receiver: Server;
  let receiverUrl: string;
  const received: Array<{ path: string; body: string }> = [];

  const tokens = (tenant: string) =>
    platform.tokens({
      reader: [[Role.READER], tenant],
      analyst: [[Role.ANALYST], tenant],
      admin: [[Role.ADMIN], tenant],
      ingestor: [[Role.INGESTOR], tenant],
    } as const);

  const alertInput = (sourceId: string, fields: Partial<AlertInput> = {}): AlertInput => ({
    sourceId,
    title: `Alert ${sourceId}`,
    severity: "MEDIUM",
    entities: [{ type: "HOST", value: `host-${sourceId}` }],
    startTime: "2026-11-01T10:00:00Z",
    endTime: "2026-11-01T10:05:00Z",
    ...fields,
  });
  const ingest = async (token: string, input: AlertInput[]) =>
    ok(await platform.request(LifecycleIngestAlertsDocument, { input }, token)).ingestAlerts;
  const alert = async (id: string, token: string) =>
    ok(await platform.request(LifecycleAlertDocument, { id }, token)).alert!;
  const count = (tenant: string, table: string, where: string, params: unknown[]) =>
    inTenant(ds, tenant, async (m) =>
      Number((await m.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params))[0].n),
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "true" });
    ds = await platform.connect("siem");
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await platform?.stop();
  });

  it("lets analysts set alerts' status in one transaction, logged, audited and announced; others are refused", async () => {
    const t = await tokens("life-a");
    const other = await tokens("life-b");
    const { ids } = await ingest(t.ingestor, [alertInput("u-1"), alertInput("u-2")]);
    const [a1, a2] = ids as string[];
    const [b1] = (await ingest(other.ingestor, [alertInput("u-1")])).ids as string[];
    const client = wsClient(platform.gateway.url, t.reader);
    const stream = watch(
      client,
      `subscription { alertUpdated(filter: { statuses: [RESOLVED] }) { changedFields actor comment alert { id status } } }`,
    );
    try {
      await new Promise((r) => setTimeout(r, 500));
      // Readers and ingestors may not triage.
      for (const token of [t.reader, t.ingestor])
        expect(
          codes(
            await platform.request(UpdateAlertsDocument, { input: { ids: [a1], status: "ACTIVE" } }, token),
          ),
        ).toEqual(["FORBIDDEN"]);
      // Another tenant's alert is NOT_FOUND, and the call changes none of the caller's alerts either.
      expect(
        codes(
          await platform.request(
            UpdateAlertsDocument,
            { input: { ids: [a1, b1], status: "RESOLVED" } },
            t.analyst,
          ),
        ),
      ).toEqual(["NOT_FOUND"]);
      expect((await alert(a1, t.reader)).status).toBe("NEW");
      expect(
        codes(
          await platform.request(
            UpdateAlertsDocument,
            { input: { ids: [a1], status: "RESOLVED" } },
            other.analyst,
          ),
        ),
      ).toEqual(["NOT_FOUND"]);
      expect(
        problems(
          await platform.request(
            UpdateAlertsDocument,
            { input: { ids: ["not-an-id", a2], status: "RESOLVED", comment: "x\u0000" } },
            t.analyst,
          ),
        ),
      ).toEqual(["[0].ids: must be an alert id (UUID)", "comment: contains a NUL character (U+0000)"]);
      expect(
        problems(
          await platform.request(UpdateAlertsDocument, { input: { ids: [], status: "RESOLVED" } }, t.analyst),
        ),
      ).toEqual(["ids: name at least one alert"]);
      expect(await count("life-a", "outbox", "topic = 'alert.updated'", [])).toBe(0);

      const res = ok(
        await platform.request(
          UpdateAlertsDocument,
          { input: { ids: [a1, a2, a1], status: "RESOLVED", comment: "patched" } },
          t.analyst,
        ),
      ).updateAlerts;
      expect(res).toEqual({
        updatedCount: 2,
        alerts: [
          { id: a1, status: "RESOLVED" },
          { id: a2, status: "RESOLVED" },
        ],
      });
      // Already RESOLVED: nothing changes, no event.
      const again = ok(
        await platform.request(UpdateAlertsDocument, { input: { ids: [a1], status: "RESOLVED" } }, t.analyst),
      ).updateAlerts;
      expect(again.updatedCount).toBe(0);
      expect(await count("life-a", "outbox", "topic = 'alert.updated'", [])).toBe(2);
      expect(
        await count(
          "life-a",
          "audit_log",
          "action = 'alert.updated' AND target = $1 AND actor = 'tester@example.com'",
          [`alert:${a1}`],
        ),
      ).toBe(1);
      // The other tenant's alert is untouched.
      expect((await alert(b1, other.reader)).status).toBe("NEW");

      const seen = await alert(a1, t.reader);
      expect(seen.status).toBe("RESOLVED");
      expect(seen.incident).not.toBeNull();
      const entry = seen.incident!.activity.find((e) => e.action === "alert_updated");
      expect(entry).toMatchObject({ actor: "tester@example.com" });
      expect(JSON.parse(entry!.changes)).toEqual({
        alertId: a1,
        status: ["NEW", "RESOLVED"],
        comment: "patched",
      });

      await eventually(() => stream.results.length >= 2 && stream, "two alertUpdated events");
      expect(stream.results.map((r) => r.data?.alertUpdated)).toEqual(
        [a1, a2].sort().map((id) => ({
          changedFields: ["status"],
          actor: "tester@example.com",
          comment: "patched",
          alert: { id, status: "RESOLVED" },
        })),
      );
    } finally {
      stream.stop();
      await client.dispose();
    }
  });

  it("updates a known alert when its provider sends it again with new values, and changes nothing on an identical or older repeat", async () => {
    const t = await tokens("life-ingest");
    const first = await ingest(t.ingestor, [alertInput("r-1", { tactics: ["Execution"] })]);
    expect(first).toMatchObject({
      createdCount: 1,
      updatedCount: 0,
      duplicateCount: 0,
      outcomes: ["CREATED"],
    });
    const id = first.ids[0]!;
    // The same record again: idempotent.
    expect(await ingest(t.ingestor, [alertInput("r-1", { tactics: ["Execution"] })])).toMatchObject({
      createdCount: 0,
      updatedCount: 0,
      duplicateCount: 1,
      ids: [id],
      outcomes: ["UNCHANGED"],
    });
    expect(await count("life-ingest", "outbox", "topic = 'alert.updated'", [])).toBe(0);
    // An analyst's triage stays when the provider's repeat states no status.
    ok(await platform.request(UpdateAlertsDocument, { input: { ids: [id], status: "ACTIVE" } }, t.analyst));
    const updated = await ingest(t.ingestor, [
      alertInput("r-1", {
        severity: "HIGH",
        endTime: "2026-11-01T11:00:00Z",
        description: "spread to a second host",
      }),
      alertInput("r-bad", { title: "" }),
    ]);
    expect(updated).toMatchObject({
      createdCount: 0,
      updatedCount: 1,
      duplicateCount: 0,
      ids: [id, null],
      outcomes: ["UPDATED", "REJECTED"],
    });
    let now = await alert(id, t.reader);
    expect(now).toMatchObject({
      severity: "HIGH",
      status: "ACTIVE",
      description: "spread to a second host",
      endTime: "2026-11-01T11:00:00.000Z",
      tactics: ["Execution"],
    });
    const entry = now.incident!.activity.filter((e) => e.action === "alert_updated").at(-1)!;
    expect(JSON.parse(entry.changes)).toEqual({
      alertId: id,
      severity: ["MEDIUM", "HIGH"],
      description: ["", "spread to a second host"],
      endTime: ["2026-11-01T10:05:00.000Z", "2026-11-01T11:00:00.000Z"],
    });
    // The provider resolves it.
    expect(
      (
        await ingest(t.ingestor, [
          alertInput("r-1", { severity: "HIGH", status: "RESOLVED", endTime: "2026-11-01T11:00:00Z" }),
        ])
      ).outcomes,
    ).toEqual(["UPDATED"]);
    // A late delivery of an older state (an earlier endTime) changes nothing.
    expect(
      (
        await ingest(t.ingestor, [
          alertInput("r-1", { severity: "LOW", status: "NEW", endTime: "2026-11-01T10:30:00Z" }),
        ])
      ).outcomes,
    ).toEqual(["UNCHANGED"]);
    now = await alert(id, t.reader);
    expect(now).toMatchObject({ severity: "HIGH", status: "RESOLVED" });
    expect(await count("life-ingest", "outbox", "topic = 'alert.updated' AND key = $1", [id])).toBe(3);
    // Every ingest is audited with its counts, one that stored nothing too.
    expect((await ingest(t.ingestor, [alertInput("r-2", { title: "" })])).outcomes).toEqual(["REJECTED"]);
    const audits: Array<{ details: Record<string, unknown> }> = await inTenant(ds, "life-ingest", (m) =>
      m.query(`SELECT details FROM audit_log WHERE action = 'alerts.ingest' ORDER BY at, id`),
    );
    expect(audits.map((a) => [a.details.created, a.details.updated, a.details.duplicates])).toEqual([
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0, 0, 0],
    ]);
  });

  it("keeps a provider's evidence: stored with the alert, updated by a repeat, kept when left out, bounded", async () => {
    const t = await tokens("life-evidence");
    const other = await tokens("life-evidence-other");
    const evidence = {
      process: { image: "C:\\Windows\\Temp\\x.exe", commandLine: "x.exe -enc SQBFAFgA", pid: 4242 },
      file: { path: "C:\\Windows\\Temp\\x.exe", sha256: "ab".repeat(32) },
      host: "web-01",
      failedLogons: 24,
    };
    const first = await ingest(t.ingestor, [
      alertInput("ev-1", { evidence }),
      alertInput("ev-2"),
      alertInput("ev-big", { evidence: { blob: "x".repeat(32 * 1024) } }),
    ]);
    expect(first.outcomes).toEqual(["CREATED", "CREATED", "REJECTED"]);
    expect(first.rejected).toEqual([{ index: 2, field: "evidence", message: "at most 32 KiB of JSON" }]);
    const [id, bare] = first.ids as string[];
    expect((await alert(id, t.reader)).evidence).toEqual(evidence);
    expect((await alert(bare, t.reader)).evidence).toEqual({});
    // The same evidence again, its keys in another order: nothing changed.
    const reordered = { failedLogons: 24, host: "web-01", file: evidence.file, process: evidence.process };
    expect((await ingest(t.ingestor, [alertInput("ev-1", { evidence: reordered })])).outcomes).toEqual([
      "UNCHANGED",
    ]);
    // Left out of a repeat, the evidence stays; a repeat stating new evidence replaces it, announced and logged.
    expect((await ingest(t.ingestor, [alertInput("ev-1", { severity: "HIGH" })])).outcomes).toEqual([
      "UPDATED",
    ]);
    expect((await alert(id, t.reader)).evidence).toEqual(evidence);
    const more = { ...evidence, failedLogons: 90 };
    expect(
      (await ingest(t.ingestor, [alertInput("ev-1", { severity: "HIGH", evidence: more })])).outcomes,
    ).toEqual(["UPDATED"]);
    const now = await alert(id, t.reader);
    expect(now.evidence).toEqual(more);
    const entry = now.incident!.activity.filter((e) => e.action === "alert_updated").at(-1)!;
    expect(JSON.parse(entry.changes)).toEqual({ alertId: id, evidence: [evidence, more] });
    const events: Array<{ payload: { changedFields: string[] } }> = await inTenant(ds, "life-evidence", (m) =>
      m.query(`SELECT payload FROM outbox WHERE topic = 'alert.updated' AND key = $1 ORDER BY seq`, [id]),
    );
    expect(events.map((e) => e.payload.changedFields)).toEqual([["severity"], ["evidence"]]);
    // Evidence stated for an alert stored without any is added.
    expect(
      (await ingest(t.ingestor, [alertInput("ev-2", { evidence: { host: "web-02" } })])).outcomes,
    ).toEqual(["UPDATED"]);
    expect((await alert(bare, t.reader)).evidence).toEqual({ host: "web-02" });
    // Listed with the alerts; the rejected record stored nothing; another tenant sees none of it.
    const listed = ok(await platform.request(LifecycleAlertsDocument, { first: 10 }, t.reader)).alerts.nodes;
    expect(Object.fromEntries(listed.map((a) => [a.sourceId, a.evidence]))).toEqual({
      "ev-1": more,
      "ev-2": { host: "web-02" },
    });
    expect(await count("life-evidence", "alert_evidence", "true", [])).toBe(2);
    expect(await count("life-evidence-other", "alert_evidence", "true", [])).toBe(0);
    expect((await platform.request(LifecycleAlertDocument, { id }, other.reader)).data?.alert).toBeNull();
  });

  it("starts an alert pushed with an end time alone at that end when it is past, never after it", async () => {
    const t = await tokens("life-end-only");
    const past = new Date(Date.now() - 3600_000).toISOString();
    const { ids } = await ingest(t.ingestor, [
      { sourceId: "end-only", title: "Seen an hour ago", severity: "LOW", endTime: past },
    ]);
    const [row]: Array<{ start_time: Date; end_time: Date }> = await inTenant(ds, "life-end-only", (m) =>
      m.query(`SELECT start_time, end_time FROM alerts WHERE id = $1`, [ids[0]]),
    );
    expect([row.start_time.toISOString(), row.end_time.toISOString()]).toEqual([past, past]);
  });

  it("filters, orders and pages alerts, with their incident, per tenant", async () => {
    const t = await tokens("life-list");
    const other = await tokens("life-list-b");
    await ingest(other.ingestor, [alertInput("x-1", { severity: "HIGH" })]);
    const severities = ["LOW", "HIGH", "MEDIUM", "HIGH", "INFORMATIONAL"] as const;
    const { ids } = await ingest(
      t.ingestor,
      severities.map((severity, i) =>
        alertInput(`l-${i}`, {
          severity,
          startTime: `2026-11-0${i + 1}T00:00:00Z`,
          endTime: `2026-11-0${i + 1}T01:00:00Z`,
        }),
      ),
    );
    // One alert out of every incident: detach it by hand.
    await inTenant(ds, "life-list", (m) =>
      m.query(`DELETE FROM incident_alerts WHERE alert_id = $1`, [ids[4]]),
    );
    ok(
      await platform.request(
        UpdateAlertsDocument,
        { input: { ids: [ids[1]!], status: "DISMISSED" } },
        t.analyst,
      ),
    );
    const list = async (variables: Record<string, unknown>) =>
      ok(await platform.request(LifecycleAlertsDocument, variables, t.reader)).alerts;
    expect((await list({})).nodes.map((n) => n.sourceId)).toEqual(
      ["l-4", "l-3", "l-2", "l-1", "l-0"].sort().reverse(),
    );
    expect((await list({ filter: { statuses: ["DISMISSED"] } })).nodes.map((n) => n.id)).toEqual([ids[1]]);
    expect((await list({ filter: { minSeverity: "MEDIUM", statuses: ["NEW"] } })).totalCount).toBe(2);
    expect((await list({ filter: { severities: ["LOW", "INFORMATIONAL"] } })).totalCount).toBe(2);
    expect((await list({ filter: { providers: ["WORKLOAD_PROTECTION"] } })).totalCount).toBe(0);
    expect((await list({ filter: { hasIncident: false } })).nodes.map((n) => n.id)).toEqual([ids[4]]);
    expect((await list({ filter: { hasIncident: true } })).totalCount).toBe(4);
    const window = await list({
      filter: { from: "2026-11-02T00:30:00Z", to: "2026-11-04T00:00:00Z" },
      orderBy: { field: "START_TIME", direction: "ASC" },
    });
    expect(window.nodes.map((n) => n.sourceId)).toEqual(["l-1", "l-2"]);
    // Severity, highest first, ties by id descending, over keyset pages of two.
    const seen: string[] = [];
    let after: string | null | undefined;
    let pages = 0;
    do {
      const page = await list({ orderBy: { field: "SEVERITY" }, first: 2, after });
      expect(page.totalCount).toBe(5);
      seen.push(...page.nodes.map((n) => n.severity));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual(["HIGH", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"]);
    // A cursor of another ordering is BAD_USER_INPUT, not an internal error.
    const byTime = await list({ first: 1 });
    expect(
      codes(
        await platform.request(
          LifecycleAlertsDocument,
          { orderBy: { field: "SEVERITY" }, after: byTime.pageInfo.endCursor },
          t.reader,
        ),
      ),
    ).toEqual(["BAD_USER_INPUT"]);
    // The other tenant sees only its own.
    expect(
      ok(await platform.request(LifecycleAlertsDocument, {}, other.reader)).alerts.nodes.map(
        (n) => n.sourceId,
      ),
    ).toEqual(["x-1"]);
    expect(
      ok(await platform.request(LifecycleAlertDocument, { id: ids[0]! }, other.reader)).alert,
    ).toBeNull();
  });

  it("runs ALERT_UPDATED automation rules on alert updates, with the changed fields as a condition", async () => {
    const tenant = "life-auto";
    const t = await tokens(tenant);
    const playbook = ok(
      await platform.request(
        CreatePlaybookDocument,
        {
          input: {
            name: "Close the ticket",
            url: `${receiverUrl}/resolved`,
            secret: "whsec_alert-lifecycle-0123456789",
            bodyTemplate: {
              alert: "{{alert.title}}",
              status: "{{alert.status}}",
              rule: "{{automationRule.name}}",
            },
          },
        },
        t.admin,
      ),
    ).createPlaybook;
    // Alert rules run playbooks only.
    expect(
      problems(
        await platform.request(
          CreateAutomationRuleDocument,
          {
            input: {
              name: "bad",
              order: 1,
              trigger: "ALERT_UPDATED",
              actions: [{ type: "ASSIGN_OWNER", owner: "bob" }],
            },
          },
          t.admin,
        ),
      ),
    ).toEqual([
      "[0].actions.type: ALERT_UPDATED rules can only run playbooks (alerts have no owner, labels or tasks)",
    ]);
    const rule = ok(
      await platform.request(
        CreateAutomationRuleDocument,
        {
          input: {
            name: "on resolve",
            order: 1,
            trigger: "ALERT_UPDATED",
            conditions: [
              { property: "UPDATED_FIELDS", operator: "IN", values: ["STATUS"] },
              { property: "STATUS", operator: "EQUALS", values: ["RESOLVED"] },
            ],
            actions: [{ type: "RUN_PLAYBOOK", playbookId: playbook.id }],
          },
        },
        t.admin,
      ),
    ).createAutomationRule;
    const { ids } = await ingest(t.ingestor, [alertInput("auto-1"), alertInput("auto-2")]);
    // A severity change holds UPDATED_FIELDS IN [STATUS] false; ACTIVE fails STATUS; RESOLVED runs the playbook.
    await ingest(t.ingestor, [alertInput("auto-1", { severity: "HIGH" })]);
    ok(
      await platform.request(
        UpdateAlertsDocument,
        { input: { ids: [ids[1]!], status: "ACTIVE" } },
        t.analyst,
      ),
    );
    ok(
      await platform.request(
        UpdateAlertsDocument,
        { input: { ids: [ids[0]!], status: "RESOLVED" } },
        t.analyst,
      ),
    );
    const [run] = await until(async () => {
      const runs = ok(
        await platform.request(PlaybookRunsDocument, { filter: { playbookId: playbook.id } }, t.reader),
      ).playbookRuns.nodes;
      return runs.length && runs[0].status === "SUCCEEDED" ? runs : null;
    }, "the playbook run");
    expect(run).toMatchObject({ alertId: ids[0] });
    expect(JSON.parse(received.find((r) => r.path === "/resolved")!.body)).toEqual({
      alert: "Alert auto-1",
      status: "RESOLVED",
      rule: "on resolve",
    });
    // The events before it were handled in order, and ran nothing.
    const runs = ok(
      await platform.request(AutomationRunsDocument, { filter: { ruleId: rule.id } }, t.reader),
    ).automationRuns;
    expect(runs.totalCount).toBe(1);
    expect(runs.nodes[0]).toMatchObject({ trigger: "ALERT_UPDATED", status: "SUCCEEDED" });
    expect(
      await count(
        tenant,
        "automation_events e JOIN outbox o ON o.seq = e.event_seq",
        "o.topic = 'alert.updated'",
        [],
      ),
    ).toBe(3);
  });
});
