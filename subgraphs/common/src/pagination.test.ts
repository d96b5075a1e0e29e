import { decodeCursor, encodeCursor, toPage, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from "./pagination";
import { BadUserInputError } from "./errors";

describe("pagination", () => {
  it("round-trips opaque cursors", () => {
    const key: [string, string] = ["vm-01", "0190d9a0-0000-7000-8000-000000000001"];
    const cursor = encodeCursor(key);
    expect(cursor).not.toContain("vm-01");
    expect(decodeCursor(cursor)).toEqual(key);
  });

  it("rejects cursors it did not make", () => {
    for (const bad of [
      "",
      "%%%",
      Buffer.from("[1,2,3]").toString("base64url"),
      Buffer.from('{"a":1}').toString("base64url"),
    ]) {
      expect(() => decodeCursor(bad)).toThrow(BadUserInputError);
    }
  });

  it("defaults and bounds `first`", () => {
    expect(toPage({}).first).toBe(DEFAULT_PAGE_SIZE);
    expect(toPage({ first: MAX_PAGE_SIZE }).first).toBe(MAX_PAGE_SIZE);
    for (const first of [0, -1, MAX_PAGE_SIZE + 1, 2.5])
      expect(() => toPage({ first })).toThrow(BadUserInputError);
  });
});
