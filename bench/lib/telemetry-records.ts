/**
 * Synthetic workload telemetry for the telemetry benchmark: a seeded estate of Linux and Windows machines
 * and a stream of agent records (`process`, `flow`, `logon`, `file`, a few `packages` snapshots) in the
 * shape `parseTelemetryRecord` accepts. Normal activity raises no detection; planted activity raises a
 * known number: encoded PowerShell (one alert per command), SSH password guessing (one alert per burst of
 * 25 failed logons from one address within four minutes) and `/etc/passwd` changes (one per machine).
 */
import { randomUUID } from "node:crypto";
import { prng } from "./ocsf-events";

/** What the planted activity must raise, by detection kind. */
export interface PlantedDetections {
  "encoded-powershell": number;
  "brute-force": number;
  "critical-file-change": number;
}

interface Machine {
  id: string;
  host: string;
  windows: boolean;
  ip: string;
}

const LINUX_PROCESSES: Array<[string, string, string]> = [
  ["/usr/sbin/nginx", "nginx: worker process", "www-data"],
  ["/usr/bin/node", "node /opt/webshop/server.js --port 8080", "webshop"],
  ["/usr/bin/python3", "python3 /opt/jobs/export.py --since 1h", "svc-jobs"],
  ["/usr/lib/postgresql/15/bin/postgres", "postgres: checkpointer", "postgres"],
  ["/usr/bin/apt-get", "apt-get -qq update", "root"],
  ["/usr/sbin/cron", "/usr/sbin/CRON -f", "root"],
  ["/bin/bash", "/bin/bash /opt/backup/rotate.sh", "svc-backup"],
  ["/usr/bin/git", "git fetch --quiet origin", "runner"],
];
const WINDOWS_PROCESSES: Array<[string, string, string]> = [
  [
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
    "NT AUTHORITY\\SYSTEM",
  ],
  [
    "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
    'c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "DefaultAppPool"',
    "IIS APPPOOL\\DefaultAppPool",
  ],
  [
    "C:\\Program Files\\dotnet\\dotnet.exe",
    '"C:\\Program Files\\dotnet\\dotnet.exe" build -c Release',
    "CONTOSO\\build",
  ],
  [
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "powershell.exe -NoProfile -File C:\\ops\\inventory.ps1",
    "CONTOSO\\ops",
  ],
  ["C:\\Windows\\System32\\cmd.exe", 'cmd.exe /c "C:\\ops\\cleanup.cmd"', "CONTOSO\\ops"],
];
const LINUX_FILES = [
  "/var/log/nginx/access.log",
  "/var/log/app/app.log",
  "/tmp/upload-cache/part",
  "/opt/webshop/cache/index.json",
];
const WINDOWS_FILES = [
  "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex.log",
  "C:\\ops\\reports\\daily.csv",
  "C:\\Windows\\Temp\\setup.log",
];
const PORTS = [443, 443, 443, 80, 5432, 6379, 8080, 53];

/** A stream of telemetry records over `spreadMs` before `now`, seeded. */
export class TelemetryTraffic {
  private readonly random: () => number;
  private readonly machines: Machine[];
  private n = 0;
  private burstsLeft: Array<{ machine: Machine; ip: string; start: number; left: number }> = [];
  private passwdPlants = 0;
  private sincePlant = 0;
  private plants = 0;
  readonly planted: PlantedDetections = {
    "encoded-powershell": 0,
    "brute-force": 0,
    "critical-file-change": 0,
  };

  constructor(
    private readonly options: {
      seed: number;
      now: number;
      spreadMs: number;
      machines: number;
      plantEvery: number;
    },
  ) {
    this.random = prng(options.seed);
    this.machines = Array.from({ length: options.machines }, (_, i) => {
      const windows = i % 3 === 0;
      return {
        id: randomUUID(),
        host: `${windows ? "win" : "lnx"}-${String(i).padStart(4, "0")}`,
        windows,
        ip: `10.${(i >> 8) & 255}.${i & 255}.${4 + (i % 200)}`,
      };
    });
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)];
  }

  private hex(bytes: number): string {
    let out = "";
    for (let i = 0; i < bytes; i++)
      out += Math.floor(this.random() * 256)
        .toString(16)
        .padStart(2, "0");
    return out;
  }

  /** The time span the next records fall in (agents send what just happened: batches follow the clock). */
  private span = { from: 0, ms: 0 };

  /** The next records' times: within `[from, from + ms)`, a slice of the spread. */
  setSpan(from: number, ms: number): void {
    this.span = { from, ms };
  }

  private spanStart(): number {
    return this.span.ms ? this.span.from : this.options.now - this.options.spreadMs;
  }

  private spanLength(): number {
    return this.span.ms || this.options.spreadMs;
  }

  private time(): string {
    return new Date(this.spanStart() + Math.floor(this.random() * this.spanLength())).toISOString();
  }

  private base(kind: string, m: Machine, time = this.time()) {
    return { kind, id: `${kind[0]}-${++this.n}`, resourceId: m.id, time, host: m.host };
  }

  /** Starts a burst of failed SSH logons (25 within four minutes from one address) on the next records. */
  plantBurst(): void {
    const linux = this.machines.filter((m) => !m.windows);
    const b = this.planted["brute-force"]++;
    this.burstsLeft.push({
      machine: linux[b % linux.length],
      ip: `203.0.113.${1 + (b % 250)}`,
      start: this.spanStart() + Math.floor(this.random() * Math.max(0, this.spanLength() - 240_000)),
      left: 25,
    });
  }

  /**
   * A planted record, taking turns: an encoded PowerShell command on a Windows machine (one alert per
   * command), or a change of /etc/passwd on a Linux machine that has had none (the alert is per machine,
   * path and hour, so one per machine); null once every Linux machine has had its change.
   */
  private plant(): Record<string, unknown> | null {
    if (this.plants++ % 2 === 0) {
      this.planted["encoded-powershell"]++;
      const m = this.pick(this.machines.filter((x) => x.windows));
      return {
        ...this.base("process", m),
        pid: 4000 + Math.floor(this.random() * 60000),
        parentPid: 912,
        image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        commandLine: `powershell.exe -NoP -W Hidden -Enc ${Buffer.from("Get-Service | Out-Null", "utf16le").toString("base64")}`,
        user: "CONTOSO\\ops",
      };
    }
    const target = this.machines.filter((x) => !x.windows)[this.passwdPlants++];
    if (!target) return null;
    this.planted["critical-file-change"]++;
    return {
      ...this.base("file", target),
      action: "modified",
      path: "/etc/passwd",
      sha256: this.hex(32),
      user: "root",
    };
  }

  /** The next record. */
  next(): Record<string, unknown> {
    const burst = this.burstsLeft[0];
    if (burst) {
      burst.left--;
      if (burst.left === 0) this.burstsLeft.shift();
      return {
        ...this.base("logon", burst.machine, new Date(burst.start + (25 - burst.left) * 9_000).toISOString()),
        user: this.pick(["root", "admin", "ubuntu", "oracle", "test"]),
        logonType: "ssh",
        srcIp: burst.ip,
        success: false,
        failureReason: "wrong password",
      };
    }
    if (++this.sincePlant >= this.options.plantEvery) {
      this.sincePlant = 0;
      const planted = this.plant();
      if (planted) return planted;
    }
    const m = this.pick(this.machines);
    const roll = this.random();
    if (roll < 0.35) {
      const [image, commandLine, user] = this.pick(m.windows ? WINDOWS_PROCESSES : LINUX_PROCESSES);
      return {
        ...this.base("process", m),
        pid: 1000 + Math.floor(this.random() * 60000),
        parentPid: 1,
        image,
        commandLine,
        user,
        sha256: this.hex(32),
      };
    }
    if (roll < 0.75) {
      const inbound = this.random() < 0.3;
      const peer = `${20 + Math.floor(this.random() * 180)}.${Math.floor(this.random() * 256)}.${Math.floor(this.random() * 256)}.${1 + Math.floor(this.random() * 250)}`;
      return {
        ...this.base("flow", m),
        direction: inbound ? "inbound" : "outbound",
        protocol: "TCP",
        srcIp: inbound ? peer : m.ip,
        srcPort: 1024 + Math.floor(this.random() * 60000),
        dstIp: inbound ? m.ip : peer,
        dstPort: inbound ? this.pick([443, 80, 8080]) : this.pick(PORTS),
        bytes: Math.floor(this.random() * 2_000_000),
        packets: 1 + Math.floor(this.random() * 1500),
        action: this.random() < 0.03 ? "denied" : "allowed",
      };
    }
    if (roll < 0.87) {
      const success = this.random() > 0.05;
      return {
        ...this.base("logon", m),
        user: m.windows ? "CONTOSO\\svc-monitor" : "svc-deploy",
        logonType: m.windows ? "network" : "ssh",
        srcIp: `10.0.${Math.floor(this.random() * 256)}.${1 + Math.floor(this.random() * 250)}`,
        success,
        ...(success ? {} : { failureReason: "unknown user name or bad password" }),
      };
    }
    if (roll < 0.999) {
      return {
        ...this.base("file", m),
        action: this.pick(["created", "modified", "modified", "deleted"]),
        path: this.pick(m.windows ? WINDOWS_FILES : LINUX_FILES),
        sha256: this.hex(32),
        size: Math.floor(this.random() * 5_000_000),
      };
    }
    return {
      ...this.base("packages", m),
      os: m.windows ? { family: "windows", version: "2022" } : { family: "debian", version: "12.5" },
      packages: Array.from({ length: 30 }, (_, i) => ({
        ecosystem: m.windows ? "npm" : "Debian",
        name: `pkg-${i}`,
        version: `1.${i}.${Math.floor(this.random() * 10)}`,
      })),
    };
  }
}
