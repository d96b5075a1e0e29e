import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { SiemContext } from "../../context";
import { AlertConnection } from "../alerts/alerts.connections";
import { Incident } from "./incident.entity";
import { IncidentActivityConnection, IncidentConnection } from "./incidents.connections";
import { ACTIVITY_LIST_LIMIT } from "./incident-workflow.service";
import { CreateIncidentInput } from "./incidents.inputs";
import { IncidentMetrics, IncidentMetricsFilter } from "./incident-metrics.types";
import {
  CloseIncidentInput,
  IncidentActivity,
  IncidentComment,
  IncidentFilter,
  IncidentOrder,
  IncidentTask,
  MergeIncidentsInput,
  ReopenIncidentInput,
  UpdateIncidentInput,
} from "./incident-workflow.types";

@Resolver(() => Incident)
export class IncidentResolver {
  @Authorized(Role.READER)
  @Query(() => IncidentConnection, {
    description: "The tenant's incidents (merged ones hidden); default newest first.",
  })
  incidents(
    @Arg("filter", () => IncidentFilter, {
      nullable: true,
      description: "Conditions the incidents must meet.",
    })
    filter: IncidentFilter | undefined,
    @Arg("orderBy", () => IncidentOrder, { nullable: true, description: "Default: CREATED_AT descending." })
    orderBy: IncidentOrder | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.workflow.list(filter, orderBy, page);
  }

  @Authorized(Role.READER)
  @Query(() => IncidentMetrics, {
    description:
      "SOC efficiency over the incidents created in `[from, to)` (at most 366 days): counts, backlog at `to`, times to acknowledge and close, per owner and per UTC day. An empty, reversed or longer window is BAD_USER_INPUT.",
  })
  incidentMetrics(
    @Arg("from", () => Date, { description: "Start of the window (inclusive)." }) from: Date,
    @Arg("to", () => Date, { description: "End of the window (exclusive)." }) to: Date,
    @Arg("filter", () => IncidentMetricsFilter, {
      nullable: true,
      description: "Conditions the counted incidents must meet.",
    })
    filter: IncidentMetricsFilter | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.metrics.metrics(from, to, filter);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, {
    description:
      "Triage: title, description, severity, status (NEW/ACTIVE), owner, labels. Needs the current etag; a stale one is CONFLICT.",
  })
  updateIncident(
    @Arg("input", () => UpdateIncidentInput) input: UpdateIncidentInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.workflow.update(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, {
    description: "Closes an incident with a classification and a reason (etag-checked).",
  })
  closeIncident(@Arg("input", () => CloseIncidentInput) input: CloseIncidentInput, @Ctx() ctx: SiemContext) {
    return ctx.services.workflow.close(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, { description: "Reopens a closed incident (etag-checked)." })
  reopenIncident(
    @Arg("input", () => ReopenIncidentInput) input: ReopenIncidentInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.workflow.reopen(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => IncidentComment, { description: "Adds a comment to an incident." })
  addIncidentComment(
    @Arg("incidentId", () => ID) incidentId: string,
    @Arg("message") message: string,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.workflow.addComment(incidentId, message);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => IncidentTask, { description: "Adds a task to an incident." })
  addIncidentTask(
    @Arg("incidentId", () => ID) incidentId: string,
    @Arg("title") title: string,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.workflow.addTask(incidentId, title);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => IncidentTask, { description: "Marks an incident task completed." })
  completeIncidentTask(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.workflow.completeTask(id);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, {
    description:
      "Merges incidents: their alerts move to the target and they close as merged. CONFLICT when the target is closed (reopen it first), either side was merged already, or an etag sent (`etag`, `sourceEtags`) is stale.",
  })
  mergeIncidents(
    @Arg("input", () => MergeIncidentsInput) input: MergeIncidentsInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.workflow.merge(input);
  }

  @FieldResolver(() => [IncidentComment], { description: "Comments, oldest first." })
  comments(@Root() incident: Incident, @Ctx() ctx: SiemContext) {
    return ctx.services.workflow.comments.load(incident.id);
  }

  @FieldResolver(() => [IncidentTask], { description: "Tasks, oldest first." })
  tasks(@Root() incident: Incident, @Ctx() ctx: SiemContext) {
    return ctx.services.workflow.tasks.load(incident.id);
  }

  @FieldResolver(() => [IncidentActivity], {
    description: `Activity log, oldest first: who made each change and when — the first ${ACTIVITY_LIST_LIMIT} entries only. \`activityLog\` pages through all of it.`,
    deprecationReason: `Holds only the first ${ACTIVITY_LIST_LIMIT} entries: use activityLog, which pages through every entry (newest first).`,
  })
  activity(@Root() incident: Incident, @Ctx() ctx: SiemContext) {
    return ctx.services.workflow.activity.load(incident.id);
  }

  @FieldResolver(() => IncidentActivityConnection, {
    description:
      "Activity log, newest first: every change, who made it and when (correlation, triage, comments, tasks, alerts' changes, playbook runs, merges), paged; `totalCount` is the whole log's length.",
  })
  activityLog(@Root() incident: Incident, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.workflow.activityLog(incident.id, page);
  }

  @Authorized(Role.READER)
  @Query(() => Incident, {
    nullable: true,
    description: "One incident by id; null when the tenant has no such incident.",
  })
  incident(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.incidents.byId.load(id);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, { description: "Creates an incident by hand from existing alerts (ANALYST)." })
  createIncident(
    @Arg("input", () => CreateIncidentInput) input: CreateIncidentInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.incidents.create(input);
  }

  @FieldResolver(() => AlertConnection, { description: "The incident's alerts, newest first." })
  alerts(@Root() incident: Incident, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.alerts.forIncident(incident.id, page);
  }
}
