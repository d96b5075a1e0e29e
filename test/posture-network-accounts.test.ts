import {
  CreatePolicyDefinitionDocument,
  NetworkMapDocument,
  NetworkOverviewDocument,
  RemoveResourcesDocument,
  ResourceNeighboursDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type NetworkMapQuery,
  type ResourceInput,
} from "./__generated__/graphql";
import { inTenant, Role, sqlStatementCount } from "../subgraphs/common/src";
import { problems } from "./utils/errors";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * The network map across the cloud accounts of one tenant: an Azure hub and spoke in two subscriptions and
 * two AWS accounts joined by a VPC peering, ingested through the gateway. Peered neighbours in another account
 * show in the map of every account and in each account's own map (marked with their account), a peering to a
 * network outside the tenant's inventory is an EXTERNAL_NETWORK known only by its id — even when another
 * tenant holds a VNet of that id — and a change in one account's rules changes the other's edges.
 */
describe("network map across the accounts of a tenant", () => {
  let platform: TestPlatform;
  let tokens: Record<"adminA" | "readerA" | "adminB" | "readerB", string>;
  let acct: Record<"hub" | "spoke" | "app" | "db", string>;
  let acctB: string;
  /** Resource id by name, tenant A. */
  const ids = new Map<string, string>();

  const sub = (n: number) => `/subscriptions/${String(n).repeat(8)}-0000-0000-0000-000000000000`;
  const rg = (n: number) => `${sub(n)}/resourceGroups/rg-net/providers`;
  const HUB = rg(1);
  const SPOKE = rg(2);
  /** A partner's VNet the hub peers with: not in tenant A's inventory, but tenant B has a VNet of this id. */
  const PARTNER = `${rg(9)}/Microsoft.Network/virtualNetworks/vnet-partner`;
  const armPeering = (remote: string) => ({
    name: `peer-${remote.split("/").pop()}`,
    properties: {
      remoteVirtualNetwork: { id: remote },
      peeringState: "Connected",
      allowVirtualNetworkAccess: true,
    },
  });
  const nsgRule = (name: string, priority: number, access: string, source: string, port: string) => ({
    name,
    properties: {
      priority,
      direction: "Inbound",
      access,
      protocol: "Tcp",
      sourceAddressPrefix: source,
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: port,
    },
  });

  /** A VNet with a subnet (behind an NSG when rules are given), a NIC and a VM. */
  function azureNetwork(
    accountId: string,
    at: string,
    name: string,
    ip: string,
    peerings: unknown[],
    rules?: unknown[],
  ): ResourceInput[] {
    const vnet = `${at}/Microsoft.Network/virtualNetworks/vnet-${name}`;
    const subnet = `${vnet}/subnets/default`;
    const nsg = `${at}/Microsoft.Network/networkSecurityGroups/nsg-${name}`;
    const nic = `${at}/Microsoft.Network/networkInterfaces/nic-${name}`;
    const r = (
      externalId: string,
      type: string,
      resourceName: string,
      properties: Record<string, unknown>,
    ) => ({
      accountId,
      externalId,
      type,
      name: resourceName,
      region: "westeurope",
      properties,
    });
    return [
      r(vnet, "Microsoft.Network/virtualNetworks", `vnet-${name}`, {
        addressSpace: { addressPrefixes: [`${ip.split(".").slice(0, 2).join(".")}.0.0/16`] },
        virtualNetworkPeerings: peerings,
      }),
      r(subnet, "Microsoft.Network/virtualNetworks/subnets", `snet-${name}`, {
        ...(rules ? { networkSecurityGroup: { id: nsg } } : {}),
      }),
      ...(rules
        ? [r(nsg, "Microsoft.Network/networkSecurityGroups", `nsg-${name}`, { securityRules: rules })]
        : []),
      r(nic, "Microsoft.Network/networkInterfaces", `nic-${name}`, {
        ipConfigurations: [
          { name: "ipconfig1", properties: { privateIPAddress: ip, subnet: { id: subnet } } },
        ],
      }),
      r(
        `${at}/Microsoft.Compute/virtualMachines/vm-${name}`,
        "Microsoft.Compute/virtualMachines",
        `vm-${name}`,
        {
          posture: "unreviewed",
          networkProfile: { networkInterfaces: [{ id: nic }] },
        },
      ),
    ];
  }

  const awsArn = (account: string, kind: string, id: string) =>
    `arn:aws:ec2:eu-west-1:${account}:${kind}/${id}`;
  const awsResource = (
    accountId: string,
    owner: string,
    type: string,
    kind: string,
    id: string,
    properties: Record<string, unknown>,
  ): ResourceInput => ({
    accountId,
    externalId: awsArn(owner, kind, id),
    type,
    name: id,
    region: "eu-west-1",
    properties,
  });
  const dbGroup = (toPort: number) =>
    awsResource(acct.db, "222222222222", "AWS::EC2::SecurityGroup", "security-group", "sg-db", {
      GroupId: "sg-db",
      IpPermissions: [
        { IpProtocol: "tcp", FromPort: 5432, ToPort: toPort, IpRanges: [{ CidrIp: "10.11.0.0/16" }] },
      ],
    });
  const spokeRules = (extra: unknown[] = []) => [
    nsgRule("DenyRdpFromVnet", 100, "Deny", "VirtualNetwork", "3389"),
    ...extra,
  ];

  const upsert = async (input: ResourceInput[], token: string) => {
    const res = ok(await platform.request(UpsertResourcesDocument, { input }, token)).upsertResources;
    return res.ids.map((id, i) => [input[i].name, id!] as const);
  };
  const map = async (accountId: string | null, token = tokens.readerA) =>
    ok(await platform.request(NetworkMapDocument, { accountId, minSeverity: "HIGH" }, token)).networkMap;
  type Map = NetworkMapQuery["networkMap"];
  const node = (m: Map, name: string) => m.nodes.find((n) => n.name === name);
  const link = (m: Map, from: string, to: string, kind: string) =>
    m.edges.find((e) => e.from === ids.get(from) && e.to === ids.get(to) && e.kind === kind);

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    tokens = await platform.tokens({
      adminA: [[Role.ADMIN], "tenant-net-a"],
      readerA: [[Role.READER], "tenant-net-a"],
      adminB: [[Role.ADMIN], "tenant-net-b"],
      readerB: [[Role.READER], "tenant-net-b"],
    });
    const accounts = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: sub(1).split("/")[2], name: "Hub" },
            { provider: "AZURE", externalId: sub(2).split("/")[2], name: "Spoke" },
            { provider: "AWS", externalId: "111111111111", name: "App" },
            { provider: "AWS", externalId: "222222222222", name: "Db" },
          ],
        },
        tokens.adminA,
      ),
    ).upsertCloudAccounts;
    acct = { hub: accounts[0].id, spoke: accounts[1].id, app: accounts[2].id, db: accounts[3].id };
    acctB = ok(
      await platform.request(
        UpsertAccountsDocument,
        { input: [{ provider: "AZURE", externalId: sub(9).split("/")[2], name: "Partner" }] },
        tokens.adminB,
      ),
    ).upsertCloudAccounts[0].id;
    // Every VM and instance fails a HIGH recommendation, so the HIGH map shows them and what connects them.
    for (const token of [tokens.adminA, tokens.adminB])
      ok(
        await platform.request(
          CreatePolicyDefinitionDocument,
          {
            input: {
              title: "Machines should be reviewed",
              severity: "HIGH",
              controlId: "remediate-security-configurations",
              resourceTypes: ["Microsoft.Compute/virtualMachines", "AWS::EC2::Instance"],
              condition: { field: "properties.posture", equals: "unreviewed" },
            },
          },
          token,
        ),
      );

    const inventory: ResourceInput[] = [
      ...azureNetwork(acct.hub, HUB, "hub", "10.1.0.4", [
        armPeering(`${SPOKE}/Microsoft.Network/virtualNetworks/vnet-spoke`),
        armPeering(PARTNER),
      ]),
      ...azureNetwork(
        acct.spoke,
        SPOKE,
        "spoke",
        "10.2.0.4",
        [armPeering(`${HUB}/Microsoft.Network/virtualNetworks/vnet-hub`)],
        spokeRules(),
      ),
      awsResource(acct.app, "111111111111", "AWS::EC2::VPC", "vpc", "vpc-app", { VpcId: "vpc-app" }),
      awsResource(acct.db, "222222222222", "AWS::EC2::VPC", "vpc", "vpc-db", { VpcId: "vpc-db" }),
      // SSH into the app from the database account's group, referenced by id across the peering.
      awsResource(acct.app, "111111111111", "AWS::EC2::SecurityGroup", "security-group", "sg-app", {
        GroupId: "sg-app",
        IpPermissions: [
          {
            IpProtocol: "tcp",
            FromPort: 22,
            ToPort: 22,
            UserIdGroupPairs: [{ UserId: "222222222222", GroupId: "sg-db" }],
          },
        ],
      }),
      dbGroup(5432),
      awsResource(acct.app, "111111111111", "AWS::EC2::Instance", "instance", "i-app", {
        InstanceId: "i-app",
        VpcId: "vpc-app",
        PrivateIpAddress: "10.11.0.10",
        SecurityGroups: [{ GroupId: "sg-app" }],
        posture: "unreviewed",
      }),
      awsResource(acct.db, "222222222222", "AWS::EC2::Instance", "instance", "i-db", {
        InstanceId: "i-db",
        VpcId: "vpc-db",
        PrivateIpAddress: "10.12.0.10",
        SecurityGroups: [{ GroupId: "sg-db" }],
        posture: "unreviewed",
      }),
      // The peering connection is inventoried in the requester's account only.
      awsResource(
        acct.app,
        "111111111111",
        "AWS::EC2::VPCPeeringConnection",
        "vpc-peering-connection",
        "pcx-1",
        {
          RequesterVpcInfo: { VpcId: "vpc-app", OwnerId: "111111111111" },
          AccepterVpcInfo: { VpcId: "vpc-db", OwnerId: "222222222222" },
          Status: { Code: "active" },
        },
      ),
    ];
    for (const [name, id] of await upsert(inventory, tokens.adminA)) ids.set(name, id);

    // Tenant B holds a VNet whose ARM id is exactly tenant A's peering target, with a VM in it.
    const partner = azureNetwork(acctB, rg(9), "partner", "10.9.0.4", [
      armPeering(`${HUB}/Microsoft.Network/virtualNetworks/vnet-hub`),
    ]).map((r) => ({ ...r, name: r.name.replace("partner", "tenant-b-secret") }));
    expect(partner[0].externalId).toBe(PARTNER);
    await upsert(partner, tokens.adminB);
  });
  afterAll(() => platform?.stop());

  it("joins the Azure subscriptions' VMs across the hub-spoke peering in the map of every account", async () => {
    const all = await map(null);
    expect(link(all, "vnet-hub", "vnet-spoke", "PEERED_WITH")).toBeDefined();
    expect(link(all, "vnet-spoke", "vnet-hub", "PEERED_WITH")).toBeDefined();
    expect(link(all, "vm-hub", "vm-spoke", "ALLOWS_TRAFFIC")).toEqual({
      from: ids.get("vm-hub"),
      to: ids.get("vm-spoke"),
      kind: "ALLOWS_TRAFFIC",
      ports: [
        { protocol: "TCP", fromPort: 0, toPort: 3388 },
        { protocol: "TCP", fromPort: 3390, toPort: 65535 },
        { protocol: "UDP", fromPort: 0, toPort: 65535 },
        { protocol: "ICMP", fromPort: 0, toPort: 65535 },
      ],
      rules: ["nsg-spoke/AllowVnetInBound"],
    });
    expect(link(all, "vm-spoke", "vm-hub", "ALLOWS_TRAFFIC")?.ports).toEqual([
      { protocol: "ANY", fromPort: 0, toPort: 65535 },
    ]);
    expect(node(all, "vm-hub")?.accountId).toBe(acct.hub);
    expect(node(all, "vm-spoke")?.accountId).toBe(acct.spoke);
  });

  it("joins the AWS accounts' instances across the VPC peering, by CIDR and by the peer account's group", async () => {
    const all = await map(null);
    expect(link(all, "vpc-app", "vpc-db", "PEERED_WITH")).toBeDefined();
    expect(link(all, "vpc-db", "vpc-app", "PEERED_WITH")).toBeDefined();
    expect(link(all, "i-app", "i-db", "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [{ protocol: "TCP", fromPort: 5432, toPort: 5432 }],
      rules: ["sg-db"],
    });
    expect(link(all, "i-db", "i-app", "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [{ protocol: "TCP", fromPort: 22, toPort: 22 }],
      rules: ["sg-app"],
    });
  });

  it("shows one account's neighbours in other accounts, marked with their account", async () => {
    const spoke = await map(acct.spoke);
    expect(node(spoke, "vnet-hub")).toMatchObject({ kind: "VIRTUAL_NETWORK", accountId: acct.hub });
    expect(node(spoke, "vm-hub")).toMatchObject({ kind: "VIRTUAL_MACHINE", accountId: acct.hub });
    expect(link(spoke, "vm-hub", "vm-spoke", "ALLOWS_TRAFFIC")).toBeDefined();
    expect(link(spoke, "vm-spoke", "vm-hub", "ALLOWS_TRAFFIC")).toBeDefined();
    expect(link(spoke, "vnet-spoke", "vnet-hub", "PEERED_WITH")).toBeDefined();
    // Only the spoke's own and its neighbours: nothing of AWS, not the hub's NSG-less infrastructure beyond
    // what places its VM, not the hub's peering to the partner.
    expect(spoke.nodes.map((n) => n.name).sort()).toEqual(
      [
        "nic-hub",
        "nic-spoke",
        "nsg-spoke",
        "snet-hub",
        "snet-spoke",
        "vm-hub",
        "vm-spoke",
        "vnet-hub",
        "vnet-spoke",
      ].sort(),
    );
    expect(spoke.nodes.filter((n) => n.accountId === acct.spoke).map((n) => n.name)).toHaveLength(5);

    const db = await map(acct.db);
    expect(node(db, "vpc-app")).toMatchObject({ accountId: acct.app });
    expect(node(db, "i-app")).toMatchObject({ accountId: acct.app });
    expect(link(db, "i-app", "i-db", "ALLOWS_TRAFFIC")?.rules).toEqual(["sg-db"]);
    expect(link(db, "vpc-db", "vpc-app", "PEERED_WITH")).toBeDefined();
  });

  it("lists neighbours in another account in Resource.networkNeighbours, as the map does", async () => {
    const neighbours = async (name: string) =>
      ok(
        await platform.request(ResourceNeighboursDocument, { id: ids.get(name)!, first: 50 }, tokens.readerA),
      ).resource!.networkNeighbours.nodes;
    expect((await neighbours("vm-spoke")).map((n) => [n.direction, n.name, n.resource?.account.id])).toEqual([
      ["INBOUND", "vm-hub", acct.hub],
      ["OUTBOUND", "vm-hub", acct.hub],
    ]);
    const db = await neighbours("i-db");
    expect(db.map((n) => [n.direction, n.name, n.rules])).toEqual([
      ["INBOUND", "i-app", ["sg-db"]],
      ["OUTBOUND", "i-app", ["sg-app"]],
    ]);
  });

  it("shows a peering to a network outside the tenant's inventory as an external network, with nothing of another tenant", async () => {
    const external = {
      id: `external:${PARTNER.toLowerCase()}`,
      kind: "EXTERNAL_NETWORK",
      name: PARTNER,
      accountId: null,
      internetExposed: false,
      highestSeverity: null,
      unhealthyRecommendations: 0,
    };
    const hub = await map(acct.hub);
    expect(hub.nodes.filter((n) => n.kind === "EXTERNAL_NETWORK")).toEqual([external]);
    expect(
      hub.edges.filter((e) => e.from === external.id || e.to === external.id).map((e) => e.kind),
    ).toEqual(["PEERED_WITH", "PEERED_WITH"]);
    // Tenant B's VNet of that id, its VM and their names appear nowhere in tenant A's maps.
    const b = await map(null, tokens.readerB);
    const bIds = new Set(b.nodes.map((n) => n.id));
    expect(b.nodes.map((n) => n.name)).toContain("vm-tenant-b-secret");
    for (const m of [await map(null), hub, await map(acct.spoke), await map(acct.app), await map(acct.db)]) {
      expect(m.nodes.filter((n) => bIds.has(n.id) || n.name.includes("tenant-b"))).toEqual([]);
      expect(JSON.stringify(m)).not.toContain("tenant-b-secret");
    }
    // Nor do tenant A's hub or the peering's far side show in tenant B's map, nor B's account in A's view.
    expect(b.nodes.some((n) => [...ids.values()].includes(n.id))).toBe(false);
    expect(await map(acctB)).toEqual({ nodes: [], edges: [] });
    expect(b.nodes.filter((n) => n.kind === "EXTERNAL_NETWORK").map((n) => n.name)).toEqual([
      `${HUB}/Microsoft.Network/virtualNetworks/vnet-hub`,
    ]);
  });

  it("folds the maps into one node per network (detail: NETWORKS), with nothing of another tenant", async () => {
    const overview = async (accountId: string | null, token = tokens.readerA) =>
      ok(await platform.request(NetworkOverviewDocument, { accountId, minSeverity: "HIGH" }, token))
        .networkMap;
    const all = await overview(null);
    const resources = await map(null);
    const network = (name: string) => all.nodes.find((n) => n.name === name);
    // Each network's node sums up the resources the resource map shows in it.
    const members: Record<string, string[]> = {
      "vnet-hub": ["vnet-hub", "snet-hub", "nic-hub", "vm-hub"],
      "vnet-spoke": ["vnet-spoke", "snet-spoke", "nsg-spoke", "nic-spoke", "vm-spoke"],
      "vpc-app": ["vpc-app", "sg-app", "i-app"],
      "vpc-db": ["vpc-db", "sg-db", "i-db"],
    };
    expect(all.nodes.map((n) => n.name).sort()).toEqual([...Object.keys(members), PARTNER].sort());
    for (const [name, names] of Object.entries(members)) {
      const shown = resources.nodes.filter((n) => names.includes(n.name));
      expect(shown).toHaveLength(names.length);
      expect(network(name)).toMatchObject({
        id: ids.get(name),
        accountId: shown[0].accountId,
        highestSeverity: "HIGH",
        internetExposed: false,
        unhealthyRecommendations: shown.reduce((sum, n) => sum + n.unhealthyRecommendations, 0),
        contents: {
          resources: names.length,
          subnets: name.startsWith("vnet") ? 1 : 0,
          virtualMachines: 1,
          exposedVirtualMachines: 0,
        },
      });
    }
    expect(network(PARTNER)).toMatchObject({ kind: "EXTERNAL_NETWORK", contents: null });
    // Peerings join the networks; the traffic between their VMs is one edge per pair of networks.
    const edge = (from: string, to: string, kind: string) =>
      all.edges.find((e) => e.from === ids.get(from) && e.to === ids.get(to) && e.kind === kind);
    expect(edge("vnet-hub", "vnet-spoke", "PEERED_WITH")).toMatchObject({ connections: 1, ports: [] });
    expect(edge("vpc-db", "vpc-app", "PEERED_WITH")).toBeDefined();
    const hubToSpoke = link(resources, "vm-hub", "vm-spoke", "ALLOWS_TRAFFIC")!;
    expect(edge("vnet-hub", "vnet-spoke", "ALLOWS_TRAFFIC")).toEqual({
      ...hubToSpoke,
      from: ids.get("vnet-hub"),
      to: ids.get("vnet-spoke"),
      connections: 1,
    });
    expect(edge("vpc-app", "vpc-db", "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [{ protocol: "TCP", fromPort: 5432, toPort: 5432 }],
      rules: ["sg-db"],
      connections: 1,
    });
    expect(all.edges.filter((e) => !["PEERED_WITH", "ALLOWS_TRAFFIC"].includes(e.kind))).toEqual([]);

    // One account's overview: its network and the neighbours its map shows, as far as that map shows them.
    const spoke = await overview(acct.spoke);
    expect(spoke.nodes.map((n) => [n.name, n.accountId, n.contents?.resources])).toEqual(
      expect.arrayContaining([
        ["vnet-spoke", acct.spoke, 5],
        ["vnet-hub", acct.hub, 4],
      ]),
    );
    expect(spoke.nodes).toHaveLength(2);

    // Tenant B's overview shows its own network; none of it appears in tenant A's, nor A's in B's.
    const b = await overview(null, tokens.readerB);
    expect(b.nodes.map((n) => [n.name, n.contents?.virtualMachines])).toContainEqual([
      "vnet-tenant-b-secret",
      1,
    ]);
    for (const m of [all, spoke, await overview(acct.hub), await overview(acct.db)])
      expect(JSON.stringify(m)).not.toContain("tenant-b");
    expect(b.nodes.some((n) => [...ids.values()].includes(n.id))).toBe(false);
    expect(await overview(acctB)).toEqual({ nodes: [], edges: [] });
  });

  it("drills down from a network of the NETWORKS view to what lies in it (networkId), with nothing of another tenant", async () => {
    const drill = async (networkId: string, token = tokens.readerA) =>
      ok(await platform.request(NetworkMapDocument, { networkId, minSeverity: "HIGH" }, token)).networkMap;
    const overview = async (networkId: string | null) =>
      ok(await platform.request(NetworkOverviewDocument, { networkId, minSeverity: "HIGH" }, tokens.readerA))
        .networkMap;
    const names = (m: Map) => m.nodes.map((n) => n.name).sort();
    // The spoke's network: what lies in it, the hub's VNet it peers with, and the hub's VM that exchanges traffic
    // with its VM, placed in its network; nothing of the hub's other peering.
    const spoke = await drill(ids.get("vnet-spoke")!);
    expect(names(spoke)).toEqual(
      ["vnet-spoke", "snet-spoke", "nsg-spoke", "nic-spoke", "vm-spoke"]
        .concat(["vnet-hub", "snet-hub", "nic-hub", "vm-hub"])
        .sort(),
    );
    expect(link(spoke, "vm-hub", "vm-spoke", "ALLOWS_TRAFFIC")).toBeDefined();
    expect(link(spoke, "vnet-spoke", "vnet-hub", "PEERED_WITH")).toBeDefined();
    // The app's VPC: its group and instance, the peered database VPC and its instance, not the database's group.
    expect(names(await drill(ids.get("vpc-app")!))).toEqual(["i-app", "i-db", "sg-app", "vpc-app", "vpc-db"]);

    // Every network of the overview: the drill-down's nodes and edges are those of the map of every account, and
    // its own NETWORKS view sums the network up as the overview does.
    const all = await map(null);
    const networks = (await overview(null)).nodes.filter((n) => n.kind === "VIRTUAL_NETWORK");
    expect(networks).toHaveLength(4);
    for (const network of networks) {
      const m = await drill(network.id);
      expect(m.nodes.length).toBeGreaterThan(network.contents!.resources);
      for (const n of m.nodes) expect(all.nodes).toContainEqual(n);
      for (const e of m.edges) expect(all.edges).toContainEqual(e);
      expect((await overview(network.id)).nodes.find((n) => n.id === network.id)).toEqual(network);
    }

    // Nothing of tenant B's network for tenant A, nor of A's for B; an unknown id finds nothing either.
    const bNetwork = (await map(null, tokens.readerB)).nodes.find((n) => n.name === "vnet-tenant-b-secret")!;
    expect(await drill(bNetwork.id)).toEqual({ nodes: [], edges: [] });
    expect(await drill(ids.get("vnet-hub")!, tokens.readerB)).toEqual({ nodes: [], edges: [] });
    expect(await drill("00000000-0000-4000-8000-000000000000")).toEqual({ nodes: [], edges: [] });
    expect(names(await drill(bNetwork.id, tokens.readerB))).toContain("vm-tenant-b-secret");
    // The id of a network's map is a VNet/VPC's; one map is of an account or of a network.
    const refused = (variables: Record<string, unknown>) =>
      platform.request(NetworkMapDocument, { minSeverity: "HIGH", ...variables }, tokens.readerA);
    expect(problems(await refused({ networkId: ids.get("snet-spoke") }))).toEqual([
      "networkId: names a SUBNET, not a VNet/VPC",
    ]);
    expect(problems(await refused({ networkId: "internet" }))).toEqual([
      "networkId: must be the id (UUID) of a VNet/VPC, as the NETWORKS view gives it",
    ]);
    expect(problems(await refused({ networkId: ids.get("vnet-spoke"), accountId: acct.spoke }))).toEqual([
      "accountId: give accountId or networkId, not both",
    ]);
  });

  it("changes one account's cross-account edges when the other account's rules change", async () => {
    await upsert(
      azureNetwork(
        acct.spoke,
        SPOKE,
        "spoke",
        "10.2.0.4",
        [armPeering(`${HUB}/Microsoft.Network/virtualNetworks/vnet-hub`)],
        spokeRules([nsgRule("DenyHubVm", 110, "Deny", "10.1.0.4", "*")]),
      ).filter((r) => r.name === "nsg-spoke"),
      tokens.adminA,
    );
    // The spoke's new rule denies TCP from the hub's VM: the hub's map loses those ports of its edge.
    expect(link(await map(acct.hub), "vm-hub", "vm-spoke", "ALLOWS_TRAFFIC")?.ports).toEqual([
      { protocol: "UDP", fromPort: 0, toPort: 65535 },
      { protocol: "ICMP", fromPort: 0, toPort: 65535 },
    ]);
    expect(link(await map(acct.hub), "vm-spoke", "vm-hub", "ALLOWS_TRAFFIC")).toBeDefined();

    await upsert([dbGroup(5433)], tokens.adminA);
    expect(link(await map(acct.app), "i-app", "i-db", "ALLOWS_TRAFFIC")?.ports).toEqual([
      { protocol: "TCP", fromPort: 5432, toPort: 5433 },
    ]);
  });

  it("reads one account's map and every account's in a fixed number of statements", async () => {
    const count = async (accountId: string | null) => {
      const before = await sqlStatementCount("posture");
      await map(accountId);
      return (await sqlStatementCount("posture")) - before;
    };
    // A change to the tenant's inventory first, so that no topology is kept from the tests before.
    await upsert([dbGroup(5434)], tokens.adminA);
    // One account: BEGIN, set tenant, the tenant's inventory token, the account's network resources, those of its
    // neighbour accounts (one statement finding them too), those of the accounts naming the neighbours' VMs and
    // NICs its map shows from their side (the same statement, finding none here), the nodes' unhealthy
    // assessments, the tenant's custom and external definitions, COMMIT. Every account: the tenant's network
    // resources in one statement instead of the three.
    expect(await count(acct.spoke)).toBe(10);
    expect(await count(acct.hub)).toBe(10);
    expect(await count(null)).toBe(8);
    // Asked again with the inventory unchanged, each topology is kept: the token instead of its reads.
    expect(await count(acct.spoke)).toBe(7);
    expect(await count(acct.hub)).toBe(7);
    expect(await count(null)).toBe(7);
    // The NETWORKS view reads what the resource view does.
    const before = await sqlStatementCount("posture");
    ok(await platform.request(NetworkOverviewDocument, { accountId: acct.spoke }, tokens.readerA));
    expect((await sqlStatementCount("posture")) - before).toBe(7);
    // One network's map reads the tenant's topology as the map of every account does (kept here).
    const drill = async () => {
      const start = await sqlStatementCount("posture");
      ok(
        await platform.request(
          NetworkMapDocument,
          { networkId: ids.get("vnet-hub"), minSeverity: "HIGH" },
          tokens.readerA,
        ),
      );
      return (await sqlStatementCount("posture")) - start;
    };
    expect(await drill()).toBe(7);
    // Read and built again after a change (put back after, as the tests below expect the group).
    await upsert([dbGroup(5436)], tokens.adminA);
    expect(await drill()).toBe(8);
    expect(await drill()).toBe(7);
    await upsert([dbGroup(5434)], tokens.adminA);
  });

  it("replaces the token also for a change made outside any tenant's transaction (a data migration by the owner)", async () => {
    const ds = await platform.connect("posture");
    const tokenOf = async (tenant: string) =>
      inTenant(ds, tenant, async (m) =>
        ((await m.query(`SELECT token FROM inventory_versions`)) as Array<{ token: string }>).map(
          (r) => r.token,
        ),
      );
    const before = { a: await tokenOf("tenant-net-a"), b: await tokenOf("tenant-net-b") };
    // As a migration does: the owner lifts the forced policy of the resources (and of the key tables their other
    // triggers write) and changes rows of two tenants at once, with no tenant set. The token's trigger needs no
    // such help: it writes each tenant's token under that tenant, then puts the setting back.
    const lifted = ["resources", "resource_peering_keys", "resource_reference_keys"];
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      for (const table of lifted) await runner.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
      await runner.query(
        `UPDATE resources SET properties = properties || '{"migrated": true}'
          WHERE tenant_id IN ('tenant-net-a', 'tenant-net-b') AND name LIKE 'vnet-%'`,
      );
      expect(
        (await runner.query(`SELECT current_setting('rampart.tenant_id', true) AS t`)) as Array<{
          t: string;
        }>,
      ).toEqual([{ t: "" }]);
      for (const table of lifted) await runner.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    const after = { a: await tokenOf("tenant-net-a"), b: await tokenOf("tenant-net-b") };
    expect(after.a).toHaveLength(1);
    expect(after.b).toHaveLength(1);
    expect(after.a).not.toEqual(before.a);
    expect(after.b).not.toEqual(before.b);
  });

  it("keeps a topology between requests until the tenant's own inventory changes, and shows every change", async () => {
    const count = async (accountId: string) => {
      const before = await sqlStatementCount("posture");
      const m = await map(accountId);
      return { statements: (await sqlStatementCount("posture")) - before, m };
    };
    const ds = await platform.connect("posture");
    // Through the subgraph's role: the tenant policy shows tenant A's token only.
    const inventoryToken = () =>
      inTenant(ds, "tenant-net-a", async (m) =>
        ((await m.query(`SELECT token FROM inventory_versions`)) as Array<{ token: string }>).map(
          (r) => r.token,
        ),
      );
    await count(acct.app);
    expect((await count(acct.app)).statements).toBe(7);
    const before = await inventoryToken();
    expect(before).toHaveLength(1);

    // Sending the same resources again (an inventory sync that finds nothing new) changes nothing kept.
    await upsert([dbGroup(5434)], tokens.adminA);
    expect(await inventoryToken()).toEqual(before);
    expect((await count(acct.app)).statements).toBe(7);

    // Another tenant's change neither.
    await upsert(
      azureNetwork(acctB, rg(9), "partner", "10.9.0.9", []).filter((r) => r.name === "vnet-partner"),
      tokens.adminB,
    );
    expect(await inventoryToken()).toEqual(before);
    expect((await count(acct.app)).statements).toBe(7);

    // A change in another account of the tenant shows at once: the db account's group opens one more port.
    await upsert([dbGroup(5435)], tokens.adminA);
    const changed = await count(acct.app);
    expect(changed.statements).toBe(10);
    expect(link(changed.m, "i-app", "i-db", "ALLOWS_TRAFFIC")?.ports).toEqual([
      { protocol: "TCP", fromPort: 5432, toPort: 5435 },
    ]);

    // So does a removal: without the database's group nothing of the app's may reach the db instance.
    const removed = ok(
      await platform.request(RemoveResourcesDocument, { ids: [ids.get("sg-db")!] }, tokens.adminA),
    ).removeResources;
    expect(removed.removedCount).toBe(1);
    const after = await count(acct.app);
    expect(after.statements).toBe(10);
    expect(link(after.m, "i-app", "i-db", "ALLOWS_TRAFFIC")).toBeUndefined();
    expect(await inventoryToken()).not.toEqual(before);
  });
});
