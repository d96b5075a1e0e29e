import { Role, PageArgs } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { PostureContext } from "../../context";
import { CloudAccount } from "./cloud-account.entity";
import { CloudAccountConnection, ResourceConnection } from "./inventory.connections";
import { CloudAccountInput, ResourceFilter, ResourceInput, ResourceOrder } from "./inventory.inputs";
import {
  RemoveCloudAccountPayload,
  RemoveResourcesPayload,
  UpsertResourcesPayload,
} from "./inventory.payloads";
import { Resource } from "./resource.entity";

const WRITERS = [Role.ADMIN, Role.INGESTOR];

@Resolver(() => Resource)
export class ResourceResolver {
  @Authorized(Role.READER)
  @Query(() => ResourceConnection, {
    description: "The tenant's resources: filter, order and page through the inventory.",
  })
  resources(
    @Arg("filter", () => ResourceFilter, {
      nullable: true,
      description: "Conditions the resources must meet.",
    })
    filter: ResourceFilter | undefined,
    @Arg("orderBy", () => ResourceOrder, { nullable: true, description: "Default: name ascending." })
    orderBy: ResourceOrder | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.inventory.resources(filter, orderBy, page);
  }

  @Authorized(Role.READER)
  @Query(() => Resource, {
    nullable: true,
    description: "One resource by id; null when the tenant has no such resource.",
  })
  resource(@Arg("id", () => ID) id: string, @Ctx() ctx: PostureContext) {
    return ctx.loaders.resource.load(id);
  }

  @Authorized(...WRITERS)
  @Mutation(() => UpsertResourcesPayload, {
    description:
      "Creates or updates resources in bulk (10,000+ per call), idempotent on `externalId`. Atomic: if any item is invalid, nothing is written and the `BAD_USER_INPUT` error lists every item's problems (`extensions.problems[].index`, `field`).",
  })
  upsertResources(@Arg("input", () => [ResourceInput]) input: ResourceInput[], @Ctx() ctx: PostureContext) {
    return ctx.services.inventory.upsertResources(input);
  }

  @Authorized(...WRITERS)
  @Mutation(() => RemoveResourcesPayload, {
    description: "Removes resources from the inventory. Unknown ids are ignored.",
  })
  removeResources(@Arg("ids", () => [ID]) ids: string[], @Ctx() ctx: PostureContext) {
    return ctx.services.inventory.removeResources(ids);
  }

  @FieldResolver(() => CloudAccount, { description: "The account the resource belongs to." })
  account(@Root() resource: Resource, @Ctx() ctx: PostureContext) {
    return ctx.loaders.account.load(resource.accountId);
  }
}

@Resolver(() => CloudAccount)
export class CloudAccountResolver {
  @Authorized(Role.READER)
  @Query(() => CloudAccountConnection, { description: "The tenant's cloud accounts, by name." })
  accounts(@Args() page: PageArgs, @Ctx() ctx: PostureContext) {
    return ctx.services.inventory.accounts(page);
  }

  @Authorized(Role.READER)
  @Query(() => CloudAccount, {
    nullable: true,
    description: "One account by id; null when the tenant has no such account.",
  })
  account(@Arg("id", () => ID) id: string, @Ctx() ctx: PostureContext) {
    return ctx.loaders.account.load(id);
  }

  @Authorized(...WRITERS)
  @Mutation(() => [CloudAccount], {
    description:
      "Creates or updates accounts, idempotent on (provider, externalId); returns them in input order.",
  })
  upsertCloudAccounts(
    @Arg("input", () => [CloudAccountInput]) input: CloudAccountInput[],
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.inventory.upsertAccounts(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => RemoveCloudAccountPayload, {
    description:
      "Off-boards an account (ADMIN), in one transaction: the account and all its resources are removed (as `removeResources` removes them: assessments, resource exemptions and, through the relay to workload protection, JIT policies and grants, findings and the other protection state of its machines), with the account's exemptions, per-account policy settings, secure score and score history; workload protection then deletes its plans. Alerts and incidents that named its resources stay (evidence). `NOT_FOUND` when the tenant has no such account (nothing changed); audited.",
  })
  removeCloudAccount(
    @Arg("id", () => ID, { description: "The account to remove." }) id: string,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.inventory.removeCloudAccount(id);
  }

  // An INGESTOR gets accounts back from `upsertCloudAccounts` but reads nothing beyond what it pushed.
  @Authorized(Role.READER)
  @FieldResolver(() => ResourceConnection, { description: "The account's resources." })
  resources(
    @Root() account: CloudAccount,
    @Arg("filter", () => ResourceFilter, {
      nullable: true,
      description: "Conditions the resources must meet.",
    })
    filter: ResourceFilter | undefined,
    @Arg("orderBy", () => ResourceOrder, { nullable: true, description: "Default: name ascending." })
    orderBy: ResourceOrder | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.inventory.resources({ ...filter, accountId: account.id }, orderBy, page);
  }
}
