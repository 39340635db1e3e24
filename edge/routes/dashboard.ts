/**
 * The dashboard: GET / answers the single page, GET /ui/:file its ES modules and stylesheet, read once from
 * edge/dashboard/ (plain files, no build step). The page is public; everything it shows comes from the /v1
 * API with the bearer key the user enters. Unknown asset names answer the API's JSON 404.
 */
import { Hono } from "hono";
import { notFound } from "../../shared/schemas/errors.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};
const ASSETS = [
  "app.js",
  "api.js",
  "chart.js",
  "dom.js",
  "job_view.js",
  "views.js",
  "predict_box.js",
  "deployments_view.js",
  "style.css",
];

async function load(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(`../dashboard/${name}`, import.meta.url));
}

export function dashboardRoutes(): Hono {
  const app = new Hono();
  const files = new Map<string, Promise<string>>();
  const read = (name: string) => {
    let text = files.get(name);
    if (!text) files.set(name, text = load(name));
    return text;
  };
  const headers = (name: string) => ({
    "content-type": TYPES[name.slice(name.lastIndexOf("."))],
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  });
  app.get("/", async (c) => c.body(await read("index.html"), 200, headers("index.html")));
  app.get("/ui/:file", async (c) => {
    const name = c.req.param("file");
    if (!ASSETS.includes(name)) throw notFound("dashboard asset", name);
    return c.body(await read(name), 200, headers(name));
  });
  return app;
}
