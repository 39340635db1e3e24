/**
 * Real backing services for the distributed platform tests: a nats-server with JetStream and an s3rver,
 * each a child process on a free 127.0.0.1 port with its own temp directory. `startServices` fails with a
 * clear message when nats-server is not on PATH (the tests must not silently pass without it); set
 * EDGETUNE_SKIP_SERVICES=1 to skip those tests on purpose (`servicesSkipped()`). Always `stop()` them.
 * `restartNats()` stops nats-server and starts it again on the same port and store directory (chaos tests).
 */
import { fileURLToPath } from "node:url";

export interface TestServices {
  natsUrl: string;
  s3: { endPoint: string; port: number; useSSL: false; accessKey: string; secretKey: string; region: string };
  /** Stops nats-server (SIGTERM), waits `downMs`, starts it again on the same port and JetStream store. */
  restartNats(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** True when EDGETUNE_SKIP_SERVICES=1: distributed tests are skipped deliberately. */
export function servicesSkipped(): boolean {
  return Deno.env.get("EDGETUNE_SKIP_SERVICES") === "1";
}

/** Starts nats-server (JetStream) and s3rver; throws a clear error if either cannot start. */
export async function startServices(): Promise<TestServices> {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-services-" });
  const children: Deno.ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const natsPort = freePort();
    const startNats = () =>
      spawn(
        "nats-server",
        ["-js", "-a", "127.0.0.1", "-p", String(natsPort), "-sd", `${dir}/nats`],
        "nats-server is not on PATH: the distributed platform tests need it (apt/brew `nats-server`, 2.9+), " +
          "or set EDGETUNE_SKIP_SERVICES=1 to skip them deliberately",
      );
    children.push(startNats());
    const s3Port = freePort();
    await Deno.mkdir(`${dir}/s3`);
    children.push(spawn(
      Deno.execPath(),
      ["run", "-A", "--quiet", "tests/support/s3rver_main.ts", String(s3Port), `${dir}/s3`],
      "could not start s3rver through deno",
    ));
    await Promise.all([
      waitForPort(natsPort, children[0], "nats-server"),
      waitForPort(s3Port, children[1], "s3rver"),
    ]);
    return {
      natsUrl: `nats://127.0.0.1:${natsPort}`,
      s3: {
        endPoint: "127.0.0.1",
        port: s3Port,
        useSSL: false,
        accessKey: "S3RVER",
        secretKey: "S3RVER",
        region: "us-east-1",
      },
      async restartNats(downMs = 500) {
        const old = children[0];
        old.kill("SIGTERM");
        await old.status;
        await new Promise((resolve) => setTimeout(resolve, downMs));
        children[0] = startNats();
        await waitForPort(natsPort, children[0], "nats-server");
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function spawn(command: string, args: string[], missing: string): Deno.ChildProcess {
  try {
    return new Deno.Command(command, { args, cwd: REPO_ROOT, stdin: "null", stdout: "null", stderr: "null" })
      .spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(missing);
    throw error;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Waits until `port` accepts TCP connections, failing if the process exits first or after 30 s. */
async function waitForPort(port: number, child: Deno.ChildProcess, name: string): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${name} exited before listening on port ${port}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${name} did not listen on port ${port} within 30 s`);
}
