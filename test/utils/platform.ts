import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { startGateway, type Gateway } from "../../gateway/src/server";
import { signDevToken } from "../../gateway/src/auth";
import type { DataSource } from "typeorm";
import {
  createDataSource,
  createLogger,
  loadConfig,
  runSubgraph,
  subgraphDatabaseUrl,
  InternalTokens,
  type Config,
  type Role,
  type SubgraphServer,
} from "../../subgraphs/common/src";
import { migrateAll, SUBGRAPH_MODULES } from "../../scripts/lib/platform";
import { createTestDatabase, type TestDatabase } from "./database";

/** A GraphQL response as a client sees it. */
export interface GqlResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }>;
}

/** The whole platform, in this process, on a database of its own. */
export interface TestPlatform {
  config: Config;
  db: TestDatabase;
  gateway: Gateway;
  subgraphs: Record<"posture" | "protection" | "siem", SubgraphServer>;
  /** Closes a subgraph (if still running) and starts it again on the same port (same URL). */
  restartSubgraph(name: "posture" | "protection" | "siem"): Promise<SubgraphServer>;
  /** A client token for `tenant` with `roles` (dev HS256 key). */
  token(roles: Role[], tenant?: string, subject?: string): Promise<string>;
  /** An internal identity token, as the gateway would send to a subgraph. */
  internalToken(roles: Role[], tenant: string): Promise<string>;
  /**
   * A DataSource connected as a subgraph's own role (RLS applies, like in the service), for tests that
   * look at or prepare rows directly. Destroyed by `stop()` if the test has not.
   */
  connect(subgraph: "posture" | "protection" | "siem"): Promise<DataSource>;
  /** One client token per name: `{ admin: [[Role.ADMIN], "tenant-a"], … }`. */
  tokens<K extends string>(spec: Record<K, readonly [readonly Role[], string]>): Promise<Record<K, string>>;
  /** Runs a typed operation through the gateway. */
  request<R, V>(doc: TypedDocumentNode<R, V>, variables: V, token: string): Promise<GqlResponse<R>>;
  stop(): Promise<void>;
}

/** POSTs a GraphQL body to `url`. */
export async function postGraphql<T>(
  url: string,
  body: unknown,
  headers: Record<string, string | undefined>,
): Promise<GqlResponse<T>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...definedOnly(headers) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Omit<GqlResponse<T>, "status">;
  return { status: res.status, ...json };
}

/** An operation's answer as the concurrency tests compare it: each error reduced to its code and message. */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors: Array<{ code: string; message: string }>;
}

/**
 * POSTs one operation to `url` with a bearer token; a body that is not JSON (a crash, a proxy's page) becomes an
 * Answer too (code NOT_JSON), so a test firing many calls at once can count every outcome.
 */
export async function sendOperation<T = Record<string, unknown>>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Answer<T>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    const json = JSON.parse(text) as {
      data?: T | null;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    };
    return {
      status: res.status,
      data: json.data,
      errors: (json.errors ?? []).map((e) => ({ code: String(e.extensions?.code), message: e.message })),
    };
  } catch {
    return { status: res.status, errors: [{ code: "NOT_JSON", message: text.slice(0, 200) }] };
  }
}

/**
 * Starts posture, protection, siem and the gateway on free ports against a fresh database
 * (migrated as in production: roles, schemas, RLS). `stop()` closes everything and drops it.
 * Given `options.db`, it runs on that database instead and leaves it to the caller (a test that restarts the
 * platform on the same data).
 */
export async function startTestPlatform(
  env: Record<string, string> = {},
  options: { db?: TestDatabase } = {},
): Promise<TestPlatform> {
  const db = options.db ?? (await createTestDatabase());
  const dropDatabase = () => (options.db ? Promise.resolve() : db.drop());
  const config = loadConfig({
    RAMPART_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATABASE_URL: db.url,
    DB_ROLE_PREFIX: db.rolePrefix,
    DB_POOL_SIZE: "5",
    // Playbook tests call webhook receivers on this machine.
    PLAYBOOK_ALLOW_PRIVATE_TARGETS: "true",
    ...env,
  });
  const log = createLogger("test", config.logLevel);
  const servers: Partial<TestPlatform["subgraphs"]> = {};
  const started: Array<{ close(): Promise<void> }> = [
    { close: async () => void (await Promise.all(Object.values(servers).map((s) => s.close()))) },
  ];
  const run = (name: "posture" | "protection" | "siem", port: number) => {
    const module = SUBGRAPH_MODULES.find((m) => m.name === name)!;
    return runSubgraph(module, config, { port, log: log.child({ service: name }) });
  };
  try {
    await migrateAll(config, log);
    // The SIEM first, on a free port that the others' configuration then names: protection's relay
    // delivers detections to `config.subgraphUrls.siem`.
    servers.siem = await run("siem", 0);
    config.ports.siem = servers.siem.port;
    config.subgraphUrls.siem = servers.siem.url;
    for (const module of SUBGRAPH_MODULES)
      if (module.name !== "siem") {
        servers[module.name] = await run(module.name, 0);
        // Protection's report relay calls posture at `config.subgraphUrls.posture` (read at each call).
        config.ports[module.name] = servers[module.name]!.port;
        config.subgraphUrls[module.name] = servers[module.name]!.url;
      }
    const subgraphs = servers as TestPlatform["subgraphs"];
    const gateway = await startGateway(config, log.child({ service: "gateway" }), {
      port: 0,
      subgraphUrls: {
        posture: subgraphs.posture.url,
        protection: subgraphs.protection.url,
        siem: subgraphs.siem.url,
      },
    });
    started.push(gateway);
    const internal = new InternalTokens(config.internalTokenSecret);
    const connections: DataSource[] = [];
    const token: TestPlatform["token"] = (roles, tenant = "tenant-a", subject = "tester@example.com") =>
      signDevToken(config.jwt.secret!, { subject, tenantId: tenant, roles, ttlSeconds: 600 });
    return {
      config,
      db,
      gateway,
      subgraphs,
      restartSubgraph: async (name) => {
        const old = subgraphs[name];
        await old.close();
        subgraphs[name] = await run(name, old.port);
        return subgraphs[name];
      },
      token,
      tokens: async (spec) => {
        const entries = await Promise.all(
          (Object.entries(spec) as Array<[string, readonly [readonly Role[], string]]>).map(
            async ([name, [roles, tenant]]) => [name, await token([...roles], tenant)] as const,
          ),
        );
        return Object.fromEntries(entries) as Record<keyof typeof spec, string>;
      },
      connect: async (subgraph) => {
        const ds = createDataSource({
          subgraph: `${subgraph}-test`,
          url: subgraphDatabaseUrl(config, subgraph),
          schema: subgraph,
          entities: [],
          logger: createLogger("test", "silent"),
        });
        await ds.initialize();
        connections.push(ds);
        return ds;
      },
      internalToken: (roles, tenant) =>
        internal.sign({ subject: "tester@example.com", tenantId: tenant, roles }),
      request: (doc, variables, token) =>
        postGraphql(gateway.url, { query: print(doc), variables }, { authorization: `Bearer ${token}` }),
      stop: async () => {
        for (const ds of connections) if (ds.isInitialized) await ds.destroy();
        for (const s of started.reverse()) await s.close();
        await dropDatabase();
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    await dropDatabase().catch(() => undefined);
    throw err;
  }
}

/** Drops headers whose value is undefined. */
function definedOnly(headers: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
}
