import { ApolloArmor } from "@escape.tech/graphql-armor";

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

/** True for an error raised by one of the limits above. */
export const isLimitError = (message: string) => /limit of \d+ exceeded/i.test(message);
