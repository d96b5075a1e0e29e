import { setTimeout as sleep } from "node:timers/promises";

/**
 * How busy a process's telemetry ingest is, for background work that gives way to it. Agents are the
 * latency-sensitive side: a batch they cannot deliver waits in their bounded local buffers. The relay of
 * telemetry to the SIEM is asynchronous by design (the outbox holds what it has not delivered), so while batches
 * are arriving it keeps to a share of the time instead of competing with them for the same cores.
 */
export class IngestActivity {
  private inFlight = 0;
  private lastEnded = -Infinity;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Runs one ingest batch, counted as in flight until it settles. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
      this.lastEnded = this.now();
    }
  }

  /** Whether a batch is in flight or one ended less than `quietMs` ago. */
  busy(quietMs: number): boolean {
    return this.inFlight > 0 || this.now() - this.lastEnded < quietMs;
  }

  /**
   * Waits while the ingest is busy (see `busy`), for at most `maxMs`; returns at once when it is quiet and as soon
   * as `signal` aborts. Resolves with the milliseconds waited.
   */
  async giveWay(maxMs: number, quietMs: number, signal: AbortSignal): Promise<number> {
    const start = this.now();
    for (;;) {
      const left = start + maxMs - this.now();
      if (left <= 0 || signal.aborted || !this.busy(quietMs)) return this.now() - start;
      // Looked at again after the quiet gap the last batch needs (or sooner, at the deadline).
      const quietIn = this.inFlight > 0 ? quietMs : this.lastEnded + quietMs - this.now();
      // An abort ends the sleep early (rejecting, which the loop's check then answers).
      await sleep(Math.max(1, Math.min(left, quietIn)), undefined, { signal }).catch(() => undefined);
    }
  }
}
