import { ApolloGateway, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import type {
  GatewayExecutor,
  GatewayGraphQLRequestContext,
  GatewayGraphQLResponse,
} from "@apollo/server-gateway-interface";
import { readdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  GraphQLError,
  isEnumType,
  isNonNullType,
  Kind,
  OperationTypeNode,
  parse,
  print,
  visit,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type TypeNode,
} from "graphql";
import { Role } from "../subgraphs/common/src";
import { createSubgraphAgent, UndiciDataSource } from "../gateway/src/datasource";
import { PreparedOperationGateway } from "../gateway/src/executor";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { seedTenant, type SeededTenant } from "./utils/seed";

type Service = "posture" | "protection" | "siem";

/** What a subgraph's answer is turned into, to see both executors handle the same failure alike. */
type Fault =
  | "errors" // no data, an error with a code and a path into the fetch
  | "null-entity" // the second entity null, with its error
  | "missing-field" // every object loses its first field other than __typename (non-null fields nulled)
  | "throw"; // the data source fails (a subgraph down, a non-GraphQL answer)

let fault: { service: Service; fault: Fault } | null = null;

/** Every object in `value` without its first own field other than __typename. */
function dropFirstField(value: unknown): void {
  if (Array.isArray(value)) return value.forEach(dropFirstField);
  if (value === null || typeof value !== "object") return;
  const record = value as Record<string, unknown>;
  const first = Object.keys(record).find((k) => k !== "__typename" && k !== "_entities");
  if (first) delete record[first];
  Object.values(record).forEach(dropFirstField);
}

/** The real data source, with `fault` applied to the answers of one service. */
class FaultyDataSource extends UndiciDataSource<{ internalToken?: string }> {
  constructor(
    private readonly service: Service,
    ...args: ConstructorParameters<typeof UndiciDataSource>
  ) {
    super(...args);
  }

  override async process(
    options: GraphQLDataSourceProcessOptions<{ internalToken?: string }>,
  ): Promise<GatewayGraphQLResponse> {
    if (fault?.service === this.service && fault.fault === "throw")
      throw new GraphQLError("Subgraph answered HTTP 503 without a GraphQL response.", {
        extensions: { code: "INTERNAL_SERVER_ERROR" },
      });
    const response = await super.process(options);
    if (fault?.service !== this.service) return response;
    const data = response.data as Record<string, unknown> | null | undefined;
    const firstKey = data ? Object.keys(data)[0] : "field";
    switch (fault.fault) {
      case "errors":
        return {
          data: null,
          errors: [
            {
              message: "Not allowed here.",
              path: firstKey === "_entities" ? ["_entities", 1, "x"] : [firstKey, "x"],
              extensions: { code: "FORBIDDEN" },
            },
            { message: "", extensions: {} },
          ],
        };
      case "null-entity": {
        const entities = data?._entities as unknown[] | undefined;
        if (!entities || entities.length < 2) return response;
        entities[1] = null;
        return {
          data,
          errors: [
            ...(response.errors ?? []),
            { message: "Gone.", path: ["_entities", 1], extensions: { code: "NOT_FOUND" } },
          ],
        };
      }
      case "missing-field":
        dropFirstField(data);
        return response;
    }
    return response;
  }
}

/** The query operations of test/operations, each as a document with the fragments it uses. */
function queryCorpus(): Array<{ name: string; document: DocumentNode; query: string }> {
  const dir = join(__dirname, "operations");
  const definitions = readdirSync(dir)
    .filter((f) => f.endsWith(".graphql"))
    .flatMap((f) => parse(readFileSync(join(dir, f), "utf8")).definitions);
  const fragments = new Map(
    definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const used = (node: OperationDefinitionNode | FragmentDefinitionNode, into: Set<string>) => {
    visit(node, {
      FragmentSpread: ({ name }) => {
        if (into.has(name.value)) return;
        into.add(name.value);
        used(fragments.get(name.value)!, into);
      },
    });
    return into;
  };
  return definitions
    .filter(
      (d): d is OperationDefinitionNode =>
        d.kind === Kind.OPERATION_DEFINITION && d.operation === OperationTypeNode.QUERY,
    )
    .map((operation) => {
      const document: DocumentNode = {
        kind: Kind.DOCUMENT,
        definitions: [operation, ...[...used(operation, new Set())].map((f) => fragments.get(f)!)],
      };
      return { name: operation.name!.value, document, query: print(document) };
    });
}

/** A value for each required variable, from its type: enough to run the operation, often with data. */
function variablesFor(
  document: DocumentNode,
  schema: GraphQLSchema,
  seeded: SeededTenant,
): Record<string, unknown> {
  const operation = document.definitions[0] as OperationDefinitionNode;
  const valueOf = (type: TypeNode): unknown => {
    if (type.kind === Kind.NON_NULL_TYPE) return valueOf(type.type);
    if (type.kind === Kind.LIST_TYPE) return [valueOf(type.type)];
    const named = schema.getType(type.name.value);
    if (isEnumType(named)) return named.getValues()[0].value;
    switch (type.name.value) {
      case "ID":
        return seeded.vmIds[0];
      case "Int":
        return 2;
      case "Float":
        return 1.5;
      case "Boolean":
        return true;
      case "String":
        return "tenant";
      default:
        return {};
    }
  };
  const variables: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? [])
    if (isNonNullType(definition.type) || definition.type.kind === Kind.NON_NULL_TYPE)
      variables[definition.variable.name.value] = valueOf(definition.type);
  return variables;
}

/** An answer as the client would read it (null prototypes and error classes aside). */
function normalized(result: Awaited<ReturnType<GatewayExecutor>>): unknown {
  const error = (e: GraphQLError) => ({ message: e.message, path: e.path, extensions: e.extensions });
  return JSON.parse(
    JSON.stringify({
      data: result.data,
      errors: result.errors?.map((e) => error(e as GraphQLError)),
      valueCompletion: (result.extensions?.valueCompletion as GraphQLError[] | undefined)?.map(error),
      extensions: Object.keys(result.extensions ?? {}).filter((k) => k !== "valueCompletion"),
    }),
  );
}

describe("the prepared-operation executor against @apollo/gateway's", () => {
  let platform: TestPlatform;
  let seeded: SeededTenant;
  const agent = createSubgraphAgent();
  const executors: Partial<Record<"stock" | "ours", GatewayExecutor>> = {};
  let schema: GraphQLSchema;
  const fetches = { count: 0 };

  beforeAll(async () => {
    platform = await startTestPlatform();
    seeded = await seedTenant(platform, "tenant-a", 12);
    const urls = Object.fromEntries(
      Object.entries(platform.subgraphs).map(([name, server]) => [name, server.url]),
    ) as Record<Service, string>;
    const config = {
      supergraphSdl: readFileSync(platform.config.supergraphPath, "utf8"),
      buildService: ({ name }: { name: string }) => {
        const source = new FaultyDataSource(name as Service, urls[name as Service], agent);
        const process = source.process.bind(source);
        source.process = (options) => {
          fetches.count++;
          return process(options);
        };
        return source;
      },
    };
    const stock = await new ApolloGateway(config).load();
    executors.stock = stock.executor;
    executors.ours = (await new PreparedOperationGateway(config).load()).executor;
    schema = stock.schema;
  });
  afterAll(async () => {
    await agent.close();
    await platform?.stop();
  });

  const corpus = queryCorpus();

  /** Runs `document` through one executor as Apollo Server would hand it over. */
  function run(
    which: "stock" | "ours",
    entry: { name: string; document: DocumentNode; query: string },
    variables: Record<string, unknown>,
    internalToken: string,
  ) {
    const requestContext = {
      request: { query: entry.query, operationName: entry.name, variables, http: undefined },
      document: entry.document,
      source: entry.query,
      queryHash: createHash("sha256").update(entry.query).digest("hex"),
      operationName: entry.name,
      operation: entry.document.definitions[0],
      schema,
      context: { internalToken },
      metrics: {},
      logger: console,
      cache: undefined,
      overallCachePolicy: undefined,
    } as unknown as GatewayGraphQLRequestContext;
    return executors[which]!(requestContext);
  }

  async function compare(
    entry: (typeof corpus)[number],
    variables: Record<string, unknown>,
    token: string,
  ): Promise<unknown> {
    const before = fetches.count;
    const expected = normalized(await run("stock", entry, variables, token));
    const stockFetches = fetches.count - before;
    const actual = normalized(await run("ours", entry, variables, token));
    // The same plan: as many subgraph fetches for one as for the other.
    expect({ operation: entry.name, fetches: fetches.count - before - stockFetches }).toEqual({
      operation: entry.name,
      fetches: stockFetches,
    });
    expect({ operation: entry.name, result: actual }).toEqual({ operation: entry.name, result: expected });
    return actual;
  }

  it("covers the query operations of test/operations", () => {
    expect(corpus.length).toBeGreaterThan(50);
  });

  it("answers every query operation as executeQueryPlan does, for each role and tenant, twice", async () => {
    const tokens = [
      await platform.internalToken([Role.ADMIN], "tenant-a"),
      await platform.internalToken([Role.READER], "tenant-a"),
      await platform.internalToken([Role.READER], "tenant-b"),
    ];
    let withData = 0;
    for (const entry of corpus) {
      const variables = variablesFor(entry.document, schema, seeded);
      for (const token of tokens)
        for (let pass = 0; pass < 2; pass++) {
          const result = (await compare(entry, variables, token)) as { data?: unknown; errors?: unknown };
          if (result.data && !result.errors) withData++;
        }
    }
    // The corpus is not only errors: most operations answer with data.
    expect(withData).toBeGreaterThan(corpus.length);
  }, 240_000);

  it.each<[Service, Fault]>(
    (["posture", "protection", "siem"] as Service[]).flatMap((service) =>
      (["errors", "null-entity", "missing-field", "throw"] as Fault[]).map((f): [Service, Fault] => [
        service,
        f,
      ]),
    ),
  )(
    "passes %s's failures (%s) through as executeQueryPlan does",
    async (service, f) => {
      const token = await platform.internalToken([Role.ADMIN], "tenant-a");
      fault = { service, fault: f };
      try {
        let faulted = 0;
        for (const entry of corpus) {
          const result = (await compare(entry, variablesFor(entry.document, schema, seeded), token)) as {
            errors?: unknown;
            valueCompletion?: unknown;
          };
          if (result.errors || result.valueCompletion) faulted++;
        }
        // The fault reached answers (each service serves some of the corpus).
        expect(faulted).toBeGreaterThan(0);
      } finally {
        fault = null;
      }
    },
    120_000,
  );
});
