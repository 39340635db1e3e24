/**
 * Randomly initialised generative models from a JSON spec: GPT-2 (causal-lm), T5, Marian and mBART
 * (translation), with bounded sizes and the tokenizer sources of random_init.ts (a WordPiece learned from a
 * dataset column, another model's tokenizer, or an uploaded file). The tokenizer's special tokens become the
 * config's ids (EOS, padding, decoder start), and the result is exported as a Hugging Face folder that the
 * causal-lm / translation tasks fine-tune and predict serves.
 */
import { z } from "zod";
import { exportGenerativeFolder } from "../../shared/core/checkpoint/generative_folder.ts";
import { parseBartConfig } from "../../shared/core/model/bart_config.ts";
import { bartParameterShapes } from "../../shared/core/model/bart_layers.ts";
import { initGenerativeModel } from "../../shared/core/model/generative_load.ts";
import { gpt2ParameterShapes } from "../../shared/core/model/gpt2.ts";
import { parseGpt2Config } from "../../shared/core/model/gpt2_config.ts";
import { parseT5Config, t5ParameterShapes } from "../../shared/core/model/t5_config.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import type { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { invalidRequest } from "../../shared/schemas/errors.ts";
import type { TaskName } from "../../shared/schemas/resources.ts";
import { tokenizerSpec } from "./tokenizer_spec.ts";

const MAX_PARAMETERS = 100_000_000;
const size = (max: number) => z.number().int().min(1).max(max);

const gpt2Sizes = z.object({
  n_embd: size(2048),
  n_layer: size(48),
  n_head: size(64),
  n_positions: z.number().int().min(16).max(4096).default(256),
  n_inner: size(8192).optional(),
}).strict().refine((c) => c.n_embd % c.n_head === 0, {
  message: "n_embd must be a multiple of n_head",
  path: ["n_embd"],
});

const t5Sizes = z.object({
  d_model: size(2048),
  d_kv: size(256),
  d_ff: size(8192),
  num_layers: size(48),
  num_decoder_layers: size(48).optional(),
  num_heads: size(64),
  feed_forward_proj: z.enum(["relu", "gated-gelu"]).default("relu"),
}).strict();

const bartSizes = z.object({
  d_model: size(2048),
  encoder_layers: size(48),
  decoder_layers: size(48),
  encoder_attention_heads: size(64),
  decoder_attention_heads: size(64),
  encoder_ffn_dim: size(8192),
  decoder_ffn_dim: size(8192),
  max_position_embeddings: z.number().int().min(16).max(4096).default(256),
}).strict().refine(
  (c) => c.d_model % c.encoder_attention_heads === 0 && c.d_model % c.decoder_attention_heads === 0,
  {
    message: "d_model must be a multiple of the attention heads",
    path: ["d_model"],
  },
);

const common = {
  name: z.string().trim().min(1).max(256),
  tokenizer: tokenizerSpec,
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
};

export const generativeModelSpec = z.discriminatedUnion("architecture", [
  z.object({ ...common, architecture: z.literal("gpt2"), config: gpt2Sizes }).strict(),
  z.object({ ...common, architecture: z.literal("t5"), config: t5Sizes }).strict(),
  z.object({ ...common, architecture: z.literal("marian"), config: bartSizes }).strict(),
  z.object({ ...common, architecture: z.literal("mbart"), config: bartSizes }).strict(),
]);
export type GenerativeModelSpec = z.infer<typeof generativeModelSpec>;

function specialIds(tokenizer: GenerationTokenizer) {
  const eos = tokenizer.eosTokenId;
  const pad = tokenizer.padTokenId;
  if (eos === null || pad === null) {
    throw invalidRequest("the tokenizer needs an end-of-sequence and a padding token for a generative model");
  }
  return { eos, pad, bos: tokenizer.bosTokenId ?? eos };
}

function configOf(spec: GenerativeModelSpec, tokenizer: GenerationTokenizer): Record<string, unknown> {
  const { eos, pad, bos } = specialIds(tokenizer);
  const vocab_size = tokenizer.vocabSize;
  switch (spec.architecture) {
    case "gpt2":
      return { model_type: "gpt2", ...spec.config, vocab_size, bos_token_id: bos, eos_token_id: eos };
    case "t5":
      return {
        model_type: "t5",
        ...spec.config,
        vocab_size,
        eos_token_id: eos,
        pad_token_id: pad,
        decoder_start_token_id: pad,
      };
    case "marian":
    case "mbart":
      return {
        model_type: spec.architecture,
        ...spec.config,
        vocab_size,
        eos_token_id: eos,
        pad_token_id: pad,
        bos_token_id: bos,
        decoder_start_token_id: spec.architecture === "marian" ? pad : eos,
      };
  }
}

/** Parameters of the config's model, counted from its weight shapes (nothing allocated). */
function plannedParameters(
  architecture: GenerativeModelSpec["architecture"],
  config: Record<string, unknown>,
) {
  const shapes = architecture === "gpt2"
    ? gpt2ParameterShapes(parseGpt2Config(config))
    : architecture === "t5"
    ? t5ParameterShapes(parseT5Config(config))
    : bartParameterShapes(parseBartConfig(config));
  let count = 0;
  for (const shape of shapes.values()) count += shape.reduce((a, b) => a * b, 1);
  return count;
}

export function buildRandomGenerative(spec: GenerativeModelSpec, textTokenizer: TextTokenizer) {
  const tokenizer = GenerationTokenizer.fromTokenizerJson(textTokenizer.toTokenizerJson(), {});
  const config = configOf(spec, tokenizer);
  // Refused before any weight is allocated: an oversized init would exhaust the backend's memory.
  const planned = plannedParameters(spec.architecture, config);
  if (planned > MAX_PARAMETERS) {
    throw invalidRequest(`the model would have ${planned} parameters; the limit is ${MAX_PARAMETERS}`, [{
      path: "config",
      message: "too many parameters",
    }]);
  }
  const model = initGenerativeModel(config, spec.seed);
  try {
    const parameters = model.parameterCount();
    const files = exportGenerativeFolder(model, tokenizer);
    const task: TaskName = spec.architecture === "gpt2" ? "causal-lm" : "translation";
    return {
      config: JSON.parse(new TextDecoder().decode(files["config.json"])) as Record<string, unknown>,
      files,
      labels: null,
      parameters,
      task,
      architecture: spec.architecture,
    };
  } finally {
    model.dispose();
  }
}
