import express from "express";
import { buildSchema, type ExecutionResult } from "graphql";
import http from "node:http";
import type net from "node:net";
import { createLogger } from "../../subgraphs/common/src";
import { ClientAuth, signDevToken } from "./auth";
import { serveLive, type LiveEndpoints } from "./live";
import { Subscriber, type SubscribeRequest, type SubscriptionManager } from "./subscriptions";

const SECRET = "live-test-secret-of-enough-length-0123456789";
const LIMIT = 5;

/**
 * The live endpoints in front of a manager that hands out plain `Subscriber`s, so a test pushes the
 * results itself (the SIEM and the query plan take no part in how a transport drains a queue).
 */
async function startLive(): Promise<{
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
    validationRules: [],
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
