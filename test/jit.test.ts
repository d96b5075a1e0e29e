import type { JobHelpers } from "graphile-worker";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import {
  ApproveJitRequestDocument,
  DenyJitRequestDocument,
  JitAuditLogDocument,
  JitRequestDocument,
  JitRequestsDocument,
  RemoveJitPolicyDocument,
  RequestJitAccessDocument,
  ResourceJitPolicyDocument,
  RevokeJitRequestDocument,
  SetJitPolicyDocument,
  SetPlanDocument,
  AgentPolicyDocument,
  type RequestJitAccessInput,
} from "./__generated__/graphql";
import {
  createDataSource,
  createLogger,
  Role,
  runSubgraph,
  subgraphDatabaseUrl,
  type SubgraphServer,
} from "../subgraphs/common/src";
import { protectionSubgraph } from "../subgraphs/protection/src";
import { JIT_EXPIRE_TASK } from "../subgraphs/protection/src/modules/jit/jit.service";
import { jitTasks } from "../subgraphs/protection/src/modules/jit/jit.tasks";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok, resourceAccountsSynced, seedTenant } from "./utils/seed";

/** Polls `probe` until it returns a value (not undefined); fails after `timeoutMs`. Never asserts on timing. */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function errorCode<T>(res: GqlResponse<T>): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

/** Journey 3 of product.md: request, approve, use and auto-expire JIT access to a VM's management port. */
describe("just-in-time VM access", () => {
  let platform: TestPlatform;
  let admin: Client;
  const extraServers: SubgraphServer[] = [];
  let vm: string;
  let vm2: string;
  let otherTenantVm: string;
  let alice: string; // responder who asks for access
  let bob: string; // responder who approves
  let erin: string; // an admin: sets the policies, and decides as another responder
  let reader: string;
  let analyst: string;
  let tenantB: string;

  const policyInput = (resourceId: string) => ({
    resourceId,
    ports: [
      {
        number: 22,
        protocol: "TCP" as const,
        allowedSourcePrefixes: ["203.0.113.0/24"],
        maxDuration: "PT3H",
      },
      { number: 3389, protocol: "ANY" as const, allowedSourcePrefixes: ["*"], maxDuration: "PT1H" },
    ],
  });
  const ask = (input: Partial<RequestJitAccessInput> = {}, token = alice) =>
    platform.request(
      RequestJitAccessDocument,
      {
        input: {
          resourceId: vm,
          ports: [22],
          sourceIp: "203.0.113.10",
          duration: "PT1H",
          justification: "patch sshd",
          ...input,
        },
      },
      token,
    );
  const approve = (id: string, token = bob) => platform.request(ApproveJitRequestDocument, { id }, token);
  const effective = async (id: string, token = reader) =>
    ok(await platform.request(ResourceJitPolicyDocument, { id }, token)).resource?.jitPolicy;
  const requestOf = async (id: string) =>
    ok(await platform.request(JitRequestDocument, { id }, reader)).jitRequest;
  const count = async (sql: string, params: unknown[]) => Number((await admin.query(sql, params)).rows[0].n);
  const expiredAudits = (requestId: string) =>
    count(
      `SELECT count(*) AS n FROM protection.audit_log WHERE action = 'jit.request.expired' AND details->>'requestId' = $1`,
      [requestId],
    );
  const expiredEvents = (requestId: string) =>
    count(`SELECT count(*) AS n FROM protection.outbox WHERE topic = 'jit.request.expired' AND key = $1`, [
      requestId,
    ]);
  /** Waits until the expiry job (not just the clock) has closed a request. */
  const expiredByJob = (requestId: string) =>
    eventually(async () => {
      const request = await requestOf(requestId);
      return request?.history.some((h) => h.action === "REQUEST_EXPIRED") ? request : undefined;
    });
  const approvedGrant = async (duration: string, sourceIp = "203.0.113.10") => {
    const asked = ok(await ask({ duration, sourceIp })).requestJitAccess;
    return ok(await approve(asked.id)).approveJitRequest;
  };

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = new Client({ connectionString: platform.db.url });
    await admin.connect();
    const seeded = await seedTenant(platform, "tenant-a", 6);
    [vm, vm2] = seeded.vmIds;
    otherTenantVm = (await seedTenant(platform, "tenant-b", 3)).vmIds[0];
    alice = await platform.token([Role.RESPONDER], "tenant-a", "alice@example.com");
    bob = await platform.token([Role.RESPONDER], "tenant-a", "bob@example.com");
    erin = await platform.token([Role.ADMIN], "tenant-a", "erin@example.com");
    reader = await platform.token([Role.READER], "tenant-a", "carol@example.com");
    analyst = await platform.token([Role.ANALYST], "tenant-a", "dave@example.com");
    tenantB = await platform.token([Role.RESPONDER], "tenant-b", "mallory@example.com");
    ok(await platform.request(SetJitPolicyDocument, { input: policyInput(vm) }, erin));
  });
  afterAll(async () => {
    for (const server of extraServers) await server.close();
    await admin?.end();
    await platform?.stop();
  });

  it("journey: an admin's policy locks the ports; a responder's request approved by another opens one port for one source", async () => {
    const locked = await effective(vm);
    expect(locked).toMatchObject({ resourceId: vm, updatedBy: "erin@example.com" });
    expect(locked!.ports).toEqual([
      expect.objectContaining({
        number: 22,
        protocol: "TCP",
        allowedSourcePrefixes: ["203.0.113.0/24"],
        maxDuration: "PT3H",
        state: "LOCKED",
        activeGrants: [],
      }),
      expect.objectContaining({
        number: 3389,
        protocol: "ANY",
        allowedSourcePrefixes: ["*"],
        maxDuration: "PT1H",
        state: "LOCKED",
      }),
    ]);
    expect(await effective(vm2)).toBeNull();

    const asked = ok(await ask()).requestJitAccess;
    expect(asked).toMatchObject({
      status: "PENDING",
      requester: "alice@example.com",
      ports: [22],
      duration: "PT1H",
      expiresAt: null,
    });
    expect((await effective(vm))!.ports[0].state).toBe("LOCKED");

    const approved = ok(
      await platform.request(ApproveJitRequestDocument, { id: asked.id, comment: "change CHG-1" }, bob),
    ).approveJitRequest;
    expect(approved).toMatchObject({
      status: "APPROVED",
      decidedBy: "bob@example.com",
      decisionComment: "change CHG-1",
    });
    const open = Date.parse(approved.expiresAt!) - Date.parse(approved.decidedAt!);
    expect(open).toBeGreaterThan(3_599_000);
    expect(open).toBeLessThanOrEqual(3_600_000);

    const [ssh, rdp] = (await effective(vm))!.ports;
    expect(ssh).toMatchObject({
      state: "OPEN",
      activeGrants: [
        {
          requestId: asked.id,
          sourceIp: "203.0.113.10",
          requester: "alice@example.com",
          approvedBy: "bob@example.com",
          expiresAt: approved.expiresAt,
        },
      ],
    });
    expect(rdp).toMatchObject({ state: "LOCKED", activeGrants: [] });

    const listed = ok(
      await platform.request(
        JitRequestsDocument,
        { filter: { resourceId: vm, statuses: ["APPROVED"] } },
        reader,
      ),
    ).jitRequests;
    expect(listed.nodes.map((r) => r.id)).toContain(asked.id);
    expect(listed.nodes[0].resource?.name).toMatch(/^tenant-a-res-/);

    const revoked = ok(
      await platform.request(RevokeJitRequestDocument, { id: asked.id, reason: "done early" }, bob),
    ).revokeJitRequest;
    expect(revoked).toMatchObject({
      status: "REVOKED",
      revokedBy: "bob@example.com",
      revokeReason: "done early",
    });
    expect((await effective(vm))!.ports[0]).toMatchObject({ state: "LOCKED", activeGrants: [] });

    const history = (await requestOf(asked.id))!.history;
    expect(history.map((h) => [h.action, h.actor])).toEqual([
      ["REQUEST_CREATED", "alice@example.com"],
      ["REQUEST_APPROVED", "bob@example.com"],
      ["REQUEST_REVOKED", "bob@example.com"],
    ]);
    expect(history[0].details).toMatchObject({
      justification: "patch sshd",
      sourceIp: "203.0.113.10",
      ports: [22],
    });
    const topics = (
      await admin.query(`SELECT topic FROM protection.outbox WHERE key = $1 ORDER BY seq`, [asked.id])
    ).rows.map((r) => r.topic);
    expect(topics).toEqual(["jit.request.created", "jit.request.approved", "jit.request.revoked"]);

    const audit = ok(
      await platform.request(JitAuditLogDocument, { resourceId: vm, first: 100 }, reader),
    ).jitAuditLog;
    expect(audit.nodes.map((e) => e.action).slice(0, 3)).toEqual([
      "REQUEST_REVOKED",
      "REQUEST_APPROVED",
      "REQUEST_CREATED",
    ]);
    expect(audit.nodes.at(-1)).toMatchObject({
      action: "POLICY_SET",
      actor: "erin@example.com",
      requestId: null,
    });
  });

  it("closes access by the expiry job when the duration is up", async () => {
    const grant = await approvedGrant("PT2S");
    // The effective state closes on time (the clock is the truth), and the job records the expiry.
    await eventually(async () =>
      (await effective(vm))!.ports[0].activeGrants.some((g) => g.requestId === grant.id) ? undefined : true,
    );
    const expired = await expiredByJob(grant.id);
    expect(expired).toMatchObject({ status: "EXPIRED", expiresAt: grant.expiresAt });
    expect(expired.history.at(-1)).toMatchObject({
      action: "REQUEST_EXPIRED",
      actor: "system",
      details: expect.objectContaining({ reason: "ACCESS_ENDED" }),
    });
    expect(await expiredAudits(grant.id)).toBe(1);
    expect(await expiredEvents(grant.id)).toBe(1);
  });

  it("refuses bad requests with typed errors and stores nothing", async () => {
    const before = ok(await platform.request(JitRequestsDocument, {}, reader)).jitRequests.totalCount;
    const overMax = await ask({ duration: "PT4H" });
    expect(errorCode(overMax)).toBe("BAD_USER_INPUT");
    expect(overMax.errors![0].extensions!.problems).toEqual([
      { field: "duration", message: "PT4H is longer than the maximum PT3H" },
    ]);
    const overCap = await ask({ ports: [3389], duration: "PT2H" });
    expect(overCap.errors![0].extensions!.problems).toEqual([
      { field: "duration", message: "PT2H is longer than the maximum PT1H" },
    ]);
    const notInPolicy = await ask({ ports: [22, 8080] });
    expect(notInPolicy.errors![0].extensions!.problems).toEqual([
      { field: "ports[1]", message: "port 8080 is not in the resource's JIT policy (ports: 22, 3389)" },
    ]);
    const outside = await ask({ sourceIp: "198.51.100.7" });
    expect(outside.errors![0].extensions!.problems).toEqual([
      {
        field: "sourceIp",
        message: "198.51.100.7 is outside the sources allowed on port 22 (203.0.113.0/24)",
      },
    ]);
    expect(errorCode(await ask({ sourceIp: "not-an-ip", justification: " " }))).toBe("BAD_USER_INPUT");
    expect(errorCode(await ask({ resourceId: vm2 }))).toBe("NOT_FOUND");
    expect(ok(await platform.request(JitRequestsDocument, {}, reader)).jitRequests.totalCount).toBe(before);
  });

  it("refuses an invalid policy and keeps the previous one", async () => {
    const res = await platform.request(
      SetJitPolicyDocument,
      {
        input: {
          resourceId: vm,
          ports: [
            { number: 70000, protocol: "TCP", allowedSourcePrefixes: ["10.0.0.5/8"] },
            { number: 22, protocol: "TCP", allowedSourcePrefixes: ["*"], maxDuration: "PT25H" },
          ],
        },
      },
      erin,
    );
    expect(errorCode(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0].extensions!.problems).toEqual([
      { field: "ports[0].number", message: "must be a port number from 1 to 65535" },
      {
        field: "ports[0].allowedSourcePrefixes[0]",
        message: '"10.0.0.5/8" has host bits set; did you mean 10.0.0.0/8?',
      },
      { field: "ports[1].maxDuration", message: "PT25H is longer than the maximum PT24H" },
    ]);
    expect((await effective(vm))!.ports.map((p) => [p.number, p.maxDuration])).toEqual([
      [22, "PT3H"],
      [3389, "PT1H"],
    ]);
  });

  it("refuses self-approval, double approval and deciding denied or expired requests (CONFLICT), changing nothing", async () => {
    const asked = ok(await ask()).requestJitAccess;
    const self = await approve(asked.id, alice);
    expect(errorCode(self)).toBe("FORBIDDEN");
    expect(self.errors![0].message).toMatch(/another responder must approve it/);
    expect(
      errorCode(await platform.request(DenyJitRequestDocument, { id: asked.id, reason: "no" }, alice)),
    ).toBe("FORBIDDEN");
    expect(await requestOf(asked.id)).toMatchObject({ status: "PENDING", decidedBy: null });
    expect((await requestOf(asked.id))!.history.map((h) => h.action)).toEqual(["REQUEST_CREATED"]);

    ok(await approve(asked.id));
    const again = await approve(asked.id, erin);
    expect(errorCode(again)).toBe("CONFLICT");
    expect(again.errors![0].message).toMatch(/already approved/);
    expect(
      errorCode(await platform.request(DenyJitRequestDocument, { id: asked.id, reason: "late" }, erin)),
    ).toBe("CONFLICT");
    expect(await requestOf(asked.id)).toMatchObject({ status: "APPROVED", decidedBy: "bob@example.com" });

    const denied = ok(await ask()).requestJitAccess;
    expect(
      ok(await platform.request(DenyJitRequestDocument, { id: denied.id, reason: "use the bastion" }, bob))
        .denyJitRequest,
    ).toMatchObject({ status: "DENIED", decidedBy: "bob@example.com", decisionComment: "use the bastion" });
    expect(errorCode(await approve(denied.id, erin))).toBe("CONFLICT");
    expect(
      errorCode(await platform.request(RevokeJitRequestDocument, { id: denied.id, reason: "x" }, bob)),
    ).toBe("CONFLICT");

    const short = await approvedGrant("PT1S");
    const ended = await eventually(async () => {
      const r = await requestOf(short.id);
      return r?.status === "EXPIRED" ? r : undefined;
    });
    expect(Date.parse(ended.expiredAt!)).toBeGreaterThanOrEqual(Date.parse(short.expiresAt!));
    expect(errorCode(await approve(short.id, erin))).toBe("CONFLICT");
    expect(
      errorCode(await platform.request(RevokeJitRequestDocument, { id: short.id, reason: "x" }, bob)),
    ).toBe("CONFLICT");

    // A request nobody answered within 24 hours lapses: it can no longer be approved.
    const stale = ok(await ask()).requestJitAccess;
    await admin.query(
      `UPDATE protection.jit_requests SET requested_at = now() - interval '25 hours' WHERE id = $1`,
      [stale.id],
    );
    const lapsed = await approve(stale.id);
    expect(errorCode(lapsed)).toBe("CONFLICT");
    expect(lapsed.errors![0].message).toMatch(/has expired/);
    expect(await requestOf(stale.id)).toMatchObject({ status: "EXPIRED", decidedBy: null });

    expect(errorCode(await approve("0190d6c4-0000-7000-8000-000000000000"))).toBe("NOT_FOUND");
  });

  it("lets exactly one of two concurrent approvals win", async () => {
    const asked = ok(await ask()).requestJitAccess;
    const results = await Promise.all([approve(asked.id, bob), approve(asked.id, erin)]);
    expect(results.map((r) => errorCode(r) ?? "OK").sort()).toEqual(["CONFLICT", "OK"]);
    const approvals = await count(
      `SELECT count(*) AS n FROM protection.audit_log WHERE action = 'jit.request.approved' AND details->>'requestId' = $1`,
      [asked.id],
    );
    expect(approvals).toBe(1);
  });

  it("needs ADMIN to set or remove policies, RESPONDER to request and decide; READER can read", async () => {
    const pending = ok(await ask()).requestJitAccess;
    expect(errorCode(await ask({}, reader))).toBe("FORBIDDEN");
    expect(errorCode(await ask({}, analyst))).toBe("FORBIDDEN");
    expect(errorCode(await approve(pending.id, reader))).toBe("FORBIDDEN");
    expect(errorCode(await approve(pending.id, analyst))).toBe("FORBIDDEN");
    // A responder asks within a policy and may not widen it (product.md: policies are ADMIN's).
    for (const token of [analyst, bob]) {
      expect(errorCode(await platform.request(SetJitPolicyDocument, { input: policyInput(vm) }, token))).toBe(
        "FORBIDDEN",
      );
      expect(errorCode(await platform.request(RemoveJitPolicyDocument, { resourceId: vm }, token))).toBe(
        "FORBIDDEN",
      );
    }
    expect(await effective(vm)).toMatchObject({ resourceId: vm, updatedBy: "erin@example.com" });
    expect(await requestOf(pending.id)).toMatchObject({ status: "PENDING" });
    expect(
      ok(await platform.request(JitRequestsDocument, { filter: { requester: "alice@example.com" } }, reader))
        .jitRequests.totalCount,
    ).toBeGreaterThan(0);
  });

  it("keeps tenants apart: another tenant can neither see nor decide a request, nor see the policy", async () => {
    const asked = ok(await ask()).requestJitAccess;
    expect(ok(await platform.request(JitRequestDocument, { id: asked.id }, tenantB)).jitRequest).toBeNull();
    expect(ok(await platform.request(JitRequestsDocument, {}, tenantB)).jitRequests.totalCount).toBe(0);
    expect(
      ok(await platform.request(JitAuditLogDocument, { resourceId: vm }, tenantB)).jitAuditLog.totalCount,
    ).toBe(0);
    // The same lists for this tenant's reader hold the request and its audit: the zeros above are tenant B's.
    expect(
      ok(await platform.request(JitRequestsDocument, {}, reader)).jitRequests.nodes.map((r) => r.id),
    ).toContain(asked.id);
    expect(
      ok(await platform.request(JitAuditLogDocument, { resourceId: vm }, reader)).jitAuditLog.totalCount,
    ).toBeGreaterThan(0);
    expect(errorCode(await approve(asked.id, tenantB))).toBe("NOT_FOUND");
    expect(
      errorCode(await platform.request(RevokeJitRequestDocument, { id: asked.id, reason: "x" }, tenantB)),
    ).toBe("NOT_FOUND");
    expect(await requestOf(asked.id)).toMatchObject({ status: "PENDING" });
    expect(await effective(otherTenantVm, tenantB)).toBeNull();
    // Straight to the subgraph with tenant B's identity: tenant A's VM has no policy there.
    const direct = await postGraphql<{ _entities: Array<{ jitPolicy: unknown }> }>(
      platform.subgraphs.protection.url,
      {
        query: `query($r: [_Any!]!) { _entities(representations: $r) { ... on Resource { jitPolicy { id } } } }`,
        variables: { r: [{ __typename: "Resource", id: vm }] },
      },
      { "x-rampart-identity": await platform.internalToken([Role.READER], "tenant-b") },
    );
    expect(direct.data?._entities).toEqual([{ jitPolicy: null }]);
  });

  it("removing a policy revokes active grants and denies pending requests", async () => {
    ok(await platform.request(SetJitPolicyDocument, { input: policyInput(vm2) }, erin));
    const grant = ok(await ask({ resourceId: vm2 })).requestJitAccess;
    ok(await approve(grant.id));
    const pending = ok(await ask({ resourceId: vm2 })).requestJitAccess;
    const removed = ok(
      await platform.request(RemoveJitPolicyDocument, { resourceId: vm2 }, erin),
    ).removeJitPolicy;
    expect(removed).toEqual({
      resourceId: vm2,
      revokedRequestIds: [grant.id],
      deniedRequestIds: [pending.id],
    });
    expect(await effective(vm2)).toBeNull();
    expect(await requestOf(grant.id)).toMatchObject({
      status: "REVOKED",
      revokeReason: "JIT policy removed",
    });
    expect(await requestOf(pending.id)).toMatchObject({
      status: "DENIED",
      decisionComment: "JIT policy removed",
    });
    expect(errorCode(await platform.request(RemoveJitPolicyDocument, { resourceId: vm2 }, erin))).toBe(
      "NOT_FOUND",
    );
  });

  it("is enforced only while a SERVERS plan covers the machine: refused before, shown and refused after it ends", async () => {
    const seeded = await seedTenant(platform, "tenant-c", 3);
    const [machine] = seeded.vmIds;
    const [cAdmin, cAlice, cBob, cAgent] = await Promise.all([
      platform.token([Role.ADMIN], "tenant-c", "ivy@example.com"),
      platform.token([Role.RESPONDER], "tenant-c", "alice@example.com"),
      platform.token([Role.RESPONDER], "tenant-c", "bob@example.com"),
      platform.token([Role.INGESTOR], "tenant-c", "agent"),
    ]);
    const servers = (tier: "FREE" | "STANDARD") =>
      platform.request(
        SetPlanDocument,
        { input: { accountId: seeded.accountIds.azure, planType: "SERVERS", tier } },
        cAdmin,
      );
    const policyOf = async () =>
      ok(await platform.request(ResourceJitPolicyDocument, { id: machine }, cAdmin)).resource?.jitPolicy;
    const report = async () =>
      (
        await admin.query(
          `SELECT status, cause FROM protection.posture_reports
           WHERE tenant_id = 'tenant-c' AND resource_id = $1 AND definition_key = 'protection/management-ports'`,
          [machine],
        )
      ).rows[0] as { status: string; cause: string } | undefined;
    const askC = () =>
      platform.request(
        RequestJitAccessDocument,
        {
          input: {
            resourceId: machine,
            ports: [22],
            sourceIp: "203.0.113.10",
            duration: "PT1H",
            justification: "patch sshd",
          },
        },
        cAlice,
      );

    // Without the plan the agent would lock nothing: the policy is refused and nothing is stored.
    ok(await servers("FREE"));
    const refused = await platform.request(SetJitPolicyDocument, { input: policyInput(machine) }, cAdmin);
    expect(errorCode(refused)).toBe("BAD_USER_INPUT");
    expect(refused.errors?.[0]?.message).toContain("SERVERS plan");
    expect(
      await count(`SELECT count(*) AS n FROM protection.jit_policies WHERE resource_id = $1`, [machine]),
    ).toBe(0);
    expect(await policyOf()).toBeNull();

    // With it, the policy is set and enforced: locked ports, a healthy report, an agent that locks them.
    ok(await servers("STANDARD"));
    const set = ok(await platform.request(SetJitPolicyDocument, { input: policyInput(machine) }, cAdmin));
    expect(set.setJitPolicy.enforced).toBe(true);
    expect(set.setJitPolicy.ports.map((p) => p.state)).toEqual(["LOCKED", "LOCKED"]);
    expect(await report()).toMatchObject({ status: "HEALTHY" });
    const pending = ok(await askC()).requestJitAccess;

    // The plan turned off: the policy stays, shown as not enforced; nothing can be opened; the report says why.
    ok(await servers("FREE"));
    const off = await policyOf();
    expect(off).toMatchObject({ enforced: false });
    expect(off?.ports.map((p) => p.state)).toEqual(["NOT_ENFORCED", "NOT_ENFORCED"]);
    expect(await report()).toEqual({
      status: "UNHEALTHY",
      cause:
        "The just-in-time policy for SSH (22/TCP) and RDP (3389/TCP) is not enforced: the SERVERS plan of the machine's account is not on the STANDARD tier, so the agent locks no port.",
    });
    const agent = ok(
      await platform.request(AgentPolicyDocument, { resourceId: machine }, cAgent),
    ).agentPolicy;
    expect(agent).toMatchObject({ covered: false, jit: null });
    const declined = await platform.request(ApproveJitRequestDocument, { id: pending.id }, cBob);
    expect(errorCode(declined)).toBe("CONFLICT");
    expect(declined.errors?.[0]?.message).toContain("not enforced");
    const asked = await askC();
    expect(errorCode(asked)).toBe("BAD_USER_INPUT");
    expect(asked.errors?.[0]?.message).toContain("not enforced");
    expect(
      await count(`SELECT count(*) AS n FROM protection.jit_requests WHERE resource_id = $1`, [machine]),
    ).toBe(1);

    // Back on: enforced again, and the request still pending can be approved.
    ok(await servers("STANDARD"));
    expect(await report()).toMatchObject({ status: "HEALTHY" });
    const approved = ok(await platform.request(ApproveJitRequestDocument, { id: pending.id }, cBob));
    expect(approved.approveJitRequest.status).toBe("APPROVED");
    const on = await policyOf();
    expect(on).toMatchObject({ enforced: true });
    expect(on?.ports.map((p) => p.state)).toEqual(["OPEN", "LOCKED"]);

    // A policy stored before policies recorded their account is judged by the account protection's mirror of
    // the inventory gives its machine (test/protection-resource-accounts.test.ts); where the mirror lacks the
    // machine too, it counts as enforced until its agent polls: the poll records the account posture answers,
    // and from then on the plan decides, report included.
    await admin.query(`UPDATE protection.jit_policies SET account_id = NULL WHERE resource_id = $1`, [
      machine,
    ]);
    await resourceAccountsSynced(platform);
    const mirrored = (
      await admin.query(`DELETE FROM protection.resource_accounts WHERE resource_id = $1 RETURNING *`, [
        machine,
      ])
    ).rows;
    expect(mirrored).toHaveLength(1);
    ok(await servers("FREE"));
    expect(await policyOf()).toMatchObject({ enforced: true });
    expect(await report()).toMatchObject({ status: "HEALTHY" });
    const polled = ok(
      await platform.request(AgentPolicyDocument, { resourceId: machine }, cAgent),
    ).agentPolicy;
    expect(polled).toMatchObject({ covered: false, jit: null });
    expect(
      (await admin.query(`SELECT account_id FROM protection.jit_policies WHERE resource_id = $1`, [machine]))
        .rows[0].account_id,
    ).toBe(seeded.accountIds.azure);
    expect(await policyOf()).toMatchObject({ enforced: false });
    expect(await report()).toMatchObject({ status: "UNHEALTHY" });
    const [row] = mirrored as Array<Record<string, unknown>>;
    await admin.query(
      `INSERT INTO protection.resource_accounts (tenant_id, resource_id, account_id, plan_type) VALUES ($1, $2, $3, $4)`,
      [row.tenant_id, row.resource_id, row.account_id, row.plan_type],
    );
  });

  it("expires a grant on time across a restart of the protection subgraph, exactly once", async () => {
    // Long enough that the old process is surely stopped before the grant ends.
    const grant = await approvedGrant("PT5S");
    const port = platform.subgraphs.protection.port;
    await platform.subgraphs.protection.close();
    // Down past the grant's end: no job runner is alive, so the row is still APPROVED.
    await eventually(async () =>
      (
        await admin.query(
          `SELECT expires_at < now() - interval '1 second' AS past FROM protection.jit_requests WHERE id = $1`,
          [grant.id],
        )
      ).rows[0].past
        ? true
        : undefined,
    );
    expect(
      (await admin.query(`SELECT status FROM protection.jit_requests WHERE id = $1`, [grant.id])).rows[0]
        .status,
    ).toBe("APPROVED");
    // A new process on the same port (the gateway's configuration is unchanged) picks the job up.
    const restarted = await runSubgraph(protectionSubgraph, platform.config, { port });
    extraServers.push(restarted);
    platform.subgraphs.protection = restarted;
    expect((await effective(vm))!.ports[0].activeGrants.map((g) => g.requestId)).not.toContain(grant.id);
    await expiredByJob(grant.id);
    expect(await expiredAudits(grant.id)).toBe(1);
    expect(await expiredEvents(grant.id)).toBe(1);
  });

  it("expires exactly once with two replicas running, and when the expiry runs again", async () => {
    const replica = await runSubgraph(protectionSubgraph, platform.config, { port: 0 });
    extraServers.push(replica);
    const grants = await Promise.all(
      ["203.0.113.21", "203.0.113.22", "203.0.113.23"].map((ip) => approvedGrant("PT2S", ip)),
    );
    for (const grant of grants) await expiredByJob(grant.id);
    // Run the task and the sweep again, concurrently, as a retried job or a third replica would.
    const ds: DataSource = createDataSource({
      subgraph: "protection",
      url: subgraphDatabaseUrl(platform.config, "protection"),
      schema: "protection",
      entities: [],
      poolSize: 4,
      logger: createLogger("test", "silent"),
    });
    await ds.initialize();
    try {
      const tasks = jitTasks(ds, createLogger("test", "silent"));
      const helpers = {} as JobHelpers;
      await Promise.all([
        ...grants.map((g) => tasks[JIT_EXPIRE_TASK]({ tenantId: "tenant-a", requestId: g.id }, helpers)),
        tasks.jit_expiry_sweep({}, helpers),
        tasks.jit_expiry_sweep({}, helpers),
      ]);
    } finally {
      await ds.destroy();
    }
    for (const grant of grants) {
      expect(await expiredAudits(grant.id)).toBe(1);
      expect(await expiredEvents(grant.id)).toBe(1);
    }
  });
});
