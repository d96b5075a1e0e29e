import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { ResourceRef } from "../../references";
import {
  AddAppControlRuleInput,
  AppControlGroup,
  AppControlGroupConnection,
  AppControlRule,
  AppControlRuleConnection,
  AppControlRuleFilter,
  ApproveAppControlRulesInput,
  LearnAppControlInput,
  LearnAppControlPayload,
  RevokeAppControlRulesInput,
  SetAppControlModeInput,
} from "./appcontrol.types";

/** Adaptive application control: groups, rules, learning, approval, revocation, manual rules and mode. */
@Resolver(() => AppControlGroup)
export class AppControlResolver {
  @Authorized(Role.READER)
  @Query(() => AppControlGroupConnection, {
    description: "The tenant's application-control groups, by name.",
  })
  appControlGroups(@Args() page: PageArgs, @Ctx() ctx: ProtectionContext) {
    return ctx.services.appControl.list(page);
  }

  @Authorized(Role.READER)
  @Query(() => AppControlGroup, { nullable: true, description: "One application-control group." })
  appControlGroup(
    @Arg("id", () => ID, { description: "Id of the group." }) id: string,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.appControl.groupById.load(id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => LearnAppControlPayload, {
    description:
      "Learns application-control groups of similar machines and their recommended allow-list rules from the process executions of a window (ADMIN). Configured groups keep their machines and approved rules; only their recommendations are refreshed.",
  })
  learnAppControl(
    @Arg("input", () => LearnAppControlInput, {
      nullable: true,
      description: "The learning window (default P14D).",
    })
    input: LearnAppControlInput | undefined,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.appControl.learn(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AppControlGroup, {
    description:
      "Approves recommended rules of a group (ADMIN): they join its allow list. Any unknown rule rejects the whole call.",
  })
  approveAppControlRules(
    @Arg("input", () => ApproveAppControlRulesInput) input: ApproveAppControlRulesInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.appControl.approve(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AppControlGroup, {
    description:
      "Revokes approved rules of a group (ADMIN): they leave its allow list (status REVOKED, with who, when and why), and learning again never brings them back; `approveAppControlRules` or `addAppControlRule` does. Anything but an approved or revoked rule of the group rejects the whole call; a group in AUDIT or ENFORCE must keep one approved rule (CONFLICT).",
  })
  revokeAppControlRules(
    @Arg("input", () => RevokeAppControlRulesInput) input: RevokeAppControlRulesInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.appControl.revoke(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AppControlRule, {
    description:
      "Adds a rule to a group's allow list by hand (ADMIN): APPROVED at once, origin MANUAL. A rule the group already has for that executable (recommended, approved or revoked) is approved instead.",
  })
  addAppControlRule(
    @Arg("input", () => AddAppControlRuleInput) input: AddAppControlRuleInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.appControl.addRule(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AppControlGroup, {
    description:
      "Sets what a group's allow list does (ADMIN): NONE, AUDIT (violations raise alerts) or ENFORCE (blocked, and alerts).",
  })
  setAppControlMode(
    @Arg("input", () => SetAppControlModeInput) input: SetAppControlModeInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.appControl.setMode(input);
  }

  @FieldResolver(() => AppControlRuleConnection, {
    description: "The group's rules, most common first, then by path.",
  })
  rules(
    @Root() group: AppControlGroup,
    @Arg("filter", () => AppControlRuleFilter, { nullable: true, description: "Status, kind, prevalence." })
    filter: AppControlRuleFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.appControl.rules(group.id, filter, page);
  }
}

/** `Resource.appControlGroup`. */
@Resolver(() => ResourceRef)
export class ResourceAppControlResolver {
  @FieldResolver(() => AppControlGroup, {
    nullable: true,
    description: "The application-control group the machine belongs to (null: none learned).",
  })
  appControlGroup(@Root() resource: ResourceRef, @Ctx() ctx: ProtectionContext) {
    return ctx.services.appControl.groupByResource.load(resource.id);
  }
}
