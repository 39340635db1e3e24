/**
 * Maps API keys to tenants from the environment: EDGETUNE_API_KEYS holds `key:tenant` pairs separated by
 * commas; EDGETUNE_API_KEY is one key for tenant `default`. When neither is set, a random key is generated
 * (and returned so the caller can print it). Keys shorter than 16 characters are refused: they are guessable.
 */
export interface ApiKeysResult {
  apiKeys: Map<string, string>;
  generatedKey: string | null;
}

const MIN_KEY_LENGTH = 16;

export function parseApiKeys(env: Record<string, string | undefined>): ApiKeysResult {
  const apiKeys = new Map<string, string>();
  const add = (key: string, tenant: string) => {
    if (key.length < MIN_KEY_LENGTH) {
      throw new Error(`API key for tenant '${tenant}' is shorter than 16 chars`);
    }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(tenant)) {
      throw new Error(`tenant name '${tenant}' must match [A-Za-z0-9_-]`);
    }
    apiKeys.set(key, tenant);
  };
  for (const pair of (env.EDGETUNE_API_KEYS ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const separator = pair.lastIndexOf(":");
    if (separator <= 0) throw new Error(`EDGETUNE_API_KEYS entry '${pair.slice(0, 4)}…' is not key:tenant`);
    add(pair.slice(0, separator), pair.slice(separator + 1));
  }
  if (env.EDGETUNE_API_KEY) add(env.EDGETUNE_API_KEY, "default");
  if (apiKeys.size > 0) return { apiKeys, generatedKey: null };
  const generatedKey = `et_${crypto.randomUUID().replaceAll("-", "")}`;
  apiKeys.set(generatedKey, "default");
  return { apiKeys, generatedKey };
}
