/**
 * Chaos-test support: real nats-server + s3rver (tests/support/services.ts), an in-process edge on the
 * distributed platform with no runner, runner processes spawned as `deno run -A runner/main.ts` with the
 * services' env (killable with any signal), a tiny dataset and base model, and helpers to wait for job
 * events and read a finished job's weights. Every process uses the same short queue lease.
 */
import { createPlatform, type ManagedPlatform } from "../../shared/platform/mod.ts";
import { startServer } from "../../app/server.ts";
import { EdgetuneClient } from "../../shared/client/mod.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import type { StoredEvent } from "../../shared/platform/types.ts";
import type { JobRecord } from "../../shared/schemas/resources.ts";
import { startServices, type TestServices } from "../support/services.ts";
import { fileURLToPath } from "node:url";

export const LEASE_MS = 2500;
const API_KEY = "chaos-key-0000000000000000000";
const TENANT = "chaos";
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ChaosWorld {
  services: TestServices;
  platform: ManagedPlatform;
  client: EdgetuneClient;
  env: Record<string, string>;
  /** Job spec (dataset and base model filled in) shared by every job that must train identically. */
  jobSpec: Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startWorld(): Promise<ChaosWorld> {
  const services = await startServices();
  const env = {
    NATS_URL: services.natsUrl,
    S3_ENDPOINT: `http://${services.s3.endPoint}:${services.s3.port}`,
    S3_ACCESS_KEY: services.s3.accessKey,
    S3_SECRET_KEY: services.s3.secretKey,
    S3_BUCKET: `chaos-${crypto.randomUUID().slice(0, 8)}`,
    EDGETUNE_LEASE_MS: String(LEASE_MS),
  };
  const { parsePlatformConfig } = await import("../../shared/platform/config.ts");
  const platform = await createPlatform(parsePlatformConfig(env), { leaseMs: LEASE_MS });
  const server = await startServer({
    platform,
    apiKeys: new Map([[API_KEY, TENANT]]),
    runner: false,
    quiet: true,
  });
  const client = new EdgetuneClient(server.url, API_KEY);
  const lines = (await Deno.readTextFile(new URL("../../tools/demo/reviews.csv", import.meta.url))).split(
    "\n",
  );
  const csv = new TextEncoder().encode(lines.slice(0, 41).join("\n") + "\n");
  const dataset = await client.uploadDataset(csv, { fileName: "reviews.csv", name: "reviews" });
  const base = await client.createModel({
    name: "chaos-bert",
    architecture: "bert",
    config: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
    tokenizer: { dataset: dataset.id, column: "text", vocab_size: 200, lowercase: true },
    seed: 1,
  });
  const jobSpec = {
    task: "text-classification",
    base_model: base.id,
    training_dataset: dataset.id,
    validation_split: 0.2,
    hyperparameters: {
      learning_rate: 3e-3,
      epochs: 4,
      batch_size: 2,
      max_seq_length: 16,
      seed: 3,
      hidden_dropout: 0.1,
      attention_dropout: 0.1,
      classifier_dropout: 0.1,
    },
  };
  return {
    services,
    platform,
    client,
    env,
    jobSpec,
    async stop() {
      await server.stop({ closePlatform: true }).catch(() => {});
      await services.stop();
    },
  };
}

export interface RunnerProcess {
  id: string;
  child: Deno.ChildProcess;
  output: () => string;
  exited: Promise<Deno.CommandStatus>;
  kill(signal: Deno.Signal): void;
}

export function spawnRunner(
  world: ChaosWorld,
  id: string,
  extraEnv: Record<string, string> = {},
): RunnerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "runner/main.ts"],
    cwd: REPO_ROOT,
    env: { ...world.env, RUNNER_ID: id, RUNNER_CHECKPOINT_SECONDS: "0", ...extraEnv },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await drained;
    return status;
  });
  return {
    id,
    child,
    output: () => text,
    exited,
    kill(signal) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
  };
}

/** The job's events so far. */
export async function eventsOf(world: ChaosWorld, jobId: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of world.platform.events.read(`${TENANT}.${jobId}`, {})) out.push(e);
  return out;
}

/**
 * Follows the job's events until `match` returns true for one (which is returned); fails after `ms`. A read
 * that breaks (nats-server restarting) is resumed after the last event seen.
 */
export async function waitForEvent(
  world: ChaosWorld,
  jobId: string,
  match: (event: StoredEvent) => boolean,
  ms = 60_000,
): Promise<StoredEvent> {
  const signal = AbortSignal.timeout(ms);
  let afterSeq = 0;
  while (!signal.aborted) {
    try {
      for await (
        const e of world.platform.events.read(`${TENANT}.${jobId}`, { afterSeq, follow: true, signal })
      ) {
        afterSeq = e.seq;
        if (match(e)) return e;
      }
    } catch (error) {
      if (signal.aborted) break;
      if (
        !(error instanceof Error) ||
        !/timeout|disconnect|closed|connection/i.test(`${error.name} ${error.message}`)
      ) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const seen = (await eventsOf(world, jobId)).map((e) => `${e.type}:${JSON.stringify(e.data)}`.slice(0, 120));
  throw new Error(`job ${jobId}: no matching event within ${ms} ms; events:\n${seen.join("\n")}`);
}

export async function waitForFinal(world: ChaosWorld, jobId: string, ms = 60_000): Promise<JobRecord> {
  await waitForEvent(
    world,
    jobId,
    (e) => e.type === "status" && ["succeeded", "failed", "cancelled"].includes(String(e.data.status)),
    ms,
  );
  return await world.client.getJob(jobId);
}

/** The fine-tuned model's weights, straight from the blob store. */
export async function finalWeights(world: ChaosWorld, job: JobRecord): Promise<Map<string, Float32Array>> {
  const stream = await world.platform.blobs.get(`models/${TENANT}/${job.fine_tuned_model}/model.safetensors`);
  if (!stream) throw new Error(`no model.safetensors for ${job.id}`);
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  return new Map([...readSafetensors(bytes)].map(([name, t]) => [name, t.data]));
}

export function checkpointBlobKey(jobId: string): string {
  return `checkpoints/${TENANT}/${jobId}/state.bin`;
}

/** step number → [learning_rate, loss] of every step event (a step seen twice must agree with itself). */
export function stepTable(events: StoredEvent[]): Map<number, [number, number]> {
  const table = new Map<number, [number, number]>();
  for (const e of events) {
    if (e.type !== "step") continue;
    const row: [number, number] = [Number(e.data.learning_rate), Number(e.data.loss)];
    const seen = table.get(Number(e.data.step));
    if (seen && (seen[0] !== row[0] || seen[1] !== row[1])) {
      throw new Error(`step ${e.data.step} was run twice with different results: ${seen} vs ${row}`);
    }
    table.set(Number(e.data.step), row);
  }
  return table;
}
