import DataLoader from "dataloader";
import type { EntityManager } from "typeorm";
import {
  BadUserInputError,
  ConflictError,
  isUuid,
  parameterTextProblems,
  jsonProblem,
  MAX_INDEXED_TEXT_BYTES,
  newId,
  NotFoundError,
  textProblem,
  toKeysetPage,
  utf8LongerThan,
  writeAudit,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { normalizeIp } from "../connectors/normalizers/common";
import { incidentFromRow, type Incident } from "../incidents/incident.entity";
import { lockCorrelation } from "../incidents/correlation";
import { recordIncidentChange } from "../incidents/incident-workflow.service";
import { ENTITY_TYPES, type EntityType } from "../rules/rule-spec";
import { mitreProblems, textProblems } from "./hunting.service";
import {
  Bookmark,
  BookmarkConnection,
  BookmarkEntity,
  type BookmarkEntityInput,
  type BookmarkFilter,
  type BookmarkIncidentInput,
  type CreateBookmarkInput,
  type UpdateBookmarkInput,
} from "./hunting.types";

/** Limits of a bookmark. */
export const BOOKMARK_LIMITS = {
  name: 256,
  query: 10_000,
  notes: 10_000,
  rows: 100,
  /** Characters of the rows as JSON. */
  rowsJson: 256 * 1024,
  labels: 50,
  label: 100,
  entities: 50,
} as const;

/** Event columns whose values are entities of a bookmark when none are given. */
const ENTITY_COLUMNS: ReadonlyArray<[string, EntityType]> = [
  ["actor_user", "ACCOUNT"],
  ["device", "HOST"],
  ["src_ip", "IP"],
  ["dst_ip", "IP"],
  ["resource_id", "RESOURCE"],
];

function bookmarkFromRow(row: Record<string, unknown>): Bookmark {
  return Object.assign(new Bookmark(), {
    id: row.id,
    name: row.name,
    query: row.query,
    queryStartTime: row.query_from,
    queryEndTime: row.query_to,
    huntingQueryId: row.hunting_query_id ?? null,
    rows: row.rows ?? [],
    eventIds: row.event_ids ?? [],
    eventTime: row.event_time ?? null,
    notes: row.notes,
    labels: row.labels ?? [],
    entities: ((row.entities ?? []) as Array<{ type: EntityType; value: string }>).map((e) =>
      Object.assign(new BookmarkEntity(), e),
    ),
    tactics: row.tactics ?? [],
    techniques: row.techniques ?? [],
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  });
}

/** An entity's value as stored (an IP in canonical form), or null when it cannot be one. */
function entityValue(type: EntityType, value: unknown): string | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const text = String(value).trim();
  if (text === "") return null;
  if (type === "IP") return normalizeIp(text);
  if (utf8LongerThan(text, MAX_INDEXED_TEXT_BYTES) || textProblem(text) !== null) return null;
  return text;
}

/** Entities once each (the first spelling of values equal but for case), at most BOOKMARK_LIMITS.entities. */
function distinctEntities(
  entities: Array<{ type: EntityType; value: string }>,
): Array<{ type: EntityType; value: string }> {
  const seen = new Map<string, { type: EntityType; value: string }>();
  for (const e of entities) {
    const key = `${e.type}|${e.value.toLowerCase()}`;
    if (!seen.has(key)) seen.set(key, e);
  }
  return [...seen.values()].slice(0, BOOKMARK_LIMITS.entities);
}

function labelProblems(labels: readonly string[] | null | undefined): InputProblem[] {
  if (!labels) return [];
  if (labels.length > BOOKMARK_LIMITS.labels)
    return [{ field: "labels", message: `at most ${BOOKMARK_LIMITS.labels}` }];
  const problems: InputProblem[] = [];
  labels.forEach((label, index) => {
    if (!label.trim() || label.length > BOOKMARK_LIMITS.label)
      problems.push({ index, field: "labels", message: `must be 1 to ${BOOKMARK_LIMITS.label} characters` });
    else if (textProblem(label)) problems.push({ index, field: "labels", message: textProblem(label)! });
  });
  return problems;
}

/** Given entities, checked and normalised: problems by index, or the stored form. */
function givenEntities(
  entities: readonly BookmarkEntityInput[],
  problems: InputProblem[],
): Array<{ type: EntityType; value: string }> {
  if (entities.length > BOOKMARK_LIMITS.entities) {
    problems.push({ field: "entities", message: `at most ${BOOKMARK_LIMITS.entities}` });
    return [];
  }
  const out: Array<{ type: EntityType; value: string }> = [];
  entities.forEach((e, index) => {
    const value = (ENTITY_TYPES as readonly string[]).includes(e.type) ? entityValue(e.type, e.value) : null;
    if (value === null)
      problems.push({
        index,
        field: "entities.value",
        message: e.type === "IP" ? "must be an IP address" : "must be 1 to 2048 bytes of text",
      });
    else out.push({ type: e.type, value });
  });
  return distinctEntities(out);
}

/** Bookmarks: hunt rows kept as evidence, and their incidents (read: READER; write: ANALYST). */
export class BookmarksService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Bookmarks, newest first. */
  async list(filter: BookmarkFilter | undefined, args: PageArgs): Promise<BookmarkConnection> {
    const page = toKeysetPage(args, "none");
    const where = ["b.tenant_id = $1"];
    const params: unknown[] = [this.identity.tenantId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replaceAll("?", `$${params.length}`));
    };
    // Problems name the field by its path in the arguments (`filter.incidentId`), as the other lists' filters do.
    const problems: InputProblem[] = [];
    for (const field of ["incidentId", "huntingQueryId"] as const) {
      const value = filter?.[field];
      if (value != null && !isUuid(value))
        problems.push({ field: `filter.${field}`, message: "must be a UUID" });
    }
    problems.push(...parameterTextProblems({ "filter.label": filter?.label }));
    if (problems.length) throw new BadUserInputError("Invalid filter.", problems);
    if (filter?.label) add("b.labels @> ARRAY[?::text]", filter.label);
    if (filter?.incidentId != null)
      add(
        "EXISTS (SELECT 1 FROM incident_bookmarks ib WHERE ib.tenant_id = b.tenant_id AND ib.bookmark_id = b.id AND ib.incident_id = ?::uuid)",
        filter.incidentId,
      );
    if (filter?.huntingQueryId != null) add("b.hunting_query_id = ?::uuid", filter.huntingQueryId);
    const base = [...params];
    const baseWhere = where.join(" AND ");
    if (page.after) add("b.id < ?::uuid", page.after[1]);
    params.push(page.first + 1);
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT b.* FROM bookmarks b WHERE ${where.join(" AND ")} ORDER BY b.id DESC LIMIT $${params.length}`,
        params,
      ),
    );
    return BookmarkConnection.from({
      rows: rows.map(bookmarkFromRow),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM bookmarks b WHERE ${baseWhere}`, base),
            )
          )[0].n,
        ),
      cursorOf: (b) => [null, b.id],
    });
  }

  async byId(id: string): Promise<Bookmark | null> {
    if (!isUuid(id)) return null;
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(`SELECT * FROM bookmarks WHERE tenant_id = $1 AND id = $2`, [this.identity.tenantId, id]),
    );
    return rows.length ? bookmarkFromRow(rows[0]) : null;
  }

  async create(input: CreateBookmarkInput): Promise<Bookmark> {
    const problems: InputProblem[] = [
      ...textProblems("name", input.name, BOOKMARK_LIMITS.name, true),
      ...textProblems("query", input.query, BOOKMARK_LIMITS.query, true),
      ...textProblems("notes", input.notes, BOOKMARK_LIMITS.notes, false),
      ...labelProblems(input.labels),
      ...mitreProblems(input.tactics, input.techniques),
    ];
    if (!(input.queryStartTime < input.queryEndTime))
      problems.push({ field: "queryStartTime", message: "must be before queryEndTime" });
    const rows = input.rows ?? [];
    if (rows.length === 0 || rows.length > BOOKMARK_LIMITS.rows)
      problems.push({ field: "rows", message: `keep 1 to ${BOOKMARK_LIMITS.rows} rows` });
    rows.forEach((row, index) => {
      const problem = jsonProblem(row, { maxDepth: 32 });
      if (problem)
        problems.push({
          index,
          field: `rows${problem.path ? `.${problem.path}` : ""}`,
          message: problem.message,
        });
    });
    const rowsJson = JSON.stringify(rows);
    if (rowsJson.length > BOOKMARK_LIMITS.rowsJson)
      problems.push({ field: "rows", message: `at most ${BOOKMARK_LIMITS.rowsJson} characters of JSON` });
    if (input.huntingQueryId != null && !isUuid(input.huntingQueryId))
      problems.push({ field: "huntingQueryId", message: "must be a UUID" });
    const entities =
      input.entities != null
        ? givenEntities(input.entities, problems)
        : distinctEntities(
            rows.flatMap((row) =>
              ENTITY_COLUMNS.flatMap(([column, type]) => {
                const value = entityValue(type, row[column]);
                return value === null ? [] : [{ type, value }];
              }),
            ),
          );
    if (problems.length) throw new BadUserInputError("Invalid bookmark; nothing was stored.", problems);
    const eventIds = [
      ...new Set(
        rows
          .map((r) => r.id)
          .filter(isUuid)
          .map((id) => id.toLowerCase()),
      ),
    ];
    const times = rows
      .map((r) => (typeof r.time === "string" ? Date.parse(r.time) : NaN))
      .filter((t) => Number.isFinite(t));
    const eventTime = times.length ? new Date(Math.min(...times)) : null;
    return this.db.write(async (m) => {
      if (input.huntingQueryId != null) {
        const found: unknown[] = await m.query(
          `SELECT 1 FROM hunting_queries WHERE tenant_id = $1 AND id = $2`,
          [this.identity.tenantId, input.huntingQueryId],
        );
        if (!found.length) throw new NotFoundError("Hunting query", input.huntingQueryId);
      }
      const [row] = await m.query(
        `INSERT INTO bookmarks (tenant_id, id, name, query, query_from, query_to, hunting_query_id, rows, event_ids, event_time,
                                notes, labels, entities, tactics, techniques, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING *`,
        [
          this.identity.tenantId,
          newId(),
          input.name.trim(),
          input.query,
          input.queryStartTime,
          input.queryEndTime,
          input.huntingQueryId ?? null,
          rowsJson,
          eventIds,
          eventTime,
          input.notes ?? "",
          [...new Set((input.labels ?? []).map((l) => l.trim()))],
          JSON.stringify(entities),
          [...new Set(input.tactics ?? [])],
          [...new Set(input.techniques ?? [])],
          this.identity.subject,
        ],
      );
      await writeAudit(m, this.identity, [
        {
          action: "bookmark.created",
          target: `bookmark:${row.id}`,
          details: { name: row.name, rows: rows.length },
        },
      ]);
      return bookmarkFromRow(row);
    });
  }

  async update(input: UpdateBookmarkInput): Promise<Bookmark> {
    if (!isUuid(input.id))
      throw new BadUserInputError("Invalid bookmark id.", [{ field: "id", message: "must be a UUID" }]);
    const problems: InputProblem[] = [
      ...textProblems("name", input.name, BOOKMARK_LIMITS.name, input.name != null),
      ...textProblems("notes", input.notes, BOOKMARK_LIMITS.notes, false),
      ...labelProblems(input.labels),
      ...mitreProblems(input.tactics, input.techniques),
    ];
    const entities = input.entities != null ? givenEntities(input.entities, problems) : null;
    if (problems.length)
      throw new BadUserInputError("Invalid bookmark change; nothing was changed.", problems);
    return this.db.write(async (m) => {
      const rows: Array<Record<string, unknown>> = await m.query(
        `WITH u AS (UPDATE bookmarks SET name = coalesce($3, name), notes = coalesce($4, notes), labels = coalesce($5, labels),
                      entities = coalesce($6, entities), tactics = coalesce($7, tactics), techniques = coalesce($8, techniques),
                      updated_by = $9, updated_at = now()
                    WHERE tenant_id = $1 AND id = $2 RETURNING *) SELECT * FROM u`,
        [
          this.identity.tenantId,
          input.id,
          input.name?.trim() ?? null,
          input.notes ?? null,
          input.labels ? [...new Set(input.labels.map((l) => l.trim()))] : null,
          entities ? JSON.stringify(entities) : null,
          input.tactics ? [...new Set(input.tactics)] : null,
          input.techniques ? [...new Set(input.techniques)] : null,
          this.identity.subject,
        ],
      );
      if (!rows.length) throw new NotFoundError("Bookmark", input.id);
      const changed = Object.keys(input).filter(
        (k) => k !== "id" && (input as unknown as Record<string, unknown>)[k] != null,
      );
      await writeAudit(m, this.identity, [
        { action: "bookmark.updated", target: `bookmark:${input.id}`, details: { changed } },
      ]);
      return bookmarkFromRow(rows[0]);
    });
  }

  /**
   * Deletes a bookmark; each incident it was attached to records the detachment. The incidents are locked before
   * the bookmark, as attach and detach lock them, and under the tenant's correlation lock, which merges (moving
   * bookmarks) and correlation hold while they lock incidents: in another order each would deadlock with it. An
   * attachment made between the look-up and the bookmark's lock starts the locking over (from a savepoint, so the
   * bookmark is not held while waiting for that incident).
   */
  async delete(id: string): Promise<Bookmark> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid bookmark id.", [{ field: "id", message: "must be a UUID" }]);
    return this.db.write(async (m) => {
      const attachedTo = async () =>
        (
          (await m.query(
            `SELECT incident_id FROM incident_bookmarks WHERE tenant_id = $1 AND bookmark_id = $2 ORDER BY incident_id`,
            [this.identity.tenantId, id],
          )) as Array<{ incident_id: string }>
        ).map((r) => r.incident_id);
      await lockCorrelation(m, this.identity.tenantId);
      let bookmark: Bookmark;
      let attached: Incident[];
      for (;;) {
        await m.query(`SAVEPOINT bookmark_delete`);
        const locked = new Map<string, Incident>();
        for (const incidentId of await attachedTo())
          locked.set(incidentId, await this.lockIncident(m, incidentId, false));
        bookmark = await this.lockBookmark(m, id);
        const now = await attachedTo();
        if (now.every((incidentId) => locked.has(incidentId))) {
          attached = now.map((incidentId) => locked.get(incidentId)!);
          break;
        }
        await m.query(`ROLLBACK TO SAVEPOINT bookmark_delete`);
      }
      for (const incident of attached) {
        await this.recordChange(m, incident, {
          bookmarkDetached: { id, name: bookmark.name, deleted: true },
        });
      }
      await m.query(`DELETE FROM bookmarks WHERE tenant_id = $1 AND id = $2`, [this.identity.tenantId, id]);
      await writeAudit(m, this.identity, [
        { action: "bookmark.deleted", target: `bookmark:${id}`, details: { name: bookmark.name } },
      ]);
      return bookmark;
    });
  }

  /** Attaches a bookmark to an incident (recorded in its activity log); attaching it again changes nothing. */
  async attach(input: BookmarkIncidentInput): Promise<Incident> {
    return this.link(input, true);
  }

  /** Detaches a bookmark from an incident (recorded in its activity log); a bookmark not attached changes nothing. */
  async detach(input: BookmarkIncidentInput): Promise<Incident> {
    return this.link(input, false);
  }

  private async link(input: BookmarkIncidentInput, attach: boolean): Promise<Incident> {
    const problems: InputProblem[] = [];
    if (!isUuid(input.bookmarkId)) problems.push({ field: "bookmarkId", message: "must be a UUID" });
    if (!isUuid(input.incidentId)) problems.push({ field: "incidentId", message: "must be a UUID" });
    if (problems.length) throw new BadUserInputError("Invalid ids.", problems);
    return this.db.write(async (m) => {
      const incident = await this.lockIncident(m, input.incidentId, attach);
      const bookmark = await this.lockBookmark(m, input.bookmarkId);
      const changed: unknown[] = attach
        ? await m.query(
            `INSERT INTO incident_bookmarks (tenant_id, incident_id, bookmark_id, attached_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING RETURNING 1`,
            [this.identity.tenantId, incident.id, bookmark.id, this.identity.subject],
          )
        : await m.query(
            `WITH gone AS (DELETE FROM incident_bookmarks WHERE tenant_id = $1 AND incident_id = $2 AND bookmark_id = $3 RETURNING 1)
             SELECT * FROM gone`,
            [this.identity.tenantId, incident.id, bookmark.id],
          );
      if (!changed.length) return incident;
      const change = { id: bookmark.id, name: bookmark.name };
      await this.recordChange(
        m,
        incident,
        attach ? { bookmarkAttached: change } : { bookmarkDetached: change },
      );
      const [row] = await m.query(`SELECT * FROM incidents WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        incident.id,
      ]);
      return incidentFromRow(row);
    });
  }

  /** A new etag and an activity log entry (with its outbox event and audit record) for an incident's bookmarks. */
  private async recordChange(
    m: EntityManager,
    incident: Incident,
    changes: Record<string, unknown>,
  ): Promise<void> {
    await m.query(
      `UPDATE incidents SET etag = etag + 1, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
      [this.identity.tenantId, incident.id],
    );
    await recordIncidentChange(m, this.identity, incident, "incident.updated", changes);
  }

  private async lockIncident(m: EntityManager, id: string, attaching: boolean): Promise<Incident> {
    const rows: Array<Record<string, unknown>> = await m.query(
      `SELECT * FROM incidents WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [this.identity.tenantId, id],
    );
    if (!rows.length) throw new NotFoundError("Incident", id);
    const incident = incidentFromRow(rows[0]);
    // A merged incident is hidden and its work continues in the one it was merged into.
    if (attaching && incident.mergedInto)
      throw new ConflictError(
        `Incident ${incident.number} was merged into another incident (${incident.mergedInto}); attach the bookmark there.`,
      );
    return incident;
  }

  private async lockBookmark(m: EntityManager, id: string): Promise<Bookmark> {
    const rows: Array<Record<string, unknown>> = await m.query(
      `SELECT * FROM bookmarks WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [this.identity.tenantId, id],
    );
    if (!rows.length) throw new NotFoundError("Bookmark", id);
    return bookmarkFromRow(rows[0]);
  }

  /** Bookmarks attached to each of many incidents (in attachment order), one statement per batch. */
  readonly forIncident = new DataLoader<string, Bookmark[]>(async (ids) => {
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `SELECT ib.incident_id AS attached_to, b.* FROM incident_bookmarks ib
           JOIN bookmarks b ON b.tenant_id = ib.tenant_id AND b.id = ib.bookmark_id
         WHERE ib.tenant_id = $1 AND ib.incident_id = ANY($2::uuid[]) ORDER BY ib.attached_at, b.id`,
        [this.identity.tenantId, ids.filter(isUuid)],
      ),
    );
    return ids.map((id) => rows.filter((r) => r.attached_to === id.toLowerCase()).map(bookmarkFromRow));
  });

  /** Ids of the incidents each of many bookmarks is attached to, one statement per batch. */
  readonly incidentIds = new DataLoader<string, string[]>(async (ids) => {
    const rows: Array<{ bookmark_id: string; incident_id: string }> = await this.db.read((m) =>
      m.query(
        `SELECT bookmark_id, incident_id FROM incident_bookmarks WHERE tenant_id = $1 AND bookmark_id = ANY($2::uuid[]) ORDER BY attached_at`,
        [this.identity.tenantId, ids.filter(isUuid)],
      ),
    );
    return ids.map((id) => rows.filter((r) => r.bookmark_id === id).map((r) => r.incident_id));
  });
}
