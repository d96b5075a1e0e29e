import {
  createSourceEventStream,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type http from "node:http";
import type { DataSource } from "typeorm";
import { RequestDb } from "./db/data-source";
import { POSITION_EXTENSION, StreamPosition } from "./db/outbox";
import { IDENTITY_HEADER, type Identity, type InternalTokens } from "./identity";
import { attachWebSocketServer } from "./listen";
import type { Logger } from "./logger";
import type { BaseContext } from "./server";

/** How a subgraph serves its `Subscription` fields. */
export interface SubscriptionServerOptions<Ctx extends BaseContext> {
  httpServer: http.Server;
  schema: GraphQLSchema;
  dataSource: DataSource;
  tokens: InternalTokens;
  log: Logger;
  createContext: (base: BaseContext) => Ctx;
  production: boolean;
  /**
   * Whether the subgraph started what its subscriptions read from (the SIEM's live feed starts with its
   * background work, after the port is bound): a connection that comes earlier waits for it, and is
   * refused when the start failed.
   */
  started?: Promise<boolean>;
}

/** A running subscription endpoint. */
export interface SubscriptionServer {
  /** Closes every connection (code 1001) and stops accepting new ones. */
  close(): Promise<void>;
}

const IDENTITY_PARAM = IDENTITY_HEADER;

/**
 * graphql-ws on the subgraph's `/graphql`, for the gateway only: `connectionParams` must carry a
 * valid internal identity token (`x-rampart-identity`), as the HTTP endpoint requires the header.
 * Each event is executed with a context of its own (fresh DataLoaders and read transaction), so
 * nested fields show the data as it is when the event is sent, never a cached earlier state.
 */
export function serveSubscriptions<Ctx extends BaseContext>(
  options: SubscriptionServerOptions<Ctx>,
): SubscriptionServer {
  const { log, tokens, dataSource } = options;
  const { wss, detach } = attachWebSocketServer(options.httpServer, "/graphql");
  const contextFor = (identity: Identity): Ctx =>
    options.createContext({ identity, db: new RequestDb(dataSource, identity.tenantId), log });

  const server = useServer<Record<string, unknown>, { identity: Identity }>(
    {
      schema: options.schema,
      isProd: options.production,
      onConnect: async (ctx) => {
        try {
          if (options.started && !(await options.started)) return false;
          const token = ctx.connectionParams?.[IDENTITY_PARAM];
          ctx.extra.identity = await tokens.verify(typeof token === "string" ? token : undefined);
          return true;
        } catch (err) {
          log.warn({ err }, "subscription connection refused");
          return false;
        }
      },
      context: (ctx) => contextFor(ctx.extra.identity as Identity),
      subscribe: (args) => subscribeWithFreshContexts(args, () => contextFor(identityOf(args))),
      onError: (_ctx, _id, _payload, errors) => {
        log.warn({ errors: errors.map((e) => e.message) }, "subscription error");
      },
    },
    wss,
  );

  return {
    close: async () => {
      detach();
      for (const client of wss.clients) client.close(1001, "Server shutting down; resume by cursor.");
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function identityOf(args: ExecutionArgs): Identity {
  return (args.contextValue as BaseContext).identity;
}

/**
 * graphql-js `subscribe`, except that every event is executed with a new context (closed after).
 * The connection's context is used only by the fields' `subscribe` functions to open the stream.
 */
async function subscribeWithFreshContexts(
  args: ExecutionArgs,
  newContext: () => BaseContext,
): Promise<AsyncIterable<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!isAsyncIterable(stream)) return stream;
  const source = stream[Symbol.asyncIterator]();
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () => {
      const event = await source.next();
      if (event.done) return { done: true, value: undefined };
      if (event.value instanceof StreamPosition)
        return { done: false, value: { extensions: { [POSITION_EXTENSION]: event.value.cursor } } };
      const contextValue = newContext();
      try {
        const value = await execute({ ...args, rootValue: event.value, contextValue });
        return { done: false, value };
      } finally {
        await contextValue.db.close();
      }
    },
    return: async () => {
      await source.return?.();
      return { done: true, value: undefined };
    },
    throw: async (err: unknown) => {
      await source.return?.();
      throw err;
    },
  };
  return iterator;
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
