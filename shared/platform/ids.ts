/**
 * Resource id generation: a kind prefix, an underscore and 20 characters of crypto-random lowercase base32
 * (100 bits), e.g. `job_k3x9...`. Ids are valid metadata-key tokens and blob-key segments.
 */

export type IdPrefix = "ds" | "mdl" | "job" | "dep";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** A fresh random id such as `ds_7fq2...` (prefix + "_" + 20 base32 characters). */
export function newId(prefix: IdPrefix): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let body = "";
  for (const byte of bytes) body += ALPHABET[byte & 31];
  return `${prefix}_${body}`;
}
