/*
 * Adaptive application control, the learning part: pure functions from the process executions of a
 * learning window to groups of similar machines and the allow-list rules recommended for each.
 *
 * Grouping. A machine is described by the set of executables it ran (path keys: Windows paths compared
 * case-insensitively). Two machines are similar when the Jaccard similarity of their sets,
 * |A ∩ B| / |A ∪ B|, is at least `SIMILARITY_THRESHOLD` (0.5: at least half of everything either ran, both
 * ran). Groups are the connected components of that relation (single linkage): a machine joins a group
 * when it is similar to any member. Connected components do not depend on the order machines are
 * considered in, so the same executions always give the same groups. Windows and Linux machines never
 * share a path key, so they never share a group.
 *
 * Rules. For each executable a group's machines ran:
 * - signed (a publisher was reported) → a PUBLISHER rule: that path, signed by that publisher;
 * - unsigned in a user-writable location (temporary directories, home and user-profile folders,
 *   downloads, ProgramData) → a HASH rule: exactly that file content (a path rule there would allow
 *   anything dropped under the same name);
 * - otherwise → a PATH rule.
 * Each rule carries its prevalence: the fraction of the group's machines that ran it. Rules are only
 * recommended: an admin approves the ones to allow.
 */
import { createHash } from "node:crypto";
import { isWindowsPath, pathKey } from "../fim/paths";

/** Two machines are similar when the Jaccard similarity of their executable sets is at least this. */
export const SIMILARITY_THRESHOLD = 0.5;
/** Most machines one learning run groups (the rest, by resource id, are reported as skipped). */
export const MAX_LEARNING_MACHINES = 2000;

/** Kinds of allow-list rules. */
export type RuleKind = "PUBLISHER" | "PATH" | "HASH";

/** Executions of one executable (path, publisher, hash) on one machine during the window. */
export interface ExecutionStat {
  resourceId: string;
  host: string;
  path: string;
  publisher: string | null;
  sha256: string | null;
  executions: number;
  firstSeen: Date;
  lastSeen: Date;
}

/** A recommended rule of a group. */
export interface RuleRecommendation {
  /** Stable identity within a group: kind, path key and publisher or hash. */
  identity: string;
  kind: RuleKind;
  /** The path as first reported (by machine id, then time). */
  path: string;
  pathKey: string;
  publisher: string | null;
  /** The file hash: the rule's for HASH rules; for the others, the one hash seen when there was exactly one. */
  sha256: string | null;
  machineCount: number;
  /** Fraction of the group's machines that ran it (0–1, four decimals). */
  prevalence: number;
  executionCount: number;
  firstSeen: Date;
  lastSeen: Date;
}

/** An executable as the detections see it. */
export interface Executable {
  path: string;
  sha256?: string;
  publisher?: string;
}

/** Jaccard similarity of two sets (1 for two empty sets). */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const x of small) if (large.has(x)) shared++;
  return shared / (a.size + b.size - shared);
}

/**
 * Groups machines by executable-set similarity (connected components of Jaccard ≥ threshold). Each group is
 * sorted by resource id; groups are sorted by their first member.
 */
export function groupMachines(
  machines: ReadonlyMap<string, ReadonlySet<string>>,
  threshold = SIMILARITY_THRESHOLD,
): string[][] {
  const ids = [...machines.keys()].sort();
  const parent = new Map(ids.map((id) => [id, id]));
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root)!;
    for (let x = id; x !== root;) {
      const next = parent.get(x)!;
      parent.set(x, root);
      x = next;
    }
    return root;
  };
  // Only pairs sharing an executable can reach a positive similarity: walk those through an inverted index.
  const byExecutable = new Map<string, string[]>();
  for (const id of ids)
    for (const exe of machines.get(id)!) {
      const list = byExecutable.get(exe) ?? [];
      list.push(id);
      byExecutable.set(exe, list);
    }
  for (const id of ids) {
    const mine = machines.get(id)!;
    // How many executables this machine shares with each later one: the intersection sizes, counted once.
    const shared = new Map<string, number>();
    for (const exe of mine)
      for (const other of byExecutable.get(exe)!)
        if (other > id) shared.set(other, (shared.get(other) ?? 0) + 1);
    for (const [other, n] of shared) {
      const similarity = n / (mine.size + machines.get(other)!.size - n);
      if (similarity >= threshold && find(id) !== find(other)) {
        const [a, b] = [find(id), find(other)].sort();
        parent.set(b, a);
      }
    }
  }
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const root = find(id);
    const list = groups.get(root) ?? [];
    list.push(id);
    groups.set(root, list);
  }
  return [...groups.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const WRITABLE_POSIX = /^(?:\/tmp\/|\/var\/tmp\/|\/dev\/shm\/|\/run\/user\/|\/home\/|\/root\/)/;
const WRITABLE_WINDOWS =
  /^(?:[a-z]:\\users\\|[a-z]:\\programdata\\|[a-z]:\\windows\\temp\\|[a-z]:\\\$recycle\.bin\\)|\\appdata\\|\\temp\\|\\downloads\\/;

/** Whether a path is in a location ordinary users (or a compromised service) can write to. */
export function isUserWritable(path: string): boolean {
  const key = pathKey(path);
  return isWindowsPath(path) ? WRITABLE_WINDOWS.test(key) : WRITABLE_POSIX.test(key);
}

/** The kind of rule an executable gets. */
export function ruleKindOf(path: string, publisher: string | null, sha256: string | null): RuleKind {
  if (publisher) return "PUBLISHER";
  if (sha256 && isUserWritable(path)) return "HASH";
  return "PATH";
}

/** The identity of the rule an execution falls under. */
export function identityOf(
  kind: RuleKind,
  key: string,
  publisher: string | null,
  sha256: string | null,
): string {
  return kind === "PUBLISHER"
    ? `PUBLISHER|${key}|${publisher}`
    : kind === "HASH"
      ? `HASH|${key}|${sha256}`
      : `PATH|${key}`;
}

/** Rules recommended for a group from its members' executions, most prevalent first, then by path. */
export function recommendRules(
  members: readonly string[],
  stats: readonly ExecutionStat[],
): RuleRecommendation[] {
  const memberSet = new Set(members);
  const ordered = stats
    .filter((s) => memberSet.has(s.resourceId))
    .sort(
      (a, b) =>
        (a.resourceId < b.resourceId ? -1 : a.resourceId > b.resourceId ? 1 : 0) ||
        a.firstSeen.getTime() - b.firstSeen.getTime() ||
        (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
  const rules = new Map<string, RuleRecommendation & { machines: Set<string>; hashes: Set<string> }>();
  for (const s of ordered) {
    const key = pathKey(s.path);
    const kind = ruleKindOf(s.path, s.publisher, s.sha256);
    const identity = identityOf(kind, key, s.publisher, s.sha256);
    let rule = rules.get(identity);
    if (!rule) {
      rule = {
        identity,
        kind,
        path: s.path,
        pathKey: key,
        publisher: kind === "PUBLISHER" ? s.publisher : null,
        sha256: null,
        machineCount: 0,
        prevalence: 0,
        executionCount: 0,
        firstSeen: s.firstSeen,
        lastSeen: s.lastSeen,
        machines: new Set(),
        hashes: new Set(),
      };
      rules.set(identity, rule);
    }
    rule.machines.add(s.resourceId);
    if (s.sha256) rule.hashes.add(s.sha256);
    rule.executionCount += s.executions;
    if (s.firstSeen < rule.firstSeen) rule.firstSeen = s.firstSeen;
    if (s.lastSeen > rule.lastSeen) rule.lastSeen = s.lastSeen;
  }
  return [...rules.values()]
    .map(({ machines, hashes, ...rule }) => ({
      ...rule,
      sha256: hashes.size === 1 ? [...hashes][0] : null,
      machineCount: machines.size,
      prevalence: Math.round((machines.size / memberSet.size) * 10_000) / 10_000,
    }))
    .sort(
      (a, b) =>
        b.prevalence - a.prevalence ||
        (a.pathKey < b.pathKey ? -1 : a.pathKey > b.pathKey ? 1 : 0) ||
        (a.identity < b.identity ? -1 : 1),
    );
}

/** A UUID derived from text (SHA-256, version 8 layout), so ids of learned objects are reproducible. */
export function derivedUuid(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The id of a group of machines: derived from the tenant and its sorted members. */
export const groupIdOf = (tenantId: string, members: readonly string[]): string =>
  derivedUuid(`app-control-group|${tenantId}|${[...members].sort().join(",")}`);

/** The id of a rule: derived from its group and identity. */
export const ruleIdOf = (groupId: string, identity: string): string =>
  derivedUuid(`app-control-rule|${groupId}|${identity}`);

/** A group's display name: its machines' host names, sorted (the first three, then how many more). */
export function groupName(hosts: readonly string[]): string {
  const sorted = [...new Set(hosts)].sort();
  const shown = sorted.slice(0, 3).join(", ");
  return sorted.length > 3 ? `${shown} and ${sorted.length - 3} more` : shown;
}
