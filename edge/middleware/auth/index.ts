/**
 * Bearer API-key authentication: `Authorization: Bearer <key>` is looked up in the key → tenant map and the
 * tenant is put on the context for the routes; a missing, malformed or unknown key answers 401 `unauthorized`
 * (with a `WWW-Authenticate` challenge) before any route runs. Tenant names are checked once
 * at start: they become parts of record keys and blob paths.
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../../shared/schemas/errors.ts";
import type { EdgeEnv } from "../../deps.ts";

/** Tenants name record keys and blob paths, so they must be safe tokens. */
export const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws unless every tenant name matches TENANT_PATTERN. */
export function assertTenants(apiKeys: ReadonlyMap<string, string>): void {
  for (const tenant of apiKeys.values()) {
    if (!TENANT_PATTERN.test(tenant)) {
      throw new Error(`tenant '${tenant}' must be 1-64 characters of A-Z a-z 0-9 _ -`);
    }
  }
}

export function apiKeyAuth(apiKeys: ReadonlyMap<string, string>): MiddlewareHandler<EdgeEnv> {
  assertTenants(apiKeys);
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const tenant = match ? apiKeys.get(match[1]) : undefined;
    if (tenant === undefined) {
      c.header("WWW-Authenticate", 'Bearer realm="edgetune"');
      throw new ApiError(
        401,
        "unauthorized",
        match ? "unknown API key" : "missing API key: send 'Authorization: Bearer <key>'",
      );
    }
    c.set("tenant", tenant);
    await next();
  };
}
