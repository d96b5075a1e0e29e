import type { DataSource } from "typeorm";
import {
  AddAppControlRuleDocument,
  AppControlRuleStatesDocument,
  ApproveAppControlRulesDocument,
  DetectionsDocument,
  LearnAppControlDocument,
  RevokeAppControlRulesDocument,
  SetAppControlModeDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { fixture, ingestTelemetry, ndjson, seedMachines } from "./utils/workload";

const WEB_2 = "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6";

describe("application control: revoking approved rules and adding rules by hand", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let ids: Record<string, string>;
  let groupId: string;
  const tokens: Record<string, string> = {};

  const states = async (token = tokens.reader) =>
    ok(await platform.request(AppControlRuleStatesDocument, { id: groupId }, token)).appControlGroup;
  const rule = async (id: string) => (await states())!.rules.nodes.find((r) => r.id === id)!;
  const auditActions = () =>
    inTenant(ds, "tenant-a", async (m) =>
      (
        (await m.query(
          `SELECT action FROM audit_log WHERE action LIKE 'appcontrol.%' ORDER BY id`,
        )) as Array<{
          action: string;
        }>
      ).map((r) => r.action),
    );
  const violations = async () =>
    ok(
      await platform.request(
        DetectionsDocument,
        { filter: { kinds: ["APP_CONTROL_VIOLATION"] }, first: 100 },
        tokens.reader,
      ),
    ).detections.nodes;
  /** One execution of `path` on vm-web-prod-02 a minute ago. */
  const run = (recordId: string, path: string) =>
    ingestTelemetry(
      platform,
      ndjson([
        {
          kind: "process",
          id: recordId,
          resourceId: ids[WEB_2],
          time: new Date(Date.now() - 60_000).toISOString(),
          host: "vm-web-prod-02",
          pid: 4343,
          image: path,
          commandLine: path,
          user: "www-data",
        },
      ]),
      tokens.ingestor,
    );
  const revoke = (ruleIds: string[], reason = "binary replaced by a vendor update", token = tokens.admin) =>
    platform.request(RevokeAppControlRulesDocument, { input: { groupId, ruleIds, reason } }, token);

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    Object.assign(
      tokens,
      await platform.tokens({
        admin: [[Role.ADMIN], "tenant-a"],
        ingestor: [[Role.INGESTOR], "tenant-a"],
        reader: [[Role.READER], "tenant-a"],
        responder: [[Role.RESPONDER], "tenant-a"],
        adminB: [[Role.ADMIN], "tenant-b"],
      }),
    );
    ds = await platform.connect("protection");
    ({ ids } = await seedMachines(platform, "tenant-a"));
    await ingestTelemetry(platform, fixture("process-baseline", ids), tokens.ingestor);
    const learned = ok(
      await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin),
    ).learnAppControl;
    groupId = learned.groups.find((g) => g.machines.some((m) => m?.id === ids[WEB_2]))!.id;
    const all = (await states())!.rules.nodes;
    ok(
      await platform.request(
        ApproveAppControlRulesDocument,
        { input: { groupId, ruleIds: all.map((r) => r.id) } },
        tokens.admin,
      ),
    );
    ok(
      await platform.request(SetAppControlModeDocument, { input: { groupId, mode: "AUDIT" } }, tokens.admin),
    );
    await inTenant(ds, "tenant-a", async (m) => {
      await m.query(`UPDATE app_control_groups SET applied_since = now() - interval '3 days' WHERE id = $1`, [
        groupId,
      ]);
      await m.query(
        `UPDATE app_control_members SET member_since = now() - interval '3 days' WHERE group_id = $1`,
        [groupId],
      );
    });
  }, 120_000);
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("revokes an approved rule: it leaves the allow list, so its executable becomes a violation; audited", async () => {
    const before = (await states())!;
    const target = before.rules.nodes.find((r) => r.kind === "PATH" && r.status === "APPROVED")!;
    expect((await run("allowed-1", target.path)).detections).toBe(0);

    const group = ok(await revoke([target.id])).revokeAppControlRules;
    expect(group).toMatchObject({
      approvedRuleCount: before.approvedRuleCount - 1,
      updatedBy: "tester@example.com",
    });
    expect(await rule(target.id)).toMatchObject({
      status: "REVOKED",
      revokedBy: "tester@example.com",
      revokeReason: "binary replaced by a vendor update",
    });
    expect((await auditActions()).filter((a) => a === "appcontrol.rules.revoked")).toHaveLength(1);

    expect((await run("revoked-1", target.path)).detections).toBe(1);
    expect((await violations()).map((d) => d.evidence.image)).toEqual([target.path]);

    // Revoking again changes nothing (no second audit entry).
    ok(await revoke([target.id]));
    expect((await auditActions()).filter((a) => a === "appcontrol.rules.revoked")).toHaveLength(1);
  });

  it("learning again keeps a revoked rule revoked (same id), never recommended or approved again", async () => {
    const revoked = (await states())!.rules.nodes.filter((r) => r.status === "REVOKED");
    expect(revoked).toHaveLength(1);
    ok(await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin));
    expect(await rule(revoked[0].id)).toMatchObject({
      status: "REVOKED",
      revokeReason: revoked[0].revokeReason,
    });
  });

  it("keeps a group whose rules are all revoked (mode NONE) through learning: its rules stay REVOKED", async () => {
    const DEV = "9f525b04-47c3-487a-9b37-e8d8124d8161";
    const groups = ok(
      await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin),
    ).learnAppControl.groups;
    const dev = groups.find((g) => g.machines.some((m) => m?.id === ids[DEV]))!;
    const devRules = async () =>
      ok(await platform.request(AppControlRuleStatesDocument, { id: dev.id }, tokens.reader)).appControlGroup!
        .rules.nodes;
    const ruleIds = (await devRules()).map((r) => r.id);
    expect(ruleIds.length).toBeGreaterThan(0);
    ok(
      await platform.request(
        ApproveAppControlRulesDocument,
        { input: { groupId: dev.id, ruleIds } },
        tokens.admin,
      ),
    );
    ok(
      await platform.request(
        RevokeAppControlRulesDocument,
        { input: { groupId: dev.id, ruleIds, reason: "not trusted on dev boxes" } },
        tokens.admin,
      ),
    );
    ok(await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin));
    const after = await devRules();
    expect(after.map((r) => r.id).sort()).toEqual([...ruleIds].sort());
    expect(after.every((r) => r.status === "REVOKED")).toBe(true);
  });

  it("refuses a bad revocation whole: unknown rules, no reason, the last approved rule of an applied group", async () => {
    const audit = await auditActions();
    const snapshot = await states();
    const approved = snapshot!.rules.nodes.filter((r) => r.status === "APPROVED");
    const code = async (res: Promise<{ errors?: Array<{ extensions?: { code?: string } }> }>) =>
      (await res).errors?.[0].extensions?.code;
    expect(await code(revoke([approved[0].id, "0190a0a0-0000-7000-8000-000000000000"]))).toBe(
      "BAD_USER_INPUT",
    );
    expect(await code(revoke(["nope"]))).toBe("BAD_USER_INPUT");
    expect(await code(revoke([approved[0].id], "  "))).toBe("BAD_USER_INPUT");
    // In AUDIT, the allow list may not become empty.
    expect(await code(revoke(approved.map((r) => r.id)))).toBe("CONFLICT");
    expect(await code(revoke([approved[0].id], "r", tokens.responder))).toBe("FORBIDDEN");
    // Another tenant's admin does not see the group.
    expect(await code(revoke([approved[0].id], "r", tokens.adminB))).toBe("NOT_FOUND");
    expect(await states()).toEqual(snapshot);
    expect(await auditActions()).toEqual(audit);
  });

  it("adds rules by hand (PATH, PUBLISHER, HASH), approved at once; validates kind-specific fields", async () => {
    const added = ok(
      await platform.request(
        AddAppControlRuleDocument,
        { input: { groupId, kind: "PATH", path: "/opt/agent/bin/collector" } },
        tokens.admin,
      ),
    ).addAppControlRule;
    expect(added).toMatchObject({
      status: "APPROVED",
      origin: "MANUAL",
      approvedBy: "tester@example.com",
      machineCount: 0,
    });
    expect((await run("manual-1", "/opt/agent/bin/collector")).detections).toBe(0);
    const hash = ok(
      await platform.request(
        AddAppControlRuleDocument,
        { input: { groupId, kind: "HASH", path: "/tmp/tool", sha256: "AB".repeat(32) } },
        tokens.admin,
      ),
    ).addAppControlRule;
    expect(hash.sha256).toBe("ab".repeat(32));
    ok(
      await platform.request(
        AddAppControlRuleDocument,
        { input: { groupId, kind: "PUBLISHER", path: "C:\\Tools\\x.exe", publisher: "Contoso Ltd" } },
        tokens.admin,
      ),
    );
    // Adding the same rule again approves it again: no second rule.
    const again = ok(
      await platform.request(
        AddAppControlRuleDocument,
        { input: { groupId, kind: "PATH", path: "/opt/agent/bin/collector" } },
        tokens.admin,
      ),
    ).addAppControlRule;
    expect(again.id).toBe(added.id);
    // The group's id in upper case names the same group, and so the same rule.
    const shouted = ok(
      await platform.request(
        AddAppControlRuleDocument,
        { input: { groupId: groupId.toUpperCase(), kind: "PATH", path: "/opt/agent/bin/collector" } },
        tokens.admin,
      ),
    ).addAppControlRule;
    expect(shouted.id).toBe(added.id);
    expect((await states())!.rules.nodes.filter((r) => r.origin === "MANUAL")).toHaveLength(3);
    // Learning again keeps them.
    ok(await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin));
    expect(await rule(added.id)).toMatchObject({ status: "APPROVED", origin: "MANUAL" });

    const bad = async (input: Record<string, unknown>, token = tokens.admin) =>
      (
        await platform.request(
          AddAppControlRuleDocument,
          { input: { groupId, kind: "PATH", path: "/x", ...input } as never },
          token,
        )
      ).errors?.[0].extensions?.code;
    expect(await bad({ kind: "HASH", sha256: "xyz" })).toBe("BAD_USER_INPUT");
    expect(await bad({ kind: "PUBLISHER" })).toBe("BAD_USER_INPUT");
    expect(await bad({ kind: "PATH", publisher: "Contoso" })).toBe("BAD_USER_INPUT");
    expect(await bad({ path: " " })).toBe("BAD_USER_INPUT");
    expect(await bad({ groupId: "0190a0a0-0000-7000-8000-000000000000" })).toBe("NOT_FOUND");
    expect(await bad({}, tokens.adminB)).toBe("NOT_FOUND");
    expect(await bad({}, tokens.responder)).toBe("FORBIDDEN");
  });

  it("approves a revoked rule again only when an admin asks", async () => {
    const revoked = (await states())!.rules.nodes.find((r) => r.status === "REVOKED")!;
    ok(
      await platform.request(
        ApproveAppControlRulesDocument,
        { input: { groupId, ruleIds: [revoked.id] } },
        tokens.admin,
      ),
    );
    expect(await rule(revoked.id)).toMatchObject({ status: "APPROVED", revokedBy: null, revokeReason: null });
  });
});
