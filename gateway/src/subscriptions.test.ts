import { buildSchema, parse, type ExecutionResult } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { createLogger, InternalTokens, POSITION_EXTENSION, Role } from "../../subgraphs/common/src";
import {
  createSubscriptionManager,
  DEFAULT_SUBSCRIPTION_SETTINGS,
  Subscriber,
  type SubscriptionManager,
} from "./subscriptions";

const event = (n: number): ExecutionResult => ({ data: { n } });

describe("Subscriber: a bounded queue per client subscription", () => {
  it("hands results over in order, waiting when empty", async () => {
    const s = new Subscriber(10, () => undefined);
    const pending = s.next();
    s.push(event(1));
    s.push(event(2));
    expect(await pending).toEqual({ done: false, value: event(1) });
    expect(await s.next()).toEqual({ done: false, value: event(2) });
    s.end();
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });

  it("drops a consumer that falls more than the limit behind: one SLOW_CONSUMER error, then the end", async () => {
    let overflowed = 0;
    let detached = 0;
    const s = new Subscriber(3, () => overflowed++);
    s.detach = () => detached++;
    for (let i = 1; i <= 3; i++) s.push(event(i));
    expect(overflowed).toBe(0);
    s.push(event(4)); // the fourth unread result overflows
    expect(overflowed).toBe(1);
    expect(detached).toBe(1);
    s.push(event(5)); // ignored once ended
    const last = await s.next();
    expect(last.done).toBe(false);
    expect(last.value?.errors?.[0].extensions?.code).toBe("SLOW_CONSUMER");
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(overflowed).toBe(1);
  });

  it("a consumer that keeps up never overflows, however many results pass", async () => {
    const s = new Subscriber(2, () => {
      throw new Error("must not overflow");
    });
    for (let i = 0; i < 1000; i++) {
      s.push(event(i));
      expect((await s.next()).value).toEqual(event(i));
    }
  });

  it("return() ends it and detaches it from its group at once", async () => {
    let detached = 0;
    const s = new Subscriber(5, () => undefined);
    s.detach = () => detached++;
    const pending = s.next();
    await s.return();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(detached).toBe(1);
  });
});

/**
 * The SIEM's outbox streams as a script, served over graphql-ws as the SIEM serves them: positions in
 * order, appended by the test. A stream after a cursor announces it and yields every later position; a
 * stream from now announces `start` and skips the positions in `committedBefore` — changes committed
 * before it started that lie after its start all the same, held back by an older transaction
 * (`OutboxStart.committedBefore`), which needs two transactions held open to happen on a real database.
 */
class ScriptedSiem {
  readonly log: string[] = [];
  started = 0;
  private closed = false;
  private readonly wakers = new Set<() => void>();
  private readonly wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });

  constructor(private readonly live: { start: string; committedBefore: ReadonlySet<string> }) {
    useServer(
      {
        schema: buildSchema("type Query { ok: Boolean }"),
        onSubscribe: (_ctx, _id, payload) => ({
          schema: buildSchema("type Query { ok: Boolean }"),
          document: parse(payload.query),
          operationName: payload.operationName,
          variableValues: payload.variables,
        }),
        subscribe: (args) => this.stream((args.variableValues?._rampartAfter as string | null) ?? null),
      },
      this.wss,
    );
  }

  /** Resolves once it listens. */
  async listening(): Promise<this> {
    if (!this.wss.address()) await new Promise((resolve) => this.wss.once("listening", resolve));
    return this;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  append(...positions: string[]): void {
    this.log.push(...positions);
    for (const wake of [...this.wakers]) wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
    for (const client of this.wss.clients) client.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }

  private async *stream(after: string | null): AsyncGenerator<ExecutionResult> {
    this.started++;
    const skip = after === null ? this.live.committedBefore : new Set<string>();
    let next = after === null ? this.log.length : this.log.indexOf(after) + 1;
    yield { extensions: { [POSITION_EXTENSION]: after ?? this.live.start } };
    while (!this.closed) {
      while (next < this.log.length) {
        const cursor = this.log[next++];
        if (!skip.has(cursor))
          yield {
            data: {
              incidentChanges: {
                cursor,
                kind: "CREATED",
                incident: { number: next },
                _rampartCursor: cursor,
              },
            },
          };
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.wakers.delete(wake);
          resolve();
        };
        this.wakers.add(wake);
      });
    }
  }
}

describe("SubscriptionManager: a resumed subscription joining the live group", () => {
  const OPERATION = parse(`subscription Changes($after: String) {
    incidentChanges(after: $after) { cursor incident { number } }
  }`);
  let siem: ScriptedSiem;
  let manager: SubscriptionManager;

  /** Subscribes (from `after`, or live) and collects the cursors it receives. */
  function subscribe(after: string | null): string[] {
    const subscriber = manager.subscribe({
      document: OPERATION,
      variables: { after },
      identity: { tenantId: "t", subject: "reader", roles: [Role.READER] },
      onOverflow: () => undefined,
    });
    const cursors: string[] = [];
    void (async () => {
      for await (const result of subscriber) {
        const change = (result.data as { incidentChanges?: { cursor: string } } | null)?.incidentChanges;
        cursors.push(change?.cursor ?? JSON.stringify(result.errors));
      }
    })();
    return cursors;
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  afterEach(async () => {
    manager?.closeAll();
    await siem?.close();
  });

  it("the group that goes on is the one that streams every later change, so the seam has no gap", async () => {
    // The live stream started while C, committed already, was held back: it never streams C, which
    // lies after D. A client resuming from a1 must get D, C, E.
    siem = await new ScriptedSiem({ start: "F0", committedBefore: new Set(["C"]) }).listening();
    siem.append("a1");
    manager = createSubscriptionManager(readFileSync("gateway/supergraph.graphql", "utf8"), {
      tokens: new InternalTokens("scripted-siem-internal-secret-0123456789"),
      serviceMap: {},
      siemWsUrl: siem.url,
      log: createLogger("subscriptions-test", "silent"),
      settings: DEFAULT_SUBSCRIPTION_SETTINGS,
    });
    const live = subscribe(null);
    await until(() => siem.started === 1, "the live stream to start");
    const resumed = subscribe("a1");
    await until(() => siem.started === 2, "the replay to start");
    expect(manager.upstreamCount).toBe(2);

    // Both have served their subscribers up to D: one upstream subscription goes on for both.
    siem.append("D");
    await until(() => manager.upstreamCount === 1, "the replay and the live group to join");
    siem.append("C", "E");
    await until(() => resumed.length === 3 && live.length === 3, "C and E");
    expect(resumed).toEqual(["D", "C", "E"]);
    // The live subscriber gets C too (committed just before it subscribed): nothing twice, nothing missed.
    expect(live).toEqual(["D", "C", "E"]);
    expect(siem.started).toBe(2);
  });
});
