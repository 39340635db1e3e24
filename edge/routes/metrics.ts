/**
 * GET /metrics — Prometheus text format (0.0.4) of the serving metrics plus training jobs by status and the
 * runner count. Outside /v1 and its tenant keys: open by default (as TEI's), or guarded by a separate bearer
 * token when EDGETUNE_METRICS_TOKEN is set (401 without it). Metrics carry tenant and deployment names, never
 * inputs or keys.
 */
import { Hono } from "hono";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { Serving } from "../serving/runtime.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function metricsRoutes(serving: Serving): Hono {
  const app = new Hono();
  app.get("/metrics", async (c) => {
    const token = serving.settings.metricsToken;
    if (token !== null) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
      if (given !== token) {
        c.header("WWW-Authenticate", 'Bearer realm="edgetune-metrics"');
        throw new ApiError(401, "unauthorized", "GET /metrics needs 'Authorization: Bearer <metrics token>'");
      }
    }
    return c.body(await serving.metrics.registry.render(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  });
  return app;
}
