import { DATABASE_VARIABLES, type Config } from "../../subgraphs/common/src";

/** A long-running process of the platform: its name, compiled entry (under dist/) and Node.js flags. */
export interface ServiceDefinition {
  name: "posture" | "protection" | "siem" | "gateway";
  /** The compiled entry, relative to dist/. */
  entry: string;
  /** Flags for `node` before the entry (the same under `npm start`, docker-compose and the benchmarks). */
  nodeFlags: readonly string[];
}

/**
 * The services in start order (the gateway last). The SIEM holds a whole ingest batch (up to tens of
 * thousands of parsed records) while it normalises and stores it; with V8's default 16 MB semi-spaces
 * those objects outlive scavenges and are promoted, then collected again as old ones. 64 MB semi-spaces
 * (young generation up to ~200 MB more) cut the SIEM's CPU per ingested event by ~10 % (bench/README.md,
 * event ingest: 300,000-event runs, 38.9–40.4 → 34.3–36.2 µs; 32 MB and 128 MB did no better).
 */
export const SERVICES: readonly ServiceDefinition[] = [
  { name: "posture", entry: "subgraphs/posture/src/main.js", nodeFlags: [] },
  { name: "protection", entry: "subgraphs/protection/src/main.js", nodeFlags: [] },
  { name: "siem", entry: "subgraphs/siem/src/main.js", nodeFlags: ["--max-semi-space-size=64"] },
  { name: "gateway", entry: "gateway/src/main.js", nodeFlags: [] },
];

/** The Node.js flags of a service by name. */
export function nodeFlagsOf(name: string): readonly string[] {
  return SERVICES.find((s) => s.name === name)?.nodeFlags ?? [];
}

/** A Postgres URL without its user and password: the database's address. */
function addressOf(url: string): string {
  const address = new URL(url);
  address.username = "";
  address.password = "";
  return address.toString();
}

/**
 * The environment a service starts with: the platform's, less the database credentials it must not hold (as
 * production requires, `loadConfig`'s `service`): none for the gateway; for a subgraph the database's address
 * (DATABASE_URL and DATABASE_REPLICA_URL without the admin's user and password) and its own role's password.
 */
export function serviceEnvironment(
  name: ServiceDefinition["name"],
  env: NodeJS.ProcessEnv,
  rolePasswords: Config["db"]["rolePasswords"],
): NodeJS.ProcessEnv {
  const own: NodeJS.ProcessEnv = { ...env };
  for (const key of DATABASE_VARIABLES) delete own[key];
  if (name === "gateway") return own;
  if (env.DATABASE_URL) own.DATABASE_URL = addressOf(env.DATABASE_URL);
  if (env.DATABASE_REPLICA_URL) own.DATABASE_REPLICA_URL = addressOf(env.DATABASE_REPLICA_URL);
  own[`DB_ROLE_PASSWORD_${name.toUpperCase()}`] = rolePasswords[name];
  return own;
}
