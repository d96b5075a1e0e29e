import { IDENTITY_HEADER, type Identity, type InternalTokens } from "../../../../common/src";

const ACCOUNT_QUERY = `query PlanAccount($id: ID!) { account(id: $id) { id } }`;

/** Posture did not say whether the account exists (down, overloaded, or refusing): nothing may be changed. */
export class PostureUnreachableError extends Error {}

/** How protection reaches posture's graph. */
export interface PostureAccountsOptions {
  /** posture's GraphQL URL, read at each call (tests start posture on a port chosen at run time). */
  postureUrl: () => string;
  /** Signs the caller's identity for posture, as the gateway would. */
  tokens: InternalTokens;
  /** Per call (default 10 s). */
  timeoutMs?: number;
}

/**
 * The inventory's accounts, as posture (their owner) answers for the caller. Protection holds no inventory and
 * never reads posture's schema, so whether a tenant has an account is asked through posture's graph, with the
 * caller's own identity: posture scopes the answer to the caller's tenant and roles exactly as it would for a
 * query through the gateway, so another tenant's account is as absent as one that never existed.
 */
export class PostureAccounts {
  constructor(private readonly options: PostureAccountsOptions) {}

  /** Whether the caller's tenant has the account; PostureUnreachableError when posture gives no answer. */
  async exists(identity: Identity, accountId: string): Promise<boolean> {
    // The caller's tenant, subject and roles, without the client address (posture has no use for it).
    const token = await this.options.tokens.sign({
      tenantId: identity.tenantId,
      subject: identity.subject,
      roles: identity.roles,
    });
    const data = await askPosture<{ account?: { id: string } | null }>(this.options, token, ACCOUNT_QUERY, {
      id: accountId,
    });
    if (data.account === undefined) throw new PostureUnreachableError("posture answered without an account");
    return data.account !== null;
  }
}

/**
 * Sends one query to posture's graph under `token` and returns its data; PostureUnreachableError when posture
 * gives no answer, or answers with errors.
 */
export async function askPosture<T>(
  options: PostureAccountsOptions,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<T> {
  let body: { data?: T | null; errors?: Array<{ message: string }> };
  let status: number;
  try {
    const res = await fetch(options.postureUrl(), {
      method: "POST",
      headers: { "content-type": "application/json", [IDENTITY_HEADER]: token },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    status = res.status;
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw new PostureUnreachableError(`posture did not answer: ${(err as Error).message}`, { cause: err });
  }
  if (body.data && !body.errors?.length) return body.data;
  throw new PostureUnreachableError(
    `posture answered HTTP ${status}: ${(body.errors ?? []).map((e) => e.message).join("; ") || "no data"}`,
  );
}
