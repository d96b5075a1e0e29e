/**
 * METRICS_TOKEN: with it set, every process's `/metrics` (the gateway's and each subgraph's) answers only
 * `Authorization: Bearer <token>`, over real HTTP against a real platform; `/health` stays open.
 */
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

const TOKEN = "metrics-scraper-token-0123456789-abcdef";

describe("METRICS_TOKEN guards /metrics on every process", () => {
  let platform: TestPlatform;
  let urls: Array<[string, string]>;

  beforeAll(async () => {
    platform = await startTestPlatform({ METRICS_TOKEN: TOKEN, JOBS_ENABLED: "false" });
    urls = [
      ["gateway", platform.gateway.url],
      ...(["posture", "protection", "siem"] as const).map((n): [string, string] => [
        n,
        platform.subgraphs[n].url,
      ]),
    ];
  }, 120_000);
  afterAll(async () => {
    await platform?.stop();
  });

  const scrape = (base: string, authorization?: string) =>
    fetch(new URL("/metrics", base), { headers: authorization ? { authorization } : {} });

  it("refuses a scrape without the token, with a wrong one, and with a user's bearer token", async () => {
    const userToken = await platform.token([Role.ADMIN], "tenant-a");
    for (const [name, base] of urls) {
      for (const authorization of [
        undefined,
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(1)}`,
        TOKEN,
        `Bearer ${userToken}`,
      ]) {
        const res = await scrape(base, authorization);
        expect({ name, authorization, status: res.status }).toEqual({ name, authorization, status: 401 });
        expect(res.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
        const body = await res.text();
        expect(body).not.toContain("rampart_");
      }
    }
  });

  it("serves the Prometheus text to the token, and leaves /health open", async () => {
    for (const [name, base] of urls) {
      const res = await scrape(base, `Bearer ${TOKEN}`);
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
      expect(res.headers.get("content-type")).toContain("text/plain");
      expect(await res.text()).toContain("rampart_sql_statements_total");
      expect((await fetch(new URL("/health", base))).status).toBe(200);
    }
  });
});
