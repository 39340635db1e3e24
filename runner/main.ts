/**
 * `deno task runner`: a standalone runner process (a container on a GPU host in production). It takes jobs
 * from the configured platform's queue until SIGTERM/SIGINT, then stops taking jobs and lets the running
 * one reach its next safe point. RUNNER_CONCURRENCY sets parallel jobs, RUNNER_CAPABILITIES what it can run
 * (e.g. `gpu`), EDGETUNE_BACKEND forces a tfjs backend.
 */
import { createPlatform } from "../shared/platform/mod.ts";
import { parsePlatformConfig } from "../shared/platform/config.ts";
import { startRunner } from "./worker.ts";

const env = Deno.env.toObject();
let config;
try {
  config = parsePlatformConfig(env);
} catch (error) {
  console.error(`edgetune runner: bad configuration\n${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
const platform = await createPlatform(config);
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
  concurrency: Number(env.RUNNER_CONCURRENCY ?? 1),
  capabilities: (env.RUNNER_CAPABILITIES ?? "").split(",").filter(Boolean),
});
const shutdown = async () => {
  console.log(`[runner] ${runner.runnerId} stopping`);
  await runner.stop();
  await platform.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
