import type { DataSource, EntityManager } from "typeorm";
import {
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  DeletePolicyDefinitionDocument,
  RecommendationsDocument,
  RemoveResourcesDocument,
  SetPolicyDefinitionEnabledDocument,
  UpdatePolicyDefinitionDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpsertResourcesDocument,
  type PolicyDefinitionInput,
  type ResourceInput,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { evaluateTenant, loadCounters } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import { benchmarkControls } from "../subgraphs/posture/src/modules/assessments/controls";
import { computeSecureScore } from "../subgraphs/posture/src/modules/score/secure-score";
import { syntheticResources } from "../scripts/lib/demo-estate";
import { DefinitionCounters1767360000000 } from "../migrations/posture/1767360000000-definition-counters";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, resourceInputOf } from "./utils/seed";

/**
 * The recommendation counters (`definition_counters` and `definition_flips`, kept by triggers on `assessments`
 * and `control_states`)
 * against the aggregates the recommendations were computed with before them, run here directly as the
 * reference: after every kind of write (evaluation, changed resources, reported assessments, exemptions,
 * disabled definitions, a custom definition created, moved to another control and deleted, removed resources,
 * concurrent writes, a full re-evaluation from nothing), tenant-wide and per account, both the counters
 * themselves and the recommendations the gateway serves from them.
 */

/** Per definition: its assessments by status (as recommendations.service.ts counted them per request). */
const REFERENCE_COUNTS = (account: boolean) =>
  `SELECT definition_id, count(*) FILTER (WHERE status = 'HEALTHY')::int AS healthy,
          count(*) FILTER (WHERE status = 'UNHEALTHY')::int AS unhealthy,
          count(*) FILTER (WHERE status = 'NOT_APPLICABLE')::int AS not_applicable
   FROM assessments WHERE tenant_id = $1 ${account ? "AND account_id = $2" : ""} GROUP BY definition_id ORDER BY 1`;
/** Per definition and control: unhealthy assessments that are their resource's only unhealthy one there. */
const REFERENCE_FLIPS = (account: boolean) =>
  `SELECT a.definition_id, a.control_id, count(*)::int AS flips FROM assessments a
   JOIN control_states s ON s.tenant_id = a.tenant_id AND s.resource_id = a.resource_id AND s.control_id = a.control_id
   WHERE a.tenant_id = $1 AND a.status = 'UNHEALTHY' AND s.unhealthy_count = 1 ${account ? "AND a.account_id = $2" : ""}
   GROUP BY a.definition_id, a.control_id ORDER BY 1, 2`;
/** The same two from the counters. */
const COUNTER_COUNTS = (account: boolean) =>
  `SELECT definition_id, sum(healthy)::int AS healthy, sum(unhealthy)::int AS unhealthy,
          sum(not_applicable)::int AS not_applicable
   FROM definition_counters WHERE tenant_id = $1 ${account ? "AND account_id = $2" : ""} GROUP BY definition_id
   HAVING sum(healthy) <> 0 OR sum(unhealthy) <> 0 OR sum(not_applicable) <> 0 ORDER BY 1`;
const COUNTER_FLIPS = (account: boolean) =>
  `SELECT definition_id, control_id, sum(flips)::int AS flips
   FROM definition_flips WHERE tenant_id = $1 ${account ? "AND account_id = $2" : ""}
   GROUP BY definition_id, control_id HAVING sum(flips) <> 0 ORDER BY 1, 2`;

interface Counts {
  definition_id: string;
  healthy: number;
  unhealthy: number;
  not_applicable: number;
}
interface Flips {
  definition_id: string;
  control_id: string;
  flips: number;
}

describe("posture: recommendations from counters", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let tenantSeq = 0;
  let tenant: string;
  let admin: string;
  let reader: string;
  let azure: string;
  let aws: string;

  beforeAll(async () => {
    platform = await startTestPlatform();
    ds = await platform.connect("posture");
  });
  afterAll(() => platform?.stop());
  beforeEach(async () => {
    tenant = `tenant-counters-${++tenantSeq}`;
    admin = await platform.token([Role.ADMIN], tenant);
    reader = await platform.token([Role.READER], tenant);
    [azure, aws] = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: "0a6c1f3e-2b4d-4e8f-9a71-3d5c7e9f1b24", name: "Production" },
            { provider: "AWS", externalId: "210987654321", name: "Workloads" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts.map((a) => a.id);
  });

  /** The demo estate's synthetic resources (seeded: another seed gives the same ids other configurations). */
  const estate = (seed: number): ResourceInput[] => [
    ...syntheticResources(40, "azure", seed).map((r) => ({ ...resourceInputOf(r), accountId: azure })),
    ...syntheticResources(30, "aws", seed).map((r) => ({ ...resourceInputOf(r), accountId: aws })),
  ];
  const upsert = async (input: ResourceInput[]) =>
    ok(await platform.request(UpsertResourcesDocument, { input }, admin)).upsertResources.ids;

  const read = <T>(work: (m: EntityManager) => Promise<T>) => inTenant(ds, tenant, work);
  const params = (accountId?: string) => (accountId ? [tenant, accountId] : [tenant]);

  /** Asserts that the counters and the recommendations served from them agree with the reference, in every scope. */
  const expectCountersToAgree = async () => {
    for (const accountId of [undefined, azure, aws]) {
      const scope = accountId ? "account" : "tenant";
      const [counts, flips, counterCounts, counterFlips, scoreCounters] = await read(
        async (m) =>
          [
            (await m.query(REFERENCE_COUNTS(!!accountId), params(accountId))) as Counts[],
            (await m.query(REFERENCE_FLIPS(!!accountId), params(accountId))) as Flips[],
            (await m.query(COUNTER_COUNTS(!!accountId), params(accountId))) as Counts[],
            (await m.query(COUNTER_FLIPS(!!accountId), params(accountId))) as Flips[],
            await loadCounters(m, tenant, accountId),
          ] as const,
      );
      expect({ scope, counts: counterCounts, flips: counterFlips }).toEqual({ scope, counts, flips });

      // What the recommendations were before the counters, from the reference rows.
      const score = computeSecureScore(benchmarkControls(), scoreCounters);
      const served = ok(
        await platform.request(RecommendationsDocument, { first: 100, filter: { accountId } }, reader),
      ).recommendations.nodes;
      const expected = counts
        .filter((c) => c.unhealthy > 0)
        .map((c) => {
          const node = served.find((n) => n.id === c.definition_id);
          const control = score.controls.find((s) => s.controlId === node?.control.id);
          const f = flips.find((x) => x.definition_id === c.definition_id)?.flips ?? 0;
          const gain = control && control.weight > 0 ? (control.max * f) / control.weight : 0;
          return {
            scope,
            id: c.definition_id,
            healthyCount: c.healthy,
            unhealthyCount: c.unhealthy,
            notApplicableCount: c.not_applicable,
            potentialScoreIncrease: Math.round(gain * 100) / 100,
            potentialScoreIncreasePercentage:
              score.max > 0 ? Math.round((gain / score.max) * 10000) / 10000 : 0,
          };
        });
      const actual = served
        .map((n) => ({
          scope,
          id: n.id,
          healthyCount: n.healthyCount,
          unhealthyCount: n.unhealthyCount,
          notApplicableCount: n.notApplicableCount,
          potentialScoreIncrease: n.potentialScoreIncrease,
          potentialScoreIncreasePercentage: n.potentialScoreIncreasePercentage,
        }))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(actual).toEqual(expected);
    }
  };

  /** A built-in definition with unhealthy resources in both accounts, and one of its unhealthy resources. */
  const unhealthyPick = async () => {
    const rows: Array<{
      definition_id: string;
      control_id: string;
      resource_id: string;
      account_id: string;
    }> = await read((m) =>
      m.query(
        `SELECT definition_id, control_id, resource_id, account_id FROM assessments
           WHERE status = 'UNHEALTHY' AND source = 'BUILT_IN' AND definition_id <> 'resource-owner-tag'
           ORDER BY definition_id, resource_id`,
      ),
    );
    expect(rows.length).toBeGreaterThan(10);
    return rows;
  };

  it("agree after evaluation, changed resources, reported assessments, exemptions and disabled definitions", async () => {
    const ids = await upsert(estate(1));
    await expectCountersToAgree();
    const [, flipsBefore] = await read((m) =>
      Promise.all([m.query(REFERENCE_COUNTS(false), [tenant]), m.query(REFERENCE_FLIPS(false), [tenant])]),
    );
    expect(flipsBefore.length).toBeGreaterThan(5);

    // Half the estate reconfigured: statuses move both ways, flips come and go.
    await upsert(estate(2).filter((_, i) => i % 2 === 0));
    await expectCountersToAgree();

    // Reported assessments in the controls of built-in ones: another unhealthy assessment takes the flips away.
    const picks = await unhealthyPick();
    const report = (status: "UNHEALTHY" | "HEALTHY") =>
      platform.request(
        UpsertAssessmentsDocument,
        {
          input: picks.slice(0, 6).map((p) => ({
            resourceId: p.resource_id,
            definitionKey: "scanner/extra-check",
            title: "An extra check should pass",
            severity: "HIGH" as const,
            controlId: p.control_id,
            status,
            cause: status === "UNHEALTHY" ? "failed" : null,
          })),
        },
        admin,
      );
    expect(ok(await report("UNHEALTHY")).upsertAssessments.rejected).toEqual([]);
    await expectCountersToAgree();
    ok(await report("HEALTHY"));
    await expectCountersToAgree();

    // Exemptions: one resource, one account, the tenant; then revoked.
    const [first] = picks;
    const exemptions: string[] = [];
    for (const scope of [{ resourceId: first.resource_id }, { accountId: first.account_id }, {}]) {
      exemptions.push(
        ok(
          await platform.request(
            CreateExemptionDocument,
            {
              input: { definitionId: first.definition_id, category: "WAIVER", reason: "Accepted", ...scope },
            },
            admin,
          ),
        ).createExemption.id,
      );
      await expectCountersToAgree();
    }
    for (const id of exemptions) {
      ok(await platform.request(DeleteExemptionDocument, { id }, admin));
      await expectCountersToAgree();
    }

    // A definition disabled in an account (its assessments there go), then enabled again.
    const other = picks.find((p) => p.definition_id !== first.definition_id)!;
    for (const enabled of [false, true]) {
      ok(
        await platform.request(
          SetPolicyDefinitionEnabledDocument,
          { input: { definitionId: other.definition_id, accountId: other.account_id, enabled } },
          admin,
        ),
      );
      await expectCountersToAgree();
    }

    // Removed resources take their assessments, control states and flips with them.
    ok(await platform.request(RemoveResourcesDocument, { ids: ids.slice(0, 15) }, admin));
    await expectCountersToAgree();
  });

  it("agree after a custom definition is created, moved to another control and deleted, and after a full re-evaluation", async () => {
    await upsert(estate(3));
    const picks = await unhealthyPick();
    // A custom definition on a type the estate has, in the control of one of its unhealthy built-ins, so that
    // their resources have two unhealthy assessments there.
    const type: string = (
      await read((m) => m.query(`SELECT type FROM resources WHERE id = $1`, [picks[0].resource_id]))
    )[0].type;
    const definition = (controlId: string): PolicyDefinitionInput => ({
      title: "Every resource should have a cost centre",
      severity: "LOW",
      controlId,
      resourceTypes: [type],
      condition: { field: "tags.costCentre", exists: false },
    });
    const id = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        { input: definition(picks[0].control_id) },
        admin,
      ),
    ).createPolicyDefinition.id;
    await expectCountersToAgree();
    const otherControl = picks.find((p) => p.control_id !== picks[0].control_id)?.control_id ?? "enable-mfa";
    ok(
      await platform.request(UpdatePolicyDefinitionDocument, { id, input: definition(otherControl) }, admin),
    );
    await expectCountersToAgree();
    ok(await platform.request(DeletePolicyDefinitionDocument, { id }, admin));
    await expectCountersToAgree();

    // A full evaluation from empty tables (the bench's and a re-evaluation's path, with its insert-only pages).
    await read(async (m) => {
      await m.query(`DELETE FROM assessments WHERE source <> 'EXTERNAL'`);
      await m.query(`DELETE FROM control_states`);
      await m.query(`DELETE FROM score_counters`);
      expect(await m.query(COUNTER_COUNTS(false), [tenant])).toEqual([]);
      await evaluateTenant(m, tenant);
    });
    await expectCountersToAgree();
  });

  it("agree after concurrent writes to the same accounts and resources", async () => {
    const ids = await upsert(estate(4));
    const picks = await unhealthyPick();
    await Promise.all([
      upsert(estate(5).filter((_, i) => i % 3 === 0)),
      upsert(estate(6).filter((_, i) => i % 3 === 1)),
      upsert(estate(7).filter((_, i) => i % 3 === 2)),
      platform
        .request(
          CreateExemptionDocument,
          {
            input: {
              definitionId: picks[0].definition_id,
              accountId: picks[0].account_id,
              category: "MITIGATED",
              reason: "Compensating control",
            },
          },
          admin,
        )
        .then(ok),
      platform.request(RemoveResourcesDocument, { ids: ids.slice(-5) }, admin).then(ok),
      platform
        .request(
          UpsertAssessmentsDocument,
          {
            input: picks.slice(0, 4).map((p) => ({
              resourceId: p.resource_id,
              definitionKey: "scanner/concurrent-check",
              title: "A concurrent check should pass",
              severity: "MEDIUM" as const,
              controlId: p.control_id,
              status: "UNHEALTHY" as const,
              cause: "failed",
            })),
          },
          admin,
        )
        .then(ok),
    ]);
    await expectCountersToAgree();
  });

  it("are filled in for existing tenants by their migration, as the triggers left them", async () => {
    await upsert(estate(8));
    const picks = await unhealthyPick();
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        {
          input: picks.slice(0, 3).map((p) => ({
            resourceId: p.resource_id,
            definitionKey: "scanner/migrated-check",
            title: "A migrated check should pass",
            severity: "LOW" as const,
            controlId: p.control_id,
            status: "UNHEALTHY" as const,
            cause: "failed",
          })),
        },
        admin,
      ),
    );
    const counters = () =>
      read(async (m) => ({
        counts: await m.query(COUNTER_COUNTS(false), [tenant]),
        flips: await m.query(COUNTER_FLIPS(false), [tenant]),
        states: await m.query(
          `SELECT resource_id, control_id, unhealthy_definition_id, unhealthy_account_id FROM control_states ORDER BY 1, 2`,
        ),
      }));
    const kept = await counters();
    // Down and up again, as the posture role runs migrations: the counters and the control states' named
    // assessments are rebuilt from the assessments alone.
    const q = ds.createQueryRunner();
    try {
      await q.startTransaction();
      const migration = new DefinitionCounters1767360000000();
      await migration.down(q);
      await migration.up(q);
      await q.commitTransaction();
    } finally {
      await q.release();
    }
    expect(await counters()).toEqual(kept);
    await expectCountersToAgree();
  });
});
