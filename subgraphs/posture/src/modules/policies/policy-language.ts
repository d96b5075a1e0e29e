/**
 * The condition language of Azure Policy's `if` block (https://learn.microsoft.com/azure/governance/policy/concepts/definition-structure-policy-rule),
 * as a pure module: validate a condition, compile it once into a closure tree, then test it against many resources.
 *
 * Where Azure is loose or under-documented, these are the choices made (each is repeated next to its code):
 * - Operator and key names (`allOf`, `field`, `equals`, `where`…) are case-insensitive, as in Azure.
 * - Scalar equality is textual-loose, like Azure's: strings compare case-insensitively; a number equals a string
 *   that parses as the same number (`3389` equals `"3389"`, which matters for port ranges that providers emit
 *   either way); a boolean equals the strings `"true"`/`"false"` in any case. Arrays and objects compare deeply
 *   with the same rules (object keys case-insensitively).
 * - A missing field and a `null` field are both "absent": `exists: false` holds, `equals: null` holds, and every
 *   positive operator is false (so its `not…` form is true).
 * - `like`, `match` and friends also accept numbers and booleans by their text (`3389` is like `"33*"`).
 * - `greater`/`less` and their `…OrEquals` order two ISO 8601 dates or date-times by the instant they name
 *   (offsets and fractions understood, a date is its UTC midnight); other strings ordinally, case-insensitively.
 * - A field path with `[*]` outside `count` holds only when the operator holds for every member; an empty array,
 *   a missing array, or a non-array where `[*]` is used has no members, so the condition holds vacuously.
 * - Only field counts are supported; value counts (`count.value`) and template expressions (`"[parameters('x')]"`)
 *   are rejected, because the caller resolves parameters before compiling.
 * - `test` and `explain` never throw: a resource whose shape cannot be read (a throwing getter, say) does not
 *   satisfy the condition.
 */

/** A resource as the policy engine sees it. */
export interface PolicyResource {
  id: string;
  type: string;
  kind: string;
  name: string;
  location: string | null;
  resourceGroup: string | null;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
}

/** A fault in a policy condition: JSON path (e.g. `$.allOf[1].anyOf[0].equals`) and message. */
export interface PolicyProblem {
  path: string;
  message: string;
}

/** Thrown by compileCondition for an invalid condition; carries every problem found. */
export class PolicyLanguageError extends Error {
  /** Every problem of the condition, in document order. */
  readonly problems: PolicyProblem[];

  constructor(problems: PolicyProblem[]) {
    // The message lists a few problems so a log line is useful on its own; `problems` has them all.
    const shown = problems.slice(0, 5).map((p) => `${p.path}: ${p.message}`);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    super(`invalid policy condition: ${shown.join("; ")}`);
    this.name = "PolicyLanguageError";
    this.problems = problems;
  }
}

/** A compiled condition: a closure tree built once per definition, evaluated per resource without re-parsing. */
export interface CompiledCondition {
  /** True when the condition holds for the resource. Never throws for any resource shape. */
  test(resource: PolicyResource): boolean;
  /**
   * Human-readable explanation of why the condition holds for this resource (the leaf conditions that held, with
   * the actual values), or null when it does not hold.
   */
  explain(resource: PolicyResource): string | null;
  /** The field paths the condition reads, in canonical spelling and order of first appearance. */
  fields: string[];
}

/** Every problem of a condition (empty array when valid). Never throws, whatever the input. */
export function validateCondition(
  condition: unknown,
  options?: { maxDepth?: number; maxNodes?: number },
): PolicyProblem[] {
  try {
    return validate(condition, resolveLimits(options));
  } catch (error) {
    // Only non-JSON input gets here (a getter or Proxy trap that throws); JSON values are read without throwing.
    return [{ path: "$", message: `condition could not be read: ${errorMessage(error)}` }];
  }
}

/** Validates then compiles; throws PolicyLanguageError listing all problems. */
export function compileCondition(
  condition: unknown,
  options?: { maxDepth?: number; maxNodes?: number },
): CompiledCondition {
  const problems = validateCondition(condition, options);
  if (problems.length > 0) throw new PolicyLanguageError(problems);
  const context: CompileContext = { scopes: [], fields: new Set(), countDepth: 0 };
  let root: Node;
  try {
    root = compileNode(condition as Record<string, unknown>, context);
  } catch (error) {
    // Validation read the input once; an exotic object (getters returning different values) can still fail here.
    throw new PolicyLanguageError([
      { path: "$", message: `condition could not be compiled: ${errorMessage(error)}` },
    ]);
  }
  // Counts keep their current member in a per-call array (one slot per nesting level), so conditions without
  // a count share one empty array and `test` allocates nothing.
  const usesScopes = context.countDepth > 0;
  const scopes = (): unknown[] => (usesScopes ? [] : NO_SCOPES);
  return {
    fields: [...context.fields],
    test(resource) {
      try {
        return root.test(resource, scopes());
      } catch {
        return false;
      }
    },
    explain(resource) {
      try {
        if (!root.test(resource, scopes())) return null;
        const reasons: string[] = [];
        root.explain(resource, scopes(), true, reasons);
        return reasons.join("; ");
      } catch {
        return null;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------------------------

const DEFAULT_MAX_DEPTH = 32;
const DEFAULT_MAX_NODES = 2_000;
// Compilation and evaluation recurse once per nesting level, so even a caller-chosen depth stays far from the
// stack limit; validation itself is iterative and needs no such cap.
const HARD_MAX_DEPTH = 256;
const HARD_MAX_NODES = 1_000_000;
// Literal operands (`equals: {…}`) are compared recursively, so their nesting is bounded too.
const MAX_LITERAL_DEPTH = 64;
// Wildcard expansion recurses once per `[*]`, bounded by the number of segments.
const MAX_PATH_SEGMENTS = 64;
const MAX_PATH_LENGTH = 1_024;

const OPERATORS = [
  "equals",
  "notEquals",
  "in",
  "notIn",
  "contains",
  "notContains",
  "containsKey",
  "notContainsKey",
  "like",
  "notLike",
  "match",
  "notMatch",
  "matchInsensitively",
  "notMatchInsensitively",
  "exists",
  "greater",
  "greaterOrEquals",
  "less",
  "lessOrEquals",
] as const;
type Operator = (typeof OPERATORS)[number];

const LOGICAL = ["allOf", "anyOf", "not"] as const;
type Logical = (typeof LOGICAL)[number];

const SUBJECTS = ["field", "value", "count"] as const;
type Subject = (typeof SUBJECTS)[number];

const byLowerCase = <T extends string>(names: readonly T[]) =>
  new Map<string, T>(names.map((name) => [name.toLowerCase(), name]));
const OPERATOR_NAMES = byLowerCase(OPERATORS);
const LOGICAL_NAMES = byLowerCase(LOGICAL);
const SUBJECT_NAMES = byLowerCase(SUBJECTS);

/** Operators a count (a number) can be compared with. */
const COUNT_OPERATORS: ReadonlySet<Operator> = new Set<Operator>([
  "equals",
  "notEquals",
  "greater",
  "greaterOrEquals",
  "less",
  "lessOrEquals",
  "in",
  "notIn",
]);

type Limits = { maxDepth: number; maxNodes: number };

function resolveLimits(options: unknown): Limits {
  const pick = (value: unknown, fallback: number, ceiling: number) =>
    typeof value === "number" && Number.isFinite(value) && value >= 1
      ? Math.min(Math.floor(value), ceiling)
      : fallback;
  const record = isRecord(options) ? options : {};
  return {
    maxDepth: pick(record.maxDepth, DEFAULT_MAX_DEPTH, HARD_MAX_DEPTH),
    maxNodes: pick(record.maxNodes, DEFAULT_MAX_NODES, HARD_MAX_NODES),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------------

const NO_SCOPES: unknown[] = [];

/** Any non-array object: what a property path can step into. */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A JSON object: a plain object from any realm (class instances such as Date or Map are not JSON). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unknown error";
  }
}

/** ARM evaluates any string that starts with `[` and ends with `]` as a template expression; `[[` escapes it. */
function isTemplate(value: unknown): value is string {
  return typeof value === "string" && value.startsWith("[") && value.endsWith("]") && !value.startsWith("[[");
}

/** ARM's escape: `"[[x]"` is the literal string `"[x]"`. */
function unescapeTemplate(value: string): string {
  return value.startsWith("[[") && value.endsWith("]") ? value.slice(1) : value;
}

function templateProblem(value: string): string {
  return (
    `template expressions are not supported: ${truncate(JSON.stringify(value))} ` +
    `(resolve parameters before compiling; start a literal string with "[[" to keep a leading "[")`
  );
}

function truncate(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What a value is, for messages ("got an array"). */
function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return `the string ${truncate(JSON.stringify(value), 60)}`;
    case "number":
      return Number.isFinite(value) ? `the number ${value}` : `the non-finite number ${value}`;
    case "boolean":
      return `${value}`;
    case "function":
      return "a function";
    case "bigint":
      return "a bigint";
    case "symbol":
      return "a symbol";
    default:
      return isPlainObject(value) ? "an object" : "a non-plain object";
  }
}

/** True for values a JSON document can hold at this node (containers are checked member by member). */
function isJsonScalarOrContainer(value: unknown): boolean {
  return (
    value === null ||
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value)) ||
    Array.isArray(value) ||
    isPlainObject(value)
  );
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const keyPath = (path: string, key: string) =>
  IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
const indexPath = (path: string, index: number) => `${path}[${index}]`;
const quote = (name: string) => `"${name}"`;

/** Suggests the operator a misspelt key probably meant (`equal` → `equals`). */
function suggestion(key: string): string {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of [...OPERATORS, ...LOGICAL, ...SUBJECTS]) {
    const distance = editDistance(lower, name.toLowerCase(), bestDistance);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best ? ` (did you mean "${best}"?)` : "";
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit || a.length > 64) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
    }
    previous = current;
  }
  return Math.min(previous[b.length], limit);
}

// ---------------------------------------------------------------------------------------------------------------
// Field paths
// ---------------------------------------------------------------------------------------------------------------

type Segment =
  { kind: "key"; name: string; lower: string } | { kind: "all" } | { kind: "index"; index: number };

type Root = "type" | "name" | "kind" | "location" | "id" | "resourceGroup" | "tags" | "properties";

/** A parsed `field` path: where it starts and the segments below that. */
interface FieldPath {
  root: Root;
  segments: Segment[];
  /** Canonical spelling (canonical root casing, bracket syntax only where needed). */
  text: string;
}

const SCALAR_ROOTS = ["type", "name", "kind", "location", "id", "resourceGroup"] as const;
const ROOT_NAMES = byLowerCase<Root>([...SCALAR_ROOTS, "tags", "properties"]);
const SCALAR_ROOT_SET: ReadonlySet<Root> = new Set<Root>(SCALAR_ROOTS);
// Names that need no brackets: Azure aliases are letters, digits, `_`, `-`, `$`, `@`… but never these.
const BARE_NAME = /^[^.[\]'\s]+$/;
const FIELD_HINT =
  "expected type, name, kind, location, id, resourceGroup, tags, tags.<name>, tags['<name>'] or properties.<path>";

function segmentText(segment: Segment): string {
  if (segment.kind === "all") return "[*]";
  if (segment.kind === "index") return `[${segment.index}]`;
  return BARE_NAME.test(segment.name) ? `.${segment.name}` : `['${segment.name.replace(/'/g, "''")}']`;
}

function pathText(root: Root, segments: readonly Segment[]): string {
  return root + segments.map(segmentText).join("");
}

const keySegment = (name: string): Segment => ({ kind: "key", name, lower: name.toLowerCase() });

/** Reads one `[…]` at `start`: `[*]`, `[<index>]`, `['<name>']` (quotes doubled inside) or, for tags, `[<name>]`. */
function readBracket(
  text: string,
  start: number,
  allowUnquoted: boolean,
  offset: number,
): { segment: Segment; end: number } | string {
  const open = start + 1;
  if (text[open] === "'") {
    let name = "";
    for (let i = open + 1; i < text.length; i++) {
      if (text[i] !== "'") {
        name += text[i];
        continue;
      }
      if (text[i + 1] === "'") {
        name += "'";
        i++;
        continue;
      }
      if (text[i + 1] !== "]") return `expected "]" after the quoted name at position ${offset + i + 1}`;
      if (name === "") return `empty name in brackets at position ${offset + start}`;
      return { segment: keySegment(name), end: i + 2 };
    }
    return `unterminated quoted name starting at position ${offset + open}`;
  }
  const close = text.indexOf("]", open);
  if (close === -1) return `unterminated "[" at position ${offset + start}`;
  const inner = text.slice(open, close);
  if (inner === "*") return { segment: { kind: "all" }, end: close + 1 };
  if (/^\d{1,9}$/.test(inner)) return { segment: { kind: "index", index: Number(inner) }, end: close + 1 };
  if (allowUnquoted && inner !== "" && !/[[']/.test(inner))
    return { segment: keySegment(inner), end: close + 1 };
  return `expected [*], [<index>] or ['<name>'] at position ${offset + start}`;
}

/** Parses a `field` path, or returns why it is not one. */
function parseFieldPath(raw: string): FieldPath | string {
  const invalid = (reason: string) => `invalid field path ${truncate(JSON.stringify(raw), 80)}: ${reason}`;
  if (raw === "") return invalid("it is empty");
  if (raw.length > MAX_PATH_LENGTH) return invalid(`longer than ${MAX_PATH_LENGTH} characters`);
  const match = /^[^.[]*/.exec(raw);
  const rootText = match ? match[0] : "";
  const root = ROOT_NAMES.get(rootText.toLowerCase());
  if (root === undefined) return invalid(`unknown field ${JSON.stringify(rootText)}; ${FIELD_HINT}`);
  const rest = raw.slice(rootText.length);
  if (rest === "") return { root, segments: [], text: root };
  if (SCALAR_ROOT_SET.has(root)) return invalid(`"${root}" has no sub-fields`);
  if (root === "tags") return parseTagRest(raw, rest, invalid);
  return parsePropertiesRest(rest, rootText.length, invalid);
}

function parseTagRest(raw: string, rest: string, invalid: (reason: string) => string): FieldPath | string {
  let segment: Segment;
  if (rest.startsWith(".")) {
    const name = rest.slice(1);
    if (name === "") return invalid("empty tag name");
    if (!BARE_NAME.test(name))
      return invalid("tag names with dots, spaces, quotes or brackets need tags['<name>']");
    segment = keySegment(name);
  } else {
    const read = readBracket(raw, raw.length - rest.length, true, 0);
    if (typeof read === "string") return invalid(read);
    if (read.segment.kind !== "key") return invalid("tags are addressed by name: tags['<name>']");
    if (read.end !== raw.length) return invalid("tags have no sub-fields");
    segment = read.segment;
  }
  return { root: "tags", segments: [segment], text: pathText("tags", [segment]) };
}

function parsePropertiesRest(
  rest: string,
  offset: number,
  invalid: (reason: string) => string,
): FieldPath | string {
  const segments: Segment[] = [];
  let position = 0;
  while (position < rest.length) {
    const char = rest[position];
    if (char === ".") {
      const start = position + 1;
      let end = start;
      while (end < rest.length && rest[end] !== "." && rest[end] !== "[") end++;
      const name = rest.slice(start, end);
      if (name === "") return invalid(`empty property name at position ${offset + start}`);
      if (!BARE_NAME.test(name))
        return invalid(`property name ${JSON.stringify(name)} needs brackets: ['<name>']`);
      segments.push(keySegment(name));
      position = end;
    } else if (char === "[") {
      const read = readBracket(rest, position, false, offset);
      if (typeof read === "string") return invalid(read);
      if (read.segment.kind !== "key" && segments.length === 0)
        return invalid("properties is an object: [*] and [<index>] must follow a property name");
      segments.push(read.segment);
      position = read.end;
    } else {
      return invalid(`unexpected ${JSON.stringify(char)} at position ${offset + position}`);
    }
    if (segments.length > MAX_PATH_SEGMENTS) return invalid(`more than ${MAX_PATH_SEGMENTS} segments`);
  }
  return { root: "properties", segments, text: pathText("properties", segments) };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation: an explicit work stack, so neither deep nor cyclic input can overflow the call stack.
// ---------------------------------------------------------------------------------------------------------------

type Task =
  | { kind: "condition"; value: unknown; path: string; depth: number }
  | { kind: "literal"; value: unknown; path: string; depth: number }
  | { kind: "leave"; value: object };

type Key<T extends string> = { key: string; name: T };

function validate(root: unknown, limits: Limits): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  // Objects on the current path from the root: meeting one again is a cycle. (A set of every object seen would
  // also reject shared, acyclic sub-conditions, which are harmless.)
  const ancestors = new Set<object>();
  const stack: Task[] = [];
  let nodes = 0;
  let stopped = false;

  const report = (path: string, message: string) => {
    problems.push({ path, message });
  };
  const depthProblem = () =>
    `condition is nested too deeply: more than ${limits.maxDepth} levels of allOf/anyOf/not/count.where`;

  // Every JSON value of the condition (objects, arrays, strings, numbers…) is one node. Nodes are admitted before
  // they are queued, and a whole array at once, so a 10-million-element array costs one comparison, not a loop.
  const admit = (count: number, pathOfExcess: (index: number) => string): boolean => {
    if (nodes + count <= limits.maxNodes) {
      nodes += count;
      return true;
    }
    report(
      pathOfExcess(limits.maxNodes - nodes),
      `condition is too large: more than ${limits.maxNodes} nodes`,
    );
    stopped = true;
    return false;
  };
  const admitOne = (path: string) => admit(1, () => path);

  // Queues a literal operand for the deep JSON / template / cycle checks.
  const literal = (value: unknown, path: string, tasks: Task[]) => {
    if (admitOne(path)) tasks.push({ kind: "literal", value, path, depth: 0 });
  };

  const checkField = (value: unknown, path: string, forCount: boolean) => {
    if (!admitOne(path)) return;
    if (isTemplate(value)) return report(path, templateProblem(value));
    if (typeof value !== "string") return report(path, `field must be a string, got ${describe(value)}`);
    const parsed = parseFieldPath(unescapeTemplate(value));
    if (typeof parsed === "string") return report(path, parsed);
    const last = parsed.segments[parsed.segments.length - 1];
    if (forCount && last?.kind !== "all")
      report(path, "count field must be an array path ending in [*], e.g. properties.securityRules[*]");
  };

  const checkCount = (value: unknown, path: string, depth: number, tasks: Task[]) => {
    if (!admitOne(path)) return;
    if (isTemplate(value)) return report(path, templateProblem(value));
    if (!isPlainObject(value))
      return report(
        path,
        `count must be an object with "field" and optional "where", got ${describe(value)}`,
      );
    let field: Key<"field"> | undefined;
    let where: Key<"where"> | undefined;
    let valueCountReported = false;
    for (const key of Object.keys(value)) {
      const lower = key.toLowerCase();
      if (lower === "field" || lower === "where") {
        const seen = lower === "field" ? field : where;
        if (seen) report(keyPath(path, key), `duplicate key "${key}" (keys are case-insensitive)`);
        else if (lower === "field") field = { key, name: "field" };
        else where = { key, name: "where" };
      } else if (lower === "value" || lower === "name") {
        if (!valueCountReported)
          report(
            keyPath(path, key),
            'value count is not supported: count needs "field" with an array path ending in [*]',
          );
        valueCountReported = true;
      } else {
        report(keyPath(path, key), `unknown key "${key}" in count (expected "field" and optional "where")`);
      }
    }
    if (field) checkField(value[field.key], keyPath(path, field.key), true);
    else if (!valueCountReported) report(path, 'count needs "field" (an array path ending in [*])');
    if (where) {
      const wherePath = keyPath(path, where.key);
      if (!admitOne(wherePath)) return;
      if (depth + 1 > limits.maxDepth) report(wherePath, depthProblem());
      else tasks.push({ kind: "condition", value: value[where.key], path: wherePath, depth: depth + 1 });
    }
  };

  const checkLogical = (name: Logical, value: unknown, path: string, depth: number, tasks: Task[]) => {
    if (name === "not") {
      if (!admitOne(path)) return;
      if (depth + 1 > limits.maxDepth) report(path, depthProblem());
      else tasks.push({ kind: "condition", value, path, depth: depth + 1 });
      return;
    }
    if (!admitOne(path)) return;
    if (isTemplate(value)) return report(path, templateProblem(value));
    if (!Array.isArray(value))
      return report(path, `${name} must be an array of conditions, got ${describe(value)}`);
    if (value.length === 0) return report(path, `${name} must not be empty`);
    if (!admit(value.length, (index) => indexPath(path, index))) return;
    // One problem per too-deep array, at its first element: the rest would repeat it.
    if (depth + 1 > limits.maxDepth) return report(indexPath(path, 0), depthProblem());
    for (let i = 0; i < value.length; i++)
      tasks.push({ kind: "condition", value: value[i], path: indexPath(path, i), depth: depth + 1 });
  };

  const checkOperand = (
    operator: Operator,
    value: unknown,
    path: string,
    forCount: boolean,
    tasks: Task[],
  ) => {
    if (isTemplate(value)) {
      if (admitOne(path)) report(path, templateProblem(value));
      return;
    }
    if (forCount) {
      if (!COUNT_OPERATORS.has(operator))
        return report(
          path,
          `operator "${operator}" cannot be used with count (use ${[...COUNT_OPERATORS].join(", ")})`,
        );
      if (operator === "in" || operator === "notIn") {
        if (!admitOne(path)) return;
        if (!Array.isArray(value))
          return report(path, `${operator} needs an array of numbers, got ${describe(value)}`);
        if (!admit(value.length, (index) => indexPath(path, index))) return;
        value.forEach((element: unknown, index) => {
          if (typeof element !== "number" || !Number.isFinite(element))
            report(indexPath(path, index), `a count is compared with numbers, got ${describe(element)}`);
        });
        return;
      }
      if (!admitOne(path)) return;
      if (typeof value !== "number" || !Number.isFinite(value))
        report(path, `a count is compared with a number, got ${describe(value)}`);
      return;
    }
    let expected: string | undefined;
    switch (operator) {
      case "in":
      case "notIn":
        if (!Array.isArray(value)) expected = "an array";
        break;
      case "containsKey":
      case "notContainsKey":
      case "like":
      case "notLike":
      case "match":
      case "notMatch":
      case "matchInsensitively":
      case "notMatchInsensitively":
        if (typeof value !== "string") expected = "a string";
        break;
      case "exists":
        if (typeof value !== "boolean" && !(typeof value === "string" && /^(true|false)$/i.test(value)))
          expected = "true or false";
        break;
      case "greater":
      case "greaterOrEquals":
      case "less":
      case "lessOrEquals":
        if (typeof value !== "string" && typeof value !== "number") expected = "a number or a string";
        break;
      default:
        // equals, notEquals, contains, notContains take any JSON value; the literal check below vets it.
        break;
    }
    if (expected === undefined) return literal(value, path, tasks);
    if (admitOne(path)) report(path, `${operator} needs ${expected}, got ${describe(value)}`);
  };

  const checkCondition = (value: unknown, path: string, depth: number) => {
    if (isTemplate(value)) return report(path, templateProblem(value));
    if (!isPlainObject(value)) {
      const got = describe(value);
      return report(
        path,
        isJsonScalarOrContainer(value)
          ? `must be a condition object, got ${got}`
          : `is not a JSON value (got ${got})`,
      );
    }
    if (ancestors.has(value)) return report(path, "cyclic reference: the condition contains itself");
    ancestors.add(value);
    stack.push({ kind: "leave", value });

    const logical: Key<Logical>[] = [];
    const subjects: Key<Subject>[] = [];
    const operators: Key<Operator>[] = [];
    const seen = new Set<string>();
    const keys = Object.keys(value);
    for (const key of keys) {
      const lower = key.toLowerCase();
      if (seen.has(lower)) {
        report(keyPath(path, key), `duplicate key "${key}" (keys are case-insensitive)`);
        continue;
      }
      seen.add(lower);
      const logicalName = LOGICAL_NAMES.get(lower);
      const subjectName = SUBJECT_NAMES.get(lower);
      const operatorName = OPERATOR_NAMES.get(lower);
      if (logicalName) logical.push({ key, name: logicalName });
      else if (subjectName) subjects.push({ key, name: subjectName });
      else if (operatorName) operators.push({ key, name: operatorName });
      else if (lower === "where") report(keyPath(path, key), '"where" is only allowed inside "count"');
      else report(keyPath(path, key), `unknown operator "${key}"${suggestion(key)}`);
    }

    const tasks: Task[] = [];
    if (logical.length > 0) {
      const all = [...logical, ...subjects, ...operators];
      if (all.length > 1)
        report(
          path,
          "a condition has exactly one of allOf, anyOf, not, or field/value/count with one operator; found " +
            all.map((k) => quote(k.name)).join(" and "),
        );
      for (const { key, name } of logical) checkLogical(name, value[key], keyPath(path, key), depth, tasks);
    } else if (subjects.length === 0) {
      if (operators.length > 0)
        report(path, `missing "field", "value" or "count" for operator "${operators[0].name}"`);
      else if (keys.length === 0)
        report(path, "empty condition: expected allOf, anyOf, not, or field/value/count with an operator");
    } else {
      if (subjects.length > 1)
        report(
          path,
          `a condition has exactly one of field, value or count; found ${subjects.map((k) => quote(k.name)).join(" and ")}`,
        );
      if (operators.length === 0)
        report(path, `missing operator for "${subjects[0].name}" (e.g. equals, in, exists)`);
      else if (operators.length > 1)
        report(
          path,
          `a condition has exactly one operator; found ${operators.map((k) => quote(k.name)).join(" and ")}`,
        );
      for (const { key, name } of subjects) {
        const subjectPath = keyPath(path, key);
        if (name === "field") checkField(value[key], subjectPath, false);
        else if (name === "count") checkCount(value[key], subjectPath, depth, tasks);
        else literal(value[key], subjectPath, tasks);
      }
      const forCount = subjects.length === 1 && subjects[0].name === "count";
      for (const { key, name } of operators)
        checkOperand(name, value[key], keyPath(path, key), forCount, tasks);
    }
    // Reversed so the stack pops children in document order and problems read top to bottom.
    for (let i = tasks.length - 1; i >= 0; i--) stack.push(tasks[i]);
  };

  const checkLiteral = (value: unknown, path: string, depth: number) => {
    if (value === null || typeof value === "boolean") return;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) report(path, `is not a JSON value (got ${describe(value)})`);
      return;
    }
    if (typeof value === "string") {
      if (isTemplate(value)) report(path, templateProblem(value));
      return;
    }
    if (!Array.isArray(value) && !isPlainObject(value))
      return report(path, `is not a JSON value (got ${describe(value)})`);
    if (ancestors.has(value)) return report(path, "cyclic reference: the value contains itself");
    if (depth >= MAX_LITERAL_DEPTH)
      return report(path, `value is nested deeper than ${MAX_LITERAL_DEPTH} levels`);
    ancestors.add(value);
    stack.push({ kind: "leave", value });
    const entries: [string, unknown][] = Array.isArray(value)
      ? value.map((element: unknown, index) => [indexPath(path, index), element])
      : Object.keys(value).map((key) => [keyPath(path, key), value[key]]);
    if (!admit(entries.length, (index) => entries[index][0])) return;
    for (let i = entries.length - 1; i >= 0; i--)
      stack.push({ kind: "literal", value: entries[i][1], path: entries[i][0], depth: depth + 1 });
  };

  if (admitOne("$")) stack.push({ kind: "condition", value: root, path: "$", depth: 0 });
  while (stack.length > 0 && !stopped) {
    const task = stack.pop() as Task;
    if (task.kind === "leave") ancestors.delete(task.value);
    else if (task.kind === "condition") checkCondition(task.value, task.path, task.depth);
    else checkLiteral(task.value, task.path, task.depth);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Values: reading paths and comparing
// ---------------------------------------------------------------------------------------------------------------

/** A property by name: exact match first, then case-insensitive (Azure aliases are case-insensitive). */
function lookupKey(value: unknown, name: string, lower: string): unknown {
  if (!isRecord(value)) return undefined;
  // Own properties only: `properties.constructor` must not find Object.prototype.constructor.
  if (Object.hasOwn(value, name)) return value[name];
  for (const key of Object.keys(value)) if (key.toLowerCase() === lower) return value[key];
  return undefined;
}

function step(value: unknown, segment: Segment): unknown {
  if (segment.kind === "key") return lookupKey(value, segment.name, segment.lower);
  if (segment.kind === "index")
    return Array.isArray(value) && segment.index < value.length ? value[segment.index] : undefined;
  return undefined;
}

/** Walks `segments` (no `[*]`) from `value`. */
function walk(value: unknown, segments: readonly Segment[]): unknown {
  let current = value;
  for (let i = 0; i < segments.length && current !== undefined; i++) current = step(current, segments[i]);
  return current;
}

/**
 * Calls `visit` on every value the path reaches, expanding each `[*]`, until `visit` returns false. A non-array
 * where `[*]` is used has no members. True when every visit returned true (vacuously for no members).
 */
function everyMember(
  value: unknown,
  segments: readonly Segment[],
  from: number,
  visit: (member: unknown) => boolean,
): boolean {
  let current = value;
  for (let i = from; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.kind === "all") {
      if (!Array.isArray(current)) return true;
      for (let j = 0; j < current.length; j++)
        if (!everyMember(current[j], segments, i + 1, visit)) return false;
      return true;
    }
    current = step(current, segment);
  }
  return visit(current);
}

const absent = (value: unknown) => value === undefined || value === null;

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** The number a string spells, if it spells one exactly (no blanks, hex or words). */
function numericValue(text: string): number | undefined {
  return NUMERIC.test(text) ? Number(text) : undefined;
}

/**
 * Loose scalar equality (see the file comment): strings case-insensitively, numbers against numeric strings
 * numerically, booleans against "true"/"false" in any case; arrays and objects deeply, object keys
 * case-insensitively. `depth` only guards against cyclic resource data, as literals are at most 64 deep.
 */
function looseEquals(actual: unknown, expected: unknown, depth = 0): boolean {
  if (expected === null) return absent(actual);
  switch (typeof expected) {
    case "string":
      if (typeof actual === "string")
        return actual === expected || actual.toLowerCase() === expected.toLowerCase();
      if (typeof actual === "number") return numericValue(expected) === actual;
      if (typeof actual === "boolean") return expected.toLowerCase() === String(actual);
      return false;
    case "number":
      if (typeof actual === "number") return actual === expected;
      if (typeof actual === "string") return numericValue(actual) === expected;
      return false;
    case "boolean":
      if (typeof actual === "boolean") return actual === expected;
      if (typeof actual === "string") return actual.toLowerCase() === String(expected);
      return false;
    default:
      break;
  }
  if (depth > MAX_LITERAL_DEPTH) return false;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return false;
    for (let i = 0; i < expected.length; i++)
      if (!looseEquals(actual[i], expected[i], depth + 1)) return false;
    return true;
  }
  if (!isRecord(expected) || !isRecord(actual)) return false;
  const keys = Object.keys(expected);
  if (Object.keys(actual).length !== keys.length) return false;
  for (const key of keys) {
    const value = lookupKey(actual, key, key.toLowerCase());
    if (value === undefined || !looseEquals(value, expected[key], depth + 1)) return false;
  }
  return true;
}

type Predicate = (actual: unknown) => boolean;

/** `looseEquals(·, expected)` with the expected side prepared once, since `equals` is the hot path. */
function equalsPredicate(expected: unknown): Predicate {
  if (expected === null) return absent;
  if (typeof expected === "string") {
    const lower = expected.toLowerCase();
    const number = numericValue(expected);
    return (actual) =>
      typeof actual === "string"
        ? actual === expected || actual.toLowerCase() === lower
        : typeof actual === "number"
          ? actual === number
          : typeof actual === "boolean" && String(actual) === lower;
  }
  if (typeof expected === "number")
    return (actual) =>
      typeof actual === "number"
        ? actual === expected
        : typeof actual === "string" && numericValue(actual) === expected;
  if (typeof expected === "boolean") {
    const text = String(expected);
    return (actual) =>
      typeof actual === "boolean"
        ? actual === expected
        : typeof actual === "string" && actual.toLowerCase() === text;
  }
  return (actual) => looseEquals(actual, expected);
}

/** Orders two values, or NaN when they are not comparable (the comparison is then false). */
function comparator(expected: number | string): (actual: unknown) => number {
  const order = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : a === b ? 0 : NaN);
  if (typeof expected === "number")
    return (actual) => {
      const number =
        typeof actual === "number" ? actual : typeof actual === "string" ? numericValue(actual) : NaN;
      return number === undefined ? NaN : order(number, expected);
    };
  const lower = expected.toLowerCase();
  const number = numericValue(expected);
  const time = instantOf(expected);
  // Two ISO 8601 dates or date-times order by the instant they name (Azure compares date values as dates):
  // `…T01:00:00+02:00` is before `…T00:00:00Z`, and ARM's `.0000000Z` is the same instant as `Z`. Other strings
  // order case-insensitively by UTF-16 code unit (ordinal).
  return (actual) => {
    if (typeof actual === "string") {
      if (time !== undefined) {
        const actualTime = instantOf(actual);
        if (actualTime !== undefined) return order(actualTime[0], time[0]) || order(actualTime[1], time[1]);
      }
      return order(actual.toLowerCase(), lower);
    }
    return typeof actual === "number" && number !== undefined ? order(actual, number) : NaN;
  };
}

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * The instant an ISO 8601 date or date-time names, as whole seconds since the epoch and nanoseconds (a single
 * float cannot tell ARM's 100 ns ticks apart at today's epoch), or undefined for any other string. A date is its
 * midnight and a time without offset is UTC, as ARM writes its times.
 */
function instantOf(text: string): [seconds: number, nanos: number] | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
    return undefined;
  let offset = 0;
  const zone = m[8];
  if (zone && zone !== "Z" && zone !== "z") {
    const digits = zone.replace(":", "");
    offset = (digits[0] === "-" ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  const nanos = m[7] ? Number(m[7].padEnd(9, "0")) : 0;
  return [(Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000) / 1000, nanos];
}

/** The text of a scalar for `like`/`match`; containers and absent values have none. */
function textOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean")
    return String(value);
  return undefined;
}

/**
 * `like`: `*` matches any run of characters, case-insensitively, over the whole string. Azure allows one `*`;
 * any number are accepted. Matched greedily by literal parts (no regular expression, so no backtracking blowup).
 */
function likePredicate(pattern: string): Predicate {
  const parts = pattern.toLowerCase().split("*");
  const first = parts[0];
  const last = parts[parts.length - 1];
  return (actual) => {
    const raw = textOf(actual);
    if (raw === undefined) return false;
    const text = raw.toLowerCase();
    if (parts.length === 1) return text === first;
    if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last))
      return false;
    let position = first.length;
    const end = text.length - last.length;
    for (let i = 1; i < parts.length - 1; i++) {
      const found = text.indexOf(parts[i], position);
      if (found === -1 || found + parts[i].length > end) return false;
      position = found + parts[i].length;
    }
    return true;
  };
}

const DIGIT = /^\p{Nd}$/u;
const LETTER = /^\p{L}$/u;

/** `match`: `#` a digit, `?` a letter, `.` any character, anything else itself; whole string, per code point. */
function matchPredicate(pattern: string, insensitive: boolean): Predicate {
  const fold = (text: string) => (insensitive ? text.toLowerCase() : text);
  const expected = Array.from(pattern).map((char) =>
    char === "#" || char === "?" || char === "." ? char : fold(char),
  );
  return (actual) => {
    const raw = textOf(actual);
    if (raw === undefined) return false;
    const chars = Array.from(raw);
    if (chars.length !== expected.length) return false;
    for (let i = 0; i < chars.length; i++) {
      const want = expected[i];
      const ok =
        want === "#"
          ? DIGIT.test(chars[i])
          : want === "?"
            ? LETTER.test(chars[i])
            : want === "." || fold(chars[i]) === want;
      if (!ok) return false;
    }
    return true;
  };
}

const not =
  (predicate: Predicate): Predicate =>
  (actual) =>
    !predicate(actual);

/** The predicate an operator applies to one actual value, prepared once from the (validated) operand. */
function operatorPredicate(operator: Operator, operand: unknown): Predicate {
  switch (operator) {
    case "equals":
      return equalsPredicate(operand);
    case "notEquals":
      return not(equalsPredicate(operand));
    case "in":
    case "notIn": {
      const options = (operand as unknown[]).map(equalsPredicate);
      const isIn: Predicate = (actual) => {
        for (let i = 0; i < options.length; i++) if (options[i](actual)) return true;
        return false;
      };
      return operator === "in" ? isIn : not(isIn);
    }
    case "contains":
    case "notContains": {
      const element = equalsPredicate(operand);
      const needle = typeof operand === "string" ? operand.toLowerCase() : undefined;
      // A string contains a substring (case-insensitively); an array contains an element.
      const contains: Predicate = (actual) =>
        typeof actual === "string"
          ? needle !== undefined && actual.toLowerCase().includes(needle)
          : Array.isArray(actual) && actual.some(element);
      return operator === "contains" ? contains : not(contains);
    }
    case "containsKey":
    case "notContainsKey": {
      const key = operand as string;
      const lower = key.toLowerCase();
      const containsKey: Predicate = (actual) =>
        isRecord(actual) && (Object.hasOwn(actual, key) || hasKey(actual, lower));
      return operator === "containsKey" ? containsKey : not(containsKey);
    }
    case "like":
      return likePredicate(operand as string);
    case "notLike":
      return not(likePredicate(operand as string));
    case "match":
    case "matchInsensitively":
      return matchPredicate(operand as string, operator === "matchInsensitively");
    case "notMatch":
    case "notMatchInsensitively":
      return not(matchPredicate(operand as string, operator === "notMatchInsensitively"));
    case "exists": {
      const wanted = existsOperand(operand);
      return (actual) => !absent(actual) === wanted;
    }
    case "greater":
    case "greaterOrEquals":
    case "less":
    case "lessOrEquals": {
      const compare = comparator(operand as number | string);
      if (operator === "greater") return (actual) => compare(actual) > 0;
      if (operator === "greaterOrEquals") return (actual) => compare(actual) >= 0;
      if (operator === "less") return (actual) => compare(actual) < 0;
      return (actual) => compare(actual) <= 0;
    }
  }
}

/** Whether an object has a key, case-insensitively (the value does not matter: `null` values are keys too). */
function hasKey(value: unknown, lower: string): boolean {
  return isRecord(value) && Object.keys(value).some((key) => key.toLowerCase() === lower);
}

const existsOperand = (operand: unknown) =>
  typeof operand === "boolean" ? operand : String(operand).toLowerCase() === "true";

/** A value for explanations: JSON, shortened, `missing` for absent fields, never throwing (cyclic data). */
function formatValue(value: unknown): string {
  if (value === undefined) return "missing";
  try {
    const json = JSON.stringify(value);
    return json === undefined ? describe(value) : truncate(json);
  } catch {
    return describe(value);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Compilation into a closure tree
// ---------------------------------------------------------------------------------------------------------------

/**
 * One compiled condition. `scopes[k]` is the current member of the k-th enclosing count; `explain` pushes the
 * reasons the node evaluates to `holds` (the caller has established that it does).
 */
interface Node {
  test(resource: PolicyResource, scopes: unknown[]): boolean;
  explain(resource: PolicyResource, scopes: unknown[], holds: boolean, out: string[]): void;
}

interface CompileContext {
  /** The count paths enclosing the node being compiled, outermost first. */
  scopes: FieldPath[];
  fields: Set<string>;
  /** Deepest count nesting seen, to know whether evaluation needs a scopes array at all. */
  countDepth: number;
}

/** How a compiled field reads its value(s) from a resource. */
interface Accessor {
  text: string;
  wildcard: boolean;
  /** The single value (paths without `[*]` below their base). */
  get(resource: PolicyResource, scopes: unknown[]): unknown;
  /** True when `visit` holds for every member (vacuously for none). */
  every(resource: PolicyResource, scopes: unknown[], visit: (member: unknown) => boolean): boolean;
}

function sameSegment(a: Segment, b: Segment): boolean {
  if (a.kind === "key") return b.kind === "key" && a.lower === b.lower;
  if (a.kind === "index") return b.kind === "index" && a.index === b.index;
  return b.kind === "all";
}

/**
 * Binds a path to where it is read from: inside `count.where`, a path under a counted array path refers to that
 * count's current member (the innermost such count wins); any other path reads the resource.
 */
function accessor(path: FieldPath, scopes: readonly FieldPath[]): Accessor {
  let base: (resource: PolicyResource, scopes: unknown[]) => unknown;
  let segments = path.segments;
  const level = scopes.findLastIndex(
    (scope) =>
      scope.root === path.root &&
      scope.segments.length <= path.segments.length &&
      scope.segments.every((segment, i) => sameSegment(segment, path.segments[i])),
  );
  if (level >= 0) {
    segments = path.segments.slice(scopes[level].segments.length);
    base = (_resource, current) => current[level];
  } else {
    const root = path.root;
    // Top-level fields are read as plain properties of the resource object (guarded: it may not be one).
    base = (resource) => (isRecord(resource) ? resource[root] : undefined);
  }
  const wildcard = segments.some((segment) => segment.kind === "all");
  const frozen = segments;
  const first = frozen[0];
  // The single-key path (`properties.minimumTlsVersion`) is by far the most common: read it without a loop.
  const get =
    frozen.length === 0
      ? base
      : frozen.length === 1 && first.kind === "key"
        ? (resource: PolicyResource, current: unknown[]) =>
            lookupKey(base(resource, current), first.name, first.lower)
        : (resource: PolicyResource, current: unknown[]) => walk(base(resource, current), frozen);
  return {
    text: path.text,
    wildcard,
    get,
    every: (resource, current, visit) => everyMember(base(resource, current), frozen, 0, visit),
  };
}

/** The canonical key a (validated) condition object uses for one of `names`, and its value. */
function entry<T extends string>(
  object: Record<string, unknown>,
  names: ReadonlyMap<string, T>,
): { name: T; value: unknown } | undefined {
  for (const key of Object.keys(object)) {
    const name = names.get(key.toLowerCase());
    if (name !== undefined) return { name, value: object[key] };
  }
  return undefined;
}

/** A deep copy of a literal with ARM's `[[` escapes undone, so later changes to the input cannot leak in. */
function literalValue(value: unknown): unknown {
  if (typeof value === "string") return unescapeTemplate(value);
  if (Array.isArray(value)) return value.map(literalValue);
  // fromEntries defines properties, so a "__proto__" key stays a key instead of setting the prototype.
  if (isRecord(value))
    return Object.fromEntries(Object.keys(value).map((key) => [key, literalValue(value[key])]));
  return value;
}

function compileNode(condition: Record<string, unknown>, context: CompileContext): Node {
  const logical = entry(condition, LOGICAL_NAMES);
  if (logical) {
    if (logical.name === "not")
      return notNode(compileNode(logical.value as Record<string, unknown>, context));
    const children = (logical.value as Record<string, unknown>[]).map((child) => compileNode(child, context));
    return logical.name === "allOf" ? allOfNode(children) : anyOfNode(children);
  }
  const subject = entry(condition, SUBJECT_NAMES) as { name: Subject; value: unknown };
  const { name: operator, value: rawOperand } = entry(condition, OPERATOR_NAMES) as {
    name: Operator;
    value: unknown;
  };
  const operand = operator === "exists" ? existsOperand(rawOperand) : literalValue(rawOperand);
  const predicate = operatorPredicate(operator, operand);
  const expectation = `${operator} ${formatValue(operand)}`;
  if (subject.name === "value") return valueNode(literalValue(subject.value), predicate, expectation);
  if (subject.name === "field") {
    const path = parseFieldPath(unescapeTemplate(subject.value as string)) as FieldPath;
    context.fields.add(path.text);
    return fieldNode(accessor(path, context.scopes), predicate, expectation);
  }
  const count = subject.value as Record<string, unknown>;
  const path = parseFieldPath(unescapeTemplate(entry(count, FIELD_KEY)?.value as string)) as FieldPath;
  context.fields.add(path.text);
  const members = accessor(path, context.scopes);
  const level = context.scopes.length;
  const whereCondition = entry(count, WHERE_KEY);
  let where: Node | undefined;
  if (whereCondition) {
    context.countDepth = Math.max(context.countDepth, level + 1);
    context.scopes.push(path);
    where = compileNode(whereCondition.value as Record<string, unknown>, context);
    context.scopes.pop();
  }
  return countNode(members, level, where, predicate, expectation);
}

const FIELD_KEY = new Map([["field", "field"]]);
const WHERE_KEY = new Map([["where", "where"]]);

function allOfNode(children: Node[]): Node {
  return {
    test(resource, scopes) {
      for (let i = 0; i < children.length; i++) if (!children[i].test(resource, scopes)) return false;
      return true;
    },
    explain(resource, scopes, holds, out) {
      // Holding: every child is a reason. Failing: the children that failed are.
      for (const child of children)
        if (holds || !child.test(resource, scopes)) child.explain(resource, scopes, holds, out);
    },
  };
}

function anyOfNode(children: Node[]): Node {
  return {
    test(resource, scopes) {
      for (let i = 0; i < children.length; i++) if (children[i].test(resource, scopes)) return true;
      return false;
    },
    explain(resource, scopes, holds, out) {
      // Holding: the children that held. Failing: every child failed, so each is a reason.
      for (const child of children)
        if (!holds || child.test(resource, scopes)) child.explain(resource, scopes, holds, out);
    },
  };
}

function notNode(child: Node): Node {
  return {
    test: (resource, scopes) => !child.test(resource, scopes),
    explain: (resource, scopes, holds, out) => child.explain(resource, scopes, !holds, out),
  };
}

function valueNode(value: unknown, predicate: Predicate, expectation: string): Node {
  // A literal value never changes, so the condition is decided once, here.
  const result = predicate(value);
  return {
    test: () => result,
    explain(_resource, _scopes, holds, out) {
      out.push(`value ${formatValue(value)} (${holds ? "" : "not "}${expectation})`);
    },
  };
}

function fieldNode(field: Accessor, predicate: Predicate, expectation: string): Node {
  const { get, every } = field;
  return {
    test: field.wildcard
      ? (resource, scopes) => every(resource, scopes, predicate)
      : (resource, scopes) => predicate(get(resource, scopes)),
    explain(resource, scopes, holds, out) {
      if (!field.wildcard) {
        out.push(
          `${field.text} is ${formatValue(get(resource, scopes))} (${holds ? "" : "not "}${expectation})`,
        );
        return;
      }
      const members: unknown[] = [];
      every(resource, scopes, (member) => members.push(member) > 0);
      const shown =
        members.length === 0
          ? "has no members"
          : `is [${members.slice(0, 10).map(formatValue).join(", ")}${members.length > 10 ? ", …" : ""}]`;
      out.push(`${field.text} ${shown} (${holds ? "every member" : "not every member"}: ${expectation})`);
    },
  };
}

function countNode(
  members: Accessor,
  level: number,
  where: Node | undefined,
  predicate: Predicate,
  expectation: string,
): Node {
  const count = (resource: PolicyResource, scopes: unknown[]): number => {
    let n = 0;
    members.every(resource, scopes, (member) => {
      if (where === undefined) n++;
      else {
        scopes[level] = member;
        if (where.test(resource, scopes)) n++;
      }
      return true;
    });
    return n;
  };
  return {
    test: (resource, scopes) => predicate(count(resource, scopes)),
    explain(resource, scopes, holds, out) {
      const n = count(resource, scopes);
      let text = `count of ${members.text}${where ? " where the condition holds" : ""} is ${n} (${holds ? "" : "not "}${expectation})`;
      if (holds && where && n > 0) {
        // Name the first few members that were counted, with the where-conditions that held for them.
        const shown: string[] = [];
        let index = -1;
        members.every(resource, scopes, (member) => {
          index++;
          scopes[level] = member;
          if (!where.test(resource, scopes)) return true;
          const reasons: string[] = [];
          where.explain(resource, scopes, true, reasons);
          shown.push(`member ${index}: ${reasons.join(", ")}`);
          return shown.length < 3;
        });
        text += ` [${shown.join("; ")}${n > shown.length ? "; …" : ""}]`;
      }
      out.push(text);
    },
  };
}
