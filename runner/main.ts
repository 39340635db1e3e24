/**
 * `deno task runner`: a standalone runner process (a container on a GPU host in production). It takes jobs
 * from the configured platform's queue until SIGTERM/SIGINT; then it stops taking jobs, makes the running
 * job checkpoint at its next step and puts it back on the queue for another runner, deregisters and exits.
 * RUNNER_CONCURRENCY sets parallel jobs, RUNNER_CAPABILITIES what it can run (e.g. `gpu`), RUNNER_ID its
 * name, RUNNER_CHECKPOINT_STEPS / RUNNER_CHECKPOINT_SECONDS how often training state is checkpointed (default
 * every 50 steps or 300 s), EDGETUNE_LEASE_MS the queue lease (default 60 000; every process must agree),
 * EDGETUNE_BACKEND forces a tfjs backend.
 */
import { createPlatform } from "../shared/platform/mod.ts";
import { parsePlatformConfig } from "../shared/platform/config.ts";
import { parseRunnerSettings } from "./settings.ts";
import { startRunner } from "./worker.ts";

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
  settings = parseRunnerSettings(env);
} catch (error) {
  console.error(`edgetune runner: bad configuration\n${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
const platform = await createPlatform(config, { leaseMs: settings.leaseMs });
if (platform.kind === "embedded") {
  console.error(
    "edgetune runner: a standalone runner needs the distributed platform (set NATS_URL and S3_*); " +
      "with the embedded default the runner runs inside `deno task start`.",
  );
  Deno.exit(2);
}
const runner = await startRunner({ platform, ...settings.options });
const shutdown = async () => {
  console.log(`[runner] ${runner.runnerId} shutting down: checkpointing and releasing running jobs`);
  await runner.shutdown();
  await platform.close();
  Deno.exit(0);
};
if (signalled) await shutdown();
onSignal = shutdown;
