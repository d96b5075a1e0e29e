/*
 * Application control as the detections ask it: is this executable allowed on this machine? Answered from
 * the approved rules of the machine's group when the group is in AUDIT or ENFORCE mode; null (not judged)
 * for machines in no group or in a group whose allow list is not applied (mode NONE).
 */
import type { EntityManager } from "typeorm";
import { isUuid } from "../../../../common/src";
import { pathKey } from "../fim/paths";
import type { Executable, RuleKind } from "./learning";

/**
 * The allow list of one group, indexed for lookups: a PATH rule allows its path (any content), a PUBLISHER
 * rule its path signed by its publisher, a HASH rule its content wherever it is.
 */
export class AllowList {
  readonly paths = new Set<string>();
  readonly signed = new Set<string>();
  readonly hashes = new Set<string>();

  add(kind: RuleKind, key: string, publisher: string | null, sha256: string | null): void {
    if (kind === "PATH") this.paths.add(key);
    else if (kind === "PUBLISHER") this.signed.add(`${key}\n${publisher}`);
    else if (sha256) this.hashes.add(sha256);
  }

  allows(exe: Executable): boolean {
    const key = pathKey(exe.path);
    return (
      this.paths.has(key) ||
      (!!exe.publisher && this.signed.has(`${key}\n${exe.publisher}`)) ||
      (!!exe.sha256 && this.hashes.has(exe.sha256.toLowerCase()))
    );
  }
}

/**
 * Answers `appControlAllows` for a batch's machines, and since when (epoch ms) each machine's allow list
 * applies: the later of its group leaving mode NONE and the machine joining the group.
 */
export interface AppControlAnswer {
  allows: (resourceId: string, exe: Executable) => boolean | null;
  since: (resourceId: string) => number | null;
}

/** Loads the applied allow lists of the groups of `resourceIds` (two statements for any number). */
export async function loadAppControlPolicies(
  m: EntityManager,
  tenantId: string,
  resourceIds: readonly string[],
): Promise<AppControlAnswer> {
  const ids = [...new Set(resourceIds.filter(isUuid))];
  const none: AppControlAnswer = { allows: () => null, since: () => null };
  if (ids.length === 0) return none;
  const members = (await m.query(
    `SELECT mem.resource_id, mem.group_id, GREATEST(mem.member_since, g.applied_since) AS since
     FROM app_control_members mem JOIN app_control_groups g ON g.id = mem.group_id
     WHERE mem.tenant_id = $1 AND mem.resource_id = ANY($2::uuid[]) AND g.mode IN ('AUDIT', 'ENFORCE')`,
    [tenantId, ids],
  )) as Array<{ resource_id: string; group_id: string; since: Date | null }>;
  if (members.length === 0) return none;
  const groupIds = [...new Set(members.map((r) => r.group_id))];
  const rules = (await m.query(
    `SELECT group_id, kind, path_key, publisher, sha256 FROM app_control_rules
     WHERE tenant_id = $1 AND group_id = ANY($2::uuid[]) AND status = 'APPROVED'`,
    [tenantId, groupIds],
  )) as Array<{
    group_id: string;
    kind: RuleKind;
    path_key: string;
    publisher: string | null;
    sha256: string | null;
  }>;
  const lists = new Map(groupIds.map((id) => [id, new AllowList()]));
  for (const r of rules) lists.get(r.group_id)!.add(r.kind, r.path_key, r.publisher, r.sha256);
  const byMachine = new Map(members.map((r) => [r.resource_id, lists.get(r.group_id)!]));
  const since = new Map(members.map((r) => [r.resource_id, r.since ? new Date(r.since).getTime() : null]));
  return {
    allows: (resourceId, exe) => byMachine.get(resourceId)?.allows(exe) ?? null,
    since: (resourceId) => since.get(resourceId) ?? null,
  };
}
