/*
 * Network topology and internet exposure from inventory resources, in the spirit of Defender for Cloud's
 * network map: which VMs can be reached from the internet, on which ports, and which VMs can reach each
 * other inside a virtual network. Pure code: no database, no GraphQL, no clock; never throws on malformed
 * inventory (a resource whose properties make no sense is simply left unconnected).
 *
 * Model
 * - Azure: NSG rules are evaluated the way Azure does (lowest priority number first, the first matching
 *   rule decides, the default rules AllowVnetInBound / AllowAzureLoadBalancerInBound / DenyAllInBound after
 *   the custom ones). Traffic to a NIC passes the subnet's NSG and then the NIC's NSG; a missing NSG at a
 *   level filters nothing.
 * - AWS: security groups are allow-only; an instance's groups are unioned; anything not allowed is denied.
 * - Internet sources are `*`, `Any`, `Internet`, `0.0.0.0/0`, `::/0` and any public address range (not
 *   RFC 1918, loopback, link-local or CGNAT; for IPv6 not ULA, link-local or loopback). Address ranges are
 *   handled exactly: a Deny from 198.51.100.0/24 does not close a port that an Allow opens to the whole
 *   internet, while a Deny from `Internet` closes it for an Allow from 203.0.113.0/24.
 * - ICMP has no ports: a rule matches ICMP when its protocol is ICMP, or ANY with all ports (`*`). Open
 *   ICMP is reported as `{ protocol: "ICMP", fromPort: 0, toPort: 65535 }`.
 *
 * - Peering: a Connected Azure VNet peering that allows virtual-network access (`allowVirtualNetworkAccess`,
 *   per direction) puts the remote VNet inside the local one's VirtualNetwork tag, so its VMs reach the
 *   remote VNet's VMs as they reach their own VNet's; an active AWS VPC peering connection
 *   (`AWS::EC2::VPCPeeringConnection`) lets the instances of the two VPCs reach each other as far as the
 *   destination's security groups allow. Peering is not transitive: only directly peered pairs.
 * - Accounts: the input may span several cloud accounts of one tenant (subscriptions, AWS accounts); references
 *   resolve across them (a peering to another account's VNet/VPC, a security group referencing a peer
 *   account's group by id), and every node carries its resource's account. A peering whose remote network is
 *   not in the input becomes an EXTERNAL_NETWORK node that carries nothing but the remote id the peering
 *   record gives. {@link accountView} is the map as one account sees it.
 *
 * Not modelled: NSG destination prefixes (rules are taken to apply to every destination), application
 * security groups (rules whose only sources are ASGs are skipped; ASGs only contain VNet members, so this
 * is exact for internet exposure), service tags other than Internet/VirtualNetwork/AzureLoadBalancer (they
 * match only the same tag), AWS managed prefix lists, AWS network ACLs and elastic network interfaces,
 * Azure load balancers, firewalls and route tables.
 */
import { ResourceKind, resourceKindOf } from "../../../../common/src/resource-kinds";

// ---------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------

/** An inventory resource as this module needs it: `properties` as the provider's API reports them. */
export interface NetworkResource {
  /** Rampart's id of the resource; node ids and exposure keys are these. */
  id: string;
  /** ARM id for Azure, ARN for AWS; references between resources are matched against it. */
  externalId: string;
  /** Provider-native type (ARM or CloudFormation type). */
  type: string;
  name: string;
  properties: Record<string, unknown>;
  /** The cloud account holding the resource; its node carries it (null when absent). */
  accountId?: string;
}

/** A transport protocol; `ANY` covers TCP, UDP and ICMP. */
export type Protocol = "TCP" | "UDP" | "ICMP" | "ANY";

/** An inclusive port range of a protocol (ANY protocol or a `*` port spec is 0..65535). */
export interface PortRange {
  protocol: Protocol;
  fromPort: number;
  toPort: number;
}

/** A port range of a protocol given by name (the GraphQL `PortRange`, whose protocol is an enum of the same names). */
export interface PortRangeLike {
  protocol: string;
  fromPort: number;
  toPort: number;
}

/** A port range reachable from the internet, with the rule sources that let the traffic in. */
export interface OpenPort extends PortRange {
  /**
   * The internet sources of the rules that let the traffic in, as written and sorted: e.g. `["Internet"]`,
   * `["0.0.0.0/0"]`, `["203.0.113.0/24"]`; `["*"]` also when no NSG filters the traffic at all. Through
   * two NSGs (subnet and NIC), the sources of both.
   */
  sources: string[];
}

/** Whether a resource can be reached from the internet, and how. */
export interface Exposure {
  /** True when the resource has a public IP and at least one port is reachable from the internet. */
  internetExposed: boolean;
  /** Public addresses of the resource (may be non-empty while nothing is open). */
  publicIps: string[];
  /** Ports reachable from the internet: empty unless `internetExposed`. Sorted, merged ranges. */
  openPorts: OpenPort[];
}

/** Kind of a node of the network map. */
export type NodeKind =
  | "INTERNET"
  | "VIRTUAL_NETWORK"
  | "SUBNET"
  | "NETWORK_SECURITY_GROUP"
  | "NETWORK_INTERFACE"
  | "VIRTUAL_MACHINE"
  | "PUBLIC_IP"
  | "EXTERNAL_NETWORK";

/**
 * A node of the network map: a resource, the internet (id {@link INTERNET_NODE_ID}), or the remote network of a
 * peering that is not in the input (kind EXTERNAL_NETWORK, id `external:` + the remote id, named by that id).
 */
export interface NetworkNode {
  id: string;
  kind: NodeKind;
  name: string;
  /** For VMs/instances, NICs and public IPs: whether the exposure says so; false for everything else. */
  internetExposed: boolean;
  /** The resource's account; null for the internet, an external network and a resource given none. */
  accountId: string | null;
}

/** Kind of an edge of the network map. */
export type EdgeKind =
  "CONTAINS" | "ATTACHED_TO" | "PROTECTED_BY" | "ASSOCIATED_WITH" | "PEERED_WITH" | "ALLOWS_TRAFFIC";

/**
 * A directed edge: VNet CONTAINS subnet, subnet CONTAINS NIC (AWS: instance), NIC ATTACHED_TO VM, public IP
 * ASSOCIATED_WITH NIC (AWS: instance), subnet/NIC (AWS: instance) PROTECTED_BY NSG/security group, VNet/VPC
 * PEERED_WITH VNet/VPC, and ALLOWS_TRAFFIC from the internet or a VM to a VM.
 */
export interface NetworkEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The allowed ports for ALLOWS_TRAFFIC; empty for every other kind. */
  ports: PortRange[];
  /**
   * For ALLOWS_TRAFFIC, the inbound rules that let the traffic in, sorted: Azure `nsg-name/rule-name` (default
   * rules by their Azure names, e.g. `nsg-web/AllowVnetInBound`), AWS the security group's name; empty when no
   * NSG filters the traffic, and for every other kind.
   */
  rules: string[];
}

/** The network map of an inventory. */
export interface NetworkTopology {
  /** The internet node first, then one node per network resource in input order. */
  nodes: NetworkNode[];
  edges: NetworkEdge[];
  /**
   * Exposure keyed by resource id: every VM/EC2 instance, every NIC attached to an inventoried VM, and every
   * public IP (Azure public IP, AWS elastic IP) associated with such a NIC or instance.
   */
  exposure: Map<string, Exposure>;
}

/** One NSG security rule, normalised. */
export interface NsgRule {
  name: string;
  priority: number;
  direction: "Inbound" | "Outbound";
  access: "Allow" | "Deny";
  protocol: Protocol;
  /** Source prefixes as written: `*`, service tags (`Internet`, `VirtualNetwork`...), CIDRs or addresses. */
  sources: string[];
  /** Destination port ranges (`*` is 0..65535). */
  ports: Array<{ fromPort: number; toPort: number }>;
}

/** Id of the internet node. */
export const INTERNET_NODE_ID = "internet";

/** Node ids of external networks start with this (then the remote id; ARM ids lower-cased). */
export const EXTERNAL_NODE_PREFIX = "external:";

/** Provider-native types (lower-cased) of peering records that are no node kind but connect networks. */
export const PEERING_RESOURCE_TYPES: readonly string[] = ["aws::ec2::vpcpeeringconnection"];

/** VM-to-VM ALLOWS_TRAFFIC edges are skipped in a VNet/VPC with more VMs than this (the edges grow as n²). */
export const VM_TO_VM_EDGE_CAP = 200;

// ---------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
type L4 = "TCP" | "UDP" | "ICMP";
const L4_PROTOCOLS: readonly L4[] = ["TCP", "UDP", "ICMP"];
const MAX_PORT = 65535;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-blank string, trimmed. */
function str(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function arr(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** An ARM reference: a string id or `{ id }`. */
function refId(value: unknown): string | undefined {
  return str(value) ?? (isRecord(value) ? str(value.id) : undefined);
}

function toInt(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Address sets: sorted, disjoint, non-adjacent inclusive intervals over one bigint space in which IPv6
// addresses keep their value and IPv4 addresses are shifted above the IPv6 space.
// ---------------------------------------------------------------------------------------------------------

type Interval = readonly [bigint, bigint];
type AddrSet = readonly Interval[];

const EMPTY: AddrSet = [];
const V4_BASE = 1n << 128n;
const ALL_V4: AddrSet = [[V4_BASE, V4_BASE + 0xffff_ffffn]];
const ALL_V6: AddrSet = [[0n, (1n << 128n) - 1n]];

function normaliseSet(intervals: readonly Interval[]): AddrSet {
  const sorted = [...intervals].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else out.push([lo, hi]);
  }
  return out;
}

function unionSet(a: AddrSet, b: AddrSet): AddrSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normaliseSet([...a, ...b]);
}

function intersectSet(a: AddrSet, b: AddrSet): AddrSet {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = a[i][0] > b[j][0] ? a[i][0] : b[j][0];
    const hi = a[i][1] < b[j][1] ? a[i][1] : b[j][1];
    if (lo <= hi) out.push([lo, hi]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

function subtractSet(a: AddrSet, b: AddrSet): AddrSet {
  if (a.length === 0 || b.length === 0) return a;
  const out: Interval[] = [];
  let j = 0;
  for (const [start, hi] of a) {
    let lo = start;
    while (j < b.length && b[j][1] < lo) j++;
    for (let k = j; k < b.length && b[k][0] <= hi && lo <= hi; k++) {
      if (b[k][0] > lo) out.push([lo, b[k][0] - 1n]);
      if (b[k][1] + 1n > lo) lo = b[k][1] + 1n;
    }
    if (lo <= hi) out.push([lo, hi]);
  }
  return out;
}

function isSubset(a: AddrSet, b: AddrSet): boolean {
  return subtractSet(a, b).length === 0;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return BigInt(value);
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text)) return undefined;
  let body = text;
  const lastColon = body.lastIndexOf(":");
  if (body.includes(".")) {
    // Embedded IPv4 tail (::ffff:192.0.2.1): rewrite it as two hex groups.
    const v4 = parseV4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    body = `${body.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return undefined;
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

/** An address or CIDR as an address set (host bits of a CIDR are ignored), or undefined. */
function parseCidr(text: string): AddrSet | undefined {
  const [address, prefix, extra] = text.trim().split("/");
  if (extra !== undefined || address === undefined) return undefined;
  const v6 = address.includes(":");
  const bits = v6 ? 128 : 32;
  const value = v6 ? parseV6(address) : parseV4(address);
  if (value === undefined) return undefined;
  let length = bits;
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return undefined;
    length = Number(prefix);
  }
  const hostMask = (1n << BigInt(bits - length)) - 1n;
  const lo = value & ~hostMask;
  const base = v6 ? 0n : V4_BASE;
  return [[base + lo, base + (lo | hostMask)]];
}

function setOf(cidrs: readonly string[]): AddrSet {
  return normaliseSet(cidrs.flatMap((cidr) => parseCidr(cidr) ?? []));
}

/** Private address space: where VNets and VPCs live. */
const PRIVATE = setOf(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"]);
/** Addresses that are never the internet. */
const NOT_INTERNET = unionSet(PRIVATE, setOf(["127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"]));
/** The public internet. */
const INTERNET = subtractSet(unionSet(ALL_V4, ALL_V6), NOT_INTERNET);

// ---------------------------------------------------------------------------------------------------------
// Compiled rules
// ---------------------------------------------------------------------------------------------------------

interface SourceSpec {
  /** The source as written. */
  text: string;
  kind: "any" | "tag" | "cidr" | "group";
  /** Lower-cased service tag, or lower-cased security-group id. */
  key: string;
  /** The addresses of a CIDR source. */
  set: AddrSet;
  /** The internet addresses this source covers. */
  internet: AddrSet;
}

interface PortSpan {
  from: number;
  to: number;
}

interface CompiledRule {
  /** How the rule is named in edges: `nsg-name/rule-name` (Azure) or the security group's name (AWS). */
  label: string;
  priority: number;
  allow: boolean;
  protocol: Protocol;
  spans: readonly PortSpan[];
  /** The rule covers every port (so it also matches ICMP when its protocol is ANY). */
  full: boolean;
  sources: readonly SourceSpec[];
  /** Union of the sources' internet addresses. */
  internet: AddrSet;
}

/** Rules sorted for evaluation, plus what a source-dependent evaluation depends on (for caching). */
interface RuleSet {
  key: string;
  rules: readonly CompiledRule[];
  cidrs: readonly AddrSet[];
  groups: readonly string[];
}

function compileSource(text: string): SourceSpec {
  const lower = text.toLowerCase();
  if (lower === "*" || lower === "any")
    return { text, kind: "any", key: lower, set: EMPTY, internet: INTERNET };
  const set = parseCidr(text);
  if (set) return { text, kind: "cidr", key: lower, set, internet: intersectSet(set, INTERNET) };
  return { text, kind: "tag", key: lower, set: EMPTY, internet: lower === "internet" ? INTERNET : EMPTY };
}

function groupSource(groupId: string): SourceSpec {
  return { text: groupId, kind: "group", key: groupId.toLowerCase(), set: EMPTY, internet: EMPTY };
}

function compileRule(
  label: string,
  priority: number,
  allow: boolean,
  protocol: Protocol,
  spans: readonly PortSpan[],
  sources: readonly SourceSpec[],
): CompiledRule {
  return {
    label,
    priority,
    allow,
    protocol,
    spans,
    full: spans.some((s) => s.from <= 0 && s.to >= MAX_PORT),
    sources,
    internet: sources.reduce<AddrSet>((acc, s) => unionSet(acc, s.internet), EMPTY),
  };
}

const PROTOCOLS: ReadonlySet<string> = new Set(["TCP", "UDP", "ICMP", "ANY"]);

/** Compiles the valid inbound rules of an NSG, checking each field (callers may hand us anything). */
function compileInbound(rules: readonly NsgRule[], owner?: string): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const rule of Array.isArray(rules) ? rules : []) {
    if (!isRecord(rule)) continue;
    const r = rule as Partial<Record<keyof NsgRule, unknown>>;
    if (typeof r.direction !== "string" || r.direction.toLowerCase() !== "inbound") continue;
    if (typeof r.priority !== "number" || !Number.isFinite(r.priority)) continue;
    const access = typeof r.access === "string" ? r.access.toLowerCase() : "";
    if (access !== "allow" && access !== "deny") continue;
    if (typeof r.protocol !== "string" || !PROTOCOLS.has(r.protocol)) continue;
    const spans = arr(r.ports).flatMap((p) => {
      if (!isRecord(p)) return [];
      const from = toInt(p.fromPort);
      const to = toInt(p.toPort);
      return from !== undefined && to !== undefined && from >= 0 && from <= to && to <= MAX_PORT
        ? [{ from, to }]
        : [];
    });
    const sources = arr(r.sources).flatMap((s) => {
      const text = str(s);
      return text ? [compileSource(text)] : [];
    });
    if (spans.length === 0 || sources.length === 0) continue;
    const name = typeof r.name === "string" ? r.name : "";
    const label = owner === undefined ? name : `${owner}/${name}`;
    out.push(compileRule(label, r.priority, access === "allow", r.protocol as Protocol, spans, sources));
  }
  return out;
}

/** Stable sort by priority (input order breaks ties). */
function byPriority(rules: readonly CompiledRule[]): CompiledRule[] {
  return rules
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => a.rule.priority - b.rule.priority || a.index - b.index)
    .map(({ rule }) => rule);
}

const ALL_PORTS: readonly PortSpan[] = [{ from: 0, to: MAX_PORT }];

/** Azure's default inbound rules, which every NSG has after its custom rules. */
const AZURE_DEFAULT_INBOUND: readonly CompiledRule[] = [
  compileRule("AllowVnetInBound", 65000, true, "ANY", ALL_PORTS, [compileSource("VirtualNetwork")]),
  compileRule("AllowAzureLoadBalancerInBound", 65001, true, "ANY", ALL_PORTS, [
    compileSource("AzureLoadBalancer"),
  ]),
  compileRule("DenyAllInBound", 65500, false, "ANY", ALL_PORTS, [compileSource("*")]),
];

/** Azure's default inbound rules, labelled with the NSG they belong to. */
function azureDefaultsOf(owner: string): CompiledRule[] {
  return AZURE_DEFAULT_INBOUND.map((rule) => ({ ...rule, label: `${owner}/${rule.label}` }));
}

function ruleSet(key: string, rules: readonly CompiledRule[]): RuleSet {
  const cidrs = new Map<string, AddrSet>();
  const groups = new Set<string>();
  for (const rule of rules)
    for (const source of rule.sources) {
      if (source.kind === "cidr") cidrs.set(source.key, source.set);
      if (source.kind === "group") groups.add(source.key);
    }
  return { key, rules: byPriority(rules), cidrs: [...cidrs.values()], groups: [...groups] };
}

// ---------------------------------------------------------------------------------------------------------
// Port segments: the port space of each protocol cut at every rule boundary, so that within a segment every
// rule either applies to all of it or to none of it.
// ---------------------------------------------------------------------------------------------------------

interface Segment {
  protocol: L4;
  from: number;
  to: number;
  /** Labels of the rules that let this segment in (absent: no rule filters it). */
  rules?: readonly string[];
}

interface OpenSegment extends Segment {
  /** Internet addresses allowed in. */
  set: AddrSet;
  sources: ReadonlySet<string>;
}

function appliesTo(rule: CompiledRule, protocol: L4): boolean {
  if (protocol === "ICMP") return rule.protocol === "ICMP" || (rule.protocol === "ANY" && rule.full);
  return rule.protocol === "ANY" || rule.protocol === protocol;
}

/** Calls `visit` for each segment with the rules that apply there, in evaluation order. */
function forEachSegment(
  rules: readonly CompiledRule[],
  visit: (segment: Segment, rules: readonly CompiledRule[]) => void,
): void {
  for (const protocol of L4_PROTOCOLS) {
    const applicable = rules.filter((rule) => appliesTo(rule, protocol));
    if (protocol === "ICMP") {
      visit({ protocol, from: 0, to: MAX_PORT }, applicable);
      continue;
    }
    const cuts = new Set<number>([0]);
    for (const rule of applicable)
      for (const span of rule.spans) {
        cuts.add(span.from);
        if (span.to < MAX_PORT) cuts.add(span.to + 1);
      }
    const bounds = [...cuts].sort((a, b) => a - b);
    bounds.forEach((from, i) => {
      const to = i + 1 < bounds.length ? bounds[i + 1] - 1 : MAX_PORT;
      const here = applicable.filter((rule) => rule.spans.some((s) => s.from <= from && from <= s.to));
      visit({ protocol, from, to }, here);
    });
  }
}

/** What can come in from the internet through one rule set (rules sorted; implicit deny at the end). */
function internetOpenSegments(rules: readonly CompiledRule[]): OpenSegment[] {
  const out: OpenSegment[] = [];
  forEachSegment(rules, (segment, here) => {
    let remaining = INTERNET;
    let allowed = EMPTY;
    const sources = new Set<string>();
    const labels = new Set<string>();
    for (const rule of here) {
      if (rule.internet.length === 0) continue;
      const hit = intersectSet(rule.internet, remaining);
      if (hit.length === 0) continue;
      if (rule.allow) {
        allowed = unionSet(allowed, hit);
        labels.add(rule.label);
        for (const source of rule.sources)
          if (intersectSet(source.internet, remaining).length > 0) sources.add(source.text);
      }
      remaining = subtractSet(remaining, rule.internet);
      if (remaining.length === 0) break;
    }
    if (allowed.length > 0) out.push({ ...segment, set: allowed, sources, rules: [...labels] });
  });
  return out;
}

/** Everything from everywhere: the effect of no NSG at all. */
const UNFILTERED: readonly OpenSegment[] = L4_PROTOCOLS.map((protocol) => ({
  protocol,
  from: 0,
  to: MAX_PORT,
  set: INTERNET,
  sources: new Set(["*"]),
}));

/** Overlays two segment lists (each disjoint per protocol) and combines the overlapping parts. */
function overlay<A extends Segment, B extends Segment, C>(
  a: readonly A[],
  b: readonly B[],
  combine: (x: A, y: B, part: Segment) => C | undefined,
): C[] {
  const out: C[] = [];
  for (const protocol of L4_PROTOCOLS) {
    const xs = a.filter((s) => s.protocol === protocol).sort((p, q) => p.from - q.from);
    const ys = b.filter((s) => s.protocol === protocol).sort((p, q) => p.from - q.from);
    let i = 0;
    let j = 0;
    while (i < xs.length && j < ys.length) {
      const from = Math.max(xs[i].from, ys[j].from);
      const to = Math.min(xs[i].to, ys[j].to);
      if (from <= to) {
        const combined = combine(xs[i], ys[j], { protocol, from, to });
        if (combined !== undefined) out.push(combined);
      }
      if (xs[i].to < ys[j].to) i++;
      else j++;
    }
  }
  return out;
}

/** Internet traffic that passes two filter levels (undefined = no NSG at that level). */
function intersectInternet(
  a: readonly OpenSegment[] | undefined,
  b: readonly OpenSegment[] | undefined,
): readonly OpenSegment[] {
  if (!a) return b ?? UNFILTERED;
  if (!b) return a;
  return overlay(a, b, (x, y, part) => {
    const set = intersectSet(x.set, y.set);
    return set.length > 0
      ? { ...part, set, sources: new Set([...x.sources, ...y.sources]), rules: unionRules(x, y) }
      : undefined;
  });
}

const ALL_SEGMENTS: readonly Segment[] = L4_PROTOCOLS.map((protocol) => ({
  protocol,
  from: 0,
  to: MAX_PORT,
}));

/** Stands for a level without filtering (undefined) where a key must be an object. */
const NO_FILTER: readonly Segment[] = Object.freeze([]);

/** Traffic that passes two filter levels (undefined = no filtering at that level). */
function intersectAllowed(
  a: readonly Segment[] | undefined,
  b: readonly Segment[] | undefined,
): readonly Segment[] {
  if (!a) return b ?? ALL_SEGMENTS;
  if (!b) return a;
  return overlay(a, b, (x, y, part) => ({ ...part, rules: unionRules(x, y) }));
}

function unionRules(x: Segment, y: Segment): string[] {
  return [...(x.rules ?? []), ...(y.rules ?? [])];
}

/** The sorted, distinct rule labels of some segments. */
function rulesOf(segments: readonly Segment[]): string[] {
  return [...new Set(segments.flatMap((s) => s.rules ?? []))].sort();
}

interface Piece extends Segment {
  sources: ReadonlySet<string>;
}

/**
 * Sorted, merged port ranges: overlapping or adjacent ranges of a protocol merge (their sources unite); when
 * TCP and UDP have the same ranges and sources and ICMP is open from the same sources, they are reported as
 * ANY.
 */
function normalisePorts(pieces: readonly Piece[]): OpenPort[] {
  const merged = new Map<L4, Array<{ from: number; to: number; sources: Set<string> }>>();
  for (const protocol of L4_PROTOCOLS) {
    const list: Array<{ from: number; to: number; sources: Set<string> }> = [];
    const sorted = pieces
      .filter((p) => p.protocol === protocol)
      .sort((p, q) => p.from - q.from || p.to - q.to);
    for (const piece of sorted) {
      const last = list[list.length - 1];
      if (last && piece.from <= last.to + 1) {
        last.to = Math.max(last.to, piece.to);
        for (const s of piece.sources) last.sources.add(s);
      } else list.push({ from: piece.from, to: piece.to, sources: new Set(piece.sources) });
    }
    merged.set(protocol, list);
  }
  const key = (sources: ReadonlySet<string>) => [...sources].sort().join("\n");
  const tcp = merged.get("TCP") ?? [];
  const udp = merged.get("UDP") ?? [];
  const icmp = merged.get("ICMP") ?? [];
  const toPorts = (protocol: Protocol, list: typeof tcp): OpenPort[] =>
    list.map((r) => ({ protocol, fromPort: r.from, toPort: r.to, sources: [...r.sources].sort() }));
  const any =
    tcp.length > 0 &&
    icmp.length === 1 &&
    tcp.length === udp.length &&
    tcp.every(
      (r, i) =>
        r.from === udp[i].from &&
        r.to === udp[i].to &&
        key(r.sources) === key(udp[i].sources) &&
        key(r.sources) === key(icmp[0].sources),
    );
  if (any) return toPorts("ANY", tcp);
  return [...toPorts("TCP", tcp), ...toPorts("UDP", udp), ...toPorts("ICMP", icmp)];
}

function toPortRanges(segments: readonly Segment[]): PortRange[] {
  const none: ReadonlySet<string> = new Set();
  return normalisePorts(segments.map((s) => ({ ...s, sources: none }))).map(
    ({ protocol, fromPort, toPort }) => ({ protocol, fromPort, toPort }),
  );
}

/**
 * The union of some port ranges, as the map reports ranges: sorted, overlapping or adjacent ranges of a protocol
 * merged, and `ANY` where TCP and UDP have the same ranges and ICMP is open.
 */
export function unitePortRanges(ranges: readonly PortRangeLike[]): PortRange[] {
  const segments = ranges.flatMap((r): Segment[] =>
    r.protocol === "ANY"
      ? [
          { protocol: "TCP", from: r.fromPort, to: r.toPort },
          { protocol: "UDP", from: r.fromPort, to: r.toPort },
          { protocol: "ICMP", from: 0, to: 65535 },
        ]
      : L4_PROTOCOLS.includes(r.protocol as L4)
        ? [{ protocol: r.protocol as L4, from: r.fromPort, to: r.toPort }]
        : [],
  );
  return toPortRanges(segments);
}

// ---------------------------------------------------------------------------------------------------------
// Point queries: traffic from one source
// ---------------------------------------------------------------------------------------------------------

interface SourceQuery {
  /** Lower-cased service tag of the source (`internet`, `virtualnetwork`...), if it is one. */
  tag: string | undefined;
  /** The source's addresses, when known. */
  range: AddrSet | undefined;
  /** The source is inside the destination's virtual network. */
  inVnet: boolean;
  /** Lower-cased security-group ids of the source (AWS). */
  groups: ReadonlySet<string>;
}

function coversAFamily(set: AddrSet): boolean {
  return isSubset(ALL_V4, set) || isSubset(ALL_V6, set);
}

function sourceMatches(source: SourceSpec, q: SourceQuery): boolean {
  switch (source.kind) {
    case "any":
      return true;
    case "group":
      return q.groups.has(source.key);
    case "cidr":
      if (q.range) return isSubset(q.range, source.set);
      return (q.tag === "internet" || q.tag === "virtualnetwork") && coversAFamily(source.set);
    case "tag":
      if (source.key === "internet")
        return q.tag === "internet" || (!!q.range && !q.inVnet && isSubset(q.range, INTERNET));
      if (source.key === "virtualnetwork")
        return q.tag === "virtualnetwork" || q.inVnet || (!!q.range && isSubset(q.range, PRIVATE));
      return q.tag === source.key;
  }
}

/** The segments a source may reach through one rule set (first match decides; implicit deny). */
function allowedSegments(rules: readonly CompiledRule[], q: SourceQuery): Segment[] {
  const out: Segment[] = [];
  forEachSegment(rules, (segment, here) => {
    const first = here.find((rule) => rule.sources.some((s) => sourceMatches(s, q)));
    if (first?.allow) out.push({ ...segment, rules: [first.label] });
  });
  return out;
}

function queryFor(from: string): SourceQuery {
  const text = typeof from === "string" ? from.trim() : "";
  const range = parseCidr(text);
  return { tag: range ? undefined : text.toLowerCase(), range, inVnet: false, groups: new Set() };
}

// ---------------------------------------------------------------------------------------------------------
// Public rule functions
// ---------------------------------------------------------------------------------------------------------

function parseProtocol(value: unknown): Protocol | undefined {
  const text = str(value)?.toLowerCase();
  if (text === "*" || text === "any") return "ANY";
  if (text === "tcp") return "TCP";
  if (text === "udp") return "UDP";
  if (text === "icmp") return "ICMP";
  return undefined; // Esp, Ah and garbage: not TCP/UDP/ICMP traffic
}

/** A port spec (`*`, `22`, `1000-2000`, a number, or a comma-separated list of those); [] when invalid. */
function parsePortSpec(value: unknown): Array<{ fromPort: number; toPort: number }> {
  if (typeof value === "number")
    return Number.isInteger(value) && value >= 0 && value <= MAX_PORT
      ? [{ fromPort: value, toPort: value }]
      : [];
  const text = str(value);
  if (!text) return [];
  return text.split(",").flatMap((part) => {
    const spec = part.trim();
    if (spec === "*" || spec.toLowerCase() === "any") return [{ fromPort: 0, toPort: MAX_PORT }];
    const match = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(spec);
    if (!match) return [];
    const fromPort = Number(match[1]);
    const toPort = match[2] === undefined ? fromPort : Number(match[2]);
    return fromPort <= toPort && toPort <= MAX_PORT ? [{ fromPort, toPort }] : [];
  });
}

/**
 * The custom security rules of an NSG's ARM `properties` (`securityRules`, in the nested ARM form
 * `{ name, properties: { ... } }` or flattened). Tolerant: rules with a missing or invalid priority,
 * direction, access, protocol (Esp/Ah included), source or destination port are skipped; never throws.
 * Azure's default rules are not included (the evaluation functions add them).
 */
export function parseNsgRules(properties: Record<string, unknown>): NsgRule[] {
  if (!isRecord(properties)) return [];
  const out: NsgRule[] = [];
  for (const item of arr(properties.securityRules)) {
    if (!isRecord(item)) continue;
    const p = isRecord(item.properties) ? item.properties : item;
    const priority = toInt(p.priority);
    const direction = str(p.direction)?.toLowerCase();
    const access = str(p.access)?.toLowerCase();
    const protocol = parseProtocol(p.protocol);
    if (priority === undefined || protocol === undefined) continue;
    if ((direction !== "inbound" && direction !== "outbound") || (access !== "allow" && access !== "deny"))
      continue;
    const sources = [
      ...new Set([p.sourceAddressPrefix, ...arr(p.sourceAddressPrefixes)].flatMap((s) => str(s) ?? [])),
    ];
    const ports = [p.destinationPortRange, ...arr(p.destinationPortRanges)].flatMap(parsePortSpec);
    if (sources.length === 0 || ports.length === 0) continue;
    out.push({
      name: str(item.name) ?? str(p.name) ?? "",
      priority,
      direction: direction === "inbound" ? "Inbound" : "Outbound",
      access: access === "allow" ? "Allow" : "Deny",
      protocol,
      sources,
      ports,
    });
  }
  return out;
}

/**
 * Whether inbound traffic from `from` to `port` is allowed, with Azure semantics: rules sorted by priority
 * (lower number first), the first matching rule decides; Azure's default rules apply after custom ones
 * (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound 65001, DenyAllInBound 65500). Outbound rules are
 * ignored.
 *
 * `from` is a service tag or an address/CIDR. `Internet` stands for an arbitrary internet host: it matches
 * rules from `*`/`Any`/`Internet`/`0.0.0.0/0`/`::/0`, not rules from a particular public range.
 * `VirtualNetwork` matches `*`/`Any`/`VirtualNetwork` and `/0` rules. An address or CIDR matches rules whose
 * CIDR contains all of it, `Internet` when it is public, and `VirtualNetwork` when it is private (RFC 1918,
 * CGNAT or IPv6 ULA, assumed to be in the VNet's address space). For ICMP, `port` is ignored.
 */
export function evaluateInbound(
  rules: readonly NsgRule[],
  from: "Internet" | "VirtualNetwork" | string,
  port: number,
  protocol: Exclude<Protocol, "ANY">,
): "Allow" | "Deny" {
  if (protocol !== "ICMP" && !(Number.isInteger(port) && port >= 0 && port <= MAX_PORT)) return "Deny";
  const q = queryFor(from);
  const ordered = byPriority([...compileInbound(rules), ...AZURE_DEFAULT_INBOUND]);
  for (const rule of ordered) {
    if (!appliesTo(rule, protocol)) continue;
    if (protocol !== "ICMP" && !rule.spans.some((s) => s.from <= port && port <= s.to)) continue;
    if (rule.sources.some((s) => sourceMatches(s, q))) return rule.allow ? "Allow" : "Deny";
  }
  return "Deny";
}

/**
 * The inbound port ranges open to the internet through one NSG: a port is open when some internet address
 * is let in by an Allow rule before any Deny rule covering that address (a higher-priority Deny beats a
 * lower-priority Allow, also for partial port overlaps: Allow `*` at 200 with Deny 22 at 100 opens
 * everything except 22). Sources are the Allow rules' internet sources that let traffic in. Sorted and
 * merged (see {@link Exposure.openPorts}); TCP+UDP+ICMP on the same ranges are reported as ANY.
 */
export function internetOpenPorts(rules: readonly NsgRule[]): OpenPort[] {
  return normalisePorts(internetOpenSegments(byPriority(compileInbound(rules))));
}

// ---------------------------------------------------------------------------------------------------------
// AWS security groups
// ---------------------------------------------------------------------------------------------------------

function awsProtocol(value: unknown): Protocol | undefined {
  const text = (typeof value === "number" ? String(value) : (str(value) ?? "")).toLowerCase();
  if (text === "-1" || text === "all") return "ANY";
  if (text === "tcp" || text === "6") return "TCP";
  if (text === "udp" || text === "17") return "UDP";
  if (text === "icmp" || text === "1" || text === "icmpv6" || text === "58") return "ICMP";
  return undefined;
}

/** A security group's inbound permissions as allow rules. */
function compileSecurityGroup(properties: Json, owner: string): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const perm of arr(properties.IpPermissions)) {
    if (!isRecord(perm)) continue;
    const protocol = awsProtocol(perm.IpProtocol);
    if (!protocol) continue;
    let spans: readonly PortSpan[] = ALL_PORTS;
    if (protocol === "TCP" || protocol === "UDP") {
      const from = toInt(perm.FromPort);
      const to = toInt(perm.ToPort);
      if (from === undefined || to === undefined) continue;
      if (!(from === -1 && to === -1)) {
        if (from < 0 || from > to || to > MAX_PORT) continue;
        spans = [{ from, to }];
      }
    }
    const sources = [
      ...arr(perm.IpRanges).flatMap((r) => str(isRecord(r) ? r.CidrIp : r) ?? []),
      ...arr(perm.Ipv6Ranges).flatMap((r) => str(isRecord(r) ? r.CidrIpv6 : r) ?? []),
    ]
      .filter((text) => parseCidr(text) !== undefined)
      .map(compileSource);
    for (const pair of arr(perm.UserIdGroupPairs)) {
      const id = isRecord(pair) ? str(pair.GroupId) : undefined;
      if (id) sources.push(groupSource(id));
    }
    if (sources.length > 0) out.push(compileRule(owner, 0, true, protocol, spans, sources));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Topology
// ---------------------------------------------------------------------------------------------------------

interface Res {
  id: string;
  externalId: string;
  name: string;
  kind: ResourceKind;
  /** The provider-native type, lower-cased. */
  typeKey: string;
  provider: "azure" | "aws" | "other";
  props: Json;
  accountId: string | null;
}

/** An Azure VM in one VNet, with its IP configurations there. */
interface AzureMember {
  vm: Res;
  cfgs: Array<{ nic: Res; cfg: IpConfig }>;
}

interface IpConfig {
  name: string;
  /** Lower-cased subnet ARM id. */
  subnetKey: string | undefined;
  privateIp: string | undefined;
  pips: Res[];
}

const NODE_KINDS: ReadonlyMap<ResourceKind, NodeKind> = new Map<ResourceKind, NodeKind>([
  [ResourceKind.VIRTUAL_NETWORK, "VIRTUAL_NETWORK"],
  [ResourceKind.SUBNET, "SUBNET"],
  [ResourceKind.NETWORK_SECURITY_GROUP, "NETWORK_SECURITY_GROUP"],
  [ResourceKind.NETWORK_INTERFACE, "NETWORK_INTERFACE"],
  [ResourceKind.VIRTUAL_MACHINE, "VIRTUAL_MACHINE"],
  [ResourceKind.PUBLIC_IP, "PUBLIC_IP"],
]);

/** AWS VPC peering connections (no resource kind of their own: they are not nodes of the map). */
const PEERING_TYPES: ReadonlySet<string> = new Set(PEERING_RESOURCE_TYPES);

/** The property holding an AWS resource's own id, by kind (references match it, or the ARN's tail). */
const AWS_ID_FIELDS: ReadonlyMap<ResourceKind, string> = new Map([
  [ResourceKind.VIRTUAL_MACHINE, "InstanceId"],
  [ResourceKind.NETWORK_SECURITY_GROUP, "GroupId"],
  [ResourceKind.SUBNET, "SubnetId"],
  [ResourceKind.VIRTUAL_NETWORK, "VpcId"],
  [ResourceKind.PUBLIC_IP, "AllocationId"],
]);

/** The id part of an ARN (`arn:...:security-group/sg-1` → `sg-1`) or of a bare id. */
function arnTail(externalId: string): string {
  return externalId.slice(Math.max(externalId.lastIndexOf("/"), externalId.lastIndexOf(":")) + 1);
}

function parentOf(armId: string, childSegment: string): string | undefined {
  const lower = armId.toLowerCase();
  const index = lower.lastIndexOf(`/${childSegment}/`);
  if (index <= 0 || lower.indexOf("/", index + childSegment.length + 2) !== -1) return undefined;
  return lower.slice(0, index);
}

class TopologyBuilder {
  private readonly resources: Res[] = [];
  private readonly byArmId = new Map<string, Res>();
  private readonly byAwsId = new Map<string, Res>();
  private readonly nodes: NetworkNode[] = [];
  private readonly nodeIds = new Set<string>();
  private readonly edges: NetworkEdge[] = [];
  /** The edges added, by source, kind and target (nested maps: no key strings to build for 200,000 edges). */
  private readonly edgeKeys = new Map<string, Map<EdgeKind, Set<string>>>();
  private readonly exposure = new Map<string, Exposure>();

  private readonly nsgRules = new Map<string, RuleSet>();
  private readonly nsgInternet = new Map<string, readonly OpenSegment[]>();
  private readonly allowedCache = new Map<string, readonly Segment[]>();
  /** `allowed`'s answers by source query and rule set: a source meets the same few rule sets at every peer. */
  private readonly allowedBySource = new WeakMap<SourceQuery, Map<RuleSet, readonly Segment[]>>();
  /** Two levels' allowed segments intersected, by the identities of `allowed`'s (kept) answers. */
  private readonly intersections = new Map<object, Map<object, readonly Segment[]>>();
  /** What an edge reports for some allowed segments: most VM pairs share a few kept arrays of them. */
  private readonly traffic = new WeakMap<readonly Segment[], { ports: PortRange[]; rules: string[] }>();

  constructor(input: readonly NetworkResource[]) {
    for (const raw of Array.isArray(input) ? input : []) {
      if (!isRecord(raw)) continue;
      const id = typeof raw.id === "string" && raw.id.trim() !== "" ? raw.id : undefined;
      if (!id) continue;
      const type = str(raw.type) ?? "";
      const externalId = str(raw.externalId) ?? "";
      const lowerType = type.toLowerCase();
      const res: Res = {
        id,
        externalId,
        name: str(raw.name) ?? (externalId || id),
        kind: resourceKindOf(type),
        typeKey: lowerType,
        provider: lowerType.startsWith("microsoft.")
          ? "azure"
          : lowerType.startsWith("aws::")
            ? "aws"
            : "other",
        props: isRecord(raw.properties) ? raw.properties : {},
        accountId: str(raw.accountId) ?? null,
      };
      this.resources.push(res);
      if (externalId && !this.byArmId.has(externalId.toLowerCase()))
        this.byArmId.set(externalId.toLowerCase(), res);
      if (res.provider === "aws") this.indexAws(res);
    }
  }

  build(): NetworkTopology {
    this.addNode(INTERNET_NODE_ID, "INTERNET", "Internet");
    for (const res of this.resources) {
      const kind = NODE_KINDS.get(res.kind);
      if (kind) this.addNode(res.id, kind, res.name, res.accountId);
    }
    this.buildAzure();
    this.buildAws();
    for (const node of this.nodes)
      node.internetExposed = this.exposure.get(node.id)?.internetExposed ?? false;
    this.nodes[0].internetExposed = false;
    return { nodes: this.nodes, edges: this.edges, exposure: this.exposure };
  }

  // --- plumbing ---

  private addNode(id: string, kind: NodeKind, name: string, accountId: string | null = null): void {
    if (this.nodeIds.has(id)) return;
    this.nodeIds.add(id);
    this.nodes.push({ id, kind, name, internetExposed: false, accountId });
  }

  /**
   * The node of a peering's remote network that is not in the input: named by the remote id as the peering
   * record gives it (nothing else is known, nor looked up), one node per remote id (ARM ids case-insensitively).
   */
  private externalNetwork(remoteId: string, provider: Res["provider"]): string {
    const id = `${EXTERNAL_NODE_PREFIX}${provider === "azure" ? remoteId.toLowerCase() : remoteId}`;
    this.addNode(id, "EXTERNAL_NETWORK", remoteId);
    return id;
  }

  /** PEERED_WITH both ways between an inventoried network and an external one. */
  private peerExternal(local: Res, remoteId: string): void {
    const external = this.externalNetwork(remoteId, local.provider);
    this.addEdge(local.id, external, "PEERED_WITH");
    this.addEdge(external, local.id, "PEERED_WITH");
  }

  private addEdge(
    from: string,
    to: string,
    kind: EdgeKind,
    ports: PortRange[] = [],
    rules: string[] = [],
  ): void {
    if (from === to || !this.nodeIds.has(from) || !this.nodeIds.has(to)) return;
    let kinds = this.edgeKeys.get(from);
    if (!kinds) this.edgeKeys.set(from, (kinds = new Map()));
    let targets = kinds.get(kind);
    if (!targets) kinds.set(kind, (targets = new Set()));
    if (targets.has(to)) return;
    targets.add(to);
    this.edges.push({ from, to, kind, ports, rules });
  }

  private of(provider: Res["provider"], kind: ResourceKind): Res[] {
    return this.resources.filter((r) => r.provider === provider && r.kind === kind);
  }

  /** The Azure resource of `kind` an ARM reference (`"id"` or `{ id }`) points to, case-insensitively. */
  private arm(ref: unknown, kind: ResourceKind): Res | undefined {
    const id = refId(ref);
    const res = id ? this.byArmId.get(id.toLowerCase()) : undefined;
    return res && res.kind === kind && res.provider === "azure" ? res : undefined;
  }

  private indexAws(res: Res): void {
    const field = AWS_ID_FIELDS.get(res.kind);
    if (!field) return;
    for (const id of [str(res.props[field]), res.externalId ? arnTail(res.externalId) : undefined]) {
      const key = id ? `${res.kind}:${id.toLowerCase()}` : undefined;
      if (key && !this.byAwsId.has(key)) this.byAwsId.set(key, res);
    }
  }

  private aws(ref: unknown, kind: ResourceKind): Res | undefined {
    const id = str(ref);
    return id ? this.byAwsId.get(`${kind}:${id.toLowerCase()}`) : undefined;
  }

  // --- Azure ---

  private azureRuleSet(nsg: Res | undefined): RuleSet | undefined {
    if (!nsg) return undefined;
    let set = this.nsgRules.get(nsg.id);
    if (!set) {
      set = ruleSet(nsg.id, [
        ...compileInbound(parseNsgRules(nsg.props), nsg.name),
        ...azureDefaultsOf(nsg.name),
      ]);
      this.nsgRules.set(nsg.id, set);
    }
    return set;
  }

  private azureInternet(nsg: Res | undefined): readonly OpenSegment[] | undefined {
    const set = this.azureRuleSet(nsg);
    if (!nsg || !set) return undefined;
    let open = this.nsgInternet.get(nsg.id);
    if (!open) {
      open = internetOpenSegments(set.rules);
      this.nsgInternet.set(nsg.id, open);
    }
    return open;
  }

  private buildAzure(): void {
    const vnets = this.of("azure", ResourceKind.VIRTUAL_NETWORK);
    const subnets = this.of("azure", ResourceKind.SUBNET);
    const nsgs = this.of("azure", ResourceKind.NETWORK_SECURITY_GROUP);
    const nics = this.of("azure", ResourceKind.NETWORK_INTERFACE);
    const vms = this.of("azure", ResourceKind.VIRTUAL_MACHINE);
    const pips = this.of("azure", ResourceKind.PUBLIC_IP);

    // Subnets: containment and NSG (the subnet resource is authoritative, then the VNet's embedded copy,
    // then the NSG's own list of subnets).
    const subnetNsg = new Map<string, Res | undefined>();
    for (const subnet of subnets) {
      const key = subnet.externalId.toLowerCase();
      if (!key || subnetNsg.has(key)) continue;
      const nsg = this.arm(subnet.props.networkSecurityGroup, ResourceKind.NETWORK_SECURITY_GROUP);
      subnetNsg.set(key, nsg);
      const vnetKey = parentOf(key, "subnets");
      const vnet = vnetKey ? this.arm(vnetKey, ResourceKind.VIRTUAL_NETWORK) : undefined;
      if (vnet) this.addEdge(vnet.id, subnet.id, "CONTAINS");
    }
    for (const vnet of vnets)
      for (const embedded of arr(vnet.props.subnets)) {
        const key = isRecord(embedded) ? str(embedded.id)?.toLowerCase() : undefined;
        if (!isRecord(embedded) || !key) continue;
        const subnet = this.arm(key, ResourceKind.SUBNET);
        if (subnet) this.addEdge(vnet.id, subnet.id, "CONTAINS");
        if (subnetNsg.has(key)) continue;
        const p = isRecord(embedded.properties) ? embedded.properties : embedded;
        const nsg = this.arm(p.networkSecurityGroup, ResourceKind.NETWORK_SECURITY_GROUP);
        if (nsg) subnetNsg.set(key, nsg);
      }
    const nicNsg = new Map<string, Res | undefined>();
    for (const nic of nics)
      nicNsg.set(nic.id, this.arm(nic.props.networkSecurityGroup, ResourceKind.NETWORK_SECURITY_GROUP));
    for (const nsg of nsgs) {
      for (const ref of arr(nsg.props.subnets)) {
        const key = refId(ref)?.toLowerCase();
        if (key && !subnetNsg.get(key) && !this.arm(key, ResourceKind.SUBNET)) subnetNsg.set(key, nsg);
      }
      for (const ref of arr(nsg.props.networkInterfaces)) {
        const nic = this.arm(ref, ResourceKind.NETWORK_INTERFACE);
        if (nic && !nicNsg.get(nic.id) && !refId(nic.props.networkSecurityGroup)) nicNsg.set(nic.id, nsg);
      }
    }
    for (const subnet of subnets) {
      const nsg = subnetNsg.get(subnet.externalId.toLowerCase());
      if (nsg) this.addEdge(subnet.id, nsg.id, "PROTECTED_BY");
    }

    // NICs: IP configurations, public IPs (from either side), NSG.
    const configs = new Map<string, IpConfig[]>();
    const pipTaken = new Set<string>();
    for (const nic of nics) {
      const list: IpConfig[] = [];
      arr(nic.props.ipConfigurations).forEach((cfg, index) => {
        if (!isRecord(cfg)) return;
        const p = isRecord(cfg.properties) ? cfg.properties : cfg;
        const pip = this.arm(p.publicIPAddress, ResourceKind.PUBLIC_IP);
        const taken = pip !== undefined && pipTaken.has(pip.id);
        if (pip) pipTaken.add(pip.id);
        list.push({
          name: (str(cfg.name) ?? str(p.name) ?? arnTail(str(cfg.id) ?? `#${index}`)).toLowerCase(),
          subnetKey: refId(p.subnet)?.toLowerCase(),
          privateIp: str(p.privateIPAddress),
          pips: pip && !taken ? [pip] : [],
        });
      });
      configs.set(nic.id, list);
    }
    for (const pip of pips) {
      if (pipTaken.has(pip.id)) continue;
      const cfgId = refId(pip.props.ipConfiguration)?.toLowerCase();
      const nicKey = cfgId ? parentOf(cfgId, "ipconfigurations") : undefined;
      const nic = nicKey ? this.arm(nicKey, ResourceKind.NETWORK_INTERFACE) : undefined;
      const list = nic ? configs.get(nic.id) : undefined;
      if (!nic || !list || !cfgId) continue;
      const name = arnTail(cfgId);
      let cfg = list.find((c) => c.name === name) ?? list[0];
      if (!cfg) {
        cfg = { name, subnetKey: undefined, privateIp: undefined, pips: [] };
        list.push(cfg);
      }
      cfg.pips.push(pip);
      pipTaken.add(pip.id);
    }
    for (const nic of nics) {
      for (const cfg of configs.get(nic.id) ?? []) {
        const subnet = cfg.subnetKey ? this.arm(cfg.subnetKey, ResourceKind.SUBNET) : undefined;
        if (subnet) this.addEdge(subnet.id, nic.id, "CONTAINS");
        for (const pip of cfg.pips) this.addEdge(pip.id, nic.id, "ASSOCIATED_WITH");
      }
      const nsg = nicNsg.get(nic.id);
      if (nsg) this.addEdge(nic.id, nsg.id, "PROTECTED_BY");
    }

    // VMs and their NICs (from either side; a NIC belongs to one VM).
    const vmNics = new Map<string, Res[]>(vms.map((vm) => [vm.id, []]));
    const nicOwner = new Map<string, Res>();
    const attach = (vm: Res, nic: Res) => {
      if (nicOwner.has(nic.id)) return;
      nicOwner.set(nic.id, vm);
      vmNics.get(vm.id)?.push(nic);
      this.addEdge(nic.id, vm.id, "ATTACHED_TO");
    };
    for (const vm of vms) {
      const profile = isRecord(vm.props.networkProfile) ? vm.props.networkProfile : {};
      for (const ref of arr(profile.networkInterfaces)) {
        const nic = this.arm(ref, ResourceKind.NETWORK_INTERFACE);
        if (nic) attach(vm, nic);
      }
    }
    for (const nic of nics) {
      const vm = this.arm(nic.props.virtualMachine, ResourceKind.VIRTUAL_MACHINE);
      if (vm) attach(vm, nic);
    }

    // Internet exposure: per IP configuration with a public IP, subnet NSG ∩ NIC NSG.
    const openOf = (nic: Res, cfg: IpConfig): readonly OpenSegment[] =>
      intersectInternet(
        this.azureInternet(cfg.subnetKey ? subnetNsg.get(cfg.subnetKey) : undefined),
        this.azureInternet(nicNsg.get(nic.id)),
      );
    const exposureOf = (publicIps: string[], hasPublicIp: boolean, pieces: readonly Piece[]): Exposure => {
      const openPorts = hasPublicIp ? normalisePorts(pieces) : [];
      return { internetExposed: openPorts.length > 0, publicIps: [...new Set(publicIps)], openPorts };
    };
    const addressesOf = (list: readonly Res[]) => list.flatMap((pip) => str(pip.props.ipAddress) ?? []);
    for (const vm of vms) {
      const vmPieces: Piece[] = [];
      const vmIps: string[] = [];
      let vmPublic = false;
      for (const nic of vmNics.get(vm.id) ?? []) {
        const nicPieces: Piece[] = [];
        const nicIps: string[] = [];
        for (const cfg of configs.get(nic.id) ?? []) {
          if (cfg.pips.length === 0) continue;
          const open = openOf(nic, cfg);
          nicPieces.push(...open);
          nicIps.push(...addressesOf(cfg.pips));
          for (const pip of cfg.pips) this.exposure.set(pip.id, exposureOf(addressesOf([pip]), true, open));
        }
        const nicPublic = (configs.get(nic.id) ?? []).some((cfg) => cfg.pips.length > 0);
        this.exposure.set(nic.id, exposureOf(nicIps, nicPublic, nicPieces));
        vmPieces.push(...nicPieces);
        vmIps.push(...nicIps);
        vmPublic ||= nicPublic;
      }
      const exposure = exposureOf(vmIps, vmPublic, vmPieces);
      this.exposure.set(vm.id, exposure);
      if (exposure.internetExposed)
        this.addEdge(INTERNET_NODE_ID, vm.id, "ALLOWS_TRAFFIC", stripSources(exposure), rulesOf(vmPieces));
    }

    // VM to VM inside a VNet, and across a peering: what the destination's NSGs let in from the source's
    // private address (the VirtualNetwork tag covers the VNet and the VNets it is peered with).
    const members = new Map<string, AzureMember[]>();
    for (const vm of vms) {
      const byVnet = new Map<string, Array<{ nic: Res; cfg: IpConfig }>>();
      for (const nic of vmNics.get(vm.id) ?? [])
        for (const cfg of configs.get(nic.id) ?? []) {
          const vnetKey = cfg.subnetKey ? parentOf(cfg.subnetKey, "subnets") : undefined;
          if (!vnetKey) continue;
          byVnet.set(vnetKey, [...(byVnet.get(vnetKey) ?? []), { nic, cfg }]);
        }
      for (const [vnetKey, cfgs] of byVnet)
        members.set(vnetKey, [...(members.get(vnetKey) ?? []), { vm, cfgs }]);
    }
    const vmToVm = (sources: readonly AzureMember[], destinations: readonly AzureMember[]) => {
      if (sources.length > VM_TO_VM_EDGE_CAP || destinations.length > VM_TO_VM_EDGE_CAP) return;
      for (const source of sources) {
        const ip = source.cfgs
          .map(({ cfg }) => (cfg.privateIp ? parseCidr(cfg.privateIp) : undefined))
          .find(Boolean);
        const q: SourceQuery = { tag: "virtualnetwork", range: ip, inVnet: true, groups: new Set() };
        for (const destination of destinations) {
          if (destination.vm === source.vm) continue;
          const passed = destination.cfgs.map(({ nic, cfg }) =>
            this.intersection(
              this.allowed(this.azureRuleSet(cfg.subnetKey ? subnetNsg.get(cfg.subnetKey) : undefined), q),
              this.allowed(this.azureRuleSet(nicNsg.get(nic.id)), q),
            ),
          );
          const { ports, rules } = this.trafficOf(passed.length === 1 ? passed[0] : passed.flat());
          if (ports.length > 0) this.addEdge(source.vm.id, destination.vm.id, "ALLOWS_TRAFFIC", ports, rules);
        }
      }
    };
    for (const group of members.values()) vmToVm(group, group);
    const { peerings, external } = this.azurePeerings(vnets);
    for (const { from, remoteId } of external) this.peerExternal(from, remoteId);
    for (const { from, to, access } of peerings) {
      this.addEdge(from.id, to.id, "PEERED_WITH");
      if (access)
        vmToVm(
          members.get(from.externalId.toLowerCase()) ?? [],
          members.get(to.externalId.toLowerCase()) ?? [],
        );
    }
  }

  /**
   * The Connected peerings of the VNets, one per direction: each VNet's own peering records
   * (`virtualNetworkPeerings`, `remoteVirtualNetwork` an inventoried VNet), `access` its
   * `allowVirtualNetworkAccess` (default true). A Connected peering whose remote VNet lists none back (its
   * records not inventoried) counts for the way back too, with access: Connected means both sides exist.
   * `external`: the Connected peerings whose remote VNet is not in the input at all, with its ARM id.
   */
  private azurePeerings(vnets: readonly Res[]): {
    peerings: Array<{ from: Res; to: Res; access: boolean }>;
    external: Array<{ from: Res; remoteId: string }>;
  } {
    const out = new Map<string, { from: Res; to: Res; access: boolean }>();
    const external: Array<{ from: Res; remoteId: string }> = [];
    const listed = new Set<string>();
    for (const vnet of vnets)
      for (const record of arr(vnet.props.virtualNetworkPeerings)) {
        if (!isRecord(record)) continue;
        const p = isRecord(record.properties) ? record.properties : record;
        const connected = (str(p.peeringState) ?? "Connected").toLowerCase() === "connected";
        const remote = this.arm(p.remoteVirtualNetwork, ResourceKind.VIRTUAL_NETWORK);
        const remoteId = refId(p.remoteVirtualNetwork);
        if (!remote && remoteId && connected && remoteId.toLowerCase() !== vnet.externalId.toLowerCase())
          external.push({ from: vnet, remoteId });
        if (!remote || remote === vnet) continue;
        listed.add(`${vnet.id}\u0000${remote.id}`);
        if (!connected) continue;
        out.set(`${vnet.id}\u0000${remote.id}`, {
          from: vnet,
          to: remote,
          access: p.allowVirtualNetworkAccess !== false,
        });
      }
    for (const { from, to } of [...out.values()]) {
      const back = `${to.id}\u0000${from.id}`;
      if (!listed.has(back) && !out.has(back)) out.set(back, { from: to, to: from, access: true });
    }
    return { peerings: [...out.values()], external };
  }

  /** Segments a source may reach through a rule set (undefined set = unfiltered), cached by what matters. */
  /**
   * {@link intersectAllowed}, kept by the identities of its arguments: `allowed` answers the same array for the
   * same rules and source, so the pairs of a network mostly meet the same few intersections.
   */
  private intersection(
    a: readonly Segment[] | undefined,
    b: readonly Segment[] | undefined,
  ): readonly Segment[] {
    const first = a ?? NO_FILTER;
    const second = b ?? NO_FILTER;
    let row = this.intersections.get(first);
    if (!row) this.intersections.set(first, (row = new Map()));
    let both = row.get(second);
    if (!both) row.set(second, (both = intersectAllowed(a, b)));
    return both;
  }

  /**
   * An ALLOWS_TRAFFIC edge's ports and rules for some allowed segments, kept per array: the edges of pairs that
   * meet the same kept segments share them (edges are read, never changed).
   */
  private trafficOf(segments: readonly Segment[]): { ports: PortRange[]; rules: string[] } {
    let found = this.traffic.get(segments);
    if (!found) {
      found = { ports: toPortRanges(segments), rules: rulesOf(segments) };
      this.traffic.set(segments, found);
    }
    return found;
  }

  private allowed(set: RuleSet | undefined, q: SourceQuery): readonly Segment[] | undefined {
    if (!set) return undefined;
    let bySet = this.allowedBySource.get(q);
    if (!bySet) this.allowedBySource.set(q, (bySet = new Map()));
    const known = bySet.get(set);
    if (known) return known;
    const segments = this.allowedFor(set, q);
    bySet.set(set, segments);
    return segments;
  }

  /** {@link allowedSegments} of a rule set for a source, kept by what of the source the rules can tell apart. */
  private allowedFor(set: RuleSet, q: SourceQuery): readonly Segment[] {
    const signature = [
      ...set.cidrs.map((cidr) => (q.range && isSubset(q.range, cidr) ? "1" : "0")),
      ...set.groups.map((group) => (q.groups.has(group) ? "1" : "0")),
    ].join("");
    const key = [set.key, q.inVnet ? "vnet" : "", q.tag ?? "", signature, q.range ? "ip" : ""].join("\u0000");
    let segments = this.allowedCache.get(key);
    if (!segments) {
      segments = allowedSegments(set.rules, q);
      this.allowedCache.set(key, segments);
    }
    return segments;
  }

  // --- AWS ---

  private buildAws(): void {
    const subnets = this.of("aws", ResourceKind.SUBNET);
    const instances = this.of("aws", ResourceKind.VIRTUAL_MACHINE);
    const eips = this.of("aws", ResourceKind.PUBLIC_IP);

    for (const subnet of subnets) {
      const vpc = this.aws(subnet.props.VpcId, ResourceKind.VIRTUAL_NETWORK);
      if (vpc) this.addEdge(vpc.id, subnet.id, "CONTAINS");
    }
    const eipsOf = new Map<string, Res[]>();
    for (const eip of eips) {
      const instance = this.aws(eip.props.InstanceId, ResourceKind.VIRTUAL_MACHINE);
      if (!instance) continue;
      eipsOf.set(instance.id, [...(eipsOf.get(instance.id) ?? []), eip]);
      this.addEdge(eip.id, instance.id, "ASSOCIATED_WITH");
    }

    const groupsOf = new Map<string, Res[]>();
    const vpcKeyOf = new Map<string, string>();
    const memberOf = new Map<string, ReadonlySet<string>>();
    for (const instance of instances) {
      const p = instance.props;
      const subnet = this.aws(p.SubnetId, ResourceKind.SUBNET);
      const vpcId = str(p.VpcId) ?? (subnet ? str(subnet.props.VpcId) : undefined);
      const vpc = this.aws(vpcId, ResourceKind.VIRTUAL_NETWORK);
      if (subnet) this.addEdge(subnet.id, instance.id, "CONTAINS");
      else if (vpc) this.addEdge(vpc.id, instance.id, "CONTAINS");
      if (vpcId) vpcKeyOf.set(instance.id, vpcId.toLowerCase());
      const refs = [
        ...arr(p.SecurityGroups).map((g) => (isRecord(g) ? g.GroupId : g)),
        ...arr(p.SecurityGroupIds),
      ];
      const groups = [
        ...new Set(refs.flatMap((ref) => this.aws(ref, ResourceKind.NETWORK_SECURITY_GROUP) ?? [])),
      ];
      groupsOf.set(instance.id, groups);
      memberOf.set(instance.id, new Set(refs.flatMap((ref) => str(ref)?.toLowerCase() ?? [])));
      for (const group of groups) this.addEdge(instance.id, group.id, "PROTECTED_BY");

      const publicIps = [
        ...new Set([
          str(p.PublicIpAddress),
          ...(eipsOf.get(instance.id) ?? []).map((e) => str(e.props.PublicIp)),
        ]),
      ].flatMap((ip) => ip ?? []);
      const hasPublicIp = publicIps.length > 0 || (eipsOf.get(instance.id) ?? []).length > 0;
      const openPorts = hasPublicIp && groups.length > 0 ? normalisePorts(this.awsInternet(groups)) : [];
      const exposure: Exposure = { internetExposed: openPorts.length > 0, publicIps, openPorts };
      this.exposure.set(instance.id, exposure);
      for (const eip of eipsOf.get(instance.id) ?? []) {
        const address = str(eip.props.PublicIp);
        this.exposure.set(eip.id, { ...exposure, publicIps: address ? [address] : [] });
      }
      if (exposure.internetExposed)
        this.addEdge(
          INTERNET_NODE_ID,
          instance.id,
          "ALLOWS_TRAFFIC",
          stripSources(exposure),
          rulesOf(this.awsInternet(groups)),
        );
    }

    // Instance to instance inside a VPC, and across an active peering: the destination's security groups,
    // for the source's address and security groups.
    const members = new Map<string, Res[]>();
    for (const instance of instances) {
      const key = vpcKeyOf.get(instance.id);
      if (key) members.set(key, [...(members.get(key) ?? []), instance]);
    }
    const instanceToInstance = (sources: readonly Res[], destinations: readonly Res[]) => {
      if (sources.length > VM_TO_VM_EDGE_CAP || destinations.length > VM_TO_VM_EDGE_CAP) return;
      for (const source of sources) {
        const ip = str(source.props.PrivateIpAddress);
        const q: SourceQuery = {
          tag: undefined,
          range: ip ? parseCidr(ip) : undefined,
          inVnet: true,
          groups: memberOf.get(source.id) ?? new Set(),
        };
        for (const destination of destinations) {
          if (destination === source) continue;
          const groups = groupsOf.get(destination.id) ?? [];
          if (groups.length === 0) continue;
          const { ports, rules } = this.trafficOf(this.allowed(this.combinedAwsRuleSet(groups), q) ?? []);
          if (ports.length > 0) this.addEdge(source.id, destination.id, "ALLOWS_TRAFFIC", ports, rules);
        }
      }
    };
    for (const group of members.values()) instanceToInstance(group, group);
    const { pairs, external } = this.awsPeerings();
    for (const { local, remoteId } of external) this.peerExternal(local, remoteId);
    for (const [a, b] of pairs) {
      this.addEdge(a.id, b.id, "PEERED_WITH");
      this.addEdge(b.id, a.id, "PEERED_WITH");
      const inA = members.get((str(a.props.VpcId) ?? arnTail(a.externalId)).toLowerCase()) ?? [];
      const inB = members.get((str(b.props.VpcId) ?? arnTail(b.externalId)).toLowerCase()) ?? [];
      instanceToInstance(inA, inB);
      instanceToInstance(inB, inA);
    }
  }

  /**
   * The inventoried VPC pairs of the active VPC peering connections: CloudFormation's `VpcId` / `PeerVpcId`
   * or the EC2 API's `RequesterVpcInfo.VpcId` / `AccepterVpcInfo.VpcId`; `Status.Code` (when given) must be
   * `active` (pending-acceptance, rejected, deleted… connect nothing). `external`: the active ones with one
   * side inventoried and the other not, with that other side's VPC id.
   */
  private awsPeerings(): {
    pairs: Array<[Res, Res]>;
    external: Array<{ local: Res; remoteId: string }>;
  } {
    const out: Array<[Res, Res]> = [];
    const external: Array<{ local: Res; remoteId: string }> = [];
    for (const res of this.resources) {
      if (res.provider !== "aws" || !PEERING_TYPES.has(res.typeKey)) continue;
      const p = res.props;
      const status = isRecord(p.Status) ? str(p.Status.Code) : str(p.Status);
      if (status !== undefined && status.toLowerCase() !== "active") continue;
      const side = (info: unknown) => (isRecord(info) ? info.VpcId : undefined);
      const aId = str(p.VpcId ?? side(p.RequesterVpcInfo));
      const bId = str(p.PeerVpcId ?? side(p.AccepterVpcInfo));
      const a = this.aws(aId, ResourceKind.VIRTUAL_NETWORK);
      const b = this.aws(bId, ResourceKind.VIRTUAL_NETWORK);
      if (a && b && a !== b) out.push([a, b]);
      else if (a && !b && bId) external.push({ local: a, remoteId: bId });
      else if (b && !a && aId) external.push({ local: b, remoteId: aId });
    }
    return { pairs: out, external };
  }

  private awsRuleSet(group: Res): RuleSet {
    let set = this.nsgRules.get(group.id);
    if (!set) {
      set = ruleSet(group.id, compileSecurityGroup(group.props, group.name));
      this.nsgRules.set(group.id, set);
    }
    return set;
  }

  private awsInternet(groups: readonly Res[]): readonly OpenSegment[] {
    const set = this.combinedAwsRuleSet(groups);
    let open = this.nsgInternet.get(set.key);
    if (!open) {
      open = internetOpenSegments(set.rules);
      this.nsgInternet.set(set.key, open);
    }
    return open;
  }

  private combinedAwsRuleSet(groups: readonly Res[]): RuleSet {
    if (groups.length === 1) return this.awsRuleSet(groups[0]);
    const key = groups
      .map((g) => g.id)
      .sort()
      .join("\u0001");
    let set = this.nsgRules.get(key);
    if (!set) {
      set = ruleSet(
        key,
        groups.flatMap((g) => this.awsRuleSet(g).rules),
      );
      this.nsgRules.set(key, set);
    }
    return set;
  }
}

function stripSources(exposure: Exposure): PortRange[] {
  return exposure.openPorts.map(({ protocol, fromPort, toPort }) => ({ protocol, fromPort, toPort }));
}

/**
 * The network map and internet exposure of an inventory (Azure and AWS; other providers' network resources
 * become unconnected nodes). Azure: a VM is exposed when one of its NICs has a public IP and some port is let
 * in from the internet by both the subnet's NSG and the NIC's NSG (a missing NSG filters nothing). AWS: an
 * instance is exposed when it has a public IP (or an elastic IP) and one of its security groups lets some
 * internet range in. ARM references match `externalId` case-insensitively; AWS references (GroupId,
 * SubnetId, VpcId, InstanceId) match those properties or the id at the end of the ARN. Dangling references
 * are ignored; malformed resources stay unconnected; never throws. VM-to-VM edges join VMs of the same
 * VNet/VPC, or of two directly peered ones, when the destination lets the source's private address in on
 * some port, and are skipped where a VNet/VPC has more than {@link VM_TO_VM_EDGE_CAP} VMs. Linear in resources and rules apart from those
 * edges.
 */
export function buildNetworkTopology(resources: readonly NetworkResource[]): NetworkTopology {
  return new TopologyBuilder(resources).build();
}

/** Edges that connect networks or carry traffic (the others place a resource in its infrastructure). */
const LINK_KINDS: ReadonlySet<EdgeKind> = new Set<EdgeKind>(["PEERED_WITH", "ALLOWS_TRAFFIC"]);

/**
 * The network map as one account sees it, from the map of all the tenant's accounts: the account's nodes and
 * edges, the internet, and its neighbours elsewhere — every node one edge from its own: the networks its
 * VNets/VPCs peer with (another account's, or external), the VMs/instances of other accounts that exchange
 * traffic with its own, whatever of another account its own resources are placed in, contain, are attached to or
 * protected by (a subnet of a shared VPC), another account's public IP associated with its own or resource behind
 * its own NSG/security group — and the subnets, NICs and VNets/VPCs that place each shown node of another
 * account in its network. Edges between
 * shown nodes, except peerings and traffic that involve none of the account's nodes (other accounts' own
 * business; the internet's traffic to a shown VM stays). Empty when the account has no node.
 */
export function accountView(
  topology: Pick<NetworkTopology, "nodes" | "edges">,
  accountId: string,
): { nodes: NetworkNode[]; edges: NetworkEdge[] } {
  return viewAround(
    topology,
    new Set(topology.nodes.filter((n) => n.accountId === accountId).map((n) => n.id)),
  );
}

/**
 * The network map around some of its nodes (`own`: an account's, or what lies in one network), as
 * {@link accountView} describes it for an account's: the own nodes, the internet, every node one edge from them
 * and what places each shown node in its network; the edges between shown nodes but peerings and traffic that
 * involve no own node (the internet's traffic to a shown VM stays). Empty when `own` is.
 */
export function viewAround(
  topology: Pick<NetworkTopology, "nodes" | "edges">,
  own: ReadonlySet<string>,
): { nodes: NetworkNode[]; edges: NetworkEdge[] } {
  if (own.size === 0) return { nodes: [], edges: [] };
  const shown = new Set([INTERNET_NODE_ID, ...own]);
  for (const e of topology.edges)
    if (own.has(e.from) || own.has(e.to)) {
      shown.add(e.from);
      shown.add(e.to);
    }
  // Place every shown node in its network: walk CONTAINS / ATTACHED_TO edges up to the VNet/VPC.
  const parents = new Map<string, string[]>();
  for (const e of topology.edges)
    if (e.kind === "CONTAINS" || e.kind === "ATTACHED_TO")
      parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
  const queue = [...shown];
  while (queue.length > 0) {
    for (const parent of parents.get(queue.pop()!) ?? [])
      if (!shown.has(parent)) {
        shown.add(parent);
        queue.push(parent);
      }
  }
  return {
    nodes: topology.nodes.filter((n) => shown.has(n.id)),
    edges: topology.edges.filter(
      (e) =>
        shown.has(e.from) &&
        shown.has(e.to) &&
        (!LINK_KINDS.has(e.kind) || own.has(e.from) || own.has(e.to) || e.from === INTERNET_NODE_ID),
    ),
  };
}

/**
 * What the resources of some accounts (the asked ones) need from the rest of the tenant's inventory, so that a
 * topology built over them plus the resources of the accounts these keys lead to (one hop) gives their nodes,
 * edges, exposure and ALLOWS_TRAFFIC neighbours exactly as the topology of the whole tenant does. All keys are
 * lower-cased, as the builder matches them.
 *
 * Why one hop suffices. The builder links resources only through the references listed here, and peering is
 * not transitive (no edge joins two networks that do not peer directly), so the result for a resource depends
 * on (1) what it references, (2) what references it, (3) for a VM-to-VM edge across a peering, the far
 * side's VM as a node and a destination: its VNet/VPC (members are keyed by network, so the peered network's
 * VMs are found through it, and `VM_TO_VM_EDGE_CAP` counts them), the subnets and NICs that place the VM in it
 * (private address, members), the NSGs/security groups that admit the traffic (and its own exposure: its
 * `internetExposed` flag, its internet edge), and its public IPs, and (4) the same for the VMs of other
 * accounts in its own VPC or in a VPC it uses (a VPC shared through AWS RAM: the participants' instances name
 * the owner's subnet and VPC, and nothing of the owner names them). Case (3) is the far side's own placement,
 * which it holds in the account that owns the peered network; case (4) is found by the reverse of the
 * reference (`networks` and `subnets`: the accounts whose AWS subnets or instances name one of those VPCs or
 * subnets), and the rest of such an instance's placement (its security groups, elastic IPs) is its own
 * account's: loading every network resource of those accounts covers both. The far side's other peerings add
 * nothing for the asked accounts: an edge from the internet or between two other networks never involves them,
 * and whether the far side admits a source does not depend on who else peers with it.
 *
 * - `armIds`: Azure references (ARM ids) that do not resolve among the resources themselves: a subnet's and
 *   NIC's NSG, a subnet's VNet (parent id), a VNet's embedded subnets and their NSGs, its peerings' remote VNets,
 *   a NIC's subnets (and their VNets), public IPs and VM, an NSG's subnets and NICs, a public IP's NIC (parent
 *   id of its IP configuration), a VM's NICs.
 * - `awsIds`: AWS references (VPC, subnet, security-group, instance ids) that do not resolve among them: a
 *   subnet's VPC, an elastic IP's instance, an instance's subnet, VPC and security groups, the groups a security
 *   group's rules reference by id (`UserIdGroupPairs`), and both VPCs of a VPC peering connection.
 * - `networks`: the networks a peering record elsewhere may point at: the resources' own VNets (ARM ids) and
 *   VPCs (VPC ids and ARN tails), and the VNets/VPCs they name (a peering's remote, the VNet/VPC of a subnet
 *   they use — another account's, for the VMs of a shared VPC). A peering may be recorded only on the far side
 *   (an AWS connection in the requester's account, an Azure VNet listing the peering its remote VNet does not
 *   list back), so the accounts holding such records are neighbours too, with the owners of the VPCs an AWS
 *   connection names. Likewise the accounts whose AWS subnets or instances name one of these VPCs (`VpcId`).
 * - `subnets`: the AWS subnets (ids and ARN tails) the resources own or their instances name (`SubnetId`): the
 *   accounts whose instances name one of them, or another subnet of a VPC one of them is in (an instance may name
 *   only its subnet), are neighbours, and the VPCs of these subnets count as `networks` above (an instance naming
 *   only another account's subnet is in that subnet's VPC, and in its peerings). So do the VPCs peered with
 *   `networks` by a connection recorded elsewhere: their participants' instances reach the asked ones too.
 *
 * - `targets`: the other references into the asked resources, those the builder resolves from the referencing
 *   side: another account's elastic IP naming an asked instance, its instance naming an asked security group from
 *   outside the asked networks, its Azure NSG listing an asked subnet or NIC, its public IP naming an asked NIC's
 *   IP configuration, its NIC naming an asked VM. Such an edge touches the asked resources (and the public IP
 *   exposes them), and nothing of theirs names the referencing account.
 *
 * One hop on (a third account). Those neighbours' resources that the asked accounts' view shows
 * ({@link accountView}: everything one edge from their own, and the subnets, NICs and networks placing it) carry
 * a state of their own that the view shows too: a VM's `internetExposed` and internet edge, the ports of its
 * traffic with an asked VM. That state may depend on a third account — an instance of B behind A's group, placed
 * in C's subnet, behind D's group too, exposed through E's elastic IP. With `shown: true` this function gives
 * what to follow for such resources: their forward references (placement, filters, public IPs) and, as
 * `targets`, their VMs/instances and NICs (what names them from the other side). NetworkService follows these
 * round by round until the view shows nothing new, so every node and edge of the view is the tenant topology's;
 * what does not touch the view — the third account's peerings, its own VMs' traffic — is never followed.
 * Azure needs no placement lookup: a NIC can only join a VNet of its own subscription, so another subscription's
 * VM is never placed in the asked accounts' subnets.
 */
export interface NetworkLinks {
  armIds: string[];
  awsIds: string[];
  networks: string[];
  subnets: string[];
  /**
   * What another account's resource may name the resources by from its own side, the references the topology
   * resolves from the referencing side (an AWS elastic IP's `InstanceId`, an instance's security groups, an Azure
   * NSG's `subnets` / `networkInterfaces`, a public IP's `ipConfiguration`, a NIC's `virtualMachine`): AWS
   * instances and security groups by id and ARN tail, Azure VMs, NICs and subnets (their own, a VNet's embedded
   * ones, the ones a NIC names) by ARM id. For resources shown from another account, only their VMs/instances and
   * NICs.
   */
  targets: string[];
}

/** How {@link networkLinks} reads the resources. */
export interface NetworkLinkOptions {
  /**
   * The resources are other accounts' resources that an asked account's map shows (see {@link accountView}):
   * follow only what places, filters and exposes them — a VM's NICs, a NIC's subnet, VNet, NSG and public IPs, an
   * instance's subnet, VPC and security groups, a subnet's VNet/VPC and NSG, a VNet's embedded subnets and their
   * NSGs, a public IP's NIC or instance — not their peerings, the subnets and NICs an NSG lists, the groups a
   * security group's rules name (matched by id, never resolved) nor where other resources place themselves:
   * those only make edges between other accounts' resources. `networks` and `subnets` are empty, `targets` their
   * VMs/instances and NICs.
   */
  shown?: boolean;
  /** More resources already at hand: references to these resolve too (not links). */
  among?: readonly NetworkResource[];
}

export function networkLinks(
  resources: readonly NetworkResource[],
  options: NetworkLinkOptions = {},
): NetworkLinks {
  const shown = options.shown === true;
  const armIds = new Set<string>();
  const awsIds = new Set<string>();
  const networks = new Set<string>();
  const subnets = new Set<string>();
  const targets = new Set<string>();
  /** What the resources themselves are known by: references to these resolve among them. */
  const own = new Set<string>();
  const arm = (ref: unknown, network = false) => {
    const id = refId(ref)?.toLowerCase();
    if (!id) return;
    armIds.add(id);
    if (network && !shown) networks.add(id);
  };
  const aws = (ref: unknown, network = false) => {
    const id = str(ref)?.toLowerCase();
    if (!id) return;
    awsIds.add(id);
    if (network && !shown) networks.add(id);
  };
  const parent = (ref: unknown, segment: string) => {
    const id = refId(ref)?.toLowerCase();
    return id ? parentOf(id, segment) : undefined;
  };
  /** An Azure subnet another account's NSG may list (asked resources only). */
  const subnetTarget = (ref: unknown) => {
    const id = refId(ref)?.toLowerCase();
    if (id && !shown) targets.add(id);
  };
  const props = (value: unknown): Json => (isRecord(value) ? value : {});
  for (const raw of options.among ?? []) for (const id of knownIds(raw)) own.add(id);
  for (const raw of Array.isArray(resources) ? resources : []) {
    if (!isRecord(raw)) continue;
    const type = (str(raw.type) ?? "").toLowerCase();
    const externalId = (str(raw.externalId) ?? "").toLowerCase();
    const kind = resourceKindOf(str(raw.type) ?? "");
    const p = props(raw.properties);
    for (const id of knownIds(raw)) own.add(id);
    if (type.startsWith("microsoft.")) {
      const machine = kind === ResourceKind.VIRTUAL_MACHINE || kind === ResourceKind.NETWORK_INTERFACE;
      if (externalId && (machine || (kind === ResourceKind.SUBNET && !shown))) targets.add(externalId);
      if (kind === ResourceKind.VIRTUAL_NETWORK) {
        if (externalId && !shown) networks.add(externalId);
        for (const embedded of arr(p.subnets)) {
          if (!isRecord(embedded)) continue;
          arm(embedded.id);
          subnetTarget(embedded.id);
          arm(props(isRecord(embedded.properties) ? embedded.properties : embedded).networkSecurityGroup);
        }
        if (!shown)
          for (const record of arr(p.virtualNetworkPeerings)) {
            if (!isRecord(record)) continue;
            arm((isRecord(record.properties) ? record.properties : record).remoteVirtualNetwork, true);
          }
      } else if (kind === ResourceKind.SUBNET) {
        arm(p.networkSecurityGroup);
        arm(parent(externalId, "subnets"), true);
      } else if (kind === ResourceKind.NETWORK_INTERFACE) {
        arm(p.networkSecurityGroup);
        arm(p.virtualMachine);
        for (const cfg of arr(p.ipConfigurations)) {
          if (!isRecord(cfg)) continue;
          const c = isRecord(cfg.properties) ? cfg.properties : cfg;
          arm(c.publicIPAddress);
          arm(c.subnet);
          subnetTarget(c.subnet);
          arm(parent(c.subnet, "subnets"), true);
        }
      } else if (kind === ResourceKind.NETWORK_SECURITY_GROUP) {
        if (!shown) for (const ref of [...arr(p.subnets), ...arr(p.networkInterfaces)]) arm(ref);
      } else if (kind === ResourceKind.PUBLIC_IP) {
        arm(parent(p.ipConfiguration, "ipconfigurations"));
      } else if (kind === ResourceKind.VIRTUAL_MACHINE) {
        for (const ref of arr(props(p.networkProfile).networkInterfaces)) arm(ref);
      }
    } else if (type.startsWith("aws::")) {
      const field = AWS_ID_FIELDS.get(kind);
      for (const id of [field ? str(p[field]) : undefined, externalId ? arnTail(externalId) : undefined])
        if (id) {
          if (
            kind === ResourceKind.VIRTUAL_MACHINE ||
            (kind === ResourceKind.NETWORK_SECURITY_GROUP && !shown)
          )
            targets.add(id.toLowerCase());
          if (shown) continue;
          if (kind === ResourceKind.VIRTUAL_NETWORK) networks.add(id.toLowerCase());
          if (kind === ResourceKind.SUBNET) subnets.add(id.toLowerCase());
        }
      const side = (info: unknown) => (isRecord(info) ? info.VpcId : undefined);
      if (kind === ResourceKind.SUBNET) aws(p.VpcId, true);
      else if (kind === ResourceKind.PUBLIC_IP) aws(p.InstanceId);
      else if (kind === ResourceKind.VIRTUAL_MACHINE) {
        aws(p.SubnetId);
        const subnet = str(p.SubnetId)?.toLowerCase();
        if (subnet && !shown) subnets.add(subnet);
        aws(p.VpcId, true);
        for (const g of arr(p.SecurityGroups)) aws(isRecord(g) ? g.GroupId : g);
        for (const g of arr(p.SecurityGroupIds)) aws(g);
      } else if (kind === ResourceKind.NETWORK_SECURITY_GROUP) {
        if (!shown)
          for (const perm of arr(p.IpPermissions))
            for (const pair of arr(isRecord(perm) ? perm.UserIdGroupPairs : undefined))
              aws(isRecord(pair) ? pair.GroupId : undefined);
      } else if (PEERING_TYPES.has(type) && !shown)
        for (const ref of [p.VpcId, side(p.RequesterVpcInfo), p.PeerVpcId, side(p.AccepterVpcInfo)])
          aws(ref, true);
    }
  }
  const outside = (ids: Set<string>) => [...ids].filter((id) => !own.has(id));
  return {
    armIds: outside(armIds),
    awsIds: outside(awsIds),
    networks: [...networks],
    subnets: [...subnets],
    targets: [...targets],
  };
}

/** The lower-cased ids a resource is known by: an Azure resource's ARM id, an AWS one's id property and ARN tail. */
function knownIds(raw: unknown): string[] {
  if (!isRecord(raw)) return [];
  const type = (str(raw.type) ?? "").toLowerCase();
  const externalId = (str(raw.externalId) ?? "").toLowerCase();
  if (type.startsWith("microsoft.")) return externalId ? [externalId] : [];
  if (!type.startsWith("aws::")) return [];
  const field = AWS_ID_FIELDS.get(resourceKindOf(str(raw.type) ?? ""));
  const p = isRecord(raw.properties) ? raw.properties : {};
  return [field ? str(p[field]) : undefined, externalId ? arnTail(externalId) : undefined].flatMap(
    (id) => id?.toLowerCase() ?? [],
  );
}
