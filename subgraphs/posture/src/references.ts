import { requireReader, type ReferenceResolvers } from "../../common/src";
import type { PostureContext } from "./context";

/** How other subgraphs' references to posture's entities are resolved: always through the DataLoader. */
export const postureReferences: ReferenceResolvers = {
  Resource: {
    __resolveReference: (ref: { id: string }, ctx: PostureContext) => {
      requireReader(ctx);
      return ctx.loaders.resource.load(ref.id);
    },
  },
  SecurityAlert: {
    __resolveReference: (
      ref: { id: string; resourceId?: string | null; resourceExternalId?: string | null },
      ctx: PostureContext,
    ) => {
      requireReader(ctx);
      return ref;
    },
  },
  CloudAccount: {
    __resolveReference: (ref: { id: string }, ctx: PostureContext) => {
      requireReader(ctx);
      return ctx.loaders.account.load(ref.id);
    },
  },
};
