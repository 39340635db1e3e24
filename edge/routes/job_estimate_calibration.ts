/**
 * Measures how fast this process trains, once, so job estimates come from this installation and not from
 * a table: three tiny BERT classifiers of different depth and width are fine-tuned for a few steps with the
 * very loop jobs use (shared/core fineTuneSequenceClassifier) on synthetic text, and a least-squares fit
 * of the per-step times gives a time model `seconds/step = base + per_layer × layers + FLOPs / rate`. The
 * result is cached per tfjs backend for the life of the process; `resetCalibration` forgets it.
 */
import * as tf from "@tensorflow/tfjs";
import {
  type BertConfig,
  fineTuneSequenceClassifier,
  initBertForSequenceClassification,
  parseBertConfig,
  TextTokenizer,
} from "../../shared/core/mod.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

export interface Throughput {
  backend: string;
  /** Fixed seconds per training micro-batch (dispatch, optimizer bookkeeping). */
  baseSeconds: number;
  /** Extra fixed seconds per micro-batch and encoder layer (op dispatch grows with depth). */
  perLayerSeconds: number;
  /** Training FLOPs per second once the fixed costs are paid. */
  flopsPerSecond: number;
  measuredAt: string;
}

/** Fixed-cost seconds of one micro-batch of a model with `layers` encoder layers, plus `flops` of work. */
export function trainStepSeconds(t: Throughput, layers: number, flops: number): number {
  return t.baseSeconds + t.perLayerSeconds * layers + flops / t.flopsPerSecond;
}

interface Probe {
  hidden: number;
  layers: number;
  seq: number;
  batch: number;
}

const PROBES: Probe[] = [
  { hidden: 32, layers: 1, seq: 24, batch: 8 },
  { hidden: 32, layers: 3, seq: 24, batch: 8 },
  { hidden: 128, layers: 2, seq: 64, batch: 16 },
];
const TIMED_STEPS = 4;

const cache = new Map<string, Promise<Throughput>>();

/** The cached throughput of the current backend (measured on first use, a few seconds on 2 cores). */
export function calibrate(): Promise<Throughput> {
  const backend = tf.getBackend() ?? "unknown";
  let pending = cache.get(backend);
  if (!pending) {
    pending = measure(backend);
    pending.catch(() => cache.delete(backend));
    cache.set(backend, pending);
  }
  return pending;
}

export function resetCalibration(): void {
  cache.clear();
}

function probeConfig(probe: Probe, vocabSize: number): BertConfig {
  return parseBertConfig({
    model_type: "bert",
    vocab_size: vocabSize,
    hidden_size: probe.hidden,
    num_hidden_layers: probe.layers,
    num_attention_heads: 2,
    intermediate_size: probe.hidden * 2,
    max_position_embeddings: 128,
  });
}

/** FLOPs of one training example (kept in step with job_estimate.ts: 3 × forward). */
function probeFlops(config: BertConfig, seq: number): number {
  const h = config.hidden_size, i = config.intermediate_size;
  return 3 * (config.num_hidden_layers * seq * (2 * (4 * h * h + 2 * h * i) + 4 * seq * h) + 2 * seq * h * h);
}

/** Median seconds per optimizer step of `probe`, after one warm-up step. */
async function timeProbe(probe: Probe): Promise<number> {
  const words = Array.from({ length: 40 }, (_, i) => `w${i}`);
  const texts = Array.from(
    { length: probe.batch * (TIMED_STEPS + 1) },
    (_, row) =>
      Array.from({ length: probe.seq - 2 }, (_, k) => words[(row * 7 + k * 3) % words.length]).join(" "),
  );
  const tokenizer = TextTokenizer.trainWordPiece(texts, { vocabSize: 80, lowercase: true });
  const config = probeConfig(probe, tokenizer.vocabSize);
  const model = initBertForSequenceClassification(config, 2, 1);
  const stepSeconds: number[] = [];
  try {
    await fineTuneSequenceClassifier({
      model,
      tokenizer,
      train: { texts, labels: texts.map((_, i) => i % 2) },
      validation: null,
      hyperparameters: hyperparametersSchema.parse({
        epochs: 1,
        batch_size: probe.batch,
        max_seq_length: probe.seq,
        learning_rate: 1e-3,
      }),
      shouldStop: () => false,
      onEvent: (event) => {
        if (event.type === "step") stepSeconds.push(probe.batch / event.examples_per_second);
      },
    });
  } finally {
    model.dispose();
  }
  const timed = stepSeconds.slice(1).sort((a, b) => a - b);
  return timed[Math.floor(timed.length / 2)] ?? stepSeconds[0];
}

/** Least squares for t = a + b·layers + c·flops over the probes (3 equations, 3 unknowns: exact). */
async function measure(backend: string): Promise<Throughput> {
  const rows: { layers: number; flops: number; seconds: number }[] = [];
  for (const probe of PROBES) {
    const config = probeConfig(probe, 80);
    rows.push({
      layers: probe.layers,
      flops: probeFlops(config, probe.seq) * probe.batch,
      seconds: await timeProbe(probe),
    });
  }
  const [a, b, c] = solve3(rows.map((r) => [1, r.layers, r.flops]), rows.map((r) => r.seconds));
  // Noise can push a coefficient below zero; fall back to the physically meaningful part of the fit.
  const biggest = rows[rows.length - 1];
  const flopsPerSecond = c > 0 ? 1 / c : biggest.flops / biggest.seconds;
  return {
    backend,
    baseSeconds: Math.max(0, a),
    perLayerSeconds: Math.max(0, b),
    flopsPerSecond,
    measuredAt: new Date().toISOString(),
  };
}

function solve3(m: number[][], y: number[]): number[] {
  const det = (q: number[][]) =>
    q[0][0] * (q[1][1] * q[2][2] - q[1][2] * q[2][1]) - q[0][1] * (q[1][0] * q[2][2] - q[1][2] * q[2][0]) +
    q[0][2] * (q[1][0] * q[2][1] - q[1][1] * q[2][0]);
  const d = det(m);
  return [0, 1, 2].map((col) => det(m.map((row, i) => row.map((v, j) => (j === col ? y[i] : v)))) / d);
}
