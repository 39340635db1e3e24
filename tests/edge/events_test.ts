/**
 * The job event stream: SSE frames carry `id:` = seq and `event:` = type, a reconnect with Last-Event-ID (or
 * `?after=`) replays only newer events, a live stream follows appends and closes at a final status, and
 * `?format=json` returns the history as a list.
 */
import assert from "node:assert/strict";
import { type Harness, harness, insertModel, KEY_B, uploadDataset } from "./helpers.ts";

interface Frame {
  id?: string;
  event?: string;
  data?: { seq: number; type: string; data: Record<string, unknown> };
}

function parseFrames(text: string): Frame[] {
  return text.split("\n\n").filter((block) => block.trim() !== "").flatMap((block) => {
    const frame: Frame = {};
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const [field, ...rest] = line.split(": ");
      const value = rest.join(": ");
      if (field === "id") frame.id = value;
      if (field === "event") frame.event = value;
      if (field === "data") frame.data = JSON.parse(value);
    }
    return Object.keys(frame).length ? [frame] : [];
  });
}

async function createJob(h: Harness): Promise<string> {
  await insertModel(h, "tenant-a", "mdl_base");
  const dataset = await uploadDataset(h, "text,label\ngood,1\n", "t.csv");
  const res = await h.call("POST", "/v1/jobs", {
    json: { task: "text-classification", base_model: "mdl_base", training_dataset: dataset.id },
  });
  return (await res.json()).id;
}

Deno.test("SSE replays after Last-Event-ID and closes at the final status", async () => {
  const h = await harness();
  try {
    const id = await createJob(h); // seq 1: status queued
    const stream = `tenant-a.${id}`;
    await h.platform.events.append(stream, "status", { status: "running" });
    await h.platform.events.append(stream, "step", { step: 1, total_steps: 2, loss: 0.7 });
    await h.platform.events.append(stream, "step", { step: 2, total_steps: 2, loss: 0.5 });
    await h.platform.events.append(stream, "status", { status: "succeeded" });

    const res = await h.call("GET", `/v1/jobs/${id}/events`, { headers: { "last-event-id": "2" } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const frames = parseFrames(await res.text()); // ends by itself: the last event is final
    assert.deepEqual(frames.map((f) => [f.id, f.event]), [["3", "step"], ["4", "step"], ["5", "status"]]);
    assert.deepEqual(frames[0].data?.data, { step: 1, total_steps: 2, loss: 0.7 });
    assert.equal(frames[2].data?.seq, 5);

    const after = parseFrames(await (await h.call("GET", `/v1/jobs/${id}/events?after=4`)).text());
    assert.deepEqual(after.map((f) => f.id), ["5"]);

    const json = await (await h.call("GET", `/v1/jobs/${id}/events?format=json&after=1`)).json();
    assert.deepEqual(json.data.map((e: { seq: number; type: string }) => [e.seq, e.type]), [
      [2, "status"],
      [3, "step"],
      [4, "step"],
      [5, "status"],
    ]);
    assert.equal(
      (await h.call("GET", `/v1/jobs/${id}/events`, { headers: { "last-event-id": "x" } })).status,
      400,
    );
    assert.equal((await h.call("GET", `/v1/jobs/${id}/events`, { key: KEY_B })).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("a live SSE stream follows new events until the job is cancelled", async () => {
  const h = await harness();
  try {
    const id = await createJob(h);
    const res = await h.call("GET", `/v1/jobs/${id}/events`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += value;
      }
    };
    await readUntil(/event: status/);
    await h.platform.events.append(`tenant-a.${id}`, "log", { message: "hello" });
    await readUntil(/event: log/);
    await readUntil(/: heartbeat/); // heartbeat period is 50 ms in the harness
    const cancel = await h.call("POST", `/v1/jobs/${id}/cancel`);
    assert.equal(cancel.status, 200);
    await cancel.body?.cancel();
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const frames = parseFrames(text);
    assert.deepEqual(frames.map((f) => [f.id, f.event]), [["1", "status"], ["2", "log"], ["3", "status"]]);
    assert.equal(frames[2].data?.data.status, "cancelled");
  } finally {
    await h.close();
  }
});

Deno.test("a client that goes away stops the stream", async () => {
  const h = await harness();
  try {
    const id = await createJob(h);
    const res = await h.call("GET", `/v1/jobs/${id}/events`);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    // Appending afterwards must not fail or leak (the sanitizers check the follower stopped).
    await h.platform.events.append(`tenant-a.${id}`, "log", { message: "nobody listens" });
  } finally {
    await h.close();
  }
});
