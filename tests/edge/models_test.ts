/**
 * Models over HTTP: random init from a JSON spec (tokenizer learned from a dataset), HF folder import with
 * its validation (bad config, shape mismatch, missing/unknown files → 4xx, nothing stored), and predict with
 * the HF text-classification shape, scored exactly as the core scores the same weights.
 */
import assert from "node:assert/strict";
import {
  classifyTexts,
  exportHfFolder,
  initBackend,
  initBertForSequenceClassification,
  loadBertForSequenceClassification,
  parseBertConfig,
  readSafetensors,
  TextTokenizer,
} from "../../shared/core/mod.ts";
import { errorOf, type Harness, harness, KEY_B, uploadDataset } from "./helpers.ts";

await initBackend();

const TINY = {
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 64,
};
const TEXTS = ["a good film", "a bad film", "good acting and a good plot", "bad plot , bad acting", "fine"];

function tinyFolder(labels = ["neg", "pos"]): Record<string, Uint8Array> {
  const tokenizer = TextTokenizer.trainWordPiece(TEXTS, { vocabSize: 60, lowercase: true, minFrequency: 1 });
  const config = parseBertConfig({ model_type: "bert", ...TINY, vocab_size: tokenizer.vocabSize });
  const model = initBertForSequenceClassification(config, labels.length, 7);
  const files = exportHfFolder(model, tokenizer, labels);
  for (const variable of model.params.values()) variable.dispose();
  return files;
}

function folderForm(
  files: Record<string, Uint8Array | string>,
  fields: Record<string, string> = {},
): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [name, bytes] of Object.entries(files)) form.append("file", new Blob([bytes as BlobPart]), name);
  return form;
}

async function assertNoModels(h: Harness) {
  assert.deepEqual(await h.blobKeys("models/"), []);
  assert.deepEqual(await h.platform.meta.list("models", ""), []);
}

Deno.test("a random-init model from a JSON spec gets a tokenizer learned from a dataset", async () => {
  const h = await harness();
  try {
    const dataset = await uploadDataset(
      h,
      `text,label\n${TEXTS.map((t, i) => `"${t}",${i % 2}`).join("\n")}\n`,
      "d.csv",
    );
    const res = await h.call("POST", "/v1/models", {
      json: { name: "tiny", config: TINY, tokenizer: { dataset: dataset.id, vocab_size: 60 }, seed: 1 },
    });
    const model = await res.json();
    assert.equal(res.status, 201, JSON.stringify(model));
    assert.equal(model.object, "model");
    assert.equal(model.source, "random");
    assert.equal(model.task, null);
    assert.equal(model.labels, null);
    assert.equal(model.config.hidden_size, 16);
    const names = model.files.map((f: { name: string }) => f.name);
    for (const required of ["config.json", "model.safetensors", "tokenizer.json"]) {
      assert.ok(names.includes(required));
    }
    for (const file of model.files as { name: string; size: number }[]) {
      const info = await h.platform.blobs.stat(`models/tenant-a/${model.id}/${file.name}`);
      assert.equal(info?.size, file.size, file.name);
    }
    const weights = readSafetensors(
      new Uint8Array(
        await new Response(await h.platform.blobs.get(`models/tenant-a/${model.id}/model.safetensors`))
          .arrayBuffer(),
      ),
    );
    let count = 0;
    for (const tensor of weights.values()) count += tensor.data.length;
    assert.equal(model.parameters, count);

    const predict = await errorOf(
      await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: "x" } }),
    );
    assert.equal(predict.status, 400);
    assert.match(predict.message, /no task head/);
    assert.equal((await h.call("GET", `/v1/models/${model.id}`, { key: KEY_B })).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("random-init specs are validated: divisibility, bounds, unknown dataset column", async () => {
  const h = await harness();
  try {
    const dataset = await uploadDataset(h, "text,label\nhi,1\n", "d.csv");
    const cases: [unknown, number, RegExp][] = [
      [
        { name: "m", config: { ...TINY, hidden_size: 15 }, tokenizer: { dataset: dataset.id } },
        400,
        /multiple of/,
      ],
      [
        { name: "m", config: { ...TINY, num_hidden_layers: 1000 }, tokenizer: { dataset: dataset.id } },
        400,
        /num_hidden_layers/,
      ],
      [
        { name: "m", config: TINY, tokenizer: { dataset: dataset.id, column: "body" } },
        400,
        /no column "body"/,
      ],
      [{ name: "m", config: TINY, tokenizer: { dataset: "ds_missing" } }, 404, /tokenizer.dataset/],
      [{ name: "m", config: TINY }, 400, /tokenizer/],
    ];
    for (const [json, status, message] of cases) {
      const error = await errorOf(await h.call("POST", "/v1/models", { json }));
      assert.equal(error.status, status, JSON.stringify(error));
      assert.match(`${error.message} ${JSON.stringify(error.details)}`, message);
    }
    await assertNoModels(h);
  } finally {
    await h.close();
  }
});

Deno.test("importing an HF folder validates it and serves predictions like the core", async () => {
  const h = await harness();
  try {
    const files = tinyFolder(["neg", "pos"]);
    const res = await h.call("POST", "/v1/models", { form: folderForm(files, { name: "imported" }) });
    const model = await res.json();
    assert.equal(res.status, 201, JSON.stringify(model));
    assert.equal(model.source, "import");
    assert.equal(model.name, "imported");
    assert.equal(model.task, "text-classification");
    assert.deepEqual(model.labels, ["neg", "pos"]);

    const config = parseBertConfig(JSON.parse(new TextDecoder().decode(files["config.json"])));
    const { model: reference } = loadBertForSequenceClassification(
      config,
      readSafetensors(files["model.safetensors"]),
      2,
    );
    const tokenizer = TextTokenizer.fromTokenizerJson(new TextDecoder().decode(files["tokenizer.json"]));
    const expected = await classifyTexts(reference, tokenizer, ["a good film", "bad plot"], {
      maxLength: 64,
    });
    for (const variable of reference.params.values()) variable.dispose();

    const single =
      await (await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: "a good film" } }))
        .json();
    assert.equal(single.length, 2);
    assert.ok(single[0].score >= single[1].score);
    const byLabel = Object.fromEntries(
      single.map((s: { label: string; score: number }) => [s.label, s.score]),
    );
    assert.ok(Math.abs(byLabel.neg - expected[0][0]) < 1e-6);
    assert.ok(Math.abs(byLabel.pos - expected[0][1]) < 1e-6);

    const batch = await (await h.call("POST", `/v1/models/${model.id}/predict`, {
      json: { inputs: ["a good film", "bad plot"], top_k: 1 },
    })).json();
    assert.equal(batch.length, 2);
    for (const [i, row] of batch.entries()) {
      assert.equal(row.length, 1);
      const best = expected[i][0] >= expected[i][1] ? "neg" : "pos";
      assert.equal(row[0].label, best);
    }

    const tooMany = await errorOf(
      await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: Array(257).fill("x") } }),
    );
    assert.equal(tooMany.status, 400);
    const wrongType = await errorOf(
      await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: 3 } }),
    );
    assert.equal(wrongType.status, 400);
    assert.equal((wrongType.details as { path: string }[])[0].path, "inputs");
    assert.equal(
      (await h.call("POST", `/v1/models/${model.id}/predict`, { key: KEY_B, json: { inputs: "x" } })).status,
      404,
    );

    const deleted = await h.call("DELETE", `/v1/models/${model.id}`);
    assert.equal(deleted.status, 200);
    await deleted.body?.cancel();
    await assertNoModels(h);
  } finally {
    await h.close();
  }
});

Deno.test("bad model folders are refused before anything is stored", async () => {
  const h = await harness();
  try {
    const files = tinyFolder();
    const otherShape = (() => {
      const tokenizer = TextTokenizer.trainWordPiece(TEXTS, {
        vocabSize: 60,
        lowercase: true,
        minFrequency: 1,
      });
      const config = parseBertConfig({
        model_type: "bert",
        ...TINY,
        hidden_size: 8,
        vocab_size: tokenizer.vocabSize,
      });
      const model = initBertForSequenceClassification(config, 2, 1);
      const out = exportHfFolder(model, tokenizer, ["a", "b"]);
      for (const variable of model.params.values()) variable.dispose();
      return out["model.safetensors"];
    })();
    const cases: [Record<string, Uint8Array | string>, number, string, RegExp][] = [
      [{ ...files, "config.json": "{not json" }, 400, "invalid_file", /config.json is not valid JSON/],
      [
        { ...files, "config.json": '{"model_type":"xlnet"}' },
        400,
        "invalid_file",
        /model_type 'xlnet' \(supported: bert, roberta, electra, distilbert; generative: gpt2, t5, mbart, marian\)/,
      ],
      [{ ...files, "model.safetensors": otherShape }, 400, "invalid_file", /does not fit config.json/],
      [{ ...files, "model.safetensors": new Uint8Array([1, 2, 3]) }, 400, "invalid_file", /safetensors/],
      [
        { ...files, "pytorch_model.bin": "x" },
        400,
        "invalid_request",
        /not part of a supported model folder/,
      ],
      [
        { "config.json": files["config.json"], "model.safetensors": files["model.safetensors"] },
        400,
        "invalid_request",
        /tokenizer/,
      ],
      [
        { "config.json": files["config.json"], "tokenizer.json": files["tokenizer.json"] },
        400,
        "invalid_request",
        /model.safetensors/,
      ],
    ];
    for (const [folder, status, code, message] of cases) {
      const error = await errorOf(await h.call("POST", "/v1/models", { form: folderForm(folder) }));
      assert.equal(error.status, status, JSON.stringify(error));
      assert.equal(error.code, code);
      assert.match(error.message, message);
      await assertNoModels(h);
    }
  } finally {
    await h.close();
  }
});

Deno.test("a vocab.txt folder gets a generated tokenizer.json; a spec + tokenizer file builds a random model", async () => {
  const h = await harness();
  try {
    const files = tinyFolder();
    const tokenizer = JSON.parse(new TextDecoder().decode(files["tokenizer.json"]));
    const vocab = Object.entries(tokenizer.model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1])
      .map(([token]) => token).join("\n") + "\n";
    const { "tokenizer.json": _drop, ...rest } = files;
    const imported = await h.call("POST", "/v1/models", {
      form: folderForm({ ...rest, "vocab.txt": vocab }),
    });
    const model = await imported.json();
    assert.equal(imported.status, 201, JSON.stringify(model));
    assert.ok(model.files.some((f: { name: string }) => f.name === "tokenizer.json"));
    const prediction = await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: ["good"] } });
    assert.equal(prediction.status, 200);
    assert.equal((await prediction.json())[0].length, 2);

    const spec = JSON.stringify({
      name: "from file",
      config: TINY,
      tokenizer: { file: "vocab.txt" },
      labels: ["x", "y", "z"],
    });
    const random = await h.call("POST", "/v1/models", { form: folderForm({ "vocab.txt": vocab }, { spec }) });
    const randomModel = await random.json();
    assert.equal(random.status, 201, JSON.stringify(randomModel));
    assert.equal(randomModel.task, "text-classification");
    assert.deepEqual(randomModel.labels, ["x", "y", "z"]);
    const scores =
      await (await h.call("POST", `/v1/models/${randomModel.id}/predict`, { json: { inputs: "good" } }))
        .json();
    assert.deepEqual(scores.map((s: { label: string }) => s.label).sort(), ["x", "y", "z"]);
    assert.ok(Math.abs(scores.reduce((sum: number, s: { score: number }) => sum + s.score, 0) - 1) < 1e-5);
  } finally {
    await h.close();
  }
});
