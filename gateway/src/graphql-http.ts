import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from "@apollo/server";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode } from "../../subgraphs/common/src";

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
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { apollo, maxBodyBytes } = options;
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
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers))
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: "POST", headers, search, body },
      context: () => options.context(req),
    });
    await send(res, response);
  }
}

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
