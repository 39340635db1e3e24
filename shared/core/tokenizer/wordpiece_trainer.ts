/**
 * Learns a WordPiece vocabulary from raw text when a job trains from scratch without a tokenizer. Text is
 * normalised and split exactly as the finished tokenizer will do it (BertNormalizer + BertPreTokenizer), then
 * the vocabulary is: the BERT special tokens ([PAD]=0, [UNK], [CLS], [SEP], [MASK]), every character seen (as
 * a word start and as a "##" continuation, most frequent first, so any word can still be spelled out), and
 * then whole words by descending frequency until `vocabSize`. Ties break alphabetically: same text, same
 * vocabulary.
 */
import { BertNormalizer, BertPreTokenizer } from "@huggingface/tokenizers";
import { BERT_SPECIAL_TOKENS } from "./bert_json.ts";

export interface WordPieceTrainingOptions {
  vocabSize: number;
  lowercase?: boolean;
  /** Words seen fewer times than this are left to be spelled by pieces (default 2). */
  minFrequency?: number;
}

export function trainWordPieceVocab(
  texts: Iterable<string>,
  opts: WordPieceTrainingOptions,
): Map<string, number> {
  const lowercase = opts.lowercase ?? true;
  const minFrequency = opts.minFrequency ?? 2;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < BERT_SPECIAL_TOKENS.length + 1) {
    throw new Error(`vocabSize must be an integer > ${BERT_SPECIAL_TOKENS.length}, got ${opts.vocabSize}`);
  }
  const normalizer = new BertNormalizer({
    type: "BertNormalizer",
    clean_text: true,
    handle_chinese_chars: true,
    lowercase,
  });
  const preTokenizer = new BertPreTokenizer();
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const word of preTokenizer.pre_tokenize_text(normalizer.normalize(text))) {
      wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
    }
  }
  const startChars = new Map<string, number>();
  const innerChars = new Map<string, number>();
  for (const [word, count] of wordCounts) {
    const chars = [...word];
    chars.forEach((c, i) => {
      const table = i === 0 ? startChars : innerChars;
      table.set(c, (table.get(c) ?? 0) + count);
    });
  }
  const byFrequency = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

  const vocab = new Map<string, number>();
  const add = (token: string) => {
    if (vocab.size < opts.vocabSize && !vocab.has(token)) vocab.set(token, vocab.size);
  };
  BERT_SPECIAL_TOKENS.forEach(add);
  // Characters: interleave start and continuation forms by frequency so a small budget keeps the common ones.
  const characters = [
    ...byFrequency(startChars).map(([c, n]) => [c, n] as const),
    ...byFrequency(innerChars).map(([c, n]) => [`##${c}`, n] as const),
  ].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [token] of characters) add(token);
  for (const [word, count] of byFrequency(wordCounts)) {
    if (vocab.size >= opts.vocabSize) break;
    if (count < minFrequency) break;
    if ([...word].length > 1) add(word);
  }
  return vocab;
}
