/*
 * File-system paths as file integrity monitoring and application control compare them, and FIM watch
 * lists: which paths are watched on a machine, and which of them are critical (a change raises an alert).
 *
 * Windows paths compare case-insensitively with either separator (`C:/Windows` is `c:\windows`); POSIX
 * paths compare as they are. A watch-list entry is an absolute path, optionally with `*` wildcards inside
 * one path segment (`/home/*\/.ssh/authorized_keys`), and `recursive` to watch a directory with
 * everything beneath it. Entries compile to one regular expression each, written so that JavaScript and
 * PostgreSQL (advanced regular expressions) read it the same way: reads filter telemetry with it in SQL,
 * detections and ingest match with it in memory.
 */
import { textProblem } from "../../../../common/src/validation";
import { classifyCriticalFile } from "../detections/detections";

/** Whether a path is a Windows path (drive letter or UNC/device prefix). */
export const isWindowsPath = (path: string): boolean => /^(?:[A-Za-z]:[\\/]|\\\\)/.test(path);

/** The comparison key of a path: Windows paths lower-cased with backslashes, POSIX paths as they are. */
export function pathKey(path: string): string {
  return isWindowsPath(path) ? path.replace(/\//g, "\\").toLowerCase() : path;
}

/** SQL for `pathKey` of a text column (the same rule as the function, for reads that filter in SQL). */
export function pathKeySql(column: string): string {
  return `(CASE WHEN ${column} ~ '^([A-Za-z]:[\\\\/]|\\\\\\\\)' THEN lower(replace(${column}, '/', '\\')) ELSE ${column} END)`;
}

/** One watched path of a FIM watch list. */
export interface WatchEntry {
  /** Absolute path; `*` matches any run of characters inside one path segment. */
  path: string;
  /** Also watch everything beneath the path (a directory). */
  recursive: boolean;
  /** A change raises an alert (otherwise it is only recorded as a file change). */
  critical: boolean;
}

/** Watch-list limits. */
export const WATCH_LIMITS = { entries: 200, path: 1024 } as const;

/**
 * Built-in watched paths, used for every machine until an admin sets the tenant's or a group's list.
 * Critical: account databases, sudo and PAM configuration, SSH daemon configuration and authorized keys,
 * hosts files, scheduled tasks and services (persistence), the Windows registry hives that hold
 * credentials. Watched but not critical: system binaries and drivers, which package updates change.
 */
export const DEFAULT_WATCH_LIST: readonly WatchEntry[] = [
  ...[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/group",
    "/etc/sudoers",
    "/etc/ssh/sshd_config",
    "/etc/hosts",
    "/etc/crontab",
    "/etc/ld.so.preload",
    "/root/.ssh/authorized_keys",
    "/root/.ssh/authorized_keys2",
    "/home/*/.ssh/authorized_keys",
    "/home/*/.ssh/authorized_keys2",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "C:\\Windows\\System32\\config\\SAM",
    "C:\\Windows\\System32\\config\\SECURITY",
    "C:\\Windows\\System32\\config\\SYSTEM",
    "C:\\Windows\\System32\\config\\SOFTWARE",
    "C:\\ProgramData\\ssh\\sshd_config",
    "C:\\ProgramData\\ssh\\administrators_authorized_keys",
    "C:\\Users\\*\\.ssh\\authorized_keys",
  ].map((path) => ({ path, recursive: false, critical: true })),
  ...[
    "/etc/sudoers.d",
    "/etc/pam.d",
    "/etc/cron.d",
    "/etc/systemd/system",
    "C:\\Windows\\System32\\Tasks",
    "C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\StartUp",
  ].map((path) => ({ path, recursive: true, critical: true })),
  ...[
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/boot",
    "C:\\Windows\\System32\\drivers",
    "C:\\Windows\\System32\\*.exe",
    "C:\\Windows\\System32\\*.dll",
  ].map((path) => ({ path, recursive: !path.includes("*"), critical: false })),
];

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const ABSOLUTE = /^(?:\/|[A-Za-z]:\\)/;

/** Strips trailing separators (not the root's) and turns Windows forward slashes into backslashes. */
function tidy(path: string): string {
  const p = isWindowsPath(path) ? path.replace(/\//g, "\\") : path;
  return p.replace(/(?<=.)[\\/]+$/, "");
}

/** Problems of one watch-list entry's path (empty when it is fine). */
export function watchPathProblems(path: string): string[] {
  if (typeof path !== "string" || path.length === 0) return ["must not be empty"];
  if (path.length > WATCH_LIMITS.path) return [`at most ${WATCH_LIMITS.path} characters`];
  if (CONTROL_CHARS.test(path)) return ["must not contain control characters"];
  // Stored in jsonb, which refuses an unpaired surrogate (NUL is a control character above).
  const unstorable = textProblem(path);
  if (unstorable) return [unstorable];
  if (/^(?:\/+|[A-Za-z]:[\\/]*)$/.test(path)) return ["must not be a file-system root"];
  const p = tidy(path);
  if (!ABSOLUTE.test(p)) return ["must be an absolute path (/… or a drive letter such as C:\\…)"];
  const segments = p.split(isWindowsPath(p) ? "\\" : "/").slice(1);
  const problems: string[] = [];
  if (segments.some((s) => s === "." || s === "..")) problems.push("must not contain . or .. segments");
  if (segments.some((s) => s.includes("**"))) problems.push("`**` is not supported: use recursive");
  if (segments.slice(0, 1).some((s) => s.includes("*")))
    problems.push("the first segment cannot contain a wildcard");
  return problems;
}

/** The entry as stored: trailing separators removed, Windows separators as backslashes. */
export function normalizeWatchEntry(entry: WatchEntry): WatchEntry {
  return { path: tidy(entry.path), recursive: entry.recursive, critical: entry.critical };
}

const escapeRegex = (text: string): string => text.replace(/[.^$|()[\]{}+?\\]/g, "\\$&");

/** The regular expression (JavaScript and PostgreSQL syntax alike) of an entry, over `pathKey`s. */
export function watchEntryRegex(entry: WatchEntry): string {
  const windows = isWindowsPath(entry.path);
  const key = pathKey(tidy(entry.path));
  const notSeparator = windows ? "[^\\\\]" : "[^/]";
  const separator = windows ? "\\\\" : "/";
  const body = key.split("*").map(escapeRegex).join(`${notSeparator}*`);
  return `^${body}${entry.recursive ? `(?:${separator}.*)?` : ""}$`;
}

/** A compiled watch list: what it watches, and the regular expressions for SQL. */
export interface WatchMatcher {
  entries: readonly WatchEntry[];
  /** Whether a path is watched. */
  watched(path: string): boolean;
  /** Whether a path is watched by a critical entry. */
  critical(path: string): boolean;
  /** Regular expressions (over `pathKey`) of every entry. */
  patterns: string[];
  /** Regular expressions of the critical entries. */
  criticalPatterns: string[];
}

/** Compiles a watch list (cached per list content). */
export function compileWatchList(entries: readonly WatchEntry[]): WatchMatcher {
  const cacheKey = JSON.stringify(entries);
  const hit = compiled.get(cacheKey);
  if (hit) return hit;
  const patterns = entries.map(watchEntryRegex);
  const criticalPatterns = entries.flatMap((e, i) => (e.critical ? [patterns[i]] : []));
  const all = patterns.map((p) => new RegExp(p, "s"));
  const crit = criticalPatterns.map((p) => new RegExp(p, "s"));
  const matcher: WatchMatcher = {
    entries,
    watched: (path) => {
      const key = pathKey(path);
      return all.some((r) => r.test(key));
    },
    critical: (path) => {
      const key = pathKey(path);
      return crit.some((r) => r.test(key));
    },
    patterns,
    criticalPatterns,
  };
  if (compiled.size > 500) compiled.clear();
  compiled.set(cacheKey, matcher);
  return matcher;
}

const compiled = new Map<string, WatchMatcher>();

/** The built-in watch list, compiled. */
export const defaultWatchMatcher = (): WatchMatcher => compileWatchList(DEFAULT_WATCH_LIST);

/**
 * Whether the built-in list treats a path as critical at least as strictly as the detections' built-in
 * classification (`classifyCriticalFile`): used by the unit tests to keep the two in step.
 */
export function defaultsCoverBuiltInClass(path: string): boolean {
  return classifyCriticalFile(path) === "other" || defaultWatchMatcher().critical(path);
}
