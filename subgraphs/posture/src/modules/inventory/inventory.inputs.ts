import { JSONObjectScalar, OrderDirection, ResourceKind } from "../../../../common/src";
import { Field, ID, InputType, registerEnumType } from "type-graphql";
import { CloudProvider } from "./cloud-account.entity";

/** One account to create or update, keyed on (provider, externalId). */
@InputType({ description: "An account to create or update; idempotent on (provider, externalId)." })
export class CloudAccountInput {
  @Field(() => CloudProvider, { description: "The account's provider." })
  provider: CloudProvider;

  @Field({ description: "The provider's id of the account." })
  externalId: string;

  @Field({ description: "Display name." })
  name: string;
}

/** One resource to create or update, keyed on its external id. */
@InputType({ description: "A resource to create or update; idempotent on `externalId` within the tenant." })
export class ResourceInput {
  @Field(() => ID, { description: "The account the resource belongs to (from `upsertCloudAccounts`)." })
  accountId: string;

  @Field({ description: "The provider's id (ARM id, ARN, GCP resource name)." })
  externalId: string;

  @Field({
    description: "Provider-native type, e.g. `Microsoft.Storage/storageAccounts` or `AWS::S3::Bucket`.",
  })
  type: string;

  @Field({ description: "Display name." })
  name: string;

  @Field(() => String, { nullable: true, description: "Region (location)." })
  region?: string | null;

  @Field(() => String, { nullable: true, description: "Resource group or equivalent." })
  resourceGroup?: string | null;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description: "Tags: a JSON object of string values (at most 50).",
  })
  tags?: Record<string, unknown> | null;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description: "Configuration properties as the provider reports them.",
  })
  properties?: Record<string, unknown> | null;
}

/** A tag a resource must carry (and, optionally, its value). */
@InputType({ description: "A tag a resource must carry; with `value`, the tag must have that value." })
export class TagFilter {
  @Field({ description: "Tag name." })
  key: string;

  @Field(() => String, { nullable: true, description: "Tag value; any value when omitted." })
  value?: string | null;
}

/** Flat filter over the inventory; all given conditions must hold. */
@InputType({ description: "Filters resources; every given condition must hold." })
export class ResourceFilter {
  @Field(() => ID, { nullable: true, description: "Only resources of this account." })
  accountId?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: "Only these provider-native types (case-insensitive).",
  })
  types?: string[] | null;

  @Field(() => [ResourceKind], { nullable: true, description: "Only these kinds." })
  kinds?: ResourceKind[] | null;

  @Field(() => [String], { nullable: true, description: "Only these regions." })
  regions?: string[] | null;

  @Field(() => String, {
    nullable: true,
    description: "Name or external id contains this text (case-insensitive).",
  })
  search?: string | null;

  @Field(() => TagFilter, { nullable: true, description: "Only resources carrying this tag." })
  tag?: TagFilter | null;
}

/** Fields resources can be ordered by. */
export enum ResourceOrderField {
  NAME = "NAME",
  TYPE = "TYPE",
  FIRST_SEEN = "FIRST_SEEN",
  LAST_SEEN = "LAST_SEEN",
}

registerEnumType(ResourceOrderField, {
  name: "ResourceOrderField",
  description: "Fields resources can be ordered by.",
});

/** Ordering of the resources list. */
@InputType({ description: "Ordering of a resource list." })
export class ResourceOrder {
  @Field(() => ResourceOrderField, { description: "The field to order by." })
  field: ResourceOrderField;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC, description: "Direction." })
  direction: OrderDirection;
}
