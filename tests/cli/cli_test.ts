/**
 * The CLI (tools/cli.ts) spawned as a user runs it, against an embedded instance: upload → create-random →
 * train --dry-run → train → follow (plain lines when not a terminal, exit 0 on success) → jobs → predict
 * → cancel of a finished job (exit 1 with the API's 409) and usage errors (exit 2). Also the progress bar
 * and --hp parsing as functions.
 */
import assert from "node:assert/strict";
import { parseArgs, parseHyperparameters, UsageError } from "../../tools/cli/args.ts";
import { eventLine, FollowPrinter, progressBar } from "../../tools/cli/progress.ts";
import { startEmbeddedInstance, TENANT_A_KEY } from "../support/embedded_instance.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function cli(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tools/cli.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("cli: upload, create a model, estimate, train, follow, list, predict, cancel", async () => {
  const instance = await startEmbeddedInstance();
  const env = {
    EDGETUNE_URL: instance.url,
    EDGETUNE_API_KEY: TENANT_A_KEY,
    PATH: Deno.env.get("PATH") ?? "",
  };
  const run = async (...args: string[]) => {
    const result = await cli(args, env);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  try {
    const dataset = JSON.parse(await run("upload", "tools/demo/reviews.csv", "--name", "reviews", "--json"));
    assert.equal(dataset.rows, 200);
    assert.match(await run("datasets"), new RegExp(`^${dataset.id}\treviews\tcsv\t200 rows`, "m"));

    const modelLine = await run(
      "models",
      "create-random",
      "--name",
      "tiny",
      "--dataset",
      dataset.id,
      "--hidden",
      "32",
      "--layers",
      "1",
      "--vocab",
      "400",
    );
    const modelId = modelLine.split("\t")[0];
    assert.equal((await instance.tenantA.getModel(modelId)).config.hidden_size, 32);

    const hp = [
      "--hp",
      "epochs=3",
      "--hp",
      "batch_size=16",
      "--hp",
      "learning_rate=0.003",
      "--hp",
      "max_seq_length=32",
    ];
    const train = ["train", "--model", modelId, "--dataset", dataset.id, "--validation-split", "0.2", ...hp];
    const plan = await run(...train, "--dry-run");
    assert.match(plan, /^steps 30 \(10\/epoch × 3 epochs\)$/m);
    assert.match(plan, /^examples 160 train, 40 validation$/m);
    assert.deepEqual((await instance.tenantA.listJobs()).data, []);

    const jobId = (await run(...train)).trim();
    const job = await instance.tenantA.getJob(jobId);
    assert.equal(job.hyperparameters.epochs, 3);
    assert.equal(job.hyperparameters.learning_rate, 0.003);

    const followed = await run("follow", jobId);
    const lines = followed.trim().split("\n");
    assert.ok(!followed.includes("\r"), "no progress-bar redraws when stdout is not a terminal");
    assert.deepEqual(lines.filter((l) => l.startsWith("status ")), [
      "status queued",
      "status running",
      "status succeeded",
    ]);
    assert.equal(lines.filter((l) => l.startsWith("step ")).length, 30);
    assert.equal(lines.filter((l) => l.startsWith("eval at step ")).length, 3);
    const fineTuned = (await instance.tenantA.getJob(jobId)).fine_tuned_model!;
    assert.equal(lines.at(-1), `fine-tuned model ${fineTuned}`);

    assert.match(await run("jobs"), new RegExp(`^${jobId}\tsucceeded\t\\d+/30\t${modelId}$`, "m"));
    const predicted = await run(
      "predict",
      fineTuned,
      "The lamp is wonderful.",
      "The charger broke.",
      "--json",
    );
    const results = JSON.parse(predicted);
    assert.equal(results.length, 2);
    assert.deepEqual(results.map((r: { label: string }[]) => r.length), [2, 2]);

    const cancelled = await cli(["cancel", jobId], env);
    assert.equal(cancelled.code, 1);
    assert.match(cancelled.stderr, /409 invalid_state: job '.*' already finished \(succeeded\)/);

    const badHp = await cli([...train.slice(0, 5), "--hp", "epochs"], env);
    assert.equal(badHp.code, 2);
    assert.match(badHp.stderr, /--hp takes key=value/);
    const unknown = await cli(["jobs"], { ...env, EDGETUNE_API_KEY: "wrong-key-0000000000000" });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /401 unauthorized/);
    const noKey = await cli(["jobs"], { EDGETUNE_URL: instance.url });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /set EDGETUNE_API_KEY/);
  } finally {
    await instance.stop();
  }
});

Deno.test("cli: argument and --hp parsing, progress bar and follow output", () => {
  const args = parseArgs(["a", "--x", "1", "--y=2", "--hp", "k=1", "--hp", "o=sgd", "--json", "b"], ["json"]);
  assert.deepEqual(args.positional, ["a", "b"]);
  assert.deepEqual(args.options.get("hp"), ["k=1", "o=sgd"]);
  assert.deepEqual(args.options.get("json"), ["true"]);
  assert.throws(() => parseArgs(["--x"]), UsageError);
  assert.deepEqual(
    parseHyperparameters(["epochs=3", "optimizer=sgd", "max_grad_norm=null", 'm={"head":2}']),
    {
      epochs: 3,
      optimizer: "sgd",
      max_grad_norm: null,
      m: { head: 2 },
    },
  );
  assert.equal(progressBar(5, 20, 10), "[###-------]  25%");
  assert.equal(progressBar(20, 20, 4), "[####] 100%");
  assert.equal(progressBar(0, 0, 4), "[----]   0%");

  const written: string[] = [];
  const printer = new FollowPrinter(true, (text) => written.push(text));
  const time = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const step = (n: number) => ({
    seq: n,
    type: "step",
    time: time(n),
    data: { step: n, total_steps: 10, epoch: n / 5, loss: 0.5, learning_rate: 1e-3 },
  });
  printer.event(step(1));
  printer.event(step(2));
  printer.event({ seq: 3, type: "status", time: time(3), data: { status: "cancelled" } });
  printer.end();
  assert.equal(written[1], `\r\x1b[2K${progressBar(2, 10)} step 2/10 epoch 0.4 loss 0.5 ETA 8s`);
  assert.equal(written[2], "\r\x1b[2Kstatus cancelled\n");
  assert.equal(written.length, 3, "nothing left to end after a plain line");
  assert.equal(eventLine({ seq: 1, type: "heartbeat", time: time(0), data: {} }), null);
});
