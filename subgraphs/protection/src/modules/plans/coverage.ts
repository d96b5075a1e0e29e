import { ResourceKind, resourceKindOf } from "../../../../common/src";
import { Field, ObjectType } from "type-graphql";
import { PlanTier, PlanType } from "./plan.entity";

/** Which plan protects each kind of resource. */
const PLAN_BY_KIND: Partial<Record<ResourceKind, PlanType>> = {
  [ResourceKind.VIRTUAL_MACHINE]: PlanType.SERVERS,
  [ResourceKind.APP_SERVICE]: PlanType.APP_SERVICE,
  [ResourceKind.STORAGE_ACCOUNT]: PlanType.STORAGE,
  [ResourceKind.SQL_SERVER]: PlanType.SQL,
  [ResourceKind.SQL_DATABASE]: PlanType.SQL,
  [ResourceKind.KEY_VAULT]: PlanType.KEY_VAULT,
  [ResourceKind.DNS_ZONE]: PlanType.DNS,
  [ResourceKind.KUBERNETES_CLUSTER]: PlanType.KUBERNETES,
  [ResourceKind.CONTAINER_REGISTRY]: PlanType.CONTAINER_REGISTRY,
};

/** The plan that covers a provider-native resource type, if any. */
export const planTypeFor = (resourceType: string): PlanType | null =>
  PLAN_BY_KIND[resourceKindOf(resourceType)] ?? null;

/**
 * SQL: true when workload protection covers the resource `resourceId` of tenant `tenantId` (both SQL
 * expressions): its plan is on STANDARD in its account, as protection's mirror of the inventory
 * (`resource_accounts`, kept by posture's relay) and `plans` say. False for a resource the mirror lacks. Column
 * references must be qualified (`t.resource_id`): a bare name like `id` would resolve to the subquery's own tables.
 */
export const coveredSql = (tenantId: string, resourceId: string) =>
  `EXISTS (SELECT 1 FROM resource_accounts cov_ra JOIN plans cov_p ON cov_p.tenant_id = cov_ra.tenant_id
     AND cov_p.account_id = cov_ra.account_id AND cov_p.plan_type = cov_ra.plan_type AND cov_p.tier = '${PlanTier.STANDARD}'
   WHERE cov_ra.tenant_id = ${tenantId} AND cov_ra.resource_id = ${resourceId})`;

/** Whether workload protection covers a resource. */
@ObjectType({ description: "Whether workload protection covers a resource, and through which plan." })
export class Coverage {
  @Field({ description: "True when the resource's plan is on the STANDARD tier in its account." })
  covered: boolean;

  @Field(() => PlanType, {
    nullable: true,
    description: "The plan that covers this kind of resource; null when no plan applies.",
  })
  plan: PlanType | null;

  @Field(() => PlanTier, {
    description: "The tier of that plan in the resource's account (FREE when no plan applies).",
  })
  tier: PlanTier;
}

/** A plan and what it covers. */
@ObjectType({ description: "A workload-protection plan and the resource kinds it covers." })
export class PlanTypeInfo {
  @Field(() => PlanType, { description: "The plan." })
  planType: PlanType;

  @Field(() => [ResourceKind], { description: "Resource kinds that a STANDARD tier of this plan covers." })
  coveredKinds: ResourceKind[];
}

/** Every plan with the kinds it covers. */
export function planTypeInfos(): PlanTypeInfo[] {
  return Object.values(PlanType).map((planType) =>
    Object.assign(new PlanTypeInfo(), {
      planType,
      coveredKinds: (Object.entries(PLAN_BY_KIND) as Array<[ResourceKind, PlanType]>)
        .filter(([, p]) => p === planType)
        .map(([k]) => k),
    }),
  );
}
