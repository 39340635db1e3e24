/**
 * Drives tools/torch_bench/bert_step.py in --serve mode: one long-lived Debian python3-torch process, loaded
 * once with the weights and batches the TypeScript side exported, answering "train"/"infer"/"stats" one JSON
 * line at a time — so the benchmark can alternate an edgetune step and a PyTorch step and both see the same
 * machine load. OPENBLAS_CORETYPE is set to the best type this CPU supports before torch loads.
 */
import { chooseCoreType } from "../../shared/core/backend/native/openblas.ts";

export interface TorchStats {
  torch: string;
  threads: number;
  openblasCoretype: string | null;
  peakRssMb: number;
  evalLogits: number[];
}

export class TorchServer {
  #buffer = "";
  #decoder = new TextDecoder();
  #encoder = new TextEncoder();

  private constructor(
    private readonly child: Deno.ChildProcess,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly writer: WritableStreamDefaultWriter<Uint8Array>,
  ) {}

  static async start(dir: string, options: { python?: string; threads?: number } = {}): Promise<TorchServer> {
    const script = new URL("../../tools/torch_bench/bert_step.py", import.meta.url).pathname;
    const env: Record<string, string> = {};
    let cpuinfo = "";
    try {
      cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
    } catch { /* not Linux: torch's own detection */ }
    const coreType = chooseCoreType(cpuinfo);
    if (coreType !== undefined && Deno.env.get("OPENBLAS_CORETYPE") === undefined) {
      env.OPENBLAS_CORETYPE = coreType;
    }
    const child = new Deno.Command(options.python ?? "/usr/bin/python3", {
      args: [script, dir, "--serve", "--threads", String(options.threads ?? 2)],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const server = new TorchServer(child, child.stdout.getReader(), child.stdin.getWriter());
    const ready = await server.#readLine();
    if (!ready.ready) throw new Error(`PyTorch bench did not start: ${JSON.stringify(ready)}`);
    return server;
  }

  async train(): Promise<{ ms: number; loss: number }> {
    return await this.#call("train") as { ms: number; loss: number };
  }

  async infer(): Promise<{ ms: number }> {
    return await this.#call("infer") as { ms: number };
  }

  async setThreads(threads: number): Promise<void> {
    await this.#call(`threads ${threads}`);
  }

  async stats(): Promise<TorchStats> {
    return await this.#call("stats") as unknown as TorchStats;
  }

  async close(): Promise<void> {
    try {
      await this.writer.write(this.#encoder.encode("quit\n"));
      await this.writer.close();
    } catch { /* already gone */ }
    this.reader.releaseLock();
    await this.child.stdout.cancel().catch(() => {});
    await this.child.status;
  }

  async #call(command: string): Promise<Record<string, unknown>> {
    await this.writer.write(this.#encoder.encode(`${command}\n`));
    const reply = await this.#readLine();
    if (reply.error) throw new Error(`PyTorch bench: ${reply.error}`);
    return reply;
  }

  async #readLine(): Promise<Record<string, unknown>> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.reader.read();
      if (done) throw new Error("PyTorch bench exited (see its stderr above)");
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
    const at = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, at);
    this.#buffer = this.#buffer.slice(at + 1);
    return JSON.parse(line);
  }
}
