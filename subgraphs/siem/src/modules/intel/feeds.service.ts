import type { EntityManager } from "typeorm";
import {
  addJob,
  BadUserInputError,
  byIdLoader,
  ConflictError,
  hasAnyRole,
  isUuid,
  newId,
  NotFoundError,
  removeJob,
  Role,
  textProblem,
  toKeysetPage,
  writeAudit,
  writeOutbox,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { MINUTE_MS, DAY_MS, parseIsoDuration, type DurationBounds } from "../rules/durations";
import type { PlaybookSecretStatus } from "../automation/playbook.types";
import { type SecretBox } from "../automation/secret-box";
import {
  TaxiiAuth,
  TaxiiAuthKind,
  ThreatIntelFeed,
  ThreatIntelFeedConnection,
  ThreatIntelFeedStatus,
  type CreateThreatIntelFeedInput,
  type DeleteThreatIntelFeedInput,
  type TaxiiAuthInput,
  type UpdateThreatIntelFeedInput,
} from "./feed.types";
import { bumpIndicatorVersion } from "./intel.service";
import { apiRootProblem } from "./taxii-client";

/** The job that polls one feed. */
export const FEED_POLL_TASK = "intel_feed_poll";
/** Bounds of a feed's poll interval: often enough to be useful, rarely enough to be polite to the server. */
export const POLL_INTERVAL_BOUNDS: DurationBounds = { min: 15 * MINUTE_MS, max: DAY_MS };
/** A new feed's poll interval. */
export const DEFAULT_POLL_INTERVAL = "PT1H";
/** The header an API key goes in when none is named. */
export const DEFAULT_API_KEY_HEADER = "X-API-Key";

/** The job key of a feed's pending poll (one at a time) and its queue (polls of one feed never overlap). */
export const feedJobKey = (feedId: string) => `intel-feed:${feedId}`;
/** What a feed's sealed password or key is bound to: its tenant and id (it opens for no other feed). */
export const feedSecretBinding = (tenantId: string, feedId: string) => `${tenantId}\u0000feed:${feedId}`;

/**
 * Queues a feed's next poll at `at` in the caller's transaction and records when it is due. Polls of one feed run
 * one at a time (their own queue), and the job key keeps one pending: queueing again moves it.
 */
export async function scheduleFeedPoll(
  m: EntityManager,
  tenantId: string,
  feedId: string,
  at: Date,
): Promise<void> {
  await addJob(
    m,
    "siem",
    FEED_POLL_TASK,
    { tenantId, feedId },
    { runAt: at, jobKey: feedJobKey(feedId), queueName: feedJobKey(feedId), maxAttempts: 10 },
  );
  await m.query(`UPDATE threat_intel_feeds SET next_poll_at = $3 WHERE tenant_id = $1 AND id = $2`, [
    tenantId,
    feedId,
    at,
  ]);
}

/** A feed's definition as validated and stored. */
interface FeedDefinition {
  name: string;
  apiRoot: string;
  collectionId: string;
  pollInterval: string;
  enabled: boolean;
}

/** What the feed service needs from the configuration. */
export interface FeedSettings {
  secrets: SecretBox;
  /** Production: API roots must be https. */
  requireHttps: boolean;
  /** INTEL_FEED_ALLOW_PRIVATE_TARGETS: an API root may name a non-public address. */
  allowPrivateTargets: boolean;
}

const SELECT_FEED = `SELECT f.*, s.key_id AS secret_key_id FROM threat_intel_feeds f
  LEFT JOIN threat_intel_feed_secrets s ON s.feed_id = f.id`;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** Headers an API key may not replace: they are the request's own. */
const RESERVED_HEADERS = new Set(["accept", "host", "content-length", "connection", "user-agent"]);

/** TAXII feeds of threat intelligence: ADMIN manages them, READER lists them and what their polls did. */
export class FeedsService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly settings: FeedSettings,
  ) {}

  private fromRow(row: Record<string, unknown>): ThreatIntelFeed {
    return feedFromRow(row, hasAnyRole(this.identity, [Role.ADMIN]), (keyId) =>
      this.settings.secrets.standingOf(keyId),
    );
  }

  /** The tenant's feeds by name. */
  async list(args: PageArgs): Promise<ThreatIntelFeedConnection> {
    const page = toKeysetPage(args, "text");
    const params: unknown[] = [this.identity.tenantId, page.first + 1];
    let after = "";
    if (page.after) {
      params.push(page.after[0], page.after[1]);
      after = `AND (f.name COLLATE "C", f.id) > ($3::text COLLATE "C", $4::uuid)`;
    }
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `${SELECT_FEED} WHERE f.tenant_id = $1 ${after} ORDER BY f.name COLLATE "C", f.id LIMIT $2`,
        params,
      ),
    );
    return ThreatIntelFeedConnection.from({
      rows: rows.map((r) => this.fromRow(r)),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM threat_intel_feeds WHERE tenant_id = $1`, [
                this.identity.tenantId,
              ]),
            )
          )[0].n,
        ),
      cursorOf: (f) => [f.name, f.id],
    });
  }

  /** Feeds by id, one statement per batch (null when the tenant has no such feed). */
  readonly byId = byIdLoader<ThreatIntelFeed>(async (ids) =>
    (
      await this.db.read((m) =>
        m.query(`${SELECT_FEED} WHERE f.tenant_id = $1 AND f.id = ANY($2::uuid[])`, [
          this.identity.tenantId,
          ids.filter(isUuid),
        ]),
      )
    ).map((row: Record<string, unknown>) => this.fromRow(row)),
  );

  /** Creates a feed; an enabled one is polled at once. */
  async create(input: CreateThreatIntelFeedInput): Promise<ThreatIntelFeed> {
    const problems: InputProblem[] = [];
    const definition = this.check(
      {
        name: input.name,
        apiRoot: input.apiRoot,
        collectionId: input.collectionId,
        pollInterval: input.pollInterval ?? DEFAULT_POLL_INTERVAL,
        enabled: input.enabled ?? true,
      },
      problems,
    );
    const auth = authProblems(input.auth ?? { kind: TaxiiAuthKind.NONE }, problems);
    if (problems.length) throw new BadUserInputError("Invalid feed; nothing was changed.", problems);
    return this.db.write(async (m) => {
      await this.checkNameFree(m, definition.name, null);
      const id = newId();
      await m.query(
        `INSERT INTO threat_intel_feeds (tenant_id, id, name, api_root, collection_id, poll_interval, enabled,
                                         auth_kind, auth_username, auth_header, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
        [
          this.identity.tenantId,
          id,
          definition.name,
          definition.apiRoot,
          definition.collectionId,
          definition.pollInterval,
          definition.enabled,
          auth.kind,
          auth.username,
          auth.header,
          this.identity.subject,
        ],
      );
      await this.storeSecret(m, id, auth.secret);
      if (definition.enabled) await scheduleFeedPoll(m, this.identity.tenantId, id, new Date());
      await writeAudit(m, this.identity, [
        {
          action: "intel.feeds.create",
          target: `threat_intel_feed:${id}`,
          details: { name: definition.name },
        },
      ]);
      return this.fetch(m, id);
    });
  }

  /** Changes a feed (the fields given). A new server, collection or credentials restart its cursor and poll it at once. */
  async update(input: UpdateThreatIntelFeedInput): Promise<ThreatIntelFeed> {
    checkId(input.id);
    return this.db.write(async (m) => {
      const [row] = await m.query(
        `SELECT * FROM threat_intel_feeds WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [this.identity.tenantId, input.id],
      );
      if (!row) throw new NotFoundError("ThreatIntelFeed", input.id);
      const problems: InputProblem[] = [];
      const definition = this.check(
        {
          name: input.name ?? row.name,
          apiRoot: input.apiRoot ?? row.api_root,
          collectionId: input.collectionId ?? row.collection_id,
          pollInterval: input.pollInterval ?? row.poll_interval,
          enabled: input.enabled ?? row.enabled,
        },
        problems,
      );
      const auth = input.auth ? authProblems(input.auth, problems) : null;
      if (problems.length) throw new BadUserInputError("Invalid feed; nothing was changed.", problems);
      await this.checkNameFree(m, definition.name, input.id);
      const source = definition.apiRoot !== row.api_root || definition.collectionId !== row.collection_id;
      const reconnect = source || auth !== null;
      await m.query(
        `UPDATE threat_intel_feeds SET name = $3, api_root = $4, collection_id = $5, poll_interval = $6, enabled = $7,
                auth_kind = coalesce($8, auth_kind), auth_username = CASE WHEN $8::text IS NULL THEN auth_username ELSE $9 END,
                auth_header = CASE WHEN $8::text IS NULL THEN auth_header ELSE $10 END,
                added_after = CASE WHEN $11 THEN NULL ELSE added_after END,
                config_version = config_version + CASE WHEN $12 THEN 1 ELSE 0 END,
                updated_by = $13, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [
          this.identity.tenantId,
          input.id,
          definition.name,
          definition.apiRoot,
          definition.collectionId,
          definition.pollInterval,
          definition.enabled,
          auth?.kind ?? null,
          auth?.username ?? null,
          auth?.header ?? null,
          source,
          reconnect,
          this.identity.subject,
        ],
      );
      if (definition.name !== row.name)
        // Indicators name the feed they came from: they follow a rename.
        await m.query(`UPDATE threat_indicators SET source = $3 WHERE tenant_id = $1 AND feed_id = $2`, [
          this.identity.tenantId,
          input.id,
          definition.name,
        ]);
      if (auth) await this.storeSecret(m, input.id, auth.secret);
      if (!definition.enabled) {
        await removeJob(m, "siem", feedJobKey(input.id));
        await m.query(`UPDATE threat_intel_feeds SET next_poll_at = NULL WHERE tenant_id = $1 AND id = $2`, [
          this.identity.tenantId,
          input.id,
        ]);
      } else if (!row.enabled || reconnect) {
        await scheduleFeedPoll(m, this.identity.tenantId, input.id, new Date());
      } else if (definition.pollInterval !== row.poll_interval) {
        const last = (row.last_poll_at as Date | null)?.getTime() ?? Date.now();
        const due = Math.max(Date.now(), last + intervalMs(definition.pollInterval));
        await scheduleFeedPoll(m, this.identity.tenantId, input.id, new Date(due));
      }
      // The audit names what changed, never a password or key.
      const fields = Object.keys(input).filter(
        (k) =>
          k !== "id" &&
          input[k as keyof UpdateThreatIntelFeedInput] !== undefined &&
          input[k as keyof UpdateThreatIntelFeedInput] !== null,
      );
      await writeAudit(m, this.identity, [
        { action: "intel.feeds.update", target: `threat_intel_feed:${input.id}`, details: { fields } },
      ]);
      return this.fetch(m, input.id);
    });
  }

  /**
   * Deletes a feed. Its indicators are kept (they still match until `validUntil`; `source` keeps the feed's name),
   * unless `revokeIndicators` revokes those whose current version came from it.
   */
  async delete(input: DeleteThreatIntelFeedInput): Promise<ThreatIntelFeed> {
    checkId(input.id);
    return this.db.write(async (m) => {
      const [row] = await m.query(`${SELECT_FEED} WHERE f.tenant_id = $1 AND f.id = $2 FOR UPDATE OF f`, [
        this.identity.tenantId,
        input.id,
      ]);
      if (!row) throw new NotFoundError("ThreatIntelFeed", input.id);
      let revoked = 0;
      if (input.revokeIndicators) {
        const rows = await m.query(
          `UPDATE threat_indicators SET revoked = true, imported_at = now()
            WHERE tenant_id = $1 AND feed_id = $2 AND NOT revoked RETURNING id`,
          [this.identity.tenantId, input.id],
        );
        revoked = rows.length;
      }
      await removeJob(m, "siem", feedJobKey(input.id));
      await m.query(`DELETE FROM threat_intel_feeds WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        input.id,
      ]);
      if (revoked) {
        await bumpIndicatorVersion(m, this.identity.tenantId);
        await writeOutbox(m, [
          {
            tenantId: this.identity.tenantId,
            topic: "intel.indicators.changed",
            key: this.identity.tenantId,
            payload: { created: 0, updated: revoked },
          },
        ]);
      }
      await writeAudit(m, this.identity, [
        {
          action: "intel.feeds.delete",
          target: `threat_intel_feed:${input.id}`,
          details: { name: row.name, revokedIndicators: revoked },
        },
      ]);
      const feed = this.fromRow(row);
      feed.status.nextPollAt = null;
      return feed;
    });
  }

  /** Queues a poll of the feed now (it runs after a poll in progress); CONFLICT when the feed is disabled. */
  async pollNow(id: string): Promise<ThreatIntelFeed> {
    checkId(id);
    return this.db.write(async (m) => {
      const [row] = await m.query(
        `SELECT id, name, enabled FROM threat_intel_feeds WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [this.identity.tenantId, id],
      );
      if (!row) throw new NotFoundError("ThreatIntelFeed", id);
      if (!row.enabled) throw new ConflictError(`Feed "${row.name}" is disabled: enable it to poll it.`);
      await scheduleFeedPoll(m, this.identity.tenantId, id, new Date());
      await writeAudit(m, this.identity, [{ action: "intel.feeds.poll", target: `threat_intel_feed:${id}` }]);
      return this.fetch(m, id);
    });
  }

  /** Checks a complete definition, adding its faults to `problems`; returns it as stored. */
  private check(d: FeedDefinition, problems: InputProblem[]): FeedDefinition {
    const feedName = typeof d.name === "string" ? d.name.trim() : "";
    if (!feedName || feedName.length > 256)
      problems.push({ field: "name", message: "must be 1 to 256 characters" });
    else if (textProblem(feedName)) problems.push({ field: "name", message: textProblem(feedName)! });
    const rootProblem =
      (typeof d.apiRoot === "string" && textProblem(d.apiRoot)) ||
      apiRootProblem(d.apiRoot, {
        requireHttps: this.settings.requireHttps,
        allowPrivate: this.settings.allowPrivateTargets,
      });
    if (rootProblem) problems.push({ field: "apiRoot", message: rootProblem });
    const collectionId = typeof d.collectionId === "string" ? d.collectionId.trim() : "";
    if (!collectionId || collectionId.length > 256 || /[\u0000-\u001f\u007f/]/.test(collectionId))
      problems.push({
        field: "collectionId",
        message: "must be 1 to 256 characters, without control characters or /",
      });
    else if (textProblem(collectionId))
      problems.push({ field: "collectionId", message: textProblem(collectionId)! });
    const parsed = parseIsoDuration(d.pollInterval);
    if ("error" in parsed) problems.push({ field: "pollInterval", message: parsed.error });
    else if (parsed.ms < POLL_INTERVAL_BOUNDS.min || parsed.ms > POLL_INTERVAL_BOUNDS.max)
      problems.push({ field: "pollInterval", message: "must be PT15M to P1D" });
    return { ...d, name: feedName, collectionId };
  }

  private async checkNameFree(m: EntityManager, feedName: string, except: string | null): Promise<void> {
    // Two creates (or renames) to one name at once would both find it free and the second would fail on the
    // unique key as an internal error: the name's lock makes the second wait and then see the first's row.
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `siem.threat_intel_feeds.name|${this.identity.tenantId}|${feedName}`,
    ]);
    const [taken] = await m.query(
      `SELECT id FROM threat_intel_feeds WHERE tenant_id = $1 AND name = $2 AND ($3::uuid IS NULL OR id <> $3::uuid)`,
      [this.identity.tenantId, feedName, except],
    );
    if (taken)
      throw new BadUserInputError("Invalid feed; nothing was changed.", [
        { field: "name", message: "another feed has this name" },
      ]);
  }

  /** Seals and stores a feed's password or key, or removes the stored one (NONE). */
  private async storeSecret(m: EntityManager, feedId: string, secret: string | null): Promise<void> {
    if (secret === null) {
      await m.query(`DELETE FROM threat_intel_feed_secrets WHERE tenant_id = $1 AND feed_id = $2`, [
        this.identity.tenantId,
        feedId,
      ]);
      return;
    }
    const sealed = this.settings.secrets.seal(secret, feedSecretBinding(this.identity.tenantId, feedId));
    await m.query(
      `INSERT INTO threat_intel_feed_secrets (tenant_id, feed_id, sealed, key_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (feed_id) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id, set_at = now()`,
      [this.identity.tenantId, feedId, sealed.sealed, sealed.keyId],
    );
  }

  private async fetch(m: EntityManager, id: string): Promise<ThreatIntelFeed> {
    const [row] = await m.query(`${SELECT_FEED} WHERE f.tenant_id = $1 AND f.id = $2`, [
      this.identity.tenantId,
      id,
    ]);
    return this.fromRow(row);
  }
}

/** A poll interval in milliseconds (validated when the feed was saved). */
export function intervalMs(text: string): number {
  const parsed = parseIsoDuration(text);
  return "ms" in parsed ? parsed.ms : 3600_000;
}

function checkId(id: string): void {
  if (!isUuid(id))
    throw new BadUserInputError("Invalid feed id.", [{ field: "id", message: "must be a UUID" }]);
}

/** Credentials as stored: the plain parts and the secret to seal (null for NONE). */
interface StoredAuth {
  kind: TaxiiAuthKind;
  username: string | null;
  header: string | null;
  secret: string | null;
}

/** Checks credentials, adding their faults to `problems`. */
function authProblems(auth: TaxiiAuthInput, problems: InputProblem[]): StoredAuth {
  const secretOk = (field: string, value: string | null | undefined) => {
    if (typeof value !== "string" || value.length < 1 || value.length > 512)
      problems.push({ field, message: "must be 1 to 512 characters" });
    else if (textProblem(value) || /[\r\n]/.test(value))
      problems.push({ field, message: "must be text without line breaks" });
  };
  switch (auth.kind) {
    case TaxiiAuthKind.BASIC: {
      const username = auth.username ?? "";
      if (
        username.length < 1 ||
        username.length > 256 ||
        username.includes(":") ||
        /[\u0000-\u001f]/.test(username) ||
        textProblem(username)
      )
        problems.push({ field: "auth.username", message: "must be 1 to 256 characters, without `:`" });
      secretOk("auth.password", auth.password);
      return { kind: auth.kind, username, header: null, secret: auth.password ?? "" };
    }
    case TaxiiAuthKind.API_KEY: {
      const header = auth.header ?? DEFAULT_API_KEY_HEADER;
      if (!HEADER_NAME.test(header) || RESERVED_HEADERS.has(header.toLowerCase()))
        problems.push({ field: "auth.header", message: "must be an HTTP header name (not Accept, Host…)" });
      secretOk("auth.apiKey", auth.apiKey);
      return { kind: auth.kind, username: null, header, secret: auth.apiKey ?? "" };
    }
    default:
      return { kind: TaxiiAuthKind.NONE, username: null, header: null, secret: null };
  }
}

/** Maps a `threat_intel_feeds` row (with `secret_key_id`) to the GraphQL type. */
export function feedFromRow(
  row: Record<string, unknown>,
  showApiRoot: boolean,
  standingOf: (keyId: string) => PlaybookSecretStatus | `${PlaybookSecretStatus}`,
): ThreatIntelFeed {
  return Object.assign(new ThreatIntelFeed(), {
    id: row.id,
    name: row.name,
    apiRoot: showApiRoot ? row.api_root : null,
    collectionId: row.collection_id,
    auth: Object.assign(new TaxiiAuth(), {
      kind: row.auth_kind,
      username: row.auth_username ?? null,
      header: row.auth_header ?? null,
      secretStatus: row.secret_key_id ? standingOf(row.secret_key_id as string) : null,
    }),
    pollInterval: row.poll_interval,
    enabled: row.enabled,
    status: Object.assign(new ThreatIntelFeedStatus(), {
      lastPollAt: row.last_poll_at ?? null,
      lastSuccessAt: row.last_success_at ?? null,
      lastError: row.last_error ?? null,
      lastObjectCount: row.last_object_count,
      lastIndicatorCount: row.last_indicator_count,
      lastRejectedCount: row.last_rejected_count,
      totalObjectCount: Number(row.total_object_count),
      totalIndicatorCount: Number(row.total_indicator_count),
      addedAfter: row.added_after ?? null,
      nextPollAt: row.next_poll_at ?? null,
    }),
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  });
}
