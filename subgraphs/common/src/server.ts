import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
} from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type Express, type Request, type Response } from "express";
import type { GraphQLSchema } from "graphql";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { register } from "prom-client";
import type { DataSource } from "typeorm";
import { ErrorCode, formatError } from "./errors";
import { IDENTITY_HEADER, type Identity, type InternalTokens } from "./identity";
import { RequestDb, type ReplicaSource } from "./db/data-source";
import { OutboxPositionsCheck } from "./db/outbox-rebase";
import type { Logger } from "./logger";
import { jsonErrors } from "./http";
import { listen } from "./listen";
import { metricsAuth } from "./metrics-auth";
import { serveSubscriptions, type SubscriptionServer } from "./subscriptions";

/** What every subgraph's request context holds; subgraphs add their services and loaders. */
export interface BaseContext {
  identity: Identity;
  db: RequestDb;
  log: Logger;
}

/** How a subgraph is served. */
export interface SubgraphServerOptions<Ctx extends BaseContext> {
  name: string;
  schema: GraphQLSchema;
  dataSource: DataSource;
  /** The read replica heavy reads go to (`RequestDb.readReplica`), when DATABASE_REPLICA_URL is set. */
  replica?: ReplicaSource;
  tokens: InternalTokens;
  log: Logger;
  host: string;
  port: number;
  production: boolean;
  maxBodyBytes: number;
  /** METRICS_TOKEN: the bearer token `/metrics` requires; open when unset. */
  metricsToken?: string;
  /** Adds the subgraph's services and per-request DataLoaders to the base context. */
  createContext: (base: BaseContext) => Ctx;
  /** Extra HTTP routes (bulk ingest endpoints), mounted after identity verification. */
  routes?: (app: Express, authenticate: express.RequestHandler) => void;
  /**
   * Starts the subgraph's background work (listeners, relays, the job runner) once the port is bound, so
   * that a process that cannot listen has taken no job and relayed nothing. What it returns is stopped on
   * shutdown, in order, after the server has drained; when it fails, it stops what it had started itself.
   * Requests and subscriptions that arrive meanwhile wait for it (`/health` and `/metrics` do not).
   */
  startWork?: () => Promise<Array<{ stop(): Promise<void> }>>;
  /**
   * Why the subgraph cannot do part of its work now (a dependency of its own is down), or null; asked on each
   * `/ready` once the database answers, so it must be cheap (a connection's state, not a round trip).
   */
  notReady?: () => string | null;
}

/** A running subgraph. */
export interface SubgraphServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Closes the request's read transaction once the response is ready, whatever happened. */
const closeRequestDb: ApolloServerPlugin<BaseContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue }) {
        await contextValue.db.close();
      },
    };
  },
};

function unauthenticated(res: Response, message: string): void {
  res.status(401).json({ errors: [{ message, extensions: { code: ErrorCode.Unauthenticated } }] });
}

/** A request held while the subgraph started, when its start failed (the process is about to exit). */
function notStarted(res: Response): void {
  res.status(503).json({
    errors: [{ message: "The subgraph did not start.", extensions: { code: ErrorCode.Unavailable } }],
  });
}

/**
 * Serves one subgraph: `/graphql` for the gateway (internal identity token required), `/health`
 * (process up), `/ready` (started, database reachable, outbox settled by migrate (`OutboxPositionsCheck`), nothing that
 * `notReady` names) and `/metrics` (Prometheus). The port is bound before any background work starts: when it cannot be (EADDRINUSE,
 * EACCES), this rejects with a ListenError having started nothing that outlives it.
 */
export async function startSubgraphServer<Ctx extends BaseContext>(
  options: SubgraphServerOptions<Ctx>,
): Promise<SubgraphServer> {
  const { log, tokens, dataSource } = options;
  const app = express();
  app.disable("x-powered-by");
  const httpServer = http.createServer(app);
  httpServer.keepAliveTimeout = 65_000;
  // Settles with whether the background work started: until then requests wait (and /ready says 503).
  let markStarted!: (ok: boolean) => void;
  const started = new Promise<boolean>((resolve) => (markStarted = resolve));
  let ready = false;

  // graphql-ws on the same port and path, when the schema has subscriptions (the SIEM's).
  const subscriptions: SubscriptionServer | undefined = options.schema.getSubscriptionType()
    ? serveSubscriptions({
        httpServer,
        schema: options.schema,
        dataSource,
        tokens,
        log,
        createContext: options.createContext,
        production: options.production,
        started,
      })
    : undefined;

  const apollo = new ApolloServer<Ctx>({
    schema: options.schema,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginInlineTraceDisabled(),
      // Apollo's cache-control plugin wraps every field's resolver to work out cache hints, which no subgraph gives
      // (answers are per tenant and role, never cached): a quarter of the GraphQL time of a large list
      // (bench/README.md, "Subgraph execution without cache hints"). `no-store` is set below instead.
      ApolloServerPluginCacheControlDisabled(),
      closeRequestDb as ApolloServerPlugin<Ctx>,
    ],
    formatError: (formatted, error) =>
      formatError(formatted, error, {
        maskInternal: options.production,
        log: (err) => log.error({ err }, "unexpected error"),
      }),
  });
  await apollo.start();

  app.get("/health", (_req, res) => {
    res.json({ status: "ok", service: options.name });
  });
  // Checked (and logged) once now; `/ready` asks again only while it fails.
  const positions = new OutboxPositionsCheck(dataSource, options.name, log);
  await positions.problem().catch((err: unknown) => log.warn({ err }, "outbox positions not checked"));
  app.get("/ready", async (_req, res) => {
    if (!ready) {
      res.status(503).json({ status: "starting", service: options.name });
      return;
    }
    try {
      await dataSource.query("SELECT 1");
      const reason = (await positions.problem()) ?? options.notReady?.() ?? null;
      if (reason) res.status(503).json({ status: "unavailable", service: options.name, reason });
      else res.json({ status: "ready", service: options.name });
    } catch (err) {
      log.warn({ err }, "not ready");
      res.status(503).json({ status: "unavailable", service: options.name });
    }
  });
  app.get("/metrics", metricsAuth(options.metricsToken), async (_req, res) => {
    res.type(register.contentType).send(await register.metrics());
  });

  const authenticate: express.RequestHandler = (req, res, next) => {
    tokens.verify(req.header(IDENTITY_HEADER)).then(
      (identity) => {
        res.locals.identity = identity;
        next();
      },
      (err: Error) => unauthenticated(res, err.message),
    );
  };

  // Everything below needs the background work (the SIEM's subscriptions read its live feed): wait for it.
  app.use((_req, res, next) => {
    if (ready) return next();
    void started.then((ok) => (ok ? next() : notStarted(res)));
  });

  options.routes?.(app, authenticate);

  app.use(
    "/graphql",
    authenticate,
    (_req: Request, res: Response, next: () => void) => {
      res.setHeader("cache-control", "no-store");
      next();
    },
    express.json({ limit: options.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ res }: { req: Request; res: Response }) => {
        const identity = res.locals.identity as Identity;
        return options.createContext({
          identity,
          db: new RequestDb(dataSource, identity.tenantId, options.replica),
          log,
        });
      },
    }),
  );

  app.use(jsonErrors);

  try {
    await listen(httpServer, options.port, options.host);
  } catch (err) {
    markStarted(false);
    await subscriptions?.close();
    await apollo.stop();
    throw err;
  }
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${options.host}:${port}/graphql`;

  let work: Array<{ stop(): Promise<void> }> = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await subscriptions?.close();
      await apollo.stop();
      for (const part of work) await part.stop();
      if (dataSource.isInitialized) await dataSource.destroy();
      await options.replica?.destroy();
    })());
  try {
    work = (await options.startWork?.()) ?? [];
  } catch (err) {
    markStarted(false);
    await close();
    throw err;
  }
  ready = true;
  markStarted(true);
  log.info({ url }, `${options.name} subgraph listening`);
  return { url, port, close };
}
