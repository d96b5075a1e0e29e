/*
 * IP address arithmetic for adaptive network hardening and the management-port report: which addresses
 * are on the internet, and how observed sources aggregate into the prefixes a rule should allow.
 */
import { isIP } from "node:net";
import { formatIpv6 } from "../../../../common/src/ip";

/** An IPv4 address as an unsigned 32-bit number, or null. */
export function ipv4ToNumber(ip: string): number | null {
  if (isIP(ip) !== 4) return null;
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

const v4 = (a: number, b: number, c: number, d: number) => ((a * 256 + b) * 256 + c) * 256 + d;

/** IPv4 ranges that are not the internet: this network, private, CGNAT, loopback, link-local, multicast, reserved. */
const V4_NOT_INTERNET: Array<[number, number]> = [
  [v4(0, 0, 0, 0), 8],
  [v4(10, 0, 0, 0), 8],
  [v4(100, 64, 0, 0), 10],
  [v4(127, 0, 0, 0), 8],
  [v4(169, 254, 0, 0), 16],
  [v4(172, 16, 0, 0), 12],
  [v4(192, 168, 0, 0), 16],
  [v4(224, 0, 0, 0), 4],
  [v4(240, 0, 0, 0), 4],
];

/** The eight 16-bit groups of an IPv6 address (IPv4-mapped tails expanded), or null. */
export function ipv6Groups(ip: string): number[] | null {
  if (isIP(ip) !== 6) return null;
  let text = ip.toLowerCase().replace(/%.*$/, "");
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const n = ipv4ToNumber(tail[1])!;
    text = text.slice(0, -tail[1].length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, rest] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = rest === undefined ? [] : rest ? rest.split(":") : [];
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(fill).fill("0"), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/** Whether an address is on the public internet (not private, loopback, link-local, CGNAT, ULA, multicast…). */
export function isInternetAddress(ip: string): boolean {
  const n = ipv4ToNumber(ip);
  if (n !== null)
    return !V4_NOT_INTERNET.some(
      ([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)),
    );
  const g = ipv6Groups(ip);
  if (!g) return false;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return isInternetAddress(`${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`);
  if (g.every((x) => x === 0) || (g.slice(0, 7).every((x) => x === 0) && g[7] === 1)) return false;
  if ((g[0] & 0xfe00) === 0xfc00) return false; // unique local fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80) return false; // link-local fe80::/10
  if ((g[0] & 0xff00) === 0xff00) return false; // multicast ff00::/8
  return true;
}

/** The prefix of `bits` containing an address, in CIDR notation (`198.51.100.0/24`, `2001:db8::/64`). */
export function prefixOf(ip: string, bits: number): string {
  const n = ipv4ToNumber(ip);
  if (n !== null) {
    const base = Math.floor(n / 2 ** (32 - bits)) * 2 ** (32 - bits);
    return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join(".")}/${bits}`;
  }
  const g = ipv6Groups(ip)!;
  const masked = g.map((x, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : x & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${formatIpv6(masked)}/${bits}`;
}

/** Sort key of an address or prefix: IPv4 before IPv6, then numerically. */
export function addressSortKey(ipOrPrefix: string): string {
  const ip = ipOrPrefix.split("/")[0];
  const n = ipv4ToNumber(ip);
  if (n !== null) return `4:${n.toString(16).padStart(8, "0")}:${ipOrPrefix.split("/")[1] ?? "32"}`;
  const g = ipv6Groups(ip) ?? [];
  return `6:${g.map((x) => x.toString(16).padStart(4, "0")).join("")}:${ipOrPrefix.split("/")[1] ?? "128"}`;
}

/** An observed source: an address with how often and when it was last seen. */
export interface ObservedAddress {
  ip: string;
  connections: number;
  lastSeen: Date;
}

/** Prefixes a rule should allow for a set of sources, with what each covers. */
export interface AggregatedPrefix {
  prefix: string;
  addresses: string[];
  connections: number;
  lastSeen: Date;
}

/** Most prefixes a narrowed rule lists; beyond that the traffic is too diverse to narrow. */
export const MAX_RECOMMENDED_PREFIXES = 20;

/**
 * Aggregates observed sources into prefixes, deterministically: a /24 (IPv6: /64) when two or more of
 * its addresses were seen, otherwise the exact address (/32, /128). When that gives more than
 * `MAX_RECOMMENDED_PREFIXES`, everything is aggregated once more to /16 (IPv6: /48); if that is still
 * too many, null (the sources are too diverse for an allow list). Sorted by address.
 */
export function aggregateSources(sources: readonly ObservedAddress[]): AggregatedPrefix[] | null {
  const group = (wide: boolean) => {
    const byPrefix = new Map<string, ObservedAddress[]>();
    for (const s of sources) {
      const v6 = ipv4ToNumber(s.ip) === null;
      const key = prefixOf(s.ip, wide ? (v6 ? 48 : 16) : v6 ? 64 : 24);
      const list = byPrefix.get(key) ?? [];
      list.push(s);
      byPrefix.set(key, list);
    }
    return [...byPrefix.entries()].map(([prefix, list]): AggregatedPrefix => {
      const addresses = [...new Set(list.map((s) => s.ip))].sort((a, b) =>
        addressSortKey(a) < addressSortKey(b) ? -1 : 1,
      );
      const exact = !wide && addresses.length === 1;
      return {
        prefix: exact ? prefixOf(addresses[0], ipv4ToNumber(addresses[0]) === null ? 128 : 32) : prefix,
        addresses,
        connections: list.reduce((sum, s) => sum + s.connections, 0),
        lastSeen: new Date(Math.max(...list.map((s) => s.lastSeen.getTime()))),
      };
    });
  };
  const sort = (list: AggregatedPrefix[]) =>
    list.sort((a, b) => (addressSortKey(a.prefix) < addressSortKey(b.prefix) ? -1 : 1));
  const narrow = group(false);
  if (narrow.length <= MAX_RECOMMENDED_PREFIXES) return sort(narrow);
  const wide = group(true);
  return wide.length <= MAX_RECOMMENDED_PREFIXES ? sort(wide) : null;
}
