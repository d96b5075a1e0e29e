import { Role } from "../../../../common/src";
import {
  Arg,
  Authorized,
  Ctx,
  Directive,
  FieldResolver,
  Mutation,
  Query,
  Resolver,
  Root,
} from "type-graphql";
import type { ProtectionContext } from "../../context";
import { CloudAccountRef, ResourceRef } from "../../references";
import { Coverage, PlanTypeInfo, planTypeInfos } from "./coverage";
import { Plan } from "./plan.entity";
import { SetPlanInput } from "./plans.inputs";

@Resolver(() => CloudAccountRef)
export class AccountPlansResolver {
  @Authorized(Role.READER)
  @Query(() => [PlanTypeInfo], {
    description: "The workload-protection plans and the resource kinds each covers.",
  })
  planTypes(): PlanTypeInfo[] {
    return planTypeInfos();
  }

  @FieldResolver(() => [Plan], {
    description: "Every workload-protection plan of the account with its tier (FREE unless set).",
  })
  plans(@Root() account: CloudAccountRef, @Ctx() ctx: ProtectionContext) {
    return ctx.services.plans.byAccount.load(account.id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Plan, {
    description:
      "Sets a plan's tier in an account of the tenant's inventory (ADMIN); NOT_FOUND, changing nothing, for an id that names none of the tenant's accounts. STANDARD covers every resource of the plan's kind.",
  })
  setPlan(@Arg("input", () => SetPlanInput) input: SetPlanInput, @Ctx() ctx: ProtectionContext) {
    return ctx.services.plans.setPlan(input);
  }
}

@Resolver(() => ResourceRef)
export class ResourceCoverageResolver {
  @Directive('@requires(fields: "type account { id }")')
  @FieldResolver(() => Coverage, { description: "Whether workload protection covers this resource." })
  coverage(@Root() resource: ResourceRef, @Ctx() ctx: ProtectionContext) {
    return ctx.services.plans.coverage(resource.type, resource.account.id);
  }
}
