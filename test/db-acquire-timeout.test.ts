import { Client } from "pg";
import { CreateIncidentDocument, IncidentsDocument } from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ingestFixture, ok } from "./utils/seed";

/**
 * A subgraph whose pool stays full answers UNAVAILABLE (503 with `Retry-After` on the ingest endpoint) once
 * `DB_POOL_ACQUIRE_TIMEOUT_MS` has passed, instead of holding the request for ever, and has done nothing; the
 * same requests succeed once a connection is free again. The SIEM runs with a pool of one connection, held by a
 * query that waits on a lock the test takes as the database owner.
 */
describe("database pool acquire timeout", () => {
  let platform: TestPlatform;
  let owner: Client;
  let analyst: string;
  let ingestor: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ DB_POOL_SIZE: "1", DB_POOL_ACQUIRE_TIMEOUT_MS: "700" });
    [analyst, ingestor] = await Promise.all([
      platform.token([Role.ANALYST]),
      platform.token([Role.INGESTOR]),
    ]);
    owner = new Client({ connectionString: platform.db.url });
    await owner.connect();
  });
  afterAll(async () => {
    await owner?.end();
    await platform?.stop();
  });

  const incidentCount = async () =>
    Number(
      ((await owner.query(`SELECT count(*) AS n FROM siem.incidents`)) as { rows: Array<{ n: string }> })
        .rows[0].n,
    );
  const eventCount = async () =>
    Number(
      ((await owner.query(`SELECT count(*) AS n FROM siem.events`)) as { rows: Array<{ n: string }> }).rows[0]
        .n,
    );
  const poolFailures = async () => {
    const text = await (await fetch(new URL("/metrics", platform.subgraphs.siem.url))).text();
    const line = text
      .split("\n")
      .find((l) =>
        l.startsWith(`rampart_db_connection_failures_total{subgraph="siem",reason="POOL_EXHAUSTED"}`),
      );
    return line ? Number(line.split(" ").pop()) : 0;
  };

  it("answers UNAVAILABLE while every connection stays busy, writes nothing, and serves the same requests after", async () => {
    const incidentsBefore = await incidentCount();
    const eventsBefore = await eventCount();
    const failuresBefore = await poolFailures();

    await owner.query("BEGIN");
    await owner.query("LOCK TABLE siem.incidents IN ACCESS EXCLUSIVE MODE");
    // The SIEM's only connection now waits on the lock inside this request's read.
    const held = platform.request(IncidentsDocument, {}, analyst);
    try {
      for (let waiting = 0; waiting !== 1; await new Promise((r) => setTimeout(r, 25))) {
        const { rows } = (await owner.query(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'rampart-siem' AND wait_event_type = 'Lock'`,
        )) as { rows: Array<{ n: string }> };
        waiting = Number(rows[0].n);
      }

      const read = await platform.request(IncidentsDocument, {}, analyst);
      expect(read.errors?.map((e) => [e.extensions?.code, e.extensions?.reason])).toEqual([
        ["UNAVAILABLE", "POOL_EXHAUSTED"],
      ]);
      expect(read.data).toBeNull();

      const write = await platform.request(
        CreateIncidentDocument,
        { input: { title: "while the pool is full", description: "", severity: "HIGH", alertIds: [] } },
        analyst,
      );
      expect(write.errors?.map((e) => e.extensions?.code)).toEqual(["UNAVAILABLE"]);
      expect(write.errors?.[0].message).toMatch(/Nothing was done; retry later/);

      const ingest = await ingestFixture(platform, ingestor, "AWS_CLOUDTRAIL");
      expect(ingest.status).toBe(503);
      expect(ingest.headers.get("retry-after")).toBe("5");
      const body = (await ingest.json()) as {
        errors: Array<{ extensions: { code: string; reason: string } }>;
      };
      expect(body.errors.map((e) => [e.extensions.code, e.extensions.reason])).toEqual([
        ["UNAVAILABLE", "POOL_EXHAUSTED"],
      ]);

      expect(await poolFailures()).toBeGreaterThanOrEqual(failuresBefore + 3);
    } finally {
      await owner.query("COMMIT");
    }

    // The request that held the connection finishes normally once the lock is gone.
    expect(ok(await held).incidents.totalCount).toBe(incidentsBefore);
    // Nothing was written while the pool was full.
    expect(await incidentCount()).toBe(incidentsBefore);
    expect(await eventCount()).toBe(eventsBefore);

    // The same requests again, with a free connection: served.
    expect(ok(await platform.request(IncidentsDocument, {}, analyst)).incidents.totalCount).toBe(
      incidentsBefore,
    );
    const created = ok(
      await platform.request(
        CreateIncidentDocument,
        { input: { title: "after the pool freed", description: "", severity: "HIGH", alertIds: [] } },
        analyst,
      ),
    ).createIncident;
    expect(created.title).toBe("after the pool freed");
    const retried = await ingestFixture(platform, ingestor, "AWS_CLOUDTRAIL");
    expect(retried.status).toBe(200);
    expect(await eventCount()).toBeGreaterThan(eventsBefore);
    expect(await incidentCount()).toBe(incidentsBefore + 1);
  });
});
