import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { ImportAdvisoriesDocument } from "./__generated__/graphql";
import { IDENTITY_HEADER, inTenant, Role } from "../subgraphs/common/src";
import type { Detection } from "../subgraphs/protection/src/modules/detections/detections";
import { storeDetections } from "../subgraphs/protection/src/modules/detections/detections.store";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ndjson } from "./utils/workload";

/**
 * Bulk writes of the protection and SIEM subgraphs that name the same rows at the same time, in whatever order
 * each call lists them, never deadlock: each path writes (and so locks) its rows in one order, its conflict
 * key's, whatever the order of its input. Before, two calls naming the same rows in opposite orders could each
 * hold a row the other waited for, and one was answered UNAVAILABLE (DEADLOCK) after Postgres's deadlock
 * timeout. Paths already written in key order, or serialised by a lock taken first, are not repeated here
 * (see docs/architecture.md).
 */
describe("bulk writes over the same rows, listed in different orders, at once", () => {
  let platform: TestPlatform;
  let admin: string;
  let ingestor: string;
  const TENANT = "tenant-bulk-lock-order";
  const ROUNDS = 6;

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = await platform.token([Role.ADMIN], TENANT);
    ingestor = await platform.token([Role.INGESTOR], TENANT);
  });
  afterAll(() => platform?.stop());

  /** Every error a GraphQL answer carries, as `CODE/reason message`. */
  const problems = (what: string, res: GqlResponse<unknown>) =>
    (res.errors ?? []).map(
      (e) => `${what}: ${String(e.extensions?.code)}/${String(e.extensions?.reason ?? "")} ${e.message}`,
    );

  /** The same list three ways: as given, reversed, and interleaved from both ends. */
  const orders = <T>(list: readonly T[]): T[][] => [
    [...list],
    [...list].reverse(),
    list.map((_, i) => list[i % 2 ? list.length - 1 - (i >> 1) : i >> 1]),
  ];

  it("importAdvisories: imports the same advisories in different orders without a deadlock", async () => {
    const advisories = (round: number) =>
      Array.from({ length: 600 }, (_, i) => ({
        id: `LOCK-ORDER-${String(i).padStart(3, "0")}`,
        // Newer each round, so every import updates the rows the others update.
        modified: new Date(Date.UTC(2025, 0, 1) + round * 60_000).toISOString(),
        affected: [
          {
            package: { ecosystem: "npm", name: `lock-order-${i}` },
            ranges: [{ type: "SEMVER", events: [{ introduced: "0" }, { fixed: "1.0.0" }] }],
          },
        ],
      }));
    const errors: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const answers = await Promise.all(
        orders(advisories(round)).map((osv) => platform.request(ImportAdvisoriesDocument, { osv }, admin)),
      );
      answers.forEach((res, i) => errors.push(...problems(`round ${round}, import ${i}`, res)));
    }
    expect(errors).toEqual([]);
  });

  it("syncResourceAccounts: records the same resources in different orders without a deadlock", async () => {
    const token = await platform.internalToken([Role.INGESTOR], TENANT);
    const resourceIds = Array.from({ length: 80 }, () => randomUUID());
    const accounts = [randomUUID(), randomUUID()];
    const errors: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const resources = resourceIds.map((resourceId, i) => ({
        resourceId,
        externalId: `arn:aws:ec2:eu-west-1:123456789012:instance/i-lock-order-${i}`,
      }));
      const answers = await Promise.all(
        orders(resources).map((list, i) =>
          postGraphql<unknown>(
            platform.subgraphs.siem.url,
            {
              query: `mutation($input: SyncResourceAccountsInput!) { syncResourceAccounts(input: $input) { upsertedCount } }`,
              variables: {
                // Calls move the resources between two accounts, so each updates the rows the others update.
                input: {
                  resources: list.map((r) => ({ ...r, accountId: accounts[(round + i) % 2] })),
                  removedIds: [],
                },
              },
            },
            { [IDENTITY_HEADER]: token },
          ),
        ),
      );
      answers.forEach((res, i) => errors.push(...problems(`round ${round}, sync ${i}`, res)));
    }
    expect(errors).toEqual([]);
  });

  /** POSTs NDJSON telemetry; the answer's status and, when not 200, its text. */
  const ingest = async (records: ReadonlyArray<Record<string, unknown>>) => {
    const res = await fetch(platform.gateway.url.replace(/\/graphql$/, "/ingest/telemetry"), {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${ingestor}` },
      body: ndjson(records),
    });
    const text = await res.text();
    return res.status === 200 && (JSON.parse(text) as { rejected: unknown[] }).rejected.length === 0
      ? null
      : `${res.status} ${text.slice(0, 300)}`;
  };

  /** Distinct record ids per call, so that calls share rows only through what they derive from the records. */
  let recordSeq = 0;
  const ago = (round: number) => new Date(Date.now() - 3_600_000 + round * 1000).toISOString();

  it("telemetry ingest: takes the same records sent again in different orders without a deadlock", async () => {
    const machines = Array.from({ length: 20 }, () => randomUUID());
    const errors: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // The same records in every call (an agent sending a batch again while the first is still stored).
      const records = machines.flatMap((resourceId) =>
        Array.from({ length: 30 }, (_, i) => ({
          kind: "logon",
          id: `logon-lock-order-${round}-${i}`,
          resourceId,
          time: ago(round),
          host: "lock-order",
          user: "root",
          logonType: "ssh",
          srcIp: "10.0.0.5",
          success: true,
        })),
      );
      const answers = await Promise.all(orders(records).map((list) => ingest(list)));
      answers.forEach((e, i) => e && errors.push(`round ${round}, ingest ${i}: ${e}`));
    }
    expect(errors).toEqual([]);
  });

  it("SIEM event ingest: takes the same events sent again in different orders without a deadlock", async () => {
    const errors: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const time = ago(round);
      const events = Array.from({ length: 600 }, (_, i) =>
        JSON.stringify({
          class_uid: 3002,
          activity_id: 1,
          time,
          metadata: { uid: `lock-order-${round}-${i}` },
        }),
      );
      const answers = await Promise.all(
        orders(events).map(async (list) => {
          const res = await fetch(
            `${platform.gateway.url.replace(/\/graphql$/, "")}/ingest/events?connector=OCSF`,
            {
              method: "POST",
              headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${ingestor}` },
              body: list.join("\n"),
            },
          );
          return res.status === 200 ? null : `${res.status} ${(await res.text()).slice(0, 300)}`;
        }),
      );
      answers.forEach((e, i) => e && errors.push(`round ${round}, ingest ${i}: ${e}`));
    }
    expect(errors).toEqual([]);
  });

  it("telemetry ingest: keeps FIM baselines of the same watched paths in different orders without a deadlock", async () => {
    const machines = Array.from({ length: 100 }, () => randomUUID());
    const paths = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/hosts", "/etc/crontab"];
    const errors: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const changes = machines.flatMap((resourceId) => paths.map((path) => ({ resourceId, path })));
      const answers = await Promise.all(
        orders(changes).map((list) =>
          ingest(
            list.map(({ resourceId, path }) => ({
              kind: "file",
              id: `fim-lock-order-${recordSeq++}`,
              resourceId,
              // Earlier each round, so every call replaces the baselines the others replace.
              time: ago(-round),
              host: "lock-order",
              action: "modified",
              path,
              sha256: "a".repeat(64),
              previousSha256: "b".repeat(64),
              size: 100,
              user: "root",
            })),
          ),
        ),
      );
      answers.forEach((e, i) => e && errors.push(`round ${round}, ingest ${i}: ${e}`));
    }
    expect(errors).toEqual([]);
  });

  it("telemetry ingest: counts management-port exposure of the same machines in different orders without a deadlock", async () => {
    const machines = Array.from({ length: 600 }, () => randomUUID());
    const errors: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const answers = await Promise.all(
        orders(machines).map((list) =>
          ingest(
            list.map((resourceId) => ({
              kind: "flow",
              id: `flow-lock-order-${recordSeq++}`,
              resourceId,
              time: ago(round),
              host: "lock-order",
              direction: "inbound",
              protocol: "TCP",
              srcIp: "192.0.2.45",
              srcPort: 40000,
              dstIp: "10.21.0.129",
              dstPort: 22,
              bytes: 3100,
              packets: 22,
              action: "allowed",
            })),
          ),
        ),
      );
      answers.forEach((e, i) => e && errors.push(`round ${round}, ingest ${i}: ${e}`));
    }
    expect(errors).toEqual([]);
  });
  it("storeDetections: stores the same detections, listed in different orders, at once without a deadlock", async () => {
    // Two agents' batches can raise the same detection (its source id comes from the activity, e.g. one brute
    // force seen in both); the ingest stores detections in its own transaction, after its telemetry.
    const ds = await platform.connect("protection");
    // A statement of a few hundred rows is over in milliseconds, before the next call's has even been sent from
    // this one process; a millisecond per row (a trigger of the test's own) makes the calls' inserts overlap, as
    // they can between replicas.
    const admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    await admin.query(`CREATE FUNCTION protection.lock_order_slow() RETURNS trigger LANGUAGE plpgsql AS $$
                         BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$`);
    await admin.query(`CREATE TRIGGER lock_order_slow BEFORE INSERT ON protection.detections
                         FOR EACH ROW EXECUTE FUNCTION protection.lock_order_slow()`);
    const errors: string[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const detections: Detection[] = Array.from({ length: 300 }, (_, i) => ({
          kind: "brute-force",
          sourceId: `brute-force:lock-order-${round}-${String(i).padStart(3, "0")}`,
          title: "SSH brute force",
          description: "Failed SSH logons from one address.",
          severity: "MEDIUM",
          tactics: ["CredentialAccess"],
          techniques: ["T1110"],
          entities: [],
          remediation: [],
          resourceId: randomUUID(),
          startTime: ago(round),
          endTime: ago(round),
          evidence: {},
        }));
        const answers = await Promise.allSettled(
          orders(detections).map((list) => inTenant(ds, TENANT, (m) => storeDetections(m, TENANT, list))),
        );
        let stored = 0;
        answers.forEach((a, i) => {
          if (a.status === "fulfilled") stored += a.value.length;
          else errors.push(`round ${round}, store ${i}: ${String(a.reason)}`);
        });
        // Each detection stored once, by whichever call got to it first.
        if (errors.length === 0) expect(stored).toBe(detections.length);
      }
    } finally {
      await admin.query(`DROP TRIGGER lock_order_slow ON protection.detections`);
      await admin.query(`DROP FUNCTION protection.lock_order_slow()`);
      await admin.end();
    }
    expect(errors).toEqual([]);
  });
});
