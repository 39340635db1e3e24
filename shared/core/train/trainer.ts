/**
 * The generic, resumable fine-tuning loop, as HF's Trainer runs it, for any TrainingTask: per epoch a seeded
 * shuffle into batches (the last one may be short), and per optimizer step forward/backward passes with
 * dropout over `gradient_accumulation_steps` micro-batches, clipping, and an optimizer update at the
 * scheduled LR; loop_settings.ts maps the hyperparameters (optimizers, schedules, freezing, layer-wise LR,
 * gradual unfreezing, plateau, early stopping). It evaluates at each epoch end and every `eval_steps`, keeps
 * the best evaluation on metric_for_best_model (and its weights with `loadBestModelAtEnd`), reports through
 * `onEvent`, and asks `shouldStop` before every micro-batch, so a stop lands within one step. At step
 * boundaries it hands a TrainerState (trainer_state.ts) to `onCheckpoint` every N steps / M seconds, and
 * `resumeFrom` continues such a state exactly: same LRs, batches, dropout masks and losses as a run that
 * was never interrupted. Same data + hyperparameters + seed → the same losses.
 */
import * as tf from "@tensorflow/tfjs";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import { mixSeed } from "../model/layers.ts";
import { createRng } from "../random.ts";
import { evalMetricValue, resolveLoopSettings } from "./loop_settings.ts";
import { createOptimizer, type TrainableParam } from "./optimizers.ts";
import { trainableNamesAt } from "./param_groups.ts";
import { createSchedule, ReduceOnPlateau } from "./schedules.ts";
import type { TrainingTask } from "./task.ts";
import { GradientAccumulator } from "./train_step.ts";
import type { EarlyStoppingState, TensorData, TrainerFingerprint, TrainerState } from "./trainer_state.ts";

export type TrainEvent =
  | {
    type: "step";
    /** Optimizer steps done so far (1 after the first step). */
    step: number;
    total_steps: number;
    /** Fractional epoch, as HF logs it: step / steps_per_epoch. */
    epoch: number;
    loss: number;
    learning_rate: number;
    /** Global L2 norm of the gradients before clipping. */
    grad_norm: number;
    examples_per_second: number;
  }
  | { type: "eval"; step: number; epoch: number; metrics: Record<string, number> };

export interface TrainerInput<Example> {
  task: TrainingTask<Example>;
  train: Example[];
  validation: Example[] | null;
  hyperparameters: Hyperparameters;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  /** Asked before every micro-batch; true ends the run with status "stopped". */
  shouldStop: () => boolean | Promise<boolean>;
  /** A state from onCheckpoint (possibly of another process): continue from it. */
  resumeFrom?: TrainerState;
  /** Receives the state at a step boundary, when checkpointEvery says so. */
  onCheckpoint?: (state: TrainerState) => void | Promise<void>;
  /** Checkpoint after every `steps` optimizer steps and/or once `seconds` passed since the last one. */
  checkpointEvery?: { steps?: number; seconds?: number };
  /**
   * Asked when a stop is requested: true hands the state at the last step boundary to onCheckpoint before
   * returning "stopped" (a runner shutting down), false drops it (a cancelled job).
   */
  checkpointOnStop?: () => boolean;
  /** Keep the weights of the best evaluation and load them when training completes (HF default: false). */
  loadBestModelAtEnd?: boolean;
}

export interface TrainerResult {
  status: "completed" | "stopped";
  steps: number;
  /** train_loss (mean over all steps), the last (or, with loadBestModelAtEnd, the best) evaluation, epoch. */
  metrics: Record<string, number>;
  /** The best evaluation on metric_for_best_model, or null without evaluations. */
  best: { step: number; metrics: Record<string, number> } | null;
}

/** Thrown when `resumeFrom` was saved for other data or another plan (its batches would differ). */
export class TrainerStateMismatchError extends Error {
  constructor(message: string) {
    super(`cannot resume from this trainer state: ${message}`);
    this.name = "TrainerStateMismatchError";
  }
}

/** transformers' EarlyStoppingCallback (as loop_settings.ts), with its counters saved for resume. */
class EarlyStopper {
  state: EarlyStoppingState = { best: null, badEvals: 0 };
  constructor(readonly patience: number, readonly threshold: number, readonly greaterIsBetter: boolean) {}
  update(value: number): boolean {
    const best = this.state.best;
    const better = best === null ||
      ((this.greaterIsBetter ? value > best : value < best) && Math.abs(value - best) > this.threshold);
    this.state = better ? { best: value, badEvals: 0 } : { best, badEvals: this.state.badEvals + 1 };
    return this.state.badEvals >= this.patience;
  }
}

function readWeights(params: Map<string, tf.Variable>): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, v] of params) {
    out.set(name, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
  }
  return out;
}

function writeWeights(params: Map<string, tf.Variable>, weights: Map<string, TensorData>): void {
  for (const [name, v] of params) {
    const saved = weights.get(name);
    if (!saved) throw new TrainerStateMismatchError(`no saved weights for '${name}'`);
    if (saved.shape.join(",") !== v.shape.join(",")) {
      throw new TrainerStateMismatchError(`'${name}' is [${saved.shape}] in the state, [${v.shape}] here`);
    }
    tf.tidy(() => v.assign(tf.tensor(saved.data, saved.shape, "float32")));
  }
}

export async function train<Example>(input: TrainerInput<Example>): Promise<TrainerResult> {
  const { task, train: examples, hyperparameters: hp } = input;
  const n = examples.length;
  const validation = input.validation && input.validation.length > 0 ? input.validation : null;
  const settings = resolveLoopSettings(
    hp,
    [...task.params.keys()],
    task.numLayers,
    Math.ceil(n / hp.batch_size),
    validation !== null,
    { layerOf: task.layerOf?.bind(task), metricNames: task.metricNames },
  );
  const { stepsPerEpoch, totalSteps, accumulation } = settings;
  const fingerprint: TrainerFingerprint = {
    examples: n,
    batchSize: hp.batch_size,
    accumulation,
    totalSteps,
    seed: hp.seed,
  };
  const params: TrainableParam[] = [...settings.groups].map(([name, g]) => ({
    name,
    variable: task.params.get(name)!,
    lrScale: g.lrScale,
    weightDecay: g.weightDecay,
  }));
  const optimizer = createOptimizer(settings.optimizer, params);
  const schedule = createSchedule(settings.schedule, hp.learning_rate, totalSteps);
  const plateau = settings.plateau ? new ReduceOnPlateau(hp.learning_rate, settings.plateau) : null;
  const { name: bestMetric, greaterIsBetter } = settings.bestMetric;
  const earlyStopping = settings.earlyStopping
    ? new EarlyStopper(settings.earlyStopping.patience, settings.earlyStopping.threshold, greaterIsBetter)
    : null;
  const labelSmoothing = settings.labelSmoothing;
  const accumulator = new GradientAccumulator<Example>((batch, seed) =>
    task.loss(batch, { training: true, seed, labelSmoothing })
  );
  const shuffler = createRng(hp.seed).fork("shuffle");
  const evalBatchSize = Math.max(hp.batch_size, 32);
  const keepBestWeights = input.loadBestModelAtEnd === true && validation !== null;

  let step = 0;
  let startEpoch = 0;
  let startBatch = 0;
  let microBatches = 0;
  let lossSum = 0;
  let lastEval: Record<string, number> = {};
  let best: TrainerState["best"] = null;
  let bestWeights: Map<string, TensorData> | null = null;

  const resume = input.resumeFrom;
  if (resume) {
    for (const [key, value] of Object.entries(fingerprint) as [keyof TrainerFingerprint, number][]) {
      if (resume.fingerprint[key] !== value) {
        optimizer.dispose();
        throw new TrainerStateMismatchError(
          `${key} is ${resume.fingerprint[key]} in the state, ${value} here`,
        );
      }
    }
    for (let e = 0; e < resume.epoch; e++) shuffler.permutation(n);
    if (JSON.stringify(shuffler.saveState()) !== JSON.stringify(resume.shuffle)) {
      optimizer.dispose();
      throw new TrainerStateMismatchError(`the data order of epoch ${resume.epoch} does not match`);
    }
    writeWeights(task.params, resume.weights);
    optimizer.loadState(resume.optimizer);
    step = resume.step;
    startEpoch = resume.epoch;
    startBatch = resume.batchInEpoch;
    microBatches = resume.microBatches;
    lossSum = resume.lossSum;
    lastEval = { ...resume.lastEval };
    if (plateau && resume.plateau) plateau.loadState(resume.plateau);
    if (earlyStopping && resume.earlyStopping) earlyStopping.state = { ...resume.earlyStopping };
    best = resume.best;
    bestWeights = keepBestWeights ? resume.bestWeights : null;
  }

  /** The state at the current step boundary: `epoch`'s batch `batchInEpoch` is the next to train. */
  const snapshot = (epoch: number, batchInEpoch: number, shuffle = epochShuffle): TrainerState => ({
    version: 1,
    fingerprint,
    step,
    epoch,
    batchInEpoch,
    microBatches,
    shuffle,
    lossSum,
    lastEval: { ...lastEval },
    plateau: plateau?.saveState() ?? null,
    earlyStopping: earlyStopping ? { ...earlyStopping.state } : null,
    best,
    bestWeights,
    weights: readWeights(task.params),
    optimizer: optimizer.saveState(),
  });
  let epochShuffle = shuffler.saveState();
  let lastCheckpointAt = performance.now();
  let stepsSinceCheckpoint = 0;
  const checkpointDue = (): boolean => {
    const every = input.checkpointEvery;
    if (!input.onCheckpoint || !every) return false;
    if (every.steps && stepsSinceCheckpoint >= every.steps) return true;
    return every.seconds !== undefined && (performance.now() - lastCheckpointAt) / 1000 >= every.seconds;
  };
  const checkpoint = async (state: TrainerState) => {
    await input.onCheckpoint?.(state);
    lastCheckpointAt = performance.now();
    stepsSinceCheckpoint = 0;
  };

  /** Evaluates, reports, tracks the best, feeds plateau/early stopping; true when early stopping says stop. */
  const runEval = async (epoch: number): Promise<boolean> => {
    if (!validation) return false;
    lastEval = await task.evaluate(validation, { batchSize: evalBatchSize, labelSmoothing });
    await input.onEvent({ type: "eval", step, epoch, metrics: { ...lastEval } });
    const watched = evalMetricValue(lastEval, bestMetric);
    if (watched === undefined) return false;
    if (best === null || (greaterIsBetter ? watched > best.value : watched < best.value)) {
      best = { step, value: watched, metrics: { ...lastEval } };
      if (keepBestWeights) bestWeights = readWeights(task.params);
    }
    plateau?.step(watched);
    return earlyStopping?.update(watched) ?? false;
  };
  const result = (status: TrainerResult["status"]): TrainerResult => {
    const useBest = status === "completed" && keepBestWeights && bestWeights !== null && best !== null;
    if (useBest) writeWeights(task.params, bestWeights!);
    return {
      status,
      steps: step,
      metrics: {
        ...(step > 0 ? { train_loss: lossSum / step } : {}),
        ...(useBest ? best!.metrics : lastEval),
        epoch: step / stepsPerEpoch,
      },
      best: best === null ? null : { step: (best as { step: number }).step, metrics: { ...best!.metrics } },
    };
  };

  try {
    for (let epoch = startEpoch; epoch < hp.epochs; epoch++) {
      epochShuffle = shuffler.saveState();
      const order = shuffler.permutation(n);
      const batches: number[][] = [];
      for (let start = 0; start < n; start += hp.batch_size) {
        batches.push(order.slice(start, start + hp.batch_size));
      }
      for (let first = epoch === startEpoch ? startBatch : 0; first < batches.length; first += accumulation) {
        const group = batches.slice(first, first + accumulation);
        const trainable = settings.unfreeze
          ? trainableNamesAt(settings.groups, step, settings.unfreeze)
          : null;
        const active = trainable ? params.filter((p) => trainable.has(p.name)) : params;
        const startedAt = performance.now();
        for (let i = 0; i < group.length; i++) {
          if (await input.shouldStop()) {
            accumulator.reset();
            if (input.checkpointOnStop?.() && input.onCheckpoint) await checkpoint(snapshot(epoch, first));
            return result("stopped");
          }
          const seed = mixSeed(hp.seed, microBatches + i + 1);
          accumulator.addMicroBatch(group[i].map((j) => examples[j]), seed, active, 1 / group.length);
        }
        microBatches += group.length;
        const learningRate = plateau ? plateau.apply(schedule(step)) : schedule(step);
        const { loss, gradNorm } = accumulator.applyUpdate(
          optimizer,
          learningRate,
          hp.max_grad_norm,
          settings.maxGradValue,
        );
        step++;
        stepsSinceCheckpoint++;
        lossSum += loss;
        const seconds = Math.max(1e-9, (performance.now() - startedAt) / 1000);
        await input.onEvent({
          type: "step",
          step,
          total_steps: totalSteps,
          epoch: step / stepsPerEpoch,
          loss,
          learning_rate: learningRate,
          grad_norm: gradNorm,
          examples_per_second: group.reduce((sum, b) => sum + b.length, 0) / seconds,
        });
        const epochEnd = first + accumulation >= batches.length;
        if (!epochEnd && hp.eval_steps != null && step % hp.eval_steps === 0) {
          if (await runEval(step / stepsPerEpoch)) return result("completed");
        }
        if (epochEnd) {
          if (await runEval(epoch + 1)) return result("completed");
          if (epoch + 1 < hp.epochs && checkpointDue()) {
            await checkpoint(snapshot(epoch + 1, 0, shuffler.saveState()));
          }
        } else if (checkpointDue()) {
          await checkpoint(snapshot(epoch, first + accumulation));
        }
      }
    }
    return result("completed");
  } finally {
    accumulator.reset();
    optimizer.dispose();
  }
}
