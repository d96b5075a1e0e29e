import type { DataSource } from "typeorm";
import {
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  DeletePolicyDefinitionDocument,
  HostileAccountPayloadDocument,
  HostileAccountScorePayloadDocument,
  HostileAccountScopeDocument,
  HostileDefinitionsDocument,
  HostileLookupsDocument,
  HostileResourcePagesDocument,
  NetworkMapDocument,
  RemoveResourcesDocument,
  ResourcesDocument,
  SetPolicyDefinitionEnabledDocument,
  UpdatePolicyDefinitionDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpsertResourcesDocument,
  type CloudAccountInput,
  type ExternalAssessmentInput,
  type PolicyDefinitionInput,
  type ResourceInput,
} from "./__generated__/graphql";
import { IDENTITY_HEADER, inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { codes, problems } from "./utils/errors";
import { ok } from "./utils/seed";

/**
 * Hostile and odd input on every posture mutation and on the query arguments that reach SQL, through the
 * gateway on a real database: bad input is a typed error naming the field (or, for `upsertAssessments`, a
 * per-record rejection), never INTERNAL_SERVER_ERROR, and writes nothing. "Nothing" is checked on a digest of
 * every posture table of both tenants, read as posture's own role (RLS applies).
 */

const A = "tenant-a";
const B = "tenant-b";
const NUL = "\u0000";
const LONE = "\ud800";
const NUL_MSG = "contains a NUL character (U+0000)";
const LONE_MSG = "is not valid Unicode (an unpaired surrogate)";
const DEEP_MSG = "is nested deeper than 100 levels";
const CONTROL = "remediate-security-configurations";
const VAULT = "Microsoft.KeyVault/vaults";

/** `n` CJK characters (3 UTF-8 bytes each) that Postgres cannot compress away. */
const incompressible = (n: number, seed = 1) =>
  Array.from({ length: n }, (_, i) =>
    String.fromCharCode(0x4e00 + ((i * 7919 + seed * 104729) % 20000)),
  ).join("");
/** `[[[…1…]]]` nested `depth` levels, as a value (small depths) or as JSON text (any depth). */
const nestedValue = (depth: number): unknown => (depth === 0 ? 1 : [nestedValue(depth - 1)]);
const nestedText = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
/** The path jsonProblem reports for `nestedValue` under `at`: it stops at the 100th level. */
const deepPath = (at: string) => `${at}${"[0]".repeat(99)}`;

/** Every posture table a write touches (their rows in a tenant, hashed): equal digests, nothing written. */
const TABLES = [
  "cloud_accounts",
  "resources",
  "custom_definitions",
  "external_definitions",
  "definition_settings",
  "exemptions",
  "assessments",
  "assessment_history",
  "control_states",
  "score_counters",
  "definition_counters",
  "definition_flips",
  "score_snapshots",
  "audit_log",
  "outbox",
];

describe("posture under hostile input", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let t: Record<"admin" | "analyst" | "reader" | "ingestor" | "adminB", string>;
  let accountId: string;
  let vaultId: string;
  let definitionId: string;
  let exemptionId: string;
  let builtInId: string;
  let accountB: string;
  let resourceB: string;

  const resource = (extra: Partial<ResourceInput> = {}): ResourceInput => ({
    accountId,
    externalId: "/vaults/probe",
    type: VAULT,
    name: "kv-probe",
    ...extra,
  });
  const definition = (extra: Partial<PolicyDefinitionInput> = {}): PolicyDefinitionInput => ({
    title: "Vaults are named",
    severity: "LOW",
    controlId: CONTROL,
    resourceTypes: [VAULT],
    condition: { field: "name", equals: "never" },
    ...extra,
  });
  const external = (extra: Partial<ExternalAssessmentInput> = {}): ExternalAssessmentInput => ({
    resourceId: vaultId,
    definitionKey: "scanner/vault",
    title: "Vault scanned",
    severity: "LOW",
    controlId: CONTROL,
    status: "UNHEALTHY",
    ...extra,
  });

  /** A hash of every posture table's rows in `tenant`, one line per table. */
  const digest = (tenant: string) =>
    inTenant(ds, tenant, async (m) =>
      (
        (await m.query(
          TABLES.map(
            (table) =>
              `SELECT '${table}' AS t, count(*)::int AS n,
                      md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM ${table} x`,
          ).join(" UNION ALL "),
        )) as Array<{ t: string; n: number; h: string }>
      ).map((r) => `${r.t} ${r.n} ${r.h}`),
    );
  /** Runs `probe` and asserts that neither tenant's posture tables changed. */
  const unchanged = async <T>(probe: () => Promise<T>): Promise<T> => {
    const before = [await digest(A), await digest(B)];
    const result = await probe();
    expect([await digest(A), await digest(B)]).toEqual(before);
    return result;
  };
  /** POSTs variables given as JSON text straight to the posture subgraph (past the gateway's depth limit). */
  const direct = async (query: string, variables: string, roles = [Role.ADMIN]) => {
    const res = await fetch(platform.subgraphs.posture.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [IDENTITY_HEADER]: await platform.internalToken(roles, A),
      },
      body: `{"query":${JSON.stringify(query)},"variables":${variables}}`,
    });
    return { status: res.status, ...((await res.json()) as object) } as GqlResponse<unknown>;
  };
  /** POSTs raw variables (values the typed documents cannot express) through the gateway. */
  const raw = async (query: string, variables: unknown, token = t.admin) => {
    const res = await fetch(platform.gateway.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as object) } as GqlResponse<unknown>;
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    t = await platform.tokens({
      admin: [[Role.ADMIN], A],
      analyst: [[Role.ANALYST], A],
      reader: [[Role.READER], A],
      ingestor: [[Role.INGESTOR], A],
      adminB: [[Role.ADMIN], B],
    });
    ds = await platform.connect("posture");
    accountId = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: "sub-a", name: "Subscription A" }] },
        t.admin,
      ),
    ).upsertCloudAccounts[0].id;
    // A vault (assessed by the built-ins), and names with LIKE's special characters for the search probes.
    const names = [
      "kv-main",
      "pct%sign",
      "pctXsign",
      "under_score",
      "underXscore",
      "back\\slash",
      "backXslash",
    ];
    const ids = ok(
      await platform.request(
        UpsertResourcesDocument,
        {
          input: names.map((name, i) => ({
            accountId,
            externalId: `/r/${i}`,
            type: VAULT,
            name,
            region: "westeurope",
            tags: { env: "prod" },
            properties: {},
          })),
        },
        t.admin,
      ),
    ).upsertResources.ids;
    vaultId = ids[0];
    definitionId = ok(
      await platform.request(CreatePolicyDefinitionDocument, { input: definition() }, t.admin),
    ).createPolicyDefinition.id;
    ok(await platform.request(UpsertAssessmentsDocument, { input: [external()] }, t.admin));
    exemptionId = ok(
      await platform.request(
        CreateExemptionDocument,
        { input: { definitionId, resourceId: vaultId, category: "WAIVER", reason: "Accepted risk" } },
        t.admin,
      ),
    ).createExemption.id;
    builtInId = ok(
      await platform.request(
        HostileDefinitionsDocument,
        { filter: { source: "BUILT_IN" }, first: 1 },
        t.admin,
      ),
    ).policyDefinitions.nodes[0].id;
    accountB = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AWS", externalId: "aws-b", name: "Account B" }] },
        t.adminB,
      ),
    ).upsertCloudAccounts[0].id;
    resourceB = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [{ accountId: accountB, externalId: "arn:b", type: "AWS::S3::Bucket", name: "b" }] },
        t.adminB,
      ),
    ).upsertResources.ids[0];
  });
  afterAll(async () => {
    await platform?.stop();
  });

  describe("text and JSON Postgres cannot store", () => {
    it.each<[string, Partial<CloudAccountInput>, string]>([
      ["a NUL in the external id", { externalId: `sub${NUL}` }, `externalId: ${NUL_MSG}`],
      ["a NUL in the name", { name: `name${NUL}` }, `name: ${NUL_MSG}`],
      ["an unpaired surrogate in the name", { name: `name${LONE}` }, `name: ${LONE_MSG}`],
    ])("upsertCloudAccounts refuses %s, writing no account of the batch", async (_what, bad, problem) => {
      const res = await unchanged(() =>
        platform.request(
          UpsertAccountsDocument,
          {
            input: [
              { provider: "AZURE", externalId: "sub-good", name: "Good" },
              { provider: "AZURE", externalId: "sub-bad", name: "Bad", ...bad },
            ],
          },
          t.ingestor,
        ),
      );
      expect(problems(res)).toEqual([`[1].${problem}`]);
    });

    it.each<[string, Partial<ResourceInput>, string]>([
      ["a NUL in the external id", { externalId: `/r/x${NUL}` }, `externalId: ${NUL_MSG}`],
      ["a NUL in the type", { type: `${VAULT}${NUL}` }, `type: ${NUL_MSG}`],
      ["a NUL in the name", { name: `kv${NUL}` }, `name: ${NUL_MSG}`],
      ["an unpaired surrogate in the name", { name: `kv${LONE}` }, `name: ${LONE_MSG}`],
      ["a NUL in the region", { region: NUL }, `region: ${NUL_MSG}`],
      ["a NUL in the resource group", { resourceGroup: `rg${NUL}` }, `resourceGroup: ${NUL_MSG}`],
      ["a NUL in a tag value", { tags: { env: `prod${NUL}` } }, `tags.env: ${NUL_MSG}`],
      ["a NUL in a tag key", { tags: { [`env${NUL}`]: "prod" } }, `tags: has a key that ${NUL_MSG}`],
      ["an unpaired surrogate in a tag value", { tags: { env: LONE } }, `tags.env: ${LONE_MSG}`],
      [
        "a NUL deep in the properties",
        { properties: { rules: [{ name: `r${NUL}` }] } },
        `properties.rules[0].name: ${NUL_MSG}`,
      ],
      [
        "an unpaired surrogate in a properties key",
        { properties: { sku: { [`\udc00`]: 1 } } },
        `properties.sku: has a key that ${LONE_MSG}`,
      ],
      [
        "properties nested 1,500 levels deep",
        { properties: { d: nestedValue(1500) } },
        `${deepPath("properties.d")}: ${DEEP_MSG}`,
      ],
      [
        "an external id over 1,536 bytes (1,024 CJK characters, past a btree entry)",
        { externalId: incompressible(1024) },
        "externalId: must be at most 1536 bytes",
      ],
    ])("upsertResources refuses %s, writing no resource of the batch", async (_what, bad, problem) => {
      const res = await unchanged(() =>
        platform.request(
          UpsertResourcesDocument,
          { input: [resource({ externalId: "/r/good" }), resource({ externalId: "/r/bad", ...bad })] },
          t.ingestor,
        ),
      );
      expect(problems(res)).toEqual([`[1].${problem}`]);
    });

    it("upsertResources takes the longest names and ids its indexes hold", async () => {
      const input = [
        resource({
          externalId: incompressible(512, 2),
          name: incompressible(512, 3),
          type: incompressible(256, 4),
        }),
        resource({ externalId: `/r/${"x".repeat(1021)}`, name: "ascii" }),
      ];
      const { createdCount, ids } = ok(
        await platform.request(UpsertResourcesDocument, { input }, t.admin),
      ).upsertResources;
      expect(createdCount).toBe(2);
      const removed = ok(await platform.request(RemoveResourcesDocument, { ids }, t.admin)).removeResources;
      expect(removed.removedCount).toBe(2);
    });

    it("a subgraph reached directly refuses properties 5,000 levels deep, past the gateway's limit", async () => {
      const res = await unchanged(() =>
        direct(
          "mutation($input: [ResourceInput!]!) { upsertResources(input: $input) { upsertedCount } }",
          `{"input":[{"accountId":"${accountId}","externalId":"/r/deep","type":"${VAULT}","name":"deep",` +
            `"properties":{"d":${nestedText(5000)}}}]}`,
        ),
      );
      expect(problems(res)).toEqual([`[0].${deepPath("properties.d")}: ${DEEP_MSG}`]);
    });

    it.each<[string, Partial<PolicyDefinitionInput>, string]>([
      ["a NUL in the title", { title: `T${NUL}` }, `title: ${NUL_MSG}`],
      ["an unpaired surrogate in the description", { description: LONE }, `description: ${LONE_MSG}`],
      ["a NUL in a resource type", { resourceTypes: [`${VAULT}${NUL}`] }, `resourceTypes[0]: ${NUL_MSG}`],
      ["a NUL in the property", { property: NUL }, `property: ${NUL_MSG}`],
      ["a NUL in a remediation step", { remediation: ["ok", NUL] }, `remediation[1]: ${NUL_MSG}`],
      ["an unpaired surrogate in a threat", { threats: [LONE] }, `threats[0]: ${LONE_MSG}`],
      [
        "a NUL in a condition literal",
        { condition: { anyOf: [{ field: "name", in: ["a", `b${NUL}`] }] } },
        `condition.anyOf[0].in[1]: ${NUL_MSG}`,
      ],
      [
        "an unpaired surrogate in a literal's key",
        { condition: { field: "name", equals: { [LONE]: "x" } } },
        `condition.equals: has a key that ${LONE_MSG}`,
      ],
      [
        "a NUL in the applicability",
        { applicability: { field: "location", equals: NUL } },
        `applicability.equals: ${NUL_MSG}`,
      ],
    ])("createPolicyDefinition and updatePolicyDefinition refuse %s", async (_what, bad, problem) => {
      const created = await unchanged(() =>
        platform.request(CreatePolicyDefinitionDocument, { input: definition(bad) }, t.admin),
      );
      expect(problems(created)).toEqual([problem]);
      const updated = await unchanged(() =>
        platform.request(
          UpdatePolicyDefinitionDocument,
          { id: definitionId, input: definition(bad) },
          t.admin,
        ),
      );
      expect(problems(updated)).toEqual([problem]);
    });

    it("a subgraph reached directly refuses a condition 5,000 levels deep, naming where", async () => {
      const condition = `${'{"not":'.repeat(5000)}{"field":"name","equals":1}${"}".repeat(5000)}`;
      const res = await unchanged(() =>
        direct(
          "mutation($input: PolicyDefinitionInput!) { createPolicyDefinition(input: $input) { id } }",
          `{"input":{"title":"T","severity":"LOW","controlId":"${CONTROL}","resourceTypes":["${VAULT}"],` +
            `"condition":${condition}}}`,
        ),
      );
      expect(problems(res)).toEqual([
        "input: is not serialisable JSON",
        `condition${".not".repeat(33)}: condition is nested too deeply: more than 32 levels of allOf/anyOf/not/count.where`,
      ]);
    });

    it("upsertAssessments rejects each bad record and keeps the good ones", async () => {
      const count = () =>
        inTenant(ds, A, async (m) => {
          const [row] = await m.query(
            `SELECT count(*)::int AS n FROM assessments WHERE definition_id LIKE 'scanner/%'`,
          );
          return row.n as number;
        });
      const before = await count();
      const res = ok(
        await platform.request(
          UpsertAssessmentsDocument,
          {
            input: [
              external({ definitionKey: "scanner/nul-title", title: `T${NUL}` }),
              external({ definitionKey: "scanner/nul-description", description: `d${NUL}` }),
              external({ definitionKey: "scanner/nul-cause", cause: `c${NUL}` }),
              external({ definitionKey: "scanner/lone-remediation", remediation: ["fix", LONE] }),
              external({ definitionKey: "scanner/bad-id", resourceId: `x${NUL}` }),
              external({ definitionKey: "scanner/foreign", resourceId: resourceB }),
              external({ definitionKey: "scanner/long-description", description: "d".repeat(8001) }),
              external({ definitionKey: "scanner/many-steps", remediation: Array(21).fill("step") }),
              external({ definitionKey: "scanner/long-step", remediation: ["s".repeat(2001)] }),
              external({ definitionKey: "scanner/good" }),
            ],
          },
          t.ingestor,
        ),
      ).upsertAssessments;
      expect(res.rejected).toEqual([
        { index: 0, field: "title", message: NUL_MSG },
        { index: 1, field: "description", message: NUL_MSG },
        { index: 2, field: "cause", message: NUL_MSG },
        { index: 3, field: "remediation[1]", message: LONE_MSG },
        { index: 4, field: "resourceId", message: "must be a resource id (UUID)" },
        { index: 5, field: "resourceId", message: "no such resource in this tenant" },
        { index: 6, field: "description", message: "at most 8,000 characters" },
        { index: 7, field: "remediation", message: "at most 20 steps of at most 2,000 characters" },
        { index: 8, field: "remediation", message: "at most 20 steps of at most 2,000 characters" },
      ]);
      expect(res.acceptedCount).toBe(1);
      expect(await count()).toBe(before + 1);
      const keys = await inTenant(ds, A, (m) =>
        m.query(`SELECT id FROM external_definitions WHERE id LIKE 'scanner/%' ORDER BY id`),
      );
      expect(keys).toEqual([{ id: "scanner/good" }, { id: "scanner/vault" }]);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ["a NUL in the reason", { reason: `r${NUL}` }, `reason: ${NUL_MSG}`],
      ["an unpaired surrogate in the reason", { reason: `r${LONE}` }, `reason: ${LONE_MSG}`],
      [
        "an expiry after the year 9999 (not writable back as a DateTime)",
        { expiresAt: "9999-12-31T23:59:59-14:00" },
        "expiresAt: must be before the year 10000",
      ],
      ["an expiry in the past", { expiresAt: "0001-01-01T00:00:00Z" }, "expiresAt: must be in the future"],
      ["an unknown definition", { definitionId: `d${NUL}` }, "definitionId: no such definition"],
      [
        "a resource id that is no UUID",
        { resourceId: `r${NUL}` },
        "resourceId: must be a resource id (UUID)",
      ],
      [
        "a NUL in a resource group",
        { resourceId: null, accountId: "00000000-0000-0000-0000-000000000000", resourceGroup: `rg${NUL}` },
        "resourceGroup: must be an Azure resource group name: 1 to 90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period",
      ],
      [
        "an unpaired surrogate in a resource group",
        { resourceId: null, accountId: "00000000-0000-0000-0000-000000000000", resourceGroup: `rg${LONE}` },
        "resourceGroup: must be an Azure resource group name: 1 to 90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period",
      ],
    ])("createExemption refuses %s", async (_what, bad, problem) => {
      const res = await unchanged(() =>
        platform.request(
          CreateExemptionDocument,
          { input: { definitionId, resourceId: vaultId, category: "WAIVER", reason: "r", ...bad } },
          t.admin,
        ),
      );
      expect(problems(res)).toEqual([problem]);
    });
  });

  describe("duplicates within one batch", () => {
    it("upsertCloudAccounts and upsertResources refuse a key given twice, writing nothing", async () => {
      const accounts = await unchanged(() =>
        platform.request(
          UpsertAccountsDocument,
          {
            input: [
              { provider: "AWS", externalId: "dup", name: "One" },
              { provider: "AZURE", externalId: "dup", name: "Other provider" },
              { provider: "AWS", externalId: "dup", name: "Two" },
            ],
          },
          t.admin,
        ),
      );
      expect(problems(accounts)).toEqual(["[2].externalId: duplicates item 0 in this batch"]);
      const resources = await unchanged(() =>
        platform.request(
          UpsertResourcesDocument,
          { input: [resource({ externalId: "/r/dup" }), resource({ externalId: "/r/dup", name: "again" })] },
          t.admin,
        ),
      );
      expect(problems(resources)).toEqual(["[1].externalId: duplicates item 0 in this batch"]);
    });

    it("upsertAssessments keeps the last of a (resource, key) pair given twice", async () => {
      const res = ok(
        await platform.request(
          UpsertAssessmentsDocument,
          {
            input: [
              external({ definitionKey: "scanner/twice", status: "UNHEALTHY" }),
              external({ definitionKey: "scanner/twice", status: "HEALTHY" }),
            ],
          },
          t.admin,
        ),
      ).upsertAssessments;
      expect(res.rejected).toEqual([]);
      const rows = await inTenant(ds, A, (m) =>
        m.query(`SELECT raw_status FROM assessments WHERE definition_id = 'scanner/twice'`),
      );
      expect(rows).toEqual([{ raw_status: "HEALTHY" }]);
    });
  });

  describe("query arguments that reach SQL", () => {
    it.each<[string, Record<string, unknown>, string]>([
      ["a NUL in the search", { search: `kv${NUL}` }, `filter.search: ${NUL_MSG}`],
      ["an unpaired surrogate in the search", { search: LONE }, `filter.search: ${LONE_MSG}`],
      ["a NUL in a type", { types: [VAULT, NUL] }, `filter.types[1]: ${NUL_MSG}`],
      ["a NUL in a region", { regions: [`west${NUL}`] }, `filter.regions[0]: ${NUL_MSG}`],
      ["a NUL in a tag key", { tag: { key: NUL } }, `filter.tag.key: ${NUL_MSG}`],
      ["a NUL in a tag value", { tag: { key: "env", value: NUL } }, `filter.tag.value: ${NUL_MSG}`],
      [
        "an unpaired surrogate in a tag value",
        { tag: { key: "env", value: LONE } },
        `filter.tag.value: ${LONE_MSG}`,
      ],
    ])("resources refuses %s", async (_what, filter, problem) => {
      expect(problems(await platform.request(ResourcesDocument, { filter }, t.reader))).toEqual([problem]);
    });

    it("resources searches for %, _ and \\ literally", async () => {
      const names = async (search: string) =>
        ok(await platform.request(ResourcesDocument, { filter: { search } }, t.reader)).resources.edges.map(
          (e) => e.node.name,
        );
      expect(await names("t%s")).toEqual(["pct%sign"]);
      expect(await names("r_s")).toEqual(["under_score"]);
      expect(await names("k\\s")).toEqual(["back\\slash"]);
      expect(await names("%")).toEqual(["pct%sign"]);
    });

    it("ids that are no UUID, or carry a NUL, find nothing instead of failing", async () => {
      for (const id of ["not-a-uuid", NUL, incompressible(3000)]) {
        expect(ok(await platform.request(HostileLookupsDocument, { id }, t.reader))).toEqual({
          resource: null,
          account: null,
          policyDefinition: null,
        });
        const scoped = ok(
          await platform.request(
            HostileAccountScopeDocument,
            { accountId: id, from: "2026-01-01T00:00:00Z", to: "2026-01-31T00:00:00Z" },
            t.reader,
          ),
        );
        expect(scoped.secureScore.current).toBe(0);
        expect(scoped.secureScoreHistory).toEqual([]);
        expect(scoped.complianceStandards.length).toBeGreaterThan(0);
        expect(scoped.complianceStandards.every((s) => s.passedControls + s.failedControls === 0)).toBe(true);
        expect(scoped.networkMap.nodes).toEqual([]);
        expect(scoped.networks).toEqual({ nodes: [], edges: [] });
        expect(scoped.recommendations.totalCount).toBe(0);
        expect(
          ok(await platform.request(ResourcesDocument, { filter: { accountId: id } }, t.reader)).resources
            .totalCount,
        ).toBe(0);
        expect(
          ok(
            await platform.request(
              HostileDefinitionsDocument,
              { filter: { search: id, resourceType: id, controlId: id } },
              t.reader,
            ),
          ).policyDefinitions.totalCount,
        ).toBe(0);
        // A network's map takes a VNet/VPC's id only: anything else is refused, naming the argument.
        expect(
          problems(
            await platform.request(NetworkMapDocument, { networkId: id, minSeverity: "LOW" }, t.reader),
          ),
        ).toEqual(["networkId: must be the id (UUID) of a VNet/VPC, as the NETWORKS view gives it"]);
      }
    });

    it.each([
      ["year 0", "0000-01-01T00:00:00Z", "0000-01-31T00:00:00Z", "from"],
      ["a day past 9999 in UTC", "9999-12-30T00:00:00Z", "9999-12-31T23:00:00-14:00", "to"],
    ])("secureScoreHistory refuses %s", async (_what, from, to, field) => {
      const res = await platform.request(HostileAccountScopeDocument, { from, to }, t.reader);
      expect(problems(res)).toEqual([`${field}: must be in the years 1 to 9999`]);
    });

    it("refuses page sizes out of range and cursors of another list", async () => {
      for (const first of [0, -1, 101, 1e9])
        expect(problems(await platform.request(ResourcesDocument, { first }, t.reader))).toEqual([
          "first: must be between 1 and 100",
        ]);
      // Past int4, GraphQL refuses the variable itself (HTTP 400).
      const huge = await raw(
        "query($first: Int) { resources(first: $first) { totalCount } }",
        { first: 2 ** 31 },
        t.reader,
      );
      expect([huge.status, codes(huge)]).toEqual([400, ["BAD_USER_INPUT"]]);
      const byName = ok(await platform.request(ResourcesDocument, { first: 1 }, t.reader)).resources.pageInfo
        .endCursor!;
      for (const [orderBy, after] of [
        [{ field: "LAST_SEEN", direction: "ASC" }, byName],
        [undefined, Buffer.from(JSON.stringify(["kv", "not-a-uuid"])).toString("base64url")],
        [undefined, Buffer.from(JSON.stringify([`kv${NUL}`, vaultId])).toString("base64url")],
        [undefined, "!!"],
      ] as const)
        expect(problems(await platform.request(ResourcesDocument, { orderBy, after }, t.reader))).toEqual([
          "after: not a cursor of this list",
        ]);
      // Nested lists check their cursors too: the error is on the field, the rest of the answer stands.
      const cursor = (id: string) => Buffer.from(JSON.stringify([null, id])).toString("base64url");
      const assessments = await platform.request(
        HostileResourcePagesDocument,
        { id: vaultId, after: cursor(`x${NUL}`) },
        t.reader,
      );
      expect(assessments.errors!.map((e) => [e.path?.join("."), e.extensions?.code])).toEqual([
        ["resource.assessments", "BAD_USER_INPUT"],
      ]);
      expect(assessments.data?.recommendations.nodes.length).toBe(1);
      const affected = await platform.request(
        HostileResourcePagesDocument,
        { id: vaultId, affectedAfter: cursor("not-a-uuid") },
        t.reader,
      );
      expect(affected.errors!.map((e) => [e.path?.join("."), e.extensions?.code])).toEqual([
        ["recommendations.nodes.0.affectedResources", "BAD_USER_INPUT"],
      ]);
    });
  });

  describe("roles", () => {
    const writes = (): Array<[string, () => Promise<GqlResponse<unknown>>]> => [
      [
        "upsertCloudAccounts",
        () =>
          platform.request(
            UpsertAccountsDocument,
            { input: [{ provider: "AZURE", externalId: "sub-role", name: "Role" }] },
            token,
          ),
      ],
      [
        "upsertResources",
        () =>
          platform.request(UpsertResourcesDocument, { input: [resource({ externalId: "/r/role" })] }, token),
      ],
      ["removeResources", () => platform.request(RemoveResourcesDocument, { ids: [vaultId] }, token)],
      [
        "upsertAssessments",
        () =>
          platform.request(UpsertAssessmentsDocument, { input: [external({ status: "HEALTHY" })] }, token),
      ],
      [
        "createPolicyDefinition",
        () => platform.request(CreatePolicyDefinitionDocument, { input: definition() }, token),
      ],
      [
        "updatePolicyDefinition",
        () =>
          platform.request(UpdatePolicyDefinitionDocument, { id: definitionId, input: definition() }, token),
      ],
      [
        "setPolicyDefinitionEnabled",
        () =>
          platform.request(
            SetPolicyDefinitionEnabledDocument,
            { input: { definitionId, accountId, enabled: false } },
            token,
          ),
      ],
      [
        "createExemption",
        () =>
          platform.request(
            CreateExemptionDocument,
            { input: { definitionId, accountId, category: "MITIGATED", reason: "r" } },
            token,
          ),
      ],
      ["deleteExemption", () => platform.request(DeleteExemptionDocument, { id: exemptionId }, token)],
      [
        "deletePolicyDefinition",
        () => platform.request(DeletePolicyDefinitionDocument, { id: definitionId }, token),
      ],
    ];
    let token = "";

    it.each([
      ["READER", "reader", 10],
      ["ANALYST", "analyst", 10],
      ["INGESTOR", "ingestor", 6],
    ] as const)(
      "%s is refused every write it may not make, and nothing changes",
      async (_role, who, refused) => {
        token = t[who];
        // INGESTOR may ingest (the first four), nothing else.
        const list = who === "ingestor" ? writes().slice(4) : writes();
        expect(list).toHaveLength(refused);
        for (const [name, write] of list) {
          const res = await unchanged(write);
          expect([name, codes(res)]).toEqual([name, ["FORBIDDEN"]]);
        }
      },
    );

    it("INGESTOR reads no resources or score through the accounts it upserts", async () => {
      const input = [{ provider: "AZURE" as const, externalId: "sub-a", name: "Subscription A" }];
      const paths = (res: GqlResponse<unknown>) => {
        expect(res.data ?? null).toBeNull();
        return res.errors!.map((e) => [e.path?.join("."), e.extensions?.code]);
      };
      const resources = await platform.request(HostileAccountPayloadDocument, { input }, t.ingestor);
      expect(paths(resources)).toEqual([["upsertCloudAccounts.0.resources", "FORBIDDEN"]]);
      expect(JSON.stringify(resources)).not.toContain(vaultId);
      const score = await platform.request(HostileAccountScorePayloadDocument, { input }, t.ingestor);
      expect(paths(score)).toEqual([["upsertCloudAccounts.0.secureScore", "FORBIDDEN"]]);
      // A reader of the tenant does see them.
      const asAdmin = ok(await platform.request(HostileAccountPayloadDocument, { input }, t.admin));
      expect(asAdmin.upsertCloudAccounts[0].resources.nodes.map((r) => r.id)).toContain(vaultId);
      expect(ok(await platform.request(HostileAccountScorePayloadDocument, { input }, t.admin))).toBeTruthy();
    });
  });

  describe("another tenant's ids", () => {
    it("behave as not found on every write, and change nothing in either tenant", async () => {
      const asB = t.adminB;
      const outcomes = await unchanged(async () => ({
        upsertResources: problems(
          await platform.request(UpsertResourcesDocument, { input: [resource({ externalId: "/r/b" })] }, asB),
        ),
        removeResources: ok(await platform.request(RemoveResourcesDocument, { ids: [vaultId] }, asB))
          .removeResources.removedCount,
        updatePolicyDefinition: codes(
          await platform.request(
            UpdatePolicyDefinitionDocument,
            { id: definitionId, input: definition() },
            asB,
          ),
        ),
        enableTheirDefinition: codes(
          await platform.request(
            SetPolicyDefinitionEnabledDocument,
            { input: { definitionId, accountId: accountB, enabled: false } },
            asB,
          ),
        ),
        enableInTheirAccount: codes(
          await platform.request(
            SetPolicyDefinitionEnabledDocument,
            { input: { definitionId: builtInId, accountId, enabled: false } },
            asB,
          ),
        ),
        exemptTheirResource: codes(
          await platform.request(
            CreateExemptionDocument,
            { input: { definitionId: builtInId, resourceId: vaultId, category: "WAIVER", reason: "r" } },
            asB,
          ),
        ),
        exemptTheirDefinition: problems(
          await platform.request(
            CreateExemptionDocument,
            { input: { definitionId, category: "WAIVER", reason: "r" } },
            asB,
          ),
        ),
        deleteExemption: codes(await platform.request(DeleteExemptionDocument, { id: exemptionId }, asB)),
        deletePolicyDefinition: codes(
          await platform.request(DeletePolicyDefinitionDocument, { id: definitionId }, asB),
        ),
        deleteTheirDefinitionUpperCase: codes(
          await platform.request(DeletePolicyDefinitionDocument, { id: definitionId.toUpperCase() }, asB),
        ),
        exemptTheirAccountGroup: codes(
          await platform.request(
            CreateExemptionDocument,
            {
              input: {
                definitionId: builtInId,
                accountId,
                resourceGroup: "rg-probe",
                category: "WAIVER",
                reason: "r",
              },
            },
            asB,
          ),
        ),
      }));
      expect(outcomes).toEqual({
        upsertResources: ["[0].accountId: no such account in this tenant"],
        removeResources: 0,
        updatePolicyDefinition: ["NOT_FOUND"],
        enableTheirDefinition: ["NOT_FOUND"],
        enableInTheirAccount: ["NOT_FOUND"],
        exemptTheirResource: ["NOT_FOUND"],
        exemptTheirDefinition: ["definitionId: no such definition"],
        deleteExemption: ["NOT_FOUND"],
        deletePolicyDefinition: ["NOT_FOUND"],
        deleteTheirDefinitionUpperCase: ["NOT_FOUND"],
        exemptTheirAccountGroup: ["NOT_FOUND"],
      });
    });

    it("upsertAssessments rejects another tenant's resource and assesses nothing", async () => {
      const assessments = (tenant: string) =>
        inTenant(ds, tenant, (m) =>
          m.query(`SELECT resource_id, definition_id, raw_status FROM assessments ORDER BY 1, 2`),
        );
      const before = [await assessments(A), await assessments(B)];
      const res = ok(
        await platform.request(
          UpsertAssessmentsDocument,
          { input: [external({ status: "HEALTHY" })] },
          t.adminB,
        ),
      ).upsertAssessments;
      expect(res).toEqual({
        acceptedCount: 0,
        changedCount: 0,
        rejected: [{ index: 0, field: "resourceId", message: "no such resource in this tenant" }],
      });
      expect([await assessments(A), await assessments(B)]).toEqual(before);
    });

    it("setPolicyDefinitionEnabled, updatePolicyDefinition, deletePolicyDefinition and deleteExemption refuse ids that are no ids", async () => {
      const outcomes = await unchanged(async () => [
        codes(
          await platform.request(
            UpdatePolicyDefinitionDocument,
            { id: `x${NUL}`, input: definition() },
            t.admin,
          ),
        ),
        codes(
          await platform.request(
            SetPolicyDefinitionEnabledDocument,
            { input: { definitionId: NUL, accountId, enabled: false } },
            t.admin,
          ),
        ),
        problems(
          await platform.request(
            SetPolicyDefinitionEnabledDocument,
            { input: { definitionId, accountId: NUL, enabled: false } },
            t.admin,
          ),
        ),
        problems(await platform.request(DeleteExemptionDocument, { id: NUL }, t.admin)),
        problems(await platform.request(RemoveResourcesDocument, { ids: [vaultId, "x"] }, t.admin)),
        codes(await platform.request(DeletePolicyDefinitionDocument, { id: `x${NUL}` }, t.admin)),
        codes(await platform.request(DeletePolicyDefinitionDocument, { id: LONE }, t.admin)),
      ]);
      expect(outcomes).toEqual([
        ["NOT_FOUND"],
        ["NOT_FOUND"],
        ["accountId: must be an account id (UUID)"],
        ["id: must be a UUID"],
        ["[1].ids: must be a resource id (UUID)"],
        ["NOT_FOUND"],
        ["NOT_FOUND"],
      ]);
    });
  });
});
