/**
 * Token-classification predictions → the Hugging Face pipeline output, as pure functions. Ports
 * transformers' TokenClassificationPipeline postprocessing (gather_pre_entities, aggregate, aggregate_words,
 * aggregate_word, group_entities, group_sub_entities; v4.40): "none" returns one `{entity, score, index, word,
 * start, end}` per token; "simple" groups adjacent tokens of the same type unless the next is B-; "first",
 * "average" and "max" first fuse the sub-tokens of each word (label of the first sub-token / of the mean
 * scores / of the sub-token with the highest score) and then group like "simple". Entities whose label or
 * group is in `ignoreLabels` (default ["O"]) are dropped. Differences, by design: a token is a sub-token when
 * it has the same `wordId` as the previous token (HF's fallback heuristic — no space before it — is used only
 * when no wordId is given), and `word` is always the original text between start and end (HF decodes tokens,
 * which lower-cases for uncased models). Offsets are UTF-16 indices of the original text.
 */

export type AggregationStrategy = "none" | "simple" | "first" | "average" | "max";

/** One model token: its original-text span, the word it belongs to, and whether it is a special token. */
export interface TokenInfo {
  start: number;
  end: number;
  /** Index of the word this token is part of (from a word-aware tokenizer); null marks a special token. */
  wordId?: number | null;
  /** [CLS]/[SEP]/padding and the like: skipped. */
  special?: boolean;
  /** The token string, used as `word` by strategy "none" (default: the original text span). */
  token?: string;
}

export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}

export interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

export interface AggregateOptions {
  strategy?: AggregationStrategy;
  ignoreLabels?: readonly string[];
}

/** Numerically stable softmax of one row (as the pipeline applies to logits). */
export function softmax(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

interface PreEntity {
  scores: readonly number[];
  index: number;
  start: number;
  end: number;
  word: string;
  isSubword: boolean;
}

/** gather_pre_entities: drops special tokens and marks sub-tokens. */
function gatherPreEntities(
  text: string,
  tokens: readonly TokenInfo[],
  probabilities: readonly (readonly number[])[],
) {
  const out: PreEntity[] = [];
  let previousWord: number | null | undefined = undefined;
  tokens.forEach((t, index) => {
    if (t.special || t.wordId === null) return;
    let isSubword: boolean;
    if (t.wordId !== undefined) isSubword = previousWord !== undefined && t.wordId === previousWord;
    else isSubword = t.start > 0 && !text.slice(t.start - 1, t.start + 1).includes(" ");
    previousWord = t.wordId;
    out.push({
      scores: probabilities[index],
      index,
      start: t.start,
      end: t.end,
      word: t.token ?? text.slice(t.start, t.end),
      isSubword,
    });
  });
  return out;
}

/** aggregate_word: one entity for the tokens of one word. */
function aggregateWord(
  text: string,
  group: PreEntity[],
  labels: readonly string[],
  strategy: "first" | "average" | "max",
): Omit<TokenEntity, "index"> {
  let scores: readonly number[];
  if (strategy === "first") scores = group[0].scores;
  else if (strategy === "max") {
    scores = group.reduce((best, e) => (Math.max(...e.scores) > Math.max(...best.scores) ? e : best)).scores;
  } else scores = group[0].scores.map((_, k) => group.reduce((s, e) => s + e.scores[k], 0) / group.length);
  const k = argmax(scores);
  const start = group[0].start;
  const end = group[group.length - 1].end;
  return { entity: labels[k], score: scores[k], word: text.slice(start, end), start, end };
}

/** get_tag: "B-X" → [B, X], "I-X" → [I, X], anything else → [I, label]. */
function splitBI(label: string): [string, string] {
  if (label.startsWith("B-")) return ["B", label.slice(2)];
  if (label.startsWith("I-")) return ["I", label.slice(2)];
  return ["I", label];
}

/** Python's `label.split("-", 1)[-1]`. */
const afterFirstDash = (label: string): string =>
  label.includes("-") ? label.slice(label.indexOf("-") + 1) : label;

/** group_entities + group_sub_entities. */
function groupEntities(text: string, entities: Omit<TokenEntity, "index">[]): EntityGroup[] {
  const groups: EntityGroup[] = [];
  let pending: Omit<TokenEntity, "index">[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const start = pending[0].start;
    const end = pending[pending.length - 1].end;
    groups.push({
      entity_group: afterFirstDash(pending[0].entity),
      score: pending.reduce((s, e) => s + e.score, 0) / pending.length,
      word: text.slice(start, end),
      start,
      end,
    });
    pending = [];
  };
  for (const e of entities) {
    if (pending.length > 0) {
      const [bi, tag] = splitBI(e.entity);
      const [, lastTag] = splitBI(pending[pending.length - 1].entity);
      if (!(tag === lastTag && bi !== "B")) flush();
    }
    pending.push(e);
  }
  flush();
  return groups;
}

/**
 * The pipeline's postprocess for one text. `probabilities[i]` are token i's label probabilities (see
 * `softmax`), in the order of `labels` (the model's id2label).
 */
export function aggregateTokenPredictions(
  text: string,
  tokens: readonly TokenInfo[],
  probabilities: readonly (readonly number[])[],
  labels: readonly string[],
  options: AggregateOptions & { strategy: "none" },
): TokenEntity[];
export function aggregateTokenPredictions(
  text: string,
  tokens: readonly TokenInfo[],
  probabilities: readonly (readonly number[])[],
  labels: readonly string[],
  options?: AggregateOptions & { strategy?: Exclude<AggregationStrategy, "none"> },
): EntityGroup[];
export function aggregateTokenPredictions(
  text: string,
  tokens: readonly TokenInfo[],
  probabilities: readonly (readonly number[])[],
  labels: readonly string[],
  options?: AggregateOptions,
): EntityGroup[] | TokenEntity[];
export function aggregateTokenPredictions(
  text: string,
  tokens: readonly TokenInfo[],
  probabilities: readonly (readonly number[])[],
  labels: readonly string[],
  options: AggregateOptions = {},
): EntityGroup[] | TokenEntity[] {
  if (tokens.length !== probabilities.length) {
    throw new RangeError(
      `aggregateTokenPredictions: ${tokens.length} tokens but ${probabilities.length} score rows`,
    );
  }
  const strategy = options.strategy ?? "simple";
  const ignore = new Set(options.ignoreLabels ?? ["O"]);
  const pre = gatherPreEntities(text, tokens, probabilities);
  if (strategy === "none" || strategy === "simple") {
    const entities: TokenEntity[] = pre.map((p) => {
      const k = argmax(p.scores);
      return {
        entity: labels[k],
        score: p.scores[k],
        index: p.index,
        word: p.word,
        start: p.start,
        end: p.end,
      };
    });
    if (strategy === "none") return entities.filter((e) => !ignore.has(e.entity));
    return groupEntities(text, entities).filter((g) => !ignore.has(g.entity_group));
  }
  const words: Omit<TokenEntity, "index">[] = [];
  let group: PreEntity[] = [];
  for (const p of pre) {
    if (group.length > 0 && !p.isSubword) {
      words.push(aggregateWord(text, group, labels, strategy));
      group = [];
    }
    group.push(p);
  }
  if (group.length > 0) words.push(aggregateWord(text, group, labels, strategy));
  return groupEntities(text, words).filter((g) => !ignore.has(g.entity_group));
}
