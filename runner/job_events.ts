/**
 * Writes one job's event stream (`<tenant>.<jobId>` in the event log): status changes, training steps,
 * evaluations and log lines, in the shapes the edge replays over SSE. Numbers are rounded only for
 * readability where that loses nothing a user needs (throughput); losses and learning rates are kept exact.
 */
import type { EventLog } from "../shared/platform/types.ts";
import type { JobStatus } from "../shared/schemas/resources.ts";
import type { TrainEvent } from "../shared/core/mod.ts";

export class JobEvents {
  constructor(private readonly eventLog: EventLog, private readonly stream: string) {}

  async status(status: JobStatus, data: Record<string, unknown> = {}): Promise<void> {
    await this.eventLog.append(this.stream, "status", { status, ...data });
  }

  async log(message: string): Promise<void> {
    await this.eventLog.append(this.stream, "log", { message });
  }

  async training(event: TrainEvent): Promise<void> {
    if (event.type === "step") {
      const { type: _type, ...data } = event;
      await this.eventLog.append(this.stream, "step", {
        ...data,
        examples_per_second: Math.round(event.examples_per_second * 100) / 100,
      });
    } else {
      const { type: _type, ...data } = event;
      await this.eventLog.append(this.stream, "eval", data);
    }
  }
}
