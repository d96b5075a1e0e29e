import { isIP } from "node:net";

/*
 * IP address text as the platform stores and compares it: one canonical form per address, so an address
 * written `2001:DB8:0::1`, `::ffff:10.0.0.1` or `[2001:db8::1]:443` meets the same address written otherwise
 * (the SIEM's normalisers and indicator index, protection's telemetry).
 */

/** Parses a dotted-quad IPv4 address (no leading zeros) to an unsigned 32-bit number; -1 when invalid. */
export function parseIpv4(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let result = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      result = result * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero (ambiguous octal)
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return result * 256 + octet;
}

/** Parses an IPv6 address (optionally with an embedded IPv4 tail; no zone id, no brackets) into 8 groups; null when invalid. */
export function parseIpv6(text: string): number[] | null {
  if (text.length < 2 || text.length > 45) return null;
  const doubleColon = text.indexOf("::");
  if (doubleColon !== -1 && text.indexOf("::", doubleColon + 1) !== -1) return null;
  const parsePart = (part: string, allowIpv4Tail: boolean): number[] | null => {
    if (part === "") return [];
    const pieces = part.split(":");
    const out: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (allowIpv4Tail && i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 < 0) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
      out.push(parseInt(piece, 16));
    }
    return out;
  };
  if (doubleColon === -1) {
    const groups = parsePart(text, true);
    return groups && groups.length === 8 ? groups : null;
  }
  const head = parsePart(text.slice(0, doubleColon), false);
  const tail = parsePart(text.slice(doubleColon + 2), true);
  if (!head || !tail || head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** RFC 5952 text of 8 IPv6 groups: lower-case, no leading zeros, the longest run (≥2) of zero groups as `::`. */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(":");
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** Splits `host:port`, `[v6]:port`, `[v6]` or a bare address into its parts (the port unvalidated). */
export function splitHostPort(value: string): { host: string; port: string | null } {
  const s = value.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) return { host: bracket[1], port: bracket[2] ?? null };
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(s);
  if (v4port) return { host: v4port[1], port: v4port[2] };
  return { host: s, port: null };
}

/**
 * A canonical IP address: IPv4 dotted quad, or IPv6 in RFC 5952 form (IPv4-mapped IPv6 becomes IPv4).
 * Ports and brackets (`1.2.3.4:5678`, `[2001:db8::1]:443`) and zone ids are stripped. Anything that is not an
 * IP address (host names, `AWS Internal`, CIDRs, `999.1.1.1`) gives null.
 */
export function normalizeIp(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const { host } = splitHostPort(value);
  if (host === "") return null;
  const kind = isIP(host);
  if (kind === 4) return host;
  if (kind !== 6) return null;
  const zone = host.indexOf("%");
  const groups = parseIpv6(zone === -1 ? host : host.slice(0, zone));
  if (!groups) return null;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
  }
  return formatIpv6(groups);
}
