import type { InputProblem } from "./errors";

/** RFC 4122 UUID (any version); ids are UUIDv7 but any well-formed UUID is accepted as input. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a well-formed UUID. */
export const isUuid = (value: unknown): value is string =>
  typeof value === "string" && UUID_PATTERN.test(value);

/**
 * An id as stored: a UUID in lower case (Postgres prints UUIDs so, and upper-case hex names the same one),
 * any other id unchanged. For ids compared outside SQL (maps, text columns, audit targets).
 */
export const canonicalId = (id: string): string => (isUuid(id) ? id.toLowerCase() : id);

/** A literal for LIKE / ILIKE: `\`, `%` and `_` escaped with the default escape character `\`. */
export const likeLiteral = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The LIKE / ILIKE pattern of "contains `text`" (a search box: wildcards in it are taken literally). */
export const containsPattern = (text: string): string => `%${likeLiteral(text)}%`;

/** True for a plain JSON object (not null, not an array). */
export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Deepest nesting of a JSON value the platform takes (objects and arrays, the outermost is level 1). Serialising
 * (`JSON.stringify`) and Postgres's jsonb parser recurse, so a document a few thousand levels deep exhausts the
 * stack and fails the whole request; real records and definitions stay far below this.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Longest text (UTF-8 bytes) the platform keeps in an indexed column, e.g. an event's account or host, an alert's
 * entity value: a B-tree entry holds at most 2,704 bytes, and a longer value fails the whole statement.
 */
export const MAX_INDEXED_TEXT_BYTES = 2048;

/**
 * Most JSON (UTF-8 bytes) an alert's evidence may hold (`AlertInput.evidence`): room for a detection's command
 * line, decoded script, paths and hashes, while every alert a list or a stream shows stays small.
 */
export const MAX_ALERT_EVIDENCE_BYTES = 32 * 1024;

/** True when `text` is longer than `bytes` in UTF-8 (a UTF-16 code unit takes at most 3 bytes: short text needs no count). */
export const utf8LongerThan = (text: string, bytes: number): boolean =>
  text.length * 3 > bytes && Buffer.byteLength(text) > bytes;

/**
 * True when JSON text can hold no string `textProblem` refuses: JSON writes a NUL or an unpaired surrogate only as
 * a `\u` escape (raw control characters are invalid JSON, and decoded UTF-8 has no lone surrogates), so text
 * without one settles it for the whole value, JSON embedded in its strings included, without walking it.
 */
export const plainJsonText = (text: string): boolean => !text.includes("\\u");

const MAYBE_UNSTORABLE = /[\u0000\uD800-\uDFFF]/;
const UNSTORABLE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string cannot be stored as Postgres `text` or inside `jsonb`, or null: Postgres holds no NUL character,
 * and jsonb refuses an unpaired UTF-16 surrogate (which UTF-8 cannot encode either).
 */
export function textProblem(text: string): string | null {
  // The cheap scan first: almost every string has no NUL and no surrogate at all.
  if (!MAYBE_UNSTORABLE.test(text) || !UNSTORABLE_TEXT.test(text)) return null;
  return text.includes("\u0000")
    ? "contains a NUL character (U+0000)"
    : "is not valid Unicode (an unpaired surrogate)";
}

/**
 * Problems of strings that become SQL parameters (a filter's fields), by field, a list's items by `index`: a Postgres
 * text parameter holds no NUL, and the driver's refusal would otherwise surface as an internal error.
 */
export function parameterTextProblems(
  fields: Record<string, string | readonly string[] | null | undefined>,
): InputProblem[] {
  const problems: InputProblem[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (typeof value === "string") {
      const message = textProblem(value);
      if (message) problems.push({ field, message });
    } else
      value?.forEach((item, index) => {
        const message = textProblem(item);
        if (message) problems.push({ index, field, message });
      });
  }
  return problems;
}

const UNSTORABLE_TEXT_ALL = new RegExp(UNSTORABLE_TEXT.source, "g");

/**
 * `text` with each character `textProblem` refuses (a NUL, an unpaired surrogate) replaced by U+FFFD: for text the
 * platform writes itself around input it quotes (a parser's message that echoes the bad line), which must be
 * storable whatever the input held.
 */
export function storableText(text: string): string {
  return MAYBE_UNSTORABLE.test(text) ? text.replace(UNSTORABLE_TEXT_ALL, "\uFFFD") : text;
}

/** A fault of a JSON value and where: `path` joins keys with `.` and indexes as `[n]` (`""` for the value itself). */
export interface JsonProblem {
  path: string;
  message: string;
}

/**
 * The first fault that keeps a JSON value out of storage: nesting deeper than `maxDepth`, and (unless `strings`
 * is false) a string or object key that `textProblem` refuses. The walk stops at `maxDepth`, so a hostile depth
 * cannot exhaust the stack here either.
 */
export function jsonProblem(
  value: unknown,
  options: { maxDepth?: number; strings?: boolean } = {},
): JsonProblem | null {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const strings = options.strings ?? true;
  /** The fault under `current`, which `depth` objects and arrays enclose; its path relative to `current`. */
  const walk = (current: unknown, depth: number): JsonProblem | null => {
    if (typeof current === "string") {
      const problem = strings ? textProblem(current) : null;
      return problem ? { path: "", message: problem } : null;
    }
    if (current === null || typeof current !== "object") return null;
    if (depth === maxDepth) return { path: "", message: `is nested deeper than ${maxDepth} levels` };
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) {
        const problem = walk(current[i], depth + 1);
        if (problem) return { path: `[${i}]${problem.path}`, message: problem.message };
      }
      return null;
    }
    for (const key of Object.keys(current)) {
      const keyProblem = strings ? textProblem(key) : null;
      if (keyProblem) return { path: "", message: `has a key that ${keyProblem}` };
      const problem = walk((current as Record<string, unknown>)[key], depth + 1);
      if (problem) return { path: `.${key}${problem.path}`, message: problem.message };
    }
    return null;
  };
  const problem = walk(value, 0);
  return problem && { path: problem.path.replace(/^\./, ""), message: problem.message };
}

/**
 * Whether a provider's resource id is an Azure Resource Manager id (`/subscriptions/…`), which Azure compares
 * without regard to case and whose sub-resources' ids extend it.
 */
export function isArmId(externalId: string): boolean {
  return /^\/subscriptions\//i.test(externalId);
}
