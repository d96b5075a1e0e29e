import { BadUserInputError, type Identity } from "../../../../common/src";
import type { TelemetryIngest } from "./telemetry.ingest";
import { parseTelemetryRecord } from "./telemetry.model";
import { IngestTelemetryPayload, TelemetryRejection } from "./telemetry.types";

/** Most records one `ingestTelemetry` mutation takes (bulk goes through POST /ingest/telemetry). */
export const MAX_GRAPHQL_TELEMETRY = 1000;

/** Small telemetry batches through GraphQL: the same path as the HTTP endpoint. */
export class TelemetryService {
  constructor(
    private readonly identity: Identity,
    private readonly ingestor: TelemetryIngest,
  ) {}

  async ingest(records: unknown[]): Promise<IngestTelemetryPayload> {
    if (records.length > MAX_GRAPHQL_TELEMETRY)
      throw new BadUserInputError(
        `At most ${MAX_GRAPHQL_TELEMETRY} records per call; use POST /ingest/telemetry for bulk.`,
        [{ field: "records", message: `got ${records.length}` }],
      );
    const result = await this.ingestor.ingest(
      this.identity,
      records.map((value, i) => ({ line: i + 1, ...parseTelemetryRecord(value) })),
    );
    return Object.assign(new IngestTelemetryPayload(), {
      acceptedCount: result.accepted,
      duplicateCount: result.duplicates,
      detectionCount: result.detections,
      rejected: result.rejected.map((r) => Object.assign(new TelemetryRejection(), r)),
    });
  }
}
