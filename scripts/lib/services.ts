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
