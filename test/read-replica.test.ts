import { Client } from "pg";
import {
  IngestEventsDocument,
  ReplicaAndPrimaryReadsDocument,
  ScoreHistoryDocument,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { replicaFallbacks } from "../subgraphs/common/src/db/metrics";
import { adminUrl, createTestDatabase, type TestDatabase } from "./utils/database";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

const DEVICE = "vm-replica-01";
const hour = (ago: number) => new Date(Date.now() - ago * 3_600_000).toISOString();
const WINDOW = { from: hour(3), to: hour(-1), device: DEVICE };

/** An OCSF network activity event of DEVICE, an hour ago. */
const flow = (uid: string) => ({
  class_uid: 4001,
  activity_id: 1,
  time: hour(1),
  metadata: { uid },
  device: { hostname: DEVICE },
  src_endpoint: { ip: "10.4.2.17" },
  dst_endpoint: { ip: "198.51.100.99", port: 443 },
});

/** Fallbacks counted so far for a subgraph. */
async function fallbacks(subgraph: string): Promise<number> {
  return (await replicaFallbacks.get()).values.find((v) => v.labels.subgraph === subgraph)?.value ?? 0;
}

/** Runs `sql` as the admin connection. */
async function admin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/**
 * DATABASE_REPLICA_URL with real databases: database B is made a copy of A (a replica frozen in time, so its lag
 * is visible), then the platform runs on A with B as its replica. Events, an entity's timeline, a hunt and the
 * incident metrics see B's data while the connectors' counters (a primary read) see A's; a replica that cannot
 * be reached costs a fallback to the primary, counted, and nothing else.
 */
describe("read replica", () => {
  let primary: TestDatabase;
  let replicaName: string;
  let platform: TestPlatform | undefined;

  const start = async (replicaUrl: string) => {
    platform = await startTestPlatform(
      { JOBS_ENABLED: "false", DATABASE_REPLICA_URL: replicaUrl },
      { db: primary },
    );
    return platform;
  };
  const ingest = async (p: TestPlatform, uids: string[]) => {
    const ingestor = await p.token([Role.INGESTOR]);
    const result = ok(
      await p.request(IngestEventsDocument, { connector: "OCSF", records: uids.map(flow) }, ingestor),
    ).ingestEvents;
    expect(result).toMatchObject({ acceptedCount: uids.length, rejected: [] });
  };
  const reads = async (p: TestPlatform) => {
    const data = ok(await p.request(ReplicaAndPrimaryReadsDocument, WINDOW, await p.token([Role.ANALYST])));
    return {
      events: data.events.nodes.map((e) => e.sourceEventId).sort(),
      eventsTotal: data.events.totalCount,
      timeline: data.entity?.timeline.totalCount,
      hunt: data.runHunt.rows,
      incidentsCreated: data.incidentMetrics.createdCount,
      connectorTotal: data.dataConnectors.find((c) => c.kind === "OCSF")?.eventsTotal,
    };
  };

  beforeAll(async () => {
    primary = await createTestDatabase();
    replicaName = `${new URL(primary.url).pathname.slice(1)}_replica`;
    const first = await startTestPlatform({ JOBS_ENABLED: "false" }, { db: primary });
    try {
      await ingest(first, ["first-1", "first-2"]);
    } finally {
      await first.stop();
    }
    // A template may have no other session; the platform's connections end just after `stop()` returns.
    const name = new URL(primary.url).pathname.slice(1);
    await admin(async (c) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await c.query(`CREATE DATABASE ${replicaName} TEMPLATE ${name}`);
          return;
        } catch (err) {
          if ((err as { code?: string }).code !== "55006" || attempt === 50) throw err;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    });
  });

  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
  });

  afterAll(async () => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${replicaName} WITH (FORCE)`));
    await primary?.drop();
  });

  it("serves events, timelines, hunts and incident metrics from the replica, and the connectors from the primary", async () => {
    const replicaUrl = new URL(adminUrl());
    replicaUrl.pathname = `/${replicaName}`;
    const p = await start(replicaUrl.toString());
    await ingest(p, ["second-1"]);
    const before = await fallbacks("siem");

    expect(await reads(p)).toEqual({
      events: ["first-1", "first-2"],
      eventsTotal: 2,
      timeline: 2,
      hunt: [{ Count: 2 }],
      incidentsCreated: 0,
      connectorTotal: 3,
    });
    expect(await fallbacks("siem")).toBe(before);
    // The SIEM logs in to the replica as its own role, in a pool of its own named for the replica.
    const sessions = await admin(async (c) =>
      (
        await c.query<{ usename: string }>(
          `SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rampart-siem-replica'`,
          [replicaName],
        )
      ).rows.map((r) => r.usename),
    );
    expect(sessions).toEqual([`${primary.rolePrefix}_siem`]);
  });

  // The primary holds the second set ingested by the test above.
  it("reads from the primary, and counts it, when the replica cannot be reached", async () => {
    // Port 1 on this host: nothing listens, the connection is refused at once.
    const unreachable = new URL(adminUrl());
    unreachable.port = "1";
    const p = await start(unreachable.toString());
    const siemBefore = await fallbacks("siem");
    const postureBefore = await fallbacks("posture");

    expect(await reads(p)).toEqual({
      events: ["first-1", "first-2", "second-1"],
      eventsTotal: 3,
      timeline: 3,
      hunt: [{ Count: 3 }],
      incidentsCreated: 0,
      connectorTotal: 3,
    });
    expect(await fallbacks("siem")).toBeGreaterThan(siemBefore);

    const reader = await p.token([Role.READER]);
    expect(ok(await p.request(ScoreHistoryDocument, { from: hour(48), to: hour(0) }, reader))).toEqual({
      secureScoreHistory: [],
    });
    expect(await fallbacks("posture")).toBe(postureBefore + 1);
  });
});
