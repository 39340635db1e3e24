/**
 * The distributed EventLog on one JetStream stream `<ns>_events` over `<ns>.events.>`: each event stream is a
 * subject `<ns>.events.<tenant>.<job>`, kept to `retention` messages per subject (max_msgs_per_subject).
 * Per-stream seq numbers are gap-free: `append` reads the subject's last message and publishes seq + 1 with
 * Nats-Expected-Last-Subject-Sequence, retrying if another writer won. `read` replays through an ordered
 * consumer filtered on the subject (skipping seq ≤ afterSeq) and, with `follow`, keeps consuming live
 * messages until the signal aborts; without it, it stops at the last message that existed when it started.
 */
import { DeliverPolicy, DiscardPolicy, type JsMsg, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { assertTokenKey, encodeJsonValue } from "../keys.ts";
import type { EventLog, StoredEvent } from "../types.ts";
import { isWrongLastSequence, type NatsContext } from "./nats.ts";

export interface NatsEventLogOptions {
  /** Events kept per stream (default 10 000). */
  retention?: number;
}

export class NatsEventLog implements EventLog {
  #closed = new AbortController();

  private constructor(private readonly context: NatsContext) {}

  static async open(context: NatsContext, options: NatsEventLogOptions = {}): Promise<NatsEventLog> {
    const { jsm, names } = context;
    const config = {
      name: names.eventsStream,
      subjects: [`${names.namespace}.events.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_msgs_per_subject: Math.max(1, options.retention ?? 10_000),
    };
    try {
      await jsm.streams.info(names.eventsStream);
      await jsm.streams.update(names.eventsStream, config);
    } catch {
      await jsm.streams.add(config);
    }
    return new NatsEventLog(context);
  }

  async append(stream: string, type: string, data: Record<string, unknown>): Promise<StoredEvent> {
    assertTokenKey(stream, "event stream");
    const subject = this.context.names.eventsSubject(stream);
    for (;;) {
      const last = await this.#last(subject);
      const event: StoredEvent = {
        seq: (last?.event.seq ?? 0) + 1,
        time: new Date().toISOString(),
        type,
        data,
      };
      const bytes = encodeJsonValue(event, `${stream}#${event.seq}`);
      try {
        await this.context.js.publish(subject, bytes, {
          expect: { lastSubjectSequence: last?.streamSeq ?? 0 },
        });
        return JSON.parse(new TextDecoder().decode(bytes));
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
  }

  async *read(
    stream: string,
    options: { afterSeq?: number; follow?: boolean; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent> {
    assertTokenKey(stream, "event stream");
    const signal = AbortSignal.any([this.#closed.signal, ...(options.signal ? [options.signal] : [])]);
    const afterSeq = Math.max(0, options.afterSeq ?? 0);
    const subject = this.context.names.eventsSubject(stream);
    const last = await this.#last(subject);
    if (!options.follow && (!last || last.event.seq <= afterSeq)) return;
    if (signal.aborted) return;
    const consumer = await this.context.js.consumers.get(this.context.names.eventsStream, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 256 });
    const stop = () => messages.stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const msg of messages as AsyncIterable<JsMsg>) {
        if (signal.aborted) break;
        const event = msg.json<StoredEvent>();
        if (event.seq > afterSeq) yield event;
        if (!options.follow && (msg.seq >= last!.streamSeq || msg.info.pending === 0)) break;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      messages.stop();
      await consumer.delete().catch(() => {});
    }
  }

  async delete(stream: string): Promise<void> {
    assertTokenKey(stream, "event stream");
    await this.context.jsm.streams.purge(this.context.names.eventsStream, {
      filter: this.context.names.eventsSubject(stream),
    });
  }

  close(): Promise<void> {
    this.#closed.abort();
    return Promise.resolve();
  }

  /** The newest stored event of `subject` and its stream sequence, or null. */
  async #last(subject: string): Promise<{ event: StoredEvent; streamSeq: number } | null> {
    try {
      const stored = await this.context.jsm.streams.getMessage(this.context.names.eventsStream, {
        last_by_subj: subject,
      });
      if (!stored) return null;
      return { event: stored.json<StoredEvent>(), streamSeq: stored.seq };
    } catch (error) {
      if (/no message found/i.test(String((error as Error).message))) return null;
      throw error;
    }
  }
}
