/**
 * Model families over HTTP: BERT, RoBERTa, ELECTRA and DistilBERT HF folders import through POST /v1/models
 * (architecture recorded, head detected, predictions served), GET /v1/models/:id/export returns the stored
 * folder as a ustar archive that parses back (in TS) to the same files and re-imports to a model with
 * identical logits; unknown families, shape mismatches and a tokenizer of the wrong style are 400s that
 * leave nothing behind. Also the tar writer's edge cases (long names, base-256 sizes, size mismatches).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { exportHfFolder } from "../../shared/core/checkpoint/hf_folder.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { initSequenceClassifier, loadSequenceClassifier } from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { parseTar, tarHeader, tarStream } from "../../edge/models/tar.ts";
import { CONFIGS, familyFolder, TEXTS, tokenizerFor } from "../support/model_folders.ts";
import { errorOf, type Harness, harness } from "./helpers.ts";

await initBackend();

function folderForm(
  files: Record<string, Uint8Array | string>,
  fields: Record<string, string> = {},
): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [name, bytes] of Object.entries(files)) form.append("file", new Blob([bytes as BlobPart]), name);
  return form;
}

async function importFolder(h: Harness, files: Record<string, Uint8Array | string>, name: string) {
  const res = await h.call("POST", "/v1/models", { form: folderForm(files, { name }) });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

async function predict(h: Harness, id: string): Promise<unknown> {
  const res = await h.call("POST", `/v1/models/${id}/predict`, { json: { inputs: TEXTS } });
  assert.equal(res.status, 200);
  return await res.json();
}

/** Logits of a folder's model on TEXTS, computed by the core. */
function folderLogits(files: Record<string, Uint8Array>): number[][] {
  const text = (name: string) => new TextDecoder().decode(files[name]);
  const { model } = loadSequenceClassifier(
    text("config.json"),
    readSafetensors(files["model.safetensors"]),
    2,
  );
  const tokenizer = TextTokenizer.fromTokenizerJson(
    text("tokenizer.json"),
    JSON.parse(text("tokenizer_config.json")),
  );
  const batch = tokenizer.encode(TEXTS, { maxLength: 16 });
  const shape: [number, number] = [batch.batchSize, batch.seqLength];
  try {
    return tf.tidy(() =>
      model.forward({
        inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
        attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
        tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, "int32"),
      }, { training: false }).arraySync()
    );
  } finally {
    model.dispose();
  }
}

async function assertNoModels(h: Harness) {
  assert.deepEqual(await h.blobKeys("models/"), []);
  assert.deepEqual(await h.platform.meta.list("models", ""), []);
}

for (const family of Object.keys(CONFIGS)) {
  Deno.test(`${family}: import → export tar → re-import gives the same files and identical logits`, async () => {
    const h = await harness();
    try {
      const files = familyFolder(family);
      const model = await importFolder(h, files, `tiny ${family}/v1`);
      assert.equal(model.architecture, family);
      assert.equal(model.task, "text-classification");
      assert.deepEqual(model.labels, ["neg", "pos"]);

      const res = await h.call("GET", `/v1/models/${model.id}/export`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/x-tar");
      assert.equal(res.headers.get("content-disposition"), `attachment; filename="tiny_${family}_v1.tar"`);
      const archive = new Uint8Array(await res.arrayBuffer());
      assert.equal(archive.length % 512, 0);
      const entries = parseTar(archive);
      const exported = Object.fromEntries(
        entries.map((e) => [e.name.replace(/^tiny_[a-z]+_v1\//, ""), e.data]),
      );
      assert.ok(entries.every((e) => e.name.startsWith(`tiny_${family}_v1/`)));
      assert.deepEqual(Object.keys(exported).sort(), model.files.map((f: { name: string }) => f.name).sort());
      for (const [name, bytes] of Object.entries(files)) assert.deepEqual(exported[name], bytes, name);
      const hfConfig = JSON.parse(new TextDecoder().decode(exported["config.json"]));
      assert.equal(hfConfig.model_type, family);
      assert.match(hfConfig.architectures[0], /ForSequenceClassification$/);

      const again = await importFolder(h, exported, "re-imported");
      assert.equal(again.architecture, family);
      assert.deepEqual(await predict(h, again.id), await predict(h, model.id));
      assert.deepEqual(folderLogits(exported), folderLogits(files));
    } finally {
      await h.close();
    }
  });
}

Deno.test("export of an unknown model is a 404; of another tenant's model too", async () => {
  const h = await harness();
  try {
    const model = await importFolder(h, familyFolder("distilbert"), "d");
    assert.equal((await errorOf(await h.call("GET", "/v1/models/mdl_missing/export"))).status, 404);
    assert.equal(
      (await errorOf(await h.call("GET", `/v1/models/${model.id}/export`, { key: "key-b" }))).status,
      404,
    );
  } finally {
    await h.close();
  }
});

Deno.test("unknown families, shape mismatches and a wrong-style tokenizer are 400s that store nothing", async () => {
  const h = await harness();
  try {
    const roberta = familyFolder("roberta");
    const xlnet = { ...roberta, "config.json": JSON.stringify({ model_type: "xlnet", d_model: 32 }) };
    const unknown = await errorOf(await h.call("POST", "/v1/models", { form: folderForm(xlnet) }));
    assert.equal(unknown.status, 400);
    assert.equal(unknown.code, "invalid_file");
    assert.match(unknown.message, /model_type 'xlnet'.*bert, roberta, electra, distilbert.*gpt2, t5, mbart/);
    // A supported generative config with encoder weights names the weights it lacks.
    const gpt2 = {
      ...roberta,
      "config.json": Deno.readTextFileSync("../shared/data/tokenizers/gpt2/config.json"),
    };
    const noGpt2Weights = await errorOf(await h.call("POST", "/v1/models", { form: folderForm(gpt2) }));
    assert.equal(noGpt2Weights.status, 400);
    assert.match(noGpt2Weights.message, /transformer\.wte\.weight is missing/);

    const distil = familyFolder("distilbert");
    const config = JSON.parse(new TextDecoder().decode(distil["config.json"]));
    const wider = { ...distil, "config.json": JSON.stringify({ ...config, hidden_dim: 32 }) };
    const mismatch = await errorOf(await h.call("POST", "/v1/models", { form: folderForm(wider) }));
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.message, /distilbert\.transformer\.layer\.0\.ffn\.lin1\.weight: shape \[24,16\]/);

    const bertTokenizer = familyFolder("bert");
    const robertaConfig = JSON.parse(new TextDecoder().decode(roberta["config.json"]));
    const mixed = {
      ...roberta,
      "tokenizer.json": bertTokenizer["tokenizer.json"],
      "tokenizer_config.json": bertTokenizer["tokenizer_config.json"],
      "config.json": JSON.stringify({ ...robertaConfig }),
    };
    const style = await errorOf(await h.call("POST", "/v1/models", { form: folderForm(mixed) }));
    assert.equal(style.status, 400);
    assert.match(style.message, /roberta model needs a RoBERTa-style tokenizer/);
    await assertNoModels(h);
  } finally {
    await h.close();
  }
});

Deno.test({
  name: "a RoBERTa folder with vocab.json + merges.txt (no tokenizer.json) imports with a generated one",
  fn: async () => {
    const h = await harness();
    try {
      const tokenizer = tokenizerFor("roberta");
      const model = initSequenceClassifier({ ...CONFIGS.roberta, vocab_size: tokenizer.vocabSize }, 2, 3);
      const full = exportHfFolder(model, tokenizer, ["neg", "pos"]);
      model.dispose();
      const { "tokenizer.json": _json, "tokenizer_config.json": _config, ...slow } = full;
      const imported = await importFolder(h, slow, "slow");
      const names = imported.files.map((f: { name: string }) => f.name);
      assert.ok(names.includes("tokenizer.json") && names.includes("tokenizer_config.json"));
      const viaFull = await importFolder(h, familyFolder("roberta"), "full");
      assert.equal((await predict(h, imported.id) as unknown[]).length, TEXTS.length);
      assert.ok(viaFull.id !== imported.id);
    } finally {
      await h.close();
    }
  },
});

Deno.test("tar writer: long names use the prefix field, huge sizes base-256, a short body aborts", async () => {
  const long = `${"d".repeat(120)}/${"f".repeat(90)}.json`;
  const archive = new Uint8Array(
    await new Response(tarStream([
      { name: long, size: 3, body: new Uint8Array([1, 2, 3]), mtime: 1700000000 },
      {
        name: "x/streamed.bin",
        size: 1000,
        body: () => Promise.resolve(new Blob([new Uint8Array(600), new Uint8Array(400).fill(7)]).stream()),
      },
    ])).arrayBuffer(),
  );
  const files = parseTar(archive);
  assert.deepEqual(files.map((f) => f.name), [long, "x/streamed.bin"]);
  assert.deepEqual([...files[0].data], [1, 2, 3]);
  assert.equal(files[0].mtime, 1700000000);
  assert.equal(files[1].data.length, 1000);
  assert.equal(files[1].data[999], 7);
  assert.equal(archive.length, 512 * (1 + 1 + 1 + 2) + 1024);

  const huge = tarHeader("big.safetensors", 2 ** 34 + 5, 0);
  assert.equal(huge[124], 0x80);
  assert.equal(new DataView(huge.buffer).getUint32(124 + 8, false), 5);
  assert.equal(new DataView(huge.buffer).getUint32(124 + 4, false), 4);

  const short = tarStream([{
    name: "a",
    size: 10,
    body: () => Promise.resolve(new Blob([new Uint8Array(4)]).stream()),
  }]);
  await assert.rejects(() => new Response(short).arrayBuffer(), /has 4 bytes, its header says 10/);
  const corrupt = archive.slice();
  corrupt[10] ^= 1;
  assert.throws(() => parseTar(corrupt), /checksum/);
  assert.throws(() => tarHeader("x".repeat(300), 1, 0), /too long/);
});
