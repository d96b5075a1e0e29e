import { placedIn } from "../../subgraphs/posture/src/modules/network/network-fold";
import {
  accountView,
  buildNetworkTopology,
  viewAround,
  type NetworkTopology,
} from "../../subgraphs/posture/src/modules/network/network-topology";
import {
  plantedAccountView,
  plantedNetworkView,
  syntheticNetworkEstate,
  type NetworkEstate,
} from "./demo-estate";

/**
 * The network-map benchmark checks its answers against the map `syntheticNetworkEstate` says it planted; that map
 * must be the one the topology builds from the estate's resources (for every account and as one account sees it),
 * or the benchmark would fail on a correct answer — or pass a wrong one.
 */
describe("syntheticNetworkEstate", () => {
  const estate = syntheticNetworkEstate(3_000, 8, 3);
  /** Resource ids as the table would give them, in generation order (the builder reads rows in id order). */
  const ids = estate.resources.map((_, i) => `r${String(i).padStart(6, "0")}`);
  const keyOf = new Map(ids.map((id, i) => [id, estate.resources[i].externalId]));
  const topology = buildNetworkTopology(
    estate.resources.map((r, i) => ({ ...r, id: ids[i], accountId: String(r.account) })),
  );
  const key = (id: string) => keyOf.get(id) ?? id;
  const builtNodes = (t: Pick<NetworkTopology, "nodes">) =>
    t.nodes.map((n) => `${key(n.id)} ${n.kind} ${n.accountId}`).sort();
  const builtEdges = (t: Pick<NetworkTopology, "edges">) =>
    t.edges.map((e) => `${key(e.from)} ${e.kind} ${key(e.to)}`).sort();
  const plantedNodes = (p: Pick<NetworkEstate, "nodes">) =>
    p.nodes.map((n) => `${n.key} ${n.kind} ${n.account === null ? null : String(n.account)}`).sort();
  const plantedEdges = (p: Pick<NetworkEstate, "edges">) =>
    p.edges.map((e) => `${e.from} ${e.kind} ${e.to}`).sort();

  it("gives about the asked number of resources, in every account, with every kind of link", () => {
    expect(estate.resources.length).toBeGreaterThanOrEqual(3_000);
    expect(estate.resources.length).toBeLessThan(3_100);
    expect(new Set(estate.resources.map((r) => r.account)).size).toBe(8);
    const kinds = new Set(estate.edges.map((e) => e.kind));
    expect([...kinds].sort()).toEqual(
      ["ALLOWS_TRAFFIC", "ASSOCIATED_WITH", "ATTACHED_TO", "CONTAINS", "PEERED_WITH", "PROTECTED_BY"].sort(),
    );
    expect(estate.nodes.some((n) => n.kind === "EXTERNAL_NETWORK")).toBe(true);
    // Cross-account links: peerings between accounts, another account's elastic IP on an instance.
    const accountOf = new Map(estate.nodes.map((n) => [n.key, n.account]));
    const across = (kind: string) =>
      estate.edges.filter(
        (e) =>
          e.kind === kind &&
          accountOf.get(e.from) !== null &&
          accountOf.get(e.to) !== null &&
          accountOf.get(e.from) !== accountOf.get(e.to),
      ).length;
    expect(across("PEERED_WITH")).toBeGreaterThan(0);
    expect(across("ASSOCIATED_WITH")).toBeGreaterThan(0);
  });

  it("plants the map of every account that the topology builds from its resources", () => {
    expect(builtNodes(topology)).toEqual(plantedNodes(estate));
    expect(builtEdges(topology)).toEqual(plantedEdges(estate));
  });

  it("plants each account's view as accountView gives it", () => {
    for (let account = 0; account < estate.accounts.length; account++) {
      const view = accountView(topology, String(account));
      const planted = plantedAccountView(estate, account);
      expect(builtNodes(view)).toEqual(plantedNodes(planted));
      expect(builtEdges(view)).toEqual(plantedEdges(planted));
      expect(view.nodes.some((n) => n.accountId !== String(account) && n.accountId !== null)).toBe(true);
    }
  });

  it("plants each network's view as placedIn and viewAround give it", () => {
    const networks = topology.nodes.filter((n) => n.kind === "VIRTUAL_NETWORK");
    expect(networks.length).toBeGreaterThan(50);
    let across = 0;
    for (const network of networks) {
      const view = viewAround(topology, placedIn(topology, network.id));
      const planted = plantedNetworkView(estate, key(network.id));
      expect(builtNodes(view)).toEqual(plantedNodes(planted));
      expect(builtEdges(view)).toEqual(plantedEdges(planted));
      if (view.nodes.some((n) => n.accountId !== network.accountId && n.accountId !== null)) across++;
    }
    // The hubs' maps reach into other accounts (their peered hubs, an elastic IP of another account).
    expect(across).toBeGreaterThanOrEqual(8);
  });

  it("is deterministic", () => {
    expect(syntheticNetworkEstate(3_000, 8, 3)).toEqual(estate);
  });
});
