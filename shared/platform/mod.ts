/**
 * The platform entry point: builds the embedded platform (files under a data directory, Deno KV, in-process
 * notifications; one process) or the distributed one (NATS JetStream/KV and S3) from a PlatformConfig.
 * Callers get a `Platform` whose queue also exposes the dead-letter side (ManagedJobQueue). The distributed
 * adapters are loaded lazily so embedded processes never load the NATS and S3 clients.
 */
import type { PlatformConfig } from "./config.ts";
import { FileBlobStore } from "./embedded/blob_store.ts";
import { KvEventLog } from "./embedded/event_log.ts";
import { KvJobQueue } from "./embedded/job_queue.ts";
import { openSharedKv } from "./embedded/kv.ts";
import { KvMetaStore } from "./embedded/meta_store.ts";
import type { ManagedJobQueue, QueueOptions } from "./queue_extras.ts";
import type { Platform } from "./types.ts";
import { join } from "node:path";

export type { PlatformConfig } from "./config.ts";
export { parsePlatformConfig } from "./config.ts";
export type { DeadLetter, GiveUpListener, ManagedJobQueue, QueueOptions } from "./queue_extras.ts";
export { LeaseLostError } from "./queue_extras.ts";

/** A Platform whose queue exposes give-ups (see queue_extras.ts). */
export interface ManagedPlatform extends Platform {
  queue: ManagedJobQueue;
}

/** Tuning shared by both platforms (defaults: lease 60 s, maxDeliver 5, 10 000 events per stream). */
export interface PlatformOptions extends QueueOptions {
  eventRetention?: number;
}

/** Builds the platform `config` selects. */
export async function createPlatform(
  config: PlatformConfig,
  options: PlatformOptions = {},
): Promise<ManagedPlatform> {
  if (config.kind === "embedded") return createEmbeddedPlatform(config.dataDir, options);
  const { createDistributedPlatform } = await import("./distributed/platform.ts");
  return createDistributedPlatform({ natsUrl: config.natsUrl, s3: config.s3, ...options });
}

/** The single-process platform: blobs under `<dataDir>/blobs`, everything else in `<dataDir>/meta.kv`. */
export async function createEmbeddedPlatform(
  dataDir: string,
  options: PlatformOptions = {},
): Promise<ManagedPlatform> {
  await Deno.mkdir(dataDir, { recursive: true });
  const handle = await openSharedKv(await Deno.realPath(dataDir).then((dir) => join(dir, "meta.kv")));
  const blobs = new FileBlobStore(join(dataDir, "blobs"));
  const meta = new KvMetaStore(handle);
  const queue = new KvJobQueue(handle, options);
  const events = new KvEventLog(handle, { retention: options.eventRetention });
  let closing: Promise<void> | undefined;
  return {
    kind: "embedded",
    blobs,
    meta,
    queue,
    events,
    close: () =>
      closing ??= (async () => {
        await Promise.all([blobs.close(), meta.close(), queue.close(), events.close()]);
        await handle.release();
      })(),
  };
}
