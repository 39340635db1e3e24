/**
 * The browsable API reference at /docs: one self-contained HTML page rendered on the server from the OpenAPI
 * document (no CDN, no script): operations grouped by tag with method, path, auth, parameters, request
 * bodies and responses, each schema reference a link to its component, and every component's JSON Schema
 * with its fields listed (type, required, default, description) and the raw schema folded underneath.
 */

type Json = Record<string, unknown>;

const escape = (text: unknown): string => String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function refName(schema: unknown): string | null {
  const r = (schema as Json | undefined)?.$ref;
  return typeof r === "string" ? r.split("/").pop()! : null;
}

function schemaLink(schema: unknown): string {
  const name = refName(schema);
  if (name) return `<a href="#schema-${escape(name)}"><code>${escape(name)}</code></a>`;
  const options = (schema as Json | undefined)?.oneOf as unknown[] | undefined;
  if (options) return options.map(schemaLink).join(" or ");
  return `<code>${escape(typeLabel(schema as Json))}</code>`;
}

function typeLabel(schema: Json | undefined): string {
  if (!schema) return "any";
  if (schema.enum) return (schema.enum as unknown[]).map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.anyOf || schema.oneOf) {
    return ((schema.anyOf ?? schema.oneOf) as Json[]).map(typeLabel).join(" | ");
  }
  if (schema.type === "array") return `${typeLabel(schema.items as Json)}[]`;
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  return String(schema.type ?? "any");
}

function fieldsTable(schema: Json): string {
  const properties = schema.properties as Record<string, Json> | undefined;
  if (!properties) return "";
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries(properties).map(([name, field]) => {
    const extra = field.default !== undefined
      ? ` default <code>${escape(JSON.stringify(field.default))}</code>`
      : "";
    return `<tr><td><code>${escape(name)}</code>${required.has(name) ? " <b>*</b>" : ""}</td>` +
      `<td><code>${escape(typeLabel(field))}</code>${extra}</td><td>${
        escape(field.description ?? "")
      }</td></tr>`;
  });
  return `<table><tr><th>field</th><th>type</th><th>about</th></tr>${rows.join("")}</table>`;
}

function operationHtml(method: string, path: string, op: Json): string {
  const params = (op.parameters as Json[] | undefined) ?? [];
  const paramRows = params.map((p) =>
    `<tr><td><code>${escape(p.name)}</code>${p.required ? " <b>*</b>" : ""}</td><td>${escape(p.in)}</td>` +
    `<td>${escape(p.description ?? "")}</td></tr>`
  ).join("");
  const body = op.requestBody as { content: Record<string, Json> } | undefined;
  const bodyHtml = body
    ? `<p class="label">request body</p><ul>${
      Object.entries(body.content).map(([type, c]) => `<li>${escape(type)}: ${schemaLink(c.schema)}</li>`)
        .join("")
    }</ul>`
    : "";
  const responses = Object.entries(op.responses as Record<string, Json>).map(([status, r]) => {
    const content = r.content as Record<string, Json> | undefined;
    const kinds = content
      ? Object.entries(content).map(([type, c]) => `${escape(type)} ${schemaLink(c.schema)}`).join(", ")
      : "";
    return `<li><b>${escape(status)}</b> ${escape(r.description)} ${kinds}</li>`;
  }).join("");
  const secured = (op.security as unknown[]).length > 0;
  return `<details class="op" id="op-${escape(op.operationId)}"><summary><span class="method ${method}">` +
    `${method.toUpperCase()}</span> <code>${escape(path)}</code> <span class="summary">${
      escape(op.summary)
    }` +
    `</span>${
      secured ? ' <span class="lock" title="needs Authorization: Bearer &lt;key&gt;">bearer key</span>' : ""
    }</summary>` +
    (paramRows ? `<p class="label">parameters</p><table>${paramRows}</table>` : "") + bodyHtml +
    `<p class="label">responses</p><ul>${responses}</ul></details>`;
}

export function renderDocsPage(doc: Json): string {
  const info = doc.info as Json;
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags as string[])[0];
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationHtml(method, path, op)]);
    }
  }
  const schemas = (doc.components as { schemas: Record<string, Json> }).schemas;
  const sections = [...byTag].map(([tag, ops]) => `<h2>${escape(tag)}</h2>${ops.join("")}`).join("");
  const components = Object.entries(schemas).map(([name, schema]) =>
    `<section class="schema" id="schema-${escape(name)}"><h3>${escape(name)}</h3>` +
    `${schema.description ? `<p>${escape(schema.description)}</p>` : ""}${fieldsTable(schema)}` +
    `<details><summary>JSON Schema</summary><pre>${escape(JSON.stringify(schema, null, 2))}</pre></details>` +
    `</section>`
  ).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${
    escape(info.title)
  } reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${CSS}</style></head><body><main>
<h1>${escape(info.title)} <small>${escape(info.version)}</small></h1><p>${escape(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escape(doc.openapi)}) ·
<a href="/">dashboard</a></p>${sections}<h2>schemas</h2>${components}</main></body></html>`;
}

const CSS = `body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
main{max-width:980px;margin:0 auto;padding:24px}h1 small{color:#778;font-size:60%}
h2{margin-top:32px;text-transform:capitalize;border-bottom:1px solid #dde}code{font:13px ui-monospace,monospace}
.op{background:#fff;border:1px solid #dde;border-radius:6px;margin:6px 0;padding:6px 12px}
.op summary{cursor:pointer}.lock{font-size:11px;color:#8a5a12;background:#f4efe6;border-radius:8px;padding:1px 7px}.summary{color:#555}.label{font-weight:600;margin:8px 0 2px}
.method{display:inline-block;min-width:56px;text-align:center;border-radius:4px;color:#fff;font:600 12px monospace;
padding:2px 6px}.get{background:#2f7d4f}.post{background:#2b5fb4}.delete{background:#b43a2b}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #eef;padding:3px 6px;
text-align:left;vertical-align:top}.schema{background:#fff;border:1px solid #dde;border-radius:6px;padding:6px 12px;
margin:8px 0}pre{background:#f3f4f7;padding:8px;overflow:auto;font-size:12px}`;
