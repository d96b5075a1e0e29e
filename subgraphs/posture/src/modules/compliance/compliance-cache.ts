import { Counter, register } from "prom-client";
import { SizedLru } from "../../../../common/src";

const lookups =
  (register.getSingleMetric("rampart_compliance_cache_total") as Counter<"result"> | undefined) ??
  new Counter({
    name: "rampart_compliance_cache_total",
    help: "Tenants' compliance signatures asked of the posture subgraph's cache: hit (kept, and no change to the tenant's assessments committed since), partial (kept, and the accounts changed since read again), miss (all read from the assessments), or bypass (the cache is off, or the reading transaction has written).",
    labelNames: ["result"],
  });

/** The resources of an account that have one signature (see compliance.service.ts). */
export interface SignatureRow {
  account_id: string;
  /** Space-separated ids of the mapped definitions that assess these resources HEALTHY or UNHEALTHY. */
  assessed: string;
  /** The same for UNHEALTHY only. */
  unhealthy: string;
  resources: number;
}

/** A tenant's signatures and the snapshot (`pg_snapshot` text) they were aggregated in. */
export interface KeptSignatures {
  snapshot: string;
  rows: SignatureRow[];
}

/**
 * Each tenant's compliance signatures kept between requests in this process, with the snapshot they were read in:
 * a request asks the database which accounts a transaction that changed the tenant's assessments has committed to
 * since (`assessment_changes`), and reads only those accounts' again. At most `limit` signature rows in all, least
 * recently used out first (a tenant with more than the whole limit is read for each request and not kept); 0 keeps
 * none.
 */
export class ComplianceCache {
  private readonly kept: SizedLru<string, KeptSignatures>;

  constructor(limit: number) {
    this.kept = new SizedLru(limit);
  }

  /** Changes the limit, dropping what no longer fits. */
  setLimit(limit: number): void {
    this.kept.setLimit(limit);
  }

  /** Drops everything kept (a benchmark measuring the cold path). */
  clear(): void {
    this.kept.clear();
  }

  /** Signature rows held now. */
  get size(): number {
    return this.kept.size;
  }

  get enabled(): boolean {
    return this.kept.enabled;
  }

  /** What is kept for the tenant, if anything (marked most recently used). */
  get(tenantId: string): KeptSignatures | undefined {
    return this.kept.get(tenantId);
  }

  /** Counts a lookup's outcome. */
  count(result: "hit" | "partial" | "miss" | "bypass"): void {
    lookups.inc({ result });
  }

  /** Keeps the tenant's signatures read in `snapshot`, in place of what was kept. */
  keep(tenantId: string, kept: KeptSignatures): void {
    this.kept.set(tenantId, kept, kept.rows.length);
  }
}

/** The posture subgraph's cache (one per process); its limit is set from COMPLIANCE_CACHE_SIZE at start. */
export const complianceCache = new ComplianceCache(200_000);
