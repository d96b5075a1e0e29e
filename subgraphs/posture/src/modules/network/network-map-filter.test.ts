import { INTERNET_NODE_ID } from "./network-topology";
import { filterNetworkMap } from "./network.service";
import { NetworkEdge, NetworkEdgeKind, NetworkNode, NetworkNodeKind } from "./network.types";
import { PolicySeverity } from "../policies/policies.types";

const node = (
  id: string,
  kind: NetworkNodeKind,
  highestSeverity: PolicySeverity | null = null,
  exposed = false,
) =>
  Object.assign(new NetworkNode(), {
    id,
    kind,
    name: id,
    accountId: null,
    internetExposed: exposed,
    highestSeverity,
    unhealthyRecommendations: highestSeverity ? 1 : 0,
  });
const edge = (from: string, to: string, kind: NetworkEdgeKind) =>
  Object.assign(new NetworkEdge(), { from, to, kind, ports: [], rules: [] });

/** Two peered VNets, each a subnet, a NIC and a VM; only vm-a has a HIGH recommendation. */
function peeredEstate(vmBSeverity: PolicySeverity | null) {
  const nodes = [
    node(INTERNET_NODE_ID, NetworkNodeKind.INTERNET),
    ...["a", "b"].flatMap((x) => [
      node(`vnet-${x}`, NetworkNodeKind.VIRTUAL_NETWORK),
      node(`snet-${x}`, NetworkNodeKind.SUBNET),
      node(`nic-${x}`, NetworkNodeKind.NETWORK_INTERFACE),
    ]),
    node("vm-a", NetworkNodeKind.VIRTUAL_MACHINE, PolicySeverity.HIGH, true),
    node("vm-b", NetworkNodeKind.VIRTUAL_MACHINE, vmBSeverity),
  ];
  const edges = [
    ...["a", "b"].flatMap((x) => [
      edge(`vnet-${x}`, `snet-${x}`, NetworkEdgeKind.CONTAINS),
      edge(`snet-${x}`, `nic-${x}`, NetworkEdgeKind.CONTAINS),
      edge(`nic-${x}`, `vm-${x}`, NetworkEdgeKind.ATTACHED_TO),
    ]),
    edge("vnet-a", "vnet-b", NetworkEdgeKind.PEERED_WITH),
    edge("vnet-b", "vnet-a", NetworkEdgeKind.PEERED_WITH),
    edge("vm-a", "vm-b", NetworkEdgeKind.ALLOWS_TRAFFIC),
    edge(INTERNET_NODE_ID, "vm-a", NetworkEdgeKind.ALLOWS_TRAFFIC),
  ];
  return { nodes, edges };
}

describe("filterNetworkMap", () => {
  it("does not follow a peering to a VNet where nothing qualifies", () => {
    const { nodes, edges } = peeredEstate(null);
    const map = filterNetworkMap(nodes, edges, PolicySeverity.HIGH);
    expect(map.nodes.map((n) => n.id).sort()).toEqual(
      [INTERNET_NODE_ID, "nic-a", "snet-a", "vm-a", "vnet-a"].sort(),
    );
    expect(map.edges.some((e) => e.kind === NetworkEdgeKind.PEERED_WITH)).toBe(false);
  });

  it("shows the peering when both VNets hold something that qualifies", () => {
    const { nodes, edges } = peeredEstate(PolicySeverity.MEDIUM);
    const map = filterNetworkMap(nodes, edges, PolicySeverity.MEDIUM);
    expect(map.nodes).toHaveLength(nodes.length);
    expect(map.edges.filter((e) => e.kind === NetworkEdgeKind.PEERED_WITH)).toHaveLength(2);
    expect(filterNetworkMap(nodes, edges, PolicySeverity.HIGH).nodes.some((n) => n.id === "vnet-b")).toBe(
      false,
    );
  });

  it("shows an external network a kept VNet peers with, and not one whose VNet is not kept", () => {
    const { nodes, edges } = peeredEstate(null);
    const external = [
      node("external:vnet-x", NetworkNodeKind.EXTERNAL_NETWORK),
      node("external:vnet-y", NetworkNodeKind.EXTERNAL_NETWORK),
    ];
    const links = [
      edge("vnet-a", "external:vnet-x", NetworkEdgeKind.PEERED_WITH),
      edge("external:vnet-x", "vnet-a", NetworkEdgeKind.PEERED_WITH),
      edge("vnet-b", "external:vnet-y", NetworkEdgeKind.PEERED_WITH),
      edge("external:vnet-y", "vnet-b", NetworkEdgeKind.PEERED_WITH),
    ];
    const map = filterNetworkMap([...nodes, ...external], [...edges, ...links], PolicySeverity.HIGH);
    expect(map.nodes.filter((n) => n.kind === NetworkNodeKind.EXTERNAL_NETWORK).map((n) => n.id)).toEqual([
      "external:vnet-x",
    ]);
    expect(map.edges.filter((e) => e.kind === NetworkEdgeKind.PEERED_WITH)).toHaveLength(2);
  });

  it("shows a VM only when it qualifies itself, not for sharing a subnet with one that does", () => {
    // vm-a (HIGH) and vm-c (MEDIUM) in one subnet; vm-c's NIC has a public IP.
    const nodes = [
      node(INTERNET_NODE_ID, NetworkNodeKind.INTERNET),
      node("vnet-a", NetworkNodeKind.VIRTUAL_NETWORK),
      node("snet-a", NetworkNodeKind.SUBNET),
      node("nsg-a", NetworkNodeKind.NETWORK_SECURITY_GROUP),
      node("nic-a", NetworkNodeKind.NETWORK_INTERFACE),
      node("nic-c", NetworkNodeKind.NETWORK_INTERFACE),
      node("nic-loose", NetworkNodeKind.NETWORK_INTERFACE),
      node("pip-c", NetworkNodeKind.PUBLIC_IP),
      node("vm-a", NetworkNodeKind.VIRTUAL_MACHINE, PolicySeverity.HIGH),
      node("vm-c", NetworkNodeKind.VIRTUAL_MACHINE, PolicySeverity.MEDIUM, true),
    ];
    const edges = [
      edge("vnet-a", "snet-a", NetworkEdgeKind.CONTAINS),
      edge("snet-a", "nsg-a", NetworkEdgeKind.PROTECTED_BY),
      ...["a", "c"].flatMap((x) => [
        edge("snet-a", `nic-${x}`, NetworkEdgeKind.CONTAINS),
        edge(`nic-${x}`, `vm-${x}`, NetworkEdgeKind.ATTACHED_TO),
      ]),
      edge("snet-a", "nic-loose", NetworkEdgeKind.CONTAINS),
      edge("pip-c", "nic-c", NetworkEdgeKind.ASSOCIATED_WITH),
      edge(INTERNET_NODE_ID, "vm-c", NetworkEdgeKind.ALLOWS_TRAFFIC),
      edge("vm-a", "vm-c", NetworkEdgeKind.ALLOWS_TRAFFIC),
    ];
    const high = filterNetworkMap(nodes, edges, PolicySeverity.HIGH);
    expect(high.nodes.map((n) => n.id).sort()).toEqual(
      ["vnet-a", "snet-a", "nsg-a", "nic-a", "vm-a", "nic-loose"].sort(),
    );
    expect(high.edges.every((e) => e.from !== "vm-c" && e.to !== "vm-c")).toBe(true);
    // At MEDIUM both show, with vm-c's public IP, the traffic between them and the internet reaching vm-c.
    const medium = filterNetworkMap(nodes, edges, PolicySeverity.MEDIUM);
    expect(medium.nodes).toHaveLength(nodes.length);
    expect(medium.edges).toHaveLength(edges.length);
  });
});
