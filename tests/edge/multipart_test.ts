/**
 * The streaming multipart reader: the same parts whatever the network chunking (every split point of a
 * body), quoted and RFC 5987 file names, the 413 size cap without a Content-Length, and malformed bodies as
 * 400 invalid_request.
 */
import assert from "node:assert/strict";
import { multipartBoundary, MultipartReader, readFieldText } from "../../edge/multipart.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

const BOUNDARY = "----edgetuneBoundary7";
const BODY = [
  "preamble to ignore",
  `--${BOUNDARY}`,
  'Content-Disposition: form-data; name="name"',
  "",
  "my data",
  `--${BOUNDARY}`,
  'Content-Disposition: form-data; name="file"; filename="a \\"b\\".csv"',
  "Content-Type: text/csv",
  "",
  "text,label\r\nx,1\r\n--not-the-boundary\r\n",
  `--${BOUNDARY}`,
  "Content-Disposition: form-data; name=\"other\"; filename*=UTF-8''na%C3%AFve.txt",
  "",
  "",
  `--${BOUNDARY}--`,
  "epilogue",
].join("\r\n");

function chunked(bytes: Uint8Array, splits: number[]): ReadableStream<Uint8Array> {
  const points = [0, ...splits, bytes.length];
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i + 1 < points.length; i++) controller.enqueue(bytes.slice(points[i], points[i + 1]));
      controller.close();
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>, maxBytes = 1 << 20) {
  const reader = new MultipartReader(stream, BOUNDARY, { maxBytes });
  const parts = [];
  for await (const part of reader.parts()) {
    parts.push({
      name: part.name,
      filename: part.filename,
      type: part.contentType,
      text: await readFieldText(part),
    });
  }
  return parts;
}

Deno.test("parts come out the same for every chunking of the body", async () => {
  const bytes = new TextEncoder().encode(BODY);
  const expected = [
    { name: "name", filename: null, type: null, text: "my data" },
    {
      name: "file",
      filename: 'a "b".csv',
      type: "text/csv",
      text: "text,label\r\nx,1\r\n--not-the-boundary\r\n",
    },
    { name: "other", filename: "naïve.txt", type: null, text: "" },
  ];
  assert.deepEqual(await readAll(chunked(bytes, [])), expected);
  for (let split = 1; split < bytes.length; split++) {
    assert.deepEqual(await readAll(chunked(bytes, [split])), expected, `split at ${split}`);
  }
  const bytewise = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(await readAll(chunked(bytes, bytewise)), expected);
});

Deno.test("unread parts are skipped", async () => {
  const reader = new MultipartReader(chunked(new TextEncoder().encode(BODY), [7, 90]), BOUNDARY, {
    maxBytes: 1 << 20,
  });
  const names = [];
  for await (const part of reader.parts()) names.push(part.name);
  assert.deepEqual(names, ["name", "file", "other"]);
});

Deno.test("the size cap holds without a Content-Length", async () => {
  await assert.rejects(
    () => readAll(chunked(new TextEncoder().encode(BODY), [50, 100, 150]), 120),
    (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 413);
      return true;
    },
  );
});

Deno.test("malformed bodies and content types are 4xx", async () => {
  const truncated = new TextEncoder().encode(BODY.slice(0, BODY.indexOf("x,1")));
  await assert.rejects(() => readAll(chunked(truncated, [])), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.match(error.message, /ended inside a part/);
    return true;
  });
  const noName = new TextEncoder().encode(
    `--${BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${BOUNDARY}--`,
  );
  await assert.rejects(() => readAll(chunked(noName, [])), /no content-disposition name/);
  assert.throws(
    () => multipartBoundary("application/json"),
    (e) => e instanceof ApiError && e.status === 415,
  );
  assert.throws(
    () => multipartBoundary("multipart/form-data"),
    (e) => e instanceof ApiError && e.status === 400,
  );
  assert.equal(multipartBoundary('multipart/form-data; boundary="abc def"'), "abc def");
});
