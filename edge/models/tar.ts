/**
 * A tiny POSIX ustar archive writer that streams (for `GET /v1/models/:id/export`: a model folder as one
 * uncompressed .tar without holding the weights in memory) and the matching reader for tests and tools.
 * Each file is a 512-byte header (name, mode 0644, size in octal — base-256 past 8 GiB, as GNU tar and
 * Python's tarfile read it —, mtime, checksum, typeflag '0', "ustar\0" "00") followed by its bytes padded to
 * 512; the archive ends with two zero blocks. Names longer than 100 bytes go into the ustar prefix field.
 */

export interface TarEntry {
  /** Path inside the archive (UTF-8, `/`-separated, at most 255 bytes). */
  name: string;
  size: number;
  /** The bytes, or a function giving them as a stream (opened only when the entry is written). */
  body: Uint8Array | (() => Promise<ReadableStream<Uint8Array>>);
  /** Seconds since the epoch (default: now). */
  mtime?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function writeString(header: Uint8Array, offset: number, length: number, value: string) {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`tar: '${value}' does not fit in ${length} bytes`);
  header.set(bytes, offset);
}

/** An octal number in `length - 1` digits plus NUL, or base-256 (GNU) when it does not fit. */
function writeNumber(header: Uint8Array, offset: number, length: number, value: number) {
  const octal = value.toString(8);
  if (octal.length <= length - 1) {
    writeString(header, offset, length, octal.padStart(length - 1, "0") + "\0");
    return;
  }
  let rest = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    header[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  header[offset] = 0x80;
}

/** Splits a long path into ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes) at a `/`. */
function splitName(path: string): { prefix: string; name: string } {
  if (encoder.encode(path).length <= 100) return { prefix: "", name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) return { prefix, name };
  }
  throw new Error(`tar: path '${path}' is too long for a ustar header`);
}

/** The 512-byte ustar header of one regular file. */
export function tarHeader(path: string, size: number, mtime: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`tar: bad size ${size} for '${path}'`);
  const header = new Uint8Array(BLOCK);
  const { prefix, name } = splitName(path);
  writeString(header, 0, 100, name);
  writeNumber(header, 100, 8, 0o644);
  writeNumber(header, 108, 8, 0);
  writeNumber(header, 116, 8, 0);
  writeNumber(header, 124, 12, size);
  writeNumber(header, 136, 12, Math.max(0, Math.floor(mtime)));
  header.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  header[156] = 0x30; // '0': regular file
  writeString(header, 257, 6, "ustar\0");
  writeString(header, 263, 2, "00");
  writeString(header, 345, 155, prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return header;
}

const padding = (size: number) => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);

/** Streams the entries as one ustar archive; a body whose length differs from its `size` aborts it. */
export function tarStream(entries: TarEntry[]): ReadableStream<Uint8Array> {
  const now = Math.floor(Date.now() / 1000);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const entry of entries) {
      yield tarHeader(entry.name, entry.size, entry.mtime ?? now);
      let written = 0;
      if (entry.body instanceof Uint8Array) {
        written = entry.body.length;
        if (written === entry.size) yield entry.body;
      } else {
        for await (const chunk of await entry.body()) {
          written += chunk.length;
          if (written > entry.size) break;
          yield chunk;
        }
      }
      if (written !== entry.size) {
        throw new Error(`tar: '${entry.name}' has ${written} bytes, its header says ${entry.size}`);
      }
      yield padding(entry.size);
    }
    yield new Uint8Array(2 * BLOCK);
  }
  const iterator = chunks();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else if (value.length > 0) controller.enqueue(value);
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
}

function readNumber(header: Uint8Array, offset: number, length: number): number {
  if (header[offset] & 0x80) {
    let value = 0n;
    for (let i = offset + 1; i < offset + length; i++) value = (value << 8n) | BigInt(header[i]);
    return Number(value);
  }
  const text = new TextDecoder().decode(header.subarray(offset, offset + length)).replace(/[\0 ]+$/, "")
    .trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function readString(header: Uint8Array, offset: number, length: number): string {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

/** The regular files of a ustar archive (checksums verified); throws on a malformed archive. */
export function parseTar(bytes: Uint8Array): { name: string; data: Uint8Array; mtime: number }[] {
  const files: { name: string; data: Uint8Array; mtime: number }[] = [];
  let offset = 0;
  while (offset + BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return files;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    if (sum !== readNumber(header, 148, 8)) throw new Error(`tar: bad header checksum at byte ${offset}`);
    if (readString(header, 257, 6) !== "ustar") throw new Error(`tar: not a ustar header at byte ${offset}`);
    const prefix = readString(header, 345, 155);
    const name = readString(header, 0, 100);
    const size = readNumber(header, 124, 12);
    const start = offset + BLOCK;
    if (start + size > bytes.length) throw new Error(`tar: '${name}' runs past the end of the archive`);
    if (header[156] === 0x30 || header[156] === 0) {
      files.push({
        name: prefix ? `${prefix}/${name}` : name,
        data: bytes.slice(start, start + size),
        mtime: readNumber(header, 136, 12),
      });
    }
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error("tar: archive ends without its two zero blocks");
}
