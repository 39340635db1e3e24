/**
 * The dashboard's API access: the key lives in sessionStorage (this tab only), every call sends it as a
 * bearer token, errors come back as Error objects carrying the API's code and message, and a job's event
 * stream is read with fetch streaming (EventSource cannot send an Authorization header).
 */
const KEY = "edgetune.apiKey";

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function toError(response) {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text);
    return new ApiError(response.status, error.code, error.message, error.details);
  } catch {
    return new ApiError(response.status, "unknown", text.slice(0, 300) || response.statusText);
  }
}

/** Calls the API; `body` is JSON unless it is FormData. */
export async function api(path, { method = "GET", body, key = getKey() } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (!response.ok) throw await toError(response);
  return await response.json();
}

/** Follows a job's Server-Sent Events until the stream ends or `signal` aborts; `onEvent` gets each event. */
export async function followEvents(jobId, onEvent, signal) {
  const response = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
    headers: { Authorization: `Bearer ${getKey()}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) throw await toError(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join(
        "\n",
      );
      if (data) onEvent(JSON.parse(data));
    }
  }
}
