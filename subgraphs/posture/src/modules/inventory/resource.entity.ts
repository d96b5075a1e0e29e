import { JSONObjectScalar, ResourceKind } from "../../../../common/src";
import { Directive, Field, ID, ObjectType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";
import { CloudProvider } from "./cloud-account.entity";

/** Anything that can be assessed or protected. */
@Entity({ name: "resources" })
@ObjectType({
  description: "Anything that can be assessed or protected: a VM, storage account, key vault, identity…",
})
@Directive('@key(fields: "id")')
export class Resource {
  @PrimaryColumn("uuid")
  @Field(() => ID, { description: "Rampart's id of the resource." })
  id: string;

  @Column({ name: "tenant_id" })
  tenantId: string;

  @Column({ name: "account_id", type: "uuid" })
  accountId: string;

  @Column({ type: "text" })
  @Field(() => CloudProvider, { description: "The provider of the resource's account." })
  provider: CloudProvider;

  @Column()
  @Field({
    description:
      "Provider-native type: ARM type (`Microsoft.Compute/virtualMachines`), CloudFormation type (`AWS::EC2::Instance`) or GCP asset type.",
  })
  type: string;

  @Column({ type: "text" })
  @Field(() => ResourceKind, { description: "Provider-neutral kind derived from `type`." })
  kind: ResourceKind;

  @Column({ name: "external_id" })
  @Field({ description: "The provider's id: ARM id, ARN or GCP resource name. Unique within the tenant." })
  externalId: string;

  @Column()
  @Field({ description: "Display name." })
  name: string;

  @Column({ type: "text", nullable: true })
  @Field(() => String, { nullable: true, description: "Region (location), when the resource has one." })
  region: string | null;

  @Column({ name: "resource_group", type: "text", nullable: true })
  @Field(() => String, {
    nullable: true,
    description: "Azure resource group (or equivalent grouping), when any.",
  })
  resourceGroup: string | null;

  @Column({ type: "jsonb" })
  @Field(() => JSONObjectScalar, { description: "Tags as a JSON object of string values." })
  tags: Record<string, string>;

  @Column({ type: "jsonb" })
  @Field(() => JSONObjectScalar, { description: "The configuration properties the provider reports (JSON)." })
  properties: Record<string, unknown>;

  @Column({ name: "first_seen", type: "timestamptz", precision: 3 })
  @Field({ description: "When the resource first arrived in the inventory." })
  firstSeen: Date;

  @Column({ name: "last_seen", type: "timestamptz", precision: 3 })
  @Field({ description: "When an inventory upsert last reported the resource." })
  lastSeen: Date;

  @Column({ name: "updated_at", type: "timestamptz" })
  @Field({ description: "When the resource's reported configuration last changed." })
  updatedAt: Date;
}
