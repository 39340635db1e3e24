/**
 * What both job-queue adapters offer beyond the JobQueue interface: the give-up (dead-letter) side. A message
 * is given up either by a runner (`Delivery.giveUp`) or automatically by the queue when it would be
 * delivered more than `maxDeliver` times (default 5; a lease that ran out or a `retry` past the last allowed
 * delivery). Every give-up is recorded durably (`deadLetters()`) and announced to `onGiveUp` listeners in the
 * process that performed it, so the caller (the runner) can mark the job failed; `automatic` tells the two
 * causes apart. A process that missed the announcement (crash) can reconcile from `deadLetters()` and then
 * `forgetDeadLetter(id)`.
 *
 * Leases (both adapters): a delivery's lease lasts `leaseMs` from take or the last `extendLease`; once it
 * has run out, `extendLease` throws LeaseLostError and `retry`/`giveUp` do nothing (the message is, or will
 * be, redelivered), while `ack` still removes it. Runners must extend well within leaseMs (e.g. every
 * leaseMs / 3) from a timer that a long synchronous training step cannot starve.
 */
import { invalidRequest } from "../schemas/errors.ts";
import type { JobMessage, JobQueue } from "./types.ts";

/** One message that will never be delivered again. */
export interface DeadLetter {
  /** Queue-internal message id (for forgetDeadLetter). */
  id: string;
  message: JobMessage;
  reason: string;
  /** Deliveries made before it was given up. */
  attempts: number;
  /** true when the queue gave up (maxDeliver), false when a runner called giveUp. */
  automatic: boolean;
  /** ISO-8601 time of the give-up. */
  time: string;
}

export type GiveUpListener = (deadLetter: DeadLetter) => void | Promise<void>;

/** A JobQueue with the dead-letter side exposed. */
export interface ManagedJobQueue extends JobQueue {
  /** Calls `listener` for every give-up performed in this process; returns the unsubscribe function. */
  onGiveUp(listener: GiveUpListener): () => void;
  /** Every recorded give-up, oldest first. */
  deadLetters(): Promise<DeadLetter[]>;
  forgetDeadLetter(id: string): Promise<void>;
}

/** Options both queue adapters accept. */
export interface QueueOptions {
  /** How long a delivery is leased before it is redelivered (default 60 000 ms). */
  leaseMs?: number;
  /** Deliveries after which the message is given up automatically (default 5). */
  maxDeliver?: number;
}

/** Thrown by `extendLease` when the lease ran out and the message went to another runner (or is gone). */
export class LeaseLostError extends Error {
  constructor(readonly jobId: string) {
    super(`the lease on job '${jobId}' was lost: it was redelivered, acknowledged or given up elsewhere`);
    this.name = "LeaseLostError";
  }
}

const CAPABILITY = /^[A-Za-z0-9-]{1,32}$/;

/**
 * Validates a message's `requires` (both adapters accept the same names: 1-32 of A-Z a-z 0-9 -, not "any",
 * at most 8) and returns them sorted and deduplicated.
 */
export function normalizeCapabilities(requires: string[] | undefined): string[] {
  const names = [...new Set(requires ?? [])].sort();
  for (const name of names) {
    if (!CAPABILITY.test(name) || name === "any") {
      throw invalidRequest(`capability '${name}' must be 1-32 characters of A-Z a-z 0-9 - and not 'any'`);
    }
  }
  if (names.length > 8) throw invalidRequest("at most 8 capabilities");
  return names;
}

/** True when every capability in `requires` is in `capabilities`. */
export function canRun(requires: string[] | undefined, capabilities: string[] | undefined): boolean {
  return (requires ?? []).every((need) => (capabilities ?? []).includes(need));
}

/** Runs listeners, logging (never throwing) their failures so one bad listener cannot break the queue. */
export async function announceGiveUp(listeners: Set<GiveUpListener>, deadLetter: DeadLetter): Promise<void> {
  for (const listener of [...listeners]) {
    try {
      await listener(deadLetter);
    } catch (error) {
      console.error(`onGiveUp listener failed for job '${deadLetter.message.jobId}':`, error);
    }
  }
}
