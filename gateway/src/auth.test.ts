import { ClientAuth, signDevToken } from "./auth";
import { Role } from "../../subgraphs/common/src";

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
    await expect(auth.authenticate("Basic abc")).rejects.toThrow(/Bearer/);
    await expect(auth.authenticate(undefined)).rejects.toThrow(/Bearer/);
  });
});
