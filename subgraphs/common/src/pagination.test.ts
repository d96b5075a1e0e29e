import {
  checkCursor,
  decodeCursor,
  encodeCursor,
  pageOfArray,
  toKeysetPage,
  toPage,
  MAX_PAGE_SIZE,
  DEFAULT_PAGE_SIZE,
  type CursorIdKind,
  type CursorKey,
  type CursorValueKind,
} from "./pagination";
import { BadUserInputError } from "./errors";
import { childPageSql } from "./loaders";

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

  describe("keyset cursors", () => {
    const uuid = "0190d9a0-0000-7000-8000-000000000001";
    const page = (key: unknown, value: CursorValueKind, id?: CursorIdKind) =>
      toKeysetPage({ first: 2, after: Buffer.from(JSON.stringify(key)).toString("base64url") }, value, id);
    const refused = (key: unknown, value: CursorValueKind, id?: CursorIdKind) => {
      let error: unknown;
      try {
        page(key, value, id);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BadUserInputError);
      expect((error as Error).message).toMatch(/^Invalid cursor in `after`\./);
    };

    it("passes a list's own cursors on, times in ISO form", () => {
      expect(page(["2026-03-01T10:00:00.123Z", uuid], "time").after).toEqual([
        "2026-03-01T10:00:00.123Z",
        uuid,
      ]);
      expect(page(["2026-03-01T10:00:00Z", uuid], "time").after).toEqual(["2026-03-01T10:00:00.000Z", uuid]);
      expect(page(["2026-03-01T12:00:00+02:00", uuid], "time").after?.[0]).toBe("2026-03-01T10:00:00.000Z");
      for (const edge of ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"])
        expect(page([edge, uuid], "time").after).toEqual([edge, uuid]);
      expect(page([-(2 ** 31 - 1), uuid], "int").after).toEqual([-(2 ** 31 - 1), uuid]);
      expect(page([2 ** 31 - 1, uuid], "int").after).toEqual([2 ** 31 - 1, uuid]);
      expect(page(["vm-01", uuid], "text").after).toEqual(["vm-01", uuid]);
      expect(page([null, uuid], "none").after).toEqual([null, uuid]);
      expect(page([null, "9223372036854775807"], "none", "bigint").after).toEqual([
        null,
        "9223372036854775807",
      ]);
      expect(page([null, "/etc/passwd"], "none", "text").after).toEqual([null, "/etc/passwd"]);
      expect(toKeysetPage({ first: 3 }, "time")).toEqual({ first: 3, after: undefined });
    });

    it("refuses a time that is not one, or that Postgres cannot read back", () => {
      for (const value of [
        "abc",
        "",
        1_700_000_000_000,
        null,
        "+275760-09-13T00:00:00.000Z",
        "0000-12-31T00:00:00Z",
      ])
        refused([value, uuid], "time");
    });

    it("refuses an int sort value that is not a 32-bit integer (a time cursor on an int-ordered list)", () => {
      for (const value of ["2026-03-01T10:00:00.000Z", "5", 1.5, 2 ** 31, -(2 ** 31), 2 ** 40, null])
        refused([value, uuid], "int");
    });

    it("refuses text Postgres cannot take, and any value on a list ordered by id alone", () => {
      for (const value of [1, null, "a\u0000b"]) refused([value, uuid], "text");
      for (const value of ["vm-01", 0, "2026-03-01T10:00:00.000Z"]) refused([value, uuid], "none");
    });

    it("refuses an id that is not the list's kind of id", () => {
      for (const id of ["x", "", "0190d9a0-0000-7000-8000-00000000000g", "1"]) refused([null, id], "none");
      for (const id of ["x", "-1", "1.5", "", "9223372036854775808", "1".repeat(20)])
        refused([null, id], "none", "bigint");
      refused([null, "a\u0000b"], "none", "text");
      refused(["2026-03-01T10:00:00.000Z", "x"], "time");
    });

    it("checks a page again where its parts reach SQL (childPageSql) and pages arrays by id only", () => {
      expect(() => childPageSql("SELECT 1", [], { first: 1, after: ["abc", uuid] })).toThrow(
        BadUserInputError,
      );
      expect(() => childPageSql("SELECT 1", [], { first: 1, after: ["2026-03-01T10:00:00Z", "x"] })).toThrow(
        BadUserInputError,
      );
      const { params } = childPageSql("SELECT $1", ["t"], {
        first: 1,
        after: ["2026-03-01T10:00:00Z", uuid],
      });
      expect(params).toEqual(["t", "2026-03-01T10:00:00.000Z", uuid, 2]);
      const items = ["a", "b", "c"];
      const after = encodeCursor([null, "a"]);
      expect(pageOfArray(items, { first: 1, after }, (i) => i).rows).toEqual(["b", "c"]);
      // The cursor's item has left the list since: the next page starts after its place, not at the top.
      expect(
        pageOfArray(["a", "c", "d"], { first: 1, after: encodeCursor([null, "b"]) }, (i) => i).rows,
      ).toEqual(["c", "d"]);
      expect(pageOfArray(items, { after: encodeCursor([null, "z"]) }, (i) => i).rows).toEqual([]);
      // Sorted by another value (descending, then key): the cursor carries it.
      const scored = [
        { id: "x", score: 9 },
        { id: "y", score: 5 },
        { id: "z", score: 5 },
        { id: "w", score: 1 },
      ];
      const byScore = {
        valueOf: (i: { score: number }) => String(i.score),
        follows: (i: { id: string; score: number }, value: string, key: string) =>
          i.score < Number(value) || (i.score === Number(value) && i.id > key),
      };
      const first = pageOfArray(scored, { first: 2 }, (i) => i.id, byScore);
      expect(first.cursorOf(first.rows[1])).toEqual(["5", "y"]);
      const gone = scored.filter((i) => i.id !== "y");
      expect(
        pageOfArray(gone, { first: 2, after: encodeCursor(["5", "y"]) }, (i) => i.id, byScore).rows.map(
          (i) => i.id,
        ),
      ).toEqual(["z", "w"]);
      expect(() => pageOfArray(items, { after: encodeCursor(["x", "a"]) }, (i) => i)).toThrow(
        BadUserInputError,
      );
      const key: CursorKey = ["2026-03-01T10:00:00Z", uuid];
      expect(checkCursor(key, "time")).toEqual(["2026-03-01T10:00:00.000Z", uuid]);
    });
  });
});
