/*
 * One poll of a TAXII feed (the `intel_feed_poll` job): fetch the collection's objects added after the feed's
 * cursor, page by page, and store each page's indicators through the same path as `importStixBundle`.
 *
 * Why it is safe to retry and to run on any replica:
 * - polls of one feed run one at a time (the feed's own job queue), and its job key keeps one pending;
 * - each page is stored in its own transaction together with the cursor it moves the feed to, so a poll cut
 *   short (a killed worker, a failed page) resumes after the last page it stored, and a page stored twice
 *   changes nothing (indicators are versioned by STIX id and `modified`);
 * - no HTTP call runs inside a transaction: a slow server holds no connection or lock;
 * - a change of the feed's server, collection or credentials (`config_version`) during a poll stops it: the
 *   pages it fetches after that belong to the old source and are not stored.
 *
 * Server faults (HTTP errors, bad JSON, an answer that is not an envelope, a refused address, a timeout) end the
 * poll as the feed's `lastError`; the next poll is due at the feed's interval as usual. Only a database fault
 * fails the job (graphile-worker retries it).
 */
import { Counter, register } from "prom-client";
import type { DataSource } from "typeorm";
import { inTenant, newId, type Identity, type Logger } from "../../../../common/src";
import type { SecretBox } from "../automation/secret-box";
import { feedSecretBinding, intervalMs, scheduleFeedPoll } from "./feeds.service";
import { storeIndicators } from "./intel.service";
import { parseStixBundle } from "./stix";
import {
  fallbackCursor,
  fetchTaxiiPage,
  laterTimestamp,
  TAXII_LIMITS,
  TaxiiError,
  type TaxiiCredentials,
  type TaxiiLimits,
  type TaxiiPage,
  type TaxiiPageRequest,
} from "./taxii-client";

/** When a poll stopped at `maxPages` with more to fetch, the next one is due this soon. */
export const CATCH_UP_DELAY_MS = 60_000;

const polls =
  (register.getSingleMetric("rampart_intel_feed_polls_total") as Counter<"outcome"> | undefined) ??
  new Counter({
    name: "rampart_intel_feed_polls_total",
    help: "TAXII feed polls this SIEM's job runner finished: outcome=ok (every page fetched and stored, or up to the page limit) or failed (the feed's lastError says why).",
    labelNames: ["outcome"],
  });

const imported =
  (register.getSingleMetric("rampart_intel_feed_indicators_total") as Counter<"change"> | undefined) ??
  new Counter({
    name: "rampart_intel_feed_indicators_total",
    help: "Indicators TAXII feed polls stored: change=created, updated, or rejected (invalid STIX objects left out).",
    labelNames: ["change"],
  });

/** What a poll needs besides the feed. */
export interface FeedPollerDeps {
  secrets: SecretBox;
  allowPrivate: boolean;
  requireHttps: boolean;
  log: Logger;
  limits?: TaxiiLimits;
  /** Fetches one page (tests may count calls); default `fetchTaxiiPage`. */
  fetchPage?: (call: TaxiiPageRequest) => Promise<TaxiiPage>;
}

/** The audit's actor for what a poll stores. */
const systemIdentity = (tenantId: string): Identity => ({ tenantId, subject: "system", roles: [] });

/** Polls one feed (the `intel_feed_poll` job). */
export async function pollFeed(
  ds: DataSource,
  deps: FeedPollerDeps,
  job: { tenantId: string; feedId: string },
): Promise<void> {
  const { tenantId, feedId } = job;
  const limits = deps.limits ?? TAXII_LIMITS;
  const claim = await inTenant(ds, tenantId, async (m) => {
    const [row] = await m.query(
      `SELECT f.*, s.sealed, s.key_id FROM threat_intel_feeds f
         LEFT JOIN threat_intel_feed_secrets s ON s.feed_id = f.id
        WHERE f.tenant_id = $1 AND f.id = $2 FOR UPDATE OF f`,
      [tenantId, feedId],
    );
    if (!row || !row.enabled) return null;
    await m.query(
      `UPDATE threat_intel_feeds SET last_poll_at = now(), last_object_count = 0, last_indicator_count = 0,
              last_rejected_count = 0
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, feedId],
    );
    let credentials: TaxiiCredentials | string = { kind: "NONE" };
    if (row.auth_kind !== "NONE") {
      const opened = row.sealed
        ? deps.secrets.open({ sealed: row.sealed, keyId: row.key_id }, feedSecretBinding(tenantId, feedId))
        : ({ problem: "UNREADABLE" } as const);
      if ("problem" in opened)
        credentials =
          opened.problem === "KEY_MISSING"
            ? `the feed's password or key is encrypted with key "${row.key_id}", which is no longer in PLAYBOOK_SECRET_KEYS: an admin must set the feed's auth again`
            : `the feed's password or key does not decrypt with key "${row.key_id}": an admin must set the feed's auth again`;
      else
        credentials =
          row.auth_kind === "BASIC"
            ? { kind: "BASIC", username: row.auth_username, password: opened.secret }
            : { kind: "API_KEY", header: row.auth_header, key: opened.secret };
    }
    return {
      name: row.name as string,
      apiRoot: row.api_root as string,
      collectionId: row.collection_id as string,
      configVersion: Number(row.config_version),
      cursor: (row.added_after as string | null) ?? null,
      nextPollAt: (row.next_poll_at as Date | null)?.getTime() ?? null,
      credentials,
    };
  });
  if (!claim) return;

  let error: string | null = typeof claim.credentials === "string" ? claim.credentials : null;
  let cursor = claim.cursor;
  let more = false;
  let stale = false;
  if (typeof claim.credentials !== "string") {
    const credentials = claim.credentials;
    // `added_after` stays the poll's starting cursor while `next` pages through its answer (TAXII 2.1 §3.4).
    const startCursor = cursor;
    let next: string | null = null;
    for (let page = 0; page < limits.maxPages; page++) {
      let answer: TaxiiPage;
      try {
        answer = await (deps.fetchPage ?? fetchTaxiiPage)({
          apiRoot: claim.apiRoot,
          collectionId: claim.collectionId,
          credentials,
          addedAfter: startCursor,
          next,
          limits,
          allowPrivate: deps.allowPrivate,
          requireHttps: deps.requireHttps,
        });
      } catch (err) {
        if (!(err instanceof TaxiiError)) throw err;
        error = err.message;
        break;
      }
      const pageCursor = laterTimestamp(cursor, answer.dateAddedLast ?? fallbackCursor(answer.objects));
      const stored = await storePage(ds, tenantId, feedId, claim, answer.objects, pageCursor);
      if (stored === "stale") {
        stale = true;
        break;
      }
      cursor = pageCursor;
      more = answer.more;
      next = answer.next;
      if (!more) break;
    }
  }

  await inTenant(ds, tenantId, async (m) => {
    const [row] = await m.query(
      `SELECT enabled, poll_interval, config_version, next_poll_at FROM threat_intel_feeds
        WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [tenantId, feedId],
    );
    if (!row) return;
    if (!stale)
      await m.query(
        `UPDATE threat_intel_feeds SET last_error = $3, last_success_at = CASE WHEN $3::text IS NULL THEN now() ELSE last_success_at END
          WHERE tenant_id = $1 AND id = $2`,
        [tenantId, feedId, error],
      );
    // An update or a "poll now" since the claim queued the next poll itself: it stands.
    const rescheduled = ((row.next_poll_at as Date | null)?.getTime() ?? null) !== claim.nextPollAt;
    if (row.enabled && !rescheduled && !stale) {
      const delay = more && !error ? CATCH_UP_DELAY_MS : intervalMs(row.poll_interval);
      await scheduleFeedPoll(m, tenantId, feedId, new Date(Date.now() + delay));
    }
  });
  if (!stale) polls.inc({ outcome: error ? "failed" : "ok" });
  deps.log[error ? "warn" : "info"]({ tenantId, feedId, error, more, stale }, "threat-intel feed polled");
}

/** Stores one page and moves the cursor, in one transaction; "stale" when the feed changed or went away. */
async function storePage(
  ds: DataSource,
  tenantId: string,
  feedId: string,
  claim: { name: string; configVersion: number },
  objects: unknown[],
  cursor: string | null,
): Promise<"stored" | "stale"> {
  const parsed = parseStixBundle({ type: "bundle", id: `bundle--${newId()}`, objects });
  // Objects with a fault are left out; bundle-level faults cannot occur (the bundle is ours).
  const rejected = new Set(parsed.problems.map((p) => /^objects\[\d+\]/.exec(p.path)?.[0] ?? p.path)).size;
  return inTenant(ds, tenantId, async (m) => {
    const [row] = await m.query(
      `SELECT name, config_version FROM threat_intel_feeds WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
      [tenantId, feedId],
    );
    if (!row || Number(row.config_version) !== claim.configVersion) return "stale";
    const result = await storeIndicators(m, systemIdentity(tenantId), parsed, { feedId, name: row.name });
    const changed = result.createdCount + result.updatedCount;
    await m.query(
      `UPDATE threat_intel_feeds SET added_after = $3,
              last_object_count = last_object_count + $4, last_indicator_count = last_indicator_count + $5,
              last_rejected_count = last_rejected_count + $6,
              total_object_count = total_object_count + $4, total_indicator_count = total_indicator_count + $5
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, feedId, cursor, objects.length, changed, rejected],
    );
    // Counted once the page's transaction is about to commit (a failed commit fails the job, which retries).
    if (result.createdCount) imported.inc({ change: "created" }, result.createdCount);
    if (result.updatedCount) imported.inc({ change: "updated" }, result.updatedCount);
    if (rejected) imported.inc({ change: "rejected" }, rejected);
    return "stored";
  });
}
