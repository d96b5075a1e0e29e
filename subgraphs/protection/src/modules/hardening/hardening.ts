/*
 * Adaptive network hardening: for every port range a machine's network security group rules leave open to
 * the whole internet (posture's `Resource.exposure`), compare with the inbound traffic that actually came
 * in over the window (telemetry flows) and recommend allowing only the sources seen — or closing the range
 * when nothing came. Pure code: the service loads the flows.
 *
 * - A range is internet-open when its rule sources include `*`, `Any`, `Internet`, `0.0.0.0/0` or `::/0`;
 *   ranges already limited to specific prefixes are left alone. ICMP has no ports and is not judged.
 * - Traffic counts when it was allowed in, from an internet address, on the range's protocol (ANY: TCP and
 *   UDP) and ports. Addresses that detections name as attackers of the machine (brute force sources) are
 *   left out: allowing them would make the attack the rule.
 * - Sources aggregate deterministically (`aggregateSources`): a /24 when two or more of its addresses
 *   connected, else the exact /32 (IPv6: /64 and /128); more than 20 prefixes aggregate to /16 (/48); still
 *   more and the traffic is too diverse for an allow list — no recommendation.
 * - Ports a just-in-time policy locks are JIT's to open, not the NSG's: inbound is denied there except for
 *   approved, time-bound grants (as Defender's own deny rule does), so they are not internet-open, and the
 *   traffic those grants let in must not become a standing allow rule. A range whose every port is locked
 *   gets no recommendation; in a range partly locked only the traffic to its other ports counts.
 */
import { aggregateSources, type AggregatedPrefix, type ObservedAddress } from "./addresses";

/** Rule sources that mean "the whole internet". */
const INTERNET_SOURCES = new Set(["*", "any", "internet", "0.0.0.0/0", "::/0"]);

/** Whether a rule source admits the whole internet. */
export const isInternetWide = (source: string): boolean => INTERNET_SOURCES.has(source.trim().toLowerCase());

/** A port range open to the internet (posture's OpenPort). */
export interface OpenRange {
  protocol: "TCP" | "UDP" | "ICMP" | "ANY";
  fromPort: number;
  toPort: number;
  sources: string[];
}

/** Inbound traffic from one address to one port, over the window. */
export interface ObservedFlow extends ObservedAddress {
  protocol: "TCP" | "UDP";
  port: number;
}

/** What to do with an internet-open range. */
export type HardeningActionKind = "RESTRICT" | "CLOSE";

/** A recommendation for one range. */
export interface HardeningRecommendationData {
  protocol: OpenRange["protocol"];
  fromPort: number;
  toPort: number;
  currentSources: string[];
  action: HardeningActionKind;
  recommendedSources: string[];
  observed: AggregatedPrefix[];
  excludedSources: string[];
  connections: number;
  description: string;
}

const portText = (r: OpenRange) =>
  `${r.protocol === "ANY" ? "TCP/UDP" : r.protocol} ${r.fromPort === r.toPort ? r.fromPort : `${r.fromPort}-${r.toPort}`}`;

/** Recommendations for the internet-open ranges of one machine, in range order. */
export function recommendHardening(
  openPorts: readonly OpenRange[],
  flows: readonly ObservedFlow[],
  attackers: ReadonlySet<string>,
  windowDays: string,
  jitLocked: ReadonlySet<string> = new Set(),
): HardeningRecommendationData[] {
  const locked = (protocol: "TCP" | "UDP", port: number) => jitLocked.has(`${protocol}/${port}`);
  const out: HardeningRecommendationData[] = [];
  const ranges = [...openPorts].sort(
    (a, b) => a.fromPort - b.fromPort || a.toPort - b.toPort || (a.protocol < b.protocol ? -1 : 1),
  );
  for (const range of ranges) {
    if (range.protocol === "ICMP" || !range.sources.some(isInternetWide)) continue;
    const protocols: Array<"TCP" | "UDP"> = range.protocol === "ANY" ? ["TCP", "UDP"] : [range.protocol];
    // Every (protocol, port) of the range locked: JIT, not this rule, decides who gets in.
    const lockedInRange = [...jitLocked].filter((key) => {
      const [protocol, port] = key.split("/");
      return (
        protocols.includes(protocol as "TCP" | "UDP") && +port >= range.fromPort && +port <= range.toPort
      );
    }).length;
    if (lockedInRange === (range.toPort - range.fromPort + 1) * protocols.length) continue;
    const inRange = flows.filter(
      (f) =>
        (range.protocol === "ANY" || f.protocol === range.protocol) &&
        f.port >= range.fromPort &&
        f.port <= range.toPort &&
        !locked(f.protocol, f.port),
    );
    const excluded = [...new Set(inRange.filter((f) => attackers.has(f.ip)).map((f) => f.ip))].sort();
    const kept = inRange.filter((f) => !attackers.has(f.ip));
    const base = {
      protocol: range.protocol,
      fromPort: range.fromPort,
      toPort: range.toPort,
      currentSources: [...range.sources].sort(),
      excludedSources: excluded,
    };
    const ignored = excluded.length
      ? ` (traffic from ${excluded.join(", ")}, which detections name as attackers, is not counted)`
      : "";
    if (kept.length === 0) {
      out.push({
        ...base,
        action: "CLOSE",
        recommendedSources: [],
        observed: [],
        connections: 0,
        description: `${portText(range)} is open to the internet (${base.currentSources.join(", ")}) but no legitimate traffic came in over the last ${windowDays}${ignored}: remove the rule or deny the range from the internet.`,
      });
      continue;
    }
    const byAddress = new Map<string, ObservedAddress>();
    for (const f of kept) {
      const a = byAddress.get(f.ip);
      if (!a) byAddress.set(f.ip, { ip: f.ip, connections: f.connections, lastSeen: f.lastSeen });
      else {
        a.connections += f.connections;
        if (f.lastSeen > a.lastSeen) a.lastSeen = f.lastSeen;
      }
    }
    const prefixes = aggregateSources([...byAddress.values()]);
    if (!prefixes) continue;
    const connections = prefixes.reduce((sum, p) => sum + p.connections, 0);
    const recommended = prefixes.map((p) => p.prefix);
    out.push({
      ...base,
      action: "RESTRICT",
      recommendedSources: recommended,
      observed: prefixes,
      connections,
      description: `${portText(range)} is open to the internet (${base.currentSources.join(", ")}) but over the last ${windowDays} only ${byAddress.size === 1 ? "one address" : `${byAddress.size} addresses`} connected (${connections} connection${connections === 1 ? "" : "s"})${ignored}: allow only ${recommended.join(", ")}.`,
    });
  }
  return out;
}
