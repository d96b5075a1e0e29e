/** What one gateway did at one concurrency, summed over its measured segments. */
export interface Cell {
  gateway: GatewayName;
  connections: number;
  /** Responses received (any status). */
  responses: number;
  /** Latencies (ms) of the 2xx responses. */
  latencies: number[];
  /** Wall time of the measured segments, seconds. */
  seconds: number;
  /** CPU of the gateway process (and any children), clock ticks. */
  gatewayTicks: number;
  /** CPU of the three subgraph processes, clock ticks. */
  subgraphTicks: number;
  /** CPU of everything else on the machine (not the benchmark's processes, not Postgres), clock ticks. */
  foreignTicks: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}

export type GatewayName = "ours" | "stock" | "hive";

export const GATEWAY_LABELS: Record<GatewayName, string> = {
  ours: "ours (Rampart gateway)",
  stock: "stock @apollo/gateway",
  hive: "Hive Gateway",
};

export function emptyCell(gateway: GatewayName, connections: number): Cell {
  return {
    gateway,
    connections,
    responses: 0,
    latencies: [],
    seconds: 0,
    gatewayTicks: 0,
    subgraphTicks: 0,
    foreignTicks: 0,
    errors: 0,
    timeouts: 0,
    non2xx: 0,
    mismatches: 0,
  };
}

/** Nearest-rank percentile (p in 0..100) of `sorted`, NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** The figures reported for one cell. */
export interface Figures {
  gateway: GatewayName;
  connections: number;
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  /** Gateway CPU milliseconds per completed request. */
  cpuMs: number;
  /** Subgraphs' CPU milliseconds per completed request (all three together). */
  subgraphCpuMs: number;
  failures: number;
  /** Average CPUs used by processes outside the benchmark and Postgres while this cell ran. */
  foreignCpus: number;
}

export function figures(cell: Cell, clkTck: number): Figures {
  const sorted = [...cell.latencies].sort((a, b) => a - b);
  const perRequest = (ticks: number) => (cell.responses ? ((ticks / clkTck) * 1000) / cell.responses : NaN);
  return {
    gateway: cell.gateway,
    connections: cell.connections,
    requests: cell.responses,
    rps: cell.seconds ? cell.responses / cell.seconds : NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    cpuMs: perRequest(cell.gatewayTicks),
    subgraphCpuMs: perRequest(cell.subgraphTicks),
    failures: cell.errors + cell.non2xx + cell.mismatches,
    foreignCpus: cell.seconds ? cell.foreignTicks / clkTck / cell.seconds : NaN,
  };
}
