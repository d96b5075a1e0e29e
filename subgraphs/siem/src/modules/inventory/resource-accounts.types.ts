import { Directive, Field, ID, InputType, Int, ObjectType } from "type-graphql";

/** One resource as posture's inventory holds it now (internal, like `syncResourceAccounts`). */
@Directive("@inaccessible")
@InputType({ description: "A resource of posture's inventory and the account it belongs to." })
export class ResourceAccountInput {
  @Field(() => ID, { description: "Rampart's id of the resource." })
  resourceId: string;

  @Field(() => String, { description: "The provider's id: ARM id, ARN or GCP resource name." })
  externalId: string;

  @Field(() => ID, { description: "Rampart's id of the account the resource belongs to." })
  accountId: string;
}

/** What posture's relay reports of a batch of inventory changes. */
@Directive("@inaccessible")
@InputType({ description: "The current state of resources that changed in posture's inventory." })
export class SyncResourceAccountsInput {
  @Field(() => [ResourceAccountInput], { description: "Resources that exist, with their account." })
  resources: ResourceAccountInput[];

  @Field(() => [ID], { description: "Ids of resources the inventory no longer has." })
  removedIds: string[];
}

/** What `syncResourceAccounts` changed (internal). */
@Directive("@inaccessible")
@ObjectType({ description: "What a sync changed in the SIEM's copy of resource accounts." })
export class SyncResourceAccountsPayload {
  @Field(() => Int, { description: "Resources added or whose account or provider id changed." })
  upsertedCount: number;

  @Field(() => Int, { description: "Resources the SIEM forgot." })
  removedCount: number;
}
