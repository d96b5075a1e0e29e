import { Client } from "pg";
import {
  compileFilterToPredicate,
  compileFilterToSql,
  FILTER_LIMITS,
  FilterError,
  IP_ADDRESS_PATTERN,
  isFilterField,
  readEventField,
  validateFilter,
  watchlistAliasesOfFilter,
  type EventLike,
} from "./rule-filter";
import { foldKey } from "../hunting/watchlist-csv";

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const signIn: EventLike = {
  time: "2024-05-01T10:00:00.000Z",
  class_uid: 3002,
  activity_id: 1,
  severity_id: 1,
  status: "Failure",
  message: "Sign-in failed: 100% bad_password",
  actor_user: "Alice@Contoso.com",
  src_ip: "203.0.113.7",
  src_port: 51000,
  dst_ip: null,
  dst_port: null,
  device: null,
  resource_id: null,
  operation: "Sign-in activity",
  src_country: "FR",
  connector: "ENTRA_SIGNIN",
  attributes: {
    mfa: false,
    error_code: 50126,
    app: "Azure Portal",
    list: ["first", 2, "last"],
    null: "a key named null",
    process: { cmd_line: "powershell.exe -enc AAAA" },
    client_ip: "2001:db8::10",
  },
};

function matches(filter: unknown, event: EventLike = signIn): boolean {
  return compileFilterToPredicate(filter)(event);
}

// ---------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------

describe("validateFilter", () => {
  it("accepts the documented example", () => {
    expect(
      validateFilter({
        all: [
          { field: "class_uid", op: "eq", value: 3002 },
          {
            any: [
              { field: "status", op: "eq", value: "Failure" },
              { not: { field: "attributes.mfa", op: "eq", value: true } },
            ],
          },
          { field: "src_ip", op: "inCidr", value: ["0.0.0.0/0"] },
        ],
      }),
    ).toEqual([]);
  });

  it("reports every problem with its JSON path", () => {
    const problems = validateFilter({
      all: [
        { field: "class_uid", op: "eq", value: "3002" },
        {
          any: [
            { field: "status", op: "like", value: "x" },
            { field: "nope", op: "eq", value: 1 },
          ],
        },
        { not: { field: "src_ip", op: "inCidr", value: ["10.0.0.0/33", "fc00::/7", "10.0.0.1"] } },
        { field: "attributes.a b", op: "exists", value: true },
        { field: "status", op: "gt", value: 1 },
        { field: "dst_port", op: "in", value: [] },
        { field: "attributes.x", op: "in", value: ["a", 1] },
        { field: "time", op: "gte", value: "2024-02-30T00:00:00Z" },
        { field: "status", op: "eq" },
        { all: [], extra: 1 },
        { field: "status", op: "eq", value: "x", extra: true },
        { all: [{ field: "status", op: "eq", value: "x" }], any: [] },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual([
      "$.all[0].value",
      "$.all[1].any[0].op",
      "$.all[1].any[1].field",
      "$.all[2].not.value[0]",
      "$.all[3].field",
      "$.all[4].op",
      "$.all[5].value",
      "$.all[6].value",
      "$.all[7].value",
      "$.all[8].value",
      "$.all[9].extra",
      "$.all[9].all",
      "$.all[10].extra",
      "$.all[11]",
    ]);
    expect(problems[5].message).toMatch(/"gt" does not apply to text column "status"/);
    expect(problems[6].message).toMatch(/non-empty array/);
    expect(problems[7].message).toMatch(/one type/);
  });

  it("rejects non-objects, empty nodes and bad combinators", () => {
    expect(validateFilter(null)).toEqual([
      { path: "$", message: expect.stringMatching(/must be an object/) },
    ]);
    expect(validateFilter([])[0].path).toBe("$");
    expect(validateFilter({})[0].message).toMatch(/one of/);
    expect(validateFilter({ any: [] })[0].path).toBe("$.any");
    expect(validateFilter({ not: [] })[0].path).toBe("$.not");
    expect(validateFilter({ field: "status", op: "eq", value: "a\u0000b" })[0].message).toMatch(/NUL/);
    expect(validateFilter({ field: "status", op: "exists", value: "yes" })[0].path).toBe("$.value");
    expect(validateFilter({ field: "src_ip", op: "eq", value: "10.0.0.0/8" })[0].path).toBe("$.value");
    expect(validateFilter({ field: "src_ip", op: "contains", value: "10." })[0].path).toBe("$.op");
    expect(validateFilter({ field: "time", op: "in", value: ["2024-01-01T00:00:00Z"] })[0].path).toBe("$.op");
    expect(validateFilter({ field: "class_uid", op: "eq", value: Infinity })[0].path).toBe("$.value");
  });

  it("checks field names", () => {
    expect(isFilterField("src_ip")).toBe(true);
    expect(isFilterField("attributes.process.cmd_line")).toBe(true);
    expect(isFilterField("attributes.user-agent")).toBe(true);
    expect(isFilterField("attributes")).toBe(false);
    expect(isFilterField("attributes.")).toBe(false);
    expect(isFilterField("attributes.a..b")).toBe(false);
    expect(isFilterField("attributes.a'b")).toBe(false);
    expect(isFilterField("raw")).toBe(false);
    expect(isFilterField("tenant_id")).toBe(false);
  });

  it("limits depth and size", () => {
    let deep: unknown = { field: "status", op: "exists", value: true };
    for (let i = 1; i < FILTER_LIMITS.maxDepth; i++) deep = { not: deep };
    expect(validateFilter(deep)).toEqual([]);
    const tooDeep = { not: deep };
    expect(validateFilter(tooDeep)).toEqual([
      { path: `$${".not".repeat(FILTER_LIMITS.maxDepth)}`, message: expect.stringMatching(/16 levels/) },
    ]);
    const leaf = { field: "status", op: "exists", value: true };
    expect(validateFilter({ any: Array(FILTER_LIMITS.maxNodes - 1).fill(leaf) })).toEqual([]);
    expect(validateFilter({ any: Array(FILTER_LIMITS.maxNodes).fill(leaf) })).toEqual([
      { path: "$", message: expect.stringMatching(/200 nodes/) },
    ]);
    // A cycle is cut by the depth limit instead of overflowing the stack.
    const cyclic: { not?: unknown } = {};
    cyclic.not = cyclic;
    expect(validateFilter(cyclic).length).toBeGreaterThan(0);
  });

  it("never throws, even on hostile input", () => {
    const hostile = {
      get field(): string {
        throw new Error("boom");
      },
      op: "eq",
      value: 1,
    };
    expect(validateFilter(hostile)).toEqual([{ path: "$", message: expect.stringMatching(/boom/) }]);
  });

  it("compilers throw FilterError with the problems", () => {
    const bad = { field: "status", op: "gt", value: 1 };
    expect(() => compileFilterToPredicate(bad)).toThrow(FilterError);
    expect(() => compileFilterToSql(bad, 1)).toThrow(/"gt" does not apply/);
    expect(() => compileFilterToSql({ field: "status", op: "exists", value: true }, 0)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------------------
// JS semantics
// ---------------------------------------------------------------------------------------------------------

describe("compileFilterToPredicate", () => {
  it("compares strings case-insensitively (ASCII only)", () => {
    expect(matches({ field: "actor_user", op: "eq", value: "alice@contoso.COM" })).toBe(true);
    expect(matches({ field: "status", op: "in", value: ["failure", "x"] })).toBe(true);
    expect(matches({ field: "message", op: "contains", value: "100% BAD_" })).toBe(true);
    expect(matches({ field: "message", op: "startsWith", value: "sign-in" })).toBe(true);
    expect(matches({ field: "message", op: "endsWith", value: "PASSWORD" })).toBe(true);
    expect(matches({ field: "message", op: "contains", value: "100_%" })).toBe(false);
    const e = { ...signIn, actor_user: "ÉMILE" };
    expect(matches({ field: "actor_user", op: "eq", value: "Émile" }, e)).toBe(true);
    expect(matches({ field: "actor_user", op: "eq", value: "émile" }, e)).toBe(false);
  });

  it("matches globs with * only", () => {
    expect(matches({ field: "message", op: "matches", value: "sign-in*bad*" })).toBe(true);
    expect(matches({ field: "message", op: "matches", value: "*PASSWORD" })).toBe(true);
    expect(matches({ field: "message", op: "matches", value: "sign-in" })).toBe(false);
    expect(matches({ field: "message", op: "matches", value: "sign-in failed: 100? bad_password" })).toBe(
      false,
    );
    expect(matches({ field: "message", op: "matches", value: "sign-in failed: 100% bad_password" })).toBe(
      true,
    );
    expect(matches({ field: "message", op: "matches", value: "*" })).toBe(true);
    expect(matches({ field: "message", op: "matches", value: "s*d*d" })).toBe(true);
    expect(matches({ field: "message", op: "matches", value: "*password*password" })).toBe(false);
    // Prefix and suffix must not overlap.
    expect(matches({ field: "status", op: "matches", value: "fail*lure" })).toBe(false);
    expect(matches({ field: "status", op: "matches", value: "fai*lure" })).toBe(true);
  });

  it("treats absent values as false for positive and true for negative operators", () => {
    for (const field of ["dst_port", "dst_ip", "device", "attributes.missing", "attributes.list.7"]) {
      const op = field.endsWith("ip") ? "inCidr" : "eq";
      const value = field.endsWith("ip") ? ["0.0.0.0/0"] : field.endsWith("port") ? 22 : "x";
      expect(matches({ field, op, value })).toBe(false);
      const negative = op === "inCidr" ? "notInCidr" : "neq";
      expect(matches({ field, op: negative, value })).toBe(true);
      expect(matches({ field, op: "exists", value: true })).toBe(false);
      expect(matches({ field, op: "exists", value: false })).toBe(true);
    }
    expect(matches({ field: "dst_port", op: "notIn", value: [22] })).toBe(true);
    expect(matches({ field: "dst_port", op: "lt", value: 100 })).toBe(false);
    expect(matches({ not: { field: "dst_port", op: "lt", value: 100 } })).toBe(true);
  });

  it("types attributes strictly", () => {
    expect(matches({ field: "attributes.mfa", op: "eq", value: false })).toBe(true);
    expect(matches({ field: "attributes.mfa", op: "eq", value: "false" })).toBe(false);
    expect(matches({ field: "attributes.error_code", op: "eq", value: 50126 })).toBe(true);
    expect(matches({ field: "attributes.error_code", op: "eq", value: "50126" })).toBe(false);
    expect(matches({ field: "attributes.error_code", op: "gte", value: 50000 })).toBe(true);
    expect(matches({ field: "attributes.app", op: "gt", value: 0 })).toBe(false);
    expect(matches({ field: "attributes.app", op: "eq", value: "azure PORTAL" })).toBe(true);
    expect(matches({ field: "attributes.process.cmd_line", op: "contains", value: " -ENC " })).toBe(true);
    expect(matches({ field: "attributes.null", op: "exists", value: true })).toBe(true);
    expect(matches({ field: "attributes.list.0", op: "eq", value: "first" })).toBe(true);
    expect(matches({ field: "attributes.list.-1", op: "eq", value: "last" })).toBe(true);
    expect(matches({ field: "attributes.list.1", op: "eq", value: 2 })).toBe(true);
    expect(matches({ field: "attributes.list.x", op: "exists", value: true })).toBe(false);
    expect(matches({ field: "attributes.client_ip", op: "inCidr", value: ["2001:db8::/32"] })).toBe(true);
    expect(matches({ field: "attributes.app", op: "inCidr", value: ["0.0.0.0/0"] })).toBe(false);
    expect(matches({ field: "attributes.app", op: "notInCidr", value: ["0.0.0.0/0"] })).toBe(true);
  });

  it("does CIDR math for IPv4 and IPv6", () => {
    const at = (src_ip: string) => ({ ...signIn, src_ip });
    const privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];
    expect(matches({ field: "src_ip", op: "inCidr", value: privateRanges }, at("172.31.255.255"))).toBe(true);
    expect(matches({ field: "src_ip", op: "inCidr", value: privateRanges }, at("172.32.0.0"))).toBe(false);
    expect(matches({ field: "src_ip", op: "inCidr", value: privateRanges }, at("fd12:3456::1"))).toBe(true);
    expect(matches({ field: "src_ip", op: "inCidr", value: privateRanges }, at("fe80::1"))).toBe(false);
    expect(matches({ field: "src_ip", op: "inCidr", value: ["10.0.0.0/8"] }, at("::ffff:10.0.0.1"))).toBe(
      false,
    );
    expect(matches({ field: "src_ip", op: "inCidr", value: ["::ffff:0:0/96"] }, at("::ffff:10.0.0.1"))).toBe(
      true,
    );
    expect(matches({ field: "src_ip", op: "inCidr", value: ["10.1.2.3/8"] }, at("10.200.0.1"))).toBe(true);
    expect(matches({ field: "src_ip", op: "inCidr", value: ["0.0.0.0/0"] }, at("::1"))).toBe(false);
    expect(matches({ field: "src_ip", op: "inCidr", value: ["::/0"] }, at("::1"))).toBe(true);
    expect(matches({ field: "src_ip", op: "eq", value: "2001:DB8:0:0:0:0:0:1" }, at("2001:db8::1"))).toBe(
      true,
    );
    expect(matches({ field: "src_ip", op: "in", value: ["1.2.3.4", "203.0.113.7"] })).toBe(true);
    expect(matches({ field: "src_ip", op: "eq", value: "203.0.113.7" }, at("not an ip"))).toBe(false);
  });

  it("compares timestamps as instants", () => {
    expect(matches({ field: "time", op: "eq", value: "2024-05-01T12:00:00+02:00" })).toBe(true);
    expect(matches({ field: "time", op: "gt", value: "2024-05-01T09:59:59.999Z" })).toBe(true);
    expect(matches({ field: "time", op: "lt", value: "2024-05-01T10:00:00Z" })).toBe(false);
    expect(
      matches({ field: "time", op: "lte", value: "2024-05-01T10:00:00Z" }, { ...signIn, time: new Date(0) }),
    ).toBe(true);
  });

  it("reads fields like the SQL does", () => {
    expect(readEventField(signIn, "attributes.process.cmd_line")).toBe("powershell.exe -enc AAAA");
    expect(readEventField(signIn, "src_country")).toBe("FR");
    expect(readEventField(signIn, "attributes.list.-3")).toBe("first");
    expect(readEventField(signIn, "attributes.list.-4")).toBeUndefined();
    expect(readEventField(signIn, "attributes.toString")).toBeUndefined();
    expect(() => readEventField(signIn, "nope")).toThrow(RangeError);
  });

  it("never throws on odd events", () => {
    const predicate = compileFilterToPredicate({ field: "attributes.a.b", op: "neq", value: 1 });
    expect(predicate({})).toBe(true);
    expect(predicate({ attributes: "x" })).toBe(true);
    expect(predicate({ attributes: { a: [1] } })).toBe(true);
    expect(predicate(null as unknown as EventLike)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------
// SQL shape
// ---------------------------------------------------------------------------------------------------------

describe("compileFilterToSql", () => {
  it("uses positional parameters only, starting at firstParam", () => {
    const evil = "x'); DROP TABLE siem.events; --";
    const { sql, params } = compileFilterToSql(
      {
        all: [
          { field: "class_uid", op: "eq", value: 3002 },
          { field: "message", op: "contains", value: evil },
          { field: "attributes.app", op: "in", value: [evil, "B"] },
          { field: "src_ip", op: "notInCidr", value: ["10.0.0.0/8"] },
        ],
      },
      3,
    );
    expect(sql).not.toContain("DROP");
    expect(sql).not.toContain("3002");
    expect(sql).not.toContain("10.0.0.0");
    expect(sql).toContain("$3::int");
    expect(sql).toContain("$6::inet[]");
    expect(sql).not.toMatch(/\$[127]\b/);
    expect(params).toEqual([
      3002,
      "%x'); drop table siem.events; --%",
      [evil.toLowerCase(), "b"],
      ["10.0.0.0/8"],
    ]);
  });

  it("quotes attribute path segments so that null is a key", () => {
    const { sql } = compileFilterToSql({ field: "attributes.null.x", op: "exists", value: true }, 1);
    expect(sql).toContain(`'{"null","x"}'`);
  });

  it("escapes LIKE metacharacters and turns glob stars into %", () => {
    const { params } = compileFilterToSql({ field: "message", op: "matches", value: "a%b_c\\d*E" }, 1);
    expect(params).toEqual(["a\\%b\\_c\\\\d%e"]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// SQL ≡ JS against a real Postgres
// ---------------------------------------------------------------------------------------------------------

const COLUMNS_DDL = `
  id int PRIMARY KEY,
  tenant_id text,
  time timestamptz,
  class_uid int,
  activity_id int,
  severity_id int,
  status text,
  message text,
  actor_user text,
  src_ip inet,
  src_port int,
  dst_ip inet,
  dst_port int,
  device text,
  resource_id text,
  operation text,
  src_country text,
  connector text,
  attributes jsonb`;

const INSERT_COLUMNS = [
  "time",
  "class_uid",
  "activity_id",
  "severity_id",
  "status",
  "message",
  "actor_user",
  "src_ip",
  "src_port",
  "dst_ip",
  "dst_port",
  "device",
  "resource_id",
  "operation",
  "src_country",
  "connector",
] as const;

const pools = {
  status: ["Success", "Failure", "Unknown", "FAILURE", "failure ", null],
  text: [
    "Alice@Contoso.com",
    "alice@contoso.com",
    "bob",
    "BOB@example.org",
    "ÉMILE@x.fr",
    "émile@x.fr",
    "100% done",
    "a_b",
    "C:\\Windows\\System32",
    "multi\nline",
    'it\'s "quoted"',
    "*star*",
    "",
    "ConsoleLogin",
    "Microsoft.Authorization/roleAssignments/write",
    "x'); DROP TABLE t; --",
    null,
  ],
  ip: [
    "10.0.0.5",
    "10.1.2.3",
    "192.168.1.10",
    "172.16.5.4",
    "172.32.0.1",
    "8.8.8.8",
    "203.0.113.7",
    "0.0.0.0",
    "255.255.255.255",
    "::1",
    "::",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:2",
    "fe80::1",
    "::ffff:10.0.0.5",
    "fc00::abcd",
    "2001:db8:1:2:3:4:5:6",
    null,
  ],
  cidr: [
    "10.0.0.0/8",
    "10.0.0.5",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "0.0.0.0/0",
    "203.0.113.0/24",
    "10.1.2.3/31",
    "::/0",
    "2001:db8::/32",
    "fc00::/7",
    "::ffff:0:0/96",
    "::1/128",
    "2001:db8::1",
    "fe80::/10",
  ],
  int: [0, 1, 22, 80, 443, 3002, 3389, 4001, 65535, -1, 2.5, 1e10, 2147483648, null],
  time: [
    "2024-05-01T00:00:00Z",
    "2024-05-01T10:00:00.000Z",
    "2024-05-01T10:00:00.5Z",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01T09:30:00-05:00",
    "2024-04-30T23:59:59.999Z",
    "2024-05-02T00:00:00Z",
  ],
  attr: [
    true,
    false,
    "true",
    "false",
    0,
    5,
    2.5,
    -3,
    "5",
    "10.0.0.5",
    "2001:db8::7",
    "10.0.0.300",
    "10.0.0.1/24",
    "not-an-ip",
    "Allowed",
    "ALLOWED",
    "denied",
    "powershell.exe -EncodedCommand SQBFAFgA",
    "émile",
    "",
    null,
    [1, "a"],
    { nested: true },
  ],
};

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];

function randomTime(rng: Rng): string {
  const base = Date.parse("2024-04-30T22:00:00Z");
  const ms = base + Math.floor(rng() * 30 * 3600) * 1000 + (rng() < 0.3 ? Math.floor(rng() * 1000) : 0);
  if (rng() < 0.2) return pick(rng, pools.time);
  return new Date(ms).toISOString();
}

function randomAttributes(rng: Rng): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const name of ["mfa", "count", "ip", "app", "action", "null", "weird-key"]) {
    if (rng() < 0.7) attributes[name] = pick(rng, pools.attr);
  }
  if (rng() < 0.6) {
    attributes.process =
      rng() < 0.8 ? { cmd_line: pick(rng, pools.attr), pid: pick(rng, [1, 2, "3"]) } : pick(rng, pools.attr);
  }
  if (rng() < 0.5)
    attributes.list = [pick(rng, pools.attr), pick(rng, pools.attr), pick(rng, pools.attr)].slice(
      0,
      1 + Math.floor(rng() * 3),
    );
  return attributes;
}

function randomEvent(rng: Rng): EventLike {
  return {
    time: randomTime(rng),
    class_uid: pick(rng, [3002, 4001, 6003, 1007, null]),
    activity_id: pick(rng, [1, 2, 99, null]),
    severity_id: pick(rng, [0, 1, 2, 3, 4, 5, 6]),
    status: pick(rng, pools.status),
    message: pick(rng, pools.text),
    actor_user: pick(rng, pools.text),
    src_ip: pick(rng, pools.ip),
    src_port: pick(rng, [22, 443, 3389, 50000, 0, null]),
    dst_ip: pick(rng, pools.ip),
    dst_port: pick(rng, [22, 80, 443, 3389, 65535, null]),
    device: pick(rng, ["web-01", "WEB-01", "db_02", null]),
    resource_id: pick(rng, pools.text),
    operation: pick(rng, pools.text),
    src_country: pick(rng, ["FR", "fr", "US", "DE", null]),
    connector: pick(rng, ["AWS_CLOUDTRAIL", "ENTRA_SIGNIN", "SYSLOG_CEF", null]),
    attributes: randomAttributes(rng),
  };
}

const FIELDS = {
  integer: ["class_uid", "activity_id", "severity_id", "src_port", "dst_port"],
  text: ["status", "message", "actor_user", "device", "resource_id", "operation", "src_country", "connector"],
  inet: ["src_ip", "dst_ip"],
  timestamp: ["time"],
  json: [
    "attributes.mfa",
    "attributes.count",
    "attributes.ip",
    "attributes.app",
    "attributes.action",
    "attributes.null",
    "attributes.weird-key",
    "attributes.process.cmd_line",
    "attributes.process.pid",
    "attributes.process",
    "attributes.list.0",
    "attributes.list.1",
    "attributes.list.-1",
    "attributes.list.01",
    "attributes.list.99999999999",
    "attributes.missing.deeper",
  ],
} as const;

const NUMBERS = [0, 1, 2, 2.5, 5, -3, 22, 443, 3002, 4001, 65535, 1e10, -0.5];

function randomString(rng: Rng): string {
  const base = pick(rng, [
    ...pools.text.filter((t): t is string => t !== null),
    ...pools.attr.filter((a): a is string => typeof a === "string"),
    "success",
    "FAIL",
    "contoso",
    "%",
    "_",
    "\\",
    "*",
    "fr",
    "-enc",
    "web",
  ]);
  const r = rng();
  if (r < 0.2 && base.length > 2) return base.slice(1, -1);
  if (r < 0.3) return base.toUpperCase();
  return base;
}

function randomLeaf(rng: Rng): Record<string, unknown> {
  const type = pick(rng, ["integer", "text", "inet", "timestamp", "json", "json"] as const);
  const field = pick(rng, FIELDS[type]);
  const list = <T>(make: () => T): T[] => Array.from({ length: 1 + Math.floor(rng() * 3) }, make);
  switch (type) {
    case "integer": {
      const op = pick(rng, ["eq", "neq", "in", "notIn", "gt", "gte", "lt", "lte", "exists"]);
      if (op === "exists") return { field, op, value: rng() < 0.5 };
      const number = () => pick(rng, NUMBERS);
      return { field, op, value: op === "in" || op === "notIn" ? list(number) : number() };
    }
    case "text": {
      const op = pick(rng, [
        "eq",
        "neq",
        "in",
        "notIn",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "exists",
      ]);
      if (op === "exists") return { field, op, value: rng() < 0.5 };
      if (op === "matches") {
        const s = randomString(rng);
        const cut = Math.floor(rng() * (s.length + 1));
        return {
          field,
          op,
          value: pick(rng, [`*${s}*`, `${s.slice(0, cut)}*${s.slice(cut)}`, s, "*", `*${s}`]),
        };
      }
      return {
        field,
        op,
        value: op === "in" || op === "notIn" ? list(() => randomString(rng)) : randomString(rng),
      };
    }
    case "inet": {
      const op = pick(rng, ["eq", "neq", "in", "notIn", "inCidr", "notInCidr", "inCidr", "exists"]);
      if (op === "exists") return { field, op, value: rng() < 0.5 };
      const address = () =>
        pick(
          rng,
          pools.ip.filter((ip): ip is string => ip !== null),
        );
      if (op === "inCidr" || op === "notInCidr")
        return { field, op, value: list(() => pick(rng, pools.cidr)) };
      return { field, op, value: op === "in" || op === "notIn" ? list(address) : address() };
    }
    case "timestamp": {
      const op = pick(rng, ["eq", "neq", "gt", "gte", "lt", "lte", "exists"]);
      if (op === "exists") return { field, op, value: rng() < 0.5 };
      return { field, op, value: pick(rng, pools.time) };
    }
    case "json": {
      const op = pick(rng, [
        ...["eq", "neq", "in", "notIn", "contains", "startsWith", "endsWith", "matches"],
        ...["gt", "gte", "lt", "lte", "exists", "inCidr", "notInCidr"],
      ]);
      if (op === "exists") return { field, op, value: rng() < 0.5 };
      if (op === "inCidr" || op === "notInCidr")
        return { field, op, value: list(() => pick(rng, pools.cidr)) };
      if (["gt", "gte", "lt", "lte"].includes(op)) return { field, op, value: pick(rng, NUMBERS) };
      if (["contains", "startsWith", "endsWith", "matches"].includes(op)) {
        return { field, op, value: op === "matches" ? `*${randomString(rng)}*` : randomString(rng) };
      }
      const kind = pick(rng, ["string", "number", "boolean"] as const);
      const scalar = () =>
        kind === "string"
          ? randomString(rng)
          : kind === "number"
            ? pick(rng, NUMBERS)
            : pick(rng, [true, false]);
      return { field, op, value: op === "in" || op === "notIn" ? list(scalar) : scalar() };
    }
  }
}

function randomFilter(rng: Rng, depth: number): unknown {
  const r = rng();
  if (depth >= 3 || r < 0.45) return randomLeaf(rng);
  if (r < 0.6) return { not: randomFilter(rng, depth + 1) };
  const children = Array.from({ length: 1 + Math.floor(rng() * 3) }, () => randomFilter(rng, depth + 1));
  return r < 0.8 ? { all: children } : { any: children };
}

/** The rows as inserted: both Postgres and the predicate see exactly these values. */
function insertRow(event: EventLike): unknown[] {
  return [...INSERT_COLUMNS.map((column) => event[column] ?? null), JSON.stringify(event.attributes ?? {})];
}

describe("SQL and JS agree (Postgres)", () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`CREATE TEMP TABLE rule_filter_events (${COLUMNS_DDL})`);
  });

  afterAll(async () => {
    await client?.end();
  });

  async function load(events: EventLike[]): Promise<void> {
    await client.query("TRUNCATE rule_filter_events");
    const placeholders = INSERT_COLUMNS.map((_, i) => `$${i + 3}`).join(", ");
    for (const [id, event] of events.entries()) {
      await client.query(
        `INSERT INTO rule_filter_events (id, tenant_id, ${INSERT_COLUMNS.join(", ")}, attributes)
         VALUES ($1, $2, ${placeholders}, $${INSERT_COLUMNS.length + 3})`,
        [id, "t1", ...insertRow(event)],
      );
    }
  }

  /** Per event id: the SQL expression's value (true/false/null) for every event. */
  async function sqlResults(
    filter: unknown,
    firstParam = 1,
    prefix: unknown[] = [],
  ): Promise<Map<number, unknown>> {
    const { sql, params } = compileFilterToSql(filter, firstParam);
    const where = prefix.length > 0 ? "WHERE e.tenant_id = $1 AND e.time > $2::timestamptz" : "";
    const result = await client.query<{ id: number; m: boolean | null }>(
      `SELECT id, (${sql}) AS m FROM rule_filter_events e ${where} ORDER BY id`,
      [...prefix, ...params],
    );
    return new Map(result.rows.map((row) => [row.id, row.m]));
  }

  it("agrees on hand-picked edge cases", async () => {
    const events: EventLike[] = [
      signIn,
      {
        ...signIn,
        actor_user: "ÉMILE@x.fr",
        status: null,
        src_ip: "::ffff:10.0.0.5",
        attributes: { ip: "10.0.0.300" },
      },
      {
        ...signIn,
        message: "a%b_c\\d",
        src_ip: "2001:db8::1",
        attributes: { mfa: "false", list: [], null: null },
      },
      { time: "2024-05-01T10:00:00Z", attributes: {} },
    ];
    await load(events);
    const filters: unknown[] = [
      { field: "actor_user", op: "eq", value: "émile@X.FR" },
      { field: "actor_user", op: "eq", value: "ÉMILE@X.FR" },
      { field: "status", op: "neq", value: "failure" },
      { field: "message", op: "matches", value: "a%b_c\\d" },
      { field: "message", op: "contains", value: "%B_" },
      { field: "src_ip", op: "inCidr", value: ["10.0.0.0/8"] },
      { field: "src_ip", op: "notInCidr", value: ["10.0.0.0/8", "2001:db8::/32"] },
      { field: "attributes.ip", op: "inCidr", value: ["0.0.0.0/0"] },
      { field: "attributes.ip", op: "notInCidr", value: ["0.0.0.0/0"] },
      { field: "attributes.client_ip", op: "inCidr", value: ["2001:db8::/32"] },
      { field: "attributes.mfa", op: "eq", value: false },
      { field: "attributes.mfa", op: "neq", value: false },
      { field: "attributes.null", op: "exists", value: true },
      { field: "attributes.list.-1", op: "eq", value: "last" },
      { field: "attributes.error_code", op: "in", value: [50126, 50053] },
      { field: "attributes.error_code", op: "gt", value: 50125.5 },
      { field: "dst_port", op: "notIn", value: [22, 3389] },
      { field: "class_uid", op: "gte", value: 3001.5 },
      { field: "time", op: "eq", value: "2024-05-01T12:00:00+02:00" },
      {
        not: {
          any: [
            { field: "device", op: "exists", value: true },
            { field: "dst_ip", op: "eq", value: "::1" },
          ],
        },
      },
    ];
    for (const filter of filters) {
      const predicate = compileFilterToPredicate(filter);
      const sql = await sqlResults(filter);
      expect({ filter, sql: [...sql.values()] }).toEqual({ filter, sql: events.map((e) => predicate(e)) });
    }
  });

  it("agrees on watchlist conditions: keys of the event's own tenant, folded alike", async () => {
    // The SIEM's watchlist tables, as temporary tables: the SQL names them unqualified.
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS watchlists (tenant_id text, id int, alias_key text)`);
    await client.query(
      `CREATE TEMP TABLE IF NOT EXISTS watchlist_items (tenant_id text, watchlist_id int, key_folded text)`,
    );
    const lists: Record<string, string[]> = {
      people: ["Alice@Contoso.com", "émile@x.fr"],
      addresses: ["203.0.113.7", "2001:DB8:0::1"],
      ports: ["3389", "22"],
      apps: ["azure portal"],
    };
    let id = 0;
    for (const [alias, keys] of Object.entries(lists)) {
      for (const tenant of ["t1", "t2"]) {
        id++;
        await client.query(`INSERT INTO watchlists VALUES ($1, $2, $3)`, [tenant, id, alias]);
        // Another tenant's list of the same alias holds everything: it must never count.
        const stored = tenant === "t1" ? keys : ["anything", "ÉMILE@X.FR", "::ffff:10.0.0.5", "51000"];
        for (const key of stored)
          await client.query(`INSERT INTO watchlist_items VALUES ($1, $2, $3)`, [tenant, id, foldKey(key)]);
      }
    }
    const events: EventLike[] = [
      signIn,
      { ...signIn, actor_user: "ÉMILE@x.fr", src_ip: "2001:db8::1", dst_port: 3389, attributes: { app: 7 } },
      { ...signIn, actor_user: "émile@x.fr", src_ip: "10.0.0.5", dst_port: 22 },
      { time: "2024-05-01T10:00:00Z", attributes: {} },
    ];
    await load(events);
    const folded = new Map(Object.entries(lists).map(([alias, keys]) => [alias, new Set(keys.map(foldKey))]));
    const watchlists = (alias: string) => folded.get(alias);
    const filters: unknown[] = [
      { field: "actor_user", op: "inWatchlist", value: "PEOPLE" },
      { field: "actor_user", op: "notInWatchlist", value: "people" },
      { field: "src_ip", op: "inWatchlist", value: "addresses" },
      { field: "dst_port", op: "inWatchlist", value: "ports" },
      { field: "dst_port", op: "notInWatchlist", value: "ports" },
      { field: "attributes.app", op: "inWatchlist", value: "apps" },
      { field: "attributes.app", op: "notInWatchlist", value: "apps" },
      { field: "actor_user", op: "inWatchlist", value: "no-such-list" },
      { field: "actor_user", op: "notInWatchlist", value: "no-such-list" },
    ];
    const results: Record<string, boolean[]> = {};
    for (const filter of filters) {
      const predicate = compileFilterToPredicate(filter, { watchlists });
      const sql = [...(await sqlResults(filter)).values()];
      expect({ filter, sql }).toEqual({ filter, sql: events.map((e) => predicate(e)) });
      results[JSON.stringify(filter)] = sql as boolean[];
    }
    // ÉMILE folds to Émile (ASCII only), so only the third event's émile is a person on the list.
    expect(Object.values(results)).toEqual([
      [true, false, true, false],
      [false, true, false, true],
      [true, true, false, false],
      [false, true, true, false],
      [true, false, false, true],
      [true, false, true, false],
      [false, true, false, true],
      [false, false, false, false],
      [true, true, true, true],
    ]);
    // Without a lookup, every watchlist is empty.
    expect(compileFilterToPredicate(filters[0])(signIn)).toBe(false);
    expect(watchlistAliasesOfFilter({ all: filters })).toEqual([
      "people",
      "addresses",
      "ports",
      "apps",
      "no-such-list",
    ]);
    expect(validateFilter({ field: "time", op: "inWatchlist", value: "people" })).toEqual([
      {
        path: "$.op",
        message: expect.stringContaining('"inWatchlist" does not apply to timestamp column "time"'),
      },
    ]);
    expect(validateFilter({ field: "device", op: "inWatchlist", value: "no spaces" })).toEqual([
      { path: "$.value", message: 'must be a watchlist alias (got the string "no spaces")' },
    ]);
  });

  it("agrees on 600 random filters over 250 random events, and is never NULL", async () => {
    const rng = random(20240501);
    const events = Array.from({ length: 250 }, () => randomEvent(rng));
    await load(events);
    let matched = 0;
    let unmatched = 0;
    for (let i = 0; i < 600; i++) {
      const filter = randomFilter(rng, 0);
      expect({ i, filter, problems: validateFilter(filter) }).toEqual({ i, filter, problems: [] });
      const predicate = compileFilterToPredicate(filter);
      const js = events.map((event) => predicate(event));
      const sql = [...(await sqlResults(filter)).values()];
      const differing = events.flatMap((event, id) =>
        sql[id] === js[id] ? [] : [{ id, event, sql: sql[id], js: js[id] }],
      );
      expect({ i, filter, differing: differing.slice(0, 3) }).toEqual({ i, filter, differing: [] });
      matched += js.filter(Boolean).length;
      unmatched += js.filter((m) => !m).length;
    }
    // The generator exercises both outcomes substantially.
    expect(matched).toBeGreaterThan(10_000);
    expect(unmatched).toBeGreaterThan(10_000);
  });

  it("composes with parameters before it (firstParam)", async () => {
    const rng = random(7);
    const events = Array.from({ length: 50 }, () => randomEvent(rng));
    await load(events);
    const filter = {
      any: [
        { field: "dst_port", op: "in", value: [22, 3389] },
        { field: "status", op: "eq", value: "failure" },
      ],
    };
    const predicate = compileFilterToPredicate(filter);
    const rows = await sqlResults(filter, 3, ["t1", "2000-01-01T00:00:00Z"]);
    expect([...rows.values()]).toEqual(events.map((e) => predicate(e)));
  });

  it("accepts in Postgres every address the shared IP pattern accepts, with the same value", async () => {
    const rng = random(99);
    const hex = () => Math.floor(rng() * 0x10000).toString(16);
    const octet = () => String(Math.floor(rng() * 256));
    const samples = [
      "::",
      "::1",
      "1::",
      "1:2:3:4:5:6:7::",
      "::2:3:4:5:6:7:8",
      "::1.2.3.4",
      "::ffff:1.2.3.4",
      "1:2:3:4:5::1.2.3.4",
    ];
    for (let i = 0; i < 300; i++) {
      const groups = Array.from({ length: 8 }, () => (rng() < 0.3 ? "0" : hex()));
      const v4tail = rng() < 0.3;
      const all = v4tail ? [...groups.slice(0, 6), `${octet()}.${octet()}.${octet()}.${octet()}`] : groups;
      const start = Math.floor(rng() * all.length);
      const end = start + Math.floor(rng() * (all.length - start));
      const text =
        rng() < 0.4 && end > start
          ? `${all.slice(0, start).join(":")}::${all.slice(end + (v4tail && end === all.length - 1 ? 0 : 1)).join(":")}`
          : all.join(":");
      samples.push(rng() < 0.3 ? text.toUpperCase() : text);
      samples.push(`${octet()}.${octet()}.${octet()}.${octet()}`);
    }
    const pattern = new RegExp(IP_ADDRESS_PATTERN);
    const accepted = samples.filter((s) => pattern.test(s));
    expect(accepted.length).toBeGreaterThan(400);
    // Postgres reads each accepted text as the address the JS parser reads (compared through inCidr /128, /32).
    const result = await client.query<{ text: string; inet: string; ok: boolean }>(
      `SELECT t AS text, t::inet::text AS inet, t ~ $2 AS ok FROM unnest($1::text[]) AS t`,
      [accepted, IP_ADDRESS_PATTERN],
    );
    expect(result.rows.every((row) => row.ok)).toBe(true);
    for (const row of result.rows) {
      const exact = compileFilterToPredicate({ field: "src_ip", op: "inCidr", value: [row.inet] });
      expect({ text: row.text, same: exact({ src_ip: row.text }) }).toEqual({ text: row.text, same: true });
    }
    // And rejects what it should.
    for (const bad of [
      "1.2.3",
      "01.2.3.4",
      "256.1.1.1",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      ":1",
      "1:",
      "::1%eth0",
      "1.2.3.4/32",
    ]) {
      expect({ bad, ok: pattern.test(bad) }).toEqual({ bad, ok: false });
    }
  });
});
