/**
 * A small Prometheus metrics registry: counters, gauges and histograms with label sets, rendered in the
 * Prometheus text exposition format 0.0.4 (`# HELP`, `# TYPE`, one sample per line, histograms as cumulative
 * `_bucket{le=…}` plus `_sum` and `_count`). Label values are escaped as the format requires. Gauges may also
 * be computed at scrape time by a collector (e.g. from the metadata store).
 */

export type Labels = Record<string, string>;

const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(): string[];
}

export class Counter implements Metric {
  readonly type = "counter";
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = keyOf(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string[] {
    return [...this.#values.values()].map((e) =>
      `${this.name}${labelText(e.labels)} ${formatNumber(e.value)}`
    );
  }
}

export class Gauge implements Metric {
  readonly type = "gauge";
  #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  set(value: number, labels: Labels = {}): void {
    this.#values.set(keyOf(labels), { labels, value });
  }

  inc(labels: Labels = {}, by = 1): void {
    this.set(this.get(labels) + by, labels);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(keyOf(labels))?.value ?? 0;
  }

  /** Replaces every sample (a collector's fresh reading). */
  replace(samples: { labels: Labels; value: number }[]): void {
    this.#values = new Map(samples.map((s) => [keyOf(s.labels), s]));
  }

  render(): string[] {
    return [...this.#values.values()].map((e) =>
      `${this.name}${labelText(e.labels)} ${formatNumber(e.value)}`
    );
  }
}

export class Histogram implements Metric {
  readonly type = "histogram";
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}

  observe(value: number, labels: Labels = {}): void {
    const key = keyOf(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    this.buckets.forEach((bound, i) => {
      if (value <= bound) series!.counts[i]++;
    });
    series.sum += value;
    series.count++;
  }

  count(labels: Labels = {}): number {
    return this.#series.get(keyOf(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines: string[] = [];
    for (const s of this.#series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${labelText(s.labels, ["le", formatNumber(bound)])} ${s.counts[i]}`);
      });
      lines.push(`${this.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export class Registry {
  readonly #metrics: Metric[] = [];
  readonly #collectors: (() => Promise<void>)[] = [];

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.#add(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  /** Runs before each scrape (refreshes computed gauges); a failing collector leaves its old values. */
  collect(collector: () => Promise<void>): void {
    this.#collectors.push(collector);
  }

  /** The text exposition of every metric. */
  async render(): Promise<string> {
    await Promise.all(this.#collectors.map((collect) => collect().catch(() => {})));
    const lines: string[] = [];
    for (const metric of this.#metrics) {
      lines.push(`# HELP ${metric.name} ${metric.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      lines.push(`# TYPE ${metric.name} ${metric.type}`);
      lines.push(...metric.render());
    }
    return lines.join("\n") + "\n";
  }

  #add<M extends Metric>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }
}
