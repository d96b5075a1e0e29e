/**
 * The definition of an analytics rule, modelled on Microsoft Sentinel's scheduled and near-real-time (NRT)
 * rules: an event filter, an optional summarisation (scheduled only), a trigger on the result count, timings,
 * MITRE ATT&CK tags, entity mappings, alert suppression and incident grouping. Pure: validation and defaults.
 */
import { jsonProblem } from "../../../../common/src/validation";
import { ENTITY_TYPES, type EntityType } from "../../../../common/src/entity-types";
import { EVENT_COLUMNS } from "../events/event.model";
import { watchlistAliasesOf } from "../hunting/kql-compiler";
import { KQL_LIMITS, KqlError, parseKql } from "../hunting/kql-parser";
import {
  DEFAULT_LOOKBACK_DURATION,
  DEFAULT_SUPPRESSION_DURATION,
  LOOKBACK_DURATION_BOUNDS,
  parseBoundedDuration,
  QUERY_FREQUENCY_BOUNDS,
  QUERY_PERIOD_BOUNDS,
  SLIDING_WINDOW_BOUNDS,
  SUPPRESSION_DURATION_BOUNDS,
  type DurationBounds,
} from "./durations";
import {
  CORRELATION_AGGREGATES,
  CORRELATION_LIMITS,
  isCorrelationAggregate,
  type NamedFilter,
} from "./rule-correlation";
import { isFilterField, validateFilter } from "./rule-filter";

/** Rule kinds: SCHEDULED runs a query every queryFrequency over queryPeriod; NRT evaluates events as they arrive. */
export const RULE_KINDS = ["SCHEDULED", "NRT"] as const;
/** A rule kind. */
export type RuleKind = (typeof RULE_KINDS)[number];

/** Entity types an alert can carry (Sentinel's Account, Host, IP, Azure resource, File hash, Process, URL, DNS). */
export { ENTITY_TYPES, type EntityType };

/** Alert severities of a rule. */
export const RULE_SEVERITIES = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH"] as const;
/** An alert severity. */
export type RuleSeverity = (typeof RULE_SEVERITIES)[number];

/** Comparisons of the trigger (Sentinel's GreaterThan, LessThan, Equal and NotEqual, plus GTE and LTE). */
export const TRIGGER_OPERATORS = ["GT", "GTE", "LT", "LTE", "EQ", "NE"] as const;
/** A comparison of the trigger. */
export type TriggerOperator = (typeof TRIGGER_OPERATORS)[number];
/**
 * Aggregates of a summarised rule: events, distinct values of a field, or how many of its named filters matched
 * (in the order listed, for FILTERS_MATCHED_IN_ORDER; see rule-correlation.ts).
 */
export const SUMMARIZE_AGGREGATES = ["COUNT", "DISTINCT_COUNT", ...CORRELATION_AGGREGATES] as const;
/** An aggregate of a summarised rule. */
export type SummarizeAggregate = (typeof SUMMARIZE_AGGREGATES)[number];
/** How incident grouping matches alerts to an open incident. */
export const INCIDENT_MATCHING_METHODS = ["ALL_ENTITIES", "ANY_ALERT", "SELECTED"] as const;

/** The MITRE ATT&CK tactics Sentinel accepts, as Sentinel spells them. */
export const MITRE_TACTICS = [
  "Reconnaissance",
  "ResourceDevelopment",
  "InitialAccess",
  "Execution",
  "Persistence",
  "PrivilegeEscalation",
  "DefenseEvasion",
  "CredentialAccess",
  "Discovery",
  "LateralMovement",
  "Collection",
  "CommandAndControl",
  "Exfiltration",
  "Impact",
  "ImpairProcessControl",
  "InhibitResponseFunction",
  "PreAttack",
] as const;

/** A MITRE ATT&CK technique or sub-technique id: `T1110`, `T1110.003`. */
export const TECHNIQUE_ID_PATTERN = /^T\d{4}(?:\.\d{3})?$/;

/** Limits of a rule's lists and texts. */
export const RULE_LIMITS = {
  displayName: 256,
  description: 5000,
  entityMappings: 10,
  summarizeBy: 10,
  /** Aliases of a summarised rule, and cases per alias (one per log source of a Sigma correlation, say). */
  summarizeAliases: 10,
  tactics: MITRE_TACTICS.length,
  techniques: 50,
} as const;

/**
 * A name for a field that is a different column in different events (Sigma's correlation `aliases`: the user of
 * an Entra ID sign-in is `attributes.user.email_addr`, of an Okta event `attributes.actor.alternate_id`): per
 * event, the field of the first case whose `when` filter it matches; absent (null) when it matches none.
 */
export interface SummarizeAlias {
  /** What `summarize.by`, `summarize.field` and entity mappings call it: not an event column or attribute path. */
  name: string;
  cases: Array<{ when: unknown; field: string }>;
}

/** Alias names: a word, so that one never reads as an event column or an attribute path. */
const ALIAS_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** One entity of an alert, read from an event field (or, for a summarised rule, from a `by` field). */
export interface EntityMapping {
  entityType: EntityType;
  field: string;
}

/** A complete rule definition (what normalizeRuleSpec returns). */
export interface RuleSpec {
  kind: RuleKind;
  displayName: string;
  description: string;
  severity: RuleSeverity;
  enabled: boolean;
  /** An EventFilter (see rule-filter.ts); absent when `query` defines the rule. */
  filter?: unknown;
  /**
   * A KQL query in the hunting language (docs/hunting.md) instead of `filter` and `summarize` (SCHEDULED only):
   * its result rows are the rule's results. Each run reads only the events of its queryPeriod (rule-runner.ts).
   */
  query?: string;
  /**
   * Group the filtered events and aggregate per group (SCHEDULED only). `filters` (FILTERS_MATCHED and
   * FILTERS_MATCHED_IN_ORDER only) are the named filters correlated within each group, over the events `filter`
   * selects.
   */
  summarize?: {
    by: string[];
    aggregate: SummarizeAggregate;
    field?: string;
    filters?: NamedFilter[];
    /**
     * ISO 8601 duration ≤ queryPeriod (COUNT and DISTINCT_COUNT, trigger GT or GTE): count over a sliding window
     * — a group triggers when events of it no more than `window` apart meet the threshold — instead of over the
     * run's whole period (rule-sliding.ts).
     */
    window?: string;
    /** Names `by` and `field` may use for a field that is a different column per kind of event. */
    aliases?: SummarizeAlias[];
  };
  /** Compared with the result count (no summarize) or with each group's aggregate. */
  trigger: { operator: TriggerOperator; threshold: number };
  /** ISO 8601 duration, SCHEDULED only (required there): how often the rule runs. */
  queryFrequency?: string;
  /** ISO 8601 duration, SCHEDULED only (required there): how far back each run looks; ≥ queryFrequency. */
  queryPeriod?: string;
  /** MITRE ATT&CK tactic names (`CredentialAccess`). */
  tactics: string[];
  /** MITRE ATT&CK technique ids (`T1110`, `T1110.003`). */
  techniques: string[];
  entityMappings: EntityMapping[];
  /** One alert per result row/group (true) or one alert for the run (false). */
  alertPerResult: boolean;
  /** Stop running the rule for `duration` after it fires. */
  suppression?: { enabled: boolean; duration: string };
  incidentGrouping: {
    enabled: boolean;
    matchingMethod: "ALL_ENTITIES" | "ANY_ALERT" | "SELECTED";
    selectedEntityTypes?: EntityType[];
    lookbackDuration: string;
    reopenClosedIncident: boolean;
  };
  /**
   * A threat-intelligence matching rule (NRT, not summarised): its filter selects the events that are matched
   * against the tenant's active indicators (their IPs, domains, URLs, hashes and e-mail addresses: see
   * intel/ti-matcher.ts); every match raises a TI_MATCH alert with this rule's severity, tactics, techniques,
   * entity mappings, suppression and incident grouping.
   */
  threatIntelligence?: boolean;
  /**
   * Threat-intelligence rules only: an alert's severity follows the matched indicator's confidence (≥ 80 HIGH,
   * ≥ 50 MEDIUM, else LOW; an indicator without one takes `severity`) instead of being the rule's `severity`.
   */
  severityFromConfidence?: boolean;
}

/** A rule as written by a user or a template: the fields normalizeRuleSpec defaults may be left out. */
export type RuleSpecInput = Omit<
  RuleSpec,
  | "enabled"
  | "trigger"
  | "tactics"
  | "techniques"
  | "entityMappings"
  | "alertPerResult"
  | "suppression"
  | "incidentGrouping"
> &
  Partial<
    Pick<RuleSpec, "enabled" | "trigger" | "tactics" | "techniques" | "entityMappings" | "alertPerResult">
  > & {
    suppression?: { enabled: boolean; duration?: string };
    incidentGrouping?: Partial<RuleSpec["incidentGrouping"]>;
  };

/** A fault in a rule definition: a path (`queryPeriod`, `filter.all[0].op`, `entityMappings[1].field`) and message. */
export interface RuleProblem {
  path: string;
  message: string;
}

const TOP_LEVEL_KEYS = [
  "kind",
  "displayName",
  "description",
  "severity",
  "enabled",
  "filter",
  "query",
  "summarize",
  "trigger",
  "queryFrequency",
  "queryPeriod",
  "tactics",
  "techniques",
  "entityMappings",
  "alertPerResult",
  "suppression",
  "incidentGrouping",
  "threatIntelligence",
  "severityFromConfidence",
] as const;

type Record_ = Record<string, unknown>;

function isRecord(value: unknown): value is Record_ {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function has(record: Record_, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(record, name) && record[name] !== undefined;
}

function show(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

class Checker {
  readonly problems: RuleProblem[] = [];

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  /** Reports keys of `record` not in `allowed`. */
  keys(record: Record_, allowed: readonly string[], path: string): void {
    for (const name of Object.keys(record)) {
      if (!allowed.includes(name))
        this.problem(join(path, name), `unknown field (expected ${allowed.join(", ")})`);
    }
  }

  oneOf<T extends string>(value: unknown, options: readonly T[], path: string): T | null {
    if (typeof value === "string" && (options as readonly string[]).includes(value)) return value as T;
    this.problem(path, `must be one of ${options.join(", ")} (got ${show(value)})`);
    return null;
  }

  boolean(record: Record_, name: string, path: string, required: boolean): boolean | null {
    if (!has(record, name)) {
      if (required) this.problem(join(path, name), "is required");
      return null;
    }
    const value = record[name];
    if (typeof value !== "boolean") {
      this.problem(join(path, name), `must be true or false (got ${show(value)})`);
      return null;
    }
    return value;
  }

  text(value: unknown, path: string, min: number, max: number): string | null {
    if (typeof value !== "string") {
      this.problem(path, `must be a string (got ${show(value)})`);
      return null;
    }
    const length = [...value].length;
    if (value.trim().length < min) {
      this.problem(path, min === 1 ? "must not be empty" : `must have at least ${min} characters`);
      return null;
    }
    if (length > max) {
      this.problem(path, `must be at most ${max} characters (got ${length})`);
      return null;
    }
    return value;
  }

  duration(value: unknown, path: string, bounds: DurationBounds): number | null {
    const parsed = parseBoundedDuration(value, bounds);
    if ("error" in parsed) {
      this.problem(path, parsed.error);
      return null;
    }
    return parsed.ms;
  }

  /** A list of unique strings each passing `check`; null when not a list. */
  list(
    value: unknown,
    path: string,
    max: number,
    check: (item: string, path: string) => boolean,
  ): string[] | null {
    if (!Array.isArray(value)) {
      this.problem(path, `must be an array (got ${show(value)})`);
      return null;
    }
    if (value.length > max) this.problem(path, `must have at most ${max} entries`);
    const seen = new Set<string>();
    const items: string[] = [];
    value.forEach((item: unknown, index) => {
      const at = `${path}[${index}]`;
      if (typeof item !== "string") {
        this.problem(at, `must be a string (got ${show(item)})`);
        return;
      }
      if (!check(item, at)) return;
      if (seen.has(item)) this.problem(at, `"${item}" is listed twice`);
      seen.add(item);
      items.push(item);
    });
    return items;
  }

  field(value: unknown, path: string): string | null {
    if (typeof value !== "string" || !isFilterField(value)) {
      this.problem(
        path,
        `must be an event column (${EVENT_COLUMNS.join(", ")}) or attributes.<path> (got ${show(value)})`,
      );
      return null;
    }
    return value;
  }
}

/**
 * Checks the named filters of a correlation aggregate: 2 to 10 of them, each `{ name, filter }` with a name of its
 * own and a valid filter. Returns how many there are, or null when they are not a list of 2 to 10.
 */
function checkNamedFilters(c: Checker, value: unknown, path: string): number | null {
  const { minFilters, maxFilters } = CORRELATION_LIMITS;
  if (!Array.isArray(value)) {
    c.problem(path, `must be a list of ${minFilters} to ${maxFilters} { name, filter } (got ${show(value)})`);
    return null;
  }
  if (value.length < minFilters) {
    c.problem(
      path,
      `must name at least ${minFilters} filters (got ${value.length}): a correlation of one filter is a COUNT of its events`,
    );
  } else if (value.length > maxFilters) {
    c.problem(path, `must name at most ${maxFilters} filters (got ${value.length})`);
  }
  const names = new Set<string>();
  value.forEach((item: unknown, index) => {
    const at = `${path}[${index}]`;
    if (!isRecord(item)) {
      c.problem(at, `must be an object { name, filter } (got ${show(item)})`);
      return;
    }
    c.keys(item, ["name", "filter"], at);
    if (!has(item, "name")) c.problem(`${at}.name`, "is required");
    else if (c.text(item.name, `${at}.name`, 1, CORRELATION_LIMITS.name) !== null) {
      if (names.has(item.name as string)) c.problem(`${at}.name`, `"${String(item.name)}" is named twice`);
      names.add(item.name as string);
    }
    if (!has(item, "filter")) c.problem(`${at}.filter`, "is required");
    else {
      for (const problem of validateFilter(item.filter)) {
        c.problem(`${at}.filter${problem.path.replace(/^\$/, "")}`, problem.message);
      }
    }
  });
  return value.length >= minFilters && value.length <= maxFilters ? value.length : null;
}

/**
 * Checks `summarize.aliases`: at most RULE_LIMITS.summarizeAliases of `{ name, cases }`, each name a word that is
 * no event column, each case `{ when, field }` with a valid filter and field. Returns the names of the aliases.
 */
function checkAliases(c: Checker, value: unknown, path: string): string[] {
  const max = RULE_LIMITS.summarizeAliases;
  if (!Array.isArray(value)) {
    c.problem(path, `must be a list of { name, cases } (got ${show(value)})`);
    return [];
  }
  if (value.length > max) c.problem(path, `must have at most ${max} entries`);
  const names: string[] = [];
  value.forEach((alias: unknown, index) => {
    const at = `${path}[${index}]`;
    if (!isRecord(alias)) return c.problem(at, `must be an object { name, cases } (got ${show(alias)})`);
    c.keys(alias, ["name", "cases"], at);
    const name = alias.name;
    if (!has(alias, "name")) c.problem(`${at}.name`, "is required");
    else if (typeof name !== "string" || !ALIAS_NAME.test(name) || isFilterField(name)) {
      c.problem(
        `${at}.name`,
        `must be a word of letters, digits, _ and - (at most 64) that is not an event column (got ${show(name)})`,
      );
    } else if (names.includes(name)) c.problem(`${at}.name`, `"${name}" is named twice`);
    else names.push(name);
    const cases = alias.cases;
    if (!Array.isArray(cases) || cases.length === 0 || cases.length > max) {
      c.problem(`${at}.cases`, `must be a list of 1 to ${max} { when, field } (got ${show(cases)})`);
      return;
    }
    cases.forEach((item: unknown, k) => {
      const where = `${at}.cases[${k}]`;
      if (!isRecord(item)) return c.problem(where, `must be an object { when, field } (got ${show(item)})`);
      c.keys(item, ["when", "field"], where);
      if (!has(item, "when")) c.problem(`${where}.when`, "is required");
      else {
        for (const problem of validateFilter(item.when)) {
          c.problem(`${where}.when${problem.path.replace(/^\$/, "")}`, problem.message);
        }
      }
      if (!has(item, "field")) c.problem(`${where}.field`, "is required");
      else c.field(item.field, `${where}.field`);
    });
  });
  return names;
}

/** What checkSummarize found out: the `by` fields when usable for entity mappings, and a correlation's size. */
interface SummarizeFacts {
  by: string[] | null;
  /** The number of named filters of a correlation aggregate (null otherwise, or when they are not a list). */
  filters: number | null;
  aggregate: SummarizeAggregate | null;
  /** The sliding window in milliseconds, when there is a valid one. */
  windowMs: number | null;
}

/** Checks `summarize`. */
function checkSummarize(c: Checker, value: unknown, kind: RuleKind | null): SummarizeFacts {
  const path = "summarize";
  if (kind === "NRT") {
    c.problem(
      path,
      "NRT rules cannot summarize: they evaluate each event as it arrives (use a SCHEDULED rule)",
    );
  }
  if (!isRecord(value)) {
    c.problem(
      path,
      `must be an object { by, aggregate, field?, filters?, window?, aliases? } (got ${show(value)})`,
    );
    return { by: null, filters: null, aggregate: null, windowMs: null };
  }
  c.keys(value, ["by", "aggregate", "field", "filters", "window", "aliases"], path);
  const aliases = has(value, "aliases") ? checkAliases(c, value.aliases, `${path}.aliases`) : [];
  // `by` and `field` name a field, or an alias of one.
  const field = (item: unknown, at: string) =>
    (typeof item === "string" && aliases.includes(item)) || c.field(item, at) !== null;
  let by: string[] | null = null;
  if (!has(value, "by")) c.problem(`${path}.by`, "is required (use [] to aggregate all results together)");
  else by = c.list(value.by, `${path}.by`, RULE_LIMITS.summarizeBy, field);
  const aggregate = has(value, "aggregate")
    ? c.oneOf(value.aggregate, SUMMARIZE_AGGREGATES, `${path}.aggregate`)
    : (c.problem(`${path}.aggregate`, "is required"), null);
  if (aggregate === "DISTINCT_COUNT") {
    if (!has(value, "field"))
      c.problem(`${path}.field`, "is required for DISTINCT_COUNT (the field to count values of)");
    else if (field(value.field, `${path}.field`) && by?.includes(value.field as string)) {
      c.problem(`${path}.field`, "counting distinct values of a `by` field always gives 1");
    }
  } else if (aggregate !== null && has(value, "field")) {
    c.problem(
      `${path}.field`,
      aggregate === "COUNT"
        ? "only DISTINCT_COUNT takes a field (COUNT counts result rows)"
        : `only DISTINCT_COUNT takes a field (${aggregate} counts the filters that matched)`,
    );
  }
  let filters: number | null = null;
  if (isCorrelationAggregate(aggregate)) {
    if (!has(value, "filters"))
      c.problem(
        `${path}.filters`,
        `is required for ${aggregate}: the ${CORRELATION_LIMITS.minFilters} to ${CORRELATION_LIMITS.maxFilters} named filters it correlates`,
      );
    else filters = checkNamedFilters(c, value.filters, `${path}.filters`);
  } else if (aggregate !== null && has(value, "filters")) {
    c.problem(
      `${path}.filters`,
      `only ${CORRELATION_AGGREGATES.join(" and ")} take filters (${aggregate} aggregates the events of \`filter\`)`,
    );
  }
  let windowMs: number | null = null;
  if (has(value, "window")) {
    if (aggregate !== null && aggregate !== "COUNT" && aggregate !== "DISTINCT_COUNT")
      c.problem(
        `${path}.window`,
        `only COUNT and DISTINCT_COUNT slide (${aggregate} correlates the filters over the run's period)`,
      );
    else windowMs = c.duration(value.window, `${path}.window`, SLIDING_WINDOW_BOUNDS);
  }
  return { by, filters, aggregate, windowMs };
}

/** Whether some number of matched filters from 0 to `n` meets the trigger. */
function reachable(operator: TriggerOperator, threshold: number, n: number): boolean {
  for (let k = 0; k <= n; k++) {
    if (
      operator === "GT"
        ? k > threshold
        : operator === "GTE"
          ? k >= threshold
          : operator === "LT"
            ? k < threshold
            : operator === "LTE"
              ? k <= threshold
              : operator === "EQ"
                ? k === threshold
                : k !== threshold
    )
      return true;
  }
  return false;
}

/**
 * Checks a KQL rule's `query` as far as it can be without the tenant's data: the form (SCHEDULED, neither
 * `filter` nor `summarize`) and the syntax. The service compiles it against the tenant's watchlists too.
 */
function checkQuery(c: Checker, spec: Record_, kind: RuleKind | null, threatIntelligence: boolean): void {
  // A rule that cannot have a query at all has that one fault: how its query would combine with the rest is moot.
  if (kind === "NRT") {
    c.problem(
      "query",
      "NRT rules take the structured filter only (they test each event as it arrives): a KQL query runs as a SCHEDULED rule",
    );
    return;
  }
  if (threatIntelligence) {
    c.problem("query", "threat-intelligence rules select their events with a filter, not a KQL query");
    return;
  }
  if (has(spec, "filter"))
    c.problem(
      "filter",
      "a rule is either a filter (with an optional summarize) or a KQL query: give one of them",
    );
  if (has(spec, "summarize"))
    c.problem("summarize", "a KQL rule summarizes in its query (`| summarize n = count() by src_ip`)");
  const text = c.text(spec.query, "query", 1, KQL_LIMITS.maxQueryLength);
  if (text === null) return;
  try {
    parseKql(text);
  } catch (err) {
    if (!(err instanceof KqlError)) throw err;
    const where = err.position ? `line ${err.position.line}, column ${err.position.column}: ` : "";
    c.problem("query", `${where}${err.message}`);
  }
}

function checkSpec(c: Checker, spec: unknown): void {
  if (!isRecord(spec)) {
    c.problem("", `a rule must be an object (got ${show(spec)})`);
    return;
  }
  c.keys(spec, TOP_LEVEL_KEYS, "");

  const kind = has(spec, "kind")
    ? c.oneOf(spec.kind, RULE_KINDS, "kind")
    : (c.problem("kind", "is required"), null);
  if (has(spec, "displayName")) c.text(spec.displayName, "displayName", 1, RULE_LIMITS.displayName);
  else c.problem("displayName", "is required");
  if (has(spec, "description")) c.text(spec.description, "description", 0, RULE_LIMITS.description);
  else c.problem("description", "is required");
  if (has(spec, "severity")) c.oneOf(spec.severity, RULE_SEVERITIES, "severity");
  else c.problem("severity", "is required");
  c.boolean(spec, "enabled", "", false);
  c.boolean(spec, "alertPerResult", "", false);
  const threatIntelligence = c.boolean(spec, "threatIntelligence", "", false);
  if (c.boolean(spec, "severityFromConfidence", "", false) !== null && threatIntelligence !== true)
    c.problem(
      "severityFromConfidence",
      "only threat-intelligence rules (threatIntelligence: true) take it: other rules' alerts have the rule's severity",
    );
  if (threatIntelligence === true && kind !== null && kind !== "NRT")
    c.problem(
      "threatIntelligence",
      "threat-intelligence rules are NRT: they match each event as it arrives (and stored events once indicators arrive)",
    );
  if (threatIntelligence === true && has(spec, "summarize"))
    c.problem(
      "summarize",
      "threat-intelligence rules raise an alert per indicator match: they take no summarize",
    );

  const kql = has(spec, "query");
  if (kql) checkQuery(c, spec, kind, threatIntelligence === true);
  else if (!has(spec, "filter"))
    c.problem("filter", "is required (or, for a SCHEDULED rule, a KQL `query` instead)");
  else {
    for (const problem of validateFilter(spec.filter)) {
      c.problem(`filter${problem.path.replace(/^\$/, "")}`, problem.message);
    }
  }

  let by: string[] | null = null;
  let summarized: SummarizeFacts | null = null;
  if (has(spec, "summarize") && !kql) {
    summarized = checkSummarize(c, spec.summarize, kind);
    by = summarized.by;
  }
  if (isCorrelationAggregate(summarized?.aggregate) && !has(spec, "trigger")) {
    // The default GT 0 would fire on any one filter: say how many must match rather than guess.
    c.problem(
      "trigger",
      `is required with ${String(summarized!.aggregate)}: how many of the filters must match (GTE and their number for all of them)`,
    );
  }

  if (has(spec, "trigger")) {
    const trigger = spec.trigger;
    if (!isRecord(trigger))
      c.problem("trigger", `must be an object { operator, threshold } (got ${show(trigger)})`);
    else {
      c.keys(trigger, ["operator", "threshold"], "trigger");
      if (has(trigger, "operator")) c.oneOf(trigger.operator, TRIGGER_OPERATORS, "trigger.operator");
      else c.problem("trigger.operator", "is required");
      const threshold = trigger.threshold;
      if (!has(trigger, "threshold")) c.problem("trigger.threshold", "is required");
      else if (typeof threshold !== "number" || !Number.isSafeInteger(threshold) || threshold < 0) {
        c.problem("trigger.threshold", `must be a whole number ≥ 0 (got ${show(threshold)})`);
      } else if (
        summarized?.filters != null &&
        (TRIGGER_OPERATORS as readonly unknown[]).includes(trigger.operator) &&
        !reachable(trigger.operator as TriggerOperator, threshold, summarized.filters)
      ) {
        c.problem(
          "trigger.threshold",
          `${String(trigger.operator)} ${threshold} can never be met: from 0 to ${summarized.filters} of the ${summarized.filters} filters match`,
        );
      } else if (
        summarized?.windowMs != null &&
        (TRIGGER_OPERATORS as readonly unknown[]).includes(trigger.operator) &&
        trigger.operator !== "GT" &&
        trigger.operator !== "GTE"
      ) {
        // Every group has a window of just its newest event, and a group with no event is in no scan.
        c.problem(
          "trigger.operator",
          `a sliding summarize.window takes GT or GTE: "${String(trigger.operator)} within some window" holds for any group with one event and is never seen for a group with none`,
        );
      } else if (
        kind === "NRT" &&
        (TRIGGER_OPERATORS as readonly unknown[]).includes(trigger.operator) &&
        !(trigger.operator === "GT" && threshold === 0) &&
        !(trigger.operator === "GTE" && threshold === 1)
      ) {
        // As in Sentinel, an NRT rule has no threshold: it sees the events of one ingest batch at a time, so
        // "more than 5" would depend on how a sender happened to batch its events.
        c.problem(
          "trigger",
          "NRT rules fire on every matching event (GT 0): a threshold would count whatever one ingest batch holds; use a SCHEDULED rule for thresholds",
        );
      }
    }
  }

  // Timings: SCHEDULED needs both, NRT has neither (it runs every minute over what arrived).
  for (const name of ["queryFrequency", "queryPeriod"] as const) {
    if (kind === "NRT" && has(spec, name)) {
      c.problem(name, "NRT rules have no schedule: they evaluate events as they arrive (remove it)");
    } else if (kind === "SCHEDULED" && !has(spec, name)) {
      c.problem(name, "is required for SCHEDULED rules (an ISO 8601 duration such as PT5M)");
    }
  }
  if (kind !== "NRT") {
    const frequency = has(spec, "queryFrequency")
      ? c.duration(spec.queryFrequency, "queryFrequency", QUERY_FREQUENCY_BOUNDS)
      : null;
    const period = has(spec, "queryPeriod")
      ? c.duration(spec.queryPeriod, "queryPeriod", QUERY_PERIOD_BOUNDS)
      : null;
    if (frequency !== null && period !== null && period < frequency) {
      c.problem(
        "queryPeriod",
        `must be at least queryFrequency (${String(spec.queryFrequency)}), or events between runs are never seen`,
      );
    }
    if (summarized?.windowMs != null && period !== null && summarized.windowMs > period) {
      c.problem(
        "summarize.window",
        `must be at most queryPeriod (${String(spec.queryPeriod)}): a run anchors windows at the events of its period`,
      );
    }
  }

  const isTactic = (item: string, at: string) =>
    (MITRE_TACTICS as readonly string[]).includes(item) ||
    (c.problem(at, `unknown MITRE ATT&CK tactic "${item}" (expected one of ${MITRE_TACTICS.join(", ")})`),
    false);
  if (has(spec, "tactics")) c.list(spec.tactics, "tactics", RULE_LIMITS.tactics, isTactic);
  const isTechnique = (item: string, at: string) =>
    TECHNIQUE_ID_PATTERN.test(item) ||
    (c.problem(at, `must be a MITRE ATT&CK technique id like T1110 or T1110.003 (got "${item}")`), false);
  if (has(spec, "techniques")) c.list(spec.techniques, "techniques", RULE_LIMITS.techniques, isTechnique);

  const mapped = new Set<EntityType>();
  if (has(spec, "entityMappings")) {
    const mappings = spec.entityMappings;
    if (!Array.isArray(mappings)) c.problem("entityMappings", `must be an array (got ${show(mappings)})`);
    else {
      if (mappings.length > RULE_LIMITS.entityMappings) {
        c.problem("entityMappings", `must have at most ${RULE_LIMITS.entityMappings} entries`);
      }
      const seen = new Set<string>();
      mappings.forEach((mapping: unknown, index) => {
        const at = `entityMappings[${index}]`;
        if (!isRecord(mapping)) {
          c.problem(at, `must be an object { entityType, field } (got ${show(mapping)})`);
          return;
        }
        c.keys(mapping, ["entityType", "field"], at);
        const type = has(mapping, "entityType")
          ? c.oneOf(mapping.entityType, ENTITY_TYPES, `${at}.entityType`)
          : (c.problem(`${at}.entityType`, "is required"), null);
        if (type) mapped.add(type);
        const field = mapping.field;
        if (!has(mapping, "field")) c.problem(`${at}.field`, "is required");
        else if (kql) {
          // A column of the query's result, known only when it runs: a column it lacks maps nothing.
          c.text(field, `${at}.field`, 1, RULE_LIMITS.displayName);
        } else if (has(spec, "summarize")) {
          // A summarised rule's results are its groups: only the `by` fields are there to read entities from.
          if (by !== null && (typeof field !== "string" || !by.includes(field))) {
            c.problem(
              `${at}.field`,
              `a summarised rule's results have only its summarize.by fields (${by.join(", ") || "none"}) (got ${show(field)})`,
            );
          }
        } else if (c.field(field, `${at}.field`) !== null) {
          const pair = `${String(type)} ${String(field)}`;
          if (seen.has(pair)) c.problem(at, `${String(type)} is already mapped from ${String(field)}`);
          seen.add(pair);
        }
      });
    }
  }

  if (has(spec, "suppression")) {
    const suppression = spec.suppression;
    if (!isRecord(suppression))
      c.problem("suppression", `must be an object { enabled, duration } (got ${show(suppression)})`);
    else {
      c.keys(suppression, ["enabled", "duration"], "suppression");
      const enabled = c.boolean(suppression, "enabled", "suppression", true);
      if (has(suppression, "duration")) {
        c.duration(suppression.duration, "suppression.duration", SUPPRESSION_DURATION_BOUNDS);
      } else if (enabled) {
        c.problem("suppression.duration", "is required when suppression is enabled");
      }
    }
  }

  if (has(spec, "incidentGrouping")) {
    const grouping = spec.incidentGrouping;
    const path = "incidentGrouping";
    if (!isRecord(grouping)) c.problem(path, `must be an object (got ${show(grouping)})`);
    else {
      c.keys(
        grouping,
        ["enabled", "matchingMethod", "selectedEntityTypes", "lookbackDuration", "reopenClosedIncident"],
        path,
      );
      c.boolean(grouping, "enabled", path, false);
      c.boolean(grouping, "reopenClosedIncident", path, false);
      const method = has(grouping, "matchingMethod")
        ? c.oneOf(grouping.matchingMethod, INCIDENT_MATCHING_METHODS, `${path}.matchingMethod`)
        : "ALL_ENTITIES";
      if (has(grouping, "lookbackDuration")) {
        c.duration(grouping.lookbackDuration, `${path}.lookbackDuration`, LOOKBACK_DURATION_BOUNDS);
      }
      const selectedPath = `${path}.selectedEntityTypes`;
      if (method === "SELECTED") {
        if (!has(grouping, "selectedEntityTypes")) {
          c.problem(
            selectedPath,
            "is required when matchingMethod is SELECTED (the entity types that must match)",
          );
        } else {
          const types = c.list(
            grouping.selectedEntityTypes,
            selectedPath,
            ENTITY_TYPES.length,
            (item, at) => {
              if (c.oneOf(item, ENTITY_TYPES, at) === null) return false;
              if (
                has(spec, "entityMappings") &&
                Array.isArray(spec.entityMappings) &&
                !mapped.has(item as EntityType)
              ) {
                c.problem(at, `${item} is not mapped by entityMappings, so no alert of this rule has it`);
              }
              return true;
            },
          );
          if (types !== null && types.length === 0)
            c.problem(selectedPath, "must name at least one entity type");
        }
      } else if (method !== null && has(grouping, "selectedEntityTypes")) {
        c.problem(selectedPath, "only applies when matchingMethod is SELECTED");
      }
    }
  }
}

/**
 * Every problem of a rule definition (a RuleSpec, or a RuleSpecInput leaving defaults out), with paths like
 * `queryPeriod`, `filter.all[0].op`, `entityMappings[1].field`; empty when valid. Never throws.
 */
export function validateRuleSpec(spec: unknown): RuleProblem[] {
  const checker = new Checker();
  try {
    checkSpec(checker, spec);
    // A valid definition is stored as jsonb, which refuses NUL and unpaired surrogates (in a name, a description…).
    const fault = checker.problems.length ? null : jsonProblem(spec);
    if (fault) checker.problem(fault.path, fault.message);
  } catch (error) {
    checker.problem("", `cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  return checker.problems;
}

/**
 * A complete RuleSpec from a valid definition, with defaults filled: enabled true, trigger GT 0, no tactics,
 * techniques or entity mappings, one alert per run, suppression off (duration PT5H), incident grouping off with
 * ALL_ENTITIES over PT5H without reopening. Returns a new object (lists copied); validate first.
 */
export function normalizeRuleSpec(spec: RuleSpecInput): RuleSpec {
  const grouping = spec.incidentGrouping ?? {};
  const matchingMethod = grouping.matchingMethod ?? "ALL_ENTITIES";
  const normalized: RuleSpec = {
    kind: spec.kind,
    displayName: spec.displayName,
    description: spec.description,
    severity: spec.severity,
    enabled: spec.enabled ?? true,
    ...(spec.query !== undefined ? { query: spec.query } : { filter: spec.filter }),
    trigger: { operator: spec.trigger?.operator ?? "GT", threshold: spec.trigger?.threshold ?? 0 },
    tactics: [...(spec.tactics ?? [])],
    techniques: [...(spec.techniques ?? [])],
    entityMappings: (spec.entityMappings ?? []).map((m) => ({ entityType: m.entityType, field: m.field })),
    alertPerResult: spec.alertPerResult ?? false,
    suppression: {
      enabled: spec.suppression?.enabled ?? false,
      duration: spec.suppression?.duration ?? DEFAULT_SUPPRESSION_DURATION,
    },
    incidentGrouping: {
      enabled: grouping.enabled ?? false,
      matchingMethod,
      ...(matchingMethod === "SELECTED"
        ? { selectedEntityTypes: [...(grouping.selectedEntityTypes ?? [])] }
        : {}),
      lookbackDuration: grouping.lookbackDuration ?? DEFAULT_LOOKBACK_DURATION,
      reopenClosedIncident: grouping.reopenClosedIncident ?? false,
    },
  };
  if (spec.summarize) {
    normalized.summarize = {
      by: [...spec.summarize.by],
      aggregate: spec.summarize.aggregate,
      ...(spec.summarize.field !== undefined ? { field: spec.summarize.field } : {}),
      ...(spec.summarize.filters !== undefined
        ? { filters: spec.summarize.filters.map((f) => ({ name: f.name, filter: f.filter })) }
        : {}),
      ...(spec.summarize.window !== undefined ? { window: spec.summarize.window } : {}),
      ...(spec.summarize.aliases !== undefined
        ? {
            aliases: spec.summarize.aliases.map((a) => ({
              name: a.name,
              cases: a.cases.map((k) => ({ when: k.when, field: k.field })),
            })),
          }
        : {}),
    };
  }
  if (spec.kind === "SCHEDULED") {
    if (spec.queryFrequency !== undefined) normalized.queryFrequency = spec.queryFrequency;
    if (spec.queryPeriod !== undefined) normalized.queryPeriod = spec.queryPeriod;
  }
  if (spec.threatIntelligence !== undefined) normalized.threatIntelligence = spec.threatIntelligence;
  if (spec.severityFromConfidence !== undefined)
    normalized.severityFromConfidence = spec.severityFromConfidence;
  return normalized;
}

/**
 * Every filter of a rule (to find the watchlists they use), by its path: its own, each named filter's of a
 * correlation, each case's of an alias.
 */
export function filtersOfRule(
  spec: Pick<RuleSpec, "filter" | "summarize">,
): Array<{ path: string; filter: unknown }> {
  return [
    ...(spec.filter !== undefined ? [{ path: "filter", filter: spec.filter }] : []),
    ...(spec.summarize?.filters ?? []).map((f, i) => ({
      path: `summarize.filters[${i}].filter`,
      filter: f.filter,
    })),
    ...(spec.summarize?.aliases ?? []).flatMap((a, i) =>
      a.cases.map((k, j) => ({ path: `summarize.aliases[${i}].cases[${j}].when`, filter: k.when })),
    ),
  ];
}

/** The watchlists a KQL rule's query reads (`_GetWatchlist('vip')`), lower case; none for a filter rule. */
export function watchlistAliasesOfQuery(spec: Pick<RuleSpec, "query">): string[] {
  return spec.query === undefined ? [] : watchlistAliasesOf(parseKql(spec.query));
}
