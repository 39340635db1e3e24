/**
 * Which deployment version answers a request: the traffic split's versions in ascending order cover buckets
 * 0-9999 by their percentages; a request with a key lands in the bucket of a hash (FNV-1a, 32-bit) of the
 * deployment name and the key — the same key always gets the same version while the split is unchanged —
 * and a request without one in a random bucket.
 */
import type { TrafficSplit } from "../../shared/schemas/deployments.ts";

export const BUCKETS = 10_000;

/** FNV-1a over the UTF-16 code units of `text`, mapped to a bucket in [0, BUCKETS). */
export function bucketOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // final avalanche (murmur3 fmix32) so nearby keys spread over the buckets
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return (hash >>> 0) % BUCKETS;
}

/** The version a request goes to. */
export function pickVersion(
  deployment: string,
  traffic: TrafficSplit,
  requestKey: string | null,
  random: () => number = Math.random,
): number {
  const entries = Object.entries(traffic).map(([v, share]) => [Number(v), share] as const)
    .filter(([, share]) => share > 0)
    .sort((a, b) => a[0] - b[0]);
  const bucket = requestKey === null
    ? Math.floor(random() * BUCKETS)
    : bucketOf(`${deployment}\u0000${requestKey}`);
  let upper = 0;
  for (const [version, share] of entries) {
    upper += share * (BUCKETS / 100);
    if (bucket < upper) return version;
  }
  return entries[entries.length - 1][0];
}
