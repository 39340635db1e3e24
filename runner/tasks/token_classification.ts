/**
 * The token-classification task (NER, POS tagging): reads the job's rows (task_inputs.ts; CoNLL uploads
 * arrive as {tokens, tags} rows, JSONL as arrays, CSV/TSV as space-separated lists), checks and converts them
 * (shared/data/tasks/token_classification_rows.ts: bad rows are 400 invalid_file with their line numbers,
 * entity tags in IOB1/IOB2/BIOES per `task_options.tag_scheme` or detected, trained as IOB2), loads the base
 * model with a token head sized for the labels, fine-tunes it with the shared core (optional
 * `task_options.class_weights`) and returns a *ForTokenClassification HF folder with id2label. Evaluation
 * reports eval_loss, precision, recall, f1, accuracy and f1_<TYPE>. Checkpoints and resume come from the
 * context (see types.ts).
 */
import { exportHfFolder, loadSequenceClassifier, readSafetensors } from "../../shared/core/mod.ts";
import { fineTuneTokenClassifier } from "../../shared/core/train/token_classification.ts";
import { prepareTokenData } from "../../shared/data/tasks/token_classification_rows.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { fileText, loadTokenizer } from "../job_inputs.ts";
import { loadTaskInputs } from "../task_inputs.ts";
import type { TaskContext, TaskOutput, TaskRunner } from "./types.ts";

export const tokenClassification: TaskRunner = {
  async run(ctx: TaskContext): Promise<TaskOutput> {
    const { job } = ctx;
    const hp = job.hyperparameters;
    const inputs = await loadTaskInputs(ctx.platform, job);
    const columns = { tokens: inputs.columns.tokens ?? "tokens", tags: inputs.columns.tags ?? "tags" };
    const data = prepareTokenData(inputs.train, inputs.validation, columns, job.task_options.tag_scheme);
    const tokenizer = loadTokenizer(inputs.baseModelFiles);
    const weights = inputs.baseModelFiles.get("model.safetensors");
    if (!weights) {
      throw new ApiError(400, "invalid_file", `base model '${job.base_model}' has no model.safetensors`);
    }
    const { model, initialized } = loadSequenceClassifier(
      fileText(inputs.baseModelFiles, "config.json"),
      readSafetensors(weights),
      data.labels.length,
      hp.seed,
      "token",
    );
    try {
      await ctx.log(
        `token classification on ${data.train.tokens.length} sentences, evaluating on ` +
          `${data.validation?.tokens.length ?? 0}; tag scheme ${data.scheme}; labels: ${
            data.labels.join(", ")
          }; ` +
          `newly initialised: ${initialized.length} tensors`,
      );
      const loadBest =
        (job.hyperparameters as { load_best_model_at_end?: boolean | null }).load_best_model_at_end === true;
      const result = await fineTuneTokenClassifier({
        model,
        tokenizer,
        train: data.train,
        validation: data.validation,
        labels: data.labels,
        scheme: data.scheme,
        classWeights: job.task_options.class_weights ?? null,
        hyperparameters: hp,
        shouldStop: () => ctx.shouldStop(),
        onEvent: (event) => ctx.onTrainEvent(event),
        resumable: { ...ctx.resume, loadBestModelAtEnd: loadBest },
      });
      const { train: cutTrain, validation: cutValidation } = result.truncatedWords;
      if (cutTrain + cutValidation > 0) {
        await ctx.log(
          `max_seq_length ${hp.max_seq_length} cut off ${cutTrain} training and ${cutValidation} validation ` +
            `words (not trained or scored); raise max_seq_length to keep them`,
        );
      }
      return {
        status: result.status,
        files: result.status === "completed" ? exportHfFolder(model, tokenizer, data.labels) : {},
        task: "token-classification",
        labels: data.labels,
        taskOptions: data.scheme === "plain" ? {} : { tag_scheme: data.scheme.toLowerCase() },
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
