import {
  ERRORS,
  errorCodeDef,
  operationFromDocument,
  type Operation,
  type Schema,
} from "@apollo/federation-internals";
import { ApolloGateway, buildOperationContext, type GraphQLDataSource } from "@apollo/gateway";
import { GraphQLDataSourceRequestKind } from "@apollo/gateway/dist/datasources/types";
import { applyRewrites, isObjectOfType } from "@apollo/gateway/dist/dataRewrites";
import { generateHydratedPaths } from "@apollo/gateway/dist/executeQueryPlan";
import type { OperationContext } from "@apollo/gateway/dist/operationContext";
import { deepMerge } from "@apollo/gateway/dist/utilities/deepMerge";
import { precomputedOf } from "./known-operations";
import { shapeResponse } from "./result-shaping";
import {
  evaluateCondition,
  getResponseName,
  type FetchNode,
  type PlanNode,
  type QueryPlan,
  type QueryPlanner,
  type QueryPlanSelectionNode,
  type ResponsePath,
  type SubscriptionNode,
} from "@apollo/query-planner";
import type {
  GatewayExecutionResult,
  GatewayExecutor,
  GatewayGraphQLRequestContext,
} from "@apollo/server-gateway-interface";
import {
  GraphQLError,
  executeSync,
  Kind,
  OperationTypeNode,
  visit,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type SelectionNode,
  type VariableDefinitionNode,
} from "graphql";
import { getVariableValues } from "graphql/execution/values";

/** The parts of `ApolloGateway` this executor reads: its schemas, planner and data sources. */
interface GatewayInternals {
  apiSchema?: Schema;
  schema?: GraphQLSchema;
  supergraphSchema?: GraphQLSchema;
  queryPlanner?: QueryPlanner;
  serviceMap: Record<string, { dataSource: GraphQLDataSource }>;
  recursiveSelectionsLimitDisabled: boolean;
  nonLocalSelectionsLimitDisabled: boolean;
}

/** What one operation (document + operation name) needs on every request, built on its first. */
interface PreparedOperation {
  /** The API schema it was built for: a supergraph reload makes it stale. */
  apiSchema: Schema;
  operationContext: OperationContext;
  /** The operation `executeQueryPlan` builds again for every request, or the GraphQLError building it gave. */
  operation: Operation | GraphQLError | undefined;
  queryPlan?: QueryPlan;
  /** What planning threw: thrown after the variables are checked, as the stock executor does; never kept. */
  planError?: unknown;
  /** A plan this executor leaves to `executeQueryPlan` (subscriptions, @defer). */
  delegate: boolean;
}

type ResultMap = Record<string, unknown>;

interface Cursor {
  path: ResponsePath;
  data: ResultMap | ResultMap[];
  fullResult: ResultMap;
}

interface ExecutionContext {
  requestContext: GatewayGraphQLRequestContext;
  supergraphSchema: GraphQLSchema;
  serviceMap: Record<string, GraphQLDataSource>;
  operationContext: OperationContext;
  operation: Operation;
  errors: GraphQLError[];
}

/** Operations kept prepared; well above the safelist's size, small next to the query-plan cache. */
const PREPARED_LIMIT = 1000;

/**
 * `ApolloGateway` whose executor does per operation what the stock one does per request.
 *
 * Even with its query plan cached, `@apollo/gateway` hashes the query for the plan cache's key, builds the
 * federation `Operation` again from the document (`operationFromDocument`, ~5 % of the gateway's CPU in the
 * benchmark's profile) and wraps the plan's execution in OpenTelemetry spans and usage-reporting trace
 * nodes that nothing here reads. This executor keeps, per query hash and operation name, the operation
 * context, the `Operation` and the plan, and executes the plan as `executeQueryPlan` does (the same
 * traversal, fetches, entity representations, rewrites and error paths, with its own helpers), without the
 * spans and traces, and shapes the answer with `shapeResponse` (`computeResponse` with its per-selection
 * work kept, ./result-shaping.ts). Anything it does not handle itself goes to
 * the stock executor: subscription and @defer plans, a request that captures traces for usage reporting,
 * and one asking for its query plan (`Apollo-Query-Plan-Experimental`).
 */
export class PreparedOperationGateway extends ApolloGateway {
  private readonly prepared = new Map<string, PreparedOperation>();

  override async load(options?: Parameters<ApolloGateway["load"]>[0]): ReturnType<ApolloGateway["load"]> {
    const loaded = await super.load(options);
    const stock = loaded.executor;
    const executor: GatewayExecutor = (requestContext) => this.execute(requestContext, stock);
    return { ...loaded, executor };
  }

  private get internals(): GatewayInternals {
    return this as unknown as GatewayInternals;
  }

  /** The API schema served now, the one Apollo Server validates against (replaced by a supergraph reload). */
  get servingSchema(): GraphQLSchema | undefined {
    return this.internals.schema;
  }

  /**
   * Executes an operation Apollo Server has accepted before (`KnownOperations`) for a request the lean POST
   * path answers without it: what `execute` does, given a request context with the request, document, query
   * hash and context; undefined when the operation needs the stock executor (a subscription or @defer plan).
   * Throws what `execute` throws.
   */
  executeKnown(requestContext: GatewayGraphQLRequestContext): Promise<GatewayExecutionResult> | undefined {
    const prepared = this.prepare(requestContext);
    return prepared.delegate ? undefined : this.run(prepared, requestContext);
  }

  private async execute(
    requestContext: GatewayGraphQLRequestContext,
    stock: GatewayExecutor,
  ): Promise<GatewayExecutionResult> {
    // Executed already, on the lean path, which hands a failed answer to Apollo Server for its error handling.
    const precomputed = precomputedOf(requestContext);
    if (precomputed) {
      if ("thrown" in precomputed) throw precomputed.thrown;
      return precomputed.result;
    }
    const { request } = requestContext;
    if (requestContext.metrics?.captureTraces || request.http?.headers.get("apollo-query-plan-experimental"))
      return stock(requestContext);
    const prepared = this.prepare(requestContext);
    if (prepared.delegate) return stock(requestContext);
    return this.run(prepared, requestContext);
  }

  private async run(
    prepared: PreparedOperation,
    requestContext: GatewayGraphQLRequestContext,
  ): Promise<GatewayExecutionResult> {
    const { request } = requestContext;
    const { operationContext } = prepared;
    const variableDefinitions = operationContext.operation.variableDefinitions;
    if (variableDefinitions?.length) {
      const { errors } = getVariableValues(
        operationContext.schema,
        variableDefinitions,
        request.variables ?? {},
      );
      if (errors) return { errors };
    }
    if (prepared.planError !== undefined) throw prepared.planError;
    if (prepared.operation instanceof GraphQLError) return { errors: [prepared.operation] };
    const { supergraphSchema, serviceMap } = this.internals;
    const dataSources: Record<string, GraphQLDataSource> = Object.create(null);
    for (const name in serviceMap) dataSources[name] = serviceMap[name].dataSource;
    return executePlan(prepared.queryPlan!, {
      requestContext,
      supergraphSchema: supergraphSchema!,
      serviceMap: dataSources,
      operationContext,
      operation: prepared.operation!,
      errors: [],
    });
  }

  /** The prepared operation, built (and its plan made) the first time; throws as the stock executor does. */
  private prepare(requestContext: GatewayGraphQLRequestContext): PreparedOperation {
    const { request, document, queryHash } = requestContext;
    const { apiSchema, schema, queryPlanner } = this.internals;
    const key = request.operationName ? `${queryHash}\u0000${request.operationName}` : queryHash;
    const cached = this.prepared.get(key);
    if (cached && cached.apiSchema === apiSchema) return cached;
    // Same errors, in the same order, as the stock executor: an unknown or ambiguous operation throws, an
    // invalid one throws from planning.
    const operationContext = buildOperationContext({
      schema: schema!,
      operationDocument: document,
      operationName: request.operationName,
    });
    let queryPlan: QueryPlan;
    try {
      const planned = operationFromDocument(apiSchema!, document, { operationName: request.operationName });
      queryPlan = queryPlanner!.buildQueryPlan(planned, {
        recursiveSelectionsLimitDisabled: this.internals.recursiveSelectionsLimitDisabled,
        nonLocalSelectionsLimitDisabled: this.internals.nonLocalSelectionsLimitDisabled,
      });
    } catch (planError) {
      return { apiSchema: apiSchema!, operationContext, operation: undefined, planError, delegate: false };
    }
    let operation: Operation | GraphQLError;
    try {
      operation = operationFromDocument(
        apiSchema!,
        {
          kind: Kind.DOCUMENT,
          definitions: [operationContext.operation, ...Object.values(operationContext.fragments)],
        } as DocumentNode,
        { validate: false },
      );
    } catch (err) {
      if (!(err instanceof GraphQLError)) throw err;
      operation = err;
    }
    const entry: PreparedOperation = {
      apiSchema: apiSchema!,
      operationContext,
      operation,
      queryPlan,
      delegate: queryPlan.node !== undefined && !executable(queryPlan.node),
    };
    // An operation that did not build is not kept: its error is made anew for each request, as before.
    if (operation instanceof GraphQLError) return entry;
    this.prepared.delete(key);
    this.prepared.set(key, entry);
    // Oldest first out: a Map iterates in insertion order.
    if (this.prepared.size > PREPARED_LIMIT) this.prepared.delete(this.prepared.keys().next().value!);
    return entry;
  }
}

/** Whether this executor runs a plan node itself: everything but subscriptions and @defer. */
function executable(node: PlanNode | SubscriptionNode): boolean {
  switch (node.kind) {
    case "Sequence":
    case "Parallel":
      return node.nodes.every(executable);
    case "Flatten":
      return executable(node.node);
    case "Fetch":
      return true;
    case "Condition":
      return (
        (!node.ifClause || executable(node.ifClause)) && (!node.elseClause || executable(node.elseClause))
      );
    default:
      return false;
  }
}

/** `executeQueryPlan` for a prepared operation: the same steps, without spans or traces. */
async function executePlan(queryPlan: QueryPlan, context: ExecutionContext): Promise<GatewayExecutionResult> {
  const { requestContext, operationContext, operation, errors } = context;
  const unfilteredData: ResultMap = Object.create(null);
  if (queryPlan.node)
    await executeNode(context, queryPlan.node as PlanNode, {
      path: [],
      data: unfilteredData,
      fullResult: unfilteredData,
    });
  const variables = requestContext.request.variables;
  let data: ResultMap | null | undefined;
  try {
    let postProcessingErrors: GraphQLError[];
    ({ data, errors: postProcessingErrors } = shapeResponse({
      operation,
      variables,
      input: unfilteredData,
      introspectionHandling: (f) =>
        executeIntrospection(
          operationContext.schema,
          f.expandFragments().toSelectionNode(),
          operationContext.operation.variableDefinitions,
          variables,
        ),
    }));
    if (errors.length === 0 && postProcessingErrors.length > 0)
      return { extensions: { valueCompletion: postProcessingErrors }, data };
  } catch (error) {
    if (error instanceof GraphQLError) return { errors: [error] };
    if (error instanceof Error)
      return { errors: [new GraphQLError(error.message, { originalError: error })] };
    (requestContext.logger ?? console).error(
      `Unexpected error during query plan execution: ${String(error)}`,
    );
    return { errors: [new GraphQLError("Unexpected error during query plan execution")] };
  }
  return errors.length === 0 ? { data } : { errors, data };
}

async function executeNode(
  context: ExecutionContext,
  node: PlanNode,
  cursor: Cursor | undefined,
): Promise<void> {
  if (!cursor) return;
  switch (node.kind) {
    case "Sequence":
      for (const child of node.nodes) await executeNode(context, child, cursor);
      return;
    case "Parallel":
      await Promise.all(node.nodes.map((child) => executeNode(context, child, cursor)));
      return;
    case "Flatten":
      return executeNode(context, node.node, moveIntoCursor(cursor, node.path));
    case "Fetch":
      try {
        await executeFetch(context, node, cursor);
      } catch (error) {
        context.errors.push(error as GraphQLError);
      }
      return;
    case "Condition": {
      const condition = evaluateCondition(
        node,
        context.operation.variableDefinitions,
        context.requestContext.request.variables,
      );
      const branch = condition ? node.ifClause : node.elseClause;
      if (branch) await executeNode(context, branch, cursor);
      return;
    }
    default:
      // `executable` keeps every other node from here.
      throw new Error(`Unexpected query plan node ${node.kind}`);
  }
}

async function executeFetch(context: ExecutionContext, fetch: FetchNode, cursor: Cursor): Promise<void> {
  const service = context.serviceMap[fetch.serviceName];
  if (!service) throw new Error(`Couldn't find service with name "${fetch.serviceName}"`);
  const entities: ResultMap[] = Array.isArray(cursor.data)
    ? cursor.data.filter((entity) => entity !== null && entity !== undefined)
    : [cursor.data];
  if (entities.length < 1) return;
  const variables: Record<string, unknown> = Object.create(null);
  const provided = context.requestContext.request.variables;
  if (fetch.variableUsages && provided)
    for (const name of fetch.variableUsages)
      if (Object.prototype.hasOwnProperty.call(provided, name) && provided[name] !== undefined)
        variables[name] = provided[name];
  if (!fetch.requires) {
    const received = await sendOperation(context, fetch, cursor, variables);
    if (received) applyRewrites(context.supergraphSchema, fetch.outputRewrites, received);
    for (const entity of entities) deepMerge(entity, received);
    return;
  }
  const representations: ResultMap[] = [];
  const representationToEntity: number[] = [];
  entities.forEach((entity, index) => {
    const representation = executeSelectionSet(context.supergraphSchema, entity, fetch.requires!);
    if (representation && representation.__typename) {
      applyRewrites(context.supergraphSchema, fetch.inputRewrites, representation);
      representations.push(representation);
      representationToEntity.push(index);
    }
  });
  if (representations.length < 1) return;
  if ("representations" in variables) throw new Error(`Variables cannot contain key "representations"`);
  const received = await sendOperation(context, fetch, cursor, { ...variables, representations });
  if (!received) return;
  const receivedEntities = received._entities;
  if (!Array.isArray(receivedEntities))
    throw new Error(`Expected "data._entities" in response to be an array`);
  if (receivedEntities.length !== representations.length)
    throw new Error(`Expected "data._entities" to contain ${representations.length} elements`);
  // As executeQueryPlan: over the entities, so entities past the representations merge `undefined`.
  for (let i = 0; i < entities.length; i++) {
    const receivedEntity = receivedEntities[i] as ResultMap | null | undefined;
    const existing = entities[representationToEntity[i]];
    if (receivedEntity && !receivedEntity.__typename) receivedEntity.__typename = existing.__typename;
    applyRewrites(context.supergraphSchema, fetch.outputRewrites, receivedEntity as ResultMap);
    deepMerge(existing, receivedEntity);
  }
}

async function sendOperation(
  context: ExecutionContext,
  fetch: FetchNode,
  cursor: Cursor,
  variables: Record<string, unknown>,
): Promise<ResultMap | null | undefined> {
  const { requestContext } = context;
  const response = await context.serviceMap[fetch.serviceName].process({
    kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
    request: { query: fetch.operation, variables, operationName: fetch.operationName },
    incomingRequestContext: requestContext,
    context: requestContext.context,
    document: fetch.operationDocumentNode,
    pathInIncomingRequest: cursor.path,
  });
  if (response.errors) {
    const errorPath = lazyErrorPath(fetch, cursor);
    context.errors.push(
      ...response.errors.map((error) => downstreamServiceError(error, fetch.serviceName, errorPath)),
    );
    if (!response.extensions?.ftv1) {
      const errorPaths = response.errors.map((error) => ({ subgraph: fetch.serviceName, path: error.path }));
      const metrics = requestContext.metrics;
      if (metrics.nonFtv1ErrorPaths) metrics.nonFtv1ErrorPaths.push(...errorPaths);
      else metrics.nonFtv1ErrorPaths = errorPaths;
    }
  }
  return response.data as ResultMap | null | undefined;
}

/** Where a subgraph's error lands in the client's answer (executeQueryPlan's `makeLazyErrorPathGenerator`). */
function lazyErrorPath(fetch: FetchNode, cursor: Cursor) {
  let hydrated: ResponsePath[] | undefined;
  return (errorPath: GraphQLFormattedError["path"]): ResponsePath | undefined => {
    if (fetch.requires && typeof errorPath?.[1] === "number") {
      if (!hydrated) {
        hydrated = [];
        generateHydratedPaths([], cursor.path, cursor.fullResult, hydrated);
      }
      return [...(hydrated[errorPath[1]] ?? []), ...errorPath.slice(2)];
    }
    return errorPath ? [...cursor.path, ...errorPath] : undefined;
  };
}

function downstreamServiceError(
  original: GraphQLFormattedError,
  serviceName: string,
  errorPath: (path: GraphQLFormattedError["path"]) => ResponsePath | undefined,
): GraphQLError {
  const message = original.message || `Error while fetching subquery from service "${serviceName}"`;
  const options = {
    originalError: original as Error,
    path: errorPath(original.path),
    extensions: { ...original.extensions, serviceName },
  };
  const codeDef = errorCodeDef(original as GraphQLError);
  if (!codeDef && original.extensions?.code) return new GraphQLError(message, options);
  return (codeDef ?? ERRORS.DOWNSTREAM_SERVICE_ERROR).err(message, options);
}

/** An entity's representation: the `requires` selection of what the gateway holds for it. */
function executeSelectionSet(
  schema: GraphQLSchema,
  source: ResultMap | null,
  selections: QueryPlanSelectionNode[],
): ResultMap | null {
  if (source === null) return null;
  // A plain object, not `Object.create(null)` as executeQueryPlan makes: V8 keeps those in dictionary mode,
  // and the representations' JSON.stringify then takes its slow path. The keys are the plan's key and
  // `@requires` fields, never `__proto__`.
  let result: ResultMap = {};
  let empty = true;
  for (const selection of selections) {
    if (selection.kind === Kind.FIELD) {
      const responseName = getResponseName(selection);
      const inner = selection.selections;
      const value = Object.prototype.hasOwnProperty.call(source, responseName)
        ? source[responseName]
        : undefined;
      if (value === undefined) return null;
      if (Array.isArray(value))
        result[responseName] = value.map((v: ResultMap | null) =>
          inner ? executeSelectionSet(schema, v, inner) : v,
        );
      else if (inner) result[responseName] = executeSelectionSet(schema, value as ResultMap | null, inner);
      else result[responseName] = value;
      empty = false;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (!selection.typeCondition || !source) continue;
      if (isObjectOfType(schema, source, selection.typeCondition)) {
        const fragment = executeSelectionSet(schema, source, selection.selections);
        if (fragment === null) continue;
        // Merged into nothing, deepMerge would copy the fragment's fields one by one (its values are never
        // undefined, its objects go in by reference): the fragment is that copy. A representation is
        // `... on Type { … }`, so this is every entity's case.
        if (empty) result = fragment;
        else deepMerge(result, fragment);
        empty = false;
      }
    }
  }
  return result;
}

function moveIntoCursor(cursor: Cursor, path: ResponsePath): Cursor | undefined {
  const data = flattenResultsAtPath(cursor.data, path) as Cursor["data"] | null | undefined;
  return data ? { path: cursor.path.concat(path), data, fullResult: cursor.fullResult } : undefined;
}

function flattenResultsAtPath(value: unknown, path: ResponsePath): unknown {
  if (path.length === 0 || value === undefined || value === null) return value;
  const [current, ...rest] = path;
  // Nulls stay, as in executeQueryPlan: executeFetch skips them.
  if (current === "@") return (value as unknown[]).flatMap((element) => flattenResultsAtPath(element, rest));
  if (typeof current !== "string") throw new Error(`Unexpected ${typeof current} found in path`);
  if (Array.isArray(value)) throw new Error(`Unexpected array in result for path element ${current}`);
  const object = value as ResultMap;
  return flattenResultsAtPath(
    Object.prototype.hasOwnProperty.call(object, current) ? object[current] : undefined,
    rest,
  );
}

function executeIntrospection(
  schema: GraphQLSchema,
  selection: SelectionNode,
  variableDefinitions: readonly VariableDefinitionNode[] | undefined,
  variableValues: Record<string, unknown> | undefined,
): unknown {
  const used = new Set<string>();
  visit(selection, { Variable: ({ name }) => void used.add(name.value) });
  const { data, errors } = executeSync({
    schema,
    document: {
      kind: Kind.DOCUMENT,
      definitions: [
        {
          kind: Kind.OPERATION_DEFINITION,
          operation: OperationTypeNode.QUERY,
          variableDefinitions: variableDefinitions?.filter((def) => used.has(def.variable.name.value)),
          selectionSet: { kind: Kind.SELECTION_SET, selections: [selection] },
        },
      ],
    },
    rootValue: {},
    variableValues,
  });
  if (errors?.length || !data)
    throw new Error(`Introspection query failed: ${JSON.stringify(errors ?? "no data")}`);
  const field = selection as { alias?: { value: string }; name: { value: string } };
  const key = field.alias?.value ?? field.name.value;
  return Object.prototype.hasOwnProperty.call(data, key) ? data[key] : undefined;
}
