import type { DataSource, EntityManager } from "typeorm";
import {
  CreatePolicyDefinitionDocument,
  UpsertAccountsDocument,
  UpsertResourcesDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { RequestDb, Role, type Identity } from "../subgraphs/common/src";
import { NetworkService } from "../subgraphs/posture/src/modules/network/network.service";
import { topologyCache } from "../subgraphs/posture/src/modules/network/network-topology-cache";
import { NetworkDirection } from "../subgraphs/posture/src/modules/network/network.types";
import { PoliciesService } from "../subgraphs/posture/src/modules/policies/policies.service";
import { PolicySeverity } from "../subgraphs/posture/src/modules/policies/policies.types";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";

/**
 * One account's network map, exposure and neighbours read only what they need: the account's network resources
 * and those of the accounts one hop away (peered with it, holding a peering record towards it, owning a security
 * group it references), never the rest of the tenant — and the results equal those of the whole tenant's
 * topology. Two estates, Azure and AWS: A peers with B (the peering recorded on B's side only; in AWS A's group
 * also lets B's group in by id), B also peers with C, a big account A has nothing to do with (peering is not
 * transitive); in AWS, D peers with A through a connection only D records, F through one only E records.
 * And a VPC shared through AWS RAM: G owns it (two subnets); H and I run instances in its subnets, which nothing
 * of G names (I's instance names only its subnet, not the VPC); J peers with it through a connection only G
 * records.
 */
describe("network map of one account: read what matters, answer as the whole tenant does", () => {
  const TENANT = "tenant-net-scope";
  const BIG = 60;
  let platform: TestPlatform;
  let ds: DataSource;
  let acct: Record<
    | "azA"
    | "azB"
    | "azC"
    | "awsA"
    | "awsB"
    | "awsC"
    | "awsD"
    | "awsE"
    | "awsF"
    | "awsG"
    | "awsH"
    | "awsI"
    | "awsJ"
    | "awsK"
    | "awsL"
    | "awsM"
    | "awsN"
    | "awsO"
    | "awsP"
    | "awsQ"
    | "azK"
    | "azL",
    string
  >;
  /** Resource id by name. */
  const ids = new Map<string, string>();
  const identity: Identity = { subject: "tester@example.com", tenantId: TENANT, roles: [Role.READER] };

  const sub = (n: number) => `/subscriptions/${String(n).repeat(8)}-0000-0000-0000-000000000000`;
  const at = (n: number) => `${sub(n)}/resourceGroups/rg-net/providers`;
  const vnetId = (n: number, name: string) => `${at(n)}/Microsoft.Network/virtualNetworks/vnet-${name}`;
  const peering = (remote: string) => ({
    name: `peer-${remote.split("/").pop()}`,
    properties: {
      remoteVirtualNetwork: { id: remote },
      peeringState: "Connected",
      allowVirtualNetworkAccess: true,
    },
  });
  const rule = (name: string, priority: number, source: string, port: string) => ({
    name,
    properties: {
      priority,
      direction: "Inbound",
      access: "Allow",
      protocol: "Tcp",
      sourceAddressPrefix: source,
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: port,
    },
  });

  /** An Azure VNet (with peerings), one subnet behind an NSG, and VMs with a NIC each (a public IP when asked). */
  function azure(
    accountId: string,
    n: number,
    name: string,
    peerings: unknown[],
    rules: unknown[],
    vms: Array<{ name: string; ip: string; publicIp?: string }>,
  ): ResourceInput[] {
    const base = at(n);
    const vnet = vnetId(n, name);
    const subnet = `${vnet}/subnets/default`;
    const nsg = `${base}/Microsoft.Network/networkSecurityGroups/nsg-${name}`;
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
      r(vnet, "Microsoft.Network/virtualNetworks", `vnet-${name}`, { virtualNetworkPeerings: peerings }),
      r(subnet, "Microsoft.Network/virtualNetworks/subnets", `snet-${name}`, {
        networkSecurityGroup: { id: nsg },
      }),
      r(nsg, "Microsoft.Network/networkSecurityGroups", `nsg-${name}`, { securityRules: rules }),
      ...vms.flatMap((vm) => {
        const nic = `${base}/Microsoft.Network/networkInterfaces/nic-${vm.name}`;
        const pip = `${base}/Microsoft.Network/publicIPAddresses/pip-${vm.name}`;
        return [
          ...(vm.publicIp
            ? [r(pip, "Microsoft.Network/publicIPAddresses", `pip-${vm.name}`, { ipAddress: vm.publicIp })]
            : []),
          r(nic, "Microsoft.Network/networkInterfaces", `nic-${vm.name}`, {
            ipConfigurations: [
              {
                name: "ipconfig1",
                properties: {
                  privateIPAddress: vm.ip,
                  subnet: { id: subnet },
                  ...(vm.publicIp ? { publicIPAddress: { id: pip } } : {}),
                },
              },
            ],
          }),
          r(
            `${base}/Microsoft.Compute/virtualMachines/${vm.name}`,
            "Microsoft.Compute/virtualMachines",
            vm.name,
            {
              posture: "unreviewed",
              networkProfile: { networkInterfaces: [{ id: nic }] },
            },
          ),
        ];
      }),
    ];
  }

  const aws = (
    accountId: string,
    owner: string,
    type: string,
    kind: string,
    id: string,
    properties: Record<string, unknown>,
  ): ResourceInput => ({
    accountId,
    externalId: `arn:aws:ec2:eu-west-1:${owner}:${kind}/${id}`,
    type,
    name: id,
    region: "eu-west-1",
    properties,
  });
  const vpc = (accountId: string, owner: string, id: string) =>
    aws(accountId, owner, "AWS::EC2::VPC", "vpc", id, { VpcId: id });
  const group = (accountId: string, owner: string, id: string, permissions: unknown[]) =>
    aws(accountId, owner, "AWS::EC2::SecurityGroup", "security-group", id, {
      GroupId: id,
      IpPermissions: permissions,
    });
  const instance = (
    accountId: string,
    owner: string,
    id: string,
    vpcId: string,
    ip: string,
    groupId: string,
    publicIp?: string,
  ) =>
    aws(accountId, owner, "AWS::EC2::Instance", "instance", id, {
      InstanceId: id,
      VpcId: vpcId,
      PrivateIpAddress: ip,
      ...(publicIp ? { PublicIpAddress: publicIp } : {}),
      SecurityGroups: [{ GroupId: groupId }],
      posture: "unreviewed",
    });
  const subnet = (accountId: string, owner: string, id: string, vpcId: string) =>
    aws(accountId, owner, "AWS::EC2::Subnet", "subnet", id, { SubnetId: id, VpcId: vpcId });
  /** An instance placed by its subnet (and its VPC when given), as the EC2 API reports it. */
  const placed = (
    accountId: string,
    owner: string,
    id: string,
    at: { subnet: string; vpc?: string },
    ip: string,
    groupId: string,
    extra: Record<string, unknown> = {},
  ) =>
    aws(accountId, owner, "AWS::EC2::Instance", "instance", id, {
      InstanceId: id,
      SubnetId: at.subnet,
      ...(at.vpc ? { VpcId: at.vpc } : {}),
      PrivateIpAddress: ip,
      SecurityGroups: [{ GroupId: groupId }],
      posture: "unreviewed",
      ...extra,
    });
  const connection = (accountId: string, owner: string, id: string, requester: string, accepter: string) =>
    aws(accountId, owner, "AWS::EC2::VPCPeeringConnection", "vpc-peering-connection", id, {
      RequesterVpcInfo: { VpcId: requester },
      AccepterVpcInfo: { VpcId: accepter },
      Status: { Code: "active" },
    });
  const tcp = (from: number, to: number, source: { cidr?: string; group?: string }) => ({
    IpProtocol: "tcp",
    FromPort: from,
    ToPort: to,
    ...(source.cidr ? { IpRanges: [{ CidrIp: source.cidr }] } : {}),
    ...(source.group ? { UserIdGroupPairs: [{ GroupId: source.group }] } : {}),
  });

  /** A RequestDb for the tenant that records every statement and the rows it returned. */
  function recordingDb(tenantId: string): {
    db: RequestDb;
    reads: Array<{ sql: string; rows: Array<Record<string, unknown>> }>;
  } {
    const db = new RequestDb(ds, tenantId);
    const reads: Array<{ sql: string; rows: Array<Record<string, unknown>> }> = [];
    const read = db.read.bind(db);
    db.read = (<T>(work: (m: EntityManager) => Promise<T>) =>
      read((m) =>
        work(
          new Proxy(m, {
            get: (target, prop, receiver) =>
              prop === "query"
                ? async (sql: string, params?: unknown[]) => {
                    const rows = (await target.query(sql, params)) as Array<Record<string, unknown>>;
                    reads.push({ sql, rows });
                    return rows;
                  }
                : Reflect.get(target, prop, receiver),
          }),
        ),
      )) as RequestDb["read"];
    return { db, reads };
  }
  const serviceOf = (db: RequestDb, who = identity) =>
    new NetworkService(db, who, new PoliciesService(db, who));

  /** Everything the network gives a set of resources: each one's exposure and neighbours (one batch). */
  const answers = (network: NetworkService, resources: Array<{ id: string; accountId: string }>) =>
    Promise.all(
      resources.map(async (r) => ({
        id: r.id,
        exposure: await network.exposure(r.id, r.accountId),
        neighbours: await network.neighbours(r.id, r.accountId, undefined, { first: 100 }),
        inbound: await network.neighbours(r.id, r.accountId, NetworkDirection.INBOUND, { first: 100 }),
      })),
    );
  /** Resource id → account id, as ingested. */
  const accountOf = new Map<string, string>();
  const resourcesOf = (accountIds: string[]) =>
    [...accountOf]
      .filter(([, accountId]) => accountIds.includes(accountId))
      .map(([id, accountId]) => ({ id, accountId }));
  /** The answers with the tenant's whole topology: a service that has built it answers every account from it. */
  const tenantWide = async <T>(work: (network: NetworkService) => Promise<T>): Promise<T> => {
    const db = new RequestDb(ds, TENANT);
    try {
      const network = serviceOf(db);
      await network.map(null, PolicySeverity.LOW);
      return await work(network);
    } finally {
      await db.close();
    }
  };
  const scoped = async <T>(work: (network: NetworkService) => Promise<T>, who = identity) => {
    const { db, reads } = recordingDb(who.tenantId);
    try {
      return { result: await work(serviceOf(db, who)), reads };
    } finally {
      await db.close();
    }
  };
  const accountsRead = (reads: Array<{ rows: Array<Record<string, unknown>> }>) =>
    new Set(
      reads.flatMap((r) =>
        r.rows.flatMap((row) => (typeof row.account_id === "string" ? [row.account_id] : [])),
      ),
    );
  const topologyReads = <R extends { sql: string }>(reads: R[]) =>
    reads.filter((r) => /FROM resources/.test(r.sql));

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    const admin = await platform.token([Role.ADMIN], TENANT);
    const accounts = ok(
      await platform.request(
        UpsertAccountsDocument,
        {
          input: [
            { provider: "AZURE", externalId: sub(3).split("/")[2], name: "Azure A" },
            { provider: "AZURE", externalId: sub(4).split("/")[2], name: "Azure B" },
            { provider: "AZURE", externalId: sub(5).split("/")[2], name: "Azure C" },
            { provider: "AWS", externalId: "333333333333", name: "AWS A" },
            { provider: "AWS", externalId: "444444444444", name: "AWS B" },
            { provider: "AWS", externalId: "555555555555", name: "AWS C" },
            { provider: "AWS", externalId: "666666666666", name: "AWS D" },
            { provider: "AWS", externalId: "777777777777", name: "AWS E" },
            { provider: "AWS", externalId: "888888888888", name: "AWS F" },
            { provider: "AWS", externalId: "121212121212", name: "AWS G" },
            { provider: "AWS", externalId: "131313131313", name: "AWS H" },
            { provider: "AWS", externalId: "141414141414", name: "AWS I" },
            { provider: "AWS", externalId: "151515151515", name: "AWS J" },
            { provider: "AWS", externalId: "161616161616", name: "AWS K" },
            { provider: "AWS", externalId: "171717171717", name: "AWS L" },
            { provider: "AWS", externalId: "181818181818", name: "AWS M" },
            { provider: "AWS", externalId: "191919191919", name: "AWS N" },
            { provider: "AWS", externalId: "202020202020", name: "AWS O" },
            { provider: "AWS", externalId: "232323232323", name: "AWS P" },
            { provider: "AWS", externalId: "242424242424", name: "AWS Q" },
            { provider: "AZURE", externalId: sub(6).split("/")[2], name: "Azure K" },
            { provider: "AZURE", externalId: sub(7).split("/")[2], name: "Azure L" },
          ],
        },
        admin,
      ),
    ).upsertCloudAccounts;
    const [azA, azB, azC, awsA, awsB, awsC, awsD, awsE, awsF, awsG, awsH, awsI, awsJ] = accounts.map(
      (a) => a.id,
    );
    const [awsK, awsL, awsM, awsN, awsO, awsP, awsQ, azK, azL] = accounts.slice(13).map((a) => a.id);
    acct = {
      ...{ azA, azB, azC, awsA, awsB, awsC, awsD, awsE, awsF, awsG, awsH, awsI, awsJ },
      ...{ awsK, awsL, awsM, awsN, awsO, awsP, awsQ, azK, azL },
    };
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
        admin,
      ),
    );
    const big = Array.from({ length: BIG }, (_, i) => i);
    const inventory: ResourceInput[] = [
      // Azure: A lists no peering; B lists its peering to A and to C; C lists its peering to B.
      ...azure(
        acct.azA,
        3,
        "a",
        [],
        [rule("AllowSshFromInternet", 100, "Internet", "22")],
        [
          { name: "vm-a1", ip: "10.3.0.4", publicIp: "203.0.113.3" },
          { name: "vm-a2", ip: "10.3.0.5" },
        ],
      ),
      ...azure(
        acct.azB,
        4,
        "b",
        [peering(vnetId(3, "a")), peering(vnetId(5, "c"))],
        [
          rule("AllowRdpFromInternet", 100, "Internet", "3389"),
          rule("AllowHttpsFromA", 110, "10.3.0.0/16", "443"),
        ],
        [{ name: "vm-b1", ip: "10.4.0.4", publicIp: "203.0.113.4" }],
      ),
      ...azure(
        acct.azC,
        5,
        "c",
        [peering(vnetId(4, "b"))],
        [],
        big.map((i) => ({ name: `vm-c${i}`, ip: `10.5.0.${10 + i}` })),
      ),
      // AWS: A's group lets B's group in by id; the A–B connection is recorded in B only, the B–C one in C.
      vpc(acct.awsA, "333333333333", "vpc-a"),
      group(acct.awsA, "333333333333", "sg-a", [
        tcp(22, 22, { group: "sg-b" }),
        tcp(80, 80, { cidr: "0.0.0.0/0" }),
      ]),
      instance(acct.awsA, "333333333333", "i-a", "vpc-a", "10.33.0.10", "sg-a", "198.51.100.33"),
      vpc(acct.awsB, "444444444444", "vpc-b"),
      group(acct.awsB, "444444444444", "sg-b", [
        tcp(5432, 5432, { cidr: "10.33.0.0/16" }),
        tcp(443, 443, { cidr: "0.0.0.0/0" }),
      ]),
      instance(acct.awsB, "444444444444", "i-b", "vpc-b", "10.44.0.10", "sg-b", "198.51.100.44"),
      connection(acct.awsB, "444444444444", "pcx-ab", "vpc-b", "vpc-a"),
      vpc(acct.awsC, "555555555555", "vpc-c"),
      group(acct.awsC, "555555555555", "sg-c", [tcp(0, 65535, { cidr: "10.0.0.0/8" })]),
      ...big.map((i) => instance(acct.awsC, "555555555555", `i-c${i}`, "vpc-c", `10.55.0.${10 + i}`, "sg-c")),
      connection(acct.awsC, "555555555555", "pcx-bc", "vpc-c", "vpc-b"),
      // D peers with A through a connection only D records, and nothing of A names D.
      vpc(acct.awsD, "666666666666", "vpc-d"),
      group(acct.awsD, "666666666666", "sg-d", [tcp(8080, 8080, { cidr: "10.33.0.0/16" })]),
      instance(acct.awsD, "666666666666", "i-d", "vpc-d", "10.66.0.10", "sg-d"),
      connection(acct.awsD, "666666666666", "pcx-da", "vpc-d", "vpc-a"),
      // F peers with A through a connection only E records (neither side's account).
      connection(acct.awsE, "777777777777", "pcx-fa", "vpc-f", "vpc-a"),
      vpc(acct.awsF, "888888888888", "vpc-f"),
      group(acct.awsF, "888888888888", "sg-f", [tcp(9000, 9000, { cidr: "10.33.0.0/16" })]),
      instance(acct.awsF, "888888888888", "i-f", "vpc-f", "10.88.0.10", "sg-f"),
      // G shares vpc-g's subnets with H and I (AWS RAM); G's group lets the VPC's addresses in on SSH.
      vpc(acct.awsG, "121212121212", "vpc-g"),
      subnet(acct.awsG, "121212121212", "subnet-g1", "vpc-g"),
      subnet(acct.awsG, "121212121212", "subnet-g2", "vpc-g"),
      group(acct.awsG, "121212121212", "sg-g", [
        tcp(22, 22, { cidr: "10.77.0.0/16" }),
        tcp(80, 80, { cidr: "0.0.0.0/0" }),
      ]),
      placed(acct.awsG, "121212121212", "i-g", { subnet: "subnet-g1", vpc: "vpc-g" }, "10.77.1.10", "sg-g", {
        PublicIpAddress: "198.51.100.77",
      }),
      // H's instance sits in G's subnet-g1, exposed through H's elastic IP; H's group lets G's group in by id.
      group(acct.awsH, "131313131313", "sg-h", [
        tcp(5432, 5432, { group: "sg-g" }),
        tcp(443, 443, { cidr: "0.0.0.0/0" }),
      ]),
      placed(acct.awsH, "131313131313", "i-h", { subnet: "subnet-g1", vpc: "vpc-g" }, "10.77.1.20", "sg-h"),
      aws(acct.awsH, "131313131313", "AWS::EC2::EIP", "elastic-ip", "eipalloc-h", {
        AllocationId: "eipalloc-h",
        InstanceId: "i-h",
        PublicIp: "198.51.100.78",
      }),
      // I's instance names only subnet-g2 (its VPC comes from G's subnet).
      group(acct.awsI, "141414141414", "sg-i", [tcp(8080, 8080, { cidr: "10.77.0.0/16" })]),
      placed(acct.awsI, "141414141414", "i-i", { subnet: "subnet-g2" }, "10.77.2.30", "sg-i"),
      // J's VPC peers with the shared one; only G records the connection.
      vpc(acct.awsJ, "151515151515", "vpc-j"),
      group(acct.awsJ, "151515151515", "sg-j", [tcp(3000, 3000, { cidr: "10.77.0.0/16" })]),
      instance(acct.awsJ, "151515151515", "i-j", "vpc-j", "10.99.0.10", "sg-j"),
      connection(acct.awsG, "121212121212", "pcx-gj", "vpc-g", "vpc-j"),
      // K's instance has no public IP of its own: L's elastic IP, naming it, exposes it.
      vpc(acct.awsK, "161616161616", "vpc-k"),
      subnet(acct.awsK, "161616161616", "subnet-k", "vpc-k"),
      group(acct.awsK, "161616161616", "sg-k", [tcp(22, 22, { cidr: "0.0.0.0/0" })]),
      placed(acct.awsK, "161616161616", "i-k", { subnet: "subnet-k", vpc: "vpc-k" }, "10.110.0.10", "sg-k"),
      aws(acct.awsL, "171717171717", "AWS::EC2::EIP", "elastic-ip", "eipalloc-l", {
        AllocationId: "eipalloc-l",
        InstanceId: "i-k",
        PublicIp: "198.51.100.110",
      }),
      // M's instance sits in P's subnet behind K's and O's groups, exposed through N's elastic IP.
      placed(acct.awsM, "181818181818", "i-m", { subnet: "subnet-p" }, "10.120.0.10", "sg-k", {
        SecurityGroups: [{ GroupId: "sg-k" }, { GroupId: "sg-o" }],
      }),
      aws(acct.awsN, "191919191919", "AWS::EC2::EIP", "elastic-ip", "eipalloc-n", {
        AllocationId: "eipalloc-n",
        InstanceId: "i-m",
        PublicIp: "198.51.100.120",
      }),
      group(acct.awsO, "202020202020", "sg-o", [tcp(443, 443, { cidr: "0.0.0.0/0" })]),
      vpc(acct.awsP, "232323232323", "vpc-p"),
      subnet(acct.awsP, "232323232323", "subnet-p", "vpc-p"),
      connection(acct.awsP, "232323232323", "pcx-pq", "vpc-p", "vpc-q"),
      vpc(acct.awsQ, "242424242424", "vpc-q"),
      group(acct.awsQ, "242424242424", "sg-q", [tcp(0, 65535, { cidr: "10.0.0.0/8" })]),
      ...big.map((i) =>
        instance(acct.awsQ, "242424242424", `i-q${i}`, "vpc-q", `10.124.0.${10 + i}`, "sg-q"),
      ),
      // Azure: K's VM has no public IP of its own and its NIC names no NSG; L's public IP and NSG name the NIC.
      ...azure(
        acct.azK,
        6,
        "k",
        [],
        [rule("AllowRdpFromInternet", 100, "Internet", "3389")],
        [{ name: "vm-k1", ip: "10.6.0.4" }],
      ),
      {
        accountId: acct.azL,
        externalId: `${at(7)}/Microsoft.Network/publicIPAddresses/pip-l`,
        type: "Microsoft.Network/publicIPAddresses",
        name: "pip-l",
        region: "westeurope",
        properties: {
          ipAddress: "203.0.113.70",
          ipConfiguration: {
            id: `${at(6)}/Microsoft.Network/networkInterfaces/nic-vm-k1/ipConfigurations/ipconfig1`,
          },
        },
      },
      {
        accountId: acct.azL,
        externalId: `${at(7)}/Microsoft.Network/networkSecurityGroups/nsg-l`,
        type: "Microsoft.Network/networkSecurityGroups",
        name: "nsg-l",
        region: "westeurope",
        properties: {
          securityRules: [rule("AllowRdpAndSshFromInternet", 100, "Internet", "22,3389")],
          networkInterfaces: [{ id: `${at(6)}/Microsoft.Network/networkInterfaces/nic-vm-k1` }],
        },
      },
    ];
    for (let i = 0; i < inventory.length; i += 100) {
      const chunk = inventory.slice(i, i + 100);
      const res = ok(
        await platform.request(UpsertResourcesDocument, { input: chunk }, admin),
      ).upsertResources;
      res.ids.forEach((id, j) => {
        ids.set(chunk[j].name, id!);
        accountOf.set(id!, chunk[j].accountId);
      });
    }
    ds = await platform.connect("posture");
  });
  afterAll(() => platform?.stop());

  it.each([
    ["Azure", "azA", "azB", "azC", []],
    ["AWS", "awsA", "awsB", "awsC", ["awsD", "awsE", "awsF"]],
  ] as const)(
    "gives %s account A's map (every severity) exactly as the tenant's topology does, reading A and its neighbours only",
    async (_, a, b, c, others) => {
      const expected = await tenantWide(async (network) => [
        await network.map(acct[a], PolicySeverity.LOW),
        await network.map(acct[a], PolicySeverity.HIGH),
      ]);
      const { result, reads } = await scoped(async (network) => [
        await network.map(acct[a], PolicySeverity.LOW),
        await network.map(acct[a], PolicySeverity.HIGH),
      ]);
      expect(result).toEqual(expected);
      // Not a trivial map: B's VM (or instance) shows, with its account, exchanging traffic with A's.
      const [low] = result;
      const bVm = low.nodes.find((n) => n.kind === "VIRTUAL_MACHINE" && n.accountId === acct[b]);
      expect(bVm).toBeDefined();
      expect(bVm!.internetExposed).toBe(true);
      expect(low.edges.some((e) => e.kind === "ALLOWS_TRAFFIC" && e.to === bVm!.id)).toBe(true);
      expect(low.edges.some((e) => e.kind === "ALLOWS_TRAFFIC" && e.from === bVm!.id)).toBe(true);
      expect(low.nodes.some((n) => n.accountId === acct[c])).toBe(false);
      // Three topology statements, once for both maps: A's network resources, the neighbours', and the accounts
      // naming from their side the other accounts' VMs A's map shows (none here); nothing of C.
      expect(topologyReads(reads)).toHaveLength(3);
      expect(topologyReads(reads)[2].rows).toEqual([]);
      expect([...accountsRead(reads)].sort()).toEqual(
        [acct[a], acct[b], ...others.map((o) => acct[o])].sort(),
      );
      if (others.length > 0) {
        expect(low.nodes.find((n) => n.name === "i-d")).toMatchObject({ accountId: acct.awsD });
        expect(low.nodes.find((n) => n.name === "i-f")).toMatchObject({ accountId: acct.awsF });
      }
    },
  );

  it("gives a batch of resources of both A accounts their exposure and neighbours exactly as the tenant's topology does", async () => {
    const resources = resourcesOf([acct.azA, acct.awsA]);
    expect(resources.length).toBe(11);
    const expected = await tenantWide((network) => answers(network, resources));
    const { result, reads } = await scoped((network) => answers(network, resources));
    expect(result).toEqual(expected);
    const byId = new Map(result.map((r) => [r.id, r]));
    // Across the peerings: A's VMs see B's, and B's exposure shows through the neighbour.
    expect(byId.get(ids.get("vm-a1")!)!.exposure).toMatchObject({
      internetExposed: true,
      publicIps: ["203.0.113.3"],
    });
    expect(byId.get(ids.get("vm-a2")!)!.inbound.nodes.map((n) => [n.id, n.internetExposed])).toEqual(
      expect.arrayContaining([[ids.get("vm-b1"), true]]),
    );
    const key = (n: readonly unknown[]) => `${String(n[0])}:${String(n[1])}`;
    expect(byId.get(ids.get("i-a")!)!.neighbours.nodes.map((n) => [n.direction, n.id, n.rules])).toEqual(
      [
        ["INBOUND", ids.get("i-b"), ["sg-a"]],
        ["INBOUND", ids.get("i-d"), ["sg-a"]],
        ["INBOUND", ids.get("i-f"), ["sg-a"]],
        ["INBOUND", "internet", ["sg-a"]],
        ["OUTBOUND", ids.get("i-b"), ["sg-b"]],
        ["OUTBOUND", ids.get("i-d"), ["sg-d"]],
        ["OUTBOUND", ids.get("i-f"), ["sg-f"]],
      ].sort((x, y) => (key(x) < key(y) ? -1 : 1)),
    );
    // One batch: three topology statements for both accounts (the third finds nothing naming B's, D's or F's
    // instances from elsewhere); the C accounts' hundreds of rows never read.
    expect(topologyReads(reads)).toHaveLength(3);
    const neighbourhood = [acct.azA, acct.azB, acct.awsA, acct.awsB, acct.awsD, acct.awsE, acct.awsF];
    expect([...accountsRead(reads)].sort()).toEqual(neighbourhood.sort());
    const rows = topologyReads(reads).reduce((n, r) => n + r.rows.length, 0);
    const count = resourcesOf(neighbourhood).length;
    expect(rows).toBe(count);
  });

  it.each([
    ["the owner G", "awsG"],
    ["H (naming the subnet and the VPC)", "awsH"],
    ["I (naming only its subnet)", "awsI"],
    ["J (peered with it through a connection only G records)", "awsJ"],
  ] as const)(
    "gives %s of a VPC shared through AWS RAM its map as the tenant's topology does, reading its and its peer's accounts only",
    async (_, who) => {
      const expected = await tenantWide(async (network) => [
        await network.map(acct[who], PolicySeverity.LOW),
        await network.map(acct[who], PolicySeverity.HIGH),
      ]);
      const { result, reads } = await scoped(async (network) => [
        await network.map(acct[who], PolicySeverity.LOW),
        await network.map(acct[who], PolicySeverity.HIGH),
      ]);
      expect(result).toEqual(expected);
      // Every instance in the VPC shows, with its account, whichever account asks.
      const [low] = result;
      const node = (name: string) => low.nodes.find((n) => n.name === name);
      expect(node("i-g")).toMatchObject({ accountId: acct.awsG, internetExposed: true });
      expect(node("i-h")).toMatchObject({ accountId: acct.awsH, internetExposed: true });
      expect(node("i-i")).toMatchObject({ accountId: acct.awsI, internetExposed: false });
      expect(topologyReads(reads)).toHaveLength(3);
      expect([...accountsRead(reads)].sort()).toEqual([acct.awsG, acct.awsH, acct.awsI, acct.awsJ].sort());
    },
  );

  it("shows another account's instance in the owner's shared subnet with its placement, traffic and exposure", async () => {
    const { result } = await scoped((network) => network.map(acct.awsG, PolicySeverity.LOW));
    const id = (name: string) => ids.get(name)!;
    const edge = (from: string, to: string, kind: string) =>
      result.edges.find((e) => e.from === from && e.to === to && e.kind === kind);
    expect(edge(id("subnet-g1"), id("i-h"), "CONTAINS")).toBeDefined();
    expect(edge(id("subnet-g2"), id("i-i"), "CONTAINS")).toBeDefined();
    expect(edge("internet", id("i-h"), "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [{ protocol: "TCP", fromPort: 443, toPort: 443 }],
      rules: ["sg-h"],
    });
    expect(edge(id("i-g"), id("i-h"), "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [
        { protocol: "TCP", fromPort: 443, toPort: 443 },
        { protocol: "TCP", fromPort: 5432, toPort: 5432 },
      ],
      rules: ["sg-h"],
    });
    expect(edge(id("i-h"), id("i-g"), "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [
        { protocol: "TCP", fromPort: 22, toPort: 22 },
        { protocol: "TCP", fromPort: 80, toPort: 80 },
      ],
      rules: ["sg-g"],
    });
    expect(edge(id("i-g"), id("i-i"), "ALLOWS_TRAFFIC")).toMatchObject({ rules: ["sg-i"] });
    // Traffic between the participants is their own business in the owner's map.
    expect(edge(id("i-h"), id("i-i"), "ALLOWS_TRAFFIC")).toBeUndefined();
  });

  it("gives a batch of resources of G and I their exposure and neighbours exactly as the tenant's topology does, H's instance included", async () => {
    const resources = resourcesOf([acct.awsG, acct.awsI]);
    expect(resources.length).toBe(8);
    const expected = await tenantWide((network) => answers(network, resources));
    const { result, reads } = await scoped((network) => answers(network, resources));
    expect(result).toEqual(expected);
    const byId = new Map(result.map((r) => [r.id, r]));
    expect(byId.get(ids.get("i-g")!)!.exposure).toMatchObject({
      internetExposed: true,
      publicIps: ["198.51.100.77"],
    });
    expect(byId.get(ids.get("i-g")!)!.inbound.nodes.find((n) => n.id === ids.get("i-h"))).toMatchObject({
      internetExposed: true,
      ports: [
        { protocol: "TCP", fromPort: 22, toPort: 22 },
        { protocol: "TCP", fromPort: 80, toPort: 80 },
      ],
    });
    expect(byId.get(ids.get("i-g")!)!.neighbours.nodes.map((n) => [n.direction, n.id])).toEqual(
      expect.arrayContaining([
        ["INBOUND", ids.get("i-h")],
        ["INBOUND", ids.get("i-i")],
        ["OUTBOUND", ids.get("i-h")],
        ["OUTBOUND", ids.get("i-i")],
      ]),
    );
    expect(
      byId
        .get(ids.get("i-i")!)!
        .inbound.nodes.map((n) => n.id)
        .sort(),
    ).toEqual([ids.get("i-g"), ids.get("i-h")].sort());
    expect(topologyReads(reads)).toHaveLength(3);
    expect([...accountsRead(reads)].sort()).toEqual([acct.awsG, acct.awsH, acct.awsI, acct.awsJ].sort());
  });

  it("reads A and C for B's map, since B peers with both", async () => {
    const expected = await tenantWide((network) => network.map(acct.azB, PolicySeverity.LOW));
    const { result, reads } = await scoped((network) => network.map(acct.azB, PolicySeverity.LOW));
    expect(result).toEqual(expected);
    expect([...accountsRead(reads)].sort()).toEqual([acct.azA, acct.azB, acct.azC].sort());
    expect(result.nodes.filter((n) => n.accountId === acct.azC && n.kind === "VIRTUAL_MACHINE")).toHaveLength(
      BIG,
    );
  });

  it.each([
    [
      "AWS account K (another account's elastic IP on its instance, its group on another account's instance)",
      "awsK",
      ["awsL", "awsM", "awsN", "awsO", "awsP"],
      3,
    ],
    ["Azure subscription K (another subscription's public IP and NSG on its NIC)", "azK", ["azL"], 2],
    [
      "AWS account M (its instance in P's subnet behind K's and O's groups, exposed through N's elastic IP)",
      "awsM",
      ["awsK", "awsN", "awsO", "awsP", "awsQ"],
      3,
    ],
  ] as const)(
    "gives %s its map as the tenant's topology does, reading the accounts that reference into it and one hop on",
    async (_, who, others, statements) => {
      const expected = await tenantWide(async (network) => [
        await network.map(acct[who], PolicySeverity.LOW),
        await network.map(acct[who], PolicySeverity.HIGH),
      ]);
      const { result, reads } = await scoped(async (network) => [
        await network.map(acct[who], PolicySeverity.LOW),
        await network.map(acct[who], PolicySeverity.HIGH),
      ]);
      expect(result).toEqual(expected);
      expect([...accountsRead(reads)].sort()).toEqual([acct[who], ...others.map((o) => acct[o])].sort());
      // The account's resources, its neighbours', then one round for what the other accounts' resources shown
      // lead to (AWS K: N's elastic IP, O's group and P's subnet, for M's instance; AWS M: what names Q's
      // instances from their side, nothing), none when they are no VM or NIC and lead nowhere new (Azure K).
      expect(topologyReads(reads)).toHaveLength(statements);
    },
  );

  it("shows in K's map another account's elastic IP on its instance, and another account's instance behind its group with that instance's placement and exposure from third accounts", async () => {
    const { result } = await scoped((network) => network.map(acct.awsK, PolicySeverity.LOW));
    const id = (name: string) => ids.get(name)!;
    const node = (name: string) => result.nodes.find((n) => n.id === id(name));
    const edge = (from: string, to: string, kind: string) =>
      result.edges.find((e) => e.from === from && e.to === to && e.kind === kind);
    // L's elastic IP, naming K's instance, is what exposes it.
    expect(node("eipalloc-l")).toMatchObject({
      kind: "PUBLIC_IP",
      accountId: acct.awsL,
      internetExposed: true,
    });
    expect(edge(id("eipalloc-l"), id("i-k"), "ASSOCIATED_WITH")).toBeDefined();
    expect(node("i-k")).toMatchObject({ accountId: acct.awsK, internetExposed: true });
    expect(edge("internet", id("i-k"), "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [{ protocol: "TCP", fromPort: 22, toPort: 22 }],
      rules: ["sg-k"],
    });
    // M's instance behind K's group, placed in P's subnet and VPC, exposed through N's elastic IP and O's group.
    expect(node("i-m")).toMatchObject({ accountId: acct.awsM, internetExposed: true });
    expect(edge(id("i-m"), id("sg-k"), "PROTECTED_BY")).toBeDefined();
    expect(edge(id("subnet-p"), id("i-m"), "CONTAINS")).toBeDefined();
    expect(edge(id("vpc-p"), id("subnet-p"), "CONTAINS")).toBeDefined();
    expect(node("vpc-p")).toMatchObject({ accountId: acct.awsP });
    expect(edge("internet", id("i-m"), "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [
        { protocol: "TCP", fromPort: 22, toPort: 22 },
        { protocol: "TCP", fromPort: 443, toPort: 443 },
      ],
      rules: ["sg-k", "sg-o"],
    });
    // Their own business stays out: N's elastic IP, O's group, P's peering with Q and Q's instances.
    for (const name of ["eipalloc-n", "sg-o", "vpc-q", "i-q0"]) expect(node(name)).toBeUndefined();
    expect(result.nodes.some((n) => n.accountId === acct.awsQ || n.kind === "EXTERNAL_NETWORK")).toBe(false);
  });

  it("shows in Azure K's map another subscription's public IP and NSG on its NIC, and the exposure they make", async () => {
    const { result } = await scoped((network) => network.map(acct.azK, PolicySeverity.LOW));
    const id = (name: string) => ids.get(name)!;
    const edge = (from: string, to: string, kind: string) =>
      result.edges.find((e) => e.from === from && e.to === to && e.kind === kind);
    expect(edge(id("pip-l"), id("nic-vm-k1"), "ASSOCIATED_WITH")).toBeDefined();
    expect(edge(id("nic-vm-k1"), id("nsg-l"), "PROTECTED_BY")).toBeDefined();
    expect(result.nodes.find((n) => n.id === id("nsg-l"))).toMatchObject({ accountId: acct.azL });
    expect(edge("internet", id("vm-k1"), "ALLOWS_TRAFFIC")).toMatchObject({
      ports: [{ protocol: "TCP", fromPort: 3389, toPort: 3389 }],
      rules: ["nsg-k/AllowRdpFromInternet", "nsg-l/AllowRdpAndSshFromInternet"],
    });
  });

  it("gives a batch of resources of both K accounts their exposure and neighbours exactly as the tenant's topology does", async () => {
    const resources = resourcesOf([acct.awsK, acct.azK]);
    expect(resources.length).toBe(9);
    const expected = await tenantWide((network) => answers(network, resources));
    const { result, reads } = await scoped((network) => answers(network, resources));
    expect(result).toEqual(expected);
    const byId = new Map(result.map((r) => [r.id, r]));
    expect(byId.get(ids.get("i-k")!)!.exposure).toMatchObject({
      internetExposed: true,
      publicIps: ["198.51.100.110"],
    });
    expect(byId.get(ids.get("vm-k1")!)!.exposure).toMatchObject({
      internetExposed: true,
      publicIps: ["203.0.113.70"],
    });
    expect(byId.get(ids.get("vm-k1")!)!.inbound.nodes.map((n) => n.id)).toEqual(["internet"]);
    expect([...accountsRead(reads)].sort()).toEqual(
      [acct.awsK, acct.awsL, acct.awsM, acct.awsN, acct.awsO, acct.awsP, acct.azK, acct.azL].sort(),
    );
  });

  it("gives one network's map (networkId) from the tenant's topology: a shared VPC with every account's instances in it", async () => {
    topologyCache.clear();
    const { result, reads } = await scoped(async (network) => ({
      all: await network.map(null, PolicySeverity.LOW),
      g: await network.networkMap(ids.get("vpc-g")!, PolicySeverity.LOW),
      k: await network.networkMap(ids.get("vpc-k")!, PolicySeverity.LOW),
    }));
    const { all, g, k } = result;
    // One statement reads the tenant's network resources, for all three maps.
    expect(topologyReads(reads)).toHaveLength(1);
    const names = (m: typeof g) => m.nodes.map((n) => n.name).sort();
    // What lies in G's VPC, whichever account holds it (H's and I's instances, their groups, H's elastic IP),
    // the VPC it peers with and J's instance there, which the VPC's instances reach; none of J's group.
    expect(names(g)).toEqual(
      ["vpc-g", "subnet-g1", "subnet-g2", "sg-g", "i-g", "sg-h", "i-h", "eipalloc-h", "sg-i", "i-i"]
        .concat(["vpc-j", "i-j", "Internet"])
        .sort(),
    );
    expect(g.nodes.find((n) => n.name === "i-h")).toMatchObject({
      accountId: acct.awsH,
      internetExposed: true,
    });
    // K's VPC: L's elastic IP on K's instance lies in it; M's instance behind K's group shows with its placement.
    expect(names(k)).toEqual(
      ["vpc-k", "subnet-k", "sg-k", "i-k", "eipalloc-l", "i-m", "subnet-p", "vpc-p", "Internet"].sort(),
    );
    // Every network's map holds nodes and edges exactly as the map of every account does.
    const networks = all.nodes.filter((n) => n.kind === "VIRTUAL_NETWORK");
    // The estate's 14 (Azure A, B, C, K; AWS A, B, C, D, F, G, J, K, P, Q).
    expect(networks).toHaveLength(14);
    const { result: maps } = await scoped((network) =>
      Promise.all(networks.map((n) => network.networkMap(n.id, PolicySeverity.LOW))),
    );
    const json = (values: readonly unknown[]) => new Set(values.map((v) => JSON.stringify(v)));
    const [allNodes, allEdges] = [json(all.nodes), json(all.edges)];
    maps.forEach((m, i) => {
      expect(m.nodes.map((n) => n.id)).toContain(networks[i].id);
      expect([...json(m.nodes)].filter((n) => !allNodes.has(n))).toEqual([]);
      expect([...json(m.edges)].filter((e) => !allEdges.has(e))).toEqual([]);
    });
  });

  it("reads nothing for an account the tenant does not hold, nor another tenant's accounts", async () => {
    const { result, reads } = await scoped(async (network) => [
      await network.map("00000000-0000-0000-0000-000000000000", PolicySeverity.LOW),
      await network.map("not-a-uuid", PolicySeverity.LOW),
    ]);
    expect(result).toEqual([
      { nodes: [], edges: [] },
      { nodes: [], edges: [] },
    ]);
    expect(accountsRead(reads).size).toBe(0);
    const other = await scoped(
      async (network) => [
        await network.map(acct.azA, PolicySeverity.LOW),
        await network.exposure(ids.get("vm-a1")!, acct.azA),
        (await network.neighbours(ids.get("vm-a1")!, acct.azA, undefined, { first: 10 })).nodes,
      ],
      { ...identity, tenantId: "tenant-net-scope-other" },
    );
    expect(other.result).toEqual([
      { nodes: [], edges: [] },
      { internetExposed: false, publicIps: [], openPorts: [] },
      [],
    ]);
    expect(accountsRead(other.reads).size).toBe(0);
  });
});
