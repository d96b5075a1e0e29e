/**
 * Sigma rules (https://github.com/SigmaHQ/sigma-specification) → analytics rule definitions. Pure: YAML text in,
 * per document either a RuleSpecInput (filter, summarize, MITRE tags, entities…) or the reasons it cannot be
 * evaluated here. A rule is translated only when our filter means what the Sigma rule means over the events
 * we keep; anything that would match more or less (`?` wildcards, case-sensitive or complex regular expressions,
 * keyword search…) rejects the rule with a reason naming it.
 *
 * - A field the log source does not keep is absent from every event of it: its conditions are what Sigma makes
 *   of them on an event without the field (a value never matches, `null` always does), and the condition is
 *   simplified with them. A rule left matching no event, or every event, is rejected naming the fields; any other
 *   is translated, with a note per field saying what was assumed (Sysmon's `OriginalFileName` alternative to
 *   `Image` never matches a 4688 record, while the `Image` one does).
 * - `logsource` → the connector (and OCSF class) it means, as a `connector`/`class_uid` condition
 *   (sigma-logsources.ts); an unknown source is rejected.
 * - Fields → where our normaliser keeps them (sigma-logsources.ts), matched without case; the raw record's
 *   `requestParameters.…` and the like → the attribute kept as received.
 * - A map is an AND of its fields, a list of maps an OR; a list of values is an OR (`|all`: AND). Plain values
 *   compare without case (as in Sigma); `*` becomes a glob (`matches`) or, at an end, startsWith / endsWith /
 *   contains; `\*`, `\?` and `\\` escape. `null` is "missing", `|exists` tests presence.
 * - Modifiers: `contains`, `startswith`, `endswith`, `all`, `exists`, `cidr`, `gt`/`gte`/`lt`/`lte`, `neq`,
 *   `windash` (each value as any of its flag-character variants, as pySigma expands it), and `re` when the
 *   expression is literal text, `.*` and `^`/`$` (case-insensitive with `|i`, or without letters).
 * - `condition`: `and`, `or`, `not`, parentheses, `1 of`/`any of`/`all of` a pattern or `them`; the legacy
 *   aggregation `| count([field]) [by f1, f2] <op> n` → summarize (COUNT / DISTINCT_COUNT) and a trigger; over
 *   a source several connectors record, a field they keep in different places is a `summarize.aliases` entry.
 * - `level` → severity (`critical` → HIGH), `tags` `attack.tNNNN[.NNN]` → techniques, `attack.<tactic>` and
 *   `attack.taNNNN` → tactics; title, description, false positives, references → display name and description.
 * - Correlation rules `event_count` / `value_count` over rules of the same import → summarize and a trigger over
 *   their searches, each `timespan`; `temporal` / `temporal_ordered` → summarize FILTERS_MATCHED(_IN_ORDER) over
 *   the searches as named filters; all of them also across log sources (grouped by `aliases` of each rule's
 *   field, `summarize.aliases` where those are different columns); the rules they refer to are not imported on
 *   their own unless `generate: true`.
 * - Rule collections (`action: global`, `reset`, `repeat`) → one complete rule per rule document
 *   (sigma-collections.ts).
 */
import { Lexer, parseAllDocuments } from "yaml";
import { expandCollections } from "./sigma-collections";
import { normalizeIp } from "../connectors/normalizers/common";
import {
  DAY_MS,
  formatIsoDuration,
  HOUR_MS,
  MINUTE_MS,
  QUERY_PERIOD_BOUNDS,
  describeDuration,
} from "./durations";
import { CORRELATION_LIMITS } from "./rule-correlation";
import { IP_ADDRESS_PATTERN, type EventFilter, type FilterCondition } from "./rule-filter";
import {
  RULE_LIMITS,
  validateRuleSpec,
  type EntityMapping,
  type RuleKind,
  type RuleSeverity,
  type RuleSpecInput,
  type SummarizeAggregate,
  type SummarizeAlias,
  type TriggerOperator,
} from "./rule-spec";
import {
  ATTACK_TACTICS,
  findField,
  findLogsource,
  SIGMA_LOGSOURCES,
  type SigmaFieldTarget,
  type SigmaLogsource,
} from "./sigma-logsources";

// ---------------------------------------------------------------------------------------------------------
// Public types and limits
// ---------------------------------------------------------------------------------------------------------

/** Limits of one import. */
export const SIGMA_LIMITS = {
  /** The YAML text, in UTF-8 bytes: parsing costs tens of microseconds per node. */
  maxBytes: 256 * 1024,
  /** Rules (YAML documents) per import. */
  maxDocuments: 100,
  /**
   * Nesting of flow collections (`[…]`, `{…}`), and of block collections on one line (`- - - x`): the YAML
   * parser's time and memory grow fast with it.
   */
  maxFlowDepth: 32,
  /** One rule's YAML, as stored with the rule. */
  maxRuleBytes: 64 * 1024,
  /** A `condition` string. */
  maxConditionLength: 4096,
} as const;

/** Why a rule was rejected, as a code clients can branch on. */
export const SIGMA_PROBLEM_CODES = [
  "INVALID_YAML",
  "NOT_A_RULE",
  "MISSING_FIELD",
  "INVALID_FIELD",
  "UNSUPPORTED_RULE_TYPE",
  "UNSUPPORTED_LOGSOURCE",
  "UNSUPPORTED_FIELD",
  "UNSUPPORTED_MODIFIER",
  "UNSUPPORTED_VALUE",
  "UNSUPPORTED_DETECTION",
  "INVALID_CONDITION",
  "UNSUPPORTED_CONDITION",
  "DUPLICATE_ID",
  "INVALID_RULE",
  "INVALID_REFERENCE",
  "UNSUPPORTED_CORRELATION",
] as const;
/** A rejection code. */
export type SigmaProblemCode = (typeof SIGMA_PROBLEM_CODES)[number];

/** One reason a rule cannot be imported: a code, where in the rule (`detection.selection.eventName|re`) and what. */
export interface SigmaProblem {
  code: SigmaProblemCode;
  path: string;
  message: string;
}

/** How imported rules are set up (every field optional; SIGMA_DEFAULTS fill the rest). */
export interface SigmaImportOptions {
  enabled?: boolean;
  kind?: RuleKind;
  queryFrequency?: string;
  queryPeriod?: string;
  alertPerResult?: boolean;
  /**
   * Count aggregations and event_count / value_count correlations over a sliding window of their timeframe or
   * timespan (`summarize.window`), as Sigma means "within", instead of over each run's fixed period.
   */
  slidingWindow?: boolean;
}

/**
 * Defaults of an import: rules start disabled, so an admin reviews what a rule from elsewhere will raise before
 * it raises anything; scheduled every 5 minutes over the last 5 minutes (an aggregation's `timeframe`, when it
 * has one, is its period and frequency); one alert per matching event (per group for an aggregation), as a
 * Sigma rule describes single events.
 */
export const SIGMA_DEFAULTS = {
  enabled: false,
  kind: "SCHEDULED",
  queryFrequency: "PT5M",
  queryPeriod: "PT5M",
  alertPerResult: true,
} as const;

/** One YAML document of an import, with its rule's translation. */
export interface SigmaDocumentResult {
  /** Position in the import, from 1 (empty documents are not counted). */
  document: number;
  /** The line the document starts on, from 1. */
  line: number;
  /** The document's own YAML text (stored with the rule). */
  yaml: string;
  /** The rule's `id`, when it has a usable one. */
  sigmaId: string | null;
  /** The rule's `title`, when it has one. */
  title: string | null;
  /** The definition, when the rule translates (validated: validateRuleSpec has no problem with it). */
  spec: RuleSpecInput | null;
  /** Why it does not; empty when `spec` is set. */
  problems: SigmaProblem[];
  /**
   * Whether the rule is imported as an analytics rule of its own: false for a detection rule that correlation
   * rules of the import refer to (Sigma's default), unless one of them or the rule says `generate: true`.
   */
  standalone: boolean;
  /** What a reviewer should know about a translation (defaults taken, tags ignored…). */
  notes: string[];
}

/** A fault of the whole import (too large, too deep, no rule at all): nothing is imported. */
export class SigmaInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SigmaInputError";
  }
}

// ---------------------------------------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------------------------------------

/**
 * Checks the text before the YAML parser sees it, with the parser's own lexer (linear, and exact about quoted
 * text): the parser's time and memory grow fast with the nesting of flow collections (twenty thousand `[`
 * exhaust the process), and a document count over the limit need not be parsed at all.
 */
function precheck(text: string): void {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > SIGMA_LIMITS.maxBytes) {
    throw new SigmaInputError(
      `The YAML is ${bytes} bytes; at most ${SIGMA_LIMITS.maxBytes} are accepted per import.`,
    );
  }
  let depth = 0;
  let documents = 1;
  let indicators = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === "\n") indicators = 0;
    else if (token === "-" || token === "?" || token === ":") {
      // `- - - x` nests a block collection per indicator without any indentation to pay for it.
      indicators += 1;
      if (indicators > SIGMA_LIMITS.maxFlowDepth) {
        throw new SigmaInputError(
          `The YAML nests block collections (- - - …) more than ${SIGMA_LIMITS.maxFlowDepth} levels deep on one line.`,
        );
      }
    } else if (token === "[" || token === "{") {
      depth += 1;
      if (depth > SIGMA_LIMITS.maxFlowDepth) {
        throw new SigmaInputError(
          `The YAML nests flow collections ([…], {…}) more than ${SIGMA_LIMITS.maxFlowDepth} levels deep.`,
        );
      }
    } else if (token === "]" || token === "}") {
      depth = Math.max(0, depth - 1);
    } else if (token === "---") {
      // A leading and a trailing marker add two documents with nothing in them.
      documents += 1;
      if (documents > SIGMA_LIMITS.maxDocuments + 2) {
        throw new SigmaInputError(`At most ${SIGMA_LIMITS.maxDocuments} rules are accepted per import.`);
      }
    }
  }
}

/** The first line of a YAML library message (the rest is a code excerpt). */
const firstLine = (message: string) => message.split("\n")[0].trim();

/** 1-based line of an offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/** A document's text without its `---` and `...` marker lines (line by line: no regular expression over it all). */
function documentText(source: string): string {
  const lines = source.split("\n");
  const content = (line: string) => line.trim() !== "" && !line.trimStart().startsWith("#");
  const first = lines.findIndex(content);
  if (first >= 0 && lines[first].startsWith("---")) lines[first] = lines[first].slice(3).trim();
  let last = lines.length - 1;
  while (last >= 0 && !content(lines[last])) last -= 1;
  if (last >= 0 && /^\.\.\.(?:\s|#|$)/.test(lines[last])) lines[last] = "";
  return lines.join("\n").trim();
}

/** Why a parsed value is not plain JSON-like data (a binary, a set, a non-finite number…), or null. */
function plainProblem(value: unknown): string | null {
  if (value === null || typeof value === "string" || typeof value === "boolean") return null;
  if (typeof value === "number") return Number.isFinite(value) ? null : "a number that is not finite";
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = plainProblem(item);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value as Record<string, unknown>)) {
      const problem = plainProblem(item);
      if (problem) return problem;
    }
    return null;
  }
  return `a value of an unsupported YAML type (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

/** One parsed YAML document of an import: its value, or why it cannot be read. */
export interface ParsedDocument {
  document: number;
  line: number;
  yaml: string;
  value: unknown;
  problem: SigmaProblem | null;
}

/**
 * Splits multi-document YAML into its documents (empty ones left out) and parses each: YAML 1.2 core schema,
 * unique keys, no aliases (resolving them is how "billion laughs" documents explode), no custom tags. A
 * document that does not parse is reported with its line; the others are unaffected. Throws SigmaInputError
 * for input over the limits.
 */
export function parseSigmaDocuments(text: string): ParsedDocument[] {
  precheck(text);
  // Without prettyErrors: its code excerpts of a pathological line cost more than the parse.
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, merge: false, strict: true });
  const list = Array.isArray(docs) ? docs : [];
  const out: ParsedDocument[] = [];
  let previousEnd = 0;
  for (const doc of list) {
    const [start, , end] = doc.range;
    const source = text.slice(previousEnd, end);
    previousEnd = end;
    const yaml = documentText(source);
    const blank = yaml.split("\n").every((l) => l.trim() === "" || l.trim().startsWith("#"));
    if (blank && doc.errors.length === 0) continue;
    if (out.length === SIGMA_LIMITS.maxDocuments) {
      throw new SigmaInputError(`At most ${SIGMA_LIMITS.maxDocuments} rules are accepted per import.`);
    }
    const entry: ParsedDocument = {
      document: out.length + 1,
      line: lineOf(text, doc.contents?.range?.[0] ?? start),
      yaml,
      value: undefined,
      problem: null,
    };
    out.push(entry);
    const invalid = (message: string) => ({ code: "INVALID_YAML" as const, path: "", message });
    const fault = doc.errors[0] ?? doc.warnings[0];
    if (fault) {
      entry.problem = invalid(
        `${doc.errors.length ? "not valid" : "not plain"} YAML at line ${lineOf(text, fault.pos[0])}: ${firstLine(fault.message)}`,
      );
      continue;
    }
    if (Buffer.byteLength(entry.yaml, "utf8") > SIGMA_LIMITS.maxRuleBytes) {
      entry.problem = invalid(`a rule's YAML is at most ${SIGMA_LIMITS.maxRuleBytes} bytes`);
      continue;
    }
    try {
      entry.value = doc.toJS({ maxAliasCount: 0 });
    } catch (error) {
      entry.problem = invalid(
        error instanceof ReferenceError
          ? "YAML aliases (*name) are not supported: write the value out"
          : `cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      );
      continue;
    }
    const notPlain = plainProblem(entry.value);
    if (notPlain) entry.problem = invalid(`holds ${notPlain}`);
  }
  return out;
}

/**
 * Translates every rule of a (multi-document) Sigma YAML text: rule collections resolved (sigma-collections.ts),
 * then each detection rule, then each correlation rule over the rules of the import it refers to. Each rule
 * gets its definition or its problems; a later rule with the id of an earlier one is rejected; a detection
 * rule that correlations refer to is not imported on its own (`standalone: false`) unless one of them, or the
 * rule itself, says `generate: true`. Throws SigmaInputError when the text is over the limits or holds no
 * document at all.
 */
export function translateSigmaYaml(text: string, options: SigmaImportOptions = {}): SigmaDocumentResult[] {
  const parsed = parseSigmaDocuments(text);
  if (parsed.length === 0) throw new SigmaInputError("The YAML holds no Sigma rule.");
  const entries: ImportEntry[] = expandCollections(parsed).map((doc) => {
    const base = { document: doc.document, line: doc.line, yaml: doc.yaml, standalone: true };
    const meta = isRecord(doc.value) ? doc.value : {};
    const known = {
      name: typeof meta.name === "string" && meta.name.trim() !== "" ? meta.name.trim() : null,
      generate: meta.generate === true,
      collection: doc.madeOf !== null,
      duplicate: false,
    };
    const note = doc.madeOf ? `Made from ${doc.madeOf}.` : null;
    // A document that is not a rule: reported with what its header says.
    const refused = (problem: SigmaProblem, notes: string[]): ImportEntry => ({
      result: {
        ...base,
        sigmaId: ruleId(meta.id),
        title: typeof meta.title === "string" ? meta.title : null,
        spec: null,
        problems: [problem],
        notes,
      },
      ...known,
      correlation: null,
      detection: null,
    });
    if (doc.problem) return refused(doc.problem, []);
    if (doc.madeOf && Buffer.byteLength(doc.yaml, "utf8") > SIGMA_LIMITS.maxRuleBytes) {
      return refused(
        {
          code: "INVALID_YAML",
          path: "",
          message: `the rule the collection makes is over ${SIGMA_LIMITS.maxRuleBytes} bytes of YAML`,
        },
        note ? [note] : [],
      );
    }
    if (isRecord(doc.value) && doc.value.correlation !== undefined) {
      // Translated once every detection rule is, since it refers to them.
      return {
        result: {
          ...base,
          sigmaId: ruleId(doc.value.id),
          title: typeof doc.value.title === "string" ? doc.value.title.trim() || null : null,
          spec: null,
          problems: [],
          notes: note ? [note] : [],
        },
        ...known,
        correlation: doc.value,
        detection: null,
      };
    }
    const { detection, ...translation } = translateSigmaRule(doc.value, options);
    if (note) translation.notes.unshift(note);
    return { result: { ...base, ...translation }, ...known, correlation: null, detection };
  });

  // Ids in document order: a later rule with an earlier one's id is rejected (references go to the first).
  const seen = new Set<string>();
  for (const entry of entries) {
    const id = entry.result.sigmaId;
    if (id === null || entry.result.problems.some((p) => p.code === "INVALID_YAML")) continue;
    if (seen.has(id)) {
      entry.result = {
        ...entry.result,
        spec: null,
        problems: [
          {
            code: "DUPLICATE_ID",
            path: "id",
            message: `the id ${id} is used by an earlier rule of this import${entry.collection ? " (each rule a collection makes needs an id of its own)" : ""}`,
          },
        ],
      };
      entry.correlation = null;
      entry.detection = null;
      entry.duplicate = true;
    }
    seen.add(id);
  }

  const references = new CorrelationReferences(entries);
  for (const entry of entries) {
    if (!entry.correlation) continue;
    const notes = entry.result.notes;
    const translated = translateCorrelation(entry.correlation, options, references.resolver(entry));
    entry.result = { ...entry.result, ...translated, notes: [...notes, ...translated.notes] };
    if (entry.result.spec) {
      // Stored with the rules it refers to, so that the rule's YAML can be imported again on its own.
      const used = references.targets(entry).filter((t) => t.detection);
      entry.result.yaml = [entry.result.yaml, ...used.map((t) => t.result.yaml)].join("\n---\n");
      if (Buffer.byteLength(entry.result.yaml, "utf8") > SIGMA_LIMITS.maxRuleBytes) {
        entry.result = {
          ...entry.result,
          spec: null,
          problems: [
            {
              code: "INVALID_RULE",
              path: "correlation.rules",
              message: `the correlation and the rules it refers to are over ${SIGMA_LIMITS.maxRuleBytes} bytes of YAML, the most a rule keeps`,
            },
          ],
        };
      }
    }
  }

  // Sigma's default: the rules a correlation refers to are its parts, not rules of their own.
  for (const entry of entries) {
    if (entry.correlation || entry.duplicate) continue;
    const users = entries.filter((e) => e.correlation && references.targets(e).includes(entry));
    if (users.length === 0 || entry.generate || users.some((u) => generates(u.correlation!))) continue;
    entry.result.standalone = false;
    const names = users.map((u) => u.result.title ?? u.result.sigmaId ?? `document ${u.result.document}`);
    entry.result.notes.push(
      `Not imported on its own: the correlation rule${names.length === 1 ? "" : "s"} ${names.join(", ")} of this import ${names.length === 1 ? "refers" : "refer"} to it, and Sigma does not generate such rules unless the correlation says generate: true.`,
    );
  }

  return entries.map((entry) => entry.result);
}

// ---------------------------------------------------------------------------------------------------------
// One rule
// ---------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function show(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return String(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The rule id as stored (a UUID in lower case), or null when it is not a usable id. */
function ruleId(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const id = value.trim();
  if (id === "" || id.length > 128 || !/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(id)) return null;
  return UUID.test(id) ? id.toLowerCase() : id;
}

const SEVERITIES: Record<string, RuleSeverity> = {
  informational: "INFORMATIONAL",
  low: "LOW",
  medium: "MEDIUM",
  high: "HIGH",
  critical: "HIGH",
};

/** Collects the problems and notes of one rule. */
class Collector {
  readonly problems: SigmaProblem[] = [];
  readonly notes: string[] = [];

  problem(code: SigmaProblemCode, path: string, message: string): null {
    this.problems.push({ code, path, message });
    return null;
  }

  note(message: string): void {
    if (!this.notes.includes(message)) this.notes.push(message);
  }
}

/** The translation of one rule: its id and title (when readable), and its definition or its problems. */
export interface SigmaRuleTranslation {
  sigmaId: string | null;
  title: string | null;
  spec: RuleSpecInput | null;
  problems: SigmaProblem[];
  notes: string[];
}

/**
 * A rule's id and title, and the problems of its header (title, id, status, taxonomy), which detection and
 * correlation rules share.
 */
function header(c: Collector, rule: Json): { sigmaId: string | null; title: string | null } {
  const sigmaId = ruleId(rule.id);
  const title = typeof rule.title === "string" && rule.title.trim() !== "" ? rule.title.trim() : null;
  if (rule.title === undefined) c.problem("MISSING_FIELD", "title", "is required");
  else if (title === null)
    c.problem("INVALID_FIELD", "title", `must be a non-empty string (got ${show(rule.title)})`);
  if (rule.id === undefined) {
    c.problem(
      "MISSING_FIELD",
      "id",
      "is required: rules are imported by their id (a UUID), so importing the rule again updates it",
    );
  } else if (sigmaId === null) {
    c.problem(
      "INVALID_FIELD",
      "id",
      `must be a UUID or a name of letters, digits, '.', '_', ':' and '-' of at most 128 characters (got ${show(rule.id)})`,
    );
  }
  if (typeof rule.status === "string" && rule.status.toLowerCase() === "unsupported") {
    c.problem(
      "UNSUPPORTED_RULE_TYPE",
      "status",
      "the rule says it cannot be used as it is (status: unsupported)",
    );
  } else if (typeof rule.status === "string" && rule.status.toLowerCase() === "deprecated") {
    c.note("The Sigma rule is deprecated: its `related` rules may replace it.");
  }
  if (rule.taxonomy !== undefined && String(rule.taxonomy).toLowerCase() !== "sigma") {
    c.problem(
      "UNSUPPORTED_RULE_TYPE",
      "taxonomy",
      `only the default sigma taxonomy is supported (got ${show(rule.taxonomy)})`,
    );
  }
  return { sigmaId, title };
}

/** What a correlation rule needs of a detection rule it refers to. */
interface DetectionRule {
  source: SigmaLogsource;
  /** The detection's condition, without the log source's scope. */
  search: EventFilter;
  /** The connectors it runs on (a source's `also` the rule could be evaluated on too), each with its own filter. */
  branches: Branch[];
  /** Whether the rule has an aggregation (`| count() …`) of its own. */
  aggregated: boolean;
  tactics: string[];
  techniques: string[];
  /** What the translation assumed of the fields the source does not keep (its notes), which a correlation repeats. */
  assumptions: string[];
}

/**
 * Translates one parsed Sigma detection rule (correlation rules are translateCorrelation's). Every problem found
 * is reported (not only the first), so a rule can be fixed in one go; a rule with any problem has no definition.
 */
function translateSigmaRule(
  rule: unknown,
  options: SigmaImportOptions = {},
): SigmaRuleTranslation & { detection: DetectionRule | null } {
  const c = new Collector();
  const done = (
    spec: RuleSpecInput | null,
    sigmaId: string | null,
    title: string | null,
    detection: DetectionRule | null = null,
  ) => ({
    sigmaId,
    title,
    spec: c.problems.length ? null : spec,
    problems: c.problems,
    notes: c.notes,
    detection: c.problems.length ? null : detection,
  });
  if (!isRecord(rule)) {
    c.problem(
      "NOT_A_RULE",
      "",
      `a Sigma rule is a YAML map of title, id, logsource, detection… (got ${show(rule)})`,
    );
    return done(null, null, null);
  }
  const { sigmaId, title } = header(c, rule);
  if (rule.filter !== undefined && rule.detection === undefined) {
    c.problem(
      "UNSUPPORTED_RULE_TYPE",
      "filter",
      "Sigma filters (meta filters over other rules) are not supported",
    );
    return done(null, sigmaId, title);
  }

  const severity = severityOf(c, rule.level);
  const { tactics, techniques } = attackTags(c, rule.tags);
  const source = logsourceOf(c, rule.logsource);

  let detection: Detection | null = null;
  if (rule.detection === undefined) c.problem("MISSING_FIELD", "detection", "is required");
  else if (!isRecord(rule.detection))
    c.problem(
      "INVALID_FIELD",
      "detection",
      `must be a map of search identifiers and a condition (got ${show(rule.detection)})`,
    );
  else if (source) detection = translateDetectionAcross(c, source, rule.detection);
  else if (rule.detection.condition === undefined)
    c.problem("MISSING_FIELD", "detection.condition", "is required");

  if (!source || !detection || c.problems.length || title === null) return done(null, sigmaId, title);

  const kind: RuleKind = detection.summarize ? "SCHEDULED" : (options.kind ?? SIGMA_DEFAULTS.kind);
  if (detection.summarize && options.kind === "NRT") {
    c.problem(
      "UNSUPPORTED_CONDITION",
      "detection.condition",
      "an aggregation (| count() …) counts events over a period, so it needs a SCHEDULED rule, not NRT",
    );
    return done(null, sigmaId, title);
  }
  const timing =
    kind === "SCHEDULED"
      ? {
          queryFrequency: options.queryFrequency ?? detection.timeframe ?? SIGMA_DEFAULTS.queryFrequency,
          // A frequency given alone is the period too, so that every event is seen once.
          queryPeriod:
            options.queryPeriod ??
            detection.timeframe ??
            options.queryFrequency ??
            SIGMA_DEFAULTS.queryPeriod,
        }
      : {};
  if (detection.summarize && !detection.timeframe && !options.queryPeriod) {
    c.note(`The aggregation has no timeframe: it counts over each ${SIGMA_DEFAULTS.queryPeriod} window.`);
  }
  if (typeof rule.level === "string" && rule.level.trim().toLowerCase() === "critical")
    c.note("Sigma level critical is severity HIGH (the highest a rule has).");

  const spec: RuleSpecInput = {
    kind,
    displayName: truncate(title, RULE_LIMITS.displayName),
    description: descriptionOf(rule, sigmaId),
    severity,
    enabled: options.enabled ?? SIGMA_DEFAULTS.enabled,
    filter: detection.filter,
    ...(detection.summarize
      ? {
          summarize: {
            ...detection.summarize,
            // Sigma's "within timeframe"; without one, the window is the period.
            ...(options.slidingWindow ? { window: detection.timeframe ?? timing.queryPeriod } : {}),
          },
          trigger: detection.trigger,
        }
      : {}),
    ...timing,
    tactics,
    techniques,
    entityMappings: detection.entityMappings,
    alertPerResult: options.alertPerResult ?? SIGMA_DEFAULTS.alertPerResult,
  };
  reportSpecProblems(c, spec, "detection");
  return done(spec, sigmaId, title, {
    source,
    search: detection.search,
    branches: detection.branches,
    aggregated: detection.summarize !== undefined,
    tactics,
    techniques,
    assumptions: detection.assumptions,
  });
}

/** What validateRuleSpec finds wrong with a translation (a filter too large…), at `filterPath` for the filter. */
function reportSpecProblems(c: Collector, spec: RuleSpecInput, filterPath: string): void {
  for (const problem of validateRuleSpec(spec)) {
    c.problem(
      "INVALID_RULE",
      problem.path.startsWith("filter") ? filterPath : problem.path,
      problem.path.startsWith("filter")
        ? `the translated filter is not valid: ${problem.message}`
        : `${problem.path}: ${problem.message}`,
    );
  }
}

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

function severityOf(c: Collector, level: unknown): RuleSeverity {
  if (level === undefined || level === null) {
    c.note("The rule has no level: severity MEDIUM.");
    return "MEDIUM";
  }
  const severity = typeof level === "string" ? SEVERITIES[level.trim().toLowerCase()] : undefined;
  if (!severity) {
    c.problem(
      "INVALID_FIELD",
      "level",
      `must be one of informational, low, medium, high, critical (got ${show(level)})`,
    );
    return "MEDIUM";
  }
  return severity;
}

/** MITRE ATT&CK tactics (by tag name or TA id) and technique ids from `tags`; other namespaces are ignored. */
function attackTags(c: Collector, tags: unknown): { tactics: string[]; techniques: string[] } {
  const tactics: string[] = [];
  const techniques: string[] = [];
  if (tags === undefined || tags === null) return { tactics, techniques };
  if (!Array.isArray(tags)) {
    c.problem("INVALID_FIELD", "tags", `must be a list of strings (got ${show(tags)})`);
    return { tactics, techniques };
  }
  tags.forEach((tag: unknown, index) => {
    if (typeof tag !== "string") {
      c.problem("INVALID_FIELD", `tags[${index}]`, `must be a string (got ${show(tag)})`);
      return;
    }
    const t = tag.trim().toLowerCase();
    if (!t.startsWith("attack.")) return;
    const name = t.slice("attack.".length);
    const technique = /^t(\d{4})(?:\.(\d{3}))?$/.exec(name);
    if (technique) {
      const id = `T${technique[1]}${technique[2] ? `.${technique[2]}` : ""}`;
      if (!techniques.includes(id)) techniques.push(id);
      return;
    }
    const tactic = ATTACK_TACTICS.find(
      (a) => a.id.toLowerCase() === name || a.tag === name.replace(/-/g, "_"),
    );
    if (tactic) {
      if (!tactics.includes(tactic.name)) tactics.push(tactic.name);
      return;
    }
    // Groups (g0016), software (s0002), data sources (ds0002), campaigns (c0010) are not rule tags here.
    if (/^(g|s|ds|c|m)\d{4}$/.test(name)) return;
    c.note(`Tag ${tag} is not an ATT&CK tactic or technique Rampart knows; it was left out.`);
  });
  if (techniques.length > RULE_LIMITS.techniques) {
    c.note(`Only the first ${RULE_LIMITS.techniques} techniques were kept.`);
    techniques.length = RULE_LIMITS.techniques;
  }
  return { tactics, techniques };
}

const SUPPORTED_LOGSOURCES = SIGMA_LOGSOURCES.map((s) =>
  Object.entries(s.logsource)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", "),
).join("; ");

function logsourceOf(c: Collector, logsource: unknown): SigmaLogsource | null {
  if (logsource === undefined) return c.problem("MISSING_FIELD", "logsource", "is required");
  if (!isRecord(logsource))
    return c.problem("INVALID_FIELD", "logsource", `must be a map (got ${show(logsource)})`);
  const part = (name: "product" | "service" | "category"): string | undefined => {
    const value = logsource[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") {
      c.problem("INVALID_FIELD", `logsource.${name}`, `must be a string (got ${show(value)})`);
      return undefined;
    }
    return value;
  };
  const given = { product: part("product"), service: part("service"), category: part("category") };
  const found = findLogsource(given);
  if (!found) {
    const described =
      Object.entries(given)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ") || "none";
    return c.problem(
      "UNSUPPORTED_LOGSOURCE",
      "logsource",
      `no connector ingests this log source (${described}); supported: ${SUPPORTED_LOGSOURCES}`,
    );
  }
  return found;
}

/** The alerts' description: the rule's, its false positives and references, and where it came from. */
function descriptionOf(rule: Json, sigmaId: string | null, basis?: string): string {
  const lines = (value: unknown): string[] =>
    (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value])
      .filter((v): v is string | number => typeof v === "string" || typeof v === "number")
      .map((v) => `- ${String(v).trim()}`);
  const parts: string[] = [];
  if (typeof rule.description === "string" && rule.description.trim()) parts.push(rule.description.trim());
  const fps = lines(rule.falsepositives);
  if (fps.length) parts.push(["False positives:", ...fps].join("\n"));
  const refs = lines(rule.references);
  if (refs.length) parts.push(["References:", ...refs].join("\n"));
  if (basis) parts.push(basis);
  const origin = [
    typeof rule.status === "string" ? `status ${rule.status}` : null,
    typeof rule.author === "string" ? `by ${rule.author.trim()}` : null,
  ].filter(Boolean);
  parts.push(
    `Imported from Sigma rule ${sigmaId ?? "(no id)"}${origin.length ? ` (${origin.join(", ")})` : ""}.`,
  );
  return truncate(parts.join("\n\n"), RULE_LIMITS.description);
}

// ---------------------------------------------------------------------------------------------------------
// Correlations
// ---------------------------------------------------------------------------------------------------------

/** One rule of an import on its way through translateSigmaYaml. */
interface ImportEntry {
  result: SigmaDocumentResult;
  /** The rule's `name`, which correlations may refer to it by. */
  name: string | null;
  /** Whether the rule itself says `generate: true` (imported on its own even when a correlation uses it). */
  generate: boolean;
  /** Whether a rule collection made the rule (from its global parts, or by repeating the rule before). */
  collection: boolean;
  /** A later rule with the id of an earlier one (rejected; references by id go to the earlier one). */
  duplicate: boolean;
  /** The rule, for a correlation rule (translated after every detection rule). */
  correlation: Json | null;
  /** The translated detection rule; null when rejected, and for correlation rules. */
  detection: DetectionRule | null;
}

/** Whether a correlation rule asks for the rules it refers to to be imported on their own too. */
function generates(rule: Json): boolean {
  return isRecord(rule.correlation) && rule.correlation.generate === true;
}

/** A detection rule a correlation refers to, and how its report names it. */
interface CorrelationTarget {
  rule: DetectionRule;
  label: string;
}

/** Resolves one reference of a correlation's `rules` (problems go to the collector). */
type ReferenceResolver = (c: Collector, reference: string, path: string) => CorrelationTarget | null;

const label = (entry: ImportEntry) =>
  entry.result.title !== null
    ? `"${entry.result.title}" (document ${entry.result.document})`
    : `document ${entry.result.document}`;

/**
 * The rules of an import that correlations can refer to: by `name` or by `id`, among the rules of the same
 * import only (a correlation is imported with its rules, as Sigma's correlation files hold them).
 */
class CorrelationReferences {
  private readonly byName = new Map<string, ImportEntry[]>();
  private readonly byId = new Map<string, ImportEntry>();

  constructor(entries: readonly ImportEntry[]) {
    for (const entry of entries) {
      if (entry.duplicate) continue;
      if (entry.name !== null) this.byName.set(entry.name, [...(this.byName.get(entry.name) ?? []), entry]);
      if (entry.result.sigmaId !== null) this.byId.set(entry.result.sigmaId, entry);
    }
  }

  /** The rules a reference names, by `name` or by `id` (a UUID in any case). */
  private lookup(reference: string): ImportEntry[] {
    const found = new Set(this.byName.get(reference) ?? []);
    const id = ruleId(reference);
    const byId = id === null ? undefined : this.byId.get(id);
    if (byId) found.add(byId);
    return [...found];
  }

  /** The rules a correlation refers to: each reference of its `rules` that names exactly one rule. */
  targets(entry: ImportEntry): ImportEntry[] {
    const body = entry.correlation?.correlation;
    const rules: unknown = isRecord(body) ? body.rules : undefined;
    if (!Array.isArray(rules)) return [];
    return rules.flatMap((reference: unknown) => {
      if (typeof reference !== "string") return [];
      const found = this.lookup(reference.trim());
      return found.length === 1 ? found : [];
    });
  }

  /** A path of references from the correlation `from` to `to` (both included), or null when there is none. */
  private pathTo(from: ImportEntry, to: ImportEntry): ImportEntry[] | null {
    const visited = new Set<ImportEntry>();
    const walk = (entry: ImportEntry, path: ImportEntry[]): ImportEntry[] | null => {
      if (entry === to) return path;
      if (visited.has(entry) || !entry.correlation) return null;
      visited.add(entry);
      for (const next of this.targets(entry)) {
        const found = walk(next, [...path, next]);
        if (found) return found;
      }
      return null;
    };
    return walk(from, [from]);
  }

  /** How the correlation `self` resolves its references. */
  resolver(self: ImportEntry): ReferenceResolver {
    return (c, reference, path) => {
      const found = this.lookup(reference);
      if (found.length === 0) {
        return c.problem(
          "INVALID_REFERENCE",
          path,
          `no rule of this import has the name or id ${show(reference)}: a correlation is imported together with the rules it refers to`,
        );
      }
      if (found.length > 1) {
        return c.problem(
          "INVALID_REFERENCE",
          path,
          `${show(reference)} is ambiguous: it names ${found.map(label).join(" and ")}`,
        );
      }
      const [target] = found;
      if (target === self)
        return c.problem("INVALID_REFERENCE", path, "a correlation cannot refer to itself");
      if (target.correlation) {
        const cycle = this.pathTo(target, self);
        if (cycle) {
          const name = (e: ImportEntry) => e.name ?? e.result.sigmaId ?? `document ${e.result.document}`;
          return c.problem(
            "INVALID_REFERENCE",
            path,
            `the correlations refer to each other in a cycle: ${[self, ...cycle].map(name).join(" → ")}`,
          );
        }
        return c.problem(
          "UNSUPPORTED_CORRELATION",
          path,
          `${label(target)} is a correlation rule: correlations of correlations are not supported`,
        );
      }
      if (!target.detection) {
        return c.problem(
          "INVALID_REFERENCE",
          path,
          `the rule ${label(target)} is rejected (see its problems), so this correlation cannot be imported either`,
        );
      }
      if (target.detection.aggregated) {
        return c.problem(
          "UNSUPPORTED_CORRELATION",
          path,
          `the rule ${label(target)} has an aggregation (| count() …) of its own: a correlation counts the events of rules without one`,
        );
      }
      return { rule: target.detection, label: label(target) };
    };
  }
}

const CORRELATION_KEYS = ["type", "rules", "group-by", "timespan", "condition", "generate", "aliases"];
const CORRELATION_OPERATORS: Record<string, TriggerOperator> = {
  gt: "GT",
  gte: "GTE",
  lt: "LT",
  lte: "LTE",
  eq: "EQ",
  neq: "NE",
};

/**
 * A correlation condition's comparisons as the one comparison of a rule's trigger: a single comparison as it is;
 * several (a range) only when they allow one count (`gte: 5, lte: 5` is `eq 5`) or bound it on one side only.
 */
function correlationTrigger(
  c: Collector,
  bounds: Array<[string, number]>,
): { operator: TriggerOperator; threshold: number } | null {
  const path = "correlation.condition";
  let low = 0;
  let high = Number.POSITIVE_INFINITY;
  for (const [op, n] of bounds) {
    if (op === "gt") low = Math.max(low, n + 1);
    if (op === "gte" || op === "eq") low = Math.max(low, n);
    if (op === "lt") high = Math.min(high, n - 1);
    if (op === "lte" || op === "eq") high = Math.min(high, n);
  }
  if (bounds.some(([op]) => op === "neq")) {
    if (bounds.length === 1) return { operator: "NE", threshold: bounds[0][1] };
    return c.problem(
      "UNSUPPORTED_CORRELATION",
      path,
      "neq with other comparisons cannot be expressed: a rule's trigger is one comparison",
    );
  }
  if (low > high) return c.problem("INVALID_FIELD", path, "no count satisfies all of its comparisons");
  if (bounds.length === 1) return { operator: CORRELATION_OPERATORS[bounds[0][0]], threshold: bounds[0][1] };
  if (low === high) return { operator: "EQ", threshold: low };
  if (high === Number.POSITIVE_INFINITY) return { operator: "GTE", threshold: low };
  if (low === 0) return { operator: "LTE", threshold: high };
  return c.problem(
    "UNSUPPORTED_CORRELATION",
    path,
    `the range from ${low} to ${high} cannot be expressed: a rule's trigger compares the count with one threshold`,
  );
}

/** Whether `count` meets the correlation comparison `op` with `value`. */
function meets(op: string, count: number, value: number): boolean {
  switch (op) {
    case "gt":
      return count > value;
    case "gte":
      return count >= value;
    case "lt":
      return count < value;
    case "lte":
      return count <= value;
    case "eq":
      return count === value;
    default:
      return count !== value;
  }
}

/**
 * A temporal correlation's condition — the number of its `n` rules that matched — as a trigger on FILTERS_MATCHED
 * (or FILTERS_MATCHED_IN_ORDER): the counts from 0 to n its comparisons allow, when they are those of one
 * comparison (`gte: 2, lte: 3` of three rules is GTE 2). An ordered correlation takes only "all of them":
 * FILTERS_MATCHED_IN_ORDER counts how far the list matched from its first rule, while Sigma's `gte: 2` of three
 * ordered rules would be any two of them in order, which that count does not tell.
 */
function temporalTrigger(
  c: Collector,
  bounds: Array<[string, number]>,
  n: number,
  ordered: boolean,
): { operator: TriggerOperator; threshold: number } | null {
  const path = "correlation.condition";
  const counts = Array.from({ length: n + 1 }, (_, k) => k).filter((k) =>
    bounds.every(([op, value]) => meets(op, k, value)),
  );
  if (counts.length === 0)
    return c.problem("INVALID_FIELD", path, `no number of its ${n} rules satisfies all of its comparisons`);
  const low = counts[0];
  const high = counts[counts.length - 1];
  if (ordered) {
    if (low === n) return { operator: "GTE", threshold: n };
    return c.problem(
      "UNSUPPORTED_CORRELATION",
      path,
      `a temporal_ordered correlation can require only all ${n} rules in order (gte: ${n}, or no condition): which ${counts.join(" or ")} of the rules would have to be in order is not defined`,
    );
  }
  if (counts.length === high - low + 1) {
    if (low === high) return { operator: "EQ", threshold: low };
    if (high === n) return { operator: "GTE", threshold: low };
    if (low === 0) return { operator: "LTE", threshold: high };
  } else if (counts.length === n) {
    return {
      operator: "NE",
      threshold: Array.from({ length: n + 1 }, (_, k) => k).find((k) => !counts.includes(k))!,
    };
  }
  return c.problem(
    "UNSUPPORTED_CORRELATION",
    path,
    `it allows ${counts.join(", ")} of the ${n} rules, which cannot be expressed: a rule's trigger compares the number matched with one threshold`,
  );
}

/**
 * A correlation's `aliases`: per alias, the field each rule names it by, keyed by the reference as `rules`
 * writes it (`ip: { failed_signin: IPAddress, trail_stopped: sourceIPAddress }`). Every rule needs its field.
 * Null when it is not that shape (the problems reported).
 */
function correlationAliases(
  c: Collector,
  given: unknown,
  references: readonly string[],
): Map<string, Map<string, string>> | null {
  const out = new Map<string, Map<string, string>>();
  if (given === undefined || given === null) return out;
  const path = "correlation.aliases";
  if (!isRecord(given)) {
    return c.problem(
      "INVALID_FIELD",
      path,
      `must be a map of alias names to maps of rule: field (got ${show(given)})`,
    );
  }
  let ok = true;
  for (const [alias, fields] of Object.entries(given)) {
    const at = `${path}.${alias}`;
    if (!isRecord(fields)) {
      c.problem("INVALID_FIELD", at, `must be a map of rule: field (got ${show(fields)})`);
      ok = false;
      continue;
    }
    const byRule = new Map<string, string>();
    for (const [reference, field] of Object.entries(fields)) {
      if (!references.includes(reference.trim())) {
        c.problem("INVALID_FIELD", `${at}.${reference}`, "is not one of the rules the correlation lists");
        ok = false;
      } else if (typeof field !== "string" || field.trim() === "") {
        c.problem("INVALID_FIELD", `${at}.${reference}`, `must be a field name (got ${show(field)})`);
        ok = false;
      } else byRule.set(reference.trim(), field.trim());
    }
    const missing = references.filter((r) => !byRule.has(r));
    if (missing.length) {
      c.problem("INVALID_FIELD", at, `names no field for ${missing.join(", ")}: every rule needs one`);
      ok = false;
    }
    out.set(alias, byRule);
  }
  return ok ? out : null;
}

/**
 * The field a correlation groups or counts by, in the events of all its rules: an alias is each rule's own field,
 * any other name the same field of each rule's log source. A plain name must be one column or attribute in every
 * rule, but where one log source is recorded by several connectors that keep it in different places (`Image` of
 * 4688 and of Sysmon's event 1): there it is one field in different places. An alias may be different ones
 * (sign-ins' `UserPrincipalName` and Okta's `actor.alternateId`). Fields in different places become an alias of
 * the analytics rule (fieldAcross) whose cases read each rule's field, per connector it runs on, from the events
 * of that rule's search there (an event matching rules of different fields takes the field of the first of them
 * listed). A field a connector a rule runs on does not keep is refused naming the rule and the connector.
 */
function correlationField(
  c: Collector,
  targets: readonly CorrelationTarget[],
  references: readonly string[],
  aliases: Map<string, Map<string, string>>,
  name: string,
  path: string,
): GroupedField | null {
  const alias = aliases.get(name);
  const several = new Set(targets.map((t) => t.rule.source)).size > 1;
  // One lookup per connector and field: rules over one source report a field once.
  const looked = new Map<string, ResolvedField | null>();
  const parts = targets.map((t, i) => {
    const field = alias ? alias.get(references[i])! : name;
    return t.rule.branches.map((branch) => {
      const key = `${branch.source.name} ${field}`;
      if (!looked.has(key)) {
        const at = alias ? `correlation.aliases.${name}.${references[i]}` : path;
        // Over several sources, say which rule's source lacks the field, and how to name its own.
        const own = new Collector();
        looked.set(key, groupableField(own, branch.source, field, at));
        for (const p of own.problems) {
          const hint = alias ? "" : `; name its field with aliases: ${name}: { ${references[i]}: <field> }`;
          c.problem(
            p.code,
            p.path,
            several ? `in ${references[i]}, ${t.label}: ${p.message}${hint}` : p.message,
          );
        }
      }
      const resolved = looked.get(key)!;
      return resolved && { when: branch.filter, field: resolved };
    });
  });
  const all = parts.flat();
  if (!all.every((p): p is FieldPart => p !== null)) return null;
  const fieldsOf = (list: Array<FieldPart | null>) => [...new Set(list.map((p) => p!.field.target.field))];
  if (!alias && several && fieldsOf(all).length > 1) {
    return c.problem(
      "UNSUPPORTED_CORRELATION",
      path,
      `${name} is ${parts.map((list, i) => `${name} (${fieldsOf(list).join(" or ")}) in ${targets[i].label}`).join(", ")}: a name the rules' events are grouped by is one field in all of them (name each rule's field with aliases)`,
    );
  }
  return fieldAcross(name, all);
}

/**
 * Translates a Sigma correlation rule (https://github.com/SigmaHQ/sigma-specification, "Sigma Correlation
 * Rules") over the detection rules of the import it refers to: `event_count` counts the matching events per
 * `group-by` group, `value_count` the distinct values of `condition.field`, over each `timespan` (the rule's
 * period and frequency), compared as `condition` says. Several rules are the OR of their searches (over
 * several log sources, each scoped to its own). `temporal` counts, per group, how many of the rules matched an
 * event (FILTERS_MATCHED over their searches as named filters; without `condition`, all of them),
 * `temporal_ordered` whether all of them matched in the order listed (FILTERS_MATCHED_IN_ORDER; see
 * rule-correlation.ts for what "in order" means). Over several log sources the groups (and `value_count`'s field)
 * are a field every source keeps in one column, or an alias (`aliases`) naming each rule's field: one column, or
 * an alias of the analytics rule reading each rule's own (correlationField).
 */
function translateCorrelation(
  rule: Json,
  options: SigmaImportOptions,
  resolve: ReferenceResolver,
): SigmaRuleTranslation {
  const c = new Collector();
  const { sigmaId, title } = header(c, rule);
  const done = (spec: RuleSpecInput | null) => ({
    sigmaId,
    title,
    spec: c.problems.length ? null : spec,
    problems: c.problems,
    notes: c.notes,
  });
  const body = rule.correlation;
  if (!isRecord(body)) {
    c.problem(
      "INVALID_FIELD",
      "correlation",
      `must be a map of type, rules, group-by, timespan and condition (got ${show(body)})`,
    );
    return done(null);
  }
  for (const key of Object.keys(body)) {
    if (!CORRELATION_KEYS.includes(key)) {
      c.problem(
        "INVALID_FIELD",
        `correlation.${key}`,
        `is not part of a correlation (${CORRELATION_KEYS.join(", ")})`,
      );
    }
  }
  if (body.generate !== undefined && typeof body.generate !== "boolean") {
    c.problem("INVALID_FIELD", "correlation.generate", `must be true or false (got ${show(body.generate)})`);
  }

  const type = body.type;
  const counting = type === "event_count" || type === "value_count";
  const temporal = type === "temporal" || type === "temporal_ordered";
  if (type === undefined) {
    c.problem(
      "MISSING_FIELD",
      "correlation.type",
      "is required (event_count, value_count, temporal or temporal_ordered)",
    );
  } else if (!counting && !temporal) {
    c.problem(
      "INVALID_FIELD",
      "correlation.type",
      `must be event_count, value_count, temporal or temporal_ordered (got ${show(type)})`,
    );
  }

  const targets: CorrelationTarget[] = [];
  /** The references of `targets`, as written: the names of a temporal correlation's filters. */
  const names: string[] = [];
  const rules = body.rules;
  if (rules === undefined) {
    c.problem(
      "MISSING_FIELD",
      "correlation.rules",
      "is required: the names or ids of the rules it correlates",
    );
  } else if (!Array.isArray(rules) || rules.length === 0) {
    c.problem(
      "INVALID_FIELD",
      "correlation.rules",
      `must be a list of rule names or ids (got ${show(rules)})`,
    );
  } else {
    if (temporal && rules.length < CORRELATION_LIMITS.minFilters) {
      c.problem(
        "INVALID_FIELD",
        "correlation.rules",
        `a ${type} correlation needs at least ${CORRELATION_LIMITS.minFilters} rules (one rule matching is an event_count with gte: 1)`,
      );
    } else if (temporal && rules.length > CORRELATION_LIMITS.maxFilters) {
      c.problem(
        "UNSUPPORTED_CORRELATION",
        "correlation.rules",
        `a ${type} correlation of more than ${CORRELATION_LIMITS.maxFilters} rules is not supported (got ${rules.length})`,
      );
    }
    const targetIndex = new Map<DetectionRule, number>();
    rules.forEach((reference: unknown, index) => {
      const path = `correlation.rules[${index}]`;
      if (typeof reference !== "string" || reference.trim() === "") {
        c.problem("INVALID_FIELD", path, `must be a rule's name or id (got ${show(reference)})`);
      } else if (rules.indexOf(reference) !== index) {
        c.problem("INVALID_FIELD", path, `${show(reference)} is listed twice`);
      } else {
        const target = resolve(c, reference.trim(), path);
        if (target && temporal && targetIndex.has(target.rule)) {
          // By name and by id: a rule cannot be matched twice, nor follow itself.
          c.problem(
            "INVALID_FIELD",
            path,
            `refers to the same rule as correlation.rules[${targetIndex.get(target.rule)}]`,
          );
        } else if (target) {
          targetIndex.set(target.rule, index);
          targets.push(target);
          names.push(reference.trim());
        }
      }
    });
  }
  const sources = [...new Set(targets.map((t) => t.rule.source))];
  // Every rule resolved: group-by and the condition's field can be looked up.
  const ready =
    (counting || temporal) &&
    targets.length > 0 &&
    targets.length === (Array.isArray(rules) ? rules.length : -1);
  const aliases = ready ? correlationAliases(c, body.aliases, names) : new Map<string, Map<string, string>>();
  const fieldOf = (name: string, path: string) =>
    aliases && correlationField(c, targets, names, aliases, name, path);

  // A temporal condition counts the rules that matched: of a list of the wrong size, already reported, it says nothing.
  const sized =
    targets.length >= CORRELATION_LIMITS.minFilters && targets.length <= CORRELATION_LIMITS.maxFilters;

  const timespan =
    body.timespan === undefined
      ? c.problem("MISSING_FIELD", "correlation.timespan", "is required (such as 1h)")
      : timeframeOf(c, body.timespan, "correlation.timespan");

  const groupBy: GroupedField[] = [];
  const given = body["group-by"];
  if (given !== undefined && given !== null) {
    if (!Array.isArray(given)) {
      c.problem(
        "INVALID_FIELD",
        "correlation.group-by",
        `must be a list of field names (got ${show(given)})`,
      );
    } else {
      given.forEach((name: unknown, index) => {
        const path = `correlation.group-by[${index}]`;
        if (typeof name !== "string" || name.trim() === "") {
          c.problem("INVALID_FIELD", path, `must be a field name (got ${show(name)})`);
        } else if (ready) {
          const field = fieldOf(name.trim(), path);
          if (field && groupBy.some((g) => sameField(g, field))) {
            c.problem("INVALID_FIELD", path, `${name} is listed twice`);
          } else if (field) groupBy.push(field);
        }
      });
    }
  }

  let trigger: { operator: TriggerOperator; threshold: number } | null = null;
  let counted: GroupedField | null = null;
  const condition = body.condition;
  if (condition === undefined) {
    // Sigma's temporal correlations need no condition: all of their rules must match.
    if (temporal && ready && sized) trigger = { operator: "GTE", threshold: targets.length };
    else if (!temporal) c.problem("MISSING_FIELD", "correlation.condition", "is required (such as gte: 10)");
  } else if (!isRecord(condition)) {
    c.problem(
      "INVALID_FIELD",
      "correlation.condition",
      `must be a map such as gte: 10 (got ${show(condition)})`,
    );
  } else {
    const field = condition.field;
    if (type === "value_count" && field === undefined) {
      c.problem(
        "MISSING_FIELD",
        "correlation.condition.field",
        "is required for value_count: the field whose distinct values are counted",
      );
    } else if (field !== undefined && type !== "value_count") {
      c.problem(
        "INVALID_FIELD",
        "correlation.condition.field",
        "only value_count counts the values of a field",
      );
    } else if (field !== undefined && (typeof field !== "string" || field.trim() === "")) {
      c.problem("INVALID_FIELD", "correlation.condition.field", `must be a field name (got ${show(field)})`);
    } else if (typeof field === "string" && ready) {
      counted = fieldOf(field.trim(), "correlation.condition.field") || null;
      if (counted && groupBy.some((g) => sameField(g, counted!))) {
        c.problem(
          "INVALID_FIELD",
          "correlation.condition.field",
          `${field} is a group-by field: it has one value per group`,
        );
      }
    }
    const bounds: Array<[string, number]> = [];
    for (const [op, value] of Object.entries(condition)) {
      if (op === "field") continue;
      const path = `correlation.condition.${op}`;
      if (!(op in CORRELATION_OPERATORS)) {
        c.problem("INVALID_FIELD", path, "is not a comparison (gt, gte, lt, lte, eq, neq)");
      } else if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
        c.problem("INVALID_FIELD", path, `must be a whole number ≥ 0 (got ${show(value)})`);
      } else bounds.push([op, value]);
    }
    if (Object.keys(condition).every((k) => k === "field")) {
      c.problem("MISSING_FIELD", "correlation.condition", "needs a comparison such as gte: 10");
    } else if (bounds.length === Object.keys(condition).filter((k) => k !== "field").length) {
      if (!temporal) trigger = correlationTrigger(c, bounds);
      else if (ready && sized)
        trigger = temporalTrigger(c, bounds, targets.length, type === "temporal_ordered");
    }
  }

  if (options.kind === "NRT") {
    c.problem(
      "UNSUPPORTED_CORRELATION",
      "correlation",
      "a correlation counts events over its timespan, so it needs a SCHEDULED rule, not NRT",
    );
  }
  const severity = severityOf(c, rule.level);
  const tags =
    rule.tags === undefined
      ? {
          tactics: [...new Set(targets.flatMap((t) => t.rule.tactics))],
          techniques: [...new Set(targets.flatMap((t) => t.rule.techniques))].slice(
            0,
            RULE_LIMITS.techniques,
          ),
        }
      : attackTags(c, rule.tags);
  if (!ready || !trigger || !timespan || title === null || c.problems.length) return done(null);
  if (typeof rule.level === "string" && rule.level.trim().toLowerCase() === "critical")
    c.note("Sigma level critical is severity HIGH (the highest a rule has).");
  if (rule.tags === undefined && tags.tactics.length + tags.techniques.length > 0)
    c.note("The correlation has no tags: it takes the ATT&CK tags of the rules it refers to.");
  if (temporal && options.slidingWindow)
    c.note("slidingWindow does not apply to temporal correlations: they run over each fixed period.");
  if (type === "temporal_ordered")
    c.note(
      "In order means each rule's event strictly after the event of the rule before it: events at the same instant are not in order.",
    );
  // The rules' own notes are on their results, which are not stored: the correlation's reviewer reads them here.
  for (const target of targets) {
    for (const assumption of target.rule.assumptions) c.note(`In ${target.label}: ${assumption}`);
  }

  const searches = targets.map((t) => t.rule.search);
  const spec: RuleSpecInput = {
    kind: "SCHEDULED",
    displayName: truncate(title, RULE_LIMITS.displayName),
    description: descriptionOf(
      rule,
      sigmaId,
      `Sigma ${String(type)} correlation of ${targets.map((t) => t.label).join(", ")}.`,
    ),
    severity,
    enabled: options.enabled ?? SIGMA_DEFAULTS.enabled,
    // Over several sources, the OR of each rule's search within its own source.
    filter:
      sources.length === 1
        ? scoped(sources[0], searches.length === 1 ? searches[0] : { any: searches })
        : simplify({ any: targets.map((t) => scoped(t.rule.source, t.rule.search)) }),
    summarize: temporal
      ? {
          ...summarizeOf(groupBy, null, type === "temporal" ? "FILTERS_MATCHED" : "FILTERS_MATCHED_IN_ORDER"),
          // The rule's own filter is the OR of the searches (for the index); each rule's search tells them apart.
          // Over several sources each filter keeps its own source's scope: another source's events may have its fields.
          filters: targets.map((t, i) => ({
            name: names[i],
            filter: sources.length === 1 ? simplify(t.rule.search) : scoped(t.rule.source, t.rule.search),
          })),
        }
      : {
          ...summarizeOf(groupBy, counted),
          ...(options.slidingWindow ? { window: timespan } : {}),
        },
    trigger,
    queryFrequency: options.queryFrequency ?? timespan,
    queryPeriod: options.queryPeriod ?? timespan,
    tactics: tags.tactics,
    techniques: tags.techniques,
    entityMappings: groupEntities(groupBy),
    alertPerResult: options.alertPerResult ?? SIGMA_DEFAULTS.alertPerResult,
  };
  reportSpecProblems(c, spec, "correlation.rules");
  return done(spec);
}

// ---------------------------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------------------------

interface Detection {
  filter: EventFilter;
  /** The filter without the log source's scope (what a correlation over several rules joins with `any`). */
  search: EventFilter;
  /** The connectors it runs on, each with its part of `filter`. */
  branches: Branch[];
  summarize?: RuleSpecInput["summarize"];
  /** The fields of the aggregation (`by`, and the counted one), as this source keeps them. */
  grouped?: { by: ResolvedField[]; counted: ResolvedField | null };
  trigger?: { operator: TriggerOperator; threshold: number };
  timeframe?: string;
  entityMappings: EntityMapping[];
  /** The notes on fields the source does not keep: what was assumed of them. */
  assumptions: string[];
}

/** A resolved field: where it is, and the name the rule gave it. */
interface ResolvedField {
  name: string;
  target: SigmaFieldTarget;
}

/** One connector a rule runs on: its log source (without `also`), and the rule's filter over its events. */
interface Branch {
  source: SigmaLogsource;
  filter: EventFilter;
}

/**
 * A field grouped or counted by over the events of several connectors or rules: where each keeps it, one column
 * (or attribute) for all, or else an alias (`target.field` its name) whose cases read each one's own.
 */
interface GroupedField extends ResolvedField {
  /** Per field, the events it is read from: `summarize.aliases` of the rule. */
  cases?: SummarizeAlias["cases"];
}

/** One kind of event (`when` tells them apart) and where it keeps a field. */
interface FieldPart {
  when: EventFilter;
  field: ResolvedField;
}

/**
 * A field as the events of several kinds keep it: that field when it is one column or attribute in all of them,
 * else an alias named `name` whose cases read each kind's own (an event matching several `when`s takes the first
 * one's field), with the entity they agree on.
 */
function fieldAcross(name: string, parts: readonly FieldPart[]): GroupedField {
  const fields = [...new Set(parts.map((p) => p.field.target.field))];
  if (fields.length === 1) return { name, target: parts[0].field.target };
  const entities = [...new Set(parts.map((p) => p.field.target.entity))];
  return {
    name,
    target: { type: "text", field: name, entity: entities.length === 1 ? entities[0] : undefined },
    cases: fields.map((field) => {
      const whens = parts.filter((p) => p.field.target.field === field).map((p) => p.when);
      return { when: simplify(whens.length === 1 ? whens[0] : { any: whens }), field };
    }),
  };
}

/** Whether two grouped fields are one: the same column, or aliases reading the same fields of the same events. */
function sameField(a: GroupedField, b: GroupedField): boolean {
  return a.cases || b.cases
    ? JSON.stringify(a.cases) === JSON.stringify(b.cases)
    : a.target.field === b.target.field;
}

/**
 * `summarize` of `aggregate` per the `by` fields (of DISTINCT_COUNT, of the values of `counted`), with an alias
 * for each field kept in different places.
 */
function summarizeOf(
  by: readonly GroupedField[],
  counted: GroupedField | null,
  aggregate: SummarizeAggregate = counted ? "DISTINCT_COUNT" : "COUNT",
): NonNullable<RuleSpecInput["summarize"]> {
  const aliases = [...by, ...(counted ? [counted] : [])].flatMap((g) =>
    g.cases ? [{ name: g.name, cases: g.cases }] : [],
  );
  return {
    by: by.map((g) => g.target.field),
    aggregate,
    ...(counted ? { field: counted.target.field } : {}),
    ...(aliases.length ? { aliases } : {}),
  };
}

/** The entities of a summarised rule's alerts: those of its `by` fields (an alias's, when its fields agree). */
function groupEntities(by: readonly GroupedField[]): EntityMapping[] {
  return dedupeMappings(
    by.filter((g) => g.target.entity).map((g) => ({ entityType: g.target.entity!, field: g.target.field })),
  );
}

/**
 * A search (a search identifier, a part of the condition) as far as it translates: a filter; `true` or `false`
 * when it holds for every event or for none, which a condition on a field the source does not keep does; null
 * when a problem was reported in it, so that what it is stays unknown.
 */
type Search = EventFilter | boolean | null;

/** A field entry (`OriginalFileName: certutil.exe`) on a field the log source does not keep. */
interface AbsentEntry {
  /** The field as the rule names it. */
  name: string;
  path: string;
  /** The search identifier it is in. */
  identifier: string;
  /** Whether it holds on an event without the field (Sigma's `null`, `|exists: false`, `|neq`), or never does. */
  holds: boolean;
}

/** What the fields of a detection are: those kept (for entities), and the entries on fields that are not. */
interface FieldUses {
  used: ResolvedField[];
  absent: AbsentEntry[];
}

/** The AND of searches: false when one is, true when all are; the filters of the others. */
function allOfSearches(parts: Search[]): Search {
  if (parts.includes(false)) return false;
  const rest = parts.filter((p) => p !== true);
  if (rest.includes(null)) return null;
  if (rest.length === 0) return true;
  if (rest.length === 1 && rest.length < parts.length) return rest[0];
  return { all: rest as EventFilter[] };
}

/** The OR of searches: true when one is, false when all are; the filters of the others. */
function anyOfSearches(parts: Search[]): Search {
  if (parts.includes(true)) return true;
  const rest = parts.filter((p) => p !== false);
  if (rest.includes(null)) return null;
  if (rest.length === 0) return false;
  if (rest.length === 1 && rest.length < parts.length) return rest[0];
  return { any: rest as EventFilter[] };
}

function notSearch(part: Search): Search {
  return typeof part === "boolean" ? !part : part === null ? null : { not: part };
}

const RESERVED = new Set(["condition", "timeframe"]);

function translateDetection(c: Collector, source: SigmaLogsource, detection: Json): Detection | null {
  const uses: FieldUses = { used: [], absent: [] };
  const identifiers = new Map<string, Search>();
  for (const [name, value] of Object.entries(detection)) {
    if (RESERVED.has(name)) continue;
    identifiers.set(name, searchIdentifier(c, source, name, value, uses));
  }
  if (identifiers.size === 0)
    c.problem("MISSING_FIELD", "detection", "has no search identifier (selection…)");

  let timeframe: string | undefined;
  if (detection.timeframe !== undefined) {
    timeframe = timeframeOf(c, detection.timeframe) ?? undefined;
  }

  const condition = detection.condition;
  if (condition === undefined || condition === null) {
    c.problem("MISSING_FIELD", "detection.condition", "is required");
    return null;
  }
  const conditions = Array.isArray(condition) ? condition : [condition];
  if (conditions.length === 0) {
    c.problem("MISSING_FIELD", "detection.condition", "is required (got an empty list)");
    return null;
  }
  const parsed: Array<{ expr: Expr; aggregation: string | null }> = [];
  conditions.forEach((text: unknown, index) => {
    const path = Array.isArray(condition) ? `detection.condition[${index}]` : "detection.condition";
    if (typeof text !== "string") {
      c.problem("INVALID_CONDITION", path, `must be a string (got ${show(text)})`);
      return;
    }
    const result = parseCondition(c, text, path, [...identifiers.keys()]);
    if (result) parsed.push(result);
  });
  if (parsed.length !== conditions.length) return null;
  const aggregations = parsed.filter((p) => p.aggregation !== null);
  if (aggregations.length && parsed.length > 1) {
    c.problem(
      "UNSUPPORTED_CONDITION",
      "detection.condition",
      "a list of conditions cannot carry an aggregation (| count() …): write one rule per condition",
    );
    return null;
  }

  const exprSearch = (expr: Expr): Search => {
    switch (expr.type) {
      case "id":
        return identifiers.get(expr.name)!;
      case "and":
        return allOfSearches(expr.children.map(exprSearch));
      case "or":
        return anyOfSearches(expr.children.map(exprSearch));
      case "not":
        return notSearch(exprSearch(expr.child));
    }
  };
  const searches = parsed.map((p) => exprSearch(p.expr));
  const found = searches.length === 1 ? searches[0] : anyOfSearches(searches);
  // Only the identifiers the condition uses count: a field in one it leaves out changes nothing.
  const polarity = new Map<string, Set<boolean>>();
  for (const p of parsed) polarities(p.expr, false, polarity);
  const absent = uses.absent.filter((a) => polarity.has(a.identifier));
  if (typeof found === "boolean") {
    // Even beside other problems: this one stays when they are fixed.
    const names = [...new Set(absent.map((a) => a.name))];
    const assumed =
      names.length === 1 ? "with it absent" : `with the fields not kept (${names.join(", ")}) absent`;
    const outcome = found
      ? `${assumed}, the condition holds for every event, so the rule would match every ${source.name} event`
      : `${assumed}, the condition holds for no event, so the rule could never match`;
    for (const entry of absent) {
      c.problem("UNSUPPORTED_FIELD", entry.path, `${notKept(source, entry.name)}: ${outcome}`);
    }
    return null;
  }
  if (found === null || c.problems.length) return null;
  const search = found;
  const filter = scoped(source, search);
  const assumptions = absentNotes(source, absent, polarity);
  for (const note of assumptions) c.note(note);

  const branches = [{ source, filter }];
  if (aggregations.length) {
    const aggregation = parseAggregation(c, source, aggregations[0].aggregation!);
    if (!aggregation) return null;
    return {
      filter,
      search,
      branches,
      summarize: summarizeOf(aggregation.by, aggregation.counted),
      grouped: aggregation,
      trigger: aggregation.trigger,
      timeframe,
      entityMappings: groupEntities(aggregation.by),
      assumptions,
    };
  }
  if (timeframe !== undefined) c.note("The timeframe only applies to aggregations; it was left out.");
  const inferred = uses.used
    .filter((u) => u.target.entity)
    .map((u) => ({ entityType: u.target.entity!, field: u.target.field }));
  return {
    filter,
    search,
    branches,
    entityMappings: dedupeMappings([...source.entities, ...inferred]),
    assumptions,
  };
}

/**
 * A detection over a log source that other connectors record too (`also`): translated for each source with its
 * own fields, the rule is the OR of the translations (each within its own scope). A source where the rule cannot
 * be evaluated — it needs fields the source does not keep, so that it would match none or all of its events, or
 * groups or counts by one — is left out with a note, as long as another one is not; so a Sysmon rule on
 * `OriginalFileName` runs on Sysmon's events, and on 4688 records only where an alternative without that field
 * lets it. When no source can take the rule, the problems of each are reported. An aggregation groups (or counts)
 * the events of all the sources kept together: by the field each keeps, one column, or an alias reading each
 * source's own (`Image` is 4688's `NewProcessName`, Sysmon's `Image`).
 */
function translateDetectionAcross(c: Collector, source: SigmaLogsource, detection: Json): Detection | null {
  const { also, ...alone } = source;
  if (!also) return translateDetection(c, source, detection);
  const branches = [alone, ...also].map((branch) => {
    const own = new Collector();
    return { source: branch, own, detection: translateDetection(own, branch, detection) };
  });
  const kept = branches.filter((b) => b.detection !== null);
  if (kept.length === 0) {
    for (const problem of branches.flatMap((b) => b.own.problems)) {
      if (!c.problems.some((p) => p.path === problem.path && p.message === problem.message))
        c.problems.push(problem);
    }
    return null;
  }
  const [first] = kept as Array<{ source: SigmaLogsource; own: Collector; detection: Detection }>;
  const left = branches
    .filter((b) => b.detection === null)
    .map(
      (b) =>
        `Not run on ${b.source.name} events: ${[...new Set(b.own.problems.map((p) => p.message))].join("; ")}.`,
    );
  for (const note of [...kept.flatMap((b) => b.own.notes), ...left]) c.note(note);
  const filter =
    kept.length === 1 ? first.detection.filter : simplify({ any: kept.map((b) => b.detection!.filter) });
  const { grouped, ...translated } = first.detection;
  const across = {
    ...translated,
    // Each branch carries its own scope: scoped() leaves a search over such a source as it is.
    filter,
    search: filter,
    branches: kept.map((b) => ({ source: b.source, filter: b.detection!.filter })),
    entityMappings: dedupeMappings(kept.flatMap((b) => b.detection!.entityMappings)),
    assumptions: [...kept.flatMap((b) => b.detection!.assumptions), ...left],
  };
  if (!grouped) return across;
  // The same names (one condition), each where its source keeps it: the events of the rule are those of the
  // sources kept, so a source's scope tells its events apart.
  const field = (pick: (d: Detection) => ResolvedField) =>
    fieldAcross(
      pick(first.detection).name,
      kept.map((b) => ({ when: simplify({ all: scopeOf(b.source) }), field: pick(b.detection!) })),
    );
  const by = grouped.by.map((_, i) => field((d) => d.grouped!.by[i]));
  const counted = grouped.counted && field((d) => d.grouped!.counted!);
  return { ...across, summarize: summarizeOf(by, counted), entityMappings: groupEntities(by) };
}

/** The search identifiers a condition uses, each with whether it is under an odd number of `not`s, an even one, or both. */
function polarities(expr: Expr, negated: boolean, out: Map<string, Set<boolean>>): void {
  switch (expr.type) {
    case "id": {
      const set = out.get(expr.name) ?? new Set<boolean>();
      set.add(negated);
      out.set(expr.name, set);
      return;
    }
    case "not":
      return polarities(expr.child, !negated, out);
    default:
      for (const child of expr.children) polarities(child, negated, out);
  }
}

/**
 * One note per field the source does not keep that the condition uses: that it was taken as absent, and what
 * that made of the rule — where a value of it is required, those alternatives never match; where a filter
 * (under `not`) needs a value of it, the filter never excludes an event by it (so the rule alerts on what the
 * filter was written to drop where the field is recorded); where its null / |exists: false / |neq are required,
 * they hold for every event, and a filter of them excludes as though no event had the field.
 */
function absentNotes(
  source: SigmaLogsource,
  absent: AbsentEntry[],
  polarity: Map<string, Set<boolean>>,
): string[] {
  const byField = new Map<string, AbsentEntry[]>();
  for (const entry of absent) {
    const key = entry.name.toLowerCase();
    byField.set(key, [...(byField.get(key) ?? []), entry]);
  }
  const names = (list: string[]) => [...new Set(list)].join(", ");
  return [...byField.values()].map((entries) => {
    const name = entries[0].name;
    const under = (holds: boolean, negated: boolean) =>
      entries
        .filter((e) => e.holds === holds && polarity.get(e.identifier)!.has(negated))
        .map((e) => e.identifier);
    const parts: string[] = [];
    if (under(false, false).length) parts.push("the alternatives that need it never match");
    const verb = (ids: string[], one: string, many: string) => (new Set(ids).size === 1 ? one : many);
    const neverExclude = under(false, true);
    if (neverExclude.length)
      parts.push(
        `${names(neverExclude)} ${verb(neverExclude, "never excludes", "never exclude")} an event by it (where ${name} is recorded, the Sigma rule leaves out events this rule alerts on)`,
      );
    const alwaysHold = under(true, false);
    if (alwaysHold.length)
      parts.push(
        `its conditions that ask for it to be missing (in ${names(alwaysHold)}) hold for every event`,
      );
    const alwaysExclude = under(true, true);
    if (alwaysExclude.length)
      parts.push(
        `${names(alwaysExclude)} ${verb(alwaysExclude, "excludes", "exclude")} events by it as if none had it (where ${name} is recorded, the Sigma rule alerts on events this rule leaves out)`,
      );
    return `${name} is not kept for ${source.name} events: treated as absent, so ${parts.join("; ")}.`;
  });
}

/**
 * A search over a log source's events: the connector (and OCSF class, or event ids) it means, and the search.
 * The search of a source several connectors record (`also`) holds each one's scope already.
 */
function scoped(source: SigmaLogsource, search: EventFilter): EventFilter {
  if (source.also) return simplify(search);
  return simplify({ all: [...scopeOf(source), search] });
}

/** The conditions that select a log source's events of its one connector: its kind, and its class or event ids. */
function scopeOf(source: SigmaLogsource): EventFilter[] {
  const scope: EventFilter[] = [{ field: "connector", op: "eq", value: source.connector }];
  if (source.classUid !== undefined) scope.push({ field: "class_uid", op: "eq", value: source.classUid });
  if (source.operations) {
    const [one, ...more] = source.operations;
    scope.push(
      more.length
        ? { field: "operation", op: "in", value: [...source.operations] }
        : { field: "operation", op: "eq", value: one },
    );
  }
  return scope;
}

function dedupeMappings(mappings: EntityMapping[]): EntityMapping[] {
  const seen = new Set<string>();
  return mappings
    .filter((m) => {
      const key = `${m.entityType} ${m.field}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .slice(0, RULE_LIMITS.entityMappings);
}

/** `10m`, `1h`, `7d`, `30s` → ISO 8601, within the query period's bounds. */
function timeframeOf(c: Collector, value: unknown, path = "detection.timeframe"): string | null {
  const m = typeof value === "string" ? /^\s*(\d{1,6})\s*([smhd])\s*$/.exec(value) : null;
  if (!m) {
    return c.problem(
      "INVALID_FIELD",
      path,
      `must be a number and a unit s, m, h or d, such as 10m (got ${show(value)})`,
    );
  }
  const unit = { s: 1000, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS }[m[2] as "s" | "m" | "h" | "d"];
  const ms = Number(m[1]) * unit;
  if (ms < QUERY_PERIOD_BOUNDS.min || ms > QUERY_PERIOD_BOUNDS.max) {
    return c.problem(
      "UNSUPPORTED_CONDITION",
      path,
      `must be between ${describeDuration(QUERY_PERIOD_BOUNDS.min)} and ${describeDuration(QUERY_PERIOD_BOUNDS.max)}, the query periods a rule can have (got ${m[1]}${m[2]})`,
    );
  }
  return formatIsoDuration(ms);
}

/** A search identifier: a map (AND of its fields) or a list of maps (OR); keyword lists are not supported. */
function searchIdentifier(
  c: Collector,
  source: SigmaLogsource,
  name: string,
  value: unknown,
  uses: FieldUses,
): Search {
  const path = `detection.${name}`;
  const keywords = () =>
    c.problem(
      "UNSUPPORTED_DETECTION",
      path,
      "keyword (full-text) search over the whole event is not supported: match named fields instead",
    );
  if (isRecord(value)) return selectionMap(c, source, value, path, name, uses);
  if (Array.isArray(value)) {
    if (value.length === 0) return c.problem("INVALID_FIELD", path, "is an empty list");
    if (value.every(isRecord)) {
      return anyOfSearches(
        value.map((item, index) => selectionMap(c, source, item, `${path}[${index}]`, name, uses)),
      );
    }
    if (value.every((item) => !isRecord(item) && !Array.isArray(item))) return keywords();
    return c.problem("INVALID_FIELD", path, "mixes maps and plain values; use a list of maps or a map");
  }
  return typeof value === "string" || typeof value === "number"
    ? keywords()
    : c.problem("INVALID_FIELD", path, `must be a map of fields or a list of maps (got ${show(value)})`);
}

function selectionMap(
  c: Collector,
  source: SigmaLogsource,
  map: Json,
  path: string,
  identifier: string,
  uses: FieldUses,
): Search {
  const entries = Object.entries(map);
  if (entries.length === 0) return c.problem("INVALID_FIELD", path, "is an empty map");
  return allOfSearches(
    entries.map(([key, value]) => fieldCondition(c, source, key, value, `${path}.${key}`, identifier, uses)),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Fields and modifiers
// ---------------------------------------------------------------------------------------------------------

function resolveField(
  c: Collector,
  source: SigmaLogsource,
  name: string,
  path: string,
): SigmaFieldTarget | null {
  const target = findField(source, name);
  if (target) return target;
  const prefix = Object.keys(source.prefixes).find((p) => name.toLowerCase().startsWith(p.toLowerCase()));
  if (prefix) {
    return c.problem(
      "UNSUPPORTED_FIELD",
      path,
      `the path after ${prefix} in ${name} must be names of letters, digits, _ and - separated by dots`,
    );
  }
  if (source.unlisted) {
    return c.problem(
      "UNSUPPORTED_FIELD",
      path,
      `field ${name} is not listed for ${source.name} events (known fields: ${knownFields(source)}): ${source.unlisted.replace("<Name>", name)}`,
    );
  }
  return c.problem("UNSUPPORTED_FIELD", path, notKept(source, name));
}

/** The fields a source keeps, as a rejection lists them. */
function knownFields(source: SigmaLogsource): string {
  return [...Object.keys(source.fields), ...Object.keys(source.prefixes).map((p) => `${p}<path>`)].join(", ");
}

/** Why a field is not found: not kept, and the fields that are. */
function notKept(source: SigmaLogsource, name: string): string {
  return `field ${name} is not kept for ${source.name} events (known fields: ${knownFields(source)})`;
}

/**
 * Whether a field is one the source does not keep, so that no event of it has the field: not listed, not under
 * one of its prefixes (a path there is checked, not assumed absent), and the source's records hold nothing else.
 */
function isAbsent(source: SigmaLogsource, name: string): boolean {
  if (source.unlisted !== undefined || findField(source, name) !== null) return false;
  return !Object.keys(source.prefixes).some((p) => name.toLowerCase().startsWith(p.toLowerCase()));
}

interface Modifiers {
  match?: "contains" | "startswith" | "endswith";
  all: boolean;
  re?: { i: boolean; m: boolean; s: boolean };
  cidr: boolean;
  exists: boolean;
  compare?: "gt" | "gte" | "lt" | "lte";
  neq: boolean;
  windash: boolean;
}

const UNSUPPORTED_MODIFIERS: Record<string, string> = {
  base64: "encoded values are not supported",
  base64offset: "encoded values are not supported",
  utf16: "encoded values are not supported",
  utf16le: "encoded values are not supported",
  utf16be: "encoded values are not supported",
  wide: "encoded values are not supported",
  cased: "case-sensitive matching is not supported (text is compared without case, Sigma's default)",
  expand: "placeholders (%name%) are not supported",
  fieldref: "comparing one field with another is not supported",
  minute: "matching parts of dates is not supported",
  hour: "matching parts of dates is not supported",
  day: "matching parts of dates is not supported",
  week: "matching parts of dates is not supported",
  month: "matching parts of dates is not supported",
  year: "matching parts of dates is not supported",
};

function parseModifiers(c: Collector, names: string[], path: string): Modifiers | null {
  const mods: Modifiers = { all: false, cidr: false, exists: false, neq: false, windash: false };
  let ok = true;
  const bad = (message: string) => {
    c.problem("UNSUPPORTED_MODIFIER", path, message);
    ok = false;
  };
  for (let i = 0; i < names.length; i++) {
    const name = names[i].trim().toLowerCase();
    switch (name) {
      case "contains":
      case "startswith":
      case "endswith":
        if (mods.match) bad(`|${mods.match} and |${name} cannot be combined`);
        mods.match = name;
        break;
      case "all":
        mods.all = true;
        break;
      case "re": {
        const flags = { i: false, m: false, s: false };
        while (i + 1 < names.length && ["i", "m", "s"].includes(names[i + 1].trim().toLowerCase())) {
          flags[names[i + 1].trim().toLowerCase() as "i" | "m" | "s"] = true;
          i += 1;
        }
        mods.re = flags;
        break;
      }
      case "cidr":
        mods.cidr = true;
        break;
      case "exists":
        mods.exists = true;
        break;
      case "gt":
      case "gte":
      case "lt":
      case "lte":
        if (mods.compare) bad(`|${mods.compare} and |${name} cannot be combined`);
        mods.compare = name;
        break;
      case "neq":
        mods.neq = true;
        break;
      case "windash":
        mods.windash = true;
        break;
      case "i":
      case "m":
      case "s":
        bad(`|${name} only follows |re`);
        break;
      default:
        bad(
          UNSUPPORTED_MODIFIERS[name]
            ? `|${name} is not supported: ${UNSUPPORTED_MODIFIERS[name]}`
            : `|${name} is not a Sigma modifier Rampart supports`,
        );
    }
  }
  if (!ok) return null;
  const kinds = [
    mods.match || mods.neq || mods.windash ? "text" : null,
    mods.re ? "re" : null,
    mods.cidr ? "cidr" : null,
    mods.exists ? "exists" : null,
    mods.compare ? "compare" : null,
  ].filter(Boolean);
  if (kinds.length > 1 || (mods.neq && (mods.match || mods.all))) {
    bad(`the modifiers ${names.map((n) => `|${n}`).join("")} cannot be combined`);
    return null;
  }
  return mods;
}

type Scalar = string | number | boolean | null;

/** One field entry of a selection: `field|mods: value | [values]`. */
function fieldCondition(
  c: Collector,
  source: SigmaLogsource,
  key: string,
  value: unknown,
  path: string,
  identifier: string,
  uses: FieldUses,
): Search {
  const [name, ...modifierNames] = key.split("|");
  if (name.trim() === "") {
    return c.problem(
      "UNSUPPORTED_DETECTION",
      path,
      "keyword (full-text) search over the whole event is not supported: match named fields instead",
    );
  }
  const absent = isAbsent(source, name.trim());
  const target = absent ? null : resolveField(c, source, name.trim(), path);
  const mods = parseModifiers(c, modifierNames, path);
  if ((!absent && !target) || !mods) return null;
  const values: unknown[] = Array.isArray(value) ? value : [value];
  if (values.length === 0) return c.problem("INVALID_FIELD", path, "has an empty list of values");
  if (!values.every((v) => v === null || ["string", "number", "boolean"].includes(typeof v))) {
    return c.problem(
      "UNSUPPORTED_VALUE",
      path,
      "values must be strings, numbers, booleans or null, or a list of them",
    );
  }
  if (mods.exists && (values.length !== 1 || typeof values[0] !== "boolean")) {
    return c.problem("UNSUPPORTED_VALUE", path, "|exists takes true or false");
  }
  if (!target) {
    // A field no event has: the entry is what it is on an event without it.
    const holds = absentValue(c, mods, values as Scalar[], path);
    if (holds !== null) uses.absent.push({ name: name.trim(), path, identifier, holds });
    return holds;
  }
  uses.used.push({ name, target });
  if (mods.exists) return presence(target, values[0] as boolean);
  const ctx = { c, target, mods, path, name: name.trim() };
  if (mods.windash && target.type !== "text" && target.type !== "raw") {
    return c.problem("UNSUPPORTED_MODIFIER", path, `|windash applies to text; ${ctx.name} is not text`);
  }
  // |windash makes each value the OR of its variants; |all then needs every value (in one of its variants).
  const variants = (values as Scalar[]).map((v) => (mods.windash ? windashVariants(ctx, v) : [v]));
  if (!variants.every((list): list is Scalar[] => list !== null)) return null;
  const results = variants.map((list) => list.map((v) => valueCondition(ctx, v)));
  if (!results.every((list): list is Leafish[] => list.every((r) => r !== null))) return null;
  const combined = mods.all
    ? { all: results.map((list) => (list.length === 1 ? leafFilter(list[0]) : anyOf(list))) }
    : anyOf(results.flat());
  return mods.neq ? { not: combined } : combined;
}

/**
 * What a field entry is on an event without the field, as Sigma evaluates it: a value never matches, whatever
 * its modifiers (`''` too: it asks for an empty value, which a missing field does not have; `*` asks for any
 * value); `null` always does (it means "missing"); `|exists: true` never, `|exists: false` always. A list is the
 * OR of its values (`|all`: their AND), and `|neq` the NOT of that. A value is not checked further, since what it
 * would match does not matter, but `null` still takes no match modifier.
 */
function absentValue(c: Collector, mods: Modifiers, values: Scalar[], path: string): boolean | null {
  if (mods.exists) return values[0] === false;
  if (values.includes(null) && (mods.compare || mods.cidr || mods.re || mods.match)) {
    return c.problem("UNSUPPORTED_VALUE", path, "null cannot be used with a modifier");
  }
  const holds = mods.all ? values.every((v) => v === null) : values.some((v) => v === null);
  return mods.neq ? !holds : holds;
}

/** The characters |windash puts in place of a flag's leading `-` or `/` (pySigma's: dashes Windows also takes). */
const WINDASH_CHARACTERS = ["-", "/", "\u2013", "\u2014", "\u2015"];
/** At most this many flag characters in one |windash value: each multiplies its variants by five. */
const WINDASH_MAX_FLAGS = 3;

/**
 * A |windash value's variants, as pySigma expands it: every `-` or `/` at the start of a word (after a non-word
 * character or at the start, before a letter, digit or `_`: `\B[-/]\b`) as each of the five characters, in every
 * combination. Many Windows programs take `-enc`, `/enc` and `–enc` alike, so a rule written with one matches all.
 */
function windashVariants(ctx: ValueContext, value: Scalar): Scalar[] | null {
  if (typeof value !== "string") return [value];
  const parts = value.split(/\B[-/]\b/);
  if (parts.length - 1 > WINDASH_MAX_FLAGS) {
    return ctx.c.problem(
      "UNSUPPORTED_VALUE",
      ctx.path,
      `|windash: ${show(value)} has ${parts.length - 1} flags; at most ${WINDASH_MAX_FLAGS} expand (${5 ** WINDASH_MAX_FLAGS} values)`,
    );
  }
  let out = [parts[0]];
  for (const part of parts.slice(1)) {
    out = out.flatMap((head) => WINDASH_CHARACTERS.map((dash) => `${head}${dash}${part}`));
  }
  return out;
}

/** A value's condition: a plain `eq` (merged with its siblings into one `in`) or any filter. */
type Leafish =
  { eq: { field: string; value: string | number; guard?: EventFilter } } | { filter: EventFilter };

function leafFilter(leaf: Leafish): EventFilter {
  if ("filter" in leaf) return leaf.filter;
  const condition: FilterCondition = { field: leaf.eq.field, op: "eq", value: leaf.eq.value };
  return leaf.eq.guard ? { all: [leaf.eq.guard, condition] } : condition;
}

/**
 * An OR of values, the plain equalities of each field as one `in` and the CIDR blocks of each field as one
 * `inCidr` (the filter counts every node), in the order the values came.
 */
function anyOf(leaves: Leafish[]): EventFilter {
  const out: EventFilter[] = [];
  const groups = new Map<string, FilterCondition>();
  const add = (key: string, condition: FilterCondition, guard: EventFilter | undefined) => {
    const group = groups.get(key);
    if (group) {
      const values = group.value as unknown[];
      const more = condition.op === "inCidr" ? (condition.value as unknown[]) : [condition.value];
      for (const v of more) if (!values.includes(v)) values.push(v);
      if (group.op === "eq" && values.length > 1) group.op = "in";
      return;
    }
    const created: FilterCondition = {
      ...condition,
      value: condition.op === "inCidr" ? [...(condition.value as unknown[])] : [condition.value],
    };
    groups.set(key, created);
    out.push(guard ? { all: [guard, created] } : created);
  };
  for (const leaf of leaves) {
    if ("eq" in leaf)
      add(`eq ${leaf.eq.field}`, { field: leaf.eq.field, op: "eq", value: leaf.eq.value }, leaf.eq.guard);
    else if ("op" in leaf.filter && leaf.filter.op === "inCidr")
      add(`cidr ${leaf.filter.field}`, leaf.filter, undefined);
    else out.push(leaf.filter);
  }
  // A group of one equality is an `eq` of its value.
  for (const group of groups.values()) {
    if (group.op === "eq") group.value = (group.value as unknown[])[0];
  }
  return out.length === 1 ? out[0] : { any: out };
}

/** The field is there (true) or missing (false). */
function presence(target: SigmaFieldTarget, present: boolean): EventFilter {
  let positive: EventFilter;
  if (target.type === "text" && target.guard) positive = target.guard;
  else if (target.type === "ip" && target.host) {
    positive = {
      any: [
        { field: target.field, op: "exists", value: true },
        { field: target.host, op: "exists", value: true },
      ],
    };
  } else positive = { field: target.field, op: "exists", value: true };
  return present ? positive : { not: positive };
}

interface ValueContext {
  c: Collector;
  target: SigmaFieldTarget;
  mods: Modifiers;
  path: string;
  name: string;
}

function valueCondition(ctx: ValueContext, value: Scalar): Leafish | null {
  const { c, target, mods, path, name } = ctx;
  if (value === null) {
    if (mods.compare || mods.cidr || mods.re || mods.match) {
      return c.problem("UNSUPPORTED_VALUE", path, "null cannot be used with a modifier");
    }
    return { filter: presence(target, false) };
  }
  if (mods.compare) {
    if (target.type !== "number" && target.type !== "raw") {
      return c.problem(
        "UNSUPPORTED_MODIFIER",
        path,
        `|${mods.compare} compares numbers; ${name} is not numeric`,
      );
    }
    const n = numeric(value);
    if (n === null)
      return c.problem("UNSUPPORTED_VALUE", path, `|${mods.compare} takes a number (got ${show(value)})`);
    return { filter: { field: target.field, op: mods.compare, value: n } };
  }
  if (mods.cidr) {
    if (target.type !== "ip" && target.type !== "raw") {
      return c.problem("UNSUPPORTED_MODIFIER", path, `|cidr needs an IP address field; ${name} is not one`);
    }
    const block = cidrOf(String(value));
    if (!block) {
      return c.problem(
        "UNSUPPORTED_VALUE",
        path,
        `|cidr takes an IPv4 or IPv6 network such as 10.0.0.0/8 (got ${show(value)})`,
      );
    }
    return { filter: { field: target.field, op: "inCidr", value: [block] } };
  }
  switch (target.type) {
    case "number": {
      if (mods.match || mods.re) {
        return c.problem(
          "UNSUPPORTED_MODIFIER",
          path,
          `${name} is numeric: text matching does not apply to it`,
        );
      }
      const n = numeric(value);
      if (n === null)
        return c.problem("UNSUPPORTED_VALUE", path, `${name} is numeric; ${show(value)} is not a number`);
      return { eq: { field: target.field, value: n } };
    }
    case "boolean": {
      const b =
        typeof value === "boolean"
          ? value
          : /^(true|false)$/i.test(String(value))
            ? /^true$/i.test(String(value))
            : null;
      if (b === null || mods.match || mods.re) {
        return c.problem("UNSUPPORTED_VALUE", path, `${name} is true or false (got ${show(value)})`);
      }
      return { filter: { field: target.field, op: "eq", value: b } };
    }
    case "ip":
      return ipCondition(ctx, target, value);
    case "text":
    case "raw": {
      const pattern = mods.re ? regexPattern(ctx, String(value)) : wildcardPattern(ctx, value);
      if (!pattern) return null;
      return textCondition(ctx, target, pattern, value);
    }
  }
}

function numeric(value: Scalar): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && /^\s*-?\d{1,15}(\.\d{1,15})?\s*$/.test(value)) return Number(value);
  return null;
}

const IP_ADDRESS = new RegExp(IP_ADDRESS_PATTERN);

/** A CIDR block (or a single address) in the form the filter takes, or null. */
function cidrOf(text: string): string | null {
  const [address, prefix, extra] = text.trim().split("/");
  if (extra !== undefined || !IP_ADDRESS.test(address)) return null;
  const max = address.includes(":") ? 128 : 32;
  if (prefix === undefined) return address;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return null;
  return `${address}/${Number(prefix)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Text patterns
// ---------------------------------------------------------------------------------------------------------

const STAR = Symbol("*");
type Piece = string | typeof STAR;

/** Sigma wildcards of a value: `*` any run, `?` one character; `\*`, `\?` and `\\` escape, any other `\` is literal. */
function wildcardPattern(ctx: ValueContext, value: Exclude<Scalar, null>): Piece[] | null {
  const text = String(value);
  const pieces: Piece[] = [];
  let literal = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length && ["*", "?", "\\"].includes(text[i + 1])) {
      literal += text[i + 1];
      i += 1;
    } else if (ch === "*") {
      pieces.push(literal, STAR);
      literal = "";
    } else if (ch === "?") {
      return ctx.c.problem(
        "UNSUPPORTED_VALUE",
        ctx.path,
        `the single-character wildcard ? in ${show(text)} has no equivalent here (write \\? for a literal ?)`,
      );
    } else literal += ch;
  }
  pieces.push(literal);
  return withModifier(ctx.mods, pieces);
}

function withModifier(mods: Modifiers, pieces: Piece[]): Piece[] {
  switch (mods.match) {
    case "contains":
      return [STAR, ...pieces, STAR];
    case "startswith":
      return [...pieces, STAR];
    case "endswith":
      return [STAR, ...pieces];
    default:
      return pieces;
  }
}

/**
 * A regular expression (`|re`) as a pattern, when it is one: literal text (metacharacters escaped with `\`),
 * `.*` and the anchors `^` and `$`. Sigma's expressions are case-sensitive unless `|i`; our text matching is
 * not, so a case-sensitive expression is taken only when it has no letters (where case cannot matter).
 */
function regexPattern(ctx: ValueContext, source: string): Piece[] | null {
  const flags = ctx.mods.re!;
  const complex = (why: string) =>
    ctx.c.problem(
      "UNSUPPORTED_VALUE",
      ctx.path,
      `the regular expression ${show(source)} ${why}; only literal text, .* and ^/$ anchors translate (or use plain values with * wildcards)`,
    );
  let body = source;
  const anchoredStart = body.startsWith("^");
  if (anchoredStart) body = body.slice(1);
  let anchoredEnd = false;
  if (body.endsWith("$") && !/(^|[^\\])(\\\\)*\\\$$/.test(body)) {
    anchoredEnd = true;
    body = body.slice(0, -1);
  }
  if ((anchoredStart || anchoredEnd) && flags.m) return complex("uses ^ or $ with |m (line anchors)");
  const pieces: Piece[] = anchoredStart ? [] : [STAR];
  let literal = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === "\\") {
      const next = body[i + 1];
      if (next === undefined) return complex("ends with a lone \\");
      if (/[A-Za-z0-9]/.test(next)) return complex(`uses the class or escape \\${next}`);
      literal += next;
      i += 1;
    } else if (ch === "." && body[i + 1] === "*") {
      pieces.push(literal, STAR);
      literal = "";
      i += 1;
    } else if (".^$*+?()[]{}|".includes(ch)) {
      return complex(`uses ${ch}`);
    } else literal += ch;
  }
  pieces.push(literal);
  if (!anchoredEnd) pieces.push(STAR);
  const letters = pieces.some((p) => typeof p === "string" && /[A-Za-z]/.test(p));
  if (!flags.i && letters) {
    return complex("is case-sensitive (add |i: text is compared without case here)");
  }
  return pieces;
}

/** Adjacent literals joined, empty ones dropped, runs of * as one. */
function compact(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const piece of pieces) {
    if (piece === STAR) {
      if (out[out.length - 1] !== STAR) out.push(STAR);
    } else if (piece !== "") {
      if (typeof out[out.length - 1] === "string")
        out[out.length - 1] = `${String(out[out.length - 1])}${piece}`;
      else out.push(piece);
    }
  }
  return out;
}

/** The condition a pattern puts on a text (or raw) field. */
function textCondition(
  ctx: ValueContext,
  target: Extract<SigmaFieldTarget, { type: "text" | "raw" }>,
  rawPieces: Piece[],
  original: Exclude<Scalar, null>,
): Leafish | null {
  const pieces = compact(rawPieces);
  const guard = target.type === "text" ? target.guard : undefined;
  const guarded = (condition: EventFilter): Leafish => ({
    filter: guard ? { all: [guard, condition] } : condition,
  });
  const field = target.field;
  if (pieces.length === 0) {
    // An empty value: the normaliser drops empty text, so it is a missing field; a raw attribute keeps "".
    if (target.type === "raw") return { filter: { field, op: "eq", value: "" } };
    ctx.c.note(`An empty value of ${ctx.name} matches events without it (empty text is not kept).`);
    return { filter: presence(target, false) };
  }
  if (pieces.length === 1 && pieces[0] !== STAR) {
    const literal = pieces[0];
    if (target.type === "raw") return { filter: rawEquals(field, literal, original) };
    return { eq: { field, value: literal, guard } };
  }
  if (pieces.length === 1) return { filter: presence(target, true) };
  const [first, second, third] = pieces;
  if (pieces.length === 2 && first === STAR && typeof second === "string") {
    return guarded({ field, op: "endsWith", value: second });
  }
  if (pieces.length === 2 && typeof first === "string" && second === STAR) {
    return guarded({ field, op: "startsWith", value: first });
  }
  if (pieces.length === 3 && first === STAR && typeof second === "string" && third === STAR) {
    return guarded({ field, op: "contains", value: second });
  }
  const literals = pieces.filter((p): p is string => typeof p === "string");
  if (literals.some((l) => l.includes("*"))) {
    return ctx.c.problem(
      "UNSUPPORTED_VALUE",
      ctx.path,
      `${show(String(original))} mixes a literal * with wildcards, which a glob cannot tell apart`,
    );
  }
  return guarded({ field, op: "matches", value: pieces.map((p) => (p === STAR ? "*" : p)).join("") });
}

/**
 * Equality on an attribute kept as received: Sigma compares values as text, so `5` matches the number 5 and the
 * text "5", `true` the boolean and the text.
 */
function rawEquals(field: string, literal: string, original: Exclude<Scalar, null>): EventFilter {
  const alternatives: FilterCondition[] = [{ field, op: "eq", value: literal }];
  const n = typeof original === "number" ? original : numeric(literal);
  if (n !== null && String(n) === literal.trim()) alternatives.push({ field, op: "eq", value: n });
  if (/^(true|false)$/i.test(literal)) alternatives.push({ field, op: "eq", value: /^true$/i.test(literal) });
  return alternatives.length === 1 ? alternatives[0] : { any: alternatives };
}

/**
 * A value of an IP address field: an address (the column), a whole-octet IPv4 prefix such as `10.1.` with
 * `*` or |startswith (a CIDR block), `*` (present); any other text only where the record's non-address value is
 * kept (`host`), else it is rejected: a text pattern over an address column would silently match nothing.
 */
function ipCondition(
  ctx: ValueContext,
  target: Extract<SigmaFieldTarget, { type: "ip" }>,
  value: Exclude<Scalar, null>,
): Leafish | null {
  if (ctx.mods.re) {
    return ctx.c.problem(
      "UNSUPPORTED_MODIFIER",
      ctx.path,
      `|re does not apply to the IP address field ${ctx.name}: use |cidr`,
    );
  }
  const pieces = wildcardPattern(ctx, value);
  if (!pieces) return null;
  const compacted = compact(pieces);
  const host = target.host;
  const orHost = (ipFilter: EventFilter, hostFilter: EventFilter): EventFilter =>
    host ? { any: [ipFilter, hostFilter] } : ipFilter;
  if (compacted.length === 1 && typeof compacted[0] === "string") {
    const literal = compacted[0].trim();
    const address = IP_ADDRESS.test(literal) ? normalizeIp(literal) : null;
    if (address) return { eq: { field: target.field, value: address } };
    if (host) return { eq: { field: host, value: literal } };
    return ctx.c.problem(
      "UNSUPPORTED_VALUE",
      ctx.path,
      `${ctx.name} holds IP addresses; ${show(literal)} is not one`,
    );
  }
  if (compacted.length === 1) return { filter: presence(target, true) };
  if (compacted.length === 2 && typeof compacted[0] === "string" && compacted[1] === STAR) {
    const prefix = compacted[0];
    const octets = /^((?:\d{1,3}\.){1,3})$/.exec(prefix) ? prefix.slice(0, -1).split(".").map(Number) : null;
    if (octets && octets.every((o, i) => o <= 255 && String(o) === prefix.split(".")[i])) {
      const block = `${[...octets, 0, 0, 0].slice(0, 4).join(".")}/${octets.length * 8}`;
      return {
        filter: orHost(
          { field: target.field, op: "inCidr", value: [block] },
          { field: host ?? target.field, op: "startsWith", value: prefix },
        ),
      };
    }
  }
  return ctx.c.problem(
    "UNSUPPORTED_VALUE",
    ctx.path,
    `${ctx.name} holds IP addresses: use an address, a whole-octet prefix such as 10.1.* or |cidr (got ${show(String(value))})`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Condition
// ---------------------------------------------------------------------------------------------------------

type Expr =
  | { type: "id"; name: string }
  | { type: "and"; children: Expr[] }
  | { type: "or"; children: Expr[] }
  | { type: "not"; child: Expr };

const MAX_CONDITION_DEPTH = 32;

/** Parses a condition (Sigma's grammar: or < and < not < x of < parentheses) and splits off a `| aggregation`. */
function parseCondition(
  c: Collector,
  text: string,
  path: string,
  identifiers: string[],
): { expr: Expr; aggregation: string | null } | null {
  if (text.length > SIGMA_LIMITS.maxConditionLength) {
    return c.problem("INVALID_CONDITION", path, `is at most ${SIGMA_LIMITS.maxConditionLength} characters`);
  }
  const pipe = text.indexOf("|");
  const search = pipe >= 0 ? text.slice(0, pipe) : text;
  const aggregation = pipe >= 0 ? text.slice(pipe + 1).trim() : null;
  const tokens = search.match(/\(|\)|[^\s()]+/g) ?? [];
  if (tokens.length === 0) return c.problem("INVALID_CONDITION", path, "is empty");
  let position = 0;
  const peek = () => tokens[position]?.toLowerCase();
  const fail = (message: string): never => {
    throw new ConditionError(message);
  };
  const known = new Set(identifiers);
  const visible = identifiers.filter((id) => !id.startsWith("_"));

  const quantified = (quantifier: string): Expr => {
    position += 1; // quantifier
    if (peek() !== "of") fail(`expected "of" after "${quantifier}"`);
    position += 1;
    const target = tokens[position];
    if (target === undefined || target === "(" || target === ")")
      fail(`expected a pattern or "them" after "${quantifier} of"`);
    position += 1;
    let names: string[];
    if (target.toLowerCase() === "them") names = visible;
    else {
      names = identifiers.filter((id) => globMatches(target, id));
      if (names.length === 0) fail(`"${target}" matches no search identifier`);
    }
    if (names.length === 0) fail('there is no search identifier for "them"');
    const children: Expr[] = names.map((name) => ({ type: "id", name }));
    if (children.length === 1) return children[0];
    return quantifier === "all" ? { type: "and", children } : { type: "or", children };
  };

  const primary = (depth: number): Expr => {
    if (depth > MAX_CONDITION_DEPTH) fail(`is nested more than ${MAX_CONDITION_DEPTH} levels deep`);
    const token = tokens[position];
    if (token === undefined) fail("ends too early");
    const lower = token.toLowerCase();
    if (token === "(") {
      position += 1;
      const inner = or(depth + 1);
      if (tokens[position] !== ")") fail("a ( is not closed");
      position += 1;
      return inner;
    }
    if (lower === "1" || lower === "any" || lower === "all") {
      if (tokens[position + 1]?.toLowerCase() === "of") return quantified(lower === "all" ? "all" : "1");
    }
    if (/^\d+$/.test(lower) && tokens[position + 1]?.toLowerCase() === "of") {
      throw new ConditionError(
        `"${token} of" is not supported (only "1 of" and "all of")`,
        "UNSUPPORTED_CONDITION",
      );
    }
    if (lower === "near") {
      throw new ConditionError("near (temporal proximity) is not supported", "UNSUPPORTED_CONDITION");
    }
    if (["and", "or", "not", ")", "of", "them"].includes(lower)) fail(`unexpected "${token}"`);
    if (!known.has(token)) fail(`"${token}" is not a search identifier of the detection`);
    position += 1;
    return { type: "id", name: token };
  };

  const not = (depth: number): Expr => {
    if (peek() === "not") {
      position += 1;
      return { type: "not", child: not(depth + 1) };
    }
    return primary(depth);
  };

  const and = (depth: number): Expr => {
    const children = [not(depth)];
    while (peek() === "and") {
      position += 1;
      children.push(not(depth));
    }
    return children.length === 1 ? children[0] : { type: "and", children };
  };

  function or(depth: number): Expr {
    const children = [and(depth)];
    while (peek() === "or") {
      position += 1;
      children.push(and(depth));
    }
    return children.length === 1 ? children[0] : { type: "or", children };
  }

  try {
    const expr = or(0);
    if (position < tokens.length) fail(`unexpected "${tokens[position]}"`);
    if (aggregation !== null && aggregation === "") fail("has nothing after |");
    return { expr, aggregation };
  } catch (error) {
    if (!(error instanceof ConditionError)) throw error;
    return c.problem(error.code, path, error.message);
  }
}

/**
 * Whether `text` matches a search-identifier pattern where `*` is any run of characters (case-sensitive, as
 * Sigma's identifiers are). Greedy with one backtrack point, so linear in practice: a regular expression built
 * from a pattern of many `*` could backtrack exponentially.
 */
function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === text[t]) {
      p += 1;
      t += 1;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p;
      resume = t;
      p += 1;
    } else if (star >= 0) {
      p = star + 1;
      resume += 1;
      t = resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "*") p += 1;
  return p === pattern.length;
}

class ConditionError extends Error {
  constructor(
    message: string,
    readonly code: SigmaProblemCode = "INVALID_CONDITION",
  ) {
    super(message);
  }
}

const AGGREGATION =
  /^(count|min|max|avg|sum)\s*\(\s*([^()\s]*)\s*\)\s*(?:by\s+(.+?))?\s*(>=|<=|==|!=|>|<|=)\s*(\d{1,9})$/i;
const TRIGGERS: Record<string, TriggerOperator> = {
  ">": "GT",
  ">=": "GTE",
  "<": "LT",
  "<=": "LTE",
  "=": "EQ",
  "==": "EQ",
  "!=": "NE",
};

/** Sigma 1's `count([field]) [by a, b] <op> n` → the fields it groups and counts by, and the trigger. */
function parseAggregation(
  c: Collector,
  source: SigmaLogsource,
  text: string,
): {
  trigger: { operator: TriggerOperator; threshold: number };
  by: ResolvedField[];
  counted: ResolvedField | null;
} | null {
  const path = "detection.condition";
  const m = AGGREGATION.exec(text.trim());
  if (!m) {
    return c.problem(
      /^near\b/i.test(text.trim()) ? "UNSUPPORTED_CONDITION" : "INVALID_CONDITION",
      path,
      `the aggregation "${text.trim()}" is not count([field]) [by field, …] <op> number`,
    );
  }
  const [, fn, counted, byText, op, threshold] = m;
  if (fn.toLowerCase() !== "count") {
    return c.problem("UNSUPPORTED_CONDITION", path, `only count() aggregations are supported (got ${fn}())`);
  }
  const groupable = (name: string) => groupableField(c, source, name, path);
  const by = (byText ? byText.split(",").map((s) => s.trim()) : []).map(groupable);
  const field = counted ? groupable(counted) : null;
  if (by.some((b) => b === null) || (counted && field === null)) return null;
  return {
    trigger: { operator: TRIGGERS[op], threshold: Number(threshold) },
    by: by as ResolvedField[],
    counted: field,
  };
}

/**
 * A field a summarised rule can group by or count the values of: kept for the source (one connector's: a source
 * several record is each one's, fieldAcross), and not guarded.
 */
function groupableField(
  c: Collector,
  source: SigmaLogsource,
  name: string,
  path: string,
): ResolvedField | null {
  const target = resolveField(c, source, name, path);
  if (!target) return null;
  if (target.type === "text" && target.guard) {
    return c.problem("UNSUPPORTED_FIELD", path, `${name} cannot be grouped or counted by`);
  }
  return { name, target };
}

// ---------------------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------------------

/** Nested all/all and any/any flattened, single-child combinators and double negations removed. */
export function simplify(filter: EventFilter): EventFilter {
  if ("all" in filter) {
    const children = filter.all.map(simplify).flatMap((f) => ("all" in f ? f.all : [f]));
    return children.length === 1 ? children[0] : { all: children };
  }
  if ("any" in filter) {
    const children = filter.any.map(simplify).flatMap((f) => ("any" in f ? f.any : [f]));
    return children.length === 1 ? children[0] : { any: children };
  }
  if ("not" in filter) {
    const child = simplify(filter.not);
    return "not" in child ? child.not : { not: child };
  }
  return filter;
}
