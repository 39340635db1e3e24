/**
 * CoNLL files as table items (conll_table.ts): the full CoNLL-2003 dev file reads as 3,250 sentence rows with
 * 51,362 tokens, agreeing sentence by sentence with the core parser (parseConll) and independent of stream
 * chunking; rows are JSON arrays, `line` is the sentence's first line; ragged columns, a missing tag column,
 * bad entity tags and non-UTF-8 bytes are problems with their line numbers that drop only their sentence; POS
 * tags are accepted when the file starts with one; an empty file is one fatal problem.
 */
import assert from "node:assert/strict";
import { conllItems } from "../../shared/data/conll_table.ts";
import { readLines } from "../../shared/data/lines.ts";
import type { TableItem } from "../../shared/data/table.ts";
import { parseConll } from "../../shared/core/tasks/conll.ts";

function streamOf(bytes: Uint8Array, chunkSize = bytes.length || 1): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

async function items(input: string | Uint8Array, chunkSize?: number): Promise<TableItem[]> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const out: TableItem[] = [];
  for await (const item of conllItems(readLines(streamOf(bytes, chunkSize), 1 << 20), 100_000)) {
    out.push(item);
  }
  return out;
}

const rowsOf = (list: TableItem[]) => list.flatMap((i) => (i.kind === "row" ? [i] : []));
const problemsOf = (list: TableItem[]) => list.flatMap((i) => (i.kind === "problem" ? [i] : []));

Deno.test("CoNLL-2003 testa: 3,250 sentences, 51,362 tokens, same as parseConll, chunking-independent", async () => {
  const bytes = Deno.readFileSync("../shared/data/conll2003_eng.testa");
  const list = await items(bytes, 4093);
  assert.deepEqual(list[0], { kind: "columns", columns: ["tokens", "tags"] });
  assert.deepEqual(problemsOf(list), []);
  const rows = rowsOf(list);
  assert.equal(rows.length, 3250);
  const parsed = rows.map((r) => ({ tokens: JSON.parse(r.row.tokens), tags: JSON.parse(r.row.tags) }));
  assert.equal(parsed.reduce((n, r) => n + r.tokens.length, 0), 51362);
  const reference = parseConll(new TextDecoder().decode(bytes)).sentences;
  assert.deepEqual(rows.map((r) => r.line), reference.map((s) => s.line));
  assert.deepEqual(parsed, reference.map((s) => ({ tokens: s.tokens, tags: s.tags })));
  // The first sentence starts on line 3, after -DOCSTART- and a blank line.
  assert.equal(rows[0].line, 3);
  assert.equal(JSON.parse(rows[0].row.tokens)[0], "CRICKET");
  assert.equal(JSON.parse(rows[0].row.tags)[2], "I-ORG");
  const whole = rowsOf(await items(bytes));
  assert.deepEqual(whole, rows);
});

Deno.test("rows are JSON array strings, line = the sentence's first line, CRLF and tabs accepted", async () => {
  const list = await items('EU NNP B-ORG\r\nrejects VBZ O\r\n\r\n\r\n"quoted"\tX\tO\n');
  assert.deepEqual(rowsOf(list), [
    { kind: "row", line: 1, row: { tokens: '["EU","rejects"]', tags: '["B-ORG","O"]' } },
    { kind: "row", line: 5, row: { tokens: '["\\"quoted\\""]', tags: '["O"]' } },
  ]);
});

Deno.test("problems name their line and drop only their sentence", async () => {
  const text = [
    "EU NNP I-ORG", // 1
    "rejects VBZ O", // 2
    "", // 3
    "German JJ I-MISC", // 4
    "call NN", // 5: 2 columns, line 1 has 3
    "", // 6
    "Peter NNP B_PER", // 7: bad tag
    "", // 8
    "lonely", // 9: no tag column
    "", // 10
    "Blackburn NNP I-ORG", // 11
    "",
  ].join("\n");
  const list = await items(text);
  assert.deepEqual(rowsOf(list).map((r) => r.line), [1, 11]);
  const problems = problemsOf(list);
  assert.deepEqual(problems.map((p) => p.problem.line), [5, 7, 9]);
  assert.match(problems[0].problem.reason, /has 2 columns but line 1 has 3/);
  assert.match(problems[1].problem.reason, /tag 'B_PER' is not O or B-\/I-\/E-\/S-/);
  assert.match(problems[2].problem.reason, /needs a token and a tag column/);
  assert.ok(problems.every((p) => p.kind === "problem" && !p.fatal));
});

Deno.test("a line that is not UTF-8 is a problem on its line", async () => {
  const good = new TextEncoder().encode("EU I-ORG\n\nbad ");
  const bytes = new Uint8Array([...good, 0xff, 0x4f, 0x0a, ...new TextEncoder().encode("\nok O\n")]);
  const list = await items(bytes);
  assert.deepEqual(rowsOf(list).map((r) => r.line), [1, 5]);
  assert.deepEqual(problemsOf(list).map((p) => [p.problem.line, p.problem.reason]), [
    [3, "line is not valid UTF-8"],
  ]);
});

Deno.test("POS-tagged files take any tag; an empty file is one fatal problem", async () => {
  const pos = rowsOf(await items("The DT\ncat NN\nsat VBD\n\n"));
  assert.deepEqual(pos.map((r) => r.row.tags), ['["DT","NN","VBD"]']);
  for (const text of ["", "\n\n-DOCSTART- -X- O\n\n"]) {
    const list = await items(text);
    assert.equal(rowsOf(list).length, 0);
    const problems = problemsOf(list);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].fatal, true);
    assert.match(problems[0].problem.reason, /no sentences/);
  }
});
