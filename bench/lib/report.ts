import { GATEWAY_LABELS, type Figures, type GatewayName } from "./stats";

const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

/** One concurrency's figures, by gateway. */
export type Level = Record<GatewayName, Figures>;

/** The per-gateway table of one concurrency. */
export function figuresTable(level: Level): string {
  const rows = [
    "| gateway | req/s | p50 ms | p95 ms | p99 ms | gateway CPU ms/req | subgraphs CPU ms/req | requests | errors | other load (CPUs) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const name of ["ours", "stock", "hive"] as const) {
    const f = level[name];
    rows.push(
      `| ${GATEWAY_LABELS[name]} | ${fmt(f.rps, 0)} | ${fmt(f.p50, 1)} | ${fmt(f.p95, 1)} | ${fmt(f.p99, 1)} | ` +
        `${fmt(f.cpuMs, 3)} | ${fmt(f.subgraphCpuMs, 3)} | ${f.requests} | ${f.failures} | ${fmt(f.foreignCpus, 2)} |`,
    );
  }
  return rows.join("\n");
}

/** Ratios of req/s, p95 and CPU per request between the gateways. */
export function ratioTable(level: Level): string {
  const { ours, stock, hive } = level;
  const rows = ["| metric | ours ÷ stock | hive ÷ stock | ours ÷ hive |", "| --- | ---: | ---: | ---: |"];
  const metrics: Array<[string, (f: Figures) => number]> = [
    ["req/s", (f) => f.rps],
    ["p95 latency", (f) => f.p95],
    ["gateway CPU per request", (f) => f.cpuMs],
  ];
  for (const [label, get] of metrics) {
    rows.push(
      `| ${label} | ${fmt(ratio(get(ours), get(stock)), 2)} | ${fmt(ratio(get(hive), get(stock)), 2)} | ${fmt(ratio(get(ours), get(hive)), 2)} |`,
    );
  }
  return rows.join("\n");
}

/** One budget criterion's outcome. */
export interface Check {
  criterion: string;
  detail: string;
  pass: boolean;
}

/** P1 from the architecture, evaluated on one concurrency's figures. */
export function budgetChecks(level: Level): Check[] {
  const { ours, stock, hive } = level;
  return [
    {
      criterion: "gateway CPU/request ≤ ⅓ of stock @apollo/gateway's",
      detail: `${fmt(ours.cpuMs, 3)} ms vs ⅓ × ${fmt(stock.cpuMs, 3)} = ${fmt(stock.cpuMs / 3, 3)} ms (ours ÷ stock = ${fmt(ratio(ours.cpuMs, stock.cpuMs), 2)})`,
      pass: ours.cpuMs <= stock.cpuMs / 3,
    },
    {
      criterion: "gateway CPU/request below Hive Gateway's",
      detail: `${fmt(ours.cpuMs, 3)} ms vs ${fmt(hive.cpuMs, 3)} ms (ours ÷ hive = ${fmt(ratio(ours.cpuMs, hive.cpuMs), 2)})`,
      pass: ours.cpuMs < hive.cpuMs,
    },
    {
      criterion: "p95 no worse than stock @apollo/gateway's",
      detail: `${fmt(ours.p95, 1)} ms vs ${fmt(stock.p95, 1)} ms`,
      pass: ours.p95 <= stock.p95,
    },
    {
      criterion: "p95 no worse than Hive Gateway's",
      detail: `${fmt(ours.p95, 1)} ms vs ${fmt(hive.p95, 1)} ms`,
      pass: ours.p95 <= hive.p95,
    },
  ];
}

export function checksTable(checks: Check[]): string {
  const rows = ["| criterion | figures | result |", "| --- | --- | --- |"];
  for (const c of checks) rows.push(`| ${c.criterion} | ${c.detail} | ${verdict(c.pass)} |`);
  return rows.join("\n");
}

export { verdict };

/** A progress line of a benchmark run. */
export const say = (msg: string) => console.log(`[bench] ${msg}`);

/** A count or rate with thousands separators and `digits` decimals; n/a when not finite. */
export const count = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "n/a";

/** `Result: **PASS** (3 of 3 checks pass).` */
export const resultLine = (checks: Check[]) =>
  `Result: **${verdict(checks.every((c) => c.pass))}** (${checks.filter((c) => c.pass).length} of ${checks.length} checks pass).`;
