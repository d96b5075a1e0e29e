/*
 * Overlapping secrets, so that a shared HMAC secret can be rotated one process at a time. INTERNAL_TOKEN_SECRET
 * and JWT_SECRET each may have a second, verify-only value (INTERNAL_TOKEN_SECRET_PREVIOUS, JWT_SECRET_PREVIOUS):
 * a process signs with the current secret only and accepts what either one signed, so processes on the old
 * secret and processes on the new one understand each other while a rolling restart is under way.
 *
 * Every acceptance that needed the previous secret is counted, by kind: once the counter stops rising on every
 * process, nothing signed with the previous secret is left in flight and it can be removed.
 */
import { errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from "jose";
import { Counter, register } from "prom-client";

/** What was signed with the previous secret: an internal identity token, a client token, a queued chunk. */
export type PreviousSecretUse = "internal-token" | "client-token" | "ingest-chunk";

const previousSecretAccepted =
  (register.getSingleMetric("rampart_previous_secret_accepted_total") as Counter<"kind"> | undefined) ??
  new Counter({
    name: "rampart_previous_secret_accepted_total",
    help: "Tokens and queued chunks accepted only because of the previous secret (INTERNAL_TOKEN_SECRET_PREVIOUS, JWT_SECRET_PREVIOUS), by kind.",
    labelNames: ["kind"],
  });

/** Counts one acceptance that the current secret alone would have refused. */
export function countPreviousSecretUse(kind: PreviousSecretUse): void {
  previousSecretAccepted.inc({ kind });
}

/** How many acceptances of `kind` needed the previous secret in this process (in-process readers: tests). */
export async function previousSecretUses(kind: PreviousSecretUse): Promise<number> {
  const metric = await previousSecretAccepted.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

/** An HS256 key and, during a rotation, the other one still accepted. */
export interface Hs256Keys {
  current: Uint8Array;
  previous?: Uint8Array;
}

/** The keys of a secret and its optional previous value. */
export function hs256Keys(current: string, previous?: string): Hs256Keys {
  const encode = (s: string) => new TextEncoder().encode(s);
  return previous ? { current: encode(current), previous: encode(previous) } : { current: encode(current) };
}

/**
 * Verifies an HS256 JWT with the current key, and with the previous one only when the signature is not the
 * current key's: a token that is expired, or for another issuer or audience, fails alike under both, so it is
 * not verified twice. Answers the payload and whether the previous key was needed; throws jose's error.
 */
export async function verifyHs256(
  token: string,
  keys: Hs256Keys,
  options: Omit<JWTVerifyOptions, "algorithms">,
): Promise<{ payload: JWTPayload; previous: boolean }> {
  const hs256 = { ...options, algorithms: ["HS256"] };
  try {
    return { payload: (await jwtVerify(token, keys.current, hs256)).payload, previous: false };
  } catch (err) {
    if (!keys.previous || !(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
  }
  return { payload: (await jwtVerify(token, keys.previous, hs256)).payload, previous: true };
}
