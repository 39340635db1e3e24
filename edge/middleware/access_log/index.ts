/**
 * Access logging: one structured entry per request (method, path, status, duration, tenant when known),
 * handed to a sink the process chooses (edge/main.ts: a JSON line on stdout). Query strings are left out so
 * nothing a client put in a URL lands in the logs.
 */
import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../../deps.ts";

export interface AccessLogEntry {
  method: string;
  path: string;
  status: number;
  ms: number;
  tenant: string | null;
}

export function accessLog(sink: (entry: AccessLogEntry) => void): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const start = performance.now();
    await next();
    sink({
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      tenant: c.get("tenant") ?? null,
    });
  };
}
