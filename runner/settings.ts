/**
 * The runner's own environment, validated by zod, for both ways a runner runs: the standalone process
 * (runner/main.ts) and the in-process runner of `deno task start` (app/start.ts). Every problem is listed
 * with the variable's name. Platform settings (NATS_URL, S3_*, EDGETUNE_DATA_DIR) are parsed separately by
 * shared/platform/config.ts.
 */
import { z } from "zod";
import type { RunnerOptions } from "./worker.ts";

const count = (name: string, min: number) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`);

const runnerEnv = z.object({
  RUNNER_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "RUNNER_ID must be 1-64 of A-Z a-z 0-9 _ -")
    .optional(),
  RUNNER_CONCURRENCY: count("RUNNER_CONCURRENCY", 1).max(64).default(1),
  RUNNER_CAPABILITIES: z.string().default(""),
  RUNNER_CHECKPOINT_STEPS: count("RUNNER_CHECKPOINT_STEPS", 0).default(50),
  RUNNER_CHECKPOINT_SECONDS: z.coerce.number({ error: "RUNNER_CHECKPOINT_SECONDS must be a number" })
    .min(0, "RUNNER_CHECKPOINT_SECONDS must be at least 0").default(300),
  EDGETUNE_LEASE_MS: count("EDGETUNE_LEASE_MS", 1000).default(60_000),
  EDGETUNE_BACKEND: z.enum(["tensorflow", "wasm", "cpu"], {
    error: "EDGETUNE_BACKEND must be tensorflow, wasm or cpu",
  }).optional(),
  EDGETUNE_NATIVE: z.enum(["on", "off"], { error: "EDGETUNE_NATIVE must be on or off" }).default("on"),
  RUNNER_TEST_UPLOAD_STALL_MS: count("RUNNER_TEST_UPLOAD_STALL_MS", 0).default(0),
});

export interface RunnerSettings {
  /** The queue lease every process must agree on (pass it to createPlatform). */
  leaseMs: number;
  /** startRunner's options, less the platform. */
  options: Omit<RunnerOptions, "platform">;
}

/** Parses the runner's variables; throws an Error listing every bad one. */
export function parseRunnerSettings(env: Record<string, string | undefined>): RunnerSettings {
  const present = Object.fromEntries(
    Object.keys(runnerEnv.shape).map((name) => [name, env[name]?.trim() ? env[name] : undefined]),
  );
  const parsed = runnerEnv.safeParse(present);
  if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => `  - ${issue.message}`).join("\n"));
  const s = parsed.data;
  const heartbeatMs = Math.min(10_000, Math.floor(s.EDGETUNE_LEASE_MS / 3));
  return {
    leaseMs: s.EDGETUNE_LEASE_MS,
    options: {
      runnerId: s.RUNNER_ID,
      backendPreference: s.EDGETUNE_BACKEND,
      nativeKernels: s.EDGETUNE_NATIVE !== "off",
      concurrency: s.RUNNER_CONCURRENCY,
      capabilities: s.RUNNER_CAPABILITIES.split(",").map((c) => c.trim()).filter(Boolean),
      leaseExtendMs: heartbeatMs,
      heartbeatMs,
      checkpoints: {
        steps: s.RUNNER_CHECKPOINT_STEPS,
        seconds: s.RUNNER_CHECKPOINT_SECONDS,
        stallMs: s.RUNNER_TEST_UPLOAD_STALL_MS,
      },
    },
  };
}
