/**
 * The job estimate's view of a base model (edge/routes/job_estimate_model.ts) agrees with the real models:
 * for every generative family the parameter names and shapes equal those of the initialised model and the
 * estimate's layer of each parameter equals the model's own `layerOf`; encoder tasks get the head of the task
 * (token classifier, QA outputs, a 1-output regression head).
 */
import assert from "node:assert/strict";
import { estimateModel } from "../../edge/routes/job_estimate_model.ts";
import { initGenerativeModel } from "../../shared/core/model/generative_load.ts";
import { initBackend } from "../../shared/core/backend.ts";

await initBackend("wasm");

const golden = (name: string) =>
  JSON.parse(Deno.readTextFileSync(`tests/fixtures/golden/${name}/config.json`)) as Record<string, unknown>;

for (
  const [name, task] of [["gpt2_tiny", "causal-lm"], ["t5_relu", "translation"], [
    "marian_tiny",
    "translation",
  ], ["bart_tiny", "translation"]] as const
) {
  Deno.test(`estimate model: ${name} shapes and layers match the initialised model`, () => {
    const config = golden(name);
    const estimated = estimateModel(config, task, 2);
    const model = initGenerativeModel(config, 1);
    try {
      const trained = [...model.params].filter(([n]) => !model.fixedParams.has(n));
      for (const [param, variable] of trained) {
        assert.deepEqual(estimated.shapes.get(param), variable.shape, param);
        assert.equal(estimated.layerOf!(param), model.layerOf(param), param);
      }
      assert.equal(estimated.dims.num_hidden_layers, model.numLayers);
    } finally {
      model.dispose();
    }
  });
}

Deno.test("estimate model: encoder heads follow the task", () => {
  const bert = {
    model_type: "bert",
    vocab_size: 100,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 64,
  };
  assert.deepEqual(estimateModel(bert, "token-classification", 9).shapes.get("classifier.weight"), [9, 16]);
  assert.equal(estimateModel(bert, "token-classification", 9).shapes.has("bert.pooler.dense.weight"), false);
  assert.deepEqual(estimateModel(bert, "question-answering", 9).shapes.get("qa_outputs.weight"), [2, 16]);
  assert.deepEqual(estimateModel(bert, "text-regression", 9).shapes.get("classifier.weight"), [1, 16]);
  assert.deepEqual(estimateModel(bert, "text-classification", 4).shapes.get("classifier.weight"), [4, 16]);
  assert.equal(estimateModel(bert, "text-classification", 4).dims.hidden_size, 16);
});
