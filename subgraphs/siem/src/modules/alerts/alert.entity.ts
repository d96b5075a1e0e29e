import { Directive, Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";

/** Who raised an alert. */
export enum AlertProvider {
  ANALYTICS_RULE = "ANALYTICS_RULE",
  TI_MATCH = "TI_MATCH",
  WORKLOAD_PROTECTION = "WORKLOAD_PROTECTION",
  EXTERNAL = "EXTERNAL",
}

/** Severity of alerts and incidents (Sentinel's scale). */
export enum Severity {
  INFORMATIONAL = "INFORMATIONAL",
  LOW = "LOW",
  MEDIUM = "MEDIUM",
  HIGH = "HIGH",
}

/** Triage state of an alert. */
export enum AlertStatus {
  NEW = "NEW",
  ACTIVE = "ACTIVE",
  RESOLVED = "RESOLVED",
  DISMISSED = "DISMISSED",
}

registerEnumType(AlertProvider, { name: "AlertProvider", description: "Who raised an alert." });
registerEnumType(Severity, { name: "Severity", description: "Severity of an alert or incident." });
registerEnumType(AlertStatus, { name: "AlertStatus", description: "Triage state of an alert." });

/** A security alert from any provider. */
@Entity({ name: "alerts" })
@ObjectType({
  description:
    "A security alert from any provider: analytics rules, TI matches, workload protection or external tools.",
})
@Directive('@key(fields: "id")')
export class SecurityAlert {
  @PrimaryColumn("uuid")
  @Field(() => ID, { description: "Rampart's id of the alert." })
  id: string;

  @Column({ name: "tenant_id" })
  tenantId: string;

  @Column({ type: "text" })
  @Field(() => AlertProvider, { description: "Who raised the alert." })
  provider: AlertProvider;

  @Column({ name: "source_id" })
  @Field({ description: "The provider's id of the alert; with `provider` it de-duplicates repeats." })
  sourceId: string;

  @Column()
  @Field({ description: "Short title." })
  title: string;

  @Column({ type: "text" })
  @Field({ description: "What happened and why it matters." })
  description: string;

  @Column({ type: "text" })
  @Field(() => Severity, { description: "Severity." })
  severity: Severity;

  @Column({ type: "text" })
  @Field(() => AlertStatus, { description: "Triage state." })
  status: AlertStatus;

  @Column({ type: "text", array: true })
  @Field(() => [String], { description: "MITRE ATT&CK tactics, e.g. `InitialAccess`." })
  tactics: string[];

  @Column({ type: "text", array: true })
  @Field(() => [String], { description: "MITRE ATT&CK technique ids, e.g. `T1110`." })
  techniques: string[];

  @Column({ name: "resource_id", type: "uuid", nullable: true })
  @Field(() => ID, {
    nullable: true,
    description: "Rampart's id of the affected resource, when the provider gave it (see `resource`).",
  })
  resourceId: string | null;

  @Column({ name: "start_time", type: "timestamptz" })
  @Field({ description: "When the activity began." })
  startTime: Date;

  @Column({ name: "end_time", type: "timestamptz" })
  @Field({ description: "When the activity was last seen." })
  endTime: Date;

  @Column({ name: "created_at", type: "timestamptz", precision: 3 })
  @Field({ description: "When Rampart received the alert." })
  createdAt: Date;

  entities: Array<{ type: string; value: string }>;

  @Field(() => [String], { description: "Ids of the events that are its evidence." })
  evidenceEventIds: string[];

  @Field(() => [String], { description: "Remediation steps." })
  remediation: string[];

  ruleId: string | null;
}

/** Maps a raw `alerts` row (snake_case) to the entity. */
export function alertFromRow(row: Record<string, unknown>): SecurityAlert {
  return Object.assign(new SecurityAlert(), {
    id: row.id,
    tenantId: row.tenant_id,
    provider: row.provider,
    sourceId: row.source_id,
    title: row.title,
    description: row.description,
    severity: row.severity,
    status: row.status,
    tactics: row.tactics,
    techniques: row.techniques,
    resourceId: row.resource_id,
    startTime: row.start_time,
    endTime: row.end_time,
    createdAt: row.created_at,
    entities: row.entities ?? [],
    evidenceEventIds: row.evidence_event_ids ?? [],
    remediation: row.remediation ?? [],
    ruleId: row.rule_id ?? null,
  });
}
