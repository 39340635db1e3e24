/**
 * Generative Hugging Face folders over HTTP: the golden GPT-2, T5 (ReLU, gated), Marian and mBART checkpoints (config.json +
 * model.safetensors, with a WordPiece tokenizer.json built here that fits their 100-token vocabulary) are
 * imported as multipart folders → records with task causal-lm / translation whose greedy generations at
 * predict equal the core's on the same weights; GET /export → re-import gives identical generations; folders
 * with missing weights or a tokenizer larger than the vocabulary are 400s that store nothing.
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
