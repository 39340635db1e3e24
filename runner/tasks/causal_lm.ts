/**
 * The causal-lm task: fine-tunes a decoder-only base model (GPT-2) on the job's text — plain texts packed into
 * blocks of `task_options.block_size` tokens (a plain-text upload is one document joined by newlines; rows of a
 * table are documents joined by EOS), or prompt/completion pairs with the loss on the completion only — and
 * evaluates held-out perplexity. The output is the language model as an HF folder, servable at predict
 * (text-generation pipeline shape, streaming with `stream: true`).
 */
import type { CausalLanguageModel } from "../../shared/core/generate/types.ts";
import { fineTuneCausalLm } from "../../shared/core/train/causal_lm.ts";
import type { CausalLmRows } from "../../shared/core/train/causal_lm.ts";
import type { TableRow } from "../../shared/data/mod.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { loadTaskInputs } from "../task_inputs.ts";
import { generativeOutput, loadGenerativeBase } from "./generative_inputs.ts";
import type { TaskContext, TaskOutput, TaskRunner } from "./types.ts";

function rowsOf(rows: TableRow[], columns: Record<string, string>): CausalLmRows {
  if (columns.prompt !== undefined) {
    return rows.map(({ line, row }) => {
      const completion = row[columns.completion] ?? "";
      if (completion.trim() === "") {
        throw new ApiError(400, "invalid_file", `line ${line}: empty completion`, { line });
      }
      return { prompt: row[columns.prompt] ?? "", completion };
    });
  }
  return rows.map(({ row }) => row[columns.text] ?? "");
}

export const causalLm: TaskRunner = {
  async run(ctx: TaskContext): Promise<TaskOutput> {
    const { job } = ctx;
    const inputs = await loadTaskInputs(ctx.platform, job);
    const loaded = loadGenerativeBase(inputs);
    if (loaded.model.kind !== "causal") {
      loaded.model.dispose();
      throw new ApiError(400, "invalid_request", "causal-lm needs a decoder-only base model (GPT-2)");
    }
    const model: CausalLanguageModel = loaded.model;
    const options = job.task_options;
    const hyperparameters = options.block_size === undefined
      ? job.hyperparameters
      : { ...job.hyperparameters, max_seq_length: options.block_size };
    const plainText = inputs.trainingFormat === "text";
    try {
      const train = rowsOf(inputs.train, inputs.columns);
      const validation = inputs.validation ? rowsOf(inputs.validation, inputs.columns) : null;
      const result = await fineTuneCausalLm({
        model,
        tokenizer: loaded.tokenizer,
        train,
        validation,
        hyperparameters,
        data: {
          packing: options.packing ?? true,
          joinWith: plainText ? "newline" : "eos",
        },
        onEvent: (event) => ctx.onTrainEvent(event),
        shouldStop: () => ctx.shouldStop(),
        resumable: {
          ...ctx.resume,
          loadBestModelAtEnd: job.hyperparameters.load_best_model_at_end === true,
        },
      });
      await ctx.log(
        `trained on ${result.examples.train} examples (${result.examples.truncated} truncated, ` +
          `${result.examples.skipped} skipped), evaluated on ${result.examples.validation}`,
      );
      return generativeOutput("causal-lm", loaded, inputs, result, {});
    } finally {
      model.dispose();
    }
  },
};
