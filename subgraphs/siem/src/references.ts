import { requireReader, type ReferenceResolvers } from "../../common/src";
import { Directive, Field, ID, ObjectType } from "type-graphql";
import type { SiemContext } from "./context";

/**
 * Posture's CloudAccount, as the SIEM extends it (with `incidentSummary`). Which resources belong to the
 * account the SIEM reads from its own mirror (`resource_accounts`, kept by posture's relay), so the reference
 * needs only the id.
 */
@ObjectType("CloudAccount", {
  description: "An Azure subscription, AWS account, GCP project or on-premises site under protection.",
})
@Directive('@key(fields: "id")')
export class CloudAccountRef {
  @Field(() => ID, { description: "Rampart's id of the account." })
  id: string;
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
