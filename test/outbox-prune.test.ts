import type { DataSource } from "typeorm";
import { commonTaskList, inSystemScope } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

/** The outbox is pruned after its retention, except rows a relay has not delivered yet. */
describe("outbox pruning", () => {
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

    // The relay delivers everything: the old row goes, the recent one stays for its retention.
    await inSystemScope(ds, (m) =>
      m.query(
        `UPDATE relay_offsets SET (xid, seq) = (SELECT xid, seq FROM outbox ORDER BY xid DESC, seq DESC LIMIT 1)`,
      ),
    );
    await prune();
    expect(await topics()).toEqual(["test.recent"]);
  });
});
