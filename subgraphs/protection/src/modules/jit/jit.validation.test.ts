import {
  canonicalSource,
  checkRequestAgainstPolicy,
  formatJitDuration,
  JitProtocol,
  parseJitDuration,
  parseSourcePrefix,
  sourceAllowed,
  validatePolicyPorts,
} from "./jit.validation";

describe("JIT durations", () => {
  it("parses days, hours, minutes and whole seconds and prints them canonically", () => {
    expect(parseJitDuration("PT3H")).toEqual({ seconds: 10800 });
    expect(parseJitDuration("PT1H30M")).toEqual({ seconds: 5400 });
    expect(parseJitDuration("PT2S")).toEqual({ seconds: 2 });
    expect(parseJitDuration("P1D")).toEqual({ seconds: 86400 });
    expect(formatJitDuration(86400)).toBe("PT24H");
    expect(formatJitDuration(5400)).toBe("PT1H30M");
    expect(formatJitDuration(2)).toBe("PT2S");
    expect(formatJitDuration(90)).toBe("PT1M30S");
  });

  it("refuses what is not such a duration", () => {
    for (const bad of ["", "P", "PT", "3H", "PT1.5S", "P1M", "P1W", "pt3h", "-PT3H", "PT3H "])
      expect(parseJitDuration(bad)).toHaveProperty("error");
  });
});

describe("JIT source prefixes", () => {
  it("accepts *, addresses and CIDR prefixes of both families", () => {
    expect(parseSourcePrefix("*")).toEqual({ prefix: "*" });
    expect(parseSourcePrefix("203.0.113.7")).toEqual({ prefix: "203.0.113.7" });
    expect(parseSourcePrefix("10.0.0.0/8")).toEqual({ prefix: "10.0.0.0/8" });
    expect(parseSourcePrefix("2001:DB8::/32")).toEqual({ prefix: "2001:db8::/32" });
    expect(parseSourcePrefix("0.0.0.0/0")).toEqual({ prefix: "0.0.0.0/0" });
  });

  it("refuses malformed prefixes and prefixes with host bits, suggesting the network", () => {
    expect(parseSourcePrefix("10.0.0.5/8")).toEqual({
      error: '"10.0.0.5/8" has host bits set; did you mean 10.0.0.0/8?',
    });
    expect(parseSourcePrefix("2001:db8::1/32")).toEqual({
      error: '"2001:db8::1/32" has host bits set; did you mean 2001:db8::/32?',
    });
    for (const bad of ["10.0.0.0/33", "10.0.0/8", "any", "10.0.0.0/8/1", "::/129", "fe80::1%eth0"])
      expect(parseSourcePrefix(bad)).toHaveProperty("error");
  });

  it("matches addresses against prefixes, IPv4 and IPv6", () => {
    expect(sourceAllowed("10.1.2.3", ["10.0.0.0/8"])).toBe(true);
    expect(sourceAllowed("11.1.2.3", ["10.0.0.0/8"])).toBe(false);
    expect(sourceAllowed("203.0.113.7", ["203.0.113.7"])).toBe(true);
    expect(sourceAllowed("2001:db8::42", ["2001:db8::/32"])).toBe(true);
    expect(sourceAllowed("2001:db9::42", ["2001:db8::/32"])).toBe(false);
    expect(sourceAllowed("198.51.100.1", ["*"])).toBe(true);
    // Within its own family only: "any IPv6" is not every IPv4 address, nor a mapped prefix an IPv4 one.
    expect(sourceAllowed("203.0.113.10", ["::/0"])).toBe(false);
    expect(sourceAllowed("203.0.113.10", ["::ffff:203.0.113.0/120"])).toBe(false);
    expect(sourceAllowed("2001:db8::1", ["0.0.0.0/0"])).toBe(false);
  });
});

describe("JIT request sources", () => {
  it("checks and stores a source in canonical form: a mapped IPv4 address as IPv4, IPv6 compressed", () => {
    expect(canonicalSource("::ffff:203.0.113.10")).toBe("203.0.113.10");
    expect(canonicalSource("2001:DB8:0:0::10")).toBe("2001:db8::10");
    expect(sourceAllowed(canonicalSource("::ffff:203.0.113.10"), ["203.0.113.0/24"])).toBe(true);
    // Not an address: left as given for the checks to refuse (a zone, a port, a name).
    for (const text of ["fe80::1%eth0", "203.0.113.10:3389", "jump.example.com"])
      expect(canonicalSource(text)).toBe(text);
  });
});

describe("JIT policy and request checks", () => {
  const { ports: policy } = validatePolicyPorts([
    { number: 22, protocol: JitProtocol.TCP, allowedSourcePrefixes: ["203.0.113.0/24"], maxDuration: "PT3H" },
    { number: 3389, protocol: JitProtocol.ANY, allowedSourcePrefixes: ["*"], maxDuration: "PT1H" },
  ]);

  it("keeps ports canonical (sorted, default maximum PT3H)", () => {
    const { ports, problems } = validatePolicyPorts([
      { number: 5986, protocol: JitProtocol.TCP, allowedSourcePrefixes: ["*"] },
      {
        number: 22,
        protocol: JitProtocol.TCP,
        allowedSourcePrefixes: ["10.0.0.0/8", "10.0.0.0/8"],
        maxDuration: "PT90M",
      },
    ]);
    expect(problems).toEqual([]);
    expect(ports).toEqual([
      expect.objectContaining({ number: 22, allowedSourcePrefixes: ["10.0.0.0/8"], maxDuration: "PT1H30M" }),
      expect.objectContaining({ number: 5986, maxDuration: "PT3H", maxDurationSeconds: 10800 }),
    ]);
  });

  it("reports every problem of a policy with its path", () => {
    const { problems } = validatePolicyPorts([
      { number: 0, protocol: JitProtocol.TCP, allowedSourcePrefixes: ["*"] },
      {
        number: 22,
        protocol: JitProtocol.TCP,
        allowedSourcePrefixes: ["*", "10.0.0.0/8"],
        maxDuration: "PT25H",
      },
      { number: 22, protocol: JitProtocol.UDP, allowedSourcePrefixes: [], maxDuration: "PT0S" },
    ]);
    expect(problems.map((p) => p.field)).toEqual([
      "ports[0].number",
      "ports[1].allowedSourcePrefixes",
      "ports[1].maxDuration",
      "ports[2].number",
      "ports[2].allowedSourcePrefixes",
      "ports[2].maxDuration",
    ]);
    expect(validatePolicyPorts([]).problems).toEqual([
      { field: "ports", message: "must list 1 to 50 ports" },
    ]);
  });

  it("accepts a request within the policy and returns its duration", () => {
    expect(
      checkRequestAgainstPolicy({ ports: [22, 3389], sourceIp: "203.0.113.9", duration: "PT1H" }, policy),
    ).toEqual({ durationSeconds: 3600, problems: [] });
  });

  it("refuses ports outside the policy, sources outside the prefixes and durations over the maximum", () => {
    const { problems } = checkRequestAgainstPolicy(
      { ports: [22, 8080], sourceIp: "198.51.100.1", duration: "PT4H" },
      policy,
    );
    expect(problems).toEqual([
      {
        field: "sourceIp",
        message: "198.51.100.1 is outside the sources allowed on port 22 (203.0.113.0/24)",
      },
      { field: "ports[1]", message: "port 8080 is not in the resource's JIT policy (ports: 22, 3389)" },
      { field: "duration", message: "PT4H is longer than the maximum PT3H" },
    ]);
    // The smallest maximum of the requested ports applies.
    expect(
      checkRequestAgainstPolicy({ ports: [22, 3389], sourceIp: "203.0.113.9", duration: "PT2H" }, policy)
        .problems,
    ).toEqual([{ field: "duration", message: "PT2H is longer than the maximum PT1H" }]);
    expect(
      checkRequestAgainstPolicy({ ports: [22], sourceIp: "203.0.113.0/24", duration: "PT1H" }, policy)
        .problems,
    ).toEqual([{ field: "sourceIp", message: '"203.0.113.0/24" is not an IPv4 or IPv6 address' }]);
  });

  it("says so when the refused source is the caller's own address", () => {
    expect(
      checkRequestAgainstPolicy(
        { ports: [22], sourceIp: "198.51.100.1", duration: "PT1H", sourceIsCaller: true },
        policy,
      ).problems,
    ).toEqual([
      {
        field: "sourceIp",
        message:
          "your address 198.51.100.1 (sourceIp omitted: the address the gateway received the request from) is outside the sources allowed on port 22 (203.0.113.0/24)",
      },
    ]);
  });
});
