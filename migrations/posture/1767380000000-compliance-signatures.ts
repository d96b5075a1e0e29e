import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** What a transition table's rows add to the sets (`sign` 1) or take from them (-1). */
type Side = { table: "new_rows" | "old_rows"; sign: 1 | -1 };

/** Statuses that make a resource assessed by a definition (NOT_APPLICABLE does not). */
const ASSESSED = `('HEALTHY', 'UNHEALTHY')`;

/**
 * A statement's changes per (tenant, account, resource): the definitions it added to and took from the assessed
 * and unhealthy sets, each sorted. An update that left a row's status and account as they were adds and takes the
 * same definition, so such rows are left out here already.
 */
const deltas = (sides: Side[]) => {
  const rows = sides
    .map(
      (s) =>
        `SELECT ${s.sign} AS sign, tenant_id, account_id, resource_id, definition_id, status FROM ${s.table}
         WHERE status IN ${ASSESSED}`,
    )
    .join(" UNION ALL ");
  const set = (sign: 1 | -1, status: string) =>
    `coalesce(array_agg(definition_id ORDER BY definition_id COLLATE "C")
       FILTER (WHERE sign = ${sign} AND status IN ${status}), '{}')`;
  return `SELECT tenant_id, account_id, resource_id,
            ${set(1, ASSESSED)} AS add_assessed, ${set(-1, ASSESSED)} AS del_assessed,
            ${set(1, `('UNHEALTHY')`)} AS add_unhealthy, ${set(-1, `('UNHEALTHY')`)} AS del_unhealthy
          FROM (${rows}) AS r
          GROUP BY tenant_id, account_id, resource_id
          HAVING ${set(1, ASSESSED)} <> ${set(-1, ASSESSED)} OR ${set(1, `('UNHEALTHY')`)} <> ${set(-1, `('UNHEALTHY')`)}`;
};

/**
 * Adds signature moves (`moves`: tenant, account, assessed, unhealthy, resources) in key order, so that two
 * statements moving the same signatures lock them in the same order; moves that cancel out write nothing.
 */
const applySignatureMoves = (moves: string) => `
  INSERT INTO compliance_signatures AS s (tenant_id, account_id, assessed, unhealthy, resources)
  SELECT tenant_id, account_id, assessed, unhealthy, sum(resources) FROM (${moves}) AS m
  GROUP BY tenant_id, account_id, assessed, unhealthy
  HAVING sum(resources) <> 0
  ORDER BY tenant_id, account_id, assessed, unhealthy
  ON CONFLICT (tenant_id, account_id, assessed, unhealthy) DO UPDATE SET resources = s.resources + excluded.resources`;

/**
 * The function body of one trigger. Two statements, each in key order:
 *
 * 1. (inserts and updates) Resources the statement assessed with no set in that account yet get theirs: the
 *    definitions it added. `ON CONFLICT DO NOTHING` leaves a set another transaction created meanwhile to step 2.
 *    Their signatures are counted in step 2's move (passed through `fresh`), so each statement moves signatures
 *    once, in one key order.
 * 2. Every other resource whose sets the statement changes is locked (`FOR UPDATE`, which returns the latest
 *    committed sets), given (kept − removed) ∪ added, and moved from its old signature to its new one; a resource
 *    left with no assessed definition loses its row. The resources step 1 just created are left out cheaply: their
 *    sets already are what the statement added.
 */
const body = (sides: Side[]) => {
  const creates = sides.some((s) => s.sign === 1);
  const step1 = creates
    ? `WITH created AS (
         INSERT INTO compliance_resources (tenant_id, account_id, resource_id, assessed, unhealthy)
         SELECT tenant_id, account_id, resource_id, add_assessed, add_unhealthy FROM (${deltas(sides)}) AS d
         WHERE cardinality(add_assessed) > 0 AND cardinality(del_assessed) = 0
         ORDER BY tenant_id, account_id, resource_id
         ON CONFLICT (tenant_id, account_id, resource_id) DO NOTHING
         RETURNING tenant_id, account_id, assessed, unhealthy)
       SELECT coalesce(array_agg(row(tenant_id, account_id, assessed, unhealthy, 1)::compliance_signatures), '{}')
       INTO fresh FROM created;`
    : "";
  return `
    DECLARE
      fresh compliance_signatures[] := '{}';
    BEGIN
      ${step1}
      WITH d AS (${deltas(sides)}),
      locked AS (
        SELECT c.tenant_id, c.account_id, c.resource_id, c.assessed, c.unhealthy,
               compliance_set(c.assessed, d.del_assessed, d.add_assessed) AS new_assessed,
               compliance_set(c.unhealthy, d.del_unhealthy, d.add_unhealthy) AS new_unhealthy
        FROM compliance_resources c
        JOIN d ON c.tenant_id = d.tenant_id AND c.account_id = d.account_id AND c.resource_id = d.resource_id
        WHERE NOT (c.assessed = d.add_assessed AND c.unhealthy = d.add_unhealthy AND cardinality(d.del_assessed) = 0)
        ORDER BY c.tenant_id, c.account_id, c.resource_id
        FOR UPDATE OF c
      ),
      changed AS (SELECT * FROM locked WHERE new_assessed <> assessed OR new_unhealthy <> unhealthy),
      updated AS (
        UPDATE compliance_resources c SET assessed = x.new_assessed, unhealthy = x.new_unhealthy FROM changed x
        WHERE c.tenant_id = x.tenant_id AND c.account_id = x.account_id AND c.resource_id = x.resource_id
          AND cardinality(x.new_assessed) > 0
        RETURNING x.*
      ),
      emptied AS (
        DELETE FROM compliance_resources c USING changed x
        WHERE c.tenant_id = x.tenant_id AND c.account_id = x.account_id AND c.resource_id = x.resource_id
          AND cardinality(x.new_assessed) = 0
        RETURNING x.*
      ),
      moved AS (SELECT * FROM updated UNION ALL SELECT * FROM emptied)
      ${applySignatureMoves(
        `SELECT tenant_id, account_id, assessed, unhealthy, -1 AS resources FROM moved
         UNION ALL SELECT tenant_id, account_id, new_assessed, new_unhealthy, 1 FROM moved
           WHERE cardinality(new_assessed) > 0
         UNION ALL SELECT tenant_id, account_id, assessed, unhealthy, resources FROM unnest(fresh)`,
      )};
      RETURN NULL;
    END`;
};

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

const TRIGGERS = EVENTS.map((e) => ({
  name: `compliance_signatures_${e.event.toLowerCase()}`,
  ...e,
}));

/**
 * Compliance counters. A standard control's passed and failed resources are distinct resources over the several
 * definitions mapped to it (and 33 of the shipped controls map definitions of the same resource type), so they
 * cannot be summed from per-definition counters. Instead each resource's *signature* is kept: per (tenant,
 * account, resource), `compliance_resources` holds the sorted ids of the definitions that assess it HEALTHY or
 * UNHEALTHY (`assessed`) and of those that assess it UNHEALTHY (`unhealthy`), and `compliance_signatures` counts
 * the resources of an account per (assessed, unhealthy) pair. A read sums the signatures (a few thousand rows at
 * 100,000 resources, where the resources share few combinations) and maps their definitions to controls in code,
 * with the benchmark's mapping of the running version: the mapping is not in the database, so a new mapping needs
 * no rebuild.
 *
 * Kept like the recommendation counters (1767360000000): statement-level AFTER triggers on `assessments` with
 * transition tables, in the writer's transaction, so every write path keeps them without code of its own. A
 * resource's row per account mirrors the per-account aggregate exactly; a move to another account is the rows
 * leaving one set and joining the other. Rows that fall to no assessed definition are deleted; signatures at zero
 * stay (one per combination an account ever had) and read as nothing.
 *
 * Existing rows are filled in here, with the forced tenant policy lifted for these statements as the owner runs
 * migrations; `assessments` is locked first, so no write falls between the fill and the triggers.
 */
export class ComplianceSignatures1767380000000 implements MigrationInterface {
  name = "ComplianceSignatures1767380000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE assessments IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`CREATE TABLE compliance_resources (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      resource_id uuid NOT NULL,
      assessed text[] NOT NULL,
      unhealthy text[] NOT NULL,
      PRIMARY KEY (tenant_id, account_id, resource_id)
    )`);
    await q.query(`CREATE TABLE compliance_signatures (
      tenant_id text NOT NULL,
      account_id uuid NOT NULL,
      assessed text[] NOT NULL,
      unhealthy text[] NOT NULL,
      resources int NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, account_id, assessed, unhealthy)
    )`);
    // (kept − removed) ∪ added, sorted byte-wise so that equal sets are equal arrays (signature keys).
    await q.query(`CREATE FUNCTION compliance_set(kept text[], removed text[], added text[]) RETURNS text[]
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(array_agg(x ORDER BY x COLLATE "C"), '{}')
        FROM (SELECT unnest(kept) EXCEPT SELECT unnest(removed) UNION SELECT unnest(added)) AS s(x)
      $$`);
    await q.query(`ALTER TABLE assessments NO FORCE ROW LEVEL SECURITY`);
    await q.query(`INSERT INTO compliance_resources (tenant_id, account_id, resource_id, assessed, unhealthy)
      SELECT tenant_id, account_id, resource_id,
             array_agg(definition_id ORDER BY definition_id COLLATE "C"),
             coalesce(array_agg(definition_id ORDER BY definition_id COLLATE "C") FILTER (WHERE status = 'UNHEALTHY'), '{}')
      FROM assessments WHERE status IN ${ASSESSED}
      GROUP BY tenant_id, account_id, resource_id`);
    await q.query(`ALTER TABLE assessments FORCE ROW LEVEL SECURITY`);
    await q.query(`INSERT INTO compliance_signatures (tenant_id, account_id, assessed, unhealthy, resources)
      SELECT tenant_id, account_id, assessed, unhealthy, count(*) FROM compliance_resources
      GROUP BY tenant_id, account_id, assessed, unhealthy`);
    // Like `assessments`, written in the system scope too (a job's writes there move these rows).
    for (const table of ["compliance_resources", "compliance_signatures"])
      for (const sql of tenantRlsSql(table, { allowSystem: true })) await q.query(sql);
    for (const t of TRIGGERS) {
      await q.query(`CREATE FUNCTION ${t.name}() RETURNS trigger LANGUAGE plpgsql AS $$ ${body(t.sides)} $$`);
      await q.query(
        `CREATE TRIGGER ${t.name} AFTER ${t.event} ON assessments REFERENCING ${t.referencing}
         FOR EACH STATEMENT EXECUTE FUNCTION ${t.name}()`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of TRIGGERS) {
      await q.query(`DROP TRIGGER ${t.name} ON assessments`);
      await q.query(`DROP FUNCTION ${t.name}()`);
    }
    await q.query(`DROP FUNCTION compliance_set(text[], text[], text[])`);
    await q.query(`DROP TABLE compliance_signatures`);
    await q.query(`DROP TABLE compliance_resources`);
  }
}
