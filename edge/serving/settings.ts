/**
 * The serving settings and where they come from: the model cache's memory bound, the dynamic batcher's token
 * budget, queue delay and queue limit, and the optional token that guards GET /metrics. Read once from the
 * environment (SERVE_CACHE_MB, SERVE_MAX_BATCH_TOKENS, SERVE_MAX_QUEUE_DELAY_MS, SERVE_MAX_QUEUE,
 * EDGETUNE_METRICS_TOKEN); a malformed value fails loudly at start instead of serving with a surprise.
 */

export interface ServeSettings {
  /** Parameter bytes the model cache may hold (float32: 4 bytes per parameter). */
  cacheBytes: number;
  /** Padded tokens (rows × longest row) one micro-batch may hold. */
  maxBatchTokens: number;
  /** How long the oldest waiting request may wait for company before its batch runs. */
  maxQueueDelayMs: number;
  /** Requests waiting (all models) past which new predict requests answer 429. */
  maxQueue: number;
  /** Bearer token for GET /metrics; null = open (like TEI's /metrics). */
  metricsToken: string | null;
}

export const DEFAULT_SERVE_SETTINGS: ServeSettings = {
  cacheBytes: 1024 * 1024 * 1024,
  maxBatchTokens: 8192,
  maxQueueDelayMs: 2,
  maxQueue: 1024,
  metricsToken: null,
};

function number(name: string, value: string | undefined, fallback: number, min: number, max: number) {
  if (value === undefined || value.trim() === "") return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new Error(`${name} must be a number from ${min} to ${max}, got '${value}'`);
  }
  return parsed;
}

/** Serving settings from environment variables (defaults for unset ones). */
export function serveSettingsFromEnv(env: Record<string, string | undefined>): ServeSettings {
  const d = DEFAULT_SERVE_SETTINGS;
  const token = env.EDGETUNE_METRICS_TOKEN?.trim() ?? "";
  return {
    cacheBytes: number("SERVE_CACHE_MB", env.SERVE_CACHE_MB, d.cacheBytes / 2 ** 20, 1, 1 << 20) * 2 ** 20,
    maxBatchTokens: Math.floor(
      number("SERVE_MAX_BATCH_TOKENS", env.SERVE_MAX_BATCH_TOKENS, d.maxBatchTokens, 16, 1 << 22),
    ),
    maxQueueDelayMs: number(
      "SERVE_MAX_QUEUE_DELAY_MS",
      env.SERVE_MAX_QUEUE_DELAY_MS,
      d.maxQueueDelayMs,
      0,
      10_000,
    ),
    maxQueue: Math.floor(number("SERVE_MAX_QUEUE", env.SERVE_MAX_QUEUE, d.maxQueue, 1, 1_000_000)),
    metricsToken: token === "" ? null : token,
  };
}

/** The process environment, or nothing when env access is not permitted. */
export function processEnv(): Record<string, string | undefined> {
  try {
    return Deno.env.toObject();
  } catch {
    return {};
  }
}
