/**
 * Dataset upload over HTTP against a real embedded platform: the happy paths (SST-2 TSV, CSV with quoted
 * newlines, JSONL), stats computed from the file, tenant isolation, delete, and every bad input answering
 * 4xx with line numbers while leaving no blob and no record behind.
 */
import assert from "node:assert/strict";
import { errorOf, fileForm, type Harness, harness, KEY_B, uploadDataset } from "./helpers.ts";

const SST2_DEV = new URL("../../../shared/data/sst2_dev.tsv", import.meta.url);

async function assertNothingStored(h: Harness) {
  assert.deepEqual(await h.blobKeys("datasets/"), []);
  assert.deepEqual(await h.platform.meta.list("datasets", ""), []);
}

Deno.test("uploading sst2_dev.tsv stores it and reports rows, columns and label counts from the file", async () => {
  const h = await harness();
  try {
    const bytes = await Deno.readFile(SST2_DEV);
    const lines = new TextDecoder().decode(bytes).split("\n").filter((l) => l !== "");
    const labels = lines.slice(1).map((l) => l.split("\t")[1]);
    const expectedCounts: Record<string, number> = {};
    for (const label of labels) expectedCounts[label] = (expectedCounts[label] ?? 0) + 1;
    const longest = Math.max(...lines.slice(1).map((l) => l.split("\t")[0].length));

    const dataset = await uploadDataset(h, bytes, "sst2_dev.tsv");
    assert.match(String(dataset.id), /^ds_/);
    assert.equal(dataset.object, "dataset");
    assert.equal(dataset.format, "tsv");
    assert.equal(dataset.name, "sst2_dev.tsv");
    assert.equal(dataset.rows, lines.length - 1);
    assert.deepEqual(dataset.columns, lines[0].split("\t"));
    assert.equal(dataset.bytes, bytes.length);
    const stats = dataset.stats as Record<
      string,
      { kind: string; counts?: Record<string, number>; chars: { max: number } }
    >;
    assert.equal(stats.label.kind, "label");
    assert.deepEqual(stats.label.counts, expectedCounts);
    assert.equal(stats.sentence.kind, "text");
    assert.equal(stats.sentence.chars.max, longest);

    const stored = await h.blobKeys(`datasets/tenant-a/${dataset.id}/`);
    assert.deepEqual(stored, [`datasets/tenant-a/${dataset.id}/data.tsv`]);
    const got = await h.call("GET", `/v1/datasets/${dataset.id}`);
    assert.deepEqual(await got.json(), dataset);
    const list = await (await h.call("GET", "/v1/datasets")).json();
    assert.deepEqual(list.data.map((d: { id: string }) => d.id), [dataset.id]);
  } finally {
    await h.close();
  }
});

Deno.test("a CSV with quoted newlines, escaped quotes and a BOM parses into the right rows", async () => {
  const h = await harness();
  try {
    const csv =
      '\uFEFFtext,label\r\n"first line\nsecond, line",pos\r\n"she said ""hi""",neg\r\nplain,pos\r\n';
    const dataset = await uploadDataset(h, csv, "reviews.csv");
    assert.equal(dataset.format, "csv");
    assert.equal(dataset.rows, 3);
    assert.deepEqual(dataset.columns, ["text", "label"]);
    const stats = dataset.stats as Record<string, { counts: Record<string, number> }>;
    assert.deepEqual(stats.label.counts, { pos: 2, neg: 1 });
    assert.deepEqual(
      Object.keys(stats.text.counts).sort(),
      ["first line\nsecond, line", "plain", 'she said "hi"'].sort(),
    );
  } finally {
    await h.close();
  }
});

Deno.test("format comes from the field, else the extension, else the content", async () => {
  const h = await harness();
  try {
    const jsonl = '{"text":"a","label":1}\n{"text":"b","label":0}\n';
    const sniffed = await uploadDataset(h, jsonl, "upload.bin");
    assert.equal(sniffed.format, "jsonl");
    assert.equal(sniffed.rows, 2);
    const tsv = "text\tlabel\nx,y\t1\n";
    const explicit = await h.call("POST", "/v1/datasets", {
      form: fileForm(tsv, "data.txt", { format: "tsv", name: "my set" }),
    });
    const body = await explicit.json();
    assert.equal(explicit.status, 201);
    assert.equal(body.format, "tsv");
    assert.equal(body.name, "my set");
    assert.deepEqual(await h.blobKeys(`datasets/tenant-a/${body.id}/`), [
      `datasets/tenant-a/${body.id}/data.tsv`,
    ]);
  } finally {
    await h.close();
  }
});

const badFiles: {
  name: string;
  filename: string;
  content: string | Uint8Array;
  lines: number[];
  reason: RegExp;
}[] = [
  { name: "empty file", filename: "a.csv", content: "", lines: [1], reason: /empty/ },
  {
    name: "header only",
    filename: "a.csv",
    content: "text,label\n",
    lines: [2],
    reason: /no valid data rows/,
  },
  {
    name: "ragged CSV rows",
    filename: "a.csv",
    content: "text,label\nok,1\ntoo,many,fields\nshort\n",
    lines: [3, 4],
    reason: /expected 2 fields, found 3/,
  },
  {
    name: "unterminated quote",
    filename: "a.csv",
    content: 'text,label\nok,1\n"never closed,1\nmore,0\n',
    lines: [3],
    reason: /unterminated quoted field/,
  },
  {
    name: "text after a closing quote",
    filename: "a.csv",
    content: 'text,label\nok,1\n"quoted"junk,1\n',
    lines: [3],
    reason: /after closing quote/,
  },
  {
    name: "bad JSONL line",
    filename: "a.jsonl",
    content: '{"text":"a","label":1}\n{"text": oops}\n{"text":"c","label":0}\n',
    lines: [2],
    reason: /invalid JSON/,
  },
  {
    name: "non-UTF-8 bytes",
    filename: "a.tsv",
    content: new Uint8Array([
      ...new TextEncoder().encode("text\tlabel\nok\t1\n"),
      0xc3,
      0x28,
      0x09,
      0x31,
      0x0a,
    ]),
    lines: [3],
    reason: /UTF-8/,
  },
  {
    name: "empty column name",
    filename: "a.tsv",
    content: "text\t\nhello\t1\n",
    lines: [1],
    reason: /empty column name/,
  },
];

for (const bad of badFiles) {
  Deno.test(`upload refused with line numbers: ${bad.name}`, async () => {
    const h = await harness();
    try {
      const error = await errorOf(
        await h.call("POST", "/v1/datasets", { form: fileForm(bad.content, bad.filename) }),
      );
      assert.equal(error.status, 400);
      assert.equal(error.code, "invalid_file");
      const details = error.details as { line: number; reason: string }[];
      assert.deepEqual(details.map((d) => d.line), bad.lines);
      assert.match(details[0].reason, bad.reason);
      await assertNothingStored(h);
    } finally {
      await h.close();
    }
  });
}

Deno.test("oversized fields are refused naming the column; oversized uploads answer 413", async () => {
  const h = await harness({ maxFieldChars: 50, maxUploadBytes: 2000 });
  try {
    const long = "x".repeat(51);
    const error = await errorOf(
      await h.call("POST", "/v1/datasets", { form: fileForm(`text,label\nfine,1\n${long},0\n`, "a.csv") }),
    );
    assert.equal(error.status, 400);
    assert.deepEqual(error.details, [{
      line: 3,
      column: "text",
      reason: "field is longer than 50 characters",
    }]);
    await assertNothingStored(h);

    const big = `text,label\n${"short,1\n".repeat(400)}`;
    const tooBig = await errorOf(await h.call("POST", "/v1/datasets", { form: fileForm(big, "a.csv") }));
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.code, "payload_too_large");
    await assertNothingStored(h);
  } finally {
    await h.close();
  }
});

Deno.test("upload requests without multipart, without a file or with a bad format field are 4xx", async () => {
  const h = await harness();
  try {
    const json = await errorOf(await h.call("POST", "/v1/datasets", { json: { file: "x" } }));
    assert.equal(json.status, 415);
    const noFile = new FormData();
    noFile.append("name", "x");
    const missing = await errorOf(await h.call("POST", "/v1/datasets", { form: noFile }));
    assert.equal(missing.status, 400);
    assert.match(missing.message, /'file' is required/);
    const badFormat = await errorOf(
      await h.call("POST", "/v1/datasets", { form: fileForm("a,b\n1,2\n", "a.csv", { format: "xlsx" }) }),
    );
    assert.equal(badFormat.status, 400);
    assert.equal(badFormat.code, "invalid_request");
    await assertNothingStored(h);
  } finally {
    await h.close();
  }
});

Deno.test("datasets are private to their tenant and delete removes blob and record", async () => {
  const h = await harness();
  try {
    const dataset = await uploadDataset(h, "text,label\nhi,1\n", "a.csv");
    for (
      const [method, path] of [["GET", `/v1/datasets/${dataset.id}`], [
        "DELETE",
        `/v1/datasets/${dataset.id}`,
      ]]
    ) {
      const error = await errorOf(await h.call(method, path, { key: KEY_B }));
      assert.equal(error.status, 404);
      assert.equal(error.code, "not_found");
    }
    assert.deepEqual((await (await h.call("GET", "/v1/datasets", { key: KEY_B })).json()).data, []);
    assert.equal((await errorOf(await h.call("GET", "/v1/datasets/..%2F..%2Fetc"))).status, 404);

    const deleted = await h.call("DELETE", `/v1/datasets/${dataset.id}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(await deleted.json(), { id: dataset.id, object: "dataset", deleted: true });
    await assertNothingStored(h);
    assert.equal((await h.call("GET", `/v1/datasets/${dataset.id}`)).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("a streamed upload without Content-Length is cut off at maxUploadBytes with 413", async () => {
  const h = await harness({ maxUploadBytes: 4096 });
  try {
    const boundary = "xyzBoundary";
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\ntext,label\r\n`;
    const encoder = new TextEncoder();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(encoder.encode(head));
        else if (sent < 100) controller.enqueue(encoder.encode("some row text,1\r\n".repeat(20)));
        else controller.close();
        sent++;
      },
    });
    const res = await h.app.request("/v1/datasets", {
      method: "POST",
      headers: { authorization: "Bearer key-a", "content-type": `multipart/form-data; boundary=${boundary}` },
      body,
    });
    const error = await errorOf(res);
    assert.equal(error.status, 413);
    assert.ok(sent < 100, `the reader stopped early (pulled ${sent} chunks)`);
    await assertNothingStored(h);
  } finally {
    await h.close();
  }
});
