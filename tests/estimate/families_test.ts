/**
 * Dry-run estimates for every model family the platform imports: a DistilBERT, RoBERTa or ELECTRA base model
 * gets a plan like a BERT one (its config keys differ: DistilBERT says dim / n_layers), and the plan's total
 * parameter count equals the imported model's own.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance } from "../support/embedded_instance.ts";
import { familyFolder } from "../support/model_folders.ts";
import type { JobEstimate } from "../../shared/client/mod.ts";

const reviews = await Deno.readFile(new URL("../../tools/demo/reviews.csv", import.meta.url));

Deno.test("dry-run plans jobs on BERT, RoBERTa, ELECTRA and DistilBERT base models", async () => {
  const instance = await startEmbeddedInstance({ runner: false });
  try {
    const { tenantA } = instance;
    const dataset = await tenantA.uploadDataset(reviews, { fileName: "reviews.csv" });
    for (const family of ["bert", "roberta", "electra", "distilbert"]) {
      const base = await tenantA.importModel(familyFolder(family), `${family}-base`);
      const plan = await tenantA.request<JobEstimate>("POST", "/v1/jobs", {
        dry_run: true,
        task: "text-classification",
        base_model: base.id,
        training_dataset: dataset.id,
        hyperparameters: { epochs: 2, batch_size: 16, max_seq_length: 16, freeze_layers: 1 },
      });
      assert.equal(plan.parameters.total, base.parameters, family);
      assert.ok(plan.parameters.trainable < plan.parameters.total, `${family}: one layer frozen`);
      assert.equal(plan.total_steps, 2 * Math.ceil(plan.examples.train / 16), family);
      assert.ok(plan.estimated_seconds > 0, family);
    }
    assert.equal((await tenantA.request<{ data: unknown[] }>("GET", "/v1/jobs")).data.length, 0);
  } finally {
    await instance.stop();
  }
});
