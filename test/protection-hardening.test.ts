import {
  DetectionsDocument,
  ResourceHardeningDocument,
  ResourcesHardeningDocument,
  SetJitPolicyDocument,
  SetPlanDocument,
  type ResourceInput,
} from "./__generated__/graphql";
import { Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { ARM, fixture, ingestTelemetry, ndjson, seedMachines, shifted } from "./utils/workload";

const JUMP = "107ec20d-8708-44b3-9c2c-b419dc983ba4";
const T = {
  vnet: "Microsoft.Network/virtualNetworks",
  subnet: "Microsoft.Network/virtualNetworks/subnets",
  nsg: "Microsoft.Network/networkSecurityGroups",
  nic: "Microsoft.Network/networkInterfaces",
  pip: "Microsoft.Network/publicIPAddresses",
};
const id = (type: string, name: string) => `${ARM}/${type}/${name}`;

/** An inbound NSG rule in the nested ARM form. */
const rule = (name: string, priority: number, source: string, port: string, protocol = "Tcp") => ({
  name,
  properties: {
    priority,
    direction: "Inbound",
    access: "Allow",
    protocol,
    sourceAddressPrefix: source,
    sourcePortRange: "*",
    destinationAddressPrefix: "*",
    destinationPortRange: port,
  },
});

/** The management and web subnets of the fixtures' estate, their NSGs, and the NICs and public IPs of two VMs. */
function network(accountId: string): ResourceInput[] {
  const r = (
    type: string,
    name: string,
    properties: Record<string, unknown>,
    externalId = id(type, name),
  ) => ({
    accountId,
    type,
    name,
    externalId,
    properties,
  });
  const vnet = id(T.vnet, "vnet-prod");
  const subnet = (name: string) => `${vnet}/subnets/${name}`;
  const nic = (vm: string, ip: string, subnetName: string, pip?: string) =>
    r(T.nic, `nic-${vm}`, {
      ipConfigurations: [
        {
          name: "ipconfig1",
          id: `${id(T.nic, `nic-${vm}`)}/ipConfigurations/ipconfig1`,
          properties: {
            privateIPAddress: ip,
            subnet: { id: subnet(subnetName) },
            ...(pip ? { publicIPAddress: { id: id(T.pip, pip) } } : {}),
          },
        },
      ],
      virtualMachine: { id: `${ARM}/Microsoft.Compute/virtualMachines/${vm}` },
    });
  return [
    r(T.vnet, "vnet-prod", { addressSpace: { addressPrefixes: ["10.0.0.0/8"] } }),
    r(
      T.subnet,
      "snet-mgmt",
      { addressPrefix: "10.1.3.0/24", networkSecurityGroup: { id: id(T.nsg, "nsg-mgmt") } },
      subnet("snet-mgmt"),
    ),
    r(
      T.subnet,
      "snet-web",
      { addressPrefix: "10.0.1.0/24", networkSecurityGroup: { id: id(T.nsg, "nsg-web") } },
      subnet("snet-web"),
    ),
    r(T.nsg, "nsg-mgmt", {
      securityRules: [
        rule("AllowRdpFromInternet", 100, "Internet", "3389"),
        rule("AllowSsh", 110, "*", "22"),
        rule("AllowHttpsPartner", 120, "198.51.100.0/24", "443"),
        rule("AllowAdminPortal", 130, "0.0.0.0/0", "8443"),
      ],
    }),
    r(T.nsg, "nsg-web", { securityRules: [rule("AllowHttps", 100, "Internet", "443")] }),
    nic("vm-jump-01", "10.1.3.4", "snet-mgmt", "pip-vm-jump-01"),
    r(T.pip, "pip-vm-jump-01", { ipAddress: "198.51.100.14" }),
    nic("vm-web-prod-01", "10.0.1.4", "snet-web", "pip-vm-web-prod-01"),
    r(T.pip, "pip-vm-web-prod-01", { ipAddress: "198.51.100.10" }),
  ];
}

describe("adaptive network hardening: internet-open rules against the traffic actually seen", () => {
  let platform: TestPlatform;
  let ids: Record<string, string>;
  let byName: Record<string, string>;
  let accountId: string;
  const tokens: Record<string, string> = {};

  const hardening = async (name: string, window = "P30D", token = tokens.reader) =>
    platform.request(ResourceHardeningDocument, { id: byName[name], window }, token);
  const flow = (n: number, srcIp: string, dstPort: number, action = "allowed") => ({
    kind: "flow",
    id: `portal-${n}`,
    resourceId: ids[JUMP],
    time: shifted(`2025-01-15T10:${String(n).padStart(2, "0")}:00Z`),
    host: "vm-jump-01",
    direction: "inbound",
    protocol: "TCP",
    srcIp,
    srcPort: 50_000 + n,
    dstIp: "10.1.3.4",
    dstPort,
    action,
  });

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    for (const [name, roles, tenant] of [
      ["ingestor", [Role.INGESTOR], "tenant-a"],
      ["reader", [Role.READER], "tenant-a"],
      ["admin", [Role.ADMIN], "tenant-a"],
      ["ingestorB", [Role.INGESTOR], "tenant-b"],
    ] as const)
      tokens[name] = await platform.token([...roles], tenant);
    ({ ids, byName, accountId } = await seedMachines(platform, "tenant-a", network));
    // JIT is enforced (and so counted here) only on machines a SERVERS plan covers.
    ok(
      await platform.request(
        SetPlanDocument,
        { input: { accountId, planType: "SERVERS", tier: "STANDARD" } },
        tokens.admin,
      ),
    );
    await ingestTelemetry(platform, fixture("flow", ids), tokens.ingestor);
    await ingestTelemetry(
      platform,
      ndjson([
        flow(1, "203.0.113.10", 8443),
        flow(2, "203.0.113.11", 8443),
        flow(3, "192.0.2.50", 8443),
        flow(4, "10.1.3.9", 8443), // private: not internet traffic
        flow(5, "192.0.2.66", 8443, "denied"), // did not get in
      ]),
      tokens.ingestor,
    );
  });
  afterAll(async () => {
    await platform?.stop();
  });

  it("narrows each internet-open range to the sources seen, closes unused ones, and leaves out attackers", async () => {
    const vm = ok(await hardening("vm-jump-01")).resource!;
    expect(vm.exposure.openPorts.map((p) => [p.protocol, p.fromPort, p.sources])).toEqual([
      ["TCP", 22, ["*"]],
      ["TCP", 443, ["198.51.100.0/24"]],
      ["TCP", 3389, ["Internet"]],
      ["TCP", 8443, ["0.0.0.0/0"]],
    ]);
    // The RDP flood from 198.51.100.203 is a brute-force detection: it is not traffic to allow.
    const detections = ok(
      await platform.request(
        DetectionsDocument,
        { filter: { kinds: ["BRUTE_FORCE"], resourceId: ids[JUMP] } },
        tokens.reader,
      ),
    ).detections.nodes;
    expect(detections.map((d) => d.evidence.sourceIp)).toEqual(["198.51.100.203"]);
    expect(
      vm.hardeningRecommendations.map((r) => [
        r.protocol,
        r.fromPort,
        r.action,
        r.recommendedSources,
        r.excludedSources,
        r.connections,
      ]),
    ).toEqual([
      ["TCP", 22, "CLOSE", [], [], 0],
      ["TCP", 3389, "RESTRICT", ["203.0.113.24/32"], ["198.51.100.203"], 1],
      ["TCP", 8443, "RESTRICT", ["192.0.2.50/32", "203.0.113.0/24"], [], 3],
    ]);
    const portal = vm.hardeningRecommendations[2];
    expect(portal.currentSources).toEqual(["0.0.0.0/0"]);
    expect(portal.observedSources).toEqual([
      {
        prefix: "192.0.2.50/32",
        addresses: ["192.0.2.50"],
        connections: 1,
        lastSeen: shifted("2025-01-15T10:03:00Z"),
      },
      {
        prefix: "203.0.113.0/24",
        addresses: ["203.0.113.10", "203.0.113.11"],
        connections: 2,
        lastSeen: shifted("2025-01-15T10:02:00Z"),
      },
    ]);
    expect(portal.description).toBe(
      "TCP 8443 is open to the internet (0.0.0.0/0) but over the last 30 days only 3 addresses connected (3 connections): allow only 192.0.2.50/32, 203.0.113.0/24.",
    );
    expect(Date.parse(portal.windowEnd) - Date.parse(portal.windowStart)).toBe(30 * 86_400_000);
  });

  it("aggregates a web server's HTTPS clients into /24s and exact addresses", async () => {
    const web = ok(await hardening("vm-web-prod-01")).resource!;
    expect(web.hardeningRecommendations.map((r) => [r.fromPort, r.action, r.recommendedSources])).toEqual([
      [443, "RESTRICT", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.5/32"]],
    ]);
  });

  it("a shorter window sees less: traffic older than it counts for nothing", async () => {
    const recent = ok(await hardening("vm-jump-01", "PT1H")).resource!;
    expect(recent.hardeningRecommendations.map((r) => [r.fromPort, r.action])).toEqual([
      [22, "CLOSE"],
      [3389, "CLOSE"],
      [8443, "CLOSE"],
    ]);
  });

  it("recommends nothing for a machine posture sees no internet exposure for", async () => {
    expect(ok(await hardening("vm-web-prod-02")).resource!.hardeningRecommendations).toEqual([]);
  });

  it("answers for a list of resources (one batch of traffic per window)", async () => {
    const nodes = ok(await platform.request(ResourcesHardeningDocument, { first: 100 }, tokens.reader))
      .resources.nodes;
    const byResource = Object.fromEntries(
      nodes.map((n) => [n.name, n.hardeningRecommendations.map((r) => r.fromPort)]),
    );
    expect(byResource["vm-jump-01"]).toEqual([22, 3389, 8443]);
    expect(byResource["vm-web-prod-01"]).toEqual([443]);
    expect(byResource["vm-app-prod-01"]).toEqual([]);
  });

  it("refuses a bad window with a typed error", async () => {
    for (const window of ["30 days", "P1Y", "PT1M"]) {
      const res = await hardening("vm-jump-01", window);
      expect(res.errors?.[0].extensions).toMatchObject({
        code: "BAD_USER_INPUT",
        problems: [{ field: "window" }],
      });
    }
  });

  it("keeps tenants apart: another tenant's traffic to the same ids changes nothing", async () => {
    const recommendations = async () =>
      ok(await hardening("vm-jump-01")).resource!.hardeningRecommendations.map(
        ({ windowStart: _start, windowEnd: _end, ...r }) => r,
      );
    const before = await recommendations();
    await ingestTelemetry(
      platform,
      ndjson([{ ...flow(20, "192.0.2.200", 22), id: "other-tenant-1" }]),
      tokens.ingestorB,
    );
    // Had tenant-b's SSH flow counted, port 22 would be RESTRICT to 192.0.2.200/32.
    expect(await recommendations()).toEqual(before);
    expect(before[0]).toMatchObject({ fromPort: 22, action: "CLOSE" });
  });

  it("leaves the ports a JIT policy locks to JIT: its granted sources do not become a standing rule", async () => {
    // Port 3389 had legitimate traffic (RESTRICT above) and 22 none (CLOSE); put both under JIT.
    const unlocked = ok(await hardening("vm-jump-01")).resource!.hardeningRecommendations.map((r) => [
      r.fromPort,
      r.action,
    ]);
    expect(unlocked.map(([port]) => port)).toEqual([22, 3389, 8443]);
    ok(
      await platform.request(
        SetJitPolicyDocument,
        {
          input: {
            resourceId: ids[JUMP],
            ports: [
              { number: 22, protocol: "TCP", allowedSourcePrefixes: ["*"] },
              { number: 3389, protocol: "TCP", allowedSourcePrefixes: ["*"] },
            ],
          },
        },
        tokens.admin,
      ),
    );
    const vm = ok(await hardening("vm-jump-01")).resource!;
    expect(vm.exposure.openPorts.map((p) => p.fromPort)).toEqual([22, 443, 3389, 8443]);
    expect(vm.hardeningRecommendations.map((r) => [r.fromPort, r.action])).toEqual([[8443, "RESTRICT"]]);

    // With the SERVERS plan off the agent locks nothing: the policy no longer stands in for a hardened rule.
    const servers = (tier: "FREE" | "STANDARD") =>
      platform.request(SetPlanDocument, { input: { accountId, planType: "SERVERS", tier } }, tokens.admin);
    ok(await servers("FREE"));
    const unenforced = ok(await hardening("vm-jump-01")).resource!;
    expect(unenforced.hardeningRecommendations.map((r) => [r.fromPort, r.action])).toEqual(unlocked);
    ok(await servers("STANDARD"));
  });
});
