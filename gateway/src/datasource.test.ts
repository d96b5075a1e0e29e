import { requestBody } from "./datasource";

describe("subgraph request bodies", () => {
  it("are what JSON.stringify makes of the request, the query's JSON kept from one fetch to the next", () => {
    const query = 'query Q($id: ID!) { resource(id: $id) { name description: tag(key: "a\\"b\\n") } }';
    const requests = [
      { query, variables: { id: "1", nested: { list: [1, null, "é\u2028"] } }, operationName: "Q" },
      { query, variables: { id: "2" } },
      { query },
      { query, operationName: "Q", extensions: { persistedQuery: { version: 1 } } },
      { query, variables: undefined, operationName: undefined, extensions: undefined },
      { variables: { id: "3" } },
    ];
    for (let run = 0; run < 2; run++)
      for (const request of requests)
        expect(requestBody(request)).toBe(
          JSON.stringify({
            query: request.query,
            variables: request.variables,
            operationName: request.operationName,
            extensions: request.extensions,
          }),
        );
  });
});
