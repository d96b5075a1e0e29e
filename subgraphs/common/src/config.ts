import { isIP } from "node:net";
import { z } from "zod";
import { Role } from "./identity";

/** Development-only secrets: refused when RAMPART_ENV=production. */
export const DEV_JWT_SECRET = "rampart-development-jwt-secret-change-me-0001";
export const DEV_INTERNAL_SECRET = "rampart-development-internal-secret-change-me-01";
export const DEV_DB_ROLE_PASSWORD = "rampart-dev-password";

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .optional()
    .transform((v) => (v === undefined ? fallback : v === "true" || v === "1"));

/** Why `entry` is not an IPv4 or IPv6 address or CIDR prefix, or null when it is one. */
function prefixProblem(entry: string): string | null {
  const [address, length, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return `"${entry}" is not an IP address or a CIDR prefix`;
  if (length !== undefined && (!/^\d{1,3}$/.test(length) || Number(length) > (family === 4 ? 32 : 128)))
    return `"${entry}": the prefix length must be 0 to ${family === 4 ? 32 : 128}`;
  return null;
}

/** A comma-separated list of IP addresses and CIDR prefixes (IPv4 or IPv6); empty by default. */
const prefixList = z
  .string()
  .default("")
  .transform((value, ctx) => {
    const entries = value
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    for (const entry of entries) {
      const problem = prefixProblem(entry);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }
    return entries;
  });

/**
 * NATS_URL: one or more comma-separated `nats://` or `tls://` server URLs (the seeds of a cluster); messages name
 * the entry, never credentials it may hold.
 */
const natsServers = z
  .string()
  .default("nats://127.0.0.1:4222")
  .transform((value, ctx) => {
    const entries = value
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    if (entries.length === 0) ctx.addIssue({ code: "custom", message: "name at least one NATS server" });
    entries.forEach((entry, index) => {
      let url: URL | null = null;
      try {
        url = new URL(entry);
      } catch {
        url = null;
      }
      if (!url || !["nats:", "tls:"].includes(url.protocol) || !url.hostname)
        ctx.addIssue({
          code: "custom",
          message: `entry ${index + 1} is not a nats://host:port or tls://host:port URL`,
        });
    });
    return entries;
  });

/**
 * A previous secret, accepted besides the current one while a rotation rolls out (never used to sign). Empty
 * counts as unset, so that docker-compose can pass `${VAR:-}` and a rotation is a matter of the environment.
 * As strong as the current secret must be: whoever knows it can sign until it is removed.
 */
const previousSecret = z.preprocess((v) => (v === "" ? undefined : v), z.string().min(32).optional());

/**
 * A claim of the client token: a top-level name (`tid`, `https://rampart.example/roles`), or a JSON Pointer
 * (RFC 6901) into nested claims when it starts with `/` (`/realm_access/roles`).
 */
const claimName = z
  .string()
  .trim()
  .min(1)
  .refine((v) => !v.startsWith("/") || v.length > 1, "a JSON Pointer names at least one member");

/**
 * `JWT_ROLE_MAP`: the identity provider's role (or group) values mapped to Rampart roles, as
 * `value=ROLE` pairs separated by commas; a value may map to several roles (`Rampart.Admins=ADMIN+ANALYST`).
 */
const roleMap = z.string().transform((text, ctx) => {
  const map = new Map<string, Role[]>();
  const known = new Set<string>(Object.values(Role));
  for (const [index, entry] of text.split(",").entries()) {
    if (!entry.trim()) continue;
    const at = entry.lastIndexOf("=");
    const value = entry.slice(0, at).trim();
    const roles = entry
      .slice(at + 1)
      .split("+")
      .map((r) => r.trim());
    const unknown = roles.filter((r) => !known.has(r));
    if (at < 0 || !value || unknown.length || !roles.length) {
      ctx.addIssue({
        code: "custom",
        message: `entry ${index + 1} is not value=ROLE with ROLE one of ${[...known].join(", ")} (several joined by +)`,
      });
      continue;
    }
    map.set(value, [...new Set([...(map.get(value) ?? []), ...(roles as Role[])])]);
  }
  if (map.size === 0) ctx.addIssue({ code: "custom", message: "maps no value to a role" });
  return map as ReadonlyMap<string, Role[]>;
});

/** One key of the playbook-secret key ring: an id recorded with each secret it seals, and 32 bytes. */
export interface PlaybookSecretKey {
  id: string;
  key: Buffer;
}

/**
 * PLAYBOOK_SECRET_KEYS: comma-separated `<id>:<base64 of 32 bytes>` entries, newest first. Messages name the
 * entry and its id, never its key material.
 */
const playbookKeyRing = z
  .string()
  .default("")
  .transform((value, ctx) => {
    const keys: PlaybookSecretKey[] = [];
    const entries = value
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    entries.forEach((entry, index) => {
      const issue = (message: string) =>
        ctx.addIssue({ code: "custom", message: `entry ${index + 1}: ${message}` });
      const colon = entry.indexOf(":");
      const id = colon < 0 ? "" : entry.slice(0, colon);
      const text = entry.slice(colon + 1);
      if (!/^[A-Za-z0-9._-]{1,32}$/.test(id))
        return issue('write it as <key id>:<base64 key>, the id 1 to 32 letters, digits, ".", "_" or "-"');
      const key = Buffer.from(text, "base64");
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || key.length !== 32)
        return issue(`key "${id}" must be 32 random bytes in base64 (openssl rand -base64 32)`);
      if (keys.some((k) => k.id === id)) return issue(`key id "${id}" is used twice`);
      const twin = keys.find((k) => k.key.equals(key));
      if (twin) return issue(`key "${id}" has the same key material as "${twin.id}"`);
      keys.push({ id, key });
    });
    return keys;
  });

/**
 * PLAYBOOK_SECRET_KEYS_LOST: comma-separated ids of playbook-secret keys given up for good (ids as in the ring,
 * or the derived keys' ids the SIEM logs).
 */
const lostKeyIds = z
  .string()
  .default("")
  .transform((value, ctx) => {
    const ids = value
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    for (const id of ids)
      if (!/^[A-Za-z0-9._-]{1,32}$/.test(id))
        ctx.addIssue({
          code: "custom",
          message: `"${id}" is not a key id (1 to 32 letters, digits, ".", "_" or "-")`,
        });
    return [...new Set(ids)];
  });

/** A rate limit's sustained rate per second: 0 (or more, fractions allowed); 0 turns the limit off. */
const perSecond = (fallback: number) => z.coerce.number().min(0).max(1e12).default(fallback);

/** A rate limit's burst: how much above its rate a bucket holds (at least one request, or one byte). */
const burst = (fallback: number) => z.coerce.number().int().min(1).max(1e12).default(fallback);

/**
 * Every environment variable the platform reads, in one place. `docs/configuration` in the README
 * lists them; `loadConfig` validates them at start so a typo fails loudly instead of half-working.
 */
const EnvShape = {
  RAMPART_ENV: z.enum(["development", "test", "production"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  HOST: z.string().default("127.0.0.1"),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_REPLICA_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DB_ROLE_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,40}$/, "lower-case letters, digits and _ only")
    .default("rampart"),
  DB_ROLE_PASSWORD: z.string().min(8).optional(),
  DB_ROLE_PASSWORD_POSTURE: z.string().min(8).optional(),
  DB_ROLE_PASSWORD_PROTECTION: z.string().min(8).optional(),
  DB_ROLE_PASSWORD_SIEM: z.string().min(8).optional(),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DB_REPLICA_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(3),
  DB_POOL_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  NETWORK_TOPOLOGY_CACHE_SIZE: z.coerce.number().int().min(0).max(100_000_000).default(500_000),
  COMPLIANCE_CACHE_SIZE: z.coerce.number().int().min(0).max(100_000_000).default(200_000),
  GATEWAY_PORT: port(4000),
  POSTURE_PORT: port(4001),
  PROTECTION_PORT: port(4002),
  SIEM_PORT: port(4003),
  POSTURE_URL: z.url().optional(),
  PROTECTION_URL: z.url().optional(),
  SIEM_URL: z.url().optional(),
  SUPERGRAPH_PATH: z.string().default("gateway/supergraph.graphql"),
  JWT_SECRET: z.string().min(32).optional(),
  JWT_SECRET_PREVIOUS: previousSecret,
  JWT_JWKS_URL: z.url().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  JWT_TENANT_CLAIM: claimName.optional(),
  JWT_ROLES_CLAIM: claimName.default("roles"),
  JWT_RESOURCE_CLAIM: claimName.default("rampart:resource"),
  JWT_ROLE_MAP: roleMap.optional(),
  INTERNAL_TOKEN_SECRET: z.string().min(32).optional(),
  INTERNAL_TOKEN_SECRET_PREVIOUS: previousSecret,
  INTROSPECTION: bool(true),
  JOBS_ENABLED: bool(true),
  DEMO_TENANT_ID: z.string().min(1).default("demo"),
  SEED_DEMO: bool(true),
  METRICS_TOKEN: z
    .string()
    .min(32, "at least 32 characters: it is a bearer secret")
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces (it travels in an Authorization header)")
    .optional(),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  TELEMETRY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  TELEMETRY_RELAY_BUSY_SHARE: z.coerce.number().min(0.05).max(1).default(0.25),
  SUBSCRIPTION_QUEUE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(120_000),
  SUBSCRIPTION_KEEPALIVE_MS: z.coerce.number().int().min(100).max(600_000).default(12_000),
  SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).max(100_000).default(200),
  LIVE_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).max(1_000_000).default(100),
  LIVE_CONNECTIONS_PER_TENANT: z.coerce.number().int().min(1).max(1_000_000).default(2000),
  RATE_LIMIT_USER_REQUESTS_PER_SECOND: perSecond(200),
  RATE_LIMIT_USER_REQUEST_BURST: burst(2000),
  RATE_LIMIT_TENANT_REQUESTS_PER_SECOND: perSecond(2000),
  RATE_LIMIT_TENANT_REQUEST_BURST: burst(20_000),
  RATE_LIMIT_TENANT_INGEST_BYTES_PER_SECOND: perSecond(64 * 1024 * 1024),
  RATE_LIMIT_TENANT_INGEST_BYTE_BURST: burst(256 * 1024 * 1024),
  SAFELIST_PATH: z.string().min(1).optional(),
  TRUSTED_PROXIES: prefixList,
  PLAYBOOK_ALLOW_PRIVATE_TARGETS: bool(false),
  INTEL_FEED_ALLOW_PRIVATE_TARGETS: bool(false),
  INTEL_RETRO_MATCH_DAYS: z.coerce.number().int().min(0).max(3650).default(14),
  PLAYBOOK_SECRET_KEYS: playbookKeyRing,
  PLAYBOOK_SECRET_KEYS_LOST: lostKeyIds,
  EVENT_INGEST_QUEUE: z.enum(["off", "nats"]).default("off"),
  NATS_URL: natsServers,
  NATS_STREAM_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, "1 to 32 letters, digits, _ or -, starting with a letter")
    .default("RAMPART"),
  EVENT_INGEST_ACK_WAIT_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  EVENT_INGEST_MAX_DELIVER: z.coerce.number().int().min(1).max(100).default(5),
};

/** The programs that read this configuration, for what production asks of each (`loadConfig`'s `service`). */
export type ServiceName = "gateway" | "posture" | "protection" | "siem" | "migrate";

/** Each subgraph's login-role password variable. */
const ROLE_PASSWORDS = {
  posture: "DB_ROLE_PASSWORD_POSTURE",
  protection: "DB_ROLE_PASSWORD_PROTECTION",
  siem: "DB_ROLE_PASSWORD_SIEM",
} as const;
/** The variables that give database access: the address and the credentials. */
export const DATABASE_VARIABLES = [
  "DATABASE_URL",
  "DATABASE_REPLICA_URL",
  "DB_ROLE_PASSWORD",
  ...Object.values(ROLE_PASSWORDS),
] as const;

type Env = z.infer<z.ZodObject<typeof EnvShape>>;

/**
 * What production asks of each program's database settings, so that none holds more than its own credentials
 * (architecture.md: one login role per subgraph with no privileges on the others; the gateway has no database
 * access). The gateway gets none of them. A subgraph gets the database's address (DATABASE_URL without a
 * password: the admin credentials are migrate's) and its own role's password, no other's. migrate gets the admin
 * URL and every role's password, one each: the shared DB_ROLE_PASSWORD (development) is refused.
 */
function databaseIssues(
  env: Env,
  service: ServiceName | undefined,
  issue: (key: string, message: string) => void,
) {
  if (!service) return;
  if (service === "gateway") {
    for (const key of DATABASE_VARIABLES)
      if (env[key])
        issue(key, "the gateway has no database access: set it for migrate and the subgraphs only");
    return;
  }
  if (!env.DATABASE_URL)
    issue(
      "DATABASE_URL",
      "required in production: the Postgres database (the embedded one is for development only)",
    );
  if (env.DB_ROLE_PASSWORD)
    issue(
      "DB_ROLE_PASSWORD",
      `not used in production: each role has its own (${Object.values(ROLE_PASSWORDS).join(", ")})`,
    );
  if (service === "migrate") {
    const seen = new Map<string, string>();
    for (const key of Object.values(ROLE_PASSWORDS)) {
      const value = env[key];
      if (!value) issue(key, "required in production by migrate, which sets the role's password");
      else if (seen.has(value)) issue(key, `must differ from ${seen.get(value)}: one password per role`);
      else seen.set(value, key);
    }
    return;
  }
  const own = ROLE_PASSWORDS[service];
  if (!env[own]) issue(own, `required in production: the password of the ${service} subgraph's login role`);
  for (const key of Object.values(ROLE_PASSWORDS))
    if (key !== own && env[key])
      issue(key, `another subgraph's password: the ${service} subgraph must not hold it`);
  for (const key of ["DATABASE_URL", "DATABASE_REPLICA_URL"] as const) {
    if (env[key] && new URL(env[key]).password)
      issue(
        key,
        `holds a password: give the ${service} subgraph the database's address only (it logs in as its own role with ${own}; the admin credentials are migrate's)`,
      );
  }
}

const envSchema = (service: ServiceName | undefined) =>
  z.object(EnvShape).superRefine((env, ctx) => {
    // A previous secret is one half of a rotation: it needs the other half, set explicitly and different.
    const pairs = [
      ["INTERNAL_TOKEN_SECRET_PREVIOUS", "INTERNAL_TOKEN_SECRET"],
      ["JWT_SECRET_PREVIOUS", "JWT_SECRET"],
    ] as const;
    for (const [previous, current] of pairs) {
      if (!env[previous]) continue;
      const issue = (message: string) => ctx.addIssue({ code: "custom", path: [previous], message });
      if (!env[current]) issue(`set only with ${current}: it is the secret a rotation moves away from`);
      else if (env[previous] === env[current])
        issue(`must differ from ${current} (set it only while rotating, to the other secret)`);
    }
    if (env.JWT_SECRET_PREVIOUS && env.JWT_JWKS_URL)
      ctx.addIssue({
        code: "custom",
        path: ["JWT_SECRET_PREVIOUS"],
        message: "is not used with JWT_JWKS_URL (client tokens are verified with the provider's keys only)",
      });
    if (env.RAMPART_ENV !== "production") return;
    if (!env.INTERNAL_TOKEN_SECRET)
      ctx.addIssue({
        code: "custom",
        path: ["INTERNAL_TOKEN_SECRET"],
        message: "required in production: a 32+ character secret shared by the gateway and the subgraphs",
      });
    databaseIssues(env, service, (key, message) => ctx.addIssue({ code: "custom", path: [key], message }));
    // The development values are published in this repository: whoever knows the internal secret mints
    // any tenant's ADMIN identity straight to a subgraph, and the JWT secret any client token.
    const published: Array<[keyof typeof env, string]> = [
      ["INTERNAL_TOKEN_SECRET", DEV_INTERNAL_SECRET],
      ["INTERNAL_TOKEN_SECRET_PREVIOUS", DEV_INTERNAL_SECRET],
      ["JWT_SECRET", DEV_JWT_SECRET],
      ["JWT_SECRET_PREVIOUS", DEV_JWT_SECRET],
      ["DB_ROLE_PASSWORD", DEV_DB_ROLE_PASSWORD],
      ...Object.values(ROLE_PASSWORDS).map(
        (key) => [key, DEV_DB_ROLE_PASSWORD] as [keyof typeof env, string],
      ),
    ];
    for (const [key, value] of published) {
      if (env[key] === value)
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "the development value is refused in production",
        });
    }
    if (!env.JWT_JWKS_URL && !env.JWT_SECRET) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_JWKS_URL"],
        message: "production needs JWT_JWKS_URL (or JWT_SECRET)",
      });
    }
    // An identity provider signs tokens for every application it serves with the same keys: without an
    // issuer and audience check, a token the provider issued to another application would be accepted here.
    if (env.JWT_JWKS_URL) {
      for (const key of ["JWT_ISSUER", "JWT_AUDIENCE"] as const) {
        if (!env[key])
          ctx.addIssue({
            code: "custom",
            path: [key],
            message:
              "required in production with JWT_JWKS_URL: the provider's keys also sign other applications' tokens",
          });
      }
    }
  });

/** Validated configuration with every default filled in. */
export interface Config {
  env: "development" | "test" | "production";
  logLevel: string;
  host: string;
  databaseUrl?: string;
  /**
   * DATABASE_REPLICA_URL: a streaming (physical) replica of DATABASE_URL's database, which has the same roles and
   * passwords; heavy reads that tolerate replication lag go there. Unset: every read goes to the primary.
   */
  databaseReplicaUrl?: string;
  /**
   * `replicaPoolSize`: connections each subgraph keeps to the replica (used only with a replica).
   * `acquireTimeoutMs`: how long a request waits for a connection of its subgraph's pool (or for a new one to open)
   * before it gets UNAVAILABLE; 0 waits for ever.
   */
  db: {
    rolePrefix: string;
    /** Each subgraph role's password: its DB_ROLE_PASSWORD_<NAME>, else DB_ROLE_PASSWORD, else the development one. */
    rolePasswords: { posture: string; protection: string; siem: string };
    poolSize: number;
    replicaPoolSize: number;
    acquireTimeoutMs: number;
  };
  ports: { gateway: number; posture: number; protection: number; siem: number };
  subgraphUrls: { posture: string; protection: string; siem: string };
  supergraphPath: string;
  /** `previousSecret`: JWT_SECRET_PREVIOUS, accepted besides `secret` during a rotation. */
  jwt: {
    secret?: string;
    previousSecret?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    /** Claim holding the tenant id (a name, or a JSON Pointer such as `/org/id`); unset: `tid`, then `tenant_id`. */
    tenantClaim?: string;
    /** Claim holding the roles (a name, or a JSON Pointer such as `/realm_access/roles`); default `roles`. */
    rolesClaim?: string;
    /** The provider's role values mapped to Rampart roles; unset: the values are Rampart role names. */
    roleMap?: ReadonlyMap<string, Role[]>;
    /**
     * Claim binding an agent's token to one machine (a Rampart resource id; a name or a JSON Pointer); default
     * `rampart:resource`. Only with the INGESTOR role alone; absent, the token is the tenant's.
     */
    resourceClaim?: string;
  };
  /** Signs and verifies internal identity tokens, service calls and queued-ingest chunks. */
  internalTokenSecret: string;
  /**
   * INTERNAL_TOKEN_SECRET_PREVIOUS: during a rotation, what it signed is accepted too (never used to sign), and the
   * playbook-secret key derived from it still opens what it sealed.
   */
  internalTokenPreviousSecret?: string;
  introspection: boolean;
  jobsEnabled: boolean;
  demoTenantId: string;
  seedDemo: boolean;
  maxBodyBytes: number;
  /**
   * METRICS_TOKEN: when set, every process's `/metrics` answers only `Authorization: Bearer <token>` (401
   * otherwise); unset, `/metrics` is open, for a scraper on the internal network.
   */
  metricsToken?: string;
  /** Days of SIEM events kept; older daily partitions are dropped whole. */
  eventRetentionDays: number;
  /** Days of workload telemetry kept; older daily partitions are dropped whole. */
  telemetryRetentionDays: number;
  /**
   * The least share of the time protection's relay of telemetry to the SIEM keeps while that process is ingesting
   * telemetry (it gives way to the agents' batches and catches up after); 1: it never gives way.
   */
  telemetryRelayBusyShare: number;
  /** Subscription results buffered per subscriber before it is disconnected as a slow consumer. */
  subscriptionQueueLimit: number;
  /**
   * How long the gateway waits for a subgraph's answer to begin, or between two parts of it, before it gives up:
   * UNAVAILABLE (SUBGRAPH_NO_ANSWER) for a GraphQL fetch, 502 for an ingest.
   */
  subgraphTimeoutMs: number;
  /** Gateway WebSocket ping interval; a client that has not answered by the next ping is dropped. */
  subscriptionKeepAliveMs: number;
  /** Subscriptions one gateway WebSocket connection may hold at once; past it a start is RATE_LIMITED. */
  subscriptionsPerConnection: number;
  /**
   * Live connections (WebSocket connections and SSE streams together) one user — a (tenant, subject)
   * pair — may hold on one gateway at once; past it a new one is refused (close 4429, HTTP 429).
   */
  liveConnectionsPerUser: number;
  /** Live connections all the users of one tenant may hold on one gateway at once (refused alike). */
  liveConnectionsPerTenant: number;
  /**
   * Token-bucket rate limits of one gateway process (`perSecond` 0: off): GraphQL queries and mutations over
   * HTTP and ingest requests per user and per tenant, and ingest body bytes per tenant; past one a request is
   * refused with HTTP 429 RATE_LIMITED and a Retry-After.
   */
  rateLimits: {
    userRequests: { perSecond: number; burst: number };
    tenantRequests: { perSecond: number; burst: number };
    tenantIngestBytes: { perSecond: number; burst: number };
  };
  /** A manifest of the only operations the gateway runs (hash → text), or undefined: any operation. */
  safelistPath: string | undefined;
  /**
   * Addresses and CIDR prefixes of the proxies (load balancers) in front of the gateway whose
   * `X-Forwarded-For` it believes; empty (the default): none, a client's address is its connection's peer.
   */
  trustedProxies: string[];
  /**
   * Whether playbook webhooks may reach loopback, private, link-local and other non-public addresses (off by
   * default: a webhook URL must not become a way into the internal network or a cloud metadata service).
   */
  playbookAllowPrivateTargets: boolean;
  /**
   * Whether TAXII threat-intelligence feeds may be polled from loopback, private, link-local and other
   * non-public addresses (off by default, for the same reason as playbooks; a separate switch because an
   * internal TAXII server is common where internal webhook receivers are not wanted).
   */
  intelFeedAllowPrivateTargets: boolean;
  /**
   * How many days of stored events (by event time, before the import) newly imported or changed threat-intelligence
   * indicators are matched against by the `intel_retro_match` job (default 14, Sentinel's indicator lookback);
   * 0 turns retro-matching off.
   */
  intelRetroMatchDays: number;
  /**
   * NETWORK_TOPOLOGY_CACHE_SIZE: how many network-map nodes plus edges each posture process keeps between requests
   * (default 500,000, about 135 MB; 0 keeps none): topologies under their tenant's inventory token, so a page of resources with
   * their exposure, or a network map, reads only that token until the tenant's inventory changes.
   */
  networkTopologyCacheSize: number;
  /**
   * COMPLIANCE_CACHE_SIZE: how many compliance signature rows (a tenant's resources grouped by the mapped
   * definitions that assess them) each posture process keeps between requests (default 200,000, tens of MB; 0 keeps
   * none), under their tenant's assessments token, so compliance reads only that token until the tenant's
   * assessments change.
   */
  complianceCacheSize: number;
  /**
   * The key ring that encrypts playbook signing secrets at rest, newest first: the first key encrypts, the
   * others only decrypt (until the re-encryption job has moved every secret to the first). Empty: one key
   * derived from the internal token secret, as before the ring existed.
   */
  playbookSecretKeys: PlaybookSecretKey[];
  /**
   * Ids of keys given up for good: playbook secrets sealed under them stay KEY_MISSING (an admin sets them again)
   * without holding the SIEM's `/ready` at 503. Any other key a stored secret needs and the ring lacks does.
   */
  playbookSecretLostKeyIds: string[];
  /** How `POST /ingest/events` stores what it is sent (see EventQueueConfig). */
  eventQueue: EventQueueConfig;
}

/**
 * The event-ingest queue. `off` (the default): the SIEM stores an NDJSON body before it answers. `nats`: it
 * queues the body on a JetStream stream, answers 202 with a receipt, and its ingest workers store it.
 */
export interface EventQueueConfig {
  mode: "off" | "nats";
  /** NATS server URLs (seeds: the client learns the rest of a cluster from them). */
  servers: string[];
  /** Names the stream (`<prefix>_EVENT_INGEST`), its subject and the workers' durable consumer. */
  streamPrefix: string;
  /** How long a worker may hold a message unacknowledged before JetStream delivers it again. */
  ackWaitSeconds: number;
  /**
   * Attempts at storing one message before it is given up and its receipt marked FAILED. Counted by the workers
   * (the JetStream consumer delivers without limit): the delivery after the last gives up a chunk whose last
   * attempt ended without an outcome.
   */
  maxDeliver: number;
}

/** Thrown when the environment does not validate; the message lists every bad variable. */
export class ConfigError extends Error {}

/**
 * Reads and validates the environment (or the given record); throws ConfigError naming each fault. `service` is
 * the program reading it, for what production asks of its database settings (`databaseIssues`); tools that
 * name none are held to the rest.
 */
export function loadConfig(
  source: Record<string, string | undefined> = process.env,
  service?: ServiceName,
): Config {
  const parsed = envSchema(service).safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const local = (p: number) => `http://${e.HOST}:${p}/graphql`;
  const production = e.RAMPART_ENV === "production";
  return {
    env: e.RAMPART_ENV,
    logLevel: e.LOG_LEVEL,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databaseReplicaUrl: e.DATABASE_REPLICA_URL,
    db: {
      rolePrefix: e.DB_ROLE_PREFIX,
      rolePasswords: {
        posture: e.DB_ROLE_PASSWORD_POSTURE ?? e.DB_ROLE_PASSWORD ?? DEV_DB_ROLE_PASSWORD,
        protection: e.DB_ROLE_PASSWORD_PROTECTION ?? e.DB_ROLE_PASSWORD ?? DEV_DB_ROLE_PASSWORD,
        siem: e.DB_ROLE_PASSWORD_SIEM ?? e.DB_ROLE_PASSWORD ?? DEV_DB_ROLE_PASSWORD,
      },
      poolSize: e.DB_POOL_SIZE,
      replicaPoolSize: e.DB_REPLICA_POOL_SIZE,
      acquireTimeoutMs: e.DB_POOL_ACQUIRE_TIMEOUT_MS,
    },
    ports: {
      gateway: e.GATEWAY_PORT,
      posture: e.POSTURE_PORT,
      protection: e.PROTECTION_PORT,
      siem: e.SIEM_PORT,
    },
    subgraphUrls: {
      posture: e.POSTURE_URL ?? local(e.POSTURE_PORT),
      protection: e.PROTECTION_URL ?? local(e.PROTECTION_PORT),
      siem: e.SIEM_URL ?? local(e.SIEM_PORT),
    },
    supergraphPath: e.SUPERGRAPH_PATH,
    jwt: {
      secret: e.JWT_SECRET ?? (e.JWT_JWKS_URL || production ? undefined : DEV_JWT_SECRET),
      previousSecret: e.JWT_SECRET_PREVIOUS,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      tenantClaim: e.JWT_TENANT_CLAIM,
      rolesClaim: e.JWT_ROLES_CLAIM,
      roleMap: e.JWT_ROLE_MAP,
      resourceClaim: e.JWT_RESOURCE_CLAIM,
    },
    internalTokenSecret: e.INTERNAL_TOKEN_SECRET ?? DEV_INTERNAL_SECRET,
    internalTokenPreviousSecret: e.INTERNAL_TOKEN_SECRET_PREVIOUS,
    introspection: production ? source.INTROSPECTION === "true" : e.INTROSPECTION,
    jobsEnabled: e.JOBS_ENABLED,
    demoTenantId: e.DEMO_TENANT_ID,
    seedDemo: e.SEED_DEMO,
    maxBodyBytes: e.MAX_BODY_BYTES,
    metricsToken: e.METRICS_TOKEN,
    eventRetentionDays: e.EVENT_RETENTION_DAYS,
    telemetryRetentionDays: e.TELEMETRY_RETENTION_DAYS,
    telemetryRelayBusyShare: e.TELEMETRY_RELAY_BUSY_SHARE,
    subscriptionQueueLimit: e.SUBSCRIPTION_QUEUE_LIMIT,
    subgraphTimeoutMs: e.SUBGRAPH_TIMEOUT_MS,
    subscriptionKeepAliveMs: e.SUBSCRIPTION_KEEPALIVE_MS,
    subscriptionsPerConnection: e.SUBSCRIPTIONS_PER_CONNECTION,
    liveConnectionsPerUser: e.LIVE_CONNECTIONS_PER_USER,
    liveConnectionsPerTenant: e.LIVE_CONNECTIONS_PER_TENANT,
    rateLimits: {
      userRequests: {
        perSecond: e.RATE_LIMIT_USER_REQUESTS_PER_SECOND,
        burst: e.RATE_LIMIT_USER_REQUEST_BURST,
      },
      tenantRequests: {
        perSecond: e.RATE_LIMIT_TENANT_REQUESTS_PER_SECOND,
        burst: e.RATE_LIMIT_TENANT_REQUEST_BURST,
      },
      tenantIngestBytes: {
        perSecond: e.RATE_LIMIT_TENANT_INGEST_BYTES_PER_SECOND,
        burst: e.RATE_LIMIT_TENANT_INGEST_BYTE_BURST,
      },
    },
    safelistPath: e.SAFELIST_PATH,
    trustedProxies: e.TRUSTED_PROXIES,
    playbookAllowPrivateTargets: e.PLAYBOOK_ALLOW_PRIVATE_TARGETS,
    intelFeedAllowPrivateTargets: e.INTEL_FEED_ALLOW_PRIVATE_TARGETS,
    intelRetroMatchDays: e.INTEL_RETRO_MATCH_DAYS,
    networkTopologyCacheSize: e.NETWORK_TOPOLOGY_CACHE_SIZE,
    complianceCacheSize: e.COMPLIANCE_CACHE_SIZE,
    playbookSecretKeys: e.PLAYBOOK_SECRET_KEYS,
    playbookSecretLostKeyIds: e.PLAYBOOK_SECRET_KEYS_LOST,
    eventQueue: {
      mode: e.EVENT_INGEST_QUEUE,
      servers: e.NATS_URL,
      streamPrefix: e.NATS_STREAM_PREFIX,
      ackWaitSeconds: e.EVENT_INGEST_ACK_WAIT_SECONDS,
      maxDeliver: e.EVENT_INGEST_MAX_DELIVER,
    },
  };
}

/** The names of the variables `loadConfig` reads (the compose-file check compares against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(EnvShape);
