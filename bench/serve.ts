/**
 * `deno task bench serve`: serving speed of edgetune against PyTorch eager on this CPU, side by side in one
 * run. Starts an edgetune edge as its own process (embedded platform in a temp dir, no runner), creates a
 * BERT-mini-shaped classifier there (random init with labels; WordPiece vocabulary learned from SST-2 train),
 * exports it (GET /v1/models/:id/export, the HF folder as a tar) and serves the same folder with
 * tools/torch_serve/server.py (Debian python3-torch 1.13, same dynamic batching: token budget + queue delay).
 * Checks both give the same probabilities, then for sequence lengths 16 and 128 and 1 and 32 concurrent
 * clients measures predictions/s and p50/p95 latency of each side (one text per request, loopback HTTP; three
 * rounds alternating the sides, so both see the same machine load) and prints the ratios; then a load run of 200 concurrent clients against edgetune (`--load-seconds`, default
 * 60) where any error other than 429 counts (429s are counted separately and honoured with Retry-After).
 * Options: --cell-seconds N (default 6), --load-seconds N, --no-torch, --threads N (PyTorch, default 2).
 */
import { chooseCoreType } from "../shared/core/backend/native/openblas.ts";

const KEY = "bench-serve-key-0123456789";
const ROUNDS = 3;
const ROOT = new URL("../", import.meta.url).pathname;

interface Side {
  name: string;
  predict(text: string, maxLength: number): Promise<{ status: number; retryAfter: number; body: unknown }>;
}

interface CellResult {
  predictionsPerSecond: number;
  p50: number;
  p95: number;
  count: number;
  errors: number;
}

function argValue(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitFor(url: string, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up in ${seconds} s`);
}

async function readFirstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  const decoder = new TextDecoder();
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

interface RawCell {
  latencies: number[];
  seconds: number;
  errors: number;
}

/** `clients` loops sending one text each until `seconds` pass (bounded by a request cap). */
async function runCell(side: Side, texts: string[], maxLength: number, clients: number, seconds: number) {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const cap = 200_000;
  let sent = 0;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let i = c;
    while (performance.now() < deadline && sent < cap) {
      sent++;
      const t0 = performance.now();
      const res = await side.predict(texts[i++ % texts.length], maxLength).catch(() => null);
      if (res?.status === 200) latencies.push(performance.now() - t0);
      else errors++;
    }
  }));
  return { latencies, seconds: (performance.now() - start) / 1000, errors } satisfies RawCell;
}

function summarize(parts: RawCell[]): CellResult {
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const seconds = parts.reduce((sum, p) => sum + p.seconds, 0);
  return {
    predictionsPerSecond: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    count: latencies.length,
    errors: parts.reduce((sum, p) => sum + p.errors, 0),
  };
}

function httpSide(name: string, url: string, headers: Record<string, string>): Side {
  return {
    name,
    async predict(text, maxLength) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ inputs: [text], parameters: { max_length: maxLength } }),
      });
      const body = res.status === 200 ? await res.json() : await res.text();
      return { status: res.status, retryAfter: Number(res.headers.get("retry-after") ?? 0), body };
    },
  };
}

/** Texts long enough for `maxLength` tokens: SST-2 sentences, joined for the long case. */
function benchTexts(sentences: string[], long: boolean): string[] {
  if (!long) return sentences.slice(0, 400);
  return Array.from({ length: 200 }, (_, i) => sentences.slice(i * 8, i * 8 + 8).join(" "));
}

export async function run(args: string[]): Promise<void> {
  const cellSeconds = argValue(args, "--cell-seconds", 6);
  const loadSeconds = argValue(args, "--load-seconds", 60);
  const threads = argValue(args, "--threads", 2);
  const withTorch = !args.includes("--no-torch");
  const dir = await Deno.makeTempDir({ prefix: "edgetune-bench-serve-" });
  const children: Deno.ChildProcess[] = [];
  try {
    // 1. edgetune edge in its own process.
    const port = freePort();
    const env: Record<string, string> = {
      PORT: String(port),
      HOST: "127.0.0.1",
      EDGETUNE_API_KEY: KEY,
      EDGETUNE_RUNNER: "off",
      EDGETUNE_ACCESS_LOG: "off",
      EDGETUNE_DATA_DIR: `${dir}/data`,
    };
    const edge = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}edge/main.ts`],
      env,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    children.push(edge);
    const banner = await readFirstLine(edge.stdout);
    edge.stdout.cancel().catch(() => {});
    const api = `http://127.0.0.1:${port}`;
    await waitFor(`${api}/healthz`, 60);
    console.log(`edgetune: ${banner.trim()}`);
    const auth = { authorization: `Bearer ${KEY}` };

    // 2. A BERT-mini-shaped classifier (random init with labels), vocabulary learned from SST-2 train.
    const form = new FormData();
    const sst2 = await Deno.readFile(`${ROOT}../shared/data/sst2_train_8k.tsv`);
    form.append("file", new Blob([sst2]), "sst2_train_8k.tsv");
    const dsRes = await fetch(`${api}/v1/datasets`, { method: "POST", headers: auth, body: form });
    const dataset = await dsRes.json();
    if (dsRes.status !== 201) throw new Error(`dataset upload: ${JSON.stringify(dataset)}`);
    const modelRes = await fetch(`${api}/v1/models`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        name: "bench-mini",
        config: { hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024 },
        tokenizer: { dataset: dataset.id, column: "sentence", vocab_size: 8000 },
        labels: ["negative", "positive"],
      }),
    });
    const model = await modelRes.json();
    if (modelRes.status !== 201) throw new Error(`model: ${JSON.stringify(model)}`);
    console.log(
      `model ${model.id}: BERT 4 layers, hidden 256, 4 heads, FFN 1024, vocab ${model.config.vocab_size}`,
    );

    // 3. Export it and serve the same folder with PyTorch.
    const tar = new Uint8Array(
      await (await fetch(`${api}/v1/models/${model.id}/export`, { headers: auth })).arrayBuffer(),
    );
    await Deno.writeFile(`${dir}/model.tar`, tar);
    await Deno.mkdir(`${dir}/export`);
    const untar = await new Deno.Command("tar", { args: ["-xf", `${dir}/model.tar`, "-C", `${dir}/export`] })
      .output();
    if (!untar.success) throw new Error("tar -xf failed");
    const folder = `${dir}/export/${[...Deno.readDirSync(`${dir}/export`)][0].name}`;

    const sides: Side[] = [httpSide("edgetune", `${api}/v1/models/${model.id}/predict`, auth)];
    if (withTorch) {
      const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
      const torchEnv: Record<string, string> = {};
      const coreType = chooseCoreType(cpuinfo);
      if (coreType) torchEnv.OPENBLAS_CORETYPE = coreType;
      const torchPort = freePort();
      const torch = new Deno.Command("/usr/bin/python3", {
        args: [
          `${ROOT}tools/torch_serve/server.py`,
          folder,
          "--port",
          String(torchPort),
          "--threads",
          String(threads),
        ],
        env: torchEnv,
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      children.push(torch);
      const ready = JSON.parse(await readFirstLine(torch.stdout));
      torch.stdout.cancel().catch(() => {});
      console.log(`PyTorch: ${JSON.stringify(ready)}`);
      sides.push(httpSide("pytorch", `http://127.0.0.1:${torchPort}/predict`, {}));
    }

    const sentences = new TextDecoder().decode(await Deno.readFile(`${ROOT}../shared/data/sst2_dev.tsv`))
      .split("\n").slice(1).map((line) => line.split("\t")[0]).filter((s) => s.length > 0);

    // 4. Same model, same answers.
    if (sides.length === 2) {
      let worst = 0;
      for (const text of sentences.slice(0, 16)) {
        const [a, b] = await Promise.all(sides.map((s) => s.predict(text, 128)));
        const score = (body: unknown, label: string) =>
          (body as { label: string; score: number }[][])[0].find((x) => x.label === label)!.score;
        worst = Math.max(worst, Math.abs(score(a.body, "positive") - score(b.body, "positive")));
      }
      console.log(`parity: max |p(edgetune) - p(pytorch)| over 16 texts = ${worst.toExponential(2)}`);
    }

    // 5. Throughput and latency cells.
    const rows: string[][] = [];
    for (const seq of [16, 128]) {
      const texts = benchTexts(sentences, seq > 32);
      for (const clients of [1, 32]) {
        // Rounds alternate the sides (A B, B A, A B) so both see the same machine load.
        const parts: RawCell[][] = sides.map(() => []);
        for (const side of sides) await runCell(side, texts, seq, clients, Math.min(1, cellSeconds / 4)); // warm-up
        for (let round = 0; round < ROUNDS; round++) {
          const order = round % 2 === 0 ? sides.map((_, i) => i) : sides.map((_, i) => i).reverse();
          for (const i of order) {
            parts[i].push(await runCell(sides[i], texts, seq, clients, cellSeconds / ROUNDS));
          }
        }
        const results = parts.map(summarize);
        const [e, t] = results;
        rows.push([
          String(seq),
          String(clients),
          e.predictionsPerSecond.toFixed(1),
          t ? t.predictionsPerSecond.toFixed(1) : "-",
          t ? (e.predictionsPerSecond / t.predictionsPerSecond).toFixed(2) : "-",
          `${e.p50.toFixed(1)} / ${e.p95.toFixed(1)}`,
          t ? `${t.p50.toFixed(1)} / ${t.p95.toFixed(1)}` : "-",
          t ? (t.p50 / e.p50).toFixed(2) : "-",
          String(e.errors + (t?.errors ?? 0)),
        ]);
        console.log(`  seq ${seq}, ${clients} clients: ${rows.at(-1)!.slice(2).join(" | ")}`);
      }
    }
    const header = [
      "seq",
      "clients",
      "edgetune pred/s",
      "PyTorch pred/s",
      "ratio",
      "edgetune p50/p95 ms",
      "PyTorch p50/p95 ms",
      "p50 ratio (PyTorch/edgetune)",
      "errors",
    ];
    console.log(`\n| ${header.join(" | ")} |\n|${header.map(() => " --- ").join("|")}|`);
    for (const row of rows) console.log(`| ${row.join(" | ")} |`);

    // 6. Load run: 200 clients against edgetune, mixed lengths.
    const short = benchTexts(sentences, false);
    const long = benchTexts(sentences, true);
    const counts = { ok: 0, rejected: 0, errors: 0 };
    const latencies: number[] = [];
    const errorSamples: string[] = [];
    const scrape = async () => {
      const text = await (await fetch(`${api}/metrics`)).text();
      return (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    };
    const before = await scrape();
    const loadStart = performance.now();
    const deadline = loadStart + loadSeconds * 1000;
    await Promise.all(Array.from({ length: 200 }, async (_, c) => {
      for (let i = c; performance.now() < deadline && i < c + 1_000_000; i += 200) {
        const isLong = i % 4 === 0;
        const t0 = performance.now();
        const res = await sides[0].predict(
          isLong ? long[i % long.length] : short[i % short.length],
          isLong ? 128 : 16,
        ).catch((error) => ({ status: 0, retryAfter: 0, body: String(error) }));
        if (res.status === 200) {
          counts.ok++;
          latencies.push(performance.now() - t0);
        } else if (res.status === 429) {
          counts.rejected++;
          await new Promise((r) => setTimeout(r, Math.min(5, Math.max(1, res.retryAfter)) * 1000));
        } else {
          counts.errors++;
          if (errorSamples.length < 3) {
            errorSamples.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          }
        }
      }
    }));
    const loadElapsed = (performance.now() - loadStart) / 1000;
    latencies.sort((a, b) => a - b);
    const after = await scrape();
    const delta = (name: string) => after(name) - before(name);
    const meanBatch = delta("edgetune_batch_size_sum") / delta("edgetune_batch_size_count");
    const busy = delta("edgetune_batch_inference_seconds_sum") / loadElapsed;
    console.log(
      `\nload: 200 clients, ${loadElapsed.toFixed(0)} s, 1 in 4 requests at 128 tokens: ${counts.ok} ok ` +
        `(${(counts.ok / loadElapsed).toFixed(1)} pred/s, p50 ${percentile(latencies, 0.5).toFixed(0)} ms, ` +
        `p95 ${
          percentile(latencies, 0.95).toFixed(0)
        } ms), ${counts.rejected} × 429, errors ${counts.errors}` +
        ` ${counts.errors === 0 ? "(OK)" : "(FAIL)"}; ${meanBatch.toFixed(1)} rows per forward pass, ` +
        `forward passes ${(100 * busy).toFixed(0)}% of the time`,
    );
    for (const e of errorSamples) console.log(`  error: ${e}`);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status.catch(() => {});
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await run(Deno.args);
