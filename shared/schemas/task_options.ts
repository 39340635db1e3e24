/**
 * Per-task options of a job (`task_options` in POST /v1/fine_tuning/jobs): what a task needs to know about the
 * data and its outputs that is not an optimisation setting — multi-label classification and class weights,
 * the tag scheme of token classification, QA windowing (`doc_stride`, `max_answer_length`), causal-LM block
 * size and prompt/completion masking, and translation's language/prefix and evaluation-time generation. One
 * strict object for every task (fields a task does not read are refused at job creation by
 * `taskOptionIssues`), so the job record keeps one shape.
 */
import { z } from "zod";

export const taskOptions = z.object({
  // text-classification
  /** Several labels per row: sigmoid + binary cross-entropy; labels a list or a delimited string. */
  multi_label: z.boolean().optional(),
  /** Separator of a multi-label string column (default ","). A JSON array value is read as a list. */
  label_delimiter: z.string().min(1).max(8).optional(),
  /** Score above which a label is predicted in multi-label evaluation (default 0.5). */
  threshold: z.number().gt(0).lt(1).optional(),
  /** Loss weights per class: "balanced" (n / (k · count)) or label → weight. */
  class_weights: z.union([z.literal("balanced"), z.record(z.string(), z.number().positive())]).optional(),
  // token-classification
  /** Tag scheme of the data (default auto-detected); IOB1 and BIOES are converted to IOB2 for training. */
  tag_scheme: z.enum(["auto", "iob1", "iob2", "bioes"]).optional(),
  // question-answering
  /** Tokens shared by consecutive windows of a long context (default 128, capped to fit). */
  doc_stride: z.number().int().min(1).max(4096).optional(),
  /** Longest answer in tokens considered by the n-best search (default 30). */
  max_answer_length: z.number().int().min(1).max(512).optional(),
  // causal-lm
  /** Tokens per training block (default min(128, the model's positions)). */
  block_size: z.number().int().min(8).max(8192).optional(),
  /** Concatenate texts (EOS between them) and cut into blocks (default true for plain text). */
  packing: z.boolean().optional(),
  // translation
  source_lang: z.string().min(1).max(32).optional(),
  target_lang: z.string().min(1).max(32).optional(),
  /** Text put before every source (T5 style, e.g. "translate English to German: "). */
  source_prefix: z.string().max(200).optional(),
  /** Longest target in tokens, for training truncation and evaluation generation (default 128). */
  max_target_length: z.number().int().min(1).max(4096).optional(),
  /** Beams for the held-out BLEU/chrF generation (default 1 = greedy). */
  eval_num_beams: z.number().int().min(1).max(16).optional(),
  /** Held-out rows translated for BLEU/chrF at each evaluation (default 200; eval_loss uses all rows). */
  eval_generation_rows: z.number().int().min(0).max(100_000).optional(),
}).strict();
export type TaskOptions = z.infer<typeof taskOptions>;

/** Which task reads which option; other tasks refuse it. */
export const TASK_OPTION_OWNERS: Record<keyof TaskOptions, readonly string[]> = {
  multi_label: ["text-classification"],
  label_delimiter: ["text-classification"],
  threshold: ["text-classification"],
  class_weights: ["text-classification", "token-classification"],
  tag_scheme: ["token-classification"],
  doc_stride: ["question-answering"],
  max_answer_length: ["question-answering"],
  block_size: ["causal-lm", "masked-lm"],
  packing: ["causal-lm"],
  source_lang: ["translation"],
  target_lang: ["translation"],
  source_prefix: ["translation"],
  max_target_length: ["translation"],
  eval_num_beams: ["translation"],
  eval_generation_rows: ["translation"],
};

/** Options set for a task that does not read them, as zod-like issues (path + message). */
export function taskOptionIssues(task: string, options: TaskOptions): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const owners = TASK_OPTION_OWNERS[key as keyof TaskOptions];
    if (!owners.includes(task)) {
      issues.push({ path: `task_options.${key}`, message: `applies to ${owners.join(", ")}, not ${task}` });
    }
  }
  return issues;
}
