import { buildSubgraphSchema } from "@apollo/subgraph";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import type { GraphQLSchema } from "graphql";
import gql from "graphql-tag";
import { buildSchema, createResolversMap, type NonEmptyArray, type PubSub } from "type-graphql";
import { authCheckerFor, machineBoundFields } from "./auth";
import { DateTimeScalar } from "./scalars";

/** The Federation 2 directives our subgraphs use. */
const FEDERATION_LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@inaccessible"])`;

/** `__resolveReference` functions by entity type name. */
export type ReferenceResolvers = Record<
  string,
  { __resolveReference: (ref: never, context: never) => unknown }
>;

/** Inputs of a subgraph schema: type-graphql resolver classes and the entities' reference resolvers. */
export interface SubgraphSchemaOptions {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  resolvers: NonEmptyArray<Function>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  orphanedTypes?: Function[];
  referenceResolvers?: ReferenceResolvers;
}

/**
 * Our subscriptions read the subgraph's outbox through their own `subscribe` functions; type-graphql's
 * topic publishing is never used, but it insists on a PubSub once a schema has subscriptions.
 */
const TOPICS_UNUSED: PubSub = {
  publish: () => {
    throw new Error("Subscriptions are fed by the outbox, not by publish().");
  },
  subscribe: () => {
    throw new Error("Subscriptions are fed by the outbox: use a `subscribe` function.");
  },
};

/**
 * type-graphql classes → printed SDL with directives → `buildSubgraphSchema`, with the resolvers
 * type-graphql generated and the reference resolvers merged in (type-graphql's federation-2 recipe).
 */
export async function buildFederatedSchema(options: SubgraphSchemaOptions): Promise<GraphQLSchema> {
  // The root fields a machine-bound credential may call, known once type-graphql has built the schema.
  const machineBound = new Set<string>();
  const schema = await buildSchema({
    resolvers: options.resolvers,
    orphanedTypes: options.orphanedTypes,
    authChecker: authCheckerFor(machineBound),
    authMode: "error",
    validate: false,
    skipCheck: true,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    pubSub: TOPICS_UNUSED,
  });
  for (const field of machineBoundFields(schema)) machineBound.add(field);
  describeRootTypes(schema);
  const resolvers = createResolversMap(schema) as GraphQLResolverMap<unknown>;
  for (const [typeName, reference] of Object.entries(options.referenceResolvers ?? {})) {
    resolvers[typeName] = {
      ...(resolvers[typeName] as object),
      ...reference,
    } as GraphQLResolverMap<unknown>[string];
  }
  return buildSubgraphSchema({
    typeDefs: gql(`${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`),
    resolvers,
  });
}

const ROOT_DESCRIPTIONS: Record<string, string> = {
  Query: "Reads: the tenant's inventory, posture, protection and SIEM data.",
  Mutation: "Writes: each mutation runs in one transaction and is audited.",
  Subscription: "Live streams of changes, resumable by cursor.",
};

/** type-graphql cannot describe root types; the same text in every subgraph keeps composition quiet. */
function describeRootTypes(schema: GraphQLSchema): void {
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (type && !type.description)
      (type as { description?: string | null }).description = ROOT_DESCRIPTIONS[type.name];
  }
}
