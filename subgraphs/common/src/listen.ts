import type http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";

/** What the common `listen` failures mean, for the log line an operator reads. */
const REASONS: Record<string, string> = {
  EADDRINUSE: "the address is already in use by another process",
  EACCES: "permission denied; a port below 1024 needs privileges",
  EADDRNOTAVAIL: "the address is not one of this machine's",
};

/** A server could not bind its address: the process cannot serve, so it must not start anything else. */
export class ListenError extends Error {
  override readonly name = "ListenError";
  /** The system error code: `EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`… */
  readonly code: string;
  /** `host:port` as configured (`[::1]:4000` for IPv6). */
  readonly address: string;
  /** What the code means, in words. */
  readonly reason: string;

  constructor(
    readonly host: string,
    readonly port: number,
    cause: NodeJS.ErrnoException,
  ) {
    const code = cause.code ?? "UNKNOWN";
    const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    const reason = REASONS[code] ?? cause.message;
    super(`Cannot listen on ${address}: ${reason} (${code}).`, { cause });
    this.code = code;
    this.address = address;
    this.reason = reason;
  }
}

/**
 * Binds `server` to `host:port`. A failure rejects with a ListenError instead of surfacing as an
 * 'error' event: with no listener that event kills the process with a stack trace, and with one (a
 * WebSocket server attached to the HTTP server) it is logged and the process goes on without listening.
 */
export function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      reject(new ListenError(host, port, err));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/** A graphql-ws endpoint's WebSocket server and how to detach it from its HTTP server. */
export interface AttachedWebSocketServer {
  wss: WebSocketServer;
  /** Stops taking upgrades (the open sockets stay: close them first). */
  detach(): void;
}

/**
 * Largest WebSocket message a graphql-ws endpoint takes (a larger one closes the socket with 1009, Message Too
 * Big): a subscription's document (at most 5,000 tokens) with its variables, or a `connection_init` with a token.
 * ws would otherwise buffer up to 100 MiB of a message, also from a client not yet authenticated.
 */
export const MAX_LIVE_MESSAGE_BYTES = 256 * 1024;

/**
 * A WebSocket server for the upgrades of `httpServer` on `path`. Unlike `new WebSocketServer({ server })`,
 * it does not take over the HTTP server's 'error' events, so a failed listen reaches `listen` alone and is
 * not also printed by graphql-ws as an "internal error" of its own.
 */
export function attachWebSocketServer(httpServer: http.Server, path: string): AttachedWebSocketServer {
  const wss = new WebSocketServer({ noServer: true, path, maxPayload: MAX_LIVE_MESSAGE_BYTES });
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  httpServer.on("upgrade", onUpgrade);
  return { wss, detach: () => void httpServer.off("upgrade", onUpgrade) };
}
