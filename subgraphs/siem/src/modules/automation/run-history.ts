import {
  BadUserInputError,
  isUuid,
  toKeysetPage,
  type ConnectionData,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";

/** What a run-history list is filtered by: uuid columns by the filter field naming them, and statuses. */
export interface RunHistoryQuery {
  /** `[filter field, column, value]`: rows whose column equals the value, when one is given. */
  ids: ReadonlyArray<readonly [field: string, column: string, value: string | null | undefined]>;
  /** Only these statuses, when given and not empty. */
  statuses?: readonly string[] | null;
}

/**
 * A page of the tenant's rows of a run-history table (`automation_runs`, `playbook_runs`), newest first by
 * `(created_at, id)`. A filter id that is not a UUID is BAD_USER_INPUT naming its field; `totalCount` counts the
 * filtered rows only when selected.
 */
export async function runHistoryPage<T extends { createdAt: Date; id: string }, C>(
  db: RequestDb,
  tenantId: string,
  table: "automation_runs" | "playbook_runs",
  query: RunHistoryQuery,
  args: PageArgs,
  fromRow: (row: Record<string, unknown>) => T,
  connection: { from(data: ConnectionData<T>): C },
): Promise<C> {
  const page = toKeysetPage(args, "time");
  const where = ["tenant_id = $1"];
  const params: unknown[] = [tenantId];
  const problems: InputProblem[] = [];
  for (const [field, column, value] of query.ids) {
    if (value == null) continue;
    if (!isUuid(value)) problems.push({ field: `filter.${field}`, message: "must be a UUID" });
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  if (problems.length) throw new BadUserInputError("Invalid filter.", problems);
  if (query.statuses?.length) {
    params.push(query.statuses);
    where.push(`status = ANY($${params.length}::text[])`);
  }
  const base = [...params];
  const baseWhere = where.join(" AND ");
  if (page.after) {
    params.push(page.after[0], page.after[1]);
    where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(page.first + 1);
  const rows: Array<Record<string, unknown>> = await db.read((m) =>
    m.query(
      `SELECT * FROM ${table} WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    ),
  );
  return connection.from({
    rows: rows.map(fromRow),
    page,
    total: async () =>
      Number(
        (await db.read((m) => m.query(`SELECT count(*) AS n FROM ${table} WHERE ${baseWhere}`, base)))[0].n,
      ),
    cursorOf: (r) => [r.createdAt.toISOString(), r.id],
  });
}
