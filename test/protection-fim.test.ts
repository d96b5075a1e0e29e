import type { DataSource } from "typeorm";
import {
  DetectionsDocument,
  FimWatchListsDocument,
  LearnAppControlDocument,
  ResetFimWatchedPathsDocument,
  ResourceFileChangesDocument,
  SetFimWatchedPathsDocument,
  type FileChangeFilter,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { fixture, ingestTelemetry, ndjson, seedMachines, shifted } from "./utils/workload";

const WEB_1 = "3dafd86a-82f7-47d7-8018-63f28fe05d5d";
const DEV = "9f525b04-47c3-487a-9b37-e8d8124d8161";
/** /etc/passwd on vm-web-prod-01 in the fixtures: before and after `useradd` (09:11:48). */
const PASSWD_BEFORE = "8cd615dc63a7a31100c8fe74329d0de8d2d9ff7";
const PASSWD_AFTER = "0c1bbfb42075a87d7dbb808e8c2992c3dea0d5072472ddb5b59b8fc6dd6c7b9e";
const H = (c: string) => c.repeat(64);

describe("file integrity monitoring: watch lists, file changes, baselines, critical changes as alerts", () => {
  let platform: TestPlatform;
  let ds: DataSource;
  let ids: Record<string, string>;
  let byName: Record<string, string>;
  const tokens: Record<string, string> = {};

  const changes = async (
    name: string,
    filter?: FileChangeFilter,
    token = tokens.reader,
    first = 50,
    after?: string,
  ) =>
    ok(await platform.request(ResourceFileChangesDocument, { id: byName[name], filter, first, after }, token))
      .resource;
  const criticalDetections = async () =>
    ok(
      await platform.request(
        DetectionsDocument,
        { filter: { kinds: ["CRITICAL_FILE_CHANGE"] }, first: 100 },
        tokens.reader,
      ),
    ).detections.nodes;
  const fileRecord = (
    fixtureId: string,
    host: string,
    id: string,
    storyTime: string,
    patch: Record<string, unknown>,
  ) => ({
    kind: "file",
    id,
    resourceId: ids[fixtureId],
    time: shifted(storyTime),
    host,
    action: "modified",
    user: "root",
    ...patch,
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
    ({ ids, byName } = await seedMachines(platform, "tenant-a"));
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("watches the built-in Linux and Windows paths until an admin sets a list", async () => {
    const [tenant, ...groups] = ok(
      await platform.request(FimWatchListsDocument, {}, tokens.reader),
    ).fimWatchLists;
    expect(groups).toEqual([]);
    expect(tenant).toMatchObject({ groupId: null, source: "DEFAULT", updatedBy: null });
    const paths = tenant.paths.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/etc/passwd",
        "/etc/shadow",
        "/etc/sudoers",
        "/etc/ssh/sshd_config",
        "/usr/bin",
        "C:\\Windows\\System32\\drivers\\etc\\hosts",
        "C:\\Windows\\System32\\config\\SAM",
      ]),
    );
    expect(tenant.paths.find((p) => p.path === "/usr/bin")).toEqual({
      path: "/usr/bin",
      recursive: true,
      critical: false,
    });
  });

  it("records changes to watched files with the hashes before and after; critical ones are alerts", async () => {
    await ingestTelemetry(platform, fixture("file", ids), tokens.ingestor);
    const web = (await changes("vm-web-prod-01"))!.fileChanges;
    // checkout.js, the nginx log and /tmp are not watched by default.
    expect(web.nodes.map((c) => [c.path, c.action, c.critical])).toEqual([
      ["/etc/group", "MODIFIED", true],
      ["/etc/passwd", "MODIFIED", true],
    ]);
    const passwd = web.nodes.find((c) => c.path === "/etc/passwd")!;
    expect(passwd).toMatchObject({
      id: "fim-vm-web-prod-01-7700",
      newSha256: PASSWD_AFTER,
      user: "root",
      time: shifted("2025-01-15T09:11:48.000Z"),
    });
    expect(passwd.oldSha256).toMatch(new RegExp(`^${PASSWD_BEFORE}`));
    // The baseline is the content before the first change seen.
    expect(passwd.baselineSha256).toBe(passwd.oldSha256);
    const ci = (await changes("ci-runner-02"))!.fileChanges.nodes;
    expect(ci.map((c) => [c.path, c.critical])).toEqual([["/home/admin/.ssh/authorized_keys", true]]);
    const alerts = await criticalDetections();
    expect(alerts.map((d) => [d.resource?.name, d.title]).sort()).toEqual([
      ["ci-runner-02", "SSH authorized keys /home/admin/.ssh/authorized_keys modified on ci-runner-02"],
      ["vm-web-prod-01", "Account database /etc/group modified on vm-web-prod-01"],
      ["vm-web-prod-01", "Account database /etc/passwd modified on vm-web-prod-01"],
    ]);
  });

  it("takes the old hash from the previous change, and from the baseline once that change is gone", async () => {
    await ingestTelemetry(
      platform,
      ndjson([
        fileRecord(WEB_1, "vm-web-prod-01", "fim-passwd-2", "2025-01-15T10:00:00Z", {
          path: "/etc/passwd",
          sha256: H("1"),
        }),
        fileRecord(WEB_1, "vm-web-prod-01", "fim-passwd-3", "2025-01-15T11:00:00Z", {
          path: "/etc/passwd",
          action: "deleted",
        }),
        fileRecord(WEB_1, "vm-web-prod-01", "fim-passwd-4", "2025-01-15T11:05:00Z", {
          path: "/etc/passwd",
          action: "created",
          sha256: H("2"),
        }),
      ]),
      tokens.ingestor,
    );
    const passwd = (await changes("vm-web-prod-01", { path: "/etc/passwd" }))!.fileChanges.nodes;
    expect(passwd.map((c) => [c.id, c.action, c.oldSha256, c.newSha256])).toEqual([
      ["fim-passwd-4", "CREATED", null, H("2")],
      ["fim-passwd-3", "DELETED", H("1"), null],
      ["fim-passwd-2", "MODIFIED", PASSWD_AFTER, H("1")],
      [
        "fim-vm-web-prod-01-7700",
        "MODIFIED",
        expect.stringMatching(new RegExp(`^${PASSWD_BEFORE}`)),
        PASSWD_AFTER,
      ],
    ]);
    // Past retention the earlier records are gone: the oldest remaining change compares with the baseline.
    await inTenant(ds, "tenant-a", (m) =>
      m.query(
        `DELETE FROM telemetry WHERE record_id IN ('fim-vm-web-prod-01-7700', 'fim-passwd-2', 'fim-passwd-3')`,
      ),
    );
    const remaining = (await changes("vm-web-prod-01", { path: "/etc/passwd" }))!.fileChanges.nodes;
    expect(remaining.map((c) => c.id)).toEqual(["fim-passwd-4"]);
    expect(remaining[0].oldSha256).toBeNull(); // CREATED has no old content, whatever the baseline says
    await ingestTelemetry(
      platform,
      ndjson([
        fileRecord(WEB_1, "vm-web-prod-01", "fim-group-2", "2025-01-15T12:00:00Z", {
          path: "/etc/group",
          sha256: H("3"),
        }),
      ]),
      tokens.ingestor,
    );
    await inTenant(ds, "tenant-a", (m) =>
      m.query(`DELETE FROM telemetry WHERE record_id = 'fim-vm-web-prod-01-7701'`),
    );
    const [group] = (await changes("vm-web-prod-01", { path: "/etc/group" }))!.fileChanges.nodes;
    expect(group.id).toBe("fim-group-2");
    expect(group.oldSha256).toBe(group.baselineSha256);
    expect(group.oldSha256).toMatch(/^8739262646c2e952f20ea77feabe97455ed702d1/);
    const baselines = (await changes("vm-web-prod-01"))!.fileBaselines.nodes;
    expect(baselines.map((b) => [b.path, b.recordId])).toEqual([
      ["/etc/group", "fim-vm-web-prod-01-7701"],
      ["/etc/passwd", "fim-vm-web-prod-01-7700"],
    ]);
  });

  it("filters and pages changes", async () => {
    const critical = (await changes("vm-web-prod-01", { critical: true, actions: ["MODIFIED"] }))!
      .fileChanges;
    const all = (await changes("vm-web-prod-01"))!.fileChanges;
    // Exactly the machine's critical modifications, and there are some: an empty answer would not pass.
    expect(all.nodes).toHaveLength(all.totalCount);
    const criticalModified = all.nodes.filter((c) => c.critical && c.action === "MODIFIED").map((c) => c.id);
    expect(criticalModified.length).toBeGreaterThan(0);
    expect(critical.nodes.map((c) => c.id)).toEqual(criticalModified);
    const first = (await changes("vm-web-prod-01", undefined, tokens.reader, 1))!.fileChanges;
    expect(first.totalCount).toBe(all.totalCount);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await changes("vm-web-prod-01", undefined, tokens.reader, 1, first.pageInfo.endCursor!))!
      .fileChanges;
    expect([first.nodes[0].id, second.nodes[0].id]).toEqual(all.nodes.slice(0, 2).map((c) => c.id));
    const since = (await changes("vm-web-prod-01", { since: shifted("2025-01-15T11:00:00Z") }))!.fileChanges
      .nodes;
    expect(since.map((c) => c.id)).toEqual(["fim-group-2", "fim-passwd-4"]);
  });

  it("a tenant list widens what is watched: the skimmed checkout.js becomes a critical change", async () => {
    const set = ok(
      await platform.request(
        SetFimWatchedPathsDocument,
        {
          input: {
            paths: [
              { path: "/etc/passwd" },
              { path: "/var/www/shop/public/", recursive: true },
              { path: "/etc/nginx", recursive: true, critical: false },
              { path: "C:\\Users\\*\\.ssh\\authorized_keys" },
            ],
          },
        },
        tokens.admin,
      ),
    ).setFimWatchedPaths;
    expect(set).toMatchObject({ groupId: null, source: "TENANT", updatedBy: "tester@example.com" });
    expect(set.paths[1]).toEqual({ path: "/var/www/shop/public", recursive: true, critical: true });
    await ingestTelemetry(
      platform,
      ndjson([
        fileRecord(WEB_1, "vm-web-prod-01", "fim-skimmer-2", "2025-01-15T13:20:03Z", {
          path: "/var/www/shop/public/js/checkout.js",
          sha256: H("4"),
          previousSha256: H("5"),
          user: "www-data",
        }),
        fileRecord(WEB_1, "vm-web-prod-01", "fim-nginx-1", "2025-01-15T13:25:00Z", {
          path: "/etc/nginx/sites-enabled/shop",
          sha256: H("6"),
        }),
        fileRecord(DEV, "vm-dev-02", "fim-dev-keys", "2025-01-15T13:30:00Z", {
          path: "c:/users/ContosoAdmin/.ssh/AUTHORIZED_KEYS",
          action: "created",
          sha256: H("7"),
          user: "VM-DEV-02\\contosoadmin",
        }),
      ]),
      tokens.ingestor,
    );
    const web = (await changes("vm-web-prod-01", { since: shifted("2025-01-15T13:00:00Z") }))!.fileChanges
      .nodes;
    expect(web.map((c) => [c.path, c.critical, c.oldSha256, c.newSha256])).toEqual([
      ["/etc/nginx/sites-enabled/shop", false, null, H("6")],
      ["/var/www/shop/public/js/checkout.js", true, H("5"), H("4")],
    ]);
    // /etc/group is no longer watched under the tenant's list.
    expect((await changes("vm-web-prod-01", { path: "/etc/group" }))!.fileChanges.totalCount).toBe(0);
    const dev = (await changes("vm-dev-02"))!.fileChanges.nodes;
    expect(dev.map((c) => [c.path, c.action, c.critical])).toEqual([
      ["c:/users/ContosoAdmin/.ssh/AUTHORIZED_KEYS", "CREATED", true],
    ]);
    const titles = (await criticalDetections()).map((d) => d.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        "Critical file /var/www/shop/public/js/checkout.js modified on vm-web-prod-01",
        "SSH authorized keys c:/users/ContosoAdmin/.ssh/AUTHORIZED_KEYS created on vm-dev-02",
      ]),
    );
    expect(titles.some((t) => t.includes("/etc/nginx"))).toBe(false);
  });

  it("a group's own list applies to its machines only", async () => {
    await ingestTelemetry(platform, fixture("process-baseline", ids), tokens.ingestor);
    const { groups } = ok(await platform.request(LearnAppControlDocument, {}, tokens.admin)).learnAppControl;
    const web = groups.find((g) => g.name.startsWith("vm-web-prod-01"))!;
    const set = ok(
      await platform.request(
        SetFimWatchedPathsDocument,
        { input: { groupId: web.id, paths: [{ path: "/opt/webshop", recursive: true }] } },
        tokens.admin,
      ),
    ).setFimWatchedPaths;
    expect(set).toMatchObject({ groupId: web.id, source: "GROUP" });
    const before = (await criticalDetections()).length;
    const result = await ingestTelemetry(
      platform,
      ndjson([
        fileRecord(WEB_1, "vm-web-prod-01", "fim-webshop-1", "2025-01-15T14:00:00Z", {
          path: "/opt/webshop/server.js",
          sha256: H("8"),
        }),
        fileRecord(WEB_1, "vm-web-prod-01", "fim-passwd-5", "2025-01-15T14:05:00Z", {
          path: "/etc/passwd",
          sha256: H("9"),
        }),
        fileRecord(DEV, "vm-dev-02", "fim-dev-keys-2", "2025-01-15T14:10:00Z", {
          path: "C:\\Users\\ContosoAdmin\\.ssh\\authorized_keys",
          sha256: H("a"),
        }),
      ]),
      tokens.ingestor,
    );
    expect(result.detections).toBe(2);
    const after = await criticalDetections();
    expect(after.length).toBe(before + 2);
    expect(after.map((d) => d.title)).toContain(
      "Critical file /opt/webshop/server.js modified on vm-web-prod-01",
    );
    const webChanges = (await changes("vm-web-prod-01", { since: shifted("2025-01-15T14:00:00Z") }))!
      .fileChanges.nodes;
    expect(webChanges.map((c) => c.path)).toEqual(["/opt/webshop/server.js"]);
    const lists = ok(await platform.request(FimWatchListsDocument, {}, tokens.reader)).fimWatchLists;
    expect(lists.map((l) => [l.groupId, l.source])).toEqual([
      [null, "TENANT"],
      [web.id, "GROUP"],
    ]);
    // Reset: the group inherits the tenant's list again, the tenant the built-in one.
    const reset = ok(
      await platform.request(ResetFimWatchedPathsDocument, { input: { groupId: web.id } }, tokens.admin),
    ).resetFimWatchedPaths;
    expect(reset).toMatchObject({ groupId: web.id, source: "TENANT" });
    const tenantReset = ok(
      await platform.request(ResetFimWatchedPathsDocument, {}, tokens.admin),
    ).resetFimWatchedPaths;
    expect(tenantReset.source).toBe("DEFAULT");
    expect(ok(await platform.request(FimWatchListsDocument, {}, tokens.reader)).fimWatchLists).toHaveLength(
      1,
    );
  });

  it("refuses bad watch lists with typed errors and changes nothing", async () => {
    const lists = async () =>
      ok(await platform.request(FimWatchListsDocument, {}, tokens.reader)).fimWatchLists;
    const before = await lists();
    const bad = await platform.request(
      SetFimWatchedPathsDocument,
      {
        input: {
          paths: [
            { path: "/etc/shadow" },
            { path: "etc/passwd" },
            { path: "/" },
            { path: "/etc/shadow/" },
            { path: "/var/../x" },
          ],
        },
      },
      tokens.admin,
    );
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      problems: [
        { index: 1, field: "paths.path", message: expect.stringMatching(/absolute/) },
        { index: 2, field: "paths.path", message: "must not be a file-system root" },
        { index: 3, field: "paths.path", message: "listed twice" },
        { index: 4, field: "paths.path", message: "must not contain . or .. segments" },
      ],
    });
    const unknownGroup = await platform.request(
      SetFimWatchedPathsDocument,
      { input: { groupId: "00000000-0000-4000-8000-000000000000", paths: [{ path: "/etc/shadow" }] } },
      tokens.admin,
    );
    expect(unknownGroup.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    const reader = await platform.request(
      SetFimWatchedPathsDocument,
      { input: { paths: [] } },
      tokens.reader,
    );
    expect(reader.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const badFilter = await platform.request(
      ResourceFileChangesDocument,
      { id: byName["vm-web-prod-01"], filter: { path: "relative" } },
      tokens.reader,
    );
    expect(badFilter.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(await lists()).toEqual(before);
  });

  it("keeps tenants apart: lists and changes are per tenant", async () => {
    ok(
      await platform.request(
        SetFimWatchedPathsDocument,
        { input: { paths: [{ path: "/srv/data", recursive: true }] } },
        tokens.adminB,
      ),
    );
    const mine = ok(await platform.request(FimWatchListsDocument, {}, tokens.reader)).fimWatchLists;
    expect(mine.map((l) => l.source)).toEqual(["DEFAULT"]);
    const theirs = ok(await platform.request(FimWatchListsDocument, {}, tokens.readerB)).fimWatchLists;
    expect(theirs[0].paths.map((p) => p.path)).toEqual(["/srv/data"]);
    // tenant-b cannot see tenant-a's machine (posture resolves nothing), nor its changes.
    expect(await changes("vm-web-prod-01", undefined, tokens.readerB)).toBeNull();
    const count = await inTenant(
      ds,
      "tenant-b",
      async (m) => (await m.query(`SELECT count(*)::int AS n FROM fim_baselines`))[0].n,
    );
    expect(count).toBe(0);
  });
});
