/**
 * GET /openapi.json (the OpenAPI 3.1 document, generated once from the route table and zod schemas) and
 * GET /docs (the HTML reference rendered from it). Both are public: they describe the API, not a tenant's
 * data.
 */
import { Hono } from "hono";
import { buildOpenApiDocument } from "../openapi/document.ts";
import { renderDocsPage } from "../openapi/docs_page.ts";

export function openApiRoutes(options: { maxFieldChars: number }): Hono {
  const app = new Hono();
  const document = buildOpenApiDocument(options);
  const json = JSON.stringify(document);
  const page = renderDocsPage(document);
  app.get("/openapi.json", (c) => c.body(json, 200, { "content-type": "application/json; charset=utf-8" }));
  app.get("/docs", (c) => c.html(page));
  return app;
}
