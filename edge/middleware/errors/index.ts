/**
 * Turns every thrown error into the API's error shape `{error:{code,message,details}}`: ApiError keeps its
 * status and code, a zod error is a 400 `invalid_request` listing the issues by field path, Hono's own HTTP
 * errors keep their status; anything else is a bug, logged with its stack and answered as a bare 500
 * `internal_error` that leaks nothing. Also the JSON 404 for unknown routes.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { ApiError, type ErrorCode } from "../../../shared/schemas/errors.ts";

/** One zod issue as the API reports it: the field path joined with dots (array indexes included). */
export interface FieldIssue {
  path: string;
  code: string;
  message: string;
}

export function zodIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    code: issue.code,
    message: issue.message,
  }));
}

/** A 400 `invalid_request` for a zod failure; `where` names the part of the request (e.g. "body"). */
export function validationError(error: z.ZodError, where = "request body"): ApiError {
  const issues = zodIssues(error);
  const first = issues[0];
  const at = first?.path ? `${first.path}: ` : "";
  return new ApiError(
    400,
    "invalid_request",
    `invalid ${where}: ${at}${first?.message ?? "invalid"}`,
    issues,
  );
}

const codeForStatus = (status: number): ErrorCode =>
  status === 401
    ? "unauthorized"
    : status === 404
    ? "not_found"
    : status === 409
    ? "conflict"
    : status === 413
    ? "payload_too_large"
    : status === 415
    ? "unsupported_media_type"
    : status === 429
    ? "rate_limited"
    : status >= 500
    ? "internal_error"
    : "invalid_request";

/** The error body; `details` is always present (null when there are none). */
export function errorResponse(c: Context, error: ApiError): Response {
  const body = { error: { code: error.code, message: error.message, details: error.details ?? null } };
  return c.json(body, error.status as ContentfulStatusCode);
}

export function errorHandler(log: (message: string, error: unknown) => void = defaultLog): ErrorHandler {
  return (error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    if (error instanceof z.ZodError) return errorResponse(c, validationError(error));
    if (error instanceof HTTPException && error.status < 500) {
      return errorResponse(
        c,
        new ApiError(error.status, codeForStatus(error.status), error.message || "bad request"),
      );
    }
    log(`${c.req.method} ${new URL(c.req.url).pathname} failed`, error);
    return errorResponse(c, new ApiError(500, "internal_error", "internal error"));
  };
}

export const notFoundRoute: NotFoundHandler = (c) =>
  errorResponse(
    c,
    new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`),
  );

function defaultLog(message: string, error: unknown) {
  console.error(JSON.stringify({
    level: "error",
    msg: message,
    error: error instanceof Error
      ? { name: error.name, message: error.message, stack: error.stack }
      : String(error),
  }));
}
