/**
 * The dashboard's list and form views: datasets (upload, list, delete), models (list; a model page with a
 * predict box) and jobs (list; a new-job form that can ask for a dry-run estimate before starting). Each
 * view renders into the given container and loads what it shows from the API.
 */
import { api, getKey } from "./api.js";
import { bytes, duration, h, num, statusBadge, toast, when } from "./dom.js";
import { predictBox } from "./predict_box.js";

export const table = (headers, rows, empty) =>
  rows.length
    ? h("table", { class: "list" }, h("tr", {}, headers.map((t) => h("th", {}, t))), rows)
    : h("p", { class: "empty" }, empty);

export const link = (href, text) => h("a", { href }, text);

export async function datasetsView(main) {
  const { data } = await api("/v1/datasets");
  const file = h("input", { type: "file", name: "file", accept: ".csv,.tsv,.jsonl,.txt", required: true });
  const upload = h(
    "form",
    {
      class: "card row",
      onsubmit: async (event) => {
        event.preventDefault();
        const form = new FormData();
        form.append("file", file.files[0]);
        try {
          const ds = await api("/v1/datasets", { method: "POST", body: form });
          toast(`uploaded ${ds.name}: ${ds.rows} rows`, "ok");
          await datasetsView(main);
        } catch (error) {
          toast(error.message);
        }
      },
    },
    h("strong", {}, "Upload a dataset"),
    file,
    h("button", {}, "Upload"),
  );
  const rows = data.map((ds) =>
    h(
      "tr",
      {},
      h("td", {}, h("code", {}, ds.id)),
      h("td", {}, ds.name),
      h("td", {}, ds.format),
      h("td", { class: "num" }, ds.rows),
      h("td", {}, ds.columns.join(", ")),
      h("td", { class: "num" }, bytes(ds.bytes)),
      h("td", {}, when(ds.created_at)),
      h(
        "td",
        {},
        h("button", { class: "ghost", onclick: () => remove(`/v1/datasets/${ds.id}`, main) }, "Delete"),
      ),
    )
  );
  main.replaceChildren(
    h("h1", {}, "Datasets"),
    upload,
    table(["id", "name", "format", "rows", "columns", "size", "created", ""], rows, "No datasets yet."),
  );
}

async function remove(path, main) {
  if (!confirm(`Delete ${path.split("/").pop()}?`)) return;
  try {
    await api(path, { method: "DELETE" });
    location.hash.includes("models") ? await modelsView(main) : await datasetsView(main);
  } catch (error) {
    toast(error.message);
  }
}

export async function modelsView(main) {
  const { data } = await api("/v1/models");
  const rows = data.map((m) =>
    h(
      "tr",
      {},
      h("td", {}, link(`#/models/${m.id}`, m.id)),
      h("td", {}, m.name),
      h("td", {}, m.source),
      h("td", {}, m.task ?? "base"),
      h("td", { class: "num" }, m.parameters.toLocaleString()),
      h("td", {}, when(m.created_at)),
      h(
        "td",
        {},
        h("button", { class: "ghost", onclick: () => remove(`/v1/models/${m.id}`, main) }, "Delete"),
      ),
    )
  );
  main.replaceChildren(
    h("h1", {}, "Models"),
    table(["id", "name", "source", "task", "parameters", "created", ""], rows, "No models yet."),
  );
}

export async function modelView(main, id) {
  const model = await api(`/v1/models/${encodeURIComponent(id)}`);
  const canPredict = model.task !== null && model.task !== "masked-lm";
  main.replaceChildren(
    h("h1", {}, model.name, " ", h("small", {}, model.id)),
    h(
      "div",
      { class: "facts" },
      fact("source", model.source),
      fact("task", model.task ?? "base model"),
      fact("parameters", model.parameters.toLocaleString()),
      fact("labels", model.labels?.join(", ") ?? "–"),
      fact("from job", model.job_id ? link(`#/jobs/${model.job_id}`, model.job_id) : "–"),
    ),
    h("p", {}, h("button", { class: "ghost", onclick: () => download(model) }, "Download HF folder (.tar)")),
    canPredict
      ? predictBox(`/v1/models/${model.id}/predict`, model.task)
      : h("p", { class: "empty" }, "This model has no task head; fine-tune it to predict."),
  );
}

/** The export needs the bearer header, so it is fetched and handed to the browser as a blob. */
async function download(model) {
  try {
    const response = await fetch(`/v1/models/${model.id}/export`, {
      headers: { Authorization: `Bearer ${getKey()}` },
    });
    if (!response.ok) throw new Error((await response.json()).error?.message ?? response.statusText);
    const url = URL.createObjectURL(await response.blob());
    h("a", { href: url, download: `${model.id}.tar` }).click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    toast(error.message);
  }
}

export const fact = (label, value) => h("div", { class: "fact" }, h("span", {}, label), h("b", {}, value));

export async function jobsView(main) {
  const [{ data: jobs }, { data: models }, { data: datasets }] = await Promise.all([
    api("/v1/jobs?limit=50"),
    api("/v1/models"),
    api("/v1/datasets"),
  ]);
  const rows = jobs.map((job) =>
    h(
      "tr",
      {},
      h("td", {}, link(`#/jobs/${job.id}`, job.id)),
      h("td", {}, statusBadge(job.status)),
      h("td", {}, `${job.progress.step} / ${job.progress.total_steps || "?"}`),
      h("td", {}, job.base_model),
      h("td", {}, job.training_dataset),
      h("td", { class: "num" }, num(job.metrics.accuracy ?? NaN, 3)),
      h("td", {}, when(job.created_at)),
    )
  );
  main.replaceChildren(
    h("h1", {}, "Jobs"),
    newJobForm(models, datasets),
    table(["id", "status", "steps", "base model", "dataset", "accuracy", "created"], rows, "No jobs yet."),
  );
}

function newJobForm(models, datasets) {
  const field = (label, el) => h("label", {}, h("span", {}, label), el);
  const select = (name, items) =>
    h(
      "select",
      { name, required: true },
      items.map((i) => h("option", { value: i.id }, `${i.name} (${i.id})`)),
    );
  const numberInput = (name, value, step = "any") =>
    h("input", { name, type: "number", value, step, required: true });
  const form = h(
    "form",
    { class: "card", id: "new-job" },
    h("h2", {}, "New fine-tuning job"),
    h(
      "div",
      { class: "grid" },
      field("task", taskSelect()),
      field("base model", select("base_model", models)),
      field("training dataset", select("training_dataset", datasets)),
      field("epochs", numberInput("epochs", 3, 1)),
      field("batch size", numberInput("batch_size", 16, 1)),
      field("learning rate", numberInput("learning_rate", 0.002)),
      field("max sequence length", numberInput("max_seq_length", 64, 1)),
      field("validation split", numberInput("validation_split", 0.2)),
    ),
  );
  const plan = h("div", { class: "plan", "data-testid": "plan" });
  const spec = () => {
    const f = new FormData(form);
    return {
      task: f.get("task"),
      base_model: f.get("base_model"),
      training_dataset: f.get("training_dataset"),
      validation_split: Number(f.get("validation_split")) || undefined,
      hyperparameters: {
        epochs: Number(f.get("epochs")),
        batch_size: Number(f.get("batch_size")),
        learning_rate: Number(f.get("learning_rate")),
        max_seq_length: Number(f.get("max_seq_length")),
      },
    };
  };
  const estimate = async () => {
    try {
      const e = await api("/v1/jobs", { method: "POST", body: { ...spec(), dry_run: true } });
      plan.replaceChildren(
        fact("steps", `${e.total_steps} (${e.steps_per_epoch}/epoch)`),
        fact("examples", `${e.examples.train} train, ${e.examples.validation} eval`),
        fact("tokens/example", `${e.tokens.per_example_p50} (p90 ${e.tokens.per_example_p90})`),
        fact(
          "trainable",
          `${e.parameters.trainable.toLocaleString()} of ${e.parameters.total.toLocaleString()}`,
        ),
        fact("peak memory", bytes(e.memory.peak_bytes)),
        ...e.time.map((t) => fact(`time on ${t.backend}`, duration(t.seconds))),
      );
    } catch (error) {
      toast(error.message);
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await api("/v1/jobs", { method: "POST", body: spec() });
      location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      toast(error.message);
    }
  });
  const disabled = !models.length || !datasets.length;
  form.append(
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "ghost", onclick: estimate, disabled }, "Estimate"),
      h("button", { type: "submit", "data-testid": "start-job", disabled }, "Start job"),
      disabled ? h("span", { class: "empty" }, "Upload a dataset and create a base model first.") : null,
    ),
    plan,
  );
  return form;
}

const TASKS = [
  "text-classification",
  "text-regression",
  "token-classification",
  "question-answering",
  "masked-lm",
  "causal-lm",
  "translation",
];

/** The job's task (columns default per task; docs/tasks.md). */
function taskSelect() {
  return h(
    "select",
    { name: "task", "data-testid": "job-task" },
    TASKS.map((t) => h("option", { value: t }, t)),
  );
}
