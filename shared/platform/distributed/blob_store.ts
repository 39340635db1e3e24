/**
 * The distributed BlobStore on S3 through the `minio` client. `put` streams the body in parts of `partSize`
 * bytes (only one part is in memory at a time): a body that fits in one part is a single PUT, anything
 * larger a multipart upload that is completed only after the last part, and aborted if the body errors —
 * S3 makes the object visible atomically on PUT / complete, so a failed put leaves no object. We drive the
 * multipart upload ourselves instead of `putObject(stream)`, which sizes parts for a 5 TiB object when the
 * length is unknown, resumes stray uploads via ListMultipartUploads (`findUploadId`, missing in s3rver) and
 * does not propagate source-stream errors. The bucket is created at start if missing.
 */
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import { Client } from "minio";
import { assertBlobKey } from "../keys.ts";
import type { BlobInfo, BlobStore } from "../types.ts";
import type { S3Config } from "../config.ts";

export class S3BlobStore implements BlobStore {
  private constructor(
    private readonly client: Client,
    private readonly bucket: string,
    private readonly partSize: number,
  ) {}

  /** Connects and creates the bucket if it does not exist. */
  static async open(config: S3Config): Promise<S3BlobStore> {
    const client = new Client({
      endPoint: config.endPoint,
      port: config.port,
      useSSL: config.useSSL,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      region: config.region,
      partSize: config.partSize,
      pathStyle: true,
    });
    // Never resume someone else's half-finished upload (and s3rver lacks ListMultipartUploads).
    client.findUploadId = () => Promise.resolve(undefined);
    if (!(await client.bucketExists(config.bucket))) {
      try {
        await client.makeBucket(config.bucket, config.region);
      } catch (error) {
        if (!(await client.bucketExists(config.bucket))) throw error; // lost a creation race: fine
      }
    }
    return new S3BlobStore(client, config.bucket, config.partSize);
  }

  async put(key: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<BlobInfo> {
    assertBlobKey(key);
    if (body instanceof Uint8Array) {
      await this.client.putObject(this.bucket, key, Buffer.from(body.buffer, body.byteOffset, body.length));
      return (await this.stat(key))!;
    }
    const reader = body.getReader();
    let uploadId: string | null = null;
    try {
      const etags: { part: number; etag: string }[] = [];
      let part = await readPart(reader, this.partSize);
      if (part.done) {
        // The whole body fits in one part: a single atomic PUT.
        await this.client.putObject(this.bucket, key, part.bytes);
        return (await this.stat(key))!;
      }
      uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, {});
      for (let number = 1;; number++) {
        const uploaded = await this.client.uploadPart({
          bucketName: this.bucket,
          objectName: key,
          uploadID: uploadId,
          partNumber: number,
          headers: {},
        }, part.bytes);
        etags.push({ part: number, etag: uploaded.etag });
        if (part.done) break;
        part = await readPart(reader, this.partSize);
        if (part.bytes.length === 0 && part.done) break;
      }
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
      uploadId = null;
      return (await this.stat(key))!;
    } catch (error) {
      await reader.cancel(error).catch(() => {});
      if (uploadId) await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch(() => {});
      throw error;
    } finally {
      reader.releaseLock();
    }
  }

  async get(key: string): Promise<ReadableStream<Uint8Array> | null> {
    assertBlobKey(key);
    try {
      const stream = await this.client.getObject(this.bucket, key);
      return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async stat(key: string): Promise<BlobInfo | null> {
    assertBlobKey(key);
    try {
      const stat = await this.client.statObject(this.bucket, key);
      return { key, size: stat.size, modified: new Date(stat.lastModified).toISOString() };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const found: BlobInfo[] = [];
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    for await (const item of stream as AsyncIterable<{ name?: string; size: number; lastModified?: Date }>) {
      if (!item.name) continue;
      found.push({
        key: item.name,
        size: item.size,
        modified: (item.lastModified ?? new Date()).toISOString(),
      });
    }
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* found;
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    try {
      await this.client.removeObject(this.bucket, key);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Reads at least `size` bytes (fewer only at the end); `done` when the stream ended (the returned bytes may be empty). */
async function readPart(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  size: number,
): Promise<{ bytes: Buffer; done: boolean }> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < size) {
    const { done, value } = await reader.read();
    if (done) return { bytes: Buffer.concat(chunks, length), done: true };
    chunks.push(value);
    length += value.length;
  }
  // A part may overshoot `size` by less than one chunk: S3 only needs non-final parts of at least 5 MiB.
  return { bytes: Buffer.concat(chunks, length), done: false };
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === "NoSuchKey" || code === "NotFound" || code === "NoSuchObject";
}
