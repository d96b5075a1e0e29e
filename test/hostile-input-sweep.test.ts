import { readFileSync } from "node:fs";
import {
  buildSchema,
  getNamedType,
  isCompositeType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isEnumType,
  parse,
  valueFromASTUntyped,
  type FieldNode,
  type GraphQLField,
  type GraphQLInputType,
  type OperationDefinitionNode,
} from "graphql";
import { Client } from "pg";
import { ErrorCode, Role } from "../subgraphs/common/src";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { MATRIX, X } from "./utils/root-fields";

/**
 * A generic hostile-input sweep over every argument of every Query and Mutation field of the composed API
 * (gateway/schema.graphql): each call replaces ONE argument — or one field of one input object (to depth 2), or
 * one list element — by a hostile value of its type, the rest left as the authorization matrix's valid call has
 * them, and sends it through the gateway as variables (so GraphQL validation lets the value reach the
 * resolvers). Bad input must be a typed error: never HTTP 5xx, never INTERNAL_SERVER_ERROR, never an error
 * without a code. A new root field, argument or input field is swept without a line here: an unchecked one
 * fails this test.
 *
 * "Changes nothing": mutations run one field at a time; around each field's calls the test takes a digest of
 * every table of the three subgraphs' schemas (all tenants, as the database owner, so RLS hides nothing). When
 * every call of a field was refused with an error and no data, the digests must be equal. A field with a call
 * that succeeded (a hostile value that is still valid, such as `' OR 1=1 --` as a hunting query's name, and the
 * bulk ingests, which answer a payload of per-record rejections) may legitimately write, so its digest is not
 * compared: the summary names those fields, and the next field's "before" waits until their writes have
 * reached every subgraph. The bulk ingests' per-record refusals are checked row by row in
 * test/*-hostile-input.test.ts, test/siem-bad-input.test.ts and test/siem-ingest-fuzz.test.ts.
 */

/** A hostile variant: the root field, the argument path replaced, what the value is, and the variables to send. */
interface Variant {
  field: string;
  path: string;
  kind: string;
  variables: Record<string, unknown>;
}

/** One hostile value of a leaf type, named for the failure message. */
interface Hostile {
  kind: string;
  value: unknown;
}

const TENANT = "tenant-sweep";
/** JSON cannot spell -0 (`JSON.stringify(-0)` is "0"): this marker is replaced by `-0.0` in the body text. */
const NEGATIVE_ZERO = "\u0001negative-zero\u0001";
const ONE_MB = 1024 * 1024;
/** Calls in flight at once: enough to finish in time, few enough not to starve the 2 CPUs the suite shares. */
const BATCH = 24;
/** How long the database must stay unchanged to count as settled (the relays deliver within milliseconds). */
const QUIET_MS = 700;

/** `{"a":{"a":…1…}}` as text, `depth` levels deep: JSON-looking, but a string. */
const deepJsonText = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
/** `{ a: { a: … } }` as a value, `depth` levels deep (built iteratively). */
function deepObject(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const STRINGS: Hostile[] = [
  { kind: "empty string", value: "" },
  { kind: "NUL", value: "\u0000" },
  { kind: "lone surrogate", value: "\ud800" },
  { kind: "1 MB string", value: "x".repeat(ONE_MB) },
  { kind: "path traversal", value: "../../etc/passwd" },
  { kind: "SQL injection", value: "' OR 1=1 --" },
  { kind: "10,000-deep JSON text", value: deepJsonText(10_000) },
  { kind: "invalid UUID", value: "0190a0a0-0000-7000-8000-zzzzzzzzzzzz" },
  { kind: "upper-case UUID", value: X.toUpperCase() },
];
const INTS: Hostile[] = [
  { kind: "Int max", value: 2147483647 },
  { kind: "Int min", value: -2147483648 },
  { kind: "zero", value: 0 },
  { kind: "minus one", value: -1 },
];
const FLOATS: Hostile[] = [
  { kind: "1e308", value: 1e308 },
  { kind: "-1e308", value: -1e308 },
  { kind: "zero", value: 0 },
  { kind: "-0.0", value: NEGATIVE_ZERO },
];
const DATES: Hostile[] = [
  { kind: "year 0001", value: "0001-01-01T00:00:00Z" },
  { kind: "9999-12-31", value: "9999-12-31T23:59:59Z" },
  { kind: "February 30th", value: "2026-02-30T00:00:00Z" },
  { kind: "no time zone", value: "2026-01-01T00:00:00" },
];
const JSONS: Hostile[] = [
  { kind: "1,000-deep object", value: deepObject(1000) },
  { kind: "huge array", value: Array.from({ length: 100_000 }, (_, i) => i) },
  { kind: "string with NUL", value: "a\u0000b" },
];

/** The hostile values of a leaf (scalar) type; enums and Booleans have none that GraphQL would let through. */
function hostileLeaves(name: string): Hostile[] {
  switch (name) {
    case "String":
    case "ID":
      return STRINGS;
    case "Int":
      return INTS;
    case "Float":
      return FLOATS;
    case "DateTime":
      return DATES;
    case "JSON":
    case "JSONObject":
      return JSONS;
    case "Boolean":
      return [];
    default:
      throw new Error(`No hostile values for scalar ${name}: add them to the sweep`);
  }
}

/** A valid-looking value of `type` (required input fields filled, lists empty): the base a variant changes. */
function validValue(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return validValue(type.ofType);
  if (isListType(type)) return [];
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type))
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((f) => isNonNullType(f.type) && f.defaultValue === undefined)
        .map((f) => [f.name, validValue(f.type)]),
    );
  switch (type.name) {
    case "ID":
      return X;
    case "Int":
    case "Float":
      return 1;
    case "Boolean":
      return true;
    case "DateTime":
      return "2026-01-01T00:00:00Z";
    case "JSON":
    case "JSONObject":
      return {};
    default:
      return "x";
  }
}

/**
 * The hostile variants of a value of `type` whose valid form is `base`: the value itself replaced (leaves and
 * lists), one field of an input object (objects to `depth` 2), or the first element of a list.
 */
function hostileValues(
  type: GraphQLInputType,
  base: unknown,
  depth: number,
): Array<{ path: string; kind: string; value: unknown }> {
  if (isNonNullType(type)) return hostileValues(type.ofType, base, depth);
  if (isListType(type)) {
    const items = Array.isArray(base) ? base : [];
    const element = items.length > 0 ? items[0] : validValue(type.ofType);
    return [
      { path: "", kind: "empty list", value: [] },
      { path: "", kind: "10,001 elements", value: Array.from({ length: 10_001 }, () => element) },
      ...hostileValues(type.ofType, element, depth).map((h) => ({
        ...h,
        path: `[0]${h.path}`,
        value: [h.value, ...items.slice(1)],
      })),
    ];
  }
  if (isInputObjectType(type)) {
    if (depth > 2) return [];
    const object = (base && typeof base === "object" ? base : validValue(type)) as Record<string, unknown>;
    return Object.values(type.getFields()).flatMap((f) =>
      hostileValues(f.type, object[f.name] ?? validValue(f.type), depth + 1).map((h) => ({
        ...h,
        path: `.${f.name}${h.path}`,
        value: { ...object, [f.name]: h.value },
      })),
    );
  }
  if (isEnumType(type)) return [];
  return hostileLeaves(type.name).map((h) => ({ path: "", ...h }));
}

/** The matrix's valid call for `field`, as argument values (enums by name, objects as values). */
function validArguments(call: string): Record<string, unknown> {
  const operation = parse(call).definitions[0] as OperationDefinitionNode;
  const node = operation.selectionSet.selections[0] as FieldNode;
  return Object.fromEntries((node.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]));
}

/** The operation calling `field` with every argument as a variable of its declared type. */
function operationFor(kind: "query" | "mutation", field: GraphQLField<unknown, unknown>): string {
  const declared = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(", ");
  const passed = field.args.map((a) => `${a.name}: $${a.name}`).join(", ");
  const selection = isCompositeType(getNamedType(field.type)) ? " { __typename }" : "";
  return `${kind} Sweep${declared ? `(${declared})` : ""} { ${field.name}${passed ? `(${passed})` : ""}${selection} }`;
}

/** Every hostile variant of every argument of `field`. */
function variantsOf(root: "Query" | "Mutation", field: GraphQLField<unknown, unknown>): Variant[] {
  const entry = MATRIX[`${root}.${field.name}`];
  const base = entry ? validArguments(entry.call) : {};
  for (const a of field.args)
    if (base[a.name] === undefined && isNonNullType(a.type) && a.defaultValue === undefined)
      base[a.name] = validValue(a.type);
  return field.args.flatMap((a) =>
    hostileValues(a.type, base[a.name], 1).map((h) => ({
      field: `${root}.${field.name}`,
      path: `${a.name}${h.path}`,
      kind: h.kind,
      variables: { ...base, [a.name]: h.value },
    })),
  );
}

/** What one call answered. */
interface Outcome {
  status: number;
  codes: string[];
  messages: string[];
  /** The root field answered a value (the call did something). */
  succeeded: boolean;
}

/** Codes a refusal of bad input may carry: ours except INTERNAL_SERVER_ERROR, and GraphQL's own request errors. */
const TYPED = new Set<string>([
  ...Object.values(ErrorCode).filter((c) => c !== ErrorCode.Internal),
  "BAD_REQUEST",
  "GRAPHQL_VALIDATION_FAILED",
  "GRAPHQL_PARSE_FAILED",
]);

describe("hostile-input sweep over every Query and Mutation argument", () => {
  let platform: TestPlatform;
  let db: Client;
  /** Human roles for the tenant (ADMIN covers every access but INGEST's service principal). */
  let people: string;
  /** A service principal, for the INGEST, RECEIPT and AGENT fields (the path agents and connectors use). */
  let ingestor: string;
  const schema = buildSchema(readFileSync(`${__dirname}/../gateway/schema.graphql`, "utf8"));

  beforeAll(async () => {
    // The sweep sends thousands of calls as one user: the per-user and per-tenant rate limits are off (0).
    platform = await startTestPlatform({
      JOBS_ENABLED: "false",
      RATE_LIMIT_USER_REQUESTS_PER_SECOND: "0",
      RATE_LIMIT_TENANT_REQUESTS_PER_SECOND: "0",
    });
    people = await platform.token(
      [Role.ADMIN, Role.ANALYST, Role.RESPONDER, Role.READER],
      TENANT,
      "sweep@example.com",
    );
    ingestor = await platform.token([Role.INGESTOR], TENANT, "sweep-agent@example.com");
    db = new Client({ connectionString: platform.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await platform?.stop();
  });

  const tokenFor = (field: string) =>
    ["INGEST", "RECEIPT", "AGENT"].includes(MATRIX[field]?.access) ? ingestor : people;

  async function send(operation: string, v: Variant): Promise<Outcome> {
    const body = JSON.stringify({ query: operation, variables: v.variables }).replaceAll(
      JSON.stringify(NEGATIVE_ZERO),
      "-0.0",
    );
    const res = await fetch(platform.gateway.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokenFor(v.field)}` },
      body,
    });
    const text = await res.text();
    let json: {
      data?: Record<string, unknown> | null;
      errors?: Array<{ message: string; extensions?: { code?: unknown } }>;
    };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
    }
    const name = v.field.split(".")[1];
    return {
      status: res.status,
      codes: (json.errors ?? []).map((e) => String(e.extensions?.code)),
      messages: (json.errors ?? []).map((e) => e.message.slice(0, 300)),
      succeeded: json.data?.[name] !== undefined && json.data?.[name] !== null,
    };
  }

  /** Sends every variant of `field` in batches; returns its offenders and whether any call succeeded. */
  async function sweep(root: "Query" | "Mutation", field: GraphQLField<unknown, unknown>) {
    const operation = operationFor(root === "Query" ? "query" : "mutation", field);
    const variants = variantsOf(root, field);
    const offenders: string[] = [];
    let succeeded = 0;
    for (let i = 0; i < variants.length; i += BATCH) {
      const batch = variants.slice(i, i + BATCH);
      const outcomes = await Promise.all(batch.map((v) => send(operation, v)));
      batch.forEach((v, j) => {
        const o = outcomes[j];
        if (o.succeeded) succeeded++;
        // A body over the size limit is answered 413 before any GraphQL: a refusal, whatever its body.
        if (o.status === 413) return;
        const untyped = o.codes.filter((c) => !TYPED.has(c));
        if (o.status >= 500 || untyped.length > 0)
          offenders.push(
            `${v.field} ${v.path} (${v.kind}): HTTP ${o.status} ${untyped.join(",") || o.codes.join(",")} — ${o.messages.join(" | ")}`,
          );
      });
    }
    return { calls: variants.length, offenders, succeeded };
  }

  /**
   * Row counts and a hash of every table of the three subgraphs' schemas (all tenants), but `relay_offsets`: the
   * relays move their own positions on their own clock (an idle poll every 2 s) over rows written before. A
   * refused call that wrote an event would show in `outbox`, which is compared.
   */
  async function digest(): Promise<Record<string, string>> {
    const { rows: tables } = await db.query<{ name: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
        WHERE schemaname IN ('posture', 'protection', 'siem') AND tablename <> 'relay_offsets' ORDER BY 1`,
    );
    expect(tables.length).toBeGreaterThan(10);
    const { rows } = await db.query<{ name: string; digest: string }>(
      tables
        .map(
          ({ name }) =>
            `SELECT '${name}' AS name, count(*) || ':' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') AS digest FROM ${name} t`,
        )
        .join(" UNION ALL "),
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
  }

  /** A digest once nothing changes any more (two equal digests QUIET_MS apart): background deliveries are done. */
  async function settledDigest(): Promise<Record<string, string>> {
    let last = await digest();
    for (let i = 0; i < 30; i++) {
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      const next = await digest();
      if (Object.keys(next).every((t) => next[t] === last[t])) return next;
      last = next;
    }
    throw new Error("The database did not settle: something keeps writing in the background");
  }

  it("answers every hostile argument with a typed error (never 5xx or INTERNAL_SERVER_ERROR) and refused mutations write nothing", async () => {
    const started = Date.now();
    const offenders: string[] = [];
    const wrote: string[] = [];
    const unchanged: string[] = [];
    const mayWrite: string[] = [];
    let calls = 0;

    const queries = Object.values(schema.getQueryType()!.getFields());
    for (const field of queries) {
      const result = await sweep("Query", field);
      calls += result.calls;
      offenders.push(...result.offenders);
    }

    const mutations = Object.values(schema.getMutationType()!.getFields());
    let before = await settledDigest();
    for (const field of mutations) {
      const result = await sweep("Mutation", field);
      calls += result.calls;
      offenders.push(...result.offenders);
      if (result.succeeded > 0) {
        mayWrite.push(`${field.name} (${result.succeeded}/${result.calls} accepted)`);
        // What the accepted calls wrote is still on its way to the other subgraphs (the outbox relays): the next
        // field's "before" is taken once that has settled.
        before = await settledDigest();
        continue;
      }
      const after = await digest();
      const changed = Object.keys(after).filter((t) => after[t] !== before[t]);
      if (changed.length > 0) wrote.push(`${field.name}: ${changed.join(", ")}`);
      else if (result.calls > 0) unchanged.push(field.name);
      before = after;
    }

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    // eslint-disable-next-line no-console
    console.log(
      `hostile-input sweep: ${calls} calls over ${queries.length} queries and ${mutations.length} mutations in ${seconds}s; ` +
        `${unchanged.length} mutations refused every call and wrote nothing; accepted some hostile values: ${mayWrite.join(", ") || "none"}`,
    );
    expect(offenders).toEqual([]);
    expect(wrote).toEqual([]);
    // The "writes nothing" check must have had something to check.
    expect(unchanged.length).toBeGreaterThan(mutations.length / 2);
  }, 600_000);
});
