/**
 * Command-line parsing for the edgetune CLI: positional words and `--name value` / `--name=value` options
 * (repeatable ones collect into lists, bare `--flag` is true), and `--hp key=value` pairs whose values are
 * read as JSON when they parse (numbers, booleans, null, objects) and as strings otherwise.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface ParsedArgs {
  positional: string[];
  options: Map<string, string[]>;
}

/** `boolean` names options that take no value. */
export function parseArgs(argv: string[], boolean: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  const add = (name: string, value: string) => options.set(name, [...(options.get(name) ?? []), value]);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith("--") || word === "--") {
      positional.push(word);
      continue;
    }
    const eq = word.indexOf("=");
    const name = word.slice(2, eq < 0 ? undefined : eq);
    if (eq >= 0) add(name, word.slice(eq + 1));
    else if (boolean.includes(name)) add(name, "true");
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) add(name, argv[++i]);
    else throw new UsageError(`--${name} needs a value`);
  }
  return { positional, options };
}

export const option = (args: ParsedArgs, name: string): string | undefined => args.options.get(name)?.at(-1);
export const flag = (args: ParsedArgs, name: string): boolean => args.options.has(name);

export function requireOption(args: ParsedArgs, name: string): string {
  const value = option(args, name);
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

export function numberOption(args: ParsedArgs, name: string, fallback?: number): number | undefined {
  const text = option(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got '${text}'`);
  return value;
}

/** `["epochs=3", "optimizer=sgd"]` → `{epochs: 3, optimizer: "sgd"}`. */
export function parseHyperparameters(pairs: string[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--hp takes key=value, got '${pair}'`);
    const text = pair.slice(eq + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // a plain string such as `sgd`
    }
    result[pair.slice(0, eq)] = value;
  }
  return result;
}
