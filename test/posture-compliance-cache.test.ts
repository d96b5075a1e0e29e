import type { DataSource, EntityManager } from "typeorm";
import {
  AccountComplianceStandardsDocument,
  AccountsComplianceDocument,
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  DeletePolicyDefinitionDocument,
  RemoveResourcesDocument,
  SetPolicyDefinitionEnabledDocument,
  UpdatePolicyDefinitionDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpsertResourcesDocument,
  type AccountComplianceStandardsQuery,
  type PolicyDefinitionInput,
  type ResourceInput,
} from "./__generated__/graphql";
import { inSystemScope, inTenant, Role } from "../subgraphs/common/src";
import { evaluateTenant } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import { pruneAssessmentChanges } from "../subgraphs/posture/src/modules/assessments/assessment.tasks";
import { loadBenchmark } from "../subgraphs/posture/src/modules/policies/benchmark";
import { syntheticResources } from "../scripts/lib/demo-estate";
import { AssessmentChanges1767380000000 } from "../migrations/posture/1767380000000-assessment-changes";
import { register } from "prom-client";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok, resourceInputOf } from "./utils/seed";

/**
 * Regulatory compliance from signatures kept per tenant with the snapshot they were read in, checked against the
 * assessment change log (`assessment_changes`, written by triggers on `assessments`), against the aggregate
 * compliance was computed with before, run here directly as the reference: after every kind of write (evaluation,
 * changed resources, reported assessments, exemptions, a disabled definition, resources moved to another account
 * and removed, a custom definition created, moved and deleted, a full re-evaluation from nothing, concurrent
 * writes, the migration, the log's pruning), tenant-wide and per account, what the gateway serves
 * (`complianceStandards` and `CloudAccount.compliance`), first read and kept; a change committed while kept shows in
 * the next read, an uncommitted one and another tenant's do not, nor does a rewrite of what compliance does not read.
 */

/**
 * Per standard control, the resources with a HEALTHY or UNHEALTHY assessment of a mapped definition and those
 * with an UNHEALTHY one: the statement of `ComplianceService.standards` before the signatures, kept verbatim so
 * that the reference does not move with the code it checks.
 */
const REFERENCE_STANDARDS = `SELECT p.control, count(DISTINCT a.resource_id) FILTER (WHERE a.status IN ('HEALTHY', 'UNHEALTHY'))::int AS assessed,
        count(DISTINCT a.resource_id) FILTER (WHERE a.status = 'UNHEALTHY')::int AS failed
 FROM unnest($2::text[], $3::text[]) AS p(control, definition)
 JOIN assessments a ON a.tenant_id = $1 AND a.definition_id = p.definition AND ($4::uuid IS NULL OR a.account_id = $4::uuid)
 GROUP BY p.control`;
/** The same per account, for several accounts at once: the statement of `ComplianceService.byAccount`. */
const REFERENCE_BY_ACCOUNT = `SELECT a.account_id, p.control,
        count(DISTINCT a.resource_id) FILTER (WHERE a.status IN ('HEALTHY', 'UNHEALTHY'))::int AS assessed,
        count(DISTINCT a.resource_id) FILTER (WHERE a.status = 'UNHEALTHY')::int AS failed
 FROM unnest($2::text[], $3::text[]) AS p(control, definition)
 JOIN assessments a ON a.tenant_id = $1 AND a.definition_id = p.definition AND a.account_id = ANY($4::uuid[])
 GROUP BY a.account_id, p.control`;

/**
 * Per account and resource, from the assessments, the sorted ids of the definitions assessed HEALTHY or UNHEALTHY
 * and of those assessed UNHEALTHY (resources with none left out): what the steps compare to see that their write
 * reached the assessments compliance reads.
 */
const REFERENCE_RESOURCES = `SELECT account_id, resource_id,
        array_agg(definition_id COLLATE "C" ORDER BY definition_id COLLATE "C") AS assessed,
        coalesce(array_agg(definition_id COLLATE "C" ORDER BY definition_id COLLATE "C")
                   FILTER (WHERE status = 'UNHEALTHY'), '{}') AS unhealthy
 FROM assessments WHERE tenant_id = $1 AND status IN ('HEALTHY', 'UNHEALTHY')
 GROUP BY account_id, resource_id`;
const RESOURCE_ORDER = `ORDER BY account_id, resource_id`;

/** Lookups of the compliance cache so far, by result (`hit`, `miss`, `bypass`). */
async function cacheLookups(): Promise<Record<string, number>> {
  const metric = register.getSingleMetric("rampart_compliance_cache_total");
  const values = metric ? (await metric.get()).values : [];
  return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
}

interface ControlRow {
  control: string;
  assessed: number;
  failed: number;
}
type Standards = AccountComplianceStandardsQuery["complianceStandards"];

/** (standard|control, definition) pairs of every shipped standard, as two parallel arrays for `unnest`. */
function controlPairs(): [string[], string[]] {
  const pairs = loadBenchmark().standards.flatMap((s) =>
    s.controls.flatMap((c) => c.definitions.map((d) => [`${s.id}|${c.id}`, d] as const)),
  );
  return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
}

/** Every definition some standard maps, which are the ones whose writes compliance can see. */
const mappedDefinitions = () => [...new Set(controlPairs()[1])].sort();

/** `part` of `whole` in percent, rounded to two decimals; null when `whole` is 0. */
const percentage = (part: number, whole: number) =>
  whole === 0 ? null : Math.round((part / whole) * 10000) / 100;

/**
 * The standards as `ComplianceService.build` made them from control rows before the signatures (the fields the
 * test operations select): a control FAILED with a failed resource, PASSED with a passed one, else SKIPPED.
 */
function expectedStandards(rows: ControlRow[]): Standards {
  const byControl = new Map(rows.map((r) => [r.control, r]));
  return loadBenchmark().standards.map((s) => {
    const controls = s.controls.map((c) => {
      const r = byControl.get(`${s.id}|${c.id}`);
      const failed = r?.failed ?? 0;
      const passed = (r?.assessed ?? 0) - failed;
      return {
        id: c.id,
        state: failed > 0 ? "FAILED" : passed > 0 ? "PASSED" : "SKIPPED",
        passedResources: passed,
        failedResources: failed,
        passedResourcesPercentage: percentage(passed, passed + failed),
      } as const;
    });
    const passedControls = controls.filter((c) => c.state === "PASSED").length;
    const failedControls = controls.filter((c) => c.state === "FAILED").length;
    return {
      id: s.id,
      name: s.name,
      passedControls,
      failedControls,
      skippedControls: controls.filter((c) => c.state === "SKIPPED").length,
      passedControlsPercentage: percentage(passedControls, passedControls + failedControls),
      controls,
    };
  });
}

/** A tenant of a test: its tokens and its two accounts (Azure, AWS). */
interface Tenant {
  id: string;
  admin: string;
  reader: string;
  azure: string;
  aws: string;
}

describe("posture: compliance kept between requests", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let tenantSeq = 0;
  let t: Tenant;

  const newTenant = async (): Promise<Tenant> => {
    const id = `tenant-compliance-${++tenantSeq}`;
    const admin = await platform.token([Role.ADMIN], id);
    const reader = await platform.token([Role.READER], id);
    const [azure, aws] = ok(
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
    return { id, admin, reader, azure, aws };
  };

  beforeAll(async () => {
    // No job runner: the hourly prune (`17 * * * *`, POSTURE_CRONTAB) moves the change log's horizon; the tests
    // prune when they mean to.
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("posture");
  });
  afterAll(() => platform?.stop());
  beforeEach(async () => {
    await pastHorizon();
    t = await newTenant();
  });

  /** The demo estate's synthetic resources (seeded: another seed gives the same ids other configurations). */
  const estate = (seed: number, of: Tenant = t): ResourceInput[] => [
    ...syntheticResources(40, "azure", seed).map((r) => ({ ...resourceInputOf(r), accountId: of.azure })),
    ...syntheticResources(30, "aws", seed).map((r) => ({ ...resourceInputOf(r), accountId: of.aws })),
  ];
  const upsert = async (input: ResourceInput[], of: Tenant = t) =>
    ok(await platform.request(UpsertResourcesDocument, { input }, of.admin)).upsertResources.ids;

  const read = <T>(work: (m: EntityManager) => Promise<T>, of: Tenant = t) => inTenant(ds, of.id, work);
  /**
   * Waits until new snapshots start past the change log's horizon. Kept compliance is only trusted from a snapshot
   * whose xmin reaches the horizon, and xmin is the cluster's: a transaction another suite holds open in another
   * database keeps it below a horizon just raised, and every read until it ends reads again.
   */
  const pastHorizon = async () => {
    for (let i = 0; i < 200; i++) {
      const [{ past }]: Array<{ past: boolean }> = await ds.query(
        `SELECT pg_snapshot_xmin(pg_current_snapshot()) >= (SELECT horizon FROM assessment_changes_horizon) AS past`,
      );
      if (past) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("an older transaction of the cluster stayed open for 10 s");
  };
  /**
   * Waits until every transaction of the cluster older than now has ended, so that a prune can drop the rows
   * written so far (it keeps what a snapshot still open might need, whichever database it is in).
   */
  const othersEnded = async () => {
    const [{ now }]: Array<{ now: string }> = await ds.query(`SELECT pg_current_xact_id()::text AS now`);
    for (let i = 0; i < 200; i++) {
      const [{ ended }]: Array<{ ended: boolean }> = await ds.query(
        `SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8 AS ended`,
        [now],
      );
      if (ended) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("an older transaction of the cluster stayed open for 10 s");
  };

  /** The reference compliance of a tenant: tenant-wide and per account, from today's statements. */
  const referenceCompliance = (of: Tenant) =>
    read(async (m) => {
      const tenantRows: ControlRow[] = await m.query(REFERENCE_STANDARDS, [of.id, ...controlPairs(), null]);
      const accountRows: Array<ControlRow & { account_id: string }> = await m.query(REFERENCE_BY_ACCOUNT, [
        of.id,
        ...controlPairs(),
        [of.azure, of.aws],
      ]);
      const byScope: Record<string, Standards> = { tenant: expectedStandards(tenantRows) };
      for (const a of [of.azure, of.aws])
        byScope[a] = expectedStandards(accountRows.filter((r) => r.account_id === a));
      return byScope;
    }, of);

  /** What the gateway serves a tenant's reader, in the reference's shape. */
  const servedCompliance = async (of: Tenant) => {
    const standards = async (accountId?: string) =>
      ok(await platform.request(AccountComplianceStandardsDocument, { accountId }, of.reader))
        .complianceStandards;
    const served: Record<string, Standards> = { tenant: await standards() };
    for (const a of [of.azure, of.aws]) served[a] = await standards(a);
    // The field on the accounts, batched in one statement for both: the same answer as the query by account.
    const accounts = ok(await platform.request(AccountsComplianceDocument, { first: 10 }, of.reader)).accounts
      .nodes;
    expect(accounts.map((a) => a.id).sort()).toEqual([of.azure, of.aws].sort());
    for (const a of accounts) served[`field:${a.id}`] = a.compliance;
    return served;
  };

  /** Per account and resource, its assessed and unhealthy definitions, from the assessments. */
  const resourceSets = (of: Tenant) =>
    read((m) => m.query(`${REFERENCE_RESOURCES} ${RESOURCE_ORDER}`, [of.id]) as Promise<unknown[]>, of);

  /** The compliance cache's reads (every account read again, or only those changed) while `work` runs. */
  const readsDuring = async (work: () => Promise<unknown>) => {
    const count = async () => {
      const c = await cacheLookups();
      return { all: c.miss ?? 0, changed: c.partial ?? 0 };
    };
    const before = await count();
    await work();
    const after = await count();
    return { all: after.all - before.all, changed: after.changed - before.changed };
  };
  const NONE = { all: 0, changed: 0 };

  /**
   * Asserts that the served compliance (both fields, every scope) agrees with the reference, and again when read
   * a second time, from what was kept (no new aggregate); returns the reference and the resources' sets: the steps
   * check with them that their write reached compliance at all.
   */
  const expectComplianceToAgree = async (of: Tenant = t) => {
    const reference = await referenceCompliance(of);
    const expected = {
      ...reference,
      [`field:${of.azure}`]: reference[of.azure],
      [`field:${of.aws}`]: reference[of.aws],
    };
    expect(await servedCompliance(of)).toEqual(expected);
    const before = await cacheLookups();
    expect(await servedCompliance(of)).toEqual(expected);
    const after = await cacheLookups();
    expect({
      misses: after.miss ?? 0,
      partial: after.partial ?? 0,
      hits: (after.hit ?? 0) > (before.hit ?? 0),
    }).toEqual({ misses: before.miss ?? 0, partial: before.partial ?? 0, hits: true });
    return { compliance: reference, resources: await resourceSets(of) };
  };

  /** Unhealthy built-in assessments of definitions some standard maps, to aim writes where compliance sees them. */
  const unhealthyPick = async () => {
    const rows: Array<{
      definition_id: string;
      control_id: string;
      resource_id: string;
      account_id: string;
    }> = await read((m) =>
      m.query(
        `SELECT definition_id, control_id, resource_id, account_id FROM assessments
           WHERE status = 'UNHEALTHY' AND source = 'BUILT_IN' AND definition_id = ANY($1::text[])
           ORDER BY definition_id, resource_id`,
        [mappedDefinitions()],
      ),
    );
    expect(rows.length).toBeGreaterThan(10);
    return rows;
  };

  it("agree after evaluation, changed resources, reported assessments, exemptions, disabled definitions, moved and removed resources", async () => {
    const ids = await upsert(estate(1));
    let before = await expectComplianceToAgree();
    // The estate gives every state something to compare, in both accounts.
    for (const scope of [before.compliance.tenant, before.compliance[t.azure], before.compliance[t.aws]]) {
      const states = new Set(scope.flatMap((s) => s.controls.map((c) => c.state)));
      expect([...states].sort()).toEqual(["FAILED", "PASSED", "SKIPPED"]);
    }
    /** Checks a step against the reference, and that it changed what it should have (the test aims true). */
    const step = async (changes: "compliance" | "resources" | "nothing") => {
      const after = await expectComplianceToAgree();
      if (changes === "compliance") expect(after.compliance).not.toEqual(before.compliance);
      if (changes === "resources") expect(after.resources).not.toEqual(before.resources);
      if (changes === "nothing") expect(after).toEqual(before);
      before = after;
    };

    // Half the estate reconfigured: resources pass and fail controls both ways.
    await upsert(estate(2).filter((_, i) => i % 2 === 0));
    await step("compliance");

    // Reported assessments on resources with unhealthy mapped built-ins: their keys belong to no standard, so
    // compliance stays as it was while the resources' definitions change.
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
        t.admin,
      );
    expect(ok(await report("UNHEALTHY")).upsertAssessments.rejected).toEqual([]);
    await step("resources");
    ok(await report("HEALTHY"));
    await step("resources");

    // Exemptions of three mapped definitions, those with the most unhealthy resources (so that the exemptions
    // show in compliance): one resource of the first, one account of the second, the tenant for the third; then
    // revoked, widest first.
    const unhealthyOf = (d: string) => picks.filter((p) => p.definition_id === d).length;
    const ranked = [...new Set(picks.map((p) => p.definition_id))]
      .sort((a, b) => unhealthyOf(b) - unhealthyOf(a) || (a < b ? -1 : 1))
      .map((d) => picks.find((p) => p.definition_id === d)!);
    const unexempted = before.compliance;
    const exemptions: string[] = [];
    for (const [pick, scope] of [
      [ranked[0], { resourceId: ranked[0].resource_id }],
      [ranked[1], { accountId: ranked[1].account_id }],
      [ranked[2], {}],
    ] as const) {
      exemptions.push(
        ok(
          await platform.request(
            CreateExemptionDocument,
            { input: { definitionId: pick.definition_id, category: "WAIVER", reason: "Accepted", ...scope } },
            t.admin,
          ),
        ).createExemption.id,
      );
      await step("resources");
    }
    expect(before.compliance).not.toEqual(unexempted);
    for (const id of exemptions.reverse()) {
      ok(await platform.request(DeleteExemptionDocument, { id }, t.admin));
      await step("resources");
    }
    expect(before.compliance).toEqual(unexempted);

    // A mapped definition disabled in an account (its assessments there go), then enabled again.
    for (const enabled of [false, true]) {
      ok(
        await platform.request(
          SetPolicyDefinitionEnabledDocument,
          { input: { definitionId: ranked[3].definition_id, accountId: ranked[3].account_id, enabled } },
          t.admin,
        ),
      );
      await step("compliance");
    }

    // Resources moved to the other account (the inventory takes a known external id with another account): their
    // assessments, the reported ones included, count there now.
    const moving = [...new Set(picks.slice(0, 6).map((p) => p.resource_id))];
    const rows: Array<{
      account_id: string;
      external_id: string;
      type: string;
      name: string;
      region: string | null;
      resource_group: string | null;
      tags: Record<string, string>;
      properties: Record<string, unknown>;
    }> = await read((m) =>
      m.query(
        `SELECT account_id, external_id, type, name, region, resource_group, tags, properties FROM resources
           WHERE id = ANY($1::uuid[]) ORDER BY id`,
        [moving],
      ),
    );
    const moved: ResourceInput[] = rows.map((r) => ({
      accountId: r.account_id === t.azure ? t.aws : t.azure,
      externalId: r.external_id,
      type: r.type,
      name: r.name,
      region: r.region,
      resourceGroup: r.resource_group,
      tags: r.tags,
      properties: r.properties,
    }));
    expect(await upsert(moved)).toHaveLength(moving.length);
    await step("compliance");
    const stillThere: unknown[] = await read((m) =>
      m.query(
        `SELECT a.resource_id FROM assessments a JOIN resources r ON r.id = a.resource_id
         WHERE a.resource_id = ANY($1::uuid[]) AND a.account_id <> r.account_id`,
        [moving],
      ),
    );
    expect(stillThere).toEqual([]);

    // Removed resources take their assessments with them.
    ok(await platform.request(RemoveResourcesDocument, { ids: ids.slice(0, 15) }, t.admin));
    await step("compliance");
  });

  it("agree after a custom definition is created, moved to another control and deleted, and after a full re-evaluation", async () => {
    await upsert(estate(3));
    const before = await expectComplianceToAgree();
    const picks = await unhealthyPick();
    // A custom definition on a type the estate has, in the security control of an unhealthy mapped built-in: no
    // standard maps it, so compliance stays, but the resources' definitions change.
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
        t.admin,
      ),
    ).createPolicyDefinition.id;
    const created = await expectComplianceToAgree();
    expect(created.compliance).toEqual(before.compliance);
    expect(created.resources).not.toEqual(before.resources);
    const otherControl = picks.find((p) => p.control_id !== picks[0].control_id)?.control_id ?? "enable-mfa";
    ok(
      await platform.request(
        UpdatePolicyDefinitionDocument,
        { id, input: definition(otherControl) },
        t.admin,
      ),
    );
    expect(await expectComplianceToAgree()).toEqual(created);
    ok(await platform.request(DeletePolicyDefinitionDocument, { id }, t.admin));
    expect(await expectComplianceToAgree()).toEqual(before);

    // A full evaluation from empty tables (the bench's and a re-evaluation's path, with its insert-only pages).
    await read(async (m) => {
      await m.query(`DELETE FROM assessments WHERE source <> 'EXTERNAL'`);
      await m.query(`DELETE FROM control_states`);
      await m.query(`DELETE FROM score_counters`);
    });
    const emptied = await expectComplianceToAgree();
    expect(emptied.resources).toEqual([]);
    expect(emptied.compliance.tenant.every((s) => s.skippedControls === s.controls.length)).toBe(true);
    await read((m) => evaluateTenant(m, t.id));
    expect(await expectComplianceToAgree()).toEqual(before);
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
          t.admin,
        )
        .then(ok),
      platform
        .request(
          SetPolicyDefinitionEnabledDocument,
          {
            input: { definitionId: picks[picks.length - 1].definition_id, accountId: t.aws, enabled: false },
          },
          t.admin,
        )
        .then(ok),
      platform.request(RemoveResourcesDocument, { ids: ids.slice(-5) }, t.admin).then(ok),
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
          t.admin,
        )
        .then(ok),
    ]);
    await expectComplianceToAgree();
  });

  it("hold through their migration, down and up again, and through the change log's pruning", async () => {
    await upsert(estate(8));
    const second = await newTenant();
    await upsert(estate(9, second), second);
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
        t.admin,
      ),
    );
    await expectComplianceToAgree();
    // Pruning drops the rows of transactions that ended before every snapshot still open (the cluster's: other
    // databases' transactions hold it back too), and the answers stay right.
    await othersEnded();
    expect(await pruneAssessmentChanges(ds)).toBeGreaterThan(0);
    await expectComplianceToAgree();
    // What was kept from a snapshot older than the horizon is read again (the rows that would show a change may be
    // gone): the horizon raised past it here, as a prune does once later transactions have ended.
    // (One past this transaction's id: every snapshot taken before it has an xmin at most that id.)
    const [, moved] = await inSystemScope(ds, (m) =>
      m.query(
        `UPDATE assessment_changes_horizon SET horizon = ((pg_current_xact_id()::text::bigint + 1)::text)::xid8`,
      ),
    );
    expect(moved).toBe(1);
    await pastHorizon();
    // Only the system scope (the prune job) moves it.
    expect((await read((m) => m.query(`UPDATE assessment_changes_horizon SET horizon = horizon`)))[1]).toBe(
      0,
    );
    expect(await readsDuring(() => expectComplianceToAgree())).toEqual({ all: 1, changed: 0 });
    const kept = [await expectComplianceToAgree(), await expectComplianceToAgree(second)];
    // Down and up again, as the posture role runs migrations.
    const q = ds.createQueryRunner();
    try {
      await q.startTransaction();
      const migration = new AssessmentChanges1767380000000();
      await migration.down(q);
      await migration.up(q);
      await q.commitTransaction();
    } finally {
      await q.release();
    }
    expect([await expectComplianceToAgree(), await expectComplianceToAgree(second)]).toEqual(kept);
    // And a change after it is seen: a removal in one account reads that account again, not the tenant.
    ok(await platform.request(RemoveResourcesDocument, { ids: [picks[0].resource_id] }, t.admin));
    expect(await readsDuring(() => expectComplianceToAgree())).toEqual({ all: 0, changed: 1 });
  });

  it("show a change committed while kept in the next read, and keep what changes nothing compliance reads", async () => {
    await upsert(estate(12));
    const kept = await expectComplianceToAgree();
    const [r]: Array<{ account_id: string; resource_id: string }> = await read((m) =>
      m.query(`SELECT account_id, resource_id FROM assessments ORDER BY resource_id LIMIT 1`),
    );
    const had: string[] = (
      await read((m) =>
        m.query(`SELECT definition_id FROM assessments WHERE resource_id = $1`, [r.resource_id]),
      )
    ).map((a: { definition_id: string }) => a.definition_id);
    const late = loadBenchmark().definitions.find(
      (d) => mappedDefinitions().includes(d.id) && !had.includes(d.id),
    )!;
    // An evaluation that rewrites only what compliance does not read (the cause) keeps what was kept.
    await read((m) =>
      m.query(
        `UPDATE assessments SET raw_cause = coalesce(raw_cause, '') || ' (again)' WHERE resource_id = $1`,
        [r.resource_id],
      ),
    );
    expect(await readsDuring(() => expectComplianceToAgree())).toEqual(NONE);
    // A mapped definition the resource had no assessment of, found UNHEALTHY, written by a transaction that
    // stays open while compliance is read: not there yet (and what was kept still serves), then there at once.
    const adding = ds.createQueryRunner();
    try {
      await adding.startTransaction();
      await adding.query(`SELECT set_config('rampart.tenant_id', $1, true)`, [t.id]);
      await adding.query(
        `INSERT INTO assessments (tenant_id, resource_id, definition_id, account_id, control_id, source, status, raw_status)
         VALUES ($1, $2, $3, $4, $5, 'BUILT_IN', 'UNHEALTHY', 'UNHEALTHY')`,
        [t.id, r.resource_id, late.id, r.account_id, late.control],
      );
      let during: Awaited<ReturnType<typeof expectComplianceToAgree>> | undefined;
      expect(await readsDuring(async () => (during = await expectComplianceToAgree()))).toEqual(NONE);
      expect(during).toEqual(kept);
      await adding.commitTransaction();
    } finally {
      await adding.release();
    }
    let changed: Awaited<ReturnType<typeof expectComplianceToAgree>> | undefined;
    expect(await readsDuring(async () => (changed = await expectComplianceToAgree()))).toEqual({
      all: 0,
      changed: 1,
    });
    if (!changed) throw new Error("unreachable");
    expect(changed.compliance).not.toEqual(kept.compliance);
    expect(changed.resources).toContainEqual({
      account_id: r.account_id,
      resource_id: r.resource_id,
      assessed: expect.arrayContaining([late.id]),
      unhealthy: expect.arrayContaining([late.id]),
    });
  });

  it("keep another tenant's writes out of this tenant's answers, which stay kept", async () => {
    await upsert(estate(10));
    const kept = await expectComplianceToAgree();
    // The same external ids and account ids of the providers in another tenant, and every kind of write there.
    const other = await newTenant();
    const ids = await upsert(estate(10, other), other);
    await upsert(
      estate(11, other).filter((_, i) => i % 2 === 0),
      other,
    );
    const picks = await read(
      (m) =>
        m.query(
          `SELECT definition_id, account_id FROM assessments WHERE status = 'UNHEALTHY' AND definition_id = ANY($1::text[])
           ORDER BY definition_id, resource_id LIMIT 1`,
          [mappedDefinitions()],
        ),
      other,
    );
    ok(
      await platform.request(
        CreateExemptionDocument,
        { input: { definitionId: picks[0].definition_id, category: "WAIVER", reason: "Accepted" } },
        other.admin,
      ),
    );
    ok(await platform.request(RemoveResourcesDocument, { ids: ids.slice(0, 10) }, other.admin));
    const theirs = await expectComplianceToAgree(other);
    expect(theirs.compliance).not.toEqual(kept.compliance);
    let again: unknown;
    expect(await readsDuring(async () => (again = await expectComplianceToAgree()))).toEqual(NONE);
    expect(again).toEqual(kept);
  });
});
