import type { IncomingMessage } from "node:http";
import { canonicalAddress, clientAddressOf, trustedProxyList } from "./client-address";

/** A request as the gateway's HTTP server hands it over: the socket's peer and the headers. */
const request = (remoteAddress: string | undefined, forwardedFor?: string | string[]) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  }) as unknown as IncomingMessage;

describe("canonicalAddress", () => {
  it.each([
    ["203.0.113.9", "203.0.113.9"],
    ["::ffff:203.0.113.9", "203.0.113.9"],
    ["::FFFF:203.0.113.9", "203.0.113.9"],
    ["::ffff:cb00:7109", "203.0.113.9"],
    ["0:0:0:0:0:ffff:203.0.113.9", "203.0.113.9"],
    ["2001:DB8::1", "2001:db8::1"],
    ["fe80::1%eth0", "fe80::1"],
    ["::1", "::1"],
    // The deprecated IPv4-compatible form and other prefixes are IPv6 addresses, not IPv4.
    ["::203.0.113.9", "::203.0.113.9"],
    ["64:ff9b::203.0.113.9", "64:ff9b::203.0.113.9"],
  ])("%s → %s", (text, expected) => {
    expect(canonicalAddress(text)).toBe(expected);
  });

  it.each(["", "unknown", "203.0.113.9:443", "203.0.113.300", "[2001:db8::1]", "_gateway"])(
    "%s is no address",
    (text) => {
      expect(canonicalAddress(text)).toBeNull();
    },
  );
});

describe("clientAddressOf", () => {
  it("is the connection's peer when no proxy is trusted, whatever X-Forwarded-For says", () => {
    expect(clientAddressOf(request("198.51.100.7", "203.0.113.9"), null)).toBe("198.51.100.7");
    expect(clientAddressOf(request("::ffff:198.51.100.7", "203.0.113.9"), null)).toBe("198.51.100.7");
    expect(clientAddressOf(request(undefined), null)).toBeNull();
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", () => {
    const trusted = trustedProxyList(["10.0.0.0/8"]);
    expect(clientAddressOf(request("198.51.100.7", "10.1.2.3"), trusted)).toBe("198.51.100.7");
  });

  it("takes the address a trusted proxy appended, not the copy the client sent before it", () => {
    const trusted = trustedProxyList(["10.0.0.0/8", "2001:db8:ffff::/48"]);
    expect(clientAddressOf(request("10.0.0.2", "203.0.113.9"), trusted)).toBe("203.0.113.9");
    // The client sent `X-Forwarded-For: 192.0.2.66`; the proxy appended the address it saw.
    expect(clientAddressOf(request("10.0.0.2", "192.0.2.66, 203.0.113.9"), trusted)).toBe("203.0.113.9");
    // Two headers are one list (Node joins them), still read from the end.
    expect(clientAddressOf(request("10.0.0.2", ["192.0.2.66", "203.0.113.9"]), trusted)).toBe("203.0.113.9");
    // Through a chain of trusted proxies, with ports and brackets as some proxies write them.
    expect(clientAddressOf(request("10.0.0.2", "192.0.2.66, 203.0.113.9:50122, 10.9.9.9"), trusted)).toBe(
      "203.0.113.9",
    );
    expect(
      clientAddressOf(request("::ffff:10.0.0.2", "[2001:db8::77]:443, [2001:db8:ffff::1]"), trusted),
    ).toBe("2001:db8::77");
    expect(clientAddressOf(request("10.0.0.2", "::ffff:203.0.113.9"), trusted)).toBe("203.0.113.9");
  });

  it("is the proxy itself when it forwards nothing, and unknown when what it forwards is no address", () => {
    const trusted = trustedProxyList(["10.0.0.2"]);
    expect(clientAddressOf(request("10.0.0.2"), trusted)).toBe("10.0.0.2");
    expect(clientAddressOf(request("10.0.0.2", "unknown"), trusted)).toBeNull();
    expect(clientAddressOf(request("10.0.0.2", "203.0.113.9, "), trusted)).toBeNull();
  });
});
