import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { PostureContext } from "../../context";
import { CloudAccount } from "../inventory/cloud-account.entity";
import { Resource } from "../inventory/resource.entity";
import { PolicyDefinition } from "../policies/policies.types";
import { AssessmentConnection, ExemptionConnection } from "./assessments.connections";
import {
  Assessment,
  AssessmentChange,
  AssessmentFilter,
  CreateExemptionInput,
  Exemption,
  ExemptionFilter,
  ExternalAssessmentInput,
  UpsertAssessmentsPayload,
} from "./assessments.types";

@Resolver(() => Assessment)
export class AssessmentResolver {
  @Authorized(Role.ADMIN, Role.INGESTOR)
  @Mutation(() => UpsertAssessmentsPayload, {
    description:
      "Reports assessments from other sources (typed EXTERNAL), idempotent on (resourceId, definitionKey). Bad records are listed in `rejected`; the good ones are kept.",
  })
  upsertAssessments(
    @Arg("input", () => [ExternalAssessmentInput]) input: ExternalAssessmentInput[],
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.assessments.upsertExternal(input);
  }

  @Authorized(Role.READER)
  @Query(() => ExemptionConnection, {
    description:
      "The tenant's exemptions, newest first, a page at a time (`totalCount` counts them all), optionally only those of a definition, an account or a resource.",
  })
  exemptions(
    @Arg("filter", () => ExemptionFilter, { nullable: true, description: "Conditions the exemptions meet." })
    filter: ExemptionFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.assessments.exemptions(filter, page);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Exemption, {
    description:
      "Exempts a definition for a resource, an account or the tenant (ADMIN); exempted assessments count as not applicable.",
  })
  createExemption(
    @Arg("input", () => CreateExemptionInput) input: CreateExemptionInput,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.assessments.createExemption(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Exemption, {
    description: "Revokes an exemption (ADMIN); its assessments return to their evaluated status.",
  })
  deleteExemption(@Arg("id", () => ID) id: string, @Ctx() ctx: PostureContext) {
    return ctx.services.assessments.deleteExemption(id);
  }

  @FieldResolver(() => Resource, { nullable: true, description: "The assessed resource." })
  resource(@Root() a: Assessment, @Ctx() ctx: PostureContext) {
    return ctx.loaders.resource.load(a.resourceId);
  }

  @FieldResolver(() => PolicyDefinition, {
    nullable: true,
    description: "The definition (or external assessment type).",
  })
  definition(@Root() a: Assessment, @Ctx() ctx: PostureContext) {
    return ctx.services.policies.byId(a.definitionId);
  }

  @FieldResolver(() => Exemption, { nullable: true, description: "The exemption that applies, if any." })
  exemption(@Root() a: Assessment, @Ctx() ctx: PostureContext) {
    return a.exemptionId ? ctx.services.assessments.exemption.load(a.exemptionId) : null;
  }

  @FieldResolver(() => [AssessmentChange], { description: "Status changes, newest first (up to 50)." })
  history(@Root() a: Assessment, @Ctx() ctx: PostureContext) {
    return ctx.services.assessments.history.load(a.id);
  }
}

@Resolver(() => Exemption)
export class ExemptionResolver {
  @FieldResolver(() => PolicyDefinition, {
    nullable: true,
    description: "The exempted definition (or external assessment type).",
  })
  definition(@Root() e: Exemption, @Ctx() ctx: PostureContext) {
    return ctx.services.policies.byId(e.definitionId);
  }

  @FieldResolver(() => Resource, {
    nullable: true,
    description: "The exempted resource; null for a wider exemption (see `resourceId`).",
  })
  resource(@Root() e: Exemption, @Ctx() ctx: PostureContext) {
    return e.resourceId ? ctx.loaders.resource.load(e.resourceId) : null;
  }

  @FieldResolver(() => CloudAccount, {
    nullable: true,
    description: "The account of the exemption (see `accountId`); null for a tenant-wide one.",
  })
  account(@Root() e: Exemption, @Ctx() ctx: PostureContext) {
    return e.accountId ? ctx.loaders.account.load(e.accountId) : null;
  }
}

@Resolver(() => Resource)
export class ResourceAssessmentsResolver {
  @FieldResolver(() => AssessmentConnection, { description: "The resource's assessments, by definition id." })
  assessments(
    @Root() resource: Resource,
    @Arg("filter", () => AssessmentFilter, {
      nullable: true,
      description: "Conditions the assessments must meet.",
    })
    filter: AssessmentFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.assessments.forResource(resource.id, filter, page);
  }
}
