/**
 * Container health checks for the edgetune images (Debian slim has no curl): `http` mode asks the edge's
 * liveness probe (GET http://127.0.0.1:$PORT/healthz, default port 8080) and `platform` mode checks that a
 * standalone runner can reach its platform (a TCP connection to NATS_URL's first server and to S3_ENDPOINT).
 * Exits 0 when healthy and 1 otherwise, printing why, so `docker inspect` shows the reason. Run it with
 * `deno run --allow-net --allow-env infra/healthcheck.ts http|platform`.
 */

export interface Endpoint {
  name: string;
  hostname: string;
  port: number;
}

/** GETs `url` and reports whether it answered 2xx within `timeoutMs`; the reason when it did not. */
export async function checkHttp(url: string, timeoutMs = 3000): Promise<{ ok: boolean; reason: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { ok: response.ok, reason: `${url} answered ${response.status}` };
  } catch (error) {
    return { ok: false, reason: `${url}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Opens (and closes) a TCP connection to the endpoint within `timeoutMs`. */
export async function checkTcp(
  endpoint: Endpoint,
  timeoutMs = 3000,
): Promise<{ ok: boolean; reason: string }> {
  const where = `${endpoint.name} ${endpoint.hostname}:${endpoint.port}`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
  });
  const connecting = Deno.connect({ hostname: endpoint.hostname, port: endpoint.port });
  try {
    const connection = await Promise.race([connecting, timeout]);
    connection.close();
    return { ok: true, reason: `${where} reachable` };
  } catch (error) {
    connecting.then((late) => late.close(), () => {});
    return { ok: false, reason: `${where}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The endpoints a distributed runner needs, from the same variables the platform config reads: the first
 * server of NATS_URL (default port 4222) and S3_ENDPOINT (default port 443 for https, else 80).
 * Throws when either variable is missing (a standalone runner cannot work without them).
 */
export function platformEndpoints(env: Record<string, string | undefined>): Endpoint[] {
  const natsUrl = env.NATS_URL?.trim();
  const s3Endpoint = env.S3_ENDPOINT?.trim();
  if (!natsUrl || !s3Endpoint) throw new Error("NATS_URL and S3_ENDPOINT must both be set");
  const firstNats = natsUrl.split(",")[0].trim();
  const nats = new URL(firstNats.includes("://") ? firstNats : `nats://${firstNats}`);
  const s3 = new URL(s3Endpoint.includes("://") ? s3Endpoint : `http://${s3Endpoint}`);
  const s3DefaultPort = s3.protocol === "https:" ? 443 : 80;
  return [
    { name: "NATS", hostname: nats.hostname, port: nats.port ? Number(nats.port) : 4222 },
    { name: "S3", hostname: s3.hostname, port: s3.port ? Number(s3.port) : s3DefaultPort },
  ];
}

/** Runs one mode against `env`; returns the process exit code and the lines to print. */
export async function runHealthcheck(
  mode: string | undefined,
  env: Record<string, string | undefined>,
): Promise<{ code: number; lines: string[] }> {
  if (mode === "http") {
    const port = env.PORT?.trim() || "8080";
    const result = await checkHttp(`http://127.0.0.1:${port}/healthz`);
    return { code: result.ok ? 0 : 1, lines: [result.reason] };
  }
  if (mode === "platform") {
    let endpoints: Endpoint[];
    try {
      endpoints = platformEndpoints(env);
    } catch (error) {
      return { code: 1, lines: [(error as Error).message] };
    }
    const results = await Promise.all(endpoints.map((endpoint) => checkTcp(endpoint)));
    return { code: results.every((r) => r.ok) ? 0 : 1, lines: results.map((r) => r.reason) };
  }
  return { code: 2, lines: [`usage: healthcheck.ts http|platform (got '${mode ?? ""}')`] };
}

if (import.meta.main) {
  const { code, lines } = await runHealthcheck(Deno.args[0], Deno.env.toObject());
  for (const line of lines) (code === 0 ? console.log : console.error)(line);
  Deno.exit(code);
}
