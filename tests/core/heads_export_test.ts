/**
 * Exporting a model of each head as a Hugging Face folder: config.json names the right transformers class,
 * carries id2label/label2id for sequence and token heads (none for span; {0: LABEL_0} for unnamed regression)
 * and problem_type; re-importing the folder with the head its config names gives identical outputs (BERT and
 * DistilBERT, every head), with nothing initialised or ignored.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { exportHfFolder } from "../../shared/core/checkpoint/hf_folder.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import type { HeadKind, SequenceClassifier } from "../../shared/core/model/classifier.ts";
import { initSequenceClassifier, loadSequenceClassifier } from "../../shared/core/model/load.ts";
import { headKindOfConfig } from "../../shared/core/model/task_heads.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";

await initBackend("wasm");

const tokenizer = TextTokenizer.trainWordPiece(["a good film", "a bad film"], {
  vocabSize: 30,
  minFrequency: 1,
});
const CONFIGS: Record<string, Record<string, unknown>> = {
  bert: {
    model_type: "bert",
    vocab_size: 40,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 24,
    max_position_embeddings: 20,
  },
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

function outputs(model: SequenceClassifier): number[][] {
  const ids = [[2, 7, 9, 11, 3], [2, 5, 3, 0, 0]];
  const batch = {
    inputIds: tf.tensor2d(ids, undefined, "int32"),
    attentionMask: tf.tensor2d(
      ids.map((r, i) => r.map((_, j) => (i === 1 && j > 2 ? 0 : 1))),
      undefined,
      "int32",
    ),
    tokenTypeIds: tf.zeros([2, 5], "int32") as tf.Tensor2D,
  };
  try {
    return tf.tidy(() => model.forward(batch, { training: false }).arraySync());
  } finally {
    tf.dispose(Object.values(batch));
  }
}

function roundTrip(model: SequenceClassifier, labels: string[], problemType?: "multi_label_classification") {
  const folder = exportHfFolder(model, tokenizer, labels, { problemType });
  const config = JSON.parse(new TextDecoder().decode(folder["config.json"]));
  const head = headKindOfConfig(config)!;
  const loaded = loadSequenceClassifier(
    config,
    readSafetensors(folder["model.safetensors"]),
    model.numLabels,
    5,
    head,
  );
  return { config, loaded };
}

const CLASS: Record<string, Record<HeadKind, string>> = {
  bert: {
    sequence: "BertForSequenceClassification",
    token: "BertForTokenClassification",
    span: "BertForQuestionAnswering",
  },
  distilbert: {
    sequence: "DistilBertForSequenceClassification",
    token: "DistilBertForTokenClassification",
    span: "DistilBertForQuestionAnswering",
  },
};

Deno.test("every head of BERT and DistilBERT survives export → import with identical outputs", () => {
  for (const [family, config] of Object.entries(CONFIGS)) {
    for (const head of ["sequence", "token", "span"] as HeadKind[]) {
      const model = initSequenceClassifier(config, 3, 21, head);
      const labels = head === "span" ? [] : ["O", "B-X", "I-X"];
      const { config: hf, loaded } = roundTrip(model, labels);
      try {
        assert.deepEqual(hf.architectures, [CLASS[family][head]]);
        assert.equal(loaded.model.head, head);
        assert.equal(loaded.checkpointHead, head);
        assert.deepEqual(loaded.initialized, []);
        assert.deepEqual(loaded.ignored, []);
        assert.deepEqual(outputs(loaded.model), outputs(model), `${family}/${head}`);
        if (head === "span") {
          assert.equal(hf.id2label, undefined);
          assert.equal(hf.label2id, undefined);
          assert.equal(hf.problem_type, undefined);
        } else {
          assert.deepEqual(hf.id2label, { 0: "O", 1: "B-X", 2: "I-X" });
          assert.deepEqual(hf.label2id, { O: 0, "B-X": 1, "I-X": 2 });
        }
        if (head === "sequence") assert.equal(hf.problem_type, "single_label_classification");
      } finally {
        model.dispose();
        loaded.model.dispose();
      }
    }
  }
});

Deno.test("regression and multi-label exports carry problem_type; regression id2label {0: LABEL_0}", () => {
  const regression = initSequenceClassifier(CONFIGS.bert, 1, 2);
  const { config, loaded } = roundTrip(regression, []);
  assert.equal(config.problem_type, "regression");
  assert.deepEqual(config.id2label, { 0: "LABEL_0" });
  assert.deepEqual(outputs(loaded.model), outputs(regression));
  loaded.model.dispose();
  regression.dispose();
  const multi = initSequenceClassifier(CONFIGS.distilbert, 2, 2);
  const exported = roundTrip(multi, ["sports", "politics"], "multi_label_classification");
  assert.equal(exported.config.problem_type, "multi_label_classification");
  exported.loaded.model.dispose();
  assert.throws(() => exportHfFolder(multi, tokenizer, ["only-one"]), /1 labels for a model with 2 outputs/);
  multi.dispose();
});
