/**
 * How `follow` shows a job: on a terminal, one progress line redrawn in place (bar, step, epoch, loss,
 * ETA from the recent step rate); otherwise plain lines, one per event, for logs and pipes. Both print
 * evaluations, log messages and status changes as lines.
 */
import type { JobEvent } from "../../shared/client/mod.ts";

export function progressBar(done: number, total: number, width = 30): string {
  const share = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(share * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%`;
}

const fmt = (n: unknown, digits = 4) => (typeof n === "number" ? String(Number(n.toPrecision(digits))) : "-");

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s < 60
    ? `${s}s`
    : s < 3600
    ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
    : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** One text line for an event (null for events a reader does not need). */
export function eventLine(event: JobEvent): string | null {
  const d = event.data;
  switch (event.type) {
    case "step":
      return `step ${d.step}/${d.total_steps} epoch ${fmt(d.epoch, 3)} loss ${fmt(d.loss)} lr ${
        fmt(d.learning_rate, 3)
      }`;
    case "eval":
      return `eval at step ${d.step}: ` +
        Object.entries(d.metrics as Record<string, number>).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
    case "status":
      return `status ${d.status}${d.error ? `: ${(d.error as { message: string }).message}` : ""}`;
    case "log":
      return `log ${d.message}`;
    default:
      return null;
  }
}

/** Prints events as they come; on a TTY the step events update one progress line. */
export class FollowPrinter {
  readonly #steps: { step: number; time: number }[] = [];
  #barShown = false;

  constructor(private readonly tty: boolean, private readonly write: (text: string) => void) {}

  static forStdout(): FollowPrinter {
    const encoder = new TextEncoder();
    return new FollowPrinter(Deno.stdout.isTerminal(), (text) => Deno.stdout.writeSync(encoder.encode(text)));
  }

  event(event: JobEvent): void {
    if (event.type === "step" && this.tty) {
      const d = event.data as { step: number; total_steps: number; epoch: number; loss: number };
      this.#steps.push({ step: d.step, time: Date.parse(event.time) });
      if (this.#steps.length > 30) this.#steps.shift();
      const first = this.#steps[0], last = this.#steps.at(-1)!;
      const perStep = last.step > first.step
        ? (last.time - first.time) / 1000 / (last.step - first.step)
        : NaN;
      const eta = Number.isFinite(perStep)
        ? ` ETA ${formatDuration(perStep * (d.total_steps - d.step))}`
        : "";
      this.write(
        `\r\x1b[2K${progressBar(d.step, d.total_steps)} step ${d.step}/${d.total_steps} ` +
          `epoch ${fmt(d.epoch, 3)} loss ${fmt(d.loss)}${eta}`,
      );
      this.#barShown = true;
      return;
    }
    const line = eventLine(event);
    if (line === null) return;
    this.write(this.#barShown ? `\r\x1b[2K${line}\n` : `${line}\n`);
    this.#barShown = false;
  }

  end(): void {
    if (this.#barShown) this.write("\n");
  }
}
