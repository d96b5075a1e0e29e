import type { EntityManager } from "typeorm";
import {
  BadUserInputError,
  byIdLoader,
  childConnectionLoader,
  childPageSql,
  ConflictError,
  groupChildRows,
  hasAnyRole,
  isUuid,
  newId,
  NotFoundError,
  Role,
  textProblem,
  toKeysetPage,
  writeAudit,
  type Identity,
  type InputProblem,
  type PageArgs,
  type RequestDb,
} from "../../../../common/src";
import { runHistoryPage } from "./run-history";
import { parseIsoDuration } from "../rules/durations";
import { DEFAULT_BODY_TEMPLATE, templateProblems } from "./body-template";
import {
  PLAYBOOK_DEFAULTS,
  queuePlaybookRun,
  RETRY_INTERVAL_BOUNDS,
  TIMEOUT_BOUNDS,
} from "./playbook-runner";
import {
  PlaybookConnection,
  playbookFromRow,
  PlaybookRunConnection,
  playbookRunFromRow,
  type CreatePlaybookInput,
  type Playbook,
  type PlaybookRun,
  type PlaybookRunFilter,
  type RunPlaybookInput,
  type UpdatePlaybookInput,
} from "./playbook.types";
import { type SecretBox, secretBinding } from "./secret-box";
import { webhookUrlProblem } from "./webhook";

/** What the playbook service needs from the configuration. */
export interface PlaybookSettings {
  secrets: SecretBox;
  /** Production: webhook URLs must be https. */
  requireHttps: boolean;
  /** PLAYBOOK_ALLOW_PRIVATE_TARGETS: a URL may name a non-public address. */
  allowPrivateTargets: boolean;
}

/** A playbook's definition as validated and stored. */
interface PlaybookDefinition {
  name: string;
  description: string;
  url: string;
  bodyTemplate: unknown;
  enabled: boolean;
  maxAttempts: number;
  retryInterval: string;
  timeout: string;
}

const SELECT_PLAYBOOK = `SELECT p.*, s.set_at AS secret_set_at, s.key_id AS secret_key_id FROM playbooks p JOIN playbook_secrets s ON s.playbook_id = p.id`;

/** Playbooks (ADMIN manages; READER lists them and their runs; RESPONDER runs them by hand). */
export class PlaybooksService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
    private readonly settings: PlaybookSettings,
  ) {}

  /** Webhook URLs may carry credentials: only admins see them. */
  private get showUrl(): boolean {
    return hasAnyRole(this.identity, [Role.ADMIN]);
  }

  private fromRow(row: Record<string, unknown>): Playbook {
    return playbookFromRow(row, this.showUrl, (keyId) => this.settings.secrets.standingOf(keyId));
  }

  /** The tenant's playbooks by name. */
  async list(args: PageArgs): Promise<PlaybookConnection> {
    const page = toKeysetPage(args, "text");
    const params: unknown[] = [this.identity.tenantId, page.first + 1];
    let after = "";
    if (page.after) {
      params.push(page.after[0], page.after[1]);
      after = `AND (p.name COLLATE "C", p.id) > ($3::text COLLATE "C", $4::uuid)`;
    }
    const rows: Array<Record<string, unknown>> = await this.db.read((m) =>
      m.query(
        `${SELECT_PLAYBOOK} WHERE p.tenant_id = $1 ${after} ORDER BY p.name COLLATE "C", p.id LIMIT $2`,
        params,
      ),
    );
    return PlaybookConnection.from({
      rows: rows.map((r) => this.fromRow(r)),
      page,
      total: async () =>
        Number(
          (
            await this.db.read((m) =>
              m.query(`SELECT count(*) AS n FROM playbooks WHERE tenant_id = $1`, [this.identity.tenantId]),
            )
          )[0].n,
        ),
      cursorOf: (p) => [p.name, p.id],
    });
  }

  /** Playbooks by id, one statement per batch (null when the tenant has no such playbook). */
  readonly byId = byIdLoader<Playbook>(async (ids) =>
    (
      await this.db.read((m) =>
        m.query(`${SELECT_PLAYBOOK} WHERE p.tenant_id = $1 AND p.id = ANY($2::uuid[])`, [
          this.identity.tenantId,
          ids.filter(isUuid),
        ]),
      )
    ).map((row: Record<string, unknown>) => this.fromRow(row)),
  );

  /** Creates a playbook with its (sealed) signing secret. */
  async create(input: CreatePlaybookInput): Promise<Playbook> {
    const problems: InputProblem[] = [];
    const definition = this.check(
      {
        name: input.name,
        description: input.description ?? "",
        url: input.url,
        bodyTemplate: input.bodyTemplate ?? DEFAULT_BODY_TEMPLATE,
        enabled: input.enabled ?? true,
        maxAttempts: input.maxAttempts ?? PLAYBOOK_DEFAULTS.maxAttempts,
        retryInterval: input.retryInterval ?? PLAYBOOK_DEFAULTS.retryInterval,
        timeout: input.timeout ?? PLAYBOOK_DEFAULTS.timeout,
      },
      problems,
    );
    secretProblems(input.secret, problems);
    if (problems.length) throw new BadUserInputError("Invalid playbook; nothing was changed.", problems);
    return this.db.write(async (m) => {
      await this.checkNameFree(m, definition.name, null);
      const id = newId();
      await m.query(
        `INSERT INTO playbooks (tenant_id, id, name, description, url, body_template, enabled, max_attempts, retry_interval, timeout, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
        [this.identity.tenantId, id, ...columns(definition), this.identity.subject],
      );
      await this.storeSecret(m, id, input.secret);
      await writeAudit(m, this.identity, [
        { action: "playbooks.create", target: `playbook:${id}`, details: { name: definition.name } },
      ]);
      return this.fetch(m, id);
    });
  }

  /** Changes a playbook (the fields given; a new secret replaces the old one). */
  async update(input: UpdatePlaybookInput): Promise<Playbook> {
    if (!isUuid(input.id))
      throw new BadUserInputError("Invalid playbook id.", [{ field: "id", message: "must be a UUID" }]);
    return this.db.write(async (m) => {
      const [row] = await m.query(`SELECT * FROM playbooks WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [
        this.identity.tenantId,
        input.id,
      ]);
      if (!row) throw new NotFoundError("Playbook", input.id);
      const problems: InputProblem[] = [];
      const definition = this.check(
        {
          name: input.name ?? row.name,
          description: input.description ?? row.description,
          url: input.url ?? row.url,
          bodyTemplate: input.bodyTemplate ?? row.body_template,
          enabled: input.enabled ?? row.enabled,
          maxAttempts: input.maxAttempts ?? row.max_attempts,
          retryInterval: input.retryInterval ?? row.retry_interval,
          timeout: input.timeout ?? row.timeout,
        },
        problems,
      );
      if (input.secret != null) secretProblems(input.secret, problems);
      if (problems.length) throw new BadUserInputError("Invalid playbook; nothing was changed.", problems);
      await this.checkNameFree(m, definition.name, input.id);
      await m.query(
        `UPDATE playbooks SET name = $3, description = $4, url = $5, body_template = $6, enabled = $7, max_attempts = $8,
                retry_interval = $9, timeout = $10, updated_by = $11, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [this.identity.tenantId, input.id, ...columns(definition), this.identity.subject],
      );
      if (input.secret != null) await this.storeSecret(m, input.id, input.secret);
      // The audit names what changed, never the secret itself.
      const fields = Object.keys(input).filter(
        (k) =>
          k !== "id" &&
          input[k as keyof UpdatePlaybookInput] !== undefined &&
          input[k as keyof UpdatePlaybookInput] !== null,
      );
      await writeAudit(m, this.identity, [
        { action: "playbooks.update", target: `playbook:${input.id}`, details: { fields } },
      ]);
      return this.fetch(m, input.id);
    });
  }

  /** Deletes a playbook and its runs; CONFLICT while an automation rule runs it. */
  async delete(id: string): Promise<Playbook> {
    if (!isUuid(id))
      throw new BadUserInputError("Invalid playbook id.", [{ field: "id", message: "must be a UUID" }]);
    return this.db.write(async (m) => {
      const [row] = await m.query(`${SELECT_PLAYBOOK} WHERE p.tenant_id = $1 AND p.id = $2 FOR UPDATE OF p`, [
        this.identity.tenantId,
        id,
      ]);
      if (!row) throw new NotFoundError("Playbook", id);
      const users: Array<{ name: string }> = await m.query(
        `SELECT name FROM automation_rules WHERE tenant_id = $1 AND actions @> $2::jsonb ORDER BY name`,
        [this.identity.tenantId, JSON.stringify([{ playbookId: row.id }])],
      );
      if (users.length)
        throw new ConflictError(
          `Playbook "${row.name}" is run by automation rules ${users.map((u) => `"${u.name}"`).join(", ")}: remove it from them first.`,
        );
      await m.query(`DELETE FROM playbooks WHERE tenant_id = $1 AND id = $2`, [this.identity.tenantId, id]);
      await writeAudit(m, this.identity, [
        { action: "playbooks.delete", target: `playbook:${id}`, details: { name: row.name } },
      ]);
      return this.fromRow(row);
    });
  }

  /** Runs a playbook for an incident now (queued; the run's attempts follow as jobs). */
  async run(input: RunPlaybookInput): Promise<PlaybookRun> {
    const problems: InputProblem[] = [];
    if (!isUuid(input.playbookId)) problems.push({ field: "playbookId", message: "must be a UUID" });
    if (!isUuid(input.incidentId)) problems.push({ field: "incidentId", message: "must be a UUID" });
    if (problems.length) throw new BadUserInputError("Invalid playbook run.", problems);
    return this.db.write(async (m) => {
      const [playbook] = await m.query(`SELECT * FROM playbooks WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        input.playbookId,
      ]);
      if (!playbook) throw new NotFoundError("Playbook", input.playbookId);
      const [incident] = await m.query(`SELECT id FROM incidents WHERE tenant_id = $1 AND id = $2`, [
        this.identity.tenantId,
        input.incidentId,
      ]);
      if (!incident) throw new NotFoundError("Incident", input.incidentId);
      if (!playbook.enabled) throw new ConflictError(`Playbook "${playbook.name}" is disabled.`);
      const run = await queuePlaybookRun(
        m,
        this.identity.tenantId,
        playbook,
        { incidentId: incident.id, alertId: null },
        { triggeredBy: this.identity.subject },
      );
      await writeAudit(m, this.identity, [
        {
          action: "playbooks.run",
          target: `incident:${incident.id}`,
          details: { playbookId: playbook.id, runId: run.id },
        },
      ]);
      return playbookRunFromRow(run);
    });
  }

  /** Playbook runs, newest first. */
  runs(filter: PlaybookRunFilter | undefined, args: PageArgs): Promise<PlaybookRunConnection> {
    const ids = [
      ["playbookId", "playbook_id", filter?.playbookId],
      ["incidentId", "incident_id", filter?.incidentId],
    ] as const;
    return runHistoryPage(
      this.db,
      this.identity.tenantId,
      "playbook_runs",
      { ids, statuses: filter?.statuses },
      args,
      playbookRunFromRow,
      PlaybookRunConnection,
    );
  }

  /** Runs for many alerts (ALERT_CREATED automation), paged per alert in one statement. */
  readonly byAlert = childConnectionLoader<PlaybookRun>(async (alertIds, page) => {
    const { sql, params } = childPageSql(
      `SELECT r.*, r.alert_id AS parent_id FROM playbook_runs r WHERE r.tenant_id = $1 AND r.alert_id = ANY($2::uuid[])`,
      [this.identity.tenantId, alertIds.filter(isUuid)],
      page,
    );
    return groupChildRows(await this.db.read((m) => m.query(sql, params)), playbookRunFromRow);
  });

  /** A page of an alert's playbook runs, newest first. */
  async forAlert(alertId: string, args: PageArgs): Promise<PlaybookRunConnection> {
    const page = toKeysetPage(args, "time");
    const { rows, total } = await this.byAlert.load({ parentId: alertId, page });
    return PlaybookRunConnection.from({
      rows,
      page,
      total,
      cursorOf: (r) => [r.createdAt.toISOString(), r.id],
    });
  }

  /** Checks a complete definition, adding its faults to `problems`; returns it as stored. */
  private check(d: PlaybookDefinition, problems: InputProblem[]): PlaybookDefinition {
    const name = d.name?.trim() ?? "";
    if (!name || name.length > 256) problems.push({ field: "name", message: "must be 1 to 256 characters" });
    if ((d.description ?? "").length > 4000)
      problems.push({ field: "description", message: "at most 4,000 characters" });
    for (const [field, text] of [
      ["name", d.name ?? ""],
      ["description", d.description ?? ""],
    ] as const) {
      const problem = textProblem(text);
      if (problem) problems.push({ field, message: problem });
    }
    const urlProblem = webhookUrlProblem(d.url, {
      requireHttps: this.settings.requireHttps,
      allowPrivate: this.settings.allowPrivateTargets,
    });
    if (urlProblem) problems.push({ field: "url", message: urlProblem });
    problems.push(...templateProblems(d.bodyTemplate));
    if (!Number.isInteger(d.maxAttempts) || d.maxAttempts < 1 || d.maxAttempts > 10)
      problems.push({ field: "maxAttempts", message: "must be an integer from 1 to 10" });
    for (const [field, text, bounds, range] of [
      ["retryInterval", d.retryInterval, RETRY_INTERVAL_BOUNDS, "PT1S to PT1H"],
      ["timeout", d.timeout, TIMEOUT_BOUNDS, "PT1S to PT1M"],
    ] as const) {
      const parsed = parseIsoDuration(text);
      if ("error" in parsed) problems.push({ field, message: parsed.error });
      else if (parsed.ms < bounds.min || parsed.ms > bounds.max)
        problems.push({ field, message: `must be ${range}` });
    }
    return { ...d, name, description: d.description ?? "" };
  }

  private async checkNameFree(m: EntityManager, name: string, except: string | null): Promise<void> {
    // Two creates (or renames) to one name at once would both find it free and the second would fail on the
    // unique key as an internal error: the name's lock makes the second wait and then see the first's row.
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `siem.playbooks.name|${this.identity.tenantId}|${name}`,
    ]);
    const [taken] = await m.query(
      `SELECT id FROM playbooks WHERE tenant_id = $1 AND name = $2 AND ($3::uuid IS NULL OR id <> $3::uuid)`,
      [this.identity.tenantId, name, except],
    );
    if (taken)
      throw new BadUserInputError("Invalid playbook; nothing was changed.", [
        { field: "name", message: "another playbook has this name" },
      ]);
  }

  private async storeSecret(m: EntityManager, playbookId: string, secret: string): Promise<void> {
    const sealed = this.settings.secrets.seal(secret, secretBinding(this.identity.tenantId, playbookId));
    await m.query(
      `INSERT INTO playbook_secrets (tenant_id, playbook_id, sealed, key_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (playbook_id) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id, set_at = now()`,
      [this.identity.tenantId, playbookId, sealed.sealed, sealed.keyId],
    );
  }

  private async fetch(m: EntityManager, id: string): Promise<Playbook> {
    const [row] = await m.query(`${SELECT_PLAYBOOK} WHERE p.tenant_id = $1 AND p.id = $2`, [
      this.identity.tenantId,
      id,
    ]);
    return this.fromRow(row);
  }
}

/** Faults of a signing secret. */
function secretProblems(secret: string, problems: InputProblem[]): void {
  if (typeof secret !== "string" || secret.length < 16 || secret.length > 512)
    problems.push({ field: "secret", message: "must be 16 to 512 characters" });
  else {
    const problem = textProblem(secret);
    if (problem) problems.push({ field: "secret", message: problem });
  }
}

/** The stored columns of a definition, from `name` to `timeout`. */
function columns(d: PlaybookDefinition): unknown[] {
  return [
    d.name,
    d.description,
    d.url,
    JSON.stringify(d.bodyTemplate),
    d.enabled,
    d.maxAttempts,
    d.retryInterval,
    d.timeout,
  ];
}
