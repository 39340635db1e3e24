/**
 * Generation-speed measurement for the generative benchmark (bench/generative.ts): runs the shared
 * generate() greedily over the same inputs with the KV cache on and off, alternating which goes first each
 * round, for a fixed number of new tokens (EOS disabled so every run produces exactly that many), and returns
 * tokens/s of each, their ratio, and whether both paths produced identical tokens for every input.
 */
import { generate } from "../shared/core/generate/generate.ts";
import type { GenerativeModel } from "../shared/core/generate/types.ts";

export interface CacheSpeed {
  cachedTokensPerSecond: number;
  uncachedTokensPerSecond: number;
  /** cached / uncached tokens/s. */
  ratio: number;
  identical: boolean;
  tokensPerRun: number;
  rounds: number;
}

async function timedRun(
  model: GenerativeModel,
  inputs: number[][],
  maxNewTokens: number,
  useCache: boolean,
): Promise<{ seconds: number; tokens: number[][] }> {
  const started = performance.now();
  const tokens: number[][] = [];
  for (const input of inputs) {
    const result = await generate(model, input, { maxNewTokens, useCache, eosTokenId: null });
    tokens.push(result.sequences[0].tokens);
  }
  return { seconds: (performance.now() - started) / 1000, tokens };
}

/** Alternates cached/uncached runs over `inputs` for `rounds` rounds (first round order: cached first). */
export async function measureCacheSpeed(
  model: GenerativeModel,
  inputs: number[][],
  maxNewTokens: number,
  rounds: number,
): Promise<CacheSpeed> {
  // One untimed warm-up of each path (kernel set-up, first allocations).
  await timedRun(model, inputs.slice(0, 1), 4, true);
  await timedRun(model, inputs.slice(0, 1), 4, false);
  let cachedSeconds = 0, uncachedSeconds = 0, cachedTokens = 0, uncachedTokens = 0;
  let identical = true;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [true, false] : [false, true];
    const results = new Map<boolean, number[][]>();
    for (const useCache of order) {
      const { seconds, tokens } = await timedRun(model, inputs, maxNewTokens, useCache);
      const count = tokens.reduce((n, t) => n + t.length, 0);
      if (useCache) [cachedSeconds, cachedTokens] = [cachedSeconds + seconds, cachedTokens + count];
      else [uncachedSeconds, uncachedTokens] = [uncachedSeconds + seconds, uncachedTokens + count];
      results.set(useCache, tokens);
    }
    const [a, b] = [results.get(true)!, results.get(false)!];
    if (a.some((row, i) => row.join() !== b[i].join())) identical = false;
  }
  const cachedTokensPerSecond = cachedTokens / cachedSeconds;
  const uncachedTokensPerSecond = uncachedTokens / uncachedSeconds;
  return {
    cachedTokensPerSecond,
    uncachedTokensPerSecond,
    ratio: cachedTokensPerSecond / uncachedTokensPerSecond,
    identical,
    tokensPerRun: cachedTokens / rounds,
    rounds,
  };
}
