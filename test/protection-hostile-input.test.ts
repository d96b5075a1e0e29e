import { randomUUID } from "node:crypto";
import { print, type DocumentNode } from "graphql";
import type { DataSource } from "typeorm";
import {
  ApproveAppControlRulesDocument,
  ApproveJitRequestDocument,
  AppControlGroupDocument,
  DenyJitRequestDocument,
  DetectionsDocument,
  HostileAppControlMachinesDocument,
  HostileAppControlRulesDocument,
  HostileFileChangesDocument,
  ImportAdvisoriesDocument,
  IngestPackageInventoryDocument,
  IngestTelemetryDocument,
  JitAuditLogDocument,
  JitRequestDocument,
  JitRequestsDocument,
  LearnAppControlDocument,
  RemoveJitPolicyDocument,
  RequestJitAccessDocument,
  ResetFimWatchedPathsDocument,
  ResourceFileChangesDocument,
  ResourceHardeningDocument,
  ResourceJitPolicyDocument,
  RevokeJitRequestDocument,
  SetAppControlModeDocument,
  SetFimWatchedPathsDocument,
  SetJitPolicyDocument,
  SetPlanDocument,
  UpsertResourcesDocument,
  type RequestJitAccessInput,
  type SetJitPolicyInput,
} from "./__generated__/graphql";
import { encodeCursor, IDENTITY_HEADER, inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { codes, problems } from "./utils/errors";
import { ok, seedTenant } from "./utils/seed";

/**
 * Hostile and odd input on every write path of workload protection and on the query arguments that reach
 * SQL, through the gateway on a real database: bad input is a typed error or a per-record rejection, the
 * good records of the same call are kept, nothing is half-written and nothing answers 500. Rows are counted
 * as protection's own role (RLS applies).
 */

const A = "tenant-a";
const B = "tenant-b";

/** A time a minute ago (inside the telemetry retention). */
const recent = () => new Date(Date.now() - 60_000).toISOString();
/** `n` CJK characters (3 UTF-8 bytes each) that Postgres cannot compress away. */
const incompressible = (n: number, seed = 1) =>
  Array.from({ length: n }, (_, i) =>
    String.fromCharCode(0x4e00 + ((i * 7919 + seed * 104729) % 20000)),
  ).join("");
/** `[[[…1…]]]` nested `depth` levels, as text (JSON.stringify itself would overflow on it). */
const nested = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
const NUL = "\u0000";
const LONE = "\ud800";

type Rec = Record<string, unknown>;
const base = (kind: string, resourceId: string, id: string, extra: Rec = {}): Rec => ({
  kind,
  id,
  resourceId,
  time: recent(),
  host: "vm-probe-01",
  ...extra,
});
const proc = (resourceId: string, id: string, extra: Rec = {}) =>
  base("process", resourceId, id, {
    pid: 4242,
    image: "/usr/bin/true",
    commandLine: "true --version",
    user: "root",
    ...extra,
  });
const file = (resourceId: string, id: string, extra: Rec = {}) =>
  base("file", resourceId, id, { action: "modified", path: "/srv/app/config.yml", ...extra });
const flow = (resourceId: string, id: string, extra: Rec = {}) =>
  base("flow", resourceId, id, {
    direction: "inbound",
    protocol: "TCP",
    srcIp: "198.51.100.7",
    srcPort: 50_000,
    dstIp: "10.0.0.4",
    dstPort: 8443,
    action: "allowed",
    ...extra,
  });
const logon = (resourceId: string, id: string, extra: Rec = {}) =>
  base("logon", resourceId, id, {
    user: "root",
    logonType: "ssh",
    srcIp: "10.0.0.9",
    success: true,
    ...extra,
  });
const packages = (resourceId: string, id: string, extra: Rec = {}, list?: Rec[]) =>
  base("packages", resourceId, id, {
    os: { family: "debian", version: "12" },
    packages: list ?? [{ ecosystem: "Debian", name: "openssl", version: "3.0.11-1~deb12u2" }],
    ...extra,
  });
const ndjson = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

/** A valid OSV advisory with `extra` fields merged in. */
const advisory = (id: string, extra: Rec = {}): Rec => ({
  id,
  modified: "2025-01-01T00:00:00Z",
  summary: `advisory ${id}`,
  affected: [
    {
      package: { ecosystem: "npm", name: "left-pad" },
      ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "1.3.0" }] }],
    },
  ],
  ...extra,
});

/** The codes of a field's errors (the field's parent comes back null, the rest of the answer stands). */
const fieldCodes = (res: GqlResponse<unknown>) => res.errors?.map((e) => e.extensions?.code);

describe("workload protection under hostile input", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<
    "admin" | "analyst" | "reader" | "alice" | "bob" | "ingestor" | "adminB" | "responderB" | "ingestorB",
    string
  >;
  let vm: string;
  let azureAccount: string;
  let storageAccount: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    const token = (roles: Role[], tenant: string, subject: string) => platform.token(roles, tenant, subject);
    t = {
      admin: await token([Role.ADMIN], A, "admin@a.example"),
      analyst: await token([Role.ANALYST], A, "analyst@a.example"),
      reader: await token([Role.READER], A, "reader@a.example"),
      alice: await token([Role.RESPONDER], A, "alice@a.example"),
      bob: await token([Role.RESPONDER], A, "bob@a.example"),
      ingestor: await token([Role.INGESTOR], A, "agent@a.example"),
      adminB: await token([Role.ADMIN], B, "admin@b.example"),
      responderB: await token([Role.RESPONDER], B, "responder@b.example"),
      ingestorB: await token([Role.INGESTOR], B, "agent@b.example"),
    };
    ds = await platform.connect("protection");
    const seeded = await seedTenant(platform, A, 3);
    vm = seeded.vmIds[0];
    azureAccount = seeded.accountIds.azure;
    storageAccount = seeded.resourceIds[1];
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const origin = () => platform.gateway.url.replace(/\/graphql$/, "");
  /** POST /ingest/telemetry through the gateway. */
  const ingest = async (body: string, token = t.ingestor) => {
    const res = await fetch(`${origin()}/ingest/telemetry`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${token}` },
      body,
    });
    const text = await res.text();
    return {
      status: res.status,
      body: JSON.parse(text) as {
        accepted?: number;
        duplicates?: number;
        rejected?: Array<{ line: number; reason: string }>;
        errors?: Array<{ message: string; extensions: { code: string } }>;
      },
    };
  };
  /** Rows of a protection table in a tenant (as protection's role, under RLS). */
  const query = <T = Rec>(tenant: string, sql: string, params: unknown[] = []) =>
    inTenant(ds, tenant, (m) => m.query(sql, params) as Promise<T[]>);
  const count = async (tenant: string, table: string, where = "true", params: unknown[] = []) =>
    (await query<{ n: number }>(tenant, `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params))[0]
      .n;
  const recordIds = async (tenant: string, resourceId: string) =>
    (
      await query<{ id: string }>(
        tenant,
        `SELECT record_id AS id FROM telemetry WHERE resource_id = $1 ORDER BY 1`,
        [resourceId],
      )
    ).map((r) => r.id);
  const reasons = (rejected: Array<{ line: number; reason: string }> | undefined) =>
    Object.fromEntries((rejected ?? []).map((r) => [r.line, r.reason]));

  describe("POST /ingest/telemetry", () => {
    it("rejects, line by line, strings Postgres cannot store, and keeps the good records", async () => {
      const m = randomUUID();
      const body = ndjson([
        proc(m, "good-1"),
        proc(m, "p-nul-cmd", { commandLine: `powershell ${NUL}-enc` }),
        proc(m, "p-lone-cmd", { commandLine: `run ${LONE}` }),
        proc(m, "p-lone-image", { image: `/usr/bin/x${LONE}` }),
        proc(m, "p-lone-parent", { parentImage: `/usr/bin/p${LONE}` }),
        proc(m, "p-lone-user", { user: `r${LONE}oot` }),
        proc(m, "p-lone-publisher", { publisher: `Contoso ${LONE}` }),
        file(m, "f-lone-path", { path: `/srv/app/${LONE}.yml` }),
        file(m, "f-lone-prev", { action: "renamed", previousPath: `/srv/app/${LONE}.old` }),
        logon(m, "l-lone-reason", { success: false, failureReason: `bad ${LONE}` }),
        packages(m, "pk-lone-os", { os: { family: "debian", version: `12${LONE}` } }),
        packages(m, "pk-lone-name", {}, [{ ecosystem: "Debian", name: `libc${LONE}`, version: "2.36" }]),
        packages(m, "pk-nul-version", {}, [{ ecosystem: "Debian", name: "libc6", version: `2.36${NUL}` }]),
        proc(m, "good-2", { commandLine: "emoji \ud83d\ude00 are fine" }),
      ]);
      const res = await ingest(body);
      expect(res.status).toBe(200);
      expect(res.body.accepted).toBe(2);
      const lone = "is not valid Unicode (an unpaired surrogate)";
      expect(reasons(res.body.rejected)).toEqual({
        2: "commandLine: contains a NUL character (U+0000)",
        3: `commandLine: ${lone}`,
        4: `image: ${lone}`,
        5: `parentImage: ${lone}`,
        6: `user: ${lone}`,
        7: `publisher: ${lone}`,
        8: `path: ${lone}`,
        9: `previousPath: ${lone}`,
        10: `failureReason: ${lone}`,
        11: `os.version: ${lone}`,
        12: `packages[0].name: ${lone}`,
        13: "packages[0].version: must not contain control characters",
      });
      expect(await recordIds(A, m)).toEqual(["good-1", "good-2"]);
      expect(await count(A, "package_snapshots", "resource_id = $1", [m])).toBe(0);
    });

    it("rejects time zones Postgres cannot read and keeps the rest of the batch", async () => {
      const m = randomUUID();
      const at = new Date(Date.now() - 3_600_000);
      // The same instant written with a +20:00 offset (valid ISO 8601, beyond Postgres's ±15:59).
      const far = new Date(at.getTime() + 20 * 3_600_000).toISOString().replace("Z", "+20:00");
      const near = new Date(at.getTime() + 14 * 3_600_000).toISOString().replace("Z", "+14:00");
      const res = await ingest(
        ndjson([
          packages(m, "pk-far", { time: far }),
          file(m, "f-far", { path: "/etc/passwd", time: far }),
          flow(m, "fl-far", { dstPort: 22, time: far }),
          flow(m, "fl-near", { dstPort: 22, time: near }),
          packages(m, "pk-near", { time: near }),
        ]),
      );
      expect(res.status).toBe(200);
      expect(res.body.accepted).toBe(2);
      expect(res.body.rejected!.map((r) => r.line)).toEqual([1, 2, 3]);
      expect(await recordIds(A, m)).toEqual(["fl-near", "pk-near"]);
      const [snapshot] = await query<{ taken_at: Date }>(
        A,
        `SELECT taken_at FROM package_snapshots WHERE resource_id = $1`,
        [m],
      );
      expect(snapshot.taken_at.toISOString()).toBe(at.toISOString());
    });

    it("takes a machine id written in upper and lower case as one machine", async () => {
      const m = randomUUID();
      const upper = m.toUpperCase();
      const fileUpper = file(upper, "f-upper", { path: "/etc/passwd", sha256: "b".repeat(64) });
      // All new: the baselines and the exposure of one machine, each written twice in one statement.
      const first = await ingest(
        ndjson([
          file(m, "f-lower", { path: "/etc/passwd", sha256: "a".repeat(64) }),
          fileUpper,
          flow(m, "fl-lower", { dstPort: 22 }),
          flow(upper, "fl-upper", { dstPort: 22 }),
        ]),
      );
      expect({ status: first.status, body: first.body }).toMatchObject({
        status: 200,
        body: { accepted: 4, duplicates: 0, rejected: [] },
      });
      // A record sent again in the other case is a duplicate; the new one is counted (and run) as new.
      const again = await ingest(ndjson([{ ...fileUpper, resourceId: m }, proc(upper, "p-new")]));
      expect(again.body).toMatchObject({ accepted: 1, duplicates: 1, rejected: [], kinds: { process: 1 } });
      expect(await recordIds(A, m)).toEqual(["f-lower", "f-upper", "fl-lower", "fl-upper", "p-new"]);
      expect(await count(A, "fim_baselines", "resource_id = $1", [m])).toBe(1);
      const [exposure] = await query<{ connections: string }>(
        A,
        `SELECT connections FROM management_port_exposure WHERE resource_id = $1 AND port = 22`,
        [m],
      );
      expect(Number(exposure.connections)).toBe(2);
      // One detection for the critical file, not one per spelling of the machine.
      expect(await count(A, "detections", "resource_id = $1", [m])).toBe(1);
    });

    it("keeps a baseline for a watched path longer than a btree index entry", async () => {
      const m = randomUUID();
      const long = `/etc/pam.d/${incompressible(1300)}`;
      const res = await ingest(
        ndjson([file(m, "f-long", { path: long, sha256: "c".repeat(64) }), proc(m, "p-after")]),
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ accepted: 2, rejected: [] });
      expect(await recordIds(A, m)).toEqual(["f-long", "p-after"]);
      const [baseline] = await query<{ path: string; sha256: string }>(
        A,
        `SELECT path, sha256 FROM fim_baselines WHERE resource_id = $1`,
        [m],
      );
      expect(baseline).toEqual({ path: long, sha256: "c".repeat(64) });
    });

    it("rejects numbers out of range, wrong JSON types, impossible dates and deep nesting per line", async () => {
      const m = randomUUID();
      const lines = [
        JSON.stringify(proc(m, "good-1")),
        JSON.stringify(proc(m, "pid-big", { pid: 2 ** 32 })),
        JSON.stringify(proc(m, "pid-neg", { pid: -1 })),
        JSON.stringify(proc(m, "pid-frac", { pid: 1.5 })),
        JSON.stringify(proc(m, "pid-str", { pid: "42" })),
        JSON.stringify(flow(m, "port-big", { dstPort: 65_536 })),
        JSON.stringify(file(m, "size-inf", {})).replace(/}$/, ',"size":1e400}'),
        JSON.stringify(flow(m, "bytes-neg", { bytes: -1 })),
        JSON.stringify(proc(m, "time-0", { time: "0000-01-01T00:00:00Z" })),
        JSON.stringify(proc(m, "time-feb30", { time: "2025-02-30T00:00:00Z" })),
        JSON.stringify(proc(m, "time-far", { time: "+275760-09-13T00:00:00Z" })),
        JSON.stringify(proc(m, "time-nozone", { time: recent().replace("Z", "") })),
        nested(50_000),
        JSON.stringify(proc(m, "deep-extra")).replace(/}$/, `,"extra":${nested(50_000)}}`),
        JSON.stringify(proc(m, "deep-packages", {})).replace(/}$/, `,"packages":${nested(5_000)}}`),
        JSON.stringify(base("packages", m, "pk-deep", { os: { family: "debian", version: "12" } })).replace(
          /}$/,
          `,"packages":[${nested(5_000)}]}`,
        ),
        JSON.stringify(proc(m, "good-2")),
      ];
      const res = await ingest(lines.join("\n"));
      expect(res.status).toBe(200);
      // An unknown field is dropped however deep it is: the record itself is good.
      expect(res.body.accepted).toBe(4);
      expect(res.body.rejected!.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16]);
      expect(await recordIds(A, m)).toEqual(["deep-extra", "deep-packages", "good-1", "good-2"]);
    });

    it("answers 403 to roles that may not ingest and stores a tenant's records in that tenant only", async () => {
      const m = randomUUID();
      for (const token of [t.reader, t.analyst, t.alice]) {
        const res = await ingest(ndjson([proc(m, "denied")]), token);
        expect({ status: res.status, code: res.body.errors?.[0]?.extensions.code }).toEqual({
          status: 403,
          code: "FORBIDDEN",
        });
      }
      const res = await ingest(ndjson([proc(m, "from-b")]), t.ingestorB);
      expect(res.body).toMatchObject({ accepted: 1, rejected: [] });
      expect(await recordIds(A, m)).toEqual([]);
      expect(await recordIds(B, m)).toEqual(["from-b"]);
    });
  });

  describe("ingestTelemetry and ingestPackageInventory (GraphQL)", () => {
    it("rejects unstorable strings per record and keeps the good ones", async () => {
      const m = randomUUID();
      const res = await platform.request(
        IngestTelemetryDocument,
        {
          records: [
            proc(m, "g-good"),
            proc(m, "g-nul", { commandLine: `a${NUL}b` }),
            logon(m, "g-lone", { success: false, failureReason: LONE }),
            file(m, "g-key", { path: "/srv/x" }),
          ],
        },
        t.ingestor,
      );
      const payload = ok(res).ingestTelemetry;
      expect(payload.acceptedCount).toBe(2);
      expect(payload.rejected.map((r) => r.line)).toEqual([2, 3]);
      expect(await recordIds(A, m)).toEqual(["g-good", "g-key"]);
    });

    it("refuses oversized batches and callers without the role, changing nothing", async () => {
      const m = randomUUID();
      const many = Array.from({ length: 1001 }, (_, i) => proc(m, `many-${i}`));
      expect(
        problems(await platform.request(IngestTelemetryDocument, { records: many }, t.ingestor)),
      ).toEqual(["records: got 1001"]);
      for (const token of [t.reader, t.analyst, t.alice]) {
        expect(
          codes(await platform.request(IngestTelemetryDocument, { records: [proc(m, "x")] }, token)),
        ).toEqual(["FORBIDDEN"]);
        expect(
          codes(
            await platform.request(IngestPackageInventoryDocument, { records: [packages(m, "x")] }, token),
          ),
        ).toEqual(["FORBIDDEN"]);
      }
      expect(await recordIds(A, m)).toEqual([]);
    });

    it("refuses records nested thousands of levels deep when the subgraph is reached directly", async () => {
      const m = randomUUID();
      const deep = nested(20_000);
      /** Posts to protection itself, as the gateway would (which refuses variables past 2,000 levels). */
      const direct = async (document: DocumentNode, argument: string, items: string) => {
        const res = await fetch(platform.subgraphs.protection.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            [IDENTITY_HEADER]: await platform.internalToken([Role.ADMIN], A),
          },
          body: `{"query":${JSON.stringify(print(document))},"variables":{"${argument}":[${items}]}}`,
        });
        return { status: res.status, ...((await res.json()) as Omit<GqlResponse<unknown>, "status">) };
      };
      const good = JSON.stringify(proc(m, "direct-good"));
      // Deep inside an object, a record is read as usual (unknown fields are dropped).
      const extra = JSON.stringify(proc(m, "direct-extra")).replace(/}$/, `,"x":${deep}}`);
      for (const [document, argument, first] of [
        [IngestTelemetryDocument, "records", good],
        [IngestPackageInventoryDocument, "records", JSON.stringify(packages(m, "direct-pk"))],
        [ImportAdvisoriesDocument, "osv", JSON.stringify(advisory("GHSA-deep-0000-0001"))],
      ] as const)
        expect(problems(await direct(document, argument, `${first},${deep}`))).toEqual([
          `[1].${argument}: is nested deeper than 100 levels`,
        ]);
      const fine = await direct(IngestTelemetryDocument, "records", `${good},${extra},${nested(100)}`);
      expect(fine.data).toEqual({
        ingestTelemetry: {
          acceptedCount: 2,
          duplicateCount: 0,
          detectionCount: 0,
          rejected: [{ line: 3, reason: "record: expected object, got array" }],
        },
      });
      expect(await recordIds(A, m)).toEqual(["direct-extra", "direct-good"]);
      expect(await count(A, "package_snapshots", "resource_id = $1", [m])).toBe(0);
      expect(await count(A, "advisories", "id = 'GHSA-deep-0000-0001'")).toBe(0);
    });

    it("keeps one snapshot per machine however its id is written, and rejects unstorable package names", async () => {
      const m = randomUUID();
      const res = ok(
        await platform.request(
          IngestPackageInventoryDocument,
          {
            records: [
              packages(m, "inv-1", { time: new Date(Date.now() - 120_000).toISOString() }),
              packages(m.toUpperCase(), "inv-2"),
              packages(randomUUID(), "inv-bad", {}, [
                { ecosystem: "npm", name: `x${LONE}`, version: "1.0.0" },
              ]),
              proc(m, "not-packages"),
            ],
          },
          t.ingestor,
        ),
      ).ingestPackageInventory;
      expect(res.acceptedCount).toBe(1);
      expect(res.staleCount).toBe(1);
      expect(res.rejected.map((r) => [r.index, r.field])).toEqual([
        [2, "record"],
        [3, "kind"],
      ]);
      expect(await count(A, "package_snapshots", "resource_id = $1", [m])).toBe(1);
    });
  });

  describe("importAdvisories", () => {
    it("imports an id given twice in one call once, keeping the newest", async () => {
      const res = ok(
        await platform.request(
          ImportAdvisoriesDocument,
          {
            osv: [
              advisory("GHSA-dup0-0000-0001", { modified: "2025-03-01T00:00:00Z", summary: "newest" }),
              advisory("GHSA-dup0-0000-0001", { modified: "2025-01-01T00:00:00Z", summary: "older" }),
              advisory("GHSA-dup0-0000-0002"),
            ],
          },
          t.admin,
        ),
      ).importAdvisories;
      expect(res).toMatchObject({ importedCount: 2, unchangedCount: 1, rejected: [] });
      const rows = await query<{ summary: string }>(
        A,
        `SELECT advisory->>'summary' AS summary FROM advisories WHERE id = 'GHSA-dup0-0000-0001'`,
      );
      expect(rows).toEqual([{ summary: "newest" }]);
    });

    it("rejects advisories Postgres cannot store and keeps the good ones", async () => {
      const before = await count(A, "advisories");
      const res = ok(
        await platform.request(
          ImportAdvisoriesDocument,
          {
            osv: [
              advisory("GHSA-good-0000-0001"),
              advisory(`GHSA-${incompressible(1000)}`),
              advisory("GHSA-nul0-0000-0001", { summary: `bad${NUL}` }),
              advisory("GHSA-lone-0000-0001", { details: `bad${LONE}` }),
              advisory("GHSA-lone-0000-0002", { aliases: [`CVE-2025-${LONE}`] }),
              advisory("GHSA-lone-0000-0003", {
                affected: [
                  {
                    package: { ecosystem: "npm", name: `x${LONE}` },
                    ranges: [{ type: "SEMVER", events: [{ introduced: "0" }] }],
                  },
                ],
              }),
              advisory("GHSA-year-0000-0000", { modified: "0000-01-01T00:00:00Z" }),
              advisory("GHSA-feb3-0000-0000", { modified: "2025-02-30T00:00:00Z" }),
              advisory("GHSA-zone-0000-0000", { modified: "2025-01-01T00:00:00+23:00" }),
              advisory("GHSA-good-0000-0002"),
            ],
          },
          t.admin,
        ),
      ).importAdvisories;
      expect(res.importedCount).toBe(3);
      expect([...new Set(res.rejected.map((r) => r.index))]).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(res.rejected.find((r) => r.index === 1)).toMatchObject({ field: "$.id" });
      expect((await count(A, "advisories")) - before).toBe(3);
      const [zone] = await query<{ modified: Date }>(
        A,
        `SELECT modified FROM advisories WHERE id = 'GHSA-zone-0000-0000'`,
      );
      expect(zone.modified.toISOString()).toBe("2024-12-31T01:00:00.000Z");
    });

    it("is for feeds (INGESTOR) and admins only", async () => {
      for (const token of [t.analyst, t.alice, t.reader])
        expect(
          codes(await platform.request(ImportAdvisoriesDocument, { osv: [advisory("GHSA-role")] }, token)),
        ).toEqual(["FORBIDDEN"]);
      expect(await count(A, "advisories", "id = 'GHSA-role'")).toBe(0);
      ok(await platform.request(ImportAdvisoriesDocument, { osv: [advisory("GHSA-role")] }, t.ingestor));
      expect(await count(A, "advisories", "id = 'GHSA-role'")).toBe(1);
    });
  });

  describe("just-in-time access", () => {
    /** A new VM of tenant A's inventory: each test has its own, so one's policies and requests meet no other's. */
    const machine = async (): Promise<string> => {
      const name = `jit-${randomUUID()}`;
      const input = [
        {
          accountId: azureAccount,
          externalId: `/subscriptions/hostile/virtualMachines/${name}`,
          type: "Microsoft.Compute/virtualMachines",
          name,
          region: "westeurope",
          tags: {},
          properties: {},
        },
      ];
      const [id] = ok(await platform.request(UpsertResourcesDocument, { input }, t.admin)).upsertResources
        .ids;
      return id!;
    };
    const policy = (resourceId: string, ports?: SetJitPolicyInput["ports"]): SetJitPolicyInput => ({
      resourceId,
      ports: ports ?? [
        { number: 22, protocol: "TCP", allowedSourcePrefixes: ["203.0.113.0/24"], maxDuration: "PT3H" },
        { number: 3389, protocol: "ANY", allowedSourcePrefixes: ["*"], maxDuration: "PT1H" },
      ],
    });
    const ask = (resourceId: string, input: Partial<RequestJitAccessInput> = {}, token = t.alice) =>
      platform.request(
        RequestJitAccessDocument,
        {
          input: {
            resourceId,
            ports: [22],
            sourceIp: "203.0.113.10",
            duration: "PT1H",
            justification: "patch sshd",
            ...input,
          },
        },
        token,
      );
    const requests = (resourceId: string) => count(A, "jit_requests", "resource_id = $1", [resourceId]);
    const audits = (action: string) => count(A, "audit_log", "action = $1", [action]);

    it("refuses malformed policies with every problem named, writing nothing", async () => {
      const m = randomUUID();
      const res = await platform.request(
        SetJitPolicyDocument,
        {
          input: policy(m, [
            { number: 0, protocol: "TCP", allowedSourcePrefixes: ["*"] },
            { number: 65_536, protocol: "TCP", allowedSourcePrefixes: ["*"] },
            { number: 22, protocol: "TCP", allowedSourcePrefixes: ["10.0.0.5/8"], maxDuration: "PT0S" },
            { number: 22, protocol: "UDP", allowedSourcePrefixes: ["*", "10.0.0.0/8"], maxDuration: "P2D" },
            { number: 23, protocol: "TCP", allowedSourcePrefixes: [], maxDuration: "-PT1H" },
            { number: 24, protocol: "TCP", allowedSourcePrefixes: ["fe80::1%eth0"], maxDuration: "PT1.5H" },
            {
              number: 25,
              protocol: "TCP",
              allowedSourcePrefixes: [`10.0.0.0/8${NUL}`],
              maxDuration: "P99999999999999999999D",
            },
          ]),
        },
        t.admin,
      );
      expect(problems(res)).toEqual([
        "ports[0].number: must be a port number from 1 to 65535",
        "ports[1].number: must be a port number from 1 to 65535",
        'ports[2].allowedSourcePrefixes[0]: "10.0.0.5/8" has host bits set; did you mean 10.0.0.0/8?',
        "ports[2].maxDuration: must be at least one second (PT1S)",
        "ports[3].number: port 22 is listed twice",
        'ports[3].allowedSourcePrefixes: "*" allows any source and cannot be combined with other prefixes',
        "ports[3].maxDuration: P2D is longer than the maximum PT24H",
        'ports[4].allowedSourcePrefixes: must list 1 to 50 prefixes ("*" for any source)',
        expect.stringMatching(/^ports\[4\]\.maxDuration: "-PT1H" is not an ISO 8601 duration/),
        expect.stringMatching(/^ports\[5\]\.allowedSourcePrefixes\[0\]: "fe80::1%eth0" is not/),
        expect.stringMatching(/^ports\[5\]\.maxDuration: "PT1.5H" is not an ISO 8601 duration/),
        expect.stringMatching(/^ports\[6\]\.allowedSourcePrefixes\[0\]: /),
        'ports[6].maxDuration: "P99999999999999999999D" is too long',
      ]);
      expect(await count(A, "jit_policies", "resource_id = $1", [m])).toBe(0);
    });

    it("sets a policy only for a virtual machine of the tenant's inventory, writing nothing otherwise", async () => {
      const elsewhere = (await seedTenant(platform, "tenant-jit-other", 3)).vmIds[0];
      const setBefore = await audits("jit.policy.set");
      for (const id of [randomUUID(), elsewhere]) {
        const res = await platform.request(SetJitPolicyDocument, { input: policy(id) }, t.admin);
        expect({ id, codes: codes(res) }).toEqual({ id, codes: ["NOT_FOUND"] });
      }
      const notVm = await platform.request(SetJitPolicyDocument, { input: policy(storageAccount) }, t.admin);
      expect(problems(notVm)).toEqual([
        "resourceId: a Microsoft.Storage/storageAccounts is not a virtual machine",
      ]);
      for (const id of [elsewhere, storageAccount])
        expect(await count(A, "jit_policies", "resource_id = $1", [id])).toBe(0);
      expect(await audits("jit.policy.set")).toBe(setBefore);
      // The control: the tenant's own VM takes the same policy.
      const own = await machine();
      expect(
        ok(await platform.request(SetJitPolicyDocument, { input: policy(own) }, t.admin)).setJitPolicy
          .resourceId,
      ).toBe(own);
    });

    it("takes a machine id in upper case as that machine, in the answer and the audit trail", async () => {
      const m = await machine();
      const res = ok(
        await platform.request(SetJitPolicyDocument, { input: policy(m.toUpperCase()) }, t.admin),
      ).setJitPolicy;
      expect(res.resourceId).toBe(m);
      expect(res.ports.map((p) => p.number)).toEqual([22, 3389]);
      expect(await count(A, "jit_policies", "resource_id = $1", [m])).toBe(1);
      const asked = ok(await ask(m.toUpperCase())).requestJitAccess;
      for (const id of [m, m.toUpperCase()]) {
        const trail = ok(
          await platform.request(JitAuditLogDocument, { resourceId: id }, t.reader),
        ).jitAuditLog;
        expect(trail.nodes.map((e) => [e.action, e.resourceId])).toEqual([
          ["REQUEST_CREATED", m],
          ["POLICY_SET", m],
        ]);
      }
      const byUpperId = ok(
        await platform.request(JitRequestDocument, { id: asked.id.toUpperCase() }, t.reader),
      ).jitRequest;
      expect(byUpperId?.id).toBe(asked.id);
      ok(await platform.request(RemoveJitPolicyDocument, { resourceId: m.toUpperCase() }, t.admin));
      const removed = ok(
        await platform.request(JitAuditLogDocument, { resourceId: m }, t.reader),
      ).jitAuditLog;
      expect(removed.nodes.map((e) => e.action).slice(0, 2)).toEqual(["REQUEST_DENIED", "POLICY_REMOVED"]);
    });

    it("refuses bad requests (duration, ports, source, justification) and writes no request", async () => {
      const m = await machine();
      ok(await platform.request(SetJitPolicyDocument, { input: policy(m) }, t.admin));
      const cases: Array<[Partial<RequestJitAccessInput>, string[]]> = [
        [{ duration: "PT0S" }, ["duration: must be at least one second (PT1S)"]],
        [{ duration: "-PT1H" }, [expect.stringMatching(/^duration: "-PT1H" is not an ISO 8601 duration/)]],
        [{ duration: "PT4H" }, ["duration: PT4H is longer than the maximum PT3H"]],
        [{ duration: "P99999999999999999999D" }, ['duration: "P99999999999999999999D" is too long']],
        [{ duration: "1 hour" }, [expect.stringMatching(/^duration: "1 hour" is not an ISO 8601/)]],
        [{ ports: [] }, ["ports: must list 1 to 50 ports"]],
        [{ ports: [22, 22] }, ["ports: lists a port twice"]],
        [{ ports: [0] }, ["ports[0]: port 0 is not in the resource's JIT policy (ports: 22, 3389)"]],
        [{ ports: [-1] }, ["ports[0]: port -1 is not in the resource's JIT policy (ports: 22, 3389)"]],
        [{ ports: [65_557] }, ["ports[0]: port 65557 is not in the resource's JIT policy (ports: 22, 3389)"]],
        [
          { sourceIp: "198.51.100.1" },
          [expect.stringMatching(/^sourceIp: 198.51.100.1 is outside the sources/)],
        ],
        [{ sourceIp: "203.0.113.300" }, ['sourceIp: "203.0.113.300" is not an IPv4 or IPv6 address']],
        [{ sourceIp: `203.0.113.1${NUL}` }, [expect.stringMatching(/^sourceIp: .* is not an IPv4 or IPv6/)]],
        [{ justification: "   " }, ["justification: must be 1 to 1000 characters"]],
        [{ justification: "x".repeat(1001) }, ["justification: must be 1 to 1000 characters"]],
        [{ justification: `a${NUL}b` }, ["justification: contains a NUL character (U+0000)"]],
        [{ justification: `a${LONE}b` }, ["justification: is not valid Unicode (an unpaired surrogate)"]],
      ];
      for (const [input, expected] of cases)
        expect({ input, problems: problems(await ask(m, input)) }).toEqual({ input, problems: expected });
      expect(await requests(m)).toBe(0);
      // A policy-less machine and another tenant's machine are not found.
      expect(codes(await ask(randomUUID()))).toEqual(["NOT_FOUND"]);
      expect(codes(await ask(m, {}, t.responderB))).toEqual(["NOT_FOUND"]);
      expect(codes(await ask("not-a-uuid"))).toEqual(["BAD_USER_INPUT"]);
      // Beyond a GraphQL Int: refused when the variables are read.
      expect(codes(await ask(m, { ports: [2 ** 31] }))).toEqual(["BAD_USER_INPUT"]);
      expect(await requests(m)).toBe(0);
    });

    it("lets only another responder of the tenant decide, once, and only while pending", async () => {
      const m = await machine();
      ok(await platform.request(SetJitPolicyDocument, { input: policy(m) }, t.admin));
      const asked = ok(await ask(m)).requestJitAccess;
      // Own request, other roles, other tenant, bad comment: nothing changes.
      expect(codes(await platform.request(ApproveJitRequestDocument, { id: asked.id }, t.alice))).toEqual([
        "FORBIDDEN",
      ]);
      for (const token of [t.analyst, t.reader, t.ingestor])
        expect(codes(await platform.request(ApproveJitRequestDocument, { id: asked.id }, token))).toEqual([
          "FORBIDDEN",
        ]);
      expect(
        codes(await platform.request(ApproveJitRequestDocument, { id: asked.id }, t.responderB)),
      ).toEqual(["NOT_FOUND"]);
      expect(
        problems(
          await platform.request(ApproveJitRequestDocument, { id: asked.id, comment: `ok${NUL}` }, t.bob),
        ),
      ).toEqual(["comment: contains a NUL character (U+0000)"]);
      expect(
        problems(
          await platform.request(DenyJitRequestDocument, { id: asked.id, reason: `no${LONE}` }, t.bob),
        ),
      ).toEqual(["reason: is not valid Unicode (an unpaired surrogate)"]);
      const [pending] = await query<{ status: string }>(A, `SELECT status FROM jit_requests WHERE id = $1`, [
        asked.id,
      ]);
      expect(pending.status).toBe("PENDING");
      expect(
        codes(await platform.request(DenyJitRequestDocument, { id: asked.id, reason: "mine" }, t.alice)),
      ).toEqual(["FORBIDDEN"]);
      // Two approvals at once: one wins, the other is a conflict; one approval is audited.
      const approvedBefore = await audits("jit.request.approved");
      const carol = await platform.token([Role.RESPONDER], A, "carol@a.example");
      const both = await Promise.all([
        platform.request(ApproveJitRequestDocument, { id: asked.id }, t.bob),
        platform.request(ApproveJitRequestDocument, { id: asked.id }, carol),
      ]);
      const outcome = both.map((r) => (r.errors ? String(r.errors[0].extensions?.code) : "APPROVED")).sort();
      expect(outcome).toEqual(["APPROVED", "CONFLICT"]);
      expect(await audits("jit.request.approved")).toBe(approvedBefore + 1);
      // Decided: neither approvable nor deniable again; revoking needs a reason Postgres can store.
      expect(
        codes(await platform.request(DenyJitRequestDocument, { id: asked.id, reason: "late" }, t.bob)),
      ).toEqual(["CONFLICT"]);
      expect(
        problems(
          await platform.request(RevokeJitRequestDocument, { id: asked.id, reason: `x${NUL}` }, t.bob),
        ),
      ).toEqual(["reason: contains a NUL character (U+0000)"]);
      expect(
        codes(
          await platform.request(RevokeJitRequestDocument, { id: asked.id, reason: "done" }, t.responderB),
        ),
      ).toEqual(["NOT_FOUND"]);
      const [approved] = await query<{ status: string; revoked_at: Date | null }>(
        A,
        `SELECT status, revoked_at FROM jit_requests WHERE id = $1`,
        [asked.id],
      );
      expect(approved).toEqual({ status: "APPROVED", revoked_at: null });
    });

    it("refuses to approve a request left unanswered past its lifetime", async () => {
      const m = await machine();
      ok(await platform.request(SetJitPolicyDocument, { input: policy(m) }, t.admin));
      const asked = ok(await ask(m)).requestJitAccess;
      await query(A, `UPDATE jit_requests SET requested_at = now() - interval '25 hours' WHERE id = $1`, [
        asked.id,
      ]);
      expect(codes(await platform.request(ApproveJitRequestDocument, { id: asked.id }, t.bob))).toEqual([
        "CONFLICT",
      ]);
      const [row] = await query<{ status: string; decided_by: string | null }>(
        A,
        `SELECT status, decided_by FROM jit_requests WHERE id = $1`,
        [asked.id],
      );
      expect(row).toEqual({ status: "PENDING", decided_by: null });
    });

    it("treats another tenant's policy as not found when removing it", async () => {
      const m = await machine();
      ok(await platform.request(SetJitPolicyDocument, { input: policy(m) }, t.admin));
      for (const id of [m, "not-a-uuid"])
        expect(codes(await platform.request(RemoveJitPolicyDocument, { resourceId: id }, t.adminB))).toEqual([
          "NOT_FOUND",
        ]);
      for (const token of [t.analyst, t.alice, t.ingestor])
        expect(codes(await platform.request(RemoveJitPolicyDocument, { resourceId: m }, token))).toEqual([
          "FORBIDDEN",
        ]);
      expect(await count(A, "jit_policies", "resource_id = $1", [m])).toBe(1);
    });

    it("answers query arguments that cannot reach SQL with BAD_USER_INPUT", async () => {
      expect(
        problems(await platform.request(JitRequestsDocument, { filter: { requester: `a${NUL}` } }, t.reader)),
      ).toEqual(["filter.requester: contains a NUL character (U+0000)"]);
      expect(
        problems(await platform.request(JitRequestsDocument, { filter: { resourceId: "nope" } }, t.reader)),
      ).toEqual(["filter.resourceId: must be a resource id (UUID)"]);
      expect(
        problems(await platform.request(JitAuditLogDocument, { resourceId: `x${NUL}` }, t.reader)),
      ).toEqual(["resourceId: must be a resource id (UUID)"]);
      for (const first of [0, 101, -1])
        expect(problems(await platform.request(JitRequestsDocument, { first }, t.reader))).toEqual([
          "first: must be between 1 and 100",
        ]);
      for (const after of [encodeCursor(["x", "y"]), encodeCursor([null, "nope"]), "%%%"])
        expect(problems(await platform.request(JitRequestsDocument, { after }, t.reader))).toEqual([
          "after: not a cursor of this list",
        ]);
      expect(
        problems(
          await platform.request(
            JitAuditLogDocument,
            { resourceId: vm, after: encodeCursor([null, "1e99"]) },
            t.reader,
          ),
        ),
      ).toEqual(["after: not a cursor of this list"]);
      expect(
        ok(await platform.request(JitRequestDocument, { id: `x${NUL}` }, t.reader)).jitRequest,
      ).toBeNull();
      expect(
        ok(await platform.request(ResourceJitPolicyDocument, { id: vm }, t.reader)).resource?.jitPolicy,
      ).toBeNull();
    });
  });

  describe("application control and file integrity monitoring", () => {
    /** A tenant of its own: learning groups every machine with executions, and the inventory must know them. */
    const C = "tenant-c";
    let c: Record<"admin" | "reader" | "ingestor" | "analyst", string>;
    let groupId: string;
    let ruleIds: string[];
    const approvedRules = () => count(C, "app_control_rules", "status = 'APPROVED'");
    const learnedRuns = () => count(C, "audit_log", "action = 'appcontrol.learned'");

    beforeAll(async () => {
      c = {
        admin: await platform.token([Role.ADMIN], C, "admin@c.example"),
        reader: await platform.token([Role.READER], C, "reader@c.example"),
        ingestor: await platform.token([Role.INGESTOR], C, "agent@c.example"),
        analyst: await platform.token([Role.ANALYST], C, "analyst@c.example"),
      };
      const [m1, m2] = (await seedTenant(platform, C, 6)).vmIds;
      const run = (m: string, host: string, n: number) =>
        ["/usr/sbin/nginx", "/usr/bin/node", "/usr/bin/gzip"].map((image, i) =>
          proc(m, `ac-${n}-${i}`, { image, host }),
        );
      const res = await ingest(ndjson([...run(m1, "web-c-01", 1), ...run(m2, "web-c-02", 2)]), c.ingestor);
      expect(res.body).toMatchObject({ accepted: 6, rejected: [] });
      const learned = ok(await platform.request(LearnAppControlDocument, {}, c.admin)).learnAppControl;
      expect(learned.groups).toHaveLength(1);
      groupId = learned.groups[0].id;
      const detail = ok(
        await platform.request(AppControlGroupDocument, { id: groupId }, c.reader),
      ).appControlGroup!;
      ruleIds = detail.rules.nodes.map((r) => r.id);
      expect(ruleIds).toHaveLength(3);
    });

    it("lists a group whose machine the inventory does not know, with that machine as null", async () => {
      // An agent may report a machine id the inventory has never seen. Its group's `machines` item is null;
      // before, the non-null item failed the whole answer, so one such agent blanked every admin's view.
      const D = "tenant-d";
      const [admin, ingestor] = [
        await platform.token([Role.ADMIN], D, "admin@d.example"),
        await platform.token([Role.INGESTOR], D, "agent@d.example"),
      ];
      const [known] = (await seedTenant(platform, D, 2)).vmIds;
      const unknown = randomUUID();
      const run = (m: string, host: string) =>
        ["/usr/sbin/nginx", "/usr/bin/node"].map((image, i) => proc(m, `${host}-${i}`, { image, host }));
      const res = await ingest(ndjson([...run(known, "web-d-01"), ...run(unknown, "web-d-02")]), ingestor);
      expect(res.body).toMatchObject({ accepted: 4, rejected: [] });
      ok(await platform.request(LearnAppControlDocument, {}, admin));
      const groups = await platform.request(HostileAppControlMachinesDocument, {}, admin);
      expect(groups.errors).toBeUndefined();
      const machines = groups.data!.appControlGroups.nodes.flatMap((g) => g.machines);
      expect(machines.filter((m) => m !== null).map((m) => m!.id)).toEqual([known]);
      expect(machines.filter((m) => m === null)).toHaveLength(1);
    });

    it("refuses learning windows outside PT1H to P90D, learning nothing", async () => {
      const runs = await learnedRuns();
      for (const window of [
        "",
        "P",
        "PT",
        "PT0S",
        "PT59M",
        "P91D",
        "P1Y",
        "P1M",
        "PT1.5H",
        "-P1D",
        "P99999D",
        `P1D${NUL}`,
      ])
        expect({
          window,
          problems: problems(await platform.request(LearnAppControlDocument, { input: { window } }, c.admin)),
        }).toEqual({
          window,
          problems: [expect.stringMatching(/^window: must be/)],
        });
      for (const token of [c.analyst, c.ingestor, c.reader])
        expect(codes(await platform.request(LearnAppControlDocument, {}, token))).toEqual(["FORBIDDEN"]);
      expect(await learnedRuns()).toBe(runs);
    });

    it("approves nothing when any rule id is bad, unknown or another tenant's", async () => {
      const approve = (ids: string[], token = c.admin, id = groupId) =>
        platform.request(ApproveAppControlRulesDocument, { input: { groupId: id, ruleIds: ids } }, token);
      expect(problems(await approve([]))).toEqual(["ruleIds: must list 1 to 1000 rules"]);
      expect(problems(await approve([ruleIds[0], "nope"]))).toEqual([
        "[1].ruleIds: must be a rule id (UUID)",
      ]);
      expect(problems(await approve(Array.from({ length: 1001 }, () => ruleIds[0])))).toEqual([
        "ruleIds: must list 1 to 1000 rules",
      ]);
      expect(problems(await approve([ruleIds[0], randomUUID()]))).toEqual([
        "[1].ruleIds: no such rule in this group",
      ]);
      expect(codes(await approve([ruleIds[0]], t.adminB))).toEqual(["NOT_FOUND"]);
      expect(codes(await approve([ruleIds[0]], c.admin, "nope"))).toEqual(["NOT_FOUND"]);
      for (const token of [c.analyst, c.ingestor, c.reader])
        expect(codes(await approve([ruleIds[0]], token))).toEqual(["FORBIDDEN"]);
      expect(await approvedRules()).toBe(0);
      // Setting a mode needs an approved rule, in the caller's own tenant.
      const mode = (id: string, token = c.admin) =>
        platform.request(SetAppControlModeDocument, { input: { groupId: id, mode: "ENFORCE" } }, token);
      expect(codes(await mode(groupId))).toEqual(["CONFLICT"]);
      expect(codes(await mode(groupId, t.adminB))).toEqual(["NOT_FOUND"]);
      expect(codes(await mode("nope"))).toEqual(["NOT_FOUND"]);
      expect(codes(await mode(groupId, c.analyst))).toEqual(["FORBIDDEN"]);
      expect(
        (await query<{ mode: string }>(C, `SELECT mode FROM app_control_groups WHERE id = $1`, [groupId]))[0]
          .mode,
      ).toBe("NONE");
      // Ids are UUIDs in either case.
      const approved = ok(await approve(ruleIds.map((id) => id.toUpperCase()))).approveAppControlRules;
      expect(approved.approvedRuleCount).toBe(3);
      expect(await approvedRules()).toBe(3);
      const byUpperId = ok(
        await platform.request(AppControlGroupDocument, { id: groupId.toUpperCase() }, c.reader),
      ).appControlGroup;
      expect(byUpperId?.approvedRuleCount).toBe(3);
    });

    it("refuses rule filters and cursors that are not the list's own", async () => {
      const rules = (variables: { ruleFilter?: { minPrevalence: number }; after?: string }) =>
        platform.request(HostileAppControlRulesDocument, { id: groupId, ...variables }, c.reader);
      for (const minPrevalence of [-0.1, 1.5])
        expect(fieldCodes(await rules({ ruleFilter: { minPrevalence } }))).toEqual(["BAD_USER_INPUT"]);
      for (const after of [
        encodeCursor(["1e999|/x", randomUUID()]),
        encodeCursor(["0.5|/x", "nope"]),
        encodeCursor([null, randomUUID()]),
        encodeCursor([`0.5|/x${NUL}`, randomUUID()]),
      ])
        expect(fieldCodes(await rules({ after }))).toEqual(["BAD_USER_INPUT"]);
      expect(ok(await rules({ ruleFilter: { minPrevalence: 1 } })).appControlGroup?.rules.totalCount).toBe(3);
    });

    it("refuses watched paths Postgres cannot store or that are not absolute, changing nothing", async () => {
      const lists = () => count(C, "fim_watch_lists");
      const before = await lists();
      const set = (
        paths: Array<{ path: string; recursive?: boolean }>,
        token = c.admin,
        id: string | null = null,
      ) => platform.request(SetFimWatchedPathsDocument, { input: { groupId: id, paths } }, token);
      expect(
        problems(
          await set([
            { path: "/etc/ok" },
            { path: `/etc/a${NUL}` },
            { path: `/etc/a${LONE}` },
            { path: "etc/relative" },
            { path: "/" },
            { path: "C:\\" },
            { path: "/etc/../root" },
            { path: "/etc/**/x" },
            { path: "/*/x" },
            { path: `/${"x".repeat(1024)}` },
            { path: "/etc/ok/" },
          ]),
        ),
      ).toEqual([
        "[1].paths.path: must not contain control characters",
        "[2].paths.path: is not valid Unicode (an unpaired surrogate)",
        expect.stringMatching(/^\[3\]\.paths\.path: must be an absolute path/),
        "[4].paths.path: must not be a file-system root",
        "[5].paths.path: must not be a file-system root",
        "[6].paths.path: must not contain . or .. segments",
        "[7].paths.path: `**` is not supported: use recursive",
        "[8].paths.path: the first segment cannot contain a wildcard",
        "[9].paths.path: at most 1024 characters",
        "[10].paths.path: listed twice",
      ]);
      // Alone, an unstorable path reached the jsonb column (INTERNAL_SERVER_ERROR).
      expect(problems(await set([{ path: `/etc/${LONE}` }], c.admin, groupId))).toEqual([
        "[0].paths.path: is not valid Unicode (an unpaired surrogate)",
      ]);
      expect(problems(await set(Array.from({ length: 201 }, (_, i) => ({ path: `/srv/${i}` }))))).toEqual([
        "paths: at most 200 paths",
      ]);
      expect(codes(await set([{ path: "/etc/ok" }], t.adminB, groupId))).toEqual(["NOT_FOUND"]);
      expect(codes(await set([{ path: "/etc/ok" }], c.admin, "nope"))).toEqual(["NOT_FOUND"]);
      // An empty group id is an id no group has, not the tenant's own list (it reached a uuid cast).
      expect(codes(await set([{ path: "/etc/ok" }], c.admin, ""))).toEqual(["NOT_FOUND"]);
      expect(
        codes(await platform.request(ResetFimWatchedPathsDocument, { input: { groupId: "" } }, c.admin)),
      ).toEqual(["NOT_FOUND"]);
      expect(codes(await set([{ path: "/etc/ok" }], c.analyst))).toEqual(["FORBIDDEN"]);
      expect(
        codes(await platform.request(ResetFimWatchedPathsDocument, { input: { groupId } }, t.adminB)),
      ).toEqual(["NOT_FOUND"]);
      expect(codes(await platform.request(ResetFimWatchedPathsDocument, {}, c.ingestor))).toEqual([
        "FORBIDDEN",
      ]);
      expect(await lists()).toBe(before);
    });
  });

  describe("query arguments of a resource's protection fields", () => {
    it("refuses file-change filters and cursors that cannot reach SQL", async () => {
      const changes = (variables: { filter?: Record<string, unknown>; after?: string }) =>
        platform.request(HostileFileChangesDocument, { id: vm, ...variables }, t.reader);
      for (const path of [`/etc/${NUL}`, `/etc/${LONE}`, "relative"])
        expect(fieldCodes(await changes({ filter: { path } }))).toEqual(["BAD_USER_INPUT"]);
      for (const after of [
        encodeCursor(["0000-01-01T00:00:00Z", "r"]),
        encodeCursor(["not a time", "r"]),
        encodeCursor([new Date().toISOString(), `r${NUL}`]),
      ])
        expect(fieldCodes(await changes({ after }))).toEqual(["BAD_USER_INPUT"]);
      for (const since of ["2025-02-30T00:00:00Z", "+275760-09-13T00:00:00Z", "-000001-01-01T00:00:00Z"])
        expect(fieldCodes(await changes({ filter: { since } }))).toEqual(["BAD_USER_INPUT"]);
      // Year 0 is 1 BC to Postgres: a time before every change.
      expect(
        ok(await changes({ filter: { since: "0000-01-01T00:00:00Z" } })).resource?.fileChanges.totalCount,
      ).toBe(0);
      const fine = await changes({
        filter: { since: "0001-01-01T00:00:00Z", until: "9999-12-31T23:59:59Z" },
      });
      expect(ok(fine).resource?.fileChanges.totalCount).toBe(0);
    });

    it("ends every read of a request whose answer went out early: no connection is left in a transaction", async () => {
      // The bad filter fails `fileChanges` at once, the answer goes out, and `fileBaselines` reads after that.
      // More such requests than the pool has connections: a read opened after the request ended used to
      // stay "idle in transaction" for good, until the subgraph had no connection left and hung.
      for (let i = 0; i < 12; i++) {
        const res = await platform.request(
          ResourceFileChangesDocument,
          { id: vm, filter: { path: "relative" } },
          t.reader,
        );
        expect(fieldCodes(res)).toContain("BAD_USER_INPUT");
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [{ n }] = (await ds.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND usename = current_user AND state = 'idle in transaction'`,
      )) as Array<{ n: number }>;
      expect(n).toBe(0);
      expect(ok(await platform.request(ResourceFileChangesDocument, { id: vm }, t.reader)).resource?.id).toBe(
        vm,
      );
    });

    it("refuses hardening windows outside PT1H to P90D", async () => {
      for (const window of ["P0D", "P91D", "P1Y", `P1D${NUL}`, "P99999999999D"]) {
        const res = await platform.request(ResourceHardeningDocument, { id: vm, window }, t.reader);
        expect({ window, codes: fieldCodes(res) }).toEqual({ window, codes: ["BAD_USER_INPUT"] });
      }
    });

    it("refuses detection filters and cursors that are not the list's own", async () => {
      expect(
        problems(await platform.request(DetectionsDocument, { filter: { resourceId: `x${NUL}` } }, t.reader)),
      ).toEqual(["resourceId: must be a resource id (UUID)"]);
      for (const after of [
        encodeCursor(["0000-01-01T00:00:00Z", randomUUID()]),
        encodeCursor([new Date().toISOString(), "x"]),
      ])
        expect(problems(await platform.request(DetectionsDocument, { after }, t.reader))).toEqual([
          "after: not a cursor of this list",
        ]);
    });
  });

  describe("plans", () => {
    it("refuses an account id that is not one, and callers other than admins", async () => {
      const before = await count(A, "plans");
      expect(
        problems(
          await platform.request(
            SetPlanDocument,
            { input: { accountId: `x${NUL}`, planType: "SERVERS", tier: "STANDARD" } },
            t.admin,
          ),
        ),
      ).toEqual(["accountId: must be an account id (UUID)"]);
      for (const token of [t.analyst, t.alice, t.ingestor, t.reader])
        expect(
          codes(
            await platform.request(
              SetPlanDocument,
              { input: { accountId: randomUUID(), planType: "SERVERS", tier: "STANDARD" } },
              token,
            ),
          ),
        ).toEqual(["FORBIDDEN"]);
      expect(await count(A, "plans")).toBe(before);
    });
  });

  describe("detections delivered to the SIEM", () => {
    it("delivers a detection whose process path is longer than the SIEM indexes", async () => {
      const m = randomUUID();
      const image = `C:\\Tools\\${incompressible(900)}\\mimikatz.exe`;
      const res = await ingest(
        ndjson([
          base("process", m, "long-mimikatz", {
            host: "win-probe-01",
            pid: 77,
            image,
            commandLine: `${image} "sekurlsa::logonpasswords" exit`,
            user: "CONTOSO\\eve",
          }),
        ]),
      );
      expect(res.body).toMatchObject({ accepted: 1, rejected: [] });
      const delivered = async () =>
        (
          await query<{ delivered_at: Date | null; delivery_error: string | null }>(
            A,
            `SELECT delivered_at, delivery_error FROM detections WHERE resource_id = $1`,
            [m],
          )
        )[0];
      const deadline = Date.now() + 20_000;
      let row = await delivered();
      while (row && !row.delivered_at && !row.delivery_error && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        row = await delivered();
      }
      expect(row).toMatchObject({ delivery_error: null });
      expect(row.delivered_at).not.toBeNull();
    });
  });
});
