import type { NetworkTopology } from "./network-topology";
import { TopologyCache } from "./network-topology-cache";

/** A topology of `size` nodes (no edges), told apart by its first node's name. */
function topology(name: string, size: number): NetworkTopology {
  return {
    nodes: Array.from({ length: size }, (_, i) => ({
      id: `${name}-${i}`,
      kind: "VIRTUAL_MACHINE" as const,
      name,
      internetExposed: false,
      accountId: null,
    })),
    edges: [],
    exposure: new Map(),
  };
}

describe("TopologyCache", () => {
  it("builds once per tenant, token and accounts, and again for another token", async () => {
    const cache = new TopologyCache(100);
    const build = jest.fn(async () => topology("a", 10));
    const first = await cache.get("t1", "v1", "acct-1", build);
    expect(await cache.get("t1", "v1", "acct-1", build)).toBe(first);
    expect(build).toHaveBeenCalledTimes(1);
    await cache.get("t1", "v1", "acct-2", build);
    await cache.get("t2", "v1", "acct-1", build);
    expect(build).toHaveBeenCalledTimes(3);
    expect(cache.size).toBe(30);
    // The tenant's token moved: its entries under the old one go, the other tenant's stay.
    await cache.get("t1", "v2", "acct-1", build);
    expect(build).toHaveBeenCalledTimes(4);
    expect(cache.size).toBe(20);
    await cache.get("t2", "v1", "acct-1", build);
    expect(build).toHaveBeenCalledTimes(4);
  });

  it("shares one build among requests asking at once, and keeps nothing of a build that failed", async () => {
    const cache = new TopologyCache(100);
    let finish!: (t: NetworkTopology) => void;
    const build = jest.fn(() => new Promise<NetworkTopology>((resolve) => (finish = resolve)));
    const a = cache.get("t1", "v1", "*", build);
    const b = cache.get("t1", "v1", "*", build);
    finish(topology("shared", 3));
    expect(await a).toBe(await b);
    expect(build).toHaveBeenCalledTimes(1);

    const failing = jest.fn(async () => {
      throw new Error("connection lost");
    });
    await expect(cache.get("t1", "v1", "acct-1", failing)).rejects.toThrow("connection lost");
    const retry = jest.fn(async () => topology("retry", 1));
    expect((await cache.get("t1", "v1", "acct-1", retry)).nodes[0].name).toBe("retry");
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it("holds at most its limit, least recently used out first, and never keeps a topology larger than it", async () => {
    const cache = new TopologyCache(25);
    const build = (name: string, size: number) => jest.fn(async () => topology(name, size));
    await cache.get("t1", "v1", "a", build("a", 10));
    await cache.get("t1", "v1", "b", build("b", 10));
    await cache.get("t1", "v1", "a", build("a", 10)); // a is now the most recently used
    await cache.get("t1", "v1", "c", build("c", 10)); // over the limit: b goes
    expect(cache.size).toBe(20);
    const kept = build("a", 10);
    await cache.get("t1", "v1", "a", kept);
    await cache.get("t1", "v1", "c", kept);
    expect(kept).toHaveBeenCalledTimes(0);
    const again = build("b", 10);
    await cache.get("t1", "v1", "b", again);
    expect(again).toHaveBeenCalledTimes(1);

    const huge = build("huge", 30);
    expect((await cache.get("t1", "v1", "huge", huge)).nodes).toHaveLength(30);
    await cache.get("t1", "v1", "huge", huge);
    expect(huge).toHaveBeenCalledTimes(2);
    expect(cache.size).toBeLessThanOrEqual(25);
  });

  it("keeps nothing when off or without a token", async () => {
    const off = new TopologyCache(0);
    const build = jest.fn(async () => topology("a", 1));
    await off.get("t1", "v1", "*", build);
    await off.get("t1", "v1", "*", build);
    const on = new TopologyCache(100);
    await on.get("t1", null, "*", build);
    await on.get("t1", null, "*", build);
    expect(build).toHaveBeenCalledTimes(4);
    expect(on.size).toBe(0);
    on.setLimit(0);
    expect(on.size).toBe(0);
  });
});
