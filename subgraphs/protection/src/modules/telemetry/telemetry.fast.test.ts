import { readdirSync, readFileSync } from "node:fs";
import { TELEMETRY_LIMITS, telemetryRecordSchema } from "./telemetry.model";
import { wellFormedChecker } from "./telemetry.fast";

/**
 * The fast path may only accept what zod accepts, with the very same output. Checked over the agent
 * fixtures and every single-field corruption of each record: deleting a field, replacing it by a value of
 * every troublesome shape, and the cross-field rules.
 */
const fast = wellFormedChecker(TELEMETRY_LIMITS);
const zod = (value: unknown) => telemetryRecordSchema.safeParse(value);

const DIR = "test/fixtures/protection/telemetry";
const records: Array<Record<string, unknown>> = readdirSync(DIR)
  .filter((f) => f.endsWith(".ndjson"))
  .flatMap((f) => readFileSync(`${DIR}/${f}`, "utf8").split("\n"))
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Record<string, unknown>);

const long = (n: number) => "a".repeat(n);

/** Replacement values: wrong types, boundaries, patterns just outside the rules. */
const REPLACEMENTS: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  65_535,
  65_536,
  4_294_967_295,
  4_294_967_296,
  Number.MAX_SAFE_INTEGER,
  2 ** 53,
  "",
  " ",
  "x",
  "a\tb",
  "a\u0000b",
  "a\u007fb",
  "bad id",
  "C:\\Windows\\a.exe",
  "relative/path",
  "/ok/path",
  "\\\\server\\share\\x",
  "/bad\u0000path",
  "A".repeat(64),
  "g".repeat(64),
  "a".repeat(63),
  "2026-11-28T12:00:00Z",
  "2026-11-28T12:00:00.123456789+05:30",
  "2026-11-28T12:00:00",
  "2026-02-30T12:00:00Z",
  "2028-02-29T12:00:00Z",
  "2026-11-28T24:00:00Z",
  "2026-11-28T12:00:00+24:00",
  "2026-11-28 12:00:00Z",
  "9F525B04-47C3-487A-9B37-E8D8124D8161",
  "9f525b04-47c3-487a-9b37-e8d8124d816",
  "10.0.0.1",
  "::1",
  "2001:db8::1",
  "300.0.0.1",
  "10.0.0.1 ",
  "-host",
  "host-",
  "host_name.example",
  "TCP",
  "UDP",
  "ICMP",
  "tcp",
  "inbound",
  "outbound",
  "allowed",
  "denied",
  "created",
  "modified",
  "deleted",
  "renamed",
  "ssh",
  "network",
  "process",
  "file",
  "flow",
  "logon",
  "packages",
  long(200),
  long(201),
  long(253),
  long(254),
  long(256),
  long(257),
  long(512),
  long(513),
  long(1024),
  long(1025),
  "/" + long(4095),
  "/" + long(4096),
  long(32_768),
  long(32_769),
  [],
  {},
  ["/a"],
];

/** The fields of all activity kinds, including optional ones a record may lack. */
const FIELDS = [
  "kind",
  "id",
  "resourceId",
  "time",
  "host",
  "pid",
  "parentPid",
  "image",
  "commandLine",
  "user",
  "sha256",
  "publisher",
  "parentImage",
  "action",
  "path",
  "previousPath",
  "previousSha256",
  "size",
  "direction",
  "protocol",
  "srcIp",
  "srcPort",
  "dstIp",
  "dstPort",
  "bytes",
  "packets",
  "logonType",
  "success",
  "failureReason",
];

/** Checks one input: when the fast path accepts, zod must accept with the identical record. */
function agrees(input: Record<string, unknown>): boolean {
  const mine = fast(input);
  if (mine === undefined) return false;
  const theirs = zod(input);
  if (!theirs.success)
    throw new Error(`fast path accepted what zod rejects: ${JSON.stringify(input).slice(0, 300)}`);
  expect(mine).toStrictEqual(theirs.data);
  return true;
}

describe("telemetry fast path", () => {
  it("accepts every well-formed record of the fixtures, exactly as zod parses it", () => {
    expect(records.length).toBeGreaterThan(50);
    for (const r of records) expect(agrees(r)).toBe(true);
    for (const kind of ["process", "file", "flow", "logon", "packages"])
      expect(records.some((r) => r.kind === kind)).toBe(true);
  });

  it("leaves unknown kinds to zod", () => {
    expect(fast({ ...records[0], kind: "registry" })).toBeUndefined();
    const { kind: _, ...kindless } = records[0];
    expect(fast(kindless)).toBeUndefined();
  });

  it("checks package snapshots field by field: the system, the list, and every package", () => {
    const snapshot = records.find((r) => r.kind === "packages")!;
    const os = snapshot.os as Record<string, unknown>;
    const packages = snapshot.packages as Array<Record<string, unknown>>;
    expect(packages.length).toBeGreaterThan(1);
    let accepted = 0;
    let deferred = 0;
    const check = (input: Record<string, unknown>) => (agrees(input) ? accepted++ : deferred++);
    for (const field of ["family", "version", "distribution"]) {
      const without = { ...os };
      delete without[field];
      check({ ...snapshot, os: without });
      for (const v of REPLACEMENTS) check({ ...snapshot, os: { ...os, [field]: v } });
    }
    for (const v of [
      ...REPLACEMENTS,
      "debian",
      "alpine",
      "rhel",
      "windows",
      "Rocky Linux",
      "long".repeat(17),
    ])
      for (const field of ["family", "distribution"]) check({ ...snapshot, os: { ...os, [field]: v } });
    for (const v of REPLACEMENTS) check({ ...snapshot, os: v, packages });
    for (const field of ["ecosystem", "name", "version"]) {
      const without = { ...packages[1] };
      delete without[field];
      check({ ...snapshot, packages: [packages[0], without] });
      for (const v of [...REPLACEMENTS, "npm", "PyPI", "Debian", "Alpine", "RPM", "pypi"])
        check({ ...snapshot, packages: [packages[0], { ...packages[1], [field]: v }] });
    }
    for (const v of REPLACEMENTS) {
      check({ ...snapshot, packages: v });
      check({ ...snapshot, packages: [packages[0], v] });
    }
    check({ ...snapshot, packages: [] });
    check({ ...snapshot, packages: [{ ...packages[0], arch: "x86_64" }] });
    expect(fast({ ...snapshot, packages: new Array(20_001).fill(packages[0]) })).toBeUndefined();
    expect(accepted).toBeGreaterThan(20);
    expect(deferred).toBeGreaterThan(200);
  });

  it("never accepts a single-field corruption that zod rejects, and agrees on the ones it accepts", () => {
    let accepted = 0;
    let deferred = 0;
    // One record of each activity kind and shape (with and without the optional fields).
    const samples = [...new Map(records.map((r) => [Object.keys(r).sort().join(","), r])).values()].filter(
      (r) => r.kind !== "packages",
    );
    for (const record of samples)
      for (const field of FIELDS) {
        const without = { ...record };
        delete without[field];
        for (const input of [without, ...REPLACEMENTS.map((v) => ({ ...record, [field]: v }))]) {
          if (agrees(input)) accepted++;
          else deferred++;
        }
      }
    // Both outcomes occur (the check is not vacuous).
    expect(accepted).toBeGreaterThan(100);
    expect(deferred).toBeGreaterThan(1000);
  });

  it("applies the cross-field rules as zod does", () => {
    const file = records.find((r) => r.kind === "file")!;
    const flow = records.find((r) => r.kind === "flow")!;
    const logon = records.find((r) => r.kind === "logon" && r.success === false)!;
    expect(fast({ ...file, action: "modified", previousPath: "/etc/old" })).toBeUndefined();
    expect(agrees({ ...file, action: "renamed", previousPath: "/etc/old" })).toBe(true);
    expect(fast({ ...flow, protocol: "ICMP" })).toBeUndefined();
    const icmp: Record<string, unknown> = { ...flow, protocol: "ICMP" };
    delete icmp.srcPort;
    delete icmp.dstPort;
    expect(agrees(icmp)).toBe(true);
    expect(fast({ ...logon, success: true, failureReason: "bad password" })).toBeUndefined();
    expect(agrees({ ...logon, success: false, failureReason: "bad password" })).toBe(true);
  });

  it("lower-cases digests and drops unknown properties, as zod does", () => {
    const process = records.find((r) => r.kind === "process" && typeof r.sha256 === "string")!;
    const input = { ...process, sha256: (process.sha256 as string).toUpperCase(), agentVersion: "7.1" };
    expect(agrees(input)).toBe(true);
    expect(fast(input)).toMatchObject({ sha256: (process.sha256 as string).toLowerCase() });
    expect(fast(input)).not.toHaveProperty("agentVersion");
  });

  it("keeps addresses in one canonical form, as zod does: compressed lower-case IPv6, mapped IPv4 as IPv4", () => {
    const flow = records.find((r) => r.kind === "flow")!;
    const logon = records.find((r) => r.kind === "logon" && typeof r.srcIp === "string")!;
    const cases: Array<[Record<string, unknown>, Record<string, string>]> = [
      [
        { ...flow, srcIp: "2001:DB8:0:0::66", dstIp: "::FFFF:10.0.0.4" },
        { srcIp: "2001:db8::66", dstIp: "10.0.0.4" },
      ],
      [{ ...logon, srcIp: "::ffff:203.0.113.10" }, { srcIp: "203.0.113.10" }],
      [{ ...logon, srcIp: "fe80::1%eth0" }, { srcIp: "fe80::1" }],
    ];
    for (const [input, canonical] of cases) {
      expect(agrees(input)).toBe(true);
      expect(fast(input)).toMatchObject(canonical);
    }
  });
});
