/**
 * In-memory index of threat-intelligence indicators for matching event observables.
 *
 * Matching costs O(observables of the event), independent of the number of indicators:
 * - exact values (IPs, URLs, hashes, e-mails) are hash-map lookups;
 * - IPv4/IPv6 CIDRs live in one map per prefix length; an event IP is looked up once per prefix length that
 *   actually occurs among the indicators (at most 33 lookups for IPv4, 129 for IPv6);
 * - a domain is looked up with each of its parent domains (`a.evil.example`, `evil.example`, `example`), so an
 *   indicator for `evil.example` matches its subdomains;
 * - compound (AND) groups are counted per event with epoch-stamped typed arrays: no per-event allocation
 *   besides the results.
 *
 * Pure: no I/O. Not re-entrant (scratch state is per instance), which is fine for synchronous use.
 */
import {
  type Observable,
  formatIpv6,
  hashAlgorithmOf,
  hashAlgorithmOfDigest,
  ipv4OfMapped,
  maskIpv4,
  maskIpv6,
  normalizeDomain,
  normalizeEmail,
  normalizeIpv4,
  normalizeIpv6,
  normalizeUrl,
  normalizeUrlAndHost,
  observableKey,
  parseIpv4,
  parseIpv6,
} from "./stix";

export interface IndexedIndicator {
  id: string;
  groups: Observable[][];
  confidence: number | null;
  validFrom: Date;
  validUntil: Date | null;
  revoked: boolean;
}

/** Normalised observables of one event (see `observablesOf`). */
export interface EventObservables {
  ips: string[];
  domains: string[];
  urls: string[];
  hashes: string[];
  emails: string[];
}

export interface IndicatorMatch {
  indicatorId: string;
  /** The indicator's observables the event matched (the union over its matching groups). */
  matched: Observable[];
}

/** Most values of one kind taken from one event (bounds the work per event). */
export const MAX_EVENT_VALUES_PER_KIND = 64;

// ----------------------------------------------------------------------------------------------------------------
// Event observables
// ----------------------------------------------------------------------------------------------------------------

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

function push(list: string[], value: string | null): void {
  if (value !== null && list.length < MAX_EVENT_VALUES_PER_KIND && !list.includes(value)) list.push(value);
}

/**
 * Canonical form of an event IP: IPv4 dotted quad, IPv6 RFC 5952 (brackets and zone id removed), IPv4-mapped
 * IPv6 as IPv4. Null when it is not an IP address.
 */
export function normalizeEventIp(text: string): string | null {
  if (parseIpv4(text) >= 0) return text;
  let value = text.trim();
  if (value.startsWith("[") && value.endsWith("]")) value = value.slice(1, -1);
  const zone = value.indexOf("%");
  if (zone !== -1) value = value.slice(0, zone);
  if (value.includes("/")) return null;
  if (parseIpv4(value) >= 0) return value;
  const v6 = normalizeIpv6(value);
  if (!v6) return null;
  return ipv4OfMapped(v6) ?? v6;
}

function addUrl(out: EventObservables, value: unknown): void {
  // A string, or an OCSF url object ({ url_string, hostname, … }).
  if (typeof value === "string") {
    const parts = normalizeUrlAndHost(value);
    if (!parts) return;
    push(out.urls, parts.url);
    addHost(out, parts.host);
  } else if (isRecord(value)) {
    if (typeof value.url_string === "string") addUrl(out, value.url_string);
    if (typeof value.hostname === "string") addHost(out, value.hostname);
  }
}

function addHost(out: EventObservables, host: string | null): void {
  if (host === null) return;
  const ip = normalizeEventIp(host);
  if (ip) push(out.ips, ip);
  else push(out.domains, normalizeDomain(host));
}

function addDomains(out: EventObservables, value: unknown): void {
  if (typeof value === "string") push(out.domains, normalizeDomain(value));
  else if (Array.isArray(value))
    for (const v of value.slice(0, MAX_EVENT_VALUES_PER_KIND)) addDomains(out, v);
}

function addDigest(out: EventObservables, digest: unknown, algorithm: unknown): void {
  if (typeof digest !== "string") return;
  const value = digest.trim().toLowerCase();
  const implied = hashAlgorithmOfDigest(value);
  if (!implied) return;
  if (typeof algorithm === "string") {
    const named = hashAlgorithmOf(algorithm);
    if (named === null || named !== implied) return; // another algorithm (SSDEEP, TLSH…) or a mislabelled digest
  }
  push(out.hashes, value);
}

/** Hashes as OCSF fingerprints ([{ algorithm, value }]), a `{ "SHA-256": "…" }` object, or bare digests. */
function addHashes(out: EventObservables, value: unknown): void {
  if (typeof value === "string") {
    addDigest(out, value, undefined);
  } else if (Array.isArray(value)) {
    for (const item of value.slice(0, MAX_EVENT_VALUES_PER_KIND)) {
      if (isRecord(item)) addDigest(out, item.value, item.algorithm);
      else addDigest(out, item, undefined);
    }
  } else if (isRecord(value)) {
    for (const [algorithm, digest] of Object.entries(value).slice(0, MAX_EVENT_VALUES_PER_KIND)) {
      addDigest(out, digest, algorithm);
    }
  }
}

/** E-mail addresses as a string, a list, or an OCSF email object (from, to, cc, reply_to, smtp_from, smtp_to). */
function addEmails(out: EventObservables, value: unknown): void {
  if (typeof value === "string") {
    push(out.emails, normalizeEmail(value));
  } else if (Array.isArray(value)) {
    for (const v of value.slice(0, MAX_EVENT_VALUES_PER_KIND)) addEmails(out, v);
  } else if (isRecord(value)) {
    for (const field of ["from", "to", "cc", "reply_to", "smtp_from", "smtp_to"]) {
      const v = value[field];
      if (typeof v === "string" || Array.isArray(v)) addEmails(out, v);
    }
  }
}

/**
 * The observables of a normalised event, normalised like indicator values:
 * - ips: `src_ip`, `dst_ip`, and the host of a URL when it is an IP literal;
 * - urls: `attributes.url` and `attributes.http_request.url` (strings or OCSF url objects);
 * - domains: `attributes.domain`, `attributes.query.hostname` (OCSF DNS), and the host of each URL;
 * - hashes: `attributes.file.hashes`, `attributes.process.file.hashes`, `attributes.hashes` (OCSF fingerprint
 *   lists `[{ algorithm, value }]`, `{ "SHA-256": "…" }` objects or bare digests); only MD5/SHA-1/SHA-256/SHA-512;
 * - emails: `actor_user` when it is an e-mail address (UPNs are), and `attributes.email`.
 * Invalid values are ignored; at most 64 values of each kind are taken.
 */
export function observablesOf(event: {
  src_ip: string | null;
  dst_ip: string | null;
  actor_user: string | null;
  attributes: Record<string, unknown>;
}): EventObservables {
  const out: EventObservables = { ips: [], domains: [], urls: [], hashes: [], emails: [] };
  if (typeof event.src_ip === "string") push(out.ips, normalizeEventIp(event.src_ip));
  if (typeof event.dst_ip === "string") push(out.ips, normalizeEventIp(event.dst_ip));
  if (typeof event.actor_user === "string" && event.actor_user.includes("@")) {
    push(out.emails, normalizeEmail(event.actor_user));
  }
  const a = event.attributes;
  if (isRecord(a)) {
    if (a.url !== undefined) addUrl(out, a.url);
    const httpUrl = at(a, "http_request", "url");
    if (httpUrl !== undefined) addUrl(out, httpUrl);
    if (a.domain !== undefined) addDomains(out, a.domain);
    const queried = at(a, "query", "hostname");
    if (queried !== undefined) addDomains(out, queried);
    const fileHashes = at(a, "file", "hashes");
    if (fileHashes !== undefined) addHashes(out, fileHashes);
    const processHashes = at(a, "process", "file", "hashes");
    if (processHashes !== undefined) addHashes(out, processHashes);
    if (a.hashes !== undefined) addHashes(out, a.hashes);
    if (a.email !== undefined) addEmails(out, a.email);
  }
  return out;
}

// ----------------------------------------------------------------------------------------------------------------
// The index
// ----------------------------------------------------------------------------------------------------------------

/** A normalised copy of an indicator observable, or null when it is invalid (its group can never match). */
function normalizeObservable(o: Observable): Observable | null {
  if (!o || typeof o.value !== "string") return null;
  let value: string | null;
  switch (o.type) {
    case "ipv4-addr":
      value = normalizeIpv4(o.value);
      break;
    case "ipv6-addr": {
      value = normalizeIpv6(o.value);
      const mapped = value === null ? null : ipv4OfMapped(value);
      if (mapped !== null) return Object.freeze({ type: "ipv4-addr", value: mapped });
      break;
    }
    case "domain-name":
      value = normalizeDomain(o.value);
      break;
    case "url":
      value = normalizeUrl(o.value);
      break;
    case "email-addr":
      value = normalizeEmail(o.value);
      break;
    case "file-hash": {
      const digest = o.value.trim().toLowerCase();
      value = hashAlgorithmOfDigest(digest) ? digest : null;
      break;
    }
    default:
      return null;
  }
  if (value === null) return null;
  return Object.freeze(
    o.hashAlgorithm ? { type: o.type, value, hashAlgorithm: o.hashAlgorithm } : { type: o.type, value },
  );
}

function post<K>(map: Map<K, number[]>, key: K, slot: number): void {
  const list = map.get(key);
  if (list) list.push(slot);
  else map.set(key, [slot]);
}

export class IndicatorIndex {
  /** Indicators held: revoked ones, ones with an invalid `validFrom` and ones without a matchable group are left out. */
  readonly size: number;

  private readonly now: () => Date;
  private readonly ids: string[] = [];
  private readonly validFrom: Float64Array;
  private readonly validUntil: Float64Array;

  /** Per group: its indicator, its number of observables, its observables. */
  private readonly groupIndicator: Int32Array;
  private readonly groupSize: Int32Array;
  private readonly groupObservables: Observable[][] = [];
  /** Per slot (one observable of one group): its group. */
  private readonly slotGroup: Int32Array;

  private readonly ipExact = new Map<string, number[]>();
  private readonly v4Prefixes = new Map<number, Map<number, number[]>>();
  private readonly v4PrefixLengths: number[];
  private readonly v6Prefixes = new Map<number, Map<string, number[]>>();
  private readonly v6PrefixLengths: number[];
  private readonly domains = new Map<string, number[]>();
  private readonly urls = new Map<string, number[]>();
  private readonly hashes = new Map<string, number[]>();
  private readonly emails = new Map<string, number[]>();

  // Per-match scratch, stamped with the match's epoch so nothing needs clearing between events.
  private epoch = 0;
  private readonly slotEpoch: Uint32Array;
  private readonly groupEpoch: Uint32Array;
  private readonly groupHits: Uint32Array;
  private readonly indicatorEpoch: Uint32Array;
  private readonly indicatorResult: Int32Array;
  private results: IndicatorMatch[] = [];
  private matchTime = 0;

  /**
   * Builds the index. When the same id appears more than once the last one wins. `now` is the clock used when
   * `match` is given an invalid date.
   */
  constructor(indicators: IndexedIndicator[], now: () => Date = () => new Date()) {
    this.now = now;
    const latest = new Map<string, IndexedIndicator>();
    for (const indicator of indicators) latest.set(indicator.id, indicator);

    const validFrom: number[] = [];
    const validUntil: number[] = [];
    const groupIndicator: number[] = [];
    const groupSize: number[] = [];
    const slotGroup: number[] = [];

    for (const indicator of latest.values()) {
      if (indicator.revoked) continue;
      const from = indicator.validFrom instanceof Date ? indicator.validFrom.getTime() : NaN;
      if (Number.isNaN(from)) continue;
      const untilTime = indicator.validUntil instanceof Date ? indicator.validUntil.getTime() : NaN;
      const until = Number.isNaN(untilTime) ? Infinity : untilTime;
      if (until <= from) continue;

      // One frozen object per distinct observable of the indicator, so matched lists can compare by reference.
      const interned = new Map<string, Observable>();
      const groups: Observable[][] = [];
      for (const group of indicator.groups ?? []) {
        const members: Observable[] = [];
        for (const raw of group) {
          const o = normalizeObservable(raw);
          if (o === null) {
            members.length = 0; // an invalid observable: the group can never match
            break;
          }
          const key = observableKey(o);
          const shared = interned.get(key) ?? o;
          interned.set(key, shared);
          if (!members.includes(shared)) members.push(shared);
        }
        if (members.length > 0) groups.push(members);
      }
      if (groups.length === 0) continue;

      const indicatorNo = this.ids.length;
      this.ids.push(indicator.id);
      validFrom.push(from);
      validUntil.push(until);
      for (const group of groups) {
        const groupNo = groupSize.length;
        groupIndicator.push(indicatorNo);
        groupSize.push(group.length);
        this.groupObservables.push(group);
        for (const observable of group) {
          const slot = slotGroup.length;
          slotGroup.push(groupNo);
          this.post(observable, slot);
        }
      }
    }

    this.size = this.ids.length;
    this.validFrom = Float64Array.from(validFrom);
    this.validUntil = Float64Array.from(validUntil);
    this.groupIndicator = Int32Array.from(groupIndicator);
    this.groupSize = Int32Array.from(groupSize);
    this.slotGroup = Int32Array.from(slotGroup);
    this.v4PrefixLengths = [...this.v4Prefixes.keys()].sort((a, b) => b - a);
    this.v6PrefixLengths = [...this.v6Prefixes.keys()].sort((a, b) => b - a);
    this.slotEpoch = new Uint32Array(slotGroup.length);
    this.groupEpoch = new Uint32Array(groupSize.length);
    this.groupHits = new Uint32Array(groupSize.length);
    this.indicatorEpoch = new Uint32Array(this.ids.length);
    this.indicatorResult = new Int32Array(this.ids.length);
  }

  private post(o: Observable, slot: number): void {
    switch (o.type) {
      case "ipv4-addr": {
        const slash = o.value.indexOf("/");
        if (slash === -1) {
          post(this.ipExact, o.value, slot);
        } else {
          const prefix = Number(o.value.slice(slash + 1));
          let byNetwork = this.v4Prefixes.get(prefix);
          if (!byNetwork) this.v4Prefixes.set(prefix, (byNetwork = new Map()));
          post(byNetwork, parseIpv4(o.value.slice(0, slash)), slot);
        }
        return;
      }
      case "ipv6-addr": {
        const slash = o.value.indexOf("/");
        if (slash === -1) {
          post(this.ipExact, o.value, slot);
        } else {
          const prefix = Number(o.value.slice(slash + 1));
          let byNetwork = this.v6Prefixes.get(prefix);
          if (!byNetwork) this.v6Prefixes.set(prefix, (byNetwork = new Map()));
          post(byNetwork, o.value.slice(0, slash), slot);
        }
        return;
      }
      case "domain-name":
        return post(this.domains, o.value, slot);
      case "url":
        return post(this.urls, o.value, slot);
      case "file-hash":
        return post(this.hashes, o.value, slot);
      case "email-addr":
        return post(this.emails, o.value, slot);
    }
  }

  /**
   * Indicators matching the event: active (not revoked, validFrom ≤ event time < validUntil). A group matches
   * when every observable of it is present in the event. Values should be normalised as `observablesOf` does;
   * IPs, domains, e-mails and hashes are re-normalised cheaply, URLs fully.
   */
  match(observables: EventObservables, at: Date): IndicatorMatch[] {
    let time = at instanceof Date ? at.getTime() : NaN;
    if (Number.isNaN(time)) time = this.now().getTime();
    this.matchTime = time;
    this.results = [];
    if (++this.epoch === 0xffffffff) this.resetEpochs();

    const { ips, domains, urls, hashes, emails } = observables;
    if (
      ips &&
      (this.ipExact.size > 0 || this.v4PrefixLengths.length > 0 || this.v6PrefixLengths.length > 0)
    ) {
      for (let i = 0; i < ips.length && i < MAX_EVENT_VALUES_PER_KIND; i++) this.matchIp(ips[i]);
    }
    if (domains && this.domains.size > 0) {
      for (let i = 0; i < domains.length && i < MAX_EVENT_VALUES_PER_KIND; i++) this.matchDomain(domains[i]);
    }
    if (urls && this.urls.size > 0) {
      for (let i = 0; i < urls.length && i < MAX_EVENT_VALUES_PER_KIND; i++) {
        const url = typeof urls[i] === "string" ? normalizeUrl(urls[i]) : null;
        if (url !== null) this.hit(this.urls.get(url));
      }
    }
    if (hashes && this.hashes.size > 0) {
      for (let i = 0; i < hashes.length && i < MAX_EVENT_VALUES_PER_KIND; i++) {
        if (typeof hashes[i] === "string") this.hit(this.hashes.get(hashes[i].toLowerCase()));
      }
    }
    if (emails && this.emails.size > 0) {
      for (let i = 0; i < emails.length && i < MAX_EVENT_VALUES_PER_KIND; i++) {
        if (typeof emails[i] === "string") this.hit(this.emails.get(emails[i].toLowerCase()));
      }
    }
    const results = this.results;
    this.results = [];
    return results;
  }

  private matchIp(text: string): void {
    if (typeof text !== "string") return;
    const v4 = parseIpv4(text);
    if (v4 >= 0) {
      // parseIpv4 only accepts the canonical dotted quad, so the text is the exact key.
      this.hit(this.ipExact.get(text));
      for (const prefix of this.v4PrefixLengths)
        this.hit(this.v4Prefixes.get(prefix)?.get(maskIpv4(v4, prefix)));
      return;
    }
    const canonical = normalizeEventIp(text);
    if (canonical === null) return;
    if (canonical !== text && parseIpv4(canonical) >= 0) return this.matchIp(canonical); // IPv4-mapped
    this.hit(this.ipExact.get(canonical));
    if (this.v6PrefixLengths.length === 0) return;
    const groups = parseIpv6(canonical);
    if (!groups) return;
    for (const prefix of this.v6PrefixLengths) {
      this.hit(this.v6Prefixes.get(prefix)?.get(formatIpv6(maskIpv6(groups, prefix))));
    }
  }

  /** Looks up the domain and each parent domain. */
  private matchDomain(text: string): void {
    if (typeof text !== "string") return;
    let domain = text.toLowerCase();
    if (domain.endsWith(".")) domain = domain.slice(0, -1);
    for (let from = 0; ;) {
      this.hit(this.domains.get(from === 0 ? domain : domain.slice(from)));
      const dot = domain.indexOf(".", from);
      if (dot === -1) return;
      from = dot + 1;
    }
  }

  private hit(slots: number[] | undefined): void {
    if (slots === undefined) return;
    const epoch = this.epoch;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (this.slotEpoch[slot] === epoch) continue; // the same observable matched twice (src and dst…)
      this.slotEpoch[slot] = epoch;
      const group = this.slotGroup[slot];
      if (this.groupEpoch[group] !== epoch) {
        this.groupEpoch[group] = epoch;
        this.groupHits[group] = 0;
      }
      if (++this.groupHits[group] === this.groupSize[group]) this.complete(group);
    }
  }

  private complete(group: number): void {
    const indicator = this.groupIndicator[group];
    const time = this.matchTime;
    if (time < this.validFrom[indicator] || time >= this.validUntil[indicator]) return;
    const observables = this.groupObservables[group];
    if (this.indicatorEpoch[indicator] !== this.epoch) {
      this.indicatorEpoch[indicator] = this.epoch;
      this.indicatorResult[indicator] = this.results.length;
      this.results.push({ indicatorId: this.ids[indicator], matched: observables.slice() });
      return;
    }
    const matched = this.results[this.indicatorResult[indicator]].matched;
    for (const o of observables) if (!matched.includes(o)) matched.push(o);
  }

  private resetEpochs(): void {
    this.slotEpoch.fill(0);
    this.groupEpoch.fill(0);
    this.indicatorEpoch.fill(0);
    this.epoch = 1;
  }
}
