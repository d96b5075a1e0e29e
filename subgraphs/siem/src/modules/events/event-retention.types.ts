import { Field, Int, ObjectType } from "type-graphql";

/** How long a tenant's events are kept. */
@ObjectType({
  description:
    "How long the tenant's events are kept. Older events are deleted by the daily maintenance; alerts keep their evidence event ids, which then name events no longer listed.",
})
export class EventRetention {
  @Field(() => Int, {
    description:
      "Days of events kept: the tenant's own setting, or the platform's when it has none (never more than the platform's).",
  })
  days: number;

  @Field(() => Int, {
    description:
      "The platform's retention (`EVENT_RETENTION_DAYS`): the default, and the most a tenant may set.",
  })
  maxDays: number;

  @Field({ description: "True while the tenant has not set its own retention and the platform's applies." })
  isDefault: boolean;

  @Field(() => Date, { nullable: true, description: "When the tenant's setting last changed." })
  updatedAt: Date | null;

  @Field(() => String, { nullable: true, description: "Who last changed the tenant's setting." })
  updatedBy: string | null;
}
