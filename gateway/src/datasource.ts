import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import type { GatewayGraphQLResponse } from "@apollo/server-gateway-interface";
import { GraphQLError } from "graphql";
import { Agent, type Dispatcher } from "undici";
import { ErrorCode, IDENTITY_HEADER } from "../../subgraphs/common/src";

/** What a subgraph fetch needs from the gateway's request context. */
export interface SubgraphRequestContext {
  internalToken?: string;
}

/**
 * Sends the gateway's subgraph fetches with undici's `dispatch` (`post`, below) on a shared keep-alive pool.
 * @apollo/gateway's RemoteGraphQLDataSource builds node-fetch `Headers` and `Request` objects for
 * every fetch (whatever the fetcher) and then goes through a WHATWG fetch; the profile of the
 * benchmark showed those layers as the gateway's largest avoidable cost, so this data source
 * does only what a subgraph call needs: one POST with the internal identity token, one JSON parse.
 */
export class UndiciDataSource<
  TContext extends SubgraphRequestContext,
> implements GraphQLDataSource<TContext> {
  private readonly origin: string;
  private readonly path: string;

  constructor(
    url: string,
    private readonly dispatcher: Agent,
    /** The subgraph's name, as errors name it to clients (`extensions.serviceName` names it too). */
    private readonly name = new URL(url).host,
  ) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.path = parsed.pathname + parsed.search;
  }

  async process(options: GraphQLDataSourceProcessOptions<TContext>): Promise<GatewayGraphQLResponse> {
    const { request } = options;
    const context = options.context as Partial<SubgraphRequestContext>;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (context.internalToken) headers[IDENTITY_HEADER] = context.internalToken;
    let answer: { statusCode: number; text: string };
    try {
      answer = await post(this.dispatcher, {
        origin: this.origin,
        path: this.path,
        method: "POST",
        headers,
        body: requestBody(request),
      });
    } catch (err) {
      throw subgraphUnavailable(this.name, NOT_CONNECTED.has((err as { code?: string }).code ?? ""));
    }
    const { statusCode, text } = answer;
    let parsed: GatewayGraphQLResponse | undefined;
    try {
      parsed = JSON.parse(text) as GatewayGraphQLResponse;
    } catch {
      parsed = undefined;
    }
    if (parsed && (parsed.data !== undefined || parsed.errors !== undefined)) return parsed;
    // A proxy in front of the subgraph, or the subgraph while it starts or drains, without a GraphQL answer.
    if (statusCode === 502 || statusCode === 503 || statusCode === 504)
      throw subgraphUnavailable(this.name, false);
    const code =
      statusCode === 401
        ? ErrorCode.Unauthenticated
        : statusCode === 403
          ? ErrorCode.Forbidden
          : ErrorCode.Internal;
    throw new GraphQLError(`Subgraph answered HTTP ${statusCode} without a GraphQL response.`, {
      extensions: { code },
    });
  }
}

/** Connection errors that mean the request never reached the subgraph. */
const NOT_CONNECTED = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * A subgraph that cannot be reached (`SUBGRAPH_UNREACHABLE`: the request never left, so nothing was done there) or
 * gave no answer (`SUBGRAPH_NO_ANSWER`: the connection broke or a proxy answered 502/503/504, so a change may have
 * been made): UNAVAILABLE, with the fields it was to resolve null and the rest of the operation answered.
 */
function subgraphUnavailable(name: string, notConnected: boolean): GraphQLError {
  return new GraphQLError(
    notConnected
      ? `The ${name} service cannot be reached: nothing was done there. Retry later.`
      : `The ${name} service did not answer. Retry a read later; a change may or may not have been made, so read it back before sending it again.`,
    {
      extensions: {
        code: ErrorCode.Unavailable,
        reason: notConnected ? "SUBGRAPH_UNREACHABLE" : "SUBGRAPH_NO_ANSWER",
        serviceName: name,
      },
    },
  );
}

/**
 * One request on `dispatcher`: its final status and its body as text (UTF-8, a byte order mark dropped, as
 * undici's `body.text()` reads it). A handler of our own rather than undici's `request`, which parses every
 * response's headers into an object, wraps the body in a Readable stream and runs the callback in an async
 * resource: ~5 % of the gateway's CPU in the benchmark's profile, for a body read whole anyway.
 */
export function post(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
): Promise<{ statusCode: number; text: string }> {
  return new Promise((resolve, reject) => {
    let statusCode = 0;
    const chunks: Buffer[] = [];
    const handler: Dispatcher.DispatchHandler = {
      onConnect: () => undefined,
      onError: reject,
      // 1xx answers come before the final one.
      onHeaders: (status) => {
        if (status >= 200) statusCode = status;
        return true;
      },
      onData: (chunk) => {
        chunks.push(chunk);
        return true;
      },
      onComplete: () => {
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const bom = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
        resolve({ statusCode, text: body.toString("utf8", bom ? 3 : 0) });
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (err) {
      reject(err);
    }
  });
}

/** Subgraph queries as JSON strings: the few a query plan holds, sent again and again. */
const queriesJson = new Map<string, string>();
const QUERIES_JSON_LIMIT = 2000;

/**
 * `JSON.stringify({ query, variables, operationName, extensions })`, character for character, with the query's
 * JSON (a few hundred characters, escaped and copied for every fetch) made once per query.
 */
export function requestBody(request: GraphQLDataSourceProcessOptions["request"]): string {
  const { query, variables, operationName, extensions } = request;
  if (query === undefined) return JSON.stringify({ variables, operationName, extensions });
  let quoted = queriesJson.get(query);
  if (quoted === undefined) {
    quoted = JSON.stringify(query);
    if (queriesJson.size >= QUERIES_JSON_LIMIT) queriesJson.delete(queriesJson.keys().next().value!);
    queriesJson.set(query, quoted);
  }
  const rest = JSON.stringify({ variables, operationName, extensions });
  return rest === "{}" ? `{"query":${quoted}}` : `{"query":${quoted},${rest.slice(1)}`;
}

/**
 * The keep-alive pool shared by every subgraph data source (and ingest forward) of one gateway. A subgraph whose
 * answer does not begin within `timeoutMs` (SUBGRAPH_TIMEOUT_MS), or stalls that long, fails the fetch instead of
 * holding its client for undici's five minutes.
 */
export function createSubgraphAgent(timeoutMs = 120_000): Agent {
  return new Agent({
    connections: 64,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}
