/**
 * Tiny hand-made generative models for generation tests: next-token probabilities come from a table keyed
 * by the tokens generated so far (after the prompt / decoder start), so expected results can be computed by
 * hand. The "cache" keeps each row's tokens, so cached and uncached stepping give identical logits.
 */
import type * as tf from "@tensorflow/tfjs";
import type {
  CausalLanguageModel,
  DecoderCache,
  EncoderState,
  Seq2SeqModel,
  StepResult,
} from "../../shared/core/generate/types.ts";

/** Probabilities over the vocabulary after `generated` (tokens after the prefix). */
export type Table = (generated: number[], source?: number[]) => number[];

class RowsCache implements DecoderCache {
  constructor(readonly rows: number[][]) {}
  get length(): number {
    return this.rows[0]?.length ?? 0;
  }
  select(rows: number[]): RowsCache {
    return new RowsCache(rows.map((r) => [...this.rows[r]]));
  }
  dispose(): void {}
}

class Source implements EncoderState {
  disposed = false;
  constructor(readonly sources: number[][]) {}
  get rows(): number {
    return this.sources.length;
  }
  select(rows: number[]): Source {
    return new Source(rows.map((r) => this.sources[r]));
  }
  dispose(): void {
    this.disposed = true;
  }
}

function logits(probabilities: number[]): Float32Array {
  return Float32Array.from(probabilities, (p) => Math.log(p));
}

const base = {
  eosTokenId: 0 as number | null,
  padTokenId: 0,
  params: new Map<string, tf.Variable>(),
  fixedParams: new Set<string>(),
  numLayers: 0,
  layerOf: () => 0,
  parameterCount: () => 0,
  dispose: () => {},
};

export interface FakeCausal extends CausalLanguageModel {
  steps: { rows: number; fed: number; cached: number }[];
}

export function fakeCausalModel(
  vocabSize: number,
  promptLength: number,
  table: Table,
  maxPositions = Infinity,
): FakeCausal {
  const steps: FakeCausal["steps"] = [];
  return {
    ...base,
    kind: "causal",
    vocabSize,
    maxPositions,
    steps,
    forward(): tf.Tensor2D {
      throw new Error("not used");
    },
    step(tokens: number[][], cache: DecoderCache | null): StepResult {
      const past = (cache as RowsCache | null)?.rows ?? tokens.map(() => []);
      const rows = tokens.map((t, r) => [...past[r], ...t]);
      steps.push({ rows: tokens.length, fed: tokens[0].length, cached: cache?.length ?? 0 });
      if (rows[0].length > maxPositions) throw new Error("past maxPositions");
      return {
        logits: rows.map((row) => logits(table(row.slice(promptLength)))),
        cache: new RowsCache(rows),
      };
    },
  };
}

export interface FakeSeq2Seq extends Seq2SeqModel {
  encoded: number[][][];
  states: Source[];
}

export function fakeSeq2SeqModel(vocabSize: number, startToken: number, table: Table): FakeSeq2Seq {
  const encoded: number[][][] = [];
  const states: Source[] = [];
  const track = (s: Source) => {
    states.push(s);
    const select = s.select.bind(s);
    s.select = (rows: number[]) => track(select(rows));
    return s;
  };
  return {
    ...base,
    kind: "seq2seq",
    vocabSize,
    maxPositions: Infinity,
    decoderStartTokenId: startToken,
    encoded,
    states,
    forward(): tf.Tensor2D {
      throw new Error("not used");
    },
    encode(inputIds: number[][]): EncoderState {
      encoded.push(inputIds);
      return track(new Source(inputIds));
    },
    step(tokens: number[][], cache: DecoderCache | null, encoder: EncoderState): StepResult {
      const source = encoder as Source;
      if (source.disposed) throw new Error("encoder state used after dispose");
      if (source.rows !== tokens.length) {
        throw new Error(`encoder has ${source.rows} rows, step ${tokens.length}`);
      }
      const past = (cache as RowsCache | null)?.rows ?? tokens.map(() => []);
      const rows = tokens.map((t, r) => [...past[r], ...t]);
      if (rows.some((row) => row[0] !== startToken)) {
        throw new Error("decoder must start with the start token");
      }
      return {
        logits: rows.map((row, r) => logits(table(row.slice(1), source.sources[r]))),
        cache: new RowsCache(rows),
      };
    },
  };
}
