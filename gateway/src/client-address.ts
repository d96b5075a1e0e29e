import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";

/** The header a proxy appends the address it received a request from to (`client, proxy1, proxy2`). */
export const FORWARDED_FOR = "x-forwarded-for";

/** The 8 groups of an IPv6 address without a trailing dotted IPv4 part (`isIP` has accepted it). */
function groupsOf(v6: string): number[] {
  const [left, right] = v6.split("::");
  const parse = (part: string | undefined) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const l = parse(left);
  const r = parse(right);
  return right === undefined ? l : [...l, ...Array<number>(8 - l.length - r.length).fill(0), ...r];
}

/** The dotted IPv4 address of an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, `::ffff:c000:201`), else null. */
function mappedIpv4(v6: string): string | null {
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  const groups = groupsOf(dotted ? `${dotted[1]}0:0` : v6);
  if (groups.slice(0, 5).some((g) => g !== 0) || groups[5] !== 0xffff) return null;
  if (dotted) return dotted[2];
  return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
}

/**
 * An address as the platform records it, or null when `text` is none: IPv4 as is, IPv6 in lower case
 * without a zone (`%eth0` names an interface of this host, not the client), and an IPv4-mapped IPv6 address
 * (how a dual-stack socket reports an IPv4 peer) as the IPv4 address it carries, so it meets IPv4 prefixes.
 */
export function canonicalAddress(text: string): string | null {
  let address = text.trim();
  const zone = address.indexOf("%");
  if (zone >= 0) address = address.slice(0, zone);
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return null;
  address = address.toLowerCase();
  return mappedIpv4(address) ?? address;
}

/** One `X-Forwarded-For` entry without the port some proxies add (`192.0.2.1:4711`, `[2001:db8::1]:443`). */
function hopAddress(hop: string): string | null {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed) return canonicalAddress(bracketed[1]);
  const withPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(hop);
  return canonicalAddress(withPort ? withPort[1] : hop);
}

/**
 * The proxies whose `X-Forwarded-For` the gateway believes, or null when there are none. IPv4 proxies are
 * listed in their IPv4 form: a dual-stack socket's IPv4-mapped peer is compared as the IPv4 address it carries.
 */
export function trustedProxyList(prefixes: readonly string[]): BlockList | null {
  if (prefixes.length === 0) return null;
  const list = new BlockList();
  for (const prefix of prefixes) {
    const [address, length] = prefix.split("/");
    const family = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (length === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(length), family);
  }
  return list;
}

const trusts = (list: BlockList, address: string) =>
  list.check(address, isIP(address) === 4 ? "ipv4" : "ipv6");

/**
 * The address a request came from, as far as the gateway can vouch for it; null when it cannot tell.
 *
 * Without trusted proxies that is the connection's peer, and `X-Forwarded-For` is ignored: any client can
 * send one. When the peer is a trusted proxy, the header is read from its end (the entry that proxy appended)
 * towards its start, past every trusted proxy, and the first address that is not one is the client: entries
 * further left were written by the client itself or by hops nobody vouches for, so a copy of the header the
 * client sent changes nothing. An entry on that path that is no address makes the client unknown (null)
 * rather than attributing the request to the proxy. The header is never passed on: subgraphs get the result
 * inside the signed identity token only.
 */
export function clientAddressOf(req: IncomingMessage, trusted: BlockList | null): string | null {
  let address = canonicalAddress(req.socket.remoteAddress ?? "");
  if (address === null || trusted === null) return address;
  const header = req.headers[FORWARDED_FOR];
  const hops = header === undefined ? [] : (Array.isArray(header) ? header.join(",") : header).split(",");
  while (trusts(trusted, address)) {
    const hop = hops.pop();
    // Every hop is a trusted proxy: the request started at the farthest one.
    if (hop === undefined) return address;
    const next = hopAddress(hop.trim());
    if (next === null) return null;
    address = next;
  }
  return address;
}
