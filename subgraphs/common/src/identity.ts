import { SignJWT } from "jose";
import { isIP } from "node:net";
import { registerEnumType } from "type-graphql";
import type { Config } from "./config";
import { UnauthenticatedError } from "./errors";
import { countPreviousSecretUse, hs256Keys, verifyHs256, type Hs256Keys } from "./secret-ring";
import { canonicalId, isUuid } from "./validation";

/** What a caller may do. Each role includes the ones before it; INGESTOR stands alone. */
export enum Role {
  READER = "READER",
  ANALYST = "ANALYST",
  RESPONDER = "RESPONDER",
  ADMIN = "ADMIN",
  INGESTOR = "INGESTOR",
}

registerEnumType(Role, { name: "Role", description: "A caller's role within its tenant." });

const HIERARCHY: Record<Role, Role[]> = {
  [Role.READER]: [Role.READER],
  [Role.ANALYST]: [Role.READER, Role.ANALYST],
  [Role.RESPONDER]: [Role.READER, Role.ANALYST, Role.RESPONDER],
  [Role.ADMIN]: [Role.READER, Role.ANALYST, Role.RESPONDER, Role.ADMIN],
  [Role.INGESTOR]: [Role.INGESTOR],
};

/** The verified caller: who, in which tenant, with which roles. */
export interface Identity {
  subject: string;
  tenantId: string;
  roles: readonly Role[];
  /**
   * The address the gateway received the caller's request from (IPv4 in its dotted form, also when it came
   * as an IPv4-mapped IPv6 address), when the gateway could tell it: the connection's peer, or behind a
   * trusted proxy the address that proxy forwarded. It travels inside the signed internal token, so a
   * subgraph believes no header about it.
   */
  clientAddress?: string;
  /**
   * The one machine (Rampart resource id, lower case) a machine-bound agent credential speaks for: the client
   * token's `rampart:resource` claim (`JWT_RESOURCE_CLAIM`), which the gateway accepts with the INGESTOR role
   * alone. Unset for every other caller. Like the address it travels inside the signed internal token (`res`).
   * A bound caller reads only its machine's `agentPolicy` and pushes only its machine's telemetry and package
   * inventory; every other root field refuses it (`authCheckerFor`).
   */
  resourceId?: string;
}

/**
 * True when any of the caller's roles implies one of `required`. An empty `required` is false: a bare
 * `@Authorized()` names no role, and would otherwise let any valid token through, an INGESTOR's or one with no
 * role at all; every field must say which roles it serves (test/authorization-matrix.test.ts).
 */
export function hasAnyRole(identity: Identity, required: readonly Role[]): boolean {
  return identity.roles.some((r) => HIERARCHY[r]?.some((implied) => required.includes(implied)));
}

/** Parses a role list from a token claim, dropping anything that is not a known role. */
export function parseRoles(value: unknown): Role[] {
  const known = new Set<string>(Object.values(Role));
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is Role => typeof v === "string" && known.has(v));
}

const ISSUER = "rampart-gateway";
const AUDIENCE = "rampart-subgraphs";
/** Header that carries the internal identity token from the gateway to a subgraph. */
export const IDENTITY_HEADER = "x-rampart-identity";

/**
 * Signs and verifies the short-lived token the gateway sends to subgraphs. Verified tokens are
 * cached until they expire: a subgraph sees the same token on every fetch of one request and of
 * many requests from one client, and HMAC verification is the hottest thing on its request path.
 *
 * During a rotation a previous secret is accepted too (never used to sign). The keys are fixed for the
 * instance's life, and so is its cache: a process restarted without the previous secret starts with an
 * empty cache, so nothing it verified under that secret outlives the restart.
 */
export class InternalTokens {
  private readonly keys: Hs256Keys;
  /** `previous`: the token verified only with the previous secret (counted again at each use). */
  private readonly verified = new Map<string, { identity: Identity; expiresAt: number; previous: boolean }>();
  private readonly issued = new Map<string, { token: string; renewAt: number }>();

  /** `secret`: the secret that signs and verifies, or it and a previous one that only verifies. */
  constructor(
    secret: string | { current: string; previous?: string },
    private readonly ttlSeconds = 120,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = typeof secret === "string" ? hs256Keys(secret) : hs256Keys(secret.current, secret.previous);
  }

  /** The tokens of a process: INTERNAL_TOKEN_SECRET signs, INTERNAL_TOKEN_SECRET_PREVIOUS is accepted too. */
  static fromConfig(
    config: Pick<Config, "internalTokenSecret" | "internalTokenPreviousSecret">,
  ): InternalTokens {
    return new InternalTokens({
      current: config.internalTokenSecret,
      previous: config.internalTokenPreviousSecret,
    });
  }

  /** A token for `identity`, reused while more than half its lifetime remains. */
  async sign(identity: Identity): Promise<string> {
    const address = identity.clientAddress ?? "";
    const resource = identity.resourceId ?? "";
    const cacheKey = `${identity.tenantId}\u0000${identity.subject}\u0000${identity.roles.join(",")}\u0000${address}\u0000${resource}`;
    const cached = this.issued.get(cacheKey);
    const now = this.now();
    if (cached && cached.renewAt > now) return cached.token;
    const token = await new SignJWT({
      tid: identity.tenantId,
      roles: identity.roles,
      ...(address ? { addr: address } : {}),
      ...(resource ? { res: resource } : {}),
    })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(identity.subject)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + this.ttlSeconds)
      .sign(this.keys.current);
    if (this.issued.size > 10_000) this.issued.clear();
    this.issued.set(cacheKey, { token, renewAt: now + (this.ttlSeconds * 1000) / 2 });
    return token;
  }

  /** The identity in `token`; UnauthenticatedError when it is missing, forged or expired. */
  async verify(token: string | undefined): Promise<Identity> {
    if (!token) throw new UnauthenticatedError("Missing internal identity token.");
    const now = this.now();
    const hit = this.verified.get(token);
    if (hit && hit.expiresAt > now) {
      if (hit.previous) countPreviousSecretUse("internal-token");
      return hit.identity;
    }
    try {
      const { payload, previous } = await verifyHs256(token, this.keys, {
        issuer: ISSUER,
        audience: AUDIENCE,
        currentDate: new Date(now),
      });
      if (typeof payload.tid !== "string" || !payload.tid || typeof payload.sub !== "string") {
        throw new Error("identity claims missing");
      }
      const identity: Identity = {
        subject: payload.sub,
        tenantId: payload.tid,
        roles: parseRoles(payload.roles),
      };
      if (typeof payload.addr === "string" && isIP(payload.addr) !== 0) identity.clientAddress = payload.addr;
      // Signed with the rest: a bound token whose binding did not read back would be an unbound one.
      if (payload.res !== undefined) {
        if (typeof payload.res !== "string" || !isUuid(payload.res))
          throw new Error("resource claim invalid");
        identity.resourceId = canonicalId(payload.res);
      }
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(token, { identity, expiresAt: (payload.exp ?? 0) * 1000, previous });
      if (previous) countPreviousSecretUse("internal-token");
      return identity;
    } catch {
      throw new UnauthenticatedError("Invalid internal identity token.");
    }
  }
}
