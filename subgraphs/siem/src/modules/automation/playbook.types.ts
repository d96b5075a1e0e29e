import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection, JSONScalar } from "../../../../common/src";

/** Where a playbook run stands. */
export enum PlaybookRunStatus {
  QUEUED = "QUEUED",
  RUNNING = "RUNNING",
  RETRYING = "RETRYING",
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
}

/** Where the key that sealed a playbook's signing secret stands in the key ring. */
export enum PlaybookSecretStatus {
  CURRENT = "CURRENT",
  PREVIOUS_KEY = "PREVIOUS_KEY",
  KEY_MISSING = "KEY_MISSING",
}

registerEnumType(PlaybookSecretStatus, {
  name: "PlaybookSecretStatus",
  description:
    "Where the key that encrypts a playbook's signing secret stands: CURRENT (the key ring's first key), PREVIOUS_KEY (an older key of the ring; the re-encryption job moves it to the current key) or KEY_MISSING (a key no longer configured: the playbook's runs fail until an admin sets its secret again).",
});

registerEnumType(PlaybookRunStatus, {
  name: "PlaybookRunStatus",
  description:
    "QUEUED (waiting for a worker), RUNNING (an attempt in flight), RETRYING (an attempt failed; the next is at `nextAttemptAt`), SUCCEEDED (the receiver answered 2xx) or FAILED (for good: see `error`).",
});

/** A playbook: a webhook to call with a templated, signed JSON body. */
@ObjectType({
  description:
    "A playbook: a webhook called with a JSON body rendered from its template, signed with HMAC-SHA256 (header `X-Rampart-Signature`, see docs/api.md) and carrying an `Idempotency-Key` that stays the same across a run's retries.",
})
export class Playbook {
  @Field(() => ID, { description: "Id of the playbook." })
  id: string;

  @Field({ description: "Name, unique in the tenant." })
  name: string;

  @Field({ description: "What it is for." })
  description: string;

  @Field(() => String, {
    nullable: true,
    description: "The webhook URL; shown to ADMIN only (URLs often carry credentials), null for others.",
  })
  url: string | null;

  @Field(() => JSONScalar, {
    description: "The body template: JSON whose strings may hold `{{placeholders}}` (see docs/api.md).",
  })
  bodyTemplate: unknown;

  @Field({ description: "Whether it may run." })
  enabled: boolean;

  @Field(() => Int, { description: "Most attempts per run (1–10), retries included." })
  maxAttempts: number;

  @Field({
    description:
      "Delay before the first retry (ISO 8601); each further retry waits twice as long (at most 1 hour).",
  })
  retryInterval: string;

  @Field({ description: "How long one attempt may take (ISO 8601)." })
  timeout: string;

  @Field({ description: "When the signing secret was last set (the secret itself is never shown)." })
  secretSetAt: Date;

  @Field(() => PlaybookSecretStatus, {
    description:
      "Whether the signing secret can be read with the configured keys (KEY_MISSING: runs fail until the secret is set again).",
  })
  secretStatus: PlaybookSecretStatus;

  @Field({
    description:
      "The id of the key (PLAYBOOK_SECRET_KEYS) that encrypts the signing secret; never the key itself.",
  })
  secretKeyId: string;

  @Field({ description: "Who created it." })
  createdBy: string;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field({ description: "Who changed it last." })
  updatedBy: string;

  @Field({ description: "When it was changed last." })
  updatedAt: Date;
}

/** One attempt of a playbook run. */
@ObjectType({ description: "One attempt of a playbook run." })
export class PlaybookRunAttempt {
  @Field(() => Int, { description: "1 for the first attempt." })
  number: number;

  @Field({ description: "When it started." })
  startedAt: Date;

  @Field({ description: "When it ended." })
  finishedAt: Date;

  @Field(() => Int, { nullable: true, description: "The receiver's HTTP status; null when none came." })
  responseCode: number | null;

  @Field(() => String, { nullable: true, description: "Why it failed; null when it succeeded." })
  error: string | null;
}

/** One run of a playbook. */
@ObjectType({ description: "One run of a playbook: its attempts, their outcome and where it stands." })
export class PlaybookRun {
  @Field(() => ID, { description: "Id of the run; also the `Idempotency-Key` of every attempt." })
  id: string;

  @Field(() => ID, { description: "The playbook." })
  playbookId: string;

  @Field(() => ID, { nullable: true, description: "The incident it ran for." })
  incidentId: string | null;

  @Field(() => ID, {
    nullable: true,
    description: "The alert it ran for (ALERT_CREATED or ALERT_UPDATED automation).",
  })
  alertId: string | null;

  @Field(() => ID, { nullable: true, description: "The automation rule that ran it; null for a manual run." })
  automationRuleId: string | null;

  @Field({ description: 'Who ran it: a user, or `automation rule "name"`.' })
  triggeredBy: string;

  @Field(() => PlaybookRunStatus, { description: "Where it stands." })
  status: PlaybookRunStatus;

  @Field(() => Int, { description: "Attempts made so far." })
  attempts: number;

  @Field(() => Int, { description: "Most attempts it will make." })
  maxAttempts: number;

  @Field(() => Int, { nullable: true, description: "The HTTP status of the last answer." })
  lastResponseCode: number | null;

  @Field(() => String, { nullable: true, description: "Why the last attempt failed." })
  error: string | null;

  @Field({ description: "The `Idempotency-Key` header of its attempts (its id)." })
  idempotencyKey: string;

  @Field(() => [PlaybookRunAttempt], { description: "Its attempts, oldest first." })
  attemptHistory: PlaybookRunAttempt[];

  @Field({ description: "When it was queued." })
  createdAt: Date;

  @Field({ description: "When it last changed." })
  updatedAt: Date;

  @Field(() => Date, { nullable: true, description: "When the next attempt is due (RETRYING)." })
  nextAttemptAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When it succeeded or failed for good." })
  completedAt: Date | null;
}

/** A page of playbooks. */
export const PlaybookConnection = Connection(Playbook);
export type PlaybookConnection = InstanceType<typeof PlaybookConnection>;

/** A page of playbook runs. */
export const PlaybookRunConnection = Connection(PlaybookRun);
export type PlaybookRunConnection = InstanceType<typeof PlaybookRunConnection>;

/** A new playbook. */
@InputType({ description: "A new playbook (ADMIN)." })
export class CreatePlaybookInput {
  @Field({ description: "Name, unique in the tenant (1 to 256 characters)." })
  name: string;

  @Field(() => String, { nullable: true, description: "What it is for (up to 4,000 characters)." })
  description?: string | null;

  @Field({
    description: "The webhook URL: https (http is accepted outside production); no credentials in it.",
  })
  url: string;

  @Field(() => String, {
    description:
      "The signing secret (16 to 512 characters): receivers verify `X-Rampart-Signature` with it. Write-only: never returned.",
  })
  secret: string;

  @Field(() => JSONScalar, {
    nullable: true,
    description: "The body template (JSON, up to 32 KB); default: the incident and alert in brief.",
  })
  bodyTemplate?: unknown;

  @Field(() => Boolean, { nullable: true, description: "Whether it may run; default true." })
  enabled?: boolean | null;

  @Field(() => Int, { nullable: true, description: "Most attempts per run, 1 to 10; default 5." })
  maxAttempts?: number | null;

  @Field(() => String, {
    nullable: true,
    description: "Delay before the first retry, PT1S to PT1H; default PT10S.",
  })
  retryInterval?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Time limit of one attempt, PT1S to PT1M; default PT10S.",
  })
  timeout?: string | null;
}

/** Changes to a playbook: the fields given replace the playbook's. */
@InputType({ description: "Changes to a playbook (ADMIN): each field given replaces the playbook's." })
export class UpdatePlaybookInput {
  @Field(() => ID, { description: "The playbook." })
  id: string;

  @Field(() => String, { nullable: true, description: "New name." })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "New description." })
  description?: string | null;

  @Field(() => String, { nullable: true, description: "New webhook URL." })
  url?: string | null;

  @Field(() => String, { nullable: true, description: "New signing secret (write-only)." })
  secret?: string | null;

  @Field(() => JSONScalar, { nullable: true, description: "New body template." })
  bodyTemplate?: unknown;

  @Field(() => Boolean, { nullable: true, description: "Turns it on or off." })
  enabled?: boolean | null;

  @Field(() => Int, { nullable: true, description: "New most attempts per run." })
  maxAttempts?: number | null;

  @Field(() => String, { nullable: true, description: "New first retry delay." })
  retryInterval?: string | null;

  @Field(() => String, { nullable: true, description: "New time limit of one attempt." })
  timeout?: string | null;
}

/** A manual playbook run. */
@InputType({ description: "Runs a playbook for an incident now (RESPONDER)." })
export class RunPlaybookInput {
  @Field(() => ID, { description: "The playbook." })
  playbookId: string;

  @Field(() => ID, { description: "The incident." })
  incidentId: string;
}

/** Filters playbook runs. */
@InputType({ description: "Filters playbook runs; every given condition must hold." })
export class PlaybookRunFilter {
  @Field(() => ID, { nullable: true, description: "Runs of this playbook." })
  playbookId?: string | null;

  @Field(() => ID, { nullable: true, description: "Runs for this incident." })
  incidentId?: string | null;

  @Field(() => [PlaybookRunStatus], { nullable: true, description: "Runs in these states." })
  statuses?: PlaybookRunStatus[] | null;
}

/**
 * Maps a `playbooks` row (joined with its secret's `set_at` and `key_id`) to the GraphQL type; `url` only for
 * admins; `standingOf` says where the secret's key stands in the key ring.
 */
export function playbookFromRow(
  row: Record<string, unknown>,
  showUrl: boolean,
  standingOf: (keyId: string) => PlaybookSecretStatus | `${PlaybookSecretStatus}`,
): Playbook {
  return Object.assign(new Playbook(), {
    id: row.id,
    name: row.name,
    description: row.description,
    url: showUrl ? row.url : null,
    bodyTemplate: row.body_template,
    enabled: row.enabled,
    maxAttempts: row.max_attempts,
    retryInterval: row.retry_interval,
    timeout: row.timeout,
    secretSetAt: row.secret_set_at,
    secretStatus: standingOf(row.secret_key_id as string),
    secretKeyId: row.secret_key_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  });
}

/** Maps a `playbook_runs` row to the GraphQL type. */
export function playbookRunFromRow(row: Record<string, unknown>): PlaybookRun {
  const log = (row.attempt_log ?? []) as Array<{
    number: number;
    startedAt: string;
    finishedAt: string;
    responseCode: number | null;
    error: string | null;
  }>;
  return Object.assign(new PlaybookRun(), {
    id: row.id,
    playbookId: row.playbook_id,
    incidentId: row.incident_id ?? null,
    alertId: row.alert_id ?? null,
    automationRuleId: row.automation_rule_id ?? null,
    triggeredBy: row.triggered_by,
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    lastResponseCode: row.last_response_code ?? null,
    error: row.last_error ?? null,
    idempotencyKey: row.id,
    attemptHistory: log.map((a) =>
      Object.assign(new PlaybookRunAttempt(), {
        number: a.number,
        startedAt: new Date(a.startedAt),
        finishedAt: new Date(a.finishedAt),
        responseCode: a.responseCode ?? null,
        error: a.error ?? null,
      }),
    ),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    nextAttemptAt: row.next_attempt_at ?? null,
    completedAt: row.completed_at ?? null,
  });
}
