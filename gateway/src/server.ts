import { ApolloServer, HeaderMap } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express from "express";
import { GraphQLError, type FormattedExecutionResult } from "graphql";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, register } from "prom-client";
import {
  ErrorCode,
  formatError,
  InternalTokens,
  listen,
  metricsAuth,
  UnauthenticatedError,
  type Config,
  type Identity,
  type Logger,
} from "../../subgraphs/common/src";
import { ClientAuth } from "./auth";
import { clientAddressOf, trustedProxyList } from "./client-address";
import { createSubgraphAgent, UndiciDataSource } from "./datasource";
import { PreparedOperationGateway } from "./executor";
import { serveExplorer } from "./explorer";
import { leanGraphqlPost } from "./graphql-http";
import { ingestProxy } from "./ingest";
import { KnownOperations } from "./known-operations";
import {
  isLimitError,
  operationLimits,
  operationRequired,
  variablesDepthError,
  variablesDepthLimit,
} from "./limits";
import { jsonErrors } from "../../subgraphs/common/src/http";
import { serveLive } from "./live";
import { RateLimits } from "./rate-limit";
import { loadSafelist, safelistCache, safelistPlugin } from "./safelist";
import { surfaceValueCompletion } from "./value-completion";
import { createSubscriptionManager, DEFAULT_SUBSCRIPTION_SETTINGS } from "./subscriptions";

/** The gateway's request context: the verified client and the internal token for subgraphs. */
export interface GatewayContext {
  identity: Identity;
  internalToken: string;
}

const requests =
  (register.getSingleMetric("rampart_gateway_requests_total") as Counter<"outcome"> | undefined) ??
  new Counter({
    name: "rampart_gateway_requests_total",
    help: "GraphQL requests served by the gateway.",
    labelNames: ["outcome"],
  });

const supergraphReloads =
  (register.getSingleMetric("rampart_gateway_supergraph_reloads_total") as Counter<"outcome"> | undefined) ??
  new Counter({
    name: "rampart_gateway_supergraph_reloads_total",
    help: "Supergraph reloads asked for (SIGHUP): applied, unchanged, or refused (the file did not load).",
    labelNames: ["outcome"],
  });

/** What a supergraph reload did. */
export type SupergraphReload = "applied" | "unchanged";

/** A running gateway. */
export interface Gateway {
  url: string;
  port: number;
  /**
   * Reads SUPERGRAPH_PATH again and, when it changed, serves the new supergraph: queries at once,
   * subscriptions after their clients resume (open ones close with 1012). A file that does not
   * load is refused (the error is thrown) and the running supergraph stays.
   */
  reloadSupergraph(): Promise<SupergraphReload>;
  close(): Promise<void>;
}

/**
 * The one graph: a static supergraph (SUPERGRAPH_PATH) executed by @apollo/gateway, client JWTs
 * verified here and replaced by a short-lived internal identity token towards the subgraphs. A port it
 * cannot bind rejects with a ListenError, once what it had opened is closed.
 */
export async function startGateway(
  config: Config,
  log: Logger,
  overrides: { port?: number; subgraphUrls?: Partial<Config["subgraphUrls"]> } = {},
): Promise<Gateway> {
  const production = config.env === "production";
  let supergraphSdl = readFileSync(config.supergraphPath, "utf8");
  const subgraphUrls = { ...config.subgraphUrls, ...overrides.subgraphUrls };
  const agent = createSubgraphAgent(config.subgraphTimeoutMs);
  let updateSupergraph: ((sdl: string) => void) | undefined;
  const gateway = new PreparedOperationGateway({
    // A supergraph manager rather than a static SDL, so that reloadSupergraph() can replace it.
    supergraphSdl: {
      initialize: async ({ update }) => {
        updateSupergraph = update;
        return { supergraphSdl };
      },
    },
    buildService: ({ name }) =>
      new UndiciDataSource<GatewayContext>(subgraphUrls[name as keyof typeof subgraphUrls], agent, name),
    logger: log,
  });
  const auth = new ClientAuth(config.jwt);
  const tokens = new InternalTokens(config.internalTokenSecret);
  const trustedProxies = trustedProxyList(config.trustedProxies);

  const app = express();
  app.disable("x-powered-by");
  // Set once Apollo has started: until then every request goes through Express.
  const lean: { post?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean } = {};
  const httpServer = http.createServer((req, res) => {
    if (!lean.post?.(req, res)) app(req, res);
  });
  httpServer.keepAliveTimeout = 65_000;
  const limits = operationLimits({ production });
  const subscriptionDeps = {
    tokens,
    serviceMap: Object.fromEntries(
      Object.entries(subgraphUrls).map(([name, url]) => [
        name,
        new UndiciDataSource<GatewayContext>(url, agent, name),
      ]),
    ),
    siemWsUrl: subgraphUrls.siem.replace(/^http/, "ws"),
    log: log.child({ component: "subscriptions" }),
    settings: { ...DEFAULT_SUBSCRIPTION_SETTINGS, queueLimit: config.subscriptionQueueLimit },
  };
  /** Plans a supergraph's subscriptions; refuses one that joins a subgraph with no configured URL. */
  const managerFor = (sdl: string) => {
    const manager = createSubscriptionManager(sdl, subscriptionDeps);
    const unknown = manager.subgraphNames.filter((name) => !(name in subgraphUrls));
    if (unknown.length)
      throw new Error(`The supergraph joins subgraphs with no configured URL: ${unknown.join(", ")}.`);
    return manager;
  };
  const safelist = config.safelistPath ? loadSafelist(config.safelistPath) : null;
  if (safelist)
    log.info({ path: config.safelistPath, operations: safelist.size }, "safelisted operations only");
  const live = serveLive({
    httpServer,
    app,
    manager: managerFor(supergraphSdl),
    auth,
    log,
    validationRules: limits.validationRules,
    production,
    keepAliveMs: config.subscriptionKeepAliveMs,
    subscriptionsPerConnection: config.subscriptionsPerConnection,
    connectionLimits: { perUser: config.liveConnectionsPerUser, perTenant: config.liveConnectionsPerTenant },
    safelist,
  });
  /** What the gateway's `willSendResponse` hook does to every answer: surfaced value-completion errors, counted. */
  const willSendResponse = (result: FormattedExecutionResult): FormattedExecutionResult => {
    const surfaced = surfaceValueCompletion(result);
    requests.inc({ outcome: (surfaced.errors?.length ?? 0) > 0 ? "error" : "ok" });
    return surfaced;
  };
  const knownOperations = new KnownOperations();
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: config.introspection,
    ...(safelist ? { persistedQueries: { cache: safelistCache(safelist) } } : {}),
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    validationRules: limits.validationRules,
    plugins: [
      ...(safelist ? [safelistPlugin<GatewayContext>(safelist)] : []),
      operationRequired<GatewayContext>(),
      ...limits.plugins,
      variablesDepthLimit<GatewayContext>(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Apollo's landing page loads its explorer from a CDN: the gateway serves its own at /explorer.
      ApolloServerPluginLandingPageDisabled(),
      {
        async requestDidStart() {
          return {
            async willSendResponse({ response }) {
              if (response.body.kind === "single")
                response.body.singleResult = willSendResponse(response.body.singleResult);
              else requests.inc({ outcome: "ok" });
            },
          };
        },
      },
      // Learns the operations the lean POST path may then answer without Apollo's request pipeline.
      knownOperations.plugin<GatewayContext>(),
    ],
    formatError: (formatted, error) => {
      if (isLimitError(formatted.message))
        return { message: formatted.message, extensions: { code: ErrorCode.OperationLimit } };
      return formatError(formatted, error, {
        maskInternal: production,
        log: (err) => log.error({ err }, "unexpected error"),
      });
    },
  });
  await apollo.start();
  if (!register.getSingleMetric("process_cpu_seconds_total")) collectDefaultMetrics();

  app.get("/health", (_req, res) => {
    res.json({ status: "ok", service: "gateway" });
  });
  app.get("/ready", async (_req, res) => {
    const checks = await Promise.all(
      Object.entries(subgraphUrls).map(async ([name, url]) => {
        try {
          const r = await fetch(new URL("/ready", url), { signal: AbortSignal.timeout(2000) });
          return [name, r.ok] as const;
        } catch {
          return [name, false] as const;
        }
      }),
    );
    const ready = checks.every(([, ok]) => ok);
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? "ready" : "unavailable", subgraphs: Object.fromEntries(checks) });
  });
  app.get("/metrics", metricsAuth(config.metricsToken), async (_req, res) => {
    res.type(register.contentType).send(await register.metrics());
  });
  const rateLimits = new RateLimits(config.rateLimits);
  const ingest = { auth, tokens, agent, maxBodyBytes: config.maxBodyBytes, rateLimits, log };
  app.post("/ingest/events", ingestProxy({ ...ingest, upstream: subgraphUrls.siem }));
  app.post("/ingest/telemetry", ingestProxy({ ...ingest, upstream: subgraphUrls.protection }));
  /**
   * The verified client and its internal token; UNAUTHENTICATED (401) otherwise, and RATE_LIMITED (429, with
   * Retry-After) past the client's request rate: every query and mutation over HTTP, the lean path's included,
   * asks for its context once, and a refused one reaches no subgraph. The token also carries the
   * address the request came from (`clientAddressOf`: the peer, or what a trusted proxy forwarded), which
   * resolvers such as JIT's "my IP" use; no client header is passed to a subgraph.
   */
  const contextOf = async (req: http.IncomingMessage): Promise<GatewayContext> => {
    let verified: Identity;
    try {
      verified = await auth.authenticate(req.headers.authorization);
    } catch (err) {
      const message = err instanceof UnauthenticatedError ? err.message : "Authentication failed.";
      throw new GraphQLError(message, {
        extensions: { code: ErrorCode.Unauthenticated, http: { status: 401 } },
      });
    }
    const refusal = rateLimits.graphql(verified);
    if (refusal) {
      // Apollo Server sets the headers of an error's `http` extension only when they are a Map (a HeaderMap);
      // graphql-yoga's augmentation of GraphQLErrorExtensions (loaded with GraphQL Armor) types them as a record.
      const http = {
        status: 429,
        headers: new HeaderMap([["retry-after", String(refusal.retryAfterSeconds)]]),
      } as unknown as { status: number };
      throw new GraphQLError(refusal.message, {
        extensions: { code: ErrorCode.RateLimited, retryAfterSeconds: refusal.retryAfterSeconds, http },
      });
    }
    const clientAddress = clientAddressOf(req, trustedProxies);
    const identity: Identity = clientAddress ? { ...verified, clientAddress } : verified;
    return { identity, internalToken: await tokens.sign(identity) };
  };
  /** Set once close() is called. */
  let closing: Promise<void> | undefined;
  lean.post = leanGraphqlPost({
    apollo,
    maxBodyBytes: config.maxBodyBytes,
    context: contextOf,
    onError: (err) => log.error({ err }, "GraphQL request failed"),
    // Apollo installs its usage-reporting plugin of its own when APOLLO_KEY is set: every request then goes
    // through its pipeline, to be reported.
    known: process.env.APOLLO_KEY
      ? undefined
      : {
          operations: knownOperations,
          executor: gateway,
          admits: (variables) => variablesDepthError(variables) === null,
          willSendResponse,
          logger: apollo.logger,
          open: () => !closing,
        },
  });
  if (config.introspection) {
    serveExplorer(app);
    // A browser opening the endpoint itself gets the explorer.
    app.get("/graphql", (req, res, next) => {
      if (req.query.query === undefined && req.accepts(["application/json", "text/html"]) === "text/html")
        return res.redirect(302, "/explorer");
      next();
    });
  }
  // Everything the lean path leaves to Express: GET, other media types, charsets and encodings.
  app.use(
    "/graphql",
    express.json({ limit: config.maxBodyBytes }),
    expressMiddleware(apollo, { context: ({ req }) => contextOf(req) }),
  );

  app.use(jsonErrors);

  try {
    await listen(httpServer, overrides.port ?? config.ports.gateway, config.host);
  } catch (err) {
    // Nothing outlives a gateway that cannot serve: its WebSocket endpoint, Apollo and the subgraph pool.
    await live.close();
    await apollo.stop();
    await agent.close();
    throw err;
  }
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host}:${port}/graphql`;
  log.info({ url }, "gateway listening");
  let reloading = Promise.resolve<unknown>(undefined);
  const reload = async (): Promise<SupergraphReload> => {
    const next = readFileSync(config.supergraphPath, "utf8");
    if (next === supergraphSdl) return "unchanged";
    if (closing) throw new Error("The gateway is shutting down.");
    // Planned first: a supergraph the planner cannot load, or that names an unknown subgraph, changes nothing.
    const manager = managerFor(next);
    if (!updateSupergraph) throw new Error("The gateway has not loaded its supergraph yet.");
    updateSupergraph(next);
    supergraphSdl = next;
    live.replaceManager(manager);
    return "applied";
  };
  return {
    url,
    port,
    reloadSupergraph: () => {
      // One reload at a time, in the order asked.
      const result = reloading.then(reload).then(
        (outcome) => {
          supergraphReloads.inc({ outcome });
          log.info({ outcome, path: config.supergraphPath }, "supergraph reload");
          return outcome;
        },
        (err: unknown) => {
          supergraphReloads.inc({ outcome: "refused" });
          log.error({ err, path: config.supergraphPath }, "supergraph reload refused; the running one stays");
          throw err;
        },
      );
      reloading = result.catch(() => undefined);
      return result;
    },
    close: () =>
      (closing ??= (async () => {
        await live.close();
        await apollo.stop();
        await agent.close();
      })()),
  };
}
