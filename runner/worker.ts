/**
 * The runner's job loop: take a delivery from the queue (only jobs this runner's capabilities allow), run it,
 * then ack, retry later or give up as the outcome says — `concurrency` loops side by side. The runner
 * registers itself in the meta collection "runners" (capabilities, backend, memory, start time, a `last_seen`
 * heartbeat, the jobs it runs) and removes the record when it stops. `stop()` stops taking new jobs and
 * waits for the running ones; `shutdown()` (SIGTERM) also makes each running job checkpoint at its next
 * step, go back to `queued` and be released for immediate redelivery. The queue's leases make a crash safe
 * (an unacked job is delivered again and resumes from its last checkpoint). The backend is initialised once
 * per process and reported with every job.
 */
import type { Platform } from "../shared/platform/types.ts";
import { prepareBackend } from "../shared/core/backend/prepare.ts";
import { executeJob } from "./execute_job.ts";
import type { CheckpointPolicy } from "./checkpoints.ts";

export interface RunnerOptions {
  platform: Platform;
  runnerId?: string;
  capabilities?: string[];
  concurrency?: number;
  /** EDGETUNE_BACKEND: force a tfjs backend. */
  backendPreference?: string;
  /** EDGETUNE_NATIVE=off: no native kernels on wasm. */
  nativeKernels?: boolean;
  leaseExtendMs?: number;
  maxAttempts?: number;
  /** RUNNER_CHECKPOINT_STEPS / RUNNER_CHECKPOINT_SECONDS (default: no periodic checkpoints). */
  checkpoints?: CheckpointPolicy;
  /** How often `last_seen` is refreshed in the runners collection (default 10 s). */
  heartbeatMs?: number;
  log?: (message: string) => void;
}

/** A runner's record in the meta collection "runners", keyed by its id. */
export interface RunnerRecord {
  id: string;
  capabilities: string[];
  backend: string;
  concurrency: number;
  /** Total memory of the host (bytes), for scheduling decisions and display. */
  memory_bytes: number;
  /** Job ids (`<tenant>.<jobId>`) it is running now. */
  running: string[];
  started_at: string;
  last_seen: string;
}

export interface RunningRunner {
  runnerId: string;
  backend: string;
  /** Stop taking jobs; wait for the running ones to finish. */
  stop(): Promise<void>;
  /** Stop taking jobs; checkpoint and release the running ones at their next step; wait for that. */
  shutdown(): Promise<void>;
}

export async function startRunner(options: RunnerOptions): Promise<RunningRunner> {
  const log = options.log ?? ((message: string) => console.log(`[runner] ${message}`));
  const runnerId = options.runnerId ?? `runner-${crypto.randomUUID().slice(0, 8)}`;
  const backend = await prepareBackend({
    preference: options.backendPreference,
    native: options.nativeKernels,
  });
  log(
    `${runnerId} ready on tfjs backend '${backend.label}'${
      backend.native?.reason ? ` (${backend.native.reason})` : ""
    }`,
  );
  const { meta } = options.platform;
  const stopping = new AbortController();
  let shuttingDown = false;
  const running = new Set<string>();
  const record = (): RunnerRecord => ({
    id: runnerId,
    capabilities: [...(options.capabilities ?? [])].sort(),
    backend: backend.label,
    concurrency: options.concurrency ?? 1,
    memory_bytes: Deno.systemMemoryInfo().total,
    running: [...running].sort(),
    started_at: startedAt,
    last_seen: new Date().toISOString(),
  });
  const startedAt = new Date().toISOString();
  let registration = await meta.create<RunnerRecord>("runners", runnerId, record())
    .catch(async () => await meta.get<RunnerRecord>("runners", runnerId));
  const heartbeat = async () => {
    try {
      const current = registration ?? await meta.get<RunnerRecord>("runners", runnerId);
      registration = current
        ? await meta.update("runners", runnerId, record(), current.revision)
        : await meta.create("runners", runnerId, record());
    } catch (error) {
      registration = null; // re-read next time (a lost race or a storage hiccup)
      log(`heartbeat of ${runnerId} failed: ${error}`);
    }
  };
  const heartbeatTimer = setInterval(heartbeat, options.heartbeatMs ?? 10_000);
  const ctx = {
    platform: options.platform,
    backend: backend.label,
    runnerId,
    leaseExtendMs: options.leaseExtendMs ?? 10_000,
    maxAttempts: options.maxAttempts ?? 3,
    checkpoints: options.checkpoints,
    shuttingDown: () => shuttingDown,
    log,
  };

  const loop = async () => {
    while (!stopping.signal.aborted) {
      const delivery = await options.platform.queue.take({
        signal: stopping.signal,
        capabilities: options.capabilities ?? [],
      });
      if (!delivery) continue;
      const jobKey = `${delivery.message.tenant}.${delivery.message.jobId}`;
      running.add(jobKey);
      void heartbeat();
      try {
        const outcome = await executeJob(delivery, ctx);
        if (outcome.kind === "ack") await delivery.ack();
        else if (outcome.kind === "retry") await delivery.retry(outcome.delayMs);
        else if (outcome.kind === "give_up") await delivery.giveUp(outcome.reason);
        // lease_lost: the delivery is another runner's now; nothing to settle.
      } catch (error) {
        // The platform itself failed (storage down): leave the delivery unacked; its lease expiry redelivers it.
        log(`delivery of ${delivery.message.jobId} failed outside the job: ${error}`);
      } finally {
        running.delete(jobKey);
      }
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 1 }, loop);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      stopping.abort();
      await Promise.allSettled(loops);
      clearInterval(heartbeatTimer);
      await meta.delete("runners", runnerId).catch((error) =>
        log(`could not deregister ${runnerId}: ${error}`)
      );
    })();
  return {
    runnerId,
    backend: backend.name,
    stop,
    shutdown() {
      shuttingDown = true;
      return stop();
    },
  };
}
