/**
 * Beam search for one input, transcribed from transformers' `_beam_search` with BeamSearchScorer and
 * BeamHypotheses (v4.40): numBeams rows start from the same prefix (all but the first with score -1e9), each
 * step scores every (beam, token) by beam score + log-softmax, keeps the 2·numBeams best, turns EOS among
 * the top numBeams into a finished hypothesis (score = sum of log-probs / generated_length^length_penalty,
 * EOS counted) and continues the best numBeams non-EOS candidates. The search ends when the hypothesis set
 * is done (early_stopping true / false / "never" as HF), when every live beam satisfies `stop`, or at
 * maxNewTokens, where the live beams join the hypotheses. Returned tokens exclude the prefix and the EOS.
 */
import type { DecodingRows } from "./rows.ts";
import { logSoftmax } from "./sampling.ts";

export type FinishReason = "eos" | "length" | "stop";

export interface ScoredSequence {
  tokens: number[];
  score: number;
  finishReason: FinishReason;
}

export interface BeamSettings {
  numBeams: number;
  maxNewTokens: number;
  lengthPenalty: number;
  earlyStopping: boolean | "never";
  eosTokenId: number | null;
  numReturnSequences: number;
  stop?: (generated: number[]) => boolean;
  /** Called between steps (lets the event loop run). */
  pause: () => Promise<void>;
}

interface Hypothesis {
  score: number;
  tokens: number[];
  finishReason: FinishReason;
}

/** BeamHypotheses: the numBeams best finished sequences and the worst score among them. */
export class BeamHypotheses {
  readonly beams: Hypothesis[] = [];
  worstScore = 1e9;

  constructor(
    readonly numBeams: number,
    readonly lengthPenalty: number,
    readonly earlyStopping: boolean | "never",
    readonly maxNewTokens: number,
  ) {}

  add(tokens: number[], sumLogProbs: number, generatedLength: number, finishReason: FinishReason): void {
    const score = sumLogProbs / generatedLength ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worstScore) {
      this.beams.push({ score, tokens, finishReason });
      if (this.beams.length > this.numBeams) {
        const ranked = this.beams.map((b, i) => [b.score, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        this.beams.splice(ranked[0][1], 1);
        this.worstScore = ranked[1][0];
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  /** Whether no live beam can beat the worst kept hypothesis any more. */
  isDone(bestSumLogProbs: number, generatedLength: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const length = this.earlyStopping === "never" && this.lengthPenalty > 0
      ? this.maxNewTokens
      : generatedLength;
    return this.worstScore >= bestSumLogProbs / length ** this.lengthPenalty;
  }
}

/** Runs the search on `rows` (started here from `prefix`); best sequence first. */
export async function beamSearch(
  rows: DecodingRows,
  prefix: number[],
  source: number[] | undefined,
  settings: BeamSettings,
): Promise<ScoredSequence[]> {
  const { numBeams, eosTokenId: eos } = settings;
  const hypotheses = new BeamHypotheses(
    numBeams,
    settings.lengthPenalty,
    settings.earlyStopping,
    settings.maxNewTokens,
  );
  let beamScores: number[] = Array.from({ length: numBeams }, (_, i) => (i === 0 ? 0 : -1e9));
  let generated: number[][] = Array.from({ length: numBeams }, () => []);
  let logits = rows.start(prefix, numBeams, source);
  let done = false;
  let stopped = false;
  while (true) {
    const candidates: { score: number; beam: number; token: number }[] = [];
    const keep = 2 * numBeams;
    for (let beam = 0; beam < numBeams; beam++) {
      const logProbs = logSoftmax(logits[beam]);
      for (let token = 0; token < logProbs.length; token++) {
        const score = logProbs[token] + beamScores[beam];
        // Fixed-size sorted insertion: candidates stays the `keep` best, ties in (beam, token) order.
        if (candidates.length === keep && score <= candidates[keep - 1].score) continue;
        let at = candidates.length;
        while (at > 0 && candidates[at - 1].score < score) at--;
        candidates.splice(at, 0, { score, beam, token });
        if (candidates.length > keep) candidates.pop();
      }
    }
    const generatedLength = generated[0].length + 1;
    const next: { score: number; beam: number; token: number }[] = [];
    for (let rank = 0; rank < candidates.length && next.length < numBeams; rank++) {
      const c = candidates[rank];
      if (eos !== null && c.token === eos) {
        if (rank >= numBeams) continue;
        hypotheses.add([...generated[c.beam]], c.score, generatedLength, "eos");
      } else {
        next.push(c);
      }
    }
    done = done || hypotheses.isDone(candidates[0].score, generatedLength);
    beamScores = next.map((c) => c.score);
    generated = next.map((c) => [...generated[c.beam], c.token]);
    if (done || generated[0].length >= settings.maxNewTokens) break;
    if (settings.stop && generated.every((tokens) => settings.stop!(tokens))) {
      stopped = true;
      break;
    }
    await settings.pause();
    logits = rows.advance(next.map((c) => c.beam), next.map((c) => c.token));
  }
  if (!done) {
    for (let beam = 0; beam < numBeams; beam++) {
      hypotheses.add(generated[beam], beamScores[beam], generated[beam].length, stopped ? "stop" : "length");
    }
  }
  // HF sorts ascending (stable) and pops from the end: among equal scores the later hypothesis comes first.
  const ranked = [...hypotheses.beams].sort((a, b) => a.score - b.score).reverse();
  return ranked.slice(0, settings.numReturnSequences).map((h) => ({ ...h, tokens: [...h.tokens] }));
}
