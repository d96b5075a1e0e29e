/*
 * Playbook runs: queued in the transaction that decides on them (an automation rule's or a manual run's), then
 * attempted by the durable job `playbook_run`, one attempt per job, each retry a new job due after an
 * exponential backoff. The body is rendered once, when the run is queued, so every attempt sends the same body
 * with the same `Idempotency-Key` (the run's id): a receiver that got an attempt whose answer was lost sees
 * the retry as a repeat.
 *
 * An attempt is three steps: claim it (count it, mark the run RUNNING) and commit; call the webhook outside any
 * transaction (a slow receiver holds no connection or lock); record the result and, if it is worth retrying and
 * attempts remain, queue the next attempt — in one transaction. A worker that dies mid-attempt leaves the job
 * to graphile-worker, which runs it again: the run makes one more attempt with the same key, never loses one.
 */
import type { DataSource, EntityManager } from "typeorm";
import { addJob, inTenant, newId, type Logger } from "../../../../common/src";
import { parseIsoDuration } from "../rules/durations";
import { renderBody, type TemplateContext } from "./body-template";
import { PlaybookRunStatus } from "./playbook.types";
import { type OpenedSecret, type SecretBox, secretBinding } from "./secret-box";
import { sendWebhook, type WebhookCall, type WebhookResult } from "./webhook";

/** The job that makes one attempt of a run. */
export const PLAYBOOK_RUN_TASK = "playbook_run";
/** Longest wait between attempts, whatever the backoff or a `Retry-After` asks. */
export const MAX_RETRY_DELAY_MS = 3600_000;
/** Bounds of a playbook's first retry delay and of an attempt's time limit. */
export const RETRY_INTERVAL_BOUNDS = { min: 1000, max: 3600_000 } as const;
export const TIMEOUT_BOUNDS = { min: 1000, max: 60_000 } as const;
/** Defaults of a new playbook. */
export const PLAYBOOK_DEFAULTS = { maxAttempts: 5, retryInterval: "PT10S", timeout: "PT10S" } as const;

const TERMINAL = new Set<string>([PlaybookRunStatus.SUCCEEDED, PlaybookRunStatus.FAILED]);

/** A duration of a playbook in milliseconds (validated when the playbook was saved). */
export function durationMs(text: string, fallback: number): number {
  const parsed = parseIsoDuration(text);
  return "ms" in parsed ? parsed.ms : fallback;
}

/** The delay before attempt `attempt + 1`: the interval doubled per attempt made, at most an hour. */
export function retryDelayMs(intervalMs: number, attemptsMade: number, retryAfter?: number): number {
  const backoff = intervalMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.min(MAX_RETRY_DELAY_MS, Math.max(backoff, retryAfter ?? 0));
}

/** The job key of a run's pending attempt (one at a time). */
const jobKey = (runId: string) => `playbook-run:${runId}`;

/** What a playbook run is for. */
export interface RunSubject {
  incidentId: string | null;
  alertId: string | null;
}

/**
 * The values a body template is filled with: the incident (for an alert, the incident holding it, if any: the
 * oldest one not merged away, which is the one correlation placed it in unless an analyst put it in another
 * since) with the tactics and techniques of its alerts, and the alert. Read in the caller's transaction.
 */
export async function templateContext(
  m: EntityManager,
  tenantId: string,
  subject: RunSubject,
): Promise<TemplateContext> {
  const context: TemplateContext = { "tenant.id": tenantId };
  let incidentId = subject.incidentId;
  if (subject.alertId) {
    const [alert] = await m.query(
      `SELECT a.*, (SELECT ia.incident_id FROM incident_alerts ia JOIN incidents i ON i.id = ia.incident_id
                     WHERE ia.tenant_id = $1 AND ia.alert_id = a.id AND i.merged_into IS NULL
                     ORDER BY i.number LIMIT 1) AS incident_id
         FROM alerts a WHERE a.tenant_id = $1 AND a.id = $2`,
      [tenantId, subject.alertId],
    );
    if (alert) {
      Object.assign(context, {
        "alert.id": alert.id,
        "alert.title": alert.title,
        "alert.description": alert.description,
        "alert.severity": alert.severity,
        "alert.status": alert.status,
        "alert.provider": alert.provider,
        "alert.sourceId": alert.source_id,
        "alert.tactics": alert.tactics,
        "alert.techniques": alert.techniques,
        "alert.entities": alert.entities,
        "alert.resourceId": alert.resource_id,
        "alert.startTime": alert.start_time,
        "alert.endTime": alert.end_time,
      });
      incidentId ??= alert.incident_id ?? null;
    }
  }
  if (incidentId) {
    const [incident] = await m.query(
      `SELECT i.*,
              ARRAY(SELECT DISTINCT t FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id, unnest(a.tactics) t
                     WHERE ia.tenant_id = $1 AND ia.incident_id = i.id ORDER BY t) AS tactics,
              ARRAY(SELECT DISTINCT t FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id, unnest(a.techniques) t
                     WHERE ia.tenant_id = $1 AND ia.incident_id = i.id ORDER BY t) AS techniques
         FROM incidents i WHERE i.tenant_id = $1 AND i.id = $2`,
      [tenantId, incidentId],
    );
    if (incident)
      Object.assign(context, {
        "incident.id": incident.id,
        "incident.number": incident.number,
        "incident.title": incident.title,
        "incident.description": incident.description,
        "incident.severity": incident.severity,
        "incident.status": incident.status,
        "incident.owner": incident.owner,
        "incident.labels": incident.labels,
        "incident.classification": incident.classification,
        "incident.classificationReason": incident.classification_reason,
        "incident.tactics": incident.tactics,
        "incident.techniques": incident.techniques,
        "incident.alertCount": incident.alert_count,
        "incident.createdAt": incident.created_at,
        "incident.updatedAt": incident.updated_at,
        "incident.firstActivity": incident.first_activity,
        "incident.lastActivity": incident.last_activity,
      });
  }
  return context;
}

/**
 * Adds a playbook run's entry to the incident's activity log, in the caller's transaction: `playbook_run` when
 * the run is queued (by the person or automation rule that ran it), `playbook_run_ended` when it succeeds or
 * fails for good (by `system`). Running a playbook changes nothing on the incident itself, so the entry moves
 * no etag (an analyst's edit in flight is not refused) and sends no outbox event (no INCIDENT_UPDATED rule
 * fires on it). Nothing is written when the incident is gone.
 */
export async function recordRunActivity(
  m: EntityManager,
  tenantId: string,
  incidentId: string,
  actor: string,
  action: "playbook_run" | "playbook_run_ended",
  changes: Record<string, unknown>,
): Promise<void> {
  await m.query(
    `INSERT INTO incident_activity (tenant_id, incident_id, actor, action, changes)
     SELECT $1, id, $3, $4, $5 FROM incidents WHERE tenant_id = $1 AND id = $2`,
    [tenantId, incidentId, actor, action, JSON.stringify(changes)],
  );
}

/** Who queues a run. */
export interface RunOrigin {
  triggeredBy: string;
  automationRule?: { id: string; name: string };
}

/**
 * Queues a run of an enabled playbook (a `playbooks` row) in the caller's transaction: renders the body, stores
 * the run (QUEUED) and adds its first attempt's job. Returns the run's row.
 *
 * A run for an alert (ALERT_CREATED automation) is also the run of the incident holding the alert, the one its
 * body's `incident.*` placeholders describe: it is stored with that incident's id, so it is in the incident's
 * activity log (`playbook_run`, then `playbook_run_ended`) and its `playbookRuns`, as a run for the incident is.
 * The alert is there when the rule runs: ingestion writes `alert.created` in the transaction that correlates the
 * alert into an incident, and the automation consumer reads only committed outbox rows. An alert that joins
 * another incident later (a new incident made from it, a merge) takes no entries along: the log says what
 * happened to that incident and when, and the alert's `playbookRuns` lists its runs wherever it is.
 */
export async function queuePlaybookRun(
  m: EntityManager,
  tenantId: string,
  playbook: Record<string, unknown>,
  subject: RunSubject,
  origin: RunOrigin,
): Promise<Record<string, unknown>> {
  const id = newId();
  const described = await templateContext(m, tenantId, subject);
  const incidentId = subject.incidentId ?? ((described["incident.id"] as string | undefined) || null);
  const context: TemplateContext = {
    ...described,
    "playbook.id": playbook.id,
    "playbook.name": playbook.name,
    "run.id": id,
    "run.triggeredBy": origin.triggeredBy,
    "automationRule.id": origin.automationRule?.id ?? null,
    "automationRule.name": origin.automationRule?.name ?? null,
  };
  const [row] = await m.query(
    `INSERT INTO playbook_runs (tenant_id, id, playbook_id, incident_id, alert_id, automation_rule_id, triggered_by, status, body, max_attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'QUEUED', $8, $9) RETURNING *`,
    [
      tenantId,
      id,
      playbook.id,
      incidentId,
      subject.alertId,
      origin.automationRule?.id ?? null,
      origin.triggeredBy,
      renderBody(playbook.body_template, context),
      playbook.max_attempts,
    ],
  );
  await addJob(
    m,
    "siem",
    PLAYBOOK_RUN_TASK,
    { tenantId, runId: id },
    { jobKey: jobKey(id), maxAttempts: 10 },
  );
  if (incidentId)
    await recordRunActivity(m, tenantId, incidentId, origin.triggeredBy, "playbook_run", {
      playbookId: playbook.id,
      playbook: playbook.name,
      runId: id,
      status: PlaybookRunStatus.QUEUED,
    });
  return row;
}

/** The `playbook_run_ended` entry of a run that succeeded or failed for good, on its incident (if any). */
async function recordRunEnd(
  m: EntityManager,
  tenantId: string,
  run: { id: string; incidentId: string | null; playbookId: string; playbookName: string },
  outcome: { status: PlaybookRunStatus; attempts: number; error: string | null },
): Promise<void> {
  if (!run.incidentId) return;
  await recordRunActivity(m, tenantId, run.incidentId, "system", "playbook_run_ended", {
    playbookId: run.playbookId,
    playbook: run.playbookName,
    runId: run.id,
    ...outcome,
  });
}

/** What an attempt needs besides the run. */
export interface PlaybookRunnerDeps {
  secrets: SecretBox;
  allowPrivate: boolean;
  requireHttps: boolean;
  log: Logger;
  /** Sends one call (tests may count calls); default `sendWebhook`. */
  send?: (call: WebhookCall) => Promise<WebhookResult>;
}

/** Makes the next attempt of a run (the `playbook_run` job). */
export async function attemptPlaybookRun(
  ds: DataSource,
  deps: PlaybookRunnerDeps,
  job: { tenantId: string; runId: string },
): Promise<void> {
  const { tenantId, runId } = job;
  const claim = await inTenant(ds, tenantId, async (m) => {
    const [row] = await m.query(
      `SELECT r.id, r.status, r.attempts, r.max_attempts, r.body, r.incident_id, p.id AS playbook_id, p.name,
              p.url, p.enabled, p.timeout, s.sealed, s.key_id
         FROM playbook_runs r JOIN playbooks p ON p.id = r.playbook_id
         LEFT JOIN playbook_secrets s ON s.playbook_id = p.id
        WHERE r.tenant_id = $1 AND r.id = $2 FOR UPDATE OF r`,
      [tenantId, runId],
    );
    if (!row || TERMINAL.has(row.status)) return null;
    const refuse = async (error: string) => {
      await m.query(
        `UPDATE playbook_runs SET status = 'FAILED', last_error = $3, updated_at = now(), completed_at = now(), next_attempt_at = NULL
          WHERE tenant_id = $1 AND id = $2`,
        [tenantId, runId, error],
      );
      await recordRunEnd(
        m,
        tenantId,
        { id: runId, incidentId: row.incident_id, playbookId: row.playbook_id, playbookName: row.name },
        { status: PlaybookRunStatus.FAILED, attempts: Number(row.attempts), error },
      );
      return null;
    };
    if (!row.enabled) return refuse("the playbook is disabled");
    if (row.attempts >= row.max_attempts) return refuse(`gave up after ${row.attempts} attempts`);
    const opened: OpenedSecret = row.sealed
      ? deps.secrets.open({ sealed: row.sealed, keyId: row.key_id }, secretBinding(tenantId, row.playbook_id))
      : { problem: "UNREADABLE" };
    if ("problem" in opened)
      return refuse(
        opened.problem === "KEY_MISSING"
          ? `the signing secret is encrypted with key "${row.key_id}", which is no longer in PLAYBOOK_SECRET_KEYS: an admin must set the playbook's secret again`
          : `the signing secret does not decrypt with key "${row.key_id}" (the key's material changed, or the stored secret was altered): an admin must set the playbook's secret again`,
      );
    const secret = opened.secret;
    await m.query(
      `UPDATE playbook_runs SET status = 'RUNNING', attempts = attempts + 1, updated_at = now(), next_attempt_at = NULL
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, runId],
    );
    return {
      attempt: Number(row.attempts) + 1,
      maxAttempts: Number(row.max_attempts),
      body: row.body as string,
      url: row.url as string,
      playbookId: row.playbook_id as string,
      timeoutMs: durationMs(row.timeout, 10_000),
      secret,
    };
  });
  if (!claim) return;
  const startedAt = new Date();
  const result = await (deps.send ?? sendWebhook)({
    url: claim.url,
    body: claim.body,
    secret: claim.secret,
    idempotencyKey: runId,
    attempt: claim.attempt,
    playbookId: claim.playbookId,
    timeoutMs: claim.timeoutMs,
    allowPrivate: deps.allowPrivate,
    requireHttps: deps.requireHttps,
  });
  const finishedAt = new Date();
  await inTenant(ds, tenantId, async (m) => {
    const [row] = await m.query(
      `SELECT r.status, r.attempts, r.incident_id, p.name, p.retry_interval
         FROM playbook_runs r JOIN playbooks p ON p.id = r.playbook_id
        WHERE r.tenant_id = $1 AND r.id = $2 FOR UPDATE OF r`,
      [tenantId, runId],
    );
    if (!row) return;
    const status = result.status;
    const error = result.outcome === "DELIVERED" ? null : result.error;
    const entry = {
      number: claim.attempt,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      responseCode: status,
      error,
    };
    let next: Date | null = null;
    let state: PlaybookRunStatus;
    if (result.outcome === "DELIVERED") state = PlaybookRunStatus.SUCCEEDED;
    else if (result.outcome === "RETRY" && claim.attempt < claim.maxAttempts) {
      state = PlaybookRunStatus.RETRYING;
      const delay = retryDelayMs(durationMs(row.retry_interval, 10_000), claim.attempt, result.retryAfterMs);
      next = new Date(finishedAt.getTime() + delay);
      await addJob(
        m,
        "siem",
        PLAYBOOK_RUN_TASK,
        { tenantId, runId },
        { runAt: next, jobKey: jobKey(runId), maxAttempts: 10 },
      );
    } else state = PlaybookRunStatus.FAILED;
    await m.query(
      `UPDATE playbook_runs SET status = $3, last_response_code = $4, last_error = $5, next_attempt_at = $6,
              attempt_log = attempt_log || $7::jsonb, updated_at = now(),
              completed_at = CASE WHEN $3 IN ('SUCCEEDED', 'FAILED') THEN now() END
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, runId, state, status, error, next, JSON.stringify([entry])],
    );
    if (TERMINAL.has(state))
      await recordRunEnd(
        m,
        tenantId,
        { id: runId, incidentId: row.incident_id, playbookId: claim.playbookId, playbookName: row.name },
        { status: state, attempts: claim.attempt, error },
      );
    deps.log[state === PlaybookRunStatus.FAILED ? "warn" : "info"](
      { tenantId, runId, attempt: claim.attempt, status, error, state },
      "playbook webhook attempt",
    );
  });
}
