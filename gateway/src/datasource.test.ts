import http from "node:http";
import type { AddressInfo } from "node:net";
import { GraphQLError } from "graphql";
import type { GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { createSubgraphAgent, post, requestBody, UndiciDataSource } from "./datasource";

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

describe("subgraph answers", () => {
  const agent = createSubgraphAgent();
  let server: http.Server;
  let origin: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/early") res.writeEarlyHints({ link: "</a>; rel=preload" });
      res.statusCode = req.url === "/denied" ? 403 : 200;
      if (req.url === "/bom") {
        res.end(Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"data":{}}')]));
        return;
      }
      // In pieces, with a character split across two of them.
      const body = Buffer.from('{"data":{"name":"été"}}');
      res.write(body.subarray(0, 18));
      setTimeout(() => res.end(body.subarray(18)), 5);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it("are read whole, as undici's body.text() reads them", async () => {
    for (const path of ["/", "/early", "/denied", "/bom"]) {
      const ours = await post(agent, { origin, path, method: "POST", body: "{}" });
      const theirs = await agent.request({ origin, path, method: "POST", body: "{}" });
      expect({ path, statusCode: ours.statusCode, text: ours.text }).toEqual({
        path,
        statusCode: theirs.statusCode,
        text: await theirs.body.text(),
      });
    }
  });

  it("reject when the subgraph cannot be reached", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(
      post(agent, { origin: `http://127.0.0.1:${port}`, path: "/", method: "POST", body: "{}" }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("a subgraph that does not answer", () => {
  const agent = createSubgraphAgent(300);
  let server: http.Server;
  let origin: string;
  const fetchFrom = (url: string) =>
    new UndiciDataSource(url, agent, "siem")
      .process({
        request: { query: "{ __typename }" },
        context: {},
      } as GraphQLDataSourceProcessOptions<object>)
      .then(
        () => null,
        (err: unknown) => err,
      );

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      // "/hang" never answers; "/starting" answers as a subgraph still starting does.
      if (req.url === "/starting") res.writeHead(503).end('{"status":"starting"}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("is UNAVAILABLE naming it: no answer within the timeout, a 503 without a GraphQL body, or nothing listening", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const outcomes = await Promise.all(
      [`${origin}/hang`, `${origin}/starting`, `http://127.0.0.1:${port}/graphql`].map(fetchFrom),
    );
    for (const err of outcomes) expect(err).toBeInstanceOf(GraphQLError);
    expect(outcomes.map((err) => (err as GraphQLError).extensions)).toEqual([
      { code: "UNAVAILABLE", reason: "SUBGRAPH_NO_ANSWER", serviceName: "siem" },
      { code: "UNAVAILABLE", reason: "SUBGRAPH_NO_ANSWER", serviceName: "siem" },
      { code: "UNAVAILABLE", reason: "SUBGRAPH_UNREACHABLE", serviceName: "siem" },
    ]);
  });
});
