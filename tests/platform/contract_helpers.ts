/**
 * Shared pieces of the platform contract suite: the factory and settings types, a per-test platform
 * lifecycle (always closed), and small helpers for signals, collecting async iterables and deterministic
 * test data, all free of leaked timers so the op and resource sanitizers stay on.
 */
import { createHash } from "node:crypto";
import type { ManagedPlatform } from "../../shared/platform/mod.ts";

/** Builds a fresh, isolated platform for one test. */
export type PlatformFactory = () => Promise<ManagedPlatform>;

/** The tuning the factory applied, so the suite knows what to expect. */
export interface ContractSettings {
  /** Suite name prefix, e.g. "embedded". */
  name: string;
  leaseMs: number;
  maxDeliver: number;
  eventRetention: number;
}

/** Registers one contract case (Deno.test, or a collector for running cases as steps). */
export type DefineTest = (name: string, fn: () => Promise<void>) => void;

/** Runs `body` against a fresh platform and closes it afterwards, whatever happens. */
export async function withPlatform(
  factory: PlatformFactory,
  body: (platform: ManagedPlatform) => Promise<void>,
): Promise<void> {
  const platform = await factory();
  try {
    await body(platform);
  } finally {
    await platform.close();
  }
}

/** An AbortController that aborts after `ms`; call `clear` (or let it fire) so no timer leaks. */
export function abortAfter(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects up to `limit` items from `iterable` (then stops iterating). */
export async function take<T>(iterable: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const items: T[] = [];
  if (limit <= 0) return items;
  for await (const item of iterable) {
    items.push(item);
    if (items.length >= limit) break;
  }
  return items;
}

/** Deterministic pseudo-random bytes (xorshift32) for chunk `index` of a generated blob. */
export function chunkBytes(index: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = (index + 1) * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** A stream of `count` generated chunks, produced lazily (never all in memory), and their SHA-256. */
export function generatedStream(count: number, chunkSize: number): {
  stream: ReadableStream<Uint8Array>;
  digest: Promise<string>;
} {
  const hash = createHash("sha256");
  let index = 0;
  let finish: (hex: string) => void = () => {};
  const digest = new Promise<string>((resolve) => finish = resolve);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index === count) {
        controller.close();
        finish(hash.digest("hex"));
        return;
      }
      const chunk = chunkBytes(index++, chunkSize);
      hash.update(chunk);
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 1 });
  return { stream, digest };
}

/** SHA-256 and byte count of a stream, consumed chunk by chunk. */
export async function hashStream(stream: ReadableStream<Uint8Array>): Promise<{ hex: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { hex: hash.digest("hex"), size };
}

/** A stream that yields `good` chunks and then errors. */
export function failingStream(good: number, chunkSize: number): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index === good) {
        controller.error(new Error("client went away"));
        return;
      }
      controller.enqueue(chunkBytes(index++, chunkSize));
    },
  });
}

export async function readText(stream: ReadableStream<Uint8Array> | null): Promise<string | null> {
  if (stream === null) return null;
  return await new Response(stream).text();
}
