import { readFileSync } from "node:fs";
import {
  buildSchema,
  getNamedType,
  isObjectType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from "graphql";
import { SignJWT } from "jose";
import { signDevToken } from "../gateway/src/auth";
import { startGateway, type Gateway } from "../gateway/src/server";
import { createLogger, IDENTITY_HEADER, loadConfig, Role } from "../subgraphs/common/src";
import { eventually, watch, wsClient, type Stream } from "./utils/live";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { MATRIX, X, type Access } from "./utils/root-fields";

/** The callers of the matrix: every role alone, and a token naming no role at all. */
const CALLERS = ["READER", "ANALYST", "RESPONDER", "ADMIN", "INGESTOR", "NONE"] as const;
type Caller = (typeof CALLERS)[number];

const ALLOWED: Record<Access, readonly Caller[]> = {
  READER: ["READER", "ANALYST", "RESPONDER", "ADMIN"],
  ANALYST: ["ANALYST", "RESPONDER", "ADMIN"],
  RESPONDER: ["RESPONDER", "ADMIN"],
  ADMIN: ["ADMIN"],
  INGEST: ["INGESTOR", "ADMIN"],
  RECEIPT: ["READER", "ANALYST", "RESPONDER", "ADMIN", "INGESTOR"],
  AGENT: ["READER", "ANALYST", "RESPONDER", "ADMIN", "INGESTOR"],
};

/** The root fields a machine-bound agent credential may call (each keeps it to its own machine). */
const MACHINE_BOUND = ["Query.agentPolicy", "Mutation.ingestTelemetry", "Mutation.ingestPackageInventory"];

/**
 * What an INGEST mutation's answer may show an INGESTOR, per type reachable from it: the fields that
 * count or echo what it pushed ("all", or a list). Any other field of those types reads the tenant's
 * data and must refuse an INGESTOR; `PROBES` gives a call whose answer holds such an object.
 */
const INGESTOR_VISIBLE: Record<string, "all" | readonly string[]> = {
  UpsertAssessmentsPayload: "all",
  RecordRejection: "all",
  UpsertResourcesPayload: "all",
  RemoveResourcesPayload: "all",
  CloudAccount: ["id", "provider", "externalId", "name", "onboardedAt", "updatedAt"],
  IngestPackagesPayload: "all",
  IngestTelemetryPayload: "all",
  TelemetryRejection: "all",
  IngestAlertsPayload: "all",
  IngestEventsPayload: "all",
  EventRejection: "all",
  ImportStixBundlePayload: "all",
  StixProblem: "all",
  ImportAdvisoriesPayload: "all",
};

/** Per INGEST mutation with refused fields: its call with `%` for the selection, answering ≥ 1 object. */
const PROBES: Record<string, string> = {
  upsertCloudAccounts: `mutation { upsertCloudAccounts(input: [{ provider: AZURE, externalId: "matrix-sub-1", name: "Matrix" }]) %}`,
};

const api = (): GraphQLSchema => buildSchema(readFileSync(`${__dirname}/../gateway/schema.graphql`, "utf8"));

function rootFields(schema: GraphQLSchema): string[] {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) =>
    t ? Object.keys(t.getFields()).map((f) => `${t.name}.${f}`) : [],
  );
}

/** The error codes of an answer (none: it was authorised and succeeded). */
const codesOf = (res: { errors?: ReadonlyArray<{ extensions?: { code?: unknown } }> }): string[] =>
  (res.errors ?? []).map((e) => String(e.extensions?.code));

/**
 * Codes an authorised call must not get: refused, or stopped before its resolver's check (an internal
 * error would hide whether the check passed).
 */
const NOT_DECIDED = [
  "FORBIDDEN",
  "UNAUTHENTICATED",
  "GRAPHQL_VALIDATION_FAILED",
  "GRAPHQL_PARSE_FAILED",
  "INTERNAL_SERVER_ERROR",
];

describe("authorization matrix", () => {
  let platform: TestPlatform;
  let tokens: Record<Caller, string>;
  const post = (query: string, token: string, variables: Record<string, unknown> = {}) =>
    postGraphql<Record<string, unknown>>(
      platform.gateway.url,
      { query, variables },
      { authorization: `Bearer ${token}` },
    );

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    tokens = Object.fromEntries(
      await Promise.all(
        CALLERS.map(async (c) => [
          c,
          await platform.token(c === "NONE" ? [] : [c as Role], "tenant-matrix", `${c.toLowerCase()}@matrix`),
        ]),
      ),
    ) as Record<Caller, string>;
  });
  afterAll(() => platform?.stop());

  it("has a decision for every Query, Mutation and Subscription field of the API, and for nothing else", () => {
    expect(Object.keys(MATRIX).sort()).toEqual(rootFields(api()).sort());
  });

  it("refuses every query and mutation below its role with FORBIDDEN and lets every role at or above it through", async () => {
    const calls = Object.entries(MATRIX)
      .filter(([field]) => !field.startsWith("Subscription."))
      .flatMap(([field, { access, call }]) => CALLERS.map((caller) => ({ field, access, call, caller })));
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < calls.length; i += 36) {
      const batch = calls.slice(i, i + 36);
      const answers = await Promise.all(batch.map((c) => post(c.call, tokens[c.caller])));
      batch.forEach((c, j) => {
        const codes = codesOf(answers[j]);
        const allowed = ALLOWED[c.access].includes(c.caller);
        // Refused: FORBIDDEN and nothing else, no value. Allowed: no code that hides the decision.
        const data = answers[j].data;
        const empty = !data || Object.values(data).every((v) => v === null);
        const refused = codes.length > 0 && codes.every((code) => code === "FORBIDDEN") && empty;
        const decided = !codes.some((code) => NOT_DECIDED.includes(code));
        const outcome = refused ? "refused" : decided ? "allowed" : `undecided: ${codes.join(",")}`;
        outcomes.push(`${c.field} as ${c.caller}: ${outcome}`);
        expected.push(`${c.field} as ${c.caller}: ${allowed ? "allowed" : "refused"}`);
      });
    }
    expect(outcomes).toEqual(expected);
  });

  it("keeps a machine-bound INGESTOR to its machine's fields and routes, refusing every other with FORBIDDEN", async () => {
    const bound = await signDevToken(platform.config.jwt.secret!, {
      subject: "agent@matrix",
      tenantId: "tenant-matrix",
      roles: [Role.INGESTOR],
      resourceId: X,
      ttlSeconds: 600,
    });
    const calls = Object.entries(MATRIX).filter(([field]) => !field.startsWith("Subscription."));
    const answers = await Promise.all(calls.map(([, { call }]) => post(call, bound)));
    const outcomes = calls.map(([field], i) => {
      const codes = codesOf(answers[i]);
      const refused = codes.length > 0 && codes.every((code) => code === "FORBIDDEN");
      const decided = !codes.some((code) => NOT_DECIDED.includes(code));
      return `${field}: ${refused ? "refused" : decided ? "allowed" : `undecided: ${codes.join(",")}`}`;
    });
    expect(outcomes).toEqual(
      calls.map(([field]) => `${field}: ${MACHINE_BOUND.includes(field) ? "allowed" : "refused"}`),
    );
    const origin = new URL(platform.gateway.url).origin;
    const statuses = [];
    for (const path of ["/ingest/telemetry", "/ingest/events?connector=SYSLOG_CEF"]) {
      const res = await fetch(`${origin}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${bound}`, "content-type": "application/x-ndjson" },
        body: "\n",
      });
      statuses.push(`${path}: ${res.status}`);
    }
    expect(statuses).toEqual(["/ingest/telemetry: 200", "/ingest/events?connector=SYSLOG_CEF: 403"]);
  });

  it("lets every reader subscribe to each stream and refuses INGESTOR and role-less callers with FORBIDDEN", async () => {
    // One alert: it raises an alertCreated event and opens an incident (an incidentChanges event); its
    // triage raises an alertUpdated event.
    const raised = await post(
      `mutation { ingestAlerts(input: [{ sourceId: "matrix-1", title: "Matrix", severity: LOW, entities: [{ type: HOST, value: "matrix-host" }] }]) { createdCount ids } }`,
      tokens.INGESTOR,
    );
    const { createdCount, ids } = raised.data!.ingestAlerts as { createdCount: number; ids: string[] };
    expect(createdCount).toBe(1);
    const triaged = await post(
      `mutation { updateAlerts(input: { ids: ["${ids[0]}"], status: ACTIVE }) { updatedCount } }`,
      tokens.ANALYST,
    );
    expect(triaged.data).toEqual({ updateAlerts: { updatedCount: 1 } });
    // A cursor before everything: the stream replays what exists, so an allowed caller gets a result.
    const start = Buffer.from("o1:0:0").toString("base64url");
    const clients = CALLERS.map((c) => wsClient(platform.gateway.url, tokens[c]));
    try {
      const streams: Array<{ field: string; caller: Caller; access: Access; stream: Stream }> = [];
      for (const [field, { access, call }] of Object.entries(MATRIX))
        if (field.startsWith("Subscription."))
          CALLERS.forEach((caller, i) =>
            streams.push({ field, caller, access, stream: watch(clients[i], call, { after: start }) }),
          );
      await eventually(
        () => streams.every(({ stream }) => stream.completed || stream.results.length > 0),
        "every subscription to answer or end",
      );
      const outcome = ({ stream }: (typeof streams)[number]) => {
        const errors = (Array.isArray(stream.error) ? stream.error : stream.results[0]?.errors) as
          Array<{ extensions?: { code?: string } }> | undefined;
        if (errors?.length)
          return errors.every((e) => e.extensions?.code === "FORBIDDEN") ? "refused" : "error";
        return stream.results[0]?.data ? "allowed" : "nothing";
      };
      expect(streams.map((s) => `${s.field} as ${s.caller}: ${outcome(s)}`)).toEqual(
        streams.map(
          (s) => `${s.field} as ${s.caller}: ${ALLOWED[s.access].includes(s.caller) ? "allowed" : "refused"}`,
        ),
      );
      for (const { stream } of streams) stream.stop();
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });

  it("shows an INGESTOR nothing through an ingest mutation's answer beyond what it pushed", async () => {
    const schema = api();
    const mutations = schema.getMutationType()!.getFields();
    /** Refused fields: the mutation, the path of fields below it, and the leaf's type. */
    const refused: Array<{ mutation: string; path: string[]; type: GraphQLNamedType }> = [];
    const unclassified: string[] = [];
    const walk = (mutation: string, type: GraphQLObjectType, path: string[]) => {
      const visible = INGESTOR_VISIBLE[type.name];
      if (!visible) {
        unclassified.push(`${type.name} (in ${mutation})`);
        return;
      }
      for (const field of Object.values(type.getFields())) {
        const named = getNamedType(field.type);
        if (visible === "all" || visible.includes(field.name)) {
          if (isObjectType(named)) walk(mutation, named, [...path, field.name]);
        } else refused.push({ mutation, path: [...path, field.name], type: named });
      }
    };
    for (const [name, { access }] of Object.entries(MATRIX))
      if (access === "INGEST") {
        const mutation = mutations[name.replace(/^Mutation\./, "")];
        walk(mutation.name, getNamedType(mutation.type) as GraphQLObjectType, []);
      }
    // A new type in an ingest answer needs a decision: which of its fields an INGESTOR may see.
    expect(unclassified).toEqual([]);
    expect(refused.map((r) => `${r.mutation}.${r.path.join(".")}`).sort()).toEqual([
      "upsertCloudAccounts.compliance",
      "upsertCloudAccounts.incidentSummary",
      "upsertCloudAccounts.plans",
      "upsertCloudAccounts.resources",
      "upsertCloudAccounts.secureScore",
    ]);

    for (const { mutation, path, type } of refused) {
      const probe = PROBES[mutation];
      expect(probe).toBeDefined();
      const leaf = isObjectType(type) ? `{ __typename }` : "";
      const selection = path.reduceRight((inner, field) => `{ ${field} ${inner} }`, leaf);
      const asIngestor = await post(probe.replace("%", selection), tokens.INGESTOR);
      expect({ field: path.join("."), codes: codesOf(asIngestor) }).toEqual({
        field: path.join("."),
        codes: ["FORBIDDEN"],
      });
      expect(asIngestor.data ?? null).toBeNull();
      // The same answer is open to an ADMIN, who may both push and read.
      const asAdmin = await post(probe.replace("%", selection), tokens.ADMIN);
      expect({ field: path.join("."), codes: codesOf(asAdmin) }).toEqual({
        field: path.join("."),
        codes: [],
      });
    }
  });

  it("answers the HTTP ingest routes as the GraphQL ingest mutations: INGESTOR and ADMIN only, at the gateway and on the subgraph", async () => {
    const routes = [
      { path: "/ingest/events?connector=SYSLOG_CEF", subgraph: platform.subgraphs.siem.url },
      { path: "/ingest/telemetry", subgraph: platform.subgraphs.protection.url },
    ];
    const gatewayOrigin = new URL(platform.gateway.url).origin;
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const { path, subgraph } of routes)
      for (const caller of CALLERS) {
        const body = "\n";
        const viaGateway = await fetch(`${gatewayOrigin}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens[caller]}`, "content-type": "application/x-ndjson" },
          body,
        });
        const internal = await platform.internalToken(
          caller === "NONE" ? [] : [caller as Role],
          "tenant-matrix",
        );
        const direct = await fetch(`${new URL(subgraph).origin}${path}`, {
          method: "POST",
          headers: { [IDENTITY_HEADER]: internal, "content-type": "application/x-ndjson" },
          body,
        });
        for (const [where, res] of [
          ["gateway", viaGateway],
          ["subgraph", direct],
        ] as const) {
          const json = (await res.json()) as GqlResponse<unknown>;
          const refused = res.status === 403 && codesOf(json).join() === "FORBIDDEN";
          outcomes.push(`${path} via ${where} as ${caller}: ${refused ? "refused" : `${res.status}`}`);
          expected.push(
            `${path} via ${where} as ${caller}: ${ALLOWED.INGEST.includes(caller) ? "200" : "refused"}`,
          );
        }
      }
    expect(outcomes).toEqual(expected);
  });

  it("serves `_entities` and `_service` straight from a subgraph only to the gateway's internal token, and `_entities` only to readers", async () => {
    const forged = await new SignJWT({ tid: "tenant-matrix", roles: [Role.ADMIN] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("mallory")
      .setIssuer("rampart-gateway")
      .setAudience("rampart-subgraphs")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("not-the-internal-secret-but-long-enough-0000"));
    const entities = {
      posture: `{ _entities(representations: [{ __typename: "Resource", id: "${X}" }]) { __typename } }`,
      protection: `{ _entities(representations: [{ __typename: "CloudAccount", id: "${X}" }]) { ... on CloudAccount { plans { tier } } } }`,
      siem: `{ _entities(representations: [{ __typename: "Resource", id: "${X}" }]) { ... on Resource { alerts { totalCount } } } }`,
    } as const;
    for (const [name, query] of Object.entries(entities) as Array<[keyof typeof entities, string]>) {
      const url = platform.subgraphs[name].url;
      for (const q of [query, `{ _service { sdl } }`]) {
        for (const headers of [
          {},
          { [IDENTITY_HEADER]: forged },
          { authorization: `Bearer ${tokens.ADMIN}` },
        ]) {
          const res = await postGraphql(url, { query: q }, headers);
          expect({ name, q, status: res.status, codes: codesOf(res) }).toEqual({
            name,
            q,
            status: 401,
            codes: ["UNAUTHENTICATED"],
          });
        }
      }
      // The SDL is for the gateway (any internal token); entities are data, for readers only.
      const service = await postGraphql<{ _service: { sdl: string } }>(
        url,
        { query: `{ _service { sdl } }` },
        { [IDENTITY_HEADER]: await platform.internalToken([Role.INGESTOR], "tenant-matrix") },
      );
      expect(service.data?._service.sdl).toContain("type Query");
      for (const caller of CALLERS) {
        const internal = await platform.internalToken(
          caller === "NONE" ? [] : [caller as Role],
          "tenant-matrix",
        );
        const res = await postGraphql(url, { query }, { [IDENTITY_HEADER]: internal });
        const outcome = codesOf(res).includes("FORBIDDEN") ? "refused" : codesOf(res).join() || "allowed";
        expect(`${name} _entities as ${caller}: ${outcome}`).toBe(
          `${name} _entities as ${caller}: ${ALLOWED.READER.includes(caller) ? "allowed" : "refused"}`,
        );
      }
    }
    // The gateway's API has neither field.
    for (const q of [`{ _service { sdl } }`, entities.posture]) {
      const res = await post(q, tokens.ADMIN);
      expect(codesOf(res)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    }
  });

  it("answers introspection outside production, refuses it in production unless INTROSPECTION=true", async () => {
    const query = `{ __schema { queryType { name } } }`;
    expect((await post(query, tokens.READER)).data).toEqual({ __schema: { queryType: { name: "Query" } } });
    const secret = "matrix-production-jwt-secret-0123456789abcdef";
    const production = (extra: Record<string, string>) =>
      loadConfig(
        {
          RAMPART_ENV: "production",
          LOG_LEVEL: "silent",
          INTERNAL_TOKEN_SECRET: "matrix-production-internal-secret-0123456789",
          JWT_SECRET: secret,
          ...extra,
        },
        "gateway",
      );
    const started: Gateway[] = [];
    try {
      for (const [extra, answer] of [
        [{}, "refused"],
        [{ INTROSPECTION: "true" }, "answered"],
      ] as const) {
        const gateway = await startGateway(production(extra), createLogger("test", "silent"), {
          port: 0,
          subgraphUrls: {
            posture: platform.subgraphs.posture.url,
            protection: platform.subgraphs.protection.url,
            siem: platform.subgraphs.siem.url,
          },
        });
        started.push(gateway);
        const token = await signDevToken(secret, {
          subject: "r",
          tenantId: "tenant-matrix",
          roles: [Role.READER],
        });
        const res = await postGraphql(gateway.url, { query }, { authorization: `Bearer ${token}` });
        expect(res.data ? "answered" : `refused: ${codesOf(res).join()}`).toBe(
          answer === "answered" ? "answered" : "refused: GRAPHQL_VALIDATION_FAILED",
        );
      }
    } finally {
      for (const g of started) await g.close();
    }
  });
});
