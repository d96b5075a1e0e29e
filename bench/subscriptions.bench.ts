/**
 * P3: incident → subscriber latency through the gateway with a federated payload (SIEM incident,
 * posture resource, protection coverage), for 1,000 subscribers of one operation on one gateway,
 * against the same events with one subscriber in the same run (the baseline). Also counts the
 * upstream subscriptions the SIEM saw and the delivery rate of a burst. Writes its section of
 * bench/RESULTS.md.
 *
 *   npm run bench:subscriptions      (BENCH_SUBSCRIBERS=1000, BENCH_EVENTS=100, BENCH_BURST=100)
 */
import "./lib/production-mode"; // first: before graphql-js loads
import "reflect-metadata";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { Role } from "../subgraphs/common/src";
import type { TestPlatform } from "../test/utils/platform";
import { runInProcessBench } from "./lib/in-process";
import { percentile } from "./lib/stats";
import { writeResultsSection } from "./lib/results";

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100);
const BURST = Number(process.env.BENCH_BURST ?? 100);
const PACE_MS = 50;
const TENANT = "bench-live";
const ROOT = path.resolve(__dirname, "..", "..");

const QUERY = `subscription {
  incidentChanges(filter: { kinds: [CREATED] }) {
    cursor kind occurredAt
    incident {
      number title severity status
      alerts(first: 5) { nodes { title resource { name type coverage { covered tier } } } }
    }
  }
}`;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", url))).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

interface Phase {
  subscribers: number;
  upstream: number;
  /** ms from the mutation's commit (its response) to each delivery, all subscribers, all events. */
  latencies: number[];
  /** ms from sending the mutation to each delivery. */
  fromSend: number[];
  missing: number;
  burstDeliveriesPerSecond: number;
  burstMs: number;
}

async function runPhase(
  platform: TestPlatform,
  count: number,
  resourceIds: string[],
  label: string,
): Promise<Phase> {
  const reader = await platform.token([Role.READER], TENANT);
  const ingestor = await platform.token([Role.INGESTOR], TENANT);
  const siem = platform.subgraphs.siem.url;
  const startedBefore = await metric(siem, "rampart_siem_subscriptions_started_total");
  const worker = new Worker(path.join(__dirname, "lib", "subscribers-worker.js"), {
    workerData: { url: platform.gateway.url.replace(/^http/, "ws"), token: reader, count, query: QUERY },
  });
  const ask = <T>(message: string) =>
    new Promise<T>((resolve) => {
      worker.once("message", resolve);
      worker.postMessage(message);
    });
  try {
    for (let waited = 0; ; waited += 100) {
      const { connected } = await ask<{ connected: number }>("status");
      if (connected === count) break;
      if (waited > 60_000) throw new Error(`only ${connected} of ${count} subscribers connected`);
      await sleep(100);
    }
    await sleep(1500); // every subscribe message acknowledged and the upstream subscription open
    const upstream = (await metric(siem, "rampart_siem_subscriptions_started_total")) - startedBefore;

    const sent = new Map<string, { at: number; committed: number }>();
    let seq = 0;
    const raise = async (n: number) => {
      const titles = Array.from({ length: n }, () => `${label}-${++seq}`);
      const at = now();
      await gql(
        platform.gateway.url,
        ingestor,
        `mutation($input: [AlertInput!]!) { ingestAlerts(input: $input) { createdCount } }`,
        {
          input: titles.map((title) => ({
            sourceId: title,
            title,
            severity: "HIGH",
            resourceId: resourceIds[seq - n + titles.indexOf(title)],
            entities: [{ type: "HOST", value: `host-${title}` }],
          })),
        },
      );
      const committed = now();
      for (const title of titles) sent.set(title, { at, committed });
    };
    for (let i = 0; i < EVENTS; i++) {
      await raise(1);
      await sleep(PACE_MS);
    }
    const paced = new Set(sent.keys());
    const burstStart = now();
    await raise(BURST);
    const expected = sent.size * count;
    let report: { received: Array<[string, number[]]>; errors: number } = { received: [], errors: 0 };
    for (let waited = 0; waited < 30_000; waited += 250) {
      report = await ask("report");
      const got = report.received.reduce((n, [, times]) => n + times.length, 0);
      if (got >= expected) break;
      await sleep(250);
    }
    if (report.errors)
      console.warn(
        `${label}: ${report.errors} errors, first: ${(report as { firstError?: string }).firstError}`,
      );
    const latencies: number[] = [];
    const fromSend: number[] = [];
    let missing = 0;
    let burstLast = burstStart;
    let burstDeliveries = 0;
    const byTitle = new Map(report.received);
    for (const [title, { at, committed }] of sent) {
      const times = byTitle.get(title) ?? [];
      missing += count - times.length;
      if (paced.has(title)) {
        for (const t of times) {
          latencies.push(t - committed);
          fromSend.push(t - at);
        }
      } else {
        burstDeliveries += times.length;
        for (const t of times) burstLast = Math.max(burstLast, t);
      }
    }
    latencies.sort((a, b) => a - b);
    fromSend.sort((a, b) => a - b);
    const burstMs = burstLast - burstStart;
    return {
      subscribers: count,
      upstream,
      latencies,
      fromSend,
      missing,
      burstMs,
      burstDeliveriesPerSecond: burstDeliveries / (burstMs / 1000),
    };
  } finally {
    await ask("close");
    await worker.terminate();
  }
}

const ms = (v: number) => v.toFixed(1);

runInProcessBench(
  "live",
  {
    SUBSCRIPTION_QUEUE_LIMIT: String(Math.max(1000, BURST * 4)),
    // Every subscriber connects with the one bench token: past the default per-user limit otherwise.
    LIVE_CONNECTIONS_PER_USER: String(SUBSCRIBERS + 1),
    LIVE_CONNECTIONS_PER_TENANT: String(SUBSCRIBERS + 1),
  },
  async (platform) => {
    const admin = await platform.token([Role.ADMIN], TENANT);
    const { upsertCloudAccounts } = await gql<{ upsertCloudAccounts: Array<{ id: string }> }>(
      platform.gateway.url,
      admin,
      `mutation($input: [CloudAccountInput!]!) { upsertCloudAccounts(input: $input) { id } }`,
      { input: [{ provider: "AZURE", externalId: "7d2e4c1a-0b3f-4e5d-9a8b-1c2d3e4f5a6b", name: "Bench" }] },
    );
    const accountId = upsertCloudAccounts[0].id;
    const { upsertResources } = await gql<{ upsertResources: { ids: string[] } }>(
      platform.gateway.url,
      admin,
      `mutation($input: [ResourceInput!]!) { upsertResources(input: $input) { ids } }`,
      {
        // One VM per incident (alerts on one resource would correlate into one incident).
        input: Array.from({ length: 2 * (EVENTS + BURST) }, (_, i) => ({
          accountId,
          externalId: `/subscriptions/7d2e4c1a-0b3f-4e5d-9a8b-1c2d3e4f5a6b/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-bench-${i}`,
          type: "Microsoft.Compute/virtualMachines",
          name: `vm-bench-${i}`,
        })),
      },
    );
    await gql(
      platform.gateway.url,
      admin,
      `mutation { setPlan(input: { accountId: "${accountId}", planType: SERVERS, tier: STANDARD }) { tier } }`,
    );
    const ids = upsertResources.ids;
    const baseline = await runPhase(platform, 1, ids.slice(0, EVENTS + BURST), "baseline");
    const loaded = await runPhase(platform, SUBSCRIBERS, ids.slice(EVENTS + BURST), "loaded");
    const p = (phase: Phase, q: number) => percentile(phase.latencies, q);
    const row = (name: string, phase: Phase) =>
      `| ${name} | ${phase.subscribers} | ${phase.upstream} | ${ms(p(phase, 50))} | ${ms(p(phase, 99))} | ${ms(percentile(phase.fromSend, 99))} | ${Math.round(phase.burstDeliveriesPerSecond).toLocaleString("en")} | ${phase.missing} |`;
    const p99 = p(loaded, 99);
    const markdown = `## Live subscriptions (P3)

Run ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}; gateway,
subgraphs and Postgres on this machine; the subscribers in a worker thread of the benchmark process (one
graphql-ws connection each). \`npm run bench:subscriptions\`.

### Method
One subscription operation with a federated payload (SIEM incident and alerts, posture \`resource { name type }\`,
protection \`coverage\`), ${EVENTS} incidents raised one at a time every ${PACE_MS} ms through \`ingestAlerts\`, then a
burst of ${BURST} incidents in one call. Latency = delivery to each subscriber − the mutation's response (its
commit); "from send" counts from sending the mutation. Baseline: the same with one subscriber, in the same run.
Upstream = subscriptions the SIEM opened for the phase (its \`rampart_siem_subscriptions_started_total\`).

| phase | subscribers | upstream | p50 ms | p99 ms | p99 from send ms | burst deliveries/s | missing |
|---|---|---|---|---|---|---|---|
${row("baseline", baseline)}
${row("loaded", loaded)}

p99 loaded ÷ baseline: ${(p99 / p(baseline, 99)).toFixed(2)}. Burst of ${BURST} incidents to ${SUBSCRIBERS} subscribers: ${ms(loaded.burstMs)} ms.

### Budget
| check | target | measured | verdict |
|---|---|---|---|
| p99 incident → subscriber, ${SUBSCRIBERS} subscribers | ≤ 100 ms | ${ms(p99)} ms | ${p99 <= 100 ? "PASS" : "FAIL"} |
| upstream subscriptions | 1 (one distinct operation) | ${loaded.upstream} | ${loaded.upstream === 1 ? "PASS" : "FAIL"} |
| every event delivered to every subscriber | 0 missing | ${loaded.missing} | ${loaded.missing === 0 ? "PASS" : "FAIL"} |
`;
    writeResultsSection(ROOT, "subscriptions", markdown);
    console.log(markdown);
  },
);
