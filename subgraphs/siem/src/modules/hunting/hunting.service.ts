import {
  BadUserInputError,
  isUuid,
  newId,
  NotFoundError,
  textProblem,
  writeAudit,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { newestFirstPage } from "./newest-page";
import { MITRE_TACTICS, TECHNIQUE_ID_PATTERN } from "../rules/rule-spec";
import { HUNT_LIMITS, prepareHunt, runHunt, type HuntOptions, type HuntOutcome } from "./hunt-runner";
import {
  HuntColumn,
  type HuntColumnType,
  HuntingQuery,
  HuntingQueryConnection,
  HuntResult,
  HuntStats,
  type CreateHuntingQueryInput,
  type UpdateHuntingQueryInput,
} from "./hunting.types";

/** Limits of a saved hunting query's texts and lists. */
export const HUNTING_QUERY_LIMITS = { name: 256, description: 5000, techniques: 50 } as const;

/** Maps a `hunting_queries` row to the GraphQL object. */
function huntingQueryFromRow(row: Record<string, unknown>): HuntingQuery {
  return Object.assign(new HuntingQuery(), {
    id: row.id,
    name: row.name,
    description: row.description,
    query: row.query,
    tactics: row.tactics ?? [],
    techniques: row.techniques ?? [],
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
    lastRunAt: row.last_run_at ?? null,
    lastResultCount: row.last_result_count ?? null,
  });
}

/** A hunt outcome as the GraphQL result. */
export function huntResult(outcome: HuntOutcome): HuntResult {
  return Object.assign(new HuntResult(), {
    columns: outcome.columns.map((c) =>
      Object.assign(new HuntColumn(), { name: c.name, type: c.type.toUpperCase() as HuntColumnType }),
    ),
    rows: outcome.rows,
    truncated: outcome.truncated,
    warnings: outcome.warnings,
    stats: Object.assign(new HuntStats(), {
      rowCount: outcome.rows.length,
      durationMs: outcome.durationMs,
      from: outcome.from,
      to: outcome.to,
    }),
  });
}

/** Problems of MITRE ATT&CK tags (shared by hunting queries and bookmarks). */
export function mitreProblems(
  tactics: readonly string[] | null | undefined,
  techniques: readonly string[] | null | undefined,
): InputProblem[] {
  const problems: InputProblem[] = [];
  (tactics ?? []).forEach((tactic, index) => {
    if (!(MITRE_TACTICS as readonly string[]).includes(tactic))
      problems.push({ index, field: "tactics", message: `unknown tactic (use ${MITRE_TACTICS.join(", ")})` });
  });
  if ((techniques ?? []).length > HUNTING_QUERY_LIMITS.techniques)
    problems.push({ field: "techniques", message: `at most ${HUNTING_QUERY_LIMITS.techniques}` });
  (techniques ?? []).forEach((technique, index) => {
    if (!TECHNIQUE_ID_PATTERN.test(technique))
      problems.push({
        index,
        field: "techniques",
        message: "must be a technique id such as T1110 or T1110.003",
      });
  });
  return problems;
}

/** Problems of a display text: `max` characters, `required` non-blank, storable. */
export function textProblems(
  field: string,
  value: string | null | undefined,
  max: number,
  required: boolean,
): InputProblem[] {
  if (value === null || value === undefined) return required ? [{ field, message: "is required" }] : [];
  if (required && !value.trim()) return [{ field, message: "must not be blank" }];
  if (value.length > max) return [{ field, message: `at most ${max} characters` }];
  const problem = textProblem(value);
  return problem ? [{ field, message: problem }] : [];
}

/** Hunts (ANALYST) and saved hunting queries (read: READER; write: ANALYST). */
export class HuntingService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly options: HuntOptions,
  ) {}

  /** Runs a query over [from, to) (default: the last 24 hours), on the read replica when there is one. */
  async run(query: string, from: Date | null | undefined, to: Date | null | undefined): Promise<HuntResult> {
    return huntResult(await runHunt(this.db, this.identity, query, { from, to }, this.options));
  }

  /**
   * Runs a saved query (on the read replica when there is one) and records the run (time, who, row count) on it.
   * The query itself is read from the primary: it may have been saved a moment ago.
   */
  async runSaved(
    id: string,
    from: Date | null | undefined,
    to: Date | null | undefined,
  ): Promise<HuntResult> {
    const saved = await this.byId(id);
    if (!saved) throw new NotFoundError("Hunting query", id);
    const outcome = await runHunt(this.db, this.identity, saved.query, { from, to }, this.options);
    await this.db.write((m) =>
      m.query(
        `UPDATE hunting_queries SET last_run_at = now(), last_run_by = $3, last_result_count = $4 WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, saved.id, this.identity.subject, outcome.rows.length],
      ),
    );
    return huntResult(outcome);
  }

  /** Saved queries, newest first. */
  list(args: PageArgs): Promise<HuntingQueryConnection> {
    return newestFirstPage(
      this.db,
      this.identity.tenantId,
      "hunting_queries",
      args,
      huntingQueryFromRow,
      HuntingQueryConnection,
    );
  }

  async byId(id: string): Promise<HuntingQuery | null> {
    if (!isUuid(id)) return null;
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM hunting_queries WHERE tenant_id = $1 AND id = $2`, [this.identity.tenantId, id]),
    );
    return rows.length ? huntingQueryFromRow(rows[0]) : null;
  }

  async create(input: CreateHuntingQueryInput): Promise<HuntingQuery> {
    this.validate(input, true);
    await this.check(input.query);
    return this.db.write(async (m) => {
      const [row] = await m.query(
        `INSERT INTO hunting_queries (tenant_id, id, name, description, query, tactics, techniques, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
        [
          this.identity.tenantId,
          newId(),
          input.name.trim(),
          input.description ?? "",
          input.query,
          [...new Set(input.tactics ?? [])],
          [...new Set(input.techniques ?? [])],
          this.identity.subject,
        ],
      );
      await writeAudit(m, this.identity, [
        { action: "hunting.query.created", target: `hunting-query:${row.id}`, details: { name: row.name } },
      ]);
      return huntingQueryFromRow(row);
    });
  }

  async update(input: UpdateHuntingQueryInput): Promise<HuntingQuery> {
    if (!isUuid(input.id))
      throw new BadUserInputError("Invalid hunting query id.", [{ field: "id", message: "must be a UUID" }]);
    this.validate(input, false);
    if (input.query != null) await this.check(input.query);
    return this.db.write(async (m) => {
      const rows: Array<Record<string, unknown>> = await m.query(
        `WITH u AS (UPDATE hunting_queries SET name = coalesce($3, name), description = coalesce($4, description),
                      query = coalesce($5, query), tactics = coalesce($6, tactics), techniques = coalesce($7, techniques),
                      updated_by = $8, updated_at = now()
                    WHERE tenant_id = $1 AND id = $2 RETURNING *) SELECT * FROM u`,
        [
          this.identity.tenantId,
          input.id,
          input.name?.trim() ?? null,
          input.description ?? null,
          input.query ?? null,
          input.tactics ? [...new Set(input.tactics)] : null,
          input.techniques ? [...new Set(input.techniques)] : null,
          this.identity.subject,
        ],
      );
      if (!rows.length) throw new NotFoundError("Hunting query", input.id);
      const changed = Object.keys(input).filter(
        (k) => k !== "id" && (input as unknown as Record<string, unknown>)[k] != null,
      );
      await writeAudit(m, this.identity, [
        { action: "hunting.query.updated", target: `hunting-query:${input.id}`, details: { changed } },
      ]);
      return huntingQueryFromRow(rows[0]);
    });
  }

  async delete(id: string): Promise<HuntingQuery> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid hunting query id.", [{ field: "id", message: "must be a UUID" }]);
    return this.db.write(async (m) => {
      const rows: Array<Record<string, unknown>> = await m.query(
        `WITH gone AS (DELETE FROM hunting_queries WHERE tenant_id = $1 AND id = $2 RETURNING *) SELECT * FROM gone`,
        [this.identity.tenantId, id],
      );
      if (!rows.length) throw new NotFoundError("Hunting query", id);
      await writeAudit(m, this.identity, [
        { action: "hunting.query.deleted", target: `hunting-query:${id}`, details: { name: rows[0].name } },
      ]);
      return huntingQueryFromRow(rows[0]);
    });
  }

  private validate(input: CreateHuntingQueryInput | UpdateHuntingQueryInput, creating: boolean): void {
    const problems = [
      ...textProblems("name", input.name, HUNTING_QUERY_LIMITS.name, creating || input.name != null),
      ...textProblems("description", input.description, HUNTING_QUERY_LIMITS.description, false),
      ...mitreProblems(input.tactics, input.techniques),
    ];
    if (problems.length) throw new BadUserInputError("Invalid hunting query; nothing was stored.", problems);
  }

  /** Compiles the query (against the tenant's watchlists) so a saved query is one that runs. */
  private async check(query: string): Promise<void> {
    const now = this.options.now?.() ?? new Date();
    await this.db.read((m) =>
      prepareHunt(
        m,
        this.identity.tenantId,
        query,
        { from: new Date(now.getTime() - 3_600_000), to: now, now },
        HUNT_LIMITS.maxRows,
      ),
    );
  }
}
