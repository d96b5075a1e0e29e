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
 * unless it already has accounts: two accounts, a realistic estate, plans and some alerts
 * grouped into an incident.
 */
export async function seedDemoIfEmpty(config: Config, gatewayUrl: string, log: Logger): Promise<void> {
  const token = await signDevToken(config.jwt.secret!, {
    subject: "demo-seeder@rampart.local",
    tenantId: config.demoTenantId,
    roles: [Role.ADMIN, Role.INGESTOR],
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlSeconds: 300,
  });
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
  log.info(
    {
      tenant: config.demoTenantId,
      resources: upsertResources.createdCount,
      alerts: ingestAlerts.createdCount,
    },
    "demo tenant seeded",
  );
}
