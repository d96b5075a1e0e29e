import type { EntityManager } from "typeorm";
import { addJob, removeJob } from "../../../../common/src";
import type { AssessableResource } from "../policies/definition-spec";
import { computeSecureScore, type ControlCounts } from "../score/secure-score";
import { benchmarkControls } from "./controls";
import { tenantDefinitions, type CompiledDefinition } from "./definition-registry";
import {
  applyEvaluations,
  evaluate,
  recomputeControlStates,
  type ActiveExemption,
  type ApplyOutcome,
  type Status,
} from "./assessment.engine";

/** Resources are read and evaluated in pages of this size during full evaluations. */
const PAGE = 5000;

/**
 * How many pages of one full evaluation may insert their new assessments without `ON CONFLICT` (`insertNew`, one
 * subtransaction each): 160,000 resources, well under the 64 subtransaction ids a backend caches.
 */
const INSERT_NEW_PAGES = 32;

/** What an evaluation needs besides the resources: definitions, disabled pairs and exemptions. */
export interface EvaluationContext {
  definitions: CompiledDefinition[];
  isDisabled: (accountId: string, definitionId: string) => boolean;
  exemptions: ActiveExemption[];
}

/**
 * Serialises changes of what evaluation depends on with the evaluations themselves, per tenant, for the rest of
 * the caller's transaction. Every evaluation takes it `shared` before it reads definitions, settings and
 * exemptions (`loadEvaluationContext`), and so does `forgetResources`; a change of those (a custom definition
 * created, updated or deleted, a setting, an exemption granted or revoked) takes it `exclusive` as its first
 * statement. Without it, an evaluation that read the old context and commits after the change would write what
 * the change undid: assessments of a deleted definition, or a resource added to an exempted group unexempted
 * (the change's own re-evaluation cannot see a resource not yet committed). Evaluations do not wait for one
 * another; a change waits for the evaluations under way, and the evaluations that start meanwhile wait for it.
 */
export async function lockEvaluationContext(
  m: EntityManager,
  tenantId: string,
  mode: "shared" | "exclusive",
): Promise<void> {
  await m.query(
    `SELECT ${mode === "shared" ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock"}(hashtextextended($1, 0))`,
    [`posture.evaluation-context|${tenantId}`],
  );
}

/**
 * Loads a tenant's definitions (with the shipped built-ins unless `builtIns` is given), per-account settings and
 * active exemptions (four statements, with the lock).
 */
export async function loadEvaluationContext(
  m: EntityManager,
  tenantId: string,
  builtIns?: readonly CompiledDefinition[],
): Promise<EvaluationContext> {
  await lockEvaluationContext(m, tenantId, "shared");
  const definitions = await tenantDefinitions(m, tenantId, builtIns);
  const disabledRows: Array<{ account_id: string; definition_id: string }> = await m.query(
    `SELECT account_id, definition_id FROM definition_settings WHERE tenant_id = $1 AND NOT enabled`,
    [tenantId],
  );
  const disabled = new Set(disabledRows.map((r) => `${r.account_id}|${r.definition_id}`));
  const exemptions: ActiveExemption[] = (
    await m.query(
      `SELECT id, definition_id, account_id, resource_id, resource_group_key, category, reason FROM exemptions
       WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at, id`,
      [tenantId],
    )
  ).map((r: Record<string, string | null>) => ({
    id: r.id!,
    definitionId: r.definition_id!,
    accountId: r.account_id,
    resourceId: r.resource_id,
    resourceGroupKey: r.resource_group_key,
    category: r.category as ActiveExemption["category"],
    reason: r.reason!,
  }));
  // Most tenants disable nothing: then no key is built per evaluated pair.
  const isDisabled = disabled.size ? (a: string, d: string) => disabled.has(`${a}|${d}`) : () => false;
  return { definitions, isDisabled, exemptions };
}

/** Maps resource rows (snake_case, as selected below) to what the engine evaluates. */
export function toAssessable(row: Record<string, unknown>): AssessableResource {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    type: row.type as string,
    kind: row.kind as string,
    name: row.name as string,
    location: (row.region as string | null) ?? null,
    resourceGroup: (row.resource_group as string | null) ?? null,
    tags: (row.tags as Record<string, string>) ?? {},
    properties: (row.properties as Record<string, unknown>) ?? {},
  };
}

const RESOURCE_COLUMNS = "id, account_id, type, kind, name, region, resource_group, tags, properties";

/**
 * Re-evaluates some resources against every definition (incremental evaluation after an
 * inventory change), in the caller's transaction, and refreshes today's score snapshots.
 */
export async function evaluateResourceIds(
  m: EntityManager,
  tenantId: string,
  ids: readonly string[],
): Promise<ApplyOutcome> {
  const ctx = await loadEvaluationContext(m, tenantId);
  const total: ApplyOutcome = { changedAssessments: 0, statusChanges: 0, accountsTouched: new Set() };
  for (let i = 0; i < ids.length; i += PAGE) {
    const page = ids.slice(i, i + PAGE);
    const rows = await m.query(
      `SELECT ${RESOURCE_COLUMNS} FROM resources WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
      [tenantId, page],
    );
    merge(
      total,
      await applyEvaluations(
        m,
        tenantId,
        { resourceIds: page },
        evaluate(rows.map(toAssessable), ctx.definitions, ctx.isDisabled),
        ctx.exemptions,
      ),
    );
    merge(total, await followMovedReports(m, tenantId, page, ctx));
  }
  if (total.changedAssessments) await refreshTodaySnapshots(m, tenantId);
  return total;
}

/**
 * Re-applies the reported assessments of resources that moved to another account since they were reported, in
 * the resource's account now: a report counts where its resource is (score, disabled pairs, account exemptions),
 * as the evaluated assessments the move re-evaluated do.
 */
async function followMovedReports(
  m: EntityManager,
  tenantId: string,
  ids: readonly string[],
  ctx: EvaluationContext,
): Promise<ApplyOutcome> {
  const rows: Array<Record<string, string | null>> = await m.query(
    `SELECT a.resource_id, r.account_id, a.definition_id, coalesce(d.spec->>'control', a.control_id) AS control_id,
            a.raw_status, a.raw_cause
     FROM resources r JOIN assessments a ON a.tenant_id = r.tenant_id AND a.resource_id = r.id AND a.source = 'EXTERNAL'
     LEFT JOIN external_definitions d ON d.tenant_id = a.tenant_id AND d.id = a.definition_id
     WHERE r.tenant_id = $1 AND r.id = ANY($2::uuid[])
       AND EXISTS (SELECT 1 FROM assessments o WHERE o.tenant_id = r.tenant_id AND o.resource_id = r.id
                     AND o.source = 'EXTERNAL' AND o.account_id <> r.account_id)`,
    [tenantId, ids],
  );
  return applyEvaluations(
    m,
    tenantId,
    { resourceIds: [...new Set(rows.map((r) => r.resource_id!))], external: true },
    rows.map((r) => ({
      resourceId: r.resource_id!,
      accountId: r.account_id!,
      definitionId: r.definition_id!,
      controlId: r.control_id!,
      source: "EXTERNAL",
      rawStatus: r.raw_status as Status,
      cause: r.raw_cause,
    })),
    ctx.exemptions,
    ctx.isDisabled,
  );
}

/**
 * Re-evaluates every resource of the tenant (optionally only some definitions, e.g. after a
 * definition, an exemption or a setting changed), page by page, in the caller's transaction.
 */
export async function evaluateTenant(
  m: EntityManager,
  tenantId: string,
  options: {
    definitionIds?: readonly string[];
    accountId?: string;
    resourceId?: string;
    /** Only the resources in this resource group (its lower-cased ARM id, as `exemptions.resource_group_key`). */
    resourceGroupKey?: string;
    /** The built-ins to evaluate instead of the shipped ones: tests simulate another release's benchmark with it. */
    builtIns?: readonly CompiledDefinition[];
  } = {},
): Promise<ApplyOutcome> {
  const ctx = await loadEvaluationContext(m, tenantId, options.builtIns);
  const definitions = options.definitionIds
    ? ctx.definitions.filter((d) => options.definitionIds!.includes(d.spec.id))
    : ctx.definitions;
  const total: ApplyOutcome = { changedAssessments: 0, statusChanges: 0, accountsTouched: new Set() };
  const filters: string[] = [];
  const extra: unknown[] = [];
  if (options.accountId) filters.push(`AND account_id = $${4 + extra.push(options.accountId) - 1}`);
  if (options.resourceId) filters.push(`AND id = $${4 + extra.push(options.resourceId) - 1}`);
  if (options.resourceGroupKey) {
    const p = `$${4 + extra.push(options.resourceGroupKey) - 1}`;
    // As `inResourceGroup`, on the same lower-cased keys.
    filters.push(`AND (external_id_key = ${p} OR starts_with(external_id_key, ${p} || '/'))`);
  }
  let after = "00000000-0000-0000-0000-000000000000";
  for (let page = 0; ; page++) {
    const rows: Array<Record<string, unknown>> = await m.query(
      `SELECT ${RESOURCE_COLUMNS} FROM resources WHERE tenant_id = $1 AND id > $2 ${filters.join(" ")} ORDER BY id LIMIT $3`,
      [tenantId, after, PAGE, ...extra],
    );
    if (rows.length === 0) break;
    after = rows[rows.length - 1].id as string;
    const resources = rows.map(toAssessable);
    merge(
      total,
      await applyEvaluations(
        m,
        tenantId,
        {
          resourceIds: resources.map((r) => r.id),
          definitionIds: options.definitionIds,
          insertNew: page < INSERT_NEW_PAGES,
        },
        evaluate(resources, definitions, ctx.isDisabled),
        ctx.exemptions,
      ),
    );
    if (rows.length < PAGE) break;
  }
  if (total.changedAssessments) await refreshTodaySnapshots(m, tenantId);
  return total;
}

/**
 * Removes every assessment of deleted resources and takes them out of the score. Their exemptions go too, as
 * an Azure exemption at a resource's scope goes with the resource: a resource added again later is a new
 * resource (a new id), which the old exemption would never cover, and it would sit in `exemptions` forever.
 */
export async function forgetResources(
  m: EntityManager,
  tenantId: string,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  await lockEvaluationContext(m, tenantId, "shared");
  const accounts = new Set<string>();
  // In pages: an off-boarded account's resources may be 100,000 at once.
  for (let i = 0; i < ids.length; i += PAGE) {
    const page = ids.slice(i, i + PAGE);
    await m.query(`DELETE FROM exemptions WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])`, [
      tenantId,
      page,
    ]);
    await m.query(`DELETE FROM assessments WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])`, [
      tenantId,
      page,
    ]);
    await recomputeControlStates(m, tenantId, page, accounts);
  }
  if (accounts.size) await refreshTodaySnapshots(m, tenantId);
}

/** What `forgetDefinition` removed. */
export interface ForgottenDefinition {
  assessments: number;
  exemptions: number;
  settings: number;
}

/**
 * Removes everything a deleted custom definition left, in the caller's transaction (which has taken the
 * evaluation-context lock exclusively and deleted the definition): its exemptions (and their expiry jobs), its
 * per-account settings, its assessments and their history, and their weight in the control states and score
 * counters, then today's snapshots. Its recommendation, which is its assessments, goes with them.
 *
 * `keepDecisions` keeps the exemptions and settings, for a built-in the shipped benchmark no longer has: they are
 * an admin's decisions, match nothing while the definition is gone, and apply again should it come back.
 */
export async function forgetDefinition(
  m: EntityManager,
  tenantId: string,
  definitionId: string,
  options: { keepDecisions?: boolean } = {},
): Promise<ForgottenDefinition> {
  const exemptions: Array<{ id: string; expires_at: Date | null }> = options.keepDecisions
    ? []
    : await m.query(
        `WITH gone AS (DELETE FROM exemptions WHERE tenant_id = $1 AND definition_id = $2 RETURNING id, expires_at)
         SELECT * FROM gone`,
        [tenantId, definitionId],
      );
  for (const x of exemptions) if (x.expires_at) await cancelExemptionExpiry(m, x.id);
  const [settings]: Array<{ n: number }> = options.keepDecisions
    ? [{ n: 0 }]
    : await m.query(
        `WITH gone AS (DELETE FROM definition_settings WHERE tenant_id = $1 AND definition_id = $2 RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [tenantId, definitionId],
      );
  const removed: Array<{ resource_id: string }> = await m.query(
    `WITH gone AS (DELETE FROM assessments WHERE tenant_id = $1 AND definition_id = $2 RETURNING resource_id)
     SELECT resource_id FROM gone`,
    [tenantId, definitionId],
  );
  // Nothing reads a deleted definition's history (it is reached through its assessments).
  await m.query(`DELETE FROM assessment_history WHERE tenant_id = $1 AND definition_id = $2`, [
    tenantId,
    definitionId,
  ]);
  const accounts = new Set<string>();
  for (let i = 0; i < removed.length; i += PAGE)
    await recomputeControlStates(
      m,
      tenantId,
      removed.slice(i, i + PAGE).map((r) => r.resource_id),
      accounts,
    );
  if (accounts.size) await refreshTodaySnapshots(m, tenantId);
  return { assessments: removed.length, exemptions: exemptions.length, settings: settings.n };
}

/** What `forgetAccount` removed. */
export interface ForgottenAccount {
  exemptions: number;
  settings: number;
}

/**
 * Removes what posture keeps about an account beyond its resources, in the caller's transaction (which has locked
 * the account and already forgotten its resources with `forgetResources`): its exemptions (account- and
 * resource-group-scoped, with their expiry jobs), its per-definition settings, its score counters (all zero once
 * its resources are gone) and its score history, then refreshes today's tenant snapshot. Under the shared
 * evaluation-context lock, so an exemption or setting written for the account (under the exclusive one) is either
 * committed before, and deleted here, or written after, and finds no account.
 */
export async function forgetAccount(
  m: EntityManager,
  tenantId: string,
  accountId: string,
): Promise<ForgottenAccount> {
  await lockEvaluationContext(m, tenantId, "shared");
  const exemptions: Array<{ id: string; expires_at: Date | null }> = await m.query(
    `WITH gone AS (DELETE FROM exemptions WHERE tenant_id = $1 AND account_id = $2 RETURNING id, expires_at)
     SELECT * FROM gone`,
    [tenantId, accountId],
  );
  for (const x of exemptions) if (x.expires_at) await cancelExemptionExpiry(m, x.id);
  const [settings]: Array<{ n: number }> = await m.query(
    `WITH gone AS (DELETE FROM definition_settings WHERE tenant_id = $1 AND account_id = $2 RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [tenantId, accountId],
  );
  for (const table of ["score_counters", "definition_counters", "definition_flips"])
    await m.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND account_id = $2`, [tenantId, accountId]);
  await refreshTodaySnapshots(m, tenantId);
  await m.query(`DELETE FROM score_snapshots WHERE tenant_id = $1 AND scope = $2`, [
    tenantId,
    `account:${accountId}`,
  ]);
  return { exemptions: exemptions.length, settings: settings.n };
}

/** Score counters of a tenant by account and control. */
export async function loadCounters(
  m: EntityManager,
  tenantId: string,
  accountId?: string,
): Promise<Map<string, ControlCounts>> {
  const rows: Array<{ control_id: string; healthy: number; unhealthy: number; not_applicable: number }> =
    await m.query(
      `SELECT control_id, sum(healthy)::int AS healthy, sum(unhealthy)::int AS unhealthy,
              sum(not_applicable)::int AS not_applicable
       FROM score_counters WHERE tenant_id = $1 ${accountId ? "AND account_id = $2" : ""} GROUP BY control_id`,
      accountId ? [tenantId, accountId] : [tenantId],
    );
  return new Map(
    rows.map((r) => [
      r.control_id,
      { healthy: r.healthy, unhealthy: r.unhealthy, notApplicable: r.not_applicable },
    ]),
  );
}

/**
 * Upserts today's snapshot of the tenant's score and of each account's score. The tenant's transactions refresh
 * them one at a time, each once the one before has committed: two that read the counters at once would each miss
 * the other's moves, and the later write would replace the other's snapshot with a score that lacks them.
 */
export async function refreshTodaySnapshots(m: EntityManager, tenantId: string): Promise<void> {
  await m.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`posture.snapshots|${tenantId}`]);
  const rows: Array<{ account_id: string; control_id: string; healthy: number; unhealthy: number }> =
    await m.query(
      `SELECT account_id, control_id, healthy, unhealthy FROM score_counters WHERE tenant_id = $1`,
      [tenantId],
    );
  const controls = benchmarkControls();
  const scopes = new Map<string, Map<string, ControlCounts>>([["tenant", new Map()]]);
  for (const r of rows) {
    for (const scope of ["tenant", `account:${r.account_id}`]) {
      const counts = scopes.get(scope) ?? new Map<string, ControlCounts>();
      const c = counts.get(r.control_id) ?? { healthy: 0, unhealthy: 0, notApplicable: 0 };
      c.healthy += r.healthy;
      c.unhealthy += r.unhealthy;
      counts.set(r.control_id, c);
      scopes.set(scope, counts);
    }
  }
  const snapshots = [...scopes.entries()].map(([scope, counts]) => ({
    scope,
    score: computeSecureScore(controls, counts),
  }));
  await m.query(
    `INSERT INTO score_snapshots (tenant_id, scope, day, current, max, percentage, controls, taken_at)
     SELECT $1, s, current_date, c, mx, p, ctl, now() FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::jsonb[]) AS x(s, c, mx, p, ctl)
     ON CONFLICT (tenant_id, scope, day) DO UPDATE SET current = excluded.current, max = excluded.max,
       percentage = excluded.percentage, controls = excluded.controls, taken_at = now()`,
    [
      tenantId,
      snapshots.map((s) => s.scope),
      snapshots.map((s) => s.score.current),
      snapshots.map((s) => s.score.max),
      snapshots.map((s) => s.score.percentage),
      snapshots.map((s) =>
        JSON.stringify(s.score.controls.map((c) => ({ id: c.controlId, current: c.current, max: c.max }))),
      ),
    ],
  );
}

/** Schedules the re-evaluation that ends an exemption at its expiry (durable: survives restarts). */
export async function scheduleExemptionExpiry(
  m: EntityManager,
  tenantId: string,
  exemptionId: string,
  definitionId: string,
  at: Date,
): Promise<void> {
  await addJob(
    m,
    "posture",
    "exemption_expired",
    { tenantId, exemptionId, definitionId },
    { runAt: at, jobKey: exemptionJobKey(exemptionId) },
  );
}

/** Cancels an exemption's expiry job, if it has one still to run (the exemption was revoked or went with its definition). */
export async function cancelExemptionExpiry(m: EntityManager, exemptionId: string): Promise<void> {
  await removeJob(m, "posture", exemptionJobKey(exemptionId));
}

/** The key of an exemption's expiry job (one per exemption). */
const exemptionJobKey = (exemptionId: string) => `exemption:${exemptionId}`;

function merge(into: ApplyOutcome, from: ApplyOutcome): void {
  into.changedAssessments += from.changedAssessments;
  into.statusChanges += from.statusChanges;
  for (const a of from.accountsTouched) into.accountsTouched.add(a);
}
