/*
 * FIM baselines: the first hash seen for each watched path of each machine. Written by the telemetry
 * ingest (in its transaction) for file records on watched paths. The baseline hash is the content before
 * the first change seen when the agent reported it (`previousSha256`), else the first content reported; an
 * earlier record that arrives late replaces a later baseline. File changes use it as the old hash when the
 * previous change is no longer in the telemetry (past retention).
 */
import type { EntityManager } from "typeorm";
import type { FileRecord } from "../telemetry/telemetry.model";
import { pathKey } from "./paths";
import type { EffectiveWatchList } from "./watch-lists";

/** The hash a record says the path had first: before the change when known, else after it. */
export function baselineHashOf(r: FileRecord): string | null {
  if (r.action === "created") return r.sha256 ?? null;
  return r.previousSha256 ?? (r.action === "deleted" ? null : (r.sha256 ?? null));
}

/** Records baselines for the watched paths among `records` (earliest record per machine and path wins). */
export async function recordBaselines(
  m: EntityManager,
  tenantId: string,
  records: readonly FileRecord[],
  lists: ReadonlyMap<string, EffectiveWatchList>,
): Promise<number> {
  const earliest = new Map<string, { r: FileRecord; key: string; path: string }>();
  for (const r of records) {
    const matcher = lists.get(r.resourceId)?.matcher;
    if (!matcher) continue;
    // A rename away from a watched path is the last record of the old path; the new path starts there.
    const path = matcher.watched(r.path)
      ? r.path
      : r.previousPath && matcher.watched(r.previousPath)
        ? r.previousPath
        : null;
    if (!path) continue;
    const key = pathKey(path);
    const id = `${r.resourceId}|${key}`;
    const kept = earliest.get(id);
    if (!kept || Date.parse(r.time) < Date.parse(kept.r.time)) earliest.set(id, { r, key, path });
  }
  if (earliest.size === 0) return 0;
  // In (machine, path) order, so two batches of the same paths wait for each other instead of deadlocking.
  const rows = [...earliest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  const written = (await m.query(
    `INSERT INTO fim_baselines AS b (tenant_id, resource_id, path_key, path, sha256, first_seen, record_id)
     SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
     ON CONFLICT (tenant_id, resource_id, md5(path_key)) DO UPDATE
       SET path = excluded.path, sha256 = excluded.sha256, first_seen = excluded.first_seen, record_id = excluded.record_id
       WHERE excluded.first_seen < b.first_seen
     RETURNING 1`,
    [
      tenantId,
      rows.map((x) => x.r.resourceId),
      rows.map((x) => x.key),
      rows.map((x) => x.path),
      rows.map((x) =>
        x.path === x.r.path ? baselineHashOf(x.r) : (x.r.previousSha256 ?? x.r.sha256 ?? null),
      ),
      rows.map((x) => x.r.time),
      rows.map((x) => x.r.id),
    ],
  )) as unknown[];
  return written.length;
}
