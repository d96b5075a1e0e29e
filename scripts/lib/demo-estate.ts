/*
 * Deterministic demo inventory: three cloud accounts (Azure, AWS, GCP), a few hundred realistic resources whose security
 * configuration is deliberately mixed (so posture policies find something), alerts on some of them, and a
 * cheap generator of synthetic inventory for benchmarks. Nothing here reads the clock or Math.random:
 * a seeded PRNG drives every choice, so every run yields identical data (alert times are relative to the
 * reference time passed in). All addresses are private or RFC 5737 documentation ranges.
 */

/** A cloud account of the demo tenant. */
export interface DemoAccount {
  key: "azure" | "aws" | "gcp";
  provider: "AZURE" | "AWS" | "GCP";
  externalId: string;
  name: string;
}

/** A demo resource: a `ResourceInput` keyed by account key instead of account id. */
export interface DemoResource {
  accountKey: DemoAccount["key"];
  /** Full ARM id for Azure resources (tenant-scoped path for Entra users), ARN for AWS, full resource name for GCP. */
  externalId: string;
  /** Provider-native type (ARM type, CloudFormation type or GCP asset type). */
  type: string;
  name: string;
  region: string | null;
  /** Azure resource group; null for AWS, GCP and tenant-level Entra objects. */
  resourceGroup: string | null;
  /** String values only, at most 10 tags. */
  tags: Record<string, string>;
  /** Configuration as the provider's API reports it (a few enrichments noted per type). */
  properties: Record<string, unknown>;
}

/** A demo alert: an `AlertInput` that names its resource by external id. */
export interface DemoAlert {
  sourceId: string;
  title: string;
  description: string;
  severity: "INFORMATIONAL" | "LOW" | "MEDIUM" | "HIGH";
  /** MITRE ATT&CK tactic names, e.g. `CredentialAccess`. */
  tactics: string[];
  /** MITRE ATT&CK technique ids, e.g. `T1110` or `T1059.001`. */
  techniques: string[];
  /** External id of one of the `demoResources()`. */
  resourceExternalId: string;
  /** ISO 8601, within the 3 days before the reference time. */
  startTime: string;
}

type Json = Record<string, unknown>;
type Tags = Record<string, string>;
/** Values of the `dataClassification` tag that data owners put on stores of data. */
type DataClassification = "public" | "internal" | "confidential" | "restricted";

const AZURE_SUBSCRIPTION_ID = "6c1f3b2a-9d4e-4f7a-8b25-3e9d0c7a1f42";
const AZURE_TENANT_ID = "b3e1c7d9-2f4a-4c8e-9a61-7d5f0e2b8c13";
const AWS_ACCOUNT_ID = "491827365014";
/** The demo GCP project: its id (the account's external id) and number (in default service accounts). */
const GCP_PROJECT_ID = "contoso-analytics-prod";
const GCP_PROJECT_NUMBER = "418275093612";
/** Fixed clock for resource timestamps (creation, last sign-in...): resources never depend on the real clock. */
const REFERENCE_MS = Date.UTC(2025, 0, 15, 9, 0, 0);
const DEMO_SEED = 0x2025_0115;
const SYNTHETIC_MAX = 200_000;
const OFFICE_CIDR = "203.0.113.0/24";

/** The demo tenant's three cloud accounts. */
export const DEMO_ACCOUNTS: DemoAccount[] = [
  { key: "azure", provider: "AZURE", externalId: AZURE_SUBSCRIPTION_ID, name: "Contoso Production" },
  { key: "aws", provider: "AWS", externalId: AWS_ACCOUNT_ID, name: "Contoso AWS Workloads" },
  { key: "gcp", provider: "GCP", externalId: GCP_PROJECT_ID, name: "Contoso Analytics (GCP)" },
];

const AZ = {
  vm: "Microsoft.Compute/virtualMachines",
  storage: "Microsoft.Storage/storageAccounts",
  sqlServer: "Microsoft.Sql/servers",
  sqlDb: "Microsoft.Sql/servers/databases",
  keyVault: "Microsoft.KeyVault/vaults",
  site: "Microsoft.Web/sites",
  aks: "Microsoft.ContainerService/managedClusters",
  acr: "Microsoft.ContainerRegistry/registries",
  nsg: "Microsoft.Network/networkSecurityGroups",
  vnet: "Microsoft.Network/virtualNetworks",
  subnet: "Microsoft.Network/virtualNetworks/subnets",
  pip: "Microsoft.Network/publicIPAddresses",
  nic: "Microsoft.Network/networkInterfaces",
  dns: "Microsoft.Network/dnszones",
  identity: "Microsoft.ManagedIdentity/userAssignedIdentities",
  user: "Microsoft.AAD/users",
} as const;

const AWS = {
  ec2: "AWS::EC2::Instance",
  s3: "AWS::S3::Bucket",
  rds: "AWS::RDS::DBInstance",
  sg: "AWS::EC2::SecurityGroup",
  vpc: "AWS::EC2::VPC",
  subnet: "AWS::EC2::Subnet",
  user: "AWS::IAM::User",
  role: "AWS::IAM::Role",
  kms: "AWS::KMS::Key",
  lambda: "AWS::Lambda::Function",
  eks: "AWS::EKS::Cluster",
  ecr: "AWS::ECR::Repository",
} as const;

// ---------------------------------------------------------------------------------------------------------
// Seeded randomness and small helpers
// ---------------------------------------------------------------------------------------------------------

type Rng = () => number;

/** mulberry32: tiny, fast, good enough for demo data; returns floats in [0, 1). */
function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer finaliser (lowbias32): a stateless hash for ids that must be derivable from an index. */
function mix32(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

const HEX = "0123456789abcdef";
const ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * A PRNG seeded from a key (a resource name or index). Settings added to the estate after its first
 * version draw from it instead of the shared sequence, so every older value stays exactly as it was.
 */
function rngFor(key: string): Rng {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return mulberry32(mix32(hash));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

function chance(rng: Rng, probability: number): boolean {
  return rng() < probability;
}

function between(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function randomChars(rng: Rng, alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(rng() * alphabet.length)];
  return out;
}

function uint32(rng: Rng): number {
  return Math.floor(rng() * 4294967296);
}

function guid(rng: Rng): string {
  const a = hex8(uint32(rng));
  const b = hex8(uint32(rng));
  const c = hex8(uint32(rng));
  return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${"89ab"[uint32(rng) & 3]}${c.slice(0, 3)}-${c.slice(3)}${hex8(uint32(rng)).slice(0, 7)}`;
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}

/** A GUID whose last 12 hex digits are the index: unique per index, independent of any seed. */
function indexGuid(index: number, salt: number): string {
  const a = hex8(mix32(index ^ salt));
  const b = hex8(mix32(index + salt * 31));
  return `${a}-${b.slice(0, 4)}-4${b.slice(4, 7)}-a${hex8(mix32(index ^ (salt << 3))).slice(0, 3)}-${index.toString(16).padStart(12, "0")}`;
}

/** An EC2-style 17-hex-digit id (`0` + hash + index): unique per index, independent of any seed. */
function indexAwsId(prefix: string, index: number): string {
  return `${prefix}-0${hex8(mix32(index ^ 0x5bd1e995))}${hex8(index)}`;
}

function awsRandomId(rng: Rng, prefix: string): string {
  return `${prefix}-0${randomChars(rng, HEX, 16)}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

function daysAgo(days: number): string {
  return new Date(REFERENCE_MS - Math.round(days * 86_400_000)).toISOString();
}

function lastSegment(id: string): string {
  return id.slice(id.lastIndexOf("/") + 1);
}

// ---------------------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------------------

const TEAMS = {
  webshop: { owner: "web-platform@contoso.com", costCenter: "CC-1040" },
  payments: { owner: "payments-eng@contoso.com", costCenter: "CC-2210" },
  data: { owner: "data-engineering@contoso.com", costCenter: "CC-3105" },
  platform: { owner: "cloud-platform@contoso.com", costCenter: "CC-1001" },
  identity: { owner: "identity-ops@contoso.com", costCenter: "CC-1001" },
  devtools: { owner: "developer-experience@contoso.com", costCenter: "CC-4400" },
  corp: { owner: "corp-it@contoso.com", costCenter: "CC-5020" },
} as const;
type App = keyof typeof TEAMS;
const APPS = Object.keys(TEAMS) as App[];
const ENVIRONMENTS = ["production", "production", "production", "staging", "development"] as const;

function tagsFor(app: App, environment: string, extra?: Tags): Tags {
  return {
    environment,
    application: app,
    owner: TEAMS[app].owner,
    costCenter: TEAMS[app].costCenter,
    ...extra,
  };
}

/** Tags with an occasional gap (no owner, or none at all) so tagging policies have findings. */
function syntheticTags(rng: Rng, app: App, environment: string): Tags {
  const roll = rng();
  if (roll < 0.05) return {};
  const tags = tagsFor(app, environment, { managedBy: roll < 0.6 ? "terraform" : "bicep" });
  if (roll > 0.88) delete tags.owner;
  return tags;
}

// ---------------------------------------------------------------------------------------------------------
// Azure builders (ARM `properties` bags; where posture needs data from a child resource or another API,
// it is folded in: SQL auditing/TDE/vulnerability assessment/sensitivity labels, VM extensions, key vault
// diagnostic settings, identity role assignments, VM power state as Resource Graph reports it, and the
// public IP's top-level `sku`)
// ---------------------------------------------------------------------------------------------------------

interface AzureBase {
  name: string;
  rg: string;
  region: string;
  tags: Tags;
}

/** ARM id; for child types (`a/b/c`) the parent names come first in `names`. */
function armId(rg: string, type: string, names: readonly string[]): string {
  const [namespace, ...segments] = type.split("/");
  const path = segments.map((segment, i) => `${segment}/${names[i]}`).join("/");
  return `/subscriptions/${AZURE_SUBSCRIPTION_ID}/resourceGroups/${rg}/providers/${namespace}/${path}`;
}

function azureResource(
  type: string,
  base: AzureBase,
  parents: readonly string[],
  properties: Json,
): DemoResource {
  return {
    accountKey: "azure",
    externalId: armId(base.rg, type, [...parents, base.name]),
    type,
    name: base.name,
    region: base.region,
    resourceGroup: base.rg,
    tags: base.tags,
    properties,
  };
}

interface ImageRef {
  publisher: string;
  offer: string;
  sku: string;
  version: string;
}

const IMAGES = {
  ubuntu2204: {
    publisher: "Canonical",
    offer: "0001-com-ubuntu-server-jammy",
    sku: "22_04-lts-gen2",
    version: "latest",
  },
  ubuntu2004: {
    publisher: "Canonical",
    offer: "0001-com-ubuntu-server-focal",
    sku: "20_04-lts-gen2",
    version: "latest",
  },
  rhel8: { publisher: "RedHat", offer: "RHEL", sku: "8-lvm-gen2", version: "latest" },
  win2022: {
    publisher: "MicrosoftWindowsServer",
    offer: "WindowsServer",
    sku: "2022-datacenter-azure-edition",
    version: "latest",
  },
  win2019: {
    publisher: "MicrosoftWindowsServer",
    offer: "WindowsServer",
    sku: "2019-datacenter-gensecond",
    version: "latest",
  },
  win2016: {
    publisher: "MicrosoftWindowsServer",
    offer: "WindowsServer",
    sku: "2016-datacenter",
    version: "latest",
  },
} satisfies Record<string, ImageRef>;
type ImageKey = keyof typeof IMAGES;
const IMAGE_KEYS = Object.keys(IMAGES) as ImageKey[];

/** The VM extensions (agents) installed on a VM. */
interface VmAgents {
  /** Azure Monitor Agent. */
  monitoring: boolean;
  /** Defender for Endpoint (MDE.Windows / MDE.Linux), which also brings vulnerability assessment. */
  defenderForEndpoint: boolean;
  /** Windows only: Microsoft Antimalware (IaaSAntimalware), and whether real-time protection is on. */
  antimalware: { realtime: boolean } | null;
  /** The Qualys vulnerability scanner shipped with Defender for Cloud. */
  qualys: boolean;
  guestConfiguration: boolean;
  /** Trusted Launch VMs only: the Guest Attestation extension. */
  guestAttestation: boolean;
  /** Periodic assessment of missing updates (`patchSettings.assessmentMode`). */
  periodicAssessment: boolean;
}

/** Which agents a VM with the given hardening (0..1) runs, drawn from the VM's own seed. */
function vmAgents(key: string, hardening: number): VmAgents {
  const rng = rngFor(`agents:${key}`);
  const defenderForEndpoint = chance(rng, hardening);
  return {
    monitoring: chance(rng, Math.min(1, hardening + 0.1)),
    defenderForEndpoint,
    antimalware: chance(rng, defenderForEndpoint ? 0.3 : 0.5) ? { realtime: chance(rng, 0.6) } : null,
    qualys: !defenderForEndpoint && chance(rng, 0.3),
    guestConfiguration: chance(rng, hardening),
    guestAttestation: chance(rng, 0.75),
    periodicAssessment: chance(rng, hardening),
  };
}

function vmExtension(vmId: string, type: string, publisher: string, version: string, settings?: Json): Json {
  return {
    name: type,
    id: `${vmId}/extensions/${type}`,
    type: "Microsoft.Compute/virtualMachines/extensions",
    properties: {
      publisher,
      type,
      typeHandlerVersion: version,
      autoUpgradeMinorVersion: true,
      provisioningState: "Succeeded",
      ...(settings ? { settings } : {}),
    },
  };
}

/** The VM's extension child resources, as `GET .../virtualMachines/{vm}/extensions` lists them. */
function vmExtensions(vmId: string, windows: boolean, trustedLaunch: boolean, a: VmAgents): Json[] {
  const os = windows ? "Windows" : "Linux";
  const out: Json[] = [];
  if (a.monitoring) out.push(vmExtension(vmId, `AzureMonitor${os}Agent`, "Microsoft.Azure.Monitor", "1.29"));
  if (a.defenderForEndpoint) {
    out.push(vmExtension(vmId, `MDE.${os}`, "Microsoft.Azure.AzureDefenderForServers", "1.0"));
  }
  if (windows && a.antimalware) {
    out.push(
      vmExtension(vmId, "IaaSAntimalware", "Microsoft.Azure.Security", "1.3", {
        AntimalwareEnabled: "true",
        RealtimeProtectionEnabled: a.antimalware.realtime ? "true" : "false",
        ScheduledScanSettings: { isEnabled: "true", day: "7", time: "120", scanType: "Quick" },
      }),
    );
  }
  if (a.qualys) out.push(vmExtension(vmId, `${os}Agent.AzureSecurityCenter`, "Qualys", "1.0"));
  if (a.guestConfiguration) {
    out.push(
      vmExtension(
        vmId,
        windows ? "AzurePolicyforWindows" : "AzurePolicyforLinux",
        "Microsoft.GuestConfiguration",
        "1.1",
      ),
    );
  }
  if (trustedLaunch && a.guestAttestation) {
    out.push(vmExtension(vmId, "GuestAttestation", `Microsoft.Azure.Security.${os}Attestation`, "1.0"));
  }
  return out;
}

interface AzureVmSpec extends AzureBase {
  vmId: string;
  image: ImageKey;
  size: string;
  nicId: string;
  created: string;
  diskEncryption: boolean;
  encryptionAtHost: boolean;
  trustedLaunch: boolean;
  /** Linux: password sign-in allowed. */
  passwordAuthentication: boolean;
  automaticUpdates: boolean;
  bootDiagnostics: boolean;
  running: boolean;
  dataDisks: number;
  agents: VmAgents;
}

function azureVm(s: AzureVmSpec): DemoResource {
  const windows = s.image.startsWith("win");
  const assessmentMode = s.agents.periodicAssessment ? "AutomaticByPlatform" : "ImageDefault";
  const osConfiguration = windows
    ? {
        windowsConfiguration: {
          provisionVMAgent: true,
          enableAutomaticUpdates: s.automaticUpdates,
          patchSettings: { patchMode: s.automaticUpdates ? "AutomaticByPlatform" : "Manual", assessmentMode },
        },
      }
    : {
        linuxConfiguration: {
          disablePasswordAuthentication: !s.passwordAuthentication,
          provisionVMAgent: true,
          patchSettings: {
            patchMode: s.automaticUpdates ? "AutomaticByPlatform" : "ImageDefault",
            assessmentMode,
          },
        },
      };
  const id = armId(s.rg, AZ.vm, [s.name]);
  return azureResource(AZ.vm, s, [], {
    vmId: s.vmId,
    hardwareProfile: { vmSize: s.size },
    storageProfile: {
      imageReference: { ...IMAGES[s.image] },
      osDisk: {
        osType: windows ? "Windows" : "Linux",
        name: `${s.name}_OsDisk_1`,
        createOption: "FromImage",
        caching: "ReadWrite",
        diskSizeGB: windows ? 127 : 30,
        managedDisk: { storageAccountType: "Premium_LRS" },
        encryptionSettings: { enabled: s.diskEncryption },
      },
      dataDisks: Array.from({ length: s.dataDisks }, (_, lun) => ({
        lun,
        name: `${s.name}_DataDisk_${lun}`,
        createOption: "Empty",
        caching: "ReadOnly",
        diskSizeGB: 256,
        managedDisk: { storageAccountType: "Premium_LRS" },
      })),
    },
    osProfile: {
      computerName: windows ? s.name.slice(0, 15) : s.name,
      adminUsername: windows ? "contosoadmin" : "azureuser",
      allowExtensionOperations: true,
      ...osConfiguration,
    },
    networkProfile: { networkInterfaces: [{ id: s.nicId, properties: { primary: true } }] },
    securityProfile: s.trustedLaunch
      ? {
          encryptionAtHost: s.encryptionAtHost,
          securityType: "TrustedLaunch",
          uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
        }
      : { encryptionAtHost: s.encryptionAtHost },
    diagnosticsProfile: { bootDiagnostics: { enabled: s.bootDiagnostics } },
    extensions: vmExtensions(id, windows, s.trustedLaunch, s.agents),
    extended: {
      instanceView: { powerState: { code: s.running ? "PowerState/running" : "PowerState/deallocated" } },
    },
    timeCreated: s.created,
    provisioningState: "Succeeded",
  });
}

interface AzureNicSpec extends AzureBase {
  subnetId: string;
  privateIp: string;
  publicIpId: string | null;
  nsgId: string | null;
  virtualMachineId: string | null;
  acceleratedNetworking: boolean;
  macAddress: string;
}

function azureNic(s: AzureNicSpec): DemoResource {
  const id = armId(s.rg, AZ.nic, [s.name]);
  return azureResource(AZ.nic, s, [], {
    ipConfigurations: [
      {
        name: "ipconfig1",
        id: `${id}/ipConfigurations/ipconfig1`,
        properties: {
          privateIPAddress: s.privateIp,
          privateIPAllocationMethod: "Dynamic",
          privateIPAddressVersion: "IPv4",
          primary: true,
          subnet: { id: s.subnetId },
          ...(s.publicIpId ? { publicIPAddress: { id: s.publicIpId } } : {}),
        },
      },
    ],
    ...(s.nsgId ? { networkSecurityGroup: { id: s.nsgId } } : {}),
    ...(s.virtualMachineId ? { virtualMachine: { id: s.virtualMachineId } } : {}),
    macAddress: s.macAddress,
    enableAcceleratedNetworking: s.acceleratedNetworking,
    enableIPForwarding: false,
    primary: true,
    provisioningState: "Succeeded",
  });
}

interface AzurePipSpec extends AzureBase {
  ipAddress: string;
  staticAllocation: boolean;
  ipConfigurationId: string | null;
  dnsLabel: string | null;
}

/** Standard-SKU addresses are always static; the demo's dynamic ones are Basic SKU (no DDoS protection). */
function azurePublicIp(s: AzurePipSpec): DemoResource {
  const standard = s.staticAllocation;
  return azureResource(AZ.pip, s, [], {
    sku: { name: standard ? "Standard" : "Basic", tier: "Regional" },
    ipAddress: s.ipAddress,
    publicIPAllocationMethod: s.staticAllocation ? "Static" : "Dynamic",
    publicIPAddressVersion: "IPv4",
    idleTimeoutInMinutes: 4,
    ...(s.ipConfigurationId ? { ipConfiguration: { id: s.ipConfigurationId } } : {}),
    ...(s.dnsLabel
      ? { dnsSettings: { domainNameLabel: s.dnsLabel, fqdn: `${s.dnsLabel}.${s.region}.cloudapp.azure.com` } }
      : {}),
    ...(standard ? { ddosSettings: { protectionMode: "VirtualNetworkInherited" } } : {}),
    provisioningState: "Succeeded",
  });
}

interface NsgRule {
  name: string;
  priority: number;
  /** `*`, `Internet`, `VirtualNetwork` or a CIDR. */
  source: string;
  /** A port, a range (`5985-5986`) or `*`. */
  port: string;
  access?: "Allow" | "Deny";
  protocol?: "Tcp" | "Udp" | "*";
  direction?: "Inbound" | "Outbound";
}

interface AzureNsgSpec extends AzureBase {
  resourceGuid: string;
  rules: readonly NsgRule[];
  subnetIds: readonly string[];
  nicIds: readonly string[];
}

function azureNsg(s: AzureNsgSpec): DemoResource {
  return azureResource(AZ.nsg, s, [], {
    resourceGuid: s.resourceGuid,
    securityRules: s.rules.map((rule) => ({
      name: rule.name,
      properties: {
        priority: rule.priority,
        direction: rule.direction ?? "Inbound",
        access: rule.access ?? "Allow",
        protocol: rule.protocol ?? "Tcp",
        sourceAddressPrefix: rule.source,
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        destinationPortRange: rule.port,
      },
    })),
    subnets: s.subnetIds.map((id) => ({ id })),
    networkInterfaces: s.nicIds.map((id) => ({ id })),
    provisioningState: "Succeeded",
  });
}

interface AzureVnetSpec extends AzureBase {
  resourceGuid: string;
  addressPrefix: string;
  subnets: ReadonlyArray<{ name: string; addressPrefix: string }>;
  peeredVnetIds: readonly string[];
  ddosProtection: boolean;
}

function azureVnet(s: AzureVnetSpec): DemoResource {
  const id = armId(s.rg, AZ.vnet, [s.name]);
  return azureResource(AZ.vnet, s, [], {
    resourceGuid: s.resourceGuid,
    addressSpace: { addressPrefixes: [s.addressPrefix] },
    subnets: s.subnets.map((sub) => ({
      id: `${id}/subnets/${sub.name}`,
      name: sub.name,
      properties: { addressPrefix: sub.addressPrefix },
    })),
    virtualNetworkPeerings: s.peeredVnetIds.map((remote) => ({
      name: `peer-to-${lastSegment(remote)}`,
      properties: {
        remoteVirtualNetwork: { id: remote },
        peeringState: "Connected",
        allowVirtualNetworkAccess: true,
        allowForwardedTraffic: true,
      },
    })),
    enableDdosProtection: s.ddosProtection,
    provisioningState: "Succeeded",
  });
}

interface AzureSubnetSpec extends AzureBase {
  vnet: string;
  addressPrefix: string;
  nsgId: string | null;
  serviceEndpoints: readonly string[];
}

function azureSubnet(s: AzureSubnetSpec): DemoResource {
  return azureResource(AZ.subnet, s, [s.vnet], {
    addressPrefix: s.addressPrefix,
    ...(s.nsgId ? { networkSecurityGroup: { id: s.nsgId } } : {}),
    serviceEndpoints: s.serviceEndpoints.map((service) => ({ service, locations: [s.region] })),
    privateEndpointNetworkPolicies: "Disabled",
    privateLinkServiceNetworkPolicies: "Enabled",
    provisioningState: "Succeeded",
  });
}

interface AzureStorageSpec extends AzureBase {
  created: string;
  httpsOnly: boolean;
  minimumTlsVersion: "TLS1_0" | "TLS1_1" | "TLS1_2";
  allowBlobPublicAccess: boolean;
  allowSharedKeyAccess: boolean;
  blobEncryption: boolean;
  /** Customer-managed key in this vault, or platform-managed keys when null. */
  keyVaultUri: string | null;
  defaultAction: "Allow" | "Deny";
  subnetIds: readonly string[];
  ipRules: readonly string[];
  accessTier: "Hot" | "Cool";
}

function azureStorage(s: AzureStorageSpec): DemoResource {
  return azureResource(AZ.storage, s, [], {
    creationTime: s.created,
    primaryLocation: s.region,
    statusOfPrimary: "available",
    accessTier: s.accessTier,
    supportsHttpsTrafficOnly: s.httpsOnly,
    minimumTlsVersion: s.minimumTlsVersion,
    allowBlobPublicAccess: s.allowBlobPublicAccess,
    allowSharedKeyAccess: s.allowSharedKeyAccess,
    publicNetworkAccess: "Enabled",
    encryption: {
      keySource: s.keyVaultUri ? "Microsoft.Keyvault" : "Microsoft.Storage",
      ...(s.keyVaultUri
        ? { keyvaultproperties: { keyvaulturi: s.keyVaultUri, keyname: "cmk-storage" } }
        : {}),
      services: {
        blob: { enabled: s.blobEncryption, keyType: "Account" },
        file: { enabled: true, keyType: "Account" },
      },
      requireInfrastructureEncryption: false,
    },
    networkAcls: {
      bypass: "AzureServices",
      defaultAction: s.defaultAction,
      ipRules: s.ipRules.map((value) => ({ value, action: "Allow" })),
      virtualNetworkRules: s.subnetIds.map((id) => ({ id, action: "Allow", state: "Succeeded" })),
    },
    primaryEndpoints: {
      blob: `https://${s.name}.blob.core.windows.net/`,
      file: `https://${s.name}.file.core.windows.net/`,
    },
    provisioningState: "Succeeded",
  });
}

interface AzureSqlServerSpec extends AzureBase {
  publicNetworkAccess: "Enabled" | "Disabled";
  minimalTlsVersion: "1.0" | "1.1" | "1.2";
  auditing: boolean;
  auditRetentionDays: number;
  adminGroup: string;
  adminGroupSid: string;
  aadOnlyAuthentication: boolean;
  threatDetection: boolean;
  /** SQL vulnerability assessment (express configuration); defaults to `threatDetection`. */
  vulnerabilityAssessment?: boolean;
  firewallRules: ReadonlyArray<readonly [name: string, start: string, end: string]>;
}

function azureSqlServer(s: AzureSqlServerSpec): DemoResource {
  return azureResource(AZ.sqlServer, s, [], {
    administratorLogin: "sqladminuser",
    version: "12.0",
    state: "Ready",
    fullyQualifiedDomainName: `${s.name}.database.windows.net`,
    publicNetworkAccess: s.publicNetworkAccess,
    minimalTlsVersion: s.minimalTlsVersion,
    restrictOutboundNetworkAccess: "Disabled",
    administrators: {
      administratorType: "ActiveDirectory",
      principalType: "Group",
      login: s.adminGroup,
      sid: s.adminGroupSid,
      tenantId: AZURE_TENANT_ID,
      azureADOnlyAuthentication: s.aadOnlyAuthentication,
    },
    auditingSettings: {
      state: s.auditing ? "Enabled" : "Disabled",
      retentionDays: s.auditing ? s.auditRetentionDays : 0,
      isAzureMonitorTargetEnabled: s.auditing,
    },
    securityAlertPolicy: { state: s.threatDetection ? "Enabled" : "Disabled" },
    sqlVulnerabilityAssessment: {
      state: (s.vulnerabilityAssessment ?? s.threatDetection) ? "Enabled" : "Disabled",
    },
    firewallRules: s.firewallRules.map(([name, startIpAddress, endIpAddress]) => ({
      name,
      startIpAddress,
      endIpAddress,
    })),
  });
}

interface AzureSqlDbSpec extends AzureBase {
  server: string;
  databaseId: string;
  created: string;
  serviceObjective: string;
  maxSizeGb: number;
  transparentDataEncryption: boolean;
  backupRedundancy: "Geo" | "Local" | "Zone";
  zoneRedundant: boolean;
  geoSecondary: boolean;
  /** Data discovery & classification: labelled columns, and columns that look sensitive but have no label. */
  sensitivity: { labelled: readonly SensitiveColumn[]; recommended: readonly SensitiveColumn[] };
}

type SensitiveColumn = readonly [table: string, column: string, label: string, informationType: string];

/** Columns that data discovery & classification recognises as sensitive in the demo's schemas. */
const SENSITIVE_COLUMNS = {
  email: ["Customers", "Email", "Confidential", "Contact Info"],
  phone: ["Customers", "Phone", "Confidential", "Contact Info"],
  birthDate: ["Customers", "DateOfBirth", "Confidential - GDPR", "Date Of Birth"],
  address: ["Addresses", "StreetAddress", "Confidential", "Contact Info"],
  card: ["PaymentMethods", "CardNumber", "Highly Confidential", "Credit Card"],
  iban: ["Payouts", "Iban", "Highly Confidential", "Banking"],
  password: ["Users", "PasswordHash", "Confidential", "Credentials"],
} satisfies Record<string, SensitiveColumn>;

function sensitivityLabels(columns: readonly SensitiveColumn[]): Json[] {
  return columns.map(([tableName, columnName, labelName, informationType]) => ({
    schemaName: "dbo",
    tableName,
    columnName,
    labelName,
    informationType,
    rank: labelName.startsWith("Highly") ? "High" : "Medium",
  }));
}

function azureSqlDb(s: AzureSqlDbSpec): DemoResource {
  return azureResource(AZ.sqlDb, s, [s.server], {
    databaseId: s.databaseId,
    creationDate: s.created,
    status: "Online",
    collation: "SQL_Latin1_General_CP1_CI_AS",
    maxSizeBytes: s.maxSizeGb * 1024 ** 3,
    currentServiceObjectiveName: s.serviceObjective,
    requestedBackupStorageRedundancy: s.backupRedundancy,
    zoneRedundant: s.zoneRedundant,
    readScale: "Disabled",
    ...(s.geoSecondary ? { secondaryType: "Geo" } : {}),
    transparentDataEncryption: { state: s.transparentDataEncryption ? "Enabled" : "Disabled" },
    currentSensitivityLabels: sensitivityLabels(s.sensitivity.labelled),
    recommendedSensitivityLabels: sensitivityLabels(s.sensitivity.recommended),
  });
}

interface AzureKeyVaultSpec extends AzureBase {
  sku: "standard" | "premium";
  softDelete: boolean;
  purgeProtection: boolean;
  rbac: boolean;
  defaultAction: "Allow" | "Deny";
  publicNetworkAccess: "Enabled" | "Disabled";
  ipRules: readonly string[];
  /** Object ids granted access policies (ignored with RBAC). */
  accessPolicyObjectIds: readonly string[];
  diskEncryption: boolean;
  /** A diagnostic setting sends the vault's audit logs to Log Analytics. */
  auditLogs?: boolean;
}

const LOG_ANALYTICS_WORKSPACE = `/subscriptions/${AZURE_SUBSCRIPTION_ID}/resourceGroups/rg-shared-services/providers/Microsoft.OperationalInsights/workspaces/log-contoso-prod`;

function azureKeyVault(s: AzureKeyVaultSpec): DemoResource {
  return azureResource(AZ.keyVault, s, [], {
    tenantId: AZURE_TENANT_ID,
    sku: { family: "A", name: s.sku },
    vaultUri: `https://${s.name}.vault.azure.net/`,
    enableSoftDelete: s.softDelete,
    ...(s.softDelete ? { softDeleteRetentionInDays: 90 } : {}),
    enablePurgeProtection: s.purgeProtection,
    enableRbacAuthorization: s.rbac,
    enabledForDeployment: false,
    enabledForDiskEncryption: s.diskEncryption,
    enabledForTemplateDeployment: false,
    accessPolicies: s.rbac
      ? []
      : s.accessPolicyObjectIds.map((objectId) => ({
          tenantId: AZURE_TENANT_ID,
          objectId,
          permissions: {
            keys: ["Get", "List"],
            secrets: ["Get", "List", "Set", "Delete"],
            certificates: ["Get", "List"],
          },
        })),
    networkAcls: {
      bypass: "AzureServices",
      defaultAction: s.defaultAction,
      ipRules: s.ipRules.map((value) => ({ value })),
      virtualNetworkRules: [],
    },
    publicNetworkAccess: s.publicNetworkAccess,
    diagnosticSettings: s.auditLogs
      ? [
          {
            name: "audit-to-log-analytics",
            properties: {
              workspaceId: LOG_ANALYTICS_WORKSPACE,
              logs: [
                { categoryGroup: "audit", enabled: true },
                { categoryGroup: "allLogs", enabled: false },
              ],
            },
          },
        ]
      : [],
    provisioningState: "Succeeded",
  });
}

interface AzureSiteSpec extends AzureBase {
  httpsOnly: boolean;
  minTlsVersion: "1.0" | "1.1" | "1.2";
  ftpsState: "AllAllowed" | "FtpsOnly" | "Disabled";
  /** `linuxFxVersion`, e.g. `DOTNETCORE|8.0`. */
  stack: string;
  remoteDebugging: boolean;
  clientCertEnabled: boolean;
  publicNetworkAccess: "Enabled" | "Disabled";
  keyVaultReferenceIdentity: string | null;
}

function azureSite(s: AzureSiteSpec): DemoResource {
  const host = `${s.name}.azurewebsites.net`;
  return azureResource(AZ.site, s, [], {
    state: "Running",
    enabled: true,
    defaultHostName: host,
    hostNames: [host],
    httpsOnly: s.httpsOnly,
    clientCertEnabled: s.clientCertEnabled,
    publicNetworkAccess: s.publicNetworkAccess,
    ...(s.keyVaultReferenceIdentity ? { keyVaultReferenceIdentity: s.keyVaultReferenceIdentity } : {}),
    siteConfig: {
      linuxFxVersion: s.stack,
      minTlsVersion: s.minTlsVersion,
      scmMinTlsVersion: s.minTlsVersion,
      ftpsState: s.ftpsState,
      http20Enabled: s.minTlsVersion === "1.2",
      remoteDebuggingEnabled: s.remoteDebugging,
      alwaysOn: true,
    },
  });
}

interface AzureAksSpec extends AzureBase {
  kubernetesVersion: string;
  fqdnSuffix: string;
  rbac: boolean;
  aadManaged: boolean;
  localAccountsDisabled: boolean;
  privateCluster: boolean;
  authorizedIpRanges: readonly string[];
  networkPlugin: "azure" | "kubenet";
  networkPolicy: "calico" | "azure" | null;
  subnetId: string | null;
  nodeCount: number;
  nodeSize: string;
  defender: boolean;
  azurePolicy: boolean;
  kubeletIdentityId: string | null;
}

function azureAks(s: AzureAksSpec): DemoResource {
  const host = `${s.name}-dns-${s.fqdnSuffix}`;
  return azureResource(AZ.aks, s, [], {
    kubernetesVersion: s.kubernetesVersion,
    currentKubernetesVersion: s.kubernetesVersion,
    dnsPrefix: `${s.name}-dns`,
    ...(s.privateCluster
      ? { privateFQDN: `${host}.privatelink.${s.region}.azmk8s.io` }
      : { fqdn: `${host}.hcp.${s.region}.azmk8s.io` }),
    enableRBAC: s.rbac,
    ...(s.aadManaged
      ? { aadProfile: { managed: true, enableAzureRBAC: true, tenantID: AZURE_TENANT_ID } }
      : {}),
    disableLocalAccounts: s.localAccountsDisabled,
    apiServerAccessProfile: {
      enablePrivateCluster: s.privateCluster,
      authorizedIPRanges: [...s.authorizedIpRanges],
    },
    networkProfile: {
      networkPlugin: s.networkPlugin,
      ...(s.networkPolicy ? { networkPolicy: s.networkPolicy } : {}),
      ...(s.networkPlugin === "kubenet" ? { podCidr: "10.244.0.0/16" } : {}),
      serviceCidr: "10.240.0.0/16",
      dnsServiceIP: "10.240.0.10",
      loadBalancerSku: "standard",
      outboundType: "loadBalancer",
    },
    agentPoolProfiles: [
      {
        name: "system",
        mode: "System",
        count: s.nodeCount,
        vmSize: s.nodeSize,
        osType: "Linux",
        osSKU: "Ubuntu",
        orchestratorVersion: s.kubernetesVersion,
        enableAutoScaling: true,
        minCount: Math.max(1, s.nodeCount - 1),
        maxCount: s.nodeCount + 3,
        enableNodePublicIP: false,
        ...(s.subnetId ? { vnetSubnetID: s.subnetId } : {}),
      },
    ],
    addonProfiles: { azurepolicy: { enabled: s.azurePolicy }, omsagent: { enabled: s.defender } },
    securityProfile: { defender: { securityMonitoring: { enabled: s.defender } } },
    ...(s.kubeletIdentityId
      ? { identityProfile: { kubeletidentity: { resourceId: s.kubeletIdentityId } } }
      : {}),
    nodeResourceGroup: `MC_${s.rg}_${s.name}_${s.region}`,
    powerState: { code: "Running" },
    provisioningState: "Succeeded",
  });
}

interface AzureAcrSpec extends AzureBase {
  created: string;
  premium: boolean;
  adminUserEnabled: boolean;
  publicNetworkAccess: "Enabled" | "Disabled";
  anonymousPull: boolean;
}

function azureAcr(s: AzureAcrSpec): DemoResource {
  return azureResource(AZ.acr, s, [], {
    loginServer: `${s.name}.azurecr.io`,
    creationDate: s.created,
    adminUserEnabled: s.adminUserEnabled,
    publicNetworkAccess: s.publicNetworkAccess,
    anonymousPullEnabled: s.anonymousPull,
    networkRuleBypassOptions: "AzureServices",
    ...(s.premium
      ? { networkRuleSet: { defaultAction: s.publicNetworkAccess === "Enabled" ? "Allow" : "Deny" } }
      : {}),
    policies: {
      quarantinePolicy: { status: "disabled" },
      trustPolicy: { type: "Notary", status: s.premium ? "enabled" : "disabled" },
      retentionPolicy: { days: 7, status: s.premium ? "enabled" : "disabled" },
      exportPolicy: { status: "enabled" },
    },
    encryption: { status: "disabled" },
    dataEndpointEnabled: false,
    zoneRedundancy: s.premium ? "Enabled" : "Disabled",
    provisioningState: "Succeeded",
  });
}

const AZURE_NAME_SERVERS = [
  "ns1-03.azure-dns.com.",
  "ns2-03.azure-dns.net.",
  "ns3-03.azure-dns.org.",
  "ns4-03.azure-dns.info.",
];

function azureDnsZone(base: AzureBase, recordSets: number): DemoResource {
  return azureResource(AZ.dns, base, [], {
    zoneType: "Public",
    maxNumberOfRecordSets: 10000,
    numberOfRecordSets: recordSets,
    nameServers: AZURE_NAME_SERVERS,
  });
}

interface AzureIdentitySpec extends AzureBase {
  principalId: string;
  clientId: string;
  /** Enrichment from the role-assignments API: what the identity may do, and where. */
  roleAssignments: ReadonlyArray<readonly [roleDefinitionName: string, scope: string]>;
}

function azureIdentity(s: AzureIdentitySpec): DemoResource {
  return azureResource(AZ.identity, s, [], {
    tenantId: AZURE_TENANT_ID,
    principalId: s.principalId,
    clientId: s.clientId,
    roleAssignments: s.roleAssignments.map(([roleDefinitionName, scope]) => ({ roleDefinitionName, scope })),
  });
}

interface EntraUserSpec {
  objectId: string;
  userPrincipalName: string;
  displayName: string;
  mail: string;
  jobTitle: string | null;
  department: string | null;
  guest: boolean;
  enabled: boolean;
  /** Registered strong-auth methods; empty means no MFA. */
  mfaMethods: readonly string[];
  /** Entra directory roles. */
  roles: readonly string[];
  lastSignIn: string | null;
  created: string;
  synced: boolean;
  passwordNeverExpires: boolean;
}

/** Entra users are tenant-level objects: no resource group or region, and an id under `/tenants/<tenant>`. */
function entraUser(s: EntraUserSpec): DemoResource {
  return {
    accountKey: "azure",
    externalId: `/tenants/${AZURE_TENANT_ID}/providers/${AZ.user}/${s.objectId}`,
    type: AZ.user,
    name: s.displayName,
    region: null,
    resourceGroup: null,
    tags: {},
    properties: {
      id: s.objectId,
      userPrincipalName: s.userPrincipalName,
      displayName: s.displayName,
      mail: s.mail,
      userType: s.guest ? "Guest" : "Member",
      accountEnabled: s.enabled,
      jobTitle: s.jobTitle,
      department: s.department,
      createdDateTime: s.created,
      onPremisesSyncEnabled: s.synced ? true : null,
      passwordPolicies: s.passwordNeverExpires ? "DisablePasswordExpiration" : "None",
      signInActivity: { lastSignInDateTime: s.lastSignIn },
      strongAuthenticationMethods: s.mfaMethods.map((methodType, i) => ({ methodType, isDefault: i === 0 })),
      assignedRoles: [...s.roles],
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// AWS builders (PascalCase as the EC2/S3/RDS/IAM/... APIs report it; S3 bucket settings come from the
// per-setting Get* calls (the bucket policy parsed from its JSON), IAM users from the credential report where
// the listing lacks data, EKS add-ons from ListAddons)
// ---------------------------------------------------------------------------------------------------------

function arn(service: string, region: string, resource: string): string {
  return `arn:aws:${service}:${region}:${AWS_ACCOUNT_ID}:${resource}`;
}

function awsResource(
  type: string,
  externalId: string,
  name: string,
  region: string | null,
  tags: Tags,
  properties: Json,
): DemoResource {
  return { accountKey: "aws", externalId, type, name, region, resourceGroup: null, tags, properties };
}

function policyArn(name: string): string {
  return `arn:aws:iam::aws:policy/${name}`;
}

function attachedPolicies(names: readonly string[]): Json[] {
  return names.map((name) => ({ PolicyName: lastSegment(name), PolicyArn: policyArn(name) }));
}

interface Ec2Spec {
  name: string;
  region: string;
  availabilityZone: string;
  tags: Tags;
  instanceId: string;
  instanceType: string;
  imageId: string;
  windows: boolean;
  arm: boolean;
  privateIp: string;
  publicIp: string | null;
  subnetId: string;
  vpcId: string;
  securityGroups: ReadonlyArray<{ GroupId: string; GroupName: string }>;
  instanceProfile: string | null;
  imdsV2Required: boolean;
  keyName: string | null;
  launchTime: string;
  detailedMonitoring: boolean;
  running: boolean;
  volumeId: string;
}

function ec2Instance(s: Ec2Spec): DemoResource {
  const dashed = (ip: string) => ip.replace(/\./g, "-");
  const internalDomain = s.region === "us-east-1" ? "ec2.internal" : `${s.region}.compute.internal`;
  const publicDomain =
    s.region === "us-east-1" ? "compute-1.amazonaws.com" : `${s.region}.compute.amazonaws.com`;
  const rootDevice = s.windows ? "/dev/sda1" : "/dev/xvda";
  return awsResource(AWS.ec2, arn("ec2", s.region, `instance/${s.instanceId}`), s.name, s.region, s.tags, {
    InstanceId: s.instanceId,
    InstanceType: s.instanceType,
    ImageId: s.imageId,
    ...(s.windows ? { Platform: "windows" } : {}),
    PlatformDetails: s.windows ? "Windows" : "Linux/UNIX",
    Architecture: s.arm ? "arm64" : "x86_64",
    State: s.running ? { Code: 16, Name: "running" } : { Code: 80, Name: "stopped" },
    Placement: { AvailabilityZone: s.availabilityZone, Tenancy: "default" },
    PrivateIpAddress: s.privateIp,
    PrivateDnsName: `ip-${dashed(s.privateIp)}.${internalDomain}`,
    ...(s.publicIp
      ? { PublicIpAddress: s.publicIp, PublicDnsName: `ec2-${dashed(s.publicIp)}.${publicDomain}` }
      : {}),
    SubnetId: s.subnetId,
    VpcId: s.vpcId,
    SecurityGroups: s.securityGroups.map((g) => ({ ...g })),
    ...(s.instanceProfile
      ? {
          IamInstanceProfile: { Arn: `arn:aws:iam::${AWS_ACCOUNT_ID}:instance-profile/${s.instanceProfile}` },
        }
      : {}),
    ...(s.keyName ? { KeyName: s.keyName } : {}),
    MetadataOptions: {
      State: "applied",
      HttpTokens: s.imdsV2Required ? "required" : "optional",
      HttpPutResponseHopLimit: s.imdsV2Required ? 2 : 1,
      HttpEndpoint: "enabled",
      InstanceMetadataTags: "disabled",
    },
    Monitoring: { State: s.detailedMonitoring ? "enabled" : "disabled" },
    RootDeviceType: "ebs",
    RootDeviceName: rootDevice,
    BlockDeviceMappings: [
      {
        DeviceName: rootDevice,
        Ebs: {
          VolumeId: s.volumeId,
          Status: "attached",
          DeleteOnTermination: true,
          AttachTime: s.launchTime,
        },
      },
    ],
    EbsOptimized: true,
    EnaSupport: true,
    LaunchTime: s.launchTime,
  });
}

interface S3Spec {
  name: string;
  region: string;
  tags: Tags;
  created: string;
  /** `partial`: ACLs blocked, policies not. */
  publicAccessBlock: boolean | "partial";
  sse: "aws:kms" | "AES256" | null;
  kmsKeyArn: string | null;
  /** null: versioning never enabled (the API then reports no status). */
  versioning: "Enabled" | "Suspended" | null;
  loggingTarget: string | null;
  isPublic: boolean;
  /** The bucket policy denies requests that do not use TLS (`aws:SecureTransport` false). */
  denyInsecureTransport: boolean;
}

function s3Bucket(s: S3Spec): DemoResource {
  const block = s.publicAccessBlock === true;
  const bucketArn = `arn:aws:s3:::${s.name}`;
  const statements: Json[] = [];
  if (s.isPublic) {
    statements.push({
      Sid: "PublicRead",
      Effect: "Allow",
      Principal: "*",
      Action: "s3:GetObject",
      Resource: `${bucketArn}/*`,
    });
  }
  if (s.denyInsecureTransport) {
    statements.push({
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
  }
  return awsResource(AWS.s3, `arn:aws:s3:::${s.name}`, s.name, s.region, s.tags, {
    BucketName: s.name,
    BucketRegion: s.region,
    CreationDate: s.created,
    ...(s.publicAccessBlock
      ? {
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            IgnorePublicAcls: true,
            BlockPublicPolicy: block,
            RestrictPublicBuckets: block,
          },
        }
      : {}),
    ...(s.sse
      ? {
          ServerSideEncryptionConfiguration: {
            Rules: [
              {
                ApplyServerSideEncryptionByDefault: {
                  SSEAlgorithm: s.sse,
                  ...(s.sse === "aws:kms" && s.kmsKeyArn ? { KMSMasterKeyID: s.kmsKeyArn } : {}),
                },
                BucketKeyEnabled: s.sse === "aws:kms",
              },
            ],
          },
        }
      : {}),
    ...(s.versioning ? { VersioningConfiguration: { Status: s.versioning, MFADelete: "Disabled" } } : {}),
    ...(s.loggingTarget
      ? { LoggingEnabled: { TargetBucket: s.loggingTarget, TargetPrefix: `s3/${s.name}/` } }
      : {}),
    ...(statements.length ? { Policy: { Version: "2012-10-17", Statement: statements } } : {}),
    PolicyStatus: { IsPublic: s.isPublic },
    OwnershipControls: { Rules: [{ ObjectOwnership: s.isPublic ? "ObjectWriter" : "BucketOwnerEnforced" }] },
  });
}

interface RdsSpec {
  id: string;
  region: string;
  availabilityZone: string;
  tags: Tags;
  engine: "postgres" | "mysql";
  engineVersion: string;
  instanceClass: string;
  storageGb: number;
  encrypted: boolean;
  kmsKeyArn: string | null;
  publiclyAccessible: boolean;
  multiAz: boolean;
  deletionProtection: boolean;
  backupRetentionDays: number;
  iamAuth: boolean;
  /** Defaults to true (the RDS default). */
  autoMinorVersionUpgrade?: boolean;
  securityGroupIds: readonly string[];
  vpcId: string;
  subnetGroup: string;
  subnetIds: readonly string[];
  created: string;
}

function rdsInstance(s: RdsSpec): DemoResource {
  const dbArn = arn("rds", s.region, `db:${s.id}`);
  return awsResource(AWS.rds, dbArn, s.id, s.region, s.tags, {
    DBInstanceIdentifier: s.id,
    DBInstanceArn: dbArn,
    DBInstanceClass: s.instanceClass,
    Engine: s.engine,
    EngineVersion: s.engineVersion,
    DBInstanceStatus: "available",
    MasterUsername: "dbadmin",
    Endpoint: {
      Address: `${s.id}.c8k2qzt4xw1m.${s.region}.rds.amazonaws.com`,
      Port: s.engine === "postgres" ? 5432 : 3306,
    },
    AllocatedStorage: s.storageGb,
    StorageType: "gp3",
    StorageEncrypted: s.encrypted,
    ...(s.encrypted && s.kmsKeyArn ? { KmsKeyId: s.kmsKeyArn } : {}),
    PubliclyAccessible: s.publiclyAccessible,
    MultiAZ: s.multiAz,
    AvailabilityZone: s.availabilityZone,
    DeletionProtection: s.deletionProtection,
    BackupRetentionPeriod: s.backupRetentionDays,
    AutoMinorVersionUpgrade: s.autoMinorVersionUpgrade ?? true,
    IAMDatabaseAuthenticationEnabled: s.iamAuth,
    CopyTagsToSnapshot: true,
    VpcSecurityGroups: s.securityGroupIds.map((id) => ({ VpcSecurityGroupId: id, Status: "active" })),
    DBSubnetGroup: {
      DBSubnetGroupName: s.subnetGroup,
      VpcId: s.vpcId,
      SubnetGroupStatus: "Complete",
      Subnets: s.subnetIds.map((id) => ({ SubnetIdentifier: id, SubnetStatus: "Active" })),
    },
    InstanceCreateTime: s.created,
  });
}

interface SgRule {
  protocol?: "tcp" | "udp" | "-1";
  from?: number;
  to?: number;
  cidrs?: readonly string[];
  cidrsV6?: readonly string[];
  /** Source security-group ids. */
  groups?: readonly string[];
  description?: string;
}

function ipPermission(rule: SgRule): Json {
  const protocol = rule.protocol ?? "tcp";
  return {
    IpProtocol: protocol,
    ...(protocol === "-1" ? {} : { FromPort: rule.from, ToPort: rule.to ?? rule.from }),
    IpRanges: (rule.cidrs ?? []).map((CidrIp) =>
      rule.description ? { CidrIp, Description: rule.description } : { CidrIp },
    ),
    Ipv6Ranges: (rule.cidrsV6 ?? []).map((CidrIpv6) => ({ CidrIpv6 })),
    UserIdGroupPairs: (rule.groups ?? []).map((GroupId) => ({ GroupId, UserId: AWS_ACCOUNT_ID })),
    PrefixListIds: [],
  };
}

interface SecurityGroupSpec {
  groupId: string;
  name: string;
  description: string;
  region: string;
  vpcId: string;
  tags: Tags;
  rules: readonly SgRule[];
}

function securityGroup(s: SecurityGroupSpec): DemoResource {
  return awsResource(AWS.sg, arn("ec2", s.region, `security-group/${s.groupId}`), s.name, s.region, s.tags, {
    GroupId: s.groupId,
    GroupName: s.name,
    Description: s.description,
    VpcId: s.vpcId,
    OwnerId: AWS_ACCOUNT_ID,
    IpPermissions: s.rules.map(ipPermission),
    IpPermissionsEgress: [ipPermission({ protocol: "-1", cidrs: ["0.0.0.0/0"] })],
  });
}

interface VpcSpec {
  vpcId: string;
  name: string;
  region: string;
  tags: Tags;
  cidr: string;
  flowLogId: string | null;
}

function vpc(s: VpcSpec): DemoResource {
  return awsResource(AWS.vpc, arn("ec2", s.region, `vpc/${s.vpcId}`), s.name, s.region, s.tags, {
    VpcId: s.vpcId,
    CidrBlock: s.cidr,
    State: "available",
    IsDefault: false,
    InstanceTenancy: "default",
    OwnerId: AWS_ACCOUNT_ID,
    EnableDnsSupport: true,
    EnableDnsHostnames: true,
    FlowLogs: s.flowLogId
      ? [{ FlowLogId: s.flowLogId, TrafficType: "ALL", LogDestinationType: "s3", FlowLogStatus: "ACTIVE" }]
      : [],
  });
}

interface SubnetSpec {
  subnetId: string;
  name: string;
  region: string;
  availabilityZone: string;
  tags: Tags;
  vpcId: string;
  cidr: string;
  mapPublicIp: boolean;
  availableIps: number;
}

function awsSubnet(s: SubnetSpec): DemoResource {
  return awsResource(AWS.subnet, arn("ec2", s.region, `subnet/${s.subnetId}`), s.name, s.region, s.tags, {
    SubnetId: s.subnetId,
    VpcId: s.vpcId,
    CidrBlock: s.cidr,
    AvailabilityZone: s.availabilityZone,
    AvailableIpAddressCount: s.availableIps,
    MapPublicIpOnLaunch: s.mapPublicIp,
    DefaultForAz: false,
    State: "available",
    OwnerId: AWS_ACCOUNT_ID,
  });
}

interface IamUserSpec {
  name: string;
  userId: string;
  tags: Tags;
  created: string;
  /** Console password last used; null when the user has no console access or never signed in. */
  passwordLastUsed: string | null;
  consoleAccess: boolean;
  mfa: boolean;
  policies: readonly string[];
  groups: readonly string[];
  accessKeys: ReadonlyArray<{ status: "Active" | "Inactive"; ageDays: number; lastUsedDays: number | null }>;
}

function iamUser(s: IamUserSpec): DemoResource {
  const userArn = `arn:aws:iam::${AWS_ACCOUNT_ID}:user/${s.name}`;
  return awsResource(AWS.user, userArn, s.name, null, s.tags, {
    UserName: s.name,
    UserId: s.userId,
    Arn: userArn,
    Path: "/",
    CreateDate: s.created,
    ...(s.passwordLastUsed ? { PasswordLastUsed: s.passwordLastUsed } : {}),
    PasswordEnabled: s.consoleAccess,
    MfaDevices: s.mfa
      ? [{ SerialNumber: `arn:aws:iam::${AWS_ACCOUNT_ID}:mfa/${s.name}`, EnableDate: s.created }]
      : [],
    AttachedManagedPolicies: attachedPolicies(s.policies),
    Groups: [...s.groups],
    AccessKeys: s.accessKeys.map((key) => ({
      Status: key.status,
      CreateDate: daysAgo(key.ageDays),
      LastUsedDate: key.lastUsedDays === null ? null : daysAgo(key.lastUsedDays),
    })),
  });
}

interface IamRoleSpec {
  name: string;
  roleId: string;
  tags: Tags;
  created: string;
  principal: { Service: string } | { AWS: string } | { Federated: string };
  condition: Json | null;
  policies: readonly string[];
  lastUsedDays: number | null;
  maxSessionHours: number;
}

function iamRole(s: IamRoleSpec): DemoResource {
  const roleArn = `arn:aws:iam::${AWS_ACCOUNT_ID}:role/${s.name}`;
  const federated = "Federated" in s.principal;
  return awsResource(AWS.role, roleArn, s.name, null, s.tags, {
    RoleName: s.name,
    RoleId: s.roleId,
    Arn: roleArn,
    Path: "/",
    CreateDate: s.created,
    MaxSessionDuration: s.maxSessionHours * 3600,
    AssumeRolePolicyDocument: {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { ...s.principal },
          Action: federated ? "sts:AssumeRoleWithWebIdentity" : "sts:AssumeRole",
          ...(s.condition ? { Condition: s.condition } : {}),
        },
      ],
    },
    AttachedManagedPolicies: attachedPolicies(s.policies),
    RoleLastUsed:
      s.lastUsedDays === null ? {} : { LastUsedDate: daysAgo(s.lastUsedDays), Region: "us-east-1" },
  });
}

interface KmsSpec {
  keyId: string;
  alias: string;
  region: string;
  tags: Tags;
  description: string;
  created: string;
  rotation: boolean;
  state: "Enabled" | "Disabled" | "PendingDeletion";
}

function kmsKey(s: KmsSpec): DemoResource {
  const keyArn = arn("kms", s.region, `key/${s.keyId}`);
  return awsResource(AWS.kms, keyArn, s.alias, s.region, s.tags, {
    KeyId: s.keyId,
    Arn: keyArn,
    AliasNames: [`alias/${s.alias}`],
    Description: s.description,
    KeyManager: "CUSTOMER",
    KeyState: s.state,
    Enabled: s.state === "Enabled",
    KeySpec: "SYMMETRIC_DEFAULT",
    KeyUsage: "ENCRYPT_DECRYPT",
    Origin: "AWS_KMS",
    MultiRegion: false,
    CreationDate: s.created,
    KeyRotationEnabled: s.rotation,
  });
}

interface LambdaSpec {
  name: string;
  region: string;
  tags: Tags;
  runtime: string;
  handler: string;
  roleArn: string;
  memoryMb: number;
  timeoutSeconds: number;
  arm: boolean;
  lastModified: string;
  codeSize: number;
  tracing: boolean;
  environment: Tags;
  vpc: { subnetIds: readonly string[]; securityGroupIds: readonly string[]; vpcId: string } | null;
  /** Function URL auth type, or null without a function URL. */
  urlAuthType: "NONE" | "AWS_IAM" | null;
}

function lambdaFunction(s: LambdaSpec): DemoResource {
  const fnArn = arn("lambda", s.region, `function:${s.name}`);
  return awsResource(AWS.lambda, fnArn, s.name, s.region, s.tags, {
    FunctionName: s.name,
    FunctionArn: fnArn,
    Runtime: s.runtime,
    Handler: s.handler,
    Role: s.roleArn,
    MemorySize: s.memoryMb,
    Timeout: s.timeoutSeconds,
    CodeSize: s.codeSize,
    PackageType: "Zip",
    Architectures: [s.arm ? "arm64" : "x86_64"],
    LastModified: s.lastModified,
    State: "Active",
    TracingConfig: { Mode: s.tracing ? "Active" : "PassThrough" },
    Environment: { Variables: { ...s.environment } },
    ...(s.vpc
      ? {
          VpcConfig: {
            SubnetIds: [...s.vpc.subnetIds],
            SecurityGroupIds: [...s.vpc.securityGroupIds],
            VpcId: s.vpc.vpcId,
          },
        }
      : {}),
    ...(s.urlAuthType
      ? {
          FunctionUrlConfig: {
            FunctionUrl: `https://${s.name}.lambda-url.${s.region}.on.aws/`,
            AuthType: s.urlAuthType,
          },
        }
      : {}),
  });
}

interface EksSpec {
  name: string;
  region: string;
  tags: Tags;
  version: string;
  endpointHash: string;
  roleArn: string;
  vpcId: string;
  subnetIds: readonly string[];
  securityGroupIds: readonly string[];
  publicEndpoint: boolean;
  privateEndpoint: boolean;
  publicAccessCidrs: readonly string[];
  logging: boolean;
  secretsKeyArn: string | null;
  /** GuardDuty runtime monitoring: the `aws-guardduty-agent` add-on is installed. */
  runtimeMonitoring: boolean;
  created: string;
}

function eksCluster(s: EksSpec): DemoResource {
  const clusterArn = arn("eks", s.region, `cluster/${s.name}`);
  const logTypes = ["api", "audit", "authenticator", "controllerManager", "scheduler"];
  return awsResource(AWS.eks, clusterArn, s.name, s.region, s.tags, {
    Name: s.name,
    Arn: clusterArn,
    Version: s.version,
    PlatformVersion: "eks.12",
    Status: "ACTIVE",
    Endpoint: `https://${s.endpointHash}.gr7.${s.region}.eks.amazonaws.com`,
    RoleArn: s.roleArn,
    CreatedAt: s.created,
    ResourcesVpcConfig: {
      VpcId: s.vpcId,
      SubnetIds: [...s.subnetIds],
      SecurityGroupIds: [...s.securityGroupIds],
      EndpointPublicAccess: s.publicEndpoint,
      EndpointPrivateAccess: s.privateEndpoint,
      PublicAccessCidrs: s.publicEndpoint ? [...s.publicAccessCidrs] : [],
    },
    KubernetesNetworkConfig: { ServiceIpv4Cidr: "172.20.0.0/16", IpFamily: "ipv4" },
    Logging: { ClusterLogging: [{ Types: logTypes, Enabled: s.logging }] },
    EncryptionConfig: s.secretsKeyArn
      ? [{ Resources: ["secrets"], Provider: { KeyArn: s.secretsKeyArn } }]
      : [],
    AccessConfig: { AuthenticationMode: "API_AND_CONFIG_MAP" },
    Addons: ["vpc-cni", "coredns", "kube-proxy", ...(s.runtimeMonitoring ? ["aws-guardduty-agent"] : [])].map(
      (AddonName) => ({ AddonName, Status: "ACTIVE" }),
    ),
  });
}

interface EcrSpec {
  name: string;
  region: string;
  tags: Tags;
  created: string;
  scanOnPush: boolean;
  immutableTags: boolean;
  kms: boolean;
}

function ecrRepository(s: EcrSpec): DemoResource {
  const repoArn = arn("ecr", s.region, `repository/${s.name}`);
  return awsResource(AWS.ecr, repoArn, s.name, s.region, s.tags, {
    RepositoryName: s.name,
    RepositoryArn: repoArn,
    RepositoryUri: `${AWS_ACCOUNT_ID}.dkr.ecr.${s.region}.amazonaws.com/${s.name}`,
    RegistryId: AWS_ACCOUNT_ID,
    CreatedAt: s.created,
    ImageScanningConfiguration: { ScanOnPush: s.scanOnPush },
    ImageTagMutability: s.immutableTags ? "IMMUTABLE" : "MUTABLE",
    EncryptionConfiguration: { EncryptionType: s.kms ? "KMS" : "AES256" },
  });
}

// ---------------------------------------------------------------------------------------------------------
// The Azure demo estate
// ---------------------------------------------------------------------------------------------------------

interface AzureNetworkPlan {
  vnet: string;
  rg: string;
  region: string;
  app: App;
  env: string;
  /** First two octets of the /16. */
  octets: string;
  subnets: ReadonlyArray<{ name: string; nsg: string | null; serviceEndpoints: readonly string[] }>;
}

const AZURE_NETWORKS: readonly AzureNetworkPlan[] = [
  {
    vnet: "vnet-prod-weu",
    rg: "rg-network-prod",
    region: "westeurope",
    app: "platform",
    env: "production",
    octets: "10.0",
    subnets: [
      { name: "snet-web", nsg: "nsg-web-prod-weu", serviceEndpoints: [] },
      {
        name: "snet-app",
        nsg: "nsg-app-prod-weu",
        serviceEndpoints: ["Microsoft.KeyVault", "Microsoft.Storage"],
      },
      {
        name: "snet-data",
        nsg: "nsg-data-prod-weu",
        serviceEndpoints: ["Microsoft.Storage", "Microsoft.Sql"],
      },
    ],
  },
  {
    vnet: "vnet-dr-neu",
    rg: "rg-network-dr",
    region: "northeurope",
    app: "platform",
    env: "dr",
    octets: "10.1",
    subnets: [
      { name: "snet-web", nsg: "nsg-web-dr-neu", serviceEndpoints: [] },
      { name: "snet-app", nsg: "nsg-app-dr-neu", serviceEndpoints: [] },
      { name: "snet-mgmt", nsg: "nsg-mgmt-dr-neu", serviceEndpoints: [] },
    ],
  },
  {
    vnet: "vnet-dev-eus",
    rg: "rg-dev-eus",
    region: "eastus",
    app: "devtools",
    env: "development",
    octets: "10.2",
    subnets: [
      { name: "snet-default", nsg: "nsg-dev-default-eus", serviceEndpoints: [] },
      { name: "snet-build", nsg: "nsg-dev-build-eus", serviceEndpoints: ["Microsoft.ContainerRegistry"] },
      { name: "snet-aks", nsg: null, serviceEndpoints: [] },
    ],
  },
];

/** Inbound rules per NSG; several deliberately expose 22/3389 to the internet. */
const AZURE_NSG_RULES: Record<string, readonly NsgRule[]> = {
  "nsg-web-prod-weu": [
    { name: "AllowHttpsInbound", priority: 100, source: "Internet", port: "443" },
    { name: "AllowHttpInbound", priority: 110, source: "Internet", port: "80" },
    { name: "AllowSshFromCorp", priority: 200, source: "10.0.0.0/8", port: "22" },
  ],
  "nsg-app-prod-weu": [
    { name: "AllowWebTier", priority: 100, source: "10.0.1.0/24", port: "8080" },
    { name: "AllowSshFromCorp", priority: 200, source: "10.0.0.0/8", port: "22" },
    {
      name: "DenyInternetInbound",
      priority: 4000,
      source: "Internet",
      port: "*",
      access: "Deny",
      protocol: "*",
    },
  ],
  "nsg-data-prod-weu": [
    { name: "AllowSqlFromApp", priority: 100, source: "10.0.2.0/24", port: "1433" },
    { name: "AllowRdpFromCorp", priority: 200, source: "10.0.0.0/8", port: "3389" },
  ],
  "nsg-web-dr-neu": [
    { name: "AllowHttpsInbound", priority: 100, source: "Internet", port: "443" },
    { name: "AllowRdpTemp", priority: 300, source: "*", port: "3389" },
  ],
  "nsg-app-dr-neu": [
    { name: "AllowWebTier", priority: 100, source: "10.1.1.0/24", port: "8080" },
    { name: "AllowWinRmFromVnet", priority: 150, source: "VirtualNetwork", port: "5985-5986" },
  ],
  "nsg-mgmt-dr-neu": [
    { name: "AllowRdpInbound", priority: 100, source: "Internet", port: "3389" },
    { name: "AllowSshInbound", priority: 110, source: "Internet", port: "22" },
    { name: "AllowLdapFromVnet", priority: 200, source: "VirtualNetwork", port: "389" },
  ],
  "nsg-dev-default-eus": [
    { name: "SSH", priority: 300, source: "*", port: "22" },
    { name: "HTTPS", priority: 320, source: "*", port: "443" },
  ],
  "nsg-dev-build-eus": [
    { name: "AllowSshFromOffice", priority: 100, source: OFFICE_CIDR, port: "22" },
    { name: "DenyAllInbound", priority: 4096, source: "*", port: "*", access: "Deny", protocol: "*" },
  ],
};

interface AzureVmGroup {
  prefix: string;
  count: number;
  rg: string;
  network: number;
  subnet: number;
  app: App;
  env: string;
  size: string;
  images: readonly ImageKey[];
  /** 1-based members with a public IP. */
  publicIps: readonly number[];
  /** Probability that each hardening setting is on. */
  hardening: number;
  /** Also attach the subnet's NSG to the NIC. */
  nicNsg?: boolean;
}

const AZURE_VM_GROUPS: readonly AzureVmGroup[] = [
  {
    prefix: "vm-web-prod",
    count: 6,
    rg: "rg-web-prod",
    network: 0,
    subnet: 0,
    app: "webshop",
    env: "production",
    size: "Standard_D4s_v5",
    images: ["ubuntu2204"],
    publicIps: [1, 2],
    hardening: 0.85,
  },
  {
    prefix: "vm-app-prod",
    count: 6,
    rg: "rg-web-prod",
    network: 0,
    subnet: 1,
    app: "webshop",
    env: "production",
    size: "Standard_D8s_v5",
    images: ["ubuntu2204", "rhel8"],
    publicIps: [3],
    hardening: 0.85,
  },
  {
    prefix: "vm-sql-prod",
    count: 2,
    rg: "rg-data-prod",
    network: 0,
    subnet: 2,
    app: "data",
    env: "production",
    size: "Standard_E8s_v5",
    images: ["win2022"],
    publicIps: [],
    hardening: 0.8,
  },
  {
    prefix: "vm-pay-prod",
    count: 4,
    rg: "rg-payments-prod",
    network: 0,
    subnet: 1,
    app: "payments",
    env: "production",
    size: "Standard_D4s_v5",
    images: ["ubuntu2204"],
    publicIps: [],
    hardening: 0.95,
  },
  {
    prefix: "vm-web-dr",
    count: 3,
    rg: "rg-web-dr",
    network: 1,
    subnet: 0,
    app: "webshop",
    env: "dr",
    size: "Standard_D4s_v4",
    images: ["ubuntu2004"],
    publicIps: [1],
    hardening: 0.6,
  },
  {
    prefix: "vm-app-dr",
    count: 3,
    rg: "rg-web-dr",
    network: 1,
    subnet: 1,
    app: "webshop",
    env: "dr",
    size: "Standard_D4s_v4",
    images: ["win2019"],
    publicIps: [],
    hardening: 0.5,
  },
  {
    prefix: "vm-jump",
    count: 2,
    rg: "rg-mgmt-dr",
    network: 1,
    subnet: 2,
    app: "platform",
    env: "production",
    size: "Standard_B2ms",
    images: ["win2016", "win2019"],
    publicIps: [1, 2],
    hardening: 0.3,
    nicNsg: true,
  },
  {
    prefix: "vm-ad-dc",
    count: 2,
    rg: "rg-identity-prod",
    network: 1,
    subnet: 2,
    app: "identity",
    env: "production",
    size: "Standard_D2s_v5",
    images: ["win2019"],
    publicIps: [],
    hardening: 0.7,
  },
  {
    prefix: "vm-dev",
    count: 5,
    rg: "rg-dev-eus",
    network: 2,
    subnet: 0,
    app: "devtools",
    env: "development",
    size: "Standard_B4ms",
    images: ["ubuntu2204", "ubuntu2004", "win2022"],
    publicIps: [1, 2, 4],
    hardening: 0.3,
    nicNsg: true,
  },
  {
    prefix: "vm-build-agent",
    count: 3,
    rg: "rg-dev-eus",
    network: 2,
    subnet: 1,
    app: "devtools",
    env: "development",
    size: "Standard_D4as_v5",
    images: ["ubuntu2204"],
    publicIps: [1],
    hardening: 0.4,
  },
];

function macAddress(rng: Rng): string {
  return ["00", "0D", "3A", ...Array.from({ length: 3 }, () => randomChars(rng, HEX, 2).toUpperCase())].join(
    "-",
  );
}

function buildAzureNetworkAndCompute(rng: Rng): DemoResource[] {
  const networks = AZURE_NETWORKS.map((plan) => ({
    plan,
    vnetId: armId(plan.rg, AZ.vnet, [plan.vnet]),
    subnetIds: plan.subnets.map((s) => armId(plan.rg, AZ.subnet, [plan.vnet, s.name])),
    nsgIds: plan.subnets.map((s) => (s.nsg ? armId(plan.rg, AZ.nsg, [s.nsg]) : null)),
  }));
  const nicsByNsg = new Map<string, string[]>();
  const nextHost = new Map<string, number>();
  const compute: DemoResource[] = [];
  let pipHost = 10;
  for (const group of AZURE_VM_GROUPS) {
    const network = networks[group.network];
    const { region } = network.plan;
    const subnetId = network.subnetIds[group.subnet];
    const subnetNsgId = network.nsgIds[group.subnet];
    for (let i = 1; i <= group.count; i++) {
      const name = `${group.prefix}-${pad2(i)}`;
      const tags = tagsFor(group.app, group.env);
      if (group.env === "development" && chance(rng, 0.4)) delete tags.owner;
      const vmResourceId = armId(group.rg, AZ.vm, [name]);
      const nicName = `${name}-nic01`;
      const nicId = armId(group.rg, AZ.nic, [nicName]);
      let publicIpId: string | null = null;
      if (group.publicIps.includes(i)) {
        const pipName = `${name}-pip`;
        publicIpId = armId(group.rg, AZ.pip, [pipName]);
        compute.push(
          azurePublicIp({
            name: pipName,
            rg: group.rg,
            region,
            tags,
            ipAddress: `198.51.100.${pipHost++}`,
            staticAllocation: chance(rng, 0.6),
            ipConfigurationId: `${nicId}/ipConfigurations/ipconfig1`,
            dnsLabel: group.env === "development" ? name : null,
          }),
        );
      }
      const nicNsgId = group.nicNsg ? subnetNsgId : null;
      if (nicNsgId) nicsByNsg.set(nicNsgId, [...(nicsByNsg.get(nicNsgId) ?? []), nicId]);
      const host = nextHost.get(subnetId) ?? 4;
      nextHost.set(subnetId, host + 1);
      compute.push(
        azureNic({
          name: nicName,
          rg: group.rg,
          region,
          tags,
          subnetId,
          privateIp: `${network.plan.octets}.${group.subnet + 1}.${host}`,
          publicIpId,
          nsgId: nicNsgId,
          virtualMachineId: vmResourceId,
          acceleratedNetworking: !group.size.startsWith("Standard_B"),
          macAddress: macAddress(rng),
        }),
      );
      const h = group.hardening;
      compute.push(
        azureVm({
          name,
          rg: group.rg,
          region,
          tags,
          vmId: guid(rng),
          image: pick(rng, group.images),
          size: group.size,
          nicId,
          created: daysAgo(between(rng, 40, 900)),
          diskEncryption: chance(rng, h),
          encryptionAtHost: chance(rng, h * 0.8),
          trustedLaunch: chance(rng, h),
          passwordAuthentication: !chance(rng, Math.min(1, h + 0.1)),
          automaticUpdates: chance(rng, h),
          bootDiagnostics: chance(rng, 0.75),
          running: group.env !== "development" || chance(rng, 0.75),
          dataDisks: group.prefix.includes("sql") ? 2 : chance(rng, 0.3) ? 1 : 0,
          agents: vmAgents(name, h),
        }),
      );
    }
  }

  const out: DemoResource[] = [];
  networks.forEach(({ plan }, index) => {
    const netTags = tagsFor(plan.app, plan.env);
    out.push(
      azureVnet({
        name: plan.vnet,
        rg: plan.rg,
        region: plan.region,
        tags: netTags,
        resourceGuid: guid(rng),
        addressPrefix: `${plan.octets}.0.0/16`,
        subnets: plan.subnets.map((s, k) => ({
          name: s.name,
          addressPrefix: `${plan.octets}.${k + 1}.0/24`,
        })),
        peeredVnetIds: index === 0 ? [networks[1].vnetId] : index === 1 ? [networks[0].vnetId] : [],
        ddosProtection: index === 0,
      }),
    );
  });
  for (const { plan, nsgIds } of networks) {
    plan.subnets.forEach((s, k) => {
      out.push(
        azureSubnet({
          name: s.name,
          vnet: plan.vnet,
          rg: plan.rg,
          region: plan.region,
          tags: {},
          addressPrefix: `${plan.octets}.${k + 1}.0/24`,
          nsgId: nsgIds[k],
          serviceEndpoints: s.serviceEndpoints,
        }),
      );
    });
  }
  for (const { plan, subnetIds, nsgIds } of networks) {
    plan.subnets.forEach((s, k) => {
      const nsgId = nsgIds[k];
      if (!s.nsg || !nsgId) return;
      out.push(
        azureNsg({
          name: s.nsg,
          rg: plan.rg,
          region: plan.region,
          tags: tagsFor(plan.app, plan.env),
          resourceGuid: guid(rng),
          rules: AZURE_NSG_RULES[s.nsg] ?? [],
          subnetIds: [subnetIds[k]],
          nicIds: nicsByNsg.get(nsgId) ?? [],
        }),
      );
    });
  }
  return [...out, ...compute];
}

function azureSubnetId(network: number, subnet: number): string {
  const plan = AZURE_NETWORKS[network];
  return armId(plan.rg, AZ.subnet, [plan.vnet, plan.subnets[subnet].name]);
}

const ENTRA_USERS = [
  [
    "megan.bowen",
    "Megan Bowen",
    "Cloud Platform Lead",
    "IT",
    ["PhoneAppNotification", "PhoneAppOTP"],
    ["Global Administrator"],
    0.2,
  ],
  [
    "adele.vance",
    "Adele Vance",
    "Security Analyst",
    "Security",
    ["PhoneAppNotification"],
    ["Security Reader"],
    0.5,
  ],
  ["lee.gu", "Lee Gu", "Site Reliability Engineer", "Engineering", [], ["Application Administrator"], 0.1],
  ["diego.siciliani", "Diego Siciliani", "Software Engineer", "Engineering", ["OneWaySMS"], [], 1.5],
  ["isaiah.langer", "Isaiah Langer", "Payments Engineer", "Payments", ["PhoneAppNotification"], [], 0.8],
  [
    "nestor.wilke",
    "Nestor Wilke",
    "IT Operations",
    "IT",
    [],
    ["User Administrator", "Helpdesk Administrator"],
    0.3,
  ],
  ["grady.archie", "Grady Archie", "Data Engineer", "Data", ["PhoneAppOTP"], [], 2],
  ["pradeep.gupta", "Pradeep Gupta", "Contractor", "Engineering", [], ["Application Administrator"], 143],
  [
    "johanna.lorenz",
    "Johanna Lorenz",
    "CISO",
    "Security",
    ["PhoneAppNotification", "TwoWayVoiceMobile"],
    ["Security Administrator"],
    0.4,
  ],
] as const;

function buildAzureIdentitiesAndUsers(rng: Rng): {
  resources: DemoResource[];
  principal: Map<string, string>;
} {
  const principal = new Map<string, string>();
  const sub = `/subscriptions/${AZURE_SUBSCRIPTION_ID}`;
  const identities: ReadonlyArray<
    readonly [string, string, string, App, string, ReadonlyArray<readonly [string, string]>]
  > = [
    [
      "id-aks-prod",
      "rg-aks-prod",
      "westeurope",
      "platform",
      "production",
      [["Network Contributor", armId("rg-network-prod", AZ.vnet, ["vnet-prod-weu"])]],
    ],
    [
      "id-web-prod",
      "rg-web-prod",
      "westeurope",
      "webshop",
      "production",
      [
        ["Key Vault Secrets User", armId("rg-web-prod", AZ.keyVault, ["kv-web-prod"])],
        ["Storage Blob Data Reader", armId("rg-web-prod", AZ.storage, ["stcontosoweb01"])],
      ],
    ],
    [
      "id-payments-prod",
      "rg-payments-prod",
      "westeurope",
      "payments",
      "production",
      [["Key Vault Crypto User", armId("rg-payments-prod", AZ.keyVault, ["kv-payments-prod"])]],
    ],
    [
      "id-build-agents",
      "rg-dev-eus",
      "eastus",
      "devtools",
      "development",
      [
        ["Contributor", sub],
        ["AcrPush", armId("rg-shared-services", AZ.acr, ["crcontosoprod"])],
      ],
    ],
    ["id-backup", "rg-shared-services", "westeurope", "platform", "production", [["Owner", sub]]],
  ];
  const resources: DemoResource[] = [];
  for (const [name, rg, region, app, env, roles] of identities) {
    const principalId = guid(rng);
    principal.set(name, principalId);
    resources.push(
      azureIdentity({
        name,
        rg,
        region,
        tags: tagsFor(app, env),
        principalId,
        clientId: guid(rng),
        roleAssignments: roles,
      }),
    );
  }
  for (const [alias, displayName, jobTitle, department, mfa, roles, lastSignInDays] of ENTRA_USERS) {
    const objectId = guid(rng);
    principal.set(alias, objectId);
    const disabled = alias === "pradeep.gupta";
    resources.push(
      entraUser({
        objectId,
        userPrincipalName: `${alias}@contoso.com`,
        displayName,
        mail: `${alias}@contoso.com`,
        jobTitle,
        department,
        guest: false,
        enabled: !disabled,
        mfaMethods: mfa,
        roles,
        lastSignIn: daysAgo(lastSignInDays),
        created: daysAgo(between(rng, 200, 1500)),
        synced: chance(rng, 0.6),
        passwordNeverExpires: false,
      }),
    );
  }
  const special: EntraUserSpec[] = [
    {
      objectId: guid(rng),
      userPrincipalName: "breakglass-01@contoso.onmicrosoft.com",
      displayName: "Break Glass 01",
      mail: "breakglass-01@contoso.onmicrosoft.com",
      jobTitle: null,
      department: null,
      guest: false,
      enabled: true,
      mfaMethods: [],
      roles: ["Global Administrator"],
      lastSignIn: daysAgo(212),
      created: daysAgo(1400),
      synced: false,
      passwordNeverExpires: true,
    },
    {
      objectId: guid(rng),
      userPrincipalName: "svc-backup@contoso.com",
      displayName: "Backup Service Account",
      mail: "svc-backup@contoso.com",
      jobTitle: "Service Account",
      department: "IT",
      guest: false,
      enabled: true,
      mfaMethods: [],
      roles: ["Global Reader"],
      lastSignIn: daysAgo(0.05),
      created: daysAgo(1100),
      synced: true,
      passwordNeverExpires: true,
    },
    {
      objectId: guid(rng),
      userPrincipalName: "alex.wilber_fabrikam.com#EXT#@contoso.onmicrosoft.com",
      displayName: "Alex Wilber (Fabrikam)",
      mail: "alex.wilber@fabrikam.com",
      jobTitle: null,
      department: null,
      guest: true,
      enabled: true,
      mfaMethods: [],
      roles: [],
      lastSignIn: daysAgo(37),
      created: daysAgo(410),
      synced: false,
      passwordNeverExpires: false,
    },
  ];
  for (const spec of special) resources.push(entraUser(spec));
  return { resources, principal };
}

/** Per database name (a geo-secondary carries its primary's labels). */
const DEMO_SQL_SENSITIVITY: Record<string, AzureSqlDbSpec["sensitivity"]> = {
  "sqldb-orders": {
    labelled: [SENSITIVE_COLUMNS.email, SENSITIVE_COLUMNS.phone, SENSITIVE_COLUMNS.address],
    recommended: [],
  },
  "sqldb-payments": {
    labelled: [SENSITIVE_COLUMNS.card, SENSITIVE_COLUMNS.iban, SENSITIVE_COLUMNS.email],
    recommended: [],
  },
  "sqldb-ledger": { labelled: [SENSITIVE_COLUMNS.iban], recommended: [SENSITIVE_COLUMNS.card] },
  "sqldb-orders-dev": {
    labelled: [],
    recommended: [
      SENSITIVE_COLUMNS.email,
      SENSITIVE_COLUMNS.phone,
      SENSITIVE_COLUMNS.birthDate,
      SENSITIVE_COLUMNS.address,
    ],
  },
};

function buildAzureServices(rng: Rng, principal: Map<string, string>): DemoResource[] {
  const out: DemoResource[] = [];
  const identityId = (rg: string, name: string) => armId(rg, AZ.identity, [name]);
  const vaultUri = (name: string) => `https://${name}.vault.azure.net/`;

  const storage: ReadonlyArray<
    readonly [
      name: string,
      rg: string,
      region: string,
      app: App,
      env: string,
      settings: Partial<AzureStorageSpec> & {
        subnets?: ReadonlyArray<readonly [number, number]>;
        /** The `dataClassification` tag, when the owners set one. */
        classification?: DataClassification;
      },
    ]
  > = [
    [
      "stcontosologs01",
      "rg-shared-services",
      "westeurope",
      "platform",
      "production",
      { classification: "internal", defaultAction: "Deny", subnets: [[0, 2]] },
    ],
    [
      "stcontosoweb01",
      "rg-web-prod",
      "westeurope",
      "webshop",
      "production",
      { classification: "public", allowBlobPublicAccess: true },
    ],
    [
      "stcontosobackup01",
      "rg-data-prod",
      "westeurope",
      "data",
      "production",
      {
        classification: "confidential",
        defaultAction: "Deny",
        keyVaultUri: vaultUri("kv-shared-prod"),
        accessTier: "Cool",
        subnets: [[0, 2]],
      },
    ],
    ["stcontosodata01", "rg-data-prod", "westeurope", "data", "production", { minimumTlsVersion: "TLS1_0" }],
    [
      "stpaymentsprod01",
      "rg-payments-prod",
      "westeurope",
      "payments",
      "production",
      {
        classification: "restricted",
        defaultAction: "Deny",
        keyVaultUri: vaultUri("kv-payments-prod"),
        allowSharedKeyAccess: false,
        subnets: [[0, 1]],
      },
    ],
    [
      "stcontosodiag01",
      "rg-shared-services",
      "westeurope",
      "platform",
      "production",
      { classification: "internal", httpsOnly: false, minimumTlsVersion: "TLS1_0" },
    ],
    ["stcontosodr01", "rg-web-dr", "northeurope", "webshop", "dr", { accessTier: "Cool" }],
    [
      "stcontosodev01",
      "rg-dev-eus",
      "eastus",
      "devtools",
      "development",
      { minimumTlsVersion: "TLS1_0", allowBlobPublicAccess: true },
    ],
    ["stcontosobuild01", "rg-dev-eus", "eastus", "devtools", "development", { subnets: [[2, 1]] }],
    [
      "stcontosoanalytics01",
      "rg-analytics-prod",
      "westeurope",
      "data",
      "production",
      {
        classification: "confidential",
        defaultAction: "Deny",
        ipRules: [OFFICE_CIDR.replace("/24", "/28")],
        subnets: [[0, 2]],
      },
    ],
    [
      "stcontosofunc01",
      "rg-web-prod",
      "westeurope",
      "webshop",
      "production",
      { minimumTlsVersion: "TLS1_1" },
    ],
    [
      "stcontosolegacy01",
      "rg-legacy",
      "northeurope",
      "corp",
      "production",
      { httpsOnly: false, minimumTlsVersion: "TLS1_0", allowBlobPublicAccess: true, blobEncryption: false },
    ],
  ];
  for (const [name, rg, region, app, env, settings] of storage) {
    out.push(
      azureStorage({
        name,
        rg,
        region,
        tags:
          name === "stcontosolegacy01"
            ? {}
            : tagsFor(
                app,
                env,
                settings.classification ? { dataClassification: settings.classification } : {},
              ),
        created: daysAgo(between(rng, 90, 1600)),
        httpsOnly: settings.httpsOnly ?? true,
        minimumTlsVersion: settings.minimumTlsVersion ?? "TLS1_2",
        allowBlobPublicAccess: settings.allowBlobPublicAccess ?? false,
        allowSharedKeyAccess: settings.allowSharedKeyAccess ?? true,
        blobEncryption: settings.blobEncryption ?? true,
        keyVaultUri: settings.keyVaultUri ?? null,
        defaultAction: settings.defaultAction ?? "Allow",
        subnetIds: (settings.subnets ?? []).map(([n, s]) => azureSubnetId(n, s)),
        ipRules: settings.ipRules ?? [],
        accessTier: settings.accessTier ?? "Hot",
      }),
    );
  }

  const sqlServers: ReadonlyArray<
    readonly [AzureSqlServerSpec, ReadonlyArray<readonly [string, string, number, boolean]>]
  > = [
    [
      {
        name: "sql-contoso-prod-weu",
        rg: "rg-data-prod",
        region: "westeurope",
        tags: tagsFor("data", "production"),
        publicNetworkAccess: "Disabled",
        minimalTlsVersion: "1.2",
        auditing: true,
        auditRetentionDays: 90,
        adminGroup: "sg-sql-admins",
        adminGroupSid: guid(rng),
        aadOnlyAuthentication: true,
        threatDetection: true,
        firewallRules: [],
      },
      [
        ["sqldb-orders", "GP_Gen5_4", 250, true],
        ["sqldb-catalog", "GP_Gen5_2", 100, true],
      ],
    ],
    [
      {
        name: "sql-payments-prod-weu",
        rg: "rg-payments-prod",
        region: "westeurope",
        tags: tagsFor("payments", "production", { compliance: "pci-dss" }),
        publicNetworkAccess: "Disabled",
        minimalTlsVersion: "1.2",
        auditing: true,
        auditRetentionDays: 365,
        adminGroup: "sg-payments-dba",
        adminGroupSid: guid(rng),
        aadOnlyAuthentication: true,
        threatDetection: true,
        firewallRules: [],
      },
      [
        ["sqldb-payments", "BC_Gen5_4", 500, true],
        ["sqldb-ledger", "GP_Gen5_2", 200, true],
      ],
    ],
    [
      {
        name: "sql-contoso-dr-neu",
        rg: "rg-data-dr",
        region: "northeurope",
        tags: tagsFor("data", "dr"),
        publicNetworkAccess: "Enabled",
        minimalTlsVersion: "1.2",
        auditing: true,
        auditRetentionDays: 30,
        adminGroup: "sg-sql-admins",
        adminGroupSid: guid(rng),
        aadOnlyAuthentication: false,
        threatDetection: false,
        firewallRules: [["AllowAllWindowsAzureIps", "0.0.0.0", "0.0.0.0"]],
      },
      [
        ["sqldb-orders", "GP_Gen5_4", 250, true],
        ["sqldb-catalog", "GP_Gen5_2", 100, true],
      ],
    ],
    [
      {
        name: "sql-contoso-dev-eus",
        rg: "rg-dev-eus",
        region: "eastus",
        tags: tagsFor("devtools", "development"),
        publicNetworkAccess: "Enabled",
        minimalTlsVersion: "1.0",
        auditing: false,
        auditRetentionDays: 0,
        adminGroup: "sg-developers",
        adminGroupSid: guid(rng),
        aadOnlyAuthentication: false,
        threatDetection: false,
        firewallRules: [
          ["AllowAllWindowsAzureIps", "0.0.0.0", "0.0.0.0"],
          ["AllowAll", "0.0.0.0", "255.255.255.255"],
        ],
      },
      [
        ["sqldb-orders-dev", "S1", 50, true],
        ["sqldb-sandbox", "Basic", 2, false],
      ],
    ],
  ];
  for (const [server, databases] of sqlServers) {
    out.push(azureSqlServer(server));
    const dr = server.name.includes("-dr-");
    const dev = server.name.includes("-dev-");
    for (const [name, objective, sizeGb, tde] of databases) {
      out.push(
        azureSqlDb({
          name,
          server: server.name,
          rg: server.rg,
          region: server.region,
          tags: server.tags,
          databaseId: guid(rng),
          created: daysAgo(between(rng, 100, 1200)),
          serviceObjective: objective,
          maxSizeGb: sizeGb,
          transparentDataEncryption: tde,
          backupRedundancy: dev ? "Local" : "Geo",
          zoneRedundant: !dev && !dr,
          geoSecondary: dr,
          sensitivity: DEMO_SQL_SENSITIVITY[name] ?? { labelled: [], recommended: [] },
        }),
      );
    }
  }

  const vaults: AzureKeyVaultSpec[] = [
    {
      name: "kv-payments-prod",
      rg: "rg-payments-prod",
      region: "westeurope",
      tags: tagsFor("payments", "production", { compliance: "pci-dss" }),
      sku: "premium",
      softDelete: true,
      purgeProtection: true,
      rbac: true,
      defaultAction: "Deny",
      publicNetworkAccess: "Disabled",
      ipRules: [],
      accessPolicyObjectIds: [],
      diskEncryption: false,
      auditLogs: true,
    },
    {
      name: "kv-web-prod",
      rg: "rg-web-prod",
      region: "westeurope",
      tags: tagsFor("webshop", "production"),
      sku: "standard",
      softDelete: true,
      purgeProtection: false,
      rbac: false,
      defaultAction: "Allow",
      publicNetworkAccess: "Enabled",
      ipRules: [],
      accessPolicyObjectIds: [principal.get("id-web-prod") ?? "", principal.get("megan.bowen") ?? ""],
      diskEncryption: true,
      auditLogs: true,
    },
    {
      name: "kv-shared-prod",
      rg: "rg-shared-services",
      region: "westeurope",
      tags: tagsFor("platform", "production"),
      sku: "standard",
      softDelete: true,
      purgeProtection: true,
      rbac: true,
      defaultAction: "Deny",
      publicNetworkAccess: "Enabled",
      ipRules: [OFFICE_CIDR],
      accessPolicyObjectIds: [],
      diskEncryption: true,
      auditLogs: true,
    },
    {
      name: "kv-aks-prod",
      rg: "rg-aks-prod",
      region: "westeurope",
      tags: tagsFor("platform", "production"),
      sku: "standard",
      softDelete: true,
      purgeProtection: false,
      rbac: true,
      defaultAction: "Allow",
      publicNetworkAccess: "Enabled",
      ipRules: [],
      accessPolicyObjectIds: [],
      diskEncryption: false,
    },
    {
      name: "kv-dr-neu",
      rg: "rg-web-dr",
      region: "northeurope",
      tags: tagsFor("webshop", "dr"),
      sku: "standard",
      softDelete: true,
      purgeProtection: false,
      rbac: false,
      defaultAction: "Allow",
      publicNetworkAccess: "Enabled",
      ipRules: [],
      accessPolicyObjectIds: [principal.get("lee.gu") ?? ""],
      diskEncryption: false,
    },
    {
      name: "kv-dev-eus",
      rg: "rg-dev-eus",
      region: "eastus",
      tags: { environment: "development", application: "devtools" },
      sku: "standard",
      softDelete: false,
      purgeProtection: false,
      rbac: false,
      defaultAction: "Allow",
      publicNetworkAccess: "Enabled",
      ipRules: [],
      accessPolicyObjectIds: [principal.get("diego.siciliani") ?? "", principal.get("id-build-agents") ?? ""],
      diskEncryption: false,
    },
  ];
  for (const vault of vaults) out.push(azureKeyVault(vault));

  const site = (
    name: string,
    rg: string,
    region: string,
    tags: Tags,
    stack: string,
    settings: Partial<AzureSiteSpec>,
  ): AzureSiteSpec => ({
    name,
    rg,
    region,
    tags,
    stack,
    httpsOnly: settings.httpsOnly ?? true,
    minTlsVersion: settings.minTlsVersion ?? "1.2",
    ftpsState: settings.ftpsState ?? "FtpsOnly",
    remoteDebugging: settings.remoteDebugging ?? false,
    clientCertEnabled: settings.clientCertEnabled ?? false,
    publicNetworkAccess: settings.publicNetworkAccess ?? "Enabled",
    keyVaultReferenceIdentity: settings.keyVaultReferenceIdentity ?? null,
  });
  const webProd = tagsFor("webshop", "production");
  const sites: AzureSiteSpec[] = [
    site("app-contoso-web-prod", "rg-web-prod", "westeurope", webProd, "DOTNETCORE|8.0", {
      ftpsState: "Disabled",
      keyVaultReferenceIdentity: identityId("rg-web-prod", "id-web-prod"),
    }),
    site("app-contoso-api-prod", "rg-web-prod", "westeurope", webProd, "DOTNETCORE|8.0", {}),
    site(
      "app-payments-api-prod",
      "rg-payments-prod",
      "westeurope",
      tagsFor("payments", "production"),
      "JAVA|17-java17",
      {
        ftpsState: "Disabled",
        clientCertEnabled: true,
        publicNetworkAccess: "Disabled",
        keyVaultReferenceIdentity: identityId("rg-payments-prod", "id-payments-prod"),
      },
    ),
    site("func-orders-prod", "rg-web-prod", "westeurope", webProd, "PYTHON|3.11", {}),
    site("app-contoso-web-dr", "rg-web-dr", "northeurope", tagsFor("webshop", "dr"), "DOTNETCORE|6.0", {
      httpsOnly: false,
      ftpsState: "AllAllowed",
    }),
    site("app-contoso-admin", "rg-web-prod", "westeurope", webProd, "NODE|14-lts", {
      minTlsVersion: "1.0",
      ftpsState: "AllAllowed",
      remoteDebugging: true,
    }),
    site("app-contoso-web-dev", "rg-dev-eus", "eastus", tagsFor("devtools", "development"), "NODE|18-lts", {
      httpsOnly: false,
      minTlsVersion: "1.0",
      ftpsState: "AllAllowed",
    }),
    site(
      "func-build-hooks-dev",
      "rg-dev-eus",
      "eastus",
      tagsFor("devtools", "development"),
      "PYTHON|3.8",
      {},
    ),
  ];
  for (const spec of sites) out.push(azureSite(spec));

  const clusters: AzureAksSpec[] = [
    {
      name: "aks-contoso-prod",
      rg: "rg-aks-prod",
      region: "westeurope",
      tags: tagsFor("platform", "production"),
      kubernetesVersion: "1.29.7",
      fqdnSuffix: randomChars(rng, HEX, 8),
      rbac: true,
      aadManaged: true,
      localAccountsDisabled: true,
      privateCluster: true,
      authorizedIpRanges: [],
      networkPlugin: "azure",
      networkPolicy: "calico",
      subnetId: azureSubnetId(0, 1),
      nodeCount: 5,
      nodeSize: "Standard_D8s_v5",
      defender: true,
      azurePolicy: true,
      kubeletIdentityId: identityId("rg-aks-prod", "id-aks-prod"),
    },
    {
      name: "aks-payments-prod",
      rg: "rg-payments-prod",
      region: "westeurope",
      tags: tagsFor("payments", "production", { compliance: "pci-dss" }),
      kubernetesVersion: "1.28.9",
      fqdnSuffix: randomChars(rng, HEX, 8),
      rbac: true,
      aadManaged: true,
      localAccountsDisabled: false,
      privateCluster: false,
      authorizedIpRanges: [OFFICE_CIDR],
      networkPlugin: "azure",
      networkPolicy: "azure",
      subnetId: azureSubnetId(0, 1),
      nodeCount: 3,
      nodeSize: "Standard_D4s_v5",
      defender: true,
      azurePolicy: false,
      kubeletIdentityId: identityId("rg-payments-prod", "id-payments-prod"),
    },
    {
      name: "aks-dev-eus",
      rg: "rg-dev-eus",
      region: "eastus",
      tags: tagsFor("devtools", "development"),
      kubernetesVersion: "1.26.6",
      fqdnSuffix: randomChars(rng, HEX, 8),
      rbac: false,
      aadManaged: false,
      localAccountsDisabled: false,
      privateCluster: false,
      authorizedIpRanges: [],
      networkPlugin: "kubenet",
      networkPolicy: null,
      subnetId: azureSubnetId(2, 2),
      nodeCount: 2,
      nodeSize: "Standard_B4ms",
      defender: false,
      azurePolicy: false,
      kubeletIdentityId: null,
    },
  ];
  for (const cluster of clusters) out.push(azureAks(cluster));

  out.push(
    azureAcr({
      name: "crcontosoprod",
      rg: "rg-shared-services",
      region: "westeurope",
      tags: tagsFor("platform", "production"),
      created: daysAgo(700),
      premium: true,
      adminUserEnabled: false,
      publicNetworkAccess: "Disabled",
      anonymousPull: false,
    }),
    azureAcr({
      name: "crcontosodev",
      rg: "rg-dev-eus",
      region: "eastus",
      tags: tagsFor("devtools", "development"),
      created: daysAgo(420),
      premium: false,
      adminUserEnabled: true,
      publicNetworkAccess: "Enabled",
      anonymousPull: false,
    }),
  );

  const dnsTags = tagsFor("platform", "production");
  for (const [zone, records] of [
    ["contoso.com", 42],
    ["shop.contoso.com", 12],
    ["contoso-payments.com", 7],
  ] as const) {
    out.push(azureDnsZone({ name: zone, rg: "rg-network-prod", region: "global", tags: dnsTags }, records));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The AWS demo estate
// ---------------------------------------------------------------------------------------------------------

const AWS_NETWORKS = [
  {
    name: "contoso-prod",
    region: "us-east-1",
    octets: "10.20",
    app: "platform",
    env: "production",
    flowLogs: true,
  },
  {
    name: "contoso-shared",
    region: "us-east-1",
    octets: "10.21",
    app: "devtools",
    env: "shared",
    flowLogs: false,
  },
  {
    name: "contoso-euw1",
    region: "eu-west-1",
    octets: "10.30",
    app: "webshop",
    env: "production",
    flowLogs: true,
  },
] as const satisfies ReadonlyArray<{
  name: string;
  region: string;
  octets: string;
  app: App;
  env: string;
  flowLogs: boolean;
}>;

/** Per VPC: public subnet in AZ a, private subnets in AZ a and b. */
const AWS_SUBNETS = [
  { suffix: "public-a", zone: "a", third: 0, public: true },
  { suffix: "private-a", zone: "a", third: 10, public: false },
  { suffix: "private-b", zone: "b", third: 11, public: false },
] as const;

const AMIS: Record<string, string> = {
  "us-east-1/linux": "ami-0e86e20dae9224db8",
  "us-east-1/arm": "ami-096ea6a12ea24a797",
  "us-east-1/windows": "ami-07d9456e59793a7d5",
  "eu-west-1/linux": "ami-0d64bb532e0502c46",
  "eu-west-1/arm": "ami-0a2202cf4c36161a1",
  "eu-west-1/windows": "ami-0b2a401a8b3f4edd3",
};

interface AwsSgPlan {
  name: string;
  vpc: number;
  description: string;
  rules: ReadonlyArray<Omit<SgRule, "groups"> & { groupNames?: readonly string[] }>;
}

const AWS_SECURITY_GROUPS: readonly AwsSgPlan[] = [
  {
    name: "contoso-prod-alb",
    vpc: 0,
    description: "Internet-facing ALB for the webshop",
    rules: [
      { from: 443, cidrs: ["0.0.0.0/0"], cidrsV6: ["::/0"], description: "HTTPS from anywhere" },
      { from: 80, cidrs: ["0.0.0.0/0"], description: "HTTP redirect" },
    ],
  },
  {
    name: "contoso-prod-web",
    vpc: 0,
    description: "Webshop application servers",
    rules: [{ from: 8080, groupNames: ["contoso-prod-alb"] }],
  },
  {
    name: "contoso-prod-bastion",
    vpc: 0,
    description: "SSH bastion",
    rules: [{ from: 22, cidrs: ["0.0.0.0/0"], description: "temporary - vendor access" }],
  },
  {
    name: "contoso-prod-db",
    vpc: 0,
    description: "PostgreSQL access from app tier",
    rules: [{ from: 5432, groupNames: ["contoso-prod-web", "contoso-prod-bastion"] }],
  },
  {
    name: "contoso-prod-eks-nodes",
    vpc: 0,
    description: "EKS worker nodes",
    rules: [
      { protocol: "-1", groupNames: ["contoso-prod-eks-nodes"] },
      { from: 443, cidrs: ["10.20.0.0/16"] },
    ],
  },
  {
    name: "contoso-shared-legacy-admin",
    vpc: 1,
    description: "legacy admin access",
    rules: [
      { from: 22, cidrs: ["0.0.0.0/0"] },
      { from: 3389, cidrs: ["0.0.0.0/0"] },
    ],
  },
  {
    name: "contoso-shared-ci",
    vpc: 1,
    description: "CI runners and Jenkins",
    rules: [
      { from: 22, cidrs: [OFFICE_CIDR], description: "office VPN" },
      { from: 8443, cidrs: ["0.0.0.0/0"], description: "webhooks" },
    ],
  },
  {
    name: "contoso-euw1-web",
    vpc: 2,
    description: "EU webshop front end",
    rules: [{ from: 443, cidrs: ["0.0.0.0/0"] }],
  },
  {
    name: "contoso-euw1-app",
    vpc: 2,
    description: "EU app tier",
    rules: [
      { from: 22, cidrs: ["0.0.0.0/0"] },
      { from: 8080, cidrs: ["10.30.0.0/16"] },
    ],
  },
  {
    name: "contoso-euw1-db",
    vpc: 2,
    description: "EU reporting databases",
    rules: [{ from: 3306, cidrs: ["0.0.0.0/0"], description: "BI tool" }],
  },
];

interface Ec2Group {
  prefix: string;
  count: number;
  vpc: number;
  subnet: "public" | "private";
  securityGroups: readonly string[];
  app: App;
  env: string;
  instanceType: string;
  platform: "linux" | "arm" | "windows";
  /** 1-based members with a public IP. */
  publicIps: readonly number[];
  /** Probability that IMDSv2 is required. */
  imdsV2: number;
  profile: string | null;
  keyName: string | null;
  /** The `PatchGroup` tag that enrols the instances in a Systems Manager patch baseline, if any. */
  patchGroup?: string;
}

const EC2_GROUPS: readonly Ec2Group[] = [
  {
    prefix: "web-prod",
    count: 6,
    vpc: 0,
    subnet: "private",
    securityGroups: ["contoso-prod-web"],
    app: "webshop",
    env: "production",
    instanceType: "m6i.large",
    platform: "linux",
    publicIps: [],
    imdsV2: 0.9,
    profile: "ec2-web-prod-role",
    keyName: null,
    patchGroup: "linux-prod",
  },
  {
    prefix: "api-prod",
    count: 4,
    vpc: 0,
    subnet: "private",
    securityGroups: ["contoso-prod-web"],
    app: "webshop",
    env: "production",
    instanceType: "c6i.xlarge",
    platform: "linux",
    publicIps: [],
    imdsV2: 0.8,
    profile: "ec2-web-prod-role",
    keyName: null,
    patchGroup: "linux-prod",
  },
  {
    prefix: "bastion-prod",
    count: 1,
    vpc: 0,
    subnet: "public",
    securityGroups: ["contoso-prod-bastion"],
    app: "platform",
    env: "production",
    instanceType: "t3.micro",
    platform: "linux",
    publicIps: [1],
    imdsV2: 0,
    profile: "ec2-worker-prod-role",
    keyName: "contoso-prod-ops",
  },
  {
    prefix: "worker-prod",
    count: 3,
    vpc: 0,
    subnet: "private",
    securityGroups: ["contoso-prod-web"],
    app: "data",
    env: "production",
    instanceType: "m6i.xlarge",
    platform: "linux",
    publicIps: [],
    imdsV2: 0.6,
    profile: "ec2-worker-prod-role",
    keyName: "contoso-prod-ops",
    patchGroup: "linux-prod",
  },
  {
    prefix: "jenkins",
    count: 1,
    vpc: 1,
    subnet: "public",
    securityGroups: ["contoso-shared-ci"],
    app: "devtools",
    env: "shared",
    instanceType: "t3.large",
    platform: "linux",
    publicIps: [1],
    imdsV2: 0,
    profile: "ci-runner-role",
    keyName: "contoso-ci",
  },
  {
    prefix: "ci-runner",
    count: 3,
    vpc: 1,
    subnet: "public",
    securityGroups: ["contoso-shared-ci"],
    app: "devtools",
    env: "shared",
    instanceType: "c6a.large",
    platform: "linux",
    publicIps: [2, 3],
    imdsV2: 0.3,
    profile: "ci-runner-role",
    keyName: "contoso-ci",
  },
  {
    prefix: "legacy-win",
    count: 1,
    vpc: 1,
    subnet: "public",
    securityGroups: ["contoso-shared-legacy-admin"],
    app: "corp",
    env: "production",
    instanceType: "t3.xlarge",
    platform: "windows",
    publicIps: [1],
    imdsV2: 0,
    profile: null,
    keyName: "legacy-admin",
  },
  {
    prefix: "web-euw1",
    count: 2,
    vpc: 2,
    subnet: "private",
    securityGroups: ["contoso-euw1-web"],
    app: "webshop",
    env: "production",
    instanceType: "m6g.large",
    platform: "arm",
    publicIps: [],
    imdsV2: 0.7,
    profile: "ec2-web-prod-role",
    keyName: null,
    patchGroup: "linux-prod",
  },
  {
    prefix: "app-euw1",
    count: 3,
    vpc: 2,
    subnet: "public",
    securityGroups: ["contoso-euw1-app"],
    app: "webshop",
    env: "production",
    instanceType: "m6i.large",
    platform: "linux",
    publicIps: [2],
    imdsV2: 0.5,
    profile: "ec2-web-prod-role",
    keyName: "contoso-euw1",
  },
];

function buildAwsEstate(rng: Rng): DemoResource[] {
  const out: DemoResource[] = [];
  const networks = AWS_NETWORKS.map((plan) => ({
    plan,
    vpcId: awsRandomId(rng, "vpc"),
    subnetIds: AWS_SUBNETS.map(() => awsRandomId(rng, "subnet")),
  }));
  networks.forEach(({ plan, vpcId, subnetIds }) => {
    out.push(
      vpc({
        vpcId,
        name: `${plan.name}-vpc`,
        region: plan.region,
        tags: tagsFor(plan.app, plan.env, { Name: `${plan.name}-vpc` }),
        cidr: `${plan.octets}.0.0/16`,
        flowLogId: plan.flowLogs ? `fl-0${randomChars(rng, HEX, 16)}` : null,
      }),
    );
    AWS_SUBNETS.forEach((sub, k) => {
      const name = `${plan.name}-${sub.suffix}`;
      out.push(
        awsSubnet({
          subnetId: subnetIds[k],
          name,
          region: plan.region,
          availabilityZone: `${plan.region}${sub.zone}`,
          tags: tagsFor(plan.app, plan.env, { Name: name }),
          vpcId,
          cidr: `${plan.octets}.${sub.third}.0/24`,
          mapPublicIp: sub.public,
          availableIps: between(rng, 180, 249),
        }),
      );
    });
  });

  const sgIds = new Map(AWS_SECURITY_GROUPS.map((sg) => [sg.name, awsRandomId(rng, "sg")]));
  const sgId = (name: string) => sgIds.get(name) ?? "";
  for (const plan of AWS_SECURITY_GROUPS) {
    const network = networks[plan.vpc];
    out.push(
      securityGroup({
        groupId: sgId(plan.name),
        name: plan.name,
        description: plan.description,
        region: network.plan.region,
        vpcId: network.vpcId,
        tags: tagsFor(network.plan.app, network.plan.env, { Name: plan.name }),
        rules: plan.rules.map(({ groupNames, ...rule }) => ({
          ...rule,
          groups: (groupNames ?? []).map(sgId),
        })),
      }),
    );
  }

  let publicHost = 10;
  for (const group of EC2_GROUPS) {
    const network = networks[group.vpc];
    const { region } = network.plan;
    for (let i = 1; i <= group.count; i++) {
      const name = `${group.prefix}-${pad2(i)}`;
      const subnetIndex = group.subnet === "public" ? 0 : 1 + ((i - 1) % 2);
      const sub = AWS_SUBNETS[subnetIndex];
      const tags = tagsFor(group.app, group.env, {
        Name: name,
        ...(group.patchGroup ? { PatchGroup: group.patchGroup } : {}),
      });
      if (group.env === "shared" && chance(rng, 0.3)) delete tags.costCenter;
      out.push(
        ec2Instance({
          name,
          region,
          availabilityZone: `${region}${sub.zone}`,
          tags,
          instanceId: awsRandomId(rng, "i"),
          instanceType: group.instanceType,
          imageId: AMIS[`${region}/${group.platform}`] ?? "ami-0e86e20dae9224db8",
          windows: group.platform === "windows",
          arm: group.platform === "arm",
          privateIp: `${network.plan.octets}.${sub.third}.${between(rng, 10, 250)}`,
          publicIp: group.publicIps.includes(i) ? `192.0.2.${publicHost++}` : null,
          subnetId: network.subnetIds[subnetIndex],
          vpcId: network.vpcId,
          securityGroups: group.securityGroups.map((GroupName) => ({ GroupId: sgId(GroupName), GroupName })),
          instanceProfile: group.profile,
          imdsV2Required: chance(rng, group.imdsV2),
          keyName: group.keyName,
          launchTime: daysAgo(between(rng, 3, 400)),
          detailedMonitoring: group.env === "production" && chance(rng, 0.5),
          running: group.env === "production" || chance(rng, 0.7),
          volumeId: awsRandomId(rng, "vol"),
        }),
      );
    }
  }

  const keyArns = new Map<string, string>();
  const keys: ReadonlyArray<
    readonly [alias: string, region: string, rotation: boolean, description: string]
  > = [
    ["contoso-s3-data", "us-east-1", true, "Default key for S3 data buckets"],
    ["contoso-rds", "us-east-1", true, "RDS storage encryption"],
    ["contoso-ebs-default", "us-east-1", false, "EBS default encryption key"],
    ["contoso-eks-secrets", "us-east-1", true, "EKS secrets envelope encryption"],
    ["contoso-legacy-app", "us-east-1", false, "Legacy reporting app"],
    ["contoso-euw1-data", "eu-west-1", false, "EU data at rest"],
  ];
  for (const [alias, region, rotation, description] of keys) {
    const keyId = guid(rng);
    keyArns.set(alias, arn("kms", region, `key/${keyId}`));
    out.push(
      kmsKey({
        keyId,
        alias,
        region,
        tags: tagsFor(alias.includes("legacy") ? "corp" : "platform", "production"),
        description,
        created: daysAgo(between(rng, 200, 1400)),
        rotation,
        state: "Enabled",
      }),
    );
  }
  const keyArn = (alias: string) => keyArns.get(alias) ?? null;

  const logsUse1 = "contoso-prod-access-logs-use1";
  const logsEuw1 = "contoso-euw1-access-logs";
  const buckets: ReadonlyArray<
    readonly [
      name: string,
      region: string,
      app: App,
      env: string,
      block: boolean | "partial",
      sse: "aws:kms" | "AES256" | null,
      versioning: "Enabled" | "Suspended" | null,
      logging: boolean,
      isPublic: boolean,
    ]
  > = [
    [
      "contoso-prod-app-assets",
      "us-east-1",
      "webshop",
      "production",
      true,
      "aws:kms",
      "Enabled",
      true,
      false,
    ],
    [logsUse1, "us-east-1", "platform", "production", true, "AES256", "Enabled", false, false],
    [
      `contoso-cloudtrail-${AWS_ACCOUNT_ID}`,
      "us-east-1",
      "platform",
      "production",
      true,
      "aws:kms",
      "Enabled",
      true,
      false,
    ],
    ["contoso-backups-prod", "us-east-1", "platform", "production", true, "aws:kms", "Enabled", true, false],
    ["contoso-data-lake-raw", "us-east-1", "data", "production", true, "AES256", "Suspended", false, false],
    ["contoso-data-lake-curated", "us-east-1", "data", "production", true, "aws:kms", "Enabled", true, false],
    ["contoso-web-static-site", "us-east-1", "webshop", "production", false, "AES256", null, true, true],
    ["contoso-marketing-downloads", "us-east-1", "corp", "production", false, null, null, false, true],
    ["contoso-dev-scratch", "us-east-1", "devtools", "development", "partial", "AES256", null, false, false],
    ["contoso-ci-artifacts", "us-east-1", "devtools", "shared", true, "AES256", "Enabled", false, false],
    [
      "contoso-terraform-state",
      "us-east-1",
      "platform",
      "production",
      true,
      "aws:kms",
      "Enabled",
      true,
      false,
    ],
    [
      "contoso-euw1-app-uploads",
      "eu-west-1",
      "webshop",
      "production",
      true,
      "aws:kms",
      "Enabled",
      true,
      false,
    ],
    [logsEuw1, "eu-west-1", "platform", "production", true, "AES256", "Enabled", false, false],
    [
      "contoso-lambda-deployments",
      "us-east-1",
      "devtools",
      "shared",
      true,
      "AES256",
      "Suspended",
      false,
      false,
    ],
    [
      "contoso-config-snapshots",
      "us-east-1",
      "platform",
      "production",
      true,
      "AES256",
      "Enabled",
      true,
      false,
    ],
    ["contoso-customer-exports", "us-east-1", "data", "production", "partial", null, null, false, false],
  ];
  /** The bucket policy and `dataClassification` tag of the buckets that have them. */
  const bucketGovernance: Record<string, { tls?: boolean; classification?: DataClassification }> = {
    "contoso-prod-app-assets": { tls: true, classification: "public" },
    [logsUse1]: { tls: true, classification: "internal" },
    [`contoso-cloudtrail-${AWS_ACCOUNT_ID}`]: { tls: true, classification: "internal" },
    "contoso-backups-prod": { tls: true, classification: "confidential" },
    "contoso-data-lake-raw": { classification: "confidential" },
    "contoso-data-lake-curated": { tls: true, classification: "confidential" },
    "contoso-web-static-site": { classification: "public" },
    "contoso-terraform-state": { tls: true, classification: "restricted" },
    "contoso-euw1-app-uploads": { tls: true, classification: "confidential" },
    "contoso-config-snapshots": { tls: true, classification: "internal" },
  };
  for (const [name, region, app, env, block, sse, versioning, logging, isPublic] of buckets) {
    const governance = bucketGovernance[name] ?? {};
    const classification = governance.classification;
    out.push(
      s3Bucket({
        name,
        region,
        tags:
          name === "contoso-marketing-downloads"
            ? { owner: "marketing@contoso.com" }
            : tagsFor(app, env, classification ? { dataClassification: classification } : {}),
        created: daysAgo(between(rng, 60, 2000)),
        publicAccessBlock: block,
        sse,
        kmsKeyArn:
          sse === "aws:kms" ? keyArn(region === "eu-west-1" ? "contoso-euw1-data" : "contoso-s3-data") : null,
        versioning,
        loggingTarget: logging ? (region === "eu-west-1" ? logsEuw1 : logsUse1) : null,
        isPublic,
        denyInsecureTransport: governance.tls ?? false,
      }),
    );
  }

  const databases: ReadonlyArray<
    readonly [
      id: string,
      vpc: number,
      engine: "postgres" | "mysql",
      version: string,
      cls: string,
      sg: string,
      app: App,
      env: string,
      flags: {
        encrypted: boolean;
        public: boolean;
        multiAz: boolean;
        protect: boolean;
        backup: number;
        iam: boolean;
        /** Minor engine upgrades are applied automatically (default true). */
        minorUpgrades?: boolean;
        classification?: DataClassification;
      },
    ]
  > = [
    [
      "orders-db-prod",
      0,
      "postgres",
      "15.7",
      "db.r6g.large",
      "contoso-prod-db",
      "webshop",
      "production",
      {
        encrypted: true,
        public: false,
        multiAz: true,
        protect: true,
        backup: 14,
        iam: false,
        classification: "confidential",
      },
    ],
    [
      "payments-db-prod",
      0,
      "postgres",
      "16.3",
      "db.r6g.xlarge",
      "contoso-prod-db",
      "payments",
      "production",
      {
        encrypted: true,
        public: false,
        multiAz: true,
        protect: true,
        backup: 35,
        iam: true,
        classification: "restricted",
      },
    ],
    [
      "analytics-db-prod",
      0,
      "postgres",
      "14.12",
      "db.r6g.large",
      "contoso-prod-db",
      "data",
      "production",
      {
        encrypted: true,
        public: false,
        multiAz: false,
        protect: false,
        backup: 7,
        iam: false,
        classification: "confidential",
      },
    ],
    [
      "legacy-mysql-01",
      2,
      "mysql",
      "5.7.44",
      "db.t3.medium",
      "contoso-euw1-db",
      "corp",
      "production",
      {
        encrypted: false,
        public: true,
        multiAz: false,
        protect: false,
        backup: 1,
        iam: false,
        minorUpgrades: false,
      },
    ],
    [
      "reporting-db-euw1",
      2,
      "mysql",
      "8.0.36",
      "db.m6g.large",
      "contoso-euw1-db",
      "data",
      "production",
      {
        encrypted: true,
        public: false,
        multiAz: false,
        protect: true,
        backup: 7,
        iam: false,
        minorUpgrades: false,
      },
    ],
    [
      "dev-postgres-01",
      1,
      "postgres",
      "13.15",
      "db.t3.small",
      "contoso-shared-ci",
      "devtools",
      "development",
      { encrypted: false, public: true, multiAz: false, protect: false, backup: 1, iam: false },
    ],
  ];
  for (const [id, vpcIndex, engine, version, cls, sg, app, env, f] of databases) {
    const network = networks[vpcIndex];
    out.push(
      rdsInstance({
        id,
        region: network.plan.region,
        availabilityZone: `${network.plan.region}${chance(rng, 0.5) ? "a" : "b"}`,
        tags: tagsFor(app, env, f.classification ? { dataClassification: f.classification } : {}),
        engine,
        engineVersion: version,
        instanceClass: cls,
        storageGb: pick(rng, [100, 200, 500]),
        encrypted: f.encrypted,
        kmsKeyArn: keyArn(network.plan.region === "eu-west-1" ? "contoso-euw1-data" : "contoso-rds"),
        publiclyAccessible: f.public,
        multiAz: f.multiAz,
        deletionProtection: f.protect,
        backupRetentionDays: f.backup,
        iamAuth: f.iam,
        autoMinorVersionUpgrade: f.minorUpgrades ?? true,
        securityGroupIds: [sgId(sg)],
        vpcId: network.vpcId,
        subnetGroup: `${network.plan.name}-db-subnets`,
        subnetIds: [network.subnetIds[1], network.subnetIds[2]],
        created: daysAgo(between(rng, 100, 1800)),
      }),
    );
  }

  const users: ReadonlyArray<
    readonly [
      name: string,
      console: boolean,
      mfa: boolean,
      policies: readonly string[],
      lastUsedDays: number | null,
      keys: IamUserSpec["accessKeys"],
    ]
  > = [
    ["megan.bowen", true, true, ["AdministratorAccess"], 1, []],
    ["lee.gu", true, false, ["PowerUserAccess"], 3, [{ status: "Active", ageDays: 190, lastUsedDays: 2 }]],
    ["diego.siciliani", true, true, ["ReadOnlyAccess"], 12, []],
    ["isaiah.langer", true, true, ["AmazonRDSFullAccess"], 2, []],
    ["nestor.wilke", true, false, ["AdministratorAccess"], 0.5, []],
    ["grady.archie", true, true, ["AmazonS3FullAccess", "AWSGlueConsoleFullAccess"], 6, []],
    [
      "pradeep.gupta",
      true,
      false,
      ["IAMFullAccess"],
      160,
      [{ status: "Active", ageDays: 610, lastUsedDays: 158 }],
    ],
    [
      "ci-deploy",
      false,
      false,
      ["AdministratorAccess"],
      null,
      [{ status: "Active", ageDays: 420, lastUsedDays: 0 }],
    ],
    [
      "terraform-automation",
      false,
      false,
      ["PowerUserAccess", "IAMFullAccess"],
      null,
      [{ status: "Active", ageDays: 75, lastUsedDays: 1 }],
    ],
    [
      "backup-agent",
      false,
      false,
      ["AWSBackupFullAccess"],
      null,
      [{ status: "Active", ageDays: 30, lastUsedDays: 0 }],
    ],
    [
      "grafana-readonly",
      false,
      false,
      ["CloudWatchReadOnlyAccess"],
      null,
      [
        { status: "Active", ageDays: 200, lastUsedDays: 0 },
        { status: "Inactive", ageDays: 600, lastUsedDays: 300 },
      ],
    ],
    ["break-glass-admin", true, true, ["AdministratorAccess"], null, []],
  ];
  for (const [name, consoleAccess, mfa, policies, lastUsedDays, accessKeys] of users) {
    const human = name.includes(".");
    out.push(
      iamUser({
        name,
        userId: `AIDA${randomChars(rng, ALNUM_UPPER, 17)}`,
        tags: human ? { department: "engineering" } : tagsFor("platform", "production"),
        created: daysAgo(between(rng, 300, 1800)),
        passwordLastUsed: consoleAccess && lastUsedDays !== null ? daysAgo(lastUsedDays) : null,
        consoleAccess,
        mfa,
        policies,
        groups: human ? ["engineering"] : [],
        accessKeys,
      }),
    );
  }

  const ec2 = { Service: "ec2.amazonaws.com" };
  const lambda = { Service: "lambda.amazonaws.com" };
  const basicLambda = "service-role/AWSLambdaBasicExecutionRole";
  const roles: ReadonlyArray<
    readonly [
      name: string,
      principal: IamRoleSpec["principal"],
      policies: readonly string[],
      lastUsedDays: number | null,
      condition?: Json,
    ]
  > = [
    ["ec2-web-prod-role", ec2, ["AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy"], 0.1],
    ["ec2-worker-prod-role", ec2, ["AmazonSSMManagedInstanceCore", "AmazonS3FullAccess"], 0.1],
    ["eks-cluster-role", { Service: "eks.amazonaws.com" }, ["AmazonEKSClusterPolicy"], 0.2],
    [
      "eks-node-role",
      ec2,
      ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"],
      0.1,
    ],
    ["lambda-orders-exec", lambda, [basicLambda, "AmazonDynamoDBFullAccess"], 0.3],
    ["lambda-reports-exec", lambda, [basicLambda, "AmazonS3ReadOnlyAccess"], 1],
    ["lambda-legacy-exec", lambda, ["AdministratorAccess"], 9],
    [
      "rds-monitoring-role",
      { Service: "monitoring.rds.amazonaws.com" },
      ["service-role/AmazonRDSEnhancedMonitoringRole"],
      0.1,
    ],
    [
      "github-actions-deploy",
      { Federated: `arn:aws:iam::${AWS_ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com` },
      ["PowerUserAccess"],
      0.5,
      {
        StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com" },
        StringLike: { "token.actions.githubusercontent.com:sub": "repo:contoso/*" },
      },
    ],
    ["OrganizationAccountAccessRole", { AWS: "arn:aws:iam::118273645590:root" }, ["AdministratorAccess"], 45],
    [
      "vendor-audit-access",
      { AWS: "arn:aws:iam::902341876123:root" },
      ["SecurityAudit", "ReadOnlyAccess"],
      20,
    ],
    ["ci-runner-role", ec2, ["AmazonEC2ContainerRegistryPowerUser", "AmazonS3FullAccess"], 0.2],
  ];
  const roleArn = (name: string) => `arn:aws:iam::${AWS_ACCOUNT_ID}:role/${name}`;
  for (const [name, principal, policies, lastUsedDays, condition] of roles) {
    out.push(
      iamRole({
        name,
        roleId: `AROA${randomChars(rng, ALNUM_UPPER, 17)}`,
        tags: tagsFor("platform", "production"),
        created: daysAgo(between(rng, 100, 1500)),
        principal,
        condition: condition ?? null,
        policies,
        lastUsedDays,
        maxSessionHours: name === "OrganizationAccountAccessRole" ? 1 : pick(rng, [1, 1, 4, 12]),
      }),
    );
  }

  const prod = networks[0];
  const functions: ReadonlyArray<
    readonly [
      name: string,
      runtime: string,
      role: string,
      region: string,
      app: App,
      extra: { arm?: boolean; vpc?: boolean; url?: "NONE" | "AWS_IAM"; env?: Tags },
    ]
  > = [
    ["orders-processor", "python3.12", "lambda-orders-exec", "us-east-1", "webshop", { vpc: true }],
    ["invoice-generator", "nodejs18.x", "lambda-orders-exec", "us-east-1", "payments", {}],
    ["image-resizer", "nodejs20.x", "lambda-reports-exec", "us-east-1", "webshop", { arm: true }],
    [
      "legacy-report-export",
      "python3.7",
      "lambda-legacy-exec",
      "us-east-1",
      "corp",
      { url: "NONE", env: { DB_HOST: "legacy-mysql-01", DB_PASSWORD: "(redacted)" } },
    ],
    [
      "slack-notifier",
      "nodejs14.x",
      "lambda-reports-exec",
      "us-east-1",
      "platform",
      { env: { SLACK_WEBHOOK_URL: "(redacted)" } },
    ],
    ["s3-event-indexer", "python3.11", "lambda-reports-exec", "us-east-1", "data", {}],
    ["auth-token-rotator", "java17", "lambda-orders-exec", "us-east-1", "identity", { vpc: true }],
    ["cost-reporter", "python3.8", "lambda-reports-exec", "us-east-1", "platform", {}],
    ["webhook-handler-euw1", "go1.x", "lambda-orders-exec", "eu-west-1", "webshop", { url: "AWS_IAM" }],
    ["data-lake-compactor", "python3.12", "lambda-reports-exec", "us-east-1", "data", { arm: true }],
  ];
  for (const [name, runtime, role, region, app, extra] of functions) {
    const handler = runtime.startsWith("python")
      ? "app.handler"
      : runtime.startsWith("node")
        ? "index.handler"
        : runtime.startsWith("java")
          ? "com.contoso.Handler::handleRequest"
          : "bootstrap";
    out.push(
      lambdaFunction({
        name,
        region,
        tags: tagsFor(app, "production"),
        runtime,
        handler,
        roleArn: roleArn(role),
        memoryMb: pick(rng, [128, 256, 512, 1024]),
        timeoutSeconds: pick(rng, [3, 30, 60, 300]),
        arm: extra.arm ?? false,
        lastModified: daysAgo(between(rng, 1, 900)),
        codeSize: between(rng, 4_000, 9_000_000),
        tracing: chance(rng, 0.4),
        environment: { LOG_LEVEL: "info", ...extra.env },
        vpc: extra.vpc
          ? {
              subnetIds: [prod.subnetIds[1], prod.subnetIds[2]],
              securityGroupIds: [sgId("contoso-prod-web")],
              vpcId: prod.vpcId,
            }
          : null,
        urlAuthType: extra.url ?? null,
      }),
    );
  }

  const euw1 = networks[2];
  out.push(
    eksCluster({
      name: "contoso-prod-eks",
      region: "us-east-1",
      tags: tagsFor("platform", "production"),
      version: "1.29",
      endpointHash: randomChars(rng, HEX, 32).toUpperCase(),
      roleArn: roleArn("eks-cluster-role"),
      vpcId: prod.vpcId,
      subnetIds: [prod.subnetIds[1], prod.subnetIds[2]],
      securityGroupIds: [sgId("contoso-prod-eks-nodes")],
      publicEndpoint: true,
      privateEndpoint: true,
      publicAccessCidrs: [OFFICE_CIDR],
      logging: true,
      secretsKeyArn: keyArn("contoso-eks-secrets"),
      created: daysAgo(500),
      runtimeMonitoring: true,
    }),
    eksCluster({
      name: "contoso-euw1-eks",
      region: "eu-west-1",
      tags: tagsFor("webshop", "production"),
      version: "1.26",
      endpointHash: randomChars(rng, HEX, 32).toUpperCase(),
      roleArn: roleArn("eks-cluster-role"),
      vpcId: euw1.vpcId,
      subnetIds: [euw1.subnetIds[1], euw1.subnetIds[2]],
      securityGroupIds: [sgId("contoso-euw1-app")],
      publicEndpoint: true,
      privateEndpoint: false,
      publicAccessCidrs: ["0.0.0.0/0"],
      logging: false,
      secretsKeyArn: null,
      created: daysAgo(820),
      runtimeMonitoring: false,
    }),
  );

  for (const [name, scanOnPush, immutableTags, kms] of [
    ["contoso/web-frontend", true, true, true],
    ["contoso/orders-api", true, false, false],
    ["contoso/payments-api", true, true, true],
    ["contoso/legacy-batch", false, false, false],
  ] as const) {
    out.push(
      ecrRepository({
        name,
        region: "us-east-1",
        tags: tagsFor(
          name.includes("legacy") ? "corp" : name.includes("payments") ? "payments" : "webshop",
          "production",
        ),
        created: daysAgo(between(rng, 100, 900)),
        scanOnPush,
        immutableTags,
        kms,
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The GCP demo estate (resource data as Cloud Asset Inventory reports it: the REST representation of each
// asset, camelCase; external ids are full resource names, types are asset types; labels are the tags)
// ---------------------------------------------------------------------------------------------------------

const GCP_DEFAULT_SA = `${GCP_PROJECT_NUMBER}-compute@developer.gserviceaccount.com`;
const GCP_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";

const GCP = {
  instance: "compute.googleapis.com/Instance",
  firewall: "compute.googleapis.com/Firewall",
  network: "compute.googleapis.com/Network",
  subnet: "compute.googleapis.com/Subnetwork",
  bucket: "storage.googleapis.com/Bucket",
  sql: "sqladmin.googleapis.com/Instance",
  gke: "container.googleapis.com/Cluster",
  keyRing: "cloudkms.googleapis.com/KeyRing",
  cryptoKey: "cloudkms.googleapis.com/CryptoKey",
  dnsZone: "dns.googleapis.com/ManagedZone",
} as const;

/** GCP labels: lower-case keys and values, no `@`, so the owner is the team's name. */
function gcpLabels(environment: string, owner: string): Tags {
  return { environment, application: "data", owner, "cost-center": "cc-3105" };
}

function gcpResource(
  type: string,
  path: string,
  name: string,
  region: string | null,
  tags: Tags,
  properties: Json,
): DemoResource {
  const service = type.slice(0, type.indexOf("/"));
  return {
    accountKey: "gcp",
    externalId: `//${service}/projects/${GCP_PROJECT_ID}/${path}`,
    type,
    name,
    region,
    resourceGroup: null,
    tags,
    properties: { name, ...properties },
  };
}

/** The `selfLink` of a Compute Engine resource, as instances and firewalls reference networks. */
function computeLink(path: string): string {
  return `https://www.googleapis.com/compute/v1/projects/${GCP_PROJECT_ID}/${path}`;
}

interface GcpVmSpec {
  name: string;
  zone: string;
  subnet: string;
  ip: string;
  /** External NAT address, or null for an internal-only instance. */
  natIp: string | null;
  serviceAccount: string;
  scopes: string[];
  metadata: Record<string, string>;
  canIpForward: boolean;
  shielded: boolean;
  owner: string;
}

function gcpVm(s: GcpVmSpec): DemoResource {
  const region = s.zone.slice(0, s.zone.lastIndexOf("-"));
  return gcpResource(
    GCP.instance,
    `zones/${s.zone}/instances/${s.name}`,
    s.name,
    s.zone,
    gcpLabels("production", s.owner),
    {
      machineType: computeLink(`zones/${s.zone}/machineTypes/e2-standard-4`),
      status: "RUNNING",
      zone: computeLink(`zones/${s.zone}`),
      canIpForward: s.canIpForward,
      networkInterfaces: [
        {
          name: "nic0",
          network: computeLink("global/networks/analytics-vpc"),
          subnetwork: computeLink(`regions/${region}/subnetworks/${s.subnet}`),
          networkIP: s.ip,
          accessConfigs: s.natIp ? [{ type: "ONE_TO_ONE_NAT", name: "External NAT", natIP: s.natIp }] : [],
        },
      ],
      serviceAccounts: [{ email: s.serviceAccount, scopes: s.scopes }],
      metadata: { items: Object.entries(s.metadata).map(([key, value]) => ({ key, value })) },
      shieldedInstanceConfig: {
        enableSecureBoot: s.shielded,
        enableVtpm: true,
        enableIntegrityMonitoring: true,
      },
      creationTimestamp: daysAgo(s.shielded ? 210 : 640),
    },
  );
}

interface GcpFirewallSpec {
  name: string;
  network: string;
  sourceRanges: string[];
  allowed: Json[];
  logging: boolean;
}

function gcpFirewall(s: GcpFirewallSpec): DemoResource {
  return gcpResource(
    GCP.firewall,
    `global/firewalls/${s.name}`,
    s.name,
    "global",
    {},
    {
      network: computeLink(`global/networks/${s.network}`),
      direction: "INGRESS",
      priority: 1000,
      sourceRanges: s.sourceRanges,
      allowed: s.allowed,
      disabled: false,
      logConfig: s.logging ? { enable: true, metadata: "EXCLUDE_ALL_METADATA" } : { enable: false },
    },
  );
}

/**
 * The GCP project `contoso-analytics-prod`: a data platform that grew from a quick start in the default network
 * (an ETL VM on the default service account with an external IP, SSH open to the internet, a public export
 * bucket, a Cloud SQL instance without SSL open to 0.0.0.0/0, a GKE cluster with a public control plane, a
 * zone without DNSSEC) next to a newer, hardened part (API VM, raw-data bucket, billing database, keys).
 */
function buildGcpEstate(): DemoResource[] {
  const region = "europe-west1";
  const dataTeam = "data-engineering";
  return [
    gcpResource(
      GCP.network,
      "global/networks/default",
      "default",
      "global",
      {},
      {
        autoCreateSubnetworks: true,
        routingConfig: { routingMode: "REGIONAL" },
      },
    ),
    gcpResource(
      GCP.network,
      "global/networks/analytics-vpc",
      "analytics-vpc",
      "global",
      {},
      {
        autoCreateSubnetworks: false,
        routingConfig: { routingMode: "GLOBAL" },
      },
    ),
    gcpResource(
      GCP.subnet,
      `regions/${region}/subnetworks/default`,
      "default",
      region,
      {},
      {
        network: computeLink("global/networks/default"),
        ipCidrRange: "10.132.0.0/20",
        purpose: "PRIVATE",
        privateIpGoogleAccess: false,
      },
    ),
    gcpResource(
      GCP.subnet,
      `regions/${region}/subnetworks/analytics-euw1`,
      "analytics-euw1",
      region,
      {},
      {
        network: computeLink("global/networks/analytics-vpc"),
        ipCidrRange: "10.40.0.0/20",
        purpose: "PRIVATE",
        privateIpGoogleAccess: true,
        enableFlowLogs: true,
        logConfig: { enable: true, aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5 },
      },
    ),
    gcpFirewall({
      name: "default-allow-ssh",
      network: "default",
      sourceRanges: ["0.0.0.0/0"],
      allowed: [{ IPProtocol: "tcp", ports: ["22"] }],
      logging: false,
    }),
    gcpFirewall({
      name: "analytics-allow-iap-rdp",
      network: "analytics-vpc",
      sourceRanges: ["35.235.240.0/20"],
      allowed: [{ IPProtocol: "tcp", ports: ["3389"] }],
      logging: true,
    }),
    gcpFirewall({
      name: "analytics-allow-internal",
      network: "analytics-vpc",
      sourceRanges: ["10.40.0.0/20"],
      allowed: [{ IPProtocol: "all" }],
      logging: true,
    }),
    gcpVm({
      name: "analytics-etl-01",
      zone: `${region}-b`,
      subnet: "default",
      ip: "10.132.0.7",
      natIp: "192.0.2.44",
      serviceAccount: GCP_DEFAULT_SA,
      scopes: [GCP_CLOUD_PLATFORM],
      metadata: { "startup-script": "#! /bin/bash\n/opt/etl/bin/run-nightly.sh" },
      canIpForward: false,
      shielded: false,
      owner: dataTeam,
    }),
    gcpVm({
      name: "analytics-api-01",
      zone: `${region}-c`,
      subnet: "analytics-euw1",
      ip: "10.40.0.12",
      natIp: null,
      serviceAccount: `analytics-api@${GCP_PROJECT_ID}.iam.gserviceaccount.com`,
      scopes: [GCP_CLOUD_PLATFORM],
      metadata: { "enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE" },
      canIpForward: false,
      shielded: true,
      owner: dataTeam,
    }),
    gcpVm({
      name: "analytics-nat-01",
      zone: `${region}-d`,
      subnet: "analytics-euw1",
      ip: "10.40.0.2",
      natIp: "192.0.2.45",
      serviceAccount: `network-appliance@${GCP_PROJECT_ID}.iam.gserviceaccount.com`,
      scopes: ["https://www.googleapis.com/auth/logging.write"],
      metadata: { "enable-oslogin": "TRUE", "serial-port-enable": "true" },
      canIpForward: true,
      shielded: true,
      owner: "cloud-platform",
    }),
    gcpResource(
      GCP.bucket,
      "buckets/contoso-analytics-exports",
      "contoso-analytics-exports",
      "EU",
      gcpLabels("production", dataTeam),
      {
        location: "EU",
        storageClass: "STANDARD",
        iamConfiguration: {
          uniformBucketLevelAccess: { enabled: false },
          publicAccessPrevention: "inherited",
        },
        versioning: { enabled: false },
      },
    ),
    gcpResource(
      GCP.bucket,
      "buckets/contoso-analytics-raw",
      "contoso-analytics-raw",
      "EU",
      gcpLabels("production", dataTeam),
      {
        location: "EU",
        storageClass: "STANDARD",
        iamConfiguration: {
          uniformBucketLevelAccess: { enabled: true },
          publicAccessPrevention: "enforced",
        },
        versioning: { enabled: true },
        encryption: {
          defaultKmsKeyName: `projects/${GCP_PROJECT_ID}/locations/europe/keyRings/analytics-keys/cryptoKeys/analytics-raw`,
        },
      },
    ),
    gcpResource(
      GCP.sql,
      "instances/analytics-pg-01",
      "analytics-pg-01",
      region,
      gcpLabels("production", dataTeam),
      {
        databaseVersion: "POSTGRES_15",
        instanceType: "CLOUD_SQL_INSTANCE",
        state: "RUNNABLE",
        ipAddresses: [{ type: "PRIMARY", ipAddress: "192.0.2.61" }],
        settings: {
          tier: "db-custom-4-16384",
          ipConfiguration: {
            ipv4Enabled: true,
            requireSsl: false,
            sslMode: "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
            authorizedNetworks: [{ name: "anywhere", value: "0.0.0.0/0", kind: "sql#aclEntry" }],
          },
          backupConfiguration: { enabled: true, startTime: "02:00", pointInTimeRecoveryEnabled: false },
          databaseFlags: [{ name: "max_connections", value: "400" }],
        },
      },
    ),
    gcpResource(
      GCP.sql,
      "instances/billing-pg-01",
      "billing-pg-01",
      region,
      gcpLabels("production", "payments-eng"),
      {
        databaseVersion: "POSTGRES_16",
        instanceType: "CLOUD_SQL_INSTANCE",
        state: "RUNNABLE",
        ipAddresses: [{ type: "PRIVATE", ipAddress: "10.60.0.3" }],
        settings: {
          tier: "db-custom-2-8192",
          ipConfiguration: {
            ipv4Enabled: false,
            requireSsl: true,
            sslMode: "ENCRYPTED_ONLY",
            privateNetwork: `projects/${GCP_PROJECT_ID}/global/networks/analytics-vpc`,
            authorizedNetworks: [],
          },
          backupConfiguration: { enabled: true, startTime: "01:00", pointInTimeRecoveryEnabled: true },
          databaseFlags: [
            { name: "log_connections", value: "on" },
            { name: "log_disconnections", value: "on" },
          ],
        },
      },
    ),
    gcpResource(
      GCP.gke,
      `locations/${region}/clusters/analytics-gke-01`,
      "analytics-gke-01",
      region,
      gcpLabels("production", dataTeam),
      {
        currentMasterVersion: "1.29.8-gke.1031000",
        endpoint: "192.0.2.90",
        network: "analytics-vpc",
        subnetwork: "analytics-euw1",
        privateClusterConfig: { enablePrivateNodes: false, enablePrivateEndpoint: false },
        masterAuthorizedNetworksConfig: { enabled: false },
        networkPolicy: { provider: "PROVIDER_UNSPECIFIED", enabled: false },
        networkConfig: { datapathProvider: "LEGACY_DATAPATH" },
        legacyAbac: { enabled: false },
        shieldedNodes: { enabled: true },
        releaseChannel: { channel: "REGULAR" },
        workloadIdentityConfig: { workloadPool: `${GCP_PROJECT_ID}.svc.id.goog` },
      },
    ),
    gcpResource(
      GCP.keyRing,
      "locations/europe/keyRings/analytics-keys",
      "analytics-keys",
      "europe",
      {},
      {
        createTime: daysAgo(700),
      },
    ),
    gcpResource(
      GCP.cryptoKey,
      "locations/europe/keyRings/analytics-keys/cryptoKeys/analytics-raw",
      "analytics-raw",
      "europe",
      gcpLabels("production", dataTeam),
      {
        purpose: "ENCRYPT_DECRYPT",
        rotationPeriod: "7776000s",
        primary: { state: "ENABLED", algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION" },
        createTime: daysAgo(700),
      },
    ),
    gcpResource(
      GCP.cryptoKey,
      "locations/europe/keyRings/analytics-keys/cryptoKeys/analytics-exports",
      "analytics-exports",
      "europe",
      gcpLabels("production", dataTeam),
      {
        purpose: "ENCRYPT_DECRYPT",
        rotationPeriod: "31536000s",
        primary: { state: "ENABLED", algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION" },
        createTime: daysAgo(420),
      },
    ),
    gcpResource(
      GCP.dnsZone,
      "managedZones/analytics-contoso",
      "analytics-contoso",
      "global",
      {},
      {
        dnsName: "analytics.contoso.example.",
        visibility: "public",
        dnssecConfig: { state: "off" },
      },
    ),
    gcpResource(
      GCP.dnsZone,
      "managedZones/contoso-data",
      "contoso-data",
      "global",
      {},
      {
        dnsName: "data.contoso.example.",
        visibility: "public",
        dnssecConfig: {
          state: "on",
          nonExistence: "nsec3",
          defaultKeySpecs: [
            { keyType: "keySigning", algorithm: "rsasha256", keyLength: 2048 },
            { keyType: "zoneSigning", algorithm: "rsasha256", keyLength: 1024 },
          ],
        },
      },
    ),
  ];
}

/**
 * The demo estate: 299 resources (165 Azure, 114 AWS, 20 GCP) with consistent network wiring (VM -> NIC ->
 * subnet/NSG/public IP; EC2 -> subnet/VPC/security groups) and a deliberate mix of hardened and
 * misconfigured settings. Identical on every call; a fresh copy each time.
 */
export function demoResources(): DemoResource[] {
  const rng = mulberry32(DEMO_SEED);
  const network = buildAzureNetworkAndCompute(rng);
  const { resources: identities, principal } = buildAzureIdentitiesAndUsers(rng);
  const services = buildAzureServices(rng, principal);
  return [...network, ...identities, ...services, ...buildAwsEstate(rng), ...buildGcpEstate()];
}

// ---------------------------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------------------------

type AlertPlan = Omit<DemoAlert, "sourceId" | "resourceExternalId" | "startTime"> & {
  target: readonly [type: string, name: string];
  /** How long before the reference time the activity began. */
  minutesAgo: number;
};

const ALERT_PLANS: readonly AlertPlan[] = [
  {
    title: "Successful RDP brute force attack",
    description:
      "Over 1,400 failed RDP sign-ins from 198.51.100.203 against the local administrator account were followed by a successful sign-in. The virtual machine exposes port 3389 to the internet.",
    severity: "HIGH",
    tactics: ["CredentialAccess", "InitialAccess"],
    techniques: ["T1110", "T1078"],
    target: [AZ.vm, "vm-jump-01"],
    minutesAgo: 95,
  },
  {
    title: "Failed SSH brute force attack",
    description:
      "612 failed SSH authentication attempts for 38 distinct user names from 192.0.2.211 within 20 minutes. No successful sign-in was observed.",
    severity: "MEDIUM",
    tactics: ["CredentialAccess"],
    techniques: ["T1110", "T1110.001"],
    target: [AZ.vm, "vm-dev-01"],
    minutesAgo: 260,
  },
  {
    title: "SSH brute force attempts against EC2 instance",
    description:
      "An internet host repeatedly attempted password authentication over SSH against this instance. The attached security group allows port 22 from 0.0.0.0/0.",
    severity: "LOW",
    tactics: ["CredentialAccess"],
    techniques: ["T1110"],
    target: [AWS.ec2, "ci-runner-02"],
    minutesAgo: 1_180,
  },
  {
    title: "Suspicious PowerShell command line",
    description:
      "PowerShell ran with an encoded command that disables real-time monitoring and downloads a script from a newly registered domain. The parent process was explorer.exe in an RDP session.",
    severity: "HIGH",
    tactics: ["Execution", "DefenseEvasion"],
    techniques: ["T1059.001", "T1027", "T1562.001"],
    target: [AZ.vm, "vm-jump-02"],
    minutesAgo: 70,
  },
  {
    title: "Digital currency mining related behavior detected",
    description:
      "A process named kdevtmpfsi connected to a known Monero mining pool and has kept all CPU cores above 95% for two hours.",
    severity: "HIGH",
    tactics: ["Impact"],
    techniques: ["T1496"],
    target: [AZ.vm, "vm-dev-04"],
    minutesAgo: 610,
  },
  {
    title: "Access from a Tor exit node to a storage account",
    description:
      "Blobs in the public container 'exports' were listed and downloaded from a Tor exit node. Anonymous access is enabled on this account.",
    severity: "MEDIUM",
    tactics: ["Collection"],
    techniques: ["T1530"],
    target: [AZ.storage, "stcontosodev01"],
    minutesAgo: 1_420,
  },
  {
    title: "Unusual amount of data extracted from a storage account",
    description:
      "About 38 GB were read from this storage account in one hour by a SAS token not seen before, roughly 40 times the usual daily volume.",
    severity: "HIGH",
    tactics: ["Collection", "Exfiltration"],
    techniques: ["T1530", "T1567"],
    target: [AZ.storage, "stcontosodata01"],
    minutesAgo: 2_050,
  },
  {
    title: "Impossible travel activity",
    description:
      "The user signed in from Amsterdam and, 14 minutes later, from Singapore. The account has no MFA method registered.",
    severity: "MEDIUM",
    tactics: ["InitialAccess"],
    techniques: ["T1078.004"],
    target: [AZ.user, "Lee Gu"],
    minutesAgo: 340,
  },
  {
    title: "Sign-in from an anonymous IP address",
    description:
      "A successful interactive sign-in came through an anonymizing proxy. The account holds the User Administrator role and has no MFA.",
    severity: "MEDIUM",
    tactics: ["InitialAccess"],
    techniques: ["T1078", "T1090.003"],
    target: [AZ.user, "Nestor Wilke"],
    minutesAgo: 3_300,
  },
  {
    title: "Unusual user accessed a key vault",
    description:
      "A user who has never accessed this vault listed and read 27 secrets within five minutes from an IP address outside the corporate range.",
    severity: "MEDIUM",
    tactics: ["CredentialAccess"],
    techniques: ["T1555"],
    target: [AZ.keyVault, "kv-web-prod"],
    minutesAgo: 480,
  },
  {
    title: "High volume of operations in a key vault",
    description:
      "The managed identity of the build agents performed 1,900 secret get operations in ten minutes, far above its baseline.",
    severity: "LOW",
    tactics: ["CredentialAccess", "Discovery"],
    techniques: ["T1555", "T1580"],
    target: [AZ.keyVault, "kv-dev-eus"],
    minutesAgo: 2_700,
  },
  {
    title: "Managed identity token used from outside Azure",
    description:
      "An access token issued to this user-assigned identity was used from an IP address that is not an Azure datacenter, which may indicate token theft from a build agent.",
    severity: "HIGH",
    tactics: ["DefenseEvasion", "LateralMovement"],
    techniques: ["T1550.001", "T1528"],
    target: [AZ.identity, "id-build-agents"],
    minutesAgo: 2_640,
  },
  {
    title: "New local administrator account created",
    description:
      "The account 'support_adm' was created and added to the local Administrators group outside a change window.",
    severity: "MEDIUM",
    tactics: ["Persistence"],
    techniques: ["T1136.001"],
    target: [AZ.vm, "vm-ad-dc-01"],
    minutesAgo: 1_010,
  },
  {
    title: "Credential dumping attempt: LSASS memory access",
    description:
      "A renamed procdump.exe opened the LSASS process with read access and wrote a minidump to C:\\Windows\\Temp.",
    severity: "HIGH",
    tactics: ["CredentialAccess"],
    techniques: ["T1003.001"],
    target: [AZ.vm, "vm-ad-dc-02"],
    minutesAgo: 990,
  },
  {
    title: "Lateral movement using PsExec",
    description: "PSEXESVC was installed remotely from 10.1.3.4 (vm-jump-01) and ran cmd.exe as SYSTEM.",
    severity: "HIGH",
    tactics: ["LateralMovement", "Execution"],
    techniques: ["T1021.002", "T1569.002"],
    target: [AZ.vm, "vm-app-dr-01"],
    minutesAgo: 80,
  },
  {
    title: "Instance credentials used from an external IP address",
    description:
      "Temporary credentials of this instance's role were used to call the AWS API from an IP address outside AWS. IMDSv2 is not enforced on the instance.",
    severity: "HIGH",
    tactics: ["CredentialAccess", "Exfiltration"],
    techniques: ["T1552.005"],
    target: [AWS.ec2, "bastion-prod-01"],
    minutesAgo: 720,
  },
  {
    title: "Anomalous S3 GetObject calls",
    description:
      "An IAM principal that rarely reads this bucket downloaded 14,000 objects in 30 minutes from a new ASN.",
    severity: "MEDIUM",
    tactics: ["Collection", "Exfiltration"],
    techniques: ["T1530"],
    target: [AWS.s3, "contoso-customer-exports"],
    minutesAgo: 1_900,
  },
  {
    title: "Console sign-in without MFA from an unusual location",
    description:
      "An IAM user with AdministratorAccess signed in to the console without MFA from a country never seen for this account.",
    severity: "MEDIUM",
    tactics: ["InitialAccess", "Persistence"],
    techniques: ["T1078.004"],
    target: [AWS.user, "nestor.wilke"],
    minutesAgo: 3_900,
  },
  {
    title: "Antimalware quarantined a test file",
    description:
      "Microsoft Defender Antimalware detected and quarantined the EICAR test file in /tmp. No action is needed.",
    severity: "INFORMATIONAL",
    tactics: [],
    techniques: [],
    target: [AZ.vm, "vm-web-prod-03"],
    minutesAgo: 4_200,
  },
];

/**
 * Alerts on demo resources (VMs, storage, key vaults, identities), with start times in the 3 days before
 * `now`. Source ids (`demo-alert-001`...) and everything but the times are stable.
 */
export function demoAlerts(now: Date): DemoAlert[] {
  const resources = demoResources();
  const idOf = ([type, name]: readonly [string, string]): string => {
    const match = resources.find((r) => r.type === type && r.name === name);
    if (!match) throw new Error(`demo estate has no ${type} named ${name}`);
    return match.externalId;
  };
  return ALERT_PLANS.map(({ target, minutesAgo, ...alert }, i) => ({
    sourceId: `demo-alert-${String(i + 1).padStart(3, "0")}`,
    ...alert,
    tactics: [...alert.tactics],
    techniques: [...alert.techniques],
    resourceExternalId: idOf(target),
    startTime: new Date(now.getTime() - minutesAgo * 60_000).toISOString(),
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic inventory for benchmarks
// ---------------------------------------------------------------------------------------------------------

/**
 * Resources come in blocks of a fixed type pattern; references (NIC -> subnet, EC2 -> security group...)
 * point at resources of the same block, so the generated estate is wired like a real one. Identity
 * (names, ids) depends only on the index; the seed varies configuration.
 */
function layout<K extends string>(pattern: readonly K[]) {
  const positions = new Map<K, number[]>();
  const ordinals = pattern.map((kind, position) => {
    const list = positions.get(kind) ?? [];
    list.push(position);
    positions.set(kind, list);
    return list.length - 1;
  });
  return {
    size: pattern.length,
    kindAt: (index: number): K => pattern[index % pattern.length],
    ordinalAt: (index: number): number => ordinals[index % pattern.length],
    /** Index of the `ordinal`-th resource of `kind` in the block of `index`. */
    ref: (index: number, kind: K, ordinal = 0): number => {
      const list = positions.get(kind) ?? [0];
      return index - (index % pattern.length) + list[ordinal % list.length];
    },
  };
}

type AzureKind =
  | "vnet"
  | "subnet"
  | "nsg"
  | "pip"
  | "nic"
  | "vm"
  | "storage"
  | "sqlServer"
  | "sqlDb"
  | "keyVault"
  | "site"
  | "aks"
  | "acr"
  | "dns"
  | "identity"
  | "user";

const AZURE_LAYOUT = layout<AzureKind>([
  "vnet",
  "subnet",
  "subnet",
  "nsg",
  "pip",
  "nic",
  "vm",
  "nic",
  "vm",
  "nic",
  "vm",
  "storage",
  "nic",
  "vm",
  "nic",
  "vm",
  "nic",
  "vm",
  "storage",
  "sqlServer",
  "sqlDb",
  "keyVault",
  "site",
  "aks",
  "acr",
  "dns",
  "identity",
  "user",
  "user",
]);

type AwsKind =
  "vpc" | "subnet" | "sg" | "kms" | "role" | "ec2" | "s3" | "rds" | "lambda" | "eks" | "ecr" | "user";

const AWS_LAYOUT = layout<AwsKind>([
  "vpc",
  "subnet",
  "subnet",
  "sg",
  "sg",
  "kms",
  "role",
  "ec2",
  "ec2",
  "ec2",
  "s3",
  "ec2",
  "ec2",
  "ec2",
  "s3",
  "rds",
  "lambda",
  "eks",
  "ecr",
  "user",
]);

const AZURE_REGIONS = ["westeurope", "northeurope", "eastus", "westus2", "uksouth"] as const;
const AWS_REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1"] as const;
const VM_SIZES = [
  "Standard_B2ms",
  "Standard_D2s_v5",
  "Standard_D4s_v5",
  "Standard_D8s_v5",
  "Standard_E4s_v5",
] as const;
const EC2_TYPES = ["t3.medium", "m6i.large", "m6i.xlarge", "c6i.large", "r6i.large", "m6g.large"] as const;
const LAMBDA_RUNTIMES = [
  "python3.12",
  "python3.11",
  "nodejs20.x",
  "nodejs18.x",
  "java17",
  "python3.8",
  "nodejs14.x",
] as const;
const SITE_STACKS = [
  "DOTNETCORE|8.0",
  "NODE|20-lts",
  "PYTHON|3.11",
  "JAVA|17-java17",
  "NODE|14-lts",
  "PHP|7.4",
] as const;
const RISKY_SOURCES = ["*", "Internet", "0.0.0.0/0"] as const;

function azureSyntheticName(kind: Exclude<AzureKind, "user">, index: number): string {
  switch (kind) {
    case "storage":
      return `stsynth${index}`;
    case "acr":
      return `crsynth${index}`;
    case "dns":
      return `synth${index}.contoso-demo.com`;
    case "sqlServer":
      return `sql-synth-${index}`;
    case "sqlDb":
      return `sqldb-synth-${index}`;
    case "keyVault":
      return `kv-synth-${index}`;
    case "site":
      return `app-synth-${index}`;
    case "identity":
      return `id-synth-${index}`;
    case "subnet":
      return `snet-synth-${index}`;
    default:
      return `${kind}-synth-${index}`;
  }
}

/** Adds a `dataClassification` tag to a tagged data store with the given probability (from the key's own seed). */
function withClassification(tags: Tags, key: string, probability: number): Tags {
  const rng = rngFor(`classification:${key}`);
  if (Object.keys(tags).length === 0 || !chance(rng, probability)) return tags;
  const classification = pick(rng, ["internal", "confidential", "restricted", "public"] as const);
  return { ...tags, dataClassification: classification };
}

/** A synthetic database's classification: usually labelled, sometimes with sensitive columns still unlabelled. */
function syntheticSensitivity(index: number): AzureSqlDbSpec["sensitivity"] {
  const rng = rngFor(`sqldb:${index}`);
  const columns = Object.values(SENSITIVE_COLUMNS).filter(() => chance(rng, 0.4));
  return chance(rng, 0.7) ? { labelled: columns, recommended: [] } : { labelled: [], recommended: columns };
}

function syntheticAzure(index: number, count: number, rng: Rng): DemoResource {
  const L = AZURE_LAYOUT;
  const kind = L.kindAt(index);
  const block = Math.floor(index / L.size);
  const rg = `rg-synth-${block % 500}`;
  const region = AZURE_REGIONS[block % AZURE_REGIONS.length];
  const app = APPS[block % APPS.length];
  const env = pick(rng, ENVIRONMENTS);
  const base = { rg, region, tags: syntheticTags(rng, app, env) };
  const good = env === "production" ? 0.85 : 0.45;
  const octet = block % 256;
  /** Index of a sibling, or -1 when it lies beyond `count`. */
  const sibling = (k: AzureKind, ordinal = 0) => {
    const j = L.ref(index, k, ordinal);
    return j < count ? j : -1;
  };
  const idOf = (k: Exclude<AzureKind, "user" | "subnet" | "sqlDb">, j: number) =>
    j < 0 ? null : armId(rg, AZ[k], [azureSyntheticName(k, j)]);
  const vnetName = azureSyntheticName("vnet", L.ref(index, "vnet"));
  const subnetId = (ordinal: number) => {
    const j = sibling("subnet", ordinal);
    return j < 0 ? null : armId(rg, AZ.subnet, [vnetName, azureSyntheticName("subnet", j)]);
  };
  const ordinal = L.ordinalAt(index);

  switch (kind) {
    case "vnet":
      return azureVnet({
        ...base,
        name: azureSyntheticName("vnet", index),
        resourceGuid: guid(rng),
        addressPrefix: `10.${octet}.0.0/16`,
        subnets: [0, 1]
          .filter((k) => sibling("subnet", k) >= 0)
          .map((k) => ({
            name: azureSyntheticName("subnet", sibling("subnet", k)),
            addressPrefix: `10.${octet}.${k}.0/24`,
          })),
        peeredVnetIds: [],
        ddosProtection: chance(rng, 0.1),
      });
    case "subnet":
      return azureSubnet({
        ...base,
        tags: {},
        name: azureSyntheticName("subnet", index),
        vnet: vnetName,
        addressPrefix: `10.${octet}.${ordinal}.0/24`,
        nsgId: ordinal === 0 ? idOf("nsg", sibling("nsg")) : null,
        serviceEndpoints: chance(rng, 0.3) ? ["Microsoft.Storage"] : [],
      });
    case "nsg": {
      const rules: NsgRule[] = [
        { name: "AllowHttpsInbound", priority: 100, source: "Internet", port: "443" },
      ];
      if (!chance(rng, good))
        rules.push({ name: "AllowSsh", priority: 300, source: pick(rng, RISKY_SOURCES), port: "22" });
      if (!chance(rng, good))
        rules.push({ name: "AllowRdp", priority: 310, source: pick(rng, RISKY_SOURCES), port: "3389" });
      rules.push({ name: "AllowVnetSsh", priority: 400, source: "VirtualNetwork", port: "22" });
      return azureNsg({
        ...base,
        name: azureSyntheticName("nsg", index),
        resourceGuid: guid(rng),
        rules,
        subnetIds: [subnetId(0)].filter((id): id is string => id !== null),
        nicIds: [],
      });
    }
    case "pip": {
      const nic = idOf("nic", sibling("nic", 0));
      return azurePublicIp({
        ...base,
        name: azureSyntheticName("pip", index),
        ipAddress: `198.51.100.${index % 250}`,
        staticAllocation: chance(rng, 0.5),
        ipConfigurationId: nic ? `${nic}/ipConfigurations/ipconfig1` : null,
        dnsLabel: null,
      });
    }
    case "nic":
      return azureNic({
        ...base,
        name: azureSyntheticName("nic", index),
        subnetId: subnetId(ordinal % 2) ?? subnetId(0) ?? "",
        privateIp: `10.${octet}.${ordinal % 2}.${4 + ordinal}`,
        publicIpId: ordinal === 0 ? idOf("pip", sibling("pip")) : null,
        nsgId: null,
        virtualMachineId: idOf("vm", sibling("vm", ordinal)),
        acceleratedNetworking: chance(rng, 0.7),
        macAddress: macAddress(rng),
      });
    case "vm":
      return azureVm({
        ...base,
        name: azureSyntheticName("vm", index),
        vmId: guid(rng),
        image: pick(rng, IMAGE_KEYS),
        size: pick(rng, VM_SIZES),
        nicId: idOf("nic", sibling("nic", ordinal)) ?? "",
        created: daysAgo(between(rng, 1, 1500)),
        diskEncryption: chance(rng, good),
        encryptionAtHost: chance(rng, good * 0.8),
        trustedLaunch: chance(rng, good),
        passwordAuthentication: !chance(rng, good),
        automaticUpdates: chance(rng, good),
        bootDiagnostics: chance(rng, 0.7),
        running: chance(rng, 0.85),
        dataDisks: between(rng, 0, 2),
        agents: vmAgents(azureSyntheticName("vm", index), good),
      });
    case "storage":
      return azureStorage({
        ...base,
        name: azureSyntheticName("storage", index),
        tags: withClassification(base.tags, `storage:${index}`, good),
        created: daysAgo(between(rng, 1, 2000)),
        httpsOnly: chance(rng, 0.92),
        minimumTlsVersion: chance(rng, good) ? "TLS1_2" : pick(rng, ["TLS1_0", "TLS1_1"] as const),
        allowBlobPublicAccess: !chance(rng, good),
        allowSharedKeyAccess: chance(rng, 0.7),
        blobEncryption: chance(rng, 0.98),
        keyVaultUri: chance(rng, 0.2)
          ? `https://${azureSyntheticName("keyVault", L.ref(index, "keyVault"))}.vault.azure.net/`
          : null,
        defaultAction: chance(rng, good) ? "Deny" : "Allow",
        subnetIds: [],
        ipRules: [],
        accessTier: chance(rng, 0.8) ? "Hot" : "Cool",
      });
    case "sqlServer":
      return azureSqlServer({
        ...base,
        name: azureSyntheticName("sqlServer", index),
        publicNetworkAccess: chance(rng, good) ? "Disabled" : "Enabled",
        minimalTlsVersion: chance(rng, good) ? "1.2" : "1.0",
        auditing: chance(rng, good),
        auditRetentionDays: pick(rng, [30, 90, 365]),
        adminGroup: "sg-sql-admins",
        adminGroupSid: guid(rng),
        aadOnlyAuthentication: chance(rng, good),
        threatDetection: chance(rng, good),
        firewallRules: chance(rng, 0.15) ? [["AllowAll", "0.0.0.0", "255.255.255.255"]] : [],
      });
    case "sqlDb":
      return azureSqlDb({
        ...base,
        name: azureSyntheticName("sqlDb", index),
        server: azureSyntheticName("sqlServer", L.ref(index, "sqlServer")),
        databaseId: guid(rng),
        created: daysAgo(between(rng, 1, 1500)),
        serviceObjective: pick(rng, ["S1", "S2", "GP_Gen5_2", "GP_Gen5_4", "BC_Gen5_4"]),
        maxSizeGb: pick(rng, [32, 100, 250, 500]),
        transparentDataEncryption: chance(rng, 0.95),
        backupRedundancy: pick(rng, ["Geo", "Local", "Zone"] as const),
        zoneRedundant: chance(rng, 0.4),
        geoSecondary: false,
        sensitivity: syntheticSensitivity(index),
      });
    case "keyVault":
      return azureKeyVault({
        ...base,
        name: azureSyntheticName("keyVault", index),
        sku: chance(rng, 0.2) ? "premium" : "standard",
        softDelete: chance(rng, 0.95),
        purgeProtection: chance(rng, good),
        rbac: chance(rng, good),
        defaultAction: chance(rng, good) ? "Deny" : "Allow",
        publicNetworkAccess: chance(rng, 0.3) ? "Disabled" : "Enabled",
        ipRules: [],
        accessPolicyObjectIds: [guid(rng)],
        diskEncryption: chance(rng, 0.3),
        auditLogs: chance(rngFor(`kv:${index}`), good),
      });
    case "site":
      return azureSite({
        ...base,
        name: azureSyntheticName("site", index),
        httpsOnly: chance(rng, good),
        minTlsVersion: chance(rng, good) ? "1.2" : "1.0",
        ftpsState: chance(rng, good) ? "FtpsOnly" : "AllAllowed",
        stack: pick(rng, SITE_STACKS),
        remoteDebugging: chance(rng, 0.05),
        clientCertEnabled: chance(rng, 0.2),
        publicNetworkAccess: "Enabled",
        keyVaultReferenceIdentity: null,
      });
    case "aks":
      return azureAks({
        ...base,
        name: azureSyntheticName("aks", index),
        kubernetesVersion: pick(rng, ["1.30.3", "1.29.7", "1.28.9", "1.26.6"]),
        fqdnSuffix: hex8(mix32(index)),
        rbac: chance(rng, 0.9),
        aadManaged: chance(rng, good),
        localAccountsDisabled: chance(rng, good),
        privateCluster: chance(rng, good * 0.6),
        authorizedIpRanges: [],
        networkPlugin: "azure",
        networkPolicy: chance(rng, good) ? "calico" : null,
        subnetId: subnetId(1),
        nodeCount: between(rng, 2, 12),
        nodeSize: pick(rng, VM_SIZES),
        defender: chance(rng, good),
        azurePolicy: chance(rng, good),
        kubeletIdentityId: idOf("identity", sibling("identity")),
      });
    case "acr":
      return azureAcr({
        ...base,
        name: azureSyntheticName("acr", index),
        created: daysAgo(between(rng, 1, 1200)),
        premium: chance(rng, 0.3),
        adminUserEnabled: !chance(rng, good),
        publicNetworkAccess: chance(rng, good) ? "Disabled" : "Enabled",
        anonymousPull: chance(rng, 0.05),
      });
    case "dns":
      return azureDnsZone(
        { ...base, region: "global", name: azureSyntheticName("dns", index) },
        between(rng, 2, 200),
      );
    case "identity":
      return azureIdentity({
        ...base,
        name: azureSyntheticName("identity", index),
        principalId: guid(rng),
        clientId: guid(rng),
        roleAssignments: [
          [
            chance(rng, good) ? "Reader" : pick(rng, ["Contributor", "Owner"]),
            `/subscriptions/${AZURE_SUBSCRIPTION_ID}/resourceGroups/${rg}`,
          ],
        ],
      });
    case "user": {
      const alias = `synth.user${index}`;
      return entraUser({
        objectId: indexGuid(index, 0x1d),
        userPrincipalName: `${alias}@contoso.com`,
        displayName: `Synthetic User ${index}`,
        mail: `${alias}@contoso.com`,
        jobTitle: "Engineer",
        department: app,
        guest: chance(rng, 0.05),
        enabled: chance(rng, 0.93),
        mfaMethods: chance(rng, 0.8) ? ["PhoneAppNotification"] : [],
        roles: chance(rng, 0.05)
          ? [pick(rng, ["Global Administrator", "User Administrator", "Security Reader"])]
          : [],
        lastSignIn: chance(rng, 0.9) ? daysAgo(between(rng, 0, 200)) : null,
        created: daysAgo(between(rng, 10, 2000)),
        synced: chance(rng, 0.5),
        passwordNeverExpires: chance(rng, 0.05),
      });
    }
  }
}

function syntheticAws(index: number, count: number, rng: Rng): DemoResource {
  const L = AWS_LAYOUT;
  const kind = L.kindAt(index);
  const block = Math.floor(index / L.size);
  const region = AWS_REGIONS[block % AWS_REGIONS.length];
  const app = APPS[block % APPS.length];
  const env = pick(rng, ENVIRONMENTS);
  const good = env === "production" ? 0.85 : 0.45;
  const octet = block % 256;
  const ordinal = L.ordinalAt(index);
  const tagsNamed = (name: string) => {
    const tags = syntheticTags(rng, app, env);
    return Object.keys(tags).length ? { Name: name, ...tags } : tags;
  };
  const exists = (j: number) => j < count;
  const vpcId = indexAwsId("vpc", L.ref(index, "vpc"));
  const subnetId = (k: number) => indexAwsId("subnet", L.ref(index, "subnet", k));
  const sgId = (k: number) => indexAwsId("sg", L.ref(index, "sg", k));
  const roleName = `synth-role-${L.ref(index, "role")}`;
  const roleArn = `arn:aws:iam::${AWS_ACCOUNT_ID}:role/${roleName}`;
  const kmsIndex = L.ref(index, "kms");
  const kmsArn = exists(kmsIndex) ? arn("kms", region, `key/${indexGuid(kmsIndex, 0x6b)}`) : null;

  switch (kind) {
    case "vpc":
      return vpc({
        vpcId: indexAwsId("vpc", index),
        name: `synth-vpc-${index}`,
        region,
        tags: tagsNamed(`synth-vpc-${index}`),
        cidr: `10.${octet}.0.0/16`,
        flowLogId: chance(rng, good) ? indexAwsId("fl", index) : null,
      });
    case "subnet":
      return awsSubnet({
        subnetId: indexAwsId("subnet", index),
        name: `synth-subnet-${index}`,
        region,
        availabilityZone: `${region}${ordinal === 0 ? "a" : "b"}`,
        tags: tagsNamed(`synth-subnet-${index}`),
        vpcId,
        cidr: `10.${octet}.${ordinal}.0/24`,
        mapPublicIp: ordinal === 0,
        availableIps: between(rng, 50, 250),
      });
    case "sg": {
      const rules: SgRule[] = [{ from: 443, cidrs: ["0.0.0.0/0"] }];
      if (!chance(rng, good)) rules.push({ from: 22, cidrs: ["0.0.0.0/0"] });
      if (!chance(rng, good)) rules.push({ from: pick(rng, [3389, 3306, 5432, 6379]), cidrs: ["0.0.0.0/0"] });
      rules.push({ from: 22, cidrs: [`10.${octet}.0.0/16`] });
      return securityGroup({
        groupId: indexAwsId("sg", index),
        name: `synth-sg-${index}`,
        description: "synthetic security group",
        region,
        vpcId,
        tags: tagsNamed(`synth-sg-${index}`),
        rules,
      });
    }
    case "kms":
      return kmsKey({
        keyId: indexGuid(index, 0x6b),
        alias: `synth-key-${index}`,
        region,
        tags: syntheticTags(rng, app, env),
        description: "synthetic key",
        created: daysAgo(between(rng, 1, 2000)),
        rotation: chance(rng, good),
        state: chance(rng, 0.97) ? "Enabled" : "Disabled",
      });
    case "role":
      return iamRole({
        name: `synth-role-${index}`,
        roleId: `AROA${hex8(mix32(index)).toUpperCase()}${hex8(index).toUpperCase()}Q`,
        tags: syntheticTags(rng, app, env),
        created: daysAgo(between(rng, 1, 2000)),
        principal: {
          Service: pick(rng, ["ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]),
        },
        condition: null,
        policies: chance(rng, good)
          ? ["ReadOnlyAccess"]
          : [pick(rng, ["AdministratorAccess", "AmazonS3FullAccess", "PowerUserAccess"])],
        lastUsedDays: chance(rng, 0.8) ? between(rng, 0, 120) : null,
        maxSessionHours: 1,
      });
    case "ec2": {
      const publicIp = ordinal % 3 === 0 && !chance(rng, good);
      const name = `synth-ec2-${index}`;
      const tags = tagsNamed(name);
      if (Object.keys(tags).length > 0 && chance(rngFor(`patch:${index}`), good)) tags.PatchGroup = "fleet";
      return ec2Instance({
        name,
        region,
        availabilityZone: `${region}${ordinal % 2 === 0 ? "a" : "b"}`,
        tags,
        instanceId: indexAwsId("i", index),
        instanceType: pick(rng, EC2_TYPES),
        imageId: `ami-0${hex8(mix32(block))}${hex8(mix32(ordinal))}`,
        windows: chance(rng, 0.15),
        arm: false,
        privateIp: `10.${octet}.${ordinal % 2}.${10 + ordinal}`,
        publicIp: publicIp ? `192.0.2.${index % 250}` : null,
        subnetId: subnetId(ordinal % 2),
        vpcId,
        securityGroups: [
          { GroupId: sgId(ordinal % 2), GroupName: `synth-sg-${L.ref(index, "sg", ordinal % 2)}` },
        ],
        instanceProfile: chance(rng, 0.8) ? roleName : null,
        imdsV2Required: chance(rng, good),
        keyName: chance(rng, 0.4) ? "synth-keypair" : null,
        launchTime: daysAgo(between(rng, 0, 900)),
        detailedMonitoring: chance(rng, 0.3),
        running: chance(rng, 0.85),
        volumeId: indexAwsId("vol", index),
      });
    }
    case "s3": {
      const block3 = chance(rng, good);
      const sse = chance(rng, 0.9) ? pick(rng, ["aws:kms", "AES256"] as const) : null;
      return s3Bucket({
        name: `contoso-synth-${index}`,
        region,
        tags: withClassification(syntheticTags(rng, app, env), `s3:${index}`, good),
        created: daysAgo(between(rng, 1, 2500)),
        publicAccessBlock: block3 ? true : pick(rng, [false, "partial"] as const),
        sse,
        kmsKeyArn: sse === "aws:kms" ? kmsArn : null,
        versioning: chance(rng, good) ? "Enabled" : pick(rng, ["Suspended", null] as const),
        loggingTarget: chance(rng, good) ? `contoso-synth-logs-${block}` : null,
        isPublic: !block3 && chance(rng, 0.3),
        denyInsecureTransport: chance(rngFor(`s3-tls:${index}`), good * 0.7),
      });
    }
    case "rds": {
      const encrypted = chance(rng, good);
      const engine = pick(rng, ["postgres", "mysql"] as const);
      return rdsInstance({
        id: `synth-db-${index}`,
        region,
        availabilityZone: `${region}a`,
        tags: withClassification(syntheticTags(rng, app, env), `rds:${index}`, good),
        engine,
        engineVersion:
          engine === "postgres" ? pick(rng, ["16.3", "15.7", "13.15"]) : pick(rng, ["8.0.36", "5.7.44"]),
        instanceClass: pick(rng, ["db.t3.medium", "db.r6g.large", "db.m6g.large"]),
        storageGb: pick(rng, [20, 100, 500]),
        encrypted,
        kmsKeyArn: encrypted ? kmsArn : null,
        publiclyAccessible: !chance(rng, good),
        multiAz: chance(rng, good),
        deletionProtection: chance(rng, good),
        backupRetentionDays: pick(rng, [1, 7, 14, 35]),
        iamAuth: chance(rng, 0.3),
        autoMinorVersionUpgrade: chance(rngFor(`rds-minor:${index}`), 0.8),
        securityGroupIds: [sgId(1)],
        vpcId,
        subnetGroup: `synth-db-subnets-${block}`,
        subnetIds: [subnetId(0), subnetId(1)],
        created: daysAgo(between(rng, 1, 2000)),
      });
    }
    case "lambda":
      return lambdaFunction({
        name: `synth-fn-${index}`,
        region,
        tags: syntheticTags(rng, app, env),
        runtime: pick(rng, LAMBDA_RUNTIMES),
        handler: "index.handler",
        roleArn,
        memoryMb: pick(rng, [128, 256, 512, 1024]),
        timeoutSeconds: pick(rng, [3, 30, 60, 300]),
        arm: chance(rng, 0.3),
        lastModified: daysAgo(between(rng, 0, 900)),
        codeSize: between(rng, 1_000, 5_000_000),
        tracing: chance(rng, 0.4),
        environment: { LOG_LEVEL: "info" },
        vpc: chance(rng, 0.4)
          ? { subnetIds: [subnetId(0), subnetId(1)], securityGroupIds: [sgId(0)], vpcId }
          : null,
        urlAuthType: chance(rng, 0.1) ? pick(rng, ["NONE", "AWS_IAM"] as const) : null,
      });
    case "eks": {
      const publicEndpoint = !chance(rng, good * 0.6);
      return eksCluster({
        name: `synth-eks-${index}`,
        region,
        tags: syntheticTags(rng, app, env),
        version: pick(rng, ["1.30", "1.29", "1.28", "1.26"]),
        endpointHash: `${hex8(mix32(index))}${hex8(index)}`.toUpperCase(),
        roleArn,
        vpcId,
        subnetIds: [subnetId(0), subnetId(1)],
        securityGroupIds: [sgId(0)],
        publicEndpoint,
        privateEndpoint: !publicEndpoint || chance(rng, 0.5),
        publicAccessCidrs: chance(rng, good) ? [OFFICE_CIDR] : ["0.0.0.0/0"],
        logging: chance(rng, good),
        secretsKeyArn: chance(rng, good) ? kmsArn : null,
        created: daysAgo(between(rng, 1, 1500)),
        runtimeMonitoring: chance(rngFor(`eks:${index}`), good),
      });
    }
    case "ecr":
      return ecrRepository({
        name: `synth/repo-${index}`,
        region,
        tags: syntheticTags(rng, app, env),
        created: daysAgo(between(rng, 1, 1500)),
        scanOnPush: chance(rng, good),
        immutableTags: chance(rng, 0.4),
        kms: chance(rng, 0.3),
      });
    case "user": {
      const consoleAccess = chance(rng, 0.6);
      return iamUser({
        name: `synth-user-${index}`,
        userId: `AIDA${hex8(mix32(index)).toUpperCase()}${hex8(index).toUpperCase()}Q`,
        tags: syntheticTags(rng, app, env),
        created: daysAgo(between(rng, 1, 2000)),
        passwordLastUsed: consoleAccess && chance(rng, 0.9) ? daysAgo(between(rng, 0, 200)) : null,
        consoleAccess,
        mfa: consoleAccess && chance(rng, good),
        policies: [
          pick(rng, ["ReadOnlyAccess", "PowerUserAccess", "AdministratorAccess", "AmazonS3ReadOnlyAccess"]),
        ],
        groups: [],
        accessKeys: consoleAccess
          ? []
          : [{ status: "Active", ageDays: between(rng, 1, 800), lastUsedDays: between(rng, 0, 60) }],
      });
    }
  }
}

/**
 * `count` (at most 200,000) varied synthetic resources of the account's provider for benchmarks: the same
 * types as the demo estate, about 1 KB of properties each, externalIds unique per index (and disjoint from
 * the demo estate). Names and ids depend only on the index; `seed` varies configuration deterministically.
 */
export function syntheticResources(count: number, accountKey: "azure" | "aws", seed = 1): DemoResource[] {
  if (!Number.isInteger(count) || count < 0 || count > SYNTHETIC_MAX) {
    throw new RangeError(`count must be an integer between 0 and ${SYNTHETIC_MAX} (got ${count})`);
  }
  const rng = mulberry32(mix32(seed) ^ 0x9e3779b9);
  const build = accountKey === "azure" ? syntheticAzure : syntheticAws;
  const out = new Array<DemoResource>(count);
  for (let i = 0; i < count; i++) out[i] = build(i, count, rng);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic network estate (the network-map benchmark)
// ---------------------------------------------------------------------------------------------------------

/** A cloud account of a synthetic network estate. */
export interface NetworkEstateAccount {
  provider: "AZURE" | "AWS";
  /** Subscription id or 12-digit AWS account id, distinct from the demo estate's. */
  externalId: string;
  name: string;
}

/** A resource of a synthetic network estate: a demo resource of the account at `account` in the estate's list. */
export interface NetworkEstateResource extends DemoResource {
  account: number;
}

/** Kind of a node the estate's network map must show (the GraphQL `NetworkNodeKind`). */
export type PlantedNodeKind =
  | "INTERNET"
  | "VIRTUAL_NETWORK"
  | "SUBNET"
  | "NETWORK_SECURITY_GROUP"
  | "NETWORK_INTERFACE"
  | "VIRTUAL_MACHINE"
  | "PUBLIC_IP"
  | "EXTERNAL_NETWORK";

/**
 * A node the estate's map must show: `key` is the resource's external id, `internet`, or for a peering's remote
 * network outside the estate `external:` + its id (lower-cased), as `NetworkNode.id` names it; `account` the index
 * of its account, null for the internet and an external network.
 */
export interface PlantedNode {
  key: string;
  kind: PlantedNodeKind;
  account: number | null;
}

/** An edge the estate's map must show, between node keys (`NetworkEdgeKind`). */
export interface PlantedEdge {
  from: string;
  to: string;
  kind: "CONTAINS" | "ATTACHED_TO" | "PROTECTED_BY" | "ASSOCIATED_WITH" | "PEERED_WITH" | "ALLOWS_TRAFFIC";
}

/** A synthetic network estate and the map of every account it was built to give. */
export interface NetworkEstate {
  accounts: NetworkEstateAccount[];
  resources: NetworkEstateResource[];
  /** Every network node of the tenant's map, the internet and the external networks included. */
  nodes: PlantedNode[];
  /** Every edge of the tenant's map. */
  edges: PlantedEdge[];
}

/** VMs/instances per network: between these (a hub has at least 4, so a peer's EIP finds its instance 2). */
const NET_VMS = [4, 16] as const;

interface PlannedNetwork {
  account: number;
  /** Ordinal in its account: 0 is the hub, odd spokes peer with it, even ones stand alone. */
  ordinal: number;
  /** Unique in the estate: addresses and AWS ids derive from it. */
  index: number;
  vms: number;
}

/** Whether instance `i` of an AWS network has an elastic IP of its own account. */
const ownEip = (i: number) => i % 8 === 6;

/**
 * About `count` network resources (whole networks are generated, so a few more) in `accountCount` cloud accounts
 * (half Azure, rounded up, then AWS), wired as real estates are, with the map they must give. Each account has a
 * hub network (ordinal 0) and spokes; every network is a VNet/VPC with a web subnet (NSG / security group open to
 * the internet on 443) and an app subnet (NSG / group admitting only the network), 4–16 VMs/instances alternating
 * between them, and public IPs (Azure: a public IP on every 4th VM's NIC, the first NIC behind a jump NSG of its
 * own; AWS: a public address on every 4th instance, an elastic IP on every 8th from the 7th). Odd spokes peer with
 * their hub; hubs peer across accounts of a provider in a chain (a ring from three accounts on), every hub with
 * a network outside the estate (an EXTERNAL_NETWORK), and in AWS the account of each cross-account peering's
 * requester holds an elastic IP on the accepter hub's instance 2 (a reference into another account). Azure
 * peerings are recorded on both VNets; an AWS connection by its requester's account. VMs carry a
 * `reviewSeverity` tag (`high` 20 %, `medium` 30 %, `low` 50 %) for definitions to turn into assessments.
 * Networks have at most 16 VMs (far below the topology's VM-to-VM cap), so every pair of VMs in a network or in
 * two peered ones exchanges traffic (Azure's AllowVnetInBound; AWS groups admit 10.0.0.0/8 on SSH).
 * Deterministic: names and ids depend on the indexes, configuration on `seed`.
 */
export function syntheticNetworkEstate(count: number, accountCount: number, seed = 1): NetworkEstate {
  if (!Number.isInteger(count) || count < 1 || count > SYNTHETIC_MAX) {
    throw new RangeError(`count must be an integer between 1 and ${SYNTHETIC_MAX} (got ${count})`);
  }
  if (!Number.isInteger(accountCount) || accountCount < 2 || accountCount > 1000) {
    throw new RangeError(`accountCount must be an integer between 2 and 1000 (got ${accountCount})`);
  }
  const azureCount = Math.ceil(accountCount / 2);
  const accounts: NetworkEstateAccount[] = Array.from({ length: accountCount }, (_, a) =>
    a < azureCount
      ? { provider: "AZURE", externalId: indexGuid(a, 0x5e7), name: `Synthetic Azure ${a}` }
      : { provider: "AWS", externalId: String(210_000_000_000 + a * 7919), name: `Synthetic AWS ${a}` },
  );
  // Hubs peer with the next account of their provider: a chain, closed into a ring from three accounts on.
  const peers: Array<[number, number]> = [];
  for (const [from, to] of [
    [0, azureCount],
    [azureCount, accountCount],
  ]) {
    for (let a = from; a + 1 < to; a++) peers.push([a, a + 1]);
    if (to - from >= 3) peers.push([to - 1, from]);
  }
  const peersOf = (a: number) => peers.flatMap(([x, y]) => (x === a ? [y] : y === a ? [x] : []));
  const vmsOf = (a: number, ordinal: number) => between(rngFor(`net:${seed}:${a}:${ordinal}`), ...NET_VMS);

  // Plan whole networks, hubs first then spokes account by account, until `count` resources are reached.
  const sizeOf = (n: Omit<PlannedNetwork, "index">) => {
    if (accounts[n.account].provider === "AZURE") return 6 + 2 * n.vms + Math.ceil(n.vms / 4);
    const eips = Array.from({ length: n.vms }, (_, i) => i).filter(ownEip).length;
    const hub =
      n.ordinal === 0 ? 1 + 2 * peers.filter(([x]) => x === n.account).length : n.ordinal % 2 === 1 ? 1 : 0;
    return 5 + n.vms + eips + hub;
  };
  const networks: PlannedNetwork[] = [];
  let planned = 0;
  for (let ordinal = 0; planned < count; ordinal++)
    for (let a = 0; a < accountCount && (ordinal === 0 || planned < count); a++) {
      const n = { account: a, ordinal, index: networks.length, vms: vmsOf(a, ordinal) };
      networks.push(n);
      planned += sizeOf(n);
    }
  const hubOf = (a: number) => networks[a];
  const spokesOf = (a: number) => networks.filter((n) => n.account === a && n.ordinal % 2 === 1);

  const resources: NetworkEstateResource[] = [];
  const nodes: PlantedNode[] = [];
  const edges: PlantedEdge[] = [];
  const node = (key: string, kind: PlantedNodeKind, account: number | null) =>
    nodes.push({ key, kind, account });
  const edge = (from: string, to: string, kind: PlantedEdge["kind"]) => edges.push({ from, to, kind });
  /** Resources built with the demo account's ids, moved into account `a` (its subscription or account id). */
  const emit = (a: number, built: DemoResource[]) => {
    const own = a < azureCount ? AZURE_SUBSCRIPTION_ID : AWS_ACCOUNT_ID;
    for (const r of built)
      resources.push({
        ...(JSON.parse(JSON.stringify(r).replaceAll(own, accounts[a].externalId)) as DemoResource),
        account: a,
      });
  };
  const inAccount = (a: number, id: string) =>
    id.replaceAll(a < azureCount ? AZURE_SUBSCRIPTION_ID : AWS_ACCOUNT_ID, accounts[a].externalId);
  const vmKeys = new Map<number, string[]>();
  const trafficWithin = (keys: readonly string[]) => {
    for (const from of keys) for (const to of keys) if (from !== to) edge(from, to, "ALLOWS_TRAFFIC");
  };
  const peering = (x: string, y: string, xVms: readonly string[], yVms: readonly string[]) => {
    edge(x, y, "PEERED_WITH");
    edge(y, x, "PEERED_WITH");
    for (const from of xVms) for (const to of yVms) edge(from, to, "ALLOWS_TRAFFIC");
    for (const from of yVms) for (const to of xVms) edge(from, to, "ALLOWS_TRAFFIC");
  };
  const external = (local: string, remoteId: string) => {
    const key = `external:${remoteId.toLowerCase()}`;
    node(key, "EXTERNAL_NETWORK", null);
    peering(local, key, [], []);
  };
  const reviewTags = (a: number, key: string, region: string): Tags => {
    const roll = rngFor(`review:${seed}:${key}`)();
    const app = APPS[a % APPS.length];
    return {
      ...tagsFor(app, region.startsWith("us") || region.endsWith("us") ? "production" : "staging"),
      reviewSeverity: roll < 0.2 ? "high" : roll < 0.5 ? "medium" : "low",
    };
  };
  node(INTERNET_KEY, "INTERNET", null);

  // --- Azure ---
  const armIn = (a: number, rg: string, type: string, names: readonly string[]) =>
    inAccount(a, armId(rg, type, names));
  const azureNames = (n: PlannedNetwork) => {
    const rg = `rg-net-${n.ordinal}`;
    const vnet = `vnet-${n.ordinal}`;
    return { rg, vnet, vnetId: armIn(n.account, rg, AZ.vnet, [vnet]) };
  };
  const azureNetwork = (n: PlannedNetwork) => {
    const a = n.account;
    const rng = rngFor(`azure-net:${seed}:${n.index}`);
    const { rg, vnet, vnetId } = azureNames(n);
    const region = AZURE_REGIONS[n.index % AZURE_REGIONS.length];
    const tags = tagsFor(APPS[a % APPS.length], "production", { managedBy: "terraform" });
    const base = { rg, region, tags };
    const prefix = `10.${(n.index >> 8) & 255}.${n.index & 255}`;
    const subnets = [
      { name: "snet-web", addressPrefix: `${prefix}.0/25`, nsg: `nsg-${n.ordinal}-web` },
      { name: "snet-app", addressPrefix: `${prefix}.128/25`, nsg: `nsg-${n.ordinal}-app` },
    ];
    const subnetIds = subnets.map((s) => armIn(a, rg, AZ.subnet, [vnet, s.name]));
    const nsgId = (name: string) => armIn(a, rg, AZ.nsg, [name]);
    const jump = `nsg-${n.ordinal}-jump`;
    const remoteHubs = peersOf(a).map((p) => azureNames(hubOf(p)).vnetId);
    const externalId = `/subscriptions/${indexGuid(n.index, 0xe47)}/resourceGroups/rg-partner/providers/${AZ.vnet}/vnet-partner-${a}`;
    const peered =
      n.ordinal === 0
        ? [...spokesOf(a).map((s) => azureNames(s).vnetId), ...remoteHubs, externalId]
        : n.ordinal % 2 === 1
          ? [azureNames(hubOf(a)).vnetId]
          : [];
    const vnetRes = azureVnet({
      ...base,
      name: vnet,
      resourceGuid: guid(rng),
      addressPrefix: `${prefix}.0/24`,
      subnets,
      peeredVnetIds: peered,
      ddosProtection: chance(rng, 0.1),
    });
    const built: DemoResource[] = [vnetRes];
    node(vnetId, "VIRTUAL_NETWORK", a);
    subnets.forEach((s, k) => {
      built.push(
        azureSubnet({
          ...base,
          tags: {},
          name: s.name,
          vnet,
          addressPrefix: s.addressPrefix,
          nsgId: nsgId(s.nsg),
          serviceEndpoints: chance(rng, 0.3) ? ["Microsoft.Storage"] : [],
        }),
      );
      node(subnetIds[k], "SUBNET", a);
      node(nsgId(s.nsg), "NETWORK_SECURITY_GROUP", a);
      edge(vnetId, subnetIds[k], "CONTAINS");
      edge(subnetIds[k], nsgId(s.nsg), "PROTECTED_BY");
    });
    const webRules: NsgRule[] = [
      { name: "AllowHttpsInbound", priority: 100, source: "Internet", port: "443" },
    ];
    if (chance(rng, 0.3))
      webRules.push({ name: "AllowSsh", priority: 300, source: pick(rng, RISKY_SOURCES), port: "22" });
    built.push(
      azureNsg({
        ...base,
        name: subnets[0].nsg,
        resourceGuid: guid(rng),
        rules: webRules,
        subnetIds: [subnetIds[0]],
        nicIds: [],
      }),
      azureNsg({
        ...base,
        name: subnets[1].nsg,
        resourceGuid: guid(rng),
        rules: [{ name: "AllowSqlFromVnet", priority: 100, source: "VirtualNetwork", port: "1433" }],
        subnetIds: [subnetIds[1]],
        nicIds: [],
      }),
    );
    const vms: string[] = [];
    for (let i = 0; i < n.vms; i++) {
      const names = {
        nic: `nic-${n.ordinal}-${i}`,
        vm: `vm-${n.ordinal}-${i}`,
        pip: `pip-${n.ordinal}-${i}`,
      };
      const nicId = armIn(a, rg, AZ.nic, [names.nic]);
      const vmId = armIn(a, rg, AZ.vm, [names.vm]);
      const pipId = i % 4 === 0 ? armIn(a, rg, AZ.pip, [names.pip]) : null;
      const subnet = i % 2;
      if (pipId)
        built.push(
          azurePublicIp({
            ...base,
            name: names.pip,
            ipAddress: `198.51.100.${(n.index * 4 + i / 4) % 250}`,
            staticAllocation: chance(rng, 0.5),
            ipConfigurationId: `${nicId}/ipConfigurations/ipconfig1`,
            dnsLabel: null,
          }),
        );
      built.push(
        azureNic({
          ...base,
          name: names.nic,
          subnetId: subnetIds[subnet],
          privateIp: `${prefix}.${subnet * 128 + 4 + i}`,
          publicIpId: pipId,
          nsgId: i === 0 ? nsgId(jump) : null,
          virtualMachineId: vmId,
          acceleratedNetworking: chance(rng, 0.7),
          macAddress: macAddress(rng),
        }),
        azureVm({
          ...base,
          tags: reviewTags(a, vmId, region),
          name: names.vm,
          vmId: guid(rng),
          image: pick(rng, IMAGE_KEYS),
          size: pick(rng, VM_SIZES),
          nicId,
          created: daysAgo(between(rng, 1, 1500)),
          diskEncryption: chance(rng, 0.7),
          encryptionAtHost: chance(rng, 0.5),
          trustedLaunch: chance(rng, 0.7),
          passwordAuthentication: chance(rng, 0.2),
          automaticUpdates: chance(rng, 0.7),
          bootDiagnostics: chance(rng, 0.7),
          running: chance(rng, 0.9),
          dataDisks: between(rng, 0, 2),
          agents: vmAgents(`${a}:${names.vm}`, 0.7),
        }),
      );
      node(nicId, "NETWORK_INTERFACE", a);
      node(vmId, "VIRTUAL_MACHINE", a);
      edge(subnetIds[subnet], nicId, "CONTAINS");
      edge(nicId, vmId, "ATTACHED_TO");
      if (pipId) {
        node(pipId, "PUBLIC_IP", a);
        edge(pipId, nicId, "ASSOCIATED_WITH");
        // Both NSGs on its path (the web subnet's; the jump NSG on the first NIC) open 443 to the internet.
        edge(INTERNET_KEY, vmId, "ALLOWS_TRAFFIC");
      }
      if (i === 0) edge(nicId, nsgId(jump), "PROTECTED_BY");
      vms.push(vmId);
    }
    built.push(
      azureNsg({
        ...base,
        name: jump,
        resourceGuid: guid(rng),
        rules: [
          { name: "AllowHttpsInbound", priority: 100, source: "Internet", port: "443" },
          { name: "AllowSshFromOffice", priority: 110, source: OFFICE_CIDR, port: "22" },
        ],
        subnetIds: [],
        nicIds: [armIn(a, rg, AZ.nic, [`nic-${n.ordinal}-0`])],
      }),
    );
    node(nsgId(jump), "NETWORK_SECURITY_GROUP", a);
    emit(a, built);
    trafficWithin(vms);
    vmKeys.set(n.index, vms);
    if (n.ordinal === 0) external(vnetId, externalId);
  };

  // --- AWS ---
  const awsIds = (n: PlannedNetwork) => ({
    vpc: indexAwsId("vpc", n.index),
    subnets: [indexAwsId("subnet", n.index * 2), indexAwsId("subnet", n.index * 2 + 1)],
    groups: [indexAwsId("sg", n.index * 2), indexAwsId("sg", n.index * 2 + 1)],
    instance: (i: number) => indexAwsId("i", n.index * 64 + i),
    region: AWS_REGIONS[n.index % AWS_REGIONS.length],
  });
  const arnIn = (a: number, region: string, resource: string) => inAccount(a, arn("ec2", region, resource));
  const elasticIp = (
    a: number,
    region: string,
    allocation: string,
    address: string,
    instanceId: string,
    owner: string,
    privateIp: string,
  ): DemoResource =>
    awsResource(
      "AWS::EC2::EIP",
      arn("ec2", region, `elastic-ip/${allocation}`),
      allocation,
      region,
      {},
      {
        AllocationId: allocation,
        AssociationId: allocation.replace("eipalloc", "eipassoc"),
        PublicIp: address,
        Domain: "vpc",
        InstanceId: instanceId,
        NetworkInterfaceOwnerId: owner,
        PrivateIpAddress: privateIp,
        PublicIpv4Pool: "amazon",
        NetworkBorderGroup: region,
      },
    );
  const connection = (
    region: string,
    id: string,
    requester: { vpc: string; owner: string; cidr: string },
    accepter: { vpc: string; owner: string; cidr: string | null },
  ): DemoResource =>
    awsResource(
      "AWS::EC2::VPCPeeringConnection",
      arn("ec2", region, `vpc-peering-connection/${id}`),
      id,
      region,
      {},
      {
        VpcPeeringConnectionId: id,
        RequesterVpcInfo: {
          VpcId: requester.vpc,
          OwnerId: requester.owner,
          CidrBlock: requester.cidr,
          Region: region,
        },
        AccepterVpcInfo: {
          VpcId: accepter.vpc,
          OwnerId: accepter.owner,
          ...(accepter.cidr ? { CidrBlock: accepter.cidr } : {}),
          Region: region,
        },
        Status: { Code: "active", Message: "Active" },
      },
    );
  const awsNetwork = (n: PlannedNetwork) => {
    const a = n.account;
    const rng = rngFor(`aws-net:${seed}:${n.index}`);
    const ids = awsIds(n);
    const region = ids.region;
    const prefix = `10.${(n.index >> 8) & 255}.${n.index & 255}`;
    const tagsNamed = (name: string) => ({ Name: name, ...tagsFor(APPS[a % APPS.length], "production") });
    const key = (resource: string) => arnIn(a, region, resource);
    const vpcKey = key(`vpc/${ids.vpc}`);
    const built: DemoResource[] = [
      vpc({
        vpcId: ids.vpc,
        name: `vpc-${n.ordinal}`,
        region,
        tags: tagsNamed(`vpc-${n.ordinal}`),
        cidr: `${prefix}.0/24`,
        flowLogId: chance(rng, 0.7) ? indexAwsId("fl", n.index) : null,
      }),
    ];
    node(vpcKey, "VIRTUAL_NETWORK", a);
    const subnetKeys = ids.subnets.map((id) => key(`subnet/${id}`));
    const groupKeys = ids.groups.map((id) => key(`security-group/${id}`));
    ids.subnets.forEach((subnetId, k) => {
      built.push(
        awsSubnet({
          subnetId,
          name: `subnet-${n.ordinal}-${k ? "app" : "web"}`,
          region,
          availabilityZone: `${region}${k ? "b" : "a"}`,
          tags: tagsNamed(`subnet-${n.ordinal}-${k ? "app" : "web"}`),
          vpcId: ids.vpc,
          cidr: `${prefix}.${k * 128}/25`,
          mapPublicIp: k === 0,
          availableIps: between(rng, 50, 120),
        }),
      );
      node(subnetKeys[k], "SUBNET", a);
      node(groupKeys[k], "NETWORK_SECURITY_GROUP", a);
      edge(vpcKey, subnetKeys[k], "CONTAINS");
    });
    const webRules: SgRule[] = [
      { from: 443, cidrs: ["0.0.0.0/0"] },
      { from: 22, cidrs: ["10.0.0.0/8"] },
    ];
    if (chance(rng, 0.3)) webRules.push({ from: 22, cidrs: ["0.0.0.0/0"] });
    built.push(
      securityGroup({
        groupId: ids.groups[0],
        name: `sg-${n.ordinal}-web`,
        description: "web tier",
        region,
        vpcId: ids.vpc,
        tags: tagsNamed(`sg-${n.ordinal}-web`),
        rules: webRules,
      }),
      securityGroup({
        groupId: ids.groups[1],
        name: `sg-${n.ordinal}-app`,
        description: "app tier",
        region,
        vpcId: ids.vpc,
        tags: tagsNamed(`sg-${n.ordinal}-app`),
        rules: [
          { from: 5432, groups: [ids.groups[0]] },
          { from: 22, cidrs: ["10.0.0.0/8"] },
        ],
      }),
    );
    // The hub's instance 2 has an elastic IP of each account whose peering connection it accepts.
    const foreignEips = n.ordinal === 0 ? peers.filter(([, y]) => y === a).length : 0;
    const vms: string[] = [];
    for (let i = 0; i < n.vms; i++) {
      const tier = i % 2;
      const instanceId = ids.instance(i);
      const instanceKey = key(`instance/${instanceId}`);
      const privateIp = `${prefix}.${tier * 128 + 4 + i}`;
      const publicIp = i % 4 === 0 ? `192.0.2.${(n.index * 4 + i / 4) % 250}` : null;
      built.push(
        ec2Instance({
          name: `i-${n.ordinal}-${i}`,
          region,
          availabilityZone: `${region}${tier ? "b" : "a"}`,
          tags: { Name: `i-${n.ordinal}-${i}`, ...reviewTags(a, instanceKey, region) },
          instanceId,
          instanceType: pick(rng, EC2_TYPES),
          imageId: `ami-0${hex8(mix32(n.index))}${hex8(mix32(i))}`,
          windows: chance(rng, 0.15),
          arm: false,
          privateIp,
          publicIp,
          subnetId: ids.subnets[tier],
          vpcId: ids.vpc,
          securityGroups: [
            { GroupId: ids.groups[tier], GroupName: `sg-${n.ordinal}-${tier ? "app" : "web"}` },
          ],
          instanceProfile: null,
          imdsV2Required: chance(rng, 0.7),
          keyName: chance(rng, 0.4) ? "synth-keypair" : null,
          launchTime: daysAgo(between(rng, 0, 900)),
          detailedMonitoring: chance(rng, 0.3),
          running: chance(rng, 0.9),
          volumeId: indexAwsId("vol", n.index * 64 + i),
        }),
      );
      node(instanceKey, "VIRTUAL_MACHINE", a);
      edge(subnetKeys[tier], instanceKey, "CONTAINS");
      edge(instanceKey, groupKeys[tier], "PROTECTED_BY");
      let exposed = publicIp !== null;
      if (ownEip(i)) {
        const allocation = indexAwsId("eipalloc", n.index * 64 + i);
        built.push(
          elasticIp(
            a,
            region,
            allocation,
            `203.0.113.${(n.index + i) % 250}`,
            instanceId,
            AWS_ACCOUNT_ID,
            privateIp,
          ),
        );
        node(key(`elastic-ip/${allocation}`), "PUBLIC_IP", a);
        edge(key(`elastic-ip/${allocation}`), instanceKey, "ASSOCIATED_WITH");
        exposed = true;
      }
      if (i === 2 && foreignEips > 0) exposed = true;
      // Only web-tier (even) instances have public addresses; their group opens 443 to the internet.
      if (exposed) edge(INTERNET_KEY, instanceKey, "ALLOWS_TRAFFIC");
      vms.push(instanceKey);
    }
    if (n.ordinal % 2 === 1) {
      const hub = hubOf(a);
      const id = indexAwsId("pcx", n.index * 4);
      built.push(
        connection(
          region,
          id,
          { vpc: ids.vpc, owner: AWS_ACCOUNT_ID, cidr: `${prefix}.0/24` },
          { vpc: awsIds(hub).vpc, owner: AWS_ACCOUNT_ID, cidr: null },
        ),
      );
    }
    if (n.ordinal === 0) {
      const partner = indexAwsId("vpc", 0x800000 + n.index);
      built.push(
        connection(
          region,
          indexAwsId("pcx", n.index * 4 + 1),
          { vpc: ids.vpc, owner: AWS_ACCOUNT_ID, cidr: `${prefix}.0/24` },
          { vpc: partner, owner: "999999999999", cidr: "172.16.0.0/24" },
        ),
      );
      external(vpcKey, partner);
      peers
        .filter(([x]) => x === a)
        .forEach(([, y], k) => {
          const other = hubOf(y);
          const theirs = awsIds(other);
          const owner = accounts[y].externalId;
          built.push(
            connection(
              region,
              indexAwsId("pcx", n.index * 4 + 2 + k),
              { vpc: ids.vpc, owner: AWS_ACCOUNT_ID, cidr: `${prefix}.0/24` },
              { vpc: theirs.vpc, owner, cidr: null },
            ),
          );
          const allocation = indexAwsId("eipalloc", n.index * 64 + 62 - k);
          const otherPrefix = `10.${(other.index >> 8) & 255}.${other.index & 255}`;
          built.push(
            elasticIp(
              a,
              region,
              allocation,
              `203.0.113.${(other.index * 7 + k) % 250}`,
              theirs.instance(2),
              owner,
              `${otherPrefix}.6`,
            ),
          );
          const eipKey = key(`elastic-ip/${allocation}`);
          node(eipKey, "PUBLIC_IP", a);
          edge(eipKey, arnIn(y, theirs.region, `instance/${theirs.instance(2)}`), "ASSOCIATED_WITH");
        });
    }
    emit(a, built);
    trafficWithin(vms);
    vmKeys.set(n.index, vms);
  };

  for (const n of networks) (n.account < azureCount ? azureNetwork : awsNetwork)(n);

  // Peerings: odd spokes with their hub, hubs across accounts (both ways, with their VMs' traffic).
  const networkKey = (n: PlannedNetwork) =>
    n.account < azureCount
      ? azureNames(n).vnetId
      : arnIn(n.account, awsIds(n).region, `vpc/${awsIds(n).vpc}`);
  const connect = (x: PlannedNetwork, y: PlannedNetwork) =>
    peering(networkKey(x), networkKey(y), vmKeys.get(x.index) ?? [], vmKeys.get(y.index) ?? []);
  for (const n of networks) if (n.ordinal % 2 === 1) connect(n, hubOf(n.account));
  for (const [x, y] of peers) connect(hubOf(x), hubOf(y));
  return { accounts, resources, nodes, edges };
}

/**
 * The planted map as `networkMap(accountId:)` must show it: the rule `accountView` (network-topology.ts) documents,
 * applied to the generator's graph rather than to a topology built from the resources — the account's nodes, the
 * internet, every node one edge from its own and the subnets/NICs/networks that place those (CONTAINS and
 * ATTACHED_TO walked up); the edges between them, without peerings or traffic that involve none of its nodes
 * (the internet's traffic stays).
 */
export function plantedAccountView(
  estate: Pick<NetworkEstate, "nodes" | "edges">,
  account: number,
): { nodes: PlantedNode[]; edges: PlantedEdge[] } {
  return plantedViewAround(
    estate,
    new Set(estate.nodes.filter((n) => n.account === account).map((n) => n.key)),
  );
}

/**
 * One network's map (`networkMap(networkId:)`) as the estate plants it: its own nodes are the network and what its
 * placing edges lead to (subnets, NICs or instances, VMs, NSGs or groups, public IPs), the view around them as for
 * an account.
 */
export function plantedNetworkView(
  estate: Pick<NetworkEstate, "nodes" | "edges">,
  network: string,
): { nodes: PlantedNode[]; edges: PlantedEdge[] } {
  const networks = new Set(
    estate.nodes
      .filter((n) => n.kind === "VIRTUAL_NETWORK" || n.kind === "EXTERNAL_NETWORK")
      .map((n) => n.key),
  );
  const own = new Set([network]);
  for (let grew = true; grew;) {
    grew = false;
    for (const e of estate.edges) {
      // A subnet, NIC or instance from what contains it, a VM from its NIC, a group from what it protects, a
      // public IP from what it is associated with; a network only from itself.
      const [giver, taker] = e.kind === "ASSOCIATED_WITH" ? [e.to, e.from] : [e.from, e.to];
      if (e.kind === "PEERED_WITH" || e.kind === "ALLOWS_TRAFFIC" || networks.has(taker)) continue;
      if (own.has(giver) && !own.has(taker)) {
        own.add(taker);
        grew = true;
      }
    }
  }
  return plantedViewAround(estate, own);
}

/** The view around some own nodes of a planted map: see {@link plantedAccountView}. */
function plantedViewAround(
  estate: Pick<NetworkEstate, "nodes" | "edges">,
  own: ReadonlySet<string>,
): { nodes: PlantedNode[]; edges: PlantedEdge[] } {
  const shown = new Set([INTERNET_KEY, ...own]);
  for (const e of estate.edges)
    if (own.has(e.from) || own.has(e.to)) {
      shown.add(e.from);
      shown.add(e.to);
    }
  const parents = new Map<string, string[]>();
  for (const e of estate.edges)
    if (e.kind === "CONTAINS" || e.kind === "ATTACHED_TO")
      parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
  const queue = [...shown];
  while (queue.length > 0)
    for (const parent of parents.get(queue.pop()!) ?? [])
      if (!shown.has(parent)) {
        shown.add(parent);
        queue.push(parent);
      }
  const link = (e: PlantedEdge) => e.kind === "PEERED_WITH" || e.kind === "ALLOWS_TRAFFIC";
  return {
    nodes: estate.nodes.filter((n) => shown.has(n.key)),
    edges: estate.edges.filter(
      (e) =>
        shown.has(e.from) &&
        shown.has(e.to) &&
        (!link(e) || own.has(e.from) || own.has(e.to) || e.from === INTERNET_KEY),
    ),
  };
}

/** The internet's node key in a planted map. */
const INTERNET_KEY = "internet";
