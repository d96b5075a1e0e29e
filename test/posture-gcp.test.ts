import type { DataSource } from "typeorm";
import {
  RecommendationsDocument,
  ResourcePostureDocument,
  SecureScoreDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { createLogger, inTenant, Role } from "../subgraphs/common/src";
import {
  BUILT_IN_DEFINITIONS_CHANGED,
  postureTasks,
} from "../subgraphs/posture/src/modules/assessments/assessment.tasks";
import { evaluateTenant } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import {
  builtInDefinitions,
  builtInVersions,
  compileDefinition,
} from "../subgraphs/posture/src/modules/assessments/definition-registry";
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
  it("forgets a built-in an upgrade removed: its assessments and their weight go, nothing else moves", async () => {
    const run = postureTasks(ds, createLogger("test", "silent"))[
      BUILT_IN_DEFINITIONS_CHANGED
    ] as () => Promise<void>;
    // The previous release shipped one more firewall definition, failing every firewall of the project.
    const ssh = builtInDefinitions().find((d) => d.spec.id === "gcp-firewall-ssh-internet")!;
    const retired = compileDefinition(
      {
        ...ssh.spec,
        id: "gcp-firewall-retired",
        title: "A retired firewall check",
        applicability: undefined,
        condition: { field: "name", exists: true },
      },
      "BUILT_IN",
      "test:gcp-firewall-retired",
    );
    const previousRelease = [...builtInDefinitions(), retired];

    /** A tenant with the project's firewalls (and a custom definition on them), as the previous release left it. */
    const onboard = async (tenant: string, evaluatedBefore: boolean) => {
      const tenantAdmin = await platform.token([Role.ADMIN], tenant);
      const [account] = ok(
        await platform.request(
          UpsertAccountsDocument,
          { input: [{ provider: "GCP", externalId: "firewalls", name: "Firewalls" }] },
          tenantAdmin,
        ),
      ).upsertCloudAccounts;
      const input = gcpEstate(account.id).filter((r) => r.type === "compute.googleapis.com/Firewall");
      const { ids } = ok(
        await platform.request(UpsertResourcesDocument, { input }, tenantAdmin),
      ).upsertResources;
      const custom = ok(
        await platform.request(
          CreatePolicyDefinitionDocument,
          {
            input: {
              title: "Firewall rules are not named never",
              severity: "LOW",
              controlId: "secure-management-ports",
              resourceTypes: ["compute.googleapis.com/Firewall"],
              condition: { field: "name", equals: "never" },
            },
          },
          tenantAdmin,
        ),
      ).createPolicyDefinition.id;
      if (evaluatedBefore)
        await inTenant(ds, tenant, async (m) => {
          await evaluateTenant(m, tenant, { builtIns: previousRelease });
          await m.query(`UPDATE built_in_evaluations SET versions = $1::jsonb`, [
            JSON.stringify({ ...builtInVersions(), [retired.spec.id]: "1.0.0" }),
          ]);
          await m.query(
            `INSERT INTO exemptions (tenant_id, id, definition_id, resource_id, category, reason, created_by)
             VALUES ($1, gen_random_uuid(), $2, $3, 'WAIVER', 'Accepted', 'admin')`,
            [tenant, retired.spec.id, ids[0]],
          );
        });
      return { admin: tenantAdmin, reader: await platform.token([Role.READER], tenant), custom };
    };
    const upgraded = "tenant-gcp-removal";
    const fresh = "tenant-gcp-removal-fresh";
    const before = await onboard(upgraded, true);
    const reference = await onboard(fresh, false);

    const score = async (reader: string) =>
      ok(await platform.request(SecureScoreDocument, {}, reader)).secureScore;
    const sshGain = async (reader: string) =>
      ok(await platform.request(RecommendationsDocument, { first: 100 }, reader)).recommendations.nodes.find(
        (r) => r.id === "gcp-firewall-ssh-internet",
      )?.potentialScoreIncrease;
    const rows = (tenant: string, sql: string) => inTenant(ds, tenant, (m) => m.query(sql));
    const assessments = (tenant: string) =>
      rows(
        tenant,
        `SELECT resource_id, definition_id, status, evaluated_at FROM assessments ORDER BY resource_id, definition_id`,
      );
    const countOf = async (tenant: string, definitionId: string) =>
      (
        await inTenant(ds, tenant, (m) =>
          m.query(`SELECT count(*)::int AS n FROM assessments WHERE definition_id = $1`, [definitionId]),
        )
      )[0].n;

    // Before the upgrade's job: the retired rule still weighs on the score and hides the SSH fix's gain.
    expect(await countOf(upgraded, retired.spec.id)).toBe(3);
    expect((await score(before.reader)).current).toBeLessThan((await score(reference.reader)).current);
    expect(await sshGain(before.reader)).toBe(0);
    const customBefore = await countOf(upgraded, before.custom);
    expect(customBefore).toBe(3);
    const freshBefore = await assessments(fresh);

    await run();
    expect(await countOf(upgraded, retired.spec.id)).toBe(0);
    expect(
      await rows(
        upgraded,
        `SELECT count(*)::int AS n FROM assessment_history WHERE definition_id = 'gcp-firewall-retired'`,
      ),
    ).toEqual([{ n: 0 }]);
    expect(await score(before.reader)).toEqual(await score(reference.reader));
    expect(await sshGain(before.reader)).toBe(await sshGain(reference.reader));
    expect(await sshGain(before.reader)).toBeGreaterThan(0);
    expect(await countOf(upgraded, before.custom)).toBe(customBefore);
    expect(await rows(upgraded, `SELECT definition_id FROM exemptions`)).toEqual([
      { definition_id: retired.spec.id },
    ]);
    expect(await rows(upgraded, `SELECT versions FROM built_in_evaluations`)).toEqual([
      { versions: builtInVersions() },
    ]);
    const deleted = `SELECT key, payload FROM outbox WHERE topic = 'policies.definition.deleted'`;
    expect(await rows(upgraded, deleted)).toEqual([
      {
        key: retired.spec.id,
        payload: {
          id: retired.spec.id,
          version: "1.0.0",
          source: "BUILT_IN",
          assessments: 3,
          exemptions: 0,
          settings: 0,
        },
      },
    ]);
    // The other tenant (never on the previous release) is untouched.
    expect(await assessments(fresh)).toEqual(freshBefore);
    // A fresh evaluation of the upgraded tenant finds nothing to change.
    expect((await inTenant(ds, upgraded, (m) => evaluateTenant(m, upgraded))).changedAssessments).toBe(0);

    // Done: a second run changes nothing.
    const after = await assessments(upgraded);
    const scoreAfter = await score(before.reader);
    await run();
    expect(await assessments(upgraded)).toEqual(after);
    expect(await score(before.reader)).toEqual(scoreAfter);
    expect(await rows(upgraded, deleted)).toHaveLength(1);

    // The kept exemption names a rule that is gone: harmless, and its admin can still revoke it.
    const [{ id: exemptionId }] = await rows(upgraded, `SELECT id FROM exemptions`);
    ok(await platform.request(DeleteExemptionDocument, { id: exemptionId }, before.admin));
    expect(await assessments(upgraded)).toEqual(after);
  });
});
