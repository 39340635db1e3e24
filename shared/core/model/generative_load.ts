/**
 * Generative models of every supported family behind one door: create (seeded HF init), load from
 * config.json + checkpoint tensors, and turn back into checkpoint tensors + HF config.json — GPT-2
 * (decoder-only), T5, mBART and Marian (encoder-decoders), dispatched on `model_type`; anything else is a 400
 * naming the supported list. Used by the runner (causal-lm, translation), the edge's model import and its
 * serving cache.
 */
import { ApiError } from "../../schemas/errors.ts";
import type { GenerativeModel } from "../generate/types.ts";
import {
  bartConfigToHfJson,
  BartForConditionalGeneration,
  bartStateDict,
  initBart,
  loadBart,
} from "./bart.ts";
import { gpt2ConfigToHfJson } from "./gpt2_config.ts";
import { Gpt2LMHeadModel } from "./gpt2.ts";
import { gpt2StateDict, initGpt2, loadGpt2 } from "./gpt2_load.ts";
import type { CheckpointTensor } from "./load.ts";
import { T5ForConditionalGeneration } from "./t5.ts";
import { t5ConfigToHfJson } from "./t5_config.ts";
import { initT5, loadT5, t5StateDict } from "./t5_load.ts";

export const GENERATIVE_MODEL_TYPES = ["gpt2", "t5", "mbart", "marian"] as const;
export type GenerativeModelType = typeof GENERATIVE_MODEL_TYPES[number];

/** The HF `architectures` entry of each family. */
export const GENERATIVE_ARCHITECTURES: Record<GenerativeModelType, string> = {
  gpt2: "GPT2LMHeadModel",
  t5: "T5ForConditionalGeneration",
  mbart: "MBartForConditionalGeneration",
  marian: "MarianMTModel",
};

function parseJson(configJson: unknown): Record<string, unknown> {
  let value = configJson;
  if (typeof configJson === "string") {
    try {
      value = JSON.parse(configJson);
    } catch (error) {
      throw new ApiError(400, "invalid_file", `config.json is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiError(400, "invalid_file", "config.json must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** The config's model_type when it is a supported generative family, else null. */
export function generativeModelType(configJson: unknown): GenerativeModelType | null {
  const type = parseJson(configJson).model_type;
  return (GENERATIVE_MODEL_TYPES as readonly unknown[]).includes(type) ? type as GenerativeModelType : null;
}

function requireType(configJson: unknown): GenerativeModelType {
  const type = generativeModelType(configJson);
  if (type === null) {
    throw new ApiError(
      400,
      "invalid_file",
      `model_type '${parseJson(configJson).model_type}' is not a supported generative model (supported: ${
        GENERATIVE_MODEL_TYPES.join(", ")
      })`,
    );
  }
  return type;
}

export function initGenerativeModel(configJson: unknown, seed: number): GenerativeModel {
  switch (requireType(configJson)) {
    case "gpt2":
      return initGpt2(configJson, seed);
    case "t5":
      return initT5(configJson, seed);
    case "mbart":
    case "marian":
      return initBart(configJson, seed);
  }
}

export function loadGenerativeModel(
  configJson: unknown,
  tensors: Map<string, CheckpointTensor>,
): { model: GenerativeModel; ignored: string[] } {
  switch (requireType(configJson)) {
    case "gpt2":
      return loadGpt2(configJson, tensors);
    case "t5":
      return loadT5(configJson, tensors);
    case "mbart":
    case "marian":
      return loadBart(configJson, tensors);
  }
}

/** The model's checkpoint tensors (HF names, tied duplicates omitted) and its HF config.json object. */
export function generativeCheckpoint(model: GenerativeModel): {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  config: Record<string, unknown>;
} {
  if (model instanceof Gpt2LMHeadModel) {
    return { tensors: gpt2StateDict(model), config: gpt2ConfigToHfJson(model.config) };
  }
  if (model instanceof T5ForConditionalGeneration) {
    return { tensors: t5StateDict(model), config: t5ConfigToHfJson(model.config) };
  }
  if (model instanceof BartForConditionalGeneration) {
    return { tensors: bartStateDict(model), config: bartConfigToHfJson(model.config) };
  }
  throw new Error("generativeCheckpoint: unknown model class");
}
