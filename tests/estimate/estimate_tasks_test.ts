/**
 * Dry-run plans for the generative tasks and the encoder heads: a causal-lm job on a GPT-2 and a translation
 * job on a Marian (random-init through the API) plan the model's own parameter count, and freezing the first
 * layer freezes exactly that block's parameters (the estimate's layer of each generative parameter agrees
 * with the runner's); a token-classification and a question-answering plan count the task's head, not the
 * sequence classifier's.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance } from "../support/embedded_instance.ts";

const lines = (path: string, n: number) =>
  Deno.readTextFileSync(new URL(path, import.meta.url)).split("\n").slice(0, n);

Deno.test("estimate: causal-lm, translation, NER and QA plans count the task's model", async () => {
  const instance = await startEmbeddedInstance({ runner: false });
  try {
    const a = instance.tenantA;
    const text = lines("../../../shared/data/tinyshakespeare.txt", 300).join("\n") + "\n";
    const corpus = await a.uploadDataset(new TextEncoder().encode(text), { fileName: "shakespeare.txt" });
    const gpt2 = await a.createModel({
      name: "gpt2",
      architecture: "gpt2",
      config: { n_embd: 32, n_layer: 2, n_head: 2, n_positions: 64 },
      tokenizer: { dataset: corpus.id, vocab_size: 300 },
    });
    const lm = await a.estimateJob({
      task: "causal-lm",
      base_model: gpt2.id,
      training_dataset: corpus.id,
      hyperparameters: { batch_size: 8, max_seq_length: 32 },
    });
    assert.equal(lm.parameters.total, gpt2.parameters);
    assert.equal(lm.parameters.frozen, 0);
    const frozen = await a.estimateJob({
      task: "causal-lm",
      base_model: gpt2.id,
      training_dataset: corpus.id,
      hyperparameters: { batch_size: 8, max_seq_length: 32, freeze_layers: 1 },
    });
    // One GPT-2 block of width 32 (c_fc 4x): ln_1, attn (c_attn + c_proj), ln_2, mlp (c_fc + c_proj).
    const e = 32,
      block = 2 * e + (e * 3 * e + 3 * e) + (e * e + e) + 2 * e + (e * 4 * e + 4 * e) + (4 * e * e + e);
    assert.equal(frozen.parameters.frozen, block);

    const en = lines("../../../shared/data/multi30k_train10k.en", 60);
    const de = lines("../../../shared/data/multi30k_train10k.de", 60);
    const pairs = en.map((source, i) => JSON.stringify({ source, target: de[i] })).join("\n") + "\n";
    const parallel = await a.uploadDataset(new TextEncoder().encode(pairs), { fileName: "pairs.jsonl" });
    const marian = await a.createModel({
      name: "marian",
      architecture: "marian",
      config: {
        d_model: 32,
        encoder_layers: 1,
        decoder_layers: 1,
        encoder_attention_heads: 2,
        decoder_attention_heads: 2,
        encoder_ffn_dim: 64,
        decoder_ffn_dim: 64,
        max_position_embeddings: 64,
      },
      tokenizer: { dataset: corpus.id, vocab_size: 300 },
    });
    const mt = await a.estimateJob({
      task: "translation",
      base_model: marian.id,
      training_dataset: parallel.id,
    });
    // The record counts the checkpoint's tensors; the plan counts trainable parameters plus fixed tables alike.
    assert.ok(
      Math.abs(mt.parameters.total - marian.parameters) / marian.parameters < 0.1,
      JSON.stringify(mt.parameters),
    );
    assert.ok(mt.total_steps > 0 && mt.estimated_seconds > 0);

    const ner = new TextEncoder().encode(
      [
        JSON.stringify({ tokens: ["EU", "rejects", "German", "call"], tags: ["B-ORG", "O", "B-MISC", "O"] }),
        JSON.stringify({ tokens: ["Peter", "Blackburn"], tags: ["B-PER", "I-PER"] }),
      ].join("\n") + "\n",
    );
    const nerData = await a.uploadDataset(ner, { fileName: "ner.jsonl" });
    const words = await a.uploadDataset(new TextEncoder().encode("text\nEU rejects German call\n"), {
      fileName: "w.csv",
    });
    const bert = await a.createModel({
      name: "bert",
      config: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
      tokenizer: { dataset: words.id, vocab_size: 100 },
    });
    const tokenPlan = await a.estimateJob({
      task: "token-classification",
      base_model: bert.id,
      training_dataset: nerData.id,
    });
    const qaData = await a.uploadDataset(
      new TextEncoder().encode(
        JSON.stringify({
          question: "Who rejects?",
          context: "EU rejects German call",
          answers: { text: ["EU"], answer_start: [0] },
        }) + "\n",
      ),
      { fileName: "qa.jsonl" },
    );
    const qaPlan = await a.estimateJob({
      task: "question-answering",
      base_model: bert.id,
      training_dataset: qaData.id,
    });
    // No pooler in either; the QA head has 2 outputs: the two plans differ by the heads' sizes only.
    const pooler = 16 * 16 + 16;
    assert.equal(qaPlan.parameters.total, bert.parameters - pooler - (16 * 2 + 2) + (16 * 2 + 2));
    // Types ORG, MISC, PER → O + B-/I- each = 7 labels.
    assert.equal(tokenPlan.parameters.total, bert.parameters - pooler - (16 * 2 + 2) + (16 * 7 + 7));
  } finally {
    await instance.stop();
  }
});
