import type { Client } from "graphql-ws";
import WebSocket from "ws";
import { signDevToken } from "../gateway/src/auth";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { watch, wsClient } from "./utils/live";

/**
 * How many live connections one user and one tenant may hold on a gateway: WebSocket connections and
 * SSE streams count together; one more is refused (close 4429, HTTP 429) until one of theirs ends,
 * however it ends.
 */

const CHANGES = "subscription { incidentChanges { cursor } }";
const PER_USER = 2;
const PER_TENANT = 4;

/** How a raw graphql-ws connection went: acknowledged, or closed with a code and reason. */
type Outcome = { acked: true } | { acked: false; code: number; reason: string };

describe("live connection limits", () => {
  let platform: TestPlatform;
  const sockets: WebSocket[] = [];
  const streams: AbortController[] = [];
  const clients: Client[] = [];

  /** Opens a graphql-ws connection for `token` and reports whether the gateway acknowledged it. */
  async function connect(token: string): Promise<{ socket: WebSocket; outcome: Outcome }> {
    const socket = new WebSocket(platform.gateway.url.replace(/^http/, "ws"), "graphql-transport-ws");
    sockets.push(socket);
    await new Promise((r) => socket.once("open", r));
    const outcome = new Promise<Outcome>((resolve) => {
      socket.once("message", (m) => {
        if ((JSON.parse(m.toString()) as { type: string }).type === "connection_ack")
          resolve({ acked: true });
      });
      socket.once("close", (code, reason) => resolve({ acked: false, code, reason: reason.toString() }));
    });
    socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
    return { socket, outcome: await outcome };
  }

  /** Starts an SSE subscription for `token`; the response's status tells whether it was admitted. */
  async function openSse(token: string): Promise<{ status: number; body?: unknown; close(): void }> {
    const abort = new AbortController();
    streams.push(abort);
    const res = await fetch(new URL("/graphql/stream", platform.gateway.url), {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "text/event-stream",
      },
      body: JSON.stringify({ query: CHANGES }),
      signal: abort.signal,
    });
    const body = res.status === 200 ? undefined : await res.json();
    return { status: res.status, body, close: () => abort.abort() };
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(new URL("/metrics", platform.gateway.url))).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  }

  const open = (transport: "ws" | "sse") =>
    metric(`rampart_gateway_live_connections{transport="${transport}"}`);

  /** Polls an asynchronous `check` every 25 ms until it holds, or fails naming `what`. */
  async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  beforeAll(async () => {
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      LIVE_CONNECTIONS_PER_USER: String(PER_USER),
      LIVE_CONNECTIONS_PER_TENANT: String(PER_TENANT),
    });
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    for (const stream of streams.splice(0)) stream.abort();
    for (const client of clients.splice(0)) await client.dispose();
    await until(async () => (await open("ws")) + (await open("sse")) === 0, "every connection to close");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  it("one user holds at most LIVE_CONNECTIONS_PER_USER, WebSocket and SSE together; ending one, even abruptly, admits the next", async () => {
    const alice = await platform.token([Role.READER], "tenant-limits", "alice@contoso.example");
    const bob = await platform.token([Role.READER], "tenant-limits", "bob@contoso.example");
    const refusedBefore = await metric("rampart_gateway_live_connections_refused_total");

    const first = await connect(alice);
    expect(first.outcome).toEqual({ acked: true });
    const sse = await openSse(alice);
    expect(sse.status).toBe(200);
    expect([await open("ws"), await open("sse")]).toEqual([1, 1]);

    // A third, by either transport, is refused.
    const third = await connect(alice);
    expect(third.outcome).toMatchObject({ acked: false, code: 4429 });
    expect((third.outcome as { reason: string }).reason).toMatch(/^Too many connections: you hold 2 /);
    const thirdSse = await openSse(alice);
    expect(thirdSse.status).toBe(429);
    expect(thirdSse.body).toMatchObject({ errors: [{ extensions: { code: "RATE_LIMITED" } }] });
    // The graphql-ws client takes 4429 as final (it does not retry it).
    const client = wsClient(platform.gateway.url, alice);
    clients.push(client);
    const viaClient = watch(client, CHANGES);
    await until(async () => viaClient.completed, "the graphql-ws client's connection to be refused");
    expect((viaClient.error as { code?: number }).code).toBe(4429);
    expect((await metric("rampart_gateway_live_connections_refused_total")) - refusedBefore).toBe(3);

    // Another user of the tenant is not held back by alice's connections.
    expect((await connect(bob)).outcome).toEqual({ acked: true });

    // Alice's WebSocket drops without a closing handshake: its place comes back.
    first.socket.terminate();
    await until(async () => (await open("ws")) === 1, "the terminated connection to be counted out");
    expect((await connect(alice)).outcome).toEqual({ acked: true });
    expect((await connect(alice)).outcome).toMatchObject({ acked: false, code: 4429 });

    // Her SSE stream goes away: so does its place.
    sse.close();
    await until(async () => (await open("sse")) === 0, "the closed SSE stream to be counted out");
    expect((await openSse(alice)).status).toBe(200);
  });

  it("a tenant holds at most LIVE_CONNECTIONS_PER_TENANT; other tenants are not held back", async () => {
    const users = await Promise.all(
      ["u1", "u2", "u3"].map((u) => platform.token([Role.READER], "tenant-crowded", `${u}@contoso.example`)),
    );
    const held = [];
    for (const token of users.slice(0, 2))
      for (let i = 0; i < PER_USER; i++) {
        const connection = await connect(token);
        expect(connection.outcome).toEqual({ acked: true });
        held.push(connection);
      }
    // u3 has none, but the tenant has its four.
    const refused = await connect(users[2]);
    expect(refused.outcome).toMatchObject({ acked: false, code: 4429 });
    expect((refused.outcome as { reason: string }).reason).toMatch(
      /^Too many connections: your tenant holds 4 /,
    );
    expect((await openSse(users[2])).status).toBe(429);

    const elsewhere = await platform.token([Role.READER], "tenant-quiet", "u1@contoso.example");
    expect((await connect(elsewhere)).outcome).toEqual({ acked: true });

    held[0].socket.close();
    await until(async () => (await open("ws")) === 4, "the closed connection to be counted out");
    expect((await connect(users[2])).outcome).toEqual({ acked: true });
  });

  it("a connection ended by its token's expiry gives its place back", async () => {
    const subject = "carol@contoso.example";
    const shortLived = await signDevToken(platform.config.jwt.secret!, {
      subject,
      tenantId: "tenant-limits",
      roles: [Role.READER],
      ttlSeconds: 3,
    });
    const fresh = await platform.token([Role.READER], "tenant-limits", subject);
    const ws = await connect(shortLived);
    expect(ws.outcome).toEqual({ acked: true });
    const closed = new Promise<number>((r) => ws.socket.once("close", (code) => r(code)));
    const sse = await openSse(shortLived);
    expect(sse.status).toBe(200);
    expect((await connect(fresh)).outcome).toMatchObject({ acked: false, code: 4429 });

    // The token expires: the WebSocket closes with 4401 and the SSE stream ends; both places come back.
    expect(await closed).toBe(4401);
    await until(
      async () => (await open("ws")) + (await open("sse")) === 0,
      "both expired connections to end",
    );
    expect((await connect(fresh)).outcome).toEqual({ acked: true });
    expect((await openSse(fresh)).status).toBe(200);
  });
});
