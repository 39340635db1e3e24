/**
 * The dashboard in headless Chromium (playwright-core driving /usr/bin/chromium): a wrong key is refused, a
 * right one opens the dashboard; a job is estimated and started from the new-job form; its loss chart grows
 * from the SSE stream (the canvas' point count rises while the page stays open); the cancel button cancels it
 * (checked through the API); the predict box classifies with a model, and its folder downloads as a tar. Screenshots go to
 * .out/test-artifacts/dashboard.png (running job) and dashboard-predict.png.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startEmbeddedInstance, TENANT_A_KEY } from "../support/embedded_instance.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../../.out/test-artifacts/", import.meta.url);
const reviews = await Deno.readFile(new URL("../../tools/demo/reviews.csv", import.meta.url));
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

Deno.test({
  name: "dashboard: log in, start a job, watch the chart grow from SSE, cancel it, predict",
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const instance = await startEmbeddedInstance();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const a = instance.tenantA;
    const dataset = await a.uploadDataset(reviews, { fileName: "reviews.csv", name: "reviews" });
    const model = await a.createModel({
      name: "tiny-bert",
      config: { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128 },
      tokenizer: { dataset: dataset.id, vocab_size: 600 },
      labels: ["negative", "positive"],
    });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(instance.url);

    await page.fill("input[name=key]", "not-a-valid-key-000000000");
    await page.click("form.login button");
    await page.waitForSelector("[data-testid=login-error]:has-text('not valid')");
    await page.fill("input[name=key]", TENANT_A_KEY);
    await page.click("form.login button");
    await page.waitForSelector("#new-job");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("edgetune.apiKey")), TENANT_A_KEY);

    await page.fill("input[name=epochs]", "200");
    await page.fill("input[name=learning_rate]", "0.001");
    await page.click("button:has-text('Estimate')");
    await page.waitForSelector("[data-testid=plan] .fact:has-text('steps')");
    const planText = await page.textContent("[data-testid=plan]");
    assert.match(planText!, /2000 \(10\/epoch\)/, "200 epochs of 160 rows in batches of 16");
    assert.deepEqual((await a.listJobs()).data, [], "estimating creates no job");

    await page.click("[data-testid=start-job]");
    await page.waitForURL(/#\/jobs\/job_/);
    const jobId = decodeURIComponent(page.url().split("#/jobs/")[1]);
    assert.equal((await a.getJob(jobId)).hyperparameters.epochs, 200);

    const points = async (chart: string) =>
      Number(await page.getAttribute(`[data-testid=chart-${chart}]`, "data-points"));
    const lossPoints = (atLeast: number) =>
      page.waitForFunction(
        `Number(document.querySelector("[data-testid=chart-loss]")?.dataset.points ?? 0) >= ${atLeast}`,
        null,
        { timeout: 120_000 },
      );
    await lossPoints(3);
    const first = await points("loss");
    await lossPoints(first + 10);
    assert.ok((await points("loss")) > first, "the loss chart grows while the job trains");
    assert.ok((await points("lr")) > 0, "the learning-rate chart has points");
    await page.waitForSelector("[data-testid=status]:has-text('running')");
    await page.waitForFunction(
      `/\\d/.test(document.querySelector("[data-testid=eta]")?.textContent ?? "")`,
      null,
      {
        timeout: 30_000,
      },
    );
    await page.screenshot({ path: new URL("dashboard.png", ARTIFACTS).pathname, fullPage: true });

    await page.click("[data-testid=cancel]");
    await page.waitForSelector("[data-testid=status]:has-text('cancelled')", { timeout: 60_000 });
    assert.equal((await a.getJob(jobId)).status, "cancelled");
    assert.ok((await a.getJob(jobId)).progress.step < 2000, "stopped before the end");
    assert.ok(await page.isDisabled("[data-testid=cancel]"), "nothing left to cancel");

    await page.goto(`${instance.url}/#/models/${model.id}`);
    await page.fill("[data-testid=predict-input]", "The lamp is wonderful.\nThe charger broke.");
    await page.click("button:has-text('Classify')");
    await page.waitForSelector("[data-testid=predictions] .prediction >> nth=1");
    const labels = await page.locator("[data-testid=predictions] .prediction .label").allTextContents();
    assert.equal(labels.length, 4);
    assert.deepEqual(new Set(labels), new Set(["negative", "positive"]));
    await page.screenshot({ path: new URL("dashboard-predict.png", ARTIFACTS).pathname });
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click("button:has-text('Download HF folder')"),
    ]);
    assert.equal(download.suggestedFilename(), `${model.id}.tar`);
    const tar = await Deno.readFile((await download.path())!);
    assert.ok(new TextDecoder().decode(tar.subarray(0, 512)).includes("/config.json"), "a tar of the folder");

    // Deploy the model from the deployments page, predict through the deployment, see which version answered.
    await page.goto(`${instance.url}/#/deployments`);
    await page.fill("input[name=name]", "sentiment");
    await page.click("button:has-text('Deploy')");
    await page.waitForURL(/#\/deployments\/sentiment/);
    await page.fill("[data-testid=predict-input]", "The lamp is wonderful.");
    await page.click("button:has-text('Classify')");
    await page.waitForSelector("[data-testid=predictions] .prediction");
    assert.match(await page.textContent("[data-testid=answered-by]") ?? "", /answered by version 1/);
    assert.equal((await a.request<{ name: string }>("GET", "/v1/deployments/sentiment")).name, "sentiment");
    await page.screenshot({ path: new URL("dashboard-deployment.png", ARTIFACTS).pathname, fullPage: true });
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await instance.stop();
  }
});
