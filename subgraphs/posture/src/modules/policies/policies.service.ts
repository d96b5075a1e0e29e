import {
  canonicalId,
  BadUserInputError,
  ForbiddenError,
  isUuid,
  jsonProblem,
  newId,
  NotFoundError,
  pageOfArray,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import type { EntityManager } from "typeorm";
import { benchmarkControls } from "../assessments/controls";
import { builtInDefinitions } from "../assessments/definition-registry";
import { evaluateTenant, forgetDefinition, lockEvaluationContext } from "../assessments/assessment.runner";
import { reapplyExternal } from "../assessments/assessments.service";
import { loadBenchmark } from "./benchmark";
import type { DefinitionSpec } from "./definition-spec";
import { PolicyDefinitionConnection } from "./policies.connections";
import type {
  PolicyDefinitionFilter,
  PolicyDefinitionInput,
  SetPolicyDefinitionEnabledInput,
} from "./policies.inputs";
import {
  AssessmentSource,
  PolicyDefinition,
  PolicyDefinitionSetting,
  type PolicySeverity,
  SecurityControl,
} from "./policies.types";
import { validateCondition } from "./policy-language";

/** Largest custom definition accepted, serialised. */
export const MAX_DEFINITION_BYTES = 256 * 1024;

/** The shipped controls as GraphQL objects. */
export function securityControls(): SecurityControl[] {
  const descriptions = new Map(loadBenchmark().controls.map((c) => [c.id, c.description]));
  return benchmarkControls().map((c) =>
    Object.assign(new SecurityControl(), {
      id: c.id,
      name: c.name,
      maxPoints: c.maxPoints,
      description: descriptions.get(c.id) ?? "",
    }),
  );
}

/** A definition spec as a GraphQL object. */
export function toPolicyDefinition(
  spec: Partial<DefinitionSpec> & { id: string; title: string },
  source: AssessmentSource,
): PolicyDefinition {
  const control =
    securityControls().find((c) => c.id === spec.control) ??
    securityControls()[securityControls().length - 1];
  return Object.assign(new PolicyDefinition(), {
    id: spec.id,
    source,
    version: String(spec.version ?? "1"),
    title: spec.title,
    description: spec.description ?? "",
    severity: (spec.severity ?? "MEDIUM") as PolicySeverity,
    control,
    resourceTypes: spec.resourceTypes ?? [],
    applicability: spec.applicability ?? null,
    condition: spec.condition ?? null,
    property: spec.property ?? null,
    remediation: spec.remediation ?? [],
    threats: spec.threats ?? [],
    userImpact: spec.userImpact ?? null,
    implementationEffort: spec.implementationEffort ?? null,
  });
}

/** Every problem of a custom definition input (all of them at once). */
export function validateDefinitionInput(input: PolicyDefinitionInput): InputProblem[] {
  const problems: InputProblem[] = [];
  let size = 0;
  try {
    size = JSON.stringify(input).length;
  } catch {
    problems.push({ field: "input", message: "is not serialisable JSON" });
  }
  if (size > MAX_DEFINITION_BYTES) {
    return [
      {
        field: "input",
        message: `the definition is ${size} bytes; at most ${MAX_DEFINITION_BYTES} are accepted`,
      },
    ];
  }
  if (!input.title?.trim() || input.title.length > 256)
    problems.push({ field: "title", message: "must be 1 to 256 characters" });
  if (!benchmarkControls().some((c) => c.id === input.controlId)) {
    problems.push({
      field: "controlId",
      message: `unknown control "${input.controlId}" (see securityControls)`,
    });
  }
  if (
    !input.resourceTypes?.length ||
    input.resourceTypes.length > 50 ||
    input.resourceTypes.some((t) => !t?.trim() || t.length > 256)
  ) {
    problems.push({ field: "resourceTypes", message: "must name 1 to 50 resource types" });
  }
  for (const [field, list] of [
    ["remediation", input.remediation],
    ["threats", input.threats],
  ] as const) {
    if ((list ?? []).length > 50 || (list ?? []).some((s) => s.length > 2000))
      problems.push({ field, message: "at most 50 entries of 2,000 characters" });
  }
  for (const p of validateCondition(input.condition))
    problems.push({ field: `condition${p.path.replace(/^\$/, "")}`, message: p.message });
  if (input.applicability !== undefined && input.applicability !== null) {
    for (const p of validateCondition(input.applicability))
      problems.push({ field: `applicability${p.path.replace(/^\$/, "")}`, message: p.message });
  }
  // Stored as jsonb, which holds no NUL and no unpaired surrogate. Checked once the rest is valid: the
  // condition checks above already bound its nesting (a valid condition may pass MAX_JSON_DEPTH, not 1,000).
  const fault = problems.length ? null : jsonProblem(input, { maxDepth: 1_000 });
  if (fault) problems.push({ field: fault.path || "input", message: fault.message });
  return problems;
}

function specOf(id: string, version: number, input: PolicyDefinitionInput): DefinitionSpec {
  return {
    id,
    version: String(version),
    title: input.title.trim(),
    description: input.description ?? "",
    severity: input.severity,
    control: input.controlId,
    resourceTypes: input.resourceTypes,
    applicability: input.applicability ?? undefined,
    condition: input.condition,
    property: input.property ?? "",
    remediation: input.remediation ?? [],
    threats: input.threats ?? [],
    userImpact: "Low",
    implementationEffort: "Low",
  };
}

/** Built-in, custom and external definitions; custom ones are created and changed by admins. */
export class PoliciesService {
  private cache?: Promise<Map<string, PolicyDefinition>>;

  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Every definition the tenant has, by id (cached for the request). */
  all(): Promise<Map<string, PolicyDefinition>> {
    this.cache ??= this.db.read(async (m) => {
      const map = new Map<string, PolicyDefinition>();
      for (const d of builtInDefinitions())
        map.set(d.spec.id, toPolicyDefinition(d.spec, AssessmentSource.BUILT_IN));
      const custom: Array<{ id: string; version: number; spec: DefinitionSpec }> = await m.query(
        `SELECT id, version, spec FROM custom_definitions WHERE tenant_id = $1`,
        [this.identity.tenantId],
      );
      for (const c of custom)
        map.set(
          c.id,
          toPolicyDefinition(
            { ...c.spec, id: c.id, version: String(c.version) },
            AssessmentSource.CUSTOM_POLICY,
          ),
        );
      const external: Array<{ id: string; spec: DefinitionSpec }> = await m.query(
        `SELECT id, spec FROM external_definitions WHERE tenant_id = $1`,
        [this.identity.tenantId],
      );
      for (const e of external)
        map.set(e.id, toPolicyDefinition({ ...e.spec, id: e.id }, AssessmentSource.EXTERNAL));
      return map;
    });
    return this.cache;
  }

  /** One definition, or null. */
  async byId(id: string): Promise<PolicyDefinition | null> {
    return (await this.all()).get(canonicalId(id)) ?? null;
  }

  /** A filtered page of definitions, by id. */
  async list(
    filter: PolicyDefinitionFilter | undefined,
    args: PageArgs,
  ): Promise<PolicyDefinitionConnection> {
    const search = filter?.search?.toLowerCase();
    const type = filter?.resourceType?.toLowerCase();
    const items = [...(await this.all()).values()]
      .filter((d) => !filter?.source || d.source === filter.source)
      .filter((d) => !filter?.severities?.length || filter.severities.includes(d.severity))
      .filter((d) => !filter?.controlId || d.control.id === filter.controlId)
      .filter((d) => !type || d.resourceTypes.some((t) => t.toLowerCase() === type))
      .filter((d) => !search || d.title.toLowerCase().includes(search))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return PolicyDefinitionConnection.from(pageOfArray(items, args, (d) => d.id));
  }

  /** Creates a custom definition and evaluates it over the tenant's resources, in one transaction. */
  async create(input: PolicyDefinitionInput): Promise<PolicyDefinition> {
    const problems = validateDefinitionInput(input);
    if (problems.length)
      throw new BadUserInputError("Invalid policy definition; nothing was stored.", problems);
    const id = newId();
    const spec = specOf(id, 1, input);
    await this.db.write(async (m) => {
      await lockEvaluationContext(m, this.identity.tenantId, "exclusive");
      await m.query(
        `INSERT INTO custom_definitions (tenant_id, id, version, spec, created_by, updated_by) VALUES ($1, $2, 1, $3, $4, $4)`,
        [this.identity.tenantId, id, JSON.stringify(spec), this.identity.subject],
      );
      await this.changed(m, id, "policies.definition.created", { title: spec.title });
    });
    return toPolicyDefinition(spec, AssessmentSource.CUSTOM_POLICY);
  }

  /** Replaces a custom definition (a new version) and re-evaluates it everywhere. */
  async update(id: string, input: PolicyDefinitionInput): Promise<PolicyDefinition> {
    if (builtInDefinitions().some((d) => d.spec.id === id))
      throw new ForbiddenError("Built-in definitions cannot be changed; disable them per account instead.");
    const problems = validateDefinitionInput(input);
    if (problems.length)
      throw new BadUserInputError("Invalid policy definition; nothing was stored.", problems);
    // Custom definitions have UUIDs; anything else is no definition of this tenant (and may not reach SQL).
    if (!isUuid(id)) throw new NotFoundError("Policy definition", id);
    return this.db.write(async (m) => {
      await lockEvaluationContext(m, this.identity.tenantId, "exclusive");
      // TypeORM returns [rows, count] for a bare UPDATE; a CTE keeps the plain row shape.
      const rows: Array<{ version: number }> = await m.query(
        `WITH updated AS (
           UPDATE custom_definitions SET version = version + 1, updated_by = $3, updated_at = now()
           WHERE tenant_id = $1 AND id = $2 RETURNING version
         ) SELECT version FROM updated`,
        [this.identity.tenantId, id, this.identity.subject],
      );
      if (!rows.length) throw new NotFoundError("Policy definition", id);
      const spec = specOf(id, rows[0].version, input);
      await m.query(`UPDATE custom_definitions SET spec = $3 WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        id,
        JSON.stringify(spec),
      ]);
      await this.changed(m, id, "policies.definition.updated", { version: rows[0].version });
      return toPolicyDefinition(spec, AssessmentSource.CUSTOM_POLICY);
    });
  }

  /**
   * Deletes a custom definition and, in the same transaction, everything it left: its assessments (and their
   * history), per-account settings and exemptions (and their expiry jobs), and their weight in the Secure Score
   * (control states, counters, today's snapshots). Its recommendation goes with its assessments. Built-in
   * definitions cannot be deleted (FORBIDDEN: disable them per account instead); an id that is no custom
   * definition of this tenant, or one already deleted, is NOT_FOUND.
   */
  async delete(given: string): Promise<PolicyDefinition> {
    const id = canonicalId(given);
    if (builtInDefinitions().some((d) => d.spec.id === id))
      throw new ForbiddenError("Built-in definitions cannot be deleted; disable them per account instead.");
    // Custom definitions have UUIDs; anything else is no custom definition of this tenant (and may not reach SQL).
    if (!isUuid(id)) throw new NotFoundError("Policy definition", given);
    return this.db.write(async (m) => {
      // First: evaluations under way finish before the definition goes, and none starts with it until it has gone.
      await lockEvaluationContext(m, this.identity.tenantId, "exclusive");
      const rows: Array<{ version: number; spec: DefinitionSpec }> = await m.query(
        `WITH gone AS (DELETE FROM custom_definitions WHERE tenant_id = $1 AND id = $2 RETURNING version, spec)
         SELECT version, spec FROM gone`,
        [this.identity.tenantId, id],
      );
      if (!rows.length) throw new NotFoundError("Policy definition", given);
      const removed = await forgetDefinition(m, this.identity.tenantId, id);
      const details = { title: rows[0].spec.title, version: rows[0].version, ...removed };
      await writeAudit(m, this.identity, [
        { action: "policies.definition.deleted", target: `definition:${id}`, details },
      ]);
      await writeOutbox(m, [
        {
          tenantId: this.identity.tenantId,
          topic: "policies.definition.deleted",
          key: id,
          payload: { id, ...details },
        },
      ]);
      return toPolicyDefinition(
        { ...rows[0].spec, id, version: String(rows[0].version) },
        AssessmentSource.CUSTOM_POLICY,
      );
    });
  }

  /** Enables or disables a definition in an account and re-evaluates it there. */
  async setEnabled(given: SetPolicyDefinitionEnabledInput): Promise<PolicyDefinitionSetting> {
    const input = {
      ...given,
      accountId: canonicalId(given.accountId),
      definitionId: canonicalId(given.definitionId),
    };
    if (!isUuid(input.accountId))
      throw new BadUserInputError("Invalid setting.", [
        { field: "accountId", message: "must be an account id (UUID)" },
      ]);
    const definition = await this.byId(input.definitionId);
    if (!definition) throw new NotFoundError("Policy definition", input.definitionId);
    return this.db.write(async (m) => {
      await lockEvaluationContext(m, this.identity.tenantId, "exclusive");
      // A custom definition may have been deleted since it was looked up: its setting would outlive it.
      if (
        definition.source === AssessmentSource.CUSTOM_POLICY &&
        !(
          await m.query(`SELECT 1 FROM custom_definitions WHERE tenant_id = $1 AND id = $2`, [
            this.identity.tenantId,
            input.definitionId,
          ])
        ).length
      )
        throw new NotFoundError("Policy definition", input.definitionId);
      const account = await m.query(`SELECT 1 FROM cloud_accounts WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        input.accountId,
      ]);
      if (!account.length) throw new NotFoundError("Account", input.accountId);
      await m.query(
        `INSERT INTO definition_settings (tenant_id, account_id, definition_id, enabled, updated_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, account_id, definition_id) DO UPDATE SET enabled = excluded.enabled, updated_by = excluded.updated_by, updated_at = now()`,
        [this.identity.tenantId, input.accountId, input.definitionId, input.enabled, this.identity.subject],
      );
      await writeAudit(m, this.identity, [
        {
          action: input.enabled ? "policies.definition.enable" : "policies.definition.disable",
          target: `definition:${input.definitionId}`,
          details: { accountId: input.accountId },
        },
      ]);
      // Reported assessments are not evaluated here: their stored reports are re-applied with the setting.
      if (definition.source === AssessmentSource.EXTERNAL)
        await reapplyExternal(m, this.identity.tenantId, input.definitionId);
      else
        await evaluateTenant(m, this.identity.tenantId, {
          definitionIds: [input.definitionId],
          accountId: input.accountId,
        });
      return Object.assign(new PolicyDefinitionSetting(), input);
    });
  }

  private async changed(
    m: EntityManager,
    id: string,
    topic: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    await writeAudit(m, this.identity, [{ action: topic, target: `definition:${id}`, details }]);
    await writeOutbox(m, [{ tenantId: this.identity.tenantId, topic, key: id, payload: { id, ...details } }]);
    await evaluateTenant(m, this.identity.tenantId, { definitionIds: [id] });
  }
}
