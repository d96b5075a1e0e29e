import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { demoResources, syntheticResources, type DemoResource } from "../../../../../scripts/lib/demo-estate";
import { ResourceKind, resourceKindOf } from "../../../../common/src/resource-kinds";
import {
  computeSecureScore,
  controlStateOf,
  type AssessmentState,
  type ControlCounts,
  type ScoreBreakdown,
} from "../score/secure-score";
import { BenchmarkDataError, loadBenchmark, loadBenchmarkFrom, type BenchmarkDefinition } from "./benchmark";
import {
  compileCondition,
  validateCondition,
  type CompiledCondition,
  type PolicyResource,
} from "./policy-language";

/** The built-in controls and their points, as product.md lists them. */
const PRODUCT_CONTROLS: Record<string, number> = {
  "Enable MFA": 10,
  "Secure management ports": 8,
  "Apply system updates": 6,
  "Remediate vulnerabilities": 6,
  "Enable encryption at rest": 4,
  "Encrypt data in transit": 4,
  "Manage access and permissions": 4,
  "Remediate security configurations": 4,
  "Restrict unauthorized network access": 4,
  "Apply adaptive application control": 3,
  "Apply data classification": 2,
  "Protect applications against DDoS attacks": 2,
  "Enable endpoint protection": 2,
  "Enable auditing and logging": 1,
  "Implement security best practices": 0,
};

type Json = Record<string, unknown>;

interface Compiled {
  definition: BenchmarkDefinition;
  types: Set<string>;
  applicability?: CompiledCondition;
  condition: CompiledCondition;
}

interface Evaluation {
  score: ScoreBreakdown;
  /** Per definition: applicable resources and the names of the unhealthy ones. */
  byDefinition: Map<string, { applicable: number; unhealthy: string[] }>;
}

function policyView(resource: DemoResource): PolicyResource {
  return {
    id: resource.externalId,
    type: resource.type,
    kind: resourceKindOf(resource.type),
    name: resource.name,
    location: resource.region,
    resourceGroup: resource.resourceGroup,
    tags: resource.tags,
    properties: resource.properties,
  };
}

/**
 * What the assessment engine does, in memory: a resource is applicable to a definition when its type is
 * listed (case-insensitively) and the applicability condition holds; it is then UNHEALTHY when the condition
 * holds. Per control, a resource is healthy only when all its applicable assessments there are; the tenant
 * score sums the counts over all resources.
 */
function evaluate(resources: readonly DemoResource[]): Evaluation {
  const { controls, definitions } = loadBenchmark();
  const compiled: Compiled[] = definitions.map((definition) => ({
    definition,
    types: new Set(definition.resourceTypes.map((t) => t.toLowerCase())),
    applicability: definition.applicability ? compileCondition(definition.applicability) : undefined,
    condition: compileCondition(definition.condition),
  }));
  const byDefinition = new Map(definitions.map((d) => [d.id, { applicable: 0, unhealthy: [] as string[] }]));
  const counts = new Map<string, ControlCounts>(
    controls.map((c) => [c.id, { healthy: 0, unhealthy: 0, notApplicable: 0 }]),
  );
  for (const resource of resources) {
    const view = policyView(resource);
    const type = resource.type.toLowerCase();
    const states = new Map<string, AssessmentState[]>();
    for (const { definition, types, applicability, condition } of compiled) {
      if (!types.has(type) || (applicability && !applicability.test(view))) continue;
      const unhealthy = condition.test(view);
      const tally = byDefinition.get(definition.id);
      if (tally) {
        tally.applicable++;
        if (unhealthy) tally.unhealthy.push(resource.name);
      }
      states.set(definition.control, [
        ...(states.get(definition.control) ?? []),
        unhealthy ? "UNHEALTHY" : "HEALTHY",
      ]);
    }
    for (const [controlId, count] of counts) {
      const state = controlStateOf(states.get(controlId) ?? []);
      if (state === "HEALTHY") count.healthy++;
      else if (state === "UNHEALTHY") count.unhealthy++;
      else count.notApplicable++;
    }
  }
  return { score: computeSecureScore(controls, counts), byDefinition };
}

describe("built-in benchmark v1", () => {
  const benchmark = loadBenchmark();

  it("loads once and is cached per version", () => {
    expect(benchmark.version).toBe("v1");
    expect(loadBenchmark("v1")).toBe(benchmark);
    expect(() => loadBenchmark("../v1")).toThrow(RangeError);
  });

  it("ships the 15 security controls with the points product.md gives them", () => {
    expect(Object.fromEntries(benchmark.controls.map((c) => [c.name, c.maxPoints]))).toEqual(
      PRODUCT_CONTROLS,
    );
    expect(benchmark.controls).toHaveLength(15);
    expect(benchmark.controls.find((c) => c.name === "Enable MFA")?.id).toBe("enable-mfa");
    for (const control of benchmark.controls) expect(control.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });

  it("has at least 60 definitions with unique ids over at least 10 resource types of all three providers", () => {
    const ids = benchmark.definitions.map((d) => d.id);
    expect(ids.length).toBeGreaterThanOrEqual(60);
    expect(new Set(ids).size).toBe(ids.length);
    const types = new Set(benchmark.definitions.flatMap((d) => d.resourceTypes));
    expect(types.size).toBeGreaterThanOrEqual(10);
    expect([...types].some((t) => t.startsWith("Microsoft."))).toBe(true);
    expect([...types].some((t) => t.startsWith("AWS::"))).toBe(true);
    expect([...types].some((t) => t.includes(".googleapis.com/"))).toBe(true);
  });

  it("has valid, compilable conditions, applicability conditions and property paths", () => {
    for (const definition of benchmark.definitions) {
      const label = `${definition.id}`;
      expect([label, validateCondition(definition.condition)]).toEqual([label, []]);
      expect(() => compileCondition(definition.condition)).not.toThrow();
      if (definition.applicability !== undefined) {
        expect([label, validateCondition(definition.applicability)]).toEqual([label, []]);
        expect(() => compileCondition(definition.applicability)).not.toThrow();
      }
      expect([label, validateCondition({ field: definition.property, exists: true })]).toEqual([label, []]);
      expect(definition.remediation.length).toBeGreaterThan(0);
    }
  });

  it("gives every control at least one definition, and several LOW ones to the zero-point control", () => {
    for (const control of benchmark.controls) {
      expect([control.id, benchmark.definitions.some((d) => d.control === control.id)]).toEqual([
        control.id,
        true,
      ]);
    }
    const bestPractices = benchmark.definitions.filter(
      (d) => d.control === "implement-security-best-practices",
    );
    expect(bestPractices.filter((d) => d.severity === "LOW").length).toBeGreaterThanOrEqual(3);
  });

  it("maps every definition into at least one compliance standard, with unmapped controls allowed", () => {
    expect(benchmark.standards.map((s) => s.id).sort()).toEqual([
      "cis-foundations",
      "cloud-security-benchmark",
    ]);
    const mapped = new Set(benchmark.standards.flatMap((s) => s.controls.flatMap((c) => c.definitions)));
    expect(benchmark.definitions.filter((d) => !mapped.has(d.id)).map((d) => d.id)).toEqual([]);
    const benchmarkControls =
      benchmark.standards.find((s) => s.id === "cloud-security-benchmark")?.controls ?? [];
    for (const prefix of ["NS-", "IM-", "PA-", "DP-", "LT-", "PV-", "ES-", "AM-"]) {
      expect([prefix, benchmarkControls.some((c) => c.id.startsWith(prefix))]).toEqual([prefix, true]);
    }
    // Controls no definition assesses are reported SKIPPED, so they belong in the data.
    expect(benchmarkControls.some((c) => c.definitions.length === 0)).toBe(true);
  });
});

/** A healthy and an unhealthy configuration (Cloud Asset Inventory `resource.data`) per GCP definition. */
const GCP_CASES: Record<string, { type: string; name?: string; healthy: Json; unhealthy: Json }> = (() => {
  const DEFAULT_SA = "418275093612-compute@developer.gserviceaccount.com";
  const FULL = "https://www.googleapis.com/auth/cloud-platform";
  const instance = "compute.googleapis.com/Instance";
  const firewall = "compute.googleapis.com/Firewall";
  const sql = "sqladmin.googleapis.com/Instance";
  const gke = "container.googleapis.com/Cluster";
  const bucket = "storage.googleapis.com/Bucket";
  const zone = "dns.googleapis.com/ManagedZone";
  const metadata = (items: Record<string, string>) => ({
    metadata: { items: Object.entries(items).map(([key, value]) => ({ key, value })) },
  });
  const rule = (sourceRanges: string[], allowed: Json[], extra: Json = {}) => ({
    direction: "INGRESS",
    sourceRanges,
    allowed,
    ...extra,
  });
  const ipConfiguration = (ip: Json) => ({ settings: { ipConfiguration: ip } });
  return {
    "gcp-vm-default-service-account": {
      type: instance,
      healthy: { serviceAccounts: [{ email: "etl@p.iam.gserviceaccount.com", scopes: [FULL] }] },
      unhealthy: {
        serviceAccounts: [{ email: DEFAULT_SA, scopes: ["https://www.googleapis.com/auth/logging.write"] }],
      },
    },
    "gcp-vm-default-service-account-full-access": {
      type: instance,
      healthy: {
        serviceAccounts: [
          { email: DEFAULT_SA, scopes: ["https://www.googleapis.com/auth/devstorage.read_only"] },
        ],
      },
      unhealthy: {
        serviceAccounts: [
          { email: DEFAULT_SA, scopes: ["https://www.googleapis.com/auth/logging.write", FULL] },
        ],
      },
    },
    "gcp-vm-block-project-ssh-keys": {
      type: instance,
      healthy: metadata({ "block-project-ssh-keys": "TRUE" }),
      unhealthy: metadata({ "block-project-ssh-keys": "false", "enable-oslogin": "TRUE" }),
    },
    "gcp-vm-os-login": {
      type: instance,
      healthy: metadata({ "enable-oslogin": "true" }),
      unhealthy: metadata({ "enable-oslogin": "FALSE" }),
    },
    "gcp-vm-serial-port-disabled": {
      type: instance,
      healthy: metadata({ "serial-port-enable": "FALSE" }),
      unhealthy: metadata({ "serial-port-enable": "TRUE" }),
    },
    "gcp-vm-ip-forwarding": {
      type: instance,
      healthy: { canIpForward: false },
      unhealthy: { canIpForward: true },
    },
    "gcp-vm-shielded-vm": {
      type: instance,
      healthy: {
        shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
      },
      unhealthy: {
        shieldedInstanceConfig: {
          enableSecureBoot: false,
          enableVtpm: true,
          enableIntegrityMonitoring: true,
        },
      },
    },
    "gcp-vm-public-ip": {
      type: instance,
      healthy: { networkInterfaces: [{ networkIP: "10.0.0.2", accessConfigs: [] }] },
      unhealthy: {
        networkInterfaces: [
          { networkIP: "10.0.0.3" },
          { networkIP: "10.1.0.3", accessConfigs: [{ type: "ONE_TO_ONE_NAT", natIP: "192.0.2.10" }] },
        ],
      },
    },
    "gcp-firewall-ssh-internet": {
      type: firewall,
      healthy: rule(["0.0.0.0/0"], [{ IPProtocol: "tcp", ports: ["443", "8443"] }]),
      unhealthy: rule(["10.0.0.0/8", "0.0.0.0/0"], [{ IPProtocol: "tcp", ports: ["80", "22"] }]),
    },
    "gcp-firewall-rdp-internet": {
      type: firewall,
      healthy: rule(["35.235.240.0/20"], [{ IPProtocol: "tcp", ports: ["3389"] }]),
      unhealthy: rule(["::/0"], [{ IPProtocol: "tcp" }]),
    },
    "gcp-firewall-all-ports-internet": {
      type: firewall,
      healthy: rule(["10.0.0.0/8"], [{ IPProtocol: "all" }]),
      unhealthy: rule(["0.0.0.0/0"], [{ IPProtocol: "all" }]),
    },
    "gcp-firewall-logging": {
      type: firewall,
      healthy: { logConfig: { enable: true } },
      unhealthy: { logConfig: { enable: false } },
    },
    "gcp-network-default": {
      type: "compute.googleapis.com/Network",
      name: "default",
      healthy: { name: "analytics-vpc" },
      unhealthy: { name: "default" },
    },
    "gcp-subnet-flow-logs": {
      type: "compute.googleapis.com/Subnetwork",
      healthy: { purpose: "PRIVATE", logConfig: { enable: true } },
      unhealthy: { purpose: "PRIVATE", logConfig: { enable: false } },
    },
    "gcp-dns-dnssec": {
      type: zone,
      healthy: { visibility: "public", dnssecConfig: { state: "on" } },
      unhealthy: { visibility: "public", dnssecConfig: { state: "transfer" } },
    },
    "gcp-dns-dnssec-rsasha1": {
      type: zone,
      healthy: {
        dnssecConfig: { state: "on", defaultKeySpecs: [{ keyType: "keySigning", algorithm: "rsasha256" }] },
      },
      unhealthy: {
        dnssecConfig: { state: "on", defaultKeySpecs: [{ keyType: "zoneSigning", algorithm: "rsasha1" }] },
      },
    },
    "gcp-bucket-public-access-prevention": {
      type: bucket,
      healthy: { iamConfiguration: { publicAccessPrevention: "enforced" } },
      unhealthy: { iamConfiguration: { publicAccessPrevention: "inherited" } },
    },
    "gcp-bucket-uniform-access": {
      type: bucket,
      healthy: { iamConfiguration: { uniformBucketLevelAccess: { enabled: true } } },
      unhealthy: { iamConfiguration: { uniformBucketLevelAccess: { enabled: false } } },
    },
    "gcp-sql-require-ssl": {
      type: sql,
      healthy: ipConfiguration({ requireSsl: false, sslMode: "ENCRYPTED_ONLY" }),
      unhealthy: ipConfiguration({ requireSsl: false }),
    },
    "gcp-sql-authorized-networks-internet": {
      type: sql,
      healthy: ipConfiguration({ authorizedNetworks: [{ value: "203.0.113.0/24" }] }),
      unhealthy: ipConfiguration({
        authorizedNetworks: [{ value: "203.0.113.0/24" }, { value: "0.0.0.0/0" }],
      }),
    },
    "gcp-sql-public-ip": {
      type: sql,
      healthy: ipConfiguration({ ipv4Enabled: false, privateNetwork: "projects/p/global/networks/vpc" }),
      unhealthy: ipConfiguration({ ipv4Enabled: true }),
    },
    "gcp-sql-automated-backups": {
      type: sql,
      healthy: { instanceType: "CLOUD_SQL_INSTANCE", settings: { backupConfiguration: { enabled: true } } },
      unhealthy: {
        instanceType: "CLOUD_SQL_INSTANCE",
        settings: { backupConfiguration: { enabled: false } },
      },
    },
    "gcp-sql-postgres-log-connections": {
      type: sql,
      healthy: {
        databaseVersion: "POSTGRES_16",
        settings: { databaseFlags: [{ name: "log_connections", value: "on" }] },
      },
      unhealthy: {
        databaseVersion: "POSTGRES_16",
        settings: { databaseFlags: [{ name: "log_connections", value: "off" }] },
      },
    },
    "gcp-gke-private-nodes": {
      type: gke,
      healthy: { privateClusterConfig: { enablePrivateNodes: true } },
      unhealthy: { privateClusterConfig: { enablePrivateNodes: false } },
    },
    "gcp-gke-master-authorized-networks": {
      type: gke,
      healthy: {
        masterAuthorizedNetworksConfig: { enabled: true, cidrBlocks: [{ cidrBlock: "203.0.113.0/24" }] },
      },
      unhealthy: {},
    },
    "gcp-gke-network-policy": {
      type: gke,
      healthy: {
        networkPolicy: { enabled: false },
        networkConfig: { datapathProvider: "ADVANCED_DATAPATH" },
      },
      unhealthy: {
        networkPolicy: { enabled: false },
        networkConfig: { datapathProvider: "LEGACY_DATAPATH" },
      },
    },
    "gcp-gke-legacy-abac": {
      type: gke,
      healthy: { legacyAbac: {} },
      unhealthy: { legacyAbac: { enabled: true } },
    },
    "gcp-gke-shielded-nodes": {
      type: gke,
      healthy: { shieldedNodes: { enabled: true } },
      unhealthy: { shieldedNodes: { enabled: false } },
    },
    "gcp-gke-release-channel": {
      type: gke,
      healthy: { releaseChannel: { channel: "STABLE" } },
      unhealthy: { releaseChannel: { channel: "UNSPECIFIED" } },
    },
    "gcp-kms-key-rotation": {
      type: "cloudkms.googleapis.com/CryptoKey",
      healthy: { purpose: "ENCRYPT_DECRYPT", rotationPeriod: "7776000s" },
      unhealthy: { purpose: "ENCRYPT_DECRYPT", rotationPeriod: "7776001s" },
    },
  };
})();

describe("the GCP definitions", () => {
  const gcp = loadBenchmark().definitions.filter((d) =>
    d.resourceTypes.some((t) => t.includes(".googleapis.com/")),
  );

  it("are at least 20, each with a case below", () => {
    expect(gcp.length).toBeGreaterThanOrEqual(20);
    expect(gcp.map((d) => d.id).sort()).toEqual(Object.keys(GCP_CASES).sort());
  });

  it("apply to asset types whose kind the inventory knows, so kind filters and plans see them", () => {
    const types = [...new Set(gcp.flatMap((d) => d.resourceTypes))];
    expect(types.filter((t) => resourceKindOf(t) === ResourceKind.OTHER)).toEqual([]);
    expect(resourceKindOf("cloudkms.googleapis.com/CryptoKey")).toBe(ResourceKind.KEY_VAULT);
  });

  it.each(Object.entries(GCP_CASES))(
    "%s: healthy and unhealthy configurations",
    (id, { type, name, healthy, unhealthy }) => {
      const definition = gcp.find((d) => d.id === id)!;
      expect(definition.resourceTypes).toContain(type);
      const applicability = definition.applicability ? compileCondition(definition.applicability) : undefined;
      const condition = compileCondition(definition.condition);
      const view = (properties: Json): PolicyResource => ({
        id: `//example.googleapis.com/projects/p/${id}`,
        type,
        kind: resourceKindOf(type),
        name: (properties.name as string | undefined) ?? name ?? "r",
        location: "europe-west1",
        resourceGroup: null,
        tags: {},
        properties,
      });
      for (const [properties, unhealthyExpected] of [
        [healthy, false],
        [unhealthy, true],
      ] as const) {
        expect([id, applicability?.test(view(properties)) ?? true]).toEqual([id, true]);
        expect([id, unhealthyExpected, condition.test(view(properties))]).toEqual([
          id,
          unhealthyExpected,
          unhealthyExpected,
        ]);
      }
    },
  );

  it("leave out what CIS leaves out: GKE nodes, private zones, egress and replica rules, other key purposes", () => {
    const applies = (id: string, properties: Json) => {
      const d = gcp.find((x) => x.id === id)!;
      return d.applicability
        ? compileCondition(d.applicability).test({
            id: "x",
            type: d.resourceTypes[0],
            kind: resourceKindOf(d.resourceTypes[0]),
            name: "x",
            location: null,
            resourceGroup: null,
            tags: {},
            properties,
          })
        : true;
    };
    expect(applies("gcp-vm-default-service-account", { labels: { "goog-gke-node": "" } })).toBe(false);
    expect(applies("gcp-dns-dnssec", { visibility: "private" })).toBe(false);
    expect(applies("gcp-firewall-ssh-internet", { direction: "EGRESS" })).toBe(false);
    expect(applies("gcp-firewall-ssh-internet", { direction: "INGRESS", disabled: true })).toBe(false);
    expect(applies("gcp-sql-automated-backups", { instanceType: "READ_REPLICA_INSTANCE" })).toBe(false);
    expect(applies("gcp-sql-postgres-log-connections", { databaseVersion: "MYSQL_8_0" })).toBe(false);
    expect(applies("gcp-kms-key-rotation", { purpose: "ASYMMETRIC_SIGN" })).toBe(false);
    expect(applies("gcp-subnet-flow-logs", { purpose: "REGIONAL_MANAGED_PROXY" })).toBe(false);
  });

  it("reads KMS rotation periods as the API writes them (seconds), whatever their length", () => {
    const rotation = compileCondition(gcp.find((d) => d.id === "gcp-kms-key-rotation")!.condition);
    const unhealthy = (rotationPeriod?: string) =>
      rotation.test({
        id: "k",
        type: "cloudkms.googleapis.com/CryptoKey",
        kind: resourceKindOf("cloudkms.googleapis.com/CryptoKey"),
        name: "k",
        location: "europe",
        resourceGroup: null,
        tags: {},
        properties: { purpose: "ENCRYPT_DECRYPT", ...(rotationPeriod ? { rotationPeriod } : {}) },
      });
    expect([undefined, "9999999s", "10000000s", "31536000s", "63072000000s"].map(unhealthy)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(["86400s", "999999s", "2592000s", "7776000s"].map(unhealthy)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("the benchmark over the demo estate", () => {
  const { score, byDefinition } = evaluate(demoResources());

  it("gives a secure score between 40% and 70%", () => {
    expect(score.percentage).toBeGreaterThanOrEqual(0.4);
    expect(score.percentage).toBeLessThanOrEqual(0.7);
    expect(score.max).toBe(60);
  });

  it("has healthy and unhealthy resources in every control that is worth points", () => {
    for (const control of score.controls.filter((c) => c.max > 0)) {
      expect([control.controlId, control.healthy > 0, control.unhealthy > 0]).toEqual([
        control.controlId,
        true,
        true,
      ]);
    }
    // Every control applies to the demo estate, so the maximum is the full 60 points.
    expect(score.controls.every((c) => c.weight > 0)).toBe(true);
  });

  it("applies every definition to at least one demo resource", () => {
    const unused = [...byDefinition].filter(([, tally]) => tally.applicable === 0).map(([id]) => id);
    expect(unused).toEqual([]);
  });

  it("finds at least 25 failing definitions, on the misconfigurations the estate is built with", () => {
    const failing = [...byDefinition].filter(([, tally]) => tally.unhealthy.length > 0);
    expect(failing.length).toBeGreaterThanOrEqual(25);
    const unhealthy = (id: string) => byDefinition.get(id)?.unhealthy ?? [];
    expect(unhealthy("nsg-management-ports-internet").sort()).toEqual([
      "nsg-dev-default-eus",
      "nsg-mgmt-dr-neu",
      "nsg-web-dr-neu",
    ]);
    expect(unhealthy("aws-sg-ssh-internet").sort()).toEqual([
      "contoso-euw1-app",
      "contoso-prod-bastion",
      "contoso-shared-legacy-admin",
    ]);
    expect(unhealthy("storage-secure-transfer").sort()).toEqual(["stcontosodiag01", "stcontosolegacy01"]);
    expect(unhealthy("aws-iam-user-console-mfa").sort()).toEqual(["lee.gu", "nestor.wilke", "pradeep.gupta"]);
    expect(unhealthy("entra-user-mfa")).toContain("Break Glass 01");
    // A disabled account is not asked for MFA, but its leftover roles are flagged.
    expect(unhealthy("entra-user-mfa")).not.toContain("Pradeep Gupta");
    expect(unhealthy("entra-blocked-privileged-accounts")).toEqual(["Pradeep Gupta"]);
    expect(unhealthy("sql-db-sensitive-data-classified").sort()).toEqual([
      "sqldb-ledger",
      "sqldb-orders-dev",
    ]);
    // The GCP project: the quick-start half fails, the hardened half passes.
    expect(unhealthy("gcp-firewall-ssh-internet")).toEqual(["default-allow-ssh"]);
    expect(unhealthy("gcp-vm-default-service-account-full-access")).toEqual(["analytics-etl-01"]);
    expect(unhealthy("gcp-vm-public-ip").sort()).toEqual(["analytics-etl-01", "analytics-nat-01"]);
    expect(unhealthy("gcp-bucket-public-access-prevention")).toEqual(["contoso-analytics-exports"]);
    expect(unhealthy("gcp-sql-require-ssl")).toEqual(["analytics-pg-01"]);
    expect(unhealthy("gcp-gke-master-authorized-networks")).toEqual(["analytics-gke-01"]);
    expect(unhealthy("gcp-dns-dnssec")).toEqual(["analytics-contoso"]);
    expect(unhealthy("gcp-kms-key-rotation")).toEqual(["analytics-exports"]);
  });
});

describe("the benchmark over synthetic inventory", () => {
  it.each(["azure", "aws"] as const)("evaluates 2,000 %s resources without throwing", (account) => {
    const { score, byDefinition } = evaluate(syntheticResources(2000, account));
    expect(score.max).toBeGreaterThan(0);
    expect(score.percentage).toBeGreaterThan(0);
    expect(score.percentage).toBeLessThan(1);
    expect([...byDefinition.values()].some((tally) => tally.unhealthy.length > 0)).toBe(true);
  });
});

describe("loading benchmark data", () => {
  let directory: string;
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(directory, file)), { recursive: true });
    writeFileSync(path.join(directory, file), text);
  };
  const definition = (id: string, control: string, condition: string) => `
- id: ${id}
  version: 1.0.0
  title: A title
  description: A description.
  severity: HIGH
  control: ${control}
  resourceTypes: [Microsoft.Storage/storageAccounts]
  condition: ${condition}
  property: properties.supportsHttpsTrafficOnly
  remediation: [Fix it.]
  threats: [DataExfiltration]
  userImpact: Low
  implementationEffort: Low
`;

  beforeEach(() => {
    directory = mkdtempSync(path.join(tmpdir(), "benchmark-"));
    write(
      "controls.yaml",
      "- { id: encrypt-data-in-transit, name: Encrypt data in transit, maxPoints: 4, description: TLS. }\n",
    );
    write(
      "definitions/storage.yaml",
      definition(
        "https-only",
        "encrypt-data-in-transit",
        "{ field: properties.supportsHttpsTrafficOnly, notEquals: true }",
      ),
    );
    write(
      "compliance/standard.yaml",
      "id: std\nname: Std\nversion: '1'\ndescription: A standard.\ncontrols:\n  - { id: DP-3, title: TLS, description: TLS., definitions: [https-only] }\n",
    );
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it("loads a valid data set", () => {
    const loaded = loadBenchmarkFrom(directory);
    expect(loaded.definitions.map((d) => d.id)).toEqual(["https-only"]);
    expect(loaded.standards[0].controls[0].definitions).toEqual(["https-only"]);
  });

  it("names the file and path of every fault", () => {
    write(
      "definitions/tls.yaml",
      definition(
        "https-only",
        "encrypt-data-at-rest",
        "{ field: properties.minimumTlsVersion, equal: TLS1_2 }",
      ),
    );
    write(
      "compliance/standard.yaml",
      "id: std\nname: Std\nversion: '1'\ndescription: A standard.\ncontrols:\n  - { id: DP-3, title: TLS, description: TLS., definitions: [https-only, no-such-definition] }\n",
    );
    let error: unknown;
    try {
      loadBenchmarkFrom(directory);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BenchmarkDataError);
    const problems = (error as BenchmarkDataError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^definitions\/tls\.yaml: \[0\]\.id: duplicate definition id https-only \(also in definitions\/storage\.yaml\)$/,
        ),
        expect.stringMatching(
          /^definitions\/tls\.yaml: \[0\]\.control: unknown control encrypt-data-at-rest/,
        ),
        expect.stringMatching(/^definitions\/tls\.yaml: \[0\]\.condition(\.equal)?: .*equals/),
        expect.stringMatching(
          /^compliance\/standard\.yaml: controls\[0\]\.definitions\[1\]: unknown definition no-such-definition/,
        ),
      ]),
    );
    expect((error as Error).message).toContain(directory);
  });

  it("rejects unknown fields and bad values with their paths", () => {
    write(
      "definitions/storage.yaml",
      definition(
        "https-only",
        "encrypt-data-in-transit",
        "{ field: properties.supportsHttpsTrafficOnly, notEquals: true }",
      )
        .replace("severity: HIGH", "severity: CRITICAL")
        .replace("userImpact: Low", "userImpact: Low\n  owner: me"),
    );
    expect(() => loadBenchmarkFrom(directory)).toThrow(/definitions\/storage\.yaml: \[0\]\.severity: /);
    expect(() => loadBenchmarkFrom(directory)).toThrow(/definitions\/storage\.yaml: \[0\]: .*owner/);
  });
});
