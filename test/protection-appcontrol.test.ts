import type { DataSource } from "typeorm";
import {
  AppControlGroupDocument,
  AppControlGroupsDocument,
  AppControlRulesPageDocument,
  ApproveAppControlRulesDocument,
  DetectionsDocument,
  LearnAppControlDocument,
  ProtectionReportsDocument,
  ResourceAppControlDocument,
  SetAppControlModeDocument,
  type PlanTier,
  SetPlanDocument,
  WorkloadAlertsDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { eventually, fixture, ingestTelemetry, ndjson, seedMachines, shifted } from "./utils/workload";

const WEB_2 = "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6";
const DEV = "9f525b04-47c3-487a-9b37-e8d8124d8161";

describe("adaptive application control: learning, approval, modes, violations as alerts", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let ids: Record<string, string>;
  let byName: Record<string, string>;
  let accountId: string;
  const tokens: Record<string, string> = {};
  let webGroupId: string;

  const groups = async (token = tokens.reader) =>
    ok(await platform.request(AppControlGroupsDocument, { first: 100 }, token)).appControlGroups;
  const group = async (id: string, token = tokens.reader) =>
    ok(await platform.request(AppControlGroupDocument, { id }, token)).appControlGroup;
  const violations = async (token = tokens.reader) =>
    ok(
      await platform.request(
        DetectionsDocument,
        { filter: { kinds: ["APP_CONTROL_VIOLATION"] }, first: 100 },
        token,
      ),
    ).detections.nodes;
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

  /** A run of a miner the web group's allow list does not allow, on vm-web-prod-02 at `time`. */
  const xmrig = (id: string, time: string) => ({
    kind: "process",
    id,
    resourceId: ids[WEB_2],
    time,
    host: "vm-web-prod-02",
    pid: 4242,
    image: "/tmp/xmrig",
    commandLine: "/tmp/xmrig -o pool.example.net:3333",
    user: "www-data",
    sha256: "ab".repeat(32),
  });

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    Object.assign(
      tokens,
      await platform.tokens({
        admin: [[Role.ADMIN], "tenant-a"],
        ingestor: [[Role.INGESTOR], "tenant-a"],
        reader: [[Role.READER], "tenant-a"],
        adminB: [[Role.ADMIN], "tenant-b"],
        readerB: [[Role.READER], "tenant-b"],
      }),
    );
    ds = await platform.connect("protection");
    ({ ids, byName, accountId } = await seedMachines(platform, "tenant-a"));
    await ingestTelemetry(platform, fixture("process-baseline", ids), tokens.ingestor);
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("learns groups of similar machines from a week of process executions, with rules and their prevalence", async () => {
    const learned = ok(
      await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin),
    ).learnAppControl;
    expect(learned).toMatchObject({ machineCount: 5, skippedMachineCount: 0, keptGroupCount: 0 });
    expect(learned.groups.map((g) => [g.name, g.machines.map((m) => m?.name).sort(), g.mode])).toEqual([
      ["ci-runner-02", ["ci-runner-02"], "NONE"],
      ["vm-dev-02", ["vm-dev-02"], "NONE"],
      ["vm-jump-01", ["vm-jump-01"], "NONE"],
      ["vm-web-prod-01, vm-web-prod-02", ["vm-web-prod-01", "vm-web-prod-02"], "NONE"],
    ]);
    const web = learned.groups[3];
    webGroupId = web.id;
    const detail = (await group(web.id))!;
    const rules = detail.rules.nodes.map((r) => [r.kind, r.path, r.prevalence, r.machineCount, r.status]);
    expect(rules).toEqual([
      ["PATH", "/usr/bin/apt-get", 1, 2, "RECOMMENDED"],
      ["PATH", "/usr/bin/dash", 1, 2, "RECOMMENDED"],
      ["PATH", "/usr/bin/node", 1, 2, "RECOMMENDED"],
      ["PATH", "/usr/lib/systemd/systemd", 1, 2, "RECOMMENDED"],
      ["PATH", "/usr/sbin/logrotate", 1, 2, "RECOMMENDED"],
      ["PATH", "/usr/sbin/nginx", 1, 2, "RECOMMENDED"],
      ["PATH", "/usr/bin/gzip", 0.5, 1, "RECOMMENDED"],
    ]);
    const nginx = detail.rules.nodes.find((r) => r.path === "/usr/sbin/nginx")!;
    expect(nginx).toMatchObject({
      sha256: "76f1baaae2b80faf6d363fc1c335ea3bde16c24f3997d307533e8b639973d34a",
      executionCount: 14,
      publisher: null,
    });
    // Signed Windows executables get publisher rules.
    const dev = learned.groups.find((g) => g.name === "vm-dev-02")!;
    const devRules = (await group(dev.id))!.rules.nodes;
    expect(devRules.find((r) => r.path.endsWith("git.exe"))).toMatchObject({
      kind: "PUBLISHER",
      publisher: "Johannes Schindelin",
      prevalence: 1,
    });
    expect(detail.fimWatchList.source).toBe("DEFAULT");
    const resource = ok(
      await platform.request(ResourceAppControlDocument, { id: byName["vm-web-prod-02"] }, tokens.reader),
    ).resource!;
    expect(resource.appControlGroup).toMatchObject({ id: web.id, mode: "NONE" });
    const none = ok(
      await platform.request(ResourceAppControlDocument, { id: byName["app-euw1-01"] }, tokens.reader),
    ).resource!;
    expect(none.appControlGroup).toBeNull();
  });

  it("learns the same groups, rules and ids from the same executions", async () => {
    const before = await groups();
    const again = ok(await platform.request(LearnAppControlDocument, {}, tokens.admin)).learnAppControl;
    expect(again.groups.map((g) => g.id)).toEqual(before.nodes.map((g) => g.id));
    const after = await groups();
    expect(after.nodes.map((g) => g.rules.nodes.map((r) => [r.id, r.prevalence]))).toEqual(
      before.nodes.map((g) => g.rules.nodes.map((r) => [r.id, r.prevalence])),
    );
  });

  it("pages groups and rules with cursors", async () => {
    const first = ok(
      await platform.request(AppControlGroupsDocument, { first: 2 }, tokens.reader),
    ).appControlGroups;
    expect(first.totalCount).toBe(4);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = ok(
      await platform.request(
        AppControlGroupsDocument,
        { first: 2, after: first.pageInfo.endCursor },
        tokens.reader,
      ),
    ).appControlGroups;
    expect([...first.nodes, ...rest.nodes].map((g) => g.name)).toEqual(
      (await groups()).nodes.map((g) => g.name),
    );
    const page1 = ok(
      await platform.request(AppControlRulesPageDocument, { id: webGroupId, first: 4 }, tokens.reader),
    ).appControlGroup!.rules;
    const page2 = ok(
      await platform.request(
        AppControlRulesPageDocument,
        { id: webGroupId, first: 4, after: page1.pageInfo.endCursor },
        tokens.reader,
      ),
    ).appControlGroup!.rules;
    expect(page1.totalCount).toBe(7);
    expect([...page1.nodes, ...page2.nodes].map((r) => r.id)).toEqual(
      (await group(webGroupId))!.rules.nodes.map((r) => r.id),
    );
    expect(page2.pageInfo.hasNextPage).toBe(false);
  });

  it("refuses bad input with typed errors and changes nothing", async () => {
    const before = await groups();
    const audit = await auditActions();
    const badWindow = await platform.request(
      LearnAppControlDocument,
      { input: { window: "P1Y" } },
      tokens.admin,
    );
    expect(badWindow.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [{ field: "window", message: expect.stringMatching(/ISO 8601/) }],
    });
    const otherGroupRule = (await group(before.nodes[0].id))!.rules.nodes[0].id;
    const webRule = (await group(webGroupId))!.rules.nodes[0].id;
    const unknown = await platform.request(
      ApproveAppControlRulesDocument,
      { input: { groupId: webGroupId, ruleIds: [webRule, otherGroupRule, "not-a-uuid"] } },
      tokens.admin,
    );
    expect(unknown.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [{ index: 2, field: "ruleIds", message: "must be a rule id (UUID)" }],
    });
    const foreign = await platform.request(
      ApproveAppControlRulesDocument,
      { input: { groupId: webGroupId, ruleIds: [webRule, otherGroupRule] } },
      tokens.admin,
    );
    expect(foreign.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [{ index: 1, field: "ruleIds", message: "no such rule in this group" }],
    });
    const missing = await platform.request(
      SetAppControlModeDocument,
      { input: { groupId: "00000000-0000-4000-8000-000000000000", mode: "AUDIT" } },
      tokens.admin,
    );
    expect(missing.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    const noRules = await platform.request(
      SetAppControlModeDocument,
      { input: { groupId: webGroupId, mode: "ENFORCE" } },
      tokens.admin,
    );
    expect(noRules.errors?.[0].extensions?.code).toBe("CONFLICT");
    const reader = await platform.request(LearnAppControlDocument, {}, tokens.reader);
    expect(reader.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const after = await groups();
    expect(after.nodes.map((g) => [g.id, g.mode, g.approvedRuleCount])).toEqual(
      before.nodes.map((g) => [g.id, g.mode, g.approvedRuleCount]),
    );
    expect(await auditActions()).toEqual(audit);
  });

  it("keeps tenants apart: another tenant sees no groups and cannot change this one's", async () => {
    expect((await groups(tokens.readerB)).totalCount).toBe(0);
    expect(await group(webGroupId, tokens.readerB)).toBeNull();
    const rule = (await group(webGroupId))!.rules.nodes[0].id;
    const approve = await platform.request(
      ApproveAppControlRulesDocument,
      { input: { groupId: webGroupId, ruleIds: [rule] } },
      tokens.adminB,
    );
    expect(approve.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    const learned = ok(await platform.request(LearnAppControlDocument, {}, tokens.adminB)).learnAppControl;
    expect(learned.groups).toEqual([]);
    expect((await group(webGroupId))!.approvedRuleCount).toBe(0);
  });

  it("reports the machines' application control to posture: unhealthy until the allow list is applied", async () => {
    const report = async (name: string) =>
      ok(
        await platform.request(ProtectionReportsDocument, { id: byName[name] }, tokens.reader),
      ).resource!.assessments.nodes.find((a) => a.definitionId === "protection/app-control");
    await eventually(
      "posture has the app-control reports",
      async () => (await report("vm-web-prod-01"))?.status === "UNHEALTHY",
    );
    expect((await report("vm-web-prod-01"))!.cause).toBe(
      'Group "vm-web-prod-01, vm-web-prod-02" has 7 recommended rules but no allow list in AUDIT or ENFORCE mode.',
    );
    expect(await report("app-euw1-01")).toBeUndefined();
  });

  it("approves rules, audits the allow list: executions outside it are violations delivered to the SIEM", async () => {
    const rules = (await group(webGroupId))!.rules.nodes;
    const approved = ok(
      await platform.request(
        ApproveAppControlRulesDocument,
        { input: { groupId: webGroupId, ruleIds: rules.map((r) => r.id) } },
        tokens.admin,
      ),
    ).approveAppControlRules;
    expect(approved).toMatchObject({ approvedRuleCount: 7, recommendedRuleCount: 0, mode: "NONE" });
    const detail = (await group(webGroupId))!;
    expect(
      detail.rules.nodes.every((r) => r.status === "APPROVED" && r.approvedBy === "tester@example.com"),
    ).toBe(true);
    // Approving again changes nothing.
    ok(
      await platform.request(
        ApproveAppControlRulesDocument,
        { input: { groupId: webGroupId, ruleIds: [rules[0].id] } },
        tokens.admin,
      ),
    );
    const audit = ok(
      await platform.request(
        SetAppControlModeDocument,
        { input: { groupId: webGroupId, mode: "AUDIT" } },
        tokens.admin,
      ),
    ).setAppControlMode;
    expect(audit).toMatchObject({ mode: "AUDIT", updatedBy: "tester@example.com" });
    // The story's executions (yesterday) ran under this allow list: its machines were grouped and it applied
    // before them.
    await inTenant(ds, "tenant-a", async (m) => {
      await m.query(`UPDATE app_control_groups SET applied_since = now() - interval '3 days' WHERE id = $1`, [
        webGroupId,
      ]);
      await m.query(
        `UPDATE app_control_members SET member_since = now() - interval '3 days' WHERE group_id = $1`,
        [webGroupId],
      );
    });
    expect(await auditActions()).toEqual(
      expect.arrayContaining(["appcontrol.learned", "appcontrol.rules.approved", "appcontrol.mode.set"]),
    );
    expect((await auditActions()).filter((a) => a === "appcontrol.rules.approved")).toHaveLength(1);

    const story = await ingestTelemetry(platform, fixture("process", ids), tokens.ingestor);
    expect(story.detections).toBeGreaterThan(0);
    const found = await violations();
    expect(found.map((d) => [d.resource?.name, d.evidence.image]).sort()).toEqual([
      ["vm-web-prod-01", "/usr/sbin/useradd"],
      ["vm-web-prod-02", "/tmp/.ICE-unix/kinsing"],
    ]);
    const kinsing = found.find((d) => d.resource?.name === "vm-web-prod-02")!;
    expect(kinsing).toMatchObject({
      title: "Executable not allowed by application control ran on vm-web-prod-02",
      severity: "MEDIUM",
      techniques: ["T1204"],
    });
    expect(kinsing.evidence.executions).toBe(3);
    // vm-dev-02's group is not applied: mimikatz.exe is a credential-dumping alert, not an app-control one.
    expect(found.some((d) => d.resourceId === ids[DEV])).toBe(false);

    await eventually("the violations reached the SIEM", async () => {
      const alerts = ok(await platform.request(WorkloadAlertsDocument, {}, tokens.reader)).alerts.nodes;
      return found.every((d) =>
        alerts.some((a) => a.sourceId === d.sourceId && a.provider === "WORKLOAD_PROTECTION"),
      );
    });
    const alerts = ok(await platform.request(WorkloadAlertsDocument, {}, tokens.reader)).alerts.nodes;
    expect(alerts.find((a) => a.sourceId === kinsing.sourceId)).toMatchObject({
      title: kinsing.title,
      resource: { name: "vm-web-prod-02" },
    });
  });

  it("reports the applied allow list to posture as healthy only while a plan covers the machine", async () => {
    const appControl = async () =>
      ok(
        await platform.request(ProtectionReportsDocument, { id: byName["vm-web-prod-02"] }, tokens.reader),
      ).resource!.assessments.nodes.find((a) => a.definitionId === "protection/app-control");
    const setServers = async (tier: PlanTier) =>
      ok(
        await platform.request(
          SetPlanDocument,
          { input: { accountId, planType: "SERVERS", tier } },
          tokens.admin,
        ),
      );
    // The account's SERVERS plan is FREE: the agent gets no allow list, so the audit mode protects nothing.
    await eventually(
      "posture shows the uncovered web tier unhealthy",
      async () => (await appControl())?.cause?.includes("AUDIT mode, but") ?? false,
    );
    expect(await appControl()).toMatchObject({
      status: "UNHEALTHY",
      cause:
        'Group "vm-web-prod-01, vm-web-prod-02" has an allow list in AUDIT mode, but the SERVERS plan of the machine\'s account is not on the STANDARD tier, so its agent receives no allow list to apply.',
    });
    // STANDARD covers the machine (protection's mirror of the inventory knows its account): healthy.
    await setServers("STANDARD");
    await eventually(
      "posture shows the web tier healthy",
      async () => (await appControl())?.status === "HEALTHY",
    );
    expect((await appControl())!.cause).toBe(
      'Group "vm-web-prod-01, vm-web-prod-02" applies an allow list of 7 approved rules in AUDIT mode.',
    );
    // Back to FREE: unhealthy again; then STANDARD for the rest of the story.
    await setServers("FREE");
    await eventually(
      "posture shows the web tier unhealthy again",
      async () => (await appControl())?.status === "UNHEALTHY",
    );
    await setServers("STANDARD");
    await eventually(
      "posture shows the web tier healthy again",
      async () => (await appControl())?.status === "HEALTHY",
    );
  });

  it("relearning keeps a configured group with its approved rules and recommends what it newly ran", async () => {
    const learned = ok(
      await platform.request(LearnAppControlDocument, { input: { window: "P14D" } }, tokens.admin),
    ).learnAppControl;
    expect(learned.keptGroupCount).toBe(1);
    const web = learned.groups.find((g) => g.id === webGroupId)!;
    expect(web).toMatchObject({ mode: "AUDIT", approvedRuleCount: 7 });
    const recommended = (await group(webGroupId))!.rules.nodes.filter((r) => r.status === "RECOMMENDED");
    expect(recommended.map((r) => [r.kind, r.path, r.prevalence])).toEqual([
      ["HASH", "/tmp/.ICE-unix/kinsing", 0.5],
      ["PATH", "/usr/sbin/useradd", 0.5],
    ]);
  });

  it("ENFORCE also alerts; back to NONE the group judges nothing", async () => {
    const run = (id: string, storyTime: string) => xmrig(id, shifted(storyTime));
    ok(
      await platform.request(
        SetAppControlModeDocument,
        { input: { groupId: webGroupId, mode: "ENFORCE" } },
        tokens.admin,
      ),
    );
    expect(
      (await ingestTelemetry(platform, ndjson([run("xmrig-1", "2025-01-15T15:10:00Z")]), tokens.ingestor))
        .detections,
    ).toBe(1);
    ok(
      await platform.request(
        SetAppControlModeDocument,
        { input: { groupId: webGroupId, mode: "NONE" } },
        tokens.admin,
      ),
    );
    expect(
      (await ingestTelemetry(platform, ndjson([run("xmrig-2", "2025-01-15T17:10:00Z")]), tokens.ingestor))
        .detections,
    ).toBe(0);
    expect((await violations()).filter((d) => d.resourceId === ids[WEB_2])).toHaveLength(2);
  });

  it("does not judge executions from before the allow list applied, which an agent uploads late", async () => {
    ok(
      await platform.request(
        SetAppControlModeDocument,
        { input: { groupId: webGroupId, mode: "AUDIT" } },
        tokens.admin,
      ),
    );
    // Yesterday the group was in NONE: that run was under no allow list.
    expect(
      (
        await ingestTelemetry(
          platform,
          ndjson([xmrig("xmrig-late", shifted("2025-01-15T18:10:00Z"))]),
          tokens.ingestor,
        )
      ).detections,
    ).toBe(0);
    expect(
      (
        await ingestTelemetry(
          platform,
          ndjson([xmrig("xmrig-now", new Date().toISOString())]),
          tokens.ingestor,
        )
      ).detections,
    ).toBe(1);
  });
});
