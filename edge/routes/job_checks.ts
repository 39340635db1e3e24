/**
 * What job creation checks before a job is queued, so a job that cannot train fails here with a 4xx instead
 * of on a runner: the base model and datasets exist and belong to the tenant (404 naming the field), the
 * base model's family fits the task (encoders for classification/regression/NER/QA/masked-lm, GPT-2 for
 * causal-lm, T5/mBART/Marian for translation), the hyperparameters fit its layer count, `task_options` only
 * holds options the task reads, the datasets have the task's columns, and every row passes the task's row
 * check (all problems listed with their lines, at most MAX_LISTED_PROBLEMS); for text-classification also
 * that class_weights and the validation rows name only labels of the training data.
 */
import { layerIssues } from "../../shared/core/train/hyperparameter_fields.ts";
import { MAX_LISTED_PROBLEMS, validateColumnsForTask } from "../../shared/data/mod.ts";
import { scanTable } from "../../shared/data/table.ts";
import { taskColumns } from "../../shared/data/task_columns.ts";
import { classificationLabels, type RowChecker, rowChecker } from "../../shared/data/task_rows.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError, invalidRequest } from "../../shared/schemas/errors.ts";
import type { CreateJobRequest, DatasetRecord, ModelRecord } from "../../shared/schemas/resources.ts";
import { taskOptionIssues } from "../../shared/schemas/task_options.ts";
import { getOwned } from "../http.ts";

const ENCODERS = ["bert", "roberta", "electra", "distilbert"];
const FAMILIES_BY_TASK: Record<string, readonly string[]> = {
  "causal-lm": ["gpt2"],
  translation: ["t5", "mbart", "marian"],
};

/** Transformer layers a config declares (encoder + decoder for encoder-decoders), NaN when unknown. */
export function configLayers(config: Record<string, unknown>): number {
  const n = (key: string) => Number(config[key]);
  switch (config.model_type) {
    case "distilbert":
      return n("n_layers");
    case "gpt2":
      return n("n_layer");
    case "t5":
      return n("num_layers") + Number(config.num_decoder_layers ?? config.num_layers);
    case "mbart":
    case "marian":
      return n("encoder_layers") + n("decoder_layers");
    default:
      return n("num_hidden_layers");
  }
}

function checkFamily(task: string, model: ModelRecord): void {
  const family = String(model.config.model_type ?? model.architecture);
  const wanted = FAMILIES_BY_TASK[task] ?? ENCODERS;
  if (!wanted.includes(family)) {
    throw invalidRequest(
      `task '${task}' needs a ${wanted.join(", ")} base model; '${model.id}' is ${family}`,
      [{ path: ["base_model"], message: `expected model_type ${wanted.join(" | ")}` }],
    );
  }
}

/** Every row problem of one dataset for the task (empty when all rows are fine). */
async function rowProblems(
  platform: Platform,
  dataset: DatasetRecord,
  check: (row: Record<string, string>) => string | null,
): Promise<{ line: number; reason: string }[]> {
  const stream = await platform.blobs.get(dataset.blob_key);
  if (!stream) throw new ApiError(404, "not_found", `dataset '${dataset.id}' has no stored file`);
  const problems: { line: number; reason: string }[] = [];
  for await (const item of scanTable(stream, dataset.format)) {
    if (item.kind !== "row") continue;
    const reason = check(item.row);
    if (reason !== null) problems.push({ line: item.line, reason });
    if (problems.length >= MAX_LISTED_PROBLEMS) {
      await stream.cancel().catch(() => {});
      break;
    }
  }
  return problems;
}

export async function checkJobReferences(platform: Platform, tenant: string, spec: CreateJobRequest) {
  const { meta } = platform;
  const baseModel = await getOwned<ModelRecord>(meta, "models", tenant, spec.base_model, "base_model");
  checkFamily(spec.task, baseModel.value);
  const numLayers = configLayers(baseModel.value.config);
  const issues = [
    ...(Number.isInteger(numLayers) ? layerIssues(spec.hyperparameters, numLayers) : [])
      .map((i) => ({ ...i, path: `hyperparameters.${i.path}` })),
    ...taskOptionIssues(spec.task, spec.task_options),
  ];
  if (issues.length > 0) {
    throw invalidRequest(
      `the job does not fit: ` + issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "),
      issues.map((issue) => ({ path: issue.path.split("."), message: issue.message })),
    );
  }
  const aligned = spec.training_target_dataset !== undefined;
  if (spec.task !== "translation" && (aligned || spec.validation_target_dataset !== undefined)) {
    throw invalidRequest("training_target_dataset / validation_target_dataset apply to translation only");
  }
  if (aligned && (spec.validation_dataset === undefined) !== (spec.validation_target_dataset === undefined)) {
    throw invalidRequest("aligned translation needs both validation_dataset and validation_target_dataset");
  }
  const columns = taskColumns(spec.task, spec.columns, aligned);
  const check = rowChecker(spec.task, columns, spec.task_options);
  // text-classification: the training labels, collected during the training scan, against which class
  // weights and the validation rows' labels are checked (the runner refuses both the same way).
  const trainingLabels = spec.task === "text-classification" ? new Set<string>() : null;
  const labelsOf = (row: Record<string, string>) =>
    classificationLabels(row[columns.label] ?? "", spec.task_options) ?? [];
  const checkFor = (field: string): RowChecker => {
    if (trainingLabels === null) return check;
    if (field === "training_dataset") {
      return (row) => {
        const reason = check(row);
        if (reason === null) { for (const label of labelsOf(row)) trainingLabels.add(label); }
        return reason;
      };
    }
    return (row) => {
      const reason = check(row);
      if (reason !== null) return reason;
      const unseen = labelsOf(row).find((label) => !trainingLabels.has(label));
      return unseen === undefined ? null : `label '${unseen}' does not occur in the training data`;
    };
  };
  const datasets: [string, string | undefined][] = [
    ["training_dataset", spec.training_dataset],
    ["validation_dataset", spec.validation_dataset],
    ["training_target_dataset", spec.training_target_dataset],
    ["validation_target_dataset", spec.validation_target_dataset],
  ];
  const records = new Map<string, DatasetRecord>();
  for (const [field, id] of datasets) {
    if (id !== undefined) {
      records.set(field, (await getOwned<DatasetRecord>(meta, "datasets", tenant, id, field)).value);
    }
  }
  // Aligned translation zips the two text datasets line by line: they must have as many rows.
  for (const side of ["training", "validation"]) {
    const [source, target] = [records.get(`${side}_dataset`), records.get(`${side}_target_dataset`)];
    if (source && target && source.rows !== target.rows) {
      throw new ApiError(
        400,
        "invalid_file",
        `aligned datasets differ in length: '${source.id}' has ${source.rows} rows, '${target.id}' ${target.rows}`,
        { source_rows: source.rows, target_rows: target.rows },
      );
    }
  }
  for (const [field, id] of datasets) {
    if (id === undefined) continue;
    const dataset = records.get(field)!;
    validateColumnsForTask(dataset.columns, columns, id);
    const problems = await rowProblems(platform, dataset, checkFor(field));
    if (problems.length > 0) {
      throw new ApiError(
        400,
        "invalid_file",
        `${field} '${id}' has rows task '${spec.task}' cannot use: ` +
          problems.slice(0, 3).map((p) => `line ${p.line}: ${p.reason}`).join("; ") +
          (problems.length > 3 ? ` (and more, see details)` : ""),
        { dataset: id, problems },
      );
    }
    if (field === "training_dataset" && trainingLabels !== null) checkClassWeights(spec, trainingLabels);
  }
}

/** A class_weights record may only name labels of the training data. */
function checkClassWeights(spec: CreateJobRequest, labels: Set<string>): void {
  const weights = spec.task_options.class_weights;
  if (weights === undefined || weights === "balanced") return;
  const unknown = Object.keys(weights).filter((label) => !labels.has(label));
  if (unknown.length === 0) return;
  const known = [...labels].sort();
  throw invalidRequest(
    `task_options.class_weights names labels the training data does not have: ${unknown.join(", ")} ` +
      `(labels: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""})`,
    [{ path: ["task_options", "class_weights"], message: `unknown labels: ${unknown.join(", ")}` }],
  );
}
