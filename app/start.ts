/**
 * `deno task start`: one edgetune process — the HTTP API plus, unless EDGETUNE_RUNNER=off, one in-process
 * runner — on the platform the environment selects (embedded files under EDGETUNE_DATA_DIR by default; NATS
 * + S3 when NATS_URL and S3_ENDPOINT are set). API keys come from EDGETUNE_API_KEYS (`key:tenant,...`) and/or
 * EDGETUNE_API_KEY (tenant `default`); with neither set, a key is generated and printed so the quickstart works.
 * The runner reads its own settings (runner/settings.ts). SIGTERM lets the runner checkpoint and requeue.
 */
import { createPlatform } from "../shared/platform/mod.ts";
import { parsePlatformConfig } from "../shared/platform/config.ts";
import { parseApiKeys } from "../edge/api_keys.ts";
import { parseRunnerSettings } from "../runner/settings.ts";
import { startServer } from "./server.ts";

const env = Deno.env.toObject();
let config, keys, runnerSettings;
try {
  config = parsePlatformConfig(env);
  keys = parseApiKeys(env);
  runnerSettings = parseRunnerSettings(env);
} catch (error) {
  console.error(`edgetune: bad configuration\n${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
const platform = await createPlatform(config, { leaseMs: runnerSettings.leaseMs });
if (keys.generatedKey) {
  console.log(
    `edgetune: no EDGETUNE_API_KEY set; generated one for tenant 'default':\n  ${keys.generatedKey}`,
  );
}
const withRunner = env.EDGETUNE_RUNNER !== "off";
const server = await startServer({
  platform,
  apiKeys: keys.apiKeys,
  port: Number(env.PORT ?? 8080),
  hostname: env.HOST ?? "0.0.0.0",
  runner: withRunner,
  backendPreference: runnerSettings.options.backendPreference,
  nativeKernels: runnerSettings.options.nativeKernels,
  runnerCapabilities: runnerSettings.options.capabilities,
  runnerOptions: runnerSettings.options,
  accessLog: env.EDGETUNE_ACCESS_LOG !== "off",
});
console.log(
  `edgetune (${platform.kind} platform, tfjs backend '${server.backend}', ` +
    `${withRunner ? "in-process runner" : "no runner"}) listening on ${server.url}`,
);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("edgetune: shutting down");
  await server.shutdown();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
