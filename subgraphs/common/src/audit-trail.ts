// Its classes are decorated when the module loads, and every importer of the common package loads it (scripts
// such as `npm run token` too): type-graphql needs the metadata polyfill before that.
import "reflect-metadata";
import {
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Directive,
  Field,
  FieldResolver,
  ID,
  InputType,
  Int,
  ObjectType,
  Query,
  Resolver,
} from "type-graphql";
import { requireRoles } from "./auth";
import { assertNoProblems, type InputProblem } from "./errors";
import { Role, type Identity } from "./identity";
import type { RequestDb } from "./db/data-source";
import {
  Connection,
  DEFAULT_PAGE_SIZE,
  invalidCursor,
  MAX_PAGE_SIZE,
  toKeysetPage,
  type Page,
} from "./pagination";
import { JSONObjectScalar } from "./scalars";
import type { ReferenceResolvers } from "./schema";
import type { BaseContext } from "./server";
import { textProblem } from "./validation";

/** One row of a subgraph's `audit_log`, as the API shows it. */
@ObjectType({ description: "One recorded state change: who did what to which object, and when." })
@Directive("@shareable")
export class AuditTrailEntry {
  @Field(() => ID, { description: "Id of the entry (unique within its domain's trail)." })
  id: string;

  @Field({ description: "When the change was committed (its transaction's time)." })
  at: Date;

  @Field({ description: "Who made it: the caller's subject, or `system` for scheduled jobs." })
  actor: string;

  @Field({ description: "What was done, as `<area>.<object>.<verb>` (`rules.rule.updated`, `plans.set`…)." })
  action: string;

  @Field({ description: "What it was done to, as `<kind>:<id>` (`rule:…`, `incident:…`, `account:…`)." })
  target: string;

  @Field(() => JSONObjectScalar, { description: "What changed (fields, before and after values…)." })
  details: Record<string, unknown>;

  /** `at` to the microsecond, for the entry's cursor: a DateTime has milliseconds, `now()` has more. */
  cursorTime: string;
}

/** A page of audit entries; the same type in every subgraph, so `@shareable`. */
export const AuditTrailEntryConnection = Connection(AuditTrailEntry, "AuditTrailEntry", { shareable: true });
export type AuditTrailEntryConnection = InstanceType<typeof AuditTrailEntryConnection>;

/** Which entries of a trail to list: every field set must match. */
@InputType({ description: "Which audit entries to list: every field set must match." })
export class AuditTrailFilter {
  @Field(() => String, { nullable: true, description: "Only changes made by this actor (exact)." })
  actor?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Only this action (exact), or actions starting with a prefix written with a trailing `*` (`rules.*`).",
  })
  action?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Only changes to this target (exact, `incident:<id>`).",
  })
  target?: string | null;

  @Field(() => Date, { nullable: true, description: "Only changes at or after this time." })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: "Only changes before this time." })
  to?: Date | null;
}

/** Arguments of each domain's trail. */
@ArgsType()
export class AuditTrailArgs {
  @Field(() => AuditTrailFilter, { nullable: true, description: "Which entries; all when omitted." })
  filter?: AuditTrailFilter | null;

  @Field(() => Int, {
    nullable: true,
    description: `How many entries to return: 1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}.`,
  })
  first?: number;

  @Field(() => String, {
    nullable: true,
    description: "Return entries after this cursor (from `pageInfo.endCursor` or an edge).",
  })
  after?: string;
}

/** A cursor time: what `to_char(… 'US')` writes, microseconds included (`at` has them; a DateTime does not). */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_TIME_SQL = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** True when `time` is a real instant in the cursor form (no 30 February, which Postgres would refuse). */
const isCursorTime = (time: string): boolean =>
  CURSOR_TIME.test(time) &&
  new Date(time.slice(0, 23) + "Z").toISOString().slice(0, 23) === time.slice(0, 23);

/**
 * The first string after every string starting with `prefix`, in code-point order (as `COLLATE "C"`
 * compares UTF-8): the prefix with its last character incremented. Null when there is none (the
 * prefix ends with U+10FFFF): the lower bound and `starts_with` then do.
 */
function prefixEnd(prefix: string): string | null {
  const chars = [...prefix];
  const last = chars.pop()!.codePointAt(0)!;
  if (last === 0x10ffff) return null;
  const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
  return chars.join("") + String.fromCodePoint(next);
}

/**
 * Reads the caller's tenant's entries of this subgraph's `audit_log`, newest first. The read goes through
 * the request's tenant transaction, so row-level security bounds it to the caller's tenant whatever else
 * the query says.
 */
export class AuditTrailService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** One page of the trail, with its filter checked first: BAD_USER_INPUT lists every fault. */
  async list(args: AuditTrailArgs): Promise<AuditTrailEntryConnection> {
    const filter = args.filter ?? {};
    const problems: InputProblem[] = [];
    for (const field of ["actor", "action", "target"] as const) {
      const value = filter[field];
      if (value === undefined || value === null) continue;
      const problem = value === "" ? "must not be empty" : textProblem(value);
      if (problem) problems.push({ field: `filter.${field}`, message: problem });
    }
    if (filter.from && filter.to && filter.from >= filter.to)
      problems.push({ field: "filter.to", message: "must be after `from`" });
    assertNoProblems("Invalid audit trail filter.", problems);
    const page = toKeysetPage(args, "text", "bigint");
    if (page.after && !isCursorTime(page.after[0] as string)) throw invalidCursor();

    const { list, count } = auditTrailSql(this.identity.tenantId, filter, page);
    const rows: AuditRow[] = await this.db.read((m) => m.query(list.sql, list.params));
    return AuditTrailEntryConnection.from({
      rows: rows.map(toEntry),
      page,
      total: async () => {
        const [{ n }]: Array<{ n: string }> = await this.db.read((m) => m.query(count.sql, count.params));
        return Number(n);
      },
      cursorOf: (entry) => [entry.cursorTime, entry.id],
    });
  }
}

/** A statement and its parameters. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * The statements of one page of a trail: the page (`first + 1` rows, newest first, after the cursor) and
 * the count of every match. Every filter is a leakproof comparison on an indexed column, so under the
 * tenant policy Postgres can still answer from the `audit_log` indexes (`tenant_id` first, `at` and `id`
 * last); `action` compares as `COLLATE "C"` so a prefix is a range of that index whatever the database's
 * collation. Exported for the test that checks the plans.
 */
export function auditTrailSql(
  tenantId: string,
  filter: AuditTrailFilter,
  page: Page,
): { list: Statement; count: Statement } {
  const params: unknown[] = [tenantId];
  const param = (value: unknown) => `$${params.push(value)}`;
  const where = ["tenant_id = $1"];
  if (filter.actor) where.push(`actor = ${param(filter.actor)}`);
  if (filter.target) where.push(`target = ${param(filter.target)}`);
  if (filter.action?.endsWith("*")) {
    const prefix = filter.action.slice(0, -1);
    if (prefix) {
      const end = prefixEnd(prefix);
      where.push(`action COLLATE "C" >= ${param(prefix)}`);
      where.push(
        end === null ? `starts_with(action, $${params.length})` : `action COLLATE "C" < ${param(end)}`,
      );
    }
  } else if (filter.action) {
    where.push(`action COLLATE "C" = ${param(filter.action)}`);
  }
  if (filter.from) where.push(`at >= ${param(filter.from)}`);
  if (filter.to) where.push(`at < ${param(filter.to)}`);
  const count = {
    sql: `SELECT count(*) AS n FROM audit_log WHERE ${where.join(" AND ")}`,
    params: [...params],
  };
  if (page.after)
    where.push(`(at, id) < (${param(page.after[0])}::timestamptz, ${param(page.after[1])}::bigint)`);
  const sql = `SELECT id, at, ${CURSOR_TIME_SQL} AS cursor_time, actor, action, target, details
                 FROM audit_log WHERE ${where.join(" AND ")}
                ORDER BY at DESC, id DESC LIMIT ${param(page.first + 1)}`;
  return { list: { sql, params }, count };
}

interface AuditRow {
  id: string;
  at: Date;
  cursor_time: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

function toEntry({ cursor_time, ...row }: AuditRow): AuditTrailEntry {
  return Object.assign(new AuditTrailEntry(), { ...row, cursorTime: cursor_time });
}

/** The subgraphs that keep an audit trail: each adds its own field to `AuditTrail`. */
export type AuditDomain = "posture" | "protection" | "siem";

const DOMAIN_DESCRIPTIONS: Record<AuditDomain, string> = {
  posture:
    "Changes to inventory, policy definitions, exemptions and assessments, newest first (ADMIN only: details can hold configuration).",
  protection:
    "Changes to plans, JIT policies and requests, application control, FIM and vulnerability data, newest first (ADMIN only).",
  siem: "Changes to rules, incidents, alerts, automation, hunting, threat intelligence and retention, newest first (ADMIN only).",
};

/**
 * The audit trail as one subgraph serves it: the `AuditTrail` entity with this domain's field, its reference
 * resolver, and (for the one subgraph that owns it, `rootQuery`) `Query.auditTrail`. The entity is keyed by
 * the tenant id, which needs no stored row; but the key only names the trail: reads are bounded by the
 * caller's identity, and a representation naming another tenant resolves to null.
 */
export function auditTrailSchema(domain: AuditDomain, options: { rootQuery?: boolean } = {}) {
  @ObjectType("AuditTrail", {
    description:
      "The tenant's activity log: who changed what, and when, in each domain. Readable by ADMIN only.",
  })
  @Directive('@key(fields: "id")')
  class AuditTrail {
    @Field(() => ID, { description: "The tenant whose trail this is (always the caller's)." })
    id: string;
  }

  const trailOf = (identity: Identity) => Object.assign(new AuditTrail(), { id: identity.tenantId });

  @Resolver(() => AuditTrail)
  class AuditTrailDomainResolver {
    @Authorized(Role.ADMIN)
    @FieldResolver(() => AuditTrailEntryConnection, {
      name: domain,
      description: DOMAIN_DESCRIPTIONS[domain],
    })
    entries(@Args() args: AuditTrailArgs, @Ctx() ctx: BaseContext) {
      return new AuditTrailService(ctx.db, ctx.identity).list(args);
    }
  }

  @Resolver()
  class AuditTrailQueryResolver {
    @Authorized(Role.ADMIN)
    @Query(() => AuditTrail, {
      description: "The tenant's audit trail (who changed what, and when), one field per domain. ADMIN only.",
    })
    auditTrail(@Ctx() ctx: BaseContext) {
      return trailOf(ctx.identity);
    }
  }

  const references: ReferenceResolvers = {
    AuditTrail: {
      __resolveReference: (ref: { id: string }, ctx: BaseContext) => {
        requireRoles(ctx, [Role.ADMIN]);
        return ref.id === ctx.identity.tenantId ? trailOf(ctx.identity) : null;
      },
    },
  };

  return {
    /** Subgraphs without the root field reach the type through `_entities` only: type-graphql must be told. */
    types: [AuditTrail],
    resolvers: options.rootQuery
      ? [AuditTrailDomainResolver, AuditTrailQueryResolver]
      : [AuditTrailDomainResolver],
    references,
  };
}
