/**
 * Which columns of a dataset each task reads, with the per-task defaults applied: text-classification and
 * text-regression read `text` (+ `text_pair` for sentence pairs) and `label`; token-classification `tokens`
 * and `tags`; question-answering `question`, `context`, `answers`; masked-lm `text`; causal-lm `text`, or
 * `prompt` + `completion` when both are named; translation `source` + `target` (or, from two aligned text
 * datasets, the `text` column of each). The edge checks these exist at job creation and the runner reads
 * rows through the same names, so the two never disagree.
 */
import type { ColumnsSpec, TaskName } from "../schemas/resources.ts";

/** role → column name, for the roles a task reads from one dataset. */
export type TaskColumns = Record<string, string>;

export function taskColumns(task: TaskName, columns: ColumnsSpec, alignedTexts = false): TaskColumns {
  switch (task) {
    case "text-classification":
    case "text-regression":
      return columns.text_pair
        ? { text: columns.text, text_pair: columns.text_pair, label: columns.label }
        : { text: columns.text, label: columns.label };
    case "token-classification":
      return { tokens: columns.tokens ?? "tokens", tags: columns.tags ?? "tags" };
    case "question-answering":
      return {
        question: columns.question ?? "question",
        context: columns.context ?? "context",
        answers: columns.answers ?? "answers",
      };
    case "masked-lm":
      return { text: columns.text };
    case "causal-lm":
      return columns.prompt && columns.completion
        ? { prompt: columns.prompt, completion: columns.completion }
        : { text: columns.text };
    case "translation":
      return alignedTexts
        ? { text: columns.text }
        : { source: columns.source ?? "source", target: columns.target ?? "target" };
  }
}
