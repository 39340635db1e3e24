/**
 * The task heads every encoder family shares, with Hugging Face's names: the token-classification head
 * (*ForTokenClassification: dropout → `classifier` Linear[numLabels, H] on every token) and the span head
 * (*ForQuestionAnswering: `qa_outputs` Linear[2, H] on every token, column 0 = start, 1 = end; DistilBERT
 * puts a dropout before it). EncoderTaskModel is the BERT-style encoder (BERT, RoBERTa, ELECTRA) with one
 * head chosen at construction; each family adds only its own sequence head. Also the HF class name of each
 * family × head (config.json `architectures`) and the head kind a class name or a checkpoint's tensor names
 * imply, so loading can tell a checkpoint's head from the one being built.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertBatch, ForwardOptions, HeadKind, ModelFamily, SequenceClassifier } from "./classifier.ts";
import type { EncoderConfig } from "./config.ts";
import { BertStyleEncoder, linearShape, type Rates } from "./encoder.ts";
import { dense, type Dropout, makeDropout } from "./layers.ts";

/** Outputs per row of a head: the label count, except a span head's start/end pair. */
export function headOutputs(head: HeadKind, numLabels: number): number {
  return head === "span" ? 2 : numLabels;
}

/** Adds the token (`classifier`) or span (`qa_outputs`) head's shapes; sequence heads are per family. */
export function tokenOrSpanHeadShapes(
  shapes: Map<string, number[]>,
  head: "token" | "span",
  hidden: number,
  numLabels: number,
): Map<string, number[]> {
  if (head === "token") linearShape(shapes, "classifier", numLabels, hidden);
  else linearShape(shapes, "qa_outputs", 2, hidden);
  return shapes;
}

/** Token head: dropout → classifier on every token. Span head: (dropout →) qa_outputs on every token. */
export function tokenOrSpanLogits(
  head: "token" | "span",
  hidden: tf.Tensor2D,
  linear: (prefix: string, x: tf.Tensor2D) => tf.Tensor2D,
  drop: Dropout,
  rate: number,
): tf.Tensor2D {
  return linear(head === "token" ? "classifier" : "qa_outputs", drop(hidden, rate));
}

const SUFFIX: Record<HeadKind, string> = {
  sequence: "ForSequenceClassification",
  token: "ForTokenClassification",
  span: "ForQuestionAnswering",
};
const FAMILY_CLASS: Record<ModelFamily, string> = {
  bert: "Bert",
  roberta: "Roberta",
  electra: "Electra",
  distilbert: "DistilBert",
};

/** The transformers class of a family + head: ("roberta", "token") → RobertaForTokenClassification. */
export function architectureName(family: ModelFamily, head: HeadKind): string {
  return FAMILY_CLASS[family] + SUFFIX[head];
}

/** The head a transformers class name implies (null for base / MLM / other classes). */
export function headKindOfArchitecture(name: string): HeadKind | null {
  for (const [head, suffix] of Object.entries(SUFFIX) as [HeadKind, string][]) {
    if (name.endsWith(suffix)) return head;
  }
  return null;
}

/** The head config.json's `architectures` names (null when absent or not a task head). */
export function headKindOfConfig(configJson: unknown): HeadKind | null {
  let obj = configJson;
  if (typeof obj === "string") {
    try {
      obj = JSON.parse(obj);
    } catch {
      return null;
    }
  }
  const architectures = (obj as { architectures?: unknown } | null)?.architectures;
  if (!Array.isArray(architectures)) return null;
  for (const a of architectures) {
    const head = typeof a === "string" ? headKindOfArchitecture(a) : null;
    if (head) return head;
  }
  return null;
}

/**
 * The head a checkpoint's tensor names imply, for checkpoints without `architectures`: `qa_outputs` → span;
 * a sequence head's own modules (`classifier.dense`/`out_proj`, `pre_classifier`, or BERT's `classifier` next
 * to a pooler) → sequence; a bare `classifier` → token; no head → null.
 */
export function headKindOfTensors(family: ModelFamily, names: Iterable<string>): HeadKind | null {
  const all = [...names];
  if (all.some((n) => n.startsWith("qa_outputs."))) return "span";
  if (all.some((n) => /^(classifier\.(dense|out_proj)|pre_classifier)\./.test(n))) return "sequence";
  if (!all.some((n) => /^classifier\.(weight|bias)$/.test(n))) return null;
  if (family === "bert" && all.some((n) => /^(bert\.)?pooler\./.test(n))) return "sequence";
  return "token";
}

/**
 * A BERT-style encoder with a task head. forward(): encoder → head; the sequence head is the family's
 * (`sequenceHead`), token and span heads are the shared ones above (BERT, RoBERTa and ELECTRA put no dropout
 * before `qa_outputs`; their token dropout is classifier_dropout, else hidden_dropout_prob, as in HF).
 */
export abstract class EncoderTaskModel extends BertStyleEncoder implements SequenceClassifier {
  readonly head: HeadKind;

  constructor(
    config: EncoderConfig,
    numLabels: number,
    params: Map<string, tf.Variable>,
    expected: Map<string, number[]>,
    head: HeadKind,
  ) {
    super(config, headOutputs(head, numLabels), params, expected);
    this.head = head;
  }

  /** The family's sequence-classification head on the encoder output [B*S, H] → logits [B, numLabels]. */
  protected abstract sequenceHead(
    hidden: tf.Tensor2D,
    b: number,
    s: number,
    drop: Dropout,
    rates: Rates,
  ): tf.Tensor2D;

  forward(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D {
    const [b, s] = batch.inputIds.shape;
    const rates = this.passRates(batch, opts);
    return tf.tidy(() => {
      const drop = makeDropout(opts.training, opts.seed);
      const hidden = this.runEncoder(batch, drop, rates);
      if (this.head === "sequence") return this.sequenceHead(hidden, b, s, drop, rates);
      const rate = this.head === "token" ? rates.classifier : 0;
      return tokenOrSpanLogits(this.head, hidden, (p, x) => this.linear(p, x), drop, rate);
    });
  }

  /** The last hidden states [B*S, H] (row r*S + s = token s of input r). */
  encode(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D {
    const rates = this.passRates(batch, opts);
    return tf.tidy(() => this.runEncoder(batch, makeDropout(opts.training, opts.seed), rates));
  }

  protected linear(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    return dense(x, this.p2(`${prefix}.weight`), this.p1(`${prefix}.bias`));
  }
}
