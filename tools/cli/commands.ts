/**
 * The CLI's commands, each a function of parsed arguments and a typed API client (shared/client) that
 * prints a short human summary, or the API's JSON with `--json`, and returns the process exit code:
 * upload, datasets, models (list / create-random), train (or estimate with --dry-run), follow, jobs,
 * cancel, predict.
 */
import type { EdgetuneClient, JobEvent, JobSpec } from "../../shared/client/mod.ts";
import {
  flag,
  numberOption,
  option,
  type ParsedArgs,
  parseHyperparameters,
  requireOption,
  UsageError,
} from "./args.ts";
import { FollowPrinter, formatDuration } from "./progress.ts";

export type Command = (client: EdgetuneClient, args: ParsedArgs) => Promise<number>;

const print = (text: string) => console.log(text);
const json = (value: unknown) => console.log(JSON.stringify(value, null, 2));

function positional(args: ParsedArgs, index: number, what: string): string {
  const value = args.positional[index];
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

const upload: Command = async (client, args) => {
  const path = positional(args, 0, "<file>");
  const bytes = await Deno.readFile(path).catch((error) => {
    throw new UsageError(`cannot read ${path}: ${error.message}`);
  });
  const format = option(args, "format") as "csv" | "tsv" | "jsonl" | undefined;
  const dataset = await client.uploadDataset(bytes, {
    fileName: path.split("/").pop()!,
    name: option(args, "name"),
    format,
  });
  if (flag(args, "json")) json(dataset);
  else print(`${dataset.id}\t${dataset.name}\t${dataset.rows} rows\tcolumns ${dataset.columns.join(",")}`);
  return 0;
};

const datasets: Command = async (client, args) => {
  const { data } = await client.listDatasets();
  if (flag(args, "json")) json(data);
  else for (const d of data) print(`${d.id}\t${d.name}\t${d.format}\t${d.rows} rows`);
  return 0;
};

const models: Command = async (client, args) => {
  if (args.positional[0] === "create-random") {
    const labels = option(args, "labels");
    const model = await client.createModel({
      name: requireOption(args, "name"),
      config: {
        hidden_size: numberOption(args, "hidden", 64),
        num_hidden_layers: numberOption(args, "layers", 2),
        num_attention_heads: numberOption(args, "heads", 2),
        intermediate_size: numberOption(args, "intermediate", 4 * numberOption(args, "hidden", 64)!),
      },
      tokenizer: {
        dataset: requireOption(args, "dataset"),
        column: option(args, "column") ?? "text",
        vocab_size: numberOption(args, "vocab", 8000),
      },
      ...(labels ? { labels: labels.split(",") } : {}),
      ...(option(args, "seed") ? { seed: numberOption(args, "seed") } : {}),
    });
    if (flag(args, "json")) json(model);
    else print(`${model.id}\t${model.name}\t${model.parameters} parameters`);
    return 0;
  }
  if (args.positional.length > 0) throw new UsageError(`unknown 'models ${args.positional[0]}'`);
  const { data } = await client.listModels();
  if (flag(args, "json")) json(data);
  else for (const m of data) print(`${m.id}\t${m.name}\t${m.source}\t${m.task ?? "base"}\t${m.parameters}`);
  return 0;
};

function jobSpec(args: ParsedArgs): JobSpec {
  const split = numberOption(args, "validation-split");
  const validation = option(args, "validation-dataset");
  return {
    task: (option(args, "task") ?? "text-classification") as JobSpec["task"],
    base_model: requireOption(args, "model"),
    training_dataset: requireOption(args, "dataset"),
    ...(split !== undefined ? { validation_split: split } : {}),
    ...(validation ? { validation_dataset: validation } : {}),
    ...(option(args, "text-column") || option(args, "label-column")
      ? {
        columns: {
          text: option(args, "text-column") ?? "text",
          label: option(args, "label-column") ?? "label",
        },
      }
      : {}),
    hyperparameters: parseHyperparameters(args.options.get("hp") ?? []) as JobSpec["hyperparameters"],
  };
}

const train: Command = async (client, args) => {
  const spec = jobSpec(args);
  if (flag(args, "dry-run")) {
    const plan = await client.estimateJob(spec);
    if (flag(args, "json")) json(plan);
    else {
      print(`steps ${plan.total_steps} (${plan.steps_per_epoch}/epoch × ${plan.epochs} epochs)`);
      print(`examples ${plan.examples.train} train, ${plan.examples.validation} validation`);
      print(`tokens/example p50 ${plan.tokens.per_example_p50}, p90 ${plan.tokens.per_example_p90}`);
      print(`parameters ${plan.parameters.trainable} trainable of ${plan.parameters.total}`);
      print(`peak memory ${(plan.memory.peak_bytes / 2 ** 20).toFixed(1)} MiB`);
      for (const t of plan.time) print(`time on ${t.backend}: about ${formatDuration(t.seconds)}`);
    }
    return 0;
  }
  const job = await client.startJob(spec, option(args, "idempotency-key"));
  if (flag(args, "json")) json(job);
  else print(job.id);
  return flag(args, "follow") ? await followJob(client, job.id) : 0;
};

async function followJob(client: EdgetuneClient, jobId: string): Promise<number> {
  const printer = FollowPrinter.forStdout();
  let status = "";
  await client.followEvents(jobId, (event: JobEvent) => {
    printer.event(event);
    if (event.type === "status") status = String(event.data.status);
  });
  printer.end();
  if (status === "succeeded") {
    const job = await client.getJob(jobId);
    print(`fine-tuned model ${job.fine_tuned_model}`);
  }
  return status === "succeeded" ? 0 : 1;
}

const follow: Command = (client, args) => followJob(client, positional(args, 0, "<job>"));

const jobs: Command = async (client, args) => {
  const page = await client.listJobs({ limit: numberOption(args, "limit", 20) });
  if (flag(args, "json")) json(page.data);
  else {
    for (const j of page.data) {
      const eta = j.eta_seconds != null ? ` eta ${formatDuration(j.eta_seconds)}` : "";
      print(`${j.id}\t${j.status}\t${j.progress.step}/${j.progress.total_steps}\t${j.base_model}${eta}`);
    }
  }
  return 0;
};

const cancel: Command = async (client, args) => {
  const job = await client.cancelJob(positional(args, 0, "<job>"));
  if (flag(args, "json")) json(job);
  else print(`${job.id}\t${job.status}${job.status === "running" ? " (stops within one step)" : ""}`);
  return 0;
};

/** The one-line summary of a prediction of any task (labels by score, value, entities, answer, text). */
function summary(result: unknown): string {
  const items = Array.isArray(result) ? result : [result];
  return items.map((r: Record<string, unknown>) => {
    if (typeof r.label === "string") return `${r.label} ${Number(r.score).toFixed(4)}`;
    if (typeof r.entity_group === "string" || typeof r.entity === "string") {
      return `${r.entity_group ?? r.entity}: ${r.word} [${r.start}, ${r.end})`;
    }
    if (typeof r.answer === "string") return `${JSON.stringify(r.answer)} ${Number(r.score).toFixed(4)}`;
    if (typeof r.generated_text === "string") return r.generated_text;
    if (typeof r.translation_text === "string") return r.translation_text;
    return `score ${Number(r.score).toFixed(4)}`;
  }).join("  ");
}

const predict: Command = async (client, args) => {
  const model = positional(args, 0, "<model>");
  const texts = args.positional.slice(1);
  if (texts.length === 0) throw new UsageError("give at least one input");
  const context = option(args, "context");
  const body: Record<string, unknown> = {
    // Question answering: the texts are questions about --context.
    inputs: context === undefined ? texts : texts.map((question) => ({ question, context })),
  };
  const topK = numberOption(args, "top-k");
  if (topK !== undefined) body.top_k = topK;
  const maxNewTokens = numberOption(args, "max-new-tokens");
  if (maxNewTokens !== undefined) body.parameters = { max_new_tokens: maxNewTokens };
  const results = await client.infer<unknown[]>(model, body);
  if (flag(args, "json")) json(results);
  else texts.forEach((text, i) => print(`${text}\n  ${summary(results[i])}`));
  return 0;
};

export const COMMANDS: Record<string, Command> = {
  upload,
  datasets,
  models,
  train,
  follow,
  jobs,
  cancel,
  predict,
};
