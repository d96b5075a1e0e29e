import type { DataSource } from "typeorm";
import {
  RemoveResourcesDocument,
  ResourceJitPolicyDocument,
  SetJitPolicyDocument,
  type PlanTier,
  SetPlanDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { createLogger, IDENTITY_HEADER, inSystemScope, inTenant, Role } from "../subgraphs/common/src";
import {
  PROTECTION_RESOURCE_MIRROR,
  resourceAccountTasks,
} from "../subgraphs/posture/src/modules/inventory/resource-mirror-relay";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, PAYMENTS_SUBSCRIPTION, resourceAccountsSynced } from "./utils/seed";

const ARM = `/subscriptions/${PAYMENTS_SUBSCRIPTION}/resourceGroups/rg-payments-prod/providers`;
const TENANTS = ["tenant-a", "tenant-b"] as const;
type Row = { resource_id: string; account_id: string; plan_type: string | null };

/**
 * Protection's mirror of the inventory's resource accounts (posture's relay `protection-resource-accounts`):
 * what it holds per tenant, moves and removals, the backfill, bad input; and what reads it: a JIT policy that
 * never recorded its account is judged by the mirror's.
 */
describe("protection's mirror of resource accounts", () => {
  let platform: TestPlatform;
  let protectionDb: DataSource;
  let postureDb: DataSource;
  const tokens: Record<string, { admin: string; reader: string }> = {};
  const accounts: Record<string, { payments: string; shared: string; aws: string }> = {};
  const resources: Record<string, { vm: string; vault: string; bucket: string }> = {};

  const mirror = (tenant: string) =>
    inTenant(protectionDb, tenant, (m) =>
      m.query(`SELECT resource_id, account_id, plan_type FROM resource_accounts ORDER BY resource_id`),
    ) as Promise<Row[]>;
  const expected = (tenant: string, vmAccount = accounts[tenant].payments): Row[] =>
    [
      { resource_id: resources[tenant].vm, account_id: vmAccount, plan_type: "SERVERS" },
      { resource_id: resources[tenant].vault, account_id: accounts[tenant].payments, plan_type: "KEY_VAULT" },
      { resource_id: resources[tenant].bucket, account_id: accounts[tenant].aws, plan_type: "STORAGE" },
    ].sort((a, b) => a.resource_id.localeCompare(b.resource_id));
  const upsertVm = (tenant: string, accountId: string) =>
    platform.request(
      UpsertResourcesDocument,
      {
        input: [
          {
            accountId,
            externalId: `${ARM}/Microsoft.Compute/virtualMachines/vm-payments-01`,
            type: "Microsoft.Compute/virtualMachines",
            name: "vm-payments-01",
          },
        ],
      },
      tokens[tenant].admin,
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    protectionDb = await platform.connect("protection");
    postureDb = await platform.connect("posture");
    for (const tenant of TENANTS) {
      tokens[tenant] = {
        admin: await platform.token([Role.ADMIN], tenant),
        reader: await platform.token([Role.READER], tenant),
      };
      const [payments, shared, aws] = ok(
        await platform.request(
          UpsertAccountsDocument,
          {
            input: [
              { provider: "AZURE", externalId: PAYMENTS_SUBSCRIPTION, name: "Payments" },
              { provider: "AZURE", externalId: "0a1b2c3d-0000-4000-8000-00000000beef", name: "Shared" },
              { provider: "AWS", externalId: "111122223333", name: "Exports" },
            ],
          },
          tokens[tenant].admin,
        ),
      ).upsertCloudAccounts.map((a) => a.id);
      accounts[tenant] = { payments, shared, aws };
      const [vm] = ok(await upsertVm(tenant, payments)).upsertResources.ids;
      const [vault, bucket] = ok(
        await platform.request(
          UpsertResourcesDocument,
          {
            input: [
              {
                accountId: payments,
                externalId: `${ARM}/Microsoft.KeyVault/vaults/kv-payments`,
                type: "Microsoft.KeyVault/vaults",
                name: "kv-payments",
              },
              {
                accountId: aws,
                externalId: "arn:aws:s3:::contoso-exports",
                type: "AWS::S3::Bucket",
                name: "exports",
              },
            ],
          },
          tokens[tenant].admin,
        ),
      ).upsertResources.ids;
      resources[tenant] = { vm, vault, bucket };
    }
    await resourceAccountsSynced(platform);
  }, 120_000);

  afterAll(() => platform?.stop());

  it("holds each tenant's resources with their account and the plan that covers their kind, and no other's", async () => {
    for (const tenant of TENANTS) expect(await mirror(tenant)).toEqual(expected(tenant));
  });

  it("follows a resource to another account, and forgets a removed one", async () => {
    ok(await upsertVm("tenant-a", accounts["tenant-a"].shared));
    await resourceAccountsSynced(platform);
    expect(await mirror("tenant-a")).toEqual(expected("tenant-a", accounts["tenant-a"].shared));
    ok(await upsertVm("tenant-a", accounts["tenant-a"].payments));
    await resourceAccountsSynced(platform);
    expect(await mirror("tenant-a")).toEqual(expected("tenant-a"));

    ok(
      await platform.request(
        RemoveResourcesDocument,
        { ids: [resources["tenant-b"].bucket] },
        tokens["tenant-b"].admin,
      ),
    );
    await resourceAccountsSynced(platform);
    expect(await mirror("tenant-b")).toEqual(
      expected("tenant-b").filter((r) => r.resource_id !== resources["tenant-b"].bucket),
    );
    expect(await mirror("tenant-a")).toEqual(expected("tenant-a"));
  });

  it("fills an empty mirror from the inventory with its own backfill job, queued at start", async () => {
    const queued = await inSystemScope(postureDb, (m) =>
      m.query(`SELECT count(*)::int AS n FROM posture_jobs.jobs WHERE task_identifier = $1`, [
        PROTECTION_RESOURCE_MIRROR.backfillTask,
      ]),
    );
    expect(queued).toEqual([{ n: 1 }]);
    const before = await Promise.all(TENANTS.map(mirror));
    // An installation from before the mirror: protection knows no resource's account.
    for (const tenant of TENANTS)
      await inTenant(protectionDb, tenant, (m) => m.query(`DELETE FROM resource_accounts`));
    const log = createLogger("test", "silent");
    await resourceAccountTasks(postureDb, log)[PROTECTION_RESOURCE_MIRROR.backfillTask]!({}, {} as never);
    await resourceAccountsSynced(platform);
    expect(await Promise.all(TENANTS.map(mirror))).toEqual(before);
    // The backfill's outbox rows name their relay: the SIEM's relay skips them.
    const backfilled = await inSystemScope(postureDb, (m) =>
      m.query(
        `SELECT DISTINCT payload->>'for' AS for FROM outbox WHERE topic = 'inventory.resources.backfilled'`,
      ),
    );
    expect(backfilled).toEqual([{ for: PROTECTION_RESOURCE_MIRROR.consumer }]);
  });

  it("refuses a bad sync whole with BAD_USER_INPUT, and takes a repeat as no change", async () => {
    const sync = async (input: unknown) =>
      postGraphql<{ syncInventoryResources: { upsertedCount: number; removedCount: number } }>(
        platform.subgraphs.protection.url,
        {
          query: `mutation($input: SyncInventoryResourcesInput!) { syncInventoryResources(input: $input) { upsertedCount removedCount } }`,
          variables: { input },
        },
        { [IDENTITY_HEADER]: await platform.internalToken([Role.INGESTOR], "tenant-b") },
      );
    const before = await mirror("tenant-b");
    const b = resources["tenant-b"];
    const bad = await sync({
      resources: [
        {
          resourceId: b.vm,
          accountId: accounts["tenant-b"].shared,
          type: "Microsoft.Compute/virtualMachines",
        },
        { resourceId: b.vault, accountId: "not-a-uuid", type: "Microsoft.KeyVault/vaults" },
        { resourceId: b.bucket, accountId: accounts["tenant-b"].aws, type: "bad\u0000type" },
      ],
      removedIds: [],
    });
    expect(bad.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    expect((bad.errors?.[0].extensions?.problems as Array<{ field: string }>).map((p) => p.field)).toEqual([
      "resources.accountId",
      "resources.type",
    ]);
    expect(await mirror("tenant-b")).toEqual(before);
    const again = await sync({
      resources: [
        {
          resourceId: b.vm,
          accountId: accounts["tenant-b"].payments,
          type: "Microsoft.Compute/virtualMachines",
        },
      ],
      removedIds: [],
    });
    expect(ok(again).syncInventoryResources).toEqual({ upsertedCount: 0, removedCount: 0 });
    expect(await mirror("tenant-b")).toEqual(before);
    // The mutation is internal: the gateway does not offer it.
    const outside = await postGraphql(
      platform.gateway.url,
      {
        query: `mutation { syncInventoryResources(input: { resources: [], removedIds: [] }) { upsertedCount } }`,
      },
      { authorization: `Bearer ${tokens["tenant-b"].admin}` },
    );
    expect(outside.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  it("judges a JIT policy that never recorded its account by the mirror's account", async () => {
    const tenant = "tenant-a";
    const vm = resources[tenant].vm;
    const servers = (tier: PlanTier) =>
      platform.request(
        SetPlanDocument,
        { input: { accountId: accounts[tenant].payments, planType: "SERVERS", tier } },
        tokens[tenant].admin,
      );
    const enforced = async () =>
      ok(await platform.request(ResourceJitPolicyDocument, { id: vm }, tokens[tenant].reader)).resource!
        .jitPolicy!.enforced;
    ok(await servers("STANDARD"));
    ok(
      await platform.request(
        SetJitPolicyDocument,
        {
          input: {
            resourceId: vm,
            ports: [
              { number: 22, protocol: "TCP", allowedSourcePrefixes: ["203.0.113.0/24"], maxDuration: "PT1H" },
            ],
          },
        },
        tokens[tenant].admin,
      ),
    );
    // The policy recorded the payments account; the machine moves to the shared one (no plan): the mirror's
    // current account decides, then the move back.
    expect(await enforced()).toBe(true);
    ok(await upsertVm(tenant, accounts[tenant].shared));
    await resourceAccountsSynced(platform);
    expect(await enforced()).toBe(false);
    ok(await upsertVm(tenant, accounts[tenant].payments));
    await resourceAccountsSynced(platform);
    expect(await enforced()).toBe(true);
    // As a policy stored before policies recorded their account.
    await inTenant(protectionDb, tenant, (m) => m.query(`UPDATE jit_policies SET account_id = NULL`));
    expect(await enforced()).toBe(true);
    ok(await servers("FREE"));
    expect(await enforced()).toBe(false);
    // Without the mirror's row either, nothing tells: it counts as enforced, as such policies did.
    await inTenant(protectionDb, tenant, (m) =>
      m.query(`DELETE FROM resource_accounts WHERE resource_id = $1`, [vm]),
    );
    expect(await enforced()).toBe(true);
  });
});
