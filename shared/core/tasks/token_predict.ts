/**
 * Serving-side token classification, as pure functions: `tokenClassificationInputs` tokenizes a raw text the
 * way the model's tokenizer does and gives every model position its [start, end) in the ORIGINAL string —
 * UTF-16 code-unit indices, as JavaScript's `slice` uses (Python's pipeline reports code points; the two differ
 * only after astral characters such as emoji, see offsets.ts to convert) — plus the word (pre-token) it
 * belongs to; `tokenEntities` turns the model's logits into the Hugging Face token-classification pipeline
 * output (spans.ts ports its aggregation). WordPiece tokens are aligned through the BERT normaliser and
 * pre-tokeniser (offsets.ts: lower-casing, accent stripping, punctuation splits, [UNK] words); byte-level BPE
 * tokens (RoBERTa) by counting their bytes against the UTF-8 text, with a word = one GPT-2 regex pre-token and
 * the leading space trimmed from offsets (trim_offsets). Special added tokens in the text ([MASK], <s>, a
 * literal [UNK]) are cut out first, as the tokenizer does (lstrip/rstrip honoured), each piece between them is
 * tokenized on its own — the ids equal `tokenizer.tokenize(text)` — and the specials get no offset, like
 * [CLS]/[SEP]/padding.
 */
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { alignWordPieces } from "./offsets.ts";
import {
  aggregateTokenPredictions,
  type AggregationStrategy,
  type EntityGroup,
  softmax,
  type TokenEntity,
  type TokenInfo,
} from "./spans.ts";

export type { AggregationStrategy, EntityGroup, TokenEntity } from "./spans.ts";

/** Where one model position sits in the original text (null offsets mark special tokens). */
export interface TokenOffset {
  /** [start, end) in UTF-16 code units of the original text. */
  start: number;
  end: number;
  /** Index of the pre-token (word) in the whole text; sub-tokens of a word share it. */
  wordId: number;
  /** The token string ("##rich", "Ġrejects"), the pipeline's `word` for aggregation "none". */
  token: string;
  /** The unknown token: it stands for the whole word, so its `word` is the original text. */
  unknown: boolean;
}

export interface TokenClassificationInputs {
  ids: number[];
  typeIds: number[];
  /** One per id: null for [CLS]/[SEP] and special added tokens. */
  offsets: (TokenOffset | null)[];
}

/** A special added token: the tokenizer cuts it out of the text before anything else runs. */
interface SpecialToken {
  content: string;
  id: number;
  /** Eats the whitespace before / after it (RoBERTa's <mask>). */
  lstrip: boolean;
  rstrip: boolean;
}

interface TokenizerInfo {
  kind: "wordpiece" | "bytelevel";
  specials: SpecialToken[];
  unk: string;
  prefix: string;
  lowercase: boolean;
  stripAccents: boolean | undefined;
  handleChineseChars: boolean;
}

const INFO = new WeakMap<TextTokenizer, TokenizerInfo>();

type Json = Record<string, unknown>;

function tokenizerInfo(tokenizer: TextTokenizer): TokenizerInfo {
  const cached = INFO.get(tokenizer);
  if (cached) return cached;
  const json = JSON.parse(tokenizer.toTokenizerJson()) as Json;
  const model = (json.model ?? {}) as Json;
  const normalizer = (json.normalizer ?? null) as Json | null;
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
  const bert = normalizer?.type === "BertNormalizer";
  const info: TokenizerInfo = {
    kind: (json.pre_tokenizer as Json | null)?.type === "ByteLevel" || model.type === "BPE" ||
        tokenizer.template === "roberta"
      ? "bytelevel"
      : "wordpiece",
    specials: added.filter((t) => t.special === true && typeof t.content === "string" && t.content !== "")
      .map((t) => ({
        content: t.content as string,
        id: t.id as number,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
      }))
      .sort((x, y) => y.content.length - x.content.length), // longest first at one position
    unk: typeof model.unk_token === "string" ? model.unk_token : "[UNK]",
    prefix: typeof model.continuing_subword_prefix === "string" ? model.continuing_subword_prefix : "##",
    lowercase: bert ? normalizer.lowercase !== false : tokenizer.lowercase,
    stripAccents: bert && typeof normalizer.strip_accents === "boolean"
      ? normalizer.strip_accents
      : undefined,
    handleChineseChars: bert ? normalizer.handle_chinese_chars !== false : true,
  };
  INFO.set(tokenizer, info);
  return info;
}

/** `text` cut at the special tokens it contains: [start, end) text pieces and the specials between them. */
function splitSpecials(text: string, specials: readonly SpecialToken[]) {
  const pieces: { start: number; end: number; special: SpecialToken | null }[] = [];
  let from = 0;
  let cursor = 0;
  while (specials.length > 0 && cursor < text.length) {
    let at = -1;
    let found: SpecialToken | undefined;
    for (const sp of specials) {
      const i = text.indexOf(sp.content, cursor);
      if (i !== -1 && (at === -1 || i < at)) [at, found] = [i, sp];
    }
    if (!found) break;
    let end = at;
    if (found.lstrip) { while (end > from && /\s/u.test(text[end - 1])) end--; }
    pieces.push({ start: from, end, special: null });
    pieces.push({ start: at, end: at + found.content.length, special: found });
    from = at + found.content.length;
    if (found.rstrip) { while (from < text.length && /\s/u.test(text[from])) from++; }
    cursor = from;
  }
  pieces.push({ start: from, end: text.length, special: null });
  return pieces.filter((p) => p.special !== null || p.end > p.start);
}

/** GPT-2's pre-tokenizer pattern (ByteLevel use_regex): the "words" of byte-level BPE. */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const utf8Length = (cp: number) => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);

/** Offsets of byte-level BPE tokens of `text` (each token character is one byte of the UTF-8 text). */
function alignByteLevel(text: string, tokens: readonly string[]): Omit<TokenOffset, "token" | "unknown">[] {
  const total = tokens.reduce((n, t) => n + t.length, 0);
  const byteStart: number[] = []; // per byte: the UTF-16 start / end of its character
  const byteEnd: number[] = [];
  const byteOfUnit: number[] = []; // per UTF-16 unit: its character's first byte
  let u16 = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    for (let k = 0; k < ch.length; k++) byteOfUnit.push(byteStart.length);
    for (let b = 0; b < utf8Length(cp); b++) {
      byteStart.push(u16);
      byteEnd.push(u16 + ch.length);
    }
    u16 += ch.length;
  }
  byteOfUnit.push(byteStart.length);
  // add_prefix_space adds one space before a text that does not start with whitespace.
  const virtual = total === byteStart.length + 1 && tokens[0]?.startsWith("Ġ") ? 1 : 0;
  if (total !== byteStart.length + virtual) {
    throw new Error(`alignByteLevel: tokens cover ${total} bytes but the text has ${byteStart.length}`);
  }
  const words: number[] = []; // pre-token start bytes (in the prefixed text)
  for (const m of (virtual ? " " + text : text).matchAll(GPT2_PATTERN)) {
    words.push(virtual ? (m.index === 0 ? 0 : byteOfUnit[m.index - 1] + 1) : byteOfUnit[m.index]);
  }
  let cursor = 0; // in the prefixed byte stream
  let word = -1;
  return tokens.map((token) => {
    const from = cursor - virtual;
    const to = from + token.length; // exclusive, in text bytes
    cursor += token.length;
    while (word + 1 < words.length && words[word + 1] <= from + virtual) word++;
    let start = from < 0 ? 0 : byteStart[from];
    const end = to <= 0 ? 0 : byteEnd[to - 1];
    let trimmed = start;
    while (trimmed < end && /\s/u.test(text[trimmed])) trimmed++;
    if (trimmed < end) start = trimmed;
    return { start, end, wordId: Math.max(0, word) };
  });
}

/**
 * Token ids of `text` without [CLS]/[SEP] and the offset of each (null for special added tokens): the text is
 * cut at its special tokens, as the tokenizer does, and each piece is tokenized and aligned on its own.
 */
export function tokenizeWithOffsets(
  tokenizer: TextTokenizer,
  text: string,
): { ids: number[]; offsets: (TokenOffset | null)[] } {
  const info = tokenizerInfo(tokenizer);
  const ids: number[] = [];
  const offsets: (TokenOffset | null)[] = [];
  let words = 0;
  for (const piece of splitSpecials(text, info.specials)) {
    if (piece.special) {
      ids.push(piece.special.id);
      offsets.push(null);
      continue;
    }
    const segment = text.slice(piece.start, piece.end);
    const pieceIds = tokenizer.tokenize(segment);
    if (pieceIds.length === 0) continue;
    const tokens = tokenizer.idsToTokens(pieceIds);
    const aligned = info.kind === "bytelevel"
      ? alignByteLevel(segment, tokens)
      : alignWordPieces(segment, tokens, {
        lowercase: info.lowercase,
        stripAccents: info.stripAccents,
        handleChineseChars: info.handleChineseChars,
        specialTokens: [],
        sepToken: "\u0000no separator\u0000",
        unkToken: info.unk,
        continuingPrefix: info.prefix,
      }).map((a) => a!);
    aligned.forEach((a, k) => {
      ids.push(pieceIds[k]);
      offsets.push({
        start: a.start + piece.start,
        end: a.end + piece.start,
        wordId: a.wordId + words,
        token: tokens[k],
        unknown: tokens[k] === info.unk && info.kind === "wordpiece",
      });
    });
    words += Math.max(...aligned.map((a) => a.wordId)) + 1;
  }
  return { ids, offsets };
}

/**
 * Model inputs for one raw text: `[CLS] tokens [SEP]` (`<s> … </s>`), truncated to maxLength, with the offset
 * of every position (null for the specials).
 */
export function tokenClassificationInputs(
  tokenizer: TextTokenizer,
  text: string,
  maxLength: number,
): TokenClassificationInputs {
  const { ids, offsets } = tokenizeWithOffsets(tokenizer, text);
  const built = tokenizer.buildInput(ids, null, maxLength);
  const kept = built.ids.length - 2;
  return { ids: built.ids, typeIds: built.typeIds, offsets: [null, ...offsets.slice(0, kept), null] };
}

/**
 * The token-classification pipeline's output for one text from its logits (row-major, offsets.length ×
 * labels.length): "none" → one {entity, score, index, word, start, end} per token not in ignoreLabels (index =
 * position in the model input, word = the token string, or the original text for the unknown token); other
 * strategies → {entity_group, score, word, start, end} with word = the original text of the span.
 */
export function tokenEntities(
  text: string,
  offsets: readonly (TokenOffset | null)[],
  logits: Float32Array | readonly number[],
  labels: readonly string[],
  aggregation: "none",
  ignoreLabels?: readonly string[],
): TokenEntity[];
export function tokenEntities(
  text: string,
  offsets: readonly (TokenOffset | null)[],
  logits: Float32Array | readonly number[],
  labels: readonly string[],
  aggregation?: Exclude<AggregationStrategy, "none">,
  ignoreLabels?: readonly string[],
): EntityGroup[];
export function tokenEntities(
  text: string,
  offsets: readonly (TokenOffset | null)[],
  logits: Float32Array | readonly number[],
  labels: readonly string[],
  aggregation?: AggregationStrategy,
  ignoreLabels?: readonly string[],
): TokenEntity[] | EntityGroup[];
export function tokenEntities(
  text: string,
  offsets: readonly (TokenOffset | null)[],
  logits: Float32Array | readonly number[],
  labels: readonly string[],
  aggregation: AggregationStrategy = "simple",
  ignoreLabels: readonly string[] = ["O"],
): TokenEntity[] | EntityGroup[] {
  const k = labels.length;
  if (logits.length !== offsets.length * k) {
    throw new RangeError(`tokenEntities: ${logits.length} logits for ${offsets.length} tokens × ${k} labels`);
  }
  const probabilities = offsets.map((_, i) => softmax(Array.from(logits.slice(i * k, (i + 1) * k))));
  const tokens: TokenInfo[] = offsets.map((o) =>
    o === null
      ? { start: 0, end: 0, special: true }
      : { start: o.start, end: o.end, wordId: o.wordId, token: o.unknown ? undefined : o.token }
  );
  return aggregateTokenPredictions(text, tokens, probabilities, labels, {
    strategy: aggregation,
    ignoreLabels,
  });
}
