import { requireReader, type ReferenceResolvers } from "../../common/src";
import { Directive, Field, ID, ObjectType } from "type-graphql";
import type { SiemContext } from "./context";

/** Posture's Resource, as the SIEM extends it (with `alerts` and `incidents`). */
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
