/**
 * `deno task start`: one edgetune process — the HTTP API plus, unless EDGETUNE_RUNNER=off, one in-process
 * runner — on the platform the environment selects (embedded files under EDGETUNE_DATA_DIR by default; NATS
 * + S3 when NATS_URL and S3_ENDPOINT are set). API keys come from EDGETUNE_API_KEYS (`key:tenant,...`) and/or
 * EDGETUNE_API_KEY (tenant `default`); with neither set, a key is generated and printed so the quickstart works.
 */
import { createPlatform } from "../shared/platform/mod.ts";
import { parsePlatformConfig } from "../shared/platform/config.ts";
import { parseApiKeys } from "./api_keys.ts";
import { startServer } from "./server.ts";

const env = Deno.env.toObject();
let config, keys;
try {
  config = parsePlatformConfig(env);
  keys = parseApiKeys(env);
} catch (error) {
  console.error(`edgetune: bad configuration\n${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
const platform = await createPlatform(config);
if (keys.generatedKey) {
  console.log(
    `edgetune: no EDGETUNE_API_KEY set; generated one for tenant 'default':\n  ${keys.generatedKey}`,
  );
}
const server = await startServer({
  platform,
  apiKeys: keys.apiKeys,
  port: Number(env.PORT ?? 8080),
  hostname: env.HOST ?? "0.0.0.0",
  runner: env.EDGETUNE_RUNNER !== "off",
  backendPreference: env.EDGETUNE_BACKEND,
  nativeKernels: env.EDGETUNE_NATIVE !== "off",
  runnerCapabilities: (env.RUNNER_CAPABILITIES ?? "").split(",").filter(Boolean),
  accessLog: env.EDGETUNE_ACCESS_LOG !== "off",
});
console.log(
  `edgetune (${platform.kind} platform${
    server.backend ? `, runner on tfjs '${server.backend}'` : ", no runner"
  })` +
    ` listening on ${server.url}`,
);

const shutdown = async () => {
  console.log("edgetune: shutting down");
  await server.stop({ closePlatform: true });
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
