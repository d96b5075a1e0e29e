import { Directive, Field, ID, Int, ObjectType } from "type-graphql";

/** What `forgetRemovedResources` ended (internal, like the mutation: not in the gateway's API). */
@Directive("@inaccessible")
@ObjectType({ description: "The protection state ended for resources removed from the inventory." })
export class ForgetRemovedResourcesPayload {
  @Field(() => [ID], { description: "The resource ids of the call, canonical and without repeats." })
  resourceIds: string[];

  @Field(() => Int, { description: "JIT policies deleted (their audit trail stays)." })
  removedJitPolicyCount: number;

  @Field(() => [ID], { description: "Active JIT grants that were revoked." })
  revokedRequestIds: string[];

  @Field(() => [ID], { description: "Pending JIT requests that were denied." })
  deniedRequestIds: string[];

  @Field(() => Int, { description: "Vulnerability findings deleted." })
  removedFindingCount: number;

  @Field(() => Int, { description: "Application-control group memberships ended." })
  removedAppControlMembershipCount: number;
}

/** What `forgetRemovedAccounts` ended (internal, like the mutation: not in the gateway's API). */
@Directive("@inaccessible")
@ObjectType({ description: "The protection state ended for accounts off-boarded from the inventory." })
export class ForgetRemovedAccountsPayload {
  @Field(() => [ID], { description: "The account ids of the call, canonical and without repeats." })
  accountIds: string[];

  @Field(() => Int, { description: "Plans deleted (every plan type of the accounts that had a row)." })
  removedPlanCount: number;
}
