/**
 * The predict box shared by the model page and the deployment page, shaped by the model's task: one text
 * per line in (QA: a question and a context), out a bar per label (classification), the value (regression),
 * highlighted entities (token classification), the answer (QA) or the generated / translated text. It posts
 * to the given predict path with the API key and, for deployments, shows which version and model answered
 * (from the response headers) and how long it took.
 */
import { getKey } from "./api.js";
import { h, num, toast } from "./dom.js";

const BUTTON = {
  "text-classification": "Classify",
  "text-regression": "Score",
  "token-classification": "Tag entities",
  "question-answering": "Answer",
  "causal-lm": "Generate",
  translation: "Translate",
};

export function predictBox(path, task = "text-classification") {
  const qa = task === "question-answering";
  const input = h("textarea", {
    rows: 4,
    placeholder: qa ? "Question" : task === "causal-lm" ? "One prompt per line" : "One text per line",
    "data-testid": "predict-input",
  });
  const context = qa
    ? h("textarea", { rows: 6, placeholder: "Context", "data-testid": "predict-context" })
    : null;
  const answeredBy = h("p", { class: "hint", "data-testid": "answered-by" });
  const output = h("div", { class: "predictions", "data-testid": "predictions" });
  const predict = async (event) => {
    event.preventDefault();
    const lines = input.value.split("\n").map((t) => t.trim()).filter(Boolean);
    if (!lines.length) return;
    const inputs = qa ? lines.map((question) => ({ question, context: context.value })) : lines;
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { Authorization: `Bearer ${getKey()}`, "Content-Type": "application/json" },
        body: JSON.stringify({ inputs }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
      const version = response.headers.get("x-edgetune-deployment-version");
      const model = response.headers.get("x-edgetune-model");
      const total = response.headers.get("x-total-time");
      answeredBy.textContent = [
        version ? `answered by version ${version}` : "",
        model ? `model ${model}` : "",
        total ? `${total} ms` : "",
      ].filter(Boolean).join(" · ");
      output.replaceChildren(...body.map((answer, i) => predictionRow(task, lines[i], answer)));
    } catch (error) {
      toast(error.message);
    }
  };
  return h(
    "form",
    { class: "card", onsubmit: predict },
    h("h2", {}, "Predict"),
    input,
    context ?? "",
    h("button", {}, BUTTON[task] ?? "Predict"),
    answeredBy,
    output,
  );
}

function predictionRow(task, text, answer) {
  return h("div", { class: "prediction" }, h("div", { class: "text" }, text), answerView(task, text, answer));
}

function answerView(task, text, answer) {
  switch (task) {
    case "text-classification":
      return answer.map((s) => bar(s.label, s.score));
    case "text-regression":
      return h("div", { class: "num" }, num(answer.score, 3));
    case "token-classification":
      return answer.length === 0
        ? h("p", { class: "hint" }, "no entities")
        : answer.map((e) => bar(`${e.entity_group ?? e.entity}: ${text.slice(e.start, e.end)}`, e.score));
    case "question-answering":
      return bar(answer.answer || "(no answer)", answer.score);
    case "translation":
      return h("div", { class: "text" }, answer.translation_text);
    default:
      return (Array.isArray(answer) ? answer : [answer]).map((g) =>
        h("div", { class: "text" }, g.generated_text)
      );
  }
}

function bar(label, score) {
  return h(
    "div",
    { class: "bar" },
    h("span", { class: "label" }, label),
    h("span", { class: "track" }, h("span", { class: "fill", style: `width:${(score * 100).toFixed(1)}%` })),
    h("span", { class: "num" }, num(score, 3)),
  );
}
