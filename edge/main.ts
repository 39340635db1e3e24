/**
 * The edge alone (the `edge` container of the distributed deployment): the HTTP API on PORT over the
 * platform the environment selects, with no runner in the process — runners run as their own processes
 * (runner/main.ts). API keys come from EDGETUNE_API_KEYS (`key:tenant,...`) and/or EDGETUNE_API_KEY. The
 * tfjs backend (EDGETUNE_BACKEND, EDGETUNE_NATIVE) is prepared for serving predictions. For one process with
 * an in-process runner, use `deno task start` (app/start.ts).
 */
import { createApp } from "./app.ts";
import { parseApiKeys } from "./api_keys.ts";
import { createPlatform } from "../shared/platform/mod.ts";
import { parsePlatformConfig } from "../shared/platform/config.ts";
import { prepareBackend } from "../shared/core/backend/prepare.ts";

const env = Deno.env.toObject();
let config, keys;
try {
  config = parsePlatformConfig(env);
  keys = parseApiKeys(env);
} catch (error) {
  console.error(`edgetune edge: bad configuration\n${error instanceof Error ? error.message : error}`);
  Deno.exit(2);
}
const leaseMs = env.EDGETUNE_LEASE_MS ? Number(env.EDGETUNE_LEASE_MS) : undefined;
if (leaseMs !== undefined && !(Number.isInteger(leaseMs) && leaseMs >= 1000)) {
  console.error("edgetune edge: bad configuration\n  - EDGETUNE_LEASE_MS must be a whole number ≥ 1000");
  Deno.exit(2);
}
const platform = await createPlatform(config, { leaseMs });
if (keys.generatedKey) {
  console.log(
    `edgetune: no EDGETUNE_API_KEY set; generated one for tenant 'default':\n  ${keys.generatedKey}`,
  );
}
const backend = await prepareBackend({
  preference: env.EDGETUNE_BACKEND,
  native: env.EDGETUNE_NATIVE !== "off",
});
const app = createApp({ platform, apiKeys: keys.apiKeys, readiness: () => Promise.resolve(true) }, {
  preloadDeployments: true,
  accessLog: env.EDGETUNE_ACCESS_LOG === "off" ? undefined : (entry) => console.log(JSON.stringify(entry)),
});
const server = Deno.serve({
  port: Number(env.PORT ?? 8080),
  hostname: env.HOST ?? "0.0.0.0",
  onListen: ({ hostname, port }) =>
    console.log(
      `edgetune edge (${platform.kind} platform, tfjs '${backend.label}') on http://${hostname}:${port}`,
    ),
}, app.fetch);

const shutdown = async () => {
  await server.shutdown();
  await platform.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
