/*
 * The built-in security benchmark: security controls, policy definitions and compliance standards shipped
 * as versioned YAML under `subgraphs/posture/data/benchmark/<version>/`. The data is validated as a whole
 * when it is loaded (shapes, references between files, and every condition against the policy language),
 * so a fault in a data file stops the service at start-up with the file and the path of the fault, instead
 * of surfacing later as a definition that silently never matches.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import { z } from "zod";
import { validateCondition } from "./policy-language";

/** Severity of a definition and of its recommendation. */
export type BenchmarkSeverity = "HIGH" | "MEDIUM" | "LOW";

/** Azure's threat names, the vocabulary of `threats`. */
export const BENCHMARK_THREATS = [
  "AccountBreach",
  "DataExfiltration",
  "DataSpillage",
  "MaliciousInsider",
  "ElevationOfPrivilege",
  "ThreatResistance",
  "MissingCoverage",
  "DenialOfService",
] as const;

/** A threat a definition mitigates. */
export type BenchmarkThreat = (typeof BENCHMARK_THREATS)[number];

/** How much a remediation affects users, or how much work it is. */
export type BenchmarkLevel = "Low" | "Moderate" | "High";

/** A condition in Azure Policy's `if` language (validated by the policy language when loaded). */
export type BenchmarkCondition = Record<string, unknown>;

/** A security control: a group of definitions worth a number of Secure Score points. */
export interface BenchmarkControl {
  /** Stable kebab-case id, e.g. `enable-mfa`. */
  id: string;
  /** Display name, e.g. `Enable MFA`. */
  name: string;
  /** Points the control is worth when at least one resource is applicable to it. */
  maxPoints: number;
  description: string;
}

/** A built-in policy definition (the shape of `DefinitionSpec`). */
export interface BenchmarkDefinition {
  /** Stable kebab-case id, unique across the benchmark. */
  id: string;
  /** Semantic version of the definition; bumped when its logic changes. */
  version: string;
  /** The desired state, e.g. "Secure transfer to storage accounts should be enabled". */
  title: string;
  /** The risk the definition addresses. */
  description: string;
  severity: BenchmarkSeverity;
  /** Id of the security control (controls.yaml) the definition counts toward. */
  control: string;
  /** Provider-native types (ARM or CloudFormation) it applies to; compared case-insensitively. */
  resourceTypes: string[];
  /** When present and false for a resource, the resource is NOT_APPLICABLE. */
  applicability?: BenchmarkCondition;
  /** Azure Policy `if` condition: when it holds the resource is UNHEALTHY. */
  condition: BenchmarkCondition;
  /** The configuration property the definition checks (a field path). */
  property: string;
  /** Remediation steps, in order. */
  remediation: string[];
  threats: BenchmarkThreat[];
  userImpact: BenchmarkLevel;
  implementationEffort: BenchmarkLevel;
}

/** One control (requirement) of a compliance standard, satisfied by the definitions it maps to. */
export interface ComplianceControlData {
  /** The standard's own numbering, e.g. `NS-1` or `4.1.1`. */
  id: string;
  title: string;
  description: string;
  /** Ids of the definitions that assess the control; empty when none does (the control is then SKIPPED). */
  definitions: string[];
}

/** A compliance standard and how its controls map to definitions. */
export interface ComplianceStandardData {
  id: string;
  name: string;
  version: string;
  description: string;
  controls: ComplianceControlData[];
}

/** A loaded benchmark version. Shared by every caller (cached): treat it as read-only. */
export interface Benchmark {
  version: string;
  controls: BenchmarkControl[];
  definitions: BenchmarkDefinition[];
  standards: ComplianceStandardData[];
}

/** Thrown when the benchmark's data files are missing or invalid; lists every fault found. */
export class BenchmarkDataError extends Error {
  /** Every fault, as `<file>: <path>: <message>`. */
  readonly problems: string[];

  constructor(directory: string, problems: string[]) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : "";
    super(`invalid benchmark data in ${directory}:\n  ${shown.join("\n  ")}${more}`);
    this.name = "BenchmarkDataError";
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const slug = z.string().regex(SLUG, "must be a kebab-case id (a-z, 0-9 and single hyphens)");
const text = z.string().trim().min(1, "must not be empty");
const level = z.enum(["Low", "Moderate", "High"]);
const condition = z.record(z.string(), z.unknown(), "must be a condition (a mapping)");

const controlSchema = z.strictObject({
  id: slug,
  name: text,
  maxPoints: z.number().int().min(0),
  description: text,
});

const definitionSchema = z.strictObject({
  id: slug,
  version: z.string().regex(/^\d+\.\d+\.\d+$/, "must be a semantic version such as 1.0.0"),
  title: text,
  description: text,
  severity: z.enum(["HIGH", "MEDIUM", "LOW"]),
  control: slug,
  resourceTypes: z.array(z.string().regex(/^\S+$/, "must be a resource type without blanks")).min(1),
  applicability: condition.optional(),
  condition,
  property: text,
  remediation: z.array(text).min(1),
  threats: z.array(z.enum(BENCHMARK_THREATS)).min(1),
  userImpact: level,
  implementationEffort: level,
});

const standardSchema = z.strictObject({
  id: slug,
  name: text,
  version: text,
  description: text,
  controls: z
    .array(
      z.strictObject({
        id: text,
        title: text,
        description: text,
        definitions: z.array(slug).default([]),
      }),
    )
    .min(1),
});

// ---------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------

const cache = new Map<string, Benchmark>();

/**
 * The benchmark of a version (`v1`...), read and validated once per process. Throws BenchmarkDataError
 * naming every faulty file and path: unknown fields, unknown control ids, duplicate ids, invalid
 * conditions, standards that map to unknown definitions...
 */
export function loadBenchmark(version = "v1"): Benchmark {
  const hit = cache.get(version);
  if (hit) return hit;
  if (!/^v\d+$/.test(version)) throw new RangeError(`benchmark version must look like v1 (got ${version})`);
  const benchmark = loadBenchmarkFrom(benchmarkDirectory(version));
  cache.set(version, benchmark);
  return benchmark;
}

/**
 * Reads and validates the benchmark in `directory` (controls.yaml, definitions/, compliance/), uncached: for
 * tools and tests that check a data set other than the shipped one. The version is the directory's name.
 */
export function loadBenchmarkFrom(directory: string): Benchmark {
  return readBenchmark(path.basename(directory), directory);
}

/**
 * `<repo>/subgraphs/posture/data/benchmark/<version>`: the repository root is the nearest directory above
 * this module that holds package.json, which is the same from the sources (jest) and from `dist/`.
 */
function benchmarkDirectory(version: string): string {
  let directory = __dirname;
  while (!existsSync(path.join(directory, "package.json"))) {
    const parent = path.dirname(directory);
    if (parent === directory)
      throw new Error(`no package.json above ${__dirname}: cannot locate benchmark data`);
    directory = parent;
  }
  return path.join(directory, "subgraphs", "posture", "data", "benchmark", version);
}

/** A path inside a data file, e.g. `[3].condition.allOf[0]`. */
function pathText(segments: ReadonlyArray<PropertyKey>): string {
  return segments
    .map((segment) =>
      typeof segment === "number"
        ? `[${segment}]`
        : /^[A-Za-z_$][\w$]*$/.test(String(segment))
          ? `.${String(segment)}`
          : `[${JSON.stringify(String(segment))}]`,
    )
    .join("")
    .replace(/^\./, "");
}

function readBenchmark(version: string, directory: string): Benchmark {
  if (!existsSync(directory)) throw new BenchmarkDataError(directory, [`benchmark ${version} not found`]);
  const problems: string[] = [];
  const fault = (file: string, at: ReadonlyArray<PropertyKey> | string, message: string) => {
    const where = typeof at === "string" ? at : pathText(at);
    problems.push(`${file}: ${where ? `${where}: ` : ""}${message}`);
  };

  /** The YAML of a data file as a list of entries (after checking it is a list). */
  const readList = (file: string): unknown[] => {
    let document;
    try {
      document = parseDocument(readFileSync(path.join(directory, file), "utf8"), { uniqueKeys: true });
    } catch (error) {
      fault(file, "", `cannot be read: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
    if (document.errors.length > 0) {
      for (const error of document.errors) fault(file, "", `invalid YAML: ${error.message}`);
      return [];
    }
    const value: unknown = document.toJS();
    if (!Array.isArray(value)) {
      fault(file, "", "must be a YAML list");
      return [];
    }
    return value;
  };
  const parseEntries = <T>(file: string, entries: unknown[], schema: z.ZodType<T>): T[] =>
    entries.flatMap((entry, index) => {
      const result = schema.safeParse(entry);
      if (result.success) return [result.data];
      for (const issue of result.error.issues) fault(file, [index, ...issue.path], issue.message);
      return [];
    });
  const yamlFiles = (sub: string): string[] => {
    const folder = path.join(directory, sub);
    if (!existsSync(folder)) {
      fault(sub, "", "directory not found");
      return [];
    }
    return readdirSync(folder)
      .filter((name) => name.endsWith(".yaml") || name.endsWith(".yml"))
      .sort()
      .map((name) => `${sub}/${name}`);
  };

  // Controls.
  const controls = parseEntries("controls.yaml", readList("controls.yaml"), controlSchema);
  const controlIds = new Set<string>();
  controls.forEach((control, index) => {
    if (controlIds.has(control.id))
      fault("controls.yaml", [index, "id"], `duplicate control id ${control.id}`);
    controlIds.add(control.id);
  });
  if (controls.length === 0) fault("controls.yaml", "", "defines no controls");

  // Definitions, from every file of definitions/ (in file-name order).
  const definitions: BenchmarkDefinition[] = [];
  const definedIn = new Map<string, string>();
  const definitionFiles = yamlFiles("definitions");
  if (definitionFiles.length === 0) fault("definitions", "", "holds no .yaml files");
  for (const file of definitionFiles) {
    readList(file).forEach((entry, index) => {
      const result = definitionSchema.safeParse(entry);
      if (!result.success) {
        for (const issue of result.error.issues) fault(file, [index, ...issue.path], issue.message);
        return;
      }
      const definition = result.data as BenchmarkDefinition;
      const at = (...rest: PropertyKey[]) => [index, ...rest];
      const previous = definedIn.get(definition.id);
      if (previous) fault(file, at("id"), `duplicate definition id ${definition.id} (also in ${previous})`);
      definedIn.set(definition.id, file);
      if (!controlIds.has(definition.control)) {
        fault(file, at("control"), `unknown control ${definition.control} (see controls.yaml)`);
      }
      const types = new Set<string>();
      definition.resourceTypes.forEach((type, k) => {
        if (types.has(type.toLowerCase()))
          fault(file, at("resourceTypes", k), `duplicate resource type ${type}`);
        types.add(type.toLowerCase());
      });
      for (const key of ["applicability", "condition"] as const) {
        const value = definition[key];
        if (value === undefined) continue;
        for (const problem of validateCondition(value)) {
          fault(file, `${pathText(at(key))}${problem.path.replace(/^\$/, "")}`, problem.message);
        }
      }
      // The property must be a readable field path: checked by validating a condition on it.
      for (const problem of validateCondition({ field: definition.property, exists: true })) {
        fault(file, at("property"), problem.message);
      }
      definitions.push(definition);
    });
  }

  // Compliance standards.
  const standards: ComplianceStandardData[] = [];
  const standardIds = new Set<string>();
  const standardFiles = yamlFiles("compliance");
  if (standardFiles.length === 0) fault("compliance", "", "holds no .yaml files");
  for (const file of standardFiles) {
    let document: unknown;
    try {
      const parsed = parseDocument(readFileSync(path.join(directory, file), "utf8"), { uniqueKeys: true });
      for (const error of parsed.errors) fault(file, "", `invalid YAML: ${error.message}`);
      document = parsed.errors.length > 0 ? undefined : parsed.toJS();
    } catch (error) {
      fault(file, "", `cannot be read: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (document === undefined) continue;
    const result = standardSchema.safeParse(document);
    if (!result.success) {
      for (const issue of result.error.issues) fault(file, issue.path, issue.message);
      continue;
    }
    const standard = result.data;
    if (standardIds.has(standard.id)) fault(file, ["id"], `duplicate standard id ${standard.id}`);
    standardIds.add(standard.id);
    const requirementIds = new Set<string>();
    standard.controls.forEach((control, index) => {
      if (requirementIds.has(control.id)) {
        fault(file, ["controls", index, "id"], `duplicate control id ${control.id} in ${standard.id}`);
      }
      requirementIds.add(control.id);
      const mapped = new Set<string>();
      control.definitions.forEach((id, k) => {
        const at = ["controls", index, "definitions", k];
        if (!definedIn.has(id)) fault(file, at, `unknown definition ${id} (control ${control.id})`);
        if (mapped.has(id)) fault(file, at, `definition ${id} listed twice in control ${control.id}`);
        mapped.add(id);
      });
    });
    standards.push(standard);
  }

  if (problems.length > 0) throw new BenchmarkDataError(directory, problems);
  return { version, controls, definitions, standards };
}
