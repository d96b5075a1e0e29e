import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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

  describe("with an identity provider's keys (JWKS over HTTP)", () => {
    let server: Server;
    let jwksUrl: string;
    let sign: (
      claims: JWTPayload,
      options?: { exp?: boolean; aud?: string; iss?: string },
    ) => Promise<string>;
    const ISSUER = "https://login.example.com/tenant/v2.0";
    const AUDIENCE = "api://rampart";

    beforeAll(async () => {
      const { publicKey, privateKey } = await generateKeyPair("RS256");
      const jwks = JSON.stringify({
        keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" }],
      });
      server = createServer((_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(jwks),
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
      sign = async (claims, options = {}) => {
        const jwt = new SignJWT(claims)
          .setProtectedHeader({ alg: "RS256", kid: "k1" })
          .setSubject("alice@example.com")
          .setIssuer(options.iss ?? ISSUER)
          .setAudience(options.aud ?? AUDIENCE)
          .setIssuedAt();
        if (options.exp !== false) jwt.setExpirationTime("1h");
        return jwt.sign(privateKey);
      };
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("checks issuer, audience and expiry, reading tid and roles by default", async () => {
      const auth = new ClientAuth({ jwksUrl, issuer: ISSUER, audience: AUDIENCE });
      expect(
        await auth.authenticate(`Bearer ${await sign({ tid: "t1", roles: ["ANALYST", "Other"] })}`),
      ).toEqual({
        subject: "alice@example.com",
        tenantId: "t1",
        roles: [Role.ANALYST],
      });
      for (const token of [
        await sign({ tid: "t1", roles: ["ADMIN"] }, { aud: "api://another-app" }),
        await sign({ tid: "t1", roles: ["ADMIN"] }, { iss: "https://evil.example.com/" }),
        await sign({ tid: "t1", roles: ["ADMIN"] }, { exp: false }),
      ])
        await expect(auth.authenticate(`Bearer ${token}`)).rejects.toThrow(/invalid or expired/);
    });

    it("reads the tenant and roles from configured claims and maps the provider's roles", async () => {
      const auth = new ClientAuth({
        jwksUrl,
        issuer: ISSUER,
        audience: AUDIENCE,
        tenantClaim: "/org/id",
        rolesClaim: "/realm_access/roles",
        roleMap: new Map([
          ["soc-admins", [Role.ADMIN, Role.ANALYST]],
          ["soc-readers", [Role.READER]],
        ]),
      });
      const token = await sign({
        tid: "not-this-one",
        org: { id: "t9" },
        realm_access: { roles: ["soc-admins", "soc-readers", "ADMIN", "offline_access"] },
      });
      const identity = await auth.authenticate(`Bearer ${token}`);
      expect(identity.tenantId).toBe("t9");
      // Only mapped values count: a raw "ADMIN" value is not a role when a map is set.
      expect([...identity.roles].sort()).toEqual([Role.ADMIN, Role.ANALYST, Role.READER]);
      // A token without the configured tenant claim names no tenant, whatever else it carries.
      await expect(
        auth.authenticate(`Bearer ${await sign({ tid: "t1", roles: ["soc-admins"] })}`),
      ).rejects.toThrow(/names no tenant/);
      // A single role value (not an array) and a claim name that is a URL (Auth0's namespaced claims).
      const named = new ClientAuth({
        jwksUrl,
        issuer: ISSUER,
        audience: AUDIENCE,
        rolesClaim: "https://rampart.example/roles",
      });
      const one = await sign({ tid: "t1", "https://rampart.example/roles": "READER" });
      expect((await named.authenticate(`Bearer ${one}`)).roles).toEqual([Role.READER]);
    });
  });

  it("binds an INGESTOR token to the machine its `rampart:resource` claim names, and refuses any other binding", async () => {
    const auth = new ClientAuth({ secret: SECRET });
    const machine = "9F8B77A8-6ECB-4A6D-8606-B596B41BF3C6";
    const bound = await signDevToken(SECRET, {
      subject: "agent",
      tenantId: "t1",
      roles: [Role.INGESTOR],
      resourceId: machine,
    });
    expect(await auth.authenticate(`Bearer ${bound}`)).toEqual({
      subject: "agent",
      tenantId: "t1",
      roles: [Role.INGESTOR],
      resourceId: machine.toLowerCase(),
    });
    const unbound = await signDevToken(SECRET, { subject: "agent", tenantId: "t1", roles: [Role.INGESTOR] });
    expect(await auth.authenticate(`Bearer ${unbound}`)).not.toHaveProperty("resourceId");
    const claims = async (extra: JWTPayload, roles: string[] = ["INGESTOR"]) =>
      new SignJWT({ tid: "t1", roles, ...extra })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("agent")
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(SECRET));
    // A binding on a human's token, or one that names no machine, fails the token rather than being ignored.
    for (const token of [
      await claims({ "rampart:resource": machine }, ["ADMIN"]),
      await claims({ "rampart:resource": machine }, ["INGESTOR", "READER"]),
      await claims({ "rampart:resource": machine }, []),
      await claims({ "rampart:resource": "vm-web-prod-02" }),
      await claims({ "rampart:resource": [machine] }),
      await claims({ "rampart:resource": null }),
    ])
      await expect(auth.authenticate(`Bearer ${token}`)).rejects.toThrow(/machine/);
    // JWT_RESOURCE_CLAIM names where a provider keeps it.
    const nested = new ClientAuth({ secret: SECRET, resourceClaim: "/agent/machine" });
    const token = await claims({ agent: { machine } });
    expect((await nested.authenticate(`Bearer ${token}`)).resourceId).toBe(machine.toLowerCase());
  });

  it("signs development tokens with the claims where the gateway's claim settings read them", async () => {
    const machine = "0B6F8C52-5C1E-4E55-9D0B-3A1F9C2E7D41";
    const settings = {
      tenantClaim: "/org/id",
      rolesClaim: "https://rampart.example/roles",
      resourceClaim: "/agent/machine",
    };
    const auth = new ClientAuth({ secret: SECRET, ...settings });
    const bound = await signDevToken(
      SECRET,
      { subject: "agent", tenantId: "t1", roles: [Role.INGESTOR], resourceId: machine },
      settings,
    );
    expect(await auth.authenticate(`Bearer ${bound}`)).toEqual({
      subject: "agent",
      tenantId: "t1",
      roles: [Role.INGESTOR],
      resourceId: machine.toLowerCase(),
    });
    // Signed with the default names, the same token names no tenant for this gateway: it fails rather than
    // passing unbound.
    const defaults = await signDevToken(SECRET, {
      subject: "agent",
      tenantId: "t1",
      roles: [Role.INGESTOR],
      resourceId: machine,
    });
    await expect(auth.authenticate(`Bearer ${defaults}`)).rejects.toThrow(/no tenant/);
    // Under a role map the roles claim carries the provider's values that give each role.
    const roleMap = new Map<string, Role[]>([
      ["soc-leads", [Role.ANALYST, Role.ADMIN]],
      ["soc", [Role.ANALYST]],
      ["viewers", [Role.READER]],
    ]);
    const mapped = new ClientAuth({ secret: SECRET, roleMap });
    const token = await signDevToken(
      SECRET,
      { subject: "bob", tenantId: "t1", roles: [Role.ANALYST, Role.READER] },
      { roleMap },
    );
    const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()) as JWTPayload;
    expect(payload.roles).toEqual(["soc", "viewers"]);
    expect([...(await mapped.authenticate(`Bearer ${token}`)).roles].sort()).toEqual([
      Role.ANALYST,
      Role.READER,
    ]);
    await expect(
      signDevToken(SECRET, { subject: "bob", tenantId: "t1", roles: [Role.ADMIN] }, { roleMap }),
    ).rejects.toThrow(/maps no value to ADMIN/);
  });
});
