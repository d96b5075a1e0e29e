import type { AuthChecker } from "type-graphql";
import { ForbiddenError } from "./errors";
import { hasAnyRole, Role, type Identity } from "./identity";

/** The part of every request context the auth checker needs. */
export interface AuthContext {
  identity: Identity;
}

/**
 * type-graphql's `@Authorized(roles)` check: the caller needs one role implying any listed role.
 * Authorisation lives in the subgraph so it holds even when a subgraph is called directly.
 */
export const authChecker: AuthChecker<AuthContext, Role> = ({ context }, roles) =>
  hasAnyRole(context.identity, roles);

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
