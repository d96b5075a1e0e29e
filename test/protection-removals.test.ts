import { readdirSync, readFileSync } from "node:fs";
import type { DataSource } from "typeorm";
import {
  ApproveJitRequestDocument,
  ImportAdvisoriesDocument,
  JitAuditLogDocument,
  JitRequestsDocument,
  LearnAppControlDocument,
  RemoveResourcesDocument,
  RequestJitAccessDocument,
  ResourceJitPolicyDocument,
  ResourceVulnerabilitiesDocument,
  SetJitPolicyDocument,
  SetPlanDocument,
  VulnerabilityFindingsDocument,
} from "./__generated__/graphql";
import { IDENTITY_HEADER, inSystemScope, inTenant, Role } from "../subgraphs/common/src";
import { postGraphql, startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { eventually, fixture, ingestTelemetry, seedMachines } from "./utils/workload";

const advisories = readdirSync("test/fixtures/protection/osv")
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(`test/fixtures/protection/osv/${f}`, "utf8")) as unknown);
const TENANTS = ["tenant-a", "tenant-b"] as const;
const FORGET = `mutation F($ids: [ID!]!) { forgetRemovedResources(resourceIds: $ids) {
  resourceIds removedJitPolicyCount revokedRequestIds deniedRequestIds removedFindingCount removedAppControlMembershipCount } }`;

describe("a resource removed from posture's inventory ends its protection state", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  const machines: Record<string, Record<string, string>> = {};
  const tokens: Record<string, Record<string, string>> = {};

  /** Rows of tenant A's machine in a protection table (as the tenant: RLS applies). */
  const rows = (table: string, resourceId: string) =>
    inTenant(ds, "tenant-a", async (m) =>
      Number(
        (await m.query(`SELECT count(*)::int AS n FROM ${table} WHERE resource_id = $1`, [resourceId]))[0].n,
      ),
    );
  const auditCount = () =>
    inTenant(ds, "tenant-a", async (m) =>
      Number((await m.query(`SELECT count(*)::int AS n FROM audit_log`))[0].n),
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    ds = await platform.connect("protection");
    for (const tenant of TENANTS) {
      tokens[tenant] = await platform.tokens({
        admin: [[Role.ADMIN], tenant],
        ingestor: [[Role.INGESTOR], tenant],
        reader: [[Role.READER], tenant],
      });
      tokens[tenant].alice = await platform.token([Role.RESPONDER], tenant, "alice");
      tokens[tenant].bob = await platform.token([Role.RESPONDER], tenant, "bob");
      const seeded = await seedMachines(platform, tenant);
      machines[tenant] = seeded.byName;
      const t = tokens[tenant];
      ok(
        await platform.request(
          SetPlanDocument,
          { input: { accountId: seeded.accountId, planType: "SERVERS", tier: "STANDARD" } },
          t.admin,
        ),
      );
      ok(await platform.request(ImportAdvisoriesDocument, { osv: advisories }, t.admin));
      await ingestTelemetry(platform, fixture("packages", seeded.ids), t.ingestor);
      await ingestTelemetry(platform, fixture("process-baseline", seeded.ids), t.ingestor);
      ok(await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, t.admin));
      const vm = seeded.byName["ci-runner-02"];
      ok(
        await platform.request(
          SetJitPolicyDocument,
          {
            input: {
              resourceId: vm,
              ports: [
                {
                  number: 22,
                  protocol: "TCP",
                  allowedSourcePrefixes: ["203.0.113.0/24"],
                  maxDuration: "PT3H",
                },
              ],
            },
          },
          t.admin,
        ),
      );
      const ask = async (justification: string) =>
        ok(
          await platform.request(
            RequestJitAccessDocument,
            {
              input: {
                resourceId: vm,
                ports: [22],
                sourceIp: "203.0.113.10",
                duration: "PT1H",
                justification,
              },
            },
            t.alice,
          ),
        ).requestJitAccess.id;
      const granted = await ask("patch sshd");
      ok(await platform.request(ApproveJitRequestDocument, { id: granted }, t.bob));
      await ask("look at logs");
    }
  }, 120_000);
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("revokes the JIT grant, denies the pending request, deletes the policy and findings; the other tenant keeps its own", async () => {
    const a = tokens["tenant-a"];
    const vm = machines["tenant-a"]["ci-runner-02"];
    const vmB = machines["tenant-b"]["ci-runner-02"];
    const before = ok(
      await platform.request(ResourceVulnerabilitiesDocument, { id: vm }, a.reader),
    ).resource!;
    expect(before.vulnerabilities.nodes.length).toBeGreaterThan(0);
    expect(await rows("vulnerability_findings", vm)).toBeGreaterThan(0);
    expect(await rows("app_control_members", vm)).toBe(1);
    expect(await rows("jit_policies", vm)).toBe(1);
    const findingsOf = async (id: string, token: string) =>
      ok(
        await platform.request(
          VulnerabilityFindingsDocument,
          { filter: { resourceIds: [id], status: null }, first: 100 },
          token,
        ),
      ).vulnerabilityFindings.totalCount;
    expect(await findingsOf(vm, a.reader)).toBeGreaterThan(0);

    ok(await platform.request(RemoveResourcesDocument, { ids: [vm] }, a.admin));

    const requests = async () =>
      ok(await platform.request(JitRequestsDocument, { filter: { resourceId: vm } }, a.reader)).jitRequests
        .nodes;
    await eventually("the removal reached protection", async () =>
      (await requests()).every((r) => r.status === "REVOKED" || r.status === "DENIED"),
    );
    const after = await requests();
    expect(after.map((r) => [r.status, r.revokeReason ?? r.decisionComment]).sort()).toEqual([
      ["DENIED", "resource removed from inventory"],
      ["REVOKED", "resource removed from inventory"],
    ]);
    expect(after.every((r) => (r.revokedBy ?? r.decidedBy) === "service:posture")).toBe(true);
    // History stays: the audit trail names each step of the removal.
    const audit = ok(await platform.request(JitAuditLogDocument, { resourceId: vm }, a.reader)).jitAuditLog
      .nodes;
    expect(
      audit
        .filter((e) => e.actor === "service:posture")
        .map((e) => e.action)
        .sort(),
    ).toEqual(["POLICY_REMOVED", "REQUEST_DENIED", "REQUEST_REVOKED"]);
    for (const table of [
      "jit_policies",
      "vulnerability_findings",
      "package_snapshots",
      "app_control_members",
      "fim_baselines",
      "management_port_exposure",
      "posture_reports",
    ])
      expect([table, await rows(table, vm)]).toEqual([table, 0]);
    expect(await rows("jit_requests", vm)).toBe(2);
    expect(await findingsOf(vm, a.reader)).toBe(0);

    // Tenant B's machine of the same name keeps everything.
    const b = tokens["tenant-b"];
    const policyB = ok(await platform.request(ResourceJitPolicyDocument, { id: vmB }, b.reader)).resource;
    expect(policyB?.jitPolicy?.ports[0].state).toBe("OPEN");
    const vulnsB = ok(
      await platform.request(ResourceVulnerabilitiesDocument, { id: vmB }, b.reader),
    ).resource!;
    expect(vulnsB.vulnerabilities.nodes.length).toBe(before.vulnerabilities.nodes.length);
    expect(await findingsOf(vmB, b.reader)).toBeGreaterThan(0);
    const requestsB = ok(
      await platform.request(JitRequestsDocument, { filter: { resourceId: vmB } }, b.reader),
    ).jitRequests.nodes;
    expect(requestsB.map((r) => r.status).sort()).toEqual(["APPROVED", "PENDING"]);
  });

  it("a repeated delivery changes nothing, and posture's relay sends a removal again after its offset is reset", async () => {
    const vm = machines["tenant-a"]["ci-runner-02"];
    const audits = await auditCount();
    const internal = await platform.internalToken([Role.ADMIN], "tenant-a");
    const again = await postGraphql<{
      forgetRemovedResources: {
        removedJitPolicyCount: number;
        revokedRequestIds: string[];
        removedFindingCount: number;
      };
    }>(
      platform.subgraphs.protection.url,
      { query: FORGET, variables: { ids: [vm] } },
      { [IDENTITY_HEADER]: internal },
    );
    expect(again.errors).toBeUndefined();
    expect(again.data?.forgetRemovedResources).toMatchObject({
      removedJitPolicyCount: 0,
      revokedRequestIds: [],
      removedFindingCount: 0,
    });
    // The relay's own re-delivery: posture's offset goes back to the start, everything is sent again.
    const posture = await platform.connect("posture");
    try {
      await inSystemScope(posture, (m) =>
        m.query(
          `UPDATE relay_offsets SET xid = '0', seq = 0 WHERE consumer = 'protection-resource-removals'`,
        ),
      );
      await eventually("the relay passed the removal again", async () =>
        inSystemScope(posture, async (m) => {
          const [o] = await m.query(
            `SELECT (xid, seq) >= (SELECT max(xid), max(seq) FROM outbox WHERE topic = 'inventory.resource.removed') AS passed
             FROM relay_offsets WHERE consumer = 'protection-resource-removals'`,
          );
          return Boolean(o?.passed);
        }),
      );
    } finally {
      await posture.destroy();
    }
    expect(await auditCount()).toBe(audits);
    expect(await rows("jit_requests", vm)).toBe(2);
  });

  it("refuses ids that are not UUIDs (BAD_USER_INPUT) and callers below ADMIN (FORBIDDEN); the gateway does not expose it", async () => {
    const call = async (roles: Role[], ids: string[]) =>
      postGraphql(
        platform.subgraphs.protection.url,
        { query: FORGET, variables: { ids } },
        { [IDENTITY_HEADER]: await platform.internalToken(roles, "tenant-a") },
      );
    expect((await call([Role.ADMIN], ["nope"])).errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(
      (await call([Role.RESPONDER], [machines["tenant-a"]["vm-dev-02"]])).errors?.[0].extensions?.code,
    ).toBe("FORBIDDEN");
    const viaGateway = await postGraphql(
      platform.gateway.url,
      { query: FORGET, variables: { ids: [machines["tenant-a"]["vm-dev-02"]] } },
      { authorization: `Bearer ${tokens["tenant-a"].admin}` },
    );
    expect(viaGateway.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });
});
