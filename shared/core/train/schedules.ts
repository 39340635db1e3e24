/**
 * Learning-rate schedules as pure functions of the 0-based optimizer step: `createSchedule(spec, baseLr,
 * totalSteps)(k)` is the LR the k-th optimizer update uses — the value PyTorch's LambdaLR/CyclicLR give after k
 * `scheduler.step()` calls. Formulas follow transformers' optimization.py (get_*_schedule_with_warmup, v4.40)
 * and torch.optim.lr_scheduler (1.13); tools/torch_reference/schedules.py holds the same formulas in Python
 * for the goldens. Also here: warm-up resolution (steps or ratio, as transformers' TrainingArguments) and
 * ReduceOnPlateau, an eval-metric-driven multiplier mirroring torch's ReduceLROnPlateau.
 */

export type CyclicMode = "triangular" | "triangular2" | "exp_range";

export type ScheduleSpec =
  | { name: "constant" }
  | { name: "constant_with_warmup"; warmupSteps: number }
  | { name: "linear"; warmupSteps: number }
  /**
   * Half-cosine by default (numCycles 0.5, transformers' get_cosine_schedule_with_warmup). With hardRestarts
   * the cosine restarts numCycles times (default 1; get_cosine_with_hard_restarts_schedule_with_warmup).
   * minLrRatio r maps the cosine factor f to r + (1 − r)·f (transformers' cosine_with_min_lr, min_lr_rate).
   */
  | { name: "cosine"; warmupSteps: number; numCycles?: number; hardRestarts?: boolean; minLrRatio?: number }
  /** After warm-up, baseLr · gamma^(k − warmupSteps). */
  | { name: "exponential"; warmupSteps: number; gamma: number }
  /** transformers' get_polynomial_decay_schedule_with_warmup: decays to lrEnd (default 1e-7) with `power`. */
  | { name: "polynomial"; warmupSteps: number; power?: number; lrEnd?: number }
  /**
   * torch CyclicLR without momentum cycling: cycles between minLr (torch's base_lr) and maxLr (default: the
   * job's learning rate). stepSizeDown defaults to stepSizeUp; gamma (exp_range) defaults to 1.
   */
  | {
    name: "cyclic";
    minLr: number;
    maxLr?: number;
    stepSizeUp: number;
    stepSizeDown?: number;
    mode?: CyclicMode;
    gamma?: number;
  }
  /** transformers' get_inverse_sqrt_schedule; timescale defaults to warmupSteps, or 10 000 without warm-up. */
  | { name: "inverse_sqrt"; warmupSteps: number; timescale?: number };

export type Schedule = (step: number) => number;

/** Builds the (step) => lr function. Throws on a spec that cannot describe a schedule. */
export function createSchedule(spec: ScheduleSpec, baseLr: number, totalSteps: number): Schedule {
  ensure(baseLr >= 0, `baseLr must be >= 0, got ${baseLr}`);
  ensure(Number.isInteger(totalSteps) && totalSteps >= 0, `totalSteps must be an integer >= 0`);
  if ("warmupSteps" in spec) {
    ensure(
      Number.isInteger(spec.warmupSteps) && spec.warmupSteps >= 0,
      "warmupSteps must be an integer >= 0",
    );
  }
  const factor = factorFunction(spec, baseLr, totalSteps);
  if (spec.name === "cyclic") {
    return (step) => factor(checkedStep(step)); // cyclic returns absolute LRs
  }
  return (step) => baseLr * factor(checkedStep(step));
}

/** warmup_steps wins when > 0, else ceil(totalSteps · warmup_ratio) (TrainingArguments.get_warmup_steps). */
export function resolveWarmupSteps(
  totalSteps: number,
  opts: { warmup_steps?: number | null; warmup_ratio?: number | null },
): number {
  if (opts.warmup_steps != null && opts.warmup_steps > 0) return Math.floor(opts.warmup_steps);
  return Math.ceil(totalSteps * (opts.warmup_ratio ?? 0));
}

/** Linear warm-up factor k / max(1, W), shared by every warm-up schedule. */
function warmupFactor(step: number, warmupSteps: number): number {
  return step / Math.max(1, warmupSteps);
}

function factorFunction(spec: ScheduleSpec, baseLr: number, totalSteps: number): Schedule {
  switch (spec.name) {
    case "constant":
      return () => 1;
    case "constant_with_warmup": {
      const w = spec.warmupSteps;
      return (k) => (k < w ? warmupFactor(k, w) : 1);
    }
    case "linear": {
      const w = spec.warmupSteps;
      return (
        k,
      ) => (k < w ? warmupFactor(k, w) : Math.max(0, (totalSteps - k) / Math.max(1, totalSteps - w)));
    }
    case "cosine":
      return cosineFactor(spec, totalSteps);
    case "exponential": {
      const { warmupSteps: w, gamma } = spec;
      ensure(gamma > 0 && gamma <= 1, `exponential: gamma must be in (0, 1], got ${gamma}`);
      return (k) => (k < w ? warmupFactor(k, w) : gamma ** (k - w));
    }
    case "polynomial":
      return polynomialFactor(spec, baseLr, totalSteps);
    case "cyclic":
      return cyclicLr(spec, baseLr);
    case "inverse_sqrt": {
      const w = spec.warmupSteps;
      const timescale = spec.timescale ?? (w > 0 ? w : 10_000);
      ensure(timescale > 0, "inverse_sqrt: timescale must be > 0");
      const shift = timescale - w;
      return (k) => (k < w ? warmupFactor(k, w) : 1 / Math.sqrt((k + shift) / timescale));
    }
  }
}

function cosineFactor(spec: Extract<ScheduleSpec, { name: "cosine" }>, totalSteps: number): Schedule {
  const w = spec.warmupSteps;
  const hard = spec.hardRestarts ?? false;
  const cycles = spec.numCycles ?? (hard ? 1 : 0.5);
  const minRatio = spec.minLrRatio ?? 0;
  ensure(cycles > 0, `cosine: numCycles must be > 0, got ${cycles}`);
  ensure(minRatio >= 0 && minRatio <= 1, `cosine: minLrRatio must be in [0, 1], got ${minRatio}`);
  const withFloor = (f: number) => Math.max(0, f * (1 - minRatio) + minRatio);
  return (k) => {
    if (k < w) return warmupFactor(k, w);
    const progress = (k - w) / Math.max(1, totalSteps - w);
    if (hard) {
      if (progress >= 1) return withFloor(0);
      return withFloor(0.5 * (1 + Math.cos(Math.PI * ((cycles * progress) % 1))));
    }
    return withFloor(0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
  };
}

function polynomialFactor(
  spec: Extract<ScheduleSpec, { name: "polynomial" }>,
  baseLr: number,
  totalSteps: number,
): Schedule {
  const w = spec.warmupSteps;
  const power = spec.power ?? 1;
  const lrEnd = spec.lrEnd ?? 1e-7;
  ensure(baseLr > lrEnd, `polynomial: lr_end (${lrEnd}) must be smaller than the initial lr (${baseLr})`);
  const decaySteps = Math.max(1, totalSteps - w);
  return (k) => {
    if (k < w) return warmupFactor(k, w);
    if (k > totalSteps) return lrEnd / baseLr;
    const remaining = 1 - (k - w) / decaySteps;
    return ((baseLr - lrEnd) * remaining ** power + lrEnd) / baseLr;
  };
}

/** torch.optim.lr_scheduler.CyclicLR.get_lr at last_epoch = k (returns the LR itself, not a factor). */
function cyclicLr(spec: Extract<ScheduleSpec, { name: "cyclic" }>, jobLr: number): Schedule {
  const minLr = spec.minLr;
  const maxLr = spec.maxLr ?? jobLr;
  const up = spec.stepSizeUp;
  const down = spec.stepSizeDown ?? up;
  const mode = spec.mode ?? "triangular";
  const gamma = spec.gamma ?? 1;
  ensure(minLr >= 0 && maxLr >= minLr, `cyclic: need 0 <= minLr (${minLr}) <= maxLr (${maxLr})`);
  ensure(up > 0 && down > 0, "cyclic: stepSizeUp and stepSizeDown must be > 0");
  const totalSize = up + down;
  const stepRatio = up / totalSize;
  return (k) => {
    const cycle = Math.floor(1 + k / totalSize);
    const x = 1 + k / totalSize - cycle;
    const scale = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1);
    const height = (maxLr - minLr) * scale;
    switch (mode) {
      case "triangular":
        return minLr + height;
      case "triangular2":
        return minLr + height / 2 ** (cycle - 1);
      case "exp_range":
        return minLr + height * gamma ** k;
    }
  };
}

export interface ReduceOnPlateauOptions {
  mode?: "min" | "max";
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: "rel" | "abs";
  cooldown?: number;
  /** Absolute LR floor, as torch's min_lr; compared against baseLr · scale. */
  minLr?: number;
  /** A reduction smaller than this (in LR units) is skipped, as torch's eps. */
  eps?: number;
}

export interface ReduceOnPlateauState {
  scale: number;
  best: number;
  numBadEvals: number;
  cooldownCounter: number;
}

/**
 * torch.optim.lr_scheduler.ReduceLROnPlateau as a multiplier: feed it each eval metric with `step(metric)`;
 * `scale` starts at 1 and is multiplied by `factor` after more than `patience` evals without improvement;
 * the LR the loop uses is `schedule(k) · scale`. With a constant schedule this reproduces torch exactly.
 */
export class ReduceOnPlateau {
  readonly #opts: Required<ReduceOnPlateauOptions>;
  readonly #baseLr: number;
  #state: ReduceOnPlateauState;

  constructor(baseLr: number, options: ReduceOnPlateauOptions = {}) {
    this.#opts = {
      mode: options.mode ?? "min",
      factor: options.factor ?? 0.1,
      patience: options.patience ?? 10,
      threshold: options.threshold ?? 1e-4,
      thresholdMode: options.thresholdMode ?? "rel",
      cooldown: options.cooldown ?? 0,
      minLr: options.minLr ?? 0,
      eps: options.eps ?? 1e-8,
    };
    ensure(this.#opts.factor > 0 && this.#opts.factor < 1, "ReduceOnPlateau: factor must be in (0, 1)");
    ensure(this.#opts.patience >= 0 && this.#opts.cooldown >= 0, "ReduceOnPlateau: negative patience");
    this.#baseLr = baseLr;
    this.#state = {
      scale: 1,
      best: this.#opts.mode === "min" ? Infinity : -Infinity,
      numBadEvals: 0,
      cooldownCounter: 0,
    };
  }

  get scale(): number {
    return this.#state.scale;
  }

  /** The LR to use given the scheduled LR: scheduled · scale. */
  apply(scheduledLr: number): number {
    return scheduledLr * this.#state.scale;
  }

  /** Records one eval metric; returns true when it reduced the LR. */
  step(metric: number): boolean {
    const s = this.#state;
    if (this.#isBetter(metric, s.best)) {
      s.best = metric;
      s.numBadEvals = 0;
    } else {
      s.numBadEvals++;
    }
    if (s.cooldownCounter > 0) {
      s.cooldownCounter--;
      s.numBadEvals = 0;
    }
    if (s.numBadEvals <= this.#opts.patience) return false;
    s.cooldownCounter = this.#opts.cooldown;
    s.numBadEvals = 0;
    const oldLr = this.#baseLr * s.scale;
    const newLr = Math.max(oldLr * this.#opts.factor, this.#opts.minLr);
    if (oldLr - newLr <= this.#opts.eps) return false;
    s.scale = this.#baseLr > 0 ? newLr / this.#baseLr : s.scale * this.#opts.factor;
    return true;
  }

  saveState(): ReduceOnPlateauState {
    return { ...this.#state };
  }

  loadState(state: ReduceOnPlateauState): void {
    this.#state = { ...state };
  }

  #isBetter(a: number, best: number): boolean {
    const { mode, thresholdMode, threshold } = this.#opts;
    if (mode === "min") return thresholdMode === "rel" ? a < best * (1 - threshold) : a < best - threshold;
    return thresholdMode === "rel" ? a > best * (threshold + 1) : a > best + threshold;
  }
}

function checkedStep(step: number): number {
  if (!Number.isInteger(step) || step < 0) {
    throw new Error(`schedule: step must be an integer >= 0, got ${step}`);
  }
  return step;
}

function ensure(ok: boolean, message: string): void {
  if (!ok) throw new Error(`schedule: ${message}`);
}
