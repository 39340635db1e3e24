/**
 * Test support: a complete edgetune instance on the embedded platform in a fresh temporary directory,
 * listening on a free loopback port with an in-process runner, plus typed clients for two tenants.
 * Tests talk to it over real HTTP exactly as users do.
 */
import { createEmbeddedPlatform } from "../../shared/platform/mod.ts";
import { startServer } from "../../app/server.ts";
import { EdgetuneClient } from "../../shared/client/mod.ts";

export const TENANT_A_KEY = "test-key-tenant-a-0000000000";
export const TENANT_B_KEY = "test-key-tenant-b-1111111111";

export interface EmbeddedInstance {
  url: string;
  dataDir: string;
  tenantA: EdgetuneClient;
  tenantB: EdgetuneClient;
  stop(): Promise<void>;
}

export async function startEmbeddedInstance(options: { runner?: boolean } = {}): Promise<EmbeddedInstance> {
  const dataDir = await Deno.makeTempDir({ prefix: "edgetune-e2e-" });
  const platform = await createEmbeddedPlatform(dataDir);
  const server = await startServer({
    platform,
    apiKeys: new Map([[TENANT_A_KEY, "tenant-a"], [TENANT_B_KEY, "tenant-b"]]),
    runner: options.runner ?? true,
    backendPreference: Deno.env.get("EDGETUNE_BACKEND"),
    quiet: true,
  });
  return {
    url: server.url,
    dataDir,
    tenantA: new EdgetuneClient(server.url, TENANT_A_KEY),
    tenantB: new EdgetuneClient(server.url, TENANT_B_KEY),
    async stop() {
      await server.stop({ closePlatform: true });
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}
