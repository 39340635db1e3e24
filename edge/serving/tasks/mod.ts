/**
 * Which ServingTask answers a model's predictions, by the model's task. A model without a servable head
 * (a base model, a masked-lm pre-training output) answers 400 naming its task.
 */
import { ApiError } from "../../../shared/schemas/errors.ts";
import type { ModelRecord, TaskName } from "../../../shared/schemas/resources.ts";
import { textClassificationServing, textRegressionServing } from "./classification.ts";
import { textGenerationServing, translationServing } from "./generation.ts";
import { questionAnsweringServing } from "./question_answering.ts";
import { tokenClassificationServing } from "./token_classification.ts";
import type { ServingTask } from "./types.ts";

export const SERVING_TASKS: Partial<Record<TaskName, ServingTask<never>>> = {
  "text-classification": textClassificationServing as ServingTask<never>,
  "text-regression": textRegressionServing as ServingTask<never>,
  "token-classification": tokenClassificationServing as ServingTask<never>,
  "question-answering": questionAnsweringServing as ServingTask<never>,
  "causal-lm": textGenerationServing as ServingTask<never>,
  translation: translationServing as ServingTask<never>,
};

/** The serving of `model`'s task; 400 when the model cannot serve predictions. */
export function servingTaskFor(model: ModelRecord): ServingTask<unknown> {
  const task = model.task === null ? undefined : SERVING_TASKS[model.task];
  const hasLabels = model.task !== "text-classification" && model.task !== "token-classification" ||
    (model.labels !== null && model.labels.length > 0);
  if (!task || !hasLabels) {
    throw new ApiError(400, "invalid_request", `model '${model.id}' has no task head to predict with`, {
      task: model.task,
    });
  }
  return task as ServingTask<unknown>;
}
