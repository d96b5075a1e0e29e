import { createClient as createSseClient } from "graphql-sse";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

/** A subscription's received results, as a test watches them. */
export interface Stream {
  results: Array<{
    data?: Record<string, unknown> | null;
    errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
  }>;
  completed: boolean;
  error?: unknown;
  stop(): void;
}

/** A graphql-ws client of the gateway at `url` (its HTTP GraphQL URL) for `token`, without retries. */
export function wsClient(url: string, token: string): Client {
  return createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazyCloseTimeout: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  });
}

/** Subscribes and records every result, the end and the error (a close event or GraphQL errors). */
export function watch(client: Client, query: string, variables: Record<string, unknown> = {}): Stream {
  const stream: Stream = { results: [], completed: false, stop: () => undefined };
  stream.stop = client.subscribe(
    { query, variables },
    {
      next: (r) => void stream.results.push(r as Stream["results"][number]),
      error: (err) => {
        stream.error = err;
        stream.completed = true;
      },
      complete: () => {
        stream.completed = true;
      },
    },
  );
  return stream;
}

/** Polls a synchronous `check` every 25 ms until it returns a value, or fails naming `what`. */
export async function eventually<T>(
  check: () => T | undefined | false,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A Server-Sent Events subscription on the gateway at `url` (its HTTP GraphQL URL), recording every result. */
export function watchSse(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): { results: Stream["results"]; ended: Promise<void>; dispose(): void } {
  const client = createSseClient({
    url: `${url}/stream`,
    headers: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const results: Stream["results"] = [];
  const ended = (async () => {
    for await (const r of client.iterate({ query, variables })) results.push(r as Stream["results"][number]);
  })();
  return { results, ended, dispose: () => client.dispose() };
}
