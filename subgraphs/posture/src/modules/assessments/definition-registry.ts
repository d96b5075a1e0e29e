import type { EntityManager } from "typeorm";
import { loadBenchmark } from "../policies/benchmark";
import { compileCondition, type CompiledCondition } from "../policies/policy-language";
import type { AssessmentSource, DefinitionSpec } from "../policies/definition-spec";

/** A definition ready to evaluate: its spec compiled once. */
export interface CompiledDefinition {
  spec: DefinitionSpec;
  source: Exclude<AssessmentSource, "EXTERNAL">;
  /** Lower-cased resource types, for the applicability check. */
  types: ReadonlySet<string>;
  applicability?: CompiledCondition;
  condition: CompiledCondition;
}

const compiled = new Map<string, CompiledDefinition>();

/** Compiles a spec (cached by id, version and source: definitions are immutable per version). */
export function compileDefinition(
  spec: DefinitionSpec,
  source: CompiledDefinition["source"],
  cacheKey: string,
): CompiledDefinition {
  const hit = compiled.get(cacheKey);
  if (hit) return hit;
  const definition: CompiledDefinition = {
    spec,
    source,
    types: new Set(spec.resourceTypes.map((t) => t.toLowerCase())),
    applicability:
      spec.applicability === undefined || spec.applicability === null
        ? undefined
        : compileCondition(spec.applicability),
    condition: compileCondition(spec.condition),
  };
  if (compiled.size > 50_000) compiled.clear();
  compiled.set(cacheKey, definition);
  return definition;
}

let builtIns: CompiledDefinition[] | undefined;

/** The shipped benchmark's definitions, compiled once per process. */
export function builtInDefinitions(): CompiledDefinition[] {
  builtIns ??= loadBenchmark().definitions.map((d) =>
    compileDefinition(d as DefinitionSpec, "BUILT_IN", `builtin:${d.id}:${d.version}`),
  );
  return builtIns;
}

/**
 * The version of every shipped definition (id → version), as `built_in_evaluations` records what a tenant's
 * assessments reflect.
 */
export function builtInVersions(): Record<string, string> {
  return Object.fromEntries(builtInDefinitions().map((d) => [d.spec.id, String(d.spec.version)]));
}

/**
 * The definitions a tenant evaluates: the built-ins (the shipped ones unless given, as tests simulating another
 * release's benchmark do) and its custom ones (one statement).
 */
export async function tenantDefinitions(
  m: EntityManager,
  tenantId: string,
  builtIns: readonly CompiledDefinition[] = builtInDefinitions(),
): Promise<CompiledDefinition[]> {
  const rows: Array<{ id: string; version: number; spec: DefinitionSpec }> = await m.query(
    `SELECT id, version, spec FROM custom_definitions WHERE tenant_id = $1`,
    [tenantId],
  );
  return [
    ...builtIns,
    ...rows.map((r) =>
      compileDefinition({ ...r.spec, id: r.id }, "CUSTOM_POLICY", `custom:${tenantId}:${r.id}:${r.version}`),
    ),
  ];
}
