import {
  CreateExemptionDocument,
  CreatePolicyDefinitionDocument,
  DeleteExemptionDocument,
  ExemptionsDocument,
  RecommendationsDocument,
  RemoveResourcesDocument,
  ResourcePostureDocument,
  SecureScoreDocument,
  SetPolicyDefinitionEnabledDocument,
  UpdatePolicyDefinitionDocument,
  UpsertAccountsDocument,
  UpsertAssessmentsDocument,
  UpsertResourcesDocument,
  type PolicyDefinitionInput,
  type ResourceInput,
} from "./__generated__/graphql";
import { Client } from "pg";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * Posture behaviour as an Azure Policy / Defender for Cloud user expects it, on resource types no built-in
 * definition names (so every count below is exact): assessments follow their definition, exemptions end
 * cleanly, and recommendations agree with the scope they are asked for.
 */
describe("posture semantics", () => {
  let platform: TestPlatform;
  let admin: string;
  let reader: string;
  let accounts: string[];
  let tenantSeq = 0;
  let tenant = "";

  const gadget = (accountId: string, i: number, properties: Record<string, unknown>): ResourceInput => ({
    accountId,
    externalId: `/contoso/gadgets/${accountId}/g${i}`,
    type: "Contoso.Custom/gadgets",
    name: `gadget-${i}`,
    properties,
  });
  const definition = (controlId: string): PolicyDefinitionInput => ({
    title: "Gadgets should be locked",
    severity: "MEDIUM",
    controlId,
    resourceTypes: ["Contoso.Custom/gadgets"],
    condition: { field: "properties.locked", notEquals: true },
  });
  const score = async (token = reader) =>
    ok(await platform.request(SecureScoreDocument, {}, token)).secureScore;
  const control = (s: Awaited<ReturnType<typeof score>>, id: string) =>
    s.controls.find((c) => c.control.id === id)!;
  const assessment = async (resourceId: string, definitionId: string, token = reader) =>
    ok(
      await platform.request(ResourcePostureDocument, { id: resourceId }, token),
    ).resource!.assessments.nodes.find((a) => a.definitionId === definitionId);

  /** A tenant of its own per test, with two accounts. */
  const freshTenant = async () => {
    tenant = `tenant-semantics-${++tenantSeq}`;
    admin = await platform.token([Role.ADMIN], tenant);
    reader = await platform.token([Role.READER], tenant);
    accounts = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: `${tenant}-a`, name: "A" },
            { provider: "AZURE", externalId: `${tenant}-b`, name: "B" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts.map((a) => a.id);
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
  });
  afterAll(() => platform?.stop());
  beforeEach(freshTenant);

  it("moves a custom definition's unchanged assessments to its new control when the definition is updated", async () => {
    const id = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        { input: definition("apply-data-classification") },
        admin,
      ),
    ).createPolicyDefinition.id;
    ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [gadget(accounts[0], 1, { locked: false }), gadget(accounts[0], 2, { locked: true })] },
        admin,
      ),
    );
    const before = await score();
    expect(control(before, "apply-data-classification")).toMatchObject({ healthy: 1, unhealthy: 1, max: 2 });

    ok(
      await platform.request(
        UpdatePolicyDefinitionDocument,
        { id, input: definition("enable-auditing-and-logging") },
        admin,
      ),
    );
    const after = await score();
    // The same condition, so the same statuses: but they now count in the definition's new control only.
    expect(control(after, "apply-data-classification")).toMatchObject({ healthy: 0, unhealthy: 0, max: 0 });
    expect(control(after, "enable-auditing-and-logging")).toMatchObject({ healthy: 1, unhealthy: 1, max: 1 });
    expect(after).toMatchObject({ current: 0.5, max: 1, percentage: 0.5 });
    const recommendation = ok(
      await platform.request(RecommendationsDocument, { first: 100 }, reader),
    ).recommendations.nodes.find((r) => r.id === id);
    expect(recommendation).toMatchObject({
      control: { id: "enable-auditing-and-logging" },
      potentialScoreIncrease: 0.5,
    });
  });

  it("restores an external assessment to the status and cause last reported when its exemption is revoked", async () => {
    const [resourceId] = ok(
      await platform.request(UpsertResourcesDocument, { input: [gadget(accounts[0], 1, {})] }, admin),
    ).upsertResources.ids;
    const report = (status: "HEALTHY" | "UNHEALTHY", cause: string) =>
      platform.request(
        UpsertAssessmentsDocument,
        {
          input: [
            {
              resourceId,
              definitionKey: "scanner/gadget-firmware",
              title: "Gadget firmware should be current",
              severity: "HIGH",
              controlId: "apply-system-updates",
              status,
              cause,
            },
          ],
        },
        admin,
      );
    ok(await report("UNHEALTHY", "firmware 1.0 is end of life"));
    const exemption = ok(
      await platform.request(
        CreateExemptionDocument,
        {
          input: {
            definitionId: "scanner/gadget-firmware",
            resourceId,
            category: "MITIGATED",
            reason: "Isolated network",
          },
        },
        admin,
      ),
    ).createExemption;
    expect(await assessment(resourceId, "scanner/gadget-firmware")).toMatchObject({
      status: "NOT_APPLICABLE",
      exemptionId: exemption.id,
    });
    // The scanner keeps reporting while the exemption holds: first a new cause, then the fix.
    ok(await report("UNHEALTHY", "firmware 1.1 is end of life"));
    ok(await report("HEALTHY", "firmware 3.2"));
    ok(await platform.request(DeleteExemptionDocument, { id: exemption.id }, admin));
    expect(await assessment(resourceId, "scanner/gadget-firmware")).toMatchObject({
      status: "HEALTHY",
      cause: "firmware 3.2",
      exemptionId: null,
    });
    expect(control(await score(), "apply-system-updates")).toMatchObject({ healthy: 1, unhealthy: 0 });
  });

  it("deletes an exemption once when the delete is sent more times at once than the pool has connections", async () => {
    // The race sweep found these deletes hung for good: each held a pooled connection waiting for the tenant's
    // evaluation lock, while the one holding the lock waited for a connection to read the definitions.
    const [resourceId] = ok(
      await platform.request(UpsertResourcesDocument, { input: [gadget(accounts[0], 1, {})] }, admin),
    ).upsertResources.ids;
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        {
          input: [
            {
              resourceId,
              definitionKey: "scanner/gadget-firmware",
              title: "Gadget firmware should be current",
              severity: "HIGH",
              controlId: "apply-system-updates",
              status: "UNHEALTHY",
            },
          ],
        },
        admin,
      ),
    );
    const exemption = ok(
      await platform.request(
        CreateExemptionDocument,
        {
          input: {
            definitionId: "scanner/gadget-firmware",
            resourceId,
            category: "WAIVER",
            reason: "Lab gadget",
          },
        },
        admin,
      ),
    ).createExemption;
    // Holding the tenant's evaluation lock lines the deletes up: each takes a connection and waits for the lock.
    const lock = new Client({ connectionString: platform.db.url });
    await lock.connect();
    const key = [`posture.evaluation-context|${tenant}`];
    await lock.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, key);
    const deletes = Promise.all(
      Array.from({ length: 12 }, () =>
        platform.request(DeleteExemptionDocument, { id: exemption.id }, admin),
      ),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    await lock.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key);
    await lock.end();
    const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 20_000).unref());
    const answers = await Promise.race([deletes, timeout]);
    expect(answers).not.toBe("hung");
    const outcomes = (answers as Awaited<typeof deletes>).map((a) =>
      String(a.errors?.[0]?.extensions?.code ?? "ok"),
    );
    expect(outcomes.sort()).toEqual(["ok", ...Array.from({ length: 11 }, () => "NOT_FOUND")].sort());
  });

  it("restores an external assessment's own cause when an exemption it was reported under is revoked", async () => {
    const [resourceId] = ok(
      await platform.request(UpsertResourcesDocument, { input: [gadget(accounts[0], 1, {})] }, admin),
    ).upsertResources.ids;
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        {
          input: [
            {
              resourceId,
              definitionKey: "scanner/gadget-ports",
              title: "Gadgets should not expose telnet",
              severity: "HIGH",
              controlId: "secure-management-ports",
              status: "UNHEALTHY",
              cause: "telnet open on :23",
            },
          ],
        },
        admin,
      ),
    );
    const exemption = ok(
      await platform.request(
        CreateExemptionDocument,
        {
          input: {
            definitionId: "scanner/gadget-ports",
            accountId: accounts[0],
            category: "WAIVER",
            reason: "Lab account",
          },
        },
        admin,
      ),
    ).createExemption;
    ok(await platform.request(DeleteExemptionDocument, { id: exemption.id }, admin));
    expect(await assessment(resourceId, "scanner/gadget-ports")).toMatchObject({
      status: "UNHEALTHY",
      cause: "telnet open on :23",
      exemptionId: null,
    });
  });

  it("counts every assessment of an external key in the control it was last reported in", async () => {
    const ids = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [gadget(accounts[0], 1, {}), gadget(accounts[0], 2, {})] },
        admin,
      ),
    ).upsertResources.ids;
    const record = (resourceId: string, controlId: string) => ({
      resourceId,
      definitionKey: "scanner/gadget-acl",
      title: "Gadgets should restrict their ACL",
      severity: "LOW" as const,
      controlId,
      status: "UNHEALTHY" as const,
      cause: "ACL allows everyone",
    });
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        {
          input: [
            record(ids[0], "manage-access-and-permissions"),
            record(ids[1], "manage-access-and-permissions"),
          ],
        },
        admin,
      ),
    );
    // The scanner re-files its check under another control, reporting one resource only.
    ok(
      await platform.request(
        UpsertAssessmentsDocument,
        { input: [record(ids[0], "remediate-security-configurations")] },
        admin,
      ),
    );
    const after = await score();
    expect(control(after, "manage-access-and-permissions")).toMatchObject({ unhealthy: 0, max: 0 });
    expect(control(after, "remediate-security-configurations")).toMatchObject({ unhealthy: 2, max: 4 });
  });

  it("removes a resource's exemptions with the resource, and keeps account-wide ones", async () => {
    const id = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        { input: definition("apply-data-classification") },
        admin,
      ),
    ).createPolicyDefinition.id;
    const ids = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [gadget(accounts[0], 1, { locked: false }), gadget(accounts[0], 2, { locked: false })] },
        admin,
      ),
    ).upsertResources.ids;
    const exempt = async (input: { resourceId?: string; accountId?: string }) =>
      ok(
        await platform.request(
          CreateExemptionDocument,
          { input: { definitionId: id, category: "WAIVER", reason: "Retiring", ...input } },
          admin,
        ),
      ).createExemption.id;
    const gone = await exempt({ resourceId: ids[0] });
    const kept = await exempt({ resourceId: ids[1] });
    const accountWide = await exempt({ accountId: accounts[1] });
    ok(await platform.request(RemoveResourcesDocument, { ids: [ids[0]] }, admin));
    const left = ok(await platform.request(ExemptionsDocument, {}, reader)).exemptions.nodes.map((e) => e.id);
    expect(left.sort()).toEqual([kept, accountWide].sort());
    expect(left).not.toContain(gone);
  });

  it("pages exemptions newest first past any count, filters them, and keeps them in their tenant", async () => {
    const id = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        { input: definition("apply-data-classification") },
        admin,
      ),
    ).createPolicyDefinition.id;
    const ids = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [1, 2, 3, 4].map((i) => gadget(accounts[0], i, { locked: false })) },
        admin,
      ),
    ).upsertResources.ids;
    const created: string[] = [];
    for (const input of [...ids.map((resourceId) => ({ resourceId })), { accountId: accounts[1] }])
      created.push(
        ok(
          await platform.request(
            CreateExemptionDocument,
            { input: { definitionId: id, category: "WAIVER", reason: "Retiring", ...input } },
            admin,
          ),
        ).createExemption.id,
      );
    // Two at a time: every exemption exactly once, newest first, and the count of all of them on each page.
    const seen: string[] = [];
    let after: string | null | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = ok(await platform.request(ExemptionsDocument, { first: 2, after }, reader)).exemptions;
      expect(page.totalCount).toBe(5);
      seen.push(...page.nodes.map((e) => e.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([...created].reverse());
    const only = async (filter: Record<string, string>) =>
      ok(await platform.request(ExemptionsDocument, { filter }, reader)).exemptions.nodes.map((e) => e.id);
    expect(await only({ resourceId: ids[2] })).toEqual([created[2]]);
    expect(await only({ accountId: accounts[1] })).toEqual([created[4]]);
    expect((await only({ accountId: accounts[0], definitionId: id })).sort()).toEqual(
      created.slice(0, 4).sort(),
    );
    expect(await only({ definitionId: "no-such-definition" })).toEqual([]);
    const bad = await platform.request(ExemptionsDocument, { filter: { accountId: "not-a-uuid" } }, reader);
    expect(bad.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [{ field: "filter.accountId" }],
    });
    const nul = await platform.request(ExemptionsDocument, { filter: { definitionId: "a\u0000b" } }, reader);
    expect(nul.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [{ field: "filter.definitionId" }],
    });
    const stranger = await platform.token([Role.READER], `${tenant}-other`);
    expect(ok(await platform.request(ExemptionsDocument, {}, stranger)).exemptions).toMatchObject({
      totalCount: 0,
      nodes: [],
    });
  });

  it("takes a disabled external definition out of that account's score, and back as reported when enabled", async () => {
    const [a, b] = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [gadget(accounts[0], 1, {}), gadget(accounts[1], 2, {})] },
        admin,
      ),
    ).upsertResources.ids;
    const record = (resourceId: string) => ({
      resourceId,
      definitionKey: "scanner/gadget-backdoor",
      title: "Gadgets should have no debug backdoor",
      severity: "HIGH" as const,
      controlId: "remediate-vulnerabilities",
      status: "UNHEALTHY" as const,
      cause: "debug port 4444 open",
    });
    ok(await platform.request(UpsertAssessmentsDocument, { input: [record(a), record(b)] }, admin));
    const setEnabled = (enabled: boolean) =>
      platform.request(
        SetPolicyDefinitionEnabledDocument,
        { input: { definitionId: "scanner/gadget-backdoor", accountId: accounts[0], enabled } },
        admin,
      );
    ok(await setEnabled(false));
    expect(control(await score(), "remediate-vulnerabilities")).toMatchObject({ unhealthy: 1 });
    expect(await assessment(a, "scanner/gadget-backdoor")).toMatchObject({ status: "NOT_APPLICABLE" });
    expect(await assessment(b, "scanner/gadget-backdoor")).toMatchObject({ status: "UNHEALTHY" });
    // Reports keep arriving while disabled; they count again only once it is enabled.
    ok(await platform.request(UpsertAssessmentsDocument, { input: [record(a)] }, admin));
    expect(control(await score(), "remediate-vulnerabilities")).toMatchObject({ unhealthy: 1 });
    ok(await setEnabled(true));
    expect(control(await score(), "remediate-vulnerabilities")).toMatchObject({ unhealthy: 2 });
    expect(await assessment(a, "scanner/gadget-backdoor")).toMatchObject({
      status: "UNHEALTHY",
      cause: "debug port 4444 open",
    });
  });

  it("lists a recommendation's affected resources of the filtered account only", async () => {
    const id = ok(
      await platform.request(
        CreatePolicyDefinitionDocument,
        { input: definition("apply-data-classification") },
        admin,
      ),
    ).createPolicyDefinition.id;
    ok(
      await platform.request(
        UpsertResourcesDocument,
        {
          input: [
            gadget(accounts[0], 1, { locked: false }),
            gadget(accounts[1], 2, { locked: false }),
            gadget(accounts[1], 3, { locked: false }),
          ],
        },
        admin,
      ),
    );
    const inAccount = async (accountId: string) =>
      ok(
        await platform.request(RecommendationsDocument, { filter: { accountId }, first: 100 }, reader),
      ).recommendations.nodes.find((r) => r.id === id)!;
    const a = await inAccount(accounts[0]);
    expect(a.unhealthyCount).toBe(1);
    expect(a.affectedResources.totalCount).toBe(1);
    expect(a.affectedResources.nodes.map((n) => n.name)).toEqual(["gadget-1"]);
    const b = await inAccount(accounts[1]);
    expect(b.unhealthyCount).toBe(2);
    expect(b.affectedResources.totalCount).toBe(2);
    expect(b.affectedResources.nodes.map((n) => n.name).sort()).toEqual(["gadget-2", "gadget-3"]);
    const all = ok(
      await platform.request(RecommendationsDocument, { first: 100 }, reader),
    ).recommendations.nodes.find((r) => r.id === id)!;
    expect(all.affectedResources.totalCount).toBe(3);
  });
});
