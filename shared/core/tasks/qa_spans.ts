/**
 * Extractive-QA span logic as pure functions. `planWindows` splits a long context into overlapping windows the
 * way Hugging Face tokenizers do with `return_overflowing_tokens` and `stride` (run_qa.py's doc_stride is the
 * number of tokens two consecutive windows share). `answerTokenSpan` gives a window's start/end token labels
 * for a character answer as run_qa.py's prepare_train_features (null → the answer is not fully inside, train
 * on [CLS]). `bestSpans` is the n-best search of run_qa.py's postprocess_qa_predictions / the
 * question-answering pipeline's decode_spans: every start ≤ end over context tokens with at most
 * maxAnswerLength tokens, ranked by start logit + end logit, scored as p_start·p_end where the softmaxes run
 * over the context tokens (plus [CLS] when `clsIndex` is given, as the pipeline does), and mapped back to
 * character spans through the token offsets. The search is exhaustive rather than run_qa's top-n_best
 * starts × ends pruning, so it never misses a valid span.
 */

/** [start, end) character span of a token in the context; null for question / special / padding tokens. */
export type TokenOffset = { start: number; end: number } | null;

/** A window of context tokens [start, end). */
export interface ContextWindow {
  start: number;
  end: number;
}

/**
 * Windows of at most `maxContextTokens` context tokens, consecutive windows overlapping by `docStride`
 * tokens (HF semantics: step = maxContextTokens − docStride), the last window ending at the context end.
 * For BERT-style pairs maxContextTokens is max_seq_length − question tokens − 3 ([CLS] and two [SEP]), the
 * budget truncation="only_second" leaves. An empty context still gets one (empty) window.
 */
export function planWindows(
  numContextTokens: number,
  maxContextTokens: number,
  docStride: number,
): ContextWindow[] {
  if (!Number.isInteger(maxContextTokens) || maxContextTokens < 1) {
    throw new RangeError(`planWindows: maxContextTokens must be a positive integer, got ${maxContextTokens}`);
  }
  if (!Number.isInteger(docStride) || docStride < 0 || docStride >= maxContextTokens) {
    throw new RangeError(
      `planWindows: docStride (${docStride}) must be an integer in [0, maxContextTokens = ${maxContextTokens})`,
    );
  }
  if (numContextTokens <= 0) return [{ start: 0, end: 0 }];
  const step = maxContextTokens - docStride;
  const windows: ContextWindow[] = [];
  for (let start = 0;; start += step) {
    const end = Math.min(start + maxContextTokens, numContextTokens);
    windows.push({ start, end });
    if (end === numContextTokens) return windows;
  }
}

/**
 * BERT's _check_is_max_context for every token of window `w`: true where this window gives the token the most
 * context, score = min(tokens left, tokens right) + 0.01 · window length, the first window winning ties.
 */
export function maxContextFlags(windows: readonly ContextWindow[], w: number): boolean[] {
  const flags: boolean[] = [];
  for (let position = windows[w].start; position < windows[w].end; position++) {
    let best = -1;
    let bestScore = -Infinity;
    windows.forEach((win, k) => {
      if (position < win.start || position >= win.end) return;
      const score = Math.min(position - win.start, win.end - 1 - position) + 0.01 * (win.end - win.start);
      if (score > bestScore) [best, bestScore] = [k, score];
    });
    flags.push(best === w);
  }
  return flags;
}

/**
 * Start/end token indices (inclusive) of the answer chars [charStart, charEnd) among `offsets`, or null when
 * the answer is not fully inside the tokens that have offsets (run_qa labels such windows with [CLS]).
 * startToken is the last token starting at or before charStart, endToken the first ending at or after charEnd.
 */
export function answerTokenSpan(
  offsets: readonly TokenOffset[],
  charStart: number,
  charEnd: number,
): { startToken: number; endToken: number } | null {
  const context = offsets.flatMap((o, i) => (o ? [i] : []));
  if (context.length === 0) return null;
  const first = context[0];
  const last = context[context.length - 1];
  if (!(offsets[first]!.start <= charStart && offsets[last]!.end >= charEnd)) return null;
  let startToken = first;
  for (const i of context) if (offsets[i]!.start <= charStart) startToken = i;
  let endToken = last;
  for (let k = context.length - 1; k >= 0 && offsets[context[k]]!.end >= charEnd; k--) endToken = context[k];
  return { startToken, endToken };
}

export interface SpanCandidate {
  /** Token indices, inclusive. */
  startToken: number;
  endToken: number;
  /** Character span [start, end) in the context. */
  start: number;
  end: number;
  /** p_start · p_end (the pipeline's score). */
  score: number;
  /** start logit + end logit (run_qa's ranking score). */
  logit: number;
}

export interface BestSpansOptions {
  /** Longest answer in tokens (run_qa default 30; the pipeline's max_answer_len defaults to 15). */
  maxAnswerLength?: number;
  /** How many spans to return (run_qa's n_best_size, default 20). */
  nBest?: number;
  /** Index of [CLS]: included in the softmax normalisation (as the pipeline) but never an answer. */
  clsIndex?: number;
  /** run_qa's token_is_max_context: when given, a span may only start at a token marked true. */
  isMaxContext?: readonly boolean[];
}

function normalizer(logits: readonly number[], indices: number[]): (i: number) => number {
  const max = Math.max(...indices.map((i) => logits[i]));
  const sum = indices.reduce((s, i) => s + Math.exp(logits[i] - max), 0);
  return (i) => Math.exp(logits[i] - max) / sum;
}

/** The n best answer spans of one window, best first (ties keep the earlier start, then the shorter span). */
export function bestSpans(
  startLogits: readonly number[],
  endLogits: readonly number[],
  offsets: readonly TokenOffset[],
  options: BestSpansOptions = {},
): SpanCandidate[] {
  if (startLogits.length !== offsets.length || endLogits.length !== offsets.length) {
    throw new RangeError(
      `bestSpans: ${startLogits.length} start / ${endLogits.length} end logits for ${offsets.length} tokens`,
    );
  }
  const maxLen = options.maxAnswerLength ?? 30;
  const nBest = options.nBest ?? 20;
  const context = offsets.flatMap((o, i) => (o ? [i] : []));
  if (context.length === 0) return [];
  const norm = options.clsIndex !== undefined ? [options.clsIndex, ...context] : context;
  const pStart = normalizer(startLogits, norm);
  const pEnd = normalizer(endLogits, norm);
  const candidates: SpanCandidate[] = [];
  for (const s of context) {
    if (options.isMaxContext && !options.isMaxContext[s]) continue;
    for (let e = s; e < offsets.length && e - s + 1 <= maxLen; e++) {
      const o = offsets[e];
      if (!o) continue;
      candidates.push({
        startToken: s,
        endToken: e,
        start: offsets[s]!.start,
        end: o.end,
        score: pStart(s) * pEnd(e),
        logit: startLogits[s] + endLogits[e],
      });
    }
  }
  candidates.sort((a, b) => b.logit - a.logit || a.startToken - b.startToken || a.endToken - b.endToken);
  return candidates.slice(0, nBest);
}

/**
 * Merges the n-best lists of a context's windows: sorted by score, one entry per character span (the best
 * one), at most topK (the pipeline returns the top_k answers over all windows).
 */
export function mergeWindowAnswers(lists: readonly (readonly SpanCandidate[])[], topK = 1): SpanCandidate[] {
  const best = new Map<string, SpanCandidate>();
  for (const c of lists.flat()) {
    const key = `${c.start}:${c.end}`;
    const seen = best.get(key);
    if (!seen || c.score > seen.score) best.set(key, c);
  }
  return [...best.values()].sort((a, b) => b.score - a.score || a.start - b.start).slice(0, topK);
}
