import { SizedLru } from "./sized-lru";

const keys = (lru: SizedLru<string, number>) => [...lru].map(([key]) => key);

describe("SizedLru", () => {
  it("keeps values up to the limit, least recently used out first", () => {
    const lru = new SizedLru<string, number>(10);
    lru.set("a", 1, 4);
    lru.set("b", 2, 4);
    expect(lru.get("a")).toBe(1); // a is now the most recently used
    lru.set("c", 3, 4); // 12 > 10: b goes
    expect(keys(lru)).toEqual(["a", "c"]);
    expect(lru.size).toBe(8);
    expect(lru.get("b")).toBeUndefined();
  });

  it("replaces a key's value and its size", () => {
    const lru = new SizedLru<string, number>(10);
    lru.set("a", 1, 6);
    lru.set("a", 2, 3);
    expect(lru.size).toBe(3);
    expect(lru.get("a")).toBe(2);
  });

  it("does not keep a value larger than the whole limit, and drops what it replaced", () => {
    const lru = new SizedLru<string, number>(10);
    lru.set("a", 1, 2);
    lru.set("a", 2, 11);
    expect(lru.peek("a")).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it("peek does not mark a value used", () => {
    const lru = new SizedLru<string, number>(10);
    lru.set("a", 1, 5);
    lru.set("b", 2, 5);
    expect(lru.peek("a")).toBe(1);
    lru.set("c", 3, 5);
    expect(keys(lru)).toEqual(["b", "c"]);
  });

  it("resizes a kept value, evicting others or the value itself", () => {
    const lru = new SizedLru<string, number>(10);
    lru.set("a", 1, 0);
    lru.set("b", 2, 0);
    lru.resize("b", 6);
    lru.resize("a", 6); // 12 > 10: a, still the least recently used (a resize is not a use), goes
    expect(keys(lru)).toEqual(["b"]);
    expect(lru.size).toBe(6);
    lru.resize("b", 11);
    expect(keys(lru)).toEqual([]);
    expect(lru.size).toBe(0);
    lru.resize("missing", 3);
    expect(lru.size).toBe(0);
  });

  it("shrinks to a lower limit, and keeps nothing at 0", () => {
    const lru = new SizedLru<string, number>(10);
    lru.set("a", 1, 3);
    lru.set("b", 2, 3);
    lru.set("c", 3, 3);
    lru.setLimit(6);
    expect(keys(lru)).toEqual(["b", "c"]);
    expect(lru.enabled).toBe(true);
    lru.set("empty", 0, 0);
    lru.setLimit(0);
    expect(lru.enabled).toBe(false);
    expect(keys(lru)).toEqual([]);
    expect(lru.size).toBe(0);
    lru.set("d", 4, 0);
    expect(keys(lru)).toEqual([]);
  });

  it("deletes and clears", () => {
    const lru = new SizedLru<string, number>(10);
    lru.set("a", 1, 3);
    lru.set("b", 2, 3);
    lru.delete("a");
    lru.delete("missing");
    expect(lru.size).toBe(3);
    lru.clear();
    expect(lru.size).toBe(0);
    expect(keys(lru)).toEqual([]);
  });
});
