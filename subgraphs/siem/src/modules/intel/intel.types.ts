import { Field, ID, Int, ObjectType } from "type-graphql";

/** A threat-intelligence indicator. */
@ObjectType({ description: "A threat-intelligence indicator imported from STIX 2.1." })
export class ThreatIndicator {
  @Field(() => ID, { description: "Rampart's id." })
  id: string;

  @Field({ description: "The STIX id (`indicator--…`)." })
  stixId: string;

  @Field(() => String, { nullable: true, description: "Name." })
  name: string | null;

  @Field(() => String, { nullable: true, description: "Description." })
  description: string | null;

  @Field({ description: "The STIX pattern." })
  pattern: string;

  @Field(() => [String], {
    description: "Observables it matches, e.g. `ipv4-addr:198.51.100.23` (AND-groups joined with ` AND `).",
  })
  observables: string[];

  @Field({ description: "True when parts of the pattern cannot be matched (they are ignored)." })
  partial: boolean;

  @Field({
    description:
      "True when some part of the pattern can be matched against events. An indicator that is not matchable (only `NOT`, `MATCHES`, objects without observables…) is kept and listed but never raises an alert.",
  })
  matchable: boolean;

  @Field(() => [String], {
    description:
      "STIX `indicator_types` (`malicious-activity`, `anomalous-activity`, `benign`…). An indicator typed only `benign` marks known-good activity: it is kept and listed but never raises an alert.",
  })
  indicatorTypes: string[];

  @Field(() => Int, { nullable: true, description: "Confidence, 0–100." })
  confidence: number | null;

  @Field(() => [String], { description: "Labels." })
  labels: string[];

  @Field({ description: "Valid from." })
  validFrom: Date;

  @Field(() => Date, { nullable: true, description: "Valid until." })
  validUntil: Date | null;

  @Field({ description: "Revoked by its producer." })
  revoked: boolean;

  @Field({ description: "True when valid now and not revoked." })
  active: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      "Where this version came from: the name of the TAXII feed that stored it (kept after the feed is deleted); null for `importStixBundle`.",
  })
  source: string | null;

  /** The feed that stored this version, while it exists (resolved as `feed`). */
  feedId: string | null;
}

/** A problem found in an imported bundle. */
@ObjectType({ description: "A problem in an imported STIX bundle; the other indicators were kept." })
export class StixProblem {
  @Field({ description: "Where, e.g. `objects[3].pattern`." })
  path: string;

  @Field({ description: "What is wrong." })
  message: string;
}

/** What an import did. */
@ObjectType({ description: "The outcome of a STIX bundle import." })
export class ImportStixBundlePayload {
  @Field(() => Int, { description: "New indicators." })
  createdCount: number;

  @Field(() => Int, { description: "Indicators updated (a newer `modified`)." })
  updatedCount: number;

  @Field(() => Int, {
    description:
      "Indicators unchanged: the same or an older `modified`, or a later version of a revoked indicator (revocation is permanent; reported in `problems`).",
  })
  unchangedCount: number;

  @Field(() => Int, { description: "Objects that are not indicators (identities, malware, relationships…)." })
  skippedCount: number;

  @Field(() => [StixProblem], {
    description: "Invalid objects, and later versions of revoked indicators: left out.",
  })
  problems: StixProblem[];
}
