import type { DataSource, EntityManager } from "typeorm";
import {
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  RemoveResourcesDocument,
  SecureScoreDocument,
  SetPolicyDefinitionEnabledDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpdatePolicyDefinitionDocument,
  UpsertResourcesDocument,
  type PolicyDefinitionInput,
} from "./__generated__/graphql";
import { createLogger, inTenant, Role } from "../subgraphs/common/src";
import { evaluate } from "../subgraphs/posture/src/modules/assessments/assessment.engine";
import { postureTasks } from "../subgraphs/posture/src/modules/assessments/assessment.tasks";
import { toAssessable } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import { benchmarkControls } from "../subgraphs/posture/src/modules/assessments/controls";
import { tenantDefinitions } from "../subgraphs/posture/src/modules/assessments/definition-registry";
import { computeSecureScore, type ControlCounts } from "../subgraphs/posture/src/modules/score/secure-score";
import { syntheticResources, type DemoResource } from "../scripts/lib/demo-estate";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok, resourceInputOf } from "./utils/seed";
import {
  controlStatesAndCounters,
  exemptionMatcher,
  ruleAssessments,
  type AssessmentRow,
  type CounterRow,
  type ExemptionRow,
  type StateRow,
  type Status,
} from "./utils/posture-reference";

/**
 * The posture state kept incrementally (assessments, their history, control states, score counters, today's score
 * snapshots) must always equal what the rules give for the inventory, definitions, settings, exemptions and
 * reports as they end up, however the mutations that led there interleaved. Several clients send mutations at
 * once through the gateway (resources upserted, moved between accounts and removed, reports, exemptions granted
 * and revoked, definitions disabled and enabled, a custom definition rewritten); after each round the tables and
 * the `secureScore` of the tenant and of each account are compared with a recomputation that shares nothing with
 * the engine's write path. Interleavings that a random storm only sometimes hits are forced with locks held by the
 * test, and the edge cases of moves and scopes are taken one by one.
 */

const AZURE_SUBSCRIPTION = "6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42";
const OTHER_SUBSCRIPTION = "0b7e4c6d-2f1a-4e8b-9c3d-5a6f7e8d9c0b";
const DISABLED_CAUSE = "The definition is disabled in this account.";

const sortBy = <T>(rows: T[], key: (r: T) => string): T[] =>
  [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

/** A small deterministic generator, so that a failing storm can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick<T>(list: readonly T[]): T {
      return list[Math.floor(next() * list.length)];
    },
    some<T>(list: readonly T[], max: number): T[] {
      const out = new Set<T>();
      const n = 1 + Math.floor(next() * max);
      while (out.size < Math.min(n, list.length)) out.add(list[Math.floor(next() * list.length)]);
      return [...out];
    },
  };
}

/**
 * What the tables should hold for the tenant's current inventory, definitions, settings, exemptions and reports,
 * computed one resource and one definition at a time. A report counts as its resource's as the resource is now
 * (its account), in its key's current control; a report on a resource that no longer exists counts nowhere.
 */
async function expected(m: EntityManager, tenant: string) {
  const definitions = await tenantDefinitions(m, tenant);
  const resources = (
    await m.query(
      `SELECT id, account_id, type, kind, name, region, resource_group, tags, properties, external_id_key FROM resources`,
    )
  ).map((row: Record<string, unknown>) => ({ ...toAssessable(row), key: row.external_id_key as string }));
  const byId = new Map(resources.map((r: { id: string }) => [r.id, r]));
  const disabled = new Set<string>(
    (await m.query(`SELECT account_id, definition_id FROM definition_settings WHERE NOT enabled`)).map(
      (r: { account_id: string; definition_id: string }) => `${r.account_id}|${r.definition_id}`,
    ),
  );
  const exemptions: ExemptionRow[] = await m.query(
    `SELECT id, definition_id, account_id, resource_id, resource_group_key, category, reason FROM exemptions
     WHERE expires_at IS NULL OR expires_at > now() ORDER BY created_at, id`,
  );
  const exemptionOf = exemptionMatcher(exemptions);
  const assessments: AssessmentRow[] = [];
  const reports: Array<{
    resource_id: string;
    definition_id: string;
    control_id: string;
    raw_status: Status;
    raw_cause: string | null;
  }> = await m.query(
    `SELECT a.resource_id, a.definition_id, d.spec->>'control' AS control_id, a.raw_status, a.raw_cause
     FROM assessments a JOIN external_definitions d ON d.tenant_id = a.tenant_id AND d.id = a.definition_id
     WHERE a.source = 'EXTERNAL'`,
  );
  for (const report of reports) {
    const r = byId.get(report.resource_id) as { id: string; accountId: string; key: string } | undefined;
    if (!r) continue;
    const off = disabled.has(`${r.accountId}|${report.definition_id}`);
    const exemption =
      off || report.raw_status === "NOT_APPLICABLE" ? undefined : exemptionOf(report.definition_id, r);
    assessments.push({
      resource_id: r.id,
      definition_id: report.definition_id,
      account_id: r.accountId,
      control_id: report.control_id,
      source: "EXTERNAL",
      status: off || exemption ? "NOT_APPLICABLE" : report.raw_status,
      raw_status: report.raw_status,
      cause: off
        ? DISABLED_CAUSE
        : exemption
          ? `Exempted (${exemption.category}): ${exemption.reason}`
          : report.raw_cause,
      raw_cause: report.raw_cause,
      exemption_id: exemption?.id ?? null,
    });
  }
  assessments.push(...ruleAssessments(definitions, resources, disabled, exemptionOf));
  const { controlStates, counters } = controlStatesAndCounters(assessments);
  return {
    assessments: sortBy(assessments, (a) => `${a.resource_id}|${a.definition_id}`),
    controlStates: sortBy(controlStates, (s) => `${s.resource_id}|${s.control_id}`),
    counters: sortBy(counters, (c) => `${c.account_id}|${c.control_id}`),
  };
}

/** What the tables hold, in the shape of `expected`. */
async function stored(m: EntityManager) {
  return {
    assessments: sortBy(
      (await m.query(
        `SELECT resource_id, definition_id, account_id, control_id, source, status, raw_status, cause, raw_cause, exemption_id
         FROM assessments`,
      )) as AssessmentRow[],
      (a) => `${a.resource_id}|${a.definition_id}`,
    ),
    controlStates: sortBy(
      (await m.query(
        `SELECT resource_id, control_id, account_id, healthy_count AS h, unhealthy_count AS u, na_count AS n FROM control_states`,
      )) as StateRow[],
      (s) => `${s.resource_id}|${s.control_id}`,
    ),
    counters: sortBy(
      (await m.query(
        `SELECT account_id, control_id, healthy, unhealthy, not_applicable FROM score_counters
         WHERE healthy <> 0 OR unhealthy <> 0 OR not_applicable <> 0`,
      )) as CounterRow[],
      (c) => `${c.account_id}|${c.control_id}`,
    ),
  };
}

/** Per-control counts of some counter rows (all of them: the tenant; or one account's). */
function countsOf(rows: readonly CounterRow[], accountId?: string): Map<string, ControlCounts> {
  const out = new Map<string, ControlCounts>();
  for (const r of rows) {
    if (accountId && r.account_id !== accountId) continue;
    const c = out.get(r.control_id) ?? { healthy: 0, unhealthy: 0, notApplicable: 0 };
    c.healthy += r.healthy;
    c.unhealthy += r.unhealthy;
    c.notApplicable += r.not_applicable;
    out.set(r.control_id, c);
  }
  return out;
}

describe("posture: the incremental state equals a recomputation, whatever the interleaving", () => {
  let platform: TestPlatform;
  let ds: DataSource;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("posture");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  /** Accounts (two Azure subscriptions, one AWS account) and a synthetic estate, upserted through the gateway. */
  async function estate(tenant: string, azureCount: number, awsCount: number) {
    const admin = await platform.token([Role.ADMIN], tenant);
    const [azure, azure2, aws] = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: AZURE_SUBSCRIPTION, name: "Azure" },
            { provider: "AZURE", externalId: OTHER_SUBSCRIPTION, name: "Azure 2" },
            { provider: "AWS", externalId: "491827365014", name: "AWS" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts.map((a) => a.id);
    const resources = [
      ...syntheticResources(azureCount, "azure", 5).map((r) => ({ ...r, accountId: azure })),
      ...syntheticResources(awsCount, "aws", 5).map((r) => ({ ...r, accountId: aws })),
    ];
    const input = (r: DemoResource & { accountId: string }, accountId = r.accountId, bare = false) => ({
      ...resourceInputOf(r),
      accountId,
      properties: bare ? {} : r.properties,
    });
    ok(await platform.request(UpsertResourcesDocument, { input: resources.map((r) => input(r)) }, admin));
    return { admin, azure, azure2, aws, resources, input };
  }

  /** Fails with the differences when the tables, the snapshots or the served score disagree with `expected`. */
  async function expectConsistent(tenant: string, token: string, accounts: readonly string[]) {
    const { want, have, snapshots, history } = await inTenant(ds, tenant, async (m) => ({
      want: await expected(m, tenant),
      have: await stored(m),
      snapshots: (await m.query(
        `SELECT scope, current::float8 AS current, max::float8 AS max, percentage::float8 AS percentage
         FROM score_snapshots WHERE day = current_date`,
      )) as Array<{ scope: string; current: number; max: number; percentage: number }>,
      history: (await m.query(
        `SELECT h.resource_id, h.definition_id, h.from_status, h.to_status, h.cause FROM assessment_history h
         WHERE EXISTS (SELECT 1 FROM resources r WHERE r.id = h.resource_id) ORDER BY h.id`,
      )) as Array<{
        resource_id: string;
        definition_id: string;
        from_status: Status | null;
        to_status: Status;
        cause: string | null;
      }>,
    }));
    expect(have.assessments).toEqual(want.assessments);
    expect(have.controlStates).toEqual(want.controlStates);
    expect(have.counters).toEqual(want.counters);

    // Each status change is recorded once: a pair's history is a chain from nothing (again after it stopped being
    // assessed) to its current status.
    const last = new Map<string, { to: Status; cause: string | null }>();
    const broken: string[] = [];
    for (const h of history) {
      const k = `${h.resource_id}|${h.definition_id}`;
      const before = last.get(k);
      const from = before && before.cause !== "No longer assessed." ? before.to : null;
      if (h.from_status !== from) broken.push(`${k}: ${h.from_status} after ${from}`);
      last.set(k, { to: h.to_status, cause: h.cause });
    }
    for (const a of want.assessments) {
      const h = last.get(`${a.resource_id}|${a.definition_id}`);
      if (h?.to !== a.status)
        broken.push(`${a.resource_id}|${a.definition_id}: ${a.status}, history ${h?.to}`);
    }
    expect(broken).toEqual([]);

    const controls = benchmarkControls();
    for (const accountId of [null, ...accounts]) {
      const score = computeSecureScore(controls, countsOf(want.counters, accountId ?? undefined));
      const served = ok(await platform.request(SecureScoreDocument, { accountId }, token)).secureScore;
      expect({ current: served.current, max: served.max, percentage: served.percentage }).toEqual({
        current: score.current,
        max: score.max,
        percentage: score.percentage,
      });
      expect(
        served.controls.map((c) => [c.control.id, c.healthy, c.unhealthy, c.notApplicable, c.current]),
      ).toEqual(score.controls.map((c) => [c.controlId, c.healthy, c.unhealthy, c.notApplicable, c.current]));
      // Today's snapshot is the score of the counters as they are (snapshots leave not-applicable resources out).
      const scope = accountId ? `account:${accountId}` : "tenant";
      const snapshot = snapshots.find((s) => s.scope === scope);
      const counts = countsOf(want.counters, accountId ?? undefined);
      for (const c of counts.values()) c.notApplicable = 0;
      const of = computeSecureScore(controls, counts);
      expect({ scope, ...(snapshot ?? { current: 0, max: 0, percentage: 0 }) }).toEqual({
        scope,
        current: of.current,
        max: of.max,
        percentage: of.percentage,
      });
    }
  }

  /** Definitions with unhealthy assessments in an account, most assessed first, with their controls. */
  async function unhealthyDefinitions(tenant: string, accountId: string) {
    return (await inTenant(ds, tenant, (m) =>
      m.query(
        `SELECT definition_id, control_id, count(*)::int AS n FROM assessments
         WHERE account_id = $1 AND status = 'UNHEALTHY' AND source = 'BUILT_IN'
         GROUP BY definition_id, control_id ORDER BY n DESC, definition_id`,
        [accountId],
      ),
    )) as Array<{ definition_id: string; control_id: string; n: number }>;
  }

  /** The tenant's resource ids by external id. */
  async function resourceIds(tenant: string): Promise<Map<string, string>> {
    const rows: Array<{ id: string; external_id: string }> = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT id, external_id FROM resources`),
    );
    return new Map(rows.map((r) => [r.external_id, r.id]));
  }

  /**
   * Forces an interleaving: holds a row lock (`lock`, run in a transaction of the tenant), starts `first` and waits
   * until it waits for a lock, starts `second` and waits until it waits too (or has finished), then releases the lock
   * and returns both outcomes. With `then`, a second lock held in a second transaction keeps `second` waiting until
   * `first` has finished: the two commit in that order. Either way the end state must be consistent.
   */
  async function interleave<A, B>(
    tenant: string,
    lock: { sql: string; params: unknown[] },
    first: () => Promise<A>,
    second: () => Promise<B>,
    then?: { sql: string; params: unknown[] },
  ): Promise<[A, B]> {
    const runners = [ds.createQueryRunner(), ds.createQueryRunner()];
    let a: Promise<A> | undefined;
    let b: Promise<B> | undefined;
    try {
      for (const [runner, held] of [
        [runners[0], lock],
        [runners[1], then],
      ] as const) {
        if (!held) continue;
        await runner.connect();
        await runner.startTransaction();
        await runner.query(`SELECT set_config('rampart.tenant_id', $1, true)`, [tenant]);
        await runner.query(held.sql, held.params);
      }
      const settled = { a: false, b: false };
      a = first().finally(() => (settled.a = true));
      await waitForLockWaiters(runners[0], 1, () => settled.a);
      b = second().finally(() => (settled.b = true));
      await waitForLockWaiters(runners[0], 2, () => settled.b);
      expect(settled.a).toBe(false);
      await runners[0].commitTransaction();
      if (then) {
        await a.catch(() => undefined);
        await runners[1].commitTransaction();
      }
    } finally {
      for (const runner of runners) {
        if (runner.isTransactionActive) await runner.rollbackTransaction();
        await runner.release();
      }
    }
    return Promise.all([a!, b!]);
  }

  /** Waits (polling) until `n` backends of the test database wait for a lock, or `done()`. */
  async function waitForLockWaiters(
    runner: { query(sql: string): Promise<Array<{ n: number }>> },
    n: number,
    done: () => boolean,
  ) {
    for (let i = 0; i < 1200 && !done(); i++) {
      // The activity view is read once per transaction unless its snapshot is cleared.
      await runner.query(`SELECT pg_stat_clear_snapshot()`);
      const [{ n: waiting }] = await runner.query(
        // pg_locks, which every role may read (pg_stat_activity hides other roles' waits).
        `SELECT count(DISTINCT pid)::int AS n FROM pg_locks WHERE NOT granted
         AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`,
      );
      if (waiting >= n) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** A resource and a built-in definition whose status its properties decide: it differs without them. */
  async function flippingPair(
    tenant: string,
    resources: ReadonlyArray<DemoResource & { accountId: string }>,
  ) {
    const definitions = await inTenant(ds, tenant, (m) => tenantDefinitions(m, tenant));
    const statusOf = (r: DemoResource & { accountId: string }, bare: boolean) =>
      new Map(
        evaluate(
          [
            toAssessable({
              ...r,
              id: r.externalId,
              account_id: r.accountId,
              resource_group: r.resourceGroup,
              properties: bare ? {} : r.properties,
            }),
          ],
          definitions,
          () => false,
        ).map((e) => [e.definitionId, e.rawStatus]),
      );
    for (const target of resources) {
      const bare = statusOf(target, true);
      for (const [definitionId, status] of statusOf(target, false))
        if (status !== "NOT_APPLICABLE" && bare.get(definitionId) !== status)
          return {
            target,
            definitionId,
            controlId: definitions.find((d) => d.spec.id === definitionId)!.spec.control,
          };
    }
    throw new Error("no resource of the estate has a status its properties decide");
  }

  /** One reported assessment. */
  const report = (resourceId: string, key: string, controlId: string, status: Status) => ({
    resourceId,
    definitionKey: key,
    title: key,
    severity: "HIGH" as const,
    controlId,
    status,
    cause: `${status} by ${key}`,
  });

  it("a report on a resource being removed is refused or removed with it, never left behind", async () => {
    const tenant = "tenant-consistency-remove";
    const { admin, azure, azure2, aws, resources } = await estate(tenant, 4, 2);
    const ids = await resourceIds(tenant);
    const target = ids.get(resources[0].externalId)!;
    const [control] = benchmarkControls();
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        { input: [report(target, "scanner/x", control.id, "HEALTHY")] },
        admin,
      ),
    );
    // The report waits for its key's row (held by the test) after it has found the resource; the removal runs then.
    const [reported, removed] = await interleave(
      tenant,
      {
        sql: `UPDATE external_definitions SET updated_at = now() WHERE id = $1`,
        params: ["scanner/x"],
      },
      () =>
        platform.request(
          UpsertAssessmentsDocument,
          { input: [report(target, "scanner/x", control.id, "UNHEALTHY")] },
          admin,
        ),
      () => platform.request(RemoveResourcesDocument, { ids: [target] }, admin),
    );
    expect(ok(removed).removeResources.removedIds).toEqual([target]);
    expect(reported.errors).toBeUndefined();
    expect(
      await inTenant(ds, tenant, (m) =>
        m.query(`SELECT definition_id FROM assessments WHERE resource_id = $1`, [target]),
      ),
    ).toEqual([]);
    await expectConsistent(tenant, admin, [azure, azure2, aws]);
  });

  it("two reports on one resource in one control, at once, count it once", async () => {
    const tenant = "tenant-consistency-reports";
    const { admin, azure, azure2, aws } = await estate(tenant, 6, 4);
    const [state] = (await inTenant(ds, tenant, (m) =>
      m.query(`SELECT resource_id, control_id FROM control_states ORDER BY resource_id, control_id LIMIT 1`),
    )) as Array<{ resource_id: string; control_id: string }>;
    // Both reports wait for the resource's control state (held by the test) once they have computed it.
    await interleave(
      tenant,
      {
        sql: `UPDATE control_states SET na_count = na_count WHERE resource_id = $1 AND control_id = $2`,
        params: [state.resource_id, state.control_id],
      },
      async () =>
        ok(
          await platform.request(
            UpsertAssessmentsDocument,
            { input: [report(state.resource_id, "scanner/a", state.control_id, "UNHEALTHY")] },
            admin,
          ),
        ),
      async () =>
        ok(
          await platform.request(
            UpsertAssessmentsDocument,
            { input: [report(state.resource_id, "scanner/b", state.control_id, "UNHEALTHY")] },
            admin,
          ),
        ),
    );
    await expectConsistent(tenant, admin, [azure, azure2, aws]);
  });

  it("two inventory changes at once leave today's snapshot at the score of both", async () => {
    const tenant = "tenant-consistency-snapshot";
    const { admin, azure, azure2, aws } = await estate(tenant, 24, 16);
    // In each account, resources unhealthy in a control where others are healthy: removing one moves the score.
    const [inAzure, inAws] = await Promise.all(
      [azure, aws].map(async (accountId) =>
        (
          (await inTenant(ds, tenant, (m) =>
            m.query(
              `SELECT DISTINCT s.resource_id FROM control_states s
                 WHERE s.account_id = $1 AND s.unhealthy_count > 0 AND EXISTS (SELECT 1 FROM control_states o
                   WHERE o.control_id = s.control_id AND o.unhealthy_count = 0 AND o.healthy_count > 0)
                 ORDER BY s.resource_id LIMIT 3`,
              [accountId],
            ),
          )) as Array<{ resource_id: string }>
        ).map((r) => r.resource_id),
      ),
    );
    expect([inAzure.length, inAws.length]).toEqual([3, 3]);
    // Two at a time, both waiting for today's tenant snapshot (held by the test) once they have moved their
    // counters; which commits last depends on the scheduler, so three pairs.
    for (let i = 0; i < 3; i++) {
      await interleave(
        tenant,
        {
          sql: `UPDATE score_snapshots SET taken_at = now() WHERE scope = 'tenant' AND day = current_date`,
          params: [],
        },
        async () => ok(await platform.request(RemoveResourcesDocument, { ids: [inAzure[i]] }, admin)),
        async () => ok(await platform.request(RemoveResourcesDocument, { ids: [inAws[i]] }, admin)),
      );
      await expectConsistent(tenant, admin, [azure, azure2, aws]);
    }
  });

  it("an exemption that expires while its resource changes leaves the resource's current evaluation", async () => {
    const tenant = "tenant-consistency-expiry";
    const { admin, azure, azure2, aws, resources, input } = await estate(tenant, 12, 6);
    const ids = await resourceIds(tenant);
    const { target, definitionId } = await flippingPair(tenant, resources);
    const resourceId = ids.get(target.externalId)!;
    const exemption = ok(
      await platform.request(
        CreateExemptionDocument,
        { input: { definitionId, resourceId, category: "WAIVER", reason: "until today" } },
        admin,
      ),
    ).createExemption;
    // Its expiry has come (as the clock would have it) and its job runs while the resource changes.
    await inTenant(ds, tenant, (m) =>
      m.query(`UPDATE exemptions SET expires_at = now() - interval '1 second' WHERE id = $1`, [exemption.id]),
    );
    const tasks = postureTasks(ds, createLogger("test", "silent"));
    // The change waits for today's snapshot (held by the test) after writing its assessments; the job runs then.
    await interleave(
      tenant,
      {
        sql: `UPDATE score_snapshots SET taken_at = now() WHERE scope = 'tenant' AND day = current_date`,
        params: [],
      },
      async () =>
        ok(
          await platform.request(UpsertResourcesDocument, { input: [input(target, undefined, true)] }, admin),
        ),
      () =>
        tasks.exemption_expired!(
          { tenantId: tenant, exemptionId: exemption.id, definitionId },
          {} as never,
        ) as Promise<void>,
    );
    await expectConsistent(tenant, admin, [azure, azure2, aws]);
  });

  it("a key moved to another control while a resource it covers changes keeps every count", async () => {
    const tenant = "tenant-consistency-key-move";
    const { admin, azure, azure2, aws, resources, input } = await estate(tenant, 12, 6);
    const ids = await resourceIds(tenant);
    const { target, controlId } = await flippingPair(tenant, resources);
    const other = resources.find((r) => r !== target)!;
    const elsewhere = benchmarkControls().find((c) => c.id !== controlId)!.id;
    const targetId = ids.get(target.externalId)!;
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        { input: [report(targetId, "scanner/moving", controlId, "UNHEALTHY")] },
        admin,
      ),
    );
    // Both wait for the target's control state (held by the test): the report moving the key's assessments there
    // (it names another resource), and the target's own change.
    await interleave(
      tenant,
      {
        sql: `UPDATE control_states SET na_count = na_count WHERE resource_id = $1 AND control_id = $2`,
        params: [targetId, controlId],
      },
      async () =>
        ok(
          await platform.request(
            UpsertAssessmentsDocument,
            { input: [report(ids.get(other.externalId)!, "scanner/moving", elsewhere, "HEALTHY")] },
            admin,
          ),
        ),
      async () =>
        ok(
          await platform.request(UpsertResourcesDocument, { input: [input(target, undefined, true)] }, admin),
        ),
    );
    await expectConsistent(tenant, admin, [azure, azure2, aws]);
  });

  it("two batches moving one key to different controls at once leave all its assessments in the last one's", async () => {
    const tenant = "tenant-consistency-key-race";
    const { admin, azure, azure2, aws } = await estate(tenant, 6, 4);
    const ids = [...(await resourceIds(tenant)).values()];
    const [first, second] = benchmarkControls().map((c) => c.id);
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        { input: ids.slice(0, 4).map((id) => report(id, "scanner/k", first, "UNHEALTHY")) },
        admin,
      ),
    );
    // The first batch moves the key and waits for its row (held by the test); the second, which moves it back and
    // reports another key first, waits for that one's row (held until the first batch has committed).
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        { input: [report(ids[0], "scanner/j", first, "HEALTHY")] },
        admin,
      ),
    );
    await interleave(
      tenant,
      { sql: `UPDATE external_definitions SET updated_at = now() WHERE id = $1`, params: ["scanner/k"] },
      async () =>
        ok(
          await platform.request(
            UpsertAssessmentsDocument,
            { input: [report(ids[5], "scanner/k", second, "HEALTHY")] },
            admin,
          ),
        ),
      async () =>
        ok(
          await platform.request(
            UpsertAssessmentsDocument,
            {
              input: [
                report(ids[6], "scanner/j", first, "HEALTHY"),
                report(ids[6], "scanner/k", first, "HEALTHY"),
              ],
            },
            admin,
          ),
        ),
      { sql: `UPDATE external_definitions SET updated_at = now() WHERE id = $1`, params: ["scanner/j"] },
    );
    await expectConsistent(tenant, admin, [azure, azure2, aws]);
  });

  it("one by one: a resource moving account or changing type, a group exemption, a definition disabled meanwhile", async () => {
    const tenant = "tenant-consistency-edges";
    const { admin, azure, azure2, aws, resources, input } = await estate(tenant, 12, 6);
    const accounts = [azure, azure2, aws];
    const ids = await resourceIds(tenant);
    const [defined] = await unhealthyDefinitions(tenant, azure);
    const moved = resources[1];
    const movedId = ids.get(moved.externalId)!;
    // A report on a resource that then moves to another subscription counts in the new one, with its settings.
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        { input: [report(movedId, "scanner/moves", defined.control_id, "UNHEALTHY")] },
        admin,
      ),
    );
    ok(
      await platform.request(
        SetPolicyDefinitionEnabledDocument,
        { input: { definitionId: "scanner/moves", accountId: azure2, enabled: false } },
        admin,
      ),
    );
    await expectConsistent(tenant, admin, accounts);
    ok(await platform.request(UpsertResourcesDocument, { input: [input(moved, azure2)] }, admin));
    await expectConsistent(tenant, admin, accounts);
    ok(await platform.request(UpsertResourcesDocument, { input: [input(moved, azure)] }, admin));
    await expectConsistent(tenant, admin, accounts);

    // A resource-group exemption covers a resource added to the group later, and one moved to another account.
    const group = resources.find((r) => r.resourceGroup && r !== moved)!.resourceGroup!;
    ok(
      await platform.request(
        CreateExemptionDocument,
        {
          input: {
            definitionId: defined.definition_id,
            accountId: azure,
            resourceGroup: group,
            category: "MITIGATED",
            reason: "group",
          },
        },
        admin,
      ),
    );
    const inGroup = resources.filter((r) => r.resourceGroup === group);
    const added = {
      ...inGroup[0],
      externalId: `${inGroup[0].externalId}-copy`,
      name: `${inGroup[0].name}-copy`,
    };
    ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [input(added), input(inGroup[0], azure2)] },
        admin,
      ),
    );
    await expectConsistent(tenant, admin, accounts);

    // A resource changes type: the old type's assessments go, the new type's come.
    const other = resources.find((r) => r.type !== moved.type)!;
    ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [{ ...input(moved), type: other.type, properties: other.properties }] },
        admin,
      ),
    );
    await expectConsistent(tenant, admin, accounts);

    // Resources change while a definition is disabled in their account, then it comes back.
    ok(
      await platform.request(
        SetPolicyDefinitionEnabledDocument,
        { input: { definitionId: defined.definition_id, accountId: azure, enabled: false } },
        admin,
      ),
    );
    ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: resources.slice(0, 12).map((r) => input(r, undefined, true)) },
        admin,
      ),
    );
    await expectConsistent(tenant, admin, accounts);
    ok(
      await platform.request(
        SetPolicyDefinitionEnabledDocument,
        { input: { definitionId: defined.definition_id, accountId: azure, enabled: true } },
        admin,
      ),
    );
    await expectConsistent(tenant, admin, accounts);
  });

  it("after rounds of concurrent mutations from several clients", async () => {
    const tenant = "tenant-consistency-storm";
    const { admin, azure, azure2, aws, resources, input } = await estate(tenant, 36, 24);
    const accounts = [azure, azure2, aws];
    const clients = await Promise.all(
      [1, 2, 3, 4].map((i) => platform.token([Role.ADMIN], tenant, `client-${i}@example.com`)),
    );
    const onAzure = await unhealthyDefinitions(tenant, azure);
    const onAws = await unhealthyDefinitions(tenant, aws);
    expect(onAzure.length).toBeGreaterThan(3);
    expect(onAws.length).toBeGreaterThan(3);
    // Reported keys in controls the built-ins use.
    const keys = [
      { key: "scanner-a/open-port", control: onAzure[0].control_id },
      { key: "scanner-b/weak-cipher", control: onAws[0].control_id },
      { key: "scanner-b/weak-cipher-2", control: onAws[0].control_id },
    ];
    // Each key reported once first, so that exemptions and settings can name it from the first round.
    const first = await resourceIds(tenant);
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        {
          input: keys.map((k, i) => ({
            resourceId: first.get(resources[i].externalId)!,
            definitionKey: k.key,
            title: k.key,
            severity: "HIGH" as const,
            controlId: k.control,
            status: "UNHEALTHY" as const,
          })),
        },
        admin,
      ),
    );
    await expectConsistent(tenant, admin, accounts);
    // A custom definition over the estate's first type, rewritten in every round (its condition and control).
    const custom = (round: number): PolicyDefinitionInput => ({
      title: "Production resources should be tagged with an owner",
      severity: "MEDIUM",
      controlId: round % 2 ? onAzure[0].control_id : onAws[0].control_id,
      resourceTypes: [resources[0].type],
      condition: { field: "tags.environment", [round % 3 ? "equals" : "notEquals"]: "production" },
    });
    const customId = ok(await platform.request(CreatePolicyDefinitionDocument, { input: custom(0) }, admin))
      .createPolicyDefinition.id;
    await expectConsistent(tenant, admin, accounts);
    const decided = [onAzure[1].definition_id, onAws[1].definition_id, keys[0].key, keys[1].key, customId];
    const groups = [...new Set(resources.map((r) => r.resourceGroup).filter((g): g is string => !!g))];
    const exemptionIds: string[] = [];
    const rng = random(20261130);
    const errors: string[] = [];
    // Sends an operation as a client following the errors' instructions would: a transaction Postgres aborted
    // in a deadlock (UNAVAILABLE, DEADLOCK: nothing was written) is sent again, as documented; anything else
    // but a refusal is a failure.
    const expectOk = async <R>(what: string, send: () => Promise<GqlResponse<R>>) => {
      for (let attempt = 1; ; attempt++) {
        const res = await send();
        const errs = res.errors ?? [];
        if (attempt < 5 && errs.some((e) => e.extensions?.reason === "DEADLOCK")) continue;
        for (const e of errs)
          // A resource or exemption another client removed meanwhile is a refusal, not a failure.
          if (e.extensions?.code !== "NOT_FOUND") errors.push(`${what}: ${e.extensions?.code} ${e.message}`);
        return res;
      }
    };

    for (let round = 0; round < 10; round++) {
      const ids = await resourceIds(tenant);
      const live = resources.filter((r) => ids.has(r.externalId));
      const ops: Array<() => Promise<unknown>> = [];
      const client = () => rng.pick(clients);
      for (let i = 0; i < 5; i++) {
        // Some overlap with other batches, each in its own order (the subgraph locks rows in one order).
        const batch = rng
          .some(resources, 4)
          .map((r) =>
            input(
              r,
              r.accountId === aws
                ? aws
                : rng.next() < 0.25
                  ? r.accountId === azure
                    ? azure2
                    : azure
                  : undefined,
              rng.next() < 0.5,
            ),
          );
        ops.push(() =>
          expectOk("upsertResources", () =>
            platform.request(UpsertResourcesDocument, { input: batch }, client()),
          ),
        );
      }
      for (let i = 0; i < 4; i++) {
        const k = rng.pick(keys);
        // The last key moves between two controls now and then (its other assessments move with it).
        const controlId = k === keys[2] && rng.next() < 0.5 ? onAzure[0].control_id : k.control;
        const target = rng.pick(live);
        const status = rng.pick(["HEALTHY", "UNHEALTHY", "NOT_APPLICABLE"] as const);
        ops.push(() =>
          expectOk("upsertAssessments", () =>
            platform.request(
              UpsertAssessmentsDocument,
              {
                input: [
                  {
                    resourceId: ids.get(target.externalId)!,
                    definitionKey: k.key,
                    title: k.key,
                    severity: "HIGH",
                    controlId,
                    status,
                    cause: `${status} in round ${round}`,
                  },
                ],
              },
              client(),
            ),
          ),
        );
      }
      const gone = rng.pick(live);
      ops.push(() =>
        expectOk("removeResources", () =>
          platform.request(RemoveResourcesDocument, { ids: [ids.get(gone.externalId)!] }, client()),
        ),
      );
      for (let i = 0; i < 2; i++) {
        if (exemptionIds.length && rng.next() < 0.4) {
          const id = exemptionIds.splice(rng.int(exemptionIds.length), 1)[0];
          ops.push(() =>
            expectOk("deleteExemption", () => platform.request(DeleteExemptionDocument, { id }, client())),
          );
          continue;
        }
        const definitionId = rng.pick(decided);
        const target = rng.pick(live);
        const scope = rng.pick([
          { resourceId: ids.get(target.externalId)! },
          { accountId: azure, resourceGroup: rng.pick(groups) },
          { accountId: rng.pick(accounts) },
          {},
        ]);
        ops.push(async () => {
          const res = await expectOk("createExemption", () =>
            platform.request(
              CreateExemptionDocument,
              { input: { definitionId, category: "WAIVER", reason: `round ${round}`, ...scope } },
              client(),
            ),
          );
          if (res.data?.createExemption) exemptionIds.push(res.data.createExemption.id);
        });
      }
      ops.push(() =>
        expectOk("updatePolicyDefinition", () =>
          platform.request(
            UpdatePolicyDefinitionDocument,
            { id: customId, input: custom(round + 1) },
            client(),
          ),
        ),
      );
      const toggled = rng.pick(decided);
      const enabled = rng.next() < 0.5;
      ops.push(() =>
        expectOk("setPolicyDefinitionEnabled", () =>
          platform.request(
            SetPolicyDefinitionEnabledDocument,
            { input: { definitionId: toggled, accountId: rng.pick(accounts), enabled } },
            client(),
          ),
        ),
      );
      // Removed resources come back (as new resources) in the next rounds' upserts.
      await Promise.all(ops.map((op) => op()));
      expect(errors).toEqual([]);
      await expectConsistent(tenant, admin, accounts);
    }
  });
});
