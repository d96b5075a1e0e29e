import type { FormattedExecutionResult, GraphQLFormattedError } from "graphql";
import { ErrorCode } from "../../subgraphs/common/src";

/**
 * Moves `@apollo/gateway`'s value-completion errors into `errors` when they cost the whole answer. When no
 * subgraph reported an error but shaping the response nulled a non-null field (a reference another subgraph
 * does not resolve), the stock gateway reports it under `extensions.valueCompletion` only. Where the nulling
 * stops at a nullable field (a detection's `resource` the inventory no longer knows) that is the intended
 * answer, and it stays an extension. Where it reaches the root, a client would get `data: null` and no error
 * at all: GraphQL requires errors then, so they are moved.
 */
export function surfaceValueCompletion(result: FormattedExecutionResult): FormattedExecutionResult {
  const completion = result.extensions?.valueCompletion as readonly GraphQLFormattedError[] | undefined;
  if (!completion?.length || result.data != null) return result;
  const { valueCompletion: _moved, ...extensions } = result.extensions!;
  const errors = completion.map((e) => ({
    message: e.message,
    ...(e.path ? { path: e.path } : {}),
    extensions: { code: ErrorCode.Internal },
  }));
  return {
    ...result,
    errors: [...(result.errors ?? []), ...errors],
    ...(Object.keys(extensions).length ? { extensions } : { extensions: undefined }),
  };
}
