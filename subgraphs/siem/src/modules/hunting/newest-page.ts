import { toKeysetPage, type ConnectionData, type PageArgs, type RequestDb } from "../../../../common/src";

/**
 * A page of the tenant's rows of `table`, newest first by id (ids are UUIDv7, so their order is their creation
 * order); `totalCount` counts the tenant's rows only when selected.
 */
export async function newestFirstPage<T extends { id: string }, C>(
  db: RequestDb,
  tenantId: string,
  table: "hunting_queries" | "watchlists",
  args: PageArgs,
  fromRow: (row: Record<string, unknown>) => T,
  connection: { from(data: ConnectionData<T>): C },
): Promise<C> {
  const page = toKeysetPage(args, "none");
  const params: unknown[] = [tenantId, page.first + 1];
  if (page.after) params.push(page.after[1]);
  const rows: Array<Record<string, unknown>> = await db.read((m) =>
    m.query(
      `SELECT * FROM ${table} WHERE tenant_id = $1${page.after ? " AND id < $3::uuid" : ""} ORDER BY id DESC LIMIT $2`,
      params,
    ),
  );
  return connection.from({
    rows: rows.map(fromRow),
    page,
    total: async () =>
      Number(
        (
          await db.read((m) => m.query(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenantId]))
        )[0].n,
      ),
    cursorOf: (row) => [null, row.id],
  });
}
