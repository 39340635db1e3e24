/**
 * The embedded EventLog: per-stream append-only logs in Deno KV, events under ["events", stream, seq] and a
 * head record ["events-head", stream] = {first, last} that every append checks atomically, so seq numbers
 * are gap-free and strictly increasing. Each stream keeps at most `retention` events (oldest dropped in the
 * same atomic append). `read` with `follow` replays from KV and then waits on the in-process change hub for
 * new appends (no polling) until its signal aborts or the log closes.
 */
import { assertTokenKey, encodeJsonValue } from "../keys.ts";
import type { EventLog, StoredEvent } from "../types.ts";
import { InFlight, type KvHandle, Wakeup } from "./kv.ts";

const EVENTS = "events";
const HEADS = "events-head";
const BATCH = 500;

interface Head {
  first: number;
  last: number;
}

export interface EventLogOptions {
  /** Events kept per stream; older ones are dropped (default 10 000). */
  retention?: number;
}

export class KvEventLog implements EventLog {
  readonly retention: number;
  #ops = new InFlight("the event log");

  constructor(private readonly handle: KvHandle, options: EventLogOptions = {}) {
    this.retention = Math.max(1, options.retention ?? 10_000);
  }

  append(stream: string, type: string, data: Record<string, unknown>): Promise<StoredEvent> {
    return this.#ops.run(() => this.#append(stream, type, data));
  }

  async #append(stream: string, type: string, data: Record<string, unknown>): Promise<StoredEvent> {
    assertTokenKey(stream, "event stream");
    const kv = this.handle.kv;
    for (;;) {
      const head = await kv.get<Head>([HEADS, stream]);
      const { first, last } = head.value ?? { first: 1, last: 0 };
      const event: StoredEvent = { seq: last + 1, time: new Date().toISOString(), type, data };
      encodeJsonValue(event, `${stream}#${event.seq}`);
      const op = kv.atomic().check(head).set([EVENTS, stream, event.seq], event);
      let nextFirst = first;
      // Drop as many of the oldest as needed (normally one) to stay within the retention limit.
      while (event.seq - nextFirst + 1 > this.retention) op.delete([EVENTS, stream, nextFirst++]);
      op.set([HEADS, stream], { first: nextFirst, last: event.seq });
      if ((await op.commit()).ok) {
        this.handle.hub.emit(topic(stream));
        return structuredClone(event);
      }
    }
  }

  async *read(
    stream: string,
    options: { afterSeq?: number; follow?: boolean; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent> {
    assertTokenKey(stream, "event stream");
    const signal = AbortSignal.any([this.#ops.closed.signal, ...(options.signal ? [options.signal] : [])]);
    let after = Math.max(0, options.afterSeq ?? 0);
    while (!signal.aborted) {
      const wakeup = options.follow ? new Wakeup(this.handle.hub, topic(stream)) : null;
      try {
        const batch = await this.#ops.run(() => this.#batch(stream, after));
        for (const event of batch) {
          if (signal.aborted) return;
          after = event.seq;
          yield event;
        }
        if (!wakeup) {
          if (batch.length < BATCH) return;
          continue;
        }
        if (batch.length === 0) await wakeup.wait(Infinity, signal);
      } finally {
        wakeup?.dispose();
      }
    }
  }

  /** Up to BATCH stored events of `stream` with seq > `after`. */
  async #batch(stream: string, after: number): Promise<StoredEvent[]> {
    const batch: StoredEvent[] = [];
    const selector = { prefix: [EVENTS, stream], start: [EVENTS, stream, after + 1] };
    for await (const entry of this.handle.kv.list<StoredEvent>(selector, { batchSize: BATCH })) {
      batch.push(entry.value);
      if (batch.length >= BATCH) break;
    }
    return batch;
  }

  delete(stream: string): Promise<void> {
    return this.#ops.run(() => this.#delete(stream));
  }

  async #delete(stream: string): Promise<void> {
    assertTokenKey(stream, "event stream");
    const kv = this.handle.kv;
    for await (const entry of kv.list({ prefix: [EVENTS, stream] })) await kv.delete(entry.key);
    await kv.delete([HEADS, stream]);
  }

  close(): Promise<void> {
    return this.#ops.close();
  }
}

function topic(stream: string): string {
  return `events:${stream}`;
}
