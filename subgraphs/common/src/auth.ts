import type { AuthChecker } from "type-graphql";
import { hasAnyRole, type Identity, type Role } from "./identity";

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
