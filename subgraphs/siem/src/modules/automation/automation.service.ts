import type { EntityManager } from "typeorm";
import {
  BadUserInputError,
  isUuid,
  newId,
  NotFoundError,
  toKeysetPage,
  writeAudit,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { runHistoryPage } from "./run-history";
import {
  checkAutomationRule,
  type AutomationRuleDefinition,
  type CreateAutomationRuleInput,
  type UpdateAutomationRuleInput,
} from "./automation.inputs";
import {
  AutomationActionType,
  AutomationRuleConnection,
  AutomationRunConnection,
  automationRuleFromRow,
  automationRunFromRow,
  type AutomationRule,
} from "./automation.types";

/** Filters the runs of automation rules. */
export interface AutomationRunQuery {
  ruleId?: string | null;
  incidentId?: string | null;
}

/** Automation rules: listing (READER), creation, changes and removal (ADMIN), and what they did. */
export class AutomationService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The tenant's rules in the order they run. */
  async list(args: PageArgs): Promise<AutomationRuleConnection> {
    const page = toKeysetPage(args, "int");
    const params: unknown[] = [this.identity.tenantId, page.first + 1];
    let after = "";
    if (page.after) {
      params.push(page.after[0], page.after[1]);
      after = `AND (run_order, id) > ($3::int, $4::uuid)`;
    }
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT * FROM automation_rules WHERE tenant_id = $1 ${after} ORDER BY run_order, id LIMIT $2`,
        params,
      ),
    );
    return AutomationRuleConnection.from({
      rows: rows.map(automationRuleFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM automation_rules WHERE tenant_id = $1`, [
                this.identity.tenantId,
              ]),
            )
          )[0].n,
        ),
      cursorOf: (r) => [r.order, r.id],
    });
  }

  /** One rule, or null. */
  async byId(id: string): Promise<AutomationRule | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.db.read((m) =>
      m.query(`SELECT * FROM automation_rules WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        id,
      ]),
    );
    return row ? automationRuleFromRow(row) : null;
  }

  /** Creates a rule; BAD_USER_INPUT listing every fault, nothing stored. */
  async create(input: CreateAutomationRuleInput): Promise<AutomationRule> {
    const definition = this.check(
      {
        name: input.name,
        order: input.order,
        trigger: input.trigger,
        analyticsRuleIds: input.analyticsRuleIds ?? [],
        conditions: input.conditions ?? [],
        actions: input.actions,
        enabled: input.enabled ?? true,
        expiresAt: input.expiresAt ?? null,
      },
      true,
    );
    return this.db.write(async (m) => {
      await this.checkReferences(m, definition);
      const [row] = await m.query(
        `INSERT INTO automation_rules (tenant_id, id, name, run_order, trigger, analytics_rule_ids, conditions, actions, enabled, expires_at, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING *`,
        [this.identity.tenantId, newId(), ...this.columns(definition), this.identity.subject],
      );
      await writeAudit(m, this.identity, [
        {
          action: "automation_rules.create",
          target: `automation_rule:${row.id}`,
          details: { name: row.name },
        },
      ]);
      return automationRuleFromRow(row);
    });
  }

  /** Changes a rule (the fields given); BAD_USER_INPUT listing every fault of the result, nothing changed. */
  async update(input: UpdateAutomationRuleInput): Promise<AutomationRule> {
    if (!isUuid(input.id))
      throw new BadUserInputError("Invalid automation rule id.", [
        { field: "id", message: "must be a UUID" },
      ]);
    return this.db.write(async (m) => {
      const [row] = await m.query(
        `SELECT * FROM automation_rules WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [this.identity.tenantId, input.id],
      );
      if (!row) throw new NotFoundError("Automation rule", input.id);
      const current = automationRuleFromRow(row);
      const definition = this.check(
        {
          name: input.name ?? current.name,
          order: input.order ?? current.order,
          trigger: input.trigger ?? current.trigger,
          analyticsRuleIds: input.analyticsRuleIds ?? current.analyticsRuleIds,
          conditions: input.conditions ?? current.conditions,
          actions: input.actions ?? current.actions,
          enabled: input.enabled ?? current.enabled,
          expiresAt: input.expiresAt === undefined ? current.expiresAt : input.expiresAt,
        },
        input.expiresAt !== undefined,
      );
      await this.checkReferences(m, definition);
      const [updated] = await m.query(
        `WITH changed AS (
           UPDATE automation_rules SET name = $3, run_order = $4, trigger = $5, analytics_rule_ids = $6, conditions = $7,
                  actions = $8, enabled = $9, expires_at = $10, updated_by = $11, updated_at = now()
            WHERE tenant_id = $1 AND id = $2 RETURNING *)
         SELECT * FROM changed`,
        [this.identity.tenantId, input.id, ...this.columns(definition), this.identity.subject],
      );
      await writeAudit(m, this.identity, [
        {
          action: "automation_rules.update",
          target: `automation_rule:${input.id}`,
          details: {
            fields: Object.keys(input).filter(
              (k) => k !== "id" && input[k as keyof typeof input] !== undefined,
            ),
          },
        },
      ]);
      return automationRuleFromRow(updated);
    });
  }

  /** Deletes a rule (and its run history); returns it as it was. */
  async delete(id: string): Promise<AutomationRule> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid automation rule id.", [
        { field: "id", message: "must be a UUID" },
      ]);
    return this.db.write(async (m) => {
      const rows: Array<Record<string, unknown>> = await m.query(
        `WITH gone AS (DELETE FROM automation_rules WHERE tenant_id = $1 AND id = $2 RETURNING *) SELECT * FROM gone`,
        [this.identity.tenantId, id],
      );
      if (!rows.length) throw new NotFoundError("Automation rule", id);
      await writeAudit(m, this.identity, [
        {
          action: "automation_rules.delete",
          target: `automation_rule:${id}`,
          details: { name: rows[0].name },
        },
      ]);
      return automationRuleFromRow(rows[0]);
    });
  }

  /** What rules did, newest first. */
  runs(filter: AutomationRunQuery | undefined, args: PageArgs): Promise<AutomationRunConnection> {
    const ids = [
      ["ruleId", "rule_id", filter?.ruleId],
      ["incidentId", "incident_id", filter?.incidentId],
    ] as const;
    return runHistoryPage(
      this.db,
      this.identity.tenantId,
      "automation_runs",
      { ids },
      args,
      automationRunFromRow,
      AutomationRunConnection,
    );
  }

  private check(
    input: Parameters<typeof checkAutomationRule>[0],
    expiresAtGiven: boolean,
  ): AutomationRuleDefinition {
    const { definition, problems } = checkAutomationRule(input, { now: this.now(), expiresAtGiven });
    if (problems.length)
      throw new BadUserInputError("Invalid automation rule; nothing was changed.", problems);
    return definition;
  }

  /** BAD_USER_INPUT for analytics rules or playbooks the definition names that the tenant does not have. */
  private async checkReferences(m: EntityManager, definition: AutomationRuleDefinition): Promise<void> {
    const problems: InputProblem[] = [];
    if (definition.analyticsRuleIds.length) {
      const found: Array<{ id: string }> = await m.query(
        `SELECT id FROM analytics_rules WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
        [this.identity.tenantId, definition.analyticsRuleIds],
      );
      const known = new Set(found.map((r) => r.id));
      definition.analyticsRuleIds.forEach((id, index) => {
        if (!known.has(id))
          problems.push({ index, field: "analyticsRuleIds", message: "no such analytics rule" });
      });
    }
    const playbookIds = definition.actions.flatMap((a) =>
      a.type === AutomationActionType.RUN_PLAYBOOK && a.playbookId ? [a.playbookId] : [],
    );
    if (playbookIds.length) {
      const found: Array<{ id: string }> = await m.query(
        `SELECT id FROM playbooks WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
        [this.identity.tenantId, playbookIds],
      );
      const known = new Set(found.map((r) => r.id));
      definition.actions.forEach((a, index) => {
        if (a.type === AutomationActionType.RUN_PLAYBOOK && a.playbookId && !known.has(a.playbookId))
          problems.push({ index, field: "actions.playbookId", message: "no such playbook" });
      });
    }
    if (problems.length)
      throw new BadUserInputError("Invalid automation rule; nothing was changed.", problems);
  }

  /** The stored columns of a definition, from `name` to `expires_at`. */
  private columns(d: AutomationRuleDefinition): unknown[] {
    return [
      d.name,
      d.order,
      d.trigger,
      d.analyticsRuleIds,
      JSON.stringify(d.conditions),
      JSON.stringify(d.actions),
      d.enabled,
      d.expiresAt,
    ];
  }
}
