/*
 * Shared by the workload-protection tests: the telemetry fixtures (test/fixtures/protection/telemetry)
 * moved to the tenant's resource ids and to recent days, the fixtures' machines in the inventory, and
 * telemetry ingest through the gateway.
 */
import { readFileSync } from "node:fs";
import {
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "../__generated__/graphql";
import { Role } from "../../subgraphs/common/src";
import type { TestPlatform } from "./platform";
import { ok } from "./seed";

const DIR = "test/fixtures/protection/telemetry";
const DAY = 86_400_000;
/** Whole days that move the fixtures' story day (2025-01-15, UTC) to yesterday, well inside the retention. */
export const SHIFT = (Math.floor(Date.now() / DAY) - 1) * DAY - Date.parse("2025-01-15T00:00:00Z");

/** The fixtures' machines (fixtures README) by their fixture resource id. */
export const MACHINES: Record<string, string> = {
  "9f525b04-47c3-487a-9b37-e8d8124d8161": "vm-dev-02",
  "107ec20d-8708-44b3-9c2c-b419dc983ba4": "vm-jump-01",
  "3dafd86a-82f7-47d7-8018-63f28fe05d5d": "vm-web-prod-01",
  "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6": "vm-web-prod-02",
  "8708e8d1-b175-4ff3-bc87-d6f2d3d84d86": "ci-runner-02",
  "6870430a-d373-49a4-a64f-17fe64a53776": "app-euw1-01",
  "70e661f8-81ac-413e-9d5d-30316d57216c": "vm-app-prod-01",
};

/** A fixture's story time moved like the fixtures (to yesterday). */
export const shifted = (storyTime: string): string => new Date(Date.parse(storyTime) + SHIFT).toISOString();

/** A fixture file (`process`, `flow`, `process-baseline`…) as NDJSON with the tenant's resource ids and shifted times. */
export function fixture(
  name: string,
  ids: Record<string, string>,
  filter: (r: Record<string, unknown>) => boolean = () => true,
): string {
  return (
    readFileSync(`${DIR}/${name}.ndjson`, "utf8")
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as Record<string, unknown> & { resourceId: string; time: string })
      .filter(filter)
      .map((r) =>
        JSON.stringify({ ...r, resourceId: ids[r.resourceId] ?? r.resourceId, time: shifted(r.time) }),
      )
      .join("\n") + "\n"
  );
}

/** What one telemetry ingest answered. */
export interface Ingested {
  accepted: number;
  duplicates: number;
  rejected: Array<{ line: number; reason: string }>;
  detections: number;
}

/** POSTs NDJSON telemetry to the gateway's `/ingest/telemetry` and expects it accepted whole. */
export async function ingestTelemetry(
  platform: TestPlatform,
  body: string,
  token: string,
): Promise<Ingested> {
  const res = await fetch(platform.gateway.url.replace(/\/graphql$/, "/ingest/telemetry"), {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${token}` },
    body,
  });
  if (res.status !== 200) throw new Error(`telemetry ingest answered ${res.status}: ${await res.text()}`);
  const result = (await res.json()) as Ingested;
  if (result.rejected.length) throw new Error(`telemetry rejected: ${JSON.stringify(result.rejected)}`);
  return result;
}

/** NDJSON of records given as objects. */
export const ndjson = (records: ReadonlyArray<Record<string, unknown>>): string =>
  records.map((r) => JSON.stringify(r)).join("\n") + "\n";

/**
 * The fixtures' machines as VMs of one Azure account of `tenant` (plus `extra` resources of that account);
 * returns the fixture id → tenant resource id map and the account id.
 */
export async function seedMachines(
  platform: TestPlatform,
  tenant: string,
  extra: (accountId: string) => ResourceInput[] = () => [],
): Promise<{ ids: Record<string, string>; byName: Record<string, string>; accountId: string }> {
  const admin = await platform.token([Role.ADMIN], tenant);
  const [account] = ok(
    await platform.request(
      UpsertAccountsDocument,
      {
        input: [{ provider: "AZURE", externalId: `${tenant}-sub-contoso-prod`, name: "Contoso Production" }],
      },
      admin,
    ),
  ).upsertCloudAccounts;
  const names = Object.values(MACHINES);
  const input: ResourceInput[] = [
    ...names.map((name) => ({
      accountId: account.id,
      externalId: `/subscriptions/sub-contoso-prod/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/${name}`,
      type: "Microsoft.Compute/virtualMachines",
      name,
      properties: vmProperties(name),
    })),
    ...extra(account.id),
  ];
  const created = ok(await platform.request(UpsertResourcesDocument, { input }, admin)).upsertResources.ids;
  const byName = Object.fromEntries(input.map((r, i) => [r.name, created[i]]));
  const ids = Object.fromEntries(
    Object.entries(MACHINES).map(([fixtureId, name]) => [fixtureId, byName[name]]),
  );
  return { ids, byName, accountId: account.id };
}

/** A VM's ARM properties: its NIC (named `nic-<vm>`). */
function vmProperties(name: string): Record<string, unknown> {
  return {
    networkProfile: {
      networkInterfaces: [{ id: `${ARM}/Microsoft.Network/networkInterfaces/nic-${name}` }],
    },
  };
}

/** ARM id prefix of the fixtures' resource group. */
export const ARM = "/subscriptions/sub-contoso-prod/resourceGroups/rg-prod/providers";

/** Polls `check` until it returns true (relays work in the background). */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 45_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
