/**
 * GPT-2 model plumbing: config.json parsing (HF defaults, n_inner null → 4·n_embd, refusals with 400 naming
 * the unsupported flag or activation), HF initialisation statistics and seeding, loading errors (shape
 * mismatches, no GPT-2 weights), layerOf, the state dict without the tied lm_head, an untied head, seeded
 * dropout in training mode, the position limit and the export config.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { gpt2ParameterShapes } from "../../shared/core/model/gpt2.ts";
import { gpt2ConfigToHfJson, parseGpt2Config } from "../../shared/core/model/gpt2_config.ts";
import { gpt2StateDict, initGpt2, loadGpt2 } from "../../shared/core/model/gpt2_load.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const TINY = { model_type: "gpt2", vocab_size: 50, n_positions: 16, n_embd: 16, n_layer: 2, n_head: 2 };
const is400 = (pattern: RegExp) => (e: unknown) =>
  e instanceof ApiError && e.status === 400 && pattern.test(e.message);

Deno.test("parseGpt2Config: HF defaults, n_inner, and the real gpt2 config.json", () => {
  const gpt2 = parseGpt2Config(
    Deno.readTextFileSync(new URL("../../../shared/data/tokenizers/gpt2/config.json", import.meta.url)),
  );
  assert.equal(gpt2.n_embd, 768);
  assert.equal(gpt2.eos_token_id, 50256);
  assert.equal(gpt2.activation_function, "gelu_new");
  const tiny = parseGpt2Config(TINY);
  assert.equal(tiny.n_inner, null);
  assert.equal(tiny.layer_norm_epsilon, 1e-5);
  assert.equal(tiny.eos_token_id, null, "the default 50256 does not fit a 50-token vocabulary");
  assert.deepEqual(gpt2ParameterShapes(tiny).get("transformer.h.0.mlp.c_fc.weight"), [16, 64]);
  assert.deepEqual(
    gpt2ParameterShapes(parseGpt2Config({ ...TINY, n_inner: 24 })).get("transformer.h.1.mlp.c_proj.weight"),
    [24, 16],
  );
  assert.deepEqual(parseGpt2Config({ architectures: ["GPT2LMHeadModel"], n_layer: 1 }).n_layer, 1);
  const hf = gpt2ConfigToHfJson(tiny);
  assert.equal(hf.model_type, "gpt2");
  assert.deepEqual(hf.architectures, ["GPT2LMHeadModel"]);
  assert.deepEqual(parseGpt2Config(hf), tiny, "the export config parses back to the same config");
});

Deno.test("parseGpt2Config refuses unsupported flags, activations and shapes with 400", () => {
  for (const flag of ["add_cross_attention", "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"]) {
    assert.throws(() => parseGpt2Config({ ...TINY, [flag]: true }), is400(new RegExp(flag)));
    parseGpt2Config({ ...TINY, [flag]: false });
  }
  assert.throws(
    () => parseGpt2Config({ ...TINY, activation_function: "mish" }),
    is400(/activation_function 'mish'/),
  );
  assert.throws(() => parseGpt2Config({ ...TINY, n_head: 3 }), is400(/multiple of n_head/));
  assert.throws(() => parseGpt2Config({ ...TINY, model_type: "bert" }), is400(/model_type 'bert'/));
  assert.throws(() => parseGpt2Config({ n_layer: 2 }), is400(/GPT2/));
  assert.throws(() => parseGpt2Config({ ...TINY, attn_pdrop: 1.5 }), is400(/attn_pdrop/));
  assert.throws(() => parseGpt2Config({ ...TINY, eos_token_id: 50 }), is400(/eos_token_id/));
  assert.throws(() => parseGpt2Config("{oops"), is400(/JSON/));
});

Deno.test("initGpt2 follows HF init (c_proj std scaled by 1/sqrt(2·n_layer)) and is seeded", () => {
  const config = { ...TINY, vocab_size: 400, n_embd: 64, n_head: 4, initializer_range: 0.05 };
  const a = initGpt2(config, 1);
  const b = initGpt2(config, 1);
  const c = initGpt2(config, 2);
  const values = (m: typeof a, name: string) => m.params.get(name)!.dataSync() as Float32Array;
  const std = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
  assert.ok(Math.abs(std(values(a, "transformer.wte.weight")) - 0.05) < 0.003);
  assert.ok(Math.abs(std(values(a, "transformer.h.0.mlp.c_fc.weight")) - 0.05) < 0.003);
  assert.ok(Math.abs(std(values(a, "transformer.h.1.mlp.c_proj.weight")) - 0.05 / 2) < 0.002);
  assert.ok(Math.abs(std(values(a, "transformer.h.0.attn.c_proj.weight")) - 0.05 / 2) < 0.003);
  assert.ok(values(a, "transformer.ln_f.weight").every((x) => x === 1));
  assert.ok(values(a, "transformer.h.0.attn.c_attn.bias").every((x) => x === 0));
  assert.deepEqual(values(a, "transformer.wpe.weight"), values(b, "transformer.wpe.weight"));
  assert.notDeepEqual(values(a, "transformer.wpe.weight"), values(c, "transformer.wpe.weight"));
  assert.equal(a.layerOf("transformer.wte.weight"), 0);
  assert.equal(a.layerOf("transformer.wpe.weight"), 0);
  assert.equal(a.layerOf("transformer.h.0.ln_1.weight"), 1);
  assert.equal(a.layerOf("transformer.h.1.mlp.c_fc.bias"), 2);
  assert.equal(a.layerOf("transformer.ln_f.bias"), 3);
  for (const m of [a, b, c]) m.dispose();
});

Deno.test("state dict round-trips without lm_head.weight; loading refuses bad shapes with 400", () => {
  const model = initGpt2(TINY, 3);
  const state = gpt2StateDict(model);
  assert.ok(!state.has("lm_head.weight"));
  assert.equal(state.size, model.params.size);
  const { model: again, initialized } = loadGpt2(TINY, state);
  assert.deepEqual(initialized, []);
  const prompt = [[1, 2, 3, 4]];
  const x = model.step(prompt, null);
  const y = again.step(prompt, null);
  assert.deepEqual(x.logits, y.logits);
  const bad = new Map(state);
  bad.set("transformer.h.0.attn.c_attn.weight", {
    dtype: "F32",
    shape: [48, 16],
    data: new Float32Array(768),
  });
  assert.throws(() => loadGpt2(TINY, bad), is400(/c_attn.weight is \[48,16\], expected \[16,48\]/));
  const badHead = new Map(state);
  badHead.set("lm_head.weight", { dtype: "F32", shape: [51, 16], data: new Float32Array(51 * 16) });
  assert.throws(() => loadGpt2(TINY, badHead), is400(/lm_head.weight/));
  const bert = new Map([["bert.embeddings.word_embeddings.weight", state.get("transformer.wte.weight")!]]);
  assert.throws(() => loadGpt2(TINY, bert), is400(/no GPT-2 weights/));
  for (const r of [x, y]) r.cache.dispose();
  model.dispose();
  again.dispose();
});

Deno.test("an untied lm_head is its own parameter; activation functions change the output", () => {
  const untied = initGpt2({ ...TINY, tie_word_embeddings: false }, 4);
  assert.ok(untied.params.has("lm_head.weight"));
  assert.equal(untied.layerOf("lm_head.weight"), 3);
  assert.ok(gpt2StateDict(untied).has("lm_head.weight"));
  const relu = initGpt2({ ...TINY, activation_function: "relu" }, 4);
  const gelu = initGpt2({ ...TINY, activation_function: "gelu_new" }, 4);
  const a = relu.step([[1, 2, 3]], null);
  const b = gelu.step([[1, 2, 3]], null);
  assert.notDeepEqual(a.logits, b.logits);
  for (const r of [a, b]) r.cache.dispose();
  for (const m of [untied, relu, gelu]) m.dispose();
});

Deno.test("training forward: seeded dropout repeats, differs from eval; positions beyond n_positions are 400", () => {
  const model = initGpt2({ ...TINY, resid_pdrop: 0.3, embd_pdrop: 0.3, attn_pdrop: 0.3 }, 5);
  const ids = tf.tensor2d([[1, 2, 3, 4], [5, 6, 0, 0]], undefined, "int32");
  const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]], undefined, "int32");
  const t1 = model.forward(ids, mask, { training: true, seed: 9 });
  const t2 = model.forward(ids, mask, { training: true, seed: 9 });
  const ev = model.forward(ids, mask, { training: false });
  assert.deepEqual(t1.shape, [8, 50]);
  assert.deepEqual(t1.dataSync(), t2.dataSync());
  assert.notDeepEqual(t1.dataSync(), ev.dataSync());
  // Right padding does not change the real positions' logits.
  const alone = model.forward(
    tf.tensor2d([[5, 6]], undefined, "int32"),
    tf.tensor2d([[1, 1]], undefined, "int32"),
    {
      training: false,
    },
  );
  const padded = ev.slice([4, 0], [2, 50]);
  assert.ok(tf.max(tf.abs(tf.sub(alone, padded))).dataSync()[0] < 1e-5);
  const long = tf.zeros([1, 17], "int32") as tf.Tensor2D;
  assert.throws(() => model.forward(long, tf.onesLike(long), { training: false }), is400(/exceeds/));
  const r = model.step([[1, 2, 3]], null);
  assert.throws(() => model.step([new Array(14).fill(1)], r.cache), is400(/exceeds/));
  assert.throws(() => model.step([[50]], null), is400(/outside the vocabulary/));
  r.cache.dispose();
  tf.dispose([ids, mask, t1, t2, ev, alone, padded, long]);
  model.dispose();
});
