import { ArgsType, Directive, Field, Int, ObjectType, registerEnumType, type ClassType } from "type-graphql";
import { BadUserInputError } from "./errors";
import { isUuid, textProblem } from "./validation";

/** Page size bounds of every connection. */
export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;

/** `first` / `after` of every connection field. */
@ArgsType()
export class PageArgs {
  @Field(() => Int, {
    nullable: true,
    description: `How many items to return: 1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}.`,
  })
  first?: number;

  @Field(() => String, {
    nullable: true,
    description: "Return items after this cursor (from `pageInfo.endCursor` or an edge).",
  })
  after?: string;
}

/** A validated page request: size and the decoded position after which to start. */
export interface Page {
  first: number;
  after?: CursorKey;
}

/** The sort key of the last seen item: its ordering value (if any) and its id. */
export type CursorKey = [value: string | number | null, id: string];

/** Opaque cursor: base64url of the sort key, so clients cannot depend on its shape. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** Decodes a cursor or throws BAD_USER_INPUT naming the argument. */
export function decodeCursor(cursor: string, argument = "after"): CursorKey {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(key) &&
      key.length === 2 &&
      typeof key[1] === "string" &&
      (key[0] === null || typeof key[0] === "string" || typeof key[0] === "number")
    ) {
      return key as CursorKey;
    }
  } catch {
    // fall through to the typed error below
  }
  throw invalidCursor(argument);
}

/** The BAD_USER_INPUT error of a cursor that is not one of the list's own. */
export function invalidCursor(argument = "after"): BadUserInputError {
  return new BadUserInputError(`Invalid cursor in \`${argument}\`.`, [
    { field: argument, message: "not a cursor of this list" },
  ]);
}

/**
 * Validates `first`/`after` into a Page. The cursor is only checked to be `[value, id]`: lists whose
 * cursor parts reach SQL use `toKeysetPage`, which also checks them against the list's sort key.
 */
export function toPage(args: PageArgs): Page {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`\`first\` must be between 1 and ${MAX_PAGE_SIZE}.`, [
      { field: "first", message: `must be between 1 and ${MAX_PAGE_SIZE}` },
    ]);
  }
  return { first, after: args.after ? decodeCursor(args.after) : undefined };
}

/**
 * What a list sorts by before its id, so what the first part of its cursors must be: a point in time, a
 * 32-bit integer (numbers, severity ranks), text (names, path keys), or nothing (lists ordered by id only).
 */
export type CursorValueKind = "time" | "int" | "text" | "none";

/** What a list's ids are, so what the second part of its cursors must be. */
export type CursorIdKind = "uuid" | "bigint" | "text";

const INT32_MAX = 2 ** 31 - 1;
const BIGINT_MAX = 2n ** 63n - 1n;

/** True when `value` is text Postgres can take as a parameter. */
const isStorableText = (value: unknown): value is string => typeof value === "string" && !textProblem(value);

/**
 * The ISO form of a cursor time, or null when it is none. Years 1–9999 only: others have no plain ISO form
 * that Postgres reads back (`+275760-…`, `0000-…`).
 */
function cursorTime(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const time = new Date(value);
  const year = time.getUTCFullYear();
  return year >= 1 && year <= 9999 ? time.toISOString() : null;
}

/** True when a cursor's id is of the list's kind (a bigint within Postgres's range). */
function cursorId(id: string, kind: CursorIdKind): boolean {
  switch (kind) {
    case "uuid":
      return isUuid(id);
    case "bigint":
      return /^\d{1,19}$/.test(id) && BigInt(id) <= BIGINT_MAX;
    case "text":
      return isStorableText(id);
  }
}

/**
 * Checks a decoded cursor against a list's sort key and returns it ready for SQL (a time in ISO form,
 * whatever form it was written in); BAD_USER_INPUT otherwise. A cursor only has to decode to
 * `[value, id]`, but its parts go into `::timestamptz`, `::int`, `::uuid`… casts: one made by hand, or
 * taken from a list with another ordering, would fail there as an internal error (and show SQL).
 */
export function checkCursor(
  key: CursorKey,
  value: CursorValueKind,
  id: CursorIdKind = "uuid",
  argument = "after",
): CursorKey {
  const [v, keyId] = key;
  let checked: CursorKey[0] | undefined;
  switch (value) {
    case "time":
      checked = cursorTime(v) ?? undefined;
      break;
    case "int":
      checked = Number.isInteger(v) && Math.abs(v as number) <= INT32_MAX ? v : undefined;
      break;
    case "text":
      checked = isStorableText(v) ? v : undefined;
      break;
    case "none":
      checked = v === null ? null : undefined;
      break;
  }
  if (checked === undefined || !cursorId(keyId, id)) throw invalidCursor(argument);
  return [checked, keyId];
}

/**
 * `toPage` for lists paged by `(value, id)` in SQL (keyset pagination): `value` is the kind of the
 * list's sort key (for a list with a choice of orderings, the one asked for) and `id` the kind of its ids.
 */
export function toKeysetPage(args: PageArgs, value: CursorValueKind, id: CursorIdKind = "uuid"): Page {
  const page = toPage(args);
  return page.after ? { ...page, after: checkCursor(page.after, value, id) } : page;
}

/** Relay page information. */
@ObjectType({ description: "Where a page sits in its list." })
@Directive("@shareable")
export class PageInfo {
  @Field({ description: "True when more items follow this page." })
  hasNextPage: boolean;

  @Field({ description: "True when this page was requested with a cursor (items precede it)." })
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true, description: "Cursor of the first item of this page." })
  startCursor: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Cursor of the last item; pass it as `after` for the next page.",
  })
  endCursor: string | null;
}

/** The data a connection is built from; `total` may be a thunk so the count runs only when selected. */
export interface ConnectionData<T> {
  /** Up to `first + 1` items in order: the extra one only tells that a next page exists. */
  rows: T[];
  page: Page;
  total: number | (() => Promise<number>);
  cursorOf: (node: T) => CursorKey;
}

/** The shape every `XConnection` type has, whatever its node type. */
export interface ConnectionShape<T> {
  edges: Array<{ cursor: string; node: T }>;
  nodes: T[];
  pageInfo: PageInfo;
  totalCount(): Promise<number> | number;
}

/**
 * Builds the `XConnection` and `XEdge` object types for a node type (GitHub's shape: `edges`,
 * `nodes`, `pageInfo`, `totalCount`). `shareable` marks both `@shareable`, for a connection that more
 * than one subgraph returns (Federation 2 refuses a value type resolved in two subgraphs otherwise).
 */
export function Connection<T extends object>(
  nodeType: ClassType<T>,
  name = nodeType.name,
  options: { shareable?: boolean } = {},
) {
  @ObjectType(`${name}Edge`, { description: `One ${name} in a list, with its cursor.` })
  class Edge {
    @Field({ description: "Opaque position of this item; pass it as `after`." })
    cursor: string;

    @Field(() => nodeType, { description: `The ${name}.` })
    node: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class ConnectionType implements ConnectionShape<T> {
    @Field(() => [Edge], { description: "The items of this page with their cursors." })
    edges: Edge[];

    @Field(() => [nodeType], { description: "The items of this page." })
    nodes: T[];

    @Field(() => PageInfo, { description: "Paging information." })
    pageInfo: PageInfo;

    private total: number | (() => Promise<number>);

    @Field(() => Int, { description: "How many items the whole list holds (all pages)." })
    totalCount(): Promise<number> | number {
      return typeof this.total === "function" ? this.total() : this.total;
    }

    static from(data: ConnectionData<T>): ConnectionType {
      const conn = new ConnectionType();
      const hasNextPage = data.rows.length > data.page.first;
      const nodes = hasNextPage ? data.rows.slice(0, data.page.first) : data.rows;
      conn.nodes = nodes;
      conn.edges = nodes.map((node) =>
        Object.assign(new Edge(), { node, cursor: encodeCursor(data.cursorOf(node)) }),
      );
      conn.pageInfo = Object.assign(new PageInfo(), {
        hasNextPage,
        hasPreviousPage: data.page.after !== undefined,
        startCursor: conn.edges[0]?.cursor ?? null,
        endCursor: conn.edges[conn.edges.length - 1]?.cursor ?? null,
      });
      conn.total = data.total;
      return conn;
    }
  }
  if (options.shareable) {
    Directive("@shareable")(Edge);
    Directive("@shareable")(ConnectionType);
  }
  return ConnectionType;
}

/** Sort direction of every `orderBy` input. */
export enum OrderDirection {
  ASC = "ASC",
  DESC = "DESC",
}

registerEnumType(OrderDirection, { name: "OrderDirection", description: "Ascending or descending order." });

/** How an in-memory list is sorted, for cursors that find their place even when their item has gone. */
export interface ArrayOrder<T> {
  /** The item's sort value as text (it goes into the cursor with the key). */
  valueOf: (item: T) => string;
  /** True when `item` comes after the position of a cursor holding `value` and `key`. */
  follows: (item: T, value: string, key: string) => boolean;
}

/**
 * Pages an in-memory list (small catalogues such as definitions) with the same cursors as SQL lists. Without
 * `order`, `items` must be sorted by `keyOf` in code-point order (as Postgres sorts uuids and `COLLATE "C"`
 * text). A cursor finds its place by its sort key, not by looking its item up: an item that has left the list
 * since (a fixed recommendation, a deleted definition) does not send the next page back to the start.
 */
export function pageOfArray<T>(
  items: readonly T[],
  args: PageArgs,
  keyOf: (item: T) => string,
  order?: ArrayOrder<T>,
): ConnectionData<T> {
  const page = toKeysetPage(args, order ? "text" : "none", "text");
  const after = page.after;
  let start = 0;
  if (after) {
    const [value, key] = after as [string | null, string];
    const follows = order
      ? (item: T) => order.follows(item, value as string, key)
      : (item: T) => keyOf(item) > key;
    start = items.findIndex(follows);
    if (start < 0) start = items.length;
  }
  return {
    rows: items.slice(start, start + page.first + 1),
    page,
    total: items.length,
    cursorOf: (i) => [order ? order.valueOf(i) : null, keyOf(i)],
  };
}
