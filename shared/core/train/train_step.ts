/**
 * One optimizer step of fine-tuning, split the way gradient accumulation needs it, for any task: the
 * accumulator is given the task's loss function (a scalar built from a micro-batch of examples and a dropout
 * seed); `addMicroBatch` runs forward (dropout on) and backward for one micro-batch and adds its gradients,
 * scaled by 1/k for a group of k micro-batches, into running sums; `applyUpdate` then clips (global norm,
 * then optionally by value), hands the gradients to the optimizer at the step's LR and frees every gradient.
 */
import * as tf from "@tensorflow/tfjs";
import { clipByGlobalNorm, clipByValue, globalNorm } from "./clipping.ts";
import type { Optimizer, TrainableParam } from "./optimizers.ts";

/** The mean loss of `examples` as a scalar (built inside the caller's gradient tape); `seed` seeds dropout. */
export type MicroBatchLoss<Example> = (examples: Example[], seed: number) => tf.Scalar;

export class GradientAccumulator<Example> {
  readonly #sums = new Map<string, tf.Tensor>();
  #lossSum = 0;
  #count = 0;

  constructor(private readonly loss: MicroBatchLoss<Example>) {}

  /** Forward + backward of one micro-batch over `params`; its gradients are added with weight `scale`. */
  addMicroBatch(examples: Example[], seed: number, params: TrainableParam[], scale: number): void {
    const variables = params.map((p) => p.variable);
    const { value, grads } = tf.tidy(() => tf.variableGrads(() => this.loss(examples, seed), variables));
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
