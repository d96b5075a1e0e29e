import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import type { GatewayExecutionResult, GatewayGraphQLRequestContext } from "@apollo/server-gateway-interface";
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from "graphql";

/**
 * What Apollo Server worked out for one operation — a query text and an operation name — the first time it
 * ran it: the validated document, the operation it names and the query's hash. Apollo's request pipeline
 * (plugin hooks awaited one after another, the query's SHA-256 for its document cache, content negotiation,
 * its request and response objects) was ~10 % of the gateway's CPU in the benchmark's profile, and for an
 * operation it has already accepted all of that gives the same answer again.
 */
export interface KnownOperation {
  /** The API schema it was validated against: a supergraph reload makes it stale. */
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** The operation's name as Apollo resolved it (the document's only operation may be named). */
  operationName: string | null;
  queryHash: string;
}

/** Operations kept; as many as the executor keeps prepared. */
const KNOWN_LIMIT = 1000;

/**
 * The operations Apollo Server has accepted on a plain POST: parsed, valid against the schema and every
 * validation rule (GraphQL Armor's limits, the introspection policy), and passed by every plugin's
 * `didResolveOperation` (the safelist, `operationRequired`). Each of those depends only on the query text,
 * the operation name and the schema, so a later request for the same operation may skip them
 * (`leanGraphqlPost`); what depends on the request itself (the client's token, its variables) is still checked
 * on every request.
 *
 * Learnt by `plugin()` when Apollo starts executing an operation, which it does only once all those checks
 * passed. Requests with `extensions` (persisted queries) are never learnt nor served from here.
 */
export class KnownOperations {
  /** query text → operation name (undefined when the request names none) → what Apollo worked out. */
  private readonly byQuery = new Map<string, Map<string | undefined, KnownOperation>>();
  private count = 0;

  /** The operation, when Apollo has accepted it against `schema` (the one served now). */
  get(query: string, operationName: string | undefined, schema: GraphQLSchema | undefined) {
    const known = this.byQuery.get(query)?.get(operationName);
    return known && known.schema === schema ? known : undefined;
  }

  /** How many operations are kept. */
  get size(): number {
    return this.count;
  }

  private remember(query: string, operationName: string | undefined, known: KnownOperation): void {
    let byName = this.byQuery.get(query);
    if (!byName) {
      // Oldest query first out: a Map iterates in insertion order.
      if (this.count >= KNOWN_LIMIT) {
        const [oldest, names] = this.byQuery.entries().next().value!;
        this.byQuery.delete(oldest);
        this.count -= names.size;
      }
      byName = new Map();
      this.byQuery.set(query, byName);
    }
    if (!byName.has(operationName)) this.count++;
    byName.set(operationName, known);
  }

  /** Learns each operation Apollo executes for a POST without `extensions`. */
  plugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
    return {
      requestDidStart: async () => ({
        executionDidStart: async ({ request, schema, document, operation, operationName, queryHash }) => {
          if (request.http?.method !== "POST" || request.extensions !== undefined) return;
          if (typeof request.query !== "string" || !operation) return;
          this.remember(request.query, request.operationName, {
            schema,
            document,
            operation,
            operationName,
            queryHash,
          });
        },
      }),
    };
  }
}

/** A result the gateway already has for a request handed (back) to Apollo: what the executor answers then. */
export type Precomputed = { result: GatewayExecutionResult } | { thrown: unknown };

/**
 * Where a request's precomputed result rides in its context: an enumerable own property, so it survives Apollo's
 * copy of the context object (`Object.assign`) on its way to the executor.
 */
export const PRECOMPUTED = Symbol("rampart.precomputedResult");

/** The precomputed result a request's context carries, if any. */
export function precomputedOf(requestContext: GatewayGraphQLRequestContext): Precomputed | undefined {
  const context = requestContext.context as { [PRECOMPUTED]?: Precomputed } | undefined;
  return context?.[PRECOMPUTED];
}
