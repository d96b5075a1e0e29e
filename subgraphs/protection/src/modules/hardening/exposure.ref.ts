/*
 * Posture's internet exposure of a resource, as protection declares it to `@requires` it: the port ranges
 * the network security group rules leave open to the internet, with the rule sources that let traffic in.
 * Posture computes it (subnet and NIC NSGs intersected, Azure's priority semantics); protection only reads
 * what the gateway passes along.
 */
import { Directive, Field, Int, ObjectType, registerEnumType } from "type-graphql";

/** posture's transport protocols. */
export enum NetworkProtocol {
  TCP = "TCP",
  UDP = "UDP",
  ICMP = "ICMP",
  ANY = "ANY",
}

registerEnumType(NetworkProtocol, { name: "NetworkProtocol", description: "TCP, UDP, ICMP or ANY." });

/** posture's OpenPort. */
@ObjectType("OpenPort", {
  description: "A port range reachable from the internet, with the rule sources that let traffic in.",
})
export class OpenPortRef {
  @Directive("@external")
  @Field(() => NetworkProtocol, { description: "Protocol." })
  protocol: NetworkProtocol;

  @Directive("@external")
  @Field(() => Int, { description: "First port." })
  fromPort: number;

  @Directive("@external")
  @Field(() => Int, { description: "Last port." })
  toPort: number;

  @Directive("@external")
  @Field(() => [String], {
    description: "Sources as written in the rules, e.g. `Internet`, `*`, `0.0.0.0/0`.",
  })
  sources: string[];
}

/** posture's Exposure. */
@ObjectType("Exposure", {
  description:
    "Internet exposure, with Azure's rule-priority semantics (a higher-priority deny beats a lower allow).",
})
export class ExposureRef {
  @Directive("@external")
  @Field(() => [OpenPortRef], { description: "Ports reachable from the internet (merged ranges)." })
  openPorts: OpenPortRef[];
}
