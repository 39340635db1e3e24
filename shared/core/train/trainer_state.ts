/**
 * Everything the generic trainer (trainer.ts) needs to continue a run exactly where it stopped, and its byte
 * form for checkpoint storage. The state is taken at an optimizer-step boundary: the weights and optimizer
 * moments, the step, the epoch in progress and the index of its next batch (the epoch's order is redrawn
 * from the seed and checked against the saved shuffle-RNG state), the micro-batch counter that seeds
 * dropout, the loss sum, the last evaluation, ReduceLROnPlateau and early-stopping counters, and the best
 * evaluation so far (with its weights when the best model is kept). The learning rate and the gradual
 * unfreezing clock are functions of the step, so they need no state of their own. Bytes: one safetensors file
 * (float32 tensors under `w:`, `b:` and `o:` prefixes) whose metadata holds the rest as JSON.
 */
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from "../checkpoint/safetensors.ts";
import type { RngState } from "../random.ts";
import type { OptimizerState, SlotData } from "./optimizers.ts";
import type { ReduceOnPlateauState } from "./schedules.ts";

export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** What a state must match to be resumed: a different dataset size or plan would replay other batches. */
export interface TrainerFingerprint {
  examples: number;
  batchSize: number;
  accumulation: number;
  totalSteps: number;
  seed: number;
}

export interface EarlyStoppingState {
  best: number | null;
  badEvals: number;
}

export interface TrainerState {
  version: 1;
  fingerprint: TrainerFingerprint;
  /** Optimizer steps done. */
  step: number;
  /** 0-based epoch in progress and the index (in that epoch's batch list) of the next batch to train. */
  epoch: number;
  batchInEpoch: number;
  /** Micro-batches run so far (each one's dropout seed is mixSeed(seed, count)). */
  microBatches: number;
  /** The shuffle RNG before the current epoch's order was drawn. */
  shuffle: RngState;
  lossSum: number;
  lastEval: Record<string, number>;
  plateau: ReduceOnPlateauState | null;
  earlyStopping: EarlyStoppingState | null;
  /** The best evaluation on metric_for_best_model so far. */
  best: { step: number; value: number; metrics: Record<string, number> } | null;
  /** The weights at `best.step` (kept only when the best model is loaded at the end). */
  bestWeights: Map<string, TensorData> | null;
  weights: Map<string, TensorData>;
  optimizer: OptimizerState;
}

const META_KEY = "edgetune_trainer_state";

/** JSON cannot hold ±Infinity/NaN (plateau's initial best is Infinity): they travel as tagged strings. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return { $number: String(value) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && "$number" in value && Object.keys(value).length === 1) {
    return Number((value as { $number: string }).$number);
  }
  return value;
}

export function encodeTrainerState(state: TrainerState): Uint8Array {
  const tensors = new Map<string, TensorData>();
  for (const [name, t] of state.weights) tensors.set(`w:${name}`, t);
  for (const [name, t] of state.bestWeights ?? []) tensors.set(`b:${name}`, t);
  const slotShapes: Record<string, string[]> = {};
  for (const [param, slots] of Object.entries(state.optimizer.slots)) {
    slotShapes[param] = Object.keys(slots);
    for (const [slot, t] of Object.entries(slots)) tensors.set(`o:${param}/${slot}`, t);
  }
  const { weights: _w, bestWeights, optimizer, ...rest } = state;
  const meta = { ...rest, hasBestWeights: bestWeights !== null, optimizerStep: optimizer.step, slotShapes };
  return writeSafetensors(tensors, { [META_KEY]: JSON.stringify(meta, replacer) });
}

export function decodeTrainerState(bytes: Uint8Array): TrainerState {
  const tensors = readSafetensors(bytes);
  const raw = readSafetensorsHeader(bytes).metadata?.[META_KEY];
  if (raw === undefined) throw new Error("not an edgetune trainer state (metadata missing)");
  const meta = JSON.parse(raw, reviver);
  if (meta.version !== 1) throw new Error(`unsupported trainer state version ${meta.version}`);
  const weights = new Map<string, TensorData>();
  const bestWeights = new Map<string, TensorData>();
  const slots: Record<string, Record<string, SlotData>> = {};
  for (const [key, t] of tensors) {
    const value = { shape: t.shape, data: t.data };
    if (key.startsWith("w:")) weights.set(key.slice(2), value);
    else if (key.startsWith("b:")) bestWeights.set(key.slice(2), value);
    else if (key.startsWith("o:")) {
      const cut = key.lastIndexOf("/");
      (slots[key.slice(2, cut)] ??= {})[key.slice(cut + 1)] = value;
    }
  }
  for (const param of Object.keys(meta.slotShapes ?? {})) slots[param] ??= {};
  const { hasBestWeights, optimizerStep, slotShapes: _s, ...rest } = meta;
  return {
    ...rest,
    weights,
    bestWeights: hasBestWeights ? bestWeights : null,
    optimizer: { step: optimizerStep, slots },
  } as TrainerState;
}
