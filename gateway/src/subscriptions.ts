import { buildOperationContext, executeQueryPlan, type ServiceMap } from "@apollo/gateway";
import type { OperationContext } from "@apollo/gateway/dist/operationContext";
import { operationFromDocument, Supergraph, type Schema } from "@apollo/federation-internals";
import { QueryPlanner, type FetchNode, type PlanNode } from "@apollo/query-planner";
import type { GatewayGraphQLRequestContext } from "@apollo/server-gateway-interface";
import {
  GraphQLError,
  Kind,
  parse,
  print,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from "graphql";
import { createClient, type Client } from "graphql-ws";
import { Counter, Gauge, register } from "prom-client";
import WebSocket from "ws";
import {
  ErrorCode,
  IDENTITY_HEADER,
  type Identity,
  type InternalTokens,
  type Logger,
  POSITION_EXTENSION,
} from "../../subgraphs/common/src";
import type { GatewayContext } from "./server";

/** Name of the pseudo-service that answers a subscription plan's primary fetch from the event received. */
const EVENT_SERVICE = "__rampart_event";
/** Variable through which the gateway positions its upstream subscription (resume after a reconnect). */
const AFTER_VARIABLE = "_rampartAfter";
/** Alias under which the gateway reads each event's cursor, whatever the client selected. */
const CURSOR_ALIAS = "_rampartCursor";

function metric<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

const upstreamGauge = metric(
  "rampart_gateway_upstream_subscriptions",
  () =>
    new Gauge({
      name: "rampart_gateway_upstream_subscriptions",
      help: "Subscriptions this gateway holds open to subgraphs (one per distinct operation, variables, tenant and roles).",
    }),
);
const subscriberGauge = metric(
  "rampart_gateway_subscribers",
  () =>
    new Gauge({ name: "rampart_gateway_subscribers", help: "Client subscriptions open on this gateway." }),
);
const merges = metric(
  "rampart_gateway_upstream_merges_total",
  () =>
    new Counter({
      name: "rampart_gateway_upstream_merges_total",
      help: "Upstream subscriptions closed because another of the same operation, at the same position, took over their subscribers (a resumed subscription that caught up with the live one).",
    }),
);
const deliveries = metric(
  "rampart_gateway_subscription_events_total",
  () =>
    new Counter({
      name: "rampart_gateway_subscription_events_total",
      help: "Subscription events received from subgraphs (each resolved once, then fanned out).",
      labelNames: ["outcome"],
    }),
);

/** Events of one group resolved at the same time (entity fetches to the other subgraphs in flight). */
const RESOLVE_CONCURRENCY = 16;

/**
 * Close code when the connection's token expires (graphql-ws's Unauthorized: clients do not retry it
 * with the same token); the client reconnects with a fresh token and resumes from its last cursor.
 */
export const TOKEN_EXPIRED_CLOSE = {
  code: 4401,
  reason: "Token expired: reconnect with a fresh token and resume from your last cursor.",
};

/** The last result of an SSE subscription whose token expired. */
export const TOKEN_EXPIRED_RESULT: ExecutionResult = {
  errors: [
    new GraphQLError(
      "Your token expired; subscribe again with a fresh token and `after` set to the last cursor received.",
      { extensions: { code: ErrorCode.Unauthenticated } },
    ),
  ],
};

/** Close code for a subscriber that fell too far behind; it resumes from its last cursor. */
export const SLOW_CONSUMER_CLOSE = { code: 4008, reason: "Slow consumer: resume from your last cursor." };
/** Close code on shutdown: resume from the last cursor, here or elsewhere. */
export const GOING_AWAY_CLOSE = {
  code: 1001,
  reason: "Gateway shutting down: resume from your last cursor.",
};
/**
 * Close code when the gateway loads a new supergraph (WebSocket "service restart"): subscriptions
 * were planned and validated against the old schema; reconnect and resume from the last cursor.
 */
export const SUPERGRAPH_CHANGED_CLOSE = {
  code: 1012,
  reason: "Supergraph changed: reconnect and resume from your last cursor.",
};

/** The last result a slow consumer receives (when its transport can still deliver it). */
const SLOW_CONSUMER_RESULT: ExecutionResult = {
  errors: [
    new GraphQLError(
      "This subscriber fell too far behind and was disconnected; subscribe again with `after` set to the last cursor received.",
      { extensions: { code: "SLOW_CONSUMER" } },
    ),
  ],
};

/** The last result of every subscription when the gateway shuts down (SSE streams see it). */
const GOING_AWAY_RESULT: ExecutionResult = {
  errors: [
    new GraphQLError(
      "The gateway is shutting down; subscribe again with `after` set to the last cursor received.",
      {
        extensions: { code: "SHUTTING_DOWN" },
      },
    ),
  ],
};

/** The last result of every subscription when the gateway loads a new supergraph (SSE streams see it). */
export const SUPERGRAPH_CHANGED_RESULT: ExecutionResult = {
  errors: [
    new GraphQLError(
      "The gateway loaded a new supergraph; subscribe again with `after` set to the last cursor received.",
      { extensions: { code: "SUPERGRAPH_CHANGED" } },
    ),
  ],
};

/** How the subscription layer is tuned. */
export interface SubscriptionSettings {
  /** Results buffered per subscriber before it is disconnected as a slow consumer. */
  queueLimit: number;
  /** Upstream reconnect backoff bounds. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export const DEFAULT_SUBSCRIPTION_SETTINGS: SubscriptionSettings = {
  queueLimit: 1000,
  reconnectMinMs: 100,
  reconnectMaxMs: 5000,
};

/** A subscription plan: the primary fetch (rewritten to be resumable) and the rest, per operation. */
interface Plan {
  operationContext: OperationContext;
  primary: FetchNode;
  /** The primary's operation as sent upstream (with the gateway's `after` variable and cursor alias). */
  upstreamOperation: string;
  /** The client's variables the upstream operation still uses. */
  upstreamVariables: string[];
  /** Response name of the root field in the primary's result. */
  rootField: string;
  rest?: PlanNode;
  /** Where the client's `after` comes from: a variable name or a literal. */
  after: { variable?: string; literal?: string | null };
  /** The operation as the key of the groups that may share upstream subscriptions: without a literal `after`. */
  shareKey: string;
  /**
   * Whether the `after` variable is used nowhere else, so that subscriptions differing only in their
   * cursor belong to one family (its value left out of the key).
   */
  afterOnlyAsCursor: boolean;
}

/** One client subscription: a bounded queue drained by its transport (graphql-ws or SSE). */
export class Subscriber implements AsyncIterableIterator<ExecutionResult> {
  private readonly queue: ExecutionResult[] = [];
  private waiting?: (result: IteratorResult<ExecutionResult>) => void;
  private finished = false;
  private readonly finishers: Array<() => void> = [];
  detach: () => void = () => undefined;

  constructor(
    private readonly limit: number,
    /** Called once when the queue overflows (the transport disconnects the client). */
    private readonly onOverflow: () => void,
  ) {
    subscriberGauge.inc();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }

  /** Queues a result; never blocks the producer. */
  push(result: ExecutionResult): void {
    if (this.finished) return;
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting({ done: false, value: result });
      return;
    }
    if (this.queue.length >= this.limit) {
      // Slow consumer: what it has not read is dropped for one last error; it resumes by cursor.
      this.queue.length = 0;
      this.queue.push(SLOW_CONSUMER_RESULT);
      this.finish();
      this.onOverflow();
      return;
    }
    this.queue.push(result);
  }

  /** Runs `fn` once when the stream ends (however it ends). */
  onFinish(fn: () => void): void {
    if (this.finished) fn();
    else this.finishers.push(fn);
  }

  /** Ends the stream after what is queued, optionally with a last result (an error). */
  end(last?: ExecutionResult): void {
    if (last) this.push(last);
    this.finish();
  }

  get queued(): number {
    return this.queue.length;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.queue.shift();
    if (value) return { done: false, value };
    if (this.finished) return { done: true, value: undefined };
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.queue.length = 0;
    this.finish();
    return { done: true, value: undefined };
  }

  /**
   * Ends it like `return()`. graphql-sse ends a stream whose client has gone only when it looks like an
   * async generator (`next`, `return` and `throw`); without this an SSE subscription outlived its client
   * and kept its upstream group open.
   */
  async throw(): Promise<IteratorResult<ExecutionResult>> {
    return this.return();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const fn of this.finishers.splice(0)) fn();
    subscriberGauge.dec();
    this.detach();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ done: true, value: undefined });
  }
}

/** What a group tells the manager of its family. */
interface GroupHooks {
  /** Its frontier moved from `previous` (or was confirmed): another group of the family may stand there too. */
  advanced(group: UpstreamGroup, previous: string | null): void;
  /** It closed: it no longer serves anyone. */
  closed(group: UpstreamGroup): void;
}

/**
 * One upstream subscription shared by client subscriptions with the same operation, variables,
 * tenant and roles. Each event's `rest` (entity fetches to other subgraphs) runs once and the result
 * is fanned out; each subscriber has its own bounded queue, so a slow one delays no one. On a lost
 * upstream connection it resubscribes after the last cursor it saw.
 */
class UpstreamGroup {
  readonly subscribers = new Set<Subscriber>();
  private client?: Client;
  private cursor: string | null;
  private closed = false;
  private backoff: number;
  private retryTimer?: NodeJS.Timeout;
  private delivery: Promise<void> = Promise.resolve();
  /**
   * How far every subscriber has been served: each change up to this position has been pushed to them
   * (or was not for them), and every later push lies after it. Null until the stream names a position.
   */
  frontier: string | null;
  /**
   * Whether the upstream subscription that set `frontier` streams every change after it. One started
   * from a cursor does. One started from "now" skips changes that had committed before it started,
   * though they lie after its first positions (they were held behind an older transaction:
   * `OutboxStart.committedBefore`), which a subscriber resuming from such a position must get.
   */
  exact: boolean;

  constructor(
    private readonly plan: Plan,
    private readonly variables: Record<string, unknown>,
    private readonly identity: Identity,
    private readonly deps: SubscriptionDeps,
    /** Where the upstream subscription starts: after this cursor, or from now when null. */
    cursor: string | null,
    private readonly hooks: GroupHooks,
  ) {
    this.cursor = cursor;
    // Started from a cursor, its subscribers have everything up to it, and it will stream all that follows.
    this.frontier = cursor;
    this.exact = cursor !== null;
    this.backoff = deps.settings.reconnectMinMs;
    upstreamGauge.inc();
    this.connect();
  }

  add(subscriber: Subscriber): void {
    this.subscribers.add(subscriber);
    subscriber.detach = () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.close();
    };
  }

  /**
   * Takes over `other`'s subscribers and closes its upstream subscription. Only when both have served
   * their subscribers up to the same position and this one is exact: each subscriber then gets every
   * change after that position once, from this group, whatever `other` had read beyond it.
   */
  adopt(other: UpstreamGroup): void {
    for (const subscriber of other.subscribers) this.add(subscriber);
    other.subscribers.clear();
    other.close();
    merges.inc();
  }

  /** Ends the group: every subscriber gets `last` (if any) and completes. */
  close(last?: ExecutionResult): void {
    if (this.closed) return;
    this.closed = true;
    upstreamGauge.dec();
    clearTimeout(this.retryTimer);
    void this.client?.dispose();
    for (const subscriber of [...this.subscribers]) subscriber.end(last);
    this.hooks.closed(this);
  }

  private connect(): void {
    if (this.closed) return;
    const tokens = this.deps.tokens;
    const identity = this.identity;
    const client = createClient({
      url: this.deps.siemWsUrl,
      webSocketImpl: WebSocket,
      lazy: true,
      lazyCloseTimeout: 0,
      retryAttempts: 0,
      keepAlive: 10_000,
      connectionParams: async () => ({ [IDENTITY_HEADER]: await tokens.sign(identity) }),
    });
    this.client = client;
    // Every change after a cursor, or only what commits from now on (see `exact`).
    const exact = this.cursor !== null;
    const variables: Record<string, unknown> = {};
    for (const name of this.plan.upstreamVariables)
      if (name in this.variables) variables[name] = this.variables[name];
    variables[AFTER_VARIABLE] = this.cursor;
    client.subscribe<Record<string, unknown>>(
      { query: this.plan.upstreamOperation, variables, operationName: this.plan.primary.operationName },
      {
        next: (result) => {
          if (this.client !== client) return;
          this.backoff = this.deps.settings.reconnectMinMs;
          this.onEvent(result as ExecutionResult<Record<string, unknown>>, exact);
        },
        error: (err) => {
          if (this.client !== client) return;
          if (Array.isArray(err)) {
            // The subgraph refused the operation (bad cursor, forbidden…): final, tell the clients.
            this.close({ errors: asGraphQLErrors(err) });
            return;
          }
          const code = (err as { code?: number }).code;
          if (code === 4401 || code === 4403) {
            this.close({
              errors: [
                new GraphQLError("The SIEM refused the gateway's identity.", {
                  extensions: { code: ErrorCode.Internal },
                }),
              ],
            });
            return;
          }
          this.reconnect(err);
        },
        complete: () => {
          if (this.client === client && !this.closed) this.reconnect(new Error("upstream completed"));
        },
      },
    );
  }

  private reconnect(err: unknown): void {
    if (this.closed) return;
    this.deps.log.warn(
      { err: describe(err), cursor: this.cursor },
      "upstream subscription lost; resubscribing",
    );
    void this.client?.dispose();
    this.client = undefined;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.deps.settings.reconnectMaxMs);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  /** Resolves one event (once for the whole group) and delivers it in order. */
  private onEvent(result: ExecutionResult<Record<string, unknown>>, exact: boolean): void {
    if (this.closed) return;
    // The stream read on without an event for us (filtered-out rows, or its start): remember where, so
    // a resubscription misses nothing committed since, even before the first event.
    const position = result.extensions?.[POSITION_EXTENSION];
    if (result.data == null && !result.errors?.length && typeof position === "string") {
      this.cursor = position;
      // Once the events before it are delivered, the subscribers are served up to there.
      this.delivery = this.delivery.then(() => this.reached(position, exact));
      return;
    }
    const root = result.data?.[this.plan.rootField] as Record<string, unknown> | null | undefined;
    if (!root && result.errors?.length) {
      // The subgraph refused the subscription itself (forbidden, bad cursor…): final.
      this.close({ errors: asGraphQLErrors(result.errors) });
      return;
    }
    const cursor = root?.[CURSOR_ALIAS];
    if (typeof cursor === "string") this.cursor = cursor;
    // Events resolve concurrently (at most RESOLVE_CONCURRENCY at a time) and are delivered in order.
    const resolved = this.limit(() => this.resolve(result)).catch((err: unknown) => {
      this.deps.log.error({ err }, "subscription event could not be resolved");
      return {
        errors: [
          new GraphQLError("The event could not be resolved.", { extensions: { code: ErrorCode.Internal } }),
        ],
      } as ExecutionResult;
    });
    this.delivery = this.delivery.then(async () => {
      const value = await resolved;
      // Closed, or its subscribers taken over by a group that streams this event itself.
      if (this.closed) return;
      deliveries.inc({ outcome: value.errors?.length ? "error" : "ok" });
      for (const subscriber of this.subscribers) subscriber.push(value);
      if (typeof cursor === "string") this.reached(cursor, exact);
    });
  }

  /** Every subscriber has been served up to `position`: the family may join groups standing there. */
  private reached(position: string, exact: boolean): void {
    if (this.closed) return;
    const previous = this.frontier;
    this.frontier = position;
    this.exact = exact;
    this.hooks.advanced(this, previous);
  }

  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /** Runs `work` when fewer than RESOLVE_CONCURRENCY resolutions are in flight (a burst cannot flood the subgraphs). */
  private async limit<T>(work: () => Promise<T>): Promise<T> {
    // A finishing resolution hands its slot straight to the next waiting one.
    if (this.running >= RESOLVE_CONCURRENCY) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private async resolve(event: ExecutionResult<Record<string, unknown>>): Promise<ExecutionResult> {
    const { plan } = this;
    const eventService = {
      process: async () => ({ data: event.data ?? null, errors: event.errors }),
    } as unknown as ServiceMap[string];
    const primary: FetchNode = { ...plan.primary, serviceName: EVENT_SERVICE };
    const node: PlanNode = plan.rest ? { kind: "Sequence", nodes: [primary, plan.rest] } : primary;
    const context: GatewayContext = {
      identity: this.identity,
      internalToken: await this.deps.tokens.sign(this.identity),
    };
    const requestContext = {
      request: { variables: this.variables },
      context,
      logger: this.deps.log,
      metrics: {},
    } as unknown as GatewayGraphQLRequestContext;
    const result = await executeQueryPlan(
      { kind: "QueryPlan", node },
      { ...this.deps.serviceMap, [EVENT_SERVICE]: eventService },
      requestContext,
      plan.operationContext,
      this.deps.supergraphSchema,
      this.deps.apiSchema,
    );
    return { data: result.data, errors: result.errors as GraphQLError[] | undefined };
  }
}

/** A subgraph's errors (plain JSON over the wire) as GraphQLErrors, extensions (the code) kept. */
function asGraphQLErrors(
  errors: ReadonlyArray<{
    message: string;
    path?: ReadonlyArray<string | number>;
    extensions?: Record<string, unknown>;
  }>,
): GraphQLError[] {
  return errors.map((e) => new GraphQLError(e.message, { path: e.path, extensions: e.extensions }));
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  const close = err as { code?: number; reason?: string };
  if (typeof close?.code === "number") return `closed ${close.code} ${close.reason ?? ""}`.trim();
  return String(err);
}

/** What the subscription layer needs from the gateway. */
export interface SubscriptionDeps {
  tokens: InternalTokens;
  serviceMap: ServiceMap;
  supergraphSchema: GraphQLSchema;
  apiSchema: Schema;
  siemWsUrl: string;
  log: Logger;
  settings: SubscriptionSettings;
}

/** One client's subscription request, already authenticated and validated. */
export interface SubscribeRequest {
  document: DocumentNode;
  operationName?: string | null;
  variables: Record<string, unknown>;
  identity: Identity;
  /** How the transport disconnects this client when it falls behind. */
  onOverflow: () => void;
}

/**
 * The groups of one operation (with its variables but the cursor, tenant and roles): at most one live
 * group, which subscriptions without `after` join, and the groups of subscriptions that resumed from
 * a cursor and are replaying their backlog.
 */
interface Family {
  live?: UpstreamGroup;
  groups: Set<UpstreamGroup>;
  /** The groups by frontier: those that may join (many clients resuming at once cost no scan per event). */
  at: Map<string, Set<UpstreamGroup>>;
}

/**
 * Federated subscriptions: plans each subscription operation with @apollo/query-planner (a
 * `SubscriptionNode`: `primary` to the SIEM, `rest` to the others), keeps one upstream subscription
 * per (operation, variables, tenant, roles) and executes `Sequence[primary, rest]` per event with
 * @apollo/gateway's `executeQueryPlan`, the primary fetch answered from the event itself.
 *
 * A subscription resuming from a cursor replays its backlog through an upstream subscription of its
 * own (its group), then joins the live group at the seam: when both have served their subscribers up
 * to the same position, one of them (an exact one: see `UpstreamGroup.exact`) takes over the other's
 * subscribers, and that position's successors reach each of them once. So the upstream subscriptions
 * settle at one per distinct operation, however many clients resume, and none sees a gap or a repeat.
 */
export class SubscriptionManager {
  private readonly planner: QueryPlanner;
  private readonly plans = new Map<string, Plan>();
  private readonly families = new Map<string, Family>();
  /** The client-facing schema (for validation). */
  readonly schema: GraphQLSchema;
  /** Names of the subgraphs the supergraph joins (e.g. `posture`). */
  readonly subgraphNames: readonly string[];

  constructor(
    supergraph: Supergraph,
    private readonly deps: Omit<SubscriptionDeps, "supergraphSchema" | "apiSchema">,
  ) {
    this.planner = new QueryPlanner(supergraph);
    this.subgraphNames = supergraph.subgraphs().names();
    const apiSchema = supergraph.apiSchema();
    this.schema = apiSchema.toGraphQLJSSchema();
    this.full = { ...deps, supergraphSchema: supergraph.schema.toGraphQLJSSchema(), apiSchema };
  }

  private readonly full: SubscriptionDeps;

  /** Results buffered per subscriber before it is dropped as a slow consumer. */
  get queueLimit(): number {
    return this.deps.settings.queueLimit;
  }

  /** Upstream subscriptions open now. */
  get upstreamCount(): number {
    let count = 0;
    for (const family of this.families.values()) count += family.groups.size;
    return count;
  }

  /** Starts a client subscription; the result is what its transport drains. */
  subscribe(request: SubscribeRequest): Subscriber {
    const plan = this.planFor(request.document, request.operationName ?? undefined);
    const subscriber = new Subscriber(this.deps.settings.queueLimit, request.onOverflow);
    const { identity } = request;
    const after = plan.after.variable ? request.variables[plan.after.variable] : plan.after.literal;
    const cursor = typeof after === "string" ? after : null;
    const variables =
      plan.after.variable && plan.afterOnlyAsCursor
        ? Object.fromEntries(
            Object.entries(request.variables).filter(([name]) => name !== plan.after.variable),
          )
        : request.variables;
    const key = JSON.stringify([
      plan.shareKey,
      request.operationName ?? null,
      sortedJson(variables),
      identity.tenantId,
      [...identity.roles].sort(),
    ]);
    let family = this.families.get(key);
    if (!family) {
      family = { groups: new Set(), at: new Map() };
      this.families.set(key, family);
    }
    // Without a cursor: the live group. With one: a group that has served its subscribers exactly up
    // to it (a client back right after it left), else a group of its own that replays from there.
    let group = cursor === null ? family.live : [...(family.at.get(cursor) ?? [])].find((g) => g.exact);
    if (!group) {
      group = new UpstreamGroup(
        plan,
        request.variables,
        identity,
        this.full,
        cursor,
        this.hooks(key, family),
      );
      family.groups.add(group);
      if (cursor === null) family.live = group;
      else standAt(family, group, cursor);
    }
    group.add(subscriber);
    return subscriber;
  }

  /** Ends every subscription (shutdown, new supergraph) with `last`, which tells clients to resume by cursor. */
  closeAll(last: ExecutionResult = GOING_AWAY_RESULT): void {
    for (const family of [...this.families.values()])
      for (const group of [...family.groups]) group.close(last);
  }

  private hooks(key: string, family: Family): GroupHooks {
    return {
      advanced: (group, previous) => {
        if (previous !== group.frontier) {
          if (previous !== null) leave(family, group, previous);
          standAt(family, group, group.frontier!);
        }
        this.join(family, group);
      },
      closed: (group) => {
        if (group.frontier !== null) leave(family, group, group.frontier);
        family.groups.delete(group);
        if (family.live === group) family.live = undefined;
        if (family.groups.size === 0 && this.families.get(key) === family) this.families.delete(key);
      },
    };
  }

  /**
   * Joins the groups of a family that stand where `group` now stands: each has pushed every change up
   * to that position to its subscribers and will push only later ones. One exact group goes on (the
   * live one when it is exact, so that its subscribers stay where they are), and takes over the
   * others' subscribers; each then gets every later change once. An inexact group never goes on in
   * another's place: the changes it skips (see `UpstreamGroup.exact`) would be a gap for those it took
   * over. The live group's subscribers may then get such a change, committed just before their
   * subscription started: never one twice, never one missed.
   */
  private join(family: Family, group: UpstreamGroup): void {
    if (family.groups.size < 2 || group.frontier === null) return;
    const standing = family.at.get(group.frontier);
    if (!standing || standing.size < 2) return;
    const level = [...standing];
    const live = family.live;
    const kept = live?.exact && standing.has(live) ? live : level.find((g) => g.exact);
    if (!kept) return;
    for (const other of level)
      if (other !== kept) {
        if (family.live === other) family.live = kept;
        kept.adopt(other);
      }
  }

  private planFor(document: DocumentNode, operationName: string | undefined): Plan {
    const key = `${operationName ?? ""}\u0000${print(document)}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = this.buildPlan(document, operationName);
      if (this.plans.size > 1000) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }

  private buildPlan(document: DocumentNode, operationName: string | undefined): Plan {
    const operation = operationFromDocument(this.full.apiSchema, document, { operationName });
    const queryPlan = this.planner.buildQueryPlan(operation);
    const node = queryPlan.node;
    if (node?.kind !== "Subscription")
      throw new GraphQLError("Only subscription operations are served here.", {
        extensions: { code: ErrorCode.BadUserInput },
      });
    const rewritten = resumableOperation(node.primary.operation);
    return {
      ...shareable(document, operationName, rewritten.after),
      operationContext: buildOperationContext({
        schema: this.schema,
        operationDocument: document,
        operationName: operationName,
      }),
      primary: node.primary,
      upstreamOperation: rewritten.operation,
      upstreamVariables: (node.primary.variableUsages ?? []).filter((v) =>
        rewritten.operation.includes(`$${v}`),
      ),
      rootField: rewritten.rootField,
      rest: node.rest,
      after: rewritten.after,
    };
  }
}

/**
 * Rewrites the primary fetch so the gateway controls its position: `after:` becomes the gateway's
 * own variable (initialised from the client's value) and the event's `cursor` is always selected.
 */
function resumableOperation(text: string): {
  operation: string;
  rootField: string;
  after: Plan["after"];
} {
  const doc = parse(text);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const root = op?.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD);
  if (!op || !root) throw new Error("A subscription's primary fetch has no root field.");
  const after: Plan["after"] = {};
  const existing = root.arguments?.find((a) => a.name.value === "after");
  if (existing?.value.kind === Kind.VARIABLE) after.variable = existing.value.name.value;
  else if (existing?.value.kind === Kind.STRING) after.literal = existing.value.value;
  const rewritten = visit(doc, {
    OperationDefinition(node) {
      return {
        ...node,
        variableDefinitions: [
          ...(node.variableDefinitions ?? []),
          {
            kind: Kind.VARIABLE_DEFINITION,
            variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: AFTER_VARIABLE } },
            type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: "String" } },
          },
        ],
      };
    },
    Field(node) {
      if (node !== root) return undefined;
      return {
        ...node,
        arguments: [
          ...(node.arguments ?? []).filter((a) => a.name.value !== "after"),
          {
            kind: Kind.ARGUMENT,
            name: { kind: Kind.NAME, value: "after" },
            value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: AFTER_VARIABLE } },
          },
        ],
        selectionSet: node.selectionSet && {
          ...node.selectionSet,
          selections: [
            ...node.selectionSet.selections,
            {
              kind: Kind.FIELD,
              alias: { kind: Kind.NAME, value: CURSOR_ALIAS },
              name: { kind: Kind.NAME, value: "cursor" },
            },
          ],
        },
      };
    },
  });
  return {
    operation: print(withoutUnusedVariables(rewritten)),
    rootField: root.alias?.value ?? root.name.value,
    after,
  };
}

/**
 * What identifies an operation among the groups that may share upstream subscriptions, whatever cursor
 * it resumes from: its text without a literal `after` on its root field, and whether its `after`
 * variable serves as nothing but the cursor (then its value is left out of the key as well).
 */
function shareable(
  document: DocumentNode,
  operationName: string | undefined,
  after: Plan["after"],
): Pick<Plan, "shareKey" | "afterOnlyAsCursor"> {
  if (after.variable) {
    let uses = 0;
    visit(document, {
      VariableDefinition: () => false,
      Variable(node) {
        if (node.name.value === after.variable) uses++;
      },
    });
    return { shareKey: print(document), afterOnlyAsCursor: uses === 1 };
  }
  if (after.literal == null) return { shareKey: print(document), afterOnlyAsCursor: false };
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  const withoutCursor: DocumentNode = {
    ...document,
    definitions: document.definitions.map((d) =>
      d !== operation
        ? d
        : {
            ...operation,
            selectionSet: {
              ...operation.selectionSet,
              selections: operation.selectionSet.selections.map((field) =>
                field.kind !== Kind.FIELD
                  ? field
                  : {
                      ...field,
                      arguments: field.arguments?.filter(
                        (a) => a.name.value !== "after" || a.value.kind !== Kind.STRING,
                      ),
                    },
              ),
            },
          },
    ),
  };
  return { shareKey: print(withoutCursor), afterOnlyAsCursor: false };
}

/** Drops variable definitions nothing refers to any more (the client's `after`, now replaced). */
function withoutUnusedVariables(doc: DocumentNode): DocumentNode {
  const used = new Set<string>();
  visit(doc, {
    VariableDefinition: () => false,
    Variable(node) {
      used.add(node.name.value);
    },
  });
  return visit(doc, {
    VariableDefinition(node) {
      return used.has(node.variable.name.value) ? undefined : null;
    },
  });
}

/** Files `group` under the frontier it stands at. */
function standAt(family: Family, group: UpstreamGroup, frontier: string): void {
  let standing = family.at.get(frontier);
  if (!standing) family.at.set(frontier, (standing = new Set()));
  standing.add(group);
}

/** Takes `group` out from under a frontier it has left. */
function leave(family: Family, group: UpstreamGroup, frontier: string): void {
  const standing = family.at.get(frontier);
  standing?.delete(group);
  if (standing?.size === 0) family.at.delete(frontier);
}

function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedJson((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/** Builds the manager for a supergraph SDL. */
export function createSubscriptionManager(
  supergraphSdl: string,
  deps: Omit<SubscriptionDeps, "supergraphSchema" | "apiSchema">,
): SubscriptionManager {
  return new SubscriptionManager(Supergraph.build(supergraphSdl), deps);
}
