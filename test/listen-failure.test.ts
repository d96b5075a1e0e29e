/**
 * A service whose port is taken cannot serve: it must say so in one fatal log line naming the address and
 * the system's reason, exit with a non-zero status, and start no background work first (no job taken, no
 * relay). The compiled entry points run as real processes, as in production, on a port this test holds.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import { Client } from "pg";
import { createLogger, loadConfig } from "../subgraphs/common/src";
import { freePort } from "../scripts/lib/database";
import { migrateAll } from "../scripts/lib/platform";
import { SERVICES } from "../scripts/lib/services";
import { createTestDatabase, type TestDatabase } from "./utils/database";

/** How long a process may take to start and give up (the machine is small and shared). */
const EXIT_WITHIN_MS = 45_000;

/** A pino line as a process printed it. */
interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** What a process did: its exit status (null when stopped for taking too long) and its log lines. */
interface Outcome {
  code: number | null;
  lines: LogLine[];
  out: string;
}

/** Runs `node dist/<entry>` with `env` until it exits, or stops it after `timeoutMs`. */
function runToExit(
  entry: string,
  nodeFlags: readonly string[],
  env: Record<string, string>,
  timeoutMs: number,
) {
  return new Promise<Outcome>((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, `dist/${entry}`], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    // Too slow: SIGTERM first, so that a supervisor stops its own children, then SIGKILL.
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
    }, timeoutMs);
    let kill: NodeJS.Timeout | undefined;
    child.on("exit", (code) => {
      clearTimeout(timer);
      clearTimeout(kill);
      const lines = out.split("\n").flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return []; // not a log line (a stack trace, a supervisor banner)
        }
      });
      resolve({ code, lines, out });
    });
  });
}

/** The fatal lines a run printed. */
const fatal = (outcome: Outcome) => outcome.lines.filter((l) => l.level === 60);

describe("a port already in use", () => {
  let db: TestDatabase;
  let admin: Client;
  let holder: net.Server;
  const sockets = new Set<net.Socket>();
  let port: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: db.url, DB_ROLE_PREFIX: db.rolePrefix, LOG_LEVEL: "silent" });
    await migrateAll(config, createLogger("test", "silent"));
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    // Any other program on the port: it accepts connections and never answers.
    holder = net.createServer((socket) => sockets.add(socket.once("close", () => sockets.delete(socket))));
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    port = (holder.address() as net.AddressInfo).port;
    env = {
      RAMPART_ENV: "development",
      DATABASE_URL: db.url,
      DB_ROLE_PREFIX: db.rolePrefix,
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      DEMO_TENANT_ID: "listen-test",
    };
  });

  afterAll(async () => {
    await admin?.end();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => holder?.close(resolve));
    await db?.drop();
  });

  it.each(["posture", "protection", "siem"] as const)(
    "%s exits non-zero, naming the port, having taken no job",
    async (name) => {
      // A due job: a runner that started would take it within moments.
      const [{ id }] = (
        await admin.query<{ id: string }>(`SELECT id FROM ${name}_jobs.add_job('outbox_prune')`)
      ).rows;
      const service = SERVICES.find((s) => s.name === name)!;
      const run = await runToExit(
        service.entry,
        service.nodeFlags,
        { ...env, [`${name.toUpperCase()}_PORT`]: String(port) },
        EXIT_WITHIN_MS,
      );

      expect({ code: run.code, fatal: fatal(run) }).toEqual({
        code: 1,
        fatal: [
          expect.objectContaining({
            service: name,
            host: "127.0.0.1",
            port,
            code: "EADDRINUSE",
            msg: expect.stringContaining(`cannot listen on 127.0.0.1:${port}`),
          }),
        ],
      });
      // Its runner never started (graphile-worker logs this line when it does): the job is untouched.
      expect(run.out).not.toMatch(/Worker connected and looking for jobs/);
      const job = await admin.query(`SELECT attempts, locked_at FROM ${name}_jobs.jobs WHERE id = $1`, [id]);
      expect(job.rows).toEqual([{ attempts: 0, locked_at: null }]);
      await admin.query(`SELECT ${name}_jobs.complete_jobs(ARRAY[$1]::bigint[])`, [id]);
    },
    90_000,
  );

  it("the gateway exits non-zero, naming the port", async () => {
    const gateway = SERVICES.find((s) => s.name === "gateway")!;
    const run = await runToExit(
      gateway.entry,
      gateway.nodeFlags,
      { ...env, GATEWAY_PORT: String(port) },
      EXIT_WITHIN_MS,
    );
    expect({ code: run.code, fatal: fatal(run) }).toEqual({
      code: 1,
      fatal: [
        expect.objectContaining({
          service: "gateway",
          port,
          code: "EADDRINUSE",
          msg: expect.stringContaining(`cannot listen on 127.0.0.1:${port}`),
        }),
      ],
    });
    // One line says it: graphql-ws does not print an "internal error" of its own about the same failure.
    expect(run.out).not.toMatch(/Internal error emitted/);
  }, 90_000);

  it("npm start reports the SIEM that could not listen and stops the platform", async () => {
    const [posture, protection, gateway] = await Promise.all([freePort(), freePort(), freePort()]);
    const run = await runToExit(
      "scripts/start.js",
      [],
      {
        ...env,
        LOG_LEVEL: "warn",
        POSTURE_PORT: String(posture),
        PROTECTION_PORT: String(protection),
        SIEM_PORT: String(port),
        GATEWAY_PORT: String(gateway),
      },
      EXIT_WITHIN_MS * 2,
    );
    expect(run.code).toBe(1);
    expect(fatal(run)).toEqual([expect.objectContaining({ service: "siem", port, code: "EADDRINUSE" })]);
    expect(run.lines).toContainEqual(
      expect.objectContaining({
        name: "supervisor",
        service: "siem",
        msg: "service exited while starting; stopping the platform",
        port,
        code: 1,
      }),
    );
    // Every service it had started is gone: soon nothing but this test holds a connection to the database.
    const others = async () =>
      (
        await admin.query(
          `SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        )
      ).rows;
    for (let i = 0; i < 50 && (await others()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await others()).toEqual([]);
  }, 150_000);
});
