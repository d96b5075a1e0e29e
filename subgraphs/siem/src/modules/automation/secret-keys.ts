/*
 * Which keys the stored secrets of the playbook key ring (playbook signing secrets, TAXII feed credentials) are
 * sealed under, as this SIEM's key ring sees them. A secret under a
 * key the ring lacks cannot be opened: its playbook's webhooks fail. That happens when a key leaves the ring
 * (or INTERNAL_TOKEN_SECRET_PREVIOUS is removed) before every secret moved off it - for instance when, during a
 * rolling restart, a replica still on the outgoing key sealed a secret after the re-encryption job had run.
 * Rather than fail at webhook time, a SIEM that finds such secrets logs it (once per change, naming the keys
 * and counts) and answers `/ready` 503 with the reason, until the key is back in its ring or the operator names
 * it in PLAYBOOK_SECRET_KEYS_LOST (given up: its secrets stay KEY_MISSING until an admin sets them again). The
 * counts by key are on `/metrics` too (`rampart_playbook_secrets`), so the previous key's use can be watched
 * drop to 0 before it is removed.
 */
import { Gauge, register } from "prom-client";
import type { DataSource } from "typeorm";
import { inSystemScope, type BackgroundWork, type Logger } from "../../../../common/src";
import type { SecretBox, SecretKeyStanding } from "./secret-box";

/** How often a SIEM reads the counts again for `/ready` (a key may be stranded after it started). */
export const SECRET_KEYS_CHECK_MS = 30_000;
/** How long one reading serves scrapes and checks. */
const READING_CACHE_MS = 5_000;

/** Stored playbook secrets under one key, and where that key stands in this SIEM's ring. */
export interface SecretKeyCount {
  keyId: string;
  standing: SecretKeyStanding | "LOST";
  secrets: number;
}

/** The stored secrets by key, across tenants (system scope), with each key's standing in `box`. */
export async function countSecretsByKey(
  ds: DataSource,
  box: SecretBox,
  lostKeyIds: readonly string[],
): Promise<SecretKeyCount[]> {
  const rows: Array<{ key_id: string; n: number }> = await inSystemScope(ds, (m) =>
    m.query(
      `SELECT key_id, count(*)::int AS n
         FROM (SELECT key_id FROM playbook_secrets UNION ALL SELECT key_id FROM threat_intel_feed_secrets) s
        GROUP BY key_id ORDER BY key_id`,
    ),
  );
  return rows.map((r) => {
    const standing = box.standingOf(r.key_id);
    return {
      keyId: r.key_id,
      standing: standing === "KEY_MISSING" && lostKeyIds.includes(r.key_id) ? "LOST" : standing,
      secrets: r.n,
    };
  });
}

/** Watches the stored secrets' keys of one SIEM: for `/ready`, its error log and the gauge. */
export class SecretKeyWatch {
  private last?: { at: number; reading: Promise<SecretKeyCount[] | null> };
  /** Keys a stored secret needs that this SIEM lacks (not given up), as last read. */
  private stranded: SecretKeyCount[] = [];
  private reported = "";
  private warned = false;

  constructor(
    private readonly ds: DataSource,
    private readonly box: SecretBox,
    private readonly lostKeyIds: readonly string[],
    private readonly log: Logger,
  ) {}

  /** The counts by key (null when they could not be read), at most one query per READING_CACHE_MS. */
  read(): Promise<SecretKeyCount[] | null> {
    const now = Date.now();
    if (!this.last || now - this.last.at >= READING_CACHE_MS) this.last = { at: now, reading: this.query() };
    return this.last.reading;
  }

  /** Why this SIEM is not ready (stored secrets it cannot open), or null. */
  notReady(): string | null {
    if (this.stranded.length === 0) return null;
    const total = this.stranded.reduce((n, k) => n + k.secrets, 0);
    const keys = this.stranded.map((k) => `${k.secrets} under "${k.keyId}"`).join(", ");
    return `${total} stored secret(s) (playbook signing secrets, TAXII feed credentials) are sealed under a key this SIEM does not have (${keys}): their webhooks cannot be signed and their feeds cannot be polled. Put the key back (PLAYBOOK_SECRET_KEYS, or the old INTERNAL_TOKEN_SECRET as INTERNAL_TOKEN_SECRET_PREVIOUS) and let playbook_secrets_rekey move them, or give it up in PLAYBOOK_SECRET_KEYS_LOST.`;
  }

  /** Reads the counts again every SECRET_KEYS_CHECK_MS, and serves them on `/metrics`, until stopped. */
  start(): BackgroundWork {
    watches.add(this);
    const timer = setInterval(() => void this.read(), SECRET_KEYS_CHECK_MS);
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        watches.delete(this);
      },
    };
  }

  private async query(): Promise<SecretKeyCount[] | null> {
    let counts: SecretKeyCount[];
    try {
      counts = await countSecretsByKey(this.ds, this.box, this.lostKeyIds);
    } catch (err) {
      // The last word stands: a database hiccup neither strands nor frees a key.
      if (!this.warned) this.log.warn({ err }, "playbook secret keys: the stored secrets could not be read");
      this.warned = true;
      return null;
    }
    this.warned = false;
    this.stranded = counts.filter((k) => k.standing === "KEY_MISSING");
    const report = JSON.stringify(this.stranded);
    if (report !== this.reported) {
      if (this.stranded.length)
        this.log.error(
          {
            secrets: this.stranded.reduce((n, k) => n + k.secrets, 0),
            missingKeys: Object.fromEntries(this.stranded.map((k) => [k.keyId, k.secrets])),
            currentKeyId: this.box.currentKeyId,
          },
          "stored secrets are sealed under a key this SIEM does not have: their webhooks and feed polls fail, and /ready answers 503 until the key is back or named in PLAYBOOK_SECRET_KEYS_LOST",
        );
      else if (this.reported !== "")
        this.log.info("playbook secrets: every stored secret opens with this SIEM's keys again");
      this.reported = this.stranded.length ? report : "";
    }
    return counts;
  }
}

/** The gauge's `standing` label of each standing. */
const STANDING_LABEL: Record<SecretKeyCount["standing"], string> = {
  CURRENT: "current",
  PREVIOUS_KEY: "previous",
  KEY_MISSING: "missing",
  LOST: "lost",
};

/** The watches of the SIEMs this process runs: one in production; in the in-process tests, one at a time. */
const watches = new Set<SecretKeyWatch>();

if (!register.getSingleMetric("rampart_playbook_secrets"))
  new Gauge({
    name: "rampart_playbook_secrets",
    help: "Stored playbook secrets by the key that seals them (key_id) and where that key stands in this SIEM's ring: standing=current, previous (opens; the re-encryption job moves them), missing (cannot be opened: /ready is 503) or lost (given up in PLAYBOOK_SECRET_KEYS_LOST).",
    labelNames: ["key_id", "standing"],
    async collect() {
      const readings = await Promise.all([...watches].map((w) => w.read()));
      this.reset();
      for (const counts of readings)
        for (const k of counts ?? [])
          this.set({ key_id: k.keyId, standing: STANDING_LABEL[k.standing] }, k.secrets);
    },
  });
