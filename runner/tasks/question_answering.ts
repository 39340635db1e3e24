/**
 * The question-answering task (extractive QA, SQuAD style): reads the job's rows (task_inputs.ts; SQuAD JSON
 * uploads arrive as {id, title, context, question, answers} rows, CSV/JSONL rows carry the same columns, the
 * answers as HF's `{"text": […], "answer_start": […]}` JSON), checks them (shared/data/tasks/
 * question_answering_rows.ts: a bad row is 400 invalid_file with its line), loads the base model with a span
 * head (qa_outputs), fine-tunes it on doc-stride windows (`task_options.doc_stride`, default 128; a stride
 * that leaves windows no room to advance becomes half the room, see workingDocStride) and returns a
 * *ForQuestionAnswering HF folder. Evaluation reports eval_loss,
 * exact_match and f1 (SQuAD v1.1, 0–100) from the n-best search with `task_options.max_answer_length`
 * (default 30). The model keeps both options for serving. Checkpoints and resume come from the context.
 */
import { exportHfFolder, loadSequenceClassifier, readSafetensors } from "../../shared/core/mod.ts";
import { fineTuneQuestionAnswering } from "../../shared/core/train/question_answering.ts";
import { windowBudget } from "../../shared/core/tasks/qa_features.ts";
import type { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { qaExamplesFromRows } from "../../shared/data/tasks/question_answering_rows.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { fileText, loadTokenizer } from "../job_inputs.ts";
import { loadTaskInputs } from "../task_inputs.ts";
import type { TaskContext, TaskOutput, TaskRunner } from "./types.ts";

export const DEFAULT_DOC_STRIDE = 128;
export const DEFAULT_MAX_ANSWER_LENGTH = 30;

export const questionAnswering: TaskRunner = {
  async run(ctx: TaskContext): Promise<TaskOutput> {
    const { job } = ctx;
    const hp = job.hyperparameters;
    const inputs = await loadTaskInputs(ctx.platform, job);
    const columns = {
      question: inputs.columns.question ?? "question",
      context: inputs.columns.context ?? "context",
      answers: inputs.columns.answers ?? "answers",
    };
    const train = qaExamplesFromRows(inputs.train, columns, `dataset '${job.training_dataset}'`);
    const validation = inputs.validation
      ? qaExamplesFromRows(
        inputs.validation,
        columns,
        `dataset '${job.validation_dataset ?? job.training_dataset}'`,
      )
      : null;
    const tokenizer = loadTokenizer(inputs.baseModelFiles);
    const weights = inputs.baseModelFiles.get("model.safetensors");
    if (!weights) {
      throw new ApiError(400, "invalid_file", `base model '${job.base_model}' has no model.safetensors`);
    }
    const requestedStride = job.task_options.doc_stride ?? DEFAULT_DOC_STRIDE;
    const maxAnswerLength = job.task_options.max_answer_length ?? DEFAULT_MAX_ANSWER_LENGTH;
    const { model, initialized } = loadSequenceClassifier(
      fileText(inputs.baseModelFiles, "config.json"),
      readSafetensors(weights),
      2,
      hp.seed,
      "span",
    );
    try {
      const maxLength = Math.min(hp.max_seq_length, model.maxSequenceLength);
      const docStride = workingDocStride(
        tokenizer,
        [...train, ...(validation ?? [])].map((e) => e.question),
        maxLength,
        requestedStride,
      );
      await ctx.log(
        `question answering on ${train.length} questions, evaluating on ${validation?.length ?? 0}; ` +
          `max_seq_length ${maxLength}, doc_stride ${requestedStride}${
            docStride === requestedStride
              ? ""
              : ` (too wide for the longest questions at this max_seq_length; windows overlap by ${docStride})`
          }, ` +
          `max_answer_length ${maxAnswerLength}; newly initialised: ${initialized.length} tensors`,
      );
      const loadBest =
        (job.hyperparameters as { load_best_model_at_end?: boolean | null }).load_best_model_at_end === true;
      const result = await fineTuneQuestionAnswering({
        model,
        tokenizer,
        train,
        validation,
        hyperparameters: hp,
        docStride,
        maxAnswerLength,
        shouldStop: () => ctx.shouldStop(),
        onEvent: (event) => ctx.onTrainEvent(event),
        resumable: { ...ctx.resume, loadBestModelAtEnd: loadBest },
      });
      return {
        status: result.status,
        files: result.status === "completed" ? exportHfFolder(model, tokenizer, []) : {},
        task: "question-answering",
        labels: null,
        // The stride as asked; serving applies the same fallback per question.
        taskOptions: { doc_stride: requestedStride, max_answer_length: maxAnswerLength },
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

/**
 * The doc_stride that keeps windows moving. Windows overlap by doc_stride tokens and windowBudget caps it at
 * a window's context room − 1, so a stride at least that room (the defaults 128/128 with a 20-token question)
 * would advance windows one token at a time: ~100 windows for a 200-token context. A stride below the room
 * the longest question leaves is kept; otherwise it becomes at most half the room of the median question,
 * which is below every question's room (rooms are at least half a window), so no window crawls and a few
 * long questions do not shrink everyone's overlap. Hugging Face's tokenizer refuses such strides instead.
 */
export function workingDocStride(
  tokenizer: TextTokenizer,
  questions: readonly string[],
  maxLength: number,
  requested: number,
): number {
  const lengths = questions.map((q) => tokenizer.tokenize(q.trimStart()).length).sort((a, b) => a - b);
  const room = (questionTokens: number) =>
    windowBudget(tokenizer, questionTokens, { maxLength, docStride: requested }).maxContextTokens;
  if (requested < room(lengths.at(-1) ?? 0)) return requested;
  return Math.max(1, Math.min(requested, Math.floor(room(lengths[lengths.length >> 1] ?? 0) / 2)));
}
