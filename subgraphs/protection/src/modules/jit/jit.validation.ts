/**
 * Pure checks of just-in-time access input: ISO 8601 durations, source addresses and prefixes, and whether a
 * request fits a policy. No database here, so the rules are unit-tested on their own and the service reports
 * every problem of an input at once.
 */
import { BlockList, isIP } from "node:net";
import type { InputProblem } from "../../../../common/src";
import { normalizeIp } from "../../../../common/src/ip";

/** The longest access a policy may allow (Azure's JIT allows up to 24 hours). */
export const MAX_JIT_DURATION_SECONDS = 24 * 3600;
/** Azure's default maximum request duration. */
export const DEFAULT_MAX_DURATION = "PT3H";
/** A request nobody answered within this time can no longer be approved; the expiry job closes it. */
export const PENDING_REQUEST_TTL_SECONDS = 24 * 3600;
/** Ports per policy and per request. */
export const MAX_JIT_PORTS = 50;
/** Source prefixes per port. */
export const MAX_SOURCE_PREFIXES = 50;
/** Length of a justification or comment. */
export const MAX_JUSTIFICATION_LENGTH = 1000;
/** `*` in a port's allowed prefixes: any source address. */
export const ANY_SOURCE = "*";

/** The transport protocols a JIT port can be opened for. */
export enum JitProtocol {
  TCP = "TCP",
  UDP = "UDP",
  ANY = "ANY",
}

/** One port of a stored policy (the `ports` JSON of `jit_policies`). */
export interface JitPortSpec {
  number: number;
  protocol: JitProtocol;
  /** `["*"]`, or canonical addresses and CIDR prefixes. */
  allowedSourcePrefixes: string[];
  /** Canonical ISO 8601 duration (`PT3H`). */
  maxDuration: string;
  maxDurationSeconds: number;
  /**
   * When the port came under the policy (ISO 8601), kept while later versions of the policy keep the port
   * with the same protocol. Traffic before it was not to a locked port. Absent in policies stored before
   * it existed (the policy's creation time stands in).
   */
  lockedSince?: string;
}

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/**
 * Parses an ISO 8601 duration of days, hours, minutes and whole seconds (`PT3H`, `PT90M`, `PT2S`, `P1D`) into
 * seconds. Years, months, weeks and fractions are refused: a JIT grant is at most a day long and whole seconds
 * are the precision its expiry is kept at.
 */
export function parseJitDuration(text: string): { seconds: number } | { error: string } {
  const match = DURATION.exec(text);
  if (!match || text === "P" || text.endsWith("T")) {
    return {
      error: `"${text}" is not an ISO 8601 duration of days, hours, minutes and whole seconds (e.g. PT3H, PT30M, PT2S)`,
    };
  }
  const [days, hours, minutes, seconds] = match.slice(1).map((part) => Number(part ?? 0));
  const total = days * 86400 + hours * 3600 + minutes * 60 + seconds;
  if (!Number.isSafeInteger(total)) return { error: `"${text}" is too long` };
  return { seconds: total };
}

/** Canonical form of a duration in seconds: hours, minutes and seconds (`PT24H`, `PT1H30M`, `PT2S`). */
export function formatJitDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const text = `${h ? `${h}H` : ""}${m ? `${m}M` : ""}${s ? `${s}S` : ""}`;
  return `PT${text || "0S"}`;
}

/** A duration between one second and `maxSeconds`, or the reason it is not. */
export function boundedJitDuration(
  text: string,
  maxSeconds: number,
): { seconds: number } | { error: string } {
  const parsed = parseJitDuration(text);
  if ("error" in parsed) return parsed;
  if (parsed.seconds < 1) return { error: "must be at least one second (PT1S)" };
  if (parsed.seconds > maxSeconds)
    return { error: `${text} is longer than the maximum ${formatJitDuration(maxSeconds)}` };
  return parsed;
}

/** 4 or 6 for an IPv4 or IPv6 address without a zone (`fe80::1%eth0` names an interface, not a source), else 0. */
export function ipFamily(text: string): 0 | 4 | 6 {
  return text.includes("%") ? 0 : (isIP(text) as 0 | 4 | 6);
}

/** The bits of an IPv4 or IPv6 address, or undefined when `text` is not one. */
function addressBits(text: string): { family: 4 | 6; value: bigint } | undefined {
  const family = ipFamily(text);
  if (family === 4) {
    return { family, value: text.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n) };
  }
  if (family !== 6) return undefined;
  let head = text.toLowerCase();
  const groups: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  if (v4) {
    const bits = addressBits(v4[1])!.value;
    head = `${head.slice(0, -v4[1].length)}${(bits >> 16n).toString(16)}:${(bits & 0xffffn).toString(16)}`;
  }
  const [left, right] = head.split("::");
  const parse = (part: string | undefined) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const l = parse(left);
  const r = parse(right);
  groups.push(...l, ...Array<number>(right === undefined ? 0 : 8 - l.length - r.length).fill(0), ...r);
  return { family, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n) };
}

/**
 * Checks one allowed source prefix: `*`, an address (one host) or a CIDR prefix whose host bits are zero
 * (`10.0.0.5/8` is refused with the prefix it probably meant). Returns the canonical text.
 */
export function parseSourcePrefix(text: string): { prefix: string } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === ANY_SOURCE) return { prefix: ANY_SOURCE };
  const [address, length, extra] = trimmed.split("/");
  const bits = addressBits(address);
  if (!bits || extra !== undefined)
    return { error: `"${text}" is not "*", an IP address or a CIDR prefix such as 203.0.113.0/24` };
  if (length === undefined) return { prefix: address.toLowerCase() };
  const width = bits.family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(length) || Number(length) > width)
    return { error: `"${text}": the prefix length must be 0 to ${width}` };
  const hostBits = BigInt(width - Number(length));
  const network = (bits.value >> hostBits) << hostBits;
  if (network !== bits.value) {
    return {
      error: `"${text}" has host bits set; did you mean ${formatBits(network, bits.family)}/${length}?`,
    };
  }
  return { prefix: `${address.toLowerCase()}/${length}` };
}

function formatBits(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
  );
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/**
 * A request's source as it is checked, stored and sent to the agent: a plain address in its canonical form
 * (`normalizeIp`: an IPv4-mapped IPv6 address as the IPv4 one, IPv6 compressed in lower case), so that it meets
 * the IPv4 prefixes and the flows the agent reports; anything else as given, for the checks to refuse.
 */
export function canonicalSource(text: string): string {
  return ipFamily(text) === 0 ? text : (normalizeIp(text) ?? text);
}

/**
 * True when `ip` (a valid address, canonical) lies in one of `prefixes` (canonical, as stored) of its own family:
 * Node's BlockList also matches an IPv4 address against IPv4-mapped IPv6 prefixes, so `::/0` ("any IPv6") would
 * admit every IPv4 source.
 */
export function sourceAllowed(ip: string, prefixes: readonly string[]): boolean {
  if (prefixes.includes(ANY_SOURCE)) return true;
  const family = isIP(ip) === 4 ? "ipv4" : "ipv6";
  const list = new BlockList();
  for (const prefix of prefixes) {
    const [address, length] = prefix.split("/");
    if ((isIP(address) === 4 ? "ipv4" : "ipv6") !== family) continue;
    if (length === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(length), family);
  }
  return list.check(ip, family);
}

/** What `setJitPolicy` receives for one port. */
export interface JitPortDraft {
  number: number;
  protocol: JitProtocol;
  allowedSourcePrefixes: string[];
  maxDuration?: string | null;
}

/** Validates a policy's ports: every problem with its path, or the canonical ports. */
export function validatePolicyPorts(ports: readonly JitPortDraft[]): {
  ports: JitPortSpec[];
  problems: InputProblem[];
} {
  const problems: InputProblem[] = [];
  const out: JitPortSpec[] = [];
  if (ports.length === 0 || ports.length > MAX_JIT_PORTS)
    problems.push({ field: "ports", message: `must list 1 to ${MAX_JIT_PORTS} ports` });
  const seen = new Set<number>();
  ports.forEach((port, i) => {
    const at = (field: string) => `ports[${i}].${field}`;
    if (!Number.isInteger(port.number) || port.number < 1 || port.number > 65535)
      problems.push({ field: at("number"), message: "must be a port number from 1 to 65535" });
    else if (seen.has(port.number))
      problems.push({ field: at("number"), message: `port ${port.number} is listed twice` });
    seen.add(port.number);
    const prefixes: string[] = [];
    if (port.allowedSourcePrefixes.length === 0 || port.allowedSourcePrefixes.length > MAX_SOURCE_PREFIXES) {
      problems.push({
        field: at("allowedSourcePrefixes"),
        message: `must list 1 to ${MAX_SOURCE_PREFIXES} prefixes ("*" for any source)`,
      });
    }
    port.allowedSourcePrefixes.forEach((text, j) => {
      const parsed = parseSourcePrefix(text);
      if ("error" in parsed)
        problems.push({ field: `${at("allowedSourcePrefixes")}[${j}]`, message: parsed.error });
      else if (!prefixes.includes(parsed.prefix)) prefixes.push(parsed.prefix);
    });
    if (prefixes.includes(ANY_SOURCE) && prefixes.length > 1) {
      problems.push({
        field: at("allowedSourcePrefixes"),
        message: '"*" allows any source and cannot be combined with other prefixes',
      });
    }
    const duration = boundedJitDuration(port.maxDuration ?? DEFAULT_MAX_DURATION, MAX_JIT_DURATION_SECONDS);
    if ("error" in duration) problems.push({ field: at("maxDuration"), message: duration.error });
    else
      out.push({
        number: port.number,
        protocol: port.protocol,
        allowedSourcePrefixes: prefixes,
        maxDuration: formatJitDuration(duration.seconds),
        maxDurationSeconds: duration.seconds,
      });
  });
  return { ports: out.sort((a, b) => a.number - b.number), problems };
}

/** What a request asks for. */
export interface JitRequestDraft {
  ports: readonly number[];
  sourceIp: string;
  duration: string;
  /** The source is the caller's own address ("my IP"), not one it typed: problems say so. */
  sourceIsCaller?: boolean;
}

/**
 * Checks a request against a policy: every requested port is in it, the source address is allowed on each
 * and the duration is within each port's maximum. Used when the request is made and again when it is
 * approved (the policy may have changed in between).
 */
export function checkRequestAgainstPolicy(
  draft: JitRequestDraft,
  policyPorts: readonly JitPortSpec[],
): { durationSeconds: number; problems: InputProblem[] } {
  const problems: InputProblem[] = [];
  if (draft.ports.length === 0 || draft.ports.length > MAX_JIT_PORTS)
    problems.push({ field: "ports", message: `must list 1 to ${MAX_JIT_PORTS} ports` });
  if (new Set(draft.ports).size !== draft.ports.length)
    problems.push({ field: "ports", message: "lists a port twice" });
  const family = ipFamily(draft.sourceIp);
  const source = draft.sourceIsCaller
    ? `your address ${draft.sourceIp} (sourceIp omitted: the address the gateway received the request from)`
    : draft.sourceIp;
  if (family === 0)
    problems.push({
      field: "sourceIp",
      message: draft.sourceIsCaller
        ? `${source} is not an IPv4 or IPv6 address`
        : `"${draft.sourceIp}" is not an IPv4 or IPv6 address`,
    });
  let maxSeconds = MAX_JIT_DURATION_SECONDS;
  draft.ports.forEach((number, i) => {
    const port = policyPorts.find((p) => p.number === number);
    if (!port) {
      const allowed = policyPorts.map((p) => p.number).join(", ");
      problems.push({
        field: `ports[${i}]`,
        message: `port ${number} is not in the resource's JIT policy (ports: ${allowed})`,
      });
      return;
    }
    maxSeconds = Math.min(maxSeconds, port.maxDurationSeconds);
    if (family !== 0 && !sourceAllowed(draft.sourceIp, port.allowedSourcePrefixes)) {
      problems.push({
        field: "sourceIp",
        message: `${source} is outside the sources allowed on port ${number} (${port.allowedSourcePrefixes.join(", ")})`,
      });
    }
  });
  const duration = boundedJitDuration(draft.duration, maxSeconds);
  if ("error" in duration) problems.push({ field: "duration", message: duration.error });
  return { durationSeconds: "error" in duration ? 0 : duration.seconds, problems };
}
