/**
 * Crash-safe training state for one job: the encoded TrainerState lives in the blob store at
 * `checkpoints/<tenant>/<jobId>/state.bin`, replaced atomically at every checkpoint (a reader — the next
 * runner — sees the previous state or the new one, never a torn one) and announced with a `checkpoint
 * {step, bytes}` event once stored. A redelivered job loads it and resumes; the runner deletes it after the
 * job's final artifacts are stored. The upload is streamed in chunks; `stallMs` (test-only, env
 * RUNNER_TEST_UPLOAD_STALL_MS) pauses it half-way, after a `checkpoint_upload` event, so a chaos test can
 * kill a runner while a checkpoint upload is in flight.
 */
import type { Platform } from "../shared/platform/types.ts";
import {
  decodeTrainerState,
  encodeTrainerState,
  type TrainerState,
} from "../shared/core/train/trainer_state.ts";

/** When to checkpoint (RUNNER_CHECKPOINT_STEPS / RUNNER_CHECKPOINT_SECONDS); none set = never. */
export interface CheckpointPolicy {
  steps?: number;
  seconds?: number;
  /** Test-only: pause each upload half-way for this long (RUNNER_TEST_UPLOAD_STALL_MS). */
  stallMs?: number;
}

const CHUNK = 64 * 1024;

export function checkpointKey(tenant: string, jobId: string): string {
  return `checkpoints/${tenant}/${jobId}/state.bin`;
}

export class JobCheckpoints {
  readonly key: string;

  constructor(
    private readonly platform: Platform,
    tenant: string,
    jobId: string,
    private readonly policy: CheckpointPolicy,
    private readonly eventStream = `${tenant}.${jobId}`,
  ) {
    this.key = checkpointKey(tenant, jobId);
  }

  /** True when the policy asks for periodic checkpoints. */
  get enabled(): boolean {
    return (this.policy.steps ?? 0) > 0 || (this.policy.seconds ?? 0) > 0;
  }

  get every(): { steps?: number; seconds?: number } | undefined {
    if (!this.enabled) return undefined;
    return {
      steps: this.policy.steps && this.policy.steps > 0 ? this.policy.steps : undefined,
      seconds: this.policy.seconds && this.policy.seconds > 0 ? this.policy.seconds : undefined,
    };
  }

  /** The stored state, or null when there is none. A state that cannot be decoded is reported and dropped. */
  async load(): Promise<TrainerState | null> {
    const stream = await this.platform.blobs.get(this.key);
    if (!stream) return null;
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    try {
      return decodeTrainerState(bytes);
    } catch (error) {
      await this.platform.events.append(this.eventStream, "log", {
        message: `ignoring an unreadable checkpoint (${error instanceof Error ? error.message : error})`,
      });
      await this.clear();
      return null;
    }
  }

  /** Stores `state` (atomic replace), then appends `checkpoint {step, bytes}`. */
  async save(state: TrainerState): Promise<void> {
    const bytes = encodeTrainerState(state);
    const stallMs = this.policy.stallMs ?? 0;
    if (stallMs > 0) {
      await this.platform.events.append(this.eventStream, "checkpoint_upload", {
        step: state.step,
        bytes: bytes.length,
      });
    }
    await this.platform.blobs.put(this.key, chunked(bytes, stallMs));
    await this.platform.events.append(this.eventStream, "checkpoint", {
      step: state.step,
      bytes: bytes.length,
    });
  }

  async clear(): Promise<void> {
    await this.platform.blobs.delete(this.key);
  }
}

/** `bytes` as a stream of 64 KiB chunks, pausing `stallMs` half-way when asked. */
function chunked(bytes: Uint8Array, stallMs: number): ReadableStream<Uint8Array> {
  let offset = 0;
  let stalled = stallMs <= 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (offset >= bytes.length) return controller.close();
      if (!stalled && offset >= bytes.length / 2) {
        stalled = true;
        await new Promise((resolve) => setTimeout(resolve, stallMs));
      }
      const end = Math.min(bytes.length, offset + CHUNK);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}
