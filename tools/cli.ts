/**
 * The edgetune command line (`deno task cli <command>`): upload datasets, create random base models,
 * estimate and start fine-tuning jobs, follow them with a progress bar, list and cancel jobs, and predict,
 * all through the typed client against EDGETUNE_URL with EDGETUNE_API_KEY. Exit codes: 0 ok, 1 an API
 * error (or a followed job that did not succeed), 2 a usage error.
 */
import { EdgetuneClient, EdgetuneError } from "../shared/client/mod.ts";
import { parseArgs, UsageError } from "./cli/args.ts";
import { COMMANDS } from "./cli/commands.ts";

const USAGE = `usage: deno task cli <command> [options]

  upload <file> [--name N] [--format csv|tsv|jsonl]      upload a dataset
  datasets                                                list datasets
  models                                                  list models
  models create-random --name N --dataset DS [--hidden 64 --layers 2 --heads 2 --intermediate 256
                       --vocab 8000 --labels a,b --seed 42]
  train --model M --dataset DS [--task T] [--validation-split 0.1] [--hp key=value ...] [--dry-run] [--follow]
  follow <job>                                            progress until the job ends
  jobs [--limit 20]                                       list jobs
  cancel <job>                                            cancel a job
  predict <model> <input...> [--top-k K] [--context C] [--max-new-tokens N]
                                                          the model task's prediction per input
                                                          (questions about --context for QA)

  --json prints the API's JSON.  Settings: EDGETUNE_URL (default http://localhost:8080), EDGETUNE_API_KEY.`;

const BOOLEAN_OPTIONS = ["json", "dry-run", "follow", "help"];

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}'`);
    const args = parseArgs(rest, BOOLEAN_OPTIONS);
    const key = Deno.env.get("EDGETUNE_API_KEY");
    if (!key) throw new UsageError("set EDGETUNE_API_KEY to your edgetune API key");
    const url = (Deno.env.get("EDGETUNE_URL") ?? "http://localhost:8080").replace(/\/+$/, "");
    return await command(new EdgetuneClient(url, key), args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof EdgetuneError) {
      console.error(`error: ${error.message}`);
      if (error.details) console.error(JSON.stringify(error.details));
      return 1;
    }
    if (error instanceof TypeError && /fetch|connect/i.test(error.message)) {
      console.error(
        `error: cannot reach ${Deno.env.get("EDGETUNE_URL") ?? "http://localhost:8080"}: ${error.message}`,
      );
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
