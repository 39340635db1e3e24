/**
 * The edge HTTP API as a Hono app, built from its dependencies (platform seams, API keys, limits, readiness
 * probe) so tests can run it in memory with `app.request(...)` and edge/main.ts can serve it. Unauthenticated
 * probes at /healthz and /readyz (ready also needs every deployed model loaded), Prometheus metrics at
 * /metrics (see edge/routes/metrics.ts); everything under /v1 needs a bearer API key and sees only its
 * tenant's resources. Errors of every kind leave as `{error:{code,message,details}}`.
 */
import { Hono } from "hono";
import { type AppDeps, DEFAULT_LIMITS, type EdgeEnv, type EdgeLimits } from "./deps.ts";
import { accessLog, type AccessLogEntry } from "./middleware/access_log/index.ts";
import { apiKeyAuth } from "./middleware/auth/index.ts";
import { errorHandler, notFoundRoute } from "./middleware/errors/index.ts";
import { datasetRoutes } from "./routes/datasets.ts";
import { healthRoutes } from "./routes/health.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { jobEventRoutes } from "./routes/job_events.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { modelRoutes } from "./routes/models.ts";
import { predictRoutes } from "./routes/predict.ts";
import { deploymentRoutes } from "./routes/deployments.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { createServing } from "./serving/runtime.ts";
import { processEnv, type ServeSettings, serveSettingsFromEnv } from "./serving/settings.ts";

export type { AppDeps, EdgeLimits } from "./deps.ts";
export type { AccessLogEntry } from "./middleware/access_log/index.ts";

export interface AppOptions {
  /** Most models kept loaded for predict (default: bounded by SERVE_CACHE_MB only). */
  modelCacheSize?: number;
  /** Start loading every deployed model at once (the server does; default: at the first /readyz probe). */
  preloadDeployments?: boolean;
  /** Serving settings over the environment's (SERVE_*, EDGETUNE_METRICS_TOKEN); see edge/serving/settings.ts. */
  serving?: Partial<ServeSettings>;
  /** SSE heartbeat period (default 15 s). */
  heartbeatMs?: number;
  /** Where unexpected errors are logged (default: one JSON line on stderr). */
  logError?: (message: string, error: unknown) => void;
  /** Receives one entry per request when given (no access log otherwise). */
  accessLog?: (entry: AccessLogEntry) => void;
}

export function createApp(deps: AppDeps, options: AppOptions = {}): Hono<EdgeEnv> {
  const given = Object.entries(deps.limits ?? {}).filter(([, value]) => value !== undefined);
  const limits: EdgeLimits = { ...DEFAULT_LIMITS, ...Object.fromEntries(given) };
  const settings = { ...serveSettingsFromEnv(processEnv()), ...options.serving };
  const serving = createServing(deps.platform, settings, options.modelCacheSize);
  const readiness = deps.readiness ?? (() => Promise.resolve(true));
  if (options.preloadDeployments) void serving.ready();
  const app = new Hono<EdgeEnv>();
  app.onError(errorHandler(options.logError));
  app.notFound(notFoundRoute);
  if (options.accessLog) app.use("*", accessLog(options.accessLog));

  app.route("/", healthRoutes(async () => (await readiness()) && (await serving.ready())));
  app.route("/", metricsRoutes(serving));
  app.route("/", openApiRoutes({ maxFieldChars: limits.maxFieldChars }));
  app.route("/", dashboardRoutes());

  app.use("/v1/*", apiKeyAuth(deps.apiKeys));
  app.route("/v1/datasets", datasetRoutes(deps.platform, limits));
  app.route("/v1/models", modelRoutes(deps.platform, limits, serving.cache));
  app.route("/v1/models", predictRoutes(deps.platform, limits, serving));
  app.route("/v1/deployments", deploymentRoutes(deps.platform, limits, serving));
  app.route("/v1/jobs", jobRoutes(deps.platform));
  app.route("/v1/jobs", jobEventRoutes(deps.platform, { heartbeatMs: options.heartbeatMs }));
  return app;
}
