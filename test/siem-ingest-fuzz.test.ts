import { readFileSync } from "node:fs";
import fc from "fast-check";
import { print } from "graphql";
import type { DataSource } from "typeorm";
import {
  FuzzStoredEventsDocument,
  type FuzzStoredEventsQuery,
  ImportStixBundleDocument,
  IngestAlertsDocument,
  IngestEventsDocument,
} from "./__generated__/graphql";
import { inTenant, Role, timeWindowProblem } from "../subgraphs/common/src";
import {
  attributesProblem,
  NORMALIZERS,
  parseNdjson,
  recordDepthProblem,
} from "../subgraphs/siem/src/modules/connectors/normalizers";
import { CONNECTOR_KINDS, type ConnectorKind } from "../subgraphs/siem/src/modules/events/event.model";
import { FUZZ_SEED, fuzzRuns, hostileValue, mutate, mutation } from "./utils/fuzz";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Fuzzing the SIEM's ingest end to end, through the gateway on a real database: NDJSON bodies of real records
 * broken field by field, mixed with the good ones and with broken lines, are answered 200 with exactly the
 * rejections the normalisers give, every other record is stored once and reads back through the API; GraphQL
 * ingests of mutated alerts and STIX bundles fail only with typed errors and, when they fail, change nothing.
 * Seeded (see test/utils/fuzz.ts): `FUZZ_RUNS` / `FUZZ_SEED` run more locally.
 */

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const RETENTION_DAYS = 90;
const DAY_MS = 86_400_000;
/** Mutated records per NDJSON body, and about the most bytes they take (under MAX_BODY_BYTES with the rest). */
const BODY_RECORDS = 300;
const BODY_BYTES = 4 * 1024 * 1024;

const fixture = (kind: ConnectorKind) =>
  parseNdjson(readFileSync(`test/fixtures/siem/${kind}.ndjson`, "utf8")).map(
    (entry) => (entry as { value: unknown }).value,
  );

/** Lines that are not records, or records of an odd shape, put between the others. */
const BROKEN_LINES = [
  '{"unterminated": ',
  "not json at all",
  "\uFEFF{}",
  "[1, 2",
  "{}",
  "[]",
  "null",
  '"just a string"',
  "12",
  '{"a": "\\u0000"}',
  '{"a": "\\ud800"}',
  "\u00a0",
  '{"a": \u0000}',
  "\u0000",
  "😀".repeat(8),
  "\u202e{}",
];

/** What the ingest must answer for NDJSON lines or a GraphQL batch, record by record with the same normalisers. */
function expectedOutcome(
  kind: ConnectorKind,
  entries: Array<{ line?: number; value: unknown } | { line: number; error: string }>,
  now: number,
) {
  const rejected: Array<{ line: number; reason: string }> = [];
  const keys: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const line = entry.line ?? i + 1;
    if ("error" in entry) {
      rejected.push({ line, reason: entry.error });
      continue;
    }
    const deep = recordDepthProblem(entry.value);
    const event = deep ? { reason: deep } : NORMALIZERS[kind](entry.value);
    const reason =
      "reason" in event
        ? event.reason
        : (timeWindowProblem(event.time, now, RETENTION_DAYS) ?? attributesProblem(event));
    if (reason) rejected.push({ line, reason });
    else if (!("reason" in event)) keys.push(`${event.source_event_id}|${event.time}`);
  }
  return { rejected, keys };
}

/** Mutated records per connector (FUZZ_RUNS when set); the GraphQL tests make calls in proportion. */
const RECORDS = fuzzRuns(300);
// More runs take longer: a minute per 300 records and test.
jest.setTimeout(Math.max(60_000, (RECORDS / 300) * 60_000));

describe("SIEM ingest under fuzzing", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  const tenantOf = (kind: ConnectorKind) => `tenant-fuzz-${kind.toLowerCase().replace(/_/g, "-")}`;
  let t: Record<string, string>;

  beforeAll(async () => {
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      EVENT_RETENTION_DAYS: String(RETENTION_DAYS),
    });
    t = await platform.tokens({
      ...Object.fromEntries(
        CONNECTOR_KINDS.map((kind) => [kind, [[Role.INGESTOR], tenantOf(kind)] as const]),
      ),
      ...Object.fromEntries(
        CONNECTOR_KINDS.map((kind) => [`reader-${kind}`, [[Role.READER], tenantOf(kind)] as const]),
      ),
      ingestor: [[Role.INGESTOR], "tenant-a"],
    });
    ds = await platform.connect("siem");
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const query = <T>(tenant: string, sql: string, params: unknown[] = []) =>
    inTenant(ds, tenant, (m) => m.query(sql, params) as Promise<T[]>);
  const count = async (tenant: string, table: string) =>
    (await query<{ n: number }>(tenant, `SELECT count(*)::int AS n FROM ${table}`))[0].n;

  const post = async (kind: ConnectorKind, body: string) => {
    const res = await fetch(
      `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=${kind}`,
      {
        method: "POST",
        headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${t[kind]}` },
        body,
      },
    );
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** Every stored event of a tenant read back through the gateway, as a reader would page through them. */
  const readBack = async (kind: ConnectorKind) => {
    const nodes: Array<{ sourceEventId: string; time: string }> = [];
    let after: string | null = null;
    for (;;) {
      const page: FuzzStoredEventsQuery["events"] = ok(
        await platform.request(
          FuzzStoredEventsDocument,
          {
            from: new Date(Date.now() - (RETENTION_DAYS + 1) * DAY_MS).toISOString(),
            to: new Date(Date.now() + 2 * DAY_MS).toISOString(),
            first: 100,
            after,
          },
          t[`reader-${kind}`],
        ),
      ).events;
      nodes.push(...page.nodes);
      if (!page.pageInfo.hasNextPage) return nodes;
      after = page.pageInfo.endCursor ?? null;
    }
  };

  it.each(CONNECTOR_KINDS)(
    "answers %s bodies of broken records with exact rejections and stores the rest once",
    async (kind) => {
      const good = fixture(kind);
      const cases = fc.sample(
        fc.tuple(fc.nat({ max: good.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 })),
        { seed: FUZZ_SEED, numRuns: RECORDS },
      );
      // Bodies of BODY_RECORDS mutated records each (more runs, more bodies), each with the good records too.
      const bodies: string[] = [];
      for (let from = 0; from < cases.length;) {
        const lines: string[] = good.map((record) => JSON.stringify(record));
        let bytes = 0;
        for (let i = 0; i < BODY_RECORDS && from < cases.length && bytes < BODY_BYTES; i++, from++) {
          const [index, mutations] = cases[from];
          lines.push(JSON.stringify(mutate(good[index], mutations)) ?? "null");
          bytes += lines[lines.length - 1].length * 3;
          if (i % 25 === 0) lines.push(BROKEN_LINES[(i / 25) % BROKEN_LINES.length]);
          if (i % 40 === 0) lines.push("", "   \t ");
        }
        // A huge line: a real record with a field of 1 MB.
        lines.push(
          JSON.stringify(mutate(good[0], [{ op: "replace", pick: 1, value: "z".repeat(1 << 20), at: 0 }])),
        );
        // CRLF line ends on every other line, and a BOM before the first.
        bodies.push(`\uFEFF${lines.map((l, i) => (i % 2 ? `${l}\r` : l)).join("\n")}\n`);
      }

      const seen = new Set<string>();
      const outcomes = [];
      for (const body of bodies) {
        const before = Date.now();
        const first = await post(kind, body);
        const outcome = expectedOutcome(kind, parseNdjson(body), before);
        const fresh = new Set(outcome.keys.filter((key) => !seen.has(key)));
        expect(first.status).toBe(200);
        expect(first.body).toEqual({
          accepted: fresh.size,
          duplicates: outcome.keys.length - fresh.size,
          rejected: outcome.rejected,
        });
        for (const key of fresh) seen.add(key);
        outcomes.push({ body, ...outcome });
      }
      // Every fixture record is among the stored ones.
      expect(seen.size).toBeGreaterThanOrEqual(good.length);

      const stored = await query<{ key: string }>(
        tenantOf(kind),
        `SELECT source_event_id || '|' || to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS key
           FROM events`,
      );
      expect(stored.map((r) => r.key).sort()).toEqual([...seen].sort());
      const read = await readBack(kind);
      expect(read.map((e) => `${e.sourceEventId}|${e.time}`).sort()).toEqual([...seen].sort());

      for (const { body, keys, rejected } of outcomes) {
        const again = await post(kind, body);
        expect(again.status).toBe(200);
        expect(again.body).toEqual({ accepted: 0, duplicates: keys.length, rejected });
      }
      expect(await count(tenantOf(kind), "events")).toBe(seen.size);
    },
  );

  /** GraphQL errors must be typed as the caller's fault; an internal error is a bug. */
  const expectTypedFailure = (res: GqlResponse<unknown>, input: unknown) => {
    expect(res.status).toBeLessThan(500);
    const codes = (res.errors ?? []).map((e) => String(e.extensions?.code));
    expect({ input, codes: [...new Set(codes)] }).toEqual({ input, codes: ["BAD_USER_INPUT"] });
  };

  it("answers mutated ingestEvents batches with the same rejections, or a typed error that stores nothing", async () => {
    for (const kind of CONNECTOR_KINDS) {
      const good = fixture(kind);
      const batches = fc.sample(
        fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.array(mutation, { maxLength: 3 })), {
          minLength: 1,
          maxLength: 20,
        }),
        { seed: FUZZ_SEED, numRuns: Math.ceil(RECORDS / 40) },
      );
      for (const batch of batches) {
        const records = batch.map(([index, mutations]) => mutate(good[index], mutations) ?? null);
        const tenant = tenantOf(kind);
        const before = await count(tenant, "events");
        const now = Date.now();
        const res = await postGraphql<{
          ingestEvents: {
            acceptedCount: number;
            duplicateCount: number;
            rejected: Array<{ line: number; reason: string }>;
          };
        }>(
          platform.gateway.url,
          { query: print(IngestEventsDocument), variables: { connector: kind, records } },
          { authorization: `Bearer ${t[kind]}` },
        );
        if (res.errors?.length) {
          expectTypedFailure(res, records);
          expect(await count(tenant, "events")).toBe(before);
          continue;
        }
        const expected = expectedOutcome(
          kind,
          records.map((record) => ({ value: record })),
          now,
        );
        const out = res.data!.ingestEvents;
        expect(out.rejected).toEqual(expected.rejected);
        expect(out.acceptedCount + out.duplicateCount).toBe(expected.keys.length);
        expect(await count(tenant, "events")).toBe(before + out.acceptedCount);
      }
    }
  });

  it("answers mutated ingestAlerts calls with typed errors or per-alert rejections, never an internal error", async () => {
    const base = (n: number) => ({
      sourceId: `fuzz-alert-${n}`,
      title: `Alert ${n}`,
      description: "fuzzed",
      severity: "HIGH",
      tactics: ["InitialAccess"],
      techniques: ["T1078"],
      entities: [
        { type: "ACCOUNT", value: "megan.bowen@contoso.com" },
        { type: "IP", value: "198.51.100.7" },
      ],
      remediation: ["Reset the password."],
      startTime: new Date(Date.now() - 3_600_000).toISOString(),
    });
    const calls = fc.sample(fc.array(fc.array(mutation, { maxLength: 3 }), { minLength: 1, maxLength: 4 }), {
      seed: FUZZ_SEED,
      numRuns: Math.ceil(RECORDS / 5),
    });
    let n = 0;
    for (const alerts of calls) {
      const input = alerts.map((mutations) => mutate(base(n++), mutations));
      const [alertsBefore, incidentsBefore] = [
        await count("tenant-a", "alerts"),
        await count("tenant-a", "incidents"),
      ];
      const res = await postGraphql<{
        ingestAlerts: { createdCount: number; duplicateCount: number; ids: Array<string | null> };
      }>(
        platform.gateway.url,
        { query: print(IngestAlertsDocument), variables: { input } },
        { authorization: `Bearer ${t.ingestor}` },
      );
      if (res.errors?.length) {
        expectTypedFailure(res, input);
        expect([await count("tenant-a", "alerts"), await count("tenant-a", "incidents")]).toEqual([
          alertsBefore,
          incidentsBefore,
        ]);
      } else {
        const out = res.data!.ingestAlerts;
        expect(out.ids).toHaveLength(input.length);
        expect(await count("tenant-a", "alerts")).toBe(alertsBefore + out.createdCount);
      }
    }
  });

  it("answers mutated importStixBundle calls with typed errors or per-object problems, never an internal error", async () => {
    let n = 0;
    const indicator = () => {
      n++;
      return {
        type: "indicator",
        spec_version: "2.1",
        id: `indicator--8e2e2d2b-17d4-4cbf-938f-${String(n).padStart(12, "0")}`,
        created: "2026-01-01T00:00:00Z",
        modified: "2026-01-01T00:00:00Z",
        name: `indicator ${n}`,
        pattern: `[ipv4-addr:value = '198.51.100.${n % 250}'] OR [domain-name:value = 'evil${n}.example']`,
        pattern_type: "stix",
        valid_from: "2026-01-01T00:00:00Z",
        labels: ["malicious-activity"],
        confidence: 80,
      };
    };
    const calls = fc.sample(
      fc.tuple(
        fc.array(fc.array(mutation, { maxLength: 3 }), { minLength: 1, maxLength: 5 }),
        fc.option(mutation, { freq: 4 }),
        hostileValue,
      ),
      { seed: FUZZ_SEED, numRuns: Math.ceil(RECORDS / 5) },
    );
    for (const [objects, outer] of calls) {
      const bundle = {
        type: "bundle",
        id: "bundle--6f1c1c0e-2b0c-4d0a-9a3e-7c1f3b0e9a01",
        objects: objects.map((mutations) => mutate(indicator(), mutations)),
      };
      const input = outer ? mutate(bundle, [outer]) : bundle;
      const before = await count("tenant-a", "threat_indicators");
      const res = await postGraphql<{ importStixBundle: { createdCount: number } }>(
        platform.gateway.url,
        { query: print(ImportStixBundleDocument), variables: { bundle: input } },
        { authorization: `Bearer ${t.ingestor}` },
      );
      if (res.errors?.length) {
        expectTypedFailure(res, input);
        expect(await count("tenant-a", "threat_indicators")).toBe(before);
      } else {
        expect(await count("tenant-a", "threat_indicators")).toBe(
          before + res.data!.importStixBundle.createdCount,
        );
      }
    }
  });
});
