import type { DataSource } from "typeorm";
import {
  ImportStixBundleDocument,
  IngestEventsDocument,
  IntelAlertsDocument,
  IntelEntityIndicatorsDocument,
  IntelIndicatorDocument,
  IntelIndicatorsDocument,
  IntelRevokeIndicatorDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Threat intelligence as an analyst relies on it: which indicators match which events, through the
 * gateway and the real ingest path, on a real Postgres.
 */

const HOUR = 3_600_000;
/** The start of an hour two hours ago: events placed inside it stay inside it. */
const hourStart = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
const at = (minutes: number) => new Date(hourStart + minutes * 60_000).toISOString();

let uuidCounter = 0;
/** A fresh, valid STIX uuid (its last group counts up). */
const uuid = () => `0b5f2c1e-7d3a-4e8b-9c6d-${(++uuidCounter).toString(16).padStart(12, "0")}`;

interface IndicatorSpec {
  id: string;
  pattern: string;
  modified?: string;
  revoked?: boolean;
  confidence?: number;
  validFrom?: string;
  validUntil?: string;
  types?: string[];
}

function bundleOf(...indicators: IndicatorSpec[]) {
  return {
    type: "bundle",
    id: `bundle--${uuid()}`,
    objects: indicators.map((i) => ({
      type: "indicator",
      spec_version: "2.1",
      id: i.id,
      created: "2020-01-01T00:00:00.000Z",
      modified: i.modified ?? "2020-01-01T00:00:00.000Z",
      name: `Indicator ${i.pattern}`,
      pattern: i.pattern,
      pattern_type: "stix",
      valid_from: i.validFrom ?? "2020-01-01T00:00:00Z",
      ...(i.validUntil ? { valid_until: i.validUntil } : {}),
      ...(i.revoked !== undefined ? { revoked: i.revoked } : {}),
      confidence: i.confidence ?? 80,
      ...(i.types ? { indicator_types: i.types } : {}),
    })),
  };
}

/** An OCSF network connection from `src` to `dst` at `time`, seen on `host`. */
function connection(src: string, dst: string, time: string, host = "ws-017") {
  return {
    class_uid: 4001,
    activity_id: 1,
    metadata: { uid: `conn-${uuid()}` },
    time,
    src_endpoint: { ip: src },
    dst_endpoint: { ip: dst },
    device: { hostname: host },
  };
}

describe("threat intelligence matching", () => {
  let platform: TestPlatform;
  let admin: string;
  let ingestor: string;
  let analyst: string;
  let ds: DataSource;
  let tenantNo = 0;
  /** Each test gets a tenant of its own, so alerts and indicators of one never meet another's. */
  let tenant: string;

  const importBundle = async (bundle: unknown) =>
    ok(await platform.request(ImportStixBundleDocument, { bundle }, admin)).importStixBundle;
  const ingest = async (...records: unknown[]) => {
    const result = ok(
      await platform.request(IngestEventsDocument, { connector: "OCSF", records }, ingestor),
    ).ingestEvents;
    expect(result.rejected).toEqual([]);
    return result;
  };
  const tiAlerts = async () =>
    ok(await platform.request(IntelAlertsDocument, { first: 100 }, analyst)).alerts.nodes.filter(
      (a) => a.provider === "TI_MATCH",
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });
  beforeEach(async () => {
    tenant = `tenant-intel-${++tenantNo}`;
    admin = await platform.token([Role.ADMIN], tenant);
    ingestor = await platform.token([Role.INGESTOR], tenant);
    analyst = await platform.token([Role.ANALYST], tenant);
  });

  it("an import that commits after a later one still reaches the index (a revocation is not lost)", async () => {
    const a = { id: `indicator--${uuid()}`, pattern: "[ipv4-addr:value = '203.0.113.10']" };
    const b = { id: `indicator--${uuid()}`, pattern: "[ipv4-addr:value = '203.0.113.20']" };
    await importBundle(bundleOf(a, b));

    // Another connection holds A's row, so the import revoking A starts first but commits last — as
    // two feeds imported at once, or two replicas, would.
    const holder = ds.createQueryRunner();
    await holder.connect();
    let revoking: Promise<unknown> | undefined;
    try {
      await holder.startTransaction();
      await holder.query("SELECT set_config('rampart.tenant_id', $1, true)", [tenant]);
      await holder.query("SELECT 1 FROM threat_indicators WHERE stix_id = $1 FOR UPDATE", [a.id]);
      revoking = importBundle(bundleOf({ ...a, modified: "2020-02-01T00:00:00.000Z", revoked: true }));
      // Wait until the revoking import is blocked on the row (asked outside the holder's transaction,
      // whose view of pg_stat_activity would stay as it first saw it).
      for (let i = 0; ; i++) {
        const [{ n }] = await ds.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO threat_indicators%'`,
        );
        if (n > 0) break;
        if (i > 500) throw new Error("the revoking import never reached the row lock");
        await new Promise((r) => setTimeout(r, 10));
      }
      // A later import commits first, and an ingest (re)builds the index meanwhile.
      await importBundle(bundleOf({ ...b, modified: "2020-02-01T00:00:00.000Z", confidence: 90 }));
      await ingest(connection("10.0.0.5", "203.0.113.20", at(1)));
      expect((await tiAlerts()).map((x) => x.title)).toEqual(["Threat intelligence match: 203.0.113.20"]);
    } finally {
      await holder.commitTransaction().catch(() => undefined);
      await holder.release();
    }
    expect(await revoking).toMatchObject({ updatedCount: 1 });

    const indicators = ok(await platform.request(IntelIndicatorsDocument, { first: 10 }, analyst))
      .threatIndicators.nodes;
    expect(indicators.find((i) => i.stixId === a.id)).toMatchObject({ revoked: true, active: false });
    // A is revoked: an event contacting its address raises nothing.
    await ingest(connection("10.0.0.5", "203.0.113.10", at(2)));
    expect((await tiAlerts()).map((x) => x.title)).toEqual(["Threat intelligence match: 203.0.113.20"]);
    // The alert names the indicator that matched, and the value.
    const [{ id: indicatorId, name }] = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT id, name FROM threat_indicators WHERE stix_id = $1`, [b.id]),
    );
    expect(name).toBe("Indicator [ipv4-addr:value = '203.0.113.20']");
    expect((await tiAlerts())[0].evidence).toEqual({
      indicatorId,
      indicatorName: name,
      confidence: 90,
      matched: [{ type: "ipv4-addr", value: "203.0.113.20" }],
    });
  });

  it("a host beaconing to a listed address raises one alert an hour, not one per event", async () => {
    await importBundle(
      bundleOf({ id: `indicator--${uuid()}`, pattern: "[ipv4-addr:value = '198.51.100.77']" }),
    );
    const beacon = (minute: number, host = "ws-017") =>
      connection("10.0.0.5", "198.51.100.77", at(minute), host);
    // Every minute for 40 minutes, in two batches, then into the next hour.
    await ingest(...Array.from({ length: 20 }, (_, i) => beacon(i)));
    await ingest(...Array.from({ length: 20 }, (_, i) => beacon(20 + i)));
    await ingest(beacon(61), beacon(62));
    let alerts = await tiAlerts();
    expect(alerts.length).toBe(2);
    const byStart = [...alerts].sort((x, y) => x.startTime.localeCompare(y.startTime));
    expect(byStart[0]).toMatchObject({ startTime: at(0), endTime: at(19) });
    expect(byStart[0].evidenceEventIds.length).toBe(20);
    expect(byStart[1]).toMatchObject({ startTime: at(61), endTime: at(62) });
    expect(byStart[1].evidenceEventIds.length).toBe(2);

    // Another host reaching the same address in the same hour is another finding.
    await ingest(beacon(30, "ws-042"));
    alerts = await tiAlerts();
    expect(alerts.length).toBe(3);
    expect(
      alerts.filter((a) => a.entities.some((e) => e.type === "HOST" && e.value === "ws-042")).length,
    ).toBe(1);
  });

  it("an analyst looks an entity up in threat intelligence, opens the indicator, and an admin revokes it", async () => {
    const range = { id: `indicator--${uuid()}`, pattern: "[ipv4-addr:value = '198.51.100.0/24']" };
    const domain = { id: `indicator--${uuid()}`, pattern: "[domain-name:value = 'evil.example']" };
    const both = {
      id: `indicator--${uuid()}`,
      pattern: "[ipv4-addr:value = '203.0.113.5' AND domain-name:value = 'pair.example']",
    };
    expect(await importBundle(bundleOf(range, domain, both))).toMatchObject({ createdCount: 3 });
    const lookup = async (type: "IP" | "DOMAIN" | "HOST", value: string, token = analyst) =>
      ok(await platform.request(IntelEntityIndicatorsDocument, { type, value }, token)).entity
        .threatIndicators;
    const [inRange] = await lookup("IP", "198.51.100.23");
    expect(inRange).toMatchObject({ pattern: range.pattern, active: true });
    expect(await lookup("DOMAIN", "EVIL.example")).toEqual([
      expect.objectContaining({ pattern: domain.pattern }),
    ]);
    // An indicator needing more than this one entity, and kinds intelligence does not describe: none.
    expect(await lookup("IP", "203.0.113.5")).toEqual([]);
    expect(await lookup("HOST", "ws-017")).toEqual([]);
    expect(
      ok(await platform.request(IntelIndicatorDocument, { id: inRange.id.toUpperCase() }, analyst))
        .threatIndicator,
    ).toMatchObject({ id: inRange.id, stixId: range.id, revoked: false });

    // Another tenant finds none of it, and cannot revoke it.
    const other = `${tenant}-other`;
    const [otherAnalyst, otherAdmin] = await Promise.all([
      platform.token([Role.ANALYST], other),
      platform.token([Role.ADMIN], other),
    ]);
    expect(await lookup("IP", "198.51.100.23", otherAnalyst)).toEqual([]);
    expect(
      ok(await platform.request(IntelIndicatorDocument, { id: inRange.id }, otherAnalyst)).threatIndicator,
    ).toBeNull();
    const code = async (id: string, token: string) =>
      (await platform.request(IntelRevokeIndicatorDocument, { id }, token)).errors?.[0]?.extensions?.code;
    expect(await code(inRange.id, otherAdmin)).toBe("NOT_FOUND");
    expect(await code(inRange.id, analyst)).toBe("FORBIDDEN");
    expect(await code("00000000-0000-4000-8000-000000000000", admin)).toBe("NOT_FOUND");
    expect(await code("not-an-id", admin)).toBe("NOT_FOUND");

    // Revoked: listed as such, no longer found, and an event to the range raises nothing.
    const revoke = async () =>
      ok(await platform.request(IntelRevokeIndicatorDocument, { id: inRange.id }, admin))
        .revokeThreatIndicator;
    expect(await revoke()).toEqual({ id: inRange.id, revoked: true, active: false });
    expect(await revoke()).toEqual({ id: inRange.id, revoked: true, active: false });
    expect(await lookup("IP", "198.51.100.23")).toEqual([]);
    await ingest(connection("10.0.0.5", "198.51.100.23", at(5)));
    expect(await tiAlerts()).toEqual([]);
    // One audit record for the two calls: the second changed nothing.
    const audits = await inTenant(ds, tenant, (m) =>
      m.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'intel.indicator.revoke'`),
    );
    expect(audits).toEqual([{ n: 1 }]);
  });

  it("revocation is permanent: a later version that is not revoked is refused and never matches", async () => {
    const a = { id: `indicator--${uuid()}`, pattern: "[domain-name:value = 'revoked-c2.example']" };
    await importBundle(bundleOf(a));
    expect(
      await importBundle(bundleOf({ ...a, modified: "2020-02-01T00:00:00.000Z", revoked: true })),
    ).toMatchObject({ updatedCount: 1, problems: [] });
    const later = await importBundle(
      bundleOf({ ...a, modified: "2020-03-01T00:00:00.000Z", revoked: false, confidence: 95 }),
    );
    expect(later).toMatchObject({ createdCount: 0, updatedCount: 0, unchangedCount: 1 });
    expect(later.problems).toEqual([{ path: "objects[0]", message: expect.stringContaining("revoked") }]);
    const [indicator] = ok(await platform.request(IntelIndicatorsDocument, { first: 10 }, analyst))
      .threatIndicators.nodes;
    expect(indicator).toMatchObject({ revoked: true, active: false, confidence: 80 });
    await ingest({
      class_uid: 4003,
      activity_id: 1,
      metadata: { uid: `dns-${uuid()}` },
      time: at(5),
      src_endpoint: { ip: "10.0.0.5" },
      query: { hostname: "revoked-c2.example", type: "A" },
      device: { hostname: "ws-017" },
    });
    expect(await tiAlerts()).toEqual([]);
  });

  it("re-importing and re-ingesting change nothing, and one tenant's indicators never match another's events", async () => {
    const bundle = bundleOf({
      id: `indicator--${uuid()}`,
      pattern: "[ipv6-addr:value = '2001:DB8:0:0::bad']",
    });
    expect(await importBundle(bundle)).toMatchObject({ createdCount: 1 });
    expect(await importBundle(bundle)).toMatchObject({ createdCount: 0, updatedCount: 0, unchangedCount: 1 });
    const event = connection("10.0.0.5", "2001:db8::bad", at(10));
    expect(await ingest(event)).toMatchObject({ acceptedCount: 1 });
    expect(await ingest(event)).toMatchObject({ acceptedCount: 0, duplicateCount: 1 });
    expect((await tiAlerts()).map((a) => a.title)).toEqual(["Threat intelligence match: 2001:db8::bad"]);

    const other = `${tenant}-other`;
    const otherIngestor = await platform.token([Role.INGESTOR], other);
    const otherAnalyst = await platform.token([Role.ANALYST], other);
    ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records: [event] }, otherIngestor));
    const otherAlerts = ok(await platform.request(IntelAlertsDocument, { first: 10 }, otherAnalyst)).alerts;
    expect(otherAlerts.totalCount).toBe(0);
  });

  it("two feeds importing the same indicators at once, in opposite orders, both succeed", async () => {
    const ids = Array.from({ length: 9 }, () => `indicator--${uuid()}`);
    const spec = (id: string, i: number, modified: string, confidence: number) => ({
      id,
      pattern: `[ipv4-addr:value = '198.51.100.${i + 1}']`,
      modified,
      confidence,
    });
    await importBundle(bundleOf(...ids.map((id, i) => spec(id, i, "2020-01-01T00:00:00.000Z", 50))));
    const feedA = bundleOf(...ids.map((id, i) => spec(id, i, "2020-02-01T00:00:00.000Z", 60)));
    const feedB = bundleOf(...ids.map((id, i) => spec(id, i, "2020-03-01T00:00:00.000Z", 70)).reverse());

    // A third connection holds the middle indicator's row, so each import takes the rows on its side of it
    // and then waits there: A holds the first four, B the last four. Released, whichever takes the middle
    // row next needs the other's rows — a deadlock, unless both imports take rows in one order.
    const holder = ds.createQueryRunner();
    await holder.connect();
    let imports: Promise<unknown[]> | undefined;
    try {
      await holder.startTransaction();
      await holder.query("SELECT set_config('rampart.tenant_id', $1, true)", [tenant]);
      await holder.query("SELECT 1 FROM threat_indicators WHERE stix_id = $1 FOR UPDATE", [ids[4]]);
      imports = Promise.all([
        platform.request(ImportStixBundleDocument, { bundle: feedA }, admin),
        platform.request(ImportStixBundleDocument, { bundle: feedB }, admin),
      ]);
      for (let i = 0; ; i++) {
        const [{ n }] = await ds.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO threat_indicators%'`,
        );
        if (n >= 2) break;
        if (i > 500) throw new Error("the imports never both waited for a row");
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await holder.commitTransaction().catch(() => undefined);
      await holder.release();
    }
    const results = (await imports!) as Array<Parameters<typeof ok>[0]>;
    for (const result of results) ok(result);

    const indicators = ok(await platform.request(IntelIndicatorsDocument, { first: 20 }, analyst))
      .threatIndicators.nodes;
    expect(indicators.map((i) => i.confidence)).toEqual(ids.map(() => 70));
  });

  it("indicators typed only benign, or with nothing matchable, are listed as such and raise nothing", async () => {
    const benign = {
      id: `indicator--${uuid()}`,
      pattern: "[ipv4-addr:value = '198.51.100.88']",
      types: ["benign"],
    };
    const unmatchable = { id: `indicator--${uuid()}`, pattern: "[ipv4-addr:value MATCHES '^198']" };
    const malicious = {
      id: `indicator--${uuid()}`,
      pattern: "[ipv4-addr:value = '198.51.100.89']",
      types: ["malicious-activity", "benign"],
    };
    expect(await importBundle(bundleOf(benign, unmatchable, malicious))).toMatchObject({ createdCount: 3 });
    const listed = ok(await platform.request(IntelIndicatorsDocument, { first: 10 }, analyst))
      .threatIndicators.nodes;
    const byId = new Map(listed.map((i) => [i.stixId, i]));
    expect(byId.get(benign.id)).toMatchObject({ indicatorTypes: ["benign"], matchable: true, active: true });
    expect(byId.get(unmatchable.id)).toMatchObject({ matchable: false, partial: true });
    await ingest(
      connection("10.0.0.5", "198.51.100.88", at(1)),
      connection("10.0.0.5", "198.51.100.89", at(2)),
    );
    expect((await tiAlerts()).map((a) => a.title)).toEqual(["Threat intelligence match: 198.51.100.89"]);
  });
});
