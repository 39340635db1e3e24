/**
 * GET /v1/jobs/:id/events: a job's event history as server-sent events (`id:` = seq, `event:` = type, `data:`
 * the stored event as JSON), resumable with the `Last-Event-ID` header or `?after=<seq>`; after the replay it
 * follows live events until a `status` event with a final status (then the stream closes) or the client goes
 * away. `?format=json` answers `{object:"list", data:[events]}` without following.
 */
import { Hono } from "hono";
import type { Platform } from "../../shared/platform/types.ts";
import { invalidRequest } from "../../shared/schemas/errors.ts";
import type { JobRecord } from "../../shared/schemas/resources.ts";
import type { EdgeEnv } from "../deps.ts";
import { getOwned, recordKey } from "../http.ts";
import { sseResponse } from "../sse.ts";
import { isFinalStatus } from "./jobs.ts";

const MAX_JSON_EVENTS = 10_000;

function parseSeq(text: string | undefined, what: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,15}$/.test(text.trim())) {
    throw invalidRequest(`${what} must be a non-negative integer event id`, [{
      path: what,
      message: "invalid",
    }]);
  }
  return Number(text.trim());
}

export function jobEventRoutes(platform: Platform, options: { heartbeatMs?: number } = {}): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  const { meta, events } = platform;

  app.get("/:id/events", async (c) => {
    const tenant = c.get("tenant");
    const job = await getOwned<JobRecord>(meta, "jobs", tenant, c.req.param("id"), "job");
    const stream = recordKey(tenant, job.value.id);
    const afterSeq = parseSeq(c.req.header("last-event-id"), "Last-Event-ID") ??
      parseSeq(c.req.query("after"), "after") ?? 0;

    if (c.req.query("format") === "json") {
      const data = [];
      for await (const event of events.read(stream, { afterSeq })) {
        data.push(event);
        if (data.length >= MAX_JSON_EVENTS) break;
      }
      return c.json({ object: "list", data, has_more: data.length >= MAX_JSON_EVENTS });
    }

    const follow = !isFinalStatus(job.value.status);
    return sseResponse(async (send, signal) => {
      for await (const event of events.read(stream, { afterSeq, follow, signal })) {
        send({ id: event.seq, event: event.type, data: event });
        if (event.type === "status" && isFinalStatus(event.data.status)) return;
      }
    }, {
      heartbeatMs: options.heartbeatMs,
      onError: (error) => console.error(`event stream ${stream} failed:`, error),
    });
  });

  return app;
}
