import type { ApolloServerPlugin } from "@apollo/server";
import { GraphQLError, parse, print, type DocumentNode } from "graphql";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ErrorCode } from "../../subgraphs/common/src";

/**
 * Safelisted operations (architecture: "production mode accepts only safelisted operations, a manifest generated
 * by codegen.yml, when enabled"). A manifest is a JSON object from the SHA-256 (hex) of each operation's text to
 * that text — the shape of GraphQL Code Generator's persisted documents, which `scripts/codegen-safelist.cjs`
 * writes for the operations under `test/operations` and a frontend writes for its own.
 *
 * With `SAFELIST_PATH` set, the gateway runs only the manifest's operations, over HTTP and over the live
 * endpoints: a request may send the text (in any formatting and fragment order: it is compared printed), or only
 * its hash as an
 * automatic-persisted-query extension (`{ "persistedQuery": { "version": 1, "sha256Hash": "…" } }`). Anything
 * else is FORBIDDEN before it is planned or sent to a subgraph.
 */
export interface Safelist {
  /** The manifest's operation text for an APQ hash, if it has one. */
  byHash(hash: string): string | undefined;
  /** Whether an operation (its text as sent, and parsed) is on the list. */
  allows(query: string, document: DocumentNode): boolean;
  /** How many operations the manifest holds. */
  readonly size: number;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
/** A document's definitions printed and sorted: the same operation whatever its formatting or fragment order. */
const canonical = (document: DocumentNode) =>
  sha256(
    document.definitions
      .map((definition) => print(definition))
      .sort()
      .join("\n"),
  );
/** Most verdicts kept per text as sent (a client sends its few operations over and over). */
const VERDICT_CACHE = 10_000;

/** The error every operation off the list gets. */
export const notSafelisted = () =>
  new GraphQLError("This gateway runs only safelisted operations, and this one is not on its list.", {
    extensions: { code: ErrorCode.Forbidden, reason: "NOT_SAFELISTED", http: { status: 403 } },
  });

/** A safelist from a manifest's entries; throws naming the first entry that is not a valid operation. */
export function createSafelist(manifest: Record<string, unknown>): Safelist {
  const texts = new Map<string, string>();
  const printed = new Set<string>();
  for (const [hash, text] of Object.entries(manifest)) {
    if (typeof text !== "string") throw new Error(`Safelist entry ${hash} is not a string.`);
    let document: DocumentNode;
    try {
      document = parse(text);
    } catch (err) {
      throw new Error(`Safelist entry ${hash} is not a GraphQL document: ${(err as Error).message}`);
    }
    texts.set(hash.toLowerCase(), text);
    texts.set(sha256(text), text);
    printed.add(canonical(document));
  }
  const verdicts = new Map<string, boolean>();
  return {
    size: printed.size,
    byHash: (hash) => texts.get(hash.toLowerCase()),
    allows(query, document) {
      const known = verdicts.get(query);
      if (known !== undefined) return known;
      const verdict = texts.has(sha256(query)) || printed.has(canonical(document));
      if (verdicts.size >= VERDICT_CACHE) verdicts.clear();
      verdicts.set(query, verdict);
      return verdict;
    },
  };
}

/** The safelist of the manifest at `path` (JSON: hash → operation text). */
export function loadSafelist(path: string): Safelist {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`SAFELIST_PATH ${path}: ${(err as Error).message}`);
  }
  if (!manifest || typeof manifest !== "object" || Array.isArray(manifest))
    throw new Error(
      `SAFELIST_PATH ${path}: expected a JSON object from operation hashes to operation texts.`,
    );
  return createSafelist(manifest as Record<string, unknown>);
}

/**
 * Apollo's persisted-query cache when a safelist is on: a hash resolves to the manifest's text and nothing is
 * ever registered, so APQ cannot add operations to the list.
 */
export function safelistCache(safelist: Safelist): {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
} {
  return {
    // Apollo prefixes its keys ("apq:"); the manifest is keyed by the bare hash.
    get: async (key) => safelist.byHash(key.slice(key.indexOf(":") + 1)),
    set: async () => undefined,
    delete: async () => undefined,
  };
}

/** Refuses, once it is parsed, every operation that is not on the safelist. */
export function safelistPlugin<T extends object>(safelist: Safelist): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ source, document }) {
          if (!safelist.allows(source, document)) throw notSafelisted();
        },
      };
    },
  };
}
