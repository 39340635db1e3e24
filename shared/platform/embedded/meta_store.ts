/**
 * The embedded MetaStore: JSON records in Deno KV under ["meta", collection, key], with the KV versionstamp
 * as the record's revision, so create/update/delete are atomic compare-and-set operations. Deno KV can only
 * watch exact keys, so prefix watches are served by the in-process change hub (every write in this process
 * goes through this store; embedded mode is one process). Values are limited to MAX_VALUE_BYTES of JSON.
 */
import { ConflictError } from "../../schemas/errors.ts";
import { assertTokenKey, assertTokenPrefix, decodeJsonValue, encodeJsonValue } from "../keys.ts";
import type { Collection, MetaChange, MetaStore, Versioned } from "../types.ts";
import { InFlight, type KvHandle } from "./kv.ts";

const ROOT = "meta";
/** Sorts after every character allowed in a key, so [prefix, prefix + END) holds exactly the prefixed keys. */
const END = "\u{10FFFF}";

export class KvMetaStore implements MetaStore {
  #ops = new InFlight("the metadata store");

  constructor(private readonly handle: KvHandle) {}

  get<T>(collection: Collection, key: string): Promise<Versioned<T> | null> {
    return this.#ops.run(() => this.#get(collection, key));
  }

  async #get<T>(collection: Collection, key: string): Promise<Versioned<T> | null> {
    assertTokenKey(key);
    const entry = await this.handle.kv.get<Uint8Array>([ROOT, collection, key]);
    if (entry.versionstamp === null) return null;
    return { key, value: decodeJsonValue<T>(entry.value), revision: entry.versionstamp };
  }

  create<T>(collection: Collection, key: string, value: T): Promise<Versioned<T>> {
    return this.#ops.run(() => this.#write(collection, key, value, null));
  }

  update<T>(collection: Collection, key: string, value: T, expectedRevision: string): Promise<Versioned<T>> {
    return this.#ops.run(() => this.#write(collection, key, value, expectedRevision));
  }

  delete(collection: Collection, key: string, expectedRevision?: string): Promise<void> {
    return this.#ops.run(() => this.#delete(collection, key, expectedRevision));
  }

  async #delete(collection: Collection, key: string, expectedRevision?: string): Promise<void> {
    assertTokenKey(key);
    const kvKey = [ROOT, collection, key];
    const current = await this.handle.kv.get(kvKey);
    if (expectedRevision !== undefined && current.versionstamp !== expectedRevision) {
      throw new ConflictError(key);
    }
    if (current.versionstamp === null) return;
    const result = await this.handle.kv.atomic().check(current).delete(kvKey).commit();
    if (!result.ok) {
      if (expectedRevision !== undefined) throw new ConflictError(key);
      return this.#delete(collection, key);
    }
    this.#announce(collection, { key, value: null, revision: result.versionstamp });
  }

  list<T>(collection: Collection, prefix: string): Promise<Versioned<T>[]> {
    return this.#ops.run(() => this.#list(collection, prefix));
  }

  async #list<T>(collection: Collection, prefix: string): Promise<Versioned<T>[]> {
    assertTokenPrefix(prefix);
    const records: Versioned<T>[] = [];
    const selector = { start: [ROOT, collection, prefix], end: [ROOT, collection, prefix + END] };
    for await (const entry of this.handle.kv.list<Uint8Array>(selector)) {
      records.push({
        key: entry.key[2] as string,
        value: decodeJsonValue<T>(entry.value),
        revision: entry.versionstamp,
      });
    }
    return records;
  }

  async *watch<T>(
    collection: Collection,
    prefix: string,
    options: { signal: AbortSignal; initial?: boolean },
  ): AsyncIterable<MetaChange<T>> {
    assertTokenPrefix(prefix);
    const signal = AbortSignal.any([options.signal, this.#ops.closed.signal]);
    const pending: MetaChange<T>[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = this.handle.hub.on(topic(collection), (payload) => {
      const change = payload as MetaChange<T>;
      if (!change.key.startsWith(prefix)) return;
      pending.push(change.value === null ? change : { ...change, value: structuredClone(change.value) });
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      // Revisions seen in the initial listing: buffered changes at or before them are already reflected.
      const listed = new Map<string, string>();
      if (options.initial) {
        for (const record of await this.list<T>(collection, prefix)) {
          if (signal.aborted) return;
          listed.set(record.key, record.revision);
          yield record;
        }
      }
      while (!signal.aborted) {
        const change = pending.shift();
        if (change) {
          const seen = listed.get(change.key);
          if (seen === undefined || change.revision > seen) yield change;
          continue;
        }
        await new Promise<void>((resolve) => wake = resolve);
        wake = null;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener("abort", onAbort);
    }
  }

  close(): Promise<void> {
    return this.#ops.close();
  }

  async #write<T>(
    collection: Collection,
    key: string,
    value: T,
    expectedRevision: string | null,
  ): Promise<Versioned<T>> {
    assertTokenKey(key);
    const bytes = encodeJsonValue(value, key);
    const kvKey = [ROOT, collection, key];
    const result = await this.handle.kv.atomic()
      .check({ key: kvKey, versionstamp: expectedRevision })
      .set(kvKey, bytes)
      .commit();
    if (!result.ok) {
      throw new ConflictError(
        key,
        expectedRevision === null
          ? `'${key}' already exists in ${collection}`
          : `revision conflict on '${key}' in ${collection}`,
      );
    }
    this.#announce(collection, { key, value: decodeJsonValue<T>(bytes), revision: result.versionstamp });
    return { key, value: decodeJsonValue<T>(bytes), revision: result.versionstamp };
  }

  #announce<T>(collection: Collection, change: MetaChange<T>): void {
    this.handle.hub.emit(topic(collection), change);
  }
}

function topic(collection: Collection): string {
  return `meta:${collection}`;
}
