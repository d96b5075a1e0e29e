import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection } from "../../../../common/src";
import { PlaybookSecretStatus } from "../automation/playbook.types";

/** How Rampart authenticates to a TAXII server. */
export enum TaxiiAuthKind {
  NONE = "NONE",
  BASIC = "BASIC",
  API_KEY = "API_KEY",
}

registerEnumType(TaxiiAuthKind, {
  name: "TaxiiAuthKind",
  description:
    "How a feed authenticates to its TAXII server: NONE, BASIC (HTTP basic, user and password) or API_KEY (a key sent in a header of your choice).",
});

/** A feed's credentials as shown: never the password or key. */
@ObjectType({
  description: "How a feed authenticates; the password or API key is write-only and never returned.",
})
export class TaxiiAuth {
  @Field(() => TaxiiAuthKind, { description: "The kind of credentials." })
  kind: TaxiiAuthKind;

  @Field(() => String, { nullable: true, description: "The HTTP basic user (BASIC), else null." })
  username: string | null;

  @Field(() => String, {
    nullable: true,
    description: "The header carrying the API key (API_KEY), else null.",
  })
  header: string | null;

  @Field(() => PlaybookSecretStatus, {
    nullable: true,
    description:
      "Whether the stored password or key can be read with the configured key ring (PLAYBOOK_SECRET_KEYS; KEY_MISSING: polls fail until an admin sets it again); null for NONE.",
  })
  secretStatus: PlaybookSecretStatus | null;
}

/** What a feed's polls did. */
@ObjectType({ description: "Where a feed's polling stands: the last poll, its outcome and the totals." })
export class ThreatIntelFeedStatus {
  @Field(() => Date, { nullable: true, description: "When the last poll started; null before the first." })
  lastPollAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When a poll last ended without an error." })
  lastSuccessAt: Date | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Why the last poll failed (HTTP status, refused address, bad answer…); null when it succeeded. Pages stored before the failure stay stored.",
  })
  lastError: string | null;

  @Field(() => Int, { description: "STIX objects the last poll received (all types)." })
  lastObjectCount: number;

  @Field(() => Int, { description: "Indicators the last poll created or updated." })
  lastIndicatorCount: number;

  @Field(() => Int, {
    description: "Invalid objects the last poll left out (see the feed's STIX problems in the audit log).",
  })
  lastRejectedCount: number;

  @Field(() => Float, { description: "STIX objects received since the feed was created." })
  totalObjectCount: number;

  @Field(() => Float, { description: "Indicators created or updated since the feed was created." })
  totalIndicatorCount: number;

  @Field(() => String, {
    nullable: true,
    description:
      "The `added_after` cursor of the next poll, as the server gave it (`X-TAXII-Date-Added-Last`); null before anything was received.",
  })
  addedAfter: string | null;

  @Field(() => Date, { nullable: true, description: "When the next poll is due; null while disabled." })
  nextPollAt: Date | null;
}

/** A TAXII 2.1 collection polled for indicators. */
@ObjectType({
  description:
    "A TAXII 2.1 threat-intelligence feed: a collection polled on a schedule; its STIX indicators are imported as `importStixBundle` imports them.",
})
export class ThreatIntelFeed {
  @Field(() => ID, { description: "Id of the feed." })
  id: string;

  @Field({ description: "Name, unique in the tenant; imported indicators show it as their `source`." })
  name: string;

  @Field(() => String, {
    nullable: true,
    description: "The TAXII API root URL; shown to ADMIN only, null for others.",
  })
  apiRoot: string | null;

  @Field({ description: "The collection's id on the server." })
  collectionId: string;

  @Field(() => TaxiiAuth, { description: "How it authenticates." })
  auth: TaxiiAuth;

  @Field({ description: "How often it is polled (ISO 8601 duration, PT15M to P1D)." })
  pollInterval: string;

  @Field({ description: "Whether it is polled." })
  enabled: boolean;

  @Field(() => ThreatIntelFeedStatus, { description: "What its polls did." })
  status: ThreatIntelFeedStatus;

  @Field({ description: "Who created it." })
  createdBy: string;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field({ description: "Who changed it last." })
  updatedBy: string;

  @Field({ description: "When it was changed last." })
  updatedAt: Date;
}

/** A page of feeds. */
export const ThreatIntelFeedConnection = Connection(ThreatIntelFeed);
export type ThreatIntelFeedConnection = InstanceType<typeof ThreatIntelFeedConnection>;

/** Credentials of a feed, as given. */
@InputType({ description: "How a feed authenticates to its TAXII server." })
export class TaxiiAuthInput {
  @Field(() => TaxiiAuthKind, { description: "The kind of credentials." })
  kind: TaxiiAuthKind;

  @Field(() => String, { nullable: true, description: "BASIC: the user (1 to 256 characters, no `:`)." })
  username?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "BASIC: the password (1 to 512 characters). Write-only: never returned.",
  })
  password?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "API_KEY: the header to send it in (an HTTP header name; default `X-API-Key`).",
  })
  header?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "API_KEY: the key (1 to 512 characters). Write-only: never returned.",
  })
  apiKey?: string | null;
}

/** A new feed. */
@InputType({ description: "A new TAXII feed (ADMIN)." })
export class CreateThreatIntelFeedInput {
  @Field({ description: "Name, unique in the tenant (1 to 256 characters)." })
  name: string;

  @Field({
    description:
      "The TAXII API root URL, e.g. `https://taxii.example.com/api1/`: https (http is accepted outside production), no credentials in it, a public address unless INTEL_FEED_ALLOW_PRIVATE_TARGETS is on.",
  })
  apiRoot: string;

  @Field({ description: "The collection's id (1 to 256 characters)." })
  collectionId: string;

  @Field(() => TaxiiAuthInput, { nullable: true, description: "Credentials; default NONE." })
  auth?: TaxiiAuthInput | null;

  @Field(() => String, {
    nullable: true,
    description: "How often to poll (ISO 8601 duration, PT15M to P1D); default PT1H.",
  })
  pollInterval?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Whether to poll it; default true (the first poll is due at once).",
  })
  enabled?: boolean | null;
}

/** Changes to a feed. */
@InputType({ description: "Changes to a TAXII feed (ADMIN): the fields given replace the feed's." })
export class UpdateThreatIntelFeedInput {
  @Field(() => ID, { description: "The feed." })
  id: string;

  @Field(() => String, { nullable: true, description: "New name." })
  name?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "New API root URL; a new server or collection starts again from the beginning (no cursor).",
  })
  apiRoot?: string | null;

  @Field(() => String, { nullable: true, description: "New collection id (the cursor starts again)." })
  collectionId?: string | null;

  @Field(() => TaxiiAuthInput, {
    nullable: true,
    description: "New credentials, replacing the old ones whole (password or key included).",
  })
  auth?: TaxiiAuthInput | null;

  @Field(() => String, { nullable: true, description: "New poll interval (PT15M to P1D)." })
  pollInterval?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Enable (the next poll is due at once) or disable (no more polls).",
  })
  enabled?: boolean | null;
}

/** Which feed to delete, and what becomes of its indicators. */
@InputType({ description: "A TAXII feed to delete (ADMIN)." })
export class DeleteThreatIntelFeedInput {
  @Field(() => ID, { description: "The feed." })
  id: string;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Also revoke the indicators whose current version came from this feed (they stop matching, for good: STIX revocation is permanent). Default false: they are kept, and keep matching until their `validUntil`, showing the feed's name as `source`.",
  })
  revokeIndicators?: boolean | null;
}
