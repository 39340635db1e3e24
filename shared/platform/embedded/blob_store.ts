/**
 * The embedded BlobStore: one file per object under `<root>/<key>`. `put` streams the body into a hidden
 * temporary file in the object's own directory, syncs it and renames it over the key, so readers see the
 * old object, the new one or none, and a body that errors or is aborted midway leaves nothing behind. Keys
 * are validated (no `..`, no leading `/`, no empty or dot-led segments), so hidden temporaries never collide
 * with objects and `list` can skip them.
 */
import { dirname, join } from "node:path";
import { assertBlobKey } from "../keys.ts";
import type { BlobInfo, BlobStore } from "../types.ts";

export class FileBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  async put(key: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<BlobInfo> {
    assertBlobKey(key);
    const target = this.#path(key);
    const dir = dirname(target);
    await Deno.mkdir(dir, { recursive: true });
    const temp = join(dir, `.${crypto.randomUUID()}.part`);
    const file = await Deno.open(temp, { write: true, createNew: true });
    let closed = false;
    try {
      if (body instanceof Uint8Array) {
        await writeAll(file, body);
      } else {
        const reader = body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            await writeAll(file, value);
          }
        } catch (error) {
          await reader.cancel(error).catch(() => {});
          throw error;
        } finally {
          reader.releaseLock();
        }
      }
      await file.syncData();
      file.close();
      closed = true;
      await Deno.rename(temp, target);
    } catch (error) {
      if (!closed) file.close();
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
    return (await this.stat(key))!;
  }

  async get(key: string): Promise<ReadableStream<Uint8Array> | null> {
    assertBlobKey(key);
    try {
      const file = await Deno.open(this.#path(key), { read: true });
      return file.readable;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return null;
      throw error;
    }
  }

  async stat(key: string): Promise<BlobInfo | null> {
    assertBlobKey(key);
    try {
      const info = await Deno.stat(this.#path(key));
      if (!info.isFile) return null;
      return { key, size: info.size, modified: (info.mtime ?? new Date()).toISOString() };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return null;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    // Start from the deepest directory the prefix fully names; filter the rest by string prefix.
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash);
    if (base !== "") assertBlobKey(base);
    const keys: string[] = [];
    await collectKeys(join(this.root, base), base, keys);
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const info = await this.stat(key);
      if (info) yield info;
    }
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    try {
      await Deno.remove(this.#path(key));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return;
      throw error;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #path(key: string): string {
    return join(this.root, ...key.split("/"));
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

/** Appends the keys of all regular, non-hidden files under `dir` (whose key prefix is `base`) to `out`. */
async function collectKeys(dir: string, base: string, out: string[]): Promise<void> {
  let entries: AsyncIterable<Deno.DirEntry>;
  try {
    entries = Deno.readDir(dir);
    for await (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const key = base === "" ? entry.name : `${base}/${entry.name}`;
      if (entry.isDirectory) await collectKeys(join(dir, entry.name), key, out);
      else if (entry.isFile) out.push(key);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return;
    throw error;
  }
}
