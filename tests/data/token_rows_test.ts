/**
 * Token-classification rows (token_classification_rows.ts): JSON array values (JSONL, CoNLL rows) and
 * whitespace lists (CSV/TSV cells) parse to tokens + tags; each problem a user can make — a missing column,
 * a value that is not a list of strings, no tokens, a token/tag count mismatch, a tag that is not an entity
 * tag — comes back as a readable reason; POS-style tags pass with plainTags. prepareTokenData detects the
 * scheme (or takes task_options.tag_scheme), builds IOB2 labels "O" first (plain tag sets as they are) and
 * reports bad rows, unseen validation types and label-less data as 400 invalid_file with line numbers.
 */
import assert from "node:assert/strict";
import { parseTokenRow, prepareTokenData } from "../../shared/data/tasks/token_classification_rows.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

const COLUMNS = { tokens: "tokens", tags: "tags" };
const problem = (row: Record<string, string>, options = {}) => {
  const parsed = parseTokenRow(row, COLUMNS, options);
  assert.ok("problem" in parsed, `expected a problem for ${JSON.stringify(row)}`);
  return parsed.problem;
};

Deno.test("JSON arrays and whitespace lists both parse", () => {
  assert.deepEqual(
    parseTokenRow({ tokens: '["EU","rejects","New York"]', tags: '["B-ORG","O","B-LOC"]' }, COLUMNS),
    { tokens: ["EU", "rejects", "New York"], tags: ["B-ORG", "O", "B-LOC"] },
  );
  assert.deepEqual(
    parseTokenRow({ words: " EU  rejects\tGerman ", labels: "S-ORG O S-MISC", other: "x" }, {
      tokens: "words",
      tags: "labels",
    }),
    { tokens: ["EU", "rejects", "German"], tags: ["S-ORG", "O", "S-MISC"] },
  );
  // A whitespace list that starts with a bracket but is not JSON.
  assert.deepEqual(parseTokenRow({ tokens: "[ citation ]", tags: "O O O" }, COLUMNS), {
    tokens: ["[", "citation", "]"],
    tags: ["O", "O", "O"],
  });
});

Deno.test("each row problem has a reason that names what to fix", () => {
  assert.equal(problem({ tokens: '["a"]' }), "missing column 'tags'");
  assert.match(problem({ tokens: '{"a": 1}', tags: "O" }), /column 'tokens' is not a list/);
  assert.match(problem({ tokens: '["a", 3]', tags: "O O" }), /column 'tokens' item 1 is 3, not a string/);
  assert.match(problem({ tokens: '["a"]', tags: "[0]" }), /integer tag ids need label names/);
  assert.equal(problem({ tokens: "  ", tags: "" }), "column 'tokens' has no tokens");
  assert.equal(problem({ tokens: "[]", tags: "[]" }), "column 'tokens' has no tokens");
  assert.equal(problem({ tokens: '["a", ""]', tags: "O O" }), "token 1 is empty");
  assert.equal(problem({ tokens: "EU rejects", tags: "B-ORG" }), "2 tokens but 1 tags");
  assert.match(problem({ tokens: "EU rejects", tags: "B-ORG X" }), /tag 'X' at position 1 is not O or B-/);
  assert.match(problem({ tokens: "Peter", tags: "B_PER" }), /tag 'B_PER' at position 0/);
  assert.match(problem({ tokens: '["a"]', tags: '[""]' }), /tag at position 0 is empty/);
});

Deno.test("plainTags accepts POS-style tags", () => {
  assert.deepEqual(parseTokenRow({ tokens: "The cat", tags: "DT NN" }, COLUMNS, { plainTags: true }), {
    tokens: ["The", "cat"],
    tags: ["DT", "NN"],
  });
  assert.match(problem({ tokens: "The cat", tags: "DT NN" }), /tag 'DT' at position 0/);
});

const rowsOf = (list: { tokens: string[]; tags: string[] }[], firstLine = 1) =>
  list.map((r, i) => ({
    line: firstLine + i,
    row: { tokens: JSON.stringify(r.tokens), tags: r.tags.join(" ") },
  }));
const invalid = (pattern: RegExp) => (e: unknown) =>
  e instanceof ApiError && e.status === 400 && e.code === "invalid_file" && pattern.test(e.message);

Deno.test("prepareTokenData: IOB1 detected, IOB2 labels with O first, validation kept in its scheme", () => {
  const train = rowsOf([
    { tokens: ["EU", "rejects", "German"], tags: ["I-ORG", "O", "I-MISC"] },
    { tokens: ["Peter", "Blackburn"], tags: ["I-PER", "I-PER"] },
  ]);
  const validation = rowsOf([{ tokens: ["Bonn", "EU"], tags: ["O", "I-ORG"] }], 10);
  const data = prepareTokenData(train, validation, COLUMNS, undefined);
  assert.equal(data.scheme, "IOB1");
  assert.deepEqual(data.labels, ["O", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]);
  assert.deepEqual(data.train.tags[0], ["I-ORG", "O", "I-MISC"]);
  assert.deepEqual(data.validation, { tokens: [["Bonn", "EU"]], tags: [["O", "I-ORG"]] });
  assert.equal(prepareTokenData(train, null, COLUMNS, "iob2").scheme, "IOB2");
  const bioes = rowsOf([{ tokens: ["New", "York", "is"], tags: ["B-LOC", "E-LOC", "O"] }]);
  assert.equal(prepareTokenData(bioes, null, COLUMNS, "auto").scheme, "BIOES");
});

Deno.test("prepareTokenData: POS tags are plain labels; problems name their lines", () => {
  const pos = prepareTokenData(
    rowsOf([{ tokens: ["The", "cat"], tags: ["DT", "NN"] }]),
    null,
    COLUMNS,
    undefined,
  );
  assert.equal(pos.scheme, "plain");
  assert.deepEqual(pos.labels, ["DT", "NN"]);
  const train = rowsOf([
    { tokens: ["EU", "rejects"], tags: ["B-ORG", "O"] },
    { tokens: ["Bonn"], tags: ["LOC"] },
  ]);
  assert.throws(
    () => prepareTokenData(train, null, COLUMNS, undefined),
    invalid(/line 2: tag 'LOC' at position 0/),
  );
  const ok = rowsOf([{ tokens: ["EU", "rejects"], tags: ["B-ORG", "O"] }]);
  const unseen = rowsOf([{ tokens: ["Bonn"], tags: ["B-LOC"] }], 7);
  assert.throws(
    () => prepareTokenData(ok, unseen, COLUMNS, undefined),
    invalid(/line 7: validation tag 'B-LOC': entity type 'LOC' does not occur in the training data/),
  );
  assert.throws(
    () => prepareTokenData(rowsOf([{ tokens: ["Bonn"], tags: ["S-LOC"] }]), null, COLUMNS, "iob2"),
    invalid(/line 1: tag 'S-LOC' at position 0 is not a iob2 tag/),
  );
  assert.throws(
    () => prepareTokenData(rowsOf([{ tokens: ["a", "b"], tags: ["O", "O"] }]), null, COLUMNS, undefined),
    invalid(/no entity tags/),
  );
});
