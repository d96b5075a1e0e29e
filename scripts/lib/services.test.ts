import { loadConfig } from "../../subgraphs/common/src/config";
import { serviceEnvironment } from "./services";

describe("serviceEnvironment", () => {
  const platform = {
    RAMPART_ENV: "production",
    INTERNAL_TOKEN_SECRET: "i".repeat(40),
    JWT_SECRET: "j".repeat(40),
    DATABASE_URL: "postgres://postgres:admin-secret@db:5432/rampart",
    DATABASE_REPLICA_URL: "postgres://postgres:admin-secret@replica:5432/rampart",
    DB_ROLE_PASSWORD_POSTURE: "posture-password",
    DB_ROLE_PASSWORD_PROTECTION: "protection-password",
    DB_ROLE_PASSWORD_SIEM: "siem-password",
    LOG_LEVEL: "warn",
  };
  const passwords = loadConfig(platform, "migrate").db.rolePasswords;

  it("starts the gateway without any database setting", () => {
    const env = serviceEnvironment("gateway", platform, passwords);
    expect(Object.keys(env).filter((key) => /^(DATABASE_|DB_ROLE_)/.test(key))).toEqual([]);
    expect(env.LOG_LEVEL).toBe("warn");
    expect(() => loadConfig(env, "gateway")).not.toThrow();
  });

  it("starts a subgraph with the database's address and its own role's password only", () => {
    const env = serviceEnvironment("protection", platform, passwords);
    expect(Object.keys(env).filter((key) => /^(DATABASE_|DB_ROLE_)/.test(key))).toEqual([
      "DATABASE_URL",
      "DATABASE_REPLICA_URL",
      "DB_ROLE_PASSWORD_PROTECTION",
    ]);
    expect(env.DATABASE_URL).toBe("postgres://db:5432/rampart");
    expect(env.DATABASE_REPLICA_URL).toBe("postgres://replica:5432/rampart");
    expect(env.DB_ROLE_PASSWORD_PROTECTION).toBe("protection-password");
    expect(loadConfig(env, "protection").db.rolePasswords.protection).toBe("protection-password");
  });

  it("gives a subgraph the development password when the platform has only the shared one", () => {
    const env = serviceEnvironment(
      "siem",
      { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/x" },
      loadConfig({}).db.rolePasswords,
    );
    expect(env.DB_ROLE_PASSWORD_SIEM).toBe(loadConfig({}).db.rolePasswords.siem);
  });
});
