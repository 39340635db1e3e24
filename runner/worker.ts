/**
 * The runner's job loop: take a delivery from the queue (only jobs this runner's capabilities allow), run it,
 * then ack, retry later or give up as the outcome says — `concurrency` loops side by side. `stop()` stops
 * taking new jobs and waits for the running ones; the queue's leases make a crash safe (an unacked job is
 * delivered again). The backend is initialised once per process and reported with every job.
 */
import type { Platform } from "../shared/platform/types.ts";
import { prepareBackend } from "../shared/core/backend/prepare.ts";
import { executeJob } from "./execute_job.ts";

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
  log?: (message: string) => void;
}

export interface RunningRunner {
  runnerId: string;
  backend: string;
  stop(): Promise<void>;
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
  const stopping = new AbortController();
  const ctx = {
    platform: options.platform,
    backend: backend.label,
    runnerId,
    leaseExtendMs: options.leaseExtendMs ?? 10_000,
    maxAttempts: options.maxAttempts ?? 3,
    log,
  };

  const loop = async () => {
    while (!stopping.signal.aborted) {
      const delivery = await options.platform.queue.take({
        signal: stopping.signal,
        capabilities: options.capabilities ?? [],
      });
      if (!delivery) continue;
      try {
        const outcome = await executeJob(delivery, ctx);
        if (outcome.kind === "ack") await delivery.ack();
        else if (outcome.kind === "retry") await delivery.retry(outcome.delayMs);
        else await delivery.giveUp(outcome.reason);
      } catch (error) {
        // The platform itself failed (storage down): leave the delivery unacked; its lease expiry redelivers it.
        log(`delivery of ${delivery.message.jobId} failed outside the job: ${error}`);
      }
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 1 }, loop);
  return {
    runnerId,
    backend: backend.name,
    async stop() {
      stopping.abort();
      await Promise.allSettled(loops);
    },
  };
}
