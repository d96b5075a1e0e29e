/*
 * Running automation rules on one outbox event (the `automation_event` job), in one tenant transaction:
 *
 * 1. Mark the event handled (`automation_events`); a job run again after a crash finds the mark, committed with
 *    everything the rules did, and stops: no action is applied twice for one event.
 * 2. Take the tenant's enabled rules of the event's trigger that existed when the event happened and had not
 *    expired, in ascending `order` (then oldest first).
 * 3. For each rule, read the incident or alert as it is now (so a rule sees what the rules before it changed),
 *    check the rule's scope and conditions, and run its actions in order, each in a savepoint: a failing action
 *    (the incident is closed, a playbook disabled…) is recorded as FAILED with its error and undone alone.
 *    Changes go through the incident workflow service as the rule (`automation rule "name"`): activity log,
 *    audit, etag and outbox events as for an analyst's change, and the events carry `automationRuleId`, so
 *    they trigger no INCIDENT_UPDATED rule (Sentinel's rule: automation does not trigger automation).
 * 4. Record, per rule that ran, what each action did (`automation_runs`, unique per event and rule).
 */
import type { DataSource, EntityManager } from "typeorm";
import {
  AppError,
  ConflictError,
  inTenant,
  newId,
  NotFoundError,
  RequestDb,
  Role,
  type Identity,
  type Logger,
} from "../../../../common/src";
import { incidentFromRow, IncidentStatus, type Incident } from "../incidents/incident.entity";
import { IncidentWorkflowService, type IncidentActor } from "../incidents/incident-workflow.service";
import type { CloseIncidentInput, UpdateIncidentInput } from "../incidents/incident-workflow.types";
import {
  AutomationActionResult,
  AutomationActionType,
  AutomationProperty,
  AutomationRunStatus,
  AutomationTrigger,
  type AutomationAction,
  type AutomationActionOutcome,
} from "./automation.types";
import {
  alertUpdatedFields,
  isAlertTrigger,
  ruleMatches,
  updatedFields,
  type AutomationFacts,
  type StoredCondition,
} from "./conditions";
import { queuePlaybookRun } from "./playbook-runner";

/** One outbox event as the automation consumer hands it to its job. */
export interface AutomationEvent {
  tenantId: string;
  /** The outbox row's `seq`: the event's identity. */
  seq: string;
  topic: string;
  /** The incident's or alert's id. */
  key: string;
  /** When the event's transaction ran (ISO). */
  at: string;
  changedFields: string[];
  /** Set on changes made by an automation rule. */
  automationRuleId?: string;
}

/** The trigger an outbox topic fires, or null. */
export function triggerOf(topic: string): AutomationTrigger | null {
  if (topic === "incident.created") return AutomationTrigger.INCIDENT_CREATED;
  if (topic.startsWith("incident.")) return AutomationTrigger.INCIDENT_UPDATED;
  if (topic === "alert.created") return AutomationTrigger.ALERT_CREATED;
  if (topic === "alert.updated") return AutomationTrigger.ALERT_UPDATED;
  return null;
}

/** The actor name an automation rule's changes carry. */
export const automationActor = (name: string) => `automation rule "${name}"`;

/** A rule as the engine runs it. */
interface StoredRule {
  id: string;
  name: string;
  analyticsRuleIds: string[];
  conditions: StoredCondition[];
  actions: AutomationAction[];
}

/**
 * The request database over a transaction already open: the workflow service's reads and writes run in it, so
 * a rule's changes commit (or roll back) with the rest of the event's.
 */
class TransactionDb extends RequestDb {
  constructor(
    private readonly manager: EntityManager,
    tenantId: string,
  ) {
    super(manager.connection, tenantId);
  }
  override read<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return work(this.manager);
  }
  override write<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return work(this.manager);
  }
}

/** Runs the automation rules of one event (the `automation_event` job). */
export async function handleAutomationEvent(
  ds: DataSource,
  log: Logger,
  event: AutomationEvent,
): Promise<void> {
  const trigger = triggerOf(event.topic);
  if (!trigger) return;
  if (trigger === AutomationTrigger.INCIDENT_UPDATED && event.automationRuleId) return;
  await inTenant(ds, event.tenantId, async (m) => {
    const [first] = await m.query(
      `INSERT INTO automation_events (tenant_id, event_seq) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_seq`,
      [event.tenantId, event.seq],
    );
    if (!first) return;
    const rows: Array<Record<string, unknown>> = await m.query(
      `SELECT * FROM automation_rules
        WHERE tenant_id = $1 AND trigger = $2 AND enabled AND created_at <= $3 AND (expires_at IS NULL OR expires_at > $3)
        ORDER BY run_order, id`,
      [event.tenantId, trigger, event.at],
    );
    if (rows.length === 0) return;
    const onIncident = !isAlertTrigger(trigger);
    if (onIncident) {
      // Held until commit: the rules read and change the incident with no analyst change in between.
      const [locked] = await m.query(
        `SELECT merged_into FROM incidents WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [event.tenantId, event.key],
      );
      // Gone, or merged into another incident (its work continues there): nothing to act on.
      if (!locked || locked.merged_into) return;
    }
    const updated =
      trigger === AutomationTrigger.INCIDENT_UPDATED
        ? updatedFields(event.topic, event.changedFields)
        : trigger === AutomationTrigger.ALERT_UPDATED
          ? alertUpdatedFields(event.changedFields)
          : [];
    for (const row of rows) {
      const rule: StoredRule = {
        id: row.id as string,
        name: row.name as string,
        analyticsRuleIds: (row.analytics_rule_ids as string[]) ?? [],
        conditions: row.conditions as StoredCondition[],
        actions: row.actions as AutomationAction[],
      };
      const facts = onIncident
        ? await incidentFacts(m, event.tenantId, event.key, updated)
        : await alertFacts(m, event.tenantId, event.key, updated);
      if (!facts || !ruleMatches(rule, facts)) continue;
      const outcomes: AutomationActionOutcome[] = [];
      for (const action of rule.actions) {
        await m.query(`SAVEPOINT automation_action`);
        try {
          const outcome = await applyAction(m, event, rule, action, onIncident);
          await m.query(`RELEASE SAVEPOINT automation_action`);
          outcomes.push({ type: action.type, error: null, ...outcome });
        } catch (err) {
          await m.query(`ROLLBACK TO SAVEPOINT automation_action`);
          if (!(err instanceof AppError))
            log.error(
              { err, tenantId: event.tenantId, ruleId: rule.id, action: action.type },
              "automation action failed",
            );
          outcomes.push({
            type: action.type,
            result: AutomationActionResult.FAILED,
            error: err instanceof AppError ? err.message : "internal error (see the SIEM's log)",
            playbookRunId: null,
          });
        }
      }
      const failed = outcomes.some((o) => o.result === AutomationActionResult.FAILED);
      await m.query(
        `INSERT INTO automation_runs (tenant_id, id, rule_id, rule_name, event_seq, trigger, incident_id, alert_id, status, actions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant_id, event_seq, rule_id) DO NOTHING`,
        [
          event.tenantId,
          newId(),
          rule.id,
          rule.name,
          event.seq,
          trigger,
          onIncident ? event.key : null,
          onIncident ? null : event.key,
          failed ? AutomationRunStatus.FAILED : AutomationRunStatus.SUCCEEDED,
          JSON.stringify(outcomes),
        ],
      );
      log.info(
        { tenantId: event.tenantId, ruleId: rule.id, event: event.seq, failed },
        "automation rule ran",
      );
    }
  });
}

/**
 * An incident's facts: its own fields and what its alerts say (tactics, techniques, providers, rules, and
 * entities as `alert_entities` indexes them).
 */
async function incidentFacts(
  m: EntityManager,
  tenantId: string,
  incidentId: string,
  updated: string[],
): Promise<AutomationFacts | null> {
  const [row] = await m.query(
    `SELECT i.*,
            ARRAY(SELECT DISTINCT t FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id, unnest(a.tactics) t
                   WHERE ia.tenant_id = $1 AND ia.incident_id = i.id) AS alert_tactics,
            ARRAY(SELECT DISTINCT t FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id, unnest(a.techniques) t
                   WHERE ia.tenant_id = $1 AND ia.incident_id = i.id) AS alert_techniques,
            ARRAY(SELECT DISTINCT a.provider FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id
                   WHERE ia.tenant_id = $1 AND ia.incident_id = i.id) AS alert_providers,
            ARRAY(SELECT DISTINCT a.rule_id::text FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id
                   WHERE ia.tenant_id = $1 AND ia.incident_id = i.id AND a.rule_id IS NOT NULL) AS alert_rules,
            (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('type', ae.entity_type, 'value', ae.value)), '[]')
               FROM incident_alerts ia JOIN alert_entities ae ON ae.alert_id = ia.alert_id
              WHERE ia.tenant_id = $1 AND ia.incident_id = i.id AND ae.tenant_id = $1) AS alert_entities
       FROM incidents i WHERE i.tenant_id = $1 AND i.id = $2`,
    [tenantId, incidentId],
  );
  if (!row) return null;
  const ruleIds = [
    ...new Set([...(row.rule_id ? [row.rule_id as string] : []), ...(row.alert_rules as string[])]),
  ];
  return {
    analyticsRuleIds: ruleIds,
    entities: row.alert_entities,
    values: {
      [AutomationProperty.TITLE]: [row.title],
      [AutomationProperty.DESCRIPTION]: [row.description],
      [AutomationProperty.SEVERITY]: [row.severity],
      [AutomationProperty.STATUS]: [row.status],
      [AutomationProperty.OWNER]: row.owner ? [row.owner] : [],
      [AutomationProperty.LABELS]: row.labels ?? [],
      [AutomationProperty.TACTICS]: row.alert_tactics,
      [AutomationProperty.TECHNIQUES]: row.alert_techniques,
      [AutomationProperty.PROVIDER]: row.alert_providers,
      [AutomationProperty.ANALYTICS_RULE_ID]: ruleIds,
      [AutomationProperty.UPDATED_FIELDS]: updated,
    },
  };
}

/** An alert's facts, with its entities as `alert_entities` indexes them. */
async function alertFacts(
  m: EntityManager,
  tenantId: string,
  alertId: string,
  updated: string[],
): Promise<AutomationFacts | null> {
  const [row] = await m.query(
    `SELECT a.*,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('type', ae.entity_type, 'value', ae.value)), '[]')
               FROM alert_entities ae WHERE ae.tenant_id = $1 AND ae.alert_id = a.id) AS alert_entities
       FROM alerts a WHERE a.tenant_id = $1 AND a.id = $2`,
    [tenantId, alertId],
  );
  if (!row) return null;
  const ruleIds = row.rule_id ? [row.rule_id as string] : [];
  return {
    analyticsRuleIds: ruleIds,
    entities: row.alert_entities,
    values: {
      [AutomationProperty.TITLE]: [row.title],
      [AutomationProperty.DESCRIPTION]: [row.description],
      [AutomationProperty.SEVERITY]: [row.severity],
      [AutomationProperty.STATUS]: [row.status],
      [AutomationProperty.TACTICS]: row.tactics ?? [],
      [AutomationProperty.TECHNIQUES]: row.techniques ?? [],
      [AutomationProperty.PROVIDER]: [row.provider],
      [AutomationProperty.ANALYTICS_RULE_ID]: ruleIds,
      [AutomationProperty.UPDATED_FIELDS]: updated,
    },
  };
}

/** Runs one action; throws (an AppError for expected refusals) when it cannot be applied. */
async function applyAction(
  m: EntityManager,
  event: AutomationEvent,
  rule: StoredRule,
  action: AutomationAction,
  onIncident: boolean,
): Promise<Pick<AutomationActionOutcome, "result" | "playbookRunId">> {
  const tenantId = event.tenantId;
  const actor = automationActor(rule.name);
  if (action.type === AutomationActionType.RUN_PLAYBOOK) {
    const [playbook] = await m.query(`SELECT * FROM playbooks WHERE tenant_id = $1 AND id = $2`, [
      tenantId,
      action.playbookId,
    ]);
    if (!playbook) throw new NotFoundError("Playbook", action.playbookId ?? "");
    if (!playbook.enabled) throw new ConflictError(`Playbook "${playbook.name}" is disabled.`);
    const run = await queuePlaybookRun(
      m,
      tenantId,
      playbook,
      { incidentId: onIncident ? event.key : null, alertId: onIncident ? null : event.key },
      { triggeredBy: actor, automationRule: { id: rule.id, name: rule.name } },
    );
    return { result: AutomationActionResult.APPLIED, playbookRunId: run.id as string };
  }
  const identity: Identity & IncidentActor = {
    tenantId,
    subject: actor,
    roles: [Role.ADMIN],
    automationRuleId: rule.id,
  };
  const workflow = new IncidentWorkflowService(new TransactionDb(m, tenantId), identity);
  const current = await readIncident(m, tenantId, event.key);
  const change = (fields: Omit<UpdateIncidentInput, "id" | "etag">) =>
    workflow.update({ id: current.id, etag: current.etag, ...fields });
  switch (action.type) {
    case AutomationActionType.SET_STATUS:
      if (current.status === action.status) return unchanged();
      if (action.status === IncidentStatus.CLOSED) {
        const close: CloseIncidentInput = {
          id: current.id,
          etag: current.etag,
          classification: action.classification!,
          reason: action.classificationReason ?? "",
        };
        await workflow.close(close);
      } else await change({ status: action.status });
      break;
    case AutomationActionType.SET_SEVERITY:
      await change({ severity: action.severity });
      break;
    case AutomationActionType.ASSIGN_OWNER:
      await change({ owner: action.owner });
      break;
    case AutomationActionType.ADD_LABELS: {
      const labels = [...new Set([...current.labels, ...(action.labels ?? [])])];
      if (labels.length === current.labels.length) return unchanged();
      await change({ labels });
      break;
    }
    case AutomationActionType.ADD_TASK:
      await workflow.addTask(current.id, action.taskTitle ?? "");
      break;
  }
  const after = await readIncident(m, tenantId, event.key);
  return after.etag === current.etag
    ? unchanged()
    : { result: AutomationActionResult.APPLIED, playbookRunId: null };
}

const unchanged = () => ({ result: AutomationActionResult.UNCHANGED, playbookRunId: null });

async function readIncident(m: EntityManager, tenantId: string, id: string): Promise<Incident> {
  const [row] = await m.query(`SELECT * FROM incidents WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  if (!row) throw new NotFoundError("Incident", id);
  return incidentFromRow(row);
}
