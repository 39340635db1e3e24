/**
 * Creating a GPT-2 language model: from scratch with HF's initialisation (GPT2PreTrainedModel._init_weights:
 * normal(0, initializer_range) for embeddings and Conv1D weights, the residual projections `c_proj.weight`
 * with std initializer_range/sqrt(2·n_layer), LayerNorm 1/0, biases 0; seeded per parameter name, so the same
 * seed gives the same weights), or from checkpoint tensors named as GPT2LMHeadModel (`transformer.h.0…`) or
 * GPT2Model (`h.0…`, as the original `gpt2` hub checkpoint). The causal-mask buffers attn.bias /
 * attn.masked_bias are ignored, and so is a tied lm_head.weight of the right shape; any shape mismatch is a
 * 400. Saving writes HF names without lm_head.weight when it is tied, as save_pretrained does.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import { Gpt2LMHeadModel, gpt2ParameterShapes } from "./gpt2.ts";
import { type Gpt2Config, parseGpt2Config } from "./gpt2_config.ts";
import { mixSeed } from "./layers.ts";
import type { CheckpointTensor } from "./load.ts";

export interface LoadedGpt2 {
  model: Gpt2LMHeadModel;
  /** Our parameter names the checkpoint did not provide (freshly initialised). */
  initialized: string[];
  /** Checkpoint tensor names that were not used (buffers, a tied lm_head, other heads). */
  ignored: string[];
}

function seedFor(seed: number, name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = mixSeed(h, name.charCodeAt(i));
  return mixSeed(seed, h);
}

/** The HF initial value of one parameter (see module comment). */
function initialValue(config: Gpt2Config, name: string, shape: number[], seed: number): tf.Tensor {
  if (/\.ln_(1|2|f)\.weight$/.test(name)) return tf.ones(shape);
  if (name.endsWith(".bias")) return tf.zeros(shape);
  const std = name.endsWith("c_proj.weight")
    ? config.initializer_range / Math.sqrt(2 * config.n_layer)
    : config.initializer_range;
  return tf.randomNormal(shape, 0, std, "float32", seed);
}

const asConfig = (config: unknown): Gpt2Config =>
  config && typeof config === "object" && (config as Gpt2Config).model_type === "gpt2" &&
    "n_embd" in config && "tie_word_embeddings" in config
    ? config as Gpt2Config
    : parseGpt2Config(config);

/** A freshly initialised GPT-2; each parameter's values depend only on (seed, name). */
export function initGpt2(configJson: unknown, seed: number): Gpt2LMHeadModel {
  const config = asConfig(configJson);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of gpt2ParameterShapes(config)) {
    params.set(name, tf.tidy(() => tf.variable(initialValue(config, name, shape, seedFor(seed, name)))));
  }
  return new Gpt2LMHeadModel(config, params);
}

/** Our name for a checkpoint tensor, or null for tensors GPT-2 does not use (buffers, other heads). */
export function canonicalGpt2Name(checkpointName: string): string | null {
  if (checkpointName === "lm_head.weight") return checkpointName;
  const bare = checkpointName.replace(/^transformer\./, "");
  if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(bare)) return null;
  if (!/^(wte|wpe|ln_f|h\.\d+)\./.test(bare)) return null;
  return `transformer.${bare}`;
}

const invalidFile = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", message, details);

/** Loads checkpoint tensors (HF names, with or without `transformer.`) into a GPT-2 of config.json's shape. */
export function loadGpt2(configJson: unknown, tensors: Map<string, CheckpointTensor>, seed = 42): LoadedGpt2 {
  const config = asConfig(configJson);
  const expected = gpt2ParameterShapes(config);
  const found = new Map<string, CheckpointTensor>();
  const ignored: string[] = [];
  const mismatches: { name: string; checkpoint: number[]; expected: number[] }[] = [];
  for (const [checkpointName, tensor] of tensors) {
    const name = canonicalGpt2Name(checkpointName);
    const tiedHead = name === "lm_head.weight" && config.tie_word_embeddings;
    const shape = tiedHead
      ? [config.vocab_size, config.n_embd]
      : name === null
      ? undefined
      : expected.get(name);
    if (name === null || shape === undefined || found.has(name)) {
      ignored.push(checkpointName);
      continue;
    }
    if (tensor.shape.join(",") !== shape.join(",")) {
      mismatches.push({ name: checkpointName, checkpoint: tensor.shape, expected: shape });
      continue;
    }
    if (tensor.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw invalidFile(`checkpoint tensor ${checkpointName} has the wrong data size`);
    }
    if (tiedHead) ignored.push(checkpointName);
    else found.set(name, tensor);
  }
  if (mismatches.length > 0) {
    const listed = mismatches.slice(0, 5).map((m) =>
      `${m.name} is [${m.checkpoint}], expected [${m.expected}]`
    );
    throw invalidFile(
      `checkpoint shapes do not match config.json: ${listed.join("; ")}${
        mismatches.length > 5 ? ` (and ${mismatches.length - 5} more)` : ""
      }`,
      { mismatches },
    );
  }
  if (
    !found.has("transformer.wte.weight") ||
    (config.n_layer > 0 && ![...found.keys()].some((n) => n.includes(".h.")))
  ) {
    throw invalidFile(
      "the checkpoint contains no GPT-2 weights (expected names like 'transformer.h.0.attn.c_attn.weight' or " +
        "'h.0.attn.c_attn.weight', and 'wte.weight')",
      { sample: [...tensors.keys()].slice(0, 10) },
    );
  }
  const params = new Map<string, tf.Variable>();
  const initialized: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = found.get(name);
    if (tensor) {
      params.set(name, tf.tidy(() => tf.variable(tf.tensor(tensor.data, shape, "float32"))));
    } else {
      initialized.push(name);
      params.set(name, tf.tidy(() => tf.variable(initialValue(config, name, shape, seedFor(seed, name)))));
    }
  }
  return { model: new Gpt2LMHeadModel(config, params), initialized, ignored };
}

/** Our parameters as checkpoint tensors (GPT2LMHeadModel names; no lm_head.weight when tied). */
export function gpt2StateDict(model: Gpt2LMHeadModel): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const [name, variable] of model.params) {
    out.set(name, { dtype: "F32", shape: [...variable.shape], data: variable.dataSync() as Float32Array });
  }
  return out;
}
