import DataLoader from "dataloader";
import {
  BadUserInputError,
  canonicalId,
  childConnectionLoader,
  childPagesSql,
  groupChildRows,
  isUuid,
  jsonProblem,
  newId,
  NotFoundError,
  parameterTextProblems,
  RecordRejection,
  textProblem,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type ChildPage,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { AssessmentSource } from "../policies/policies.types";
import type { PoliciesService } from "../policies/policies.service";
import { benchmarkControls } from "./controls";
import { applyEvaluations, type Evaluation } from "./assessment.engine";
import {
  cancelExemptionExpiry,
  evaluateTenant,
  loadEvaluationContext,
  lockEvaluationContext,
  refreshTodaySnapshots,
  scheduleExemptionExpiry,
} from "./assessment.runner";
import { AssessmentConnection, ExemptionConnection } from "./assessments.connections";
import {
  Assessment,
  AssessmentChange,
  type AssessmentStatus,
  Exemption,
  UpsertAssessmentsPayload,
  type AssessmentFilter,
  type CreateExemptionInput,
  type ExemptionFilter,
  type ExternalAssessmentInput,
} from "./assessments.types";

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/;
/**
 * An Azure resource group name: 1 to 90 letters, digits, underscores, hyphens, periods and parentheses (letters
 * and digits of any script), not ending in a period. No `/`, so the group's ARM id is a prefix of its resources'.
 */
const RESOURCE_GROUP_PATTERN = /^[\p{L}\p{N}_().-]{0,89}[\p{L}\p{N}_()-]$/u;

/** The subscription id an Azure account's external id names: `<id>` or `/subscriptions/<id>`; null if neither. */
function subscriptionOf(externalId: string): string | null {
  const id = externalId.trim().replace(/^\/?subscriptions\//i, "");
  return id && !id.includes("/") ? id : null;
}
const MAX_EXTERNAL_PER_CALL = 10_000;

/** Maps an `assessments` row to the GraphQL object. */
export function assessmentFromRow(row: Record<string, unknown>): Assessment {
  return Object.assign(new Assessment(), {
    id: `${row.resource_id}/${row.definition_id}`,
    resourceId: row.resource_id,
    definitionId: row.definition_id,
    accountId: row.account_id,
    status: row.status,
    cause: row.cause ?? null,
    source: row.source,
    exemptionId: row.exemption_id ?? null,
    evaluatedAt: row.evaluated_at,
    statusChangedAt: row.status_changed_at,
  });
}

function exemptionFromRow(row: Record<string, unknown>): Exemption {
  return Object.assign(new Exemption(), {
    id: row.id,
    definitionId: row.definition_id,
    resourceId: row.resource_id ?? null,
    accountId: row.account_id ?? null,
    resourceGroup: row.resource_group ?? null,
    resourceGroupKey: row.resource_group_key ?? null,
    category: row.category,
    reason: row.reason,
    expiresAt: row.expires_at ?? null,
    createdBy: row.created_by,
    createdAt: row.created_at,
  });
}

/** Assessments (built-in, custom, external), their history, and exemptions. */
export class AssessmentsService {
  private readonly byResourceLoaders = new Map<
    string,
    ReturnType<typeof childConnectionLoader<Assessment>>
  >();

  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly policies: PoliciesService,
  ) {}

  /** Status history of (resource, definition) pairs, newest first (up to 50 each), one statement per batch. */
  readonly history = new DataLoader<string, AssessmentChange[]>(async (ids) => {
    const pairs = ids.map((id) => id.split("/") as [string, string]);
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT h.* FROM unnest($2::uuid[], $3::text[]) AS p(r, d)
         CROSS JOIN LATERAL (
           SELECT resource_id, definition_id, from_status, to_status, cause, at FROM assessment_history
           WHERE tenant_id = $1 AND resource_id = p.r AND definition_id = p.d ORDER BY id DESC LIMIT 50
         ) h`,
        [this.identity.tenantId, pairs.map((p) => (isUuid(p[0]) ? p[0] : null)), pairs.map((p) => p[1])],
      ),
    );
    return ids.map((id) =>
      rows
        .filter((r) => `${r.resource_id}/${r.definition_id}` === id)
        .map((r) =>
          Object.assign(new AssessmentChange(), {
            from: r.from_status ?? null,
            to: r.to_status,
            cause: r.cause ?? null,
            at: r.at,
          }),
        ),
    );
  });

  /** Exemptions by id, one statement per batch. */
  readonly exemption = new DataLoader<string, Exemption | null>(async (ids) => {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM exemptions WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
        this.identity.tenantId,
        ids.filter(isUuid),
      ]),
    );
    return ids.map((id) => {
      const row = rows.find((r) => r.id === id);
      return row ? exemptionFromRow(row) : null;
    });
  });

  /** A page of one resource's assessments (batched across resources), unhealthy first. */
  async forResource(
    resourceId: string,
    filter: AssessmentFilter | undefined,
    args: PageArgs,
  ): Promise<AssessmentConnection> {
    const page = toKeysetPage(args, "none", "text");
    const filterKey = JSON.stringify([filter?.statuses ?? null, filter?.source ?? null]);
    let loader = this.byResourceLoaders.get(filterKey);
    if (!loader) {
      loader = childConnectionLoader<Assessment>((ids, p) =>
        this.pageByResource(ids, filter, p.first, p.after?.[1]),
      );
      this.byResourceLoaders.set(filterKey, loader);
    }
    const { rows, total } = await loader.load({ parentId: resourceId, page });
    return AssessmentConnection.from({ rows, page, total, cursorOf: (a) => [null, a.definitionId] });
  }

  private async pageByResource(
    ids: readonly string[],
    filter: AssessmentFilter | undefined,
    first: number,
    after: string | number | null | undefined,
  ): Promise<Map<string, ChildPage<Assessment>>> {
    // Code-point order (`COLLATE "C"`) for the page and its cursor alike: a locale's order (which sets
    // punctuation and case apart) would disagree with the comparison on some ids, and a page would skip or
    // repeat them.
    const rows: Array<Record<string, unknown> & { page_parent: string; page_rn: unknown; total: number }> =
      await this.db.read((m) =>
        m.query(
          childPagesSql({
            source: `SELECT a.* FROM assessments a
                      WHERE a.tenant_id = $1 AND a.resource_id = ANY($2::uuid[])
                        AND ($3::text[] IS NULL OR a.status = ANY($3::text[])) AND ($4::text IS NULL OR a.source = $4)`,
            parent: "resource_id",
            after: `$5::text IS NULL OR definition_id > $5::text COLLATE "C"`,
            order: `definition_id COLLATE "C"`,
            limit: "$6",
          }),
          [
            this.identity.tenantId,
            ids.filter(isUuid),
            filter?.statuses ?? null,
            filter?.source ?? null,
            after ?? null,
            first + 1,
          ],
        ),
      );
    return groupChildRows(rows, assessmentFromRow);
  }

  /** Stores assessments reported by other sources; bad records are returned, good ones kept. */
  async upsertExternal(inputs: ExternalAssessmentInput[]): Promise<UpsertAssessmentsPayload> {
    const payload = Object.assign(new UpsertAssessmentsPayload(), {
      acceptedCount: 0,
      changedCount: 0,
      rejected: [] as RecordRejection[],
    });
    if (inputs.length > MAX_EXTERNAL_PER_CALL) {
      payload.rejected.push(
        RecordRejection.from({
          field: "input",
          message: `at most ${MAX_EXTERNAL_PER_CALL} records per call`,
        }),
      );
      return payload;
    }
    const controls = new Set(benchmarkControls().map((c) => c.id));
    const known = await this.policies.all();
    const problems: InputProblem[] = [];
    inputs.forEach((input, index) => {
      const found = problems.length;
      if (!isUuid(input.resourceId))
        problems.push({ index, field: "resourceId", message: "must be a resource id (UUID)" });
      if (!KEY_PATTERN.test(input.definitionKey ?? ""))
        problems.push({
          index,
          field: "definitionKey",
          message: "1-200 characters: letters, digits and _ . : / -",
        });
      else if (
        known.get(input.definitionKey) &&
        known.get(input.definitionKey)!.source !== AssessmentSource.EXTERNAL
      ) {
        problems.push({
          index,
          field: "definitionKey",
          message: "is the id of a built-in or custom definition",
        });
      }
      if (!controls.has(input.controlId))
        problems.push({ index, field: "controlId", message: `unknown control "${input.controlId}"` });
      if (!input.title?.trim() || input.title.length > 256)
        problems.push({ index, field: "title", message: "must be 1 to 256 characters" });
      if ((input.cause ?? "").length > 4000)
        problems.push({ index, field: "cause", message: "at most 4,000 characters" });
      // Shown with every recommendation of the key: a scanner's prose, not a document.
      if ((input.description ?? "").length > 8000)
        problems.push({ index, field: "description", message: "at most 8,000 characters" });
      const steps = input.remediation ?? [];
      if (steps.length > 20 || steps.some((step) => step.length > 2000))
        problems.push({
          index,
          field: "remediation",
          message: "at most 20 steps of at most 2,000 characters",
        });
      // Stored as text and jsonb, which hold no NUL and no unpaired surrogate (checked last: a field already
      // refused above is not reported twice).
      const fault = problems.length === found ? jsonProblem(input) : null;
      if (fault) problems.push({ index, field: fault.path, message: fault.message });
    });
    return this.db.write(async (m) => {
      const candidates = inputs
        .map((input, index) => ({ input, index }))
        .filter(({ index }) => !problems.some((p) => p.index === index));
      // The batch's keys are locked first, in one order, whether they exist yet or not (a transaction lock on each
      // name: a new key has no row to lock), and held until it commits: another batch of a key waits, then reads
      // the control this one leaves. A key reported in another control moves all its assessments there, not only
      // the ones of this batch.
      const keys = [...new Set(candidates.map((c) => c.input.definitionKey))].sort();
      await m.query(
        `SELECT pg_advisory_xact_lock(hashtextextended($1 || k, 0)) FROM unnest($2::text[]) AS k`,
        [`posture.external-key|${this.identity.tenantId}|`, keys],
      );
      const previousControl = new Map<string, string>(
        keys.length
          ? (
              (await m.query(
                `SELECT id, spec->>'control' AS control FROM external_definitions WHERE tenant_id = $1 AND id = ANY($2::text[])`,
                [this.identity.tenantId, keys],
              )) as Array<{ id: string; control: string }>
            ).map((r) => [r.id, r.control])
          : [],
      );
      // Moving a key's assessments rewrites resources this batch does not name: as a definition change, it waits
      // for the evaluations under way, and evaluations that start meanwhile wait for it (`lockEvaluationContext`).
      const moves = candidates.some(
        ({ input }) => (previousControl.get(input.definitionKey) ?? input.controlId) !== input.controlId,
      );
      if (moves) await lockEvaluationContext(m, this.identity.tenantId, "exclusive");
      // Otherwise the resources are locked as an inventory upsert or removal locks them: a resource's assessments
      // and control states are rewritten by one transaction at a time (each recomputes them from what it reads), and
      // a resource removed meanwhile, or moved to another account, is seen as it is once that change has committed.
      // Under the exclusive lock they are not: an upsert or removal holding one waits for that lock before it
      // evaluates anything, and then sees this batch (waiting for its row here would deadlock with it).
      const existing: Array<{ id: string; account_id: string }> = await m.query(
        `SELECT id, account_id FROM resources WHERE tenant_id = $1 AND id = ANY($2::uuid[])
         ${moves ? "" : "ORDER BY id FOR NO KEY UPDATE"}`,
        [this.identity.tenantId, [...new Set(candidates.map((c) => c.input.resourceId))]],
      );
      const accountOf = new Map(existing.map((r) => [r.id, r.account_id]));
      const accepted = candidates.filter(({ input, index }) => {
        if (accountOf.has(input.resourceId)) return true;
        problems.push({ index, field: "resourceId", message: "no such resource in this tenant" });
        return false;
      });
      const byKey = new Map<string, Map<string, ExternalAssessmentInput>>();
      for (const { input } of accepted) {
        const group = byKey.get(input.definitionKey) ?? new Map<string, ExternalAssessmentInput>();
        group.set(input.resourceId, input);
        byKey.set(input.definitionKey, group);
      }
      const controlOf = new Map<string, string>();
      if (byKey.size) {
        const specs = [...byKey.entries()].map(([key, group]) => {
          const last = [...group.values()].pop()!;
          controlOf.set(key, last.controlId);
          return {
            key,
            spec: {
              id: key,
              version: "1",
              title: last.title.trim(),
              description: last.description ?? "",
              severity: last.severity,
              control: last.controlId,
              resourceTypes: [],
              remediation: last.remediation ?? [],
              threats: [],
            },
          };
        });
        await m.query(
          `INSERT INTO external_definitions (tenant_id, id, spec) SELECT $1, k, s FROM unnest($2::text[], $3::jsonb[]) AS x(k, s)
           ON CONFLICT (tenant_id, id) DO UPDATE SET spec = excluded.spec, updated_at = now()`,
          [this.identity.tenantId, specs.map((s) => s.key), specs.map((s) => JSON.stringify(s.spec))],
        );
      }
      const ctx = await loadEvaluationContext(m, this.identity.tenantId);
      let changed = 0;
      for (const [key, group] of byKey) {
        const evaluations: Evaluation[] = [...group.values()].map((input) => ({
          resourceId: input.resourceId,
          accountId: accountOf.get(input.resourceId)!,
          definitionId: key,
          // The key's one control (its last record's): a definition counts in one control only.
          controlId: controlOf.get(key)!,
          source: "EXTERNAL",
          rawStatus: input.status,
          cause: input.cause ?? null,
        }));
        const outcome = await applyEvaluations(
          m,
          this.identity.tenantId,
          { resourceIds: [...group.keys()], definitionIds: [key], external: true },
          evaluations,
          ctx.exemptions,
          ctx.isDisabled,
        );
        changed += outcome.changedAssessments;
        const before = previousControl.get(key);
        if (before !== undefined && before !== controlOf.get(key))
          changed += await reapplyExternal(m, this.identity.tenantId, key, { snapshot: false });
      }
      if (changed) {
        await refreshTodaySnapshots(m, this.identity.tenantId);
        await writeOutbox(m, [
          {
            tenantId: this.identity.tenantId,
            topic: "assessments.external.upserted",
            key: this.identity.subject,
            payload: { keys: [...byKey.keys()], changed },
          },
        ]);
      }
      await writeAudit(m, this.identity, [
        {
          action: "assessments.external.upsert",
          target: "assessments",
          details: { accepted: accepted.length, changed },
        },
      ]);
      payload.acceptedCount = accepted.length;
      payload.changedCount = changed;
      payload.rejected = problems.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map(RecordRejection.from);
      return payload;
    });
  }

  /** A page of the tenant's exemptions, newest first (keyset on creation time and id), optionally filtered. */
  async exemptions(filter: ExemptionFilter | undefined, args: PageArgs): Promise<ExemptionConnection> {
    const page = toKeysetPage(args, "time");
    // Postgres text holds no NUL and no unpaired surrogate: such an id is a typed error, not a database one.
    const problems: InputProblem[] = parameterTextProblems({ "filter.definitionId": filter?.definitionId });
    for (const field of ["accountId", "resourceId"] as const) {
      const id = filter?.[field];
      if (id != null && !isUuid(id))
        problems.push({
          field: `filter.${field}`,
          message: `must be ${field === "accountId" ? "an account" : "a resource"} id (UUID)`,
        });
    }
    if (problems.length) throw new BadUserInputError("Invalid filter.", problems);
    const conditions = ["tenant_id = $1"];
    const params: unknown[] = [this.identity.tenantId];
    const add = (column: string, value: string | null | undefined) => {
      if (value == null) return;
      params.push(canonicalId(value));
      conditions.push(`${column} = $${params.length}`);
    };
    add("definition_id", filter?.definitionId);
    add("account_id", filter?.accountId);
    add("resource_id", filter?.resourceId);
    const where = conditions.join(" AND ");
    const base = [...params];
    if (page.after) {
      params.push(page.after[0], page.after[1]);
      conditions.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(page.first + 1);
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT * FROM exemptions WHERE ${conditions.join(" AND ")}
         ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
        params,
      ),
    );
    return ExemptionConnection.from({
      rows: rows.map(exemptionFromRow),
      page,
      total: async () =>
        Number(
          (await this.db.read((m) => m.query(`SELECT count(*) AS n FROM exemptions WHERE ${where}`, base)))[0]
            .n,
        ),
      cursorOf: (e) => [new Date(e.createdAt).toISOString(), e.id],
    });
  }

  /** Grants an exemption, re-evaluates what it covers and schedules its expiry, in one transaction. */
  async createExemption(input: CreateExemptionInput): Promise<Exemption> {
    const invalid = "Invalid exemption; nothing was stored.";
    const problems: InputProblem[] = [];
    const definitionId = canonicalId(input.definitionId);
    const definition = await this.policies.byId(definitionId);
    if (!definition) problems.push({ field: "definitionId", message: "no such definition" });
    if (input.resourceId != null && !isUuid(input.resourceId))
      problems.push({ field: "resourceId", message: "must be a resource id (UUID)" });
    if (input.accountId != null && !isUuid(input.accountId))
      problems.push({ field: "accountId", message: "must be an account id (UUID)" });
    if (input.resourceGroup != null) {
      if (!RESOURCE_GROUP_PATTERN.test(input.resourceGroup))
        problems.push({
          field: "resourceGroup",
          message:
            "must be an Azure resource group name: 1 to 90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period",
        });
      if (input.resourceId != null)
        problems.push({
          field: "resourceGroup",
          message: "conflicts with resourceId: an exemption has one scope",
        });
      else if (input.accountId == null)
        problems.push({
          field: "accountId",
          message: "is required with resourceGroup (the subscription the group is in)",
        });
    }
    if (!input.reason?.trim() || input.reason.length > 2000)
      problems.push({ field: "reason", message: "must be 1 to 2,000 characters" });
    else {
      // Stored as text: no NUL, and an unpaired surrogate would be stored as U+FFFD.
      const problem = textProblem(input.reason);
      if (problem) problems.push({ field: "reason", message: problem });
    }
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
      problems.push({ field: "expiresAt", message: "must be in the future" });
    // A later time would come back as `+010000-…`, which no DateTime input (nor RFC 3339) accepts.
    else if (input.expiresAt && input.expiresAt.getUTCFullYear() > 9999)
      problems.push({ field: "expiresAt", message: "must be before the year 10000" });
    if (problems.length) throw new BadUserInputError(invalid, problems);
    return this.db.write(async (m) => {
      await lockEvaluationContext(m, this.identity.tenantId, "exclusive");
      // A custom definition looked up above may have been deleted since: its exemption would outlive it.
      if (
        definition?.source === AssessmentSource.CUSTOM_POLICY &&
        !(
          await m.query(`SELECT 1 FROM custom_definitions WHERE tenant_id = $1 AND id = $2`, [
            this.identity.tenantId,
            definitionId,
          ])
        ).length
      )
        throw new BadUserInputError(invalid, [{ field: "definitionId", message: "no such definition" }]);
      let accountId = input.accountId ?? null;
      let resourceGroup: string | null = null;
      let resourceGroupArmId: string | null = null;
      if (input.resourceId) {
        const rows: Array<{ account_id: string }> = await m.query(
          `SELECT account_id FROM resources WHERE tenant_id = $1 AND id = $2`,
          [this.identity.tenantId, input.resourceId],
        );
        if (!rows.length) throw new NotFoundError("Resource", input.resourceId);
        accountId = rows[0].account_id;
      } else if (accountId) {
        const rows: Array<{ provider: string; external_id: string }> = await m.query(
          `SELECT provider, external_id FROM cloud_accounts WHERE tenant_id = $1 AND id = $2`,
          [this.identity.tenantId, accountId],
        );
        if (!rows.length) throw new NotFoundError("Account", accountId);
        if (input.resourceGroup != null) {
          const subscription = rows[0].provider === "AZURE" ? subscriptionOf(rows[0].external_id) : null;
          if (!subscription)
            throw new BadUserInputError(invalid, [
              {
                field: "resourceGroup",
                message:
                  rows[0].provider === "AZURE"
                    ? "the account's external id is no Azure subscription id"
                    : `resource groups are an Azure scope; the account is ${rows[0].provider}`,
              },
            ]);
          resourceGroup = input.resourceGroup;
          resourceGroupArmId = `/subscriptions/${subscription}/resourceGroups/${resourceGroup}`;
        }
      }
      // The group's key is lower-cased by Postgres, as `resources.external_id_key` is, so the two compare exactly.
      const [row] = await m.query(
        `INSERT INTO exemptions (tenant_id, id, definition_id, account_id, resource_id, resource_group, resource_group_key,
                                 category, reason, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, lower($7), $8, $9, $10, $11) RETURNING *`,
        [
          this.identity.tenantId,
          newId(),
          definitionId,
          accountId,
          input.resourceId ?? null,
          resourceGroup,
          resourceGroupArmId,
          input.category,
          input.reason.trim(),
          input.expiresAt ?? null,
          this.identity.subject,
        ],
      );
      const exemption = exemptionFromRow(row);
      await this.reevaluate(m, exemption);
      if (exemption.expiresAt)
        await scheduleExemptionExpiry(
          m,
          this.identity.tenantId,
          exemption.id,
          exemption.definitionId,
          exemption.expiresAt,
        );
      await writeAudit(m, this.identity, [
        {
          action: "exemptions.create",
          target: `definition:${exemption.definitionId}`,
          details: {
            id: exemption.id,
            category: exemption.category,
            reason: exemption.reason,
            accountId: exemption.accountId,
            resourceId: exemption.resourceId,
            resourceGroup: exemption.resourceGroup,
          },
        },
      ]);
      return exemption;
    });
  }

  /** Revokes an exemption; its assessments return to their evaluated (or last reported) status. */
  async deleteExemption(id: string): Promise<Exemption> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid exemption id.", [{ field: "id", message: "must be a UUID" }]);
    // The definitions are read (and cached for the request) before the write: read inside it, they would need a
    // second pooled connection while this transaction holds the tenant's evaluation lock, and as many concurrent
    // deletes as the pool has connections, each holding one and waiting for that lock, would hang for ever.
    await this.policies.all();
    return this.db.write(async (m) => {
      await lockEvaluationContext(m, this.identity.tenantId, "exclusive");
      const rows: Array<Record<string, unknown>> = await m.query(
        `WITH gone AS (DELETE FROM exemptions WHERE tenant_id = $1 AND id = $2 RETURNING *) SELECT * FROM gone`,
        [this.identity.tenantId, id],
      );
      if (!rows.length) throw new NotFoundError("Exemption", id);
      const exemption = exemptionFromRow(rows[0]);
      await this.reevaluate(m, exemption);
      if (exemption.expiresAt) await cancelExemptionExpiry(m, exemption.id);
      await writeAudit(m, this.identity, [
        { action: "exemptions.delete", target: `definition:${exemption.definitionId}`, details: { id } },
      ]);
      return exemption;
    });
  }

  /** Re-evaluates what an exemption covers (a resource, a resource group, an account or the tenant). */
  private async reevaluate(
    m: Parameters<Parameters<RequestDb["write"]>[0]>[0],
    exemption: Exemption,
  ): Promise<void> {
    const definition = await this.policies.byId(exemption.definitionId);
    if (definition?.source === AssessmentSource.EXTERNAL) {
      await reapplyExternal(m, this.identity.tenantId, exemption.definitionId);
      return;
    }
    await evaluateTenant(m, this.identity.tenantId, {
      definitionIds: [exemption.definitionId],
      ...(exemption.resourceId
        ? { resourceId: exemption.resourceId }
        : exemption.resourceGroupKey
          ? // A group holds the resources under its ARM id, whichever account they were reported in.
            { resourceGroupKey: exemption.resourceGroupKey }
          : { accountId: exemption.accountId ?? undefined }),
    });
  }
}

/**
 * Re-applies exemptions and per-account settings to an external definition's stored assessments, from the status
 * and cause last reported, in the definition's current control; returns how many assessments changed.
 */
export async function reapplyExternal(
  m: Parameters<Parameters<RequestDb["write"]>[0]>[0],
  tenantId: string,
  definitionId: string,
  options: { snapshot?: boolean } = {},
): Promise<number> {
  const rows: Array<Record<string, string | null>> = await m.query(
    `SELECT a.resource_id, a.account_id, coalesce(d.spec->>'control', a.control_id) AS control_id, a.raw_status, a.raw_cause
     FROM assessments a LEFT JOIN external_definitions d ON d.tenant_id = a.tenant_id AND d.id = a.definition_id
     WHERE a.tenant_id = $1 AND a.definition_id = $2 AND a.source = 'EXTERNAL'`,
    [tenantId, definitionId],
  );
  const ctx = await loadEvaluationContext(m, tenantId);
  // The status and cause last reported (kept apart from what an exemption shows), in the key's current control.
  const evaluations: Evaluation[] = rows.map((r) => ({
    resourceId: r.resource_id!,
    accountId: r.account_id!,
    definitionId,
    controlId: r.control_id!,
    source: "EXTERNAL",
    rawStatus: r.raw_status as AssessmentStatus,
    cause: r.raw_cause,
  }));
  const outcome = await applyEvaluations(
    m,
    tenantId,
    { resourceIds: rows.map((r) => r.resource_id!), definitionIds: [definitionId], external: true },
    evaluations,
    ctx.exemptions,
    ctx.isDisabled,
  );
  if (outcome.changedAssessments && options.snapshot !== false) await refreshTodaySnapshots(m, tenantId);
  return outcome.changedAssessments;
}
