/**
 * The distributed MetaStore: one NATS KV bucket (`<ns>_meta`, history 1) holding every collection, the KV
 * key being `<collection>.<key>`; the KV revision (a stream sequence) is the record's revision, so create /
 * update / delete map to KV create / update / delete-with-previousSeq. Prefix watches use NATS subject
 * wildcards: `<collection>.<prefix>>` when the prefix ends on a token boundary, else the enclosing
 * wildcard filtered client-side. Values are JSON, limited to MAX_VALUE_BYTES like the embedded store.
 */
import { type KV, Kvm, KvWatchInclude } from "@nats-io/kv";
import { ConflictError } from "../../schemas/errors.ts";
import {
  assertTokenKey,
  assertTokenPrefix,
  decodeJsonValue,
  encodeJsonValue,
  MAX_VALUE_BYTES,
} from "../keys.ts";
import type { Collection, MetaChange, MetaStore, Versioned } from "../types.ts";
import { isWrongLastSequence, type NatsContext } from "./nats.ts";

export class NatsMetaStore implements MetaStore {
  #closed = new AbortController();

  private constructor(private readonly kv: KV) {}

  /** Opens (creating if missing) the metadata bucket. */
  static async open(context: NatsContext): Promise<NatsMetaStore> {
    const kv = await new Kvm(context.js).create(context.names.metaBucket, {
      history: 1,
      maxValueSize: MAX_VALUE_BYTES + 1024,
    });
    return new NatsMetaStore(kv);
  }

  async get<T>(collection: Collection, key: string): Promise<Versioned<T> | null> {
    assertTokenKey(key);
    const entry = await this.kv.get(`${collection}.${key}`);
    if (!entry || entry.operation !== "PUT") return null;
    return { key, value: decodeJsonValue<T>(entry.value), revision: String(entry.revision) };
  }

  async create<T>(collection: Collection, key: string, value: T): Promise<Versioned<T>> {
    assertTokenKey(key);
    const bytes = encodeJsonValue(value, key);
    try {
      const revision = await this.kv.create(`${collection}.${key}`, bytes);
      return { key, value: decodeJsonValue<T>(bytes), revision: String(revision) };
    } catch (error) {
      if (isWrongLastSequence(error) || /exists/i.test(String((error as Error).message))) {
        throw new ConflictError(key, `'${key}' already exists in ${collection}`);
      }
      throw error;
    }
  }

  async update<T>(
    collection: Collection,
    key: string,
    value: T,
    expectedRevision: string,
  ): Promise<Versioned<T>> {
    assertTokenKey(key);
    const bytes = encodeJsonValue(value, key);
    const expected = parseRevision(expectedRevision);
    if (expected === null) throw new ConflictError(key);
    try {
      const revision = await this.kv.update(`${collection}.${key}`, bytes, expected);
      return { key, value: decodeJsonValue<T>(bytes), revision: String(revision) };
    } catch (error) {
      if (isWrongLastSequence(error)) {
        throw new ConflictError(key, `revision conflict on '${key}' in ${collection}`);
      }
      throw error;
    }
  }

  async delete(collection: Collection, key: string, expectedRevision?: string): Promise<void> {
    assertTokenKey(key);
    for (;;) {
      const current = await this.get(collection, key);
      if (expectedRevision !== undefined && current?.revision !== expectedRevision) {
        throw new ConflictError(key);
      }
      if (current === null) return;
      try {
        await this.kv.delete(`${collection}.${key}`, { previousSeq: Number(current.revision) });
        return;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
        if (expectedRevision !== undefined) throw new ConflictError(key);
      }
    }
  }

  async list<T>(collection: Collection, prefix: string): Promise<Versioned<T>[]> {
    assertTokenPrefix(prefix);
    const keys: string[] = [];
    for await (const kvKey of await this.kv.keys(subjectFilter(collection, prefix))) {
      const key = kvKey.slice(collection.length + 1);
      if (key.startsWith(prefix)) keys.push(key);
    }
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const records = await Promise.all(keys.map((key) => this.get<T>(collection, key)));
    return records.filter((record): record is Versioned<T> => record !== null);
  }

  async *watch<T>(
    collection: Collection,
    prefix: string,
    options: { signal: AbortSignal; initial?: boolean },
  ): AsyncIterable<MetaChange<T>> {
    assertTokenPrefix(prefix);
    const signal = AbortSignal.any([options.signal, this.#closed.signal]);
    if (signal.aborted) return;
    const watcher = await this.kv.watch({
      key: subjectFilter(collection, prefix),
      include: options.initial ? KvWatchInclude.LastValue : KvWatchInclude.UpdatesOnly,
    });
    const stop = () => watcher.stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const entry of watcher) {
        if (signal.aborted) break;
        const key = entry.key.slice(collection.length + 1);
        if (!key.startsWith(prefix)) continue;
        const deleted = entry.operation !== "PUT";
        if (deleted && !entry.isUpdate) continue; // a tombstone in the initial values: no record
        yield {
          key,
          value: deleted ? null : decodeJsonValue<T>(entry.value),
          revision: String(entry.revision),
        };
      }
    } finally {
      signal.removeEventListener("abort", stop);
      watcher.stop();
    }
  }

  close(): Promise<void> {
    this.#closed.abort();
    return Promise.resolve();
  }
}

/** The narrowest NATS wildcard covering every `<collection>.<key>` whose key starts with `prefix`. */
function subjectFilter(collection: Collection, prefix: string): string {
  const boundary = prefix.lastIndexOf(".");
  return boundary < 0 ? `${collection}.>` : `${collection}.${prefix.slice(0, boundary + 1)}>`;
}

function parseRevision(revision: string): number | null {
  return /^[1-9][0-9]*$/.test(revision) ? Number(revision) : null;
}
