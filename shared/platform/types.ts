/**
 * The platform seams: the only way edge and runner talk to storage and to each other. Each interface has an
 * embedded implementation (files under EDGETUNE_DATA_DIR + in-process, no services) and a distributed one
 * (NATS JetStream/KV and S3 via the `minio` client). Callers never know which one they hold, so every
 * guarantee a caller relies on is written here, and the contract tests in tests/platform check both.
 *
 * Keys: metadata keys and event-stream names are dot-separated tokens of [A-Za-z0-9_-] (NATS KV compatible),
 * conventionally `<tenant>.<id>`. Blob keys are slash-separated paths, conventionally
 * `<kind>/<tenant>/<id>/<file>` (S3 compatible).
 */

/** What a blob store knows about one object. */
export interface BlobInfo {
  key: string;
  size: number;
  /** ISO-8601 time of the last write. */
  modified: string;
}

/**
 * Large objects by key. `put` consumes a stream without holding the whole object in memory and is atomic: a
 * reader sees the old object, the new one, or none, never a partial one; a failed or aborted put leaves no
 * object behind. `get` returns null for a missing key.
 */
export interface BlobStore {
  put(key: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<BlobInfo>;
  get(key: string): Promise<ReadableStream<Uint8Array> | null>;
  stat(key: string): Promise<BlobInfo | null>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

/** The record collections the metadata store holds. */
export type Collection = "datasets" | "models" | "jobs" | "deployments" | "idempotency" | "runners";

/** A record and the revision it was read at; pass the revision back to update it. */
export interface Versioned<T> {
  key: string;
  value: T;
  revision: string;
}

/** A change seen by `watch`: `value` null means the record was deleted. */
export interface MetaChange<T> {
  key: string;
  value: T | null;
  revision: string;
}

/**
 * JSON records with compare-and-set. `create` fails with ConflictError if the key exists; `update` fails
 * with ConflictError unless the stored revision equals `expectedRevision`. Revisions are opaque strings.
 */
export interface MetaStore {
  get<T>(collection: Collection, key: string): Promise<Versioned<T> | null>;
  create<T>(collection: Collection, key: string, value: T): Promise<Versioned<T>>;
  update<T>(collection: Collection, key: string, value: T, expectedRevision: string): Promise<Versioned<T>>;
  delete(collection: Collection, key: string, expectedRevision?: string): Promise<void>;
  /** Records whose key starts with `prefix` (e.g. `tenant.`), in key order. */
  list<T>(collection: Collection, prefix: string): Promise<Versioned<T>[]>;
  /**
   * Changes to records whose key starts with `prefix`, from now on (the current value of each matching
   * record is delivered first when `initial` is true), until `signal` aborts.
   */
  watch<T>(
    collection: Collection,
    prefix: string,
    options: { signal: AbortSignal; initial?: boolean },
  ): AsyncIterable<MetaChange<T>>;
  close(): Promise<void>;
}

/** One message on the job queue: which job to run, and what the runner must be able to do. */
export interface JobMessage {
  tenant: string;
  jobId: string;
  /** Capabilities the runner must advertise (e.g. "gpu"); empty or missing = any runner. */
  requires?: string[];
}

/**
 * One delivery of a job message to one runner. At-least-once: if the lease runs out without ack, retry or
 * giveUp (the runner died), the message is delivered again with `attempt` + 1.
 */
export interface Delivery {
  message: JobMessage;
  /** 1 for the first delivery. */
  attempt: number;
  /** Push the lease out again (call while training; "in progress"). */
  extendLease(): Promise<void>;
  /** Done for good: never deliver again. */
  ack(): Promise<void>;
  /** Transient failure: deliver again after `delayMs`. */
  retry(delayMs: number): Promise<void>;
  /** Permanent failure: never deliver again. */
  giveUp(reason: string): Promise<void>;
}

export interface TakeOptions {
  /** Abort to stop waiting; take then resolves null. */
  signal?: AbortSignal;
  /** What this runner can do; messages whose `requires` is not a subset are left for others. */
  capabilities?: string[];
}

export interface JobQueue {
  /**
   * Enqueue. Publishing twice with the same `dedupeId` (within the dedupe window; embedded: forever) enqueues
   * once and reports `duplicate: true` the second time.
   */
  publish(message: JobMessage, dedupeId: string): Promise<{ duplicate: boolean }>;
  /** Wait for the next message this runner may take, and lease it to the caller. */
  take(options?: TakeOptions): Promise<Delivery | null>;
  /** Messages waiting or leased (for metrics and tests). */
  depth(): Promise<number>;
  close(): Promise<void>;
}

/** One event in a job's history. `seq` starts at 1 and increases by 1 per stream. */
export interface StoredEvent {
  seq: number;
  /** ISO-8601 time the event was appended. */
  time: string;
  type: string;
  data: Record<string, unknown>;
}

/**
 * Append-only per-job event streams (stream name `<tenant>.<jobId>`): history is kept so a client can
 * replay it (SSE `Last-Event-ID`) and then follow live events from any edge instance.
 */
export interface EventLog {
  append(stream: string, type: string, data: Record<string, unknown>): Promise<StoredEvent>;
  /**
   * Events with seq > `afterSeq`, in order. With `follow`, keeps yielding new events as they are appended
   * until `signal` aborts; without it, ends after the last stored event.
   */
  read(
    stream: string,
    options: { afterSeq?: number; follow?: boolean; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent>;
  delete(stream: string): Promise<void>;
  close(): Promise<void>;
}

/** Everything a process needs from the platform, built once from configuration. */
export interface Platform {
  kind: "embedded" | "distributed";
  blobs: BlobStore;
  meta: MetaStore;
  queue: JobQueue;
  events: EventLog;
  close(): Promise<void>;
}
