/**
 * Synthetic OCSF traffic for the ingest benchmark: a seeded PRNG, an estate (servers, workstations,
 * users, public destinations, domains) and one event builder per class — Network Activity (4001),
 * Authentication (3002), Process Activity (1007) and DNS Activity (4003) — with the OCSF fields a
 * sensor or firewall export carries. Some events are planted so that detections do real work:
 * threat-intelligence hits, encoded PowerShell, RDP/SSH allowed from the internet, password guessing.
 */
import { randomUUID } from "node:crypto";
import { TI_ALERT_PERIOD_MS } from "../../subgraphs/siem/src/modules/intel/ti-matcher";

/** mulberry32: small, fast, seeded (the same BENCH_SEED gives the same traffic shape). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Addresses no normal traffic uses: documentation, private, shared, multicast… and the TI ranges. */
function reserved(a: number, b: number, c: number): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113)
  );
}

/** The threat-intelligence ranges: indicators are drawn from here, normal traffic never goes there. */
export const TI_RANGES = ["198.51.100", "203.0.113"] as const;

const FIRST =
  "adele alex ben carla dan diego emma farid grace hana ivan jon kim lee lena marc mia nina omar pia raj sara tom uma vera wei yara zoe".split(
    " ",
  );
const LAST =
  "adams berg chen diaz evans fischer gu haddad ito jansen khan lopez meyer novak okafor park quinn rossi silva tanaka urban vogel weber young zhang".split(
    " ",
  );
const ROLES = ["web", "app", "api", "db", "cache", "queue", "build", "jump", "dc", "file"];
const REGIONS = ["westeurope", "northeurope", "eastus", "eastus2", "uksouth"];
const OSES = [
  { name: "Windows Server 2022 Datacenter: Azure Edition", type: "Windows", type_id: 100, build: "20348" },
  { name: "Windows Server 2019 Datacenter", type: "Windows", type_id: 100, build: "17763" },
  { name: "Ubuntu 22.04.4 LTS", type: "Linux", type_id: 200, build: "5.15.0-1064-azure" },
  { name: "Red Hat Enterprise Linux 9.3", type: "Linux", type_id: 200, build: "5.14.0-362" },
];
const DOMAINS =
  "login.microsoftonline.com graph.microsoft.com management.azure.com github.com api.github.com registry.npmjs.org pypi.org files.pythonhosted.org security.ubuntu.com archive.ubuntu.com packages.microsoft.com settings-win.data.microsoft.com ctldl.windowsupdate.com www.google.com storage.googleapis.com s3.amazonaws.com sts.amazonaws.com slack.com zoom.us outlook.office365.com contoso.sharepoint.com teams.microsoft.com ocsp.digicert.com crl3.digicert.com time.windows.com dc.services.visualstudio.com vortex.data.microsoft.com cdn.jsdelivr.net auth.docker.io production.cloudflare.docker.com".split(
    " ",
  );
const PROCESSES: Array<{ name: string; path: string; cmd: string }> = [
  {
    name: "svchost.exe",
    path: "C:\\Windows\\System32\\svchost.exe",
    cmd: "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
  },
  {
    name: "MpCmdRun.exe",
    path: "C:\\Program Files\\Windows Defender\\MpCmdRun.exe",
    cmd: '"C:\\Program Files\\Windows Defender\\MpCmdRun.exe" -SignatureUpdate -ScheduleJob',
  },
  {
    name: "w3wp.exe",
    path: "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
    cmd: 'c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "DefaultAppPool" -v "v4.0" -l "webengine4.dll"',
  },
  {
    name: "sqlservr.exe",
    path: "C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe",
    cmd: '"C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe" -sMSSQLSERVER',
  },
  {
    name: "powershell.exe",
    path: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    cmd: "powershell.exe -NoProfile -File C:\\ops\\rotate-logs.ps1",
  },
  { name: "cmd.exe", path: "C:\\Windows\\System32\\cmd.exe", cmd: 'cmd.exe /c "C:\\ops\\backup.bat"' },
  { name: "node", path: "/usr/bin/node", cmd: "node /srv/api/dist/main.js" },
  { name: "python3", path: "/usr/bin/python3", cmd: "python3 /opt/etl/run.py --since 1h" },
  { name: "sshd", path: "/usr/sbin/sshd", cmd: "sshd: deploy [priv]" },
  { name: "cron", path: "/usr/sbin/cron", cmd: "/usr/sbin/CRON -f" },
  {
    name: "dockerd",
    path: "/usr/bin/dockerd",
    cmd: "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock",
  },
  { name: "apt-get", path: "/usr/bin/apt-get", cmd: "apt-get -qq update" },
];
const ENCODED_PS =
  "powershell.exe -NoP -NonI -W Hidden -Exec Bypass -Enc JAB1AD0AJwBoAHQAdABwAHMAOgAvAC8AdQBwAGQAYQB0AGUAcwAuAGMAbwBuAHQAbwBzAG8ALgBlAHgAYQBtAHAAbABlACcA";
const PORTS = [443, 443, 443, 443, 443, 443, 443, 443, 80, 80, 8443, 5671, 1433, 445, 123, 9093, 6379, 22];
const PRODUCT = { name: "Contoso Sensor", vendor_name: "Contoso", version: "4.2.1" };

type Host = { hostname: string; ip: string; region: string; os: (typeof OSES)[number]; uid: string };

/** What the generator planted, for the checks after ingest. */
export interface Planted {
  /** Events carrying an indicator value. */
  ti: number;
  /**
   * TI_MATCH alerts they must raise: one per indicator value, hour of event time and host (the SIEM's grouping,
   * `TI_ALERT_PERIOD_MS`; these events name no account).
   */
  tiFindings: number;
  encodedPowerShell: number;
  internetRdpSsh: number;
  bruteForce: number;
}

export interface TrafficOptions {
  seed: number;
  /** Events are spread over [now - spreadMs, now). */
  now: number;
  spreadMs: number;
  /** Share of events carrying an indicator value (half a bad destination IP, half a bad queried domain). */
  tiRate: number;
  /** Indicator values planted into events (they must be in the imported bundle). */
  tiIps: readonly string[];
  tiDomains: readonly string[];
}

/** An endless source of OCSF events (JSON objects) with the estate and the plants described above. */
export class OcsfTraffic {
  readonly planted: Planted = {
    ti: 0,
    tiFindings: 0,
    encodedPowerShell: 0,
    internetRdpSsh: 0,
    bruteForce: 0,
  };
  private readonly tiFindings = new Set<string>();
  readonly byClass: Record<number, number> = { 4001: 0, 3002: 0, 1007: 0, 4003: 0 };
  /** Source addresses of the password guessing (192.0.2.0/24: public-looking, outside the TI ranges). */
  readonly attackers: string[];
  private readonly r: () => number;
  private readonly hosts: Host[];
  private readonly users: string[];
  private readonly publicIps: string[];

  constructor(private readonly o: TrafficOptions) {
    this.r = prng(o.seed);
    this.hosts = Array.from({ length: 240 }, (_, i) => ({
      hostname: `vm-${ROLES[i % ROLES.length]}-${String(Math.floor(i / ROLES.length) + 1).padStart(2, "0")}`,
      ip: `10.${1 + (i % 4)}.${Math.floor(i / 4) % 250}.${4 + (i % 200)}`,
      region: REGIONS[i % REGIONS.length],
      os: OSES[i % OSES.length],
      uid: randomUUID(),
    }));
    this.users = FIRST.flatMap((f) => LAST.map((l) => `${f}.${l}@contoso.example`));
    this.publicIps = [];
    while (this.publicIps.length < 20_000) {
      const [a, b, c, d] = [1 + this.int(222), this.int(256), this.int(256), 1 + this.int(254)];
      if (!reserved(a, b, c)) this.publicIps.push(`${a}.${b}.${c}.${d}`);
    }
    this.attackers = Array.from({ length: 20 }, (_, i) => `192.0.2.${10 + i * 7}`);
  }

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }
  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.r() * list.length)];
  }
  private meta(time: number) {
    return {
      version: "1.1.0",
      uid: randomUUID(),
      product: PRODUCT,
      logged_time: time + 400 + this.int(2000),
    };
  }
  private device(h: Host) {
    return {
      hostname: h.hostname,
      ip: h.ip,
      type_id: 6,
      type: "Virtual",
      region: h.region,
      uid: h.uid,
      os: h.os,
    };
  }
  private workstation(): string {
    return `10.20.${this.int(256)}.${1 + this.int(254)}`;
  }

  /** The next event. */
  next(): Record<string, unknown> {
    const time = this.o.now - 1 - this.int(this.o.spreadMs);
    const x = this.r();
    if (x < this.o.tiRate) {
      this.planted.ti++;
      const value = this.r() < 0.5 ? this.pick(this.o.tiIps) : this.pick(this.o.tiDomains);
      const event = this.o.tiIps.includes(value)
        ? this.network(time, { dstIp: value })
        : this.dns(time, value);
      const host = (event.device as { hostname: string }).hostname.toLowerCase();
      this.tiFindings.add(`${value}|${time - (time % TI_ALERT_PERIOD_MS)}|${host}`);
      this.planted.tiFindings = this.tiFindings.size;
      return event;
    }
    if (x < 0.75) return this.r() < 0.00007 ? this.inboundRemote(time) : this.network(time, {});
    if (x < 0.85) return this.auth(time);
    if (x < 0.93) return this.process(time);
    return this.dns(time, this.pick(DOMAINS));
  }

  private network(time: number, o: { dstIp?: string }): Record<string, unknown> {
    this.byClass[4001]++;
    const h = this.pick(this.hosts);
    const denied = this.r() < 0.03;
    const bytesOut = 200 + this.int(40_000);
    return {
      class_uid: 4001,
      class_name: "Network Activity",
      category_uid: 4,
      category_name: "Network Activity",
      activity_id: 6,
      activity_name: "Traffic",
      type_uid: 400106,
      time,
      severity_id: 1,
      severity: "Informational",
      status: "Success",
      status_id: 1,
      action_id: denied ? 2 : 1,
      action: denied ? "Denied" : "Allowed",
      metadata: this.meta(time),
      device: this.device(h),
      src_endpoint: { ip: h.ip, port: 49152 + this.int(16_000) },
      dst_endpoint: { ip: o.dstIp ?? this.pick(this.publicIps), port: this.pick(PORTS) },
      connection_info: { protocol_name: "tcp", protocol_num: 6, direction_id: 2, direction: "Outbound" },
      traffic: {
        bytes_in: 100 + this.int(2_000_000),
        bytes_out: bytesOut,
        packets_in: 1 + this.int(1500),
        packets_out: 1 + Math.floor(bytesOut / 900),
      },
    };
  }

  /** Planted: RDP or SSH from a public address, allowed (NRT rule internet-rdp-ssh-allowed). */
  private inboundRemote(time: number): Record<string, unknown> {
    this.planted.internetRdpSsh++;
    const event = this.network(time, {});
    const h = this.pick(this.hosts);
    return {
      ...event,
      device: this.device(h),
      src_endpoint: { ip: this.pick(this.publicIps), port: 49152 + this.int(16_000) },
      dst_endpoint: { ip: h.ip, port: h.os.type === "Linux" ? 22 : 3389 },
      action_id: 1,
      action: "Allowed",
      connection_info: { protocol_name: "tcp", protocol_num: 6, direction_id: 1, direction: "Inbound" },
    };
  }

  private auth(time: number): Record<string, unknown> {
    this.byClass[3002]++;
    const h = this.pick(this.hosts);
    const attack = this.r() < 0.05; // 0.5 % of all events: password guessing from 20 addresses
    const failed = attack || this.r() < 0.05;
    if (attack) this.planted.bruteForce++;
    const user = attack
      ? this.pick(["administrator", "admin", "root", "backup", "test"])
      : this.pick(this.users);
    const remote = h.os.type === "Windows";
    return {
      class_uid: 3002,
      class_name: "Authentication",
      category_uid: 3,
      category_name: "Identity & Access Management",
      activity_id: 1,
      activity_name: "Logon",
      type_uid: 300201,
      time,
      severity_id: failed ? 2 : 1,
      severity: failed ? "Low" : "Informational",
      status: failed ? "Failure" : "Success",
      status_id: failed ? 2 : 1,
      message: failed ? "An account failed to log on." : "An account was successfully logged on.",
      metadata: this.meta(time),
      device: this.device(h),
      user: { name: user, type_id: 1, type: "User" },
      logon_type_id: remote ? 10 : 3,
      logon_type: remote ? "RemoteInteractive" : "Network",
      auth_protocol_id: remote ? 1 : 5,
      auth_protocol: remote ? "NTLM" : "Password",
      is_remote: true,
      is_mfa: !failed && this.r() < 0.3,
      ...(failed
        ? { status_code: "0xC000006D", status_detail: "Unknown user name or bad password. (0xC000006A)" }
        : {}),
      src_endpoint: {
        ip: attack ? this.pick(this.attackers) : this.workstation(),
        port: 49152 + this.int(16_000),
        ...(attack ? { location: { country: "NL" } } : {}),
      },
      dst_endpoint: { ip: h.ip, port: remote ? 3389 : 22, hostname: h.hostname },
    };
  }

  private process(time: number): Record<string, unknown> {
    this.byClass[1007]++;
    const h = this.pick(this.hosts);
    const encoded = this.r() < 0.0006;
    if (encoded) this.planted.encodedPowerShell++;
    const p = encoded ? PROCESSES[4] : this.pick(PROCESSES);
    const account =
      h.os.type === "Windows" ? (this.r() < 0.6 ? "NT AUTHORITY\\SYSTEM" : "CONTOSO\\svc-ops") : "deploy";
    return {
      class_uid: 1007,
      class_name: "Process Activity",
      category_uid: 1,
      category_name: "System Activity",
      activity_id: 1,
      activity_name: "Launch",
      type_uid: 100701,
      time,
      severity_id: 1,
      severity: "Informational",
      status: "Success",
      status_id: 1,
      metadata: this.meta(time),
      device: this.device(h),
      actor: {
        user: { name: account },
        process: { pid: 400 + this.int(9000), name: h.os.type === "Windows" ? "services.exe" : "systemd" },
      },
      process: {
        pid: 1000 + this.int(60_000),
        uid: randomUUID(),
        name: p.name,
        cmd_line: encoded ? ENCODED_PS : p.cmd,
        file: { name: p.name, path: p.path, type_id: 1, type: "Regular File" },
        user: { name: account },
      },
    };
  }

  private dns(time: number, hostname: string): Record<string, unknown> {
    this.byClass[4003]++;
    const h = this.pick(this.hosts);
    return {
      class_uid: 4003,
      class_name: "DNS Activity",
      category_uid: 4,
      category_name: "Network Activity",
      activity_id: 1,
      activity_name: "Query",
      type_uid: 400301,
      time,
      severity_id: 1,
      severity: "Informational",
      status: "Success",
      status_id: 1,
      metadata: this.meta(time),
      device: this.device(h),
      query: { hostname, type: "A", class: "IN", packet_uid: this.int(65_536) },
      answers: [{ rdata: this.pick(this.publicIps), type: "A", class: "IN", ttl: 60 + this.int(3600) }],
      rcode_id: 0,
      rcode: "NoError",
      src_endpoint: { ip: h.ip, port: 49152 + this.int(16_000) },
      dst_endpoint: { ip: "168.63.129.16", port: 53 },
      connection_info: { protocol_name: "udp", protocol_num: 17, direction_id: 2, direction: "Outbound" },
    };
  }
}

/** ~`count` indicator values: every address of the two TI ranges, then `*.bad.example` domains. */
export function indicatorValues(count: number, seed: number): { ips: string[]; domains: string[] } {
  const r = prng(seed ^ 0x5eed);
  const ips = TI_RANGES.flatMap((net) => Array.from({ length: 254 }, (_, i) => `${net}.${i + 1}`));
  const wantIps = Math.min(ips.length, Math.floor(count / 2));
  for (let i = ips.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [ips[i], ips[j]] = [ips[j], ips[i]];
  }
  const words = ["cdn", "update", "login", "secure", "files", "api", "track", "sync", "mail", "portal"];
  const domains = new Set<string>();
  while (domains.size < count - wantIps) {
    const word = words[Math.floor(r() * words.length)];
    domains.add(`${word}-${Math.floor(r() * 1e6).toString(36)}.bad.example`);
  }
  return { ips: ips.slice(0, wantIps), domains: [...domains] };
}
