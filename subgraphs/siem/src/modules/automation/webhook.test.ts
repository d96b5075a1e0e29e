import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  guardedLookup,
  isPublicAddress,
  retryAfterMs,
  sendWebhook,
  signatureOf,
  webhookUrlProblem,
  type WebhookCall,
} from "./webhook";
import { retryDelayMs } from "./playbook-runner";

describe("webhook safety", () => {
  it("takes only public unicast addresses", () => {
    for (const address of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "[2a00:1450:4001::200e]"])
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
    for (const address of [
      "127.0.0.1",
      "127.8.9.10",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "198.51.100.7",
      "::1",
      "::",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:169.254.169.254",
      "64:ff9b::a9fe:a9fe",
      "2002:7f00:1::",
      "fd00:ec2::254",
      "fe80::1%eth0",
      "ff02::1",
      "not-an-address",
    ])
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
  });

  it("refuses a name that resolves to a non-public address in the connection's own lookup", async () => {
    const lookup = (allowPrivate: boolean) =>
      new Promise<{ err: Error | null; address: unknown }>((resolve) =>
        guardedLookup(allowPrivate)("localhost", { all: true }, (err, address) => resolve({ err, address })),
      );
    const refused = await lookup(false);
    expect(refused.err?.message).toMatch(/localhost resolves to .* which is not a public address/);
    const allowed = await lookup(true);
    expect(allowed.err).toBeNull();
    expect(Array.isArray(allowed.address) && allowed.address.length).toBeGreaterThan(0);
  });

  it("checks webhook URLs", () => {
    expect(webhookUrlProblem("https://hooks.example.com/x?y=1", { requireHttps: true })).toBeNull();
    expect(webhookUrlProblem("http://hooks.example.com/x", { requireHttps: false })).toBeNull();
    expect(webhookUrlProblem("http://hooks.example.com/x", { requireHttps: true })).toBe("must use https");
    expect(webhookUrlProblem("ftp://hooks.example.com/x", { requireHttps: false })).toBe(
      "must be an http(s) URL",
    );
    expect(webhookUrlProblem("https://user:pw@hooks.example.com/", { requireHttps: true })).toMatch(
      /credentials/,
    );
    expect(webhookUrlProblem("hooks.example.com", { requireHttps: false })).toMatch(/absolute/);
    const strict = { requireHttps: true, allowPrivate: false };
    expect(webhookUrlProblem("https://169.254.169.254/latest/meta-data", strict)).toBe(
      "must not target 169.254.169.254, which is not a public address",
    );
    expect(webhookUrlProblem("https://[::1]:8443/", strict)).toBe(
      "must not target ::1, which is not a public address",
    );
    expect(webhookUrlProblem("https://[::1]:8443/", { ...strict, allowPrivate: true })).toBeNull();
    expect(webhookUrlProblem("https://internal.example.com/", strict)).toBeNull();
  });

  it("signs the timestamp and the body with HMAC-SHA256, as docs/api.md tells receivers to check", () => {
    const body = '{"a":"b"}';
    const header = signatureOf("s3cret-s3cret-s3cret", 1_800_000_000, body);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header)!;
    expect(t).toBe("1800000000");
    expect(v1).toBe(createHmac("sha256", "s3cret-s3cret-s3cret").update(`${t}.${body}`).digest("hex"));
  });

  it("backs off exponentially, honours Retry-After and stays under an hour", () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(10_000, n))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(retryDelayMs(1000, 1, 30_000)).toBe(30_000);
    expect(retryDelayMs(600_000, 5)).toBe(3600_000);
    expect(retryAfterMs("120", 0)).toBe(120_000);
    expect(retryAfterMs(new Date(90_000).toUTCString(), 30_000)).toBe(60_000);
    expect(retryAfterMs("soon", 0)).toBeUndefined();
  });
});

describe("sending a webhook", () => {
  let server: Server;
  let port: number;
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? "");
      req.resume();
      if (req.url === "/hang") return; // never answers
      if (req.url === "/busy") return void res.writeHead(429, { "retry-after": "7" }).end();
      if (req.url === "/moved") return void res.writeHead(302, { location: "http://169.254.169.254/" }).end();
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const call = (url: string, overrides: Partial<WebhookCall> = {}) =>
    sendWebhook({
      url,
      body: "{}",
      secret: "0123456789abcdef",
      idempotencyKey: "run-1",
      attempt: 1,
      playbookId: "p1",
      timeoutMs: 2000,
      allowPrivate: true,
      requireHttps: false,
      ...overrides,
    });

  it("refuses loopback targets unless allowed, by address or by name, before sending anything", async () => {
    const before = hits.length;
    expect(await call(`http://127.0.0.1:${port}/ok`, { allowPrivate: false })).toEqual({
      outcome: "FAILED",
      status: null,
      error: "127.0.0.1 is not a public address",
    });
    const byName = await call(`http://localhost:${port}/ok`, { allowPrivate: false });
    expect(byName).toMatchObject({ outcome: "FAILED", status: null });
    expect(byName.outcome === "FAILED" && byName.error).toMatch(
      /localhost resolves to .* not a public address/,
    );
    expect(await call(`http://[::ffff:127.0.0.1]:${port}/ok`, { allowPrivate: false })).toMatchObject({
      outcome: "FAILED",
    });
    expect(hits.length).toBe(before);
    expect(await call(`http://localhost:${port}/ok`)).toEqual({ outcome: "DELIVERED", status: 204 });
  });

  it("classifies answers: 429 with Retry-After is retried, a redirect is not followed, silence times out", async () => {
    expect(await call(`http://127.0.0.1:${port}/busy`)).toEqual({
      outcome: "RETRY",
      status: 429,
      error: "HTTP 429",
      retryAfterMs: 7000,
    });
    expect(await call(`http://127.0.0.1:${port}/moved`)).toEqual({
      outcome: "FAILED",
      status: 302,
      error: "HTTP 302: redirects are not followed",
    });
    expect(await call(`http://127.0.0.1:${port}/hang`, { timeoutMs: 1000 })).toEqual({
      outcome: "RETRY",
      status: null,
      error: "timed out after 1000 ms",
    });
    expect(await call(`http://127.0.0.1:${port}/ok`, { requireHttps: true })).toEqual({
      outcome: "FAILED",
      status: null,
      error: "webhook URL must use https",
    });
  });
});
