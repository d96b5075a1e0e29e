import { Field, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";

/** The workload-protection plans (Defender plans), each covering one kind of workload. */
export enum PlanType {
  SERVERS = "SERVERS",
  APP_SERVICE = "APP_SERVICE",
  STORAGE = "STORAGE",
  SQL = "SQL",
  KEY_VAULT = "KEY_VAULT",
  RESOURCE_MANAGER = "RESOURCE_MANAGER",
  DNS = "DNS",
  KUBERNETES = "KUBERNETES",
  CONTAINER_REGISTRY = "CONTAINER_REGISTRY",
}

/** Pricing tier: STANDARD turns protection on for every resource of the plan's kind in the account. */
export enum PlanTier {
  FREE = "FREE",
  STANDARD = "STANDARD",
}

registerEnumType(PlanType, {
  name: "PlanType",
  description: "A workload-protection plan; each covers one kind of workload.",
});
registerEnumType(PlanTier, {
  name: "PlanTier",
  description: "`STANDARD` enables protection; `FREE` leaves posture only.",
});

/** A plan's tier in one account. */
@Entity({ name: "plans" })
@ObjectType({ description: "A workload-protection plan's tier in one account." })
export class Plan {
  @PrimaryColumn("uuid")
  id: string;

  @Column({ name: "tenant_id" })
  tenantId: string;

  @Column({ name: "account_id", type: "uuid" })
  accountId: string;

  @Column({ name: "plan_type", type: "text" })
  @Field(() => PlanType, { description: "Which plan." })
  planType: PlanType;

  @Column({ type: "text" })
  @Field(() => PlanTier, { description: "Its tier in this account." })
  tier: PlanTier;

  @Column({ name: "updated_by", type: "text", nullable: true })
  @Field(() => String, {
    nullable: true,
    description: "Who last changed the tier (null for the default FREE tier).",
  })
  updatedBy: string | null;

  @Column({ name: "updated_at", type: "timestamptz", nullable: true })
  @Field(() => Date, {
    nullable: true,
    description: "When the tier last changed (null for the default FREE tier).",
  })
  updatedAt: Date | null;
}
