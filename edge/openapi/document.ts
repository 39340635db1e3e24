/**
 * Builds the OpenAPI 3.1 document of the edge API from the route table (routes.ts) and the zod schemas
 * the routes use, converted with zod's own `z.toJSONSchema` (JSON Schema 2020-12, the dialect OpenAPI 3.1
 * uses): request bodies as the route accepts them (`io: "input"`, defaults optional), responses as it sends
 * them. Every operation also lists the error answers it can give, all in the one `Error` shape, and the
 * bearer security scheme where a key is needed.
 */
import { z } from "zod";
import { apiErrorSchema } from "./api_schemas.ts";
import { componentSchemas, ROUTES, type RouteSpec } from "./routes.ts";

export const API_VERSION = "1.0.0";

/** Components that describe what clients send (their defaults make fields optional). */
const REQUEST_COMPONENTS = new Set([
  "DatasetUpload",
  "RandomModelSpec",
  "ModelFolderUpload",
  "CreateJobRequest",
  "PredictRequest",
]);

type Json = Record<string, unknown>;

export function toJsonSchema(schema: z.ZodType, io: "input" | "output"): Json {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  delete json.$schema;
  return json;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (name: string) => ({ "application/json": { schema: ref(name) } });

function errorResponses(route: RouteSpec): Record<string, Json> {
  const errors: Record<string, Json> = {};
  const error = (description: string) => ({ description, content: jsonContent("Error") });
  if (route.body || route.params?.some((p) => p.in !== "path")) {
    errors["400"] = error("invalid request: `details` lists the fields (or file lines) at fault");
  }
  if (route.auth) errors["401"] = error("missing or unknown API key");
  if (route.params?.some((p) => p.in === "path")) errors["404"] = error("no such resource for this tenant");
  if (route.method !== "get") errors["409"] = error("conflict with the resource's state");
  if (route.body) {
    errors["413"] = error("body too large");
    errors["415"] = error("unsupported content type");
  }
  errors.default = error("any other error, in the same shape");
  return errors;
}

function operation(route: RouteSpec): Json {
  const responses: Record<string, Json> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    responses[status] = {
      description: spec.description,
      ...(spec.schema
        ? { content: jsonContent(spec.schema) }
        : spec.content
        ? { content: spec.content }
        : {}),
    };
  }
  for (const [status, spec] of Object.entries(errorResponses(route))) responses[status] ??= spec;
  const op: Json = {
    operationId: operationId(route),
    tags: [route.tag],
    summary: route.summary,
    security: route.auth ? [{ bearerAuth: [] }] : [],
    responses,
  };
  if (route.params?.length) op.parameters = route.params;
  if (route.body) {
    op.requestBody = {
      required: true,
      content: Object.fromEntries(
        Object.entries(route.body).map(([type, name]) => [type, { schema: ref(name) }]),
      ),
    };
  }
  return op;
}

/** e.g. `post /v1/jobs/{id}/cancel` → `postV1JobsIdCancel`. */
export function operationId(route: RouteSpec): string {
  const words = `${route.method} ${route.path}`.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return words.map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join("") || "root";
}

export function buildOpenApiDocument(options: { maxFieldChars: number; serverUrl?: string }): Json {
  const schemas: Record<string, Json> = { Error: toJsonSchema(apiErrorSchema, "output") };
  for (const [name, schema] of Object.entries(componentSchemas(options.maxFieldChars))) {
    schemas[name] = toJsonSchema(schema, REQUEST_COMPONENTS.has(name) ? "input" : "output");
  }
  const paths: Record<string, Json> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method] = operation(route);
  return {
    openapi: "3.1.0",
    info: {
      title: "edgetune API",
      version: API_VERSION,
      summary: "Fine-tune transformers on your data and serve them over HTTP",
      description: "Every /v1 route needs `Authorization: Bearer <key>`; keys map to tenants, and another " +
        "tenant's resources answer 404. Errors are `{error:{code,message,details}}`.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: ["datasets", "models", "jobs", "health", "meta"].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "an edgetune API key" } },
    },
  };
}
