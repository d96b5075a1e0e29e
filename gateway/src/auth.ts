import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";
import {
  parseRoles,
  textProblem,
  UnauthenticatedError,
  type Config,
  type Identity,
  type Role,
} from "../../subgraphs/common/src";

/** Longest tenant id or subject a client token may carry (Entra tenant ids are 36 characters). */
const MAX_CLAIM_LENGTH = 256;

const isStorableClaim = (value: string): boolean =>
  value.trim().length > 0 && value.length <= MAX_CLAIM_LENGTH && textProblem(value) === null;

/** Issuer of development tokens (`npm run token`). */
export const DEV_ISSUER = "rampart-dev";

/**
 * Verifies client bearer tokens: a local HS256 key in development, an OIDC provider's JWKS in
 * production (with issuer and audience checks). The tenant comes from `tid` (or `tenant_id`),
 * the roles from `roles`.
 */
export class ClientAuth {
  private readonly jwks?: JWTVerifyGetKey;
  private readonly secret?: Uint8Array;
  /**
   * Verified tokens until they expire: a client sends the same bearer token with every request,
   * and signature verification is the largest fixed cost of the gateway's request path. A cached
   * token is exactly as valid as a re-verified one (JWTs cannot be revoked before `exp`).
   */
  private readonly verified = new Map<string, { identity: Identity; expiresAt: number }>();

  constructor(private readonly jwt: Config["jwt"]) {
    if (jwt.jwksUrl) this.jwks = createRemoteJWKSet(new URL(jwt.jwksUrl));
    else if (jwt.secret) this.secret = new TextEncoder().encode(jwt.secret);
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
    if (hit && hit.expiresAt > Date.now()) return hit;
    let payload: JWTPayload;
    try {
      const options = { issuer: this.jwt.issuer, audience: this.jwt.audience };
      payload = this.jwks
        ? (await jwtVerify(match[1], this.jwks, options)).payload
        : (await jwtVerify(match[1], this.secret!, { ...options, algorithms: ["HS256"] })).payload;
    } catch {
      throw new UnauthenticatedError("The bearer token is invalid or expired.");
    }
    const tenantId =
      typeof payload.tid === "string"
        ? payload.tid
        : typeof payload.tenant_id === "string"
          ? payload.tenant_id
          : undefined;
    if (!tenantId || !payload.sub)
      throw new UnauthenticatedError("The bearer token names no tenant or subject.");
    // Both are stored with every row a caller writes (and indexed): text Postgres holds, of bounded length.
    if (!isStorableClaim(tenantId) || !isStorableClaim(payload.sub))
      throw new UnauthenticatedError(
        `The bearer token's tenant or subject is not 1 to ${MAX_CLAIM_LENGTH} characters of valid text.`,
      );
    const identity: Identity = { subject: payload.sub, tenantId, roles: parseRoles(payload.roles) };
    if (typeof payload.exp !== "number") return { identity, expiresAt: null };
    const verified = { identity, expiresAt: payload.exp * 1000 };
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(match[1], verified);
    return verified;
  }
}

/** Signs a development token (HS256 with JWT_SECRET). */
export async function signDevToken(
  secret: string,
  claims: {
    subject: string;
    tenantId: string;
    roles: Role[];
    ttlSeconds?: number;
    issuer?: string;
    audience?: string;
  },
): Promise<string> {
  const jwt = new SignJWT({ tid: claims.tenantId, roles: claims.roles })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.subject)
    .setIssuer(claims.issuer ?? DEV_ISSUER)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds ?? 12 * 3600}s`);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
