/**
 * Hive Gateway configuration for the gateway benchmark (compiled to dist/bench/hive.config.js and
 * passed as `hive-gateway supergraph <file> -c dist/bench/hive.config.js`).
 *
 * Only what the comparison needs: the client's `x-rampart-identity` header (a pre-minted internal
 * token) is forwarded to every subgraph fetch; the landing page, GraphiQL and info logging are off.
 * The subgraph urls come from the supergraph file's `join__graph` directives.
 */
import { defineConfig } from "@graphql-hive/gateway";

/** Same header as `IDENTITY_HEADER` in subgraphs/common/src/identity.ts. */
const IDENTITY_HEADER = "x-rampart-identity";

export const gatewayConfig = defineConfig({
  landingPage: false,
  graphiql: false,
  logging: "warn",
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({ [IDENTITY_HEADER]: request.headers.get(IDENTITY_HEADER) }),
  },
});
