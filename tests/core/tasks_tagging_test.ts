// Tag schemes: detection, IOB1/IOB2/BIOES conversion, validation with positions and sub-token alignment.
import assert from "node:assert/strict";
import {
  alignTagsToSubTokens,
  convertTags,
  detectScheme,
  firstSubTokenValues,
  labelsForScheme,
  parseTag,
  spansToTags,
  tagsToSpans,
  validateTags,
} from "../../shared/core/tasks/tagging.ts";
import { parseConll } from "../../shared/core/tasks/conll.ts";

const testa = () =>
  parseConll(Deno.readTextFileSync(new URL("../../../shared/data/conll2003_eng.testa", import.meta.url)))
    .sentences;

Deno.test("parseTag splits prefix and type; other strings are plain tags", () => {
  assert.deepEqual(parseTag("B-PER"), { prefix: "B", type: "PER" });
  assert.deepEqual(parseTag("S-MISC-X"), { prefix: "S", type: "MISC-X" });
  assert.deepEqual(parseTag("O"), { prefix: "O" });
  assert.equal(parseTag("NNP"), null);
  assert.equal(parseTag("B-"), null);
});

Deno.test("scheme detection", () => {
  assert.equal(detectScheme([["B-PER", "I-PER", "O", "B-LOC"]]), "IOB2");
  assert.equal(detectScheme([["I-PER", "I-PER", "O"]]), "IOB1");
  assert.equal(detectScheme([["B-PER", "I-LOC"]]), "IOB1"); // I-LOC does not continue a LOC
  assert.equal(detectScheme([["S-PER", "O"]]), "BIOES");
  assert.equal(detectScheme([["NNP", "VBZ"]]), "plain");
  assert.equal(detectScheme([["O", "O"]]), "IOB2");
  assert.equal(detectScheme(testa().map((s) => s.tags)), "IOB1"); // CoNLL-2003 is IOB1
});

Deno.test("conversions between IOB1, IOB2 and BIOES", () => {
  assert.deepEqual(convertTags(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB2"), [
    "B-PER",
    "I-PER",
    "B-PER",
    "O",
    "B-LOC",
  ]);
  assert.deepEqual(convertTags(["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC"], "BIOES"), [
    "B-PER",
    "E-PER",
    "S-PER",
    "O",
    "B-LOC",
    "I-LOC",
    "E-LOC",
  ]);
  assert.deepEqual(convertTags(["B-PER", "E-PER", "S-PER", "O", "S-LOC", "S-PER"], "IOB1"), [
    "I-PER",
    "I-PER",
    "B-PER",
    "O",
    "I-LOC",
    "I-PER", // a PER after a LOC needs no B- in IOB1
  ]);
  assert.throws(() => convertTags(["NNP"], "IOB2"), /not an entity tag/);
  assert.throws(() => spansToTags([{ type: "X", start: 1, end: 3 }], 2, "IOB2"), RangeError);
  assert.deepEqual(tagsToSpans(["B-PER", "I-PER", "O"]), [{ type: "PER", start: 0, end: 2 }]);
});

Deno.test("CoNLL-2003 testa: 5,942 entities, round trip IOB1 → IOB2 → BIOES → IOB1 is exact", () => {
  const sentences = testa();
  const iob2 = sentences.map((s) => convertTags(s.tags, "IOB2"));
  const byType: Record<string, number> = {};
  for (const tags of iob2) {
    for (const t of tags) if (t.startsWith("B-")) byType[t.slice(2)] = (byType[t.slice(2)] ?? 0) + 1;
  }
  // Published CoNLL-2003 dev statistics: PER 1,842, LOC 1,837, ORG 1,341, MISC 922.
  assert.deepEqual(byType, { PER: 1842, LOC: 1837, ORG: 1341, MISC: 922 });
  assert.deepEqual(validateTags(iob2, "IOB2"), []);
  const bioes = iob2.map((t) => convertTags(t, "BIOES"));
  assert.deepEqual(validateTags(bioes, "BIOES"), []);
  const back = bioes.map((t) => convertTags(t, "IOB1"));
  assert.deepEqual(back, sentences.map((s) => s.tags));
});

Deno.test("validation reports unknown, malformed and invalid transitions with positions", () => {
  const issues = validateTags([["O", "I-PER"], ["B-PER", "E-PER", "X-LOC", "B-ORG"]], "IOB2", {
    labels: ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"],
  });
  assert.deepEqual(issues.map((i) => [i.sentence, i.position, i.kind]), [
    [0, 1, "sequence"],
    [1, 1, "unknown"],
    [1, 1, "malformed"],
    [1, 2, "unknown"],
    [1, 2, "malformed"],
  ]);
  const bioes = validateTags([["B-PER", "O", "I-LOC", "E-LOC", "S-ORG"]], "BIOES");
  assert.deepEqual(bioes.map((i) => [i.position, i.tag]), [[0, "B-PER"], [2, "I-LOC"]]);
  const iob1 = validateTags([["O", "B-PER", "I-PER", "B-PER"]], "IOB1");
  assert.deepEqual(iob1.map((i) => i.position), [1]);
  assert.deepEqual(validateTags([["NN", "XX"]], "plain", { labels: ["NN"] }).map((i) => i.position), [1]);
  assert.equal(validateTags([["I-X", "I-Y", "I-Z"]], "IOB2", { maxIssues: 2 }).length, 2);
});

Deno.test("labels for a scheme", () => {
  assert.deepEqual(labelsForScheme(["PER", "LOC", "PER"], "IOB2"), ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]);
  assert.deepEqual(labelsForScheme(["X"], "BIOES"), ["O", "B-X", "I-X", "E-X", "S-X"]);
});

Deno.test("sub-token alignment as run_ner.py: first sub-token, or all with B- → I-", () => {
  const wordIds = [null, 0, 0, 1, 2, 2, null];
  const tags = ["B-PER", "O", "B-LOC"];
  assert.deepEqual(alignTagsToSubTokens(wordIds, tags), [null, "B-PER", null, "O", "B-LOC", null, null]);
  assert.deepEqual(alignTagsToSubTokens(wordIds, tags, { labelAllSubTokens: true }), [
    null,
    "B-PER",
    "I-PER",
    "O",
    "B-LOC",
    "I-LOC",
    null,
  ]);
  assert.throws(() => alignTagsToSubTokens([0, 3], tags), /out of range/);
  assert.deepEqual(firstSubTokenValues(wordIds, ["c", "a", "b", "c", "d", "e", "s"], 4), [
    "a",
    "c",
    "d",
    undefined,
  ]);
});
