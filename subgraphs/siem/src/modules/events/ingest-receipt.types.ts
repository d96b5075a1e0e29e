import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { ConnectorKindEnum, EventRejection } from "./events.types";

/** Where a queued NDJSON body stands. */
export enum IngestReceiptStatus {
  QUEUED = "QUEUED",
  PROCESSING = "PROCESSING",
  DONE = "DONE",
  FAILED = "FAILED",
}

registerEnumType(IngestReceiptStatus, {
  name: "IngestReceiptStatus",
  description: "Where a body queued by `POST /ingest/events` (EVENT_INGEST_QUEUE=nats) stands.",
  valuesConfig: {
    QUEUED: { description: "Persisted on the queue; no ingest worker has started on it yet." },
    PROCESSING: { description: "Ingest workers are storing it; the counts cover the parts stored so far." },
    DONE: { description: "Every part stored: the counts and rejections are final." },
    FAILED: {
      description:
        "A part will not be stored (`failure` says which lines and why); the counts cover the parts that were.",
    },
  },
});

/** What became of a queued NDJSON body. */
@ObjectType({
  description:
    "The receipt of an NDJSON body queued by `POST /ingest/events` (202): what the ingest workers made of it, with the rejections by line of the body as sent.",
})
export class IngestReceipt {
  @Field(() => ID, { description: "The receipt's id, as the 202 answer gave it (`receiptId`)." })
  id: string;

  @Field(() => ConnectorKindEnum, { description: "The connector kind the body was sent as." })
  connector: string;

  @Field(() => IngestReceiptStatus, { description: "QUEUED, PROCESSING, DONE or FAILED." })
  status: IngestReceiptStatus;

  @Field(() => Int, { description: "Lines of the body." })
  lines: number;

  @Field(() => Int, { description: "New events stored." })
  acceptedCount: number;

  @Field(() => Int, { description: "Records already stored (same connector and source event id), ignored." })
  duplicateCount: number;

  @Field(() => Int, { description: "Records rejected." })
  rejectedCount: number;

  @Field(() => [EventRejection], { description: "Rejected records by line of the body, with the reason." })
  rejected: EventRejection[];

  @Field(() => String, { nullable: true, description: "Why the receipt FAILED; null otherwise." })
  failure: string | null;

  @Field({ description: "When the body was queued." })
  createdAt: Date;

  @Field({ description: "When the receipt last changed." })
  updatedAt: Date;
}
