import type { DataSource } from "typeorm";
import { createLogger } from "../subgraphs/common/src";
import { eventTasks } from "../subgraphs/siem/src/modules/events/events.tasks";
import { dayOf, ensurePartitions } from "../subgraphs/siem/src/modules/events/partitions";
import { startTestPlatform, type TestPlatform } from "./utils/platform";

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
    const day = (offset: number) => dayOf(new Date(Date.now() + offset * 86_400_000));
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
});
