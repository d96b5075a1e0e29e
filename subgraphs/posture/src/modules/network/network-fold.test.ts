import { foldNetworkMap, placedIn } from "./network-fold";
import { buildNetworkTopology, INTERNET_NODE_ID, viewAround, type NetworkResource } from "./network-topology";
import {
  NetworkEdge,
  NetworkEdgeKind,
  NetworkMap,
  NetworkNode,
  NetworkNodeKind,
  NetworkProtocol,
} from "./network.types";
import { PolicySeverity } from "../policies/policies.types";

const ARM = "/subscriptions/11111111-0000-0000-0000-000000000000/resourceGroups/rg/providers";
const rule = (name: string, priority: number, source: string, port: string, access = "Allow") => ({
  name,
  properties: {
    priority,
    direction: "Inbound",
    access,
    protocol: access === "Allow" ? "Tcp" : "*",
    sourceAddressPrefix: source,
    sourcePortRange: "*",
    destinationAddressPrefix: "*",
    destinationPortRange: port,
  },
});

/**
 * Two peered Azure VNets. `web` holds a subnet behind an NSG open to the internet on 443 and SSH from `app`'s
 * range (and nothing else from there), two VMs with NICs (the first with a public IP); `app` a subnet without an
 * NSG and one VM.
 */
function estate(): NetworkResource[] {
  const vnet = (name: string, prefix: string, peer: string) => ({
    id: `vnet-${name}`,
    type: "Microsoft.Network/virtualNetworks",
    name: `vnet-${name}`,
    externalId: `${ARM}/Microsoft.Network/virtualNetworks/vnet-${name}`,
    properties: {
      addressSpace: { addressPrefixes: [prefix] },
      virtualNetworkPeerings: [
        {
          name: `to-${peer}`,
          properties: {
            remoteVirtualNetwork: { id: `${ARM}/Microsoft.Network/virtualNetworks/vnet-${peer}` },
            peeringState: "Connected",
            allowVirtualNetworkAccess: true,
          },
        },
      ],
    },
  });
  const subnet = (network: string, nsg?: string) => ({
    id: `snet-${network}`,
    type: "Microsoft.Network/virtualNetworks/subnets",
    name: `snet-${network}`,
    externalId: `${ARM}/Microsoft.Network/virtualNetworks/vnet-${network}/subnets/default`,
    properties: nsg
      ? { networkSecurityGroup: { id: `${ARM}/Microsoft.Network/networkSecurityGroups/${nsg}` } }
      : {},
  });
  const nic = (name: string, network: string, ip: string, pip?: string) => ({
    id: `nic-${name}`,
    type: "Microsoft.Network/networkInterfaces",
    name: `nic-${name}`,
    externalId: `${ARM}/Microsoft.Network/networkInterfaces/nic-${name}`,
    properties: {
      ipConfigurations: [
        {
          name: "ipconfig1",
          properties: {
            privateIPAddress: ip,
            subnet: { id: `${ARM}/Microsoft.Network/virtualNetworks/vnet-${network}/subnets/default` },
            ...(pip ? { publicIPAddress: { id: `${ARM}/Microsoft.Network/publicIPAddresses/${pip}` } } : {}),
          },
        },
      ],
    },
  });
  const vm = (name: string) => ({
    id: `vm-${name}`,
    type: "Microsoft.Compute/virtualMachines",
    name: `vm-${name}`,
    externalId: `${ARM}/Microsoft.Compute/virtualMachines/vm-${name}`,
    properties: {
      networkProfile: {
        networkInterfaces: [{ id: `${ARM}/Microsoft.Network/networkInterfaces/nic-${name}` }],
      },
    },
  });
  return [
    vnet("web", "10.1.0.0/16", "app"),
    vnet("app", "10.2.0.0/16", "web"),
    subnet("web", "nsg-web"),
    subnet("app"),
    {
      id: "nsg-web",
      type: "Microsoft.Network/networkSecurityGroups",
      name: "nsg-web",
      externalId: `${ARM}/Microsoft.Network/networkSecurityGroups/nsg-web`,
      properties: {
        securityRules: [
          rule("AllowHttps", 100, "Internet", "443"),
          rule("AllowSshFromApp", 110, "10.2.0.0/16", "22"),
          rule("DenyApp", 120, "10.2.0.0/16", "*", "Deny"),
        ],
      },
    },
    {
      id: "pip-web1",
      type: "Microsoft.Network/publicIPAddresses",
      name: "pip-web1",
      externalId: `${ARM}/Microsoft.Network/publicIPAddresses/pip-web1`,
      properties: { ipAddress: "20.1.1.1" },
    },
    nic("web1", "web", "10.1.0.4", "pip-web1"),
    nic("web2", "web", "10.1.0.5"),
    nic("app1", "app", "10.2.0.4"),
    vm("web1"),
    vm("web2"),
    vm("app1"),
    // A VM without a NIC: no network places it.
    {
      id: "vm-lone",
      type: "Microsoft.Compute/virtualMachines",
      name: "vm-lone",
      externalId: `${ARM}/Microsoft.Compute/virtualMachines/vm-lone`,
      properties: {},
    },
  ].map((r) => ({ ...r, accountId: "acct" }));
}

/** The estate's map as the service shows it at LOW, every VM with a recommendation of the given severity. */
function resourceMap(severity: Record<string, PolicySeverity>): NetworkMap {
  const topology = buildNetworkTopology(estate());
  return Object.assign(new NetworkMap(), {
    nodes: topology.nodes.map((n) =>
      Object.assign(new NetworkNode(), {
        ...n,
        kind: n.kind as NetworkNodeKind,
        highestSeverity: severity[n.id] ?? null,
        unhealthyRecommendations: severity[n.id] ? 2 : 0,
        contents: null,
      }),
    ),
    edges: topology.edges.map((e) =>
      Object.assign(new NetworkEdge(), { ...e, kind: e.kind as NetworkEdgeKind, connections: 1 }),
    ),
  });
}

/** A node of a hand-made resource map, with no recommendation. */
const n = (id: string, kind: NetworkNodeKind) =>
  Object.assign(new NetworkNode(), {
    id,
    kind,
    name: id,
    accountId: null,
    internetExposed: false,
    highestSeverity: null,
    unhealthyRecommendations: 0,
    contents: null,
  });

/** An edge of a hand-made resource map. */
const e = (
  from: string,
  to: string,
  kind: NetworkEdgeKind,
  ports: NetworkEdge["ports"] = [],
  rules: string[] = [],
) => Object.assign(new NetworkEdge(), { from, to, kind, ports, rules, connections: 1 });

/** Two VNets `a` and `b`, each with a subnet, both subnets behind `nsg-shared`; then `nodes` and `edges`. */
const sharedNsg = (nodes: NetworkNode[], edges: NetworkEdge[]) =>
  Object.assign(new NetworkMap(), {
    nodes: [
      n("a", NetworkNodeKind.VIRTUAL_NETWORK),
      n("b", NetworkNodeKind.VIRTUAL_NETWORK),
      n("snet-a", NetworkNodeKind.SUBNET),
      n("snet-b", NetworkNodeKind.SUBNET),
      n("nsg-shared", NetworkNodeKind.NETWORK_SECURITY_GROUP),
      ...nodes,
    ],
    edges: [
      e("a", "snet-a", NetworkEdgeKind.CONTAINS),
      e("b", "snet-b", NetworkEdgeKind.CONTAINS),
      e("snet-a", "nsg-shared", NetworkEdgeKind.PROTECTED_BY),
      e("snet-b", "nsg-shared", NetworkEdgeKind.PROTECTED_BY),
      ...edges,
    ],
  });

describe("foldNetworkMap", () => {
  const severities = {
    "vm-web1": PolicySeverity.HIGH,
    "vm-web2": PolicySeverity.LOW,
    "vm-app1": PolicySeverity.MEDIUM,
    "nsg-web": PolicySeverity.MEDIUM,
  };
  const before = resourceMap(severities);
  const folded = foldNetworkMap(before);
  const node = (id: string) => folded.nodes.find((n) => n.id === id);
  const edge = (from: string, to: string, kind: NetworkEdgeKind) =>
    folded.edges.find((e) => e.from === from && e.to === to && e.kind === kind);

  it("folds each VNet's subnets, NSGs, NICs, VMs and public IPs into one node, summing them up", () => {
    expect(folded.nodes.map((n) => n.id)).toEqual([INTERNET_NODE_ID, "vnet-web", "vnet-app", "vm-lone"]);
    expect(node("vnet-web")).toMatchObject({
      kind: NetworkNodeKind.VIRTUAL_NETWORK,
      name: "vnet-web",
      accountId: "acct",
      internetExposed: true,
      highestSeverity: PolicySeverity.HIGH,
      unhealthyRecommendations: 6,
      // The VNet, its subnet and NSG, two NICs, two VMs and the public IP.
      contents: { resources: 8, subnets: 1, virtualMachines: 2, exposedVirtualMachines: 1 },
    });
    expect(node("vnet-app")).toMatchObject({
      internetExposed: false,
      highestSeverity: PolicySeverity.MEDIUM,
      unhealthyRecommendations: 2,
      contents: { resources: 4, subnets: 1, virtualMachines: 1, exposedVirtualMachines: 0 },
    });
    expect(node(INTERNET_NODE_ID)?.contents).toBeNull();
  });

  it("keeps what no network places as a node of its own", () => {
    expect(node("vm-lone")).toMatchObject({
      kind: NetworkNodeKind.VIRTUAL_MACHINE,
      contents: { resources: 1, subnets: 0, virtualMachines: 1, exposedVirtualMachines: 0 },
    });
  });

  it("keeps the peerings, drops what places resources in their network, and merges traffic per pair of networks", () => {
    expect(edge("vnet-web", "vnet-app", NetworkEdgeKind.PEERED_WITH)).toMatchObject({ connections: 1 });
    expect(edge("vnet-app", "vnet-web", NetworkEdgeKind.PEERED_WITH)).toMatchObject({ connections: 1 });
    for (const kind of [
      NetworkEdgeKind.CONTAINS,
      NetworkEdgeKind.ATTACHED_TO,
      NetworkEdgeKind.PROTECTED_BY,
      NetworkEdgeKind.ASSOCIATED_WITH,
    ])
      expect(folded.edges.filter((e) => e.kind === kind)).toEqual([]);
    // The internet reaches vm-web1 only (the one with a public IP), on 443.
    expect(edge(INTERNET_NODE_ID, "vnet-web", NetworkEdgeKind.ALLOWS_TRAFFIC)).toMatchObject({
      ports: [{ protocol: "TCP", fromPort: 443, toPort: 443 }],
      rules: ["nsg-web/AllowHttps"],
      connections: 1,
    });
    // app1 reaches both web VMs: the resource map's two edges, merged.
    const resourcePairs = before.edges.filter(
      (e) => e.kind === NetworkEdgeKind.ALLOWS_TRAFFIC && e.from === "vm-app1" && e.to.startsWith("vm-web"),
    );
    expect(resourcePairs).toHaveLength(2);
    const appToWeb = edge("vnet-app", "vnet-web", NetworkEdgeKind.ALLOWS_TRAFFIC);
    expect(appToWeb?.connections).toBe(2);
    expect(appToWeb?.ports).toEqual(resourcePairs[0].ports);
    expect(appToWeb?.rules).toEqual([...new Set(resourcePairs.flatMap((e) => e.rules))].sort());
    expect(appToWeb?.ports).toContainEqual({ protocol: "TCP", fromPort: 22, toPort: 22 });
    // Traffic between the web VMs stays inside their network: an edge of the network to itself.
    expect(edge("vnet-web", "vnet-web", NetworkEdgeKind.ALLOWS_TRAFFIC)?.connections).toBe(2);
  });

  it("accounts for every ALLOWS_TRAFFIC edge of the resource map once", () => {
    const traffic = (m: NetworkMap) =>
      m.edges.filter((e) => e.kind === NetworkEdgeKind.ALLOWS_TRAFFIC).reduce((n, e) => n + e.connections, 0);
    expect(traffic(folded)).toBe(traffic(before));
    expect(traffic(before)).toBeGreaterThan(4);
  });

  it("counts a resource lying in two networks in each, with no placing edge between the networks", () => {
    // And a NIC in no subnet, its VM: no network places them.
    const map = sharedNsg(
      [n("nic-lone", NetworkNodeKind.NETWORK_INTERFACE), n("vm-lone", NetworkNodeKind.VIRTUAL_MACHINE)],
      [e("nic-lone", "vm-lone", NetworkEdgeKind.ATTACHED_TO)],
    );
    const folded = foldNetworkMap(map);
    expect(folded.nodes.map((node) => [node.id, node.contents?.resources])).toEqual([
      ["a", 3],
      ["b", 3],
      ["nic-lone", 1],
      ["vm-lone", 1],
    ]);
    expect(folded.edges.map((edge) => [edge.from, edge.to, edge.kind])).toEqual([
      ["nic-lone", "vm-lone", NetworkEdgeKind.ATTACHED_TO],
    ]);
  });

  it("unites ports of different ranges and protocols", () => {
    const map = Object.assign(new NetworkMap(), {
      nodes: [
        n("a", NetworkNodeKind.VIRTUAL_NETWORK),
        n("b", NetworkNodeKind.VIRTUAL_NETWORK),
        n("vm-a", NetworkNodeKind.VIRTUAL_MACHINE),
        n("vm-b1", NetworkNodeKind.VIRTUAL_MACHINE),
        n("vm-b2", NetworkNodeKind.VIRTUAL_MACHINE),
      ],
      edges: [
        e("a", "vm-a", NetworkEdgeKind.CONTAINS),
        e("b", "vm-b1", NetworkEdgeKind.CONTAINS),
        e("b", "vm-b2", NetworkEdgeKind.CONTAINS),
        e(
          "vm-a",
          "vm-b1",
          NetworkEdgeKind.ALLOWS_TRAFFIC,
          [{ protocol: NetworkProtocol.TCP, fromPort: 80, toPort: 90 }],
          ["sg-2"],
        ),
        e(
          "vm-a",
          "vm-b2",
          NetworkEdgeKind.ALLOWS_TRAFFIC,
          [
            { protocol: NetworkProtocol.TCP, fromPort: 91, toPort: 100 },
            { protocol: NetworkProtocol.UDP, fromPort: 53, toPort: 53 },
          ],
          ["sg-1", "sg-2"],
        ),
      ],
    });
    expect(foldNetworkMap(map).edges).toEqual([
      {
        from: "a",
        to: "b",
        kind: NetworkEdgeKind.ALLOWS_TRAFFIC,
        ports: [
          { protocol: "TCP", fromPort: 80, toPort: 100 },
          { protocol: "UDP", fromPort: 53, toPort: 53 },
        ],
        rules: ["sg-1", "sg-2"],
        connections: 2,
      },
    ]);
  });
});

describe("placedIn", () => {
  const topology = buildNetworkTopology(estate());

  it("gives what lies in a VNet, as the NETWORKS view counts it", () => {
    expect([...placedIn(topology, "vnet-web")].sort()).toEqual(
      ["vnet-web", "snet-web", "nsg-web", "nic-web1", "nic-web2", "vm-web1", "vm-web2", "pip-web1"].sort(),
    );
    expect([...placedIn(topology, "vnet-app")].sort()).toEqual([
      "nic-app1",
      "snet-app",
      "vm-app1",
      "vnet-app",
    ]);
    const folded = foldNetworkMap(resourceMap({}));
    for (const id of ["vnet-web", "vnet-app"])
      expect(placedIn(topology, id).size).toBe(
        folded.nodes.find((node) => node.id === id)?.contents?.resources,
      );
  });

  it("places a shared NSG in both networks, and nothing for what is no VNet/VPC", () => {
    // And a peering, which places nothing.
    const map = sharedNsg([], [e("a", "b", NetworkEdgeKind.PEERED_WITH)]);
    expect([...placedIn(map, "a")]).toEqual(["a", "snet-a", "nsg-shared"]);
    expect([...placedIn(map, "b")]).toEqual(["b", "snet-b", "nsg-shared"]);
    for (const id of ["snet-a", "nsg-shared", INTERNET_NODE_ID, "unknown"])
      expect(placedIn(map, id).size).toBe(0);
  });

  it("gives with viewAround a network's map: its own, its peer, the VM its VMs exchange traffic with and what places it", () => {
    const view = viewAround(topology, placedIn(topology, "vnet-app"));
    expect(view.nodes.map((node) => node.id).sort()).toEqual(
      [INTERNET_NODE_ID, "vnet-app", "snet-app", "nic-app1", "vm-app1"]
        .concat(["vnet-web", "vm-web1", "vm-web2", "nic-web1", "nic-web2", "snet-web"])
        .sort(),
    );
    // The traffic between the web VMs is the other network's own; the internet's to a shown VM stays.
    expect(topology.edges.some((edge) => edge.from === "vm-web1" && edge.to === "vm-web2")).toBe(true);
    const links = view.edges.filter((edge) => edge.kind === "ALLOWS_TRAFFIC" || edge.kind === "PEERED_WITH");
    expect(links.map((edge) => `${edge.from} ${edge.to} ${edge.kind}`).sort()).toEqual([
      "internet vm-web1 ALLOWS_TRAFFIC",
      "vm-app1 vm-web1 ALLOWS_TRAFFIC",
      "vm-app1 vm-web2 ALLOWS_TRAFFIC",
      "vm-web1 vm-app1 ALLOWS_TRAFFIC",
      "vm-web2 vm-app1 ALLOWS_TRAFFIC",
      "vnet-app vnet-web PEERED_WITH",
      "vnet-web vnet-app PEERED_WITH",
    ]);
  });
});
