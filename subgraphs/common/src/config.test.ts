import { ConfigError, loadConfig } from "./config";

describe("configuration", () => {
  it("has development defaults", () => {
    const config = loadConfig({});
    expect(config.env).toBe("development");
    expect(config.ports).toEqual({ gateway: 4000, posture: 4001, protection: 4002, siem: 4003 });
    expect(config.subgraphUrls.siem).toBe("http://127.0.0.1:4003/graphql");
    expect(config.jwt.secret).toBeDefined();
  });

  it("names every bad variable at once", () => {
    expect(() => loadConfig({ GATEWAY_PORT: "http", LOG_LEVEL: "loud", DATABASE_URL: "mysql://x" })).toThrow(
      /GATEWAY_PORT[\s\S]*LOG_LEVEL|LOG_LEVEL[\s\S]*GATEWAY_PORT/,
    );
  });

  it("refuses development secrets in production", () => {
    let error: unknown;
    try {
      loadConfig({ RAMPART_ENV: "production" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/INTERNAL_TOKEN_SECRET/);
    expect(String(error)).toMatch(/DB_ROLE_PASSWORD/);
    expect(String(error)).toMatch(/JWT_JWKS_URL/);
    const ok = loadConfig({
      RAMPART_ENV: "production",
      INTERNAL_TOKEN_SECRET: "x".repeat(40),
      DB_ROLE_PASSWORD: "y".repeat(20),
      DATABASE_URL: "postgres://u:p@db:5432/rampart",
      JWT_JWKS_URL: "https://login.example.com/keys",
    });
    expect(ok.introspection).toBe(false);
    expect(ok.jwt.secret).toBeUndefined();
  });
});
