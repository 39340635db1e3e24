/**
 * The question-answering task (extractive QA, SQuAD style): reads the job's rows (task_inputs.ts; SQuAD JSON
 * uploads arrive as {id, title, context, question, answers} rows, CSV/JSONL rows carry the same columns, the
 * answers as HF's `{"text": […], "answer_start": […]}` JSON), checks them (shared/data/tasks/
 * question_answering_rows.ts: a bad row is 400 invalid_file with its line), loads the base model with a span
 * head (qa_outputs), fine-tunes it on doc-stride windows (`task_options.doc_stride`, default 128; a stride
 * that leaves a window no room to advance becomes half its room, qa_features.ts windowBudget) and returns a
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
      await ctx.log(
        `question answering on ${train.length} questions, evaluating on ${validation?.length ?? 0}; ` +
          `max_seq_length ${maxLength}, doc_stride ${requestedStride}${
            strideNote(tokenizer, train, maxLength, requestedStride)
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
        docStride: requestedStride,
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

/** A note when the stride does not fit the room the longest question leaves (windowBudget then halves it). */
function strideNote(
  tokenizer: TextTokenizer,
  examples: { question: string }[],
  maxLength: number,
  stride: number,
) {
  const longest = Math.max(0, ...examples.map((e) => tokenizer.tokenize(e.question.trimStart()).length));
  const { maxContextTokens } = windowBudget(tokenizer, longest, { maxLength, docStride: stride });
  return stride < maxContextTokens
    ? ""
    : ` (wider than the ${maxContextTokens}-token context room of the longest question: windows overlap by half their room)`;
}
