import { Field, ID, Int, ObjectType } from "type-graphql";

/** What `upsertResources` did. */
@ObjectType({ description: "The outcome of a bulk resource upsert." })
export class UpsertResourcesPayload {
  @Field(() => Int, { description: "Items received and stored." })
  upsertedCount: number;

  @Field(() => Int, { description: "Resources new to the inventory." })
  createdCount: number;

  @Field(() => Int, { description: "Existing resources whose reported data changed." })
  updatedCount: number;

  @Field(() => Int, { description: "Existing resources reported again unchanged (only `lastSeen` moved)." })
  unchangedCount: number;

  @Field(() => [ID], { description: "Rampart ids of the items, in input order." })
  ids: string[];
}

/** What `removeResources` did. */
@ObjectType({ description: "The outcome of removing resources." })
export class RemoveResourcesPayload {
  @Field(() => Int, { description: "How many resources were removed." })
  removedCount: number;

  @Field(() => [ID], { description: "Ids that were removed (ids not in the inventory are ignored)." })
  removedIds: string[];
}

/** What `removeCloudAccount` did. */
@ObjectType({ description: "The outcome of off-boarding a cloud account." })
export class RemoveCloudAccountPayload {
  @Field(() => ID, { description: "The id of the account that was removed." })
  accountId: string;

  @Field(() => Int, {
    description:
      "How many of the account's resources were removed with it (as `removeResources` removes them).",
  })
  removedResourceCount: number;

  @Field(() => Int, {
    description: "Exemptions scoped to the account or to one of its resource groups that were deleted.",
  })
  removedExemptionCount: number;

  @Field(() => Int, {
    description: "Per-account policy definition settings (enabled/disabled) that were deleted.",
  })
  removedPolicySettingCount: number;
}
