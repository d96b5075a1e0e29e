import { Counter, register } from "prom-client";
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
  /** Nodes plus edges once built; 0 while it is being built. */
  size: number;
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
  private readonly entries = new Map<string, Entry>();
  private held = 0;

  constructor(private limit: number) {}

  /** Changes the limit, dropping what no longer fits. */
  setLimit(limit: number): void {
    this.limit = limit;
    this.evict();
  }

  /** Drops everything kept (a benchmark measuring the cold path). */
  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  /** Nodes plus edges held now (for tests and metrics). */
  get size(): number {
    return this.held;
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
    if (this.limit <= 0 || token === null) {
      lookups.inc({ result: "bypass" });
      return build();
    }
    const key = `${tenantId}\u0000${token}\u0000${accounts}`;
    const hit = this.entries.get(key);
    if (hit) {
      lookups.inc({ result: "hit" });
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.topology;
    }
    lookups.inc({ result: "miss" });
    for (const [k, e] of this.entries) if (e.tenantId === tenantId && e.token !== token) this.drop(k, e);
    const entry: Entry = { tenantId, token, topology: build(), size: 0 };
    this.entries.set(key, entry);
    entry.topology.then(
      (t) => {
        if (this.entries.get(key) !== entry) return;
        entry.size = t.nodes.length + t.edges.length;
        this.held += entry.size;
        if (entry.size > this.limit) this.drop(key, entry);
        else this.evict();
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.topology;
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.held -= entry.size;
  }

  /** Least recently used first, until what is held fits the limit. */
  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.held <= this.limit) return;
      this.drop(key, entry);
    }
  }
}

/** The posture subgraph's cache (one per process); its limit is set from NETWORK_TOPOLOGY_CACHE_SIZE at start. */
export const topologyCache = new TopologyCache(500_000);
