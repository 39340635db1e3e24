/**
 * Liveness and readiness probes (no auth): /healthz answers 200 while the process serves HTTP; /readyz asks
 * the readiness probe (platform reachable, etc.) and answers 503 `{status:"not_ready"}` when it says no or
 * throws.
 */
import { Hono } from "hono";

export function healthRoutes(readiness: () => Promise<boolean>): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const ready = await readiness().catch(() => false);
    return ready ? c.json({ status: "ready" }) : c.json({ status: "not_ready" }, 503);
  });
  return app;
}
