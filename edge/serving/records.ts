/**
 * A short-lived read cache of the records the predict path looks up on every request (the model record, the
 * deployment record), so a burst of predictions does not queue behind metadata-store reads — the embedded
 * store serialises its operations, and a batch can only form from requests that got past their lookups.
 * Entries live `ttlMs` (default 1 s); concurrent misses share one read; absent records are not cached. This
 * edge's own changes replace or drop entries at once (a rollback here is seen by the very next request);
 * changes made through another edge are seen within the TTL.
 */
import type { Collection, MetaStore, Versioned } from "../../shared/platform/types.ts";

interface Entry {
  read: Promise<Versioned<unknown> | null>;
  expires: number;
}

export class RecordCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly meta: MetaStore, private readonly ttlMs = 1000) {}

  /** The record at `key` in `collection`, at most `ttlMs` old. */
  get<T>(collection: Collection, key: string): Promise<Versioned<T> | null> {
    const id = `${collection}/${key}`;
    const now = performance.now();
    const hit = this.#entries.get(id);
    if (hit && hit.expires > now) return hit.read as Promise<Versioned<T> | null>;
    const read = this.meta.get<T>(collection, key);
    const entry: Entry = { read, expires: now + this.ttlMs };
    this.#entries.set(id, entry);
    read.then((value) => {
      if (value === null && this.#entries.get(id) === entry) this.#entries.delete(id);
    }, () => {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
    });
    if (this.#entries.size > 10_000) this.#prune(now);
    return read;
  }

  /** Records this edge just wrote. */
  set<T>(collection: Collection, record: Versioned<T>): void {
    this.#entries.set(`${collection}/${record.key}`, {
      read: Promise.resolve(record),
      expires: performance.now() + this.ttlMs,
    });
  }

  /** Drops a record this edge just deleted. */
  forget(collection: Collection, key: string): void {
    this.#entries.delete(`${collection}/${key}`);
  }

  #prune(now: number) {
    for (const [id, entry] of this.#entries) if (entry.expires <= now) this.#entries.delete(id);
  }
}
