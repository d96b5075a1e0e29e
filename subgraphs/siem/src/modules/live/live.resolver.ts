import { Arg, Resolver, Root, Subscription } from "type-graphql";
import { requireReader } from "../../../../common/src";
import type { SiemContext } from "../../context";
import { AlertEvent, AlertFilter, AlertUpdate, IncidentChange, IncidentChangeFilter } from "./live.types";

const AFTER_DESCRIPTION =
  "Resume after this `cursor`: every change after it is replayed in order, then live changes follow. Without it, the stream starts now.";

/** Live streams of the SIEM, backed by its outbox (resumable, in commit order). */
@Resolver()
export class LiveResolver {
  @Subscription(() => IncidentChange, {
    description:
      "Every change to the tenant's incidents (created, updated, alert added, comment added, closed, reopened, merged), in commit order.",
    subscribe: ({ args, context }) => {
      const ctx = context as SiemContext;
      requireReader(ctx);
      return ctx
        .live()
        .incidentChanges(
          ctx.identity,
          args.filter as IncidentChangeFilter | null,
          args.after as string | null,
        );
    },
  })
  incidentChanges(
    @Root() change: IncidentChange,
    @Arg("filter", () => IncidentChangeFilter, { nullable: true, description: "Which changes to receive." })
    _filter: IncidentChangeFilter | null,
    @Arg("after", () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
  ): IncidentChange {
    return change;
  }

  @Subscription(() => AlertEvent, {
    description: "Every new alert of the tenant, from any provider, in commit order.",
    subscribe: ({ args, context }) => {
      const ctx = context as SiemContext;
      requireReader(ctx);
      return ctx
        .live()
        .alertCreated(ctx.identity, args.filter as AlertFilter | null, args.after as string | null);
    },
  })
  alertCreated(
    @Root() event: AlertEvent,
    @Arg("filter", () => AlertFilter, { nullable: true, description: "Which alerts to receive." })
    _filter: AlertFilter | null,
    @Arg("after", () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
  ): AlertEvent {
    return event;
  }

  @Subscription(() => AlertUpdate, {
    description:
      "Every change to the tenant's existing alerts (`updateAlerts`, or a provider's repeat with new values), in commit order.",
    subscribe: ({ args, context }) => {
      const ctx = context as SiemContext;
      requireReader(ctx);
      return ctx
        .live()
        .alertUpdated(ctx.identity, args.filter as AlertFilter | null, args.after as string | null);
    },
  })
  alertUpdated(
    @Root() event: AlertUpdate,
    @Arg("filter", () => AlertFilter, { nullable: true, description: "Which alert changes to receive." })
    _filter: AlertFilter | null,
    @Arg("after", () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
  ): AlertUpdate {
    return event;
  }
}
