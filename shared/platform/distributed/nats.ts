/**
 * NATS plumbing shared by the distributed adapters: the connection and JetStream handles, the names of
 * every stream, bucket and subject (all under one namespace, default "edgetune", so several deployments or
 * test runs can share a server), and error helpers. Targets nats-server 2.9: single filter subjects only.
 */
import { connect } from "@nats-io/transport-node";
import {
  jetstream,
  JetStreamApiCodes,
  type JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";

/** Every stream, bucket and subject name the distributed platform uses. */
export interface Names {
  namespace: string;
  jobsStream: string;
  /** Subject of jobs needing exactly the capability set `token` ("any" for none). */
  jobsSubject(token: string): string;
  /** Durable pull consumer shared by every runner that can run capability set `token`. */
  jobsConsumer(token: string): string;
  eventsStream: string;
  eventsSubject(stream: string): string;
  metaBucket: string;
  deadLetterBucket: string;
}

export function names(namespace: string): Names {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(namespace)) {
    throw new Error(`namespace '${namespace}' must be 1-32 characters of A-Z a-z 0-9 _ -`);
  }
  return {
    namespace,
    jobsStream: `${namespace}_jobs`,
    jobsSubject: (token) => `${namespace}.jobs.${token}`,
    jobsConsumer: (token) => `${namespace}_runners_${token}`,
    eventsStream: `${namespace}_events`,
    eventsSubject: (stream) => `${namespace}.events.${stream}`,
    metaBucket: `${namespace}_meta`,
    deadLetterBucket: `${namespace}_dead`,
  };
}

/** One NATS connection with its JetStream client and manager. */
export interface NatsContext {
  nc: Awaited<ReturnType<typeof connect>>;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
}

export async function connectNats(url: string, namespace: string): Promise<NatsContext> {
  const servers = url.replace(/^nats:\/\//, "");
  const nc = await connect({ servers, name: `edgetune-${namespace}` });
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm, names: names(namespace) };
}

/** True for a JetStream "wrong last sequence" answer: a compare-and-set lost its race. */
export function isWrongLastSequence(error: unknown): boolean {
  const code = (error as JetStreamApiError | undefined)?.code;
  return code === JetStreamApiCodes.StreamWrongLastSequence ||
    code === JetStreamApiCodes.StreamWrongLastSequenceUnknown ||
    /wrong last sequence/i.test(String((error as Error | undefined)?.message));
}

/** Milliseconds → nanoseconds (JetStream durations). */
export function nanos(ms: number): number {
  return Math.round(ms * 1_000_000);
}
