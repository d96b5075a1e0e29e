import type { NormalizedEvent } from "../events/event.model";
import {
  IndicatorIndex,
  observablesOf,
  type EventObservables,
  type IndexedIndicator,
} from "./indicator-index";
import { parseStixBundle, parseStixPattern, type Observable } from "./stix";

// ----------------------------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------------------------

const SHA256 = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea";
const MD5 = "d41d8cd98f00b204e9800998ecf8427e";
const NOW = new Date("2024-06-01T12:00:00Z");

/** An indicator from a STIX pattern, valid from 2024-01-01 with no end. */
function indicator(id: string, pattern: string, overrides: Partial<IndexedIndicator> = {}): IndexedIndicator {
  const parsed = parseStixPattern(pattern);
  if ("error" in parsed) throw new Error(parsed.error);
  return {
    id,
    groups: parsed.groups,
    confidence: 80,
    validFrom: new Date("2024-01-01T00:00:00Z"),
    validUntil: null,
    revoked: false,
    ...overrides,
  };
}

function obs(partial: Partial<EventObservables>): EventObservables {
  return { ips: [], domains: [], urls: [], hashes: [], emails: [], ...partial };
}

function event(partial: Partial<NormalizedEvent> = {}): NormalizedEvent {
  return {
    source_event_id: "e-1",
    time: NOW.toISOString(),
    class_uid: 4001,
    activity_id: 1,
    severity_id: 1,
    status: "Success",
    message: null,
    actor_user: null,
    src_ip: null,
    src_port: null,
    dst_ip: null,
    dst_port: null,
    device: null,
    resource_id: null,
    operation: null,
    src_country: null,
    attributes: {},
    raw: {},
    ...partial,
  };
}

const ids = (index: IndicatorIndex, observables: EventObservables, at: Date = NOW) =>
  index
    .match(observables, at)
    .map((m) => m.indicatorId)
    .sort();

// ----------------------------------------------------------------------------------------------------------------
// observablesOf
// ----------------------------------------------------------------------------------------------------------------

describe("observablesOf", () => {
  it.each<[string, Partial<NormalizedEvent>, Partial<EventObservables>]>([
    ["nothing", {}, {}],
    [
      "source and destination IPs",
      { src_ip: "198.51.100.23", dst_ip: "10.0.0.4" },
      { ips: ["198.51.100.23", "10.0.0.4"] },
    ],
    ["the same IP twice once", { src_ip: "10.0.0.4", dst_ip: "10.0.0.4" }, { ips: ["10.0.0.4"] }],
    ["IPv6, canonicalised", { src_ip: "2001:DB8:0:0::1" }, { ips: ["2001:db8::1"] }],
    ["IPv6 with brackets and a zone id", { src_ip: "[fe80::1%eth0]" }, { ips: ["fe80::1"] }],
    ["IPv4-mapped IPv6 as IPv4", { src_ip: "::ffff:198.51.100.23" }, { ips: ["198.51.100.23"] }],
    ["junk IPs ignored", { src_ip: "unknown", dst_ip: "-" }, {}],
    ["a UPN is an e-mail", { actor_user: "Alice@Contoso.com" }, { emails: ["alice@contoso.com"] }],
    ["a user name is not", { actor_user: "CONTOSO\\alice" }, {}],
    ["an ARN is not", { actor_user: "arn:aws:iam::123456789012:user/alice" }, {}],
    [
      "a URL string, its host as a domain",
      { attributes: { url: "HTTPS://Malicious-Updates.Example/dl?x=1" } },
      { urls: ["https://malicious-updates.example/dl?x=1"], domains: ["malicious-updates.example"] },
    ],
    [
      "an OCSF url object",
      { attributes: { url: { url_string: "http://a.example/x", hostname: "a.example", path: "/x" } } },
      { urls: ["http://a.example/x"], domains: ["a.example"] },
    ],
    [
      "an IP-literal URL host as an IP",
      { attributes: { url: "http://198.51.100.23/payload.exe" } },
      { urls: ["http://198.51.100.23/payload.exe"], ips: ["198.51.100.23"] },
    ],
    [
      "http_request.url",
      { attributes: { http_request: { url: { url_string: "http://b.example/" } } } },
      { urls: ["http://b.example/"], domains: ["b.example"] },
    ],
    ["domain", { attributes: { domain: "Evil.Example." } }, { domains: ["evil.example"] }],
    [
      "domain list",
      { attributes: { domain: ["a.example", "b.example", "not a domain"] } },
      { domains: ["a.example", "b.example"] },
    ],
    [
      "DNS query hostname",
      { attributes: { query: { hostname: "c2.evil.example" } } },
      { domains: ["c2.evil.example"] },
    ],
    [
      "OCSF fingerprints on file",
      {
        attributes: {
          file: {
            name: "a.exe",
            hashes: [{ algorithm: "SHA-256", algorithm_id: 3, value: SHA256.toUpperCase() }],
          },
        },
      },
      { hashes: [SHA256] },
    ],
    [
      "process.file.hashes",
      { attributes: { process: { file: { hashes: [{ algorithm: "MD5", value: MD5 }] } } } },
      { hashes: [MD5] },
    ],
    [
      "hashes as an object",
      { attributes: { hashes: { "SHA-256": SHA256, md5: MD5 } } },
      { hashes: [SHA256, MD5] },
    ],
    [
      "mislabelled, unsupported and malformed hashes ignored",
      {
        attributes: {
          hashes: [
            { algorithm: "SHA-1", value: SHA256 },
            { algorithm: "SSDEEP", value: "3:abc:def" },
            { algorithm: "MD5", value: "xyz" },
          ],
        },
      },
      {},
    ],
    [
      "email string",
      { attributes: { email: "Billing@Malicious-Updates.Example" } },
      { emails: ["billing@malicious-updates.example"] },
    ],
    [
      "OCSF email object",
      { attributes: { email: { from: "a@x.example", to: ["b@y.example", "b@y.example"], subject: "hi" } } },
      { emails: ["a@x.example", "b@y.example"] },
    ],
  ])("%s", (_name, partial, expected) => {
    expect(observablesOf(event(partial))).toEqual(obs(expected));
  });

  it("takes at most 64 values of a kind", () => {
    const domains = Array.from({ length: 500 }, (_, i) => `d${i}.example`);
    expect(observablesOf(event({ attributes: { domain: domains } })).domains).toHaveLength(64);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Matching
// ----------------------------------------------------------------------------------------------------------------

describe("IndicatorIndex: matching by type", () => {
  const index = new IndicatorIndex([
    indicator("ip", "[ipv4-addr:value = '198.51.100.23']"),
    indicator("ip6", "[ipv6-addr:value = '2001:db8::66']"),
    indicator("domain", "[domain-name:value = 'malicious-updates.example']"),
    indicator("url", "[url:value = 'http://198.51.100.23/payload.exe']"),
    indicator("sha256", `[file:hashes.'SHA-256' = '${SHA256}']`),
    indicator("md5", `[file:hashes.MD5 = '${MD5}']`),
    indicator("email", "[email-addr:value = 'billing@malicious-updates.example']"),
  ]);

  it.each<[string, Partial<EventObservables>, string[]]>([
    ["IPv4", { ips: ["198.51.100.23"] }, ["ip"]],
    ["IPv6 (non-canonical input)", { ips: ["2001:DB8:0::66"] }, ["ip6"]],
    ["domain", { domains: ["malicious-updates.example"] }, ["domain"]],
    ["domain, upper-case with trailing dot", { domains: ["MALICIOUS-UPDATES.EXAMPLE."] }, ["domain"]],
    ["URL", { urls: ["http://198.51.100.23/payload.exe"] }, ["url"]],
    ["URL, upper-case scheme", { urls: ["HTTP://198.51.100.23/payload.exe"] }, ["url"]],
    ["SHA-256", { hashes: [SHA256] }, ["sha256"]],
    ["SHA-256, upper-case", { hashes: [SHA256.toUpperCase()] }, ["sha256"]],
    ["MD5", { hashes: [MD5] }, ["md5"]],
    ["e-mail", { emails: ["Billing@Malicious-Updates.Example"] }, ["email"]],
    ["several at once", { ips: ["198.51.100.23"], hashes: [MD5], domains: ["x.example"] }, ["ip", "md5"]],
  ])("%s", (_name, observables, expected) => {
    expect(ids(index, obs(observables))).toEqual(expected);
  });

  it("matches an e-mail event's sender against an email-message:from_ref indicator", () => {
    const phishing = new IndicatorIndex([
      indicator("sender", "[email-message:from_ref.value = 'billing@malicious-updates.example']"),
    ]);
    const e = event({
      class_uid: 4009,
      attributes: { email: { from: "Billing@Malicious-Updates.Example", to: ["lee.gu@contoso.example"] } },
    });
    expect(ids(phishing, observablesOf(e))).toEqual(["sender"]);
  });

  it("reports the matched observables", () => {
    expect(index.match(obs({ ips: ["198.51.100.23"] }), NOW)).toEqual([
      { indicatorId: "ip", matched: [{ type: "ipv4-addr", value: "198.51.100.23" }] },
    ]);
  });

  it("matches a whole event through observablesOf", () => {
    const e = event({
      src_ip: "10.1.2.3",
      actor_user: "billing@malicious-updates.example",
      attributes: {
        url: "http://198.51.100.23/payload.exe",
        file: { hashes: [{ algorithm: "MD5", value: MD5 }] },
      },
    });
    expect(ids(index, observablesOf(e))).toEqual(["email", "ip", "md5", "url"]);
  });

  it.each<[string, Partial<EventObservables>]>([
    ["a neighbouring IP", { ips: ["198.51.100.24", "198.51.100.2", "98.51.100.23"] }],
    ["an IPv4 written as IPv6 of another address", { ips: ["::ffff:198.51.100.24"] }],
    [
      "a domain sharing a suffix but not a label",
      { domains: ["notmalicious-updates.example", "updates.example"] },
    ],
    ["the parent of an indicator domain", { domains: ["example"] }],
    [
      "a URL with another path",
      { urls: ["http://198.51.100.23/payload.exe2", "http://198.51.100.23/Payload.exe"] },
    ],
    ["a URL whose query differs", { urls: ["http://198.51.100.23/payload.exe?x"] }],
    ["the hash as an e-mail or a domain", { emails: [SHA256], domains: [SHA256] }],
    ["a hash prefix", { hashes: [SHA256.slice(0, 32)] }],
    ["another e-mail at the same domain", { emails: ["ceo@malicious-updates.example"] }],
    ["the e-mail domain as a domain observable of an IP indicator", { ips: ["malicious-updates.example"] }],
    [
      "junk",
      { ips: ["", "1.2.3", "::::"], domains: [""], urls: ["", "not a url"], hashes: [""], emails: ["@"] },
    ],
  ])("no false positive: %s", (_name, observables) => {
    expect(index.match(obs(observables), NOW)).toEqual([]);
  });
});

describe("IndicatorIndex: CIDR containment", () => {
  const index = new IndicatorIndex([
    indicator("net24", "[ipv4-addr:value = '203.0.113.0/24']"),
    indicator("net16", "[ipv4-addr:value = '203.0.0.0/16']"),
    indicator("net8-via-network-traffic", "[network-traffic:dst_ref.value = '10.0.0.0/8']"),
    indicator("host", "[ipv4-addr:value = '203.0.113.9']"),
    indicator("v6net", "[ipv6-addr:value = '2001:db8:abcd::/48']"),
    indicator("odd-prefix", "[ipv4-addr:value = '192.0.2.128/25']"),
  ]);

  it.each<[string, string, string[]]>([
    ["inside /24 and /16", "203.0.113.200", ["net16", "net24"]],
    ["the exact host too", "203.0.113.9", ["host", "net16", "net24"]],
    ["only /16", "203.0.200.1", ["net16"]],
    ["network address", "203.0.113.0", ["net16", "net24"]],
    ["broadcast address", "203.0.113.255", ["net16", "net24"]],
    ["outside", "203.1.113.9", []],
    ["/8", "10.200.3.4", ["net8-via-network-traffic"]],
    ["upper half of a /25", "192.0.2.200", ["odd-prefix"]],
    ["lower half of a /25", "192.0.2.100", []],
    ["IPv6 inside the /48", "2001:db8:abcd:12::1", ["v6net"]],
    ["IPv6 outside the /48", "2001:db8:abce::1", []],
    ["IPv4-mapped IPv6 inside a v4 network", "::ffff:203.0.113.5", ["net16", "net24"]],
  ])("%s: %s", (_name, ip, expected) => {
    expect(ids(index, obs({ ips: [ip] }))).toEqual(expected);
  });

  it("a /0 contains everything", () => {
    const all = new IndicatorIndex([indicator("all", "[ipv4-addr:value = '0.0.0.0/0']")]);
    expect(ids(all, obs({ ips: ["255.255.255.255"] }))).toEqual(["all"]);
    expect(ids(all, obs({ ips: ["0.0.0.0"] }))).toEqual(["all"]);
  });
});

describe("IndicatorIndex: parent domains", () => {
  const index = new IndicatorIndex([
    indicator("evil", "[domain-name:value = 'evil.example']"),
    indicator("deep", "[domain-name:value = 'c2.cdn.evil.example']"),
  ]);

  it.each<[string, string[]]>([
    ["evil.example", ["evil"]],
    ["a.evil.example", ["evil"]],
    ["x.y.z.evil.example", ["evil"]],
    ["c2.cdn.evil.example", ["deep", "evil"]],
    ["a.c2.cdn.evil.example", ["deep", "evil"]],
    ["cdn.evil.example", ["evil"]],
    ["evil.example.com", []],
    ["notevil.example", []],
    ["example", []],
  ])("%s", (domain, expected) => {
    expect(ids(index, obs({ domains: [domain] }))).toEqual(expected);
  });

  it("a subdomain hit counts once even when several event domains share the parent", () => {
    expect(index.match(obs({ domains: ["a.evil.example", "b.evil.example"] }), NOW)).toEqual([
      { indicatorId: "evil", matched: [{ type: "domain-name", value: "evil.example" }] },
    ]);
  });

  it("URL hosts reach the domain index through observablesOf", () => {
    const e = event({ attributes: { url: "https://downloads.evil.example/setup.msi" } });
    expect(ids(index, observablesOf(e))).toEqual(["evil"]);
  });
});

describe("IndicatorIndex: compound AND groups", () => {
  const index = new IndicatorIndex([
    indicator(
      "ip-and-domain",
      "[ipv4-addr:value = '198.51.100.23'] AND [domain-name:value = 'malicious-updates.example']",
    ),
    indicator(
      "either-pair",
      `([ipv4-addr:value = '198.51.100.1'] AND [file:hashes.MD5 = '${MD5}']) OR [email-addr:value = 'x@evil.example']`,
    ),
    indicator(
      "cidr-and-hash",
      `[ipv4-addr:value = '203.0.113.0/24' AND file:hashes.'SHA-256' = '${SHA256}']`,
    ),
    indicator(
      "three",
      `[ipv4-addr:value = '198.51.100.1'] AND [file:hashes.MD5 = '${MD5}'] AND [domain-name:value = 'z.example']`,
    ),
  ]);

  it.each<[string, Partial<EventObservables>, string[]]>([
    ["both present", { ips: ["198.51.100.23"], domains: ["malicious-updates.example"] }, ["ip-and-domain"]],
    [
      "subdomain counts for the domain part",
      { ips: ["198.51.100.23"], domains: ["cdn.malicious-updates.example"] },
      ["ip-and-domain"],
    ],
    ["only the IP", { ips: ["198.51.100.23"] }, []],
    ["only the domain", { domains: ["malicious-updates.example"] }, []],
    ["one pair of the OR", { ips: ["198.51.100.1"], hashes: [MD5] }, ["either-pair"]],
    ["the other member of the OR", { emails: ["x@evil.example"] }, ["either-pair"]],
    ["half of the pair", { hashes: [MD5] }, []],
    ["CIDR plus hash", { ips: ["203.0.113.50"], hashes: [SHA256] }, ["cidr-and-hash"]],
    ["hash with an IP outside the CIDR", { ips: ["203.0.114.50"], hashes: [SHA256] }, []],
    ["all three", { ips: ["198.51.100.1"], hashes: [MD5], domains: ["z.example"] }, ["either-pair", "three"]],
    [
      "the same IP twice does not fill a two-observable group",
      { ips: ["198.51.100.23", "198.51.100.23"] },
      [],
    ],
  ])("%s", (_name, observables, expected) => {
    expect(ids(index, obs(observables))).toEqual(expected);
  });

  it("returns each indicator once with the union of its matched groups", () => {
    const both = new IndicatorIndex([
      indicator("multi", "[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']"),
    ]);
    expect(both.match(obs({ domains: ["a.example", "b.example"] }), NOW)).toEqual([
      {
        indicatorId: "multi",
        matched: [
          { type: "domain-name", value: "a.example" },
          { type: "domain-name", value: "b.example" },
        ],
      },
    ]);
  });

  it("state does not leak between events", () => {
    expect(ids(index, obs({ ips: ["198.51.100.23"] }))).toEqual([]);
    expect(ids(index, obs({ domains: ["malicious-updates.example"] }))).toEqual([]);
  });
});

describe("IndicatorIndex: validity window and revocation", () => {
  const window = {
    validFrom: new Date("2024-03-01T00:00:00Z"),
    validUntil: new Date("2024-04-01T00:00:00Z"),
  };
  const index = new IndicatorIndex([
    indicator("windowed", "[ipv4-addr:value = '198.51.100.23']", window),
    indicator("open-ended", "[ipv4-addr:value = '198.51.100.23']", { validFrom: window.validFrom }),
    indicator("revoked", "[ipv4-addr:value = '198.51.100.23']", { revoked: true }),
  ]);
  const hit = obs({ ips: ["198.51.100.23"] });

  it.each<[string, string, string[]]>([
    ["before validFrom", "2024-02-29T23:59:59.999Z", []],
    ["at validFrom (inclusive)", "2024-03-01T00:00:00Z", ["open-ended", "windowed"]],
    ["inside", "2024-03-15T00:00:00Z", ["open-ended", "windowed"]],
    ["just before validUntil", "2024-03-31T23:59:59.999Z", ["open-ended", "windowed"]],
    ["at validUntil (exclusive)", "2024-04-01T00:00:00Z", ["open-ended"]],
    ["long after", "2030-01-01T00:00:00Z", ["open-ended"]],
  ])("%s", (_name, at, expected) => {
    expect(ids(index, hit, new Date(at))).toEqual(expected);
  });

  it("never matches a revoked indicator and does not hold it", () => {
    expect(index.size).toBe(2);
  });

  it("uses the clock when the event time is invalid", () => {
    const clocked = new IndicatorIndex(
      [indicator("windowed", "[ipv4-addr:value = '198.51.100.23']", window)],
      () => new Date("2024-03-10T00:00:00Z"),
    );
    expect(ids(clocked, hit, new Date("not a date"))).toEqual(["windowed"]);
  });
});

describe("IndicatorIndex: construction", () => {
  it("the last indicator with an id wins", () => {
    const index = new IndicatorIndex([
      indicator("a", "[ipv4-addr:value = '198.51.100.1']"),
      indicator("a", "[ipv4-addr:value = '198.51.100.2']"),
    ]);
    expect(index.size).toBe(1);
    expect(ids(index, obs({ ips: ["198.51.100.1"] }))).toEqual([]);
    expect(ids(index, obs({ ips: ["198.51.100.2"] }))).toEqual(["a"]);
  });

  it("normalises observables it is given and drops groups it cannot match", () => {
    const raw: Observable[][] = [
      [{ type: "domain-name", value: "Evil.Example." }],
      [{ type: "ipv4-addr", value: "not an ip" }],
      [{ type: "ipv4-addr", value: "203.0.113.77/24" }],
      [{ type: "ipv6-addr", value: "::ffff:192.0.2.1" }],
    ];
    const index = new IndicatorIndex([
      { ...indicator("x", "[ipv4-addr:value = '192.0.2.200']"), groups: raw },
    ]);
    expect(ids(index, obs({ domains: ["a.evil.example"] }))).toEqual(["x"]);
    expect(ids(index, obs({ ips: ["203.0.113.1"] }))).toEqual(["x"]);
    expect(ids(index, obs({ ips: ["192.0.2.1"] }))).toEqual(["x"]);
  });

  it.each<[string, Partial<IndexedIndicator>]>([
    ["no groups (a partial pattern with nothing matchable)", { groups: [] }],
    ["an invalid validFrom", { validFrom: new Date("nope") }],
    ["validUntil not after validFrom", { validUntil: new Date("2024-01-01T00:00:00Z") }],
  ])("leaves out an indicator with %s", (_name, overrides) => {
    const index = new IndicatorIndex([indicator("x", "[ipv4-addr:value = '198.51.100.1']", overrides)]);
    expect(index.size).toBe(0);
    expect(index.match(obs({ ips: ["198.51.100.1"] }), NOW)).toEqual([]);
  });

  it("an empty index matches nothing", () => {
    const index = new IndicatorIndex([]);
    expect(index.size).toBe(0);
    expect(index.match(obs({ ips: ["198.51.100.1"], domains: ["a.example"] }), NOW)).toEqual([]);
  });
});

describe("IndicatorIndex: from a STIX bundle", () => {
  it("matches the bundle's indicators against events, honouring revocation and expiry", () => {
    const indicatorId = (n: number) => `indicator--${String(n).padStart(8, "0")}-0000-4000-8000-000000000000`;
    const base = {
      type: "indicator",
      spec_version: "2.1",
      created: "2024-03-01T09:00:00Z",
      modified: "2024-03-01T09:00:00Z",
      pattern_type: "stix",
      valid_from: "2024-03-01T09:00:00Z",
    };
    const { indicators, problems } = parseStixBundle({
      type: "bundle",
      id: "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
      objects: [
        { ...base, id: indicatorId(1), pattern: "[ipv4-addr:value = '198.51.100.23']" },
        { ...base, id: indicatorId(2), pattern: "[domain-name:value = 'malicious-updates.example']" },
        { ...base, id: indicatorId(3), pattern: "[ipv4-addr:value = '203.0.113.0/24']" },
        {
          ...base,
          id: indicatorId(4),
          pattern: "[domain-name:value = 'old-campaign.example']",
          revoked: true,
        },
        {
          ...base,
          id: indicatorId(5),
          pattern: "[ipv4-addr:value = '192.0.2.66']",
          valid_until: "2024-04-01T00:00:00Z",
        },
      ],
    });
    expect(problems).toEqual([]);
    const index = new IndicatorIndex(
      indicators.map((i) => ({
        id: i.stixId,
        groups: i.groups,
        confidence: i.confidence,
        validFrom: new Date(i.validFrom),
        validUntil: i.validUntil ? new Date(i.validUntil) : null,
        revoked: i.revoked,
      })),
    );
    const e = event({
      src_ip: "203.0.113.40",
      dst_ip: "192.0.2.66",
      attributes: { url: "https://cdn.malicious-updates.example/x", domain: "old-campaign.example" },
    });
    expect(ids(index, observablesOf(e))).toEqual([indicatorId(2), indicatorId(3)]);
    expect(ids(index, observablesOf(e), new Date("2024-03-15T00:00:00Z"))).toEqual([
      indicatorId(2),
      indicatorId(3),
      indicatorId(5),
    ]);
  });
});

describe("IndicatorIndex: scale", () => {
  it("builds an index of 100,000 indicators and matches against it", () => {
    const indicators: IndexedIndicator[] = [];
    for (let i = 0; i < 100_000; i++) {
      const octets = `${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const observable: Observable =
        i % 4 === 0
          ? { type: "ipv4-addr", value: `10.${octets}` }
          : i % 4 === 1
            ? { type: "domain-name", value: `host${i}.evil.example` }
            : i % 4 === 2
              ? { type: "file-hash", value: i.toString(16).padStart(64, "0"), hashAlgorithm: "SHA-256" }
              : { type: "ipv4-addr", value: `${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24` };
      indicators.push({
        id: `ind-${i}`,
        groups: [[observable]],
        confidence: 50,
        validFrom: new Date("2024-01-01T00:00:00Z"),
        validUntil: null,
        revoked: false,
      });
    }
    const index = new IndicatorIndex(indicators);
    expect(index.size).toBe(100_000);

    expect(ids(index, obs({ ips: ["10.0.0.0"] }))).toEqual(["ind-0"]);
    expect(ids(index, obs({ domains: ["www.host99997.evil.example"] }))).toEqual(["ind-99997"]);
    expect(ids(index, obs({ hashes: [(99_998).toString(16).padStart(64, "0")] }))).toEqual(["ind-99998"]);
    expect(ids(index, obs({ ips: [`17.${(99_999 >> 8) & 255}.${99_999 & 255}.77`] }))).toEqual(["ind-99999"]);
    expect(ids(index, obs({ ips: ["192.168.1.1"], domains: ["evil.example"] }))).toEqual([]);

    // Many events in a row (no timing assertion): results stay correct.
    let matches = 0;
    for (let i = 0; i < 20_000; i++) {
      matches += index.match(obs({ ips: [`10.0.${(i >> 8) & 255}.${i & 255}`, "192.168.0.1"] }), NOW).length;
    }
    expect(matches).toBe(5_000); // every 4th id is an exact IPv4 indicator
  });
});
