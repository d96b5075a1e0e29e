import DataLoader from "dataloader";
import type { EntityManager } from "typeorm";
import {
  BadUserInputError,
  childConnectionLoader,
  childPagesSql,
  groupChildRows,
  isUuid,
  NotFoundError,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import {
  DEFAULT_WATCH_LIST,
  normalizeWatchEntry,
  pathKey,
  pathKeySql,
  watchEntryRegex,
  watchPathProblems,
  WATCH_LIMITS,
  type WatchEntry,
} from "./paths";
import {
  FileBaseline,
  FileBaselineConnection,
  FileChange,
  FileChangeConnection,
  FimWatchedPath,
  FimWatchList,
  FimWatchListSource,
  type FileChangeFilter,
  type ResetFimWatchedPathsInput,
  type SetFimWatchedPathsInput,
} from "./fim.types";
import { loadWatchLists } from "./watch-lists";

interface ListRow {
  group_id: string | null;
  paths: WatchEntry[];
  updated_by: string;
  updated_at: Date;
}

function watchList(
  groupId: string | null,
  source: FimWatchListSource,
  entries: readonly WatchEntry[],
  row?: ListRow,
): FimWatchList {
  return Object.assign(new FimWatchList(), {
    groupId,
    source,
    paths: entries.map((e) => Object.assign(new FimWatchedPath(), e)),
    updatedBy: row?.updated_by ?? null,
    updatedAt: row?.updated_at ?? null,
  });
}

/**
 * The SQL of file changes of many machines (parameters: see `FimService.changesLoader`). Pages on
 * (`time_ms`, record id): telemetry times are the agents' own, with any number of fractional digits, but
 * cursors carry milliseconds, so keying on the stored time would place a cursor before its own change and
 * the next page would skip the changes of the same millisecond. (Telemetry keeps the agents' times:
 * `time` is its partition key, whose type Postgres cannot alter.)
 */
const CHANGES_SQL = `
  WITH p AS (SELECT * FROM unnest($2::uuid[], $3::text[], $4::bool[]) AS p(resource_id, re, critical)),
  f AS (
    SELECT t.resource_id, t.record_id, t.time, t.path, t.action, t.sha256, t.user_name,
           t.details->>'previousPath' AS previous_path, t.details->>'previousSha256' AS previous_sha256,
           ${pathKeySql("t.path")} AS key, ${pathKeySql("(t.details->>'previousPath')")} AS previous_key
    FROM telemetry t
    WHERE t.tenant_id = $1 AND t.resource_id = ANY($5::uuid[]) AND t.kind = 'file'
  ),
  w AS (
    SELECT f.*,
      EXISTS (SELECT 1 FROM p WHERE p.resource_id = f.resource_id AND f.key ~ p.re) AS path_watched,
      EXISTS (SELECT 1 FROM p WHERE p.resource_id = f.resource_id AND f.previous_key ~ p.re) AS previous_watched,
      EXISTS (SELECT 1 FROM p WHERE p.resource_id = f.resource_id AND p.critical
                AND (f.key ~ p.re OR f.previous_key ~ p.re)) AS critical
    FROM f
  ),
  k AS (
    SELECT w.*, CASE WHEN w.path_watched THEN w.key ELSE w.previous_key END AS watched_key
    FROM w WHERE w.path_watched OR w.previous_watched
  ),
  c AS (
    SELECT k.*, b.sha256 AS baseline_sha256, b.record_id AS baseline_record,
           lag(k.sha256) OVER s AS lag_sha256, lag(k.action) OVER s AS lag_action
    FROM k LEFT JOIN fim_baselines b ON b.tenant_id = $1 AND b.resource_id = k.resource_id AND b.path_key = k.watched_key
    WINDOW s AS (PARTITION BY k.resource_id, k.watched_key ORDER BY k.time, k.record_id)
  ),
  filtered AS (
    SELECT c.*, date_trunc('milliseconds', c.time) AS time_ms FROM c
    WHERE ($6::text[] IS NULL OR c.action = ANY($6::text[])) AND ($7::bool IS NULL OR c.critical = $7)
      AND ($8::text IS NULL OR c.watched_key = $8) AND ($9::timestamptz IS NULL OR c.time >= $9)
      AND ($10::timestamptz IS NULL OR c.time < $10)
  ),
  totals AS (SELECT resource_id, count(*)::int AS total FROM filtered GROUP BY resource_id),
  paged AS (
    SELECT filtered.*, row_number() OVER (PARTITION BY resource_id ORDER BY time_ms DESC, record_id DESC) AS rn
    FROM filtered WHERE $11::timestamptz IS NULL OR (time_ms, record_id) < ($11::timestamptz, $12::text)
  )
  SELECT t.resource_id AS page_parent, t.total, rn AS page_rn,
    record_id, time, path, previous_path, action, user_name, critical, baseline_sha256,
    CASE WHEN action = 'deleted' THEN NULL ELSE sha256 END AS new_sha256,
    CASE WHEN action = 'created' THEN NULL ELSE coalesce(
      previous_sha256,
      CASE WHEN lag_action IS NOT NULL AND lag_action <> 'deleted' THEN lag_sha256 END,
      CASE WHEN lag_action IS NULL AND baseline_record IS DISTINCT FROM record_id THEN baseline_sha256 END
    ) END AS old_sha256
  FROM totals t LEFT JOIN paged ON paged.resource_id = t.resource_id AND paged.rn <= $13
  ORDER BY t.resource_id, paged.rn`;

/** File integrity monitoring: watch lists, file changes and baselines. */
export class FimService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** The tenant's list (inherited from the built-in one when not set), then every group's own list. */
  async watchLists(): Promise<FimWatchList[]> {
    const rows: ListRow[] = await this.db.read((m) =>
      m.query(
        `SELECT l.group_id, l.paths, l.updated_by, l.updated_at FROM fim_watch_lists l
         LEFT JOIN app_control_groups g ON g.id = l.group_id
         WHERE l.tenant_id = $1 ORDER BY l.group_id IS NOT NULL, g.name, l.group_id`,
        [this.identity.tenantId],
      ),
    );
    const tenant = rows.find((r) => r.group_id === null);
    return [
      tenant
        ? watchList(null, FimWatchListSource.TENANT, tenant.paths, tenant)
        : watchList(null, FimWatchListSource.DEFAULT, DEFAULT_WATCH_LIST),
      ...rows
        .filter((r) => r.group_id !== null)
        .map((r) => watchList(r.group_id, FimWatchListSource.GROUP, r.paths, r)),
    ];
  }

  /** The list in force on each group (its own, else the tenant's, else the built-in one). */
  readonly groupList = new DataLoader<string, FimWatchList>(async (groupIds) => {
    const rows: ListRow[] = await this.db.read((m) =>
      m.query(
        `SELECT group_id, paths, updated_by, updated_at FROM fim_watch_lists
         WHERE tenant_id = $1 AND (group_id IS NULL OR group_id = ANY($2::uuid[]))`,
        [this.identity.tenantId, groupIds.filter(isUuid)],
      ),
    );
    const tenant = rows.find((r) => r.group_id === null);
    return groupIds.map((id) => {
      const own = rows.find((r) => r.group_id === id);
      if (own) return watchList(id, FimWatchListSource.GROUP, own.paths, own);
      if (tenant) return watchList(id, FimWatchListSource.TENANT, tenant.paths, tenant);
      return watchList(id, FimWatchListSource.DEFAULT, DEFAULT_WATCH_LIST);
    });
  });

  /** Checks that a group exists in the tenant (NOT_FOUND otherwise). */
  private async checkGroup(m: EntityManager, groupId: string): Promise<void> {
    const rows: unknown[] = isUuid(groupId)
      ? await m.query(`SELECT 1 FROM app_control_groups WHERE tenant_id = $1 AND id = $2 FOR SHARE`, [
          this.identity.tenantId,
          groupId,
        ])
      : [];
    if (rows.length === 0) throw new NotFoundError("Application-control group", groupId);
  }

  /** Replaces a group's or the tenant's watched paths. */
  async setWatchedPaths(input: SetFimWatchedPathsInput): Promise<FimWatchList> {
    const problems: InputProblem[] = [];
    if (input.paths.length > WATCH_LIMITS.entries)
      problems.push({ field: "paths", message: `at most ${WATCH_LIMITS.entries} paths` });
    const seen = new Set<string>();
    const entries: WatchEntry[] = [];
    input.paths.forEach((p, index) => {
      const pathProblems = watchPathProblems(p.path);
      for (const message of pathProblems) problems.push({ index, field: "paths.path", message });
      if (pathProblems.length) return;
      const entry = normalizeWatchEntry({ path: p.path, recursive: p.recursive, critical: p.critical });
      const key = `${pathKey(entry.path)}|${entry.recursive}`;
      if (seen.has(key)) problems.push({ index, field: "paths.path", message: "listed twice" });
      seen.add(key);
      entries.push(entry);
    });
    if (problems.length) throw new BadUserInputError("Invalid watched paths; nothing was changed.", problems);
    const groupId = input.groupId ?? null;
    return this.db.write(async (m) => {
      // An empty id is an id too (NOT_FOUND): only an absent one means the tenant's own list.
      if (groupId !== null) await this.checkGroup(m, groupId);
      const [row]: ListRow[] = await m.query(
        `INSERT INTO fim_watch_lists (tenant_id, group_id, paths, updated_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, group_id) DO UPDATE SET paths = excluded.paths, updated_by = excluded.updated_by, updated_at = now()
         RETURNING group_id, paths, updated_by, updated_at`,
        [this.identity.tenantId, groupId, JSON.stringify(entries), this.identity.subject],
      );
      const details = { groupId, paths: entries };
      await writeAudit(m, this.identity, [
        { action: "fim.watchlist.set", target: groupId ? `app-control-group:${groupId}` : "fim", details },
      ]);
      await writeOutbox(m, [
        {
          tenantId: this.identity.tenantId,
          topic: "fim.watchlist.set",
          key: groupId ?? this.identity.tenantId,
          payload: { ...details, actor: this.identity.subject },
        },
      ]);
      return watchList(
        groupId,
        groupId ? FimWatchListSource.GROUP : FimWatchListSource.TENANT,
        row.paths,
        row,
      );
    });
  }

  /** Removes a group's or the tenant's own list; returns the list now in force there. */
  async resetWatchedPaths(input: ResetFimWatchedPathsInput | undefined): Promise<FimWatchList> {
    const groupId = input?.groupId ?? null;
    return this.db.write(async (m) => {
      if (groupId !== null) await this.checkGroup(m, groupId);
      const removed: unknown[] = await m.query(
        `WITH d AS (DELETE FROM fim_watch_lists WHERE tenant_id = $1 AND group_id IS NOT DISTINCT FROM $2::uuid RETURNING 1)
         SELECT * FROM d`,
        [this.identity.tenantId, groupId],
      );
      if (removed.length) {
        const details = { groupId };
        await writeAudit(m, this.identity, [
          {
            action: "fim.watchlist.reset",
            target: groupId ? `app-control-group:${groupId}` : "fim",
            details,
          },
        ]);
        await writeOutbox(m, [
          {
            tenantId: this.identity.tenantId,
            topic: "fim.watchlist.reset",
            key: groupId ?? this.identity.tenantId,
            payload: { ...details, actor: this.identity.subject },
          },
        ]);
      }
      const [tenant]: ListRow[] = groupId
        ? await m.query(
            `SELECT group_id, paths, updated_by, updated_at FROM fim_watch_lists WHERE tenant_id = $1 AND group_id IS NULL`,
            [this.identity.tenantId],
          )
        : [];
      return tenant
        ? watchList(groupId, FimWatchListSource.TENANT, tenant.paths, tenant)
        : watchList(groupId, FimWatchListSource.DEFAULT, DEFAULT_WATCH_LIST);
    });
  }

  /** File changes of many machines with the same filter, paged per machine in one statement. */
  private readonly changeLoaders = new Map<string, ReturnType<typeof childConnectionLoader<FileChange>>>();

  /** A page of a machine's changes to watched files, newest first. */
  async fileChanges(
    resourceId: string,
    filter: FileChangeFilter | undefined,
    args: PageArgs,
  ): Promise<FileChangeConnection> {
    const page = toKeysetPage(args, "time", "text");
    if (filter?.path != null && watchPathProblems(filter.path).length)
      throw new BadUserInputError("Invalid file change filter.", [
        { field: "path", message: "must be an absolute path" },
      ]);
    const key = JSON.stringify([
      filter?.actions ?? null,
      filter?.critical ?? null,
      filter?.path ?? null,
      filter?.since ?? null,
      filter?.until ?? null,
    ]);
    let loader = this.changeLoaders.get(key);
    if (!loader) {
      loader = childConnectionLoader<FileChange>(async (ids, p) => {
        const machines = ids.filter(isUuid);
        if (machines.length === 0) return new Map();
        return this.db.read(async (m) => {
          const lists = await loadWatchLists(m, this.identity.tenantId, machines);
          const patterns = [...lists.entries()].flatMap(([id, list]) =>
            list.matcher.entries.map((e) => ({ id, re: watchEntryRegex(e), critical: e.critical })),
          );
          const [afterTime, afterId] = p.after ?? [null, null];
          const rows: Array<
            Record<string, unknown> & { page_parent: string; page_rn: unknown; total: number }
          > = await m.query(CHANGES_SQL, [
            this.identity.tenantId,
            patterns.map((x) => x.id),
            patterns.map((x) => x.re),
            patterns.map((x) => x.critical),
            machines,
            filter?.actions ?? null,
            filter?.critical ?? null,
            filter?.path != null
              ? pathKey(normalizeWatchEntry({ path: filter.path, recursive: false, critical: false }).path)
              : null,
            filter?.since ?? null,
            filter?.until ?? null,
            afterTime,
            afterId,
            p.first + 1,
          ]);
          // A page past the end still carries its machine's count (a row with no change).
          return groupChildRows(rows, (row) =>
            Object.assign(new FileChange(), {
              id: row.record_id,
              path: row.path,
              previousPath: row.previous_path ?? null,
              action: row.action,
              oldSha256: row.old_sha256 ?? null,
              newSha256: row.new_sha256 ?? null,
              baselineSha256: row.baseline_sha256 ?? null,
              time: row.time,
              user: row.user_name ?? null,
              critical: row.critical,
            }),
          );
        });
      });
      this.changeLoaders.set(key, loader);
    }
    const { rows, total } = await loader.load({ parentId: resourceId, page });
    return FileChangeConnection.from({
      rows,
      page,
      total,
      cursorOf: (c) => [new Date(c.time).toISOString(), c.id],
    });
  }

  /** Baselines of many machines, paged per machine in one statement (by path). */
  private readonly baselineLoader = childConnectionLoader<FileBaseline>(async (ids, p) => {
    const [, afterKey] = p.after ?? [null, null];
    const rows: Array<Record<string, unknown> & { page_parent: string; page_rn: unknown; total: number }> =
      await this.db.read((m) =>
        m.query(
          childPagesSql({
            source: `SELECT b.* FROM fim_baselines b WHERE b.tenant_id = $1 AND b.resource_id = ANY($2::uuid[])`,
            parent: "resource_id",
            after: "$3::text IS NULL OR path_key > $3",
            order: "path_key",
            limit: "$4",
          }),
          [this.identity.tenantId, ids.filter(isUuid), afterKey, p.first + 1],
        ),
      );
    return groupChildRows(rows, (row) =>
      Object.assign(new FileBaseline(), {
        key: row.path_key as string,
        path: row.path,
        sha256: row.sha256 ?? null,
        firstSeen: row.first_seen,
        recordId: row.record_id,
      }),
    );
  });

  /** A page of a machine's baselines. */
  async baselines(resourceId: string, args: PageArgs): Promise<FileBaselineConnection> {
    const page = toKeysetPage(args, "none", "text");
    const { rows, total } = await this.baselineLoader.load({ parentId: resourceId, page });
    return FileBaselineConnection.from({
      rows,
      page,
      total,
      cursorOf: (b) => [null, (b as FileBaseline & { key: string }).key],
    });
  }
}
