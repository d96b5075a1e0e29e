import { Counter, register } from "prom-client";
import { SizedLru } from "../../../../common/src";
import type { NetworkTopology } from "./network-topology";

const lookups =
  (register.getSingleMetric("rampart_network_topology_cache_total") as Counter<"result"> | undefined) ??
  new Counter({
    name: "rampart_network_topology_cache_total",
    help: "Network topologies asked of the posture subgraph's cache: hit (kept from an earlier request at the tenant's current inventory token), miss (read and built), or bypass (the cache is off, or the tenant has no token yet).",
    labelNames: ["result"],
  });

interface Entry {
  tenantId: string;
  token: string;
  topology: Promise<NetworkTopology>;
}

/**
 * Network topologies kept between requests in this process, so that a dashboard listing resources with their
 * exposure, or a network map opened again, does not read and rebuild an account's whole network each time (at
 * 58,000 network resources in an account, about 1.5 s).
 *
 * A topology is kept under its tenant, the tenant's inventory token (`inventory_versions`, changed in the same
 * transaction as any change to the tenant's resources) and the accounts it was built for. A request reads the
 * token before anything else of the network, so whatever was committed before it began shows in its answer, as
 * it did when nothing was kept; once a tenant's token moves, its entries under older tokens are dropped. Requests
 * that ask for the same topology while it is being built share the one build. Topologies are never changed after
 * they are built: the service copies what it returns.
 *
 * The cache holds at most `limit` nodes plus edges in all (least recently used out first; a topology larger than
 * the whole limit is built for its request and not kept); 0 turns it off.
 */
export class TopologyCache {
  /** Sized by nodes plus edges once built; 0 while being built. */
  private readonly entries: SizedLru<string, Entry>;

  constructor(limit: number) {
    this.entries = new SizedLru(limit);
  }

  /** Changes the limit, dropping what no longer fits. */
  setLimit(limit: number): void {
    this.entries.setLimit(limit);
  }

  /** Drops everything kept (a benchmark measuring the cold path). */
  clear(): void {
    this.entries.clear();
  }

  /** Nodes plus edges held now (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The topology of `accounts` (a key naming what `build` reads, e.g. sorted account ids, or `*` for every
   * account) for the tenant at `token`: kept, or built by `build` and kept. A null token (a tenant whose
   * resources have not changed since before tokens existed, which the migration rules out, or who has none) is
   * never kept.
   */
  get(
    tenantId: string,
    token: string | null,
    accounts: string,
    build: () => Promise<NetworkTopology>,
  ): Promise<NetworkTopology> {
    if (!this.entries.enabled || token === null) {
      lookups.inc({ result: "bypass" });
      return build();
    }
    const key = `${tenantId}\u0000${token}\u0000${accounts}`;
    const hit = this.entries.get(key);
    if (hit) {
      lookups.inc({ result: "hit" });
      return hit.topology;
    }
    lookups.inc({ result: "miss" });
    for (const [k, e] of this.entries)
      if (e.tenantId === tenantId && e.token !== token) this.entries.delete(k);
    const entry: Entry = { tenantId, token, topology: build() };
    this.entries.set(key, entry, 0);
    entry.topology.then(
      (t) => {
        if (this.entries.peek(key) === entry) this.entries.resize(key, t.nodes.length + t.edges.length);
      },
      () => {
        if (this.entries.peek(key) === entry) this.entries.delete(key);
      },
    );
    return entry.topology;
  }
}

/** The posture subgraph's cache (one per process); its limit is set from NETWORK_TOPOLOGY_CACHE_SIZE at start. */
export const topologyCache = new TopologyCache(500_000);
