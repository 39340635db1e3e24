/**
 * A generative model as a Hugging Face folder: config.json (the family's config with `architectures`),
 * model.safetensors (HF names, tied duplicates omitted as transformers saves them), tokenizer.json +
 * tokenizer_config.json, and generation_config.json with the special ids generation starts and stops with —
 * what `AutoModelForCausalLM` / `AutoModelForSeq2SeqLM` and AutoTokenizer load.
 */
import type { GenerativeModel } from "../generate/types.ts";
import {
  GENERATIVE_ARCHITECTURES,
  generativeCheckpoint,
  type GenerativeModelType,
} from "../model/generative_load.ts";
import type { GenerationTokenizer } from "../tokenizer/generation_tokenizer.ts";
import { writeSafetensors } from "./safetensors.ts";

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

export function exportGenerativeFolder(
  model: GenerativeModel,
  tokenizer: GenerationTokenizer,
  extraConfig: Record<string, unknown> = {},
): Record<string, Uint8Array> {
  const { tensors, config } = generativeCheckpoint(model);
  const type = config.model_type as GenerativeModelType;
  const fullConfig = { architectures: [GENERATIVE_ARCHITECTURES[type]], ...config, ...extraConfig };
  const generation: Record<string, unknown> = {
    eos_token_id: model.eosTokenId,
    pad_token_id: model.padTokenId,
  };
  if (model.kind === "seq2seq") generation.decoder_start_token_id = model.decoderStartTokenId;
  if (tokenizer.bosTokenId !== null) generation.bos_token_id = tokenizer.bosTokenId;
  const forced = (model as { forcedBosTokenId?: number | null }).forcedBosTokenId;
  if (forced !== undefined && forced !== null) generation.forced_bos_token_id = forced;
  return {
    "config.json": encodeJson(fullConfig),
    "generation_config.json": encodeJson(generation),
    "model.safetensors": writeSafetensors(tensors, { format: "pt" }),
    "tokenizer.json": new TextEncoder().encode(tokenizer.toTokenizerJson()),
    "tokenizer_config.json": encodeJson(tokenizer.tokenizerConfig()),
  };
}
