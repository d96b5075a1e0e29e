import { Directive, Field, FieldResolver, ID, ObjectType, Resolver, Root, Ctx } from "type-graphql";
import type { PostureContext } from "../../context";
import { Resource } from "./resource.entity";

/** The SIEM's SecurityAlert, as posture extends it with the affected resource. */
@ObjectType("SecurityAlert", { description: "A security alert from any provider (owned by the SIEM)." })
@Directive('@key(fields: "id")')
export class SecurityAlertRef {
  @Field(() => ID, { description: "Rampart's id of the alert." })
  id: string;

  @Directive("@external")
  @Field(() => ID, {
    nullable: true,
    description: "Rampart's id of the affected resource, when the provider gave it.",
  })
  resourceId: string | null;

  @Directive("@external")
  @Field(() => String, {
    nullable: true,
    description: "The provider's id of the affected resource (ARM id / ARN).",
  })
  resourceExternalId: string | null;
}

@Resolver(() => SecurityAlertRef)
export class AlertResourceResolver {
  @Directive('@requires(fields: "resourceId resourceExternalId")')
  @FieldResolver(() => Resource, {
    nullable: true,
    description:
      "The affected resource, when the alert names one the inventory knows: by id, or by its ARM id / ARN as written, else one differing only in letter case (the first seen).",
  })
  async resource(@Root() alert: SecurityAlertRef, @Ctx() ctx: PostureContext): Promise<Resource | null> {
    if (alert.resourceId) {
      const byId = await ctx.loaders.resource.load(alert.resourceId);
      if (byId) return byId;
    }
    return alert.resourceExternalId ? ctx.loaders.resourceByExternalId.load(alert.resourceExternalId) : null;
  }
}
