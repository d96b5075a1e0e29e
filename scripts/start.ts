import "reflect-metadata";
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createLogger, loadConfig, Role, ConfigError, type Config } from "../subgraphs/common/src";
import { signDevToken } from "../gateway/src/auth";
import { migrateAll } from "./lib/platform";
import { seedDemoIfEmpty } from "./lib/seed-demo";
import { SERVICES, serviceEnvironment } from "./lib/services";

/** A database for the supervisor: DATABASE_URL, or the embedded one in a child process. */
async function startDatabase(
  databaseUrl: string | undefined,
): Promise<{ url: string; stop(): Promise<void> }> {
  if (databaseUrl) return { url: databaseUrl, stop: async () => {} };
  const child = fork(path.join(__dirname, "embedded-db.js"), [], {
    detached: true,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (m: { url?: string }) =>
      m.url ? resolve(m.url) : reject(new Error("no database url")),
    );
    child.once("exit", (code) => reject(new Error(`embedded postgres exited with code ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.send("stop");
      }),
  };
}

/** Stops a child with SIGTERM (SIGKILL after 10 s) and waits for it to exit. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Polls `url` until it answers 200 (from `service`, when given: another program on the port does not
 * count) or `timeoutMs` passes; gives up as soon as `child` has exited.
 */
async function waitFor(url: string, timeoutMs: number, child: ChildProcess, service?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${url}: the process exited (${child.exitCode ?? child.signalCode})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok && (!service || ((await res.json()) as { service?: string }).service === service)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs / 1000}s`);
}

/** Prints the endpoints and one development token per role. */
async function printWelcome(config: Config, gatewayUrl: string): Promise<void> {
  const lines = [
    "",
    "Rampart is running.",
    `  GraphQL endpoint: ${gatewayUrl}`,
    `  Health: ${gatewayUrl.replace(/\/graphql$/, "/health")}   Metrics: ${gatewayUrl.replace(/\/graphql$/, "/metrics")}`,
    `  Demo tenant: ${config.demoTenantId}`,
    "",
    "Development tokens (send as `Authorization: Bearer <token>`; valid 12 h):",
  ];
  const tokens: Partial<Record<Role, string>> = {};
  for (const role of Object.values(Role)) {
    const token = await signDevToken(
      config.jwt.secret!,
      {
        subject: `${role.toLowerCase()}@rampart.local`,
        tenantId: config.demoTenantId,
        roles: [role],
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
      },
      config.jwt,
    ).catch((err: Error) => err);
    if (token instanceof Error) {
      lines.push(`  ${role.padEnd(10)} (none: ${token.message})`);
      continue;
    }
    tokens[role] = token;
    lines.push(`  ${role.padEnd(10)} ${token}`);
  }
  if (config.introspection && tokens[Role.ANALYST])
    lines.push(
      "",
      "Explorer (GraphiQL, offline, with subscriptions), signed in as the demo ANALYST:",
      `  ${gatewayUrl.replace(/\/graphql$/, "/explorer")}#token=${tokens[Role.ANALYST]}`,
    );
  lines.push(
    "",
    "Try: curl -s " +
      gatewayUrl +
      " -H 'content-type: application/json' -H \"authorization: Bearer $TOKEN\" \\",
  );
  lines.push(
    `  -d '{"query":"{ resources(first: 5) { totalCount nodes { name type coverage { covered } } } }"}'`,
  );
  lines.push("", "Ctrl-C stops everything.", "");
  console.log(lines.join("\n"));
}

/**
 * `npm start`: the whole platform on one machine. Starts (or uses) Postgres, migrates, runs the
 * three subgraphs and the gateway as child processes, seeds the demo tenant when it is empty,
 * and on Ctrl-C drains the services and stops the embedded database.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("supervisor", config.logLevel);
  if (!config.jwt.secret && config.env !== "production")
    throw new ConfigError("JWT_SECRET is required to print dev tokens");
  const db = await startDatabase(config.databaseUrl);
  const children: ChildProcess[] = [];
  let gatewayChild: ChildProcess | undefined;
  let stopping = false;

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping services");
    // The gateway first (no new requests), then the subgraphs, then the database.
    if (gatewayChild) await stopChild(gatewayChild);
    await Promise.all(children.filter((c) => c !== gatewayChild).map(stopChild));
    await db.stop().catch((err: unknown) => log.error({ err }, "database stop failed"));
    log.info("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  // SIGHUP: the gateway reloads the supergraph (after `npm run compose`), nothing restarts.
  process.on("SIGHUP", () => void gatewayChild?.kill("SIGHUP"));

  try {
    const withDb: Config = { ...config, databaseUrl: db.url };
    await migrateAll(withDb, log);
    // In development, playbook webhooks may call a receiver, and TAXII feeds a server, on this machine or
    // network (unless the environment says otherwise); elsewhere non-public targets stay refused.
    const devTargets =
      config.env === "development"
        ? { PLAYBOOK_ALLOW_PRIVATE_TARGETS: "true", INTEL_FEED_ALLOW_PRIVATE_TARGETS: "true" }
        : {};
    const env = { ...devTargets, ...process.env, DATABASE_URL: db.url };
    for (const service of SERVICES) {
      // Own process group: a terminal Ctrl-C reaches the supervisor, which stops services in order.
      const child = fork(path.join(__dirname, "..", service.entry), [], {
        env: serviceEnvironment(service.name, env, config.db.rolePasswords),
        execArgv: [...process.execArgv, ...service.nodeFlags],
        stdio: "inherit",
        detached: true,
      });
      children.push(child);
      if (service.name === "gateway") gatewayChild = child;
      const port = service.name === "gateway" ? config.ports.gateway : config.ports[service.name];
      let up = false;
      child.on("exit", (code, signal) => {
        if (stopping) return;
        // A service that could not listen (its port taken) has said why in its own fatal line.
        log.error(
          { service: service.name, port, code, signal },
          up
            ? "service exited; stopping the platform"
            : "service exited while starting; stopping the platform",
        );
        void stop(1);
      });
      await waitFor(`http://${config.host}:${port}/health`, 60_000, child, service.name);
      up = true;
    }
    const gatewayUrl = `http://${config.host}:${config.ports.gateway}/graphql`;
    await waitFor(gatewayUrl.replace(/\/graphql$/, "/ready"), 60_000, children[children.length - 1]);
    if (config.seedDemo) await seedDemoIfEmpty(withDb, gatewayUrl, log);
    await printWelcome(config, gatewayUrl);
  } catch (err) {
    // A child that exited has been reported by its "exit" handler, which is stopping the platform.
    if (!stopping) log.error({ err }, "start failed");
    await stop(1);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
