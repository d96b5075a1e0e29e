import express from "express";
import { buildSchema, type ExecutionResult, type ValidationRule } from "graphql";
import { WebSocket } from "ws";
import http from "node:http";
import type net from "node:net";
import { createLogger, MAX_LIVE_MESSAGE_BYTES } from "../../subgraphs/common/src";
import { ClientAuth, signDevToken } from "./auth";
import { MAX_TOKENS, operationLimits } from "./limits";
import { serveLive, type LiveEndpoints } from "./live";
import { Subscriber, type SubscribeRequest, type SubscriptionManager } from "./subscriptions";

const SECRET = "live-test-secret-of-enough-length-0123456789";
const LIMIT = 5;

/**
 * The live endpoints in front of a manager that hands out plain `Subscriber`s, so a test pushes the
 * results itself (the SIEM and the query plan take no part in how a transport drains a queue).
 */
async function startLive(validationRules: ValidationRule[] = []): Promise<{
  url: string;
  subscribers: Subscriber[];
  close(): Promise<void>;
}> {
  const subscribers: Subscriber[] = [];
  const manager = {
    schema: buildSchema(`type Query { ok: Boolean } type Subscription { tick: String }`),
    queueLimit: LIMIT,
    subscribe: (request: SubscribeRequest) => {
      const subscriber = new Subscriber(LIMIT, request.onOverflow);
      subscribers.push(subscriber);
      return subscriber;
    },
    closeAll: () => undefined,
  } as unknown as SubscriptionManager;
  const app = express();
  const httpServer = http.createServer(app);
  const live: LiveEndpoints = serveLive({
    httpServer,
    app,
    manager,
    auth: new ClientAuth({ secret: SECRET } as ConstructorParameters<typeof ClientAuth>[0]),
    log: createLogger("live-test", "silent"),
    validationRules,
    production: false,
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const { port } = httpServer.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    subscribers,
    close: async () => {
      await live.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

describe("live endpoints: SSE backpressure", () => {
  it("a slow SSE client is cut off with SLOW_CONSUMER like a WebSocket one, and what it has not read stays bounded", async () => {
    const live = await startLive();
    const token = await signDevToken(SECRET, { subject: "slow@example.com", tenantId: "t", roles: [] });
    // An HTTP client that stops reading once the stream has started (its socket then stops too).
    const body = JSON.stringify({ query: "subscription { tick }" });
    let received = "";
    let response: http.IncomingMessage | undefined;
    const request = http.request(`${live.url}/graphql/stream`, {
      method: "POST",
      headers: {
        accept: "text/event-stream",
        "content-type": "application/json",
        authorization: `Bearer ${token}`,
      },
    });
    const ended = new Promise<void>((resolve) => {
      request.on("response", (res) => {
        response = res;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (received += chunk));
        res.once("close", () => resolve());
      });
    });
    request.end(body);
    try {
      const deadline = Date.now() + 10_000;
      while (live.subscribers.length === 0 || !response) {
        if (Date.now() > deadline) throw new Error("the stream did not start");
        await new Promise((r) => setTimeout(r, 10));
      }
      response!.pause();
      const [subscriber] = live.subscribers;
      let finished = false;
      subscriber.onFinish(() => (finished = true));

      // 64 KiB per result: a few hundred fill the kernel's socket buffers, after which the gateway
      // can write no more until the client reads.
      const big = "x".repeat(64 * 1024);
      const pushed = 400;
      for (let i = 0; i < pushed && !finished; i++) {
        subscriber.push({ data: { tick: `${i}:${big}` } } as ExecutionResult);
        await new Promise((r) => setImmediate(r));
      }
      // The client fell more than the limit behind: its subscription ends (it no longer takes events
      // from its upstream group) instead of buffering every result in the gateway's memory.
      expect(finished).toBe(true);

      response!.resume();
      await ended;
      const events = received.split("\n\n").filter((e) => e.startsWith("event: next"));
      const ticks = events
        .filter((e) => e.includes('"tick"'))
        .map((e) => Number(/"tick":"(\d+):/.exec(e)![1]));
      // It read, in order and without a gap, a prefix of what was pushed, then one SLOW_CONSUMER error.
      expect(ticks).toEqual(Array.from({ length: ticks.length }, (_, i) => i));
      expect(ticks.length).toBeLessThan(pushed);
      expect(events.at(-1)).toContain("SLOW_CONSUMER");
      expect(received).toContain("event: complete");
    } finally {
      request.destroy();
      await live.close();
    }
  });
});

describe("live endpoints: bounded input", () => {
  let live: Awaited<ReturnType<typeof startLive>>;
  let token: string;
  beforeAll(async () => {
    live = await startLive(operationLimits({ production: true }).validationRules);
    token = await signDevToken(SECRET, { subject: "limits@example.com", tenantId: "t", roles: [] });
  });
  afterAll(() => live?.close());

  /** POSTs `body` to the SSE endpoint, sending `chunks` of it, and answers the status, a header and the body. */
  const post = (body: string, headers: Record<string, string>) =>
    new Promise<{ status: number; connection?: string; text: string }>((resolve, reject) => {
      const request = http.request(`${live.url}/graphql/stream`, {
        method: "POST",
        headers: { accept: "text/event-stream", "content-type": "application/json", ...headers },
      });
      request.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection, text }));
      });
      // The server may answer and close before the whole body is sent: that is the point.
      request.on("error", (err: NodeJS.ErrnoException) =>
        err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err),
      );
      request.end(body);
    });

  it("refuses an SSE POST without a valid token before reading its body", async () => {
    const huge = JSON.stringify({
      query: "subscription { tick }",
      variables: { pad: "x".repeat(8 * 1024 * 1024) },
    });
    const refused = await post(huge, {});
    expect(refused.status).toBe(401);
    expect(refused.connection).toBe("close");
    expect(JSON.parse(refused.text).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    expect((await post(huge, { authorization: "Bearer not-a-token" })).status).toBe(401);
    expect(live.subscribers).toHaveLength(0);
  });

  it("answers 413 to an authenticated SSE POST whose body is over the limit, and serves one within it", async () => {
    const over = JSON.stringify({
      query: "subscription { tick }",
      variables: { pad: "x".repeat(MAX_LIVE_MESSAGE_BYTES) },
    });
    const tooLarge = await post(over, { authorization: `Bearer ${token}` });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.text).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    expect(live.subscribers).toHaveLength(0);
    const started = post(JSON.stringify({ query: "subscription { tick }" }), {
      authorization: `Bearer ${token}`,
    });
    const deadline = Date.now() + 10_000;
    while (live.subscribers.length === 0) {
      if (Date.now() > deadline) throw new Error("the stream did not start");
      await new Promise((r) => setTimeout(r, 10));
    }
    live.subscribers[0].end();
    expect((await started).status).toBe(200);
  });

  it("answers operations over the limits with OPERATION_LIMIT on both transports", async () => {
    const aliases = `subscription { ${Array.from({ length: 40 }, (_, i) => `a${i}: tick`).join(" ")} }`;
    const tokens = `subscription { tick ${"__typename ".repeat(MAX_TOKENS)} }`;
    for (const query of [aliases, tokens]) {
      const answer = await post(JSON.stringify({ query }), { authorization: `Bearer ${token}` });
      const errors = JSON.parse(/data: (.*)/.exec(answer.text)?.[1] ?? answer.text).errors as Array<{
        message: string;
        extensions: { code: string };
      }>;
      const limit = errors.find((e) => /limit of \d+ exceeded/i.test(e.message));
      expect(limit?.extensions.code).toBe("OPERATION_LIMIT");
    }
    const socket = new WebSocket(`${live.url.replace("http", "ws")}/graphql`, "graphql-transport-ws");
    const messages: Array<{
      type: string;
      payload?: Array<{ message: string; extensions: { code: string } }>;
    }> = [];
    socket.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
    const deadline = Date.now() + 10_000;
    while (!messages.some((m) => m.type === "connection_ack")) {
      if (Date.now() > deadline) throw new Error("not acknowledged");
      await new Promise((r) => setTimeout(r, 10));
    }
    socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: aliases } }));
    while (!messages.some((m) => m.type === "error")) {
      if (Date.now() > deadline) throw new Error("no error message");
      await new Promise((r) => setTimeout(r, 10));
    }
    const { payload } = messages.find((m) => m.type === "error")!;
    expect(payload?.find((e) => /Aliases limit/i.test(e.message))?.extensions.code).toBe("OPERATION_LIMIT");
    socket.close();
  });

  it("closes a WebSocket whose message is over the limit (1009), before it is authenticated too", async () => {
    const socket = new WebSocket(`${live.url.replace("http", "ws")}/graphql`, "graphql-transport-ws");
    await new Promise((resolve) => socket.once("open", resolve));
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    socket.send(
      JSON.stringify({ type: "connection_init", payload: { pad: "x".repeat(MAX_LIVE_MESSAGE_BYTES) } }),
    );
    expect(await closed).toBe(1009);
  });
});
