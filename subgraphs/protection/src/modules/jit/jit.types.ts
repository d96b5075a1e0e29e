import { Connection, JSONObjectScalar } from "../../../../common/src";
import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { JitProtocol } from "./jit.validation";

export { JitProtocol };

/** Where a request is in its life: PENDING → APPROVED → EXPIRED or REVOKED; PENDING → DENIED or EXPIRED. */
export enum JitRequestStatus {
  PENDING = "PENDING",
  APPROVED = "APPROVED",
  DENIED = "DENIED",
  REVOKED = "REVOKED",
  EXPIRED = "EXPIRED",
}

/** Whether a JIT-managed port currently admits anyone. */
export enum JitPortState {
  LOCKED = "LOCKED",
  OPEN = "OPEN",
  NOT_ENFORCED = "NOT_ENFORCED",
}

/** The audited steps of just-in-time access. */
export enum JitAuditAction {
  POLICY_SET = "POLICY_SET",
  POLICY_REMOVED = "POLICY_REMOVED",
  REQUEST_CREATED = "REQUEST_CREATED",
  REQUEST_APPROVED = "REQUEST_APPROVED",
  REQUEST_DENIED = "REQUEST_DENIED",
  REQUEST_REVOKED = "REQUEST_REVOKED",
  REQUEST_EXPIRED = "REQUEST_EXPIRED",
}

registerEnumType(JitProtocol, {
  name: "JitProtocol",
  description: "Transport protocol a JIT port is opened for: TCP, UDP or ANY.",
});
registerEnumType(JitRequestStatus, {
  name: "JitRequestStatus",
  description:
    "PENDING (awaiting a responder), APPROVED (access open until `expiresAt`), DENIED, REVOKED (closed early) or EXPIRED (access ended, or nobody answered within 24 hours).",
});
registerEnumType(JitPortState, {
  name: "JitPortState",
  description:
    "LOCKED (inbound denied), OPEN (at least one active grant admits its source address) or NOT_ENFORCED (the policy is not enforced, see `JitPolicy.enforced`: the agent locks nothing, so the port admits whatever the machine's own network rules allow).",
});
registerEnumType(JitAuditAction, {
  name: "JitAuditAction",
  description: "An audited step of just-in-time access.",
});

/** An approved request that currently admits one source address. */
@ObjectType({
  description: "An active grant: an approved request admitting one source address until it expires.",
})
export class JitGrant {
  @Field(() => ID, { description: "The approved request." })
  requestId: string;

  @Field({ description: "The only address the port is open to for this grant." })
  sourceIp: string;

  @Field({ description: "Who asked for the access." })
  requester: string;

  @Field({ description: "The responder who approved it." })
  approvedBy: string;

  @Field({ description: "When the access closes (approval time + requested duration)." })
  expiresAt: Date;
}

/** One port of a JIT policy with its effective state. */
@ObjectType({ description: "A JIT-managed port: its rules and whether it is open right now, and to whom." })
export class JitPort {
  @Field(() => Int, { description: "Port number (1–65535)." })
  number: number;

  @Field(() => JitProtocol, { description: "Protocol the port is opened for." })
  protocol: JitProtocol;

  @Field(() => [String], {
    description: 'Source addresses and CIDR prefixes a request may ask access from (`["*"]`: any).',
  })
  allowedSourcePrefixes: string[];

  @Field({ description: "The longest access a request may ask for (ISO 8601, e.g. PT3H)." })
  maxDuration: string;

  @Field(() => JitPortState, {
    description:
      "LOCKED, OPEN while an active grant covers the port, or NOT_ENFORCED while the policy is not enforced.",
  })
  state: JitPortState;

  @Field(() => [JitGrant], {
    description: "Grants that admit a source on this port now, soonest to expire first.",
  })
  activeGrants: JitGrant[];
}

/** A VM's just-in-time access policy. */
@ObjectType({
  description:
    "A just-in-time access policy: the listed ports are locked (inbound denied) except for approved, time-bound requests.",
})
export class JitPolicy {
  @Field(() => ID, { description: "Id of the policy." })
  id: string;

  @Field(() => ID, { description: "The protected resource (a VM)." })
  resourceId: string;

  @Field(() => [JitPort], { description: "Managed ports, by number, with their effective state." })
  ports: JitPort[];

  @Field({
    description:
      "Whether the agent enforces the policy: true while the SERVERS plan of the machine's account is on STANDARD (a policy can only be set then). False after the plan is turned off: the ports are not locked (state NOT_ENFORCED), requests and approvals are refused, and posture's management-ports report is unhealthy until the plan is back on.",
  })
  enforced: boolean;

  @Field({ description: "Who created the policy." })
  createdBy: string;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field({ description: "Who last changed it." })
  updatedBy: string;

  @Field({ description: "When it last changed." })
  updatedAt: Date;
}

/** A request for just-in-time access. */
@ObjectType({ description: "A request for just-in-time access to ports of a VM, and what became of it." })
export class JitRequest {
  @Field(() => ID, { description: "Id of the request." })
  id: string;

  @Field(() => ID, { description: "The VM the request is for." })
  resourceId: string;

  @Field(() => [Int], { description: "Requested port numbers." })
  ports: number[];

  @Field({ description: "The source address access is asked for." })
  sourceIp: string;

  @Field({ description: "Requested length of access (ISO 8601); counted from approval." })
  duration: string;

  @Field({ description: "Why access is needed." })
  justification: string;

  @Field(() => JitRequestStatus, {
    description: "Current state; an approved request whose time is up reads EXPIRED at once.",
  })
  status: JitRequestStatus;

  @Field({ description: "Who asked." })
  requester: string;

  @Field({ description: "When it was asked." })
  requestedAt: Date;

  @Field(() => String, { nullable: true, description: "The responder who approved or denied it." })
  decidedBy: string | null;

  @Field(() => Date, { nullable: true, description: "When it was approved or denied." })
  decidedAt: Date | null;

  @Field(() => String, { nullable: true, description: "The approver's comment or the reason for a denial." })
  decisionComment: string | null;

  @Field(() => Date, { nullable: true, description: "When access closes (set on approval)." })
  expiresAt: Date | null;

  @Field(() => String, { nullable: true, description: "Who revoked the access early." })
  revokedBy: string | null;

  @Field(() => Date, { nullable: true, description: "When it was revoked." })
  revokedAt: Date | null;

  @Field(() => String, { nullable: true, description: "Why it was revoked." })
  revokeReason: string | null;

  @Field(() => Date, { nullable: true, description: "When it expired (status EXPIRED)." })
  expiredAt: Date | null;
}

/** One audited JIT step. */
@ObjectType({ description: "One audited step of just-in-time access: who did what, when." })
export class JitAuditEntry {
  @Field(() => ID, { description: "Id of the audit entry." })
  id: string;

  @Field({ description: "When." })
  at: Date;

  @Field({ description: "Who (a user, or `system` for the expiry job)." })
  actor: string;

  @Field(() => JitAuditAction, { description: "What happened." })
  action: JitAuditAction;

  @Field(() => ID, { description: "The resource whose policy or request it concerns." })
  resourceId: string;

  @Field(() => ID, { nullable: true, description: "The request, for request steps." })
  requestId: string | null;

  @Field(() => JSONObjectScalar, { description: "The step's details (ports, source, duration, comment…)." })
  details: Record<string, unknown>;
}

/** What `removeJitPolicy` closed. */
@ObjectType({ description: "The result of removing a JIT policy: what it closed." })
export class RemoveJitPolicyPayload {
  @Field(() => ID, { description: "The resource whose policy was removed." })
  resourceId: string;

  @Field(() => [ID], { description: "Active grants that were revoked." })
  revokedRequestIds: string[];

  @Field(() => [ID], { description: "Pending requests that were denied." })
  deniedRequestIds: string[];
}

/** A page of requests. */
export const JitRequestConnection = Connection(JitRequest);
export type JitRequestConnection = InstanceType<typeof JitRequestConnection>;

/** A page of audit entries. */
export const JitAuditEntryConnection = Connection(JitAuditEntry);
export type JitAuditEntryConnection = InstanceType<typeof JitAuditEntryConnection>;
