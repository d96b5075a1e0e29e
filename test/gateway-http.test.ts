import http from "node:http";
import net from "node:net";
import { gzipSync } from "node:zlib";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

/**
 * `POST /graphql` as HTTP: the gateway serves plain UTF-8 JSON posts on a lean path (no Express) and
 * leaves the rest (GET, compressed bodies, other media types and charsets) to Express. Both must answer
 * alike: the same data for the same operation, and the body errors in GraphQL's shape with their status.
 */

const LIMIT = 4096;
const QUERY = "{ accounts(first: 5) { totalCount } }";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

describe("gateway: POST /graphql over HTTP", () => {
  let platform: TestPlatform;
  let token: string;

  /** One request on a fresh connection; `chunks` are written one by one (no Content-Length unless given). */
  function send(
    chunks: Array<string | Buffer>,
    headers: Record<string, string>,
    options: { method?: string; path?: string } = {},
  ): Promise<Answer> {
    const url = new URL(platform.gateway.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: options.path ?? "/graphql",
          method: options.method ?? "POST",
          headers: { authorization: `Bearer ${token}`, ...headers },
          agent: false,
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () => {
            const text = Buffer.concat(parts).toString("utf8");
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: JSON.parse(text) as Answer["body"],
            });
          });
        },
      );
      req.on("error", reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  }
  const json = (body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    return send([text], {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
      ...headers,
    });
  };
  const errorOf = (a: Answer) => ({
    status: a.status,
    message: a.body.errors?.[0]?.message,
    code: a.body.errors?.[0]?.extensions?.code,
  });

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", MAX_BODY_BYTES: String(LIMIT) });
    token = await platform.token([Role.READER], "tenant-http");
  });
  afterAll(() => platform?.stop());

  it("answers the same data on the lean path and through Express", async () => {
    const plain = await json({ query: QUERY });
    expect(plain.status).toBe(200);
    expect(plain.headers["content-type"]).toMatch(/^application\/json/);
    expect(plain.body).toEqual({ data: { accounts: { totalCount: 0 } } });
    const charset = await json({ query: QUERY }, { "content-type": "application/json; charset=UTF-8" });
    const gzipped = await send([gzipSync(JSON.stringify({ query: QUERY }))], {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    const get = await send(
      [],
      { "apollo-require-preflight": "1" },
      {
        method: "GET",
        path: `/graphql?query=${encodeURIComponent(QUERY)}`,
      },
    );
    for (const other of [charset, gzipped, get])
      expect([other.status, other.body]).toEqual([200, plain.body]);
    // Which path answered: Express's `res.send` adds an ETag, the lean path does not.
    expect([plain.headers.etag, charset.headers.etag]).toEqual([undefined, undefined]);
    expect([gzipped.headers.etag, get.headers.etag]).toEqual([expect.any(String), expect.any(String)]);
    // Split into many small writes, without a Content-Length (chunked).
    const text = JSON.stringify({ query: QUERY });
    const chunked = await send(text.match(/.{1,7}/g)!, { "content-type": "application/json" });
    expect([chunked.status, chunked.body]).toEqual([200, plain.body]);
  });

  it("answers a body over the limit with 413, declared or not", async () => {
    const big = JSON.stringify({ query: QUERY, variables: { pad: "x".repeat(LIMIT) } });
    const expected = {
      status: 413,
      message: "The request body is larger than this endpoint accepts.",
      code: "BAD_USER_INPUT",
    };
    expect(errorOf(await json(JSON.parse(big)))).toEqual(expected);
    expect(errorOf(await send(big.match(/.{1,1000}/g)!, { "content-type": "application/json" }))).toEqual(
      expected,
    );
    const gzipped = await send([gzipSync(big)], {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    expect(errorOf(gzipped)).toEqual(expected);
  });

  it("answers malformed JSON, or JSON that is no object or array, with 400 on both paths", async () => {
    const invalid = { status: 400, message: "The request body is not valid JSON.", code: "BAD_USER_INPUT" };
    const empty = {
      status: 400,
      message: "POST body missing, invalid Content-Type, or JSON object has no keys.",
      code: "BAD_REQUEST",
    };
    const cases: Array<[string, typeof invalid]> = [
      ['{"query": ', invalid],
      ['"just a string"', invalid],
      ["42", invalid],
      ["null", invalid],
      [" \n", invalid],
      ["\u00a0{}", invalid],
      ["", empty],
      ["\uFEFF{}", empty],
    ];
    for (const [body, expected] of cases) {
      expect(errorOf(await send([body], { "content-type": "application/json" }))).toEqual(expected);
      const gzipped = await send([gzipSync(body)], {
        "content-type": "application/json",
        "content-encoding": "gzip",
      });
      expect(errorOf(gzipped)).toEqual(expected);
    }
  });

  it("leaves other charsets and media types to Express and Apollo", async () => {
    const latin1 = await send([JSON.stringify({ query: QUERY })], {
      "content-type": "application/json; charset=latin1",
    });
    expect([latin1.status, latin1.body.errors?.[0]?.extensions?.code]).toEqual([415, "BAD_USER_INPUT"]);
    // A "simple" request a browser could send cross-site: Apollo's CSRF prevention refuses it.
    const plain = await send([JSON.stringify({ query: QUERY })], { "content-type": "text/plain" });
    expect(plain.status).toBe(400);
    expect(plain.body.data).toBeUndefined();
  });

  it("answers 413 as soon as a chunked body passes the limit, before the client has sent it all", async () => {
    const url = new URL(platform.gateway.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        const part = `{"query":"${QUERY}","variables":{"pad":"${"x".repeat(2 * LIMIT)}`;
        socket.write(
          `POST /graphql HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
            `Authorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n` +
            `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`,
        );
        // The body never ends: the answer must not wait for it.
      });
      let text = "";
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
        if (text.includes("}]}")) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"BAD_USER_INPUT"');
  });

  it("goes on serving after clients that leave mid-body", async () => {
    const url = new URL(platform.gateway.url);
    for (let i = 0; i < 5; i++)
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname, () => {
          socket.write(
            `POST /graphql HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
              `Authorization: Bearer ${token}\r\nContent-Length: 1000\r\n\r\n{"query":`,
            () => {
              socket.destroy();
              resolve();
            },
          );
        });
        socket.on("error", reject);
      });
    const after = await json({ query: QUERY });
    expect([after.status, after.body]).toEqual([200, { data: { accounts: { totalCount: 0 } } }]);
  });

  it("answers a missing or bad token with 401 on the lean path", async () => {
    const text = JSON.stringify({ query: QUERY });
    const answer = await send([text], { "content-type": "application/json", authorization: "Bearer nope" });
    expect([answer.status, answer.body.errors?.[0]?.extensions?.code]).toEqual([401, "UNAUTHENTICATED"]);
  });

  it("answers a document with no operation to run with 400 BAD_USER_INPUT, not an internal error", async () => {
    const two = "query A { accounts(first: 1) { totalCount } } query B { accounts(first: 2) { totalCount } }";
    for (const body of [
      { query: QUERY, operationName: "Nope" },
      { query: two },
      { query: two, operationName: "C" },
    ]) {
      const answer = await send([JSON.stringify(body)], { "content-type": "application/json" });
      expect([answer.status, answer.body.errors?.map((e) => e.extensions?.code)]).toEqual([
        400,
        ["BAD_USER_INPUT"],
      ]);
    }
    const named = await send([JSON.stringify({ query: two, operationName: "B" })], {
      "content-type": "application/json",
    });
    expect([named.status, named.body.errors]).toEqual([200, undefined]);
  });
});
