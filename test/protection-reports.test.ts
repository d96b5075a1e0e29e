import { readdirSync, readFileSync } from "node:fs";
import type { DataSource } from "typeorm";
import {
  ImportAdvisoriesDocument,
  ProtectionReportsDocument,
  RecommendationsDocument,
  RemoveJitPolicyDocument,
  ResourceVulnerabilitiesDocument,
  SecureScoreDocument,
  SetJitPolicyDocument,
  SetPlanDocument,
} from "./__generated__/graphql";
import { inSystemScope, inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { VA_NOT_COVERED_CAUSE } from "../subgraphs/protection/src/modules/reports/sync";
import { eventually, fixture, ingestTelemetry, ndjson, seedMachines, shifted } from "./utils/workload";

const CI = "8708e8d1-b175-4ff3-bc87-d6f2d3d84d86";
const advisories = readdirSync("test/fixtures/protection/osv")
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(`test/fixtures/protection/osv/${f}`, "utf8")) as unknown);

type Report = { definitionId: string; status: string; cause?: string | null };

describe("reports to posture: vulnerabilities, system updates and management ports as assessments", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let ids: Record<string, string>;
  let byName: Record<string, string>;
  let accountId: string;
  const tokens: Record<string, string> = {};

  /** The protection assessments posture holds for a machine, by definition key. */
  const reports = async (
    name: string,
    token = tokens.reader,
    names = byName,
  ): Promise<Record<string, Report>> => {
    const resource = ok(
      await platform.request(ProtectionReportsDocument, { id: names[name] }, token),
    ).resource;
    return Object.fromEntries((resource?.assessments.nodes ?? []).map((a) => [a.definitionId, a]));
  };
  const statusOf = async (name: string, key: string, token = tokens.reader, names = byName) =>
    (await reports(name, token, names))[`protection/${key}`]?.status;
  const control = async (id: string, token = tokens.reader) =>
    ok(await platform.request(SecureScoreDocument, {}, token)).secureScore.controls.find(
      (c) => c.control.id === id,
    )!;
  const sshPolicy = (resourceId: string) => ({
    input: {
      resourceId,
      ports: [
        {
          number: 22,
          protocol: "TCP" as const,
          allowedSourcePrefixes: ["203.0.113.0/24"],
          maxDuration: "PT3H",
        },
      ],
    },
  });
  const pendingReports = () =>
    inSystemScope(
      ds,
      async (m) =>
        (
          await m.query(
            `SELECT count(*)::int AS n FROM posture_reports WHERE delivered_version IS DISTINCT FROM version AND tenant_id = 'tenant-a'`,
          )
        )[0].n as number,
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    Object.assign(
      tokens,
      await platform.tokens({
        admin: [[Role.ADMIN], "tenant-a"],
        ingestor: [[Role.INGESTOR], "tenant-a"],
        reader: [[Role.READER], "tenant-a"],
        adminB: [[Role.ADMIN], "tenant-b"],
        ingestorB: [[Role.INGESTOR], "tenant-b"],
        readerB: [[Role.READER], "tenant-b"],
      }),
    );
    ds = await platform.connect("protection");
    ({ ids, byName, accountId } = await seedMachines(platform, "tenant-a"));
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId, planType: "SERVERS", tier: "STANDARD" } },
        tokens.admin,
      ),
    );
    ok(await platform.request(ImportAdvisoriesDocument, { osv: advisories }, tokens.admin));
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("vulnerability findings appear in posture as 'Remediate vulnerabilities' and 'Apply system updates' once the relay delivers", async () => {
    await ingestTelemetry(platform, fixture("packages", ids), tokens.ingestor);
    const runner = ok(
      await platform.request(ResourceVulnerabilitiesDocument, { id: byName["ci-runner-02"] }, tokens.reader),
    ).resource!;
    expect(runner.vulnerabilities.nodes.map((f) => f.advisoryId)).toContain("DSA-9101-1");
    await eventually(
      "posture has ci-runner-02's reports",
      async () => (await statusOf("ci-runner-02", "system-updates")) === "UNHEALTHY",
    );
    const ci = await reports("ci-runner-02");
    expect(ci["protection/vulnerabilities"]).toMatchObject({ status: "UNHEALTHY", source: "EXTERNAL" });
    expect(ci["protection/vulnerabilities"].cause).toContain("openssl 3.0.11-1~deb12u1");
    expect(ci["protection/system-updates"].cause).toMatch(
      /^\d+ security updates? missing: .*openssl 3\.0\.11-1~deb12u1 → /,
    );
    // Every machine with an inventory is assessed; those without are not.
    await eventually("posture has every inventory's report", async () =>
      (await Promise.all(["app-euw1-01", "vm-app-prod-01"].map((n) => statusOf(n, "vulnerabilities")))).every(
        Boolean,
      ),
    );
    expect(await reports("vm-web-prod-01")).toEqual({});
    // A recommendation in the "Remediate vulnerabilities" control, with the affected machines.
    const [recommendation] = ok(
      await platform.request(
        RecommendationsDocument,
        { filter: { controlId: "remediate-vulnerabilities" }, first: 10 },
        tokens.reader,
      ),
    ).recommendations.nodes.filter((r) => r.id === "protection/vulnerabilities");
    expect(recommendation).toMatchObject({
      title: "Machines should have vulnerability findings resolved",
      severity: "HIGH",
      control: { id: "remediate-vulnerabilities" },
      definition: { source: "EXTERNAL" },
    });
    // Two machines have open findings (OpenSSL; BusyBox and lodash). vm-app-prod-01 runs RHEL 8: the
    // fixtures' RPM advisories are for release 9 (AlmaLinux 9 glibc, RHEL 9 openssl-libs), so it has none.
    expect(recommendation.unhealthyCount).toBe(2);
    expect(recommendation.affectedResources.nodes.map((r) => r.name).sort()).toEqual([
      "app-euw1-01",
      "ci-runner-02",
    ]);
    expect(await statusOf("vm-app-prod-01", "vulnerabilities")).toBe("HEALTHY");
  });

  it("vulnerability assessment follows coverage: the SERVERS plan on FREE withdraws the reports, STANDARD brings them back", async () => {
    const unhealthy = async () =>
      ok(
        await platform.request(
          RecommendationsDocument,
          { filter: { controlId: "remediate-vulnerabilities" }, first: 10 },
          tokens.reader,
        ),
      ).recommendations.nodes.find((r) => r.id === "protection/vulnerabilities")?.unhealthyCount ?? 0;
    expect(await unhealthy()).toBe(2);
    const setServers = (tier: "FREE" | "STANDARD") =>
      platform.request(SetPlanDocument, { input: { accountId, planType: "SERVERS", tier } }, tokens.admin);
    ok(await setServers("FREE"));
    await eventually("posture withdraws the uncovered machines' reports", async () =>
      (
        await Promise.all(
          ["ci-runner-02", "app-euw1-01", "vm-app-prod-01"].flatMap((n) => [
            statusOf(n, "vulnerabilities"),
            statusOf(n, "system-updates"),
          ]),
        )
      ).every((s) => s === "NOT_APPLICABLE"),
    );
    expect((await reports("ci-runner-02"))["protection/vulnerabilities"].cause).toBe(VA_NOT_COVERED_CAUSE);
    // As on the resource itself: no findings shown, none counted against the score.
    const runner = ok(
      await platform.request(ResourceVulnerabilitiesDocument, { id: byName["ci-runner-02"] }, tokens.reader),
    ).resource!;
    expect(runner.vulnerabilities.nodes).toEqual([]);
    expect(await unhealthy()).toBe(0);

    ok(await setServers("STANDARD"));
    await eventually(
      "posture has the reports again",
      async () =>
        (await statusOf("ci-runner-02", "vulnerabilities")) === "UNHEALTHY" &&
        (await statusOf("app-euw1-01", "vulnerabilities")) === "UNHEALTHY" &&
        (await statusOf("vm-app-prod-01", "vulnerabilities")) === "HEALTHY",
    );
    expect(await unhealthy()).toBe(2);
  });

  it("a newer inventory without the vulnerable packages turns the reports healthy", async () => {
    const runnerId = byName["ci-runner-02"];
    await ingestTelemetry(
      platform,
      ndjson([
        {
          kind: "packages",
          id: "packages-ci-runner-02-patched",
          resourceId: runnerId,
          time: shifted("2025-01-15T20:00:00Z"),
          host: "ci-runner-02",
          os: { family: "debian", version: "12" },
          packages: [{ ecosystem: "Debian", name: "bash", version: "5.2.15-2+b2" }],
        },
      ]),
      tokens.ingestor,
    );
    await eventually(
      "posture shows ci-runner-02 patched",
      async () => (await statusOf("ci-runner-02", "vulnerabilities")) === "HEALTHY",
    );
    expect(await reports("ci-runner-02")).toMatchObject({
      "protection/vulnerabilities": {
        status: "HEALTHY",
        cause: "No open vulnerabilities in the installed packages.",
      },
      "protection/system-updates": { status: "HEALTHY" },
    });
  });

  it("machines receiving internet traffic on SSH/RDP without JIT are reported under 'Secure management ports'; a JIT policy makes them healthy", async () => {
    const before = await control("secure-management-ports");
    await ingestTelemetry(platform, fixture("flow", ids), tokens.ingestor);
    await eventually("posture has the management-port reports", async () =>
      (
        await Promise.all(
          ["ci-runner-02", "vm-jump-01", "vm-dev-02", "vm-web-prod-01"].map((n) =>
            statusOf(n, "management-ports"),
          ),
        )
      ).every((s) => s === "UNHEALTHY"),
    );
    expect((await reports("ci-runner-02"))["protection/management-ports"].cause).toBe(
      `internet traffic reached SSH (22/TCP) since ${shifted("2025-01-15T06:12:00.000Z")}; no just-in-time policy locks it.`,
    );
    // vm-web-prod-02 only served HTTPS: nothing to report.
    expect(await statusOf("vm-web-prod-02", "management-ports")).toBeUndefined();
    const exposed = await control("secure-management-ports");
    expect(exposed.unhealthy).toBe(before.unhealthy + 4);

    ok(await platform.request(SetJitPolicyDocument, sshPolicy(byName["ci-runner-02"]), tokens.admin));
    await eventually(
      "posture shows ci-runner-02's SSH under JIT",
      async () => (await statusOf("ci-runner-02", "management-ports")) === "HEALTHY",
    );
    expect((await reports("ci-runner-02"))["protection/management-ports"].cause).toBe(
      "Just-in-time access locks SSH (22/TCP), which internet traffic reached.",
    );
    const locked = await control("secure-management-ports");
    expect([locked.unhealthy, locked.healthy]).toEqual([exposed.unhealthy - 1, exposed.healthy + 1]);
    expect(locked.current).toBeGreaterThan(exposed.current);

    // A policy on a machine with no exposure seen is healthy too; removing it withdraws the report.
    ok(await platform.request(SetJitPolicyDocument, sshPolicy(byName["vm-app-prod-01"]), tokens.admin));
    await eventually(
      "vm-app-prod-01 reported healthy",
      async () => (await statusOf("vm-app-prod-01", "management-ports")) === "HEALTHY",
    );
    ok(
      await platform.request(RemoveJitPolicyDocument, { resourceId: byName["vm-app-prod-01"] }, tokens.admin),
    );
    await eventually(
      "vm-app-prod-01's report withdrawn",
      async () => (await statusOf("vm-app-prod-01", "management-ports")) === "NOT_APPLICABLE",
    );
    ok(await platform.request(RemoveJitPolicyDocument, { resourceId: byName["ci-runner-02"] }, tokens.admin));
    await eventually(
      "ci-runner-02 exposed again",
      async () => (await statusOf("ci-runner-02", "management-ports")) === "UNHEALTHY",
    );
  });

  it("bad input changes nothing: no report, no outbox event", async () => {
    const events = () =>
      inTenant(
        ds,
        "tenant-a",
        async (m) =>
          (await m.query(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'posture.assessment'`))[0]
            .n as number,
      );
    const before = await events();
    const bad = await platform.request(
      SetJitPolicyDocument,
      {
        input: {
          resourceId: byName["ci-runner-02"],
          ports: [{ number: 70000, protocol: "TCP", allowedSourcePrefixes: ["*"] }],
        },
      },
      tokens.admin,
    );
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(await events()).toBe(before);
    expect(await statusOf("ci-runner-02", "management-ports")).toBe("UNHEALTHY");
  });

  it("queues reports while posture is down and delivers them when it is back", async () => {
    ok(await platform.request(SetJitPolicyDocument, sshPolicy(byName["ci-runner-02"]), tokens.admin));
    await eventually(
      "ci-runner-02 reported under JIT",
      async () => (await statusOf("ci-runner-02", "management-ports")) === "HEALTHY",
    );
    await eventually("nothing left to deliver", async () => (await pendingReports()) === 0);
    await platform.subgraphs.posture.close();
    // A policy needs posture's word that the machine is the tenant's: without it nothing is written.
    const unanswered = await platform.request(
      SetJitPolicyDocument,
      sshPolicy(byName["vm-app-prod-01"]),
      tokens.admin,
    );
    expect(unanswered.errors?.map((e) => e.extensions?.code)).toEqual(["UNAVAILABLE"]);
    expect(await pendingReports()).toBe(0);
    // Removing one asks nothing of posture: its report waits for posture.
    const removed = await platform.request(
      RemoveJitPolicyDocument,
      { resourceId: byName["ci-runner-02"] },
      tokens.admin,
    );
    expect(removed.errors).toBeUndefined();
    expect(await pendingReports()).toBeGreaterThan(0);
    await platform.restartSubgraph("posture");
    await eventually(
      "the queued report reached posture",
      async () => (await statusOf("ci-runner-02", "management-ports")) === "UNHEALTHY",
      60_000,
    );
    await eventually("nothing left to deliver", async () => (await pendingReports()) === 0);
    // With posture back, the policy can be set again (the next test expects it).
    ok(await platform.request(SetJitPolicyDocument, sshPolicy(byName["ci-runner-02"]), tokens.admin));
    await eventually(
      "ci-runner-02 under JIT again",
      async () => (await statusOf("ci-runner-02", "management-ports")) === "HEALTHY",
    );
  });

  it("keeps tenants apart: each tenant's posture sees only its own reports", async () => {
    const b = await seedMachines(platform, "tenant-b");
    await ingestTelemetry(
      platform,
      fixture("flow", b.ids, (r) => r.resourceId === CI),
      tokens.ingestorB,
    );
    await eventually(
      "tenant-b's posture has its report",
      async () =>
        (await statusOf("ci-runner-02", "management-ports", tokens.readerB, b.byName)) === "UNHEALTHY",
    );
    // tenant-a's JIT policy does not cover tenant-b's machine, and tenant-b cannot see tenant-a's reports.
    expect(await statusOf("ci-runner-02", "management-ports")).toBe("HEALTHY");
    expect(await reports("ci-runner-02", tokens.readerB)).toEqual({});
    // Telemetry naming tenant-a's machines in tenant-b: posture refuses the reports (unknown there), nothing leaks.
    await ingestTelemetry(
      platform,
      fixture("flow", ids, (r) => r.host === "vm-jump-01"),
      tokens.ingestorB,
    );
    await eventually("posture refused tenant-b's report on a machine it does not have", () =>
      inTenant(ds, "tenant-b", async (m) => {
        const [row] = await m.query(`SELECT delivery_error FROM posture_reports WHERE resource_id = $1`, [
          byName["vm-jump-01"],
        ]);
        return typeof row?.delivery_error === "string" && row.delivery_error.includes("no such resource");
      }),
    );
    expect(await statusOf("vm-jump-01", "management-ports")).toBe("UNHEALTHY");
  });
});
