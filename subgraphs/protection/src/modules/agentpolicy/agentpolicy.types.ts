import { Field, ID, Int, ObjectType } from "type-graphql";
import { AppControlMode, AppControlRuleKind } from "../appcontrol/appcontrol.types";
import { FimWatchedPath, FimWatchListSource } from "../fim/fim.types";
import { JitProtocol } from "../jit/jit.types";

/** A JIT-managed port as the agent's firewall applies it. */
@ObjectType({ description: "A port under the machine's just-in-time policy." })
export class AgentJitPort {
  @Field(() => Int, { description: "The port number." })
  number: number;

  @Field(() => JitProtocol, { description: "The protocol the policy manages it for." })
  protocol: JitProtocol;

  @Field({
    description:
      "True when no grant is open on the port: inbound is denied to everyone. False while grants are open: inbound is admitted from their sources only.",
  })
  locked: boolean;
}

/** One source admitted on one port until a time. */
@ObjectType({ description: "An open just-in-time grant: one source admitted on one port until `until`." })
export class AgentJitGrant {
  @Field(() => ID, { description: "The approved request the grant comes from." })
  requestId: string;

  @Field({ description: "The admitted source, as a prefix of one address (`203.0.113.10/32`)." })
  sourcePrefix: string;

  @Field(() => Int, { description: "The port." })
  port: number;

  @Field(() => JitProtocol, { description: "The port's protocol in the policy." })
  protocol: JitProtocol;

  @Field({
    description: "When the grant ends: close the port to this source then, whether or not polled again.",
  })
  until: Date;
}

/** What just-in-time access asks of the agent. */
@ObjectType({ description: "The machine's just-in-time access policy as its agent enforces it." })
export class AgentJitPolicy {
  @Field(() => [AgentJitPort], { description: "The managed ports, by number and protocol." })
  ports: AgentJitPort[];

  @Field(() => [AgentJitGrant], {
    description:
      "The open grants (approved, neither expired nor revoked), soonest end first; only for ports the policy manages.",
  })
  grants: AgentJitGrant[];
}

/** One approved allow-list rule. */
@ObjectType({ description: "An approved allow-list rule of the machine's application-control group." })
export class AgentAppControlRule {
  @Field(() => AppControlRuleKind, { description: "What the rule matches on." })
  kind: AppControlRuleKind;

  @Field({ description: "Path of the executable." })
  path: string;

  @Field(() => String, { nullable: true, description: "Code-signing publisher (PUBLISHER rules)." })
  publisher: string | null;

  @Field(() => String, {
    nullable: true,
    description: "SHA-256 of the file (HASH rules; otherwise when known).",
  })
  sha256: string | null;
}

/** What application control asks of the agent. */
@ObjectType({ description: "The machine's application-control group, its mode and its allow list." })
export class AgentAppControlPolicy {
  @Field(() => ID, { description: "The group." })
  groupId: string;

  @Field({ description: "The group's name." })
  groupName: string;

  @Field(() => AppControlMode, {
    description:
      "NONE (nothing to apply), AUDIT (report executions outside the rules) or ENFORCE (block them).",
  })
  mode: AppControlMode;

  @Field(() => [AgentAppControlRule], { description: "The approved rules, by path." })
  rules: AgentAppControlRule[];
}

/** What file integrity monitoring asks of the agent. */
@ObjectType({ description: "The paths file integrity monitoring watches on the machine." })
export class AgentFileIntegrityPolicy {
  @Field(() => FimWatchListSource, {
    description:
      "Whose list it is: the machine's group's (GROUP), the tenant's (TENANT) or the built-in one.",
  })
  source: FimWatchListSource;

  @Field(() => [FimWatchedPath], { description: "The watched paths, each with whether it is critical." })
  paths: FimWatchedPath[];
}

/** Everything a machine's agent enforces, with what it needs to poll cheaply. */
@ObjectType({
  description:
    "The effective protection policy of one machine, for its agent: poll, compare `etag` with the last one applied, enforce when it differs.",
})
export class AgentPolicy {
  @Field(() => ID, { description: "The machine (Rampart's resource id)." })
  resourceId: string;

  @Field({
    description:
      "True when the SERVERS plan covers the machine (a VM in an account with SERVERS on STANDARD). False: the policy is empty (nothing to enforce).",
  })
  covered: boolean;

  @Field(() => AgentJitPolicy, {
    nullable: true,
    description: "Just-in-time access; null when the machine has no JIT policy.",
  })
  jit: AgentJitPolicy | null;

  @Field(() => AgentAppControlPolicy, {
    nullable: true,
    description: "Application control; null when the machine is in no group.",
  })
  applicationControl: AgentAppControlPolicy | null;

  @Field(() => AgentFileIntegrityPolicy, {
    nullable: true,
    description: "File integrity monitoring; null only when the machine is not covered.",
  })
  fileIntegrity: AgentFileIntegrityPolicy | null;

  @Field({
    description:
      "A digest of `covered`, `jit`, `applicationControl` and `fileIntegrity`: the same while they stay the same, different when any of them changes.",
  })
  etag: string;

  @Field(() => Int, {
    description:
      "Seconds until the agent should ask again: until the soonest grant ends, at most 300 (and at least 1).",
  })
  refreshAfterSeconds: number;

  @Field({ description: "The database time the policy was read at." })
  generatedAt: Date;
}
