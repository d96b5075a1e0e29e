import { ApolloServer } from "@apollo/server";
import http from "node:http";
import { register } from "prom-client";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

/**
 * The lean POST path answers an operation Apollo Server has accepted before without Apollo's request pipeline
 * (gateway/src/known-operations.ts). It must answer exactly as Apollo does — the same status, headers and
 * bytes — and still check everything that depends on the request: the token, the variables, the answer's
 * errors (formatted and masked by Apollo), the metrics.
 */

const PAGE = "query Page($first: Int) { accounts(first: $first) { totalCount } }";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

describe("gateway: operations Apollo has accepted before", () => {
  let platform: TestPlatform;
  let token: string;
  const apollo = jest.spyOn(ApolloServer.prototype, "executeHTTPGraphQLRequest");

  function post(body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const url = new URL(platform.gateway.url);
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: "/graphql",
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(text)),
            ...headers,
          },
          agent: false,
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(parts).toString("utf8"),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(text);
    });
  }
  /** Status, headers but the date, and body: what must not tell the two paths apart. */
  const seen = ({ status, headers: { date: _date, ...headers }, text }: Answer) => ({
    status,
    headers,
    text,
  });
  /** The gateway's Apollo calls during `run` (the subgraphs, in this process too, run Apollo Server). */
  async function apolloCalls(
    run: () => Promise<unknown>,
    of: "gateway" | "subgraphs" = "gateway",
  ): Promise<number> {
    const before = apollo.mock.calls.length;
    await run();
    return apollo.mock.calls
      .slice(before)
      .filter(
        ([{ httpGraphQLRequest }]) => httpGraphQLRequest.headers.has("authorization") === (of === "gateway"),
      ).length;
  }
  async function requests(outcome: "ok" | "error"): Promise<number> {
    const metric = await register.getSingleMetric("rampart_gateway_requests_total")!.get();
    return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    token = await platform.token([Role.READER], "tenant-known");
  });
  afterAll(() => platform?.stop());

  it("answers a repeated operation without Apollo, as Apollo answered it", async () => {
    const body = { query: PAGE, operationName: "Page", variables: { first: 5 } };
    let first!: Answer;
    expect(await apolloCalls(async () => void (first = await post(body)))).toBe(1);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.text)).toEqual({ data: { accounts: { totalCount: 0 } } });
    const ok = await requests("ok");
    let again!: Answer;
    expect(
      await apolloCalls(async () => void (again = await post({ ...body, variables: { first: 5 } }))),
    ).toBe(0);
    expect(seen(again)).toEqual(seen(first));
    expect(await requests("ok")).toBe(ok + 1);

    // Another operation name, an Accept header Apollo has not answered yet: Apollo first, then not.
    const accept = { accept: "application/graphql-response+json" };
    let typed!: Answer;
    expect(await apolloCalls(async () => void (typed = await post(body, accept)))).toBe(1);
    expect(typed.headers["content-type"]).toBe("application/graphql-response+json; charset=utf-8");
    let typedAgain!: Answer;
    expect(await apolloCalls(async () => void (typedAgain = await post(body, accept)))).toBe(0);
    expect(seen(typedAgain)).toEqual(seen(typed));
    const unnamed = { query: PAGE, variables: { first: 5 } };
    expect(await apolloCalls(() => post(unnamed))).toBe(1);
    expect(await apolloCalls(() => post(unnamed))).toBe(0);
    // A body with extensions is Apollo's (persisted queries).
    expect(await apolloCalls(() => post({ ...unnamed, extensions: {} }))).toBe(1);
  });

  it("still refuses a bad token, and variables nested too deep, with Apollo's errors", async () => {
    const body = { query: PAGE, variables: { first: 3 } };
    await post(body);
    expect(await apolloCalls(() => post(body))).toBe(0);

    const bad = await post(body, { authorization: "Bearer nope" });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.text).errors[0].extensions.code).toBe("UNAUTHENTICATED");

    let deep: unknown = 1;
    for (let i = 0; i < 2100; i++) deep = [deep];
    const nested = await post({ query: PAGE, variables: { first: 3, pad: deep } });
    expect(nested.status).toBe(400);
    expect(JSON.parse(nested.text).errors[0]).toMatchObject({
      message: "Variable $pad is nested deeper than 2000 levels, the most accepted.",
      extensions: { code: "BAD_USER_INPUT" },
    });
  });

  it("hands an answer with errors to Apollo's error handling, executed once", async () => {
    // The same operation, its text unknown (a trailing space): what Apollo answers on its own.
    const known = { query: PAGE, variables: { first: 2 } };
    await post(known);
    expect(await apolloCalls(() => post(known))).toBe(0);
    const fresh = (variables: unknown) => post({ query: `${PAGE} `, variables });
    for (const variables of [{ first: 1000 }, { first: "many" }]) {
      const errors = await requests("error");
      let replayed!: Answer;
      const replay = () => apolloCalls(async () => void (replayed = await post({ query: PAGE, variables })));
      // Executed once: one subgraph fetch when the variables are valid, none otherwise.
      expect(await apolloCalls(async () => expect(await replay()).toBe(1), "subgraphs")).toBe(
        variables.first === 1000 ? 1 : 0,
      );
      expect(await requests("error")).toBe(errors + 1);
      const alone = await fresh(variables);
      expect(replayed.status).toBe(alone.status);
      expect(JSON.parse(replayed.text)).toEqual(JSON.parse(alone.text));
      expect(JSON.parse(replayed.text).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    }
  });
});
