/**
 * `deno task bench train` (or `deno run -A bench/train.ts`): training-step speed of edgetune against PyTorch
 * on this CPU, side by side in one invocation, for a BERT-mini-like and a BERT-small-like classifier with the
 * same initial weights and batches (dropout on, AdamW). For each config it prints examples/s of both, the
 * ratio edgetune ÷ PyTorch, peak memory of both, inference predictions/s of both, and a per-kernel profile of
 * one edgetune step; for the mini config also the "before" step without native kernels (plain tfjs wasm).
 * Steps alternate edgetune/PyTorch one by one (PyTorch stays loaded in a server process), so both see the
 * same machine load; medians are reported. Each side runs at its fastest thread count (1 or all cores, one
 * timed step each). BERT-small runs in 2 micro-batches of 16 on edgetune (tfjs keeps a whole step's
 * activations and gradients, and the wasm heap ends at 4 GB). Options: --steps N (measured steps each,
 * default 5), --no-baseline, --configs mini,small, --json. PyTorch runs tools/torch_bench/bert_step.py with
 * /usr/bin/python3 (Debian python3-torch), OPENBLAS_CORETYPE set to the best type this CPU supports.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../shared/core/backend.ts";
import {
  installNativeKernels,
  type NativeKernelReport,
  uninstallNativeKernels,
} from "../shared/core/backend/native/mod.ts";
import {
  createTrainer,
  exportForTorch,
  makeBatches,
  MINI,
  SMALL,
  type StepShape,
} from "./support/bert_step.ts";
import { KernelProfiler, type KernelTiming } from "./support/kernel_profile.ts";
import { peakRssMb, resetPeakRss } from "./support/process_memory.ts";
import { TorchServer } from "./support/torch_server.ts";

export interface TrainBenchOptions {
  configs?: StepShape[];
  steps?: number;
  /** Also time the step with the stock wasm kernels (mini config only; ~40 s per step). */
  baseline?: boolean;
  baselineSteps?: number;
  python?: string;
  /** Threads for both sides; default: each side runs at whichever of 1 and all cores is faster. */
  threads?: number;
  log?: (line: string) => void;
}

export interface SideResult {
  threads: number;
  /** Gradient-accumulation parts per batch of 32 (1 = one piece). */
  microBatches: number;
  stepMs: number[];
  medianStepMs: number;
  examplesPerSecond: number;
  predictionsPerSecond: number;
  peakRssMb: number;
}

export interface ConfigResult {
  config: string;
  edgetune: SideResult;
  torch: SideResult & { torchVersion: string; openblasCoretype: string | null; threads: number };
  ratio: number;
  inferenceRatio: number;
  baselineStepMs?: number;
  baselineRatio?: number;
  profile: KernelTiming[];
  evalLogitsMaxDiff: number;
  /** One step per thread count and side, used to run each side at its best. */
  calibration: { side: string; threads: number; ms: number }[];
}

export interface TrainBenchResult {
  native: NativeKernelReport;
  backend: string;
  results: ConfigResult[];
}

/** Thread counts to try on each side: 1 and every core (on a shared 2-vCPU machine 1 is often faster). */
function threadCandidates(): number[] {
  const cores = Math.max(1, Math.min(8, navigator.hardwareConcurrency ?? 1));
  return cores > 1 ? [1, cores] : [1];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function runTrainBench(options: TrainBenchOptions = {}): Promise<TrainBenchResult> {
  const log = options.log ?? console.log;
  const steps = options.steps ?? 5;
  const python = options.python ?? "/usr/bin/python3";
  const threads = options.threads;
  const backend = await initBackend("wasm");
  const native = await installNativeKernels({ build: true, threads: threads ?? threadCandidates()[0] });
  log(
    `backend ${backend.name}; native kernels: ${native.installed ? native.kernels.length : 0} ` +
      `(${
        native.installed
          ? `OpenBLAS ${native.coreType}, C kernels ${native.nativeLibrary ? "yes" : "no"}`
          : native.reason
      })`,
  );
  const results: ConfigResult[] = [];
  for (const shape of options.configs ?? [MINI, SMALL]) {
    const dir = await Deno.makeTempDir({ prefix: `edgetune-bench-${shape.name}-` });
    try {
      results.push(await benchConfig(shape, dir, { ...options, steps, python, threads, log }));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return { native, backend: backend.name, results };
}

/** Micro-batches per config: BERT-small at batch 32 does not fit the 4 GB wasm heap in one piece. */
function microBatchesFor(shape: StepShape): number {
  return shape.hidden >= 512 ? 2 : 1;
}

async function benchConfig(
  shape: StepShape,
  dir: string,
  o: Required<Pick<TrainBenchOptions, "steps" | "python" | "log">> & TrainBenchOptions,
): Promise<ConfigResult> {
  const microBatches = microBatchesFor(shape);
  const trainer = createTrainer(shape, 42, microBatches);
  const batches = makeBatches(shape, 4, 7);
  await exportForTorch(trainer, shape, batches, dir);
  const evalLogits = trainer.predict(batches[0]);
  const candidates = o.threads !== undefined ? [o.threads] : threadCandidates();
  const torchServer = await TorchServer.start(dir, { python: o.python, threads: candidates[0] });
  const inferMs: number[] = [], torchInfer: number[] = [];
  const etMs: number[] = [], torchStep: number[] = [];
  const calibration: { side: string; threads: number; ms: number }[] = [];
  let stepSeed = 2;
  const etStep = () => {
    const t0 = performance.now();
    trainer.step(batches[stepSeed % batches.length], stepSeed++);
    return performance.now() - t0;
  };
  const useEtThreads = async (threads: number) => {
    uninstallNativeKernels();
    await installNativeKernels({ build: true, threads });
  };
  let etThreads = candidates[0], torchThreads = candidates[0];
  try {
    resetPeakRss();
    etStep(); // warm-up: heap growth, BLAS buffers
    await torchServer.train();
    // Each side at its best: one timed step per thread count per side, alternating, the fastest wins.
    if (candidates.length > 1) {
      for (const threads of candidates) {
        await useEtThreads(threads);
        calibration.push({ side: "edgetune", threads, ms: etStep() });
        await torchServer.setThreads(threads);
        calibration.push({ side: "torch", threads, ms: (await torchServer.train()).ms });
      }
      const best = (side: string) =>
        calibration.filter((c) => c.side === side).sort((a, b) => a.ms - b.ms)[0].threads;
      etThreads = best("edgetune");
      torchThreads = best("torch");
      await useEtThreads(etThreads);
      await torchServer.setThreads(torchThreads);
    }
    // Alternate edgetune and PyTorch step by step, so both see the same machine load.
    for (let i = 0; i < o.steps; i++) {
      etMs.push(etStep());
      torchStep.push((await torchServer.train()).ms);
    }
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      trainer.predict(batches[i % batches.length]);
      const ms = performance.now() - t0;
      const torchMs = (await torchServer.infer()).ms;
      if (i > 0) {
        inferMs.push(ms);
        torchInfer.push(torchMs);
      }
    }
  } catch (error) {
    await torchServer.close();
    throw error;
  }
  const torchStats = await torchServer.stats();
  await torchServer.close();
  const etPeak = peakRssMb();
  const profiler = new KernelProfiler();
  profiler.start();
  trainer.step(batches[0], stepSeed++);
  const profile = profiler.stop();
  let baselineStepMs: number | undefined;
  if (o.baseline !== false && shape.name === MINI.name) {
    uninstallNativeKernels();
    try {
      const times: number[] = [];
      for (let i = 0; i < (o.baselineSteps ?? 1); i++) {
        const t0 = performance.now();
        trainer.step(batches[0], stepSeed++);
        times.push(performance.now() - t0);
      }
      baselineStepMs = median(times);
    } finally {
      await useEtThreads(etThreads);
    }
  }
  trainer.dispose();
  const torchLogits = torchStats.evalLogits;
  const edgetune: SideResult = {
    stepMs: etMs,
    medianStepMs: median(etMs),
    examplesPerSecond: (shape.batch * 1000) / median(etMs),
    predictionsPerSecond: (shape.batch * 1000) / median(inferMs),
    peakRssMb: etPeak,
    threads: etThreads,
    microBatches,
  };
  const torch = {
    stepMs: torchStep,
    medianStepMs: median(torchStep),
    examplesPerSecond: (shape.batch * 1000) / median(torchStep),
    predictionsPerSecond: (shape.batch * 1000) / median(torchInfer),
    peakRssMb: torchStats.peakRssMb,
    torchVersion: torchStats.torch,
    openblasCoretype: torchStats.openblasCoretype,
    threads: torchStats.threads,
    microBatches: 1,
  };
  const result: ConfigResult = {
    config: shape.name,
    edgetune,
    torch,
    ratio: edgetune.examplesPerSecond / torch.examplesPerSecond,
    inferenceRatio: edgetune.predictionsPerSecond / torch.predictionsPerSecond,
    baselineStepMs,
    baselineRatio: baselineStepMs === undefined ? undefined : (shape.batch * 1000 / baselineStepMs) /
      torch.examplesPerSecond,
    profile,
    calibration,
    evalLogitsMaxDiff: Math.max(...torchLogits.map((v, i) => Math.abs(v - evalLogits[i]))),
  };
  printConfig(result, o.log);
  return result;
}

function printConfig(r: ConfigResult, log: (line: string) => void): void {
  const f = (x: number, d = 1) => x.toFixed(d);
  const row = (label: string, a: string, b: string, note = "") =>
    log(`${label.padEnd(22)}${a.padStart(10)}   ${b.padStart(10)}   ${note}`);
  log(`\n--- ${r.config} (batch 32, seq 128, AdamW, dropout 0.1)`);
  row(
    "",
    "edgetune",
    "PyTorch",
    `torch ${r.torch.torchVersion}, OPENBLAS_CORETYPE=${r.torch.openblasCoretype}`,
  );
  row("threads (fastest)", String(r.edgetune.threads), String(r.torch.threads), calibrationText(r));
  if (r.edgetune.microBatches > 1) {
    row(
      "micro-batches",
      String(r.edgetune.microBatches),
      "1",
      "edgetune accumulates gradients (4 GB wasm heap)",
    );
  }
  row(
    "train examples/s",
    f(r.edgetune.examplesPerSecond),
    f(r.torch.examplesPerSecond),
    `RATIO edgetune/PyTorch = ${f(r.ratio, 2)}`,
  );
  row("median step ms", f(r.edgetune.medianStepMs, 0), f(r.torch.medianStepMs, 0));
  log(
    `  steps ms: edgetune [${r.edgetune.stepMs.map((x) => f(x, 0))}]  PyTorch [${
      r.torch.stepMs.map((x) => f(x, 0))
    }]`,
  );
  row(
    "infer predictions/s",
    f(r.edgetune.predictionsPerSecond),
    f(r.torch.predictionsPerSecond),
    `ratio = ${f(r.inferenceRatio, 2)} (PyTorch eager, no_grad)`,
  );
  row("peak RSS MB", f(r.edgetune.peakRssMb, 0), f(r.torch.peakRssMb, 0));
  log(
    `eval logits, same weights and batch: max |edgetune - PyTorch| = ${r.evalLogitsMaxDiff.toExponential(2)}`,
  );
  if (r.baselineStepMs !== undefined) {
    log(
      `before (stock tfjs wasm kernels): ${f(r.baselineStepMs, 0)} ms/step = ${
        f(32000 / r.baselineStepMs, 2)
      } ` +
        `examples/s, ratio ${f(r.baselineRatio!, 3)}; native kernels: ${
          f(r.baselineStepMs / r.edgetune.medianStepMs, 1)
        }x faster`,
    );
  }
  const total = r.profile.reduce((a, b) => a + b.ms, 0);
  log(`kernel profile of one edgetune step (${f(total, 0)} ms inside kernels):`);
  for (const k of r.profile.slice(0, 12)) {
    log(
      `  ${k.kernel.padEnd(24)} ${f(k.ms).padStart(8)} ms ${
        f((100 * k.ms) / total).padStart(5)
      }%  ${k.calls} calls`,
    );
  }
}

function calibrationText(r: ConfigResult): string {
  if (r.calibration.length === 0) return "";
  const side = (name: string) =>
    r.calibration.filter((c) => c.side === name).map((c) => `${c.threads}t ${c.ms.toFixed(0)} ms`).join(", ");
  return `one step each: edgetune ${side("edgetune")}; PyTorch ${side("torch")}`;
}

/** Entry for bench/main.ts: `deno task bench train [--steps N] [--no-baseline] [--configs mini]`. */
export async function run(args: string[]): Promise<void> {
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const configs = (value("--configs") ?? "mini,small").split(",").map((name) => {
    if (name === "mini") return MINI;
    if (name === "small") return SMALL;
    throw new Error(`unknown config '${name}' (mini, small)`);
  });
  const result = await runTrainBench({
    configs,
    steps: Number(value("--steps") ?? 5),
    baseline: !args.includes("--no-baseline"),
  });
  if (args.includes("--json")) console.log(JSON.stringify(result, null, 2));
  tf.disposeVariables();
}

if (import.meta.main) await run(Deno.args);
