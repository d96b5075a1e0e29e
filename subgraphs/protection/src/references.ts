import { requireReader, type ReferenceResolvers } from "../../common/src";
import { Directive, Field, ID, ObjectType } from "type-graphql";
import type { ProtectionContext } from "./context";
import { ExposureRef } from "./modules/hardening/exposure.ref";

/** Posture's CloudAccount, as protection extends it (with `plans`). */
@ObjectType("CloudAccount", {
  description: "An Azure subscription, AWS account, GCP project or on-premises site under protection.",
})
@Directive('@key(fields: "id")')
export class CloudAccountRef {
  @Field(() => ID, { description: "Rampart's id of the account." })
  id: string;
}

/** Posture's Resource, as protection extends it (with `coverage`); `type` and `account` come from posture. */
@ObjectType("Resource", {
  description: "Anything that can be assessed or protected: a VM, storage account, key vault, identity…",
})
@Directive('@key(fields: "id")')
export class ResourceRef {
  @Field(() => ID, { description: "Rampart's id of the resource." })
  id: string;

  @Directive("@external")
  @Field({ description: "Provider-native type (owned by posture)." })
  type: string;

  @Directive("@external")
  @Field(() => CloudAccountRef, { description: "The resource's account (owned by posture)." })
  account: CloudAccountRef;

  @Directive("@external")
  @Field(() => ExposureRef, { description: "Internet exposure from the NSG rules (owned by posture)." })
  exposure: ExposureRef;
}

/** The SIEM's SecurityAlert, as protection extends it with the detection behind it. */
@ObjectType("SecurityAlert", { description: "A security alert from any provider (owned by the SIEM)." })
@Directive('@key(fields: "id")')
export class SecurityAlertRef {
  @Field(() => ID, { description: "Rampart's id of the alert." })
  id: string;
}

/** Entity references resolve to stubs: protection's fields are computed from the key (and `@requires`). */
export const protectionReferences: ReferenceResolvers = {
  CloudAccount: {
    __resolveReference: (ref: { id: string }, ctx: ProtectionContext) => {
      requireReader(ctx);
      return Object.assign(new CloudAccountRef(), ref);
    },
  },
  SecurityAlert: {
    __resolveReference: (ref: { id: string }, ctx: ProtectionContext) => {
      requireReader(ctx);
      return Object.assign(new SecurityAlertRef(), ref);
    },
  },
  Resource: {
    __resolveReference: (
      ref: { id: string; type?: string; account?: { id: string }; exposure?: ExposureRef },
      ctx: ProtectionContext,
    ) => {
      requireReader(ctx);
      return Object.assign(new ResourceRef(), ref);
    },
  },
};
