/**
 * `deno task runner`: a standalone runner process (a container on a GPU host in production). It takes jobs
 * from the configured platform's queue until SIGTERM/SIGINT; then it stops taking jobs, makes the running
 * job checkpoint at its next step and puts it back on the queue for another runner, deregisters and exits.
 * RUNNER_CONCURRENCY sets parallel jobs, RUNNER_CAPABILITIES what it can run (e.g. `gpu`), RUNNER_ID its
 * name, RUNNER_CHECKPOINT_STEPS / RUNNER_CHECKPOINT_SECONDS how often training state is checkpointed (default
 * every 50 steps or 300 s), EDGETUNE_LEASE_MS the queue lease (default 60 000; every process must agree),
 * EDGETUNE_BACKEND forces a tfjs backend.
 */
import { z } from "zod";
import { createPlatform } from "../shared/platform/mod.ts";
import { parsePlatformConfig } from "../shared/platform/config.ts";
import { startRunner } from "./worker.ts";

const count = (name: string, min: number) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`);
const runnerEnv = z.object({
  RUNNER_CONCURRENCY: count("RUNNER_CONCURRENCY", 1).max(64).default(1),
  RUNNER_CHECKPOINT_STEPS: count("RUNNER_CHECKPOINT_STEPS", 0).default(50),
  RUNNER_CHECKPOINT_SECONDS: z.coerce.number({ error: "RUNNER_CHECKPOINT_SECONDS must be a number" })
    .min(0, "RUNNER_CHECKPOINT_SECONDS must be at least 0").default(300),
  EDGETUNE_LEASE_MS: count("EDGETUNE_LEASE_MS", 1000).default(60_000),
  RUNNER_TEST_UPLOAD_STALL_MS: count("RUNNER_TEST_UPLOAD_STALL_MS", 0).default(0),
});

// Listen for signals first: a SIGTERM while starting up shuts down cleanly once started, never kills.
let signalled = false;
let onSignal: (() => Promise<void>) | null = null;
const handleSignal = () => {
  if (signalled) return;
  signalled = true;
  onSignal?.();
};
Deno.addSignalListener("SIGINT", handleSignal);
Deno.addSignalListener("SIGTERM", handleSignal);

const env = Deno.env.toObject();
let config;
let settings;
try {
  config = parsePlatformConfig(env);
  const present = Object.fromEntries(
    Object.keys(runnerEnv.shape).map((name) => [name, env[name]?.trim() ? env[name] : undefined]),
  );
  const parsed = runnerEnv.safeParse(present);
  if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => `  - ${issue.message}`).join("\n"));
  settings = parsed.data;
} catch (error) {
  console.error(`edgetune runner: bad configuration\n${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
const platform = await createPlatform(config, { leaseMs: settings.EDGETUNE_LEASE_MS });
if (platform.kind === "embedded") {
  console.error(
    "edgetune runner: a standalone runner needs the distributed platform (set NATS_URL and S3_*); " +
      "with the embedded default the runner runs inside `deno task start`.",
  );
  Deno.exit(2);
}
const runner = await startRunner({
  platform,
  runnerId: env.RUNNER_ID,
  backendPreference: env.EDGETUNE_BACKEND,
  nativeKernels: env.EDGETUNE_NATIVE !== "off",
  concurrency: settings.RUNNER_CONCURRENCY,
  capabilities: (env.RUNNER_CAPABILITIES ?? "").split(",").map((c) => c.trim()).filter(Boolean),
  leaseExtendMs: Math.min(10_000, Math.floor(settings.EDGETUNE_LEASE_MS / 3)),
  heartbeatMs: Math.min(10_000, Math.floor(settings.EDGETUNE_LEASE_MS / 3)),
  checkpoints: {
    steps: settings.RUNNER_CHECKPOINT_STEPS,
    seconds: settings.RUNNER_CHECKPOINT_SECONDS,
    stallMs: settings.RUNNER_TEST_UPLOAD_STALL_MS,
  },
});
const shutdown = async () => {
  console.log(`[runner] ${runner.runnerId} shutting down: checkpointing and releasing running jobs`);
  await runner.shutdown();
  await platform.close();
  Deno.exit(0);
};
if (signalled) await shutdown();
onSignal = shutdown;
