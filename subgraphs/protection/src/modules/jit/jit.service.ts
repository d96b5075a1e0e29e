import DataLoader from "dataloader";
import type { EntityManager } from "typeorm";
import {
  byIdLoader,
  canonicalId,
  addJob,
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  isUuid,
  newId,
  NotFoundError,
  ResourceKind,
  resourceKindOf,
  textProblem,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import type {
  ApproveJitRequestInput,
  DenyJitRequestInput,
  JitRequestFilter,
  RemoveJitPolicyInput,
  RequestJitAccessInput,
  RevokeJitRequestInput,
  SetJitPolicyInput,
} from "./jit.inputs";
import {
  JitAuditAction,
  JitAuditEntry,
  JitAuditEntryConnection,
  JitGrant,
  JitPolicy,
  JitPort,
  JitPortState,
  JitRequest,
  JitRequestConnection,
  JitRequestStatus,
  RemoveJitPolicyPayload,
} from "./jit.types";
import {
  canonicalSource,
  checkRequestAgainstPolicy,
  formatJitDuration,
  MAX_JUSTIFICATION_LENGTH,
  PENDING_REQUEST_TTL_SECONDS,
  validatePolicyPorts,
  type JitPortSpec,
} from "./jit.validation";
import { syncPostureReports } from "../reports/sync";
import type { InventoryMachine, PostureMachines } from "../agentpolicy/machines";
import { PlanTier, PlanType } from "../plans/plan.entity";
import { jitEnforcedSql, NOT_ENFORCED_REASON } from "./enforcement";

/** The graphile-worker task that closes a request at its end (access ended, or left unanswered). */
export const JIT_EXPIRE_TASK = "jit_expire";
/** One expiry job per request: approving replaces the unanswered-request job with the grant's end. */
export const jitJobKey = (requestId: string) => `jit:${requestId}`;

export const TTL_SQL = `make_interval(secs => ${PENDING_REQUEST_TTL_SECONDS})`;
/** Time is the truth: an approved request past its end is EXPIRED even before the job has run. */
const STATUS_SQL = `CASE WHEN r.status = 'APPROVED' AND r.expires_at <= now() THEN 'EXPIRED'
  WHEN r.status = 'PENDING' AND r.requested_at <= now() - ${TTL_SQL} THEN 'EXPIRED' ELSE r.status END`;
/** The columns of a request as the API shows it (`r` is `jit_requests`). */
export const REQUEST_COLUMNS_SQL = `r.id, r.resource_id, r.ports, host(r.source_ip) AS source_ip, r.duration_seconds,
  r.justification, ${STATUS_SQL} AS status, r.requester, r.requested_at, r.decided_by, r.decided_at, r.decision_comment,
  r.expires_at, r.revoked_by, r.revoked_at, r.revoke_reason,
  coalesce(r.expired_at, CASE WHEN r.status = 'APPROVED' AND r.expires_at <= now() THEN r.expires_at
    WHEN r.status = 'PENDING' AND r.requested_at <= now() - ${TTL_SQL} THEN r.requested_at + ${TTL_SQL} END) AS expired_at`;
/** Which requests are due to expire now (`r` is `jit_requests`): ended grants and unanswered requests. */
export const DUE_SQL = `((r.status = 'APPROVED' AND r.expires_at <= now())
  OR (r.status = 'PENDING' AND r.requested_at <= now() - ${TTL_SQL}))`;

/** A `jit_requests` row selected with REQUEST_COLUMNS_SQL. */
export type JitRequestRow = Record<string, unknown> & { id: string; resource_id: string; status: string };

/**
 * Runs `UPDATE jit_requests r … ` (without RETURNING) and returns the changed rows as the API shows them. The
 * CTE makes the statement a SELECT, for which the driver returns rows (for a bare UPDATE it returns a tuple).
 */
export function updateRequests(
  m: EntityManager,
  update: string,
  params: unknown[],
): Promise<JitRequestRow[]> {
  return m.query(
    `WITH changed AS (${update} RETURNING r.*) SELECT ${REQUEST_COLUMNS_SQL} FROM changed r`,
    params,
  );
}

/** The API object of a request row. */
export function requestFromRow(row: JitRequestRow): JitRequest {
  return Object.assign(new JitRequest(), {
    id: row.id,
    resourceId: row.resource_id,
    ports: row.ports as number[],
    sourceIp: row.source_ip,
    duration: formatJitDuration(Number(row.duration_seconds)),
    justification: row.justification,
    status: row.status as JitRequestStatus,
    requester: row.requester,
    requestedAt: row.requested_at,
    decidedBy: row.decided_by ?? null,
    decidedAt: row.decided_at ?? null,
    decisionComment: row.decision_comment ?? null,
    expiresAt: row.expires_at ?? null,
    revokedBy: row.revoked_by ?? null,
    revokedAt: row.revoked_at ?? null,
    revokeReason: row.revoke_reason ?? null,
    expiredAt: row.expired_at ?? null,
  });
}

/** Outbox topics (and audit actions) of request steps. */
export type JitRequestStep = "created" | "approved" | "denied" | "revoked" | "expired";

/**
 * Records one step of a request in the step's transaction: the audit entry (what the request's history and
 * `jitAuditLog` show) and the `jit.request.<step>` outbox event.
 */
export async function recordRequestStep(
  m: EntityManager,
  identity: Identity,
  steps: Array<{ request: JitRequest; step: JitRequestStep; details?: Record<string, unknown> }>,
): Promise<void> {
  const describe = (r: JitRequest) => ({
    requestId: r.id,
    resourceId: r.resourceId,
    ports: r.ports,
    sourceIp: r.sourceIp,
    duration: r.duration,
    requester: r.requester,
    expiresAt: r.expiresAt,
  });
  await writeAudit(
    m,
    identity,
    steps.map(({ request, step, details }) => ({
      action: `jit.request.${step}`,
      target: `jit-request:${request.id}`,
      details: { ...describe(request), ...details },
    })),
  );
  await writeOutbox(
    m,
    steps.map(({ request, step, details }) => ({
      tenantId: identity.tenantId,
      topic: `jit.request.${step}`,
      key: request.id,
      payload: { ...describe(request), status: request.status, actor: identity.subject, ...details },
    })),
  );
}

/** Reads policies with their effective state: one statement for any number of resources. */
async function loadPolicies(
  m: EntityManager,
  tenantId: string,
  resourceIds: readonly string[],
): Promise<Map<string, JitPolicy>> {
  const rows: Array<Record<string, unknown>> = resourceIds.length
    ? await m.query(
        `SELECT p.id, p.resource_id, p.ports, p.created_by, p.created_at, p.updated_by, p.updated_at,
           ${jitEnforcedSql("p")} AS enforced,
           coalesce((SELECT jsonb_agg(jsonb_build_object('requestId', r.id, 'ports', r.ports, 'sourceIp', host(r.source_ip),
                       'requester', r.requester, 'approvedBy', r.decided_by, 'expiresAt', r.expires_at) ORDER BY r.expires_at, r.id)
                     FROM jit_requests r
                     WHERE r.tenant_id = p.tenant_id AND r.resource_id = p.resource_id
                       AND r.status = 'APPROVED' AND r.expires_at > now()), '[]'::jsonb) AS grants
         FROM jit_policies p WHERE p.tenant_id = $1 AND p.resource_id = ANY($2::uuid[])`,
        [tenantId, resourceIds],
      )
    : [];
  const out = new Map<string, JitPolicy>();
  for (const row of rows) {
    const grants = row.grants as Array<{
      requestId: string;
      ports: number[];
      sourceIp: string;
      requester: string;
      approvedBy: string;
      expiresAt: string;
    }>;
    const ports = (row.ports as JitPortSpec[]).map((spec) => {
      const active = grants
        .filter((g) => g.ports.includes(spec.number))
        .map((g) =>
          Object.assign(new JitGrant(), {
            requestId: g.requestId,
            sourceIp: g.sourceIp,
            requester: g.requester,
            approvedBy: g.approvedBy,
            expiresAt: new Date(g.expiresAt),
          }),
        );
      return Object.assign(new JitPort(), {
        number: spec.number,
        protocol: spec.protocol,
        allowedSourcePrefixes: spec.allowedSourcePrefixes,
        maxDuration: spec.maxDuration,
        state: !row.enforced
          ? JitPortState.NOT_ENFORCED
          : active.length
            ? JitPortState.OPEN
            : JitPortState.LOCKED,
        activeGrants: active,
      });
    });
    out.set(
      row.resource_id as string,
      Object.assign(new JitPolicy(), {
        id: row.id,
        resourceId: row.resource_id,
        ports,
        enforced: row.enforced,
        createdBy: row.created_by,
        createdAt: row.created_at,
        updatedBy: row.updated_by,
        updatedAt: row.updated_at,
      }),
    );
  }
  return out;
}

const AUDIT_ACTIONS: Record<string, JitAuditAction> = {
  "jit.policy.set": JitAuditAction.POLICY_SET,
  "jit.policy.removed": JitAuditAction.POLICY_REMOVED,
  "jit.request.created": JitAuditAction.REQUEST_CREATED,
  "jit.request.approved": JitAuditAction.REQUEST_APPROVED,
  "jit.request.denied": JitAuditAction.REQUEST_DENIED,
  "jit.request.revoked": JitAuditAction.REQUEST_REVOKED,
  "jit.request.expired": JitAuditAction.REQUEST_EXPIRED,
};

function auditFromRow(row: Record<string, unknown>): JitAuditEntry {
  const details = row.details as Record<string, unknown>;
  return Object.assign(new JitAuditEntry(), {
    id: String(row.id),
    at: row.at,
    actor: row.actor,
    action: AUDIT_ACTIONS[row.action as string],
    resourceId: details.resourceId,
    requestId: (details.requestId as string | undefined) ?? null,
    details,
  });
}

/** Why a request in `status` cannot be approved, denied or revoked. */
function notOpenMessage(request: JitRequest, wanted: string): string {
  switch (request.status) {
    case JitRequestStatus.APPROVED:
      return `JIT request ${request.id} is already approved (access open until ${request.expiresAt?.toISOString()}); it cannot be ${wanted}.`;
    case JitRequestStatus.DENIED:
      return `JIT request ${request.id} was denied; it cannot be ${wanted}.`;
    case JitRequestStatus.REVOKED:
      return `JIT request ${request.id} was revoked; it cannot be ${wanted}.`;
    case JitRequestStatus.EXPIRED:
      return `JIT request ${request.id} has expired; it cannot be ${wanted}. Ask for access again.`;
    default:
      return `JIT request ${request.id} is still pending; it cannot be ${wanted} (deny it instead).`;
  }
}

function checkText(
  problems: InputProblem[],
  field: string,
  value: string | null | undefined,
  required: boolean,
) {
  const text = value?.trim() ?? "";
  if ((required && !text) || text.length > MAX_JUSTIFICATION_LENGTH)
    problems.push({
      field,
      message: `must be ${required ? "1" : "0"} to ${MAX_JUSTIFICATION_LENGTH} characters`,
    });
  // Stored as text and in the audit trail's jsonb, which hold no NUL and no unpaired surrogate.
  const unstorable = textProblem(text);
  if (unstorable) problems.push({ field, message: unstorable });
}

/**
 * Just-in-time VM access: policies per VM, requests, decisions by a second responder, revocation, and the
 * effective port state. Every step is one transaction with its audit entry and outbox event; grants end by a
 * durable job (see `jit.tasks.ts`), and every read treats time as the truth meanwhile.
 */
export class JitService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly machines: PostureMachines,
  ) {}

  /** Per-request loader: the JIT policy of each resource with its effective port state (null when none). */
  readonly policyByResource = new DataLoader<string, JitPolicy | null>(
    async (ids) => {
      const valid = ids.filter(isUuid);
      const policies = valid.length
        ? await this.db.read((m) => loadPolicies(m, this.identity.tenantId, valid))
        : new Map<string, JitPolicy>();
      return ids.map((id) => policies.get(canonicalId(id)) ?? null);
    },
    { cacheKeyFn: canonicalId },
  );

  /** Per-request loader of requests by id. */
  readonly requestById = byIdLoader(async (ids) => {
    const rows: JitRequestRow[] = await this.db.read((m) =>
      m.query(
        `SELECT ${REQUEST_COLUMNS_SQL} FROM jit_requests r WHERE r.tenant_id = $1 AND r.id = ANY($2::uuid[])`,
        [this.identity.tenantId, ids.filter(isUuid)],
      ),
    );
    return rows.map(requestFromRow);
  });

  /** Per-request loader: each request's audit trail, oldest first, for many requests in one statement. */
  readonly historyOf = new DataLoader<JitRequest, JitAuditEntry[], string>(
    async (requests) => {
      const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
        m.query(
          `SELECT id, at, actor, action, details FROM audit_log
           WHERE tenant_id = $1 AND jit_resource_id = ANY($2::text[])
             AND details->>'requestId' = ANY($3::text[])
           ORDER BY id`,
          [
            this.identity.tenantId,
            [...new Set(requests.map((r) => r.resourceId))],
            requests.map((r) => r.id),
          ],
        ),
      );
      const entries = rows.map(auditFromRow);
      return requests.map((r) => entries.filter((e) => e.requestId === r.id));
    },
    { cacheKeyFn: (r) => r.id },
  );

  /** Creates or replaces a VM's policy. Existing grants stay valid until they expire. */
  /**
   * A policy is for a virtual machine of the caller's tenant: protection holds no inventory, so it asks posture (the
   * inventory's owner) before its transaction opens. A machine posture does not have for the tenant (unknown, or
   * another tenant's) is NOT_FOUND, another kind of resource BAD_USER_INPUT, and no answer UNAVAILABLE: nothing is
   * written in any of these cases. A machine removed between the answer and the commit has its policy removed with
   * it by the resource-removal relay, as one removed later does.
   */
  private async requireVirtualMachine(resourceId: string, asGiven: string): Promise<InventoryMachine> {
    const machine = await this.machines.findOrUnavailable(this.identity.tenantId, resourceId, "changed");
    if (!machine) throw new NotFoundError("Resource", asGiven);
    if (resourceKindOf(machine.type) !== ResourceKind.VIRTUAL_MACHINE)
      throw new BadUserInputError("Just-in-time access is for virtual machines; nothing was changed.", [
        { field: "resourceId", message: `a ${machine.type} is not a virtual machine` },
      ]);
    return machine;
  }

  async setPolicy(input: SetJitPolicyInput): Promise<JitPolicy> {
    const problems: InputProblem[] = [];
    if (!isUuid(input.resourceId))
      problems.push({ field: "resourceId", message: "must be a resource id (UUID)" });
    const { ports, problems: portProblems } = validatePolicyPorts(input.ports);
    problems.push(...portProblems);
    if (problems.length) throw new BadUserInputError("Invalid JIT policy; nothing was changed.", problems);
    // The canonical id, as Postgres answers it: the audit trail and the answer are keyed by it.
    const resourceId = canonicalId(input.resourceId);
    const machine = await this.requireVirtualMachine(resourceId, input.resourceId);
    return this.db.write(async (m) => {
      // Only a covered machine's agent locks ports: a policy it would not enforce is refused, not stored as a
      // promise nobody keeps. (A plan turned off later leaves the policy in place, shown as not enforced.)
      const [plan]: Array<{ tier: string }> = await m.query(
        `SELECT tier FROM plans WHERE tenant_id = $1 AND account_id = $2 AND plan_type = $3`,
        [this.identity.tenantId, machine.accountId, PlanType.SERVERS],
      );
      if (plan?.tier !== PlanTier.STANDARD)
        throw new BadUserInputError("Just-in-time access needs workload protection; nothing was changed.", [
          {
            field: "resourceId",
            message: `the SERVERS plan of the machine's account ${machine.accountId} is ${plan?.tier ?? PlanTier.FREE}: set it to ${PlanTier.STANDARD} (setPlan) first`,
          },
        ]);
      const before: Array<{ ports: JitPortSpec[]; created_at: Date }> = await m.query(
        `SELECT ports, created_at FROM jit_policies WHERE tenant_id = $1 AND resource_id = $2 FOR UPDATE`,
        [this.identity.tenantId, resourceId],
      );
      // A port kept with the same protocol stays locked since it first was; a new one is locked from now.
      const [{ now }]: Array<{ now: Date }> = await m.query(`SELECT now() AS now`);
      for (const port of ports) {
        const kept = before[0]?.ports.find((p) => p.number === port.number && p.protocol === port.protocol);
        port.lockedSince = kept
          ? (kept.lockedSince ?? new Date(before[0].created_at).toISOString())
          : new Date(now).toISOString();
      }
      await m.query(
        `INSERT INTO jit_policies (tenant_id, id, resource_id, ports, created_by, updated_by, account_id)
         VALUES ($1, $2, $3, $4, $5, $5, $6)
         ON CONFLICT (tenant_id, resource_id) DO UPDATE
           SET ports = excluded.ports, updated_by = excluded.updated_by, updated_at = now(),
               account_id = excluded.account_id`,
        [
          this.identity.tenantId,
          newId(),
          resourceId,
          JSON.stringify(ports),
          this.identity.subject,
          machine.accountId,
        ],
      );
      const summary = (list: JitPortSpec[]) =>
        list.map(
          ({ maxDurationSeconds: _s, lockedSince: _l, ...port }) =>
            port as Omit<JitPortSpec, "maxDurationSeconds" | "lockedSince">,
        );
      const details = {
        resourceId,
        ports: summary(ports),
        previousPorts: before.length ? summary(before[0].ports) : null,
      };
      await writeAudit(m, this.identity, [
        { action: "jit.policy.set", target: `resource:${resourceId}`, details },
      ]);
      await writeOutbox(m, [
        {
          tenantId: this.identity.tenantId,
          topic: "jit.policy.set",
          key: resourceId,
          payload: { ...details, actor: this.identity.subject },
        },
      ]);
      await syncPostureReports(m, this.identity.tenantId, [resourceId], ["management-ports"]);
      return (await loadPolicies(m, this.identity.tenantId, [resourceId])).get(resourceId)!;
    });
  }

  /** Removes a VM's policy: its active grants are revoked and its pending requests denied, in one transaction. */
  async removePolicy(input: RemoveJitPolicyInput): Promise<RemoveJitPolicyPayload> {
    if (!isUuid(input.resourceId)) throw new NotFoundError("JIT policy of resource", input.resourceId);
    const resourceId = canonicalId(input.resourceId);
    return this.db.write(async (m) => {
      const removed: Array<{ ports: JitPortSpec[] }> = await m.query(
        `WITH removed AS (DELETE FROM jit_policies WHERE tenant_id = $1 AND resource_id = $2 RETURNING ports)
         SELECT ports FROM removed`,
        [this.identity.tenantId, resourceId],
      );
      if (!removed.length) throw new NotFoundError("JIT policy of resource", input.resourceId);
      const reason = "JIT policy removed";
      const revoked = await updateRequests(
        m,
        `UPDATE jit_requests r SET status = 'REVOKED', revoked_by = $3, revoked_at = now(), revoke_reason = $4
         WHERE r.tenant_id = $1 AND r.resource_id = $2 AND r.status = 'APPROVED' AND r.expires_at > now()`,
        [this.identity.tenantId, resourceId, this.identity.subject, reason],
      );
      const denied = await updateRequests(
        m,
        `UPDATE jit_requests r SET status = 'DENIED', decided_by = $3, decided_at = now(), decision_comment = $4
         WHERE r.tenant_id = $1 AND r.resource_id = $2 AND r.status = 'PENDING' AND r.requested_at > now() - ${TTL_SQL}`,
        [this.identity.tenantId, resourceId, this.identity.subject, reason],
      );
      const details = { resourceId, ports: removed[0].ports.map((p) => p.number) };
      await writeAudit(m, this.identity, [
        {
          action: "jit.policy.removed",
          target: `resource:${resourceId}`,
          details: { ...details, revoked: revoked.map((r) => r.id), denied: denied.map((r) => r.id) },
        },
      ]);
      await writeOutbox(m, [
        {
          tenantId: this.identity.tenantId,
          topic: "jit.policy.removed",
          key: resourceId,
          payload: { ...details, actor: this.identity.subject },
        },
      ]);
      await syncPostureReports(m, this.identity.tenantId, [resourceId], ["management-ports"]);
      await recordRequestStep(m, this.identity, [
        ...revoked.map((r) => ({
          request: requestFromRow(r),
          step: "revoked" as const,
          details: { reason },
        })),
        ...denied.map((r) => ({ request: requestFromRow(r), step: "denied" as const, details: { reason } })),
      ]);
      return Object.assign(new RemoveJitPolicyPayload(), {
        resourceId,
        revokedRequestIds: revoked.map((r) => r.id),
        deniedRequestIds: denied.map((r) => r.id),
      });
    });
  }

  /**
   * Asks for access; it opens only once another responder approves. Without a `sourceIp`, the source is the
   * caller's own address as the gateway vouches for it in the signed identity ("my IP"), held to the same
   * policy checks as one typed in; when the gateway could not tell it, the request is refused.
   */
  async request(input: RequestJitAccessInput): Promise<JitRequest> {
    const problems: InputProblem[] = [];
    checkText(problems, "justification", input.justification, true);
    const sourceIsCaller = input.sourceIp === undefined || input.sourceIp === null;
    const given = sourceIsCaller ? this.identity.clientAddress : input.sourceIp;
    const sourceIp = given === undefined || given === null ? given : canonicalSource(given);
    if (sourceIp === undefined || sourceIp === null)
      problems.push({
        field: "sourceIp",
        message: "is required here: the gateway passed no address of yours to use in its place",
      });
    if (!isUuid(input.resourceId)) {
      problems.push({ field: "resourceId", message: "must be a resource id (UUID)" });
      throw new BadUserInputError("Invalid JIT request; nothing was changed.", problems);
    }
    return this.db.write(async (m) => {
      // FOR SHARE: the policy cannot change or disappear until this request is stored.
      const [policy]: Array<{ ports: JitPortSpec[]; enforced: boolean }> = await m.query(
        `SELECT ports, ${jitEnforcedSql("p")} AS enforced FROM jit_policies p
         WHERE tenant_id = $1 AND resource_id = $2 FOR SHARE OF p`,
        [this.identity.tenantId, input.resourceId],
      );
      if (!policy) throw new NotFoundError("JIT policy of resource", input.resourceId);
      // The ports are not locked, so there is nothing to open: asking would only leave a misleading trail.
      if (!policy.enforced)
        problems.push({
          field: "resourceId",
          message: `its JIT policy is not enforced: ${NOT_ENFORCED_REASON}`,
        });
      if (sourceIp === undefined || sourceIp === null)
        throw new BadUserInputError("Invalid JIT request; nothing was changed.", problems);
      const checked = checkRequestAgainstPolicy({ ...input, sourceIp, sourceIsCaller }, policy.ports);
      problems.push(...checked.problems);
      if (problems.length) throw new BadUserInputError("Invalid JIT request; nothing was changed.", problems);
      const [row]: JitRequestRow[] = await m.query(
        `INSERT INTO jit_requests AS r (tenant_id, id, resource_id, ports, source_ip, duration_seconds, justification, status, requester, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', $8, date_trunc('milliseconds', now()))
         RETURNING ${REQUEST_COLUMNS_SQL}, r.requested_at + ${TTL_SQL} AS lapses_at`,
        [
          this.identity.tenantId,
          newId(),
          input.resourceId,
          [...input.ports].sort((a, b) => a - b),
          sourceIp,
          checked.durationSeconds,
          input.justification.trim(),
          this.identity.subject,
        ],
      );
      const request = requestFromRow(row);
      await addJob(
        m,
        "protection",
        JIT_EXPIRE_TASK,
        { tenantId: this.identity.tenantId, requestId: request.id },
        { runAt: row.lapses_at as Date, jobKey: jitJobKey(request.id) },
      );
      await recordRequestStep(m, this.identity, [
        {
          request,
          step: "created",
          // Whether the source was typed in or is the caller's own address: the audit trail tells them apart.
          details: {
            justification: request.justification,
            sourceIpFrom: sourceIsCaller ? "CALLER" : "INPUT",
          },
        },
      ]);
      return request;
    });
  }

  /**
   * Approves a pending request: access opens now for the requested duration. The approver must not be the
   * requester. Locks the policy (shared) and then the request, the same order `removePolicy` takes, so a
   * concurrent approval waits and then sees APPROVED (CONFLICT) and no two transactions deadlock.
   */
  async approve(input: ApproveJitRequestInput): Promise<JitRequest> {
    const problems: InputProblem[] = [];
    checkText(problems, "comment", input.comment, false);
    if (problems.length) throw new BadUserInputError("Invalid approval; nothing was changed.", problems);
    return this.decide(input.id, "approved", async (m, current) => {
      const [policy]: Array<{ ports: JitPortSpec[]; enforced: boolean }> = await m.query(
        `SELECT ports, ${jitEnforcedSql("p")} AS enforced FROM jit_policies p WHERE tenant_id = $1 AND resource_id = $2`,
        [this.identity.tenantId, current.resourceId],
      );
      if (!policy)
        throw new ConflictError(
          `JIT request ${current.id} cannot be approved: its resource has no JIT policy any more.`,
        );
      if (!policy.enforced)
        throw new ConflictError(
          `JIT request ${current.id} cannot be approved: its resource's JIT policy is not enforced (${NOT_ENFORCED_REASON}).`,
        );
      const recheck = checkRequestAgainstPolicy(current, policy.ports);
      if (recheck.problems.length) {
        throw new ConflictError(
          `JIT request ${current.id} no longer fits the resource's JIT policy: ${recheck.problems.map((p) => p.message).join("; ")}.`,
        );
      }
      const [row] = await updateRequests(
        m,
        `UPDATE jit_requests r SET status = 'APPROVED', decided_by = $3, decided_at = now(), decision_comment = $4,
           expires_at = date_trunc('milliseconds', now()) + make_interval(secs => r.duration_seconds)
         WHERE r.tenant_id = $1 AND r.id = $2`,
        [this.identity.tenantId, current.id, this.identity.subject, input.comment?.trim() || null],
      );
      const approved = requestFromRow(row);
      // Replaces the unanswered-request job: one job per request, due when the access ends.
      await addJob(
        m,
        "protection",
        JIT_EXPIRE_TASK,
        { tenantId: this.identity.tenantId, requestId: approved.id },
        { runAt: approved.expiresAt!, jobKey: jitJobKey(approved.id) },
      );
      return { request: approved, details: { comment: approved.decisionComment } };
    });
  }

  /** Denies a pending request (not by its requester). */
  async deny(input: DenyJitRequestInput): Promise<JitRequest> {
    const problems: InputProblem[] = [];
    checkText(problems, "reason", input.reason, true);
    if (problems.length) throw new BadUserInputError("Invalid denial; nothing was changed.", problems);
    return this.decide(input.id, "denied", async (m, current) => {
      const [row] = await updateRequests(
        m,
        `UPDATE jit_requests r SET status = 'DENIED', decided_by = $3, decided_at = now(), decision_comment = $4
         WHERE r.tenant_id = $1 AND r.id = $2`,
        [this.identity.tenantId, current.id, this.identity.subject, input.reason.trim()],
      );
      return { request: requestFromRow(row), details: { reason: input.reason.trim() } };
    });
  }

  /** Closes an approved request's access before it expires (anyone with RESPONDER, the requester included). */
  async revoke(input: RevokeJitRequestInput): Promise<JitRequest> {
    const problems: InputProblem[] = [];
    checkText(problems, "reason", input.reason, true);
    if (problems.length) throw new BadUserInputError("Invalid revocation; nothing was changed.", problems);
    return this.db.write(async (m) => {
      const current = await this.lockRequest(m, input.id);
      if (current.status !== JitRequestStatus.APPROVED)
        throw new ConflictError(notOpenMessage(current, "revoked"));
      const [row] = await updateRequests(
        m,
        `UPDATE jit_requests r SET status = 'REVOKED', revoked_by = $3, revoked_at = now(), revoke_reason = $4
         WHERE r.tenant_id = $1 AND r.id = $2`,
        [this.identity.tenantId, current.id, this.identity.subject, input.reason.trim()],
      );
      const revoked = requestFromRow(row);
      await recordRequestStep(m, this.identity, [
        { request: revoked, step: "revoked", details: { reason: revoked.revokeReason } },
      ]);
      return revoked;
    });
  }

  /** Requests of the tenant, newest first. */
  async list(filter: JitRequestFilter | undefined, args: PageArgs): Promise<JitRequestConnection> {
    const page = toKeysetPage(args, "none");
    const where = ["r.tenant_id = $1"];
    const params: unknown[] = [this.identity.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replaceAll("?", `$${params.length}`));
    };
    if (filter?.resourceId != null) {
      if (!isUuid(filter.resourceId))
        throw new BadUserInputError("Invalid filter.", [
          { field: "filter.resourceId", message: "must be a resource id (UUID)" },
        ]);
      add("r.resource_id = ?::uuid", filter.resourceId);
    }
    if (filter?.statuses?.length) add(`(${STATUS_SQL}) = ANY(?::text[])`, filter.statuses);
    if (filter?.requester != null) {
      const unstorable = textProblem(filter.requester);
      if (unstorable)
        throw new BadUserInputError("Invalid filter.", [{ field: "filter.requester", message: unstorable }]);
      add("r.requester = ?", filter.requester);
    }
    const base = [...params];
    const baseWhere = where.join(" AND ");
    if (page.after) add("r.id < ?::uuid", page.after[1]);
    params.push(page.first + 1);
    const rows: JitRequestRow[] = await this.db.read((m) =>
      m.query(
        `SELECT ${REQUEST_COLUMNS_SQL} FROM jit_requests r WHERE ${where.join(" AND ")}
         ORDER BY r.id DESC LIMIT $${params.length}`,
        params,
      ),
    );
    return JitRequestConnection.from({
      rows: rows.map(requestFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM jit_requests r WHERE ${baseWhere}`, base),
            )
          )[0].n,
        ),
      cursorOf: (r) => [null, r.id],
    });
  }

  /** The JIT audit trail of one resource (policy and request steps), newest first. */
  async auditLog(id: string, args: PageArgs): Promise<JitAuditEntryConnection> {
    const page = toKeysetPage(args, "none", "bigint");
    if (!isUuid(id))
      throw new BadUserInputError("Invalid resource id.", [
        { field: "resourceId", message: "must be a resource id (UUID)" },
      ]);
    // Entries hold the canonical (lower-case) id.
    const resourceId = canonicalId(id);
    // `jit_resource_id` is the stored resource id of `jit.*` entries: plain `=` lets Postgres use its
    // index under the tenant policy (`->>` is not leakproof).
    const where = `tenant_id = $1 AND jit_resource_id = $2`;
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT id, at, actor, action, details FROM audit_log
         WHERE ${where} AND ($3::bigint IS NULL OR id < $3::bigint) ORDER BY id DESC LIMIT $4`,
        [this.identity.tenantId, resourceId, page.after?.[1] ?? null, page.first + 1],
      ),
    );
    return JitAuditEntryConnection.from({
      rows: rows.map(auditFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM audit_log WHERE ${where}`, [
                this.identity.tenantId,
                resourceId,
              ]),
            )
          )[0].n,
        ),
      cursorOf: (e) => [null, e.id],
    });
  }

  /** Loads and locks a request (NOT_FOUND when absent in this tenant). */
  private async lockRequest(m: EntityManager, id: string): Promise<JitRequest> {
    const [row]: JitRequestRow[] = isUuid(id)
      ? await m.query(
          `SELECT ${REQUEST_COLUMNS_SQL} FROM jit_requests r WHERE r.tenant_id = $1 AND r.id = $2 FOR UPDATE`,
          [this.identity.tenantId, id],
        )
      : [];
    if (!row) throw new NotFoundError("JIT request", id);
    return requestFromRow(row);
  }

  /**
   * Approve or deny: the request must be PENDING (and not lapsed) and the decider must not be its requester.
   * The policy row is locked (shared) before the request, the order `removePolicy` uses.
   */
  private decide(
    id: string,
    step: "approved" | "denied",
    apply: (
      m: EntityManager,
      current: JitRequest,
    ) => Promise<{ request: JitRequest; details: Record<string, unknown> }>,
  ): Promise<JitRequest> {
    return this.db.write(async (m) => {
      const [peek]: Array<{ resource_id: string }> = isUuid(id)
        ? await m.query(`SELECT resource_id FROM jit_requests WHERE tenant_id = $1 AND id = $2`, [
            this.identity.tenantId,
            id,
          ])
        : [];
      if (!peek) throw new NotFoundError("JIT request", id);
      await m.query(`SELECT 1 FROM jit_policies WHERE tenant_id = $1 AND resource_id = $2 FOR SHARE`, [
        this.identity.tenantId,
        peek.resource_id,
      ]);
      const current = await this.lockRequest(m, id);
      if (current.requester === this.identity.subject) {
        throw new ForbiddenError(
          `You requested JIT access ${id} yourself; another responder must ${step === "approved" ? "approve" : "deny"} it.`,
        );
      }
      if (current.status !== JitRequestStatus.PENDING)
        throw new ConflictError(notOpenMessage(current, step === "approved" ? "approved" : "denied"));
      const { request, details } = await apply(m, current);
      await recordRequestStep(m, this.identity, [{ request, step, details }]);
      return request;
    });
  }
}
