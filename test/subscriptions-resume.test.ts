import type { Client } from "graphql-ws";
import { IngestAlertsDocument } from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { eventually, watch, watchSse, wsClient, type Stream } from "./utils/live";
import { ok } from "./utils/seed";

/**
 * Clients resuming from a cursor share the upstream subscription of those that stream live: each
 * replays its backlog through an upstream subscription of its own, then joins the live group where
 * both stand at the same position, without a gap or a repeat at the seam. Upstream subscriptions
 * settle at one per distinct operation (P3), however many clients come back.
 */

const CHANGES = `subscription Changes($after: String, $filter: IncidentChangeFilter) {
  incidentChanges(after: $after, filter: $filter) { cursor kind incident { number title severity } }
}`;

type Change = { cursor: string; kind: string; incident: { number: number; title: string; severity: string } };
const changes = (s: Pick<Stream, "results">) =>
  s.results.filter((r) => r.data).map((r) => (r.data as { incidentChanges: Change }).incidentChanges);
const cursors = (s: Pick<Stream, "results">) => changes(s).map((c) => c.cursor);

describe("resumed subscriptions share the live upstream subscription", () => {
  let platform: TestPlatform;
  let hostSeq = 0;
  const clients: Client[] = [];
  const disposers: Array<() => void> = [];

  const client = (token: string) => {
    const c = wsClient(platform.gateway.url, token);
    clients.push(c);
    return c;
  };

  /** Raises one alert per severity on new hosts: each opens an incident (a CREATED change). Returns the titles. */
  async function raise(tenant: string, severities: string[]): Promise<string[]> {
    const input = severities.map((severity) => {
      const i = ++hostSeq;
      return {
        sourceId: `resume-${i}`,
        title: `Resume ${i}`,
        severity: severity as never,
        entities: [{ type: "HOST" as never, value: `resume-host-${i}` }],
      };
    });
    ok(
      await platform.request(IngestAlertsDocument, { input }, await platform.token([Role.INGESTOR], tenant)),
    );
    return input.map((i) => i.title);
  }

  /** Waits until `stream` has received the change of the incident titled `title`. */
  const received = (stream: Pick<Stream, "results">, title: string | undefined) =>
    eventually(() => changes(stream).some((c) => c.incident.title === title), `the change of ${title}`);

  /** The numbers of the tenant's incidents of `severity`, in order. */
  async function incidentNumbers(token: string, severity: string): Promise<number[]> {
    const res = await fetch(platform.gateway.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ incidents(first: 100) { nodes { number severity } } }` }),
    });
    const body = (await res.json()) as {
      data: { incidents: { nodes: Array<{ number: number; severity: string }> } };
    };
    return body.data.incidents.nodes
      .filter((i) => i.severity === severity)
      .map((i) => i.number)
      .sort((a, b) => a - b);
  }

  /** Raises one change at a time until `stream` gets one: it has taken its start position. */
  async function streaming(stream: Stream, tenant: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await raise(tenant, ["HIGH"]);
      try {
        await eventually(() => changes(stream).length > 0, "a first change", 3000);
        return;
      } catch (err) {
        if (attempt === 10) throw err;
      }
    }
  }

  async function metric(url: string, name: string): Promise<number> {
    const text = await (await fetch(new URL("/metrics", url))).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  }
  const upstream = () => metric(platform.gateway.url, "rampart_gateway_upstream_subscriptions");
  const siemActive = () => metric(platform.subgraphs.siem.url, "rampart_siem_subscriptions_active");
  const siemStarted = () => metric(platform.subgraphs.siem.url, "rampart_siem_subscriptions_started_total");

  /** Polls an asynchronous `check` every 25 ms until it holds, or fails naming `what`. */
  async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
  });
  afterEach(async () => {
    for (const dispose of disposers.splice(0)) dispose();
    for (const c of clients.splice(0)) await c.dispose();
    await until(async () => (await upstream()) === 0, "every upstream subscription to close");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  it("clients resuming from different cursors each get exactly their missed changes, then the live ones, on one upstream subscription", async () => {
    const tenant = "tenant-resume";
    const reader = await platform.token([Role.READER], tenant);
    const live = watch(client(reader), CHANGES);
    await streaming(live, tenant);
    const backlog = await raise(
      tenant,
      Array.from({ length: 60 }, () => "MEDIUM"),
    );
    await received(live, backlog.at(-1));
    expect(await upstream()).toBe(1);
    const startedBefore = await siemStarted();
    const activeBefore = await siemActive();

    // Five clients were away since different changes: four over WebSocket (two on one connection), one
    // over SSE.
    const at = cursors(live);
    const from = [0, 7, 20, 33, at.length - 1];
    const shared = client(reader);
    const resumed: Array<Pick<Stream, "results">> = from
      .slice(0, 4)
      .map((i, n) => watch(n < 2 ? shared : client(reader), CHANGES, { after: at[i] }));
    const sse = watchSse(platform.gateway.url, reader, CHANGES, { after: at[from[4]] });
    disposers.push(sse.dispose);
    resumed.push(sse);
    // Changes keep committing while they replay.
    let later: string[] = [];
    for (let i = 0; i < 4; i++) later = await raise(tenant, ["LOW", "MEDIUM"]);
    await received(live, later.at(-1));

    const all = cursors(live);
    await eventually(
      () => resumed.every((s) => cursors(s).at(-1) === all.at(-1)),
      "every resumed client to reach the latest change",
    );
    // Each got every change after its cursor, in order, once; then the live ones.
    resumed.forEach((s, n) => expect(cursors(s)).toEqual(all.slice(from[n] + 1)));
    // Their replays joined the live group: one upstream subscription again, here and at the SIEM.
    await until(async () => (await upstream()) === 1, "the replays to join the live upstream subscription");
    await until(async () => (await siemActive()) === activeBefore, "the SIEM's replay streams to close");
    expect((await siemStarted()) - startedBefore).toBe(from.length);

    // A client back right after the latest change joins at once, without a replay of its own.
    const latest = watch(client(reader), CHANGES, { after: all.at(-1) });
    const newest = await raise(tenant, ["HIGH", "LOW"]);
    for (const s of [live, ...resumed, latest]) await received(s, newest.at(-1));
    expect(cursors(live)).toHaveLength(all.length + 2);
    expect(cursors(latest)).toEqual(cursors(live).slice(all.length));
    resumed.forEach((s, n) => expect(cursors(s)).toEqual(cursors(live).slice(from[n] + 1)));
    expect((await siemStarted()) - startedBefore).toBe(from.length);
    expect(await upstream()).toBe(1);
  });

  it("a filtered client resuming while no one streams live joins the live group opened after it, its cursor written in the operation", async () => {
    const tenant = "tenant-resume-first";
    const reader = await platform.token([Role.READER], tenant);
    // The cursor as a literal: the operation is the live one's but for it.
    const high = (after?: string) =>
      `subscription { incidentChanges(${after ? `after: "${after}", ` : ""}filter: { minSeverity: HIGH }) {
        cursor kind incident { number title severity } } }`;
    const first = watch(client(reader), high());
    await streaming(first, tenant);
    await raise(tenant, ["LOW", "HIGH", "LOW"]);
    await eventually(() => changes(first).length === 2, "the high changes");
    const cursor = changes(first)[1].cursor;
    first.stop();
    await until(async () => (await upstream()) === 0, "the first stream to close");

    // Away: changes of both severities commit, then the client resumes while no one streams live.
    await raise(tenant, ["HIGH", "LOW", "HIGH", "LOW"]);
    const startedBefore = await siemStarted();
    const resumed = watch(client(reader), high(cursor));
    await eventually(() => changes(resumed).length === 2, "the missed high changes");
    // Someone subscribes live: a live group of its own, until the replay reaches it.
    const live = watch(client(reader), high());
    await streaming(live, tenant);
    const [, later] = await raise(tenant, ["LOW", "HIGH", "LOW"]);
    await received(live, later);
    await received(resumed, later);
    await until(async () => (await upstream()) === 1, "the replay to join the live upstream subscription");
    expect((await siemStarted()) - startedBefore).toBe(2);

    // From the resumed client's cursor: every high incident since, once, in order, across the join.
    const since = changes(first)[1].incident.number;
    const missed = (await incidentNumbers(reader, "HIGH")).filter((n) => n > since);
    expect(changes(resumed).map((c) => c.incident.number)).toEqual(missed);
    expect(cursors(resumed).slice(-cursors(live).length)).toEqual(cursors(live));
  });
});
