import { readFileSync } from "node:fs";
import {
  IngestAlertsDocument,
  SetPlanDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "../__generated__/graphql";
import type { DataSource } from "typeorm";
import { inSystemScope, Role } from "../../subgraphs/common/src";
import { RESOURCE_MIRRORS } from "../../subgraphs/posture/src/modules/inventory/resource-mirror-relay";
import type { GqlResponse, TestPlatform } from "./platform";
import type { DemoResource } from "../../scripts/lib/demo-estate";

/** Throws with the errors when a response has any: seeding must not half-succeed silently. */
export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** What `seedTenant` created. */
export interface SeededTenant {
  accountIds: { azure: string; aws: string };
  resourceIds: string[];
  vmIds: string[];
  alertIds: string[];
}

/**
 * A small estate for one tenant through the public API: two accounts, `resources` resources
 * (a third of them VMs), the SERVERS plan on the Azure account and an alert on every fifth VM.
 */
export async function seedTenant(
  platform: TestPlatform,
  tenant: string,
  resources = 30,
): Promise<SeededTenant> {
  const admin = await platform.token([Role.ADMIN], tenant);
  const accounts = ok(
    await platform.request(
      UpsertAccountsDocument,
      {
        input: [
          { provider: "AZURE", externalId: `${tenant}-sub`, name: `${tenant} Azure` },
          { provider: "AWS", externalId: `${tenant}-aws`, name: `${tenant} AWS` },
        ],
      },
      admin,
    ),
  ).upsertCloudAccounts;
  const [azure, aws] = accounts.map((a) => a.id);
  const types = ["Microsoft.Compute/virtualMachines", "Microsoft.Storage/storageAccounts", "AWS::S3::Bucket"];
  const input: ResourceInput[] = Array.from({ length: resources }, (_, i) => {
    const type = types[i % 3];
    return {
      accountId: type.startsWith("AWS") ? aws : azure,
      externalId: `/${tenant}/resources/${i}`,
      type,
      name: `${tenant}-res-${String(i).padStart(4, "0")}`,
      region: i % 2 ? "westeurope" : "eastus",
      tags: { environment: i % 4 ? "prod" : "dev" },
      properties: { index: i },
    };
  });
  const { ids } = ok(await platform.request(UpsertResourcesDocument, { input }, admin)).upsertResources;
  const vmIds = ids.filter((_, i) => i % 3 === 0);
  ok(
    await platform.request(
      SetPlanDocument,
      { input: { accountId: azure, planType: "SERVERS", tier: "STANDARD" } },
      admin,
    ),
  );
  const alerts = ok(
    await platform.request(
      IngestAlertsDocument,
      {
        input: vmIds
          .filter((_, i) => i % 5 === 0)
          .map((id, i) => ({
            sourceId: `${tenant}-alert-${i}`,
            title: `Brute force on ${id}`,
            severity: "HIGH" as const,
            tactics: ["CredentialAccess"],
            techniques: ["T1110"],
            resourceId: id,
          })),
      },
      await platform.token([Role.INGESTOR], tenant),
    ),
  ).ingestAlerts;
  return {
    accountIds: { azure, aws },
    resourceIds: ids,
    vmIds,
    alertIds: alerts.ids.filter((x): x is string => !!x),
  };
}

/** The Azure subscription of the SIEM fixtures' logs and its key vault (whose logging the attacker disables). */
export const PAYMENTS_SUBSCRIPTION = "6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42";

/**
 * Inventories the account and key vault the SIEM fixture logs name (`test/fixtures/siem`), so alerts
 * raised from those logs resolve `resource` in posture. Returns the account id.
 */
export async function seedPaymentsKeyVault(platform: TestPlatform, adminToken: string): Promise<string> {
  const [account] = ok(
    await platform.request(
      UpsertAccountsDocument,
      { input: [{ provider: "AZURE", externalId: PAYMENTS_SUBSCRIPTION, name: "Contoso Production" }] },
      adminToken,
    ),
  ).upsertCloudAccounts;
  ok(
    await platform.request(
      UpsertResourcesDocument,
      {
        input: [
          {
            accountId: account.id,
            externalId: `/subscriptions/${PAYMENTS_SUBSCRIPTION}/resourceGroups/rg-payments-prod/providers/Microsoft.KeyVault/vaults/kv-payments-prod`,
            type: "Microsoft.KeyVault/vaults",
            name: "kv-payments-prod",
          },
        ],
      },
      adminToken,
    ),
  );
  return account.id;
}

/** POSTs a SIEM fixture file (`test/fixtures/siem/<KIND>.ndjson`) to the gateway's event ingest endpoint. */
export function ingestFixture(platform: TestPlatform, token: string, kind: string): Promise<Response> {
  return fetch(`${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=${kind}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
    body: readFileSync(`test/fixtures/siem/${kind}.ndjson`, "utf8"),
  });
}

const postureConnections = new WeakMap<TestPlatform, Promise<DataSource>>();

/**
 * Waits until posture's relays to the mirrors of resource accounts (`siem-resource-accounts`,
 * `protection-resource-accounts`) have passed every outbox row committed so far, so that the SIEM's mirror
 * (what `CloudAccount.incidentSummary` reads) and protection's (what coverage reads) reflect the inventory.
 */
export async function resourceAccountsSynced(platform: TestPlatform, timeoutMs = 30_000): Promise<void> {
  let connection = postureConnections.get(platform);
  if (!connection) postureConnections.set(platform, (connection = platform.connect("posture")));
  const ds = await connection;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [{ behind }] = (await inSystemScope(ds, (m) =>
      m.query(
        `SELECT (SELECT count(*) FROM relay_offsets WHERE consumer = ANY($1::text[])) < cardinality($1::text[])
             OR EXISTS (SELECT 1 FROM outbox o, relay_offsets r
                         WHERE r.consumer = ANY($1::text[]) AND (o.xid, o.seq) > (r.xid, r.seq)) AS behind`,
        [RESOURCE_MIRRORS.map((mirror) => mirror.consumer)],
      ),
    )) as Array<{ behind: boolean }>;
    if (!behind) return;
    if (Date.now() > until) throw new Error("timed out waiting for the mirrors of resource accounts");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A demo-estate resource (`syntheticResources`) as the inventory mutation takes it, without its account. */
export function resourceInputOf(r: DemoResource): Omit<ResourceInput, "accountId"> {
  return {
    externalId: r.externalId,
    type: r.type,
    name: r.name,
    region: r.region,
    resourceGroup: r.resourceGroup,
    tags: r.tags,
    properties: r.properties,
  };
}
