import { higherSeverity } from "../policies/policies.types";
import { unitePortRanges, type PortRangeLike } from "./network-topology";
import {
  NetworkContents,
  NetworkEdge,
  NetworkEdgeKind,
  NetworkMap,
  NetworkNode,
  NetworkNodeKind,
  PortRange,
} from "./network.types";

/** Nodes that stand for themselves in the NETWORKS view: the networks, and what is no inventory resource. */
const OWN_NODES: ReadonlySet<string> = new Set<NetworkNodeKind>([
  NetworkNodeKind.VIRTUAL_NETWORK,
  NetworkNodeKind.EXTERNAL_NETWORK,
  NetworkNodeKind.INTERNET,
]);

/**
 * For each placing edge kind, which end takes its network from the other: a subnet, NIC or instance from what
 * CONTAINS it, a VM from the NIC ATTACHED_TO it, an NSG from what it protects, a public IP from what it is
 * associated with.
 */
const PLACES: ReadonlyMap<string, "to" | "from"> = new Map([
  [NetworkEdgeKind.CONTAINS, "to"],
  [NetworkEdgeKind.ATTACHED_TO, "to"],
  [NetworkEdgeKind.PROTECTED_BY, "to"],
  [NetworkEdgeKind.ASSOCIATED_WITH, "from"],
]);

/**
 * An edge of the resource view as the topology gives it: kept between requests, so read and never changed; many
 * share their `ports` and `rules` arrays (the VM pairs that meet the same rules).
 */
export interface ResourceEdge {
  from: string;
  to: string;
  kind: string;
  ports: readonly PortRangeLike[];
  rules: readonly string[];
}

/** A merged edge of the NETWORKS view, with the distinct port and rule arrays of the edges it stands for. */
interface Merged {
  from: string;
  to: string;
  kind: string;
  connections: number;
  ports: Set<readonly PortRangeLike[]>;
  rules: Set<readonly string[]>;
}

/** The placing edges as (giver, taker) pairs, but those into a node that lies in itself (a network). */
function placingLinks(
  kinds: ReadonlyMap<string, string>,
  edges: readonly Pick<ResourceEdge, "from" | "to" | "kind">[],
): Array<readonly [giver: string, taker: string]> {
  const links: Array<readonly [giver: string, taker: string]> = [];
  for (const e of edges) {
    const taker = PLACES.get(e.kind);
    if (!taker) continue;
    const [giver, to] = taker === "to" ? [e.from, e.to] : [e.to, e.from];
    const kind = kinds.get(to);
    if (kind !== undefined && !OWN_NODES.has(kind)) links.push([giver, to]);
  }
  return links;
}

/**
 * The networks each node lies in, by following the placing edges from the VNets/VPCs: a VNet contains its
 * subnets, they their NICs (AWS: instances), a NIC's VMs lie where it does, and so on. The networks, the internet
 * and external networks lie in themselves; a node no network places (a VM without a NIC) too.
 */
function networksOf(nodes: readonly NetworkNode[], edges: readonly ResourceEdge[]): Map<string, string[]> {
  const placed = new Map<string, Set<string>>();
  for (const n of nodes) if (OWN_NODES.has(n.kind)) placed.set(n.id, new Set([n.id]));
  const links = placingLinks(new Map(nodes.map((n) => [n.id, n.kind])), edges);
  // A few rounds: a VNet places its subnets, they their NICs, the NICs their VMs and public IPs.
  for (let grew = true; grew;) {
    grew = false;
    for (const [giver, taker] of links) {
      const from = placed.get(giver);
      if (!from) continue;
      let into = placed.get(taker);
      if (!into) placed.set(taker, (into = new Set()));
      for (const network of from)
        if (!into.has(network)) {
          into.add(network);
          grew = true;
        }
    }
  }
  return new Map(nodes.map((n) => [n.id, [...(placed.get(n.id) ?? [n.id])]]));
}

/**
 * What lies in one VNet/VPC of a map or topology, as the NETWORKS view places it (see {@link networksOf}): the
 * network itself and whatever its placing edges lead to — its subnets, their NICs or instances, the VMs, NSGs
 * and public IPs of those, whichever account holds them. Empty when `networkId` is no VNet/VPC of the map.
 */
export function placedIn(
  map: {
    nodes: readonly { id: string; kind: string }[];
    edges: readonly Pick<ResourceEdge, "from" | "to" | "kind">[];
  },
  networkId: string,
): Set<string> {
  const kinds = new Map(map.nodes.map((n) => [n.id, n.kind]));
  if (kinds.get(networkId) !== NetworkNodeKind.VIRTUAL_NETWORK) return new Set();
  const takers = new Map<string, string[]>();
  for (const [giver, taker] of placingLinks(kinds, map.edges)) {
    const list = takers.get(giver);
    if (list) list.push(taker);
    else takers.set(giver, [taker]);
  }
  const placed = new Set([networkId]);
  const queue = [networkId];
  while (queue.length > 0)
    for (const taker of takers.get(queue.pop()!) ?? [])
      if (!placed.has(taker)) {
        placed.add(taker);
        queue.push(taker);
      }
  return placed;
}

/**
 * The NETWORKS view of a network map (see `NetworkMapDetail`): each network's resources folded into its node,
 * their recommendations and exposure summed up; PEERED_WITH edges kept; ALLOWS_TRAFFIC edges merged per pair of
 * networks (ports and rules united, `connections` counting the resource pairs); the placing edges dropped but
 * between resources no network places. Nodes and edges keep the order in which the map first shows them.
 */
export function foldNetworkMap(map: {
  nodes: readonly NetworkNode[];
  edges: readonly ResourceEdge[];
}): NetworkMap {
  const networks = networksOf(map.nodes, map.edges);
  const nodes = new Map<string, NetworkNode>();
  const byId = new Map(map.nodes.map((n) => [n.id, n]));
  for (const member of map.nodes)
    for (const id of networks.get(member.id)!) {
      let node = nodes.get(id);
      if (!node) {
        const own = byId.get(id)!;
        node = Object.assign(new NetworkNode(), {
          ...own,
          internetExposed: false,
          highestSeverity: null,
          unhealthyRecommendations: 0,
          contents:
            own.kind === NetworkNodeKind.INTERNET || own.kind === NetworkNodeKind.EXTERNAL_NETWORK
              ? null
              : Object.assign(new NetworkContents(), {
                  resources: 0,
                  subnets: 0,
                  virtualMachines: 0,
                  exposedVirtualMachines: 0,
                }),
        });
        nodes.set(id, node);
      }
      node.internetExposed ||= member.internetExposed;
      node.highestSeverity = higherSeverity(node.highestSeverity, member.highestSeverity);
      node.unhealthyRecommendations += member.unhealthyRecommendations;
      const contents = node.contents;
      if (!contents) continue;
      contents.resources++;
      if (member.kind === NetworkNodeKind.SUBNET) contents.subnets++;
      if (member.kind === NetworkNodeKind.VIRTUAL_MACHINE) {
        contents.virtualMachines++;
        if (member.internetExposed) contents.exposedVirtualMachines++;
      }
    }

  const edges = new Map<string, Map<string, Map<string, Merged>>>();
  const alone = (id: string) => {
    const of = networks.get(id);
    return of !== undefined && of.length === 1 && of[0] === id;
  };
  const merged: Merged[] = [];
  for (const e of map.edges) {
    // What places a resource in a network says nothing more once the network stands for it (nor between two
    // networks, for a resource lying in both); it stays only between resources no network places.
    if (PLACES.has(e.kind) && !(alone(e.from) && alone(e.to))) continue;
    let byKind = edges.get(e.kind);
    if (!byKind) edges.set(e.kind, (byKind = new Map()));
    for (const from of networks.get(e.from) ?? [e.from]) {
      let byTarget = byKind.get(from);
      if (!byTarget) byKind.set(from, (byTarget = new Map()));
      for (const to of networks.get(e.to) ?? [e.to]) {
        let edge = byTarget.get(to);
        if (!edge) {
          edge = { from, to, kind: e.kind, connections: 0, ports: new Set(), rules: new Set() };
          byTarget.set(to, edge);
          merged.push(edge);
        }
        edge.connections++;
        edge.ports.add(e.ports);
        edge.rules.add(e.rules);
      }
    }
  }
  return Object.assign(new NetworkMap(), {
    nodes: [...nodes.values()],
    edges: merged.map((edge) =>
      Object.assign(new NetworkEdge(), {
        from: edge.from,
        to: edge.to,
        kind: edge.kind as NetworkEdgeKind,
        connections: edge.connections,
        ports: unitePortRanges([...edge.ports].flat()).map((p) => Object.assign(new PortRange(), p)),
        rules: [...new Set([...edge.rules].flat())].sort(),
      }),
    ),
  });
}
