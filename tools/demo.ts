/**
 * `deno task demo`: the README quickstart, run by itself against a fresh embedded instance in a temporary
 * directory — upload tools/demo/reviews.csv (200 product reviews written for this project), create a small
 * random BERT whose WordPiece vocabulary is built from the dataset, fine-tune it, follow the job's events,
 * and print predictions for reviews the model has not seen. Takes a few minutes on 2 cores.
 */
import { createEmbeddedPlatform } from "../shared/platform/mod.ts";
import { startServer } from "../app/server.ts";
import { EdgetuneClient, type LabelScore } from "../shared/client/mod.ts";

const dataDir = await Deno.makeTempDir({ prefix: "edgetune-demo-" });
const apiKey = `demo_${crypto.randomUUID().replaceAll("-", "")}`;
const platform = await createEmbeddedPlatform(dataDir);
const server = await startServer({
  platform,
  apiKeys: new Map([[apiKey, "demo"]]),
  backendPreference: Deno.env.get("EDGETUNE_BACKEND"),
  quiet: true,
});
console.log(
  `edgetune demo: embedded instance at ${server.url} (data in ${dataDir}, backend ${server.backend})`,
);
const client = new EdgetuneClient(server.url, apiKey);

try {
  const csv = await Deno.readFile(new URL("./demo/reviews.csv", import.meta.url));
  const dataset = await client.uploadDataset(csv, { fileName: "reviews.csv", name: "reviews" });
  console.log(
    `1. uploaded dataset ${dataset.id}: ${dataset.rows} rows, columns ${dataset.columns.join(", ")}`,
  );
  console.log(`   label counts: ${JSON.stringify(dataset.stats.label ?? dataset.stats)}`);

  const base = await client.createModel({
    name: "demo-bert-mini",
    architecture: "bert",
    config: { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128 },
    tokenizer: { dataset: dataset.id, column: "text", vocab_size: 600, lowercase: true },
    seed: 7,
  });
  console.log(
    `2. created base model ${base.id} (${base.parameters.toLocaleString()} parameters, random init)`,
  );

  const job = await client.createJob({
    task: "text-classification",
    base_model: base.id,
    training_dataset: dataset.id,
    validation_split: 0.2,
    hyperparameters: { learning_rate: 2e-3, epochs: 8, batch_size: 16, max_seq_length: 32, seed: 7 },
  } as never);
  console.log(`3. created job ${job.id} (${job.status}); following its events:`);

  await client.followEvents(job.id, (event) => {
    const d = event.data as Record<string, number | string>;
    if (event.type === "status") console.log(`   [${event.seq}] status ${d.status}`);
    else if (event.type === "eval") {
      console.log(`   [${event.seq}] eval epoch ${d.epoch}: ${JSON.stringify(d.metrics)}`);
    } else if (event.type === "step" && (Number(d.step) % 10 === 0 || d.step === d.total_steps)) {
      console.log(
        `   [${event.seq}] step ${d.step}/${d.total_steps} loss ${Number(d.loss).toFixed(4)} ` +
          `lr ${Number(d.learning_rate).toExponential(2)} ${d.examples_per_second} ex/s`,
      );
    }
  });
  const finished = await client.getJob(job.id);
  if (finished.status !== "succeeded") {
    throw new Error(`job ended ${finished.status}: ${finished.error?.message}`);
  }
  console.log(
    `4. fine-tuned model ${finished.fine_tuned_model}; held-out metrics ${JSON.stringify(finished.metrics)}`,
  );

  // Combinations of subjects and phrases that do not occur in the training file.
  const unseen = [
    "The desk lamp is brilliant. Love it.",
    "The headphones stopped working after a week. Avoid it.",
    "The mattress feels sturdy and well made.",
    "The app is slow and unreliable. One star.",
  ];
  const predictions = await client.predict(finished.fine_tuned_model!, unseen) as LabelScore[][];
  console.log("5. predictions for reviews that are not in the training file:");
  unseen.forEach((text, i) => {
    const [best] = predictions[i];
    console.log(`   ${best.label.padEnd(8)} ${best.score.toFixed(3)}  ${text}`);
  });
} finally {
  await server.stop({ closePlatform: true });
  await Deno.remove(dataDir, { recursive: true });
}
