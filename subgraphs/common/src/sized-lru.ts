/**
 * Values kept by key, each with a size (rows, nodes, whatever its owner counts), at most `limit` in all: the least
 * recently used go first. A value larger than the whole limit is not kept; a limit of 0 keeps nothing. A Map keeps
 * insertion order, so moving an entry to the end on use makes its first key the least recently used.
 */
export class SizedLru<K, V> {
  private readonly entries = new Map<K, { value: V; size: number }>();
  private held = 0;

  constructor(private limit: number) {}

  /** Changes the limit, dropping what no longer fits (everything, at 0: values of size 0 too). */
  setLimit(limit: number): void {
    this.limit = limit;
    if (this.enabled) this.evict();
    else this.clear();
  }

  /** Whether anything can be kept (the limit is above 0). */
  get enabled(): boolean {
    return this.limit > 0;
  }

  /** The sizes of the values held now, added up. */
  get size(): number {
    return this.held;
  }

  /** Drops everything. */
  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  /** The value kept under `key`, if any, marked most recently used. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** The value kept under `key`, if any, without marking it used. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Keeps `value` under `key` in place of what was there, unless it is larger than the whole limit (or the limit is 0). */
  set(key: K, value: V, size: number): void {
    this.delete(key);
    if (!this.enabled || size > this.limit) return;
    this.entries.set(key, { value, size });
    this.held += size;
    this.evict();
  }

  /** Sets the size of the value kept under `key` (one whose size is known only later), dropping what then no longer fits. */
  resize(key: K, size: number): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.held += size - entry.size;
    entry.size = size;
    if (size > this.limit) this.delete(key);
    else this.evict();
  }

  /** Drops the value kept under `key`, if any. */
  delete(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.held -= entry.size;
  }

  /** Keys and values held, least recently used first. */
  *[Symbol.iterator](): IterableIterator<[K, V]> {
    for (const [key, entry] of this.entries) yield [key, entry.value];
  }

  /** Least recently used first, until what is held fits the limit. */
  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.held <= this.limit) return;
      this.delete(key);
    }
  }
}
