import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from "@apollo/server";
import type { GatewayExecutionResult, GatewayGraphQLRequestContext } from "@apollo/server-gateway-interface";
import type { FormattedExecutionResult, GraphQLSchema } from "graphql";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode } from "../../subgraphs/common/src";
import { PRECOMPUTED, type KnownOperations, type Precomputed } from "./known-operations";

/**
 * What the lean path needs to answer an operation Apollo Server has accepted before without going through it
 * again (`KnownOperations`): everything Apollo does for such a request that depends on the request itself.
 */
export interface KnownOperationPath {
  operations: KnownOperations;
  executor: {
    readonly servingSchema: GraphQLSchema | undefined;
    executeKnown(requestContext: GatewayGraphQLRequestContext): Promise<GatewayExecutionResult> | undefined;
  };
  /**
   * The checks Apollo's plugins make of each request rather than of its operation (the variables' depth): false
   * leaves the request to Apollo, which refuses it with its own error.
   */
  admits(variables: Record<string, unknown>): boolean;
  /** What Apollo's `willSendResponse` hooks do to an answer without errors (and count). */
  willSendResponse(result: FormattedExecutionResult): FormattedExecutionResult;
  /** Apollo's logger, which the executor reports unexpected errors to. */
  logger: GatewayGraphQLRequestContext["logger"];
  /** False once the server is stopping: from then on Apollo answers every request (and refuses it). */
  open(): boolean;
}

/** The media type Apollo Server chose for each Accept header of a successful answer (undefined: no header). */
const LEARNT_CONTENT_TYPES = 64;

/** A plain `application/json` body in UTF-8, sent as is: what the lean path reads. */
const PLAIN_JSON = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * `POST /graphql` without Express, the path every query and mutation takes. Express, its router,
 * body-parser (type-is, raw-body), content negotiation and `res.send` (which hashes every body for an ETag)
 * showed as ~8 % of the gateway's CPU in the benchmark's profile, and skipping them cut its CPU per request
 * by ~20 % (bench/README.md, P1). This does only what a GraphQL POST needs and hands the request to Apollo
 * Server as `@as-integrations/express5` would.
 *
 * Only the common case is served here: `POST /graphql` with a plain UTF-8 JSON body and no
 * Content-Encoding. Everything else (GET, other media types or charsets, compressed bodies, other paths)
 * answers `false` and goes through Express as before, so its body parsing and errors stay one
 * implementation. The errors this path answers itself are Express's, word for word (`jsonErrors`).
 */
export function leanGraphqlPost<TContext extends BaseContext>(options: {
  apollo: ApolloServer<TContext>;
  maxBodyBytes: number;
  context: (req: IncomingMessage) => Promise<TContext>;
  onError: (err: unknown) => void;
  /** Answers operations Apollo accepted before without it, as it would (`answerKnown`). */
  known?: KnownOperationPath;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { apollo, maxBodyBytes, known } = options;
  /**
   * Accept header → the content type of Apollo's successful answers to it. Apollo picks it by content
   * negotiation on the Accept header alone (application/json unless the client prefers
   * application/graphql-response+json); the known-operation path reuses Apollo's choice and leaves a header
   * it has not seen yet to Apollo.
   */
  const contentTypes = new Map<string | undefined, string>();
  return (req, res) => {
    if (req.method !== "POST") return false;
    const url = req.url ?? "";
    const query = url.indexOf("?");
    if ((query < 0 ? url : url.slice(0, query)) !== "/graphql") return false;
    const type = req.headers["content-type"];
    const encoding = req.headers["content-encoding"];
    if (!type || !PLAIN_JSON.test(type) || (encoding && encoding.toLowerCase() !== "identity")) return false;
    serve(req, res, query < 0 ? "" : url.slice(query)).catch((err: unknown) => {
      // A client that went away mid-request (its body cut short, its socket closed) is no server error.
      if (req.destroyed || res.destroyed) return;
      options.onError(err);
      if (!res.headersSent) reply(res, 500, "Internal server error.", ErrorCode.Internal);
      else res.destroy();
    });
    return true;
  };

  async function serve(req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    const declared = Number(req.headers["content-length"]);
    const raw = declared > maxBodyBytes ? null : await readBody(req, maxBodyBytes);
    if (!raw) return tooLarge(req, res);
    let body: unknown = {};
    try {
      // As body-parser reads JSON: a byte order mark dropped, an empty body is `{}`, and (strict mode) only an
      // object or an array is JSON.
      let text = raw.toString("utf8");
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.length > 0) {
        const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
        if (first !== "{" && first !== "[") throw new SyntaxError("not an object or an array");
        body = JSON.parse(text);
      }
    } catch {
      return reply(res, 400, "The request body is not valid JSON.", ErrorCode.BadUserInput);
    }
    let context = () => options.context(req);
    if (known && search === "") {
      const outcome = await answerKnown(known, req, res, body);
      if (outcome === true) return;
      if (outcome) context = outcome;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers))
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: "POST", headers, search, body },
      context,
    });
    if (known && response.status === undefined && response.body.kind === "complete") {
      const type = response.headers.get("content-type");
      const accept = req.headers.accept;
      if (type && !contentTypes.has(accept) && contentTypes.size < LEARNT_CONTENT_TYPES)
        contentTypes.set(accept, type);
    }
    await send(res, response);
  }

  /**
   * A request for an operation Apollo Server has accepted before (same query text, operation name and schema),
   * answered as Apollo answers it but without its request pipeline: the client's token is verified (the
   * context), the per-request plugin checks run (`admits`), the operation executes, and an answer without
   * errors goes out as Apollo sends it (its `willSendResponse` work, `cache-control: no-store` from Apollo's
   * cache-control plugin — the gateway's answers carry no cache hints — the content type Apollo chose for the
   * Accept header, `JSON.stringify` + newline). What Apollo does only for a POST with another body shape,
   * `extensions` (persisted queries), a query-plan header, or an Accept header it has not answered yet, is
   * left to it, as are CSRF prevention (a JSON POST always passes: it needs a preflight) and GET.
   *
   * Everything that did not succeed goes to Apollo: a failed authentication or check with its context (Apollo
   * then fails it with the same error, once), and an executed request whose answer has errors, or whose
   * execution threw, with that outcome in its context (`PRECOMPUTED`) for the executor to return instead of
   * executing again, so that Apollo's error handling (formatError, masking, status codes, error hooks) stays
   * the one implementation.
   *
   * Resolves true once it has answered; otherwise the context to hand to Apollo, or undefined to leave the
   * request to Apollo untouched.
   */
  async function answerKnown(
    path: KnownOperationPath,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ): Promise<true | (() => Promise<TContext>) | undefined> {
    if (typeof body !== "object" || body === null || Array.isArray(body)) return;
    const { query, operationName, variables, extensions } = body as Record<string, unknown>;
    if (typeof query !== "string" || query === "" || extensions !== undefined) return;
    if (operationName !== undefined && operationName !== null && typeof operationName !== "string") return;
    if (variables !== undefined && variables !== null && !isRecord(variables)) return;
    if (req.headers["apollo-query-plan-experimental"] !== undefined || !path.open()) return;
    const contentType = contentTypes.get(req.headers.accept);
    if (contentType === undefined) return;
    const name = operationName ?? undefined;
    const operation = path.operations.get(query, name, path.executor.servingSchema);
    if (!operation) return;

    const pending = options.context(req);
    let contextValue: TContext;
    try {
      contextValue = await pending;
    } catch {
      return () => pending;
    }
    const vars = (variables ?? undefined) as Record<string, unknown> | undefined;
    if (!path.admits(vars ?? {})) return () => pending;
    const request: GatewayGraphQLRequestContext["request"] = { query, operationName: name, variables: vars };
    const requestContext = {
      request,
      response: { http: { headers: new Map(), status: undefined } },
      logger: path.logger,
      schema: operation.schema,
      // As Apollo hands it to the executor: a shallow copy.
      context: { ...contextValue },
      queryHash: operation.queryHash,
      document: operation.document,
      source: query,
      operationName: operation.operationName,
      operation: operation.operation,
      metrics: {},
      requestIsBatched: false,
    } as unknown as GatewayGraphQLRequestContext;
    let outcome: Precomputed;
    try {
      const running = path.executor.executeKnown(requestContext);
      if (!running) return () => pending;
      outcome = { result: await running };
    } catch (thrown) {
      outcome = { thrown };
    }
    if ("thrown" in outcome || outcome.result.errors?.length)
      return async () => ({ ...contextValue, [PRECOMPUTED]: outcome });
    const { result } = outcome;
    const single = path.willSendResponse({ ...(result as FormattedExecutionResult), errors: undefined });
    const text = `${JSON.stringify({ errors: single.errors, data: single.data, extensions: single.extensions })}\n`;
    res.statusCode = 200;
    res.setHeader("cache-control", "no-store");
    res.setHeader("content-type", contentType);
    res.setHeader("content-length", Buffer.byteLength(text));
    res.end(text);
    return true;
  }
}

/** An object as Apollo accepts one for `variables`. */
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);

/**
 * The request body, or null as soon as it exceeds `limit` (the rest is left unread, for `tooLarge`). Read
 * with listeners rather than `for await`, whose early exit would destroy the request, and the socket with
 * it, before the 413 reaches the client. Rejects when the client goes away first.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onClose = () => reject(new Error("the client closed the request before its body ended"));
    // The close listener goes too: every request closes once answered, and an Error (with its stack) made
    // then for a promise long settled cost ~2 % of the gateway's CPU in the benchmark's profile.
    const stop = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      stop();
      resolve(null);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.once("error", reject);
    // Closed before its end: the client left.
    req.once("close", onClose);
  });
}

async function send(res: ServerResponse, response: HTTPGraphQLResponse): Promise<void> {
  res.statusCode = response.status ?? 200;
  for (const [key, value] of response.headers) res.setHeader(key, value);
  if (response.body.kind === "complete") {
    res.setHeader("content-length", Buffer.byteLength(response.body.string));
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

/** 413, as Express answers it; the rest of the body is not read, and the connection closes after. */
function tooLarge(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader("connection", "close");
  reply(res, 413, "The request body is larger than this endpoint accepts.", ErrorCode.BadUserInput);
  req.resume();
}

function reply(res: ServerResponse, status: number, message: string, code: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
