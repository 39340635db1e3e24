/**
 * The task heads of every encoder family: forward() shapes per head (sequence [B, L], token [B*S, L], span
 * [B*S, 2]) and encode() [B*S, H]; the exact Hugging Face parameter names of each family × head (the head
 * names from transformers' modeling files); the HF class names; and loading a sequence checkpoint into token
 * and span heads keeps the encoder (same hidden states) while the head is initialised.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import type { HeadKind, SequenceClassifier } from "../../shared/core/model/classifier.ts";
import { initSequenceClassifier, loadSequenceClassifier, stateDict } from "../../shared/core/model/load.ts";
import {
  architectureName,
  headKindOfArchitecture,
  headKindOfTensors,
} from "../../shared/core/model/task_heads.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const ENCODER = {
  vocab_size: 40,
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 24,
  max_position_embeddings: 20,
};
const CONFIGS: Record<string, Record<string, unknown>> = {
  bert: { model_type: "bert", ...ENCODER },
  roberta: { model_type: "roberta", ...ENCODER, type_vocab_size: 1, layer_norm_eps: 1e-5 },
  electra: { model_type: "electra", ...ENCODER, embedding_size: 8 },
  distilbert: {
    model_type: "distilbert",
    vocab_size: 40,
    dim: 16,
    n_layers: 1,
    n_heads: 2,
    hidden_dim: 24,
    max_position_embeddings: 20,
  },
};
const HEADS: HeadKind[] = ["sequence", "token", "span"];

function batch(rows: number[][], pad: number) {
  const s = Math.max(...rows.map((r) => r.length));
  return {
    inputIds: tf.tensor2d(rows.map((r) => [...r, ...new Array(s - r.length).fill(pad)]), undefined, "int32"),
    attentionMask: tf.tensor2d(rows.map((r) => r.map(() => 1).concat(new Array(s - r.length).fill(0)))),
    tokenTypeIds: tf.zeros([rows.length, s], "int32") as tf.Tensor2D,
  };
}
const ROWS = [[2, 5, 6, 7, 3], [2, 8, 3]];

function run(model: SequenceClassifier, what: "forward" | "encode"): tf.Tensor2D {
  const b = batch(ROWS, 1);
  try {
    return model[what](b, { training: false });
  } finally {
    tf.dispose(Object.values(b));
  }
}

Deno.test("forward shapes per head and family: sequence [B, L], token [B*S, L], span [B*S, 2]", () => {
  for (const [family, config] of Object.entries(CONFIGS)) {
    for (const head of HEADS) {
      const model = initSequenceClassifier(config, 3, 7, head);
      const logits = run(model, "forward");
      const hidden = run(model, "encode");
      try {
        assert.equal(model.head, head);
        const expected = head === "sequence" ? [2, 3] : head === "token" ? [10, 3] : [10, 2];
        assert.deepEqual(logits.shape, expected, `${family}/${head}`);
        assert.deepEqual(hidden.shape, [10, 16], `${family}/${head} encode`);
        assert.equal(model.numLabels, head === "span" ? 2 : 3);
        assert.ok(logits.dataSync().every(Number.isFinite));
      } finally {
        tf.dispose([logits, hidden]);
        model.dispose();
      }
    }
  }
});

Deno.test("token logits of row r*S + s depend only on input r (padding rows do not leak)", () => {
  const model = initSequenceClassifier(CONFIGS.bert, 3, 7, "token");
  const both = run(model, "forward").arraySync();
  const single = batch([ROWS[1]], 1);
  const alone = model.forward(single, { training: false }).arraySync();
  tf.dispose(Object.values(single));
  for (let s = 0; s < 3; s++) {
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(both[5 + s][k] - alone[s][k]) < 1e-5);
  }
  model.dispose();
});

/** The head parameters of transformers' classes (modeling_bert/roberta/electra/distilbert). */
const HF_HEAD_NAMES: Record<string, Record<HeadKind, string[]>> = {
  bert: {
    sequence: ["bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"],
    token: ["classifier.weight", "classifier.bias"],
    span: ["qa_outputs.weight", "qa_outputs.bias"],
  },
  roberta: {
    sequence: [
      "classifier.dense.weight",
      "classifier.dense.bias",
      "classifier.out_proj.weight",
      "classifier.out_proj.bias",
    ],
    token: ["classifier.weight", "classifier.bias"],
    span: ["qa_outputs.weight", "qa_outputs.bias"],
  },
  electra: {
    sequence: [
      "classifier.dense.weight",
      "classifier.dense.bias",
      "classifier.out_proj.weight",
      "classifier.out_proj.bias",
    ],
    token: ["classifier.weight", "classifier.bias"],
    span: ["qa_outputs.weight", "qa_outputs.bias"],
  },
  distilbert: {
    sequence: ["pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"],
    token: ["classifier.weight", "classifier.bias"],
    span: ["qa_outputs.weight", "qa_outputs.bias"],
  },
};
const ENCODER_PREFIX: Record<string, RegExp> = {
  bert: /^bert\.(embeddings|encoder)\./,
  roberta: /^roberta\.(embeddings|encoder)\./,
  electra: /^electra\.(embeddings|embeddings_project|encoder)\./,
  distilbert: /^distilbert\.(embeddings|transformer)\./,
};

Deno.test("parameter names are exactly HF's per family and head; head shapes [L, H] / [2, H]", () => {
  for (const [family, config] of Object.entries(CONFIGS)) {
    for (const head of HEADS) {
      const model = initSequenceClassifier(config, 5, 1, head);
      try {
        const heads = [...model.params.keys()].filter((n) => !ENCODER_PREFIX[family].test(n));
        assert.deepEqual(heads.sort(), [...HF_HEAD_NAMES[family][head]].sort(), `${family}/${head}`);
        const out = head === "span" ? "qa_outputs.weight" : head === "token" ? "classifier.weight" : null;
        if (out) assert.deepEqual(model.params.get(out)!.shape, [head === "span" ? 2 : 5, 16]);
      } finally {
        model.dispose();
      }
    }
  }
});

Deno.test("HF class names per family and head, and the head a class name or tensor set implies", () => {
  assert.equal(architectureName("bert", "token"), "BertForTokenClassification");
  assert.equal(architectureName("roberta", "span"), "RobertaForQuestionAnswering");
  assert.equal(architectureName("electra", "sequence"), "ElectraForSequenceClassification");
  assert.equal(architectureName("distilbert", "span"), "DistilBertForQuestionAnswering");
  assert.equal(headKindOfArchitecture("DistilBertForTokenClassification"), "token");
  assert.equal(headKindOfArchitecture("BertForMaskedLM"), null);
  assert.equal(headKindOfTensors("bert", ["bert.pooler.dense.weight", "classifier.weight"]), "sequence");
  assert.equal(headKindOfTensors("bert", ["bert.encoder.x", "classifier.weight"]), "token");
  assert.equal(headKindOfTensors("bert", ["bert.pooler.dense.weight"]), null);
  assert.equal(headKindOfTensors("roberta", ["classifier.out_proj.weight"]), "sequence");
  assert.equal(headKindOfTensors("distilbert", ["qa_outputs.weight"]), "span");
});

Deno.test("a sequence checkpoint loads into token/span heads: encoder reused, head ignored, ours new", () => {
  for (const family of ["bert", "roberta", "distilbert"]) {
    const source = initSequenceClassifier(CONFIGS[family], 2, 3, "sequence");
    const tensors = stateDict(source);
    const sourceHidden = run(source, "encode");
    for (const head of ["token", "span"] as const) {
      const { model, initialized, ignored, checkpointHead } = loadSequenceClassifier(
        CONFIGS[family],
        tensors,
        2,
        11,
        head,
      );
      const hidden = run(model, "encode");
      try {
        assert.equal(checkpointHead, "sequence");
        assert.deepEqual(hidden.arraySync(), sourceHidden.arraySync(), `${family}/${head} encoder`);
        assert.deepEqual(initialized.sort(), [...HF_HEAD_NAMES[family][head]].sort());
        assert.deepEqual(ignored.sort(), [...HF_HEAD_NAMES[family].sequence].sort());
        // The same-named BERT/DistilBERT `classifier` is NOT copied from the sequence head.
        if (head === "token" && source.params.has("classifier.weight")) {
          assert.notDeepEqual(
            model.params.get("classifier.weight")!.dataSync(),
            source.params.get("classifier.weight")!.dataSync(),
          );
        }
      } finally {
        hidden.dispose();
        model.dispose();
      }
    }
    sourceHidden.dispose();
    source.dispose();
  }
});

Deno.test("a token checkpoint reloads as token with its head; label counts: ≥ 1, span fixed at 2", () => {
  const source = initSequenceClassifier(CONFIGS.electra, 4, 3, "token");
  const { model, initialized } = loadSequenceClassifier(CONFIGS.electra, stateDict(source), 4, 1, "token");
  assert.deepEqual(initialized, []);
  assert.deepEqual(
    model.params.get("classifier.weight")!.dataSync(),
    source.params.get("classifier.weight")!.dataSync(),
  );
  model.dispose();
  source.dispose();
  const regression = initSequenceClassifier(CONFIGS.bert, 1, 1);
  assert.equal(regression.numLabels, 1);
  regression.dispose();
  const span = initSequenceClassifier(CONFIGS.roberta, 7, 1, "span");
  assert.equal(span.numLabels, 2);
  span.dispose();
  assert.throws(
    () => initSequenceClassifier(CONFIGS.bert, 0, 1, "token"),
    (e) => e instanceof ApiError && e.status === 400 && /at least 1 label/.test(e.message),
  );
});
