import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** What a transition table's rows add to the counters (`sign` 1) or take from them (-1). */
type Side = { table: "new_rows" | "old_rows"; sign: 1 | -1 };

/** A statement's rows from its transition tables, each with the sign of its side. */
const rowsOf = (sides: Side[], columns: string, where = "") =>
  sides.map((s) => `SELECT ${s.sign} AS sign, ${columns} FROM ${s.table} ${where}`).join(" UNION ALL ");

/**
 * Adds a statement's moves to the counters of `table` in the order of their key, so that two statements moving
 * the same counters lock them in the same order; moves that cancel out (an update that changed no status) write
 * nothing.
 */
const applyMoves = (table: string, columns: string[], moves: string) => `
  INSERT INTO ${table} AS c (tenant_id, account_id, definition_id, control_id, ${columns.join(", ")})
  SELECT * FROM (${moves}) AS m
  WHERE ${columns.map((c) => `m.${c} <> 0`).join(" OR ")}
  ORDER BY m.tenant_id, m.account_id, m.definition_id, m.control_id
  ON CONFLICT (tenant_id, account_id, definition_id, control_id) DO UPDATE SET
    ${columns.map((c) => `${c} = c.${c} + excluded.${c}`).join(", ")}`;

/** The counter moves of a statement on `assessments`: its rows' statuses by (tenant, account, definition, control). */
const assessmentMoves = (sides: Side[]) =>
  applyMoves(
    "definition_counters",
    ["healthy", "unhealthy", "not_applicable"],
    `SELECT tenant_id, account_id, definition_id, control_id,
            coalesce(sum(sign) FILTER (WHERE status = 'HEALTHY'), 0) AS healthy,
            coalesce(sum(sign) FILTER (WHERE status = 'UNHEALTHY'), 0) AS unhealthy,
            coalesce(sum(sign) FILTER (WHERE status = 'NOT_APPLICABLE'), 0) AS not_applicable
     FROM (${rowsOf(sides, "tenant_id, account_id, definition_id, control_id, status")}) AS d
     GROUP BY tenant_id, account_id, definition_id, control_id`,
  );

/**
 * The flip moves of a statement on `control_states`: its rows with exactly one unhealthy assessment, by that
 * assessment's account and definition (which the row names) and the control.
 */
const controlStateMoves = (sides: Side[]) =>
  applyMoves(
    "definition_flips",
    ["flips"],
    `SELECT tenant_id, unhealthy_account_id AS account_id, unhealthy_definition_id AS definition_id, control_id,
            sum(sign) AS flips
     FROM (${rowsOf(
       sides,
       "tenant_id, unhealthy_account_id, unhealthy_definition_id, control_id",
       "WHERE unhealthy_count = 1 AND unhealthy_definition_id IS NOT NULL",
     )}) AS d
     GROUP BY tenant_id, unhealthy_account_id, unhealthy_definition_id, control_id`,
  );

const EVENTS: Array<{ event: "INSERT" | "UPDATE" | "DELETE"; sides: Side[]; referencing: string }> = [
  { event: "INSERT", sides: [{ table: "new_rows", sign: 1 }], referencing: "NEW TABLE AS new_rows" },
  {
    event: "UPDATE",
    sides: [
      { table: "new_rows", sign: 1 },
      { table: "old_rows", sign: -1 },
    ],
    referencing: "OLD TABLE AS old_rows NEW TABLE AS new_rows",
  },
  { event: "DELETE", sides: [{ table: "old_rows", sign: -1 }], referencing: "OLD TABLE AS old_rows" },
];

/** The triggers (and their functions, one each) that keep the counters. */
const TRIGGERS = [
  ...EVENTS.map((e) => ({
    name: `definition_counters_${e.event.toLowerCase()}`,
    table: "assessments",
    event: e.event,
    referencing: e.referencing,
    body: assessmentMoves(e.sides),
  })),
  ...EVENTS.map((e) => ({
    name: `definition_flips_${e.event.toLowerCase()}`,
    table: "control_states",
    event: e.event,
    referencing: e.referencing,
    body: controlStateMoves(e.sides),
  })),
];

/**
 * Recommendation counters, per (tenant, account, definition, control): `definition_counters` holds the HEALTHY,
 * UNHEALTHY and NOT_APPLICABLE assessments, `definition_flips` the "flips" (unhealthy assessments that are their
 * resource's only unhealthy one in the control, whose fix would turn the resource healthy there). The
 * recommendations read a row per definition from them instead of aggregating every assessment per request (P5:
 * 564,139 of them, twice, the second time joined with the control states).
 *
 * Kept by statement-level AFTER triggers with transition tables, in the writer's transaction, so that every write
 * path (evaluation, reported assessments, exemptions, disabled definitions, resource removal, definition deletion,
 * a test's `DELETE`) keeps them without code of its own: the counts from the rows a statement wrote to
 * `assessments`, the flips from those it wrote to `control_states` with one unhealthy assessment. For the latter a
 * control state names that assessment's definition and account (`unhealthy_definition_id`,
 * `unhealthy_account_id`, written with the counts by `recomputeControlStates` from the same rows), checked to be
 * there exactly when `unhealthy_count` is 1 (NOT VALID: a state that disagreed with its assessments before this
 * migration, none in a consistent database, is left as it was, with no flip). So neither trigger joins another
 * table: a full evaluation pays for two aggregates over what its statements wrote.
 *
 * Locks: each trigger adds its moves in key order, and the two kinds of moves are in two tables, taken in the
 * order an evaluation writes them (assessments, then control states, then `score_counters`): two transactions
 * that each apply one page cannot wait for each other in a cycle. Rows that fall to zero stay (at most one per
 * account, definition and control the tenant ever had) and read as nothing.
 *
 * Existing rows are filled in here, with the forced tenant policy lifted for these statements as the owner runs
 * migrations; the tables are locked first, so no write falls between the fill and the triggers.
 */
export class DefinitionCounters1767360000000 implements MigrationInterface {
  name = "DefinitionCounters1767360000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE assessments, control_states IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`ALTER TABLE assessments NO FORCE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE control_states NO FORCE ROW LEVEL SECURITY`);
    await q.query(
      `ALTER TABLE control_states ADD COLUMN unhealthy_definition_id text, ADD COLUMN unhealthy_account_id uuid`,
    );
    await q.query(`UPDATE control_states s SET unhealthy_definition_id = u.definition_id, unhealthy_account_id = u.account_id
      FROM (SELECT tenant_id, resource_id, control_id, min(definition_id) AS definition_id,
                   min(account_id::text)::uuid AS account_id
            FROM assessments WHERE status = 'UNHEALTHY' GROUP BY tenant_id, resource_id, control_id
            HAVING count(*) = 1) AS u
      WHERE s.unhealthy_count = 1 AND s.tenant_id = u.tenant_id AND s.resource_id = u.resource_id
        AND s.control_id = u.control_id`);
    await q.query(`ALTER TABLE control_states ADD CONSTRAINT control_states_unhealthy_one
      CHECK ((unhealthy_count = 1) = (unhealthy_definition_id IS NOT NULL AND unhealthy_account_id IS NOT NULL))
      NOT VALID`);
    await q.query(`CREATE TABLE definition_counters (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      definition_id text NOT NULL,
      control_id text NOT NULL,
      healthy int NOT NULL DEFAULT 0,
      unhealthy int NOT NULL DEFAULT 0,
      not_applicable int NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, account_id, definition_id, control_id)
    )`);
    await q.query(`CREATE TABLE definition_flips (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      definition_id text NOT NULL,
      control_id text NOT NULL,
      flips int NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, account_id, definition_id, control_id)
    )`);
    await q.query(`INSERT INTO definition_counters
      SELECT tenant_id, account_id, definition_id, control_id, count(*) FILTER (WHERE status = 'HEALTHY'),
             count(*) FILTER (WHERE status = 'UNHEALTHY'), count(*) FILTER (WHERE status = 'NOT_APPLICABLE')
      FROM assessments GROUP BY tenant_id, account_id, definition_id, control_id`);
    await q.query(`INSERT INTO definition_flips
      SELECT tenant_id, unhealthy_account_id, unhealthy_definition_id, control_id, count(*)
      FROM control_states WHERE unhealthy_count = 1 AND unhealthy_definition_id IS NOT NULL
      GROUP BY tenant_id, unhealthy_account_id, unhealthy_definition_id, control_id`);
    await q.query(`ALTER TABLE assessments FORCE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE control_states FORCE ROW LEVEL SECURITY`);
    for (const table of ["definition_counters", "definition_flips"])
      for (const sql of tenantRlsSql(table)) await q.query(sql);
    for (const t of TRIGGERS) {
      await q.query(`CREATE FUNCTION ${t.name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          ${t.body};
          RETURN NULL;
        END $$`);
      await q.query(
        `CREATE TRIGGER ${t.name} AFTER ${t.event} ON ${t.table} REFERENCING ${t.referencing}
         FOR EACH STATEMENT EXECUTE FUNCTION ${t.name}()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of TRIGGERS) {
      await q.query(`DROP TRIGGER ${t.name} ON ${t.table}`);
      await q.query(`DROP FUNCTION ${t.name}()`);
    }
    await q.query(`DROP TABLE definition_flips`);
    await q.query(`DROP TABLE definition_counters`);
    await q.query(`ALTER TABLE control_states DROP CONSTRAINT control_states_unhealthy_one`);
    await q.query(
      `ALTER TABLE control_states DROP COLUMN unhealthy_definition_id, DROP COLUMN unhealthy_account_id`,
    );
  }
}
