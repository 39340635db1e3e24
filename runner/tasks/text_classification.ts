/**
 * The sequence-level tasks: text-classification (single-label, multi-label with `task_options.multi_label`,
 * sentence pairs with `columns.text_pair`, class weights) and text-regression (one output, MSE; e.g. STS-B).
 * Reads the job's rows and base model, loads the family's sequence classifier with a head sized for the
 * labels (1 output for regression), fine-tunes it with the shared core and returns an HF folder with
 * id2label/label2id and problem_type. Checkpoints and resume come from the context (see types.ts).
 */
import { exportHfFolder, loadSequenceClassifier, readSafetensors } from "../../shared/core/mod.ts";
import { fineTuneSequenceClassifier, type ProblemType } from "../../shared/core/train/fine_tune.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { fileText, loadTokenizer } from "../job_inputs.ts";
import { loadTaskInputs } from "../task_inputs.ts";
import { classificationTexts, classWeightsOf, labelSet, regressionTexts } from "./sequence_inputs.ts";
import type { TaskContext, TaskOutput, TaskRunner } from "./types.ts";

async function runSequenceTask(ctx: TaskContext, regression: boolean): Promise<TaskOutput> {
  const { job, platform } = ctx;
  const options = job.task_options;
  const inputs = await loadTaskInputs(platform, job);
  const tokenizer = loadTokenizer(inputs.baseModelFiles);
  const weights = inputs.baseModelFiles.get("model.safetensors");
  if (!weights) {
    throw new ApiError(400, "invalid_file", `base model '${job.base_model}' has no model.safetensors`);
  }
  // Labels come from the whole training dataset: a rare label that the validation_split happened to hold out
  // is still a class (the edge checked a separate validation dataset's labels against the training labels).
  const labelRows = job.validation_dataset ? inputs.train : [...inputs.train, ...(inputs.validation ?? [])];
  const labels = regression ? ["LABEL_0"] : labelSet(labelRows, inputs.columns, options);
  const toTexts = (rows: typeof inputs.train) =>
    regression
      ? regressionTexts(rows, inputs.columns)
      : classificationTexts(rows, inputs.columns, labels, options);
  const train = toTexts(inputs.train);
  const validation = inputs.validation ? toTexts(inputs.validation) : null;
  const problemType: ProblemType = regression
    ? "regression"
    : options.multi_label
    ? "multi_label_classification"
    : "single_label_classification";
  const { model, initialized } = loadSequenceClassifier(
    fileText(inputs.baseModelFiles, "config.json"),
    readSafetensors(weights),
    labels.length,
  );
  try {
    await ctx.log(
      `${problemType}: training on ${train.texts.length} rows, evaluating on ${
        validation?.texts.length ?? 0
      }` +
        (regression ? "" : `; labels: ${labels.join(", ")}`) +
        (train.pairs ? "; sentence pairs" : "") + `; newly initialised: ${initialized.length} tensors`,
    );
    const loadBest = job.hyperparameters.load_best_model_at_end === true;
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer,
      train,
      validation,
      hyperparameters: job.hyperparameters,
      problemType,
      classWeights: regression ? undefined : classWeightsOf(options, labels, train),
      threshold: options.threshold,
      shouldStop: () => ctx.shouldStop(),
      onEvent: (event) => ctx.onTrainEvent(event),
      resumable: { ...ctx.resume, loadBestModelAtEnd: loadBest },
    });
    if (result.report) await ctx.log(`evaluation report: ${JSON.stringify(result.report)}`);
    const files = result.status === "completed"
      ? exportHfFolder(model, tokenizer, labels, { problemType })
      : {};
    // The per-class precision/recall/F1 and confusion matrix of the reported evaluation travel with the model.
    if (result.status === "completed" && result.report) {
      files["eval_report.json"] = new TextEncoder().encode(
        JSON.stringify({ ...result.report, labels }, null, 2),
      );
    }
    return {
      status: result.status,
      files,
      task: regression ? "text-regression" : "text-classification",
      labels: regression ? null : labels,
      taskOptions: options.multi_label ? { multi_label: true, threshold: options.threshold ?? 0.5 } : {},
      parameters: model.parameterCount(),
      architecture: inputs.baseModel.architecture,
      baseModelName: inputs.baseModel.name,
      metrics: loadBest && result.best ? { ...result.metrics, best_step: result.best.step } : result.metrics,
    };
  } finally {
    model.dispose();
  }
}

export const textClassification: TaskRunner = { run: (ctx) => runSequenceTask(ctx, false) };
export const textRegression: TaskRunner = { run: (ctx) => runSequenceTask(ctx, true) };
