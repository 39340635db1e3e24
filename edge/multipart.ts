/**
 * A streaming multipart/form-data reader (RFC 7578): yields the parts of a request body one at a time, each
 * with its field name, file name and a body stream, holding at most one network chunk plus a boundary's worth
 * of bytes in memory, so an upload can flow straight into the blob store. It counts every byte and fails with
 * 413 past `maxBytes`; a malformed body fails with 400. A part's body must be read to its end (or cancelled)
 * before asking for the next part; parts left unread are skipped.
 */
import { ApiError } from "../shared/schemas/errors.ts";

export interface MultipartPart {
  /** The form field name. */
  name: string;
  /** The file name, for file parts; null for plain fields. */
  filename: string | null;
  contentType: string | null;
  body: ReadableStream<Uint8Array>;
}

const MAX_HEADER_BYTES = 16 * 1024;
const CRLF = new Uint8Array([13, 10]);
const HEADER_END = new Uint8Array([13, 10, 13, 10]);

const malformed = (message: string) =>
  new ApiError(400, "invalid_request", `malformed multipart body: ${message}`);

/** The boundary of a multipart/form-data content type; 415 for any other type. */
export function multipartBoundary(contentType: string | undefined): string {
  const type = contentType ?? "";
  if (!/^multipart\/form-data\s*(;|$)/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "send the upload as multipart/form-data");
  }
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary || boundary.length > 70) throw malformed("missing or invalid boundary");
  return boundary;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  for (let i = haystack.indexOf(first, from); i !== -1; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

export class MultipartReader {
  /** The error that stopped reading (also surfaced to a part body's consumer). */
  failure: ApiError | null = null;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #delimiter: Uint8Array;
  readonly #maxBytes: number;
  // Starts with CRLF so the first boundary matches the same "\r\n--boundary" delimiter as the others.
  #buffer: Uint8Array = CRLF;
  #total = 0;
  #ended = false;

  constructor(body: ReadableStream<Uint8Array> | null, boundary: string, options: { maxBytes: number }) {
    this.#reader = (body ?? new Blob([]).stream()).getReader();
    this.#delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
    this.#maxBytes = options.maxBytes;
  }

  /** Total body bytes read so far. */
  get bytesRead(): number {
    return this.#total;
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#ended = true;
      return false;
    }
    this.#total += value.length;
    if (this.#total > this.#maxBytes) {
      throw new ApiError(413, "payload_too_large", `upload is larger than ${this.#maxBytes} bytes`, {
        limit: this.#maxBytes,
      });
    }
    const merged = new Uint8Array(this.#buffer.length + value.length);
    merged.set(this.#buffer);
    merged.set(value, this.#buffer.length);
    this.#buffer = merged;
    return true;
  }

  #fail(error: unknown): never {
    this.failure ??= error instanceof ApiError ? error : malformed(String(error));
    throw this.failure;
  }

  /** Next piece of the current part's body, or null at the part's end. */
  async #nextBodyChunk(): Promise<Uint8Array | null> {
    try {
      while (true) {
        const at = indexOf(this.#buffer, this.#delimiter);
        if (at === 0) {
          this.#buffer = this.#buffer.subarray(this.#delimiter.length);
          return null;
        }
        if (at > 0) {
          const chunk = this.#buffer.slice(0, at);
          this.#buffer = this.#buffer.subarray(at);
          return chunk;
        }
        const safe = this.#buffer.length - (this.#delimiter.length - 1);
        if (safe > 0) {
          const chunk = this.#buffer.slice(0, safe);
          this.#buffer = this.#buffer.subarray(safe);
          return chunk;
        }
        if (!(await this.#fill())) throw malformed("body ended inside a part");
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  async #skipToFirstBoundary(): Promise<void> {
    while ((await this.#nextBodyChunk()) !== null) {
      // preamble: ignored
    }
  }

  /** After a delimiter: true if another part follows (its headers are next), false at the closing `--`. */
  async #afterDelimiter(): Promise<boolean> {
    while (this.#buffer.length < 2) {
      if (!(await this.#fill())) this.#fail(malformed("body ended after a boundary"));
    }
    if (this.#buffer[0] === 45 && this.#buffer[1] === 45) return false;
    const lineEnd = await this.#find(CRLF);
    this.#buffer = this.#buffer.subarray(lineEnd + 2);
    return true;
  }

  async #find(needle: Uint8Array): Promise<number> {
    while (true) {
      const at = indexOf(this.#buffer, needle);
      if (at !== -1) return at;
      if (this.#buffer.length > MAX_HEADER_BYTES) this.#fail(malformed("part headers too large"));
      if (!(await this.#fill())) this.#fail(malformed("body ended inside part headers"));
    }
  }

  async #readHeaders(): Promise<Map<string, string>> {
    const end = await this.#find(HEADER_END);
    const text = new TextDecoder().decode(this.#buffer.subarray(0, end));
    this.#buffer = this.#buffer.subarray(end + 4);
    const headers = new Map<string, string>();
    for (const line of text.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return headers;
  }

  /** The parts in body order. */
  async *parts(): AsyncGenerator<MultipartPart> {
    try {
      await this.#skipToFirstBoundary();
      while (await this.#afterDelimiter()) {
        const headers = await this.#readHeaders();
        const disposition = headers.get("content-disposition") ?? "";
        const name = dispositionParam(disposition, "name");
        if (name === null) this.#fail(malformed("a part has no content-disposition name"));
        let finished = false;
        const next = async () => {
          const chunk = await this.#nextBodyChunk();
          if (chunk === null) finished = true;
          return chunk;
        };
        const body = new ReadableStream<Uint8Array>({
          pull: async (controller) => {
            try {
              const chunk = await next();
              if (chunk === null) controller.close();
              else controller.enqueue(chunk);
            } catch (error) {
              controller.error(error);
            }
          },
        });
        yield {
          name,
          filename: dispositionParam(disposition, "filename"),
          contentType: headers.get("content-type") ?? null,
          body,
        };
        while (!finished) await next();
      }
    } finally {
      await this.#reader.cancel().catch(() => {});
    }
  }
}

/** A parameter of a Content-Disposition header (`name="x"`, `filename*=UTF-8''...`), or null. */
function dispositionParam(header: string, param: string): string | null {
  const extended = new RegExp(`;\\s*${param}\\*=(?:UTF-8|utf-8)''([^;]+)`).exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      return null;
    }
  }
  const match = new RegExp(`;\\s*${param}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`).exec(header);
  if (!match) return null;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}

/** Reads a small text field part, failing with 400 past `maxBytes`. */
export async function readFieldText(part: MultipartPart, maxBytes = 64 * 1024): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of part.body) {
    total += chunk.length;
    if (total > maxBytes) {
      await part.body.cancel().catch(() => {});
      throw new ApiError(
        400,
        "invalid_request",
        `form field '${part.name}' is longer than ${maxBytes} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return new TextDecoder().decode(concatBytes(chunks));
}

export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
