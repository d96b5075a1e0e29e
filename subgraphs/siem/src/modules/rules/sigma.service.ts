import type { EntityManager } from "typeorm";
import {
  BadUserInputError,
  newId,
  writeAudit,
  type Identity,
  type InputProblem,
  type RequestDb,
} from "../../../../common/src";
import { parseBoundedDuration, QUERY_FREQUENCY_BOUNDS, QUERY_PERIOD_BOUNDS } from "./durations";
import { normalizeRuleSpec, type RuleSpec } from "./rule-spec";
import { ruleFromRow, RulesService } from "./rules.service";
import {
  SigmaInputError,
  translateSigmaYaml,
  type SigmaDocumentResult,
  type SigmaImportOptions as TranslationOptions,
} from "./sigma";
import {
  ImportSigmaRulesPayload,
  SigmaImportResult,
  SigmaImportStatus,
  SigmaProblem,
  type SigmaImportOptions,
} from "./sigma.types";

type Row = Record<string, unknown>;

/** JSON with object keys sorted: stored jsonb comes back with its keys in another order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Row)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The import options as the translator takes them; BAD_USER_INPUT naming each fault (nothing is imported). */
function checkedOptions(given: SigmaImportOptions | null | undefined): TranslationOptions {
  const options: TranslationOptions = {};
  const problems: InputProblem[] = [];
  if (given?.enabled !== null && given?.enabled !== undefined) options.enabled = given.enabled;
  if (given?.kind !== null && given?.kind !== undefined) options.kind = given.kind;
  if (given?.alertPerResult !== null && given?.alertPerResult !== undefined)
    options.alertPerResult = given.alertPerResult;
  if (given?.slidingWindow !== null && given?.slidingWindow !== undefined)
    options.slidingWindow = given.slidingWindow;
  const durations: Array<["queryFrequency" | "queryPeriod", typeof QUERY_FREQUENCY_BOUNDS]> = [
    ["queryFrequency", QUERY_FREQUENCY_BOUNDS],
    ["queryPeriod", QUERY_PERIOD_BOUNDS],
  ];
  const ms: Partial<Record<"queryFrequency" | "queryPeriod", number>> = {};
  for (const [name, bounds] of durations) {
    const value = given?.[name];
    if (value === null || value === undefined) continue;
    if (options.kind === "NRT") {
      problems.push({ field: `options.${name}`, message: "NRT rules have no schedule (leave it out)" });
      continue;
    }
    const parsed = parseBoundedDuration(value, bounds);
    if ("error" in parsed) problems.push({ field: `options.${name}`, message: parsed.error });
    else {
      options[name] = value;
      ms[name] = parsed.ms;
    }
  }
  if (ms.queryFrequency !== undefined && ms.queryPeriod !== undefined && ms.queryPeriod < ms.queryFrequency) {
    problems.push({
      field: "options.queryPeriod",
      message: "must be at least queryFrequency, or events between runs are never seen",
    });
  }
  if (problems.length) throw new BadUserInputError("Invalid import options; nothing was imported.", problems);
  return options;
}

/** Imports Sigma rules as analytics rules (ADMIN): translation in sigma.ts, storage here. */
export class SigmaImportService {
  private readonly rules: RulesService;

  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {
    this.rules = new RulesService(db, identity);
  }

  /**
   * Translates every rule of the YAML and, in one transaction, creates the new ones and updates those imported
   * before (by tenant and Sigma id; a rule whose definition and YAML are the same is left as it is). A rejected
   * rule stores nothing and does not stop the others; nor does a rule only correlations use (REFERENCED). A rule imported again keeps its enabled state unless the
   * options say otherwise.
   */
  async import(yaml: string, given: SigmaImportOptions | null | undefined): Promise<ImportSigmaRulesPayload> {
    const options = checkedOptions(given);
    let documents: SigmaDocumentResult[];
    try {
      documents = translateSigmaYaml(yaml, options);
    } catch (error) {
      if (!(error instanceof SigmaInputError)) throw error;
      throw new BadUserInputError(`${error.message} Nothing was imported.`, [
        { field: "yaml", message: error.message },
      ]);
    }
    const results = new Map<SigmaDocumentResult, SigmaImportResult>(
      documents.map((doc) => [
        doc,
        Object.assign(new SigmaImportResult(), {
          document: doc.document,
          line: doc.line,
          sigmaId: doc.sigmaId,
          title: doc.title,
          status:
            doc.spec === null
              ? SigmaImportStatus.REJECTED
              : // Translated, and left to the correlations that refer to it: nothing of its own is stored.
                SigmaImportStatus.REFERENCED,
          ruleId: null,
          rule: null,
          problems: doc.problems.map((p) => Object.assign(new SigmaProblem(), p)),
          notes: doc.notes,
        }),
      ]),
    );
    // In Sigma id order, so two imports of overlapping rule sets wait for each other instead of deadlocking.
    const accepted = documents
      .filter((doc) => doc.spec !== null && doc.standalone)
      .sort((a, b) => (a.sigmaId! < b.sigmaId! ? -1 : a.sigmaId! > b.sigmaId! ? 1 : 0));
    if (accepted.length) {
      await this.db.write(async (m) => {
        const rows: Row[] = await m.query(
          `SELECT * FROM analytics_rules WHERE tenant_id = $1 AND sigma_id = ANY($2::text[]) ORDER BY sigma_id FOR UPDATE`,
          [this.identity.tenantId, accepted.map((doc) => doc.sigmaId)],
        );
        const existing = new Map(rows.map((row) => [row.sigma_id as string, row]));
        for (const doc of accepted) {
          const outcome = await this.store(m, doc, existing.get(doc.sigmaId!) ?? null, options);
          Object.assign(results.get(doc)!, {
            status: outcome.status,
            ruleId: outcome.row.id,
            rule: ruleFromRow(outcome.row),
          });
        }
        const counts = this.counts([...results.values()]);
        await writeAudit(m, this.identity, [
          {
            action: "rules.sigma.imported",
            target: "sigma",
            details: {
              created: counts.createdCount,
              updated: counts.updatedCount,
              unchanged: counts.unchangedCount,
              rejected: counts.rejectedCount,
              referenced: counts.referencedCount,
            },
          },
        ]);
      });
    }
    const list = [...results.values()];
    return Object.assign(new ImportSigmaRulesPayload(), { ...this.counts(list), results: list });
  }

  private counts(results: SigmaImportResult[]) {
    const count = (status: SigmaImportStatus) => results.filter((r) => r.status === status).length;
    return {
      createdCount: count(SigmaImportStatus.CREATED),
      updatedCount: count(SigmaImportStatus.UPDATED),
      unchangedCount: count(SigmaImportStatus.UNCHANGED),
      rejectedCount: count(SigmaImportStatus.REJECTED),
      referencedCount: count(SigmaImportStatus.REFERENCED),
    };
  }

  /** Creates the rule of a Sigma id, or updates the one there is (locked by the caller). */
  private async store(
    m: EntityManager,
    doc: SigmaDocumentResult,
    locked: Row | null,
    options: TranslationOptions,
  ): Promise<{ status: SigmaImportStatus; row: Row }> {
    const tenant = this.identity.tenantId;
    let previous = locked;
    if (!previous) {
      const spec = normalizeRuleSpec(doc.spec!);
      const id = newId();
      // A concurrent import of the same rule may have committed it since the lock was taken: then update that.
      const [created]: Row[] = await m.query(
        `INSERT INTO analytics_rules (tenant_id, id, template_id, kind, enabled, spec, sigma_id, sigma_yaml, created_by, updated_by)
         VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (tenant_id, sigma_id) WHERE sigma_id IS NOT NULL DO NOTHING RETURNING *`,
        [
          tenant,
          id,
          spec.kind,
          spec.enabled,
          JSON.stringify(spec),
          doc.sigmaId,
          doc.yaml,
          this.identity.subject,
        ],
      );
      if (created) {
        await this.rules.changed(m, id, spec, "rules.rule.created", null);
        return { status: SigmaImportStatus.CREATED, row: created };
      }
      [previous] = await m.query(
        `SELECT * FROM analytics_rules WHERE tenant_id = $1 AND sigma_id = $2 FOR UPDATE`,
        [tenant, doc.sigmaId],
      );
    }
    const spec = normalizeRuleSpec({
      ...doc.spec!,
      enabled: options.enabled ?? (previous!.enabled as boolean),
    });
    if (
      canonical(spec) === canonical(previous!.spec as RuleSpec) &&
      previous!.kind === spec.kind &&
      previous!.sigma_yaml === doc.yaml
    ) {
      return { status: SigmaImportStatus.UNCHANGED, row: previous! };
    }
    // TypeORM answers a bare UPDATE with [rows, count]; a CTE gives the rows.
    const [updated]: Row[] = await m.query(
      `WITH u AS (UPDATE analytics_rules SET kind = $3, enabled = $4, spec = $5, sigma_yaml = $6, version = version + 1,
                         updated_by = $7, updated_at = now()
                  WHERE tenant_id = $1 AND id = $2 RETURNING *) SELECT * FROM u`,
      [tenant, previous!.id, spec.kind, spec.enabled, JSON.stringify(spec), doc.yaml, this.identity.subject],
    );
    await this.rules.changed(m, updated.id as string, spec, "rules.rule.updated", previous);
    return { status: SigmaImportStatus.UPDATED, row: updated };
  }
}
