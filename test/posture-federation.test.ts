import {
  AccountComplianceStandardsDocument,
  AccountsComplianceDocument,
  ResourceNeighboursDocument,
  ResourcesNeighboursDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { Role, sqlStatementCount } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * The fields the federation map gives posture on the shared entities: `CloudAccount.compliance` (the account's
 * regulatory compliance, as `complianceStandards(accountId:)` reports it) and `Resource.networkNeighbours` (the
 * resources a resource can reach or be reached from per the network map), through the gateway.
 */
describe("posture fields on CloudAccount and Resource", () => {
  let platform: TestPlatform;

  const SUB_A = "/subscriptions/0b6e5f3a-1111-4c2d-9e8f-000000000001/resourceGroups/rg-prod/providers";
  const SUB_B = "/subscriptions/0b6e5f3a-2222-4c2d-9e8f-000000000002/resourceGroups/rg-prod/providers";
  const T = {
    vnet: "Microsoft.Network/virtualNetworks",
    subnet: "Microsoft.Network/virtualNetworks/subnets",
    nsg: "Microsoft.Network/networkSecurityGroups",
    nic: "Microsoft.Network/networkInterfaces",
    pip: "Microsoft.Network/publicIPAddresses",
    vm: "Microsoft.Compute/virtualMachines",
    vault: "Microsoft.KeyVault/vaults",
  };
  const arm = (sub: string, type: string, name: string) => `${sub}/${type}/${name}`;
  const rule = (
    name: string,
    priority: number,
    access: string,
    source: string,
    port: string,
    protocol = "Tcp",
  ) => ({
    name,
    properties: {
      priority,
      direction: "Inbound",
      access,
      protocol,
      sourceAddressPrefix: source,
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: port,
    },
  });

  /**
   * Account A's network: VNet vnet-prod with snet-web (NSG nsg-web: SSH from the app subnet, HTTPS from the
   * internet, the rest of the VNet denied) and snet-app (no NSG); vm-web (public IP) and vm-db in snet-web,
   * vm-app in snet-app.
   */
  const network = (accountId: string, sub: string): ResourceInput[] => {
    const subnet = (name: string) => `${arm(sub, T.vnet, "vnet-prod")}/subnets/${name}`;
    const nic = (name: string, snet: string, ip: string, pip?: string): ResourceInput => ({
      accountId,
      externalId: arm(sub, T.nic, name),
      type: T.nic,
      name,
      properties: {
        ipConfigurations: [
          {
            name: "ipconfig1",
            id: `${arm(sub, T.nic, name)}/ipConfigurations/ipconfig1`,
            properties: {
              privateIPAddress: ip,
              subnet: { id: subnet(snet) },
              ...(pip ? { publicIPAddress: { id: arm(sub, T.pip, pip) } } : {}),
            },
          },
        ],
      },
    });
    const vm = (name: string, nicName: string): ResourceInput => ({
      accountId,
      externalId: arm(sub, T.vm, name),
      type: T.vm,
      name,
      properties: { networkProfile: { networkInterfaces: [{ id: arm(sub, T.nic, nicName) }] } },
    });
    return [
      {
        accountId,
        externalId: arm(sub, T.vnet, "vnet-prod"),
        type: T.vnet,
        name: "vnet-prod",
        properties: {},
      },
      {
        accountId,
        externalId: subnet("snet-web"),
        type: T.subnet,
        name: "snet-web",
        properties: {
          addressPrefix: "10.0.1.0/24",
          networkSecurityGroup: { id: arm(sub, T.nsg, "nsg-web") },
        },
      },
      {
        accountId,
        externalId: subnet("snet-app"),
        type: T.subnet,
        name: "snet-app",
        properties: { addressPrefix: "10.0.2.0/24" },
      },
      {
        accountId,
        externalId: arm(sub, T.nsg, "nsg-web"),
        type: T.nsg,
        name: "nsg-web",
        properties: {
          securityRules: [
            rule("AllowSshFromApp", 100, "Allow", "10.0.2.0/24", "22"),
            rule("AllowHttpsFromInternet", 110, "Allow", "Internet", "443"),
            rule("DenyVnet", 200, "Deny", "VirtualNetwork", "*", "*"),
          ],
        },
      },
      {
        accountId,
        externalId: arm(sub, T.pip, "pip-web"),
        type: T.pip,
        name: "pip-web",
        properties: { ipAddress: "20.30.40.50" },
      },
      nic("nic-web", "snet-web", "10.0.1.4", "pip-web"),
      nic("nic-db", "snet-web", "10.0.1.5"),
      nic("nic-app", "snet-app", "10.0.2.4"),
      vm("vm-web", "nic-web"),
      vm("vm-db", "nic-db"),
      vm("vm-app", "nic-app"),
    ];
  };
  const vault = (accountId: string, sub: string, name: string, recoverable: boolean): ResourceInput => ({
    accountId,
    externalId: arm(sub, T.vault, name),
    type: T.vault,
    name,
    properties: { enableSoftDelete: recoverable, enablePurgeProtection: recoverable },
  });

  interface Estate {
    reader: string;
    accounts: { a: string; b: string };
    ids: Map<string, string>;
  }

  /** A tenant with accounts A and B; `withVaults` adds an unrecoverable vault to A and a recoverable one to B. */
  const seed = async (tenant: string, withVaults: boolean): Promise<Estate> => {
    const admin = await platform.token([Role.ADMIN], tenant);
    const reader = await platform.token([Role.READER], tenant);
    const [a, b] = ok(
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
    ).upsertCloudAccounts.map((x) => x.id);
    const input = [
      ...network(a, SUB_A),
      ...(withVaults ? [vault(a, SUB_A, "kv-a", false), vault(b, SUB_B, "kv-b", true)] : []),
      {
        accountId: b,
        externalId: arm(SUB_B, T.vm, "vm-lonely"),
        type: T.vm,
        name: "vm-lonely",
        properties: {},
      },
    ];
    const { ids } = ok(await platform.request(UpsertResourcesDocument, { input }, admin)).upsertResources;
    return { reader, accounts: { a, b }, ids: new Map(input.map((r, i) => [r.name, ids[i]])) };
  };

  let one: Estate;
  let two: Estate;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    one = await seed("tenant-fed-one", true);
    // The same ARM ids in another tenant, without vaults.
    two = await seed("tenant-fed-two", false);
  });
  afterAll(() => platform?.stop());

  describe("CloudAccount.compliance", () => {
    it("gives each account its own compliance, equal to complianceStandards(accountId)", async () => {
      const accounts = ok(await platform.request(AccountsComplianceDocument, {}, one.reader)).accounts.nodes;
      expect(accounts.map((a) => a.id).sort()).toEqual([one.accounts.a, one.accounts.b].sort());
      for (const account of accounts) {
        const expected = ok(
          await platform.request(AccountComplianceStandardsDocument, { accountId: account.id }, one.reader),
        ).complianceStandards;
        expect(account.compliance).toEqual(expected);
        expect(account.compliance.map((s) => s.id).sort()).toEqual([
          "cis-foundations",
          "cloud-security-benchmark",
        ]);
      }
      const cis = (id: string) =>
        accounts.find((a) => a.id === id)!.compliance.find((s) => s.id === "cis-foundations")!;
      const recoverable = (id: string) => cis(id).controls.find((c) => c.id === "8.1")!;
      expect(recoverable(one.accounts.a)).toEqual({
        id: "8.1",
        state: "FAILED",
        passedResources: 0,
        failedResources: 1,
        passedResourcesPercentage: 0,
      });
      expect(recoverable(one.accounts.b)).toEqual({
        id: "8.1",
        state: "PASSED",
        passedResources: 1,
        failedResources: 0,
        passedResourcesPercentage: 100,
      });
      // The tenant counts both vaults: the account level really is restricted to the account.
      const tenant = ok(await platform.request(AccountComplianceStandardsDocument, {}, one.reader));
      expect(
        tenant.complianceStandards
          .find((s) => s.id === "cis-foundations")!
          .controls.find((c) => c.id === "8.1"),
      ).toMatchObject({
        state: "FAILED",
        passedResources: 1,
        failedResources: 1,
        passedResourcesPercentage: 50,
      });
      for (const s of accounts.flatMap((a) => a.compliance)) {
        const assessed = s.passedControls + s.failedControls;
        expect(s.passedControls + s.failedControls + s.skippedControls).toBe(s.controls.length);
        expect(s.passedControlsPercentage).toBe(
          assessed === 0 ? null : Math.round((s.passedControls / assessed) * 10000) / 100,
        );
      }
      expect(cis(one.accounts.a).failedControls).toBeGreaterThan(0);
      expect(cis(one.accounts.a)).not.toEqual(cis(one.accounts.b));
    });

    it("filters by standard (an unknown one gives none)", async () => {
      const only = ok(
        await platform.request(AccountsComplianceDocument, { standard: "cis-foundations" }, one.reader),
      ).accounts.nodes;
      const both = [one.accounts.a, one.accounts.b].sort();
      // The filter is on each account's standards, not on the accounts: the loops below check both.
      expect(only.map((a) => a.id).sort()).toEqual(both);
      for (const a of only) expect(a.compliance.map((s) => s.id)).toEqual(["cis-foundations"]);
      const none = ok(
        await platform.request(AccountsComplianceDocument, { standard: "no-such-standard" }, one.reader),
      ).accounts.nodes;
      expect(none.map((a) => a.id).sort()).toEqual(both);
      for (const a of none) expect(a.compliance).toEqual([]);
    });

    it("never counts another tenant's resources", async () => {
      const accounts = ok(await platform.request(AccountsComplianceDocument, {}, two.reader)).accounts.nodes;
      expect(accounts.map((a) => a.id).sort()).toEqual([two.accounts.a, two.accounts.b].sort());
      const cis = accounts.map((a) => a.compliance.find((s) => s.id === "cis-foundations")!);
      for (const s of cis) expect(s.controls.find((c) => c.id === "8.1")).toMatchObject({ state: "SKIPPED" });
    });

    it("reads the compliance of any number of accounts in a fixed number of statements", async () => {
      const count = async (first: number) => {
        const before = await sqlStatementCount("posture");
        ok(await platform.request(AccountsComplianceDocument, { first }, one.reader));
        return (await sqlStatementCount("posture")) - before;
      };
      // BEGIN, set tenant, the page of accounts, one compliance statement for all of them, COMMIT (at most).
      const single = await count(1);
      const both = await count(2);
      expect(both).toBe(single);
      expect(both).toBeLessThanOrEqual(7);
    });
  });

  describe("Resource.networkNeighbours", () => {
    const neighbours = async (
      e: Estate,
      name: string,
      vars: { first?: number; after?: string; direction?: "INBOUND" | "OUTBOUND" } = {},
    ) =>
      ok(await platform.request(ResourceNeighboursDocument, { id: e.ids.get(name)!, ...vars }, e.reader))
        .resource!.networkNeighbours;

    it("shows who reaches a VM, on which ports, through which rule", async () => {
      const web = await neighbours(one, "vm-web");
      expect(web.totalCount).toBe(3);
      expect(
        web.nodes.map((n) => ({
          ...n,
          resource: n.resource && { id: n.resource.id, name: n.resource.name },
        })),
      ).toEqual(
        [
          {
            direction: "INBOUND",
            internet: false,
            kind: "VIRTUAL_MACHINE",
            name: "vm-app",
            internetExposed: false,
            ports: [{ protocol: "TCP", fromPort: 22, toPort: 22 }],
            rules: ["nsg-web/AllowSshFromApp"],
            resource: { id: one.ids.get("vm-app"), name: "vm-app" },
          },
          {
            direction: "INBOUND",
            internet: true,
            kind: "INTERNET",
            name: "Internet",
            internetExposed: true,
            ports: [{ protocol: "TCP", fromPort: 443, toPort: 443 }],
            rules: ["nsg-web/AllowHttpsFromInternet"],
            resource: null,
          },
          {
            direction: "OUTBOUND",
            internet: false,
            kind: "VIRTUAL_MACHINE",
            name: "vm-app",
            internetExposed: false,
            ports: [{ protocol: "ANY", fromPort: 0, toPort: 65535 }],
            rules: [],
            resource: { id: one.ids.get("vm-app"), name: "vm-app" },
          },
        ].sort((x, y) =>
          `${x.direction}:${x.resource?.id ?? "internet"}` < `${y.direction}:${y.resource?.id ?? "internet"}`
            ? -1
            : 1,
        ),
      );
      // vm-db: only SSH from the app subnet; the rest of the VNet (vm-web) is denied.
      const db = await neighbours(one, "vm-db");
      expect(db.nodes.map((n) => [n.direction, n.name, n.ports, n.rules])).toEqual([
        ["INBOUND", "vm-app", [{ protocol: "TCP", fromPort: 22, toPort: 22 }], ["nsg-web/AllowSshFromApp"]],
        ["OUTBOUND", "vm-app", [{ protocol: "ANY", fromPort: 0, toPort: 65535 }], []],
      ]);
      // vm-app reaches both on SSH; the other direction vm-web's and vm-db's traffic is unfiltered.
      const app = await neighbours(one, "vm-app", { direction: "OUTBOUND" });
      expect(app.nodes.map((n) => n.name).sort()).toEqual(["vm-db", "vm-web"]);
      for (const n of app.nodes) expect(n.rules).toEqual(["nsg-web/AllowSshFromApp"]);
      expect(app.nodes.find((n) => n.name === "vm-web")!.internetExposed).toBe(true);
      // Resources without traffic: empty.
      expect((await neighbours(one, "vm-lonely")).totalCount).toBe(0);
      expect((await neighbours(one, "nsg-web")).nodes).toEqual([]);
    });

    it("pages through the neighbours", async () => {
      const all = await neighbours(one, "vm-web");
      const first = await neighbours(one, "vm-web", { first: 2 });
      expect(first.pageInfo.hasNextPage).toBe(true);
      const rest = await neighbours(one, "vm-web", { first: 2, after: first.pageInfo.endCursor! });
      expect(rest.pageInfo.hasNextPage).toBe(false);
      expect([...first.nodes, ...rest.nodes]).toEqual(all.nodes);
      const inbound = await neighbours(one, "vm-web", { direction: "INBOUND" });
      expect(inbound.nodes.map((n) => n.name)).toEqual(
        all.nodes.filter((n) => n.direction === "INBOUND").map((n) => n.name),
      );
    });

    it("keeps tenants apart: the same ARM ids elsewhere are another estate", async () => {
      const mine = new Set(one.ids.values());
      const theirs = new Set(two.ids.values());
      const web = await neighbours(two, "vm-web");
      expect(web.totalCount).toBe(3);
      // Two of them are a resource (vm-app, inbound and outbound; the third is the Internet): the checks below run.
      expect(web.nodes.filter((n) => n.resource).map((n) => n.resource!.id)).toEqual([
        two.ids.get("vm-app"),
        two.ids.get("vm-app"),
      ]);
      for (const n of web.nodes)
        if (n.resource) {
          expect(theirs.has(n.resource.id)).toBe(true);
          expect(mine.has(n.resource.id)).toBe(false);
          expect(n.resource.account.id).toBe(two.accounts.a);
        }
      // Tenant one's VM is not found from tenant two.
      const other = ok(
        await platform.request(ResourceNeighboursDocument, { id: one.ids.get("vm-web")! }, two.reader),
      );
      expect(other.resource).toBeNull();
    });

    it("loads the neighbours of a page of resources in a fixed number of statements", async () => {
      const count = async (first: number) => {
        const before = await sqlStatementCount("posture");
        const data = ok(
          await platform.request(
            ResourcesNeighboursDocument,
            { filter: { types: [T.vm] }, first },
            one.reader,
          ),
        );
        const after = await sqlStatementCount("posture");
        return { statements: after - before, resources: data.resources.nodes.length };
      };
      // Cold: the topology of the page's accounts is read and built (BEGIN, set tenant, page, count-less page
      // info, the inventory token, topology — the accounts, their neighbours —, neighbour resources, COMMIT).
      const cold = await count(4);
      expect(cold.resources).toBe(4);
      expect(cold.statements).toBeLessThanOrEqual(9);
      // Then kept between requests (the page of one resource is asked once first, as its accounts may be fewer):
      // the same statements whatever the page's size, the token instead of the topology's reads.
      await count(1);
      const small = await count(1);
      const large = await count(4);
      expect(small.resources).toBe(1);
      expect(large.resources).toBe(4);
      expect(large.statements).toBe(small.statements);
      expect(large.statements).toBeLessThanOrEqual(cold.statements - 1);
    });
  });
});
