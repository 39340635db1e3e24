/**
 * Tag schemes for token classification: parsing "B-PER"-style tags, detecting which scheme a dataset uses
 * (IOB1 as CoNLL-2003, IOB2, BIOES, or "plain" tags such as POS tags), converting between IOB1, IOB2 and
 * BIOES through entity spans (decoded leniently with seqeval's default get_entities rules, so a stray I- after
 * O starts an entity rather than vanishing), validating tag sequences with 0-based sentence/token positions,
 * and aligning word-level tags to sub-tokens the way transformers' run_ner.py does (first sub-token carries
 * the label, the rest and special tokens are ignored, or with label_all_tokens the rest get the I- form).
 */
import { getEntities } from "../metrics/seqeval.ts";

export type TagScheme = "IOB1" | "IOB2" | "BIOES" | "plain";
export type TagPrefix = "B" | "I" | "E" | "S";

/** An entity over tokens [start, end) of one sentence. */
export interface TagSpan {
  type: string;
  start: number;
  end: number;
}

const ENTITY_TAG = /^([BIES])-(.+)$/;

/** "O" → {prefix:"O"}; "B-PER" → {prefix:"B", type:"PER"}; anything else → null (not an entity tag). */
export function parseTag(tag: string): { prefix: "O" } | { prefix: TagPrefix; type: string } | null {
  if (tag === "O") return { prefix: "O" };
  const m = ENTITY_TAG.exec(tag);
  return m ? { prefix: m[1] as TagPrefix, type: m[2] } : null;
}

function continues(prev: string | undefined, type: string): boolean {
  if (prev === undefined) return false;
  const p = parseTag(prev);
  return p !== null && p.prefix !== "O" && p.type === type && (p.prefix === "B" || p.prefix === "I");
}

/**
 * Which scheme the sequences use: "plain" if any tag is not "O" or X-TYPE with X in B/I/E/S; "BIOES" if any
 * E- or S- occurs; "IOB1" if some I-X does not continue a B-X / I-X; otherwise "IOB2" (also for all-O data,
 * where every scheme reads the same).
 */
export function detectScheme(sequences: readonly (readonly string[])[]): TagScheme {
  let bioes = false;
  let iob1 = false;
  for (const tags of sequences) {
    for (let i = 0; i < tags.length; i++) {
      const t = parseTag(tags[i]);
      if (t === null) return "plain";
      if (t.prefix === "E" || t.prefix === "S") bioes = true;
      if (t.prefix === "I" && !continues(tags[i - 1], t.type)) iob1 = true;
    }
  }
  return bioes ? "BIOES" : iob1 ? "IOB1" : "IOB2";
}

/** Entity spans of one sentence, decoded with seqeval's lenient default rules (valid for IOB1/IOB2/BIOES). */
export function tagsToSpans(tags: readonly string[]): TagSpan[] {
  return getEntities([tags]).map(({ type, start, end }) => ({ type, start, end }));
}

/** Writes spans (sorted, non-overlapping) as `length` tags in the target scheme. */
export function spansToTags(
  spans: readonly TagSpan[],
  length: number,
  scheme: Exclude<TagScheme, "plain">,
): string[] {
  const tags = new Array<string>(length).fill("O");
  let prevEnd = -1;
  let prevType = "";
  for (const { type, start, end } of spans) {
    if (start < 0 || end > length || start >= end || start < prevEnd) {
      throw new RangeError(`spansToTags: bad span ${type} [${start}, ${end}) for length ${length}`);
    }
    for (let i = start; i < end; i++) tags[i] = `I-${type}`;
    if (scheme === "IOB2") tags[start] = `B-${type}`;
    if (scheme === "IOB1" && prevEnd === start && prevType === type) tags[start] = `B-${type}`;
    if (scheme === "BIOES") {
      if (end - start === 1) tags[start] = `S-${type}`;
      else {
        tags[start] = `B-${type}`;
        tags[end - 1] = `E-${type}`;
      }
    }
    prevEnd = end;
    prevType = type;
  }
  return tags;
}

/** Converts one sentence's tags to `to` (IOB1/IOB2/BIOES). Plain tags cannot be converted. */
export function convertTags(tags: readonly string[], to: Exclude<TagScheme, "plain">): string[] {
  const bad = tags.findIndex((t) => parseTag(t) === null);
  if (bad !== -1) throw new RangeError(`convertTags: '${tags[bad]}' at position ${bad} is not an entity tag`);
  return spansToTags(tagsToSpans(tags), tags.length, to);
}

/** The label set a model predicts for entity types under a scheme: "O" first, then per type (sorted) B/I/E/S. */
export function labelsForScheme(types: readonly string[], scheme: Exclude<TagScheme, "plain">): string[] {
  const prefixes = scheme === "BIOES" ? ["B", "I", "E", "S"] : ["B", "I"];
  return ["O", ...[...new Set(types)].sort().flatMap((t) => prefixes.map((p) => `${p}-${t}`))];
}

export interface TagIssue {
  sentence: number;
  position: number;
  tag: string;
  /** malformed: not a tag of the scheme; unknown: not in the label set; sequence: an invalid transition. */
  kind: "malformed" | "unknown" | "sequence";
  reason: string;
}

/**
 * Problems in tag sequences under `scheme`, in order. "sequence" issues are transitions the scheme forbids
 * (IOB2: I-X not after B-X/I-X; IOB1: B-X not right after an X entity; BIOES: I-/E- not continuing a B-/I- of
 * the same type, or B-/I- not followed by I-/E- of the same type); converting still reads them leniently.
 */
export function validateTags(
  sequences: readonly (readonly string[])[],
  scheme: TagScheme,
  options: { labels?: readonly string[]; maxIssues?: number } = {},
): TagIssue[] {
  const issues: TagIssue[] = [];
  const known = options.labels ? new Set(options.labels) : undefined;
  const max = options.maxIssues ?? Infinity;
  const add = (sentence: number, position: number, tag: string, kind: TagIssue["kind"], reason: string) => {
    if (issues.length < max) issues.push({ sentence, position, tag, kind, reason });
  };
  sequences.forEach((tags, s) => {
    tags.forEach((tag, i) => {
      if (known && !known.has(tag)) add(s, i, tag, "unknown", `unknown tag '${tag}'`);
      if (scheme === "plain") return;
      const t = parseTag(tag);
      if (t === null || ((t.prefix === "E" || t.prefix === "S") && scheme !== "BIOES")) {
        add(s, i, tag, "malformed", `'${tag}' is not a ${scheme} tag`);
        return;
      }
      if (t.prefix === "O") return;
      const prev = parseTag(tags[i - 1] ?? "O");
      const next = parseTag(tags[i + 1] ?? "O");
      const prevSame = prev !== null && prev.prefix !== "O" && prev.type === t.type;
      const nextSame = next !== null && next.prefix !== "O" && next.type === t.type;
      if (
        scheme === "IOB2" && t.prefix === "I" && !(prevSame && (prev.prefix === "B" || prev.prefix === "I"))
      ) {
        add(
          s,
          i,
          tag,
          "sequence",
          `'${tag}' does not continue a ${t.type} entity (IOB2 entities start with B-)`,
        );
      }
      if (
        scheme === "IOB1" && t.prefix === "B" && !(prevSame && (prev.prefix === "B" || prev.prefix === "I"))
      ) {
        add(
          s,
          i,
          tag,
          "sequence",
          `'${tag}' does not follow a ${t.type} entity (IOB1 uses B- only between two)`,
        );
      }
      if (scheme === "BIOES") {
        if (
          (t.prefix === "I" || t.prefix === "E") &&
          !(prevSame && (prev.prefix === "B" || prev.prefix === "I"))
        ) {
          add(s, i, tag, "sequence", `'${tag}' does not continue a B-${t.type} or I-${t.type}`);
        }
        if (
          (t.prefix === "B" || t.prefix === "I") &&
          !(nextSame && (next.prefix === "I" || next.prefix === "E"))
        ) {
          add(s, i, tag, "sequence", `'${tag}' is not followed by I-${t.type} or E-${t.type}`);
        }
      }
    });
  });
  return issues;
}

/**
 * Word tags → one entry per sub-token, as transformers' run_ner.py tokenize_and_align_labels: null for special
 * tokens (wordId null) and for non-first sub-tokens of a word, unless `labelAllSubTokens`, which gives them the
 * word's tag with B- turned into I- (b_to_i_label).
 */
export function alignTagsToSubTokens(
  wordIds: readonly (number | null)[],
  wordTags: readonly string[],
  options: { labelAllSubTokens?: boolean } = {},
): (string | null)[] {
  let previous: number | null = null;
  return wordIds.map((w) => {
    let out: string | null = null;
    if (w !== null) {
      if (w < 0 || w >= wordTags.length) {
        throw new RangeError(`alignTagsToSubTokens: word id ${w} out of range`);
      }
      if (w !== previous) out = wordTags[w];
      else if (options.labelAllSubTokens) {
        out = wordTags[w].startsWith("B-") ? `I-${wordTags[w].slice(2)}` : wordTags[w];
      }
    }
    previous = w;
    return out;
  });
}

/** Per-word values from per-sub-token values, taking each word's first sub-token (the one that was trained). */
export function firstSubTokenValues<T>(
  wordIds: readonly (number | null)[],
  tokenValues: readonly T[],
  numWords: number,
): (T | undefined)[] {
  const out = new Array<T | undefined>(numWords).fill(undefined);
  wordIds.forEach((w, i) => {
    if (w !== null && w < numWords && out[w] === undefined) out[w] = tokenValues[i];
  });
  return out;
}
