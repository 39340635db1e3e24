/**
 * The dashboard's deployments: a list with the traffic split of each and a form to deploy a model under a
 * stable name; a deployment page with its versions, traffic, history (who changed what, when), a form to
 * roll out a new version as a canary, a rollback button and a predict box that shows which version answered.
 */
import { api } from "./api.js";
import { h, toast, when } from "./dom.js";
import { predictBox } from "./predict_box.js";
import { fact, link, table } from "./views.js";

const trafficText = (traffic) =>
  Object.entries(traffic).map(([version, share]) => `v${version} ${share}%`).join(" · ");

export async function deploymentsView(main) {
  const [{ data }, models] = await Promise.all([api("/v1/deployments"), api("/v1/models")]);
  const servable = models.data.filter((m) => m.task !== null && m.task !== "masked-lm");
  const rows = data.map((d) =>
    h(
      "tr",
      {},
      h("td", {}, link(`#/deployments/${encodeURIComponent(d.name)}`, d.name)),
      h("td", {}, trafficText(d.traffic)),
      h("td", {}, String(d.versions.length)),
      h("td", {}, when(d.updated_at)),
    )
  );
  const name = h("input", { name: "name", placeholder: "name, e.g. sentiment", required: true });
  const model = h(
    "select",
    { name: "model" },
    servable.map((m) => h("option", { value: m.id }, `${m.name} (${m.id})`)),
  );
  const create = async (event) => {
    event.preventDefault();
    try {
      await api("/v1/deployments", { method: "POST", body: { name: name.value.trim(), model: model.value } });
      location.hash = `#/deployments/${encodeURIComponent(name.value.trim())}`;
    } catch (error) {
      toast(error.message);
    }
  };
  main.replaceChildren(
    h("h1", {}, "Deployments"),
    table(["name", "traffic", "versions", "updated"], rows, "No deployments yet."),
    servable.length
      ? h(
        "form",
        { class: "card inline", onsubmit: create },
        h("h2", {}, "Deploy a model"),
        name,
        model,
        h("button", {}, "Deploy"),
      )
      : h(
        "p",
        { class: "empty" },
        "Fine-tune a model first: only models with a task head can be deployed.",
      ),
  );
}

export async function deploymentView(main, name) {
  const path = `/v1/deployments/${encodeURIComponent(name)}`;
  const [deployment, models] = await Promise.all([api(path), api("/v1/models")]);
  const reload = () => deploymentView(main, name).catch((error) => toast(error.message));
  const servable = models.data.filter((m) => m.task !== null && m.task !== "masked-lm");
  const model = h(
    "select",
    { name: "model" },
    servable.map((m) => h("option", { value: m.id }, `${m.name} (${m.id})`)),
  );
  const canary = h("input", { name: "canary_percent", type: "number", min: 0, max: 100, value: 10 });
  const rollOut = async (event) => {
    event.preventDefault();
    try {
      await api(path, {
        method: "PATCH",
        body: { model: model.value, canary_percent: Number(canary.value) },
      });
      await reload();
    } catch (error) {
      toast(error.message);
    }
  };
  const rollback = async () => {
    try {
      await api(`${path}/rollback`, { method: "POST", body: {} });
      await reload();
    } catch (error) {
      toast(error.message);
    }
  };
  const versions = deployment.versions.map((v) =>
    h(
      "tr",
      {},
      h("td", {}, `v${v.version}`),
      h("td", {}, link(`#/models/${v.model}`, v.model)),
      h("td", {}, `${deployment.traffic[v.version] ?? 0}%`),
      h("td", {}, when(v.created_at)),
    )
  );
  const history = [...deployment.history].reverse().map((e) =>
    h(
      "tr",
      {},
      h("td", {}, when(e.at)),
      h("td", {}, e.action),
      h("td", {}, e.version ? `v${e.version}` : "–"),
      h("td", {}, trafficText(e.traffic_after)),
      h("td", {}, e.by.key_id),
    )
  );
  main.replaceChildren(
    h("h1", {}, deployment.name, " ", h("small", {}, trafficText(deployment.traffic))),
    h(
      "div",
      { class: "facts" },
      fact("versions", String(deployment.versions.length)),
      fact("updated", when(deployment.updated_at)),
    ),
    h(
      "p",
      {},
      h("button", {
        class: "ghost",
        disabled: !deployment.can_roll_back,
        onclick: rollback,
        "data-testid": "rollback",
      }, "Roll back"),
    ),
    h("h2", {}, "Versions"),
    table(["version", "model", "traffic", "created"], versions, "No versions."),
    h(
      "form",
      { class: "card inline", onsubmit: rollOut },
      h("h2", {}, "Roll out a new version"),
      model,
      canary,
      h("span", {}, "% canary"),
      h("button", {}, "Roll out"),
    ),
    predictBox(`${path}/predict`, models.data.find((m) => m.id === deployment.versions.at(-1)?.model)?.task),
    h("h2", {}, "History"),
    table(["when", "action", "version", "traffic", "by key"], history, "No changes yet."),
  );
}
