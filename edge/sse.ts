/**
 * Server-sent events over a plain streaming Response: `sseResponse` runs a producer that sends events
 * (`id:`, `event:`, `data:` lines, data JSON-encoded on one line), writes a `: heartbeat` comment every
 * `heartbeatMs` so proxies keep the connection, and aborts the producer's signal when the client goes away
 * (the body is cancelled) or the request is aborted. The stream closes when the producer returns.
 */

export interface SseEvent {
  id?: string | number;
  event?: string;
  data: unknown;
}

export type SseSend = (event: SseEvent) => void;

export interface SseOptions {
  heartbeatMs?: number;
  /**
   * Also stops the producer when aborted. Not needed for client disconnects: the server cancels the body.
   * (Deno.serve's request.signal also aborts after every completed response unless run with
   * --unstable-no-legacy-abort, and warns when listened to, so the routes do not pass it.)
   */
  signal?: AbortSignal;
  onError?: (error: unknown) => void;
}

export function formatSse(event: SseEvent): string {
  let text = "";
  if (event.id !== undefined) text += `id: ${event.id}\n`;
  if (event.event !== undefined) text += `event: ${event.event}\n`;
  return `${text}data: ${JSON.stringify(event.data)}\n\n`;
}

export function sseResponse(
  produce: (send: SseSend, signal: AbortSignal) => Promise<void>,
  options: SseOptions = {},
): Response {
  const encoder = new TextEncoder();
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  let timer: ReturnType<typeof setInterval> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string) => {
        if (!stop.signal.aborted) controller.enqueue(encoder.encode(text));
      };
      timer = setInterval(() => write(": heartbeat\n\n"), options.heartbeatMs ?? 15_000);
      write(": connected\n\n");
      produce((event) => write(formatSse(event)), stop.signal)
        .catch((error) => {
          if (!stop.signal.aborted) options.onError?.(error);
        })
        .finally(() => {
          clearInterval(timer);
          if (!stop.signal.aborted) controller.close();
          stop.abort();
        });
    },
    cancel() {
      clearInterval(timer);
      stop.abort();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
