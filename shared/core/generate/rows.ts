/**
 * The rows being decoded, over either kind of generative model: starts every row from the same prefix (a
 * causal model's prompt, or an encoder-decoder's decoder start token after encoding the source once), then
 * advances all rows by one token per call, after choosing which previous row each new row continues
 * (greedy/sampling drop finished rows, beam search reorders and duplicates them). With the cache, each call
 * feeds one token per row after the selected key/value cache; without it, the whole prefix of each row is
 * fed again with `cache: null` (the slow path that must give the same logits). Owns and disposes every cache
 * and encoder state it creates; model.step never disposes the cache it is given.
 */
import type { DecoderCache, EncoderState, GenerativeModel } from "./types.ts";

export class DecodingRows {
  private prefixes: number[][] = [];
  private cache: DecoderCache | null = null;
  private encoder: EncoderState | null = null;
  private source: EncoderState | null = null;

  constructor(
    private readonly model: GenerativeModel,
    private readonly useCache: boolean,
  ) {}

  /** Tokens of every row so far (prefix included). */
  get tokens(): readonly (readonly number[])[] {
    return this.prefixes;
  }

  /** `rows` copies of `prefix` (seq2seq: encodes `source` first); the logits after the prefix, per row. */
  start(prefix: number[], rows: number, source?: number[]): Float32Array[] {
    this.prefixes = Array.from({ length: rows }, () => [...prefix]);
    if (this.model.kind === "seq2seq") {
      this.source = this.model.encode([source ?? []]);
      this.encoder = this.source.select(new Array(rows).fill(0));
    }
    return this.feed(this.prefixes, null);
  }

  /** New row i continues old row from[i] with tokens[i]; returns the logits after it, per row. */
  advance(from: number[], tokens: number[]): Float32Array[] {
    const sameRows = from.length === this.prefixes.length && from.every((row, i) => row === i);
    this.prefixes = from.map((row, i) => [...this.prefixes[row], tokens[i]]);
    if (this.encoder && !sameRows) this.replaceEncoder(this.encoder.select(from));
    if (!this.useCache) return this.feed(this.prefixes, null);
    let cache = this.cache;
    if (cache && !sameRows) {
      cache = cache.select(from);
      this.cache!.dispose();
      this.cache = cache;
    }
    return this.feed(tokens.map((t) => [t]), cache);
  }

  dispose(): void {
    this.cache?.dispose();
    this.cache = null;
    this.encoder?.dispose();
    this.source?.dispose();
    this.encoder = this.source = null;
  }

  private replaceEncoder(next: EncoderState): void {
    this.encoder!.dispose();
    this.encoder = next;
  }

  private feed(tokens: number[][], cache: DecoderCache | null): Float32Array[] {
    const result = this.model.kind === "causal"
      ? this.model.step(tokens, cache)
      : this.model.step(tokens, cache, this.encoder!);
    if (this.useCache) {
      this.cache?.dispose();
      this.cache = result.cache;
    } else {
      result.cache.dispose();
    }
    return result.logits;
  }
}
