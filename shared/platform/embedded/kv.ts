/**
 * The one Deno KV handle per database file in this process, shared by the embedded metadata store, job queue
 * and event log, together with an in-process change hub: every write goes through these stores, so a store
 * announces its change on the hub right after committing and waiters (watch, take, follow) wake without
 * polling. Opening the same path twice returns the same handle (reference-counted); `:memory:` is never shared.
 */

/** Topic-based in-process notifications. Listeners run synchronously inside `emit`. */
export class ChangeHub {
  #listeners = new Map<string, Set<(payload: unknown) => void>>();

  /** Subscribes to `topic`; returns the unsubscribe function. */
  on(topic: string, listener: (payload: unknown) => void): () => void {
    let set = this.#listeners.get(topic);
    if (!set) this.#listeners.set(topic, set = new Set());
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(topic) === set) this.#listeners.delete(topic);
    };
  }

  emit(topic: string, payload?: unknown): void {
    for (const listener of [...(this.#listeners.get(topic) ?? [])]) listener(payload);
  }
}

/**
 * A wake-up armed before a scan and awaited after it, so a change that lands between the scan and the wait
 * is not missed. `wait` resolves on the first change, after `timeoutMs` (Infinity = never), or on abort.
 */
export class Wakeup {
  #fired = false;
  #resolve: (() => void) | null = null;
  #unsubscribe: () => void;

  constructor(hub: ChangeHub, topic: string) {
    this.#unsubscribe = hub.on(topic, () => {
      this.#fired = true;
      this.#resolve?.();
    });
  }

  async wait(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#fired || signal.aborted) return this.dispose();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.#resolve = resolve;
        onAbort = resolve;
        signal.addEventListener("abort", onAbort, { once: true });
        if (Number.isFinite(timeoutMs)) timer = setTimeout(resolve, Math.max(0, timeoutMs));
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
      this.dispose();
    }
  }

  dispose(): void {
    this.#resolve = null;
    this.#unsubscribe();
  }
}

/** A shared Deno KV database and its change hub. Call `release` once per `openSharedKv`. */
export interface KvHandle {
  kv: Deno.Kv;
  hub: ChangeHub;
  path: string;
  release(): Promise<void>;
}

const open = new Map<string, { kv: Deno.Kv; hub: ChangeHub; refs: number }>();
const opening = new Map<string, Promise<Deno.Kv>>();

/** Opens (or joins) the KV database at `path`. */
export async function openSharedKv(path: string): Promise<KvHandle> {
  if (path === ":memory:") {
    const kv = await Deno.openKv(":memory:");
    return { kv, hub: new ChangeHub(), path, release: () => Promise.resolve(kv.close()) };
  }
  let entry = open.get(path);
  if (!entry) {
    let pending = opening.get(path);
    if (!pending) {
      pending = Deno.openKv(path);
      opening.set(path, pending);
    }
    try {
      const kv = await pending;
      entry = open.get(path) ?? { kv, hub: new ChangeHub(), refs: 0 };
      open.set(path, entry);
    } finally {
      opening.delete(path);
    }
  }
  entry.refs++;
  const shared = entry;
  let released = false;
  return {
    kv: shared.kv,
    hub: shared.hub,
    path,
    release: () => {
      if (released) return Promise.resolve();
      released = true;
      shared.refs--;
      if (shared.refs === 0) {
        open.delete(path);
        shared.kv.close();
      }
      return Promise.resolve();
    },
  };
}

/**
 * Tracks a store's in-flight operations so `close` can wait for them before the shared KV handle closes
 * (closing Deno KV under a running operation makes it fail with "Database is closed").
 */
export class InFlight {
  #running = new Set<Promise<unknown>>();
  readonly closed = new AbortController();

  constructor(private readonly what: string) {}

  run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed.signal.aborted) return Promise.reject(new Error(`${this.what} is closed`));
    const promise = operation();
    this.#running.add(promise);
    const forget = () => this.#running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Aborts waiters (via `closed.signal`) and waits for every running operation to settle. */
  async close(): Promise<void> {
    this.closed.abort();
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}
