import { Directive, Field, ID, InputType, Int, ObjectType } from "type-graphql";

/** One resource as posture's inventory holds it now (internal, like `syncInventoryResources`). */
@Directive("@inaccessible")
@InputType({ description: "A resource of posture's inventory: its account and provider-native type." })
export class InventoryResourceInput {
  @Field(() => ID, { description: "Rampart's id of the resource." })
  resourceId: string;

  @Field(() => ID, { description: "Rampart's id of the account the resource belongs to." })
  accountId: string;

  @Field(() => String, {
    description:
      "The provider-native resource type (e.g. `Microsoft.Compute/virtualMachines`): which plan covers it.",
  })
  type: string;
}

/** What posture's relay reports of a batch of inventory changes. */
@Directive("@inaccessible")
@InputType({ description: "The current state of resources that changed in posture's inventory." })
export class SyncInventoryResourcesInput {
  @Field(() => [InventoryResourceInput], {
    description: "Resources that exist, with their account and type.",
  })
  resources: InventoryResourceInput[];

  @Field(() => [ID], { description: "Ids of resources the inventory no longer has." })
  removedIds: string[];
}

/** What `syncInventoryResources` changed (internal). */
@Directive("@inaccessible")
@ObjectType({ description: "What a sync changed in protection's copy of the inventory's resource accounts." })
export class SyncInventoryResourcesPayload {
  @Field(() => Int, { description: "Resources added or whose account or type changed." })
  upsertedCount: number;

  @Field(() => Int, { description: "Resources protection forgot." })
  removedCount: number;
}
