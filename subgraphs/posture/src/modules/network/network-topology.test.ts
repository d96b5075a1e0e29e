import { demoResources, syntheticResources } from "../../../../../scripts/lib/demo-estate";
import {
  INTERNET_NODE_ID,
  VM_TO_VM_EDGE_CAP,
  accountView,
  buildNetworkTopology,
  networkLinks,
  evaluateInbound,
  internetOpenPorts,
  parseNsgRules,
  type NetworkEdge,
  type NetworkResource,
  type NetworkTopology,
  type NsgRule,
  type OpenPort,
  type PortRange,
  type Protocol,
} from "./network-topology";

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/** Port specs as NSG rules write them: "22", "1000-2000", "*". */
function ports(...specs: string[]): Array<{ fromPort: number; toPort: number }> {
  return specs.map((spec) => {
    if (spec === "*") return { fromPort: 0, toPort: 65535 };
    const [from, to] = spec.split("-").map(Number);
    return { fromPort: from, toPort: to ?? from };
  });
}

function rule(
  priority: number,
  access: "Allow" | "Deny",
  sources: string | string[],
  portSpecs: string | string[],
  protocol: Protocol = "TCP",
  direction: "Inbound" | "Outbound" = "Inbound",
): NsgRule {
  return {
    name: `${access}-${priority}`,
    priority,
    direction,
    access,
    protocol,
    sources: Array.isArray(sources) ? sources : [sources],
    ports: ports(...(Array.isArray(portSpecs) ? portSpecs : [portSpecs])),
  };
}

const open = (protocol: Protocol, fromPort: number, toPort: number, ...sources: string[]): OpenPort => ({
  protocol,
  fromPort,
  toPort,
  sources,
});

const range = (protocol: Protocol, fromPort: number, toPort = fromPort): PortRange => ({
  protocol,
  fromPort,
  toPort,
});

const SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-test/providers";
const T = {
  vnet: "Microsoft.Network/virtualNetworks",
  subnet: "Microsoft.Network/virtualNetworks/subnets",
  nsg: "Microsoft.Network/networkSecurityGroups",
  nic: "Microsoft.Network/networkInterfaces",
  pip: "Microsoft.Network/publicIPAddresses",
  vm: "Microsoft.Compute/virtualMachines",
};
const armId = (type: string, name: string) => `${SUB}/${type}/${name}`;
const subnetArmId = (vnet: string, name: string) => `${armId(T.vnet, vnet)}/subnets/${name}`;

/** An inventory resource whose Rampart id (`id:<name>`) differs from its external id. */
function res(
  type: string,
  externalId: string,
  name: string,
  properties: Record<string, unknown>,
): NetworkResource {
  return { id: `id:${name}`, externalId, type, name, properties };
}

/** An NSG security rule in the nested ARM form the inventory stores. */
function armRule(
  name: string,
  priority: number,
  access: "Allow" | "Deny",
  source: string | string[],
  port: string | string[],
  protocol = "Tcp",
) {
  return {
    name,
    properties: {
      priority,
      direction: "Inbound",
      access,
      protocol,
      ...(Array.isArray(source) ? { sourceAddressPrefixes: source } : { sourceAddressPrefix: source }),
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      ...(Array.isArray(port) ? { destinationPortRanges: port } : { destinationPortRange: port }),
    },
  };
}

function nsg(name: string, rules: unknown[], extra: Record<string, unknown> = {}): NetworkResource {
  return res(T.nsg, armId(T.nsg, name), name, { securityRules: rules, ...extra });
}

function nic(
  name: string,
  subnetId: string,
  privateIp: string,
  opts: { pip?: string; nsg?: string; vm?: string } = {},
): NetworkResource {
  const id = armId(T.nic, name);
  return res(T.nic, id, name, {
    ipConfigurations: [
      {
        name: "ipconfig1",
        id: `${id}/ipConfigurations/ipconfig1`,
        properties: {
          privateIPAddress: privateIp,
          subnet: { id: subnetId },
          ...(opts.pip ? { publicIPAddress: { id: armId(T.pip, opts.pip) } } : {}),
        },
      },
    ],
    ...(opts.nsg ? { networkSecurityGroup: { id: armId(T.nsg, opts.nsg) } } : {}),
    ...(opts.vm ? { virtualMachine: { id: armId(T.vm, opts.vm) } } : {}),
  });
}

function vm(name: string, nicNames: string[]): NetworkResource {
  return res(T.vm, armId(T.vm, name), name, {
    networkProfile: { networkInterfaces: nicNames.map((n) => ({ id: armId(T.nic, n) })) },
  });
}

function pip(name: string, ipAddress: string, nicName?: string): NetworkResource {
  return res(T.pip, armId(T.pip, name), name, {
    ipAddress,
    ...(nicName ? { ipConfiguration: { id: `${armId(T.nic, nicName)}/ipConfigurations/ipconfig1` } } : {}),
  });
}

function edgesOf(topology: NetworkTopology, kind: NetworkEdge["kind"]): Array<[string, string]> {
  return topology.edges.filter((e) => e.kind === kind).map((e) => [e.from, e.to]);
}

function edge(topology: NetworkTopology, from: string, to: string, kind: NetworkEdge["kind"]) {
  return topology.edges.find((e) => e.from === from && e.to === to && e.kind === kind);
}

function expectConsistent(topology: NetworkTopology): void {
  const ids = topology.nodes.map((n) => n.id);
  expect(new Set(ids).size).toBe(ids.length);
  const known = new Set(ids);
  expect(topology.edges.filter((e) => !known.has(e.from) || !known.has(e.to))).toEqual([]);
  expect(topology.edges.filter((e) => e.kind !== "ALLOWS_TRAFFIC" && e.ports.length > 0)).toEqual([]);
  expect(topology.nodes.filter((n) => n.kind === "INTERNET").map((n) => n.id)).toEqual([INTERNET_NODE_ID]);
}

// ---------------------------------------------------------------------------------------------------------
// parseNsgRules
// ---------------------------------------------------------------------------------------------------------

describe("parseNsgRules", () => {
  it("reads the nested ARM form the demo estate uses", () => {
    const rules = parseNsgRules({
      securityRules: [
        armRule("AllowHttpsInbound", 100, "Allow", "Internet", "443"),
        armRule("AllowWinRm", 150, "Allow", "VirtualNetwork", "5985-5986"),
        armRule("DenyAll", 4096, "Deny", "*", "*", "*"),
      ],
    });
    expect(rules).toEqual([
      {
        name: "AllowHttpsInbound",
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        protocol: "TCP",
        sources: ["Internet"],
        ports: [{ fromPort: 443, toPort: 443 }],
      },
      {
        name: "AllowWinRm",
        priority: 150,
        direction: "Inbound",
        access: "Allow",
        protocol: "TCP",
        sources: ["VirtualNetwork"],
        ports: [{ fromPort: 5985, toPort: 5986 }],
      },
      {
        name: "DenyAll",
        priority: 4096,
        direction: "Inbound",
        access: "Deny",
        protocol: "ANY",
        sources: ["*"],
        ports: [{ fromPort: 0, toPort: 65535 }],
      },
    ]);
  });

  it("reads prefix and port lists, flattened rules, numeric strings and any protocol casing", () => {
    const rules = parseNsgRules({
      securityRules: [
        armRule("lists", 200, "Allow", ["203.0.113.0/24", "198.51.100.7"], ["80", "8000-8080"], "udp"),
        {
          name: "flat",
          priority: "300",
          direction: "outbound",
          access: "deny",
          protocol: "ICMP",
          sourceAddressPrefix: "VirtualNetwork",
          destinationPortRange: "*",
        },
        armRule("any", 400, "Allow", "*", "22", "Any"),
      ],
    });
    expect(rules.map((r) => [r.name, r.priority, r.direction, r.access, r.protocol])).toEqual([
      ["lists", 200, "Inbound", "Allow", "UDP"],
      ["flat", 300, "Outbound", "Deny", "ICMP"],
      ["any", 400, "Inbound", "Allow", "ANY"],
    ]);
    expect(rules[0].sources).toEqual(["203.0.113.0/24", "198.51.100.7"]);
    expect(rules[0].ports).toEqual(ports("80", "8000-8080"));
  });

  it.each([
    ["no priority", { ...armRule("x", 100, "Allow", "*", "22").properties, priority: undefined }],
    ["fractional priority", { ...armRule("x", 100, "Allow", "*", "22").properties, priority: 100.5 }],
    ["unknown direction", { ...armRule("x", 100, "Allow", "*", "22").properties, direction: "Sideways" }],
    ["unknown access", { ...armRule("x", 100, "Allow", "*", "22").properties, access: "Maybe" }],
    ["Esp protocol", { ...armRule("x", 100, "Allow", "*", "22").properties, protocol: "Esp" }],
    ["no source", { ...armRule("x", 100, "Allow", "*", "22").properties, sourceAddressPrefix: "" }],
    ["garbage port", { ...armRule("x", 100, "Allow", "*", "ssh").properties }],
    ["port out of range", { ...armRule("x", 100, "Allow", "*", "70000").properties }],
    ["reversed range", { ...armRule("x", 100, "Allow", "*", "2000-1000").properties }],
    ["no port", { ...armRule("x", 100, "Allow", "*", "22").properties, destinationPortRange: undefined }],
  ])("skips a rule with %s", (_label, properties) => {
    const rules = parseNsgRules({
      securityRules: [{ name: "bad", properties }, armRule("good", 200, "Allow", "*", "22")],
    });
    expect(rules.map((r) => r.name)).toEqual(["good"]);
  });

  it.each([
    ["null", null],
    ["a number", 42],
    ["no securityRules", {}],
    ["securityRules not an array", { securityRules: { a: 1 } }],
    ["junk entries", { securityRules: [null, 1, "rule", [], { properties: null }, { properties: "x" }] }],
  ])("never throws on %s", (_label, properties) => {
    expect(parseNsgRules(properties as Record<string, unknown>)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// evaluateInbound
// ---------------------------------------------------------------------------------------------------------

describe("evaluateInbound", () => {
  it.each([
    [
      "a higher-priority Deny beats an Allow",
      [rule(100, "Deny", "Internet", "22"), rule(200, "Allow", "Internet", "22")],
      "Deny",
    ],
    [
      "a lower-priority Deny does not beat an Allow",
      [rule(100, "Allow", "Internet", "22"), rule(300, "Deny", "*", "*", "ANY")],
      "Allow",
    ],
    [
      "priority, not input order, decides",
      [rule(300, "Allow", "*", "*", "ANY"), rule(100, "Deny", "*", "22")],
      "Deny",
    ],
    [
      "an unrelated Deny is skipped",
      [rule(100, "Deny", "Internet", "23-1000"), rule(200, "Allow", "Internet", "22")],
      "Allow",
    ],
    ["without an Allow DenyAllInBound decides", [rule(100, "Allow", "Internet", "443")], "Deny"],
  ])("%s", (_label, rules, expected) => {
    expect(evaluateInbound(rules, "Internet", 22, "TCP")).toBe(expected);
  });

  it("applies a Deny that covers part of an Allow's port range only to that part", () => {
    const rules = [rule(200, "Allow", "Internet", "1000-2000"), rule(100, "Deny", "Internet", "1500-1600")];
    const verdicts = [999, 1000, 1499, 1500, 1600, 1601, 2000, 2001].map((port) =>
      evaluateInbound(rules, "Internet", port, "TCP"),
    );
    expect(verdicts).toEqual(["Deny", "Allow", "Allow", "Deny", "Deny", "Allow", "Allow", "Deny"]);
  });

  // Each case: a Deny from `source` at 100 in front of Allow * at 200, so Deny means the source matched.
  const PUBLIC_IP = "198.51.100.7";
  const PRIVATE_IP = "10.1.2.3";
  it.each<[string, Record<string, boolean>]>([
    ["*", { Internet: true, VirtualNetwork: true, [PUBLIC_IP]: true, [PRIVATE_IP]: true }],
    ["Any", { Internet: true, VirtualNetwork: true, [PUBLIC_IP]: true, [PRIVATE_IP]: true }],
    ["Internet", { Internet: true, VirtualNetwork: false, [PUBLIC_IP]: true, [PRIVATE_IP]: false }],
    ["internet", { Internet: true, VirtualNetwork: false, [PUBLIC_IP]: true, [PRIVATE_IP]: false }],
    ["0.0.0.0/0", { Internet: true, VirtualNetwork: true, [PUBLIC_IP]: true, [PRIVATE_IP]: true }],
    ["::/0", { Internet: true, VirtualNetwork: true, [PUBLIC_IP]: false, "2001:db8::1": true }],
    [
      "198.51.100.0/24",
      {
        Internet: false,
        VirtualNetwork: false,
        [PUBLIC_IP]: true,
        "198.51.100.0/25": true,
        "198.51.0.0/16": false,
      },
    ],
    ["10.0.0.0/8", { Internet: false, VirtualNetwork: false, [PUBLIC_IP]: false, [PRIVATE_IP]: true }],
    ["VirtualNetwork", { Internet: false, VirtualNetwork: true, [PUBLIC_IP]: false, [PRIVATE_IP]: true }],
    [
      "AzureLoadBalancer",
      { Internet: false, VirtualNetwork: false, AzureLoadBalancer: true, [PRIVATE_IP]: false },
    ],
  ])("a rule from %s matches exactly the expected sources", (source, expected) => {
    const rules = [rule(100, "Deny", source, "22"), rule(200, "Allow", "*", "*", "ANY")];
    for (const [from, matches] of Object.entries(expected))
      expect([from, evaluateInbound(rules, from, 22, "TCP")]).toEqual([from, matches ? "Deny" : "Allow"]);
  });

  it("honours the protocol: TCP/UDP rules, ANY, and portless ICMP", () => {
    const udp = [rule(100, "Allow", "Internet", "53", "UDP")];
    expect(evaluateInbound(udp, "Internet", 53, "UDP")).toBe("Allow");
    expect(evaluateInbound(udp, "Internet", 53, "TCP")).toBe("Deny");
    const icmp = [rule(100, "Allow", "Internet", "*", "ICMP")];
    expect(evaluateInbound(icmp, "Internet", 0, "ICMP")).toBe("Allow");
    expect(evaluateInbound(icmp, "Internet", 22, "TCP")).toBe("Deny");
    const anyAll = [rule(100, "Allow", "Internet", "*", "ANY")];
    expect(["TCP", "UDP", "ICMP"].map((p) => evaluateInbound(anyAll, "Internet", 8080, p as "TCP"))).toEqual([
      "Allow",
      "Allow",
      "Allow",
    ]);
    // ICMP has no ports: an ANY rule limited to port 22 does not match it.
    const anyOne = [rule(100, "Allow", "Internet", "22", "ANY")];
    expect(evaluateInbound(anyOne, "Internet", 22, "UDP")).toBe("Allow");
    expect(evaluateInbound(anyOne, "Internet", 22, "ICMP")).toBe("Deny");
  });

  it("matches any entry of port lists", () => {
    const rules = [{ ...rule(100, "Allow", "Internet", "80"), ports: ports("80", "443", "8000-8010") }];
    expect([80, 443, 8005, 8010, 8011, 444].map((p) => evaluateInbound(rules, "Internet", p, "TCP"))).toEqual(
      ["Allow", "Allow", "Allow", "Allow", "Deny", "Deny"],
    );
  });

  it("applies Azure's default rules after the custom ones", () => {
    expect(evaluateInbound([], "Internet", 22, "TCP")).toBe("Deny");
    expect(evaluateInbound([], "203.0.113.9", 443, "TCP")).toBe("Deny");
    expect(evaluateInbound([], "VirtualNetwork", 22, "TCP")).toBe("Allow");
    expect(evaluateInbound([], "VirtualNetwork", 0, "ICMP")).toBe("Allow");
    expect(evaluateInbound([], "10.0.0.4", 1433, "TCP")).toBe("Allow");
    expect(evaluateInbound([], "AzureLoadBalancer", 80, "TCP")).toBe("Allow");
    // A custom rule comes before AllowVnetInBound.
    expect(
      evaluateInbound([rule(4096, "Deny", "VirtualNetwork", "*", "ANY")], "VirtualNetwork", 22, "TCP"),
    ).toBe("Deny");
  });

  it("ignores outbound rules and malformed rules", () => {
    const rules = [
      rule(100, "Allow", "*", "*", "ANY", "Outbound"),
      { ...rule(110, "Allow", "*", "22"), priority: Number.NaN },
      { ...rule(120, "Allow", "*", "22"), ports: [{ fromPort: 30, toPort: 10 }] },
      null as unknown as NsgRule,
    ];
    expect(evaluateInbound(rules, "Internet", 22, "TCP")).toBe("Deny");
  });

  it.each([-1, 65536, 1.5, Number.NaN])("denies the invalid port %p", (port) => {
    expect(evaluateInbound([rule(100, "Allow", "*", "*", "ANY")], "Internet", port, "TCP")).toBe("Deny");
  });
});

// ---------------------------------------------------------------------------------------------------------
// internetOpenPorts
// ---------------------------------------------------------------------------------------------------------

describe("internetOpenPorts", () => {
  it("is empty without custom rules (DenyAllInBound) or with only VNet rules", () => {
    expect(internetOpenPorts([])).toEqual([]);
    expect(internetOpenPorts([rule(100, "Allow", "VirtualNetwork", "*", "ANY")])).toEqual([]);
  });

  it("opens everything but 22 for Allow * at 200 with Deny 22 at 100", () => {
    const rules = [rule(200, "Allow", "*", "*", "ANY"), rule(100, "Deny", "*", "22", "ANY")];
    expect(internetOpenPorts(rules)).toEqual([open("ANY", 0, 21, "*"), open("ANY", 23, 65535, "*")]);
  });

  it("keeps UDP and ICMP open when the Deny only covers TCP", () => {
    const rules = [rule(200, "Allow", "Internet", "*", "ANY"), rule(100, "Deny", "Internet", "22", "TCP")];
    expect(internetOpenPorts(rules)).toEqual([
      open("TCP", 0, 21, "Internet"),
      open("TCP", 23, 65535, "Internet"),
      open("UDP", 0, 65535, "Internet"),
      open("ICMP", 0, 65535, "Internet"),
    ]);
  });

  it.each<[string, NsgRule[], OpenPort[]]>([
    [
      "a lower-priority Deny does not beat a higher-priority Allow",
      [rule(100, "Allow", "Internet", "22"), rule(300, "Deny", "*", "*", "ANY")],
      [open("TCP", 22, 22, "Internet")],
    ],
    [
      "a Deny inside an Allow's range splits it",
      [rule(200, "Allow", "Internet", "1000-2000"), rule(100, "Deny", "Internet", "1500-1600")],
      [open("TCP", 1000, 1499, "Internet"), open("TCP", 1601, 2000, "Internet")],
    ],
    [
      "a Deny overlapping an Allow's range at one end trims it",
      [rule(200, "Allow", "*", "1000-2000"), rule(100, "Deny", "*", "1800-3000")],
      [open("TCP", 1000, 1799, "*")],
    ],
    [
      "a Deny from part of the internet does not close a port open to all of it",
      [rule(100, "Deny", "198.51.100.0/24", "22"), rule(200, "Allow", "Internet", "22")],
      [open("TCP", 22, 22, "Internet")],
    ],
    [
      "a Deny from the internet closes a port open to one public range",
      [rule(100, "Deny", "Internet", "22"), rule(200, "Allow", "203.0.113.0/24", "22")],
      [],
    ],
    [
      "two Denies that together cover a range close it",
      [
        rule(100, "Deny", "203.0.113.0/25", "22"),
        rule(110, "Deny", "203.0.113.128/25", "22"),
        rule(200, "Allow", "203.0.113.0/24", "22"),
      ],
      [],
    ],
    [
      "a Deny from 0.0.0.0/0 leaves IPv6 open to an Allow from *",
      [rule(100, "Deny", "0.0.0.0/0", "22"), rule(200, "Allow", "*", "22")],
      [open("TCP", 22, 22, "*")],
    ],
    [
      "a Deny from VirtualNetwork does not affect the internet",
      [rule(100, "Deny", "VirtualNetwork", "*", "ANY"), rule(200, "Allow", "Internet", "443")],
      [open("TCP", 443, 443, "Internet")],
    ],
    ["outbound rules are ignored", [rule(100, "Allow", "*", "*", "ANY", "Outbound")], []],
  ])("%s", (_label, rules, expected) => {
    expect(internetOpenPorts(rules)).toEqual(expected);
  });

  it.each<[string, boolean]>([
    ["*", true],
    ["Any", true],
    ["Internet", true],
    ["0.0.0.0/0", true],
    ["::/0", true],
    ["203.0.113.0/24", true],
    ["8.8.8.8", true],
    ["2001:db8::/32", true],
    ["10.0.0.0/8", false],
    ["172.16.5.0/24", false],
    ["192.168.1.1", false],
    ["100.64.0.0/10", false],
    ["127.0.0.1", false],
    ["169.254.0.0/16", false],
    ["fd00::/8", false],
    ["VirtualNetwork", false],
    ["AzureLoadBalancer", false],
    ["Storage", false],
    ["not-an-address", false],
  ])("treats source %s as internet: %p", (source, internet) => {
    expect(internetOpenPorts([rule(100, "Allow", source, "22")])).toEqual(
      internet ? [open("TCP", 22, 22, source)] : [],
    );
  });

  it("keeps only the internet sources of a rule", () => {
    expect(
      internetOpenPorts([rule(100, "Allow", ["10.0.0.0/8", "Internet", "VirtualNetwork"], "22")]),
    ).toEqual([open("TCP", 22, 22, "Internet")]);
  });

  it("merges overlapping and adjacent ranges per protocol, uniting their sources", () => {
    const rules = [
      rule(100, "Allow", "Internet", "80"),
      rule(110, "Allow", "Internet", "81-90"),
      rule(120, "Allow", "*", "85-100"),
      rule(130, "Allow", "Internet", "443"),
      rule(140, "Allow", "Internet", "53", "UDP"),
    ];
    expect(internetOpenPorts(rules)).toEqual([
      open("TCP", 80, 100, "*", "Internet"),
      open("TCP", 443, 443, "Internet"),
      open("UDP", 53, 53, "Internet"),
    ]);
  });

  it("sorts port lists", () => {
    const rules = [{ ...rule(100, "Allow", "Internet", "80"), ports: ports("8443", "443", "80") }];
    expect(internetOpenPorts(rules).map((p) => p.fromPort)).toEqual([80, 443, 8443]);
  });

  it.each<[string, NsgRule[], Protocol[]]>([
    ["TCP only", [rule(100, "Allow", "*", "*", "TCP")], ["TCP"]],
    [
      "TCP and UDP but no ICMP",
      [rule(100, "Allow", "*", "*", "TCP"), rule(110, "Allow", "*", "*", "UDP")],
      ["TCP", "UDP"],
    ],
    ["ICMP only", [rule(100, "Allow", "*", "*", "ICMP")], ["ICMP"]],
    [
      "TCP, UDP and ICMP",
      [
        rule(100, "Allow", "*", "*", "TCP"),
        rule(110, "Allow", "*", "*", "UDP"),
        rule(120, "Allow", "*", "*", "ICMP"),
      ],
      ["ANY"],
    ],
    ["ANY with all ports", [rule(100, "Allow", "*", "*", "ANY")], ["ANY"]],
    ["ANY with one port (no ICMP)", [rule(100, "Allow", "*", "22", "ANY")], ["TCP", "UDP"]],
  ])("reports protocols for %s", (_label, rules, protocols) => {
    expect(internetOpenPorts(rules).map((p) => p.protocol)).toEqual(protocols);
  });
});

// ---------------------------------------------------------------------------------------------------------
// buildNetworkTopology: Azure
// ---------------------------------------------------------------------------------------------------------

describe("buildNetworkTopology (Azure)", () => {
  const WEB = subnetArmId("vnet-a", "snet-web");
  const DATA = subnetArmId("vnet-a", "snet-data");
  const OPEN = subnetArmId("vnet-a", "snet-open");
  const estate: NetworkResource[] = [
    res(T.vnet, armId(T.vnet, "vnet-a"), "vnet-a", {
      addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
      subnets: [{ id: WEB }, { id: DATA }, { id: OPEN }],
    }),
    res(T.subnet, WEB, "snet-web", {
      addressPrefix: "10.0.1.0/24",
      networkSecurityGroup: { id: armId(T.nsg, "nsg-web").toUpperCase() },
    }),
    res(T.subnet, DATA, "snet-data", {
      addressPrefix: "10.0.2.0/24",
      networkSecurityGroup: { id: armId(T.nsg, "nsg-data") },
    }),
    res(T.subnet, OPEN, "snet-open", { addressPrefix: "10.0.3.0/24" }),
    // Subnet level: SSH and 80-90 from the internet, RDP from anywhere.
    nsg("nsg-web", [
      armRule("AllowSsh", 100, "Allow", "Internet", "22"),
      armRule("AllowWeb", 110, "Allow", "Internet", "80-90"),
      armRule("AllowRdp", 120, "Allow", "*", "3389"),
    ]),
    // NIC level: everything except RDP from the internet and 85-86 from anywhere.
    nsg("nsg-nic", [
      armRule("DenyRdpInternet", 100, "Deny", "Internet", "3389"),
      armRule("Deny85", 150, "Deny", "*", "85-86", "*"),
      armRule("AllowAll", 200, "Allow", "*", "*", "*"),
    ]),
    // Data subnet: HTTPS from the VNet only, no RDP even inside the VNet.
    nsg("nsg-data", [
      armRule("AllowHttpsFromVnet", 100, "Allow", "10.0.0.0/8", "443"),
      armRule("DenyRdpFromVnet", 200, "Deny", "VirtualNetwork", "3389"),
    ]),
    // vm-1: web subnet, NIC NSG, public IP referenced by the NIC; references in odd casing.
    nic("nic-1", WEB.toUpperCase(), "10.0.1.4", { pip: "pip-1", nsg: "nsg-nic" }),
    pip("pip-1", "198.51.100.1"),
    res(T.vm, armId(T.vm, "vm-1"), "vm-1", {
      networkProfile: { networkInterfaces: [{ id: armId(T.nic, "nic-1").toLowerCase() }] },
    }),
    // vm-2: web subnet, no public IP, attached from the NIC side only.
    nic("nic-2", WEB, "10.0.1.5", { vm: "vm-2" }),
    res(T.vm, armId(T.vm, "vm-2"), "vm-2", {}),
    // vm-3: data subnet, public IP associated from the public IP's side only; nothing open to the internet.
    nic("nic-3", DATA, "10.0.2.4"),
    pip("pip-3", "198.51.100.3", "nic-3"),
    vm("vm-3", ["nic-3"]),
    // vm-4: subnet without NSG, NIC without NSG, public IP: wide open.
    nic("nic-4", OPEN, "10.0.3.4", { pip: "pip-4" }),
    pip("pip-4", "198.51.100.4", "nic-4"),
    vm("vm-4", ["nic-4"]),
    // vm-5: another VNet, no NSG; exposed through its public IP but not joined to vnet-a's VMs.
    res(T.vnet, armId(T.vnet, "vnet-b"), "vnet-b", {}),
    res(T.subnet, subnetArmId("vnet-b", "default"), "default", {}),
    nic("nic-5", subnetArmId("vnet-b", "default"), "10.9.0.4"),
    vm("vm-5", ["nic-5"]),
  ];
  const topology = buildNetworkTopology(estate);

  it("computes each VM's exposure through the subnet NSG and the NIC NSG", () => {
    expect(topology.exposure.get("id:vm-1")).toEqual({
      internetExposed: true,
      publicIps: ["198.51.100.1"],
      openPorts: [
        open("TCP", 22, 22, "*", "Internet"),
        open("TCP", 80, 84, "*", "Internet"),
        open("TCP", 87, 90, "*", "Internet"),
      ],
    });
    expect(topology.exposure.get("id:vm-2")).toEqual({
      internetExposed: false,
      publicIps: [],
      openPorts: [],
    });
    expect(topology.exposure.get("id:vm-3")).toEqual({
      internetExposed: false,
      publicIps: ["198.51.100.3"],
      openPorts: [],
    });
    expect(topology.exposure.get("id:vm-4")).toEqual({
      internetExposed: true,
      publicIps: ["198.51.100.4"],
      openPorts: [open("ANY", 0, 65535, "*")],
    });
    expect(topology.exposure.get("id:vm-5")).toEqual({
      internetExposed: false,
      publicIps: [],
      openPorts: [],
    });
  });

  it("gives the exposed VM's NIC and public IP the same exposure", () => {
    const vm1 = topology.exposure.get("id:vm-1");
    expect(topology.exposure.get("id:nic-1")).toEqual(vm1);
    expect(topology.exposure.get("id:pip-1")).toEqual(vm1);
    expect(topology.exposure.get("id:nic-3")?.internetExposed).toBe(false);
  });

  it("flags exposed nodes", () => {
    const exposed = topology.nodes.filter((n) => n.internetExposed).map((n) => n.id);
    expect(exposed.sort()).toEqual(["id:nic-1", "id:nic-4", "id:pip-1", "id:pip-4", "id:vm-1", "id:vm-4"]);
  });

  it("has a node per network resource, plus the internet", () => {
    expect(topology.nodes[0]).toEqual({
      id: "internet",
      kind: "INTERNET",
      name: "Internet",
      accountId: null,
      internetExposed: false,
    });
    expect(topology.nodes).toHaveLength(estate.length + 1);
    expect(topology.nodes.find((n) => n.id === "id:snet-web")?.kind).toBe("SUBNET");
    expect(topology.nodes.find((n) => n.id === "id:nsg-web")?.kind).toBe("NETWORK_SECURITY_GROUP");
    expect(topology.nodes.find((n) => n.id === "id:pip-1")?.kind).toBe("PUBLIC_IP");
    expectConsistent(topology);
  });

  it("links the resources (ARM ids matched case-insensitively, from either side)", () => {
    expect(edgesOf(topology, "CONTAINS").sort()).toEqual(
      [
        ["id:vnet-a", "id:snet-web"],
        ["id:vnet-a", "id:snet-data"],
        ["id:vnet-a", "id:snet-open"],
        ["id:vnet-b", "id:default"],
        ["id:snet-web", "id:nic-1"],
        ["id:snet-web", "id:nic-2"],
        ["id:snet-data", "id:nic-3"],
        ["id:snet-open", "id:nic-4"],
        ["id:default", "id:nic-5"],
      ].sort(),
    );
    expect(edgesOf(topology, "PROTECTED_BY").sort()).toEqual(
      [
        ["id:snet-web", "id:nsg-web"],
        ["id:snet-data", "id:nsg-data"],
        ["id:nic-1", "id:nsg-nic"],
      ].sort(),
    );
    expect(edgesOf(topology, "ATTACHED_TO").sort()).toEqual(
      [1, 2, 3, 4, 5].map((i) => [`id:nic-${i}`, `id:vm-${i}`]).sort(),
    );
    expect(edgesOf(topology, "ASSOCIATED_WITH").sort()).toEqual(
      [
        ["id:pip-1", "id:nic-1"],
        ["id:pip-3", "id:nic-3"],
        ["id:pip-4", "id:nic-4"],
      ].sort(),
    );
  });

  it("lets the internet reach exposed VMs on their open ports", () => {
    const fromInternet = topology.edges.filter((e) => e.from === INTERNET_NODE_ID);
    expect(fromInternet.map((e) => e.to).sort()).toEqual(["id:vm-1", "id:vm-4"]);
    expect(edge(topology, INTERNET_NODE_ID, "id:vm-1", "ALLOWS_TRAFFIC")?.ports).toEqual([
      range("TCP", 22),
      range("TCP", 80, 84),
      range("TCP", 87, 90),
    ]);
  });

  it("joins VMs of the same VNet with what the destination's NSGs let in", () => {
    // nsg-web lets the VNet in (default rule); the NIC NSG denies 85-86 over TCP and UDP; ICMP stays open.
    expect(edge(topology, "id:vm-2", "id:vm-1", "ALLOWS_TRAFFIC")?.ports).toEqual([
      range("ANY", 0, 84),
      range("ANY", 87, 65535),
    ]);
    // nsg-data denies RDP from the VNet.
    expect(edge(topology, "id:vm-1", "id:vm-3", "ALLOWS_TRAFFIC")?.ports).toEqual([
      range("TCP", 0, 3388),
      range("TCP", 3390, 65535),
      range("UDP", 0, 65535),
      range("ICMP", 0, 65535),
    ]);
    expect(edge(topology, "id:vm-3", "id:vm-4", "ALLOWS_TRAFFIC")?.ports).toEqual([range("ANY", 0, 65535)]);
    const vmToVm = topology.edges.filter((e) => e.kind === "ALLOWS_TRAFFIC" && e.from !== INTERNET_NODE_ID);
    expect(vmToVm).toHaveLength(4 * 3);
    expect(vmToVm.some((e) => e.from === "id:vm-5" || e.to === "id:vm-5")).toBe(false);
  });

  it("uses an NSG's own list of NICs when the NIC does not name its NSG", () => {
    const t = buildNetworkTopology([
      res(T.subnet, OPEN, "snet-open", {}),
      nsg("nsg-ssh", [armRule("AllowSsh", 100, "Allow", "Internet", "22")], {
        networkInterfaces: [{ id: armId(T.nic, "nic-9") }],
      }),
      nic("nic-9", OPEN, "10.0.3.9", { pip: "pip-9" }),
      pip("pip-9", "198.51.100.9"),
      vm("vm-9", ["nic-9"]),
    ]);
    expect(edge(t, "id:nic-9", "id:nsg-ssh", "PROTECTED_BY")).toBeDefined();
    expect(t.exposure.get("id:vm-9")?.openPorts).toEqual([open("TCP", 22, 22, "Internet")]);
  });

  it("uses the NSG of a subnet known only from its VNet", () => {
    const subnetId = subnetArmId("vnet-c", "embedded");
    const t = buildNetworkTopology([
      res(T.vnet, armId(T.vnet, "vnet-c"), "vnet-c", {
        subnets: [{ id: subnetId, properties: { networkSecurityGroup: { id: armId(T.nsg, "nsg-https") } } }],
      }),
      nsg("nsg-https", [armRule("AllowHttps", 100, "Allow", "Internet", "443")]),
      nic("nic-c", subnetId, "10.5.0.4", { pip: "pip-c" }),
      pip("pip-c", "198.51.100.20"),
      vm("vm-c", ["nic-c"]),
    ]);
    expect(t.exposure.get("id:vm-c")?.openPorts).toEqual([open("TCP", 443, 443, "Internet")]);
  });

  it("unites the exposure of several NICs", () => {
    const t = buildNetworkTopology([
      nsg("nsg-ssh", [armRule("AllowSsh", 100, "Allow", "Internet", "22")]),
      nsg("nsg-https", [armRule("AllowHttps", 100, "Allow", "Internet", "443")]),
      nic("nic-x", OPEN, "10.0.3.10", { pip: "pip-x", nsg: "nsg-ssh" }),
      nic("nic-y", OPEN, "10.0.3.11", { pip: "pip-y", nsg: "nsg-https" }),
      nic("nic-z", OPEN, "10.0.3.12", { nsg: "nsg-ssh" }),
      pip("pip-x", "198.51.100.30"),
      pip("pip-y", "198.51.100.31"),
      vm("vm-multi", ["nic-x", "nic-y", "nic-z"]),
    ]);
    expect(t.exposure.get("id:vm-multi")).toEqual({
      internetExposed: true,
      publicIps: ["198.51.100.30", "198.51.100.31"],
      openPorts: [open("TCP", 22, 22, "Internet"), open("TCP", 443, 443, "Internet")],
    });
    expect(t.exposure.get("id:pip-y")?.openPorts).toEqual([open("TCP", 443, 443, "Internet")]);
    expect(t.exposure.get("id:nic-z")).toEqual({ internetExposed: false, publicIps: [], openPorts: [] });
  });

  it(`skips VM-to-VM edges in a VNet with more than ${VM_TO_VM_EDGE_CAP} VMs`, () => {
    const estateOf = (count: number) =>
      Array.from({ length: count }, (_, i) => [
        nic(`n${i}`, OPEN, `10.0.${3 + (i >> 8)}.${i & 255}`),
        vm(`v${i}`, [`n${i}`]),
      ]).flat();
    const vmToVm = (t: NetworkTopology) => t.edges.filter((e) => e.kind === "ALLOWS_TRAFFIC").length;
    expect(vmToVm(buildNetworkTopology(estateOf(VM_TO_VM_EDGE_CAP)))).toBe(
      VM_TO_VM_EDGE_CAP * (VM_TO_VM_EDGE_CAP - 1),
    );
    expect(vmToVm(buildNetworkTopology(estateOf(VM_TO_VM_EDGE_CAP + 1)))).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// buildNetworkTopology: AWS
// ---------------------------------------------------------------------------------------------------------

describe("buildNetworkTopology (AWS)", () => {
  const ARN = "arn:aws:ec2:us-east-1:111122223333";
  const aws = (
    type: string,
    kind: string,
    awsId: string,
    name: string,
    properties: Record<string, unknown>,
  ) => res(type, `${ARN}:${kind}/${awsId}`, name, properties);
  const sg = (groupId: string, permissions: unknown[], withGroupIdProperty = true) =>
    aws("AWS::EC2::SecurityGroup", "security-group", groupId, groupId, {
      ...(withGroupIdProperty ? { GroupId: groupId } : {}),
      VpcId: "vpc-1",
      IpPermissions: permissions,
    });
  const perm = (from: number, cidrs: string[], cidrsV6: string[] = [], protocol = "tcp") => ({
    IpProtocol: protocol,
    FromPort: from,
    ToPort: from,
    IpRanges: cidrs.map((CidrIp) => ({ CidrIp })),
    Ipv6Ranges: cidrsV6.map((CidrIpv6) => ({ CidrIpv6 })),
    UserIdGroupPairs: [],
  });
  const instance = (
    name: string,
    props: { ip: string; publicIp?: string; groups: string[]; subnet?: string },
  ) =>
    aws("AWS::EC2::Instance", "instance", `i-${name}`, name, {
      InstanceId: `i-${name}`,
      PrivateIpAddress: props.ip,
      ...(props.publicIp ? { PublicIpAddress: props.publicIp } : {}),
      SubnetId: props.subnet ?? "subnet-pub",
      VpcId: "vpc-1",
      SecurityGroups: props.groups.map((GroupId) => ({ GroupId, GroupName: GroupId })),
    });
  const estate: NetworkResource[] = [
    aws("AWS::EC2::VPC", "vpc", "vpc-1", "vpc-1", { VpcId: "vpc-1", CidrBlock: "10.0.0.0/16" }),
    aws("AWS::EC2::Subnet", "subnet", "subnet-pub", "subnet-pub", { SubnetId: "subnet-pub", VpcId: "vpc-1" }),
    sg("sg-ssh", [perm(22, ["0.0.0.0/0"])]),
    // Referenced by the id at the end of its ARN only.
    sg("sg-web", [perm(443, [], ["::/0"]), perm(8080, ["10.0.0.0/16"])], false),
    sg("sg-internal", [perm(5432, ["10.0.0.0/16"])]),
    sg("sg-cluster", [
      { IpProtocol: "-1", UserIdGroupPairs: [{ GroupId: "sg-cluster" }], IpRanges: [], Ipv6Ranges: [] },
      { IpProtocol: "icmp", FromPort: -1, ToPort: -1, IpRanges: [{ CidrIp: "203.0.113.0/24" }] },
    ]),
    instance("bastion", { ip: "10.0.0.10", publicIp: "192.0.2.10", groups: ["sg-ssh"] }),
    instance("private", { ip: "10.0.0.11", groups: ["sg-ssh"] }),
    instance("web", { ip: "10.0.0.12", publicIp: "192.0.2.12", groups: ["sg-ssh", "sg-web"] }),
    instance("db", { ip: "10.0.0.13", publicIp: "192.0.2.13", groups: ["sg-internal"] }),
    instance("node1", { ip: "10.0.0.14", groups: ["sg-cluster"] }),
    instance("node2", { ip: "10.0.0.15", groups: ["sg-cluster"] }),
    aws("AWS::EC2::EIP", "elastic-ip", "eipalloc-1", "eip-node1", {
      AllocationId: "eipalloc-1",
      PublicIp: "192.0.2.99",
      InstanceId: "i-node1",
    }),
  ];
  const topology = buildNetworkTopology(estate);

  it.each<[string, boolean, string[], OpenPort[]]>([
    ["bastion", true, ["192.0.2.10"], [open("TCP", 22, 22, "0.0.0.0/0")]],
    ["private", false, [], []],
    ["web", true, ["192.0.2.12"], [open("TCP", 22, 22, "0.0.0.0/0"), open("TCP", 443, 443, "::/0")]],
    ["db", false, ["192.0.2.13"], []],
    ["node1", true, ["192.0.2.99"], [open("ICMP", 0, 65535, "203.0.113.0/24")]],
    ["node2", false, [], []],
  ])("exposure of %s", (name, internetExposed, publicIps, openPorts) => {
    expect(topology.exposure.get(`id:${name}`)).toEqual({ internetExposed, publicIps, openPorts });
  });

  it("links VPC, subnet, instances, security groups and elastic IPs", () => {
    expect(edgesOf(topology, "CONTAINS")).toEqual([
      ["id:vpc-1", "id:subnet-pub"],
      ...["bastion", "private", "web", "db", "node1", "node2"].map((n) => ["id:subnet-pub", `id:${n}`]),
    ]);
    expect(edgesOf(topology, "PROTECTED_BY")).toEqual([
      ["id:bastion", "id:sg-ssh"],
      ["id:private", "id:sg-ssh"],
      ["id:web", "id:sg-ssh"],
      ["id:web", "id:sg-web"],
      ["id:db", "id:sg-internal"],
      ["id:node1", "id:sg-cluster"],
      ["id:node2", "id:sg-cluster"],
    ]);
    expect(edgesOf(topology, "ASSOCIATED_WITH")).toEqual([["id:eip-node1", "id:node1"]]);
    expect(topology.exposure.get("id:eip-node1")?.internetExposed).toBe(true);
    expect(topology.nodes.find((n) => n.id === "id:sg-web")?.kind).toBe("NETWORK_SECURITY_GROUP");
    expect(topology.nodes.find((n) => n.id === "id:web")?.kind).toBe("VIRTUAL_MACHINE");
    expectConsistent(topology);
  });

  it("lets the internet reach the exposed instances", () => {
    expect(edgesOf(topology, "ALLOWS_TRAFFIC").filter(([from]) => from === INTERNET_NODE_ID)).toEqual([
      [INTERNET_NODE_ID, "id:bastion"],
      [INTERNET_NODE_ID, "id:web"],
      [INTERNET_NODE_ID, "id:node1"],
    ]);
    expect(edge(topology, INTERNET_NODE_ID, "id:web", "ALLOWS_TRAFFIC")?.ports).toEqual([
      range("TCP", 22),
      range("TCP", 443),
    ]);
  });

  it("joins instances of a VPC by their security groups (CIDRs and group references)", () => {
    expect(edge(topology, "id:private", "id:web", "ALLOWS_TRAFFIC")?.ports).toEqual([
      range("TCP", 22),
      range("TCP", 8080),
    ]);
    expect(edge(topology, "id:web", "id:db", "ALLOWS_TRAFFIC")?.ports).toEqual([range("TCP", 5432)]);
    expect(edge(topology, "id:node1", "id:node2", "ALLOWS_TRAFFIC")?.ports).toEqual([range("ANY", 0, 65535)]);
    expect(edge(topology, "id:bastion", "id:node2", "ALLOWS_TRAFFIC")).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------
// Peering
// ---------------------------------------------------------------------------------------------------------

describe("buildNetworkTopology (Azure VNet peering)", () => {
  const peering = (remote: string, state: string, access = true) => ({
    name: `peer-to-${remote}`,
    properties: {
      remoteVirtualNetwork: { id: armId(T.vnet, remote) },
      peeringState: state,
      allowVirtualNetworkAccess: access,
    },
  });
  const vnet = (name: string, prefix: string, peerings: unknown[]) =>
    res(T.vnet, armId(T.vnet, name), name, {
      addressSpace: { addressPrefixes: [prefix] },
      virtualNetworkPeerings: peerings,
    });
  const member = (name: string, vnetName: string, ip: string, subnetNsg?: string) => [
    res(T.subnet, subnetArmId(vnetName, "default"), `snet-${name}`, {
      ...(subnetNsg ? { networkSecurityGroup: { id: armId(T.nsg, subnetNsg) } } : {}),
    }),
    nic(`nic-${name}`, subnetArmId(vnetName, "default"), ip),
    vm(name, [`nic-${name}`]),
  ];
  const topology = buildNetworkTopology([
    // a <-> b, both sides Connected; a -> d only Initiated; a's peering to e blocks a's traffic to e.
    vnet("vnet-a", "10.1.0.0/16", [
      peering("vnet-b", "Connected"),
      peering("vnet-d", "Initiated"),
      peering("vnet-e", "Connected", false),
    ]),
    vnet("vnet-b", "10.2.0.0/16", [peering("vnet-a", "Connected"), peering("vnet-c", "Connected")]),
    // c lists no peerings (its records are not inventoried): b's Connected peering counts both ways.
    vnet("vnet-c", "10.3.0.0/16", []),
    vnet("vnet-d", "10.4.0.0/16", []),
    vnet("vnet-e", "10.5.0.0/16", [peering("vnet-a", "Connected")]),
    nsg("nsg-b", [armRule("DenyRdpFromVnet", 100, "Deny", "VirtualNetwork", "3389")]),
    ...member("vm-a", "vnet-a", "10.1.0.4"),
    ...member("vm-b", "vnet-b", "10.2.0.4", "nsg-b"),
    ...member("vm-c", "vnet-c", "10.3.0.4"),
    ...member("vm-d", "vnet-d", "10.4.0.4"),
    ...member("vm-e", "vnet-e", "10.5.0.4"),
  ]);

  it("links the VNets of each connected peering, per direction", () => {
    expect(edgesOf(topology, "PEERED_WITH").sort()).toEqual(
      [
        ["id:vnet-a", "id:vnet-b"],
        ["id:vnet-a", "id:vnet-e"],
        ["id:vnet-b", "id:vnet-a"],
        ["id:vnet-b", "id:vnet-c"],
        ["id:vnet-c", "id:vnet-b"],
        ["id:vnet-e", "id:vnet-a"],
      ].sort(),
    );
    expectConsistent(topology);
  });

  it("joins VMs of peered VNets with what the destination's NSGs let in from the VirtualNetwork tag", () => {
    expect(edge(topology, "id:vm-a", "id:vm-b", "ALLOWS_TRAFFIC")?.ports).toEqual([
      range("TCP", 0, 3388),
      range("TCP", 3390, 65535),
      range("UDP", 0, 65535),
      range("ICMP", 0, 65535),
    ]);
    expect(edge(topology, "id:vm-a", "id:vm-b", "ALLOWS_TRAFFIC")?.rules).toEqual(["nsg-b/AllowVnetInBound"]);
    expect(edge(topology, "id:vm-b", "id:vm-a", "ALLOWS_TRAFFIC")?.ports).toEqual([range("ANY", 0, 65535)]);
    expect(edge(topology, "id:vm-b", "id:vm-c", "ALLOWS_TRAFFIC")).toBeDefined();
    expect(edge(topology, "id:vm-c", "id:vm-b", "ALLOWS_TRAFFIC")).toBeDefined();
  });

  it("is not transitive, and ignores peerings not connected or without virtual-network access", () => {
    const between = (x: string, y: string) => [
      edge(topology, `id:${x}`, `id:${y}`, "ALLOWS_TRAFFIC"),
      edge(topology, `id:${y}`, `id:${x}`, "ALLOWS_TRAFFIC"),
    ];
    expect(between("vm-a", "vm-c")).toEqual([undefined, undefined]);
    expect(between("vm-a", "vm-d")).toEqual([undefined, undefined]);
    // a's peering to e does not allow virtual-network access; e's to a does.
    expect(edge(topology, "id:vm-a", "id:vm-e", "ALLOWS_TRAFFIC")).toBeUndefined();
    expect(edge(topology, "id:vm-e", "id:vm-a", "ALLOWS_TRAFFIC")?.ports).toEqual([range("ANY", 0, 65535)]);
  });
});

describe("buildNetworkTopology (AWS VPC peering)", () => {
  const ARN = "arn:aws:ec2:us-east-1:111122223333";
  const aws = (type: string, kind: string, awsId: string, properties: Record<string, unknown>) =>
    res(type, `${ARN}:${kind}/${awsId}`, awsId, properties);
  const vpc = (id: string, cidr: string) => aws("AWS::EC2::VPC", "vpc", id, { VpcId: id, CidrBlock: cidr });
  const sg = (id: string, vpcId: string, port: number, cidr: string) =>
    aws("AWS::EC2::SecurityGroup", "security-group", id, {
      GroupId: id,
      VpcId: vpcId,
      IpPermissions: [{ IpProtocol: "tcp", FromPort: port, ToPort: port, IpRanges: [{ CidrIp: cidr }] }],
    });
  const instance = (name: string, vpcId: string, ip: string, group: string) =>
    aws("AWS::EC2::Instance", "instance", name, {
      InstanceId: name,
      PrivateIpAddress: ip,
      VpcId: vpcId,
      SecurityGroups: [{ GroupId: group }],
    });
  const topology = buildNetworkTopology([
    vpc("vpc-1", "10.1.0.0/16"),
    vpc("vpc-2", "10.2.0.0/16"),
    vpc("vpc-3", "10.3.0.0/16"),
    sg("sg-app", "vpc-1", 22, "10.2.0.0/16"),
    sg("sg-db", "vpc-2", 5432, "10.1.0.0/16"),
    sg("sg-other", "vpc-3", 5432, "10.0.0.0/8"),
    instance("i-app", "vpc-1", "10.1.0.10", "sg-app"),
    instance("i-db", "vpc-2", "10.2.0.10", "sg-db"),
    instance("i-other", "vpc-3", "10.3.0.10", "sg-other"),
    // Active, in CloudFormation's shape.
    aws("AWS::EC2::VPCPeeringConnection", "vpc-peering-connection", "pcx-1", {
      VpcId: "vpc-1",
      PeerVpcId: "vpc-2",
    }),
    // Not yet accepted, in the EC2 API's shape.
    aws("AWS::EC2::VPCPeeringConnection", "vpc-peering-connection", "pcx-2", {
      RequesterVpcInfo: { VpcId: "vpc-1" },
      AccepterVpcInfo: { VpcId: "vpc-3" },
      Status: { Code: "pending-acceptance" },
    }),
  ]);

  it("links the VPCs of an active peering both ways, and no others", () => {
    expect(edgesOf(topology, "PEERED_WITH")).toEqual([
      ["id:vpc-1", "id:vpc-2"],
      ["id:vpc-2", "id:vpc-1"],
    ]);
    expect(topology.nodes.some((n) => n.id === "id:pcx-1")).toBe(false);
    expectConsistent(topology);
  });

  it("joins instances across the peering by the destination's security groups", () => {
    expect(edge(topology, "id:i-app", "id:i-db", "ALLOWS_TRAFFIC")?.ports).toEqual([range("TCP", 5432)]);
    expect(edge(topology, "id:i-db", "id:i-app", "ALLOWS_TRAFFIC")?.ports).toEqual([range("TCP", 22)]);
    expect(edge(topology, "id:i-app", "id:i-other", "ALLOWS_TRAFFIC")).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------
// Across accounts of one tenant
// ---------------------------------------------------------------------------------------------------------

describe("buildNetworkTopology (Azure hub and spokes in separate subscriptions)", () => {
  const sub = (name: string) => `/subscriptions/${name}/resourceGroups/rg-net/providers`;
  const HUB = sub("11111111-1111-1111-1111-111111111111");
  const SPOKE = sub("22222222-2222-2222-2222-222222222222");
  const SPOKE2 = sub("33333333-3333-3333-3333-333333333333");
  const UNKNOWN = `${sub("99999999-9999-9999-9999-999999999999")}/${T.vnet}/vnet-Partner`;
  const inAccount = (accountId: string, r: NetworkResource): NetworkResource => ({ ...r, accountId });
  const peering = (remote: string, access = true, state = "Connected") => ({
    name: `peer-${remote.split("/").pop()}`,
    properties: {
      remoteVirtualNetwork: { id: remote },
      peeringState: state,
      allowVirtualNetworkAccess: access,
    },
  });
  /** A VNet with one subnet (optionally behind an NSG) and one VM, all in `account`'s subscription. */
  const network = (
    account: string,
    at: string,
    name: string,
    ip: string,
    peerings: unknown[],
    nsgRules?: unknown[],
  ): NetworkResource[] => {
    const vnetId = `${at}/${T.vnet}/vnet-${name}`;
    const subnetId = `${vnetId}/subnets/default`;
    const nicId = `${at}/${T.nic}/nic-${name}`;
    return [
      res(T.vnet, vnetId, `vnet-${name}`, { virtualNetworkPeerings: peerings }),
      res(T.subnet, subnetId, `snet-${name}`, {
        ...(nsgRules ? { networkSecurityGroup: { id: `${at}/${T.nsg}/nsg-${name}` } } : {}),
      }),
      ...(nsgRules
        ? [res(T.nsg, `${at}/${T.nsg}/nsg-${name}`, `nsg-${name}`, { securityRules: nsgRules })]
        : []),
      res(T.nic, nicId, `nic-${name}`, {
        ipConfigurations: [
          { name: "ipconfig1", properties: { privateIPAddress: ip, subnet: { id: subnetId } } },
        ],
      }),
      res(T.vm, `${at}/${T.vm}/vm-${name}`, `vm-${name}`, {
        networkProfile: { networkInterfaces: [{ id: nicId }] },
      }),
    ].map((r) => inAccount(account, r));
  };
  const estate = [
    // The hub peers with both spokes (virtual-network access) and with a partner VNet nobody inventories.
    ...network("acct-hub", HUB, "hub", "10.0.0.4", [
      peering(`${SPOKE}/${T.vnet}/vnet-spoke`),
      peering(`${SPOKE2}/${T.vnet}/vnet-spoke2`),
      peering(UNKNOWN),
    ]),
    // Spoke 1 does not let its VMs into the hub, and its NSG keeps RDP out even from the VirtualNetwork tag.
    ...network(
      "acct-spoke",
      SPOKE,
      "spoke",
      "10.1.0.4",
      [peering(`${HUB}/${T.vnet}/vnet-hub`.toUpperCase(), false)],
      [armRule("DenyRdpFromVnet", 100, "Deny", "VirtualNetwork", "3389")],
    ),
    ...network("acct-spoke2", SPOKE2, "spoke2", "10.2.0.4", [peering(`${HUB}/${T.vnet}/vnet-hub`)]),
  ];
  const topology = buildNetworkTopology(estate);

  it("peers VNets of different subscriptions, and marks every node with its account", () => {
    expect(edgesOf(topology, "PEERED_WITH").sort()).toEqual(
      [
        ["id:vnet-hub", "id:vnet-spoke"],
        ["id:vnet-spoke", "id:vnet-hub"],
        ["id:vnet-hub", "id:vnet-spoke2"],
        ["id:vnet-spoke2", "id:vnet-hub"],
        ["id:vnet-hub", `external:${UNKNOWN.toLowerCase()}`],
        [`external:${UNKNOWN.toLowerCase()}`, "id:vnet-hub"],
      ].sort(),
    );
    expect(topology.nodes.find((n) => n.id === "id:vm-spoke")?.accountId).toBe("acct-spoke");
    expect(topology.nodes.find((n) => n.id === "id:vnet-hub")?.accountId).toBe("acct-hub");
    expectConsistent(topology);
  });

  it("joins VMs across subscriptions per direction's peering access and the destination's NSGs", () => {
    expect(edge(topology, "id:vm-hub", "id:vm-spoke", "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [
        range("TCP", 0, 3388),
        range("TCP", 3390, 65535),
        range("UDP", 0, 65535),
        range("ICMP", 0, 65535),
      ],
      rules: ["nsg-spoke/AllowVnetInBound"],
    });
    // The spoke's own record denies virtual-network access towards the hub.
    expect(edge(topology, "id:vm-spoke", "id:vm-hub", "ALLOWS_TRAFFIC")).toBeUndefined();
    expect(edge(topology, "id:vm-spoke2", "id:vm-hub", "ALLOWS_TRAFFIC")?.ports).toEqual([
      range("ANY", 0, 65535),
    ]);
    // Not transitive: spoke to spoke through the hub is no neighbour.
    expect(edge(topology, "id:vm-spoke2", "id:vm-spoke", "ALLOWS_TRAFFIC")).toBeUndefined();
    expect(edge(topology, "id:vm-spoke", "id:vm-spoke2", "ALLOWS_TRAFFIC")).toBeUndefined();
  });

  it("shows a peering to a network not in the inventory as an external network named by the remote id only", () => {
    const external = topology.nodes.filter((n) => n.kind === "EXTERNAL_NETWORK");
    expect(external).toEqual([
      {
        id: `external:${UNKNOWN.toLowerCase()}`,
        kind: "EXTERNAL_NETWORK",
        name: UNKNOWN,
        internetExposed: false,
        accountId: null,
      },
    ]);
    expect(topology.edges.filter((e) => e.kind === "ALLOWS_TRAFFIC" && e.to.startsWith("external:"))).toEqual(
      [],
    );
  });

  it("gives a spoke's view the hub VNet and the hub VM that reaches it, but nothing of the other spoke", () => {
    const view = accountView(topology, "acct-spoke");
    expect(view.nodes.map((n) => n.id).sort()).toEqual(
      [
        INTERNET_NODE_ID,
        "id:vnet-spoke",
        "id:snet-spoke",
        "id:nsg-spoke",
        "id:nic-spoke",
        "id:vm-spoke",
        // Neighbours in the hub's account: the peered VNet, the VM that reaches ours, and what places it there.
        "id:vnet-hub",
        "id:vm-hub",
        "id:nic-hub",
        "id:snet-hub",
      ].sort(),
    );
    expect(
      view.nodes
        .filter((n) => n.accountId === "acct-hub")
        .map((n) => n.id)
        .sort(),
    ).toEqual(["id:nic-hub", "id:snet-hub", "id:vm-hub", "id:vnet-hub"].sort());
    const links = view.edges.filter((e) => e.kind === "PEERED_WITH" || e.kind === "ALLOWS_TRAFFIC");
    expect(links.map((e) => [e.from, e.to, e.kind]).sort()).toEqual(
      [
        ["id:vnet-hub", "id:vnet-spoke", "PEERED_WITH"],
        ["id:vnet-spoke", "id:vnet-hub", "PEERED_WITH"],
        ["id:vm-hub", "id:vm-spoke", "ALLOWS_TRAFFIC"],
      ].sort(),
    );
    expect(view.edges.some((e) => e.from === "id:vnet-hub" && e.to === "id:snet-hub")).toBe(true);
  });

  it("gives the hub's view both spokes and the external network", () => {
    const view = accountView(topology, "acct-hub");
    const ids = view.nodes.map((n) => n.id);
    expect(ids).toEqual(
      expect.arrayContaining(["id:vnet-spoke", "id:vm-spoke", "id:vnet-spoke2", "id:vm-spoke2"]),
    );
    expect(ids).toContain(`external:${UNKNOWN.toLowerCase()}`);
    expect(ids).not.toContain("id:nsg-spoke");
    expect(accountView(topology, "acct-nobody")).toEqual({ nodes: [], edges: [] });
  });

  it("skips VM-to-VM edges across the accounts' peering when a VNet has more than the cap", () => {
    // Spoke 2's subnet gets more VMs, from yet another subscription: over the cap with the one it has.
    const crowd = Array.from({ length: VM_TO_VM_EDGE_CAP }, (_, i) => {
      const nicId = `${sub("crowd")}/${T.nic}/nic-crowd${i}`;
      return [
        res(T.nic, nicId, `nic-crowd${i}`, {
          ipConfigurations: [
            {
              name: "ipconfig1",
              properties: {
                privateIPAddress: `10.2.${1 + (i >> 8)}.${i & 255}`,
                subnet: { id: `${SPOKE2}/${T.vnet}/vnet-spoke2/subnets/default` },
              },
            },
          ],
        }),
        res(T.vm, `${sub("crowd")}/${T.vm}/vm-crowd${i}`, `vm-crowd${i}`, {
          networkProfile: { networkInterfaces: [{ id: nicId }] },
        }),
      ].map((r) => inAccount("acct-crowd", r));
    });
    const big = buildNetworkTopology([...estate, ...crowd.flat()]);
    expect(edge(big, "id:vm-hub", "id:vm-spoke", "ALLOWS_TRAFFIC")).toBeDefined();
    expect(
      big.edges.some(
        (e) => e.kind === "ALLOWS_TRAFFIC" && e.from === "id:vm-hub" && e.to.startsWith("id:vm-crowd"),
      ),
    ).toBe(false);
    expect(edge(big, "id:vm-hub", "id:vm-spoke2", "ALLOWS_TRAFFIC")).toBeUndefined();
  });

  it("links a spoke to the hub only: over the two, the spoke's view, exposure and traffic are the tenant's", () => {
    const spoke = estate.filter((r) => r.accountId === "acct-spoke");
    const links = networkLinks(spoke);
    expect(links.armIds).toContain(`${HUB}/${T.vnet}/vnet-hub`.toLowerCase());
    expect(links.armIds).not.toContain(`${SPOKE2}/${T.vnet}/vnet-spoke2`.toLowerCase());
    // Its subnet, NSG, NIC and VM resolve among its own resources.
    expect(links.armIds).toEqual([`${HUB}/${T.vnet}/vnet-hub`.toLowerCase()]);
    // Spoke 2 lists a peering to the hub, not to the spoke: what may point at the spoke is its own VNet.
    expect(links.networks).toContain(`${SPOKE}/${T.vnet}/vnet-spoke`.toLowerCase());
    // One hop: the hub, which also peers with spoke 2 (an external network when spoke 2 is not read).
    const scoped = buildNetworkTopology(estate.filter((r) => r.accountId !== "acct-spoke2"));
    expect(scoped.nodes.some((n) => n.kind === "EXTERNAL_NETWORK" && n.name.endsWith("vnet-spoke2"))).toBe(
      true,
    );
    expect(accountView(scoped, "acct-spoke")).toEqual(accountView(topology, "acct-spoke"));
    // The spoke's VM has an exposure: the loop compares it, not only undefined with undefined.
    expect(spoke.filter((r) => topology.exposure.has(r.id)).map((r) => r.id)).toContain("id:vm-spoke");
    for (const r of spoke) expect(scoped.exposure.get(r.id)).toEqual(topology.exposure.get(r.id));
    const traffic = (t: NetworkTopology) =>
      t.edges.filter(
        (e) => e.kind === "ALLOWS_TRAFFIC" && (e.from === "id:vm-spoke" || e.to === "id:vm-spoke"),
      );
    expect(traffic(scoped)).toEqual(traffic(topology));
    expect(traffic(topology).length).toBeGreaterThan(0);
  });

  it("names the hub's VMs, NICs and subnets as what another subscription may reference from its side; shown in a spoke's view, the hub's VM leads to its NIC and nothing of its peerings", () => {
    const hub = estate.filter((r) => r.accountId === "acct-hub");
    const lower = (id: string) => id.toLowerCase();
    expect(networkLinks(hub).targets.sort()).toEqual(
      [`${HUB}/${T.vnet}/vnet-hub/subnets/default`, `${HUB}/${T.nic}/nic-hub`, `${HUB}/${T.vm}/vm-hub`]
        .map(lower)
        .sort(),
    );
    const vnet = hub.find((r) => r.name === "vnet-hub")!;
    const vm = hub.find((r) => r.name === "vm-hub")!;
    // The hub's VNet, shown in the spoke's view: its peerings to spoke 2 and the partner are the hub's business.
    expect(networkLinks([vnet], { shown: true })).toEqual({
      armIds: [],
      awsIds: [],
      networks: [],
      subnets: [],
      targets: [],
    });
    expect(networkLinks([vm], { shown: true })).toEqual({
      armIds: [lower(`${HUB}/${T.nic}/nic-hub`)],
      awsIds: [],
      networks: [],
      subnets: [],
      targets: [lower(`${HUB}/${T.vm}/vm-hub`)],
    });
  });
});

describe("buildNetworkTopology (AWS VPC peering between two accounts)", () => {
  const arn = (account: string, kind: string, awsId: string) =>
    `arn:aws:ec2:eu-west-1:${account}:${kind}/${awsId}`;
  const aws = (
    account: string,
    type: string,
    kind: string,
    awsId: string,
    properties: Record<string, unknown>,
  ) => ({
    ...res(type, arn(account, kind, awsId), awsId, properties),
    accountId: `acct-${account}`,
  });
  const estate: NetworkResource[] = [
    aws("111111111111", "AWS::EC2::VPC", "vpc", "vpc-app", { VpcId: "vpc-app", CidrBlock: "10.1.0.0/16" }),
    aws("222222222222", "AWS::EC2::VPC", "vpc", "vpc-db", { VpcId: "vpc-db", CidrBlock: "10.2.0.0/16" }),
    // The app's group lets SSH in from the peer account's database group, referenced by id.
    aws("111111111111", "AWS::EC2::SecurityGroup", "security-group", "sg-app", {
      GroupId: "sg-app",
      GroupName: "sg-app",
      IpPermissions: [
        {
          IpProtocol: "tcp",
          FromPort: 22,
          ToPort: 22,
          UserIdGroupPairs: [{ UserId: "222222222222", GroupId: "sg-db", VpcPeeringConnectionId: "pcx-1" }],
        },
      ],
    }),
    aws("222222222222", "AWS::EC2::SecurityGroup", "security-group", "sg-db", {
      GroupId: "sg-db",
      IpPermissions: [
        { IpProtocol: "tcp", FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: "10.1.0.0/16" }] },
      ],
    }),
    aws("111111111111", "AWS::EC2::Instance", "instance", "i-app", {
      InstanceId: "i-app",
      VpcId: "vpc-app",
      PrivateIpAddress: "10.1.0.10",
      SecurityGroups: [{ GroupId: "sg-app" }],
    }),
    aws("222222222222", "AWS::EC2::Instance", "instance", "i-db", {
      InstanceId: "i-db",
      VpcId: "vpc-db",
      PrivateIpAddress: "10.2.0.10",
      SecurityGroups: [{ GroupId: "sg-db" }],
    }),
    // Requested by the app's account, accepted by the database's (EC2 API shape).
    aws("111111111111", "AWS::EC2::VPCPeeringConnection", "vpc-peering-connection", "pcx-1", {
      RequesterVpcInfo: { VpcId: "vpc-app", OwnerId: "111111111111" },
      AccepterVpcInfo: { VpcId: "vpc-db", OwnerId: "222222222222" },
      Status: { Code: "active" },
    }),
    // An active peering to a VPC nobody inventories.
    aws("111111111111", "AWS::EC2::VPCPeeringConnection", "vpc-peering-connection", "pcx-2", {
      VpcId: "vpc-app",
      PeerVpcId: "vpc-0partner",
      PeerOwnerId: "999999999999",
    }),
  ];
  const topology = buildNetworkTopology(estate);

  it("links the two accounts' VPCs and an external one, both ways", () => {
    expect(edgesOf(topology, "PEERED_WITH").sort()).toEqual(
      [
        ["id:vpc-app", "id:vpc-db"],
        ["id:vpc-db", "id:vpc-app"],
        ["id:vpc-app", "external:vpc-0partner"],
        ["external:vpc-0partner", "id:vpc-app"],
      ].sort(),
    );
    expect(topology.nodes.find((n) => n.id === "external:vpc-0partner")).toEqual({
      id: "external:vpc-0partner",
      kind: "EXTERNAL_NETWORK",
      name: "vpc-0partner",
      internetExposed: false,
      accountId: null,
    });
    expectConsistent(topology);
  });

  it("joins the instances by CIDR rules and by a reference to the peer account's security group", () => {
    expect(edge(topology, "id:i-app", "id:i-db", "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [range("TCP", 5432)],
      rules: ["sg-db"],
    });
    expect(edge(topology, "id:i-db", "id:i-app", "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [range("TCP", 22)],
      rules: ["sg-app"],
    });
  });

  it("connects nothing while the peering is not active", () => {
    const pending = estate.map((r) =>
      r.id === "id:pcx-1"
        ? { ...r, properties: { ...r.properties, Status: { Code: "pending-acceptance" } } }
        : r,
    );
    const t = buildNetworkTopology(pending);
    expect(edge(t, "id:vpc-app", "id:vpc-db", "PEERED_WITH")).toBeUndefined();
    expect(t.edges.filter((e) => e.kind === "ALLOWS_TRAFFIC")).toEqual([]);
  });

  it("gives each account's view the other's VPC and instance, marked with their account", () => {
    const view = accountView(topology, "acct-222222222222");
    expect(view.nodes.map((n) => [n.id, n.accountId]).sort()).toEqual(
      [
        [INTERNET_NODE_ID, null],
        ["id:vpc-db", "acct-222222222222"],
        ["id:sg-db", "acct-222222222222"],
        ["id:i-db", "acct-222222222222"],
        ["id:vpc-app", "acct-111111111111"],
        ["id:i-app", "acct-111111111111"],
      ].sort(),
    );
    // The app account's peering to the partner is its own business.
    expect(view.nodes.some((n) => n.kind === "EXTERNAL_NETWORK")).toBe(false);
    expect(accountView(topology, "acct-111111111111").nodes.map((n) => n.id)).toEqual(
      expect.arrayContaining(["id:vpc-db", "id:i-db", "external:vpc-0partner"]),
    );
  });

  it("links each account to the VPCs and groups it references outside itself, and names the VPCs a peering elsewhere may point at", () => {
    const app = networkLinks(estate.filter((r) => r.accountId === "acct-111111111111"));
    // What resolves among the app's own resources (its VPC, its group) is no link.
    expect(app.awsIds.sort()).toEqual(["sg-db", "vpc-0partner", "vpc-db"]);
    expect(app.armIds).toEqual([]);
    expect(app.networks.sort()).toEqual(["vpc-0partner", "vpc-app", "vpc-db"]);
    // The database account names nothing outside itself; the connection the app records points at its VPC.
    const db = networkLinks(estate.filter((r) => r.accountId === "acct-222222222222"));
    // What another account may name from its side: the database's group (an instance behind it) and instance
    // (an elastic IP on it).
    expect(db).toEqual({
      armIds: [],
      awsIds: [],
      networks: ["vpc-db"],
      subnets: [],
      targets: ["sg-db", "i-db"],
    });
  });

  it("names the subnets an account owns or uses, where another account's instances may place themselves", () => {
    const owner = [
      aws("333333333333", "AWS::EC2::VPC", "vpc", "vpc-shared", { VpcId: "vpc-shared" }),
      aws("333333333333", "AWS::EC2::Subnet", "subnet", "subnet-a", {
        SubnetId: "Subnet-A",
        VpcId: "vpc-shared",
      }),
    ];
    const participant = aws("444444444444", "AWS::EC2::Instance", "instance", "i-p", {
      InstanceId: "i-p",
      SubnetId: "subnet-a",
      PrivateIpAddress: "10.3.0.20",
    });
    // The owner names nothing of the participant: what it offers is its VPC and its subnet (by id and ARN tail).
    expect(networkLinks(owner)).toEqual({
      armIds: [],
      awsIds: [],
      networks: ["vpc-shared"],
      subnets: ["subnet-a"],
      targets: [],
    });
    // The participant's instance names the subnet only: a link to the owner, and where its VPC's members are.
    expect(networkLinks([participant])).toEqual({
      armIds: [],
      awsIds: ["subnet-a"],
      networks: [],
      subnets: ["subnet-a"],
      targets: ["i-p"],
    });
    // Shown in another account's map, the instance leads to its subnet (where it is placed) and to what names it
    // from its side; not to where other instances place themselves.
    expect(networkLinks([participant], { shown: true })).toEqual({
      armIds: [],
      awsIds: ["subnet-a"],
      networks: [],
      subnets: [],
      targets: ["i-p"],
    });
    expect(networkLinks([participant], { shown: true, among: owner }).awsIds).toEqual([]);
    const topology = buildNetworkTopology([...owner, participant]);
    expect(edge(topology, "id:subnet-a", "id:i-p", "CONTAINS")).toBeDefined();
    expect(accountView(topology, "acct-333333333333").nodes.map((n) => n.id)).toContain("id:i-p");
  });
});

// ---------------------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------------------

describe("buildNetworkTopology (malformed input)", () => {
  const OPEN = subnetArmId("vnet-a", "snet-open");
  const garbage = [
    { id: "g1", externalId: armId(T.vm, "g1"), type: T.vm, name: "g1", properties: null },
    { id: "g2", externalId: armId(T.vm, "g2"), type: T.vm, name: "g2", properties: { networkProfile: [] } },
    {
      id: "g3",
      externalId: armId(T.vm, "g3"),
      type: T.vm,
      name: "g3",
      properties: { networkProfile: { networkInterfaces: [null, 7, { id: 7 }, "x"] } },
    },
    {
      id: "g4",
      externalId: armId(T.nic, "g4"),
      type: T.nic,
      name: "g4",
      properties: { ipConfigurations: "x" },
    },
    {
      id: "g5",
      externalId: armId(T.nic, "g5"),
      type: T.nic,
      name: "g5",
      properties: { ipConfigurations: [null, { properties: { subnet: 5, publicIPAddress: [] } }] },
    },
    { id: "g6", externalId: armId(T.nsg, "g6"), type: T.nsg, name: "g6", properties: { securityRules: {} } },
    { id: "g7", externalId: armId(T.pip, "g7"), type: T.pip, name: "g7", properties: { ipConfiguration: 3 } },
    {
      id: "g8",
      externalId: "",
      type: "AWS::EC2::Instance",
      name: "g8",
      properties: { SecurityGroups: "sg-1" },
    },
    {
      id: "g9",
      externalId: "arn:aws:ec2:us-east-1:1:security-group/sg-9",
      type: "AWS::EC2::SecurityGroup",
      name: "g9",
      properties: { IpPermissions: [null, { IpProtocol: 5 }, { IpProtocol: "tcp", FromPort: "x" }] },
    },
    { id: "g10", externalId: 12, type: null, name: null, properties: "nope" },
    { id: null, externalId: "x", type: T.vm, name: "no id", properties: {} },
    null,
    42,
  ] as unknown as NetworkResource[];

  it("never throws and leaves garbage unconnected", () => {
    const t = buildNetworkTopology(garbage);
    expectConsistent(t);
    expect(t.nodes.map((n) => n.id)).toEqual([
      "internet",
      "g1",
      "g2",
      "g3",
      "g4",
      "g5",
      "g6",
      "g7",
      "g8",
      "g9",
    ]);
    expect(t.edges).toEqual([]);
    for (const id of ["g1", "g2", "g3", "g8"])
      expect(t.exposure.get(id)).toEqual({ internetExposed: false, publicIps: [], openPorts: [] });
  });

  it.each([
    ["undefined", undefined],
    ["null", null],
    ["an object", {}],
  ])("returns just the internet for %s", (_label, input) => {
    const t = buildNetworkTopology(input as unknown as NetworkResource[]);
    expect(t.nodes.map((n) => n.id)).toEqual([INTERNET_NODE_ID]);
    expect(t.edges).toEqual([]);
    expect(t.exposure.size).toBe(0);
  });

  it("ignores dangling references", () => {
    const t = buildNetworkTopology([
      nic("nic-d", subnetArmId("vnet-missing", "snet-missing"), "10.0.0.4", {
        pip: "pip-missing",
        nsg: "nsg-x",
      }),
      vm("vm-d", ["nic-d", "nic-missing"]),
      pip("pip-d", "198.51.100.50", "nic-missing"),
      res("AWS::EC2::Instance", "arn:aws:ec2:us-east-1:1:instance/i-d", "i-d", {
        PublicIpAddress: "192.0.2.50",
        SubnetId: "subnet-missing",
        VpcId: "vpc-missing",
        SecurityGroups: [{ GroupId: "sg-missing" }],
      }),
    ]);
    expectConsistent(t);
    expect(t.edges).toEqual([edge(t, "id:nic-d", "id:vm-d", "ATTACHED_TO")]);
    // The NIC's public IP is not in the inventory: no public IP, so no exposure.
    expect(t.exposure.get("id:vm-d")?.internetExposed).toBe(false);
    // An instance whose security groups are unknown lets nothing in.
    expect(t.exposure.get("id:i-d")).toEqual({
      internetExposed: false,
      publicIps: ["192.0.2.50"],
      openPorts: [],
    });
  });

  it("ignores references to resources of the wrong kind", () => {
    const wrongNic = res(T.nic, armId(T.nic, "nic-w"), "nic-w", {
      ipConfigurations: [
        {
          name: "ipconfig1",
          properties: { subnet: { id: OPEN }, publicIPAddress: { id: armId(T.vm, "vm-w") } },
        },
      ],
      networkSecurityGroup: { id: OPEN },
    });
    const t = buildNetworkTopology([
      res(T.subnet, OPEN, "snet-open", { networkSecurityGroup: { id: armId(T.vm, "vm-w") } }),
      wrongNic,
      vm("vm-w", ["nic-w"]),
    ]);
    expect(edgesOf(t, "PROTECTED_BY")).toEqual([]);
    expect(edgesOf(t, "ASSOCIATED_WITH")).toEqual([]);
    expect(t.exposure.get("id:vm-w")?.internetExposed).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The demo estate and scale
// ---------------------------------------------------------------------------------------------------------

describe("buildNetworkTopology (demo estate)", () => {
  const resources: NetworkResource[] = demoResources().map((r) => ({ ...r, id: r.externalId }));
  const topology = buildNetworkTopology(resources);
  const byName = new Map(resources.map((r) => [r.name, r.id]));
  const exposureOf = (name: string) => topology.exposure.get(byName.get(name) ?? "");
  const computeIds = resources
    .filter((r) => r.type === "Microsoft.Compute/virtualMachines" || r.type === "AWS::EC2::Instance")
    .map((r) => r.id);

  it("has the internet node and no edge to a missing node", () => {
    expectConsistent(topology);
  });

  it("has an exposure for every VM and instance", () => {
    for (const id of computeIds) expect(topology.exposure.has(id)).toBe(true);
  });

  it("finds several internet-exposed VMs and instances, each with an open port and a public IP", () => {
    const exposed = computeIds.filter((id) => topology.exposure.get(id)?.internetExposed);
    expect(exposed.length).toBeGreaterThanOrEqual(3);
    for (const id of exposed) {
      const exposure = topology.exposure.get(id);
      expect(exposure?.openPorts.length).toBeGreaterThanOrEqual(1);
      expect(exposure?.publicIps.length).toBeGreaterThanOrEqual(1);
      expect(edge(topology, INTERNET_NODE_ID, id, "ALLOWS_TRAFFIC")).toBeDefined();
    }
    // Both clouds contribute.
    expect(exposed.some((id) => id.startsWith("/subscriptions/"))).toBe(true);
    expect(exposed.some((id) => id.startsWith("arn:aws:"))).toBe(true);
  });

  it("exposes the jump hosts' RDP and the bastion's SSH, not the app VM behind DenyInternetInbound", () => {
    const ports = (name: string) => exposureOf(name)?.openPorts.map((p) => `${p.protocol}/${p.fromPort}`);
    expect(ports("vm-jump-01")).toEqual(expect.arrayContaining(["TCP/22", "TCP/3389"]));
    expect(ports("bastion-prod-01")).toEqual(["TCP/22"]);
    expect(exposureOf("vm-app-prod-03")).toMatchObject({ internetExposed: false, openPorts: [] });
    expect(exposureOf("vm-app-prod-03")?.publicIps).toHaveLength(1);
  });

  it("joins VMs inside their networks, and links the peered VNets", () => {
    expect(topology.edges.some((e) => e.kind === "ALLOWS_TRAFFIC" && e.from !== INTERNET_NODE_ID)).toBe(true);
    for (const kind of ["CONTAINS", "ATTACHED_TO", "PROTECTED_BY", "ASSOCIATED_WITH", "PEERED_WITH"] as const)
      expect(edgesOf(topology, kind).length).toBeGreaterThan(0);
  });
});

describe("buildNetworkTopology (scale)", () => {
  it.each(["azure", "aws"] as const)("handles 10,000 synthetic %s resources quickly", (account) => {
    const resources: NetworkResource[] = syntheticResources(10_000, account).map((r) => ({
      ...r,
      id: r.externalId,
    }));
    const started = performance.now();
    const topology = buildNetworkTopology(resources);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(topology.nodes.length).toBeGreaterThan(1_000);
    expect([...topology.exposure.values()].some((e) => e.internetExposed)).toBe(true);
    expectConsistent(topology);
  });
});

describe("the rules behind ALLOWS_TRAFFIC edges", () => {
  const WEB = subnetArmId("vnet-r", "snet-web");
  const APP = subnetArmId("vnet-r", "snet-app");
  const topology = buildNetworkTopology([
    res(T.vnet, armId(T.vnet, "vnet-r"), "vnet-r", {}),
    res(T.subnet, WEB, "snet-web", { networkSecurityGroup: { id: armId(T.nsg, "nsg-web") } }),
    res(T.subnet, APP, "snet-app", {}),
    nsg("nsg-web", [
      armRule("AllowSshFromApp", 100, "Allow", "10.0.2.0/24", "22"),
      armRule("AllowHttps", 110, "Allow", "Internet", "443"),
    ]),
    nsg("nsg-nic", [armRule("AllowAll", 100, "Allow", "*", "*", "*")]),
    nic("nic-web", WEB, "10.0.1.4", { pip: "pip-web", nsg: "nsg-nic" }),
    pip("pip-web", "203.0.113.10"),
    nic("nic-app", APP, "10.0.2.4"),
    vm("vm-web", ["nic-web"]),
    vm("vm-app", ["nic-app"]),
  ]);

  it("names the allowing rule of every NSG the traffic passes, and none when nothing filters it", () => {
    expect(edge(topology, INTERNET_NODE_ID, "id:vm-web", "ALLOWS_TRAFFIC")?.rules).toEqual([
      "nsg-nic/AllowAll",
      "nsg-web/AllowHttps",
    ]);
    // From the app subnet: SSH by the custom rule, the rest of the VNet by Azure's default rule.
    expect(edge(topology, "id:vm-app", "id:vm-web", "ALLOWS_TRAFFIC")?.rules).toEqual([
      "nsg-nic/AllowAll",
      "nsg-web/AllowSshFromApp",
      "nsg-web/AllowVnetInBound",
    ]);
    expect(edge(topology, "id:vm-web", "id:vm-app", "ALLOWS_TRAFFIC")?.rules).toEqual([]);
    expect(topology.edges.filter((e) => e.kind !== "ALLOWS_TRAFFIC" && e.rules.length > 0)).toEqual([]);
  });
});
