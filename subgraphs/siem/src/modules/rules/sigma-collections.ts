/**
 * Sigma's rule collections (the legacy specification's multi-document files): an `action: global` document
 * holds parts common to the rule documents after it, `action: reset` forgets them, and `action: repeat` is the
 * previous rule again with this document's changes. Pure: parsed documents in, one complete rule per rule
 * document out, each reported on its own by the import. Merging is sigmac's: maps merge key by key, the later
 * document's value wins for anything else (a list is replaced, not appended to).
 */
import { stringify } from "yaml";
import type { ParsedDocument } from "./sigma";

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * `base` with `change` over it: maps merged key by key, any other value of `change` replacing `base`'s. New
 * objects (neither input is changed), built with Object.fromEntries so that a `__proto__` key stays a key.
 */
export function mergeRuleParts(base: Json, change: Json): Json {
  const keys = [...new Set([...Object.keys(base), ...Object.keys(change)])];
  return Object.fromEntries(
    keys.map((key) => {
      const has = Object.prototype.hasOwnProperty.call(change, key);
      if (!has) return [key, base[key]];
      const [from, to] = [base[key], change[key]];
      return [key, isRecord(from) && isRecord(to) ? mergeRuleParts(from, to) : to];
    }),
  );
}

/** A document without its `action` key. */
function withoutAction(value: Json): Json {
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "action"));
}

/** A rule document that a collection completed: its merged rule, as YAML, noted for the reviewer. */
export interface CollectionRule extends ParsedDocument {
  /** What the rule was made of (the global document, the repeated rule), for the import report's notes. */
  madeOf: string | null;
}

/**
 * The rules of an import's documents, collections resolved: a global document merged into the rule documents
 * after it (until a reset or another global, which merges into it), a repeat made from the rule before it. The
 * action documents themselves are not rules: a global document that no rule uses, a repeat with no rule before
 * it, and an unknown action are reported as rejected documents instead. Documents that do not parse stay as
 * they are (a repeat after one is rejected: what it repeats is unknown).
 */
export function expandCollections(documents: ParsedDocument[]): CollectionRule[] {
  const out: CollectionRule[] = [];
  // The global parts so far, the documents they come from, and those of them no rule has used yet.
  let global: { value: Json; documents: number[]; unused: ParsedDocument[] } | null = null;
  let previous: { value: Json; document: number } | { broken: number } | null = null;
  const reject = (doc: ParsedDocument, message: string) =>
    out.push({ ...doc, problem: { code: "INVALID_FIELD", path: "action", message }, madeOf: null });
  const unusedGlobals = () => {
    for (const doc of global?.unused ?? []) {
      reject(
        doc,
        "a global document holds the parts common to the rule documents after it, and no rule document follows it",
      );
    }
  };

  for (const doc of documents) {
    if (doc.problem || !isRecord(doc.value)) {
      out.push({ ...doc, madeOf: null });
      previous = doc.problem ? { broken: doc.document } : null;
      continue;
    }
    const action = doc.value.action;
    if (action === undefined) {
      if (!global) {
        out.push({ ...doc, madeOf: null });
        previous = { value: doc.value, document: doc.document };
        continue;
      }
      global.unused = [];
      const value = mergeRuleParts(global.value, doc.value);
      const [first, ...more] = global.documents;
      out.push({
        ...doc,
        value,
        yaml: stringify(value).trim(),
        madeOf: more.length
          ? `the rule collection's global documents (${[first, ...more].join(", ")}) and this document`
          : `the rule collection's global document (document ${first}) and this document`,
      });
      previous = { value, document: doc.document };
    } else if (action === "global") {
      const parts = withoutAction(doc.value);
      global = global
        ? {
            value: mergeRuleParts(global.value, parts),
            documents: [...global.documents, doc.document],
            unused: [...global.unused, doc],
          }
        : { value: parts, documents: [doc.document], unused: [doc] };
    } else if (action === "reset") {
      unusedGlobals();
      global = null;
    } else if (action === "repeat") {
      if (previous === null) {
        reject(doc, "action: repeat repeats the rule before it with changes, and there is no rule before it");
      } else if ("broken" in previous) {
        reject(
          doc,
          `action: repeat repeats the rule before it, and that document (${previous.broken}) is not valid`,
        );
      } else {
        const value = mergeRuleParts(previous.value, withoutAction(doc.value));
        out.push({
          ...doc,
          value,
          yaml: stringify(value).trim(),
          madeOf: `the rule of document ${previous.document} with this document's changes (action: repeat)`,
        });
        previous = { value, document: doc.document };
      }
    } else {
      reject(
        doc,
        `must be global, reset or repeat, Sigma's rule collection actions (got ${JSON.stringify(action)})`,
      );
    }
  }
  unusedGlobals();
  return out.sort((a, b) => a.document - b.document);
}
