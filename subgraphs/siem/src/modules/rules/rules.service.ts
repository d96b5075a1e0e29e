import type { EntityManager } from "typeorm";
import {
  containsPattern,
  addJob,
  BadUserInputError,
  ConflictError,
  byIdLoader,
  isUuid,
  newId,
  NotFoundError,
  removeJob,
  textProblem,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { Connection } from "../../../../common/src";
import { HUNT_LIMITS, HuntQueryError, prepareHunt } from "../hunting/hunt-runner";
import { requireWatchlists, type WatchlistUse } from "../hunting/watchlist-cache";
import { parseIsoDuration } from "./durations";
import { watchlistAliasesOfFilter } from "./rule-filter";
import type { StoredRule } from "./rule-runner";
import {
  filtersOfRule,
  normalizeRuleSpec,
  validateRuleSpec,
  watchlistAliasesOfQuery,
  type RuleSpec,
  type RuleSpecInput,
} from "./rule-spec";
import { ruleSpecFromInput, type AnalyticsRuleFilter, type AnalyticsRuleInput } from "./rules.inputs";
import { AnalyticsRule, RuleTemplate, SigmaRuleSource } from "./rules.types";
import { loadRuleTemplates } from "./templates";

/** The watchlist aliases each filter of a rule names (a correlation's named filters too), or its query, by path. */
const watchlistsOf = (spec: RuleSpec): WatchlistUse[] => [
  ...filtersOfRule(spec).map(({ path, filter }) => ({
    field: path,
    aliasKeys: watchlistAliasesOfFilter(filter),
  })),
  { field: "query", aliasKeys: watchlistAliasesOfQuery(spec) },
];

/** A page of analytics rules. */
export const AnalyticsRuleConnection = Connection(AnalyticsRule);
export type AnalyticsRuleConnection = InstanceType<typeof AnalyticsRuleConnection>;

/** An analytics rule from its `analytics_rules` row. */
export function ruleFromRow(row: Record<string, unknown>): AnalyticsRule {
  const spec = row.spec as RuleSpec;
  return Object.assign(new AnalyticsRule(), {
    id: row.id,
    templateId: row.template_id ?? null,
    kind: row.kind,
    displayName: spec.displayName,
    description: spec.description,
    severity: spec.severity,
    enabled: row.enabled,
    version: row.version,
    tactics: spec.tactics,
    techniques: spec.techniques,
    queryFrequency: spec.queryFrequency ?? null,
    queryPeriod: spec.queryPeriod ?? null,
    query: spec.query ?? null,
    spec: spec as unknown as Record<string, unknown>,
    sigma: row.sigma_id
      ? Object.assign(new SigmaRuleSource(), { id: row.sigma_id, yaml: row.sigma_yaml })
      : null,
    lastRunAt: row.last_run_at ?? null,
    lastFiredAt: row.last_fired_at ?? null,
    suppressedUntil: row.suppressed_until ?? null,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  });
}

/** Rows of `analytics_rules` as the runner takes them. */
export function storedRuleFromRow(row: Record<string, unknown>): StoredRule {
  return {
    id: row.id as string,
    version: Number(row.version),
    spec: row.spec as RuleSpec,
    suppressedUntil: (row.suppressed_until as Date | null) ?? null,
  };
}

/**
 * The rules an ingest batch applies (one statement per batch): the tenant's enabled near-real-time rules, and
 * every threat-intelligence rule, enabled or not (a tenant whose TI rules are all disabled gets no TI alerts, one
 * without any gets the built-in TI rule: see intel/ti-matcher.ts `applicableTiRules`).
 */
export async function ingestRules(
  m: EntityManager,
  tenantId: string,
): Promise<Array<StoredRule & { enabled: boolean }>> {
  const rows: Array<Record<string, unknown>> = await m.query(
    `SELECT * FROM analytics_rules
     WHERE tenant_id = $1 AND ((kind = 'NRT' AND enabled) OR spec @> '{"threatIntelligence": true}')`,
    [tenantId],
  );
  return rows.map((row) => ({ ...storedRuleFromRow(row), enabled: row.enabled === true }));
}

/**
 * How long after the end of its window a scheduled run starts: events reach the store a little after they
 * happen (shipping, batching), and a window that is evaluated the moment it ends would miss those of its last
 * seconds for good when queryPeriod equals queryFrequency (the next window starts where it ended).
 */
export const RULE_RUN_GRACE_MS = 60_000;

/** The job key of a scheduled rule's pending run (one per rule). */
export const ruleJobKey = (ruleId: string) => `rule:${ruleId}`;

/** A rule's queryFrequency in milliseconds. */
export function frequencyMs(spec: RuleSpec): number {
  const frequency = parseIsoDuration(spec.queryFrequency ?? "PT1H");
  return "ms" in frequency ? frequency.ms : 3600_000;
}

/** A scheduled rule's queryPeriod in milliseconds. */
function periodMs(spec: RuleSpec): number {
  const period = parseIsoDuration(spec.queryPeriod ?? "PT1H");
  return "ms" in period ? period.ms : 3600_000;
}

/**
 * Schedules the run of a scheduled rule over the window ending at `windowEnd` (replacing any pending run) in the
 * caller's transaction. The run starts RULE_RUN_GRACE_MS after the window ends and covers exactly
 * [windowEnd − queryPeriod, windowEnd), whenever a worker gets to it; each run schedules the next window
 * (windowEnd + queryFrequency), so windows follow each other without gaps, also after the workers were down.
 */
export async function scheduleRuleRun(
  m: EntityManager,
  tenantId: string,
  ruleId: string,
  windowEnd: Date,
): Promise<void> {
  await addJob(
    m,
    "siem",
    "rule_run",
    { tenantId, ruleId, windowEnd: windowEnd.toISOString() },
    { runAt: new Date(windowEnd.getTime() + RULE_RUN_GRACE_MS), jobKey: ruleJobKey(ruleId) },
  );
}

/** Analytics rules: templates, creation, changes (ADMIN). */
export class RulesService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  templates(): RuleTemplate[] {
    return loadRuleTemplates().map((t) =>
      Object.assign(new RuleTemplate(), {
        id: t.id,
        version: t.version,
        displayName: t.displayName,
        description: t.description,
        kind: t.kind,
        severity: t.severity,
        tactics: t.tactics,
        techniques: t.techniques,
        spec: { ...t, id: undefined, version: undefined },
      }),
    );
  }

  /**
   * The tenant's rules in id order (creation order), filtered, one statement per page (and one for
   * `totalCount` when asked). Bad filter values are BAD_USER_INPUT.
   */
  async list(args: PageArgs, filter?: AnalyticsRuleFilter | null): Promise<AnalyticsRuleConnection> {
    const page = toKeysetPage(args, "none");
    const { where, params } = ruleFilterSql(this.identity.tenantId, filter);
    const pageParams = [...params, page.first + 1];
    let after = "";
    if (page.after) {
      pageParams.push(page.after[1]);
      after = ` AND id > $${pageParams.length}::uuid`;
    }
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT * FROM analytics_rules WHERE ${where}${after} ORDER BY id LIMIT $${params.length + 1}`,
        pageParams,
      ),
    );
    return AnalyticsRuleConnection.from({
      rows: rows.map(ruleFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM analytics_rules WHERE ${where}`, params),
            )
          )[0].n,
        ),
      cursorOf: (r) => [null, r.id],
    });
  }

  /**
   * Deletes a rule (ADMIN): its pending scheduled run goes with it; its alerts and incidents stay (they keep
   * the title and details they were raised with). CONFLICT while an automation rule is limited to it (deleting
   * it would leave that rule's condition naming nothing).
   */
  async delete(id: string): Promise<AnalyticsRule> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid rule id.", [{ field: "id", message: "must be a UUID" }]);
    return this.db.write(async (m) => {
      const [row]: Array<Record<string, unknown>> = await m.query(
        `SELECT * FROM analytics_rules WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [this.identity.tenantId, id],
      );
      if (!row) throw new NotFoundError("Analytics rule", id);
      const rule = ruleFromRow(row);
      const users: Array<{ name: string }> = await m.query(
        `SELECT name FROM automation_rules WHERE tenant_id = $1 AND $2::uuid = ANY (analytics_rule_ids) ORDER BY name`,
        [this.identity.tenantId, id],
      );
      if (users.length)
        throw new ConflictError(
          `Analytics rule "${rule.displayName}" is named by automation rules ${users.map((u) => `"${u.name}"`).join(", ")}: remove it from them first.`,
        );
      await m.query(`DELETE FROM analytics_rules WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        id,
      ]);
      await removeJob(m, "siem", ruleJobKey(id));
      await writeAudit(m, this.identity, [
        {
          action: "rules.rule.deleted",
          target: `rule:${id}`,
          // The whole definition: what ran until now can still be told after the row is gone.
          details: { displayName: rule.displayName, version: rule.version, spec: row.spec },
        },
      ]);
      await writeOutbox(m, [
        {
          tenantId: this.identity.tenantId,
          topic: "rules.rule.deleted",
          key: id,
          payload: { id, kind: rule.kind, enabled: false },
        },
      ]);
      return rule;
    });
  }

  /** Rules by id, batched (one statement per batch): the rule an alert names; null once it is deleted. */
  readonly byIds = byIdLoader<AnalyticsRule>((ids) =>
    this.db
      .read((m): Promise<Array<Record<string, unknown>>> =>
        m.query(`SELECT * FROM analytics_rules WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
          this.identity.tenantId,
          ids.filter(isUuid),
        ]),
      )
      .then((rows) => rows.map(ruleFromRow)),
  );

  async byId(id: string): Promise<AnalyticsRule | null> {
    if (!isUuid(id)) return null;
    const rows = await this.db.read((m) =>
      m.query(`SELECT * FROM analytics_rules WHERE tenant_id = $1 AND id = $2`, [this.identity.tenantId, id]),
    );
    return rows.length ? ruleFromRow(rows[0]) : null;
  }

  /**
   * Creates a rule from a definition — typed `input` or JSON `spec`, exactly one — or from a template or a saved
   * hunting query (not both), whose definition the one given (if any) overrides field by field. A hunting query
   * gives a SCHEDULED rule its KQL text as `query` (a copy: later edits of the hunt leave the rule alone), and its
   * name, description and MITRE tags as defaults; the definition given may not bring its own `query` or `filter`.
   */
  async create(
    given: GivenDefinition,
    templateId: string | null | undefined,
    fromHuntingQueryId?: string | null,
  ): Promise<AnalyticsRule> {
    const fromHunt = fromHuntingQueryId !== null && fromHuntingQueryId !== undefined;
    if (templateId && fromHunt)
      throw new BadUserInputError(
        "Start from a template or from a hunting query, not both; nothing was stored.",
        [
          { field: "templateId", message: "given together with fromHuntingQueryId: send one of them" },
          { field: "fromHuntingQueryId", message: "given together with templateId: send one of them" },
        ],
      );
    const template = templateId ? loadRuleTemplates().find((t) => t.id === templateId) : undefined;
    if (templateId && !template)
      throw new BadUserInputError("Unknown template.", [
        { field: "templateId", message: `no template "${templateId}"` },
      ]);
    const spec = definitionGiven(given, template || fromHunt ? "given" : "absent");
    if (fromHunt) refuseOwnQuery(spec);
    const merged = template ? { ...stripTemplate(template), ...((spec ?? {}) as object) } : spec;
    return this.db.write(async (m) => {
      const normalized = this.validated(
        fromHunt
          ? { ...(await this.huntDefinition(m, fromHuntingQueryId)), ...((spec ?? {}) as object) }
          : merged,
      );
      await requireWatchlists(m, this.identity.tenantId, watchlistsOf(normalized));
      await this.compiles(m, normalized);
      const id = newId();
      const [row] = await m.query(
        `INSERT INTO analytics_rules (tenant_id, id, template_id, kind, enabled, spec, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *`,
        [
          this.identity.tenantId,
          id,
          templateId ?? null,
          normalized.kind,
          normalized.enabled,
          JSON.stringify(normalized),
          this.identity.subject,
        ],
      );
      await this.changed(
        m,
        id,
        normalized,
        "rules.rule.created",
        null,
        fromHunt ? { fromHuntingQueryId } : undefined,
      );
      return ruleFromRow(row);
    });
  }

  /**
   * The definition a saved hunting query of the caller's tenant stands for, read in the creating transaction:
   * NOT_FOUND for an id that is not one (malformed, unknown or another tenant's alike, so nothing tells them apart).
   */
  private async huntDefinition(m: EntityManager, id: string): Promise<Record<string, unknown>> {
    const [hunt]: Array<Record<string, unknown>> = isUuid(id)
      ? await m.query(
          `SELECT name, description, query, tactics, techniques FROM hunting_queries WHERE tenant_id = $1 AND id = $2`,
          [this.identity.tenantId, id],
        )
      : [];
    if (!hunt) throw new NotFoundError("Hunting query", id);
    return {
      kind: "SCHEDULED",
      displayName: hunt.name,
      description: hunt.description ?? "",
      query: hunt.query,
      tactics: hunt.tactics ?? [],
      techniques: hunt.techniques ?? [],
    };
  }

  /** Replaces a rule's definition (a new version) with the one given as typed `input` or JSON `spec`. */
  async update(id: string, given: GivenDefinition): Promise<AnalyticsRule> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid rule id.", [{ field: "id", message: "must be a UUID" }]);
    const normalized = this.validated(definitionGiven(given, "not allowed"));
    return this.db.write(async (m) => {
      await requireWatchlists(m, this.identity.tenantId, watchlistsOf(normalized));
      await this.compiles(m, normalized);
      const [previous]: Array<Record<string, unknown>> = await m.query(
        `SELECT kind, enabled, last_run_at FROM analytics_rules WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [this.identity.tenantId, id],
      );
      if (!previous) throw new NotFoundError("Analytics rule", id);
      const rows: Array<Record<string, unknown>> = await m.query(
        `WITH u AS (UPDATE analytics_rules SET kind = $3, enabled = $4, spec = $5, version = version + 1, updated_by = $6, updated_at = now()
                    WHERE tenant_id = $1 AND id = $2 RETURNING *) SELECT * FROM u`,
        [
          this.identity.tenantId,
          id,
          normalized.kind,
          normalized.enabled,
          JSON.stringify(normalized),
          this.identity.subject,
        ],
      );
      if (!rows.length) throw new NotFoundError("Analytics rule", id);
      await this.changed(m, id, normalized, "rules.rule.updated", previous);
      return ruleFromRow(rows[0]);
    });
  }

  /**
   * Compiles a KQL rule's query as a run would (the tenant's watchlists, its regular expressions checked by
   * Postgres): a query that could never run is the rule's BAD_USER_INPUT, with the KQL error's position.
   */
  private async compiles(m: EntityManager, spec: RuleSpec): Promise<void> {
    if (spec.query === undefined) return;
    const now = new Date();
    try {
      await prepareHunt(
        m,
        this.identity.tenantId,
        spec.query,
        { from: new Date(now.getTime() - periodMs(spec)), to: now, now },
        HUNT_LIMITS.maxRows,
      );
    } catch (err) {
      if (!(err instanceof HuntQueryError)) throw err;
      const [problem] = err.extensions.problems as InputProblem[];
      throw new BadUserInputError("Invalid analytics rule; nothing was stored.", [
        { field: "query", message: problem.message },
      ]);
    }
  }

  private validated(spec: unknown): RuleSpec {
    const problems = validateRuleSpec(spec);
    if (problems.length)
      throw new BadUserInputError(
        "Invalid analytics rule; nothing was stored.",
        problems.map((p) => ({ field: p.path || "spec", message: p.message })),
      );
    return normalizeRuleSpec(spec as RuleSpecInput);
  }

  /**
   * Audit, outbox and the rule's schedule after a change. A scheduled rule that was already running keeps its
   * cadence (the next window follows the last one it ran, at the new frequency), so an edit leaves no window
   * unseen; a new or re-enabled one starts a frequency from now; a rule that is disabled or no longer scheduled
   * loses its pending run at once instead of leaving a job behind. The Sigma import calls it for each rule it writes.
   */
  async changed(
    m: EntityManager,
    id: string,
    spec: RuleSpec,
    topic: string,
    previous: Record<string, unknown> | null,
    details?: Record<string, unknown>,
  ): Promise<void> {
    if (spec.kind === "SCHEDULED" && spec.enabled) {
      const running = previous?.kind === "SCHEDULED" && previous.enabled === true;
      const lastWindowEnd = running ? (previous.last_run_at as Date | null) : null;
      const anchor = lastWindowEnd ? lastWindowEnd.getTime() : Date.now();
      await scheduleRuleRun(m, this.identity.tenantId, id, new Date(anchor + frequencyMs(spec)));
    } else if (previous) {
      await removeJob(m, "siem", ruleJobKey(id));
    }
    await writeAudit(m, this.identity, [
      {
        action: topic,
        target: `rule:${id}`,
        details: { displayName: spec.displayName, enabled: spec.enabled, ...details },
      },
    ]);
    await writeOutbox(m, [
      {
        tenantId: this.identity.tenantId,
        topic,
        key: id,
        payload: { id, kind: spec.kind, enabled: spec.enabled },
      },
    ]);
  }
}

/** A rule definition as a mutation received it: the typed `input`, the JSON `spec`, either or neither. */
export interface GivenDefinition {
  input?: AnalyticsRuleInput | null;
  spec?: unknown;
}

/**
 * The plain definition of a mutation, from exactly one of `input` and `spec` (a typed input becomes the object
 * the JSON form would be, so one validation serves both); undefined when neither is given and `template` may
 * stand in for them (create from a template without overrides).
 */
function definitionGiven(given: GivenDefinition, template: "given" | "absent" | "not allowed"): unknown {
  const hasInput = given.input !== null && given.input !== undefined;
  const hasSpec = given.spec !== null && given.spec !== undefined;
  if (hasInput && hasSpec)
    throw new BadUserInputError(
      "Give the rule definition once, as `input` or as `spec`; nothing was stored.",
      [
        { field: "input", message: "given together with spec: send one of them" },
        { field: "spec", message: "given together with input: send one of them" },
      ],
    );
  if (!hasInput && !hasSpec && template !== "given")
    throw new BadUserInputError("A rule definition is required; nothing was stored.", [
      {
        field: "input",
        message:
          template === "absent"
            ? "is required: the definition as typed `input`, as JSON `spec`, or a `templateId`"
            : "is required: the new definition as typed `input` or as JSON `spec`",
      },
    ]);
  return hasInput ? ruleSpecFromInput(given.input!) : given.spec;
}

/** A rule from a hunting query takes the hunt's KQL: a `query` or `filter` of its own is BAD_USER_INPUT. */
function refuseOwnQuery(spec: unknown): void {
  const fields = spec !== null && typeof spec === "object" ? (spec as Record<string, unknown>) : {};
  const own = ["query", "filter"].filter((field) => fields[field] !== null && fields[field] !== undefined);
  if (own.length)
    throw new BadUserInputError("A rule from a hunting query takes the hunt's query; nothing was stored.", [
      ...own.map((field) => ({ field, message: "given together with fromHuntingQueryId: send one of them" })),
      { field: "fromHuntingQueryId", message: `given together with ${own.join(" and ")}: send one of them` },
    ]);
}

function stripTemplate(t: ReturnType<typeof loadRuleTemplates>[number]): Record<string, unknown> {
  const { id: _id, version: _version, ...spec } = t;
  return spec;
}

/** Longest text a rule filter's search and names may hold. */
const MAX_FILTER_TEXT = 200;

/** The WHERE clause (and its parameters, `$1` the tenant) of `analyticsRules`' filter. */
function ruleFilterSql(
  tenantId: string,
  filter: AnalyticsRuleFilter | null | undefined,
): { where: string; params: unknown[] } {
  const params: unknown[] = [tenantId];
  const where = ["tenant_id = $1"];
  const problems: InputProblem[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  const text = (field: keyof AnalyticsRuleFilter, value: string | null | undefined): string | undefined => {
    if (value === null || value === undefined) return undefined;
    const problem =
      value.length < 1 || value.length > MAX_FILTER_TEXT
        ? `must be 1 to ${MAX_FILTER_TEXT} characters`
        : textProblem(value);
    if (problem) problems.push({ field: `filter.${field}`, message: problem });
    return problem ? undefined : value;
  };
  if (filter?.enabled !== null && filter?.enabled !== undefined)
    where.push(`enabled = ${param(filter.enabled)}`);
  if (filter?.kinds) where.push(`kind = ANY (${param(filter.kinds)}::text[])`);
  if (filter?.severities) where.push(`spec->>'severity' = ANY (${param(filter.severities)}::text[])`);
  const search = text("search", filter?.search);
  if (search !== undefined) {
    const pattern = param(containsPattern(search));
    where.push(`(spec->>'displayName' ILIKE ${pattern} OR spec->>'description' ILIKE ${pattern})`);
  }
  const tactic = text("tactic", filter?.tactic);
  if (tactic !== undefined) where.push(`spec->'tactics' ? ${param(tactic)}`);
  const technique = text("technique", filter?.technique);
  if (technique !== undefined) where.push(`spec->'techniques' ? ${param(technique)}`);
  const templateId = text("templateId", filter?.templateId);
  if (templateId !== undefined) where.push(`template_id = ${param(templateId)}`);
  if (filter?.sigma !== null && filter?.sigma !== undefined)
    where.push(filter.sigma ? "sigma_id IS NOT NULL" : "sigma_id IS NULL");
  if (problems.length) throw new BadUserInputError("Invalid analytics rule filter.", problems);
  return { where: where.join(" AND "), params };
}
