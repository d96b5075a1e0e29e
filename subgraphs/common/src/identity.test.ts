import { hasAnyRole, InternalTokens, parseRoles, Role, type Identity } from "./identity";
import { UnauthenticatedError } from "./errors";
import { previousSecretUses } from "./secret-ring";

const SECRET = "a-test-secret-that-is-at-least-32-chars";
const who = (roles: Role[]): Identity => ({ subject: "u", tenantId: "t", roles });

describe("roles", () => {
  it("let higher roles do what lower ones may, but keep INGESTOR apart", () => {
    expect(hasAnyRole(who([Role.ADMIN]), [Role.READER])).toBe(true);
    expect(hasAnyRole(who([Role.RESPONDER]), [Role.ANALYST])).toBe(true);
    expect(hasAnyRole(who([Role.ANALYST]), [Role.RESPONDER])).toBe(false);
    expect(hasAnyRole(who([Role.INGESTOR]), [Role.READER])).toBe(false);
    expect(hasAnyRole(who([Role.ADMIN]), [Role.INGESTOR])).toBe(false);
    expect(hasAnyRole(who([]), [Role.READER])).toBe(false);
    // Naming no role allows no one (a bare `@Authorized()` fails closed).
    expect(hasAnyRole(who([Role.ADMIN]), [])).toBe(false);
    expect(hasAnyRole(who([Role.INGESTOR]), [])).toBe(false);
  });

  it("ignore unknown role claims", () => {
    expect(parseRoles(["READER", "ROOT", 7])).toEqual([Role.READER]);
    expect(parseRoles("ADMIN")).toEqual([]);
  });
});

describe("internal identity tokens", () => {
  it("carry tenant, subject and roles from the gateway to a subgraph", async () => {
    const tokens = new InternalTokens(SECRET);
    const identity = who([Role.ANALYST]);
    expect(await tokens.verify(await tokens.sign(identity))).toEqual(identity);
  });

  it("carry the client address the gateway saw, and sign a token per address", async () => {
    const tokens = new InternalTokens(SECRET);
    const here = { ...who([Role.RESPONDER]), clientAddress: "203.0.113.9" };
    const there = { ...who([Role.RESPONDER]), clientAddress: "2001:db8::1" };
    const [a, b] = [await tokens.sign(here), await tokens.sign(there)];
    expect(a).not.toBe(b);
    expect(await tokens.verify(a)).toEqual(here);
    expect(await tokens.verify(b)).toEqual(there);
    expect(await tokens.verify(await tokens.sign(who([Role.RESPONDER])))).not.toHaveProperty("clientAddress");
  });

  it("carry a machine binding, signed with the rest, and sign a token per binding", async () => {
    const tokens = new InternalTokens(SECRET);
    const unbound = who([Role.INGESTOR]);
    const bound = { ...unbound, resourceId: "9f8b77a8-6ecb-4a6d-8606-b596b41bf3c6" };
    const [a, b] = [await tokens.sign(unbound), await tokens.sign(bound)];
    // The same subject, tenant and roles: a cached token of one must never serve the other.
    expect(a).not.toBe(b);
    expect(await tokens.verify(a)).not.toHaveProperty("resourceId");
    expect(await tokens.verify(b)).toEqual(bound);
    expect(await tokens.verify(await tokens.sign(bound))).toEqual(bound);
  });

  it("are refused when forged, missing or expired", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const gateway = new InternalTokens(SECRET, 60, () => now);
    const subgraph = new InternalTokens(SECRET, 60, () => now);
    const forger = new InternalTokens("another-secret-that-is-32-characters-long", 60, () => now);
    await expect(subgraph.verify(await forger.sign(who([Role.ADMIN])))).rejects.toThrow(UnauthenticatedError);
    await expect(subgraph.verify(undefined)).rejects.toThrow(UnauthenticatedError);
    const token = await gateway.sign(who([Role.READER]));
    await expect(subgraph.verify(token)).resolves.toEqual(who([Role.READER]));
    now += 61_000;
    await expect(subgraph.verify(token)).rejects.toThrow(UnauthenticatedError);
  });

  it("are re-signed once half their lifetime has passed", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const tokens = new InternalTokens(SECRET, 60, () => now);
    const first = await tokens.sign(who([Role.READER]));
    now += 10_000;
    expect(await tokens.sign(who([Role.READER]))).toBe(first);
    now += 25_000;
    expect(await tokens.sign(who([Role.READER]))).not.toBe(first);
  });

  it("are accepted under the previous secret during a rotation, counted at each use, and signed with the current one only", async () => {
    const OLD = "the-old-internal-secret-of-32-characters";
    const NEW = "the-new-internal-secret-of-32-characters";
    const now = Date.parse("2026-01-01T00:00:00Z");
    const oldProcess = new InternalTokens(OLD, 60, () => now);
    const rolling = new InternalTokens({ current: NEW, previous: OLD }, 60, () => now);
    const newOnly = new InternalTokens(NEW, 60, () => now);
    const identity = who([Role.ANALYST]);
    const uses = await previousSecretUses("internal-token");
    const fromOld = await oldProcess.sign(identity);
    expect(await rolling.verify(fromOld)).toEqual(identity);
    // Answered from the cache, and counted again: the counter says the old secret is still in use.
    expect(await rolling.verify(fromOld)).toEqual(identity);
    expect(await previousSecretUses("internal-token")).toBe(uses + 2);
    // What it signs, the new secret alone verifies, and that costs the previous secret nothing.
    expect(await newOnly.verify(await rolling.sign(identity))).toEqual(identity);
    expect(await rolling.verify(await newOnly.sign(identity))).toEqual(identity);
    await expect(oldProcess.verify(await rolling.sign(identity))).rejects.toThrow(UnauthenticatedError);
    expect(await previousSecretUses("internal-token")).toBe(uses + 2);
    // Once the previous secret is gone (a process started without it), the old token is refused.
    await expect(newOnly.verify(fromOld)).rejects.toThrow(UnauthenticatedError);
    const forger = new InternalTokens("another-secret-that-is-32-characters-long", 60, () => now);
    await expect(rolling.verify(await forger.sign(identity))).rejects.toThrow(UnauthenticatedError);
  });

  it("refuse an expired token under the previous secret like under the current one", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const OLD = "the-old-internal-secret-of-32-characters";
    const token = await new InternalTokens(OLD, 60, () => now).sign(who([Role.READER]));
    const rolling = new InternalTokens({ current: "n".repeat(40), previous: OLD }, 60, () => now);
    await expect(rolling.verify(token)).resolves.toEqual(who([Role.READER]));
    now += 61_000;
    await expect(rolling.verify(token)).rejects.toThrow(UnauthenticatedError);
  });
});
