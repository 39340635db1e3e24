/**
 * Unlabeled texts → masked-LM training examples (token-id rows with [CLS]/[SEP], not yet masked: masking is
 * drawn per batch, so every epoch sees new masks). Two layouts:
 * - "split" (default): each text is its own example, `[CLS] tokens [SEP]`; a text longer than the window is
 *   cut into consecutive windows, each wrapped in [CLS]/[SEP], so nothing is truncated away and every example
 *   looks like what fine-tuning feeds the model (one text, [CLS] first).
 * - "concatenate": transformers' run_mlm `group_texts` — every text as `[CLS] tokens [SEP]`, all joined and cut
 *   into blocks of exactly maxLength (the last, shorter block is kept) — no padding at all.
 * Texts with no tokens are skipped.
 */
import type { TokenizedRow } from "../../eval/evaluate.ts";
import type { TextTokenizer } from "../../tokenizer/text_tokenizer.ts";

export type MlmLayout = "split" | "concatenate";

export interface MlmExampleOptions {
  /** Tokens per example including [CLS]/[SEP] (at least 3). */
  maxLength: number;
  layout?: MlmLayout;
}

export function mlmExamples(
  tokenizer: Pick<TextTokenizer, "tokenize" | "specialIds">,
  texts: Iterable<string>,
  options: MlmExampleOptions,
): TokenizedRow[] {
  const { maxLength } = options;
  if (!Number.isInteger(maxLength) || maxLength < 3) {
    throw new Error(`mlmExamples: maxLength must be an integer >= 3, got ${maxLength}`);
  }
  const { cls, sep } = tokenizer.specialIds;
  const rows: TokenizedRow[] = [];
  const row = (ids: number[]) => rows.push({ ids, typeIds: new Array(ids.length).fill(0) });
  if ((options.layout ?? "split") === "split") {
    const window = maxLength - 2;
    for (const text of texts) {
      const tokens = tokenizer.tokenize(text);
      for (let start = 0; start < tokens.length; start += window) {
        row([cls, ...tokens.slice(start, start + window), sep]);
      }
    }
    return rows;
  }
  let block: number[] = [];
  for (const text of texts) {
    const tokens = tokenizer.tokenize(text);
    if (tokens.length === 0) continue;
    for (const id of [cls, ...tokens, sep]) {
      block.push(id);
      if (block.length === maxLength) {
        row(block);
        block = [];
      }
    }
  }
  if (block.length > 0) row(block);
  return rows;
}

/** Token count of examples (for logs and throughput). */
export function tokenCount(rows: TokenizedRow[]): number {
  return rows.reduce((sum, r) => sum + r.ids.length, 0);
}
