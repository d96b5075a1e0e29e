import { JSONScalar, PageArgs, Role } from "../../../../common/src";
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from "type-graphql";
import type { SiemContext } from "../../context";
import { EventRetention } from "./event-retention.types";
import { SecurityEventConnection } from "./events.connections";
import { IngestReceipt } from "./ingest-receipt.types";
import {
  ConnectorDay,
  ConnectorKindEnum,
  DataConnector,
  EventFilter,
  IngestEventsPayload,
  SecurityEvent,
  SetDataConnectorInput,
} from "./events.types";

@Resolver(() => SecurityEvent)
export class EventsResolver {
  @Authorized(Role.READER)
  @Query(() => [DataConnector], {
    description: "Every connector kind with its status, last event time and volume.",
  })
  dataConnectors(@Ctx() ctx: SiemContext) {
    return ctx.services.events.connectors();
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => DataConnector, {
    description:
      "Enables or disables a connector (disabled: both ingest paths refuse its records with CONFLICT, nothing stored) and sets or clears its `staleAfter`. Recorded in the audit log; bad input is BAD_USER_INPUT with nothing changed.",
  })
  setDataConnector(
    @Arg("input", () => SetDataConnectorInput, { description: "The connector and its new settings." })
    input: SetDataConnectorInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.events.setConnector(input);
  }

  @Authorized(Role.READER)
  @Query(() => SecurityEventConnection, {
    description: "Normalised events in a time window (default: the last 24 hours), newest first.",
  })
  events(
    @Arg("filter", () => EventFilter, { nullable: true, description: "Conditions the events must meet." })
    filter: EventFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.events.events(filter, page);
  }

  @Authorized(Role.INGESTOR, Role.ADMIN)
  @Mutation(() => IngestEventsPayload, {
    description:
      "Ingests a small batch (≤ 1,000) of raw records of one connector kind; bulk goes through `POST /ingest/events?connector=KIND` (NDJSON). Duplicates are ignored, bad records reported in `rejected`, the rest stored.",
  })
  ingestEvents(
    @Arg("connector", () => ConnectorKindEnum, { description: "The records' connector kind." })
    connector: string,
    @Arg("records", () => [JSONScalar], { description: "Raw records as the source emits them." })
    records: unknown[],
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.events.ingest(connector, records);
  }

  @Authorized(Role.READER, Role.INGESTOR)
  @Query(() => IngestReceipt, {
    nullable: true,
    description:
      "The receipt of a body queued by `POST /ingest/events` (202, EVENT_INGEST_QUEUE=nats): poll it until DONE or FAILED. Readers and the tenant's ingestors may read it; null when the tenant has no such receipt.",
  })
  ingestReceipt(
    @Arg("id", () => ID, { description: "The `receiptId` of the 202 answer." }) id: string,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.receipts.byId(id);
  }

  @Authorized(Role.READER)
  @Query(() => EventRetention, {
    description:
      "How many days the tenant's events are kept (the platform's retention until an ADMIN sets one).",
  })
  eventRetention(@Ctx() ctx: SiemContext) {
    return ctx.services.retention.get();
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => EventRetention, {
    description:
      "Sets how many days the tenant's events are kept: 1 to the platform's retention (`maxDays`), else BAD_USER_INPUT. Events older than that are deleted by the maintenance job (started at once when the retention shrinks, then daily); alerts keep their evidence event ids.",
  })
  setEventRetention(
    @Arg("days", () => Int, { description: "Days to keep, 1 to `EventRetention.maxDays`." }) days: number,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.retention.set(days);
  }
}

@Resolver(() => DataConnector)
export class DataConnectorResolver {
  @FieldResolver(() => [ConnectorDay], {
    description:
      "Records received per UTC day (by arrival), oldest first, today last; days with nothing are zeros. Kept 400 days.",
  })
  volume(
    @Root() connector: DataConnector,
    @Arg("days", () => Int, { defaultValue: 7, description: "How many days, today included: 1 to 90." })
    days: number,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.events.volume(connector.kind, days);
  }
}
