/** GraphQL types of the Sigma import (importSigmaRules): its options, and the report per rule. */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { RuleKind } from "./rule-spec";
import { SIGMA_PROBLEM_CODES, type SigmaProblemCode } from "./sigma";
import { AnalyticsRule, AnalyticsRuleKindEnum } from "./rules.types";

/** Rejection codes as a GraphQL enum. */
export const SigmaProblemCodeEnum = Object.fromEntries(SIGMA_PROBLEM_CODES.map((c) => [c, c])) as {
  [K in SigmaProblemCode]: K;
};

/** What happened to one rule of an import. */
export enum SigmaImportStatus {
  CREATED = "CREATED",
  UPDATED = "UPDATED",
  UNCHANGED = "UNCHANGED",
  REFERENCED = "REFERENCED",
  REJECTED = "REJECTED",
}

registerEnumType(SigmaProblemCodeEnum, {
  name: "SigmaProblemCode",
  description: "Why a Sigma rule was not imported.",
  valuesConfig: {
    INVALID_YAML: { description: "The document is not valid YAML, or uses aliases or custom tags." },
    NOT_A_RULE: { description: "The document is not a map." },
    MISSING_FIELD: {
      description: "A required part is missing (title, id, logsource, detection, condition).",
    },
    INVALID_FIELD: { description: "A part has the wrong form (a level that is not a Sigma level…)." },
    UNSUPPORTED_RULE_TYPE: {
      description: "A meta filter, status unsupported, or a taxonomy other than sigma.",
    },
    UNSUPPORTED_LOGSOURCE: { description: "No connector ingests the log source." },
    UNSUPPORTED_FIELD: { description: "A field the log source's events do not keep." },
    UNSUPPORTED_MODIFIER: {
      description: "A value modifier that cannot be evaluated here (windash, base64…).",
    },
    UNSUPPORTED_VALUE: {
      description:
        "A value that cannot be matched exactly (? wildcard, complex regex, text on an IP field…).",
    },
    UNSUPPORTED_DETECTION: { description: "Keyword (full-text) search." },
    INVALID_CONDITION: { description: "The condition does not parse or names an unknown search identifier." },
    UNSUPPORTED_CONDITION: {
      description:
        "A condition part that cannot be evaluated here (2 of, near, aggregations other than count).",
    },
    DUPLICATE_ID: { description: "An earlier rule of the same import has this id." },
    INVALID_RULE: {
      description: "The translated rule is not a valid analytics rule (too large, bad timing).",
    },
    INVALID_REFERENCE: {
      description:
        "A correlation refers to a rule that is not in the import, is ambiguous, is rejected, or refers back to it.",
    },
    UNSUPPORTED_CORRELATION: {
      description:
        "A correlation a rule cannot express exactly (temporal, aliases, a range, rules over different log sources…).",
    },
  },
});
registerEnumType(SigmaImportStatus, {
  name: "SigmaImportStatus",
  description: "What an import did with one Sigma rule.",
  valuesConfig: {
    CREATED: { description: "A new analytics rule." },
    UPDATED: { description: "The analytics rule imported earlier with this Sigma id got a new version." },
    UNCHANGED: {
      description: "The analytics rule imported earlier with this Sigma id already had this definition.",
    },
    REFERENCED: {
      description:
        "Translated, and used only by the correlation rules of the import that refer to it: not stored as a rule of its own (Sigma's default; a correlation with `generate: true` imports it too).",
    },
    REJECTED: { description: "Not imported; `problems` says why. Nothing of it was stored." },
  },
});

/** How the rules of an import are set up. */
@InputType({ description: "How imported Sigma rules are set up; every field has a default." })
export class SigmaImportOptions {
  @Field(() => Boolean, {
    nullable: true,
    description:
      "Whether the rules run. Default: new rules are disabled, so an admin reviews them first; a rule imported again keeps its current state.",
  })
  enabled?: boolean | null;

  @Field(() => AnalyticsRuleKindEnum, {
    nullable: true,
    description:
      "SCHEDULED (default) or NRT (per event as it arrives). Rules with an aggregation (| count() …) and correlation rules are always SCHEDULED.",
  })
  kind?: RuleKind | null;

  @Field(() => String, {
    nullable: true,
    description:
      "How often scheduled rules run (ISO 8601, 5 minutes to 14 days); default PT5M, or an aggregation's timeframe or a correlation's timespan.",
  })
  queryFrequency?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "How far back each run looks (ISO 8601, at least queryFrequency); default PT5M, or an aggregation's timeframe or a correlation's timespan.",
  })
  queryPeriod?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "One alert per matching event (per group for an aggregation; the default), or one per run.",
  })
  alertPerResult?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Count aggregations and event_count / value_count correlations over a sliding window of their timeframe or timespan (summarize.window: any events no more than that apart, as Sigma means it) instead of each run's fixed period. Default false. Their comparison must then be > or >=.",
  })
  slidingWindow?: boolean | null;
}

/** One reason a Sigma rule was rejected. */
@ObjectType({ description: "Why a Sigma rule was not imported." })
export class SigmaProblem {
  @Field(() => SigmaProblemCodeEnum, { description: "The kind of problem." })
  code: SigmaProblemCode;

  @Field({ description: "Where in the rule, e.g. `logsource` or `detection.selection.CommandLine|windash`." })
  path: string;

  @Field({ description: "What is wrong, naming the field, modifier or value." })
  message: string;
}

/** The outcome for one rule (YAML document) of an import. */
@ObjectType({
  description:
    "What an import did with one Sigma rule (one YAML document; a rule collection's rule document merged with its global or repeated parts).",
})
export class SigmaImportResult {
  @Field(() => Int, {
    description: "The document's position in the YAML, from 1 (empty documents do not count).",
  })
  document: number;

  @Field(() => Int, { description: "The line the document starts on, from 1." })
  line: number;

  @Field(() => String, { nullable: true, description: "The rule's Sigma `id`, when it has a usable one." })
  sigmaId: string | null;

  @Field(() => String, { nullable: true, description: "The rule's `title`, when it has one." })
  title: string | null;

  @Field(() => SigmaImportStatus, { description: "Created, updated, unchanged or rejected." })
  status: SigmaImportStatus;

  @Field(() => ID, { nullable: true, description: "The analytics rule's id; null when rejected." })
  ruleId: string | null;

  @Field(() => AnalyticsRule, {
    nullable: true,
    description: "The analytics rule as stored; null when rejected.",
  })
  rule: AnalyticsRule | null;

  @Field(() => [SigmaProblem], { description: "Why it was rejected; empty otherwise." })
  problems: SigmaProblem[];

  @Field(() => [String], {
    description: "What a reviewer should know about the translation (defaults taken, tags left out…).",
  })
  notes: string[];
}

/** What an import did. */
@ObjectType({
  description: "The outcome of a Sigma import: counts and one result per rule, in document order.",
})
export class ImportSigmaRulesPayload {
  @Field(() => Int, { description: "New analytics rules." })
  createdCount: number;

  @Field(() => Int, { description: "Rules imported before (same Sigma id) that got a new version." })
  updatedCount: number;

  @Field(() => Int, { description: "Rules imported before whose definition this import left as it was." })
  unchangedCount: number;

  @Field(() => Int, { description: "Rules not imported (see their problems)." })
  rejectedCount: number;

  @Field(() => Int, {
    description: "Rules used only by the import's correlation rules, not stored on their own.",
  })
  referencedCount: number;

  @Field(() => [SigmaImportResult], { description: "One result per rule, in document order." })
  results: SigmaImportResult[];
}
