/**
 * What the two generative tasks (causal-lm, translation) share on the runner: the base model's generation
 * tokenizer (tokenizer.json + tokenizer_config.json) and weights loaded into the family's model (GPT-2, T5,
 * mBART, Marian), and the TaskOutput that hands the fine-tuned model back as an HF folder.
 */
import { exportGenerativeFolder } from "../../shared/core/checkpoint/generative_folder.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import type { GenerativeModel } from "../../shared/core/generate/types.ts";
import { loadGenerativeModel } from "../../shared/core/model/generative_load.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { TaskName } from "../../shared/schemas/resources.ts";
import type { FineTuneResult } from "../../shared/core/train/fine_tune.ts";
import { fileText } from "../job_inputs.ts";
import type { TaskInputs } from "../task_inputs.ts";
import type { TaskOutput } from "./types.ts";

export interface LoadedGenerative {
  model: GenerativeModel;
  tokenizer: GenerationTokenizer;
}

export function loadGenerativeBase(inputs: TaskInputs): LoadedGenerative {
  const files = inputs.baseModelFiles;
  const weights = files.get("model.safetensors");
  if (!weights) {
    throw new ApiError(400, "invalid_file", `base model '${inputs.baseModel.id}' has no model.safetensors`);
  }
  if (!files.has("tokenizer.json")) {
    throw new ApiError(400, "invalid_file", `base model '${inputs.baseModel.id}' has no tokenizer.json`);
  }
  const tokenizerConfig = files.has("tokenizer_config.json")
    ? JSON.parse(fileText(files, "tokenizer_config.json"))
    : {};
  const tokenizer = GenerationTokenizer.fromTokenizerJson(fileText(files, "tokenizer.json"), tokenizerConfig);
  const { model } = loadGenerativeModel(fileText(files, "config.json"), readSafetensors(weights));
  return { model, tokenizer };
}

export function generativeOutput(
  task: TaskName,
  loaded: LoadedGenerative,
  inputs: TaskInputs,
  result: FineTuneResult,
  taskOptions: Record<string, unknown>,
): TaskOutput {
  return {
    status: result.status,
    // transformers' T5 convention: the source prefix travels in config.json (`prefix`), so an exported and
    // re-imported model is served with it.
    files: result.status === "completed"
      ? exportGenerativeFolder(
        loaded.model,
        loaded.tokenizer,
        typeof taskOptions.source_prefix === "string" ? { prefix: taskOptions.source_prefix } : {},
      )
      : {},
    task,
    labels: null,
    taskOptions,
    parameters: loaded.model.parameterCount(),
    architecture: inputs.baseModel.architecture,
    baseModelName: inputs.baseModel.name,
    metrics: result.best ? { ...result.metrics, best_step: result.best.step } : result.metrics,
  };
}
