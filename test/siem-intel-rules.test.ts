import { Logger as WorkerLogger, runOnce } from "graphile-worker";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import {
  ImportStixBundleDocument,
  IngestEventsDocument,
  IntelCreateRuleDocument,
  IntelRuleAlertsDocument,
  IntelUpdateRuleDocument,
} from "./__generated__/graphql";
import { createLogger, Role, subgraphDatabaseUrl } from "../subgraphs/common/src";
import { intelTasks } from "../subgraphs/siem/src/modules/intel/intel.tasks";
import { candidateSql, indexedLookupOf } from "../subgraphs/siem/src/modules/intel/retro-match";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Threat-intelligence rules govern TI matching (filter, severity, tactics, grouping, enabled), and indicators
 * imported after events were stored match those events through the retro-matching job: through the gateway
 * and the real ingest path, on a real Postgres.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The start of an hour two hours ago: events placed inside it stay inside it. */
const hourStart = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
const at = (minutes: number) => new Date(hourStart + minutes * 60_000).toISOString();

let uuidCounter = 0;
const uuid = () => `7c1d2e3f-4a5b-4c6d-8e7f-${(++uuidCounter).toString(16).padStart(12, "0")}`;

function bundleOf(...indicators: Array<{ pattern: string; confidence?: number; id?: string }>) {
  return {
    type: "bundle",
    id: `bundle--${uuid()}`,
    objects: indicators.map((i) => ({
      type: "indicator",
      spec_version: "2.1",
      id: i.id ?? `indicator--${uuid()}`,
      created: "2020-01-01T00:00:00.000Z",
      modified: "2020-01-01T00:00:00.000Z",
      name: `Indicator ${i.pattern}`,
      pattern: i.pattern,
      pattern_type: "stix",
      valid_from: "2020-01-01T00:00:00Z",
      confidence: i.confidence ?? 80,
    })),
  };
}

/** An OCSF network connection from `src` to `dst` at `time`, seen on `host`. */
const connection = (src: string, dst: string, time: string, host = "ws-017") => ({
  class_uid: 4001,
  activity_id: 1,
  metadata: { uid: `conn-${uuid()}` },
  time,
  src_endpoint: { ip: src },
  dst_endpoint: { ip: dst },
  device: { hostname: host },
});

/** An OCSF DNS query for `hostname` at `time`. */
const lookup = (hostname: string, time: string, host = "ws-017") => ({
  class_uid: 4003,
  activity_id: 1,
  metadata: { uid: `dns-${uuid()}` },
  time,
  src_endpoint: { ip: "10.0.0.5" },
  query: { hostname, type: "A" },
  device: { hostname: host },
});

describe("threat-intelligence rules and retro-matching", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let tenantNo = 0;
  let tenant: string;
  let admin: string;
  let ingestor: string;
  let analyst: string;

  const importBundle = async (bundle: unknown, token = admin) =>
    ok(await platform.request(ImportStixBundleDocument, { bundle }, token)).importStixBundle;
  const ingest = async (...records: unknown[]) => {
    const result = ok(
      await platform.request(IngestEventsDocument, { connector: "OCSF", records }, ingestor),
    ).ingestEvents;
    expect(result.rejected).toEqual([]);
    return result;
  };
  const tiAlerts = async (token = analyst) =>
    ok(await platform.request(IntelRuleAlertsDocument, { first: 100 }, token)).alerts.nodes.filter(
      (a) => a.provider === "TI_MATCH",
    );
  /** Runs every queued retro-matching job, two batches of one event per run (so continuations are exercised). */
  const runRetroJobs = () =>
    runOnce({
      connectionString: subgraphDatabaseUrl(platform.config, "siem"),
      schema: "siem_jobs",
      taskList: intelTasks(ds, createLogger("t", "silent"), platform.config, {
        batchSize: 1,
        batchesPerJob: 2,
      }),
      logger: new WorkerLogger(() => () => undefined),
    });
  const tiRule = async (spec: Record<string, unknown>) =>
    ok(
      await platform.request(
        IntelCreateRuleDocument,
        { templateId: "threat-intelligence-match", spec },
        admin,
      ),
    ).createAnalyticsRule;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });
  beforeEach(async () => {
    tenant = `tenant-ti-rules-${++tenantNo}`;
    admin = await platform.token([Role.ADMIN], tenant);
    ingestor = await platform.token([Role.INGESTOR], tenant);
    analyst = await platform.token([Role.ANALYST], tenant);
  });

  it("the TI rule's filter, severity, tactics and grouping apply, and disabling it stops TI alerts", async () => {
    const rule = await tiRule({
      severity: "HIGH",
      severityFromConfidence: false,
      filter: { field: "device", op: "eq", value: "ws-017" },
      tactics: ["Exfiltration"],
      techniques: ["T1041"],
      incidentGrouping: { enabled: true, matchingMethod: "ANY_ALERT", lookbackDuration: "PT5H" },
    });
    // Confidence 30 would be LOW from confidence: the rule says HIGH.
    await importBundle(
      bundleOf(
        { pattern: "[ipv4-addr:value = '198.51.100.7']", confidence: 30 },
        { pattern: "[domain-name:value = 'rule-c2.example']", confidence: 30 },
      ),
    );
    await ingest(
      connection("10.0.0.5", "198.51.100.7", at(1)),
      lookup("beacon.rule-c2.example", at(2)),
      // The rule's filter leaves out other hosts' events.
      connection("10.0.0.9", "198.51.100.7", at(3), "ws-099"),
    );
    const alerts = await tiAlerts();
    expect(alerts.map((a) => a.title).sort()).toEqual([
      "Threat intelligence match: 198.51.100.7",
      "Threat intelligence match: rule-c2.example",
    ]);
    for (const alert of alerts) {
      expect(alert).toMatchObject({ severity: "HIGH", tactics: ["Exfiltration"], techniques: ["T1041"] });
      expect(alert.sourceId.startsWith(`${rule.id}:`)).toBe(true);
      expect(alert.entities).toContainEqual({ type: "HOST", value: "ws-017" });
    }
    expect(alerts.some((a) => a.entities.some((e) => e.value === "ws-099"))).toBe(false);
    // ANY_ALERT: both alerts are in one incident of the rule.
    const placed: Array<{ incident_id: string; rule_id: string | null; alert_rule: string | null }> =
      await ds.transaction(async (m) => {
        await m.query("SELECT set_config('rampart.tenant_id', $1, true)", [tenant]);
        return m.query(
          `SELECT ia.incident_id, i.rule_id, a.rule_id AS alert_rule FROM incident_alerts ia
           JOIN incidents i ON i.id = ia.incident_id JOIN alerts a ON a.id = ia.alert_id WHERE a.provider = 'TI_MATCH'`,
        );
      });
    expect(placed).toHaveLength(2);
    expect(new Set(placed.map((p) => p.incident_id)).size).toBe(1);
    expect(placed.every((p) => p.rule_id === rule.id && p.alert_rule === rule.id)).toBe(true);

    // Disabled: no TI alerts at all (not even the built-in rule's).
    const disabled = ok(
      await platform.request(
        IntelUpdateRuleDocument,
        { id: rule.id, spec: { ...(rule.spec as Record<string, unknown>), enabled: false } },
        admin,
      ),
    ).updateAnalyticsRule;
    expect(disabled.enabled).toBe(false);
    await ingest(connection("10.0.0.5", "198.51.100.7", at(70)), lookup("rule-c2.example", at(71)));
    expect(await tiAlerts()).toHaveLength(2);
    // The retro job of a new import raises nothing either.
    await importBundle(bundleOf({ pattern: "[ipv4-addr:value = '10.0.0.5']" }));
    await runRetroJobs();
    expect(await tiAlerts()).toHaveLength(2);
  });

  it("two TI rules each raise their own alerts; severity can follow the indicator's confidence", async () => {
    const fromConfidence = await tiRule({ severityFromConfidence: true });
    const fixed = await tiRule({ displayName: "TI, low", severity: "LOW", severityFromConfidence: false });
    await importBundle(bundleOf({ pattern: "[ipv4-addr:value = '198.51.100.17']", confidence: 90 }));
    await ingest(
      connection("10.0.0.5", "198.51.100.17", at(5)),
      connection("10.0.0.5", "198.51.100.17", at(6)),
    );
    const alerts = await tiAlerts();
    expect(
      alerts.map((a) => [a.sourceId.split(":")[0], a.severity, a.evidenceEventIds.length]).sort(),
    ).toEqual(
      [
        [fromConfidence.id, "HIGH", 2],
        [fixed.id, "LOW", 2],
      ].sort(),
    );
  });

  it("an event stored before its indicator is imported raises the TI alert once the retro job runs, once", async () => {
    const old = new Date(Date.now() - 20 * DAY).toISOString();
    await ingest(
      connection("10.0.0.5", "203.0.113.50", at(3)),
      connection("10.0.0.5", "192.0.2.200", at(4), "ws-030"),
      lookup("www.retro-c2.example", at(5)),
      // Outside the 14-day lookback.
      connection("10.0.0.5", "203.0.113.50", old),
      // Not listed.
      connection("10.0.0.5", "203.0.113.51", at(6)),
    );
    expect(await tiAlerts()).toEqual([]);
    const bundle = bundleOf(
      { pattern: "[ipv4-addr:value = '203.0.113.50']" },
      { pattern: "[ipv4-addr:value = '192.0.2.0/24']" },
      { pattern: "[domain-name:value = 'retro-c2.example']", confidence: 40 },
    );
    expect(await importBundle(bundle)).toMatchObject({ createdCount: 3 });
    // Queued in the import's transaction, keyed by the tenant and the import.
    const queued: Array<{ key: string }> = await ds.query(
      `SELECT key FROM siem_jobs.jobs WHERE task_identifier = 'intel_retro_match' AND key LIKE $1`,
      [`intel-retro:${tenant}:%`],
    );
    expect(queued).toHaveLength(1);
    expect(await tiAlerts()).toEqual([]);

    await runRetroJobs();
    const alerts = await tiAlerts();
    expect(alerts.map((a) => [a.title, a.severity, a.startTime]).sort()).toEqual(
      [
        ["Threat intelligence match: 203.0.113.50", "HIGH", at(3)],
        ["Threat intelligence match: 192.0.2.0/24", "HIGH", at(4)],
        ["Threat intelligence match: retro-c2.example", "LOW", at(5)],
      ].sort(),
    );
    // The built-in rule's tactics (the template's).
    expect(alerts[0].tactics).toEqual(["CommandAndControl", "InitialAccess"]);

    // Running again, re-importing, and matching the same finding at ingest create nothing new.
    await runRetroJobs();
    expect(await importBundle(bundle)).toMatchObject({ createdCount: 0, unchangedCount: 3 });
    await ingest(connection("10.0.0.5", "203.0.113.50", at(30)));
    await runRetroJobs();
    const after = await tiAlerts();
    expect(after.map((a) => a.id).sort()).toEqual(alerts.map((a) => a.id).sort());
    const { count } = (
      await ds.query(
        `SELECT count(*)::int AS count FROM siem_jobs.jobs WHERE task_identifier = 'intel_retro_match' AND key LIKE $1`,
        [`intel-retro:${tenant}:%`],
      )
    )[0] as { count: number };
    expect(count).toBe(0);
  });

  it("another tenant's indicators never match this tenant's stored events", async () => {
    await ingest(connection("10.0.0.5", "203.0.113.60", at(3)));
    const otherAdmin = await platform.token([Role.ADMIN], `${tenant}-other`);
    const otherAnalyst = await platform.token([Role.ANALYST], `${tenant}-other`);
    await importBundle(bundleOf({ pattern: "[ipv4-addr:value = '203.0.113.60']" }), otherAdmin);
    await runRetroJobs();
    expect(await tiAlerts()).toEqual([]);
    expect(await tiAlerts(otherAnalyst)).toEqual([]);
    // The same indicator in this tenant does match.
    await importBundle(bundleOf({ pattern: "[ipv4-addr:value = '203.0.113.60']" }));
    await runRetroJobs();
    expect((await tiAlerts()).map((a) => a.title)).toEqual(["Threat intelligence match: 203.0.113.60"]);
  });

  it("retro-matching addresses and e-mail accounts reads the events' entity indexes", async () => {
    const lookupOf = indexedLookupOf([
      [[{ type: "ipv4-addr", value: "203.0.113.70" }]],
      [[{ type: "ipv4-addr", value: "198.51.100.0/25" }]],
      [[{ type: "email-addr", value: "Mallory@Evil.example" }]],
    ]);
    expect(lookupOf).toEqual({
      ips: ["203.0.113.70"],
      ranges: [{ lo: "198.51.100.0", hi: "198.51.100.127" }],
      emails: ["mallory@evil.example"],
    });
    await ingest(connection("10.0.0.5", "203.0.113.70", at(3)));
    // A tenant with a real event volume (20,000 events around the one ingested, as the superuser, then
    // analysed): with a handful of rows any plan is as cheap as any other.
    // The partitions that hold the tenant's events: the lookback may also reach a day with none (when the test
    // runs shortly after midnight UTC), whose empty partition Postgres rightly reads by a sequential scan.
    let populated: string[] = [];
    const admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    try {
      await admin.query(
        `INSERT INTO siem.events (tenant_id, id, connector, source_event_id, time, class_uid, activity_id, severity_id, status,
                                  actor_user, src_ip, dst_ip, device)
         SELECT $1, gen_random_uuid(), 'OCSF', 'bulk-' || i, $2::timestamptz + i * interval '1 ms', 4001, 1, 1, 'Success',
                'user' || (i % 500) || '@contoso.example', ('10.1.' || (i % 200) || '.' || (i % 250))::inet,
                ('172.16.' || (i % 200) || '.' || (i % 250))::inet, 'ws-' || (i % 300)
         FROM generate_series(1, 20000) AS i`,
        [tenant, at(3)],
      );
      await admin.query(`ANALYZE siem.events`);
      populated = (
        await admin.query(
          `SELECT DISTINCT tableoid::regclass::text AS partition FROM siem.events WHERE tenant_id = $1`,
          [tenant],
        )
      ).rows.map((r: { partition: string }) => r.partition.replace(/^siem\./, ""));
    } finally {
      await admin.end();
    }
    const { sql, params } = candidateSql(tenant, at(-600), null, lookupOf, 1000);
    const plan: string = await ds.transaction(async (m) => {
      await m.query("SELECT set_config('rampart.tenant_id', $1, true)", [tenant]);
      const rows: Array<{ "QUERY PLAN": string }> = await m.query(`EXPLAIN ${sql}`, params);
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(populated.length).toBeGreaterThan(0);
    for (const partition of populated) expect(plan).not.toMatch(new RegExp(`Seq Scan on ${partition}\\b`));
    for (const column of ["src_ip", "dst_ip", "actor_key"]) {
      expect(plan).toMatch(new RegExp(`Index Cond: \\(.*${column}`));
      expect(plan).toMatch(new RegExp(`Index Scan using \\w*${column}`));
    }
    // A CIDR is the range of its addresses, an index condition too.
    expect(plan).toMatch(/Index Cond: \(.*src_ip >= r\.lo\) AND \(src_ip <= r\.hi\)/);
    expect(plan).toMatch(/Index Cond: \(.*dst_ip >= r_1\.lo\) AND \(dst_ip <= r_1\.hi\)/);
    // A domain-only indicator has no indexed column: the lookback is scanned by time.
    expect(indexedLookupOf([[[{ type: "domain-name", value: "evil.example" }]]])).toBeNull();
  });
});
