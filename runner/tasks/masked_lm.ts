/**
 * The masked-lm task (continued, domain-adaptive pre-training): reads the job's unlabeled texts (only
 * `columns.text`; a label column is ignored), holds out a validation split as text-classification does,
 * loads the BERT base model with a masked-LM head (its own `cls.predictions.*` when the checkpoint has one,
 * a fresh one otherwise), trains it with the generic trainer on BERT's 15% / 80-10-10 masking
 * (`hyperparameters.mlm_probability`), and returns a base model — task null, a BertForMaskedLM HF folder with
 * the base model's tokenizer — that text-classification jobs can name as their `base_model`. Evaluation
 * reports eval_loss, perplexity and masked-token accuracy. Checkpoints and resume come from the context.
 */
import { parseBertConfig, readSafetensors } from "../../shared/core/mod.ts";
import { loadBertForMaskedLM } from "../../shared/core/model/mlm_head.ts";
import { mlmExamples, tokenCount } from "../../shared/core/tasks/mlm/examples.ts";
import { exportMaskedLmFolder } from "../../shared/core/tasks/mlm/export.ts";
import { MaskedLmTask } from "../../shared/core/tasks/mlm/task.ts";
import { train } from "../../shared/core/train/trainer.ts";
import { readTable, validateColumnsForTask } from "../../shared/data/mod.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { DatasetRecord, JobRecord, ModelRecord } from "../../shared/schemas/resources.ts";
import { fileText, getRecord, holdOut, loadTokenizer, readBlob } from "../job_inputs.ts";
import type { TaskContext, TaskOutput, TaskRunner } from "./types.ts";

/** The non-blank texts of one dataset's text column. */
async function readTexts(platform: Platform, job: JobRecord, datasetId: string): Promise<string[]> {
  const dataset = await getRecord<DatasetRecord>(platform.meta, "datasets", job.tenant, datasetId);
  validateColumnsForTask(dataset.columns, { text: job.columns.text }, dataset.id);
  const stream = await platform.blobs.get(dataset.blob_key);
  if (!stream) throw new ApiError(404, "not_found", `dataset '${dataset.id}' has no stored file`);
  const texts: string[] = [];
  for await (const { row } of readTable(stream, dataset.format)) {
    const text = (row[job.columns.text] ?? "").trim();
    if (text !== "") texts.push(text);
  }
  if (texts.length === 0) {
    throw new ApiError(
      400,
      "invalid_file",
      `dataset '${dataset.id}' has no non-empty '${job.columns.text}' text`,
    );
  }
  return texts;
}

/** Training and held-out texts: the validation dataset, else a seeded split of the training texts. */
async function splitTexts(platform: Platform, job: JobRecord) {
  const all = await readTexts(platform, job, job.training_dataset);
  if (job.validation_dataset) {
    return { train: all, validation: await readTexts(platform, job, job.validation_dataset) };
  }
  const { train, heldOut } = holdOut(all, job);
  return { train, validation: heldOut ?? [] };
}

export const maskedLm: TaskRunner = {
  async run(ctx: TaskContext): Promise<TaskOutput> {
    const { job, platform } = ctx;
    const hp = job.hyperparameters;
    const texts = await splitTexts(platform, job);
    const baseModel = await getRecord<ModelRecord>(platform.meta, "models", job.tenant, job.base_model);
    const files = new Map<string, Uint8Array>();
    for (const file of baseModel.files) {
      files.set(file.name, await readBlob(platform.blobs, baseModel.blob_prefix + file.name));
    }
    let config;
    try {
      config = parseBertConfig(JSON.parse(fileText(files, "config.json")));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      throw new ApiError(
        400,
        error.code,
        `masked-lm jobs need a BERT base model: ${error.message}`,
        error.details,
      );
    }
    const tokenizer = loadTokenizer(files);
    const weights = files.get("model.safetensors");
    if (!weights) {
      throw new ApiError(400, "invalid_file", `base model '${job.base_model}' has no model.safetensors`);
    }
    const maxLength = Math.min(hp.max_seq_length, config.max_position_embeddings);
    const trainExamples = mlmExamples(tokenizer, texts.train, { maxLength });
    const validationExamples = mlmExamples(tokenizer, texts.validation, { maxLength });
    if (trainExamples.length === 0) {
      throw new ApiError(400, "invalid_file", "the training texts contain no tokens this tokenizer knows");
    }
    const { model, initialized } = loadBertForMaskedLM(config, readSafetensors(weights), hp.seed);
    try {
      const task = new MaskedLmTask(model, tokenizer, {
        mlmProbability: hp.mlm_probability,
        dropout: { hidden: hp.hidden_dropout, attention: hp.attention_dropout },
        evalSeed: hp.seed,
      });
      await ctx.log(
        `masked-lm on ${texts.train.length} texts → ${trainExamples.length} sequences ` +
          `(${tokenCount(trainExamples)} tokens, max ${maxLength}); evaluating on ` +
          `${validationExamples.length} sequences; mlm_probability ${hp.mlm_probability}; ` +
          `newly initialised: ${initialized.length} tensors`,
      );
      const result = await train({
        task,
        train: trainExamples,
        validation: validationExamples.length > 0 ? validationExamples : null,
        hyperparameters: hp,
        shouldStop: () => ctx.shouldStop(),
        onEvent: (event) => ctx.onTrainEvent(event),
        ...ctx.resume,
      });
      return {
        status: result.status,
        files: result.status === "completed" ? exportMaskedLmFolder(model, tokenizer) : {},
        task: null,
        labels: null,
        parameters: model.parameterCount(),
        architecture: baseModel.architecture,
        baseModelName: baseModel.name,
        metrics: result.metrics,
      };
    } finally {
      model.dispose();
    }
  },
};
