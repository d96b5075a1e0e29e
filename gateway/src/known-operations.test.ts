import { buildSchema, getOperationAST, parse, type GraphQLSchema } from "graphql";
import { KnownOperations } from "./known-operations";

const schema = buildSchema("type Query { a: Int, b: Int }");

/** Runs the plugin's `executionDidStart` as Apollo would for one request. */
async function execute(
  known: KnownOperations,
  request: { query?: string; operationName?: string; extensions?: object; method?: string },
  on: GraphQLSchema = schema,
) {
  const document = parse(request.query ?? "{ a }");
  const operation = getOperationAST(document, request.operationName) ?? undefined;
  const listener = await known.plugin().requestDidStart!({} as never);
  await listener!.executionDidStart!({
    request: { ...request, http: { method: request.method ?? "POST" } },
    schema: on,
    document,
    operation,
    operationName: operation?.name?.value ?? null,
    queryHash: `hash of ${request.query}`,
  } as never);
}

describe("KnownOperations", () => {
  it("learns a POSTed operation, per query text, operation name and schema", async () => {
    const known = new KnownOperations();
    const query = "query A { a } query B { b }";
    await execute(known, { query, operationName: "A" });
    expect(known.get(query, "A", schema)).toMatchObject({
      operationName: "A",
      queryHash: `hash of ${query}`,
    });
    expect(known.get(query, "B", schema)).toBeUndefined();
    expect(known.get(query, undefined, schema)).toBeUndefined();
    expect(known.get(`${query} `, "A", schema)).toBeUndefined();
    // Another schema (a supergraph reload): the operation was validated against the old one.
    expect(known.get(query, "A", buildSchema("type Query { a: Int, b: Int }"))).toBeUndefined();
    await execute(known, { query: "{ a }" });
    expect(known.get("{ a }", undefined, schema)).toMatchObject({ operationName: null });
    expect(known.get("{ a }", "", schema)).toBeUndefined();
    expect(known.size).toBe(2);
  });

  it("does not learn GETs, requests with extensions, or documents without the operation", async () => {
    const known = new KnownOperations();
    await execute(known, { query: "{ a }", method: "GET" });
    await execute(known, { query: "{ b }", extensions: { persistedQuery: { version: 1 } } });
    await execute(known, { query: "query A { a }", operationName: "C" });
    expect(known.size).toBe(0);
  });

  it("keeps the latest 1,000 query texts", async () => {
    const known = new KnownOperations();
    for (let i = 0; i < 1001; i++) await execute(known, { query: `query Q${i} { a }` });
    expect(known.size).toBe(1000);
    expect(known.get("query Q0 { a }", undefined, schema)).toBeUndefined();
    expect(known.get("query Q1 { a }", undefined, schema)).toBeDefined();
    expect(known.get("query Q1000 { a }", undefined, schema)).toBeDefined();
  });
});
