import type { DataSource } from "typeorm";
import {
  AccountsDocument,
  AccountScoreDocument,
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  ExemptionsDocument,
  RemoveCloudAccountDocument,
  ResourceJitPolicyDocument,
  ResourcesDocument,
  SetJitPolicyDocument,
  SetPlanDocument,
  SetPolicyDefinitionEnabledDocument,
  SiemAlertsDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { IDENTITY_HEADER, inTenant, Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, seedTenant, type SeededTenant } from "./utils/seed";
import { eventually } from "./utils/workload";

const TENANTS = ["tenant-offboard-a", "tenant-offboard-b"] as const;
const DAY = 86_400_000;

/**
 * Off-boarding an account (`removeCloudAccount`): the account, its resources and everything posture keeps about it
 * go in one transaction; protection's state of its machines and its plans follow through posture's relay; the
 * SIEM's alerts stay (evidence); nothing of another account or tenant changes. An upsert racing the removal either
 * lands first (and is removed with the account) or finds no account: nothing is left behind either way.
 */
describe("removeCloudAccount: off-boarding an account", () => {
  let platform: TestPlatform;
  let posture: DataSource;
  let protection: DataSource;
  const seeded: Record<string, SeededTenant> = {};
  const tokens: Record<string, Record<"admin" | "reader" | "ingestor", string>> = {};
  let definitionId: string;
  let exemptionId: string;

  /** Rows of a table about an account, as the tenant sees them (RLS applies). */
  const count = (ds: DataSource, tenant: string, table: string, where: string, param: string) =>
    inTenant(ds, tenant, async (m) =>
      Number((await m.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, [param]))[0].n),
    );
  /** The exemption's expiry job (one per exemption, keyed by its id). */
  const expiryJobs = async () =>
    Number(
      (
        await posture.query(`SELECT count(*)::int AS n FROM posture_jobs.jobs WHERE key = $1`, [
          `exemption:${exemptionId}`,
        ])
      )[0].n,
    );
  /** A new account of the caller's tenant. */
  const onboard = async (provider: "AWS" | "AZURE", externalId: string, token: string) =>
    ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider, externalId, name: `Account ${externalId}` }] },
        token,
      ),
    ).upsertCloudAccounts[0];
  /** `setPlan` on STANDARD for one plan type of an account. */
  const standard = (accountId: string, planType: "SERVERS" | "STORAGE", token: string) =>
    platform.request(SetPlanDocument, { input: { accountId, planType, tier: "STANDARD" } }, token);
  const range = () => ({
    from: new Date(Date.now() - 2 * DAY).toISOString(),
    to: new Date(Date.now() + DAY).toISOString(),
  });

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    posture = await platform.connect("posture");
    protection = await platform.connect("protection");
    for (const tenant of TENANTS) {
      tokens[tenant] = await platform.tokens({
        admin: [[Role.ADMIN], tenant],
        reader: [[Role.READER], tenant],
        ingestor: [[Role.INGESTOR], tenant],
      });
      seeded[tenant] = await seedTenant(platform, tenant, 30);
    }
    const a = tokens[TENANTS[0]];
    const { azure } = seeded[TENANTS[0]].accountIds;
    definitionId = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        {
          input: {
            title: "Storage accounts should require TLS 1.2",
            severity: "HIGH",
            controlId: "encrypt-data-in-transit",
            resourceTypes: ["Microsoft.Storage/storageAccounts"],
            condition: { field: "properties.minimumTlsVersion", notEquals: "TLS1_2" },
            remediation: ["Set the minimum TLS version to 1.2."],
          },
        },
        a.admin,
      ),
    ).createPolicyDefinition.id;
    // A second definition, disabled in the Azure account: a per-account setting.
    const disabled = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        {
          input: {
            title: "Storage accounts should be tagged with an owner",
            severity: "LOW",
            controlId: "encrypt-data-in-transit",
            resourceTypes: ["Microsoft.Storage/storageAccounts"],
            condition: { field: "tags.owner", exists: false },
            remediation: ["Tag the account with its owner."],
          },
        },
        a.admin,
      ),
    ).createPolicyDefinition.id;
    ok(
      await platform.request(
        SetPolicyDefinitionEnabledDocument,
        { input: { definitionId: disabled, accountId: azure, enabled: false } },
        a.admin,
      ),
    );
    exemptionId = ok(
      await platform.request(
        CreateExemptionDocument,
        {
          input: {
            definitionId,
            accountId: azure,
            category: "WAIVER",
            reason: "decommissioning",
            expiresAt: new Date(Date.now() + 30 * DAY).toISOString(),
          },
        },
        a.admin,
      ),
    ).createExemption.id;
    ok(
      await platform.request(
        SetJitPolicyDocument,
        {
          input: {
            resourceId: seeded[TENANTS[0]].vmIds[0],
            ports: [
              { number: 22, protocol: "TCP", allowedSourcePrefixes: ["203.0.113.0/24"], maxDuration: "PT3H" },
            ],
          },
        },
        a.admin,
      ),
    );
  }, 120_000);
  afterAll(async () => {
    await posture?.destroy();
    await protection?.destroy();
    await platform?.stop();
  });

  it("refuses callers who are not ADMIN, ids that are no account id, and another tenant's account, changing nothing", async () => {
    const a = tokens[TENANTS[0]];
    const { azure } = seeded[TENANTS[0]].accountIds;
    for (const token of [a.reader, a.ingestor]) {
      const res = await platform.request(RemoveCloudAccountDocument, { id: azure }, token);
      expect(res.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    const bad = await platform.request(RemoveCloudAccountDocument, { id: "not-an-id" }, a.admin);
    expect(bad.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [{ field: "id", message: "must be an account id (UUID)" }],
    });
    const foreign = seeded[TENANTS[1]].accountIds.azure;
    const other = await platform.request(RemoveCloudAccountDocument, { id: foreign }, a.admin);
    expect(other.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const b = tokens[TENANTS[1]];
    expect(ok(await platform.request(AccountsDocument, {}, b.reader)).accounts.totalCount).toBe(2);
    expect(ok(await platform.request(AccountsDocument, {}, a.reader)).accounts.totalCount).toBe(2);
    expect(
      ok(await platform.request(ResourcesDocument, { filter: { accountId: azure } }, a.reader)).resources
        .totalCount,
    ).toBe(20);
  });

  it("removes the account, its resources, settings, exemptions and score; protection's plans and policies follow", async () => {
    const [tenant, otherTenant] = TENANTS;
    const a = tokens[tenant];
    const { azure, aws } = seeded[tenant].accountIds;
    const vm = seeded[tenant].vmIds[0];
    const before = ok(
      await platform.request(AccountScoreDocument, { accountId: azure, ...range() }, a.reader),
    );
    expect(before.account?.id).toBe(azure);
    expect(before.secureScoreHistory.length).toBeGreaterThan(0);
    expect(await count(posture, tenant, "score_counters", "account_id = $1", azure)).toBeGreaterThan(0);
    expect(await count(protection, tenant, "plans", "account_id = $1", azure)).toBe(1);
    expect(await expiryJobs()).toBe(1);
    expect(
      ok(await platform.request(ResourceJitPolicyDocument, { id: vm }, a.reader)).resource?.jitPolicy,
    ).not.toBeNull();
    const alertsBefore = ok(await platform.request(SiemAlertsDocument, { first: 100 }, a.reader)).alerts
      .totalCount;
    expect(alertsBefore).toBeGreaterThan(0);
    const otherBefore = ok(await platform.request(AccountsDocument, {}, tokens[otherTenant].reader)).accounts;

    const removed = ok(
      await platform.request(RemoveCloudAccountDocument, { id: azure.toUpperCase() }, a.admin),
    );
    expect(removed.removeCloudAccount).toEqual({
      accountId: azure,
      removedResourceCount: 20,
      removedExemptionCount: 1,
      removedPolicySettingCount: 1,
    });

    // Posture, in the removal's transaction.
    const after = ok(
      await platform.request(AccountScoreDocument, { accountId: azure, ...range() }, a.reader),
    );
    expect(after.account).toBeNull();
    expect(after.secureScoreHistory).toEqual([]);
    expect(after.secureScore.current).toBe(0);
    const awsScore = ok(
      await platform.request(AccountScoreDocument, { accountId: aws, ...range() }, a.reader),
    );
    expect(after.tenantScore).toEqual(awsScore.secureScore);
    expect(after.tenantHistory.at(-1)?.current).toBe(awsScore.secureScore.current);
    const accounts = ok(await platform.request(AccountsDocument, {}, a.reader)).accounts;
    expect(accounts.nodes.map((n) => n.id)).toEqual([aws]);
    const resources = ok(await platform.request(ResourcesDocument, { first: 100 }, a.reader)).resources;
    expect(resources.totalCount).toBe(10);
    const exemptions = ok(await platform.request(ExemptionsDocument, { first: 100 }, a.admin)).exemptions;
    expect(exemptions.nodes.map((n) => n.id)).not.toContain(exemptionId);
    for (const table of [
      "score_counters",
      "definition_counters",
      "definition_settings",
      "exemptions",
      "resources",
    ])
      expect([table, await count(posture, tenant, table, "account_id = $1", azure)]).toEqual([table, 0]);
    expect(await count(posture, tenant, "score_snapshots", "scope = $1", `account:${azure}`)).toBe(0);
    expect(await expiryJobs()).toBe(0);
    expect(await count(posture, tenant, "audit_log", "action = $1", "inventory.accounts.remove")).toBe(1);

    // Protection, through the relay: the machines' state first, then the account's plans.
    await eventually(
      "protection forgets the account",
      async () => (await count(protection, tenant, "removed_accounts", "account_id = $1", azure)) === 1,
    );
    expect(await count(protection, tenant, "plans", "account_id = $1", azure)).toBe(0);
    expect(await count(protection, tenant, "jit_policies", "resource_id = $1", vm)).toBe(0);
    expect(await count(protection, tenant, "audit_log", "action = $1", "plans.removed")).toBe(1);
    const replan = await standard(azure, "SERVERS", a.admin);
    expect(replan.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(await count(protection, tenant, "plans", "account_id = $1", azure)).toBe(0);

    // The SIEM keeps its alerts: they are evidence.
    expect(ok(await platform.request(SiemAlertsDocument, { first: 100 }, a.reader)).alerts.totalCount).toBe(
      alertsBefore,
    );
    // The other tenant is untouched, and a second removal finds nothing.
    expect(ok(await platform.request(AccountsDocument, {}, tokens[otherTenant].reader)).accounts).toEqual(
      otherBefore,
    );
    const again = await platform.request(RemoveCloudAccountDocument, { id: azure }, a.admin);
    expect(again.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");

    // Onboarding the subscription again makes a new account, with a clean slate: no settings, no plans.
    const [back] = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: `${tenant}-sub`, name: "Back again" }] },
        a.admin,
      ),
    ).upsertCloudAccounts;
    expect(back.id).not.toBe(azure);
    expect(
      ok(await platform.request(AccountsDocument, {}, a.reader))
        .accounts.nodes.find((n) => n.id === back.id)
        ?.plans.every((p) => p.tier === "FREE"),
    ).toBe(true);
    ok(await standard(back.id, "SERVERS", a.admin));
    expect(await count(posture, tenant, "definition_settings", "account_id = $1", back.id)).toBe(0);
  });

  it("protection's removal mark refuses a plan that posture would still allow, and a repeated delivery changes nothing", async () => {
    const tenant = TENANTS[1];
    const b = tokens[tenant];
    const { aws } = seeded[tenant].accountIds;
    const forget = (ids: string[]) =>
      platform.internalToken([Role.ADMIN], tenant).then((token) =>
        postGraphql<{ forgetRemovedAccounts: { accountIds: string[]; removedPlanCount: number } }>(
          platform.subgraphs.protection.url,
          {
            query: `mutation F($ids: [ID!]!) { forgetRemovedAccounts(accountIds: $ids) { accountIds removedPlanCount } }`,
            variables: { ids },
          },
          { [IDENTITY_HEADER]: token },
        ),
      );
    ok(await standard(aws, "STORAGE", b.admin));
    // As the relay would call it in the moment between posture's answer to `setPlan` and the plan's commit.
    const first = await forget([aws]);
    expect(first.errors).toBeUndefined();
    expect(first.data?.forgetRemovedAccounts).toEqual({ accountIds: [aws], removedPlanCount: 1 });
    const refused = await standard(aws, "STORAGE", b.admin);
    expect(refused.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(await count(protection, tenant, "plans", "account_id = $1", aws)).toBe(0);
    const audits = await count(protection, tenant, "audit_log", "action = $1", "plans.removed");
    const second = await forget([aws]);
    expect(second.data?.forgetRemovedAccounts).toEqual({ accountIds: [aws], removedPlanCount: 0 });
    expect(await count(protection, tenant, "audit_log", "action = $1", "plans.removed")).toBe(audits);
    const bad = await forget(["nope"]);
    expect(bad.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("an upsert racing the removal lands first and goes with the account, or finds no account: nothing is left", async () => {
    const tenant = TENANTS[0];
    const a = tokens[tenant];
    for (let round = 0; round < 4; round++) {
      const account = await onboard("AWS", `race-${round}`, a.admin);
      const batch = (n: number) =>
        Array.from({ length: 50 }, (_, i) => ({
          accountId: account.id,
          externalId: `arn:aws:s3:::race-${round}-${n}-${i}`,
          type: "AWS::S3::Bucket",
          name: `race-${round}-${n}-${i}`,
        }));
      ok(await platform.request(UpsertResourcesDocument, { input: batch(0) }, a.admin));
      const answers = await Promise.all([
        platform.request(UpsertResourcesDocument, { input: batch(1) }, a.ingestor),
        platform.request(RemoveCloudAccountDocument, { id: account.id }, a.admin),
        platform.request(UpsertResourcesDocument, { input: batch(2) }, a.ingestor),
      ]);
      const [up1, removal, up2] = answers;
      expect(removal.errors).toBeUndefined();
      const landed = [up1, up2].filter((u) => !u.errors).length;
      for (const u of [up1, up2])
        if (u.errors)
          expect(u.errors[0].extensions).toMatchObject({
            code: "BAD_USER_INPUT",
            problems: expect.arrayContaining([
              expect.objectContaining({ field: "accountId", message: "no such account in this tenant" }),
            ]),
          });
      expect(removal.data?.removeCloudAccount.removedResourceCount).toBe(50 + 50 * landed);
      expect(await count(posture, tenant, "resources", "account_id = $1", account.id)).toBe(0);
      expect(await count(posture, tenant, "score_counters", "account_id = $1", account.id)).toBe(0);
    }
  });

  it("a setting or exemption racing the removal is committed first and removed with it, or finds no account", async () => {
    const tenant = TENANTS[0];
    const a = tokens[tenant];
    for (let round = 0; round < 4; round++) {
      const account = await onboard("AZURE", `settings-race-${round}`, a.admin);
      const [setting, exemption, removal] = await Promise.all([
        platform.request(
          SetPolicyDefinitionEnabledDocument,
          { input: { definitionId, accountId: account.id, enabled: false } },
          a.admin,
        ),
        platform.request(
          CreateExemptionDocument,
          { input: { definitionId, accountId: account.id, category: "MITIGATED", reason: `race ${round}` } },
          a.admin,
        ),
        platform.request(RemoveCloudAccountDocument, { id: account.id }, a.admin),
      ]);
      expect(removal.errors).toBeUndefined();
      for (const answer of [setting, exemption])
        if (answer.errors) expect(answer.errors[0].extensions?.code).toBe("NOT_FOUND");
      expect(removal.data?.removeCloudAccount).toMatchObject({
        removedPolicySettingCount: setting.errors ? 0 : 1,
        removedExemptionCount: exemption.errors ? 0 : 1,
      });
      for (const table of ["definition_settings", "exemptions"])
        expect([table, await count(posture, tenant, table, "account_id = $1", account.id)]).toEqual([
          table,
          0,
        ]);
    }
  });
});
