/**
 * Parameter groups from HF names: layer index parsing (BERT, DistilBERT, RoBERTa prefixes), the no-decay
 * rule for biases and LayerNorm weights, layer-wise LR decay, group overrides, freezing, and the gradual
 * unfreezing plan.
 */
import assert from "node:assert/strict";
import {
  buildParamGroups,
  inferNumLayers,
  isNoDecayName,
  layerIndex,
  trainableLayerGroupsAt,
  trainableNamesAt,
} from "../../shared/core/train/param_groups.ts";

const bertNames = [
  "bert.embeddings.word_embeddings.weight",
  "bert.embeddings.LayerNorm.weight",
  "bert.embeddings.LayerNorm.bias",
  "bert.encoder.layer.0.attention.self.query.weight",
  "bert.encoder.layer.0.attention.self.query.bias",
  "bert.encoder.layer.0.output.LayerNorm.weight",
  "bert.encoder.layer.1.intermediate.dense.weight",
  "bert.encoder.layer.2.output.dense.weight",
  "bert.pooler.dense.weight",
  "classifier.weight",
  "classifier.bias",
];

Deno.test("layer indices: embeddings 0, encoder.layer.N → N+1, everything else is the head", () => {
  assert.equal(inferNumLayers(bertNames), 3);
  assert.equal(layerIndex("bert.embeddings.word_embeddings.weight", 3), 0);
  assert.equal(layerIndex("encoder.layer.0.attention.self.query.weight", 3), 1);
  assert.equal(layerIndex("roberta.encoder.layer.2.output.dense.bias", 3), 3);
  assert.equal(layerIndex("distilbert.transformer.layer.1.ffn.lin1.weight", 3), 2);
  assert.equal(layerIndex("distilbert.embeddings.position_embeddings.weight", 3), 0);
  assert.equal(layerIndex("bert.pooler.dense.weight", 3), 4);
  assert.equal(layerIndex("pre_classifier.weight", 3), 4);
});

Deno.test("no weight decay for biases and LayerNorm weights, decay for the rest", () => {
  const groups = buildParamGroups(bertNames, { weightDecay: 0.01 });
  const decayed = [...groups].filter(([, g]) => g.weightDecay === 0.01).map(([n]) => n);
  assert.deepEqual(decayed, [
    "bert.embeddings.word_embeddings.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.1.intermediate.dense.weight",
    "bert.encoder.layer.2.output.dense.weight",
    "bert.pooler.dense.weight",
    "classifier.weight",
  ]);
  assert.ok(isNoDecayName("distilbert.transformer.layer.0.sa_layer_norm.weight"));
  assert.ok(isNoDecayName("h.0.ln_1.weight"));
  assert.ok(!isNoDecayName("encoder.layer.0.attention.output.dense.weight"));
  for (const g of groups.values()) assert.equal(g.lrScale, 1, "no decay factor → base LR everywhere");
});

Deno.test("layer-wise LR decay: head and top layer at base LR, one factor per layer below, embeddings lowest", () => {
  const groups = buildParamGroups(bertNames, { weightDecay: 0, layerLrDecay: 0.5 });
  const scale = (n: string) => groups.get(n)!.lrScale;
  assert.equal(scale("classifier.weight"), 1);
  assert.equal(scale("bert.pooler.dense.weight"), 1);
  assert.equal(scale("bert.encoder.layer.2.output.dense.weight"), 1);
  assert.equal(scale("bert.encoder.layer.1.intermediate.dense.weight"), 0.5);
  assert.equal(scale("bert.encoder.layer.0.attention.self.query.bias"), 0.25);
  assert.equal(scale("bert.embeddings.LayerNorm.weight"), 0.125);
  assert.equal(groups.get("bert.embeddings.LayerNorm.weight")!.layer, 0);
  assert.equal(groups.get("classifier.bias")!.layer, 4);
});

Deno.test("group overrides: multipliers and absolute LRs replace the decay scale; layer.N beats encoder", () => {
  const groups = buildParamGroups(bertNames, {
    weightDecay: 0.01,
    layerLrDecay: 0.5,
    baseLr: 2e-5,
    lrMultipliers: { encoder: 0.3, "layer.2": 0.9 },
    lrOverrides: { embeddings: 1e-5, head: 1e-4 },
  });
  const scale = (n: string) => groups.get(n)!.lrScale;
  assert.equal(scale("bert.encoder.layer.0.attention.self.query.weight"), 0.3);
  assert.equal(scale("bert.encoder.layer.1.intermediate.dense.weight"), 0.3);
  assert.equal(scale("bert.encoder.layer.2.output.dense.weight"), 0.9);
  assert.equal(scale("bert.embeddings.word_embeddings.weight"), 0.5, "absolute 1e-5 over base 2e-5");
  assert.equal(scale("classifier.weight"), 5);
  assert.throws(() => buildParamGroups(bertNames, { weightDecay: 0, lrOverrides: { head: 1e-4 } }), /baseLr/);
  assert.throws(
    () => buildParamGroups(bertNames, { weightDecay: 0, lrMultipliers: { "layer.3": 1 } }),
    /layer\.3/,
  );
  assert.throws(
    () => buildParamGroups(bertNames, { weightDecay: 0, lrMultipliers: { pooler: 1 } }),
    /unknown group/,
  );
  assert.throws(
    () =>
      buildParamGroups(bertNames, {
        weightDecay: 0,
        baseLr: 1,
        lrMultipliers: { head: 1 },
        lrOverrides: { head: 1 },
      }),
    /both/,
  );
});

Deno.test("freezing leaves the frozen names out of the groups", () => {
  const trainable = (
    opts: Parameters<typeof buildParamGroups>[1],
  ) => [...buildParamGroups(bertNames, opts).keys()];
  const layersOf = (names: string[]) => [...new Set(names.map((n) => layerIndex(n, 3)))].sort();
  assert.deepEqual(layersOf(trainable({ weightDecay: 0, freezeEmbeddings: true })), [1, 2, 3, 4]);
  assert.deepEqual(layersOf(trainable({ weightDecay: 0, freezeLayers: 2 })), [0, 3, 4]);
  assert.deepEqual(layersOf(trainable({ weightDecay: 0, freezeLayers: 1, freezeEmbeddings: true })), [
    2,
    3,
    4,
  ]);
  assert.deepEqual(trainable({ weightDecay: 0, freezeEncoder: true }), [
    "bert.pooler.dense.weight",
    "classifier.weight",
    "classifier.bias",
  ]);
  assert.throws(() => buildParamGroups(bertNames, { weightDecay: 0, freezeLayers: 4 }), /freezeLayers/);
  assert.throws(() => buildParamGroups(bertNames, { weightDecay: 0, numLayers: 2 }), /numLayers/);
  assert.throws(() => buildParamGroups(bertNames, { weightDecay: 0, layerLrDecay: 0 }), /layerLrDecay/);
});

Deno.test("DistilBERT names: transformer.layer.N groups, sa_layer_norm without decay", () => {
  const names = [
    "distilbert.embeddings.word_embeddings.weight",
    "distilbert.transformer.layer.0.attention.q_lin.weight",
    "distilbert.transformer.layer.0.sa_layer_norm.weight",
    "distilbert.transformer.layer.1.ffn.lin2.weight",
    "pre_classifier.weight",
    "classifier.weight",
  ];
  const groups = buildParamGroups(names, { weightDecay: 0.1, layerLrDecay: 0.8, freezeLayers: 1 });
  assert.deepEqual([...groups.keys()], [names[0], names[3], names[4], names[5]]);
  assert.ok(Math.abs(groups.get(names[0])!.lrScale - 0.64) < 1e-15);
  assert.equal(groups.get(names[3])!.layer, 2);
  assert.equal(groups.get(names[4])!.layer, 3);
});

Deno.test("gradual unfreezing: head first, then one more group from the top per interval", () => {
  const plan = { numLayers: 3, interval: 1 };
  assert.deepEqual([...trainableLayerGroupsAt(0, plan)], [4]);
  assert.deepEqual([...trainableLayerGroupsAt(1, plan)], [4, 3]);
  assert.deepEqual([...trainableLayerGroupsAt(2.5, plan)], [4, 3, 2]);
  assert.deepEqual([...trainableLayerGroupsAt(4, plan)], [4, 3, 2, 1, 0]);
  assert.deepEqual([...trainableLayerGroupsAt(99, plan)], [4, 3, 2, 1, 0]);
  const bySteps = { numLayers: 3, interval: 100, initialGroups: 2 };
  assert.deepEqual([...trainableLayerGroupsAt(99, bySteps)], [4, 3]);
  assert.deepEqual([...trainableLayerGroupsAt(100, bySteps)], [4, 3, 2]);
  const groups = buildParamGroups(bertNames, { weightDecay: 0 });
  assert.deepEqual([...trainableNamesAt(groups, 1, plan)], [
    "bert.encoder.layer.2.output.dense.weight",
    "bert.pooler.dense.weight",
    "classifier.weight",
    "classifier.bias",
  ]);
  assert.throws(() => trainableLayerGroupsAt(0, { numLayers: 3, interval: 0 }), /interval/);
});

Deno.test("buildParamGroups: a layerOf function places generative names (decay, freezing, bounds)", () => {
  // GPT-2-style names: the task's layerOf maps them (0 = embeddings, 1..L = blocks, L + 1 = final norm).
  const names = [
    "transformer.wte.weight",
    "transformer.h.0.attn.c_attn.weight",
    "transformer.h.1.mlp.c_fc.bias",
    "transformer.ln_f.weight",
  ];
  const layerOf = (name: string) => {
    const m = /^transformer\.h\.(\d+)\./.exec(name);
    return m ? Number(m[1]) + 1 : name.startsWith("transformer.wte") ? 0 : 3;
  };
  const groups = buildParamGroups(names, { weightDecay: 0.01, numLayers: 2, layerLrDecay: 0.5, layerOf });
  assert.deepEqual(names.map((n) => groups.get(n)?.layer), [0, 1, 2, 3]);
  assert.deepEqual(names.map((n) => groups.get(n)?.lrScale), [0.25, 0.5, 1, 1]);
  assert.equal(groups.get("transformer.h.1.mlp.c_fc.bias")!.weightDecay, 0);
  const frozen = buildParamGroups(names, {
    weightDecay: 0,
    numLayers: 2,
    freezeLayers: 1,
    freezeEmbeddings: true,
    layerOf,
  });
  assert.deepEqual([...frozen.keys()], ["transformer.h.1.mlp.c_fc.bias", "transformer.ln_f.weight"]);
  assert.throws(
    () => buildParamGroups(names, { weightDecay: 0, numLayers: 2, layerOf: () => 7 }),
    /layer index 7, outside 0\.\.3/,
  );
});
