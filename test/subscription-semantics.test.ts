import { print } from "graphql";
import { IngestAlertsDocument } from "./__generated__/graphql";
import type { Client } from "graphql-ws";
import { createLogger, IDENTITY_HEADER, Role, runSubgraph } from "../subgraphs/common/src";
import { siemSubgraph } from "../subgraphs/siem/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { eventually, watch, watchSse, wsClient, type Stream } from "./utils/live";
import { ok } from "./utils/seed";

/**
 * What an integrator streaming incidents into ticketing relies on: nothing missed across outages,
 * nothing left running on the gateway after the client has gone.
 */

const pause = (ms = 300) => new Promise((r) => setTimeout(r, ms));

const CHANGES = `subscription Changes($after: String, $filter: IncidentChangeFilter) {
  incidentChanges(after: $after, filter: $filter) { cursor kind incident { number title severity } }
}`;

type Change = { cursor: string; kind: string; incident: { number: number; title: string; severity: string } };
const changes = (s: Stream) =>
  s.results.filter((r) => r.data).map((r) => (r.data as { incidentChanges: Change }).incidentChanges);

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", url))).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

/** Polls an asynchronous `check` every 25 ms until it holds, or fails naming `what`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(25);
  }
}

describe("live subscriptions: what an integrator relies on", () => {
  let platform: TestPlatform;
  let hostSeq = 0;
  const clients: Client[] = [];

  const client = (token: string) => {
    const c = wsClient(platform.gateway.url, token);
    clients.push(c);
    return c;
  };

  /** Alerts on new hosts (one new incident each), through the gateway or straight to a SIEM at `siemUrl`. */
  async function raise(tenant: string, titles: string[], severity: string, siemUrl?: string) {
    const input = titles.map((title) => {
      const i = ++hostSeq;
      return {
        sourceId: `semantics-${i}`,
        title,
        severity: severity as never,
        entities: [{ type: "HOST" as never, value: `semantics-host-${i}` }],
      };
    });
    if (siemUrl) {
      const token = await platform.internalToken([Role.INGESTOR], tenant);
      const res = await postGraphql<unknown>(
        `${siemUrl}/graphql`,
        { query: print(IngestAlertsDocument), variables: { input } },
        { [IDENTITY_HEADER]: token },
      );
      expect(res.errors).toBeUndefined();
      return;
    }
    ok(
      await platform.request(IngestAlertsDocument, { input }, await platform.token([Role.INGESTOR], tenant)),
    );
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
  });
  afterAll(async () => {
    for (const c of clients) await c.dispose();
    await platform?.stop();
  });

  it("an SSE client that goes away ends its subscription on the gateway and the upstream one", async () => {
    const reader = await platform.token([Role.READER], "tenant-sse-gone");
    const gateway = platform.gateway.url;
    const subscribersBefore = await metric(gateway, "rampart_gateway_subscribers");
    const upstreamBefore = await metric(gateway, "rampart_gateway_upstream_subscriptions");
    const sse = watchSse(gateway, reader, CHANGES);
    await until(
      async () => (await metric(gateway, "rampart_gateway_upstream_subscriptions")) === upstreamBefore + 1,
      "the SSE subscription to start",
    );
    // The gateway counts its upstream subscription as it opens it, and the SIEM fixes the stream's "now" a
    // moment later: an incident committed in between lies before the stream. Raise until one arrives.
    for (let attempt = 1; sse.results.length === 0; attempt++) {
      if (attempt > 20) throw new Error("no change reached the SSE client");
      await raise("tenant-sse-gone", [`S${attempt}`], "MEDIUM");
      const deadline = Date.now() + 1000;
      while (sse.results.length === 0 && Date.now() < deadline) await pause(25);
    }
    expect(await metric(gateway, "rampart_gateway_subscribers")).toBe(subscribersBefore + 1);

    sse.dispose();
    await sse.ended.catch(() => undefined);
    // The client is gone: its subscriber, and the upstream subscription no one else shares, close.
    await until(
      async () => (await metric(gateway, "rampart_gateway_subscribers")) === subscribersBefore,
      "the gone SSE client's subscription to close on the gateway",
    );
    expect(await metric(gateway, "rampart_gateway_upstream_subscriptions")).toBe(upstreamBefore);
  });

  it("a stream that has delivered nothing yet misses nothing across a SIEM outage", async () => {
    // An integrator's feed of high-severity incidents: quiet most of the time. The gateway's upstream
    // subscription for it has passed (filtered out) rows but delivered none when the SIEM goes away.
    const tenant = "tenant-quiet-outage";
    const reader = await platform.token([Role.READER], tenant);
    const high = watch(client(reader), CHANGES, { filter: { minSeverity: "HIGH" } });
    const all = watch(client(reader), CHANGES);
    await pause();
    await raise(tenant, ["Q-low-before"], "LOW");
    await eventually(() => changes(all).length === 1, "the low incident on the unfiltered stream");
    all.stop();

    // The SIEM restarts; meanwhile another SIEM replica (which this gateway does not use) records a
    // high-severity incident. The stream started before it committed: it must arrive.
    const port = platform.subgraphs.siem.port;
    await platform.subgraphs.siem.close();
    const log = createLogger("siem-replica", "silent");
    const replica = await runSubgraph(siemSubgraph, platform.config, { port: 0, log });
    try {
      await raise(tenant, ["Q-high-during-outage"], "HIGH", replica.url);
    } finally {
      await replica.close();
    }
    const restarted = await runSubgraph(siemSubgraph, platform.config, { port, log });
    Object.assign(platform.subgraphs.siem, { close: () => restarted.close() });
    await raise(tenant, ["Q-high-after"], "HIGH");
    await eventually(
      () => changes(high).some((c) => c.incident.title === "Q-high-after"),
      "the later incident",
    );
    expect(changes(high).map((c) => `${c.kind} ${c.incident.title}`)).toEqual([
      "CREATED Q-high-during-outage",
      "CREATED Q-high-after",
    ]);
    expect(high.completed).toBe(false);
    high.stop();
  });

  it("a resumed stream filters each change by the incident's state then, as a connected one did", async () => {
    const tenant = "tenant-state-at-change";
    const analyst = await platform.token([Role.ANALYST], tenant);
    const gql = async <T>(query: string, variables: object) =>
      ok(
        await postGraphql<T>(
          platform.gateway.url,
          { query, variables },
          { authorization: `Bearer ${analyst}` },
        ),
      );
    const create = (title: string) =>
      gql<{ createIncident: { id: string; etag: string } }>(
        `mutation ($t: String!) { createIncident(input: { title: $t, severity: MEDIUM }) { id etag } }`,
        { t: title },
      ).then((d) => d.createIncident);
    const open = { filter: { statuses: ["NEW", "ACTIVE"] } };

    // A connected integrator's feed of open incidents sees one created and then closed: CREATED only.
    const connected = watch(client(analyst), CHANGES, open);
    const marker = watch(client(analyst), CHANGES);
    await pause();
    await create("S-marker");
    await eventually(() => changes(marker)[0], "the marker's change");
    const cursor = changes(marker)[0].cursor;
    marker.stop();
    const closed = await create("S-created-then-closed");
    await gql(
      `mutation ($id: ID!, $etag: String!) {
         closeIncident(input: { id: $id, etag: $etag, classification: FALSE_POSITIVE, reason: "test" }) { status } }`,
      { id: closed.id, etag: closed.etag },
    );
    await create("S-end");
    await eventually(() => changes(connected).some((c) => c.incident.title === "S-end"), "the connected end");

    // One that was away resumes from the marker's cursor: the same changes, although the incident is closed now.
    const resumed = watch(client(analyst), CHANGES, { ...open, after: cursor });
    await eventually(() => changes(resumed).some((c) => c.incident.title === "S-end"), "the resumed end");
    const seen = (s: Stream) =>
      changes(s)
        .filter((c) => c.incident.title !== "S-marker")
        .map((c) => `${c.kind} ${c.incident.title}`);
    expect(seen(resumed)).toEqual(["CREATED S-created-then-closed", "CREATED S-end"]);
    expect(seen(resumed)).toEqual(seen(connected));
    connected.stop();
    resumed.stop();
  });

  it("refuses, as BAD_USER_INPUT, a cursor of the right form that no stream ever gave", async () => {
    const tenant = "tenant-forged-cursor";
    const reader = await platform.token([Role.READER], tenant);
    const cursor = (text: string) => Buffer.from(text).toString("base64url");
    const codes: Array<string | undefined> = [];
    for (const forged of [
      // Past the positions the database can hold.
      cursor("o1:1:99999999999999999999"),
      cursor("o1:99999999999999999999:1"),
      // A position no transaction has reached yet: the stream would wait there, silently, for ever.
      cursor("o1:18446744073709551615:1"),
    ]) {
      const stream = watch(client(reader), CHANGES, { after: forged });
      await eventually(() => stream.completed, "the forged cursor's subscription to end");
      const errors = (Array.isArray(stream.error) ? stream.error : stream.results[0]?.errors) as
        Array<{ extensions?: { code?: string } }> | undefined;
      codes.push(errors?.[0]?.extensions?.code);
    }
    expect(codes).toEqual(["BAD_USER_INPUT", "BAD_USER_INPUT", "BAD_USER_INPUT"]);

    // A real cursor still resumes.
    const live = watch(client(reader), CHANGES);
    await pause();
    await raise(tenant, ["F1", "F2"], "LOW");
    await eventually(() => changes(live).length === 2, "two changes");
    live.stop();
    const resumed = watch(client(reader), CHANGES, { after: changes(live)[0].cursor });
    await eventually(() => changes(resumed).length === 1, "the change after the cursor");
    expect(changes(resumed)[0].incident.title).toBe("F2");
    resumed.stop();
  });
});
