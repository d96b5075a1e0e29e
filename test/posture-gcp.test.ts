import type { DataSource } from "typeorm";
import {
  RecommendationsDocument,
  ResourcePostureDocument,
  SecureScoreDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { createLogger, inTenant, Role } from "../subgraphs/common/src";
import {
  BUILT_IN_DEFINITIONS_CHANGED,
  postureTasks,
} from "../subgraphs/posture/src/modules/assessments/assessment.tasks";
import { builtInVersions } from "../subgraphs/posture/src/modules/assessments/definition-registry";
import { DEMO_ACCOUNTS, demoResources } from "../scripts/lib/demo-estate";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

const GCP_ACCOUNT = DEMO_ACCOUNTS.find((a) => a.key === "gcp")!;

/** The demo GCP project's resources as `ResourceInput`s of the account. */
function gcpEstate(accountId: string): ResourceInput[] {
  return demoResources()
    .filter((r) => r.accountKey === "gcp")
    .map(({ accountKey: _key, ...r }) => ({ ...r, accountId }));
}

describe("GCP posture through the gateway", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let admin: string;
  let reader: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("posture");
    ({ admin, reader } = await platform.tokens({
      admin: [[Role.ADMIN], "tenant-gcp"],
      reader: [[Role.READER], "tenant-gcp"],
    }));
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("assesses the demo GCP project: UNHEALTHY assessments, recommendations and a score below 100 %", async () => {
    const { provider, externalId, name } = GCP_ACCOUNT;
    const [account] = ok(
      await platform.request(UpsertAccountsDocument, { input: [{ provider, externalId, name }] }, admin),
    ).upsertCloudAccounts;
    const input = gcpEstate(account.id);
    const { ids } = ok(await platform.request(UpsertResourcesDocument, { input }, admin)).upsertResources;

    const etl = ok(
      await platform.request(
        ResourcePostureDocument,
        { id: ids[input.findIndex((r) => r.name === "analytics-etl-01")] },
        reader,
      ),
    ).resource!;
    const status = new Map(etl.assessments.nodes.map((a) => [a.definitionId, a.status]));
    expect(status.get("gcp-vm-default-service-account-full-access")).toBe("UNHEALTHY");
    expect(status.get("gcp-vm-public-ip")).toBe("UNHEALTHY");
    expect(status.get("gcp-vm-serial-port-disabled")).toBe("HEALTHY");
    expect(etl.assessments.nodes.find((a) => a.status === "UNHEALTHY")?.cause).toBeTruthy();

    const recommendations = ok(
      await platform.request(
        RecommendationsDocument,
        { filter: { accountId: account.id }, first: 100 },
        reader,
      ),
    ).recommendations.nodes;
    const ssh = recommendations.find((r) => r.id === "gcp-firewall-ssh-internet");
    expect(ssh).toMatchObject({
      severity: "HIGH",
      control: { id: "secure-management-ports" },
      unhealthyCount: 1,
      healthyCount: 2,
      affectedResources: { nodes: [{ name: "default-allow-ssh" }] },
    });
    expect(recommendations.map((r) => r.id)).toEqual(
      expect.arrayContaining([
        "gcp-bucket-public-access-prevention",
        "gcp-sql-require-ssl",
        "gcp-gke-master-authorized-networks",
        "gcp-dns-dnssec",
      ]),
    );
    // Every recommendation of the project is a GCP one, and a healthy definition has none.
    expect(recommendations.every((r) => r.id.startsWith("gcp-"))).toBe(true);
    expect(recommendations.some((r) => r.id === "gcp-gke-legacy-abac")).toBe(false);

    const score = ok(
      await platform.request(SecureScoreDocument, { accountId: account.id }, reader),
    ).secureScore;
    expect(score.max).toBeGreaterThan(0);
    expect(score.percentage).toBeGreaterThan(0);
    expect(score.percentage).toBeLessThan(1);
  });

  it("evaluates definitions a tenant's inventory predates once, when the benchmark changes", async () => {
    const tenant = "tenant-gcp-upgrade";
    const upgradeAdmin = await platform.token([Role.ADMIN], tenant);
    const upgradeReader = await platform.token([Role.READER], tenant);
    const [account] = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "GCP", externalId: "legacy-project", name: "Legacy" }] },
        upgradeAdmin,
      ),
    ).upsertCloudAccounts;
    const input = gcpEstate(account.id).filter((r) => r.type === "compute.googleapis.com/Firewall");
    const { ids } = ok(
      await platform.request(UpsertResourcesDocument, { input }, upgradeAdmin),
    ).upsertResources;
    const current = builtInVersions();
    expect(await inTenant(ds, tenant, (m) => m.query(`SELECT versions FROM built_in_evaluations`))).toEqual([
      { versions: current },
    ]);

    // As before the upgrade: the firewall definitions did not exist, so neither did their assessments.
    const before = Object.fromEntries(
      Object.entries(current).filter(([id]) => !id.startsWith("gcp-firewall-")),
    );
    await inTenant(ds, tenant, async (m) => {
      await m.query(`DELETE FROM assessments`);
      await m.query(`DELETE FROM control_states`);
      await m.query(`DELETE FROM score_counters`);
      await m.query(`UPDATE built_in_evaluations SET versions = $1::jsonb`, [JSON.stringify(before)]);
    });
    const ssh = async () =>
      ok(
        await platform.request(RecommendationsDocument, { first: 100 }, upgradeReader),
      ).recommendations.nodes.find((r) => r.id === "gcp-firewall-ssh-internet");
    expect(await ssh()).toBeUndefined();

    const run = postureTasks(ds, createLogger("test", "silent"))[
      BUILT_IN_DEFINITIONS_CHANGED
    ] as () => Promise<void>;
    await run();
    expect(await ssh()).toMatchObject({ unhealthyCount: 1, healthyCount: 2 });
    expect(await inTenant(ds, tenant, (m) => m.query(`SELECT versions FROM built_in_evaluations`))).toEqual([
      { versions: current },
    ]);
    const assessments = async () =>
      inTenant(ds, tenant, (m) =>
        m.query(`SELECT count(*)::int AS n, max(evaluated_at) AS at FROM assessments`),
      );
    const evaluated = await assessments();
    expect(evaluated[0].n).toBeGreaterThan(0);
    expect(ids).toHaveLength(3);

    // Up to date now: running it again changes nothing.
    await run();
    expect(await assessments()).toEqual(evaluated);
  });
});
