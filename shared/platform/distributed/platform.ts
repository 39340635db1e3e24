/**
 * Builds the distributed platform: one NATS connection (JetStream streams and KV buckets under a namespace,
 * default "edgetune") for metadata, the job queue and event logs, and an S3 bucket for blobs. Every edge and
 * runner process builds its own instance against the same services and sees the same data.
 */
import type { S3Config } from "../config.ts";
import type { ManagedPlatform, PlatformOptions } from "../mod.ts";
import { S3BlobStore } from "./blob_store.ts";
import { NatsEventLog } from "./event_log.ts";
import { NatsJobQueue } from "./job_queue.ts";
import { NatsMetaStore } from "./meta_store.ts";
import { connectNats } from "./nats.ts";

export interface DistributedPlatformOptions extends PlatformOptions {
  natsUrl: string;
  s3: S3Config;
  /** Prefix of every stream, bucket and subject (default "edgetune"). */
  namespace?: string;
  /** How long JetStream remembers job dedupe ids (default 24 h). */
  dedupeWindowMs?: number;
}

export async function createDistributedPlatform(
  options: DistributedPlatformOptions,
): Promise<ManagedPlatform> {
  const context = await connectNats(options.natsUrl, options.namespace ?? "edgetune");
  try {
    const [meta, queue, events, blobs] = await Promise.all([
      NatsMetaStore.open(context),
      NatsJobQueue.open(context, options),
      NatsEventLog.open(context, { retention: options.eventRetention }),
      S3BlobStore.open(options.s3),
    ]);
    let closing: Promise<void> | undefined;
    return {
      kind: "distributed",
      blobs,
      meta,
      queue,
      events,
      close: () =>
        closing ??= (async () => {
          await Promise.all([blobs.close(), meta.close(), queue.close(), events.close()]);
          await context.nc.drain();
        })(),
    };
  } catch (error) {
    await context.nc.close();
    throw error;
  }
}
