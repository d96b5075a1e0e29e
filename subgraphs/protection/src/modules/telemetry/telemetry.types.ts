import { Field, Int, ObjectType } from "type-graphql";

/** A telemetry record an ingest rejected. */
@ObjectType({ description: "A telemetry record that was rejected (the other records were kept)." })
export class TelemetryRejection {
  @Field(() => Int, { description: "1-based line of the NDJSON body, or position + 1 in `records`." })
  line: number;

  @Field({ description: "Why it was rejected: the faulty fields, or the time outside the retention window." })
  reason: string;
}

/** What a telemetry ingest did. */
@ObjectType({ description: "The outcome of a telemetry ingest: good records kept, bad ones reported." })
export class IngestTelemetryPayload {
  @Field(() => Int, { description: "New records stored." })
  acceptedCount: number;

  @Field(() => Int, {
    description: "Records already stored (same machine, kind, record id and time), ignored.",
  })
  duplicateCount: number;

  @Field(() => Int, {
    description: "Detections the new records raised (queued for the SIEM as workload-protection alerts).",
  })
  detectionCount: number;

  @Field(() => [TelemetryRejection], { description: "Rejected records with the reason." })
  rejected: TelemetryRejection[];
}
