import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { buildSchema } from "graphql";
import { readFileSync } from "node:fs";
import type { DataSource } from "typeorm";
import {
  AlertPlaybookRunsDocument,
  AutomatedIncidentDocument,
  AutomationRulesDocument,
  AutomationRunsDocument,
  CreateAnalyticsRuleDocument,
  CreateAutomationRuleDocument,
  CreateIncidentDocument,
  CreatePlaybookDocument,
  DeletePlaybookDocument,
  IngestAlertsDocument,
  IncidentAlertPlaybookRunsDocument,
  AddIncidentCommentDocument,
  PlaybookDocument,
  PlaybookRunsDocument,
  PlaybooksDocument,
  RunPlaybookDocument,
  UpdateAutomationRuleDocument,
  UpdateIncidentDocument,
  UpdatePlaybookDocument,
  type AlertEntityInput,
  type CreateAutomationRuleInput,
  type CreatePlaybookInput,
} from "./__generated__/graphql";
import { createLogger, inTenant, Role } from "../subgraphs/common/src";
import { storeAlerts } from "../subgraphs/siem/src/modules/alerts/alert-store";
import { automationTasks } from "../subgraphs/siem/src/modules/automation/automation.tasks";
import {
  handleAutomationEvent,
  type AutomationEvent,
} from "../subgraphs/siem/src/modules/automation/automation-engine";
import { problems } from "./utils/errors";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ingestFixture, ok } from "./utils/seed";

/** One request a webhook receiver got. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const SECRET = "whsec_automation-test-0123456789";
/** The keys of the playbook-secret key ring, as PLAYBOOK_SECRET_KEYS gives them. */
const KEYS = {
  "2026-01": { id: "2026-01", key: randomBytes(32) },
  "2026-07": { id: "2026-07", key: randomBytes(32) },
  "2026-12": { id: "2026-12", key: randomBytes(32) },
};

/** Polls an async `check` every 100 ms until it returns a value, or fails naming `what`. */
async function until<T>(
  check: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a request carries a valid `X-Rampart-Signature` for its body (as docs/api.md tells receivers). */
function signedWith(request: Received, secret: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers["x-rampart-signature"]));
  if (!match) return false;
  return createHmac("sha256", secret).update(`${match[1]}.${request.body}`).digest("hex") === match[2];
}

/**
 * Automation (SOAR) through the gateway with durable jobs running: automation rules on incidents and alerts, their
 * order, scope, expiry and loop guard, playbook webhooks on a real local receiver (signature, idempotency key,
 * retries), tenant isolation and bad input. Each test works in a tenant of its own, so one test's rules never act
 * on another's incidents.
 */
describe("automation: rules and playbooks", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  const log = createLogger("test", "silent");
  let sourceSeq = 0;

  const tokens = async (tenant: string) => ({
    admin: await platform.token([Role.ADMIN], tenant, `admin@${tenant}`),
    analyst: await platform.token([Role.ANALYST], tenant, `analyst@${tenant}`),
    responder: await platform.token([Role.RESPONDER], tenant, `responder@${tenant}`),
    reader: await platform.token([Role.READER], tenant, `reader@${tenant}`),
    ingestor: await platform.token([Role.INGESTOR], tenant, `ingestor@${tenant}`),
  });

  const createRule = async (input: CreateAutomationRuleInput, token: string) =>
    ok(await platform.request(CreateAutomationRuleDocument, { input }, token)).createAutomationRule;
  const createPlaybook = async (input: Omit<CreatePlaybookInput, "secret">, token: string) =>
    ok(await platform.request(CreatePlaybookDocument, { input: { secret: SECRET, ...input } }, token))
      .createPlaybook;
  const incident = async (id: string, token: string) =>
    ok(await platform.request(AutomatedIncidentDocument, { id }, token)).incident!;
  const runsOf = async (filter: { ruleId?: string; incidentId?: string }, token: string) =>
    ok(await platform.request(AutomationRunsDocument, { filter, first: 100 }, token)).automationRuns;
  const playbookRuns = async (
    filter: { playbookId?: string; incidentId?: string; statuses?: Array<"SUCCEEDED" | "FAILED"> },
    token: string,
    first = 100,
  ) => ok(await platform.request(PlaybookRunsDocument, { filter, first }, token)).playbookRuns;

  /** Raises an external alert on a new entity (so it opens an incident of its own); returns alert and incident. */
  async function raise(
    token: string,
    tenant: string,
    alert: {
      title: string;
      severity?: "LOW" | "MEDIUM" | "HIGH";
      tactics?: string[];
      entities?: AlertEntityInput[];
    },
  ): Promise<{ alertId: string; incidentId: string }> {
    const sourceId = `automation-${++sourceSeq}`;
    const res = ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            {
              sourceId,
              title: alert.title,
              severity: alert.severity ?? "LOW",
              tactics: alert.tactics ?? [],
              entities: [{ type: "HOST", value: `host-${sourceId}` }, ...(alert.entities ?? [])],
            },
          ],
        },
        token,
      ),
    ).ingestAlerts;
    const alertId = res.ids[0]!;
    const [{ incident_id }] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT incident_id FROM incident_alerts WHERE tenant_id = $1 AND alert_id = $2`, [
        tenant,
        alertId,
      ]),
    );
    return { alertId, incidentId: incident_id as string };
  }

  beforeAll(async () => {
    // Jobs on: the automation consumer's jobs and the playbook attempts run as in production.
    platform = await startTestPlatform({
      JOBS_ENABLED: "true",
      PLAYBOOK_SECRET_KEYS: `2026-01:${KEYS["2026-01"].key.toString("base64")}`,
    });
    ds = await platform.connect("siem");
    const failedOnce = new Set<string>();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const request = {
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        received.push(request);
        const key = String(req.headers["idempotency-key"]);
        let status = 200;
        if (request.path === "/flaky" && !failedOnce.has(key)) {
          failedOnce.add(key);
          status = 500;
        } else if (request.path === "/reject") status = 400;
        res
          .writeHead(status, { "content-type": "application/json" })
          .end(JSON.stringify({ ok: status === 200 }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await platform?.stop();
  });

  it("creates one playbook of a name when several creates of it arrive at once; the others are refused", async () => {
    // The race sweep found the losers failing on the unique key as INTERNAL_SERVER_ERROR.
    const t = await tokens("tenant-playbook-race");
    const input = { name: "Concurrent playbook", url: receiverUrl, secret: SECRET };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => platform.request(CreatePlaybookDocument, { input }, t.admin)),
    );
    expect(answers.map((a) => a.errors?.[0]?.extensions?.code ?? "ok").sort()).toEqual([
      ...Array.from({ length: 5 }, () => "BAD_USER_INPUT"),
      "ok",
    ]);
  });

  it("journey 4: logs raise an incident; an automation rule assigns and labels it and a signed webhook opens a ticket", async () => {
    const tenant = "auto-journey";
    const t = await tokens(tenant);
    const rdp = ok(
      await platform.request(
        CreateAnalyticsRuleDocument,
        { templateId: "internet-rdp-ssh-allowed" },
        t.admin,
      ),
    ).createAnalyticsRule;
    const root = ok(
      await platform.request(CreateAnalyticsRuleDocument, { templateId: "root-account-use" }, t.admin),
    ).createAnalyticsRule;
    const playbook = await createPlaybook(
      {
        name: "Open a ticket",
        url: `${receiverUrl}/tickets`,
        bodyTemplate: {
          summary: "Incident #{{incident.number}}: {{incident.title}}",
          incidentId: "{{incident.id}}",
          number: "{{incident.number}}",
          owner: "{{incident.owner}}",
          labels: "{{incident.labels}}",
          tactics: "{{incident.tactics}}",
          rule: "{{automationRule.name}}",
        },
      },
      t.admin,
    );
    expect(playbook).toMatchObject({ url: `${receiverUrl}/tickets`, maxAttempts: 5, retryInterval: "PT10S" });
    // Readers see the playbook but not its URL (webhook URLs often carry credentials).
    expect(
      ok(await platform.request(PlaybookDocument, { id: playbook.id }, t.reader)).playbook?.url,
    ).toBeNull();
    const rule = await createRule(
      {
        name: "Triage internet RDP/SSH",
        order: 10,
        trigger: "INCIDENT_CREATED",
        analyticsRuleIds: [rdp.id],
        conditions: [{ property: "TACTICS", operator: "CONTAINS", values: ["initialaccess"] }],
        actions: [
          { type: "ASSIGN_OWNER", owner: "soc-tier1@contoso.example" },
          { type: "ADD_LABELS", labels: ["exposed-management-port", 'quoted "label" \\ too'] },
          { type: "RUN_PLAYBOOK", playbookId: playbook.id },
        ],
      },
      t.admin,
    );
    expect(rule.actions.map((a) => a.type)).toEqual(["ASSIGN_OWNER", "ADD_LABELS", "RUN_PLAYBOOK"]);
    expect(rule.actions[2].playbook?.name).toBe("Open a ticket");

    for (const kind of ["ENTRA_SIGNIN", "SYSLOG_CEF", "AWS_CLOUDTRAIL"])
      expect((await ingestFixture(platform, t.ingestor, kind)).status).toBe(200);
    const byRule = (ruleId: string) =>
      inTenant(ds, tenant, async (m) =>
        (
          await m.query(`SELECT id FROM incidents WHERE tenant_id = $1 AND rule_id = $2`, [tenant, ruleId])
        ).map((r: { id: string }) => r.id),
      ) as Promise<string[]>;
    const exposures = await byRule(rdp.id);
    const roots = await byRule(root.id);
    expect(exposures.length).toBeGreaterThan(0);
    expect(roots.length).toBeGreaterThan(0);

    const tickets = () => received.filter((r) => r.path === "/tickets");
    await until(async () => tickets().length >= exposures.length, "a ticket per exposure incident");
    for (const id of exposures) {
      const detail = await until(async () => {
        const i = await incident(id, t.analyst);
        return i.owner && i.labels.length ? i : null;
      }, "the incident assigned and labelled");
      expect(detail.owner).toBe("soc-tier1@contoso.example");
      expect(detail.labels).toEqual(["exposed-management-port", 'quoted "label" \\ too']);
      // Written through the incident workflow as the rule: activity log entries naming it.
      const byAutomation = detail.activity.filter(
        (a) => a.actor === 'automation rule "Triage internet RDP/SSH"',
      );
      const [run] = (await playbookRuns({ incidentId: id }, t.reader)).nodes;
      expect(byAutomation.map((a) => [a.action, JSON.parse(a.changes)])).toEqual([
        ["updated", { owner: [null, "soc-tier1@contoso.example"] }],
        ["updated", { labels: [[], ["exposed-management-port", 'quoted "label" \\ too']] }],
        [
          "playbook_run",
          { playbookId: playbook.id, playbook: "Open a ticket", runId: run.id, status: "QUEUED" },
        ],
      ]);

      await until(
        async () => (await playbookRuns({ incidentId: id }, t.reader)).nodes[0]?.status === "SUCCEEDED",
        "the run to succeed",
      );
      const done = (await playbookRuns({ incidentId: id }, t.reader)).nodes[0];
      expect(done).toMatchObject({
        id: run.id,
        playbookId: playbook.id,
        automationRuleId: rule.id,
        triggeredBy: 'automation rule "Triage internet RDP/SSH"',
        attempts: 1,
        lastResponseCode: 200,
        error: null,
        idempotencyKey: run.id,
      });
      // The webhook saw the incident after the rule's earlier actions, in valid JSON, signed, with the run's key.
      const ticket = tickets().find((r) => (JSON.parse(r.body) as { incidentId: string }).incidentId === id)!;
      expect(signedWith(ticket, SECRET)).toBe(true);
      expect(signedWith(ticket, "another secret entirely")).toBe(false);
      expect(ticket.headers["idempotency-key"]).toBe(run.id);
      expect(ticket.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(ticket.body)).toEqual({
        summary: `Incident #${detail.number}: ${detail.title}`,
        incidentId: id,
        number: detail.number,
        owner: "soc-tier1@contoso.example",
        labels: ["exposed-management-port", 'quoted "label" \\ too'],
        tactics: expect.arrayContaining(["InitialAccess"]),
        rule: "Triage internet RDP/SSH",
      });
    }
    // Out of the rule's analytics-rule scope: untouched.
    for (const id of roots) expect(await incident(id, t.analyst)).toMatchObject({ owner: null, labels: [] });
    const runs = await runsOf({ ruleId: rule.id }, t.reader);
    expect(runs.totalCount).toBe(exposures.length);
    expect(
      runs.nodes.every((r) => r.status === "SUCCEEDED" && r.actions.every((a) => a.result === "APPLIED")),
    ).toBe(true);
  });

  it("retries a receiver that answers 500 with the same idempotency key and body, and records both attempts", async () => {
    const tenant = "auto-retry";
    const t = await tokens(tenant);
    const title = 'Wire transfer to "ACME \\ Ltd"\nflagged';
    const created = ok(
      await platform.request(
        CreateIncidentDocument,
        { input: { title, description: "by hand", severity: "HIGH", alertIds: [] } },
        t.analyst,
      ),
    ).createIncident;
    const flaky = await createPlaybook(
      {
        name: "Flaky ticketing",
        url: `${receiverUrl}/flaky`,
        retryInterval: "PT1S",
        maxAttempts: 3,
        bodyTemplate: {
          title: "{{incident.title}}",
          text: "Please look at {{incident.title}} ({{run.triggeredBy}})",
        },
      },
      t.admin,
    );
    const queued = ok(
      await platform.request(
        RunPlaybookDocument,
        { input: { playbookId: flaky.id, incidentId: created.id } },
        t.responder,
      ),
    ).runPlaybook;
    expect(queued).toMatchObject({
      status: "QUEUED",
      attempts: 0,
      maxAttempts: 3,
      triggeredBy: `responder@${tenant}`,
    });
    const run = await until(async () => {
      const [r] = (await playbookRuns({ playbookId: flaky.id }, t.reader)).nodes;
      return r?.status === "SUCCEEDED" ? r : null;
    }, "the run to succeed on its second attempt");
    expect(run).toMatchObject({
      id: queued.id,
      attempts: 2,
      lastResponseCode: 200,
      error: null,
      nextAttemptAt: null,
    });
    expect(run.attemptHistory.map((a) => [a.number, a.responseCode, a.error])).toEqual([
      [1, 500, "HTTP 500"],
      [2, 200, null],
    ]);
    const calls = received.filter((r) => r.path === "/flaky" && r.headers["idempotency-key"] === queued.id);
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.headers["x-rampart-attempt"])).toEqual(["1", "2"]);
    expect(calls[1].body).toBe(calls[0].body);
    for (const call of calls) expect(signedWith(call, SECRET)).toBe(true);
    expect(JSON.parse(calls[0].body)).toEqual({
      title,
      text: `Please look at ${title} (responder@${tenant})`,
    });

    // A 4xx other than 408/429 is final: one attempt, FAILED.
    const rejecting = await createPlaybook({ name: "Rejecting", url: `${receiverUrl}/reject` }, t.admin);
    ok(
      await platform.request(
        RunPlaybookDocument,
        { input: { playbookId: rejecting.id, incidentId: created.id } },
        t.responder,
      ),
    );
    const failed = await until(async () => {
      const [r] = (await playbookRuns({ playbookId: rejecting.id }, t.reader)).nodes;
      return r?.status === "FAILED" ? r : null;
    }, "the rejected run to fail");
    expect(failed).toMatchObject({
      attempts: 1,
      lastResponseCode: 400,
      error: "HTTP 400",
      nextAttemptAt: null,
    });
    // The default body: the incident in brief, valid JSON whatever its title holds.
    const call = received.find((r) => r.path === "/reject")!;
    expect(JSON.parse(call.body)).toMatchObject({ source: "rampart", incident: { id: created.id, title } });

    // A disabled playbook does not run.
    ok(
      await platform.request(
        UpdatePlaybookDocument,
        { input: { id: rejecting.id, enabled: false } },
        t.admin,
      ),
    );
    const refused = await platform.request(
      RunPlaybookDocument,
      { input: { playbookId: rejecting.id, incidentId: created.id } },
      t.responder,
    );
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(["CONFLICT"]);

    // The incident's run history, newest first, by status, one page at a time; a filter id must be a UUID.
    const history = await playbookRuns({ incidentId: created.id }, t.reader);
    expect(history.nodes.map((r) => r.id)).toEqual([failed.id, run.id]);
    expect(history.totalCount).toBe(2);
    const byStatus = await playbookRuns({ incidentId: created.id, statuses: ["FAILED"] }, t.reader);
    expect([byStatus.nodes.map((r) => r.id), byStatus.totalCount]).toEqual([[failed.id], 1]);
    const firstPage = await playbookRuns({ incidentId: created.id }, t.reader, 1);
    expect([firstPage.nodes.map((r) => r.id), firstPage.totalCount]).toEqual([[failed.id], 2]);
    const badId = await platform.request(
      PlaybookRunsDocument,
      { filter: { incidentId: "not-a-uuid" }, first: 10 },
      t.reader,
    );
    expect(problems(badId)).toEqual(["filter.incidentId: must be a UUID"]);
  });

  it("logs a manual playbook run and its outcome in the incident's activity, leaving the incident's etag alone", async () => {
    const tenant = "auto-manual-activity";
    const t = await tokens(tenant);
    const created = ok(
      await platform.request(
        CreateIncidentDocument,
        { input: { title: "Phishing reported", description: "by hand", severity: "MEDIUM", alertIds: [] } },
        t.analyst,
      ),
    ).createIncident;
    const before = await incident(created.id, t.analyst);
    const tickets = await createPlaybook({ name: "Ticket", url: `${receiverUrl}/manual-ticket` }, t.admin);
    const rejecting = await createPlaybook({ name: "Rejected", url: `${receiverUrl}/reject` }, t.admin);
    const run = async (playbookId: string) =>
      ok(
        await platform.request(
          RunPlaybookDocument,
          { input: { playbookId, incidentId: created.id } },
          t.responder,
        ),
      ).runPlaybook;
    const good = await run(tickets.id);
    const bad = await run(rejecting.id);
    const entries = async () =>
      (await incident(created.id, t.analyst)).activity
        .filter((a) => a.action.startsWith("playbook_run"))
        .map((a) => ({ actor: a.actor, action: a.action, changes: JSON.parse(a.changes) as unknown }));
    const logged = await until(async () => {
      const list = await entries();
      return list.length === 4 ? list : null;
    }, "both runs' outcomes in the activity log");
    // The first run may end before the second is queued: the queued entries are in the order of the calls, the
    // outcomes in whichever order the attempts end.
    const queued = logged.filter((e) => e.action === "playbook_run");
    const outcomes = logged.filter((e) => e.action === "playbook_run_ended");
    expect(queued).toEqual([
      {
        actor: `responder@${tenant}`,
        action: "playbook_run",
        changes: { playbookId: tickets.id, playbook: "Ticket", runId: good.id, status: "QUEUED" },
      },
      {
        actor: `responder@${tenant}`,
        action: "playbook_run",
        changes: { playbookId: rejecting.id, playbook: "Rejected", runId: bad.id, status: "QUEUED" },
      },
    ]);
    expect(outcomes).toHaveLength(2);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        {
          actor: "system",
          action: "playbook_run_ended",
          changes: {
            playbookId: tickets.id,
            playbook: "Ticket",
            runId: good.id,
            status: "SUCCEEDED",
            attempts: 1,
            error: null,
          },
        },
        {
          actor: "system",
          action: "playbook_run_ended",
          changes: {
            playbookId: rejecting.id,
            playbook: "Rejected",
            runId: bad.id,
            status: "FAILED",
            attempts: 1,
            error: "HTTP 400",
          },
        },
      ]),
    );
    // The run id in the entry leads to the run's history.
    const [history] = (await playbookRuns({ incidentId: created.id, statuses: ["SUCCEEDED"] }, t.reader))
      .nodes;
    expect(history.id).toBe(good.id);
    // A playbook run changes nothing on the incident: same etag, so an analyst's edit based on it still applies.
    const after = await incident(created.id, t.analyst);
    expect(after.etag).toBe(before.etag);
    ok(
      await platform.request(
        UpdateIncidentDocument,
        { input: { id: created.id, etag: before.etag, owner: "alice@auto-manual-activity" } },
        t.analyst,
      ),
    );
  });

  it("runs rules in ascending order, each seeing the changes of the ones before", async () => {
    const tenant = "auto-order";
    const t = await tokens(tenant);
    // Created out of order: `order` decides, not creation.
    await createRule(
      {
        name: "second",
        order: 20,
        trigger: "INCIDENT_CREATED",
        conditions: [{ property: "LABELS", operator: "EQUALS", values: ["stage-1"] }],
        actions: [{ type: "ADD_LABELS", labels: ["stage-2"] }],
      },
      t.admin,
    );
    await createRule(
      {
        name: "third",
        order: 30,
        trigger: "INCIDENT_CREATED",
        conditions: [
          { property: "SEVERITY", operator: "IN", values: ["high"] },
          { property: "LABELS", operator: "STARTS_WITH", values: ["stage-2"] },
        ],
        actions: [{ type: "ADD_TASK", taskTitle: "Escalate to tier 2" }],
      },
      t.admin,
    );
    await createRule(
      {
        name: "first",
        order: 10,
        trigger: "INCIDENT_CREATED",
        actions: [
          { type: "ADD_LABELS", labels: ["stage-1"] },
          { type: "SET_SEVERITY", severity: "HIGH" },
        ],
      },
      t.admin,
    );
    await createRule(
      {
        name: "too early",
        order: 5,
        trigger: "INCIDENT_CREATED",
        conditions: [{ property: "LABELS", operator: "EQUALS", values: ["stage-2"] }],
        actions: [{ type: "ADD_LABELS", labels: ["too-early"] }],
      },
      t.admin,
    );
    const listed = ok(
      await platform.request(AutomationRulesDocument, { first: 2 }, t.reader),
    ).automationRules;
    expect(listed.nodes.map((r) => r.name)).toEqual(["too early", "first"]);
    const next = ok(
      await platform.request(
        AutomationRulesDocument,
        { first: 10, after: listed.pageInfo.endCursor },
        t.reader,
      ),
    ).automationRules;
    expect(next.nodes.map((r) => r.name)).toEqual(["second", "third"]);

    const { incidentId } = await raise(t.ingestor, tenant, { title: "Suspicious logon", severity: "LOW" });
    await until(async () => (await runsOf({ incidentId }, t.reader)).totalCount === 3, "three rules to run");
    const detail = await incident(incidentId, t.analyst);
    expect(detail.labels).toEqual(["stage-1", "stage-2"]);
    expect(detail.severity).toBe("HIGH");
    expect(detail.tasks).toEqual([{ title: "Escalate to tier 2", createdBy: 'automation rule "third"' }]);
    expect(detail.activity.map((a) => a.actor)).toEqual([
      "system",
      'automation rule "first"',
      'automation rule "first"',
      'automation rule "second"',
      'automation rule "third"',
    ]);
    expect((await runsOf({ incidentId }, t.reader)).nodes.map((r) => r.ruleName).sort()).toEqual([
      "first",
      "second",
      "third",
    ]);
  });

  it("does nothing for a disabled or expired rule, and acts again once re-enabled", async () => {
    const tenant = "auto-off";
    const t = await tokens(tenant);
    const disabled = await createRule(
      {
        name: "disabled",
        order: 1,
        trigger: "INCIDENT_CREATED",
        enabled: false,
        actions: [{ type: "ADD_LABELS", labels: ["disabled-ran"] }],
      },
      t.admin,
    );
    const expiring = await createRule(
      {
        name: "expired",
        order: 2,
        trigger: "INCIDENT_CREATED",
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
        actions: [{ type: "ADD_LABELS", labels: ["expired-ran"] }],
      },
      t.admin,
    );
    await createRule(
      {
        name: "expires next year",
        order: 3,
        trigger: "INCIDENT_CREATED",
        expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
        actions: [{ type: "ADD_LABELS", labels: ["still-valid"] }],
      },
      t.admin,
    );
    const witness = await createRule(
      {
        name: "witness",
        order: 1000,
        trigger: "INCIDENT_CREATED",
        actions: [{ type: "ADD_LABELS", labels: ["witness"] }],
      },
      t.admin,
    );
    // Expiry in the past is refused through the API; the rule expires as time passes (here: moved back by hand).
    const past = await platform.request(
      UpdateAutomationRuleDocument,
      { input: { id: expiring.id, expiresAt: new Date(Date.now() - 60_000).toISOString() } },
      t.admin,
    );
    expect(problems(past)).toEqual(["expiresAt: must be in the future"]);
    await inTenant(ds, tenant, (m) =>
      m.query(`UPDATE automation_rules SET expires_at = now() - interval '1 minute' WHERE id = $1`, [
        expiring.id,
      ]),
    );

    const first = await raise(t.ingestor, tenant, { title: "First" });
    // Rules of one event run in one transaction: once the last one's run shows, the others' would too.
    await until(
      async () => (await runsOf({ ruleId: witness.id }, t.reader)).totalCount === 1,
      "the witness rule",
    );
    expect((await incident(first.incidentId, t.analyst)).labels).toEqual(["still-valid", "witness"]);
    expect((await runsOf({ ruleId: disabled.id }, t.reader)).totalCount).toBe(0);
    expect((await runsOf({ ruleId: expiring.id }, t.reader)).totalCount).toBe(0);

    ok(
      await platform.request(
        UpdateAutomationRuleDocument,
        { input: { id: disabled.id, enabled: true } },
        t.admin,
      ),
    );
    const second = await raise(t.ingestor, tenant, { title: "Second" });
    await until(
      async () => (await runsOf({ ruleId: witness.id }, t.reader)).totalCount === 2,
      "the witness rule again",
    );
    expect((await incident(second.incidentId, t.analyst)).labels).toEqual([
      "disabled-ran",
      "still-valid",
      "witness",
    ]);
  });

  it("never lets automation trigger automation: updated-rules run once per change by people, never on their own", async () => {
    const tenant = "auto-loop";
    const t = await tokens(tenant);
    const onCreate = await createRule(
      {
        name: "assign",
        order: 1,
        trigger: "INCIDENT_CREATED",
        actions: [{ type: "ASSIGN_OWNER", owner: "bot@auto-loop" }],
      },
      t.admin,
    );
    const onUpdate = await createRule(
      {
        name: "on every update",
        order: 1,
        trigger: "INCIDENT_UPDATED",
        actions: [
          { type: "ADD_TASK", taskTitle: "Review the change" },
          { type: "ADD_LABELS", labels: ["touched"] },
        ],
      },
      t.admin,
    );
    const onStatus = await createRule(
      {
        name: "on status",
        order: 2,
        trigger: "INCIDENT_UPDATED",
        conditions: [{ property: "UPDATED_FIELDS", operator: "IN", values: ["STATUS"] }],
        actions: [{ type: "ADD_LABELS", labels: ["status-changed"] }],
      },
      t.admin,
    );
    const { incidentId } = await raise(t.ingestor, tenant, { title: "Loop bait" });
    await until(
      async () => (await runsOf({ ruleId: onCreate.id }, t.reader)).totalCount === 1,
      "the create rule",
    );
    const updates = async () => (await runsOf({ ruleId: onUpdate.id }, t.reader)).totalCount;

    // People's changes, one after the other: each triggers the update rule once.
    const assigned = await incident(incidentId, t.analyst);
    expect(assigned.owner).toBe("bot@auto-loop");
    ok(
      await platform.request(
        UpdateIncidentDocument,
        { input: { id: incidentId, etag: assigned.etag, owner: "alice@auto-loop" } },
        t.analyst,
      ),
    );
    await until(async () => (await updates()) === 1, "the update rule after the owner change");
    ok(await platform.request(AddIncidentCommentDocument, { incidentId, message: "looking" }, t.analyst));
    await until(async () => (await updates()) === 2, "the update rule after the comment");
    const current = await incident(incidentId, t.analyst);
    ok(
      await platform.request(
        UpdateIncidentDocument,
        { input: { id: incidentId, etag: current.etag, status: "ACTIVE" } },
        t.analyst,
      ),
    );
    await until(async () => (await updates()) === 3, "the update rule after the status change");
    // One tenant's events run one at a time in order: every change by automation before the last one by a
    // person was seen (and passed over) by now.
    expect((await runsOf({ ruleId: onStatus.id }, t.reader)).totalCount).toBe(1);
    const detail = await incident(incidentId, t.analyst);
    expect(detail.tasks.map((task) => task.title)).toEqual([
      "Review the change",
      "Review the change",
      "Review the change",
    ]);
    expect(detail.labels).toEqual(["touched", "status-changed"]);
    const [{ n }] = await inTenant(ds, tenant, (m) =>
      m.query(
        `SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1 AND key = $2 AND payload ? 'automationRuleId'`,
        [tenant, incidentId],
      ),
    );
    expect(n).toBeGreaterThanOrEqual(5);
    // A second run of the create rule's job changes nothing: the event is marked handled.
    const [created] = await inTenant(ds, tenant, (m) =>
      m.query(
        `SELECT seq::text AS seq, at FROM outbox WHERE tenant_id = $1 AND key = $2 AND topic = 'incident.created'`,
        [tenant, incidentId],
      ),
    );
    const again: AutomationEvent = {
      tenantId: tenant,
      seq: created.seq,
      topic: "incident.created",
      key: incidentId,
      at: new Date(created.at).toISOString(),
      changedFields: [],
    };
    await handleAutomationEvent(ds, log, again);
    expect((await runsOf({ ruleId: onCreate.id }, t.reader)).totalCount).toBe(1);
    expect((await incident(incidentId, t.analyst)).activity.length).toBe(detail.activity.length);
  });

  it("runs ALERT_CREATED rules on matching alerts only, with the alert in the webhook's body", async () => {
    const tenant = "auto-alert";
    const t = await tokens(tenant);
    const playbook = await createPlaybook(
      {
        name: "Page on-call",
        url: `${receiverUrl}/page`,
        bodyTemplate: {
          alert: "{{alert.title}}",
          severity: "{{alert.severity}}",
          incident: "{{incident.number}}",
        },
      },
      t.admin,
    );
    await createRule(
      {
        name: "page on high alerts",
        order: 1,
        trigger: "ALERT_CREATED",
        conditions: [{ property: "SEVERITY", operator: "EQUALS", values: ["HIGH"] }],
        actions: [{ type: "RUN_PLAYBOOK", playbookId: playbook.id }],
      },
      t.admin,
    );
    await raise(t.ingestor, tenant, { title: "Low noise", severity: "LOW" });
    const high = await raise(t.ingestor, tenant, { title: 'Ransomware "note" dropped', severity: "HIGH" });
    const [run] = await until(async () => {
      const runs = (await playbookRuns({ playbookId: playbook.id }, t.reader)).nodes;
      return runs.length && runs[0].status === "SUCCEEDED" ? runs : null;
    }, "the page");
    // Events of one tenant are handled in order: the low alert's came first and ran nothing.
    expect((await playbookRuns({ playbookId: playbook.id }, t.reader)).totalCount).toBe(1);
    expect(run).toMatchObject({ alertId: high.alertId, incidentId: high.incidentId });
    const page = received.find((r) => r.path === "/page")!;
    const number = (await incident(high.incidentId, t.analyst)).number;
    expect(JSON.parse(page.body)).toEqual({
      alert: 'Ransomware "note" dropped',
      severity: "HIGH",
      incident: number,
    });
  });

  it("logs an ALERT_CREATED rule's playbook run in the activity of the alert's incident, and lists it on the alert", async () => {
    const tenant = "auto-alert-activity";
    const other = "auto-alert-activity-b";
    const t = await tokens(tenant);
    const o = await tokens(other);
    const playbook = await createPlaybook(
      { name: "Notify on-call", url: `${receiverUrl}/alert-activity` },
      t.admin,
    );
    const rule = await createRule(
      {
        name: "notify on every alert",
        order: 1,
        trigger: "ALERT_CREATED",
        actions: [{ type: "RUN_PLAYBOOK", playbookId: playbook.id }],
      },
      t.admin,
    );
    // The other tenant's alert comes first: by the time this tenant's run is done, a rule acting across tenants
    // would have run on it.
    const theirs = await raise(o.ingestor, other, { title: "Beacon elsewhere", severity: "HIGH" });
    const raised = await raise(t.ingestor, tenant, { title: "Beacon to a known C2", severity: "HIGH" });
    const before = await incident(raised.incidentId, t.analyst);
    const alertRuns = async (alertId: string, token: string) =>
      ok(await platform.request(AlertPlaybookRunsDocument, { id: alertId }, token)).alert;
    const [run] = await until(async () => {
      const runs = (await alertRuns(raised.alertId, t.reader))?.playbookRuns.nodes ?? [];
      return runs.length && runs[0].status === "SUCCEEDED" ? runs : null;
    }, "the alert's run");
    // The alert was in its incident when the rule ran (correlation commits with `alert.created`): the run is
    // the incident's too, as the webhook's `incident.*` placeholders describe it.
    expect(run).toMatchObject({
      alertId: raised.alertId,
      incidentId: raised.incidentId,
      automationRuleId: rule.id,
      triggeredBy: 'automation rule "notify on every alert"',
      incident: { number: before.number },
    });
    const entries = async (id: string, token: string) =>
      (await incident(id, token)).activity
        .filter((a) => a.action.startsWith("playbook_run"))
        .map((a) => ({ actor: a.actor, action: a.action, changes: JSON.parse(a.changes) as unknown }));
    const logged = await until(async () => {
      const list = await entries(raised.incidentId, t.analyst);
      return list.length === 2 ? list : null;
    }, "the run and its outcome in the incident's activity");
    expect(logged).toEqual([
      {
        actor: 'automation rule "notify on every alert"',
        action: "playbook_run",
        changes: { playbookId: playbook.id, playbook: "Notify on-call", runId: run.id, status: "QUEUED" },
      },
      {
        actor: "system",
        action: "playbook_run_ended",
        changes: {
          playbookId: playbook.id,
          playbook: "Notify on-call",
          runId: run.id,
          status: "SUCCEEDED",
          attempts: 1,
          error: null,
        },
      },
    ]);
    expect((await playbookRuns({ incidentId: raised.incidentId }, t.reader)).nodes.map((r) => r.id)).toEqual([
      run.id,
    ]);
    // Logging the run changed nothing else on the incident.
    expect((await incident(raised.incidentId, t.analyst)).etag).toBe(before.etag);

    // An incident the alert joins later takes no entries along (the log says what happened to it, and when);
    // the run stays visible on the alert, wherever it is.
    const later = ok(
      await platform.request(
        CreateIncidentDocument,
        {
          input: {
            title: "C2 campaign",
            description: "by hand",
            severity: "HIGH",
            alertIds: [raised.alertId],
          },
        },
        t.analyst,
      ),
    ).createIncident;
    expect(await entries(later.id, t.analyst)).toEqual([]);
    const held = ok(await platform.request(IncidentAlertPlaybookRunsDocument, { id: later.id }, t.reader))
      .incident!.alerts.nodes;
    expect(held.map((a) => ({ id: a.id, runs: a.playbookRuns.nodes.map((r) => r.id) }))).toEqual([
      { id: raised.alertId, runs: [run.id] },
    ]);

    // Another tenant sees neither the alert, its runs nor the incident's entries, and its own alerts run nothing.
    expect(await alertRuns(raised.alertId, o.reader)).toBeNull();
    expect((await playbookRuns({ incidentId: raised.incidentId }, o.reader)).totalCount).toBe(0);
    expect(
      ok(await platform.request(AutomatedIncidentDocument, { id: raised.incidentId }, o.analyst)).incident,
    ).toBeNull();
    expect((await alertRuns(theirs.alertId, o.reader))?.playbookRuns.totalCount).toBe(0);
    expect(await entries(theirs.incidentId, o.analyst)).toEqual([]);
  });

  it("runs rules with entity conditions on incidents and alerts whose entities match, and on no others", async () => {
    const tenant = "auto-entities";
    const t = await tokens(tenant);
    const rule = await createRule(
      {
        name: "outside sign-in by a contoso account",
        order: 10,
        trigger: "INCIDENT_CREATED",
        conditions: [
          {
            property: "ENTITY",
            entityType: "IP",
            operator: "IN_CIDR",
            values: ["198.51.100.0/24", "2001:db8::/32"],
          },
          { property: "ENTITY", entityType: "ACCOUNT", operator: "ENDS_WITH", values: ["@contoso.example"] },
          { property: "ENTITY", entityType: "ACCOUNT", operator: "NOT_STARTS_WITH", values: ["svc-"] },
          { property: "ENTITY", entityType: "IP", operator: "NOT_IN", values: ["::ffff:198.51.100.99"] },
        ],
        actions: [{ type: "ADD_LABELS", labels: ["entity-match"] }],
      },
      t.admin,
    );
    // Stored as compared: the mapped IPv4 address in canonical form.
    expect(rule.conditions[3]).toEqual({
      property: "ENTITY",
      entityType: "IP",
      operator: "NOT_IN",
      values: ["198.51.100.99"],
    });
    const witness = await createRule(
      {
        name: "witness",
        order: 1000,
        trigger: "INCIDENT_CREATED",
        actions: [{ type: "ADD_LABELS", labels: ["seen"] }],
      },
      t.admin,
    );
    const playbook = await createPlaybook({ name: "Isolate host", url: `${receiverUrl}/isolate` }, t.admin);
    const onAlert = await createRule(
      {
        name: "isolate db hosts",
        order: 1,
        trigger: "ALERT_CREATED",
        conditions: [{ property: "ENTITY", entityType: "HOST", operator: "IN", values: ["DB-01", "db-02"] }],
        actions: [{ type: "RUN_PLAYBOOK", playbookId: playbook.id }],
      },
      t.admin,
    );

    const matching = await raise(t.ingestor, tenant, {
      title: "Sign-in from outside",
      entities: [
        { type: "ACCOUNT", value: "Alice@CONTOSO.example" },
        { type: "IP", value: "2001:DB8:0::1" },
        { type: "HOST", value: "db-01" },
      ],
    });
    // Each fails one condition: address out of range, service account, the excluded address, no IP at all.
    // (No entity is shared, so each alert opens an incident of its own.)
    const cases = [
      [
        { type: "ACCOUNT", value: "bob@contoso.example" },
        { type: "IP", value: "203.0.113.5" },
      ],
      [
        { type: "ACCOUNT", value: "svc-backup@contoso.example" },
        { type: "IP", value: "198.51.100.23" },
      ],
      [
        { type: "ACCOUNT", value: "carol@contoso.example" },
        { type: "IP", value: "198.51.100.99" },
      ],
      [{ type: "ACCOUNT", value: "dave@contoso.example" }],
    ] as AlertEntityInput[][];
    const others = [];
    for (const entities of cases) others.push(await raise(t.ingestor, tenant, { title: "Other", entities }));
    await until(
      async () => (await runsOf({ ruleId: witness.id }, t.reader)).totalCount === cases.length + 1,
      "the witness rule on every incident",
    );
    expect((await incident(matching.incidentId, t.analyst)).labels).toEqual(["entity-match", "seen"]);
    for (const other of others)
      expect((await incident(other.incidentId, t.analyst)).labels).toEqual(["seen"]);
    expect((await runsOf({ ruleId: rule.id }, t.reader)).nodes.map((r) => r.incidentId)).toEqual([
      matching.incidentId,
    ]);

    // ALERT_CREATED: the alert's own entities; only the alert on db-01 ran the playbook.
    await until(
      async () =>
        (await playbookRuns({ playbookId: playbook.id }, t.reader)).nodes[0]?.status === "SUCCEEDED",
      "the isolation playbook",
    );
    const alertRuns = await runsOf({ ruleId: onAlert.id }, t.reader);
    expect(alertRuns.totalCount).toBe(1);
    const [run] = (await playbookRuns({ playbookId: playbook.id }, t.reader)).nodes;
    expect(run.alertId).toBe(matching.alertId);
  });

  it("loses no event while the SIEM is down: the consumer resumes from its offset", async () => {
    const tenant = "auto-restart";
    const t = await tokens(tenant);
    const rule = await createRule(
      {
        name: "label",
        order: 1,
        trigger: "INCIDENT_CREATED",
        actions: [{ type: "ADD_LABELS", labels: ["seen"] }],
      },
      t.admin,
    );
    await platform.subgraphs.siem.close();
    // Written as the SIEM's ingest writes it (alert, incident and their events in one transaction) while no
    // SIEM process runs.
    const stored = await inTenant(ds, tenant, (m) =>
      storeAlerts(m, tenant, [
        {
          provider: "EXTERNAL",
          sourceId: "while-down",
          title: "Arrived while the SIEM was down",
          description: "",
          severity: "MEDIUM",
          tactics: [],
          techniques: [],
          entities: [{ type: "HOST", value: "host-while-down" }],
          startTime: new Date(),
          endTime: new Date(),
        },
      ]),
    );
    await platform.restartSubgraph("siem");
    await until(
      async () => (await runsOf({ ruleId: rule.id }, t.reader)).totalCount === 1,
      "the rule after the restart",
    );
    expect((await incident(stored.incidents[0], t.analyst)).labels).toEqual(["seen"]);
  });

  it("keeps tenants apart: a rule acts on its own tenant's incidents and sees nothing of another's", async () => {
    const a = await tokens("auto-iso-a");
    const b = await tokens("auto-iso-b");
    const ruleA = await createRule(
      {
        name: "A labels",
        order: 1,
        trigger: "INCIDENT_CREATED",
        actions: [{ type: "ADD_LABELS", labels: ["tenant-a"] }],
      },
      a.admin,
    );
    const ruleB = await createRule(
      {
        name: "B labels",
        order: 1,
        trigger: "INCIDENT_CREATED",
        actions: [{ type: "ADD_LABELS", labels: ["tenant-b"] }],
      },
      b.admin,
    );
    const playbookA = await createPlaybook({ name: "A's webhook", url: `${receiverUrl}/a` }, a.admin);
    const inA = await raise(a.ingestor, "auto-iso-a", { title: "In A" });
    const inB = await raise(b.ingestor, "auto-iso-b", { title: "In B" });
    await until(async () => (await runsOf({ ruleId: ruleA.id }, a.reader)).totalCount === 1, "A's rule");
    await until(async () => (await runsOf({ ruleId: ruleB.id }, b.reader)).totalCount === 1, "B's rule");
    expect((await incident(inA.incidentId, a.analyst)).labels).toEqual(["tenant-a"]);
    expect((await incident(inB.incidentId, b.analyst)).labels).toEqual(["tenant-b"]);

    // B sees and reaches nothing of A's.
    const listedB = ok(await platform.request(AutomationRulesDocument, {}, b.reader)).automationRules;
    expect(listedB.nodes.map((r) => r.name)).toEqual(["B labels"]);
    expect((await runsOf({ ruleId: ruleA.id }, b.reader)).totalCount).toBe(0);
    expect(ok(await platform.request(PlaybooksDocument, {}, b.reader)).playbooks.totalCount).toBe(0);
    expect(ok(await platform.request(PlaybookDocument, { id: playbookA.id }, b.admin)).playbook).toBeNull();
    const update = await platform.request(
      UpdateAutomationRuleDocument,
      { input: { id: ruleA.id, name: "mine" } },
      b.admin,
    );
    expect(update.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    const borrow = await platform.request(
      CreateAutomationRuleDocument,
      {
        input: {
          name: "borrow",
          order: 1,
          trigger: "INCIDENT_CREATED",
          actions: [{ type: "RUN_PLAYBOOK", playbookId: playbookA.id }],
        },
      },
      b.admin,
    );
    expect(problems(borrow)).toEqual(["[0].actions.playbookId: no such playbook"]);
    const run = await platform.request(
      RunPlaybookDocument,
      { input: { playbookId: playbookA.id, incidentId: inB.incidentId } },
      b.responder,
    );
    expect(run.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    const crossIncident = await platform.request(
      RunPlaybookDocument,
      { input: { playbookId: playbookA.id, incidentId: inB.incidentId } },
      a.responder,
    );
    expect(crossIncident.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    // Row-level security: B's transactions do not see A's rows even without a tenant filter.
    const seen = await inTenant(ds, "auto-iso-b", (m) =>
      m.query(
        `SELECT (SELECT count(*) FROM automation_rules)::int AS rules, (SELECT count(*) FROM playbooks)::int AS playbooks,
                (SELECT count(*) FROM automation_runs)::int AS runs`,
      ),
    );
    expect(seen).toEqual([{ rules: 1, playbooks: 0, runs: 1 }]);
  });

  it("refuses bad input with typed BAD_USER_INPUT naming each fault, and stores nothing", async () => {
    const tenant = "auto-bad";
    const t = await tokens(tenant);
    const rule = (input: Partial<CreateAutomationRuleInput>) =>
      platform.request(
        CreateAutomationRuleDocument,
        {
          input: {
            name: "r",
            order: 1,
            trigger: "INCIDENT_CREATED",
            actions: [{ type: "ADD_LABELS", labels: ["x"] }],
            ...input,
          },
        },
        t.admin,
      );
    const cases: Array<[Partial<CreateAutomationRuleInput>, string[]]> = [
      [
        { name: " ", order: 0 },
        ["name: must be 1 to 256 characters", "order: must be an integer from 1 to 1000"],
      ],
      [{ actions: [] }, ["actions: give 1 to 20 actions"]],
      [
        { conditions: [{ property: "UPDATED_FIELDS", operator: "IN", values: ["OWNER"] }] },
        [
          "[0].conditions.property: UPDATED_FIELDS is not a property of INCIDENT_CREATED (TITLE, DESCRIPTION, SEVERITY, STATUS, OWNER, LABELS, TACTICS, TECHNIQUES, PROVIDER, ANALYTICS_RULE_ID, ENTITY)",
        ],
      ],
      [
        {
          conditions: [
            { property: "SEVERITY", operator: "CONTAINS", values: ["HIGH"] },
            { property: "SEVERITY", operator: "EQUALS", values: ["CRITICAL"] },
            { property: "TITLE", operator: "EQUALS", values: ["a", "b"] },
            { property: "TITLE", operator: "IN", values: [] },
          ],
        },
        [
          "[0].conditions.operator: SEVERITY compares whole values: use EQUALS, NOT_EQUALS, IN, NOT_IN",
          "[1].conditions.values: value 1 (CRITICAL) is not one of INFORMATIONAL, LOW, MEDIUM, HIGH",
          "[2].conditions.values: EQUALS takes exactly one value (IN takes several)",
          "[3].conditions.values: give 1 to 100 values",
        ],
      ],
      [
        {
          conditions: [
            { property: "ENTITY", entityType: "HOST", operator: "IN_CIDR", values: ["10.0.0.0/8"] },
            { property: "TITLE", entityType: "IP", operator: "EQUALS", values: ["x"] },
            {
              property: "ENTITY",
              entityType: "IP",
              operator: "NOT_IN_CIDR",
              values: ["10.0.0.0/33", "10/8"],
            },
            { property: "ENTITY", entityType: "IP", operator: "IN", values: ["198.51.100.7", "web-01"] },
            { property: "ENTITY", operator: "IN_CIDR", values: ["10.0.0.0/8"] },
            { property: "PROVIDER", operator: "ENDS_WITH", values: ["ANALYTICS_RULE"] },
          ],
        },
        [
          "[0].conditions.operator: IN_CIDR tests IP entities only: use property ENTITY with entityType IP",
          "[1].conditions.entityType: only ENTITY conditions name an entity type",
          "[2].conditions.values: value 1 (10.0.0.0/33) is not an IP address or CIDR prefix",
          "[2].conditions.values: value 2 (10/8) is not an IP address or CIDR prefix",
          "[3].conditions.values: value 2 (web-01) is not an IP address",
          "[4].conditions.operator: IN_CIDR tests IP entities only: use property ENTITY with entityType IP",
          "[5].conditions.operator: PROVIDER compares whole values: use EQUALS, NOT_EQUALS, IN, NOT_IN",
        ],
      ],
      [
        {
          actions: [
            { type: "SET_STATUS", status: "CLOSED" },
            { type: "ASSIGN_OWNER", owner: "bob", severity: "HIGH" },
            { type: "SET_STATUS", status: "ACTIVE", classification: "TRUE_POSITIVE" },
            { type: "ADD_TASK" },
          ],
        },
        [
          "[0].actions.classification: required to close",
          "[0].actions.classificationReason: required to close: must be 1 to 4000 characters",
          "[1].actions.severity: not used by ASSIGN_OWNER",
          "[2].actions.classification: only when closing",
          "[3].actions.taskTitle: must be 1 to 500 characters",
        ],
      ],
      [
        { actions: [{ type: "RUN_PLAYBOOK", playbookId: "0190a0a0-0000-7000-8000-000000000000" }] },
        ["[0].actions.playbookId: no such playbook"],
      ],
      [
        { trigger: "ALERT_CREATED", actions: [{ type: "ASSIGN_OWNER", owner: "bob" }] },
        [
          "[0].actions.type: ALERT_CREATED rules can only run playbooks (alerts have no owner, labels or tasks)",
        ],
      ],
      [
        {
          expiresAt: "2020-01-01T00:00:00Z",
          analyticsRuleIds: ["0190a0a0-0000-7000-8000-000000000000", "nope"],
        },
        ["expiresAt: must be in the future", "[1].analyticsRuleIds: must be an analytics rule id"],
      ],
      [
        { analyticsRuleIds: ["0190a0a0-0000-7000-8000-000000000000"] },
        ["[0].analyticsRuleIds: no such analytics rule"],
      ],
    ];
    for (const [input, expected] of cases) expect(problems(await rule(input))).toEqual(expected);

    const playbook = (input: Partial<CreatePlaybookInput>) =>
      platform.request(
        CreatePlaybookDocument,
        { input: { name: "p", url: "https://hooks.example.com/x", secret: SECRET, ...input } },
        t.admin,
      );
    const playbookCases: Array<[Partial<CreatePlaybookInput>, string[]]> = [
      [{ url: "ftp://hooks.example.com" }, ["url: must be an http(s) URL"]],
      [
        { url: "https://user:pw@hooks.example.com" },
        ["url: must not hold credentials (sign with the secret instead)"],
      ],
      [{ secret: "short" }, ["secret: must be 16 to 512 characters"]],
      [
        { bodyTemplate: { a: "{{incident.nope}}" }, maxAttempts: 11, retryInterval: "P1M", timeout: "PT2M" },
        [
          "bodyTemplate: a: unknown placeholder {{incident.nope}} (see docs/api.md)",
          "maxAttempts: must be an integer from 1 to 10",
          'retryInterval: "P1M": years and months are not supported because their length varies; use weeks or days (e.g. P30D)',
          "timeout: must be PT1S to PT1M",
        ],
      ],
    ];
    for (const [input, expected] of playbookCases) expect(problems(await playbook(input))).toEqual(expected);
    const created = ok(await playbook({ name: "Kept" })).createPlaybook;
    expect(problems(await playbook({ name: "Kept" }))).toEqual(["name: another playbook has this name"]);
    const badUpdate = await platform.request(
      UpdatePlaybookDocument,
      { input: { id: created.id, url: "gopher://x", secret: "short" } },
      t.admin,
    );
    expect(problems(badUpdate)).toEqual([
      "url: must be an http(s) URL",
      "secret: must be 16 to 512 characters",
    ]);
    expect(ok(await platform.request(PlaybookDocument, { id: created.id }, t.admin)).playbook?.url).toBe(
      "https://hooks.example.com/x",
    );

    // Nothing stored but the one good playbook; its secret is nowhere to be read back.
    expect(ok(await platform.request(AutomationRulesDocument, {}, t.reader)).automationRules.totalCount).toBe(
      0,
    );
    expect(ok(await platform.request(PlaybooksDocument, {}, t.reader)).playbooks.totalCount).toBe(1);
    const api = buildSchema(readFileSync(`${__dirname}/../gateway/schema.graphql`, "utf8"));
    const playbookType = api.getType("Playbook") as unknown as { getFields(): Record<string, unknown> };
    expect(Object.keys(playbookType.getFields()).filter((f) => /secret/i.test(f))).toEqual([
      "secretSetAt",
      "secretStatus",
      "secretKeyId",
    ]);
    const rows = await inTenant(ds, tenant, (m) =>
      m.query(
        `SELECT to_jsonb(p)::text AS playbook, to_jsonb(s)::text AS secret FROM playbooks p JOIN playbook_secrets s ON s.playbook_id = p.id`,
      ),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].playbook).not.toContain(SECRET);
    expect(rows[0].secret).not.toContain(SECRET);

    // A playbook an automation rule runs cannot be deleted from under it.
    const user = ok(
      await rule({ actions: [{ type: "RUN_PLAYBOOK", playbookId: created.id }], name: "uses it" }),
    ).createAutomationRule;
    const deleting = await platform.request(DeletePlaybookDocument, { id: created.id }, t.admin);
    expect(deleting.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      ["CONFLICT", 'Playbook "Kept" is run by automation rules "uses it": remove it from them first.'],
    ]);
    const cleared = await platform.request(
      UpdateAutomationRuleDocument,
      { input: { id: user.id, actions: [{ type: "ADD_TASK", taskTitle: "t" }] } },
      t.admin,
    );
    expect(cleared.errors).toBeUndefined();
    expect(
      ok(await platform.request(DeletePlaybookDocument, { id: created.id }, t.admin)).deletePlaybook.name,
    ).toBe("Kept");
  });

  it("rotates the key of stored playbook secrets: they are re-encrypted with the new key, and one whose key is gone fails its runs clearly", async () => {
    const tenant = "auto-rotate";
    const t = await tokens(tenant);
    const secrets = () =>
      inTenant(
        ds,
        tenant,
        (m) =>
          m.query(
            `SELECT p.name, s.key_id, s.sealed, s.set_at FROM playbook_secrets s JOIN playbooks p ON p.id = s.playbook_id
              WHERE s.tenant_id = $1 ORDER BY p.name`,
            [tenant],
          ) as Promise<Array<{ name: string; key_id: string; sealed: string; set_at: Date }>>,
      );
    const { id: incidentId } = ok(
      await platform.request(
        CreateIncidentDocument,
        { input: { title: "Rotation drill", description: "", severity: "LOW", alertIds: [] } },
        t.analyst,
      ),
    ).createIncident;
    const runNow = async (playbookId: string) =>
      ok(await platform.request(RunPlaybookDocument, { input: { playbookId, incidentId } }, t.responder))
        .runPlaybook;
    const ended = (runId: string) =>
      until(async () => {
        const [run] = (await playbookRuns({ incidentId }, t.reader)).nodes.filter((r) => r.id === runId);
        return run && ["SUCCEEDED", "FAILED"].includes(run.status) ? run : null;
      }, "the run to end");
    const playbook = await createPlaybook({ name: "Rotated", url: `${receiverUrl}/rotated` }, t.admin);
    expect(playbook).toMatchObject({ secretStatus: "CURRENT", secretKeyId: "2026-01" });
    const [before] = await secrets();
    expect(before.key_id).toBe("2026-01");

    // Rotation: a new key first, the old one kept behind it; the SIEM restarts with the new ring, and its
    // re-encryption job moves the secret to the new key.
    platform.config.playbookSecretKeys = [KEYS["2026-07"], KEYS["2026-01"]];
    await platform.restartSubgraph("siem");
    const [after] = await until(async () => {
      const rows = await secrets();
      return rows[0].key_id === "2026-07" ? rows : null;
    }, "the secret re-encrypted with the new key");
    expect(after.sealed).not.toBe(before.sealed);
    expect(after.set_at).toEqual(before.set_at);
    expect(ok(await platform.request(PlaybookDocument, { id: playbook.id }, t.admin)).playbook).toMatchObject(
      {
        secretStatus: "CURRENT",
        secretKeyId: "2026-07",
      },
    );
    // Still the same secret: the webhook is signed with it.
    const good = await ended((await runNow(playbook.id)).id);
    expect(good.status).toBe("SUCCEEDED");
    const call = received.find((r) => r.path === "/rotated" && r.headers["idempotency-key"] === good.id)!;
    expect(signedWith(call, SECRET)).toBe(true);

    // A key dropped before its secrets moved on: the secret is gone, which admins see and runs say.
    platform.config.playbookSecretKeys = [KEYS["2026-12"]];
    await platform.restartSubgraph("siem");
    expect(ok(await platform.request(PlaybookDocument, { id: playbook.id }, t.admin)).playbook).toMatchObject(
      {
        secretStatus: "KEY_MISSING",
        secretKeyId: "2026-07",
      },
    );
    const lost = await ended((await runNow(playbook.id)).id);
    const error =
      'the signing secret is encrypted with key "2026-07", which is no longer in PLAYBOOK_SECRET_KEYS: an admin must set the playbook\'s secret again';
    expect(lost).toMatchObject({ status: "FAILED", attempts: 0, error });
    const activity = (await incident(incidentId, t.analyst)).activity.filter(
      (a) => a.action === "playbook_run_ended",
    );
    expect(JSON.parse(activity[activity.length - 1].changes)).toMatchObject({ runId: lost.id, error });
    expect(received.some((r) => r.headers["idempotency-key"] === lost.id)).toBe(false);

    // Setting the secret again seals it with the current key; runs work again.
    const reset = ok(
      await platform.request(UpdatePlaybookDocument, { input: { id: playbook.id, secret: SECRET } }, t.admin),
    ).updatePlaybook;
    expect(reset).toMatchObject({ secretStatus: "CURRENT", secretKeyId: "2026-12" });
    expect((await ended((await runNow(playbook.id)).id)).status).toBe("SUCCEEDED");
  });

  it("forgets handled-event marks once their events cannot come again, and keeps recent ones", async () => {
    const tenant = "auto-prune";
    await inTenant(ds, tenant, (m) =>
      m.query(
        `INSERT INTO automation_events (tenant_id, event_seq, handled_at)
         VALUES ($1, 900000001, now() - interval '30 days'), ($1, 900000002, now())`,
        [tenant],
      ),
    );
    await (automationTasks(ds, log, platform.config).automation_prune as () => Promise<void>)();
    const kept = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT event_seq::text AS seq FROM automation_events WHERE tenant_id = $1`, [tenant]),
    );
    expect(kept).toEqual([{ seq: "900000002" }]);
  });

  it("answers unknown ids with null or NOT_FOUND", async () => {
    const t = await tokens("auto-ids");
    const unknown = "0190a0a0-0000-7000-8000-0000000000ff";
    expect(ok(await platform.request(PlaybookDocument, { id: unknown }, t.reader)).playbook).toBeNull();
    const res: GqlResponse<unknown> = await platform.request(
      UpdateAutomationRuleDocument,
      { input: { id: unknown, enabled: false } },
      t.admin,
    );
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
  });
});
