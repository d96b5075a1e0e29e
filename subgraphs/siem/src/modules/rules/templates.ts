/**
 * The built-in analytics rule templates: one YAML file per template in `subgraphs/siem/data/rule-templates/`,
 * each a RuleSpec plus `id` (a kebab-case slug, the file's name) and `version`. Read, validated and normalised
 * once per process.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import { normalizeRuleSpec, validateRuleSpec, type RuleSpec, type RuleSpecInput } from "./rule-spec";

/** A built-in template: a complete rule definition with its id and version. */
export type RuleTemplate = RuleSpec & { id: string; version: string };

/** Thrown when template data is faulty; the message names each file and path. */
export class RuleTemplateError extends Error {
  /** Every fault, as `file: path: message`. */
  readonly problems: string[];

  constructor(directory: string, problems: string[]) {
    super(`invalid rule templates in ${directory}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "RuleTemplateError";
    this.problems = problems;
  }
}

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const VERSION = /^\d+\.\d+\.\d+$/;

let cache: RuleTemplate[] | null = null;

/**
 * The built-in rule templates, sorted by id, validated with validateRuleSpec and normalised (defaults filled).
 * Read once per process; the result is frozen. Throws RuleTemplateError naming every faulty file and path.
 */
export function loadRuleTemplates(): RuleTemplate[] {
  cache ??= loadRuleTemplatesFrom(ruleTemplatesDirectory());
  return cache;
}

/**
 * `<repo>/subgraphs/siem/data/rule-templates`: the repository root is the nearest directory above this module
 * holding package.json, the same from the sources (jest) and from `dist/`.
 */
export function ruleTemplatesDirectory(): string {
  let directory = __dirname;
  while (!existsSync(path.join(directory, "package.json"))) {
    const parent = path.dirname(directory);
    if (parent === directory)
      throw new Error(`no package.json above ${__dirname}: cannot locate rule templates`);
    directory = parent;
  }
  return path.join(directory, "subgraphs", "siem", "data", "rule-templates");
}

/** Reads and validates the templates of `directory` (every `*.yaml`), uncached: for tools and tests. */
export function loadRuleTemplatesFrom(directory: string): RuleTemplate[] {
  const problems: string[] = [];
  const fault = (file: string, at: string, message: string) =>
    problems.push(`${file}: ${at ? `${at}: ` : ""}${message}`);
  if (!existsSync(directory)) throw new RuleTemplateError(directory, ["directory not found"]);
  const files = readdirSync(directory)
    .filter((name) => name.endsWith(".yaml"))
    .sort();
  if (files.length === 0) fault(directory, "", "no *.yaml template files");

  const templates: RuleTemplate[] = [];
  const ids = new Map<string, string>();
  for (const file of files) {
    let value: unknown;
    try {
      const document = parseDocument(readFileSync(path.join(directory, file), "utf8"), { uniqueKeys: true });
      if (document.errors.length > 0) {
        for (const error of document.errors) fault(file, "", `invalid YAML: ${error.message}`);
        continue;
      }
      value = document.toJS();
    } catch (error) {
      fault(file, "", `cannot be read: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      fault(file, "", "must be a YAML mapping (one template per file)");
      continue;
    }
    const { id, version, ...spec } = value as Record<string, unknown>;
    let ok = true;
    if (typeof id !== "string" || !SLUG.test(id)) {
      fault(file, "id", `must be a kebab-case slug such as brute-force-sign-ins (got ${JSON.stringify(id)})`);
      ok = false;
    } else {
      if (file !== `${id}.yaml`) {
        fault(file, "id", `must match the file name (${id}.yaml)`);
        ok = false;
      }
      const other = ids.get(id);
      if (other) {
        fault(file, "id", `"${id}" is already used by ${other}`);
        ok = false;
      }
      ids.set(id, file);
    }
    if (typeof version !== "string" || !VERSION.test(version)) {
      fault(
        file,
        "version",
        `must be a quoted version string such as "1.0.0" (got ${JSON.stringify(version)})`,
      );
      ok = false;
    }
    const specProblems = validateRuleSpec(spec);
    for (const problem of specProblems) fault(file, problem.path, problem.message);
    if (ok && specProblems.length === 0) {
      templates.push({
        id: id as string,
        version: version as string,
        ...normalizeRuleSpec(spec as RuleSpecInput),
      });
    }
  }
  if (problems.length > 0) throw new RuleTemplateError(directory, problems);
  templates.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return templates.map((template) => deepFreeze(template));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
