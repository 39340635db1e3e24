/**
 * The data of the task-breadth benchmark (bench/tasks.ts), read from ../shared/data and split once with a
 * fixed seed: SST-2 (train subset → full dev), SMS spam (headerless `label\ttext`, seeded held-out part), AG
 * News (seeded held-out part), STS-B (seeded samples of train → dev; plain tab split, no CSV quoting), CoNLL-2003 (eng.train.5k
 * → a seeded subset of testa) and SQuAD v1.1 (articles 0–7 train, 8–9 held out). Each loader returns the
 * training part, the held-out part and the training texts that may join the pre-training corpus (never any
 * held-out text). Row caps keep the benchmark inside its time budget.
 */
import { shuffledIndices } from "../shared/core/mod.ts";
import { parseConll } from "../shared/core/tasks/conll.ts";
import { parseSquadJson, type QaExample } from "../shared/core/tasks/squad.ts";

const DATA = new URL("../../shared/data/", import.meta.url);

export interface LabelledRows {
  texts: string[];
  labels: string[];
}

export interface PairRows {
  texts: string[];
  pairs: string[];
  targets: number[];
}

export interface TaggedRows {
  tokens: string[][];
  tags: string[][];
}

export interface Split<T> {
  train: T;
  test: T;
  /** Training-side texts for the pre-training corpus (the whole training file, never held-out rows). */
  corpus: string[];
}

const readText = (name: string) => Deno.readTextFile(new URL(name, DATA));

/** Rows of a TSV file as string arrays (plain tab split: no CSV quoting), blank lines dropped. */
async function tsvRows(name: string): Promise<string[][]> {
  return (await readText(name)).split("\n").filter((line) => line.trim() !== "").map((line) =>
    line.split("\t")
  );
}

/** A headed TSV's rows as records of the named columns. */
async function headedTsv(name: string, columns: string[]): Promise<string[][]> {
  const [header, ...rows] = await tsvRows(name);
  const at = columns.map((c) => {
    const i = header.indexOf(c);
    if (i < 0) throw new Error(`${name}: no column '${c}' in ${header.join(", ")}`);
    return i;
  });
  return rows.map((row) => at.map((i) => (row[i] ?? "").trim()));
}

function pick<T>(items: readonly T[], indices: readonly number[]): T[] {
  return indices.map((i) => items[i]);
}

/** A seeded held-out split: `heldOut` rows to test, the first `trainRows` of the rest to train. */
function seededSplit(
  rows: LabelledRows,
  seed: number,
  heldOut: number,
  trainRows: number,
): Split<LabelledRows> {
  const order = shuffledIndices(rows.texts.length, seed);
  const testIdx = order.slice(0, heldOut);
  const trainIdx = order.slice(heldOut);
  const used = trainIdx.slice(0, trainRows);
  return {
    train: { texts: pick(rows.texts, used), labels: pick(rows.labels, used) },
    test: { texts: pick(rows.texts, testIdx), labels: pick(rows.labels, testIdx) },
    corpus: pick(rows.texts, trainIdx),
  };
}

export async function sst2(trainRows: number): Promise<Split<LabelledRows>> {
  const read = async (name: string) => {
    const rows = await headedTsv(name, ["sentence", "label"]);
    return { texts: rows.map((r) => r[0]), labels: rows.map((r) => r[1]) };
  };
  const all = await read("sst2_train_8k.tsv");
  return {
    train: { texts: all.texts.slice(0, trainRows), labels: all.labels.slice(0, trainRows) },
    test: await read("sst2_dev.tsv"),
    corpus: all.texts,
  };
}

export async function smsSpam(
  seed: number,
  heldOut: number,
  trainRows: number,
): Promise<Split<LabelledRows>> {
  const rows = (await tsvRows("sms_spam_train.tsv")).map((
    [label, ...text],
  ) => [label.trim(), text.join(" ")]);
  return seededSplit(
    { texts: rows.map((r) => r[1].trim()), labels: rows.map((r) => r[0]) },
    seed,
    heldOut,
    trainRows,
  );
}

export async function agNews(seed: number, heldOut: number, trainRows: number): Promise<Split<LabelledRows>> {
  const rows = await headedTsv("ag_news_train_5k.tsv", ["text", "label"]);
  return seededSplit(
    { texts: rows.map((r) => r[0]), labels: rows.map((r) => r[1]) },
    seed,
    heldOut,
    trainRows,
  );
}

/** STS-B: seeded samples of train and dev (both files are grouped by genre, so a prefix would be one genre). */
export async function stsb(seed: number, trainRows: number, testRows: number): Promise<Split<PairRows>> {
  const read = async (name: string) => {
    const rows = await headedTsv(name, ["sentence1", "sentence2", "score"]);
    return {
      texts: rows.map((r) => r[0]),
      pairs: rows.map((r) => r[1]),
      targets: rows.map((r) => Number(r[2])),
    };
  };
  const train = await read("stsb_train.tsv");
  const test = await read("stsb_dev.tsv");
  const sample = (p: PairRows, n: number) => {
    const at = shuffledIndices(p.texts.length, seed).slice(0, n);
    return { texts: pick(p.texts, at), pairs: pick(p.pairs, at), targets: pick(p.targets, at) };
  };
  return {
    train: sample(train, trainRows),
    test: sample(test, testRows),
    corpus: [...train.texts, ...train.pairs],
  };
}

export async function conll(seed: number, trainRows: number, testRows: number): Promise<Split<TaggedRows>> {
  const train = parseConll(await readText("conll2003_eng.train.5k")).sentences;
  const testa = parseConll(await readText("conll2003_eng.testa")).sentences;
  const testPick = shuffledIndices(testa.length, seed).slice(0, testRows).sort((a, b) => a - b);
  const used = train.slice(0, trainRows);
  return {
    train: { tokens: used.map((s) => s.tokens), tags: used.map((s) => s.tags) },
    test: {
      tokens: pick(testa, testPick).map((s) => s.tokens),
      tags: pick(testa, testPick).map((s) => s.tags),
    },
    corpus: train.map((s) => s.tokens.join(" ")),
  };
}

/** SQuAD articles 0–7 train (capped to `trainRows` questions, seeded), 8–9 held out (`testRows`, seeded). */
export async function squad(seed: number, trainRows: number, testRows: number): Promise<Split<QaExample[]>> {
  const examples = parseSquadJson(await readText("squad_v1.1_dev_articles_0-9.json"));
  const train = examples.filter((e) => (e.source.article ?? 0) <= 7);
  const test = examples.filter((e) => (e.source.article ?? 0) >= 8);
  const sample = (items: QaExample[], n: number) =>
    pick(items, shuffledIndices(items.length, seed).slice(0, n).sort((a, b) => a - b));
  const contexts = [...new Set(train.map((e) => e.context))];
  return {
    train: sample(train, trainRows),
    test: sample(test, testRows),
    corpus: [...contexts, ...train.map((e) => e.question)],
  };
}

/** WikiText-2 validation paragraphs with its escapes undone (`@-@` → `-`), `<unk>` dropped, headings skipped. */
export async function wikitextParagraphs(): Promise<string[]> {
  return (await readText("wikitext2_valid.tokens")).split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !/^=.*=$/.test(line))
    .map((line) => line.replace(/ @(.)@ /g, "$1").replace(/<unk>/g, "").replace(/\s+/g, " ").trim());
}
