import { initBackend } from "../../shared/core/backend.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { parseSquadJson } from "../../shared/core/tasks/squad.ts";
import { shuffledIndices } from "../../shared/core/random.ts";
import {
  fineTuneQuestionAnswering,
  qaTrainingExamples,
  questionAnsweringTask,
} from "../../shared/core/train/question_answering.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";
await initBackend("wasm");
const all = parseSquadJson(Deno.readTextFileSync("../shared/data/squad_v1.1_dev_articles_0-9.json"));
const pool = all.filter((e) => e.context.length < 400).slice(0, Number(Deno.args[0] ?? 330));
const order = shuffledIndices(pool.length, 3);
const val = order.slice(0, 40).map((i) => pool[i]);
const tr = order.slice(40).map((i) => pool[i]);
const tok = TextTokenizer.trainWordPiece(
  [...new Set(pool.map((e) => e.context))].concat(pool.map((e) => e.question)),
  { vocabSize: 1000 },
);
const ML = Number(Deno.args[1] ?? 64);
const config = {
  model_type: "bert",
  vocab_size: tok.vocabSize,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: ML,
};
const model = initSequenceClassifier(config, 2, 1, "span");
const hp = hyperparametersSchema.parse({
  learning_rate: Number(Deno.args[2] ?? 3e-3),
  epochs: Number(Deno.args[3] ?? 3),
  batch_size: 16,
  max_seq_length: ML,
  warmup_ratio: 0.1,
  seed: 1,
});
const task = questionAnsweringTask(model, tok, {}, { maxAnswerLength: 30 });
const vf = qaTrainingExamples(tok, val, { maxLength: ML, docStride: 32 });
const t0 = performance.now();
console.log("before", await task.evaluate(vf, { batchSize: 32, labelSmoothing: 0 }), performance.now() - t0);
console.log(
  "train feats",
  qaTrainingExamples(tok, tr, { maxLength: ML, docStride: 32 }).length,
  "val feats",
  vf.length,
);
const t1 = performance.now();
const r = await fineTuneQuestionAnswering({
  model,
  tokenizer: tok,
  train: tr,
  validation: val,
  hyperparameters: hp,
  docStride: 32,
  maxAnswerLength: 30,
  onEvent: (e) => {
    if (e.type === "eval") console.log(e.step, e.metrics, (performance.now() - t1) / 1000);
  },
  shouldStop: () => false,
});
console.log(r.metrics, (performance.now() - t1) / 1000);
