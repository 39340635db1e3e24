/**
 * Dataset parsing (shared/data): RFC 4180 CSV (quotes, "" escapes, embedded newlines, CRLF, BOM), plain-tab
 * TSV on the real GLUE files (STS-B has bare `"` that must not be treated as quoting), JSONL stringification,
 * chunk-boundary independence, the strict reader's first-error ApiError, stats, format detection and the
 * column check.
 */
import assert from "node:assert/strict";
import {
  detectFormat,
  inspectTable,
  readTable,
  scanTable,
  type TableRow,
  validateColumnsForTask,
} from "../../shared/data/mod.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { DatasetFormat } from "../../shared/schemas/resources.ts";

const DATA = new URL("../../../shared/data/", import.meta.url);
const encode = (text: string) => new TextEncoder().encode(text);

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

async function rows(
  text: string | Uint8Array,
  format: DatasetFormat,
  chunkSize?: number,
): Promise<TableRow[]> {
  const out: TableRow[] = [];
  const bytes = typeof text === "string" ? encode(text) : text;
  for await (const row of readTable(streamOf(bytes, chunkSize), format)) out.push(row);
  return out;
}

Deno.test("CSV: quoted commas, escaped quotes, embedded CRLF/LF newlines, BOM, any chunking", async () => {
  const csv = '\uFEFFtext,label\r\n"a, b",1\r\n"say ""hi""",0\r\n"multi\r\nline\nfield",1\r\n\r\nlast,0';
  const expected = [
    { line: 2, row: { text: "a, b", label: "1" } },
    { line: 3, row: { text: 'say "hi"', label: "0" } },
    { line: 4, row: { text: "multi\nline\nfield", label: "1" } },
    { line: 8, row: { text: "last", label: "0" } },
  ];
  for (const chunk of [1, 2, 3, 7, 1000]) {
    assert.deepEqual(await rows(csv, "csv", chunk), expected, `chunk ${chunk}`);
  }
});

Deno.test("TSV: STS-B and SST-2 split on tabs only, row counts and columns match the files", async () => {
  for (const [file, columns] of [["stsb_dev.tsv", 10], ["sst2_dev.tsv", 2]] as const) {
    const bytes = await Deno.readFile(new URL(file, DATA));
    const lines = new TextDecoder().decode(bytes).split("\n").filter((l) => l !== "");
    const parsed = await rows(bytes, "tsv", 4096);
    assert.equal(parsed.length, lines.length - 1);
    assert.equal(Object.keys(parsed[0].row).length, columns);
    const quoted = parsed.find(({ row }) => Object.values(row).some((v) => v.includes('"')));
    if (file === "stsb_dev.tsv") assert.ok(quoted, "STS-B has sentences with bare quotes");
    const last = lines[lines.length - 1].split("\t");
    assert.deepEqual(Object.values(parsed[parsed.length - 1].row), last);
  }
});

Deno.test("JSONL: values are stringified, blank lines skipped, line numbers kept", async () => {
  const jsonl =
    '{"text":"a","label":1,"meta":{"x":[1]},"flag":true,"none":null}\n\n{"text":"b","label":0.5,"meta":"m","flag":false,"none":"n"}\n';
  assert.deepEqual(await rows(jsonl, "jsonl", 5), [
    { line: 1, row: { text: "a", label: "1", meta: '{"x":[1]}', flag: "true", none: "" } },
    { line: 3, row: { text: "b", label: "0.5", meta: "m", flag: "false", none: "n" } },
  ]);
});

Deno.test("readTable stops with invalid_file at the first problem, naming its line", async () => {
  await assert.rejects(() => rows('{"text":"a"}\n[1,2]\n', "jsonl"), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, "invalid_file");
    assert.deepEqual(error.details, [{ line: 2, reason: "each line must be a JSON object" }]);
    return true;
  });
});

Deno.test("JSONL columns named like Object.prototype members are plain columns", async () => {
  for (const column of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
    const head = JSON.stringify({ text: "x", label: "a", [column]: 1 });
    const parsed = await rows(
      `${head}\n${JSON.stringify({ text: "y", label: "b", [column]: 2 })}\n`,
      "jsonl",
    );
    assert.deepEqual(parsed.map((r) => r.row[column]), ["1", "2"], column);
    await assert.rejects(() => rows(`${head}\n{"text":"y","label":"b"}\n`, "jsonl"), (error) => {
      assert.ok(error instanceof ApiError, column);
      assert.equal(error.code, "invalid_file");
      assert.deepEqual(error.details, [{ line: 2, column, reason: `missing field "${column}"` }]);
      return true;
    });
  }
});

Deno.test("inspectTable lists at most 20 problems and counts the rest", async () => {
  const text = "a,b\n" + "only-one\n".repeat(30) + "1,2\n";
  await assert.rejects(() => inspectTable(streamOf(encode(text)), "csv"), (error) => {
    assert.ok(error instanceof ApiError);
    const details = error.details as { line: number }[];
    assert.equal(details.length, 20);
    assert.deepEqual(details.map((d) => d.line), Array.from({ length: 20 }, (_, i) => i + 2));
    assert.match(error.message, /and 29 more problems/);
    return true;
  });
});

Deno.test("a quote opened and never closed stops at the field limit instead of buffering the file", async () => {
  const text = 'text,label\n"open,1\n' + "x,1\n".repeat(100);
  const items = [];
  for await (const item of scanTable(streamOf(encode(text)), "csv", { maxFieldChars: 50 })) items.push(item);
  const last = items[items.length - 1];
  assert.equal(last.kind, "problem");
  assert.equal(last.kind === "problem" && last.problem.line, 2);
  assert.equal(last.kind === "problem" && last.fatal, true);
});

Deno.test("stats: label counts for low-cardinality columns, exact length percentiles for text", async () => {
  const texts = Array.from({ length: 100 }, (_, i) => "w".repeat(i + 1));
  const csv = "text,label\n" + texts.map((t, i) => `${t},${i % 3 === 0 ? "a" : "b"}`).join("\n") + "\n";
  const summary = await inspectTable(streamOf(encode(csv)), "csv");
  assert.equal(summary.rows, 100);
  assert.deepEqual(summary.stats.label.counts, { b: 66, a: 34 });
  assert.equal(summary.stats.label.kind, "label");
  assert.equal(summary.stats.text.kind, "text");
  assert.deepEqual(summary.stats.text.chars, { p50: 50, p90: 90, p99: 99, max: 100 });
});

Deno.test("format detection: explicit, then extension, then content", () => {
  const head = encode("a\tb\n1\t2\n");
  assert.equal(detectFormat("csv", "x.tsv", head), "csv");
  assert.equal(detectFormat(null, "x.TSV", encode("a,b")), "tsv");
  assert.equal(detectFormat(null, "x.ndjson", head), "jsonl");
  assert.equal(detectFormat(null, "upload", head), "tsv");
  assert.equal(detectFormat(null, "upload", encode('\uFEFF  {"a":1}\n')), "jsonl");
  assert.equal(detectFormat(null, null, encode("a,b\tc,d\n")), "csv");
});

Deno.test("validateColumnsForTask names what is missing", () => {
  validateColumnsForTask(["sentence", "label"], { text: "sentence", label: "label" });
  assert.throws(
    () => validateColumnsForTask(["sentence", "label"], { text: "text", label: "y" }, "ds_1"),
    (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 400);
      assert.deepEqual((error.details as { missing: string[] }).missing, ["text", "y"]);
      assert.match(error.message, /dataset 'ds_1'/);
      return true;
    },
  );
});
