/**
 * Per-column summaries of a dataset, computed in one streaming pass with bounded memory: every column gets
 * character-length percentiles (exact, from a histogram of lengths), and a column with at most 50 distinct
 * values (none longer than 100 characters) is treated as label-like and also gets its value counts. This is what the dataset record's `stats`
 * holds and what a user checks before training (class balance, how long the texts are).
 */

export const MAX_LABEL_VALUES = 50;
/** A value longer than this is text, never a label (also keeps the stats small enough for a record). */
export const MAX_LABEL_CHARS = 100;

export interface CharLengthStats {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ColumnStats {
  /** "label" when the column has at most 50 distinct values, else "text". */
  kind: "label" | "text";
  /** Number of distinct values, capped: `MAX_LABEL_VALUES + 1` means "more than 50". */
  distinct: number;
  /** Value → count, for label-like columns only (most frequent first). */
  counts?: Record<string, number>;
  chars: CharLengthStats;
}

class ColumnAccumulator {
  #values: Map<string, number> | null = new Map();
  #lengths = new Map<number, number>();
  #count = 0;

  add(value: string) {
    this.#count++;
    this.#lengths.set(value.length, (this.#lengths.get(value.length) ?? 0) + 1);
    if (this.#values === null) return;
    if (value.length > MAX_LABEL_CHARS) {
      this.#values = null;
      return;
    }
    this.#values.set(value, (this.#values.get(value) ?? 0) + 1);
    if (this.#values.size > MAX_LABEL_VALUES) this.#values = null;
  }

  result(): ColumnStats {
    const chars = percentiles(this.#lengths, this.#count);
    if (this.#values === null) return { kind: "text", distinct: MAX_LABEL_VALUES + 1, chars };
    const sorted = [...this.#values.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    return { kind: "label", distinct: sorted.length, counts: Object.fromEntries(sorted), chars };
  }
}

/** Nearest-rank percentiles of a length histogram (`count` values in all). */
function percentiles(histogram: Map<number, number>, count: number): CharLengthStats {
  const lengths = [...histogram.keys()].sort((a, b) => a - b);
  const rank = (p: number) => {
    if (count === 0) return 0;
    const target = Math.max(1, Math.ceil((p / 100) * count));
    let seen = 0;
    for (const length of lengths) {
      seen += histogram.get(length)!;
      if (seen >= target) return length;
    }
    return lengths[lengths.length - 1];
  };
  return {
    p50: rank(50),
    p90: rank(90),
    p99: rank(99),
    max: lengths.length ? lengths[lengths.length - 1] : 0,
  };
}

/** Accumulates rows (all with the same columns) into per-column stats. */
export class TableStats {
  readonly #columns: Map<string, ColumnAccumulator>;

  constructor(columns: string[]) {
    this.#columns = new Map(columns.map((name) => [name, new ColumnAccumulator()]));
  }

  add(row: Record<string, string>) {
    for (const [name, column] of this.#columns) column.add(row[name] ?? "");
  }

  result(): Record<string, ColumnStats> {
    return Object.fromEntries([...this.#columns].map(([name, column]) => [name, column.result()]));
  }
}
