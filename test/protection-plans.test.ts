import { Client } from "pg";
import { randomUUID } from "node:crypto";
import { AccountsDocument, SetPlanDocument } from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, seedTenant } from "./utils/seed";

/** `setPlan` changes a plan only for an account of the caller's tenant that the inventory (posture) knows. */
describe("protection plans: setPlan and the inventory's accounts", () => {
  let platform: TestPlatform;
  let admin: Client;
  let adminA: string;
  let readerA: string;
  let accountA: string;
  let accountB: string;

  /** Plan rows, audit entries and outbox events of protection, across tenants: what a refused call must not add. */
  const written = async () => {
    const { rows } = await admin.query(
      `SELECT (SELECT count(*) FROM protection.plans)::int AS plans,
              (SELECT count(*) FROM protection.audit_log WHERE action = 'plans.set')::int AS audits,
              (SELECT count(*) FROM protection.outbox WHERE topic = 'plans.plan.changed')::int AS events`,
    );
    return rows[0] as { plans: number; audits: number; events: number };
  };
  const setPlan = (accountId: string, tier: "FREE" | "STANDARD" = "STANDARD") =>
    platform.request(SetPlanDocument, { input: { accountId, planType: "STORAGE", tier } }, adminA);
  const storageTier = async (accountId: string, token: string) =>
    ok(await platform.request(AccountsDocument, {}, token))
      .accounts.nodes.find((a) => a.id === accountId)
      ?.plans.find((p) => p.planType === "STORAGE")?.tier;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    accountA = (await seedTenant(platform, "tenant-a", 3)).accountIds.azure;
    accountB = (await seedTenant(platform, "tenant-b", 3)).accountIds.azure;
    adminA = await platform.token([Role.ADMIN], "tenant-a");
    readerA = await platform.token([Role.READER], "tenant-a");
  });
  afterAll(async () => {
    await admin?.end();
    await platform?.stop();
  });

  it("answers NOT_FOUND for an account id the inventory does not have, and changes nothing", async () => {
    const before = await written();
    const unknown = randomUUID();
    const res = await setPlan(unknown);
    expect(res.data ?? null).toBeNull();
    expect(res.errors).toEqual([
      expect.objectContaining({
        message: `Cloud account ${unknown} was not found.`,
        extensions: expect.objectContaining({ code: "NOT_FOUND", id: unknown }),
      }),
    ]);
    expect(await written()).toEqual(before);
  });

  it("answers NOT_FOUND for another tenant's account, and leaves that account's plans alone", async () => {
    const before = await written();
    const readerB = await platform.token([Role.READER], "tenant-b");
    const res = await setPlan(accountB, "STANDARD");
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    expect(await written()).toEqual(before);
    expect(await storageTier(accountB, readerB)).toBe("FREE");
    const rows = await admin.query(`SELECT tenant_id FROM protection.plans WHERE account_id = $1`, [
      accountB,
    ]);
    expect(rows.rows.map((r: { tenant_id: string }) => r.tenant_id)).toEqual(["tenant-b"]);
  });

  it("sets the plan of an account of the caller's tenant", async () => {
    const before = await written();
    expect(ok(await setPlan(accountA)).setPlan).toMatchObject({ planType: "STORAGE", tier: "STANDARD" });
    expect(await storageTier(accountA, readerA)).toBe("STANDARD");
    expect(await written()).toEqual({
      plans: before.plans + 1,
      audits: before.audits + 1,
      events: before.events + 1,
    });
  });

  it("changes nothing when posture cannot say whether the account exists", async () => {
    await platform.subgraphs.posture.close();
    try {
      const before = await written();
      const res = await setPlan(accountA, "FREE");
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(["INTERNAL_SERVER_ERROR"]);
      expect(await written()).toEqual(before);
    } finally {
      await platform.restartSubgraph("posture");
    }
    expect(await storageTier(accountA, readerA)).toBe("STANDARD");
  });
});
