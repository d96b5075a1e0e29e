import { JSONScalar, PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { SiemContext } from "../../context";
import { AnalyticsRuleConnection } from "./rules.service";
import { AnalyticsRule, RuleTemplate } from "./rules.types";

@Resolver(() => AnalyticsRule)
export class RulesResolver {
  @Authorized(Role.READER)
  @Query(() => [RuleTemplate], { description: "Built-in analytics rule templates." })
  ruleTemplates(@Ctx() ctx: SiemContext) {
    return ctx.services.rules.templates();
  }

  @Authorized(Role.READER)
  @Query(() => AnalyticsRuleConnection, { description: "The tenant's analytics rules." })
  analyticsRules(@Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.rules.list(page);
  }

  @Authorized(Role.READER)
  @Query(() => AnalyticsRule, { nullable: true, description: "One analytics rule; null when unknown." })
  analyticsRule(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.rules.byId(id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AnalyticsRule, {
    description:
      "Creates an analytics rule (ADMIN) from a definition (see docs/api.md), or from a template with optional overrides. Invalid definitions are BAD_USER_INPUT naming each fault's path.",
  })
  createAnalyticsRule(
    @Arg("spec", () => JSONScalar, {
      nullable: true,
      description: "The rule definition, or overrides of the template's.",
    })
    spec: unknown,
    @Arg("templateId", () => String, { nullable: true, description: "Start from this built-in template." })
    templateId: string | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.rules.create(spec, templateId);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AnalyticsRule, {
    description: "Replaces a rule's definition (ADMIN); `enabled: false` stops it.",
  })
  updateAnalyticsRule(
    @Arg("id", () => ID) id: string,
    @Arg("spec", () => JSONScalar, { description: "The complete new definition." }) spec: unknown,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.rules.update(id, spec);
  }
}
