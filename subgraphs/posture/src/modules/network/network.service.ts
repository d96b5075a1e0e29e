import DataLoader from "dataloader";
import {
  BadUserInputError,
  canonicalId,
  isUuid,
  ResourceKind,
  pageOfArray,
  type Identity,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { higherSeverity, SEVERITY_RANK as RANK, type PolicySeverity } from "../policies/policies.types";
import type { PoliciesService } from "../policies/policies.service";
import {
  accountView,
  buildNetworkTopology,
  INTERNET_NODE_ID,
  networkLinks,
  PEERING_RESOURCE_TYPES,
  type NetworkLinks,
  type NetworkResource,
  type NetworkTopology,
  viewAround,
} from "./network-topology";
import { foldNetworkMap, placedIn } from "./network-fold";
import { topologyCache } from "./network-topology-cache";
import { NetworkNeighbourConnection } from "./network.connections";
import {
  Exposure,
  NetworkDirection,
  NetworkEdge,
  type NetworkEdgeKind,
  NetworkMap,
  NetworkMapDetail,
  NetworkNeighbour,
  NetworkNode,
  NetworkNodeKind,
  OpenPort,
  PortRange,
} from "./network.types";

/** Resource kinds the network map reads (`kind` of `resources`). */
export const NETWORK_KINDS = [
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
const NO_EXPOSURE = () =>
  Object.assign(new Exposure(), { internetExposed: false, publicIps: [], openPorts: [] });

type NetworkRow = Pick<NetworkResource, "id" | "type" | "name" | "properties"> & {
  account_id: string;
  external_id: string;
};

function toNetworkResource(r: NetworkRow): NetworkResource {
  return { ...r, externalId: r.external_id, accountId: r.account_id };
}

/**
 * The topology of the rows, taken in id order: nodes and edges come in input order, and where two resources claim
 * the same thing (a NIC, a public IP, an ARM id) the first wins, so the whole tenant's topology and one built over
 * some of its accounts agree only when both see their rows in the same order.
 */
function toTopology(rows: readonly NetworkRow[]): NetworkTopology {
  return buildNetworkTopology([...rows].sort((a, b) => compare(a.id, b.id)).map(toNetworkResource));
}

/**
 * The network resources (and AWS peering connections) of the accounts one hop from the asked ones ($2), per
 * {@link networkLinks} ($5 ARM ids, $6 AWS ids, $7 networks, $8 AWS subnets, $9 targets; lower-cased): accounts
 * owning a resource the asked ones reference (the ARM id by the indexed `external_id_key`; an AWS VPC, subnet,
 * security group, instance or elastic IP by its id property or ARN tail, as the topology indexes them), accounts
 * holding a resource that names one of the asked ones from its side (an elastic IP naming an instance, an instance
 * naming a security group, an Azure NSG, public IP or NIC naming a subnet, NIC or VM: `targets`, through
 * `resource_reference_keys`, migration ResourceNetworkReferenceKeys), accounts holding a peering record that
 * points at one of the asked networks (an Azure VNet's `virtualNetworkPeerings`, an AWS VPC peering connection's
 * VPC ids), the owners of the VPCs such a connection names, and the accounts placing an AWS subnet or instance in
 * the asked networks (a VPC shared through AWS RAM). `asked_vpcs` are the asked networks and the VPCs of the
 * subnets the asked resources use (an instance may name only its subnet: it is in that subnet's VPC, and so are
 * the peerings that VPC takes part in); `placement_vpcs` add the VPCs of the connections recorded elsewhere that
 * point at them (a peered VPC may be shared too), `placement_subnets` are the asked subnets and every subnet of
 * those VPCs; an account is a neighbour when one of its subnets or instances names such a VPC (`aws_vpc_key`) or
 * one of its instances such a subnet (`aws_subnet_key`). Every lookup goes through an index under the tenant
 * policy, so it reads the rows it finds, not the tenant's inventory: the ARM ids through `external_id_key`, the
 * AWS ids through `aws_id_key` / `aws_arn_key`, the peering records (AWS connections and Azure VNets) through
 * `resource_peering_keys` (the networks each record names; migration ResourceNetworkReverseKeys), the references
 * from the other side through `resource_reference_keys` (one probe of its index a target: `= ANY` with hundreds,
 * as a later round sends, was hashed against a scan of every key), the placements through `aws_vpc_key` /
 * `aws_subnet_key` (migration ResourceNetworkPlacementKeys), and the neighbours' resources through `(tenant_id,
 * account_id)`: keys found by a CTE are compared with `= ANY(ARRAY(…))`, an index condition, where `account_id IN
 * (subquery)` was planned as a hash join over a scan of the tenant's resources once the neighbours held a tenth of
 * them. One statement, whatever the number of asked accounts or keys.
 */
export const NEIGHBOUR_ACCOUNTS_SQL = `
WITH asked_vpcs AS (
  SELECT unnest($7::text[]) AS id
  UNION
  SELECT aws_vpc_key FROM resources
   WHERE tenant_id = $1 AND aws_subnet_key = ANY($8::text[]) AND kind = 'SUBNET' AND aws_vpc_key IS NOT NULL
),
incoming AS (
  SELECT account_id, ARRAY[
           lower(btrim(properties->>'VpcId')), lower(btrim(properties->'RequesterVpcInfo'->>'VpcId')),
           lower(btrim(properties->>'PeerVpcId')), lower(btrim(properties->'AccepterVpcInfo'->>'VpcId'))
         ] AS vpcs
    FROM resources
   WHERE tenant_id = $1 AND lower(type) = ANY($4::text[]) AND account_id <> ALL($2::uuid[])
     AND id IN (SELECT resource_id FROM resource_peering_keys
                 WHERE tenant_id = $1 AND network_key = ANY(ARRAY(SELECT id FROM asked_vpcs)))
),
aws_ids AS (
  SELECT unnest($6::text[]) AS id
  UNION SELECT unnest(vpcs) FROM incoming
),
placement_vpcs AS (
  SELECT id FROM asked_vpcs
  UNION SELECT unnest(vpcs) FROM incoming
),
placement_subnets AS (
  SELECT unnest($8::text[]) AS id
  UNION
  SELECT aws_subnet_key FROM resources
   WHERE tenant_id = $1 AND aws_vpc_key = ANY(ARRAY(SELECT id FROM placement_vpcs)) AND kind = 'SUBNET'
),
neighbour_accounts AS (
  SELECT account_id FROM incoming
  UNION
  SELECT account_id FROM resources WHERE tenant_id = $1 AND external_id_key = ANY($5::text[])
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1
     AND (aws_id_key = ANY(ARRAY(SELECT id FROM aws_ids)) OR aws_arn_key = ANY(ARRAY(SELECT id FROM aws_ids)))
     AND kind = ANY($3::text[]) AND lower(type) LIKE 'aws::%'
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND kind = 'VIRTUAL_NETWORK' AND lower(type) LIKE 'microsoft.%'
     AND id IN (SELECT resource_id FROM resource_peering_keys WHERE tenant_id = $1 AND network_key = ANY($7::text[]))
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1
     AND id = ANY(ARRAY(SELECT k.resource_id FROM unnest($9::text[]) AS target(key),
                          LATERAL (SELECT resource_id FROM resource_reference_keys
                                    WHERE tenant_id = $1 AND reference_key = target.key OFFSET 0) AS k))
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND aws_vpc_key = ANY(ARRAY(SELECT id FROM placement_vpcs))
  UNION
  SELECT account_id FROM resources
   WHERE tenant_id = $1 AND aws_subnet_key = ANY(ARRAY(SELECT id FROM placement_subnets))
)
SELECT id, account_id, external_id, type, name, properties FROM resources
 WHERE tenant_id = $1 AND account_id = ANY(ARRAY(SELECT account_id FROM neighbour_accounts))
   AND account_id <> ALL($2::uuid[]) AND (kind = ANY($3::text[]) OR lower(type) = ANY($4::text[]))`;

/**
 * Each resource's ALLOWS_TRAFFIC neighbours (any account of the tenant), by topology, sorted by direction then id:
 * built once per topology, which requests share while it is kept ({@link topologyCache}); never changed after.
 */
const neighbourIndexes = new WeakMap<NetworkTopology, Map<string, NetworkNeighbour[]>>();

/** Network map and internet exposure, computed from the inventory's network resources. */
export class NetworkService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly policies: PoliciesService,
  ) {}

  /**
   * The tenant's inventory token (`inventory_versions`), read once per request before any network resource:
   * topologies are kept between requests under it ({@link topologyCache}), so a change to any account's inventory
   * committed before the request began shows in its map, and one committed later in the next request's.
   */
  private token: Promise<string | null> | undefined;

  private inventoryToken(): Promise<string | null> {
    this.token ??= this.db
      .read((m): Promise<Array<{ token: string }>> =>
        m.query(`SELECT token FROM inventory_versions WHERE tenant_id = $1`, [this.identity.tenantId]),
      )
      .then((rows) => rows[0]?.token ?? null);
    return this.token;
  }

  /** The tenant's topology, every account at once: one statement (when not kept), for the map of every account. */
  private topology: Promise<NetworkTopology> | undefined;

  private tenantTopology(): Promise<NetworkTopology> {
    this.topology ??= this.inventoryToken().then((token) =>
      topologyCache.get(this.identity.tenantId, token, "*", () =>
        this.db
          .read((m): Promise<NetworkRow[]> =>
            m.query(
              `SELECT id, account_id, external_id, type, name, properties FROM resources
                 WHERE tenant_id = $1 AND (kind = ANY($2::text[]) OR lower(type) = ANY($3::text[]))`,
              [this.identity.tenantId, NETWORK_KINDS, PEERING_RESOURCE_TYPES],
            ),
          )
          .then(toTopology),
      ),
    );
    return this.topology;
  }

  /**
   * The topology for the accounts asked about in a request (a page of resources' accounts, or one map's
   * account), batched: the network resources of the batch's accounts (one statement), those of their neighbour
   * accounts one hop away (one statement; none when the batch's accounts hold no network resource), then those of
   * the accounts the other accounts' resources shown with them lead to (see {@link askedTopology}), one topology
   * for the batch. For the batch's resources, and for the nodes and edges their maps show, it equals the whole
   * tenant's topology — see {@link networkLinks} for what the neighbours are and why this suffices — while the
   * tenant's other accounts are never read. Kept between requests under the tenant's inventory token and the
   * batch's accounts ({@link topologyCache}): a later request for the same accounts reads only the token.
   */
  private readonly accountTopologies = new DataLoader<string, NetworkTopology>(async (accountIds) => {
    const asked = [...new Set(accountIds.filter(isUuid))].sort();
    const topology = this.topology
      ? await this.topology
      : asked.length === 0
        ? toTopology([])
        : await topologyCache.get(this.identity.tenantId, await this.inventoryToken(), asked.join(","), () =>
            this.askedTopology(asked),
          );
    return accountIds.map(() => topology);
  });

  /**
   * The asked accounts' network resources, their neighbours' (NEIGHBOUR_ACCOUNTS_SQL), then, round by round, the
   * accounts that what their maps show from other accounts leads to: an instance of B behind A's security group,
   * say, placed in C's subnet and exposed through D's elastic IP — its node, its exposure and its internet edge in
   * A's map need C's and D's resources. Each round follows the forward references of the other accounts' resources
   * the asked accounts' views ({@link accountView}) show that no loaded resource resolves, and the references from
   * the other side to their VMs/instances and NICs (`networkLinks`' `shown` option), with the same statement;
   * it stops when the views show nothing new to follow or the statement finds no new account. The views show
   * their own nodes, those one edge away and the networks placing them, so in practice this is one more
   * statement when another account's VM or NIC shows (its elastic IPs may be anywhere), and another when its
   * placement or groups lie in an account not read yet.
   */
  private async askedTopology(accountIds: readonly string[]): Promise<NetworkTopology> {
    const own: NetworkRow[] = await this.db.read((m) =>
      m.query(
        `SELECT id, account_id, external_id, type, name, properties FROM resources
           WHERE tenant_id = $1 AND account_id = ANY($2::uuid[]) AND (kind = ANY($3::text[]) OR lower(type) = ANY($4::text[]))`,
        [this.identity.tenantId, accountIds, NETWORK_KINDS, PEERING_RESOURCE_TYPES],
      ),
    );
    if (own.length === 0) return toTopology([]);
    const rows = [
      ...own,
      ...(await this.neighbourRows(accountIds, networkLinks(own.map(toNetworkResource)))),
    ];
    const followed = new Set(own.map((r) => r.id));
    for (;;) {
      const topology = toTopology(rows);
      const shown = new Set(accountIds.flatMap((a) => accountView(topology, a).nodes.map((n) => n.id)));
      const fresh = rows.filter((r) => shown.has(r.id) && !followed.has(r.id));
      for (const r of fresh) followed.add(r.id);
      const links = networkLinks(fresh.map(toNetworkResource), {
        shown: true,
        among: rows.map(toNetworkResource),
      });
      if (links.armIds.length + links.awsIds.length + links.targets.length === 0) return topology;
      const loaded = [...new Set([...accountIds, ...rows.map((r) => r.account_id)])];
      const more = await this.neighbourRows(loaded, links);
      if (more.length === 0) return topology;
      rows.push(...more);
    }
  }

  /** The network resources of the accounts `links` lead to, other than `loaded` (NEIGHBOUR_ACCOUNTS_SQL). */
  private neighbourRows(loaded: readonly string[], links: NetworkLinks): Promise<NetworkRow[]> {
    return this.db.read((m) =>
      m.query(NEIGHBOUR_ACCOUNTS_SQL, [
        this.identity.tenantId,
        loaded,
        NETWORK_KINDS,
        PEERING_RESOURCE_TYPES,
        links.armIds,
        links.awsIds,
        links.networks,
        links.subnets,
        links.targets,
      ]),
    );
  }

  private neighboursIndex(t: NetworkTopology): Map<string, NetworkNeighbour[]> {
    const cached = neighbourIndexes.get(t);
    if (cached) return cached;
    const nodes = new Map(t.nodes.map((n) => [n.id, n]));
    const index = new Map<string, NetworkNeighbour[]>();
    const add = (at: string, other: string, direction: NetworkDirection, e: (typeof t.edges)[number]) => {
      const node = nodes.get(other);
      if (!node || at === INTERNET_NODE_ID) return;
      const internet = other === INTERNET_NODE_ID;
      const list = index.get(at) ?? [];
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
      index.set(at, list);
    };
    for (const e of t.edges) {
      if (e.kind !== "ALLOWS_TRAFFIC") continue;
      add(e.to, e.from, NetworkDirection.INBOUND, e);
      add(e.from, e.to, NetworkDirection.OUTBOUND, e);
    }
    for (const list of index.values()) list.sort((a, b) => compare(neighbourKey(a), neighbourKey(b)));
    neighbourIndexes.set(t, index);
    return index;
  }

  /**
   * The resources (and the internet) a resource can reach or be reached from, per the network map of its
   * tenant, across accounts; two topology statements for a whole page of resources (its accounts', their
   * neighbour accounts').
   */
  async neighbours(
    resourceId: string,
    accountId: string,
    direction: NetworkDirection | null | undefined,
    args: PageArgs,
  ): Promise<NetworkNeighbourConnection> {
    const all = this.neighboursIndex(await this.accountTopologies.load(accountId)).get(resourceId) ?? [];
    const items = direction ? all.filter((n) => n.direction === direction) : all;
    return NetworkNeighbourConnection.from(pageOfArray(items, args, neighbourKey));
  }

  /** A resource's internet exposure (false with no ports for resources the network map does not cover). */
  async exposure(resourceId: string, accountId: string): Promise<Exposure> {
    const exposure = (await this.accountTopologies.load(accountId)).exposure.get(resourceId);
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
  async map(
    accountId: string | null | undefined,
    minSeverity: PolicySeverity,
    detail: NetworkMapDetail = NetworkMapDetail.RESOURCES,
  ): Promise<NetworkMap> {
    const view = accountId
      ? accountView(await this.accountTopologies.load(accountId), accountId)
      : await this.tenantTopology();
    return this.shownMap(view, minSeverity, detail);
  }

  /**
   * The map around one VNet/VPC (`networkMap(networkId:)`): what lies in it ({@link placedIn}), whichever
   * account holds it, and its neighbours as an account's map shows them ({@link viewAround}). From the tenant's
   * topology: what lies in a network may be any account's (the instances of a VPC shared through AWS RAM, their
   * security groups and elastic IPs, and what those groups protect elsewhere), which that topology answers
   * without following each; it is the one the map of every account keeps, so the drill-down from its NETWORKS
   * view reads only the inventory token. Empty when the tenant holds no resource of that id; BAD_USER_INPUT when
   * the id is no resource id, or another node of the map than a VNet/VPC.
   */
  async networkMap(
    networkId: string,
    minSeverity: PolicySeverity,
    detail: NetworkMapDetail = NetworkMapDetail.RESOURCES,
  ): Promise<NetworkMap> {
    const id = canonicalId(networkId);
    if (!isUuid(id))
      throw new BadUserInputError("Invalid network map.", [
        { field: "networkId", message: "must be the id (UUID) of a VNet/VPC, as the NETWORKS view gives it" },
      ]);
    const topology = await this.tenantTopology();
    const node = topology.nodes.find((n) => n.id === id);
    if (node && node.kind !== NetworkNodeKind.VIRTUAL_NETWORK)
      throw new BadUserInputError("Invalid network map.", [
        { field: "networkId", message: `names a ${node.kind}, not a VNet/VPC` },
      ]);
    return this.shownMap(viewAround(topology, placedIn(topology, id)), minSeverity, detail);
  }

  /** What `networkMap` shows of a view at `minSeverity`, in its detail: see {@link filterNetworkMap}. */
  private async shownMap(
    view: Pick<NetworkTopology, "nodes" | "edges">,
    minSeverity: PolicySeverity,
    detail: NetworkMapDetail,
  ): Promise<NetworkMap> {
    const nodes: NetworkNode[] = view.nodes.map((n) =>
      Object.assign(new NetworkNode(), {
        ...n,
        kind: n.kind as NetworkNodeKind,
        highestSeverity: null,
        unhealthyRecommendations: 0,
        contents: null,
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
      node.highestSeverity = higherSeverity(node.highestSeverity, severity);
    }
    // The topology's edges as they are kept (shared between requests, never changed): the NETWORKS view folds
    // them, the resource view copies only those it shows.
    const shown = filterNetworkMap(nodes, view.edges, minSeverity);
    if (detail === NetworkMapDetail.NETWORKS) return foldNetworkMap(shown);
    return Object.assign(new NetworkMap(), {
      nodes: shown.nodes,
      edges: shown.edges.map((e) =>
        Object.assign(new NetworkEdge(), {
          ...e,
          kind: e.kind as NetworkEdgeKind,
          ports: e.ports.map((p) => Object.assign(new PortRange(), p)),
          connections: 1,
        }),
      ),
    });
  }
}

/**
 * The part of a network map `networkMap(minSeverity)` shows: the resources whose highest unhealthy
 * recommendation reaches `minSeverity`, then the infrastructure that connects them (never across a peering: a
 * peered VNet is shown when something kept lies in it), the external networks a kept VNet/VPC peers with (nothing
 * can lie in them), and the internet when a kept node is exposed. A VM or instance is shown only when it
 * qualifies itself — not because it shares a subnet with one that does, nor because traffic reaches it from one —
 * and neither is a NIC attached only to VMs that do not qualify (nor what hangs from it alone, its public IPs).
 */
export function filterNetworkMap<E extends { from: string; to: string; kind: string }>(
  nodes: readonly NetworkNode[],
  edges: readonly E[],
  minSeverity: PolicySeverity,
): { nodes: NetworkNode[]; edges: E[] } {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const qualifies = (n: NetworkNode) =>
    n.highestSeverity !== null && RANK[n.highestSeverity] >= RANK[minSeverity];
  // NICs attached to a VM, and whether any of their VMs qualifies.
  const nicShown = new Map<string, boolean>();
  for (const e of edges)
    if (e.kind === "ATTACHED_TO" && byId.get(e.to)?.kind === "VIRTUAL_MACHINE")
      nicShown.set(e.from, (nicShown.get(e.from) ?? false) || qualifies(byId.get(e.to)!));
  const reachable = (n: NetworkNode) =>
    n.kind === "VIRTUAL_MACHINE"
      ? qualifies(n)
      : n.kind !== "NETWORK_INTERFACE" || nicShown.get(n.id) !== false;
  // Keep the resources that meet the severity, then the infrastructure that connects them.
  const keep = new Set(nodes.filter(qualifies).map((n) => n.id));
  for (let grew = true; grew;) {
    grew = false;
    for (const e of edges) {
      if (e.kind === "PEERED_WITH") continue;
      for (const [a, b] of [
        [e.from, e.to],
        [e.to, e.from],
      ] as const) {
        if (!keep.has(a) || keep.has(b)) continue;
        const other = byId.get(b);
        if (other && reachable(other)) {
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
  return {
    nodes: nodes.filter((n) => keep.has(n.id)),
    edges: edges.filter((e) => keep.has(e.from) && keep.has(e.to)),
  };
}

/** A neighbour's place in its list: direction, then the neighbour's id (code-point order). */
function neighbourKey(n: NetworkNeighbour): string {
  return `${n.direction}:${n.id}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
