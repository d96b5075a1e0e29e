import { Extensions, type AuthChecker } from "type-graphql";
import type { GraphQLResolveInfo, GraphQLSchema } from "graphql";
import { ForbiddenError } from "./errors";
import { hasAnyRole, Role, type Identity } from "./identity";

/** The part of every request context the auth checker needs. */
export interface AuthContext {
  identity: Identity;
}

/** What a machine-bound credential is told at a root field that is not its machine's. */
export const MACHINE_BOUND_REFUSAL =
  "A machine-bound agent credential reads only its machine's agentPolicy and pushes only its machine's telemetry and package inventory.";

/**
 * Marks a root field a machine-bound credential may call (`Identity.resourceId`): the field enforces the
 * binding itself (its machine only). Every other root field refuses such a caller (`authCheckerFor`):
 * deny by default, so a field added later is closed to bound credentials until it decides otherwise.
 */
export const MachineBound = (): MethodDecorator & PropertyDecorator => Extensions({ machineBound: true });

/** The `Type.field` names of the root fields marked `@MachineBound()` in a type-graphql schema. */
export function machineBoundFields(schema: GraphQLSchema): Set<string> {
  const fields = new Set<string>();
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()])
    for (const field of Object.values(type?.getFields() ?? {}))
      if (field.extensions?.machineBound === true) fields.add(`${type!.name}.${field.name}`);
  return fields;
}

/** True for a field at the operation's top (a root field), whatever the root type is called. */
const isRootField = (info: GraphQLResolveInfo): boolean => info.path.prev === undefined;

/**
 * type-graphql's `@Authorized(roles)` check: the caller needs one role implying any listed role.
 * Authorisation lives in the subgraph so it holds even when a subgraph is called directly. A machine-bound
 * credential is also kept to the root fields in `machineBound` (filled once the schema is built; the printed
 * subgraph schema keeps no extensions, so fields are looked up by coordinate): any other root field answers
 * FORBIDDEN, whatever its roles.
 */
export function authCheckerFor(machineBound: ReadonlySet<string>): AuthChecker<AuthContext, Role> {
  return ({ context, info }, roles) => {
    if (!hasAnyRole(context.identity, roles)) return false;
    if (
      context.identity.resourceId !== undefined &&
      isRootField(info) &&
      !machineBound.has(`${info.parentType.name}.${info.fieldName}`)
    )
      throw new ForbiddenError(MACHINE_BOUND_REFUSAL);
    return true;
  };
}

/**
 * For `__resolveReference`, which type-graphql's `@Authorized` does not guard: entity references
 * reach a subgraph straight through `_entities`, so reading them needs READER like any query.
 */
export function requireReader(ctx: AuthContext): void {
  if (!hasAnyRole(ctx.identity, [Role.READER])) throw new ForbiddenError();
}

/** `requireReader` for entities only some roles may read (the audit trail is ADMIN's). */
export function requireRoles(ctx: AuthContext, roles: readonly Role[]): void {
  if (!hasAnyRole(ctx.identity, roles)) throw new ForbiddenError();
}
