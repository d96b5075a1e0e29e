import type { DataSource } from "typeorm";
import { commonTaskList, inSystemScope, readOutbox } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

/** The outbox is read in position order and pruned after its retention, except rows a relay has not delivered yet. */
describe("outbox", () => {
  let platform: TestPlatform;
  let ds: DataSource;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("protection");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  const prune = () => (commonTaskList(ds).outbox_prune as () => Promise<void>)();
  const topics = () =>
    inSystemScope(ds, async (m) =>
      (
        (await m.query(`SELECT topic FROM outbox WHERE topic LIKE 'test.%' ORDER BY seq`)) as Array<{
          topic: string;
        }>
      ).map((r) => r.topic),
    );

  it("keeps old rows past a relay's offset until the relay has moved past them", async () => {
    await inSystemScope(ds, async (m) => {
      await m.query(`INSERT INTO outbox (tenant_id, topic, key, payload, at) VALUES
        ('tenant-a', 'test.delivered', 'k1', '{}', now() - interval '30 days')`);
      const [{ xid, seq }] = await m.query(
        `SELECT xid::text, seq::text FROM outbox WHERE topic = 'test.delivered'`,
      );
      await m.query(
        `INSERT INTO relay_offsets (consumer, xid, seq) VALUES ('test-relay', $1::xid8, $2)
         ON CONFLICT (consumer) DO UPDATE SET xid = excluded.xid, seq = excluded.seq`,
        [xid, seq],
      );
    });
    await inSystemScope(ds, (m) =>
      m.query(`INSERT INTO outbox (tenant_id, topic, key, payload, at) VALUES
        ('tenant-a', 'test.pending', 'k2', '{}', now() - interval '30 days'),
        ('tenant-a', 'test.recent', 'k3', '{}', now())`),
    );
    await prune();
    expect(await topics()).toEqual(["test.pending", "test.recent"]);

    // The relay delivers everything: the old row goes, the recent one stays for its retention. The
    // platform's own relays pass the rows on their next rounds (moving their offsets here could race
    // with a round in flight, which writes back the position it read).
    await inSystemScope(ds, (m) =>
      m.query(
        `UPDATE relay_offsets SET (xid, seq) = (SELECT xid, seq FROM outbox ORDER BY xid DESC, seq DESC LIMIT 1)
          WHERE consumer = 'test-relay'`,
      ),
    );
    const deadline = Date.now() + 20_000;
    let left: string[];
    for (;;) {
      await prune();
      left = await topics();
      if (!left.includes("test.pending") || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toEqual(["test.recent"]);
  });

  it("reads rows in numeric position order, across digit-count boundaries, each once", async () => {
    // Positions whose text order differs from their numeric order (xid "1000" < "99" as text).
    const positions = [
      ["99", "999999999999"],
      ["99", "1000000000000"],
      ["100", "999999999998"],
      ["1000", "999999999997"],
      ["1000", "1000000000001"],
    ];
    await inSystemScope(ds, async (m) => {
      for (const [xid, seq] of [...positions].reverse())
        await m.query(
          `INSERT INTO outbox (xid, seq, tenant_id, topic, key, payload) VALUES ($1::xid8, $2::bigint, 'tenant-a', 'test.order', $2::text, '{}')`,
          [xid, seq],
        );
    });
    const read = (after: { xid: string; seq: string }, limit: number) =>
      inSystemScope(ds, (m) => readOutbox(m, { after, topics: ["test.order"], limit }));
    const all = await read({ xid: "0", seq: "0" }, 100);
    expect(all.map((r) => [r.position.xid, r.position.seq])).toEqual(positions);

    // A reader advancing one row at a time to the last row it got sees each row once, in order.
    const seen: string[][] = [];
    let after = { xid: "0", seq: "0" };
    for (;;) {
      const [row] = await read(after, 1);
      if (!row) break;
      seen.push([row.position.xid, row.position.seq]);
      after = row.position;
    }
    expect(seen).toEqual(positions);
  });
});
