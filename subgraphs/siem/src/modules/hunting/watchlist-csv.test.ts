import { foldKey, parseWatchlistCsv, WATCHLIST_LIMITS } from "./watchlist-csv";

describe("parseWatchlistCsv", () => {
  it("keeps good records and rejects bad ones by the line they start on", () => {
    const csv = [
      "\uFEFFip,owner,note", // a BOM, as spreadsheets write it
      "10.0.0.1,alice,plain",
      '10.0.0.2,"bob, jr","two',
      'lines ""quoted"""',
      "10.0.0.3,carol", // too few fields
      "",
      "10.0.0.4,dave,x,y", // too many
      ",erin,no key",
      "10.0.0.1,frank,again",
      '10.0.0.5,"gina"x,broken quote',
      "10.0.0.6, hal ,trimmed",
      '10.0.0.7,"never closed,x',
      "10.0.0.8,ivan,after the stray quote",
      '10.0.0.9,jo"e,quote in an unquoted field',
      "10.0.1.0,kim,last",
    ].join("\r\n");
    expect(parseWatchlistCsv(csv, "ip")).toEqual({
      columns: ["ip", "owner", "note"],
      items: [
        { line: 2, searchKey: "10.0.0.1", data: { ip: "10.0.0.1", owner: "alice", note: "plain" } },
        // Line breaks inside a value are kept as \n.
        {
          line: 3,
          searchKey: "10.0.0.2",
          data: { ip: "10.0.0.2", owner: "bob, jr", note: 'two\nlines "quoted"' },
        },
        { line: 11, searchKey: "10.0.0.6", data: { ip: "10.0.0.6", owner: "hal", note: "trimmed" } },
        {
          line: 13,
          searchKey: "10.0.0.8",
          data: { ip: "10.0.0.8", owner: "ivan", note: "after the stray quote" },
        },
        { line: 15, searchKey: "10.0.1.0", data: { ip: "10.0.1.0", owner: "kim", note: "last" } },
      ],
      rejected: [
        { line: 5, reason: "has 2 fields, the header has 3" },
        { line: 7, reason: "has 4 fields, the header has 3" },
        { line: 8, reason: "the search key (ip) is empty" },
        { line: 9, reason: 'duplicate search key "10.0.0.1" (first on line 2)' },
        { line: 10, reason: "a quoted field must end at a comma or at the end of the line" },
        // The quote opened here closes on line 14 before a letter: line 12 is the fault, line 13 reads again.
        { line: 12, reason: "a quoted field must end at a comma or at the end of the line" },
        { line: 14, reason: "a quote inside an unquoted field (quote the field and double the quote)" },
      ],
    });
  });

  it("checks items added to a watchlist against its columns, in any order", () => {
    expect(parseWatchlistCsv("owner,ip\nzoe,10.9.9.9\n", "ip", ["ip", "owner"])).toMatchObject({
      items: [{ searchKey: "10.9.9.9", data: { owner: "zoe", ip: "10.9.9.9" } }],
    });
    expect(parseWatchlistCsv("ip,extra\n10.9.9.9,x\n", "ip", ["ip", "owner"])).toEqual({
      problem: "the header must name the watchlist's columns ip, owner; missing owner; unknown extra",
      field: "csv",
    });
  });

  it("refuses a bad header, a missing search key column and oversize uploads as a whole", () => {
    expect(parseWatchlistCsv('k\n"a', "k")).toEqual({
      columns: ["k"],
      items: [],
      rejected: [{ line: 2, reason: "a quoted field is never closed" }],
    });
    expect(parseWatchlistCsv("", "ip")).toEqual({
      problem: "is empty: the first line must name the columns",
      field: "csv",
    });
    expect(parseWatchlistCsv("ip,,note\n1,2,3", "ip")).toEqual({
      problem: "column 2 of the header has no name",
      field: "csv",
    });
    expect(parseWatchlistCsv("IP,ip\n1,2", "ip")).toEqual({
      problem: 'the header names the column "ip" twice',
      field: "csv",
    });
    expect(parseWatchlistCsv("addr\n1.1.1.1", "ip")).toEqual({
      problem: 'the CSV header has no column "ip" (it has addr)',
      field: "searchKey",
    });
    const many = `k\n${Array.from({ length: WATCHLIST_LIMITS.maxItems + 1 }, (_, i) => `v${i}`).join("\n")}`;
    expect(parseWatchlistCsv(many, "k")).toEqual({
      problem: `at most ${WATCHLIST_LIMITS.maxItems} items per upload (got ${WATCHLIST_LIMITS.maxItems + 1})`,
      field: "csv",
    });
    expect(parseWatchlistCsv("k\n".padEnd(WATCHLIST_LIMITS.maxCsvLength + 1, "x"), "k")).toMatchObject({
      field: "csv",
    });
  });

  it("rejects text Postgres cannot store, and keeps injection attempts as plain values", () => {
    const parsed = parseWatchlistCsv(
      `k,v\nok,"x'); DROP TABLE watchlist_items; --"\nbad,a\u0000b\n=cmd|' /C calc'!A0,formula\n`,
      "k",
    );
    expect(parsed).toEqual({
      columns: ["k", "v"],
      items: [
        { line: 2, searchKey: "ok", data: { k: "ok", v: "x'); DROP TABLE watchlist_items; --" } },
        { line: 4, searchKey: "=cmd|' /C calc'!A0", data: { k: "=cmd|' /C calc'!A0", v: "formula" } },
      ],
      rejected: [{ line: 3, reason: "a field contains a NUL character (U+0000)" }],
    });
  });
});

describe("foldKey", () => {
  it("folds addresses to their canonical form and text to ASCII lower case", () => {
    expect(["2001:DB8:0:0::1", "203.0.113.7", "Alice@Contoso.COM", "ÉMILE"].map(foldKey)).toEqual([
      "2001:db8::1",
      "203.0.113.7",
      "alice@contoso.com",
      "Émile",
    ]);
  });
});
