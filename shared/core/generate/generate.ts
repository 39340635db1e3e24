/**
 * Text generation over any GenerativeModel (GPT-2; T5, mBART, Marian), as transformers' `generate`: greedy
 * search, multinomial sampling (temperature → top-k → top-p, seeded) and beam search (beam_search.ts), with
 * HF's option names in camelCase. For a causal model `input` is the prompt; for an encoder-decoder it is the
 * source, encoded once, and the decoder starts from decoderStartTokenId. Generation ends per sequence on EOS,
 * after maxNewTokens (capped by the model's maxPositions), or when `stop` (the caller's test on the tokens
 * generated so far, e.g. stop strings on decoded text) says so. Returned tokens exclude the prompt / start
 * token and the final EOS. Greedy and sampling stream row 0's tokens through `onToken` as they come; beam
 * search emits the best sequence at the end. Every step awaits a macrotask so a server stays responsive.
 * `useCache: false` recomputes the whole prefix each step and must give the same tokens.
 */
import { ApiError } from "../../schemas/errors.ts";
import { createRng } from "../random.ts";
import { beamSearch, type FinishReason, type ScoredSequence } from "./beam_search.ts";
import { DecodingRows } from "./rows.ts";
import { argmax, logSoftmax, sampleToken, warpLogits } from "./sampling.ts";
import type { GenerativeModel } from "./types.ts";

export type { FinishReason, ScoredSequence } from "./beam_search.ts";

export interface GenerationOptions {
  /** New tokens at most (EOS included). */
  maxNewTokens: number;
  /** 1 (default): no beam search. */
  numBeams?: number;
  /** Beam scores are sum(log p) / length^lengthPenalty (default 1). */
  lengthPenalty?: number;
  /** Beam search stopping (HF early_stopping): false (default), true or "never". */
  earlyStopping?: boolean | "never";
  doSample?: boolean;
  /** Sampling only (default 1). */
  temperature?: number;
  /** Sampling only: keep the k most likely tokens (HF default 50; 0 = off). */
  topK?: number;
  /** Sampling only: nucleus probability (default 1 = off). */
  topP?: number;
  /** Seeds sampling; the same seed gives the same tokens. Random when absent. */
  seed?: number;
  /** Overrides the model's EOS (null: never stop on a token). */
  eosTokenId?: number | null;
  /** Called with a sequence's generated tokens after each step; true ends that sequence ("stop"). */
  stop?: (generated: number[]) => boolean;
  /** Default true; false recomputes the whole prefix every step. */
  useCache?: boolean;
  /** Encoder-decoders: a first generated token to force (a target language code), overriding the model's. */
  forcedBosTokenId?: number | null;
  /** Sequences to return (≤ numBeams with beam search; independent samples with doSample). Default 1. */
  numReturnSequences?: number;
}

export interface GenerationResult {
  /** Best first for beam search; in row order otherwise. */
  sequences: ScoredSequence[];
  /** Why the first sequence ended. */
  finishReason: FinishReason;
}

const badRequest = (message: string) => new ApiError(400, "invalid_request", message);

interface Settings {
  maxNewTokens: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | "never";
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  eos: number | null;
  useCache: boolean;
  numReturnSequences: number;
}

function resolve(model: GenerativeModel, input: number[], o: GenerationOptions): Settings {
  const integer = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) {
      throw badRequest(`${name} must be an integer ≥ ${min}, got ${value}`);
    }
    return value;
  };
  const s: Settings = {
    maxNewTokens: integer("maxNewTokens", o.maxNewTokens, 1),
    numBeams: integer("numBeams", o.numBeams ?? 1, 1),
    lengthPenalty: o.lengthPenalty ?? 1,
    earlyStopping: o.earlyStopping ?? false,
    doSample: o.doSample ?? false,
    temperature: o.temperature ?? 1,
    topK: integer("topK", o.topK ?? 50, 0),
    topP: o.topP ?? 1,
    eos: o.eosTokenId === undefined ? model.eosTokenId : o.eosTokenId,
    useCache: o.useCache ?? true,
    numReturnSequences: integer("numReturnSequences", o.numReturnSequences ?? 1, 1),
  };
  if (!Number.isFinite(s.lengthPenalty)) throw badRequest("lengthPenalty must be a finite number");
  if (!(s.temperature > 0) || !Number.isFinite(s.temperature)) throw badRequest("temperature must be > 0");
  if (!(s.topP > 0 && s.topP <= 1)) throw badRequest("topP must be in (0, 1]");
  if (s.doSample && s.numBeams > 1) {
    throw badRequest("sampling with numBeams > 1 (beam sampling) is not supported");
  }
  if (s.numBeams > 1 && s.numReturnSequences > s.numBeams) {
    throw badRequest(`numReturnSequences (${s.numReturnSequences}) must be ≤ numBeams (${s.numBeams})`);
  }
  if (s.numBeams === 1 && !s.doSample && s.numReturnSequences > 1) {
    throw badRequest(
      "greedy search returns one sequence: use doSample or numBeams for numReturnSequences > 1",
    );
  }
  if (s.eos !== null && (!Number.isInteger(s.eos) || s.eos < 0 || s.eos >= model.vocabSize)) {
    throw badRequest(`eosTokenId ${s.eos} is outside the vocabulary [0, ${model.vocabSize})`);
  }
  const bad = input.find((id) => !Number.isInteger(id) || id < 0 || id >= model.vocabSize);
  if (bad !== undefined) {
    throw badRequest(`token id ${bad} is outside the vocabulary [0, ${model.vocabSize})`);
  }
  if (model.kind === "causal" && input.length === 0) throw badRequest("the prompt is empty");
  return s;
}

/**
 * Lets the event loop run (other requests, streamed writes) between steps, but at most every YIELD_MS: a
 * timer turn costs 2-4 ms under Deno, which would dominate small models' per-token time if taken every step.
 */
const YIELD_MS = 8;
let lastYield = 0;
const pause = async (): Promise<void> => {
  if (performance.now() - lastYield < YIELD_MS) return;
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  lastYield = performance.now();
};

export async function generate(
  model: GenerativeModel,
  input: number[],
  options: GenerationOptions,
  onToken?: (id: number) => void | Promise<void>,
): Promise<GenerationResult> {
  const s = resolve(model, input, options);
  // A forced first token (mBART-50's target language) is fed as part of the decoder prefix: the same as
  // HF's ForcedBOSTokenLogitsProcessor (all other logits -inf at step 1), without returning the token.
  const forced = model.kind === "seq2seq" ? options.forcedBosTokenId ?? model.forcedBosTokenId ?? null : null;
  const prefix = model.kind === "causal"
    ? [...input]
    : forced === null
    ? [model.decoderStartTokenId]
    : [model.decoderStartTokenId, forced];
  const room = model.maxPositions - prefix.length;
  if (room < 1) {
    throw badRequest(
      `the prompt has ${input.length} tokens; the model allows at most ${model.maxPositions} in all`,
    );
  }
  const maxNewTokens = Math.min(s.maxNewTokens, room);
  const source = model.kind === "seq2seq" ? input : undefined;
  const rows = new DecodingRows(model, s.useCache);
  try {
    let sequences: ScoredSequence[];
    if (s.numBeams > 1) {
      sequences = await beamSearch(rows, prefix, source, {
        numBeams: s.numBeams,
        maxNewTokens,
        lengthPenalty: s.lengthPenalty,
        earlyStopping: s.earlyStopping,
        eosTokenId: s.eos,
        numReturnSequences: s.numReturnSequences,
        stop: options.stop,
        pause,
      });
      if (onToken) { for (const id of sequences[0].tokens) await onToken(id); }
    } else {
      sequences = await sampleOrGreedy(rows, prefix, source, s, maxNewTokens, options, onToken);
    }
    return { sequences, finishReason: sequences[0].finishReason };
  } finally {
    rows.dispose();
  }
}

/** Greedy search or sampling of numReturnSequences independent rows; finished rows leave the batch. */
async function sampleOrGreedy(
  rows: DecodingRows,
  prefix: number[],
  source: number[] | undefined,
  s: Settings,
  maxNewTokens: number,
  options: GenerationOptions,
  onToken: ((id: number) => void | Promise<void>) | undefined,
): Promise<ScoredSequence[]> {
  const count = s.numReturnSequences;
  const rng = createRng(options.seed ?? Math.floor(Math.random() * 2 ** 31));
  const results: ScoredSequence[] = Array.from({ length: count }, () => ({
    tokens: [],
    score: 0,
    finishReason: "length" as FinishReason,
  }));
  let active = Array.from({ length: count }, (_, i) => i); // result index of each live row
  let logits = rows.start(prefix, count, source);
  for (let step = 0; step < maxNewTokens; step++) {
    const keep: number[] = [];
    const chosen: number[] = [];
    for (let r = 0; r < active.length; r++) {
      const result = results[active[r]];
      const token = s.doSample ? sampleToken(warpLogits(logits[r], s), rng) : argmax(logits[r]);
      result.score += logSoftmax(logits[r])[token];
      if (token === s.eos) {
        result.finishReason = "eos";
        continue;
      }
      result.tokens.push(token);
      if (active[r] === 0 && onToken) await onToken(token);
      if (options.stop?.(result.tokens)) {
        result.finishReason = "stop";
        continue;
      }
      keep.push(r);
      chosen.push(token);
    }
    if (keep.length === 0 || step + 1 >= maxNewTokens) break;
    await pause();
    logits = rows.advance(keep, chosen);
    active = keep.map((r) => active[r]);
  }
  return results;
}
