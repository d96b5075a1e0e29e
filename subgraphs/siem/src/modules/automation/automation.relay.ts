/*
 * The automation consumer: an outbox relay (`relay_offsets` row `automation`) that turns the SIEM's incident and
 * alert events into `automation_event` jobs, at least once and in outbox order. Each round enqueues its jobs and
 * moves the offset in one transaction, so an event is enqueued exactly when the offset passes it: none is lost
 * on a restart (the relay resumes at its offset; the outbox keeps what it has not read), none is enqueued
 * twice. Jobs of one tenant share a graphile-worker queue, so they run one at a time in event order.
 *
 * Only events that can start a rule become jobs: the tenant has an enabled rule of the event's trigger, and an
 * INCIDENT_UPDATED event was not made by automation (its payload names `automationRuleId`).
 */
import type { EntityManager } from "typeorm";
import {
  addJob,
  startOutboxRelay,
  subgraphDatabaseUrl,
  type BackgroundWork,
  type Config,
  type Logger,
  type OutboxRecord,
  type RelayDelivery,
} from "../../../../common/src";
import { AutomationTrigger } from "./automation.types";
import { triggerOf, type AutomationEvent } from "./automation-engine";

/** The consumer's offset in `relay_offsets`. */
export const AUTOMATION_CONSUMER = "automation";
/** The job that runs the rules of one event. */
export const AUTOMATION_EVENT_TASK = "automation_event";
/** The outbox topics automation reads. */
export const AUTOMATION_TOPICS = [
  "incident.created",
  "incident.updated",
  "incident.alert_added",
  "incident.comment_added",
  "incident.closed",
  "incident.reopened",
  "incident.merged",
  "alert.created",
  "alert.updated",
] as const;

/** The job payload of an outbox record. */
export function automationEventOf(record: OutboxRecord): AutomationEvent {
  const payload = record.payload as { changedFields?: unknown; automationRuleId?: unknown };
  return {
    tenantId: record.tenantId,
    seq: record.position.seq,
    topic: record.topic,
    key: record.key,
    at: new Date(record.at).toISOString(),
    changedFields: Array.isArray(payload.changedFields) ? payload.changedFields.map(String) : [],
    ...(typeof payload.automationRuleId === "string" ? { automationRuleId: payload.automationRuleId } : {}),
  };
}

/** Enqueues the batch's events that can start a rule; runs in the relay's (system-scope) transaction. */
export const enqueueAutomationEvents: RelayDelivery = async (records, m: EntityManager) => {
  const events = records.map(automationEventOf);
  const oldest = events.reduce((min, e) => (e.at < min ? e.at : min), events[0].at);
  const active: Array<{ tenant_id: string; trigger: string }> = await m.query(
    `SELECT DISTINCT tenant_id, trigger FROM automation_rules
      WHERE tenant_id = ANY($1::text[]) AND enabled AND (expires_at IS NULL OR expires_at > $2)`,
    [[...new Set(events.map((e) => e.tenantId))], oldest],
  );
  const wanted = new Set(active.map((r) => `${r.tenant_id}\u0000${r.trigger}`));
  let delivered = 0;
  for (const event of events) {
    const trigger = triggerOf(event.topic);
    if (!trigger || !wanted.has(`${event.tenantId}\u0000${trigger}`)) continue;
    if (trigger === AutomationTrigger.INCIDENT_UPDATED && event.automationRuleId) continue;
    await addJob(
      m,
      "siem",
      AUTOMATION_EVENT_TASK,
      { ...event },
      {
        queueName: `automation:${event.tenantId}`,
        jobKey: `automation-event:${event.seq}`,
        maxAttempts: 10,
      },
    );
    delivered++;
  }
  return { delivered, rejected: 0 };
};

/** Starts the automation consumer of a SIEM process (its own small DataSource and outbox listener). */
export function startAutomationRelay(config: Config, log: Logger): Promise<BackgroundWork> {
  const relayLog = log.child({ component: "automation-relay" });
  return startOutboxRelay({
    url: subgraphDatabaseUrl(config, "siem"),
    subgraph: "siem",
    consumer: AUTOMATION_CONSUMER,
    topics: AUTOMATION_TOPICS,
    deliver: enqueueAutomationEvents,
    log: relayLog,
  });
}
