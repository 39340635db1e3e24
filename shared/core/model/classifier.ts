/**
 * The contract every encoder family implements (BERT, RoBERTa, ELECTRA, DistilBERT) with one of three task
 * heads: a batch of token ids in, logits out, with every weight a tf.Variable keyed by its Hugging Face name
 * (`*ForSequenceClassification`, `*ForTokenClassification` or `*ForQuestionAnswering`) so checkpoints map by
 * name. Also the batch/dropout option types the forward passes share and how a pass resolves its dropout
 * rates (explicit option, else the config's).
 */
import type * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";

/** The model families edgetune can import, train, serve and export. */
export type ModelFamily = "bert" | "roberta" | "electra" | "distilbert";

/**
 * What a model predicts. sequence: one row of logits per input (classification, or regression with 1 output);
 * token: one row per token (NER / tagging); span: a start and an end logit per token (extractive QA).
 */
export type HeadKind = "sequence" | "token" | "span";

export const HEAD_KINDS: readonly HeadKind[] = ["sequence", "token", "span"];

export interface BertBatch {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  /** Segment ids; families without token types (DistilBERT) ignore them. */
  tokenTypeIds: tf.Tensor2D;
}

/** Dropout probabilities for one forward pass; unset fields come from the config. */
export interface DropoutRates {
  hidden?: number;
  attention?: number;
  classifier?: number;
}

export interface ForwardOptions {
  training: boolean;
  /** Seeds this pass's dropout masks (training only); unseeded dropout is random. */
  seed?: number;
  dropout?: DropoutRates;
}

export interface SequenceClassifier {
  readonly family: ModelFamily;
  /** The task head (sequence / token / span); see forward() for the output layout of each. */
  readonly head: HeadKind;
  /** The parsed config.json (family-specific keys, HF names). */
  readonly config: { model_type: string; vocab_size: number; max_position_embeddings: number };
  /** Outputs per row of forward(): the label count (1 = regression), always 2 for a span head. */
  readonly numLabels: number;
  /** Encoder layers (num_hidden_layers / n_layers): groups for layer-wise LR, freezing, unfreezing. */
  readonly numLayers: number;
  readonly vocabSize: number;
  /** Longest input (special tokens included) the position embeddings allow. */
  readonly maxSequenceLength: number;
  /** HF parameter name → variable. */
  readonly params: Map<string, tf.Variable>;
  /** Parameters HF keeps fixed (DistilBERT's sinusoidal position table); the trainer should skip them. */
  readonly fixedParams: ReadonlySet<string>;
  /**
   * Logits. sequence: [B, numLabels]. token: [B*S, numLabels], row r*S + s = token s of input r. span:
   * [B*S, 2], column 0 the start logit and column 1 the end logit of each token (same row layout).
   */
  forward(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D;
  /** The encoder's last hidden states [B*S, hidden] (row r*S + s = token s of input r). */
  encode(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D;
  parameterCount(): number;
  dispose(): void;
}

/** The rates of one pass: options first, then the config (classifier falls back to hidden, as in HF). */
export function resolveRates(
  opts: ForwardOptions,
  config: { hidden: number; attention: number; classifier: number | null },
): { hidden: number; attention: number; classifier: number } {
  return {
    hidden: opts.dropout?.hidden ?? config.hidden,
    attention: opts.dropout?.attention ?? config.attention,
    classifier: opts.dropout?.classifier ?? config.classifier ?? opts.dropout?.hidden ?? config.hidden,
  };
}

/** 400 when a batch is longer than the model's position embeddings allow (a client can send long text). */
export function checkSequenceLength(
  model: Pick<SequenceClassifier, "maxSequenceLength" | "config">,
  length: number,
): void {
  if (length <= model.maxSequenceLength) return;
  throw new ApiError(
    400,
    "invalid_request",
    `sequence length ${length} exceeds the model's maximum ${model.maxSequenceLength} ` +
      `(max_position_embeddings ${model.config.max_position_embeddings})`,
  );
}
