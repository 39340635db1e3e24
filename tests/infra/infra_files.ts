/**
 * Readers shared by the infra tests: the settings the app reads (the platform config schema's names, found by
 * watching which variables `parsePlatformConfig` looks up, plus every `env.NAME` / `Deno.env.get("NAME")`
 * in edge/ and runner/ source), infra/.env.example's assigned and documented names, the variables
 * infra/compose.yaml interpolates, the parsed compose file, and a runner for the `docker-compose` binary.
 */
import { parse } from "yaml";
import { parsePlatformConfig } from "../../shared/platform/config.ts";

export const ROOT = new URL("../../", import.meta.url);
export const COMPOSE_PATH = new URL("infra/compose.yaml", ROOT);
export const ENV_EXAMPLE_PATH = new URL("infra/.env.example", ROOT);

/** Variables compose reads for itself (never passed to a container). */
export const COMPOSE_OWN_PREFIX = "COMPOSE_";

/**
 * The names the platform config schema validates. shared/platform/config.ts exports no key list, so this
 * records which variables `parsePlatformConfig` reads from its env argument (it looks up every schema key).
 */
export function platformSchemaNames(): Set<string> {
  return namesLookedUpBy(parsePlatformConfig);
}

/** The variables a settings parser looks up in its env argument (runner/settings.ts works the same way). */
export function namesLookedUpBy(parse: (env: Record<string, string | undefined>) => unknown): Set<string> {
  const seen = new Set<string>();
  const recorder = new Proxy({} as Record<string, string | undefined>, {
    get(_target, property) {
      if (typeof property === "string") seen.add(property);
      return undefined;
    },
  });
  try {
    parse(recorder);
  } catch { /* an empty environment may be valid or not; only the lookups matter */ }
  return new Set([...seen].filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name)));
}

const ENV_READ_PATTERNS = [
  /\benv\.([A-Z][A-Z0-9_]*)\b/g,
  /\benv\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]/g,
  /Deno\.env\.get\(\s*["']([A-Z][A-Z0-9_]*)["']\s*\)/g,
];

/** Names read from the environment in TypeScript source under `dirs` (recursively), with the files. */
export async function envReadsIn(dirs: string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const visit = async (dir: URL, relative: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory) await visit(new URL(`${entry.name}/`, dir), path);
      else if (entry.isFile && entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(entry.name, dir));
        for (const pattern of ENV_READ_PATTERNS) {
          for (const match of text.matchAll(pattern)) {
            found.set(match[1], [...(found.get(match[1]) ?? []), path]);
          }
        }
      }
    }
  };
  for (const dir of dirs) await visit(new URL(`${dir}/`, ROOT), dir);
  return found;
}

export interface EnvExample {
  /** `NAME=value` lines. */
  assigned: Map<string, string>;
  /** `# NAME=` lines: settings compose fixes or leaves unset, documented only. */
  documented: Set<string>;
}

export async function readEnvExample(): Promise<EnvExample> {
  const assigned = new Map<string, string>();
  const documented = new Set<string>();
  const lines = (await Deno.readTextFile(ENV_EXAMPLE_PATH)).split("\n");
  lines.forEach((line, index) => {
    const setting = line.match(/^([A-Z][A-Z0-9_]*)=(.*)$/);
    const mention = line.match(/^#\s*([A-Z][A-Z0-9_]*)=/);
    if (setting) {
      if (assigned.has(setting[1])) {
        throw new Error(`.env.example line ${index + 1}: ${setting[1]} set twice`);
      }
      assigned.set(setting[1], setting[2]);
    } else if (mention) documented.add(mention[1]);
  });
  return { assigned, documented };
}

/** Variables compose.yaml interpolates (`${NAME...}` or `$NAME`; `$$` escapes and comment lines skipped). */
export function interpolatedNames(composeText: string): Set<string> {
  const names = new Set<string>();
  for (const line of composeText.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    const unescaped = line.replaceAll("$$", "");
    for (const match of unescaped.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(match[1]);
    for (const match of unescaped.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(match[1]);
  }
  return names;
}

// deno-lint-ignore no-explicit-any
export type ComposeService = Record<string, any>;
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, { name?: string } | null>;
}

/** Parses compose YAML (merge keys `<<` resolved, as compose does). */
export function parseCompose(text: string): ComposeFile {
  return parse(text, { merge: true }) as ComposeFile;
}

export async function readCompose(): Promise<{ text: string; compose: ComposeFile }> {
  const text = await Deno.readTextFile(COMPOSE_PATH);
  return { text, compose: parseCompose(text) };
}

/** Services edgetune builds itself (the ones that run edgetune code and read its settings). */
export function appServices(compose: ComposeFile): [string, ComposeService][] {
  return Object.entries(compose.services).filter(([, service]) => service.build !== undefined);
}

/** A service's `environment` as a map, whether compose has it as a mapping or a `NAME=value` list. */
export function serviceEnvironment(service: ComposeService): Map<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return new Map(environment.map((item: string) => {
      const at = item.indexOf("=");
      return at < 0 ? [item, ""] : [item.slice(0, at), item.slice(at + 1)];
    }));
  }
  return new Map(
    Object.entries(environment).map(([name, value]) => [name, value == null ? "" : String(value)]),
  );
}

export const DOCKER_COMPOSE_INSTALL_HINT =
  "the `docker-compose` binary is missing: install the Debian package " +
  "(apt-get install -y --no-install-recommends docker-compose); .ci/run must install it";

/** Runs `docker-compose -f infra/compose.yaml --env-file infra/.env.example ...args` from the repo root. */
export async function dockerCompose(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command("docker-compose", {
    args: ["-f", "infra/compose.yaml", "--env-file", "infra/.env.example", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    // compose must see only the env file's values, not this shell's.
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/tmp" },
  });
  let output: Deno.CommandOutput;
  try {
    output = await command.output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(DOCKER_COMPOSE_INSTALL_HINT);
    throw error;
  }
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}
