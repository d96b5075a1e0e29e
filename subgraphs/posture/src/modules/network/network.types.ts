import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { PolicySeverity } from "../policies/policies.types";

/** A transport protocol. */
export enum NetworkProtocol {
  TCP = "TCP",
  UDP = "UDP",
  ICMP = "ICMP",
  ANY = "ANY",
}

/** Kind of a network-map node. */
export enum NetworkNodeKind {
  INTERNET = "INTERNET",
  VIRTUAL_NETWORK = "VIRTUAL_NETWORK",
  SUBNET = "SUBNET",
  NETWORK_SECURITY_GROUP = "NETWORK_SECURITY_GROUP",
  NETWORK_INTERFACE = "NETWORK_INTERFACE",
  VIRTUAL_MACHINE = "VIRTUAL_MACHINE",
  PUBLIC_IP = "PUBLIC_IP",
  EXTERNAL_NETWORK = "EXTERNAL_NETWORK",
}

/** Kind of a network-map edge. */
export enum NetworkEdgeKind {
  CONTAINS = "CONTAINS",
  ATTACHED_TO = "ATTACHED_TO",
  PROTECTED_BY = "PROTECTED_BY",
  ASSOCIATED_WITH = "ASSOCIATED_WITH",
  PEERED_WITH = "PEERED_WITH",
  ALLOWS_TRAFFIC = "ALLOWS_TRAFFIC",
}

/** How much of the network a map shows. */
export enum NetworkMapDetail {
  RESOURCES = "RESOURCES",
  NETWORKS = "NETWORKS",
}

registerEnumType(NetworkProtocol, { name: "NetworkProtocol", description: "TCP, UDP, ICMP or ANY." });
registerEnumType(NetworkNodeKind, {
  name: "NetworkNodeKind",
  description:
    "What a network-map node is. EXTERNAL_NETWORK: the remote VNet/VPC of a peering that is not in the tenant's inventory, known only by the id its peering record gives.",
});
registerEnumType(NetworkEdgeKind, {
  name: "NetworkEdgeKind",
  description:
    "CONTAINS (VNet→subnet→NIC), ATTACHED_TO (NIC→VM), PROTECTED_BY (→NSG), ASSOCIATED_WITH (public IP→NIC), PEERED_WITH (VNet→VNet or VPC→VPC: a connected peering, one edge per direction that carries traffic; Azure per peering record, AWS both ways), ALLOWS_TRAFFIC (internet or VM→VM, within a VNet/VPC or across a peering).",
});

registerEnumType(NetworkMapDetail, {
  name: "NetworkMapDetail",
  description:
    "RESOURCES: every network resource the map shows, one node each. NETWORKS: the same map with each VNet/VPC's contents (subnets, NICs, VMs, public IPs, NSGs/security groups) folded into one node per network, summed up in `NetworkNode.contents`; the internet and external networks stay as they are, PEERED_WITH edges join the networks, and the ALLOWS_TRAFFIC edges between their resources merge into one edge per pair of networks (a network's edge to itself: traffic allowed between its own VMs). What no network places (a VM without a NIC, an NSG protecting nothing) keeps a node of its own. For a first look at a large estate: its answer grows with the networks, not with the VMs.",
});

/** An inclusive port range. */
@ObjectType({ description: "An inclusive port range of a protocol." })
export class PortRange {
  @Field(() => NetworkProtocol, { description: "Protocol." })
  protocol: NetworkProtocol;

  @Field(() => Int, { description: "First port." })
  fromPort: number;

  @Field(() => Int, { description: "Last port." })
  toPort: number;
}

/** A port range reachable from the internet. */
@ObjectType({
  description: "A port range reachable from the internet, with the rule sources that let traffic in.",
})
export class OpenPort extends PortRange {
  @Field(() => [String], {
    description: "Sources as written in the rules, e.g. `Internet`, `*`, `0.0.0.0/0`.",
  })
  sources: string[];
}

/** Whether a resource can be reached from the internet. */
@ObjectType({
  description:
    "Internet exposure, with Azure's rule-priority semantics (a higher-priority deny beats a lower allow).",
})
export class Exposure {
  @Field({ description: "True when the resource has a public IP and a port reachable from the internet." })
  internetExposed: boolean;

  @Field(() => [String], { description: "Its public IP addresses." })
  publicIps: string[];

  @Field(() => [OpenPort], { description: "Ports reachable from the internet (merged ranges)." })
  openPorts: OpenPort[];
}

/** What a node of the NETWORKS view stands for. */
@ObjectType({
  description:
    "The resources folded into a node of the NETWORKS view. A resource placed in two networks (an NSG protecting subnets of both) counts in each.",
})
export class NetworkContents {
  @Field(() => Int, { description: "Resources folded into the node, the network itself included." })
  resources: number;

  @Field(() => Int, { description: "Of them, subnets." })
  subnets: number;

  @Field(() => Int, { description: "Of them, VMs and instances." })
  virtualMachines: number;

  @Field(() => Int, { description: "Of the VMs and instances, those reachable from the internet." })
  exposedVirtualMachines: number;
}

/** A node of the network map. */
@ObjectType({ description: "A node of the network map: a network resource, or the internet." })
export class NetworkNode {
  @Field(() => ID, {
    description:
      "The resource id, `internet`, or for an EXTERNAL_NETWORK `external:` followed by the remote network's id (ARM ids lower-cased).",
  })
  id: string;

  @Field(() => NetworkNodeKind, { description: "What it is." })
  kind: NetworkNodeKind;

  @Field({ description: "Name; for an EXTERNAL_NETWORK the remote id as its peering record gives it." })
  name: string;

  @Field(() => ID, {
    nullable: true,
    description:
      "The cloud account the resource belongs to: in `networkMap(accountId:)`, a different account marks a neighbour in another account of the tenant (a peered VNet/VPC, a VM exchanging traffic across the peering, what places it in its network). Null for the internet and for an EXTERNAL_NETWORK.",
  })
  accountId: string | null;

  @Field({ description: "Whether it is reachable from the internet." })
  internetExposed: boolean;

  @Field(() => PolicySeverity, {
    nullable: true,
    description: "Highest severity among its unhealthy recommendations (null: none).",
  })
  highestSeverity: PolicySeverity | null;

  @Field(() => Int, {
    description:
      "How many recommendations it fails; in the NETWORKS view, summed over the resources folded into it.",
  })
  unhealthyRecommendations: number;

  @Field(() => NetworkContents, {
    nullable: true,
    description:
      "In the NETWORKS view, what the node stands for: the network and what lies in it that the map at this `minSeverity` shows (the drill-down, `networkMap(networkId:)` with the node's id and the same severity, shows those resources; in a drill-down's NETWORKS view, a neighbouring network counts only what that map shows of it). Null in the RESOURCES view, and for the internet and external networks.",
  })
  contents: NetworkContents | null;
}

/** An edge of the network map. */
@ObjectType({ description: "A directed edge of the network map." })
export class NetworkEdge {
  @Field(() => ID, { description: "Source node id." })
  from: string;

  @Field(() => ID, { description: "Target node id." })
  to: string;

  @Field(() => NetworkEdgeKind, { description: "Relation." })
  kind: NetworkEdgeKind;

  @Field(() => [PortRange], { description: "Allowed ports (ALLOWS_TRAFFIC only)." })
  ports: PortRange[];

  @Field(() => [String], {
    description:
      "The inbound rules that allow the traffic (ALLOWS_TRAFFIC only): Azure `nsg-name/rule-name` (default rules by their Azure names, e.g. `nsg-web/AllowVnetInBound`), AWS the security group's name. Empty when no NSG filters the traffic.",
  })
  rules: string[];

  @Field(() => Int, {
    description:
      "How many edges of the RESOURCES view this edge stands for: 1 there; in the NETWORKS view, for ALLOWS_TRAFFIC the resource pairs (internet → VM, VM → VM) whose traffic it merges, their ports and rules united.",
  })
  connections: number;
}

/** The network map. */
@ObjectType({
  description:
    "Topology of virtual networks, subnets, NSGs, NICs, VMs and public IPs, with the traffic their rules allow.",
})
export class NetworkMap {
  @Field(() => [NetworkNode], { description: "Nodes (filtered by recommendation severity)." })
  nodes: NetworkNode[];

  @Field(() => [NetworkEdge], { description: "Edges between the nodes shown." })
  edges: NetworkEdge[];
}

/** Which way traffic flows between a resource and its neighbour. */
export enum NetworkDirection {
  INBOUND = "INBOUND",
  OUTBOUND = "OUTBOUND",
}

registerEnumType(NetworkDirection, {
  name: "NetworkDirection",
  description:
    "INBOUND: the neighbour can reach the resource. OUTBOUND: the resource can reach the neighbour.",
});

/** A resource (or the internet) that can reach, or be reached from, a resource. */
@ObjectType({
  description:
    "A network neighbour of a resource: a resource or the internet that the network map says can reach it (INBOUND) or that it can reach (OUTBOUND), with the ports and the rules that allow the traffic.",
})
export class NetworkNeighbour {
  /** Network-map id of the neighbour (a resource id, or `internet`). */
  id: string;

  @Field(() => NetworkDirection, {
    description:
      "INBOUND: the neighbour reaches this resource; OUTBOUND: this resource reaches the neighbour.",
  })
  direction: NetworkDirection;

  @Field({ description: "True when the neighbour is the internet (then `resource` is null)." })
  internet: boolean;

  @Field(() => NetworkNodeKind, { description: "What the neighbour is (INTERNET for the internet)." })
  kind: NetworkNodeKind;

  @Field({ description: "The neighbour's name (`Internet` for the internet)." })
  name: string;

  @Field({
    description:
      "Whether the neighbour is itself reachable from the internet (true for the internet): a path in from outside.",
  })
  internetExposed: boolean;

  @Field(() => [PortRange], {
    description: "Ports and protocols the traffic may use (destination ports, merged ranges).",
  })
  ports: PortRange[];

  @Field(() => [String], {
    description:
      "The inbound rules of the destination that allow the traffic: Azure `nsg-name/rule-name`, AWS the security group's name. Empty when no NSG filters it. Neighbours are the internet, VMs of the same VNet/VPC, or VMs of a directly peered one, in any account of the tenant (peering is not transitive).",
  })
  rules: string[];
}
