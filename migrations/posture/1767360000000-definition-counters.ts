import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** What a transition table's rows add to the counters (`sign` 1) or take from them (-1). */
type Side = { table: "new_rows" | "old_rows"; sign: 1 | -1 };

/**
 * The counter moves of a statement on `assessments`: its rows' statuses by (tenant, account, definition, control),
 * and its unhealthy rows whose (resource, control) has exactly one unhealthy assessment in `control_states` (the
 * "flips" of the potential score increase). `control_states` is as it was before the statement (no statement
 * writes both tables), so this is the join's exact change on this side.
 */
const assessmentMoves = (sides: Side[]) => `
  SELECT d.tenant_id, d.account_id, d.definition_id, d.control_id,
         coalesce(sum(d.sign) FILTER (WHERE d.status = 'HEALTHY'), 0) AS healthy,
         coalesce(sum(d.sign) FILTER (WHERE d.status = 'UNHEALTHY'), 0) AS unhealthy,
         coalesce(sum(d.sign) FILTER (WHERE d.status = 'NOT_APPLICABLE'), 0) AS not_applicable,
         coalesce(sum(d.sign) FILTER (WHERE s.resource_id IS NOT NULL), 0) AS flips
  FROM (${sides
    .map(
      (s) =>
        `SELECT ${s.sign} AS sign, tenant_id, resource_id, account_id, definition_id, control_id, status FROM ${s.table}`,
    )
    .join(" UNION ALL ")}) AS d
  LEFT JOIN control_states s ON d.status = 'UNHEALTHY' AND s.tenant_id = d.tenant_id AND s.resource_id = d.resource_id
    AND s.control_id = d.control_id AND s.unhealthy_count = 1
  GROUP BY d.tenant_id, d.account_id, d.definition_id, d.control_id`;

/**
 * The counter moves of a statement on `control_states`: the unhealthy assessments of each (resource, control)
 * that has (or had) exactly one, as they are now (`assessments` is not written by this statement).
 */
const controlStateMoves = (sides: Side[]) => `
  SELECT a.tenant_id, a.account_id, a.definition_id, a.control_id, 0 AS healthy, 0 AS unhealthy,
         0 AS not_applicable, sum(d.sign) AS flips
  FROM (${sides
    .map(
      (s) =>
        `SELECT ${s.sign} AS sign, tenant_id, resource_id, control_id FROM ${s.table} WHERE unhealthy_count = 1`,
    )
    .join(" UNION ALL ")}) AS d
  JOIN assessments a ON a.tenant_id = d.tenant_id AND a.resource_id = d.resource_id AND a.control_id = d.control_id
    AND a.status = 'UNHEALTHY'
  GROUP BY a.tenant_id, a.account_id, a.definition_id, a.control_id`;

/**
 * Adds moves to the counters in the order of their key, so that two statements moving the same counters lock
 * them in the same order; moves that cancel out (an update that changed no status) write nothing.
 */
const applyMoves = (moves: string) => `
  INSERT INTO definition_counters AS c
    (tenant_id, account_id, definition_id, control_id, healthy, unhealthy, not_applicable, flips)
  SELECT * FROM (${moves}) AS m
  WHERE m.healthy <> 0 OR m.unhealthy <> 0 OR m.not_applicable <> 0 OR m.flips <> 0
  ORDER BY m.tenant_id, m.account_id, m.definition_id, m.control_id
  ON CONFLICT (tenant_id, account_id, definition_id, control_id) DO UPDATE SET
    healthy = c.healthy + excluded.healthy, unhealthy = c.unhealthy + excluded.unhealthy,
    not_applicable = c.not_applicable + excluded.not_applicable, flips = c.flips + excluded.flips`;

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

/** The triggers (and their functions, one each) that keep `definition_counters`. */
const TRIGGERS = [
  ...EVENTS.map((e) => ({
    name: `definition_counters_assessments_${e.event.toLowerCase()}`,
    table: "assessments",
    event: e.event,
    referencing: e.referencing,
    body: applyMoves(assessmentMoves(e.sides)),
  })),
  ...EVENTS.map((e) => ({
    name: `definition_counters_control_states_${e.event.toLowerCase()}`,
    table: "control_states",
    event: e.event,
    referencing: e.referencing,
    body: applyMoves(controlStateMoves(e.sides)),
  })),
];

/**
 * Recommendation counters: per (tenant, account, definition, control), the HEALTHY, UNHEALTHY and NOT_APPLICABLE
 * assessments and the "flips" (unhealthy assessments that are their resource's only unhealthy one in the
 * control, whose fix would turn the resource healthy there), so that the recommendations list and compliance read
 * a row per definition instead of aggregating every assessment (P5: 564,139 of them) per request.
 *
 * Kept by statement-level AFTER triggers with transition tables on `assessments` and `control_states`, in the
 * writer's transaction: every write path (evaluation, reported assessments, exemptions, resource removal,
 * definition deletion, a test's `DELETE`) keeps them without code of its own. The flips are the join of
 * unhealthy assessments with control states of one unhealthy assessment (what recommendations.service.ts
 * computed per request), kept exactly because each statement writes one of the two tables and its trigger joins
 * its change with the other table as it is. Existing assessments are counted here, with the forced tenant policy
 * lifted for the statement as the owner runs migrations; the tables are locked first, so no write falls between
 * the count and the triggers.
 */
export class DefinitionCounters1767360000000 implements MigrationInterface {
  name = "DefinitionCounters1767360000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE assessments, control_states IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`CREATE TABLE definition_counters (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      definition_id text NOT NULL,
      control_id text NOT NULL,
      healthy int NOT NULL DEFAULT 0,
      unhealthy int NOT NULL DEFAULT 0,
      not_applicable int NOT NULL DEFAULT 0,
      flips int NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, account_id, definition_id, control_id)
    )`);
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
    await q.query(`ALTER TABLE assessments NO FORCE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE control_states NO FORCE ROW LEVEL SECURITY`);
    await q.query(`INSERT INTO definition_counters
      SELECT a.tenant_id, a.account_id, a.definition_id, a.control_id,
             count(*) FILTER (WHERE a.status = 'HEALTHY'), count(*) FILTER (WHERE a.status = 'UNHEALTHY'),
             count(*) FILTER (WHERE a.status = 'NOT_APPLICABLE'), count(s.resource_id)
      FROM assessments a
      LEFT JOIN control_states s ON a.status = 'UNHEALTHY' AND s.tenant_id = a.tenant_id
        AND s.resource_id = a.resource_id AND s.control_id = a.control_id AND s.unhealthy_count = 1
      GROUP BY a.tenant_id, a.account_id, a.definition_id, a.control_id`);
    await q.query(`ALTER TABLE assessments FORCE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE control_states FORCE ROW LEVEL SECURITY`);
    for (const sql of tenantRlsSql("definition_counters")) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of TRIGGERS) {
      await q.query(`DROP TRIGGER ${t.name} ON ${t.table}`);
      await q.query(`DROP FUNCTION ${t.name}()`);
    }
    await q.query(`DROP TABLE definition_counters`);
  }
}
