import type { EntityManager } from "typeorm";
import {
  BadUserInputError,
  ConflictError,
  isUuid,
  newId,
  NotFoundError,
  textProblem,
  toKeysetPage,
  writeAudit,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { newestFirstPage } from "./newest-page";
import { watchlistAliasesOfFilter } from "../rules/rule-filter";
import { filtersOfRule, watchlistAliasesOfQuery, type RuleSpec } from "../rules/rule-spec";
import { textProblems } from "./hunting.service";
import {
  RemoveWatchlistItemsPayload,
  Watchlist,
  WatchlistConnection,
  WatchlistItem,
  WatchlistItemConnection,
  WatchlistRejection,
  WatchlistUploadPayload,
  type AddWatchlistItemsInput,
  type CreateWatchlistInput,
  type RemoveWatchlistItemsInput,
} from "./hunting.types";
import {
  foldKey,
  parseWatchlistCsv,
  WATCHLIST_LIMITS,
  type CsvItem,
  type CsvRejection,
} from "./watchlist-csv";

/** A watchlist alias: 1–64 letters, digits, `_` and `-`, starting with a letter. */
export const WATCHLIST_ALIAS = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function watchlistFromRow(row: Record<string, unknown>): Watchlist {
  return Object.assign(new Watchlist(), {
    id: row.id,
    alias: row.alias,
    name: row.name,
    description: row.description,
    searchKey: row.search_key,
    columns: row.columns,
    itemCount: row.item_count,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  });
}

function itemFromRow(row: Record<string, unknown>): WatchlistItem {
  return Object.assign(new WatchlistItem(), {
    id: row.id,
    searchKey: row.search_key,
    data: row.data,
    createdAt: row.created_at,
  });
}

const rejections = (list: CsvRejection[]) => list.map((r) => Object.assign(new WatchlistRejection(), r));

/**
 * The analytics rules of a tenant one of whose filters (a correlation's named filters too) or whose KQL query
 * names `aliasKey` (lower case) — a watchlist they use must not go away under them.
 */
async function rulesUsing(m: EntityManager, tenantId: string, aliasKey: string): Promise<string[]> {
  const rows: Array<{ spec: RuleSpec }> = await m.query(
    `SELECT spec FROM analytics_rules WHERE tenant_id = $1`,
    [tenantId],
  );
  return rows
    .filter(
      (r) =>
        filtersOfRule(r.spec).some(({ filter }) => watchlistAliasesOfFilter(filter).includes(aliasKey)) ||
        watchlistAliasesOfQuery(r.spec).includes(aliasKey),
    )
    .map((r) => r.spec.displayName);
}

/** Watchlists: CSV uploads, items, deletion (write: ADMIN, as they change what analytics rules match). */
export class WatchlistsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** The tenant's watchlists, newest first. */
  list(args: PageArgs): Promise<WatchlistConnection> {
    return newestFirstPage(
      this.db,
      this.identity.tenantId,
      "watchlists",
      args,
      watchlistFromRow,
      WatchlistConnection,
    );
  }

  /** One watchlist by id or by alias (any case); null when the tenant has none such. */
  async find(by: { id?: string | null; alias?: string | null }): Promise<Watchlist | null> {
    // No watchlist has such an id, or an alias with a NUL (which no SQL parameter could carry).
    if (by.id != null ? !isUuid(by.id) : textProblem(by.alias ?? "") !== null) return null;
    const [column, value] = by.id != null ? ["id", by.id] : ["alias_key", (by.alias ?? "").toLowerCase()];
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM watchlists WHERE tenant_id = $1 AND ${column} = $2`, [
        this.identity.tenantId,
        value,
      ]),
    );
    return rows.length ? watchlistFromRow(rows[0]) : null;
  }

  /** A watchlist's items in upload order. */
  async items(watchlistId: string, args: PageArgs): Promise<WatchlistItemConnection> {
    const page = toKeysetPage(args, "none");
    const params: unknown[] = [this.identity.tenantId, watchlistId, page.first + 1];
    if (page.after) params.push(page.after[1]);
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT * FROM watchlist_items WHERE tenant_id = $1 AND watchlist_id = $2${page.after ? " AND id > $4::uuid" : ""} ORDER BY id LIMIT $3`,
        params,
      ),
    );
    return WatchlistItemConnection.from({
      rows: rows.map(itemFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT item_count AS n FROM watchlists WHERE tenant_id = $1 AND id = $2`, [
                this.identity.tenantId,
                watchlistId,
              ]),
            )
          )[0]?.n ?? 0,
        ),
      cursorOf: (i) => [null, i.id],
    });
  }

  async create(input: CreateWatchlistInput): Promise<WatchlistUploadPayload> {
    const problems: InputProblem[] = [
      ...(WATCHLIST_ALIAS.test(input.alias ?? "")
        ? []
        : [{ field: "alias", message: "1 to 64 letters, digits, _ and -, starting with a letter" }]),
      ...textProblems("name", input.name, 256, true),
      ...textProblems("description", input.description, 5000, false),
      ...textProblems("searchKey", input.searchKey, WATCHLIST_LIMITS.maxColumnName, true),
    ];
    if (problems.length) throw new BadUserInputError("Invalid watchlist; nothing was stored.", problems);
    const parsed = parseWatchlistCsv(input.csv, input.searchKey);
    if ("problem" in parsed)
      throw new BadUserInputError("Invalid watchlist; nothing was stored.", [
        { field: parsed.field, message: parsed.problem },
      ]);
    return this.db.write(async (m) => {
      const id = newId();
      const rows: Array<Record<string, unknown>> = await m.query(
        `INSERT INTO watchlists (tenant_id, id, alias, alias_key, name, description, search_key, columns, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (tenant_id, alias_key) DO NOTHING RETURNING id`,
        [
          this.identity.tenantId,
          id,
          input.alias,
          input.alias.toLowerCase(),
          input.name.trim(),
          input.description ?? "",
          input.searchKey,
          parsed.columns,
          this.identity.subject,
        ],
      );
      if (!rows.length)
        throw new ConflictError(`A watchlist with the alias "${input.alias}" exists already.`);
      const { added } = await this.store(m, id, parsed.items, 0);
      await writeAudit(m, this.identity, [
        {
          action: "watchlist.created",
          target: `watchlist:${id}`,
          details: { alias: input.alias, items: added, rejected: parsed.rejected.length },
        },
      ]);
      return Object.assign(new WatchlistUploadPayload(), {
        watchlist: await this.fetch(m, id),
        addedCount: added,
        replacedCount: 0,
        rejected: rejections(parsed.rejected),
      });
    });
  }

  async addItems(input: AddWatchlistItemsInput): Promise<WatchlistUploadPayload> {
    return this.db.write(async (m) => {
      const current = await this.lock(m, input.watchlistId);
      const parsed = parseWatchlistCsv(input.csv, current.searchKey, current.columns);
      if ("problem" in parsed)
        throw new BadUserInputError("Invalid watchlist items; nothing was stored.", [
          { field: "csv", message: parsed.problem },
        ]);
      const existing = new Set(
        (
          (await m.query(
            `SELECT search_key FROM watchlist_items WHERE tenant_id = $1 AND watchlist_id = $2 AND search_key = ANY($3::text[])`,
            [this.identity.tenantId, current.id, parsed.items.map((i) => i.searchKey)],
          )) as Array<{ search_key: string }>
        ).map((r) => r.search_key),
      );
      // New keys beyond the watchlist's capacity are rejected by line; replacements always fit.
      let room = WATCHLIST_LIMITS.maxItems - current.itemCount;
      const kept: CsvItem[] = [];
      const rejected = [...parsed.rejected];
      for (const item of parsed.items) {
        if (existing.has(item.searchKey)) kept.push(item);
        else if (room > 0) {
          kept.push(item);
          room--;
        } else
          rejected.push({
            line: item.line,
            reason: `the watchlist is full (${WATCHLIST_LIMITS.maxItems} items)`,
          });
      }
      rejected.sort((a, b) => a.line - b.line);
      const { added, replaced } = await this.store(m, current.id, kept, 1);
      await writeAudit(m, this.identity, [
        {
          action: "watchlist.items.added",
          target: `watchlist:${current.id}`,
          details: { alias: current.alias, added, replaced, rejected: rejected.length },
        },
      ]);
      return Object.assign(new WatchlistUploadPayload(), {
        watchlist: await this.fetch(m, current.id),
        addedCount: added,
        replacedCount: replaced,
        rejected: rejections(rejected),
      });
    });
  }

  async removeItems(input: RemoveWatchlistItemsInput): Promise<RemoveWatchlistItemsPayload> {
    const keys = input.searchKeys ?? [];
    if (keys.length === 0 || keys.length > WATCHLIST_LIMITS.maxItems)
      throw new BadUserInputError("Invalid removal; nothing was removed.", [
        { field: "searchKeys", message: `name 1 to ${WATCHLIST_LIMITS.maxItems} search keys` },
      ]);
    const bad = keys.findIndex((k) => typeof k !== "string" || textProblem(k) !== null);
    if (bad >= 0)
      throw new BadUserInputError("Invalid removal; nothing was removed.", [
        { index: bad, field: "searchKeys", message: "is not storable text" },
      ]);
    return this.db.write(async (m) => {
      const current = await this.lock(m, input.watchlistId);
      const gone: unknown[] = await m.query(
        `WITH gone AS (DELETE FROM watchlist_items WHERE tenant_id = $1 AND watchlist_id = $2 AND search_key = ANY($3::text[]) RETURNING 1) SELECT * FROM gone`,
        [this.identity.tenantId, current.id, [...new Set(keys)]],
      );
      if (gone.length) {
        await this.touch(m, current.id);
        await writeAudit(m, this.identity, [
          {
            action: "watchlist.items.removed",
            target: `watchlist:${current.id}`,
            details: { alias: current.alias, removed: gone.length },
          },
        ]);
      }
      return Object.assign(new RemoveWatchlistItemsPayload(), {
        watchlist: await this.fetch(m, current.id),
        removedCount: gone.length,
      });
    });
  }

  /** Deletes a watchlist and its items; CONFLICT while an analytics rule's filter uses it. */
  async delete(id: string): Promise<Watchlist> {
    return this.db.write(async (m) => {
      const current = await this.lock(m, id);
      const rules = await rulesUsing(m, this.identity.tenantId, current.alias.toLowerCase());
      if (rules.length)
        throw new ConflictError(
          `The watchlist "${current.alias}" is used by the analytics rule${rules.length > 1 ? "s" : ""} ${rules
            .slice(0, 10)
            .map((r) => `"${r}"`)
            .join(", ")}: change ${rules.length > 1 ? "them" : "it"} first.`,
        );
      await m.query(`DELETE FROM watchlists WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        current.id,
      ]);
      await writeAudit(m, this.identity, [
        { action: "watchlist.deleted", target: `watchlist:${current.id}`, details: { alias: current.alias } },
      ]);
      return current;
    });
  }

  /** Inserts or replaces items, then moves the watchlist's count and version. */
  private async store(
    m: EntityManager,
    watchlistId: string,
    items: CsvItem[],
    touch: 0 | 1,
  ): Promise<{ added: number; replaced: number }> {
    let added = 0;
    let replaced = 0;
    for (let i = 0; i < items.length; i += 1000) {
      const batch = items.slice(i, i + 1000);
      const rows: Array<{ inserted: boolean }> = await m.query(
        `INSERT INTO watchlist_items (tenant_id, id, watchlist_id, search_key, key_folded, data)
         SELECT $1, x.id, $2, x.search_key, x.key_folded, x.data
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::jsonb[]) AS x(id, search_key, key_folded, data)
         ON CONFLICT (tenant_id, watchlist_id, search_key)
         DO UPDATE SET data = excluded.data, key_folded = excluded.key_folded, created_at = now()
         RETURNING (xmax = 0) AS inserted`,
        [
          this.identity.tenantId,
          watchlistId,
          batch.map(() => newId()),
          batch.map((item) => item.searchKey),
          batch.map((item) => foldKey(item.searchKey)),
          batch.map((item) => JSON.stringify(item.data)),
        ],
      );
      for (const row of rows) if (row.inserted) added++;
      replaced += rows.length - rows.filter((r) => r.inserted).length;
    }
    if (touch || added || replaced) await this.touch(m, watchlistId);
    return { added, replaced };
  }

  /** Recounts the items and moves the version (NRT rules reload a watchlist whose version moved). */
  private async touch(m: EntityManager, watchlistId: string): Promise<void> {
    await m.query(
      `UPDATE watchlists SET item_count = (SELECT count(*) FROM watchlist_items WHERE tenant_id = $1 AND watchlist_id = $2),
         version = version + 1, updated_by = $3, updated_at = now()
       WHERE tenant_id = $1 AND id = $2`,
      [this.identity.tenantId, watchlistId, this.identity.subject],
    );
  }

  private async lock(m: EntityManager, id: string): Promise<Watchlist> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid watchlist id.", [{ field: "id", message: "must be a UUID" }]);
    const rows: Array<Record<string, unknown>> = await m.query(
      `SELECT * FROM watchlists WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [this.identity.tenantId, id],
    );
    if (!rows.length) throw new NotFoundError("Watchlist", id);
    return watchlistFromRow(rows[0]);
  }

  private async fetch(m: EntityManager, id: string): Promise<Watchlist> {
    const rows: Array<Record<string, unknown>> = await m.query(
      `SELECT * FROM watchlists WHERE tenant_id = $1 AND id = $2`,
      [this.identity.tenantId, id],
    );
    return watchlistFromRow(rows[0]);
  }
}
