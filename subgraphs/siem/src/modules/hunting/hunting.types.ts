import { Connection, JSONObjectScalar } from "../../../../common/src";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { EntityTypeEnum } from "../alerts/alerts.inputs";
import type { EntityType } from "../rules/rule-spec";

/** The type of a hunt result column (Kusto's scalar types). */
export enum HuntColumnType {
  STRING = "STRING",
  LONG = "LONG",
  REAL = "REAL",
  BOOL = "BOOL",
  DATETIME = "DATETIME",
  TIMESPAN = "TIMESPAN",
  DYNAMIC = "DYNAMIC",
}

registerEnumType(HuntColumnType, {
  name: "HuntColumnType",
  description:
    "Type of a hunt result column: STRING, LONG (whole number), REAL, BOOL, DATETIME (ISO 8601 text), TIMESPAN (ISO 8601 duration text) or DYNAMIC (any JSON).",
});

/** A column of a hunt result. */
@ObjectType({ description: "A column of a hunt result: its name and type." })
export class HuntColumn {
  @Field({ description: "The column's name, as the query named it (rows are keyed by it)." })
  name: string;

  @Field(() => HuntColumnType, { description: "The column's type." })
  type: HuntColumnType;
}

/** How a hunt ran. */
@ObjectType({ description: "How a hunt ran." })
export class HuntStats {
  @Field(() => Int, { description: "Rows returned." })
  rowCount: number;

  @Field(() => Int, { description: "Milliseconds the database took (compile and transfer excluded)." })
  durationMs: number;

  @Field({
    description: "Start of the time range the hunt read (inclusive), after bounding to the retention.",
  })
  from: Date;

  @Field({ description: "End of the time range the hunt read (exclusive)." })
  to: Date;
}

/** The result of a hunt. */
@ObjectType({ description: "The result of a hunt: columns, rows and how it ran." })
export class HuntResult {
  @Field(() => [HuntColumn], { description: "The result's columns, in order." })
  columns: HuntColumn[];

  @Field(() => [JSONObjectScalar], {
    description:
      "The rows, each an object keyed by column name: DATETIME as ISO 8601 text, TIMESPAN as an ISO 8601 duration, LONG as a number (as text beyond 2^53), DYNAMIC as JSON.",
  })
  rows: Array<Record<string, unknown>>;

  @Field({
    description:
      "True when the result had more rows than returned (at most 10,000 rows, 16 MB): narrow the query or add `take`.",
  })
  truncated: boolean;

  @Field(() => [String], {
    description:
      "What the hunt left out, as Kusto's query status warns: each table a `union isfuzzy=true` skipped because it does not exist, with its position.",
  })
  warnings: string[];

  @Field(() => HuntStats, { description: "How the hunt ran." })
  stats: HuntStats;
}

/** A saved hunting query. */
@ObjectType({
  description: "A saved hunting query (KQL subset, docs/hunting.md) with its MITRE ATT&CK tags.",
})
export class HuntingQuery {
  @Field(() => ID, { description: "Id of the query." })
  id: string;

  @Field({ description: "Display name." })
  name: string;

  @Field({ description: "What it looks for and how to read its results." })
  description: string;

  @Field({ description: "The query text." })
  query: string;

  @Field(() => [String], { description: "MITRE ATT&CK tactics it hunts for (CredentialAccess…)." })
  tactics: string[];

  @Field(() => [String], { description: "MITRE ATT&CK technique ids (T1110, T1110.003)." })
  techniques: string[];

  @Field({ description: "Who saved it." })
  createdBy: string;

  @Field({ description: "When it was saved." })
  createdAt: Date;

  @Field({ description: "Who changed it last." })
  updatedBy: string;

  @Field({ description: "When it last changed." })
  updatedAt: Date;

  @Field(() => Date, { nullable: true, description: "When it was last run with runSavedHunt." })
  lastRunAt: Date | null;

  @Field(() => Int, { nullable: true, description: "Rows its last run returned." })
  lastResultCount: number | null;
}

/** A saved hunting query's definition. */
@InputType({ description: "A new saved hunting query." })
export class CreateHuntingQueryInput {
  @Field({ description: "Display name, 1–256 characters." })
  name: string;

  @Field(() => String, { nullable: true, description: "Description, up to 5,000 characters." })
  description?: string | null;

  @Field({ description: "The query (checked when saved: a query that does not compile is BAD_USER_INPUT)." })
  query: string;

  @Field(() => [String], { nullable: true, description: "MITRE ATT&CK tactics as Sentinel spells them." })
  tactics?: string[] | null;

  @Field(() => [String], { nullable: true, description: "MITRE ATT&CK technique ids (T1110, T1110.003)." })
  techniques?: string[] | null;
}

/** Changes to a saved hunting query. */
@InputType({ description: "Changes to a saved hunting query; fields left out stay as they are." })
export class UpdateHuntingQueryInput {
  @Field(() => ID, { description: "The query to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "New display name." })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "New description." })
  description?: string | null;

  @Field(() => String, { nullable: true, description: "New query text (checked as on create)." })
  query?: string | null;

  @Field(() => [String], { nullable: true, description: "New tactics." })
  tactics?: string[] | null;

  @Field(() => [String], { nullable: true, description: "New techniques." })
  techniques?: string[] | null;
}

/** An entity of a bookmark. */
@ObjectType({ description: "An entity a bookmark is about." })
export class BookmarkEntity {
  @Field(() => EntityTypeEnum, { description: "Kind." })
  type: EntityType;

  @Field({ description: "Value (an IP address in canonical form)." })
  value: string;
}

/** An entity of a new bookmark. */
@InputType({ description: "An entity a bookmark is about." })
export class BookmarkEntityInput {
  @Field(() => EntityTypeEnum, { description: "Kind." })
  type: EntityType;

  @Field({ description: "Value: an account, host, IP, resource id, hash, process, URL or domain." })
  value: string;
}

/** Hunt result rows kept as evidence. */
@ObjectType({
  description:
    "Rows of a hunt result kept as evidence, with the query and time range that found them, notes, labels and entities; attachable to incidents.",
})
export class Bookmark {
  @Field(() => ID, { description: "Id of the bookmark." })
  id: string;

  @Field({ description: "Display name." })
  name: string;

  @Field({ description: "The query whose result the rows are from." })
  query: string;

  @Field({ description: "Start of the query's time range." })
  queryStartTime: Date;

  @Field({ description: "End of the query's time range." })
  queryEndTime: Date;

  @Field(() => ID, {
    nullable: true,
    description: "The saved hunting query it came from, if any (and not deleted).",
  })
  huntingQueryId: string | null;

  @Field(() => [JSONObjectScalar], { description: "The rows kept, as the hunt returned them." })
  rows: Array<Record<string, unknown>>;

  @Field(() => [ID], { description: "Ids of the events among the rows (their `id` column)." })
  eventIds: string[];

  @Field(() => Date, { nullable: true, description: "Time of the earliest row (its `time` column), if any." })
  eventTime: Date | null;

  @Field({ description: "The analyst's notes." })
  notes: string;

  @Field(() => [String], { description: "Labels." })
  labels: string[];

  @Field(() => [BookmarkEntity], { description: "Entities it is about." })
  entities: BookmarkEntity[];

  @Field(() => [String], { description: "MITRE ATT&CK tactics." })
  tactics: string[];

  @Field(() => [String], { description: "MITRE ATT&CK technique ids." })
  techniques: string[];

  @Field({ description: "Who created it." })
  createdBy: string;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field({ description: "Who changed it last." })
  updatedBy: string;

  @Field({ description: "When it last changed." })
  updatedAt: Date;
}

/** A new bookmark. */
@InputType({ description: "Rows of a hunt result to keep as a bookmark." })
export class CreateBookmarkInput {
  @Field({ description: "Display name, 1–256 characters." })
  name: string;

  @Field({ description: "The query that returned the rows." })
  query: string;

  @Field({ description: "Start of the query's time range (HuntResult.stats.from)." })
  queryStartTime: Date;

  @Field({ description: "End of the query's time range (HuntResult.stats.to)." })
  queryEndTime: Date;

  @Field(() => [JSONObjectScalar], {
    description: "1–100 rows of the result, as returned (at most 256 KB in all); event rows keep their `id`.",
  })
  rows: Array<Record<string, unknown>>;

  @Field(() => ID, { nullable: true, description: "The saved hunting query the rows came from." })
  huntingQueryId?: string | null;

  @Field(() => String, { nullable: true, description: "Notes, up to 10,000 characters." })
  notes?: string | null;

  @Field(() => [String], { nullable: true, description: "Up to 50 labels of 1–100 characters." })
  labels?: string[] | null;

  @Field(() => [BookmarkEntityInput], {
    nullable: true,
    description:
      "Up to 50 entities; left out, they are read from the rows' actor_user (ACCOUNT), device (HOST), src_ip/dst_ip (IP) and resource_id (RESOURCE).",
  })
  entities?: BookmarkEntityInput[] | null;

  @Field(() => [String], { nullable: true, description: "MITRE ATT&CK tactics." })
  tactics?: string[] | null;

  @Field(() => [String], { nullable: true, description: "MITRE ATT&CK technique ids." })
  techniques?: string[] | null;
}

/** Changes to a bookmark. */
@InputType({ description: "Changes to a bookmark; fields left out stay as they are. The rows never change." })
export class UpdateBookmarkInput {
  @Field(() => ID, { description: "The bookmark to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "New display name." })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "New notes." })
  notes?: string | null;

  @Field(() => [String], { nullable: true, description: "New labels." })
  labels?: string[] | null;

  @Field(() => [BookmarkEntityInput], { nullable: true, description: "New entities." })
  entities?: BookmarkEntityInput[] | null;

  @Field(() => [String], { nullable: true, description: "New tactics." })
  tactics?: string[] | null;

  @Field(() => [String], { nullable: true, description: "New techniques." })
  techniques?: string[] | null;
}

/** A bookmark and an incident. */
@InputType({ description: "A bookmark and the incident to attach it to or detach it from." })
export class BookmarkIncidentInput {
  @Field(() => ID, { description: "The bookmark." })
  bookmarkId: string;

  @Field(() => ID, { description: "The incident." })
  incidentId: string;
}

/** Filter over bookmarks. */
@InputType({ description: "Filters bookmarks; every given condition must hold." })
export class BookmarkFilter {
  @Field(() => String, { nullable: true, description: "Only bookmarks with this label." })
  label?: string | null;

  @Field(() => ID, { nullable: true, description: "Only bookmarks attached to this incident." })
  incidentId?: string | null;

  @Field(() => ID, { nullable: true, description: "Only bookmarks from this saved hunting query." })
  huntingQueryId?: string | null;
}

/** A watchlist. */
@ObjectType({
  description:
    "A list of values (accounts, hosts, IPs, indicators…) uploaded as CSV, used in hunts (`_GetWatchlist('alias')`) and in analytics rules (`inWatchlist`).",
})
export class Watchlist {
  @Field(() => ID, { description: "Id of the watchlist." })
  id: string;

  @Field({ description: "Its name in queries and rules; unique in the tenant regardless of case." })
  alias: string;

  @Field({ description: "Display name." })
  name: string;

  @Field({ description: "What it lists and why." })
  description: string;

  @Field({ description: "The column whose values are matched (the items' search keys)." })
  searchKey: string;

  @Field(() => [String], { description: "The CSV's columns, in order." })
  columns: string[];

  @Field(() => Int, { description: "How many items it holds." })
  itemCount: number;

  @Field({ description: "Who created it." })
  createdBy: string;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field({ description: "Who changed it last." })
  updatedBy: string;

  @Field({ description: "When it or its items last changed." })
  updatedAt: Date;
}

/** An item of a watchlist. */
@ObjectType({ description: "One item (CSV record) of a watchlist." })
export class WatchlistItem {
  @Field(() => ID, { description: "Id of the item." })
  id: string;

  @Field({ description: "Its value in the search key column." })
  searchKey: string;

  @Field(() => JSONObjectScalar, { description: "Its fields by column name." })
  data: Record<string, string>;

  @Field({ description: "When it was added or last replaced." })
  createdAt: Date;
}

/** A CSV record a watchlist upload rejected. */
@ObjectType({ description: "A CSV record a watchlist upload rejected; the other records were kept." })
export class WatchlistRejection {
  @Field(() => Int, { description: "1-based line of the CSV where the record starts." })
  line: number;

  @Field({ description: "Why it was rejected." })
  reason: string;
}

/** What an upload did. */
@ObjectType({ description: "The outcome of a watchlist upload." })
export class WatchlistUploadPayload {
  @Field(() => Watchlist, { description: "The watchlist after the upload." })
  watchlist: Watchlist;

  @Field(() => Int, { description: "New items stored." })
  addedCount: number;

  @Field(() => Int, { description: "Existing items (same search key) replaced." })
  replacedCount: number;

  @Field(() => [WatchlistRejection], { description: "Rejected records with the reason." })
  rejected: WatchlistRejection[];
}

/** What a removal did. */
@ObjectType({ description: "The outcome of removing watchlist items." })
export class RemoveWatchlistItemsPayload {
  @Field(() => Watchlist, { description: "The watchlist after the removal." })
  watchlist: Watchlist;

  @Field(() => Int, { description: "Items removed (search keys it did not hold are ignored)." })
  removedCount: number;
}

/** A new watchlist. */
@InputType({ description: "A new watchlist from CSV." })
export class CreateWatchlistInput {
  @Field({
    description:
      "Its name in queries and rules: 1–64 characters of letters, digits, `_` and `-`, starting with a letter; unique in the tenant regardless of case; never changes.",
  })
  alias: string;

  @Field({ description: "Display name, 1–256 characters." })
  name: string;

  @Field(() => String, { nullable: true, description: "Description, up to 5,000 characters." })
  description?: string | null;

  @Field({ description: "The CSV column whose values are matched; its values must be unique and not empty." })
  searchKey: string;

  @Field({
    description:
      "The items as CSV (RFC 4180, UTF-8): a header naming 1–50 columns, then up to 10,000 records; at most 4,000,000 characters. Bad records are rejected by line, the rest stored.",
  })
  csv: string;
}

/** Items to add to a watchlist. */
@InputType({ description: "Items to add to a watchlist, as CSV with the watchlist's header." })
export class AddWatchlistItemsInput {
  @Field(() => ID, { description: "The watchlist." })
  watchlistId: string;

  @Field({
    description:
      "CSV whose header names the watchlist's columns (any order); an item whose search key exists replaces it.",
  })
  csv: string;
}

/** Items to remove from a watchlist. */
@InputType({ description: "Items to remove from a watchlist, by search key." })
export class RemoveWatchlistItemsInput {
  @Field(() => ID, { description: "The watchlist." })
  watchlistId: string;

  @Field(() => [String], { description: "Search keys of the items to remove (1–10,000, exact)." })
  searchKeys: string[];
}

/** A page of saved hunting queries. */
export const HuntingQueryConnection = Connection(HuntingQuery);
export type HuntingQueryConnection = InstanceType<typeof HuntingQueryConnection>;

/** A page of bookmarks. */
export const BookmarkConnection = Connection(Bookmark);
export type BookmarkConnection = InstanceType<typeof BookmarkConnection>;

/** A page of watchlists. */
export const WatchlistConnection = Connection(Watchlist);
export type WatchlistConnection = InstanceType<typeof WatchlistConnection>;

/** A page of watchlist items. */
export const WatchlistItemConnection = Connection(WatchlistItem);
export type WatchlistItemConnection = InstanceType<typeof WatchlistItemConnection>;
