import type { TaskList } from "graphile-worker";
import type { DataSource } from "typeorm";
import {
  addJob,
  inSystemScope,
  OUTBOX_RETENTION_DAYS,
  type Config,
  type Logger,
} from "../../../../common/src";
import { handleAutomationEvent, type AutomationEvent } from "./automation-engine";
import { AUTOMATION_EVENT_TASK } from "./automation.relay";
import { attemptPlaybookRun, PLAYBOOK_RUN_TASK, type PlaybookRunnerDeps } from "./playbook-runner";
import { feedSecretBinding } from "../intel/feeds.service";
import { SecretBox, secretBinding } from "./secret-box";

/** The job that seals every playbook secret under an older key of the ring again, with the current key. */
export const PLAYBOOK_SECRETS_REKEY_TASK = "playbook_secrets_rekey";

/**
 * Daily clean-up of automation's bookkeeping, and a re-encryption pass every 5 minutes (a start-up queues one
 * too, so a rotation takes effect when the replicas restart with the new ring). Every 5 minutes because a
 * replica still on the outgoing key during a rolling restart may seal a secret under it after the new replicas'
 * pass: the next pass after the roll moves it, well before the old key is removed. A pass with nothing to move
 * costs one indexed query. One job key with the start-up's, so passes do not pile up.
 */
export const AUTOMATION_CRONTAB = [
  "30 3 * * * automation_prune",
  `*/5 * * * * ${PLAYBOOK_SECRETS_REKEY_TASK} ?jobKey=${PLAYBOOK_SECRETS_REKEY_TASK}`,
].join("\n");

/** Secrets re-encrypted per transaction. */
const REKEY_BATCH = 100;

/** How long automation rule runs and playbook runs are kept. */
export const AUTOMATION_HISTORY_DAYS = 90;

/** What a playbook attempt needs from the service's configuration. */
export function playbookRunnerDeps(config: Config, log: Logger): PlaybookRunnerDeps {
  return {
    secrets: SecretBox.fromConfig(config),
    allowPrivate: config.playbookAllowPrivateTargets,
    requireHttps: config.env === "production",
    log: log.child({ component: "playbooks" }),
  };
}

/** What a re-encryption pass did. */
export interface RekeyResult {
  /** Secrets now sealed with the current key. */
  rekeyed: number;
  /** Secrets under an older key of the ring that did not decrypt (left as they are). */
  unreadable: number;
  /** Secrets under keys no longer in the ring (their playbooks fail until an admin sets them again). */
  keyMissing: number;
}

/** A table of sealed secrets the key ring encrypts: playbook signing secrets, TAXII feed passwords and keys. */
interface SealedTable {
  table: string;
  /** The primary key: the owner's id. */
  idColumn: string;
  /** What a secret of the table is bound to. */
  binding: (tenantId: string, ownerId: string) => string;
}

/** Every table the key ring's rotation must move to the current key. */
const SEALED_TABLES: readonly SealedTable[] = [
  { table: "playbook_secrets", idColumn: "playbook_id", binding: secretBinding },
  { table: "threat_intel_feed_secrets", idColumn: "feed_id", binding: feedSecretBinding },
];

/**
 * Seals every secret held under an older key of the ring again with the current key — playbook signing secrets
 * and TAXII feed credentials — across tenants, `REKEY_BATCH` per transaction (rows an admin is changing right now
 * are skipped: that change seals them with the current key anyway). Once it reports nothing left under an older
 * key, that key can leave the ring.
 */
export async function rekeyPlaybookSecrets(
  ds: DataSource,
  box: SecretBox,
  log: Logger,
): Promise<RekeyResult> {
  const result: RekeyResult = { rekeyed: 0, unreadable: 0, keyMissing: 0 };
  for (const { table, idColumn, binding: bindingOf } of SEALED_TABLES) {
    let after = "00000000-0000-0000-0000-000000000000";
    while (box.previousKeyIds.length > 0) {
      const rows: Array<{ tenant_id: string; owner_id: string; sealed: string; key_id: string }> =
        await inSystemScope(ds, async (m) => {
          const batch: Array<{ tenant_id: string; owner_id: string; sealed: string; key_id: string }> =
            await m.query(
              `SELECT tenant_id, ${idColumn} AS owner_id, sealed, key_id FROM ${table}
                WHERE key_id = ANY($1::text[]) AND ${idColumn} > $2
                ORDER BY ${idColumn} LIMIT $3 FOR UPDATE SKIP LOCKED`,
              [box.previousKeyIds, after, REKEY_BATCH],
            );
          for (const row of batch) {
            const binding = bindingOf(row.tenant_id, row.owner_id);
            const opened = box.open({ sealed: row.sealed, keyId: row.key_id }, binding);
            if ("problem" in opened) {
              result.unreadable++;
              log.error(
                { tenantId: row.tenant_id, table, ownerId: row.owner_id, keyId: row.key_id },
                "secret does not decrypt with its key; an admin must set it again",
              );
              continue;
            }
            const sealed = box.seal(opened.secret, binding);
            // `set_at` stays: the secret is the same, only the key that encrypts it changed.
            await m.query(
              `UPDATE ${table} SET sealed = $3, key_id = $4 WHERE tenant_id = $1 AND ${idColumn} = $2`,
              [row.tenant_id, row.owner_id, sealed.sealed, sealed.keyId],
            );
            result.rekeyed++;
          }
          return batch;
        });
      if (rows.length < REKEY_BATCH) break;
      after = rows[rows.length - 1].owner_id;
    }
    const [missing] = await inSystemScope(ds, (m) =>
      m.query(`SELECT count(*)::int AS n FROM ${table} WHERE key_id <> ALL($1::text[])`, [
        [box.currentKeyId, ...box.previousKeyIds],
      ]),
    );
    result.keyMissing += missing.n;
  }
  // A pass that found nothing to do (most of them, every 5 minutes) says so at debug level only.
  log[result.keyMissing || result.unreadable ? "warn" : result.rekeyed ? "info" : "debug"](
    { ...result, currentKeyId: box.currentKeyId },
    "playbook secrets re-encrypted with the current key",
  );
  return result;
}

/**
 * Queues a re-encryption pass when a secret is sealed under an older key of `box`'s ring (one pending at a time,
 * whichever replica starts it); answers whether it did. Nothing is queued while every secret is under the
 * current key, so a start without a rotation leaves no job behind.
 */
export async function queuePlaybookSecretsRekey(ds: DataSource, box: SecretBox): Promise<boolean> {
  if (box.previousKeyIds.length === 0) return false;
  return inSystemScope(ds, async (m) => {
    const [{ stale }] = (await m.query(
      `SELECT EXISTS (SELECT 1 FROM playbook_secrets WHERE key_id = ANY($1::text[]))
           OR EXISTS (SELECT 1 FROM threat_intel_feed_secrets WHERE key_id = ANY($1::text[])) AS stale`,
      [box.previousKeyIds],
    )) as Array<{ stale: boolean }>;
    if (stale)
      await addJob(m, "siem", PLAYBOOK_SECRETS_REKEY_TASK, {}, { jobKey: PLAYBOOK_SECRETS_REKEY_TASK });
    return stale;
  });
}

/**
 * Automation's durable jobs: `automation_event` runs the rules of one outbox event (enqueued by the automation
 * relay), `playbook_run` makes one attempt of a playbook run, `automation_prune` forgets handled-event marks
 * once the outbox can no longer hand those events out again, and history past AUTOMATION_HISTORY_DAYS;
 * `playbook_secrets_rekey` moves playbook secrets from older keys of the ring to the current one.
 */
export function automationTasks(ds: DataSource, log: Logger, config: Config): TaskList {
  const deps = playbookRunnerDeps(config, log);
  const automationLog = log.child({ component: "automation" });
  return {
    [AUTOMATION_EVENT_TASK]: async (payload) => {
      await handleAutomationEvent(ds, automationLog, payload as AutomationEvent);
    },
    [PLAYBOOK_RUN_TASK]: async (payload) => {
      await attemptPlaybookRun(ds, deps, payload as { tenantId: string; runId: string });
    },
    [PLAYBOOK_SECRETS_REKEY_TASK]: async () => {
      await rekeyPlaybookSecrets(ds, deps.secrets, deps.log);
    },
    automation_prune: async () => {
      await inSystemScope(ds, async (m) => {
        // A mark is needed while its event's job may still run again: the outbox keeps an unread event (the
        // relay's offset holds it back), and graphile-worker retries a job for far less than this.
        await m.query(`DELETE FROM automation_events WHERE handled_at < now() - make_interval(days => $1)`, [
          OUTBOX_RETENTION_DAYS * 2,
        ]);
        await m.query(`DELETE FROM automation_runs WHERE created_at < now() - make_interval(days => $1)`, [
          AUTOMATION_HISTORY_DAYS,
        ]);
        await m.query(`DELETE FROM playbook_runs WHERE completed_at < now() - make_interval(days => $1)`, [
          AUTOMATION_HISTORY_DAYS,
        ]);
      });
    },
  };
}
