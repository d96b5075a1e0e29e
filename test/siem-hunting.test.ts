import { readFileSync } from "node:fs";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { parse } from "graphql";
import type { DataSource } from "typeorm";
import {
  AddWatchlistItemsDocument,
  AttachBookmarkToIncidentDocument,
  BookmarkByIdDocument,
  BookmarksDocument,
  CreateAnalyticsRuleDocument,
  CreateBookmarkDocument,
  CreateHuntingQueryDocument,
  CreateWatchlistDocument,
  DeleteBookmarkDocument,
  DeleteHuntingQueryDocument,
  DeleteWatchlistDocument,
  DetachBookmarkFromIncidentDocument,
  HuntingQueriesDocument,
  HuntingQueryByIdDocument,
  IncidentBookmarksDocument,
  IngestAlertsDocument,
  IngestEventsDocument,
  MergeIncidentsDocument,
  RemoveWatchlistItemsDocument,
  RunHuntDocument,
  RunSavedHuntDocument,
  SiemAlertsDocument,
  UpdateBookmarkDocument,
  UpdateHuntingQueryDocument,
  WatchlistByAliasDocument,
  WatchlistsDocument,
} from "./__generated__/graphql";
import { inTenant, Role } from "../subgraphs/common/src";
import { runScheduledRule } from "../subgraphs/siem/src/modules/rules/rule-runner";
import { storedRuleFromRow } from "../subgraphs/siem/src/modules/rules/rules.service";
import { codes, problems } from "./utils/errors";
import { postGraphql, startTestPlatform, type GqlResponse, type TestPlatform } from "./utils/platform";
import { ingestFixture, ok } from "./utils/seed";

const A = "tenant-a";
const B = "tenant-b";
/** The day of the SIEM fixtures' logs. */
const DAY = { from: "2026-11-20T00:00:00Z", to: "2026-11-21T00:00:00Z" };
const SPRAY = `Authentication
| where status == "Failure"
| summarize failures = count(), accounts = dcount(actor_user) by src_ip
| where failures >= 5
| order by failures desc`;
const SPRAY_ROWS = [
  { src_ip: "203.0.113.77", failures: 15, accounts: 2 },
  { src_ip: "192.0.2.45", failures: 5, accounts: 3 },
];

/**
 * Journey 5's hunting, and watchlists in hunts and rules, through the gateway: an analyst hunts over the ingested
 * fixture logs, bookmarks rows, attaches the bookmark to an incident and sees it there; saved queries record their
 * runs; watchlists feed hunts (`in`, `lookup`) and analytics rules, scheduled (SQL) and near-real-time (in memory,
 * refreshed when the watchlist changes). Tenants never see each other's events, bookmarks or watchlists.
 */
describe("hunting, bookmarks and watchlists", () => {
  let platform: TestPlatform;
  let t: Record<"admin" | "analyst" | "reader" | "ingestor" | "analystB" | "adminB", string>;
  let ds: DataSource;
  let incidentId: string;
  let bookmarkId: string;

  const hunt = async (query: string, token = t.analyst, window: { from?: string; to?: string } = DAY) =>
    ok(await platform.request(RunHuntDocument, { query, ...window }, token)).runHunt;

  beforeAll(async () => {
    platform = await startTestPlatform({ JOBS_ENABLED: "false" });
    t = await platform.tokens({
      admin: [[Role.ADMIN], A],
      analyst: [[Role.ANALYST], A],
      reader: [[Role.READER], A],
      ingestor: [[Role.INGESTOR], A],
      analystB: [[Role.ANALYST], B],
      adminB: [[Role.ADMIN], B],
    });
    t.analyst = await platform.token([Role.ANALYST], A, "alice@contoso.example");
    ds = await platform.connect("siem");
    for (const kind of ["ENTRA_SIGNIN", "AZURE_ACTIVITY", "OCSF"]) {
      const res = await ingestFixture(platform, t.ingestor, kind);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { rejected: unknown[] }).rejected).toEqual([]);
    }
    // An incident to work: the password spray's alert, pushed by an integrator, opens one.
    ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            {
              sourceId: "spray-1",
              title: "Password spray from 203.0.113.77",
              severity: "HIGH",
              entities: [{ type: "IP", value: "203.0.113.77" }],
            },
          ],
        },
        t.ingestor,
      ),
    );
    const incidents = await postGraphql<{ incidents: { nodes: Array<{ id: string }> } }>(
      platform.gateway.url,
      { query: "{ incidents(first: 5) { nodes { id } } }" },
      { authorization: `Bearer ${t.analyst}` },
    );
    incidentId = incidents.data!.incidents.nodes[0].id;
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
  });

  it("hunts over the ingested logs and keeps the rows that matter in a bookmark on the incident (journey 5)", async () => {
    const spray = await hunt(SPRAY);
    expect(spray.columns).toEqual([
      { name: "src_ip", type: "STRING" },
      { name: "failures", type: "LONG" },
      { name: "accounts", type: "LONG" },
    ]);
    // The Entra ID spray, and a smaller one against a Windows host in the OCSF logs.
    expect(spray.rows).toEqual(SPRAY_ROWS);
    expect(spray.stats).toEqual({
      rowCount: 2,
      from: "2026-11-20T00:00:00.000Z",
      to: "2026-11-21T00:00:00.000Z",
    });

    const drill = `Authentication
      | where src_ip == "203.0.113.77" and status == "Failure"
      | project id, time, actor_user, src_ip, code = attributes.error_code
      | order by time asc
      | take 3`;
    const rows = (await hunt(drill)).rows;
    expect(rows.map((r) => [r.time, r.actor_user, r.code])).toEqual([
      ["2026-11-20T09:00:05.000Z", "lee.gu@contoso.com", 50126],
      ["2026-11-20T09:00:21.000Z", "nestor.wilke@contoso.com", 50126],
      ["2026-11-20T09:00:38.000Z", "lee.gu@contoso.com", 50126],
    ]);

    const bookmark = ok(
      await platform.request(
        CreateBookmarkDocument,
        {
          input: {
            name: "Spray against two accounts",
            query: drill,
            queryStartTime: DAY.from,
            queryEndTime: DAY.to,
            rows: rows.slice(0, 2),
            notes: "Same source, alternating accounts, bad passwords.",
            labels: ["password-spray"],
            tactics: ["CredentialAccess"],
            techniques: ["T1110.003"],
          },
        },
        t.analyst,
      ),
    ).createBookmark;
    bookmarkId = bookmark.id;
    expect(bookmark).toMatchObject({
      createdBy: "alice@contoso.example",
      eventIds: [rows[0].id, rows[1].id],
      eventTime: "2026-11-20T09:00:05.000Z",
      // Read from the rows' columns when not given.
      entities: [
        { type: "ACCOUNT", value: "lee.gu@contoso.com" },
        { type: "IP", value: "203.0.113.77" },
        { type: "ACCOUNT", value: "nestor.wilke@contoso.com" },
      ],
    });

    const attached = ok(
      await platform.request(
        AttachBookmarkToIncidentDocument,
        { input: { bookmarkId, incidentId } },
        t.analyst,
      ),
    ).attachBookmarkToIncident;
    expect(attached.bookmarks).toEqual([
      { id: bookmarkId, name: "Spray against two accounts", eventIds: bookmark.eventIds },
    ]);
    // Attaching again changes nothing (no second activity entry, same etag).
    const again = ok(
      await platform.request(
        AttachBookmarkToIncidentDocument,
        { input: { bookmarkId, incidentId } },
        t.analyst,
      ),
    ).attachBookmarkToIncident;
    expect(again.etag).toBe(attached.etag);

    // A reader sees it on the incident, with the activity that put it there.
    const seen = ok(
      await platform.request(IncidentBookmarksDocument, { id: incidentId }, t.reader),
    ).incident!;
    expect(seen.bookmarks.map((b) => [b.id, b.notes, b.rows.length])).toEqual([
      [bookmarkId, "Same source, alternating accounts, bad passwords.", 2],
    ]);
    const logged = seen.activity.filter((a) => a.changes.includes("bookmarkAttached"));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ actor: "alice@contoso.example", action: "updated" });
    expect(JSON.parse(logged[0].changes)).toEqual({
      bookmarkAttached: { id: bookmarkId, name: "Spray against two accounts" },
    });
    const listed = ok(
      await platform.request(BookmarksDocument, { filter: { incidentId } }, t.reader),
    ).bookmarks;
    expect(listed.nodes.map((b) => [b.id, b.incidents.map((i) => i.id)])).toEqual([
      [bookmarkId, [incidentId]],
    ]);
  });

  it("updates, detaches and deletes bookmarks, recording each change on the incident", async () => {
    const updated = ok(
      await platform.request(
        UpdateBookmarkDocument,
        { input: { id: bookmarkId, notes: "Confirmed spray.", labels: ["password-spray", "confirmed"] } },
        t.analyst,
      ),
    ).updateBookmark;
    expect([updated.notes, updated.labels, updated.name]).toEqual([
      "Confirmed spray.",
      ["password-spray", "confirmed"],
      "Spray against two accounts",
    ]);
    const detached = ok(
      await platform.request(
        DetachBookmarkFromIncidentDocument,
        { input: { bookmarkId, incidentId } },
        t.analyst,
      ),
    ).detachBookmarkFromIncident;
    expect(detached.bookmarks).toEqual([]);
    ok(
      await platform.request(
        AttachBookmarkToIncidentDocument,
        { input: { bookmarkId, incidentId } },
        t.analyst,
      ),
    );
    expect(
      ok(await platform.request(DeleteBookmarkDocument, { id: bookmarkId }, t.analyst)).deleteBookmark.id,
    ).toBe(bookmarkId);
    const after = ok(
      await platform.request(IncidentBookmarksDocument, { id: incidentId }, t.reader),
    ).incident!;
    expect(after.bookmarks).toEqual([]);
    expect(
      after.activity
        .filter((a) => /bookmark(Attached|Detached)/.test(a.changes))
        .map((a) => Object.keys(JSON.parse(a.changes))[0]),
    ).toEqual(["bookmarkAttached", "bookmarkDetached", "bookmarkAttached", "bookmarkDetached"]);
    expect(
      ok(await platform.request(BookmarkByIdDocument, { id: bookmarkId }, t.reader)).bookmark,
    ).toBeNull();
  });

  it("moves a merged incident's bookmarks to the incident it is merged into", async () => {
    ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [
            {
              sourceId: "other-1",
              title: "Other",
              severity: "LOW",
              entities: [{ type: "HOST", value: "vm-x" }],
            },
          ],
        },
        t.ingestor,
      ),
    );
    const other = (
      await postGraphql<{ incidents: { nodes: Array<{ id: string }> } }>(
        platform.gateway.url,
        { query: "{ incidents(first: 5) { nodes { id } } }" },
        { authorization: `Bearer ${t.analyst}` },
      )
    ).data!.incidents.nodes.find((i) => i.id !== incidentId)!.id;
    const kept = ok(
      await platform.request(
        CreateBookmarkDocument,
        {
          input: {
            name: "Evidence on the other incident",
            query: "Events | take 1",
            queryStartTime: DAY.from,
            queryEndTime: DAY.to,
            rows: [{ device: "vm-x" }],
          },
        },
        t.analyst,
      ),
    ).createBookmark;
    ok(
      await platform.request(
        AttachBookmarkToIncidentDocument,
        { input: { bookmarkId: kept.id, incidentId: other } },
        t.analyst,
      ),
    );
    ok(
      await platform.request(
        MergeIncidentsDocument,
        { input: { targetId: incidentId, sourceIds: [other] } },
        t.analyst,
      ),
    );
    const target = ok(
      await platform.request(IncidentBookmarksDocument, { id: incidentId }, t.reader),
    ).incident!;
    expect(target.bookmarks.map((b) => b.id)).toEqual([kept.id]);
    const source = ok(await platform.request(IncidentBookmarksDocument, { id: other }, t.reader)).incident!;
    expect(source.bookmarks).toEqual([]);
    // A merged incident takes no new bookmark: its work continues in the target.
    expect(
      codes(
        await platform.request(
          AttachBookmarkToIncidentDocument,
          { input: { bookmarkId: kept.id, incidentId: other } },
          t.analyst,
        ),
      ),
    ).toEqual(["CONFLICT"]);
  });

  it("saves hunting queries, checks them when saved and records their runs", async () => {
    const saved = ok(
      await platform.request(
        CreateHuntingQueryDocument,
        {
          input: {
            name: "Password spray sources",
            description: "Sources failing sign-ins to several accounts.",
            query: SPRAY,
            tactics: ["CredentialAccess"],
            techniques: ["T1110.003"],
          },
        },
        t.analyst,
      ),
    ).createHuntingQuery;
    expect(saved).toMatchObject({
      lastRunAt: null,
      lastResultCount: null,
      createdBy: "alice@contoso.example",
    });
    const run = ok(
      await platform.request(RunSavedHuntDocument, { id: saved.id, ...DAY }, t.analyst),
    ).runSavedHunt;
    expect(run.rows).toEqual(SPRAY_ROWS);
    const read = ok(
      await platform.request(HuntingQueryByIdDocument, { id: saved.id }, t.reader),
    ).huntingQuery!;
    expect(read.lastResultCount).toBe(2);
    expect(read.lastRunAt).not.toBeNull();

    const broken = await platform.request(
      UpdateHuntingQueryDocument,
      { input: { id: saved.id, query: "Authentication\n| summarize count() by nosuch" } },
      t.analyst,
    );
    expect(problems(broken)).toEqual([
      "query: line 2, column 24: unknown column `nosuch` (columns here: id, time, class_uid, activity_id, severity_id, status, message, actor_user, src_ip, src_port, dst_ip, dst_port, device, resource_id, operation, src_country, connector, source_event_id, attributes)",
    ]);
    expect(broken.errors![0].extensions!.position).toEqual({ line: 2, column: 24 });
    const renamed = ok(
      await platform.request(
        UpdateHuntingQueryDocument,
        { input: { id: saved.id, name: "Spray sources" } },
        t.analyst,
      ),
    ).updateHuntingQuery;
    expect([renamed.name, renamed.query]).toEqual(["Spray sources", SPRAY]);
    expect(ok(await platform.request(HuntingQueriesDocument, {}, t.reader)).huntingQueries.totalCount).toBe(
      1,
    );
    ok(await platform.request(DeleteHuntingQueryDocument, { id: saved.id }, t.analyst));
    expect(ok(await platform.request(HuntingQueriesDocument, {}, t.reader)).huntingQueries.totalCount).toBe(
      0,
    );
  });

  it("creates a watchlist from CSV, rejecting bad records by line, and uses it in hunts", async () => {
    const csv = [
      "ip,source,note",
      "203.0.113.77,honeypot,spray",
      '198.51.100.23,"feed, premium","multi',
      'line note"',
      "192.0.2.1,feed", // a field missing
      ",feed,empty key",
      "203.0.113.77,again,duplicate",
    ].join("\n");
    const created = ok(
      await platform.request(
        CreateWatchlistDocument,
        { input: { alias: "Spray-IPs", name: "Spray sources", searchKey: "ip", csv } },
        t.admin,
      ),
    ).createWatchlist;
    expect(created).toMatchObject({
      watchlist: { alias: "Spray-IPs", columns: ["ip", "source", "note"], itemCount: 2, searchKey: "ip" },
      addedCount: 2,
      rejected: [
        { line: 5, reason: "has 2 fields, the header has 3" },
        { line: 6, reason: "the search key (ip) is empty" },
        { line: 7, reason: 'duplicate search key "203.0.113.77" (first on line 2)' },
      ],
    });
    const items = ok(
      await platform.request(WatchlistByAliasDocument, { alias: "spray-ips", first: 10 }, t.reader),
    ).watchlist!.items;
    expect(items.nodes).toEqual([
      { searchKey: "203.0.113.77", data: { ip: "203.0.113.77", source: "honeypot", note: "spray" } },
      {
        searchKey: "198.51.100.23",
        data: { ip: "198.51.100.23", source: "feed, premium", note: "multi\nline note" },
      },
    ]);
    expect(
      (await hunt("Authentication | where src_ip in (_GetWatchlist('spray-ips')) | count")).rows,
    ).toEqual([{ Count: 18 }]);
    expect(
      (
        await hunt(
          "Authentication | lookup kind=inner _GetWatchlist('spray-ips') on $left.src_ip == $right.ip | summarize n = count() by source, note",
        )
      ).rows,
    ).toEqual([{ source: "honeypot", note: "spray", n: 18 }]);
    // Another tenant has no such watchlist.
    const other = await platform.request(
      RunHuntDocument,
      { query: "Events | where src_ip in (_GetWatchlist('spray-ips'))", ...DAY },
      t.analystB,
    );
    expect(problems(other)).toEqual(["query: line 1, column 27: unknown watchlist `spray-ips`"]);
    expect(
      ok(await platform.request(WatchlistByAliasDocument, { alias: "spray-ips" }, t.analystB)).watchlist,
    ).toBeNull();
  });

  it("matches watchlists in scheduled rules (SQL) and in near-real-time rules, which reload a changed watchlist", async () => {
    const scheduled = ok(
      await platform.request(
        CreateAnalyticsRuleDocument,
        {
          spec: {
            kind: "SCHEDULED",
            displayName: "Sign-ins from watched sources",
            description: "",
            severity: "MEDIUM",
            filter: {
              all: [
                { field: "class_uid", op: "eq", value: 3002 },
                { field: "src_ip", op: "inWatchlist", value: "spray-ips" },
              ],
            },
            trigger: { operator: "GT", threshold: 0 },
            queryFrequency: "PT1H",
            queryPeriod: "PT1H",
            entityMappings: [{ entityType: "IP", field: "src_ip" }],
          },
        },
        t.admin,
      ),
    ).createAnalyticsRule;
    const result = await inTenant(ds, A, async (m) => {
      const [row] = await m.query(`SELECT * FROM analytics_rules WHERE id = $1`, [scheduled.id]);
      return runScheduledRule(m, A, storedRuleFromRow(row), new Date("2026-11-20T09:06:00Z"));
    });
    expect(result).toEqual({ alerts: 1, results: 17 });

    const nrt = await platform.request(
      CreateAnalyticsRuleDocument,
      {
        spec: {
          kind: "NRT",
          displayName: "Watched account signed in",
          description: "",
          severity: "HIGH",
          filter: { field: "actor_user", op: "inWatchlist", value: "watched-accounts" },
          entityMappings: [{ entityType: "ACCOUNT", field: "actor_user" }],
          alertPerResult: true,
        },
      },
      t.admin,
    );
    // The watchlist must exist when the rule is saved.
    expect(problems(nrt)).toEqual(['filter: no watchlist with the alias "watched-accounts"']);
    const watched = ok(
      await platform.request(
        CreateWatchlistDocument,
        {
          input: {
            alias: "watched-accounts",
            name: "Watched",
            searchKey: "upn",
            csv: "upn\nceo@contoso.com\n",
          },
        },
        t.admin,
      ),
    ).createWatchlist.watchlist;
    ok(
      await platform.request(
        CreateAnalyticsRuleDocument,
        {
          spec: {
            kind: "NRT",
            displayName: "Watched account signed in",
            description: "",
            severity: "HIGH",
            filter: { field: "actor_user", op: "inWatchlist", value: "watched-accounts" },
            entityMappings: [{ entityType: "ACCOUNT", field: "actor_user" }],
            alertPerResult: true,
          },
        },
        t.admin,
      ),
    );
    let n = 0;
    const signIn = async (user: string) => {
      n++;
      const records = [
        {
          class_uid: 3002,
          activity_id: 1,
          time: new Date().toISOString(),
          metadata: { uid: `nrt-${n}` },
          actor: { user: { name: user } },
        },
      ];
      ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records }, t.ingestor));
      const all = ok(await platform.request(SiemAlertsDocument, { first: 100 }, t.reader)).alerts.nodes;
      return all.filter((a) => a.title === "Watched account signed in").map((a) => a.entities[0].value);
    };
    // Keys compare without ASCII case, as the rules' other text operators do.
    expect(await signIn("CEO@contoso.com")).toEqual(["CEO@contoso.com"]);
    expect(await signIn("cfo@contoso.com")).toEqual(["CEO@contoso.com"]);
    ok(
      await platform.request(
        AddWatchlistItemsDocument,
        { input: { watchlistId: watched.id, csv: "upn\ncfo@contoso.com\n" } },
        t.admin,
      ),
    );
    expect(await signIn("cfo@contoso.com")).toEqual(["cfo@contoso.com", "CEO@contoso.com"]);
    const removed = ok(
      await platform.request(
        RemoveWatchlistItemsDocument,
        { input: { watchlistId: watched.id, searchKeys: ["ceo@contoso.com", "nobody"] } },
        t.admin,
      ),
    ).removeWatchlistItems;
    expect(removed).toEqual({ removedCount: 1, watchlist: { itemCount: 1 } });
    expect(await signIn("ceo@contoso.com")).toEqual(["cfo@contoso.com", "CEO@contoso.com"]);

    // A watchlist a rule uses cannot be deleted; one no rule uses can.
    const inUse = await platform.request(DeleteWatchlistDocument, { id: watched.id }, t.admin);
    expect(codes(inUse)).toEqual(["CONFLICT"]);
    expect(inUse.errors![0].message).toContain('"Watched account signed in"');
    const spare = ok(
      await platform.request(
        CreateWatchlistDocument,
        { input: { alias: "spare", name: "Spare", searchKey: "k", csv: "k\nx\n" } },
        t.admin,
      ),
    ).createWatchlist.watchlist;
    ok(await platform.request(DeleteWatchlistDocument, { id: spare.id }, t.admin));
    expect(
      ok(await platform.request(WatchlistsDocument, {}, t.reader)).watchlists.nodes.map((w) => w.alias),
    ).toEqual(["watched-accounts", "Spray-IPs"]);
  });

  it("keeps tenants apart", async () => {
    expect((await hunt("Events | count", t.analystB)).rows).toEqual([{ Count: 0 }]);
    // A's analyst counts A's events over the same day: B's zero is B's.
    const [{ Count: mine }] = (await hunt("Events | count")).rows as Array<{ Count: number }>;
    expect(mine).toBeGreaterThan(0);
    const bookmark = ok(
      await platform.request(
        CreateBookmarkDocument,
        {
          input: {
            name: "A's evidence",
            query: "Events | take 1",
            queryStartTime: DAY.from,
            queryEndTime: DAY.to,
            rows: [{ actor_user: "lee.gu@contoso.com" }],
          },
        },
        t.analyst,
      ),
    ).createBookmark;
    expect(
      ok(await platform.request(BookmarkByIdDocument, { id: bookmark.id }, t.analystB)).bookmark,
    ).toBeNull();
    expect(ok(await platform.request(BookmarksDocument, {}, t.analystB)).bookmarks.totalCount).toBe(0);
    // B's incident and A's bookmark, or A's incident and B's session: neither is found.
    ok(
      await platform.request(
        IngestAlertsDocument,
        {
          input: [{ sourceId: "b-1", title: "B", severity: "LOW", entities: [{ type: "HOST", value: "b" }] }],
        },
        await platform.token([Role.INGESTOR], B),
      ),
    );
    const bIncident = (
      await postGraphql<{ incidents: { nodes: Array<{ id: string }> } }>(
        platform.gateway.url,
        { query: "{ incidents(first: 1) { nodes { id } } }" },
        { authorization: `Bearer ${t.analystB}` },
      )
    ).data!.incidents.nodes[0].id;
    const crossed = await platform.request(
      AttachBookmarkToIncidentDocument,
      { input: { bookmarkId: bookmark.id, incidentId: bIncident } },
      t.analystB,
    );
    expect(codes(crossed)).toEqual(["NOT_FOUND"]);
    const reversed = await platform.request(
      AttachBookmarkToIncidentDocument,
      { input: { bookmarkId: bookmark.id, incidentId } },
      t.analystB,
    );
    expect(codes(reversed)).toEqual(["NOT_FOUND"]);
    expect(ok(await platform.request(WatchlistsDocument, {}, t.analystB)).watchlists.totalCount).toBe(0);
    const rowCount = async () =>
      inTenant(ds, B, async (m) => Number((await m.query(`SELECT count(*) AS n FROM bookmarks`))[0].n));
    expect(await rowCount()).toBe(0);
  });

  it("answers bad input with BAD_USER_INPUT and a position, and treats injection attempts as data", async () => {
    const before = (await hunt("Events | count")).rows;
    const syntax = await platform.request(
      RunHuntDocument,
      { query: "Events\n| where actor_user = 'x'" },
      t.analyst,
    );
    expect(problems(syntax)).toEqual([
      "query: line 2, column 20: expected `|` or the end of the query, found `=`",
    ]);
    expect(syntax.errors![0].extensions!.position).toEqual({ line: 2, column: 20 });
    for (const query of [
      "Events | where actor_user == 'x' or 1 == 1; DROP TABLE siem.events",
      "Events | where actor_user == 'x' -- comment",
      "Events | where actor_user == 'x' /* */",
    ]) {
      expect(codes(await platform.request(RunHuntDocument, { query, ...DAY }, t.analyst))).toEqual([
        "BAD_USER_INPUT",
      ]);
    }
    const quoted = await hunt(`Events | where actor_user == "lee.gu@contoso.com' OR '1'='1" | count`);
    expect(quoted.rows).toEqual([{ Count: 0 }]);
    expect((await hunt("Events | count")).rows).toEqual(before);

    const window = await platform.request(
      RunHuntDocument,
      { query: "Events", from: DAY.to, to: DAY.from },
      t.analyst,
    );
    expect(problems(window)).toEqual(["from: must be before `to`"]);
    const noRows = await platform.request(
      CreateBookmarkDocument,
      { input: { name: "x", query: "Events", queryStartTime: DAY.from, queryEndTime: DAY.to, rows: [] } },
      t.analyst,
    );
    expect(problems(noRows)).toEqual(["rows: keep 1 to 100 rows"]);
    const header = await platform.request(
      CreateWatchlistDocument,
      { input: { alias: "bad", name: "Bad", searchKey: "ip", csv: "ip,ip\n1.1.1.1,2\n" } },
      t.admin,
    );
    expect(problems(header)).toEqual(['csv: the header names the column "ip" twice']);
    const alias = await platform.request(
      CreateWatchlistDocument,
      { input: { alias: "1 bad; alias", name: "Bad", searchKey: "ip", csv: "ip\n1.1.1.1\n" } },
      t.admin,
    );
    expect(problems(alias)).toEqual(["alias: 1 to 64 letters, digits, _ and -, starting with a letter"]);
    const taken: GqlResponse<unknown> = await platform.request(
      CreateWatchlistDocument,
      { input: { alias: "SPRAY-ips", name: "Again", searchKey: "ip", csv: "ip\n1.1.1.1\n" } },
      t.admin,
    );
    expect(codes(taken)).toEqual(["CONFLICT"]);
    const analystWatchlist = await platform.request(
      CreateWatchlistDocument,
      { input: { alias: "mine", name: "Mine", searchKey: "ip", csv: "ip\n1.1.1.1\n" } },
      t.analyst,
    );
    expect(codes(analystWatchlist)).toEqual(["FORBIDDEN"]);
    expect(codes(await platform.request(RunHuntDocument, { query: "Events" }, t.reader))).toEqual([
      "FORBIDDEN",
    ]);
  });

  it("names filter fields by their path when a bookmark filter is refused", async () => {
    const bad = await platform.request(
      BookmarksDocument,
      { filter: { incidentId: "not-a-uuid", huntingQueryId: "1; DROP TABLE bookmarks" } },
      t.reader,
    );
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
    expect(problems(bad)).toEqual([
      "filter.incidentId: must be a UUID",
      "filter.huntingQueryId: must be a UUID",
    ]);
  });

  it("hunts with let, join, union, arg_max, dynamic, mv-expand and parse, each tenant over its own events", async () => {
    // B's logs repeat A's spray source and accounts: none of them may show up in A's hunts, nor A's in B's.
    const signIn = (uid: string, time: string, user: string, status: string) => ({
      class_uid: 3002,
      activity_id: 1,
      time,
      status,
      metadata: { uid },
      actor: { user: { name: user } },
      src_endpoint: { ip: "203.0.113.77" },
    });
    const ingestorB = await platform.token([Role.INGESTOR], B);
    ok(
      await platform.request(
        IngestEventsDocument,
        {
          connector: "OCSF",
          records: [
            signIn("b-1", "2026-11-20T08:00:00Z", "lee.gu@contoso.com", "Failure"),
            signIn("b-2", "2026-11-20T08:01:00Z", "lee.gu@contoso.com", "Failure"),
            signIn("b-3", "2026-11-20T08:02:00Z", "lee.gu@contoso.com", "Success"),
            signIn("b-4", "2026-11-20T08:03:00Z", "b-only@fabrikam.com", "Success"),
          ],
        },
        ingestorB,
      ),
    );
    const queries = {
      let: 'let threshold = 5;\nlet failures = Authentication | where status == "Failure";\nfailures | summarize n = count() by src_ip | where n >= threshold | order by n desc',
      join: 'let failures = Authentication | where status == "Failure" | summarize failures = count() by src_ip, actor_user;\nAuthentication | where status == "Success" | join kind=inner failures on src_ip, actor_user | summarize successes = count(), failures = max(failures) by actor_user, src_ip',
      anti: 'Authentication | where status == "Success" | join kind=leftanti (Authentication | where status == "Failure") on actor_user | summarize n = count()',
      union:
        "union withsource=table Authentication, ProcessActivity | summarize n = count() by table | order by table asc",
      argMax:
        'Authentication | where src_ip == "203.0.113.77" | summarize arg_max(time, *) by actor_user | project actor_user, time, status | order by actor_user asc',
      expand:
        'Authentication | where src_ip == "203.0.113.77" | take 1 | mv-expand with_itemindex=i n = dynamic([10, 20]) to typeof(long) | summarize s = sum(n), i = max(i)',
      parse:
        'Authentication | where actor_user in (dynamic(["lee.gu@contoso.com"])) | parse actor_user with user "@" domain | distinct user, domain',
    };
    const rowsOf = async (token: string) => {
      const out: Record<string, unknown> = {};
      for (const [name, query] of Object.entries(queries)) out[name] = (await hunt(query, token)).rows;
      return out;
    };
    expect(await rowsOf(t.analyst)).toEqual({
      let: SPRAY_ROWS.map(({ src_ip, failures }) => ({ src_ip, n: failures })),
      // Accounts that failed and then signed in from the same source: the sprayed one, and an MFA prompt.
      join: [
        { actor_user: "johanna.lorenz@contoso.com", src_ip: "203.0.113.10", successes: 2, failures: 1 },
        { actor_user: "lee.gu@contoso.com", src_ip: "203.0.113.77", successes: 2, failures: 7 },
      ],
      anti: [{ n: 12 }],
      union: [
        { table: "Authentication", n: 39 },
        { table: "ProcessActivity", n: 10 },
      ],
      argMax: [
        { actor_user: "CONTOSO\\lee.gu", time: "2026-11-20T09:15:41.000Z", status: "Success" },
        { actor_user: "lee.gu@contoso.com", time: "2026-11-20T09:05:30.000Z", status: "Success" },
        { actor_user: "nestor.wilke@contoso.com", time: "2026-11-20T09:04:27.000Z", status: "Failure" },
      ],
      expand: [{ s: 30, i: 1 }],
      parse: [{ user: "lee.gu", domain: "contoso.com" }],
    });
    expect(await rowsOf(t.analystB)).toEqual({
      let: [],
      join: [{ actor_user: "lee.gu@contoso.com", src_ip: "203.0.113.77", successes: 1, failures: 2 }],
      anti: [{ n: 1 }],
      union: [{ table: "Authentication", n: 4 }],
      argMax: [
        { actor_user: "b-only@fabrikam.com", time: "2026-11-20T08:03:00.000Z", status: "Success" },
        { actor_user: "lee.gu@contoso.com", time: "2026-11-20T08:02:00.000Z", status: "Success" },
      ],
      expand: [{ s: 30, i: 1 }],
      parse: [{ user: "lee.gu", domain: "contoso.com" }],
    });

    // The join hunt of docs/api.md, as written there.
    const block = /```graphql\n(query JoinHunt[\s\S]*?)```/.exec(readFileSync("docs/api.md", "utf8"))?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<{
      runHunt: { columns: Array<{ name: string; type: string }>; rows: Array<Record<string, unknown>> };
    }>;
    const documented = ok(await platform.request(doc, {}, t.analyst)).runHunt;
    expect(documented.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "actor_user:STRING",
      "src_ip:STRING",
      "failures:LONG",
      "firstFailure:DATETIME",
      "lastSuccess:DATETIME",
    ]);
    expect(documented.rows).toEqual([
      {
        actor_user: "lee.gu@contoso.com",
        src_ip: "203.0.113.77",
        failures: 7,
        firstFailure: "2026-11-20T09:00:05.000Z",
        lastSuccess: "2026-11-20T09:05:30.000Z",
      },
    ]);
    // B's account failed twice from the same source: under the threshold, and A's failures are not B's.
    expect(ok(await platform.request(doc, {}, t.analystB)).runHunt.rows).toEqual([]);

    // Faults of the new operators are BAD_USER_INPUT with a position, like any other.
    const bad = await platform.request(
      RunHuntDocument,
      { query: "let failures = Authentication;\nfailures | join kind=outer failures on id", ...DAY },
      t.analyst,
    );
    expect(problems(bad)).toEqual([
      "query: line 2, column 22: `join` kinds are innerunique, inner, leftouter, leftanti, leftsemi, rightanti, rightsemi, rightouter, fullouter; found `outer`",
    ]);
    expect(bad.errors![0].extensions!.position).toEqual({ line: 2, column: 22 });
  });

  it("hunts with outer joins, union kind=inner, toscalar, materialize, parse kind=regex and let functions, each tenant over its own events", async () => {
    // Tenant C's sign-ins repeat A's sprayed account and source: none may show up in A's hunts, nor A's in C's.
    const C = "tenant-c";
    const signIn = (uid: string, time: string, user: string, ip: string, status: string) => ({
      class_uid: 3002,
      activity_id: 1,
      time,
      status,
      metadata: { uid },
      actor: { user: { name: user } },
      src_endpoint: { ip },
    });
    ok(
      await platform.request(
        IngestEventsDocument,
        {
          connector: "OCSF",
          records: [
            signIn("c-1", "2026-11-20T08:00:00Z", "lee.gu@contoso.com", "203.0.113.77", "Failure"),
            signIn("c-2", "2026-11-20T08:01:00Z", "lee.gu@contoso.com", "203.0.113.77", "Success"),
            signIn("c-3", "2026-11-20T08:02:00Z", "only-c@fabrikam.example", "198.51.100.9", "Failure"),
          ],
        },
        await platform.token([Role.INGESTOR], C),
      ),
    );
    const analystC = await platform.token([Role.ANALYST], C);
    const queries = {
      fullouter:
        'Authentication | where status == "Success" | summarize successes = count() by actor_user\n| join kind=fullouter (Authentication | where status == "Failure" | summarize failures = count() by actor_user) on actor_user\n| summarize accounts = count(), neverSucceeded = countif(isnull(actor_user)), neverFailed = countif(isnull(actor_user1)), users = make_set(coalesce(actor_user, actor_user1), 3)',
      rightouter:
        'Authentication | where status == "Success" | distinct actor_user\n| join kind=rightouter (Authentication | where status == "Failure") on actor_user\n| summarize failures = count(), ofAccountsThatNeverSucceeded = countif(isnull(actor_user))',
      unionInner:
        'union kind=inner withsource=T (Authentication | project actor_user, src_ip), (Authentication | where status == "Failure" | project actor_user, n = 1)\n| summarize n = count(), columns = dcount(T) by T | order by T asc',
      toscalar:
        'let failures = toscalar(Authentication | where status == "Failure" | count);\nAuthentication | where time == toscalar(Authentication | summarize max(time)) | project actor_user, failures',
      materialize:
        'let signIns = materialize(Authentication | project actor_user, status);\nsignIns | where status == "Failure" | join kind=leftsemi (signIns | where status == "Success") on actor_user | distinct actor_user | order by actor_user asc',
      parseRegex:
        'Authentication | parse kind=regex actor_user with "^" name "@" domain @"\\.(com|example)$" | summarize n = count() by domain | order by domain asc',
      functions:
        'let from = (ip: string) { Authentication | where src_ip == ip };\nlet failed = (s: string) { s == "Failure" };\nfrom("203.0.113.77") | summarize failures = countif(failed(status)), n = count()',
    };
    const rowsOf = async (token: string) => {
      const out: Record<string, unknown> = {};
      for (const [name, query] of Object.entries(queries)) out[name] = (await hunt(query, token)).rows;
      return out;
    };
    expect(await rowsOf(analystC)).toEqual({
      fullouter: [
        {
          accounts: 2,
          neverSucceeded: 1,
          neverFailed: 0,
          users: ["lee.gu@contoso.com", "only-c@fabrikam.example"],
        },
      ],
      rightouter: [{ failures: 2, ofAccountsThatNeverSucceeded: 1 }],
      unionInner: [
        { T: "union_arg0", n: 3, columns: 1 },
        { T: "union_arg1", n: 2, columns: 1 },
      ],
      toscalar: [{ actor_user: "only-c@fabrikam.example", failures: 2 }],
      materialize: [{ actor_user: "lee.gu@contoso.com" }],
      parseRegex: [
        { domain: "contoso", n: 2 },
        { domain: "fabrikam", n: 1 },
      ],
      functions: [{ failures: 1, n: 2 }],
    });
    // A's own: 21 failures over 14 accounts, 3 of which also signed in (the spray's source alone: 15 of 18).
    const ofA = await rowsOf(t.analyst);
    expect(JSON.stringify(ofA)).not.toContain("only-c");
    expect(ofA).toEqual({
      fullouter: [
        {
          accounts: 14,
          neverSucceeded: 3,
          neverFailed: 8,
          users: ["CONTOSO\\lee.gu", "CONTOSO\\megan.bowen", "adele.vance@contoso.com"],
        },
      ],
      rightouter: [{ failures: 21, ofAccountsThatNeverSucceeded: 5 }],
      unionInner: [
        { T: "union_arg0", n: 39, columns: 1 },
        { T: "union_arg1", n: 21, columns: 1 },
      ],
      toscalar: [{ actor_user: "johanna.lorenz@contoso.com", failures: 21 }],
      materialize: [
        { actor_user: "johanna.lorenz@contoso.com" },
        { actor_user: "lee.gu@contoso.com" },
        { actor_user: "nestor.wilke@contoso.com" },
      ],
      parseRegex: [
        { domain: null, n: 7 },
        { domain: "contoso", n: 32 },
      ],
      functions: [{ failures: 15, n: 18 }],
    });

    // Misuse is BAD_USER_INPUT with a position, a bad regular expression too when no row would reach it.
    const recursive = await platform.request(
      RunHuntDocument,
      { query: "let f = (n: long) { f(n) };\nEvents", ...DAY },
      t.analyst,
    );
    expect(problems(recursive)).toEqual([
      "query: line 1, column 21: `f` calls itself: recursion is not supported",
    ]);
    const badRegex = await platform.request(
      RunHuntDocument,
      { query: "Events | where false\n| parse kind=regex message with 'a**' x", ...DAY },
      t.analyst,
    );
    expect(problems(badRegex)).toEqual([
      "query: line 2, column 33: invalid regular expression (quantifier operand invalid)",
    ]);
    expect(badRegex.errors![0].extensions!.position).toEqual({ line: 2, column: 33 });
  });

  it("hunts with functions taking tables, default values and `let`s in their body, each tenant over its own events", async () => {
    // Tenant D's sign-ins repeat A's spray source: none may reach A's hunts through a function's argument, nor A's D's.
    const D = "tenant-d";
    const records = [
      ["d-1", "08:00", "only-d@fabrikam.example", "Failure"],
      ["d-2", "08:01", "only-d@fabrikam.example", "Failure"],
      ["d-3", "08:02", "lee.gu@contoso.com", "Success"],
    ].map(([uid, hhmm, user, status]) => ({
      class_uid: 3002,
      activity_id: 1,
      time: `2026-11-20T${hhmm}:00Z`,
      status,
      metadata: { uid },
      actor: { user: { name: user } },
      src_endpoint: { ip: "203.0.113.77" },
    }));
    const ingestorD = await platform.token([Role.INGESTOR], D);
    ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records }, ingestorD));
    const analystD = await platform.token([Role.ANALYST], D);
    const failuresBy =
      'let failuresBy = (T: (src_ip: string, status: string), atLeast: long = 5) {\n  let failed = T | where status == "Failure";\n  failed | summarize failures = count() by src_ip | where failures >= atLeast\n};\n';
    const queries = {
      // The same function twice, on both sides of a join: once with its default, once with an argument.
      join: `${failuresBy}failuresBy(Authentication)\n| join kind=inner failuresBy(Authentication | where actor_user == "lee.gu@contoso.com", 1) on src_ip\n| project src_ip, failures, ofLee = failures1`,
      // And in the legs of a union, given a tabular \`let\`.
      union: `${failuresBy}let signIns = Authentication | project src_ip, status, actor_user;\nunion (failuresBy(signIns, 1) | extend leg = "any"), (failuresBy(Authentication) | extend leg = "spray")\n| summarize sources = dcount(src_ip), failures = sum(failures) by leg | order by leg asc`,
      top: 'let latest = (T: (*), n: long = 1) { T | top n by time desc | project actor_user, time };\nlatest(Authentication | where src_ip == "203.0.113.77", 2) | union latest(Authentication)',
    };
    const rowsOf = async (token: string) =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(queries).map(async ([name, q]) => [name, (await hunt(q, token)).rows]),
        ),
      );
    expect(await rowsOf(analystD)).toEqual({
      join: [],
      union: [{ leg: "any", sources: 1, failures: 2 }],
      top: [
        { actor_user: "lee.gu@contoso.com", time: "2026-11-20T08:02:00.000Z" },
        { actor_user: "only-d@fabrikam.example", time: "2026-11-20T08:01:00.000Z" },
        { actor_user: "lee.gu@contoso.com", time: "2026-11-20T08:02:00.000Z" },
      ],
    });
    const ofA = await rowsOf(t.analyst);
    expect(JSON.stringify(ofA)).not.toContain("only-d");
    // A's spray (15 failures, 7 against lee.gu) and the smaller one (5); 21 failures from 3 sources in all.
    expect(ofA).toEqual({
      join: [{ src_ip: "203.0.113.77", failures: 15, ofLee: 7 }],
      union: [
        { leg: "any", sources: 3, failures: 21 },
        { leg: "spray", sources: 2, failures: 20 },
      ],
      top: [
        { actor_user: "CONTOSO\\lee.gu", time: "2026-11-20T09:15:41.000Z" },
        { actor_user: "lee.gu@contoso.com", time: "2026-11-20T09:05:30.000Z" },
        { actor_user: "johanna.lorenz@contoso.com", time: "2026-11-20T16:30:02.000Z" },
      ],
    });

    // A table that lacks a declared column, or has it with another type, is refused before anything runs.
    const missing = await platform.request(
      RunHuntDocument,
      { query: `${failuresBy}failuresBy(Authentication | summarize n = count() by actor_user)`, ...DAY },
      t.analyst,
    );
    expect(problems(missing)).toEqual([
      "query: line 5, column 12: argument 1 of `failuresBy` (`T: (src_ip: string, status: string)`) has no column `src_ip` (its columns: actor_user, n)",
    ]);
    expect(missing.errors![0].extensions!.position).toEqual({ line: 5, column: 12 });
    const mistyped = await platform.request(
      RunHuntDocument,
      { query: `${failuresBy}failuresBy(Authentication | extend status = severity_id == 4)`, ...DAY },
      t.analyst,
    );
    expect(problems(mistyped)).toEqual([
      "query: line 5, column 12: argument 1 of `failuresBy` (`T: (src_ip: string, status: string)`): its column `status` is a bool, not a string",
    ]);
    // Functions doubling each other's calls are stopped at the limit, not compiled for ever.
    const doubling = Array.from(
      { length: 16 },
      (_, i) => `let f${i + 1} = (T: (*)) { ${i ? `f${i}(f${i}(T))` : "T | take 1"} };`,
    ).join("\n");
    const runaway = await platform.request(
      RunHuntDocument,
      { query: `${doubling}\nf16(Events)`, ...DAY },
      t.analyst,
    );
    expect(problems(runaway)[0]).toMatch(
      /^query: line \d+, column \d+: a query uses scalar `let`s and calls functions at most 1000 times/,
    );
  });

  it("hunts with named arguments and tabular parameters mixing columns and `*`, each tenant over its own events", async () => {
    // Tenant E's sign-ins come from A's spray source too: neither tenant's rows may reach the other's hunts.
    const E = "tenant-e";
    const records = [
      ["e-1", "08:00", "only-e@fabrikam.example", "Failure"],
      ["e-2", "08:01", "only-e@fabrikam.example", "Failure"],
      ["e-3", "08:02", "lee.gu@contoso.com", "Success"],
    ].map(([uid, hhmm, user, status]) => ({
      class_uid: 3002,
      activity_id: 1,
      time: `2026-11-20T${hhmm}:00Z`,
      status,
      metadata: { uid },
      actor: { user: { name: user } },
      src_endpoint: { ip: "203.0.113.77" },
    }));
    ok(
      await platform.request(
        IngestEventsDocument,
        { connector: "OCSF", records },
        await platform.token([Role.INGESTOR], E),
      ),
    );
    const analystE = await platform.token([Role.ANALYST], E);
    // `actor_user` is not declared: the argument's other columns pass through to the body.
    const failuresBy =
      'let failuresBy = (T: (src_ip: string, status: string, *), atLeast: long = 5, wanted: string = "Failure") {\n  T | where status == wanted | summarize failures = count(), accounts = dcount(actor_user) by src_ip | where failures >= atLeast\n};\n';
    const queries = {
      spray: `${failuresBy}failuresBy(Authentication) | order by failures desc`,
      named: `${failuresBy}failuresBy(atLeast = 2, T = Authentication | where src_ip == "203.0.113.77")`,
      mixed: `${failuresBy}failuresBy(Authentication | where src_ip == "203.0.113.77", wanted = "Success", atLeast = 1)`,
    };
    const rowsOf = async (token: string) =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(queries).map(async ([name, q]) => [name, (await hunt(q, token)).rows]),
        ),
      );
    expect(await rowsOf(analystE)).toEqual({
      spray: [],
      named: [{ src_ip: "203.0.113.77", failures: 2, accounts: 1 }],
      mixed: [{ src_ip: "203.0.113.77", failures: 1, accounts: 1 }],
    });
    const ofA = await rowsOf(t.analyst);
    expect(JSON.stringify(ofA)).not.toContain("only-e");
    expect(ofA.spray).toEqual(SPRAY_ROWS);
    expect(ofA.named).toEqual([{ src_ip: "203.0.113.77", failures: 15, accounts: 2 }]);
    // The spray source's successes (a function with `wanted = "Success"`), as the query written out finds them.
    expect(ofA.mixed).toEqual([{ src_ip: "203.0.113.77", failures: 3, accounts: 2 }]);
    const written = await hunt(
      'Authentication | where src_ip == "203.0.113.77" and status == "Success" | summarize failures = count(), accounts = dcount(actor_user) by src_ip',
    );
    expect(written.rows).toEqual(ofA.mixed);

    // A misnamed argument, a parameter given twice, a required one left out and a table without a declared column
    // are refused with their position.
    const refusals = {
      unknown: `${failuresBy}failuresBy(Authentication, atleast = 2)`,
      twice: `${failuresBy}failuresBy(Authentication, atLeast = 2, atLeast = 3)`,
      missing: `${failuresBy}failuresBy(atLeast = 2)`,
      positional: `${failuresBy}failuresBy(atLeast = 2, Authentication)`,
      column: `${failuresBy}failuresBy(T = Authentication | project src_ip, actor_user)`,
    };
    const answers: Record<string, unknown> = {};
    for (const [name, query] of Object.entries(refusals)) {
      const res = await platform.request(RunHuntDocument, { query, ...DAY }, t.analyst);
      expect(codes(res)).toEqual(["BAD_USER_INPUT"]);
      answers[name] = [problems(res)[0], res.errors![0].extensions!.position];
    }
    expect(answers).toEqual({
      unknown: [
        "query: line 4, column 28: `failuresBy` has no parameter `atleast` (its parameters: T, atLeast, wanted)",
        { line: 4, column: 28 },
      ],
      twice: [
        "query: line 4, column 41: `atLeast` of `failuresBy` is given twice: named twice",
        { line: 4, column: 41 },
      ],
      missing: [
        'query: line 4, column 1: the call of `failuresBy` leaves out `T`, which has no default value: `failuresBy` takes 1 to 3 arguments (T: (src_ip: string, status: string, *), atLeast: long = 5, wanted: string = "Failure")',
        { line: 4, column: 1 },
      ],
      positional: [
        "query: line 4, column 25: an argument given by position cannot follow a named one in a call of `failuresBy`: name this one too",
        { line: 4, column: 25 },
      ],
      column: [
        "query: line 4, column 16: the argument `T` of `failuresBy` (`T: (src_ip: string, status: string, *)`) has no column `status` (its columns: src_ip, actor_user)",
        { line: 4, column: 16 },
      ],
    });
  });

  it("expands several columns at once and leaves out the tables `union isfuzzy=true` cannot find, saying so", async () => {
    const zipped = await hunt(
      'Authentication | take 1 | extend a = dynamic([1, 2, 3]), b = dynamic(["x", "y"]) | mv-expand with_itemindex=i a to typeof(long), b to typeof(string) | project i, a, b | order by i asc',
    );
    expect(zipped.rows).toEqual([
      { i: 0, a: 1, b: "x" },
      { i: 1, a: 2, b: "y" },
      { i: 2, a: 3, b: null },
    ]);
    expect(zipped.warnings).toEqual([]);
    // A Sentinel hunt naming tables Rampart does not have: the ones it has answer, each the caller's tenant's own.
    const query =
      "union isfuzzy=true withsource=T SigninLogs, Authentication, (AADNonInteractiveUserSignInLogs | where ResultType != 0), ProcessActivity\n| summarize n = count() by T | order by T asc";
    const [ofA, ofB] = [await hunt(query), await hunt(query, t.analystB)];
    const counts = async (table: string, token: string) =>
      ((await hunt(`${table} | count`, token)).rows[0] as { Count: number }).Count;
    expect(ofA.rows).toEqual([
      { T: "Authentication", n: await counts("Authentication", t.analyst) },
      { T: "ProcessActivity", n: await counts("ProcessActivity", t.analyst) },
    ]);
    expect(ofB.rows).toEqual(
      [
        { T: "Authentication", n: await counts("Authentication", t.analystB) },
        { T: "ProcessActivity", n: await counts("ProcessActivity", t.analystB) },
      ].filter((row) => row.n > 0),
    );
    expect(ofA.warnings).toEqual([
      "line 1, column 33: `union isfuzzy=true` left out the unknown table `SigninLogs`",
      "line 1, column 61: `union isfuzzy=true` left out the unknown table `AADNonInteractiveUserSignInLogs`",
    ]);
    // Piped into, a union whose tables all are missing leaves the rows it was given; with no table at all, the hunt is
    // refused at the union's position.
    const piped = await platform.request(
      RunHuntDocument,
      { query: "Events\n| union isfuzzy=true SigninLogs\n| count", ...DAY },
      t.analyst,
    );
    expect(ok(piped).runHunt.rows).toEqual([{ Count: await counts("Events", t.analyst) }]);
    expect(ok(piped).runHunt.warnings).toEqual([
      "line 2, column 22: `union isfuzzy=true` left out the unknown table `SigninLogs`",
    ]);
    const nothing = await platform.request(
      RunHuntDocument,
      { query: "union isfuzzy=true SigninLogs, (SecurityEvent | take 1)", ...DAY },
      t.analyst,
    );
    expect(problems(nothing)).toEqual([
      "query: line 1, column 1: no table of `union isfuzzy=true` exists (the unknown table `SigninLogs`, the unknown table `SecurityEvent`)",
    ]);
    expect(nothing.errors![0].extensions!.position).toEqual({ line: 1, column: 1 });
  });

  it("makes series per group with defaults for empty bins, expands them back, and refuses bad bins at their position", async () => {
    // Sign-ins from an address of their own, in both tenants: each tenant's series count its own only.
    const signIn = (uid: string, time: string, user: string, status: string) => ({
      class_uid: 3002,
      activity_id: 1,
      time,
      status,
      metadata: { uid },
      actor: { user: { name: user } },
      src_endpoint: { ip: "198.18.0.9" },
    });
    const ingestorB = await platform.token([Role.INGESTOR], B);
    for (const [token, records] of [
      [
        t.ingestor,
        [
          signIn("series-1", "2026-11-20T10:00:00Z", "x@contoso.com", "Failure"),
          signIn("series-2", "2026-11-20T10:05:00Z", "x@contoso.com", "Failure"),
          signIn("series-3", "2026-11-20T10:25:00Z", "x@contoso.com", "Success"),
          signIn("series-4", "2026-11-20T10:10:00Z", "y@contoso.com", "Failure"),
          // At `to`: outside every bin.
          signIn("series-5", "2026-11-20T10:30:00Z", "y@contoso.com", "Failure"),
        ],
      ],
      [ingestorB, [signIn("series-b1", "2026-11-20T10:00:00Z", "x@contoso.com", "Failure")]],
    ] as const)
      ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records: [...records] }, token));

    const series = `Authentication
      | where src_ip == "198.18.0.9"
      | make-series attempts = count(), failures = countif(status == "Failure") default = -1
          on time from datetime(2026-11-20 10:00) to datetime(2026-11-20 10:30) step 10m by actor_user`;
    const bins = ["2026-11-20T10:00:00.000Z", "2026-11-20T10:10:00.000Z", "2026-11-20T10:20:00.000Z"];
    const ofA = await hunt(`${series}\n| order by actor_user asc`);
    expect(ofA.columns).toEqual([
      { name: "actor_user", type: "STRING" },
      { name: "attempts", type: "DYNAMIC" },
      { name: "failures", type: "DYNAMIC" },
      { name: "time", type: "DYNAMIC" },
    ]);
    expect(ofA.rows).toEqual([
      { actor_user: "x@contoso.com", attempts: [2, 0, 1], failures: [2, -1, 0], time: bins },
      { actor_user: "y@contoso.com", attempts: [0, 1, 0], failures: [-1, 1, -1], time: bins },
    ]);
    expect((await hunt(series, t.analystB)).rows).toEqual([
      { actor_user: "x@contoso.com", attempts: [1, 0, 0], failures: [1, -1, -1], time: bins },
    ]);
    // Back to one row per bin, in step with the axis.
    const expanded = await hunt(
      `${series}\n| mv-expand time to typeof(datetime), attempts to typeof(long)\n| where attempts > 0\n| project actor_user, time, attempts, bins = array_length(failures)\n| order by time asc`,
    );
    expect(expanded.rows).toEqual([
      { actor_user: "x@contoso.com", time: bins[0], attempts: 2, bins: 3 },
      { actor_user: "y@contoso.com", time: bins[1], attempts: 1, bins: 3 },
      { actor_user: "x@contoso.com", time: bins[2], attempts: 1, bins: 3 },
    ]);
    // Without `from` and `to`, the bins span exactly the hunt's own range.
    const unbounded = await hunt(
      'Authentication | where src_ip == "198.18.0.9" | make-series attempts = count() on time step 10m by actor_user | order by actor_user asc',
      t.analyst,
      { from: "2026-11-20T10:00:00Z", to: "2026-11-20T10:30:00Z" },
    );
    expect(unbounded.rows).toEqual([
      { actor_user: "x@contoso.com", attempts: [2, 0, 1], time: bins },
      { actor_user: "y@contoso.com", attempts: [0, 1, 0], time: bins },
    ]);
    const pairs = await hunt(
      'Authentication | where src_ip == "198.18.0.9" | take 1 | mv-expand kind=array kv = dynamic({"a": 1, "b": [2]}) | project kv',
    );
    expect(pairs.rows).toEqual([{ kv: ["a", 1] }, { kv: ["b", [2]] }]);

    for (const [query, problem, position] of [
      [
        "Authentication\n| make-series n = count() on src_port step 1024",
        "query: line 2, column 30: `make-series` on a number needs `from` and `to` (only a datetime axis defaults to the hunt's time range)",
        { line: 2, column: 30 },
      ],
      [
        "Authentication\n| make-series n = count() on time from ago(30d) to now() step 1m",
        "query: line 2, column 63: `make-series` makes at most 10000 bins, and this step makes 43200 from `from` to `to`: take a larger step or a shorter range",
        { line: 2, column: 63 },
      ],
      [
        "Authentication\n| make-series n = count() on time from now() to ago(1h) step 1m",
        "query: line 2, column 49: `to` of `make-series` comes after `from`",
        { line: 2, column: 49 },
      ],
      [
        "Authentication\n| make-series n = count() on time from ago(1h) to now() step 5",
        "query: line 2, column 62: `step` of `make-series` on a datetime is a timespan, not a long",
        { line: 2, column: 62 },
      ],
      [
        "Authentication\n| make-series n = make_list(src_ip) on time from ago(1h) to now() step 1m",
        "query: line 2, column 19: `make-series` takes the aggregations count, countif, dcount, dcountif, sum, sumif, avg, avgif, min, minif, max, maxif, take_any, stdev, variance, percentile, not `make_list()`",
        { line: 2, column: 19 },
      ],
    ] as const) {
      const refused = await platform.request(RunHuntDocument, { query, ...DAY }, t.analyst);
      expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
      expect(problems(refused)).toEqual([problem]);
      expect(refused.errors![0].extensions!.position).toEqual(position);
    }
  });

  it("finds a planted spike with make-series … in range(), series_decompose_anomalies and a zipped mv-expand, each tenant over its own events", async () => {
    // Failed sign-ins from an address of their own, per hour from 12:00 to 23:00: tenant A's alternate 2 and 3 with a
    // burst of 12 at 20:00, tenant B's are 3 with a burst of 20 at 14:00; a success every hour that countif leaves out.
    const A_FAILURES = [2, 3, 2, 3, 2, 3, 2, 3, 12, 2, 3, 2];
    const B_FAILURES = [3, 3, 20, 3, 3, 3, 3, 3, 3, 3, 3, 3];
    const hour = (i: number) => `2026-11-20T${String(12 + i).padStart(2, "0")}:00:00.000Z`;
    const records = (tenant: string, failures: number[]) =>
      failures.flatMap((n, i) =>
        Array.from({ length: n + 1 }, (_, k) => ({
          class_uid: 3002,
          activity_id: 1,
          time: new Date(Date.parse(hour(i)) + k * 60_000).toISOString(),
          status: k < n ? "Failure" : "Success",
          metadata: { uid: `spike-${tenant}-${i}-${k}` },
          actor: { user: { name: "svc@contoso.com" } },
          src_endpoint: { ip: "198.18.0.77" },
        })),
      );
    const ingestorB = await platform.token([Role.INGESTOR], B);
    for (const [token, tenant, failures] of [
      [t.ingestor, "a", A_FAILURES],
      [ingestorB, "b", B_FAILURES],
    ] as const)
      ok(
        await platform.request(
          IngestEventsDocument,
          { connector: "OCSF", records: records(tenant, [...failures]) },
          token,
        ),
      );

    // range(12:30, 23:00, 1h): bin()'s hours from 12:00 (the one holding 12:30) to 23:00 (stop is inclusive): 12 bins.
    const series = `Authentication
      | where src_ip == "198.18.0.77"
      | make-series failures = countif(status == "Failure") default = 0
          on time in range(datetime(2026-11-20 12:30), datetime(2026-11-20 23:00), 1h) by actor_user
      | extend anomalies = series_decompose_anomalies(failures), stats = series_stats_dynamic(failures)`;
    const whole = await hunt(series);
    expect(whole.rows).toEqual([
      {
        actor_user: "svc@contoso.com",
        failures: A_FAILURES,
        time: A_FAILURES.map((_, i) => hour(i)),
        anomalies: [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        // 39 failures over 12 hours.
        stats: expect.objectContaining({ min: 2, min_idx: 0, max: 12, max_idx: 8, avg: 3.25 }),
      },
    ]);

    // The typical anomaly hunt: one row per bin, the series zipped in step, only the flagged bins kept.
    const spike = `${series}
      | mv-expand time to typeof(datetime), failures to typeof(long), anomalies to typeof(long)
      | where anomalies != 0
      | project actor_user, time, failures, anomalies, baseline = toreal(stats.avg)`;
    expect((await hunt(spike)).rows).toEqual([
      { actor_user: "svc@contoso.com", time: hour(8), failures: 12, anomalies: 1, baseline: 3.25 },
    ]);
    // Tenant B's hunt sees its own burst only (its 20 failures at 14:00), never A's.
    expect((await hunt(spike, t.analystB)).rows).toEqual([
      { actor_user: "svc@contoso.com", time: hour(2), failures: 20, anomalies: 1, baseline: 53 / 12 },
    ]);

    // The anomaly hunt of docs/api.md, as written there: every account's hours, only A's burst unusual.
    const block = /```graphql\n(query AnomalyHunt[\s\S]*?)```/.exec(readFileSync("docs/api.md", "utf8"))?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<{
      runHunt: { columns: Array<{ name: string; type: string }>; rows: Array<Record<string, unknown>> };
    }>;
    const documented = ok(await platform.request(doc, {}, t.analyst)).runHunt;
    expect(documented.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "actor_user:STRING",
      "time:DATETIME",
      "failures:LONG",
      "typical:REAL",
    ]);
    expect(documented.rows).toEqual([
      { actor_user: "svc@contoso.com", time: hour(8), failures: 12, typical: 3.25 },
    ]);

    for (const [query, problem, position] of [
      [
        "Authentication\n| make-series n = count() on time in range(ago(1h), now(), 1m) step 1m",
        "query: line 2, column 64: `make-series` takes `in range(start, stop, step)` or `from`/`to`/`step`, not both",
        { line: 2, column: 64 },
      ],
      [
        "Authentication\n| make-series n = count() on time in range(ago(1h), now(), 0s)",
        "query: line 2, column 60: `step` of `make-series … in range()` is more than zero",
        { line: 2, column: 60 },
      ],
      [
        'Authentication\n| make-series n = count() on time in range(ago(1h), now(), 1m)\n| extend o = series_outliers(n, "iqr")',
        'query: line 3, column 33: `kind` of `series_outliers` is one of "ctukey", "tukey"',
        { line: 3, column: 33 },
      ],
    ] as const) {
      const refused = await platform.request(RunHuntDocument, { query, ...DAY }, t.analyst);
      expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
      expect(problems(refused)).toEqual([problem]);
      expect(refused.errors![0].extensions!.position).toEqual(position);
    }
  });

  it("detects a daily period by default in series_decompose_anomalies and flags the spike it makes stand out, each tenant over its own events", async () => {
    // A week of hourly sign-ins from an address of their own, before the fixtures' day: 2 an hour from 09:00 to 16:59
    // every day, none at night, except 5 at 04:00 on the fifth day (hour 100), which is no more than a busy hour.
    const WEEK = { from: "2026-11-09T00:00:00Z", to: "2026-11-16T00:00:00Z" };
    const hour = (i: number) => new Date(Date.parse(WEEK.from) + i * 3_600_000).toISOString();
    const signins = Array.from({ length: 168 }, (_, i) =>
      i === 100 ? 5 : i % 24 >= 9 && i % 24 <= 16 ? 2 : 0,
    );
    const records = signins.flatMap((n, i) =>
      Array.from({ length: n }, (_, k) => ({
        class_uid: 3002,
        activity_id: 1,
        time: new Date(Date.parse(hour(i)) + k * 60_000).toISOString(),
        status: "Success",
        metadata: { uid: `daily-${i}-${k}` },
        actor: { user: { name: "night@contoso.com" } },
        src_endpoint: { ip: "198.18.0.99" },
      })),
    );
    ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records }, t.ingestor));

    const series = `Authentication
      | where src_ip == "198.18.0.99"
      | make-series n = count() default = 0
          on time in range(datetime(2026-11-09 00:00), datetime(2026-11-15 23:00), 1h) by actor_user
      | extend anomalies = series_decompose_anomalies(n), plain = series_decompose_anomalies(n, 1.5, 0)
      | extend (periods, scores) = series_periods_detect(n, 4, 84, 2)
      | extend (baseline, seasonal) = series_decompose(n)
      | project actor_user, n, anomalies, plain, periods, scores, seasonal`;
    const [row, ...others] = (await hunt(series, t.analyst, WEEK)).rows;
    expect(others).toEqual([]);
    expect(row.actor_user).toBe("night@contoso.com");
    expect(row.n).toEqual(signins);
    // Lag 24 scores 0.723 once the series' line is taken away (lags 23 and 25: 0.583 and 0.577; the best other local
    // maximum, 48, is its multiple), at least Kusto's 0.6: the seasonal part is each hour's median over the week,
    // 2 by day and 0 by night, and the residual is 0 everywhere but the spike's 5.
    expect(row.periods).toEqual([24, 0]);
    expect(row.scores).toEqual([expect.closeTo(0.72298, 5), 0]);
    expect(row.seasonal).toEqual(signins.map((_, i) => (i % 24 >= 9 && i % 24 <= 16 ? 2 : 0)));
    expect(row.anomalies).toEqual(signins.map((_, i) => (i === 100 ? 1 : 0)));
    // Without seasonality (0), the 5 is measured against every hour of the week, and it is not unusual.
    expect(row.plain).toEqual(signins.map(() => 0));

    // The seasonal hunt of docs/api.md, as written there: only the night's spike, with the period found.
    const block = /```graphql\n(query SeasonalHunt[\s\S]*?)```/.exec(
      readFileSync("docs/api.md", "utf8"),
    )?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<{
      runHunt: { columns: Array<{ name: string; type: string }>; rows: Array<Record<string, unknown>> };
    }>;
    const documented = ok(await platform.request(doc, {}, t.analyst)).runHunt;
    expect(documented.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "actor_user:STRING",
      "time:DATETIME",
      "signins:LONG",
      "period:REAL",
    ]);
    expect(documented.rows).toEqual([
      { actor_user: "night@contoso.com", time: hour(100), signins: 5, period: 24 },
    ]);
    // Tenant B has no such sign-ins: its hunts over the same week find nothing.
    expect((await hunt(series, t.analystB, WEEK)).rows).toEqual([]);
    expect(ok(await platform.request(doc, {}, t.analystB)).runHunt.rows).toEqual([]);
  });

  it("forecasts a day of sign-ins from six with series_decompose_forecast, exactly for a rising daily shape, each tenant over its own events", async () => {
    // Six days of sign-ins from an address of their own in 6-hour bins from 2026-11-01 00:00: bin i has i more than
    // the day's shape (0, 3, 3, 0 by quarter of the day), so a rise of one a bin on top of the same day every day.
    // The seventh day's four bins are empty: the ones to forecast.
    const START = Date.parse("2026-11-01T00:00:00Z");
    const bin = (i: number) => new Date(START + i * 6 * 3_600_000).toISOString();
    const shape = [0, 3, 3, 0];
    const signins = Array.from({ length: 24 }, (_, i) => i + shape[i % 4]);
    const records = signins.flatMap((n, i) =>
      Array.from({ length: n }, (_, k) => ({
        class_uid: 3002,
        activity_id: 1,
        time: new Date(Date.parse(bin(i)) + k * 60_000).toISOString(),
        status: "Success",
        metadata: { uid: `forecast-${i}-${k}` },
        actor: { user: { name: "rising@contoso.com" } },
        src_endpoint: { ip: "198.18.0.66" },
      })),
    );
    ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records }, t.ingestor));

    const WEEK = { from: "2026-11-01T00:00:00Z", to: "2026-11-08T00:00:00Z" };
    const series = `Authentication
      | where src_ip == "198.18.0.66"
      | make-series n = count() default = 0
          on time in range(datetime(2026-11-01 00:00), datetime(2026-11-07 18:00), 6h) by actor_user
      | extend given = series_decompose_forecast(n, 4, 4), detected = series_decompose_forecast(n, 4),
          flat = series_decompose_forecast(n, 4, 4, "avg")
      | project actor_user, n, given, detected, flat`;
    const [row, ...others] = (await hunt(series, t.analyst, WEEK)).rows;
    expect(others).toEqual([]);
    expect(row.actor_user).toBe("rising@contoso.com");
    expect(row.n).toEqual([...signins, 0, 0, 0, 0]);
    // The rise and the shape carried on over the seventh day (24 + 0, 25 + 3, 26 + 3, 27 + 0), the six days learnt
    // as they are; the default seasonality finds the day (4 bins) itself.
    const carriedOn = Array.from({ length: 28 }, (_, i) => i + shape[i % 4]);
    expect(row.given).toEqual(carriedOn);
    expect(row.detected).toEqual(carriedOn);
    // "avg" has no rise: each quarter is its median over the six days (the quarter's own i, its shape, and 10, the
    // rise halfway through the week), and every day, the seventh too, is 10, 14, 15, 13.
    expect(row.flat).toEqual(carriedOn.map((_, i) => [10, 14, 15, 13][i % 4]));

    // The forecast hunt of docs/api.md, as written there: the seventh day's four bins.
    const block = /```graphql\n(query ForecastHunt[\s\S]*?)```/.exec(
      readFileSync("docs/api.md", "utf8"),
    )?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<{
      runHunt: { columns: Array<{ name: string; type: string }>; rows: Array<Record<string, unknown>> };
    }>;
    const documented = ok(await platform.request(doc, {}, t.analyst)).runHunt;
    expect(documented.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "actor_user:STRING",
      "time:DATETIME",
      "forecast:REAL",
    ]);
    expect(documented.rows).toEqual(
      [24, 28, 29, 27].map((forecast, i) => ({
        actor_user: "rising@contoso.com",
        time: bin(24 + i),
        forecast,
      })),
    );
    // Tenant B has no such sign-ins: its hunts over the same week find nothing.
    expect((await hunt(series, t.analystB, WEEK)).rows).toEqual([]);
    expect(ok(await platform.request(doc, {}, t.analystB)).runHunt.rows).toEqual([]);
  });

  it("applies a subquery per row with mv-apply, fits lines, and parses leniently with kind=relaxed, each tenant over its own events", async () => {
    // Sign-ins from an address of their own: tenant A's from ports 1001, 1002 and 1003 (the last one's message has
    // no number), tenant B's from 2001.
    const records = (tenant: string, ports: number[]) =>
      ports.map((port, i) => ({
        class_uid: 3002,
        activity_id: 1,
        time: `2026-11-20T1${i}:00:00.000Z`,
        status: "Failure",
        message: `user=mv port=${port === 1003 ? "n/a" : port}`,
        metadata: { uid: `mv-apply-${tenant}-${i}` },
        actor: { user: { name: "mv@contoso.com" } },
        src_endpoint: { ip: "198.18.0.88", port },
      }));
    const ingestorB = await platform.token([Role.INGESTOR], B);
    for (const [token, tenant, ports] of [
      [t.ingestor, "a", [1001, 1002, 1003]],
      [ingestorB, "b", [2001]],
    ] as const)
      ok(
        await platform.request(
          IngestEventsDocument,
          { connector: "OCSF", records: records(tenant, [...ports]) },
          token,
        ),
      );

    const perAccount = (above: number) => `Authentication
      | where src_ip == "198.18.0.88"
      | summarize ports = make_list(src_port) by actor_user
      | mv-apply p = ports to typeof(long) on (where p > ${above} | summarize hi = max(p), lo = min(p), k = count())`;
    const ofA = await hunt(perAccount(1001));
    expect(ofA.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "actor_user:STRING",
      "hi:LONG",
      "lo:LONG",
      "k:LONG",
    ]);
    expect(ofA.rows).toEqual([{ actor_user: "mv@contoso.com", hi: 1003, lo: 1002, k: 2 }]);
    // Tenant B's sub-tables hold its own port only, never A's.
    expect((await hunt(perAccount(1001), t.analystB)).rows).toEqual([
      { actor_user: "mv@contoso.com", hi: 2001, lo: 2001, k: 1 },
    ]);
    // A row whose subquery returns no row is dropped: none of A's ports is above 1500, B's is.
    const above = (n: number) => perAccount(n).replace(/\| summarize hi.*\)$/, ")");
    expect((await hunt(above(1500))).rows).toEqual([]);
    expect((await hunt(above(1500), t.analystB)).rows).toEqual([{ actor_user: "mv@contoso.com", p: 2001 }]);

    // The line through each account's ports per hour (A: 1001, 1002, 1003 at x = 1, 2, 3), and its decomposition.
    const fit = `Authentication
      | where src_ip == "198.18.0.88"
      | make-series ports = sum(src_port) on time in range(datetime(2026-11-20 10:00), datetime(2026-11-20 12:00), 1h) by actor_user
      | extend (rsquare, slope, variance, rvariance, interception) = series_fit_line(ports)
      | extend (baseline, seasonal, trend, residual) = series_decompose(ports, -1, "linefit")
      | project rsquare, slope, variance, interception, trend, residual`;
    expect((await hunt(fit)).rows).toEqual([
      {
        rsquare: 1,
        slope: 1,
        variance: 1,
        interception: 1000,
        trend: [1001, 1002, 1003],
        residual: [0, 0, 0],
      },
    ]);

    // parse kind=relaxed keeps the user where the port is not a number; simple mode would null both.
    const parsed = `Authentication
      | where src_ip == "198.18.0.88"
      | parse kind=relaxed message with "user=" user " port=" port:long
      | project user, port
      | order by port asc`;
    expect((await hunt(parsed)).rows).toEqual([
      { user: "mv", port: null },
      { user: "mv", port: 1001 },
      { user: "mv", port: 1002 },
    ]);
    expect((await hunt(parsed, t.analystB)).rows).toEqual([{ user: "mv", port: 2001 }]);

    // The mv-apply hunt of docs/api.md, as written there.
    const block = /```graphql\n(query MvApplyHunt[\s\S]*?)```/.exec(readFileSync("docs/api.md", "utf8"))?.[1];
    expect(block).toBeDefined();
    const doc = parse(block!) as TypedDocumentNode<{
      runHunt: { columns: Array<{ name: string; type: string }>; rows: Array<Record<string, unknown>> };
    }>;
    const documented = ok(await platform.request(doc, {}, t.analyst)).runHunt;
    expect(documented.rows).toEqual([{ actor_user: "mv@contoso.com", highest: 1003, above: 2 }]);

    const refused = await platform.request(
      RunHuntDocument,
      { query: "Authentication\n| mv-apply p = attributes on (join (Events) on id)", ...DAY },
      t.analyst,
    );
    expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
    expect(problems(refused)).toEqual([
      "query: line 2, column 31: `join` is not supported in the subquery of `mv-apply` (it takes where, project, project-away, project-rename, extend, summarize, order, take, top, count, distinct, parse, mv-expand)",
    ]);
    expect(refused.errors![0].extensions!.position).toEqual({ line: 2, column: 31 });
  });

  it("hunts with the string, datetime, dynamic, number and IPv4 functions and the new aggregations, each tenant over its own events", async () => {
    // Sign-ins of fn@contoso.com: tenant A's from two private addresses and a public one, tenant B's from one public.
    const records = (tenant: string, rows: Array<[string, number, string]>) =>
      rows.map(([ip, port, code], i) => ({
        class_uid: 3002,
        activity_id: 1,
        time: `2026-11-20T1${i}:00:00.000Z`,
        status: "Failure",
        message: `user=fn code=${code} host=web-${tenant}`,
        metadata: { uid: `fn-${tenant}-${i}` },
        actor: { user: { name: "fn@contoso.com" } },
        src_endpoint: { ip, port },
      }));
    const ingestorB = await platform.token([Role.INGESTOR], B);
    for (const [token, tenant, rows] of [
      [
        t.ingestor,
        "a",
        [
          ["10.1.2.3", 3001, "E12"],
          ["203.0.113.9", 3002, "E12"],
          ["192.168.5.5", 3004, "E12"],
        ],
      ],
      [ingestorB, "b", [["8.8.8.8", 4001, "E7"]]],
    ] as const)
      ok(
        await platform.request(
          IngestEventsDocument,
          {
            connector: "OCSF",
            records: records(
              tenant,
              rows.map((r) => [...r] as [string, number, string]),
            ),
          },
          token,
        ),
      );

    const query = `Authentication
      | where actor_user == "fn@contoso.com"
      | extend code = extract(@"code=(E\\d+)", 1, message), private = ipv4_is_private(src_ip),
          host = toupper(trim_start("host=", tostring(split(message, " ", 2)[0]))), hour = hourofday(time)
      | summarize n = count(), privateN = countif(private), codes = make_set(code), p50 = percentile(src_port, 50),
          sd = round(stdev(src_port), 3), first = min(time), early = take_any(hour), day = take_any(dayofweek(time))
        by host
      | extend tag = case(privateN > 1, "internal", privateN == 1, "mixed", "external"), bag = bag_pack("n", n, "codes", codes),
          span = datetime_diff("minute", datetime_add("hour", 1, first), first), stamp = format_datetime(first, "yyyy-MM-dd HH:mm")`;
    const ofA = await hunt(query);
    expect(ofA.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "host:STRING",
      "n:LONG",
      "privateN:LONG",
      "codes:DYNAMIC",
      "p50:LONG",
      "sd:REAL",
      "first:DATETIME",
      "early:LONG",
      "day:TIMESPAN",
      "tag:STRING",
      "bag:DYNAMIC",
      "span:LONG",
      "stamp:STRING",
    ]);
    expect(ofA.rows).toEqual([
      {
        host: "WEB-A",
        n: 3,
        privateN: 2,
        codes: ["E12"],
        p50: 3002,
        sd: 1.528,
        first: "2026-11-20T10:00:00.000Z",
        early: 10,
        day: "P5D",
        tag: "internal",
        bag: { n: 3, codes: ["E12"] },
        span: 60,
        stamp: "2026-11-20 10:00",
      },
    ]);
    // Tenant B sees its one sign-in only.
    expect((await hunt(query, t.analystB)).rows).toEqual([
      {
        host: "WEB-B",
        n: 1,
        privateN: 0,
        codes: ["E7"],
        p50: 4001,
        sd: null,
        first: "2026-11-20T10:00:00.000Z",
        early: 10,
        day: "P5D",
        tag: "external",
        bag: { n: 1, codes: ["E7"] },
        span: 60,
        stamp: "2026-11-20 10:00",
      },
    ]);

    // A wrong argument is the query's fault, at its position, with the fix.
    const refused = await platform.request(
      RunHuntDocument,
      { query: "Authentication\n| extend h = hourofday(message)", ...DAY },
      t.analyst,
    );
    expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
    expect(problems(refused)).toEqual([
      "query: line 2, column 24: `hourofday` takes a datetime, not a string: convert it with todatetime(…)",
    ]);
  });
});
