import { Logger as WorkerLogger, runOnce } from "graphile-worker";
import type { DataSource } from "typeorm";
import {
  EventRetentionDocument,
  ImportStixBundleDocument,
  IncidentGraphDocument,
  IngestEventsDocument,
  RetentionEventsDocument,
  RetentionInvestigationDocument,
  SetEventRetentionDocument,
} from "./__generated__/graphql";
import { createLogger, inSystemScope, Role, subgraphDatabaseUrl } from "../subgraphs/common/src";
import { purgeExpiredEvents } from "../subgraphs/siem/src/modules/events/event-retention.service";
import { eventTasks } from "../subgraphs/siem/src/modules/events/events.tasks";
import { dayOf, ensurePartitions } from "../subgraphs/siem/src/modules/events/partitions";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

const DAY = 86_400_000;

describe("event store retention", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  const partitions = async () =>
    (
      await ds.query(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = 'events' AND p.relnamespace = 'siem'::regnamespace ORDER BY 1`,
      )
    ).map((r: { name: string }) => r.name);

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", EVENT_RETENTION_DAYS: "30" });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("creates the coming days' partitions and drops whole partitions past the retention", async () => {
    const day = (offset: number) => dayOf(new Date(Date.now() + offset * DAY));
    await ensurePartitions(ds, [day(-45), day(-31), day(-29)]);
    const log = createLogger("t", "silent");
    const tasks = eventTasks(ds, log, platform.config);
    await (tasks.events_maintenance as () => Promise<void>)();
    const names = await partitions();
    const name = (d: string) => `events_p${d.replace(/-/g, "")}`;
    expect(names).not.toContain(name(day(-45)));
    expect(names).not.toContain(name(day(-31)));
    expect(names).toContain(name(day(-29)));
    for (const d of [0, 1, 2]) expect(names).toContain(name(day(d)));
  });

  /**
   * Two tenants with the same events 20, 10 and 3 days old and of the last hour, and a threat indicator that
   * makes alerts of them: tenant A keeps 7 days, tenant B the platform's 30.
   */
  describe("a tenant's own retention", () => {
    const A = "retention-a";
    const B = "retention-b";
    const IP = "203.0.113.77";
    const AGES = [20 * DAY, 10 * DAY, 3 * DAY, 3600_000];
    let tokens: Record<
      "adminA" | "adminB" | "readerA" | "readerB" | "analystA" | "responderA" | "ingestorA" | "ingestorB",
      string
    >;
    let seq = 0;
    const now = Date.now();
    const window = { from: new Date(now - 30 * DAY).toISOString(), to: new Date(now + DAY).toISOString() };
    const codeOf = (res: GqlResponse<unknown>) => res.errors?.[0]?.extensions?.code;
    const connection = (age: number) => ({
      class_uid: 4001,
      activity_id: 1,
      metadata: { uid: `retention-${++seq}` },
      time: new Date(now - age).toISOString(),
      src_endpoint: { ip: "10.0.0.5" },
      dst_endpoint: { ip: IP, port: 443 },
      device: { hostname: "ws-017" },
    });
    const ingest = async (records: unknown[], token: string) =>
      ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records }, token)).ingestEvents;
    /** The tenant's event times of the last 30 days, as ages in whole days, oldest first. */
    const ages = async (reader: string) =>
      ok(await platform.request(RetentionEventsDocument, window, reader))
        .events.nodes.map((e) => Math.floor((now - Date.parse(e.time)) / DAY))
        .sort((a, b) => b - a);
    const investigation = async (reader: string) =>
      ok(await platform.request(RetentionInvestigationDocument, { value: IP, ...window }, reader));
    // The indicator imports' retro-matching jobs (intel_retro_match) are not the retention's business.
    const pendingJobs = () =>
      ds.query(
        `SELECT task_identifier AS task, key FROM siem_jobs.jobs WHERE task_identifier <> 'intel_retro_match' ORDER BY id`,
      ) as Promise<Array<{ task: string; key: string | null }>>;
    /** Runs every queued job of the SIEM through graphile-worker, as the SIEM's role, with small purge batches. */
    const runJobs = () =>
      runOnce({
        connectionString: subgraphDatabaseUrl(platform.config, "siem"),
        schema: "siem_jobs",
        taskList: eventTasks(ds, createLogger("t", "silent"), platform.config, {
          batchSize: 1,
          batchesPerJob: 2,
        }),
        logger: new WorkerLogger(() => () => undefined),
      });

    beforeAll(async () => {
      tokens = await platform.tokens({
        adminA: [[Role.ADMIN], A],
        adminB: [[Role.ADMIN], B],
        readerA: [[Role.READER], A],
        readerB: [[Role.READER], B],
        analystA: [[Role.ANALYST], A],
        responderA: [[Role.RESPONDER], A],
        ingestorA: [[Role.INGESTOR], A],
        ingestorB: [[Role.INGESTOR], B],
      });
      const bundle = {
        type: "bundle",
        id: "bundle--5a0c3d0e-0000-4000-8000-000000000001",
        objects: [
          {
            type: "indicator",
            spec_version: "2.1",
            id: "indicator--5a0c3d0e-0000-4000-8000-000000000002",
            created: "2020-01-01T00:00:00.000Z",
            modified: "2020-01-01T00:00:00.000Z",
            name: "Known C2",
            pattern: `[ipv4-addr:value = '${IP}']`,
            pattern_type: "stix",
            valid_from: "2020-01-01T00:00:00Z",
          },
        ],
      };
      for (const admin of [tokens.adminA, tokens.adminB])
        ok(await platform.request(ImportStixBundleDocument, { bundle }, admin));
      for (const ingestor of [tokens.ingestorA, tokens.ingestorB]) {
        const res = await ingest(
          AGES.flatMap((age) => [connection(age), connection(age)]),
          ingestor,
        );
        expect(res).toMatchObject({ acceptedCount: 8, rejected: [] });
      }
    });

    it("is the platform's until an ADMIN sets one; nobody else may, and a value out of 1 to the platform's is refused", async () => {
      const platformDefault = { days: 30, maxDays: 30, isDefault: true, updatedAt: null, updatedBy: null };
      expect(ok(await platform.request(EventRetentionDocument, {}, tokens.readerA)).eventRetention).toEqual(
        platformDefault,
      );
      for (const token of [tokens.readerA, tokens.analystA, tokens.responderA, tokens.ingestorA])
        expect(codeOf(await platform.request(SetEventRetentionDocument, { days: 7 }, token))).toBe(
          "FORBIDDEN",
        );
      for (const days of [0, -1, 31, 3650])
        expect(codeOf(await platform.request(SetEventRetentionDocument, { days }, tokens.adminA))).toBe(
          "BAD_USER_INPUT",
        );
      expect(ok(await platform.request(EventRetentionDocument, {}, tokens.readerA)).eventRetention).toEqual(
        platformDefault,
      );
      expect(await pendingJobs()).toEqual([]);

      const set = ok(await platform.request(SetEventRetentionDocument, { days: 7 }, tokens.adminA));
      expect(set.setEventRetention).toEqual({
        days: 7,
        maxDays: 30,
        isDefault: false,
        updatedBy: "tester@example.com",
      });
      expect(
        ok(await platform.request(EventRetentionDocument, {}, tokens.readerA)).eventRetention,
      ).toMatchObject({ days: 7, isDefault: false });
      expect(ok(await platform.request(EventRetentionDocument, {}, tokens.readerB)).eventRetention).toEqual(
        platformDefault,
      );
      // The shorter retention schedules A's purge at once; B has nothing to purge.
      expect(await pendingJobs()).toEqual([{ task: "events_retention", key: `events_retention:${A}` }]);
    });

    it("deletes A's events past its 7 days in bounded batches, never B's, and keeps the alerts' evidence ids", async () => {
      const before = await investigation(tokens.readerA);
      const evidence = before.alerts.nodes.flatMap((a) => a.evidenceEventIds).sort();
      expect(before.alerts.nodes.every((a) => a.provider === "TI_MATCH")).toBe(true);
      expect(evidence).toHaveLength(8);
      expect(before.entity.timeline.totalCount).toBe(8);
      const evidenceEvents = (run: typeof before) =>
        run.alerts.nodes.flatMap((a) => a.evidenceEvents.map((e) => e.id)).sort();
      expect(evidenceEvents(before)).toEqual(evidence);

      // At most one full batch of one row per run: the purge stops with work left, which a new job continues.
      expect(await purgeExpiredEvents(ds, A, 30, { batchSize: 1, batchesPerJob: 1 })).toEqual({
        deleted: 1,
        done: false,
      });
      await runJobs();
      expect(await pendingJobs()).toEqual([]);
      expect(await ages(tokens.readerA)).toEqual([3, 3, 0, 0]);
      expect(await ages(tokens.readerB)).toEqual([20, 20, 10, 10, 3, 3, 0, 0]);

      // The investigation shows fewer events and nothing else changes: alerts, their evidence ids, incidents, graph.
      const after = await investigation(tokens.readerA);
      expect(after.entity.timeline.totalCount).toBe(4);
      expect(after.entity.timeline.nodes).toHaveLength(4);
      expect(after.alerts.nodes.flatMap((a) => a.evidenceEventIds).sort()).toEqual(evidence);
      // The evidence events read back are those still stored: the timeline's.
      expect(evidenceEvents(after)).toEqual(after.entity.timeline.nodes.map((e) => e.id).sort());
      expect(after.entity.alerts.totalCount).toBe(before.entity.alerts.totalCount);
      expect(after.entity.incidents).toEqual(before.entity.incidents);
      // The alerts opened incidents, whose graphs are checked below.
      expect(after.entity.incidents.nodes.length).toBeGreaterThan(0);
      for (const { id } of after.entity.incidents.nodes) {
        const graph = ok(await platform.request(IncidentGraphDocument, { id }, tokens.readerA)).incident!
          .graph;
        expect(graph.nodes.filter((n) => n.kind === "ALERT").length).toBeGreaterThan(0);
      }
      expect((await investigation(tokens.readerB)).entity.timeline.totalCount).toBe(8);
    });

    it("purges again every day without deleting more, and only for tenants keeping fewer days than the platform", async () => {
      const log = createLogger("t", "silent");
      await (eventTasks(ds, log, platform.config).events_maintenance as () => Promise<void>)();
      expect(await pendingJobs()).toEqual([{ task: "events_retention", key: `events_retention:${A}` }]);
      await runJobs();
      expect(await ages(tokens.readerA)).toEqual([3, 3, 0, 0]);
      expect(await ages(tokens.readerB)).toEqual([20, 20, 10, 10, 3, 3, 0, 0]);

      // B sets the platform's own value: nothing of B's is ever purged, and the daily job schedules no purge for it.
      ok(await platform.request(SetEventRetentionDocument, { days: 30 }, tokens.adminB));
      await (eventTasks(ds, log, platform.config).events_maintenance as () => Promise<void>)();
      expect(await pendingJobs()).toEqual([{ task: "events_retention", key: `events_retention:${A}` }]);
      await runJobs();
      expect(await ages(tokens.readerB)).toEqual([20, 20, 10, 10, 3, 3, 0, 0]);
      const settings = await inSystemScope(ds, (m) =>
        m.query(`SELECT tenant_id, event_retention_days AS days FROM tenant_settings ORDER BY 1`),
      );
      expect(settings).toEqual([
        { tenant_id: A, days: 7 },
        { tenant_id: B, days: 30 },
      ]);
    });

    it("rejects events older than the tenant's own retention on ingest, as past the platform's", async () => {
      const res = await ingest([connection(10 * DAY), connection(3 * DAY)], tokens.ingestorA);
      expect(res).toMatchObject({
        acceptedCount: 1,
        rejected: [{ line: 1, reason: expect.stringContaining("older than the 7-day retention") }],
      });
      expect(await ingest([connection(10 * DAY)], tokens.ingestorB)).toMatchObject({
        acceptedCount: 1,
        rejected: [],
      });
      expect(await ages(tokens.readerA)).toEqual([3, 3, 3, 0, 0]);
    });
  });
});
