import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { PostureContext } from "../../context";
import { PolicyDefinitionConnection } from "./policies.connections";
import {
  PolicyDefinitionFilter,
  PolicyDefinitionInput,
  SetPolicyDefinitionEnabledInput,
} from "./policies.inputs";
import { securityControls } from "./policies.service";
import { PolicyDefinition, PolicyDefinitionSetting, SecurityControl } from "./policies.types";

@Resolver(() => PolicyDefinition)
export class PoliciesResolver {
  @Authorized(Role.READER)
  @Query(() => [SecurityControl], {
    description: "The security controls of the Secure Score, with their points.",
  })
  securityControls(): SecurityControl[] {
    return securityControls();
  }

  @Authorized(Role.READER)
  @Query(() => PolicyDefinitionConnection, {
    description: "Built-in, custom and external policy definitions, by id.",
  })
  policyDefinitions(
    @Arg("filter", () => PolicyDefinitionFilter, {
      nullable: true,
      description: "Conditions the definitions must meet.",
    })
    filter: PolicyDefinitionFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.policies.list(filter, page);
  }

  @Authorized(Role.READER)
  @Query(() => PolicyDefinition, { nullable: true, description: "One definition by id; null when unknown." })
  policyDefinition(@Arg("id", () => ID) id: string, @Ctx() ctx: PostureContext) {
    return ctx.services.policies.byId(id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => PolicyDefinition, {
    description:
      "Creates a custom definition (ADMIN) and evaluates it over every resource in the same transaction. Invalid conditions are BAD_USER_INPUT naming the JSON path of each fault.",
  })
  createPolicyDefinition(
    @Arg("input", () => PolicyDefinitionInput) input: PolicyDefinitionInput,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.policies.create(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => PolicyDefinition, {
    description: "Replaces a custom definition with a new version (ADMIN) and re-evaluates it.",
  })
  updatePolicyDefinition(
    @Arg("id", () => ID) id: string,
    @Arg("input", () => PolicyDefinitionInput) input: PolicyDefinitionInput,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.policies.update(id, input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => PolicyDefinition, {
    description:
      "Deletes a custom definition (ADMIN) and, in the same transaction, its assessments, per-account settings and exemptions, which leave the Secure Score and the recommendations; returns the deleted definition. Built-in definitions cannot be deleted (FORBIDDEN; disable them per account instead); an id that is no custom definition of the tenant is NOT_FOUND.",
  })
  deletePolicyDefinition(@Arg("id", () => ID) id: string, @Ctx() ctx: PostureContext) {
    return ctx.services.policies.delete(id);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => PolicyDefinitionSetting, {
    description:
      "Enables or disables a definition in an account (ADMIN); a disabled definition leaves the score.",
  })
  setPolicyDefinitionEnabled(
    @Arg("input", () => SetPolicyDefinitionEnabledInput) input: SetPolicyDefinitionEnabledInput,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.policies.setEnabled(input);
  }
}
