import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { ResourceRef } from "../../references";
import {
  ApproveJitRequestInput,
  DenyJitRequestInput,
  JitRequestFilter,
  RemoveJitPolicyInput,
  RequestJitAccessInput,
  RevokeJitRequestInput,
  SetJitPolicyInput,
} from "./jit.inputs";
import {
  JitAuditEntry,
  JitAuditEntryConnection,
  JitPolicy,
  JitRequest,
  JitRequestConnection,
  RemoveJitPolicyPayload,
} from "./jit.types";

/** Just-in-time VM access: policies, requests and decisions, and `Resource.jitPolicy`. */
@Resolver(() => ResourceRef)
export class JitResolver {
  @FieldResolver(() => JitPolicy, {
    nullable: true,
    description:
      "The resource's just-in-time access policy with each port's effective state (LOCKED, or OPEN with its active grants); null when it has none.",
  })
  jitPolicy(@Root() resource: ResourceRef, @Ctx() ctx: ProtectionContext) {
    return ctx.services.jit.policyByResource.load(resource.id);
  }

  @Authorized(Role.READER)
  @Query(() => JitRequestConnection, {
    description: "Just-in-time access requests of the tenant, newest first.",
  })
  jitRequests(
    @Arg("filter", () => JitRequestFilter, { nullable: true, description: "Resource, states, requester." })
    filter: JitRequestFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.list(filter, page);
  }

  @Authorized(Role.READER)
  @Query(() => JitRequest, { nullable: true, description: "One just-in-time access request." })
  jitRequest(
    @Arg("id", () => ID, { description: "Id of the request." }) id: string,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.requestById.load(id);
  }

  @Authorized(Role.READER)
  @Query(() => JitAuditEntryConnection, {
    description:
      "The just-in-time access audit trail of a resource (policy changes and every request step), newest first.",
  })
  jitAuditLog(
    @Arg("resourceId", () => ID, { description: "The resource." }) resourceId: string,
    @Args() page: PageArgs,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.auditLog(resourceId, page);
  }

  // Policies are ADMIN's (product.md's role table): responders ask and decide within the ports,
  // sources and durations a policy allows, so they must not be the ones who widen it.
  @Authorized(Role.ADMIN)
  @Mutation(() => JitPolicy, {
    description:
      "Creates or replaces a VM's just-in-time policy (ADMIN): the listed ports are locked except for approved requests. Grants already open stay valid until they expire.",
  })
  setJitPolicy(
    @Arg("input", () => SetJitPolicyInput) input: SetJitPolicyInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.setPolicy(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => RemoveJitPolicyPayload, {
    description:
      "Removes a VM's just-in-time policy (ADMIN): active grants are revoked and pending requests denied.",
  })
  removeJitPolicy(
    @Arg("input", () => RemoveJitPolicyInput) input: RemoveJitPolicyInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.removePolicy(input);
  }

  @Authorized(Role.RESPONDER)
  @Mutation(() => JitRequest, {
    description:
      "Asks for time-bound access to ports of a VM from one source address (RESPONDER). Access opens when another responder approves.",
  })
  requestJitAccess(
    @Arg("input", () => RequestJitAccessInput) input: RequestJitAccessInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.request(input);
  }

  @Authorized(Role.RESPONDER)
  @Mutation(() => JitRequest, {
    description:
      "Approves a pending request (RESPONDER other than the requester): access opens now until approval time + duration.",
  })
  approveJitRequest(
    @Arg("input", () => ApproveJitRequestInput) input: ApproveJitRequestInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.approve(input);
  }

  @Authorized(Role.RESPONDER)
  @Mutation(() => JitRequest, {
    description: "Denies a pending request (RESPONDER other than the requester).",
  })
  denyJitRequest(
    @Arg("input", () => DenyJitRequestInput) input: DenyJitRequestInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.deny(input);
  }

  @Authorized(Role.RESPONDER)
  @Mutation(() => JitRequest, {
    description: "Closes an approved request's access before it expires (RESPONDER).",
  })
  revokeJitRequest(
    @Arg("input", () => RevokeJitRequestInput) input: RevokeJitRequestInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.jit.revoke(input);
  }
}

/** A request's links: its resource (from the inventory) and its audit trail. */
@Resolver(() => JitRequest)
export class JitRequestResolver {
  @FieldResolver(() => ResourceRef, {
    nullable: true,
    description: "The VM (from the inventory; null if it was removed).",
  })
  resource(@Root() request: JitRequest): ResourceRef {
    return Object.assign(new ResourceRef(), { id: request.resourceId });
  }

  @FieldResolver(() => [JitAuditEntry], { description: "Every audited step of this request, oldest first." })
  history(@Root() request: JitRequest, @Ctx() ctx: ProtectionContext) {
    return ctx.services.jit.historyOf.load(request);
  }
}
