import { Field, ID, InputType, Int } from "type-graphql";
import { JitRequestStatus } from "./jit.types";
import { DEFAULT_MAX_DURATION, JitProtocol } from "./jit.validation";

/** One port of `setJitPolicy`. */
@InputType({ description: "A port to manage with just-in-time access." })
export class JitPortInput {
  @Field(() => Int, { description: "Port number (1–65535), at most once per policy." })
  number: number;

  @Field(() => JitProtocol, { description: "Protocol to open it for." })
  protocol: JitProtocol;

  @Field(() => [String], {
    description:
      'Source addresses or CIDR prefixes (IPv4 or IPv6) a request may ask access from; `["*"]` allows any.',
  })
  allowedSourcePrefixes: string[];

  @Field(() => String, {
    nullable: true,
    defaultValue: DEFAULT_MAX_DURATION,
    description: "Longest access a request may ask for: ISO 8601, PT1S to PT24H.",
  })
  maxDuration?: string | null;
}

/** Input of `setJitPolicy`. */
@InputType({ description: "Creates or replaces the JIT policy of a VM." })
export class SetJitPolicyInput {
  @Field(() => ID, { description: "The VM (a `Resource` id)." })
  resourceId: string;

  @Field(() => [JitPortInput], { description: "The ports to lock (1 to 50); replaces the previous list." })
  ports: JitPortInput[];
}

/** Input of `removeJitPolicy`. */
@InputType({ description: "Removes the JIT policy of a VM." })
export class RemoveJitPolicyInput {
  @Field(() => ID, { description: "The VM (a `Resource` id)." })
  resourceId: string;
}

/** Input of `requestJitAccess`. */
@InputType({ description: "Asks for time-bound access to ports of a VM from one source address." })
export class RequestJitAccessInput {
  @Field(() => ID, { description: "The VM (a `Resource` id) with a JIT policy." })
  resourceId: string;

  @Field(() => [Int], { description: "Port numbers from the VM's policy." })
  ports: number[];

  @Field(() => String, {
    nullable: true,
    description:
      'The IPv4 or IPv6 address to admit; must be allowed on every requested port. Omit it (or send null) for "my IP": the address the gateway received this request from, which is the connection\'s peer or, behind a proxy the gateway trusts (TRUSTED_PROXIES), the client address that proxy forwarded; the request records it as its `sourceIp`.',
  })
  sourceIp?: string | null;

  @Field({
    description: "How long access stays open after approval (ISO 8601, at most each port's maximum).",
  })
  duration: string;

  @Field({ description: "Why access is needed (1 to 1,000 characters)." })
  justification: string;
}

/** Input of `approveJitRequest`. */
@InputType({ description: "Approves a pending JIT request (by a responder other than the requester)." })
export class ApproveJitRequestInput {
  @Field(() => ID, { description: "The request." })
  id: string;

  @Field(() => String, { nullable: true, description: "An optional comment for the audit trail." })
  comment?: string | null;
}

/** Input of `denyJitRequest`. */
@InputType({ description: "Denies a pending JIT request (by a responder other than the requester)." })
export class DenyJitRequestInput {
  @Field(() => ID, { description: "The request." })
  id: string;

  @Field({ description: "Why it is denied (1 to 1,000 characters)." })
  reason: string;
}

/** Input of `revokeJitRequest`. */
@InputType({ description: "Closes an approved request's access before it expires." })
export class RevokeJitRequestInput {
  @Field(() => ID, { description: "The approved request." })
  id: string;

  @Field({ description: "Why access is revoked (1 to 1,000 characters)." })
  reason: string;
}

/** Filter of `jitRequests`. */
@InputType({ description: "Narrows the list of JIT requests; all given fields must match." })
export class JitRequestFilter {
  @Field(() => ID, { nullable: true, description: "Only requests for this resource." })
  resourceId?: string | null;

  @Field(() => [JitRequestStatus], { nullable: true, description: "Only requests in these states." })
  statuses?: JitRequestStatus[] | null;

  @Field(() => String, { nullable: true, description: "Only requests by this requester." })
  requester?: string | null;
}
