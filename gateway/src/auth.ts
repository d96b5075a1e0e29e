import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";
import {
  canonicalId,
  countPreviousSecretUse,
  isUuid,
  hs256Keys,
  parseRoles,
  textProblem,
  UnauthenticatedError,
  verifyHs256,
  type Config,
  type Hs256Keys,
  type Identity,
  Role,
} from "../../subgraphs/common/src";

/** Longest tenant id or subject a client token may carry (Entra tenant ids are 36 characters). */
const MAX_CLAIM_LENGTH = 256;

const isStorableClaim = (value: string): boolean =>
  value.trim().length > 0 && value.length <= MAX_CLAIM_LENGTH && textProblem(value) === null;

/** Issuer of development tokens (`npm run token`). */
export const DEV_ISSUER = "rampart-dev";

/** The claim that binds an agent's token to one machine, unless `JWT_RESOURCE_CLAIM` names another. */
export const RESOURCE_CLAIM = "rampart:resource";

/**
 * A claim by name, or by JSON Pointer (RFC 6901: `/realm_access/roles`, `~1` for `/`, `~0` for `~`) when
 * the name starts with `/`.
 */
export function claimAt(payload: JWTPayload, claim: string): unknown {
  if (!claim.startsWith("/")) return payload[claim];
  let value: unknown = payload;
  for (const key of pointerKeys(claim)) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * The caller's roles from the roles claim: an array of values (or one value). Without a role map the values
 * are Rampart role names (others ignored); with one, each value the map names gives its roles.
 */
export function rolesOf(value: unknown, roleMap?: ReadonlyMap<string, Role[]>): Role[] {
  const values = Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
  if (!roleMap) return parseRoles(values);
  const roles = new Set<Role>();
  for (const v of values) if (typeof v === "string") for (const role of roleMap.get(v) ?? []) roles.add(role);
  return [...roles];
}

/**
 * Verifies client bearer tokens: a local HS256 key in development, an OIDC provider's JWKS in
 * production (with issuer and audience checks, and an `exp` required). The tenant comes from
 * `JWT_TENANT_CLAIM` (default `tid`, else `tenant_id`), the roles from `JWT_ROLES_CLAIM` (default
 * `roles`), mapped by `JWT_ROLE_MAP` when set, and a machine binding from `JWT_RESOURCE_CLAIM` (default
 * `rampart:resource`: a Rampart resource id, accepted with the INGESTOR role alone). With HS256, a token signed with JWT_SECRET_PREVIOUS is
 * accepted too while that is set (a rotation), and counted.
 */
export class ClientAuth {
  private readonly jwks?: JWTVerifyGetKey;
  private readonly secrets?: Hs256Keys;
  /**
   * Verified tokens until they expire: a client sends the same bearer token with every request,
   * and signature verification is the largest fixed cost of the gateway's request path. A cached
   * token is exactly as valid as a re-verified one (JWTs cannot be revoked before `exp`). The keys
   * are read once, at start, and the cache lives with them: a gateway restarted without the previous
   * secret has forgotten every token that secret verified. `previous`: verified only with it, so
   * each use is counted (the counter then says whether clients still hold such tokens).
   */
  private readonly verified = new Map<string, { identity: Identity; expiresAt: number; previous: boolean }>();

  constructor(private readonly jwt: Config["jwt"]) {
    if (jwt.jwksUrl) this.jwks = createRemoteJWKSet(new URL(jwt.jwksUrl));
    else if (jwt.secret) this.secrets = hs256Keys(jwt.secret, jwt.previousSecret);
    else throw new Error("JWT verification needs JWT_JWKS_URL or JWT_SECRET");
  }

  /** The identity in an `Authorization: Bearer …` header; UnauthenticatedError otherwise. */
  async authenticate(authorization: string | undefined): Promise<Identity> {
    return (await this.verify(authorization)).identity;
  }

  /**
   * The identity and when the token expires (epoch ms; null when it has no `exp`): live connections
   * outlast a request, so they end when their token does.
   */
  async verify(authorization: string | undefined): Promise<{ identity: Identity; expiresAt: number | null }> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (!match) throw new UnauthenticatedError("Send `Authorization: Bearer <token>`.");
    const hit = this.verified.get(match[1]);
    if (hit && hit.expiresAt > Date.now()) {
      if (hit.previous) countPreviousSecretUse("client-token");
      return { identity: hit.identity, expiresAt: hit.expiresAt };
    }
    let payload: JWTPayload;
    let previous = false;
    try {
      const options = { issuer: this.jwt.issuer, audience: this.jwt.audience };
      // A provider's token without `exp` would be good for ever (and cached as such): refused.
      if (this.jwks)
        payload = (await jwtVerify(match[1], this.jwks, { ...options, requiredClaims: ["exp"] })).payload;
      else ({ payload, previous } = await verifyHs256(match[1], this.secrets!, options));
    } catch {
      throw new UnauthenticatedError("The bearer token is invalid or expired.");
    }
    const tenantClaim = this.jwt.tenantClaim
      ? claimAt(payload, this.jwt.tenantClaim)
      : typeof payload.tid === "string"
        ? payload.tid
        : payload.tenant_id;
    const tenantId = typeof tenantClaim === "string" ? tenantClaim : undefined;
    if (!tenantId || !payload.sub)
      throw new UnauthenticatedError("The bearer token names no tenant or subject.");
    // Both are stored with every row a caller writes (and indexed): text Postgres holds, of bounded length.
    if (!isStorableClaim(tenantId) || !isStorableClaim(payload.sub))
      throw new UnauthenticatedError(
        `The bearer token's tenant or subject is not 1 to ${MAX_CLAIM_LENGTH} characters of valid text.`,
      );
    const identity: Identity = {
      subject: payload.sub,
      tenantId,
      roles: rolesOf(claimAt(payload, this.jwt.rolesClaim ?? "roles"), this.jwt.roleMap),
    };
    const resource = claimAt(payload, this.jwt.resourceClaim ?? RESOURCE_CLAIM);
    if (resource !== undefined) identity.resourceId = machineBinding(resource, identity.roles);
    if (previous) countPreviousSecretUse("client-token");
    if (typeof payload.exp !== "number") return { identity, expiresAt: null };
    const expiresAt = payload.exp * 1000;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(match[1], { identity, expiresAt, previous });
    return { identity, expiresAt };
  }
}

/**
 * The machine a token's resource claim binds it to (canonical id). A binding is an agent's credential: a
 * Rampart resource id, on a token whose only role is INGESTOR. Anything else is refused rather than ignored,
 * since a token meant to be bound must not pass as the tenant's (nor a binding widen a human's token).
 */
function machineBinding(value: unknown, roles: readonly Role[]): string {
  if (!isUuid(value))
    throw new UnauthenticatedError("The bearer token's machine binding is not a Rampart resource id.");
  if (roles.length !== 1 || roles[0] !== Role.INGESTOR)
    throw new UnauthenticatedError("A machine-bound token carries the INGESTOR role and no other.");
  return canonicalId(value);
}

/** The keys of a JSON Pointer (RFC 6901: `~1` is `/`, `~0` is `~`). */
const pointerKeys = (pointer: string): string[] =>
  pointer
    .slice(1)
    .split("/")
    .map((raw) => raw.replace(/~1/g, "/").replace(/~0/g, "~"));

/**
 * Puts a value where `claimAt` reads it: at a claim by name, or at a JSON Pointer (the objects on its way made
 * as needed).
 */
function putClaim(payload: JWTPayload, claim: string, value: unknown): void {
  if (!claim.startsWith("/")) {
    payload[claim] = value;
    return;
  }
  const keys = pointerKeys(claim);
  let node: Record<string, unknown> = payload;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = (node[key] = next !== null && typeof next === "object" ? next : {}) as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

/**
 * The roles claim's values for Rampart roles: the role names themselves, or under `JWT_ROLE_MAP` the provider
 * values that give exactly those roles together (one value a role, the first the map lists for it). A role no
 * value gives is an error: the token would not carry it.
 */
function roleClaimValues(roles: readonly Role[], roleMap?: ReadonlyMap<string, Role[]>): string[] {
  if (!roleMap) return [...roles];
  return roles.map((role) => {
    const value = [...roleMap].find(([, mapped]) => mapped.length === 1 && mapped[0] === role)?.[0];
    if (value === undefined) throw new Error(`JWT_ROLE_MAP maps no value to ${role} alone.`);
    return value;
  });
}

/**
 * Signs a development token (HS256 with JWT_SECRET). `claimNames` are the gateway's claim settings
 * (`JWT_TENANT_CLAIM`, `JWT_ROLES_CLAIM`, `JWT_ROLE_MAP`, `JWT_RESOURCE_CLAIM`): the token carries its tenant,
 * roles and machine binding where a gateway with those settings reads them (the defaults without).
 */
export async function signDevToken(
  secret: string,
  claims: {
    subject: string;
    tenantId: string;
    roles: Role[];
    /** Binds the token to this machine (`rampart:resource`): an agent's credential, INGESTOR only. */
    resourceId?: string;
    ttlSeconds?: number;
    issuer?: string;
    audience?: string;
  },
  claimNames: Pick<Config["jwt"], "tenantClaim" | "rolesClaim" | "roleMap" | "resourceClaim"> = {},
): Promise<string> {
  const payload: JWTPayload = {};
  putClaim(payload, claimNames.tenantClaim ?? "tid", claims.tenantId);
  putClaim(payload, claimNames.rolesClaim ?? "roles", roleClaimValues(claims.roles, claimNames.roleMap));
  if (claims.resourceId) putClaim(payload, claimNames.resourceClaim ?? RESOURCE_CLAIM, claims.resourceId);
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.subject)
    .setIssuer(claims.issuer ?? DEV_ISSUER)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds ?? 12 * 3600}s`);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
