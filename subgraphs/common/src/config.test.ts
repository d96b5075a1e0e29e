import { ConfigError, DEV_DB_ROLE_PASSWORD, DEV_INTERNAL_SECRET, DEV_JWT_SECRET, loadConfig } from "./config";

describe("configuration", () => {
  it("has development defaults", () => {
    const config = loadConfig({});
    expect(config.env).toBe("development");
    expect(config.ports).toEqual({ gateway: 4000, posture: 4001, protection: 4002, siem: 4003 });
    expect(config.subgraphUrls.siem).toBe("http://127.0.0.1:4003/graphql");
    expect(config.jwt.secret).toBeDefined();
  });

  it("reads no replica by default, and DATABASE_REPLICA_URL as a Postgres URL with a pool of its own", () => {
    expect(loadConfig({}).databaseReplicaUrl).toBeUndefined();
    const config = loadConfig({
      DATABASE_REPLICA_URL: "postgres://u:p@standby:5432/rampart?sslmode=require",
    });
    expect(config.databaseReplicaUrl).toBe("postgres://u:p@standby:5432/rampart?sslmode=require");
    expect(config.db.replicaPoolSize).toBe(3);
    expect(loadConfig({ DB_REPLICA_POOL_SIZE: "8" }).db.replicaPoolSize).toBe(8);
    expect(loadConfig({}).db.acquireTimeoutMs).toBe(30_000);
    expect(loadConfig({ DB_POOL_ACQUIRE_TIMEOUT_MS: "0" }).db.acquireTimeoutMs).toBe(0);
    expect(() => loadConfig({ DB_POOL_ACQUIRE_TIMEOUT_MS: "-1" })).toThrow(/DB_POOL_ACQUIRE_TIMEOUT_MS/);
    expect(() =>
      loadConfig({ DATABASE_REPLICA_URL: "mysql://standby/rampart", DB_REPLICA_POOL_SIZE: "0" }),
    ).toThrow(/DATABASE_REPLICA_URL[\s\S]*DB_REPLICA_POOL_SIZE/);
  });

  it("trusts no proxy by default, and reads TRUSTED_PROXIES as addresses and CIDR prefixes", () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(loadConfig({ TRUSTED_PROXIES: " 10.0.0.0/8, 192.0.2.7 ,fd00::/8," }).trustedProxies).toEqual([
      "10.0.0.0/8",
      "192.0.2.7",
      "fd00::/8",
    ]);
    expect(() => loadConfig({ TRUSTED_PROXIES: "10.0.0.0/33, proxy.local" })).toThrow(
      /TRUSTED_PROXIES[\s\S]*prefix length must be 0 to 32[\s\S]*"proxy.local" is not an IP address/,
    );
  });

  it("stores ingested events directly unless EVENT_INGEST_QUEUE=nats, and validates the queue's variables", () => {
    expect(loadConfig({}).eventQueue).toEqual({
      mode: "off",
      servers: ["nats://127.0.0.1:4222"],
      streamPrefix: "RAMPART",
      ackWaitSeconds: 60,
      maxDeliver: 5,
    });
    expect(
      loadConfig({
        EVENT_INGEST_QUEUE: "nats",
        NATS_URL: "nats://nats-1:4222, tls://nats-2:4222",
        NATS_STREAM_PREFIX: "SIEM_EU",
        EVENT_INGEST_ACK_WAIT_SECONDS: "30",
        EVENT_INGEST_MAX_DELIVER: "3",
      }).eventQueue,
    ).toEqual({
      mode: "nats",
      servers: ["nats://nats-1:4222", "tls://nats-2:4222"],
      streamPrefix: "SIEM_EU",
      ackWaitSeconds: 30,
      maxDeliver: 3,
    });
    let message = "";
    try {
      loadConfig({
        EVENT_INGEST_QUEUE: "kafka",
        NATS_URL: "nats://ok:4222,http://nats:8222",
        NATS_STREAM_PREFIX: "events.ingest",
        EVENT_INGEST_MAX_DELIVER: "0",
      });
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/EVENT_INGEST_QUEUE/);
    expect(message).toMatch(/NATS_URL: entry 2 is not a nats:\/\/host:port or tls:\/\/host:port URL/);
    expect(message).toMatch(/NATS_STREAM_PREFIX: 1 to 32 letters, digits, _ or -/);
    expect(message).toMatch(/EVENT_INGEST_MAX_DELIVER/);
    expect(() => loadConfig({ NATS_URL: " , " })).toThrow(/NATS_URL: name at least one NATS server/);
  });

  it("reads PLAYBOOK_SECRET_KEYS_LOST as key ids given up, and refuses what cannot be one", () => {
    expect(loadConfig({}).playbookSecretLostKeyIds).toEqual([]);
    expect(
      loadConfig({ PLAYBOOK_SECRET_KEYS_LOST: " 2026-07, 1a2b3c4d5e6f7a8b ,2026-07," })
        .playbookSecretLostKeyIds,
    ).toEqual(["2026-07", "1a2b3c4d5e6f7a8b"]);
    expect(() => loadConfig({ PLAYBOOK_SECRET_KEYS_LOST: "2026-07:abc" })).toThrow(
      /PLAYBOOK_SECRET_KEYS_LOST[\s\S]*"2026-07:abc" is not a key id/,
    );
  });

  it("reads the gateway's rate limits: generous by default, 0 turns one off, a burst is at least 1", () => {
    expect(loadConfig({}).rateLimits).toEqual({
      userRequests: { perSecond: 200, burst: 2000 },
      tenantRequests: { perSecond: 2000, burst: 20_000 },
      tenantIngestBytes: { perSecond: 64 * 1024 * 1024, burst: 256 * 1024 * 1024 },
    });
    expect(
      loadConfig({
        RATE_LIMIT_USER_REQUESTS_PER_SECOND: "0.5",
        RATE_LIMIT_USER_REQUEST_BURST: "3",
        RATE_LIMIT_TENANT_REQUESTS_PER_SECOND: "0",
        RATE_LIMIT_TENANT_INGEST_BYTES_PER_SECOND: "1048576",
      }).rateLimits,
    ).toEqual({
      userRequests: { perSecond: 0.5, burst: 3 },
      tenantRequests: { perSecond: 0, burst: 20_000 },
      tenantIngestBytes: { perSecond: 1048576, burst: 256 * 1024 * 1024 },
    });
    expect(() =>
      loadConfig({
        RATE_LIMIT_USER_REQUESTS_PER_SECOND: "-1",
        RATE_LIMIT_TENANT_REQUEST_BURST: "0",
        RATE_LIMIT_TENANT_INGEST_BYTE_BURST: "1.5",
      }),
    ).toThrow(
      /RATE_LIMIT_USER_REQUESTS_PER_SECOND[\s\S]*RATE_LIMIT_TENANT_REQUEST_BURST[\s\S]*RATE_LIMIT_TENANT_INGEST_BYTE_BURST/,
    );
  });

  it("leaves /metrics open by default, and reads METRICS_TOKEN as a 32+ character bearer secret", () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    const token = "metrics-scraper-token-0123456789-abcdef";
    expect(loadConfig({ METRICS_TOKEN: token }).metricsToken).toBe(token);
    expect(() => loadConfig({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN: at least 32 characters/);
    expect(() => loadConfig({ METRICS_TOKEN: `${token} with spaces` })).toThrow(
      /METRICS_TOKEN: printable ASCII without spaces/,
    );
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
    expect(String(error)).toMatch(/JWT_JWKS_URL/);
    expect(() => loadConfig({ RAMPART_ENV: "production" }, "siem")).toThrow(
      /DB_ROLE_PASSWORD_SIEM: required/,
    );
    const ok = loadConfig({
      RAMPART_ENV: "production",
      INTERNAL_TOKEN_SECRET: "x".repeat(40),
      DB_ROLE_PASSWORD: "y".repeat(20),
      DATABASE_URL: "postgres://u:p@db:5432/rampart",
      JWT_JWKS_URL: "https://login.example.com/keys",
      JWT_ISSUER: "https://login.example.com/",
      JWT_AUDIENCE: "api://rampart",
    });
    expect(ok.introspection).toBe(false);
    expect(ok.jwt.secret).toBeUndefined();
  });

  it("gives each program only its own database credentials in production", () => {
    const base = {
      RAMPART_ENV: "production",
      INTERNAL_TOKEN_SECRET: "x".repeat(40),
      JWT_SECRET: "z".repeat(40),
    };
    const passwords = {
      DB_ROLE_PASSWORD_POSTURE: "posture-".repeat(3),
      DB_ROLE_PASSWORD_PROTECTION: "protection-".repeat(3),
      DB_ROLE_PASSWORD_SIEM: "siem-".repeat(4),
    };
    const problems = (env: Record<string, string>, service: Parameters<typeof loadConfig>[1]) => {
      try {
        loadConfig({ ...base, ...env }, service);
        return [];
      } catch (err) {
        return String(err)
          .split("\n")
          .slice(1)
          .map((line) => line.trim());
      }
    };
    // The gateway: no database settings at all.
    expect(problems({}, "gateway")).toEqual([]);
    expect(problems({ DATABASE_URL: "postgres://db:5432/rampart", ...passwords }, "gateway")).toEqual(
      ["DATABASE_URL", ...Object.keys(passwords)].map(
        (key) => `${key}: the gateway has no database access: set it for migrate and the subgraphs only`,
      ),
    );
    // A subgraph: the address and its own role's password.
    const siem = loadConfig(
      {
        ...base,
        DATABASE_URL: "postgres://db:5432/rampart",
        DB_ROLE_PASSWORD_SIEM: passwords.DB_ROLE_PASSWORD_SIEM,
      },
      "siem",
    );
    expect(siem.db.rolePasswords.siem).toBe(passwords.DB_ROLE_PASSWORD_SIEM);
    expect(
      problems(
        {
          DATABASE_URL: "postgres://postgres:secret@db:5432/rampart",
          DATABASE_REPLICA_URL: "postgres://postgres:secret@replica:5432/rampart",
          DB_ROLE_PASSWORD: "shared-password",
          ...passwords,
        },
        "siem",
      ),
    ).toEqual([
      "DB_ROLE_PASSWORD: not used in production: each role has its own (DB_ROLE_PASSWORD_POSTURE, DB_ROLE_PASSWORD_PROTECTION, DB_ROLE_PASSWORD_SIEM)",
      "DB_ROLE_PASSWORD_POSTURE: another subgraph's password: the siem subgraph must not hold it",
      "DB_ROLE_PASSWORD_PROTECTION: another subgraph's password: the siem subgraph must not hold it",
      "DATABASE_URL: holds a password: give the siem subgraph the database's address only (it logs in as its own role with DB_ROLE_PASSWORD_SIEM; the admin credentials are migrate's)",
      "DATABASE_REPLICA_URL: holds a password: give the siem subgraph the database's address only (it logs in as its own role with DB_ROLE_PASSWORD_SIEM; the admin credentials are migrate's)",
    ]);
    expect(problems({ DB_ROLE_PASSWORD_POSTURE: passwords.DB_ROLE_PASSWORD_POSTURE }, "posture")).toEqual([
      "DATABASE_URL: required in production: the Postgres database (the embedded one is for development only)",
    ]);
    // migrate: the admin URL and every role's password, each its own.
    const admin = { DATABASE_URL: "postgres://postgres:secret@db:5432/rampart" };
    expect(loadConfig({ ...base, ...admin, ...passwords }, "migrate").db.rolePasswords).toEqual({
      posture: passwords.DB_ROLE_PASSWORD_POSTURE,
      protection: passwords.DB_ROLE_PASSWORD_PROTECTION,
      siem: passwords.DB_ROLE_PASSWORD_SIEM,
    });
    expect(
      problems(
        { ...admin, ...passwords, DB_ROLE_PASSWORD_SIEM: passwords.DB_ROLE_PASSWORD_POSTURE },
        "migrate",
      ),
    ).toEqual(["DB_ROLE_PASSWORD_SIEM: must differ from DB_ROLE_PASSWORD_POSTURE: one password per role"]);
    expect(
      problems({ ...admin, DB_ROLE_PASSWORD_POSTURE: passwords.DB_ROLE_PASSWORD_POSTURE }, "migrate"),
    ).toEqual([
      "DB_ROLE_PASSWORD_PROTECTION: required in production by migrate, which sets the role's password",
      "DB_ROLE_PASSWORD_SIEM: required in production by migrate, which sets the role's password",
    ]);
    // Outside production the shared password (or the development one) stands in for every role.
    expect(loadConfig({ DB_ROLE_PASSWORD: "shared-password" }, "siem").db.rolePasswords).toEqual({
      posture: "shared-password",
      protection: "shared-password",
      siem: "shared-password",
    });
  });

  it("requires an issuer and an audience with an identity provider's keys in production", () => {
    const production = {
      RAMPART_ENV: "production",
      INTERNAL_TOKEN_SECRET: "x".repeat(40),
      DB_ROLE_PASSWORD: "y".repeat(20),
      DATABASE_URL: "postgres://u:p@db:5432/rampart",
      JWT_JWKS_URL: "https://login.example.com/keys",
    };
    expect(() => loadConfig(production)).toThrow(/JWT_ISSUER: required in production with JWT_JWKS_URL/);
    expect(() => loadConfig({ ...production, JWT_ISSUER: "https://login.example.com/" })).toThrow(
      /JWT_AUDIENCE: required in production with JWT_JWKS_URL/,
    );
    expect(() => loadConfig({ ...production, JWT_AUDIENCE: "api://rampart" })).toThrow(/JWT_ISSUER/);
    // Outside production, and with a secret of our own (no other application's tokens), they stay optional.
    expect(() => loadConfig({ ...production, RAMPART_ENV: "test" })).not.toThrow();
    const { JWT_JWKS_URL: _, ...own } = production;
    expect(() => loadConfig({ ...own, JWT_SECRET: "z".repeat(40) })).not.toThrow();
  });

  it("reads the token's claim names and a role map", () => {
    const defaults = loadConfig({});
    expect([defaults.jwt.tenantClaim, defaults.jwt.rolesClaim, defaults.jwt.roleMap]).toEqual([
      undefined,
      "roles",
      undefined,
    ]);
    const mapped = loadConfig({
      JWT_TENANT_CLAIM: "/org/id",
      JWT_ROLES_CLAIM: "https://rampart.example/roles",
      JWT_ROLE_MAP:
        "Rampart.Admins=ADMIN+ANALYST, Rampart.Readers=READER,SOC=ANALYST,SOC=RESPONDER,a=b=READER",
    });
    expect(mapped.jwt.tenantClaim).toBe("/org/id");
    expect(mapped.jwt.rolesClaim).toBe("https://rampart.example/roles");
    expect(Object.fromEntries(mapped.jwt.roleMap!)).toEqual({
      "Rampart.Admins": ["ADMIN", "ANALYST"],
      "Rampart.Readers": ["READER"],
      SOC: ["ANALYST", "RESPONDER"],
      "a=b": ["READER"],
    });
    expect(() => loadConfig({ JWT_ROLE_MAP: "Admins=SUPERUSER" })).toThrow(
      /JWT_ROLE_MAP: entry 1 is not value=ROLE/,
    );
    expect(() => loadConfig({ JWT_ROLE_MAP: "ok=READER,Admins" })).toThrow(/JWT_ROLE_MAP: entry 2/);
    expect(() => loadConfig({ JWT_ROLE_MAP: " , " })).toThrow(/JWT_ROLE_MAP: maps no value to a role/);
    expect(() => loadConfig({ JWT_ROLES_CLAIM: "/" })).toThrow(/JWT_ROLES_CLAIM/);
  });

  it("refuses the published development secrets when they are set explicitly in production", () => {
    const production = {
      RAMPART_ENV: "production",
      INTERNAL_TOKEN_SECRET: "x".repeat(40),
      DB_ROLE_PASSWORD: "y".repeat(20),
      DATABASE_URL: "postgres://u:p@db:5432/rampart",
      JWT_SECRET: "z".repeat(40),
    };
    expect(loadConfig(production).jwt.secret).toBe("z".repeat(40));
    for (const [key, value] of [
      ["INTERNAL_TOKEN_SECRET", DEV_INTERNAL_SECRET],
      ["JWT_SECRET", DEV_JWT_SECRET],
      ["DB_ROLE_PASSWORD", DEV_DB_ROLE_PASSWORD],
    ]) {
      expect(() => loadConfig({ ...production, [key]: value })).toThrow(
        new RegExp(`${key}: the development value is refused in production`),
      );
      // Outside production they are the defaults anyway.
      expect(() => loadConfig({ ...production, RAMPART_ENV: "test", [key]: value })).not.toThrow();
    }
  });

  it("reads the previous secrets of a rotation, and refuses them when they could not be one", () => {
    const OLD = "o".repeat(40);
    const NEW = "n".repeat(40);
    const rotating = loadConfig({
      INTERNAL_TOKEN_SECRET: NEW,
      INTERNAL_TOKEN_SECRET_PREVIOUS: OLD,
      JWT_SECRET: NEW,
      JWT_SECRET_PREVIOUS: OLD,
    });
    expect([rotating.internalTokenSecret, rotating.internalTokenPreviousSecret]).toEqual([NEW, OLD]);
    expect([rotating.jwt.secret, rotating.jwt.previousSecret]).toEqual([NEW, OLD]);
    // Unset or empty (docker-compose's `${VAR:-}`): no previous secret.
    for (const none of [{}, { INTERNAL_TOKEN_SECRET_PREVIOUS: "", JWT_SECRET_PREVIOUS: "" }]) {
      const config = loadConfig({ INTERNAL_TOKEN_SECRET: NEW, JWT_SECRET: NEW, ...none });
      expect([config.internalTokenPreviousSecret, config.jwt.previousSecret]).toEqual([undefined, undefined]);
    }
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return String((err as Error).message)
          .split("\n")
          .slice(1)
          .map((l) => l.trim());
      }
      return [];
    };
    expect(problems({ INTERNAL_TOKEN_SECRET_PREVIOUS: OLD, JWT_SECRET_PREVIOUS: OLD })).toEqual([
      "INTERNAL_TOKEN_SECRET_PREVIOUS: set only with INTERNAL_TOKEN_SECRET: it is the secret a rotation moves away from",
      "JWT_SECRET_PREVIOUS: set only with JWT_SECRET: it is the secret a rotation moves away from",
    ]);
    expect(
      problems({
        INTERNAL_TOKEN_SECRET: NEW,
        INTERNAL_TOKEN_SECRET_PREVIOUS: NEW,
        JWT_SECRET: OLD,
        JWT_SECRET_PREVIOUS: OLD,
      }),
    ).toEqual([
      "INTERNAL_TOKEN_SECRET_PREVIOUS: must differ from INTERNAL_TOKEN_SECRET (set it only while rotating, to the other secret)",
      "JWT_SECRET_PREVIOUS: must differ from JWT_SECRET (set it only while rotating, to the other secret)",
    ]);
    // As strong as the current secret, and never echoed.
    const weak = problems({
      INTERNAL_TOKEN_SECRET: NEW,
      INTERNAL_TOKEN_SECRET_PREVIOUS: "short-old-secret",
      JWT_SECRET: NEW,
      JWT_SECRET_PREVIOUS: "x".repeat(31),
    });
    expect(weak.map((l) => l.split(":")[0])).toEqual([
      "JWT_SECRET_PREVIOUS",
      "INTERNAL_TOKEN_SECRET_PREVIOUS",
    ]);
    expect(weak.join("\n")).toMatch(/>=32 characters/);
    expect(weak.join("\n")).not.toMatch(/short-old-secret|xxxx/);
    expect(
      problems({ JWT_JWKS_URL: "https://login.example.com/keys", JWT_SECRET: NEW, JWT_SECRET_PREVIOUS: OLD }),
    ).toEqual([
      "JWT_SECRET_PREVIOUS: is not used with JWT_JWKS_URL (client tokens are verified with the provider's keys only)",
    ]);
    // Production: the published development values are refused as previous secrets too.
    const production = {
      RAMPART_ENV: "production",
      INTERNAL_TOKEN_SECRET: NEW,
      DB_ROLE_PASSWORD: "y".repeat(20),
      DATABASE_URL: "postgres://u:p@db:5432/rampart",
      JWT_SECRET: NEW,
    };
    expect(
      loadConfig({ ...production, INTERNAL_TOKEN_SECRET_PREVIOUS: OLD }).internalTokenPreviousSecret,
    ).toBe(OLD);
    expect(
      problems({
        ...production,
        INTERNAL_TOKEN_SECRET_PREVIOUS: DEV_INTERNAL_SECRET,
        JWT_SECRET_PREVIOUS: DEV_JWT_SECRET,
      }),
    ).toEqual([
      "INTERNAL_TOKEN_SECRET_PREVIOUS: the development value is refused in production",
      "JWT_SECRET_PREVIOUS: the development value is refused in production",
    ]);
  });
});
