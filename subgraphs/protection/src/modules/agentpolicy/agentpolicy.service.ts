import { createHash } from "node:crypto";
import {
  canonicalId,
  ForbiddenError,
  isUuid,
  NotFoundError,
  Role,
  type Identity,
  type RequestDb,
} from "../../../../common/src";
import type { AppControlMode, AppControlRuleKind } from "../appcontrol/appcontrol.types";
import { FimWatchedPath, FimWatchListSource } from "../fim/fim.types";
import { DEFAULT_WATCH_LIST, type WatchEntry } from "../fim/paths";
import type { JitPortSpec } from "../jit/jit.validation";
import { planTypeFor } from "../plans/coverage";
import { PlanTier, PlanType } from "../plans/plan.entity";
import { syncPostureReports } from "../reports/sync";
import {
  AgentAppControlPolicy,
  AgentAppControlRule,
  AgentFileIntegrityPolicy,
  AgentJitGrant,
  AgentJitPolicy,
  AgentJitPort,
  AgentPolicy,
} from "./agentpolicy.types";
import { MACHINE_BINDING_REQUIRED, unboundAgent } from "./credentials.service";
import type { PostureMachines } from "./machines";

/** The longest an agent waits between two polls: policy changes other than JIT expiry reach it within this. */
export const MAX_REFRESH_SECONDS = 300;

/**
 * Everything protection decides for one machine, in one statement whatever the number of ports, grants, rules
 * and paths: the SERVERS plan's tier in its account, the JIT policy and its open grants, the application-control
 * group with its approved rules, and the group's and the tenant's FIM lists. `now()` is the transaction's time,
 * the one the grants were judged open at.
 */
const POLICY_SQL = `SELECT now() AS now,
  coalesce((SELECT require_machine_binding FROM tenant_settings WHERE tenant_id = $1), false) AS binding_required,
  (SELECT tier FROM plans WHERE tenant_id = $1 AND account_id = $3 AND plan_type = $4) AS servers_tier,
  jp.ports AS jit_ports, (jp.id IS NOT NULL AND jp.account_id IS NULL) AS jit_account_unknown,
  coalesce((SELECT jsonb_agg(jsonb_build_object('requestId', r.id, 'ports', r.ports,
              'sourcePrefix', host(r.source_ip) || CASE family(r.source_ip) WHEN 4 THEN '/32' ELSE '/128' END,
              'until', r.expires_at) ORDER BY r.expires_at, r.id)
            FROM jit_requests r
            WHERE r.tenant_id = $1 AND r.resource_id = $2 AND r.status = 'APPROVED' AND r.expires_at > now()),
    '[]'::jsonb) AS grants,
  g.id AS group_id, g.name AS group_name, g.mode,
  coalesce((SELECT jsonb_agg(jsonb_build_object('kind', ru.kind, 'path', ru.path, 'publisher', ru.publisher,
              'sha256', ru.sha256) ORDER BY ru.path_key, ru.kind, ru.id)
            FROM app_control_rules ru WHERE ru.tenant_id = $1 AND ru.group_id = g.id AND ru.status = 'APPROVED'),
    '[]'::jsonb) AS rules,
  gl.paths AS group_paths, tl.paths AS tenant_paths
FROM (SELECT 1) AS one
LEFT JOIN jit_policies jp ON jp.tenant_id = $1 AND jp.resource_id = $2
LEFT JOIN app_control_members mem ON mem.tenant_id = $1 AND mem.resource_id = $2
LEFT JOIN app_control_groups g ON g.tenant_id = $1 AND g.id = mem.group_id
LEFT JOIN fim_watch_lists gl ON gl.tenant_id = $1 AND gl.group_id = mem.group_id
LEFT JOIN fim_watch_lists tl ON tl.tenant_id = $1 AND tl.group_id IS NULL`;

interface PolicyRow {
  now: Date;
  binding_required: boolean;
  servers_tier: string | null;
  jit_ports: JitPortSpec[] | null;
  jit_account_unknown: boolean;
  grants: Array<{ requestId: string; ports: number[]; sourcePrefix: string; until: string }>;
  group_id: string | null;
  group_name: string | null;
  mode: AppControlMode | null;
  rules: Array<{ kind: AppControlRuleKind; path: string; publisher: string | null; sha256: string | null }>;
  group_paths: WatchEntry[] | null;
  tenant_paths: WatchEntry[] | null;
}

function jitPolicy(row: PolicyRow): AgentJitPolicy | null {
  if (!row.jit_ports) return null;
  const specs = [...row.jit_ports].sort(
    (a, b) => a.number - b.number || a.protocol.localeCompare(b.protocol),
  );
  // A grant opens the ports of its request that the policy manages (a port dropped from the policy is no
  // longer locked, so there is nothing to open on it).
  const grants = row.grants.flatMap((g) =>
    specs
      .filter((spec) => g.ports.includes(spec.number))
      .map((spec) =>
        Object.assign(new AgentJitGrant(), {
          requestId: g.requestId,
          sourcePrefix: g.sourcePrefix,
          port: spec.number,
          protocol: spec.protocol,
          until: new Date(g.until),
        }),
      ),
  );
  return Object.assign(new AgentJitPolicy(), {
    ports: specs.map((spec) =>
      Object.assign(new AgentJitPort(), {
        number: spec.number,
        protocol: spec.protocol,
        locked: !grants.some((g) => g.port === spec.number && g.protocol === spec.protocol),
      }),
    ),
    grants,
  });
}

function appControlPolicy(row: PolicyRow): AgentAppControlPolicy | null {
  if (!row.group_id) return null;
  return Object.assign(new AgentAppControlPolicy(), {
    groupId: row.group_id,
    groupName: row.group_name,
    mode: row.mode,
    rules: row.rules.map((r) => Object.assign(new AgentAppControlRule(), r)),
  });
}

/** The list in force: the group's own, else the tenant's, else the built-in one (as `watch-lists.ts` decides). */
function fileIntegrityPolicy(row: PolicyRow): AgentFileIntegrityPolicy {
  const [source, entries]: [FimWatchListSource, readonly WatchEntry[]] = row.group_paths
    ? [FimWatchListSource.GROUP, row.group_paths]
    : row.tenant_paths
      ? [FimWatchListSource.TENANT, row.tenant_paths]
      : [FimWatchListSource.DEFAULT, DEFAULT_WATCH_LIST];
  return Object.assign(new AgentFileIntegrityPolicy(), {
    source,
    paths: entries.map(({ path, recursive, critical }) =>
      Object.assign(new FimWatchedPath(), { path, recursive, critical }),
    ),
  });
}

/**
 * The digest of what the agent enforces. JSON of objects built in a fixed key order from rows in a fixed order,
 * so equal policies give equal digests; `refreshAfterSeconds` and `generatedAt` change at every read and stay out.
 */
export function policyEtag(
  policy: Pick<AgentPolicy, "covered" | "jit" | "applicationControl" | "fileIntegrity">,
) {
  const body = JSON.stringify([policy.covered, policy.jit, policy.applicationControl, policy.fileIntegrity]);
  return createHash("sha256").update(body).digest("base64url");
}

/** Seconds until the soonest grant ends (rounded up, at least 1), at most MAX_REFRESH_SECONDS. */
export function refreshAfter(now: Date, jit: AgentJitPolicy | null): number {
  const ends = (jit?.grants ?? []).map((g) => Math.ceil((g.until.getTime() - now.getTime()) / 1000));
  return Math.min(MAX_REFRESH_SECONDS, ...ends.map((s) => Math.max(1, s)));
}

/**
 * The effective policy of a machine for its agent: JIT ports and open grants, the application-control allow list
 * and mode, the FIM watch list, with an etag and when to ask again. Posture says whether the tenant has the
 * machine and what it is; protection answers the rest from one statement.
 */
export class AgentPolicyService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly machines: PostureMachines,
  ) {}

  /**
   * NOT_FOUND for a machine the tenant's inventory lacks, and for a machine-bound credential any machine but its
   * own (before anything is read: the answer of an unknown machine, so it learns of no other); an empty policy
   * (`covered: false`) when not covered. The tenant's agent credential policy comes with the policy's statement
   * (no statement more): an unbound INGESTOR token is refused once the machine is found.
   */
  async forMachine(resourceId: string): Promise<AgentPolicy> {
    if (!isUuid(resourceId)) throw new NotFoundError("Resource", resourceId);
    const id = canonicalId(resourceId);
    const bound = this.identity.resourceId;
    if (bound !== undefined && bound !== id) throw new NotFoundError("Resource", resourceId);
    const machine = await this.machines.findOrUnavailable(this.identity.tenantId, id, "read");
    if (!machine) throw new NotFoundError("Resource", resourceId);
    const [row]: PolicyRow[] = await this.db.read((m) =>
      m.query(POLICY_SQL, [this.identity.tenantId, id, machine.accountId, PlanType.SERVERS]),
    );
    if (row.binding_required && unboundAgent(this.identity, Role.READER))
      throw new ForbiddenError(MACHINE_BINDING_REQUIRED);
    // A JIT policy stored before policies recorded their account (migration 1767410000000) learns it here, from
    // posture's answer, the first time its agent polls: from then on every reader judges its enforcement by
    // the plan, as the agent does, and its management-ports report is brought in line in the same transaction.
    if (row.jit_account_unknown)
      await this.db.write(async (m) => {
        const filled: unknown[] = await m.query(
          `UPDATE jit_policies SET account_id = $3
           WHERE tenant_id = $1 AND resource_id = $2 AND account_id IS NULL RETURNING resource_id`,
          [this.identity.tenantId, id, machine.accountId],
        );
        if (filled.length) await syncPostureReports(m, this.identity.tenantId, [id], ["management-ports"]);
      });
    const covered = planTypeFor(machine.type) === PlanType.SERVERS && row.servers_tier === PlanTier.STANDARD;
    const parts = covered
      ? {
          covered,
          jit: jitPolicy(row),
          applicationControl: appControlPolicy(row),
          fileIntegrity: fileIntegrityPolicy(row),
        }
      : { covered, jit: null, applicationControl: null, fileIntegrity: null };
    return Object.assign(new AgentPolicy(), {
      resourceId: id,
      ...parts,
      etag: policyEtag(parts),
      refreshAfterSeconds: refreshAfter(row.now, parts.jit),
      generatedAt: row.now,
    });
  }
}
