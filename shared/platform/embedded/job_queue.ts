/**
 * The embedded JobQueue: messages persisted in Deno KV (["queue","msg",enqueuedAt,counter,id]) so jobs survive a
 * restart. A record is available when it is not leased and its `availableAt` has passed, or when its lease
 * ran out (so after a restart, leased-but-expired messages are simply available again). `take` scans in
 * enqueue order for a message whose `requires` ⊆ the runner's capabilities and leases it with an atomic
 * check; when nothing is available it sleeps until the in-process hub announces a change or the earliest
 * known lease expiry / retry time arrives (no busy polling). Dedupe ids are stored forever. Give-ups (runner
 * `giveUp`, or more than `maxDeliver` deliveries) are recorded under ["queue","dead",id]; see queue_extras.ts.
 */
import { invalidRequest } from "../../schemas/errors.ts";
import {
  announceGiveUp,
  canRun,
  type DeadLetter,
  type GiveUpListener,
  LeaseLostError,
  type ManagedJobQueue,
  normalizeCapabilities,
  type QueueOptions,
} from "../queue_extras.ts";
import type { Delivery, JobMessage, TakeOptions } from "../types.ts";
import { InFlight, type KvHandle, Wakeup } from "./kv.ts";

const ROOT = "queue";
const TOPIC = "queue";

interface QueueRecord {
  id: string;
  message: JobMessage;
  /** Deliveries made so far. */
  deliveries: number;
  /** Not before this time (ms epoch); set by retry. */
  availableAt: number;
  /** While leased: lease end (ms epoch) and the lease holder's token. */
  leaseUntil: number | null;
  token: string | null;
}

/** Orders messages published in the same millisecond by this process. */
let publishCounter = 0;

export class KvJobQueue implements ManagedJobQueue {
  readonly leaseMs: number;
  readonly maxDeliver: number;
  #ops = new InFlight("the job queue");
  #listeners = new Set<GiveUpListener>();

  constructor(private readonly handle: KvHandle, options: QueueOptions = {}) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.maxDeliver = options.maxDeliver ?? 5;
  }

  publish(message: JobMessage, dedupeId: string): Promise<{ duplicate: boolean }> {
    return this.#ops.run(() => this.#publish(message, dedupeId));
  }

  async #publish(message: JobMessage, dedupeId: string): Promise<{ duplicate: boolean }> {
    if (!message.tenant || !message.jobId) throw invalidRequest("a job message needs tenant and jobId");
    if (!dedupeId) throw invalidRequest("publish needs a non-empty dedupeId");
    const now = Date.now();
    const id = crypto.randomUUID();
    const record: QueueRecord = {
      id,
      message: {
        ...structuredClone(message),
        ...(message.requires ? { requires: normalizeCapabilities(message.requires) } : {}),
      },
      deliveries: 0,
      availableAt: now,
      leaseUntil: null,
      token: null,
    };
    const dedupeKey = [ROOT, "dedupe", dedupeId];
    const result = await this.handle.kv.atomic()
      .check({ key: dedupeKey, versionstamp: null })
      .set(dedupeKey, { id, at: now })
      // now + a process-local counter keeps enqueue order within one millisecond (FIFO).
      .set([ROOT, "msg", now, publishCounter++, id], record)
      .commit();
    if (!result.ok) return { duplicate: true };
    this.handle.hub.emit(TOPIC);
    return { duplicate: false };
  }

  take(options: TakeOptions = {}): Promise<Delivery | null> {
    if (this.#ops.closed.signal.aborted) return Promise.resolve(null);
    return this.#ops.run(() => this.#take(options));
  }

  async #take(options: TakeOptions): Promise<Delivery | null> {
    const signals = [this.#ops.closed.signal, ...(options.signal ? [options.signal] : [])];
    const signal = AbortSignal.any(signals);
    while (!signal.aborted) {
      const wakeup = new Wakeup(this.handle.hub, TOPIC);
      let nextDue = Infinity;
      const now = Date.now();
      for await (const entry of this.handle.kv.list<QueueRecord>({ prefix: [ROOT, "msg"] })) {
        const record = entry.value;
        if (!canRun(record.message.requires, options.capabilities)) continue;
        const dueAt = record.leaseUntil ?? record.availableAt;
        if (dueAt > now) {
          nextDue = Math.min(nextDue, dueAt);
          continue;
        }
        if (record.deliveries >= this.maxDeliver) {
          const reason =
            `the lease ran out on delivery ${record.deliveries} of maxDeliver ${this.maxDeliver}`;
          await this.#deadLetter(entry, reason, true);
          continue;
        }
        const leased: QueueRecord = {
          ...record,
          deliveries: record.deliveries + 1,
          leaseUntil: now + this.leaseMs,
          token: crypto.randomUUID(),
        };
        const result = await this.handle.kv.atomic().check(entry).set(entry.key, leased).commit();
        if (result.ok) {
          wakeup.dispose();
          this.handle.hub.emit(TOPIC); // other waiters learn the new lease expiry
          return new KvDelivery(this, entry.key, leased);
        }
      }
      await wakeup.wait(nextDue - Date.now(), signal);
    }
    return null;
  }

  depth(): Promise<number> {
    return this.#ops.run(() => this.#depth());
  }

  async #depth(): Promise<number> {
    let count = 0;
    for await (const _ of this.handle.kv.list({ prefix: [ROOT, "msg"] })) count++;
    return count;
  }

  onGiveUp(listener: GiveUpListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.#ops.run(() => this.#deadLetters());
  }

  async #deadLetters(): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for await (const entry of this.handle.kv.list<DeadLetter>({ prefix: [ROOT, "dead"] })) {
      letters.push(entry.value);
    }
    return letters.sort((a, b) => a.time.localeCompare(b.time));
  }

  forgetDeadLetter(id: string): Promise<void> {
    return this.#ops.run(() => this.handle.kv.delete([ROOT, "dead", id]));
  }

  close(): Promise<void> {
    return this.#ops.close();
  }

  /** Applies `change` to the record if `token` still holds its lease; false when the lease was lost. */
  settle(
    key: Deno.KvKey,
    token: string,
    change: (record: QueueRecord) => QueueRecord | "delete",
    requireLease = true,
  ): Promise<QueueRecord | "delete" | false> {
    return this.#ops.run(async () => {
      for (;;) {
        const entry = await this.handle.kv.get<QueueRecord>(key);
        if (entry.versionstamp === null) return false;
        if (requireLease && !holdsLease(entry.value, token)) return false;
        const next = change(entry.value);
        const op = this.handle.kv.atomic().check(entry);
        if (next === "delete") op.delete(key);
        else op.set(key, next);
        if ((await op.commit()).ok) {
          this.handle.hub.emit(TOPIC);
          return next;
        }
      }
    });
  }

  async #deadLetter(
    entry: Deno.KvEntry<QueueRecord>,
    reason: string,
    automatic: boolean,
  ): Promise<void> {
    const record = entry.value;
    const letter: DeadLetter = {
      id: record.id,
      message: record.message,
      reason,
      attempts: record.deliveries,
      automatic,
      time: new Date().toISOString(),
    };
    const result = await this.handle.kv.atomic().check(entry).delete(entry.key)
      .set([ROOT, "dead", record.id], letter).commit();
    if (!result.ok) return;
    this.handle.hub.emit(TOPIC);
    await announceGiveUp(this.#listeners, letter);
  }

  /** Gives up the leased message at `key` if `token` still holds it. */
  giveUpLeased(key: Deno.KvKey, token: string, reason: string, automatic: boolean): Promise<void> {
    return this.#ops.run(async () => {
      const entry = await this.handle.kv.get<QueueRecord>(key);
      if (entry.versionstamp === null || !holdsLease(entry.value, token)) return;
      await this.#deadLetter(entry as Deno.KvEntry<QueueRecord>, reason, automatic);
    });
  }
}

/** A lease counts only until it runs out, even if nobody has taken the message since (as on JetStream). */
function holdsLease(record: QueueRecord, token: string): boolean {
  return record.token === token && record.leaseUntil !== null && record.leaseUntil > Date.now();
}

/** One lease on one message; see Delivery in types.ts. */
class KvDelivery implements Delivery {
  readonly message: JobMessage;
  readonly attempt: number;

  constructor(
    private readonly queue: KvJobQueue,
    private readonly key: Deno.KvKey,
    private readonly record: QueueRecord,
  ) {
    this.message = structuredClone(record.message);
    this.attempt = record.deliveries;
  }

  async extendLease(): Promise<void> {
    const leaseUntil = Date.now() + this.queue.leaseMs;
    const result = await this.queue.settle(this.key, this.record.token!, (r) => ({ ...r, leaseUntil }));
    if (result === false) throw new LeaseLostError(this.message.jobId);
  }

  /** Removes the message even if the lease was lost meanwhile: the job is done. */
  async ack(): Promise<void> {
    await this.queue.settle(this.key, this.record.token!, () => "delete", false);
  }

  /** No-op when the lease already ran out (the message is, or will be, redelivered). */
  async retry(delayMs: number): Promise<void> {
    if (this.attempt >= this.queue.maxDeliver) {
      const reason = `retry requested after delivery ${this.attempt} of maxDeliver ${this.queue.maxDeliver}`;
      return this.queue.giveUpLeased(this.key, this.record.token!, reason, true);
    }
    const availableAt = Date.now() + Math.max(0, delayMs);
    await this.queue.settle(
      this.key,
      this.record.token!,
      (r) => ({ ...r, availableAt, leaseUntil: null, token: null }),
    );
  }

  /** No-op when the lease already ran out. */
  giveUp(reason: string): Promise<void> {
    return this.queue.giveUpLeased(this.key, this.record.token!, reason, false);
  }
}
