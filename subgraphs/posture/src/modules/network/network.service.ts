import DataLoader from "dataloader";
import { isUuid, ResourceKind, type Identity, type RequestDb } from "../../../../common/src";
import { type PolicySeverity } from "../policies/policies.types";
import type { PoliciesService } from "../policies/policies.service";
import {
  buildNetworkTopology,
  INTERNET_NODE_ID,
  type NetworkResource,
  type NetworkTopology,
} from "./network-topology";
import { Exposure, NetworkEdge, NetworkMap, NetworkNode, OpenPort, PortRange } from "./network.types";

const NETWORK_KINDS = [
  ResourceKind.VIRTUAL_NETWORK,
  ResourceKind.SUBNET,
  ResourceKind.NETWORK_SECURITY_GROUP,
  ResourceKind.NETWORK_INTERFACE,
  ResourceKind.VIRTUAL_MACHINE,
  ResourceKind.PUBLIC_IP,
];
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

  /** Topology per account, from one statement for all requested accounts. */
  private readonly topologies = new DataLoader<string, NetworkTopology>(async (accountIds) => {
    const rows: Array<NetworkResource & { account_id: string; external_id: string }> = await this.db.read(
      (m) =>
        m.query(
          `SELECT id, account_id, external_id, type, name, properties FROM resources
         WHERE tenant_id = $1 AND account_id = ANY($2::uuid[]) AND kind = ANY($3::text[])`,
          [this.identity.tenantId, accountIds.filter(isUuid), NETWORK_KINDS],
        ),
    );
    return accountIds.map((accountId) =>
      buildNetworkTopology(
        rows.filter((r) => r.account_id === accountId).map((r) => ({ ...r, externalId: r.external_id })),
      ),
    );
  });

  /** A resource's internet exposure (false with no ports for resources the network map does not cover). */
  async exposure(resourceId: string, accountId: string): Promise<Exposure> {
    const exposure = (await this.topologies.load(accountId)).exposure.get(resourceId);
    if (!exposure) return NO_EXPOSURE();
    return Object.assign(new Exposure(), {
      internetExposed: exposure.internetExposed,
      publicIps: exposure.publicIps,
      openPorts: exposure.openPorts.map((p) => Object.assign(new OpenPort(), p)),
    });
  }

  /**
   * The network map of an account (or of every account), showing resources whose unhealthy
   * recommendations reach `minSeverity` and the network infrastructure connected to them.
   */
  async map(accountId: string | null | undefined, minSeverity: PolicySeverity): Promise<NetworkMap> {
    const accounts: string[] = accountId
      ? [accountId]
      : (
          await this.db.read((m) =>
            m.query(`SELECT id FROM cloud_accounts WHERE tenant_id = $1`, [this.identity.tenantId]),
          )
        ).map((r: { id: string }) => r.id);
    const topologies = await this.topologies.loadMany(accounts);
    const nodes: NetworkNode[] = [];
    const edges: NetworkEdge[] = [];
    const seen = new Set<string>();
    for (const t of topologies) {
      if (t instanceof Error) throw t;
      for (const n of t.nodes) {
        if (seen.has(n.id)) continue;
        seen.add(n.id);
        nodes.push(
          Object.assign(new NetworkNode(), { ...n, highestSeverity: null, unhealthyRecommendations: 0 }),
        );
      }
      for (const e of t.edges)
        edges.push(
          Object.assign(new NetworkEdge(), {
            ...e,
            ports: e.ports.map((p) => Object.assign(new PortRange(), p)),
          }),
        );
    }
    const definitions = await this.policies.all();
    const unhealthy: Array<{ resource_id: string; definition_id: string }> = await this.db.read((m) =>
      m.query(
        `SELECT resource_id, definition_id FROM assessments WHERE tenant_id = $1 AND status = 'UNHEALTHY' AND resource_id = ANY($2::uuid[])`,
        [this.identity.tenantId, nodes.filter((n) => n.id !== INTERNET_NODE_ID).map((n) => n.id)],
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
            (other.kind !== "VIRTUAL_MACHINE" || e.kind !== "ALLOWS_TRAFFIC" || a === INTERNET_NODE_ID)
          ) {
            if (other.kind === "VIRTUAL_MACHINE" && other.highestSeverity === null) continue;
            keep.add(b);
            grew = true;
          }
        }
      }
    }
    if ([...keep].some((id) => byId.get(id)?.internetExposed)) keep.add(INTERNET_NODE_ID);
    return Object.assign(new NetworkMap(), {
      nodes: nodes.filter((n) => keep.has(n.id)),
      edges: edges.filter((e) => keep.has(e.from) && keep.has(e.to)),
    });
  }
}
