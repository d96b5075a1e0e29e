import { readdirSync, readFileSync } from "node:fs";
import { register, type Counter } from "prom-client";
import type { DataSource } from "typeorm";
import {
  DetectionDocument,
  DetectionsDocument,
  ImportAdvisoriesDocument,
  IngestTelemetryDocument,
  ResourceDetectionsDocument,
  ResourceVulnerabilitiesDocument,
  SetPlanDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  WorkloadAlertsDocument,
  WorkloadIncidentsDocument,
  type DetectionFilter,
} from "./__generated__/graphql";
import {
  createLogger,
  dayOf,
  IDENTITY_HEADER,
  inSystemScope,
  inTenant,
  OutboxRelay,
  Role,
  type RelayDelivery,
} from "../subgraphs/common/src";
import { telemetryPartitions } from "../subgraphs/protection/src/modules/telemetry/telemetry.store";
import { telemetryTasks } from "../subgraphs/protection/src/modules/telemetry/telemetry.tasks";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

const DIR = "test/fixtures/protection/telemetry";
const KINDS = ["process", "file", "packages", "flow", "logon"] as const;
const DAY = 86_400_000;
/** Whole days that move the fixtures' day (2025-01-15, UTC) to yesterday, well inside the retention. */
const SHIFT = (Math.floor(Date.now() / DAY) - 1) * DAY - Date.parse("2025-01-15T00:00:00Z");
/** The fixtures' machines (test/fixtures/protection/telemetry/README.md) by their fixture resource id. */
const MACHINES: Record<string, string> = {
  "9f525b04-47c3-487a-9b37-e8d8124d8161": "vm-dev-02",
  "107ec20d-8708-44b3-9c2c-b419dc983ba4": "vm-jump-01",
  "3dafd86a-82f7-47d7-8018-63f28fe05d5d": "vm-web-prod-01",
  "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6": "vm-web-prod-02",
  "8708e8d1-b175-4ff3-bc87-d6f2d3d84d86": "ci-runner-02",
  "6870430a-d373-49a4-a64f-17fe64a53776": "app-euw1-01",
  "70e661f8-81ac-413e-9d5d-30316d57216c": "vm-app-prod-01",
};
/** What the fixtures raise with protection's own knowledge: vm-dev-02's JIT policy, the built-in critical files. */
const EXPECTED = [
  ["brute-force", "ci-runner-02", "HIGH"],
  ["critical-file-change", "ci-runner-02", "HIGH"],
  ["credential-dumping", "vm-dev-02", "HIGH"],
  ["credential-dumping", "vm-dev-02", "HIGH"],
  ["encoded-powershell", "vm-dev-02", "HIGH"],
  ["jit-port-access", "vm-dev-02", "HIGH"],
  ["brute-force", "vm-jump-01", "MEDIUM"],
  ["encoded-powershell", "vm-jump-01", "MEDIUM"],
  ["critical-file-change", "vm-web-prod-01", "HIGH"],
  ["critical-file-change", "vm-web-prod-01", "HIGH"],
];
const KIND_ENUM: Record<string, string> = {
  ENCODED_POWERSHELL: "encoded-powershell",
  CREDENTIAL_DUMPING: "credential-dumping",
  BRUTE_FORCE: "brute-force",
  APP_CONTROL_VIOLATION: "app-control-violation",
  CRITICAL_FILE_CHANGE: "critical-file-change",
  JIT_PORT_ACCESS: "jit-port-access",
};

const advisories = readdirSync("test/fixtures/protection/osv")
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(`test/fixtures/protection/osv/${f}`, "utf8")) as unknown);

type Ingested = {
  accepted: number;
  duplicates: number;
  rejected: Array<{ line: number; reason: string }>;
  kinds: Record<string, number>;
  detections: number;
};

/** Polls `check` until it returns true (the relay works in the background). */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A prom-client counter's value for labels matching `labels`, summed. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = register.getSingleMetric(name) as Counter<string> | undefined;
  if (!m) return 0;
  return (await m.get()).values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0);
}

describe("workload telemetry: ingest, detections, and their delivery to the SIEM", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let origin: string;
  let ids: Record<string, string>;
  const tokens: Record<string, string> = {};

  /** A fixture file as NDJSON, with the tenant's resource ids and times moved to yesterday. */
  const fixture = (kind: string, resourceIds = ids) =>
    readFileSync(`${DIR}/${kind}.ndjson`, "utf8")
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => {
        const r = JSON.parse(line) as { resourceId: string; time: string };
        return JSON.stringify({
          ...r,
          resourceId: resourceIds[r.resourceId] ?? r.resourceId,
          time: new Date(Date.parse(r.time) + SHIFT).toISOString(),
        });
      })
      .join("\n") + "\n";
  const post = (body: string, token?: string) =>
    fetch(`${origin}/ingest/telemetry`, {
      method: "POST",
      headers: {
        "content-type": "application/x-ndjson",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body,
    });
  const ingest = async (body: string, token = tokens.ingestor): Promise<Ingested> => {
    const res = await post(body, token);
    expect(res.status).toBe(200);
    return (await res.json()) as Ingested;
  };
  const detections = async (token: string, filter: DetectionFilter = {}) =>
    ok(await platform.request(DetectionsDocument, { filter, first: 100 }, token)).detections;
  const workloadAlerts = async (token: string) =>
    ok(await platform.request(WorkloadAlertsDocument, {}, token)).alerts.nodes.filter(
      (a) => a.provider === "WORKLOAD_PROTECTION",
    );
  const queued = async (token: string) => (await detections(token, { delivered: false })).totalCount;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false", MAX_BODY_BYTES: "262144" });
    origin = platform.gateway.url.replace(/\/graphql$/, "");
    Object.assign(
      tokens,
      await platform.tokens({
        admin: [[Role.ADMIN], "tenant-a"],
        ingestor: [[Role.INGESTOR], "tenant-a"],
        reader: [[Role.READER], "tenant-a"],
        ingestorB: [[Role.INGESTOR], "tenant-b"],
        readerB: [[Role.READER], "tenant-b"],
        ingestorR: [[Role.INGESTOR], "tenant-r"],
        readerR: [[Role.READER], "tenant-r"],
      }),
    );
    ds = await platform.connect("protection");
    // The fixtures' machines in the inventory, covered by a STANDARD plan, with the OSV advisories.
    const [account] = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: "sub-contoso-prod", name: "Contoso Production" }] },
        tokens.admin,
      ),
    ).upsertCloudAccounts;
    const names = Object.values(MACHINES);
    const created = ok(
      await platform.request(
        UpsertResourcesDocument,
        {
          input: names.map((name) => ({
            accountId: account.id,
            externalId: `/subscriptions/sub-contoso-prod/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/${name}`,
            type: "Microsoft.Compute/virtualMachines",
            name,
          })),
        },
        tokens.admin,
      ),
    ).upsertResources.ids;
    const byName = Object.fromEntries(names.map((n, i) => [n, created[i]]));
    ids = Object.fromEntries(Object.entries(MACHINES).map(([fixtureId, name]) => [fixtureId, byName[name]]));
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId: account.id, planType: "SERVERS", tier: "STANDARD" } },
        tokens.admin,
      ),
    );
    ok(await platform.request(ImportAdvisoriesDocument, { osv: advisories }, tokens.admin));
    // vm-dev-02 has kept RDP and WinRM locked with a just-in-time policy since before the fixtures' traffic
    // (a policy stored before ports carried `lockedSince`: its creation time says since when).
    await inTenant(ds, "tenant-a", (m) =>
      m.query(
        `INSERT INTO jit_policies (tenant_id, id, resource_id, ports, created_by, updated_by, created_at)
         VALUES ('tenant-a', gen_random_uuid(), $1, $2, 'admin@contoso.example', 'admin@contoso.example',
                 now() - interval '60 days')`,
        [
          byName["vm-dev-02"],
          JSON.stringify(
            [3389, 5985].map((number) => ({
              number,
              protocol: "TCP",
              allowedSourcePrefixes: ["*"],
              maxDuration: "PT3H",
              maxDurationSeconds: 10800,
            })),
          ),
        ],
      ),
    );
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("POST /ingest/telemetry stores every fixture record, updates vulnerability findings and raises detections", async () => {
    let raised = 0;
    for (const kind of KINDS) {
      const body = fixture(kind);
      const result = await ingest(body);
      expect({ kind, rejected: result.rejected, duplicates: result.duplicates }).toEqual({
        kind,
        rejected: [],
        duplicates: 0,
      });
      const lines = body.trim().split("\n").length;
      expect(result.accepted).toBe(lines);
      expect(result.kinds[kind]).toBe(lines);
      raised += result.detections;
    }
    const stored = await inTenant(ds, "tenant-a", (m) =>
      m.query(`SELECT kind, count(*)::int AS n FROM telemetry GROUP BY kind ORDER BY kind`),
    );
    expect(stored).toEqual([
      { kind: "file", n: 10 },
      { kind: "flow", n: 120 },
      { kind: "logon", n: 50 },
      { kind: "packages", n: 3 },
      { kind: "process", n: 27 },
    ]);
    // Package snapshots went to vulnerability assessment: the Debian runner's OpenSSL is vulnerable.
    const runner = ok(
      await platform.request(
        ResourceVulnerabilitiesDocument,
        { id: ids["8708e8d1-b175-4ff3-bc87-d6f2d3d84d86"] },
        tokens.reader,
      ),
    ).resource!;
    expect(runner.vulnerabilities.nodes.map((f) => f.advisoryId)).toContain("DSA-9101-1");

    const { nodes, totalCount } = await detections(tokens.reader);
    expect(totalCount).toBe(raised);
    expect(nodes.map((d) => [KIND_ENUM[d.kind], d.resource?.name, d.severity]).sort()).toEqual(
      [...EXPECTED].sort(),
    );
    const mimikatz = nodes.find((d) => d.title.startsWith("Credential theft tool Mimikatz"))!;
    expect(mimikatz).toMatchObject({ tactics: ["CredentialAccess"], severity: "HIGH" });
    expect(mimikatz.techniques).toEqual(expect.arrayContaining(["T1003", "T1003.001"]));
    expect(mimikatz.entities).toEqual(
      expect.arrayContaining([
        { type: "HOST", value: "vm-dev-02" },
        { type: "PROCESS", value: expect.stringMatching(/mimikatz\.exe$/i) },
      ]),
    );
    expect(mimikatz.evidence).toMatchObject({ method: "mimikatz" });
    expect(mimikatz.remediation.length).toBeGreaterThan(1);
    const jit = nodes.find((d) => d.kind === "JIT_PORT_ACCESS")!;
    expect(jit.title).toBe("Inbound traffic reached JIT-locked port 3389/TCP on vm-dev-02");
    // The brute force on ci-runner-02 ends with the intruder's successful logon.
    const brute = nodes.find((d) => d.kind === "BRUTE_FORCE" && d.resource?.name === "ci-runner-02")!;
    expect(brute.title).toBe("Successful SSH brute force attack on ci-runner-02");

    const dev = ok(
      await platform.request(
        ResourceDetectionsDocument,
        { id: ids["9f525b04-47c3-487a-9b37-e8d8124d8161"] },
        tokens.reader,
      ),
    ).resource!;
    expect(dev.detections.totalCount).toBe(4);
  });

  it("ignores records sent again, and raises no detection twice", async () => {
    for (const kind of KINDS) {
      const body = fixture(kind);
      const result = await ingest(body);
      expect(result).toMatchObject({
        accepted: 0,
        duplicates: body.trim().split("\n").length,
        detections: 0,
      });
    }
    expect((await detections(tokens.reader)).totalCount).toBe(EXPECTED.length);
  });

  it("keeps the new records of a batch that mixes stored ones and a record sent twice", async () => {
    const [stored] = fixture("flow").trim().split("\n");
    const fresh = JSON.stringify({ ...(JSON.parse(stored) as object), id: "flow-mixed-batch-1" });
    const result = await ingest([stored, fresh, fresh].join("\n") + "\n");
    expect(result).toMatchObject({ accepted: 1, duplicates: 2, rejected: [], kinds: { flow: 1 } });
    const rows: Array<{ n: number }> = await inTenant(ds, "tenant-a", (m) =>
      m.query("SELECT count(*)::int AS n FROM telemetry WHERE record_id = $1", ["flow-mixed-batch-1"]),
    );
    expect(rows[0].n).toBe(1);
    // Sent again, alone: a duplicate, nothing stored.
    expect(await ingest(fresh + "\n")).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it("brute force spanning two batches is detected when the second arrives (stored records looked back)", async () => {
    const vm = ids["3dafd86a-82f7-47d7-8018-63f28fe05d5d"];
    const start = Date.now() - 3600_000;
    const failures = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        JSON.stringify({
          kind: "logon",
          id: `spray-${from + i}`,
          resourceId: vm,
          time: new Date(start + (from + i) * 10_000).toISOString(),
          host: "vm-web-prod-01",
          user: `user${(from + i) % 3}`,
          logonType: "ssh",
          srcIp: "203.0.113.250",
          success: false,
        }),
      ).join("\n");
    expect((await ingest(failures(0, 12))).detections).toBe(0);
    expect((await ingest(failures(12, 12))).detections).toBe(1);
    const [d] = (await detections(tokens.reader, { kinds: ["BRUTE_FORCE"], resourceId: vm })).nodes;
    expect(d.title).toBe("Failed SSH brute force attack on vm-web-prod-01");
    expect(d.evidence).toMatchObject({ failedLogons: 24, sourceIp: "203.0.113.250" });
  });

  it("keeps the newest of two package snapshots of one machine in one batch", async () => {
    const vm = ids["70e661f8-81ac-413e-9d5d-30316d57216c"];
    const snapshot = (id: string, hoursAgo: number, version: string, resourceId = vm) =>
      JSON.stringify({
        kind: "packages",
        id,
        resourceId,
        time: new Date(Date.now() - hoursAgo * 3600_000).toISOString(),
        host: "vm-app-prod-01",
        os: { family: "rhel", version: "8.9" },
        packages: [{ ecosystem: "PyPI", name: "Django", version }],
      });
    const result = await ingest(
      [snapshot("snap-new", 1, "4.2.11"), snapshot("snap-old", 2, "3.2.1")].join("\n"),
    );
    expect(result).toMatchObject({ accepted: 2, rejected: [] });
    const [row] = await inTenant(ds, "tenant-a", (m) =>
      m.query(`SELECT packages FROM package_snapshots WHERE resource_id = $1`, [vm]),
    );
    expect(row.packages).toEqual([{ ecosystem: "PyPI", name: "Django", version: "4.2.11" }]);
    // The same machine with its id in capitals is the same machine.
    const again = await ingest(
      [snapshot("snap-newer", 0.5, "4.2.12", vm.toUpperCase()), snapshot("snap-older", 0.75, "4.2.10")].join(
        "\n",
      ),
    );
    expect(again).toMatchObject({ accepted: 2, rejected: [] });
    const [latest] = await inTenant(ds, "tenant-a", (m) =>
      m.query(`SELECT packages FROM package_snapshots WHERE resource_id = $1`, [vm]),
    );
    expect(latest.packages).toEqual([{ ecosystem: "PyPI", name: "Django", version: "4.2.12" }]);
  });

  it("rejects bad lines by number with the reason and keeps the good ones", async () => {
    const good = JSON.parse(fixture("process").split("\n")[0]) as Record<string, unknown>;
    const line = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
    const body = [
      line({ id: "fresh-1" }),
      "{not json",
      line({ id: "fresh-2", pid: "four" }),
      "", // blank lines are skipped but counted
      line({ id: "fresh-3", time: new Date(Date.now() - 40 * DAY).toISOString() }),
      line({ id: "fresh-4", time: new Date(Date.now() + 3 * DAY).toISOString() }),
      line({ id: "fresh-5", kind: "registry" }),
    ].join("\n");
    const result = await ingest(body);
    expect(result.accepted).toBe(1);
    expect(result.rejected.map((r) => r.line)).toEqual([2, 3, 5, 6, 7]);
    const reason = (n: number) => result.rejected.find((r) => r.line === n)!.reason;
    expect(reason(2)).toMatch(/^line: invalid JSON/);
    expect(reason(3)).toBe("pid: expected number, got string");
    expect(reason(5)).toMatch(/older than the 30-day retention/);
    expect(reason(6)).toMatch(/more than a day in the future/);
    expect(reason(7)).toMatch(/^kind: must be one of process, file, packages, flow, logon/);
  });

  it("refuses a body over MAX_BODY_BYTES with 413 and stores nothing of it", async () => {
    // ~300 kB of valid records (the limit is 256 KiB): refused whole, none of them kept.
    const template = fixture("file").split("\n")[0];
    const big = Array.from({ length: Math.ceil(300_000 / template.length) }, (_, i) =>
      template.replace(/"id":"[^"]+"/, `"id":"oversize-${i}"`),
    ).join("\n");
    const count = () =>
      inTenant(ds, "tenant-a", async (m) => (await m.query(`SELECT count(*)::int AS n FROM telemetry`))[0].n);
    const before = await count();
    const viaGateway = await post(big, tokens.ingestor);
    expect(viaGateway.status).toBe(413);
    const direct = await fetch(platform.subgraphs.protection.url.replace(/\/graphql$/, "/ingest/telemetry"), {
      method: "POST",
      headers: {
        "content-type": "application/x-ndjson",
        [IDENTITY_HEADER]: await platform.internalToken([Role.INGESTOR], "tenant-a"),
      },
      body: big,
    });
    expect(direct.status).toBe(413);
    expect(
      ((await direct.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions
        .code,
    ).toBe("BAD_USER_INPUT");
    expect(await count()).toBe(before);
  });

  it("takes records from INGESTOR or ADMIN only", async () => {
    const body = fixture("file");
    expect((await post(body)).status).toBe(401);
    expect((await post(body, tokens.reader)).status).toBe(403);
    expect((await post(body, tokens.admin)).status).toBe(200);
    const res = await platform.request(IngestTelemetryDocument, { records: [] }, tokens.reader);
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("ingestTelemetry takes small batches through GraphQL with the same checks", async () => {
    const [first, second] = fixture("process")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = ok(
      await platform.request(
        IngestTelemetryDocument,
        { records: [{ ...first, id: "gql-1" }, { ...second, host: "bad host!" }, first] },
        tokens.ingestor,
      ),
    ).ingestTelemetry;
    expect(result).toMatchObject({ acceptedCount: 1, duplicateCount: 1, detectionCount: 0 });
    expect(result.rejected).toEqual([{ line: 2, reason: "host: must be a host name" }]);
    const tooMany = await platform.request(
      IngestTelemetryDocument,
      { records: Array.from({ length: 1001 }, () => first) },
      tokens.ingestor,
    );
    expect(tooMany.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("keeps tenants apart: the same records are new to another tenant, and each sees only its detections", async () => {
    const before = (await detections(tokens.reader)).totalCount;
    const result = await ingest(fixture("process"), tokens.ingestorB);
    expect(result).toMatchObject({ accepted: 27, duplicates: 0, detections: 4 });
    const mine = await detections(tokens.readerB);
    expect(mine.totalCount).toBe(4);
    expect((await detections(tokens.reader)).totalCount).toBe(before);
    const theirs = new Set((await detections(tokens.reader)).nodes.map((d) => d.id));
    // tenant-a has detections of the same records: the two sets are compared, not an empty one.
    expect(theirs.size).toBeGreaterThan(0);
    expect(mine.nodes.some((d) => theirs.has(d.id))).toBe(false);
    // tenant-b's detections name tenant-a's machines, which tenant-b's inventory does not know.
    expect(mine.nodes.every((d) => d.resource === null)).toBe(true);
    // One by id: each tenant reads its own, and another tenant's id is as absent as one that never existed.
    const one = async (id: string, token: string) =>
      ok(await platform.request(DetectionDocument, { id }, token)).detection;
    const [own, other] = [mine.nodes[0], (await detections(tokens.reader)).nodes[0]];
    expect(await one(own.id, tokens.readerB)).toMatchObject({
      id: own.id,
      kind: own.kind,
      evidence: own.evidence,
    });
    expect(await one(own.id.toUpperCase(), tokens.readerB)).toMatchObject({ id: own.id });
    expect(await one(other.id, tokens.readerB)).toBeNull();
    expect(await one(own.id, tokens.reader)).toBeNull();
    expect(await one("not-a-uuid", tokens.readerB)).toBeNull();
  });

  it("delivers every detection to the SIEM once: WORKLOAD_PROTECTION alerts with the resource, grouped into incidents", async () => {
    await eventually(
      "the relay delivered tenant-a's detections",
      async () => (await queued(tokens.reader)) === 0,
    );
    const { nodes } = await detections(tokens.reader);
    expect(nodes.length).toBe(EXPECTED.length + 1);
    const alerts = await workloadAlerts(tokens.reader);
    expect(alerts.map((a) => a.sourceId).sort()).toEqual(nodes.map((d) => d.sourceId).sort());
    for (const d of nodes) {
      const alert = alerts.find((a) => a.sourceId === d.sourceId)!;
      expect(d.alert?.id).toBe(alert.id);
      expect(alert).toMatchObject({
        title: d.title,
        severity: d.severity,
        tactics: d.tactics,
        techniques: d.techniques,
      });
      expect(alert.remediation).toEqual(d.remediation);
      expect(alert.resource?.name).toBe(d.resource?.name);
      expect(alert.entities).toEqual(expect.arrayContaining(d.entities));
      // The process / file / host details travel with the alert, and the alert leads back to its detection.
      expect(alert.evidence).toEqual(d.evidence);
      expect(Object.keys(alert.evidence as object).length).toBeGreaterThan(0);
      expect(alert.detection).toEqual({ id: d.id, kind: d.kind, evidence: d.evidence });
    }
    const incidents = ok(await platform.request(WorkloadIncidentsDocument, {}, tokens.reader)).incidents
      .nodes;
    const grouping = incidents
      .map((i) => i.alerts.nodes.filter((a) => a.provider === "WORKLOAD_PROTECTION").map((a) => a.sourceId))
      .filter((list) => list.length > 0);
    // Every alert is in an incident, and a machine's alerts are together (they share its HOST entity; the
    // SIEM may join machines whose alerts share another entity, e.g. the same powershell.exe).
    expect(grouping.flat().sort()).toEqual(alerts.map((a) => a.sourceId).sort());
    for (const resourceId of new Set(nodes.map((d) => d.resourceId))) {
      const mine = new Set(nodes.filter((d) => d.resourceId === resourceId).map((d) => d.sourceId));
      expect(grouping.filter((list) => list.some((x) => mine.has(x))).length).toBe(1);
    }
    expect(grouping.length).toBeLessThan(alerts.length);
  });

  it("queues detections while the SIEM is down and delivers each exactly once after it restarts, also when forced to redeliver", async () => {
    const failedBefore = await metric("rampart_relay_failed_total", {
      consumer: "siem-alerts",
      kind: "attempt",
    });
    await platform.subgraphs.siem.close();

    const result = await ingest(fixture("process"), tokens.ingestorR);
    expect(result.detections).toBe(4);
    // Queued: the detections wait undelivered, their outbox rows after the relay's offset.
    expect(await queued(tokens.readerR)).toBe(4);
    const pending = () =>
      inSystemScope(ds, async (m) => {
        const [row] = await m.query(
          `SELECT count(*)::int AS n FROM outbox o, relay_offsets r
           WHERE r.consumer = 'siem-alerts' AND o.topic = 'detection.raised' AND o.tenant_id = 'tenant-r'
             AND (o.xid, o.seq) > (r.xid, r.seq)`,
        );
        return row.n as number;
      });
    expect(await pending()).toBe(4);
    await eventually(
      "the relay tried and failed",
      async () =>
        (await metric("rampart_relay_failed_total", { consumer: "siem-alerts", kind: "attempt" })) >
        failedBefore,
    );
    expect(await queued(tokens.readerR)).toBe(4);

    await platform.restartSubgraph("siem");
    await eventually(
      "the relay delivered after the restart",
      async () => (await queued(tokens.readerR)) === 0,
    );
    expect(await pending()).toBe(0);
    const sourceIds = (await detections(tokens.readerR)).nodes.map((d) => d.sourceId).sort();
    const once = async () => {
      const alerts = await workloadAlerts(tokens.readerR);
      expect(alerts.map((a) => a.sourceId).sort()).toEqual(sourceIds);
    };
    await once();

    // Forced redelivery: the offset goes back to the start and the relay sends every detection again;
    // the SIEM recognises each sourceId and keeps one alert each.
    const deliveredBefore = await metric("rampart_relay_delivered_total", { consumer: "siem-alerts" });
    const total = await inSystemScope(ds, async (m) => {
      const [row] = await m.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'detection.raised'`);
      await m.query(`UPDATE relay_offsets SET xid = '0', seq = 0 WHERE consumer = 'siem-alerts'`);
      return row.n as number;
    });
    await eventually(
      "the relay sent everything again",
      async () =>
        (await metric("rampart_relay_delivered_total", { consumer: "siem-alerts" })) >=
        deliveredBefore + total,
    );
    await once();
    expect((await workloadAlerts(tokens.reader)).length).toBe((await detections(tokens.reader)).totalCount);
  });

  it("lets one relay at a time work a consumer's offset (replicas take turns)", async () => {
    let release!: () => void;
    let entered!: () => void;
    const inDelivery = new Promise<void>((r) => (entered = r));
    const blocked = new Promise<void>((r) => (release = r));
    const relay = (deliver: RelayDelivery) =>
      new OutboxRelay(ds, {
        subgraph: "protection",
        consumer: "test-replicas",
        topics: ["detection.raised"],
        deliver,
        log: createLogger("t", "silent"),
      });
    const first = relay(async (records) => {
      entered();
      await blocked;
      return { delivered: records.length, rejected: 0 };
    }).runOnce();
    await inDelivery;
    // The second replica finds the relay taken and does nothing.
    expect(await relay(async () => ({ delivered: 0, rejected: 0 })).runOnce()).toBeNull();
    release();
    const round = await first;
    expect(round?.delivered).toBeGreaterThan(0);
    // The next round goes on from the first one's offset: nothing the first delivered comes again
    // (rows held back by a transaction running during the first round may come now, after it).
    const after = (p: { xid: string; seq: string }, q: { xid: string; seq: string }) =>
      BigInt(p.xid) > BigInt(q.xid) || (p.xid === q.xid && BigInt(p.seq) > BigInt(q.seq));
    const seen: Array<{ xid: string; seq: string }> = [];
    const next = await relay(async (records) => {
      seen.push(...records.map((r) => r.position));
      return { delivered: records.length, rejected: 0 };
    }).runOnce();
    expect(seen.every((p) => after(p, round!.position))).toBe(true);
    if (next!.read === 0) expect(next!.position).toEqual(round!.position);
  });

  it("the maintenance job creates the coming days' partitions and drops whole partitions past the retention", async () => {
    const day = (offset: number) => dayOf(Date.now() + offset * DAY);
    await telemetryPartitions.ensure(ds, [day(-45), day(-31), day(-29)]);
    const tasks = telemetryTasks(ds, createLogger("t", "silent"), platform.config);
    await (tasks.telemetry_maintenance as () => Promise<void>)();
    const names = await telemetryPartitions.list(ds);
    expect(names).not.toContain(telemetryPartitions.partitionName(day(-45)));
    expect(names).not.toContain(telemetryPartitions.partitionName(day(-31)));
    expect(names).toContain(telemetryPartitions.partitionName(day(-29)));
    for (const d of [0, 1, 2]) expect(names).toContain(telemetryPartitions.partitionName(day(d)));
    // Every partition carries the tenant policy, forced.
    const unforced = await ds.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = 'telemetry' AND NOT c.relforcerowsecurity`,
    );
    expect(unforced).toEqual([]);
  });
});
