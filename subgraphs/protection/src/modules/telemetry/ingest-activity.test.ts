import { IngestActivity } from "./ingest-activity";

/** An activity on a clock the test moves: waits end only when the test says so, never by the wall clock. */
function clocked() {
  const clock = { now: 1_000_000 };
  return { clock, activity: new IngestActivity(() => clock.now) };
}

/** Holds one batch in flight until `release` is called. */
function holdBatch(activity: IngestActivity) {
  let release!: () => void;
  const settled = activity.track(() => new Promise<void>((r) => (release = r)));
  return { release: () => (release(), settled) };
}

const never = new AbortController().signal;

describe("IngestActivity: how busy the telemetry ingest is, for the relay that gives way to it", () => {
  it("is busy while a batch is in flight and for the quiet gap after the last one", async () => {
    const { clock, activity } = clocked();
    expect(activity.busy(500)).toBe(false);
    const batch = holdBatch(activity);
    expect(activity.busy(500)).toBe(true);
    await batch.release();
    expect(activity.busy(500)).toBe(true);
    clock.now += 499;
    expect(activity.busy(500)).toBe(true);
    clock.now += 1;
    expect(activity.busy(500)).toBe(false);
  });

  it("counts every batch in flight: busy until the last one ends", async () => {
    const { clock, activity } = clocked();
    const a = holdBatch(activity);
    const b = holdBatch(activity);
    await a.release();
    clock.now += 10_000;
    expect(activity.busy(500)).toBe(true);
    await b.release();
    clock.now += 500;
    expect(activity.busy(500)).toBe(false);
  });

  it("a failed batch ends too", async () => {
    const { clock, activity } = clocked();
    await expect(activity.track(() => Promise.reject(new Error("bad batch")))).rejects.toThrow("bad batch");
    clock.now += 500;
    expect(activity.busy(500)).toBe(false);
  });

  it("giveWay returns at once when the ingest is quiet", async () => {
    const { activity } = clocked();
    await expect(activity.giveWay(60_000, 500, never)).resolves.toBe(0);
  });

  it("giveWay waits while a batch is in flight and returns once the ingest has been quiet for the gap", async () => {
    const { clock, activity } = clocked();
    const batch = holdBatch(activity);
    let returned = false;
    const waiting = activity.giveWay(60_000, 20, never).then((ms) => ((returned = true), ms));
    await new Promise((r) => setTimeout(r, 100));
    expect(returned).toBe(false);
    await batch.release();
    clock.now += 20;
    await expect(waiting).resolves.toBe(20);
  });

  it("giveWay waits no longer than its maximum, however busy the ingest", async () => {
    const { clock, activity } = clocked();
    holdBatch(activity);
    const waiting = activity.giveWay(3_000, 20, never);
    clock.now += 3_000;
    await expect(waiting).resolves.toBe(3_000);
  });

  it("giveWay ends as soon as its signal aborts (the relay is stopping)", async () => {
    const { activity } = clocked();
    holdBatch(activity);
    const stop = new AbortController();
    const waiting = activity.giveWay(60_000, 60_000, stop.signal);
    stop.abort();
    await expect(waiting).resolves.toBe(0);
  });
});
