import WebSocket from "ws";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

/**
 * What a client sends to start a subscription, over WebSocket (graphql-ws) and Server-Sent Events: variables
 * nested past the gateway's limit are refused as they are over HTTP, naming the variable; variables the
 * operation does not declare are dropped, so they neither reach the SIEM nor split the upstream
 * subscription that identical operations share.
 */

const OPERATION = "subscription Changes($f: IncidentChangeFilter) { incidentChanges(filter: $f) { cursor } }";
const DEEP_ERROR = {
  message: "Variable $f is nested deeper than 2000 levels, the most accepted.",
  code: "BAD_USER_INPUT",
};

/** `{"a":{"a":…}}` nested `n` levels, as JSON text (JSON.stringify would recurse too deep to build it). */
const deepText = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

async function upstreamStarted(siemUrl: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", siemUrl))).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("rampart_siem_subscriptions_started_total"))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

describe("subscription start: variables", () => {
  let platform: TestPlatform;
  let reader: string;
  const sockets: WebSocket[] = [];

  /** Opens a graphql-ws connection and sends one `subscribe` whose payload is `payload` (JSON text). */
  async function subscribe(payload: string): Promise<{ socket: WebSocket; first: Promise<unknown> }> {
    const socket = new WebSocket(platform.gateway.url.replace(/^http/, "ws"), "graphql-transport-ws");
    sockets.push(socket);
    await new Promise((r) => socket.once("open", r));
    socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${reader}` } }));
    await new Promise((r) => socket.once("message", r));
    const first = new Promise((resolve) => socket.once("message", (m) => resolve(JSON.parse(m.toString()))));
    socket.send(`{"id":"1","type":"subscribe","payload":${payload}}`);
    return { socket, first };
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", SUBSCRIPTIONS_PER_CONNECTION: "3" });
    reader = await platform.token([Role.READER], "tenant-vars");
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await platform?.stop();
  });

  it("refuses a declared variable nested past the limit over WebSocket and SSE, and SSE gets every refusal as itself", async () => {
    const payload = `{"query":"${OPERATION}","variables":{"f":${deepText(5000)}}}`;
    const { first } = await subscribe(payload);
    const message = (await first) as {
      type: string;
      payload: Array<{ message: string; extensions: { code: string } }>;
    };
    expect(message.type).toBe("error");
    expect(message.payload.map((e) => ({ message: e.message, code: e.extensions.code }))).toEqual([
      DEEP_ERROR,
    ]);

    const sse = await fetch(new URL("/graphql/stream", platform.gateway.url), {
      method: "POST",
      headers: {
        authorization: `Bearer ${reader}`,
        "content-type": "application/json",
        accept: "text/event-stream",
      },
      body: payload,
    });
    const text = await sse.text();
    expect(text).toContain(DEEP_ERROR.message);
    expect(text).not.toContain("RangeError");

    // Every refusal reaches an SSE client as itself (graphql-sse took them for execution arguments before).
    for (const [body, expected] of [
      [
        { query: "{ __typename }" },
        "Only subscriptions are served here; send queries and mutations to POST /graphql.",
      ],
      [{ query: "subscription { nope }" }, 'Cannot query field "nope" on type "Subscription".'],
      [
        { query: "subscription a { incidentChanges { cursor } } subscription b { alertCreated { cursor } }" },
        "Name the operation to run (`operationName`).",
      ],
    ] as const) {
      const answer = await fetch(new URL("/graphql/stream", platform.gateway.url), {
        method: "POST",
        headers: {
          authorization: `Bearer ${reader}`,
          "content-type": "application/json",
          accept: "text/event-stream",
        },
        body: JSON.stringify(body),
      });
      expect(await answer.text()).toContain(JSON.stringify(expected).slice(1, -1));
    }

    const health = await fetch(new URL("/health", platform.gateway.url));
    expect(health.status).toBe(200);
  });

  it("serves SSE as one authenticated stream per subscription: no stream can be reserved, with or without a token", async () => {
    const stream = new URL("/graphql/stream", platform.gateway.url);
    for (const headers of [{}, { authorization: `Bearer ${reader}` }] as Array<Record<string, string>>) {
      const put = await fetch(stream, { method: "PUT", headers });
      expect(put.status).toBe(405);
      expect(
        ((await put.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code,
      ).toBe("BAD_USER_INPUT");
    }
    // An operation for a reserved stream finds none.
    const op = await fetch(stream, {
      method: "POST",
      headers: {
        authorization: `Bearer ${reader}`,
        "content-type": "application/json",
        "x-graphql-event-stream-token": "guessed",
      },
      body: JSON.stringify({ query: OPERATION, extensions: { operationId: "1" } }),
    });
    expect(op.status).toBe(404);
  });

  it("holds at most SUBSCRIPTIONS_PER_CONNECTION subscriptions on one WebSocket; completing one makes room", async () => {
    const socket = new WebSocket(platform.gateway.url.replace(/^http/, "ws"), "graphql-transport-ws");
    sockets.push(socket);
    const messages: Array<{ id?: string; type: string; payload?: unknown }> = [];
    socket.on("message", (m) => messages.push(JSON.parse(m.toString())));
    await new Promise((r) => socket.once("open", r));
    socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${reader}` } }));
    await new Promise((r) => socket.once("message", r));
    const start = (id: string) =>
      socket.send(JSON.stringify({ id, type: "subscribe", payload: { query: OPERATION } }));
    const of = (id: string) =>
      messages
        .filter((m) => m.id === id)
        .map((m) =>
          m.type === "next"
            ? (m.payload as { errors?: Array<{ extensions: { code: string } }> }).errors?.[0]?.extensions.code
            : m.type,
        );
    // Waits until `id` has been answered with `complete` (a refusal ends with it), however slow the machine.
    const completed = async (id: string) => {
      for (const deadline = Date.now() + 15_000; !of(id).includes("complete");) {
        if (Date.now() > deadline) throw new Error(`no complete for ${id}: ${JSON.stringify(messages)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    for (const id of ["1", "2", "3", "4"]) start(id);
    await completed("4");
    expect(["1", "2", "3", "4"].map(of)).toEqual([[], [], [], ["RATE_LIMITED", "complete"]]);
    socket.send(JSON.stringify({ id: "1", type: "complete" }));
    // The gateway handles a socket's messages concurrently: give the completion time to free its place.
    await new Promise((r) => setTimeout(r, 400));
    start("5");
    start("6");
    await completed("6");
    expect(["5", "6"].map(of)).toEqual([[], ["RATE_LIMITED", "complete"]]);
  });

  it("drops undeclared variables: a deep one is ignored, and junk ones share the upstream subscription", async () => {
    const siem = platform.subgraphs.siem.url;
    const before = await upstreamStarted(siem);
    const plain = await subscribe(
      JSON.stringify({ query: OPERATION, variables: { f: { minSeverity: "HIGH" } } }),
    );
    const other = await subscribe(
      JSON.stringify({ query: OPERATION, variables: { f: { minSeverity: "HIGH" }, other: 1 } }),
    );
    const deep = await subscribe(
      `{"query":"${OPERATION}","variables":{"f":{"minSeverity":"HIGH"},"junk":${deepText(5000)}}}`,
    );
    // None gets an answer (an error would be one): all wait for changes.
    const first = await Promise.race([
      ...[plain, other, deep].map((s, i) => s.first.then(() => `subscription ${i} answered`)),
      new Promise((r) => setTimeout(() => r("quiet"), 500)),
    ]);
    expect(first).toBe("quiet");
    expect((await upstreamStarted(siem)) - before).toBe(1);
  });
});
