/** The `gantry` command line: `gantry serve` runs the server; the other commands are clients of a running one. */
import { parseArgs } from "node:util";
import { loadConfig } from "./kernel/config.ts";
import { GantryError } from "./kernel/errors.ts";
import { createGantry } from "./gantry.ts";
import { CliError } from "./cli/api-client.ts";
import { CLIENT_HELP, clientCommand, slashWithLeadingFlags } from "./cli/commands.ts";
import { MODEL_HELP } from "./cli/model-commands.ts";
import { DB_HELP, dbCommand } from "./cli/db-commands.ts";
import pkg from "../package.json" with { type: "json" };

const HELP = `gantry ${pkg.version}: control plane for self-hosted AI models

Server:
  gantry serve [--config FILE] [--host HOST] [--port PORT] [--data-dir DIR]
  gantry db migrate-to POSTGRES_URL [--schema NAME]   copy the SQLite data into an empty PostgreSQL
  gantry backup FILE | restore FILE                  SQLite backup / restore (PostgreSQL: pg_dump)

Models (talk to a running server, as Ollama's commands do):
  gantry ps                                          models running now
  gantry models [list | export | files]              every model; export as gantry.toml tables; files on disk
  gantry run MODEL [PROMPT...]                       start MODEL if needed; answer PROMPT, or chat on stdin
  gantry stop MODEL
  gantry logs MODEL [-f] [-n LINES]
  gantry pull SOURCE                                 hf:<org>/<repo>/<file>, hf:<org>/<repo>, https://...

Client (talks to a running server):
  gantry login [--username NAME | --key API_KEY]    save credentials for the commands below
  gantry logout
  gantry plugin list | info NAME | install PATH | reload NAME | remove NAME [--force] | enable NAME | disable NAME
  gantry features list | get NAME | set NAME VALUE | reset NAME
  gantry commands                                    list slash commands
  gantry /PLUGIN:COMMAND [ARGUMENTS...]              invoke a slash command

  Client options: --url URL (GANTRY_URL), --key KEY (GANTRY_API_KEY), --json.
  gantry help COMMAND (or COMMAND --help) for details.

Server configuration: defaults < gantry.toml (or --config / GANTRY_CONFIG) < GANTRY_* environment < flags.
See gantry.example.toml, docs/configuration.md and docs/cli.md.
`;

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string" }, host: { type: "string" }, port: { type: "string" }, "data-dir": { type: "string" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const overrides: Record<string, unknown> = {};
  if (values.host) overrides["server.host"] = values.host;
  if (values.port) overrides["server.port"] = values.port;
  if (values["data-dir"]) overrides.data_dir = values["data-dir"];
  const config = loadConfig({ file: values.config, overrides });
  const gantry = await createGantry(config);
  // A port already taken: stop what started (model servers restored, plugins) before saying so.
  await gantry.listen().catch(async (error) => {
    await gantry.stop();
    throw error;
  });
  let signals = 0;
  const exit = async (code: number) => {
    await gantry.loggers.drain();
    process.exit(code);
  };
  const shutdown = (signal: string) => {
    if (++signals > 1) return void exit(130); // a second Ctrl-C means now
    gantry.loggers.root.info({ signal }, "signal received");
    gantry.stop().then(() => exit(0), () => exit(1));
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  return -1; // keep running
}

/** Client flags that take a value, for finding the command after leading flags (`gantry --url U ps`). */
const VALUE_FLAGS = new Set(["--url", "--key", "--lines", "-n", "--username", "--plugin"]);

/** `gantry --json ps` → `gantry ps --json`: client flags may come before the command (a slash command keeps its own order). */
function commandFirst(argv: string[]): string[] {
  if (!argv[0]?.startsWith("-") || ["-h", "--help", "-v", "--version"].includes(argv[0])) return argv;
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-")) i += VALUE_FLAGS.has(argv[i]!) ? 2 : 1;
  if (i >= argv.length || argv[i]!.startsWith("/")) return argv;
  return [argv[i]!, ...argv.slice(i + 1), ...argv.slice(0, i)];
}

async function main(input: string[]): Promise<number> {
  const argv = commandFirst(input);
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (command === "help" && rest[0]) {
    const topic = rest[0].startsWith("/") ? "slash" : rest[0];
    process.stdout.write({ ...CLIENT_HELP, ...MODEL_HELP, db: DB_HELP, backup: DB_HELP, restore: DB_HELP }[topic] ?? HELP);
    return 0;
  }
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === "serve") return serve(rest);
  const local = dbCommand(command, rest);
  if (local) {
    await local;
    return 0;
  }
  const client = clientCommand(command, rest) ?? slashWithLeadingFlags(argv);
  if (client) {
    await client;
    return 0;
  }
  process.stderr.write(`gantry: unknown command '${command}'\n\n${HELP}`);
  return 2;
}

try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
} catch (error) {
  // Configuration, usage and server errors are for people: the message, no stack.
  const usage = (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
  const known = error instanceof GantryError || error instanceof CliError || usage;
  process.stderr.write(`gantry: ${known ? (error as Error).message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(error instanceof CliError ? error.exitCode : usage ? 2 : 1);
}
