import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (`getconf CLK_TCK`). */
export const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5000 }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime (clock ticks) and parent pid of one process, or undefined once it is gone. */
function readStat(pid: number): { ticks: number; ppid: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** Busy clock ticks of the whole machine so far (all CPUs: user, nice, system, irq, softirq, steal). */
export function machineBusyTicks(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + (steal || 0);
}

/** CPU ticks so far of every process whose command name is `comm` (e.g. the Postgres server's). */
export function ticksOfCommand(comm: string): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    if (text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")) !== comm) continue;
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    total += Number(fields[11]) + Number(fields[12]);
  }
  return total;
}

/** `pid` and all its descendants (a gateway that forks workers is measured as a whole). */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    tree.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return tree;
}

/** CPU time (clock ticks, user + system) used so far by `pid` and its descendants. */
export function cpuTicks(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) total += readStat(p)?.ticks ?? 0;
  return total;
}

/** A child process the benchmark started, with the tail of its output for error reports. */
export interface Service {
  name: string;
  child: ChildProcess;
  pid: number;
  tail(): string;
}

const services: Service[] = [];
let stopping = false;
let fail: (err: Error) => void = () => undefined;

/** Rejects as soon as any started process exits before `stopAll`: race the benchmark against it. */
export const serviceFailure = new Promise<never>((_, reject) => {
  fail = reject;
});
serviceFailure.catch(() => undefined);

/** Starts `command args` with `env`, keeping the last 60 lines of its output; prints warnings live. */
export function startService(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Service {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 60) lines.shift();
      if (process.env.BENCH_VERBOSE === "1") console.error(`[${name}] ${line}`);
    }
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  child.once("exit", (code, signal) => {
    if (!stopping)
      fail(new Error(`${name} exited (code ${code}, signal ${signal}):\n${lines.slice(-20).join("\n")}`));
  });
  const service = { name, child, pid: child.pid, tail: () => lines.join("\n") };
  services.push(service);
  return service;
}

/** SIGTERM to every started process (newest first), SIGKILL after `graceMs`. */
export async function stopAll(graceMs = 5000): Promise<void> {
  stopping = true;
  await Promise.all(
    services.reverse().map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
          child.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
  services.length = 0;
}

/** Resolves when `check` returns true, polling every 250 ms; throws after `timeoutMs` or when `service` exits. */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  service?: Service,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (service && (service.child.exitCode !== null || service.child.signalCode !== null)) {
      throw new Error(`${what}: ${service.name} exited:\n${service.tail()}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const detail = last instanceof Error ? ` (${last.message})` : "";
  throw new Error(
    `${what} not ready within ${timeoutMs / 1000}s${detail}${service ? `\n${service.tail()}` : ""}`,
  );
}
