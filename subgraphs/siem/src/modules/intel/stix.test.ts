import {
  MAX_PATTERN_GROUPS,
  normalizeUrl,
  parseStixBundle,
  parseStixPattern,
  type Observable,
  type ParsedIndicator,
} from "./stix";

// ----------------------------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------------------------

const SHA256 = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea";
const SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const MD5 = "d41d8cd98f00b204e9800998ecf8427e";
const SHA512 =
  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

const ip4 = (value: string): Observable => ({ type: "ipv4-addr", value });
const ip6 = (value: string): Observable => ({ type: "ipv6-addr", value });
const domain = (value: string): Observable => ({ type: "domain-name", value });
const url = (value: string): Observable => ({ type: "url", value });
const email = (value: string): Observable => ({ type: "email-addr", value });
const hash = (hashAlgorithm: Observable["hashAlgorithm"], value: string): Observable => ({
  type: "file-hash",
  value,
  hashAlgorithm,
});

function parsed(pattern: string): { groups: Observable[][]; partial: boolean } {
  const result = parseStixPattern(pattern);
  if ("error" in result) throw new Error(`unexpected error for ${pattern}: ${result.error}`);
  return result;
}

function errorOf(pattern: string): string {
  const result = parseStixPattern(pattern);
  if (!("error" in result))
    throw new Error(`expected an error for ${pattern}, got ${JSON.stringify(result)}`);
  return result.error;
}

// ----------------------------------------------------------------------------------------------------------------
// Patterns
// ----------------------------------------------------------------------------------------------------------------

describe("parseStixPattern: single observables", () => {
  it.each<[string, Observable]>([
    ["[ipv4-addr:value = '198.51.100.23']", ip4("198.51.100.23")],
    ["[ipv4-addr:value = '203.0.113.0/24']", ip4("203.0.113.0/24")],
    ["[ipv4-addr:value = '203.0.113.77/24']", ip4("203.0.113.0/24")], // host bits cleared
    ["[ipv4-addr:value = '198.51.100.23/32']", ip4("198.51.100.23")], // /32 is the address
    ["[ipv6-addr:value = '2001:DB8:0:0:0:0:0:1']", ip6("2001:db8::1")],
    ["[ipv6-addr:value = '2001:db8:0:0:1:0:0:1']", ip6("2001:db8::1:0:0:1")], // first longest zero run
    ["[ipv6-addr:value = '2001:db8:abcd::/48']", ip6("2001:db8:abcd::/48")],
    ["[ipv6-addr:value = '::ffff:198.51.100.23']", ip4("198.51.100.23")], // IPv4-mapped → IPv4
    ["[domain-name:value = 'Malicious-Updates.Example']", domain("malicious-updates.example")],
    ["[domain-name:value = 'evil.example.']", domain("evil.example")],
    ["[domain-name:value = 'bücher.example']", domain("xn--bcher-kva.example")],
    ["[url:value = 'http://198.51.100.23/payload.exe']", url("http://198.51.100.23/payload.exe")],
    ["[url:value = '  HTTPS://Evil.Example:8443/A/B?Q=1  ']", url("https://evil.example:8443/A/B?Q=1")],
    ["[url:value = 'http://evil.example']", url("http://evil.example/")],
    ["[email-addr:value = 'Phish@Malicious-Updates.Example']", email("phish@malicious-updates.example")],
    ["[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']", hash("MD5", MD5)],
    [`[file:hashes.'SHA-1' = '${SHA1}']`, hash("SHA-1", SHA1)],
    [`[file:hashes.'SHA-256' = '${SHA256}']`, hash("SHA-256", SHA256)],
    [`[file:hashes.SHA256 = '${SHA256}']`, hash("SHA-256", SHA256)],
    [`[file:hashes.'sha-256' = '${SHA256}']`, hash("SHA-256", SHA256)],
    [`[file:hashes.'SHA-512' = '${SHA512}']`, hash("SHA-512", SHA512)],
    [`[file:hashes.sha512 = '${SHA512}']`, hash("SHA-512", SHA512)],
    ["[network-traffic:dst_ref.value = '198.51.100.23']", ip4("198.51.100.23")],
    ["[network-traffic:src_ref.value = '2001:db8::7']", ip6("2001:db8::7")],
    // E-mail senders and recipients as feeds (MISP email-src / email-dst) write them.
    [
      "[email-message:from_ref.value = 'Phish@Malicious-Updates.Example']",
      email("phish@malicious-updates.example"),
    ],
    [
      "[email-message:sender_ref.value = 'phish@malicious-updates.example']",
      email("phish@malicious-updates.example"),
    ],
    [
      "[email-message:to_refs[*].value = 'drop@malicious-updates.example']",
      email("drop@malicious-updates.example"),
    ],
    [
      "[email-message:cc_refs[0].value = 'drop@malicious-updates.example']",
      email("drop@malicious-updates.example"),
    ],
    ["  [ ipv4-addr:value='198.51.100.23' ]  ", ip4("198.51.100.23")], // whitespace is free
  ])("%s", (pattern, observable) => {
    expect(parseStixPattern(pattern)).toEqual({ groups: [[observable]], partial: false });
  });
});

describe("parseStixPattern: IN lists, AND/OR and DNF expansion", () => {
  it.each<[string, string, Observable[][]]>([
    [
      "IN list gives one group per value",
      "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2', '203.0.113.0/24')]",
      [[ip4("198.51.100.1")], [ip4("198.51.100.2")], [ip4("203.0.113.0/24")]],
    ],
    [
      "IN list duplicates collapse",
      "[domain-name:value IN ('a.example', 'A.example')]",
      [[domain("a.example")]],
    ],
    [
      "OR inside brackets",
      "[domain-name:value = 'a.example' OR url:value = 'http://b.example/x']",
      [[domain("a.example")], [url("http://b.example/x")]],
    ],
    [
      "AND inside brackets",
      "[ipv4-addr:value = '198.51.100.1' AND domain-name:value = 'a.example']",
      [[ip4("198.51.100.1"), domain("a.example")]],
    ],
    [
      "AND binds tighter than OR inside brackets",
      "[domain-name:value = 'a.example' OR domain-name:value = 'b.example' AND ipv4-addr:value = '198.51.100.1']",
      [[domain("a.example")], [domain("b.example"), ip4("198.51.100.1")]],
    ],
    [
      "AND between observations",
      "[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'a.example']",
      [[ip4("198.51.100.1"), domain("a.example")]],
    ],
    [
      "OR between observations",
      "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'a.example']",
      [[ip4("198.51.100.1")], [domain("a.example")]],
    ],
    [
      "AND binds tighter than OR between observations",
      "[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example'] AND [email-addr:value = 'x@c.example']",
      [[domain("a.example")], [domain("b.example"), email("x@c.example")]],
    ],
    [
      "parentheses inside brackets distribute",
      "[(domain-name:value = 'a.example' OR domain-name:value = 'b.example') AND ipv4-addr:value = '198.51.100.1']",
      [
        [domain("a.example"), ip4("198.51.100.1")],
        [domain("b.example"), ip4("198.51.100.1")],
      ],
    ],
    [
      "parentheses between observations distribute",
      "([ipv4-addr:value = '198.51.100.1'] OR [ipv4-addr:value = '198.51.100.2']) AND ([domain-name:value = 'a.example'] OR [domain-name:value = 'b.example'])",
      [
        [ip4("198.51.100.1"), domain("a.example")],
        [ip4("198.51.100.1"), domain("b.example")],
        [ip4("198.51.100.2"), domain("a.example")],
        [ip4("198.51.100.2"), domain("b.example")],
      ],
    ],
    [
      "IN list under AND",
      "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2') AND url:value = 'http://a.example/x']",
      [
        [ip4("198.51.100.1"), url("http://a.example/x")],
        [ip4("198.51.100.2"), url("http://a.example/x")],
      ],
    ],
    ["nested parentheses", "((([domain-name:value = 'a.example'])))", [[domain("a.example")]]],
    [
      "absorption: a OR (a AND b) is a",
      "[domain-name:value = 'a.example'] OR ([domain-name:value = 'a.example'] AND [ipv4-addr:value = '198.51.100.1'])",
      [[domain("a.example")]],
    ],
    [
      "the same observable twice in a group counts once",
      "[domain-name:value = 'a.example' AND domain-name:value = 'A.EXAMPLE']",
      [[domain("a.example")]],
    ],
    [
      "hash OR across algorithms",
      `[file:hashes.MD5 = '${MD5}' OR file:hashes.'SHA-1' = '${SHA1}' OR file:hashes.'SHA-256' = '${SHA256}']`,
      [[hash("MD5", MD5)], [hash("SHA-1", SHA1)], [hash("SHA-256", SHA256)]],
    ],
    ["empty IN list matches nothing", "[ipv4-addr:value IN ()]", []],
    [
      "lower-case keywords are accepted",
      "[ipv4-addr:value in ('198.51.100.1') or domain-name:value = 'a.example']",
      [[ip4("198.51.100.1")], [domain("a.example")]],
    ],
  ])("%s", (_name, pattern, groups) => {
    expect(parseStixPattern(pattern)).toEqual({ groups, partial: false });
  });
});

describe("parseStixPattern: string escapes", () => {
  it.each<[string, Observable]>([
    ["[email-addr:value = 'o\\'brien@example.com']", email("o'brien@example.com")],
    ["[url:value = 'http://a.example/it\\'s']", url("http://a.example/it's")],
    ["[url:value = 'http://a.example/back\\\\slash']", url("http://a.example/back\\slash")],
  ])("%s", (pattern, observable) => {
    expect(parsed(pattern).groups).toEqual([[observable]]);
  });

  it("keeps escaped quotes and brackets inside strings out of the grammar", () => {
    const result = parsed(
      "[url:value = 'http://a.example/?q=\\']OR[x' AND file:name = 'a] AND (b)' AND domain-name:value = 'a.example']",
    );
    expect(result).toEqual({
      groups: [[url("http://a.example/?q=']OR[x"), domain("a.example")]],
      partial: true,
    });
  });
});

describe("parseStixPattern: unsupported parts → partial", () => {
  it.each<[string, string, Observable[][]]>([
    ["another object type alone", "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Run']", []],
    ["process", "[process:name = 'mimikatz.exe']", []],
    ["another property of a supported object", "[file:name = 'payload.exe']", []],
    ["unsupported hash algorithm", "[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']", []],
    [
      "unsupported conjunct is dropped, the rest is kept",
      "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:name = 'payload.exe']",
      [[hash("MD5", MD5)]],
    ],
    [
      "unsupported disjunct is dropped",
      "[ipv4-addr:value = '198.51.100.1' OR windows-registry-key:key = 'HKLM\\\\x']",
      [[ip4("198.51.100.1")]],
    ],
    ["!=", "[ipv4-addr:value != '198.51.100.1']", []],
    ["<> is !=", "[ipv4-addr:value <> '198.51.100.1']", []],
    ["LIKE", "[domain-name:value LIKE '%.evil.example']", []],
    ["MATCHES", "[url:value MATCHES '^https?://evil']", []],
    ["NOT =", "[ipv4-addr:value NOT = '198.51.100.1']", []],
    ["NOT IN", "[ipv4-addr:value NOT IN ('198.51.100.1')]", []],
    ["> on a number", "[file:size > 1024]", []],
    ["<= on a timestamp", "[file:created <= t'2024-01-01T00:00:00Z']", []],
    ["ISSUPERSET", "[ipv4-addr:value ISSUPERSET '198.51.100.1']", []],
    ["EXISTS", "[EXISTS file:hashes.MD5]", []],
    ["list index in the path", "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]", []],
    ["hex literal", "[artifact:payload_bin = h'4d5a']", []],
    ["binary literal", "[artifact:payload_bin = b'TVo=']", []],
    [
      "WITHIN qualifier dropped, observation kept",
      "[ipv4-addr:value = '198.51.100.1'] WITHIN 300 SECONDS",
      [[ip4("198.51.100.1")]],
    ],
    ["REPEATS qualifier", "[domain-name:value = 'a.example'] REPEATS 5 TIMES", [[domain("a.example")]]],
    [
      "START/STOP qualifier",
      "[domain-name:value = 'a.example'] START t'2024-01-01T00:00:00Z' STOP t'2024-02-01T00:00:00.5Z'",
      [[domain("a.example")]],
    ],
    [
      "FOLLOWEDBY: ordering dropped, both sides needed",
      "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'a.example']",
      [[ip4("198.51.100.1"), domain("a.example")]],
    ],
    [
      "qualifier on a parenthesised group",
      "([ipv4-addr:value = '198.51.100.1'] OR [ipv4-addr:value = '198.51.100.2']) WITHIN 60 SECONDS",
      [[ip4("198.51.100.1")], [ip4("198.51.100.2")]],
    ],
  ])("%s", (_name, pattern, groups) => {
    expect(parseStixPattern(pattern)).toEqual({ groups, partial: true });
  });

  it("ISSUBSET on an IP is CIDR containment (supported)", () => {
    expect(parseStixPattern("[ipv4-addr:value ISSUBSET '198.51.100.0/24']")).toEqual({
      groups: [[ip4("198.51.100.0/24")]],
      partial: false,
    });
  });

  it("does not validate values it will not match", () => {
    expect(parsed("[file:name = 'not an ip'] AND [x-custom-object:value = 42]")).toEqual({
      groups: [],
      partial: true,
    });
  });
});

describe("parseStixPattern: syntax errors carry the position", () => {
  it.each<[string, RegExp]>([
    ["", /^empty pattern$/],
    ["ipv4-addr:value = '198.51.100.1'", /expected '\[' or '\(' but found 'ipv4-addr:value' at position 0$/],
    ["[ipv4-addr:value = '198.51.100.1'", /expected '\]' .* but found end of pattern at position 33$/],
    ["[ipv4-addr:value = '198.51.100.1]", /unterminated string at position 19$/],
    [
      "[ipv4-addr:value '198.51.100.1']",
      /expected a comparison operator after 'ipv4-addr:value' but found '198.51.100.1' at position 17$/,
    ],
    ["[ipv4-addr:value = ]", /expected a value after '=' but found '\]' at position 19$/],
    ["[ipv4-addr:value = '198.51.100.1' AND]", /expected an object path .* but found '\]' at position 37$/],
    [
      "[ipv4-addr:value = '198.51.100.1'] AND",
      /expected '\[' or '\(' but found end of pattern at position 38$/,
    ],
    [
      "[ipv4-addr:value = '198.51.100.1'] [domain-name:value = 'a.example']",
      /unexpected '\[' after the end of the pattern at position 35$/,
    ],
    ["[ipv4-addr:value = 'a\\nb']", /invalid escape '\\n' in string at position 21$/],
    [
      "[ipv4-addr:value = '198.51.100.1' & domain-name:value = 'a.example']",
      /unexpected character '&' at position 34$/,
    ],
    ["[ipv4-addr = '198.51.100.1']", /unexpected word 'ipv4-addr' .* at position 1$/],
    [
      "[ipv4-addr:value IN '198.51.100.1']",
      /expected '\(' to open the IN list but found '198.51.100.1' at position 20$/,
    ],
    [
      "[ipv4-addr:value IN ('198.51.100.1' '198.51.100.2')]",
      /expected ',' or '\)' in the IN list .* at position 36$/,
    ],
    ["([ipv4-addr:value = '198.51.100.1']", /expected '\)' .* at position 35$/],
    [
      "[(ipv4-addr:value = '198.51.100.1']",
      /expected '\)' to close the parenthesised comparison but found '\]' at position 34$/,
    ],
    ["[ipv4-addr:value = '198.51.100.1'] WITHIN SECONDS", /expected a number of seconds .* at position 42$/],
    [
      "[ipv4-addr:value = '198.51.100.1'] WITHIN 0 SECONDS",
      /WITHIN needs a positive number of seconds at position 42$/,
    ],
    [
      "[domain-name:value = 'a.example'] START t'2024-02-01T00:00:00Z' STOP t'2024-01-01T00:00:00Z'",
      /STOP must be later than START at position 69$/,
    ],
    ["[file:created = t'2024-13-01T00:00:00Z']", /invalid timestamp '2024-13-01T00:00:00Z' at position 16$/],
    ["[ipv4-addr:value NOT > '1']", /NOT cannot be combined with '>' at position 21$/],
    ["[file:hashes. = 'x']", /expected a property name at position 13$/],
  ])("%j", (pattern, message) => {
    expect(errorOf(pattern)).toMatch(message);
  });

  it("rejects patterns nested too deeply", () => {
    const deep = `${"(".repeat(200)}[domain-name:value = 'a.example']${")".repeat(200)}`;
    expect(errorOf(deep)).toMatch(/nested too deeply at position \d+$/);
  });
});

describe("parseStixPattern: complexity cap", () => {
  const values = (n: number, f: (i: number) => string) =>
    Array.from({ length: n }, (_, i) => `'${f(i)}'`).join(", ");

  it(`accepts exactly ${MAX_PATTERN_GROUPS} groups`, () => {
    const result = parsed(`[ipv4-addr:value IN (${values(64, (i) => `198.51.100.${i}`)})]`);
    expect(result.groups).toHaveLength(64);
  });

  it.each<[string, string]>([
    ["an IN list of 65 values", `[ipv4-addr:value IN (${values(65, (i) => `198.51.100.${i}`)})]`],
    [
      "a cross product of 9 × 8 groups",
      `[ipv4-addr:value IN (${values(9, (i) => `198.51.100.${i}`)}) AND domain-name:value IN (${values(8, (i) => `d${i}.example`)})]`,
    ],
    [
      "four ORs of three ANDed between observations (3^4 = 81)",
      Array.from(
        { length: 4 },
        (_, k) =>
          `([domain-name:value = 'a${k}.example'] OR [domain-name:value = 'b${k}.example'] OR [domain-name:value = 'c${k}.example'])`,
      ).join(" AND "),
    ],
  ])("rejects %s", (_name, pattern) => {
    expect(parseStixPattern(pattern)).toEqual({ error: "pattern too complex" });
  });

  it("exact duplicates do not count towards the cap", () => {
    const result = parsed(`[ipv4-addr:value IN (${values(100, () => "198.51.100.1")})]`);
    expect(result.groups).toEqual([[ip4("198.51.100.1")]]);
  });
});

describe("parseStixPattern: value validation", () => {
  it.each<[string, RegExp]>([
    ["[ipv4-addr:value = '999.1.1.1']", /invalid IPv4 address '999.1.1.1' at position 19/],
    ["[ipv4-addr:value = '198.51.100']", /invalid IPv4 address/],
    ["[ipv4-addr:value = '198.051.100.1']", /invalid IPv4 address/], // leading zero: ambiguous octal
    ["[ipv4-addr:value = '198.51.100.0/33']", /invalid IPv4 address/],
    ["[ipv4-addr:value = '198.51.100.0/']", /invalid IPv4 address/],
    ["[ipv4-addr:value = '2001:db8::1']", /invalid IPv4 address/],
    ["[ipv6-addr:value = '2001:db8:::1']", /invalid IPv6 address/],
    ["[ipv6-addr:value = '2001:db8::1::2']", /invalid IPv6 address/],
    ["[ipv6-addr:value = '2001:db8::/129']", /invalid IPv6 address/],
    ["[ipv6-addr:value = '12345::1']", /invalid IPv6 address/],
    ["[network-traffic:dst_ref.value = 'evil.example']", /invalid IP address/],
    ["[domain-name:value = 'localhost']", /invalid domain name/], // one label would match whole TLDs
    ["[domain-name:value = '-bad.example']", /invalid domain name/],
    ["[domain-name:value = 'a..example']", /invalid domain name/],
    ["[domain-name:value = 'evil example.com']", /invalid domain name/],
    ["[domain-name:value = '198.51.100.1']", /invalid domain name/],
    [`[domain-name:value = '${"a".repeat(64)}.example']`, /invalid domain name/],
    ["[url:value = 'evil.example/payload.exe']", /invalid URL/],
    ["[url:value = 'http://']", /invalid URL/],
    ["[url:value = 'http://evil.example/a b']", /invalid URL/],
    ["[email-addr:value = 'not-an-email']", /invalid e-mail address/],
    ["[email-addr:value = 'a@b']", /invalid e-mail address/],
    ["[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427']", /invalid MD5 hash \(expected 32 hex digits\)/],
    [`[file:hashes.'SHA-256' = '${SHA1}']`, /invalid SHA-256 hash/],
    [`[file:hashes.'SHA-1' = '${"z".repeat(40)}']`, /invalid SHA-1 hash/],
    ["[ipv4-addr:value = 19851001]", /ipv4-addr:value must be compared with a string at position 19/],
    ["[ipv4-addr:value IN ('198.51.100.1', 'nope')]", /invalid IPv4 address 'nope' at position 37/],
  ])("%s", (pattern, message) => {
    expect(errorOf(pattern)).toMatch(message);
  });
});

describe("normalizeUrl", () => {
  it.each<[string, string | null]>([
    ["HTTP://Evil.Example/Path?Q=A#F", "http://evil.example/Path?Q=A#F"],
    ["https://User:Pass@Evil.Example:8443", "https://User:Pass@evil.example:8443/"],
    ["http://evil.example?x=1", "http://evil.example/?x=1"],
    ["http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"],
    ["mailto:a@example.com", null],
    ["//evil.example/x", null],
  ])("%s", (input, expected) => {
    expect(normalizeUrl(input)).toBe(expected);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Bundles
// ----------------------------------------------------------------------------------------------------------------

const BUNDLE_ID = "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d";
const IDENTITY_ID = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff";
const MALWARE_ID = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b";

function indicatorId(n: number): string {
  return `indicator--${String(n).padStart(8, "0")}-0000-4000-8000-000000000000`;
}

function stixIndicator(n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "indicator",
    spec_version: "2.1",
    id: indicatorId(n),
    created_by_ref: IDENTITY_ID,
    created: "2024-03-01T09:00:00.000Z",
    modified: "2024-03-02T09:00:00.000Z",
    name: `Indicator ${n}`,
    indicator_types: ["malicious-activity"],
    pattern_type: "stix",
    pattern: "[ipv4-addr:value = '198.51.100.23']",
    valid_from: "2024-03-01T09:00:00Z",
    ...overrides,
  };
}

function bundle(objects: unknown[]): Record<string, unknown> {
  return { type: "bundle", id: BUNDLE_ID, objects };
}

/** A feed export as a TAXII server would serve it. */
function realisticBundle(): Record<string, unknown> {
  return bundle([
    {
      type: "identity",
      spec_version: "2.1",
      id: IDENTITY_ID,
      created: "2024-01-01T00:00:00.000Z",
      modified: "2024-01-01T00:00:00.000Z",
      name: "Example CERT",
      identity_class: "organization",
    },
    {
      type: "malware",
      spec_version: "2.1",
      id: MALWARE_ID,
      created: "2024-02-01T00:00:00.000Z",
      modified: "2024-02-01T00:00:00.000Z",
      name: "FakeUpdater",
      malware_types: ["dropper"],
      is_family: true,
    },
    stixIndicator(1, {
      name: "FakeUpdater C2",
      description: "Command-and-control server of the FakeUpdater campaign.",
      pattern: "[ipv4-addr:value = '198.51.100.23']",
      confidence: 85,
      labels: ["c2"],
      kill_chain_phases: [{ kill_chain_name: "mitre-attack", phase_name: "command-and-control" }],
      valid_until: "2030-01-01T00:00:00Z",
    }),
    stixIndicator(2, { pattern: "[domain-name:value = 'malicious-updates.example']", confidence: 70 }),
    stixIndicator(3, { pattern: "[url:value = 'http://198.51.100.23/payload.exe']" }),
    stixIndicator(4, { pattern: `[file:hashes.'SHA-256' = '${SHA256.toUpperCase()}']`, indicator_types: [] }),
    stixIndicator(5, { pattern: "[ipv4-addr:value = '203.0.113.0/24']", spec_version: undefined }),
    stixIndicator(6, { pattern: "[email-addr:value = 'billing@malicious-updates.example']" }),
    stixIndicator(7, { pattern: "[domain-name:value = 'old-campaign.example']", revoked: true }),
    stixIndicator(8, {
      pattern: "[ipv4-addr:value = '192.0.2.66']",
      valid_from: "2023-01-01T00:00:00Z",
      valid_until: "2023-06-01T00:00:00Z",
    }),
    {
      type: "relationship",
      spec_version: "2.1",
      id: "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
      created: "2024-03-01T09:00:00.000Z",
      modified: "2024-03-01T09:00:00.000Z",
      relationship_type: "indicates",
      source_ref: indicatorId(1),
      target_ref: MALWARE_ID,
    },
  ]);
}

describe("parseStixBundle: a realistic bundle", () => {
  const result = parseStixBundle(realisticBundle());

  it("keeps every indicator, counts the other objects, reports nothing", () => {
    expect(result.problems).toEqual([]);
    expect(result.skipped).toBe(3);
    expect(result.indicators.map((i) => i.stixId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map(indicatorId));
  });

  it("maps every field of an indicator", () => {
    expect(result.indicators[0]).toEqual<ParsedIndicator>({
      path: "objects[2]",
      stixId: indicatorId(1),
      name: "FakeUpdater C2",
      description: "Command-and-control server of the FakeUpdater campaign.",
      pattern: "[ipv4-addr:value = '198.51.100.23']",
      patternType: "stix",
      validFrom: "2024-03-01T09:00:00Z",
      validUntil: "2030-01-01T00:00:00Z",
      confidence: 85,
      revoked: false,
      labels: ["c2"],
      indicatorTypes: ["malicious-activity"],
      killChainPhases: [{ killChainName: "mitre-attack", phaseName: "command-and-control" }],
      created: "2024-03-01T09:00:00.000Z",
      modified: "2024-03-02T09:00:00.000Z",
      createdByRef: IDENTITY_ID,
      groups: [[ip4("198.51.100.23")]],
      partial: false,
    });
  });

  it.each<[number, Observable]>([
    [1, ip4("198.51.100.23")],
    [2, domain("malicious-updates.example")],
    [3, url("http://198.51.100.23/payload.exe")],
    [4, hash("SHA-256", SHA256)],
    [5, ip4("203.0.113.0/24")],
    [6, email("billing@malicious-updates.example")],
    [7, domain("old-campaign.example")],
    [8, ip4("192.0.2.66")],
  ])("indicator %i observes %j", (n, observable) => {
    expect(result.indicators[n - 1].groups).toEqual([[observable]]);
  });

  it("keeps revoked and expired indicators, with their flags and dates", () => {
    expect(result.indicators[6]).toMatchObject({ revoked: true, validUntil: null });
    expect(result.indicators[7]).toMatchObject({ revoked: false, validUntil: "2023-06-01T00:00:00Z" });
  });

  it("defaults optional fields", () => {
    const minimal = parseStixBundle(
      bundle([
        {
          type: "indicator",
          id: indicatorId(9),
          created: "2024-03-01T09:00:00Z",
          modified: "2024-03-01T09:00:00Z",
          pattern_type: "stix",
          pattern: "[domain-name:value = 'a.example']",
          valid_from: "2024-03-01T09:00:00Z",
        },
      ]),
    );
    expect(minimal.problems).toEqual([]);
    expect(minimal.indicators[0]).toMatchObject({
      name: null,
      description: null,
      validUntil: null,
      confidence: null,
      revoked: false,
      labels: [],
      indicatorTypes: [],
      killChainPhases: [],
      createdByRef: null,
    });
  });
});

describe("parseStixBundle: bundle-level problems", () => {
  it.each<[string, unknown]>([
    ["null", null],
    ["a string", "bundle"],
    ["an array", [stixIndicator(1)]],
    ["an indicator", stixIndicator(1)],
    ["an object without type", { id: BUNDLE_ID, objects: [] }],
  ])("%s is not a bundle", (_name, input) => {
    expect(parseStixBundle(input)).toEqual({
      indicators: [],
      problems: [{ path: "$", message: expect.stringMatching(/not a STIX bundle/) }],
      skipped: 0,
    });
  });

  it.each<[string, unknown]>([
    ["missing", undefined],
    ["another type", "indicator--5d0092c5-5f74-4287-9642-33f4c354e56d"],
    ["not a uuid", "bundle--1234"],
  ])("reports a wrong bundle id (%s) and still reads the objects", (_name, id) => {
    const result = parseStixBundle({ type: "bundle", id, objects: [stixIndicator(1)] });
    expect(result.problems).toEqual([{ path: "id", message: "bundle id must be bundle--<uuid>" }]);
    expect(result.indicators).toHaveLength(1);
  });

  it("reports objects that are not an array", () => {
    expect(parseStixBundle({ type: "bundle", id: BUNDLE_ID, objects: {} }).problems).toEqual([
      { path: "objects", message: "objects must be an array" },
    ]);
  });

  it("accepts a bundle without objects", () => {
    expect(parseStixBundle({ type: "bundle", id: BUNDLE_ID })).toEqual({
      indicators: [],
      problems: [],
      skipped: 0,
    });
  });

  it("caps the number of objects", () => {
    const objects = [1, 2, 3].map((n) => stixIndicator(n));
    expect(parseStixBundle(bundle(objects), { maxObjects: 2 })).toEqual({
      indicators: [],
      problems: [{ path: "objects", message: "too many objects: 3 (at most 2 per bundle)" }],
      skipped: 0,
    });
    expect(parseStixBundle(bundle(objects), { maxObjects: 3 }).indicators).toHaveLength(3);
  });

  it("reports objects that are not STIX objects", () => {
    const result = parseStixBundle(bundle([42, { id: "x" }, { type: "Not A Type" }, stixIndicator(1)]));
    expect(result.problems).toEqual([
      { path: "objects[0]", message: "object must be a JSON object" },
      { path: "objects[1].type", message: "type must be a STIX object type" },
      { path: "objects[2].type", message: "type must be a STIX object type" },
    ]);
    expect(result.indicators).toHaveLength(1);
  });
});

describe("parseStixBundle: invalid indicators are left out with their path, the others kept", () => {
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ["wrong id", { id: "indicator--nope" }, "id", /indicator--<uuid>/],
    [
      "id of another type",
      { id: "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b" },
      "id",
      /indicator--<uuid>/,
    ],
    ["spec_version 2.0", { spec_version: "2.0" }, "spec_version", /"2.1"/],
    ["missing pattern_type", { pattern_type: undefined }, "pattern_type", /required/],
    [
      "sigma pattern_type",
      { pattern_type: "sigma", pattern: "title: x" },
      "pattern_type",
      /unsupported pattern_type "sigma"/,
    ],
    ["yara pattern_type", { pattern_type: "yara" }, "pattern_type", /unsupported pattern_type "yara"/],
    ["missing pattern", { pattern: undefined }, "pattern", /required/],
    ["unparseable pattern", { pattern: "[ipv4-addr:value = '198.51.100.23'" }, "pattern", /at position 34/],
    [
      "invalid value in the pattern",
      { pattern: "[ipv4-addr:value = '198.51.100.300']" },
      "pattern",
      /invalid IPv4/,
    ],
    ["missing valid_from", { valid_from: undefined }, "valid_from", /required/],
    ["valid_from not a timestamp", { valid_from: "yesterday" }, "valid_from", /UTC timestamp/],
    ["valid_from with an offset", { valid_from: "2024-03-01T09:00:00+01:00" }, "valid_from", /UTC timestamp/],
    ["valid_from on February 30th", { valid_from: "2024-02-30T09:00:00Z" }, "valid_from", /UTC timestamp/],
    [
      "valid_until before valid_from",
      { valid_until: "2024-02-01T00:00:00Z" },
      "valid_until",
      /later than valid_from/,
    ],
    ["valid_until equal to valid_from", { valid_until: "2024-03-01T09:00:00.000Z" }, "valid_until", /later/],
    ["confidence above 100", { confidence: 101 }, "confidence", /0 to 100/],
    ["negative confidence", { confidence: -1 }, "confidence", /0 to 100/],
    ["fractional confidence", { confidence: 50.5 }, "confidence", /integer/],
    ["confidence as a string", { confidence: "85" }, "confidence", /integer/],
    ["revoked as a string", { revoked: "true" }, "revoked", /boolean/],
    ["missing created", { created: undefined }, "created", /required/],
    [
      "modified before created",
      { modified: "2024-02-01T00:00:00Z" },
      "modified",
      /not be earlier than created/,
    ],
    ["name not a string", { name: 42 }, "name", /string/],
    ["labels not strings", { labels: ["a", 1] }, "labels", /list of strings/],
    [
      "bad kill chain phase",
      { kill_chain_phases: [{ kill_chain_name: "x" }] },
      "kill_chain_phases[0]",
      /phase_name/,
    ],
    ["bad created_by_ref", { created_by_ref: "organization--1" }, "created_by_ref", /identity--<uuid>/],
  ])("%s", (_name, overrides, field, message) => {
    const result = parseStixBundle(
      bundle([
        stixIndicator(1),
        { type: "identity", id: IDENTITY_ID },
        stixIndicator(2, overrides),
        stixIndicator(3),
      ]),
    );
    expect(result.problems).toEqual([
      { path: `objects[2].${field}`, message: expect.stringMatching(message) },
    ]);
    expect(result.indicators.map((i) => i.stixId)).toEqual([indicatorId(1), indicatorId(3)]);
    expect(result.skipped).toBe(1);
  });

  it("reports every problem of one indicator", () => {
    const result = parseStixBundle(
      bundle([stixIndicator(1, { confidence: 200, revoked: 1, valid_from: "x" })]),
    );
    expect(result.problems.map((p) => p.path)).toEqual([
      "objects[0].valid_from",
      "objects[0].confidence",
      "objects[0].revoked",
    ]);
    expect(result.indicators).toEqual([]);
  });

  it("keeps a partial indicator, flagged", () => {
    const result = parseStixBundle(
      bundle([
        stixIndicator(1, { pattern: "[ipv4-addr:value = '198.51.100.23'] FOLLOWEDBY [process:name = 'x']" }),
      ]),
    );
    expect(result.problems).toEqual([]);
    expect(result.indicators[0]).toMatchObject({ partial: true, groups: [[ip4("198.51.100.23")]] });
  });

  it("compares sub-millisecond timestamps exactly", () => {
    const ok = parseStixBundle(
      bundle([
        stixIndicator(1, {
          valid_from: "2024-03-01T09:00:00.0001Z",
          valid_until: "2024-03-01T09:00:00.00011Z",
        }),
      ]),
    );
    expect(ok.problems).toEqual([]);
  });

  it("keeps the latest version of an indicator that appears twice", () => {
    const result = parseStixBundle(
      bundle([
        stixIndicator(1, { modified: "2024-03-05T00:00:00Z", name: "newer" }),
        stixIndicator(1, { modified: "2024-03-03T00:00:00Z", name: "older" }),
        stixIndicator(2, { modified: "2024-03-03T00:00:00Z", name: "older" }),
        stixIndicator(2, { modified: "2024-03-05T00:00:00Z", name: "newer" }),
      ]),
    );
    expect(result.indicators.map((i) => [i.stixId, i.name])).toEqual([
      [indicatorId(1), "newer"],
      [indicatorId(2), "newer"],
    ]);
  });

  it("never throws, even on hostile input", () => {
    const hostile = {
      type: "bundle",
      id: BUNDLE_ID,
      get objects(): unknown {
        throw new Error("boom");
      },
    };
    expect(parseStixBundle(hostile).problems).toEqual([
      { path: "$", message: "bundle could not be read: boom" },
    ]);
  });
});
