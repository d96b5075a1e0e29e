import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { SiemContext } from "../../context";
import { Incident } from "../incidents/incident.entity";
import {
  AutomationRunFilter,
  CreateAutomationRuleInput,
  UpdateAutomationRuleInput,
} from "./automation.inputs";
import {
  AutomationAction,
  AutomationRule,
  AutomationRuleConnection,
  AutomationRun,
  AutomationRunConnection,
} from "./automation.types";
import { Playbook } from "./playbook.types";

@Resolver(() => AutomationRule)
export class AutomationRuleResolver {
  @Authorized(Role.READER)
  @Query(() => AutomationRuleConnection, {
    description: "The tenant's automation rules, in the order they run.",
  })
  automationRules(@Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.automation.list(page);
  }

  @Authorized(Role.READER)
  @Query(() => AutomationRule, { nullable: true, description: "One automation rule; null when unknown." })
  automationRule(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.automation.byId(id);
  }

  @Authorized(Role.READER)
  @Query(() => AutomationRunConnection, {
    description: "What automation rules did: one entry per event a rule's conditions held for, newest first.",
  })
  automationRuns(
    @Arg("filter", () => AutomationRunFilter, {
      nullable: true,
      description: "Conditions the runs must meet.",
    })
    filter: AutomationRunFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.automation.runs(filter, page);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AutomationRule, {
    description:
      "Creates an automation rule (ADMIN). Invalid input is BAD_USER_INPUT listing every fault in `extensions.problems`; nothing is stored.",
  })
  createAutomationRule(
    @Arg("input", () => CreateAutomationRuleInput) input: CreateAutomationRuleInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.automation.create(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AutomationRule, {
    description:
      "Changes an automation rule (ADMIN): the fields given replace the rule's; invalid input changes nothing.",
  })
  updateAutomationRule(
    @Arg("input", () => UpdateAutomationRuleInput) input: UpdateAutomationRuleInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.automation.update(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => AutomationRule, {
    description: "Deletes an automation rule and its run history (ADMIN); returns the rule as it was.",
  })
  deleteAutomationRule(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.automation.delete(id);
  }
}

@Resolver(() => AutomationAction)
export class AutomationActionResolver {
  @FieldResolver(() => Playbook, { nullable: true, description: "RUN_PLAYBOOK: the playbook run." })
  playbook(@Root() action: AutomationAction, @Ctx() ctx: SiemContext) {
    return action.playbookId ? ctx.services.playbooks.byId.load(action.playbookId) : null;
  }
}

@Resolver(() => AutomationRun)
export class AutomationRunResolver {
  @FieldResolver(() => Incident, { nullable: true, description: "The incident it acted on." })
  incident(@Root() run: AutomationRun, @Ctx() ctx: SiemContext) {
    return run.incidentId ? ctx.services.incidents.byId.load(run.incidentId) : null;
  }
}
