import type { EntityManager } from "typeorm";
import { isUniqueViolation } from "../../../../common/src";
import type { AssessableResource, AssessmentSource } from "../policies/definition-spec";
import { Dictionary, intArrayLiteral, textArrayLiteral } from "./column-encoding";
import type { CompiledDefinition } from "./definition-registry";

/** An assessment state. */
export type Status = "HEALTHY" | "UNHEALTHY" | "NOT_APPLICABLE";

/** One evaluated (resource, definition) pair before exemptions. */
export interface Evaluation {
  resourceId: string;
  accountId: string;
  definitionId: string;
  controlId: string;
  source: AssessmentSource;
  rawStatus: Status;
  cause: string | null;
}

/** An active exemption, as the engine applies it. */
export interface ActiveExemption {
  id: string;
  definitionId: string;
  accountId: string | null;
  resourceId: string | null;
  /**
   * For a resource-group exemption, the group's ARM id lower-cased by Postgres (`exemptions.resource_group_key`),
   * compared with the resources' `external_id_key`, lower-cased the same way.
   */
  resourceGroupKey: string | null;
  category: "WAIVER" | "MITIGATED";
  reason: string;
}

/** What one apply changed: enough for callers to decide about snapshots and events. */
export interface ApplyOutcome {
  changedAssessments: number;
  statusChanges: number;
  accountsTouched: Set<string>;
}

/**
 * Evaluates resources against definitions. A resource of a type a definition does not name gets no
 * row at all; of a named type it is NOT_APPLICABLE when the applicability condition fails, else
 * UNHEALTHY when the condition holds and HEALTHY otherwise. Disabled (account, definition) pairs
 * produce nothing, so they leave the score.
 */
export function evaluate(
  resources: readonly AssessableResource[],
  definitions: readonly CompiledDefinition[],
  isDisabled: (accountId: string, definitionId: string) => boolean,
): Evaluation[] {
  const out: Evaluation[] = [];
  const byType = new Map<string, CompiledDefinition[]>();
  for (const d of definitions) {
    for (const t of d.types) {
      const list = byType.get(t);
      if (list) list.push(d);
      else byType.set(t, [d]);
    }
  }
  for (const resource of resources) {
    const applicable = byType.get(resource.type.toLowerCase());
    if (!applicable) continue;
    for (const d of applicable) {
      if (isDisabled(resource.accountId, d.spec.id)) continue;
      let rawStatus: Status;
      let cause: string | null = null;
      if (d.applicability && !d.applicability.test(resource)) {
        rawStatus = "NOT_APPLICABLE";
        cause = "The resource's configuration is outside the definition's scope.";
      } else if (d.condition.test(resource)) {
        rawStatus = "UNHEALTHY";
        cause = d.condition.explain(resource) ?? d.spec.title;
      } else {
        rawStatus = "HEALTHY";
      }
      out.push({
        resourceId: resource.id,
        accountId: resource.accountId,
        definitionId: d.spec.id,
        controlId: d.spec.control,
        source: d.source,
        rawStatus,
        cause,
      });
    }
  }
  return out;
}

/**
 * Whether a resource, by its lower-cased provider id, is in a resource group, by the group's lower-cased ARM id:
 * the group itself or anything under it (ARM ids compare case-insensitively; both keys are lower-cased already).
 */
export function inResourceGroup(resourceKey: string, groupKey: string): boolean {
  return resourceKey === groupKey || resourceKey.startsWith(`${groupKey}/`);
}

/**
 * Finds the exemption that covers an assessment, the narrowest scope first: the resource, its resource group
 * (by `resourceKey`, the resource's lower-cased provider id, when known), its account, the tenant; the oldest
 * first within one scope (`exemptions` come oldest first).
 */
export function exemptionFor(
  exemptions: readonly ActiveExemption[],
  e: Pick<Evaluation, "resourceId" | "accountId" | "definitionId">,
  resourceKey?: string | null,
): ActiveExemption | undefined {
  let groupWide: ActiveExemption | undefined;
  let accountWide: ActiveExemption | undefined;
  let tenantWide: ActiveExemption | undefined;
  for (const x of exemptions) {
    if (x.definitionId !== e.definitionId) continue;
    if (x.resourceId) {
      if (x.resourceId === e.resourceId) return x;
    } else if (x.resourceGroupKey) {
      if (resourceKey && inResourceGroup(resourceKey, x.resourceGroupKey)) groupWide ??= x;
    } else if (x.accountId) {
      if (x.accountId === e.accountId) accountWide ??= x;
    } else tenantWide ??= x;
  }
  return groupWide ?? accountWide ?? tenantWide;
}

/**
 * The lower-cased provider id of each resource of `evaluations` that a resource-group exemption of its
 * definition could cover (one statement, and none when no group exemption applies to them).
 */
async function resourceKeysForGroups(
  m: EntityManager,
  tenantId: string,
  evaluations: readonly Evaluation[],
  exemptions: readonly ActiveExemption[],
): Promise<Map<string, string>> {
  const grouped = new Set(exemptions.filter((x) => x.resourceGroupKey).map((x) => x.definitionId));
  if (grouped.size === 0) return new Map();
  const ids = [
    ...new Set(
      evaluations
        .filter((e) => e.rawStatus !== "NOT_APPLICABLE" && grouped.has(e.definitionId))
        .map((e) => e.resourceId),
    ),
  ];
  if (ids.length === 0) return new Map();
  const rows: Array<{ id: string; external_id_key: string }> = await m.query(
    `SELECT id, external_id_key FROM resources WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
    [tenantId, ids],
  );
  return new Map(rows.map((r) => [r.id, r.external_id_key]));
}

/** The cause a reported assessment shows while its definition is disabled in its account. */
const DISABLED_CAUSE = "The definition is disabled in this account.";

interface Row {
  resource_id: string;
  definition_id: string;
  account_id: string;
  control_id: string;
  status: Status;
  cause: string | null;
  raw_status: Status;
  raw_cause: string | null;
  exemption_id: string | null;
}

/** Which assessments an apply replaces: the listed resources, optionally only some definitions. */
export interface ApplyScope {
  resourceIds: readonly string[];
  /** Only these definitions; otherwise every non-external definition of the resources. */
  definitionIds?: readonly string[];
  /** Include external assessments in the scope (used when `evaluations` come from upsertAssessments). */
  external?: boolean;
  /**
   * When the scope has no assessment yet (a tenant's first evaluation, or one from empty tables), insert them
   * and their control states without `ON CONFLICT`, inside a savepoint: the speculative insertion behind
   * `ON CONFLICT` probes the primary key once more per row and was ~15 % of Postgres's time in a full
   * evaluation. A row another transaction inserted meanwhile (a concurrent evaluation of the same resource)
   * fails the insert; it rolls back to the savepoint and the same writes run as upserts, as without this option.
   * Each use is one subtransaction: callers set it for a bounded number of applies per transaction (a backend
   * caches 64 subtransaction ids; past that every snapshot in the cluster gets slower).
   */
  insertNew?: boolean;
}

/**
 * Replaces the assessments in `scope` with `evaluations` (after exemptions) in the caller's
 * transaction: writes only what changed, records status changes in the history, then recomputes
 * the affected resources' control states and moves the score counters by the difference. This is
 * the one write path, so incremental and full evaluation cannot disagree.
 */
export async function applyEvaluations(
  m: EntityManager,
  tenantId: string,
  scope: ApplyScope,
  evaluations: readonly Evaluation[],
  exemptions: readonly ActiveExemption[],
  /**
   * (account, definition) pairs disabled by `setPolicyDefinitionEnabled`, for reported (external) assessments:
   * those are not evaluated here, so instead of vanishing they stay NOT_APPLICABLE with their raw status kept,
   * to come back as reported when the definition is enabled again. Evaluated ones are never produced instead.
   */
  isDisabled?: (accountId: string, definitionId: string) => boolean,
): Promise<ApplyOutcome> {
  const outcome: ApplyOutcome = { changedAssessments: 0, statusChanges: 0, accountsTouched: new Set() };
  if (scope.resourceIds.length === 0) return outcome;
  // The other source's assessments of the resources come too (the index scan reads them anyway): with every
  // definition in scope, they and the evaluations are all the resources' assessments (see `assessed` below).
  const rows: Array<Row & { source: string }> = await m.query(
    `SELECT resource_id, definition_id, account_id, control_id, source, status, cause, raw_status, raw_cause, exemption_id
     FROM assessments
     WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])
       ${scope.definitionIds ? "AND definition_id = ANY($3::text[])" : ""}`,
    scope.definitionIds ? [tenantId, scope.resourceIds, scope.definitionIds] : [tenantId, scope.resourceIds],
  );
  const inScope = (r: { source: string }) => (r.source === "EXTERNAL") === (scope.external === true);
  const existing: Row[] = rows.filter(inScope);
  const key = (resourceId: string, definitionId: string) => `${resourceId}|${definitionId}`;
  const before = new Map(existing.map((r) => [key(r.resource_id, r.definition_id), r]));

  // What changed is written column by column, dictionary-encoded (see column-encoding.ts): the assessments
  // upserted and the history rows, which share the resource, definition and status dictionaries.
  const resources = new Dictionary();
  const definitions = new Dictionary();
  const statuses = new Dictionary();
  const upsert = {
    resource: [] as number[],
    definition: [] as number[],
    account: [] as number[],
    control: [] as number[],
    source: [] as number[],
    status: [] as number[],
    rawStatus: [] as number[],
    cause: [] as (string | null)[],
    rawCause: [] as (string | null)[],
    exemption: [] as (number | null)[],
  };
  const accounts = new Dictionary();
  const controls = new Dictionary();
  const sources = new Dictionary();
  const exemptionIds = new Dictionary();
  const history = {
    resource: [] as number[],
    definition: [] as number[],
    from: [] as (number | null)[],
    to: [] as number[],
    cause: [] as (string | null)[],
  };
  const touched = new Set<string>();
  const seen = new Set<string>();
  // Resource-group exemptions cover resources by their ARM id, which evaluations do not carry (reported ones have
  // no resource row at hand): it is read here, so every path that applies exemptions honours them alike.
  const resourceKeys = await resourceKeysForGroups(m, tenantId, evaluations, exemptions);
  // `exemptionFor` skips other definitions' exemptions: handing it only this definition's finds the same one.
  const exemptionsOf = new Map<string, ActiveExemption[]>();
  for (const x of exemptions) {
    const list = exemptionsOf.get(x.definitionId);
    if (list) list.push(x);
    else exemptionsOf.set(x.definitionId, [x]);
  }
  for (const e of evaluations) {
    const k = key(e.resourceId, e.definitionId);
    if (before.size) seen.add(k);
    const disabled = isDisabled !== undefined && isDisabled(e.accountId, e.definitionId);
    const candidates = exemptionsOf.get(e.definitionId);
    const exemption =
      disabled || e.rawStatus === "NOT_APPLICABLE" || !candidates
        ? undefined
        : exemptionFor(candidates, e, resourceKeys.get(e.resourceId));
    const status: Status = disabled || exemption ? "NOT_APPLICABLE" : e.rawStatus;
    const effectiveCause = disabled
      ? DISABLED_CAUSE
      : exemption
        ? `Exempted (${exemption.category}): ${exemption.reason}`
        : e.cause;
    const exemptionId = exemption?.id ?? null;
    const old = before.get(k);
    // The raw status and cause are compared too: an exempted assessment shows neither, yet they are what it
    // returns to when the exemption ends (external ones are never re-evaluated). So is the control: a
    // definition moved to another control moves its assessments' points even when no status changes.
    if (
      old &&
      old.status === status &&
      old.cause === effectiveCause &&
      old.account_id === e.accountId &&
      old.control_id === e.controlId &&
      old.raw_status === e.rawStatus &&
      old.raw_cause === e.cause &&
      old.exemption_id === exemptionId
    ) {
      continue;
    }
    const r = resources.of(e.resourceId);
    const d = definitions.of(e.definitionId);
    const st = statuses.of(status);
    upsert.resource.push(r);
    upsert.definition.push(d);
    upsert.account.push(accounts.of(e.accountId));
    upsert.control.push(controls.of(e.controlId));
    upsert.source.push(sources.of(e.source));
    upsert.status.push(st);
    upsert.rawStatus.push(statuses.of(e.rawStatus));
    upsert.cause.push(effectiveCause);
    upsert.rawCause.push(e.cause);
    upsert.exemption.push(exemptionIds.ofNullable(exemptionId));
    touched.add(e.resourceId);
    outcome.accountsTouched.add(e.accountId);
    if (old?.account_id) outcome.accountsTouched.add(old.account_id);
    if (!old || old.status !== status) {
      history.resource.push(r);
      history.definition.push(d);
      history.from.push(old ? statuses.of(old.status) : null);
      history.to.push(st);
      history.cause.push(effectiveCause);
    }
  }
  const deletes = before.size ? existing.filter((r) => !seen.has(key(r.resource_id, r.definition_id))) : [];
  for (const r of deletes) {
    touched.add(r.resource_id);
    outcome.accountsTouched.add(r.account_id);
    history.resource.push(resources.of(r.resource_id));
    history.definition.push(definitions.of(r.definition_id));
    history.from.push(statuses.of(r.status));
    history.to.push(statuses.of("NOT_APPLICABLE"));
    history.cause.push("No longer assessed.");
  }
  outcome.changedAssessments = upsert.resource.length + deletes.length;
  outcome.statusChanges = history.resource.length;
  if (outcome.changedAssessments === 0) return outcome;

  const touchedIds = [...touched];
  const write = async (insertNew: boolean) => {
    if (upsert.resource.length) {
      await m.query(
        `INSERT INTO assessments AS a (tenant_id, resource_id, definition_id, account_id, control_id, source, status, raw_status,
                                       cause, raw_cause, exemption_id, evaluated_at, status_changed_at)
         SELECT $1, ($2::uuid[])[r], ($3::text[])[d], ($4::uuid[])[acc], ($5::text[])[c], ($6::text[])[s], ($7::text[])[st],
                ($7::text[])[raw], cause, raw_cause, ($8::uuid[])[ex], now(), now()
         FROM unnest($9::int[], $10::int[], $11::int[], $12::int[], $13::int[], $14::int[], $15::int[], $16::text[],
                     $17::text[], $18::int[])
           AS u(r, d, acc, c, s, st, raw, cause, raw_cause, ex)
         ${
           insertNew
             ? ""
             : `ON CONFLICT (tenant_id, resource_id, definition_id) DO UPDATE SET
           account_id = excluded.account_id, control_id = excluded.control_id, source = excluded.source,
           raw_status = excluded.raw_status, cause = excluded.cause, raw_cause = excluded.raw_cause,
           exemption_id = excluded.exemption_id,
           evaluated_at = now(),
           status_changed_at = CASE WHEN a.status = excluded.status THEN a.status_changed_at ELSE now() END,
           status = excluded.status`
         }`,
        [
          tenantId,
          textArrayLiteral(resources.values),
          textArrayLiteral(definitions.values),
          textArrayLiteral(accounts.values),
          textArrayLiteral(controls.values),
          textArrayLiteral(sources.values),
          textArrayLiteral(statuses.values),
          textArrayLiteral(exemptionIds.values),
          intArrayLiteral(upsert.resource),
          intArrayLiteral(upsert.definition),
          intArrayLiteral(upsert.account),
          intArrayLiteral(upsert.control),
          intArrayLiteral(upsert.source),
          intArrayLiteral(upsert.status),
          intArrayLiteral(upsert.rawStatus),
          textArrayLiteral(upsert.cause),
          textArrayLiteral(upsert.rawCause),
          intArrayLiteral(upsert.exemption),
        ],
      );
    }
    if (deletes.length) {
      await m.query(
        `DELETE FROM assessments a USING unnest($2::uuid[], $3::text[]) AS d(r, def)
         WHERE a.tenant_id = $1 AND a.resource_id = d.r AND a.definition_id = d.def`,
        [tenantId, deletes.map((d) => d.resource_id), deletes.map((d) => d.definition_id)],
      );
    }
    if (history.resource.length) {
      await m.query(
        `INSERT INTO assessment_history (tenant_id, resource_id, definition_id, from_status, to_status, cause)
         SELECT $1, ($2::uuid[])[r], ($3::text[])[d], ($4::text[])[f], ($4::text[])[t], c
         FROM unnest($5::int[], $6::int[], $7::int[], $8::int[], $9::text[]) AS h(r, d, f, t, c)`,
        [
          tenantId,
          textArrayLiteral(resources.values),
          textArrayLiteral(definitions.values),
          textArrayLiteral(statuses.values),
          intArrayLiteral(history.resource),
          intArrayLiteral(history.definition),
          intArrayLiteral(history.from),
          intArrayLiteral(history.to),
          textArrayLiteral(history.cause),
        ],
      );
    }
    await recomputeControlStates(m, tenantId, touchedIds, outcome.accountsTouched, {
      insertNew,
      // Inserted into an empty scope of every definition: the resources' assessments are now what was just
      // written plus the other source's, so their control-state counts need no read back.
      assessed:
        insertNew && !scope.definitionIds && !scope.external
          ? controlCounts(
              upsert.resource.map((r, i) => ({
                resource_id: resources.values[r - 1],
                definition_id: definitions.values[upsert.definition[i] - 1],
                control_id: controls.values[upsert.control[i] - 1],
                account_id: accounts.values[upsert.account[i] - 1],
                status: statuses.values[upsert.status[i] - 1] as Status,
              })),
              rows.filter((r) => !inScope(r)),
            )
          : undefined,
    });
  };
  if (!(scope.insertNew && existing.length === 0 && m.queryRunner?.isTransactionActive)) {
    await write(false);
    return outcome;
  }
  await m.query("SAVEPOINT evaluation_insert_new");
  try {
    await write(true);
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await m.query("ROLLBACK TO SAVEPOINT evaluation_insert_new");
    await m.query("RELEASE SAVEPOINT evaluation_insert_new");
    await write(false);
    return outcome;
  }
  await m.query("RELEASE SAVEPOINT evaluation_insert_new");
  return outcome;
}

type ControlState = "HEALTHY" | "UNHEALTHY" | "NOT_APPLICABLE" | null;

/** A resource's state in a control from its assessment counts there (see `controlStateOf`). */
const stateOf = (healthy: number, unhealthy: number, notApplicable: number): ControlState =>
  unhealthy > 0 ? "UNHEALTHY" : healthy > 0 ? "HEALTHY" : notApplicable > 0 ? "NOT_APPLICABLE" : null;

interface StateRow {
  resource_id: string;
  control_id: string;
  account_id: string;
  h: number;
  u: number;
  n: number;
  /** With exactly one unhealthy assessment (`u` 1): its definition and account (the recommendation it flips). */
  ud: string | null;
  ua: string | null;
}

/** An assessment as the control-state counts see it. */
interface Counted {
  resource_id: string;
  definition_id: string;
  control_id: string;
  account_id: string;
  status: Status;
}

/**
 * The control-state counts of assessments, as `recomputeControlStates`' aggregate computes them from the table:
 * per resource and control, the healthy, unhealthy and not-applicable assessments, the least account id, and the
 * definition and account of the unhealthy assessment when it is the only one.
 */
function controlCounts(...groups: ReadonlyArray<readonly Counted[]>): StateRow[] {
  const states = new Map<string, StateRow>();
  for (const group of groups)
    for (const a of group) {
      const key = `${a.resource_id}|${a.control_id}`;
      let row = states.get(key);
      if (!row) {
        row = {
          resource_id: a.resource_id,
          control_id: a.control_id,
          account_id: a.account_id,
          h: 0,
          u: 0,
          n: 0,
          ud: null,
          ua: null,
        };
        states.set(key, row);
      } else if (a.account_id < row.account_id) row.account_id = a.account_id;
      if (a.status === "HEALTHY") row.h++;
      else if (a.status === "UNHEALTHY") {
        if (++row.u === 1) {
          row.ud = a.definition_id;
          row.ua = a.account_id;
        }
      } else if (a.status === "NOT_APPLICABLE") row.n++;
    }
  return [...states.values()].map((row) => (row.u === 1 ? row : { ...row, ud: null, ua: null }));
}

/**
 * Recomputes the control states of some resources from their assessments and moves the score
 * counters (healthy, unhealthy and not-applicable resources per account and control) by the
 * difference: the tenant's score then costs one small read, whatever its size.
 */
export async function recomputeControlStates(
  m: EntityManager,
  tenantId: string,
  resourceIds: readonly string[],
  accountsTouched: Set<string>,
  /**
   * `insertNew`: inserts without `ON CONFLICT` when the resources have no control state yet (see `ApplyScope`).
   * `assessed`: the resources' counts when the caller knows every assessment they have, instead of reading them.
   */
  options: { insertNew?: boolean; assessed?: StateRow[] } = {},
): Promise<void> {
  if (resourceIds.length === 0) return;
  const now: StateRow[] =
    options.assessed ??
    (await m.query(
      `SELECT resource_id, control_id, min(account_id::text)::uuid AS account_id,
            count(*) FILTER (WHERE status = 'HEALTHY')::int AS h, count(*) FILTER (WHERE status = 'UNHEALTHY')::int AS u,
            count(*) FILTER (WHERE status = 'NOT_APPLICABLE')::int AS n,
            CASE WHEN count(*) FILTER (WHERE status = 'UNHEALTHY') = 1
              THEN min(definition_id) FILTER (WHERE status = 'UNHEALTHY') END AS ud,
            CASE WHEN count(*) FILTER (WHERE status = 'UNHEALTHY') = 1
              THEN min(account_id::text) FILTER (WHERE status = 'UNHEALTHY') END AS ua
     FROM assessments WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) GROUP BY resource_id, control_id`,
      [tenantId, resourceIds],
    ));
  const old: StateRow[] = await m.query(
    `SELECT resource_id, control_id, account_id, healthy_count AS h, unhealthy_count AS u, na_count AS n,
            unhealthy_definition_id AS ud, unhealthy_account_id::text AS ua
     FROM control_states WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])`,
    [tenantId, resourceIds],
  );
  const k = (r: string, c: string) => `${r}|${c}`;
  const oldMap = new Map(old.map((o) => [k(o.resource_id, o.control_id), o]));
  const delta = new Map<
    string,
    { accountId: string; controlId: string; healthy: number; unhealthy: number; notApplicable: number }
  >();
  const bump = (row: StateRow, sign: 1 | -1) => {
    const state = stateOf(row.h, row.u, row.n);
    if (!state) return;
    const dk = `${row.account_id}|${row.control_id}`;
    const d = delta.get(dk) ?? {
      accountId: row.account_id,
      controlId: row.control_id,
      healthy: 0,
      unhealthy: 0,
      notApplicable: 0,
    };
    if (state === "HEALTHY") d.healthy += sign;
    else if (state === "UNHEALTHY") d.unhealthy += sign;
    else d.notApplicable += sign;
    delta.set(dk, d);
    accountsTouched.add(row.account_id);
  };
  const upsert: StateRow[] = [];
  const remove: StateRow[] = [];
  const seen = new Set<string>();
  for (const n of now) {
    const key = k(n.resource_id, n.control_id);
    seen.add(key);
    const o = oldMap.get(key);
    if (
      o &&
      o.h === n.h &&
      o.u === n.u &&
      o.n === n.n &&
      o.account_id === n.account_id &&
      o.ud === n.ud &&
      o.ua === n.ua
    )
      continue;
    if (o) bump(o, -1);
    bump(n, 1);
    if (stateOf(n.h, n.u, n.n)) upsert.push(n);
    else if (o) remove.push(n);
  }
  for (const o of old) {
    if (seen.has(k(o.resource_id, o.control_id))) continue;
    bump(o, -1);
    remove.push(o);
  }
  if (upsert.length) {
    const resources = new Dictionary();
    const controls = new Dictionary();
    const accounts = new Dictionary();
    const definitions = new Dictionary();
    const r = intArrayLiteral(upsert.map((x) => resources.of(x.resource_id)));
    const c = intArrayLiteral(upsert.map((x) => controls.of(x.control_id)));
    const a = intArrayLiteral(upsert.map((x) => accounts.of(x.account_id)));
    const ud = intArrayLiteral(upsert.map((x) => definitions.ofNullable(x.ud)));
    const ua = intArrayLiteral(upsert.map((x) => accounts.ofNullable(x.ua)));
    await m.query(
      `INSERT INTO control_states (tenant_id, resource_id, control_id, account_id, healthy_count, unhealthy_count, na_count,
                                   unhealthy_definition_id, unhealthy_account_id)
       SELECT $1, ($2::uuid[])[r], ($3::text[])[c], ($4::uuid[])[a], h, u, n, ($5::text[])[ud], ($4::uuid[])[ua]
       FROM unnest($6::int[], $7::int[], $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[])
         AS x(r, c, a, h, u, n, ud, ua)
       ${
         options.insertNew && old.length === 0
           ? ""
           : `ON CONFLICT (tenant_id, resource_id, control_id) DO UPDATE SET
         account_id = excluded.account_id, healthy_count = excluded.healthy_count,
         unhealthy_count = excluded.unhealthy_count, na_count = excluded.na_count,
         unhealthy_definition_id = excluded.unhealthy_definition_id,
         unhealthy_account_id = excluded.unhealthy_account_id`
       }`,
      [
        tenantId,
        textArrayLiteral(resources.values),
        textArrayLiteral(controls.values),
        textArrayLiteral(accounts.values),
        textArrayLiteral(definitions.values),
        r,
        c,
        a,
        intArrayLiteral(upsert.map((x) => x.h)),
        intArrayLiteral(upsert.map((x) => x.u)),
        intArrayLiteral(upsert.map((x) => x.n)),
        ud,
        ua,
      ],
    );
  }
  if (remove.length) {
    await m.query(
      `DELETE FROM control_states s USING unnest($2::uuid[], $3::text[]) AS d(r, c)
       WHERE s.tenant_id = $1 AND s.resource_id = d.r AND s.control_id = d.c`,
      [tenantId, remove.map((r) => r.resource_id), remove.map((r) => r.control_id)],
    );
  }
  // In one order, by account and control: two transactions moving the same counters lock their rows in the
  // order of the rows (the statement's), and in two orders each could hold a row the other waits for.
  const moves = [...delta.values()]
    .filter((d) => d.healthy !== 0 || d.unhealthy !== 0 || d.notApplicable !== 0)
    .sort((a, b) =>
      a.accountId !== b.accountId
        ? a.accountId < b.accountId
          ? -1
          : 1
        : a.controlId < b.controlId
          ? -1
          : a.controlId > b.controlId
            ? 1
            : 0,
    );
  if (moves.length) {
    await m.query(
      `INSERT INTO score_counters AS s (tenant_id, account_id, control_id, healthy, unhealthy, not_applicable)
       SELECT $1, a, c, h, u, n FROM unnest($2::uuid[], $3::text[], $4::int[], $5::int[], $6::int[]) AS x(a, c, h, u, n)
       ON CONFLICT (tenant_id, account_id, control_id) DO UPDATE SET
         healthy = s.healthy + excluded.healthy, unhealthy = s.unhealthy + excluded.unhealthy,
         not_applicable = s.not_applicable + excluded.not_applicable`,
      [
        tenantId,
        moves.map((d) => d.accountId),
        moves.map((d) => d.controlId),
        moves.map((d) => d.healthy),
        moves.map((d) => d.unhealthy),
        moves.map((d) => d.notApplicable),
      ],
    );
  }
}
