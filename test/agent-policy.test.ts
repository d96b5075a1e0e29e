import { readFileSync } from "node:fs";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { parse } from "graphql";
import type { DataSource } from "typeorm";
import {
  AgentPolicyApprovedRulesDocument,
  AgentPolicyDocument,
  AppControlRuleStatesDocument,
  ApproveAppControlRulesDocument,
  ApproveJitRequestDocument,
  LearnAppControlDocument,
  RequestJitAccessDocument,
  RevokeJitRequestDocument,
  SetAppControlModeDocument,
  SetFimWatchedPathsDocument,
  SetJitPolicyDocument,
  SetPlanDocument,
  type AgentPolicyQuery,
} from "./__generated__/graphql";
import { inTenant, Role, sqlStatementCount } from "../subgraphs/common/src";
import { codes } from "./utils/errors";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { fixture, ingestTelemetry, seedMachines } from "./utils/workload";

const WEB_2 = "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6";
const SUBGRAPHS = ["posture", "protection", "siem"] as const;

/**
 * What a machine's agent pulls: the JIT ports and open grants, the application-control mode and approved rules,
 * the FIM watch list, an etag that moves exactly when any of them does, and when to poll again.
 */
describe("agentPolicy: a machine's effective protection policy for its agent", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let vm: string;
  let storage: string;
  let accountId: string;
  let groupId: string;
  let held: { id: string; kind: string; path: string; publisher?: string | null }; // a rule left RECOMMENDED
  let grantId: string;
  let grantUntil: string;
  const tokens: Record<string, string> = {};

  const read = (id = vm, token = tokens.ingestor) =>
    platform.request(AgentPolicyDocument, { resourceId: id }, token);
  const policy = async (id = vm, token = tokens.ingestor) => ok(await read(id, token)).agentPolicy;
  const ask = async (sourceIp: string, ports = [22]) =>
    ok(
      await platform.request(
        RequestJitAccessDocument,
        { input: { resourceId: vm, ports, sourceIp, duration: "PT1H", justification: "patch sshd" } },
        tokens.alice,
      ),
    ).requestJitAccess.id;
  const approve = async (id: string) =>
    ok(await platform.request(ApproveJitRequestDocument, { id }, tokens.bob)).approveJitRequest;
  const watch = (paths: Array<{ path: string; recursive?: boolean; critical?: boolean }>) =>
    platform.request(SetFimWatchedPathsDocument, { input: { groupId, paths } }, tokens.admin);
  const setExpiry = (requestId: string, sql: string) =>
    inTenant(ds, "tenant-a", (m) =>
      m.query(`UPDATE jit_requests SET expires_at = ${sql} WHERE id = $1`, [requestId]),
    );
  const statements = async (run: () => Promise<void>) => {
    const before = await Promise.all(SUBGRAPHS.map(sqlStatementCount));
    await run();
    const after = await Promise.all(SUBGRAPHS.map(sqlStatementCount));
    return Object.fromEntries(SUBGRAPHS.map((s, i) => [s, after[i] - before[i]]));
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    Object.assign(
      tokens,
      await platform.tokens({
        admin: [[Role.ADMIN], "tenant-a"],
        ingestor: [[Role.INGESTOR], "tenant-a"],
        reader: [[Role.READER], "tenant-a"],
        none: [[], "tenant-a"],
        ingestorB: [[Role.INGESTOR], "tenant-b"],
        adminB: [[Role.ADMIN], "tenant-b"],
      }),
    );
    tokens.alice = await platform.token([Role.RESPONDER], "tenant-a", "alice@example.com");
    tokens.bob = await platform.token([Role.RESPONDER], "tenant-a", "bob@example.com");
    ds = await platform.connect("protection");
    const seeded = await seedMachines(platform, "tenant-a", (account) => [
      {
        accountId: account,
        externalId: "/agent-policy/storage",
        type: "Microsoft.Storage/storageAccounts",
        name: "st",
      },
    ]);
    vm = seeded.ids[WEB_2];
    storage = seeded.byName.st;
    accountId = seeded.accountId;
    await ingestTelemetry(platform, fixture("process-baseline", seeded.ids), tokens.ingestor);
    const learned = ok(
      await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin),
    ).learnAppControl;
    groupId = learned.groups.find((g) => g.machines.some((m) => m?.id === vm))!.id;
    const rules = ok(await platform.request(AppControlRuleStatesDocument, { id: groupId }, tokens.admin))
      .appControlGroup!.rules.nodes;
    expect(rules.length).toBeGreaterThan(2);
    held = rules[rules.length - 1];
    ok(
      await platform.request(
        ApproveAppControlRulesDocument,
        { input: { groupId, ruleIds: rules.slice(0, -1).map((r) => r.id) } },
        tokens.admin,
      ),
    );
    ok(
      await platform.request(
        SetAppControlModeDocument,
        { input: { groupId, mode: "ENFORCE" } },
        tokens.admin,
      ),
    );
    // A JIT policy is set, and access granted, only while the plan covers the machine; it is off again below.
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId, planType: "SERVERS", tier: "STANDARD" } },
        tokens.admin,
      ),
    );
    ok(
      await platform.request(
        SetJitPolicyDocument,
        {
          input: {
            resourceId: vm,
            ports: [
              { number: 3389, protocol: "ANY", allowedSourcePrefixes: ["*"], maxDuration: "PT3H" },
              { number: 22, protocol: "TCP", allowedSourcePrefixes: ["203.0.113.0/24"], maxDuration: "PT3H" },
            ],
          },
        },
        tokens.admin,
      ),
    );
    grantId = await ask("203.0.113.10");
    grantUntil = (await approve(grantId)).expiresAt!;
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId, planType: "SERVERS", tier: "FREE" } },
        tokens.admin,
      ),
    );
    ok(
      await watch([
        { path: "/etc/passwd" },
        { path: "/var/www/shop/public", recursive: true },
        { path: "/etc/nginx", recursive: true, critical: false },
      ]),
    );
  }, 120_000);
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("is empty with covered: false until the SERVERS plan covers the machine", async () => {
    const uncovered = await policy();
    expect(uncovered).toMatchObject({
      resourceId: vm,
      covered: false,
      jit: null,
      applicationControl: null,
      fileIntegrity: null,
      refreshAfterSeconds: 300,
    });
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId, planType: "SERVERS", tier: "STANDARD" } },
        tokens.admin,
      ),
    );
    const covered = await policy();
    expect(covered.covered).toBe(true);
    expect(covered.etag).not.toBe(uncovered.etag);
    // A storage account is never covered by SERVERS, whatever its account's plans.
    expect(await policy(storage)).toMatchObject({ covered: false, jit: null, fileIntegrity: null });
  });

  it("gives an INGESTOR exactly the JIT, application-control and FIM policy set for the machine", async () => {
    const approved = ok(
      await platform.request(AgentPolicyApprovedRulesDocument, { id: groupId }, tokens.admin),
    ).appControlGroup!.rules.nodes;
    const got = await policy();
    expect(got.jit).toEqual({
      ports: [
        { number: 22, protocol: "TCP", locked: false },
        { number: 3389, protocol: "ANY", locked: true },
      ],
      grants: [
        { requestId: grantId, sourcePrefix: "203.0.113.10/32", port: 22, protocol: "TCP", until: grantUntil },
      ],
    });
    expect(got.applicationControl).toMatchObject({ groupId, mode: "ENFORCE" });
    // Exactly the approved rules: the one left RECOMMENDED is not in the allow list.
    const key = (r: { kind: string; path: string; publisher?: string | null; sha256?: string | null }) =>
      JSON.stringify([r.kind, r.path, r.publisher ?? null, r.sha256 ?? null]);
    expect(approved.length).toBeGreaterThan(1);
    expect(got.applicationControl!.rules.map(key).sort()).toEqual(approved.map(key).sort());
    expect(got.applicationControl!.rules.map(key)).not.toContain(key(held));
    expect(got.fileIntegrity).toEqual({
      source: "GROUP",
      paths: [
        { path: "/etc/passwd", recursive: false, critical: true },
        { path: "/var/www/shop/public", recursive: true, critical: true },
        { path: "/etc/nginx", recursive: true, critical: false },
      ],
    });
    // The grant ends within the hour: that is when the agent must ask again, at most 300 s from now.
    expect(got.refreshAfterSeconds).toBe(300);
  });

  it("keeps the etag while nothing changes and moves it when any part does", async () => {
    const first = await policy();
    expect((await policy()).etag).toBe(first.etag);
    expect((await policy(vm, tokens.reader)).etag).toBe(first.etag);

    const etags = [first.etag];
    const changed = async () => {
      const { etag } = await policy();
      expect(etags).not.toContain(etag);
      etags.push(etag);
    };
    ok(await watch([{ path: "/etc/passwd" }, { path: "/etc/shadow" }]));
    await changed();
    ok(
      await platform.request(
        ApproveAppControlRulesDocument,
        { input: { groupId, ruleIds: [held.id] } },
        tokens.admin,
      ),
    );
    await changed();
    ok(
      await platform.request(SetAppControlModeDocument, { input: { groupId, mode: "AUDIT" } }, tokens.admin),
    );
    await changed();
    await approve(await ask("203.0.113.20", [22, 3389]));
    await changed();
    // Setting the same watch list again changes nothing the agent enforces.
    const now = (await policy()).etag;
    ok(await watch([{ path: "/etc/passwd" }, { path: "/etc/shadow" }]));
    expect((await policy()).etag).toBe(now);
  });

  it("drops expired and revoked grants and asks the agent back at the next expiry", async () => {
    const before = await policy();
    const others = before.jit!.grants.filter((g) => g.requestId !== grantId);
    expect(others.map((g) => g.port)).toEqual([22, 3389]);
    const next = others[0].requestId;
    await setExpiry(grantId, `now() - interval '1 second'`);
    await setExpiry(next, `now() + interval '90 seconds'`);

    const after = await policy();
    expect(after.jit!.grants.map((g) => [g.requestId, g.port])).toEqual([
      [next, 22],
      [next, 3389],
    ]);
    expect(after.jit!.ports.every((p) => !p.locked)).toBe(true);
    expect(after.etag).not.toBe(before.etag);
    // Computed from the database's clock at the read: the next end is 90 s after the update, a moment ago.
    expect(after.refreshAfterSeconds).toBeLessThanOrEqual(90);
    expect(after.refreshAfterSeconds).toBeGreaterThan(30);

    ok(await platform.request(RevokeJitRequestDocument, { id: next, reason: "done" }, tokens.alice));
    const revoked = await policy();
    expect(revoked.jit).toEqual({
      ports: [
        { number: 22, protocol: "TCP", locked: true },
        { number: 3389, protocol: "ANY", locked: true },
      ],
      grants: [],
    });
    expect(revoked.refreshAfterSeconds).toBe(300);
  });

  it("answers NOT_FOUND for a machine the tenant's inventory lacks, another tenant's included", async () => {
    expect(codes(await read(vm, tokens.ingestorB))).toEqual(["NOT_FOUND"]);
    expect(codes(await read(vm, tokens.adminB))).toEqual(["NOT_FOUND"]);
    expect(codes(await read("0190a0a0-0000-7000-8000-000000000000"))).toEqual(["NOT_FOUND"]);
    expect(codes(await read("not-a-machine"))).toEqual(["NOT_FOUND"]);
    // The same machine, asked by its own tenant: the refusals above are about the tenant, not the call.
    expect((await policy()).resourceId).toBe(vm);
  });

  it("serves INGESTOR and every reader, and no caller without a role", async () => {
    for (const token of [tokens.ingestor, tokens.reader, tokens.alice, tokens.admin])
      expect((await policy(vm, token)).covered).toBe(true);
    expect(codes(await read(vm, tokens.none))).toEqual(["FORBIDDEN"]);
  });

  it("reads the policy in a fixed number of statements, whatever the number of paths and rules", async () => {
    const small = await statements(async () => void (await policy()));
    // The list grows in the test's own rows: a mutation would also start relays that query meanwhile.
    const paths = Array.from({ length: 150 }, (_, i) => ({
      path: `/srv/app/${i}`,
      recursive: true,
      critical: i % 2 === 0,
    }));
    await inTenant(ds, "tenant-a", (m) =>
      m.query(`UPDATE fim_watch_lists SET paths = $2 WHERE group_id = $1`, [groupId, JSON.stringify(paths)]),
    );
    const large = await statements(async () => {
      expect((await policy()).fileIntegrity!.paths).toHaveLength(150);
    });
    // protection: BEGIN, set tenant, the one policy statement, COMMIT; posture answers whether the machine exists.
    expect(small.protection).toBe(4);
    expect(large).toEqual(small);
  });

  it("runs the example of docs/api.md", async () => {
    const block = /```graphql\n(query AgentPolicy[\s\S]*?)```/.exec(readFileSync("docs/api.md", "utf8"))?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<
      { agentPolicy: Pick<AgentPolicyQuery["agentPolicy"], "etag" | "refreshAfterSeconds" | "covered"> },
      { machine: string }
    >;
    const answer = ok(await platform.request(doc, { machine: vm }, tokens.ingestor)).agentPolicy;
    expect(answer).toMatchObject({ covered: true, etag: (await policy()).etag });
  });
});
