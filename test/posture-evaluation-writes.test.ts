import type { DataSource, EntityManager } from "typeorm";
import { v7 } from "uuid";
import { UpsertAccountsDocument } from "./__generated__/graphql";
import { inTenant, resourceKindOf, Role } from "../subgraphs/common/src";
import { evaluateTenant, toAssessable } from "../subgraphs/posture/src/modules/assessments/assessment.runner";
import { tenantDefinitions } from "../subgraphs/posture/src/modules/assessments/definition-registry";
import { syntheticResources } from "../scripts/lib/demo-estate";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import {
  controlStatesAndCounters,
  exemptionMatcher,
  ruleAssessments,
  type AssessmentRow,
  type ExemptionRow,
} from "./utils/posture-reference";

/**
 * The full evaluation writes its assessments, history and control states in bulk, dictionary-encoded
 * (column-encoding.ts). This checks what it wrote against the rules computed the plain way, one resource and one
 * definition at a time, on a mixed estate: Azure and AWS resources, property values full of quotes, backslashes,
 * braces, commas and the word NULL (they reach the causes), exemptions at every scope, a disabled definition and a
 * reported assessment — from empty tables, then again over existing ones after some resources changed.
 */

const HOSTILE = [
  'TLS"1\\0',
  "a,b}{c",
  "NULL",
  "",
  'ünï ☃ "quoted", {braced}',
  "back\\slash\\",
  "tab\tand\nline",
];

/** Replaces every string in a JSON value by one of `HOSTILE`, deterministically. */
function hostile(value: unknown, n: { i: number }): unknown {
  if (typeof value === "string") return HOSTILE[n.i++ % HOSTILE.length];
  if (Array.isArray(value)) return value.map((v) => hostile(v, n));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hostile(v, n)]));
  return value;
}

/** Rows by resource, then by `second` (a definition or a control): the order the comparisons use. */
const byKey = <T extends { resource_id: string }>(rows: T[], second: string): T[] => {
  const k = (r: T) => `${r.resource_id}|${String((r as Record<string, unknown>)[second])}`;
  return [...rows].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
};

describe("posture full evaluation: what it writes equals the rules applied one by one", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  const tenant = "tenant-eval-writes";

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("posture");
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  /** The assessments, control states and counters the rules give, computed without the engine's write path. */
  async function expected(m: EntityManager) {
    const definitions = await tenantDefinitions(m, tenant);
    const resources = (
      await m.query(
        `SELECT id, account_id, type, kind, name, region, resource_group, tags, properties, external_id_key FROM resources`,
      )
    ).map((row: Record<string, unknown>) => ({ ...toAssessable(row), key: row.external_id_key as string }));
    const disabled = new Set<string>(
      (await m.query(`SELECT account_id, definition_id FROM definition_settings WHERE NOT enabled`)).map(
        (r: { account_id: string; definition_id: string }) => `${r.account_id}|${r.definition_id}`,
      ),
    );
    const exemptions: ExemptionRow[] = await m.query(
      `SELECT id, definition_id, account_id, resource_id, resource_group_key, category, reason FROM exemptions ORDER BY created_at, id`,
    );
    const reported: AssessmentRow[] = await m.query(
      `SELECT resource_id, definition_id, account_id, control_id, source, status, raw_status, cause, raw_cause, exemption_id
       FROM assessments WHERE source = 'EXTERNAL'`,
    );
    const assessments = [
      ...reported,
      ...ruleAssessments(definitions, resources, disabled, exemptionMatcher(exemptions)),
    ];
    const { controlStates, counters } = controlStatesAndCounters(assessments);
    return {
      assessments: byKey(assessments, "definition_id"),
      controlStates: byKey(controlStates, "control_id"),
      counters: counters.sort((x, y) =>
        `${x.account_id}|${x.control_id}` < `${y.account_id}|${y.control_id}` ? -1 : 1,
      ),
    };
  }

  /** What the tables hold, in the shape of `expected`. */
  async function stored(m: EntityManager) {
    return {
      assessments: byKey(
        await m.query(
          `SELECT resource_id, definition_id, account_id, control_id, source, status, raw_status, cause, raw_cause, exemption_id FROM assessments`,
        ),
        "definition_id",
      ),
      controlStates: byKey(
        await m.query(
          `SELECT resource_id, control_id, account_id, healthy_count AS h, unhealthy_count AS u, na_count AS n FROM control_states`,
        ),
        "control_id",
      ),
      counters: (
        await m.query(
          `SELECT account_id, control_id, healthy, unhealthy, not_applicable FROM score_counters
           WHERE healthy <> 0 OR unhealthy <> 0 OR not_applicable <> 0`,
        )
      ).sort(
        (a: { account_id: string; control_id: string }, b: { account_id: string; control_id: string }) =>
          `${a.account_id}|${a.control_id}` < `${b.account_id}|${b.control_id}` ? -1 : 1,
      ),
    };
  }

  it("writes exactly the assessments, history, control states and counters of the rules, from empty and over existing ones", async () => {
    const admin = await platform.token([Role.ADMIN], tenant);
    const [azure, aws] = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: `${tenant}-az`, name: "Azure" },
            { provider: "AWS", externalId: `${tenant}-aws`, name: "AWS" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts.map((a) => a.id);
    const n = { i: 0 };
    const estate = [
      ...syntheticResources(160, "azure", 11).map((r) => ({ ...r, accountId: azure, provider: "AZURE" })),
      ...syntheticResources(100, "aws", 11).map((r) => ({ ...r, accountId: aws, provider: "AWS" })),
    ].map((r, i) => ({ ...r, id: v7(), properties: i % 4 === 0 ? hostile(r.properties, n) : r.properties }));

    // Written straight into the table (as the benchmark does): nothing is evaluated until the full evaluation.
    await inTenant(ds, tenant, (m) =>
      m.query(
        `INSERT INTO resources (id, tenant_id, account_id, provider, type, kind, external_id, name, region, resource_group, tags, properties)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::jsonb[])`,
        [
          estate.map((r) => r.id),
          estate.map(() => tenant),
          estate.map((r) => r.accountId),
          estate.map((r) => r.provider),
          estate.map((r) => r.type),
          estate.map((r) => resourceKindOf(r.type)),
          estate.map((r) => r.externalId),
          estate.map((r) => r.name),
          estate.map((r) => r.region),
          estate.map((r) => r.resourceGroup),
          estate.map((r) => JSON.stringify(r.tags)),
          estate.map((r) => JSON.stringify(r.properties)),
        ],
      ),
    );
    // A first evaluation (every row new: inserted without ON CONFLICT) tells which definitions apply, so that
    // the decisions below change something.
    const first = await inTenant(ds, tenant, async (m) => {
      await evaluateTenant(m, tenant);
      expect(await stored(m)).toEqual(await expected(m));
      return m.query(
        `SELECT a.resource_id, a.definition_id, a.account_id, r.external_id_key FROM assessments a
         JOIN resources r ON r.id = a.resource_id WHERE a.status = 'UNHEALTHY' ORDER BY a.resource_id, a.definition_id`,
      );
    });
    const unhealthy = first as Array<{
      resource_id: string;
      definition_id: string;
      account_id: string;
      external_id_key: string;
    }>;
    const onAzure = unhealthy.filter((a) => a.account_id === azure);
    const onAws = unhealthy.filter((a) => a.account_id === aws);
    expect(onAzure.length).toBeGreaterThan(20);
    expect(onAws.length).toBeGreaterThan(20);
    const group = /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+/.exec(onAzure[5].external_id_key)![0];

    await inTenant(ds, tenant, async (m) => {
      const exemption = (
        definitionId: string,
        scope: { account?: string; resource?: string; group?: string },
        reason: string,
      ) =>
        m.query(
          `INSERT INTO exemptions (tenant_id, id, definition_id, account_id, resource_id, resource_group, resource_group_key, category, reason, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $6, 'WAIVER', $7, 'test')`,
          [
            tenant,
            v7(),
            definitionId,
            scope.account ?? null,
            scope.resource ?? null,
            scope.group ?? null,
            reason,
          ],
        );
      await exemption(
        onAzure[0].definition_id,
        { resource: onAzure[0].resource_id },
        'Accepted "as is", {for now}\\',
      );
      await exemption(onAzure[5].definition_id, { account: azure, group }, "NULL");
      await exemption(onAws[0].definition_id, { account: aws }, "Mitigated, elsewhere");
      await exemption(onAws[3].definition_id, {}, "Tenant-wide");
      await m.query(
        `INSERT INTO definition_settings (tenant_id, account_id, definition_id, enabled, updated_by) VALUES ($1, $2, $3, false, 'test')`,
        [tenant, azure, onAzure[10].definition_id],
      );
      await m.query(
        `INSERT INTO assessments (tenant_id, resource_id, definition_id, account_id, control_id, source, status, raw_status, cause, raw_cause)
         VALUES ($1, $2, 'reported-check', $3, $4, 'EXTERNAL', 'UNHEALTHY', 'UNHEALTHY', 'Reported, "badly"', 'Reported, "badly"')`,
        [tenant, onAws[1].resource_id, aws, "reported-control"],
      );
    });

    // From empty tables, as the benchmark measures it.
    const historyFrom = await inTenant(ds, tenant, async (m) => {
      await m.query(`DELETE FROM assessments WHERE source <> 'EXTERNAL'`);
      await m.query(`DELETE FROM control_states`);
      await m.query(`DELETE FROM score_counters`);
      // A reported assessment under a built-in's id, on a resource that definition evaluates: the evaluation's
      // insert of that page collides with it and runs again as an upsert, which takes the row over.
      await m.query(
        `INSERT INTO assessments (tenant_id, resource_id, definition_id, account_id, control_id, source, status, raw_status, cause, raw_cause)
         VALUES ($1, $2, $3, $4, 'reported-control', 'EXTERNAL', 'HEALTHY', 'HEALTHY', NULL, NULL)`,
        [tenant, onAws[2].resource_id, onAws[2].definition_id, aws],
      );
      const [{ max }] = await m.query(`SELECT coalesce(max(id), 0) AS max FROM assessment_history`);
      await evaluateTenant(m, tenant);
      return max as string;
    });
    await inTenant(ds, tenant, async (m) => {
      const want = await expected(m);
      expect(want.assessments.length).toBeGreaterThan(800);
      expect(want.assessments.filter((a) => a.exemption_id).length).toBeGreaterThanOrEqual(4);
      expect(want.assessments.some((a) => a.cause?.includes('\\"'))).toBe(true);
      expect(await stored(m)).toEqual(want);
      // One history row per assessment written, from nothing to its status and cause.
      const history = await m.query(
        `SELECT resource_id, definition_id, from_status, to_status, cause FROM assessment_history WHERE id > $1`,
        [historyFrom],
      );
      expect(byKey(history, "definition_id")).toEqual(
        want.assessments
          .filter((a) => a.source !== "EXTERNAL")
          .map((a) => ({
            resource_id: a.resource_id,
            definition_id: a.definition_id,
            from_status: null,
            to_status: a.status,
            cause: a.cause,
          })),
      );
    });

    // Over existing assessments: some resources change (statuses move, definitions stop or start applying), an
    // exemption goes; only what changed is written, and the result is again the rules'.
    await inTenant(ds, tenant, async (m) => {
      const changed = estate.filter((_, i) => i % 7 === 1);
      await m.query(
        `UPDATE resources r SET properties = c.p FROM unnest($1::uuid[], $2::jsonb[]) AS c(id, p) WHERE r.id = c.id`,
        [
          changed.map((r) => r.id),
          changed.map((r, i) => JSON.stringify(i % 2 ? {} : hostile(r.properties, n))),
        ],
      );
      await m.query(
        `DELETE FROM exemptions WHERE account_id = $1 AND resource_group IS NULL AND resource_id IS NULL`,
        [aws],
      );
      await evaluateTenant(m, tenant);
    });
    await inTenant(ds, tenant, async (m) => expect(await stored(m)).toEqual(await expected(m)));

    // From empty again, with only reported assessments that collide with nothing: the inserts succeed, and the
    // control states are counted from what was written plus the reported ones (an unhealthy one in its own control,
    // a healthy one in a control the built-ins use too) without reading them back.
    await inTenant(ds, tenant, async (m) => {
      const [{ control_id: sharedControl }] = await m.query(
        `SELECT control_id FROM assessments WHERE resource_id = $1 AND definition_id = $2`,
        [onAws[4].resource_id, onAws[4].definition_id],
      );
      await m.query(`DELETE FROM assessments WHERE source <> 'EXTERNAL' OR definition_id = $1`, [
        onAws[2].definition_id,
      ]);
      await m.query(`DELETE FROM control_states`);
      await m.query(`DELETE FROM score_counters`);
      await m.query(
        `INSERT INTO assessments (tenant_id, resource_id, definition_id, account_id, control_id, source, status, raw_status, cause, raw_cause)
         VALUES ($1, $2, 'reported-elsewhere', $3, $4, 'EXTERNAL', 'HEALTHY', 'HEALTHY', NULL, NULL)`,
        [tenant, onAws[4].resource_id, aws, sharedControl],
      );
      await evaluateTenant(m, tenant);
      const want = await expected(m);
      expect(want.controlStates.some((c) => c.control_id === "reported-control")).toBe(true);
      expect(await stored(m)).toEqual(want);
    });
  });
});
