/**
 * `deno task bench train` (or `deno run -A bench/train.ts`): training-step speed of edgetune against PyTorch
 * on this CPU, side by side in one invocation, for a BERT-mini-like and a BERT-small-like classifier with the
 * same initial weights and batches (dropout on, AdamW). For each config it prints examples/s of both, the
 * ratio edgetune ÷ PyTorch, peak memory of both, inference predictions/s of both, and a per-kernel profile of
 * one edgetune step; for the mini config also the "before" step without native kernels (plain tfjs wasm).
 * Steps alternate edgetune/PyTorch one by one (PyTorch stays loaded in a server process), so both see the
 * same machine load; medians are reported. Options: --steps N (measured steps each, default 5),
 * --no-baseline, --configs mini,small, --json. PyTorch runs tools/torch_bench/bert_step.py with
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
  threads?: number;
  log?: (line: string) => void;
}

export interface SideResult {
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
}

export interface TrainBenchResult {
  native: NativeKernelReport;
  backend: string;
  results: ConfigResult[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function runTrainBench(options: TrainBenchOptions = {}): Promise<TrainBenchResult> {
  const log = options.log ?? console.log;
  const steps = options.steps ?? 5;
  const python = options.python ?? "/usr/bin/python3";
  const threads = options.threads ?? 2;
  const backend = await initBackend("wasm");
  const native = await installNativeKernels({ build: true, threads });
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

async function benchConfig(
  shape: StepShape,
  dir: string,
  o: Required<Pick<TrainBenchOptions, "steps" | "python" | "threads" | "log">> & TrainBenchOptions,
): Promise<ConfigResult> {
  const trainer = createTrainer(shape, 42);
  const batches = makeBatches(shape, 4, 7);
  await exportForTorch(trainer, shape, batches, dir);
  const evalLogits = trainer.predict(batches[0]);
  const torchServer = await TorchServer.start(dir, { python: o.python, threads: o.threads });
  const inferMs: number[] = [], torchInfer: number[] = [];
  const etMs: number[] = [], torchStep: number[] = [];
  let stepSeed = 2;
  try {
    // alternate edgetune and PyTorch call by call, so both see the same machine load
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
    resetPeakRss();
    trainer.step(batches[0], 1); // warm-up: heap growth, BLAS buffers
    await torchServer.train();
    for (let i = 0; i < o.steps; i++) {
      const t0 = performance.now();
      trainer.step(batches[stepSeed % batches.length], stepSeed++);
      etMs.push(performance.now() - t0);
      torchStep.push((await torchServer.train()).ms);
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
      await installNativeKernels({ build: true, threads: o.threads });
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
    evalLogitsMaxDiff: Math.max(...torchLogits.map((v, i) => Math.abs(v - evalLogits[i]))),
  };
  printConfig(result, o.log);
  return result;
}

function printConfig(r: ConfigResult, log: (line: string) => void): void {
  const f = (x: number, d = 1) => x.toFixed(d);
  log(
    `\n--- ${r.config} (batch ${MINI.batch}, seq ${MINI.seq}); eval logits max |edgetune - torch| = ` +
      `${r.evalLogitsMaxDiff.toExponential(2)}`,
  );
  log(
    `                      edgetune      PyTorch ${r.torch.torchVersion} (${r.torch.threads} thr, ` +
      `OPENBLAS_CORETYPE=${r.torch.openblasCoretype})`,
  );
  log(
    `train examples/s   ${f(r.edgetune.examplesPerSecond).padStart(10)}   ${
      f(r.torch.examplesPerSecond).padStart(10)
    }` +
      `   ratio edgetune/PyTorch = ${f(r.ratio, 2)}`,
  );
  log(
    `median step ms     ${f(r.edgetune.medianStepMs, 0).padStart(10)}   ${
      f(r.torch.medianStepMs, 0).padStart(10)
    }` +
      `   steps: [${r.edgetune.stepMs.map((x) => f(x, 0))}] vs [${r.torch.stepMs.map((x) => f(x, 0))}]`,
  );
  log(
    `infer predictions/s${f(r.edgetune.predictionsPerSecond).padStart(10)}   ` +
      `${f(r.torch.predictionsPerSecond).padStart(10)}   ratio = ${f(r.inferenceRatio, 2)}`,
  );
  log(
    `peak RSS MB        ${f(r.edgetune.peakRssMb, 0).padStart(10)}   ${f(r.torch.peakRssMb, 0).padStart(10)}`,
  );
  if (r.baselineStepMs !== undefined) {
    log(
      `before (stock wasm kernels): ${f(r.baselineStepMs, 0)} ms/step, ratio ${f(r.baselineRatio!, 3)}; ` +
        `speed-up from native kernels ${f(r.baselineStepMs / r.edgetune.medianStepMs, 1)}x`,
    );
  }
  const total = r.profile.reduce((a, b) => a + b.ms, 0);
  log(`kernel profile of one edgetune step (${f(total, 0)} ms in kernels):`);
  for (const k of r.profile.slice(0, 12)) {
    log(
      `  ${k.kernel.padEnd(20)} ${f(k.ms).padStart(8)} ms  ${
        f((100 * k.ms) / total).padStart(5)
      }%  ${k.calls} calls`,
    );
  }
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
