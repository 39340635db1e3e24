/**
 * The dashboard's entry point: asks for an API key (checked against the API, then kept in sessionStorage),
 * and routes `#/jobs`, `#/jobs/<id>`, `#/models`, `#/models/<id>`, `#/deployments`, `#/deployments/<name>`
 * and `#/datasets` to their views. Leaving a
 * page aborts what it was streaming.
 */
import { api, clearKey, getKey, setKey } from "./api.js";
import { h, toast } from "./dom.js";
import { jobView } from "./job_view.js";
import { datasetsView, jobsView, modelsView, modelView } from "./views.js";
import { deploymentsView, deploymentView } from "./deployments_view.js";

const main = document.getElementById("main");
let leaving = new AbortController();

function loginView() {
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  const key = h("input", {
    type: "password",
    name: "key",
    placeholder: "API key",
    autocomplete: "off",
    required: true,
  });
  const error = h("p", { class: "error", "data-testid": "login-error" });
  main.replaceChildren(h(
    "form",
    {
      class: "card login",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api("/v1/jobs?limit=1", { key: key.value.trim() });
          setKey(key.value.trim());
          route();
        } catch (e) {
          error.textContent = e.status === 401 ? "That key is not valid here." : e.message;
        }
      },
    },
    h("h1", {}, "Sign in"),
    h("p", {}, "Use an edgetune API key (EDGETUNE_API_KEY). It stays in this tab only."),
    key,
    h("button", {}, "Open dashboard"),
    error,
  ));
  key.focus();
}

async function route() {
  leaving.abort();
  leaving = new AbortController();
  if (!getKey()) return loginView();
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  const [section = "jobs", id] = location.hash.replace(/^#\/?/, "").split("/");
  for (const a of document.querySelectorAll("#nav a[data-section]")) {
    a.classList.toggle("active", a.dataset.section === section);
  }
  try {
    if (section === "jobs" && id) await jobView(main, decodeURIComponent(id), leaving.signal);
    else if (section === "models" && id) await modelView(main, decodeURIComponent(id));
    else if (section === "models") await modelsView(main);
    else if (section === "datasets") await datasetsView(main);
    else if (section === "deployments" && id) await deploymentView(main, decodeURIComponent(id));
    else if (section === "deployments") await deploymentsView(main);
    else await jobsView(main);
  } catch (error) {
    if (error.status === 401) {
      clearKey();
      return loginView();
    }
    toast(error.message);
    main.replaceChildren(h("p", { class: "error" }, error.message));
  }
}

document.getElementById("logout").addEventListener("click", () => {
  clearKey();
  location.hash = "";
  route();
});
addEventListener("hashchange", route);
route();
