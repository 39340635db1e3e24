/**
 * The one error type every layer throws for problems a client can fix or must know about. It carries an
 * HTTP status, a stable machine-readable `code`, a human message and optional `details` (for data files:
 * `{line, column, reason}` lists). The edge's error middleware turns it into `{error:{code,message,details}}`;
 * anything that is not an ApiError is a bug and answers 500 without leaking internals.
 */
export type ErrorCode =
  | "unauthorized"
  | "not_found"
  | "invalid_request"
  | "invalid_file"
  | "payload_too_large"
  | "conflict"
  | "unsupported_media_type"
  | "invalid_state"
  | "rate_limited"
  | "internal_error";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export const notFound = (what: string, id: string): ApiError =>
  new ApiError(404, "not_found", `${what} '${id}' does not exist`, { id });

export const invalidRequest = (message: string, details?: unknown): ApiError =>
  new ApiError(400, "invalid_request", message, details);

/** A compare-and-set lost its race: the record changed (or appeared) since it was read. */
export class ConflictError extends Error {
  constructor(readonly key: string, message = `revision conflict on '${key}'`) {
    super(message);
    this.name = "ConflictError";
  }
}
