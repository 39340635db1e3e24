// CoNLL and {tokens, tags} JSONL parsing on the real CoNLL-2003 testa file, round trips, and 400s with lines.
import assert from "node:assert/strict";
import { ApiError } from "../../shared/schemas/errors.ts";
import {
  parseConll,
  parseTokenTagJsonl,
  writeConll,
  writeTokenTagJsonl,
} from "../../shared/core/tasks/conll.ts";

const testaText = Deno.readTextFileSync(new URL("../../../shared/data/conll2003_eng.testa", import.meta.url));

/** Asserts fn throws a 400 invalid_file ApiError and returns its `details`. */
function invalidFile(fn: () => unknown): { line: number; column?: number; reason: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.code, "invalid_file");
    return e.details as { line: number; reason: string }[];
  }
  assert.fail("expected an invalid_file error");
}

Deno.test("testa: 3,250 sentences, 51,362 tokens, 216 documents (README counts)", () => {
  const doc = parseConll(testaText);
  assert.equal(doc.sentences.length, 3250);
  assert.equal(doc.tokenCount, 51362);
  assert.equal(doc.documents, 216);
  const first = doc.sentences[0];
  assert.deepEqual(first.tokens.slice(0, 3), ["CRICKET", "-", "LEICESTERSHIRE"]);
  assert.deepEqual(first.tags.slice(0, 3), ["O", "O", "I-ORG"]);
  assert.equal(first.line, 3);
  assert.equal(first.docStart, true);
  assert.equal(doc.sentences[1].docStart, undefined);
});

Deno.test("every sentence's line number points at its tokens", () => {
  const rawLines = testaText.split("\n");
  for (const s of parseConll(testaText).sentences) {
    s.tokens.forEach((token, i) => assert.equal(rawLines[s.line - 1 + i].split(" ")[0], token));
    assert.equal(rawLines[s.line - 1 + s.tokens.length], ""); // a blank line ends each sentence
  }
});

Deno.test("column choice: the POS column as tags", () => {
  const doc = parseConll(testaText, { tagColumn: 1 });
  assert.deepEqual(doc.sentences[0].tags.slice(0, 3), ["NNP", ":", "NNP"]);
  assert.deepEqual(parseConll("x y z\n", { tokenColumn: 1, tagColumn: 0 }).sentences[0], {
    tokens: ["y"],
    tags: ["x"],
    line: 1,
  });
});

Deno.test("writeConll round trip reproduces testa byte for byte; CRLF reads the same", () => {
  const doc = parseConll(testaText, { keepColumns: true });
  assert.equal(writeConll(doc.sentences), testaText);
  const twoColumn = writeConll(parseConll(testaText).sentences);
  assert.deepEqual(parseConll(twoColumn).sentences.map((s) => s.tags), doc.sentences.map((s) => s.tags));
  assert.ok(twoColumn.startsWith("-DOCSTART- O\n\nCRICKET O\n"));
  const head = testaText.slice(0, testaText.indexOf("\n\n", 2000) + 2); // whole sentences only
  const crlf = parseConll(head.replaceAll("\n", "\r\n"));
  assert.ok(crlf.sentences.length > 3);
  assert.deepEqual(crlf.sentences, parseConll(head).sentences);
});

Deno.test("malformed CoNLL answers 400 with line numbers", () => {
  const ragged = invalidFile(() => parseConll("EU NNP B-ORG\nrejects VBZ\n\nGerman JJ B-MISC\nx\n"));
  assert.deepEqual(ragged.map((d) => d.line), [2, 5]);
  assert.match(ragged[0].reason, /2 columns but line 1 has 3/);
  const oneColumn = invalidFile(() => parseConll("EU\nrejects\n"));
  assert.equal(oneColumn[0].line, 1);
  const shortTag = invalidFile(() => parseConll("EU B-ORG\n", { tagColumn: 3 }));
  assert.match(shortTag[0].reason, /at least 4 columns/);
  assert.equal(invalidFile(() => parseConll("\n-DOCSTART- -X- O\n\n"))[0].reason, "no sentences found");
  const many = "a b\n" + "x\n".repeat(30);
  const e = (() => {
    try {
      parseConll(many, { maxProblems: 5 });
    } catch (err) {
      return err as ApiError;
    }
  })()!;
  assert.equal((e.details as unknown[]).length, 5);
  assert.match(e.message, /and 27 more/);
});

Deno.test("JSONL {tokens, tags}: strings, integer ids with names, round trip", () => {
  const text = '{"tokens":["EU","rejects"],"tags":["B-ORG","O"]}\n\n{"tokens":["Peter"],"tags":["B-PER"]}\n';
  const rows = parseTokenTagJsonl(text);
  assert.deepEqual(rows, [
    { tokens: ["EU", "rejects"], tags: ["B-ORG", "O"], line: 1 },
    { tokens: ["Peter"], tags: ["B-PER"], line: 3 },
  ]);
  assert.deepEqual(parseTokenTagJsonl(writeTokenTagJsonl(rows)).map((r) => r.tags), [["B-ORG", "O"], [
    "B-PER",
  ]]);
  const ids = parseTokenTagJsonl('{"words":["a","b"],"ner_tags":[0,1]}', {
    tokensField: "words",
    tagsField: "ner_tags",
    labelNames: ["O", "B-PER"],
  });
  assert.deepEqual(ids[0].tags, ["O", "B-PER"]);
});

Deno.test("bad JSONL rows answer 400 naming each line", () => {
  const text = [
    '{"tokens":["a","b"],"tags":["O"]}',
    "{not json",
    '{"tokens":["a"]}',
    '{"tokens":["a"],"tags":[3]}',
    '{"tokens":[],"tags":[]}',
    "[1]",
    '{"tokens":["a"],"tags":["O"]}',
  ].join("\n");
  const details = invalidFile(() => parseTokenTagJsonl(text));
  assert.deepEqual(details.map((d) => d.line), [1, 2, 3, 4, 5, 6]);
  assert.match(details[0].reason, /2 tokens but 1 tags/);
  assert.match(details[3].reason, /integer tags need label names/);
  const outOfRange = invalidFile(() =>
    parseTokenTagJsonl('{"tokens":["a"],"tags":[3]}', { labelNames: ["O"] })
  );
  assert.match(outOfRange[0].reason, /tag id 3/);
  assert.equal(invalidFile(() => parseTokenTagJsonl("\n\n"))[0].reason, "no rows found");
});
