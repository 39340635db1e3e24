/**
 * Generative Hugging Face folders over HTTP: the golden GPT-2, T5 (ReLU, gated), Marian and mBART
 * checkpoints (config.json + model.safetensors, with a WordPiece tokenizer.json built here that fits their
 * 100-token vocabulary) import as multipart folders → records with task causal-lm / translation whose greedy
 * generations at predict equal the core's (HF pipeline text) on the same weights; GET /export → re-import
 * generates the same, also for a random-init model's folder. An EOS-first generation answers empty text;
 * folders with missing weights or a tokenizer larger than the vocabulary, and random-init specs over the
 * parameter limit, are 400s that store nothing.
 */
import assert from "node:assert/strict";
import { parseTar } from "../../edge/models/tar.ts";
import { initBackend } from "../../shared/core/backend.ts";
import { readSafetensors, writeSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { generate } from "../../shared/core/generate/generate.ts";
import { loadGenerativeModel } from "../../shared/core/model/generative_load.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { errorOf, type Harness, harness } from "./helpers.ts";

await initBackend();

const GOLDEN = new URL("../fixtures/golden/", import.meta.url);
const TEXTS = [
  "a man is walking down the street",
  "two dogs play in the snow",
  "a woman reads a book in the park",
  "the children are running on the beach",
  "ein mann geht die straße entlang",
  "zwei hunde spielen im schnee",
];
const PROMPT = "two dogs play in the snow";

function tokenizerJson(vocabSize: number, texts = TEXTS): Uint8Array {
  const tokenizer = TextTokenizer.trainWordPiece(texts, { vocabSize, lowercase: true, minFrequency: 1 });
  return new TextEncoder().encode(tokenizer.toTokenizerJson());
}

async function goldenFolder(name: string, vocabSize = 90): Promise<Record<string, Uint8Array>> {
  return {
    "config.json": await Deno.readFile(new URL(`${name}/config.json`, GOLDEN)),
    "model.safetensors": await Deno.readFile(new URL(`${name}/model.safetensors`, GOLDEN)),
    "tokenizer.json": tokenizerJson(vocabSize),
  };
}

function folderForm(files: Record<string, Uint8Array>, name: string): FormData {
  const form = new FormData();
  form.append("name", name);
  for (const [fileName, bytes] of Object.entries(files)) {
    form.append("file", new Blob([bytes as BlobPart]), fileName);
  }
  return form;
}

async function importFolder(h: Harness, files: Record<string, Uint8Array>, name: string) {
  const res = await h.call("POST", "/v1/models", { form: folderForm(files, name) });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body as { id: string; task: string; source: string };
}

/** What predict should answer for the folder's greedy generation, computed with the core. */
async function coreGreedy(files: Record<string, Uint8Array>, text: string, maxNewTokens: number) {
  const decode = (name: string) => new TextDecoder().decode(files[name]);
  const tokenizer = GenerationTokenizer.fromTokenizerJson(decode("tokenizer.json"), {});
  const { model } = loadGenerativeModel(decode("config.json"), readSafetensors(files["model.safetensors"]));
  try {
    const ids = model.kind === "seq2seq" ? tokenizer.encode(text, { addEos: true }) : tokenizer.encode(text);
    const result = await generate(model, ids, { maxNewTokens });
    const decode = (tokens: number[]) => tokenizer.decode(tokens, { skipSpecialTokens: true });
    if (model.kind === "seq2seq") return decode(result.sequences[0].tokens);
    // HF text-generation: the decoded prompt + generation, less the decoded prompt.
    return decode([...ids, ...result.sequences[0].tokens]).slice(decode(ids).length);
  } finally {
    model.dispose();
  }
}

async function greedyAtPredict(h: Harness, modelId: string, maxNewTokens: number): Promise<string> {
  const res = await h.call("POST", `/v1/models/${modelId}/predict`, {
    json: { inputs: [PROMPT], parameters: { max_new_tokens: maxNewTokens, return_full_text: false } },
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  // text-generation: one list per input; translation: one object per input.
  const first = Array.isArray(body[0]) ? body[0][0] : body[0];
  return first.generated_text ?? first.translation_text;
}

async function exportAndReimport(h: Harness, modelId: string, name: string) {
  const res = await h.call("GET", `/v1/models/${modelId}/export`);
  assert.equal(res.status, 200);
  const files: Record<string, Uint8Array> = {};
  for (const file of parseTar(new Uint8Array(await res.arrayBuffer()))) {
    files[file.name.slice(file.name.lastIndexOf("/") + 1)] = file.data;
  }
  for (const wanted of ["config.json", "model.safetensors", "tokenizer.json"]) {
    assert.ok(files[wanted], wanted);
  }
  return await importFolder(h, files, name);
}

const GOLDENS = [
  ["gpt2_tiny", "causal-lm"],
  ["t5_relu", "translation"],
  ["t5_gated", "translation"],
  ["marian_tiny", "translation"],
  ["bart_tiny", "translation"],
];

for (const [golden, task] of GOLDENS) {
  Deno.test(`golden ${golden} imports as ${task}; export → re-import generates the same`, async () => {
    const h = await harness();
    try {
      const files = await goldenFolder(golden);
      const model = await importFolder(h, files, golden);
      assert.equal(model.task, task);
      assert.equal(model.source, "import");
      const maxNewTokens = 8;
      const generated = await greedyAtPredict(h, model.id, maxNewTokens);
      assert.ok(generated.trim().length > 0, "the golden model generates visible text for this prompt");
      assert.equal(generated, await coreGreedy(files, PROMPT, maxNewTokens));
      const again = await exportAndReimport(h, model.id, `${golden}-again`);
      assert.equal(again.task, task);
      assert.notEqual(again.id, model.id);
      assert.equal(await greedyAtPredict(h, again.id, maxNewTokens), generated);
    } finally {
      await h.close();
    }
  });
}

Deno.test("mBART language codes: src_lang starts the source, tgt_lang is forced first; unknown codes are 400s", async () => {
  const h = await harness();
  try {
    // The WordPiece tokenizer plus two language code tokens (ids 80 and 81 of the golden's 100).
    const json = JSON.parse(new TextDecoder().decode(tokenizerJson(80)));
    const codes = ["en_XX", "de_DE"];
    codes.forEach((code, i) => {
      json.model.vocab[code] = 80 + i;
      json.added_tokens.push({
        id: 80 + i,
        content: code,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      });
    });
    const files: Record<string, Uint8Array> = {
      ...(await goldenFolder("bart_tiny")),
      "tokenizer.json": new TextEncoder().encode(JSON.stringify(json)),
    };
    const model = await importFolder(h, files, "mbart-codes");
    const predict = async (parameters: Record<string, unknown>) => {
      const res = await h.call("POST", `/v1/models/${model.id}/predict`, {
        json: { inputs: [PROMPT], parameters: { max_new_tokens: 6, ...parameters } },
      });
      return { status: res.status, body: await res.json() };
    };
    const coded = await predict({ src_lang: "en_XX", tgt_lang: "de_DE" });
    assert.equal(coded.status, 200, JSON.stringify(coded.body));
    // The core's answer for [en_XX] source </s> with de_DE forced as the first generated token.
    const tokenizer = GenerationTokenizer.fromTokenizerJson(JSON.stringify(json), {});
    const decoded = (name: string) => new TextDecoder().decode(files[name]);
    const { model: core } = loadGenerativeModel(
      decoded("config.json"),
      readSafetensors(files["model.safetensors"]),
    );
    try {
      const source = [80, ...tokenizer.encode(PROMPT, { addEos: true })];
      const forced = await generate(core, source, { maxNewTokens: 6, forcedBosTokenId: 81 });
      const plain = await generate(core, tokenizer.encode(PROMPT, { addEos: true }), { maxNewTokens: 6 });
      assert.notDeepEqual(
        forced.sequences[0].tokens,
        plain.sequences[0].tokens,
        "the codes change the output",
      );
      assert.equal(
        coded.body[0].translation_text,
        tokenizer.decode(forced.sequences[0].tokens, { skipSpecialTokens: true }),
      );
    } finally {
      core.dispose();
    }
    const unknown = await predict({ tgt_lang: "xx_YY" });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /parameters\.tgt_lang 'xx_YY' is not a token/);
  } finally {
    await h.close();
  }
});

Deno.test("a random-init generative model's export re-imports as it is (generation_config.json included)", async () => {
  const h = await harness();
  try {
    const dataset = await h.call("POST", "/v1/datasets", {
      form: (() => {
        const form = new FormData();
        form.append("file", new Blob([TEXTS.join("\n") + "\n"]), "texts.txt");
        return form;
      })(),
    });
    assert.equal(dataset.status, 201);
    const res = await h.call("POST", "/v1/models", {
      json: {
        name: "random-gpt2",
        architecture: "gpt2",
        config: { n_embd: 16, n_layer: 1, n_head: 2, n_positions: 32 },
        tokenizer: { dataset: (await dataset.json()).id, vocab_size: 60 },
      },
    });
    const model = await res.json();
    assert.equal(res.status, 201, JSON.stringify(model));
    assert.ok(model.files.some((f: { name: string }) => f.name === "generation_config.json"));
    const again = await exportAndReimport(h, model.id, "random-gpt2-again");
    assert.equal(again.task, "causal-lm");
    assert.equal(await greedyAtPredict(h, again.id, 6), await greedyAtPredict(h, model.id, 6));
  } finally {
    await h.close();
  }
});

Deno.test("a generation that ends at once (EOS first) answers empty text, streamed or not", async () => {
  const h = await harness();
  try {
    // The golden GPT-2 with a constant final hidden state pointing at the EOS embedding: EOS always wins.
    const files = await goldenFolder("gpt2_tiny");
    const tensors = readSafetensors(files["model.safetensors"]);
    const eos = JSON.parse(new TextDecoder().decode(files["config.json"])).eos_token_id as number;
    const width = tensors.get("transformer.ln_f.weight")!.data.length;
    tensors.get("transformer.ln_f.weight")!.data.fill(0);
    tensors.get("transformer.ln_f.bias")!.data.fill(1);
    tensors.get("transformer.wte.weight")!.data.fill(5, eos * width, (eos + 1) * width);
    const model = await importFolder(h, { ...files, "model.safetensors": writeSafetensors(tensors) }, "eos");
    const res = await h.call("POST", `/v1/models/${model.id}/predict`, {
      json: { inputs: PROMPT, parameters: { max_new_tokens: 5 } },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), [{ generated_text: PROMPT }]);
    const stream = await h.call("POST", `/v1/models/${model.id}/predict`, {
      json: { inputs: PROMPT, stream: true, parameters: { max_new_tokens: 5, return_full_text: false } },
    });
    assert.equal(stream.status, 200);
    const body = await stream.text();
    const done = body.split("\n\n").find((block) => block.startsWith("event: done"));
    assert.ok(done, body);
    const data = JSON.parse(done.slice(done.indexOf("data: ") + 6));
    assert.equal(data.generated_text, "");
    assert.equal(data.details.finish_reason, "eos");
  } finally {
    await h.close();
  }
});

Deno.test("a random-init spec over the parameter limit is a 400 before any weight is allocated", async () => {
  const h = await harness();
  try {
    const form = new FormData();
    form.append("file", new Blob([TEXTS.join("\n") + "\n"]), "texts.txt");
    const dataset = await (await h.call("POST", "/v1/datasets", { form })).json();
    const spec = (n_embd: number, n_layer: number) => ({
      json: {
        name: "gpt2",
        architecture: "gpt2",
        config: { n_embd, n_layer, n_head: 16, n_positions: 64 },
        tokenizer: { dataset: dataset.id, vocab_size: 60 },
      },
    });
    const error = await errorOf(await h.call("POST", "/v1/models", spec(2048, 48)));
    assert.equal(error.status, 400);
    assert.match(error.message, /the model would have \d+ parameters; the limit is 100000000/);
    // The backend is unharmed: a small model is created (and serves) right after.
    const res = await h.call("POST", "/v1/models", spec(32, 1));
    const small = await res.json();
    assert.equal(res.status, 201, JSON.stringify(small));
    assert.equal(typeof (await greedyAtPredict(h, small.id, 3)), "string");
  } finally {
    await h.close();
  }
});

async function assertRefused(h: Harness, files: Record<string, Uint8Array>, pattern: RegExp) {
  const error = await errorOf(await h.call("POST", "/v1/models", { form: folderForm(files, "bad") }));
  assert.equal(error.status, 400, JSON.stringify(error));
  assert.match(error.message, pattern);
  assert.deepEqual(await h.blobKeys("models/"), []);
  assert.deepEqual(await h.platform.meta.list("models", ""), []);
}

Deno.test("generative folders with missing weights or a too-large tokenizer are 400s", async () => {
  const h = await harness();
  try {
    for (const [golden] of GOLDENS) {
      const files = await goldenFolder(golden);
      const tensors = readSafetensors(files["model.safetensors"]);
      const dropped = [...tensors.keys()].find((name) => /(^|\.)(h|block|layers)\.1\./.test(name))!;
      assert.ok(dropped, `${golden} has a second-layer tensor`);
      tensors.delete(dropped);
      await assertRefused(h, { ...files, "model.safetensors": writeSafetensors(tensors) }, /is missing/);

      const manyWords = Array.from({ length: 200 }, (_, i) => `word${i} token${i * 7}`);
      const big = { ...files, "tokenizer.json": tokenizerJson(160, [...TEXTS, ...manyWords]) };
      await assertRefused(h, big, /vocab_size is 100/);

      const { "model.safetensors": _, ...withoutWeights } = files;
      await assertRefused(h, withoutWeights, /model\.safetensors/);
    }
  } finally {
    await h.close();
  }
});
