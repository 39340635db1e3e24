/**
 * Creating a T5ForConditionalGeneration: from scratch with HF's T5PreTrainedModel._init_weights (normal
 * with the per-module standard deviations below, scaled by initializer_factor; norms filled with the factor;
 * seeded per parameter name, so the same seed gives the same weights), or from checkpoint tensors with HF
 * names (tied duplicates skipped, 400 invalid_file on a missing tensor or a shape mismatch); and the state
 * dict to save as model.safetensors.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import { mixSeed } from "./layers.ts";
import type { CheckpointTensor } from "./load.ts";
import { T5ForConditionalGeneration } from "./t5.ts";
import { parseT5Config, type T5Config, t5ParameterShapes } from "./t5_config.ts";

/** HF T5PreTrainedModel._init_weights' standard deviation for a parameter (0 = a norm, filled instead). */
function initStd(config: T5Config, name: string): number {
  const f = config.initializer_factor;
  const d = config.d_model;
  if (name.endsWith("layer_norm.weight")) return 0;
  if (name === "shared.weight" || name === "lm_head.weight") return f;
  if (name.endsWith(".q.weight")) return f * (d * config.d_kv) ** -0.5;
  if (name.endsWith(".o.weight")) return f * (config.num_heads * config.d_kv) ** -0.5;
  if (name.endsWith(".wo.weight")) return f * config.d_ff ** -0.5;
  return f * d ** -0.5; // k, v, wi, wi_0, wi_1, relative_attention_bias
}

function seedFor(seed: number, name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = mixSeed(h, name.charCodeAt(i));
  return mixSeed(seed, h);
}

/** A freshly initialised T5 (HF's init); each parameter's values depend only on (seed, name). */
export function initT5(configJson: unknown, seed: number): T5ForConditionalGeneration {
  const config = parseT5Config(configJson);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of t5ParameterShapes(config)) {
    const std = initStd(config, name);
    params.set(
      name,
      tf.tidy(() =>
        tf.variable(
          std === 0
            ? tf.fill(shape, config.initializer_factor)
            : tf.randomNormal(shape, 0, std, "float32", seedFor(seed, name)),
        )
      ),
    );
  }
  return new T5ForConditionalGeneration(config, params);
}

/**
 * A T5 from checkpoint tensors with HF names. encoder/decoder.embed_tokens (and lm_head when tied) are
 * duplicates of shared.weight and are skipped (used only when shared.weight is absent); unknown tensors are
 * returned in `ignored`; a missing parameter or a shape mismatch is a 400.
 */
export function loadT5(
  configJson: unknown,
  tensors: Map<string, CheckpointTensor>,
): { model: T5ForConditionalGeneration; ignored: string[] } {
  const config = parseT5Config(configJson);
  const expected = t5ParameterShapes(config);
  const ignored: string[] = [];
  const source = new Map<string, CheckpointTensor>();
  for (const [name, tensor] of tensors) {
    if (expected.has(name)) source.set(name, tensor);
    else ignored.push(name);
  }
  if (!source.has("shared.weight")) {
    const alias = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"].find((n) => tensors.has(n));
    if (alias) source.set("shared.weight", tensors.get(alias)!);
  }
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = source.get(name);
    if (!tensor) problems.push(`${name} is missing`);
    else if (tensor.shape.join(",") !== shape.join(",")) {
      problems.push(`${name} is [${tensor.shape}], expected [${shape}]`);
    } else if (tensor.data.length !== shape.reduce((a, c) => a * c, 1)) {
      problems.push(`${name} has the wrong data size`);
    }
  }
  if (problems.length > 0) {
    throw new ApiError(
      400,
      "invalid_file",
      `checkpoint does not match config.json: ${problems.slice(0, 5).join("; ")}${
        problems.length > 5 ? ` (and ${problems.length - 5} more)` : ""
      }`,
      { problems },
    );
  }
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of expected) {
    params.set(name, tf.tidy(() => tf.variable(tf.tensor(source.get(name)!.data, shape, "float32"))));
  }
  return { model: new T5ForConditionalGeneration(config, params), ignored };
}

/** The model's tensors under their HF names (what model.safetensors holds; tied duplicates omitted). */
export function t5StateDict(
  model: T5ForConditionalGeneration,
): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of model.params) {
    out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  }
  return out;
}
