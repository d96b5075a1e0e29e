import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import {
  GraphQLError,
  Kind,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationRule,
} from "graphql";
import { ErrorCode, jsonProblem } from "../../subgraphs/common/src";

/** Most tokens (names, punctuation, literals) an operation's document may hold. */
export const MAX_TOKENS = 5000;

/**
 * Most root fields one operation selects (through fragments too; introspection's `__schema`, `__type` and
 * `__typename` aside). Each is a fetch of its own that the cost limit prices only by what it selects, so a
 * document of many cheap root fields would fan out to the subgraphs unbounded.
 */
export const MAX_ROOT_FIELDS = 20;

/** Validation rule: an operation selecting more than `max` root fields fails with "Root field limit of N exceeded". */
export function rootFieldLimit(max: number): ValidationRule {
  return (context) => {
    const fragments = new Map(
      context
        .getDocument()
        .definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
        .map((d) => [d.name.value, d]),
    );
    const count = (set: SelectionSetNode, seen: Set<string>): number =>
      set.selections.reduce((n, selection) => {
        if (selection.kind === Kind.FIELD) return n + (selection.name.value.startsWith("__") ? 0 : 1);
        if (selection.kind === Kind.INLINE_FRAGMENT) return n + count(selection.selectionSet, seen);
        // A fragment spread once per operation (a cycle or a repeat adds nothing: the fields are the same).
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) return n;
        seen.add(fragment.name.value);
        return n + count(fragment.selectionSet, seen);
      }, 0);
    return {
      OperationDefinition(node) {
        const found = count(node.selectionSet, new Set());
        if (found > max)
          context.reportError(
            new GraphQLError(`Root field limit of ${max} exceeded, found ${found}.`, { nodes: [node] }),
          );
      },
    };
  };
}

/** Operation limits: depth, aliases, directives, tokens and cost (GraphQL Armor) and root fields. */
export function operationLimits(options: { production: boolean }) {
  const armor = new ApolloArmor({
    maxDepth: { n: 12, ignoreIntrospection: true },
    maxAliases: { n: 30 },
    maxDirectives: { n: 50 },
    maxTokens: { n: MAX_TOKENS },
    costLimit: {
      maxCost: 20000,
      objectCost: 2,
      scalarCost: 1,
      depthCostFactor: 1.5,
      ignoreIntrospection: true,
    },
    blockFieldSuggestion: { enabled: options.production },
  }).protect();
  return { ...armor, validationRules: [...armor.validationRules, rootFieldLimit(MAX_ROOT_FIELDS)] };
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
