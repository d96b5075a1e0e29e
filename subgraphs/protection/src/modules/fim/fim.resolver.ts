import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { ResourceRef } from "../../references";
import { AppControlGroup } from "../appcontrol/appcontrol.types";
import {
  FileBaselineConnection,
  FileChangeConnection,
  FileChangeFilter,
  FimWatchList,
  ResetFimWatchedPathsInput,
  SetFimWatchedPathsInput,
} from "./fim.types";

/** File integrity monitoring: watch lists. */
@Resolver(() => FimWatchList)
export class FimResolver {
  @Authorized(Role.READER)
  @Query(() => [FimWatchList], {
    description:
      "File integrity monitoring watch lists: the tenant's (the built-in Linux and Windows list until set) first, then each application-control group's own.",
  })
  fimWatchLists(@Ctx() ctx: ProtectionContext) {
    return ctx.services.fim.watchLists();
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => FimWatchList, {
    description:
      "Replaces the watched paths of an application-control group, or of the tenant when no group is given (ADMIN).",
  })
  setFimWatchedPaths(
    @Arg("input", () => SetFimWatchedPathsInput) input: SetFimWatchedPathsInput,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.fim.setWatchedPaths(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => FimWatchList, {
    description:
      "Removes a group's own watched paths (it inherits the tenant's again), or the tenant's (back to the built-in list) (ADMIN).",
  })
  resetFimWatchedPaths(
    @Arg("input", () => ResetFimWatchedPathsInput, {
      nullable: true,
      description: "The group, or none for the tenant.",
    })
    input: ResetFimWatchedPathsInput | undefined,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.fim.resetWatchedPaths(input);
  }
}

/** `AppControlGroup.fimWatchList`. */
@Resolver(() => AppControlGroup)
export class GroupFimResolver {
  @FieldResolver(() => FimWatchList, {
    description: "The paths file integrity monitoring watches on the group's machines.",
  })
  fimWatchList(@Root() group: AppControlGroup, @Ctx() ctx: ProtectionContext) {
    return ctx.services.fim.groupList.load(group.id);
  }
}

/** `Resource.fileChanges` and `Resource.fileBaselines`. */
@Resolver(() => ResourceRef)
export class ResourceFimResolver {
  @FieldResolver(() => FileChangeConnection, {
    description:
      "Changes to the machine's watched files (file integrity monitoring), newest first, with the hashes before and after.",
  })
  fileChanges(
    @Root() resource: ResourceRef,
    @Arg("filter", () => FileChangeFilter, {
      nullable: true,
      description: "Actions, criticality, path, time.",
    })
    filter: FileChangeFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.fim.fileChanges(resource.id, filter, page);
  }

  @FieldResolver(() => FileBaselineConnection, {
    description: "The first hash seen for each of the machine's watched paths, by path.",
  })
  fileBaselines(@Root() resource: ResourceRef, @Args() page: PageArgs, @Ctx() ctx: ProtectionContext) {
    return ctx.services.fim.baselines(resource.id, page);
  }
}
