// Entity-level metrics with seqeval semantics: decoding edge cases, strict schemes and averages, hand-computed.
import assert from "node:assert/strict";
import {
  autoDetectScheme,
  getEntities,
  getStrictEntities,
  seqevalReport,
} from "../../shared/core/metrics/seqeval.ts";

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
const spans = (tags: string[]) => getEntities([tags]).map((e) => `${e.type}:${e.start}-${e.end}`);

Deno.test("seqeval's docstring example: MISC boundary wrong, PER right", () => {
  const gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  const pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  const r = seqevalReport(gold, pred);
  assert.deepEqual(r.types, ["MISC", "PER"]);
  close(r.micro.precision, 0.5), close(r.micro.recall, 0.5), close(r.micro.f1, 0.5);
  assert.deepEqual(r.perType.MISC, { precision: 0, recall: 0, f1: 0, support: 1 });
  assert.deepEqual(r.perType.PER, { precision: 1, recall: 1, f1: 1, support: 1 });
  close(r.accuracy, 8 / 10);
});

Deno.test("default decoding: I- after O starts an entity, type changes split, trailing entity closes", () => {
  assert.deepEqual(spans(["I-PER", "I-PER", "O"]), ["PER:0-2"]);
  assert.deepEqual(spans(["O", "I-PER", "B-PER"]), ["PER:1-2", "PER:2-3"]);
  assert.deepEqual(spans(["B-PER", "I-PER", "I-LOC"]), ["PER:0-2", "LOC:2-3"]);
  assert.deepEqual(spans(["B-PER", "I-LOC", "I-LOC"]), ["PER:0-1", "LOC:1-3"]);
  assert.deepEqual(spans(["O", "B-LOC", "I-LOC"]), ["LOC:1-3"]);
  assert.deepEqual(spans(["I-ORG", "I-ORG", "B-ORG", "O"]), ["ORG:0-2", "ORG:2-3"]); // IOB1
  assert.deepEqual(spans(["B", "I", "O"]), ["_:0-2"]); // no type → "_"
  assert.deepEqual(spans([]), []);
  assert.deepEqual(spans(["O", "O"]), []);
});

Deno.test("default decoding of BIOES: E- and S- close, E- after E- starts anew", () => {
  assert.deepEqual(spans(["B-PER", "E-PER", "S-LOC", "B-ORG", "I-ORG", "E-ORG", "E-ORG"]), [
    "PER:0-2",
    "LOC:2-3",
    "ORG:3-6",
    "ORG:6-7",
  ]);
  assert.deepEqual(spans(["E-PER", "I-PER"]), ["PER:0-1", "PER:1-2"]);
  assert.deepEqual(spans(["S-PER", "S-PER"]), ["PER:0-1", "PER:1-2"]);
});

Deno.test("entities never cross sentences and carry their sentence index", () => {
  assert.deepEqual(getEntities([["B-PER"], ["I-PER", "I-PER"]]), [
    { type: "PER", sentence: 0, start: 0, end: 1 },
    { type: "PER", sentence: 1, start: 0, end: 2 },
  ]);
});

Deno.test("averages: per type over the union of types, macro, weighted, micro", () => {
  const gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"]];
  const pred = [["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O"]];
  const r = seqevalReport(gold, pred);
  assert.deepEqual(r.types, ["LOC", "ORG", "PER"]);
  close(r.perType.LOC.precision, 0.5), close(r.perType.LOC.recall, 1), close(r.perType.LOC.f1, 2 / 3);
  assert.deepEqual(r.perType.ORG, { precision: 0, recall: 0, f1: 0, support: 1 });
  close(r.micro.f1, 2 / 3); // 2 correct of 3 predicted and 3 gold
  close(r.macro.precision, 0.5), close(r.macro.recall, 2 / 3), close(r.macro.f1, 5 / 9);
  close(r.weighted.f1, 5 / 9); // every support is 1
  const onlyPredicted = seqevalReport([["B-PER", "O"]], [["B-MISC", "O"]]);
  assert.deepEqual(onlyPredicted.types, ["MISC", "PER"]);
  assert.equal(onlyPredicted.perType.MISC.support, 0);
  assert.equal(onlyPredicted.macro.f1, 0);
  assert.equal(onlyPredicted.weighted.f1, 0);
});

Deno.test("empty input and no entities give zeros; shape mismatches throw", () => {
  const empty = seqevalReport([], []);
  assert.deepEqual([empty.micro.f1, empty.macro.f1, empty.types.length], [0, 0, 0]);
  const allO = seqevalReport([["O", "O"]], [["O", "O"]]);
  assert.equal(allO.micro.f1, 0);
  assert.equal(allO.accuracy, 1);
  assert.throws(() => seqevalReport([["O"]], [["O", "O"]]), /sentence 0/);
  assert.throws(() => seqevalReport([["O"]], []), RangeError);
});

Deno.test("strict IOB2: a chunk must start with B-", () => {
  assert.deepEqual(getStrictEntities(["I-PER", "I-PER", "O"], "IOB2"), []);
  assert.deepEqual(getStrictEntities(["B-PER", "I-LOC", "I-LOC"], "IOB2"), [
    { type: "PER", sentence: 0, start: 0, end: 1 },
  ]);
  const gold = [["B-PER", "I-PER", "O"]];
  const pred = [["I-PER", "I-PER", "O"]];
  assert.equal(seqevalReport(gold, pred).micro.f1, 1); // default mode accepts the I- start
  assert.equal(seqevalReport(gold, pred, { mode: "strict" }).micro.f1, 0);
  assert.throws(() => getStrictEntities(["E-PER"], "IOB2"), /Invalid token/);
});

Deno.test("strict IOBES: a chunk must end with E- or be S-", () => {
  assert.deepEqual(getStrictEntities(["B-PER", "I-PER", "O"], "IOBES"), []);
  assert.deepEqual(
    getStrictEntities(["B-PER", "E-PER", "S-LOC"], "IOBES").map((e) => [e.type, e.start, e.end]),
    [
      ["PER", 0, 2],
      ["LOC", 2, 3],
    ],
  );
  const gold = [["B-PER", "E-PER", "O"]];
  const pred = [["B-PER", "I-PER", "O"]];
  assert.equal(seqevalReport(gold, pred).micro.f1, 1);
  assert.equal(seqevalReport(gold, pred, { mode: "strict" }).micro.f1, 0);
});

Deno.test("strict IOB1: B- only separates same-type chunks", () => {
  assert.deepEqual(getStrictEntities(["I-ORG", "I-ORG", "B-ORG", "O"], "IOB1").map((e) => [e.start, e.end]), [
    [0, 2],
    [2, 3],
  ]);
});

Deno.test("auto-detect picks the scheme from the gold prefixes", () => {
  assert.equal(autoDetectScheme([["B-PER", "I-PER", "O"]]), "IOB2");
  assert.equal(autoDetectScheme([["S-PER", "B-LOC", "E-LOC", "O"]]), "IOBES");
  assert.equal(autoDetectScheme([["I-PER", "E-PER", "O"]]), "IOE2");
  assert.throws(() => autoDetectScheme([["O", "O"]]), /not supported/);
  assert.throws(() => autoDetectScheme([["PER"]]), /not supported/);
});
