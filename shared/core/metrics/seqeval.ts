/**
 * Entity-level precision / recall / F1 for token classification, with the semantics of seqeval 1.2.2 (the
 * library behind Hugging Face's `evaluate.load("seqeval")`). Default mode ports
 * seqeval.metrics.sequence_labeling.get_entities / end_of_chunk / start_of_chunk: sentences are joined with an
 * "O" between them and any I-/E- tag that does not continue an open chunk of its type starts a new one (so
 * IOB1, IOB2 and BIOES all decode, leniently). Strict mode ports seqeval.scheme (Tokens.entities with the
 * IOB1 / IOB2 / IOE2 / IOBES pattern tables, auto_detect when no scheme is given): only chunks that start and
 * end as the scheme prescribes count. Scores follow seqeval.metrics.v1.precision_recall_fscore_support with
 * zero_division=0: per entity type over the sorted union of gold and predicted types, micro (pooled counts),
 * macro (unweighted mean) and weighted (by gold support). Entity ends here are exclusive (seqeval's
 * get_entities returns inclusive ends); `accuracy` is seqeval's token-level accuracy_score.
 */
import { averagesFromCounts, prfFromCounts, type PrfSupport } from "./classification.ts";

/** A chunk in sentence `sentence` covering tokens [start, end). */
export interface Entity {
  type: string;
  sentence: number;
  start: number;
  end: number;
}

/** Splits a tag the way seqeval's get_entities does: prefix = first char, type = text after the first "-". */
function splitTag(tag: string): { prefix: string; type: string } {
  if (tag.length === 0) throw new RangeError("seqeval: empty tag");
  const rest = tag.slice(1);
  const dash = rest.indexOf("-");
  return { prefix: tag[0], type: (dash === -1 ? rest : rest.slice(dash + 1)) || "_" };
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === "E" || prevTag === "S") return true;
  if ((prevTag === "B" || prevTag === "I") && (tag === "B" || tag === "S" || tag === "O")) return true;
  return prevTag !== "O" && prevTag !== "." && prevType !== type;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === "B" || tag === "S") return true;
  if ((prevTag === "E" || prevTag === "S" || prevTag === "O") && (tag === "E" || tag === "I")) return true;
  return tag !== "O" && tag !== "." && prevType !== type;
}

/**
 * seqeval's default (lenient) chunk decoding over a batch of sentences. The state carries across sentences
 * through the "O" that seqeval inserts after each one, exactly as its nested-list flattening does.
 */
export function getEntities(sentences: readonly (readonly string[])[]): Entity[] {
  const entities: Entity[] = [];
  let prevTag = "O";
  let prevType = "";
  let begin = 0;
  const step = (tagText: string, sentence: number, i: number) => {
    const { prefix, type } = splitTag(tagText);
    if (endOfChunk(prevTag, prefix, prevType, type)) {
      entities.push({ type: prevType, sentence, start: begin, end: i });
    }
    if (startOfChunk(prevTag, prefix, prevType, type)) begin = i;
    prevTag = prefix;
    prevType = type;
  };
  sentences.forEach((tags, s) => {
    tags.forEach((tag, i) => step(tag, s, i));
    step("O", s, tags.length); // the separator / trailing sentinel closes any open chunk at sentence end
  });
  return entities;
}

// ------------------------------------------------------------------------------------------ strict schemes

export type StrictScheme = "IOB1" | "IOB2" | "IOE2" | "IOBES";
type Cond = "SAME" | "DIFF" | "ANY";
/** [previous prefixes, current prefixes, type condition], as in seqeval.scheme's pattern sets. */
type Pattern = [string, string, Cond];
interface SchemeTable {
  allowed: string;
  start: Pattern[];
  inside: Pattern[];
  end: Pattern[];
}

const ANY_PREFIX = "IOBES";
const SCHEMES: Record<StrictScheme, SchemeTable> = {
  IOB1: {
    allowed: "IOB",
    start: [["O", "I", "ANY"], ["I", "I", "DIFF"], ["B", "I", "ANY"], ["I", "B", "SAME"], ["B", "B", "SAME"]],
    inside: [["B", "I", "SAME"], ["I", "I", "SAME"]],
    end: [["I", "I", "DIFF"], ["I", "O", "ANY"], ["I", "B", "ANY"], ["B", "O", "ANY"], ["B", "I", "DIFF"], [
      "B",
      "B",
      "SAME",
    ]],
  },
  IOB2: {
    allowed: "IOB",
    start: [[ANY_PREFIX, "B", "ANY"]],
    inside: [["B", "I", "SAME"], ["I", "I", "SAME"]],
    end: [["I", "O", "ANY"], ["I", "I", "DIFF"], ["I", "B", "ANY"], ["B", "O", "ANY"], ["B", "I", "DIFF"], [
      "B",
      "B",
      "ANY",
    ]],
  },
  IOE2: {
    allowed: "IOE",
    start: [["O", "I", "ANY"], ["O", "E", "ANY"], ["E", "I", "ANY"], ["E", "E", "ANY"], ["I", "I", "DIFF"], [
      "I",
      "E",
      "DIFF",
    ]],
    inside: [["I", "E", "SAME"], ["I", "I", "SAME"]],
    end: [["E", ANY_PREFIX, "ANY"]],
  },
  IOBES: {
    allowed: "IOBES",
    start: [[ANY_PREFIX, "B", "ANY"], [ANY_PREFIX, "S", "ANY"]],
    inside: [["B", "I", "SAME"], ["B", "E", "SAME"], ["I", "I", "SAME"], ["I", "E", "SAME"]],
    end: [["S", ANY_PREFIX, "ANY"], ["E", ANY_PREFIX, "ANY"]],
  },
};

interface StrictToken {
  prefix: string;
  type: string;
}

/** seqeval.scheme.Token: prefix = first char, type = the rest with "-" stripped from both ends, or "_". */
function strictToken(tag: string, table: SchemeTable): StrictToken {
  const prefix = tag[0] ?? "";
  if (!ANY_PREFIX.includes(prefix) || prefix === "" || !table.allowed.includes(prefix)) {
    throw new RangeError(
      `Invalid token is found: ${tag}. Allowed prefixes are: ${table.allowed.split("").join("|")}.`,
    );
  }
  return { prefix, type: tag.slice(1).replace(/^-+|-+$/g, "") || "_" };
}

function matches(prev: StrictToken, cur: StrictToken, patterns: Pattern[]): boolean {
  return patterns.some(([p, c, cond]) =>
    p.includes(prev.prefix) && c.includes(cur.prefix) &&
    (cond === "ANY" || (cond === "SAME") === (prev.type === cur.type))
  );
}

/** seqeval.scheme.Tokens.entities for one sentence under a strict scheme. */
export function getStrictEntities(tags: readonly string[], scheme: StrictScheme, sentence = 0): Entity[] {
  const table = SCHEMES[scheme];
  const tokens = [...tags, "O"].map((t) => strictToken(t, table));
  const entities: Entity[] = [];
  let prev = tokens[tokens.length - 1]; // the outside token
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i];
    if (matches(prev, token, table.start)) {
      let end = i + 1;
      let last = token;
      while (end < tokens.length && matches(last, tokens[end], table.inside)) last = tokens[end++];
      if (end >= tokens.length) end = tags.length - 1; // seqeval's _forward fallback (unreachable: "O" ends it)
      if (matches(tokens[end - 1], tokens[end], table.end)) {
        entities.push({ type: token.type, sentence, start: i, end });
      }
      i = end;
    } else {
      i += 1;
    }
    prev = tokens[i - 1];
  }
  return entities;
}

/** seqeval.scheme.auto_detect on the gold sequences: IOB2, IOE2 or IOBES from the set of prefixes used. */
export function autoDetectScheme(sentences: readonly (readonly string[])[]): StrictScheme {
  const prefixes = new Set<string>();
  for (const tags of sentences) {
    for (const tag of tags) {
      if (!ANY_PREFIX.includes(tag[0] ?? "?")) throw new RangeError(`This scheme is not supported: ${tag}`);
      prefixes.add(tag[0]);
    }
  }
  const key = [...prefixes].sort().join("");
  const iob2 = ["BIO", "BI", "BO", "B"];
  const ioe2 = ["EIO", "EI", "EO", "E"];
  const iobes = ["BEIOS", "BEIS", "BEIO", "BEOS", "BEI", "BES", "BEO", "BE", "S"];
  if (iob2.includes(key)) return "IOB2";
  if (ioe2.includes(key)) return "IOE2";
  if (iobes.includes(key)) return "IOBES";
  throw new RangeError(`This scheme is not supported: {${[...prefixes].join(", ")}}`);
}

// ------------------------------------------------------------------------------------------------ scores

export interface SeqevalOptions {
  /** "default" (lenient, seqeval's default) or "strict" (seqeval mode="strict"). */
  mode?: "default" | "strict";
  /** Strict mode only; auto-detected from the gold tags when absent (seqeval auto_detect). */
  scheme?: StrictScheme;
}

export interface SeqevalReport {
  /** Sorted union of gold and predicted entity types. */
  types: string[];
  perType: Record<string, PrfSupport>;
  micro: PrfSupport;
  macro: PrfSupport;
  weighted: PrfSupport;
  /** Token-level accuracy over all tags (seqeval accuracy_score). */
  accuracy: number;
}

function checkShapes(gold: readonly (readonly string[])[], pred: readonly (readonly string[])[]): void {
  if (gold.length !== pred.length) {
    throw new RangeError(`seqeval: ${gold.length} gold sentences but ${pred.length} predicted`);
  }
  gold.forEach((g, i) => {
    if (g.length !== pred[i].length) {
      throw new RangeError(
        `seqeval: sentence ${i} has ${g.length} gold tags but ${pred[i].length} predicted`,
      );
    }
  });
}

/**
 * Entity-level report over a batch of sentences (gold first, as seqeval's y_true, y_pred). With no entity on
 * either side every average is 0 (seqeval's macro would be NaN from averaging an empty list).
 */
export function seqevalReport(
  gold: readonly (readonly string[])[],
  pred: readonly (readonly string[])[],
  options: SeqevalOptions = {},
): SeqevalReport {
  checkShapes(gold, pred);
  let goldEntities: Entity[];
  let predEntities: Entity[];
  if (options.mode === "strict") {
    const scheme = options.scheme ?? autoDetectScheme(gold);
    goldEntities = gold.flatMap((tags, s) => getStrictEntities(tags, scheme, s));
    predEntities = pred.flatMap((tags, s) => getStrictEntities(tags, scheme, s));
  } else {
    goldEntities = getEntities(gold);
    predEntities = getEntities(pred);
  }
  const key = (e: Entity) => `${e.sentence}:${e.start}:${e.end}`;
  const byType = (list: Entity[]) => {
    const map = new Map<string, Set<string>>();
    for (const e of list) {
      if (!map.has(e.type)) map.set(e.type, new Set());
      map.get(e.type)!.add(key(e));
    }
    return map;
  };
  const goldByType = byType(goldEntities);
  const predByType = byType(predEntities);
  const types = [...new Set([...goldByType.keys(), ...predByType.keys()])].sort();
  const tp: number[] = [];
  const predicted: number[] = [];
  const support: number[] = [];
  for (const type of types) {
    const g = goldByType.get(type) ?? new Set<string>();
    const p = predByType.get(type) ?? new Set<string>();
    tp.push([...g].filter((k) => p.has(k)).length);
    predicted.push(p.size);
    support.push(g.size);
  }
  const perType: Record<string, PrfSupport> = {};
  types.forEach((t, i) => (perType[t] = prfFromCounts(tp[i], predicted[i], support[i])));
  let correct = 0;
  let total = 0;
  gold.forEach((g, s) =>
    g.forEach((tag, i) => {
      total++;
      if (tag === pred[s][i]) correct++;
    })
  );
  return {
    types,
    perType,
    ...averagesFromCounts(tp, predicted, support),
    accuracy: total ? correct / total : NaN,
  };
}
