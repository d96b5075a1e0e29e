import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "pg";
import { normalize, parseNdjson } from "../connectors/normalizers";
import { CONNECTOR_KINDS, EVENT_COLUMNS, type ConnectorKind } from "../events/event.model";
import { parseIsoDuration } from "./durations";
import { compileFilterToPredicate, compileFilterToSql, readEventField, type EventLike } from "./rule-filter";
import { validateRuleSpec, type RuleSpec } from "./rule-spec";
import {
  loadRuleTemplates,
  loadRuleTemplatesFrom,
  RuleTemplateError,
  ruleTemplatesDirectory,
  type RuleTemplate,
} from "./templates";

// ---------------------------------------------------------------------------------------------------------
// In-memory evaluation of a rule over one query period (what the engines do, minus scheduling)
// ---------------------------------------------------------------------------------------------------------

function triggered(trigger: RuleSpec["trigger"], value: number): boolean {
  switch (trigger.operator) {
    case "GT":
      return value > trigger.threshold;
    case "GTE":
      return value >= trigger.threshold;
    case "LT":
      return value < trigger.threshold;
    case "LTE":
      return value <= trigger.threshold;
    case "EQ":
      return value === trigger.threshold;
    case "NE":
      return value !== trigger.threshold;
  }
}

/** The results that fire: the matching events' groups (summarised) or the matching events, when the trigger holds. */
function evaluate(spec: RuleSpec, events: readonly EventLike[]): { fired: boolean; groups: string[] } {
  const matching = events.filter(compileFilterToPredicate(spec.filter));
  if (!spec.summarize) {
    // One result for the run: the whole matching set.
    const fired = triggered(spec.trigger, matching.length);
    return { fired, groups: fired ? ["run"] : [] };
  }
  const { by, aggregate, field } = spec.summarize;
  const groups = new Map<string, { count: number; distinct: Set<string> }>();
  for (const event of matching) {
    const key = JSON.stringify(by.map((name) => readEventField(event, name) ?? null));
    const group = groups.get(key) ?? { count: 0, distinct: new Set<string>() };
    group.count += 1;
    const value = field ? readEventField(event, field) : undefined;
    if (value !== undefined && value !== null) group.distinct.add(JSON.stringify(value));
    groups.set(key, group);
  }
  const firing = [...groups.entries()]
    .filter(([, g]) => triggered(spec.trigger, aggregate === "COUNT" ? g.count : g.distinct.size))
    .map(([key]) => key);
  return { fired: firing.length > 0, groups: firing };
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios: events each template must fire on, and near misses it must not fire on
// ---------------------------------------------------------------------------------------------------------

let clock = Date.parse("2026-03-02T09:00:00Z");

function ev(columns: Partial<Record<(typeof EVENT_COLUMNS)[number], unknown>>, attributes = {}): EventLike {
  clock += 1000;
  return {
    time: new Date(clock).toISOString(),
    severity_id: 1,
    activity_id: 1,
    status: "Success",
    ...columns,
    attributes,
  };
}

const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));

const failedSignIn = (user: string, ip: string) =>
  ev({
    class_uid: 3002,
    status: "Failure",
    actor_user: user,
    src_ip: ip,
    operation: "SignIn",
    connector: "ENTRA_SIGNIN",
  });
const flow = (src: string, dst: string, port: number, action: string) =>
  ev({ class_uid: 4001, src_ip: src, dst_ip: dst, dst_port: port, connector: "SYSLOG_CEF" }, { action });
const sysmonFlow = (src: string, dst: string, port: number, direction: "Inbound" | "Outbound") =>
  ev(
    {
      class_uid: 4001,
      src_ip: src,
      dst_ip: dst,
      dst_port: port,
      connector: "WINDOWS_SYSMON",
      operation: "3",
    },
    { event_id: 3, initiated: direction === "Outbound", connection_info: { direction } },
  );
const cloudTrail = (operation: string, attributes: object = {}, columns: object = {}) =>
  ev(
    {
      class_uid: 6003,
      actor_user: "arn:aws:iam::123456789012:user/mallory",
      src_ip: "198.51.100.23",
      operation,
      connector: "AWS_CLOUDTRAIL",
      ...columns,
    },
    attributes,
  );

const okta = (operation: string, columns: object = {}, attributes: object = {}) =>
  ev(
    {
      class_uid: 3001,
      actor_user: "joni.sherman@contoso.com",
      src_ip: "198.51.100.61",
      operation,
      connector: "OKTA_SYSTEM_LOG",
      ...columns,
    },
    attributes,
  );
const gcp = (operation: string, attributes: object = {}, columns: object = {}) =>
  ev(
    {
      class_uid: 6003,
      actor_user: "lee.gu@contoso.com",
      src_ip: "198.51.100.61",
      operation,
      connector: "GCP_AUDIT",
      ...columns,
    },
    attributes,
  );
const windows = (
  eventId: number,
  classUid: number,
  activityId: number,
  attributes: object = {},
  columns = {},
) =>
  ev(
    {
      class_uid: classUid,
      activity_id: activityId,
      actor_user: "CORP\\svc-sql",
      device: "vm-jump-01.corp.contoso.com",
      operation: String(eventId),
      connector: "WINDOWS_SECURITY",
      ...columns,
    },
    { event_id: eventId, ...attributes },
  );
const groupAdd = (eventId: number, name: string, uid: string, columns = {}) =>
  windows(eventId, 3006, 3, { group: { name, uid } }, columns);

const SCENARIOS: Record<string, { fires: EventLike[]; quiet: EventLike[] }> = {
  "brute-force-sign-ins-by-ip": {
    fires: [
      ...times(4, (i) => failedSignIn(`user${i}@contoso.com`, "198.51.100.9")),
      // Okta and Windows failures from the same address count with the Entra ID ones.
      ...times(3, (i) =>
        okta("user.session.start", {
          class_uid: 3002,
          status: "Failure",
          src_ip: "198.51.100.9",
          actor_user: `u${i}@contoso.com`,
        }),
      ),
      ...times(3, () =>
        windows(
          4625,
          3002,
          1,
          { logon_type: 3 },
          { status: "Failure", src_ip: "198.51.100.9", actor_user: "administrator" },
        ),
      ),
    ],
    quiet: [
      ...times(9, (i) => failedSignIn(`user${i}@contoso.com`, "198.51.100.9")),
      ...times(12, (i) => failedSignIn("bob@contoso.com", `203.0.113.${i}`)),
    ],
  },
  "brute-force-sign-ins-by-user": {
    fires: times(12, (i) => failedSignIn("Bob@Contoso.com", `203.0.113.${i}`)),
    quiet: [
      ...times(9, (i) => failedSignIn("bob@contoso.com", `203.0.113.${i}`)),
      ...times(12, (i) =>
        ev({ class_uid: 3002, status: "Success", actor_user: "bob@contoso.com", src_ip: `203.0.113.${i}` }),
      ),
    ],
  },
  "sign-ins-from-multiple-countries": {
    fires: [
      ev({ class_uid: 3002, actor_user: "alice@contoso.com", src_country: "FR", src_ip: "203.0.113.10" }),
      ev({ class_uid: 3002, actor_user: "alice@contoso.com", src_country: "BR", src_ip: "198.51.100.77" }),
    ],
    quiet: [
      ev({ class_uid: 3002, actor_user: "alice@contoso.com", src_country: "FR" }),
      ev({ class_uid: 3002, actor_user: "alice@contoso.com", src_country: "FR" }),
      ev({ class_uid: 3002, actor_user: "alice@contoso.com", src_country: "BR", status: "Failure" }),
      ev({ class_uid: 3002, actor_user: "bob@contoso.com", src_country: "US" }),
      ev({ class_uid: 3002, actor_user: "alice@contoso.com", src_country: null }),
    ],
  },
  "mfa-disabled": {
    fires: [
      cloudTrail("iam.amazonaws.com:DeactivateMFADevice"),
      ev({ class_uid: 6003, actor_user: "admin@contoso.com", operation: "Disable Strong Authentication." }),
      okta("user.mfa.factor.deactivate", { activity_id: 11 }),
      okta("user.mfa.factor.reset_all", { activity_id: 11 }),
    ],
    quiet: [
      okta("user.mfa.factor.deactivate", { activity_id: 11, status: "Failure" }),
      okta("user.mfa.factor.activate", { activity_id: 10 }),
      cloudTrail("iam.amazonaws.com:DeactivateMFADevice", {}, { status: "Failure" }),
      cloudTrail("iam.amazonaws.com:EnableMFADevice"),
    ],
  },
  "mass-file-download": {
    fires: times(25, (i) =>
      ev(
        { class_uid: 6001, actor_user: "carol@contoso.com", operation: "FileDownloaded" },
        { file: { name: `f${i}.docx` } },
      ),
    ),
    quiet: [
      ...times(24, () =>
        ev({ class_uid: 6001, actor_user: "carol@contoso.com", operation: "FileDownloaded" }),
      ),
      ...times(30, () => ev({ class_uid: 6001, actor_user: "dave@contoso.com", operation: "FileAccessed" })),
    ],
  },
  "port-scan": {
    fires: times(20, (i) => flow("203.0.113.50", "10.0.0.4", 1000 + i, i % 2 ? "Denied" : "Allowed")),
    quiet: [
      ...times(19, (i) => flow("203.0.113.50", "10.0.0.4", 1000 + i, "Denied")),
      ...times(19, (i) => flow("203.0.113.50", "10.0.0.5", 1000 + i, "Denied")),
      ...times(40, () => flow("203.0.113.51", "10.0.0.4", 443, "Allowed")),
    ],
  },
  "internet-rdp-ssh-allowed": {
    fires: [
      flow("198.51.100.23", "10.0.0.4", 3389, "Allowed"),
      flow("2001:db8::66", "fd00::4", 22, "Allowed"),
      // Sysmon's event 3 of a connection the host took: no firewall verdict, but it was accepted.
      sysmonFlow("203.0.113.99", "10.20.30.15", 3389, "Inbound"),
    ],
    quiet: [
      // Sysmon: the host itself connecting out to a public RDP server; another connector's inbound denial.
      sysmonFlow("10.20.14.57", "198.51.100.23", 3389, "Outbound"),
      ev(
        { class_uid: 4001, src_ip: "198.51.100.23", dst_ip: "10.0.0.4", dst_port: 22, connector: "OCSF" },
        { action: "Denied", connection_info: { direction: "Inbound" } },
      ),
      sysmonFlow("10.20.14.57", "10.20.30.15", 3389, "Inbound"),
      flow("10.20.0.8", "10.0.0.4", 3389, "Allowed"),
      flow("172.20.1.1", "10.0.0.4", 22, "Allowed"),
      flow("fd00::9", "fd00::4", 22, "Allowed"),
      flow("198.51.100.23", "10.0.0.4", 3389, "Denied"),
      flow("198.51.100.23", "10.0.0.4", 443, "Allowed"),
    ],
  },
  "privileged-role-assignment": {
    fires: [
      ev({
        class_uid: 6003,
        operation: "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
        actor_user: "eve@contoso.com",
      }),
      cloudTrail("iam.amazonaws.com:AttachUserPolicy", {
        request_parameters: { userName: "mallory", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
      }),
      okta("user.account.privilege.grant", { class_uid: 3005 }),
      gcp("SetIamPolicy", { added_roles: "roles/viewer roles/owner" }),
      groupAdd(4732, "Administrators", "S-1-5-32-544"),
      groupAdd(4728, "Domain Admins", "S-1-5-21-3623811015-3361044348-30300820-512"),
      // A localised group name: the well-known SID tells.
      groupAdd(4756, "Organisations-Admins", "S-1-5-21-3623811015-3361044348-30300820-519"),
    ],
    quiet: [
      okta("user.account.privilege.grant", { class_uid: 3005, status: "Failure" }),
      okta("user.account.privilege.revoke", { class_uid: 3005 }),
      gcp("SetIamPolicy", { added_roles: "roles/viewer roles/storage.objectViewer" }),
      gcp("GetIamPolicy", { added_roles: "roles/owner" }),
      groupAdd(4756, "Finance Staff", "S-1-5-21-3623811015-3361044348-30300820-2210"),
      groupAdd(4728, "Domain Users", "S-1-5-21-3623811015-3361044348-30300820-513"),
      windows(4733, 3006, 4, { group: { name: "Administrators", uid: "S-1-5-32-544" } }),
      ev({ class_uid: 6003, operation: "Microsoft.Authorization/roleAssignments/write", status: "Unknown" }),
      cloudTrail("iam.amazonaws.com:AttachUserPolicy", {
        request_parameters: { userName: "mallory", policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" },
      }),
    ],
  },
  "console-login-without-mfa": {
    fires: [cloudTrail("ConsoleLogin", { mfa: false }, { class_uid: 3002 })],
    quiet: [
      cloudTrail("ConsoleLogin", { mfa: true }, { class_uid: 3002 }),
      cloudTrail("ConsoleLogin", {}, { class_uid: 3002 }),
      cloudTrail("ConsoleLogin", { mfa: false }, { class_uid: 3002, status: "Failure" }),
    ],
  },
  "root-account-use": {
    fires: [cloudTrail("ec2.amazonaws.com:RunInstances", { root: true })],
    quiet: [
      cloudTrail("ec2.amazonaws.com:RunInstances", { root: false }),
      cloudTrail("s3.amazonaws.com:GetObject"),
    ],
  },
  "logging-disabled": {
    fires: [
      cloudTrail("cloudtrail.amazonaws.com:StopLogging"),
      ev({
        class_uid: 6003,
        operation: "Microsoft.Insights/diagnosticSettings/delete",
        actor_user: "eve@contoso.com",
      }),
      gcp("google.logging.v2.ConfigServiceV2.DeleteSink"),
      windows(1102, 1008, 1),
    ],
    quiet: [
      cloudTrail("cloudtrail.amazonaws.com:StartLogging"),
      cloudTrail("cloudtrail.amazonaws.com:StopLogging", {}, { status: "Failure" }),
      gcp("google.logging.v2.ConfigServiceV2.DeleteSink", {}, { status: "Failure" }),
      gcp("google.logging.v2.ConfigServiceV2.CreateSink"),
      windows(4688, 1007, 1, { process: { cmd_line: "wevtutil.exe qe Security" } }),
      windows(1102, 1008, 3),
    ],
  },
  "firewall-deny-spike": {
    fires: times(40, (i) => flow(`203.0.113.${i % 5}`, "10.0.0.4", 445, "Denied")),
    quiet: [
      ...times(39, () => flow("203.0.113.1", "10.0.0.4", 445, "Denied")),
      ...times(40, () => flow("203.0.113.1", "10.0.0.4", 443, "Allowed")),
    ],
  },
  "threat-intelligence-match": {
    fires: [flow("198.51.100.23", "10.0.0.4", 443, "Allowed")],
    quiet: [],
  },
  "gcp-service-account-key-created": {
    fires: [gcp("google.iam.admin.v1.CreateServiceAccountKey")],
    quiet: [
      gcp("google.iam.admin.v1.CreateServiceAccountKey", {}, { status: "Failure" }),
      gcp("google.iam.admin.v1.DeleteServiceAccountKey"),
      gcp("google.iam.admin.v1.CreateServiceAccount"),
    ],
  },
  "encoded-powershell-command": {
    fires: [
      windows(4688, 1007, 1, {
        process: { cmd_line: "powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA" },
      }),
      ev(
        { class_uid: 1007, device: "ws-042" },
        { process: { cmd_line: "powershell.exe -NoProfile -enc SQBFAFgAIAAoA" } },
      ),
      ev({ class_uid: 1007, device: "ws-042" }, { process: { cmd_line: "PWSH -EncodedCommand SQBFAFgA" } }),
      // Sysmon's process creation (event 1).
      ev(
        { class_uid: 1007, connector: "WINDOWS_SYSMON", operation: "1", device: "WS-7.corp.contoso.com" },
        { process: { cmd_line: "powershell.exe -NoP -NonI -W Hidden -enc SQBFAFgAIAAoAE4A" } },
      ),
    ],
    quiet: [
      ev(
        { class_uid: 1007, device: "ws-042" },
        { process: { cmd_line: "powershell.exe -ExecutionPolicy Bypass -File a.ps1" } },
      ),
      ev({ class_uid: 1007, device: "ws-042" }, { process: { cmd_line: "cmd.exe /c echo -enc" } }),
      ev({ class_uid: 4001 }, { process: { cmd_line: "powershell -enc AAAA" } }),
      // Sysmon's process termination carries no command line.
      ev(
        { class_uid: 1007, activity_id: 2, connector: "WINDOWS_SYSMON" },
        { process: { name: "powershell.exe" } },
      ),
    ],
  },
};

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

describe("built-in rule templates", () => {
  const templates = loadRuleTemplates();

  it("has at least 12 templates, one per file, ids matching file names", () => {
    expect(templates.length).toBeGreaterThanOrEqual(12);
    const files = readdirSync(ruleTemplatesDirectory()).filter((f) => f.endsWith(".yaml"));
    expect(templates.map((t) => `${t.id}.yaml`).sort()).toEqual(files.sort());
    for (const template of templates) {
      expect(template.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(template.version).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("is cached and frozen", () => {
    expect(loadRuleTemplates()).toBe(templates);
    expect(Object.isFrozen(templates[0])).toBe(true);
    expect(Object.isFrozen(templates[0].entityMappings)).toBe(true);
  });

  it.each(loadRuleTemplates().map((t) => [t.id, t] as const))(
    "%s validates and is complete",
    (_, template) => {
      const { id: _id, version: _version, ...spec } = template;
      expect(validateRuleSpec(spec)).toEqual([]);
      expect(template.description.length).toBeGreaterThan(40);
      expect(template.tactics.length).toBeGreaterThan(0);
      expect(template.techniques.length).toBeGreaterThan(0);
      expect(template.entityMappings.length).toBeGreaterThan(0);
      if (template.kind === "NRT") {
        expect(template.summarize).toBeUndefined();
        expect(template.queryFrequency).toBeUndefined();
        expect(template.queryPeriod).toBeUndefined();
      } else {
        expect(template.queryFrequency).toBeDefined();
        expect(template.queryPeriod).toBeDefined();
      }
    },
  );

  it("covers the product's detections with the documented settings", () => {
    const byId = new Map(templates.map((t) => [t.id, t]));
    const get = (id: string): RuleTemplate => {
      const template = byId.get(id);
      if (!template) throw new Error(`missing template ${id}`);
      return template;
    };
    expect(get("brute-force-sign-ins-by-ip")).toMatchObject({
      kind: "SCHEDULED",
      summarize: { by: ["src_ip"], aggregate: "COUNT" },
      trigger: { operator: "GTE", threshold: 10 },
      queryPeriod: "PT10M",
    });
    expect(get("brute-force-sign-ins-by-user").summarize?.by).toEqual(["actor_user"]);
    expect(get("sign-ins-from-multiple-countries")).toMatchObject({
      summarize: { by: ["actor_user"], aggregate: "DISTINCT_COUNT", field: "src_country" },
      trigger: { operator: "GTE", threshold: 2 },
      queryPeriod: "PT1H",
    });
    expect(get("mfa-disabled").kind).toBe("NRT");
    expect(get("mass-file-download")).toMatchObject({
      trigger: { operator: "GTE", threshold: 25 },
      queryPeriod: "PT10M",
    });
    expect(get("port-scan")).toMatchObject({
      summarize: { by: ["src_ip", "dst_ip"], aggregate: "DISTINCT_COUNT", field: "dst_port" },
      trigger: { operator: "GTE", threshold: 20 },
      queryPeriod: "PT5M",
    });
    expect(get("internet-rdp-ssh-allowed").kind).toBe("NRT");
    expect(get("privileged-role-assignment").kind).toBe("NRT");
    expect(get("console-login-without-mfa").filter).toBeDefined();
    expect(get("root-account-use").kind).toBe("NRT");
    expect(get("logging-disabled").kind).toBe("NRT");
    expect(get("gcp-service-account-key-created")).toMatchObject({ kind: "NRT", severity: "MEDIUM" });
    expect(get("firewall-deny-spike")).toMatchObject({
      kind: "SCHEDULED",
      trigger: { operator: "GTE", threshold: 40 },
      queryPeriod: "PT5M",
      alertPerResult: false,
    });
    expect(get("firewall-deny-spike").summarize).toBeUndefined();
    expect(get("threat-intelligence-match")).toMatchObject({
      kind: "NRT",
      threatIntelligence: true,
      filter: { field: "class_uid", op: "exists", value: true },
    });
    expect(templates.filter((t) => t.threatIntelligence)).toHaveLength(1);
  });

  it("has a scenario for every template", () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual(templates.map((t) => t.id).sort());
  });

  it.each(loadRuleTemplates().map((t) => [t.id, t] as const))(
    "%s fires on its scenario and not on near misses (JS)",
    (id, template) => {
      const scenario = SCENARIOS[id];
      expect(evaluate(template, scenario.fires).fired).toBe(true);
      expect(evaluate(template, scenario.quiet).fired).toBe(false);
    },
  );

  describe("in Postgres", () => {
    let client: Client;

    beforeAll(async () => {
      client = new Client({ connectionString: process.env.DATABASE_URL });
      await client.connect();
      await client.query(`CREATE TEMP TABLE template_events (
        id int PRIMARY KEY, tenant_id text, time timestamptz, class_uid int, activity_id int, severity_id int,
        status text, message text, actor_user text, src_ip inet, src_port int, dst_ip inet, dst_port int, device text,
        resource_id text, operation text, src_country text, connector text, attributes jsonb)`);
    });

    afterAll(async () => {
      await client?.end();
    });

    async function load(events: readonly EventLike[]): Promise<void> {
      await client.query("TRUNCATE template_events");
      const columns = EVENT_COLUMNS.join(", ");
      const placeholders = EVENT_COLUMNS.map((_, i) => `$${i + 2}`).join(", ");
      for (const [id, event] of events.entries()) {
        await client.query(
          `INSERT INTO template_events (id, ${columns}, attributes) VALUES ($1, ${placeholders}, $${EVENT_COLUMNS.length + 2})`,
          [id, ...EVENT_COLUMNS.map((c) => event[c] ?? null), JSON.stringify(event.attributes ?? {})],
        );
      }
    }

    /** A field as SQL text: `e.col`, or `e.attributes #>> '{…}'` (the paths are validated identifiers). */
    const fieldSql = (field: string) =>
      field.startsWith("attributes.")
        ? `(e.attributes #>> '{${field
            .slice("attributes.".length)
            .split(".")
            .map((s) => `"${s}"`)
            .join(",")}}')`
        : `e.${field}`;

    /** The rule run the way a scheduled engine would: filter in SQL, summarise with GROUP BY, trigger on the value. */
    async function fires(spec: RuleSpec): Promise<{ fired: boolean; matching: number[] }> {
      const { sql, params } = compileFilterToSql(spec.filter, 1);
      const matching = (
        await client.query<{ id: number }>(
          `SELECT id FROM template_events e WHERE ${sql} ORDER BY id`,
          params,
        )
      ).rows.map((row) => row.id);
      if (!spec.summarize) return { fired: triggered(spec.trigger, matching.length), matching };
      const by = spec.summarize.by.map(fieldSql);
      const value =
        spec.summarize.aggregate === "COUNT"
          ? "count(*)"
          : `count(DISTINCT ${fieldSql(spec.summarize.field ?? "")})`;
      const groups = await client.query<{ value: string }>(
        `SELECT ${value} AS value FROM template_events e WHERE ${sql} ${by.length ? `GROUP BY ${by.join(", ")}` : ""}`,
        params,
      );
      return { fired: groups.rows.some((row) => triggered(spec.trigger, Number(row.value))), matching };
    }

    it.each(loadRuleTemplates().map((t) => [t.id, t] as const))(
      "%s: SQL agrees with JS on its scenario",
      async (id, template) => {
        for (const [events, expected] of [
          [SCENARIOS[id].fires, true],
          [SCENARIOS[id].quiet, false],
        ] as const) {
          await load(events);
          const predicate = compileFilterToPredicate(template.filter);
          const result = await fires(template);
          expect(result.matching).toEqual(events.flatMap((event, i) => (predicate(event) ? [i] : [])));
          expect(result.fired).toBe(expected);
        }
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Over the connector fixtures of test/fixtures/siem (only robust properties are checked)
// ---------------------------------------------------------------------------------------------------------

const FIXTURES = path.join(ruleTemplatesDirectory(), "..", "..", "..", "..", "test", "fixtures", "siem");

/** The fixture records normalised as the ingest does (the connector column is the file's connector kind). */
function fixtureEvents(): EventLike[] {
  const events: EventLike[] = [];
  for (const file of readdirSync(FIXTURES).filter((name) => name.endsWith(".ndjson"))) {
    const kind = file.replace(/\.ndjson$/, "");
    if (!(CONNECTOR_KINDS as readonly string[]).includes(kind)) continue;
    for (const line of parseNdjson(readFileSync(path.join(FIXTURES, file), "utf8"))) {
      if (!("value" in line)) continue;
      const event = normalize(kind as ConnectorKind, line.value);
      if (!("reason" in event)) events.push({ ...event, connector: kind });
    }
  }
  return events;
}

/**
 * The firing results of a rule over a stream of events: NRT fires per matching event; a scheduled rule is run at
 * each matching event's time over the queryPeriod before it (every window a real schedule could see).
 */
function firingOverTime(spec: RuleSpec, events: readonly EventLike[]): string[] {
  const matching = events.filter(compileFilterToPredicate(spec.filter));
  if (spec.kind === "NRT") return matching.map((_, i) => `event ${i}`);
  const period = parseIsoDuration(spec.queryPeriod ?? "");
  if ("error" in period) throw new Error(period.error);
  const at = (event: EventLike) => Date.parse(String(event.time));
  const fired = new Set<string>();
  for (const end of matching.map(at)) {
    const window = matching.filter((event) => at(event) > end - period.ms && at(event) <= end);
    for (const group of evaluate(spec, window).groups) fired.add(spec.summarize ? group : `run at ${end}`);
  }
  return [...fired];
}

describe("templates over the connector fixtures (test/fixtures/siem)", () => {
  const templates = loadRuleTemplates();
  let events: EventLike[] = [];
  let client: Client;

  beforeAll(async () => {
    events = fixtureEvents();
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`CREATE TEMP TABLE fixture_events (
      id int PRIMARY KEY, time timestamptz, class_uid int, activity_id int, severity_id int, status text,
      message text, actor_user text, src_ip inet, src_port int, dst_ip inet, dst_port int, device text,
      resource_id text, operation text, src_country text, connector text, attributes jsonb)`);
    const columns = EVENT_COLUMNS.join(", ");
    const placeholders = EVENT_COLUMNS.map((_, i) => `$${i + 2}`).join(", ");
    for (const [id, event] of events.entries()) {
      await client.query(
        `INSERT INTO fixture_events (id, ${columns}, attributes) VALUES ($1, ${placeholders}, $${EVENT_COLUMNS.length + 2})`,
        [id, ...EVENT_COLUMNS.map((c) => event[c] ?? null), JSON.stringify(event.attributes ?? {})],
      );
    }
  });

  afterAll(async () => {
    await client?.end();
  });

  it("select the same fixture events in SQL as in JS", async () => {
    expect(events.length).toBeGreaterThan(0);
    for (const template of templates) {
      const { sql, params } = compileFilterToSql(template.filter, 1);
      const rows = await client.query<{ id: number }>(
        `SELECT id FROM fixture_events e WHERE ${sql} ORDER BY id`,
        params,
      );
      const predicate = compileFilterToPredicate(template.filter);
      expect({ id: template.id, ids: rows.rows.map((row) => row.id) }).toEqual({
        id: template.id,
        ids: events.flatMap((event, i) => (predicate(event) ? [i] : [])),
      });
    }
  });

  it("detect the attacks seeded in the fixtures with most templates, without firing on everything", () => {
    const firing = new Map(templates.map((t) => [t.id, firingOverTime(t, events)]));
    const detecting = [...firing.entries()].filter(
      ([id, fired]) => id !== "threat-intelligence-match" && fired.length > 0,
    );
    // The fixtures seed brute force, impossible travel, mass download, port scan, deny spike, exposed RDP/SSH,
    // console sign-in without MFA, root use, logging disabled, a role assignment and encoded PowerShell.
    expect(detecting.length).toBeGreaterThanOrEqual(8);
    // NRT detections stay specific: none of them (TI marker aside) matches more than a tenth of the events.
    const nrt = templates.filter((t) => t.kind === "NRT" && !t.threatIntelligence);
    expect(nrt.length).toBeGreaterThan(0);
    for (const template of nrt) {
      expect({
        id: template.id,
        share: (firing.get(template.id)?.length ?? 0) / events.length < 0.1,
      }).toEqual({
        id: template.id,
        share: true,
      });
    }
  });

  it.each([
    [
      "OKTA_SYSTEM_LOG",
      [
        "brute-force-sign-ins-by-ip",
        "mfa-disabled",
        "privileged-role-assignment",
        "sign-ins-from-multiple-countries",
      ],
    ],
    ["GCP_AUDIT", ["gcp-service-account-key-created", "logging-disabled", "privileged-role-assignment"]],
    [
      "WINDOWS_SECURITY",
      [
        "brute-force-sign-ins-by-ip",
        "encoded-powershell-command",
        "logging-disabled",
        "privileged-role-assignment",
      ],
    ],
    ["WINDOWS_SYSMON", ["encoded-powershell-command", "internet-rdp-ssh-allowed"]],
  ])("detect the attacks seeded in the %s fixture on its events alone", (kind, expected) => {
    const own = events.filter((event) => event.connector === kind);
    const detecting = templates
      .filter((t) => !t.threatIntelligence && firingOverTime(t, own).length > 0)
      .map((t) => t.id);
    expect(detecting).toEqual(expected);
  });
});

describe("loadRuleTemplatesFrom", () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(path.join(tmpdir(), "rule-templates-"));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  const good = `id: good-rule
version: "1.0.0"
kind: NRT
displayName: Good
description: A rule.
severity: LOW
filter: { field: class_uid, op: eq, value: 3002 }
`;

  it("loads and normalises valid files", () => {
    writeFileSync(path.join(directory, "good-rule.yaml"), good);
    const [template] = loadRuleTemplatesFrom(directory);
    expect(template).toMatchObject({
      id: "good-rule",
      version: "1.0.0",
      enabled: true,
      alertPerResult: false,
    });
    expect(template.incidentGrouping.lookbackDuration).toBe("PT5H");
  });

  it("throws one error naming every file and path at fault", () => {
    writeFileSync(path.join(directory, "good-rule.yaml"), good);
    writeFileSync(
      path.join(directory, "bad-rule.yaml"),
      good
        .replace("good-rule", "bad-rule")
        .replace('"1.0.0"', "1.0")
        .replace("kind: NRT", "kind: SCHEDULED\nqueryFrequency: PT1H\nqueryPeriod: PT10M")
        .replace("op: eq", "op: equals"),
    );
    writeFileSync(path.join(directory, "renamed.yaml"), good);
    writeFileSync(path.join(directory, "broken.yaml"), "id: [unclosed\n");
    writeFileSync(path.join(directory, "list.yaml"), "- 1\n");
    writeFileSync(path.join(directory, "dupe.yaml"), "id: dupe\nid: dupe\n");
    let error: unknown;
    try {
      loadRuleTemplatesFrom(directory);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RuleTemplateError);
    const problems = (error as RuleTemplateError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bad-rule\.yaml: version: must be a quoted version string/),
        expect.stringMatching(/^bad-rule\.yaml: queryPeriod: must be at least queryFrequency/),
        expect.stringMatching(/^bad-rule\.yaml: filter\.op: must be one of/),
        expect.stringMatching(/^renamed\.yaml: id: must match the file name \(good-rule\.yaml\)/),
        expect.stringMatching(/^renamed\.yaml: id: "good-rule" is already used by good-rule\.yaml/),
        expect.stringMatching(/^broken\.yaml: invalid YAML/),
        expect.stringMatching(/^list\.yaml: must be a YAML mapping/),
        expect.stringMatching(/^dupe\.yaml: invalid YAML: .*unique/i),
      ]),
    );
    expect((error as Error).message).toContain("bad-rule.yaml: queryPeriod:");
  });

  it("rejects a missing or empty directory", () => {
    expect(() => loadRuleTemplatesFrom(path.join(directory, "nope"))).toThrow(RuleTemplateError);
    expect(() => loadRuleTemplatesFrom(directory)).toThrow(/no \*\.yaml template files/);
  });
});
