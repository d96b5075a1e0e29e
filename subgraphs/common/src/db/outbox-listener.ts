import { Client } from "pg";
import type { Logger } from "../logger";

type Wake = () => void;

/**
 * One LISTEN connection per process on `<schema>_outbox`, waking the readers of the tenant an outbox
 * row belongs to (or every reader, for those registered with `"*"`). The outbox stays the truth:
 * a wake-up only says "read again", so a lost notification costs latency, never an event. After a
 * reconnect every reader is woken, since notifications sent meanwhile are gone.
 */
export class OutboxListener {
  private client?: Client;
  private readonly readers = new Map<string, Set<Wake>>();
  private closed = false;
  private connecting?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly schema: string,
    private readonly log: Logger,
  ) {}

  /** Registers `wake` for `tenantId` (or `"*"` for all tenants); returns the unregister function. */
  listen(tenantId: string, wake: Wake): () => void {
    let set = this.readers.get(tenantId);
    if (!set) this.readers.set(tenantId, (set = new Set()));
    set.add(wake);
    void this.ensureConnected();
    return () => {
      set.delete(wake);
      if (set.size === 0) this.readers.delete(tenantId);
    };
  }

  /** Resolves once the LISTEN is in place (readers registered before then are woken on connect). */
  ready(): Promise<void> {
    return this.ensureConnected();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private ensureConnected(): Promise<void> {
    if (this.closed || this.client) return Promise.resolve();
    return (this.connecting ??= this.connect().finally(() => (this.connecting = undefined)));
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.url,
      application_name: `rampart-${this.schema}-listen`,
    });
    client.on("notification", (msg) => this.onNotification(msg.payload ?? ""));
    client.on("error", (err) => {
      this.log.warn({ err }, "outbox listener connection lost");
      this.dropAndRetry(client);
    });
    client.on("end", () => this.dropAndRetry(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.schema}_outbox`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.wakeAll();
    } catch (err) {
      this.log.warn({ err }, "outbox listener cannot connect; retrying");
      await client.end().catch(() => undefined);
      this.scheduleRetry();
    }
  }

  private dropAndRetry(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.readers.size > 0) void this.ensureConnected();
    }, 1000);
    this.retryTimer.unref();
  }

  private onNotification(payload: string): void {
    // "<tenant> <topic> <seq>": the tenant is everything before the last two fields.
    const parts = payload.split(" ");
    const tenant = parts.length >= 3 ? parts.slice(0, -2).join(" ") : undefined;
    if (tenant === undefined) return this.wakeAll();
    for (const wake of this.readers.get(tenant) ?? []) wake();
    for (const wake of this.readers.get("*") ?? []) wake();
  }

  private wakeAll(): void {
    for (const set of this.readers.values()) for (const wake of set) wake();
  }
}
