/**
 * Helpers on top of MetaStore: `updateWithRetry` runs a read-modify-write compare-and-set loop, re-reading
 * and re-applying the change function whenever another writer won the race.
 */
import { ConflictError } from "../schemas/errors.ts";
import type { Collection, MetaStore, Versioned } from "./types.ts";

/**
 * Applies `change` to the current value of `key` and writes it with compare-and-set, retrying on conflict.
 * `change` returns the new value, or null for "no change" (then the current record is returned unwritten).
 * Returns null if the record does not exist; throws the last ConflictError after `attempts` lost races.
 * `change` may run several times, so it must be pure.
 */
export async function updateWithRetry<T>(
  meta: MetaStore,
  collection: Collection,
  key: string,
  change: (current: T) => T | null,
  attempts = 10,
): Promise<Versioned<T> | null> {
  let lastConflict: ConflictError | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const current = await meta.get<T>(collection, key);
    if (current === null) return null;
    const next = change(structuredClone(current.value));
    if (next === null) return current;
    try {
      return await meta.update<T>(collection, key, next, current.revision);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      lastConflict = error;
      // Jittered backoff so racing writers stop colliding in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * (attempt + 1)));
    }
  }
  throw lastConflict ?? new ConflictError(key);
}
