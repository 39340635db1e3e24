/**
 * Checkpoints: safetensors write → read round trip (layout per the spec: u64 header length, 8-byte aligned
 * JSON header, contiguous data), F16/BF16 decoding from hand-made bytes, corrupt files as 400s, and the HF
 * mapping: export a model to an HF folder and load it back (also under BertModel and BertForMaskedLM names)
 * with identical logits; mismatched shapes are refused with the list of offenders.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { exportHfFolder, validateCheckpointShapes } from "../../shared/core/checkpoint/hf_folder.ts";
import {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from "../../shared/core/checkpoint/safetensors.ts";
import type { BertForSequenceClassification } from "../../shared/core/model/bert.ts";
import { parseBertConfig } from "../../shared/core/model/config.ts";
import {
  initBertForSequenceClassification,
  loadBertForSequenceClassification,
} from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const TINY = {
  model_type: "bert",
  vocab_size: 40,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 16,
  max_position_embeddings: 16,
};

/** A safetensors file assembled by hand from a header object and raw data bytes. */
function handMade(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const u16 = (values: number[]) => new Uint8Array(new Uint16Array(values).buffer);
const isInvalidFile = (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === "invalid_file";

Deno.test("safetensors write → read round trip with metadata and aligned header", () => {
  const tensors = new Map([
    ["a.weight", { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 4, 5e-8, -6e7]) }],
    ["b", { shape: [1], data: new Float32Array([Math.PI]) }],
    ["empty", { shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const bytes = writeSafetensors(tensors, { format: "pt" });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);
  const header = readSafetensorsHeader(bytes.subarray(0, 8 + headerLength));
  assert.deepEqual(header.metadata, { format: "pt" });
  assert.deepEqual(header.tensors["a.weight"], { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
  assert.deepEqual(header.tensors.b.data_offsets, [24, 28]);
  assert.equal(bytes.length, 8 + headerLength + 28);
  const back = readSafetensors(bytes);
  assert.deepEqual([...back.keys()], ["a.weight", "b", "empty"]);
  assert.deepEqual(back.get("a.weight")!.data, tensors.get("a.weight")!.data);
  assert.deepEqual(back.get("b")!.data, new Float32Array([Math.PI]));
  assert.deepEqual(back.get("empty")!.shape, [0, 4]);
});

Deno.test("F16 and BF16 tensors decode to float32", () => {
  // f16: 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), +inf; bf16: 1, -2.5, 3.140625
  const f16 = u16([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00]);
  const bf16 = u16([0x3f80, 0xc020, 0x4049]);
  const data = new Uint8Array(f16.length + bf16.length);
  data.set(f16);
  data.set(bf16, f16.length);
  const bytes = handMade({
    h: { dtype: "F16", shape: [2, 3], data_offsets: [0, 12] },
    b: { dtype: "BF16", shape: [3], data_offsets: [12, 18] },
  }, data);
  const t = readSafetensors(bytes);
  assert.deepEqual([...t.get("h")!.data], [1, -2, 0.5, 65504, 2 ** -24, Infinity]);
  assert.deepEqual([...t.get("b")!.data], [1, -2.5, 3.140625]);
  assert.deepEqual(t.get("h")!.shape, [2, 3]);
});

Deno.test("corrupt safetensors files are 400 invalid_file", () => {
  const good = writeSafetensors(new Map([["x", { shape: [4], data: new Float32Array(4) }]]));
  assert.throws(() => readSafetensors(good.subarray(0, good.length - 4)), isInvalidFile);
  assert.throws(() => readSafetensors(good.subarray(0, 5)), isInvalidFile);
  assert.throws(
    () =>
      readSafetensors(handMade({ x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8))),
    isInvalidFile,
  );
  assert.throws(
    () =>
      readSafetensors(handMade({ x: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))),
    isInvalidFile,
  );
  const badJson = new Uint8Array(16);
  new DataView(badJson.buffer).setBigUint64(0, 8n, true);
  assert.throws(() => readSafetensors(badJson), isInvalidFile);
});

function logitsOf(model: BertForSequenceClassification): Float32Array {
  const batch = {
    inputIds: tf.tensor2d([[2, 9, 14, 3, 0], [2, 30, 3, 21, 3]], undefined, "int32"),
    attentionMask: tf.tensor2d([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], undefined, "int32"),
    tokenTypeIds: tf.tensor2d([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]], undefined, "int32"),
  };
  const logits = model.forward(batch, { training: false });
  const values = logits.dataSync() as Float32Array;
  tf.dispose([logits, batch]);
  return values;
}

const tokenizer = TextTokenizer.trainWordPiece(["alpha beta gamma", "beta gamma delta"], { vocabSize: 30 });

Deno.test("export to an HF folder and load back gives identical logits", () => {
  const config = parseBertConfig(TINY);
  const model = initBertForSequenceClassification(config, 3, 5);
  const folder = exportHfFolder(model, tokenizer, ["neg", "neu", "pos"]);
  assert.deepEqual(Object.keys(folder).sort(), [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
  ]);
  const vocab = TextTokenizer.fromVocabTxt(new TextDecoder().decode(folder["vocab.txt"]), {
    lowercase: true,
  });
  assert.deepEqual(
    vocab.encode(["alpha delta"], { maxLength: 8 }),
    tokenizer.encode(["alpha delta"], { maxLength: 8 }),
  );
  const hfConfig = JSON.parse(new TextDecoder().decode(folder["config.json"]));
  assert.deepEqual(hfConfig.architectures, ["BertForSequenceClassification"]);
  assert.equal(hfConfig.model_type, "bert");
  assert.deepEqual(hfConfig.id2label, { "0": "neg", "1": "neu", "2": "pos" });
  assert.deepEqual(hfConfig.label2id, { neg: 0, neu: 1, pos: 2 });
  const tensors = readSafetensors(folder["model.safetensors"]);
  assert.deepEqual(tensors.get("bert.encoder.layer.1.attention.self.query.weight")!.shape, [8, 8]);
  assert.deepEqual(tensors.get("classifier.weight")!.shape, [3, 8]);

  const loaded = loadBertForSequenceClassification(parseBertConfig(hfConfig), tensors, 3);
  try {
    assert.deepEqual(loaded.initialized, []);
    assert.deepEqual(loaded.ignored, []);
    assert.deepEqual(logitsOf(loaded.model), logitsOf(model));
    const tok = TextTokenizer.fromTokenizerJson(new TextDecoder().decode(folder["tokenizer.json"]));
    assert.deepEqual(
      tok.encode(["alpha delta"], { maxLength: 8 }),
      tokenizer.encode(["alpha delta"], { maxLength: 8 }),
    );
  } finally {
    model.dispose();
    loaded.model.dispose();
  }
});

Deno.test("BertModel and BertForMaskedLM checkpoints load; the head is initialised", () => {
  const config = parseBertConfig(TINY);
  const source = initBertForSequenceClassification(config, 2, 9);
  const asBertModel = new Map<string, { dtype: string; shape: number[]; data: Float32Array }>();
  const asMaskedLm = new Map<string, { dtype: string; shape: number[]; data: Float32Array }>();
  for (const [name, v] of source.params) {
    if (name.startsWith("classifier.")) continue;
    const t = { dtype: "F32", shape: [...v.shape], data: v.dataSync() as Float32Array };
    asBertModel.set(name.slice("bert.".length), t);
    if (!name.startsWith("bert.pooler.")) asMaskedLm.set(name, t);
  }
  asMaskedLm.set("cls.predictions.bias", { dtype: "F32", shape: [40], data: new Float32Array(40) });
  asMaskedLm.set("bert.embeddings.position_ids", {
    dtype: "I64",
    shape: [1, 16],
    data: new Float32Array(16),
  });
  const fromBase = loadBertForSequenceClassification(config, asBertModel, 2);
  const fromMlm = loadBertForSequenceClassification(config, asMaskedLm, 2);
  try {
    assert.deepEqual(fromBase.initialized, ["classifier.weight", "classifier.bias"]);
    assert.deepEqual(fromBase.ignored, []);
    assert.deepEqual(
      fromBase.model.params.get("bert.encoder.layer.1.output.dense.weight")!.dataSync(),
      source.params.get("bert.encoder.layer.1.output.dense.weight")!.dataSync(),
    );
    assert.deepEqual(fromMlm.initialized, [
      "bert.pooler.dense.weight",
      "bert.pooler.dense.bias",
      "classifier.weight",
      "classifier.bias",
    ]);
    assert.deepEqual(fromMlm.ignored.sort(), ["bert.embeddings.position_ids", "cls.predictions.bias"]);
  } finally {
    source.dispose();
    fromBase.model.dispose();
    fromMlm.model.dispose();
  }
});

Deno.test("shape mismatches are refused with 400 listing them; header pre-flight agrees", () => {
  const small = initBertForSequenceClassification(parseBertConfig(TINY), 2, 1);
  const bytes = writeSafetensors(
    new Map(
      [...small.params].map(([n, v]) => [n, { shape: [...v.shape], data: v.dataSync() as Float32Array }]),
    ),
  );
  small.dispose();
  const wider = parseBertConfig({ ...TINY, intermediate_size: 24 });
  assert.throws(
    () => loadBertForSequenceClassification(wider, readSafetensors(bytes), 2),
    (e) =>
      e instanceof ApiError && e.status === 400 &&
      /intermediate\.dense\.weight is \[16,8\], expected \[24,8\]/.test(
        e.message,
      ) && (e.details as { mismatches: unknown[] }).mismatches.length === 6,
  );
  const header = readSafetensorsHeader(bytes);
  assert.deepEqual(validateCheckpointShapes(parseBertConfig(TINY), header), []);
  const problems = validateCheckpointShapes(wider, header);
  assert.equal(problems.length, 6);
  assert.ok(problems.every((p) => /intermediate\.dense|output\.dense\.weight/.test(p)));
  assert.throws(
    () => loadBertForSequenceClassification(parseBertConfig(TINY), new Map(), 2),
    (e) => e instanceof ApiError && e.status === 400 && /no BERT encoder weights/.test(e.message),
  );
});
