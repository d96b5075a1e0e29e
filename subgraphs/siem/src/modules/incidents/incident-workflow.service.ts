import type { EntityManager } from "typeorm";
import {
  containsPattern,
  canonicalId,
  childConnectionLoader,
  groupChildRows,
  BadUserInputError,
  ConflictError,
  isUuid,
  parameterTextProblems,
  textProblem,
  newId,
  NotFoundError,
  OrderDirection,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import DataLoader from "dataloader";
import { alertConditionProblems } from "../alerts/alert-conditions";
import { lockCorrelation, MAX_ALERTS_PER_INCIDENT } from "./correlation";
import { incidentFromRow, IncidentStatus, type Incident } from "./incident.entity";
import { IncidentActivityConnection, IncidentConnection } from "./incidents.connections";
import {
  CLASSIFICATION_REASONS,
  IncidentActivity,
  IncidentComment,
  IncidentOrderField,
  IncidentTask,
  type CloseIncidentInput,
  type IncidentFilter,
  type IncidentOrder,
  type MergeIncidentsInput,
  type ReopenIncidentInput,
  type UpdateIncidentInput,
} from "./incident-workflow.types";

/** How many entries `Incident.activity` (the list, before `activityLog`) gives at most. */
export const ACTIVITY_LIST_LIMIT = 500;

function activityFromRow(r: Record<string, unknown>): IncidentActivity {
  return Object.assign(new IncidentActivity(), {
    sequence: String(r.id),
    actor: r.actor,
    action: r.action,
    changes: JSON.stringify(r.changes),
    at: r.at,
  });
}

const SEVERITY_RANK_SQL = `CASE i.severity WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 ELSE 1 END`;
const ORDER_SQL: Record<IncidentOrderField, string> = {
  [IncidentOrderField.CREATED_AT]: "i.created_at",
  [IncidentOrderField.NUMBER]: "i.number",
  [IncidentOrderField.SEVERITY]: SEVERITY_RANK_SQL,
  [IncidentOrderField.LAST_ACTIVITY]: "coalesce(i.last_activity, i.created_at)",
};

/** Outbox topics of incident changes (the live subscriptions stream these). */
export type IncidentTopic =
  | "incident.created"
  | "incident.updated"
  | "incident.alert_added"
  | "incident.comment_added"
  | "incident.closed"
  | "incident.reopened"
  | "incident.merged";

/**
 * Who changes an incident. An automation rule acting names itself in `automationRuleId`: its events say so
 * (`payload.automationRuleId`), and automation ignores them, so rules never trigger each other in a loop.
 */
export type IncidentActor = Pick<Identity, "tenantId" | "subject" | "roles"> & { automationRuleId?: string };

/** Records one change: activity log, audit trail and outbox event, in the change's transaction. */
export async function recordIncidentChange(
  m: EntityManager,
  identity: IncidentActor,
  incident: { id: string; number: number },
  topic: IncidentTopic,
  changes: Record<string, unknown>,
): Promise<void> {
  const action = topic.slice("incident.".length);
  await m.query(
    `INSERT INTO incident_activity (tenant_id, incident_id, actor, action, changes) VALUES ($1, $2, $3, $4, $5)`,
    [identity.tenantId, incident.id, identity.subject, action, JSON.stringify(changes)],
  );
  await writeOutbox(m, [
    {
      tenantId: identity.tenantId,
      topic,
      key: incident.id,
      payload: {
        id: incident.id,
        number: incident.number,
        kind: action.toUpperCase(),
        changedFields: Object.keys(changes),
        changes,
        actor: identity.subject,
        ...(identity.automationRuleId ? { automationRuleId: identity.automationRuleId } : {}),
      },
    },
  ]);
  if (identity.subject !== "system")
    await writeAudit(m, identity as Identity, [
      { action: topic, target: `incident:${incident.id}`, details: changes },
    ]);
}

/** Most numbers an incident filter may hold (its other lists: `alertConditionProblems`). */
const MAX_FILTER_NUMBERS = 500;

/** BAD_USER_INPUT naming every field of an incident filter that cannot be applied as given. */
function checkFilter(filter: IncidentFilter): void {
  const problems: InputProblem[] = [];
  if ((filter.numbers?.length ?? 0) > MAX_FILTER_NUMBERS)
    problems.push({ field: "numbers", message: `at most ${MAX_FILTER_NUMBERS} numbers` });
  problems.push(...alertConditionProblems(filter));
  if (filter.createdAfter && filter.createdBefore && filter.createdAfter >= filter.createdBefore)
    problems.push({ field: "createdBefore", message: "must be later than createdAfter" });
  problems.push(
    ...parameterTextProblems({
      owner: filter.owner,
      labels: filter.labels,
      search: filter.search,
      tactics: filter.tactics,
    }),
  );
  if (problems.length) throw new BadUserInputError("Invalid incident filter.", problems);
}

/** Triage: listing, assignment, status, classification, comments, tasks, merge — each change etag-checked and logged. */
export class IncidentWorkflowService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Filtered, ordered page of incidents (merged ones are hidden). */
  async list(
    filter: IncidentFilter | undefined,
    order: IncidentOrder | undefined,
    args: PageArgs,
  ): Promise<IncidentConnection> {
    const field = order?.field ?? IncidentOrderField.CREATED_AT;
    const byTime = field === IncidentOrderField.CREATED_AT || field === IncidentOrderField.LAST_ACTIVITY;
    const page = toKeysetPage(args, byTime ? "time" : "int");
    const desc = (order?.direction ?? OrderDirection.DESC) === OrderDirection.DESC;
    const expr = ORDER_SQL[field];
    const where = ["i.tenant_id = $1", "i.merged_into IS NULL"];
    const params: unknown[] = [this.identity.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replaceAll("?", `$${params.length}`));
    };
    if (filter?.statuses?.length) add("i.status = ANY(?::text[])", filter.statuses);
    if (filter?.severities?.length) add("i.severity = ANY(?::text[])", filter.severities);
    if (filter?.owner) add("lower(i.owner) = lower(?)", filter.owner);
    if (filter?.labels?.length) add("i.labels && ?::text[]", filter.labels);
    if (filter?.search) add("i.title ILIKE ?", containsPattern(filter.search));
    if (filter) checkFilter(filter);
    if (filter?.numbers?.length) add("i.number = ANY(?::int[])", filter.numbers);
    if (filter?.createdAfter) add("i.created_at >= ?", filter.createdAfter);
    if (filter?.createdBefore) add("i.created_at < ?", filter.createdBefore);
    if (filter?.unassigned != null) where.push(`i.owner IS ${filter.unassigned ? "" : "NOT "}NULL`);
    if (filter?.classifications?.length) add("i.classification = ANY(?::text[])", filter.classifications);
    // Alert conditions: one probe of the incident's alerts (incident_alerts' primary key) per incident.
    const holding = (condition: string, value: unknown) =>
      add(
        `EXISTS (SELECT 1 FROM incident_alerts ia JOIN alerts a ON a.tenant_id = ia.tenant_id AND a.id = ia.alert_id
                 WHERE ia.tenant_id = i.tenant_id AND ia.incident_id = i.id AND ${condition})`,
        value,
      );
    if (filter?.providers?.length) holding("a.provider = ANY(?::text[])", filter.providers);
    if (filter?.ruleIds?.length)
      holding(
        "a.rule_id = ANY(?::uuid[])",
        filter.ruleIds.map((id) => id.toLowerCase()),
      );
    if (filter?.tactics?.length) holding("a.tactics && ?::text[]", filter.tactics);
    const base = [...params];
    const baseWhere = where.join(" AND ");
    if (page.after) {
      params.push(page.after[0], page.after[1]);
      const cast = byTime ? "::timestamptz" : "::int";
      where.push(
        `(${expr}, i.id) ${desc ? "<" : ">"} ($${params.length - 1}${cast}, $${params.length}::uuid)`,
      );
    }
    params.push(page.first + 1);
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT i.*, ${expr} AS sort_value FROM incidents i WHERE ${where.join(" AND ")}
         ORDER BY ${expr} ${desc ? "DESC" : "ASC"}, i.id ${desc ? "DESC" : "ASC"} LIMIT $${params.length}`,
        params,
      ),
    );
    const sortOf = new Map(rows.map((r) => [r.id as string, r.sort_value]));
    return IncidentConnection.from({
      rows: rows.map(incidentFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM incidents i WHERE ${baseWhere}`, base),
            )
          )[0].n,
        ),
      cursorOf: (i) => {
        const v = sortOf.get(i.id);
        return [v instanceof Date ? v.toISOString() : (v as number), i.id];
      },
    });
  }

  /** Applies triage changes when the etag is current; CONFLICT otherwise. */
  async update(input: UpdateIncidentInput): Promise<Incident> {
    const problems: InputProblem[] = [];
    if (input.title != null && (!input.title.trim() || input.title.length > 512))
      problems.push({ field: "title", message: "must be 1 to 512 characters" });
    if (input.status === IncidentStatus.CLOSED)
      problems.push({ field: "status", message: "use closeIncident, which needs a classification" });
    if (input.labels && (input.labels.length > 50 || input.labels.some((l) => !l.trim() || l.length > 100))) {
      problems.push({ field: "labels", message: "at most 50 labels of 1 to 100 characters" });
    }
    if (input.owner != null && input.owner.length > 256)
      problems.push({ field: "owner", message: "at most 256 characters" });
    for (const field of ["title", "description", "owner"] as const) {
      const problem = textProblem(input[field] ?? "");
      if (problem) problems.push({ field, message: problem });
    }
    (input.labels ?? []).forEach((label, index) => {
      const problem = textProblem(label);
      if (problem) problems.push({ index, field: "labels", message: problem });
    });
    if (problems.length)
      throw new BadUserInputError("Invalid incident change; nothing was changed.", problems);
    return this.change(input.id, input.etag, async (m, current) => {
      const changes: Record<string, [unknown, unknown]> = {};
      const set = (field: string, column: string, before: unknown, after: unknown) => {
        if (after === undefined || after === null || JSON.stringify(before) === JSON.stringify(after)) return;
        changes[field] = [before, after];
        sets.push(`${column} = $${values.push(after) + 2}`);
      };
      const sets: string[] = [];
      const values: unknown[] = [];
      if (current.status === IncidentStatus.CLOSED && input.status) {
        throw new BadUserInputError("The incident is closed; reopen it first.", [
          { field: "status", message: "incident is closed" },
        ]);
      }
      set("title", "title", current.title, input.title?.trim());
      set("description", "description", current.description, input.description);
      set("status", "status", current.status, input.status);
      // Owners are compared and filtered as typed, so surrounding blanks go; a blank owner unassigns.
      const owner = input.owner?.trim();
      set("owner", "owner", current.owner, owner || undefined);
      if (owner === "" && current.owner !== null) {
        changes.owner = [current.owner, null];
        sets.push("owner = NULL");
      }
      set(
        "labels",
        "labels",
        current.labels,
        input.labels ? [...new Set(input.labels.map((l) => l.trim()))] : undefined,
      );
      if (input.severity && input.severity !== current.severity) {
        changes.severity = [current.severity, input.severity];
        sets.push(`severity = $${values.push(input.severity) + 2}`, "severity_pinned = true");
      }
      if (Object.keys(changes).length === 0) return { topic: null, changes };
      await m.query(`UPDATE incidents SET ${sets.join(", ")} WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        current.id,
        ...values,
      ]);
      return { topic: "incident.updated" as const, changes };
    });
  }

  /** Closes with a classification and reason. */
  async close(input: CloseIncidentInput): Promise<Incident> {
    if (!input.reason?.trim() || input.reason.length > 4000) {
      throw new BadUserInputError("Closing needs a reason.", [
        { field: "reason", message: "must be 1 to 4,000 characters" },
      ]);
    }
    const problem = textProblem(input.reason);
    if (problem) throw new BadUserInputError("Invalid reason.", [{ field: "reason", message: problem }]);
    const reason = input.classificationReason ?? null;
    const allowed = CLASSIFICATION_REASONS[input.classification];
    if (reason && !allowed.includes(reason))
      throw new BadUserInputError("The classification reason does not go with the classification.", [
        {
          field: "classificationReason",
          message: allowed.length
            ? `${input.classification} takes ${allowed.join(" or ")}, not ${reason}`
            : `${input.classification} takes no classification reason`,
        },
      ]);
    return this.change(input.id, input.etag, async (m, current) => {
      if (current.status === IncidentStatus.CLOSED)
        throw new ConflictError(`Incident ${current.number} is already closed.`);
      await m.query(
        `UPDATE incidents SET status = 'CLOSED', classification = $3, classification_reason = $4, classification_comment = $5,
           closed_at = now() WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, current.id, input.classification, reason, input.reason.trim()],
      );
      return {
        topic: "incident.closed" as const,
        changes: {
          status: [current.status, "CLOSED"],
          classification: [null, input.classification],
          ...(reason ? { classificationReason: [null, reason] } : {}),
          reason: input.reason.trim(),
        },
      };
    });
  }

  /** Reopens a closed incident (ACTIVE again, classification cleared). */
  async reopen(input: ReopenIncidentInput): Promise<Incident> {
    return this.change(input.id, input.etag, async (m, current) => {
      if (current.status !== IncidentStatus.CLOSED)
        throw new ConflictError(`Incident ${current.number} is not closed.`);
      // A merged incident gave its alerts away and is hidden from lists: reopened, it would be an empty
      // active incident nobody sees. Its work continues in the incident it was merged into.
      if (current.mergedInto) throw mergedAway(current);
      await reopenIncident(m, this.identity.tenantId, current.id);
      return { topic: "incident.reopened" as const, changes: reopenedChanges(current) };
    });
  }

  /** Adds a comment (no etag: comments never conflict). */
  async addComment(incidentId: string, message: string): Promise<IncidentComment> {
    if (!message?.trim() || message.length > 30_000)
      throw new BadUserInputError("Invalid comment.", [
        { field: "message", message: "must be 1 to 30,000 characters" },
      ]);
    const problem = textProblem(message);
    if (problem) throw new BadUserInputError("Invalid comment.", [{ field: "message", message: problem }]);
    return this.db.write(async (m) => {
      const incident = await this.lock(m, incidentId);
      const [row] = await m.query(
        `INSERT INTO incident_comments (tenant_id, id, incident_id, author, message) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [this.identity.tenantId, newId(), incident.id, this.identity.subject, message.trim()],
      );
      await m.query(
        `UPDATE incidents SET etag = etag + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, incident.id],
      );
      await recordIncidentChange(m, this.identity, incident, "incident.comment_added", { commentId: row.id });
      return Object.assign(new IncidentComment(), {
        id: row.id,
        author: row.author,
        message: row.message,
        createdAt: row.created_at,
      });
    });
  }

  /** Adds a task. */
  async addTask(incidentId: string, title: string): Promise<IncidentTask> {
    if (!title?.trim() || title.length > 500)
      throw new BadUserInputError("Invalid task.", [
        { field: "title", message: "must be 1 to 500 characters" },
      ]);
    const problem = textProblem(title);
    if (problem) throw new BadUserInputError("Invalid task.", [{ field: "title", message: problem }]);
    return this.db.write(async (m) => {
      const incident = await this.lock(m, incidentId);
      const [row] = await m.query(
        `INSERT INTO incident_tasks (tenant_id, id, incident_id, title, status, created_by) VALUES ($1, $2, $3, $4, 'NEW', $5) RETURNING *`,
        [this.identity.tenantId, newId(), incident.id, title.trim(), this.identity.subject],
      );
      await m.query(
        `UPDATE incidents SET etag = etag + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, incident.id],
      );
      await recordIncidentChange(m, this.identity, incident, "incident.updated", { taskAdded: title.trim() });
      return taskFromRow(row);
    });
  }

  /** Marks a task completed. */
  async completeTask(taskId: string): Promise<IncidentTask> {
    if (!isUuid(taskId))
      throw new BadUserInputError("Invalid task id.", [{ field: "id", message: "must be a UUID" }]);
    return this.db.write(async (m) => {
      const rows: Array<Record<string, unknown>> = await m.query(
        `WITH done AS (UPDATE incident_tasks SET status = 'COMPLETED', completed_at = now()
                       WHERE tenant_id = $1 AND id = $2 AND status <> 'COMPLETED' RETURNING *) SELECT * FROM done`,
        [this.identity.tenantId, taskId],
      );
      if (!rows.length) {
        // Completing a completed task changes nothing: no etag bump, no event, no activity entry.
        const [done] = await m.query(`SELECT * FROM incident_tasks WHERE tenant_id = $1 AND id = $2`, [
          this.identity.tenantId,
          taskId,
        ]);
        if (!done) throw new NotFoundError("Task", taskId);
        return taskFromRow(done);
      }
      const incident = await this.lock(m, rows[0].incident_id as string);
      await m.query(
        `UPDATE incidents SET etag = etag + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, incident.id],
      );
      await recordIncidentChange(m, this.identity, incident, "incident.updated", {
        taskCompleted: rows[0].title,
      });
      return taskFromRow(rows[0]);
    });
  }

  /** Moves the sources' alerts into the target and closes the sources as merged. */
  async merge(given: MergeIncidentsInput): Promise<Incident> {
    // Compared in lower case: the target named again in upper-case hex is no other incident.
    const input = { targetId: canonicalId(given.targetId), sourceIds: given.sourceIds.map(canonicalId) };
    const ids = [...new Set(input.sourceIds)].filter((id) => id !== input.targetId);
    const problems: InputProblem[] = [];
    if (!isUuid(input.targetId)) problems.push({ field: "targetId", message: "must be a UUID" });
    if (ids.length === 0) problems.push({ field: "sourceIds", message: "name at least one other incident" });
    ids.forEach(
      (id, index) => !isUuid(id) && problems.push({ index, field: "sourceIds", message: "must be a UUID" }),
    );
    const expected = expectedEtags(given, input, problems);
    if (problems.length) throw new BadUserInputError("Invalid merge.", problems);
    return this.db.write(async (m) => {
      await lockCorrelation(m, this.identity.tenantId);
      const target = await this.lock(m, input.targetId);
      // Merged incidents are hidden and hold no alerts any more: neither end of another merge.
      if (target.mergedInto) throw mergedAway(target);
      // Merged into a closed incident, open work would leave every queue unseen: reopen it first.
      if (target.status === IncidentStatus.CLOSED)
        throw new ConflictError(
          `Incident ${target.number} is closed: reopen it before merging others into it.`,
        );
      const sources: Incident[] = [];
      for (const id of ids) {
        const source = await this.lock(m, id);
        if (source.mergedInto) throw mergedAway(source);
        sources.push(source);
      }
      // Checked with every row locked, as update does: nothing can move an etag between this check and the merge.
      const stale = expected ? [target, ...sources].filter((i) => expected.get(i.id) !== i.etag) : [];
      if (stale.length)
        throw new ConflictError(
          `${stale.map((i) => `Incident ${i.number} is at etag ${i.etag}`).join(", ")}, not the one sent: changed since you read it, or the etag is another incident's; reload and retry. Nothing was merged.`,
        );
      for (const source of sources) {
        await m.query(
          `INSERT INTO incident_alerts (tenant_id, incident_id, alert_id)
           SELECT tenant_id, $3, alert_id FROM incident_alerts WHERE tenant_id = $1 AND incident_id = $2 ON CONFLICT DO NOTHING`,
          [this.identity.tenantId, source.id, target.id],
        );
        // The alerts move: left in the source too, they would list it under their resources and show the
        // target's own alerts as "related alerts of other incidents" in its graph.
        await m.query(`DELETE FROM incident_alerts WHERE tenant_id = $1 AND incident_id = $2`, [
          this.identity.tenantId,
          source.id,
        ]);
        // Its hunting bookmarks go with them: the merged incident is hidden, the evidence must stay in sight.
        await m.query(
          `WITH moved AS (DELETE FROM incident_bookmarks WHERE tenant_id = $1 AND incident_id = $2 RETURNING *)
           INSERT INTO incident_bookmarks (tenant_id, incident_id, bookmark_id, attached_by, attached_at)
           SELECT tenant_id, $3, bookmark_id, attached_by, attached_at FROM moved ON CONFLICT DO NOTHING`,
          [this.identity.tenantId, source.id, target.id],
        );
        await refreshIncidentRollups(m, this.identity.tenantId, source.id);
        await m.query(
          `UPDATE incidents SET status = 'CLOSED', classification = coalesce(classification, 'UNDETERMINED'),
             classification_comment = coalesce(classification_comment, $3), closed_at = now(), merged_into = $4, etag = etag + 1, updated_at = now()
           WHERE tenant_id = $1 AND id = $2`,
          [this.identity.tenantId, source.id, `Merged into incident ${target.number}`, target.id],
        );
        // The source closes as merged: its event says so (a subscriber to CLOSED incidents or status
        // changes would otherwise never learn it left the queue), unless it was closed already.
        const closing: Record<string, unknown> = {};
        if (source.status !== IncidentStatus.CLOSED) closing.status = [source.status, IncidentStatus.CLOSED];
        if (!source.classification) closing.classification = [null, "UNDETERMINED"];
        await recordIncidentChange(m, this.identity, source, "incident.merged", {
          ...closing,
          mergedInto: target.id,
        });
      }
      const [{ n }]: Array<{ n: number }> = await m.query(
        `SELECT count(*)::int AS n FROM incident_alerts WHERE tenant_id = $1 AND incident_id = $2`,
        [this.identity.tenantId, target.id],
      );
      if (n > MAX_ALERTS_PER_INCIDENT)
        throw new BadUserInputError("Invalid merge; nothing was changed.", [
          {
            field: "sourceIds",
            message: `the merged incident would hold ${n} alerts, at most ${MAX_ALERTS_PER_INCIDENT}`,
          },
        ]);
      await refreshIncidentRollups(m, this.identity.tenantId, target.id);
      await m.query(
        `UPDATE incidents SET etag = etag + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, target.id],
      );
      await recordIncidentChange(m, this.identity, target, "incident.merged", { merged: ids });
      return this.fetch(m, target.id);
    });
  }

  /** Comments of many incidents (newest last), one statement per batch. */
  readonly comments = new DataLoader<string, IncidentComment[]>(async (ids) => {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT * FROM incident_comments WHERE tenant_id = $1 AND incident_id = ANY($2::uuid[]) ORDER BY created_at, id`,
        [this.identity.tenantId, ids.filter(isUuid)],
      ),
    );
    return ids.map((id) =>
      rows
        .filter((r) => r.incident_id === id)
        .map((r) =>
          Object.assign(new IncidentComment(), {
            id: r.id,
            author: r.author,
            message: r.message,
            createdAt: r.created_at,
          }),
        ),
    );
  });

  /** Tasks of many incidents, one statement per batch. */
  readonly tasks = new DataLoader<string, IncidentTask[]>(async (ids) => {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT * FROM incident_tasks WHERE tenant_id = $1 AND incident_id = ANY($2::uuid[]) ORDER BY created_at, id`,
        [this.identity.tenantId, ids.filter(isUuid)],
      ),
    );
    return ids.map((id) => rows.filter((r) => r.incident_id === id).map(taskFromRow));
  });

  /** Activity logs of many incidents (oldest first, the first 500 each), one statement per batch. */
  readonly activity = new DataLoader<string, IncidentActivity[]>(async (ids) => {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT a.* FROM unnest($2::uuid[]) AS x(id) CROSS JOIN LATERAL (
           SELECT * FROM incident_activity WHERE tenant_id = $1 AND incident_id = x.id ORDER BY id LIMIT ${ACTIVITY_LIST_LIMIT}) a`,
        [this.identity.tenantId, ids.filter(isUuid)],
      ),
    );
    return ids.map((id) => rows.filter((r) => r.incident_id === id).map(activityFromRow));
  });

  /**
   * Pages of many incidents' activity logs, newest first (keyset on the entry's sequence number), with each
   * log's length — also for a page past its end (a row with no entry carries it, as `childPagesSql`'s do); one
   * statement per distinct page asked for. Its own SQL: LATERAL reads each page from the `(incident_id, id)`
   * index, where `childPagesSql` would number every entry of a busy log.
   */
  private readonly activityPages = childConnectionLoader<IncidentActivity>(async (ids, page) => {
    const rows: Array<Record<string, unknown> & { page_parent: string; page_rn: unknown; total: number }> =
      await this.db.read((m) =>
        m.query(
          `SELECT a.*, a.id AS page_rn, x.id AS page_parent, t.total
             FROM unnest($2::uuid[]) AS x(id)
             CROSS JOIN LATERAL (
               SELECT count(*)::int AS total FROM incident_activity WHERE tenant_id = $1 AND incident_id = x.id) t
             LEFT JOIN LATERAL (
               SELECT * FROM incident_activity
                WHERE tenant_id = $1 AND incident_id = x.id AND ($3::bigint IS NULL OR id < $3::bigint)
                ORDER BY id DESC LIMIT $4) a ON true
            ORDER BY x.id, a.id DESC`,
          [this.identity.tenantId, ids.filter(isUuid), page.after?.[1] ?? null, page.first + 1],
        ),
      );
    return groupChildRows(rows, activityFromRow);
  });

  /** A page of an incident's activity log, newest first. */
  async activityLog(incidentId: string, args: PageArgs): Promise<IncidentActivityConnection> {
    const page = toKeysetPage(args, "none", "bigint");
    const { rows, total } = await this.activityPages.load({ parentId: canonicalId(incidentId), page });
    return IncidentActivityConnection.from({ rows, page, total, cursorOf: (a) => [null, a.sequence] });
  }

  private async change(
    id: string,
    etag: string,
    apply: (
      m: EntityManager,
      current: Incident,
    ) => Promise<{ topic: IncidentTopic | null; changes: Record<string, unknown> }>,
  ): Promise<Incident> {
    return this.db.write(async (m) => {
      const current = await this.lock(m, id);
      if (current.etag !== etag) {
        throw new ConflictError(
          `Incident ${current.number} is at etag ${current.etag}, not the one sent: it changed since you read it, or the etag is another incident's; reload and retry.`,
        );
      }
      const { topic, changes } = await apply(m, current);
      if (!topic) return current;
      await m.query(
        `UPDATE incidents SET etag = etag + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, current.id],
      );
      await recordIncidentChange(m, this.identity, current, topic, changes);
      return this.fetch(m, current.id);
    });
  }

  private async lock(m: EntityManager, id: string): Promise<Incident> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid incident id.", [{ field: "id", message: "must be a UUID" }]);
    const rows = await m.query(`SELECT * FROM incidents WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [
      this.identity.tenantId,
      id,
    ]);
    if (!rows.length) throw new NotFoundError("Incident", id);
    return incidentFromRow(rows[0]);
  }

  private async fetch(m: EntityManager, id: string): Promise<Incident> {
    return incidentFromRow(
      (
        await m.query(`SELECT * FROM incidents WHERE tenant_id = $1 AND id = $2`, [
          this.identity.tenantId,
          id,
        ])
      )[0],
    );
  }
}

/**
 * The etags a merge is based on, by canonical id, or null when the caller sent none (an unchecked merge, as
 * before etags were taken). Both `etag` and `sourceEtags` or neither: half a check would leave some incidents
 * merged on a state nobody saw. Problems go to `problems`.
 */
function expectedEtags(
  given: MergeIncidentsInput,
  input: { targetId: string; sourceIds: string[] },
  problems: InputProblem[],
): Map<string, string> | null {
  const { etag, sourceEtags } = given;
  if (etag == null && sourceEtags == null) return null;
  if (etag == null || sourceEtags == null) {
    const missing = etag == null ? "etag" : "sourceEtags";
    problems.push({ field: missing, message: "give both etag and sourceEtags, or neither" });
    return null;
  }
  if (sourceEtags.length !== input.sourceIds.length) {
    problems.push({
      field: "sourceEtags",
      message: `give one etag per source id: ${input.sourceIds.length} ids, ${sourceEtags.length} etags`,
    });
    return null;
  }
  const expected = new Map([[input.targetId, etag]]);
  input.sourceIds.forEach((id, index) => {
    const seen = expected.get(id);
    // A source named twice (or the target named again) must carry the same etag each time.
    if (seen !== undefined && seen !== sourceEtags[index])
      problems.push({ index, field: "sourceEtags", message: "names an incident already given another etag" });
    else expected.set(id, sourceEtags[index]);
  });
  return expected;
}

/** CONFLICT for a change to an incident that was merged into another one. */
function mergedAway(incident: Incident): ConflictError {
  return new ConflictError(
    `Incident ${incident.number} was merged into another incident (${incident.mergedInto}); work on that one.`,
  );
}

function taskFromRow(row: Record<string, unknown>): IncidentTask {
  return Object.assign(new IncidentTask(), {
    id: row.id,
    title: row.title,
    status: row.status,
    createdBy: row.created_by,
    createdAt: row.created_at,
    completedAt: row.completed_at ?? null,
  });
}

/** Reopens an incident (status ACTIVE; classification, its reason and comment cleared). */
export async function reopenIncident(m: EntityManager, tenantId: string, id: string): Promise<void> {
  await m.query(
    `UPDATE incidents SET status = 'ACTIVE', classification = NULL, classification_reason = NULL, classification_comment = NULL,
       closed_at = NULL WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id],
  );
}

/** The recorded changes of reopening `closed`: its status, and the classification (with its reason) cleared. */
export function reopenedChanges(
  closed: Pick<Incident, "classification" | "classificationReason">,
): Record<string, unknown> {
  return {
    status: ["CLOSED", "ACTIVE"],
    classification: [closed.classification, null],
    ...(closed.classificationReason ? { classificationReason: [closed.classificationReason, null] } : {}),
  };
}

/** Recomputes an incident's alert count, activity window and (unless pinned) severity from its alerts. */
export async function refreshIncidentRollups(m: EntityManager, tenantId: string, id: string): Promise<void> {
  await m.query(
    `UPDATE incidents i SET alert_count = r.n, first_activity = r.first, last_activity = r.last,
       severity = CASE WHEN i.severity_pinned THEN i.severity ELSE coalesce(r.severity, i.severity) END, updated_at = now()
     FROM (
       SELECT count(*)::int AS n, min(a.start_time) AS first, max(a.end_time) AS last,
              (array_agg(a.severity ORDER BY CASE a.severity WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 ELSE 1 END DESC))[1] AS severity
       FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id WHERE ia.tenant_id = $1 AND ia.incident_id = $2
     ) r WHERE i.tenant_id = $1 AND i.id = $2`,
    [tenantId, id],
  );
}
