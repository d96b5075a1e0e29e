/**
 * The baseline of the gateway benchmark: stock @apollo/gateway as its documentation shows it.
 * `startStandaloneServer` + `ApolloGateway` on a static supergraph, the DEFAULT fetcher
 * (make-fetch-happen), and a data source that only copies the client's `x-rampart-identity` header
 * (the benchmark client sends a pre-minted internal token) to each subgraph request. No client JWT
 * verification, no operation limits, no metrics: only federation.
 *
 * Env: STOCK_GATEWAY_PORT, SUPERGRAPH_PATH, and POSTURE_URL / PROTECTION_URL / SIEM_URL (each falls
 * back to the url in the supergraph's `join__graph`).
 */
import {
  ApolloGateway,
  RemoteGraphQLDataSource,
  type GraphQLDataSourceProcessOptions,
} from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { readFileSync } from "node:fs";

/** Same header as `IDENTITY_HEADER` in subgraphs/common/src/identity.ts. */
const IDENTITY_HEADER = "x-rampart-identity";

interface StockContext {
  identity?: string;
}

class ForwardIdentity extends RemoteGraphQLDataSource<StockContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<StockContext>): void {
    if ("identity" in context && context.identity)
      request.http?.headers.set(IDENTITY_HEADER, context.identity);
  }
}

async function main(): Promise<void> {
  const port = Number(process.env.STOCK_GATEWAY_PORT ?? 4100);
  const supergraphPath = process.env.SUPERGRAPH_PATH ?? "gateway/supergraph.graphql";
  const urls: Record<string, string | undefined> = {
    posture: process.env.POSTURE_URL,
    protection: process.env.PROTECTION_URL,
    siem: process.env.SIEM_URL,
  };
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(supergraphPath, "utf8"),
    buildService: ({ name, url }) => new ForwardIdentity({ url: urls[name] ?? url }),
  });
  const server = new ApolloServer<StockContext>({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { port, host: "127.0.0.1" },
    context: async ({ req }) => {
      const header = req.headers[IDENTITY_HEADER];
      return { identity: Array.isArray(header) ? header[0] : header };
    },
  });
  console.log(`stock @apollo/gateway listening on ${url}`);
  const stop = () => {
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
