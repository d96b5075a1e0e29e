import { ApolloServer } from "@apollo/server";
import { Readable } from "node:stream";
import type { DataSource } from "typeorm";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

/**
 * Request rate limits at the gateway: past a user's or a tenant's budget, a GraphQL request (on Apollo's path
 * or the lean one for known operations) and an ingest request are answered 429 RATE_LIMITED with a Retry-After,
 * and nothing reaches a subgraph. The buckets refill at a thousandth of a request (or a byte) per second, so
 * nothing comes back while the test runs.
 */

const USER_BURST = 3;
const TENANT_BURST = 5;
const INGEST_BYTE_BURST = 2000;
const PAGE = "query Page { accounts(first: 1) { totalCount } }";

interface Answer {
  status: number;
  retryAfter: string | null;
  body: {
    data?: unknown;
    accepted?: number;
    errors?: Array<{ message: string; extensions: { code: string; retryAfterSeconds?: number } }>;
  };
}

describe("gateway rate limits", () => {
  let platform: TestPlatform;
  let siem: DataSource;
  const apollo = jest.spyOn(ApolloServer.prototype, "executeHTTPGraphQLRequest");

  beforeAll(async () => {
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      RATE_LIMIT_USER_REQUESTS_PER_SECOND: "0.001",
      RATE_LIMIT_USER_REQUEST_BURST: String(USER_BURST),
      RATE_LIMIT_TENANT_REQUESTS_PER_SECOND: "0.001",
      RATE_LIMIT_TENANT_REQUEST_BURST: String(TENANT_BURST),
      RATE_LIMIT_TENANT_INGEST_BYTES_PER_SECOND: "0.001",
      RATE_LIMIT_TENANT_INGEST_BYTE_BURST: String(INGEST_BYTE_BURST),
    });
    siem = await platform.connect("siem");
  });
  afterAll(async () => {
    apollo.mockRestore();
    await platform?.stop();
  });

  const answer = async (res: Response): Promise<Answer> => ({
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    body: (await res.json()) as Answer["body"],
  });
  const graphql = async (token: string, query = PAGE) =>
    answer(
      await fetch(platform.gateway.url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ query }),
      }),
    );
  /** POST /ingest/events?connector=OCSF; a stream goes without a Content-Length. */
  const ingest = async (token: string, body: string | Readable) =>
    answer(
      await fetch(platform.gateway.url.replace(/\/graphql$/, "/ingest/events?connector=OCSF"), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" },
        body: typeof body === "string" ? body : (Readable.toWeb(body) as ReadableStream),
        duplex: "half",
      } as RequestInit),
    );
  /** The gateway's and the subgraphs' Apollo calls during `run` (the subgraphs run in this process too). */
  async function apolloCalls<T>(
    run: () => Promise<T>,
  ): Promise<{ result: T; gateway: number; subgraphs: number }> {
    const before = apollo.mock.calls.length;
    const result = await run();
    const calls = apollo.mock.calls.slice(before);
    const gateway = calls.filter(([{ httpGraphQLRequest }]) =>
      httpGraphQLRequest.headers.has("authorization"),
    );
    return { result, gateway: gateway.length, subgraphs: calls.length - gateway.length };
  }
  async function refusedTotal(route: string, limit: string): Promise<number> {
    const text = await (await fetch(new URL("/metrics", platform.gateway.url))).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`rampart_gateway_rate_limited_total{route="${route}",limit="${limit}"}`));
    return Number(line?.split(" ").pop() ?? 0);
  }
  const events = (tenant: string, prefix: string) =>
    inTenant(siem, tenant, async (m) => {
      const rows = (await m.query("SELECT count(*)::int AS n FROM events WHERE source_event_id LIKE $1", [
        `${prefix}%`,
      ])) as Array<{ n: number }>;
      return rows[0].n;
    });
  /** `n` OCSF events whose ids start with `prefix`, as NDJSON of at least `bytes` bytes. */
  const ndjson = (prefix: string, n: number, bytes: number) =>
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        class_uid: 3002,
        activity_id: 1,
        time: new Date().toISOString(),
        metadata: { uid: `${prefix}-${i}` },
        message: "x".repeat(Math.ceil(bytes / n)),
      }),
    ).join("\n");

  it("refuses a user's request past the burst with 429, RATE_LIMITED and Retry-After; another tenant goes on", async () => {
    const alice = await platform.token([Role.READER], "tenant-rl-a", "alice@contoso.example");
    const carol = await platform.token([Role.READER], "tenant-rl-b", "carol@fabrikam.example");
    const before = await refusedTotal("graphql", "user");

    // The first is Apollo's, which learns the operation; the next ones take the lean path, without it.
    const first = await apolloCalls(() => graphql(alice));
    expect(first.result).toMatchObject({ status: 200, body: { data: { accounts: { totalCount: 0 } } } });
    expect(first.gateway).toBe(1);
    for (let i = 1; i < USER_BURST; i++) {
      const lean = await apolloCalls(() => graphql(alice));
      expect(lean.result).toMatchObject({ status: 200, body: { data: { accounts: { totalCount: 0 } } } });
      expect(lean.gateway).toBe(0);
    }

    // The same known operation once more: refused, and no subgraph hears of it.
    const refused = await apolloCalls(() => graphql(alice));
    expect(refused.subgraphs).toBe(0);
    const { status, retryAfter, body } = refused.result;
    expect(status).toBe(429);
    const seconds = body.errors?.[0]?.extensions.retryAfterSeconds;
    expect(body).toEqual({
      errors: [
        {
          message: `Too many requests: you may send 0.001 per second (bursts of ${USER_BURST}) to this gateway. Try again in ${seconds} s.`,
          extensions: { code: "RATE_LIMITED", retryAfterSeconds: seconds },
        },
      ],
    });
    // A whole token at a thousandth per second: up to 1,000 s.
    expect(Number.isInteger(seconds)).toBe(true);
    expect(seconds).toBeGreaterThan(900);
    expect(seconds).toBeLessThanOrEqual(1000);
    expect(retryAfter).toBe(String(seconds));
    expect((await refusedTotal("graphql", "user")) - before).toBe(1);

    // Through Express (a GET) too.
    const get = await fetch(`${platform.gateway.url}?query=${encodeURIComponent(PAGE)}`, {
      headers: { authorization: `Bearer ${alice}`, "apollo-require-preflight": "true" },
    });
    expect(get.status).toBe(429);
    expect(get.headers.get("retry-after")).toMatch(/^\d+$/);

    // Another tenant has a budget of its own.
    expect(await graphql(carol)).toMatchObject({
      status: 200,
      body: { data: { accounts: { totalCount: 0 } } },
    });
  });

  it("refuses the users of a tenant past the tenant's burst, and a bad token before counting it", async () => {
    const tenant = "tenant-rl-c";
    const users = await Promise.all(
      ["u1", "u2", "u3"].map((subject) => platform.token([Role.READER], tenant, subject)),
    );
    const before = await refusedTotal("graphql", "tenant");
    // Bad tokens spend nothing of the tenant's budget.
    const bad = await graphql(`${users[0]}x`);
    expect(bad.status).toBe(401);
    expect(bad.body.errors?.[0]?.extensions.code).toBe("UNAUTHENTICATED");

    const statuses = [];
    for (const token of [users[0], users[0], users[1], users[1], users[2]])
      statuses.push((await graphql(token)).status);
    expect(statuses).toEqual(Array(TENANT_BURST).fill(200));
    const refused = await graphql(users[2]);
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.message).toMatch(/^Too many requests: your tenant may send /);
    expect(refused.body.errors?.[0]?.extensions.code).toBe("RATE_LIMITED");
    expect((await refusedTotal("graphql", "tenant")) - before).toBe(1);
  });

  it("refuses an ingest past the tenant's byte budget and stores none of it", async () => {
    const ingestor = await platform.token([Role.INGESTOR], "tenant-rl-d", "collector");
    const before = await refusedTotal("ingest", "tenant");

    const first = await ingest(ingestor, ndjson("rl-first", 3, INGEST_BYTE_BURST * 0.6));
    expect(first).toMatchObject({ status: 200, body: { accepted: 3 } });
    expect(await events("tenant-rl-d", "rl-first")).toBe(3);

    const second = await apolloCalls(() => ingest(ingestor, ndjson("rl-second", 3, INGEST_BYTE_BURST * 0.6)));
    expect(second.result.status).toBe(429);
    expect(second.result.body.errors?.[0]?.extensions).toEqual({
      code: "RATE_LIMITED",
      retryAfterSeconds: Number(second.result.retryAfter),
    });
    expect(second.result.body.errors?.[0]?.message).toMatch(/^Too many ingest bytes: your tenant may send /);
    expect(second.subgraphs).toBe(0);
    expect(await events("tenant-rl-d", "rl-second")).toBe(0);
    expect((await refusedTotal("ingest", "tenant")) - before).toBe(1);
  });

  it("counts a body streamed without a Content-Length as it goes: the next ingest waits", async () => {
    const ingestor = await platform.token([Role.INGESTOR], "tenant-rl-e", "collector");
    // Over the whole burst: admitted (the budget was not in debt), then counted.
    const streamed = await ingest(
      ingestor,
      Readable.from([ndjson("rl-streamed", 3, INGEST_BYTE_BURST * 1.5)]),
    );
    expect(streamed).toMatchObject({ status: 200, body: { accepted: 3 } });

    const next = await ingest(ingestor, ndjson("rl-after", 1, 10));
    expect(next.status).toBe(429);
    expect(next.body.errors?.[0]?.extensions.code).toBe("RATE_LIMITED");
    expect(await events("tenant-rl-e", "rl-after")).toBe(0);
  });
});
