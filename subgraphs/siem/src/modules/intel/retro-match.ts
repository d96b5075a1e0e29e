/**
 * Retro-matching: indicators imported (or changed) after events were stored are matched against the tenant's
 * events of the `INTEL_RETRO_MATCH_DAYS` days before the import by a durable job, raising the same TI_MATCH alerts ingest-time
 * matching raises (same rules, same de-duplication keys: a match found by both, or by a job that runs twice,
 * is one alert).
 *
 * Every import that stores or changes indicators queues one `intel_retro_match` job in its transaction, keyed by
 * the tenant and the import's transaction time (`imported_at` of the rows it wrote), so the job reads exactly the
 * indicators of that import that are still at that version (a later import of the same indicator queues its own
 * job). The job reads candidate events in bounded batches, keyset by (time, id), each batch matched and its
 * alerts stored in a transaction of its own:
 * - indicators whose every pattern group names an IP address or an e-mail address are looked up through the
 *   events' partial entity indexes: `(tenant_id, src_ip, time)` and `(tenant_id, dst_ip, time)` for addresses
 *   (a CIDR as the range of its first to last address, which `=`/`>=`/`<=` on inet, being leakproof, can use
 *   under row-level security; `<<=` could not), `(tenant_id, actor_key, time)` for e-mail addresses;
 * - otherwise (domains, URLs, hashes: kept inside `attributes`, in no index) the job reads every event of the
 *   lookback through `(tenant_id, time)`.
 * An event is then matched in memory exactly as at ingest, so an address seen only inside a URL, or an e-mail
 * address only in a message's fields, is found by the scan but not by the indexed lookups.
 */
import type { DataSource, EntityManager } from "typeorm";
import { addJob, inTenant } from "../../../../common/src";
import { ingestRules } from "../rules/rules.service";
import { normalizeIpv4, normalizeIpv6, type Observable } from "./stix";
import {
  ALERTING_INDICATORS_SQL,
  applicableTiRules,
  indicatorSetOf,
  raiseTiAlerts,
  type MatchableEvent,
} from "./ti-matcher";

/** The retro-matching job's task. */
export const TI_RETRO_MATCH_TASK = "intel_retro_match";

/** The job key of an import's retro-matching: one job per tenant and importing transaction. */
export const retroMatchJobKey = (tenantId: string, importedAt: string) =>
  `intel-retro:${tenantId}:${importedAt}`;

/** How the job batches its reads (tests make it small). */
export interface RetroMatchOptions {
  /** Events read (and matched, in one transaction) per batch. */
  batchSize: number;
  /** Batches per job run; the rest goes to a new job that resumes at the cursor. */
  batchesPerJob: number;
}

export const DEFAULT_RETRO_MATCH: RetroMatchOptions = { batchSize: 1000, batchesPerJob: 20 };

/** The job's payload: the tenant, the import's transaction time and, for a continuation, where to resume. */
export interface RetroMatchPayload {
  tenantId: string;
  importedAt: string;
  /** The last event matched: (time as Postgres text, id). */
  cursor?: { time: string; id: string } | null;
}

/**
 * Queues the retro-matching of the indicators the caller's transaction stored or changed (call after writing
 * them): it runs once the transaction commits.
 */
export async function queueRetroMatch(m: EntityManager, tenantId: string): Promise<void> {
  const [{ importedAt }]: Array<{ importedAt: string }> = await m.query(`SELECT now()::text AS "importedAt"`);
  const payload: RetroMatchPayload = { tenantId, importedAt };
  await addJob(m, "siem", TI_RETRO_MATCH_TASK, payload as unknown as Record<string, unknown>, {
    jobKey: retroMatchJobKey(tenantId, importedAt),
    maxAttempts: 10,
  });
}

const EVENT_COLUMNS_SQL = `e.id, e.connector, e.time, e.time::text AS time_text, e.class_uid, e.activity_id, e.severity_id,
  e.status, e.message, e.actor_user, host(e.src_ip) AS src_ip, e.src_port, host(e.dst_ip) AS dst_ip, e.dst_port, e.device,
  e.resource_id, e.operation, e.src_country, e.attributes`;

/** What the indexed lookups need of a set of indicators, or null when some group needs the scan. */
export interface IndexedLookup {
  ips: string[];
  ranges: Array<{ lo: string; hi: string }>;
  emails: string[];
}

/** First and last address of a CIDR network (canonical text), or null when it is not one. */
export function cidrRange(cidr: string): { lo: string; hi: string } | null {
  const slash = cidr.indexOf("/");
  if (slash === -1) return null;
  const prefix = Number(cidr.slice(slash + 1));
  const address = cidr.slice(0, slash);
  const v4 = normalizeIpv4(address);
  if (v4 !== null && Number.isInteger(prefix) && prefix >= 0 && prefix <= 32) {
    const n = v4.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
    const size = 2 ** (32 - prefix);
    const lo = Math.floor(n / size) * size;
    const text = (x: number) => [24, 16, 8, 0].map((s) => Math.floor(x / 2 ** s) % 256).join(".");
    return { lo: text(lo), hi: text(lo + size - 1) };
  }
  const v6 = normalizeIpv6(address);
  if (v6 !== null && Number.isInteger(prefix) && prefix >= 0 && prefix <= 128) {
    const bits = ipv6Bits(v6);
    const lo = bits.slice(0, prefix).padEnd(128, "0");
    const hi = bits.slice(0, prefix).padEnd(128, "1");
    return { lo: bitsToIpv6(lo), hi: bitsToIpv6(hi) };
  }
  return null;
}

function ipv6Bits(v6: string): string {
  const [head, tail = ""] = v6.includes("::") ? v6.split("::") : [v6, ""];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = v6.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("");
}

function bitsToIpv6(bits: string): string {
  const groups: string[] = [];
  for (let i = 0; i < 128; i += 16) groups.push(parseInt(bits.slice(i, i + 16), 2).toString(16));
  return groups.join(":");
}

/**
 * The indexed lookups that find every event a group of the indicators can match through its IP or e-mail
 * observable (one per group suffices: a group matches only events that show all of its observables), or null
 * when a group has neither (the job then scans the lookback).
 */
export function indexedLookupOf(groupsOfIndicators: ReadonlyArray<Observable[][]>): IndexedLookup | null {
  const ips = new Set<string>();
  const ranges = new Map<string, { lo: string; hi: string }>();
  const emails = new Set<string>();
  for (const groups of groupsOfIndicators) {
    for (const group of groups) {
      const ip = group.find((o) => o.type === "ipv4-addr" || o.type === "ipv6-addr");
      const email = group.find((o) => o.type === "email-addr");
      if (ip) {
        const range = cidrRange(ip.value);
        if (range) ranges.set(`${range.lo}-${range.hi}`, range);
        else {
          const exact = ip.type === "ipv4-addr" ? normalizeIpv4(ip.value) : (normalizeIpv6(ip.value) ?? null);
          if (exact === null) continue; // an invalid value: the group can never match
          ips.add(exact);
        }
      } else if (email) {
        emails.add(email.value.trim().toLowerCase());
      } else {
        return null;
      }
    }
  }
  return { ips: [...ips], ranges: [...ranges.values()], emails: [...emails] };
}

/**
 * One batch of candidate events after `cursor`, oldest first: through the entity indexes (`lookup`), or every
 * event of the lookback (null). Rows matching several lookups may come twice (the caller de-duplicates).
 */
export function candidateSql(
  tenantId: string,
  from: string,
  cursor: { time: string; id: string } | null,
  lookup: IndexedLookup | null,
  limit: number,
): { sql: string; params: unknown[] } {
  const params: unknown[] = [
    tenantId,
    from,
    cursor?.time ?? from,
    cursor?.id ?? "00000000-0000-0000-0000-000000000000",
    limit,
  ];
  const base = `e.tenant_id = $1 AND e.time >= $2::timestamptz AND (e.time, e.id) > ($3::timestamptz, $4::uuid)`;
  const branch = (extraFrom: string, condition: string) =>
    `(SELECT ${EVENT_COLUMNS_SQL} FROM events e${extraFrom} WHERE ${base} AND ${condition} ORDER BY e.time, e.id LIMIT $5)`;
  if (lookup === null) return { sql: `${branch("", "true")}`, params };
  const branches: string[] = [];
  if (lookup.ips.length) {
    params.push(lookup.ips);
    const p = `$${params.length}::inet[]`;
    branches.push(branch("", `e.src_ip = ANY(${p})`), branch("", `e.dst_ip = ANY(${p})`));
  }
  if (lookup.ranges.length) {
    params.push(
      lookup.ranges.map((r) => r.lo),
      lookup.ranges.map((r) => r.hi),
    );
    const r = ` JOIN unnest($${params.length - 1}::inet[], $${params.length}::inet[]) AS r(lo, hi) ON true`;
    branches.push(
      branch(r, `e.src_ip >= r.lo AND e.src_ip <= r.hi`),
      branch(r, `e.dst_ip >= r.lo AND e.dst_ip <= r.hi`),
    );
  }
  if (lookup.emails.length) {
    params.push(lookup.emails);
    branches.push(branch("", `e.actor_key = ANY($${params.length}::text[])`));
  }
  if (branches.length === 0) return { sql: "", params };
  return {
    sql: `SELECT * FROM (${branches.join(" UNION ALL ")}) c ORDER BY c.time, c.id LIMIT $5`,
    params,
  };
}

/** What one job run did. */
export interface RetroMatchResult {
  indicators: number;
  events: number;
  alerts: number;
  /** Where the next job resumes; null when the lookback is done. */
  cursor: { time: string; id: string } | null;
}

/**
 * Runs (up to `batchesPerJob` batches of) the retro-matching of one import; see the module comment. Idempotent:
 * alerts are keyed as at ingest, so a second run stores nothing new.
 */
export async function runRetroMatch(
  ds: DataSource,
  payload: RetroMatchPayload,
  lookbackDays: number,
  options: RetroMatchOptions = DEFAULT_RETRO_MATCH,
  now: Date = new Date(),
): Promise<RetroMatchResult> {
  const { tenantId, importedAt } = payload;
  if (lookbackDays <= 0) return { indicators: 0, events: 0, alerts: 0, cursor: null };
  const prepared = await inTenant(ds, tenantId, async (m) => {
    const [{ from }]: Array<{ from: string }> = await m.query(
      `SELECT ($1::timestamptz - make_interval(days => $2))::text AS "from"`,
      [importedAt, lookbackDays],
    );
    const rows: Array<Record<string, unknown>> = await m.query(
      `SELECT id, name, groups, confidence, valid_from, valid_until FROM threat_indicators t
       WHERE tenant_id = $1 AND imported_at = $2::timestamptz AND ${ALERTING_INDICATORS_SQL}`,
      [tenantId, importedAt],
    );
    const rules = applicableTiRules(await ingestRules(m, tenantId));
    return { rows, rules, from };
  });
  const from = prepared.from;
  const result: RetroMatchResult = { indicators: prepared.rows.length, events: 0, alerts: 0, cursor: null };
  if (prepared.rows.length === 0 || prepared.rules.length === 0) return result;
  const set = indicatorSetOf(prepared.rows);
  if (set.index.size === 0) return result;
  const lookup = indexedLookupOf(prepared.rows.map((r) => r.groups as Observable[][]));
  let cursor = payload.cursor ?? null;
  for (let batch = 0; batch < options.batchesPerJob; batch++) {
    const { sql, params } = candidateSql(tenantId, from, cursor, lookup, options.batchSize);
    if (!sql) return result;
    const more = await inTenant(ds, tenantId, async (m) => {
      const rows: Array<Record<string, unknown>> = await m.query(sql, params);
      if (rows.length === 0) return false;
      const last = rows[rows.length - 1];
      cursor = { time: last.time_text as string, id: last.id as string };
      const seen = new Set<string>();
      const events = rows.filter((r) => !seen.has(r.id as string) && seen.add(r.id as string));
      result.events += events.length;
      result.alerts += await raiseTiAlerts(
        m,
        tenantId,
        set,
        prepared.rules,
        events as unknown as MatchableEvent[],
        now,
      );
      return rows.length >= options.batchSize;
    });
    if (!more) return result;
  }
  result.cursor = cursor;
  return result;
}
