import { composeServices } from "@apollo/composition";
import { printSubgraphSchema } from "@apollo/subgraph";
import { parse, printSchema } from "graphql";
import { buildFederatedSchema, type BaseContext, type SubgraphModule } from "../../subgraphs/common/src";

/** The composed graph: the supergraph the gateway runs and the API schema clients see. */
export interface Composition {
  supergraph: string;
  apiSchema: string;
  subgraphs: Record<string, string>;
}

/** Thrown when the subgraphs do not compose; the message lists every composition error. */
export class CompositionError extends Error {}

/** Builds each subgraph's schema in-process and composes them with @apollo/composition. */
export async function composeSupergraph(
  modules: ReadonlyArray<SubgraphModule<BaseContext>>,
): Promise<Composition> {
  const subgraphs: Record<string, string> = {};
  for (const module of modules)
    subgraphs[module.name] = printSubgraphSchema(await buildFederatedSchema(module.schema));
  const result = composeServices(
    modules.map((m, i) => ({
      name: m.name,
      url: `http://127.0.0.1:${4001 + i}/graphql`,
      typeDefs: parse(subgraphs[m.name]),
    })),
  );
  if (result.errors) throw new CompositionError(result.errors.map((e) => `- ${e.message}`).join("\n"));
  return {
    supergraph: result.supergraphSdl,
    apiSchema: printSchema(result.schema.toAPISchema().toGraphQLJSSchema()) + "\n",
    subgraphs,
  };
}
