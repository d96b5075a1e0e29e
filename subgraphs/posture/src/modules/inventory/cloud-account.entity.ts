import { Directive, Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from "typeorm";

/** Where an account lives. */
export enum CloudProvider {
  AZURE = "AZURE",
  AWS = "AWS",
  GCP = "GCP",
  ON_PREMISES = "ON_PREMISES",
}

registerEnumType(CloudProvider, {
  name: "CloudProvider",
  description: "The cloud (or on-premises site) an account belongs to.",
});

/** An Azure subscription, AWS account, GCP project or on-premises site. */
@Entity({ name: "cloud_accounts" })
@ObjectType({
  description: "An Azure subscription, AWS account, GCP project or on-premises site under protection.",
})
@Directive('@key(fields: "id")')
export class CloudAccount {
  @PrimaryColumn("uuid")
  @Field(() => ID, { description: "Rampart's id of the account." })
  id: string;

  @Column({ name: "tenant_id" })
  tenantId: string;

  @Column({ type: "text" })
  @Field(() => CloudProvider, { description: "The provider of the account." })
  provider: CloudProvider;

  @Column({ name: "external_id" })
  @Field({
    description: "The provider's id: subscription id, 12-digit AWS account id, GCP project id or site name.",
  })
  externalId: string;

  @Column()
  @Field({ description: "Display name." })
  name: string;

  @Column({ name: "onboarded_at", type: "timestamptz" })
  @Field({ description: "When the account was first onboarded." })
  onboardedAt: Date;

  @CreateDateColumn({ name: "created_at", type: "timestamptz" })
  createdAt: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz" })
  @Field({ description: "When the account's details last changed." })
  updatedAt: Date;
}
