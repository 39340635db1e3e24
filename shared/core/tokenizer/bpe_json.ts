/**
 * Builds the Hugging Face `tokenizers` JSON (format 1.0) of a RoBERTa / GPT-2 style byte-level BPE tokenizer
 * from the two files the slow tokenizers ship (vocab.json: token → id; merges.txt: one `a b` merge per line
 * after an optional `#version` header): ByteLevel pre-tokenizer and decoder, BPE without an unknown token,
 * RobertaProcessing `<s> A </s>` / `<s> A </s></s> B </s>`, and the five RoBERTa special tokens as added
 * tokens (`<mask>` strips the space before it) — the file `RobertaTokenizerFast` saves. Also the byte-level
 * alphabet (GPT-2's bytes_to_unicode) for building small vocabularies.
 */
import { ApiError } from "../../schemas/errors.ts";

export const ROBERTA_SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] as const;

const invalidFile = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", message, details);

/** GPT-2's bytes_to_unicode: the printable character standing for each byte 0..255, in byte order. */
export function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = printable.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  }
  return out;
}

/**
 * The vocabulary a list of merges implies: `<s> <pad> </s> <unk>` (ids 0-3, as RoBERTa), the 256 byte-level
 * characters, each merge's result in merge order, then `<mask>` — e.g. for a small RoBERTa built from scratch.
 */
export function byteLevelVocab(merges: string[]): Map<string, number> {
  const vocab = new Map<string, number>();
  const add = (token: string) => {
    if (!vocab.has(token)) vocab.set(token, vocab.size);
  };
  ["<s>", "<pad>", "</s>", "<unk>"].forEach(add);
  byteLevelAlphabet().forEach(add);
  for (const merge of merges) add(merge.replace(" ", ""));
  add("<mask>");
  return vocab;
}

/** vocab.json text → token → id (ids must be distinct non-negative integers). */
export function parseVocabJson(text: string): Map<string, number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidFile(`vocab.json is not valid JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalidFile("vocab.json must be a JSON object of token → id");
  }
  const vocab = new Map<string, number>();
  const seen = new Set<number>();
  for (const [token, id] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || seen.has(id)) {
      throw invalidFile(`vocab.json: token ${JSON.stringify(token)} has an invalid or repeated id`, {
        token,
        id,
      });
    }
    seen.add(id);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw invalidFile("vocab.json is empty");
  return vocab;
}

/**
 * merges.txt text → merges ("a b"), with the line number of any malformed line in the error. With `vocab`,
 * both sides of each merge must be tokens of it (the merged token may be absent: GPT-2's own files have such
 * merges, which never fire).
 */
export function parseMergesTxt(text: string, vocab?: Map<string, number>): string[] {
  const merges: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line === "" || (index === 0 && line.startsWith("#version"))) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw invalidFile(`merges.txt line ${index + 1}: expected two tokens separated by one space`, {
        line: index + 1,
      });
    }
    const unknown = vocab ? parts.find((part) => !vocab.has(part)) : undefined;
    if (unknown !== undefined) {
      throw invalidFile(`merges.txt line ${index + 1}: '${unknown}' is not a token of vocab.json`, {
        line: index + 1,
      });
    }
    merges.push(line);
  });
  return merges;
}

/** The tokenizer.json of a RoBERTa byte-level BPE tokenizer (see module comment). */
export function robertaTokenizerJson(
  vocab: Map<string, number>,
  merges: string[],
  opts: { addPrefixSpace?: boolean } = {},
): Record<string, unknown> {
  const missing = ROBERTA_SPECIAL_TOKENS.filter((t) => !vocab.has(t));
  if (missing.length > 0) {
    throw invalidFile(`vocab.json lacks the RoBERTa special tokens ${missing.join(", ")}`, { missing });
  }
  const addPrefixSpace = opts.addPrefixSpace ?? false;
  const addedTokens = ROBERTA_SPECIAL_TOKENS.map((content) => ({
    id: vocab.get(content),
    content,
    single_word: false,
    lstrip: content === "<mask>",
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel",
      add_prefix_space: addPrefixSpace,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: {
      type: "RobertaProcessing",
      sep: ["</s>", vocab.get("</s>")],
      cls: ["<s>", vocab.get("<s>")],
      trim_offsets: true,
      add_prefix_space: addPrefixSpace,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}
