/**
 * Builds the Hugging Face `tokenizers` JSON (format 1.0) of a BERT WordPiece tokenizer from a vocabulary:
 * BertNormalizer, BertPreTokenizer, WordPiece with the "##" continuation prefix, TemplateProcessing
 * `[CLS] A [SEP] (B [SEP])` and the WordPiece decoder — the same file `BertTokenizerFast` saves, so both our
 * loader and HF's `tokenizers` read it. Truncation and padding are left off (the core truncates itself).
 */

export const BERT_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

/** vocab.txt → token → id (line number), as transformers' load_vocab (a trailing newline adds no token). */
export function parseVocabTxt(text: string): Map<string, number> {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((token, id) => {
    if (!vocab.has(token)) vocab.set(token, id);
  });
  return vocab;
}

export function bertTokenizerJson(vocab: Map<string, number>, lowercase: boolean): Record<string, unknown> {
  const specialId = (token: string) => vocab.get(token);
  const addedTokens = BERT_SPECIAL_TOKENS.filter((t) => vocab.has(t)).map((content) => ({
    id: specialId(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const cls = specialId("[CLS]") ?? 0;
  const sep = specialId("[SEP]") ?? 0;
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)],
      pair: [
        special("[CLS]", 0),
        sequence("A", 0),
        special("[SEP]", 0),
        sequence("B", 1),
        special("[SEP]", 1),
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [cls], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [sep], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
}
