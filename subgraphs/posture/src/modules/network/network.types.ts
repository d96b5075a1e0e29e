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
}

/** Kind of a network-map edge. */
export enum NetworkEdgeKind {
  CONTAINS = "CONTAINS",
  ATTACHED_TO = "ATTACHED_TO",
  PROTECTED_BY = "PROTECTED_BY",
  ASSOCIATED_WITH = "ASSOCIATED_WITH",
  ALLOWS_TRAFFIC = "ALLOWS_TRAFFIC",
}

registerEnumType(NetworkProtocol, { name: "NetworkProtocol", description: "TCP, UDP, ICMP or ANY." });
registerEnumType(NetworkNodeKind, { name: "NetworkNodeKind", description: "What a network-map node is." });
registerEnumType(NetworkEdgeKind, {
  name: "NetworkEdgeKind",
  description:
    "CONTAINS (VNet→subnet→NIC), ATTACHED_TO (NIC→VM), PROTECTED_BY (→NSG), ASSOCIATED_WITH (public IP→NIC), ALLOWS_TRAFFIC (internet or VM→VM).",
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

/** A node of the network map. */
@ObjectType({ description: "A node of the network map: a network resource, or the internet." })
export class NetworkNode {
  @Field(() => ID, { description: "The resource id, or `internet`." })
  id: string;

  @Field(() => NetworkNodeKind, { description: "What it is." })
  kind: NetworkNodeKind;

  @Field({ description: "Name." })
  name: string;

  @Field({ description: "Whether it is reachable from the internet." })
  internetExposed: boolean;

  @Field(() => PolicySeverity, {
    nullable: true,
    description: "Highest severity among its unhealthy recommendations (null: none).",
  })
  highestSeverity: PolicySeverity | null;

  @Field(() => Int, { description: "How many recommendations it fails." })
  unhealthyRecommendations: number;
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
