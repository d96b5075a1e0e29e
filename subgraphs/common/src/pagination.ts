import { ArgsType, Directive, Field, Int, ObjectType, registerEnumType, type ClassType } from "type-graphql";
import { BadUserInputError } from "./errors";

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
  throw new BadUserInputError(`Invalid cursor in \`${argument}\`.`, [
    { field: argument, message: "not a cursor of this list" },
  ]);
}

/** Validates `first`/`after` into a Page. */
export function toPage(args: PageArgs): Page {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`\`first\` must be between 1 and ${MAX_PAGE_SIZE}.`, [
      { field: "first", message: `must be between 1 and ${MAX_PAGE_SIZE}` },
    ]);
  }
  return { first, after: args.after ? decodeCursor(args.after) : undefined };
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
 * `nodes`, `pageInfo`, `totalCount`).
 */
export function Connection<T extends object>(nodeType: ClassType<T>, name = nodeType.name) {
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
  return ConnectionType;
}

/** Sort direction of every `orderBy` input. */
export enum OrderDirection {
  ASC = "ASC",
  DESC = "DESC",
}

registerEnumType(OrderDirection, { name: "OrderDirection", description: "Ascending or descending order." });

/** Pages an in-memory list (small catalogues such as definitions) with the same cursors as SQL lists. */
export function pageOfArray<T>(
  items: readonly T[],
  args: PageArgs,
  keyOf: (item: T) => string,
): ConnectionData<T> {
  const page = toPage(args);
  const start = page.after ? items.findIndex((i) => keyOf(i) === page.after![1]) + 1 : 0;
  return {
    rows: items.slice(start, start + page.first + 1),
    page,
    total: items.length,
    cursorOf: (i) => [null, keyOf(i)],
  };
}
