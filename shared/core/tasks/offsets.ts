/**
 * Character offsets into the user's original text. JavaScript strings index UTF-16 code units, Python (and so
 * SQuAD's answer_start and Hugging Face's pipeline start/end) indexes code points; the two differ only after
 * characters outside the BMP (emoji, rare CJK), and these helpers convert between them. `bertPreTokenize`
 * reproduces the BERT normaliser + pre-tokeniser exactly as @huggingface/tokenizers 0.2.0 (the tokenizer this
 * project encodes with) runs BertNormalizer then BertPreTokenizer: control characters dropped, CJK ideographs
 * isolated, text lower-cased then accents stripped (NFD, remove Mn) when asked, split on JavaScript whitespace
 * and on every punctuation character (ASCII symbols or Unicode P*) — and
 * gives each pre-token both its normalised text (what WordPiece sees) and its [start, end) span in the
 * original string, so "Café" normalises to "cafe" yet still maps back to the four original characters.
 * `alignWordPieces` extends that to the WordPiece tokens of an encoding (which carries no offsets).
 */

/** UTF-16 index in `text` of code point number `codePoint` (clamped to the end). */
export function codePointToUtf16Index(text: string, codePoint: number): number {
  let u16 = 0;
  for (let cp = 0; cp < codePoint && u16 < text.length; cp++) u16 += text.codePointAt(u16)! > 0xffff ? 2 : 1;
  return u16;
}

/** Code point index of UTF-16 index `u16` (a low surrogate counts with its pair). */
export function utf16ToCodePointIndex(text: string, u16: number): number {
  let cp = 0;
  for (let i = 0; i < u16 && i < text.length; i += text.codePointAt(i)! > 0xffff ? 2 : 1) cp++;
  return cp;
}

export interface PreToken {
  /** Normalised text (lower-cased / accent-stripped as configured). */
  text: string;
  /** [start, end) in UTF-16 units of the original string. */
  start: number;
  end: number;
}

export interface BertPreTokenizeOptions {
  /** Lower-case (bert-base-uncased: true). */
  lowercase?: boolean;
  /** Strip accents; defaults to `lowercase`, as HF's BertNormalizer. */
  stripAccents?: boolean;
  /** Put spaces around CJK ideographs (default true). */
  handleChineseChars?: boolean;
}

/** BERT's _is_punctuation: ASCII non-alphanumeric printables, or any Unicode P* category. */
export function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if (
    (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)
  ) {
    return true;
  }
  return /^\p{P}$/u.test(ch);
}

/** Whitespace as the JS BertNormalizer / BertPreTokenizer see it: JavaScript's \s. */
export function isBertWhitespace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

/** Dropped by clean_text: NUL, U+FFFD and control characters (Cc, Cf, Co, Cs) other than \t \n \r. */
function isDropped(ch: string): boolean {
  if (ch === "\t" || ch === "\n" || ch === "\r") return false;
  const cp = ch.codePointAt(0)!;
  return cp === 0 || cp === 0xfffd || /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u.test(ch);
}

/** BERT's _is_chinese_char: the CJK Unified Ideographs blocks. */
export function isCjkIdeograph(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

const fill = (n: number, v: number): number[] => new Array<number>(n).fill(v);
const stripMarks = (s: string): string => s.normalize("NFD").replace(/\p{Mn}/gu, "");

/**
 * Pre-tokens of `text` with their original offsets. Each kept original character maps to its own normalised
 * piece: the cleaned text is lower-cased as a whole (so a final Σ becomes ς, as String.toLowerCase does in
 * context) and piece lengths come from lower-casing each character alone (only Σ depends on context, and it
 * stays one unit). A character whose piece is empty (a lone combining accent when stripping) extends the
 * current word's span without adding text. CJK ideographs are isolated only inside the BMP, as the JS
 * BertNormalizer (which tests UTF-16 units) does.
 */
export function bertPreTokenize(text: string, options: BertPreTokenizeOptions = {}): PreToken[] {
  return preTokenizeAligned(text, options).map(({ text, start, end }) => ({ text, start, end }));
}

/** A pre-token plus the original [unitStarts[k], unitEnds[k]) of each UTF-16 unit k of its normalised text. */
interface AlignedPreToken extends PreToken {
  unitStarts: number[];
  unitEnds: number[];
}

function preTokenizeAligned(text: string, options: BertPreTokenizeOptions): AlignedPreToken[] {
  const lowercase = options.lowercase ?? false;
  const stripAccents = options.stripAccents ?? lowercase;
  const cjk = options.handleChineseChars ?? true;
  type Unit = { ch: string; start: number; end: number; kind: "space" | "punct" | "word"; padded: string };
  const units: Unit[] = [];
  let i = 0;
  for (const ch of text) {
    const start = i;
    i += ch.length;
    if (isDropped(ch)) continue;
    const cp = ch.codePointAt(0)!;
    const isCjk = cjk && cp <= 0xffff && isCjkIdeograph(cp);
    const kind = isBertWhitespace(ch) ? "space" : isBertPunctuation(ch) || isCjk ? "punct" : "word";
    units.push({ ch, start, end: i, kind, padded: kind === "space" ? " " : isCjk ? ` ${ch} ` : ch });
  }
  // Lower-case the cleaned text in one go (whitespace as " ", spaces around CJK, as the normaliser).
  const cleaned = units.map((u) => u.padded).join("");
  const lowered = lowercase ? cleaned.toLowerCase() : cleaned;
  const out: AlignedPreToken[] = [];
  let current: AlignedPreToken | undefined;
  const flush = () => {
    if (current && current.text.length > 0) out.push(current);
    current = undefined;
  };
  let pos = 0;
  for (const u of units) {
    const width = lowercase ? u.padded.toLowerCase().length : u.padded.length;
    let piece = lowered.slice(pos, pos + width);
    pos += width;
    if (u.kind === "space") {
      flush();
      continue;
    }
    if (u.padded.length !== u.ch.length) piece = piece.slice(1, -1); // drop the CJK padding
    if (stripAccents) piece = stripMarks(piece);
    if (u.kind === "punct") {
      flush();
      const n = piece.length;
      if (n > 0) {
        out.push({
          text: piece,
          start: u.start,
          end: u.end,
          unitStarts: fill(n, u.start),
          unitEnds: fill(n, u.end),
        });
      }
      continue;
    }
    if (!current) current = { text: "", start: u.start, end: u.end, unitStarts: [], unitEnds: [] };
    current.text += piece;
    current.end = u.end;
    for (let k = 0; k < piece.length; k++) {
      current.unitStarts.push(u.start);
      current.unitEnds.push(u.end);
    }
  }
  flush();
  return out;
}

/** Where one model token sits: its [start, end) in the original text of its segment; null for specials. */
export interface TokenAlignment {
  start: number;
  end: number;
  /** Index of the pre-token (whitespace/punctuation-delimited word) within its segment. */
  wordId: number;
  /** 0 for the first text, 1 for the second (text_pair), as HF's sequence_ids. */
  segment: number;
}

export interface AlignWordPiecesOptions extends BertPreTokenizeOptions {
  /** Tokens that have no text (default [CLS], [SEP], [PAD], [MASK]). */
  specialTokens?: readonly string[];
  /** The separator: each one seen moves to the next text (default "[SEP]"). */
  sepToken?: string;
  unkToken?: string;
  continuingPrefix?: string;
}

/**
 * Character offsets for WordPiece tokens (what @huggingface/tokenizers' encode returns without offsets): each
 * non-special token is matched against the normalised pre-tokens of its segment — a token without the "##"
 * prefix opens the next pre-token, "[UNK]" covers a whole pre-token — and mapped back through the per-unit
 * alignment. Truncated token lists are fine. A token that does not match the text throws (wrong tokenizer
 * options, not bad user input).
 */
export function alignWordPieces(
  texts: string | readonly string[],
  tokens: readonly string[],
  options: AlignWordPiecesOptions = {},
): (TokenAlignment | null)[] {
  const segments = (typeof texts === "string" ? [texts] : texts).map((t) => preTokenizeAligned(t, options));
  const specials = new Set(options.specialTokens ?? ["[CLS]", "[SEP]", "[PAD]", "[MASK]"]);
  const sep = options.sepToken ?? "[SEP]";
  const unk = options.unkToken ?? "[UNK]";
  const prefix = options.continuingPrefix ?? "##";
  let segment = 0;
  let word = -1;
  let pos = 0;
  return tokens.map((token, i) => {
    if (specials.has(token)) {
      if (token === sep) [segment, word, pos] = [segment + 1, -1, 0];
      return null;
    }
    const words = segments[segment];
    const fail = (why: string) => new Error(`alignWordPieces: token ${i} '${token}' ${why}`);
    if (!words) throw fail("comes after the last text");
    const continuing = token.startsWith(prefix) && token.length > prefix.length;
    if (continuing) {
      if (word < 0 || pos === 0) throw fail("continues a word that was not started");
    } else {
      if (word >= 0 && pos < words[word].text.length) {
        throw fail(`starts a word before '${words[word].text}' ended`);
      }
      [word, pos] = [word + 1, 0];
      if (word >= words.length) throw fail("has no word left in the text");
    }
    const w = words[word];
    if (token === unk) {
      pos = w.text.length;
      return { start: w.start, end: w.end, wordId: word, segment };
    }
    const piece = continuing ? token.slice(prefix.length) : token;
    if (w.text.slice(pos, pos + piece.length) !== piece) throw fail(`does not match '${w.text}' at ${pos}`);
    const out = { start: w.unitStarts[pos], end: w.unitEnds[pos + piece.length - 1], wordId: word, segment };
    pos += piece.length;
    return out;
  });
}
