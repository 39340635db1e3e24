/**
 * Creating a BART-family model (mBART, Marian): from scratch with HF's `_init_weights` (Linear and Embedding
 * weights normal(0, init_std), biases 0, LayerNorm 1/0, the padding row of `model.shared` zeroed,
 * final_logits_bias 0, Marian's sinusoidal position tables computed; seeded per parameter name), or from
 * checkpoint tensors. Loading accepts names with or without the `model.` prefix, takes the tied copies
 * (`model.encoder.embed_tokens`, `model.decoder.embed_tokens`, `lm_head`) as the shared embedding when
 * `model.shared.weight` itself is absent, rebuilds absent Marian position tables and a missing
 * final_logits_bias, and answers ApiError 400 for shape mismatches or a checkpoint without the embedding or
 * the encoder/decoder layers. `bartStateDict` writes what HF's safetensors holds (tied copies left out).
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import { type BartConfig, parseBartConfig } from "./bart_config.ts";
import { BartForConditionalGeneration } from "./bart.ts";
import { bartParameterShapes, FINAL_LOGITS_BIAS, marianSinusoidalTable, SHARED } from "./bart_layers.ts";
import type { CheckpointTensor } from "./load.ts";
import { mixSeed } from "./layers.ts";

export interface LoadedBart {
  model: BartForConditionalGeneration;
  /** Our parameter names the checkpoint did not provide (initialised, or computed for fixed tables). */
  initialized: string[];
  /** Checkpoint tensor names that were not used (tied copies, buffers, unknown tensors). */
  ignored: string[];
}

/** Tied copies of model.shared.weight that checkpoints may carry. */
const TIED_COPIES = [
  "model.encoder.embed_tokens.weight",
  "model.decoder.embed_tokens.weight",
  "lm_head.weight",
];

function seedFor(seed: number, name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = mixSeed(h, name.charCodeAt(i));
  return mixSeed(seed, h);
}

/** HF's initial value of one parameter (see module comment). */
function initialValue(config: BartConfig, name: string, shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    if (config.model_type === "marian" && name.endsWith("embed_positions.weight")) {
      return tf.tensor(marianSinusoidalTable(shape[0], shape[1]), shape);
    }
    if (/layer_?norm(_embedding)?\.weight$/.test(name)) return tf.ones(shape);
    if (name.endsWith(".bias") || name === FINAL_LOGITS_BIAS) return tf.zeros(shape);
    const weight = tf.randomNormal(shape, 0, config.init_std, "float32", seed);
    if (name !== SHARED) return weight;
    const isPad = tf.reshape(tf.oneHot([config.pad_token_id], shape[0]), [shape[0], 1]);
    return tf.mul(weight, tf.sub(1, isPad));
  });
}

const asConfig = (json: unknown): BartConfig => parseBartConfig(json);

/** A freshly initialised model; each parameter's values depend only on (seed, name). */
export function initBart(configJson: unknown, seed: number): BartForConditionalGeneration {
  const config = asConfig(configJson);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of bartParameterShapes(config)) {
    params.set(name, tf.tidy(() => tf.variable(initialValue(config, name, shape, seedFor(seed, name)))));
  }
  return new BartForConditionalGeneration(config, params);
}

/** Our name for a checkpoint tensor name (the `model.` prefix added where a base-model checkpoint lacks it). */
function canonical(name: string): string {
  if (name === FINAL_LOGITS_BIAS || name.startsWith("lm_head.") || name.startsWith("model.")) return name;
  return `model.${name}`;
}

/** Loads checkpoint tensors (HF names) into a model of config.json's family. */
export function loadBart(configJson: unknown, tensors: Map<string, CheckpointTensor>, seed = 42): LoadedBart {
  const config = asConfig(configJson);
  const expected = bartParameterShapes(config);
  const found = new Map<string, CheckpointTensor>();
  const tied = new Map<string, CheckpointTensor>();
  const ignored: string[] = [];
  const mismatches: { name: string; checkpoint: number[]; expected: number[] }[] = [];
  for (const [checkpointName, tensor] of tensors) {
    const name = canonical(checkpointName);
    const shape = TIED_COPIES.includes(name) ? expected.get(SHARED)! : expected.get(name);
    if (shape === undefined || found.has(name)) {
      ignored.push(checkpointName);
      continue;
    }
    if (tensor.shape.join(",") !== shape.join(",")) {
      mismatches.push({ name: checkpointName, checkpoint: tensor.shape, expected: shape });
      continue;
    }
    if (tensor.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new ApiError(400, "invalid_file", `checkpoint tensor ${checkpointName} has the wrong data size`);
    }
    if (TIED_COPIES.includes(name)) {
      tied.set(name, tensor);
      ignored.push(checkpointName);
    } else {
      found.set(name, tensor);
    }
  }
  if (mismatches.length > 0) {
    const listed = mismatches.slice(0, 5).map((m) =>
      `${m.name} is [${m.checkpoint}], expected [${m.expected}]`
    );
    throw new ApiError(
      400,
      "invalid_file",
      `checkpoint shapes do not match config.json: ${listed.join("; ")}` +
        (mismatches.length > 5 ? ` (and ${mismatches.length - 5} more)` : ""),
      { mismatches },
    );
  }
  if (!found.has(SHARED)) {
    const copy = TIED_COPIES.map((n) => tied.get(n)).find((t) => t !== undefined);
    if (!copy) {
      throw new ApiError(
        400,
        "invalid_file",
        `the checkpoint has no token embedding ('${SHARED}' or a tied copy)`,
        {
          sample: [...tensors.keys()].slice(0, 10),
        },
      );
    }
    found.set(SHARED, copy);
  }
  for (const side of ["encoder", "decoder"] as const) {
    if (![...found.keys()].some((n) => n.startsWith(`model.${side}.layers.`))) {
      throw new ApiError(
        400,
        "invalid_file",
        `the checkpoint contains no ${config.model_type} ${side} layers (expected names like ` +
          `'model.${side}.layers.0.fc1.weight', with or without the 'model.' prefix)`,
        { sample: [...tensors.keys()].slice(0, 10) },
      );
    }
  }
  const params = new Map<string, tf.Variable>();
  const initialized: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = found.get(name);
    if (!tensor) initialized.push(name);
    params.set(
      name,
      tf.tidy(() =>
        tf.variable(
          tensor
            ? tf.tensor(tensor.data, shape, "float32")
            : initialValue(config, name, shape, seedFor(seed, name)),
        )
      ),
    );
  }
  return { model: new BartForConditionalGeneration(config, params), initialized, ignored };
}

/** Our parameters as checkpoint tensors under HF names (tied lm_head / embed_tokens copies left out). */
export function bartStateDict(model: BartForConditionalGeneration): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const [name, variable] of model.params) {
    out.set(name, { dtype: "F32", shape: [...variable.shape], data: variable.dataSync() as Float32Array });
  }
  return out;
}
