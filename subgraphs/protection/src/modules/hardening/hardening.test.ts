import {
  aggregateSources,
  isInternetAddress,
  MAX_RECOMMENDED_PREFIXES,
  prefixOf,
  type ObservedAddress,
} from "./addresses";
import { isInternetWide, recommendHardening, type ObservedFlow } from "./hardening";

const at = new Date("2026-11-27T10:00:00Z");
const seen = (ip: string, connections = 1): ObservedAddress => ({ ip, connections, lastSeen: at });
const flow = (ip: string, port: number, protocol: "TCP" | "UDP" = "TCP", connections = 1): ObservedFlow => ({
  ...seen(ip, connections),
  port,
  protocol,
});

describe("addresses", () => {
  it("knows internet addresses from private, loopback, link-local, CGNAT, ULA and multicast ones", () => {
    for (const ip of ["203.0.113.24", "198.51.100.66", "8.8.8.8", "2001:db8::1", "::ffff:203.0.113.5"])
      expect({ ip, internet: isInternetAddress(ip) }).toEqual({ ip, internet: true });
    for (const ip of [
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "100.64.0.1",
      "127.0.0.1",
      "169.254.169.254",
      "0.0.0.0",
      "224.0.0.1",
      "::1",
      "fd00::1",
      "fe80::1",
      "ff02::1",
      "::ffff:10.0.0.1",
      "not-an-ip",
    ])
      expect({ ip, internet: isInternetAddress(ip) }).toEqual({ ip, internet: false });
    expect(isInternetAddress("172.32.0.1")).toBe(true);
  });

  it("computes prefixes of both families", () => {
    expect(prefixOf("198.51.100.203", 24)).toBe("198.51.100.0/24");
    expect(prefixOf("198.51.100.203", 32)).toBe("198.51.100.203/32");
    expect(prefixOf("203.0.113.77", 16)).toBe("203.0.0.0/16");
    expect(prefixOf("2001:db8:1:2:3:4:5:6", 64)).toBe("2001:db8:1:2::/64");
    expect(prefixOf("2001:db8::1", 128)).toBe("2001:db8::1/128");
  });

  it("aggregates to /24 when two addresses share it, exact /32 otherwise, sorted by address", () => {
    expect(
      aggregateSources([
        seen("203.0.113.24", 5),
        seen("198.51.100.7"),
        seen("198.51.100.9", 2),
        seen("2001:db8::5"),
      ])!.map((p) => [p.prefix, p.addresses, p.connections]),
    ).toEqual([
      ["198.51.100.0/24", ["198.51.100.7", "198.51.100.9"], 3],
      ["203.0.113.24/32", ["203.0.113.24"], 5],
      ["2001:db8::5/128", ["2001:db8::5"], 1],
    ]);
  });

  it("widens to /16 when there are too many prefixes, and gives up when the traffic is too diverse", () => {
    const many = Array.from({ length: MAX_RECOMMENDED_PREFIXES + 1 }, (_, i) => seen(`203.0.${i}.1`));
    expect(aggregateSources(many)!.map((p) => p.prefix)).toEqual(["203.0.0.0/16"]);
    const diverse = Array.from({ length: MAX_RECOMMENDED_PREFIXES + 1 }, (_, i) => seen(`${20 + i}.1.1.1`));
    expect(aggregateSources(diverse)).toBeNull();
  });
});

describe("adaptive network hardening", () => {
  const rdpOpen = { protocol: "TCP" as const, fromPort: 3389, toPort: 3389, sources: ["Internet"] };

  it("recommends allowing only the sources seen, leaving out attackers", () => {
    const [r] = recommendHardening(
      [rdpOpen],
      [
        flow("203.0.113.24", 3389, "TCP", 12),
        flow("198.51.100.203", 3389, "TCP", 64),
        flow("203.0.113.24", 443),
      ],
      new Set(["198.51.100.203"]),
      "30 days",
    );
    expect(r).toMatchObject({
      action: "RESTRICT",
      recommendedSources: ["203.0.113.24/32"],
      excludedSources: ["198.51.100.203"],
      connections: 12,
      currentSources: ["Internet"],
    });
    expect(r.description).toBe(
      "TCP 3389 is open to the internet (Internet) but over the last 30 days only one address connected (12 connections) (traffic from 198.51.100.203, which detections name as attackers, is not counted): allow only 203.0.113.24/32.",
    );
  });

  it("recommends closing an internet-open range nobody used", () => {
    const [r] = recommendHardening(
      [{ protocol: "ANY", fromPort: 22, toPort: 22, sources: ["*"] }],
      [flow("203.0.113.24", 3389)],
      new Set(),
      "7 days",
    );
    expect(r).toMatchObject({ action: "CLOSE", recommendedSources: [], connections: 0, protocol: "ANY" });
  });

  it("leaves ranges already limited to prefixes, and ICMP, alone; ANY counts TCP and UDP", () => {
    expect(
      recommendHardening(
        [
          { protocol: "TCP", fromPort: 443, toPort: 443, sources: ["198.51.100.0/24"] },
          { protocol: "ICMP", fromPort: 0, toPort: 65535, sources: ["*"] },
        ],
        [flow("203.0.113.24", 443)],
        new Set(),
        "30 days",
      ),
    ).toEqual([]);
    const [any] = recommendHardening(
      [{ protocol: "ANY", fromPort: 5000, toPort: 5010, sources: ["0.0.0.0/0"] }],
      [flow("203.0.113.1", 5001, "UDP"), flow("203.0.113.2", 5010, "TCP"), flow("203.0.113.3", 5011)],
      new Set(),
      "30 days",
    );
    expect(any.recommendedSources).toEqual(["203.0.113.0/24"]);
    expect(any.connections).toBe(2);
    expect(isInternetWide(" Any ")).toBe(true);
  });

  it("leaves ports a JIT policy locks to JIT: no standing rule for the sources its grants let in", () => {
    // SSH is under JIT: the admins' granted sessions must not become an allow rule, and the port is not
    // internet-open (JIT denies inbound except for approved grants).
    const jitLocked = new Set(["TCP/22", "TCP/3389", "UDP/3389"]);
    const granted = [flow("203.0.113.24", 22, "TCP", 4), flow("203.0.113.24", 3389, "TCP", 2)];
    expect(
      recommendHardening(
        [
          { protocol: "TCP", fromPort: 22, toPort: 22, sources: ["*"] },
          { protocol: "ANY", fromPort: 3389, toPort: 3389, sources: ["Internet"] },
        ],
        granted,
        new Set(),
        "30 days",
        jitLocked,
      ),
    ).toEqual([]);
    // A range only partly under JIT is judged on its other ports' traffic.
    const [range] = recommendHardening(
      [{ protocol: "TCP", fromPort: 20, toPort: 25, sources: ["*"] }],
      [...granted, flow("198.51.100.7", 21)],
      new Set(),
      "30 days",
      jitLocked,
    );
    expect(range).toMatchObject({
      action: "RESTRICT",
      recommendedSources: ["198.51.100.7/32"],
      connections: 1,
    });
    // Locking UDP does not lock TCP.
    const [tcp] = recommendHardening(
      [{ protocol: "TCP", fromPort: 53, toPort: 53, sources: ["*"] }],
      [flow("198.51.100.7", 53, "TCP")],
      new Set(),
      "30 days",
      new Set(["UDP/53"]),
    );
    expect(tcp).toMatchObject({ action: "RESTRICT", recommendedSources: ["198.51.100.7/32"] });
  });
});
