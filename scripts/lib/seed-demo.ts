import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Role, type Config, type Logger } from "../../subgraphs/common/src";
import { signDevToken } from "../../gateway/src/auth";
import { DEMO_ACCOUNTS, demoAlerts, demoResources } from "./demo-estate";

/** Posts one operation to the gateway and returns `data`, throwing on any error. */
async function call<T>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`seed failed: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/**
 * Seeds the demo tenant through the public API (so the demo exercises what integrators use),
 * unless it already has accounts: three accounts (Azure, AWS, GCP), a realistic estate, plans and
 * some alerts grouped into an incident.
 */
export async function seedDemoIfEmpty(config: Config, gatewayUrl: string, log: Logger): Promise<void> {
  const token = await signDevToken(
    config.jwt.secret!,
    {
      subject: "demo-seeder@rampart.local",
      tenantId: config.demoTenantId,
      roles: [Role.ADMIN, Role.INGESTOR],
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ttlSeconds: 300,
    },
    config.jwt,
  );
  const existing = await call<{ accounts: { totalCount: number } }>(
    gatewayUrl,
    token,
    "{ accounts(first: 1) { totalCount } }",
  );
  if (existing.accounts.totalCount > 0) {
    log.info({ tenant: config.demoTenantId }, "demo tenant already has data; not seeding");
    return;
  }
  const { upsertCloudAccounts } = await call<{
    upsertCloudAccounts: Array<{ id: string; externalId: string }>;
  }>(
    gatewayUrl,
    token,
    "mutation($input: [CloudAccountInput!]!) { upsertCloudAccounts(input: $input) { id externalId } }",
    { input: DEMO_ACCOUNTS.map(({ provider, externalId, name }) => ({ provider, externalId, name })) },
  );
  const accountId = Object.fromEntries(DEMO_ACCOUNTS.map((a, i) => [a.key, upsertCloudAccounts[i].id]));
  const resources = demoResources();
  const { upsertResources } = await call<{ upsertResources: { ids: string[]; createdCount: number } }>(
    gatewayUrl,
    token,
    "mutation($input: [ResourceInput!]!) { upsertResources(input: $input) { ids createdCount } }",
    {
      input: resources.map(({ accountKey, ...r }) => ({ ...r, accountId: accountId[accountKey] })),
    },
  );
  const resourceId = new Map(resources.map((r, i) => [r.externalId, upsertResources.ids[i]]));
  for (const [account, planType] of [
    ["azure", "SERVERS"],
    ["azure", "STORAGE"],
    ["azure", "KEY_VAULT"],
    ["azure", "SQL"],
    ["aws", "SERVERS"],
  ] as const) {
    await call(gatewayUrl, token, "mutation($input: SetPlanInput!) { setPlan(input: $input) { tier } }", {
      input: { accountId: accountId[account], planType, tier: "STANDARD" },
    });
  }
  const alerts = demoAlerts(new Date());
  const { ingestAlerts } = await call<{ ingestAlerts: { ids: Array<string | null>; createdCount: number } }>(
    gatewayUrl,
    token,
    "mutation($input: [AlertInput!]!) { ingestAlerts(input: $input) { ids createdCount } }",
    {
      input: alerts.map(({ resourceExternalId, ...a }) => ({
        ...a,
        resourceId: resourceId.get(resourceExternalId) ?? null,
      })),
    },
  );
  const bruteForce = alerts.flatMap((a, i) =>
    a.techniques.includes("T1110") && ingestAlerts.ids[i] ? [ingestAlerts.ids[i]] : [],
  );
  if (bruteForce.length) {
    await call(
      gatewayUrl,
      token,
      "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { number } }",
      {
        input: {
          title: "Brute-force attempts on management ports",
          description: "Repeated failed sign-ins over RDP and SSH against internet-exposed virtual machines.",
          severity: "HIGH",
          alertIds: bruteForce,
        },
      },
    );
  }
  const vm = (name: string) => resources.findIndex((r) => r.name === name);
  await seedDetectionsAndVulnerabilities(gatewayUrl, token, log, [
    { resourceId: upsertResources.ids[vm("vm-web-prod-01")], host: "vm-web-prod-01" },
    { resourceId: upsertResources.ids[vm("vm-jump-01")], host: "vm-jump-01" },
  ]);
  await seedWorkloadProtection(
    gatewayUrl,
    token,
    log,
    new Map(resources.map((r, i) => [r.name, upsertResources.ids[i]])),
  );
  log.info(
    {
      tenant: config.demoTenantId,
      resources: upsertResources.createdCount,
      alerts: ingestAlerts.createdCount,
    },
    "demo tenant seeded",
  );
}

/** The demo's automation rule: high-severity incidents get a label and a first task as they open. */
const DEMO_AUTOMATION_RULE = {
  name: "Flag high-severity incidents",
  order: 10,
  trigger: "INCIDENT_CREATED",
  conditions: [{ property: "SEVERITY", operator: "EQUALS", values: ["HIGH"] }],
  actions: [
    { type: "ADD_LABELS", labels: ["needs-triage"] },
    { type: "ADD_TASK", taskTitle: "Check the affected resources' exposure and recent sign-ins" },
  ],
};

/**
 * Where the sample logs and advisories live (the test fixtures double as demo data): beside `dist/` when
 * compiled, two levels up when run from source (the tests seed with it).
 */
const FIXTURES =
  [
    path.resolve(__dirname, "..", "..", "..", "test", "fixtures"),
    path.resolve(__dirname, "..", "..", "test", "fixtures"),
  ].find((dir) => existsSync(dir)) ?? path.resolve(__dirname, "..", "..", "..", "test", "fixtures");

/**
 * The SIEM and vulnerability parts of the demo, when the sample data is present (a source
 * checkout): analytics rules from the templates, two threat indicators, an automation rule, the
 * sample logs of every connector (the rules and TI raise alerts and incidents from them), OSV
 * advisories and the package inventories of two VMs (which then show findings).
 */
async function seedDetectionsAndVulnerabilities(
  gatewayUrl: string,
  token: string,
  log: Logger,
  machines: Array<{ resourceId: string | undefined; host: string }>,
): Promise<void> {
  if (!existsSync(path.join(FIXTURES, "siem"))) {
    log.info("sample logs not found (not a source checkout): demo without SIEM logs and vulnerabilities");
    return;
  }
  const templates: Array<{ id: string; kind: string }> = (
    await call<{ ruleTemplates: Array<{ id: string; kind: string }> }>(
      gatewayUrl,
      token,
      "{ ruleTemplates { id kind } }",
    )
  ).ruleTemplates;
  for (const t of templates.filter((t) => t.kind === "NRT" || t.id === "brute-force-sign-ins-by-ip")) {
    await call(gatewayUrl, token, "mutation($t: String) { createAnalyticsRule(templateId: $t) { id } }", {
      t: t.id,
    });
  }
  await call(gatewayUrl, token, "mutation($b: JSON!) { importStixBundle(bundle: $b) { createdCount } }", {
    b: DEMO_BUNDLE,
  });
  // Before the logs: automation acts on the incidents they raise.
  await call(
    gatewayUrl,
    token,
    "mutation($i: CreateAutomationRuleInput!) { createAutomationRule(input: $i) { id } }",
    { i: DEMO_AUTOMATION_RULE },
  );
  const base = gatewayUrl.replace(/\/graphql$/, "");
  for (const file of readdirSync(path.join(FIXTURES, "siem")).filter((f) => f.endsWith(".ndjson"))) {
    const res = await fetch(`${base}/ingest/events?connector=${file.replace(/\.ndjson$/, "")}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
      body: readFileSync(path.join(FIXTURES, "siem", file), "utf8"),
    });
    if (!res.ok) throw new Error(`seed: ingest of ${file} failed with HTTP ${res.status}`);
  }
  const osvDir = path.join(FIXTURES, "protection", "osv");
  const osv = readdirSync(osvDir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(path.join(osvDir, f), "utf8")) as unknown);
  await call(
    gatewayUrl,
    token,
    "mutation($osv: [JSON!]!) { importAdvisories(osv: $osv) { importedCount } }",
    { osv },
  );
  const records = machines
    .filter((m): m is { resourceId: string; host: string } => !!m.resourceId)
    .map((m) => ({
      kind: "packages",
      id: `demo-packages-${m.host}`,
      resourceId: m.resourceId,
      host: m.host,
      time: new Date().toISOString(),
      os: { family: "debian", version: "12.4" },
      packages: [
        { ecosystem: "Debian", name: "openssl", version: "3.0.11-1~deb12u1" },
        { ecosystem: "Debian", name: "bind9", version: "1:9.18.19-1~deb12u1" },
        { ecosystem: "npm", name: "lodash", version: "4.17.20" },
        { ecosystem: "PyPI", name: "Django", version: "3.2.1" },
      ],
    }));
  await call(
    gatewayUrl,
    token,
    "mutation($r: [JSON!]!) { ingestPackageInventory(records: $r) { openedCount } }",
    { r: records },
  );
}

/**
 * Workload protection's demo: a just-in-time policy locking the jump host's management ports, and
 * the sample agent telemetry (process, file, flow and logon records of five demo machines), moved
 * to end five minutes ago so it falls within retention whenever the demo is started. Its
 * detections reach the SIEM as alerts through protection's relay.
 */
async function seedWorkloadProtection(
  gatewayUrl: string,
  token: string,
  log: Logger,
  idByName: Map<string, string>,
): Promise<void> {
  const jump = idByName.get("vm-jump-01");
  if (jump) {
    await call(
      gatewayUrl,
      token,
      "mutation($input: SetJitPolicyInput!) { setJitPolicy(input: $input) { id } }",
      {
        input: {
          resourceId: jump,
          ports: [
            { number: 22, protocol: "TCP", allowedSourcePrefixes: ["10.0.0.0/8"], maxDuration: "PT3H" },
            { number: 3389, protocol: "TCP", allowedSourcePrefixes: ["10.0.0.0/8"], maxDuration: "PT1H" },
          ],
        },
      },
    );
  }
  const dir = path.join(FIXTURES, "protection", "telemetry");
  if (!existsSync(dir)) return;
  const records = readdirSync(dir)
    .filter((f) => f.endsWith(".ndjson") && f !== "packages.ndjson")
    .flatMap((f) => readFileSync(path.join(dir, f), "utf8").split("\n"))
    .flatMap((line) => {
      try {
        const record = JSON.parse(line) as { host?: string; resourceId?: string; time?: string };
        const id = record.host ? idByName.get(record.host) : undefined;
        return id && record.time ? [{ ...record, resourceId: id }] : [];
      } catch {
        return []; // the fixtures hold deliberately malformed lines too
      }
    });
  if (records.length === 0) return;
  const latest = Math.max(...records.map((r) => Date.parse(r.time!)));
  const shift = Date.now() - 5 * 60_000 - latest;
  const body = records
    .map((r) => JSON.stringify({ ...r, time: new Date(Date.parse(r.time!) + shift).toISOString() }))
    .join("\n");
  const res = await fetch(`${gatewayUrl.replace(/\/graphql$/, "")}/ingest/telemetry`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
    body,
  });
  if (!res.ok) throw new Error(`seed: telemetry ingest failed with HTTP ${res.status}`);
  const result = (await res.json()) as { accepted?: number; rejected?: unknown[] };
  // Adaptive application control learns its machine groups from the week of process executions.
  const { learnAppControl } = await call<{ learnAppControl: { groups: unknown[] } }>(
    gatewayUrl,
    token,
    'mutation { learnAppControl(input: { window: "P14D" }) { groups { id } } }',
  );
  log.info(
    {
      accepted: result.accepted,
      rejected: result.rejected?.length,
      appControlGroups: learnAppControl.groups.length,
    },
    "demo telemetry ingested",
  );
}

/** Two indicators the sample logs contact (the payload server and the fake update domain). */
const DEMO_BUNDLE = {
  type: "bundle",
  id: "bundle--5d1c0c5e-0f55-4b8e-9a59-1c2f6b7e1a10",
  objects: [
    ["6d6c0e47-9f1a-4a43-8c53-0d7b2f3c9e11", "[ipv4-addr:value = '198.51.100.23']", "Payload server", 85],
    [
      "0b3a4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
      "[domain-name:value = 'malicious-updates.example']",
      "Fake update domain",
      70,
    ],
  ].map(([uuid, pattern, name, confidence]) => ({
    type: "indicator",
    spec_version: "2.1",
    id: `indicator--${uuid}`,
    created: "2026-11-01T00:00:00.000Z",
    modified: "2026-11-01T00:00:00.000Z",
    name,
    pattern,
    pattern_type: "stix",
    valid_from: "2026-11-01T00:00:00Z",
    confidence,
  })),
};
