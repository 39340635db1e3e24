/**
 * Validates an uploaded generative Hugging Face folder (GPT-2, T5, mBART, Marian) before it is accepted:
 * config.json parses as the family's config (unsupported settings are a 400 naming them), the
 * model.safetensors header holds every weight the family needs with the right shape (checked by name from
 * the header alone, so the weights are never buffered), and tokenizer.json (+ tokenizer_config.json) loads
 * with an end-of-sequence token and fits the vocabulary. GPT-2 folders serve `causal-lm` (text generation),
 * encoder-decoders `translation`.
 */
import { readSafetensorsHeader } from "../../shared/core/checkpoint/safetensors.ts";
import { parseBartConfig } from "../../shared/core/model/bart_config.ts";
import { bartParameterShapes, positionsName } from "../../shared/core/model/bart_layers.ts";
import type { GenerativeModelType } from "../../shared/core/model/generative_load.ts";
import { parseGpt2Config } from "../../shared/core/model/gpt2_config.ts";
import { gpt2ParameterShapes } from "../../shared/core/model/gpt2.ts";
import { canonicalGpt2Name } from "../../shared/core/model/gpt2_load.ts";
import { parseT5Config, t5ParameterShapes } from "../../shared/core/model/t5_config.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { ApiError, invalidRequest } from "../../shared/schemas/errors.ts";
import type { TaskName } from "../../shared/schemas/resources.ts";
import { fileJson, fileText, type ModelUpload } from "./upload.ts";

const invalidFile = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", message, details);

interface Family {
  expected: Map<string, number[]>;
  /** Our name for a checkpoint tensor (null: not a parameter, e.g. a buffer). */
  canonical: (name: string) => string | null;
  /** Parameters a loader can do without (computed tables, tied copies). */
  optional: Set<string>;
  vocabSize: number;
}

function familyOf(type: GenerativeModelType, raw: Record<string, unknown>): Family {
  switch (type) {
    case "gpt2": {
      const config = parseGpt2Config(raw);
      return {
        expected: gpt2ParameterShapes(config),
        canonical: canonicalGpt2Name,
        optional: new Set(),
        vocabSize: config.vocab_size,
      };
    }
    case "t5": {
      const config = parseT5Config(raw);
      const alias = (name: string) =>
        /^(encoder|decoder)\.embed_tokens\.weight$/.test(name) ? "shared.weight" : name;
      return {
        expected: t5ParameterShapes(config),
        canonical: alias,
        optional: new Set(),
        vocabSize: config.vocab_size,
      };
    }
    case "mbart":
    case "marian": {
      const config = parseBartConfig(raw);
      const canonical = (name: string) => {
        const full = name === "final_logits_bias" || name.startsWith("lm_head.") || name.startsWith("model.")
          ? name
          : `model.${name}`;
        return /^model\.(encoder|decoder)\.embed_tokens\.weight$/.test(full) ? "model.shared.weight" : full;
      };
      const optional = new Set(["final_logits_bias"]);
      if (type === "marian") {
        for (const side of ["encoder", "decoder"] as const) optional.add(positionsName(side));
      }
      return { expected: bartParameterShapes(config), canonical, optional, vocabSize: config.vocab_size };
    }
  }
}

export function validateGenerativeFolder(
  upload: ModelUpload,
  type: GenerativeModelType,
  raw: Record<string, unknown>,
) {
  if (upload.weights === null) throw invalidRequest("model.safetensors is required");
  if (upload.weights.headerTooLarge) throw invalidFile("model.safetensors: header is larger than 16 MB");
  const family = familyOf(type, raw);
  const header = readSafetensorsHeader(upload.weights.head);
  const found = new Set<string>();
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(header.tensors)) {
    const ours = family.canonical(name);
    const shape = ours === null ? undefined : family.expected.get(ours);
    if (ours === null || shape === undefined) continue;
    if (entry.shape.join(",") !== shape.join(",")) {
      problems.push(`${name} is [${entry.shape}], expected [${shape}]`);
    } else found.add(ours);
  }
  for (const name of family.expected.keys()) {
    if (!found.has(name) && !family.optional.has(name)) problems.push(`${name} is missing`);
  }
  if (problems.length > 0) {
    throw invalidFile(`model.safetensors does not fit config.json: ${problems.slice(0, 3).join("; ")}`, {
      problems: problems.slice(0, 20),
    });
  }
  const tokenizerJson = fileText(upload, "tokenizer.json");
  if (tokenizerJson === null) throw invalidRequest(`a ${type} model needs tokenizer.json`);
  const tokenizer = GenerationTokenizer.fromTokenizerJson(
    tokenizerJson,
    fileJson(upload, "tokenizer_config.json") ?? {},
  );
  if (tokenizer.vocabSize > family.vocabSize) {
    throw invalidFile(
      `the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${family.vocabSize}`,
    );
  }
  if (tokenizer.eosTokenId === null) throw invalidFile("the tokenizer has no end-of-sequence token");
  let parameters = 0;
  for (const entry of Object.values(header.tensors)) parameters += entry.shape.reduce((a, b) => a * b, 1);
  const task: TaskName = type === "gpt2" ? "causal-lm" : "translation";
  return { task, parameters };
}
