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
});
