/**
 * The distributed JobQueue on JetStream (nats-server 2.9: one filter subject per consumer).
 *
 * Design: one work-queue stream `<ns>_jobs` over `<ns>.jobs.>`. A message is published (with Nats-Msg-Id =
 * dedupe id, so JetStream's duplicate window dedupes; default 24 h) to `<ns>.jobs.<token>`, where the token
 * names the exact capability set it requires: "any" for none, else the sorted capabilities joined by "_"
 * (e.g. `jobs.gpu`, `jobs.avx_gpu`). For every token there is one durable pull consumer `<ns>_runners_<token>`
 * shared by all runners able to run it (work-queue streams need non-overlapping filters, which exact subjects
 * are). A runner with capabilities C pulls from the consumers of every subset of C (most specific first), so
 * it only ever receives messages it can run. Pulls are single `no_wait` requests (no stray in-flight pull can
 * swallow a message after the runner stopped waiting); between rounds the runner sleeps until a core-NATS
 * publish on a subject it can take arrives, or at most `pollMs` (default min(leaseMs/2, 1 s)) to notice
 * redeliveries, whose timing is server-side.
 *
 * Leases: ack_wait = leaseMs; `extendLease` sends +WPI, `ack` +ACK, `retry` -NAK with a delay, `giveUp`
 * +TERM. The delivery count of the ack subject is `attempt`. JetStream's own max_deliver is unlimited: the
 * queue terminates a message itself when it would be delivered past `maxDeliver` (or is retried after the
 * last allowed delivery) and records it in the `<ns>_dead` KV bucket, exactly like the embedded queue. A
 * lease is considered lost (extendLease throws LeaseLostError; retry/giveUp become no-ops) once leaseMs has
 * passed since the last take/extend, because the server may already have redelivered it.
 */
import { type KV, Kvm } from "@nats-io/kv";
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { Msg, Subscription } from "@nats-io/transport-node";
import { invalidRequest } from "../../schemas/errors.ts";
import { ChangeHub, InFlight, Wakeup } from "../embedded/kv.ts";
import {
  announceGiveUp,
  type DeadLetter,
  type GiveUpListener,
  LeaseLostError,
  type ManagedJobQueue,
  normalizeCapabilities,
  type QueueOptions,
} from "../queue_extras.ts";
import type { Delivery, JobMessage, TakeOptions } from "../types.ts";
import { nanos, type NatsContext } from "./nats.ts";

export interface NatsQueueOptions extends QueueOptions {
  /** How long JetStream remembers dedupe ids (default 24 h). */
  dedupeWindowMs?: number;
  /** Longest sleep between pull rounds while idle (default min(leaseMs / 2, 1000)). */
  pollMs?: number;
}

const TOPIC = "jobs";

/** The subject token for a capability set: "any", or the sorted names joined by "_". */
export function capabilityToken(requires: string[] | undefined): string {
  const names = normalizeCapabilities(requires);
  return names.length === 0 ? "any" : names.join("_");
}

/** Every subset of `capabilities` as a token, largest subsets first. */
function subsetTokens(capabilities: string[]): string[] {
  const names = normalizeCapabilities(capabilities);
  const subsets: string[][] = [];
  for (let mask = 0; mask < 1 << names.length; mask++) subsets.push(names.filter((_, i) => mask & (1 << i)));
  subsets.sort((a, b) => b.length - a.length);
  return subsets.map((subset) => capabilityToken(subset));
}

export class NatsJobQueue implements ManagedJobQueue {
  readonly leaseMs: number;
  readonly maxDeliver: number;
  readonly pollMs: number;
  #ops = new InFlight("the job queue");
  #listeners = new Set<GiveUpListener>();
  #consumers = new Map<string, Promise<string>>();
  #hub = new ChangeHub();
  #wakeSubscription: Subscription | null = null;

  private constructor(
    private readonly context: NatsContext,
    private readonly dead: KV,
    options: NatsQueueOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.maxDeliver = options.maxDeliver ?? 5;
    this.pollMs = options.pollMs ?? Math.min(this.leaseMs / 2, 1000);
  }

  /** Creates (or updates) the jobs stream and the dead-letter bucket. */
  static async open(context: NatsContext, options: NatsQueueOptions = {}): Promise<NatsJobQueue> {
    const { jsm, names } = context;
    const config = {
      name: names.jobsStream,
      subjects: [`${names.namespace}.jobs.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: nanos(options.dedupeWindowMs ?? 24 * 3600_000),
    };
    try {
      await jsm.streams.info(names.jobsStream);
      await jsm.streams.update(names.jobsStream, config);
    } catch {
      await jsm.streams.add(config);
    }
    const dead = await new Kvm(context.js).create(names.deadLetterBucket, { history: 1 });
    return new NatsJobQueue(context, dead, options);
  }

  publish(message: JobMessage, dedupeId: string): Promise<{ duplicate: boolean }> {
    return this.#ops.run(() => this.#publish(message, dedupeId));
  }

  async #publish(message: JobMessage, dedupeId: string): Promise<{ duplicate: boolean }> {
    if (!message.tenant || !message.jobId) throw invalidRequest("a job message needs tenant and jobId");
    if (!dedupeId) throw invalidRequest("publish needs a non-empty dedupeId");
    const subject = this.context.names.jobsSubject(capabilityToken(message.requires));
    const ack = await this.context.js.publish(subject, JSON.stringify(message), { msgID: dedupeId });
    return { duplicate: ack.duplicate };
  }

  take(options: TakeOptions = {}): Promise<Delivery | null> {
    if (this.#ops.closed.signal.aborted) return Promise.resolve(null);
    return this.#ops.run(() => this.#take(options));
  }

  async #take(options: TakeOptions): Promise<Delivery | null> {
    const signal = AbortSignal.any([this.#ops.closed.signal, ...(options.signal ? [options.signal] : [])]);
    const tokens = subsetTokens(options.capabilities ?? []);
    this.#ensureWakeSubscription();
    while (!signal.aborted) {
      const wakeup = new Wakeup(this.#hub, TOPIC);
      try {
        for (const token of tokens) {
          if (signal.aborted) return null;
          const consumer = await this.#consumer(token);
          const msg = await this.#pullOne(consumer);
          if (!msg) continue;
          const delivery = await this.#accept(msg);
          if (delivery) return delivery;
        }
        await wakeup.wait(this.pollMs, signal);
      } finally {
        wakeup.dispose();
      }
    }
    return null;
  }

  depth(): Promise<number> {
    return this.#ops.run(() => this.#depth());
  }

  async #depth(): Promise<number> {
    const info = await this.context.jsm.streams.info(this.context.names.jobsStream);
    return info.state.messages;
  }

  onGiveUp(listener: GiveUpListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for await (const key of await this.dead.keys()) {
      const entry = await this.dead.get(key);
      if (entry?.operation === "PUT") letters.push(entry.json<DeadLetter>());
    }
    return letters.sort((a, b) => a.time.localeCompare(b.time));
  }

  async forgetDeadLetter(id: string): Promise<void> {
    if (!/^[0-9]+$/.test(id)) return;
    await this.dead.purge(id);
  }

  /** Ends waiting takes and waits for running operations, so the connection can be drained safely. */
  async close(): Promise<void> {
    await this.#ops.close();
    this.#wakeSubscription?.unsubscribe();
    this.#wakeSubscription = null;
  }

  /** Records a give-up, terminates the message and tells the listeners. */
  recordGiveUp(
    msg: Msg,
    message: JobMessage,
    attempts: number,
    reason: string,
    automatic: boolean,
  ): Promise<void> {
    return this.#ops.run(() => this.#recordGiveUp(msg, message, attempts, reason, automatic));
  }

  async #recordGiveUp(msg: Msg, message: JobMessage, attempts: number, reason: string, automatic: boolean) {
    const { streamSeq } = parseAckSubject(msg.reply!);
    const letter: DeadLetter = {
      id: String(streamSeq),
      message,
      reason,
      attempts,
      automatic,
      time: new Date().toISOString(),
    };
    await this.dead.put(letter.id, JSON.stringify(letter));
    this.context.nc.publish(msg.reply!, "+TERM");
    await this.context.nc.flush();
    await announceGiveUp(this.#listeners, letter);
  }

  /** Sends an ack-protocol verb for a delivery and waits until the server has it. */
  sendAck(msg: Msg, verb: string): Promise<void> {
    return this.#ops.run(() => this.#sendAck(msg, verb));
  }

  async #sendAck(msg: Msg, verb: string): Promise<void> {
    if (verb === "+ACK") {
      await this.context.nc.request(msg.reply!, verb, { timeout: 5000 });
      return;
    }
    this.context.nc.publish(msg.reply!, verb);
    await this.context.nc.flush();
  }

  #ensureWakeSubscription(): void {
    if (this.#wakeSubscription) return;
    this.#wakeSubscription = this.context.nc.subscribe(`${this.context.names.namespace}.jobs.>`, {
      callback: () => this.#hub.emit(TOPIC),
    });
  }

  #consumer(token: string): Promise<string> {
    let pending = this.#consumers.get(token);
    if (!pending) {
      pending = this.#createConsumer(token);
      this.#consumers.set(token, pending);
      pending.catch(() => this.#consumers.delete(token));
    }
    return pending;
  }

  async #createConsumer(token: string): Promise<string> {
    const { jsm, names } = this.context;
    const name = names.jobsConsumer(token);
    const config = {
      durable_name: name,
      filter_subject: names.jobsSubject(token),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.leaseMs),
      max_deliver: -1,
    };
    try {
      await jsm.consumers.add(names.jobsStream, config);
    } catch {
      await jsm.consumers.update(names.jobsStream, name, { ack_wait: config.ack_wait, max_deliver: -1 });
    }
    return name;
  }

  /** One `no_wait` pull: the next available message of `consumer`, or null. */
  async #pullOne(consumer: string): Promise<Msg | null> {
    const subject = `$JS.API.CONSUMER.MSG.NEXT.${this.context.names.jobsStream}.${consumer}`;
    const msg = await this.context.nc.request(subject, JSON.stringify({ batch: 1, no_wait: true }), {
      timeout: 5000,
      // The message arrives on its own subject, not the inbox token: the muxed request cannot match it.
      noMux: true,
    });
    if (msg.headers?.code || !msg.reply) return null; // 404 no messages, 408 timeout, 409 …
    return msg;
  }

  /** Wraps a pulled message in a Delivery, or gives it up when it is past maxDeliver. */
  async #accept(msg: Msg): Promise<Delivery | null> {
    const message = JSON.parse(new TextDecoder().decode(msg.data)) as JobMessage;
    const { delivered } = parseAckSubject(msg.reply!);
    if (delivered > this.maxDeliver) {
      const reason = `the lease ran out on delivery ${delivered - 1} of maxDeliver ${this.maxDeliver}`;
      await this.#recordGiveUp(msg, message, delivered - 1, reason, true);
      return null;
    }
    return new NatsDelivery(this, msg, message, delivered);
  }
}

/** One lease on one JetStream message; see Delivery in types.ts. */
class NatsDelivery implements Delivery {
  #leaseUntil: number;
  #settled = false;

  constructor(
    private readonly queue: NatsJobQueue,
    private readonly msg: Msg,
    readonly message: JobMessage,
    readonly attempt: number,
  ) {
    this.#leaseUntil = Date.now() + queue.leaseMs;
  }

  async extendLease(): Promise<void> {
    if (this.#settled || Date.now() >= this.#leaseUntil) throw new LeaseLostError(this.message.jobId);
    await this.queue.sendAck(this.msg, "+WPI");
    this.#leaseUntil = Date.now() + this.queue.leaseMs;
  }

  async ack(): Promise<void> {
    this.#settled = true;
    await this.queue.sendAck(this.msg, "+ACK");
  }

  async retry(delayMs: number): Promise<void> {
    if (this.#lost()) return;
    this.#settled = true;
    if (this.attempt >= this.queue.maxDeliver) {
      const reason = `retry requested after delivery ${this.attempt} of maxDeliver ${this.queue.maxDeliver}`;
      return this.queue.recordGiveUp(this.msg, this.message, this.attempt, reason, true);
    }
    await this.queue.sendAck(this.msg, `-NAK ${JSON.stringify({ delay: nanos(Math.max(0, delayMs)) })}`);
  }

  async giveUp(reason: string): Promise<void> {
    if (this.#lost()) return;
    this.#settled = true;
    await this.queue.recordGiveUp(this.msg, this.message, this.attempt, reason, false);
  }

  #lost(): boolean {
    return this.#settled || Date.now() >= this.#leaseUntil;
  }
}

/** Delivery count and stream sequence from a `$JS.ACK…` reply subject (v1 and v2 formats). */
function parseAckSubject(reply: string): { delivered: number; streamSeq: number } {
  const tokens = reply.split(".");
  const offset = tokens.length >= 12 ? 2 : 0;
  return { delivered: Number(tokens[4 + offset]), streamSeq: Number(tokens[5 + offset]) };
}
