import { ApolloClient, gql, InMemoryCache } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient as createSseClient } from "graphql-sse";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import {
  CreateAnalyticsRuleDocument,
  IngestAlertsDocument,
  SetPlanDocument,
  UpdateIncidentDocument,
} from "./__generated__/graphql";
import { signDevToken } from "../gateway/src/auth";
import { startGateway } from "../gateway/src/server";
import { createLogger, Role, runSubgraph } from "../subgraphs/common/src";
import { siemSubgraph } from "../subgraphs/siem/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { eventually, watch, watchSse, wsClient, type Stream } from "./utils/live";
import { ingestFixture, ok, seedPaymentsKeyVault } from "./utils/seed";

const CHANGES = `subscription Changes($after: String, $filter: IncidentChangeFilter) {
  incidentChanges(after: $after, filter: $filter) { cursor kind incident { number title severity } }
}`;

type Change = { cursor: string; kind: string; incident: { number: number; title: string; severity: string } };
const changes = (s: Stream) =>
  s.results.filter((r) => r.data).map((r) => (r.data as { incidentChanges: Change }).incidentChanges);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", url))).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

describe("live subscriptions through the gateway", () => {
  let platform: TestPlatform;
  let reader: string;
  let ingestor: string;
  let hostSeq = 0;
  const clients: Client[] = [];

  /** Raises `n` alerts on new hosts: each opens a new incident (one CREATED change each). */
  async function raise(n: number, tenant = "tenant-a", severity = "MEDIUM", resourceId?: string) {
    const token = tenant === "tenant-a" ? ingestor : await platform.token([Role.INGESTOR], tenant);
    const input = Array.from({ length: n }, () => {
      const i = ++hostSeq;
      return {
        sourceId: `edr-${tenant}-${i}`,
        title: `Detection on host-${i}`,
        severity: severity as never,
        entities: [{ type: "HOST" as never, value: `host-${tenant}-${i}` }],
        resourceId,
      };
    });
    ok(await platform.request(IngestAlertsDocument, { input }, token));
  }

  /** A gateway process (dist/) on `port` in front of this platform's subgraphs; `env` overrides. */
  const spawnGateway = (port: number, env: Record<string, string>): ChildProcess =>
    spawn(process.execPath, ["dist/gateway/src/main.js"], {
      env: {
        ...process.env,
        RAMPART_ENV: "test",
        LOG_LEVEL: "silent",
        GATEWAY_PORT: String(port),
        POSTURE_URL: platform.subgraphs.posture.url,
        PROTECTION_URL: platform.subgraphs.protection.url,
        SIEM_URL: platform.subgraphs.siem.url,
        ...env,
      },
      stdio: "ignore",
    });

  const client = (url: string, token: string) => {
    const c = wsClient(url, token);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", SUBSCRIPTION_QUEUE_LIMIT: "500" });
    reader = await platform.token([Role.READER], "tenant-a", "reader@contoso.example");
    ingestor = await platform.token([Role.INGESTOR], "tenant-a");
  });
  // A test that fails midway leaves no subscription open to upset the next one's upstream counts.
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.dispose();
  });
  afterAll(async () => {
    await platform?.stop();
  });

  it("journey 4: logs → rule → incident, streamed with fields from all three subgraphs", async () => {
    const admin = await platform.token([Role.ADMIN], "tenant-a");
    const accountId = await seedPaymentsKeyVault(platform, admin);
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId, planType: "KEY_VAULT" as never, tier: "STANDARD" as never } },
        admin,
      ),
    );
    ok(await platform.request(CreateAnalyticsRuleDocument, { templateId: "logging-disabled" }, admin));

    const stream = watch(
      client(platform.gateway.url, reader),
      `subscription {
        incidentChanges {
          cursor kind changedFields occurredAt
          incident {
            number title severity status
            alerts(first: 10) { nodes { title resource { name type coverage { covered plan tier } vulnerabilities(first: 5) { totalCount } } } }
          }
        }
      }`,
    );
    await new Promise((r) => setTimeout(r, 300));
    const res = await ingestFixture(platform, ingestor, "AZURE_ACTIVITY");
    expect(res.status).toBe(200);

    type Alert = {
      title: string;
      resource: {
        name: string;
        type: string;
        coverage: { covered: boolean; plan: string; tier: string };
      } | null;
    };
    const event = await eventually(
      () =>
        stream.results
          .map(
            (r) =>
              (
                r.data as
                  { incidentChanges: { kind: string; incident: { alerts: { nodes: Alert[] } } } } | undefined
              )?.incidentChanges,
          )
          .find((c) => c?.incident.alerts.nodes.some((a) => a.resource?.name === "kv-payments-prod")),
      "an incident change whose alert resolves to the key vault",
    );
    expect(stream.results.every((r) => !r.errors)).toBe(true);
    expect(event.kind).toBe("CREATED");
    const alert = event.incident.alerts.nodes.find((a) => a.resource)!;
    expect(alert.resource).toEqual({
      name: "kv-payments-prod",
      type: "Microsoft.KeyVault/vaults",
      coverage: { covered: true, plan: "KEY_VAULT", tier: "STANDARD" },
      vulnerabilities: { totalCount: 0 },
    });
    stream.stop();
  });

  it("filters by severity, labels and kind; replays from a cursor in order", async () => {
    const all = watch(client(platform.gateway.url, reader), CHANGES);
    const high = watch(client(platform.gateway.url, reader), CHANGES, { filter: { minSeverity: "HIGH" } });
    await new Promise((r) => setTimeout(r, 300));
    await raise(2, "tenant-a", "LOW");
    await raise(1, "tenant-a", "HIGH");
    await eventually(() => changes(all).length >= 3, "three changes");
    await eventually(() => changes(high).length >= 1, "the high one");
    expect(changes(high).map((c) => c.incident.severity)).toEqual(["HIGH"]);

    // Label the first incident: an UPDATED change; a label filter sees only it.
    const labelled = watch(client(platform.gateway.url, reader), CHANGES, {
      filter: { labels: ["ransomware"], kinds: ["UPDATED"] },
    });
    await new Promise((r) => setTimeout(r, 300));
    const analyst = await platform.token([Role.ANALYST], "tenant-a");
    const first = changes(all)[0].incident.number;
    const { id: incidentId, etag } = await incidentByNumber(first);
    ok(
      await platform.request(
        UpdateIncidentDocument,
        { input: { id: incidentId, etag, labels: ["ransomware"] } },
        analyst,
      ),
    );
    await eventually(() => changes(labelled).length === 1, "the labelled change");
    expect(changes(labelled)[0]).toMatchObject({ kind: "UPDATED", incident: { number: first } });

    // Replay: from the first change's cursor, the later ones come back in the same order.
    const replay = watch(client(platform.gateway.url, reader), CHANGES, { after: changes(all)[0].cursor });
    await eventually(() => changes(replay).length >= 3, "the replay");
    // The live stream is resolved through the gateway's group and may trail the replay's read.
    await eventually(() => changes(all).length > changes(replay).length, "the live stream to catch up");
    expect(changes(replay).map((c) => c.cursor)).toEqual(
      changes(all)
        .slice(1, changes(replay).length + 1)
        .map((c) => c.cursor),
    );
    for (const s of [all, high, labelled, replay]) s.stop();
  });

  async function incidentByNumber(n: number): Promise<{ id: string; etag: string }> {
    const res = await fetch(platform.gateway.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${reader}` },
      body: JSON.stringify({ query: `{ incidents(first: 100) { nodes { id number etag } } }` }),
    });
    const body = (await res.json()) as {
      data: { incidents: { nodes: Array<{ id: string; number: number; etag: string }> } };
    };
    return body.data.incidents.nodes.find((i) => i.number === n)!;
  }

  it("keeps tenants apart and refuses callers without a reading role or with a bad cursor", async () => {
    const tenantB = watch(
      client(platform.gateway.url, await platform.token([Role.READER], "tenant-b")),
      CHANGES,
    );
    const tenantA = watch(client(platform.gateway.url, reader), CHANGES);
    await new Promise((r) => setTimeout(r, 300));
    await raise(3, "tenant-a");
    await raise(1, "tenant-b");
    await eventually(
      () => changes(tenantA).length >= 3 && changes(tenantB).length >= 1,
      "both tenants' changes",
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(changes(tenantB)).toHaveLength(1);
    expect(changes(tenantB)[0].incident.title).toMatch(/^Detection on host-/);
    expect(
      changes(tenantA).some(
        (c) =>
          c.incident.number === changes(tenantB)[0].incident.number &&
          c.incident.title === changes(tenantB)[0].incident.title,
      ),
    ).toBe(false);

    const ingestOnly = watch(client(platform.gateway.url, ingestor), CHANGES);
    await eventually(() => ingestOnly.completed, "the INGESTOR's subscription to end");
    expect(ingestOnly.error ?? ingestOnly.results[0]?.errors).toBeDefined();
    const errors = (
      Array.isArray(ingestOnly.error) ? ingestOnly.error : ingestOnly.results[0]?.errors
    ) as Array<{ extensions?: { code?: string } }>;
    expect(errors[0].extensions?.code).toBe("FORBIDDEN");

    const bad = watch(client(platform.gateway.url, reader), CHANGES, { after: "not-a-cursor" });
    await eventually(() => bad.completed, "the bad cursor's subscription to end");
    const badErrors = (Array.isArray(bad.error) ? bad.error : bad.results[0]?.errors) as Array<{
      extensions?: { code?: string };
    }>;
    expect(badErrors[0].extensions?.code).toBe("BAD_USER_INPUT");

    const anonymous = createClient({
      url: platform.gateway.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    clients.push(anonymous);
    const refused = watch(anonymous, CHANGES);
    await eventually(() => refused.completed, "the anonymous connection to be refused");
    expect((refused.error as { code?: number }).code).toBe(4403);
    tenantA.stop();
    tenantB.stop();
  });

  it("100 identical subscribers share one upstream subscription and one resolution per event; one that never reads delays no one", async () => {
    const siem = platform.subgraphs.siem.url;
    const before = await metric(siem, "rampart_siem_subscriptions_started_total");
    const c = client(platform.gateway.url, reader);
    const streams = Array.from({ length: 100 }, () => watch(c, CHANGES, { filter: { minSeverity: "LOW" } }));
    // A raw client that subscribes and then stops reading its socket.
    const stalled = new WebSocket(platform.gateway.url.replace(/^http/, "ws"), "graphql-transport-ws");
    await new Promise((r) => stalled.once("open", r));
    stalled.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${reader}` } }));
    await new Promise((r) => stalled.once("message", r));
    stalled.send(
      JSON.stringify({
        id: "1",
        type: "subscribe",
        payload: { query: CHANGES, variables: { filter: { minSeverity: "LOW" } } },
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
    await new Promise((r) => setTimeout(r, 300));
    expect((await metric(siem, "rampart_siem_subscriptions_started_total")) - before).toBe(1);
    // The same operation with other roles is another group: the rest of each event is fetched with
    // the subscriber's own roles, so no one sees what their roles do not allow.
    const analyst = watch(
      client(platform.gateway.url, await platform.token([Role.ANALYST], "tenant-a")),
      CHANGES,
      {
        filter: { minSeverity: "LOW" },
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect((await metric(siem, "rampart_siem_subscriptions_started_total")) - before).toBe(2);
    analyst.stop();
    const gatewayMetric = (name: string) => metric(platform.gateway.url, name);
    for (let i = 0; (await gatewayMetric("rampart_gateway_upstream_subscriptions")) !== 1; i++) {
      if (i > 400) throw new Error("the ANALYST group did not close");
      await new Promise((r) => setTimeout(r, 25));
    }

    const resolvedBefore = await gatewayMetric("rampart_gateway_subscription_events_total");
    await raise(120);
    await eventually(
      () => streams.every((s) => changes(s).length >= 120),
      "every reading subscriber to get all 120",
    );
    // Each event was resolved (the rest of the plan run against posture and protection) once for
    // the group, not once per subscriber.
    expect((await gatewayMetric("rampart_gateway_subscription_events_total")) - resolvedBefore).toBe(120);
    for (const s of streams)
      expect(changes(s).map((x) => x.incident.number)).toEqual(
        changes(streams[0]).map((x) => x.incident.number),
      );
    // The stalled socket's events sit in its own queue and kernel buffers; the others were served in
    // full meanwhile. (What happens when its queue overflows is tested in gateway/src/subscriptions.test.ts.)
    for (const s of streams) s.stop();
    stalled.terminate();
  });

  it("two gateways on two SIEM replicas: a client resumes by cursor after its gateway is killed, no gap, no duplicate", async () => {
    // A second SIEM process on the same database: gateway A (a child process) uses it, gateway B the
    // first. Changes are written through gateway B, so A only sees them through SIEM 2's LISTEN.
    const siemPort = await freePort();
    const siem2 = spawn(process.execPath, ["dist/subgraphs/siem/src/main.js"], {
      env: {
        ...process.env,
        RAMPART_ENV: "test",
        LOG_LEVEL: "silent",
        DATABASE_URL: platform.db.url,
        DB_ROLE_PREFIX: platform.db.rolePrefix,
        DB_POOL_SIZE: "5",
        JOBS_ENABLED: "false",
        SIEM_PORT: String(siemPort),
      },
      stdio: "ignore",
    });
    const siem2Url = `http://127.0.0.1:${siemPort}/graphql`;
    const port = await freePort();
    let child: ChildProcess | undefined = spawnGateway(port, { SIEM_URL: siem2Url });
    try {
      await waitHealthy(siem2Url);
      const urlA = `http://127.0.0.1:${port}/graphql`;
      await waitHealthy(urlA);
      const onA = watch(client(urlA, reader), CHANGES);
      // Live from now on (no cursor): the changes are raised once SIEM 2 serves the subscription, not before.
      for (let i = 0; (await metric(siem2Url, "rampart_siem_subscriptions_started_total")) < 1; i++) {
        if (i > 800) throw new Error("SIEM 2 never started the subscription");
        await new Promise((r) => setTimeout(r, 25));
      }
      // … and has read its starting position, which its first read after that does.
      await new Promise((r) => setTimeout(r, 300));
      await raise(10);
      await eventually(() => changes(onA).length >= 10, "ten changes on gateway A");
      child.kill("SIGKILL");
      await new Promise((r) => child!.once("exit", r));
      child = undefined;
      await raise(10); // while the client is between gateways
      const last = changes(onA).at(-1)!.cursor;
      const onB = watch(client(platform.gateway.url, reader), CHANGES, { after: last });
      await raise(5);
      await eventually(() => changes(onB).length >= 15, "fifteen more on gateway B");
      const numbers = [...changes(onA), ...changes(onB)].map((c) => c.incident.number);
      expect(new Set(numbers).size).toBe(numbers.length);
      expect(numbers).toEqual(Array.from({ length: 25 }, (_, i) => numbers[0] + i));
      onB.stop();
    } finally {
      child?.kill("SIGKILL");
      siem2.kill("SIGKILL");
    }
  });

  it("closes subscriptions with code 1001 when a gateway shuts down, so clients resume by cursor", async () => {
    const gateway = await startGateway(platform.config, createLogger("gateway-3", "silent"), {
      port: 0,
      subgraphUrls: {
        posture: platform.subgraphs.posture.url,
        protection: platform.subgraphs.protection.url,
        siem: platform.subgraphs.siem.url,
      },
    });
    const stream = watch(client(gateway.url, reader), CHANGES);
    await new Promise((r) => setTimeout(r, 300));
    await raise(1);
    await eventually(() => changes(stream).length === 1, "one change");
    await gateway.close();
    await eventually(() => stream.completed, "the subscription to end");
    expect((stream.error as { code?: number }).code).toBe(1001);
  });

  it("pings every client: one that stops answering is dropped and its subscription ends, the others go on", async () => {
    const gateway = await startGateway(
      { ...platform.config, subscriptionKeepAliveMs: 200 },
      createLogger("gateway-keepalive", "silent"),
      {
        port: 0,
        subgraphUrls: {
          posture: platform.subgraphs.posture.url,
          protection: platform.subgraphs.protection.url,
          siem: platform.subgraphs.siem.url,
        },
      },
    );
    // Client subscriptions open in this process (the gauge is shared by the gateways of the test).
    const subscribers = () => metric(gateway.url, "rampart_gateway_subscribers");
    const until = async (check: (n: number) => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!check(await subscribers())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      const base = await subscribers();
      const alive = watch(client(gateway.url, reader), CHANGES);
      // A peer that never answers pings (its WebSocket library's automatic pong is off).
      const silent = new WebSocket(gateway.url.replace(/^http/, "ws"), "graphql-transport-ws", {
        autoPong: false,
      });
      await new Promise((r) => silent.once("open", r));
      silent.send(
        JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${reader}` } }),
      );
      await new Promise((r) => silent.once("message", r));
      silent.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: CHANGES } }));
      const pinged = new Promise<void>((r) => silent.once("ping", () => r()));
      const closed = new Promise<number>((r) => silent.once("close", (code) => r(code)));
      await until((n) => n === base + 2, "both subscriptions");
      await pinged;
      expect(await closed).toBe(1006); // terminated: no closing handshake for a dead peer
      await until((n) => n === base + 1, "the silent peer's subscription to end");
      await raise(2);
      await eventually(() => changes(alive).length === 2, "the answering client's changes");
      // Several ping intervals later it is still subscribed.
      await new Promise((r) => setTimeout(r, 700));
      await raise(1);
      await eventually(() => changes(alive).length === 3, "a change after several pings");
      expect(alive.completed).toBe(false);
      alive.stop();
    } finally {
      await gateway.close();
    }
  });

  it("reloads the supergraph on SIGHUP: unchanged or unloadable changes nothing; a new one closes with 1012 and clients resume", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "rampart-supergraph-"));
    const file = path.join(dir, "supergraph.graphql");
    const original = readFileSync("gateway/supergraph.graphql", "utf8");
    const described = '"""One change to an incident, in the order the changes were committed."""';
    expect(original.split(described)).toHaveLength(2);
    writeFileSync(file, original);
    const port = await freePort();
    let child: ChildProcess | undefined = spawnGateway(port, { SUPERGRAPH_PATH: file });
    const url = `http://127.0.0.1:${port}/graphql`;
    const reloads = (outcome: string) =>
      metric(url, `rampart_gateway_supergraph_reloads_total{outcome="${outcome}"}`);
    const reload = async (outcome: string) => {
      const before = await reloads(outcome);
      child!.kill("SIGHUP");
      const deadline = Date.now() + 10_000;
      while ((await reloads(outcome)) === before) {
        if (Date.now() > deadline) throw new Error(`no ${outcome} reload`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    let sse: ReturnType<typeof watchSse> | undefined;
    try {
      await waitHealthy(url);
      const stream = watch(client(url, reader), CHANGES);
      sse = watchSse(url, reader, CHANGES);
      const viaSse = sse.results;
      await new Promise((r) => setTimeout(r, 500));
      await raise(2);
      await eventually(() => changes(stream).length === 2 && viaSse.length === 2, "two changes on both");

      // The same file, then one that does not load: refused, both streams go on.
      await reload("unchanged");
      writeFileSync(file, original.slice(0, original.length / 2));
      await reload("refused");
      // A valid supergraph joining a subgraph this gateway has no URL for is refused too.
      writeFileSync(
        file,
        original.replace('SIEM @join__graph(name: "siem"', 'SIEM @join__graph(name: "audit"'),
      );
      await reload("refused");
      await raise(1);
      await eventually(() => changes(stream).length === 3 && viaSse.length === 3, "a third change on both");
      expect(stream.completed).toBe(false);

      // A new supergraph: WebSocket connections close with 1012, SSE streams end with SUPERGRAPH_CHANGED.
      writeFileSync(file, original.replace(described, '"""One change to an incident (reloaded)."""'));
      await reload("applied");
      await eventually(() => stream.completed, "the WebSocket subscription to close");
      expect((stream.error as { code?: number }).code).toBe(1012);
      await sse.ended;
      expect(viaSse.at(-1)?.errors?.[0]?.extensions?.code).toBe("SUPERGRAPH_CHANGED");
      const introspection = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${reader}` },
        body: JSON.stringify({ query: `{ __type(name: "IncidentChange") { description } }` }),
      });
      expect(await introspection.json()).toEqual({
        data: { __type: { description: "One change to an incident (reloaded)." } },
      });

      // Resuming from the last cursor on the new supergraph misses nothing and repeats nothing.
      await raise(2);
      const resumed = watch(client(url, reader), CHANGES, { after: changes(stream).at(-1)!.cursor });
      await raise(1);
      await eventually(() => changes(resumed).length >= 3, "the three changes since the reload");
      const numbers = [...changes(stream), ...changes(resumed)].map((c) => c.incident.number);
      expect(numbers).toEqual(Array.from({ length: 6 }, (_, i) => numbers[0] + i));
      resumed.stop();
    } finally {
      sse?.dispose();
      child?.kill("SIGKILL");
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("survives a SIEM restart: the gateway resubscribes from its last cursor, clients see nothing", async () => {
    const stream = watch(client(platform.gateway.url, reader), CHANGES);
    await new Promise((r) => setTimeout(r, 300));
    await raise(3);
    await eventually(() => changes(stream).length >= 3, "three changes");
    const port = platform.subgraphs.siem.port;
    await platform.subgraphs.siem.close();
    const log = createLogger("siem-restarted", "silent");
    const restarted = await runSubgraph(siemSubgraph, platform.config, { port, log });
    try {
      await raise(4);
      await eventually(() => changes(stream).length >= 7, "the changes after the restart");
      const numbers = changes(stream).map((c) => c.incident.number);
      expect(numbers).toEqual(Array.from({ length: 7 }, (_, i) => numbers[0] + i));
      expect(stream.completed).toBe(false);
      stream.stop();
    } finally {
      // Hand the platform the new server so its stop() closes it.
      Object.assign(platform.subgraphs.siem, { close: () => restarted.close() });
    }
  });

  it("ends live connections when their token expires: WebSocket close 4401, SSE an UNAUTHENTICATED error", async () => {
    const shortLived = await signDevToken(platform.config.jwt.secret!, {
      subject: "reader@contoso.example",
      tenantId: "tenant-a",
      roles: [Role.READER],
      ttlSeconds: 4,
    });
    const lasting = watch(client(platform.gateway.url, reader), CHANGES);
    const expiring = watch(client(platform.gateway.url, shortLived), CHANGES);
    const sse = watchSse(platform.gateway.url, shortLived, CHANGES);
    const viaSse = sse.results;
    await new Promise((r) => setTimeout(r, 300));
    await raise(1);
    await eventually(() => changes(expiring).length === 1 && viaSse.length === 1, "a change before expiry");
    await eventually(() => expiring.completed, "the expired connection to close", 8000);
    expect((expiring.error as { code?: number }).code).toBe(4401);
    await sse.ended;
    expect(viaSse.at(-1)?.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    // A connection whose token is still valid is not touched.
    await raise(1);
    await eventually(() => changes(lasting).length === 2, "the valid connection's changes");
    expect(lasting.completed).toBe(false);
    lasting.stop();
    sse.dispose();
  });

  it("serves Apollo Client (GraphQLWsLink) and Server-Sent Events (graphql-sse)", async () => {
    const apollo = new ApolloClient({
      link: new GraphQLWsLink(wsClient(platform.gateway.url, reader)),
      cache: new InMemoryCache(),
    });
    const received: number[] = [];
    const sub = apollo
      .subscribe<{ incidentChanges: Change }>({ query: gql(CHANGES) })
      .subscribe({ next: (r) => r.data && received.push(r.data.incidentChanges.incident.number) });

    const sse = createSseClient({
      url: `${platform.gateway.url}/stream`,
      headers: { authorization: `Bearer ${reader}` },
      retryAttempts: 0,
    });
    const viaSse: number[] = [];
    const iterator = sse.iterate<{ incidentChanges: Change }>({ query: CHANGES });
    const pump = (async () => {
      for await (const r of iterator) {
        if (r.data) viaSse.push(r.data.incidentChanges.incident.number);
        if (viaSse.length >= 3) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    await raise(3);
    await eventually(() => received.length >= 3 && viaSse.length >= 3, "Apollo Client and SSE events");
    await pump;
    expect(viaSse).toEqual(received.slice(0, 3));
    sub.unsubscribe();
    sse.dispose();
    apollo.stop();

    const unauthorised = await fetch(`${platform.gateway.url}/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: CHANGES }),
    });
    expect(unauthorised.status).toBe(401);
  });
});

async function waitHealthy(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(new URL("/health", url))).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("gateway did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
}
