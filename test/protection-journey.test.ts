import { readdirSync, readFileSync } from "node:fs";
import {
  ImportAdvisoriesDocument,
  VulnerabilityMatchingDocument,
  IngestPackageInventoryDocument,
  ResourceVulnerabilitiesDocument,
  SetPlanDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

const advisories = readdirSync("test/fixtures/protection/osv")
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(`test/fixtures/protection/osv/${f}`, "utf8")) as unknown);

/** Journey 2 of product.md: enable a plan, ingest package inventory and advisories, see vulnerability findings. */
describe("journey 2: vulnerability assessment through the gateway", () => {
  let platform: TestPlatform;
  let admin: string;
  let reader: string;
  let covered: string;
  let uncovered: string;

  const snapshot = (resourceId: string, time: string, openssl: string) => ({
    kind: "packages",
    id: `snap-${resourceId}-${time}`,
    resourceId,
    host: "vm",
    time,
    os: { family: "debian", version: "12.4" },
    packages: [
      { ecosystem: "Debian", name: "openssl", version: openssl },
      { ecosystem: "Debian", name: "bash", version: "5.2.15-2+b2" },
    ],
  });
  const vulns = async (id: string, status?: "OPEN" | "FIXED") =>
    ok(await platform.request(ResourceVulnerabilitiesDocument, { id, status }, reader)).resource!;

  beforeAll(async () => {
    // The job runner on: importing advisories re-matches the fleet in a job.
    platform = await startTestPlatform({ JOBS_ENABLED: "true" });
    admin = await platform.token([Role.ADMIN]);
    reader = await platform.token([Role.READER]);
    const [prod, lab] = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: "sub-prod", name: "Prod" },
            { provider: "AZURE", externalId: "sub-lab", name: "Lab" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts;
    const vm = (accountId: string, name: string) => ({
      accountId,
      externalId: `/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${name}`,
      type: "Microsoft.Compute/virtualMachines",
      name,
    });
    [covered, uncovered] = ok(
      await platform.request(
        UpsertResourcesDocument,
        { input: [vm(prod.id, "vm-prod"), vm(lab.id, "vm-lab")] },
        admin,
      ),
    ).upsertResources.ids;
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId: prod.id, planType: "SERVERS", tier: "STANDARD" } },
        admin,
      ),
    );
  });
  afterAll(() => platform?.stop());

  it("imports OSV advisories and reports the bad ones by index and path", async () => {
    const result = ok(
      await platform.request(
        ImportAdvisoriesDocument,
        { osv: [...advisories, { id: "X", affected: "nope" }] },
        admin,
      ),
    ).importAdvisories;
    expect(result.importedCount).toBe(advisories.length);
    expect(result.rejected.length).toBeGreaterThan(0);
    expect(result.rejected.every((r) => r.index === advisories.length)).toBe(true);
    const again = ok(
      await platform.request(ImportAdvisoriesDocument, { osv: advisories }, admin),
    ).importAdvisories;
    expect(again).toMatchObject({ importedCount: 0, unchangedCount: advisories.length });
  });

  it("finds vulnerable packages on covered machines only, with the fixing version", async () => {
    const ingestor = await platform.token([Role.INGESTOR]);
    const result = ok(
      await platform.request(
        IngestPackageInventoryDocument,
        {
          records: [
            snapshot(covered, "2026-11-20T10:00:00Z", "3.0.11-1~deb12u1"),
            snapshot(uncovered, "2026-11-20T10:00:00Z", "3.0.11-1~deb12u1"),
          ],
        },
        ingestor,
      ),
    ).ingestPackageInventory;
    expect(result).toMatchObject({ acceptedCount: 2, openedCount: 2, rejected: [] });
    const prod = await vulns(covered);
    expect(prod.vulnerabilitySummary.covered).toBe(true);
    expect(prod.vulnerabilities.nodes).toEqual([
      expect.objectContaining({
        advisoryId: "DSA-9101-1",
        package: "openssl",
        installedVersion: "3.0.11-1~deb12u1",
        fixedVersion: "3.0.11-1~deb12u2",
        status: "OPEN",
      }),
    ]);
    expect(prod.vulnerabilitySummary.total).toBe(1);
    const lab = await vulns(uncovered);
    expect(lab.vulnerabilitySummary).toMatchObject({ covered: false, total: 0 });
    expect(lab.vulnerabilities.totalCount).toBe(0);
  });

  it("marks a finding FIXED when a newer inventory no longer matches, and ignores stale snapshots", async () => {
    const ingestor = await platform.token([Role.INGESTOR]);
    const fixed = ok(
      await platform.request(
        IngestPackageInventoryDocument,
        { records: [snapshot(covered, "2026-11-21T10:00:00Z", "3.0.11-1~deb12u2")] },
        ingestor,
      ),
    ).ingestPackageInventory;
    expect(fixed).toMatchObject({ acceptedCount: 1, fixedCount: 1 });
    expect((await vulns(covered)).vulnerabilities.totalCount).toBe(0);
    const history = (await vulns(covered, "FIXED")).vulnerabilities.nodes;
    expect(history).toEqual([expect.objectContaining({ advisoryId: "DSA-9101-1", status: "FIXED" })]);
    expect(history[0].fixedAt).not.toBeNull();
    const stale = ok(
      await platform.request(
        IngestPackageInventoryDocument,
        { records: [snapshot(covered, "2026-11-19T10:00:00Z", "3.0.11-1~deb12u1")] },
        ingestor,
      ),
    ).ingestPackageInventory;
    expect(stale).toMatchObject({ acceptedCount: 0, staleCount: 1 });
    const bad = ok(
      await platform.request(
        IngestPackageInventoryDocument,
        { records: [{ kind: "packages", resourceId: "nope" }, { kind: "flow" }] },
        ingestor,
      ),
    ).ingestPackageInventory;
    expect(bad.rejected.map((r) => r.index)).toEqual([0, 1]);
  });

  it("takes a snapshot that lists a package twice, with one finding for it", async () => {
    const ingestor = await platform.token([Role.INGESTOR]);
    const record = snapshot(covered, "2026-11-22T10:00:00Z", "3.0.11-1~deb12u1");
    record.packages.push({ ecosystem: "Debian", name: "openssl", version: "3.0.11-1~deb12u1" });
    const result = ok(
      await platform.request(IngestPackageInventoryDocument, { records: [record] }, ingestor),
    ).ingestPackageInventory;
    expect(result).toMatchObject({ acceptedCount: 1, openedCount: 1, rejected: [] });
    const open = (await vulns(covered)).vulnerabilities;
    expect(open.nodes).toEqual([
      expect.objectContaining({
        advisoryId: "DSA-9101-1",
        installedVersion: "3.0.11-1~deb12u1",
        status: "OPEN",
      }),
    ]);
  });

  it("re-matches every machine in the background when new advisories arrive", async () => {
    const bash = {
      id: "DSA-9199-1",
      modified: "2026-11-22T12:00:00Z",
      aliases: ["CVE-2026-91990"],
      summary: "bash: command injection",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
      affected: [
        {
          package: { ecosystem: "Debian:12", name: "bash" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "5.2.15-2+b3" }] }],
        },
      ],
    };
    const status = async () =>
      ok(await platform.request(VulnerabilityMatchingDocument, {}, reader)).vulnerabilityMatching;
    const settled = async () => {
      let s = await status();
      for (let attempt = 0; attempt < 100 && !s.upToDate; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        s = await status();
      }
      return s;
    };
    // The fixtures' import (beforeAll) queued its own re-match: let it finish first.
    const before = await settled();
    expect(before).toMatchObject({ upToDate: true });
    expect(before.matchedRevision).toBe(before.advisoryRevision);
    const sent = Date.now();
    const imported = ok(
      await platform.request(ImportAdvisoriesDocument, { osv: [bash] }, admin),
    ).importAdvisories;
    expect(imported).toMatchObject({
      importedCount: 1,
      rejected: [],
      advisoryRevision: before.advisoryRevision + 1,
    });
    // The import only queues the re-match; the status says when the job has matched every machine.
    const pending = await status();
    expect(pending).toMatchObject({ advisoryRevision: imported.advisoryRevision });
    // The job is due 2 s after the import: read well before that, the status must say it is pending.
    if (Date.now() - sent < 1500) expect(pending).toMatchObject({ upToDate: false });
    const now = await settled();
    expect(now).toMatchObject({ upToDate: true, matchedRevision: imported.advisoryRevision });
    // Another tenant has imported nothing: its status is its own.
    const otherReader = await platform.token([Role.READER], "tenant-vuln-other");
    expect(
      ok(await platform.request(VulnerabilityMatchingDocument, {}, otherReader)).vulnerabilityMatching,
    ).toEqual({ advisoryRevision: 0, matchedRevision: 0, upToDate: true, matchedAt: null });
    expect(Date.parse(now.matchedAt!)).toBeGreaterThan(Date.parse(before.matchedAt ?? "1970-01-01"));
    // Sending the same advisory again stores nothing: the revision stays, nothing to match.
    const again = ok(
      await platform.request(ImportAdvisoriesDocument, { osv: [bash] }, admin),
    ).importAdvisories;
    expect(again).toMatchObject({
      importedCount: 0,
      unchangedCount: 1,
      advisoryRevision: imported.advisoryRevision,
    });
    expect((await status()).upToDate).toBe(true);
    const nodes = (await vulns(covered)).vulnerabilities.nodes;
    expect(nodes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          advisoryId: "DSA-9199-1",
          package: "bash",
          fixedVersion: "5.2.15-2+b3",
          severity: "CRITICAL",
        }),
        expect.objectContaining({ advisoryId: "DSA-9101-1", package: "openssl" }),
      ]),
    );
    expect((await vulns(covered)).vulnerabilitySummary).toMatchObject({
      covered: true,
      critical: 1,
      total: 2,
    });
    // The uncovered machine was matched too; its findings stay hidden until a plan covers it.
    expect((await vulns(uncovered)).vulnerabilities.totalCount).toBe(0);
  });

  it("shows a vulnerability published under two ids (aliases of each other) once", async () => {
    const status = async () =>
      ok(await platform.request(VulnerabilityMatchingDocument, {}, reader)).vulnerabilityMatching;
    // The Debian LTS team's advisory for the bash flaw DSA-9199-1 already describes, under the same CVE.
    const dla = {
      id: "DLA-9199-1",
      modified: "2026-11-23T12:00:00Z",
      aliases: ["CVE-2026-91990"],
      summary: "bash: command injection (LTS)",
      affected: [
        {
          package: { ecosystem: "Debian:12", name: "bash" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "5.2.15-2+b4" }] }],
        },
      ],
    };
    const imported = ok(
      await platform.request(ImportAdvisoriesDocument, { osv: [dla] }, admin),
    ).importAdvisories;
    expect(imported).toMatchObject({ importedCount: 1, rejected: [] });
    let s = await status();
    for (
      let attempt = 0;
      attempt < 100 && !(s.upToDate && s.matchedRevision >= imported.advisoryRevision);
      attempt++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      s = await status();
    }
    expect(s).toMatchObject({ upToDate: true, matchedRevision: imported.advisoryRevision });
    const machine = await vulns(covered);
    const bash = machine.vulnerabilities.nodes.filter((n) => n.package === "bash");
    // One finding: the scored advisory, naming the other, with the fix both agree on (the later one).
    expect(bash).toEqual([
      expect.objectContaining({
        advisoryId: "DSA-9199-1",
        cve: "CVE-2026-91990",
        fixedVersion: "5.2.15-2+b4",
        severity: "CRITICAL",
      }),
    ]);
    expect(machine.vulnerabilitySummary).toMatchObject({ critical: 1, total: 2 });
  });

  it("keeps a finding (its id, first-seen time, OPEN) when another advisory of its group becomes the one shown", async () => {
    const status = async () =>
      ok(await platform.request(VulnerabilityMatchingDocument, {}, reader)).vulnerabilityMatching;
    const bashOf = async (s?: "OPEN" | "FIXED") =>
      (await vulns(covered, s)).vulnerabilities.nodes.filter((n) => n.package === "bash");
    const [before] = await bashOf("OPEN");
    expect(before).toMatchObject({ advisoryId: "DSA-9199-1", cve: "CVE-2026-91990" });
    // Debian's own record of the same CVE, scored higher (10.0 against 9.8): the group is now shown under it.
    const debianCve = {
      id: "DEBIAN-CVE-2026-91990",
      modified: "2026-11-24T12:00:00Z",
      aliases: ["CVE-2026-91990"],
      summary: "bash: command injection (scope changed)",
      severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" }],
      affected: [
        {
          package: { ecosystem: "Debian:12", name: "bash" },
          ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "5.2.15-2+b4" }] }],
        },
      ],
    };
    const imported = ok(
      await platform.request(ImportAdvisoriesDocument, { osv: [debianCve] }, admin),
    ).importAdvisories;
    expect(imported).toMatchObject({ importedCount: 1, rejected: [] });
    let s = await status();
    for (
      let attempt = 0;
      attempt < 100 && !(s.upToDate && s.matchedRevision >= imported.advisoryRevision);
      attempt++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      s = await status();
    }
    expect(s).toMatchObject({ upToDate: true, matchedRevision: imported.advisoryRevision });
    // The same finding, now under the higher-scored advisory and naming the others; nothing marked FIXED.
    expect(await bashOf("OPEN")).toEqual([
      expect.objectContaining({
        id: before.id,
        firstSeen: before.firstSeen,
        advisoryId: "DEBIAN-CVE-2026-91990",
        aliases: ["CVE-2026-91990", "DLA-9199-1", "DSA-9199-1"],
        status: "OPEN",
        fixedAt: null,
      }),
    ]);
    expect(await bashOf("FIXED")).toEqual([]);
    // An inventory that still shows the vulnerable bash keeps it as it is; one that upgrades it fixes it.
    const ingestor = await platform.token([Role.INGESTOR]);
    const upgraded = {
      ...snapshot(covered, "2026-11-25T10:00:00Z", "3.0.11-1~deb12u2"),
      packages: [{ ecosystem: "Debian", name: "bash", version: "5.2.15-2+b4" }],
    };
    expect(
      ok(await platform.request(IngestPackageInventoryDocument, { records: [upgraded] }, ingestor))
        .ingestPackageInventory,
    ).toMatchObject({ acceptedCount: 1 });
    expect(await bashOf("OPEN")).toEqual([]);
    expect(await bashOf("FIXED")).toEqual([
      expect.objectContaining({ id: before.id, advisoryId: "DEBIAN-CVE-2026-91990", status: "FIXED" }),
    ]);
  });

  it("finds Maven, Go and crates.io dependencies on a VM and a Kubernetes cluster", async () => {
    // The fixtures imported by the first test hold a log4j-core (Maven), an x/crypto and stdlib (Go) and a
    // crossbeam-deque (crates.io) advisory.
    const accountId = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: "sub-apps", name: "Apps" }] },
        admin,
      ),
    ).upsertCloudAccounts[0].id;
    const arm = "/subscriptions/x/resourceGroups/apps/providers";
    const [vm, cluster] = ok(
      await platform.request(
        UpsertResourcesDocument,
        {
          input: [
            {
              accountId,
              externalId: `${arm}/Microsoft.Compute/virtualMachines/vm-api`,
              type: "Microsoft.Compute/virtualMachines",
              name: "vm-api",
            },
            {
              accountId,
              externalId: `${arm}/Microsoft.ContainerService/managedClusters/aks-apps`,
              type: "Microsoft.ContainerService/managedClusters",
              name: "aks-apps",
            },
          ],
        },
        admin,
      ),
    ).upsertResources.ids;
    for (const planType of ["SERVERS", "KUBERNETES"] as const)
      ok(
        await platform.request(SetPlanDocument, { input: { accountId, planType, tier: "STANDARD" } }, admin),
      );
    const ingestor = await platform.token([Role.INGESTOR]);
    const record = (resourceId: string, os: { family: string; version: string }, packages: unknown[]) => ({
      kind: "packages",
      id: `apps-${resourceId}`,
      resourceId,
      host: "apps",
      time: "2026-11-24T10:00:00Z",
      os,
      packages,
    });
    const result = ok(
      await platform.request(
        IngestPackageInventoryDocument,
        {
          records: [
            record(vm, { family: "debian", version: "12.4" }, [
              { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core", version: "2.14.1" },
              { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-api", version: "2.14.1" },
              { ecosystem: "Go", name: "golang.org/x/crypto", version: "v0.0.0-20201216223049-8b5274cf687f" },
              { ecosystem: "Go", name: "stdlib", version: "v1.17.3" },
              { ecosystem: "crates.io", name: "crossbeam-deque", version: "0.8.0" },
            ]),
            record(cluster, { family: "alpine", version: "3.19.1" }, [
              // Fixed releases: no finding.
              { ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core", version: "2.17.1" },
              { ecosystem: "Go", name: "golang.org/x/crypto", version: "v0.0.0-20211202192323-5770296d904e" },
              // Cargo.lock spells it with a hyphen; an underscore names the same crate on crates.io.
              { ecosystem: "crates.io", name: "crossbeam_deque", version: "0.7.3" },
            ]),
          ],
        },
        ingestor,
      ),
    ).ingestPackageInventory;
    expect(result).toMatchObject({ acceptedCount: 2, openedCount: 5, rejected: [] });
    const found = async (id: string) =>
      (await vulns(id)).vulnerabilities.nodes
        .map((n) => ({
          advisoryId: n.advisoryId,
          cve: n.cve,
          ecosystem: n.ecosystem,
          package: n.package,
          installedVersion: n.installedVersion,
          fixedVersion: n.fixedVersion,
          severity: n.severity,
          status: n.status,
        }))
        .sort((a, b) => (a.package < b.package ? -1 : 1));
    expect(await found(vm)).toEqual([
      {
        advisoryId: "RUSTSEC-2021-9004",
        cve: "CVE-2021-94290",
        ecosystem: "crates.io",
        package: "crossbeam-deque",
        installedVersion: "0.8.0",
        fixedVersion: "0.8.1",
        severity: "HIGH",
        status: "OPEN",
      },
      {
        advisoryId: "GO-2021-9012",
        cve: "CVE-2021-94565",
        ecosystem: "Go",
        package: "golang.org/x/crypto",
        installedVersion: "v0.0.0-20201216223049-8b5274cf687f",
        fixedVersion: "0.0.0-20211202192323-5770296d904e",
        severity: "UNKNOWN",
        status: "OPEN",
      },
      {
        advisoryId: "GHSA-9fq4-m7xr-w3c2",
        cve: "CVE-2021-94228",
        ecosystem: "Maven",
        package: "org.apache.logging.log4j:log4j-core",
        installedVersion: "2.14.1",
        fixedVersion: "2.15.0",
        severity: "CRITICAL",
        status: "OPEN",
      },
      {
        advisoryId: "GO-2021-9012",
        cve: "CVE-2021-94565",
        ecosystem: "Go",
        package: "stdlib",
        installedVersion: "v1.17.3",
        fixedVersion: "1.17.5",
        severity: "UNKNOWN",
        status: "OPEN",
      },
    ]);
    expect((await vulns(vm)).vulnerabilitySummary).toMatchObject({
      covered: true,
      critical: 1,
      high: 1,
      total: 4,
    });
    expect(await found(cluster)).toEqual([
      expect.objectContaining({
        advisoryId: "RUSTSEC-2021-9004",
        ecosystem: "crates.io",
        package: "crossbeam_deque",
        installedVersion: "0.7.3",
        fixedVersion: "0.7.4",
      }),
    ]);
    expect((await vulns(cluster)).vulnerabilitySummary).toMatchObject({ covered: true, total: 1 });
  });
});
