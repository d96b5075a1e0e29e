/*
 * The relay of reports to posture: `posture.assessment` outbox rows name a (machine, definition key)
 * whose report changed; the relay reads the report's current row from `posture_reports` and sends it to
 * posture's `upsertAssessments` (one call per tenant per batch, signed as `service:protection` with the
 * INGESTOR role in that tenant). Sending the current row rather than the event's copy makes order and
 * repeats harmless: whatever is delivered last is the newest state, and posture's upsert is idempotent on
 * (resourceId, definitionKey). Records posture refuses (for example a machine its inventory does not
 * know yet) are recorded on the row (`delivery_error`) and skipped; the next change of that report sends
 * it again. Protection never touches posture's schema.
 */
import type { EntityManager } from "typeorm";
import {
  callRelayDestination,
  InternalTokens,
  Role,
  startOutboxRelay,
  subgraphDatabaseUrl,
  type BackgroundWork,
  type Config,
  type Logger,
  type OutboxRecord,
  type RelayDelivery,
} from "../../../../common/src";
import { RELAY_SUBJECT } from "../detections/relay";
import {
  POSTURE_ASSESSMENT_TOPIC,
  REPORT_DEFINITIONS,
  type PostureAssessmentPayload,
  type ReportDefinition,
  type ReportStatus,
} from "./definitions";

/** The relay's offset in `relay_offsets`. */
export const POSTURE_REPORTS_CONSUMER = "posture-assessments";
/** Most assessments per `upsertAssessments` call (posture takes up to 10,000). */
const ASSESSMENTS_PER_CALL = 1000;
/** Room kept in a call's body for the query and the JSON around the assessments. */
const BODY_OVERHEAD = 4096;

const UPSERT_ASSESSMENTS = `mutation RelayAssessments($input: [ExternalAssessmentInput!]!) {
  upsertAssessments(input: $input) { acceptedCount changedCount rejected { index field message } }
}`;

/** posture's `ExternalAssessmentInput`. */
export interface ExternalAssessmentInput {
  resourceId: string;
  definitionKey: string;
  title: string;
  description: string;
  severity: ReportDefinition["severity"];
  controlId: string;
  remediation: string[];
  status: ReportStatus;
  cause: string | null;
}

/** A report row to deliver. */
interface ReportRow {
  tenant_id: string;
  resource_id: string;
  definition_key: string;
  status: ReportStatus;
  cause: string | null;
  version: number;
}

const DEFINITIONS_BY_KEY = new Map(Object.values(REPORT_DEFINITIONS).map((d) => [d.key, d]));

/** The assessment posture receives for a report row. */
export function assessmentOf(row: ReportRow): ExternalAssessmentInput {
  const d = DEFINITIONS_BY_KEY.get(row.definition_key)!;
  return {
    resourceId: row.resource_id,
    definitionKey: d.key,
    title: d.title,
    description: d.description,
    severity: d.severity,
    controlId: d.controlId,
    remediation: d.remediation,
    status: row.status,
    cause: row.cause,
  };
}

interface PostureDeliveryOptions {
  /** posture's GraphQL URL, read at each call (tests start posture on a port chosen at run time). */
  postureUrl: () => string;
  /** posture's request body limit (`MAX_BODY_BYTES`, the same for every service): calls stay below it. */
  maxBodyBytes: number;
  tokens: InternalTokens;
  log: Logger;
  /** Per call (default 30 s). */
  timeoutMs?: number;
}

/** Why posture refused each assessment of a call (null: accepted); throws when the call should be retried. */
async function postAssessments(
  options: PostureDeliveryOptions,
  tenantId: string,
  inputs: ExternalAssessmentInput[],
  signal: AbortSignal,
): Promise<Array<string | null>> {
  const answer = await callRelayDestination<{
    rejected: Array<{ index: number | null; field: string; message: string }>;
  }>({
    destination: "posture",
    url: options.postureUrl(),
    tokens: options.tokens,
    tenantId,
    subject: RELAY_SUBJECT,
    roles: [Role.INGESTOR],
    query: UPSERT_ASSESSMENTS,
    field: "upsertAssessments",
    variables: { input: inputs },
    signal,
    timeoutMs: options.timeoutMs,
  });
  const result = answer.data;
  if (!result) return inputs.map(() => answer.refused);
  const whole = result.rejected.filter((r) => r.index === null);
  return inputs.map((_, i) => {
    const why = [...whole, ...result.rejected.filter((r) => r.index === i)];
    return why.length ? why.map((r) => `${r.field}: ${r.message}`).join("; ") : null;
  });
}

/** Splits a tenant's assessments into calls of at most 1,000 and `budget` bytes. */
function* splitCalls(
  inputs: ReadonlyArray<{ row: ReportRow; input: ExternalAssessmentInput }>,
  budget: number,
): Generator<Array<{ row: ReportRow; input: ExternalAssessmentInput }>> {
  let chunk: Array<{ row: ReportRow; input: ExternalAssessmentInput }> = [];
  let bytes = 0;
  for (const item of inputs) {
    const size = Buffer.byteLength(JSON.stringify(item.input)) + 1;
    if (chunk.length && (chunk.length >= ASSESSMENTS_PER_CALL || bytes + size > budget)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length) yield chunk;
}

/** Loads the current rows of the reports a batch names (system scope: every tenant of the batch). */
async function currentRows(m: EntityManager, records: readonly OutboxRecord[]): Promise<ReportRow[]> {
  const seen = new Map<string, { tenantId: string; resourceId: string; key: string }>();
  for (const r of records) {
    const p = r.payload as unknown as PostureAssessmentPayload;
    seen.set(`${r.tenantId}|${p.resourceId}|${p.definitionKey}`, {
      tenantId: r.tenantId,
      resourceId: p.resourceId,
      key: p.definitionKey,
    });
  }
  const wanted = [...seen.values()];
  return (await m.query(
    `SELECT p.tenant_id, p.resource_id, p.definition_key, p.status, p.cause, p.version::int AS version
     FROM posture_reports p
     JOIN unnest($1::text[], $2::uuid[], $3::text[]) AS w(tenant_id, resource_id, definition_key)
       USING (tenant_id, resource_id, definition_key)
     ORDER BY p.tenant_id, p.resource_id, p.definition_key`,
    [wanted.map((w) => w.tenantId), wanted.map((w) => w.resourceId), wanted.map((w) => w.key)],
  )) as ReportRow[];
}

/**
 * Delivers `posture.assessment` rows: the named reports' current rows, one `upsertAssessments` call per
 * tenant (and per 1,000 or the body limit). Any failure to get an answer throws (the relay retries the
 * whole batch; posture's upsert is idempotent); refusals are recorded on the report and skipped.
 */
export function postureAssessmentDelivery(options: PostureDeliveryOptions): RelayDelivery {
  return async (records, m, signal) => {
    const rows = (await currentRows(m, records)).filter((r) => DEFINITIONS_BY_KEY.has(r.definition_key));
    const byTenant = new Map<string, ReportRow[]>();
    for (const row of rows) {
      const list = byTenant.get(row.tenant_id);
      if (list) list.push(row);
      else byTenant.set(row.tenant_id, [row]);
    }
    // Every call first, then one UPDATE: the round takes a transaction id only at its very end, so it never
    // holds back other outbox readers (they read only rows older than every running transaction).
    const outcomes: Array<{ row: ReportRow; error: string | null }> = [];
    for (const [tenantId, list] of byTenant) {
      const items = list.map((row) => ({ row, input: assessmentOf(row) }));
      for (const chunk of splitCalls(items, options.maxBodyBytes - BODY_OVERHEAD)) {
        const verdicts = await postAssessments(
          options,
          tenantId,
          chunk.map((c) => c.input),
          signal,
        );
        chunk.forEach((c, i) => outcomes.push({ row: c.row, error: verdicts[i] }));
      }
    }
    if (outcomes.length)
      await m.query(
        `UPDATE posture_reports p SET delivered_version = v.version, delivered_at = now(), delivery_error = v.error
         FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[], $5::text[]) AS v(tenant_id, resource_id, definition_key, version, error)
         WHERE p.tenant_id = v.tenant_id AND p.resource_id = v.resource_id AND p.definition_key = v.definition_key
           AND p.version = v.version`,
        [
          outcomes.map((o) => o.row.tenant_id),
          outcomes.map((o) => o.row.resource_id),
          outcomes.map((o) => o.row.definition_key),
          outcomes.map((o) => o.row.version),
          outcomes.map((o) => o.error),
        ],
      );
    let delivered = 0;
    let rejected = 0;
    for (const { row, error } of outcomes) {
      if (error === null) delivered++;
      else {
        rejected++;
        options.log.warn(
          {
            tenantId: row.tenant_id,
            resourceId: row.resource_id,
            definitionKey: row.definition_key,
            reason: error,
          },
          "posture refused a report; it is sent again when the report changes",
        );
      }
    }
    return { delivered, rejected };
  };
}

/**
 * Starts the posture report relay of a protection process: its own small DataSource and outbox listener,
 * and the relay loop. Stopped when the subgraph closes.
 */
export function startPostureReportRelay(config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: "posture-report-relay" });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "protection"),
    subgraph: "protection",
    consumer: POSTURE_REPORTS_CONSUMER,
    topics: [POSTURE_ASSESSMENT_TOPIC],
    deliver: postureAssessmentDelivery({
      postureUrl: () => config.subgraphUrls.posture,
      maxBodyBytes: config.maxBodyBytes,
      tokens: new InternalTokens(config.internalTokenSecret),
      log: relayLog,
    }),
    log: relayLog,
  });
}

/** Starts several pieces of background work in order; stops them in reverse (and the started ones if one fails). */
export async function startBackgroundWork(
  starters: ReadonlyArray<() => Promise<BackgroundWork> | BackgroundWork>,
): Promise<BackgroundWork> {
  const started: BackgroundWork[] = [];
  const stopAll = async () => {
    for (const work of started.splice(0).reverse()) await work.stop();
  };
  try {
    for (const start of starters) started.push(await start());
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { stop: stopAll };
}
