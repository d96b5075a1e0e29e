import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { SiemContext } from "../../context";
import { SecurityAlert } from "../alerts/alert.entity";
import { Incident } from "../incidents/incident.entity";
import {
  CreatePlaybookInput,
  Playbook,
  PlaybookConnection,
  PlaybookRun,
  PlaybookRunConnection,
  PlaybookRunFilter,
  RunPlaybookInput,
  UpdatePlaybookInput,
} from "./playbook.types";

@Resolver(() => Playbook)
export class PlaybookResolver {
  @Authorized(Role.READER)
  @Query(() => PlaybookConnection, { description: "The tenant's playbooks, by name." })
  playbooks(@Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.playbooks.list(page);
  }

  @Authorized(Role.READER)
  @Query(() => Playbook, { nullable: true, description: "One playbook; null when unknown." })
  playbook(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.playbooks.byId.load(id);
  }

  @Authorized(Role.READER)
  @Query(() => PlaybookRunConnection, {
    description: "Playbook runs (their attempts and outcome), newest first.",
  })
  playbookRuns(
    @Arg("filter", () => PlaybookRunFilter, { nullable: true, description: "Conditions the runs must meet." })
    filter: PlaybookRunFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.playbooks.runs(filter, page);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Playbook, {
    description:
      "Creates a playbook (ADMIN). Invalid input is BAD_USER_INPUT listing every fault; nothing is stored. The secret is never returned.",
  })
  createPlaybook(
    @Arg("input", () => CreatePlaybookInput) input: CreatePlaybookInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.playbooks.create(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Playbook, {
    description:
      "Changes a playbook (ADMIN): the fields given replace the playbook's; invalid input changes nothing.",
  })
  updatePlaybook(
    @Arg("input", () => UpdatePlaybookInput) input: UpdatePlaybookInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.playbooks.update(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Playbook, {
    description:
      "Deletes a playbook and its run history (ADMIN); CONFLICT while an automation rule runs it. Returns the playbook as it was.",
  })
  deletePlaybook(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.playbooks.delete(id);
  }

  @Authorized(Role.RESPONDER)
  @Mutation(() => PlaybookRun, {
    description:
      "Runs a playbook for an incident now (RESPONDER): the run is queued and its webhook attempts follow (see `playbookRuns`). CONFLICT when the playbook is disabled.",
  })
  runPlaybook(@Arg("input", () => RunPlaybookInput) input: RunPlaybookInput, @Ctx() ctx: SiemContext) {
    return ctx.services.playbooks.run(input);
  }
}

@Resolver(() => PlaybookRun)
export class PlaybookRunResolver {
  @FieldResolver(() => Playbook, { nullable: true, description: "The playbook." })
  playbook(@Root() run: PlaybookRun, @Ctx() ctx: SiemContext) {
    return ctx.services.playbooks.byId.load(run.playbookId);
  }

  @FieldResolver(() => Incident, { nullable: true, description: "The incident it ran for." })
  incident(@Root() run: PlaybookRun, @Ctx() ctx: SiemContext) {
    return run.incidentId ? ctx.services.incidents.byId.load(run.incidentId) : null;
  }
}

@Resolver(() => SecurityAlert)
export class AlertPlaybookRunsResolver {
  @Authorized(Role.READER)
  @FieldResolver(() => PlaybookRunConnection, {
    description:
      "Playbook runs for this alert (ALERT_CREATED or ALERT_UPDATED automation), newest first; each is also in the activity log of the incident it names.",
  })
  playbookRuns(@Root() alert: SecurityAlert, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.playbooks.forAlert(alert.id, page);
  }
}
