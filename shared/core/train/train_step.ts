/**
 * One optimizer step of sequence-classification fine-tuning, split the way gradient accumulation needs it:
 * `addMicroBatch` runs forward (dropout on) and backward for one micro-batch and adds its gradients, scaled
 * by 1/k for a group of k micro-batches, into running sums; `applyUpdate` then clips (global norm, then
 * optionally by value), hands the gradients to the optimizer at the step's LR and frees every gradient.
 * The loss is cross-entropy, with transformers' label smoothing when asked (see eval/evaluate.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { batchTensors } from "../infer.ts";
import type { BertForSequenceClassification, DropoutRates } from "../model/bert.ts";
import { crossEntropy, type TokenizedRow } from "../eval/evaluate.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { clipByGlobalNorm, clipByValue, globalNorm } from "./clipping.ts";
import type { Optimizer, TrainableParam } from "./optimizers.ts";

export interface MicroBatch {
  rows: TokenizedRow[];
  labels: number[];
  /** Seeds this micro-batch's dropout masks. */
  seed: number;
}

export class GradientAccumulator {
  readonly #sums = new Map<string, tf.Tensor>();
  #lossSum = 0;
  #count = 0;

  constructor(
    private readonly model: BertForSequenceClassification,
    private readonly tokenizer: TextTokenizer,
    private readonly dropout: DropoutRates,
    private readonly labelSmoothing: number,
  ) {}

  /** Forward + backward of one micro-batch over `params`; its gradients are added with weight `scale`. */
  addMicroBatch(batch: MicroBatch, params: TrainableParam[], scale: number): void {
    const encoded = this.tokenizer.collate(batch.rows);
    const variables = params.map((p) => p.variable);
    const { value, grads } = tf.tidy(() => {
      const inputs = batchTensors(encoded);
      const gold = tf.tensor1d(batch.labels, "int32");
      const forward = { training: true, seed: batch.seed, dropout: this.dropout };
      return tf.variableGrads(
        () => crossEntropy(this.model.forward(inputs, forward), gold, this.labelSmoothing),
        variables,
      );
    });
    const kept = new Set<tf.Tensor>();
    try {
      for (const p of params) {
        const g = grads[p.variable.name];
        if (!g) continue;
        const previous = this.#sums.get(p.name);
        if (!previous && scale === 1) {
          this.#sums.set(p.name, g); // the common case (no accumulation): no copy
          kept.add(g);
          continue;
        }
        this.#sums.set(
          p.name,
          tf.tidy(() => (previous ? tf.add(previous, tf.mul(g, scale)) : tf.mul(g, scale))),
        );
        previous?.dispose();
      }
      this.#lossSum += value.dataSync()[0];
      this.#count++;
    } finally {
      for (const g of Object.values(grads)) if (!kept.has(g)) g.dispose();
      value.dispose();
    }
  }

  /** Clips, updates the parameters, clears the sums; returns the mean micro-batch loss and the raw norm. */
  applyUpdate(
    optimizer: Optimizer,
    learningRate: number,
    maxGradNorm: number | null,
    maxGradValue: number | null,
  ): { loss: number; gradNorm: number } {
    const loss = this.#count > 0 ? this.#lossSum / this.#count : NaN;
    const grads = new Map(this.#sums);
    const toFree: tf.Tensor[] = [...grads.values()];
    try {
      const clipped = maxGradNorm != null
        ? clipByGlobalNorm(grads, maxGradNorm)
        : { grads, norm: globalNorm(grads) };
      toFree.push(...clipped.grads.values());
      let final = clipped.grads;
      if (maxGradValue != null) {
        final = clipByValue(clipped.grads, maxGradValue);
        toFree.push(...final.values());
      }
      optimizer.step(final, learningRate);
      return { loss, gradNorm: clipped.norm };
    } finally {
      tf.dispose(toFree); // disposing a tensor twice is harmless
      this.reset();
    }
  }

  /** Drops any accumulated gradients (after an update, or when a run stops mid-group). */
  reset(): void {
    tf.dispose([...this.#sums.values()]);
    this.#sums.clear();
    this.#lossSum = 0;
    this.#count = 0;
  }
}
