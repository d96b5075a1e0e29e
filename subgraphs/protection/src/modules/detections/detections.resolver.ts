import { PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { ResourceRef, SecurityAlertRef } from "../../references";
import { DetectionFilter, WorkloadDetection, WorkloadDetectionConnection } from "./detections.types";

@Resolver(() => WorkloadDetection)
export class DetectionsResolver {
  @Authorized(Role.READER)
  @Query(() => WorkloadDetectionConnection, {
    description:
      "Detections raised from workload telemetry, newest first (each is also delivered to the SIEM as an alert).",
  })
  detections(
    @Arg("filter", () => DetectionFilter, {
      nullable: true,
      description: "Conditions the detections must meet.",
    })
    filter: DetectionFilter | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.detections.list(filter, page);
  }

  @Authorized(Role.READER)
  @Query(() => WorkloadDetection, {
    nullable: true,
    description:
      "One detection by id, with its whole evidence; null when the tenant has no such detection (another tenant's included).",
  })
  detection(
    @Arg("id", () => ID, { description: "The detection's id." }) id: string,
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.detections.byId.load(id);
  }
}

@Resolver(() => ResourceRef)
export class ResourceDetectionsResolver {
  @FieldResolver(() => WorkloadDetectionConnection, {
    description: "Detections raised from this machine's telemetry, newest first.",
  })
  detections(@Root() resource: ResourceRef, @Args() page: PageArgs, @Ctx() ctx: ProtectionContext) {
    return ctx.services.detections.forResource(resource.id, page);
  }
}

@Resolver(() => SecurityAlertRef)
export class AlertDetectionResolver {
  @FieldResolver(() => WorkloadDetection, {
    nullable: true,
    description:
      "The workload-protection detection this alert was delivered as, with its whole evidence (the alert's `evidence` is cut to 32 KiB); null for other providers' alerts.",
  })
  detection(@Root() alert: SecurityAlertRef, @Ctx() ctx: ProtectionContext) {
    return ctx.services.detections.byAlert.load(alert.id);
  }
}
