/**
 * Checks docker-compose.yml and the Dockerfile against the code they run, without Docker:
 * variable names against `CONFIG_VARIABLES`, commands against the sources `npm run build` compiles,
 * ports against `loadConfig` defaults, and the services' environment against production validation.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import {
  CONFIG_VARIABLES,
  DATABASE_VARIABLES,
  loadConfig,
  type ServiceName,
} from "../subgraphs/common/src/config";
import { nodeFlagsOf } from "../scripts/lib/services";

const ROOT = path.resolve(__dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface Service {
  image?: string;
  build?: string | { context?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  ports?: Array<string | number | { target?: number; published?: string | number }>;
  restart?: string;
}

interface ComposeFile {
  services: Record<string, Service>;
}

// Merge keys (`<<: *env`), as compose reads them.
const compose = parse(read("docker-compose.yml"), { merge: true }) as ComposeFile;
const services = compose.services;
const dockerfile = read("Dockerfile");
const defaults = loadConfig({});

const SUBGRAPHS = ["posture", "protection", "siem"] as const;
const LONG_RUNNING = [...SUBGRAPHS, "gateway"] as const;
/** Services built from the Rampart image (everything but Postgres). */
const APP_SERVICES = Object.keys(services).filter((name) => services[name].build !== undefined);
/** Variables the official postgres image reads; allowed on the postgres service only. */
const POSTGRES_IMAGE_VARIABLES = new Set([
  "POSTGRES_DB",
  "POSTGRES_USER",
  "POSTGRES_PASSWORD",
  "POSTGRES_PASSWORD_FILE",
  "POSTGRES_INITDB_ARGS",
  "POSTGRES_INITDB_WALDIR",
  "POSTGRES_HOST_AUTH_METHOD",
  "PGDATA",
]);
/** Secrets that must come from the operator's environment, never from the file, by the services that hold them. */
const REQUIRED_SECRETS: Record<string, readonly string[]> = {
  INTERNAL_TOKEN_SECRET: ["gateway", "migrate", "posture", "protection", "siem"],
  DB_ROLE_PASSWORD_POSTURE: ["migrate", "posture"],
  DB_ROLE_PASSWORD_PROTECTION: ["migrate", "protection"],
  DB_ROLE_PASSWORD_SIEM: ["migrate", "siem"],
};

/** A service's environment as written in the file (before compose interpolation). */
function rawEnvironment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf("=");
        return eq < 0 ? [entry, ""] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, value === null ? "" : String(value)]),
  );
}

/** `$$`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}` and `$VAR`. */
const PLACEHOLDER = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

function placeholders(value: string): Array<{ name: string; operator?: string }> {
  return [...value.matchAll(PLACEHOLDER)]
    .filter((m) => m[0] !== "$$")
    .map((m) => ({ name: m[1] ?? m[4], operator: m[2] }));
}

/**
 * What compose makes of a value when the operator sets the required (`:?`) variables and leaves the
 * optional ones unset: required placeholders become a 40-character dummy secret, defaults apply.
 */
function interpolate(value: string): string {
  return value.replace(
    PLACEHOLDER,
    (
      match,
      braced: string | undefined,
      operator: string | undefined,
      argument: string | undefined,
      bare?: string,
    ) => {
      if (match === "$$") return "$";
      if (operator === ":-" || operator === "-") return argument ?? "";
      // A secret of its own per variable, as an operator sets them (migrate refuses two roles sharing one).
      return `${(braced ?? bare ?? "").toLowerCase()}-${"s".repeat(32)}`;
    },
  );
}

function environment(name: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(rawEnvironment(services[name])).map(([k, v]) => [k, interpolate(v)]),
  );
}

function commandArgs(service: Service): string[] {
  const command = service.command ?? [];
  return Array.isArray(command) ? command : command.split(/\s+/).filter(Boolean);
}

function dependencies(service: Service): Record<string, string | undefined> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, "service_started"]));
  return Object.fromEntries(
    Object.entries(deps).map(([name, d]) => [name, d?.condition ?? "service_started"]),
  );
}

function healthcheckCommand(service: Service): string[] {
  const test = service.healthcheck?.test ?? [];
  return Array.isArray(test) ? test : ["CMD-SHELL", test];
}

describe("docker-compose.yml", () => {
  it("defines postgres, migrate, the three subgraphs and the gateway", () => {
    expect(Object.keys(services).sort()).toEqual([
      "gateway",
      "migrate",
      "nats",
      "postgres",
      "posture",
      "protection",
      "siem",
    ]);
    expect([...APP_SERVICES].sort()).toEqual(["gateway", "migrate", "posture", "protection", "siem"]);
  });

  describe("environment variable names", () => {
    it.each(Object.keys(services))("%s sets only variables its program reads", (name) => {
      const allowed = name === "postgres" ? POSTGRES_IMAGE_VARIABLES : new Set(CONFIG_VARIABLES);
      const unknown = Object.keys(rawEnvironment(services[name])).filter((key) => !allowed.has(key));
      expect(unknown).toEqual([]);
    });

    it("gives every Rampart service the same environment (the x-rampart-env anchor) but for its database settings", () => {
      const [first, ...rest] = APP_SERVICES.map((name) => rawEnvironment(services[name]));
      const shared = (env: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(env).filter(([key]) => !(DATABASE_VARIABLES as readonly string[]).includes(key)),
        );
      expect(Object.keys(shared(first)).length).toBeGreaterThan(0);
      for (const env of rest) expect(shared(env)).toEqual(shared(first));
    });

    it("gives each service only its own database credentials: none to the gateway, a subgraph its role's", () => {
      const database = (name: string) =>
        Object.keys(rawEnvironment(services[name]))
          .filter((key) => (DATABASE_VARIABLES as readonly string[]).includes(key))
          .sort();
      expect(database("gateway")).toEqual([]);
      for (const subgraph of SUBGRAPHS) {
        expect(database(subgraph)).toEqual(["DATABASE_URL", `DB_ROLE_PASSWORD_${subgraph.toUpperCase()}`]);
        // The address: the superuser's password is migrate's alone.
        expect(new URL(environment(subgraph).DATABASE_URL).password).toBe("");
      }
      expect(database("migrate")).toEqual([
        "DATABASE_URL",
        "DB_ROLE_PASSWORD_POSTURE",
        "DB_ROLE_PASSWORD_PROTECTION",
        "DB_ROLE_PASSWORD_SIEM",
      ]);
    });

    it("uses a default or a required-error for every ${VAR} placeholder, so none becomes an empty string", () => {
      const bare = Object.keys(services).flatMap((name) =>
        Object.entries(rawEnvironment(services[name])).flatMap(([key, value]) =>
          placeholders(value)
            .filter((p) => p.operator !== ":-" && p.operator !== ":?")
            .map((p) => `${name}.${key}: ${p.name}`),
        ),
      );
      expect(bare).toEqual([]);
    });

    it("takes the secrets from the operator's environment and refuses to start without them", () => {
      for (const [key, holders] of Object.entries(REQUIRED_SECRETS))
        for (const name of holders)
          expect(rawEnvironment(services[name])[key]).toMatch(new RegExp(`^\\$\\{${key}:\\?.+\\}$`));
      const env = rawEnvironment(services.gateway);
      if ("JWT_SECRET" in env) expect(env.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?.+\}$/);
      expect("JWT_SECRET" in env || "JWT_JWKS_URL" in env).toBe(true);
    });
  });

  describe("commands", () => {
    const expected: Record<string, string> = {
      migrate: "scripts/migrate.ts",
      posture: "subgraphs/posture/src/main.ts",
      protection: "subgraphs/protection/src/main.ts",
      siem: "subgraphs/siem/src/main.ts",
      gateway: "gateway/src/main.ts",
    };
    const buildScript = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts
      .build;

    it.each(Object.entries(expected))(
      "%s runs the compiled %s, which exists and is compiled by npm run build",
      (name, source) => {
        const args = commandArgs(services[name]);
        expect(args[0]).toBe("node");
        // The same Node.js flags as `npm start` gives the service (scripts/lib/services.ts).
        expect(args.slice(1, -1)).toEqual(name === "migrate" ? [] : nodeFlagsOf(name));
        const script = args.find((arg) => /^dist\/.+\.js$/.test(arg));
        expect(script).toBeDefined();
        const ts = script!.replace(/^dist\//, "").replace(/\.js$/, ".ts");
        expect(ts).toBe(source);
        expect(existsSync(path.join(ROOT, ts))).toBe(true);
        expect(buildScript.split(/\s+/)).toContain(ts.split("/")[0]);
      },
    );
  });

  describe("the optional event-ingest queue", () => {
    /** The commented-out `KEY: value` lines of the x-rampart-env block. */
    const commented = () => {
      const block = read("docker-compose.yml").split("\nservices:")[0];
      return Object.fromEntries(
        [...block.matchAll(/^ {2}# ([A-Z][A-Z0-9_]*): (\S+)$/gm)].map((m) => [m[1], m[2]] as const),
      );
    };

    it("runs NATS 2 with JetStream on a volume, with a healthcheck, only under the ingest-queue profile", () => {
      const nats = services.nats as Service & { profiles?: string[]; volumes?: string[] };
      expect(nats.image).toMatch(/^nats:2(-alpine)?$/);
      expect(nats.profiles).toEqual(["ingest-queue"]);
      const args = commandArgs(nats);
      expect(args).toContain("-js");
      const store = args[args.indexOf("-sd") + 1];
      expect(nats.volumes?.some((v) => v.endsWith(`:${store}`))).toBe(true);
      expect(healthcheckCommand(nats).join(" ")).toContain("/healthz");
    });

    it("documents the SIEM's queue variables commented out: known to loadConfig, valid, and naming the nats service", () => {
      const queue = commented();
      expect(queue).toMatchObject({ EVENT_INGEST_QUEUE: "nats", NATS_URL: "nats://nats:4222" });
      for (const key of Object.keys(queue)) expect(CONFIG_VARIABLES).toContain(key);
      const config = loadConfig({ ...environment("siem"), ...queue });
      expect(config.eventQueue.mode).toBe("nats");
      expect(config.eventQueue.servers.map((s) => new URL(s).hostname)).toEqual(["nats"]);
      // Off unless uncommented: the default synchronous ingest.
      expect(loadConfig(environment("siem")).eventQueue.mode).toBe("off");
    });
  });

  describe("start order and health", () => {
    it("starts migrate once Postgres is healthy, and never restarts it", () => {
      expect(dependencies(services.migrate)).toEqual({ postgres: "service_healthy" });
      expect(services.migrate.restart).toBe("no");
      expect(healthcheckCommand(services.postgres).join(" ")).toContain("pg_isready");
    });

    it.each(LONG_RUNNING)("%s starts after migrate completed successfully", (name) => {
      expect(dependencies(services[name]).migrate).toBe("service_completed_successfully");
    });

    it("starts the gateway once the three subgraphs are healthy", () => {
      const deps = dependencies(services.gateway);
      for (const subgraph of SUBGRAPHS) expect(deps[subgraph]).toBe("service_healthy");
    });

    it.each(LONG_RUNNING)("%s has a node-based healthcheck on /ready at its default port", (name) => {
      const test = healthcheckCommand(services[name]);
      expect(test.slice(0, 3)).toEqual(["CMD", "node", "-e"]);
      expect(test[3]).toContain(`http://127.0.0.1:${defaults.ports[name]}/ready`);
    });
  });

  describe("ports", () => {
    it.each(SUBGRAPHS)("the %s URL points at that service on its default port", (name) => {
      const url = new URL(environment("gateway")[`${name.toUpperCase()}_URL`]);
      expect(url.hostname).toBe(name);
      expect(Number(url.port)).toBe(defaults.ports[name]);
      expect(url.pathname).toBe("/graphql");
    });

    it("publishes only the gateway, on its default port", () => {
      const published = Object.keys(services).filter((name) => services[name].ports?.length);
      expect(published).toEqual(["gateway"]);
      const ports = services.gateway.ports!.map((p) =>
        typeof p === "object" ? Number(p.target) : Number(String(p).split(":").pop()),
      );
      expect(ports).toEqual([defaults.ports.gateway]);
    });
  });

  describe("production validation", () => {
    it.each(APP_SERVICES)("loadConfig accepts the environment compose gives %s", (name) => {
      const env = environment(name);
      const config = loadConfig(env, name as ServiceName);
      expect(config.env).toBe("production");
      expect(config.host).toBe("0.0.0.0");
      if (name === "gateway") expect(config.databaseUrl).toBeUndefined();
      else if (name === "migrate")
        expect(config.databaseUrl).toMatch(/^postgres:\/\/postgres:.+@postgres:5432\/rampart$/);
      else expect(config.databaseUrl).toBe("postgres://postgres:5432/rampart");
      expect(config.subgraphUrls).toEqual({
        posture: `http://posture:${defaults.ports.posture}/graphql`,
        protection: `http://protection:${defaults.ports.protection}/graphql`,
        siem: `http://siem:${defaults.ports.siem}/graphql`,
      });
    });

    it.each(Object.entries(REQUIRED_SECRETS).flatMap(([key, holders]) => holders.map((name) => [name, key])))(
      "loadConfig refuses the environment of %s without %s",
      (name, key) => {
        const env = environment(name);
        delete env[key];
        expect(() => loadConfig(env, name as ServiceName)).toThrow(key);
      },
    );

    it("points SUPERGRAPH_PATH at a file that exists and is copied into the image", () => {
      const supergraph = loadConfig(environment("gateway"), "gateway").supergraphPath;
      expect(existsSync(path.join(ROOT, supergraph))).toBe(true);
      const file = supergraph.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      expect(dockerfile).toMatch(new RegExp(`^COPY --from=\\S+ \\S*${file}\\s+\\S*${file}\\s*$`, "m"));
    });
  });
});

describe("Dockerfile", () => {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("builds on node:20-bookworm-slim with npm ci and npm run build", () => {
    expect(dockerfile).toMatch(/node:20-bookworm-slim/);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/\bnpm run build\b/);
    expect(dockerfile.indexOf("npm ci")).toBeLessThan(dockerfile.indexOf("npm run build"));
  });

  it("runs as the unprivileged node user in production mode", () => {
    expect(runtime).toMatch(/^USER node\s*$/m);
    expect(runtime).toMatch(/^ENV RAMPART_ENV=production\b/m);
  });

  it("copies node_modules, dist and package.json into the runtime stage and leaves the command to compose", () => {
    for (const item of ["node_modules", "dist", "package.json"]) {
      expect(runtime).toMatch(new RegExp(`^COPY --from=\\S+ \\S*/${item}\\b`, "m"));
    }
    expect(runtime).not.toMatch(/^(CMD|ENTRYPOINT)\b/m);
  });

  it("copies every subgraph's data directory (loaded before serving) into the runtime stage", () => {
    const dataDirs = readdirSync(path.join(ROOT, "subgraphs"), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(path.join(ROOT, "subgraphs", e.name, "data")))
      .map((e) => `subgraphs/${e.name}/data`);
    expect(dataDirs.length).toBeGreaterThan(0);
    for (const dir of dataDirs) {
      const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      expect(runtime).toMatch(new RegExp(`^COPY --from=\\S+ \\S*${escaped}\\s+\\S*${escaped}\\s*$`, "m"));
    }
  });

  it("has a .dockerignore that keeps local builds, data and secrets out of the context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((line) => line.trim());
    for (const entry of ["node_modules", "dist", ".data", ".git", "test/__generated__", ".env"]) {
      expect(ignored).toContain(entry);
    }
  });
});
