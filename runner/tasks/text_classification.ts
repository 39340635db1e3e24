/**
 * The text-classification task: reads the job's labelled rows and base model (job_inputs.ts), loads the BERT
 * sequence classifier with a head sized for the dataset's labels, fine-tunes it with the shared core, and
 * returns the result as a Hugging Face folder with id2label/label2id. Checkpoints and resume come from the
 * context (see types.ts).
 */
import {
  exportHfFolder,
  fineTuneSequenceClassifier,
  loadSequenceClassifier,
  readSafetensors,
} from "../../shared/core/mod.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { fileText, loadJobInputs, loadTokenizer } from "../job_inputs.ts";
import type { TaskContext, TaskOutput, TaskRunner } from "./types.ts";

export const textClassification: TaskRunner = {
  async run(ctx: TaskContext): Promise<TaskOutput> {
    const { job, platform } = ctx;
    const inputs = await loadJobInputs(platform.meta, platform.blobs, job);
    const tokenizer = loadTokenizer(inputs.baseModelFiles);
    const weights = inputs.baseModelFiles.get("model.safetensors");
    if (!weights) {
      throw new ApiError(400, "invalid_file", `base model '${job.base_model}' has no model.safetensors`);
    }
    const { model, initialized } = loadSequenceClassifier(
      fileText(inputs.baseModelFiles, "config.json"),
      readSafetensors(weights),
      inputs.labels.length,
    );
    try {
      await ctx.log(
        `training on ${inputs.train.texts.length} rows, evaluating on ` +
          `${inputs.validation?.texts.length ?? 0}; labels: ${inputs.labels.join(", ")}; ` +
          `newly initialised: ${initialized.length} tensors`,
      );
      // Off until the hyperparameters schema gains `load_best_model_at_end` (then: keep the best weights).
      const loadBest =
        (job.hyperparameters as { load_best_model_at_end?: boolean | null }).load_best_model_at_end === true;
      const result = await fineTuneSequenceClassifier({
        model,
        tokenizer,
        train: inputs.train,
        validation: inputs.validation,
        hyperparameters: job.hyperparameters,
        shouldStop: () => ctx.shouldStop(),
        onEvent: (event) => ctx.onTrainEvent(event),
        resumable: {
          ...ctx.resume,
          loadBestModelAtEnd: loadBest,
        },
      });
      return {
        status: result.status,
        files: result.status === "completed" ? exportHfFolder(model, tokenizer, inputs.labels) : {},
        task: "text-classification",
        labels: inputs.labels,
        parameters: model.parameterCount(),
        architecture: inputs.baseModel.architecture,
        baseModelName: inputs.baseModel.name,
        metrics: loadBest && result.best
          ? { ...result.metrics, best_step: result.best.step }
          : result.metrics,
      };
    } finally {
      model.dispose();
    }
  },
};
