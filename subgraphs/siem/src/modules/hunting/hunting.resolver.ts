import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { SiemContext } from "../../context";
import { Incident } from "../incidents/incident.entity";
import {
  AddWatchlistItemsInput,
  Bookmark,
  BookmarkConnection,
  BookmarkFilter,
  BookmarkIncidentInput,
  CreateBookmarkInput,
  CreateHuntingQueryInput,
  CreateWatchlistInput,
  HuntingQuery,
  HuntingQueryConnection,
  HuntResult,
  RemoveWatchlistItemsInput,
  RemoveWatchlistItemsPayload,
  UpdateBookmarkInput,
  UpdateHuntingQueryInput,
  Watchlist,
  WatchlistConnection,
  WatchlistItemConnection,
  WatchlistUploadPayload,
} from "./hunting.types";

/**
 * Roles, from product.md's role table: READER reads saved queries, bookmarks and watchlists; running hunts and
 * keeping hunting queries and bookmarks is ANALYST work (like triage); watchlists change what analytics rules
 * match, so they are ADMIN's, like the rules.
 */
@Resolver(() => HuntingQuery)
export class HuntingResolver {
  @Authorized(Role.ANALYST)
  @Query(() => HuntResult, {
    description:
      "Runs a hunting query (KQL subset, docs/hunting.md) over the events of [from, to) — default the last 24 hours, bounded to the retention — read-only, at most 10,000 rows. Syntax and type errors are BAD_USER_INPUT with `extensions.position` (line, column).",
  })
  runHunt(
    @Arg("query", { description: 'The query, e.g. `Events | where status == "Failure" | take 10`.' })
    query: string,
    @Arg("from", () => Date, { nullable: true, description: "Start of the time range (inclusive)." })
    from: Date | undefined,
    @Arg("to", () => Date, { nullable: true, description: "End of the time range (exclusive); default now." })
    to: Date | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.hunting.run(query, from, to);
  }

  @Authorized(Role.READER)
  @Query(() => HuntingQueryConnection, { description: "The tenant's saved hunting queries, newest first." })
  huntingQueries(@Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.hunting.list(page);
  }

  @Authorized(Role.READER)
  @Query(() => HuntingQuery, { nullable: true, description: "One saved hunting query; null when unknown." })
  huntingQuery(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.hunting.byId(id);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => HuntingQuery, {
    description:
      "Saves a hunting query (ANALYST); a query that does not compile is BAD_USER_INPUT with its position.",
  })
  createHuntingQuery(
    @Arg("input", () => CreateHuntingQueryInput) input: CreateHuntingQueryInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.hunting.create(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => HuntingQuery, { description: "Changes a saved hunting query (ANALYST)." })
  updateHuntingQuery(
    @Arg("input", () => UpdateHuntingQueryInput) input: UpdateHuntingQueryInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.hunting.update(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => HuntingQuery, {
    description: "Deletes a saved hunting query (ANALYST); its bookmarks stay, without the link to it.",
  })
  deleteHuntingQuery(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.hunting.delete(id);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => HuntResult, {
    description:
      "Runs a saved hunting query like runHunt and records the run (lastRunAt, lastResultCount) on it (ANALYST).",
  })
  runSavedHunt(
    @Arg("id", () => ID, { description: "The saved query." }) id: string,
    @Arg("from", () => Date, { nullable: true, description: "Start of the time range (inclusive)." })
    from: Date | undefined,
    @Arg("to", () => Date, { nullable: true, description: "End of the time range (exclusive); default now." })
    to: Date | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.hunting.runSaved(id, from, to);
  }
}

@Resolver(() => Bookmark)
export class BookmarksResolver {
  @Authorized(Role.READER)
  @Query(() => BookmarkConnection, { description: "The tenant's bookmarks, newest first." })
  bookmarks(
    @Arg("filter", () => BookmarkFilter, {
      nullable: true,
      description: "Conditions the bookmarks must meet.",
    })
    filter: BookmarkFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.bookmarks.list(filter, page);
  }

  @Authorized(Role.READER)
  @Query(() => Bookmark, { nullable: true, description: "One bookmark; null when unknown." })
  bookmark(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.bookmarks.byId(id);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Bookmark, { description: "Keeps rows of a hunt result as a bookmark (ANALYST)." })
  createBookmark(
    @Arg("input", () => CreateBookmarkInput) input: CreateBookmarkInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.bookmarks.create(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Bookmark, {
    description: "Changes a bookmark's name, notes, labels, entities or tags (ANALYST).",
  })
  updateBookmark(
    @Arg("input", () => UpdateBookmarkInput) input: UpdateBookmarkInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.bookmarks.update(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Bookmark, {
    description: "Deletes a bookmark (ANALYST); the incidents it was attached to record the detachment.",
  })
  deleteBookmark(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.bookmarks.delete(id);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, {
    description:
      "Attaches a bookmark to an incident (ANALYST): it shows on Incident.bookmarks and in the activity log. CONFLICT for a merged incident.",
  })
  attachBookmarkToIncident(
    @Arg("input", () => BookmarkIncidentInput) input: BookmarkIncidentInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.bookmarks.attach(input);
  }

  @Authorized(Role.ANALYST)
  @Mutation(() => Incident, {
    description: "Detaches a bookmark from an incident (ANALYST), recorded in its activity log.",
  })
  detachBookmarkFromIncident(
    @Arg("input", () => BookmarkIncidentInput) input: BookmarkIncidentInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.bookmarks.detach(input);
  }

  @FieldResolver(() => [Incident], { description: "The incidents it is attached to." })
  async incidents(@Root() bookmark: Bookmark, @Ctx() ctx: SiemContext) {
    const ids = await ctx.services.bookmarks.incidentIds.load(bookmark.id);
    const found = await ctx.services.incidents.byId.loadMany(ids);
    return found.filter((i): i is Incident => i instanceof Incident);
  }
}

/** `Incident.bookmarks`: the SIEM owns incidents, hunting adds the field. */
@Resolver(() => Incident)
export class IncidentBookmarksResolver {
  @FieldResolver(() => [Bookmark], {
    description: "Bookmarks attached to the incident, in attachment order.",
  })
  bookmarks(@Root() incident: Incident, @Ctx() ctx: SiemContext) {
    return ctx.services.bookmarks.forIncident.load(incident.id);
  }
}

@Resolver(() => Watchlist)
export class WatchlistsResolver {
  @Authorized(Role.READER)
  @Query(() => WatchlistConnection, { description: "The tenant's watchlists, newest first." })
  watchlists(@Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.watchlists.list(page);
  }

  @Authorized(Role.READER)
  @Query(() => Watchlist, {
    nullable: true,
    description: "One watchlist by id or by alias (give one); null when unknown.",
  })
  watchlist(
    @Arg("id", () => ID, { nullable: true, description: "The watchlist's id." }) id: string | undefined,
    @Arg("alias", () => String, { nullable: true, description: "The watchlist's alias (any case)." })
    alias: string | undefined,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.watchlists.find({ id, alias });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => WatchlistUploadPayload, {
    description:
      "Creates a watchlist from CSV (ADMIN). Bad records are rejected by line with the reason and the rest stored; a bad header, alias or size is BAD_USER_INPUT, an alias in use CONFLICT.",
  })
  createWatchlist(
    @Arg("input", () => CreateWatchlistInput) input: CreateWatchlistInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.watchlists.create(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => WatchlistUploadPayload, {
    description:
      "Adds items to a watchlist from CSV (ADMIN); an item with an existing search key replaces it.",
  })
  addWatchlistItems(
    @Arg("input", () => AddWatchlistItemsInput) input: AddWatchlistItemsInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.watchlists.addItems(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => RemoveWatchlistItemsPayload, {
    description: "Removes items from a watchlist by search key (ADMIN).",
  })
  removeWatchlistItems(
    @Arg("input", () => RemoveWatchlistItemsInput) input: RemoveWatchlistItemsInput,
    @Ctx() ctx: SiemContext,
  ) {
    return ctx.services.watchlists.removeItems(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Watchlist, {
    description: "Deletes a watchlist and its items (ADMIN); CONFLICT while an analytics rule uses it.",
  })
  deleteWatchlist(@Arg("id", () => ID) id: string, @Ctx() ctx: SiemContext) {
    return ctx.services.watchlists.delete(id);
  }

  @FieldResolver(() => WatchlistItemConnection, { description: "Its items, in upload order." })
  items(@Root() watchlist: Watchlist, @Args() page: PageArgs, @Ctx() ctx: SiemContext) {
    return ctx.services.watchlists.items(watchlist.id, page);
  }
}
