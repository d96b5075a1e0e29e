import { requireReader, type ReferenceResolvers } from "../../common/src";
import { Directive, Field, ID, ObjectType } from "type-graphql";
import type { SiemContext } from "./context";

/**
 * Posture's CloudAccount, as the SIEM extends it (with `incidentSummary`). Which resources belong to the
 * account is posture's: the SIEM `@requires` their ids and provider ids (posture's inaccessible
 * `resourceIds` / `resourceExternalIds`, never in the public API) and finds their alerts as `Resource.alerts` does.
 */
@ObjectType("CloudAccount", {
  description: "An Azure subscription, AWS account, GCP project or on-premises site under protection.",
})
@Directive('@key(fields: "id")')
export class CloudAccountRef {
  @Field(() => ID, { description: "Rampart's id of the account." })
  id: string;

  @Directive("@external")
  @Field(() => [ID], { description: "Rampart's ids of all the account's resources (owned by posture)." })
  resourceIds?: string[];

  @Directive("@external")
  @Field(() => [String], {
    description: "The provider ids of all the account's resources (owned by posture).",
  })
  resourceExternalIds?: string[];
}

/** Posture's Resource, as the SIEM extends it (with `alerts`, `incidents` and `recentEvents`). */
@ObjectType("Resource", {
  description: "Anything that can be assessed or protected: a VM, storage account, key vault, identity…",
})
@Directive('@key(fields: "id")')
export class ResourceRef {
  @Field(() => ID, { description: "Rampart's id of the resource." })
  id: string;

  @Directive("@external")
  @Field(() => String, {
    description: "The provider's id: ARM id, ARN or GCP resource name (owned by posture).",
  })
  externalId?: string;
}

/** References resolve through the request's DataLoaders. */
export const siemReferences: ReferenceResolvers = {
  CloudAccount: {
    __resolveReference: (ref: { id: string }, ctx: SiemContext) => {
      requireReader(ctx);
      return Object.assign(new CloudAccountRef(), ref);
    },
  },
  Resource: {
    __resolveReference: (ref: { id: string }, ctx: SiemContext) => {
      requireReader(ctx);
      return Object.assign(new ResourceRef(), ref);
    },
  },
  SecurityAlert: {
    __resolveReference: (ref: { id: string }, ctx: SiemContext) => {
      requireReader(ctx);
      return ctx.services.alerts.byId.load(ref.id);
    },
  },
  Incident: {
    __resolveReference: (ref: { id: string }, ctx: SiemContext) => {
      requireReader(ctx);
      return ctx.services.incidents.byId.load(ref.id);
    },
  },
};
