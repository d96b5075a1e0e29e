import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import { GraphQLError } from "graphql";
import { ErrorCode, jsonProblem } from "../../subgraphs/common/src";

/** Operation limits (GraphQL Armor): depth, aliases, directives, tokens and cost. */
export function operationLimits(options: { production: boolean }) {
  return new ApolloArmor({
    maxDepth: { n: 12, ignoreIntrospection: true },
    maxAliases: { n: 30 },
    maxDirectives: { n: 50 },
    maxTokens: { n: 5000 },
    costLimit: {
      maxCost: 20000,
      objectCost: 2,
      scalarCost: 1,
      depthCostFactor: 1.5,
      ignoreIntrospection: true,
    },
    blockFieldSuggestion: { enabled: options.production },
  }).protect();
}

/**
 * Deepest nesting of an operation's variables the gateway passes on. Well above any subgraph's own limit
 * (records 100, policy conditions 32: they answer with the fault's path), well below where the gateway's
 * own `JSON.stringify` of a subgraph fetch would exhaust the stack (~4,000 levels).
 */
export const MAX_VARIABLES_DEPTH = 2000;

/**
 * BAD_USER_INPUT (HTTP 400) naming the variable when `variables` nest deeper than MAX_VARIABLES_DEPTH, else
 * null: checked before anything serialises or compares them, since `JSON.stringify` recurses and a JSON
 * variable a few thousand levels deep would exhaust the stack and fail as an internal error.
 */
export function variablesDepthError(variables: Record<string, unknown>): GraphQLError | null {
  const problem = jsonProblem(variables, { strings: false, maxDepth: MAX_VARIABLES_DEPTH });
  if (!problem) return null;
  const variable = problem.path.split(/[.[]/)[0];
  return new GraphQLError(
    `Variable $${variable} is nested deeper than ${MAX_VARIABLES_DEPTH} levels, the most accepted.`,
    {
      extensions: {
        code: ErrorCode.BadUserInput,
        problems: [{ field: problem.path, message: `is nested deeper than ${MAX_VARIABLES_DEPTH} levels` }],
        http: { status: 400 },
      },
    },
  );
}

/** Refuses a query or mutation whose variables nest too deep (`variablesDepthError`) before any subgraph fetch. */
export function variablesDepthLimit<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request }) {
          const error = variablesDepthError(request.variables ?? {});
          if (error) throw error;
        },
      };
    },
  };
}

/**
 * A request whose document has no operation to run — `operationName` names none of its operations, or it holds
 * several and names none — is BAD_USER_INPUT (400). Apollo leaves that to the executor, and @apollo/gateway's
 * query planner then failed it as an internal error (HTTP 500, code INVALID_GRAPHQL).
 */
export function operationRequired<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, request }) {
          if (operation) return;
          const message = request.operationName
            ? `Unknown operation named "${request.operationName.slice(0, 100)}".`
            : "The document holds several operations: name the one to run (`operationName`).";
          throw new GraphQLError(message, {
            extensions: { code: ErrorCode.BadUserInput, http: { status: 400 } },
          });
        },
      };
    },
  };
}

/** True for an error raised by one of the limits above. */
export const isLimitError = (message: string) => /limit of \d+ exceeded/i.test(message);
