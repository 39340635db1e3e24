/**
 * Splits a byte stream into physical text lines, each strictly decoded as UTF-8 and numbered from 1, without
 * holding more than one line in memory. Line ends are `\n` or `\r\n` (the `\r` is dropped); a leading UTF-8
 * byte-order mark is removed. A line that is not valid UTF-8 or is longer than `maxLineBytes` is reported as
 * a `LineProblem` instead of text (the overlong line's bytes are skipped, not buffered), so format parsers
 * above can report exact line numbers for every kind of damage.
 */

export interface TextLine {
  line: number;
  text: string;
}

export interface LineProblem {
  line: number;
  reason: string;
}

export type LineItem = TextLine | LineProblem;

export const isLineProblem = (item: LineItem): item is LineProblem => "reason" in item;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Yields every physical line of `stream` (an empty last line after a final newline is not yielded). */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<LineItem> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let overlong = false;
  let lineNumber = 1;

  const finish = (): LineItem => {
    const number = lineNumber++;
    if (overlong) {
      overlong = false;
      pending = [];
      pendingBytes = 0;
      return { line: number, reason: `line is longer than ${maxLineBytes} bytes` };
    }
    let bytes = concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, -1);
    try {
      let text = decoder.decode(bytes);
      if (number === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      return { line: number, text };
    } catch {
      return { line: number, reason: "line is not valid UTF-8" };
    }
  };

  const keep = (bytes: Uint8Array) => {
    if (overlong || bytes.length === 0) return;
    if (pendingBytes + bytes.length > maxLineBytes + 1) {
      overlong = true;
      pending = [];
      pendingBytes = 0;
      return;
    }
    pending.push(bytes.slice());
    pendingBytes += bytes.length;
  };

  const reader = stream.getReader();
  let exhausted = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        exhausted = true;
        break;
      }
      let start = 0;
      while (start < value.length) {
        const end = value.indexOf(NEWLINE, start);
        if (end === -1) {
          keep(value.subarray(start));
          break;
        }
        keep(value.subarray(start, end));
        yield finish();
        start = end + 1;
      }
    }
    if (pendingBytes > 0 || overlong) yield finish();
  } finally {
    // A consumer that stops early must not leave the source (a blob or an upload) half-read and locked.
    if (!exhausted) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
