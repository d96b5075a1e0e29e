import { execFileSync } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, decodeJwt } from "jose";
import { CrossDomainDocument } from "./__generated__/graphql";
import { startTestPlatform, postGraphql, type TestPlatform } from "./utils/platform";
import { print } from "graphql";

describe("production-style client authentication (OIDC JWKS)", () => {
  let platform: TestPlatform;
  let jwks: http.Server;
  let privateKey: CryptoKey;

  const sign = (claims: { aud?: string; iss?: string; tid?: string }) =>
    new SignJWT({ tid: claims.tid ?? "tenant-a", roles: ["READER"] })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
      .setSubject("alice@example.com")
      .setIssuer(claims.iss ?? "https://login.example.test/")
      .setAudience(claims.aud ?? "rampart-api")
      .setExpirationTime("5m")
      .sign(privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    privateKey = pair.privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "EdDSA", use: "sig" };
    jwks = http.createServer((_req, res) =>
      res.setHeader("content-type", "application/json").end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
      JWT_ISSUER: "https://login.example.test/",
      JWT_AUDIENCE: "rampart-api",
    });
  });
  afterAll(async () => {
    await platform?.stop();
    jwks?.close();
  });

  it("accepts a token signed by the provider's key with the right issuer and audience", async () => {
    const res = await postGraphql(
      platform.gateway.url,
      { query: print(CrossDomainDocument) },
      { authorization: `Bearer ${await sign({})}` },
    );
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
  });

  it("rejects a wrong audience or issuer", async () => {
    for (const token of [await sign({ aud: "another-api" }), await sign({ iss: "https://evil.example/" })]) {
      const res = await postGraphql(
        platform.gateway.url,
        { query: print(CrossDomainDocument) },
        { authorization: `Bearer ${token}` },
      );
      expect(res.status).toBe(401);
      expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    }
  });
});

describe("npm run token", () => {
  it("prints a development token and nothing else", () => {
    const out = execFileSync(
      process.execPath,
      ["dist/scripts/token.js", "--roles", "READER,ANALYST", "--tenant", "t-42"],
      { encoding: "utf8" },
    );
    expect(out).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(decodeJwt(out.trim())).toMatchObject({
      tid: "t-42",
      roles: ["READER", "ANALYST"],
      iss: "rampart-dev",
    });
    expect(
      decodeJwt(execFileSync(process.execPath, ["dist/scripts/token.js"], { encoding: "utf8" }).trim()),
    ).toMatchObject({ tid: "demo" });
  });

  it("refuses unknown roles", () => {
    expect(() =>
      execFileSync(process.execPath, ["dist/scripts/token.js", "--roles", "ROOT"], { stdio: "pipe" }),
    ).toThrow(/Unknown role/);
  });
});
