/**
 * Extractive-QA features as Hugging Face's run_qa.py prepares them (prepare_train_features /
 * prepare_validation_features) and the question-answering pipeline preprocesses them: the question first and
 * the context second, only the context truncated, a long context split into windows of at most max_seq_length
 * tokens where consecutive windows share `docStride` context tokens (qa_spans.ts planWindows), and every
 * window carrying the character span of each context token in the original context (UTF-16 indices, from
 * offsets.ts alignWordPieces, since the JS tokenizer gives no offsets) plus the span of the whole word the
 * token belongs to (the pipeline's align_to_words). A training feature's label is the start/end token of
 * the (first) answer when it lies fully inside the window, else the [CLS] index 0, as run_qa does. A question
 * longer than half the token budget is cut to that half (run_qa would fail), and docStride is capped below
 * the context budget so windows always advance. Byte-level BPE tokenizers (RoBERTa) are aligned through
 * their bytes instead, with offsets trimmed of leading spaces as HF's trim_offsets.
 */
import { ApiError } from "../../schemas/errors.ts";
import { byteLevelAlphabet } from "../tokenizer/bpe_json.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { alignWordPieces } from "./offsets.ts";
import { answerTokenSpan, type ContextWindow, planWindows, type TokenOffset } from "./qa_spans.ts";
import type { QaExample } from "./squad.ts";

/** One model input window over a (question, context) pair. */
export interface QaWindow {
  ids: number[];
  typeIds: number[];
  /** Per token: its [start, end) in the context (UTF-16); null for question, special and padding tokens. */
  offsets: TokenOffset[];
  /** Per token: the [start, end) of the whole word it belongs to (pipeline align_to_words); null likewise. */
  wordOffsets: TokenOffset[];
  /** Per token: true for context tokens (the only ones an answer may use). */
  contextMask: boolean[];
  /** Index of the [CLS] / <s> token (0): the "no answer in this window" label. */
  clsIndex: number;
  /** The context tokens [start, end) this window covers, in the context's own token numbering. */
  span: ContextWindow;
}

export interface QaWindowOptions {
  /** max_seq_length: tokens per window, specials included. */
  maxLength: number;
  /** Context tokens shared by consecutive windows (run_qa's doc_stride); capped to fit. */
  docStride: number;
}

/** A training/evaluation feature: a window, its example, and run_qa's start/end labels. */
export interface QaFeature extends QaWindow {
  /** Index of the example (in the array given to prepareQaFeatures) this window belongs to. */
  exampleIndex: number;
  /** Token index of the answer start/end (inclusive) in this window; both clsIndex when it is not inside. */
  startPosition: number;
  endPosition: number;
}

/** The context's tokens with their character spans and word spans. */
export interface AlignedContext {
  ids: number[];
  offsets: { start: number; end: number }[];
  words: { start: number; end: number }[];
}

/** Special tokens around a (question, context) pair: 3 for BERT, 4 for RoBERTa. */
export function pairSpecials(tokenizer: TextTokenizer): number {
  return tokenizer.buildInput([], [], 1024).ids.length;
}

/** Tokens of `context` with their spans (see module comment); ApiError 400 when they do not map back. */
export function alignContext(tokenizer: TextTokenizer, context: string): AlignedContext {
  const ids = tokenizer.tokenize(context);
  const tokens = tokenizer.idsToTokens(ids);
  if (tokenizer.template === "roberta") {
    const prefix = tokenizer.tokenizerConfig(0).add_prefix_space === true;
    return { ids, ...alignByteLevel(context, tokens, prefix) };
  }
  let aligned;
  try {
    aligned = alignWordPieces(context, tokens, { lowercase: tokenizer.lowercase });
  } catch (error) {
    throw new ApiError(
      400,
      "invalid_request",
      `cannot map the context's tokens back to characters (${(error as Error).message}); ` +
        "does the context contain special tokens such as [SEP]?",
    );
  }
  const offsets: { start: number; end: number }[] = [];
  const wordIds: number[] = [];
  aligned.forEach((a, i) => {
    if (!a) {
      throw new ApiError(400, "invalid_request", `context token ${i} '${tokens[i]}' is a special token`);
    }
    offsets.push({ start: a.start, end: a.end });
    wordIds.push(a.wordId);
  });
  const words = offsets.map((_, i) => {
    let first = i;
    while (first > 0 && wordIds[first - 1] === wordIds[i]) first--;
    let last = i;
    while (last + 1 < offsets.length && wordIds[last + 1] === wordIds[i]) last++;
    return { start: offsets[first].start, end: offsets[last].end };
  });
  return { ids, offsets, words };
}

/** GPT-2's pre-tokenizer split (the ByteLevel pre-tokenizer's use_regex), on the text as it is. */
const BYTE_LEVEL_WORDS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Offsets of byte-level BPE tokens (RoBERTa, GPT-2): each token's characters stand for bytes
 * (bpe_json.ts byteLevelAlphabet), consecutive tokens cover the UTF-8 bytes of the text (after the prefix
 * space when add_prefix_space), and a token's span is that of its bytes with leading whitespace trimmed
 * (trim_offsets). Words are the pre-tokenizer's pieces, also trimmed.
 */
function alignByteLevel(
  text: string,
  tokens: readonly string[],
  addPrefixSpace: boolean,
): { offsets: { start: number; end: number }[]; words: { start: number; end: number }[] } {
  const byteOf = new Map(byteLevelAlphabet().map((ch, b) => [ch, b]));
  const source = addPrefixSpace && !/^\s/.test(text) ? " " + text : text;
  const shift = source.length - text.length;
  // UTF-16 [start, end) in `text` of the character each byte of `source` belongs to (the prefix maps to 0).
  const charStart: number[] = [];
  const charEnd: number[] = [];
  const byteWhite: boolean[] = [];
  const wordOfByte: number[] = [];
  const encoder = new TextEncoder();
  let u16 = 0;
  for (const ch of source) {
    const n = encoder.encode(ch).length;
    const start = Math.max(0, u16 - shift);
    const end = Math.max(0, u16 + ch.length - shift);
    for (let k = 0; k < n; k++) {
      charStart.push(start);
      charEnd.push(end);
      byteWhite.push(/\s/.test(ch));
    }
    u16 += ch.length;
  }
  const wordSpans: { start: number; end: number }[] = [];
  let bytePos = 0;
  for (const match of source.matchAll(BYTE_LEVEL_WORDS)) {
    const bytes = encoder.encode(match[0]).length;
    const lead = match[0].length - match[0].trimStart().length;
    wordSpans.push({
      start: Math.max(0, match.index + (lead < match[0].length ? lead : 0) - shift),
      end: Math.max(0, match.index + match[0].length - shift),
    });
    for (let k = 0; k < bytes; k++) wordOfByte.push(wordSpans.length - 1);
    bytePos += bytes;
  }
  const offsets: { start: number; end: number }[] = [];
  const words: { start: number; end: number }[] = [];
  let pos = 0;
  tokens.forEach((token, i) => {
    const bytes = [...token].map((ch) => byteOf.get(ch));
    if (bytes.some((b) => b === undefined) || pos + bytes.length > charStart.length) {
      throw new ApiError(
        400,
        "invalid_request",
        `context token ${i} '${token}' does not map back to the text`,
      );
    }
    let first = pos;
    while (first < pos + bytes.length - 1 && byteWhite[first]) first++;
    const last = pos + bytes.length - 1;
    offsets.push({ start: charStart[first], end: charEnd[last] });
    words.push(wordSpans[wordOfByte[first]] ?? offsets[offsets.length - 1]);
    pos += bytes.length;
  });
  if (pos !== charStart.length || bytePos !== charStart.length) {
    throw new ApiError(400, "invalid_request", "the context's byte-level tokens do not cover the text");
  }
  return { offsets, words };
}

/**
 * Question token budget and effective stride for a question of `questionTokens` tokens: the question keeps
 * at most half of the non-special budget; docStride is capped to maxContextTokens − 1.
 */
export function windowBudget(
  tokenizer: TextTokenizer,
  questionTokens: number,
  options: QaWindowOptions,
): { questionTokens: number; maxContextTokens: number; docStride: number } {
  const specials = pairSpecials(tokenizer);
  const budget = options.maxLength - specials;
  if (budget < 2) {
    throw new ApiError(400, "invalid_request", `max_seq_length ${options.maxLength} is too small for QA`);
  }
  const question = Math.min(questionTokens, Math.floor(budget / 2));
  const maxContextTokens = budget - question;
  // A stride that does not fit the context room (e.g. the default 128 with short windows) would move the window
  // one token at a time; half the room keeps the overlap meaningful and the window count linear.
  const docStride = options.docStride < maxContextTokens
    ? Math.max(0, options.docStride)
    : Math.max(0, Math.floor(maxContextTokens / 2));
  return { questionTokens: question, maxContextTokens, docStride };
}

/** The windows of one (question, context) pair. `aligned` may be passed when the context was aligned before. */
export function encodeQaWindows(
  tokenizer: TextTokenizer,
  question: string,
  context: string,
  options: QaWindowOptions,
  aligned: AlignedContext = alignContext(tokenizer, context),
): QaWindow[] {
  const questionIds = tokenizer.tokenize(question.trimStart());
  const budget = windowBudget(tokenizer, questionIds.length, options);
  const q = questionIds.slice(0, budget.questionTokens);
  return planWindows(aligned.ids.length, budget.maxContextTokens, budget.docStride).map((span) => {
    const { ids, typeIds } = tokenizer.buildInput(
      q,
      aligned.ids.slice(span.start, span.end),
      options.maxLength,
    );
    const first = ids.length - 1 - (span.end - span.start); // the context sits just before the last separator
    const offsets: TokenOffset[] = ids.map(() => null);
    const wordOffsets: TokenOffset[] = ids.map(() => null);
    for (let t = span.start; t < span.end; t++) {
      offsets[first + t - span.start] = aligned.offsets[t];
      wordOffsets[first + t - span.start] = aligned.words[t];
    }
    return {
      ids,
      typeIds,
      offsets,
      wordOffsets,
      contextMask: offsets.map((o) => o !== null),
      clsIndex: 0,
      span,
    };
  });
}

/**
 * Features of every example (run_qa's prepare_*_features): each window labelled with the first answer's
 * tokens, or [CLS] when that answer is not fully inside it. Examples without answers get [CLS] labels.
 */
export function prepareQaFeatures(
  tokenizer: TextTokenizer,
  examples: readonly QaExample[],
  options: QaWindowOptions,
): QaFeature[] {
  const features: QaFeature[] = [];
  const contexts = new Map<string, AlignedContext>(); // SQuAD asks several questions per context
  examples.forEach((example, exampleIndex) => {
    const answer = example.spans[0];
    let aligned = contexts.get(example.context);
    if (!aligned) contexts.set(example.context, aligned = alignContext(tokenizer, example.context));
    for (const window of encodeQaWindows(tokenizer, example.question, example.context, options, aligned)) {
      const label = answer ? answerTokenSpan(window.offsets, answer.start, answer.end) : null;
      features.push({
        ...window,
        exampleIndex,
        startPosition: label?.startToken ?? window.clsIndex,
        endPosition: label?.endToken ?? window.clsIndex,
      });
    }
  });
  return features;
}
