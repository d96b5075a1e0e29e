import { JSONScalar, MachineBound, Role } from "../../../../common/src";
import { Arg, Authorized, Ctx, Mutation, Resolver, UseMiddleware } from "type-graphql";
import type { ProtectionContext } from "../../context";
import { shallowJsonItems } from "../../json-arguments";
import { IngestTelemetryPayload } from "./telemetry.types";

@Resolver()
export class TelemetryResolver {
  @Authorized(Role.INGESTOR, Role.ADMIN)
  // A machine-bound agent credential pushes its own machine's records only (the others are rejected).
  @MachineBound()
  @UseMiddleware(shallowJsonItems("records"))
  @Mutation(() => IngestTelemetryPayload, {
    description:
      "Ingests a small batch (≤ 1,000) of agent telemetry records (`process`, `file`, `packages`, `flow`, `logon`); bulk goes through `POST /ingest/telemetry` (NDJSON). Duplicates are ignored, bad records reported in `rejected`, the rest stored; package snapshots update vulnerability findings and new records run through the detections.",
  })
  ingestTelemetry(
    @Arg("records", () => [JSONScalar], { description: "Telemetry records, one object each." })
    records: unknown[],
    @Ctx() ctx: ProtectionContext,
  ) {
    return ctx.services.telemetry.ingest(records);
  }
}
