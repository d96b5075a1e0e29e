import { Field, ObjectType } from "type-graphql";

/** How the tenant's agents must authenticate (`setAgentCredentialPolicy`). */
@ObjectType({
  description:
    "How the tenant's agents must authenticate: whether only machine-bound agent credentials (tokens with the `rampart:resource` claim) may read `agentPolicy` and push telemetry and package inventories.",
})
export class AgentCredentialPolicy {
  @Field({
    description:
      "True: an INGESTOR token without a machine binding is refused (FORBIDDEN) at `agentPolicy`, `ingestTelemetry`, `ingestPackageInventory` and `POST /ingest/telemetry`; readers and admins are not affected. False (the default): any INGESTOR token of the tenant may speak for any of its machines.",
  })
  requireMachineBinding: boolean;

  @Field(() => Date, { nullable: true, description: "When an ADMIN last changed the policy (null: never)." })
  updatedAt: Date | null;

  @Field(() => String, { nullable: true, description: "Who last changed the policy (null: never)." })
  updatedBy: string | null;
}
