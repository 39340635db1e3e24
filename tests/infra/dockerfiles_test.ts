/**
 * Static checks of the three images (no Docker engine here): base images pinned by version, the Deno in the
 * images is the Deno running these tests (.ci/run's), tfjs-node-gpu matches deno.json's tfjs, non-root USER,
 * HEALTHCHECK, no network at run time (--cached-only), OpenBLAS in the CPU images, and every local module the
 * entry points import (per `deno info`) is inside what the Dockerfile copies and its .dockerignore sends.
 */
import assert from "node:assert/strict";
import { readCompose, ROOT } from "./infra_files.ts";

interface Dockerfile {
  name: string;
  text: string;
  args: Map<string, string>;
  /** Resolved image references of FROM lines that are not earlier stages. */
  baseImages: string[];
  /** Lines of the last stage. */
  finalStage: string[];
  /** Sources of plain COPY instructions (not --from). */
  copySources: string[];
}

const IMAGES: Record<string, string[]> = {
  "Dockerfile.edge": ["edge/main.ts", "infra/healthcheck.ts"],
  "Dockerfile.runner-cpu": ["runner/main.ts", "infra/healthcheck.ts"],
  "Dockerfile.runner-gpu": ["runner/main.ts", "infra/healthcheck.ts"],
};

async function readDockerfile(name: string): Promise<Dockerfile> {
  const text = await Deno.readTextFile(new URL(`infra/${name}`, ROOT));
  const lines = text.replaceAll(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("#")
  );
  const args = new Map<string, string>();
  const stages = new Set<string>();
  const baseImages: string[] = [];
  const copySources: string[] = [];
  let finalStage: string[] = [];
  for (const line of lines) {
    const arg = line.match(/^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)/);
    if (arg && !args.has(arg[1])) args.set(arg[1], arg[2]);
    const from = line.match(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i);
    if (from) {
      const image = from[1].replaceAll(/\$\{(\w+)\}/g, (_, n) => args.get(n) ?? `<unset ${n}>`);
      if (!stages.has(image)) baseImages.push(image);
      if (from[2]) stages.add(from[2]);
      finalStage = [];
    }
    finalStage.push(line);
    const copy = line.match(/^COPY\s+(?!--from)(.+)$/);
    if (copy) copySources.push(...copy[1].split(/\s+/).slice(0, -1));
  }
  return { name, text, args, baseImages, finalStage, copySources };
}

async function tfjsVersionInDenoJson(): Promise<string> {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const specifier: string = denoJson.imports["@tensorflow/tfjs"];
  return specifier.slice(specifier.lastIndexOf("@") + 1);
}

async function localModules(entry: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, `deno info ${entry}: ${new TextDecoder().decode(output.stderr)}`);
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: { specifier: string }[] };
  const root = ROOT.href;
  return graph.modules.map((m) => m.specifier).filter((s) => s.startsWith(root)).map((s) =>
    s.slice(root.length)
  );
}

Deno.test("every base image is pinned by a version tag, and the Deno in the images is this Deno", async () => {
  for (const name of Object.keys(IMAGES)) {
    const dockerfile = await readDockerfile(name);
    assert.ok(dockerfile.baseImages.length >= 2, `${name}: no FROM lines found`);
    for (const image of dockerfile.baseImages) {
      const tag = image.includes(":") ? image.slice(image.lastIndexOf(":") + 1) : "";
      assert.ok(tag !== "" && tag !== "latest" && /\d/.test(tag), `${name}: ${image} is not pinned`);
    }
    assert.equal(dockerfile.args.get("DENO_IMAGE"), `denoland/deno:bin-${Deno.version.deno}`, name);
  }
});

Deno.test("final stages run as a non-root user, with a HEALTHCHECK, fetching nothing at run time", async () => {
  for (const name of Object.keys(IMAGES)) {
    const { finalStage } = await readDockerfile(name);
    const user = finalStage.filter((l) => l.startsWith("USER ")).at(-1);
    assert.ok(user, `${name}: no USER in the final stage`);
    assert.ok(!/^USER\s+(root|0)(:|$)/.test(user), `${name}: runs as root`);
    assert.ok(finalStage.some((l) => l.startsWith("HEALTHCHECK ")), `${name}: no HEALTHCHECK`);
    const cmd = finalStage.find((l) => l.startsWith("CMD "));
    assert.ok(cmd?.includes("--cached-only"), `${name}: CMD may fetch modules at run time`);
  }
});

Deno.test("CPU images ship OpenBLAS; the GPU image pins tfjs-node-gpu to deno.json's tfjs and CUDA 11.2", async () => {
  for (const name of ["Dockerfile.edge", "Dockerfile.runner-cpu"]) {
    assert.match((await readDockerfile(name)).text, /apt-get install[^\n]*libopenblas0-pthread/, name);
  }
  const gpu = await readDockerfile("Dockerfile.runner-gpu");
  assert.equal(gpu.args.get("TFJS_NODE_GPU_VERSION"), await tfjsVersionInDenoJson());
  assert.match(gpu.args.get("CUDA_IMAGE") ?? "", /^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-/);
  assert.ok(
    gpu.finalStage.some((l) => /EDGETUNE_BACKEND=tensorflow/.test(l)),
    "GPU runner must force tensorflow",
  );
});

Deno.test("each image copies every local module its entry points import, and its context sends them", async () => {
  for (const [name, entries] of Object.entries(IMAGES)) {
    const { copySources } = await readDockerfile(name);
    const ignore = (await Deno.readTextFile(new URL(`infra/${name}.dockerignore`, ROOT))).split("\n");
    const included = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
    for (const source of copySources) {
      const bare = source.replace(/\/$/, "");
      assert.ok(included.includes(bare), `${name}.dockerignore does not send ${source}`);
    }
    for (const entry of entries) {
      for (const module of await localModules(entry)) {
        const covered = copySources.some((s) => (s.endsWith("/") ? module.startsWith(s) : module === s));
        assert.ok(covered, `${name}: ${entry} imports ${module}, which the image does not copy`);
      }
    }
  }
});

Deno.test("docs/self-hosting.md names the pinned images and the GPU image's exact versions", async () => {
  const docs = await Deno.readTextFile(new URL("docs/self-hosting.md", ROOT));
  const { compose } = await readCompose();
  for (const [name, service] of Object.entries(compose.services)) {
    if (!service.build) {
      assert.ok(docs.includes(`\`${service.image}\``), `docs do not name ${name}'s ${service.image}`);
    }
  }
  const gpu = await readDockerfile("Dockerfile.runner-gpu");
  const cudaImage = gpu.args.get("CUDA_IMAGE")!;
  assert.ok(docs.includes(cudaImage), `docs do not name ${cudaImage}`);
  const cuda = cudaImage.match(/cuda:(\d+\.\d+\.\d+)/)![1];
  const row = (label: string, value: string) =>
    new RegExp(`\\|\\s*${label}\\s*\\|\\s*${value.replaceAll(".", "\\.")}\\b`);
  assert.match(docs, row("CUDA runtime", cuda), `docs do not state CUDA ${cuda}`);
  assert.match(docs, row("tfjs-node-gpu", gpu.args.get("TFJS_NODE_GPU_VERSION")!), "tfjs-node-gpu version");
  assert.match(docs, /\*\*Untested\.\*\*/, "the docs must say plainly that the GPU image is untested");
});
