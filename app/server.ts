/**
 * The composition root of one edgetune process: the edge's Hono app on a port (0 = any free port) plus,
 * optionally, an in-process runner, around one platform. It lives outside edge/ and runner/ so that neither
 * imports the other. `deno task start`, the demo and the end-to-end tests all start edgetune through this,
 * so what the tests exercise is what users run. `stop()` closes the listener, stops the runner and, when
 * asked, the platform; `shutdown()` (SIGTERM) lets the runner checkpoint and release its jobs first.
 */
import { createApp } from "../edge/app.ts";
import { type RunnerOptions, startRunner } from "../runner/worker.ts";
import { prepareBackend } from "../shared/core/backend/prepare.ts";
import type { Platform } from "../shared/platform/types.ts";

export interface ServerOptions {
  platform: Platform;
  apiKeys: Map<string, string>;
  port?: number;
  hostname?: string;
  /** Run an in-process runner (the embedded default does). */
  runner?: boolean;
  backendPreference?: string;
  /** false: no native kernels on wasm (EDGETUNE_NATIVE=off). */
  nativeKernels?: boolean;
  runnerCapabilities?: string[];
  /** The rest of the in-process runner's settings (checkpoints, lease extension; runner/settings.ts). */
  runnerOptions?: Omit<RunnerOptions, "platform">;
  quiet?: boolean;
  /** Log one JSON line per request. */
  accessLog?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  /** The tfjs backend this process computes on. */
  backend: string;
  stop(options?: { closePlatform?: boolean }): Promise<void>;
  /** SIGTERM: stop listening; the runner checkpoints its running jobs and puts them back on the queue. */
  shutdown(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.quiet ? () => {} : (message: string) => console.log(`[runner] ${message}`);
  const runner = options.runner === false ? null : await startRunner({
    ...options.runnerOptions,
    platform: options.platform,
    backendPreference: options.backendPreference,
    nativeKernels: options.nativeKernels,
    capabilities: options.runnerCapabilities,
    log,
  });
  // Serving needs a tfjs backend too (prepared once per process; the runner may have done it already).
  const backend = (await prepareBackend({
    preference: options.backendPreference,
    native: options.nativeKernels,
  })).label;
  const app = createApp({
    platform: options.platform,
    apiKeys: options.apiKeys,
    readiness: () => Promise.resolve(true),
  }, {
    accessLog: options.accessLog ? (entry) => console.log(JSON.stringify(entry)) : undefined,
    preloadDeployments: true,
  });
  const hostname = options.hostname ?? "127.0.0.1";
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve({
    port: options.port ?? 0,
    hostname,
    onListen: ({ port }) => resolve(port),
  }, app.fetch);
  const port = await listening;
  const shownHost = hostname === "0.0.0.0" ? "localhost" : hostname;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    backend,
    async stop({ closePlatform = false } = {}) {
      await server.shutdown();
      await runner?.stop();
      if (closePlatform) await options.platform.close();
    },
    async shutdown() {
      await server.shutdown();
      await runner?.shutdown();
      await options.platform.close();
    },
  };
}
