/**
 * What the edge app is built from and what its handlers share: the platform seams, the API-key → tenant map,
 * upload limits, the readiness probe, and the Hono environment type that carries the authenticated tenant
 * from the auth middleware to the routes.
 */
import type { Platform } from "../shared/platform/types.ts";
import { DEFAULT_MAX_FIELD_CHARS } from "../shared/data/mod.ts";

export interface EdgeLimits {
  /** Largest dataset upload (request body); default 100 MB. */
  maxUploadBytes: number;
  /** Largest model-folder upload (weights stream to the blob store); default 2 GiB. */
  maxModelUploadBytes: number;
  /** Longest dataset field / predict input in characters; default 100,000. */
  maxFieldChars: number;
}

export interface AppDeps {
  platform: Platform;
  /** API key → tenant. */
  apiKeys: Map<string, string>;
  limits?: Partial<EdgeLimits>;
  /** Readiness probe for /readyz (default: always ready). */
  readiness?: () => Promise<boolean>;
}

export const DEFAULT_LIMITS: EdgeLimits = {
  maxUploadBytes: 100 * 1024 * 1024,
  maxModelUploadBytes: 2 * 1024 * 1024 * 1024,
  maxFieldChars: DEFAULT_MAX_FIELD_CHARS,
};

/** Hono environment of every /v1 handler: the auth middleware sets `tenant`. */
export interface EdgeEnv {
  Variables: { tenant: string };
}
