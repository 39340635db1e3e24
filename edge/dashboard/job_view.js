/**
 * The job page: status, progress bar, ETA (the API's `eta_seconds`), latest metrics, a cancel button, live
 * charts of training loss (with eval loss), learning rate and eval metrics, and the job's log — all fed by
 * the job's event stream (replayed from the start, then live) until the job ends or the page is left.
 */
import { api, followEvents } from "./api.js";
import { LineChart } from "./chart.js";
import { duration, h, num, statusBadge, toast, when } from "./dom.js";
import { fact } from "./views.js";

const FINAL = ["succeeded", "failed", "cancelled"];

export async function jobView(main, id, signal) {
  let job = await api(`/v1/jobs/${encodeURIComponent(id)}`);
  const badge = h("span", {}, statusBadge(job.status));
  const bar = h("div", { class: "fill" });
  const progressText = h("span", { "data-testid": "progress" });
  const eta = h("b", { "data-testid": "eta" }, "–");
  const facts = h("div", { class: "facts" });
  const log = h("ol", { class: "log", "data-testid": "log" });
  const cancel = h(
    "button",
    { class: "danger", "data-testid": "cancel", onclick: () => cancelJob() },
    "Cancel job",
  );
  const canvases = ["loss", "lr", "eval"].map((name) =>
    h("canvas", { "data-testid": `chart-${name}`, "data-points": 0 })
  );
  const loss = new LineChart(canvases[0], { title: "loss" });
  const lr = new LineChart(canvases[1], { title: "learning rate" });
  const evals = new LineChart(canvases[2], { title: "eval metrics" });
  let lastStep = 0;

  const render = () => {
    badge.replaceChildren(statusBadge(job.status));
    const { step, total_steps: total, epoch } = job.progress;
    const shown = Math.max(step, lastStep);
    bar.style.width = `${total ? Math.min(100, (100 * shown) / total) : 0}%`;
    progressText.textContent = `step ${shown} of ${total || "?"} · epoch ${num(epoch, 3)}`;
    eta.textContent = job.status === "running"
      ? duration(job.eta_seconds)
      : FINAL.includes(job.status)
      ? "done"
      : "–";
    cancel.disabled = FINAL.includes(job.status);
    facts.replaceChildren(
      fact("backend", job.backend ?? "–"),
      fact("base model", job.base_model),
      fact("dataset", job.training_dataset),
      fact("train loss", num(job.metrics.train_loss)),
      fact("eval loss", num(job.metrics.eval_loss)),
      fact("accuracy", num(job.metrics.accuracy, 3)),
      fact("started", when(job.started_at)),
      fact(
        "fine-tuned model",
        job.fine_tuned_model
          ? h("a", { href: `#/models/${job.fine_tuned_model}` }, job.fine_tuned_model)
          : "–",
      ),
      job.error ? fact("error", job.error.message) : "",
    );
  };

  async function refresh() {
    try {
      job = await api(`/v1/jobs/${encodeURIComponent(id)}`);
      render();
    } catch (error) {
      toast(error.message);
    }
  }

  async function cancelJob() {
    cancel.disabled = true;
    try {
      job = await api(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
      toast(job.status === "cancelled" ? "cancelled" : "cancel requested: stops within one step", "ok");
      render();
    } catch (error) {
      toast(error.message);
      cancel.disabled = false;
    }
  }

  const onEvent = (event) => {
    const d = event.data;
    if (event.type === "step") {
      lastStep = d.step;
      job.progress = { step: d.step, total_steps: d.total_steps, epoch: d.epoch };
      loss.add("train", d.step, d.loss);
      lr.add("learning rate", d.step, d.learning_rate);
      render();
    } else if (event.type === "eval") {
      loss.add("eval", d.step, d.metrics.eval_loss);
      for (const name of ["accuracy", "macro_f1"]) evals.add(name, d.step, d.metrics[name]);
    } else if (event.type === "status") {
      job.status = d.status;
      log.append(
        h("li", {}, h("time", {}, new Date(event.time).toLocaleTimeString()), `status: ${d.status}`),
      );
      render();
      if (FINAL.includes(d.status)) refresh();
    } else if (event.type === "log") {
      log.append(h("li", {}, h("time", {}, new Date(event.time).toLocaleTimeString()), d.message));
    }
  };

  main.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", id),
    h(
      "div",
      { class: "job-head" },
      h("h1", {}, "Job ", h("code", {}, id)),
      badge,
      h("span", { class: "spacer" }),
      cancel,
    ),
    h(
      "div",
      { class: "card" },
      h("div", { class: "progress" }, bar),
      h("div", { class: "row" }, progressText, h("span", { class: "spacer" }), h("span", {}, "ETA "), eta),
    ),
    facts,
    h("div", { class: "charts" }, canvases.map((c) => h("div", { class: "chart card" }, c))),
    h("div", { class: "card" }, h("h2", {}, "Log"), log),
  );
  render();

  const poll = setInterval(() => !FINAL.includes(job.status) && refresh(), 2000);
  signal.addEventListener("abort", () => clearInterval(poll));
  followEvents(id, onEvent, signal).catch((error) => {
    if (!signal.aborted) toast(`event stream: ${error.message}`);
  });
}
