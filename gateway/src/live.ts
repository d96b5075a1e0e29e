import express, { type Express } from "express";
import {
  GraphQLError,
  Kind,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ValidationRule,
} from "graphql";
import { createHandler } from "graphql-sse/lib/use/express";
import { useServer } from "graphql-ws/use/ws";
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type { WebSocket } from "ws";
import {
  attachWebSocketServer,
  ErrorCode,
  jsonErrors,
  MAX_LIVE_MESSAGE_BYTES,
  UnauthenticatedError,
  type Identity,
  type Logger,
} from "../../subgraphs/common/src";
import type { ClientAuth } from "./auth";
import {
  GOING_AWAY_CLOSE,
  SLOW_CONSUMER_CLOSE,
  SUPERGRAPH_CHANGED_CLOSE,
  SUPERGRAPH_CHANGED_RESULT,
  TOKEN_EXPIRED_CLOSE,
  TOKEN_EXPIRED_RESULT,
  type SubscriptionManager,
} from "./subscriptions";
import { isLimitError, MAX_TOKENS, variablesDepthError } from "./limits";
import { LiveQuota, type LiveQuotaLimits } from "./quota";
import { notSafelisted, type Safelist } from "./safelist";

/** The gateway's live endpoints. */
export interface LiveEndpoints {
  /**
   * Serves new subscriptions with `next` (a new supergraph's manager) and ends every open one:
   * WebSocket connections close with code 1012, SSE streams end with a `SUPERGRAPH_CHANGED` error.
   */
  replaceManager(next: SubscriptionManager): void;
  /** Closes every client connection (WebSocket code 1001) and every upstream subscription. */
  close(): Promise<void>;
}

/** Options of the live endpoints. */
export interface LiveOptions {
  httpServer: http.Server;
  app: Express;
  manager: SubscriptionManager;
  auth: ClientAuth;
  log: Logger;
  validationRules: ValidationRule[];
  /** Only these operations may subscribe (SAFELIST_PATH), or any when null. */
  safelist?: Safelist | null;
  production: boolean;
  /** WebSocket ping interval; a client that misses a pong is dropped. */
  keepAliveMs?: number;
  /** Subscriptions one WebSocket connection may hold at once (default 200). */
  subscriptionsPerConnection?: number;
  /** Live connections (WebSocket and SSE together) per user and per tenant (default 100 and 2,000). */
  connectionLimits?: LiveQuotaLimits;
}

/**
 * Close code of a WebSocket connection over its user's or tenant's limit (graphql-ws's "too many"
 * code, which its client does not retry): close another connection first.
 */
export const TOO_MANY_CONNECTIONS_CLOSE = 4429;

/** The `Authorization` value a client sent in `connectionParams` (either spelling). */
function authorizationOf(params: Record<string, unknown> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === "string" ? value : undefined;
}

/**
 * What ends when its client's token expires (WebSocket connections, SSE subscriptions), checked once
 * a second by one timer for all of them: a timer each would put thousands in Node's timer queue.
 */
class Expiries {
  private readonly due = new Map<object, { at: number; expire: () => void }>();
  private timer?: NodeJS.Timeout;

  add(key: object, at: number, expire: () => void): void {
    this.due.set(key, { at, expire });
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), 1000);
      this.timer.unref();
    }
  }

  remove(key: object): void {
    this.due.delete(key);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.due.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, { at, expire }] of this.due)
      if (at <= now) {
        this.due.delete(key);
        expire();
      }
  }
}

/**
 * Results graphql-sse has taken from one SSE subscription and not yet written to its response.
 * graphql-sse drains a subscription as fast as it yields into a queue of its own, without bound, and
 * writes that queue out as the client reads: a client that stops reading would hold every later event
 * in the gateway's memory and never fall behind in its `Subscriber`. Counting the writes of its
 * response (graphql-sse's Express adapter writes one event at a time and waits for each), `take` holds
 * graphql-sse back once `limit` results wait, so the subscriber's own bounded queue fills instead and
 * ends it with SLOW_CONSUMER, as it does for a WebSocket client.
 */
class SseBacklog {
  private taken = 0;
  private written = 0;
  private closed = false;
  private readonly waiters: Array<() => void> = [];

  constructor(
    res: http.ServerResponse,
    private readonly limit: number,
  ) {
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === "string" && chunk.startsWith("event: next")) {
        const at = rest.findIndex((arg) => typeof arg === "function");
        const callback = at >= 0 ? (rest[at] as (err?: Error | null) => void) : undefined;
        const done = (err?: Error | null) => {
          this.written++;
          this.release();
          callback?.(err);
        };
        if (at >= 0) rest[at] = done;
        else rest.push(done);
      }
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.once("close", () => {
      this.closed = true;
      this.release();
    });
  }

  /** Called for each result graphql-sse takes; returns once fewer than `limit` wait to be written. */
  async take(): Promise<void> {
    this.taken++;
    while (!this.closed && this.taken - this.written > this.limit)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

/** Parses and validates a subscription document against the API schema and the operation limits. */
function checkOperation(
  manager: SubscriptionManager,
  rules: ValidationRule[],
  safelist: Safelist | null | undefined,
  query: string,
  operationName: string | null | undefined,
  variables: unknown,
): { document: DocumentNode; variables: Record<string, unknown> } | { errors: GraphQLError[] } {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: MAX_TOKENS });
  } catch (err) {
    // graphql-js words the token limit its own way ("Document contains more that N tokens. Parsing aborted.").
    if (err instanceof GraphQLError && /\d+ tokens\. Parsing aborted/.test(err.message))
      return { errors: [limitError(`Token limit of ${MAX_TOKENS} exceeded.`)] };
    return { errors: [asBadInput(err)] };
  }
  const errors = validate(manager.schema, document, [...specifiedRules, ...rules]);
  if (errors.length)
    return {
      errors: errors.map((e) => (isLimitError(e.message) ? limitError(e.message, e) : asBadInput(e))),
    };
  if (safelist && !safelist.allows(query, document)) return { errors: [notSafelisted()] };
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName
    ? operations.find((o) => o.name?.value === operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  if (!operation) return { errors: [badInput("Name the operation to run (`operationName`).")] };
  if (operation.operation !== "subscription")
    return {
      errors: [badInput("Only subscriptions are served here; send queries and mutations to POST /graphql.")],
    };
  if (variables != null && (typeof variables !== "object" || Array.isArray(variables)))
    return { errors: [badInput("`variables` must be a JSON object.")] };
  // Only the variables the operation declares go on: others would take no part in it, yet split the
  // upstream subscriptions identical operations share (their key holds the variables).
  const declared = new Set((operation.variableDefinitions ?? []).map((d) => d.variable.name.value));
  const used = Object.fromEntries(
    Object.entries((variables ?? {}) as Record<string, unknown>).filter(([name]) => declared.has(name)),
  );
  const tooDeep = variablesDepthError(used);
  if (tooDeep) return { errors: [tooDeep] };
  return { document, variables: used };
}

/** OPERATION_LIMIT, as the gateway's HTTP path answers an operation over one of its limits. */
function limitError(message: string, error?: GraphQLError): GraphQLError {
  return new GraphQLError(message, { nodes: error?.nodes, extensions: { code: ErrorCode.OperationLimit } });
}

/** What a client whose token was refused is told. */
const refusal = (err: unknown) =>
  err instanceof UnauthenticatedError ? err.message : "Authentication failed.";

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BadUserInput } });
}

/**
 * A subscription that could not start: its own GraphQL error (BAD_USER_INPUT unless it says otherwise), or,
 * for anything else (a fault of the gateway's), a masked INTERNAL_SERVER_ERROR, logged.
 */
function startFailure(err: unknown, log: Logger): GraphQLError {
  if (err instanceof GraphQLError) return asBadInput(err);
  log.error({ err }, "subscription failed to start");
  return new GraphQLError("Internal server error.", { extensions: { code: ErrorCode.Internal } });
}

function asBadInput(err: unknown): GraphQLError {
  const error = err instanceof GraphQLError ? err : new GraphQLError(String(err));
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    extensions: { ...error.extensions, code: error.extensions.code ?? ErrorCode.BadUserInput },
  });
}

/**
 * Serves the federated subscriptions over graphql-ws on `/graphql` (same port as HTTP) and over
 * Server-Sent Events (graphql-sse) on `/graphql/stream`, for clients whose proxies block WebSockets.
 * Both authenticate with the same client JWT rules as HTTP: graphql-ws in `connectionParams`
 * (`{ authorization: "Bearer …" }`), SSE in the `Authorization` header.
 */
export function serveLive(options: LiveOptions): LiveEndpoints {
  const { auth, log } = options;
  // Replaced when the gateway loads a new supergraph; each subscription keeps the one it started on.
  let manager = options.manager;
  const { wss, detach } = attachWebSocketServer(options.httpServer, "/graphql");
  const expiries = new Expiries();
  // Each subscription costs a queue, and one resuming from a cursor its own upstream connection to the
  // SIEM: one socket must not open them by the thousand.
  const perConnection = options.subscriptionsPerConnection ?? 200;
  const open = new WeakMap<WebSocket, number>();
  const quota = new LiveQuota(options.connectionLimits ?? { perUser: 100, perTenant: 2000 });
  const ws = useServer<Record<string, unknown>, { identity?: Identity }>(
    {
      schema: () => manager.schema,
      isProd: options.production,
      onConnect: async (ctx) => {
        try {
          const { identity, expiresAt } = await auth.verify(authorizationOf(ctx.connectionParams));
          ctx.extra.identity = identity;
          const socket = ctx.extra.socket;
          // Gone while its token was checked: its "close" has passed, nothing would give the place back.
          if (socket.readyState === socket.CLOSED) return false;
          const slot = quota.acquire(identity, "ws");
          if (!slot.admitted) {
            log.debug(
              { tenant: identity.tenantId, limit: slot.limit },
              "websocket over its connection limit",
            );
            // graphql-ws then closes with 4403, which the socket, closing already, ignores.
            socket.close(TOO_MANY_CONNECTIONS_CLOSE, slot.message);
            return false;
          }
          // However it ends (closed by either side, terminated, its token expired), "close" follows.
          socket.once("close", slot.release);
          if (expiresAt !== null)
            expiries.add(socket, expiresAt, () =>
              socket.close(TOKEN_EXPIRED_CLOSE.code, TOKEN_EXPIRED_CLOSE.reason),
            );
          return true;
        } catch (err) {
          log.debug({ err: err instanceof UnauthenticatedError ? err.message : err }, "websocket refused");
          return false;
        }
      },
      onSubscribe: (ctx, _id, payload) => {
        const checked = checkOperation(
          manager,
          options.validationRules,
          options.safelist,
          payload.query,
          payload.operationName,
          payload.variables,
        );
        if ("errors" in checked) return checked.errors;
        return {
          schema: manager.schema,
          document: checked.document,
          operationName: payload.operationName,
          variableValues: checked.variables,
          contextValue: { identity: ctx.extra.identity, socket: ctx.extra.socket },
        };
      },
      subscribe: (args) => {
        const { identity, socket } = args.contextValue as { identity: Identity; socket: WebSocket };
        const count = open.get(socket) ?? 0;
        if (count >= perConnection)
          return {
            errors: [
              new GraphQLError(
                `This connection already holds ${perConnection} subscriptions, the most accepted: complete one, or open another connection.`,
                { extensions: { code: ErrorCode.RateLimited } },
              ),
            ],
          };
        try {
          const subscriber = manager.subscribe({
            document: args.document,
            operationName: args.operationName,
            variables: (args.variableValues ?? {}) as Record<string, unknown>,
            identity,
            onOverflow: () => socket.close(SLOW_CONSUMER_CLOSE.code, SLOW_CONSUMER_CLOSE.reason),
          });
          open.set(socket, count + 1);
          subscriber.onFinish(() => open.set(socket, (open.get(socket) ?? 1) - 1));
          return subscriber;
        } catch (err) {
          return { errors: [startFailure(err, log)] };
        }
      },
      onClose: (ctx) => expiries.remove(ctx.extra.socket),
      execute: () => ({
        errors: [
          badInput("Only subscriptions are served here; send queries and mutations to POST /graphql."),
        ],
      }),
    },
    wss,
    options.keepAliveMs ?? 12_000,
  );

  const backlogs = new WeakMap<object, SseBacklog>();
  /** SSE POSTs whose token was verified before their body was read, for `onSubscribe`. */
  const verified = new WeakMap<http.IncomingMessage, { identity: Identity; expiresAt: number | null }>();
  const sse = createHandler({
    schema: () => manager.schema,
    // Distinct connections only: each subscription is its own authenticated POST. graphql-sse's other mode
    // reserves a stream with an unauthenticated PUT, kept in memory until a client connects to it, and
    // hands its events to whoever presents the stream's token (made with Math.random by default).
    // Refusing the PUT leaves no stream to reserve; every other request gets a token no stream has.
    authenticate: (req) =>
      req.method === "PUT"
        ? [
            JSON.stringify({
              errors: [
                {
                  message:
                    "Reserved event streams are not served: POST each subscription with `Accept: text/event-stream`.",
                  extensions: { code: ErrorCode.BadUserInput },
                },
              ],
            }),
            {
              status: 405,
              statusText: "Method Not Allowed",
              headers: { "content-type": "application/json; charset=utf-8", allow: "GET, POST" },
            },
          ]
        : randomUUID(),
    // Holds graphql-sse back while its client has more than the limit of results unread (see SseBacklog).
    onNext: async (_ctx, req) => {
      await backlogs.get(req)?.take();
    },
    onSubscribe: async (req, params) => {
      let identity: Identity;
      let expiresAt: number | null;
      try {
        // A POST was verified before its body was read; a GET (parameters in the URL) is verified here.
        ({ identity, expiresAt } =
          verified.get(req.raw as http.IncomingMessage) ??
          (await auth.verify(req.headers.get("authorization") ?? undefined)));
      } catch (err) {
        return [
          JSON.stringify({
            errors: [{ message: refusal(err), extensions: { code: ErrorCode.Unauthenticated } }],
          }),
          { status: 401, statusText: "Unauthorized", headers: { "content-type": "application/json" } },
        ];
      }
      const checked = checkOperation(
        manager,
        options.validationRules,
        options.safelist,
        params.query as string,
        params.operationName,
        params.variables,
      );
      // `data: null` marks it a result: graphql-sse takes an object without `data` for execution arguments
      // (and then answers "Unable to detect operation AST" instead of these errors).
      if ("errors" in checked) return { data: null, errors: checked.errors };
      const slot = quota.acquire(identity, "sse");
      if (!slot.admitted)
        return [
          JSON.stringify({
            errors: [{ message: slot.message, extensions: { code: ErrorCode.RateLimited } }],
          }),
          {
            status: 429,
            statusText: "Too Many Requests",
            headers: { "content-type": "application/json; charset=utf-8" },
          },
        ];
      const res = (req.context as { res?: http.ServerResponse } | undefined)?.res;
      // Its place is given back at whichever comes first, the end of its subscription or the close of its
      // response: however the stream ends, one of them happens.
      res?.once("close", slot.release);
      try {
        const subscriber = manager.subscribe({
          document: checked.document,
          operationName: params.operationName,
          variables: checked.variables,
          identity,
          // The subscriber ends with a SLOW_CONSUMER error event; the response then completes.
          onOverflow: () => undefined,
        });
        subscriber.onFinish(slot.release);
        if (res) backlogs.set(req, new SseBacklog(res, manager.queueLimit));
        // The stream ends with an UNAUTHENTICATED error event when the token expires.
        if (expiresAt !== null) {
          expiries.add(subscriber, expiresAt, () => subscriber.end(TOKEN_EXPIRED_RESULT));
          subscriber.onFinish(() => expiries.remove(subscriber));
        }
        return subscriber;
      } catch (err) {
        slot.release();
        return { data: null, errors: [startFailure(err, log)] };
      }
    },
  });
  const serveSse = (req: express.Request, res: express.Response) =>
    sse(req, res).catch((err: unknown) => {
      log.error({ err }, "SSE subscription failed");
      if (!res.headersSent) res.status(500).end();
    });
  // A POST's body is read only once its caller is authenticated, and only up to MAX_LIVE_MESSAGE_BYTES (413):
  // graphql-sse would read any body whole, before `onSubscribe` checks the token. Its media type as graphql-sse
  // tells JSON (a body of any other type is 415, unread).
  const sseBody = express.json({
    limit: MAX_LIVE_MESSAGE_BYTES,
    type: (req) => String(req.headers["content-type"] ?? "").includes("application/json"),
  });
  options.app.use("/graphql/stream", async (req, res, next) => {
    if (req.method !== "POST") return void serveSse(req, res);
    try {
      verified.set(req, await auth.verify(req.headers.authorization));
    } catch (err) {
      // Unread, the body goes with the connection.
      res.setHeader("connection", "close");
      res
        .status(401)
        .json({ errors: [{ message: refusal(err), extensions: { code: ErrorCode.Unauthenticated } }] });
      return;
    }
    sseBody(req, res, (err?: unknown) => (err ? jsonErrors(err, req, res, next) : void serveSse(req, res)));
  });

  return {
    replaceManager: (next) => {
      const previous = manager;
      manager = next;
      for (const client of wss.clients)
        client.close(SUPERGRAPH_CHANGED_CLOSE.code, SUPERGRAPH_CHANGED_CLOSE.reason);
      previous.closeAll(SUPERGRAPH_CHANGED_RESULT);
    },
    close: async () => {
      detach();
      expiries.stop();
      for (const client of wss.clients) client.close(GOING_AWAY_CLOSE.code, GOING_AWAY_CLOSE.reason);
      manager.closeAll();
      await ws.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
