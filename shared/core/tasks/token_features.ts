/**
 * Word-level token-classification data → model inputs, as transformers' run_ner.py tokenize_and_align_labels
 * does with `is_split_into_words=True`: every word is tokenized on its own (byte-level BPE models get a
 * leading space before every word but the first, so the pieces are those of the words joined by spaces, as
 * the raw text is tokenized at serving time), the sequence is `[CLS] pieces [SEP]` truncated to `maxLength`,
 * and the label id of a word goes on its first sub-token while other sub-tokens and the special tokens get
 * -100 (ignored by the loss and the metrics). A word whose first sub-token was cut off is counted as
 * truncated; a word that yields no sub-token at all (only characters the normaliser drops) as empty. Neither
 * has a labelled position, so — as in run_ner.py — neither is trained or scored.
 */
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";

/** The label of a position that the loss and metrics ignore (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_LABEL = -100;

export interface TokenFeatures {
  ids: number[];
  typeIds: number[];
  /** Per position: the word's label id on its first sub-token, else IGNORE_LABEL. */
  labels: number[];
  /** Per position: the word index, or null for [CLS]/[SEP]. */
  wordIds: (number | null)[];
  /** Indices of the words that have a labelled position, in order. */
  labelledWords: number[];
  /** Words whose first sub-token did not fit in maxLength. */
  truncatedWords: number;
  /** Words the tokenizer turned into no sub-token. */
  emptyWords: number;
}

/** Sub-token ids per word, with a per-instance cache (datasets repeat words a lot). */
export class WordTokenizer {
  private readonly cache = new Map<string, number[]>();
  constructor(readonly tokenizer: TextTokenizer) {}

  /** Ids of one word; `first` = the sentence's first word (no leading space for byte-level BPE). */
  word(word: string, first: boolean): number[] {
    const text = first || this.tokenizer.template !== "roberta" ? word : ` ${word}`;
    let ids = this.cache.get(text);
    if (!ids) {
      ids = this.tokenizer.tokenize(text);
      this.cache.set(text, ids);
    }
    return ids;
  }

  words(words: readonly string[]): number[][] {
    return words.map((w, i) => this.word(w, i === 0));
  }
}

/**
 * Inputs and aligned labels of one sentence. `labelIds` (one per word) may be null for unlabelled text, then
 * every position is IGNORE_LABEL but `wordIds` still says which word each piece belongs to.
 */
export function tokenFeatures(
  words: WordTokenizer | TextTokenizer,
  tokens: readonly string[],
  labelIds: readonly number[] | null,
  maxLength: number,
): TokenFeatures {
  const wordTokenizer = words instanceof WordTokenizer ? words : new WordTokenizer(words);
  if (labelIds && labelIds.length !== tokens.length) {
    throw new RangeError(`tokenFeatures: ${tokens.length} words but ${labelIds.length} labels`);
  }
  const pieces = wordTokenizer.words(tokens);
  const flat: number[] = [];
  const flatWords: number[] = [];
  pieces.forEach((ids, w) => {
    for (const id of ids) {
      flat.push(id);
      flatWords.push(w);
    }
  });
  const built = wordTokenizer.tokenizer.buildInput(flat, null, maxLength);
  const kept = built.ids.length - 2; // buildInput keeps [CLS] … [SEP] around the first `kept` pieces
  const wordIds: (number | null)[] = [null, ...flatWords.slice(0, kept), null];
  const labels = new Array<number>(wordIds.length).fill(IGNORE_LABEL);
  const labelledWords: number[] = [];
  let previous: number | null = null;
  wordIds.forEach((w, i) => {
    if (w !== null && w !== previous) {
      labelledWords.push(w);
      if (labelIds) labels[i] = labelIds[w];
    }
    previous = w;
  });
  const emptyWords = pieces.filter((p) => p.length === 0).length;
  return {
    ids: built.ids,
    typeIds: built.typeIds,
    labels,
    wordIds,
    labelledWords,
    truncatedWords: tokens.length - emptyWords - labelledWords.length,
    emptyWords,
  };
}
