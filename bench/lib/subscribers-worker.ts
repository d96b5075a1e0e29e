/**
 * Worker thread of the P3 benchmark: opens N graphql-ws connections to the gateway, each with one
 * subscription, and records when each event reaches each subscriber (wall clock, sub-millisecond).
 * Runs on its own event loop so the clients' work does not sit on the gateway's.
 */
import { createClient, type Client } from "graphql-ws";
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";

interface Input {
  url: string;
  token: string;
  count: number;
  query: string;
}

const { url, token, count, query } = workerData as Input;
const received = new Map<string, number[]>();
const clients: Client[] = [];
let connected = 0;
let errors = 0;
let firstError: unknown;

const now = () => performance.timeOrigin + performance.now();

for (let i = 0; i < count; i++) {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
    on: { connected: () => void connected++ },
  });
  clients.push(client);
  client.subscribe<{ incidentChanges: { incident: { title: string } } }>(
    { query },
    {
      next: (result) => {
        const at = now();
        const title = result.data?.incidentChanges.incident.title;
        if (!title || result.errors) {
          errors++;
          firstError ??= result.errors ?? result;
          if (!title) return;
        }
        let times = received.get(title);
        if (!times) received.set(title, (times = []));
        times.push(at);
      },
      error: (err) => {
        errors++;
        firstError ??= err;
      },
      complete: () => undefined,
    },
  );
}

parentPort!.on("message", (message: string) => {
  if (message === "status") parentPort!.postMessage({ connected, errors });
  if (message === "report")
    parentPort!.postMessage({
      received: [...received.entries()],
      errors,
      firstError: JSON.stringify(firstError),
    });
  if (message === "close") {
    void Promise.all(clients.map((c) => c.dispose())).then(() => parentPort!.postMessage("closed"));
  }
});
