import type { DataSource } from "typeorm";
import {
  CreateIntelFeedDocument,
  DeleteIntelFeedDocument,
  IngestEventsDocument,
  IntelAlertsDocument,
  IntelFeedIndicatorsDocument,
  IntelFeedsDocument,
  PollIntelFeedDocument,
  UpdateIntelFeedDocument,
  type FeedFieldsFragment,
} from "./__generated__/graphql";
import { createLogger, inTenant, Role } from "../subgraphs/common/src";
import { rekeyPlaybookSecrets } from "../subgraphs/siem/src/modules/automation/automation.tasks";
import { countSecretsByKey } from "../subgraphs/siem/src/modules/automation/secret-keys";
import { derivedKey, SecretBox } from "../subgraphs/siem/src/modules/automation/secret-box";
import { codes, problems } from "./utils/errors";
import { startTestPlatform, type TestPlatform } from "./utils/platform";
import { ok } from "./utils/seed";
import { startTaxiiServer, stixIndicator, type TaxiiServer } from "./utils/taxii-server";

/**
 * TAXII 2.1 feeds as an admin and an analyst meet them: through the gateway, polled by the SIEM's job runner
 * from a real TAXII server on this machine, on a real Postgres.
 */

const TENANT = "tenant-feeds-a";
const OTHER = "tenant-feeds-b";
const PASSWORD = "correct horse battery staple";

/** Waits for an async condition (a poll runs in the job runner, not in the mutation). */
async function until<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("threat-intelligence feeds (TAXII 2.1)", () => {
  let platform: TestPlatform;
  let taxii: TaxiiServer;
  let ds: DataSource;
  let t: Record<"admin" | "reader" | "ingestor" | "otherAdmin" | "otherReader", string>;

  const feeds = async (token = t.admin) =>
    ok(await platform.request(IntelFeedsDocument, {}, token)).threatIntelFeeds.nodes;
  const feed = async (id: string, token = t.admin) => (await feeds(token)).find((f) => f.id === id);
  const create = async (name: string, collectionId: string, extra: Record<string, unknown> = {}) =>
    ok(
      await platform.request(
        CreateIntelFeedDocument,
        {
          input: {
            name,
            apiRoot: taxii.apiRoot,
            collectionId,
            auth: { kind: "BASIC", username: "rampart", password: PASSWORD },
            ...extra,
          },
        },
        t.admin,
      ),
    ).createThreatIntelFeed;
  /** Waits for the poll after `before` to end (successfully, unless `failed`). */
  const pollEnded = (id: string, before: FeedFieldsFragment["status"] | null, failed = false) =>
    until(async () => {
      const f = await feed(id);
      const s = f?.status;
      if (!s?.lastPollAt) return undefined;
      if (before?.lastPollAt && s.lastPollAt <= before.lastPollAt) return undefined;
      if (failed) return s.lastError && s.lastError !== before?.lastError ? f : undefined;
      return !s.lastError &&
        s.lastSuccessAt &&
        (!before?.lastSuccessAt || s.lastSuccessAt > before.lastSuccessAt)
        ? f
        : undefined;
    }, `a poll of feed ${id}`);
  const indicators = async (token = t.reader) =>
    ok(await platform.request(IntelFeedIndicatorsDocument, { first: 100 }, token)).threatIndicators;

  beforeAll(async () => {
    taxii = await startTaxiiServer();
    taxii.auth = { kind: "basic", username: "rampart", password: PASSWORD };
    taxii.maxPageSize = 2;
    platform = await startTestPlatform({ INTEL_FEED_ALLOW_PRIVATE_TARGETS: "true" });
    ds = await platform.connect("siem");
    t = await platform.tokens({
      admin: [[Role.ADMIN], TENANT],
      reader: [[Role.READER], TENANT],
      ingestor: [[Role.INGESTOR], TENANT],
      otherAdmin: [[Role.ADMIN], OTHER],
      otherReader: [[Role.READER], OTHER],
    });
  });
  afterAll(async () => {
    await ds?.destroy();
    await platform?.stop();
    await taxii?.close();
  });

  it("creates one feed of a name when several creates of it arrive at once; the others are refused", async () => {
    // The race sweep found the losers failing on the unique key as INTERNAL_SERVER_ERROR.
    const input = { name: "Concurrent feed", apiRoot: taxii.apiRoot, collectionId: "main", enabled: false };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => platform.request(CreateIntelFeedDocument, { input }, t.admin)),
    );
    expect(answers.map((a) => a.errors?.[0]?.extensions?.code ?? "ok").sort()).toEqual([
      ...Array.from({ length: 5 }, () => "BAD_USER_INPUT"),
      "ok",
    ]);
    const created = (await feeds()).filter((f) => f.name === input.name);
    expect(created).toHaveLength(1);
    // The tenant's other cases count its feeds: this one goes again.
    ok(await platform.request(DeleteIntelFeedDocument, { input: { id: created[0].id } }, t.admin));
  });

  it("polls a collection page by page, matches its indicators against events, and then fetches only new objects", async () => {
    const bad = stixIndicator("[ipv4-addr:value = '203.0.113.50']");
    taxii.add(
      "main",
      bad,
      stixIndicator("[domain-name:value = 'feed-evil.example']"),
      {
        type: "malware",
        spec_version: "2.1",
        id: "malware--6a4f0c2e-8b1d-4c3a-9e7f-00000000aaaa",
        name: "x",
      },
      stixIndicator("[ipv4-addr:value = '203.0.113.300']"), // invalid: rejected, the others kept
      stixIndicator("[ipv4-addr:value = '198.51.100.77']"),
    );
    const created = await create("Partner feed", "main");
    expect(created).toMatchObject({
      name: "Partner feed",
      apiRoot: taxii.apiRoot,
      pollInterval: "PT1H",
      enabled: true,
      auth: { kind: "BASIC", username: "rampart", header: null, secretStatus: "CURRENT" },
    });
    const first = (await pollEnded(created.id, null))!;
    expect(first.status).toMatchObject({
      lastError: null,
      lastObjectCount: 5,
      lastIndicatorCount: 3,
      lastRejectedCount: 1,
      totalObjectCount: 5,
      totalIndicatorCount: 3,
      addedAfter: taxii.collections.get("main")![4].dateAdded,
    });
    // Three pages of two, the first without a cursor, the next ones by `next` on the same (absent) cursor.
    expect(taxii.requests.map((r) => [r.addedAfter, r.next, r.status])).toEqual([
      [null, null, 200],
      [null, "2", 200],
      [null, "4", 200],
    ]);
    // The password is stored sealed, never as given.
    const [secret] = await inTenant(ds, TENANT, (m) =>
      m.query(`SELECT sealed FROM threat_intel_feed_secrets WHERE feed_id = $1`, [created.id]),
    );
    expect(secret.sealed).not.toContain(PASSWORD);
    expect(Buffer.from(secret.sealed, "base64").toString("latin1")).not.toContain(PASSWORD);

    // A reader sees the feed and where each indicator came from, not the server's URL.
    expect((await feed(created.id, t.reader))?.apiRoot).toBeNull();
    const list = await indicators();
    expect(list.totalCount).toBe(3);
    expect(list.nodes.every((i) => i.source === "Partner feed" && i.feed?.id === created.id)).toBe(true);

    // An event from a listed address raises a TI_MATCH alert.
    const event = {
      class_uid: 4001,
      activity_id: 1,
      metadata: { uid: "feed-conn-1" },
      time: new Date(Date.now() - 60_000).toISOString(),
      src_endpoint: { ip: "10.1.2.3" },
      dst_endpoint: { ip: "203.0.113.50" },
      device: { hostname: "ws-feed-01" },
    };
    const ingested = ok(
      await platform.request(IngestEventsDocument, { connector: "OCSF", records: [event] }, t.ingestor),
    ).ingestEvents;
    expect(ingested.rejected).toEqual([]);
    const alerts = ok(await platform.request(IntelAlertsDocument, { first: 100 }, t.reader)).alerts.nodes;
    expect(alerts.filter((a) => a.provider === "TI_MATCH").map((a) => a.title)).toEqual([
      "Threat intelligence match: 203.0.113.50",
    ]);

    // An event to an address no indicator lists yet: stored, no alert.
    const early = {
      ...event,
      metadata: { uid: "feed-conn-2" },
      dst_endpoint: { ip: "192.0.2.99" },
    };
    ok(await platform.request(IngestEventsDocument, { connector: "OCSF", records: [early] }, t.ingestor));

    // New objects, and a revocation of one already imported: the next poll asks from the cursor and gets only those.
    taxii.requests.length = 0;
    taxii.add("main", stixIndicator("[ipv4-addr:value = '192.0.2.99']"), {
      ...bad,
      modified: "2026-02-01T00:00:00.000Z",
      revoked: true,
    });
    ok(await platform.request(PollIntelFeedDocument, { id: created.id }, t.admin));
    const second = (await pollEnded(created.id, first.status))!;
    expect(taxii.requests.map((r) => r.addedAfter)).toEqual([first.status.addedAfter]);
    expect(second.status).toMatchObject({
      lastObjectCount: 2,
      lastIndicatorCount: 2,
      lastRejectedCount: 0,
      totalObjectCount: 7,
      totalIndicatorCount: 5,
      addedAfter: taxii.collections.get("main")![6].dateAdded,
    });
    const after = await indicators();
    expect(after.totalCount).toBe(4);
    // The polled indicator matches the event stored before it (the retro-matching job the page queued).
    await until(async () => {
      const now = ok(await platform.request(IntelAlertsDocument, { first: 100 }, t.reader)).alerts.nodes;
      return now.some((a) => a.title === "Threat intelligence match: 192.0.2.99") || undefined;
    }, "the retro-match of the polled indicator");
    expect(after.nodes.find((i) => i.stixId === bad.id)).toMatchObject({ revoked: true, active: false });

    // A poll with nothing new asks from the newest cursor, stores nothing and keeps the cursor.
    taxii.requests.length = 0;
    ok(await platform.request(PollIntelFeedDocument, { id: created.id }, t.admin));
    const third = (await pollEnded(created.id, second.status))!;
    expect(taxii.requests.map((r) => r.addedAfter)).toEqual([second.status.addedAfter]);
    expect(third.status).toMatchObject({
      lastObjectCount: 0,
      totalObjectCount: 7,
      addedAfter: second.status.addedAfter,
    });
  });

  it("records a failing server as the feed's last error and recovers on the next good poll", async () => {
    taxii.add("flaky", stixIndicator("[ipv4-addr:value = '198.51.100.200']"));
    const created = await create("Flaky feed", "flaky");
    const good = (await pollEnded(created.id, null))!;

    taxii.failure = { kind: "status", status: 503 };
    ok(await platform.request(PollIntelFeedDocument, { id: created.id }, t.admin));
    const failed = (await pollEnded(created.id, good.status, true))!;
    expect(failed.status).toMatchObject({ lastError: "HTTP 503", lastSuccessAt: good.status.lastSuccessAt });

    taxii.failure = { kind: "not-envelope" };
    ok(await platform.request(PollIntelFeedDocument, { id: created.id }, t.admin));
    const notEnvelope = (await pollEnded(created.id, failed.status, true))!;
    expect(notEnvelope.status.lastError).toBe("the answer is not a TAXII envelope (expected a JSON object)");

    taxii.failure = null;
    ok(
      await platform.request(
        UpdateIntelFeedDocument,
        {
          input: {
            id: created.id,
            auth: { kind: "BASIC", username: "rampart", password: "wrong" },
          },
        },
        t.admin,
      ),
    );
    const refused = (await pollEnded(created.id, notEnvelope.status, true))!;
    expect(refused.status.lastError).toBe("HTTP 401: the server refused the credentials");

    // Good credentials again: a new source (credentials) starts from the cursor it had.
    ok(
      await platform.request(
        UpdateIntelFeedDocument,
        {
          input: {
            id: created.id,
            auth: { kind: "BASIC", username: "rampart", password: PASSWORD },
          },
        },
        t.admin,
      ),
    );
    const recovered = (await pollEnded(created.id, refused.status))!;
    expect(recovered.status).toMatchObject({ lastError: null, totalObjectCount: 1 });
    expect((await indicators()).nodes.filter((i) => i.source === "Flaky feed")).toHaveLength(1);
  });

  it("keeps the pages a failed poll stored, and the next poll goes on from there", async () => {
    taxii.add(
      "partial",
      ...[1, 2, 3].map((n) => stixIndicator(`[ipv4-addr:value = '198.51.100.${210 + n}']`)),
    );
    const added = taxii.collections.get("partial")!;
    taxii.failure = { kind: "status", status: 502, pagedOnly: true };
    taxii.requests.length = 0;
    const created = await create("Partial feed", "partial");
    const cut = (await pollEnded(created.id, null, true))!;
    expect(cut.status).toMatchObject({
      lastError: "HTTP 502",
      lastSuccessAt: null,
      lastObjectCount: 2,
      lastIndicatorCount: 2,
      totalObjectCount: 2,
      addedAfter: added[1].dateAdded,
    });
    expect((await indicators()).nodes.filter((i) => i.source === "Partial feed")).toHaveLength(2);

    taxii.failure = null;
    taxii.requests.length = 0;
    ok(await platform.request(PollIntelFeedDocument, { id: created.id }, t.admin));
    const resumed = (await pollEnded(created.id, cut.status))!;
    expect(taxii.requests.map((r) => [r.addedAfter, r.next])).toEqual([[added[1].dateAdded, null]]);
    expect(resumed.status).toMatchObject({
      lastError: null,
      lastObjectCount: 1,
      totalObjectCount: 3,
      totalIndicatorCount: 3,
      addedAfter: added[2].dateAdded,
    });
  });

  it("keeps a deleted feed's indicators by default and revokes them when asked", async () => {
    taxii.add("keep", stixIndicator("[ipv4-addr:value = '198.51.100.201']"));
    taxii.add("revoke", stixIndicator("[ipv4-addr:value = '198.51.100.202']"));
    const keep = await create("Kept feed", "keep");
    const revoke = await create("Revoked feed", "revoke");
    await pollEnded(keep.id, null);
    await pollEnded(revoke.id, null);

    ok(await platform.request(DeleteIntelFeedDocument, { input: { id: keep.id } }, t.admin));
    ok(
      await platform.request(
        DeleteIntelFeedDocument,
        { input: { id: revoke.id, revokeIndicators: true } },
        t.admin,
      ),
    );
    const nodes = (await indicators()).nodes;
    expect(nodes.filter((i) => i.source === "Kept feed")).toEqual([
      expect.objectContaining({ revoked: false, active: true, feed: null }),
    ]);
    expect(nodes.filter((i) => i.source === "Revoked feed")).toEqual([
      expect.objectContaining({ revoked: true, active: false, feed: null }),
    ]);
    expect((await feeds()).map((f) => f.id)).not.toEqual(expect.arrayContaining([keep.id]));
    const again = await platform.request(PollIntelFeedDocument, { id: keep.id }, t.admin);
    expect(codes(again)).toEqual(["NOT_FOUND"]);
  });

  it("moves feed credentials with the key ring, and a poll says when their key is missing", async () => {
    taxii.add("rotate", stixIndicator("[ipv4-addr:value = '198.51.100.203']"));
    const created = await create("Rotated feed", "rotate");
    const first = (await pollEnded(created.id, null))!;
    const running = derivedKey(platform.config.internalTokenSecret);
    const other = { id: "2027-01", key: Buffer.alloc(32, 7) };
    const log = createLogger("test", "silent");

    // Re-encrypted under a key this SIEM does not have: it shows, and a poll fails saying so.
    const moved = await rekeyPlaybookSecrets(ds, new SecretBox([other, running]), log);
    expect(moved.rekeyed).toBeGreaterThanOrEqual(1);
    expect((await feed(created.id))?.auth.secretStatus).toBe("KEY_MISSING");
    // The SIEM's stranded-key check (/ready, rampart_playbook_secrets) counts feed credentials too.
    expect(await countSecretsByKey(ds, new SecretBox([running]), [])).toContainEqual({
      keyId: "2027-01",
      standing: "KEY_MISSING",
      secrets: moved.rekeyed,
    });
    ok(await platform.request(PollIntelFeedDocument, { id: created.id }, t.admin));
    const failed = (await pollEnded(created.id, first.status, true))!;
    expect(failed.status.lastError).toMatch(
      /encrypted with key "2027-01", which is no longer in PLAYBOOK_SECRET_KEYS/,
    );

    // Moved back to the SIEM's key: polls work again.
    await rekeyPlaybookSecrets(ds, new SecretBox([running, other]), log);
    expect((await feed(created.id))?.auth.secretStatus).toBe("CURRENT");
    ok(await platform.request(PollIntelFeedDocument, { id: created.id }, t.admin));
    expect((await pollEnded(created.id, failed.status))!.status.lastError).toBeNull();
  });

  it("shows another tenant none of it", async () => {
    const mine = (await feeds())[0];
    expect(mine).toBeDefined();
    expect(await feeds(t.otherReader)).toEqual([]);
    expect((await indicators(t.otherReader)).totalCount).toBe(0);
    // This tenant's reader sees the feed's indicators: the zero above is the other tenant's.
    expect((await indicators()).totalCount).toBeGreaterThan(0);
    const alerts = ok(await platform.request(IntelAlertsDocument, { first: 100 }, t.otherReader)).alerts;
    expect(alerts.totalCount).toBe(0);
    for (const res of [
      await platform.request(PollIntelFeedDocument, { id: mine.id }, t.otherAdmin),
      await platform.request(
        UpdateIntelFeedDocument,
        { input: { id: mine.id, enabled: false } },
        t.otherAdmin,
      ),
      await platform.request(DeleteIntelFeedDocument, { input: { id: mine.id } }, t.otherAdmin),
    ])
      expect(codes(res)).toEqual(["NOT_FOUND"]);
    expect((await feed(mine.id))?.enabled).toBe(true);
  });

  it("lets only admins manage feeds, and refuses bad input with typed errors", async () => {
    const input = { name: "Reader's feed", apiRoot: taxii.apiRoot, collectionId: "main" };
    expect(codes(await platform.request(CreateIntelFeedDocument, { input }, t.reader))).toEqual([
      "FORBIDDEN",
    ]);
    expect(codes(await platform.request(CreateIntelFeedDocument, { input }, t.ingestor))).toEqual([
      "FORBIDDEN",
    ]);
    expect((await feeds()).map((f) => f.name)).not.toContain("Reader's feed");

    const bad = await platform.request(
      CreateIntelFeedDocument,
      {
        input: {
          name: "",
          apiRoot: "ftp://taxii.example/api1/",
          collectionId: "a/b",
          pollInterval: "PT1M",
          auth: { kind: "API_KEY", header: "Host" },
        },
      },
      t.admin,
    );
    expect(problems(bad)).toEqual([
      "name: must be 1 to 256 characters",
      "apiRoot: must be an http(s) URL",
      "collectionId: must be 1 to 256 characters, without control characters or /",
      "pollInterval: must be PT15M to P1D",
      "auth.header: must be an HTTP header name (not Accept, Host…)",
      "auth.apiKey: must be 1 to 512 characters",
    ]);
    expect(
      problems(
        await platform.request(
          CreateIntelFeedDocument,
          { input: { ...input, pollInterval: "P2D" } },
          t.admin,
        ),
      ),
    ).toEqual(["pollInterval: must be PT15M to P1D"]);
    expect(
      problems(
        await platform.request(
          CreateIntelFeedDocument,
          { input: { ...input, pollInterval: "every hour" } },
          t.admin,
        ),
      ),
    ).toEqual([expect.stringMatching(/^pollInterval: /)]);
    expect(
      problems(
        await platform.request(
          CreateIntelFeedDocument,
          { input: { ...input, name: "Partner feed" } },
          t.admin,
        ),
      ),
    ).toEqual(["name: another feed has this name"]);

    // Text Postgres cannot store is refused where it comes in, not by a failing statement.
    expect(
      problems(
        await platform.request(
          CreateIntelFeedDocument,
          {
            input: {
              ...input,
              apiRoot: `${taxii.apiRoot}\u0000`,
              auth: { kind: "BASIC", username: "a\ud800", password: "p" },
            },
          },
          t.admin,
        ),
      ),
    ).toEqual([expect.stringMatching(/^apiRoot: /), expect.stringMatching(/^auth.username: /)]);

    const unknown = "0190a0a0-0000-7000-8000-00000000f00d";
    expect(codes(await platform.request(PollIntelFeedDocument, { id: unknown }, t.admin))).toEqual([
      "NOT_FOUND",
    ]);
    expect(
      codes(await platform.request(UpdateIntelFeedDocument, { input: { id: unknown } }, t.admin)),
    ).toEqual(["NOT_FOUND"]);
    expect(problems(await platform.request(PollIntelFeedDocument, { id: "nope" }, t.admin))).toEqual([
      "id: must be a UUID",
    ]);

    // A disabled feed is not polled, by schedule or by hand.
    const disabled = await create("Disabled feed", "main", { enabled: false });
    expect(disabled.status.nextPollAt).toBeNull();
    expect(codes(await platform.request(PollIntelFeedDocument, { id: disabled.id }, t.admin))).toEqual([
      "CONFLICT",
    ]);
  });
});
