/**
 * The contract between text generation (greedy, beam search, sampling; shared/core/generate/) and the
 * generative model families (GPT-2 decoder-only; T5, mBART and Marian encoder-decoders). A model exposes one
 * incremental `step`: feed the next tokens of every row, get the logits of each row's last position and a
 * key/value cache that makes the next step cost one token instead of the whole prefix. Passing `cache: null`
 * with the whole prefix is the full recompute, so the cached and uncached paths share one code path and can
 * be compared token for token. Training uses `forward` (teacher forcing, every position's logits).
 */
import type * as tf from "@tensorflow/tfjs";
import type { ForwardOptions } from "../model/classifier.ts";

/** Keys/values of every decoder layer for the rows generated so far (opaque to the generator). */
export interface DecoderCache {
  /** Tokens already in the cache per row (the next token's position). */
  readonly length: number;
  /** A cache whose row i is this cache's row rows[i] (beam search reorders and duplicates rows). */
  select(rows: number[]): DecoderCache;
  dispose(): void;
}

/** The encoder's output for a batch of source rows (encoder-decoders only). */
export interface EncoderState {
  readonly rows: number;
  /** A state whose row i is this state's row rows[i]. */
  select(rows: number[]): EncoderState;
  dispose(): void;
}

export interface StepResult {
  /** Logits of the last fed position of each row, [vocab] per row. */
  logits: Float32Array[];
  /** The cache extended with the fed tokens. */
  cache: DecoderCache;
}

interface GenerativeBase {
  readonly vocabSize: number;
  /** Longest decoder sequence the positions allow (Infinity for relative positions). */
  readonly maxPositions: number;
  readonly eosTokenId: number | null;
  readonly padTokenId: number;
  /** Every parameter by its Hugging Face name. */
  readonly params: Map<string, tf.Variable>;
  /** Parameters HF keeps fixed (e.g. sinusoidal tables); never trained. */
  readonly fixedParams: ReadonlySet<string>;
  /** Transformer layers (encoder + decoder for encoder-decoders), for layer-wise LR and freezing. */
  readonly numLayers: number;
  /**
   * Layer index of a parameter for the training loop's groups: 0 = embeddings, 1..numLayers = layers,
   * numLayers + 1 = head / final norm.
   */
  layerOf(name: string): number;
  parameterCount(): number;
  dispose(): void;
}

/** A decoder-only language model (GPT-2). */
export interface CausalLanguageModel extends GenerativeBase {
  readonly kind: "causal";
  /** Logits for every position, [B*S, vocab] (row r*S + s is position s of row r); mask 1 = real token. */
  forward(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: ForwardOptions): tf.Tensor2D;
  /** Feeds `tokens` ([rows][n], same n for every row) after the cached prefix (null: an empty prefix). */
  step(tokens: number[][], cache: DecoderCache | null): StepResult;
}

export interface Seq2SeqBatch {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  /** Decoder inputs (labels shifted right, starting with the decoder start token). */
  decoderInputIds: tf.Tensor2D;
  decoderAttentionMask: tf.Tensor2D;
}

/** An encoder-decoder (T5, mBART, Marian). */
export interface Seq2SeqModel extends GenerativeBase {
  readonly kind: "seq2seq";
  /** The first decoder input token (T5: pad; BART family: eos or a language token). */
  readonly decoderStartTokenId: number;
  /** A token forced as the first generated one (mBART-50's target language), or null. */
  readonly forcedBosTokenId?: number | null;
  /** Decoder logits for every decoder position, [B*T, vocab]. */
  forward(batch: Seq2SeqBatch, opts: ForwardOptions): tf.Tensor2D;
  /** Runs the encoder once over source rows (ids without padding; rows may differ in length). */
  encode(inputIds: number[][]): EncoderState;
  /** Feeds decoder `tokens` ([rows][n]) after the cached prefix, attending to `encoder`'s rows. */
  step(tokens: number[][], cache: DecoderCache | null, encoder: EncoderState): StepResult;
}

export type GenerativeModel = CausalLanguageModel | Seq2SeqModel;
