/**
 * Serving extractive QA the way Hugging Face's question-answering pipeline does: `qaInputs` turns a
 * (question, context) pair into model windows (qa_features.ts: question first, only the context truncated,
 * doc_stride overlap), and `qaAnswers` turns the span logits of those windows into the pipeline's output —
 * `[{answer, score, start, end}]`, best first. Per window the start and end logits are softmaxed over the
 * context tokens plus [CLS] (the pipeline's p_mask keeps [CLS]), a span's score is p_start · p_end, spans end
 * no earlier than they start and have at most maxAnswerLength tokens, [CLS] is never an answer, and the
 * answer is widened to whole words (the pipeline's align_to_words). Answers from all windows are merged
 * best score first; unlike the pipeline, a character span found by two overlapping windows is listed once
 * (with its best score). With handleImpossible the null answer `{answer: "", start: 0, end: 0}` competes
 * with score min over windows of p_start[CLS] · p_end[CLS]. Offsets are UTF-16 indices into `context`.
 * `answerQuestion` runs a span model over the windows (eval mode, every tensor disposed) and does both.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import { batchTensors } from "../infer.ts";
import type { SequenceClassifier } from "../model/classifier.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { encodeQaWindows, type QaWindow } from "./qa_features.ts";
import { bestSpans, mergeWindowAnswers, type SpanCandidate } from "./qa_spans.ts";

export type { QaWindow } from "./qa_features.ts";

export interface QaInputOptions {
  /** Tokens per window, specials included (the pipeline's max_seq_len, default 384). */
  maxLength?: number;
  /** Context tokens shared by consecutive windows (default 128, capped to fit). */
  docStride?: number;
}

export interface QaAnswerOptions {
  /** How many answers (default 1). */
  topK?: number;
  /** Longest answer in tokens (the pipeline's max_answer_len, default 15). */
  maxAnswerLength?: number;
  /** Let the empty answer compete (SQuAD 2.0 models); default false. */
  handleImpossible?: boolean;
}

export interface QaAnswer {
  answer: string;
  /** p_start · p_end within the window the answer came from. */
  score: number;
  /** [start, end) in `context`, UTF-16 indices. */
  start: number;
  end: number;
}

/** The model input windows for one question about one context; an empty question or context is a 400. */
export function qaInputs(
  tokenizer: TextTokenizer,
  question: string,
  context: string,
  options: QaInputOptions = {},
): QaWindow[] {
  for (const [name, value] of [["question", question], ["context", context]]) {
    if (value.trim() === "") throw new ApiError(400, "invalid_request", `the ${name} must not be empty`);
  }
  return encodeQaWindows(tokenizer, question, context, {
    maxLength: options.maxLength ?? 384,
    docStride: options.docStride ?? 128,
  });
}

function softmaxAt(logits: number[], indices: number[], at: number): number {
  const max = Math.max(...indices.map((i) => logits[i]));
  const sum = indices.reduce((s, i) => s + Math.exp(logits[i] - max), 0);
  return Math.exp(logits[at] - max) / sum;
}

/**
 * The answers for `windows` (from qaInputs on `context`) given each window's span logits: row-major
 * [tokens, 2] (start logit, end logit per token), i.e. the window's rows of the model's [B*S, 2] output.
 */
export function qaAnswers(
  context: string,
  windows: readonly QaWindow[],
  logits: readonly Float32Array[],
  options: QaAnswerOptions = {},
): QaAnswer[] {
  if (logits.length !== windows.length) {
    throw new RangeError(`qaAnswers: ${logits.length} logit arrays for ${windows.length} windows`);
  }
  const topK = Math.max(1, options.topK ?? 1);
  const maxAnswerLength = options.maxAnswerLength ?? 15;
  let minNull = Infinity;
  const lists: SpanCandidate[][] = windows.map((window, w) => {
    const n = window.ids.length;
    if (logits[w].length < n * 2) {
      throw new RangeError(
        `qaAnswers: window ${w} has ${n} tokens but ${logits[w].length} logits (need ${n * 2})`,
      );
    }
    const start: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < n; i++) {
      start.push(logits[w][2 * i]);
      end.push(logits[w][2 * i + 1]);
    }
    if (options.handleImpossible) {
      const norm = [window.clsIndex, ...window.offsets.flatMap((o, i) => (o ? [i] : []))];
      const nullScore = softmaxAt(start, norm, window.clsIndex) * softmaxAt(end, norm, window.clsIndex);
      minNull = Math.min(minNull, nullScore);
    }
    // A few more than topK per window, since widening to words can make two token spans one answer.
    const spans = bestSpans(start, end, window.offsets, {
      maxAnswerLength,
      nBest: topK * 4,
      clsIndex: window.clsIndex,
    });
    return spans.map((s) => ({
      ...s,
      start: window.wordOffsets[s.startToken]!.start,
      end: window.wordOffsets[s.endToken]!.end,
    }));
  });
  const answers: QaAnswer[] = mergeWindowAnswers(lists, topK).map((c) => ({
    answer: context.slice(c.start, c.end),
    score: c.score,
    start: c.start,
    end: c.end,
  }));
  if (options.handleImpossible && Number.isFinite(minNull)) {
    answers.push({ answer: "", score: minNull, start: 0, end: 0 });
    answers.sort((a, b) => b.score - a.score);
  }
  return answers.slice(0, topK);
}

/** The pipeline end to end: windows → span model (head "span", eval mode) → answers. */
export async function answerQuestion(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  question: string,
  context: string,
  options: QaInputOptions & QaAnswerOptions & { batchSize?: number } = {},
): Promise<QaAnswer[]> {
  const maxLength = Math.min(options.maxLength ?? 384, model.maxSequenceLength);
  const windows = qaInputs(tokenizer, question, context, { ...options, maxLength });
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const logits: Float32Array[] = [];
  for (let at = 0; at < windows.length; at += batchSize) {
    const batch = windows.slice(at, at + batchSize);
    const encoded = tokenizer.collate(batch);
    const out = tf.tidy(() => model.forward(batchTensors(encoded), { training: false }));
    const values = await out.data() as Float32Array;
    out.dispose();
    batch.forEach((w, r) => {
      const from = r * encoded.seqLength * 2;
      logits.push(values.slice(from, from + w.ids.length * 2));
    });
  }
  return qaAnswers(context, windows, logits, options);
}
