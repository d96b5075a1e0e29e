import {
  ResourceKind,
  pageOfArray,
  type Identity,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { type PolicySeverity } from "../policies/policies.types";
import type { PoliciesService } from "../policies/policies.service";
import {
  accountView,
  buildNetworkTopology,
  INTERNET_NODE_ID,
  PEERING_RESOURCE_TYPES,
  type NetworkResource,
  type NetworkTopology,
} from "./network-topology";
import { NetworkNeighbourConnection } from "./network.connections";
import {
  Exposure,
  NetworkDirection,
  NetworkEdge,
  NetworkMap,
  NetworkNeighbour,
  NetworkNode,
  NetworkNodeKind,
  OpenPort,
  PortRange,
} from "./network.types";

const NETWORK_KINDS = [
  ResourceKind.VIRTUAL_NETWORK,
  ResourceKind.SUBNET,
  ResourceKind.NETWORK_SECURITY_GROUP,
  ResourceKind.NETWORK_INTERFACE,
  ResourceKind.VIRTUAL_MACHINE,
  ResourceKind.PUBLIC_IP,
];
/** Node kinds that are no inventory resource (so have no assessments). */
const NOT_RESOURCES: ReadonlySet<NetworkNodeKind> = new Set([
  NetworkNodeKind.INTERNET,
  NetworkNodeKind.EXTERNAL_NETWORK,
]);
const RANK: Record<PolicySeverity, number> = { HIGH: 3, MEDIUM: 2, LOW: 1 };
const NO_EXPOSURE = () =>
  Object.assign(new Exposure(), { internetExposed: false, publicIps: [], openPorts: [] });

/** Network map and internet exposure, computed from the inventory's network resources. */
export class NetworkService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly policies: PoliciesService,
  ) {}

  /**
   * The tenant's topology, every account at once (a peering or a security-group reference may cross accounts):
   * one statement, once per request. Nothing is kept between requests, so a change to any account's inventory
   * shows in the next request's map of every account.
   */
  private topology: Promise<NetworkTopology> | undefined;

  private tenantTopology(): Promise<NetworkTopology> {
    this.topology ??= this.db
      .read((m): Promise<Array<NetworkResource & { account_id: string; external_id: string }>> =>
        m.query(
          `SELECT id, account_id, external_id, type, name, properties FROM resources
             WHERE tenant_id = $1 AND (kind = ANY($2::text[]) OR lower(type) = ANY($3::text[]))`,
          [this.identity.tenantId, NETWORK_KINDS, PEERING_RESOURCE_TYPES],
        ),
      )
      .then((rows) =>
        buildNetworkTopology(rows.map((r) => ({ ...r, externalId: r.external_id, accountId: r.account_id }))),
      );
    return this.topology;
  }

  /** Each resource's ALLOWS_TRAFFIC neighbours (any account of the tenant), sorted by direction then id. */
  private neighbourIndex: Promise<Map<string, NetworkNeighbour[]>> | undefined;

  private neighboursIndex(): Promise<Map<string, NetworkNeighbour[]>> {
    this.neighbourIndex ??= this.tenantTopology().then((t) => {
      const nodes = new Map(t.nodes.map((n) => [n.id, n]));
      const byResource = new Map<string, NetworkNeighbour[]>();
      const add = (at: string, other: string, direction: NetworkDirection, e: (typeof t.edges)[number]) => {
        const node = nodes.get(other);
        if (!node || at === INTERNET_NODE_ID) return;
        const internet = other === INTERNET_NODE_ID;
        const list = byResource.get(at) ?? [];
        list.push(
          Object.assign(new NetworkNeighbour(), {
            id: other,
            direction,
            internet,
            kind: node.kind as NetworkNodeKind,
            name: node.name,
            internetExposed: internet || node.internetExposed,
            ports: e.ports.map((p) => Object.assign(new PortRange(), p)),
            rules: e.rules,
          }),
        );
        byResource.set(at, list);
      };
      for (const e of t.edges) {
        if (e.kind !== "ALLOWS_TRAFFIC") continue;
        add(e.to, e.from, NetworkDirection.INBOUND, e);
        add(e.from, e.to, NetworkDirection.OUTBOUND, e);
      }
      for (const list of byResource.values()) list.sort((a, b) => compare(neighbourKey(a), neighbourKey(b)));
      return byResource;
    });
    return this.neighbourIndex;
  }

  /**
   * The resources (and the internet) a resource can reach or be reached from, per the network map of its
   * tenant, across accounts; one topology statement for a whole page of resources.
   */
  async neighbours(
    resourceId: string,
    direction: NetworkDirection | null | undefined,
    args: PageArgs,
  ): Promise<NetworkNeighbourConnection> {
    const all = (await this.neighboursIndex()).get(resourceId) ?? [];
    const items = direction ? all.filter((n) => n.direction === direction) : all;
    return NetworkNeighbourConnection.from(pageOfArray(items, args, neighbourKey));
  }

  /** A resource's internet exposure (false with no ports for resources the network map does not cover). */
  async exposure(resourceId: string): Promise<Exposure> {
    const exposure = (await this.tenantTopology()).exposure.get(resourceId);
    if (!exposure) return NO_EXPOSURE();
    return Object.assign(new Exposure(), {
      internetExposed: exposure.internetExposed,
      publicIps: exposure.publicIps,
      openPorts: exposure.openPorts.map((p) => Object.assign(new OpenPort(), p)),
    });
  }

  /**
   * The network map of an account (or of every account), showing resources whose unhealthy
   * recommendations reach `minSeverity` and the network infrastructure connected to them. One account's map
   * includes its neighbours in other accounts and external networks (see {@link accountView}).
   */
  async map(accountId: string | null | undefined, minSeverity: PolicySeverity): Promise<NetworkMap> {
    const topology = await this.tenantTopology();
    const view = accountId ? accountView(topology, accountId) : topology;
    const nodes: NetworkNode[] = view.nodes.map((n) =>
      Object.assign(new NetworkNode(), {
        ...n,
        kind: n.kind as NetworkNodeKind,
        highestSeverity: null,
        unhealthyRecommendations: 0,
      }),
    );
    const edges: NetworkEdge[] = view.edges.map((e) =>
      Object.assign(new NetworkEdge(), {
        ...e,
        ports: e.ports.map((p) => Object.assign(new PortRange(), p)),
      }),
    );
    const definitions = await this.policies.all();
    const unhealthy: Array<{ resource_id: string; definition_id: string }> = await this.db.read((m) =>
      m.query(
        `SELECT resource_id, definition_id FROM assessments WHERE tenant_id = $1 AND status = 'UNHEALTHY' AND resource_id = ANY($2::uuid[])`,
        [this.identity.tenantId, nodes.filter((n) => !NOT_RESOURCES.has(n.kind)).map((n) => n.id)],
      ),
    );
    const byId = new Map(nodes.map((n) => [n.id, n]));
    for (const u of unhealthy) {
      const node = byId.get(u.resource_id);
      const severity = definitions.get(u.definition_id)?.severity;
      if (!node || !severity) continue;
      node.unhealthyRecommendations++;
      if (!node.highestSeverity || RANK[severity] > RANK[node.highestSeverity])
        node.highestSeverity = severity;
    }
    return filterNetworkMap(nodes, edges, minSeverity);
  }
}

/**
 * The part of a network map `networkMap(minSeverity)` shows: the resources whose highest unhealthy
 * recommendation reaches `minSeverity`, then the infrastructure that connects them (never across an
 * ALLOWS_TRAFFIC edge to a VM, which must qualify itself, nor across a peering: a peered VNet is shown when
 * something kept lies in it), the external networks a kept VNet/VPC peers with (nothing can lie in them), and
 * the internet when a kept node is exposed.
 */
export function filterNetworkMap(
  nodes: readonly NetworkNode[],
  edges: readonly NetworkEdge[],
  minSeverity: PolicySeverity,
): NetworkMap {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  // Keep the resources that meet the severity, then the infrastructure that connects them.
  const keep = new Set(
    nodes.filter((n) => n.highestSeverity && RANK[n.highestSeverity] >= RANK[minSeverity]).map((n) => n.id),
  );
  for (let grew = true; grew;) {
    grew = false;
    for (const e of edges) {
      for (const [a, b] of [
        [e.from, e.to],
        [e.to, e.from],
      ] as const) {
        if (!keep.has(a) || keep.has(b)) continue;
        const other = byId.get(b);
        if (
          other &&
          e.kind !== "PEERED_WITH" &&
          (other.kind !== "VIRTUAL_MACHINE" || e.kind !== "ALLOWS_TRAFFIC" || a === INTERNET_NODE_ID)
        ) {
          if (other.kind === "VIRTUAL_MACHINE" && other.highestSeverity === null) continue;
          keep.add(b);
          grew = true;
        }
      }
    }
  }
  for (const e of edges)
    if (e.kind === "PEERED_WITH" && keep.has(e.from) && byId.get(e.to)?.kind === "EXTERNAL_NETWORK")
      keep.add(e.to);
  if ([...keep].some((id) => byId.get(id)?.internetExposed)) keep.add(INTERNET_NODE_ID);
  return Object.assign(new NetworkMap(), {
    nodes: nodes.filter((n) => keep.has(n.id)),
    edges: edges.filter((e) => keep.has(e.from) && keep.has(e.to)),
  });
}

/** A neighbour's place in its list: direction, then the neighbour's id (code-point order). */
function neighbourKey(n: NetworkNeighbour): string {
  return `${n.direction}:${n.id}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
