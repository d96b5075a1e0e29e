import {
  Connection,
  ENTITY_TYPE_DESCRIPTION,
  ENTITY_TYPES,
  JSONObjectScalar,
  type EntityType,
} from "../../../../common/src";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { ResourceRef, SecurityAlertRef } from "../../references";

/** The analytics that raise detections (the values are the detector's kind names). */
export enum DetectionKindEnum {
  ENCODED_POWERSHELL = "encoded-powershell",
  CREDENTIAL_DUMPING = "credential-dumping",
  BRUTE_FORCE = "brute-force",
  APP_CONTROL_VIOLATION = "app-control-violation",
  CRITICAL_FILE_CHANGE = "critical-file-change",
  JIT_PORT_ACCESS = "jit-port-access",
}

/** Severity of a detection. */
export enum DetectionSeverity {
  LOW = "LOW",
  MEDIUM = "MEDIUM",
  HIGH = "HIGH",
}

registerEnumType(DetectionKindEnum, {
  name: "DetectionKind",
  description:
    "The analytic that raised a detection: ENCODED_POWERSHELL, CREDENTIAL_DUMPING (Mimikatz, LSASS dumps, registry hives), BRUTE_FORCE (SSH/RDP), APP_CONTROL_VIOLATION, CRITICAL_FILE_CHANGE or JIT_PORT_ACCESS (traffic to a JIT-locked port).",
});
registerEnumType(DetectionSeverity, {
  name: "DetectionSeverity",
  description: "HIGH, MEDIUM or LOW (the severity of the SIEM alert it becomes).",
});

/** Entity kinds as a GraphQL enum (the SIEM's `EntityType`: a detection's entities become its alert's). */
export const EntityTypeEnum = Object.fromEntries(ENTITY_TYPES.map((t) => [t, t])) as {
  [K in EntityType]: K;
};
registerEnumType(EntityTypeEnum, { name: "EntityType", description: ENTITY_TYPE_DESCRIPTION });

/** An entity a detection is about. */
@ObjectType({ description: "An entity a detection involves (the SIEM alert's entities)." })
export class DetectionEntity {
  @Field(() => EntityTypeEnum, {
    description:
      "Kind: ACCOUNT, HOST, IP, FILE_HASH, PROCESS, URL or DOMAIN (a detection names its machine as HOST).",
  })
  type: EntityType;

  @Field({
    description: "Value: an account name, host name, IP address, hash, executable path, URL or domain.",
  })
  value: string;
}

/** A detection raised from telemetry. */
@ObjectType({
  description:
    "A security alert raised from a machine's telemetry by workload protection, with MITRE ATT&CK mapping, evidence and remediation; delivered to the SIEM as a WORKLOAD_PROTECTION alert.",
})
export class WorkloadDetection {
  @Field(() => ID, { description: "Id of the detection." })
  id: string;

  @Field(() => DetectionKindEnum, { description: "The analytic that raised it." })
  kind: DetectionKindEnum;

  @Field({
    description:
      "Stable id built from the records (same records, same id): raised once per tenant, and the SIEM alert's `sourceId`.",
  })
  sourceId: string;

  @Field({ description: "Short title naming the machine." })
  title: string;

  @Field({ description: "What happened and why it matters." })
  description: string;

  @Field(() => DetectionSeverity, { description: "Severity." })
  severity: DetectionSeverity;

  @Field(() => [String], { description: "MITRE ATT&CK tactics, e.g. CredentialAccess." })
  tactics: string[];

  @Field(() => [String], { description: "MITRE ATT&CK technique ids, e.g. T1003.001." })
  techniques: string[];

  @Field(() => [DetectionEntity], {
    description: "Host, accounts, addresses, processes, hashes, URLs involved.",
  })
  entities: DetectionEntity[];

  @Field(() => [String], { description: "Remediation steps, in order." })
  remediation: string[];

  @Field(() => ID, { description: "Rampart's id of the machine, as its agent reported it." })
  resourceId: string;

  @Field(() => ResourceRef, { nullable: true, description: "The machine, when the inventory knows it." })
  resource: ResourceRef | null;

  @Field({ description: "Time of the first record of the activity." })
  startTime: Date;

  @Field({ description: "Time of the last record of the activity." })
  endTime: Date;

  @Field(() => JSONObjectScalar, {
    description:
      "The relevant record fields (process and command line, file path and hashes, addresses, counts, record ids), bounded.",
  })
  evidence: Record<string, unknown>;

  @Field({ description: "When workload protection raised it." })
  raisedAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: "When the SIEM accepted it as an alert; null while it waits in the relay's queue.",
  })
  deliveredAt: Date | null;

  @Field(() => String, {
    nullable: true,
    description: "Why the SIEM refused it for good (it is not retried), if it did.",
  })
  deliveryError: string | null;

  @Field(() => SecurityAlertRef, { nullable: true, description: "The SIEM alert, once delivered." })
  alert: SecurityAlertRef | null;
}

/** A page of detections. */
export const WorkloadDetectionConnection = Connection(WorkloadDetection);
export type WorkloadDetectionConnection = InstanceType<typeof WorkloadDetectionConnection>;

/** Which detections to list. */
@InputType({ description: "Conditions on detections; all given ones must hold." })
export class DetectionFilter {
  @Field(() => [DetectionKindEnum], { nullable: true, description: "Any of these kinds." })
  kinds?: DetectionKindEnum[] | null;

  @Field(() => [DetectionSeverity], { nullable: true, description: "Any of these severities." })
  severities?: DetectionSeverity[] | null;

  @Field(() => ID, { nullable: true, description: "Only this machine's." })
  resourceId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "true: only those the SIEM accepted; false: only those still queued (or refused).",
  })
  delivered?: boolean | null;
}
