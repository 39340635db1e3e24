/**
 * The self-hosting stack's description: `docker-compose config -q` accepts infra/compose.yaml with
 * infra/.env.example (with and without the `gpu` profile; no Docker engine needed), and the compose file,
 * .env.example and the app's configuration (the zod platform schema plus the variables edge/ and runner/
 * read) name the same settings; .env.example's values and compose's resolved environments pass the schema;
 * the services have the shape the docs promise (JetStream on a volume, health checks, scalable CPU runners,
 * a GPU runner under a profile with an NVIDIA reservation, pinned images).
 */
import { parseRunnerSettings } from "../../runner/settings.ts";
import assert from "node:assert/strict";
import { parsePlatformConfig } from "../../shared/platform/config.ts";
import {
  appServices,
  COMPOSE_OWN_PREFIX,
  dockerCompose,
  envReadsIn,
  interpolatedNames,
  namesLookedUpBy,
  parseCompose,
  platformSchemaNames,
  readCompose,
  readEnvExample,
  serviceEnvironment,
} from "./infra_files.ts";

const difference = (a: Iterable<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();

/** Every setting the app reads: the schema's names and the env reads in edge/ and runner/. */
async function appSettings(): Promise<Set<string>> {
  const reads = await envReadsIn(["app", "edge", "runner"]);
  const names = [...platformSchemaNames(), ...namesLookedUpBy(parseRunnerSettings), ...reads.keys()];
  // RUNNER_TEST_* knobs exist for the chaos tests only; deployments never set them.
  return new Set(names.filter((name) => !name.startsWith("RUNNER_TEST_")));
}

Deno.test("docker-compose config -q accepts compose.yaml with .env.example, with and without the gpu profile", async () => {
  for (const profileArgs of [[], ["--profile", "gpu"]]) {
    const { code, stderr } = await dockerCompose([...profileArgs, "config", "-q"]);
    assert.equal(code, 0, `docker-compose ${profileArgs.join(" ")} config -q failed:\n${stderr}`);
  }
});

Deno.test("the platform schema's names are found (config.ts still reads every variable it validates)", () => {
  const names = platformSchemaNames();
  for (const expected of ["EDGETUNE_DATA_DIR", "NATS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"]) {
    assert.ok(names.has(expected), `parsePlatformConfig did not read ${expected}; found ${[...names]}`);
  }
});

Deno.test(".env.example names every setting the app reads", async () => {
  const { assigned, documented } = await readEnvExample();
  const named = new Set([...assigned.keys(), ...documented]);
  const missing = difference(await appSettings(), named);
  assert.deepEqual(missing, [], `settings the app reads but infra/.env.example does not name: ${missing}`);
});

Deno.test(".env.example sets exactly the variables compose.yaml interpolates", async () => {
  const { text } = await readCompose();
  const { assigned, documented } = await readEnvExample();
  const interpolated = interpolatedNames(text);
  const passedOn = new Set([...assigned.keys()].filter((name) => !name.startsWith(COMPOSE_OWN_PREFIX)));
  assert.deepEqual(difference(passedOn, interpolated), [], "set in .env.example but unused by compose.yaml");
  assert.deepEqual(
    difference(interpolated, passedOn),
    [],
    "used by compose.yaml but not set in .env.example",
  );
  const both = [...documented].filter((name) => assigned.has(name) || interpolated.has(name));
  assert.deepEqual(both, [], "documented as fixed/unset (`# NAME=`) yet also set or interpolated");
});

Deno.test("every app service gets every platform setting, and only settings the app reads", async () => {
  const { compose } = await readCompose();
  const schema = platformSchemaNames();
  const known = await appSettings();
  const services = appServices(compose);
  assert.deepEqual(services.map(([name]) => name).sort(), ["edge", "runner-cpu", "runner-gpu"]);
  for (const [name, service] of services) {
    const environment = serviceEnvironment(service);
    const keys = new Set(environment.keys());
    assert.deepEqual(difference(schema, keys), [], `${name} lacks platform settings`);
    assert.deepEqual(difference(keys, known), [], `${name} sets variables the app never reads (typo?)`);
  }
});

Deno.test(".env.example's values pass the platform schema and select the distributed platform", async () => {
  const { assigned } = await readEnvExample();
  const config = parsePlatformConfig(Object.fromEntries(assigned));
  assert.equal(config.kind, "distributed");
  if (config.kind !== "distributed") return;
  assert.equal(config.natsUrl, assigned.get("NATS_URL"));
  assert.equal(config.s3.endPoint, new URL(assigned.get("S3_ENDPOINT")!).hostname);
  assert.equal(config.s3.bucket, assigned.get("S3_BUCKET"));
  assert.equal(config.s3.partSize, Number(assigned.get("S3_PART_SIZE_MB")) * 1024 * 1024);
  assert.ok(assigned.get("S3_SECRET_KEY")!.length >= 8, "MinIO refuses a root password under 8 characters");
});

Deno.test("compose's resolved environments pass the platform schema in every app service", async () => {
  const { code, stdout, stderr } = await dockerCompose(["--profile", "gpu", "config"]);
  assert.equal(code, 0, stderr);
  const resolved = parseCompose(stdout);
  for (const [name, service] of appServices(resolved)) {
    const environment = Object.fromEntries(serviceEnvironment(service));
    const config = parsePlatformConfig(environment);
    assert.equal(config.kind, "distributed", `${name} would start on the embedded platform`);
    if (config.kind === "distributed") {
      assert.equal(config.natsUrl, "nats://nats:4222", name);
      assert.equal(config.s3.endPoint, "minio", name);
      assert.equal(config.s3.port, 9000, name);
      assert.equal(config.s3.useSSL, false, name);
    }
    if (name !== "edge") {
      assert.ok(Number(environment.RUNNER_CONCURRENCY) >= 1, `${name}: RUNNER_CONCURRENCY must be >= 1`);
    }
  }
});

Deno.test("the stack has the promised shape: JetStream volume, health checks, scalable and GPU runners", async () => {
  const { compose } = await readCompose();
  const { nats, minio, edge } = compose.services;
  const runnerCpu = compose.services["runner-cpu"];
  const runnerGpu = compose.services["runner-gpu"];

  const natsCommand: string[] = nats.command;
  assert.ok(natsCommand.includes("-js"), "nats runs without JetStream");
  assert.equal(natsCommand[natsCommand.indexOf("-sd") + 1], "/data");
  assert.equal(natsCommand[natsCommand.indexOf("-m") + 1], "8222");
  assert.ok(nats.volumes.some((v: string) => v.endsWith(":/data")), "JetStream store is not on a volume");
  assert.match(nats.healthcheck.test.join(" "), /8222\/healthz/);
  assert.match(nats.image, /^nats:2\.9\.\d+/);
  assert.ok(minio.volumes.some((v: string) => v.endsWith(":/data")), "MinIO data is not on a volume");
  assert.ok(minio.healthcheck?.test, "minio has no health check");
  for (const volume of ["nats-data", "minio-data"]) assert.ok(compose.volumes?.[volume], `volume ${volume}`);

  assert.equal(serviceEnvironment(edge).get("EDGETUNE_RUNNER"), "off", "the edge must not train");
  for (const [name, service] of appServices(compose)) {
    assert.equal(service.depends_on?.nats?.condition, "service_healthy", `${name} waits for nats`);
    assert.equal(service.depends_on?.minio?.condition, "service_healthy", `${name} waits for minio`);
  }

  for (const key of ["container_name", "ports", "hostname"]) {
    assert.equal(runnerCpu[key], undefined, `runner-cpu sets ${key}: --scale would collide`);
  }
  assert.equal(serviceEnvironment(runnerCpu).has("RUNNER_ID"), false, "replicas must not share a RUNNER_ID");

  assert.deepEqual(runnerGpu.profiles, ["gpu"]);
  assert.equal(serviceEnvironment(runnerGpu).get("RUNNER_CAPABILITIES"), "gpu");
  const devices = runnerGpu.deploy?.resources?.reservations?.devices ?? [];
  assert.ok(
    devices.some((d: { driver?: string; capabilities?: string[] }) =>
      d.driver === "nvidia" && d.capabilities?.includes("gpu")
    ),
    "runner-gpu reserves no NVIDIA GPU",
  );

  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build) continue;
    const tag = String(service.image).split(":").at(-1) ?? "";
    assert.ok(String(service.image).includes(":") && tag !== "latest" && /\d/.test(tag), `${name}: unpinned`);
  }
});
