import { ClientAuth, signDevToken } from "./auth";
import { previousSecretUses, Role } from "../../subgraphs/common/src";

const SECRET = "a-client-token-secret-that-is-32-chars+";

describe("client authentication", () => {
  it("verifies a bearer token once and answers repeats from the cache until it expires", async () => {
    const auth = new ClientAuth({ secret: SECRET });
    const token = await signDevToken(SECRET, {
      subject: "alice",
      tenantId: "t1",
      roles: [Role.ANALYST],
      ttlSeconds: 2,
    });
    const first = await auth.authenticate(`Bearer ${token}`);
    expect(first).toEqual({ subject: "alice", tenantId: "t1", roles: [Role.ANALYST] });
    expect(await auth.authenticate(`Bearer ${token}`)).toBe(first);
    await new Promise((r) => setTimeout(r, 2100));
    await expect(auth.authenticate(`Bearer ${token}`)).rejects.toThrow(/invalid or expired/);
  });

  it("refuses tampered, foreign and malformed tokens", async () => {
    const auth = new ClientAuth({ secret: SECRET });
    const token = await signDevToken(SECRET, { subject: "alice", tenantId: "t1", roles: [Role.READER] });
    const [h, p, sig] = token.split(".");
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), roles: ["ADMIN"] }),
    ).toString("base64url");
    await expect(auth.authenticate(`Bearer ${h}.${forged}.${sig}`)).rejects.toThrow();
    const foreign = await signDevToken("another-secret-that-is-also-32-chars-long", {
      subject: "x",
      tenantId: "t1",
      roles: [Role.ADMIN],
    });
    await expect(auth.authenticate(`Bearer ${foreign}`)).rejects.toThrow();
    for (const tenantId of ["t".repeat(257), "t1\u0000", "t\ud800", "  "]) {
      const odd = await signDevToken(SECRET, { subject: "alice", tenantId, roles: [Role.READER] });
      await expect(auth.authenticate(`Bearer ${odd}`)).rejects.toThrow(/1 to 256 characters of valid text/);
    }
    const longSubject = await signDevToken(SECRET, { subject: "s".repeat(257), tenantId: "t1", roles: [] });
    await expect(auth.authenticate(`Bearer ${longSubject}`)).rejects.toThrow(/1 to 256 characters/);
    const widest = await signDevToken(SECRET, { subject: "s", tenantId: "t".repeat(256), roles: [] });
    expect((await auth.authenticate(`Bearer ${widest}`)).tenantId).toHaveLength(256);
    await expect(auth.authenticate("Basic abc")).rejects.toThrow(/Bearer/);
    await expect(auth.authenticate(undefined)).rejects.toThrow(/Bearer/);
  });

  it("accepts a token signed with JWT_SECRET_PREVIOUS while it is set, counting each use", async () => {
    const OLD = "the-old-client-token-secret-of-32-chars";
    const rolling = new ClientAuth({ secret: SECRET, previousSecret: OLD });
    const claims = { subject: "alice", tenantId: "t1", roles: [Role.READER] };
    const old = await signDevToken(OLD, claims);
    const uses = await previousSecretUses("client-token");
    expect(await rolling.authenticate(`Bearer ${old}`)).toEqual({ ...claims });
    expect(await rolling.authenticate(`Bearer ${old}`)).toEqual({ ...claims });
    expect(await rolling.authenticate(`Bearer ${await signDevToken(SECRET, claims)}`)).toEqual({ ...claims });
    expect(await previousSecretUses("client-token")).toBe(uses + 2);
    // A gateway without it refuses the old token; one with other secrets refuses both.
    await expect(new ClientAuth({ secret: SECRET }).authenticate(`Bearer ${old}`)).rejects.toThrow(
      /invalid or expired/,
    );
    const foreign = await signDevToken("another-secret-that-is-also-32-chars-long", claims);
    await expect(rolling.authenticate(`Bearer ${foreign}`)).rejects.toThrow(/invalid or expired/);
    expect(await previousSecretUses("client-token")).toBe(uses + 2);
  });
});
