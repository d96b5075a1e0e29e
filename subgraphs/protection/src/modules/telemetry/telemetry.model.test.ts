import {
  parseTelemetryNdjson,
  parseTelemetryRecord,
  TELEMETRY_KINDS,
  TELEMETRY_LIMITS,
  type TelemetryRecord,
} from "./telemetry.model";

const RESOURCE = "9f525b04-47c3-487a-9b37-e8d8124d8161";
const SHA = "92804faaab2175dc501d73e814663058c78c0a042675a8937266357bcfb96c50";

const common = { id: "rec-1", resourceId: RESOURCE, time: "2025-01-15T07:44:31.655Z", host: "vm-dev-02" };

/** One valid record of every kind. */
const GOOD: Record<(typeof TELEMETRY_KINDS)[number], Record<string, unknown>> = {
  process: {
    kind: "process",
    ...common,
    pid: 8244,
    parentPid: 8120,
    image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    commandLine: "powershell.exe -NoProfile",
    user: "VM-DEV-02\\contosoadmin",
    sha256: SHA,
    publisher: "Microsoft Windows",
    parentImage: "C:\\Windows\\System32\\cmd.exe",
  },
  file: {
    kind: "file",
    ...common,
    host: "vm-web-prod-01",
    action: "modified",
    path: "/etc/passwd",
    sha256: SHA,
    previousSha256: SHA,
    size: 2106,
    user: "root",
  },
  packages: {
    kind: "packages",
    ...common,
    host: "ci-runner-02",
    os: { family: "debian", version: "12" },
    packages: [
      { ecosystem: "Debian", name: "openssl", version: "3.0.11-1~deb12u1" },
      { ecosystem: "npm", name: "lodash", version: "4.17.20" },
    ],
  },
  flow: {
    kind: "flow",
    ...common,
    direction: "inbound",
    protocol: "TCP",
    srcIp: "198.51.100.66",
    srcPort: 50412,
    dstIp: "10.2.1.5",
    dstPort: 3389,
    bytes: 18_422_330,
    packets: 24_118,
    action: "allowed",
  },
  logon: {
    kind: "logon",
    ...common,
    user: "admin",
    logonType: "ssh",
    srcIp: "192.0.2.45",
    success: false,
    failureReason: "wrong password",
  },
};

function ok(value: unknown): TelemetryRecord {
  const result = parseTelemetryRecord(value);
  if ("reason" in result) throw new Error(`unexpected rejection: ${result.reason}`);
  return result.record;
}

function reason(value: unknown): string {
  const result = parseTelemetryRecord(value);
  if ("record" in result) throw new Error(`expected a rejection, got ${JSON.stringify(result.record)}`);
  return result.reason;
}

const withField = (kind: keyof typeof GOOD, patch: Record<string, unknown>) => {
  const record: Record<string, unknown> = { ...GOOD[kind], ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete record[k];
  return record;
};

describe("parseTelemetryRecord: valid records", () => {
  it.each(TELEMETRY_KINDS)("accepts a complete %s record", (kind) => {
    expect(ok(GOOD[kind])).toEqual(GOOD[kind]);
  });

  it.each([
    [
      "process without optional fields",
      withField("process", {
        parentPid: undefined,
        sha256: undefined,
        publisher: undefined,
        parentImage: undefined,
      }),
    ],
    ["process with an empty command line", withField("process", { commandLine: "" })],
    ["process with a POSIX image", withField("process", { image: "/usr/bin/node", user: "webshop" })],
    ["process with a UNC image", withField("process", { image: "\\\\fs01\\tools\\agent.exe" })],
    [
      "file deleted without hashes",
      withField("file", { action: "deleted", sha256: undefined, previousSha256: undefined, size: undefined }),
    ],
    [
      "file renamed with its previous path",
      withField("file", { action: "renamed", previousPath: "/etc/passwd-" }),
    ],
    ["packages with an empty snapshot", withField("packages", { packages: [] })],
    ["packages on Windows", withField("packages", { os: { family: "windows", version: "10.0.20348" } })],
    [
      "ICMP flow without ports",
      withField("flow", { protocol: "ICMP", srcPort: undefined, dstPort: undefined }),
    ],
    ["IPv6 flow", withField("flow", { srcIp: "2001:db8::45", dstIp: "fd00::5" })],
    [
      "denied outbound UDP flow",
      withField("flow", { direction: "outbound", protocol: "UDP", action: "denied" }),
    ],
    [
      "successful logon without a source",
      withField("logon", { success: true, failureReason: undefined, srcIp: undefined }),
    ],
    ["service logon", withField("logon", { logonType: "service", success: true, failureReason: undefined })],
    ["time with an offset", withField("logon", { time: "2025-01-15T08:44:31+01:00" })],
    ["time without fraction", withField("logon", { time: "2025-01-15T07:44:31Z" })],
    ["upper-case resource id", withField("logon", { resourceId: RESOURCE.toUpperCase() })],
    ["FQDN host", withField("logon", { host: "ip-10-21-0-129.ec2.internal" })],
  ])("accepts %s", (_name, value) => {
    expect(ok(value).kind).toBe(value.kind);
  });

  it("lower-cases digests and drops properties it does not know", () => {
    const record = ok(
      withField("process", { sha256: SHA.toUpperCase(), agentVersion: "2.3.1", extra: { a: 1 } }),
    );
    expect(record).toEqual(GOOD.process);
    expect(record).not.toHaveProperty("agentVersion");
  });

  it("accepts Maven, Go and crates.io packages beside the OS's", () => {
    const packages = [
      { ecosystem: "Debian", name: "openssl", version: "3.0.11-1~deb12u1" },
      { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core", version: "2.14.1" },
      { ecosystem: "Go", name: "golang.org/x/crypto", version: "v0.0.0-20201216223049-8b5274cf687f" },
      { ecosystem: "crates.io", name: "crossbeam-deque", version: "0.8.0" },
    ];
    const record = ok(withField("packages", { packages }));
    expect(record.kind === "packages" && record.packages).toEqual(packages);
  });

  it("accepts the largest snapshot allowed", () => {
    const packages = Array.from({ length: TELEMETRY_LIMITS.packages }, (_, i) => ({
      ecosystem: "npm",
      name: `pkg-${i}`,
      version: "1.0.0",
    }));
    const record = ok(withField("packages", { packages }));
    expect(record.kind === "packages" && record.packages).toHaveLength(TELEMETRY_LIMITS.packages);
  });
});

describe("parseTelemetryRecord: rejections name the faulty field", () => {
  const longPath = `/${"a".repeat(TELEMETRY_LIMITS.path)}`;
  const tooManyPackages = Array.from({ length: TELEMETRY_LIMITS.packages + 1 }, () => ({
    ecosystem: "npm",
    name: "x",
    version: "1",
  }));
  const badPackages = [
    { ecosystem: "Debian", name: "bash", version: "5.2.15-2+b2" },
    { ecosystem: "Debian", name: "curl", version: "7.88.1-10+deb12u4" },
    { ecosystem: "Debian", name: "git", version: "1:2.39.2-1.1" },
    { ecosystem: "Debian", name: "openssl" },
  ];

  it.each<[string, unknown, string]>([
    ["a non-object", "process", "record: expected object, got string"],
    ["null", null, "record: expected object, got null"],
    ["an array", [GOOD.process], "record: expected object, got array"],
    [
      "a missing kind",
      withField("process", { kind: undefined }),
      "kind: required, must be one of process, file, packages, flow, logon",
    ],
    [
      "an unknown kind",
      withField("process", { kind: "registry" }),
      "kind: must be one of process, file, packages, flow, logon",
    ],
    ["a missing id", withField("process", { id: undefined }), "id: required"],
    ["an empty id", withField("process", { id: "" }), "id: must not be empty"],
    [
      "an id with spaces",
      withField("process", { id: "rec 1" }),
      "id: must be printable ASCII without spaces",
    ],
    ["a long id", withField("process", { id: "x".repeat(201) }), "id: at most 200 characters"],
    [
      "a resource id that is not a UUID",
      withField("process", { resourceId: "vm-dev-02" }),
      "resourceId: must be a UUID",
    ],
    [
      "a numeric resource id",
      withField("process", { resourceId: 42 }),
      "resourceId: expected string, got number",
    ],
    [
      "a time without zone",
      withField("process", { time: "2025-01-15T07:44:31" }),
      "time: must be an ISO 8601 date-time with a time zone",
    ],
    [
      "an impossible date",
      withField("process", { time: "2025-02-30T07:44:31Z" }),
      "time: must be an ISO 8601 date-time with a time zone",
    ],
    [
      "a time as epoch millis",
      withField("process", { time: 1736927071655 }),
      "time: expected string, got number",
    ],
    ["a host with spaces", withField("process", { host: "vm dev 02" }), "host: must be a host name"],
    ["a missing host", withField("process", { host: undefined }), "host: required"],
    ["a fractional pid", withField("process", { pid: 12.5 }), "pid: must be an integer"],
    ["a negative pid", withField("process", { pid: -1 }), "pid: must be at least 0"],
    ["a string pid", withField("process", { pid: "8244" }), "pid: expected number, got string"],
    [
      "a relative image",
      withField("process", { image: "powershell.exe" }),
      "image: must be an absolute path",
    ],
    ["a long image path", withField("process", { image: longPath }), "image: at most 4,096 characters"],
    [
      "a relative parent image",
      withField("process", { parentImage: "cmd.exe" }),
      "parentImage: must be an absolute path",
    ],
    [
      "a long command line",
      withField("process", { commandLine: "x".repeat(32_769) }),
      "commandLine: at most 32,768 characters",
    ],
    ["a missing command line", withField("process", { commandLine: undefined }), "commandLine: required"],
    ["an empty user", withField("process", { user: "" }), "user: must not be empty"],
    [
      "a user with a newline",
      withField("process", { user: "root\nadmin" }),
      "user: must not contain control characters",
    ],
    [
      "a short digest",
      withField("process", { sha256: "abc123" }),
      "sha256: must be a SHA-256 digest (64 hex digits)",
    ],
    [
      "an unknown file action",
      withField("file", { action: "chmod" }),
      "action: must be one of created, modified, deleted, renamed",
    ],
    ["a relative file path", withField("file", { path: "etc/passwd" }), "path: must be an absolute path"],
    [
      "a path with NUL",
      withField("file", { path: "/etc/passwd\u0000.bak" }),
      "path: must not contain NUL characters",
    ],
    [
      "a previous path without a rename",
      withField("file", { previousPath: "/etc/passwd-" }),
      "previousPath: only allowed when action is renamed",
    ],
    ["a negative size", withField("file", { size: -5 }), "size: must be at least 0"],
    [
      "a bad previous digest",
      withField("file", { previousSha256: "z".repeat(64) }),
      "previousSha256: must be a SHA-256 digest (64 hex digits)",
    ],
    [
      "a missing package version",
      withField("packages", { packages: badPackages }),
      "packages[3].version: required",
    ],
    [
      "an unknown ecosystem",
      withField("packages", {
        packages: [{ ecosystem: "NuGet", name: "Newtonsoft.Json", version: "12.0.1" }],
      }),
      "packages[0].ecosystem: must be one of npm, PyPI, Debian, Alpine, RPM, Maven, Go, crates.io",
    ],
    [
      "an empty package name",
      withField("packages", { packages: [{ ecosystem: "npm", name: "", version: "1.0.0" }] }),
      "packages[0].name: must not be empty",
    ],
    [
      "a package list that is not an array",
      withField("packages", { packages: { lodash: "4.17.20" } }),
      "packages: expected array, got object",
    ],
    [
      "too many packages",
      withField("packages", { packages: tooManyPackages }),
      "packages: at most 20,000 items",
    ],
    [
      "an unknown OS family",
      withField("packages", { os: { family: "ubuntu", version: "22.04" } }),
      "os.family: must be one of debian, alpine, rhel, windows",
    ],
    ["a missing OS version", withField("packages", { os: { family: "debian" } }), "os.version: required"],
    ["a missing OS", withField("packages", { os: undefined }), "os: required"],
    [
      "a bad source IP",
      withField("flow", { srcIp: "198.51.100.300" }),
      "srcIp: must be an IPv4 or IPv6 address",
    ],
    [
      "a host name as IP",
      withField("flow", { dstIp: "vm-dev-02" }),
      "dstIp: must be an IPv4 or IPv6 address",
    ],
    ["a port out of range", withField("flow", { dstPort: 70000 }), "dstPort: must be at most 65,535"],
    [
      "ports on ICMP",
      withField("flow", { protocol: "ICMP" }),
      "srcPort: not applicable to ICMP; dstPort: not applicable to ICMP",
    ],
    [
      "an unknown protocol",
      withField("flow", { protocol: "SCTP" }),
      "protocol: must be one of TCP, UDP, ICMP",
    ],
    [
      "an unknown direction",
      withField("flow", { direction: "lateral" }),
      "direction: must be one of inbound, outbound",
    ],
    [
      "an unknown flow action",
      withField("flow", { action: "dropped" }),
      "action: must be one of allowed, denied",
    ],
    ["fractional bytes", withField("flow", { bytes: 1.5 }), "bytes: must be an integer"],
    [
      "an unknown logon type",
      withField("logon", { logonType: "batch" }),
      "logonType: must be one of interactive, remote_interactive, network, service, ssh",
    ],
    [
      "success as a string",
      withField("logon", { success: "false" }),
      "success: expected boolean, got string",
    ],
    [
      "a failure reason on success",
      withField("logon", { success: true }),
      "failureReason: only allowed when success is false",
    ],
    [
      "a bad logon source",
      withField("logon", { srcIp: "192.0.2" }),
      "srcIp: must be an IPv4 or IPv6 address",
    ],
  ])("rejects %s", (_name, value, expected) => {
    expect(reason(value)).toBe(expected);
  });

  it("names at most three faults, then counts the rest", () => {
    expect(reason({ kind: "flow" })).toBe("id: required; resourceId: required; time: required; and 6 more");
  });

  it("never throws, even on hostile input", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("boom");
        },
        has() {
          throw new Error("boom");
        },
      },
    );
    expect(reason(hostile)).toMatch(/^record: unreadable|: /);
    expect(reason(undefined)).toBe("record: expected object, got undefined");
    expect(reason(Object.create(null))).toBe(
      "kind: required, must be one of process, file, packages, flow, logon",
    );
  });
});

describe("parseTelemetryNdjson", () => {
  it("validates each line and reports line numbers", () => {
    const text = [
      JSON.stringify(GOOD.logon),
      "",
      "{not json",
      JSON.stringify(withField("flow", { srcIp: "bad" })),
      `  ${JSON.stringify(GOOD.file)}  `,
    ].join("\n");
    const lines = parseTelemetryNdjson(text);
    expect(lines.map((l) => ("record" in l ? `${l.line}: ok` : `${l.line}: ${l.reason}`))).toEqual([
      "1: ok",
      expect.stringMatching(/^3: line: invalid JSON \(/),
      "4: srcIp: must be an IPv4 or IPv6 address",
      "5: ok",
    ]);
  });
});
