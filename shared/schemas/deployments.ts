/**
 * Deployments: a stable, tenant-scoped name (e.g. `sentiment`) that clients predict against, pointing at
 * numbered versions (each one model). `traffic` maps one or two version numbers (as strings) to whole
 * percentages summing to 100; a request goes to a version by a hash of its request key (sticky) or at random.
 * Each change pushes the traffic it replaced onto `previous`, so a rollback restores the state before the last
 * change. `history` records who (tenant + API-key fingerprint, never the key) did what and when. Here: the
 * stored record and the create / update / rollback / predict request bodies, validated by the routes and
 * rendered into the OpenAPI document.
 */
import { z } from "zod";
import { resourceId } from "./resources.ts";

export const deploymentName = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
  "deployment names are 1-64 characters of A-Z a-z 0-9 _ - (starting with a letter or digit)",
);

const versionKey = z.string().regex(/^[1-9][0-9]{0,8}$/, "traffic keys are version numbers");
/** `{"<version>": percent}`: one or two versions, whole percentages summing to 100. */
export const trafficSplit = z.record(versionKey, z.number().int().min(0).max(100))
  .refine((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 2, {
    message: "traffic names one or two versions",
  })
  .refine((t) => Object.values(t).reduce((a, b) => a + b, 0) === 100, {
    message: "traffic percentages must sum to 100",
  });
export type TrafficSplit = z.infer<typeof trafficSplit>;

export const actor = z.object({
  tenant: z.string(),
  /** `key_` + the first 12 hex digits of the API key's SHA-256. */
  key_id: z.string(),
});
export type Actor = z.infer<typeof actor>;

export const deploymentVersion = z.object({
  version: z.number().int().positive(),
  model: z.string(),
  created_at: z.string(),
  created_by: actor,
});
export type DeploymentVersion = z.infer<typeof deploymentVersion>;

export const deploymentAction = z.enum(["create", "update", "traffic", "rollback"]);

export const historyEntry = z.object({
  at: z.string(),
  by: actor,
  action: deploymentAction,
  /** The version created (create/update), if any. */
  version: z.number().int().positive().nullable(),
  model: z.string().nullable(),
  traffic_before: trafficSplit.nullable(),
  traffic_after: trafficSplit,
});
export type HistoryEntry = z.infer<typeof historyEntry>;

export const deploymentRecord = z.object({
  object: z.literal("deployment"),
  name: z.string(),
  tenant: z.string(),
  versions: z.array(deploymentVersion),
  traffic: trafficSplit,
  /** Traffic states replaced by changes, newest last (rollback pops one). */
  previous: z.array(trafficSplit),
  history: z.array(historyEntry),
  created_at: z.string(),
  updated_at: z.string(),
});
export type DeploymentRecord = z.infer<typeof deploymentRecord>;

export const publicDeploymentSchema = deploymentRecord.omit({ tenant: true, previous: true }).extend({
  /** Whether a rollback has a state to return to. */
  can_roll_back: z.boolean(),
});

export const createDeploymentRequest = z.object({
  name: deploymentName,
  model: resourceId,
}).strict();

/**
 * PUT/PATCH: `model` creates a new version (all traffic, or `canary_percent` of it with the rest on the
 * version that had the most); `traffic` alone re-splits existing versions; `canary_percent` alone moves the
 * newer of two split versions to that share.
 */
export const updateDeploymentRequest = z.object({
  model: resourceId.optional(),
  traffic: trafficSplit.optional(),
  canary_percent: z.number().int().min(0).max(100).optional(),
}).strict().refine(
  (b) => b.model !== undefined || b.traffic !== undefined || b.canary_percent !== undefined,
  {
    message: "send model, traffic or canary_percent",
  },
).refine((b) => !(b.traffic !== undefined && (b.model !== undefined || b.canary_percent !== undefined)), {
  message: "traffic cannot be combined with model or canary_percent",
  path: ["traffic"],
});
export type UpdateDeploymentRequest = z.infer<typeof updateDeploymentRequest>;

/** Optional body of a rollback: a specific version to put all traffic on. */
export const rollbackRequest = z.object({ version: z.number().int().positive().optional() }).strict();
