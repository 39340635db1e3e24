/**
 * infra/healthcheck.ts, the images' HEALTHCHECK: `http` mode passes only on a 2xx from /healthz, `platform`
 * mode only when both NATS and S3 accept TCP connections, endpoints are derived from NATS_URL / S3_ENDPOINT
 * the way the platform config reads them, and the command-line entry exits with the matching status.
 */
import assert from "node:assert/strict";
import { checkHttp, checkTcp, platformEndpoints, runHealthcheck } from "../../infra/healthcheck.ts";
import { ROOT } from "./infra_files.ts";

/** A local HTTP server answering /healthz with `status`; closed by the returned function. */
function serveHealthz(status: number): { port: number; close: () => Promise<void> } {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/healthz"
        ? new Response(JSON.stringify({ status: "ok" }), { status })
        : new Response("not found", { status: 404 }),
  );
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** A TCP port nothing listens on (bound, then released). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("checkHttp passes on 200 and fails on 503 and on a closed port", async () => {
  const healthy = serveHealthz(200);
  const failing = serveHealthz(503);
  try {
    assert.equal((await checkHttp(`http://127.0.0.1:${healthy.port}/healthz`)).ok, true);
    const unhealthy = await checkHttp(`http://127.0.0.1:${failing.port}/healthz`);
    assert.equal(unhealthy.ok, false);
    assert.match(unhealthy.reason, /503/);
    assert.equal((await checkHttp(`http://127.0.0.1:${closedPort()}/healthz`, 1000)).ok, false);
  } finally {
    await healthy.close();
    await failing.close();
  }
});

Deno.test("http mode asks /healthz on $PORT", async () => {
  const healthy = serveHealthz(200);
  try {
    const result = await runHealthcheck("http", { PORT: String(healthy.port) });
    assert.equal(result.code, 0, result.lines.join("\n"));
    assert.equal((await runHealthcheck("http", { PORT: String(closedPort()) })).code, 1);
  } finally {
    await healthy.close();
  }
});

Deno.test("platformEndpoints reads the first NATS server and the S3 endpoint, with default ports", () => {
  assert.deepEqual(
    platformEndpoints({ NATS_URL: "nats://a.example:4333,nats://b.example", S3_ENDPOINT: "minio:9000" }),
    [
      { name: "NATS", hostname: "a.example", port: 4333 },
      { name: "S3", hostname: "minio", port: 9000 },
    ],
  );
  assert.deepEqual(platformEndpoints({ NATS_URL: "nats", S3_ENDPOINT: "https://s3.example.com" }), [
    { name: "NATS", hostname: "nats", port: 4222 },
    { name: "S3", hostname: "s3.example.com", port: 443 },
  ]);
  assert.equal(platformEndpoints({ NATS_URL: "nats://n:1", S3_ENDPOINT: "http://s3.local" })[1].port, 80);
  assert.throws(() => platformEndpoints({ NATS_URL: "nats://n:1" }), /S3_ENDPOINT/);
});

Deno.test("platform mode is healthy only when NATS and S3 both accept connections", async () => {
  const nats = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const s3 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accept = async (listener: Deno.Listener) => {
    for await (const connection of listener) connection.close();
  };
  const accepting = [accept(nats), accept(s3)];
  const natsUrl = `nats://127.0.0.1:${(nats.addr as Deno.NetAddr).port}`;
  const s3Url = `http://127.0.0.1:${(s3.addr as Deno.NetAddr).port}`;
  try {
    const up = await runHealthcheck("platform", { NATS_URL: natsUrl, S3_ENDPOINT: s3Url });
    assert.equal(up.code, 0, up.lines.join("\n"));
    const s3Down = await runHealthcheck("platform", {
      NATS_URL: natsUrl,
      S3_ENDPOINT: `http://127.0.0.1:${closedPort()}`,
    });
    assert.equal(s3Down.code, 1);
    assert.ok(
      s3Down.lines.some((line) => line.startsWith("S3 ") && !line.endsWith("reachable")),
      s3Down.lines.join(),
    );
    assert.equal((await runHealthcheck("platform", {})).code, 1);
    assert.equal((await checkTcp({ name: "x", hostname: "127.0.0.1", port: closedPort() }, 1000)).ok, false);
  } finally {
    nats.close();
    s3.close();
    await Promise.allSettled(accepting);
  }
});

Deno.test("the command line exits 0 when healthy, 1 when not, 2 on a bad mode", async () => {
  const healthy = serveHealthz(200);
  const run = async (mode: string, port: number) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1", "--allow-env", "infra/healthcheck.ts", mode],
      cwd: ROOT,
      env: { PORT: String(port) },
      stdout: "null",
      stderr: "null",
    }).output();
    return output.code;
  };
  try {
    assert.equal(await run("http", healthy.port), 0);
    assert.equal(await run("http", closedPort()), 1);
    assert.equal(await run("bogus", healthy.port), 2);
  } finally {
    await healthy.close();
  }
});
