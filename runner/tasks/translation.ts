/**
 * The translation task: source/target pairs (two columns of one dataset, or two aligned text datasets) are
 * fine-tuned into an encoder-decoder base model (T5, mBART, Marian) with teacher forcing and label smoothing
 * through the shared seq2seq task; held-out evaluation reports eval_loss, perplexity, and BLEU and chrF of
 * greedy (or `eval_num_beams`) translations of the first `eval_generation_rows` held-out pairs. The output is
 * the encoder-decoder as an HF folder, servable at predict (translation pipeline shape).
 */
import type { Seq2SeqModel } from "../../shared/core/generate/types.ts";
import { fineTuneSeq2Seq } from "../../shared/core/train/seq2seq.ts";
import { languageCodeId } from "../../shared/core/train/seq2seq_data.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { TableRow } from "../../shared/data/mod.ts";
import { loadTaskInputs } from "../task_inputs.ts";
import { generativeOutput, loadGenerativeBase } from "./generative_inputs.ts";
import type { TaskContext, TaskOutput, TaskRunner } from "./types.ts";

function pairs(rows: TableRow[], columns: Record<string, string>) {
  return rows.map(({ line, row }) => {
    const source = row[columns.source] ?? "";
    const target = row[columns.target] ?? "";
    if (source.trim() === "" || target.trim() === "") {
      throw new ApiError(
        400,
        "invalid_file",
        `line ${line}: empty ${source.trim() === "" ? "source" : "target"}`,
        {
          line,
        },
      );
    }
    return { source, target };
  });
}

export const translation: TaskRunner = {
  async run(ctx: TaskContext): Promise<TaskOutput> {
    const { job } = ctx;
    const inputs = await loadTaskInputs(ctx.platform, job);
    const loaded = loadGenerativeBase(inputs);
    if (loaded.model.kind !== "seq2seq") {
      loaded.model.dispose();
      throw new ApiError(
        400,
        "invalid_request",
        "translation needs an encoder-decoder base model (T5, mBART, Marian)",
      );
    }
    const model: Seq2SeqModel = loaded.model;
    const options = job.task_options;
    try {
      const train = pairs(inputs.train, inputs.columns);
      const validation = inputs.validation ? pairs(inputs.validation, inputs.columns) : null;
      await ctx.log(
        `translating ${train.length} training pairs, evaluating on ${validation?.length ?? 0}; ` +
          `model ${inputs.baseModel.architecture}, ${model.parameterCount()} parameters`,
      );
      const maxTarget = options.max_target_length ?? 128;
      const result = await fineTuneSeq2Seq({
        model,
        tokenizer: loaded.tokenizer,
        train,
        validation,
        hyperparameters: job.hyperparameters,
        sourcePrefix: options.source_prefix,
        sourceLangId: languageCodeId(loaded.tokenizer, options.source_lang, "task_options.source_lang"),
        targetLangId: languageCodeId(loaded.tokenizer, options.target_lang, "task_options.target_lang"),
        maxTargetLength: maxTarget,
        evalGeneration: {
          rows: options.eval_generation_rows ?? 200,
          numBeams: options.eval_num_beams ?? 1,
          maxNewTokens: maxTarget,
        },
        onEvent: (event) => ctx.onTrainEvent(event),
        shouldStop: () => ctx.shouldStop(),
        resumable: {
          ...ctx.resume,
          loadBestModelAtEnd: job.hyperparameters.load_best_model_at_end === true,
        },
      });
      return generativeOutput("translation", loaded, inputs, result, {
        ...(options.source_prefix ? { source_prefix: options.source_prefix } : {}),
        ...(options.source_lang ? { source_lang: options.source_lang } : {}),
        ...(options.target_lang ? { target_lang: options.target_lang } : {}),
      });
    } finally {
      model.dispose();
    }
  },
};
