import { JSONScalar, PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { SiemContext } from "../../context";
import { AnalyticsRuleFilter, AnalyticsRuleInput } from "./rules.inputs";
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
  @Query(() => AnalyticsRuleConnection, {
    description:
      "The tenant's analytics rules in creation order, optionally filtered (BAD_USER_INPUT for a bad filter).",
  })
  analyticsRules(
    @Args() page: PageArgs,
    @Arg("filter", () => AnalyticsRuleFilter, {
      nullable: true,
      description: "Which rules; all when omitted.",
    })
    filter: AnalyticsRuleFilter | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.rules.list(page, filter);
  }

  @Authorized(Role.READER)
  @Query(() => AnalyticsRule, { nullable: true, description: "One analytics rule; null when unknown." })
  analyticsRule(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.rules.byId(id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AnalyticsRule, {
    description:
      "Creates an analytics rule (ADMIN) from a definition — typed `input` or JSON `spec`, exactly one (see docs/api.md) — or from a template or a saved hunting query (one of them), which a definition given with it overrides field by field. Invalid definitions are BAD_USER_INPUT naming each fault's path in `extensions.problems`; nothing is stored.",
  })
  createAnalyticsRule(
    @Arg("input", () => AnalyticsRuleInput, {
      nullable: true,
      description:
        "The rule definition as typed fields (or, with templateId, the fields replacing the template's).",
    })
    input: AnalyticsRuleInput | undefined,
    @Arg("spec", () => JSONScalar, {
      nullable: true,
      description:
        "The rule definition as JSON (or, with templateId, overrides of the template's); not with `input`.",
    })
    spec: unknown,
    @Arg("templateId", () => String, { nullable: true, description: "Start from this built-in template." })
    templateId: string | undefined,
    @Arg("fromHuntingQueryId", () => ID, {
      nullable: true,
      description:
        "Start from this saved hunting query: a SCHEDULED rule whose `query` is a copy of the hunt's KQL (later edits of the hunt do not change the rule), validated as a hand-written one, with the hunt's name, description and MITRE tags unless the definition gives its own. The definition must still give severity, queryFrequency and queryPeriod, and may not give `query` or `filter`; not with templateId. NOT_FOUND for an unknown or another tenant's id.",
    })
    fromHuntingQueryId: string | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.rules.create({ input, spec }, templateId, fromHuntingQueryId);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AnalyticsRule, {
    description:
      "Replaces a rule's definition (ADMIN) with a complete new one — typed `input` or JSON `spec`, exactly one; `enabled: false` stops it. Invalid definitions are BAD_USER_INPUT as for createAnalyticsRule and change nothing.",
  })
  updateAnalyticsRule(
    @Arg("id", () => ID) id: string,
    @Arg("input", () => AnalyticsRuleInput, {
      nullable: true,
      description: "The complete new definition as typed fields.",
    })
    input: AnalyticsRuleInput | undefined,
    @Arg("spec", () => JSONScalar, {
      nullable: true,
      description: "The complete new definition as JSON; not with `input`.",
    })
    spec: unknown,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.rules.update(id, { input, spec });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AnalyticsRule, {
    description:
      "Deletes an analytics rule (ADMIN) and its pending scheduled run; the alerts and incidents it raised stay. NOT_FOUND for another tenant's or an unknown rule; CONFLICT while an automation rule is limited to it. Returns the rule as it was. To stop a rule but keep it, update it with `enabled: false`.",
  })
  deleteAnalyticsRule(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.rules.delete(id);
  }
}
