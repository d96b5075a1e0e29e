import DataLoader from "dataloader";
import type { EntityManager } from "typeorm";
import {
  byIdLoader,
  canonicalId,
  BadUserInputError,
  childConnectionLoader,
  childPagesSql,
  groupChildRows,
  ConflictError,
  invalidCursor,
  isUuid,
  NotFoundError,
  textProblem,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { ResourceRef } from "../../references";
import { syncPostureReports } from "../reports/sync";
import {
  AppControlGroup,
  AppControlGroupConnection,
  AppControlMode,
  AppControlRule,
  AppControlRuleConnection,
  AppControlRuleKind,
  LearnAppControlPayload,
  type AddAppControlRuleInput,
  type AppControlRuleFilter,
  type ApproveAppControlRulesInput,
  type RevokeAppControlRulesInput,
  type LearnAppControlInput,
  type SetAppControlModeInput,
} from "./appcontrol.types";
import {
  groupIdOf,
  groupMachines,
  groupName,
  identityOf,
  MAX_LEARNING_MACHINES,
  recommendRules,
  ruleIdOf,
  type ExecutionStat,
  type RuleRecommendation,
} from "./learning";
import { pathKey } from "../fim/paths";
import { parseWindow } from "./window";

const MAX_RULES_PER_APPROVAL = 1000;
/** Longest revocation reason. */
const MAX_REASON_LENGTH = 1000;
/** Longest path of a manual rule. */
const MAX_RULE_PATH_LENGTH = 1024;
/** Longest publisher of a manual rule. */
const MAX_PUBLISHER_LENGTH = 512;
const SHA256 = /^[0-9a-f]{64}$/i;

/** Problems of a text field: required, at most `max` characters, storable. */
function textProblems(
  problems: InputProblem[],
  field: string,
  value: string | null | undefined,
  max: number,
): void {
  const text = value?.trim() ?? "";
  if (!text || text.length > max) problems.push({ field, message: `must be 1 to ${max} characters` });
  const unstorable = textProblem(text);
  if (unstorable) problems.push({ field, message: unstorable });
}

/** Problems of a rule id list. */
function ruleIdProblems(ruleIds: readonly string[]): InputProblem[] {
  const problems: InputProblem[] = [];
  if (ruleIds.length === 0 || ruleIds.length > MAX_RULES_PER_APPROVAL)
    problems.push({ field: "ruleIds", message: `must list 1 to ${MAX_RULES_PER_APPROVAL} rules` });
  ruleIds.forEach((id, index) => {
    if (!isUuid(id)) problems.push({ index, field: "ruleIds", message: "must be a rule id (UUID)" });
  });
  return problems;
}

/** The value of a rule-list cursor: the rule's prevalence (a decimal number), "|", its path key. */
const RULE_CURSOR = /^\d+(?:\.\d+)?\|/;

/** The columns of a group as the API shows it (`g` is `app_control_groups`). */
const GROUP_SQL = `SELECT g.*,
    coalesce((SELECT array_agg(mem.resource_id::text ORDER BY mem.resource_id) FROM app_control_members mem WHERE mem.group_id = g.id), '{}') AS member_ids,
    (SELECT count(*)::int FROM app_control_rules r WHERE r.group_id = g.id AND r.status = 'APPROVED') AS approved,
    (SELECT count(*)::int FROM app_control_rules r WHERE r.group_id = g.id AND r.status = 'RECOMMENDED') AS recommended
  FROM app_control_groups g`;

function groupFromRow(row: Record<string, unknown>): AppControlGroup {
  const members = row.member_ids as string[];
  return Object.assign(new AppControlGroup(), {
    id: row.id,
    name: row.name,
    mode: row.mode,
    machineCount: members.length,
    memberIds: members,
    machines: members.map((id) => Object.assign(new ResourceRef(), { id })),
    approvedRuleCount: row.approved,
    recommendedRuleCount: row.recommended,
    windowStart: row.window_start,
    windowEnd: row.window_end,
    learnedAt: row.learned_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  });
}

function ruleFromRow(row: Record<string, unknown>): AppControlRule {
  return Object.assign(new AppControlRule(), {
    id: row.id,
    groupId: row.group_id,
    pathKey: row.path_key,
    kind: row.kind,
    path: row.path,
    publisher: row.publisher ?? null,
    sha256: row.sha256 ?? null,
    prevalence: Number(row.prevalence),
    machineCount: row.machine_count,
    executionCount: Number(row.execution_count),
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    status: row.status,
    origin: row.origin,
    approvedBy: row.approved_by ?? null,
    approvedAt: row.approved_at ?? null,
    revokedBy: row.revoked_by ?? null,
    revokedAt: row.revoked_at ?? null,
    revokeReason: row.revoke_reason ?? null,
  });
}

/** Loads groups by id (in the caller's transaction). */
async function loadGroups(
  m: EntityManager,
  tenantId: string,
  ids: readonly string[],
): Promise<AppControlGroup[]> {
  const rows: Array<Record<string, unknown>> = await m.query(
    `${GROUP_SQL} WHERE g.tenant_id = $1 AND g.id = ANY($2::uuid[])`,
    [tenantId, ids.filter(isUuid)],
  );
  return rows.map(groupFromRow);
}

/** Inserts or refreshes recommended rules of one group; approved rules keep their status. */
async function storeRules(
  m: EntityManager,
  tenantId: string,
  groupId: string,
  rules: readonly RuleRecommendation[],
): Promise<void> {
  if (rules.length === 0) return;
  await m.query(
    `INSERT INTO app_control_rules AS r (tenant_id, group_id, id, kind, path, path_key, publisher, sha256, machine_count,
                                          prevalence, execution_count, first_seen, last_seen)
     SELECT $1, $2, * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[],
                                  $10::numeric[], $11::bigint[], $12::timestamptz[], $13::timestamptz[])
     ON CONFLICT (id) DO UPDATE SET
       machine_count = excluded.machine_count, prevalence = excluded.prevalence, execution_count = excluded.execution_count,
       first_seen = least(r.first_seen, excluded.first_seen), last_seen = greatest(r.last_seen, excluded.last_seen),
       sha256 = CASE WHEN r.kind = 'HASH' THEN r.sha256 ELSE excluded.sha256 END`,
    [
      tenantId,
      groupId,
      rules.map((r) => ruleIdOf(groupId, r.identity)),
      rules.map((r) => r.kind),
      rules.map((r) => r.path),
      rules.map((r) => r.pathKey),
      rules.map((r) => r.publisher),
      rules.map((r) => r.sha256),
      rules.map((r) => r.machineCount),
      rules.map((r) => r.prevalence),
      rules.map((r) => r.executionCount),
      rules.map((r) => r.firstSeen),
      rules.map((r) => r.lastSeen),
    ],
  );
}

/**
 * Adaptive application control: learning groups and rules from process executions, approving rules,
 * setting a group's mode. Every change is one transaction with its audit entry, outbox event and the
 * machines' "adaptive application control" reports to posture.
 */
export class AppControlService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Groups by id. */
  readonly groupById = byIdLoader((ids) => this.db.read((m) => loadGroups(m, this.identity.tenantId, ids)));

  /** The group of each machine (null: none), one statement per batch. */
  readonly groupByResource = new DataLoader<string, AppControlGroup | null>(async (resourceIds) => {
    const rows: Array<{ resource_id: string; group_id: string }> = await this.db.read((m) =>
      m.query(
        `SELECT resource_id, group_id FROM app_control_members WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[])`,
        [this.identity.tenantId, resourceIds.filter(isUuid)],
      ),
    );
    const groupOf = new Map(rows.map((r) => [r.resource_id, r.group_id]));
    const groups = await this.groupById.loadMany([...new Set(groupOf.values())]);
    const byId = new Map(groups.flatMap((g) => (g && !(g instanceof Error) ? [[g.id, g] as const] : [])));
    return resourceIds.map((id) => byId.get(groupOf.get(id) ?? "") ?? null);
  });

  /** The tenant's groups by name. */
  async list(args: PageArgs): Promise<AppControlGroupConnection> {
    const page = toKeysetPage(args, "text");
    const [afterName, afterId] = page.after ?? [null, null];
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `${GROUP_SQL} WHERE g.tenant_id = $1 AND ($2::text IS NULL OR (g.name, g.id) > ($2::text, $3::uuid))
         ORDER BY g.name, g.id LIMIT $4`,
        [this.identity.tenantId, afterName, afterId, page.first + 1],
      ),
    );
    return AppControlGroupConnection.from({
      rows: rows.map(groupFromRow),
      page,
      total: async () =>
        (
          await this.db.read((m) =>
            m.query(`SELECT count(*)::int AS n FROM app_control_groups WHERE tenant_id = $1`, [
              this.identity.tenantId,
            ]),
          )
        )[0].n,
      cursorOf: (g) => [g.name, g.id],
    });
  }

  /** Rules of many groups, paged per group in one statement (most prevalent first). */
  private readonly rulesLoaders = new Map<string, ReturnType<typeof childConnectionLoader<AppControlRule>>>();

  /** A page of a group's rules. */
  async rules(
    groupId: string,
    filter: AppControlRuleFilter | undefined,
    args: PageArgs,
  ): Promise<AppControlRuleConnection> {
    const page = toKeysetPage(args, "text");
    // The cursor value is "<prevalence>|<path key>", and the prevalence goes into a `::numeric` cast.
    if (page.after && !RULE_CURSOR.test(page.after[0] as string)) throw invalidCursor();
    if (filter?.minPrevalence != null && !(filter.minPrevalence >= 0 && filter.minPrevalence <= 1))
      throw new BadUserInputError("Invalid rule filter.", [
        { field: "minPrevalence", message: "must be between 0 and 1" },
      ]);
    const key = JSON.stringify([
      filter?.statuses ?? null,
      filter?.kinds ?? null,
      filter?.minPrevalence ?? null,
    ]);
    let loader = this.rulesLoaders.get(key);
    if (!loader) {
      loader = childConnectionLoader<AppControlRule>(async (ids, p) => {
        // Cursor value: "<prevalence>|<path key>" (prevalence has no "|"), then the id.
        const [afterValue, afterId] = p.after ?? [null, null];
        const split = typeof afterValue === "string" ? afterValue.indexOf("|") : -1;
        const afterPrevalence = split > 0 ? (afterValue as string).slice(0, split) : null;
        const afterKey = split > 0 ? (afterValue as string).slice(split + 1) : null;
        const rows: Array<
          Record<string, unknown> & { page_parent: string; page_rn: unknown; total: number }
        > = await this.db.read((m) =>
          m.query(
            childPagesSql({
              source: `SELECT r.* FROM app_control_rules r
                          WHERE r.tenant_id = $1 AND r.group_id = ANY($2::uuid[])
                            AND ($3::text[] IS NULL OR r.status = ANY($3::text[])) AND ($4::text[] IS NULL OR r.kind = ANY($4::text[]))
                            AND ($5::numeric IS NULL OR r.prevalence >= $5::numeric)`,
              parent: "group_id",
              after: `$6::numeric IS NULL OR prevalence < $6::numeric
                         OR (prevalence = $6::numeric AND (path_key, id) > ($7::text, $8::uuid))`,
              order: "prevalence DESC, path_key, id",
              limit: "$9",
            }),
            [
              this.identity.tenantId,
              ids.filter(isUuid),
              filter?.statuses ?? null,
              filter?.kinds ?? null,
              filter?.minPrevalence ?? null,
              afterPrevalence,
              afterKey,
              afterPrevalence === null ? null : afterId,
              p.first + 1,
            ],
          ),
        );
        return groupChildRows(rows, ruleFromRow);
      });
      this.rulesLoaders.set(key, loader);
    }
    const { rows, total } = await loader.load({ parentId: groupId, page });
    return AppControlRuleConnection.from({
      rows,
      page,
      total,
      cursorOf: (r) => [`${r.prevalence.toFixed(4)}|${r.pathKey}`, r.id],
    });
  }

  /**
   * Learns groups and rules from the process executions of the window before now. Groups already
   * configured (mode AUDIT/ENFORCE, or with approved rules) keep their machines and approved rules; their
   * recommendations are refreshed from the window. Every other machine with executions is grouped anew
   * (the previous unconfigured groups are replaced). Deterministic: the same executions give the same
   * groups, rules and ids.
   */
  async learn(input: LearnAppControlInput | undefined): Promise<LearnAppControlPayload> {
    const window = parseWindow(input?.window ?? "P14D");
    if ("problem" in window)
      throw new BadUserInputError("Invalid learning window; nothing was learned.", [
        { field: "window", message: window.problem },
      ]);
    const tenantId = this.identity.tenantId;
    return this.db.write(async (m) => {
      // One learning run per tenant at a time: a second waits and then learns from the first one's result.
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('protection.app-control:' || $1))`, [tenantId]);
      const [{ now }]: Array<{ now: Date }> = await m.query(`SELECT now() AS now`);
      const windowEnd = new Date(now);
      const windowStart = new Date(windowEnd.getTime() - window.seconds * 1000);
      const stats: ExecutionStat[] = (
        (await m.query(
          `SELECT resource_id, max(host) AS host, path, publisher, sha256, count(*)::int AS executions,
                  min(time) AS first_seen, max(time) AS last_seen
           FROM telemetry
           WHERE tenant_id = $1 AND kind = 'process' AND time > $2 AND time <= $3 AND path IS NOT NULL
           GROUP BY resource_id, path, publisher, sha256`,
          [tenantId, windowStart, windowEnd],
        )) as Array<Record<string, unknown>>
      ).map((r) => ({
        resourceId: r.resource_id as string,
        host: r.host as string,
        path: r.path as string,
        publisher: (r.publisher as string | null) ?? null,
        sha256: (r.sha256 as string | null) ?? null,
        executions: r.executions as number,
        firstSeen: new Date(r.first_seen as string),
        lastSeen: new Date(r.last_seen as string),
      }));
      const statsByMachine = new Map<string, ExecutionStat[]>();
      for (const s of stats) {
        const list = statsByMachine.get(s.resourceId);
        if (list) list.push(s);
        else statsByMachine.set(s.resourceId, [s]);
      }
      const statsOf = (machines: readonly string[]) => machines.flatMap((id) => statsByMachine.get(id) ?? []);
      const before: Array<{ id: string; configured: boolean }> = await m.query(
        `SELECT g.id, (g.mode <> 'NONE' OR EXISTS (SELECT 1 FROM app_control_rules r WHERE r.group_id = g.id AND r.status IN ('APPROVED', 'REVOKED'))) AS configured
         FROM app_control_groups g WHERE g.tenant_id = $1 FOR UPDATE OF g`,
        [tenantId],
      );
      const members: Array<{ resource_id: string; group_id: string }> = await m.query(
        `SELECT resource_id, group_id FROM app_control_members WHERE tenant_id = $1`,
        [tenantId],
      );
      const configured = new Set(before.filter((g) => g.configured).map((g) => g.id));
      const replaced = before.filter((g) => !g.configured).map((g) => g.id);
      if (replaced.length)
        await m.query(`DELETE FROM app_control_groups WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
          tenantId,
          replaced,
        ]);
      const kept = new Map<string, string[]>();
      for (const mem of members) {
        if (!configured.has(mem.group_id)) continue;
        const list = kept.get(mem.group_id);
        if (list) list.push(mem.resource_id);
        else kept.set(mem.group_id, [mem.resource_id]);
      }
      const inKept = new Set([...kept.values()].flat());

      // Machines to group: executable sets of the machines not in a configured group.
      const sets = new Map<string, Set<string>>();
      const hosts = new Map<string, string>();
      for (const s of stats) {
        if (inKept.has(s.resourceId)) continue;
        const set = sets.get(s.resourceId) ?? new Set<string>();
        set.add(pathKey(s.path));
        sets.set(s.resourceId, set);
        hosts.set(s.resourceId, s.host);
      }
      const machineIds = [...sets.keys()].sort();
      const skipped = machineIds.slice(MAX_LEARNING_MACHINES);
      for (const id of skipped) sets.delete(id);
      const groups = groupMachines(sets);

      const actor = this.identity.subject;
      if (groups.length) {
        const ids = groups.map((g) => groupIdOf(tenantId, g));
        await m.query(
          `INSERT INTO app_control_groups (tenant_id, id, name, window_start, window_end, learned_at, updated_by)
           SELECT $1, id, name, $4, $5, $5, $6 FROM unnest($2::uuid[], $3::text[]) AS x(id, name)`,
          [
            tenantId,
            ids,
            groups.map((g) => groupName(g.map((id) => hosts.get(id)!))),
            windowStart,
            windowEnd,
            actor,
          ],
        );
        await m.query(
          `INSERT INTO app_control_members (tenant_id, resource_id, group_id, host)
           SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::text[])`,
          [
            tenantId,
            groups.flat(),
            groups.flatMap((g, i) => g.map(() => ids[i])),
            groups.flatMap((g) => g.map((id) => hosts.get(id)!)),
          ],
        );
        for (const [i, g] of groups.entries())
          await storeRules(m, tenantId, ids[i], recommendRules(g, statsOf(g)));
      }
      for (const [groupId, ids] of kept) {
        await m.query(
          `DELETE FROM app_control_rules WHERE tenant_id = $1 AND group_id = $2 AND status = 'RECOMMENDED'`,
          [tenantId, groupId],
        );
        await storeRules(m, tenantId, groupId, recommendRules(ids, statsOf(ids)));
        await m.query(
          `UPDATE app_control_groups SET window_start = $3, window_end = $4, learned_at = $4, updated_by = $5, updated_at = now()
           WHERE tenant_id = $1 AND id = $2`,
          [tenantId, groupId, windowStart, windowEnd, actor],
        );
      }
      const details = {
        window: input?.window ?? "P14D",
        windowStart: windowStart.toISOString(),
        windowEnd: windowEnd.toISOString(),
        machines: sets.size,
        skippedMachines: skipped.length,
        groups: groups.length,
        keptGroups: kept.size,
        replacedGroups: replaced.length,
      };
      await writeAudit(m, this.identity, [{ action: "appcontrol.learned", target: "app-control", details }]);
      await writeOutbox(m, [
        { tenantId, topic: "appcontrol.learned", key: tenantId, payload: { ...details, actor } },
      ]);
      await syncPostureReports(
        m,
        tenantId,
        [...members.map((mem) => mem.resource_id), ...groups.flat()],
        ["app-control"],
      );
      const all: Array<Record<string, unknown>> = await m.query(
        `${GROUP_SQL} WHERE g.tenant_id = $1 ORDER BY g.name, g.id`,
        [tenantId],
      );
      return Object.assign(new LearnAppControlPayload(), {
        windowStart,
        windowEnd,
        machineCount: sets.size + inKept.size,
        skippedMachineCount: skipped.length,
        keptGroupCount: kept.size,
        groups: all.map(groupFromRow),
      });
    });
  }

  /** Locks a group of the tenant for a change, or throws NOT_FOUND. */
  private async lockGroup(
    m: EntityManager,
    groupId: string,
  ): Promise<{ mode: AppControlMode; name: string }> {
    const [row]: Array<{ mode: AppControlMode; name: string }> = isUuid(groupId)
      ? await m.query(
          `SELECT mode, name FROM app_control_groups WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
          [this.identity.tenantId, groupId],
        )
      : [];
    if (!row) throw new NotFoundError("Application-control group", groupId);
    return row;
  }

  /**
   * Approves recommended (or revoked: an explicit re-approval) rules of a group. Unknown rules (or rules of
   * another group) reject the whole call.
   */
  async approve(input: ApproveAppControlRulesInput): Promise<AppControlGroup> {
    const problems: InputProblem[] = [];
    if (input.ruleIds.length === 0 || input.ruleIds.length > MAX_RULES_PER_APPROVAL)
      problems.push({ field: "ruleIds", message: `must list 1 to ${MAX_RULES_PER_APPROVAL} rules` });
    input.ruleIds.forEach((id, index) => {
      if (!isUuid(id)) problems.push({ index, field: "ruleIds", message: "must be a rule id (UUID)" });
    });
    if (problems.length) throw new BadUserInputError("Invalid rules; nothing was approved.", problems);
    const tenantId = this.identity.tenantId;
    return this.db.write(async (m) => {
      await this.lockGroup(m, input.groupId);
      const found: Array<{ id: string }> = await m.query(
        `SELECT id FROM app_control_rules WHERE tenant_id = $1 AND group_id = $2 AND id = ANY($3::uuid[])`,
        [tenantId, input.groupId, input.ruleIds],
      );
      // Postgres answers ids in their canonical (lower-case) form.
      const known = new Set(found.map((r) => r.id));
      input.ruleIds.forEach((id, index) => {
        if (!known.has(canonicalId(id)))
          problems.push({ index, field: "ruleIds", message: "no such rule in this group" });
      });
      if (problems.length) throw new BadUserInputError("Invalid rules; nothing was approved.", problems);
      const approved: Array<{ id: string }> = await m.query(
        `WITH a AS (
           UPDATE app_control_rules SET status = 'APPROVED', approved_by = $3, approved_at = now(),
             revoked_by = NULL, revoked_at = NULL, revoke_reason = NULL
           WHERE tenant_id = $1 AND group_id = $2 AND id = ANY($4::uuid[]) AND status IN ('RECOMMENDED', 'REVOKED') RETURNING id
         ) SELECT id FROM a ORDER BY id`,
        [tenantId, input.groupId, this.identity.subject, input.ruleIds],
      );
      if (approved.length) {
        await m.query(
          `UPDATE app_control_groups SET updated_by = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
          [tenantId, input.groupId, this.identity.subject],
        );
        const details = { groupId: input.groupId, ruleIds: approved.map((r) => r.id) };
        await writeAudit(m, this.identity, [
          { action: "appcontrol.rules.approved", target: `app-control-group:${input.groupId}`, details },
        ]);
        await writeOutbox(m, [
          {
            tenantId,
            topic: "appcontrol.rules.approved",
            key: input.groupId,
            payload: { ...details, actor: this.identity.subject },
          },
        ]);
        await this.syncMembers(m, input.groupId);
      }
      return (await loadGroups(m, tenantId, [input.groupId]))[0];
    });
  }

  /**
   * Takes approved rules out of a group's allow list (status REVOKED, with who, when and why). Only APPROVED
   * (or already REVOKED: unchanged) rules of the group may be named, else nothing changes (BAD_USER_INPUT); a
   * group in AUDIT or ENFORCE keeps at least one approved rule (CONFLICT: set NONE first or approve another).
   * Learning again keeps the group and its revoked rules as they are.
   */
  async revoke(input: RevokeAppControlRulesInput): Promise<AppControlGroup> {
    const problems = ruleIdProblems(input.ruleIds);
    textProblems(problems, "reason", input.reason, MAX_REASON_LENGTH);
    if (problems.length) throw new BadUserInputError("Invalid revocation; nothing was revoked.", problems);
    const tenantId = this.identity.tenantId;
    const reason = input.reason.trim();
    return this.db.write(async (m) => {
      const group = await this.lockGroup(m, input.groupId);
      const found: Array<{ id: string; status: string }> = await m.query(
        `SELECT id, status FROM app_control_rules WHERE tenant_id = $1 AND group_id = $2 AND id = ANY($3::uuid[])`,
        [tenantId, input.groupId, input.ruleIds],
      );
      const status = new Map(found.map((r) => [r.id, r.status]));
      input.ruleIds.forEach((id, index) => {
        const s = status.get(canonicalId(id));
        if (!s) problems.push({ index, field: "ruleIds", message: "no such rule in this group" });
        else if (s === "RECOMMENDED")
          problems.push({
            index,
            field: "ruleIds",
            message: "is not approved (only approved rules can be revoked)",
          });
      });
      if (problems.length) throw new BadUserInputError("Invalid revocation; nothing was revoked.", problems);
      const revoked: Array<{ id: string }> = await m.query(
        `WITH r AS (
           UPDATE app_control_rules SET status = 'REVOKED', revoked_by = $3, revoked_at = now(), revoke_reason = $5
           WHERE tenant_id = $1 AND group_id = $2 AND id = ANY($4::uuid[]) AND status = 'APPROVED' RETURNING id
         ) SELECT id FROM r ORDER BY id`,
        [tenantId, input.groupId, this.identity.subject, input.ruleIds, reason],
      );
      if (revoked.length) {
        if (group.mode !== AppControlMode.NONE) {
          const [{ n }]: Array<{ n: number }> = await m.query(
            `SELECT count(*)::int AS n FROM app_control_rules WHERE tenant_id = $1 AND group_id = $2 AND status = 'APPROVED'`,
            [tenantId, input.groupId],
          );
          // Thrown inside the transaction: the revocation above rolls back with it.
          if (n === 0)
            throw new ConflictError(
              `Application-control group ${input.groupId} is in ${group.mode} and would have no approved rule left: set its mode to NONE or approve another rule first.`,
            );
        }
        await m.query(
          `UPDATE app_control_groups SET updated_by = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
          [tenantId, input.groupId, this.identity.subject],
        );
        const details = { groupId: input.groupId, ruleIds: revoked.map((r) => r.id), reason };
        await writeAudit(m, this.identity, [
          { action: "appcontrol.rules.revoked", target: `app-control-group:${input.groupId}`, details },
        ]);
        await writeOutbox(m, [
          {
            tenantId,
            topic: "appcontrol.rules.revoked",
            key: input.groupId,
            payload: { ...details, actor: this.identity.subject },
          },
        ]);
        await this.syncMembers(m, input.groupId);
      }
      return (await loadGroups(m, tenantId, [input.groupId]))[0];
    });
  }

  /**
   * Adds a rule to a group's allow list by hand (APPROVED, origin MANUAL). Its id is the one learning gives the
   * same executable, so a rule that already exists (recommended, approved or revoked) is approved instead of
   * doubled; learning again refreshes its statistics and never changes its status.
   */
  async addRule(input: AddAppControlRuleInput): Promise<AppControlRule> {
    const problems: InputProblem[] = [];
    textProblems(problems, "path", input.path, MAX_RULE_PATH_LENGTH);
    const publisher = input.publisher?.trim() || null;
    const sha256 = input.sha256?.trim().toLowerCase() || null;
    if (input.kind === AppControlRuleKind.PUBLISHER) {
      textProblems(problems, "publisher", input.publisher, MAX_PUBLISHER_LENGTH);
    } else if (input.publisher != null)
      problems.push({ field: "publisher", message: "only PUBLISHER rules have a publisher" });
    if (input.kind === AppControlRuleKind.HASH) {
      if (!sha256 || !SHA256.test(sha256))
        problems.push({ field: "sha256", message: "must be 64 hex digits" });
    } else if (input.sha256 != null)
      problems.push({ field: "sha256", message: "only HASH rules have a sha256" });
    if (problems.length) throw new BadUserInputError("Invalid rule; nothing was added.", problems);
    const tenantId = this.identity.tenantId;
    // The group's id as learning wrote it (lower case): rule ids are derived from it, and one typed in another
    // case would make a second rule beside the recommended one instead of approving it.
    const groupId = canonicalId(input.groupId);
    const path = input.path.trim();
    const key = pathKey(path);
    const id = ruleIdOf(groupId, identityOf(input.kind, key, publisher, sha256));
    return this.db.write(async (m) => {
      await this.lockGroup(m, groupId);
      const [row]: Array<Record<string, unknown> & { existed: boolean }> = await m.query(
        `INSERT INTO app_control_rules AS r (tenant_id, group_id, id, kind, path, path_key, publisher, sha256, machine_count,
                                              prevalence, execution_count, first_seen, last_seen, status, origin,
                                              approved_by, approved_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0, now(), now(), 'APPROVED', 'MANUAL', $9, now())
         ON CONFLICT (id) DO UPDATE SET status = 'APPROVED', approved_by = $9, approved_at = now(),
           revoked_by = NULL, revoked_at = NULL, revoke_reason = NULL
         RETURNING r.*, (xmax <> 0) AS existed`,
        [tenantId, groupId, id, input.kind, path, key, publisher, sha256, this.identity.subject],
      );
      await m.query(
        `UPDATE app_control_groups SET updated_by = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
        [tenantId, groupId, this.identity.subject],
      );
      const details = {
        groupId,
        ruleId: id,
        kind: input.kind,
        path,
        publisher,
        sha256,
        existed: row.existed,
      };
      await writeAudit(m, this.identity, [
        { action: "appcontrol.rule.added", target: `app-control-group:${groupId}`, details },
      ]);
      await writeOutbox(m, [
        {
          tenantId,
          topic: "appcontrol.rule.added",
          key: groupId,
          payload: { ...details, actor: this.identity.subject },
        },
      ]);
      await this.syncMembers(m, groupId);
      return ruleFromRow(row);
    });
  }

  /** Sets a group's mode; AUDIT and ENFORCE need at least one approved rule (CONFLICT otherwise). */
  async setMode(input: SetAppControlModeInput): Promise<AppControlGroup> {
    const tenantId = this.identity.tenantId;
    return this.db.write(async (m) => {
      const current = await this.lockGroup(m, input.groupId);
      if (current.mode !== input.mode) {
        if (input.mode !== AppControlMode.NONE) {
          const [{ n }]: Array<{ n: number }> = await m.query(
            `SELECT count(*)::int AS n FROM app_control_rules WHERE tenant_id = $1 AND group_id = $2 AND status = 'APPROVED'`,
            [tenantId, input.groupId],
          );
          if (n === 0)
            throw new ConflictError(
              `Application-control group ${input.groupId} has no approved rule: approve its recommended rules before setting ${input.mode}.`,
            );
        }
        await m.query(
          // The allow list applies from when the group leaves NONE (AUDIT ↔ ENFORCE keeps it applied).
          `UPDATE app_control_groups SET mode = $3, updated_by = $4, updated_at = now(),
             applied_since = CASE WHEN $3 = 'NONE' THEN NULL WHEN mode = 'NONE' THEN now() ELSE applied_since END
           WHERE tenant_id = $1 AND id = $2`,
          [tenantId, input.groupId, input.mode, this.identity.subject],
        );
        const details = { groupId: input.groupId, mode: input.mode, previousMode: current.mode };
        await writeAudit(m, this.identity, [
          { action: "appcontrol.mode.set", target: `app-control-group:${input.groupId}`, details },
        ]);
        await writeOutbox(m, [
          {
            tenantId,
            topic: "appcontrol.mode.set",
            key: input.groupId,
            payload: { ...details, actor: this.identity.subject },
          },
        ]);
        await this.syncMembers(m, input.groupId);
      }
      return (await loadGroups(m, tenantId, [input.groupId]))[0];
    });
  }

  /** Re-evaluates the application-control report of a group's machines. */
  private async syncMembers(m: EntityManager, groupId: string): Promise<void> {
    const rows: Array<{ resource_id: string }> = await m.query(
      `SELECT resource_id FROM app_control_members WHERE tenant_id = $1 AND group_id = $2`,
      [this.identity.tenantId, groupId],
    );
    await syncPostureReports(
      m,
      this.identity.tenantId,
      rows.map((r) => r.resource_id),
      ["app-control"],
    );
  }
}
