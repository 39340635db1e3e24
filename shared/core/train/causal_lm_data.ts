/**
 * Training examples for causal language modelling, as transformers' run_clm prepares them: plain texts are
 * tokenized and, with packing, concatenated (documents joined by the EOS token, or by a "\n" in the text
 * when joinWith is "newline", so a plain-text file reads as one document) and cut into blocks of blockSize
 * tokens, the short remainder dropped (a corpus shorter than one block gives one short block); without
 * packing each text (plus EOS) is one example, truncated to blockSize. Prompt/completion pairs give one
 * example each, `prompt + completion + EOS`, whose labels are -100 on the prompt tokens so that only the
 * completion is learned. Labels are aligned with the input ids (the loss shifts them, as HF does).
 */
import { ApiError } from "../../schemas/errors.ts";
import type { GenerationTokenizer } from "../tokenizer/generation_tokenizer.ts";

/** The label of positions the loss ignores (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

export interface CausalLmExample {
  inputIds: number[];
  /** Same length as inputIds; IGNORE_INDEX where no loss is taken. */
  labels: number[];
}

export interface PromptCompletion {
  prompt: string;
  completion: string;
}

export interface CausalLmDataOptions {
  blockSize: number;
  /** Concatenate plain texts and cut them into full blocks (HF run_clm's group_texts). */
  packing: boolean;
  /** How packed documents are separated: the EOS token, or a "\n" in the text. */
  joinWith: "eos" | "newline";
  /** Rows are prompt/completion pairs (loss on the completion only). */
  promptCompletion?: boolean;
}

export interface CausalLmData {
  examples: CausalLmExample[];
  /** Examples cut to blockSize. */
  truncated: number;
  /** Pairs left without a single completion token after truncation (not used). */
  skipped: number;
}

const badRequest = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_request", message, details);

function requireEos(tokenizer: GenerationTokenizer, why: string): number {
  if (tokenizer.eosTokenId === null) throw badRequest(`the tokenizer has no end-of-sequence token (${why})`);
  return tokenizer.eosTokenId;
}

export function prepareCausalLmExamples(
  tokenizer: GenerationTokenizer,
  rows: (string | PromptCompletion)[],
  opts: CausalLmDataOptions,
): CausalLmData {
  if (!Number.isInteger(opts.blockSize) || opts.blockSize < 2) {
    throw badRequest(`blockSize must be an integer ≥ 2, got ${opts.blockSize}`);
  }
  if (opts.promptCompletion) return promptCompletionExamples(tokenizer, rows, opts.blockSize);
  const texts = rows.map((row, i) => {
    if (typeof row !== "string") throw badRequest(`row ${i} is not a plain text`, { index: i });
    return row;
  });
  const eos = opts.joinWith === "eos" ? requireEos(tokenizer, "documents are joined by EOS") : null;
  const labelled = (ids: number[]): CausalLmExample => ({ inputIds: ids, labels: [...ids] });
  if (!opts.packing) {
    let truncated = 0;
    const examples: CausalLmExample[] = [];
    for (const text of texts) {
      const ids = tokenizer.encode(text);
      if (eos !== null) ids.push(eos);
      if (ids.length > opts.blockSize) truncated++;
      if (ids.length >= 2) examples.push(labelled(ids.slice(0, opts.blockSize)));
    }
    return { examples, truncated, skipped: 0 };
  }
  const stream: number[] = [];
  if (eos !== null) {
    for (const text of texts) {
      for (const id of tokenizer.encode(text)) stream.push(id);
      stream.push(eos);
    }
  } else {
    for (const id of tokenizer.encode(texts.join("\n"))) stream.push(id);
  }
  const examples: CausalLmExample[] = [];
  for (let start = 0; start + opts.blockSize <= stream.length; start += opts.blockSize) {
    examples.push(labelled(stream.slice(start, start + opts.blockSize)));
  }
  if (examples.length === 0 && stream.length >= 2) examples.push(labelled(stream));
  return { examples, truncated: 0, skipped: 0 };
}

function promptCompletionExamples(
  tokenizer: GenerationTokenizer,
  rows: (string | PromptCompletion)[],
  blockSize: number,
): CausalLmData {
  const eos = requireEos(tokenizer, "completions end with EOS");
  const examples: CausalLmExample[] = [];
  let truncated = 0;
  let skipped = 0;
  rows.forEach((row, i) => {
    if (
      typeof row !== "object" || row === null || typeof row.prompt !== "string" ||
      typeof row.completion !== "string"
    ) {
      throw badRequest(`row ${i} is not a {prompt, completion} pair of texts`, { index: i });
    }
    const prompt = tokenizer.encode(row.prompt);
    const completion = [...tokenizer.encode(row.completion), eos];
    const inputIds = [...prompt, ...completion];
    const labels = [...prompt.map(() => IGNORE_INDEX), ...completion];
    if (inputIds.length > blockSize) truncated++;
    // The first token has no prediction: a pair needs a completion token after position 0.
    const kept = labels.slice(0, blockSize);
    if (!kept.some((label, position) => position > 0 && label !== IGNORE_INDEX)) {
      skipped++;
      return;
    }
    examples.push({ inputIds: inputIds.slice(0, blockSize), labels: kept });
  });
  return { examples, truncated, skipped };
}
