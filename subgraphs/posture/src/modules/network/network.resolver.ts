import { BadUserInputError, PageArgs, Role } from "../../../../common/src";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { PostureContext } from "../../context";
import { Resource } from "../inventory/resource.entity";
import { PolicySeverity } from "../policies/policies.types";
import { NetworkNeighbourConnection } from "./network.connections";
import { Exposure, NetworkDirection, NetworkMap, NetworkMapDetail, NetworkNeighbour } from "./network.types";

@Resolver(() => NetworkMap)
export class NetworkResolver {
  @Authorized(Role.READER)
  @Query(() => NetworkMap, {
    description:
      "Network topology with allowed traffic and internet exposure, showing resources with recommendations of at least `minSeverity`. One account's map also shows what of the tenant's other accounts touches its resources (their `accountId` says whose): the VNets/VPCs it peers with and the VMs there that exchange traffic with its own, another account's subnet it sits in, public IP (elastic IP) associated with its VM/NIC or NSG protecting it, another account's instance behind its security group, each with its placement and exposure as the map of every account gives them; and EXTERNAL_NETWORK nodes for peerings to networks not in the inventory. One network's map (`networkId`) shows what lies in that VNet/VPC, whichever account holds it, with its neighbours likewise: the drill-down from a node of the NETWORKS view.",
  })
  networkMap(
    @Arg("accountId", () => ID, {
      nullable: true,
      description:
        "One account (with its neighbours in other accounts); omit for every account. Empty for an account the tenant does not hold.",
    })
    accountId: string | undefined,
    @Arg("networkId", () => ID, {
      nullable: true,
      description:
        "One VNet/VPC (a `NetworkNode.id` of kind VIRTUAL_NETWORK, as the NETWORKS view gives it): its subnets, NICs/instances, VMs, NSGs/security groups and public IPs, with the neighbours one edge away (peered networks, VMs in other networks exchanging traffic with its own) and what places them. Not together with `accountId` (BAD_USER_INPUT); BAD_USER_INPUT for the id of another kind of node; empty for a resource the tenant does not hold.",
    })
    networkId: string | undefined,
    @Arg("minSeverity", () => PolicySeverity, {
      defaultValue: PolicySeverity.MEDIUM,
      description: "Lowest recommendation severity shown (default MEDIUM: high and medium).",
    })
    minSeverity: PolicySeverity,
    @Arg("detail", () => NetworkMapDetail, {
      defaultValue: NetworkMapDetail.RESOURCES,
      description:
        "RESOURCES (default): a node per network resource. NETWORKS: a node per VNet/VPC with what lies in it folded in, for a first look at a large estate.",
    })
    detail: NetworkMapDetail,
    @Ctx() ctx: PostureContext,
  ) {
    if (networkId === undefined || networkId === null)
      return ctx.services.network.map(accountId, minSeverity, detail);
    if (accountId !== undefined && accountId !== null)
      throw new BadUserInputError("Invalid network map.", [
        { field: "accountId", message: "give accountId or networkId, not both" },
      ]);
    return ctx.services.network.networkMap(networkId, minSeverity, detail);
  }
}

@Resolver(() => Resource)
export class ResourceExposureResolver {
  @FieldResolver(() => Exposure, {
    description: "Whether the resource is reachable from the internet, and on which ports.",
  })
  exposure(@Root() resource: Resource, @Ctx() ctx: PostureContext) {
    return ctx.services.network.exposure(resource.id, resource.accountId);
  }
}

@Resolver(() => Resource)
export class ResourceNetworkNeighboursResolver {
  // Not for an INGESTOR, which reads nothing beyond what it pushed.
  @Authorized(Role.READER)
  @FieldResolver(() => NetworkNeighbourConnection, {
    description:
      "The resources (and the internet) this resource can reach or be reached from per the network map, with the ports and rules that allow the traffic; by direction, then neighbour id. Empty for resources the network map gives no traffic (only VMs/instances exchange traffic).",
  })
  networkNeighbours(
    @Root() resource: Resource,
    @Arg("direction", () => NetworkDirection, {
      nullable: true,
      description: "Only INBOUND or only OUTBOUND neighbours; omit for both.",
    })
    direction: NetworkDirection | undefined,
    @Args() page: PageArgs,
    @Ctx() ctx: PostureContext,
  ) {
    return ctx.services.network.neighbours(resource.id, resource.accountId, direction, page);
  }
}

@Resolver(() => NetworkNeighbour)
export class NetworkNeighbourResolver {
  @FieldResolver(() => Resource, {
    nullable: true,
    description: "The neighbouring resource; null for the internet.",
  })
  resource(@Root() neighbour: NetworkNeighbour, @Ctx() ctx: PostureContext) {
    return neighbour.internet ? null : ctx.loaders.resource.load(neighbour.id);
  }
}
