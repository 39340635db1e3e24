/**
 * The predict box shared by the model page and the deployment page: one text per line in, a bar per label
 * out. It posts to the given predict path with the API key and, for deployments, shows which version and
 * model answered (from the response headers) and how long it took.
 */
import { getKey } from "./api.js";
import { h, num, toast } from "./dom.js";

export function predictBox(path) {
  const input = h("textarea", { rows: 4, placeholder: "One text per line", "data-testid": "predict-input" });
  const answeredBy = h("p", { class: "hint", "data-testid": "answered-by" });
  const output = h("div", { class: "predictions", "data-testid": "predictions" });
  const predict = async (event) => {
    event.preventDefault();
    const inputs = input.value.split("\n").map((t) => t.trim()).filter(Boolean);
    if (!inputs.length) return;
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
      output.replaceChildren(...body.map((scores, i) => predictionRow(inputs[i], scores)));
    } catch (error) {
      toast(error.message);
    }
  };
  return h(
    "form",
    { class: "card", onsubmit: predict },
    h("h2", {}, "Predict"),
    input,
    h("button", {}, "Classify"),
    answeredBy,
    output,
  );
}

function predictionRow(text, scores) {
  return h(
    "div",
    { class: "prediction" },
    h("div", { class: "text" }, text),
    scores.map((s) =>
      h(
        "div",
        { class: "bar" },
        h("span", { class: "label" }, s.label),
        h(
          "span",
          { class: "track" },
          h("span", { class: "fill", style: `width:${(s.score * 100).toFixed(1)}%` }),
        ),
        h("span", { class: "num" }, num(s.score, 3)),
      )
    ),
  );
}
