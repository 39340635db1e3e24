/**
 * Validation of the key shapes every adapter accepts, shared so the embedded and distributed stores reject
 * exactly the same keys: metadata keys and event-stream names are dot-separated tokens of [A-Za-z0-9_-]
 * (NATS KV compatible), blob keys are slash-separated segments without `.`/`..`, empty or dot-led segments.
 * Also the JSON value size limit both metadata stores enforce.
 */
import { ApiError, invalidRequest } from "../schemas/errors.ts";

const TOKEN_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const TOKEN_PREFIX = /^([A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]*$/;
const BLOB_SEGMENT = /^[A-Za-z0-9_\-=+@,][A-Za-z0-9_\-=+@,.]*$/;

/** Largest JSON value (UTF-8 bytes) a metadata record or event may hold (Deno KV allows 64 KiB per value). */
export const MAX_VALUE_BYTES = 60_000;

/** Throws invalid_request unless `key` is dot-separated tokens of [A-Za-z0-9_-]. */
export function assertTokenKey(key: string, what = "key"): void {
  if (!TOKEN_KEY.test(key) || key.length > 1024) {
    throw invalidRequest(`${what} '${key}' must be dot-separated tokens of A-Z a-z 0-9 _ -`, { key });
  }
}

/** Throws invalid_request unless `prefix` is a (possibly empty) prefix of a valid token key. */
export function assertTokenPrefix(prefix: string): void {
  if (!TOKEN_PREFIX.test(prefix)) {
    throw invalidRequest(`prefix '${prefix}' must be dot-separated tokens of A-Z a-z 0-9 _ -`, { prefix });
  }
}

/** Throws invalid_request unless `key` is a slash-separated blob key with safe, non-empty segments. */
export function assertBlobKey(key: string): void {
  const segments = key.split("/");
  const bad = key.length === 0 || key.length > 900 ||
    segments.some((segment) => !BLOB_SEGMENT.test(segment) || segment === "." || segment === "..");
  if (bad) {
    throw invalidRequest(
      `blob key '${key}' must be '/'-separated non-empty segments of A-Z a-z 0-9 _ - = + @ , . ` +
        `(no leading '/', no '.' or '..' segments, no segment starting with '.')`,
      { key },
    );
  }
}

/** Serializes `value` to JSON bytes, throwing payload_too_large past MAX_VALUE_BYTES. */
export function encodeJsonValue(value: unknown, key: string): Uint8Array {
  const json = JSON.stringify(value);
  if (json === undefined) throw invalidRequest(`value for '${key}' is not JSON-serializable`, { key });
  const bytes = new TextEncoder().encode(json);
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new ApiError(
      413,
      "payload_too_large",
      `value for '${key}' is ${bytes.length} bytes of JSON; the limit is ${MAX_VALUE_BYTES}`,
      { key, size: bytes.length, limit: MAX_VALUE_BYTES },
    );
  }
  return bytes;
}

/** Parses JSON bytes written by encodeJsonValue. */
export function decodeJsonValue<T>(bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes)) as T;
}
