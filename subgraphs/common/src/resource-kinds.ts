import { registerEnumType } from "type-graphql";

/** Provider-neutral kind of a resource, derived from its provider-native type. */
export enum ResourceKind {
  VIRTUAL_MACHINE = "VIRTUAL_MACHINE",
  STORAGE_ACCOUNT = "STORAGE_ACCOUNT",
  SQL_SERVER = "SQL_SERVER",
  SQL_DATABASE = "SQL_DATABASE",
  KEY_VAULT = "KEY_VAULT",
  APP_SERVICE = "APP_SERVICE",
  KUBERNETES_CLUSTER = "KUBERNETES_CLUSTER",
  CONTAINER_REGISTRY = "CONTAINER_REGISTRY",
  DNS_ZONE = "DNS_ZONE",
  NETWORK_SECURITY_GROUP = "NETWORK_SECURITY_GROUP",
  VIRTUAL_NETWORK = "VIRTUAL_NETWORK",
  SUBNET = "SUBNET",
  PUBLIC_IP = "PUBLIC_IP",
  NETWORK_INTERFACE = "NETWORK_INTERFACE",
  IDENTITY = "IDENTITY",
  OTHER = "OTHER",
}

registerEnumType(ResourceKind, {
  name: "ResourceKind",
  description: "Provider-neutral kind of a resource, derived from its provider-native `type`.",
});

/**
 * Provider-native types (ARM resource types, CloudFormation types, GCP asset types), lower-cased,
 * by kind. Shared code, not shared data: every subgraph that needs a kind derives it the same way.
 */
const TYPES: Record<Exclude<ResourceKind, ResourceKind.OTHER>, string[]> = {
  [ResourceKind.VIRTUAL_MACHINE]: [
    "microsoft.compute/virtualmachines",
    "microsoft.compute/virtualmachinescalesets",
    "microsoft.hybridcompute/machines",
    "aws::ec2::instance",
    "compute.googleapis.com/instance",
  ],
  [ResourceKind.STORAGE_ACCOUNT]: [
    "microsoft.storage/storageaccounts",
    "aws::s3::bucket",
    "storage.googleapis.com/bucket",
  ],
  [ResourceKind.SQL_SERVER]: [
    "microsoft.sql/servers",
    "microsoft.dbforpostgresql/flexibleservers",
    "aws::rds::dbcluster",
  ],
  [ResourceKind.SQL_DATABASE]: [
    "microsoft.sql/servers/databases",
    "aws::rds::dbinstance",
    "sqladmin.googleapis.com/instance",
  ],
  [ResourceKind.KEY_VAULT]: [
    "microsoft.keyvault/vaults",
    "aws::kms::key",
    "aws::secretsmanager::secret",
    "cloudkms.googleapis.com/keyring",
    "cloudkms.googleapis.com/cryptokey",
  ],
  [ResourceKind.APP_SERVICE]: [
    "microsoft.web/sites",
    "aws::lambda::function",
    "aws::elasticbeanstalk::environment",
    "run.googleapis.com/service",
  ],
  [ResourceKind.KUBERNETES_CLUSTER]: [
    "microsoft.containerservice/managedclusters",
    "aws::eks::cluster",
    "container.googleapis.com/cluster",
  ],
  [ResourceKind.CONTAINER_REGISTRY]: [
    "microsoft.containerregistry/registries",
    "aws::ecr::repository",
    "artifactregistry.googleapis.com/repository",
  ],
  [ResourceKind.DNS_ZONE]: [
    "microsoft.network/dnszones",
    "aws::route53::hostedzone",
    "dns.googleapis.com/managedzone",
  ],
  [ResourceKind.NETWORK_SECURITY_GROUP]: [
    "microsoft.network/networksecuritygroups",
    "aws::ec2::securitygroup",
    "compute.googleapis.com/firewall",
  ],
  [ResourceKind.VIRTUAL_NETWORK]: [
    "microsoft.network/virtualnetworks",
    "aws::ec2::vpc",
    "compute.googleapis.com/network",
  ],
  [ResourceKind.SUBNET]: [
    "microsoft.network/virtualnetworks/subnets",
    "aws::ec2::subnet",
    "compute.googleapis.com/subnetwork",
  ],
  [ResourceKind.PUBLIC_IP]: [
    "microsoft.network/publicipaddresses",
    "aws::ec2::eip",
    "compute.googleapis.com/address",
  ],
  [ResourceKind.NETWORK_INTERFACE]: ["microsoft.network/networkinterfaces", "aws::ec2::networkinterface"],
  [ResourceKind.IDENTITY]: [
    "microsoft.aad/users",
    "microsoft.managedidentity/userassignedidentities",
    "aws::iam::user",
    "aws::iam::role",
    "iam.googleapis.com/serviceaccount",
  ],
};

const KIND_BY_TYPE = new Map<string, ResourceKind>(
  Object.entries(TYPES).flatMap(([kind, types]) => types.map((t) => [t, kind as ResourceKind] as const)),
);

/** The kind of a provider-native resource type (`OTHER` when unknown). */
export function resourceKindOf(type: string): ResourceKind {
  return KIND_BY_TYPE.get(type.toLowerCase()) ?? ResourceKind.OTHER;
}

/** Every known provider-native type of a kind (used to filter by kind). */
export function typesOfKind(kind: ResourceKind): string[] {
  return kind === ResourceKind.OTHER ? [] : TYPES[kind];
}
