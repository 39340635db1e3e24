/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}`, then the raw little-endian
 * tensor bytes. Reading decodes F32, F16, BF16 (and integer/F64 tensors) to Float32Array and checks every
 * offset and size, so a corrupt or hostile file is an ApiError 400 rather than a crash. Writing produces F32
 * files that HF loads, with the header padded by spaces to a multiple of 8 bytes as the reference writer does.
 */
import { ApiError } from "../../schemas/errors.ts";

export interface SafetensorsHeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Record<string, SafetensorsHeaderEntry>;
  metadata?: Record<string, string>;
  /** Byte offset of the data section (8 + header length). */
  dataStart: number;
}

export interface DecodedTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Header size we accept (the reference implementation caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

const invalid = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", `safetensors: ${message}`, details);

/** Parses the header; needs only the first 8 + N bytes of the file. */
export function readSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  if (bytes.length < 8) throw invalid("file is shorter than the 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) throw invalid(`header length ${headerLength} is too large`);
  if (bytes.length < 8 + headerLength) {
    throw invalid(`header says ${headerLength} bytes but only ${bytes.length - 8} follow`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    throw invalid(`header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalid("header is not an object");
  }
  const tensors: Record<string, SafetensorsHeaderEntry> = {};
  let metadata: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as Partial<SafetensorsHeaderEntry> | null;
    if (
      !entry || typeof entry.dtype !== "string" || !Array.isArray(entry.shape) ||
      !entry.shape.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(entry.data_offsets) ||
      entry.data_offsets.length !== 2 || !entry.data_offsets.every((o) => Number.isInteger(o) && o >= 0)
    ) {
      throw invalid(`tensor '${name}' has a malformed header entry`, { tensor: name });
    }
    tensors[name] = {
      dtype: entry.dtype,
      shape: entry.shape,
      data_offsets: entry.data_offsets as [number, number],
    };
  }
  return { tensors, metadata, dataStart: 8 + headerLength };
}

/** Reads every tensor, converted to float32. */
export function readSafetensors(bytes: Uint8Array): Map<string, DecodedTensor> {
  const header = readSafetensorsHeader(bytes);
  const dataLength = bytes.length - header.dataStart;
  const out = new Map<string, DecodedTensor>();
  for (const [name, entry] of Object.entries(header.tensors)) {
    const width = BYTES_PER_ELEMENT[entry.dtype];
    if (width === undefined) throw invalid(`tensor '${name}' has unsupported dtype ${entry.dtype}`);
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = entry.data_offsets;
    if (end < begin || end > dataLength) {
      throw invalid(
        `tensor '${name}' data [${begin}, ${end}) lies outside the ${dataLength}-byte data section`,
      );
    }
    if (end - begin !== count * width) {
      throw invalid(
        `tensor '${name}' has ${end - begin} bytes, expected ${count * width} for ${entry.dtype}`,
      );
    }
    const raw = bytes.subarray(header.dataStart + begin, header.dataStart + end);
    out.set(name, { dtype: entry.dtype, shape: [...entry.shape], data: decode(entry.dtype, raw, count) });
  }
  return out;
}

function decode(dtype: string, raw: Uint8Array, count: number): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case "F32":
      if (LITTLE_ENDIAN) return new Float32Array(raw.slice().buffer); // slice: copy to an aligned buffer
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case "F16":
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case "BF16": {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case "I64":
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case "I32":
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case "I16":
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case "I8":
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    default: // U8, BOOL
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
  }
  return out;
}

/** IEEE 754 binary16 → number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Writes float32 tensors (in the map's order) to safetensors bytes. */
export function writeSafetensors(
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of tensors) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new Error(
        `writeSafetensors: '${name}' has ${tensor.data.length} values for shape [${tensor.shape}]`,
      );
    }
    header[name] = { dtype: "F32", shape: tensor.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const tensor of tensors.values()) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), position);
    } else {
      for (let i = 0; i < tensor.data.length; i++) view.setFloat32(position + i * 4, tensor.data[i], true);
    }
    position += tensor.data.byteLength;
  }
  return out;
}
