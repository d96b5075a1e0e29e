import { readFileSync } from "node:fs";
import {
  buildSchema,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  parse,
  type DocumentNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from "graphql";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { createLogger, IDENTITY_HEADER, Role } from "../subgraphs/common/src";
import { seedDemoIfEmpty } from "../scripts/lib/seed-demo";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ok, resourceAccountsSynced } from "./utils/seed";

/**
 * A sweep over the whole API: every Query root field, every entity type of every subgraph and every
 * mutation taking an id, called as tenant B with tenant A's ids, must show B nothing of A's and change
 * nothing of A's. The operations are generated from gateway/schema.graphql, so a new field that forgets its
 * tenant scope fails here even if its author wrote no isolation case.
 */

const A = "tenant-sweep-a";
const B = "tenant-sweep-b";
/** A tenant with no data: what it sees is the platform's shared catalog (built-in definitions, templates…). */
const C = "tenant-sweep-c";
/** Every role that reads (ADMIN reads the audit trail, ANALYST runs hunts): the sweep tests scope, not roles. */
const ROLES = [Role.READER, Role.ANALYST, Role.RESPONDER, Role.ADMIN];

/**
 * Query fields the generator does not call, each with its reason. Keep it tiny: a field listed here is
 * not swept.
 */
const SKIP: Record<string, string> = {};

/**
 * List fields A has nothing in after seeding, each with its reason (every other list must show A some of its
 * own: the sweep proves nothing on empty answers).
 */
const EMPTY_FOR_A: Record<string, string> = {};

/** Codes that mean the generator's call was not run: the field would go unswept. */
const UNCALLABLE = [
  "GRAPHQL_VALIDATION_FAILED",
  "GRAPHQL_PARSE_FAILED",
  "OPERATION_LIMIT",
  "INTERNAL_SERVER_ERROR",
];

/** Mutations taking ids that B is not called with, each with its reason (none of A's ids fits them). */
const UNTARGETED: Record<string, string> = {
  createPolicyDefinition: "its one id is a control of the shared catalog, which every tenant has",
};

/**
 * Mutations that store B's own object under an id B names without asking whether B's inventory has it. They
 * may answer B with that object, holding nothing of A's but the ids B sent; the reads afterwards prove A's
 * data unchanged. Keep it tiny: every other mutation must refuse A's ids or answer nothing.
 */
const UNCHECKED_REFERENCES: Record<string, string> = {};

/** How a mutation may refuse B's call aimed at A's objects (CONFLICT would tell B they exist). */
const REFUSALS = ["NOT_FOUND", "BAD_USER_INPUT"];

/**
 * Whether an answer holds nothing: nulls, zeros, false, empty strings and lists, all the way down, besides
 * what says what was refused (an ingest payload's `outcomes`, rejections, problems).
 */
function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(isEmpty);
  if (value && typeof value === "object")
    return Object.entries(value).every(([k, v]) => REFUSED_PARTS.test(k) || isEmpty(v));
  return !value;
}
const REFUSED_PARTS = /^(__typename|outcomes|rejected|rejections|problems)$/;

/**
 * Fields computed at each read from the clock, not stored: a hardening recommendation's traffic window (the
 * last 30 days), an agent policy's `generatedAt`, a hunt's duration and time range (the last day by default).
 */
const CLOCK_FIELDS: Record<string, RegExp> = {
  HardeningRecommendation: /^window(Start|End)$/,
  AgentPolicy: /^generatedAt$/,
  HuntStats: /^(durationMs|from|to)$/,
};

/** An answer as text, for comparing before and after, without the fields read from the clock. */
const stable = (res: GqlResponse<unknown> | undefined): string =>
  JSON.stringify(res ?? null, function (this: { __typename?: string }, key: string, value: unknown) {
    return CLOCK_FIELDS[this.__typename ?? ""]?.test(key) ? undefined : value;
  });

/** Polls an asynchronous `check` until it holds, or fails naming `what`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An id no tenant has, for ID arguments of a type A has none of. */
const DUMMY_ID = "0190a0a0-0000-7000-8000-00000000dead";
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/** Objects per top-level list (the API's cap) and per nested list. */
const TOP_FIRST = 100;
const NESTED_FIRST = 5;
/** Paging wrappers: what they hold is the level of the field that answered them. */
const WRAPPER = /(Connection|Edge)$/;

/** The GraphQL type an `…Id`/`…Ids` argument or input field names, when its name does not say it plainly. */
const ID_TYPES: Record<string, string> = {
  account: "CloudAccount",
  control: "SecurityControl",
  definition: "PolicyDefinition",
  group: "AppControlGroup",
  alert: "SecurityAlert",
  rule: "AnalyticsRule",
  target: "Incident",
  source: "Incident",
  "ApproveAppControlRulesInput.rule": "AppControlRule",
  "RevokeAppControlRulesInput.rule": "AppControlRule",
  "UpdateAlertsInput.": "SecurityAlert",
  "Mutation.removeResources.": "Resource",
  "Mutation.removeCloudAccount.": "CloudAccount",
  "Mutation.runSavedHunt.": "HuntingQuery",
  "AutomationRunFilter.rule": "AutomationRule",
};

/** Values for String (and other non-ID scalar) arguments and input fields, by name: valid where it matters. */
const STRINGS: Record<string, string> = {
  query: "Events | take 5",
  cve: "CVE-2024-3094",
  value: "vm-web-prod-01",
  duration: "PT1H",
  sourceIp: "10.0.0.1",
  window: "PT1H",
  csv: "ip,label\n203.0.113.9,sweep",
  searchKey: "ip",
  url: "https://hooks.example.com/sweep",
  apiRoot: "https://taxii.example.com/api/",
  secret: "sweep-secret-0123456789abcdef0123",
  path: "/etc/sweep",
  yaml: "title: sweep",
  allowedSourcePrefixes: "10.0.0.0/8",
};

/** Optional arguments a call needs to reach its lookup of A's id (a rule update needs a definition first). */
const GIVEN: Record<string, string> = {
  "Mutation.updateAnalyticsRule.input": `{ kind: NRT, displayName: "sweep", description: "sweep", severity: LOW, filter: { field: "class_uid", op: "eq", value: 4001 } }`,
};

/** Enum values other than the first, where the first would make the call fail before it looks A's id up. */
const ENUMS: Record<string, string> = {
  "AddAppControlRuleInput.kind": "PATH",
  "AutomationActionInput.type": "RUN_PLAYBOOK",
};

const api = (): GraphQLSchema => buildSchema(readFileSync(`${__dirname}/../gateway/schema.graphql`, "utf8"));

/** The subgraphs that resolve each entity type (its `@key`s in the supergraph, minus `resolvable: false`). */
function entityKeys(): Record<string, Array<"posture" | "protection" | "siem">> {
  const sdl = readFileSync(`${__dirname}/../gateway/supergraph.graphql`, "utf8");
  const keys: Record<string, Array<"posture" | "protection" | "siem">> = {};
  for (const def of parse(sdl).definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION) continue;
    for (const d of def.directives ?? []) {
      if (d.name.value !== "join__type") continue;
      const arg = (name: string) => d.arguments?.find((a) => a.name.value === name)?.value;
      const key = arg("key");
      const resolvable = arg("resolvable");
      if (!key || (resolvable?.kind === Kind.BOOLEAN && !resolvable.value)) continue;
      const graph = arg("graph");
      if (graph?.kind !== Kind.ENUM) continue;
      (keys[def.name.value] ??= []).push(graph.value.toLowerCase() as "posture" | "protection" | "siem");
    }
  }
  return keys;
}

/** Every string matching a UUID anywhere in a JSON value, lower-cased. */
function uuidsIn(value: unknown, into = new Set<string>()): Set<string> {
  for (const m of JSON.stringify(value ?? null).match(UUID) ?? []) into.add(m.toLowerCase());
  return into;
}

/** Records `id` (and `etag`) per `__typename` from every object of an answer. */
function collectIds(
  value: unknown,
  ids: Map<string, Set<string>>,
  etags: Map<string, string>,
  mentions?: Map<string, number>,
): void {
  if (mentions)
    for (const m of JSON.stringify(value ?? null).match(UUID) ?? [])
      mentions.set(m, (mentions.get(m) ?? 0) + 1);
  if (Array.isArray(value)) for (const v of value) collectIds(v, ids, etags);
  else if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.__typename === "string" && typeof o.id === "string") {
      let set = ids.get(o.__typename);
      if (!set) ids.set(o.__typename, (set = new Set()));
      set.add(o.id);
      if (typeof o.etag === "string") etags.set(o.id, o.etag);
    }
    for (const v of Object.values(o)) collectIds(v, ids, etags);
  }
}

const codesOf = (res: GqlResponse<unknown>): string[] =>
  (res.errors ?? []).map((e) => String(e.extensions?.code));

/** One generated operation: a root field with arguments, and the text to send. */
interface Call {
  field: string;
  /** "plain": required arguments only; "ids": optional id arguments and filters filled with A's ids too. */
  variant: "plain" | "ids";
  query: string;
}

describe("tenant isolation sweep over the whole API", () => {
  const schema = api();
  let platform: TestPlatform;
  let tokens: Record<"a" | "b" | "c", string>;
  /** A's object ids per GraphQL type, from A's own answers, and each object's etag. */
  const idsOfA = new Map<string, Set<string>>();
  const etagsOfA = new Map<string, string>();
  /** How often each of A's ids appears in A's answers. */
  const mentions = new Map<string, number>();
  /** What the generic reads answered A, by call, before the writes. */
  let answersOfA = new Map<string, GqlResponse<unknown>>();
  /** UUIDs of A's that B must never see: A's object ids and values, less the shared catalog and B's own. */
  let forbidden = new Set<string>();
  let calls: Call[] = [];

  const post = (query: string, token: string) =>
    postGraphql<Record<string, unknown>>(
      platform.gateway.url,
      { query },
      { authorization: `Bearer ${token}` },
    );

  /** Runs `calls` as `token`, a few at a time. */
  async function run(list: Call[], token: string): Promise<Map<string, GqlResponse<unknown>>> {
    const answers = new Map<string, GqlResponse<unknown>>();
    for (let i = 0; i < list.length; i += 8) {
      const batch = list.slice(i, i + 8);
      const res = await Promise.all(batch.map((c) => post(c.query, token)));
      batch.forEach((c, j) => answers.set(c.query, res[j]));
    }
    return answers;
  }

  /**
   * An id of A's of `type` (one B does not have, when A has one; the one A's answers mention most, so calls
   * given it have data to show), else a dummy.
   */
  function idOf(type: string, rank = 0): string {
    const own = [...(idsOfA.get(type) ?? [])];
    const only = own.filter((id) => forbidden.size === 0 || forbidden.has(id.toLowerCase()));
    const pick = (only.length ? only : own).sort((x, y) => (mentions.get(y) ?? 0) - (mentions.get(x) ?? 0));
    return pick[Math.min(rank, pick.length - 1)] ?? DUMMY_ID;
  }

  /** The type an ID argument or input field of `owner` named `name` refers to; `self` for a bare `id`/`ids`. */
  function idType(owner: string, name: string, self: string): string {
    const stem = name.replace(/Ids?$|^ids?$/, "");
    const found =
      ID_TYPES[`${owner}.${stem}`] ??
      (stem === "" ? self : (ID_TYPES[stem] ?? stem.charAt(0).toUpperCase() + stem.slice(1)));
    return schema.getType(found) ? found : self;
  }

  /**
   * A GraphQL literal for an argument or input field: required ones always, optional ones only when they are
   * ids (`withIds`) or hold ids. `self` is the type a bare `id` means (the field's own type).
   */
  function literal(
    owner: string,
    name: string,
    type: GraphQLInputType,
    self: string,
    withIds: boolean,
    depth = 0,
  ): string | undefined {
    const required = isNonNullType(type);
    const inner = required ? type.ofType : type;
    if (isListType(inner)) {
      const isId = getNamedType(inner).name === "ID";
      // Optional lists only for ids (A's, the point of the call); required ones hold one minimal item.
      if (!required && !(isId && withIds)) return undefined;
      // A list of ids holds A's second id: `mergeIncidents` merges it into the first.
      if (isId) return `[${JSON.stringify(idOf(idType(owner, name, self), 1))}]`;
      const item = literal(owner, name, inner.ofType, self, withIds, depth);
      return item === undefined ? "[]" : `[${item}]`;
    }
    const named = inner as GraphQLNamedType;
    if (named.name === "ID") {
      if (!required && !withIds) return undefined;
      return JSON.stringify(idOf(idType(owner, name, self)));
    }
    if (!required && !(withIds && isInputObjectType(named) && depth === 0 && holdsIds(named)))
      return undefined;
    if (isEnumType(named)) return ENUMS[`${owner}.${name}`] ?? named.getValues()[0].name;
    if (isInputObjectType(named)) {
      if (depth > 2) return undefined;
      const fields = Object.values(named.getFields()).flatMap((f: GraphQLInputField) => {
        const value =
          f.name === "etag" && isNonNullType(f.type)
            ? JSON.stringify(etagsOfA.get(idOf(self)) ?? "0")
            : literal(named.name, f.name, f.type, self, withIds, depth + 1);
        return value === undefined ? [] : [`${f.name}: ${value}`];
      });
      if (!required && fields.length === 0) return undefined;
      return `{ ${fields.join(", ")} }`;
    }
    switch (named.name) {
      case "Int":
        return name === "number" || name === "ports" ? "22" : "5";
      case "Float":
        return "1";
      case "Boolean":
        return "false";
      case "DateTime":
        return JSON.stringify(
          new Date(Date.now() + (name === "from" || /Start/.test(name) ? -30 : 1) * 86_400_000).toISOString(),
        );
      case "JSON":
      case "JSONObject":
        // A policy condition must hold an operator before the definition is looked up.
        return name === "condition" ? `{ field: "name", exists: true }` : "{}";
      default:
        return JSON.stringify(STRINGS[name] ?? "sweep");
    }
  }

  /** The arguments of a root field, as GraphQL text (lists at the API's cap). */
  function argsOf(root: string, field: GraphQLField<unknown, unknown>, withIds: boolean): string {
    const self = getNamedType(field.type).name;
    const parts = field.args.flatMap((arg: GraphQLArgument) => {
      if (arg.name === "first") return [`first: ${TOP_FIRST}`];
      const value =
        GIVEN[`${root}.${field.name}.${arg.name}`] ??
        literal(`${root}.${field.name}`, arg.name, arg.type, self, withIds);
      return value === undefined ? [] : [`${arg.name}: ${value}`];
    });
    return parts.length ? `(${parts.join(", ")})` : "";
  }

  /** Whether an input type has an id field. */
  const holdsIds = (type: GraphQLInputObjectType) =>
    Object.values(type.getFields()).some((f) => getNamedType(f.type).name === "ID");

  /** Whether a root field takes an id, as an argument or a field of its input. */
  function takesIds(field: GraphQLField<unknown, unknown>): boolean {
    return field.args.some((arg) => {
      const named = getNamedType(arg.type);
      return named.name === "ID" || (isInputObjectType(named) && holdsIds(named));
    });
  }

  /** Whether a root field has an optional argument that is an id or an input (a filter) holding one. */
  function takesOptionalIds(field: GraphQLField<unknown, unknown>): boolean {
    return field.args.some((arg) => {
      const named = getNamedType(arg.type);
      return (
        !isNonNullType(arg.type) && (named.name === "ID" || (isInputObjectType(named) && holdsIds(named)))
      );
    });
  }

  /**
   * The selection of `type`: every field without required arguments, object fields down to `depth` more
   * object levels (a connection and its nodes are one), lists with `first`. Connections select `nodes`, not
   * `edges` (the same objects again).
   */
  function selection(type: GraphQLObjectType, depth: number): string {
    const fields = type.getFields();
    const parts = ["__typename"];
    for (const field of Object.values(fields)) {
      if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
      if (field.name === "edges" && fields.nodes) continue;
      const named = getNamedType(field.type);
      const args = field.args.some((a) => a.name === "first") ? `(first: ${NESTED_FIRST})` : "";
      if (isLeafType(named)) parts.push(`${field.name}${args}`);
      else if (isObjectType(named)) {
        // A connection, its edges and their nodes are one level: the objects listed.
        const free = WRAPPER.test(type.name) || named.name === "PageInfo";
        if (free) parts.push(`${field.name}${args} ${selection(named, depth)}`);
        else if (depth >= 1) parts.push(`${field.name}${args} ${selection(named, depth - 1)}`);
      }
    }
    return `{ ${parts.join(" ")} }`;
  }

  /** The call of a root field at `depth`, as a full operation text. */
  function operation(
    root: GraphQLObjectType,
    field: GraphQLField<unknown, unknown>,
    withIds: boolean,
    depth: number,
  ) {
    const named = getNamedType(field.type);
    const sel = isObjectType(named) ? ` ${selection(named, depth)}` : "";
    const keyword = root.name === "Mutation" ? "mutation " : "";
    return `${keyword}{ ${field.name}${argsOf(root.name, field, withIds)}${sel} }`;
  }

  /** Builds the read calls (A's ids known so far fill their arguments), deepest selection the limits allow. */
  async function buildCalls(): Promise<Call[]> {
    const query = schema.getQueryType()!;
    const built: Call[] = [];
    for (const field of Object.values(query.getFields())) {
      if (SKIP[`Query.${field.name}`]) continue;
      const variants: Array<Call["variant"]> = takesOptionalIds(field) ? ["plain", "ids"] : ["plain"];
      for (const variant of variants) {
        let text = "";
        // The gateway's operation limits (depth, cost, tokens) cap some answers: shallower until accepted.
        for (const depth of [2, 1, 0]) {
          text = operation(query, field, variant === "ids", depth);
          const res = await post(text, tokens.a);
          if (!codesOf(res).some((c) => c === "OPERATION_LIMIT" || c === "GRAPHQL_VALIDATION_FAILED")) break;
        }
        built.push({ field: field.name, variant, query: text });
      }
    }
    return built;
  }

  /**
   * What the demo seeder leaves out, one of each per tenant: an exemption, a custom policy definition, a JIT
   * request, a comment and a task on an incident, a saved hunting query with a bookmark on the incident, a
   * watchlist, a playbook (never run) and a disabled threat-intelligence feed.
   */
  async function enrich(token: string): Promise<void> {
    const gql = async <T>(query: string, variables: Record<string, unknown> = {}) =>
      ok(
        await postGraphql<T>(
          platform.gateway.url,
          { query, variables },
          { authorization: `Bearer ${token}` },
        ),
      );
    const { resources, incidents, policyDefinitions } = await gql<{
      resources: { nodes: Array<{ id: string; name: string }> };
      incidents: { nodes: Array<{ id: string }> };
      policyDefinitions: { nodes: Array<{ id: string }> };
    }>(
      `{ resources(first: 100, filter: { search: "vm-" }) { nodes { id name } } incidents(first: 1) { nodes { id } }
         policyDefinitions(first: 1) { nodes { id } } }`,
    );
    const jump = resources.nodes.find((r) => r.name === "vm-jump-01")!;
    const incident = incidents.nodes[0].id;
    await gql(`mutation($i: CreateExemptionInput!) { createExemption(input: $i) { id } }`, {
      i: {
        definitionId: policyDefinitions.nodes[0].id,
        resourceId: jump.id,
        category: "MITIGATED",
        reason: "sweep",
      },
    });
    await gql(`mutation($i: PolicyDefinitionInput!) { createPolicyDefinition(input: $i) { id } }`, {
      i: {
        title: "Sweep: VMs are tagged",
        description: "d",
        severity: "LOW",
        controlId: "enable-mfa",
        resourceTypes: ["Microsoft.Compute/virtualMachines"],
        condition: { field: "tags.environment", exists: true },
        remediation: ["Tag it."],
        threats: [],
      },
    });
    await gql(`mutation($i: RequestJitAccessInput!) { requestJitAccess(input: $i) { id } }`, {
      i: { resourceId: jump.id, ports: [22], sourceIp: "10.1.2.3", duration: "PT1H", justification: "sweep" },
    });
    await gql(`mutation($id: ID!) { addIncidentComment(incidentId: $id, message: "sweep") { id } }`, {
      id: incident,
    });
    await gql(`mutation($id: ID!) { addIncidentTask(incidentId: $id, title: "sweep") { id } }`, {
      id: incident,
    });
    const { createHuntingQuery } = await gql<{ createHuntingQuery: { id: string } }>(
      `mutation { createHuntingQuery(input: { name: "Sweep", query: "Events | take 3" }) { id } }`,
    );
    const { createBookmark } = await gql<{ createBookmark: { id: string } }>(
      `mutation($i: CreateBookmarkInput!) { createBookmark(input: $i) { id } }`,
      {
        i: {
          name: "Sweep",
          query: "Events | take 3",
          queryStartTime: "2026-01-01T00:00:00Z",
          queryEndTime: "2026-01-02T00:00:00Z",
          rows: [{ host: "vm-jump-01" }],
          huntingQueryId: createHuntingQuery.id,
        },
      },
    );
    await gql(`mutation($i: BookmarkIncidentInput!) { attachBookmarkToIncident(input: $i) { id } }`, {
      i: { bookmarkId: createBookmark.id, incidentId: incident },
    });
    await gql(`mutation($i: CreateWatchlistInput!) { createWatchlist(input: $i) { watchlist { id } } }`, {
      i: { alias: "sweep", name: "Sweep", searchKey: "ip", csv: "ip,label\n203.0.113.7,x" },
    });
    // Its webhook refuses the connection: the run fails at once, and stays as it is.
    const { createPlaybook } = await gql<{ createPlaybook: { id: string } }>(
      `mutation { createPlaybook(input: { name: "Sweep", url: "http://127.0.0.1:9/sweep", secret: "sweep-secret-0123456789abcdef0123", maxAttempts: 1 }) { id } }`,
    );
    await gql(`mutation($i: RunPlaybookInput!) { runPlaybook(input: $i) { id } }`, {
      i: { playbookId: createPlaybook.id, incidentId: incident },
    });
    await gql(
      `mutation { createThreatIntelFeed(input: { name: "Sweep", apiRoot: "https://taxii.example.com/api/", collectionId: "c1", enabled: false }) { id } }`,
    );
  }

  /**
   * A's objects as the gateway would send them to a subgraph: the key, and the fields the subgraph's
   * `@requires` name, read (as A) from the subgraph that owns them.
   */
  async function representations(document: DocumentNode, typename: string, ids: string[]) {
    const required = document.definitions.flatMap((def) =>
      (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) &&
      def.name.value === typename
        ? (def.fields ?? []).flatMap((f) =>
            (f.directives ?? []).flatMap((d) => {
              const fields = d.arguments?.find((a) => a.name.value === "fields")?.value;
              return d.name.value === "requires" && fields?.kind === Kind.STRING ? [fields.value] : [];
            }),
          )
        : [],
    );
    const keys = ids.map((id) => ({ __typename: typename, id }));
    if (required.length === 0) return keys;
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on ${typename} { __typename id ${required.join(" ")} } } }`;
    const headers = { [IDENTITY_HEADER]: await platform.internalToken(ROLES, A) };
    for (const server of Object.values(platform.subgraphs)) {
      const res = await postGraphql<{ _entities: unknown[] }>(
        server.url,
        { query, variables: { r: keys } },
        headers,
      );
      if (!res.errors?.length && res.data) return res.data._entities;
    }
    throw new Error(`no subgraph answers ${typename} { ${required.join(" ")} }`);
  }

  beforeAll(async () => {
    platform = await startTestPlatform();
    tokens = await platform.tokens({ a: [ROLES, A], b: [ROLES, B], c: [ROLES, C] });
    const log = createLogger("test", "silent");
    for (const tenant of [A, B]) {
      await seedDemoIfEmpty({ ...platform.config, demoTenantId: tenant }, platform.gateway.url, log);
      await enrich(tenant === A ? tokens.a : tokens.b);
    }
    // Let the relays and jobs settle, so that A's answers change only if B changes them: the SIEM's mirror of
    // the inventory, the detections' delivery as alerts, vulnerability matching and the playbook runs.
    await resourceAccountsSynced(platform);
    for (const token of [tokens.a, tokens.b])
      await until(async () => {
        const settled = ok(
          await post(
            `{ playbookRuns { nodes { status } } detections(filter: { delivered: false }) { totalCount }
               vulnerabilityMatching { upToDate } }`,
            token,
          ),
        ) as {
          playbookRuns: { nodes: Array<{ status: string }> };
          detections: { totalCount: number };
          vulnerabilityMatching: { upToDate: boolean };
        };
        const runs = settled.playbookRuns.nodes;
        return (
          runs.length > 0 &&
          runs.every((r) => !["QUEUED", "RUNNING", "RETRYING"].includes(r.status)) &&
          settled.detections.totalCount === 0 &&
          settled.vulnerabilityMatching.upToDate
        );
      }, "the relays and jobs to settle");

    // Round 1 learns A's ids from the answers to calls with dummy ids; what an empty tenant sees is the
    // shared catalog; what B sees of its own (answers without ids) it may see whatever A has.
    calls = await buildCalls();
    for (const [, res] of await run(calls, tokens.a)) collectIds(res.data, idsOfA, etagsOfA, mentions);
    const catalog = new Set<string>();
    for (const [, res] of await run(calls, tokens.c)) uuidsIn(res.data, catalog);
    const ownOfB = new Set<string>();
    for (const [, res] of await run(
      calls.filter((c) => c.variant === "plain"),
      tokens.b,
    ))
      uuidsIn(res.data, ownOfB);
    // Round 2 calls every field with A's ids: more of A's objects (those only reachable by id).
    calls = await buildCalls();
    const valuesOfA = new Set<string>();
    for (const [, res] of await run(calls, tokens.a)) {
      collectIds(res.data, idsOfA, etagsOfA, mentions);
      uuidsIn(res.data, valuesOfA);
    }
    // A's object ids are A's alone (they are minted per row); its other UUIDs (in payloads) are A's unless B
    // has them too.
    const objectIdsOfA = new Set(
      [...idsOfA.values()].flatMap((set) => [...set].map((id) => id.toLowerCase())),
    );
    forbidden = new Set(
      [...valuesOfA].filter((v) => !catalog.has(v) && (objectIdsOfA.has(v) || !ownOfB.has(v))),
    );
    // The sweep's calls, given A's ids that B does not have.
    calls = await buildCalls();
    answersOfA = await run(calls, tokens.a);
  }, 240_000);
  afterAll(() => platform?.stop());

  it("calls every Query field of the API, each answering without an internal or validation error", async () => {
    const queryFields = Object.keys(schema.getQueryType()!.getFields());
    expect([...new Set(calls.map((c) => c.field))].sort()).toEqual(
      queryFields.filter((f) => !SKIP[`Query.${f}`]).sort(),
    );
    const broken = [...answersOfA].flatMap(([query, res]) =>
      codesOf(res).some((c) => UNCALLABLE.includes(c)) ? [`${query}: ${JSON.stringify(res.errors)}`] : [],
    );
    expect(broken).toEqual([]);
    // Positive control: A sees plenty of its own, in every list.
    expect(forbidden.size).toBeGreaterThan(500);
    const query = schema.getQueryType()!.getFields();
    const emptyLists = calls.flatMap((c) => {
      const type = getNullableType(query[c.field].type);
      const isList = isListType(type) || (isObjectType(type) && WRAPPER.test(type.name));
      const value = (answersOfA.get(c.query)?.data as Record<string, unknown> | undefined)?.[c.field] as
        { nodes?: unknown[] } | unknown[] | undefined;
      const items = Array.isArray(value) ? value : value?.nodes;
      return c.variant === "plain" && isList && !items?.length && !EMPTY_FOR_A[c.field] ? [c.field] : [];
    });
    expect(emptyLists).toEqual([]);
  });

  it("shows tenant B nothing of tenant A's through any Query field, even given A's ids", async () => {
    const answersOfB = await run(calls, tokens.b);
    const broken = [...answersOfB].flatMap(([query, res]) =>
      codesOf(res).some((c) => UNCALLABLE.includes(c)) ? [`${query}: ${JSON.stringify(res.errors)}`] : [],
    );
    expect(broken).toEqual([]);
    const leaks = [...answersOfB].flatMap(([query, res]) => {
      const seen = [...uuidsIn(res.data)].filter((u) => forbidden.has(u));
      return seen.length ? [`${query.slice(0, 200)} → ${seen.slice(0, 3).join(", ")} (${seen.length})`] : [];
    });
    expect(leaks).toEqual([]);
  });

  it("resolves no entity of A's for B when `_entities` goes straight to a subgraph with B's internal token", async () => {
    const keys = entityKeys();
    const outcomes: string[] = [];
    const resolvedForA = new Set<string>();
    for (const [name, server] of Object.entries(platform.subgraphs)) {
      const headers = (tenant: string) =>
        platform.internalToken(ROLES, tenant).then((t) => ({ [IDENTITY_HEADER]: t }));
      const sdl = ok(
        await postGraphql<{ _service: { sdl: string } }>(
          server.url,
          { query: `{ _service { sdl } }` },
          await headers(B),
        ),
      )._service.sdl;
      const document = parse(sdl);
      const subgraph = buildSubgraphSchema(document);
      for (const [typename, graphs] of Object.entries(keys)) {
        if (!graphs.includes(name as (typeof graphs)[number])) continue;
        const type = subgraph.getType(typename) as GraphQLObjectType;
        const ids = typename === "AuditTrail" ? [A] : [...(idsOfA.get(typename) ?? [])].slice(0, 50);
        const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on ${typename} ${selection(type, 1)} } }`;
        const variables = { r: await representations(document, typename, ids) };
        const [asB, asA] = await Promise.all(
          [B, A].map(async (t) =>
            postGraphql<{ _entities: Array<Record<string, unknown> | null> }>(
              server.url,
              { query, variables },
              await headers(t),
            ),
          ),
        );
        // What was sent comes back (the key, the `@requires` fields): anything else of A's is a leak.
        const ofA = (answer: typeof asA) =>
          (answer.data?._entities ?? []).flatMap((e, i) => {
            const sent = uuidsIn(variables.r[i]);
            return [...uuidsIn(e)].filter((u) => forbidden.has(u) && !sent.has(u));
          });
        outcomes.push(`${name} ${typename}: ${codesOf(asB).join() || "ok"}, A's values: ${ofA(asB).length}`);
        if (ofA(asA).length > 0) resolvedForA.add(name);
      }
    }
    expect(outcomes).toEqual(outcomes.map((o) => o.replace(/: .*$/, ": ok, A's values: 0")));
    // The same representations with A's token do show A's objects: the check above is not vacuous.
    expect([...resolvedForA].sort()).toEqual(Object.keys(platform.subgraphs).sort());
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
  });

  it("lets tenant B change nothing of tenant A's through any mutation given A's ids", async () => {
    const mutation = schema.getMutationType()!;
    const outcomes: string[] = [];
    const untargeted: string[] = [];
    let tried = 0;
    for (const field of Object.values(mutation.getFields())) {
      if (!takesIds(field)) continue;
      const text = operation(mutation, field, true, 0);
      const aimed = [...uuidsIn(text)].filter((u) => forbidden.has(u));
      if (aimed.length === 0) {
        untargeted.push(field.name);
        continue;
      }
      tried += 1;
      const res = await post(text, tokens.b);
      const codes = codesOf(res);
      const answer = res.data?.[field.name];
      const refused = codes.length > 0 && codes.every((c) => REFUSALS.includes(c)) && !answer;
      const shown = [...uuidsIn(answer)].filter((u) => forbidden.has(u));
      const harmless =
        codes.length === 0 &&
        (isEmpty(answer)
          ? shown.length === 0
          : !!UNCHECKED_REFERENCES[field.name] && shown.every((u) => aimed.includes(u)));
      outcomes.push(
        `${field.name}: ${refused || harmless ? "nothing of A's" : `${codes.join()} ${JSON.stringify(answer)}`.slice(0, 300)}`,
      );
    }
    expect(outcomes).toEqual(outcomes.map((o) => o.replace(/: .*$/, ": nothing of A's")));
    expect(untargeted).toEqual(Object.keys(UNTARGETED));
    expect(tried).toBeGreaterThan(50);

    // And A's data is as it was, to the byte (less what moves with time).
    const after = await run(calls, tokens.a);
    const changed = calls.filter((c) => stable(answersOfA.get(c.query)) !== stable(after.get(c.query)));
    expect(changed.map((c) => c.query.slice(0, 120))).toEqual([]);
  });
});
