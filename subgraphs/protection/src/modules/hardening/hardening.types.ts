import { Field, Int, ObjectType, registerEnumType } from "type-graphql";
import { NetworkProtocol } from "./exposure.ref";

/** What to do with an internet-open rule. */
export enum HardeningAction {
  RESTRICT = "RESTRICT",
  CLOSE = "CLOSE",
}

registerEnumType(HardeningAction, {
  name: "HardeningAction",
  description:
    "RESTRICT (allow only the recommended source prefixes) or CLOSE (no legitimate traffic came in: remove the rule or deny the internet).",
});

/** Sources seen, aggregated into one recommended prefix. */
@ObjectType({ description: "Internet sources that connected, aggregated into one prefix." })
export class ObservedSourcePrefix {
  @Field({ description: "The prefix, e.g. `203.0.113.24/32` or `198.51.100.0/24`." })
  prefix: string;

  @Field(() => [String], { description: "The addresses seen in it." })
  addresses: string[];

  @Field(() => Int, { description: "Inbound flows from them over the window." })
  connections: number;

  @Field({ description: "Last flow from them." })
  lastSeen: Date;
}

/** A recommendation to narrow (or close) a rule that opens a port range to the whole internet. */
@ObjectType({
  description:
    "Adaptive network hardening: a port range the network security group rules open to the whole internet, compared with the inbound traffic actually seen.",
})
export class HardeningRecommendation {
  @Field(() => NetworkProtocol, { description: "Protocol of the open range." })
  protocol: NetworkProtocol;

  @Field(() => Int, { description: "First port of the open range." })
  fromPort: number;

  @Field(() => Int, { description: "Last port of the open range." })
  toPort: number;

  @Field(() => [String], {
    description: "The rule sources that open it today, as written (e.g. `Internet`, `*`).",
  })
  currentSources: string[];

  @Field(() => HardeningAction, { description: "What to do." })
  action: HardeningAction;

  @Field(() => [String], {
    description: "Source prefixes to allow instead (RESTRICT); empty for CLOSE. Sorted by address.",
  })
  recommendedSources: string[];

  @Field(() => [ObservedSourcePrefix], { description: "The traffic behind the recommendation, by prefix." })
  observedSources: ObservedSourcePrefix[];

  @Field(() => [String], {
    description:
      "Addresses that connected but are left out because detections name them as attackers of the machine.",
  })
  excludedSources: string[];

  @Field(() => Int, { description: "Inbound flows counted." })
  connections: number;

  @Field({ description: "Start of the traffic window." })
  windowStart: Date;

  @Field({ description: "End of the traffic window (now)." })
  windowEnd: Date;

  @Field({ description: "The recommendation in words." })
  description: string;
}
